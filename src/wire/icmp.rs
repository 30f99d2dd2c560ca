//! ICMPv4 destination unreachable (RFC 792, RFC 1812 5.2.7): the type 3
//! message and the probe it quotes.
//!
//! A UDP port that is closed answers port unreachable (code 3) from the
//! target itself; a filter or router on the way answers another code
//! (host, network, administratively prohibited, ...). The quoted IPv4 header
//! and first 8 bytes of the probe name the probe: its addresses, ports and,
//! for UDP, length and checksum, for TCP the sequence number, so the core
//! can check the quote against its cookie (carried in the source port and,
//! for TCP, the sequence number) before believing the message.

use super::udp::PROTO_UDP;
use super::{Malformed, Result, be16, be32, checksum, ethernet, ipv4};

/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// ICMP type of destination unreachable.
pub const DEST_UNREACHABLE: u8 = 3;
/// ICMP header: type, code, checksum, 4 unused (or next-hop MTU) bytes.
pub const HEADER_LEN: usize = 8;

/// Codes of destination unreachable (RFC 792, RFC 1122, RFC 1812).
pub mod code {
    pub const NET: u8 = 0;
    pub const HOST: u8 = 1;
    pub const PROTOCOL: u8 = 2;
    pub const PORT: u8 = 3;
    pub const FRAGMENTATION_NEEDED: u8 = 4;
    pub const SOURCE_ROUTE_FAILED: u8 = 5;
    pub const NET_UNKNOWN: u8 = 6;
    pub const HOST_UNKNOWN: u8 = 7;
    pub const SOURCE_HOST_ISOLATED: u8 = 8;
    pub const NET_PROHIBITED: u8 = 9;
    pub const HOST_PROHIBITED: u8 = 10;
    pub const NET_TOS: u8 = 11;
    pub const HOST_TOS: u8 = 12;
    pub const ADMIN_PROHIBITED: u8 = 13;
    pub const HOST_PRECEDENCE: u8 = 14;
    pub const PRECEDENCE_CUTOFF: u8 = 15;
}

/// The probe's transport header as quoted (the first 8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotedTransport {
    Udp {
        len: u16,
        checksum: u16,
    },
    Tcp {
        seq: u32,
    },
    /// Another protocol: ports are the first 4 bytes, meaning unknown.
    Other,
}

/// The quoted probe: its IPv4 header and first 8 transport bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    /// Our address (the probe's source).
    pub src: u32,
    /// The probe's destination.
    pub dst: u32,
    pub protocol: u8,
    pub ident: u16,
    pub ttl: u8,
    pub sport: u16,
    pub dport: u16,
    pub transport: QuotedTransport,
}

/// What an unreachable says about the probed port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortState {
    /// Port unreachable: nothing listens (when the target itself says so).
    Closed,
    /// Any other code: something on the way refused or could not deliver.
    Filtered,
}

/// A destination unreachable message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable {
    /// Who sent the ICMP message (the target for port unreachable, else
    /// perhaps a router or firewall).
    pub from: u32,
    /// Our address.
    pub to: u32,
    pub ttl: u8,
    pub code: u8,
    pub quoted: Quoted,
}

impl Unreachable {
    /// Closed for port unreachable, filtered for every other code.
    pub fn port_state(&self) -> PortState {
        if self.code == code::PORT {
            PortState::Closed
        } else {
            PortState::Filtered
        }
    }

    /// Whether the message comes from the probed host itself (as a port
    /// unreachable must; a "closed" from anyone else is a forgery or a
    /// middlebox speaking for the host).
    pub fn from_target(&self) -> bool {
        self.from == self.quoted.dst
    }
}

/// Parse an Ethernet II frame carrying an ICMPv4 destination unreachable.
pub fn parse_ethernet(frame: &[u8]) -> Result<Unreachable> {
    let e = ethernet::Frame::new_checked(frame)?;
    if e.ethertype() != ethernet::ETHERTYPE_IPV4 {
        return Err(Malformed);
    }
    parse_ipv4(&frame[ethernet::HEADER_LEN..])
}

/// Parse a bare IPv4 packet carrying an ICMPv4 destination unreachable that
/// quotes an IPv4 datagram with at least 8 bytes of its transport header.
/// The outer IP header checksum and the ICMP checksum must be right (both
/// are computed in full by the sender's software, even on offloading NICs);
/// the quoted header's total length is the probe's, longer than the quote,
/// and is not checked against it.
pub fn parse_ipv4(pkt: &[u8]) -> Result<Unreachable> {
    let ip = ipv4::Packet::new_checked(pkt)?;
    if ip.protocol() != PROTO_ICMP || ip.is_fragment() || !ip.verify_checksum() {
        return Err(Malformed);
    }
    let icmp = &pkt[ip.header_len()..ip.total_len() as usize];
    if icmp.len() < HEADER_LEN || icmp[0] != DEST_UNREACHABLE || checksum::checksum(icmp) != 0 {
        return Err(Malformed);
    }
    Ok(Unreachable {
        from: u32::from(ip.src()),
        to: u32::from(ip.dst()),
        ttl: ip.ttl(),
        code: icmp[1],
        quoted: parse_quote(&icmp[HEADER_LEN..])?,
    })
}

/// The quoted datagram: an IPv4 header (options allowed) and 8 bytes.
fn parse_quote(q: &[u8]) -> Result<Quoted> {
    if q.len() < ipv4::HEADER_LEN {
        return Err(Malformed);
    }
    let hl = ((q[0] & 0x0f) as usize) * 4;
    if q[0] >> 4 != 4 || hl < ipv4::HEADER_LEN || q.len() < hl + 8 {
        return Err(Malformed);
    }
    let protocol = q[9];
    let t = &q[hl..hl + 8];
    let transport = match protocol {
        PROTO_UDP => QuotedTransport::Udp {
            len: be16(t, 4),
            checksum: be16(t, 6),
        },
        ipv4::PROTO_TCP => QuotedTransport::Tcp { seq: be32(t, 4) },
        _ => QuotedTransport::Other,
    };
    Ok(Quoted {
        src: be32(q, 12),
        dst: be32(q, 16),
        protocol,
        ident: be16(q, 4),
        ttl: q[8],
        sport: be16(t, 0),
        dport: be16(t, 2),
        transport,
    })
}

/// A destination unreachable with `code` from `from` to `to` quoting
/// `quote` (the first 548 bytes at most), checksums right: for tests that
/// feed classifiers.
#[cfg(test)]
pub(crate) fn build_unreachable(
    from: std::net::Ipv4Addr,
    to: std::net::Ipv4Addr,
    code: u8,
    quote: &[u8],
) -> Vec<u8> {
    let q = &quote[..quote.len().min(548)];
    let mut p = vec![0u8; ipv4::HEADER_LEN + HEADER_LEN + q.len()];
    ipv4::Packet::new_unchecked(&mut p[..ipv4::HEADER_LEN]).emit(
        from,
        to,
        HEADER_LEN + q.len(),
        2,
        64,
        PROTO_ICMP,
    );
    let m = &mut p[ipv4::HEADER_LEN..];
    m[0] = DEST_UNREACHABLE;
    m[1] = code;
    m[HEADER_LEN..].copy_from_slice(q);
    let c = checksum::checksum(m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn a(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    // Captured from Linux kernels in our lab (198.18.77.2 probing
    // 198.18.77.1), Ethernet frames as seen on the prober's veth.

    /// UDP 198.18.77.2:40000 -> 198.18.77.1:9 "synsweep", nothing listening:
    /// port unreachable from the target.
    #[rustfmt::skip]
    const PORT_UNREACH: [u8; 78] = [
        0xfe, 0x4c, 0xb2, 0x11, 0x1d, 0x50, 0x7a, 0x61, 0xb7, 0x12, 0x31, 0x04, 0x08, 0x00,
        0x45, 0xc0, 0x00, 0x40, 0xae, 0x4c, 0x00, 0x00, 0x40, 0x01, 0xa5, 0x88, 0xc6, 0x12, 0x4d, 0x01, 0xc6, 0x12, 0x4d, 0x02,
        0x03, 0x03, 0x7b, 0x96, 0x00, 0x00, 0x00, 0x00,
        0x45, 0x00, 0x00, 0x24, 0x7d, 0x70, 0x40, 0x00, 0x40, 0x11, 0x97, 0x30, 0xc6, 0x12, 0x4d, 0x02, 0xc6, 0x12, 0x4d, 0x01,
        0x9c, 0x40, 0x00, 0x09, 0x00, 0x10, 0x26, 0x4a,
        0x73, 0x79, 0x6e, 0x73, 0x77, 0x65, 0x65, 0x70,
    ];

    /// The same to port 7, refused by an nftables rule `reject with icmp
    /// type admin-prohibited`: code 13.
    #[rustfmt::skip]
    const ADMIN_PROHIBITED: [u8; 78] = [
        0xfe, 0x4c, 0xb2, 0x11, 0x1d, 0x50, 0x7a, 0x61, 0xb7, 0x12, 0x31, 0x04, 0x08, 0x00,
        0x45, 0xc0, 0x00, 0x40, 0xae, 0x78, 0x00, 0x00, 0x40, 0x01, 0xa5, 0x5c, 0xc6, 0x12, 0x4d, 0x01, 0xc6, 0x12, 0x4d, 0x02,
        0x03, 0x0d, 0x7b, 0x8e, 0x00, 0x00, 0x00, 0x00,
        0x45, 0x00, 0x00, 0x24, 0x7d, 0x81, 0x40, 0x00, 0x40, 0x11, 0x97, 0x1f, 0xc6, 0x12, 0x4d, 0x02, 0xc6, 0x12, 0x4d, 0x01,
        0x9c, 0x40, 0x00, 0x07, 0x00, 0x10, 0x26, 0x4a,
        0x73, 0x79, 0x6e, 0x73, 0x77, 0x65, 0x65, 0x70,
    ];

    /// A TCP SYN 198.18.77.2:40001 -> 198.18.77.1:8 refused by `reject with
    /// icmp type host-unreachable`: code 1, the whole SYN quoted.
    #[rustfmt::skip]
    const HOST_UNREACH_TCP: [u8; 102] = [
        0xfe, 0x4c, 0xb2, 0x11, 0x1d, 0x50, 0x7a, 0x61, 0xb7, 0x12, 0x31, 0x04, 0x08, 0x00,
        0x45, 0xc0, 0x00, 0x58, 0xae, 0xac, 0x00, 0x00, 0x40, 0x01, 0xa5, 0x10, 0xc6, 0x12, 0x4d, 0x01, 0xc6, 0x12, 0x4d, 0x02,
        0x03, 0x01, 0xfa, 0xae, 0x00, 0x00, 0x00, 0x00,
        0x45, 0x00, 0x00, 0x3c, 0x5c, 0x81, 0x40, 0x00, 0x40, 0x06, 0xb8, 0x12, 0xc6, 0x12, 0x4d, 0x02, 0xc6, 0x12, 0x4d, 0x01,
        0x9c, 0x41, 0x00, 0x08, 0x27, 0x37, 0x2c, 0xee, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x26, 0x57, 0x00, 0x00,
        0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x6e, 0x09, 0xca, 0xbb, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];

    #[test]
    fn port_unreachable_quoting_udp() {
        let u = parse_ethernet(&PORT_UNREACH).unwrap();
        assert_eq!(
            (u.from, u.to, u.ttl, u.code),
            (a("198.18.77.1"), a("198.18.77.2"), 64, 3)
        );
        assert_eq!(u.port_state(), PortState::Closed);
        assert!(u.from_target());
        let q = u.quoted;
        assert_eq!((q.src, q.dst), (a("198.18.77.2"), a("198.18.77.1")));
        assert_eq!((q.protocol, q.ident, q.ttl), (PROTO_UDP, 0x7d70, 64));
        assert_eq!((q.sport, q.dport), (40000, 9));
        assert_eq!(
            q.transport,
            QuotedTransport::Udp {
                len: 16,
                checksum: 0x264a
            }
        );
    }

    #[test]
    fn admin_prohibited_is_filtered() {
        let u = parse_ethernet(&ADMIN_PROHIBITED).unwrap();
        assert_eq!(u.code, code::ADMIN_PROHIBITED);
        assert_eq!(u.port_state(), PortState::Filtered);
        assert_eq!((u.quoted.sport, u.quoted.dport), (40000, 7));
    }

    #[test]
    fn host_unreachable_quoting_tcp() {
        let u = parse_ipv4(&HOST_UNREACH_TCP[14..]).unwrap();
        assert_eq!(u.code, code::HOST);
        assert_eq!(u.port_state(), PortState::Filtered);
        let q = u.quoted;
        assert_eq!((q.protocol, q.sport, q.dport), (ipv4::PROTO_TCP, 40001, 8));
        assert_eq!(q.transport, QuotedTransport::Tcp { seq: 0x2737_2cee });
    }

    #[test]
    fn every_code_parses_and_only_3_is_closed() {
        for c in 0..=15u8 {
            let mut f = PORT_UNREACH;
            f[35] = c;
            // Fix the ICMP checksum for the new code.
            f[36..38].copy_from_slice(&[0, 0]);
            let s = checksum::checksum(&f[34..]);
            f[36..38].copy_from_slice(&s.to_be_bytes());
            let u = parse_ethernet(&f).unwrap();
            assert_eq!(u.code, c);
            assert_eq!(u.port_state() == PortState::Closed, c == 3);
        }
    }

    #[test]
    fn forged_and_broken_messages_are_refused() {
        // A bad ICMP checksum.
        let mut f = PORT_UNREACH;
        f[70] ^= 0xff;
        assert!(parse_ethernet(&f).is_err());
        // Another ICMP type (echo reply 0, time exceeded 11).
        for t in [0u8, 11] {
            let mut f = PORT_UNREACH;
            f[34] = t;
            f[36..38].copy_from_slice(&[0, 0]);
            let s = checksum::checksum(&f[34..]);
            f[36..38].copy_from_slice(&s.to_be_bytes());
            assert!(parse_ethernet(&f).is_err());
        }
        // A quote too short for the transport ports (header + 4 bytes).
        let ip = &PORT_UNREACH[14..];
        let mut short = ip[..ip.len() - 12].to_vec();
        let n = short.len() as u16;
        short[2..4].copy_from_slice(&n.to_be_bytes());
        short[10..12].copy_from_slice(&[0, 0]);
        let s = checksum::checksum(&short[..20]);
        short[10..12].copy_from_slice(&s.to_be_bytes());
        short[22..24].copy_from_slice(&[0, 0]);
        let s = checksum::checksum(&short[20..]);
        short[22..24].copy_from_slice(&s.to_be_bytes());
        assert!(parse_ipv4(&short).is_err());
        // Not ICMP at all.
        let mut p = ip.to_vec();
        p[9] = PROTO_UDP;
        assert!(parse_ipv4(&p).is_err());
        // A port unreachable that does not come from the probed host.
        let mut f = PORT_UNREACH;
        f[29] = 254; // outer source 198.18.77.254
        f[24..26].copy_from_slice(&[0, 0]);
        let s = checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&s.to_be_bytes());
        let u = parse_ethernet(&f).unwrap();
        assert!(!u.from_target());
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = parse_ethernet(&b);
            let _ = parse_ipv4(&b);
        }
    }
}
