//! Packet wire formats as zero-copy views in the smoltcp style:
//! `Packet<T: AsRef<[u8]>>` with `new_checked` for untrusted bytes (after it
//! no accessor can panic) and `new_unchecked` for bytes we build; field
//! offsets live in a private `field` module of each format.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod probe;
pub mod reply;
pub mod tcp;
pub mod udp;

/// A packet was too short or malformed to be viewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

pub type Result<T> = std::result::Result<T, Malformed>;

#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
