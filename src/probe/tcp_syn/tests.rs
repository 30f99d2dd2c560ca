//! The TCP SYN module's tests, IPv4 then IPv6: literal bytes, checksums,
//! filters and classification of captured and built replies.

use super::*;
use crate::engine::cookie::CookieKey;
use crate::probe::CaptureFilter;
use crate::wire::checksum::checksum;
use crate::wire::ipv6::tests::hex;
use crate::wire::ipv6::{self, NEXT_ICMPV6};
use crate::wire::{bpf, icmp, icmpv6, ipv4};
use std::net::{Ipv4Addr, Ipv6Addr};

/// IPv6 header length: where TCP starts in an IPv6 packet.
const T6: usize = 40;

fn v4_ours(low: u32, high: u32) -> CaptureFilter<'static> {
    CaptureFilter::V4 { low, high }
}

fn a6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse().unwrap())
}

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
fn literal_probe_bytes_ipv4() {
    let t = ProbeTemplate::new(Ipv4Addr::new(198, 18, 0, 1));
    let mut out = [0u8; PROBE_LEN];
    let dst = IpAddr::V4(Ipv4Addr::new(198, 19, 0, 4));
    let n = t.write_marked(&mut out, dst, 40000, 22, 0xdeadbeef, 0x1234);
    assert_eq!(n, 44);
    // Checksums computed independently with a short Python RFC 1071 sum.
    #[rustfmt::skip]
    let want: [u8; 44] = [
        0x45, 0x00, 0x00, 0x2c, 0x12, 0x34, 0x00, 0x00, 0x40, 0x06, 0xdc, 0x6d, 198, 18, 0, 1, 198, 19, 0, 4,
        0x9c, 0x40, 0x00, 0x16, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0x60, 0x02, 0xfa, 0xf0, 0xd7, 0x16, 0x00, 0x00,
        0x02, 0x04, 0x05, 0xb4,
    ];
    assert_eq!(out[..n], want);
    assert_eq!(checksum(&out[..20]), 0, "IP header checksum");
    assert!(tcp_checksum_ok(&out[..n]), "TCP checksum");
    // Through the module: the IP id is the cookie's top half XOR the port.
    let n = t.write(&mut out, dst, 40000, 22, 0xdeadbeef);
    assert_eq!(out[4..6], (0xdead_u16 ^ 22).to_be_bytes());
    assert!(tcp_checksum_ok(&out[..n]));
    // A destination of the other family: nothing written.
    assert_eq!(
        t.write(&mut out, IpAddr::V6(Ipv6Addr::LOCALHOST), 1, 2, 3),
        0
    );
}

#[test]
fn incremental_checksums_match_full_ones() {
    let t = ProbeTemplate::new(Ipv4Addr::LOCALHOST);
    let mut out = [0u8; PROBE_LEN];
    let mut x = 0x1234_5678u32;
    for _ in 0..2000 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let n = t.write_marked(
            &mut out,
            IpAddr::V4(x.into()),
            (x >> 7) as u16,
            (x >> 3) as u16 | 1,
            x.rotate_left(13),
            x >> 16,
        );
        assert_eq!(n, 44);
        assert_eq!(checksum(&out[..20]), 0);
        assert!(tcp_checksum_ok(&out[..n]));
    }
}

fn frame(l3: usize, dst: [u8; 4], proto: u8, frag: u16, ihl: u8, dport: u16) -> Vec<u8> {
    let mut f = vec![0u8; l3 + ihl as usize * 4 + 20];
    if l3 == 14 {
        f[12..14].copy_from_slice(&[0x08, 0x00]);
    }
    f[l3] = 0x40 | ihl;
    f[l3 + 6..l3 + 8].copy_from_slice(&frag.to_be_bytes());
    f[l3 + 9] = proto;
    f[l3 + 16..l3 + 20].copy_from_slice(&dst);
    let t = l3 + ihl as usize * 4;
    f[t + 2..t + 4].copy_from_slice(&dport.to_be_bytes());
    f
}

#[test]
fn ipv4_filter_keeps_only_our_tcp_and_unreachables() {
    let us = [198, 18, 0, 1];
    let ip = u32::from_be_bytes(us);
    for l3 in [14usize, 0] {
        let p = TcpSyn.filter(l3 as u32, v4_ours(ip, ip + 2), (61000, 61015));
        let run = |f: &[u8]| bpf::run(&p, f);
        assert!(run(&frame(l3, us, 6, 0, 5, 61000)) > 0);
        assert!(
            run(&frame(l3, [198, 18, 0, 3], 6, 0, 5, 61000)) > 0,
            "another source of ours"
        );
        assert!(run(&frame(l3, us, 6, 0x4000, 5, 61015)) > 0, "DF is fine");
        assert!(
            run(&frame(l3, us, 6, 0, 6, 61007)) > 0,
            "IP options shift the TCP header"
        );
        assert_eq!(run(&frame(l3, us, 6, 0, 5, 60999)), 0);
        assert_eq!(run(&frame(l3, us, 6, 0, 5, 61016)), 0);
        assert_eq!(run(&frame(l3, us, 17, 0, 5, 61000)), 0, "UDP");
        assert_eq!(
            run(&frame(l3, [198, 18, 0, 0], 6, 0, 5, 61000)),
            0,
            "below our addresses"
        );
        assert_eq!(
            run(&frame(l3, [198, 18, 0, 4], 6, 0, 5, 61000)),
            0,
            "above our addresses"
        );
        assert_eq!(
            run(&frame(l3, us, 6, 0x2000, 5, 61000)),
            0,
            "more fragments"
        );
        assert_eq!(
            run(&frame(l3, us, 6, 0x0010, 5, 61000)),
            0,
            "fragment offset"
        );
        let mut v6 = frame(l3, us, 6, 0, 5, 61000);
        v6[l3] = 0x65;
        assert_eq!(run(&v6), 0, "not IPv4");
        let short = frame(l3, us, 6, 0, 5, 61000);
        assert_eq!(run(&short[..l3 + 20]), 0, "short frame");
    }
    let p = TcpSyn.filter(14, v4_ours(ip, ip), (61000, 61015));
    let mut arp = frame(14, us, 6, 0, 5, 61000);
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(bpf::run(&p, &arp), 0);
}

const US: u32 = 0xc612_0001; // 198.18.0.1
const HOST: u32 = 0xc613_0004; // 198.19.0.4

fn identity4() -> Identity {
    Identity::one_source(
        CookieKey { k0: 11, k1: 22 },
        Ipv4Addr::from(US).into(),
        61000,
        4,
    )
}

/// An IPv4/TCP reply from `src:sport` to `dst:dport`.
fn reply_packet(src: u32, dst: u32, sport: u16, dport: u16, ack: u32, flags: u8) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&40u16.to_be_bytes());
    p[8] = 63;
    p[9] = 6;
    p[12..16].copy_from_slice(&src.to_be_bytes());
    p[16..20].copy_from_slice(&dst.to_be_bytes());
    let c = checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p[20..22].copy_from_slice(&sport.to_be_bytes());
    p[22..24].copy_from_slice(&dport.to_be_bytes());
    p[24..28].copy_from_slice(&777u32.to_be_bytes());
    p[28..32].copy_from_slice(&ack.to_be_bytes());
    p[32] = 0x50;
    p[33] = flags;
    p
}

#[test]
fn ipv4_classify_validates_the_cookie_and_flags() {
    let us = identity4();
    let ack = us.key.cookie(US, HOST, 61001, 22).wrapping_add(1);
    let c = classify(
        &reply_packet(HOST, US, 22, 61001, ack, tcp::SYN | tcp::ACK),
        &us,
    )
    .unwrap();
    assert_eq!(
        c,
        Classified {
            target: IpAddr::V4(HOST.into()),
            proto: Proto::Tcp,
            port: 22,
            state: PortState::Open,
            reason: "syn-ack",
            ttl: 63,
            protocol: None,
            amplification: None,
        }
    );
    let c = classify(
        &reply_packet(HOST, US, 22, 61001, ack, tcp::RST | tcp::ACK),
        &us,
    )
    .unwrap();
    assert_eq!((c.state, c.reason), (PortState::Closed, "rst"));
    let bad = |p: Vec<u8>| classify(&p, &us).unwrap_err();
    assert_eq!(
        bad(reply_packet(
            HOST,
            US,
            22,
            61001,
            ack ^ 1,
            tcp::SYN | tcp::ACK
        )),
        Reject::BadCookie
    );
    assert_eq!(
        bad(reply_packet(HOST, US, 22, 61002, ack, tcp::SYN | tcp::ACK)),
        Reject::BadCookie,
        "other source port"
    );
    assert_eq!(
        bad(reply_packet(HOST, US, 22, 61004, ack, tcp::SYN | tcp::ACK)),
        Reject::NotForUs,
        "outside our ports"
    );
    assert_eq!(
        bad(reply_packet(
            HOST,
            US + 1,
            22,
            61001,
            ack,
            tcp::SYN | tcp::ACK
        )),
        Reject::NotForUs
    );
    assert_eq!(
        bad(reply_packet(HOST, US, 22, 61001, ack, tcp::SYN)),
        Reject::Flags
    );
    assert_eq!(
        bad(reply_packet(HOST, US, 22, 61001, ack, tcp::ACK)),
        Reject::Flags
    );
    assert_eq!(bad(vec![0x45; 10]), Reject::Malformed);
}

/// An ICMP destination unreachable with `code` from `from` to us, quoting
/// the first 28 bytes of `probe`.
fn icmp_error4(from: u32, code: u8, probe: &[u8]) -> Vec<u8> {
    icmp::build_unreachable(from.into(), US.into(), code, &probe[..28])
}

#[test]
fn ipv4_unreachable_quoting_our_syn_is_filtered_and_forged_ones_are_not() {
    let us = identity4();
    let cookie = us.key.cookie(US, HOST, 61002, 443);
    let mut syn = [0u8; PROBE_LEN];
    let n = ProbeTemplate::new(Ipv4Addr::from(US)).write(
        &mut syn,
        IpAddr::V4(HOST.into()),
        61002,
        443,
        cookie,
    );
    assert_eq!(n, 44);
    // Any code, from the host or a router on the way: filtered.
    for (from, code) in [
        (HOST, icmp::code::ADMIN_PROHIBITED),
        (HOST, icmp::code::PORT),
        (0xc612_00fe, icmp::code::HOST),
    ] {
        assert_eq!(
            classify(&icmp_error4(from, code, &syn), &us),
            Err(Reject::Filtered),
            "code {code}"
        );
    }
    let mut forged = syn;
    forged[24] ^= 0x80; // the quoted sequence number
    assert_eq!(
        classify(&icmp_error4(HOST, 13, &forged), &us),
        Err(Reject::BadCookie)
    );
    let mut other = syn;
    other[20..22].copy_from_slice(&9u16.to_be_bytes()); // not our source port
    assert_eq!(
        classify(&icmp_error4(HOST, 13, &other), &us),
        Err(Reject::NotForUs)
    );
    let mut udp = syn;
    udp[9] = 17; // a UDP probe's quote: the UDP module's
    assert_eq!(
        classify(&icmp_error4(HOST, 13, &udp), &us),
        Err(Reject::NotForUs)
    );
}

const SYN: &str = include_str!("../../wire/testdata/ipv6_syn.hex");
const SYN_ACK: &str = include_str!("../../wire/testdata/ipv6_syn_ack.hex");

fn ip(s: &str) -> u128 {
    u128::from(s.parse::<Ipv6Addr>().unwrap())
}

fn identity6(key: CookieKey) -> Identity {
    Identity::one_source(key, Ipv6Addr::from(ip("2001:2:0:ff::1")).into(), 40000, 16)
}

#[test]
fn ipv6_template_writes_the_captured_syn_byte_for_byte() {
    let want = hex(SYN);
    let want = &want[14..];
    let t = ProbeTemplate::new("2001:2:0:ff::1".parse::<Ipv6Addr>().unwrap());
    let mut out = [0u8; PROBE_LEN];
    let n = t.write_marked(&mut out, a6("2001:2::4"), 40000, 22, 0x1234_5678, 0x1_f168);
    assert_eq!(n, 64);
    // The kernel sent our segment with its own flow label, 0x1f168.
    assert_eq!(&out[..], want, "the SYN the target's kernel answered");
    // Through the module: the flow label is the cookie's top 20 bits XOR
    // the port.
    t.write(&mut out, a6("2001:2::4"), 40000, 22, 0x1234_5678);
    assert_eq!(out[1..4], [0x01, 0x23, 0x45 ^ 22]);
    assert!(
        ipv6::Packet::new_checked(&out[..])
            .unwrap()
            .verify_upper_checksum()
    );
    // A destination of the other family: nothing written.
    assert_eq!(
        t.write(&mut out, IpAddr::V4(Ipv4Addr::LOCALHOST), 1, 2, 3),
        0
    );
}

#[test]
fn ipv6_incremental_checksum_matches_a_full_one() {
    let src: Ipv6Addr = "2001:2:0:ff::1".parse().unwrap();
    let t = ProbeTemplate::new(src);
    let mut out = [0u8; PROBE_LEN];
    let mut x = 0x1234_5678_9abc_def0_u128;
    for _ in 0..2000 {
        x = x
            .wrapping_mul(0x2545_f491_4f6c_dd1d)
            .wrapping_add(0x9e37_79b9);
        let (dst, c) = (x, (x >> 64) as u32);
        let n = t.write(
            &mut out,
            IpAddr::V6(dst.into()),
            (x >> 7) as u16,
            (x >> 23) as u16,
            c,
        );
        assert_eq!(n, 64);
        assert!(
            ipv6::Packet::new_checked(&out[..])
                .unwrap()
                .verify_upper_checksum()
        );
    }
}

#[test]
fn ipv6_classify_the_real_syn_ack() {
    // The captured SYN-ACK acknowledges 0x12345678 + 1, which is no
    // key's cookie: re-stamp its ack with our key's cookie plus one.
    let key = CookieKey { k0: 3, k1: 4 };
    let us = identity6(key);
    let f = hex(SYN_ACK);
    let mut p = f[14..].to_vec();
    assert_eq!(classify(&p, &us), Err(Reject::BadCookie), "another key's");
    let ack = key
        .cookie(ip("2001:2:0:ff::1"), ip("2001:2::4"), 40000, 22)
        .wrapping_add(1);
    p[T6 + 8..T6 + 12].copy_from_slice(&ack.to_be_bytes());
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
    r[T6 + 13] = tcp::RST | tcp::ACK;
    assert_eq!(classify(&r, &us).unwrap().state, PortState::Closed);
    // Bare SYN, or another source port, or not to us.
    let mut s = p.clone();
    s[T6 + 13] = tcp::SYN;
    assert_eq!(classify(&s, &us), Err(Reject::Flags));
    let mut s = p.clone();
    s[T6 + 2..T6 + 4].copy_from_slice(&40001u16.to_be_bytes());
    assert_eq!(classify(&s, &us), Err(Reject::BadCookie));
    let mut s = p.clone();
    s[39] ^= 1;
    assert_eq!(classify(&s, &us), Err(Reject::NotForUs));
    assert_eq!(classify(&p[..50], &us), Err(Reject::Malformed));
}

#[test]
fn ipv6_unreachable_quoting_our_syn_is_filtered_and_forged_ones_are_not() {
    let key = CookieKey { k0: 9, k1: 9 };
    let us = identity6(key);
    let mut syn = [0u8; 64];
    let cookie = key.cookie(ip("2001:2:0:ff::1"), ip("2001:2::4"), 40003, 443);
    let n = ProbeTemplate::new("2001:2:0:ff::1".parse::<Ipv6Addr>().unwrap()).write(
        &mut syn,
        a6("2001:2::4"),
        40003,
        443,
        cookie,
    );
    assert_eq!(n, 64);
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
    forged[T6 + 4] ^= 0x80;
    assert_eq!(classify(&error(&forged), &us), Err(Reject::BadCookie));
    let mut other = syn;
    other[T6..T6 + 2].copy_from_slice(&9u16.to_be_bytes());
    assert_eq!(classify(&error(&other), &us), Err(Reject::NotForUs));
}

fn frame6(l3: usize, dst: u128, next: u8, dport: u16, icmp_type: u8) -> Vec<u8> {
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
fn ipv6_filter_keeps_only_our_tcp_and_unreachables() {
    let us = ip("2001:2:0:ff::1");
    let other = ip("2001:2:0:ff::9");
    for l3 in [14usize, 0] {
        for ours in [vec![us], vec![other, us], vec![us, other, ip("2001:2::1")]] {
            let p = TcpSyn.filter(l3 as u32, CaptureFilter::V6(&ours), (40000, 40015));
            let run = |f: &[u8]| bpf::run(&p, f);
            assert!(run(&frame6(l3, us, 6, 40000, 0)) > 0, "{ours:x?}");
            assert!(run(&frame6(l3, us, 6, 40015, 0)) > 0);
            assert_eq!(run(&frame6(l3, us, 6, 39999, 0)), 0);
            assert_eq!(run(&frame6(l3, us, 6, 40016, 0)), 0);
            assert_eq!(run(&frame6(l3, us, 17, 40000, 0)), 0, "UDP");
            assert!(run(&frame6(l3, us, 58, 0, 1)) > 0, "unreachable");
            assert_eq!(run(&frame6(l3, us, 58, 0, 136)), 0, "advertisement");
            for bit in [0, 40, 64, 100, 127] {
                assert_eq!(
                    run(&frame6(l3, us ^ (1 << bit), 6, 40000, 0)),
                    0,
                    "not ours (bit {bit})"
                );
            }
            let mut v4 = frame6(l3, us, 6, 40000, 0);
            v4[l3] = 0x45;
            assert_eq!(run(&v4), 0, "IPv4");
            let f = frame6(l3, us, 6, 40000, 0);
            assert_eq!(run(&f[..l3 + 41]), 0, "short");
        }
    }
    let p = TcpSyn.filter(14, CaptureFilter::V6(&[us]), (40000, 40015));
    let mut v4 = frame6(14, us, 6, 40000, 0);
    v4[12..14].copy_from_slice(&[0x08, 0x00]);
    assert_eq!(bpf::run(&p, &v4), 0, "ethertype IPv4");
    // The real SYN-ACK passes a filter for its destination and ports.
    let f = hex(SYN_ACK);
    assert!(bpf::run(&p, &f) > 0);
    assert_eq!(
        bpf::run(
            &TcpSyn.filter(14, CaptureFilter::V6(&[us]), (40001, 40015)),
            &f
        ),
        0
    );
    // Many sources: the filter keeps any destination.
    let many: Vec<u128> = (0..20).map(|i| us + i).collect();
    let p = TcpSyn.filter(14, CaptureFilter::V6(&many), (40000, 40015));
    assert!(bpf::run(&p, &frame6(14, other + 100, 6, 40000, 0)) > 0);
}
