//! The identification sessions of a scan, sans-IO: what to send after a
//! SYN-ACK, which captured segments belong to which connection of which
//! open port, and when a port's finding may be written.
//!
//! One [`Sessions`] table per receiver. It is fed the segments of our
//! connections and ticks (time is passed in), and returns [`Out`]s: segments
//! to send (the ACK, the hello, a RST, the SYN of a further connection) and
//! the [`Done`] outcome of each open port, identified or not. It holds at
//! most `capacity` ports at once: a SYN-ACK that finds the table full is
//! answered with a RST and its port reported unidentified at once, so
//! memory never grows with the scan and every open port is still reported.
//! The caller may also say its way out is [`frugal`](Sessions::set_frugal)
//! (filling up: no further connection opens, each port makes do with what
//! it has) or [`busy`](Sessions::set_busy) (full: new ports are then
//! reported unidentified the same way, and ports already held go on).
//!
//! Per port, the guarantees whatever the service does:
//!
//! - **Time**: its [`Done`] comes at most [`PORT_DEADLINE`] after its
//!   SYN-ACK (every connection still open is reset then, and the port is
//!   done with what arrived).
//! - **Connections**: at most [`MAX_CONNECTIONS`], the probe's own and the
//!   capped TLS ClientHello's included, each from its own source port of
//!   the scan's range, so that each connection's segments are told apart.
//! - **Memory**: at most [`DATA_MAX`] bytes kept per connection
//!   ([`tls::FLIGHT_MAX`] for the one that sent a TLS ClientHello).
//!
//! The attempts are [`schedule`]'s, in priority order. The probe's own
//! connection takes the first (listen for a server that speaks first, or
//! listen a moment and send the port's own hello: see
//! [`super::plan::LISTEN_FIRST_MS`]). The others run side by side, not
//! one after another: a first wave opens at [`WAVE_AT`]`[0]` after the
//! SYN-ACK (up to three connections in all), the rest at `[1]`; a wave
//! opens at once when nothing is in flight any more. A port that named
//! something by then costs no further connection. Further connections
//! stop when:
//!
//! - the service sends something that names nothing (it answers every
//!   hello the same), resets, or closes without reading our hello (it
//!   closes on everyone); a close after reading it (redis on an HTTP
//!   request) does not stop them;
//! - its host is judged a middlebox ([`super::pseudo`]): then its silent
//!   ports are pseudo.
//!
//! The order of the attempts is their priority: a name read on one
//! connection resets the later attempts' connections at once and is the
//! port's as soon as no earlier attempt is still in flight (a plain HTTP
//! server answers the first wave's TLS hello with a 400 before the probe's
//! own connection, listening first, gets its 200 to our request). An HTTP
//! 400 to our plain request, or a TLS alert to a hello that was not TLS, is
//! only provisional: it is the name if nothing better comes, and only the
//! TLS attempt may still open after it (a TLS port speaking HTTP errors, or
//! TLS of which version?).
//!
//! The middlebox judgement uses the scan's port count per host
//! ([`Config::ports_per_host`]; in a shard, the ports the shard probes on
//! each host, [`Sessions::set_ports_of`]) and each host's open ports as
//! they come. A
//! silent port of a host that has named nothing yet keeps its [`Done`]
//! until its deadline, so that in a scan where a host's ports come within
//! seconds of each other, every middlebox port's [`Done`] says pseudo.
//! Where they come minutes apart, a [`Done`] says what was known when it
//! was written; [`Sessions::pseudo_hosts`] and [`Sessions::host_counts`]
//! give the final verdict for documents written at the end.
//!
//! A TLS server's first flight is followed for its certificate (see
//! [`tls`]); one that negotiated TLS 1.2 or 1.3 then gets one more
//! connection, if the port has one left, with a ClientHello capped at TLS
//! 1.1 ([`super::hello::client_hello_legacy`]): whether it still accepts a
//! deprecated version ([`Done::accepts_legacy`]).

use super::plan::{MAX_CONNECTIONS, schedule};
use super::pseudo::{HostCounts, PseudoRule, Verdict};
use super::{Attempt, Hello, Identified, handshake, identify, raw_banner, tls};
use crate::engine::cookie::CookieKey;
use crate::engine::validate::Classified;
use crate::wire::segment::Incoming;
use crate::wire::tcp;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most bytes of a service's reply kept per connection for fingerprinting
/// (a TLS ServerHello and the start of its certificates).
pub const DATA_MAX: usize = 4096;
/// Longest time a TLS server's flight is followed (acknowledged segment by
/// segment) for its certificate, from its first bytes on (and never past
/// the port's deadline); at most [`tls::FLIGHT_MAX`] bytes of it are kept.
pub const TLS_FLIGHT_WAIT: Duration = Duration::from_millis(2000);
/// After data that names nothing yet, how long to wait for more.
pub const LINGER: Duration = Duration::from_millis(300);
/// How long a further connection waits for its SYN-ACK.
pub const SYN_WAIT: Duration = Duration::from_millis(1000);
/// Longest time from a port's SYN-ACK to its [`Done`]: its record reaches
/// the outputs within this, whatever the service does. Three seconds hold
/// a banner wait, a hello and its reply across the internet, and LZR's
/// scans wait as long.
pub const PORT_DEADLINE: Duration = Duration::from_secs(3);
/// When, after a port's SYN-ACK, the waves of further connections open
/// (up to 3, then up to [`MAX_CONNECTIONS`] connections in all), if
/// nothing was named by then.
pub const WAVE_AT: [Duration; 2] = [Duration::from_millis(500), Duration::from_millis(1200)];
/// Connections a port may have in all after each wave (the probe's own
/// before the first).
const WAVE_CONNS: [usize; 3] = [1, 3, MAX_CONNECTIONS];
/// A further connection is not opened with less time than this left
/// before the port's deadline.
pub const MIN_LEFT: Duration = Duration::from_millis(300);
/// Hosts whose counts are kept for the middlebox judgement (beyond it, new
/// hosts are judged real).
pub const HOSTS_MAX: usize = 1 << 16;
/// How long a finished port's late SYN-ACKs (of its further connections)
/// are still recognised as ours, and reset rather than reported again.
pub const LATE: Duration = Duration::from_secs(2);

/// A target host as the table keys it.
pub type Host = IpAddr;
/// One open port: its host and port.
pub type Key = (Host, u16);

/// Settings of a table.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Most ports identified at once.
    pub capacity: usize,
    /// Longest wait for a banner or a reply on one connection (the plan's
    /// waits are capped at it, and everything at [`PORT_DEADLINE`]).
    pub max_wait: Duration,
    /// Whether ports the plan named nothing on get the fallback hellos.
    pub fallbacks: bool,
    pub rule: PseudoRule,
    /// Ports the scan probes on every host (0: unknown): the middlebox
    /// judgement's measure of "every port".
    pub ports_per_host: u32,
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
    /// Its host is judged a middlebox (so far) and nothing was identified
    /// or sent here.
    pub pseudo: bool,
    /// What its TLS handshake showed (version, cipher, leaf certificate).
    pub tls: Option<Box<crate::finding::Tls>>,
    /// A deprecated TLS version (`TLSv1.0`, `TLSv1.1`) a server that
    /// negotiated TLS 1.2 or 1.3 still accepted when offered nothing newer.
    pub accepts_legacy: Option<&'static str>,
    /// Connections the port cost, the probe's own included (at most
    /// [`MAX_CONNECTIONS`]).
    pub connections: u8,
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
    /// Its SYN is out.
    SynSent,
    /// Connected, listening for a server that speaks first.
    Banner,
    /// The hello is out.
    Reply,
    /// Ended (reset, closed or given up).
    Over,
}

/// One connection of a port.
#[derive(Debug)]
struct Conn {
    /// Its attempt (index into the port's schedule); None for the capped
    /// TLS ClientHello's connection.
    attempt: Option<usize>,
    sport: u16,
    isn: u32,
    /// The service's next sequence number (its SYN-ACK's plus one, plus data).
    rcv_next: u32,
    hello: Option<Hello>,
    hello_len: usize,
    phase: Phase,
    deadline: Instant,
    data: Vec<u8>,
    /// Following a TLS server's flight until this time (its certificate
    /// has not arrived whole yet).
    flight_until: Option<Instant>,
}

impl Conn {
    fn in_flight(&self) -> bool {
        self.phase != Phase::Over
    }

    fn connected(&self) -> bool {
        matches!(self.phase, Phase::Banner | Phase::Reply)
    }
}

/// A name read on one connection.
#[derive(Debug)]
struct Name {
    /// Its attempt's place in the schedule (lower: preferred).
    rank: usize,
    id: Box<Identified>,
    /// What its TLS handshake showed.
    tls: Option<Box<crate::finding::Tls>>,
    /// A whole TLS 1.2 or 1.3 flight: worth the capped ClientHello's check.
    legacy_check: bool,
}

#[derive(Debug)]
struct Entry {
    reply: Classified,
    /// When its SYN-ACK arrived.
    since: Instant,
    /// Our address.
    src: Host,
    /// The attempts, in priority order.
    plan: Vec<Attempt>,
    /// Its connections so far (the probe's own first).
    conns: Vec<Conn>,
    /// Attempts opened so far.
    next: usize,
    /// The highest wave opened.
    wave: usize,
    /// No further connection: the service showed what it does to any hello.
    stop: bool,
    /// First line of data that named nothing.
    first_banner: Option<Vec<u8>>,
    /// The service sent data on some connection.
    sent_data: bool,
    /// The server closed one of its connections itself (a FIN).
    server_closed: bool,
    /// A name worth less than a TLS attempt's.
    provisional: Option<Name>,
    /// The best name so far (the earliest attempt's); it is final once no
    /// earlier attempt is in flight.
    named: Option<Name>,
    /// The name is final; the capped ClientHello's connection may still
    /// run.
    decided: bool,
    accepts_legacy: Option<&'static str>,
    /// When the table should look at it again.
    wake: Instant,
}

impl Entry {
    fn deadline(&self) -> Instant {
        self.since + PORT_DEADLINE
    }

    fn in_flight(&self) -> bool {
        self.conns.iter().any(Conn::in_flight)
    }

    /// The next source port of the scan's range no connection of this
    /// port used.
    fn next_sport(&self, cfg: &Config) -> u16 {
        let first = self.conns[0].sport.wrapping_sub(cfg.sport_base) as u32;
        let off = (first + self.conns.len() as u32) % cfg.sport_count.max(1) as u32;
        cfg.sport_base.wrapping_add(off as u16)
    }
}

/// The TCP ports the scan probes on a host: `total` in all (a shard probes
/// its own share of each host's ports: see
/// [`crate::engine::space::ShardPorts`]), and `so_far`, those probed by now
/// (`total` once the first pass is over).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probed {
    pub total: u32,
    pub so_far: u32,
}

/// Where the table learns [`Probed`] for a host.
#[derive(Clone)]
pub struct PortsOf(pub Arc<dyn Fn(Host) -> Probed + Send + Sync>);

/// Ports probed on a host so far that a verdict before the first pass is
/// over needs at least: a host judged on fewer might only have been lucky
/// in the order its ports came.
pub const EARLY_MIN: u32 = 8;

/// What the table learnt of the ports probed on a host.
#[derive(Debug, Clone, Copy)]
struct HostProbed {
    total: u32,
    /// Probed so far when the host was judged a middlebox before the
    /// first pass was over.
    early: Option<u32>,
    /// Open ports when this was looked up.
    at_open: u32,
}

impl std::fmt::Debug for PortsOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PortsOf(..)")
    }
}

/// The table.
#[derive(Debug)]
pub struct Sessions {
    cfg: Config,
    entries: HashMap<Key, Entry>,
    hosts: HashMap<Host, HostCounts>,
    /// Per host, the ports probed on it (see [`Sessions::set_ports_of`]),
    /// looked up once the host has enough open ports to be judged, and
    /// again as they grow by an eighth until it is judged a middlebox.
    ports_of: Option<PortsOf>,
    probed: HashMap<Host, HostProbed>,
    /// Ports done lately, and when (oldest first; at most `capacity`).
    late: VecDeque<(Instant, Key)>,
    late_set: HashMap<Key, Instant>,
    /// Ports reported unidentified because the table was full or busy...
    pub overflowed: u64,
    /// ...of which because it was full.
    pub overflowed_full: u64,
    /// New ports are not taken (see [`Sessions::set_busy`]).
    busy: bool,
    /// No further connection opens (see [`Sessions::set_frugal`]).
    frugal: bool,
}

impl Sessions {
    pub fn new(cfg: Config) -> Sessions {
        Sessions {
            cfg,
            entries: HashMap::new(),
            hosts: HashMap::new(),
            ports_of: None,
            probed: HashMap::new(),
            late: VecDeque::new(),
            late_set: HashMap::new(),
            overflowed: 0,
            overflowed_full: 0,
            busy: false,
            frugal: false,
        }
    }

    /// The ports probed on each host, in all and so far: the middlebox
    /// judgement measures "every port" of a host by them rather than by
    /// [`Config::ports_per_host`]. A host whose open ports are 90% of those
    /// probed on it so far (at least [`EARLY_MIN`] of them) is judged then,
    /// while the first pass is still walking: its further ports get no
    /// connections beyond the probe's own, and their records say pseudo.
    pub fn set_ports_of(&mut self, f: PortsOf) {
        self.ports_of = Some(f);
    }

    /// After a host's open port: learn the ports probed on it, once it has
    /// enough open ports to be judged and again as they grow by an eighth,
    /// and judge it early where the ports probed so far show a middlebox.
    fn look_up_probed(&mut self, host: Host, counts: HostCounts) {
        let Some(f) = &self.ports_of else {
            return;
        };
        let rule = &self.cfg.rule;
        if counts.open < rule.min_open {
            return;
        }
        let due = match self.probed.get(&host) {
            None => true,
            Some(p) => p.early.is_none() && counts.open >= p.at_open + p.at_open.div_ceil(8),
        };
        if !due {
            return;
        }
        let p = (f.0)(host);
        let early = (p.so_far >= EARLY_MIN
            && p.so_far < p.total
            && rule.judge(counts, p.so_far) == Verdict::Pseudo)
            .then_some(p.so_far);
        self.probed.insert(
            host,
            HostProbed {
                total: p.total,
                early,
                at_open: counts.open,
            },
        );
    }

    /// While frugal, no port opens a further connection: each is done
    /// with what its connections so far show (the caller's way out is
    /// filling up).
    pub fn set_frugal(&mut self, frugal: bool) {
        self.frugal = frugal;
    }

    /// While busy, a SYN-ACK of a port not held yet is answered with a RST
    /// and its port reported unidentified at once, as when the table is
    /// full (the caller's way out is saturated); ports already held go on.
    pub fn set_busy(&mut self, busy: bool) {
        self.busy = busy;
    }

    /// Ports being identified now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Ports being identified now (every one of them is done within
    /// [`PORT_DEADLINE`]): what the end of a scan waits for.
    pub fn active(&self) -> usize {
        self.entries.len()
    }

    /// Most ports held at once.
    pub fn capacity(&self) -> usize {
        self.cfg.capacity
    }

    /// Whether `key` is being identified now.
    pub fn holds(&self, key: Key) -> bool {
        self.entries.contains_key(&key)
    }

    /// Whether a SYN-ACK from `key` now would be a follow-up (of a further
    /// connection of a port held or done lately, or a retransmission), not
    /// the answer to a probe.
    pub fn is_follow_up(&self, key: Key) -> bool {
        self.entries.contains_key(&key) || self.late_set.contains_key(&key)
    }

    /// When the SYN-ACK of the oldest port still being identified arrived:
    /// no reply captured before it is still held back.
    pub fn oldest(&self) -> Option<Instant> {
        self.entries.values().map(|e| e.since).min()
    }

    /// What was seen on `host` so far (open ports, identified ones).
    pub fn host_counts(&self, host: Host) -> HostCounts {
        self.hosts.get(&host).copied().unwrap_or_default()
    }

    /// The verdict on `host` so far.
    pub fn verdict(&self, host: Host) -> Verdict {
        let (rule, c) = (&self.cfg.rule, self.host_counts(host));
        match (&self.ports_of, self.probed.get(&host)) {
            (None, _) => rule.judge(c, self.cfg.ports_per_host),
            (Some(_), None) => Verdict::Real,
            (Some(_), Some(p)) => match p.early {
                Some(so_far) if rule.judge(c, so_far) == Verdict::Pseudo => Verdict::Pseudo,
                _ => rule.judge(c, p.total),
            },
        }
    }

    /// Hosts judged middleboxes so far: at the end of a scan, the final
    /// verdict (a document applies it to every unidentified port of these
    /// hosts, also to those whose [`Done`] came before the verdict).
    pub fn pseudo_hosts(&self) -> Vec<Host> {
        let mut v: Vec<Host> = self
            .hosts
            .keys()
            .copied()
            .filter(|h| self.verdict(*h) == Verdict::Pseudo)
            .collect();
        v.sort_unstable();
        v
    }

    /// A SYN-ACK the probe module validated as `reply` (open). Always taken:
    /// a new port's finding comes later as [`Out::Done`] (at once,
    /// unidentified, when the table is full); a SYN-ACK of a port being
    /// identified belongs to one of its connections (a further one, a
    /// retransmission: ACKed again, or an older one: reset).
    pub fn on_syn_ack(
        &mut self,
        now: Instant,
        seg: &Incoming<'_>,
        reply: Classified,
        out: &mut Vec<Out>,
    ) -> Taken {
        let key = (seg.src, seg.sport);
        let cfg = self.cfg;
        if let Some(e) = self.entries.get_mut(&key) {
            let (end, src) = (e.deadline(), e.src);
            let Some(ci) = e.conns.iter().position(|c| c.sport == seg.dport) else {
                // A SYN-ACK of another round: close it.
                out.push(Out::Send(to_segment(&handshake::close(seg))));
                return Taken::Yes;
            };
            let plan_attempt = e.conns[ci].attempt.map(|i| e.plan[i]);
            let c = &mut e.conns[ci];
            match c.phase {
                Phase::SynSent => {
                    c.isn = seg.ack.wrapping_sub(1);
                    c.rcv_next = seg.seq.wrapping_add(1);
                    out.push(Out::Send(to_segment(&handshake::complete(seg))));
                    match plan_attempt {
                        None => {
                            // The capped ClientHello.
                            let payload =
                                super::hello::client_hello_legacy(tls_secret(cfg.key, src, key, c));
                            c.phase = Phase::Reply;
                            c.deadline = (now + cfg.max_wait).min(end);
                            c.hello_len = payload.len();
                            out.push(Out::Send(data_of(c, src, key, payload)));
                        }
                        Some(a) => start(c, a, &cfg, src, key, now, end, out),
                    }
                }
                Phase::Banner | Phase::Reply => {
                    // A retransmitted SYN-ACK: our ACK was lost; ACK again.
                    out.push(Out::Send(to_segment(&handshake::complete(seg))));
                }
                Phase::Over => out.push(Out::Send(to_segment(&handshake::close(seg)))),
            }
            self.settle(now, key, out);
            return Taken::Yes;
        }
        self.expire_late(now);
        if self.late_set.contains_key(&key) {
            // A further connection of a port already done: close it.
            out.push(Out::Send(to_segment(&handshake::close(seg))));
            return Taken::Yes;
        }
        let full = self.entries.len() >= cfg.capacity;
        if full || self.busy {
            self.overflowed += 1;
            self.overflowed_full += u64::from(full);
            // (A SYN-ACK it sends again is reset, not counted again.)
            self.remember_late(key, now);
            out.push(Out::Send(to_segment(&handshake::close(seg))));
            out.push(Out::Done(Box::new(Done {
                reply,
                identified: None,
                banner: None,
                pseudo: false,
                tls: None,
                accepts_legacy: None,
                connections: 1,
            })));
            return Taken::Yes;
        }
        if self.hosts.len() < HOSTS_MAX || self.hosts.contains_key(&seg.src) {
            let h = self.hosts.entry(seg.src).or_default();
            h.open = h.open.saturating_add(1);
            let counts = *h;
            self.look_up_probed(seg.src, counts);
        }
        let plan = schedule(seg.sport, cfg.fallbacks);
        let mut c = Conn {
            attempt: Some(0),
            sport: seg.dport,
            isn: seg.ack.wrapping_sub(1),
            rcv_next: seg.seq.wrapping_add(1),
            hello: None,
            hello_len: 0,
            phase: Phase::Banner,
            deadline: now,
            data: Vec::new(),
            flight_until: None,
        };
        out.push(Out::Send(to_segment(&handshake::complete(seg))));
        start(
            &mut c,
            plan[0],
            &cfg,
            seg.dst,
            key,
            now,
            now + PORT_DEADLINE,
            out,
        );
        self.entries.insert(
            key,
            Entry {
                reply,
                since: now,
                src: seg.dst,
                plan,
                conns: vec![c],
                next: 1,
                wave: 0,
                stop: false,
                first_banner: None,
                sent_data: false,
                server_closed: false,
                provisional: None,
                named: None,
                decided: false,
                accepts_legacy: None,
                wake: now,
            },
        );
        self.settle(now, key, out);
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
        let cfg = self.cfg;
        let Some(e) = self.entries.get_mut(&key) else {
            return Taken::No;
        };
        let end = e.deadline();
        let src = e.src;
        let Some(ci) = e.conns.iter().position(|c| {
            c.sport == seg.dport
                && c.connected()
                && handshake::ack_is_ours(seg.ack, c.isn, c.hello_len)
        }) else {
            return Taken::No;
        };
        if seg.flags & tcp::SYN != 0 {
            return Taken::No;
        }
        let c = &mut e.conns[ci];
        let Some(attempt) = c.attempt else {
            // The capped ClientHello's connection: a ServerHello of TLS 1.1
            // or older is a deprecated version accepted; an alert, a reset
            // or a close is a refusal.
            if wire_len > 0 && seg.seq == c.rcv_next {
                let take = seg.payload.len().min(DATA_MAX - c.data.len());
                c.data.extend_from_slice(&seg.payload[..take]);
                c.rcv_next = c.rcv_next.wrapping_add(wire_len as u32);
            }
            let f = tls::read(&c.data, None);
            let over = f.version.is_some()
                || f.complete
                || c.data.len() >= DATA_MAX
                || seg.flags & (tcp::FIN | tcp::RST) != 0;
            if over {
                if seg.flags & tcp::RST == 0 {
                    out.push(Out::Send(to_segment(&handshake::close(seg))));
                }
                c.phase = Phase::Over;
                c.data = Vec::new();
                e.accepts_legacy = match f.version {
                    Some(0x0301) => Some("TLSv1.0"),
                    Some(0x0302) => Some("TLSv1.1"),
                    Some(0x0300) => Some("SSLv3"),
                    _ => None,
                };
                self.settle(now, key, out);
            }
            return Taken::Yes;
        };
        if seg.flags & tcp::RST != 0 {
            // Reset. Before our hello reached it, the service (or a
            // firewall) refuses everyone: no other hello will fare better.
            // After it read our hello, it may be a service that refuses
            // other protocols' hellos (mosquitto resets a TLS ClientHello):
            // the other attempts go on.
            let read_hello =
                c.hello_len > 0 && seg.flags & tcp::ACK != 0 && seg.ack != c.isn.wrapping_add(1);
            if !read_hello {
                e.stop = true;
            }
            conn_over(e, ci, key, false, out);
            self.settle(now, key, out);
            return Taken::Yes;
        }
        let tls_hello = c.hello == Some(Hello::Tls);
        if wire_len > 0 && seg.seq == c.rcv_next {
            let max = if tls_hello { tls::FLIGHT_MAX } else { DATA_MAX };
            let take = seg.payload.len().min(max - c.data.len());
            c.data.extend_from_slice(&seg.payload[..take]);
            // A TLS flight is followed: acknowledge only what was captured
            // (the server sends the rest again); other replies need only
            // their first bytes.
            let got = if tls_hello { take } else { wire_len };
            c.rcv_next = c.rcv_next.wrapping_add(got as u32);
            e.sent_data = true;
            if let Some(id) = identify(&c.data, c.hello, key.1) {
                if tls_hello && id.protocol == "tls" {
                    let flight = read_flight(cfg.key, src, key, c);
                    let until = *c
                        .flight_until
                        .get_or_insert((now + TLS_FLIGHT_WAIT).min(end));
                    if !flight.complete && c.data.len() < tls::FLIGHT_MAX && now < until {
                        // More of the flight to come: acknowledge it as a
                        // client would, so that the server goes on.
                        out.push(Out::Send(ack_of(c, src, key)));
                        c.deadline = until.min(now + cfg.max_wait);
                        e.wake = e.wake.min(c.deadline);
                        return Taken::Yes;
                    }
                }
                out.push(Out::Send(to_segment(&handshake::close(seg))));
                self.named_on(now, key, ci, attempt, id, true, out);
                return Taken::Yes;
            }
            if c.data.len() >= max {
                // As much as is kept, and it names nothing.
                out.push(Out::Send(to_segment(&handshake::close(seg))));
                conn_over(e, ci, key, false, out);
                self.settle(now, key, out);
                return Taken::Yes;
            }
            c.deadline = c.deadline.min(now + LINGER);
        }
        if seg.flags & tcp::FIN != 0 {
            e.server_closed = true;
            out.push(Out::Send(to_segment(&handshake::close(seg))));
            if c.flight_until.is_some() {
                // The server closed in the middle of its flight: what it sent.
                self.flight_over(now, key, ci, out);
                return Taken::Yes;
            }
            // Closed. If the service read our hello first, it may be one
            // that refuses other protocols' hellos (redis closes on an HTTP
            // request): the other attempts go on. If it closed without
            // reading anything, it closes on everyone.
            let read_hello = c.hello_len > 0 && seg.ack != c.isn.wrapping_add(1);
            if !read_hello {
                e.stop = true;
            }
            conn_over(e, ci, key, false, out);
            self.settle(now, key, out);
            return Taken::Yes;
        }
        self.settle(now, key, out);
        Taken::Yes
    }

    /// Advance the clock: send hellos after banner waits, open the waves of
    /// further connections, give up connections and ports whose time is
    /// over.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<Out>) {
        let due: Vec<Key> = self
            .entries
            .iter()
            .filter(|(_, e)| e.wake <= now)
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let cfg = self.cfg;
            let Some(e) = self.entries.get_mut(&key) else {
                continue;
            };
            let end = e.deadline();
            let src = e.src;
            for ci in 0..e.conns.len() {
                let c = &e.conns[ci];
                if !c.in_flight() || c.deadline > now {
                    continue;
                }
                if c.flight_until.is_some() {
                    // The flight's time is over: what arrived of it.
                    out.push(Out::Send(rst_of(c, src, key)));
                    self.flight_over(now, key, ci, out);
                    break;
                }
                let a = c.attempt.map(|i| e.plan[i]);
                match (c.phase, a.and_then(|a| a.hello)) {
                    (Phase::Banner, Some(h)) if c.data.is_empty() && now < end => {
                        let wait = wait_of(a.map_or(0, |a| a.reply_wait_ms), cfg.max_wait);
                        send_hello(
                            &mut e.conns[ci],
                            h,
                            &cfg,
                            src,
                            key,
                            (now + wait).min(end),
                            out,
                        );
                    }
                    _ => conn_over(e, ci, key, true, out),
                }
            }
            self.settle(now, key, out);
        }
        self.expire_late(now);
    }

    /// End every session now (the scan is over): each port is done with
    /// what it has.
    pub fn flush(&mut self, out: &mut Vec<Out>) {
        let keys: Vec<Key> = self.entries.keys().copied().collect();
        for key in keys {
            self.end_port(key, out);
        }
    }

    /// A name was read on connection `ci` (attempt `rank`), which the
    /// caller has closed; `whole`: its TLS flight (if any) arrived whole.
    #[allow(clippy::too_many_arguments)]
    fn named_on(
        &mut self,
        now: Instant,
        key: Key,
        ci: usize,
        rank: usize,
        id: Identified,
        whole: bool,
        out: &mut Vec<Out>,
    ) {
        let cfg = self.cfg;
        let Some(e) = self.entries.get_mut(&key) else {
            return;
        };
        let src = e.src;
        let c = &mut e.conns[ci];
        c.phase = Phase::Over;
        c.flight_until = None;
        let sent = c.hello;
        let mut name = Name {
            rank,
            id: Box::new(id),
            tls: None,
            legacy_check: false,
        };
        if sent == Some(Hello::Tls) && name.id.protocol == "tls" {
            let flight = read_flight(cfg.key, src, key, c);
            name.legacy_check = whole && matches!(flight.version, Some(0x0303 | 0x0304));
            name.tls = tls::facts(&flight).map(Box::new);
        }
        e.conns[ci].data = Vec::new();
        if is_refusal(&name.id, sent) {
            // Provisional: a TLS attempt may say more.
            if e.provisional.as_ref().is_none_or(|p| rank < p.rank) {
                e.provisional = Some(name);
            }
        } else if e.named.as_ref().is_none_or(|n| rank < n.rank) {
            // Later attempts cannot do better: they end.
            for i in 0..e.conns.len() {
                if e.conns[i].in_flight() && e.conns[i].attempt.is_some_and(|a| a > rank) {
                    conn_over(e, i, key, true, out);
                }
            }
            e.named = Some(name);
        }
        self.settle(now, key, out);
    }

    /// A TLS flight followed for its certificate ends (time, close) before
    /// it was whole: the port is named with what arrived (version and
    /// cipher at least).
    fn flight_over(&mut self, now: Instant, key: Key, ci: usize, out: &mut Vec<Out>) {
        let Some(e) = self.entries.get_mut(&key) else {
            return;
        };
        let c = &mut e.conns[ci];
        c.flight_until = None;
        let rank = c.attempt.unwrap_or(0);
        match identify(&c.data, c.hello, key.1) {
            Some(id) => {
                // The caller sent the RST. A broken flight gets no legacy
                // check (the server is slow or gone).
                c.phase = Phase::Over;
                self.named_on(now, key, ci, rank, id, false, out)
            }
            None => {
                conn_over(e, ci, key, false, out);
                self.settle(now, key, out);
            }
        }
    }

    /// Look at a port after a change: finish it, or open further
    /// connections, and set when to look again.
    fn settle(&mut self, now: Instant, key: Key, out: &mut Vec<Out>) {
        let cfg = self.cfg;
        let frugal = self.frugal;
        let verdict = self.verdict(key.0);
        // Whether the host may yet prove a middlebox: not when the scan
        // probes too few ports to show one, nor once one of its ports
        // named something or was closed by its server.
        let counts = self.host_counts(key.0);
        let may_prove_pseudo = cfg.rule.can_judge_pseudo(cfg.ports_per_host)
            && counts.identified == 0
            && counts.closed == 0;
        let Some(e) = self.entries.get_mut(&key) else {
            return;
        };
        let end = e.deadline();
        if now >= end {
            self.end_port(key, out);
            return;
        }
        if let Some(n) = &e.named {
            // Final once no earlier attempt is in flight (their order is
            // their priority).
            let rank = n.rank;
            let legacy_check = n.legacy_check;
            let earlier = e
                .conns
                .iter()
                .any(|c| c.in_flight() && c.attempt.is_some_and(|a| a < rank));
            if !e.decided && !earlier {
                e.decided = true;
                let cap = MAX_CONNECTIONS.min(cfg.sport_count as usize);
                if legacy_check && e.conns.len() < cap && end > now + MIN_LEFT {
                    // Does it still accept TLS 1.0 or 1.1?
                    let sport = e.next_sport(&cfg);
                    e.conns.push(Conn {
                        attempt: None,
                        sport,
                        isn: 0,
                        rcv_next: 0,
                        hello: None,
                        hello_len: 0,
                        phase: Phase::SynSent,
                        deadline: (now + SYN_WAIT).min(end),
                        data: Vec::new(),
                        flight_until: None,
                    });
                    out.push(Out::Syn {
                        src: e.src,
                        dst: key.0,
                        sport,
                        dport: key.1,
                    });
                }
            }
            if e.decided && !e.in_flight() {
                let n = e.named.take();
                self.finish(key, n, out);
                return;
            }
            e.wake = e
                .conns
                .iter()
                .filter(|c| c.in_flight())
                .map(|c| c.deadline)
                .min()
                .unwrap_or(end)
                .min(end);
            return;
        }
        // Further connections: the waves that are due, and the next one at
        // once when nothing is in flight.
        let cap = MAX_CONNECTIONS
            .min(cfg.sport_count as usize)
            .min(e.plan.len());
        // After a provisional name (an HTTP 400, a TLS alert), only the
        // TLS attempt may still say more.
        let may_open = |e: &Entry| {
            !e.stop
                && !frugal
                && !e.conns.iter().any(|c| c.flight_until.is_some())
                && verdict == Verdict::Real
                && e.next < e.plan.len()
                && e.conns.len() < cap
                && end > now + MIN_LEFT
                && (e.provisional.is_none() || e.plan[e.next].hello == Some(Hello::Tls))
        };
        if e.provisional.is_some()
            && let Some(i) = e
                .plan
                .get(e.next..)
                .and_then(|rest| rest.iter().position(|a| a.hello == Some(Hello::Tls)))
        {
            // Straight to the TLS attempt (nginx's TLS port answers the
            // memcached hello with a 400 as it does HTTP).
            e.next += i;
        }
        while let Some(at) = WAVE_AT.get(e.wave) {
            if now >= e.since + *at || (!e.in_flight() && may_open(e)) {
                e.wave += 1;
            } else {
                break;
            }
        }
        while may_open(e) && e.conns.len() < WAVE_CONNS[e.wave] {
            let sport = e.next_sport(&cfg);
            e.conns.push(Conn {
                attempt: Some(e.next),
                sport,
                isn: 0,
                rcv_next: 0,
                hello: None,
                hello_len: 0,
                phase: Phase::SynSent,
                deadline: (now + SYN_WAIT).min(end),
                data: Vec::new(),
                flight_until: None,
            });
            e.next += 1;
            out.push(Out::Syn {
                src: e.src,
                dst: key.0,
                sport,
                dport: key.1,
            });
        }
        if !e.in_flight() && !may_open(e) {
            // Nothing more to learn here. A silent port of a host that may
            // yet prove a middlebox waits for its deadline (the host's
            // other ports may come meanwhile). A port whose server closed
            // a connection itself is not silent: it shows an application.
            let silent = !e.sent_data && !e.server_closed && e.provisional.is_none();
            if !(silent && verdict == Verdict::Real && may_prove_pseudo) {
                self.finish(key, None, out);
                return;
            }
        }
        let mut wake = end;
        for c in e.conns.iter().filter(|c| c.in_flight()) {
            wake = wake.min(c.deadline);
        }
        if may_open(e)
            && let Some(at) = WAVE_AT.get(e.wave)
        {
            wake = wake.min(e.since + *at);
        }
        e.wake = wake;
    }

    /// The port's time is over (or the scan's): reset what is still open,
    /// and it is done with what arrived (the earliest attempt's name).
    fn end_port(&mut self, key: Key, out: &mut Vec<Out>) {
        let cfg = self.cfg;
        let Some(e) = self.entries.get_mut(&key) else {
            return;
        };
        let src = e.src;
        for c in e.conns.iter_mut().filter(|c| c.in_flight()) {
            if c.connected() {
                out.push(Out::Send(rst_of(c, src, key)));
            }
            c.phase = Phase::Over;
            let Some(rank) = c.attempt else {
                continue;
            };
            if c.data.is_empty() {
                continue;
            }
            match identify(&c.data, c.hello, key.1) {
                Some(id) if e.named.as_ref().is_none_or(|n| rank < n.rank) => {
                    let tls = if c.hello == Some(Hello::Tls) && id.protocol == "tls" {
                        tls::facts(&read_flight(cfg.key, src, key, c)).map(Box::new)
                    } else {
                        None
                    };
                    e.named = Some(Name {
                        rank,
                        id: Box::new(id),
                        tls,
                        legacy_check: false,
                    });
                }
                Some(_) => {}
                None => {
                    if e.first_banner.is_none() {
                        e.first_banner = Some(raw_banner(&c.data));
                    }
                }
            }
        }
        let n = e.named.take();
        self.finish(key, n, out);
    }

    fn finish(&mut self, key: Key, name: Option<Name>, out: &mut Vec<Out>) {
        let Some(mut e) = self.entries.remove(&key) else {
            return;
        };
        let name = name.or_else(|| e.provisional.take());
        if let Some(h) = self.hosts.get_mut(&key.0) {
            if name.is_some() {
                h.identified = h.identified.saturating_add(1);
            } else if e.server_closed {
                h.closed = h.closed.saturating_add(1);
            }
        }
        let banner = if name.is_some() {
            None
        } else {
            e.first_banner.take()
        };
        let pseudo = name.is_none()
            && !e.sent_data
            && !e.server_closed
            && self.verdict(key.0) == Verdict::Pseudo;
        let connections = e.conns.len() as u8;
        let (identified, tls) = match name {
            Some(n) => (Some(*n.id), n.tls),
            None => (None, None),
        };
        let accepts_legacy = if tls.is_some() {
            e.accepts_legacy
        } else {
            None
        };
        out.push(Out::Done(Box::new(Done {
            reply: e.reply,
            identified,
            banner,
            pseudo,
            tls,
            accepts_legacy,
            connections,
        })));
        if e.conns.len() > 1 {
            // Its further connections' SYN-ACKs may still come.
            self.remember_late(key, e.deadline());
        }
    }

    /// `key` was done at `at`: SYN-ACKs that still come for it are reset.
    fn remember_late(&mut self, key: Key, at: Instant) {
        while self.late.len() >= self.cfg.capacity.max(1) {
            if let Some((_, k)) = self.late.pop_front() {
                self.late_set.remove(&k);
            }
        }
        self.late.push_back((at, key));
        self.late_set.insert(key, at);
    }

    /// Forget ports done more than [`LATE`] ago.
    fn expire_late(&mut self, now: Instant) {
        while let Some(&(at, k)) = self.late.front() {
            if now.saturating_duration_since(at) < LATE {
                break;
            }
            self.late.pop_front();
            if self.late_set.get(&k) == Some(&at) {
                self.late_set.remove(&k);
            }
        }
    }
}

/// Connection `ci` of `e` ends without a name (`close`: we still hold it
/// and must reset it). Data it got that names nothing stops further
/// connections: the service answers every hello the same.
fn conn_over(e: &mut Entry, ci: usize, key: Key, close: bool, out: &mut Vec<Out>) {
    let src = e.src;
    let c = &mut e.conns[ci];
    if close && c.connected() {
        out.push(Out::Send(rst_of(c, src, key)));
    }
    c.phase = Phase::Over;
    c.flight_until = None;
    if !c.data.is_empty() && c.attempt.is_some() {
        if e.first_banner.is_none() {
            e.first_banner = Some(raw_banner(&c.data));
        }
        e.stop = true;
    }
    c.data = Vec::new();
}

/// The X25519 secret of connection `c` from `src` to `key` (see
/// [`tls::client_secret`]): its ClientHello carried its public key. It is
/// also the random field of every other hello: keyed by the scan's secret
/// and the connection, so the table draws no randomness of its own and a
/// replay of the same segments sends the same bytes.
fn tls_secret(k: CookieKey, src: Host, key: Key, c: &Conn) -> [u8; 32] {
    tls::client_secret(k.k0, k.k1, src, key.0, c.sport, key.1)
}

/// What the TLS flight captured on connection `c` shows.
fn read_flight(k: CookieKey, src: Host, key: Key, c: &Conn) -> tls::Flight {
    let secret = tls_secret(k, src, key, c);
    let hello = Hello::Tls.payload(key.0, secret);
    tls::read(
        &c.data,
        Some(tls::Client {
            secret,
            hello: &hello[5..],
        }),
    )
}

/// A pure acknowledgement of everything received on connection `c`.
fn ack_of(c: &Conn, src: Host, key: Key) -> Segment {
    Segment {
        src,
        dst: key.0,
        sport: c.sport,
        dport: key.1,
        seq: c.isn.wrapping_add(1).wrapping_add(c.hello_len as u32),
        ack: c.rcv_next,
        flags: tcp::ACK,
        payload: Vec::new(),
    }
}

/// Data on connection `c` (its first and only: the hello).
fn data_of(c: &Conn, src: Host, key: Key, payload: Vec<u8>) -> Segment {
    Segment {
        src,
        dst: key.0,
        sport: c.sport,
        dport: key.1,
        seq: c.isn.wrapping_add(1),
        ack: c.rcv_next,
        flags: tcp::PSH | tcp::ACK,
        payload,
    }
}

/// A name that a TLS hello may improve on: an HTTP 400 to a hello that was
/// not TLS (nginx answers any plain bytes on its TLS ports with one), or a
/// TLS alert to a hello that was not TLS (TLS, but which version?).
fn is_refusal(id: &Identified, sent: Option<Hello>) -> bool {
    (id.protocol == "http"
        && sent != Some(Hello::Tls)
        && (id.banner.starts_with(b"HTTP/1.1 400") || id.banner.starts_with(b"HTTP/1.0 400")))
        || (id.protocol == "tls" && id.detail.is_none() && sent != Some(Hello::Tls))
}

fn wait_of(ms: u32, max: Duration) -> Duration {
    Duration::from_millis(ms as u64).min(max)
}

/// Connection `c` is connected (its ACK is out): listen for the attempt's
/// banner wait (its hello follows from [`Sessions::tick`]), or send its
/// hello at once when it has no wait; never past `end`.
#[allow(clippy::too_many_arguments)]
fn start(
    c: &mut Conn,
    a: Attempt,
    cfg: &Config,
    src: Host,
    key: Key,
    now: Instant,
    end: Instant,
    out: &mut Vec<Out>,
) {
    c.data.clear();
    c.phase = Phase::Banner;
    match a.hello {
        Some(h) if a.banner_wait_ms == 0 => {
            let wait = wait_of(a.reply_wait_ms, cfg.max_wait);
            send_hello(c, h, cfg, src, key, (now + wait).min(end), out);
        }
        _ => c.deadline = (now + wait_of(a.banner_wait_ms, cfg.max_wait)).min(end),
    }
}

fn send_hello(
    c: &mut Conn,
    h: Hello,
    cfg: &Config,
    src: Host,
    key: Key,
    deadline: Instant,
    out: &mut Vec<Out>,
) {
    let random = tls_secret(cfg.key, src, key, c);
    let payload = h.payload(key.0, random);
    c.hello = Some(h);
    c.hello_len = payload.len();
    c.phase = Phase::Reply;
    c.deadline = deadline;
    out.push(Out::Send(data_of(c, src, key, payload)));
}

/// The RST that ends our side of connection `c`.
fn rst_of(c: &Conn, src: Host, key: Key) -> Segment {
    Segment {
        src,
        dst: key.0,
        sport: c.sport,
        dport: key.1,
        seq: c.isn.wrapping_add(1).wrapping_add(c.hello_len as u32),
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
    use crate::identify::plan::LISTEN_FIRST_MS;

    /// How long a client-first attempt listens before its hello.
    const LISTEN: Duration = Duration::from_millis(LISTEN_FIRST_MS as u64);

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
            ports_per_host: 0,
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

    /// Of these records, those of host `h` that say pseudo.
    fn pseudo_on(d: &[&Done], h: u32) -> usize {
        d.iter()
            .filter(|d| d.reply.target == ip(h) && d.pseudo)
            .count()
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
    fn client_first_port_gets_its_hello_after_listening_a_moment() {
        let mut t = table(8);
        let t0 = Instant::now();
        let mut out = Vec::new();
        t.on_syn_ack(t0, &syn_ack(HOST, 6379, BASE), reply(HOST, 6379), &mut out);
        let s = sends(&out);
        assert_eq!(s.len(), 1, "the ACK, then a moment's listening");
        assert_eq!(s[0].flags, tcp::ACK);
        out.clear();
        t.tick(t0 + LISTEN - Duration::from_millis(1), &mut out);
        assert!(out.is_empty());
        let now = t0 + LISTEN;
        t.tick(now, &mut out);
        let s = sends(&out);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].flags, tcp::PSH | tcp::ACK);
        assert_eq!(s[0].payload, b"PING\r\nINFO server\r\n");
        let len = s[0].payload.len() as u32;
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

    /// How a simulated service behaves on every connection to its port.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Peer {
        /// SYN-ACKs every SYN, then never sends nor closes: a listener that
        /// never accepts, one that never reads, a silent middlebox.
        Silent,
        /// SYN-ACKs the probe only; further SYNs go unanswered.
        OneSynAck,
        /// Accepts and closes at once (a FIN before our hello).
        CloseAtOnce,
        /// A line at once, then every 2 s, on every connection, forever.
        Tarpit,
        /// The same, its first line after 2 s.
        SlowTarpit,
        /// A megabyte at once on every connection.
        Flood,
        /// Answers `hello` with these bytes; silent to anything else.
        Only(Hello, &'static [u8]),
        /// Answers `hello` with the first bytes, any other hello with the
        /// second.
        Each(Hello, &'static [u8], &'static [u8]),
    }

    fn is_hello(h: Hello, payload: &[u8]) -> bool {
        match h {
            Hello::Tls => payload.first() == Some(&0x16),
            _ => payload == h.payload(IpAddr::V4(HOST.into()), [0; 32]),
        }
    }

    /// Our ISN on the connection from `sport` (distinct per connection).
    fn isn(sport: u16) -> u32 {
        ISN ^ ((sport as u32) << 12)
    }

    /// A simulated scan of one port of `HOST` in 10 ms steps until `until`:
    /// the peer answers what the table sends. Returns every Done with the
    /// time it came, the SYNs sent, and every Out.
    struct Sim {
        t: Sessions,
        port: u16,
        peer: Peer,
        t0: Instant,
        /// Per source port: (their next seq, our hello's length, alive).
        conns: HashMap<u16, (u32, u32, bool, Instant)>,
        dones: Vec<(Duration, Done)>,
        syns: Vec<u16>,
        /// When each SYN went out.
        syn_at: Vec<Duration>,
        all: Vec<Out>,
        /// Most bytes the table kept on one connection at any time.
        max_kept: usize,
    }

    impl Sim {
        fn new(t: Sessions, port: u16, peer: Peer) -> Sim {
            Sim {
                t,
                port,
                peer,
                t0: Instant::now(),
                conns: HashMap::new(),
                dones: Vec::new(),
                syns: Vec::new(),
                syn_at: Vec::new(),
                all: Vec::new(),
                max_kept: 0,
            }
        }

        fn connect(&mut self, now: Instant, sport: u16, out: &mut Vec<Out>) {
            let s = seg(
                HOST,
                self.port,
                sport,
                tcp::SYN | tcp::ACK,
                SEQ,
                isn(sport) + 1,
                &[],
            );
            self.t.on_syn_ack(now, &s, reply(HOST, self.port), out);
            self.conns.insert(sport, (SEQ + 1, 0, true, now));
        }

        fn data(
            &mut self,
            now: Instant,
            sport: u16,
            flags: u8,
            payload: &[u8],
            out: &mut Vec<Out>,
        ) -> Taken {
            let Some(&(seq, hl, alive, at)) = self.conns.get(&sport) else {
                return Taken::No;
            };
            if !alive {
                return Taken::No;
            }
            let s = seg(
                HOST,
                self.port,
                sport,
                flags,
                seq,
                isn(sport) + 1 + hl,
                payload,
            );
            let taken = self.t.on_segment(now, &s, payload.len(), out);
            let next = seq + payload.len() as u32 + u32::from(flags & tcp::FIN != 0);
            self.conns.insert(sport, (next, hl, alive, at));
            taken
        }

        /// Play the table's outputs against the peer until nothing new.
        fn play(&mut self, now: Instant, mut out: Vec<Out>) {
            while !out.is_empty() {
                let mut next = Vec::new();
                for o in out.drain(..) {
                    self.all.push(o.clone());
                    match o {
                        Out::Syn { sport, dport, .. } => {
                            assert_eq!(dport, self.port);
                            assert!(!self.syns.contains(&sport), "a source port used twice");
                            self.syns.push(sport);
                            self.syn_at.push(now - self.t0);
                            if self.peer != Peer::OneSynAck {
                                self.connect(now, sport, &mut next);
                                self.on_connect(now, sport, &mut next);
                            }
                        }
                        Out::Send(s) => {
                            if s.flags & tcp::RST != 0 {
                                if let Some(c) = self.conns.get_mut(&s.sport) {
                                    c.2 = false;
                                }
                            } else if !s.payload.is_empty() {
                                if let Some(c) = self.conns.get_mut(&s.sport) {
                                    c.1 = s.payload.len() as u32;
                                }
                                let answer = match self.peer {
                                    Peer::Only(h, bytes) if is_hello(h, &s.payload) => Some(bytes),
                                    Peer::Each(h, bytes, _) if is_hello(h, &s.payload) => {
                                        Some(bytes)
                                    }
                                    Peer::Each(_, _, other) => Some(other),
                                    _ => None,
                                };
                                if let Some(bytes) = answer {
                                    self.data(now, s.sport, tcp::PSH | tcp::ACK, bytes, &mut next);
                                }
                            }
                        }
                        Out::Done(d) => self.dones.push((now - self.t0, *d)),
                    }
                }
                for e in self.t.entries.values() {
                    for c in &e.conns {
                        self.max_kept = self.max_kept.max(c.data.len());
                    }
                }
                out = next;
            }
        }

        fn on_connect(&mut self, now: Instant, sport: u16, out: &mut Vec<Out>) {
            match self.peer {
                Peer::Tarpit => {
                    self.data(now, sport, tcp::PSH | tcp::ACK, b"X-Tarpit: slow\r\n", out);
                }
                Peer::CloseAtOnce => {
                    self.data(now, sport, tcp::FIN | tcp::ACK, &[], out);
                }
                Peer::Flood => {
                    let junk = [0xa5u8; 1460];
                    for _ in 0..700 {
                        if self.data(now, sport, tcp::ACK, &junk, out) == Taken::No {
                            break;
                        }
                    }
                }
                _ => {}
            }
        }

        /// The probe's SYN-ACK at t0, then 10 ms steps until `until`.
        fn run(mut self, until: Duration) -> Sim {
            let mut out = Vec::new();
            let t0 = self.t0;
            self.connect(t0, BASE, &mut out);
            self.on_connect(t0, BASE, &mut out);
            self.play(t0, out);
            for ms in (10..=until.as_millis() as u64).step_by(10) {
                let now = t0 + Duration::from_millis(ms);
                let mut out = Vec::new();
                if matches!(self.peer, Peer::Tarpit | Peer::SlowTarpit) && ms % 2000 == 0 {
                    let alive: Vec<u16> =
                        self.conns.iter().filter(|c| c.1.2).map(|c| *c.0).collect();
                    for sport in alive {
                        self.data(
                            now,
                            sport,
                            tcp::PSH | tcp::ACK,
                            b"X-Tarpit: slow\r\n",
                            &mut out,
                        );
                    }
                }
                self.t.tick(now, &mut out);
                self.play(now, out);
            }
            self
        }

        /// The single Done; checks the promises every port keeps.
        fn done(&self) -> &Done {
            assert_eq!(self.dones.len(), 1, "{:?}", self.dones);
            let (at, d) = &self.dones[0];
            assert!(*at <= PORT_DEADLINE, "done after {at:?}");
            assert!(
                self.syns.len() < MAX_CONNECTIONS,
                "{} SYNs",
                self.syns.len()
            );
            assert_eq!(d.connections as usize, 1 + self.syns.len());
            assert!(self.max_kept <= tls::FLIGHT_MAX);
            assert!(self.t.is_empty());
            d
        }

        fn at(&self) -> Duration {
            self.dones[0].0
        }
    }

    #[test]
    fn a_silent_port_gets_its_attempts_side_by_side_and_is_done_by_its_deadline() {
        let s = Sim::new(table(8), 22, Peer::Silent).run(Duration::from_secs(5));
        let d = s.done();
        assert_eq!(
            (d.identified.as_ref(), d.banner.as_ref(), d.pseudo),
            (None, None, false)
        );
        // Five connections in all, each from its own source port.
        assert_eq!(s.syns, [BASE + 1, BASE + 2, BASE + 3, BASE + 4]);
        // Two waves: two SYNs together at 500 ms, two more at 1200 ms.
        let ms = |m| Duration::from_millis(m);
        assert_eq!(s.syn_at, [ms(500), ms(500), ms(1200), ms(1200)]);
        // Every hello of the schedule went out, each on its own connection.
        let hellos: Vec<(u16, Vec<u8>)> = sends(&s.all)
            .iter()
            .filter(|x| !x.payload.is_empty())
            .map(|x| (x.sport, x.payload.clone()))
            .collect();
        let plan = schedule(22, true);
        assert_eq!(hellos.len(), plan.len());
        for (sport, p) in &hellos {
            // Attempt i on the i-th source port from the probe's.
            let h = plan[(sport - BASE) as usize].hello.unwrap();
            assert!(is_hello(h, p), "{h:?} on {sport}");
        }
        // No hello sent twice on one connection.
        let mut sp: Vec<u16> = hellos.iter().map(|h| h.0).collect();
        sp.sort_unstable();
        sp.dedup();
        assert_eq!(sp.len(), hellos.len());
        // Every connection reset at the end (one RST each).
        let rsts = sends(&s.all).iter().filter(|x| x.flags == tcp::RST).count();
        assert_eq!(rsts, MAX_CONNECTIONS);
        assert!(
            s.at() > Duration::from_millis(2000),
            "the attempts had their time"
        );
    }

    #[test]
    fn syn_acks_of_ports_held_are_follow_ups() {
        let mut t = table(8);
        let now = Instant::now();
        let mut out = Vec::new();
        let ip = IpAddr::V4(HOST.into());
        let key = (ip, 22);
        assert!(!t.is_follow_up(key), "a probe's answer");
        t.on_syn_ack(now, &syn_ack(HOST, 22, BASE), reply(HOST, 22), &mut out);
        assert!(
            t.is_follow_up(key),
            "held: a further connection's or sent again"
        );
        assert!(!t.is_follow_up((ip, 23)));
    }

    #[test]
    fn a_frugal_table_opens_no_further_connection() {
        let mut t = table(8);
        t.set_frugal(true);
        let s = Sim::new(t, 22, Peer::Silent).run(Duration::from_secs(5));
        let d = s.done();
        assert!(s.syns.is_empty(), "{:?}", s.syns);
        assert_eq!((d.connections, d.identified.as_ref()), (1, None));
        assert!(s.at() <= PORT_DEADLINE);
    }

    #[test]
    fn uncooperative_services_cost_bounded_time_memory_and_claim_nothing() {
        for peer in [
            Peer::Silent,
            Peer::OneSynAck,
            Peer::CloseAtOnce,
            Peer::Tarpit,
            Peer::SlowTarpit,
            Peer::Flood,
        ] {
            for port in [21, 80, 443, 6379, 47_123] {
                let s = Sim::new(table(8), port, peer).run(Duration::from_secs(8));
                let d = s.done();
                assert_eq!(d.identified, None, "{peer:?} on {port}");
                assert!(d.tls.is_none() && d.accepts_legacy.is_none());
                // A TLS ClientHello's connection keeps a flight's worth.
                let max = if port == 443 {
                    tls::FLIGHT_MAX
                } else {
                    DATA_MAX
                };
                assert!(s.max_kept <= max, "{peer:?}: {} bytes kept", s.max_kept);
                if let Some(b) = &d.banner {
                    assert!(b.len() <= crate::identify::BANNER_MAX);
                }
                match peer {
                    // It closes on everyone: no further connection.
                    Peer::CloseAtOnce => assert!(s.syns.is_empty(), "{port}"),
                    // It answers every hello the same: no further connection
                    // once it spoke (the first wave may be out already).
                    Peer::Flood => {
                        assert!(s.syns.is_empty(), "{port}");
                        assert_eq!(d.banner.as_deref(), Some(&[0xa5u8; 256][..]));
                    }
                    Peer::Tarpit => {
                        assert!(s.syns.is_empty(), "{port}: {:?}", s.syns);
                        assert_eq!(d.banner.as_deref(), Some(&b"X-Tarpit: slow"[..]));
                        assert!(s.at() <= LINGER + Duration::from_millis(10));
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn a_service_that_closes_without_reading_gets_no_further_connection() {
        // Accept and close at once: nothing further, done by the deadline
        // (held until then: its host might yet prove a middlebox).
        let s = Sim::new(table(8), 80, Peer::CloseAtOnce).run(Duration::from_secs(4));
        assert!(s.done().identified.is_none());
        assert!(s.syns.is_empty());
        // One that read the hello and closed (a service that refuses
        // other protocols' hellos) does not stop the others: with nothing
        // else in flight, the next wave opens at once.
        let mut t = table(8);
        let t0 = Instant::now();
        let now = t0 + LISTEN;
        let mut out = Vec::new();
        t.on_syn_ack(t0, &syn_ack(HOST, 6379, BASE), reply(HOST, 6379), &mut out);
        t.tick(now, &mut out);
        let len = sends(&out).last().unwrap().payload.len() as u32;
        assert!(len > 0, "the hello went out");
        out.clear();
        let fin = seg(
            HOST,
            6379,
            BASE,
            tcp::FIN | tcp::ACK,
            SEQ + 1,
            ISN + 1 + len,
            &[],
        );
        t.on_segment(now + Duration::from_millis(10), &fin, 0, &mut out);
        assert!(
            out.iter()
                .any(|o| matches!(o, Out::Syn { sport, .. } if *sport == BASE + 1))
        );
        assert!(done(&out).is_empty());
    }

    #[test]
    fn fallbacks_reach_a_silent_port_of_another_protocol() {
        // redis on 25 (smtp's port): silent while we listen, then named by
        // the redis hello of the first wave, once the probe's connection
        // (listen, then HTTP: first in the order) gave up.
        let s = Sim::new(table(8), 25, Peer::Only(Hello::Redis, b"+PONG\r\n"))
            .run(Duration::from_secs(4));
        let d = s.done();
        assert_eq!(d.identified.as_ref().unwrap().protocol, "redis");
        assert_eq!(s.at(), Duration::from_millis(2000));
        // MQTT on 110 (pop3's port), named by the second wave (no
        // connection opens once it is named).
        let connack: &[u8] = &[0x20, 0x02, 0x00, 0x00];
        let s =
            Sim::new(table(8), 110, Peer::Only(Hello::Mqtt, connack)).run(Duration::from_secs(4));
        assert_eq!(s.done().identified.as_ref().unwrap().protocol, "mqtt");
        assert_eq!(s.at(), Duration::from_millis(2000));
        assert_eq!(s.syns.len(), MAX_CONNECTIONS - 1);
        // Without fallbacks, only the plan's attempts.
        let mut t = table(8);
        t.cfg.fallbacks = false;
        let s = Sim::new(t, 25, Peer::Only(Hello::Redis, b"+PONG\r\n")).run(Duration::from_secs(4));
        assert!(s.done().identified.is_none());
        assert_eq!(s.syns.len(), 1, "the plan's TLS only");
    }

    #[test]
    fn a_name_ends_the_port_at_once_and_closes_its_other_connections() {
        // A TLS server on a port nobody knows: the probe's connection
        // listens; the first wave's TLS hello names it.
        let mut t = table(8);
        let t0 = Instant::now();
        let mut out = Vec::new();
        t.on_syn_ack(
            t0,
            &syn_ack(HOST, 47_123, BASE),
            reply(HOST, 47_123),
            &mut out,
        );
        out.clear();
        t.tick(t0 + WAVE_AT[0], &mut out);
        let syns: Vec<u16> = out
            .iter()
            .filter_map(|o| match o {
                Out::Syn { sport, .. } => Some(*sport),
                _ => None,
            })
            .collect();
        assert_eq!(syns, [BASE + 1, BASE + 2], "two side by side");
        assert_eq!(t.len(), 1);
        // Only a segment of one of our connections is taken: a SYN-ACK to
        // a source port we did not use is reset and not counted.
        out.clear();
        let at = t0 + Duration::from_millis(510);
        let stray = seg(
            HOST,
            47_123,
            BASE + 9,
            tcp::SYN | tcp::ACK,
            SEQ,
            ISN + 1,
            &[],
        );
        assert_eq!(
            t.on_syn_ack(at, &stray, reply(HOST, 47_123), &mut out),
            Taken::Yes
        );
        assert_eq!(sends(&out)[0].flags, tcp::RST);
        out.clear();
        for sp in [BASE + 1, BASE + 2] {
            let s = seg(HOST, 47_123, sp, tcp::SYN | tcp::ACK, SEQ, isn(sp) + 1, &[]);
            t.on_syn_ack(at, &s, reply(HOST, 47_123), &mut out);
        }
        let at = at + LISTEN;
        t.tick(at, &mut out);
        let tls_hello = sends(&out)
            .iter()
            .find(|s| s.payload.first() == Some(&0x16))
            .map(|s| (s.sport, s.payload.len() as u32))
            .unwrap();
        assert_eq!(tls_hello.0, BASE + 1, "TLS is the second attempt");
        out.clear();
        // A TLS 1.0 flight (ServerHello, ServerHelloDone): no legacy check
        // (it is legacy already).
        let mut hs = crate::identify::tls::tests::server_hello12(0x0301, 0x002f);
        hs.extend_from_slice(&[0x0e, 0, 0, 0]);
        let sh = crate::identify::tls::tests::record(0x16, &hs);
        let s = seg(
            HOST,
            47_123,
            BASE + 1,
            tcp::ACK,
            SEQ + 1,
            isn(BASE + 1) + 1 + tls_hello.1,
            &sh,
        );
        t.on_segment(at, &s, sh.len(), &mut out);
        // Named; the later attempt (redis, on BASE + 2) is reset at once,
        // and the name waits for the probe's connection, earlier in the
        // order (it listens, then sends HTTP).
        let rst_to = |out: &[Out]| -> Vec<u16> {
            sends(out)
                .iter()
                .filter(|s| s.flags == tcp::RST)
                .map(|s| s.sport)
                .collect()
        };
        assert!(rst_to(&out).contains(&(BASE + 2)), "{out:?}");
        assert!(done(&out).is_empty());
        for ms in (620..=1990).step_by(10) {
            t.tick(t0 + Duration::from_millis(ms), &mut out);
        }
        assert!(done(&out).is_empty());
        assert!(
            !out.iter().any(|o| matches!(o, Out::Syn { .. })),
            "no further connection"
        );
        t.tick(t0 + Duration::from_millis(2000), &mut out);
        let d = done(&out);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].identified.as_ref().unwrap().protocol, "tls");
        assert_eq!(d[0].connections, 3);
        // Every connection still open was reset.
        let mut r = rst_to(&out);
        r.sort_unstable();
        assert!(r.contains(&BASE) && r.contains(&(BASE + 2)), "{r:?}");
        assert!(t.is_empty());
        // A late SYN-ACK of the port's further connection is reset, not
        // reported again.
        out.clear();
        let s = seg(
            HOST,
            47_123,
            BASE + 2,
            tcp::SYN | tcp::ACK,
            SEQ,
            isn(BASE + 2) + 1,
            &[],
        );
        t.on_syn_ack(
            t0 + Duration::from_millis(2700),
            &s,
            reply(HOST, 47_123),
            &mut out,
        );
        assert!(done(&out).is_empty() && t.is_empty());
        assert_eq!(sends(&out)[0].flags, tcp::RST);
    }

    #[test]
    fn an_http_400_waits_for_tls_and_the_order_settles_names() {
        // An nginx TLS port answering plain HTTP with a 400 on 8443 (plan:
        // TLS first, then listen and HTTP): the TLS name wins.
        let bad = b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n";
        let s = Sim::new(table(8), 7777, Peer::Only(Hello::Http, bad)).run(Duration::from_secs(4));
        // Only HTTP answers: the 400 is the name, once TLS stayed silent.
        let d = s.done();
        assert_eq!(d.identified.as_ref().unwrap().protocol, "http");
        assert!(s.at() > WAVE_AT[0], "it waited for the TLS attempt");
        // nginx on a port nobody knows answers the first wave's TLS hello
        // with a 400 before the probe's connection (listening, then HTTP)
        // gets its 200: the earlier attempt's name is the port's.
        let ok = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n<title>Welcome</title>";
        let s =
            Sim::new(table(8), 7777, Peer::Each(Hello::Http, ok, bad)).run(Duration::from_secs(4));
        let d = s.done();
        assert_eq!(d.identified.as_ref().unwrap().protocol, "http");
        assert_eq!(d.identified.as_ref().unwrap().banner, b"HTTP/1.1 200 OK");
        assert_eq!(s.at(), Duration::from_millis(1000), "at the 200");
    }

    #[test]
    fn a_tls_port_answering_plain_bytes_with_http_400_is_named_tls() {
        // nginx's TLS port placed on memcached's: the memcached hello and
        // the HTTP request both get a 400; the TLS attempt names it.
        let mut hs = crate::identify::tls::tests::server_hello12(0x0303, 0xc02f);
        hs.extend_from_slice(&[0x0e, 0, 0, 0]);
        let sh: &'static [u8] =
            Box::leak(crate::identify::tls::tests::record(0x16, &hs).into_boxed_slice());
        let bad: &[u8] = b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\n\r\n<title>400 The plain HTTP request was sent to HTTPS port</title>";
        let s =
            Sim::new(table(8), 11211, Peer::Each(Hello::Tls, sh, bad)).run(Duration::from_secs(4));
        let d = s.done();
        assert_eq!(d.identified.as_ref().unwrap().protocol, "tls", "{d:?}");
    }

    #[test]
    fn middleboxes_are_judged_from_the_ports_scanned() {
        // A scan of 5 ports per host: a host answering all five and naming
        // nothing is pseudo on every port; a real host with one silent
        // port of the five is not.
        let mut t = table(1000);
        t.cfg.ports_per_host = 5;
        let t0 = Instant::now();
        let mut out = Vec::new();
        let ports = [21u16, 22, 80, 443, 8080];
        for (i, &p) in ports.iter().enumerate() {
            let at = t0 + Duration::from_millis(200 * i as u64);
            t.tick(at, &mut out);
            t.on_syn_ack(at, &syn_ack(HOST, p, BASE), reply(HOST, p), &mut out);
        }
        t.on_syn_ack(
            t0,
            &syn_ack(HOST + 1, 22, BASE),
            reply(HOST + 1, 22),
            &mut out,
        );
        for ms in (0..=5000).step_by(10) {
            t.tick(t0 + Duration::from_millis(ms), &mut out);
        }
        let d = done(&out);
        assert_eq!(d.len(), 6);
        let mb: Vec<&&Done> = d
            .iter()
            .filter(|d| d.reply.target == IpAddr::V4(HOST.into()))
            .collect();
        assert_eq!(mb.len(), 5);
        assert!(mb.iter().all(|d| d.pseudo), "{mb:?}");
        assert!(
            d.iter()
                .filter(|d| d.reply.target != IpAddr::V4(HOST.into()))
                .all(|d| !d.pseudo)
        );
        assert_eq!(t.pseudo_hosts(), vec![ip(HOST)]);
        assert_eq!(t.host_counts(ip(HOST)).open, 5);
        // Once judged (after the fourth port... the fifth), the middlebox
        // gets no further connection; the first ports' waves were bounded.
        let syns_to = |h: u32| {
            out.iter()
                .filter(|o| matches!(o, Out::Syn { dst, .. } if *dst == ip(h)))
                .count()
        };
        assert!(
            syns_to(HOST) <= 4 * (MAX_CONNECTIONS - 1),
            "{}",
            syns_to(HOST)
        );
        let late_syns = out
            .iter()
            .skip_while(|o| !matches!(o, Out::Done(_)))
            .filter(|o| matches!(o, Out::Syn { dst, .. } if *dst == ip(HOST)))
            .count();
        assert_eq!(late_syns, 0);
        // The real host's silent port tried every attempt.
        assert_eq!(syns_to(HOST + 1), MAX_CONNECTIONS - 1);
        // A named service behind a host that answers everywhere stays
        // real (one named port of twenty scanned).
        let mut t = table(1000);
        t.cfg.ports_per_host = 20;
        let mut out = Vec::new();
        for p in (2000..2019).chain([22]) {
            t.on_syn_ack(t0, &syn_ack(HOST, p, BASE), reply(HOST, p), &mut out);
        }
        let banner = b"SSH-2.0-OpenSSH_9.2p1\r\n";
        let s = seg(
            HOST,
            22,
            BASE,
            tcp::PSH | tcp::ACK,
            SEQ + 1,
            ISN + 1,
            banner,
        );
        t.on_segment(t0, &s, banner.len(), &mut out);
        t.flush(&mut out);
        let d = done(&out);
        let ssh = d.iter().find(|d| d.reply.port == 22).unwrap();
        assert_eq!(
            (ssh.identified.as_ref().unwrap().protocol, ssh.pseudo),
            ("ssh", false)
        );
        assert!(d.iter().filter(|d| d.reply.port != 22).all(|d| d.pseudo));
        // Three ports scanned, all silent: too few to tell.
        let mut t = table(1000);
        t.cfg.ports_per_host = 3;
        let mut out = Vec::new();
        for &p in &ports[..3] {
            t.on_syn_ack(t0, &syn_ack(HOST, p, BASE), reply(HOST, p), &mut out);
        }
        t.flush(&mut out);
        assert!(done(&out).iter().all(|d| !d.pseudo));
    }

    #[test]
    fn a_shard_judges_a_host_by_the_ports_it_probes_there() {
        // A scan of 10 ports per host in shards: this shard probes 5 of
        // HOST's ports and 8 of HOST+1's. HOST answers on all of its 5
        // silently: a middlebox. HOST+1 answers on 5 of its 8: real. Measured
        // by the scan's 10 ports, neither could ever be judged a middlebox.
        let probed = |h: IpAddr| {
            let n = if h == ip(HOST) { 5 } else { 8 };
            Probed {
                total: n,
                so_far: n,
            }
        };
        let run = |ports_of: Option<PortsOf>| {
            let mut t = table(1000);
            t.cfg.ports_per_host = 10;
            if let Some(f) = ports_of {
                t.set_ports_of(f);
            }
            let t0 = Instant::now();
            let mut out = Vec::new();
            for h in [HOST, HOST + 1] {
                for p in [21u16, 22, 80, 443, 8080] {
                    t.on_syn_ack(t0, &syn_ack(h, p, BASE), reply(h, p), &mut out);
                }
            }
            for ms in (0..=5000).step_by(10) {
                t.tick(t0 + Duration::from_millis(ms), &mut out);
            }
            let d = done(&out);
            assert_eq!(d.len(), 10);
            (
                pseudo_on(&d, HOST),
                pseudo_on(&d, HOST + 1),
                t.pseudo_hosts(),
            )
        };
        assert_eq!(run(Some(PortsOf(Arc::new(probed)))), (5, 0, vec![ip(HOST)]));
        assert_eq!(run(None), (0, 0, vec![]));
    }

    #[test]
    fn a_middlebox_is_judged_while_the_first_pass_walks() {
        // A scan of 24 ports per host, its ports coming one by one: the
        // middlebox answers every port probed on it so far, the real host
        // one in two. The middlebox is judged once 8 of its ports were
        // probed (all open): its later ports get no connection beyond the
        // probe's own and come out pseudo; its first ones are pseudo by the
        // end. The real host never is, however its ports come.
        use std::sync::atomic::{AtomicU32, Ordering};
        let so_far = Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
        let live = so_far.clone();
        let ports_of = PortsOf(Arc::new(move |h: IpAddr| Probed {
            total: 24,
            so_far: live[usize::from(h != ip(HOST))].load(Ordering::Relaxed),
        }));
        let mut t = table(1000);
        t.cfg.ports_per_host = 24;
        t.set_ports_of(ports_of);
        let t0 = Instant::now();
        let mut out = Vec::new();
        let mut syns_after_judged = 0;
        for (i, p) in (2000u16..2012).enumerate() {
            let at = t0 + Duration::from_millis(400 * i as u64);
            t.tick(at, &mut out);
            so_far[0].fetch_add(1, Ordering::Relaxed);
            t.on_syn_ack(at, &syn_ack(HOST, p, BASE), reply(HOST, p), &mut out);
            // The real host: two probed for each open port.
            so_far[1].fetch_add(2, Ordering::Relaxed);
            t.on_syn_ack(
                at,
                &syn_ack(HOST + 1, p, BASE),
                reply(HOST + 1, p),
                &mut out,
            );
            if i + 1 == EARLY_MIN as usize {
                assert_eq!(t.verdict(ip(HOST)), Verdict::Pseudo);
                assert_eq!(t.verdict(ip(HOST + 1)), Verdict::Real);
            }
            if i >= EARLY_MIN as usize {
                let before = out.len();
                for ms in (0..400).step_by(10) {
                    t.tick(at + Duration::from_millis(ms), &mut out);
                }
                syns_after_judged += out[before..]
                    .iter()
                    .filter(|o| matches!(o, Out::Syn { dst, .. } if *dst == ip(HOST)))
                    .count();
            }
        }
        for ms in (4400..=12_000).step_by(10) {
            t.tick(t0 + Duration::from_millis(ms), &mut out);
        }
        assert_eq!(syns_after_judged, 0);
        let d = done(&out);
        assert_eq!(d.len(), 24);
        // Every port after the verdict is pseudo as it is written; the first
        // ones waited for their deadline, the verdict came within it.
        assert_eq!(pseudo_on(&d, HOST), 12);
        assert_eq!(pseudo_on(&d, HOST + 1), 0);
        assert_eq!(t.pseudo_hosts(), vec![ip(HOST)]);
        // Without the ports probed so far, 12 open ports of 24 are no
        // middlebox.
        let mut t = table(1000);
        t.cfg.ports_per_host = 24;
        let mut out = Vec::new();
        for p in 2000u16..2012 {
            t.on_syn_ack(t0, &syn_ack(HOST, p, BASE), reply(HOST, p), &mut out);
        }
        assert_eq!(t.verdict(ip(HOST)), Verdict::Real);
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

    /// One event of a fuzzed session: what a hostile network may deliver.
    #[derive(Debug, Clone)]
    enum Ev {
        SynAck {
            host: u8,
            port: u8,
            sport: u8,
        },
        Data {
            host: u8,
            port: u8,
            sport: u8,
            flags: u8,
            seq: u8,
            ack: u8,
            len: u16,
        },
        Tick(u16),
    }

    fn ev() -> impl proptest::strategy::Strategy<Value = Ev> {
        use proptest::prelude::*;
        prop_oneof![
            (0u8..3, 0u8..4, 0u8..6).prop_map(|(host, port, sport)| Ev::SynAck {
                host,
                port,
                sport
            }),
            (
                0u8..3,
                0u8..4,
                0u8..6,
                any::<u8>(),
                0u8..4,
                0u8..4,
                0u16..3000
            )
                .prop_map(|(host, port, sport, flags, seq, ack, len)| Ev::Data {
                    host,
                    port,
                    sport,
                    flags,
                    seq,
                    ack,
                    len
                }),
            (0u16..1500).prop_map(Ev::Tick),
        ]
    }

    /// Drive a table with events; checks after each that it stays within
    /// its capacity and reports every port it opened exactly once.
    fn drive(capacity: usize, events: &[Ev]) {
        const PORTS: [u16; 4] = [22, 443, 6379, 47_123];
        let mut t = table(capacity);
        t.cfg.ports_per_host = 4;
        let t0 = Instant::now();
        let mut now = t0;
        let mut open: HashMap<Key, i32> = HashMap::new();
        let mut out = Vec::new();
        let payload = vec![0x16u8; 3000];
        let check = |t: &Sessions,
                     out: &mut Vec<Out>,
                     open: &mut HashMap<Key, i32>,
                     opened: Option<Key>,
                     now: Instant| {
            if let Some(k) = opened {
                *open.entry(k).or_default() += 1;
            }
            for o in out.drain(..) {
                if let Out::Done(d) = o {
                    let k = (d.reply.target, d.reply.port);
                    let n = open.entry(k).or_default();
                    *n -= 1;
                    assert_eq!(*n, 0, "{k:?} done twice or never opened");
                    assert!(d.connections as usize <= MAX_CONNECTIONS);
                }
            }
            assert!(t.len() <= t.capacity());
            for (k, e) in &t.entries {
                assert_eq!(open.get(k), Some(&1));
                assert!(e.conns.len() <= MAX_CONNECTIONS);
                assert!(now < e.since + PORT_DEADLINE || e.wake <= now);
                for c in &e.conns {
                    assert!(c.data.len() <= tls::FLIGHT_MAX);
                }
            }
        };
        for ev in events {
            match *ev {
                Ev::SynAck { host, port, sport } => {
                    let (h, p, sp) = (
                        HOST + host as u32,
                        PORTS[port as usize],
                        BASE + sport as u16,
                    );
                    let before = t.holds((ip(h), p));
                    let s = seg(h, p, sp, tcp::SYN | tcp::ACK, SEQ, isn(sp) + 1, &[]);
                    t.on_syn_ack(now, &s, reply(h, p), &mut out);
                    let overflow = out.iter().any(|o| matches!(o, Out::Done(d) if d.reply.port == p && d.connections == 1 && d.reply.target == IpAddr::V4(h.into())) ) && !before && !t.holds((ip(h), p));
                    let opened = (!before && t.holds((ip(h), p))) || overflow;
                    check(&t, &mut out, &mut open, opened.then_some((ip(h), p)), now);
                }
                Ev::Data {
                    host,
                    port,
                    sport,
                    flags,
                    seq,
                    ack,
                    len,
                } => {
                    let (h, p, sp) = (
                        HOST + host as u32,
                        PORTS[port as usize],
                        BASE + sport as u16,
                    );
                    let hl = [0u32, 18, 76, 517][ack as usize];
                    let s = seg(
                        h,
                        p,
                        sp,
                        flags,
                        SEQ + 1 + 100 * seq as u32,
                        isn(sp) + 1 + hl,
                        &payload[..(len as usize).min(payload.len())],
                    );
                    t.on_segment(now, &s, len as usize, &mut out);
                    check(&t, &mut out, &mut open, None, now);
                }
                Ev::Tick(ms) => {
                    now += Duration::from_millis(ms as u64);
                    t.tick(now, &mut out);
                    check(&t, &mut out, &mut open, None, now);
                }
            }
        }
        // Every port held is done by its deadline, without a flush.
        now += PORT_DEADLINE;
        t.tick(now, &mut out);
        check(&t, &mut out, &mut open, None, now);
        assert!(t.is_empty(), "{} held past the deadline", t.len());
        assert!(open.values().all(|n| *n == 0), "{open:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(256))]
        #[test]
        fn any_sequence_of_segments_and_ticks_keeps_the_table_bounded(
            capacity in 1usize..6,
            events in proptest::collection::vec(ev(), 0..200),
        ) {
            drive(capacity, &events);
        }
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
        assert_eq!((t.overflowed, t.overflowed_full), (1, 1));
        // Busy: a new port is reported at once; a port held goes on.
        out.clear();
        t.set_busy(true);
        t.on_syn_ack(now, &syn_ack(HOST, 26, BASE), reply(HOST, 26), &mut out);
        assert_eq!(t.len(), 2);
        assert_eq!(
            done(&out).len(),
            1,
            "the busy table reports port 26 at once"
        );
        assert_eq!((t.overflowed, t.overflowed_full), (2, 2), "still full too");
        t.set_busy(false);
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
    fn a_tls_flight_is_acknowledged_segment_by_segment_until_its_certificate() {
        use crate::identify::tls::tests::{CERT_DER, certificate, hex, record, server_hello12};
        let mut hs = server_hello12(0x0303, 0xc02f);
        hs.extend_from_slice(&certificate(&hex(CERT_DER), false));
        hs.extend_from_slice(&[0x0e, 0, 0, 0]);
        let flight = record(0x16, &hs);
        // A TLS segment of the server to the probe's own connection.
        fn data(seq: u32, ack: u32, bytes: &[u8]) -> Incoming<'_> {
            seg(HOST, 443, BASE, tcp::ACK, seq, ack, bytes)
        }
        let now = Instant::now();
        // A table holding port 443 after its SYN-ACK (the hello sent).
        let fresh = |out: &mut Vec<Out>| {
            let mut t = table(8);
            t.on_syn_ack(
                now - LISTEN,
                &syn_ack(HOST, 443, BASE),
                reply(HOST, 443),
                out,
            );
            t.tick(now, out);
            t
        };
        let mut out = Vec::new();
        let mut t = fresh(&mut out);
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
        let mut t = fresh(&mut out);
        out.clear();
        let s = data(SEQ + 1, ISN + 1 + len, &flight[..300]);
        t.on_segment(now, &s, flight.len(), &mut out);
        assert_eq!(sends(&out)[0].ack, SEQ + 1 + 300);
        out.clear();
        let s = data(SEQ + 301, ISN + 1 + len, &flight[300..]);
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
        let mut t = fresh(&mut out);
        out.clear();
        let s = data(SEQ + 1, ISN + 1 + len, &flight[..300]);
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
