//! The correlator: a pure state machine that turns parsed replies into port
//! states. No sockets and no clock: replies go in, events come out, so it
//! tests without root.
//!
//! A reply counts only if it is addressed to our source address and port
//! range, comes from a scanned (address, port), carries SYN+ACK or RST+ACK,
//! and acknowledges our cookie plus one. Each (address, port) is reported
//! once. The set of pairs that answered, and of hosts that answered at all,
//! is what retries are planned from; it grows with replies, never with the
//! size of the target space.

use crate::cookie::CookieKey;
use crate::finding::PortState;
use crate::targets::RangeSet;
use crate::wire::reply::Reply;
use crate::wire::tcp;
use std::collections::HashSet;
use std::sync::Arc;

/// A set of ports as a 65,536-bit bitmap.
#[derive(Clone)]
pub struct PortSet {
    bits: Box<[u64; 1024]>,
    list: Vec<u16>,
}

impl PortSet {
    pub fn new(ports: &[u16]) -> Self {
        let mut bits = Box::new([0u64; 1024]);
        for &p in ports {
            bits[p as usize >> 6] |= 1 << (p & 63);
        }
        let mut list = ports.to_vec();
        list.sort_unstable();
        list.dedup();
        PortSet { bits, list }
    }
    #[inline]
    pub fn contains(&self, p: u16) -> bool {
        self.bits[p as usize >> 6] & (1 << (p & 63)) != 0
    }
    pub fn list(&self) -> &[u16] {
        &self.list
    }
}

impl std::fmt::Debug for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PortSet({} ports)", self.list.len())
    }
}

/// What a reply must match to be ours.
#[derive(Debug, Clone)]
pub struct Expect {
    pub src_ip: u32,
    pub sport_base: u16,
    pub sport_count: u16,
    pub key: CookieKey,
    pub targets: Arc<RangeSet>,
    pub ports: Arc<PortSet>,
}

impl Expect {
    /// Source port of a probe in retry round `round`.
    #[inline]
    pub fn sport(&self, round: u32) -> u16 {
        self.sport_base + (round % self.sport_count as u32) as u16
    }

    /// Source port of copy `copy` (0-based) of a probe in round `round`:
    /// copies come from the other half of the source port range, so each
    /// copy is a connection attempt of its own.
    #[inline]
    pub fn sport_copy(&self, round: u32, copy: u32) -> u16 {
        self.sport(round.wrapping_add(copy.wrapping_mul((self.sport_count as u32 / 2).max(1))))
    }
}

/// A port whose state we learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub ip: u32,
    pub port: u16,
    pub state: PortState,
    pub ttl: u8,
}

/// Why a reply was not a new event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// Not to our address or source ports: someone else's traffic.
    NotForUs,
    /// Flags other than SYN+ACK or RST+ACK.
    Flags,
    /// From an address or port we did not scan.
    NotScanned,
    /// The acknowledgement number is not our cookie plus one.
    BadCookie,
    /// We already know this pair.
    Duplicate,
}

/// Counters of what the correlator saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub open: u64,
    pub closed: u64,
    pub duplicate: u64,
    pub rejected: u64,
}

#[inline]
fn pair_key(ip: u32, port: u16) -> u64 {
    ((ip as u64) << 16) | port as u64
}

/// Which pairs and hosts answered: what retries are planned from.
#[derive(Debug, Clone, Default)]
pub struct Answered {
    pairs: HashSet<u64>,
    hosts: HashSet<u32>,
}

impl Answered {
    pub fn pair(&self, ip: u32, port: u16) -> bool {
        self.pairs.contains(&pair_key(ip, port))
    }
    pub fn host(&self, ip: u32) -> bool {
        self.hosts.contains(&ip)
    }
    pub fn insert(&mut self, ip: u32, port: u16) -> bool {
        self.hosts.insert(ip);
        self.pairs.insert(pair_key(ip, port))
    }
    pub fn len(&self) -> usize {
        self.pairs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
    /// Every answered pair, for the resume file.
    pub fn pairs(&self) -> impl Iterator<Item = (u32, u16)> + '_ {
        self.pairs.iter().map(|&k| ((k >> 16) as u32, k as u16))
    }
}

/// The correlator state.
#[derive(Debug)]
pub struct Correlator {
    expect: Expect,
    answered: Answered,
    stats: Stats,
}

impl Correlator {
    pub fn new(expect: Expect) -> Self {
        Correlator {
            expect,
            answered: Answered::default(),
            stats: Stats::default(),
        }
    }

    /// Start from pairs already known (a resumed scan).
    pub fn with_answered(expect: Expect, answered: Answered) -> Self {
        Correlator {
            expect,
            answered,
            stats: Stats::default(),
        }
    }

    pub fn expect(&self) -> &Expect {
        &self.expect
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn answered(&self) -> &Answered {
        &self.answered
    }

    /// Judge one reply.
    pub fn handle(&mut self, r: &Reply) -> Result<Event, Drop> {
        let res = self.judge(r);
        match res {
            Ok(Event {
                state: PortState::Open,
                ..
            }) => self.stats.open += 1,
            Ok(Event {
                state: PortState::Closed,
                ..
            }) => self.stats.closed += 1,
            Err(Drop::Duplicate) => self.stats.duplicate += 1,
            Err(_) => self.stats.rejected += 1,
        }
        res
    }

    fn judge(&mut self, r: &Reply) -> Result<Event, Drop> {
        let e = &self.expect;
        if r.dst != e.src_ip || r.dport < e.sport_base || r.dport - e.sport_base >= e.sport_count {
            return Err(Drop::NotForUs);
        }
        let state = match r.flags & (tcp::SYN | tcp::ACK | tcp::RST) {
            f if f == tcp::SYN | tcp::ACK => PortState::Open,
            f if f == tcp::RST | tcp::ACK => PortState::Closed,
            _ => return Err(Drop::Flags),
        };
        if !e.ports.contains(r.sport) || !e.targets.contains(r.src) {
            return Err(Drop::NotScanned);
        }
        if !e.key.validates(e.src_ip, r.src, r.dport, r.sport, r.ack) {
            return Err(Drop::BadCookie);
        }
        if !self.answered.insert(r.src, r.sport) {
            return Err(Drop::Duplicate);
        }
        Ok(Event {
            ip: r.src,
            port: r.sport,
            state,
            ttl: r.ttl,
        })
    }
}

/// Which silent pairs a retry round probes again, and how many times. A pair
/// that answered is never probed again. On a host that answered on any port,
/// a silent port is retried with [`LIVE_HOST_COPIES`] probes from different
/// source ports: a reply there was very plausibly lost, and such pairs are
/// few, so extra copies cost little and make a miss far less likely (at 5%
/// loss, one probe per round leaves 5%^3 of open pairs unfound after two
/// retries; two copies per round leave 5% x 0.25%^2). On a host that never
/// answered (most of the internet), one port per round is retried, chosen
/// afresh each round: that finds hosts whose every probe was lost at a cost
/// of 1/ports of the silent space, instead of all of it.
///
/// `--rate max` adds what its controller learned in the first pass (issue
/// 13): `lossy` holds the positions (of one sender's walk) sent while the
/// reply ratio was falling, during the ramp or a probe upward. There every
/// silent pair is probed again, a silent host on every port, since whole
/// hosts' replies were plausibly lost. With `silent_hosts` false (the retry
/// round `--rate max` adds by itself) only those positions and the silent
/// ports of hosts that answered are probed: the ramp's losses are covered
/// without probing the silent space again.
#[derive(Debug, Clone)]
pub struct RetryPlan {
    pub answered: Arc<Answered>,
    pub round: u32,
    pub nports: u64,
    // synsweep-rate (issue 13): begin
    /// Sorted, disjoint ranges of positions sent while replies were lost.
    pub lossy: Arc<[std::ops::Range<u64>]>,
    /// Silent hosts outside `lossy` get one port per round.
    pub silent_hosts: bool,
    // synsweep-rate: end
}

/// Probes per retry round for a silent port of a host that answered.
pub const LIVE_HOST_COPIES: u32 = 2;

impl RetryPlan {
    /// How many probes this round sends to (ip, port): 0, 1 or
    /// [`LIVE_HOST_COPIES`]. `port_index` is the port's index in the scan's
    /// port list.
    #[inline]
    pub fn probes(&self, ip: u32, port: u16, port_index: u64) -> u32 {
        if self.answered.pair(ip, port) {
            return 0;
        }
        if self.answered.host(ip) {
            return LIVE_HOST_COPIES;
        }
        let pick = (((ip as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) + self.round as u64)
            % self.nports.max(1);
        u32::from(port_index == pick)
    }

    #[inline]
    pub fn should_probe(&self, ip: u32, port: u16, port_index: u64) -> bool {
        self.probes(ip, port, port_index) > 0
    }

    // synsweep-rate (issue 13): begin
    /// [`RetryPlan::probes`] for the pair at position `pos` of the sender's
    /// walk, with the first pass's lossy stretches and `silent_hosts`.
    #[inline]
    pub fn probes_at(&self, pos: u64, ip: u32, port: u16, port_index: u64) -> u32 {
        if self.answered.pair(ip, port) {
            return 0;
        }
        if self.answered.host(ip) {
            return LIVE_HOST_COPIES;
        }
        let i = self.lossy.partition_point(|r| r.end <= pos);
        if self.lossy.get(i).is_some_and(|r| r.contains(&pos)) {
            return 1;
        }
        if !self.silent_hosts {
            return 0;
        }
        self.probes(ip, port, port_index)
    }
    // synsweep-rate: end
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: u32 = 0xc612_0001; // 198.18.0.1
    const HOST: u32 = 0xc613_0004; // 198.19.0.4

    fn expect() -> Expect {
        Expect {
            src_ip: US,
            sport_base: 61000,
            sport_count: 4,
            key: CookieKey { k0: 11, k1: 22 },
            targets: Arc::new(RangeSet::from_ranges(vec![(0xc613_0000, 0xc613_ffff)])),
            ports: Arc::new(PortSet::new(&[22, 80, 443])),
        }
    }

    fn reply(e: &Expect, src: u32, sport: u16, dport: u16, flags: u8) -> Reply {
        Reply {
            src,
            dst: US,
            sport,
            dport,
            seq: 777,
            ack: e.key.cookie(US, src, dport, sport).wrapping_add(1),
            flags,
            ttl: 64,
        }
    }

    #[test]
    fn syn_ack_is_open_rst_is_closed_once_each() {
        let e = expect();
        let mut c = Correlator::new(e.clone());
        let ev = c
            .handle(&reply(&e, HOST, 22, 61000, tcp::SYN | tcp::ACK))
            .unwrap();
        assert_eq!(
            ev,
            Event {
                ip: HOST,
                port: 22,
                state: PortState::Open,
                ttl: 64
            }
        );
        assert_eq!(
            c.handle(&reply(&e, HOST, 22, 61001, tcp::SYN | tcp::ACK)),
            Err(Drop::Duplicate)
        );
        let ev = c
            .handle(&reply(&e, HOST, 80, 61002, tcp::RST | tcp::ACK))
            .unwrap();
        assert_eq!(ev.state, PortState::Closed);
        assert_eq!(
            c.stats(),
            Stats {
                open: 1,
                closed: 1,
                duplicate: 1,
                rejected: 0
            }
        );
    }

    #[test]
    fn forged_and_foreign_replies_are_rejected() {
        let e = expect();
        let mut c = Correlator::new(e.clone());
        let mut r = reply(&e, HOST, 22, 61000, tcp::SYN | tcp::ACK);
        r.ack ^= 1;
        assert_eq!(c.handle(&r), Err(Drop::BadCookie));
        let mut r = reply(&e, HOST, 22, 61000, tcp::SYN | tcp::ACK);
        r.dst = US + 1;
        assert_eq!(c.handle(&r), Err(Drop::NotForUs));
        assert_eq!(
            c.handle(&reply(&e, HOST, 22, 61004, tcp::SYN | tcp::ACK)),
            Err(Drop::NotForUs)
        );
        assert_eq!(
            c.handle(&reply(&e, HOST, 22, 60999, tcp::SYN | tcp::ACK)),
            Err(Drop::NotForUs)
        );
        assert_eq!(
            c.handle(&reply(&e, HOST, 23, 61000, tcp::SYN | tcp::ACK)),
            Err(Drop::NotScanned)
        );
        assert_eq!(
            c.handle(&reply(&e, 0xc614_0001, 22, 61000, tcp::SYN | tcp::ACK)),
            Err(Drop::NotScanned)
        );
        for f in [
            tcp::SYN,
            tcp::ACK,
            tcp::RST,
            tcp::ACK | tcp::FIN,
            tcp::SYN | tcp::RST | tcp::ACK,
            0,
        ] {
            assert_eq!(
                c.handle(&reply(&e, HOST, 22, 61000, f)),
                Err(Drop::Flags),
                "flags {f:#x}"
            );
        }
        // PSH or ECE on a SYN-ACK do not matter.
        assert!(
            c.handle(&reply(
                &e,
                HOST,
                22,
                61000,
                tcp::SYN | tcp::ACK | tcp::PSH | 0x40
            ))
            .is_ok()
        );
        assert_eq!(c.stats().rejected, 12);
    }

    #[test]
    fn retry_plan_spends_probes_where_replies_were_lost() {
        let e = expect();
        let mut c = Correlator::new(e.clone());
        c.handle(&reply(&e, HOST, 22, 61000, tcp::SYN | tcp::ACK))
            .unwrap();
        let plan = RetryPlan {
            answered: Arc::new(c.answered().clone()),
            round: 1,
            nports: 3,
            lossy: Arc::from([]),
            silent_hosts: true,
        };
        assert!(!plan.should_probe(HOST, 22, 0), "answered pair");
        assert!(plan.should_probe(HOST, 80, 1), "silent port of a live host");
        assert!(plan.should_probe(HOST, 443, 2));
        assert_eq!(
            plan.probes(HOST, 80, 1),
            LIVE_HOST_COPIES,
            "copies where a reply was lost"
        );
        assert_eq!(plan.probes(HOST, 22, 0), 0);
        // Copies come from distinct source ports, all inside our range.
        let sports: Vec<u16> = (0..LIVE_HOST_COPIES).map(|c| e.sport_copy(1, c)).collect();
        assert_eq!(sports[0], e.sport(1));
        assert!(sports.windows(2).all(|w| w[0] != w[1]), "{sports:?}");
        assert!(sports.iter().all(|&p| (61000..61004).contains(&p)));
        // A silent host gets exactly one of its ports each round, a different one next round.
        let silent = HOST + 1;
        let picks: Vec<u64> = (1..=3)
            .map(|round| {
                let p = RetryPlan {
                    answered: plan.answered.clone(),
                    round,
                    nports: 3,
                    lossy: Arc::from([]),
                    silent_hosts: true,
                };
                let v: Vec<u64> = (0..3)
                    .filter(|&i| p.should_probe(silent, [22, 80, 443][i as usize], i))
                    .collect();
                assert_eq!(v.len(), 1);
                v[0]
            })
            .collect();
        assert_ne!(picks[0], picks[1]);
        assert_ne!(picks[1], picks[2]);
    }

    // synsweep-rate (issue 13): begin
    #[test]
    fn ramp_retry_covers_lossy_stretches_and_nothing_else_silent() {
        let e = expect();
        let mut c = Correlator::new(e.clone());
        c.handle(&reply(&e, HOST, 22, 61000, tcp::SYN | tcp::ACK))
            .unwrap();
        let silent = HOST + 1;
        let plan = |silent_hosts| RetryPlan {
            answered: Arc::new(c.answered().clone()),
            round: 1,
            nports: 3,
            lossy: Arc::from([10..20, 50..51]),
            silent_hosts,
        };
        let ramp = plan(false);
        // Answered pairs never; silent ports of a live host anywhere, twice.
        assert_eq!(ramp.probes_at(15, HOST, 22, 0), 0);
        assert_eq!(ramp.probes_at(99, HOST, 80, 1), LIVE_HOST_COPIES);
        // A silent host: every port inside a lossy stretch, none outside.
        for (pos, want) in [(9, 0), (10, 1), (19, 1), (20, 0), (49, 0), (50, 1), (51, 0)] {
            for (i, port) in [22u16, 80, 443].into_iter().enumerate() {
                assert_eq!(
                    ramp.probes_at(pos, silent, port, i as u64),
                    want,
                    "pos {pos} port {port}"
                );
            }
        }
        // With silent hosts on (explicit --retries), outside the stretches
        // the usual rotating port.
        let full = plan(true);
        let outside: u32 = (0..3)
            .map(|i| full.probes_at(30, silent, [22, 80, 443][i as usize], i))
            .sum();
        assert_eq!(outside, 1);
        let inside: u32 = (0..3)
            .map(|i| full.probes_at(12, silent, [22, 80, 443][i as usize], i))
            .sum();
        assert_eq!(inside, 3);
    }
    // synsweep-rate: end

    mod props {
        use super::*;
        use proptest::prelude::*;

        const LO: u32 = 0xc613_0000; // 198.19.0.0
        const HI: u32 = 0xc613_00ff; // 198.19.0.255: the scanned addresses

        fn small_expect() -> Expect {
            Expect {
                targets: Arc::new(RangeSet::from_ranges(vec![(LO, HI)])),
                ..expect()
            }
        }

        /// What a reply must be to become an event, written out again
        /// independently of `Correlator::judge`.
        fn is_ours(e: &Expect, r: &Reply) -> bool {
            let f = r.flags & (tcp::SYN | tcp::ACK | tcp::RST);
            r.dst == US
                && (61000..61004).contains(&r.dport)
                && [22, 80, 443].contains(&r.sport)
                && (LO..=HI).contains(&r.src)
                && (f == tcp::SYN | tcp::ACK || f == tcp::RST | tcp::ACK)
                && r.ack == e.key.cookie(US, r.src, r.dport, r.sport).wrapping_add(1)
        }

        /// A reply that is ours in every respect.
        fn valid() -> impl Strategy<Value = Reply> {
            (
                LO..=HI,
                prop::sample::select(vec![22u16, 80, 443]),
                61000u16..61004,
                any::<bool>(),
                any::<u8>(),
                any::<u32>(),
                any::<u8>(),
            )
                .prop_map(|(src, sport, dport, open, extra, seq, ttl)| {
                    let e = small_expect();
                    let base = if open {
                        tcp::SYN | tcp::ACK
                    } else {
                        tcp::RST | tcp::ACK
                    };
                    Reply {
                        src,
                        dst: US,
                        sport,
                        dport,
                        seq,
                        ack: e.key.cookie(US, src, dport, sport).wrapping_add(1),
                        // FIN, PSH, URG, ECE, CWR do not matter.
                        flags: base | (extra & !(tcp::SYN | tcp::ACK | tcp::RST)),
                        ttl,
                    }
                })
        }

        /// One way to spoil a valid reply.
        #[derive(Debug, Clone)]
        enum Spoil {
            Ack(u32),
            Dport(u16),
            Sport(u16),
            Src(u32),
            Dst(u32),
            Flags(u8),
        }

        fn spoil() -> impl Strategy<Value = Spoil> {
            prop_oneof![
                any::<u32>().prop_map(Spoil::Ack),
                any::<u16>()
                    .prop_filter("outside our ports", |p| !(61000..61004).contains(p))
                    .prop_map(Spoil::Dport),
                any::<u16>()
                    .prop_filter("not scanned", |p| ![22, 80, 443].contains(p))
                    .prop_map(Spoil::Sport),
                any::<u32>()
                    .prop_filter("not scanned", |a| !(LO..=HI).contains(a))
                    .prop_map(Spoil::Src),
                any::<u32>()
                    .prop_filter("not us", |a| *a != US)
                    .prop_map(Spoil::Dst),
                any::<u8>()
                    .prop_filter("not SYN+ACK or RST+ACK", |f| {
                        let m = f & (tcp::SYN | tcp::ACK | tcp::RST);
                        m != tcp::SYN | tcp::ACK && m != tcp::RST | tcp::ACK
                    })
                    .prop_map(Spoil::Flags),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3000))]

            /// A spoiled reply never becomes an event, and leaves no trace
            /// (the real reply still counts afterwards).
            #[test]
            fn spoiled_replies_never_become_events(r in valid(), s in spoil()) {
                let e = small_expect();
                let mut bad = r;
                match s {
                    Spoil::Ack(a) => {
                        prop_assume!(a != r.ack);
                        bad.ack = a;
                    }
                    Spoil::Dport(p) => bad.dport = p,
                    Spoil::Sport(p) => bad.sport = p,
                    Spoil::Src(a) => bad.src = a,
                    Spoil::Dst(a) => bad.dst = a,
                    Spoil::Flags(f) => bad.flags = f,
                }
                let mut c = Correlator::new(e);
                prop_assert!(c.handle(&bad).is_err(), "{:?} accepted", bad);
                prop_assert!(c.answered().is_empty());
                let ev = c.handle(&r).unwrap();
                prop_assert_eq!((ev.ip, ev.port), (r.src, r.sport));
                prop_assert_eq!(c.handle(&r), Err(Drop::Duplicate));
            }

            /// For any reply at all, the correlator agrees with the rule
            /// written out independently; nothing is reported twice.
            #[test]
            fn arbitrary_replies_follow_the_rule(
                rs in prop::collection::vec(
                    prop_oneof![
                        valid(),
                        (any::<u32>(), any::<u16>(), any::<u16>(), any::<u32>(), any::<u8>())
                            .prop_map(|(src, sport, dport, ack, flags)| Reply {
                                src, dst: US, sport, dport, seq: 0, ack, flags, ttl: 64,
                            }),
                    ],
                    1..64,
                )
            ) {
                let e = small_expect();
                let mut c = Correlator::new(e.clone());
                let mut seen = HashSet::new();
                for r in &rs {
                    match c.handle(r) {
                        Ok(ev) => {
                            prop_assert!(is_ours(&e, r), "{:?}", r);
                            prop_assert!(seen.insert((ev.ip, ev.port)), "twice: {:?}", r);
                            let open = r.flags & tcp::SYN != 0;
                            prop_assert_eq!(ev.state == PortState::Open, open);
                        }
                        Err(Drop::Duplicate) => {
                            prop_assert!(is_ours(&e, r));
                            prop_assert!(seen.contains(&(r.src, r.sport)));
                        }
                        Err(_) => prop_assert!(!is_ours(&e, r), "{:?} refused", r),
                    }
                }
            }
        }
    }
}
