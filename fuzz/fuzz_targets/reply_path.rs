//! Fuzz the reply path: captured frame -> the TCP SYN module's classifier
//! -> correlator, as the receiver and collector run it. Nothing may panic,
//! and an event may come only from a reply that answers one of our probes.
//!
//! The first input byte picks the mode: frames behind an Ethernet header,
//! bare IPv4 packets, or packets whose acknowledgement number is patched to
//! the right cookie (so the fuzzer also reaches the accepting path, which
//! random bytes almost never do).

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};
use synsweep::engine::answered::Answered;
use synsweep::engine::cookie::CookieKey;
use synsweep::engine::correlator::Correlator;
use synsweep::engine::space::Space;
use synsweep::probe::tcp_syn::TcpSyn;
use synsweep::probe::{Identity, Probe};
use synsweep::targets::RangeSet;
use synsweep::wire::reply;
use synsweep::wire::tcp;

const US: u32 = 0xc612_0001; // 198.18.0.1
const KEY: CookieKey = CookieKey {
    k0: 0x5eed,
    k1: 0xc0ffee,
};
const PORTS: [u16; 4] = [22, 80, 443, 8080];

fn identity() -> Identity {
    Identity {
        key: KEY,
        sources: vec![US],
        sources6: vec![],
        sport_base: 61000,
        sport_count: 16,
    }
}

fn correlator() -> Correlator {
    Correlator::new(
        Space::new(
            RangeSet::from_ranges(vec![(0xc613_0000, 0xc613_ffff)]),
            PORTS.to_vec(),
        ),
        Answered::default(),
    )
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
    if let Ok(ev) = c.handle(&cl) {
        assert!(PORTS.contains(&r.sport) && (0xc613_0000..=0xc613_ffff).contains(&r.src));
        assert_eq!(
            (ev.ip, ev.port),
            (IpAddr::V4(Ipv4Addr::from(r.src)), r.sport)
        );
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
    match mode % 3 {
        0 => {
            if rest.len() >= 14 {
                check(&mut c, &id, &rest[14..]);
            }
        }
        1 => check(&mut c, &id, rest),
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
