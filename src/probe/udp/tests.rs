use super::*;
use crate::engine::cookie::CookieKey;
use crate::net::sys::TX_SLOT;
use crate::probe::CaptureFilter;
use crate::wire::checksum::checksum;
use crate::wire::ethernet;
use crate::wire::ipv6::tests::hex;
use crate::wire::ipv6::{self, NEXT_ICMPV6, NEXT_UDP};
use crate::wire::{bpf, icmp, icmpv6, ipv4};
use std::net::{Ipv4Addr, Ipv6Addr};

const US: u32 = 0xc612_0001; // 198.18.0.1
const HOST: u32 = 0xc613_0004; // 198.19.0.4

fn identity() -> Identity {
    Identity::one_source(
        CookieKey { k0: 5, k1: 7 },
        Ipv4Addr::from(US).into(),
        61000,
        16,
    )
}

/// A UDP verdict: the target, port, state and reason.
fn verdict(c: &Classified) -> (IpAddr, u16, PortState, &'static str) {
    assert_eq!(c.proto, Proto::Udp);
    (c.target, c.port, c.state, c.reason)
}

fn probe(dport: u16, variant: u32) -> Vec<u8> {
    let us = identity();
    let cookie = us.key.cookie(US, HOST, 61003, dport);
    let mut out = vec![0u8; TX_SLOT - ethernet::HEADER_LEN];
    let n = UdpTemplate::new(Ipv4Addr::from(US)).write_variant(
        &mut out,
        IpAddr::V4(HOST.into()),
        61003,
        dport,
        cookie,
        variant,
    );
    out.truncate(n);
    out
}

/// The probe turned around: from HOST:sport to US:61003 with `payload`.
fn reply(sport: u16, payload: &[u8]) -> Vec<u8> {
    let udp_len = udp::HEADER_LEN + payload.len();
    let mut p = vec![0u8; ipv4::HEADER_LEN + udp_len];
    ipv4::Packet::new_unchecked(&mut p[..20]).emit(
        Ipv4Addr::from(HOST),
        Ipv4Addr::from(US),
        udp_len,
        1,
        63,
        udp::PROTO_UDP,
    );
    p[20..22].copy_from_slice(&sport.to_be_bytes());
    p[22..24].copy_from_slice(&61003u16.to_be_bytes());
    p[24..26].copy_from_slice(&(udp_len as u16).to_be_bytes());
    p[28..].copy_from_slice(payload);
    p
}

/// An ICMP unreachable with `code` from `from`, quoting `quoted`.
fn unreachable(from: u32, code: u8, quoted: &[u8]) -> Vec<u8> {
    icmp::build_unreachable(from.into(), US.into(), code, quoted)
}

#[test]
fn every_payload_fits_a_transmit_slot_behind_ethernet() {
    assert!(
        Udp.max_len() + ethernet::HEADER_LEN <= TX_SLOT,
        "{}",
        Udp.max_len()
    );
}

#[test]
fn probes_carry_the_port_payloads_and_the_cookie() {
    let us = identity();
    let cookie = us.key.cookie(US, HOST, 61003, 53);
    assert_eq!(
        Udp.variants(53),
        2,
        "DNS: version.bind and a recursive query"
    );
    assert_eq!(Udp.variants(12345), 1);
    for v in 0..2 {
        let p = probe(53, v);
        assert_eq!(checksum(&p[..20]), 0, "IP header checksum");
        let r = udp::parse_ipv4(&p).unwrap();
        assert_eq!((r.src, r.dst, r.sport, r.dport), (US, HOST, 61003, 53));
        let want = udp_payloads::services_for_port(53)[v as usize].payload(cookie);
        assert_eq!(r.payload, &want[..]);
        let d = udp::Datagram::new_checked(&p[20..]).unwrap();
        assert!(d.verify_checksum(Ipv4Addr::from(US), Ipv4Addr::from(HOST)));
        assert_eq!(
            u16::from_be_bytes([p[4], p[5]]),
            (cookie >> 16) as u16 ^ v as u16
        );
    }
    assert_ne!(probe(53, 0), probe(53, 1));
    // An unknown port gets the empty datagram.
    assert_eq!(probe(12345, 0).len(), 28);
}

#[test]
fn a_dns_answer_echoing_the_id_is_open_and_named() {
    let us = identity();
    // The server's answer to our query: the query with QR set (the
    // question repeated, the ID echoed).
    let mut answer = probe(53, 1)[28..].to_vec();
    answer[2] |= 0x80;
    let c = classify(&reply(53, &answer), &us).unwrap();
    let host = IpAddr::V4(HOST.into());
    assert_eq!(verdict(&c), (host, 53, PortState::Open, REASON_OPEN));
    assert_eq!(c.protocol, Some("dns"));
    assert_eq!(c.amplification, Some(1.0));
    // A wrong ID: someone else's (or a forged) answer.
    let mut forged = answer.clone();
    forged[0] ^= 0x40;
    assert_eq!(classify(&reply(53, &forged), &us), Err(Reject::BadCookie));
    // To a port that is not ours.
    let mut p = reply(53, &answer);
    p[22..24].copy_from_slice(&60000u16.to_be_bytes());
    assert_eq!(classify(&p, &us), Err(Reject::NotForUs));
    // The same answer from another port is not DNS's.
    assert!(classify(&reply(54, &answer), &us).is_ok_and(|c| c.port == 54 && c.protocol.is_none()));
}

#[test]
fn port_unreachable_from_the_target_quoting_our_probe_is_closed() {
    let us = identity();
    let p = probe(161, 1);
    let c = classify(&unreachable(HOST, icmp::code::PORT, &p), &us).unwrap();
    let host = IpAddr::V4(HOST.into());
    assert_eq!(verdict(&c), (host, 161, PortState::Closed, REASON_CLOSED));
    // Another code, or a port unreachable from someone else: filtered.
    assert_eq!(
        classify(&unreachable(HOST, icmp::code::ADMIN_PROHIBITED, &p), &us),
        Err(Reject::Filtered)
    );
    assert_eq!(
        classify(&unreachable(HOST + 1, icmp::code::PORT, &p), &us),
        Err(Reject::Filtered)
    );
    // A quote whose IP id does not match the cookie: forged.
    let mut q = p.clone();
    q[5] ^= 0x10;
    assert_eq!(
        classify(&unreachable(HOST, icmp::code::PORT, &q), &us),
        Err(Reject::BadCookie)
    );
    // A quote of a probe from a port that is not ours.
    let mut q = p.clone();
    q[20..22].copy_from_slice(&40000u16.to_be_bytes());
    assert_eq!(
        classify(&unreachable(HOST, icmp::code::PORT, &q), &us),
        Err(Reject::NotForUs)
    );
}

#[test]
fn the_filter_keeps_udp_to_our_ports_and_icmp_unreachables() {
    let f = Udp.filter(0, CaptureFilter::V4 { low: US, high: US }, (61000, 61015));
    let mut answer = probe(53, 1)[28..].to_vec();
    answer[2] |= 0x80;
    assert_ne!(bpf::run(&f, &reply(53, &answer)), 0);
    let mut other = reply(53, &answer);
    other[22..24].copy_from_slice(&60000u16.to_be_bytes());
    assert_eq!(bpf::run(&f, &other), 0, "not our port");
    assert_ne!(bpf::run(&f, &unreachable(HOST, 3, &probe(161, 0))), 0);
    let mut echo = unreachable(HOST, 3, &probe(161, 0));
    echo[20] = 0; // echo reply
    assert_eq!(bpf::run(&f, &echo), 0, "ICMP other than unreachable");
    let mut tcp = reply(53, &answer);
    tcp[9] = 6;
    assert_eq!(bpf::run(&f, &tcp), 0, "TCP");
    // Behind Ethernet.
    let fe = Udp.filter(14, CaptureFilter::V4 { low: US, high: US }, (61000, 61015));
    let mut frame = vec![0u8; 12];
    frame.extend_from_slice(&[0x08, 0x00]);
    frame.extend_from_slice(&reply(53, &answer));
    assert_ne!(bpf::run(&fe, &frame), 0);
}

// IPv6: the same module, the same code.

const PORT_UNREACH: &str = include_str!("../../wire/testdata/ipv6_port_unreach.hex");

fn ip(s: &str) -> u128 {
    u128::from(s.parse::<Ipv6Addr>().unwrap())
}

fn us6() -> Identity {
    let us = Ipv6Addr::from(ip("2001:2:0:ff::1"));
    Identity::one_source(CookieKey { k0: 5, k1: 7 }, us.into(), 40000, 16)
}

fn probe6(dst: u128, dport: u16, variant: u32) -> Vec<u8> {
    let key = us6().key;
    let cookie = key.cookie(ip("2001:2:0:ff::1"), dst, 40001, dport);
    let mut out = vec![0u8; 1500];
    let n = UdpTemplate::new("2001:2:0:ff::1".parse::<Ipv6Addr>().unwrap()).write_variant(
        &mut out,
        IpAddr::V6(dst.into()),
        40001,
        dport,
        cookie,
        variant,
    );
    out.truncate(n);
    out
}

/// The captured port unreachable, its quote replaced by `quote`, sent
/// from `from`.
fn unreachable6(from: u128, code: u8, quote: &[u8]) -> Vec<u8> {
    let f = hex(PORT_UNREACH);
    let mut p = f[14..14 + 48].to_vec();
    p.extend_from_slice(quote);
    let n = (p.len() - 40) as u16;
    p[4..6].copy_from_slice(&n.to_be_bytes());
    p[8..24].copy_from_slice(&from.to_be_bytes());
    p[41] = code;
    p[42..44].fill(0);
    let c = ipv6::upper_checksum(
        Ipv6Addr::from(from),
        "2001:2:0:ff::1".parse().unwrap(),
        NEXT_ICMPV6,
        &p[40..],
    );
    p[42..44].copy_from_slice(&c.to_be_bytes());
    p
}

#[test]
fn ipv6_probes_carry_the_cookie_and_a_valid_checksum() {
    let host = ip("2001:2::4");
    for (port, variant) in [(53, 0), (53, 1), (161, 0), (40123, 0)] {
        let p = probe6(host, port, variant);
        let v = ipv6::Packet::new_checked(&p[..]).unwrap();
        assert!(v.verify_upper_checksum(), "{port}/{variant}");
        assert_eq!(v.next_header(), NEXT_UDP);
        let cookie = us6().key.cookie(ip("2001:2:0:ff::1"), host, 40001, port);
        let label = u32::from_be_bytes([0, p[1] & 0x0f, p[2], p[3]]);
        assert_eq!(label, ((cookie >> 12) ^ variant) & 0x000f_ffff);
    }
    assert_eq!(probe6(host, 40123, 0).len(), 48, "generic: empty datagram");
}

#[test]
fn ipv6_port_unreachable_from_the_target_quoting_our_probe_is_closed() {
    let host = ip("2001:2:0:ff::2");
    let p = probe6(host, 9, 0);
    let c = classify(&unreachable6(host, icmpv6::code::PORT, &p), &us6()).unwrap();
    let from = IpAddr::V6(host.into());
    assert_eq!(verdict(&c), (from, 9, PortState::Closed, REASON_CLOSED));
    // From someone else (a router, or the lab's AnyIP target whose
    // errors leave from its link address), or another code: filtered.
    let p4 = probe6(ip("2001:2::4"), 9, 0);
    assert_eq!(
        classify(&unreachable6(host, icmpv6::code::PORT, &p4), &us6()),
        Err(Reject::Filtered)
    );
    assert_eq!(
        classify(
            &unreachable6(host, icmpv6::code::ADMIN_PROHIBITED, &p),
            &us6()
        ),
        Err(Reject::Filtered)
    );
    // A quote whose flow label is not our cookie's: forged.
    let mut forged = p.clone();
    forged[3] ^= 0x55;
    assert_eq!(
        classify(&unreachable6(host, icmpv6::code::PORT, &forged), &us6()),
        Err(Reject::BadCookie)
    );
    // The real capture quotes someone else's datagram (the kernel's
    // flow label, port 40001 but another key): not ours to believe.
    let f = hex(PORT_UNREACH);
    assert!(classify(&f[14..], &us6()).is_err());
}

#[test]
fn ipv6_reply_to_a_generic_probe_is_open() {
    let host = ip("2001:2:0:ff::2");
    // The probe turned around, with a payload.
    let p = probe6(host, 40123, 0);
    let mut r = p.clone();
    r[8..24].copy_from_slice(&p[24..40]);
    r[24..40].copy_from_slice(&p[8..24]);
    r[40..42].copy_from_slice(&40123u16.to_be_bytes());
    r[42..44].copy_from_slice(&40001u16.to_be_bytes());
    r.extend_from_slice(b"hi");
    let n = (r.len() - 40) as u16;
    r[4..6].copy_from_slice(&n.to_be_bytes());
    r[44..46].copy_from_slice(&n.to_be_bytes());
    let c = classify(&r, &us6()).unwrap();
    assert_eq!(
        (c.target, c.port, c.state),
        (IpAddr::V6(host.into()), 40123, PortState::Open)
    );
    let mut other = r.clone();
    other[39] ^= 1; // not to us
    assert_eq!(classify(&other, &us6()), Err(Reject::NotForUs));
    assert_eq!(classify(&r[..45], &us6()), Err(Reject::Malformed));
}

/// Both families' probe for an unknown port (the empty datagram) with
/// cookie 0xdeadbeef, byte for byte; checksums computed independently with
/// a short Python RFC 1071 sum.
#[test]
fn literal_probe_bytes_of_both_families() {
    let write = |src: IpAddr, dst: IpAddr| {
        let mut out = vec![0u8; 1500];
        let n = UdpTemplate::new(src).write_variant(&mut out, dst, 61003, 40123, 0xdead_beef, 0);
        out.truncate(n);
        out
    };
    #[rustfmt::skip]
    let v4: [u8; 28] = [
        0x45, 0x00, 0x00, 0x1c, 0xde, 0xad, 0x00, 0x00, 0x40, 0x11, 0x0f, 0xf9, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x13, 0x00, 0x04,
        0xee, 0x4b, 0x9c, 0xbb, 0x00, 0x08, 0xe8, 0xab,
    ];
    let (s4, d4) = (IpAddr::V4(US.into()), IpAddr::V4(HOST.into()));
    assert_eq!(write(s4, d4), v4);
    #[rustfmt::skip]
    let v6: [u8; 48] = [
        0x60, 0x0d, 0xea, 0xdb, 0x00, 0x08, 0x11, 0x40,
        0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,
        0xee, 0x4b, 0x9c, 0xbb, 0x00, 0x08, 0x33, 0xcd,
    ];
    let (s6, d6) = (
        IpAddr::V6("2001:2:0:ff::1".parse().unwrap()),
        IpAddr::V6("2001:2::4".parse().unwrap()),
    );
    assert_eq!(write(s6, d6), v6);
    // A destination of the other family: nothing written.
    assert!(write(s4, d6).is_empty());
    assert!(write(s6, d4).is_empty());
}
