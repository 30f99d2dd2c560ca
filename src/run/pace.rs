//! Identification's way out, paced. The responders do not send: the
//! segments their sessions ask for (ACKs, hellos, SYNs of further
//! connections, RSTs) wait in one queue, and one thread hands them to the
//! kernel within `--rate`, spaced as the probes are ([`batch_for_rate`]),
//! so a policer in front of the targets sees no burst. Each packet is
//! counted in the wire counter as it leaves, and the senders are charged
//! for it (see [`super::send::Charge`]): identification goes first, the
//! probes take what it leaves, and together they keep the rate. Its demand
//! comes from the probes' SYN-ACKs and is bounded per port, so probes that
//! wait also slow it down.
//!
//! The queue is identification's back-pressure ([`Outbox::pressure`]):
//! while it holds more than half of [`BACKLOG`] of the rate, no port opens
//! a further connection; beyond all of it the responders take no new port
//! (it is reported unidentified at once, see
//! [`crate::identify::session::Sessions::set_busy`]). So a burst of open
//! ports is identified more cheaply rather than queued late, and every open
//! port is still reported on time. The ports already held may still push
//! the queue past that; at twice the backlog a packet is dropped (and
//! counted) rather than queued, so memory stays bounded.

use super::limiter::RateLimiter;
use crate::engine::ratelimit::batch_for_rate;
use crate::error::{Error, Result};
use crate::identify::session::Segment;
use crate::net::route::{Link, Path, RouteAddr, Routes};
use crate::net::rstguard;
use crate::net::sys::{self, IpVersion, PacketSocket, RawIpSocket, TxBatch, TxSocket};
use crate::wire::ethernet::Mac;
use crate::wire::ipv6::ETHERTYPE_IPV6;
use crate::wire::segment::{self, Outgoing};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The queue is full when it holds this long of the rate...
pub const BACKLOG: Duration = Duration::from_millis(250);
/// ...and at least this many packets.
pub const BACKLOG_MIN: usize = 64;
/// The queue's bound when identification is not paced (`--rate max`).
pub const BACKLOG_UNPACED: usize = 1 << 16;
/// Once the scan is over, what is left in the queue (RSTs of connections
/// still open) goes at the whole rate, for at most this long.
pub const LAST_CALL: Duration = Duration::from_secs(2);

/// Packets queued beyond which the responders take no new port, at
/// `rate` packets per second (None: unpaced).
pub fn backlog(rate: Option<f64>) -> usize {
    match rate {
        Some(r) => ((r * BACKLOG.as_secs_f64()) as usize).max(BACKLOG_MIN),
        None => BACKLOG_UNPACED,
    }
}

/// Sockets the responders send follow-ups on: one per path of the scan,
/// IPv4 and IPv6, shared by every receiver.
#[derive(Debug)]
pub struct Tx {
    routes: Arc<Routes>,
    socks: Vec<TxSocket>,
    routes6: Arc<Routes<u128>>,
    socks6: Vec<TxSocket>,
}

impl Tx {
    /// Open one sending socket per path of either family (before
    /// privileges are dropped).
    pub fn open(routes: Arc<Routes>, routes6: Arc<Routes<u128>>) -> Result<Tx> {
        let socks = open_paths(&routes.paths, sys::ETH_P_IP, IpVersion::V4)?;
        // The IPv6 paths: as the IPv6 probes go.
        let socks6 = open_paths(&routes6.paths, ETHERTYPE_IPV6, IpVersion::V6)?;
        Ok(Tx {
            routes,
            socks,
            routes6,
            socks6,
        })
    }

    /// Frame `seg` for its path into `batch` (empty before); the socket of
    /// the path, or None when there is no way to the target.
    fn frame(&self, batch: &mut TxBatch, seg: &Outgoing<'_>) -> Option<&TxSocket> {
        let (mac, link, sock, dst) = match seg.dst {
            IpAddr::V4(dst) => {
                let dst = u32::from(dst);
                let p = self.routes.path_of(dst)?;
                let mac = self.routes.next_mac(p, dst)?;
                (mac, self.routes.paths[p].iface.link, &self.socks[p], dst)
            }
            IpAddr::V6(dst) => {
                let dst = u128::from(dst);
                let p = self.routes6.path_of(dst)?;
                let mac = self.routes6.next_mac(p, dst)?;
                // (A raw IPv6 socket addresses each packet by its header.)
                (mac, self.routes6.paths[p].iface.link, &self.socks6[p], 0)
            }
        };
        let eth = match (mac, link) {
            (Some(m), Link::Ethernet { src_mac }) => Some((src_mac, m)),
            (Some(m), _) => Some((Mac::ZERO, m)),
            (None, _) => None,
        };
        let n = segment::write(&mut batch.slot()[..], eth, seg).ok()?;
        batch.commit(n, dst);
        Some(sock)
    }

    /// Send one of identification's segments (see [`super::pace`]).
    pub fn send_segment(&self, batch: &mut TxBatch, s: &Segment) -> bool {
        let seg = Outgoing {
            src: s.src,
            dst: s.dst,
            sport: s.sport,
            dport: s.dport,
            seq: s.seq,
            ack: s.ack,
            flags: s.flags,
            // (Also on the SYNs of further connections: never a probe's.)
            window: crate::identify::handshake::WINDOW,
            ident: 0,
            ttl: crate::identify::handshake::TTL,
            payload: &s.payload,
        };
        batch.clear();
        let Some(sock) = self.frame(batch, &seg) else {
            return false;
        };
        let ok = sock.send_batch(batch).is_ok_and(|n| n == 1);
        batch.clear();
        ok
    }
}

/// One sending socket per path of one family: the path's link framing
/// (Ethernet, bare IP of `ethertype` on a layer-3 link, a raw IP socket of
/// `ip` on loopback, marked so our own RSTs pass the guard).
fn open_paths<A: RouteAddr>(
    paths: &[Path<A>],
    ethertype: u16,
    ip: IpVersion,
) -> Result<Vec<TxSocket>> {
    paths
        .iter()
        .map(|p| {
            let err = |e| Error::socket(e, &p.iface.name);
            Ok(match p.iface.link {
                Link::Ethernet { .. } => {
                    TxSocket::Packet(PacketSocket::open(p.iface.index, 0).map_err(err)?)
                }
                Link::Layer3 => TxSocket::Packet(
                    PacketSocket::open_sender(p.iface.index, ethertype).map_err(err)?,
                ),
                Link::Loopback => {
                    let s = RawIpSocket::open(ip).map_err(err)?;
                    s.set_mark(rstguard::MARK).map_err(err)?;
                    TxSocket::RawIp(s)
                }
            })
        })
        .collect()
}

/// The responders' end of the queue.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: Sender<Segment>,
    /// The backlog at the pacer's rate now (see [`backlog`]).
    limit: Arc<AtomicUsize>,
    /// Packets not queued: the queue held twice its backlog.
    dropped: Arc<AtomicU64>,
}

/// How full the queue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pressure {
    Low,
    /// Half of the backlog or more: no further connections.
    Frugal,
    /// The backlog or more: no new port.
    Full,
}

impl Outbox {
    /// A queue for identification at `rate` packets per second (None:
    /// unpaced): the responders' end and the pacer's.
    pub fn new(rate: Option<f64>) -> (Outbox, Receiver<Segment>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let limit = Arc::new(AtomicUsize::new(backlog(rate)));
        let dropped = Arc::new(AtomicU64::new(0));
        (Outbox { tx, limit, dropped }, rx)
    }

    /// The backlog's handle, for the pacer to follow its rate (it must not
    /// hold an Outbox: it ends when the last one is dropped).
    pub fn backlog_handle(&self) -> Arc<AtomicUsize> {
        self.limit.clone()
    }

    fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    pub fn push(&self, s: Segment) {
        if self.tx.len() >= 2 * self.limit() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // (The pacer outlives every responder: it ends when the last
        // Outbox is dropped.)
        let _ = self.tx.send(s);
    }

    /// Packets dropped so far because the queue held twice its backlog.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The counter behind [`dropped`](Self::dropped), to read once every
    /// Outbox is gone.
    pub fn dropped_counter(&self) -> Arc<AtomicU64> {
        self.dropped.clone()
    }

    pub fn pressure(&self) -> Pressure {
        let (n, limit) = (self.tx.len(), self.limit());
        if n >= limit {
            Pressure::Full
        } else if n >= limit / 2 {
            Pressure::Frugal
        } else {
            Pressure::Low
        }
    }
}

/// What the pacer did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub sent: u64,
    /// Refused by the kernel, or with no way to the target.
    pub errors: u64,
    /// Left in the queue when the last call was over.
    pub dropped: u64,
}

/// The pacer: sends what the responders queue at `rate()` packets per
/// second (None: unpaced; asked again before each batch, `--rate max`'s
/// controller moves it), counting each in `wire`, until every [`Outbox`]
/// is dropped and the queue is empty. Once `over` is set (the scan is
/// over), for at most [`LAST_CALL`]. `limit`: the outboxes' backlog
/// ([`Outbox::backlog_handle`]), kept at the rate's.
pub fn run(
    rx: Receiver<Segment>,
    tx: &Tx,
    rate: impl Fn() -> Option<f64>,
    limit: &AtomicUsize,
    over: &AtomicBool,
    wire: &AtomicU64,
) -> Sent {
    let mut now_rate = rate();
    let mut limiter = RateLimiter::new(now_rate);
    let mut done = Sent::default();
    let mut batch = TxBatch::new(1);
    let mut last_call: Option<Instant> = None;
    loop {
        let r = rate();
        if r != now_rate {
            now_rate = r;
            limiter.set_rate(r);
            limit.store(backlog(r), Ordering::Relaxed);
        }
        if last_call.is_none() && over.load(Ordering::Relaxed) {
            last_call = Some(Instant::now() + LAST_CALL);
        }
        if last_call.is_some_and(|end| Instant::now() >= end) {
            done.dropped += rx.try_iter().count() as u64;
            break;
        }
        let first = match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(s) => s,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        // As many as are queued, at most a paced batch: wait for them all.
        let want = (1 + rx.len()).min(batch_for_rate(limiter.rate(), 64)) as u64;
        let n = limiter.acquire(want);
        let mut k = 0u64;
        for s in std::iter::once(first).chain(rx.try_iter().take(n as usize - 1)) {
            if tx.send_segment(&mut batch, &s) {
                k += 1;
            } else {
                done.errors += 1;
            }
        }
        done.sent += k;
        wire.fetch_add(k, Ordering::Relaxed);
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_is_a_quarter_second_of_the_rate() {
        assert_eq!(backlog(Some(2000.0)), 500);
        assert_eq!(backlog(Some(40.0)), BACKLOG_MIN);
        assert_eq!(backlog(None), BACKLOG_UNPACED);
    }

    fn seg(port: u16) -> Segment {
        Segment {
            src: "198.18.0.1".parse().unwrap(),
            dst: "198.19.0.1".parse().unwrap(),
            sport: 40000,
            dport: port,
            seq: 1,
            ack: 0,
            flags: crate::wire::tcp::RST,
            payload: Vec::new(),
        }
    }

    #[test]
    fn the_outbox_drops_beyond_twice_its_backlog() {
        let (o, rx) = Outbox::new(Some(40.0));
        for p in 0..2 * BACKLOG_MIN as u16 + 5 {
            o.push(seg(p));
        }
        assert_eq!((rx.len(), o.dropped()), (2 * BACKLOG_MIN, 5));
    }

    #[test]
    fn the_outbox_is_frugal_at_half_its_backlog_and_full_at_all_of_it() {
        let (o, rx) = Outbox::new(Some(40.0));
        assert_eq!(o.pressure(), Pressure::Low);
        for p in 0..BACKLOG_MIN as u16 / 2 {
            o.push(seg(p));
        }
        assert_eq!(o.pressure(), Pressure::Frugal);
        for p in 0..BACKLOG_MIN as u16 / 2 - 1 {
            o.push(seg(p));
        }
        assert_eq!(o.pressure(), Pressure::Frugal);
        o.push(seg(0));
        assert_eq!(o.pressure(), Pressure::Full);
        rx.recv().unwrap();
        assert_eq!(o.pressure(), Pressure::Frugal);
    }
}
