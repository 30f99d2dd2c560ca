use super::*;
use crate::engine::cookie::CookieKey;
use crate::net::sys::TX_SLOT;
use crate::wire::checksum::checksum;
use crate::wire::ethernet;

const US: u32 = 0xc612_0001; // 198.18.0.1
const HOST: u32 = 0xc613_0004; // 198.19.0.4

fn identity() -> Identity {
    Identity {
        key: CookieKey { k0: 5, k1: 7 },
        sources: vec![US],
        sources6: vec![],
        sport_base: 61000,
        sport_count: 16,
    }
}

fn probe(dport: u16, variant: u32) -> Vec<u8> {
    let us = identity();
    let cookie = us.key.cookie(US, HOST, 61003, dport);
    let mut out = vec![0u8; TX_SLOT - ethernet::HEADER_LEN];
    let n = UdpTemplate::new(Ipv4Addr::from(US))
        .write_variant(&mut out, HOST, 61003, dport, cookie, variant);
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
    let q = &quoted[..quoted.len().min(548)];
    let mut p = vec![0u8; 28 + q.len()];
    ipv4::Packet::new_unchecked(&mut p[..20]).emit(
        Ipv4Addr::from(from),
        Ipv4Addr::from(US),
        8 + q.len(),
        2,
        64,
        icmp::PROTO_ICMP,
    );
    p[20] = icmp::DEST_UNREACHABLE;
    p[21] = code;
    p[28..].copy_from_slice(q);
    let c = checksum(&p[20..]);
    p[22..24].copy_from_slice(&c.to_be_bytes());
    p
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
        assert_eq!(u16::from_be_bytes([p[4], p[5]]), ident(cookie, v));
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
    assert_eq!(
        (c.target, c.proto, c.port, c.state, c.reason),
        (
            IpAddr::V4(HOST.into()),
            Proto::Udp,
            53,
            PortState::Open,
            REASON_OPEN
        )
    );
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
    assert_eq!(
        (c.target, c.proto, c.port, c.state, c.reason),
        (
            IpAddr::V4(HOST.into()),
            Proto::Udp,
            161,
            PortState::Closed,
            REASON_CLOSED
        )
    );
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
    let f = filter(0, (US, US), (61000, 61015));
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
    let fe = filter(14, (US, US), (61000, 61015));
    let mut frame = vec![0u8; 12];
    frame.extend_from_slice(&[0x08, 0x00]);
    frame.extend_from_slice(&reply(53, &answer));
    assert_ne!(bpf::run(&fe, &frame), 0);
}
