//! The identification sessions of a scan, sans-IO: what to send after a
//! SYN-ACK, which captured segments belong to which open port, when an
//! attempt gave up, and when a port's finding may be written.
//!
//! One [`Sessions`] table per receiver. It is fed the segments of our
//! connections and ticks (time is passed in), and returns [`Out`]s: segments
//! to send (the ACK, the hello, a RST, the SYN of a further attempt) and the
//! [`Done`] outcome of each open port, identified or not. It holds at most
//! `capacity` ports at once: a SYN-ACK that finds the table full is answered
//! with a RST and its port reported unidentified at once, so memory never
//! grows with the scan and every open port is still reported.
//!
//! Per port: the attempts of [`super::plan()`] in order, one connection each
//! (the first is the probe's own; a further one opens from the next source
//! port of the scan), then, on a port no protocol is expected on
//! ([`crate::risk::protocol::expected`]), the fallback hellos
//! ([`super::Plan::with_fallbacks`]). The attempts end early when:
//!
//! - the service sends something that names nothing (it answers every hello
//!   the same), or resets, or closes without reading our hello (it closes on
//!   everyone); a close after reading it (redis on an HTTP request) moves on;
//! - its host is judged a middlebox ([`super::pseudo`]): no further
//!   connection, and its silent ports are pseudo. A silent port of a host
//!   that has shown fewer open ports than the rule needs is *parked* (no
//!   connection, [`PARK`] at most) until the host can be judged.
//!
//! An HTTP 400 to our plain request, or a TLS alert to a hello that was not
//! TLS, is kept as a provisional name while the TLS attempt runs (a TLS port
//! speaking HTTP errors, or TLS of which version?).
//!
//! A TLS server's first flight is followed for its certificate (see
//! [`tls`]); one that negotiated TLS 1.2 or 1.3 then gets one more
//! connection with a ClientHello capped at TLS 1.1
//! ([`super::hello::client_hello_legacy`]): whether it still accepts a
//! deprecated version ([`Done::accepts_legacy`]).

use super::pseudo::{HostCounts, PseudoRule, Verdict};
use super::{Attempt, Hello, Identified, handshake, identify, plan, raw_banner, tls};
use crate::engine::cookie::CookieKey;
use crate::engine::validate::Classified;
use crate::wire::segment::Incoming;
use crate::wire::tcp;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most bytes of a service's reply kept for fingerprinting (a TLS
/// ServerHello and the start of its certificates).
pub const DATA_MAX: usize = 4096;
/// Longest time a TLS server's flight is followed (acknowledged segment by
/// segment) for its certificate, from its first bytes on; at most
/// [`tls::FLIGHT_MAX`] bytes of it are kept.
pub const TLS_FLIGHT_WAIT: Duration = Duration::from_millis(2000);
/// After data that names nothing yet, how long to wait for more.
pub const LINGER: Duration = Duration::from_millis(300);
/// How long a further attempt waits for its SYN-ACK.
pub const SYN_WAIT: Duration = Duration::from_millis(1500);
/// How long a silent port waits for its host to be judged (parked, see
/// the module docs); at the end of a scan parked ports are judged with
/// the final counts.
pub const PARK: Duration = Duration::from_secs(3);
/// Hosts whose counts are kept for the middlebox judgement (beyond it, new
/// hosts are judged real).
pub const HOSTS_MAX: usize = 1 << 16;

/// A target host as the table keys it.
pub type Host = IpAddr;
/// One open port: its host and port.
pub type Key = (Host, u16);

/// Settings of a table.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Most ports identified at once.
    pub capacity: usize,
    /// Longest wait for a banner or a reply (the plan's waits are capped at it).
    pub max_wait: Duration,
    /// Whether ports the plan named nothing on get the fallback hellos.
    pub fallbacks: bool,
    pub rule: PseudoRule,
    /// Source ports of the scan: `sport_base .. sport_base + sport_count`.
    pub sport_base: u16,
    pub sport_count: u16,
    /// The scan's secret: the X25519 key of a TLS ClientHello is derived
    /// from it and the connection (see [`tls::client_secret`]).
    pub key: CookieKey,
}

/// A segment to send (owned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub src: Host,
    pub dst: Host,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload: Vec<u8>,
}

/// What the table asks the caller to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    /// Send this segment.
    Send(Segment),
    /// Send a SYN from `src:sport` to `dst:dport` carrying the pair's cookie.
    Syn {
        src: Host,
        dst: Host,
        sport: u16,
        dport: u16,
    },
    /// The port is done: write its finding.
    Done(Box<Done>),
}

/// The outcome of one open port.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    /// The SYN-ACK that showed it open (the finding's reply).
    pub reply: Classified,
    pub identified: Option<Identified>,
    /// What it sent when nothing was identified (first line, bounded).
    pub banner: Option<Vec<u8>>,
    /// Its host is judged a middlebox and nothing was identified here.
    pub pseudo: bool,
    /// What its TLS handshake showed (version, cipher, leaf certificate).
    pub tls: Option<Box<crate::finding::Tls>>,
    /// A deprecated TLS version (`TLSv1.0`, `TLSv1.1`) a server that
    /// negotiated TLS 1.2 or 1.3 still accepted when offered nothing newer.
    pub accepts_legacy: Option<&'static str>,
}

/// Whether the caller should still treat a captured packet as a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Ours: nothing more to do with it.
    Yes,
    /// Not part of an identification: classify and forward as usual.
    No,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A further attempt's SYN is out.
    SynSent,
    /// Connected, listening for a server that speaks first.
    Banner,
    /// The hello is out.
    Reply,
    /// No connection: a silent port of a host that has not shown many open
    /// ports yet, waiting for the host to be judged (middlebox or not)
    /// before any further attempt.
    Parked,
}

#[derive(Debug)]
struct Entry {
    reply: Classified,
    /// When its SYN-ACK arrived.
    since: Instant,
    /// Our address.
    src: Host,
    attempt: usize,
    sport: u16,
    isn: u32,
    /// The service's next sequence number (its SYN-ACK's plus one, plus data).
    rcv_next: u32,
    hello: Option<Hello>,
    hello_len: usize,
    phase: Phase,
    deadline: Instant,
    data: Vec<u8>,
    /// Data from an earlier attempt that named nothing.
    first_banner: Option<Vec<u8>>,
    /// The service answered (data or an orderly close) on some attempt.
    responsive: bool,
    /// The host was counted as identified/responsive already.
    counted: bool,
    /// A name worth less than a later attempt's (an HTTP 400 to our plain
    /// request may be a TLS port that speaks HTTP errors).
    provisional: Option<Box<Identified>>,
    /// It was parked once already.
    parked: bool,
    /// Following a TLS server's flight until this time (its certificate
    /// has not arrived whole yet).
    flight_until: Option<Instant>,
    /// What the TLS handshake showed.
    tls: Option<Box<crate::finding::Tls>>,
    /// The name found, while the capped (TLS 1.1) ClientHello's connection
    /// runs.
    legacy: Option<Box<Identified>>,
    accepts_legacy: Option<&'static str>,
}

/// The table.
#[derive(Debug)]
pub struct Sessions {
    cfg: Config,
    entries: HashMap<Key, Entry>,
    hosts: HashMap<Host, HostCounts>,
    /// Entries in [`Phase::Parked`].
    parked: usize,
    /// Ports reported unidentified because the table was full.
    pub overflowed: u64,
}

/// The attempts on `port`: the plan's, then the fallback hellos on a port
/// no protocol is expected on (on a well-known port, a service that ignored
/// both the port's own hello and HTTP/TLS is not worth eleven more
/// connections).
fn attempts(port: u16, fallbacks: bool) -> Vec<Attempt> {
    let p = plan(port);
    if fallbacks && crate::risk::protocol::expected(port).is_none() {
        p.with_fallbacks().collect()
    } else {
        p.attempts.to_vec()
    }
}

impl Sessions {
    pub fn new(cfg: Config) -> Sessions {
        Sessions {
            cfg,
            entries: HashMap::new(),
            hosts: HashMap::new(),
            parked: 0,
            overflowed: 0,
        }
    }

    /// Ports being identified now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Ports with a connection or a SYN out (not parked): what the end of a
    /// scan waits for.
    pub fn active(&self) -> usize {
        self.entries.len() - self.parked
    }

    /// When the SYN-ACK of the oldest port still being identified arrived:
    /// no reply captured before it is still held back.
    pub fn oldest(&self) -> Option<Instant> {
        self.entries.values().map(|e| e.since).min()
    }

    /// The verdict on `host` so far.
    pub fn verdict(&self, host: Host) -> Verdict {
        self.cfg
            .rule
            .judge(self.hosts.get(&host).copied().unwrap_or_default())
    }

    /// Hosts judged middleboxes so far.
    pub fn pseudo_hosts(&self) -> Vec<Host> {
        let mut v: Vec<Host> = self
            .hosts
            .iter()
            .filter(|(_, c)| self.cfg.rule.judge(**c) == Verdict::Pseudo)
            .map(|(h, _)| *h)
            .collect();
        v.sort_unstable();
        v
    }

    /// A SYN-ACK the probe module validated as `reply` (open). Always taken:
    /// a new port's finding comes later as [`Out::Done`] (at once,
    /// unidentified, when the table is full); a SYN-ACK of a port being
    /// identified belongs to one of its connections (a further attempt, a
    /// retransmission: ACKed again, or an older one: reset).
    pub fn on_syn_ack(
        &mut self,
        now: Instant,
        seg: &Incoming<'_>,
        reply: Classified,
        out: &mut Vec<Out>,
    ) -> Taken {
        let key = (seg.src, seg.sport);
        if let Some(e) = self.entries.get_mut(&key) {
            if e.phase == Phase::SynSent && seg.dport == e.sport {
                // A further attempt connected.
                e.isn = seg.ack.wrapping_sub(1);
                e.rcv_next = seg.seq.wrapping_add(1);
                if e.legacy.is_some() {
                    // The capped ClientHello, with the ACK.
                    out.push(Out::Send(to_segment(&handshake::complete(seg))));
                    let payload = super::hello::client_hello_legacy(rand::random());
                    e.hello_len = payload.len();
                    e.phase = Phase::Reply;
                    e.deadline = now + self.cfg.max_wait;
                    out.push(Out::Send(Segment {
                        src: e.src,
                        dst: key.0,
                        sport: e.sport,
                        dport: key.1,
                        seq: e.isn.wrapping_add(1),
                        ack: e.rcv_next,
                        flags: tcp::PSH | tcp::ACK,
                        payload,
                    }));
                    return Taken::Yes;
                }
                let a = attempts(key.1, self.cfg.fallbacks)[e.attempt];
                start_attempt(e, a, self.cfg.max_wait, self.cfg.key, now, seg, out);
            } else if seg.dport == e.sport && e.phase != Phase::SynSent {
                // A retransmitted SYN-ACK: our ACK was lost; ACK again.
                out.push(Out::Send(to_segment(&handshake::complete(seg))));
            } else {
                // A SYN-ACK of an older attempt or another round: close it.
                out.push(Out::Send(to_segment(&handshake::close(seg))));
            }
            return Taken::Yes;
        }
        if self.entries.len() >= self.cfg.capacity {
            self.overflowed += 1;
            out.push(Out::Send(to_segment(&handshake::close(seg))));
            out.push(Out::Done(Box::new(Done {
                reply,
                identified: None,
                banner: None,
                pseudo: false,
                tls: None,
                accepts_legacy: None,
            })));
            return Taken::Yes;
        }
        if self.hosts.len() < HOSTS_MAX || self.hosts.contains_key(&seg.src) {
            self.hosts.entry(seg.src).or_default().open += 1;
        }
        let a = attempts(seg.sport, self.cfg.fallbacks)[0];
        let mut e = Entry {
            reply,
            since: now,
            src: seg.dst,
            attempt: 0,
            sport: seg.dport,
            isn: seg.ack.wrapping_sub(1),
            rcv_next: seg.seq.wrapping_add(1),
            hello: None,
            hello_len: 0,
            phase: Phase::Banner,
            deadline: now,
            data: Vec::new(),
            first_banner: None,
            responsive: false,
            counted: false,
            provisional: None,
            parked: false,
            flight_until: None,
            tls: None,
            legacy: None,
            accepts_legacy: None,
        };
        start_attempt(&mut e, a, self.cfg.max_wait, self.cfg.key, now, seg, out);
        self.entries.insert(key, e);
        Taken::Yes
    }

    /// Any other TCP segment to our addresses and ports: data, FIN or RST of
    /// a connection being identified is taken; anything else is not.
    /// `wire_len` is the payload's length on the wire (a capture may hold
    /// only the start of a large segment).
    pub fn on_segment(
        &mut self,
        now: Instant,
        seg: &Incoming<'_>,
        wire_len: usize,
        out: &mut Vec<Out>,
    ) -> Taken {
        let key = (seg.src, seg.sport);
        let Some(e) = self.entries.get_mut(&key) else {
            return Taken::No;
        };
        if seg.dport != e.sport
            || matches!(e.phase, Phase::SynSent | Phase::Parked)
            || !handshake::ack_is_ours(seg.ack, e.isn, e.hello_len)
            || seg.flags & tcp::SYN != 0
        {
            return Taken::No;
        }
        if e.legacy.is_some() {
            // The capped ClientHello's connection: a ServerHello of TLS 1.1
            // or older is a deprecated version accepted; an alert, a reset
            // or a close is a refusal.
            if wire_len > 0 && seg.seq == e.rcv_next {
                let take = seg.payload.len().min(DATA_MAX - e.data.len());
                e.data.extend_from_slice(&seg.payload[..take]);
                e.rcv_next = e.rcv_next.wrapping_add(wire_len as u32);
            }
            let f = tls::read(&e.data, None);
            let over = f.version.is_some() || f.complete || seg.flags & (tcp::FIN | tcp::RST) != 0;
            if over {
                if seg.flags & tcp::RST == 0 {
                    out.push(Out::Send(to_segment(&handshake::close(seg))));
                }
                let accepted = match f.version {
                    Some(0x0301) => Some("TLSv1.0"),
                    Some(0x0302) => Some("TLSv1.1"),
                    Some(0x0300) => Some("SSLv3"),
                    _ => None,
                };
                self.legacy_over(key, accepted, out);
            }
            return Taken::Yes;
        }
        if seg.flags & tcp::RST != 0 {
            // Reset: the service (or a firewall) refuses what we do; no
            // other hello will fare better.
            e.responsive = true;
            self.attempt_over(now, key, false, true, out);
            return Taken::Yes;
        }
        let tls_hello = e.hello == Some(Hello::Tls);
        if wire_len > 0 && seg.seq == e.rcv_next {
            let max = if tls_hello { tls::FLIGHT_MAX } else { DATA_MAX };
            let take = seg.payload.len().min(max - e.data.len());
            e.data.extend_from_slice(&seg.payload[..take]);
            // A TLS flight is followed: acknowledge only what was captured
            // (the server sends the rest again); other replies need only
            // their first bytes.
            let got = if tls_hello { take } else { wire_len };
            e.rcv_next = e.rcv_next.wrapping_add(got as u32);
            e.responsive = true;
            if let Some(id) = identify(&e.data, e.hello, key.1) {
                if tls_hello && id.protocol == "tls" {
                    let flight = read_flight(self.cfg.key, key, e);
                    let until = *e.flight_until.get_or_insert(now + TLS_FLIGHT_WAIT);
                    if !flight.complete && e.data.len() < tls::FLIGHT_MAX && now < until {
                        // More of the flight to come: acknowledge it as a
                        // client would, so that the server goes on.
                        out.push(Out::Send(ack_of(e, key)));
                        e.deadline = until.min(now + self.cfg.max_wait);
                        return Taken::Yes;
                    }
                    e.flight_until = None;
                    e.tls = tls::facts(&flight).map(Box::new);
                    if matches!(flight.version, Some(0x0303 | 0x0304)) && self.cfg.sport_count > 1 {
                        // Does it still accept TLS 1.0 or 1.1?
                        out.push(Out::Send(to_segment(&handshake::close(seg))));
                        e.legacy = Some(Box::new(id));
                        e.phase = Phase::SynSent;
                        e.data.clear();
                        e.hello_len = 0;
                        let off = (e.sport.wrapping_sub(self.cfg.sport_base) as u32 + 1)
                            % self.cfg.sport_count as u32;
                        e.sport = self.cfg.sport_base + off as u16;
                        e.deadline = now + SYN_WAIT;
                        out.push(Out::Syn {
                            src: e.src,
                            dst: key.0,
                            sport: e.sport,
                            dport: key.1,
                        });
                        return Taken::Yes;
                    }
                }
                out.push(Out::Send(to_segment(&handshake::close(seg))));
                let rest = &attempts(key.1, self.cfg.fallbacks)[e.attempt + 1..];
                if e.provisional.is_none()
                    && is_refusal(&id, e.hello)
                    && rest.iter().any(|a| a.hello == Some(Hello::Tls))
                {
                    // nginx and others answer plain HTTP on a TLS port
                    // with a 400, TLS servers with an alert: see whether
                    // (and which) TLS is what it speaks.
                    e.provisional = Some(Box::new(id));
                    e.data.clear();
                    self.attempt_over(now, key, false, false, out);
                } else {
                    self.finish(key, Some(id), out);
                }
                return Taken::Yes;
            }
            e.deadline = e.deadline.min(now + LINGER);
        }
        if seg.flags & tcp::FIN != 0 && e.flight_until.is_some() {
            // The server closed in the middle of its flight: what it sent.
            out.push(Out::Send(to_segment(&handshake::close(seg))));
            self.flight_over(key, out);
            return Taken::Yes;
        }
        if seg.flags & tcp::FIN != 0 {
            // Closed. If the service read our hello first, it may be one
            // that refuses other protocols' hellos (redis closes on an HTTP
            // request): try the next attempt. If it closed without reading
            // anything, it closes on everyone.
            e.responsive = true;
            let read_hello = e.hello_len > 0 && seg.ack != e.isn.wrapping_add(1);
            out.push(Out::Send(to_segment(&handshake::close(seg))));
            self.attempt_over(now, key, false, !read_hello, out);
        }
        Taken::Yes
    }

    /// Advance the clock: send hellos after banner waits, give up attempts
    /// whose time is over.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<Out>) {
        let due: Vec<Key> = self
            .entries
            .iter()
            .filter(|(_, e)| e.deadline <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let fallbacks = self.cfg.fallbacks;
            let max_wait = self.cfg.max_wait;
            let secret = self.cfg.key;
            let Some(e) = self.entries.get_mut(&key) else {
                continue;
            };
            if e.legacy.is_some() {
                // No answer to the capped ClientHello: not accepted.
                if e.phase != Phase::SynSent {
                    out.push(Out::Send(rst_of(e, key)));
                }
                self.legacy_over(key, None, out);
                continue;
            }
            if e.flight_until.is_some() {
                // The flight's time is over: what arrived of it.
                out.push(Out::Send(rst_of(e, key)));
                self.flight_over(key, out);
                continue;
            }
            let a = attempts(key.1, fallbacks)[e.attempt];
            match (e.phase, a.hello) {
                (Phase::Banner, Some(h)) if e.data.is_empty() => {
                    send_hello(
                        e,
                        h,
                        key,
                        secret,
                        now,
                        wait_of(a.reply_wait_ms, max_wait),
                        out,
                    );
                }
                (Phase::Parked, _) => {
                    // Out of the parking (no connection: nothing to reset).
                    e.phase = Phase::SynSent;
                    self.parked -= 1;
                    self.attempt_over(now, key, false, false, out)
                }
                _ => self.attempt_over(now, key, true, false, out),
            }
        }
    }

    /// The capped ClientHello's connection is over: the port is done with
    /// the name found before, and whether a deprecated version was accepted.
    fn legacy_over(&mut self, key: Key, accepted: Option<&'static str>, out: &mut Vec<Out>) {
        let Some(e) = self.entries.get_mut(&key) else {
            return;
        };
        e.accepts_legacy = accepted;
        let id = e.legacy.take().map(|b| *b);
        self.finish(key, id, out);
    }

    /// A TLS flight followed for its certificate ends (time, close, or the
    /// scan's end) before it was whole: the port is done with what arrived
    /// (version and cipher at least).
    fn flight_over(&mut self, key: Key, out: &mut Vec<Out>) {
        let Some(e) = self.entries.get_mut(&key) else {
            return;
        };
        e.flight_until = None;
        let flight = read_flight(self.cfg.key, key, e);
        e.tls = tls::facts(&flight).map(Box::new);
        let id = identify(&e.data, e.hello, key.1);
        self.finish(key, id, out);
    }

    /// End every session now (the scan is over): each port is done with
    /// what it has.
    pub fn flush(&mut self, out: &mut Vec<Out>) {
        let keys: Vec<Key> = self.entries.keys().copied().collect();
        for key in keys {
            if let Some(e) = self.entries.get(&key)
                && !matches!(e.phase, Phase::SynSent | Phase::Parked)
            {
                out.push(Out::Send(rst_of(e, key)));
            }
            if self.entries.get(&key).is_some_and(|e| e.legacy.is_some()) {
                self.legacy_over(key, None, out);
                continue;
            }
            if self
                .entries
                .get(&key)
                .is_some_and(|e| e.flight_until.is_some())
            {
                self.flight_over(key, out);
                continue;
            }
            let id = self
                .entries
                .get(&key)
                .and_then(|e| identify(&e.data, e.hello, key.1));
            self.finish(key, id, out);
        }
    }

    /// The current attempt on `key` is over without a name (`close`: we
    /// still hold the connection and must reset it; `last`: no further
    /// attempt).
    fn attempt_over(
        &mut self,
        now: Instant,
        key: Key,
        close: bool,
        last: bool,
        out: &mut Vec<Out>,
    ) {
        let verdict = self.verdict(key.0);
        let Some(e) = self.entries.get_mut(&key) else {
            return;
        };
        if close && e.phase != Phase::SynSent {
            out.push(Out::Send(rst_of(e, key)));
        }
        let got_data = !e.data.is_empty();
        if got_data && e.first_banner.is_none() {
            e.first_banner = Some(raw_banner(&e.data));
        }
        // A silent port (no data, no close) of a host that has not shown
        // many open ports yet: wait for the judgement before trying more.
        let seen = self.hosts.get(&key.0).map_or(0, |c| c.open);
        if !e.parked
            && !e.responsive
            && !got_data
            && !last
            && verdict == Verdict::Real
            && seen < self.cfg.rule.min_open
        {
            e.parked = true;
            e.phase = Phase::Parked;
            e.deadline = now + PARK;
            self.parked += 1;
            return;
        }
        let plan = attempts(key.1, self.cfg.fallbacks);
        let next = e.attempt + 1;
        // Data that names nothing ends the port (a service of its own kind
        // answers every hello the same); so does the end of the plan, and a
        // host judged a middlebox gets no further attempt.
        let more = !last
            && !got_data
            && next < plan.len()
            && verdict == Verdict::Real
            && self.cfg.sport_count > 1;
        if !more {
            self.finish(key, None, out);
            return;
        }
        e.attempt = next;
        e.phase = Phase::SynSent;
        e.tls = None;
        e.flight_until = None;
        e.data.clear();
        e.hello = None;
        e.hello_len = 0;
        let off =
            (e.sport.wrapping_sub(self.cfg.sport_base) as u32 + 1) % self.cfg.sport_count as u32;
        e.sport = self.cfg.sport_base + off as u16;
        e.deadline = now + SYN_WAIT;
        out.push(Out::Syn {
            src: e.src,
            dst: key.0,
            sport: e.sport,
            dport: key.1,
        });
    }

    fn finish(&mut self, key: Key, id: Option<Identified>, out: &mut Vec<Out>) {
        let Some(mut e) = self.entries.remove(&key) else {
            return;
        };
        if e.phase == Phase::Parked {
            self.parked -= 1;
        }
        let id = id.or_else(|| e.provisional.take().map(|b| *b));
        if (id.is_some() || e.responsive)
            && !e.counted
            && let Some(h) = self.hosts.get_mut(&key.0)
        {
            h.identified += 1;
            e.counted = true;
        }
        let banner = if id.is_some() {
            None
        } else {
            e.first_banner
                .take()
                .or_else(|| (!e.data.is_empty()).then(|| raw_banner(&e.data)))
        };
        let pseudo = id.is_none() && !e.responsive && self.verdict(key.0) == Verdict::Pseudo;
        out.push(Out::Done(Box::new(Done {
            reply: e.reply,
            identified: id,
            banner,
            pseudo,
            tls: e.tls.take(),
            accepts_legacy: e.accepts_legacy,
        })));
    }
}

/// The X25519 secret of the connection of `e` to `key` (see
/// [`tls::client_secret`]): its ClientHello carried its public key.
fn tls_secret(k: CookieKey, key: Key, e: &Entry) -> [u8; 32] {
    tls::client_secret(k.k0, k.k1, e.src, key.0, e.sport, key.1)
}

/// What the TLS flight captured on the connection of `e` shows.
fn read_flight(k: CookieKey, key: Key, e: &Entry) -> tls::Flight {
    let secret = tls_secret(k, key, e);
    let hello = Hello::Tls.payload(key.0, secret);
    tls::read(
        &e.data,
        Some(tls::Client {
            secret,
            hello: &hello[5..],
        }),
    )
}

/// A pure acknowledgement of everything received on the connection of `e`.
fn ack_of(e: &Entry, key: Key) -> Segment {
    Segment {
        src: e.src,
        dst: key.0,
        sport: e.sport,
        dport: key.1,
        seq: e.isn.wrapping_add(1).wrapping_add(e.hello_len as u32),
        ack: e.rcv_next,
        flags: tcp::ACK,
        payload: Vec::new(),
    }
}

/// A name that a TLS hello may improve on: an HTTP 400 to our own plain
/// HTTP request, or a TLS alert to a hello that was not TLS (TLS, but
/// which version?).
fn is_refusal(id: &Identified, sent: Option<Hello>) -> bool {
    (id.protocol == "http"
        && sent == Some(Hello::Http)
        && (id.banner.starts_with(b"HTTP/1.1 400") || id.banner.starts_with(b"HTTP/1.0 400")))
        || (id.protocol == "tls" && id.detail.is_none() && sent != Some(Hello::Tls))
}

fn wait_of(ms: u32, max: Duration) -> Duration {
    Duration::from_millis(ms as u64).min(max)
}

/// Connected (a SYN-ACK `seg`): ACK it, and either listen (banner wait)
/// or send the hello at once.
fn start_attempt(
    e: &mut Entry,
    a: Attempt,
    max_wait: Duration,
    secret: CookieKey,
    now: Instant,
    seg: &Incoming<'_>,
    out: &mut Vec<Out>,
) {
    out.push(Out::Send(to_segment(&handshake::complete(seg))));
    e.data.clear();
    e.phase = Phase::Banner;
    match a.hello {
        Some(h) if a.banner_wait_ms == 0 => {
            send_hello(
                e,
                h,
                (seg.src, seg.sport),
                secret,
                now,
                wait_of(a.reply_wait_ms, max_wait),
                out,
            );
        }
        _ => e.deadline = now + wait_of(a.banner_wait_ms, max_wait),
    }
}

fn send_hello(
    e: &mut Entry,
    h: Hello,
    key: Key,
    secret: CookieKey,
    now: Instant,
    wait: Duration,
    out: &mut Vec<Out>,
) {
    let random = match h {
        Hello::Tls => tls_secret(secret, key, e),
        _ => rand::random(),
    };
    let payload = h.payload(key.0, random);
    e.hello = Some(h);
    e.hello_len = payload.len();
    e.phase = Phase::Reply;
    e.deadline = now + wait;
    out.push(Out::Send(Segment {
        src: e.src,
        dst: key.0,
        sport: e.sport,
        dport: key.1,
        seq: e.isn.wrapping_add(1),
        ack: e.rcv_next,
        flags: tcp::PSH | tcp::ACK,
        payload,
    }));
}

/// The RST that ends our side of the current connection of `e`.
fn rst_of(e: &Entry, key: Key) -> Segment {
    Segment {
        src: e.src,
        dst: key.0,
        sport: e.sport,
        dport: key.1,
        seq: e.isn.wrapping_add(1).wrapping_add(e.hello_len as u32),
        ack: 0,
        flags: tcp::RST,
        payload: Vec::new(),
    }
}

fn to_segment(o: &crate::wire::segment::Outgoing<'_>) -> Segment {
    Segment {
        src: o.src,
        dst: o.dst,
        sport: o.sport,
        dport: o.dport,
        seq: o.seq,
        ack: o.ack,
        flags: o.flags,
        payload: o.payload.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::validate::Proto;
    use crate::finding::PortState;

    const US: u32 = 0xc612_0001; // 198.18.0.1
    const HOST: u32 = 0xc613_0004; // 198.19.0.4
    const BASE: u16 = 61000;
    const ISN: u32 = 0x1000_0000;
    const SEQ: u32 = 0x7000_0000;

    fn ip(a: u32) -> Host {
        IpAddr::V4(a.into())
    }

    fn table(capacity: usize) -> Sessions {
        Sessions::new(Config {
            capacity,
            max_wait: Duration::from_millis(1000),
            fallbacks: true,
            rule: PseudoRule::default(),
            sport_base: BASE,
            sport_count: 16,
            key: CookieKey { k0: 1, k1: 2 },
        })
    }

    fn reply(host: u32, port: u16) -> Classified {
        Classified {
            target: IpAddr::V4(host.into()),
            proto: Proto::Tcp,
            port,
            state: PortState::Open,
            reason: "syn-ack",
            ttl: 64,
            protocol: None,
            amplification: None,
        }
    }

    fn seg(
        host: u32,
        port: u16,
        sport: u16,
        flags: u8,
        seq: u32,
        ack: u32,
        payload: &[u8],
    ) -> Incoming<'_> {
        Incoming {
            src: ip(host),
            dst: ip(US),
            sport: port,
            dport: sport,
            seq,
            ack,
            flags,
            window: 65535,
            ttl: 64,
            payload,
        }
    }

    fn syn_ack(host: u32, port: u16, sport: u16) -> Incoming<'static> {
        seg(host, port, sport, tcp::SYN | tcp::ACK, SEQ, ISN + 1, &[])
    }

    fn sends(out: &[Out]) -> Vec<&Segment> {
        out.iter()
            .filter_map(|o| match o {
                Out::Send(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    fn done(out: &[Out]) -> Vec<&Done> {
        out.iter()
            .filter_map(|o| match o {
                Out::Done(d) => Some(&**d),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn server_first_port_listens_then_names_the_banner_and_resets() {
        let mut t = table(8);
        let now = Instant::now();
        let mut out = Vec::new();
        assert_eq!(
            t.on_syn_ack(now, &syn_ack(HOST, 22, BASE), reply(HOST, 22), &mut out),
            Taken::Yes
        );
        // Only the ACK: SSH speaks first.
        let s = sends(&out);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].flags, s[0].seq, s[0].ack),
            (tcp::ACK, ISN + 1, SEQ + 1)
        );
        assert!(
            done(&out).is_empty(),
            "the finding waits for identification"
        );
        assert_eq!(t.len(), 1);
        out.clear();
        let banner = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
        let data = seg(
            HOST,
            22,
            BASE,
            tcp::PSH | tcp::ACK,
            SEQ + 1,
            ISN + 1,
            banner,
        );
        assert_eq!(
            t.on_segment(now, &data, data.payload.len(), &mut out),
            Taken::Yes
        );
        let s = sends(&out);
        assert_eq!(
            (s[0].flags, s[0].seq),
            (tcp::RST, ISN + 1),
            "closed with a RST"
        );
        let d = done(&out);
        assert_eq!(d[0].identified.as_ref().unwrap().protocol, "ssh");
        assert_eq!(d[0].reply, reply(HOST, 22));
        assert!(t.is_empty());
        // Someone else's data, or a wrong ack, is not taken.
        let mut t = table(8);
        t.on_syn_ack(
            now,
            &syn_ack(HOST, 22, BASE),
            reply(HOST, 22),
            &mut Vec::new(),
        );
        let forged = seg(
            HOST,
            22,
            BASE,
            tcp::PSH | tcp::ACK,
            SEQ + 1,
            ISN + 7,
            banner,
        );
        assert_eq!(
            t.on_segment(now, &forged, forged.payload.len(), &mut out),
            Taken::No
        );
        let other = seg(
            HOST + 1,
            22,
            BASE,
            tcp::PSH | tcp::ACK,
            SEQ + 1,
            ISN + 1,
            banner,
        );
        assert_eq!(
            t.on_segment(now, &other, other.payload.len(), &mut out),
            Taken::No
        );
    }

    #[test]
    fn client_first_port_gets_its_hello_with_the_ack() {
        let mut t = table(8);
        let now = Instant::now();
        let mut out = Vec::new();
        t.on_syn_ack(now, &syn_ack(HOST, 6379, BASE), reply(HOST, 6379), &mut out);
        let s = sends(&out);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].flags, tcp::PSH | tcp::ACK);
        assert_eq!(s[1].payload, b"PING\r\nINFO server\r\n");
        let len = s[1].payload.len() as u32;
        out.clear();
        let pong = seg(
            HOST,
            6379,
            BASE,
            tcp::PSH | tcp::ACK,
            SEQ + 1,
            ISN + 1 + len,
            b"+PONG\r\n",
        );
        t.on_segment(now, &pong, pong.payload.len(), &mut out);
        assert_eq!(done(&out)[0].identified.as_ref().unwrap().protocol, "redis");
        assert_eq!(
            sends(&out)[0].seq,
            ISN + 1 + len,
            "the RST follows our hello"
        );
    }

    #[test]
    fn silence_sends_the_hello_then_gives_up_unidentified() {
        let mut t = table(8);
        let t0 = Instant::now();
        let mut out = Vec::new();
        // 22: listen, then HTTP on the same connection, then TLS on a new one.
        t.on_syn_ack(t0, &syn_ack(HOST, 22, BASE), reply(HOST, 22), &mut out);
        out.clear();
        t.tick(t0 + Duration::from_millis(500), &mut out);
        assert!(out.is_empty(), "still listening");
        t.tick(t0 + Duration::from_millis(1000), &mut out);
        let s = sends(&out);
        assert!(s[0].payload.starts_with(b"GET / HTTP/1.1\r\n"), "{s:?}");
        out.clear();
        t.tick(t0 + Duration::from_millis(2000), &mut out);
        // A RST for the silent connection; the port is parked: its host has
        // shown one open port so far, it might yet turn out a middlebox.
        assert_eq!(sends(&out).len(), 1);
        assert_eq!(sends(&out)[0].flags, tcp::RST);
        assert!(!out.iter().any(|o| matches!(o, Out::Syn { .. })));
        assert_eq!((t.len(), t.active()), (1, 0));
        out.clear();
        t.tick(t0 + Duration::from_millis(4900), &mut out);
        assert!(out.is_empty());
        // Still an ordinary host after the wait: a SYN from the next source port.
        t.tick(t0 + Duration::from_millis(5000), &mut out);
        assert!(out.contains(&Out::Syn {
            src: ip(US),
            dst: ip(HOST),
            sport: BASE + 1,
            dport: 22
        }));
        out.clear();
        // The SYN-ACK of the first connection again is closed, not counted.
        assert_eq!(
            t.on_syn_ack(t0, &syn_ack(HOST, 22, BASE), reply(HOST, 22), &mut out),
            Taken::Yes
        );
        assert_eq!(sends(&out)[0].flags, tcp::RST);
        out.clear();
        // The new connection: TLS hello at once.
        t.on_syn_ack(
            t0 + Duration::from_millis(5010),
            &syn_ack(HOST, 22, BASE + 1),
            reply(HOST, 22),
            &mut out,
        );
        assert_eq!(sends(&out)[1].payload[0], 0x16, "a TLS ClientHello");
        out.clear();
        // Silent again: the plan (22 is a known port: no fallbacks) ends.
        t.tick(t0 + Duration::from_millis(6100), &mut out);
        let d = done(&out);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].identified.as_ref(), d[0].pseudo), (None, false));
        assert!(t.is_empty());
    }

    #[test]
    fn a_service_that_closes_without_reading_gets_no_further_connection() {
        let mut t = table(8);
        let now = Instant::now();
        let mut out = Vec::new();
        t.on_syn_ack(now, &syn_ack(HOST, 80, BASE), reply(HOST, 80), &mut out);
        out.clear();
        let fin = seg(HOST, 80, BASE, tcp::FIN | tcp::ACK, SEQ + 1, ISN + 1, &[]);
        t.on_segment(now, &fin, 0, &mut out);
        assert!(!out.iter().any(|o| matches!(o, Out::Syn { .. })));
        assert_eq!(done(&out).len(), 1);
        // One that read the hello and closed (redis on an HTTP request) does.
        let mut t = table(8);
        t.on_syn_ack(now, &syn_ack(HOST, 7379, BASE), reply(HOST, 7379), &mut out);
        t.tick(now + Duration::from_millis(1000), &mut out);
        let len = sends(&out).last().unwrap().payload.len() as u32;
        out.clear();
        let fin = seg(
            HOST,
            7379,
            BASE,
            tcp::FIN | tcp::ACK,
            SEQ + 1,
            ISN + 1 + len,
            &[],
        );
        t.on_segment(now, &fin, 0, &mut out);
        assert!(
            out.iter()
                .any(|o| matches!(o, Out::Syn { sport, .. } if *sport == BASE + 1))
        );
        assert!(done(&out).is_empty());
    }

    #[test]
    fn a_full_table_reports_at_once_and_never_grows() {
        let mut t = table(2);
        let now = Instant::now();
        let mut out = Vec::new();
        for port in [22, 23, 25] {
            assert_eq!(
                t.on_syn_ack(now, &syn_ack(HOST, port, BASE), reply(HOST, port), &mut out),
                Taken::Yes
            );
        }
        assert_eq!(t.len(), 2);
        let d = done(&out);
        assert_eq!(d.len(), 1, "the third port is reported unidentified");
        assert_eq!((d[0].reply.port, d[0].identified.as_ref()), (25, None));
        assert_eq!(t.overflowed, 1);
        // The scan ends: every port still in the table is reported.
        out.clear();
        t.flush(&mut out);
        assert_eq!(done(&out).len(), 2);
        assert_eq!(
            sends(&out).iter().filter(|s| s.flags == tcp::RST).count(),
            2
        );
        assert!(t.is_empty());
    }

    #[test]
    fn a_parked_port_is_pseudo_once_its_host_shows_itself_a_middlebox() {
        let mut t = table(1000);
        let t0 = Instant::now();
        let mut out = Vec::new();
        t.on_syn_ack(t0, &syn_ack(HOST, 2000, BASE), reply(HOST, 2000), &mut out);
        t.tick(t0 + Duration::from_millis(1000), &mut out);
        t.tick(t0 + Duration::from_millis(2000), &mut out);
        assert_eq!((t.len(), t.active()), (1, 0), "parked");
        // The host's other ports answer while the first one waits.
        for p in 2001..2020 {
            let at = t0 + Duration::from_millis(2100);
            t.on_syn_ack(at, &syn_ack(HOST, p, BASE), reply(HOST, p), &mut out);
        }
        out.clear();
        t.tick(t0 + Duration::from_millis(5000), &mut out);
        let d = done(&out);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].reply.port, d[0].pseudo), (2000, true));
        assert!(!out.iter().any(|o| matches!(o, Out::Syn { .. })));
        // At the end of the scan, parked ports are judged with what is known.
        let mut t = table(1000);
        t.on_syn_ack(t0, &syn_ack(HOST, 2000, BASE), reply(HOST, 2000), &mut out);
        t.tick(t0 + Duration::from_millis(1000), &mut out);
        t.tick(t0 + Duration::from_millis(2000), &mut out);
        for p in 2001..2020 {
            t.on_syn_ack(t0, &syn_ack(HOST, p, BASE), reply(HOST, p), &mut out);
        }
        out.clear();
        t.flush(&mut out);
        let d = done(&out);
        assert_eq!(d.len(), 20);
        assert!(d.iter().all(|d| d.pseudo));
        assert!(t.is_empty() && t.active() == 0);
    }

    #[test]
    fn a_host_answering_everywhere_with_silence_is_pseudo() {
        let mut t = table(1000);
        let t0 = Instant::now();
        let mut out = Vec::new();
        let ports: Vec<u16> = (2000..2020).collect();
        for &p in &ports {
            t.on_syn_ack(t0, &syn_ack(HOST, p, BASE), reply(HOST, p), &mut out);
        }
        // A real host with one silent port.
        t.on_syn_ack(
            t0,
            &syn_ack(HOST + 1, 2000, BASE),
            reply(HOST + 1, 2000),
            &mut out,
        );
        out.clear();
        for ms in (0..=6000).step_by(100) {
            t.tick(t0 + Duration::from_millis(ms), &mut out);
        }
        let d = done(&out);
        let (mb, real): (Vec<&Done>, Vec<&Done>) = d
            .iter()
            .partition(|d| d.reply.target == IpAddr::V4(HOST.into()));
        assert_eq!(mb.len(), ports.len());
        assert!(mb.iter().all(|d| d.pseudo));
        // The middlebox got one connection per port: no further attempt.
        let syns = out
            .iter()
            .filter(|o| matches!(o, Out::Syn { dst, .. } if *dst == ip(HOST)))
            .count();
        assert_eq!(syns, 0);
        assert_eq!(t.pseudo_hosts(), vec![ip(HOST)]);
        // The real host's silent unknown port tried more (fallbacks).
        assert!(
            out.iter()
                .any(|o| matches!(o, Out::Syn { dst, .. } if *dst == ip(HOST + 1)))
        );
        assert!(real.iter().all(|d| !d.pseudo));
    }

    #[test]
    fn a_tls_flight_is_acknowledged_segment_by_segment_until_its_certificate() {
        use crate::identify::tls::tests::{CERT_DER, certificate, hex, record, server_hello12};
        let mut hs = server_hello12(0x0303, 0xc02f);
        hs.extend_from_slice(&certificate(&hex(CERT_DER), false));
        hs.extend_from_slice(&[0x0e, 0, 0, 0]);
        let flight = record(0x16, &hs);
        let mut t = table(8);
        let now = Instant::now();
        let mut out = Vec::new();
        t.on_syn_ack(now, &syn_ack(HOST, 443, BASE), reply(HOST, 443), &mut out);
        let hello = sends(&out)[1].payload.clone();
        assert_eq!(hello[0], 0x16);
        let len = hello.len() as u32;
        // The ClientHello's key share is the one the session can derive again.
        let secret = tls::client_secret(1, 2, ip(US), ip(HOST), BASE, 443);
        assert_eq!(hello, Hello::Tls.payload(IpAddr::V4(HOST.into()), secret));
        out.clear();
        // The flight in segments of 100 bytes; the last one cut by the
        // capture (only its start was captured).
        let mut seq = SEQ + 1;
        let chunks: Vec<&[u8]> = flight.chunks(100).collect();
        for (n, c) in chunks.iter().enumerate() {
            let s = seg(HOST, 443, BASE, tcp::ACK, seq, ISN + 1 + len, c);
            let last = n + 1 == chunks.len();
            t.on_segment(now, &s, c.len(), &mut out);
            seq += c.len() as u32;
            if !last {
                let acks = sends(&out);
                assert_eq!(acks.len(), 1, "segment {n}: {out:?}");
                assert_eq!(
                    (acks[0].flags, acks[0].seq, acks[0].ack),
                    (tcp::ACK, ISN + 1 + len, seq)
                );
                assert!(done(&out).is_empty());
                out.clear();
            }
        }
        // TLS 1.2: the connection is reset, and one more opens with a
        // ClientHello capped at TLS 1.1.
        assert!(done(&out).is_empty());
        assert_eq!(sends(&out).last().unwrap().flags, tcp::RST);
        assert_eq!(
            out.last(),
            Some(&Out::Syn {
                src: ip(US),
                dst: ip(HOST),
                sport: BASE + 1,
                dport: 443
            })
        );
        out.clear();
        t.on_syn_ack(
            now,
            &syn_ack(HOST, 443, BASE + 1),
            reply(HOST, 443),
            &mut out,
        );
        let capped = sends(&out)[1].payload.clone();
        assert_eq!(&capped[9..11], &[3, 2], "TLS 1.1 at most");
        out.clear();
        // It answers with a TLS 1.0 ServerHello: a deprecated version accepted.
        let sh = record(0x16, &server_hello12(0x0301, 0x002f));
        let s = seg(
            HOST,
            443,
            BASE + 1,
            tcp::ACK,
            SEQ + 1,
            ISN + 1 + capped.len() as u32,
            &sh,
        );
        t.on_segment(now, &s, sh.len(), &mut out);
        let d = done(&out);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].identified.as_ref().unwrap().protocol, "tls");
        assert_eq!(d[0].accepts_legacy, Some("TLSv1.0"));
        let tls = d[0].tls.as_ref().unwrap();
        assert_eq!(tls.version, "TLSv1.2");
        assert_eq!(tls.cert.as_ref().unwrap().subject, "CN=rsa");
        assert_eq!(sends(&out).last().unwrap().flags, tcp::RST);
        assert!(t.is_empty());

        // A capture that holds only the start of a segment: only that is
        // acknowledged, and the rest, sent again, completes the flight.
        let mut t = table(8);
        t.on_syn_ack(now, &syn_ack(HOST, 443, BASE), reply(HOST, 443), &mut out);
        out.clear();
        let s = seg(
            HOST,
            443,
            BASE,
            tcp::ACK,
            SEQ + 1,
            ISN + 1 + len,
            &flight[..300],
        );
        t.on_segment(now, &s, flight.len(), &mut out);
        assert_eq!(sends(&out)[0].ack, SEQ + 1 + 300);
        out.clear();
        let s = seg(
            HOST,
            443,
            BASE,
            tcp::ACK,
            SEQ + 301,
            ISN + 1 + len,
            &flight[300..],
        );
        t.on_segment(now, &s, flight.len() - 300, &mut out);
        assert!(done(&out).is_empty(), "the capped hello's connection first");
        // Its SYN goes unanswered: the port is done, no deprecated version.
        t.tick(now + SYN_WAIT, &mut out);
        let d = done(&out);
        assert!(d[0].tls.as_ref().unwrap().cert.is_some());
        assert_eq!(d[0].accepts_legacy, None);
        out.clear();

        // A flight that stops short: at its time, the port is done with the
        // version and cipher.
        let mut t = table(8);
        t.on_syn_ack(now, &syn_ack(HOST, 443, BASE), reply(HOST, 443), &mut out);
        out.clear();
        let s = seg(
            HOST,
            443,
            BASE,
            tcp::ACK,
            SEQ + 1,
            ISN + 1 + len,
            &flight[..300],
        );
        t.on_segment(now, &s, 300, &mut out);
        out.clear();
        t.tick(now + Duration::from_millis(999), &mut out);
        assert!(done(&out).is_empty());
        t.tick(now + TLS_FLIGHT_WAIT, &mut out);
        let d = done(&out);
        assert_eq!(
            d[0].identified.as_ref().unwrap().detail.as_deref(),
            Some("TLSv1.2")
        );
        let tls = d[0].tls.as_ref().unwrap();
        assert_eq!(
            (tls.cipher.as_deref(), tls.cert.as_ref()),
            (Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), None)
        );
        assert_eq!(sends(&out)[0].flags, tcp::RST);
    }
}
