//! The IP layer of a probe and of its answer, whatever the family: the one
//! place outside `ipv4`/`ipv6`/`icmp`/`icmpv6` that knows how the two
//! families differ, so that a probe module writes and reads its packets
//! once for both.
//!
//! - [`Header`]: a prebuilt IPv4 or IPv6 header from one source address
//!   whose destination and per-packet [mark](Header::mark) are patched per
//!   probe; it hands back the pseudo-header sum for the transport checksum.
//! - [`parse`]: a captured IPv4 or IPv6 packet as an [`Answer`]: a TCP
//!   segment, a UDP datagram, or a destination unreachable and the probe it
//!   quotes, with the addresses as [`IpAddr`].
//! - [`CaptureFilter`]: the classic BPF program that keeps the answers to a
//!   module's probes, for either family.

use super::bpf::{
    self, Asm, Insn, JEQ_K, JGE_K, JGT_K, JSET_K, LD_B_ABS, LD_B_IND, LD_H_ABS, LD_H_IND, LD_W_ABS,
    LDX_B_MSH,
};
use super::checksum::{add32, finish, sum};
use super::ipv6::{ETHERTYPE_IPV6, NEXT_ICMPV6};
use super::{Malformed, Result, icmp, icmpv6, ipv4, ipv6, segment, udp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest header a [`Header`] writes (IPv6, no extension headers).
pub const MAX_HEADER_LEN: usize = ipv6::HEADER_LEN;

/// Ethertype of IPv4.
const ETHERTYPE_IPV4: u16 = 0x0800;

/// A prebuilt IP header for packets of one transport protocol and length
/// from one source address.
#[derive(Debug, Clone)]
pub struct Header {
    bytes: [u8; MAX_HEADER_LEN],
    v6: bool,
    /// IPv4: unfolded sum of the header with destination, identification
    /// and checksum zero.
    ip_sum: u32,
    /// Unfolded sum of the pseudo-header without the destination.
    pseudo: u32,
}

impl Header {
    /// The header of `proto` packets from `src` carrying `upper_len` bytes.
    pub fn new(src: IpAddr, proto: u8, upper_len: usize, ttl: u8) -> Header {
        let mut bytes = [0u8; MAX_HEADER_LEN];
        let len32 = upper_len as u32;
        match src {
            IpAddr::V4(s) => {
                let b = &mut bytes[..ipv4::HEADER_LEN];
                ipv4::Packet::new_unchecked(&mut b[..]).emit(
                    s,
                    Ipv4Addr::UNSPECIFIED,
                    upper_len,
                    0,
                    ttl,
                    proto,
                );
                b[10..12].fill(0);
                Header {
                    ip_sum: sum(b),
                    bytes,
                    v6: false,
                    pseudo: add32(add32(0, u32::from(s)), len32) + proto as u32,
                }
            }
            IpAddr::V6(s) => {
                ipv6::Packet::new_unchecked(&mut bytes[..]).emit(
                    s,
                    Ipv6Addr::UNSPECIFIED,
                    upper_len,
                    proto,
                    ttl,
                );
                Header {
                    bytes,
                    v6: true,
                    ip_sum: 0,
                    pseudo: ipv6::addr_sum(u128::from(s)) + add32(0, len32) + proto as u32,
                }
            }
        }
    }

    /// Length of the header.
    #[inline]
    pub fn len(&self) -> usize {
        if self.v6 {
            ipv6::HEADER_LEN
        } else {
            ipv4::HEADER_LEN
        }
    }

    /// Never: an IP header has a length.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The per-packet field that an ICMP error quotes back and that a probe
    /// may mark: the IPv4 identification (16 bits) or the IPv6 flow label
    /// (20 bits). The mark of probe number `n` under `cookie` is the
    /// cookie's top bits XOR `n`; [`Quoted::number`] inverts it.
    #[inline]
    pub fn mark(&self, cookie: u32, n: u32) -> u32 {
        mark(self.v6, cookie, n)
    }

    /// Write the header to `dst` with `mark` ([`Header::mark`]) into
    /// `out[..len]`; returns the unfolded pseudo-header sum for the
    /// transport checksum, or `None` when `dst` is of the other family.
    #[inline]
    pub fn write(&self, out: &mut [u8], dst: IpAddr, mark: u32) -> Option<u32> {
        match (self.v6, dst) {
            (false, IpAddr::V4(d)) => {
                let d = u32::from(d);
                let out = &mut out[..ipv4::HEADER_LEN];
                out.copy_from_slice(&self.bytes[..ipv4::HEADER_LEN]);
                let ident = mark as u16;
                out[4..6].copy_from_slice(&ident.to_be_bytes());
                out[16..20].copy_from_slice(&d.to_be_bytes());
                let c = finish(add32(self.ip_sum, d) + ident as u32);
                out[10..12].copy_from_slice(&c.to_be_bytes());
                Some(add32(self.pseudo, d))
            }
            (true, IpAddr::V6(d)) => {
                let d = u128::from(d);
                let out = &mut out[..ipv6::HEADER_LEN];
                out.copy_from_slice(&self.bytes);
                out[1] = (mark >> 16) as u8 & 0x0f;
                out[2] = (mark >> 8) as u8;
                out[3] = mark as u8;
                out[24..40].copy_from_slice(&d.to_be_bytes());
                Some(self.pseudo + ipv6::addr_sum(d))
            }
            _ => None,
        }
    }
}

/// Bits of the mark: the IPv4 identification or the IPv6 flow label.
#[inline]
fn mark_bits(v6: bool) -> u32 {
    if v6 { 20 } else { 16 }
}

#[inline]
fn mark(v6: bool, cookie: u32, n: u32) -> u32 {
    let bits = mark_bits(v6);
    ((cookie >> (32 - bits)) ^ n) & ((1 << bits) - 1)
}

/// A TCP segment to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The replying host (the probe's destination).
    pub src: IpAddr,
    /// Our address (the probe's source).
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub ack: u32,
    pub flags: u8,
    /// TTL or hop limit.
    pub ttl: u8,
}

impl From<segment::Incoming<'_>> for Segment {
    fn from(s: segment::Incoming<'_>) -> Segment {
        Segment {
            src: s.src,
            dst: s.dst,
            sport: s.sport,
            dport: s.dport,
            ack: s.ack,
            flags: s.flags,
            ttl: s.ttl,
        }
    }
}

/// A UDP datagram to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub ttl: u8,
    pub payload: &'a [u8],
}

/// The probe a destination unreachable quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    /// The probe's source (ours, if it is our probe).
    pub src: IpAddr,
    /// The probed host.
    pub dst: IpAddr,
    /// The probe's transport protocol.
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    /// TCP: the quoted sequence number.
    pub seq: Option<u32>,
    /// The quoted IPv4 identification or IPv6 flow label.
    pub mark: u32,
}

impl Quoted {
    /// The probe number whose mark under `cookie` is the quoted one (the
    /// inverse of [`Header::mark`]).
    #[inline]
    pub fn number(&self, cookie: u32) -> u32 {
        mark(self.src.is_ipv6(), cookie, self.mark)
    }
}

/// An ICMP or ICMPv6 destination unreachable to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable {
    /// Who sent it (the probed host, or a router or firewall on the way).
    pub from: IpAddr,
    /// Our address.
    pub to: IpAddr,
    pub ttl: u8,
    /// Port unreachable (ICMP code 3, ICMPv6 code 4): nothing listens, when
    /// the probed host itself says so.
    pub port_unreachable: bool,
    pub quoted: Quoted,
}

impl Unreachable {
    /// Whether the probed host itself sent it.
    #[inline]
    pub fn from_target(&self) -> bool {
        self.from == self.quoted.dst
    }
}

/// What a captured packet to us is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    Tcp(Segment),
    Udp(Datagram<'a>),
    Unreachable(Unreachable),
}

/// View a captured IPv4 or IPv6 packet (no link header) as an [`Answer`].
/// IPv4: options allowed; fragments and bad header checksums are not (see
/// [`super::segment`], [`super::udp`] and [`super::icmp`]). IPv6: the
/// transport right behind the fixed header. Transport checksums are not
/// checked (partial sums on captured frames); the cookie decides.
pub fn parse(packet: &[u8]) -> Result<Answer<'_>> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => parse_v4(packet),
        Some(6) => parse_v6(packet),
        _ => Err(Malformed),
    }
}

fn parse_v4(packet: &[u8]) -> Result<Answer<'_>> {
    let v4 = |a: u32| IpAddr::V4(Ipv4Addr::from(a));
    match packet.get(9).copied() {
        Some(ipv4::PROTO_TCP) => Ok(Answer::Tcp(segment::parse_ipv4(packet)?.into())),
        Some(udp::PROTO_UDP) => {
            let r = udp::parse_ipv4(packet)?;
            Ok(Answer::Udp(Datagram {
                src: v4(r.src),
                dst: v4(r.dst),
                sport: r.sport,
                dport: r.dport,
                ttl: r.ttl,
                payload: r.payload,
            }))
        }
        Some(icmp::PROTO_ICMP) => {
            let u = icmp::parse_ipv4(packet)?;
            let q = u.quoted;
            Ok(Answer::Unreachable(Unreachable {
                from: v4(u.from),
                to: v4(u.to),
                ttl: u.ttl,
                port_unreachable: u.port_state() == icmp::PortState::Closed,
                quoted: Quoted {
                    src: v4(q.src),
                    dst: v4(q.dst),
                    proto: q.protocol,
                    sport: q.sport,
                    dport: q.dport,
                    seq: match q.transport {
                        icmp::QuotedTransport::Tcp { seq } => Some(seq),
                        _ => None,
                    },
                    mark: q.ident as u32,
                },
            }))
        }
        _ => Err(Malformed),
    }
}

fn parse_v6(packet: &[u8]) -> Result<Answer<'_>> {
    let ip = ipv6::Packet::new_checked(packet)?;
    let (src, dst) = (IpAddr::V6(ip.src()), IpAddr::V6(ip.dst()));
    match ip.next_header() {
        ipv6::NEXT_TCP => Ok(Answer::Tcp(segment::parse_ipv6(packet)?.into())),
        ipv6::NEXT_UDP => {
            let d = udp::Datagram::new_checked(ip.payload())?;
            Ok(Answer::Udp(Datagram {
                src,
                dst,
                sport: d.src_port(),
                dport: d.dst_port(),
                ttl: ip.hop_limit(),
                payload: &packet
                    [ipv6::HEADER_LEN + udp::HEADER_LEN..ipv6::HEADER_LEN + d.len() as usize],
            }))
        }
        NEXT_ICMPV6 => {
            let u = icmpv6::parse_unreachable(packet)?;
            let q = u.quoted;
            let v6 = |a: u128| IpAddr::V6(Ipv6Addr::from(a));
            Ok(Answer::Unreachable(Unreachable {
                from: v6(u.from),
                to: v6(u.to),
                ttl: u.hop_limit,
                port_unreachable: u.code == icmpv6::code::PORT,
                quoted: Quoted {
                    src: v6(q.src),
                    dst: v6(q.dst),
                    proto: q.next_header,
                    sport: q.sport,
                    dport: q.dport,
                    seq: q.seq,
                    mark: q.flow,
                },
            }))
        }
        _ => Err(Malformed),
    }
}

/// Most IPv6 addresses a capture filter names one by one (more: it keeps
/// any destination and the classifier checks it).
pub const FILTER_SOURCES: usize = 16;

/// Which of our addresses a capture filter keeps packets to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFilter<'a> {
    /// IPv4: the lowest and highest of our addresses (inclusive).
    V4 { low: u32, high: u32 },
    /// IPv6: each of our addresses.
    V6(&'a [u128]),
}

impl CaptureFilter<'_> {
    /// The program for frames whose IP header starts at byte `l3` (0 on
    /// layer-3 links, 14 behind Ethernet, where the ethertype must be the
    /// family's): packets to our addresses, not IPv4 fragments, and either
    /// `proto` to a port in `dport` or an ICMP (ICMPv6) destination
    /// unreachable.
    pub fn program(&self, l3: u32, proto: u8, dport: (u16, u16)) -> Vec<Insn> {
        match *self {
            CaptureFilter::V4 { low, high } => filter_v4(l3, (low, high), proto, dport),
            CaptureFilter::V6(dst) => filter_v6(l3, dst, proto, dport),
        }
    }
}

fn filter_v4(l3: u32, dst: (u32, u32), proto: u8, dport: (u16, u16)) -> Vec<Insn> {
    use bpf::To::{Drop, Keep, Next, Skip};
    let mut a = Asm::new();
    if l3 >= 2 {
        a.op(LD_H_ABS, l3 - 2)
            .jump(JEQ_K, ETHERTYPE_IPV4 as u32, Next, Drop);
    }
    a.op(LD_B_ABS, l3) // version 4, header length 20..=60
        .jump(JGE_K, 0x45, Next, Drop)
        .jump(JGT_K, 0x4f, Drop, Next)
        .op(LD_W_ABS, l3 + 16) // destination: one of ours
        .jump(JGE_K, dst.0, Next, Drop)
        .jump(JGT_K, dst.1, Drop, Next)
        .op(LD_H_ABS, l3 + 6) // not a fragment
        .jump(JSET_K, 0x3fff, Drop, Next)
        .op(LDX_B_MSH, l3) // x = IP header length
        .op(LD_B_ABS, l3 + 9)
        .jump(JEQ_K, icmp::PROTO_ICMP as u32, Next, Skip(2))
        .op(LD_B_IND, l3) // ICMP type
        .jump(JEQ_K, icmp::DEST_UNREACHABLE as u32, Keep, Drop)
        .jump(JEQ_K, proto as u32, Next, Drop)
        .op(LD_H_IND, l3 + 2) // destination port in range
        .jump(JGE_K, dport.0 as u32, Next, Drop)
        .jump(JGT_K, dport.1 as u32, Drop, Keep);
    a.finish()
}

fn filter_v6(l3: u32, dst: &[u128], proto: u8, dport: (u16, u16)) -> Vec<Insn> {
    use bpf::To::{Drop, Keep, Next, Skip};
    let mut a = Asm::new();
    if l3 >= 2 {
        a.op(LD_H_ABS, l3 - 2)
            .jump(JEQ_K, ETHERTYPE_IPV6 as u32, Next, Drop);
    }
    a.op(LD_B_ABS, l3) // version 6
        .jump(JGE_K, 0x60, Next, Drop)
        .jump(JGT_K, 0x6f, Drop, Next);
    if dst.len() <= FILTER_SOURCES {
        // One block of 8 instructions per address: on a mismatch, on to the
        // next block (the last one drops); on a full match, past them all.
        let n = dst.len();
        for (i, &d) in dst.iter().enumerate() {
            let last = i + 1 == n;
            for w in 0..4u32 {
                let word = (d >> (96 - 32 * w)) as u32;
                let j = (2 * w + 1) as u8; // this jump's place in the block
                let miss = if last { Drop } else { Skip(7 - j) };
                let hit = if w < 3 {
                    Next
                } else {
                    Skip((8 * (n - i - 1)) as u8)
                };
                a.op(LD_W_ABS, l3 + 24 + 4 * w).jump(JEQ_K, word, hit, miss);
            }
        }
    }
    a.op(LD_B_ABS, l3 + 6) // next header
        .jump(JEQ_K, proto as u32, Next, Skip(3))
        .op(LD_H_ABS, l3 + 40 + 2) // destination port in range
        .jump(JGE_K, dport.0 as u32, Next, Drop)
        .jump(JGT_K, dport.1 as u32, Drop, Keep)
        .jump(JEQ_K, NEXT_ICMPV6 as u32, Next, Drop)
        .op(LD_B_ABS, l3 + 40) // ICMPv6 type
        .jump(JEQ_K, icmpv6::DEST_UNREACHABLE as u32, Keep, Drop);
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_mark_gives_back_the_probe_number() {
        let v4 = Header::new(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)), 17, 8, 64);
        let v6 = Header::new(IpAddr::V6("2001:2::1".parse().unwrap()), 17, 8, 64);
        let cookie = 0xdead_beef;
        assert_eq!(v4.mark(cookie, 3), 0xdead ^ 3, "IPv4 identification");
        assert_eq!(v6.mark(cookie, 3), 0xdeadb ^ 3, "IPv6 flow label");
        for (h, src) in [(&v4, "198.18.0.1"), (&v6, "2001:2::1")] {
            for n in [0, 1, 7, 22, 443] {
                let q = Quoted {
                    src: src.parse().unwrap(),
                    dst: src.parse().unwrap(),
                    proto: 17,
                    sport: 1,
                    dport: 2,
                    seq: None,
                    mark: h.mark(cookie, n),
                };
                assert_eq!(q.number(cookie), n);
                assert_ne!(q.number(cookie ^ 0x8000_0000), n, "another cookie");
            }
        }
    }

    #[test]
    fn parse_rejects_what_is_neither_family() {
        assert_eq!(parse(&[]), Err(Malformed));
        assert_eq!(parse(&[0x55; 60]), Err(Malformed));
        let mut p = [0u8; 40];
        p[0] = 0x45;
        p[9] = 47; // GRE
        assert_eq!(parse(&p), Err(Malformed));
    }
}
