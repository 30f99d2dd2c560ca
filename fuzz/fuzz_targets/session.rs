//! Fuzz the identification sessions as a sequence of segments and ticks:
//! SYN-ACKs of probes and of further connections, data, FINs and RSTs with
//! any flags, sequence and acknowledgement numbers and payloads (TLS-shaped
//! or not), from a few hosts to a few ports, and the clock moving on.
//! Nothing may panic, the table never holds more than its capacity nor
//! more than five connections' worth per port, every port it opened is
//! reported exactly once (never twice, never lost), and every port is done
//! by its deadline without a flush.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use synsweep::engine::cookie::CookieKey;
use synsweep::engine::validate::{Classified, Proto};
use synsweep::finding::PortState;
use synsweep::identify::plan::MAX_CONNECTIONS;
use synsweep::identify::pseudo::PseudoRule;
use synsweep::identify::session::{Config, Key, Out, PORT_DEADLINE, Sessions};
use synsweep::wire::segment::Incoming;
use synsweep::wire::tcp;

const US: u32 = 0xc612_0001; // 198.18.0.1
const HOST: u32 = 0xc613_0004; // 198.19.0.4
const BASE: u16 = 61000;
const PORTS: [u16; 6] = [21, 22, 443, 6379, 8443, 47_123];
/// Lengths of our hellos a segment may acknowledge (none, HTTP-ish, TLS-ish).
const HELLO_LENS: [u32; 4] = [0, 18, 76, 517];

fn ip(a: u32) -> IpAddr {
    IpAddr::V4(a.into())
}

fn reply(host: IpAddr, port: u16) -> Classified {
    Classified {
        target: host,
        proto: Proto::Tcp,
        port,
        state: PortState::Open,
        reason: "syn-ack",
        ttl: 64,
        protocol: None,
        amplification: None,
    }
}

/// The ISN of our connection from `sport` (any function will do: the
/// table takes it from the SYN-ACK).
fn isn(sport: u16) -> u32 {
    0x1000_0000 ^ ((sport as u32) << 12)
}

struct Checker {
    open: HashMap<Key, i32>,
}

impl Checker {
    fn after(&mut self, t: &Sessions, out: &mut Vec<Out>, opened: Option<Key>, now: Instant) {
        if let Some(k) = opened {
            *self.open.entry(k).or_default() += 1;
        }
        for o in out.drain(..) {
            if let Out::Done(d) = o {
                let k = (d.reply.target, d.reply.port);
                let n = self.open.entry(k).or_default();
                *n -= 1;
                assert_eq!(*n, 0, "{k:?} reported twice, or never opened");
                assert!(d.connections as usize <= MAX_CONNECTIONS);
            }
        }
        assert!(t.len() <= t.capacity());
        let _ = now;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&cap, mut rest)) = data.split_first() else {
        return;
    };
    let mut t = Sessions::new(Config {
        capacity: 1 + (cap as usize % 8),
        max_wait: Duration::from_millis(1000),
        fallbacks: cap & 0x80 == 0,
        rule: PseudoRule::default(),
        ports_per_host: u32::from(cap >> 4 & 7),
        sport_base: BASE,
        sport_count: 16,
        key: CookieKey { k0: 1, k1: 2 },
    });
    let t0 = Instant::now();
    let mut now = t0;
    let mut c = Checker {
        open: HashMap::new(),
    };
    let mut out = Vec::new();
    let payload: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 0x16) as u8).collect();
    while let [op, a, b, tail @ ..] = rest {
        let (op, a, b) = (*op, *a, *b);
        rest = tail;
        let host = ip(HOST + u32::from(a & 3));
        let port = PORTS[(a >> 2) as usize % PORTS.len()];
        let sport = BASE + u16::from(b & 7);
        match op % 4 {
            0 => {
                let before = t.holds((host, port));
                let s = Incoming {
                    src: host,
                    dst: ip(US),
                    sport: port,
                    dport: sport,
                    seq: 0x7000_0000,
                    ack: isn(sport).wrapping_add(1),
                    flags: tcp::SYN | tcp::ACK,
                    window: 65535,
                    ttl: 64,
                    payload: &[],
                };
                t.on_syn_ack(now, &s, reply(host, port), &mut out);
                let overflow = !before
                    && !t.holds((host, port))
                    && out.iter().any(|o| {
                        matches!(o, Out::Done(d) if d.reply.port == port
                            && d.reply.target == host)
                    });
                let opened = (!before && t.holds((host, port))) || overflow;
                c.after(&t, &mut out, opened.then_some((host, port)), now);
            }
            1 | 2 => {
                let Some((&len_byte, tail)) = rest.split_first() else {
                    break;
                };
                rest = tail;
                // Payload: the fuzzer's own bytes, or a slice of a fixed
                // TLS-shaped buffer (long replies, floods).
                let take = (len_byte as usize) % (rest.len() + 1);
                let (body, wire_len): (&[u8], usize) = if op & 0x10 != 0 {
                    let n = (len_byte as usize) * 16;
                    (
                        &payload[..n.min(payload.len())],
                        n + usize::from(op >> 5) * 100,
                    )
                } else {
                    let (body, tail) = rest.split_at(take);
                    rest = tail;
                    (body, take)
                };
                let s = Incoming {
                    src: host,
                    dst: ip(US),
                    sport: port,
                    dport: sport,
                    seq: 0x7000_0001u32.wrapping_add(u32::from(b >> 3) * 100),
                    ack: isn(sport)
                        .wrapping_add(1)
                        .wrapping_add(HELLO_LENS[(op >> 2) as usize & 3]),
                    flags: if op % 4 == 2 {
                        op & !tcp::SYN
                    } else {
                        tcp::PSH | tcp::ACK
                    },
                    window: 65535,
                    ttl: 64,
                    payload: body,
                };
                t.on_segment(now, &s, wire_len, &mut out);
                c.after(&t, &mut out, None, now);
            }
            _ => {
                now += Duration::from_millis(u64::from(a) * 8 + u64::from(b));
                t.tick(now, &mut out);
                c.after(&t, &mut out, None, now);
            }
        }
    }
    // Every port held is done by its deadline, without a flush.
    now += PORT_DEADLINE;
    t.tick(now, &mut out);
    c.after(&t, &mut out, None, now);
    assert!(t.is_empty(), "{} ports held past their deadline", t.len());
    assert!(c.open.values().all(|n| *n == 0), "a port never reported");
});
