//! The TCP SYN probe module, one piece of code for IPv4 and IPv6: a
//! prebuilt SYN (an [`ip::Header`] of the source's family and a TCP header
//! with MSS 1460) whose per-probe fields (destination, ports, sequence
//! number, the IP mark) are patched in place, with the checksums finished
//! from precomputed partial sums (RFC 1624 style): a probe costs a 44-byte
//! (IPv6: 64-byte) copy and a few additions. The sequence number is the
//! cookie; the IP mark (IPv4 identification, IPv6 flow label) is the
//! cookie's top bits XOR the destination port.
//!
//! Replies, the same on both families:
//! - a SYN-ACK (open) or RST-ACK (closed) is ours only if it acknowledges
//!   the cookie plus one;
//! - an ICMP or ICMPv6 destination unreachable quoting one of our SYNs with
//!   its cookie as sequence number is [`Reject::Filtered`] (any code: a TCP
//!   port has no "port unreachable" of its own), counted, not a finding.

use super::{Classified, Identity, Probe, Proto, Reject, Template, our_quote};
use crate::finding::PortState;
use crate::wire::checksum::{add32, finish, sum};
use crate::wire::ip::{self, Answer};
use crate::wire::tcp;
use std::net::IpAddr;

/// TCP options of the probe: MSS 1460, as a real stack would send.
pub const TCP_OPTIONS: [u8; 4] = [2, 4, 0x05, 0xb4];
const TCP_LEN: usize = tcp::HEADER_LEN + TCP_OPTIONS.len();
/// Length of the longest probe (IPv6 header + TCP header with options; an
/// IPv4 probe is 44 bytes).
pub const PROBE_LEN: usize = ip::MAX_HEADER_LEN + TCP_LEN;
pub const TTL: u8 = 64;
pub const WINDOW: u16 = 64240;

/// The module.
#[derive(Debug, Clone, Copy)]
pub struct TcpSyn;

impl Probe for TcpSyn {
    fn name(&self) -> &'static str {
        "tcp-syn"
    }
    fn proto(&self) -> Proto {
        Proto::Tcp
    }
    fn max_len(&self) -> usize {
        PROBE_LEN
    }
    fn template(&self, src: IpAddr) -> Box<dyn Template> {
        Box::new(ProbeTemplate::new(src))
    }
    fn classify(&self, packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
        classify(packet, us)
    }
}

/// Validate a captured IPv4 or IPv6 packet as the answer to one of our SYNs.
pub fn classify(packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
    match ip::parse(packet).map_err(|_| Reject::Malformed)? {
        Answer::Tcp(r) => {
            if !us.is_source(r.dst) || !us.is_sport(r.dport) {
                return Err(Reject::NotForUs);
            }
            let (state, reason) = match r.flags & (tcp::SYN | tcp::ACK | tcp::RST) {
                f if f == tcp::SYN | tcp::ACK => (PortState::Open, "syn-ack"),
                f if f == tcp::RST | tcp::ACK => (PortState::Closed, "rst"),
                _ => return Err(Reject::Flags),
            };
            if !us.key.validates(r.dst, r.src, r.dport, r.sport, r.ack) {
                return Err(Reject::BadCookie);
            }
            Ok(Classified {
                target: r.src,
                proto: Proto::Tcp,
                port: r.sport,
                state,
                reason,
                ttl: r.ttl,
                protocol: None,
                amplification: None,
            })
        }
        Answer::Unreachable(u) => {
            let q = our_quote(&u, Proto::Tcp, us)?;
            if q.seq != Some(us.key.cookie(q.src, q.dst, q.sport, q.dport)) {
                return Err(Reject::BadCookie);
            }
            Err(Reject::Filtered)
        }
        Answer::Udp(_) => Err(Reject::Malformed),
    }
}

/// A SYN template for one source address.
#[derive(Debug, Clone)]
pub struct ProbeTemplate {
    ip: ip::Header,
    /// The TCP header, ports, sequence number and checksum zero.
    tcp: [u8; TCP_LEN],
    /// Unfolded sum of `tcp`.
    tcp_sum: u32,
}

impl ProbeTemplate {
    pub fn new(src: impl Into<IpAddr>) -> Self {
        let mut tcp = [0u8; TCP_LEN];
        tcp::Segment::new_unchecked(&mut tcp[..]).emit(0, 0, 0, 0, tcp::SYN, WINDOW, &TCP_OPTIONS);
        tcp[16..18].fill(0);
        ProbeTemplate {
            ip: ip::Header::new(src.into(), Proto::Tcp.number(), TCP_LEN, TTL),
            tcp_sum: sum(&tcp),
            tcp,
        }
    }

    /// Write the probe for (dst, sport, dport) with sequence number `seq`
    /// and IP mark `mark` into `out` (at least [`PROBE_LEN`] bytes);
    /// returns its length (0: `dst` is of the other family).
    #[inline]
    pub fn write_marked(
        &self,
        out: &mut [u8],
        dst: IpAddr,
        sport: u16,
        dport: u16,
        seq: u32,
        mark: u32,
    ) -> usize {
        let Some(pseudo) = self.ip.write(out, dst, mark) else {
            return 0;
        };
        let t = self.ip.len();
        let seg = &mut out[t..t + TCP_LEN];
        seg.copy_from_slice(&self.tcp);
        seg[0..2].copy_from_slice(&sport.to_be_bytes());
        seg[2..4].copy_from_slice(&dport.to_be_bytes());
        seg[4..8].copy_from_slice(&seq.to_be_bytes());
        let c = finish(add32(pseudo + self.tcp_sum, seq) + sport as u32 + dport as u32);
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        t + TCP_LEN
    }
}

impl Template for ProbeTemplate {
    #[inline]
    fn write_variant(
        &self,
        out: &mut [u8],
        dst: IpAddr,
        sport: u16,
        dport: u16,
        cookie: u32,
        _variant: u32,
    ) -> usize {
        let mark = self.ip.mark(cookie, dport as u32);
        self.write_marked(out, dst, sport, dport, cookie, mark)
    }
}

#[cfg(test)]
mod tests;
