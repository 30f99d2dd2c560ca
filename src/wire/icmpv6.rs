//! ICMPv6 (RFC 4443) and neighbour discovery (RFC 4861): the messages a
//! scan over IPv6 meets.
//!
//! - **Destination unreachable** (type 1) quotes as much of the offending
//!   packet as fits: its IPv6 header and transport header name the probe
//!   (addresses, ports, for TCP the sequence number), so a probe module can
//!   check the quote against its cookie before believing it. Code 4 (port
//!   unreachable) from the target says a UDP port is closed; the other codes
//!   (no route, administratively prohibited, address unreachable, ...) say
//!   something on the way filters it. The error may come from any address of
//!   the target or of a router: the quote, not the outer source, names the
//!   probed host.
//! - **Neighbour solicitation / advertisement** (types 135 / 136) are IPv6's
//!   ARP: the MAC of an on-link next hop (gateway or target).

use super::ethernet::{self, Mac};
use super::ipv6::{self, ETHERTYPE_IPV6, NEXT_ICMPV6, NEXT_TCP, NEXT_UDP};
use super::{Malformed, Result, be16, be32};
use std::net::Ipv6Addr;

pub const DEST_UNREACHABLE: u8 = 1;
pub const NEIGHBOUR_SOLICITATION: u8 = 135;
pub const NEIGHBOUR_ADVERTISEMENT: u8 = 136;
/// ICMPv6 header of an error: type, code, checksum, 4 unused bytes.
pub const HEADER_LEN: usize = 8;

/// Codes of destination unreachable (RFC 4443 3.1, RFC 7084).
pub mod code {
    pub const NO_ROUTE: u8 = 0;
    pub const ADMIN_PROHIBITED: u8 = 1;
    pub const BEYOND_SCOPE: u8 = 2;
    pub const ADDRESS: u8 = 3;
    pub const PORT: u8 = 4;
    pub const POLICY_FAILED: u8 = 5;
    pub const REJECT_ROUTE: u8 = 6;
}

/// The quoted probe of a destination unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted6 {
    /// Our address (the probe's source).
    pub src: u128,
    /// The probed host.
    pub dst: u128,
    pub next_header: u8,
    /// The quoted flow label (UDP probes carry part of the cookie there).
    pub flow: u32,
    pub sport: u16,
    pub dport: u16,
    /// TCP: the quoted sequence number (our cookie).
    pub seq: Option<u32>,
}

/// A destination unreachable and what it quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable6 {
    /// Who sent the error (the target or a router).
    pub from: u128,
    /// The address it was sent to (ours).
    pub to: u128,
    pub code: u8,
    pub hop_limit: u8,
    pub quoted: Quoted6,
}

/// Parse a bare IPv6 packet as an ICMPv6 destination unreachable quoting a
/// TCP or UDP packet (at least its IPv6 header and 8 transport bytes).
pub fn parse_unreachable(pkt: &[u8]) -> Result<Unreachable6> {
    let ip = ipv6::Packet::new_checked(pkt)?;
    if ip.next_header() != NEXT_ICMPV6 {
        return Err(Malformed);
    }
    let m = ip.payload();
    if m.len() < HEADER_LEN + ipv6::HEADER_LEN + 8 || m[0] != DEST_UNREACHABLE {
        return Err(Malformed);
    }
    // The quote is cut short by the error's size limit: view its header
    // without the payload length check.
    let q = &m[HEADER_LEN..];
    let inner = ipv6::Packet::new_unchecked(q);
    if inner.version() != 6 {
        return Err(Malformed);
    }
    let next = inner.next_header();
    if next != NEXT_TCP && next != NEXT_UDP {
        return Err(Malformed);
    }
    let t = &q[ipv6::HEADER_LEN..];
    Ok(Unreachable6 {
        from: u128::from(ip.src()),
        to: u128::from(ip.dst()),
        code: m[1],
        hop_limit: ip.hop_limit(),
        quoted: Quoted6 {
            src: u128::from(inner.src()),
            dst: u128::from(inner.dst()),
            next_header: next,
            flow: be32(q, 0) & 0x000f_ffff,
            sport: be16(t, 0),
            dport: be16(t, 2),
            seq: (next == NEXT_TCP).then(|| be32(t, 4)),
        },
    })
}

/// The solicited-node multicast address of `ip` (ff02::1:ffXX:XXXX).
pub fn solicited_node(ip: Ipv6Addr) -> Ipv6Addr {
    let o = ip.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | o[13] as u16,
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// The Ethernet multicast MAC of an IPv6 multicast address (33:33 + its last
/// 32 bits, RFC 2464 7).
pub fn multicast_mac(ip: Ipv6Addr) -> Mac {
    let o = ip.octets();
    Mac([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// Length of a neighbour solicitation frame: Ethernet, IPv6, ICMPv6 (24
/// bytes) and the source link-layer address option (8 bytes).
pub const NS_FRAME_LEN: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN + 32;

/// A neighbour solicitation for `target` from (`src_mac`, `src_ip`), to the
/// target's solicited-node multicast address, as the Linux kernel sends it.
pub fn solicitation(src_mac: Mac, src_ip: Ipv6Addr, target: Ipv6Addr) -> [u8; NS_FRAME_LEN] {
    let mut f = [0u8; NS_FRAME_LEN];
    let group = solicited_node(target);
    let mut e = ethernet::Frame::new_unchecked(&mut f[..]);
    e.set_dst(multicast_mac(group));
    e.set_src(src_mac);
    e.set_ethertype(ETHERTYPE_IPV6);
    let l3 = ethernet::HEADER_LEN;
    ipv6::Packet::new_unchecked(&mut f[l3..]).emit(src_ip, group, 32, NEXT_ICMPV6, 255);
    let m = &mut f[l3 + ipv6::HEADER_LEN..];
    m[0] = NEIGHBOUR_SOLICITATION;
    m[8..24].copy_from_slice(&target.octets());
    m[24] = 1; // source link-layer address
    m[25] = 1; // 8 bytes
    m[26..32].copy_from_slice(&src_mac.0);
    let c = ipv6::upper_checksum(src_ip, group, NEXT_ICMPV6, &m[..32]);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    f
}

/// A neighbour advertisement in an Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertisement {
    pub target: Ipv6Addr,
    /// The target link-layer address option, else the frame's source MAC.
    pub mac: Mac,
    pub solicited: bool,
}

/// Parse an Ethernet frame as a neighbour advertisement (hop limit 255, as
/// RFC 4861 7.1.2 requires: it came from the link).
pub fn parse_advertisement(frame: &[u8]) -> Result<Advertisement> {
    let e = ethernet::Frame::new_checked(frame)?;
    if e.ethertype() != ETHERTYPE_IPV6 {
        return Err(Malformed);
    }
    let ip = ipv6::Packet::new_checked(e.payload())?;
    if ip.next_header() != NEXT_ICMPV6 || ip.hop_limit() != 255 {
        return Err(Malformed);
    }
    let m = ip.payload();
    if m.len() < 24 || m[0] != NEIGHBOUR_ADVERTISEMENT || m[1] != 0 {
        return Err(Malformed);
    }
    if !ip.verify_upper_checksum() {
        return Err(Malformed);
    }
    let target = Ipv6Addr::from(<[u8; 16]>::try_from(&m[8..24]).unwrap());
    let mut mac = e.src();
    let mut opts = &m[24..];
    while opts.len() >= 8 {
        let len = opts[1] as usize * 8;
        if len == 0 || len > opts.len() {
            return Err(Malformed);
        }
        if opts[0] == 2 {
            mac = Mac(opts[2..8].try_into().unwrap());
        }
        opts = &opts[len..];
    }
    Ok(Advertisement {
        target,
        mac,
        solicited: m[4] & 0x40 != 0,
    })
}

/// The MAC a frame advertises for `ip`, if it is a neighbour advertisement
/// for it.
pub fn parse_advertisement_for(frame: &[u8], ip: Ipv6Addr) -> Option<Mac> {
    parse_advertisement(frame)
        .ok()
        .filter(|a| a.target == ip && a.mac != Mac::ZERO)
        .map(|a| a.mac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv6::tests::hex;

    // Captured with tcpdump on the scanner's veth of `lab.sh up --ipv6`:
    // the Linux kernel's own solicitation for its gateway, the gateway's
    // advertisement, and the port unreachable the target's kernel sent for
    // a UDP datagram from [2001:2:0:ff::1]:40001 to [2001:2::4]:9.
    const NS: &str = include_str!("testdata/ipv6_ns.hex");
    const NA: &str = include_str!("testdata/ipv6_na.hex");
    const PORT_UNREACH: &str = include_str!("testdata/ipv6_port_unreach.hex");
    const SYN: &str = include_str!("testdata/ipv6_syn.hex");

    fn ip(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn solicitation_is_the_kernels_byte_for_byte() {
        let f = solicitation(
            "02:53:53:57:00:01".parse().unwrap(),
            ip("2001:2:0:ff::1"),
            ip("2001:2:0:ff::2"),
        );
        assert_eq!(f.to_vec(), hex(NS));
        assert_eq!(solicited_node(ip("2001:2:0:ff::2")), ip("ff02::1:ff00:2"));
        assert_eq!(
            multicast_mac(ip("ff02::1:ff12:3456")),
            Mac([0x33, 0x33, 0xff, 0x12, 0x34, 0x56])
        );
    }

    #[test]
    fn advertisement_of_a_real_gateway() {
        let f = hex(NA);
        let a = parse_advertisement(&f).unwrap();
        assert_eq!(a.target, ip("2001:2:0:ff::2"));
        assert_eq!(a.mac, "02:53:53:57:00:02".parse().unwrap());
        assert!(a.solicited);
        assert_eq!(
            parse_advertisement_for(&f, ip("2001:2:0:ff::2")),
            Some(a.mac)
        );
        assert_eq!(parse_advertisement_for(&f, ip("2001:2:0:ff::3")), None);
        let mut bad = f.clone();
        bad[14 + 7] = 64; // hop limit: not from the link
        assert!(parse_advertisement(&bad).is_err());
        let mut bad = f.clone();
        bad[14 + 40 + 10] ^= 1; // target changed: checksum fails
        assert!(parse_advertisement(&bad).is_err());
        assert!(parse_advertisement(&hex(NS)).is_err(), "a solicitation");
        assert!(parse_advertisement(&f[..60]).is_err());
    }

    #[test]
    fn port_unreachable_quotes_the_probe() {
        let f = hex(PORT_UNREACH);
        let u = parse_unreachable(&f[14..]).unwrap();
        assert_eq!(u.code, code::PORT);
        assert_eq!(
            Ipv6Addr::from(u.from),
            ip("2001:2:0:ff::2"),
            "not the target"
        );
        assert_eq!(Ipv6Addr::from(u.to), ip("2001:2:0:ff::1"));
        assert_eq!(
            u.quoted,
            Quoted6 {
                src: u128::from(ip("2001:2:0:ff::1")),
                dst: u128::from(ip("2001:2::4")),
                next_header: NEXT_UDP,
                flow: u32::from_be_bytes([
                    0,
                    f[14 + 48 + 1] & 0x0f,
                    f[14 + 48 + 2],
                    f[14 + 48 + 3]
                ]),
                sport: 40001,
                dport: 9,
                seq: None,
            }
        );
        assert!(
            ipv6::Packet::new_checked(&f[14..])
                .unwrap()
                .verify_upper_checksum()
        );
    }

    #[test]
    fn unreachable_quoting_a_tcp_probe() {
        // Build an administratively-prohibited error around our real SYN.
        let syn = hex(SYN);
        let quote = &syn[14..];
        let mut p = vec![0u8; ipv6::HEADER_LEN + HEADER_LEN + quote.len()];
        let (from, to) = (ip("2001:2:0:ff::2"), ip("2001:2:0:ff::1"));
        let n = p.len() - ipv6::HEADER_LEN;
        ipv6::Packet::new_unchecked(&mut p[..]).emit(from, to, n, NEXT_ICMPV6, 64);
        p[40] = DEST_UNREACHABLE;
        p[41] = code::ADMIN_PROHIBITED;
        p[48..].copy_from_slice(quote);
        let u = parse_unreachable(&p).unwrap();
        assert_eq!(u.code, code::ADMIN_PROHIBITED);
        assert_eq!(u.quoted.seq, Some(0x1234_5678));
        assert_eq!((u.quoted.sport, u.quoted.dport), (40000, 22));
        // Cut to the minimum quote (IPv6 header + 8 bytes): still parses.
        let short = &p[..ipv6::HEADER_LEN + HEADER_LEN + ipv6::HEADER_LEN + 8];
        let mut short = short.to_vec();
        let n = (short.len() - 40) as u16;
        short[4..6].copy_from_slice(&n.to_be_bytes());
        assert_eq!(
            parse_unreachable(&short).unwrap().quoted.seq,
            Some(0x1234_5678)
        );
        short.pop();
        let n = (short.len() - 40) as u16;
        short[4..6].copy_from_slice(&n.to_be_bytes());
        assert!(parse_unreachable(&short).is_err(), "quote too short");
        assert!(parse_unreachable(&syn[14..]).is_err(), "not ICMPv6");
    }
}
