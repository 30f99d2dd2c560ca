//! The sender thread: walks its slice of the permutation; for each index
//! finds the pair, its path and next hop, writes the link header and the
//! probe module's packet into the path's way out (a batch for `sendmmsg`,
//! or an AF_XDP socket's UMEM frame, see [`super::tx`]), and hands them to
//! the kernel at the granted rate. It knows no protocol: the module's
//! template writes the probe.

pub use super::plan::{Plan, Progress, Templates6};
use super::tx::TxSet;
use crate::engine::permutation::Slice;
use crate::engine::ratelimit::{RateLimiter, batch_for_rate};
use crate::engine::retry::RetryPlan;
use crate::net::route::Link;
use crate::wire::ethernet::{self, ETHERTYPE_IPV4, Mac};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Probes handed to the kernel at once.
pub const BATCH: usize = super::tx::BATCH;

/// `Progress::cap` value that leaves the sender's own rate alone.
pub const CAP_NONE: u64 = 0;
/// `Progress::cap` value for "as fast as the kernel takes them".
pub const CAP_UNLIMITED: u64 = u64::MAX;

/// Packets sent beside the probes (identification's, counted in `wire` by
/// every responder), charged to the senders in equal shares: each sender's
/// limiter is charged for its share of what was sent while it runs, so
/// probes and identification together keep the rate.
#[derive(Debug, Clone, Copy)]
pub struct Charge<'a> {
    pub wire: &'a AtomicU64,
    pub senders: u64,
    /// This sender's index.
    pub index: u64,
}

impl Charge<'_> {
    /// This sender's share of `total` packets.
    fn share(&self, total: u64) -> u64 {
        let n = self.senders.max(1);
        (total + n - 1 - self.index.min(n - 1)) / n
    }

    fn now(&self) -> u64 {
        self.share(self.wire.load(Ordering::Relaxed))
    }
}

/// Walk positions `start..` of `slice` in round `round`, sending through
/// `tx` (one way out per path); stop early when `stop` is set. Returns the next
/// position not yet handled: every position before it was sent (or skipped
/// by the retry plan, or unreachable). `charge`: what identification
/// sends while this sender runs is charged to its limiter.
#[allow(clippy::too_many_arguments)]
pub fn run(
    plan: &Plan,
    tx: &mut TxSet,
    slice: Slice,
    start: u64,
    round: u32,
    retry: Option<&RetryPlan>,
    limiter: &mut RateLimiter,
    stop: &AtomicBool,
    progress: &Progress,
    charge: Option<Charge<'_>>,
) -> std::io::Result<u64> {
    let total = slice.len(plan.perm.len());
    let routes = &*plan.routes;
    let key = plan.id.key;
    let src_macs: Vec<Mac> = routes
        .paths
        .iter()
        .map(|p| match p.iface.link {
            Link::Ethernet { src_mac } => src_mac,
            _ => Mac::ZERO,
        })
        .collect();
    let sources: Vec<Vec<u32>> = routes
        .paths
        .iter()
        .map(|p| p.sources.iter().map(|&s| u32::from(s)).collect())
        .collect();
    let ctx6 = super::send6::Ctx6::new(plan);
    // Paced batches need sleeps that end on time.
    let _ = crate::net::sys::fine_timer_slack();
    let mut j = start;
    let mut cap = CAP_NONE;
    // Probes to hosts that answered before, in a retry round of `--rate
    // max`: paced one by one under a cap of their own (see Progress).
    let mut live = RateLimiter::new(None);
    let mut live_cap = CAP_NONE;
    // Identification's packets sent before this round are not charged.
    let mut charged = charge.map_or(0, |c| c.now());
    while j < total && !stop.load(Ordering::Relaxed) {
        if let Some(c) = charge {
            let now = c.now();
            limiter.charge(now - charged);
            charged = now;
        }
        let c = progress.cap.load(Ordering::Relaxed);
        if c != cap {
            cap = c;
            if c != CAP_NONE {
                limiter.set_rate((c != CAP_UNLIMITED).then_some(c as f64));
            }
        }
        let c = progress.live_cap.load(Ordering::Relaxed);
        if c != live_cap {
            live_cap = c;
            live.set_rate((c != CAP_NONE && c != CAP_UNLIMITED).then_some(c as f64));
        }
        // Paced: batches sized by the rate (a dozen probes at most back to
        // back below 1 Mpps), full batches when unlimited.
        // (Identification's packets are charged above: probes wait for them.)
        let want = limiter.acquire(batch_for_rate(limiter.rate(), BATCH) as u64) as usize;
        let mut n = 0;
        while n < want && j < total {
            let index = plan.perm.at(slice.position(j));
            let (addr, port, pi) = plan.space.pair_ip(index);
            // A retry may send a pair more than one probe (see RetryPlan).
            let (copies, paced) = match retry {
                Some(r) => {
                    let host = plan.space.host_of(index);
                    (r.probes_at(j, index, host, pi), r.answered.host(host))
                }
                None => (1, false),
            };
            j += 1;
            if copies == 0 {
                continue;
            }
            // Retries to hosts that answered, under a live cap: one by one.
            let one_by_one = paced && live.rate().is_some();
            let ip = match addr {
                IpAddr::V4(a) => u32::from(a),
                IpAddr::V6(a) => {
                    let pair = (u128::from(a), port, pi);
                    // As for IPv4 below: copies one at a time on the live cap.
                    let step = if one_by_one { 1 } else { copies };
                    for first in (0..copies).step_by(step as usize) {
                        if one_by_one {
                            tx.flush_all(progress)?;
                            live.acquire(1);
                        }
                        let q = super::send6::queue(
                            plan,
                            &ctx6,
                            tx,
                            progress,
                            pair,
                            first..first + step,
                            round,
                        )?;
                        if paced {
                            progress.live_sent.fetch_add(q as u64, Ordering::Relaxed);
                        }
                        n += q;
                        if one_by_one {
                            tx.flush_all(progress)?;
                        }
                    }
                    continue;
                }
            };
            let Some((p, mac)) = routes
                .path_of(ip)
                .and_then(|p| routes.next_mac(p, ip).map(|m| (p, m)))
            else {
                progress.unreachable.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let k = Plan::source_for(ip, sources[p].len());
            let src = sources[p][k];
            let (m, variants) = plan.port_module[pi as usize];
            let template = &plan.templates[p][k][m as usize];
            for c in 0..copies {
                if paced {
                    progress
                        .live_sent
                        .fetch_add(u64::from(variants), Ordering::Relaxed);
                }
                if one_by_one {
                    // What is batched so far goes first; then this probe on
                    // the live schedule, alone, so that copies and their
                    // replies are spread, not back to back.
                    tx.flush(p, progress)?;
                    live.acquire(1);
                }
                let sport = if c == 0 {
                    plan.id.sport(round)
                } else {
                    plan.id.sport_copy(round, c)
                };
                let cookie = key.cookie(src, ip, sport, port);
                for v in 0..variants {
                    if tx.is_full(p) {
                        tx.flush(p, progress)?;
                    }
                    let slot = tx.slot(p)?;
                    let h = match mac {
                        Some(m) => {
                            let mut e = ethernet::Frame::new_unchecked(&mut slot[..]);
                            e.set_dst(m);
                            e.set_src(src_macs[p]);
                            e.set_ethertype(ETHERTYPE_IPV4);
                            ethernet::HEADER_LEN
                        }
                        None => 0,
                    };
                    let len = template.write_variant(
                        &mut slot[h..],
                        IpAddr::V4(ip.into()),
                        sport,
                        port,
                        cookie,
                        v,
                    );
                    tx.commit(p, h + len, ip);
                    n += 1;
                }
                if one_by_one {
                    tx.flush(p, progress)?;
                }
            }
        }
        tx.flush_all(progress)?;
        progress.walked.store(j, Ordering::Relaxed);
    }
    Ok(j)
}
