//! The SYN probe: a prebuilt Ethernet/IPv4/TCP frame whose per-probe fields
//! (destination address, ports, sequence number, IP id) are patched in place,
//! with both checksums finished from precomputed partial sums (RFC 1624
//! style): a probe costs a 58-byte copy and a few additions.

use super::checksum::{add32, finish, sum};
use super::ethernet::{self, ETHERTYPE_IPV4, Mac};
use super::{ipv4, tcp};
use std::net::Ipv4Addr;

/// TCP options of the probe: MSS 1460, as a real stack would send.
pub const TCP_OPTIONS: [u8; 4] = [2, 4, 0x05, 0xb4];
const TCP_LEN: usize = tcp::HEADER_LEN + TCP_OPTIONS.len();
const IP_LEN: usize = ipv4::HEADER_LEN + TCP_LEN;
/// Largest probe we write (with the Ethernet header).
pub const MAX_LEN: usize = ethernet::HEADER_LEN + IP_LEN;
pub const TTL: u8 = 64;
pub const WINDOW: u16 = 64240;

/// How the probe is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Ethernet II header first (AF_PACKET on an Ethernet-like interface).
    Ethernet { src: Mac, dst: Mac },
    /// Bare IPv4 (a raw IP socket, e.g. to 127.0.0.1).
    Ip,
}

/// A probe frame template for one source address.
#[derive(Debug, Clone)]
pub struct ProbeTemplate {
    frame: [u8; MAX_LEN],
    len: usize,
    ip: usize,
    tcp: usize,
    ip_sum: u32,
    tcp_sum: u32,
}

impl ProbeTemplate {
    pub fn new(framing: Framing, src: Ipv4Addr) -> Self {
        let mut frame = [0u8; MAX_LEN];
        let ip = match framing {
            Framing::Ethernet { src, dst } => {
                let mut e = ethernet::Frame::new_unchecked(&mut frame[..]);
                e.set_dst(dst);
                e.set_src(src);
                e.set_ethertype(ETHERTYPE_IPV4);
                ethernet::HEADER_LEN
            }
            Framing::Ip => 0,
        };
        let tcp = ip + ipv4::HEADER_LEN;
        let len = tcp + TCP_LEN;
        // Variable fields zero: destination, ident, ports, sequence.
        ipv4::Packet::new_unchecked(&mut frame[ip..tcp]).emit(
            src,
            Ipv4Addr::UNSPECIFIED,
            TCP_LEN,
            0,
            TTL,
            ipv4::PROTO_TCP,
        );
        frame[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
        tcp::Segment::new_unchecked(&mut frame[tcp..len]).emit(
            0,
            0,
            0,
            0,
            tcp::SYN,
            WINDOW,
            &TCP_OPTIONS,
        );
        let ip_sum = sum(&frame[ip..tcp]);
        // Pseudo-header: src, (dst added per probe), zero+protocol, TCP length.
        let tcp_sum =
            add32(sum(&frame[tcp..len]), u32::from(src)) + ipv4::PROTO_TCP as u32 + TCP_LEN as u32;
        ProbeTemplate {
            frame,
            len,
            ip,
            tcp,
            ip_sum,
            tcp_sum,
        }
    }

    /// Length of every probe from this template.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Write the probe for (dst, sport, dport) with sequence number `seq` into
    /// `out` (at least `len()` bytes); returns the length written.
    #[inline]
    pub fn write(
        &self,
        out: &mut [u8],
        dst: u32,
        sport: u16,
        dport: u16,
        seq: u32,
        ident: u16,
    ) -> usize {
        let out = &mut out[..self.len];
        out.copy_from_slice(&self.frame[..self.len]);
        let (ip, t) = (self.ip, self.tcp);
        out[ip + 4..ip + 6].copy_from_slice(&ident.to_be_bytes());
        out[ip + 16..ip + 20].copy_from_slice(&dst.to_be_bytes());
        let c = finish(add32(self.ip_sum, dst) + ident as u32);
        out[ip + 10..ip + 12].copy_from_slice(&c.to_be_bytes());
        out[t..t + 2].copy_from_slice(&sport.to_be_bytes());
        out[t + 2..t + 4].copy_from_slice(&dport.to_be_bytes());
        out[t + 4..t + 8].copy_from_slice(&seq.to_be_bytes());
        let c = finish(add32(add32(self.tcp_sum, dst), seq) + sport as u32 + dport as u32);
        out[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::checksum;

    fn tcp_checksum_ok(ip: &[u8]) -> bool {
        let p = ipv4::Packet::new_checked(ip).unwrap();
        let seg = p.payload();
        let mut acc = sum(seg);
        acc = add32(acc, u32::from(p.src()));
        acc = add32(acc, u32::from(p.dst()));
        acc += ipv4::PROTO_TCP as u32 + seg.len() as u32;
        finish(acc) == 0
    }

    #[test]
    fn literal_probe_bytes() {
        let t = ProbeTemplate::new(
            Framing::Ethernet {
                src: Mac([2, 0, 0, 0, 0, 1]),
                dst: Mac([2, 0, 0, 0, 0, 2]),
            },
            "198.18.0.1".parse().unwrap(),
        );
        let mut out = [0u8; MAX_LEN];
        let n = t.write(
            &mut out,
            u32::from(Ipv4Addr::new(198, 19, 0, 4)),
            40000,
            22,
            0xdeadbeef,
            0x1234,
        );
        assert_eq!(n, 58);
        #[rustfmt::skip]
        let want: [u8; 58] = [
            2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
            0x45, 0x00, 0x00, 0x2c, 0x12, 0x34, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00, 198, 18, 0, 1, 198, 19, 0, 4,
            0x9c, 0x40, 0x00, 0x16, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0x60, 0x02, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00,
            0x02, 0x04, 0x05, 0xb4,
        ];
        // Compare all but the two checksum fields, then check those by recomputation.
        let mut got = out;
        got[24..26].copy_from_slice(&[0, 0]);
        got[50..52].copy_from_slice(&[0, 0]);
        assert_eq!(&got[..58], &want[..]);
        assert_eq!(checksum(&out[14..34]), 0, "IP header checksum");
        assert!(tcp_checksum_ok(&out[14..58]), "TCP checksum");
        // Values computed independently with a short Python RFC 1071 sum.
        assert_eq!(u16::from_be_bytes([out[24], out[25]]), 0xdc6d);
        assert_eq!(u16::from_be_bytes([out[50], out[51]]), 0xd716);
    }

    #[test]
    fn incremental_checksums_match_full_ones() {
        let t = ProbeTemplate::new(Framing::Ip, "127.0.0.1".parse().unwrap());
        let mut out = [0u8; MAX_LEN];
        let mut x = 0x1234_5678u32;
        for _ in 0..2000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let n = t.write(
                &mut out,
                x,
                (x >> 7) as u16,
                (x >> 3) as u16 | 1,
                x.rotate_left(13),
                (x >> 16) as u16,
            );
            assert_eq!(n, 44);
            assert_eq!(checksum(&out[..20]), 0);
            assert!(tcp_checksum_ok(&out[..n]));
        }
    }
}
