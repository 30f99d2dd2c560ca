//! The sender: walks its slice of the permutation, writes each probe into the
//! prebuilt template (destination, source port, cookie as sequence number),
//! and hands batches to the kernel at the granted rate.

use crate::correlator::{Expect, RetryPlan};
use crate::permutation::{Permutation, Slice};
use crate::ratelimit::RateLimiter;
use crate::sys::{TxBatch, TxSocket};
use crate::targets::RangeSet;
use crate::wire::probe::ProbeTemplate;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Probes handed to the kernel per `sendmmsg`.
pub const BATCH: usize = 64;

/// `Progress::cap` value that leaves the sender's own rate alone.
pub const CAP_NONE: u64 = 0;
/// `Progress::cap` value for "as fast as the kernel takes them".
pub const CAP_UNLIMITED: u64 = u64::MAX;

/// Everything a sender needs to turn a position into a probe.
#[derive(Debug, Clone)]
pub struct Plan {
    pub perm: Permutation,
    pub targets: Arc<RangeSet>,
    pub ports: Arc<Vec<u16>>,
    pub expect: Expect,
    pub template: ProbeTemplate,
}

impl Plan {
    /// The (address, port, port index) at index `i` of the space. Addresses
    /// vary fastest, so consecutive indices spread over hosts.
    #[inline]
    pub fn pair(&self, i: u64) -> (u32, u16, u64) {
        let n = self.targets.count();
        let (a, p) = (i % n, i / n);
        (self.targets.nth(a), self.ports[p as usize], p)
    }

    /// Size of the space: addresses times ports.
    pub fn space(&self) -> u64 {
        self.targets.count() * self.ports.len() as u64
    }
}

/// Live counters shared with the status line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Probes handed to the kernel.
    pub sent: AtomicU64,
    /// Positions of the current round walked (sent or skipped).
    pub walked: AtomicU64,
    /// A rate set from outside while the sender runs (the adaptive
    /// controller of `--rate max`): probes per second for this sender,
    /// [`CAP_UNLIMITED`], or [`CAP_NONE`] to keep the limiter's own rate.
    pub cap: AtomicU64,
}

/// Walk positions `start..` of `slice` in round `round`; stop early when
/// `stop` is set. Returns the next position not yet handled: every position
/// before it was sent (or skipped by the retry plan).
#[allow(clippy::too_many_arguments)]
pub fn run(
    plan: &Plan,
    sock: &TxSocket,
    slice: Slice,
    start: u64,
    round: u32,
    retry: Option<&RetryPlan>,
    limiter: &mut RateLimiter,
    stop: &AtomicBool,
    progress: &Progress,
) -> std::io::Result<u64> {
    let total = slice.len(plan.perm.len());
    let sport = plan.expect.sport(round);
    let src = plan.expect.src_ip;
    let mut batch = TxBatch::new(BATCH);
    // synsweep-rate (issue 13): paced batches need sleeps that end on time.
    let _ = crate::sys::fine_timer_slack();
    let mut j = start;
    let mut cap = CAP_NONE;
    while j < total && !stop.load(Ordering::Relaxed) {
        let c = progress.cap.load(Ordering::Relaxed);
        if c != cap {
            cap = c;
            if c != CAP_NONE {
                limiter.set_rate((c != CAP_UNLIMITED).then_some(c as f64));
            }
        }
        // synsweep-rate (issue 13): paced batches, sized by the rate.
        let want = limiter.acquire(crate::ratelimit::batch_for_rate(limiter.rate(), BATCH) as u64)
            as usize;
        batch.clear();
        while batch.len() < want && j < total {
            let (ip, port, pi) = plan.pair(plan.perm.at(slice.position(j)));
            // A retry may send a pair more than one probe (see RetryPlan);
            // all of a position's probes go in the same batch.
            // synsweep-rate (issue 13): the retry plan knows the first
            // pass's lossy positions.
            let copies = retry.map_or(1, |r| r.probes_at(j, ip, port, pi)) as usize;
            if copies > 1 && batch.len() + copies > batch.capacity() {
                break;
            }
            j += 1;
            for c in 0..copies {
                let sport = if c == 0 {
                    sport
                } else {
                    plan.expect.sport_copy(round, c as u32)
                };
                let seq = plan.expect.key.cookie(src, ip, sport, port);
                let len = plan.template.write(
                    batch.slot(),
                    ip,
                    sport,
                    port,
                    seq,
                    (seq >> 16) as u16 ^ port,
                );
                batch.commit(len, ip);
            }
        }
        if !batch.is_empty() {
            let n = sock.send_batch(&mut batch)?;
            progress.sent.fetch_add(n as u64, Ordering::Relaxed);
            if n < batch.len() {
                return Err(std::io::Error::other(format!(
                    "kernel took {n} of {} probes",
                    batch.len()
                )));
            }
        }
        progress.walked.store(j, Ordering::Relaxed);
    }
    Ok(j)
}
