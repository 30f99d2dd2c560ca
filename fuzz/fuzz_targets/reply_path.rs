//! Fuzz the reply path: captured frame -> `wire::reply` parsers ->
//! correlator, as the receiver and collector run it. Nothing may panic, and
//! an event may come only from a reply the correlator's rule admits.
//!
//! The first input byte picks the mode: raw frames as captured, bare IPv4
//! packets, or frames whose acknowledgement number is patched to the right
//! cookie (so the fuzzer also reaches the correlator's accepting path, which
//! random bytes almost never do).

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use synsweep::cookie::CookieKey;
use synsweep::correlator::{Correlator, Expect, PortSet};
use synsweep::targets::RangeSet;
use synsweep::wire::reply::{self, Reply};
use synsweep::wire::tcp;

const US: u32 = 0xc612_0001; // 198.18.0.1
const KEY: CookieKey = CookieKey {
    k0: 0x5eed,
    k1: 0xc0ffee,
};

fn expect() -> Expect {
    Expect {
        src_ip: US,
        sport_base: 61000,
        sport_count: 16,
        key: KEY,
        targets: Arc::new(RangeSet::from_ranges(vec![(0xc613_0000, 0xc613_ffff)])),
        ports: Arc::new(PortSet::new(&[22, 80, 443, 8080])),
    }
}

fn check(c: &mut Correlator, r: &Reply) {
    let e = c.expect().clone();
    if let Ok(ev) = c.handle(r) {
        let f = r.flags & (tcp::SYN | tcp::ACK | tcp::RST);
        assert!(f == tcp::SYN | tcp::ACK || f == tcp::RST | tcp::ACK);
        assert_eq!(r.dst, US);
        assert!((61000..61016).contains(&r.dport));
        assert!(e.ports.contains(r.sport) && e.targets.contains(r.src));
        assert!(KEY.validates(US, r.src, r.dport, r.sport, r.ack));
        assert_eq!((ev.ip, ev.port), (r.src, r.sport));
        // Never twice.
        assert!(c.handle(r).is_err());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut c = Correlator::new(expect());
    match mode % 3 {
        0 => {
            if let Ok(r) = reply::parse_ethernet(rest) {
                check(&mut c, &r);
            }
        }
        1 => {
            if let Ok(r) = reply::parse_ipv4(rest) {
                check(&mut c, &r);
            }
        }
        _ => {
            // Several frames in a row through one correlator, each with its
            // acknowledgement made right for its own 4-tuple.
            for chunk in rest.split(|&b| b == 0xa5) {
                if let Ok(mut r) = reply::parse_ethernet(chunk) {
                    r.ack = KEY.cookie(US, r.src, r.dport, r.sport).wrapping_add(1);
                    check(&mut c, &r);
                }
            }
        }
    }
});
