//! TCP SYN over IPv6: the IPv6 half of the `tcp-syn` module
//! ([`super::tcp_syn`] dispatches here on the IP version).
//!
//! The template is a prebuilt IPv6/TCP SYN (64 bytes: no extension headers,
//! the same TCP options as over IPv4) whose destination, ports and sequence
//! number are patched per probe, the TCP checksum finished from a partial
//! sum over the IPv6 pseudo-header (IPv6 has no header checksum). The
//! sequence number is the cookie over the 128-bit addresses
//! ([`CookieKey::cookie6`](crate::engine::cookie::CookieKey::cookie6)).
//!
//! Replies: a SYN-ACK (open) or RST-ACK (closed) acknowledging the cookie
//! plus one, or an ICMPv6 destination unreachable quoting one of our SYNs
//! with its cookie (filtered: counted, not a finding).

use super::{Classified, Identity, Proto, Reject, Template6};
use crate::finding::PortState;
use crate::wire::bpf::{self, Asm, Insn, JEQ_K, JGE_K, JGT_K, LD_B_ABS, LD_H_ABS, LD_W_ABS};
use crate::wire::checksum::{add32, finish, sum};
use crate::wire::ipv6::{self, ETHERTYPE_IPV6, NEXT_ICMPV6, NEXT_TCP};
use crate::wire::{icmpv6, tcp};
use std::net::{IpAddr, Ipv6Addr};

use super::tcp_syn::{TCP_OPTIONS, TTL, WINDOW};

const TCP_LEN: usize = tcp::HEADER_LEN + TCP_OPTIONS.len();
/// Length of every IPv6 probe (IPv6 header + TCP header with options).
pub const PROBE_LEN: usize = ipv6::HEADER_LEN + TCP_LEN;
const T: usize = ipv6::HEADER_LEN;
/// Most source addresses the capture filter names one by one (more: the
/// filter keeps any destination and the classifier checks it).
pub const FILTER_SOURCES: usize = 16;

/// An IPv6 SYN template for one source address.
#[derive(Debug, Clone)]
pub struct ProbeTemplate6 {
    packet: [u8; PROBE_LEN],
    tcp_sum: u32,
}

impl ProbeTemplate6 {
    pub fn new(src: Ipv6Addr) -> Self {
        let mut packet = [0u8; PROBE_LEN];
        ipv6::Packet::new_unchecked(&mut packet[..T]).emit(
            src,
            Ipv6Addr::UNSPECIFIED,
            TCP_LEN,
            NEXT_TCP,
            TTL,
        );
        tcp::Segment::new_unchecked(&mut packet[T..]).emit(
            0,
            0,
            0,
            0,
            tcp::SYN,
            WINDOW,
            &TCP_OPTIONS,
        );
        packet[T + 16..T + 18].fill(0);
        // Pseudo-header: src, (dst added per probe), length, next header.
        let tcp_sum =
            sum(&packet[T..]) + ipv6::addr_sum(u128::from(src)) + TCP_LEN as u32 + NEXT_TCP as u32;
        ProbeTemplate6 { packet, tcp_sum }
    }
}

impl Template6 for ProbeTemplate6 {
    #[inline]
    fn write6(&self, out: &mut [u8], dst: u128, sport: u16, dport: u16, cookie: u32) -> usize {
        let out = &mut out[..PROBE_LEN];
        out.copy_from_slice(&self.packet);
        out[24..40].copy_from_slice(&dst.to_be_bytes());
        out[T..T + 2].copy_from_slice(&sport.to_be_bytes());
        out[T + 2..T + 4].copy_from_slice(&dport.to_be_bytes());
        out[T + 4..T + 8].copy_from_slice(&cookie.to_be_bytes());
        let c =
            finish(add32(self.tcp_sum + ipv6::addr_sum(dst), cookie) + sport as u32 + dport as u32);
        out[T + 16..T + 18].copy_from_slice(&c.to_be_bytes());
        PROBE_LEN
    }
}

/// The capture filter for IPv6 replies: IPv6 at byte `l3` (behind an
/// ethertype 0x86dd when `l3` is 14), to one of `dst`, and either TCP to a
/// port in `dport` or an ICMPv6 destination unreachable.
pub fn filter6(l3: u32, dst: &[u128], dport: (u16, u16)) -> Vec<Insn> {
    filter6_for(l3, dst, dport, NEXT_TCP)
}

/// The IPv6 capture filter of a module whose replies are `next` (TCP or
/// UDP, no extension headers): to one of `dst` and either `next` to a port
/// in `dport`, or an ICMPv6 destination unreachable.
pub fn filter6_for(l3: u32, dst: &[u128], dport: (u16, u16), next: u8) -> Vec<Insn> {
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
        .jump(JEQ_K, next as u32, Next, Skip(3))
        .op(LD_H_ABS, l3 + 40 + 2) // TCP or UDP destination port in range
        .jump(JGE_K, dport.0 as u32, Next, Drop)
        .jump(JGT_K, dport.1 as u32, Drop, Keep)
        .jump(JEQ_K, NEXT_ICMPV6 as u32, Next, Drop)
        .op(LD_B_ABS, l3 + 40) // ICMPv6 type
        .jump(JEQ_K, icmpv6::DEST_UNREACHABLE as u32, Keep, Drop);
    a.finish()
}

/// Validate a captured IPv6 packet as the answer to one of our SYNs.
pub fn classify(packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
    let ip = ipv6::Packet::new_checked(packet).map_err(|_| Reject::Malformed)?;
    if ip.next_header() == NEXT_ICMPV6 {
        return classify_icmp(packet, us);
    }
    let r = ipv6::parse_tcp(packet).map_err(|_| Reject::Malformed)?;
    if !us.is_source6(r.dst) || !us.is_sport(r.dport) {
        return Err(Reject::NotForUs);
    }
    let (state, reason) = match r.flags & (tcp::SYN | tcp::ACK | tcp::RST) {
        f if f == tcp::SYN | tcp::ACK => (PortState::Open, "syn-ack"),
        f if f == tcp::RST | tcp::ACK => (PortState::Closed, "rst"),
        _ => return Err(Reject::Flags),
    };
    if !us.key.validates6(r.dst, r.src, r.dport, r.sport, r.ack) {
        return Err(Reject::BadCookie);
    }
    Ok(Classified {
        target: IpAddr::V6(r.src.into()),
        proto: Proto::Tcp,
        port: r.sport,
        state,
        reason,
        ttl: r.hop_limit,
        protocol: None,
        amplification: None,
    })
}

/// An ICMPv6 destination unreachable quoting one of our SYNs: the port is
/// filtered (any code: a TCP port has no "port unreachable" of its own).
fn classify_icmp(packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
    let u = icmpv6::parse_unreachable(packet).map_err(|_| Reject::Malformed)?;
    let q = u.quoted;
    if q.next_header != NEXT_TCP || q.src != u.to || !us.is_source6(q.src) || !us.is_sport(q.sport)
    {
        return Err(Reject::NotForUs);
    }
    if q.seq != Some(us.key.cookie6(q.src, q.dst, q.sport, q.dport)) {
        return Err(Reject::BadCookie);
    }
    Err(Reject::Filtered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cookie::CookieKey;
    use crate::wire::ipv6::tests::hex;

    const SYN: &str = include_str!("../wire/testdata/ipv6_syn.hex");
    const SYN_ACK: &str = include_str!("../wire/testdata/ipv6_syn_ack.hex");

    fn ip(s: &str) -> u128 {
        u128::from(s.parse::<Ipv6Addr>().unwrap())
    }

    fn identity(key: CookieKey) -> Identity {
        Identity {
            key,
            sources: vec![],
            sources6: vec![ip("2001:2:0:ff::1")],
            sport_base: 40000,
            sport_count: 16,
        }
    }

    #[test]
    fn template_writes_the_captured_syn_byte_for_byte() {
        let want = hex(SYN);
        let want = &want[14..];
        let t = ProbeTemplate6::new("2001:2:0:ff::1".parse().unwrap());
        let mut out = [0u8; PROBE_LEN];
        let n = t.write6(&mut out, ip("2001:2::4"), 40000, 22, 0x1234_5678);
        assert_eq!(n, 64);
        // The kernel sent our segment with its own flow label.
        let mut got = out;
        got[1..4].copy_from_slice(&want[1..4]);
        assert_eq!(&got[..], want, "the SYN the target's kernel answered");
    }

    #[test]
    fn incremental_checksum_matches_a_full_one() {
        let src: Ipv6Addr = "2001:2:0:ff::1".parse().unwrap();
        let t = ProbeTemplate6::new(src);
        let mut out = [0u8; PROBE_LEN];
        let mut x = 0x1234_5678_9abc_def0_u128;
        for _ in 0..2000 {
            x = x
                .wrapping_mul(0x2545_f491_4f6c_dd1d)
                .wrapping_add(0x9e37_79b9);
            let (dst, c) = (x, (x >> 64) as u32);
            t.write6(&mut out, dst, (x >> 7) as u16, (x >> 23) as u16, c);
            assert!(
                ipv6::Packet::new_checked(&out[..])
                    .unwrap()
                    .verify_upper_checksum()
            );
        }
    }

    #[test]
    fn classify_the_real_syn_ack() {
        // The captured SYN-ACK acknowledges 0x12345678 + 1, which is no
        // key's cookie: re-stamp its ack with our key's cookie plus one.
        let key = CookieKey { k0: 3, k1: 4 };
        let us = identity(key);
        let f = hex(SYN_ACK);
        let mut p = f[14..].to_vec();
        assert_eq!(classify(&p, &us), Err(Reject::BadCookie), "another key's");
        let ack = key
            .cookie6(ip("2001:2:0:ff::1"), ip("2001:2::4"), 40000, 22)
            .wrapping_add(1);
        p[T + 8..T + 12].copy_from_slice(&ack.to_be_bytes());
        let c = classify(&p, &us).unwrap();
        assert_eq!(
            c,
            Classified {
                target: "2001:2::4".parse().unwrap(),
                proto: Proto::Tcp,
                port: 22,
                state: PortState::Open,
                reason: "syn-ack",
                ttl: 64,
                protocol: None,
                amplification: None,
            }
        );
        assert_eq!(c.target.to_string(), "2001:2::4", "RFC 5952 text");
        // RST-ACK: closed.
        let mut r = p.clone();
        r[T + 13] = tcp::RST | tcp::ACK;
        assert_eq!(classify(&r, &us).unwrap().state, PortState::Closed);
        // Bare SYN, or another source port, or not to us.
        let mut s = p.clone();
        s[T + 13] = tcp::SYN;
        assert_eq!(classify(&s, &us), Err(Reject::Flags));
        let mut s = p.clone();
        s[T + 2..T + 4].copy_from_slice(&40001u16.to_be_bytes());
        assert_eq!(classify(&s, &us), Err(Reject::BadCookie));
        let mut s = p.clone();
        s[39] ^= 1;
        assert_eq!(classify(&s, &us), Err(Reject::NotForUs));
        assert_eq!(classify(&p[..50], &us), Err(Reject::Malformed));
        // The same reply through tcp_syn's entry point.
        assert_eq!(super::super::tcp_syn::classify(&p, &us), Ok(c));
    }

    #[test]
    fn unreachable_quoting_our_syn_is_filtered_and_forged_ones_are_not() {
        let key = CookieKey { k0: 9, k1: 9 };
        let us = identity(key);
        let mut syn = [0u8; PROBE_LEN];
        let cookie = key.cookie6(ip("2001:2:0:ff::1"), ip("2001:2::4"), 40003, 443);
        ProbeTemplate6::new("2001:2:0:ff::1".parse().unwrap()).write6(
            &mut syn,
            ip("2001:2::4"),
            40003,
            443,
            cookie,
        );
        let error = |quote: &[u8]| {
            let mut p = vec![0u8; 48 + quote.len()];
            let n = p.len() - 40;
            ipv6::Packet::new_unchecked(&mut p[..]).emit(
                "2001:2:0:ff::2".parse().unwrap(),
                "2001:2:0:ff::1".parse().unwrap(),
                n,
                NEXT_ICMPV6,
                64,
            );
            p[40] = icmpv6::DEST_UNREACHABLE;
            p[41] = icmpv6::code::ADMIN_PROHIBITED;
            p[48..].copy_from_slice(quote);
            p
        };
        assert_eq!(classify(&error(&syn), &us), Err(Reject::Filtered));
        let mut forged = syn;
        forged[T + 4] ^= 0x80;
        assert_eq!(classify(&error(&forged), &us), Err(Reject::BadCookie));
        let mut other = syn;
        other[T..T + 2].copy_from_slice(&9u16.to_be_bytes());
        assert_eq!(classify(&error(&other), &us), Err(Reject::NotForUs));
    }

    fn frame(l3: usize, dst: u128, next: u8, dport: u16, icmp_type: u8) -> Vec<u8> {
        let mut f = vec![0u8; l3 + 40 + 24];
        if l3 == 14 {
            f[12..14].copy_from_slice(&[0x86, 0xdd]);
        }
        f[l3] = 0x60;
        f[l3 + 6] = next;
        f[l3 + 24..l3 + 40].copy_from_slice(&dst.to_be_bytes());
        f[l3 + 42..l3 + 44].copy_from_slice(&dport.to_be_bytes());
        if next == NEXT_ICMPV6 {
            f[l3 + 40] = icmp_type;
        }
        f
    }

    #[test]
    fn filter_keeps_only_our_tcp_and_unreachables() {
        let us = ip("2001:2:0:ff::1");
        let other = ip("2001:2:0:ff::9");
        for l3 in [14usize, 0] {
            for ours in [vec![us], vec![other, us], vec![us, other, ip("2001:2::1")]] {
                let p = filter6(l3 as u32, &ours, (40000, 40015));
                let run = |f: &[u8]| bpf::run(&p, f);
                assert!(run(&frame(l3, us, 6, 40000, 0)) > 0, "{ours:x?}");
                assert!(run(&frame(l3, us, 6, 40015, 0)) > 0);
                assert_eq!(run(&frame(l3, us, 6, 39999, 0)), 0);
                assert_eq!(run(&frame(l3, us, 6, 40016, 0)), 0);
                assert_eq!(run(&frame(l3, us, 17, 40000, 0)), 0, "UDP");
                assert!(run(&frame(l3, us, 58, 0, 1)) > 0, "unreachable");
                assert_eq!(run(&frame(l3, us, 58, 0, 136)), 0, "advertisement");
                for bit in [0, 40, 64, 100, 127] {
                    assert_eq!(
                        run(&frame(l3, us ^ (1 << bit), 6, 40000, 0)),
                        0,
                        "not ours (bit {bit})"
                    );
                }
                let mut v4 = frame(l3, us, 6, 40000, 0);
                v4[l3] = 0x45;
                assert_eq!(run(&v4), 0, "IPv4");
                let f = frame(l3, us, 6, 40000, 0);
                assert_eq!(run(&f[..l3 + 41]), 0, "short");
            }
        }
        let p = filter6(14, &[us], (40000, 40015));
        let mut v4 = frame(14, us, 6, 40000, 0);
        v4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(bpf::run(&p, &v4), 0, "ethertype IPv4");
        // The real SYN-ACK passes a filter for its destination and ports.
        let f = hex(SYN_ACK);
        assert!(bpf::run(&p, &f) > 0);
        assert_eq!(bpf::run(&filter6(14, &[us], (40001, 40015)), &f), 0);
        // Many sources: the filter keeps any destination.
        let many: Vec<u128> = (0..20).map(|i| us + i).collect();
        let p = filter6(14, &many, (40000, 40015));
        assert!(bpf::run(&p, &frame(14, other + 100, 6, 40000, 0)) > 0);
    }
}
