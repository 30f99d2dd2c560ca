//! IPv4 headers (RFC 791).

use super::{Malformed, Result, be16, be32, checksum};
use std::net::Ipv4Addr;

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

pub const HEADER_LEN: usize = 20;
pub const PROTO_TCP: u8 = 6;

/// A view of an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buf: T) -> Self {
        Packet { buf }
    }

    /// Check version, header length and total length against the buffer;
    /// after this no accessor can panic. Bytes past `total_len` (Ethernet
    /// padding) are ignored by `payload`.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Malformed);
        }
        let p = Packet { buf };
        let hl = p.header_len();
        let tl = p.total_len() as usize;
        if p.version() != 4 || hl < HEADER_LEN || tl < hl || tl > p.buf.as_ref().len() {
            return Err(Malformed);
        }
        Ok(p)
    }

    pub fn version(&self) -> u8 {
        self.buf.as_ref()[field::VER_IHL] >> 4
    }
    pub fn header_len(&self) -> usize {
        ((self.buf.as_ref()[field::VER_IHL] & 0x0f) as usize) * 4
    }
    pub fn total_len(&self) -> u16 {
        be16(self.buf.as_ref(), field::TOTAL_LEN)
    }
    pub fn ident(&self) -> u16 {
        be16(self.buf.as_ref(), field::IDENT)
    }
    /// More-fragments flag set or a non-zero fragment offset.
    pub fn is_fragment(&self) -> bool {
        be16(self.buf.as_ref(), field::FLAGS_FRAG) & 0x3fff != 0
    }
    pub fn ttl(&self) -> u8 {
        self.buf.as_ref()[field::TTL]
    }
    pub fn protocol(&self) -> u8 {
        self.buf.as_ref()[field::PROTOCOL]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), field::CHECKSUM)
    }
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::from(be32(self.buf.as_ref(), field::SRC))
    }
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::from(be32(self.buf.as_ref(), field::DST))
    }
    /// Whether the header checksum is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(&self.buf.as_ref()[..self.header_len()]) == 0
    }
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..self.total_len() as usize]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Write a 20-byte header without options; checksum filled in.
    #[allow(clippy::too_many_arguments)]
    pub fn emit(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        payload_len: usize,
        ident: u16,
        ttl: u8,
        protocol: u8,
    ) {
        let b = self.buf.as_mut();
        b[field::VER_IHL] = 0x45;
        b[1] = 0;
        b[field::TOTAL_LEN..field::TOTAL_LEN + 2]
            .copy_from_slice(&((HEADER_LEN + payload_len) as u16).to_be_bytes());
        b[field::IDENT..field::IDENT + 2].copy_from_slice(&ident.to_be_bytes());
        b[field::FLAGS_FRAG..field::FLAGS_FRAG + 2].copy_from_slice(&0u16.to_be_bytes());
        b[field::TTL] = ttl;
        b[field::PROTOCOL] = protocol;
        b[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&[0, 0]);
        b[field::SRC..field::SRC + 4].copy_from_slice(&src.octets());
        b[field::DST..field::DST + 4].copy_from_slice(&dst.octets());
        let c = checksum::checksum(&b[..HEADER_LEN]);
        b[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real IPv4 header (from a capture): 198.18.0.1 -> 198.19.0.4, TCP.
    const HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x2c, 0x12, 0x34, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00, 198, 18, 0, 1, 198,
        19, 0, 4,
    ];

    #[test]
    fn emit_matches_fields_and_checksums() {
        let mut b = [0u8; 44];
        Packet::new_unchecked(&mut b[..]).emit(
            "198.18.0.1".parse().unwrap(),
            "198.19.0.4".parse().unwrap(),
            24,
            0x1234,
            64,
            PROTO_TCP,
        );
        let mut want = HDR;
        let c = checksum::checksum(&want);
        want[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(&b[..20], &want[..]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.payload().len(), 24);
        assert_eq!(p.ttl(), 64);
    }

    #[test]
    fn rejects_lies_about_lengths() {
        let mut b = [0u8; 44];
        b[..20].copy_from_slice(&HDR);
        b[2..4].copy_from_slice(&100u16.to_be_bytes()); // total length past the buffer
        assert!(Packet::new_checked(&b[..]).is_err());
        b[2..4].copy_from_slice(&44u16.to_be_bytes());
        b[0] = 0x44; // IHL 4 < 5
        assert!(Packet::new_checked(&b[..]).is_err());
        b[0] = 0x4f; // IHL 15 = 60 bytes > total 44
        assert!(Packet::new_checked(&b[..]).is_err());
        b[0] = 0x65; // version 6
        assert!(Packet::new_checked(&b[..]).is_err());
        assert!(Packet::new_checked(&b[..19]).is_err());
    }

    #[test]
    fn fragments_detected() {
        let mut b = HDR;
        b[6] = 0x20; // MF
        assert!(Packet::new_unchecked(&b[..]).is_fragment());
        b[6] = 0x40; // DF only
        assert!(!Packet::new_unchecked(&b[..]).is_fragment());
        b[6] = 0x00;
        b[7] = 0x01; // offset 8
        assert!(Packet::new_unchecked(&b[..]).is_fragment());
    }
}
