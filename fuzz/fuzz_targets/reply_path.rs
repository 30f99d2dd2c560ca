//! Fuzz the reply path: captured frame -> the TCP SYN module's classifier
//! -> correlator, as the receiver and collector run it. Nothing may panic,
//! and an event may come only from a reply that answers one of our probes.
//!
//! The first input byte picks the mode: frames behind an Ethernet header,
//! bare IPv4 packets, or packets whose acknowledgement number is patched to
//! the right cookie (so the fuzzer also reaches the accepting path, which
//! random bytes almost never do); then IPv6 replies (TCP SYN and UDP
//! modules, ICMPv6), UDP replies and ICMP errors over IPv4, and service
//! identification (a captured segment's payload through every fingerprint,
//! with every hello, and the fact parsers: HTTP status/headers/title,
//! product and version, and the certificate name splitting of the nmap XML
//! writer): everything that reads bytes an attacker sends. Facts must come
//! out printable and bounded.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use synsweep::engine::answered::Answered;
use synsweep::engine::cookie::CookieKey;
use synsweep::engine::correlator::Correlator;
use synsweep::engine::space::Space;
use synsweep::identify::{self, facts, hello};
use synsweep::output::nmap_xml;
use synsweep::probe::tcp_syn::TcpSyn;
use synsweep::probe::{Identity, Probe, Sources};
use synsweep::probe::{tcp_syn, udp};
use synsweep::targets::RangeSet;
use synsweep::wire::tcp;
use synsweep::wire::{reply, segment};

const US: u32 = 0xc612_0001; // 198.18.0.1
const KEY: CookieKey = CookieKey {
    k0: 0x5eed,
    k1: 0xc0ffee,
};
const PORTS: [u16; 4] = [22, 80, 443, 8080];

/// 2001:2:0:ff::1, the lab scanner's IPv6 address.
const US6: u128 = 0x2001_0002_0000_00ff_0000_0000_0000_0001;

fn identity() -> Identity {
    Identity {
        key: KEY,
        sources: Sources {
            v4: vec![US],
            v6: vec![US6],
        },
        sport_base: 61000,
        sport_count: 16,
    }
}

fn space() -> Space {
    Space::new(
        RangeSet::from_ranges(vec![(0xc613_0000, 0xc613_ffff)]),
        PORTS.to_vec(),
    )
}

fn correlator() -> Correlator {
    Correlator::new(space(), Answered::default())
}

fn check(c: &mut Correlator, id: &Identity, packet: &[u8]) {
    let Ok(cl) = TcpSyn.classify(packet, id) else {
        return;
    };
    let r = reply::parse_ipv4(packet).expect("classified packets parse");
    let f = r.flags & (tcp::SYN | tcp::ACK | tcp::RST);
    assert!(f == tcp::SYN | tcp::ACK || f == tcp::RST | tcp::ACK);
    assert_eq!(r.dst, US);
    assert!((61000..61016).contains(&r.dport));
    assert!(KEY.validates(US, r.src, r.dport, r.sport, r.ack));
    assert_eq!(
        (cl.target, cl.port),
        (IpAddr::V4(Ipv4Addr::from(r.src)), r.sport)
    );
    if let Ok(index) = c.handle(&cl) {
        assert!(PORTS.contains(&r.sport) && (0xc613_0000..=0xc613_ffff).contains(&r.src));
        // The pair it counts as answered is the reply's.
        let (ip, port, _) = space().pair_ip(index);
        assert_eq!((ip, port), (IpAddr::V4(Ipv4Addr::from(r.src)), r.sport));
        // Never twice.
        assert!(c.handle(&cl).is_err());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let id = identity();
    let mut c = correlator();
    match mode % 6 {
        0 => {
            if rest.len() >= 14 {
                check(&mut c, &id, &rest[14..]);
            }
        }
        1 => check(&mut c, &id, rest),
        // Either family through both modules (TCP, UDP, ICMP and ICMPv6
        // errors): what classifies is ours and of the packet's family.
        3 | 4 => {
            let v6 = rest.first().is_some_and(|b| b >> 4 == 6);
            for cl in [tcp_syn::classify(rest, &id), udp::classify(rest, &id)]
                .into_iter()
                .flatten()
            {
                assert_eq!(cl.target.is_ipv6(), v6);
                let _ = c.handle(&cl);
            }
        }
        // Identification: a captured segment, then its payload (or the
        // bytes themselves) through the fingerprints, with every hello.
        5 => {
            let (&port_lo, bytes) = rest.split_first().unwrap_or((&0, &[]));
            let data = match segment::parse_ipv4_captured(bytes) {
                Ok((seg, _)) => seg.payload,
                Err(_) => bytes,
            };
            let port = 1 + u16::from(port_lo) * 31;
            let printable = |s: &str, max: usize| {
                assert!(s.len() <= max && s.bytes().all(|b| (0x20..0x7f).contains(&b)), "{s:?}");
            };
            for h in std::iter::once(None).chain(hello::ALL.map(Some)) {
                if let Some(id) = identify::identify(data, h, port) {
                    for s in [&id.facts.product, &id.facts.version].into_iter().flatten() {
                        printable(s, facts::NAME_MAX);
                    }
                }
            }
            if let Some(h) = facts::http(data) {
                for s in [h.server, h.title, h.location].into_iter().flatten() {
                    printable(&s, facts::TEXT_MAX);
                }
            }
            if let Some(t) = facts::title(data) {
                printable(&t, facts::TEXT_MAX);
            }
            // Certificate names as the nmap XML writer splits them.
            let _ = nmap_xml::dn_pairs(&String::from_utf8_lossy(data));
            // A TLS flight (plain, and as TLS 1.3 with a client key) and
            // the certificate facts of the same bytes.
            let _ = identify::tls::facts(&identify::tls::read(data, None));
            let ch = hello::client_hello([7; 32]);
            let client = identify::tls::Client {
                secret: [7; 32],
                hello: &ch[5..],
            };
            let _ = identify::tls::read(data, Some(client));
            let _ = identify::tls::cert_facts(data);
        }
        _ => {
            // Several packets in a row through one correlator, each with
            // its acknowledgement made right for its own 4-tuple.
            for chunk in rest.split(|&b| b == 0xa5) {
                if let Ok(r) = reply::parse_ipv4(chunk) {
                    let mut p = chunk.to_vec();
                    let at = (p[0] & 0xf) as usize * 4 + 8;
                    let ack = KEY.cookie(US, r.src, r.dport, r.sport).wrapping_add(1);
                    p[at..at + 4].copy_from_slice(&ack.to_be_bytes());
                    check(&mut c, &id, &p);
                }
            }
        }
    }
});
