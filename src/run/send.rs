//! The sender thread: walks its slice of the permutation; for each index
//! finds the pair, its path and next hop, writes the link header and the
//! probe module's packet into the path's way out (a batch for `sendmmsg`,
//! or an AF_XDP socket's UMEM frame, see [`super::tx`]), and hands them to
//! the kernel at the granted rate. It knows no protocol (the module's
//! template writes the probe) and one code path serves both families.

use super::family::Family;
use super::limiter::RateLimiter;
pub use super::plan::{Plan, Progress, Templates, Ways};
use super::tx::TxSet;
use crate::engine::permutation::Slice;
use crate::engine::ratelimit::batch_for_rate;
use crate::engine::retry::RetryPlan;
use crate::net::route::Link;
use crate::wire::ethernet::{self, Mac};
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

/// Per-sender constants of one family's paths.
#[derive(Debug)]
struct Ctx<A> {
    /// Our MAC on each path (zero without a link header).
    src_macs: Vec<Mac>,
    /// Our addresses on each path.
    sources: Vec<Vec<A>>,
    /// Index of the family's first path in the sender's ways out.
    offset: usize,
}

impl<A: Family> Ctx<A> {
    fn new(ways: &Ways<A>, offset: usize) -> Ctx<A> {
        let paths = &ways.routes.paths;
        Ctx {
            src_macs: paths
                .iter()
                .map(|p| match p.iface.link {
                    Link::Ethernet { src_mac } => src_mac,
                    _ => Mac::ZERO,
                })
                .collect(),
            sources: paths
                .iter()
                .map(|p| p.sources.iter().map(|&s| s.into()).collect())
                .collect(),
            offset,
        }
    }
}

/// How one pair is sent: its `copies` probes (each with the module's
/// variants) in round `round`, and whether they go to a host that answered
/// before (`paced`), one by one on the `live` limiter (`one_by_one`).
struct Send<'a> {
    copies: u32,
    round: u32,
    paced: bool,
    one_by_one: bool,
    live: &'a mut RateLimiter,
}

/// Queue the probes of pair (`dst`, `port`, port entry `pi`) on the
/// family's paths; returns how many were queued (0: no route, or an
/// on-link host that did not answer ARP or neighbour discovery).
#[inline(always)]
fn queue<A: Family>(
    plan: &Plan,
    (ways, ctx): (&Ways<A>, &Ctx<A>),
    tx: &mut TxSet,
    progress: &Progress,
    (dst, port, pi): (A, u16, u64),
    how: Send<'_>,
) -> std::io::Result<usize> {
    let routes = &*ways.routes;
    let Some((p, mac)) = routes
        .path_of(dst)
        .and_then(|p| routes.next_mac(p, dst).map(|m| (p, m)))
    else {
        progress.unreachable.fetch_add(1, Ordering::Relaxed);
        return Ok(0);
    };
    let sources = &ctx.sources[p];
    let k = Plan::source_for(dst.fold(), sources.len());
    let src = sources[k];
    let (m, variants) = plan.port_module[pi as usize];
    let template = &ways.templates[p][k][m as usize];
    let b = ctx.offset + p;
    let dst_ip: IpAddr = Into::<A::Ip>::into(dst).into();
    let mut n = 0;
    for c in 0..how.copies {
        if how.paced {
            progress
                .live_sent
                .fetch_add(u64::from(variants), Ordering::Relaxed);
        }
        if how.one_by_one {
            // What is batched so far goes first; then this probe on the
            // live schedule, alone, so that copies and their replies are
            // spread, not back to back.
            tx.flush(b, progress)?;
            how.live.acquire(1);
        }
        let sport = if c == 0 {
            plan.id.sport(how.round)
        } else {
            plan.id.sport_copy(how.round, c)
        };
        let cookie = plan.id.key.cookie(src, dst, sport, port);
        for v in 0..variants {
            if tx.is_full(b) {
                tx.flush(b, progress)?;
            }
            let slot = tx.slot(b)?;
            let h = match mac {
                Some(m) => {
                    let mut e = ethernet::Frame::new_unchecked(&mut slot[..]);
                    e.set_dst(m);
                    e.set_src(ctx.src_macs[p]);
                    e.set_ethertype(A::IP_ETHERTYPE);
                    ethernet::HEADER_LEN
                }
                None => 0,
            };
            let len = template.write_variant(&mut slot[h..], dst_ip, sport, port, cookie, v);
            tx.commit(b, h + len, dst.raw_dst());
            n += 1;
        }
        if how.one_by_one {
            tx.flush(b, progress)?;
        }
    }
    Ok(n)
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
    let v4 = Ctx::new(&plan.v4, 0);
    let v6 = Ctx::new(&plan.v6, plan.v4.routes.paths.len());
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
            let how = Send {
                copies,
                round,
                paced,
                one_by_one: paced && live.rate().is_some(),
                live: &mut live,
            };
            n += match addr {
                IpAddr::V4(a) => queue(
                    plan,
                    (&plan.v4, &v4),
                    tx,
                    progress,
                    (u32::from(a), port, pi),
                    how,
                )?,
                IpAddr::V6(a) => queue(
                    plan,
                    (&plan.v6, &v6),
                    tx,
                    progress,
                    (u128::from(a), port, pi),
                    how,
                )?,
            };
        }
        tx.flush_all(progress)?;
        progress.walked.store(j, Ordering::Relaxed);
    }
    Ok(j)
}
