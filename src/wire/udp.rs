//! UDP (RFC 768): a header view, the probe frame builder (IPv4 + UDP +
//! payload, optionally in Ethernet, both checksums right), and the parser
//! of captured UDP replies.
//!
//! Unlike the TCP SYN template, a UDP probe's length depends on its payload,
//! so the builder writes the whole frame each time; payloads are a few dozen
//! bytes and the sums are one pass over them.

use super::checksum::{add32, finish, sum};
use super::ethernet::{self, ETHERTYPE_IPV4};
use super::{Framing, TTL};
use super::{Malformed, Result, be16, ipv4};
use std::net::Ipv4Addr;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

pub const HEADER_LEN: usize = 8;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// Largest payload a probe can carry in one unfragmented IPv4 datagram.
pub const MAX_PAYLOAD: usize = 65535 - ipv4::HEADER_LEN - HEADER_LEN;

/// A view of a UDP datagram.
#[derive(Debug, Clone)]
pub struct Datagram<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Datagram<T> {
    pub fn new_unchecked(buf: T) -> Self {
        Datagram { buf }
    }

    /// Check the header fits and the length field lies between the header
    /// and the buffer; after this no accessor can panic. Bytes past the
    /// length field are ignored by `payload`.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Malformed);
        }
        let len = be16(b, field::LENGTH) as usize;
        if len < HEADER_LEN || len > b.len() {
            return Err(Malformed);
        }
        Ok(Datagram { buf })
    }

    pub fn src_port(&self) -> u16 {
        be16(self.buf.as_ref(), field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.buf.as_ref(), field::DST_PORT)
    }
    /// Header plus payload, from the length field.
    pub fn len(&self) -> u16 {
        be16(self.buf.as_ref(), field::LENGTH)
    }
    pub fn is_empty(&self) -> bool {
        self.len() as usize == HEADER_LEN
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), field::CHECKSUM)
    }
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..self.len() as usize]
    }
    /// Whether the checksum is right for this pseudo-header (0 means the
    /// sender computed none, which IPv4 allows). Captured datagrams on
    /// virtual and offloading NICs may carry a partial sum: the reply parser
    /// does not call this.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        self.checksum() == 0
            || finish(
                pseudo_sum(src, dst, self.len()) + sum(&self.buf.as_ref()[..self.len() as usize]),
            ) == 0
    }
}

/// Sum of the IPv4 pseudo-header (RFC 768): addresses, protocol, length.
fn pseudo_sum(src: Ipv4Addr, dst: Ipv4Addr, len: u16) -> u32 {
    add32(add32(0, u32::from(src)), u32::from(dst)) + PROTO_UDP as u32 + len as u32
}

/// The checksum of a UDP datagram (`udp`: header with a zero checksum field,
/// then payload) between `src` and `dst`; a computed 0 is sent as 0xffff
/// (RFC 768), since 0 means "no checksum".
pub fn checksum(src: Ipv4Addr, dst: Ipv4Addr, udp: &[u8]) -> u16 {
    match finish(pseudo_sum(src, dst, udp.len() as u16) + sum(udp)) {
        0 => 0xffff,
        c => c,
    }
}

/// One UDP probe: addresses, ports, IP identification and payload.
#[derive(Debug, Clone, Copy)]
pub struct UdpProbe<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub ident: u16,
    pub payload: &'a [u8],
}

/// Append the frame for `probe` to `out`: Ethernet header when `framing`
/// says so, an IPv4 header (no options, TTL 64, DF clear, as the SYN probe),
/// the UDP header and the payload, both checksums filled in. Returns the
/// frame's length; `Malformed` if the payload cannot fit one datagram.
pub fn write_probe(framing: Framing, probe: &UdpProbe<'_>, out: &mut Vec<u8>) -> Result<usize> {
    if probe.payload.len() > MAX_PAYLOAD {
        return Err(Malformed);
    }
    let start = out.len();
    let udp_len = HEADER_LEN + probe.payload.len();
    let eth = match framing {
        Framing::Ethernet { .. } => ethernet::HEADER_LEN,
        Framing::Ip => 0,
    };
    out.resize(start + eth + ipv4::HEADER_LEN + udp_len, 0);
    let frame = &mut out[start..];
    if let Framing::Ethernet { src, dst } = framing {
        let mut e = ethernet::Frame::new_unchecked(&mut frame[..eth]);
        e.set_dst(dst);
        e.set_src(src);
        e.set_ethertype(ETHERTYPE_IPV4);
    }
    let (ip, udp) = frame[eth..].split_at_mut(ipv4::HEADER_LEN);
    ipv4::Packet::new_unchecked(&mut ip[..]).emit(
        probe.src,
        probe.dst,
        udp_len,
        probe.ident,
        TTL,
        PROTO_UDP,
    );
    udp[field::SRC_PORT..field::SRC_PORT + 2].copy_from_slice(&probe.sport.to_be_bytes());
    udp[field::DST_PORT..field::DST_PORT + 2].copy_from_slice(&probe.dport.to_be_bytes());
    udp[field::LENGTH..field::LENGTH + 2].copy_from_slice(&(udp_len as u16).to_be_bytes());
    udp[HEADER_LEN..].copy_from_slice(probe.payload);
    let c = checksum(probe.src, probe.dst, udp);
    udp[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
    Ok(out.len() - start)
}

/// The fields of a UDP reply the scan core looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpReply<'a> {
    /// The replying host (the probe's destination).
    pub src: u32,
    /// Our address (the probe's source).
    pub dst: u32,
    pub sport: u16,
    pub dport: u16,
    pub ttl: u8,
    /// The UDP payload, for the service's checker.
    pub payload: &'a [u8],
}

/// Parse an Ethernet II frame carrying IPv4/UDP.
pub fn parse_ethernet(frame: &[u8]) -> Result<UdpReply<'_>> {
    let e = ethernet::Frame::new_checked(frame)?;
    if e.ethertype() != ETHERTYPE_IPV4 {
        return Err(Malformed);
    }
    parse_ipv4(&frame[ethernet::HEADER_LEN..])
}

/// Parse a bare IPv4 packet carrying UDP. IP options are allowed;
/// fragments, bad IP header checksums and truncated datagrams are not. The
/// UDP checksum is not checked, for the same reason as TCP's (partial sums
/// on captured frames); the payload checker and the cookie decide.
pub fn parse_ipv4(pkt: &[u8]) -> Result<UdpReply<'_>> {
    let ip = ipv4::Packet::new_checked(pkt)?;
    if ip.protocol() != PROTO_UDP || ip.is_fragment() || !ip.verify_checksum() {
        return Err(Malformed);
    }
    let (hl, tl) = (ip.header_len(), ip.total_len() as usize);
    let d = Datagram::new_checked(&pkt[hl..tl])?;
    let len = d.len() as usize;
    Ok(UdpReply {
        src: u32::from(ip.src()),
        dst: u32::from(ip.dst()),
        sport: d.src_port(),
        dport: d.dst_port(),
        ttl: ip.ttl(),
        payload: &pkt[hl + HEADER_LEN..hl + len],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::udp_payloads::NETBIOS;
    use crate::wire::checksum;
    use crate::wire::ethernet::Mac;

    /// The NetBIOS node status probe (cookie 0x9c3a51e7) from
    /// 198.18.77.2:47993 to 198.18.77.1:137: IP and UDP headers as a Linux
    /// kernel sent them in our lab (captured), with DF and TOS cleared as
    /// synsweep sends, and the checksums computed apart (Python, RFC 1071),
    /// because the capture on a veth holds only a partial UDP sum.
    const NBSTAT_IP: [u8; 20] = [
        0x45, 0x00, 0x00, 0x4e, 0x7d, 0xb3, 0x00, 0x00, 0x40, 0x11, 0xd6, 0xc3, 0xc6, 0x12, 0x4d,
        0x02, 0xc6, 0x12, 0x4d, 0x01,
    ];
    const NBSTAT_UDP: [u8; 8] = [0xbb, 0x79, 0x00, 0x89, 0x00, 0x3a, 0x11, 0x38];

    fn nbstat_probe(payload: &[u8]) -> UdpProbe<'_> {
        UdpProbe {
            src: Ipv4Addr::new(198, 18, 77, 2),
            dst: Ipv4Addr::new(198, 18, 77, 1),
            sport: 47993,
            dport: 137,
            ident: 0x7db3,
            payload,
        }
    }

    #[test]
    fn probe_bytes_match_the_literal() {
        let payload = NETBIOS.payload(0x9c3a_51e7);
        let mut out = vec![0xaa]; // appended after what is there
        let n = write_probe(Framing::Ip, &nbstat_probe(&payload), &mut out).unwrap();
        assert_eq!(n, 20 + 8 + 50);
        assert_eq!(out[0], 0xaa);
        assert_eq!(&out[1..21], &NBSTAT_IP);
        assert_eq!(&out[21..29], &NBSTAT_UDP);
        assert_eq!(&out[29..], &payload[..]);
    }

    #[test]
    fn ethernet_framing_and_checksums_verify() {
        let payload = NETBIOS.payload(0x9c3a_51e7);
        let framing = Framing::Ethernet {
            src: Mac([2, 0, 0, 0, 0, 1]),
            dst: Mac([2, 0, 0, 0, 0, 2]),
        };
        let mut out = Vec::new();
        let n = write_probe(framing, &nbstat_probe(&payload), &mut out).unwrap();
        assert_eq!(n, 14 + 78);
        assert_eq!(
            &out[..14],
            &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]
        );
        assert_eq!(&out[14..34], &NBSTAT_IP);
        let ip = ipv4::Packet::new_checked(&out[14..]).unwrap();
        assert!(ip.verify_checksum());
        let d = Datagram::new_checked(ip.payload()).unwrap();
        assert!(d.verify_checksum(ip.src(), ip.dst()));
        assert!(!d.verify_checksum(ip.src(), Ipv4Addr::new(198, 18, 77, 3)));
        // The parser reads back what the builder wrote.
        let r = parse_ethernet(&out).unwrap();
        assert_eq!((r.sport, r.dport, r.ttl), (47993, 137, 64));
        assert_eq!(r.payload, &payload[..]);
    }

    #[test]
    fn zero_sum_is_sent_as_ffff() {
        // Find a payload word that makes the computed sum 0.
        let (src, dst) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 19, 0, 4));
        let mut udp = [0x9c, 0x40, 0x00, 0x35, 0x00, 0x0a, 0, 0, 0, 0];
        let c = checksum::finish(pseudo_sum(src, dst, 10) + sum(&udp));
        udp[8..10].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(src, dst, &udp), 0xffff);
        udp[6..8].copy_from_slice(&0xffffu16.to_be_bytes());
        assert!(
            Datagram::new_checked(&udp[..])
                .unwrap()
                .verify_checksum(src, dst)
        );
    }

    #[test]
    fn empty_payload_probe() {
        let mut out = Vec::new();
        let n = write_probe(Framing::Ip, &nbstat_probe(&[]), &mut out).unwrap();
        assert_eq!(n, 28);
        let d = Datagram::new_checked(&out[20..]).unwrap();
        assert!(d.is_empty());
        assert!(d.verify_checksum(Ipv4Addr::new(198, 18, 77, 2), Ipv4Addr::new(198, 18, 77, 1)));
        let big = vec![0u8; MAX_PAYLOAD + 1];
        assert_eq!(
            write_probe(Framing::Ip, &nbstat_probe(&big), &mut out),
            Err(Malformed)
        );
    }

    /// nmbd's node status reply, 198.18.77.1:137 -> 198.18.77.2:47993, as
    /// captured on the lab's veth (Ethernet, partial UDP checksum).
    #[rustfmt::skip]
    const NMBD_REPLY: [u8; 271] = [
        0xfe, 0x4c, 0xb2, 0x11, 0x1d, 0x50, 0x7a, 0x61, 0xb7, 0x12, 0x31, 0x04, 0x08, 0x00,
        0x45, 0x00, 0x01, 0x01, 0xba, 0xf7, 0x40, 0x00, 0x40, 0x11, 0x58, 0xcc, 0xc6, 0x12, 0x4d, 0x01, 0xc6, 0x12, 0x4d, 0x02,
        0x00, 0x89, 0xbb, 0x79, 0x00, 0xed, 0x27, 0x27,
        0xcd, 0xdd, 0x84, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x20, 0x43, 0x4b, 0x41,
        0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
        0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x00, 0x00, 0x21,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xad, 0x07, 0x53, 0x59, 0x4e, 0x53, 0x57, 0x45, 0x45,
        0x50, 0x4c, 0x41, 0x42, 0x20, 0x20, 0x20, 0x20, 0x00, 0x04, 0x00, 0x53, 0x59, 0x4e, 0x53, 0x57,
        0x45, 0x45, 0x50, 0x4c, 0x41, 0x42, 0x20, 0x20, 0x20, 0x20, 0x03, 0x04, 0x00, 0x53, 0x59, 0x4e,
        0x53, 0x57, 0x45, 0x45, 0x50, 0x4c, 0x41, 0x42, 0x20, 0x20, 0x20, 0x20, 0x20, 0x04, 0x00, 0x01,
        0x02, 0x5f, 0x5f, 0x4d, 0x53, 0x42, 0x52, 0x4f, 0x57, 0x53, 0x45, 0x5f, 0x5f, 0x02, 0x01, 0x84,
        0x00, 0x4c, 0x41, 0x42, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x00, 0x84, 0x00, 0x4c, 0x41, 0x42, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x1d, 0x04, 0x00, 0x4c, 0x41, 0x42, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x20, 0x1e, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn parses_a_real_reply() {
        let r = parse_ethernet(&NMBD_REPLY).unwrap();
        assert_eq!(r.src, u32::from(Ipv4Addr::new(198, 18, 77, 1)));
        assert_eq!(r.dst, u32::from(Ipv4Addr::new(198, 18, 77, 2)));
        assert_eq!((r.sport, r.dport, r.ttl), (137, 47993, 64));
        assert_eq!(r.payload.len(), 0xed - 8);
        assert_eq!(&r.payload[..4], &[0xcd, 0xdd, 0x84, 0x00]);
        // The payload is a node status answer to cookie 0x9c3a51e7.
        assert!((NETBIOS.check)(r.payload, 0x9c3a_51e7).accepted());
    }

    #[test]
    fn refuses_what_is_not_a_whole_udp_datagram() {
        let ip = &NMBD_REPLY[14..];
        // Truncated capture: total length past the buffer.
        assert!(parse_ipv4(&ip[..100]).is_err());
        // UDP length field larger than the IP payload.
        let mut b = ip.to_vec();
        b[24..26].copy_from_slice(&0x0200u16.to_be_bytes());
        assert!(parse_ipv4(&b).is_err());
        // UDP length below the header.
        b[24..26].copy_from_slice(&7u16.to_be_bytes());
        assert!(parse_ipv4(&b).is_err());
        // Another protocol, a fragment, a bad IP header checksum.
        let mut b = ip.to_vec();
        b[9] = 6;
        assert!(parse_ipv4(&b).is_err());
        let mut b = ip.to_vec();
        b[6] = 0x20;
        assert!(parse_ipv4(&b).is_err());
        let mut b = ip.to_vec();
        b[11] ^= 1;
        assert!(parse_ipv4(&b).is_err());
        // Not IPv4 in the Ethernet frame.
        let mut f = NMBD_REPLY.to_vec();
        f[12] = 0x86;
        f[13] = 0xdd;
        assert!(parse_ethernet(&f).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse_ethernet(&b);
            let _ = parse_ipv4(&b);
        }
    }
}
