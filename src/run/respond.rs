//! The identification responder: the I/O side of [`crate::identify::session`].
//!
//! Each TCP receiver thread holds a [`Responder`], IPv4 and IPv6 alike. It
//! sees every captured packet before it is forwarded: a validated SYN-ACK
//! opens a session (completed with an ACK and a hello, queued for the
//! pacer of [`super::pace`], which sends from a raw socket of
//! the target's path, IPv4 or IPv6, framed as the path frames its probes:
//! Ethernet to the ARP- or neighbour-discovery-resolved next hop, bare IP on
//! a layer-3 link, a raw IP socket on loopback), data segments, FINs and
//! RSTs of our connections feed it, and the SYN-ACK's reply is forwarded to
//! the collector only when the port is done (identified, given up, or the
//! scan ends), with its outcome left in [`Shared`] for the collector to
//! take. So every open port is still reported exactly once. Meanwhile
//! [`Shared::held`] counts it open (the status line shows it at once), and
//! [`Shared::held_ports`] lists it until the collector takes its reply: a
//! checkpoint saves that list, and a resume reports those ports open at
//! once (their SYN-ACK validated: an open port is a fact), so a checkpoint
//! need not wait for identification.
//!
//! Every packet the pacer sends is counted in [`Shared::wire_sent`]: the
//! senders are charged for it at a fixed rate, so probes and identification
//! share one budget on the wire (`--rate`); `--rate max` caps probes only.
//!
//! [`Guard`] sets up and removes the RST suppression for the scan (see
//! [`crate::net::rstguard`]).

use super::pace::{Outbox, Pressure};
use crate::engine::cookie::CookieKey;
use crate::error::Result;
use crate::finding::PortState;
use crate::identify::pseudo::PseudoRule;
use crate::identify::session::{self, Config, Out, Segment, Sessions, Taken};
use crate::net::rstguard::{Keeper, RstGuard};
use crate::probe::{Classified, Identity, Proto, Reject};
use crate::wire::segment;
use crate::wire::tcp;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Most ports one receiver identifies at once.
pub const CAPACITY: usize = 16_384;
/// Longest wait for a banner or a reply on one connection.
pub const MAX_WAIT: Duration = Duration::from_millis(1000);
/// How often a responder looks for waits that are over.
pub const TICK_EVERY: Duration = Duration::from_millis(10);
/// How long the end of a scan waits for identifications still running.
pub const DRAIN_MAX: Duration = Duration::from_secs(15);

/// What identification found on one open port.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub protocol: Option<&'static str>,
    /// The TLS version, a product and version, ... (see `Identified::detail`).
    pub detail: Option<String>,
    /// Raw bytes (unescaped, bounded): the service's own words.
    pub banner: Option<Vec<u8>>,
    pub pseudo: bool,
    /// What a TLS handshake showed.
    pub tls: Option<Box<crate::finding::Tls>>,
    /// Product, version and HTTP facts (escaped, bounded).
    pub facts: crate::identify::Facts,
    /// A deprecated TLS version it still accepts (having negotiated a
    /// newer one).
    pub accepts_legacy: Option<String>,
}

/// Longest banner text in a finding (after escaping).
pub const BANNER_TEXT_MAX: usize = 256;

/// Put what identification found into a finding (before the risk
/// categorizer, which follows `protocol`); returns the deprecated TLS
/// version when the port negotiated one, or still accepts one.
pub fn apply(f: &mut crate::finding::Finding, o: Outcome) -> Option<String> {
    if let Some(p) = o.protocol {
        f.protocol = Some(p.to_string());
    }
    f.banner = o
        .banner
        .map(|b| crate::finding::escape_banner(&b, BANNER_TEXT_MAX));
    f.pseudo = o.pseudo;
    f.tls = o.tls;
    f.product = o.facts.product;
    f.version = o.facts.version;
    f.http = o.facts.http;
    (o.protocol == Some("tls") && crate::risk::protocol::is_legacy_tls(o.detail.as_deref()))
        .then(|| o.detail.unwrap_or_default())
        .or(o.accepts_legacy)
}

/// What every responder shares with the collector and the status line.
#[derive(Debug, Default)]
pub struct Shared {
    outcomes: Mutex<HashMap<(IpAddr, u16), Outcome>>,
    pending: AtomicI64,
    /// Open ports held (parked ones included): their SYN-ACK validated,
    /// their finding not yet forwarded.
    held: AtomicI64,
    /// Packets the responders handed to the kernel (ACKs, hellos, SYNs of
    /// further attempts, RSTs): charged to the senders' rate.
    wire: AtomicU64,
    /// Open ports whose protocol was identified.
    pub identified: AtomicU64,
    /// Open ports reported unidentified because identification was at its
    /// limit (its table full, or its packets' queue)...
    pub overflowed: AtomicU64,
    /// ...of which because a table held [`CAPACITY`] ports already.
    pub overflowed_full: AtomicU64,
    pseudo_hosts: Mutex<BTreeSet<IpAddr>>,
    /// The open ports held (see `held`) and their SYN-ACK's TTL, until the
    /// collector takes their reply.
    held_ports: Mutex<HashMap<(IpAddr, u16), u8>>,
    /// TCP ports the scan probes on every host (0: unknown), for the
    /// middlebox judgement: set before the responders are made.
    ports_per_host: AtomicU32,
    /// ...and on each host, in all and so far (see [`session::PortsOf`]).
    ports_of: std::sync::OnceLock<session::PortsOf>,
}

impl Shared {
    /// The scan probes `n` TCP ports on every host (see
    /// [`session::Config::ports_per_host`]); before [`Responder::new`].
    pub fn set_ports_per_host(&self, n: usize) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.ports_per_host.store(n, Ordering::Relaxed);
    }

    /// Where the responders learn the TCP ports probed on each host, in all
    /// (a shard's own share) and so far (see [`session::PortsOf`]); before
    /// [`Responder::new`].
    pub fn set_ports_of(&self, f: session::PortsOf) {
        let _ = self.ports_of.set(f);
    }

    /// The outcome of an open port, once: the collector takes it with the
    /// port's reply, and the port is held no more.
    pub fn take(&self, ip: IpAddr, port: u16) -> Option<Outcome> {
        self.held_ports.lock().unwrap().remove(&(ip, port));
        self.outcomes.lock().unwrap().remove(&(ip, port))
    }

    /// Ports being identified now (parked ones aside: they wait for the
    /// end of the scan at most), over every receiver.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed).max(0) as u64
    }

    /// Open ports whose SYN-ACK validated and whose finding is still
    /// being identified (parked ones included): open already, not yet
    /// written.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed).max(0) as u64
    }

    /// The open ports held now (their SYN-ACK validated, their finding not
    /// yet written), with their SYN-ACK's TTL: a retry round must not probe
    /// them again, and a checkpoint saves them.
    pub fn held_ports(&self) -> Vec<(IpAddr, u16, u8)> {
        let h = self.held_ports.lock().unwrap();
        h.iter()
            .map(|(&(ip, port), &ttl)| (ip, port, ttl))
            .collect()
    }

    /// Packets identification has sent so far (every responder).
    pub fn wire_sent(&self) -> u64 {
        self.wire.load(Ordering::Relaxed)
    }

    /// The counter behind [`wire_sent`](Self::wire_sent), for the senders
    /// to charge.
    pub fn wire(&self) -> &AtomicU64 {
        &self.wire
    }

    /// Hosts judged middleboxes (sorted).
    pub fn pseudo_hosts(&self) -> Vec<IpAddr> {
        self.pseudo_hosts.lock().unwrap().iter().copied().collect()
    }

    /// Wait until no port is being identified any more, at most `max`, or
    /// until `stop` says to give up.
    pub fn drain(&self, max: Duration, stop: impl Fn() -> bool) {
        let end = Instant::now() + max;
        while self.pending() > 0 && Instant::now() < end && !stop() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One receiver's sessions and the means to act on them.
pub struct Responder<'a> {
    sessions: Sessions,
    outbox: Outbox,
    key: CookieKey,
    shared: &'a Shared,
    out: Vec<Out>,
    overflowed: (u64, u64),
    /// The last SYN-ACK [`on_packet`](Self::on_packet) saw answered no
    /// probe: a further connection's, or one sent again.
    pub follow_up: bool,
    ticked: Instant,
}

impl<'a> Responder<'a> {
    /// Sessions that send through `outbox` (see [`super::pace`]).
    pub fn new(outbox: Outbox, us: &Identity, shared: &'a Shared) -> Responder<'a> {
        let mut sessions = Sessions::new(Config {
            capacity: CAPACITY,
            max_wait: MAX_WAIT,
            fallbacks: true,
            rule: PseudoRule::default(),
            ports_per_host: shared.ports_per_host.load(Ordering::Relaxed),
            sport_base: us.sport_base,
            sport_count: us.sport_count,
            key: us.key,
        });
        if let Some(f) = shared.ports_of.get() {
            sessions.set_ports_of(f.clone());
        }
        Responder {
            ticked: Instant::now(),
            sessions,
            outbox,
            key: us.key,
            shared,
            out: Vec::new(),
            overflowed: (0, 0),
            follow_up: false,
        }
    }

    /// A captured IPv4 or IPv6 packet and what the probe module made of it: true
    /// when the responder took it (do not forward it); ports that are done
    /// are pushed to `fwd`. A SYN-ACK that was a follow-up rather than a
    /// probe's answer (see [`Sessions::is_follow_up`]) sets
    /// [`follow_up`](Self::follow_up).
    pub fn on_packet(
        &mut self,
        now: Instant,
        pkt: &[u8],
        c: &std::result::Result<Classified, Reject>,
        us: &Identity,
        fwd: &mut Vec<Classified>,
    ) -> bool {
        let Ok((seg, wire_len)) = segment::parse_captured(pkt) else {
            return false;
        };
        let ours = us.is_source(seg.dst);
        let before = (self.sessions.active(), self.sessions.len());
        let taken = match c {
            Ok(r) if r.state == PortState::Open && r.proto == Proto::Tcp => {
                self.feel_pressure();
                let key = (seg.src, seg.sport);
                self.follow_up = self.sessions.is_follow_up(key);
                let new = !self.sessions.holds(key);
                let t = self.sessions.on_syn_ack(now, &seg, *r, &mut self.out);
                if new && self.sessions.holds(key) {
                    self.shared.held_ports.lock().unwrap().insert(key, r.ttl);
                }
                t
            }
            _ if ours && us.is_sport(seg.dport) => {
                self.sessions.on_segment(now, &seg, wire_len, &mut self.out)
            }
            _ => Taken::No,
        };
        self.account(before);
        self.drain(fwd);
        taken == Taken::Yes
    }

    /// How full the way out is decides what the sessions may start (see
    /// [`super::pace`]).
    fn feel_pressure(&mut self) {
        let p = self.outbox.pressure();
        self.sessions.set_busy(p == Pressure::Full);
        self.sessions.set_frugal(p != Pressure::Low);
    }

    /// Advance the sessions' clock (a scan of the table: at most every
    /// [`TICK_EVERY`]).
    pub fn tick(&mut self, now: Instant, fwd: &mut Vec<Classified>) {
        if now.duration_since(self.ticked) < TICK_EVERY {
            return;
        }
        self.ticked = now;
        self.feel_pressure();
        let before = (self.sessions.active(), self.sessions.len());
        self.sessions.tick(now, &mut self.out);
        self.account(before);
        self.drain(fwd);
    }

    /// End every session (the scan is over).
    pub fn flush(&mut self, fwd: &mut Vec<Classified>) {
        let before = (self.sessions.active(), self.sessions.len());
        self.sessions.flush(&mut self.out);
        self.account(before);
        self.drain(fwd);
    }

    /// Publish how many ports are held.
    fn account(&mut self, before: (usize, usize)) {
        let (active, len) = (self.sessions.active(), self.sessions.len());
        let d = active as i64 - before.0 as i64;
        if d != 0 {
            self.shared.pending.fetch_add(d, Ordering::Relaxed);
        }
        let d = len as i64 - before.1 as i64;
        if d != 0 {
            self.shared.held.fetch_add(d, Ordering::Relaxed);
        }
    }

    fn drain(&mut self, fwd: &mut Vec<Classified>) {
        for o in std::mem::take(&mut self.out) {
            match o {
                Out::Send(s) => self.outbox.push(s),
                Out::Syn {
                    src,
                    dst,
                    sport,
                    dport,
                } => {
                    // The pair's cookie, as its probe carried it.
                    if src.is_ipv4() != dst.is_ipv4() {
                        continue;
                    }
                    self.outbox.push(Segment {
                        src,
                        dst,
                        sport,
                        dport,
                        seq: self.key.cookie(src, dst, sport, dport),
                        ack: 0,
                        flags: tcp::SYN,
                        payload: Vec::new(),
                    });
                }
                Out::Done(d) => {
                    let session::Done {
                        reply,
                        identified,
                        banner,
                        pseudo,
                        tls,
                        accepts_legacy,
                        ..
                    } = *d;
                    if identified.is_some() {
                        self.shared.identified.fetch_add(1, Ordering::Relaxed);
                    }
                    let target = reply.target;
                    if pseudo {
                        self.shared.pseudo_hosts.lock().unwrap().insert(target);
                    }
                    let outcome = match identified {
                        Some(id) => Outcome {
                            protocol: Some(id.protocol),
                            detail: id.detail,
                            banner: (!id.banner.is_empty()).then_some(id.banner),
                            pseudo: false,
                            tls,
                            facts: id.facts,
                            accepts_legacy: accepts_legacy.map(str::to_string),
                        },
                        None => Outcome {
                            protocol: None,
                            detail: None,
                            banner: banner.filter(|b| !b.is_empty()),
                            pseudo,
                            tls: None,
                            facts: Default::default(),
                            accepts_legacy: None,
                        },
                    };
                    if outcome != Outcome::default() {
                        self.shared
                            .outcomes
                            .lock()
                            .unwrap()
                            .insert((target, reply.port), outcome);
                    }
                    fwd.push(reply);
                }
            }
        }
        let o = (self.sessions.overflowed, self.sessions.overflowed_full);
        if o != self.overflowed {
            let s = self.shared;
            s.overflowed
                .fetch_add(o.0 - self.overflowed.0, Ordering::Relaxed);
            s.overflowed_full
                .fetch_add(o.1 - self.overflowed.1, Ordering::Relaxed);
            self.overflowed = o;
        }
    }
}

/// The RST suppression of a scan that identifies: installed at the start
/// (stale tables of dead scans removed first), removed by a keeper process
/// when the scan ends, however it ends.
#[derive(Debug)]
pub struct Guard(Keeper);

impl Guard {
    /// Install the suppression for our source ports.
    pub fn install(sport_base: u16, sport_count: u16) -> Result<Guard> {
        let g = RstGuard::install(sport_base..=sport_base + sport_count - 1)?;
        Ok(Guard(g.keep()))
    }

    pub fn table(&self) -> &str {
        self.0.table()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_puts_the_facts_into_the_finding() {
        let data =
            b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n<title>Welcome to nginx!</title>";
        let id = crate::identify::identify(data, Some(crate::identify::Hello::Http), 80).unwrap();
        let mut f = crate::finding::Finding::tcp(
            "198.19.0.4".parse().unwrap(),
            80,
            PortState::Open,
            64,
            std::time::UNIX_EPOCH,
        );
        let legacy = apply(
            &mut f,
            Outcome {
                protocol: Some(id.protocol),
                detail: id.detail,
                banner: Some(id.banner),
                pseudo: false,
                tls: None,
                facts: id.facts,
                accepts_legacy: None,
            },
        );
        assert_eq!(legacy, None);
        assert_eq!(
            (f.product.as_deref(), f.version.as_deref()),
            (Some("nginx"), Some("1.22.1"))
        );
        let h = f.http.unwrap();
        assert_eq!(
            (h.status, h.server.as_deref(), h.title.as_deref()),
            (200, Some("nginx/1.22.1"), Some("Welcome to nginx!"))
        );
    }
}
