//! Packet wire formats as zero-copy views in the smoltcp style:
//! `Packet<T: AsRef<[u8]>>` with `new_checked` for untrusted bytes (after it
//! no accessor can panic) and `new_unchecked` for bytes we build; field
//! offsets live in a private `field` module of each format.

pub mod arp;
pub mod bpf;
pub mod checksum;
pub mod ethernet;
pub mod icmp;
pub mod icmpv6;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod reply;
pub mod segment;
pub mod tcp;
pub mod udp;

/// How a packet built here is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Ethernet II header first (AF_PACKET on an Ethernet-like interface).
    Ethernet {
        src: ethernet::Mac,
        dst: ethernet::Mac,
    },
    /// Bare IPv4 (a layer-3 link, or a raw IP socket).
    Ip,
}

/// The TTL of every packet we build.
pub const TTL: u8 = 64;

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
