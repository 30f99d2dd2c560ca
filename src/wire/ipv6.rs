//! IPv6 headers (RFC 8200), the upper-layer checksum over the IPv6
//! pseudo-header (RFC 8200 8.1), and the parse of a TCP reply carried by
//! IPv6.
//!
//! Only the fixed 40-byte header is read: replies from real stacks (SYN-ACK,
//! RST, ICMPv6 errors) carry no extension headers, and a packet whose next
//! header is not the protocol looked for is dropped, never walked.

use super::{Malformed, Result, be16, checksum, ethernet, tcp};
use std::net::Ipv6Addr;

mod field {
    use std::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

pub const HEADER_LEN: usize = 40;
/// Ethertype of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const NEXT_TCP: u8 = 6;
pub const NEXT_UDP: u8 = 17;
pub const NEXT_ICMPV6: u8 = 58;

/// A view of an IPv6 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buf: T) -> Self {
        Packet { buf }
    }

    /// Check version and payload length against the buffer; after this no
    /// accessor can panic. Bytes past the payload (Ethernet padding) are
    /// ignored by `payload`.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Malformed);
        }
        let p = Packet { buf };
        if p.version() != 6 || HEADER_LEN + p.payload_len() as usize > p.buf.as_ref().len() {
            return Err(Malformed);
        }
        Ok(p)
    }

    pub fn version(&self) -> u8 {
        self.buf.as_ref()[0] >> 4
    }
    pub fn payload_len(&self) -> u16 {
        be16(self.buf.as_ref(), field::PAYLOAD_LEN)
    }
    pub fn next_header(&self) -> u8 {
        self.buf.as_ref()[field::NEXT_HEADER]
    }
    pub fn hop_limit(&self) -> u8 {
        self.buf.as_ref()[field::HOP_LIMIT]
    }
    pub fn src(&self) -> Ipv6Addr {
        Ipv6Addr::from(<[u8; 16]>::try_from(&self.buf.as_ref()[field::SRC]).unwrap())
    }
    pub fn dst(&self) -> Ipv6Addr {
        Ipv6Addr::from(<[u8; 16]>::try_from(&self.buf.as_ref()[field::DST]).unwrap())
    }
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..HEADER_LEN + self.payload_len() as usize]
    }
    /// Whether the upper-layer checksum (TCP, UDP, ICMPv6) of the payload is
    /// right.
    pub fn verify_upper_checksum(&self) -> bool {
        let p = self.payload();
        checksum::finish(
            pseudo_sum(self.src(), self.dst(), self.next_header(), p.len() as u32)
                + checksum::sum(p),
        ) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Write the 40-byte header (traffic class and flow label zero).
    pub fn emit(
        &mut self,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        payload_len: usize,
        next: u8,
        hop_limit: u8,
    ) {
        let b = self.buf.as_mut();
        b[field::VER_TC_FLOW].copy_from_slice(&[0x60, 0, 0, 0]);
        b[field::PAYLOAD_LEN..field::PAYLOAD_LEN + 2]
            .copy_from_slice(&(payload_len as u16).to_be_bytes());
        b[field::NEXT_HEADER] = next;
        b[field::HOP_LIMIT] = hop_limit;
        b[field::SRC].copy_from_slice(&src.octets());
        b[field::DST].copy_from_slice(&dst.octets());
    }
}

/// Unfolded one's-complement sum of an IPv6 address.
#[inline]
pub fn addr_sum(a: u128) -> u32 {
    let mut acc = 0u32;
    for k in 0..8 {
        acc += ((a >> (16 * k)) & 0xffff) as u32;
    }
    acc
}

/// Unfolded sum of the IPv6 pseudo-header: source, destination,
/// upper-layer length, next header.
#[inline]
pub fn pseudo_sum(src: Ipv6Addr, dst: Ipv6Addr, next: u8, len: u32) -> u32 {
    addr_sum(u128::from(src))
        + addr_sum(u128::from(dst))
        + (len >> 16)
        + (len & 0xffff)
        + next as u32
}

/// The checksum of an upper-layer message `data` (its checksum field zero)
/// from `src` to `dst`.
pub fn upper_checksum(src: Ipv6Addr, dst: Ipv6Addr, next: u8, data: &[u8]) -> u16 {
    checksum::finish(pseudo_sum(src, dst, next, data.len() as u32) + checksum::sum(data))
}

/// The fields of a TCP reply over IPv6 the probe module looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply6 {
    /// The replying host (the probe's destination).
    pub src: u128,
    /// Our address (the probe's source).
    pub dst: u128,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub hop_limit: u8,
}

/// Parse a bare IPv6 packet carrying TCP directly (no extension headers).
/// The TCP checksum is not checked (partial checksums of offloading NICs);
/// the cookie rejects what is not ours.
pub fn parse_tcp(pkt: &[u8]) -> Result<Reply6> {
    let ip = Packet::new_checked(pkt)?;
    if ip.next_header() != NEXT_TCP {
        return Err(Malformed);
    }
    let t = tcp::Segment::new_checked(ip.payload())?;
    Ok(Reply6 {
        src: u128::from(ip.src()),
        dst: u128::from(ip.dst()),
        sport: t.src_port(),
        dport: t.dst_port(),
        seq: t.seq(),
        ack: t.ack(),
        flags: t.flags(),
        hop_limit: ip.hop_limit(),
    })
}

/// [`parse_tcp`] behind an Ethernet II header.
pub fn parse_ethernet_tcp(frame: &[u8]) -> Result<Reply6> {
    let e = ethernet::Frame::new_checked(frame)?;
    if e.ethertype() != ETHERTYPE_IPV6 {
        return Err(Malformed);
    }
    parse_tcp(e.payload())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A SYN-ACK captured with tcpdump in the lab: the Linux kernel of the
    /// target namespace (2001:2::4, port 22) answering a SYN from
    /// 2001:2:0:ff::1 port 40000 (`ip -6 route add local 2001:2::/64 dev
    /// lo`, a listener on [::]:22). Ethernet header included.
    const SYN_ACK: &str = include_str!("testdata/ipv6_syn_ack.hex");
    /// The SYN that SYN-ACK answers, as it crossed the veth (built by a
    /// short Python script with its own checksum code; the target's
    /// kernel accepted it, so its checksum is right).
    const SYN: &str = include_str!("testdata/ipv6_syn.hex");

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn parses_a_real_syn_ack() {
        let f = hex(SYN_ACK);
        let r = parse_ethernet_tcp(&f).unwrap();
        assert_eq!(
            Ipv6Addr::from(r.src),
            "2001:2::4".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            Ipv6Addr::from(r.dst),
            "2001:2:0:ff::1".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!((r.sport, r.dport), (22, 40000));
        assert_eq!(r.flags, tcp::SYN | tcp::ACK);
        assert_eq!(r.ack, 0x1234_5679, "our SYN's sequence number plus one");
        assert_eq!(r.hop_limit, 64);
        // The kernel handed the veth a partial checksum (offload): only the
        // folded pseudo-header sum, not complemented.
        let ip = Packet::new_checked(&f[14..]).unwrap();
        let partial = !checksum::finish(pseudo_sum(
            ip.src(),
            ip.dst(),
            NEXT_TCP,
            ip.payload_len() as u32,
        ));
        assert_eq!(partial.to_be_bytes(), [f[14 + 56], f[14 + 57]]);
        let syn = hex(SYN);
        assert!(
            Packet::new_checked(&syn[14..])
                .unwrap()
                .verify_upper_checksum()
        );
    }

    #[test]
    fn emit_and_checksum_match_the_kernel() {
        // Rebuild the captured SYN's IPv6 header (the kernel's, as it sent
        // our raw TCP segment) and its TCP checksum from the fields.
        let f = hex(SYN);
        let pkt = &f[14..];
        let ip = Packet::new_checked(pkt).unwrap();
        let mut b = pkt.to_vec();
        b[..HEADER_LEN].fill(0);
        Packet::new_unchecked(&mut b[..]).emit(
            ip.src(),
            ip.dst(),
            ip.payload_len() as usize,
            NEXT_TCP,
            64,
        );
        // The kernel may set a flow label: copy it (we send zero).
        b[1..4].copy_from_slice(&pkt[1..4]);
        assert_eq!(&b[..HEADER_LEN], &pkt[..HEADER_LEN]);
        let t = HEADER_LEN;
        b[t + 16..t + 18].fill(0);
        let c = upper_checksum(ip.src(), ip.dst(), NEXT_TCP, &b[t..]);
        assert_eq!(c.to_be_bytes(), [pkt[t + 16], pkt[t + 17]]);
    }

    #[test]
    fn rejects_lies_and_other_protocols() {
        let f = hex(SYN_ACK);
        let pkt = &f[14..];
        assert!(parse_tcp(&pkt[..39]).is_err());
        let mut b = pkt.to_vec();
        b[4..6].copy_from_slice(&1000u16.to_be_bytes());
        assert!(parse_tcp(&b).is_err(), "payload length past the buffer");
        let mut b = pkt.to_vec();
        b[0] = 0x45;
        assert!(parse_tcp(&b).is_err(), "IPv4");
        let mut b = pkt.to_vec();
        b[6] = 0; // hop-by-hop options header
        assert!(parse_tcp(&b).is_err());
        let mut b = f.clone();
        b[12..14].copy_from_slice(&[0x08, 0x00]);
        assert!(parse_ethernet_tcp(&b).is_err());
        let mut b = pkt.to_vec();
        b[HEADER_LEN + 12] = 0x40; // data offset 16 < 20
        assert!(parse_tcp(&b).is_err());
    }
}
