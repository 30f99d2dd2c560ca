//! Identification's way out, paced. The responders do not send: the
//! segments their sessions ask for (ACKs, hellos, SYNs of further
//! connections, RSTs) wait in one queue, and one thread hands them to the
//! kernel within identification's share of `--rate` ([`share`]), spaced as
//! the probes are ([`batch_for_rate`]), so a policer in front of the
//! targets sees no burst. Each packet is counted in the wire counter as it
//! leaves, and the senders are charged for it (see [`super::send::Charge`]):
//! probes and identification together keep the rate.
//!
//! The queue is identification's back-pressure: while it holds more than
//! [`BACKLOG`] of the share, the responders take no new port (it is
//! reported unidentified at once, see
//! [`crate::identify::session::Sessions::set_busy`]), so a scan with more
//! open ports than its rate can identify still reports every one of them
//! on time, and never queues without bound.

use super::respond::Tx;
use crate::engine::ratelimit::{RateLimiter, batch_for_rate};
use crate::identify::session::Segment;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Identification's share of a fixed rate: at most this part of it, so
/// that probes always keep the rest.
pub const SHARE: f64 = 0.5;
/// The queue is full when it holds this long of the share...
pub const BACKLOG: Duration = Duration::from_millis(250);
/// ...and at least this many packets.
pub const BACKLOG_MIN: usize = 64;
/// The queue's bound when identification is not paced (`--rate max`).
pub const BACKLOG_UNPACED: usize = 1 << 16;
/// Once the scan is over, what is left in the queue (RSTs of connections
/// still open) goes at the whole rate, for at most this long.
pub const LAST_CALL: Duration = Duration::from_secs(2);

/// Identification's rate: [`SHARE`] of a fixed rate of `rate` packets per
/// second; None (unpaced) for an unlimited one.
pub fn share(rate: Option<f64>) -> Option<f64> {
    rate.map(|r| (r * SHARE).max(1.0))
}

/// Packets queued beyond which the responders take no new port.
pub fn backlog(share: Option<f64>) -> usize {
    match share {
        Some(r) => ((r * BACKLOG.as_secs_f64()) as usize).max(BACKLOG_MIN),
        None => BACKLOG_UNPACED,
    }
}

/// The responders' end of the queue.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: Sender<Segment>,
    limit: usize,
}

impl Outbox {
    /// A queue for identification at `share` packets per second (None:
    /// unpaced): the responders' end and the pacer's.
    pub fn new(share: Option<f64>) -> (Outbox, Receiver<Segment>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let limit = backlog(share);
        (Outbox { tx, limit }, rx)
    }

    pub fn push(&self, s: Segment) {
        // (The pacer outlives every responder: it ends when the last
        // Outbox is dropped.)
        let _ = self.tx.send(s);
    }

    /// The queue holds [`BACKLOG`] of the share or more: take no new port.
    pub fn full(&self) -> bool {
        self.tx.len() >= self.limit
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

/// The pacer: sends what the responders queue at `share` packets per
/// second, counting each in `wire`, until every [`Outbox`] is dropped and
/// the queue is empty. Once `over` is set (the scan is over, no probe
/// goes any more), at `full` packets per second, and for at most
/// [`LAST_CALL`].
pub fn run(
    rx: Receiver<Segment>,
    tx: &Tx,
    share: Option<f64>,
    full: Option<f64>,
    over: &AtomicBool,
    wire: &AtomicU64,
) -> Sent {
    let mut limiter = RateLimiter::new(share);
    let mut done = Sent::default();
    let mut batch = crate::net::sys::TxBatch::new(1);
    let mut last_call: Option<Instant> = None;
    loop {
        if last_call.is_none() && over.load(Ordering::Relaxed) {
            last_call = Some(Instant::now() + LAST_CALL);
            limiter.set_rate(full);
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
    fn the_share_is_half_a_fixed_rate_and_none_unlimited() {
        assert_eq!(share(Some(4000.0)), Some(2000.0));
        assert_eq!(share(Some(1.0)), Some(1.0));
        assert_eq!(share(None), None);
    }

    #[test]
    fn the_backlog_is_a_quarter_second_of_the_share() {
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
    fn the_outbox_is_full_at_its_backlog() {
        let (o, rx) = Outbox::new(Some(40.0));
        for p in 0..BACKLOG_MIN as u16 - 1 {
            o.push(seg(p));
        }
        assert!(!o.full());
        o.push(seg(0));
        assert!(o.full());
        rx.recv().unwrap();
        assert!(!o.full());
    }
}
