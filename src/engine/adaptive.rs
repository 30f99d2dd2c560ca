//! `--rate max`: a send rate that finds the path's capacity and stays under it.
//!
//! The narrowest point of a real path is rarely our own kernel: it is an
//! uplink, a provider's policer, a firewall in front of the targets, or a
//! policer on the replies' way back. Loss anywhere on that path shows the same
//! way: fewer replies per probe. The probe order is a random permutation, so
//! within a pass the share of probes answered (the *reply ratio*) is
//! stationary; a fall in it as the rate rises is the signal to back off.
//!
//! The controller works like TCP's congestion control, on replies instead of
//! acknowledgements:
//!
//! 1. **Baseline.** Start at a safe rate ([`START`]) and measure the reply
//!    ratio there until it rests on enough replies ([`BASE_MIN`]). A scan
//!    that does not get that many replies (a sparse target, or a sink) stays at
//!    the safe rate: the signal is too thin to climb on.
//! 2. **Slow start.** Double the rate every epoch while the ratio holds. An
//!    epoch is at least [`MIN_TICKS`] ticks after a settling tick, and long
//!    enough that [`MIN_EXPECTED`] replies are expected: a fall of a fifth
//!    is then visible, and no decision rests on one tick.
//!
//! Every step is counted in ticks, and the judgement allows the replies of
//! a tick to arrive in the next: a tick must be at least the path's *lag*
//! (the round trip plus our capture's delay). The baseline measures it: the
//! time from the first probe to the end of the tick that brought the first
//! few replies ([`LAG_REPLIES`]). While the controller learns, the scan
//! loop ticks at that lag ([`Adaptive::tick_hint`]: at least [`FAST_TICK`],
//! at most [`TICK`]), so a path with a short round trip is climbed in about
//! half a second, as TCP's slow start climbs per round trip; a path whose
//! lag exceeds [`TICK`] is climbed at that tick, as before.
//! 3. **Back off.** The ratio *fell* when the replies missing against the
//!    baseline are both significant (more than [`Z`] standard deviations,
//!    counting the baseline's own uncertainty) and material (more than
//!    [`MATERIAL`] of those expected). The path then delivered about
//!    `achieved * observed / expected` probes per second; the rate goes to
//!    [`BACKOFF`] of that. A fall that the lower rate neither cures nor
//!    worsens does not come with the rate: the baseline is measured again
//!    and the climb goes on. While climbing, a material shortfall that the
//!    baseline is too thin to call significant backs off too, but the climb
//!    goes on from there (a loss that comes with the rate shows again at the
//!    next doubling; holding on noise would cost the scan seconds).
//! 4. **Hold and probe.** Hold while the ratio holds, comparing a window
//!    that grows until the next probe, so that small lasting losses become
//!    significant too; every [`PROBE_AFTER`] of holding, try [`PROBE_STEP`]
//!    more.
//! 5. **Top.** Past [`TOP`] (no sender reaches it) the cap is lifted
//!    (unlimited), and only a fall of the ratio brings it back.
//!
//! Loss that does not depend on the rate (a lossy link dropping 5% of
//! everything) is in the baseline already and never reads as a fall. Drops on
//! our own capture socket and in the host's backlog count too: a tick's
//! drops beyond a material share of the expected replies are a fall.
//!
//! Retry rounds probe a different mix (mostly silent pairs), whose reply
//! ratio says nothing about the first pass's: [`Adaptive::new_round`] freezes
//! the rate learned in the first pass, at [`RETRY_SHARE`] of it. The retries
//! to hosts that answered on another port are the exception: their replies
//! were plausibly lost, so nearly all of them may be answered, in stretches
//! of the walk where almost nothing else is sent. They get a cap of their
//! own ([`Adaptive::live_cap`]), paced one by one, that keeps their replies
//! per second under what the first pass carried; it rises only as fewer of
//! them turn out to be answered.
//!
//! Like the correlator it is pure: no clock, no sockets. The scan loop feeds
//! it a [`Tick`] every 20-100 ms ([`Adaptive::tick_hint`]) and applies the
//! cap it returns.

use std::time::Duration;

/// What the scan observed during one tick.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tick {
    /// Length of the tick.
    pub dt: Duration,
    /// Probes handed to the kernel.
    pub sent: u64,
    /// Replies captured (before the cookie check).
    pub replies: u64,
    /// Frames dropped on our capture socket or in the host's backlog.
    pub drops: u64,
    /// Of `sent`, probes to hosts that answered before (retry rounds): the
    /// ones most likely to be answered now.
    pub live_sent: u64,
}

/// The safe rate: where the baseline is measured, and where a scan stays
/// when too few replies come back to measure anything (probes per second).
pub const START: f64 = 10_000.0;
/// Never below this (probes per second).
pub const FLOOR: f64 = 500.0;
/// Replies the baseline needs before the controller climbs.
pub const BASE_MIN: f64 = 200.0;
/// Ticks the baseline needs at least: the replies of one tick may arrive in
/// the next, and over a longer span that matters less.
pub const BASE_TICKS: u32 = 8;
/// Replies that show the path's lag (a stray frame or two do not).
pub const LAG_REPLIES: u64 = 3;
/// The shortest tick the controller asks for while it learns...
pub const FAST_TICK: Duration = Duration::from_millis(20);
/// ...and the tick otherwise.
pub const TICK: Duration = Duration::from_millis(50);
/// Replies an epoch must expect (at the baseline ratio) for a verdict.
pub const MIN_EXPECTED: f64 = 200.0;
/// Measured ticks an epoch needs for a verdict (never one tick alone)...
pub const MIN_TICKS: u32 = 3;
/// ...and an epoch of a retry round, whose rate is not learned.
const RETRY_TICKS: u32 = 2;
/// Ticks after a rate change that are not measured: replies to the old
/// rate are still arriving, the sender is switching.
pub const SETTLE_TICKS: u32 = 1;
/// Standard deviations a shortfall must exceed to count.
pub const Z: f64 = 3.0;
/// Share of the expected replies a shortfall must exceed to count.
pub const MATERIAL: f64 = 0.03;
/// After a fall, go to this share of what the path delivered.
pub const BACKOFF: f64 = 0.85;
/// Hold this long before trying a higher rate.
pub const PROBE_AFTER: Duration = Duration::from_millis(1000);
/// A probe asks for this much more.
pub const PROBE_STEP: f64 = 1.10;
/// Above this the cap is lifted anyway (no sender reaches it).
pub const TOP: f64 = 4_000_000.0;
/// A fall marks at most this many ticks before it as lossy (a long window
/// that held at first lost its replies at the end).
const LOSSY_TICKS: u64 = 10;
/// A retry round runs at this share of the highest rate that held.
pub const RETRY_SHARE: f64 = 0.5;
/// Probes to live hosts an epoch of a retry round needs to measure their
/// reply share.
const LIVE_MIN: f64 = 50.0;
/// The live share never goes below this (the live cap stays finite).
const LIVE_SHARE_MIN: f64 = 1e-3;
/// Drops in an epoch below this many are noise (the backlog counter is
/// host-wide).
const DROP_NOISE: f64 = 16.0;

/// Sums over some ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Acc {
    sent: f64,
    replies: f64,
    drops: f64,
    live: f64,
    secs: f64,
    ticks: u32,
    /// Probes of the latest tick (their replies may still be on the way).
    last_sent: f64,
    /// The highest rate of a single tick.
    peak: f64,
}

impl Acc {
    fn add(&mut self, t: &Tick) {
        self.sent += t.sent as f64;
        self.replies += t.replies as f64;
        self.drops += t.drops as f64;
        self.live += t.live_sent as f64;
        self.secs += t.dt.as_secs_f64();
        self.ticks += 1;
        self.last_sent = t.sent as f64;
        if t.dt > Duration::ZERO {
            self.peak = self.peak.max(t.sent as f64 / t.dt.as_secs_f64());
        }
    }

    fn merge(&mut self, o: &Acc) {
        self.sent += o.sent;
        self.replies += o.replies;
        self.drops += o.drops;
        self.live += o.live;
        self.secs += o.secs;
        self.ticks += o.ticks;
        self.last_sent = o.last_sent;
        self.peak = self.peak.max(o.peak);
    }

    fn achieved(&self) -> f64 {
        if self.secs > 0.0 {
            self.sent / self.secs
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Measuring the reply ratio at the safe rate.
    Baseline,
    /// Doubling while the ratio holds.
    SlowStart,
    /// Holding below the capacity found, probing upward now and then.
    Steady,
    /// Unlimited: the sender is the bottleneck.
    Top,
    /// A retry round: the first pass's rate, no learning.
    Frozen,
}

/// Why the rate is what it is (for the status line).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Why {
    Learning,
    Thin,
    Ramp,
    /// The ratio fell at this rate (achieved, probes per second).
    Fell(f64),
    /// Drops on our socket or in the backlog at this rate.
    Drops(f64),
    /// Held after a probe that held.
    Probed,
    /// The sender's limit (achieved, probes per second).
    SenderLimit(f64),
    Frozen,
}

/// Verdict on an epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    /// Not enough yet.
    Open,
    Held,
    /// Neither held nor fell, and more probes cannot tell (the baseline's
    /// own uncertainty hides the shortfall), but materially short: about
    /// this share of the probes answered, as for a fall.
    Undecided(f64),
    /// The ratio fell: the path delivered about this share of the probes.
    Fell(f64),
    /// Too many drops on our side.
    Drops,
}

/// The `--rate max` controller.
#[derive(Debug, Clone)]
pub struct Adaptive {
    phase: Phase,
    /// The rate asked for (probes per second); ignored in [`Phase::Top`].
    rate: f64,
    /// Measured part of the current epoch or window.
    ep: Acc,
    /// Ticks left to settle before ticks are measured.
    settle: u32,
    /// The baseline: pooled ticks of epochs that held below the capacity.
    base: Acc,
    /// Every tick of the current epoch, settling included: merged into the
    /// baseline when the epoch holds. Counting every tick, not only the
    /// measured ones, keeps replies that arrive a tick late in the pool.
    pending: Acc,
    why: Why,
    /// How many times the controller backed off.
    cuts: u64,
    /// Frozen while unlimited.
    frozen_top: bool,
    /// In a retry round: the replies per second the path carried in the
    /// first pass (a margin under it), and the probe rate never exceeded.
    retry_replies: f64,
    retry_top: f64,
    /// In a retry round: the share of probes to hosts that answered before
    /// that is answered now (an upper bound, starting at 1).
    live_share: f64,
    /// The highest rate asked for that held a whole epoch or window.
    held_best: f64,
    /// The rate at which the reply ratio last fell.
    fell_at: Option<f64>,
    /// The reply ratio of the epoch that fell, until an epoch after the
    /// cut is judged (see [`Adaptive::fell`]).
    after_fall: Option<f64>,
    /// What the first pass settled on and why (for the status once frozen).
    learned: String,
    /// Ticks fed so far (numbered from 0).
    ticks: u64,
    /// The tick the current epoch (settling included) began with.
    epoch_first: u64,
    /// Tick ranges (inclusive) whose probes went out while the ratio was
    /// falling: their replies may be lost.
    lossy: Vec<(u64, u64)>,
    /// Time since the first tick that sent, and replies since, until the
    /// lag is known.
    lag_secs: f64,
    lag_replies: u64,
    /// The path's lag (seconds), once [`LAG_REPLIES`] replies came.
    lag: Option<f64>,
}

impl Default for Adaptive {
    fn default() -> Self {
        Self::new()
    }
}

impl Adaptive {
    pub fn new() -> Self {
        Adaptive {
            phase: Phase::Baseline,
            rate: START,
            ep: Acc::default(),
            // Nothing to settle from at the start of the scan.
            settle: 0,
            base: Acc::default(),
            pending: Acc::default(),
            why: Why::Learning,
            cuts: 0,
            frozen_top: false,
            retry_replies: 0.0,
            retry_top: 0.0,
            live_share: 1.0,
            held_best: 0.0,
            fell_at: None,
            after_fall: None,
            learned: String::new(),
            ticks: 0,
            epoch_first: 0,
            lossy: Vec::new(),
            lag_secs: 0.0,
            lag_replies: 0,
            lag: None,
        }
    }

    /// The current cap (probes per second for the whole scan), `None` when
    /// unlimited.
    pub fn cap(&self) -> Option<f64> {
        match self.phase {
            Phase::Top => None,
            Phase::Frozen if self.frozen_top => None,
            _ => Some(self.rate),
        }
    }

    /// How many times loss made the controller back off.
    pub fn cuts(&self) -> u64 {
        self.cuts
    }

    /// The baseline reply ratio (replies per probe), once measured.
    pub fn baseline(&self) -> Option<f64> {
        (self.base.replies >= BASE_MIN).then(|| self.base.replies / self.base.sent)
    }

    /// In a retry round, the cap (probes per second for the whole scan) of
    /// probes to hosts that answered before, `None` when only [`cap`](Self::cap)
    /// applies. It keeps their replies per second under what the first pass
    /// carried, however many of them are answered.
    pub fn live_cap(&self) -> Option<f64> {
        (self.phase == Phase::Frozen && !self.frozen_top && self.retry_top > 0.0)
            .then(|| (self.retry_replies / self.live_share).clamp(FLOOR, self.retry_top))
    }

    /// A retry round begins: its probes go mostly to silent pairs, so its
    /// reply ratio says nothing about the path. Keep the rate learned so far.
    pub fn new_round(&mut self) {
        if self.phase != Phase::Frozen {
            self.learned = self.status();
            self.frozen_top = self.phase == Phase::Top;
            // Retries are few and matter most: a margin under what held.
            // Most of their probes go to silent pairs and are not answered,
            // but those to hosts that answered on another port (pairs whose
            // reply was plausibly lost) may nearly all be answered: a
            // policer on the replies' way back then sees far more replies
            // per probe than in the first pass. Those probes get a cap of
            // their own ([`live_cap`](Self::live_cap)): the replies per
            // second that held, as if every one were answered, raised as
            // fewer turn out to be.
            if !self.frozen_top && self.held_best > 0.0 {
                self.retry_top = (RETRY_SHARE * self.held_best.max(self.rate)).max(FLOOR);
                let b = self.baseline().unwrap_or(1.0).clamp(0.0, 1.0);
                self.retry_replies = (self.retry_top * b).max(FLOOR);
                self.rate = self.retry_top;
                self.live_share = 1.0;
            }
            self.phase = Phase::Frozen;
            self.why = Why::Frozen;
            self.ep = Acc::default();
        }
    }

    /// One line for the status line and the summary: the rate settled on and
    /// why, e.g. "held at 44.2 kpps: reply ratio fell at 52.0 kpps".
    pub fn status(&self) -> String {
        let at = match self.cap() {
            Some(r) => fmt_rate(r),
            None => "unlimited".into(),
        };
        match self.why {
            Why::Learning => format!("learning the reply ratio at {at}"),
            Why::Thin => format!(
                "safe {at}: too few replies to measure ({} in {} probes)",
                self.base.replies + self.ep.replies,
                self.base.sent + self.ep.sent
            ),
            Why::Ramp => format!("ramp {at}: reply ratio holds"),
            Why::Fell(r) => format!("held at {at}: reply ratio fell at {}", fmt_rate(r)),
            Why::Drops(r) => format!("held at {at}: drops on our side at {}", fmt_rate(r)),
            Why::Probed => match self.fell_at {
                Some(r) => format!(
                    "held at {at}: probing upward, reply ratio fell at {}",
                    fmt_rate(r)
                ),
                None => format!("held at {at}: probing upward, reply ratio holds"),
            },
            Why::SenderLimit(r) => {
                format!(
                    "top: reply ratio holds up to the sender's limit ({})",
                    fmt_rate(r)
                )
            }
            Why::Frozen => match self.live_cap() {
                Some(l) if Some(l) != self.cap() => format!(
                    "retry at {at} (hosts that answered at {}); first pass {}",
                    fmt_rate(l),
                    self.learned
                ),
                _ => format!("retry at {at}; first pass {}", self.learned),
            },
        }
    }

    /// Feed one tick; returns the cap to apply (probes per second for the
    /// whole scan, `None` for unlimited).
    pub fn update(&mut self, t: Tick) -> Option<f64> {
        // Every call is a tick, so tick numbers match the caller's.
        self.ticks += 1;
        let secs = t.dt.as_secs_f64();
        if secs <= 0.0 {
            return self.cap();
        }
        if self.phase == Phase::Frozen {
            // No learning; the replies per second stay under what the path
            // carried, and our own drops still slow the retry down.
            self.ep.add(&t);
            if self.ep.ticks >= RETRY_TICKS {
                if self.ep.drops > DROP_NOISE.max(MATERIAL * self.ep.replies) {
                    self.cut(self.ep.achieved(), 1.0, Why::Drops(self.ep.achieved()));
                    self.phase = Phase::Frozen;
                    self.frozen_top = false;
                    self.retry_top = self.rate;
                    self.retry_replies = if self.retry_replies > 0.0 {
                        self.retry_replies.min(self.rate)
                    } else {
                        (self.rate * self.baseline().unwrap_or(1.0)).max(FLOOR)
                    };
                } else if self.ep.live >= LIVE_MIN {
                    // Every reply counted against the live probes (an upper
                    // bound), plus three standard deviations: the cap rises
                    // only on evidence, and falls at once when replies come.
                    let r = self.ep.replies;
                    let up = ((r + Z * (r + 1.0).sqrt()) / self.ep.live).clamp(LIVE_SHARE_MIN, 1.0);
                    self.live_share = if up >= self.live_share {
                        up
                    } else {
                        up.max(0.5 * self.live_share)
                    };
                }
                self.ep = Acc::default();
            }
            return self.cap();
        }
        if self.learn_lag(&t) {
            // Its replies began part-way through: the baseline starts after.
            return self.cap();
        }
        self.pending.add(&t);
        if self.settle > 0 {
            self.settle -= 1;
            return self.cap();
        }
        self.ep.add(&t);
        match self.phase {
            Phase::Baseline => {
                if self.ep.ticks >= BASE_TICKS && self.ep.replies >= BASE_MIN {
                    self.base = self.pending;
                    self.climb(self.ep.peak);
                } else if self.ep.secs >= 1.0 {
                    self.why = Why::Thin;
                }
            }
            Phase::SlowStart => match self.verdict() {
                Verdict::Open => {}
                Verdict::Held => {
                    self.after_fall = None;
                    let pending = self.pending;
                    self.base.merge(&pending);
                    self.climb(self.ep.peak);
                }
                // While climbing, a shortfall the baseline cannot resolve
                // backs off as a fall does, but the climb goes on from the
                // lower rate: it may be noise (then holding there and
                // probing upward a tenth a second would cost the scan
                // seconds), and a loss that comes with the rate shows
                // again, significant, at the next doubling.
                Verdict::Undecided(share) => {
                    self.fell(share);
                    self.phase = Phase::SlowStart;
                }
                Verdict::Fell(share) => self.fell(share),
                Verdict::Drops => self.drops(),
            },
            Phase::Steady | Phase::Top => match self.verdict() {
                Verdict::Fell(share) | Verdict::Undecided(share) => self.fell(share),
                Verdict::Drops => self.drops(),
                Verdict::Held if self.ep.secs >= PROBE_AFTER.as_secs_f64() => {
                    self.after_fall = None;
                    if self.phase == Phase::Top {
                        // Start a fresh window, so a change is seen soon.
                        self.ep = Acc::default();
                        self.pending = Acc::default();
                    } else {
                        let (achieved, asked) = (self.ep.peak, self.rate);
                        self.held_best = self.held_best.max(asked);
                        self.rate *= PROBE_STEP;
                        self.why = Why::Probed;
                        self.restart();
                        self.check_top(achieved, asked);
                    }
                }
                Verdict::Held => self.after_fall = None,
                Verdict::Open => {}
            },
            Phase::Frozen => unreachable!(),
        }
        self.cap()
    }

    /// Where the current epoch stands against the baseline.
    fn verdict(&self) -> Verdict {
        let ep = &self.ep;
        let Some(b) = self.baseline() else {
            return Verdict::Open;
        };
        if ep.ticks < MIN_TICKS {
            return Verdict::Open;
        }
        let n = ep.sent;
        let e = b * n;
        if ep.drops > DROP_NOISE.max(MATERIAL * e) {
            return Verdict::Drops;
        }
        // A fall is judged on the probes before the latest tick: the
        // latest one's replies may still be on the way (one tick of lag).
        let n_lag = n - ep.last_sent;
        let e_lag = b * n_lag;
        // Binomial noise of this epoch plus the baseline's own uncertainty.
        let var = e_lag * (1.0 - b) + n_lag * n_lag * b * (1.0 - b) / self.base.sent;
        let short = e_lag - ep.replies;
        if short > Z * var.sqrt() && short > MATERIAL * e_lag {
            return Verdict::Fell(ep.replies / e);
        }
        // Held: enough replies expected to see a fall, and none seen, not
        // even one too small yet to be sure of (then the epoch goes on).
        // (Judged on every probe: a reply still on the way delays a
        // verdict of held, and a fall, it never hastens either.)
        // One standard deviation of slack: an uncertain baseline must not
        // stall the ramp.
        let sd_full = (e * (1.0 - b) + n * n * b * (1.0 - b) / self.base.sent).sqrt();
        if e >= MIN_EXPECTED && e - ep.replies <= MATERIAL * e + sd_full {
            return Verdict::Held;
        }
        // Neither, and waiting longer cannot decide: the epoch has as many
        // probes as the baseline, so the baseline's own uncertainty is what
        // hides the shortfall. A material shortfall must still be decided
        // (on a thin baseline a fall of a tenth would otherwise hold the
        // rate at this level for the rest of the scan, never doubling nor
        // backing off): see [`Verdict::Undecided`] in [`Adaptive::update`].
        if n >= self.base.sent && short > MATERIAL * e_lag {
            Verdict::Undecided(ep.replies / e)
        } else {
            Verdict::Open
        }
    }

    /// The epoch's ratio fell to `share` of the baseline's: back off. But
    /// a fall again right after a cut that the lower rate neither cured
    /// nor worsened (its ratio no nearer the baseline than halfway from the
    /// fallen epoch's, and not materially below it) does not come with the
    /// rate, and a loss that does not depend on the rate must not hold it
    /// back: the baseline was off (a few hundred replies high by chance, or
    /// the path's loss changed).
    /// It is measured again from this epoch, and the climb goes on from
    /// here. (Cutting instead reads every later epoch as short against a
    /// baseline that is too high, and cuts again and again, to the floor.)
    fn fell(&mut self, share: f64) {
        let ratio = self.ep.replies / self.ep.sent.max(1.0);
        let noise = |b: f64| Z * (b * (1.0 - b) / self.ep.sent.max(1.0)).sqrt();
        if let (Some(before), Some(b)) = (self.after_fall.take(), self.baseline())
            && ratio < 0.5 * (before + b)
            && ratio >= before * (1.0 - MATERIAL) - noise(b)
            && self.ep.replies >= BASE_MIN
        {
            self.base = self.ep;
            self.phase = Phase::SlowStart;
            self.why = Why::Ramp;
            self.restart();
            return;
        }
        let achieved = self.ep.achieved();
        self.cut(achieved, share, Why::Fell(achieved));
        self.after_fall = Some(ratio);
    }

    /// Too many drops on our side: back off.
    fn drops(&mut self) {
        self.after_fall = None;
        let achieved = self.ep.achieved();
        self.cut(achieved, 1.0, Why::Drops(achieved));
    }

    /// The ratio held at `achieved`: double, or lift the cap when the sender
    /// is the bottleneck.
    fn climb(&mut self, achieved: f64) {
        let asked = self.rate;
        self.held_best = self.held_best.max(asked.min(achieved));
        self.phase = Phase::SlowStart;
        self.why = Why::Ramp;
        self.rate *= 2.0;
        self.restart();
        self.check_top(achieved, asked);
    }

    /// After an epoch at `asked` held with `achieved` (its best tick): past
    /// [`TOP`] the cap is lifted. (Not sooner, even when the sender falls
    /// short of the rate asked: paced batches cost more than unpaced ones, so
    /// a sender short of the cap under CPU contention would jump far past it
    /// once unlimited. Doubling on to [`TOP`] checks the ratio at every step.)
    fn check_top(&mut self, achieved: f64, asked: f64) {
        let _ = asked;
        if self.rate > TOP {
            self.phase = Phase::Top;
            self.why = Why::SenderLimit(achieved);
        }
    }

    /// Back off to [`BACKOFF`] of what the path delivered.
    fn cut(&mut self, achieved: f64, share: f64, why: Why) {
        if let Why::Fell(r) = why {
            self.fell_at = Some(r);
        }
        let delivered = achieved.max(FLOOR) * share.clamp(0.0, 1.0);
        let base = if self.phase == Phase::Top {
            delivered
        } else {
            delivered.min(self.rate)
        };
        self.rate = (BACKOFF * base).max(FLOOR);
        self.phase = Phase::Steady;
        self.why = why;
        self.cuts += 1;
        // Everything sent since the epoch began may have lost replies, and
        // so may the next tick's probes (the sender applies the cut only
        // then).
        let range = (
            self.epoch_first.max(self.ticks.saturating_sub(LOSSY_TICKS)),
            self.ticks,
        );
        match self.lossy.last_mut() {
            Some(last) if last.1 + 1 >= range.0 => last.1 = range.1,
            _ => self.lossy.push(range),
        }
        self.restart();
    }

    fn restart(&mut self) {
        self.ep = Acc::default();
        self.pending = Acc::default();
        self.settle = SETTLE_TICKS;
        self.epoch_first = self.ticks;
    }

    /// Until the lag is known: time it from the first tick that sent to the
    /// end of the tick that brought [`LAG_REPLIES`] replies. When it becomes
    /// known (returns true), the baseline starts afresh: the probes before
    /// were answered that the replies had not caught up with yet.
    fn learn_lag(&mut self, t: &Tick) -> bool {
        if self.lag.is_some() || (t.sent == 0 && self.lag_secs == 0.0) {
            return false;
        }
        self.lag_secs += t.dt.as_secs_f64();
        self.lag_replies += t.replies;
        if self.lag_replies < LAG_REPLIES {
            return false;
        }
        self.lag = Some(self.lag_secs);
        if self.phase == Phase::Baseline {
            self.ep = Acc::default();
            self.pending = Acc::default();
        }
        true
    }

    /// How often the scan loop should feed a [`Tick`]. While the rate is
    /// learned (the baseline and slow start), every step counts ticks and
    /// a tick must hold the path's lag: the lag once measured, at least
    /// [`FAST_TICK`] and at most [`TICK`] ([`FAST_TICK`] until the first
    /// replies). Otherwise [`TICK`].
    pub fn tick_hint(&self) -> Duration {
        match self.phase {
            Phase::Baseline | Phase::SlowStart => {
                let lag = self.lag.unwrap_or(0.0);
                Duration::from_secs_f64(lag.clamp(FAST_TICK.as_secs_f64(), TICK.as_secs_f64()))
            }
            _ => TICK,
        }
    }

    /// Ranges of ticks (numbered from 0 in the order fed, inclusive) whose
    /// probes went out while replies were being lost: the first pass's
    /// losses, for the retry round to cover (see [`lossy_positions`]).
    pub fn lossy_ticks(&self) -> &[(u64, u64)] {
        &self.lossy
    }
}

/// Turn lossy tick ranges into ranges of positions per sender: `walked[k][t]`
/// is how far sender `t` had walked when tick `k` ended, `from[t]` where it
/// started. Tick `k` covers positions `walked[k-1][t]..walked[k][t]`; a range
/// past the last tick recorded ends where the sender stopped. Adjacent ranges
/// are merged.
pub fn lossy_positions(
    ticks: &[(u64, u64)],
    walked: &[Vec<u64>],
    from: &[u64],
) -> Vec<Vec<std::ops::Range<u64>>> {
    let senders = from.len();
    let at = |k: i64, t: usize| -> u64 {
        if k < 0 {
            from[t]
        } else {
            walked
                .get(k as usize)
                .or(walked.last())
                .map_or(from[t], |w| w[t])
        }
    };
    (0..senders)
        .map(|t| {
            let mut out: Vec<std::ops::Range<u64>> = Vec::new();
            for &(a, b) in ticks {
                let r = at(a as i64 - 1, t)..at(b as i64, t);
                if r.is_empty() {
                    continue;
                }
                match out.last_mut() {
                    Some(last) if last.end >= r.start => last.end = last.end.max(r.end),
                    _ => out.push(r),
                }
            }
            out
        })
        .collect()
}

/// A rate in packets per second, e.g. "44.2 kpps", "1.28 Mpps".
pub fn fmt_rate(pps: f64) -> String {
    if pps >= 1e6 {
        format!("{:.2} Mpps", pps / 1e6)
    } else if pps >= 1e3 {
        format!("{:.1} kpps", pps / 1e3)
    } else {
        format!("{pps:.0} pps")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// A token bucket at tick granularity (a policer: what exceeds is lost).
    #[derive(Clone, Copy)]
    pub(super) struct Bucket {
        rate: f64,
        burst: f64,
        tokens: f64,
    }

    impl Bucket {
        pub(super) fn new(rate: f64, burst: f64) -> Self {
            Bucket {
                rate,
                burst,
                tokens: burst,
            }
        }

        /// Of `n` packets arriving over `dt`, how many pass.
        fn pass(&mut self, n: f64, dt: f64) -> f64 {
            let avail = self.tokens + self.rate * dt;
            let through = n.min(avail);
            self.tokens = (avail - through).min(self.burst);
            through
        }
    }

    /// A simulated path: our sender, a SYN policer, targets answering a share
    /// of probes, loss that does not depend on the rate, a reply policer, and
    /// replies that may arrive in lumps.
    pub(super) struct Path {
        rng: StdRng,
        /// The most the sender achieves (probes per second).
        sender_max: f64,
        /// Replies per probe delivered.
        ratio: f64,
        pub(super) syn_policer: Option<Bucket>,
        reply_policer: Option<Bucket>,
        /// Share of probes lost whatever the rate.
        random_loss: f64,
        /// Replies held over to a later tick (timing lumps).
        lumpy: bool,
        /// The reply ratio over the first probes, if not `ratio`: (probes,
        /// ratio).
        early: Option<(f64, f64)>,
        carry: f64,
        /// Extra drops on our side per reply above this reply rate.
        drops_above: Option<f64>,
        /// Replies arrive this long after their probes (seconds; a round
        /// trip longer than a tick), and the ones on their way (due, count).
        delay: f64,
        delayed: std::collections::VecDeque<(f64, f64)>,
        now: f64,

        /// Totals.
        sent: f64,
        answered: f64,
        expected: f64,
    }

    impl Path {
        pub(super) fn new(seed: u64, ratio: f64) -> Self {
            Path {
                rng: StdRng::seed_from_u64(seed),
                sender_max: 650_000.0,
                ratio,
                syn_policer: None,
                reply_policer: None,
                random_loss: 0.0,
                lumpy: false,
                early: None,
                carry: 0.0,
                drops_above: None,
                delay: 0.0,
                delayed: std::collections::VecDeque::new(),
                now: 0.0,
                sent: 0.0,
                answered: 0.0,
                expected: 0.0,
            }
        }

        /// A binomial draw (normal approximation, Poisson for small means).
        fn binomial(&mut self, n: f64, p: f64) -> f64 {
            let mean = n * p;
            if mean < 30.0 {
                // Poisson by inversion.
                let l = (-mean).exp();
                let (mut k, mut prod) = (0.0f64, self.rng.random::<f64>());
                while prod > l {
                    k += 1.0;
                    prod *= self.rng.random::<f64>();
                }
                return k.min(n);
            }
            let (u1, u2): (f64, f64) = (self.rng.random(), self.rng.random());
            let z = (-2.0 * u1.max(1e-300).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            (mean + z * (mean * (1.0 - p)).sqrt()).round().clamp(0.0, n)
        }

        pub(super) fn tick(&mut self, cap: Option<f64>, dt: f64) -> Tick {
            let rate = cap.unwrap_or(f64::INFINITY).min(self.sender_max);
            let sent = (rate * dt * (0.97 + 0.06 * self.rng.random::<f64>())).round();
            self.sent += sent;
            self.expected += sent * self.ratio;
            let mut through = sent;
            if let Some(b) = self.syn_policer.as_mut() {
                through = b.pass(through, dt).round();
            }
            through = self.binomial(through, 1.0 - self.random_loss);
            let ratio = match self.early {
                Some((until, r)) if self.sent <= until => r,
                _ => self.ratio,
            };
            let mut replies = self.binomial(through, ratio);
            if let Some(b) = self.reply_policer.as_mut() {
                replies = b.pass(replies, dt).round();
            }
            self.answered += replies;
            let mut drops = 0.0;
            if let Some(limit) = self.drops_above {
                let over = replies - limit * dt;
                if over > 0.0 {
                    drops = over;
                    replies -= over;
                    self.answered -= over;
                }
            }
            self.now += dt;
            if self.delay > 0.0 {
                // Probes go out evenly over the tick: their replies are due
                // over the same span, one delay later.
                let steps = 10;
                for k in 0..steps {
                    let due = self.now - dt + dt * (k as f64 + 1.0) / steps as f64 + self.delay;
                    self.delayed.push_back((due, replies / steps as f64));
                }
                replies = 0.0;
                while let Some(&(due, n)) = self.delayed.front() {
                    if due > self.now + 1e-9 {
                        break;
                    }
                    replies += n;
                    self.delayed.pop_front();
                }
                replies = replies.round();
            }
            if self.lumpy {
                // Half the ticks hand their replies to the next one (never
                // for longer than one tick).
                let all = replies + self.carry;
                if self.carry == 0.0 && self.rng.random::<bool>() {
                    self.carry = all;
                    replies = 0.0;
                } else {
                    self.carry = 0.0;
                    replies = all;
                }
            }
            Tick {
                dt: Duration::from_secs_f64(dt),
                sent: sent as u64,
                replies: replies as u64,
                drops: drops as u64,
                live_sent: 0,
            }
        }

        /// Share of the replies owed that arrived.
        fn found(&self) -> f64 {
            self.answered / self.expected
        }
    }

    /// Drive `a` over `p` for `secs` with ticks of `dt`; returns the caps
    /// applied, one per tick.
    fn drive(a: &mut Adaptive, p: &mut Path, secs: f64, dt: f64) -> Vec<Option<f64>> {
        let mut caps = Vec::new();
        let mut cap = a.cap();
        for _ in 0..(secs / dt).round() as usize {
            let t = p.tick(cap, dt);
            cap = a.update(t);
            caps.push(cap);
        }
        caps
    }

    /// Drive `a` over `p` for `secs` at the ticks the controller asks for
    /// (as the scan loop does); returns (time, cap) after each tick.
    fn drive_hinted(a: &mut Adaptive, p: &mut Path, secs: f64) -> Vec<(f64, Option<f64>)> {
        let (mut t, mut caps, mut cap) = (0.0, Vec::new(), a.cap());
        while t < secs {
            let dt = a.tick_hint().as_secs_f64();
            cap = a.update(p.tick(cap, dt));
            t += dt;
            caps.push((t, cap));
        }
        caps
    }

    fn rate_of(c: Option<f64>) -> f64 {
        c.unwrap_or(f64::INFINITY)
    }

    /// Over the last `ticks` caps: never more than a probe step (and a bit)
    /// above `capacity`, and on average between 65% and 105% of it.
    fn settled_under(caps: &[Option<f64>], ticks: usize, capacity: f64, what: &str) {
        settled_within(caps, ticks, capacity, 1.2, (0.65, 1.05), what)
    }

    fn settled_within(
        caps: &[Option<f64>],
        ticks: usize,
        capacity: f64,
        over: f64,
        (mean_at_least, mean_at_most): (f64, f64),
        what: &str,
    ) {
        let last: Vec<f64> = caps[caps.len() - ticks..]
            .iter()
            .map(|&c| rate_of(c))
            .collect();
        assert!(
            last.iter().all(|&r| r <= over * capacity),
            "{what}: above {capacity}: {last:?}"
        );
        let mean = last.iter().sum::<f64>() / last.len() as f64;
        assert!(
            mean >= mean_at_least * capacity && mean <= mean_at_most * capacity,
            "{what}: mean {mean} for {capacity}: {last:?}"
        );
    }

    #[test]
    fn an_open_path_climbs_to_the_senders_limit_quickly() {
        let mut a = Adaptive::new();
        let mut p = Path::new(1, 0.25);
        let caps = drive(&mut a, &mut p, 3.0, 0.05);
        let top = caps.iter().position(|c| c.is_none()).expect("never lifted");
        // 10k, 20k, ..., 2.56M, 5.12M: about 10 epochs of 0.2 s.
        assert!(top as f64 * 0.05 <= 2.5, "unlimited after {top} ticks");
        assert!(caps[top..].iter().all(|c| c.is_none()), "{caps:?}");
        assert_eq!(a.cuts(), 0);
        assert!(a.status().starts_with("top:"), "{}", a.status());
        assert!(p.found() > 0.99);
    }

    #[test]
    fn a_clean_path_with_a_short_round_trip_is_reached_in_about_half_a_second() {
        // The scan loop ticks fast while the controller learns: a path that
        // loses nothing is climbed in doublings of a few fast ticks each.
        for seed in 0..5 {
            let mut a = Adaptive::new();
            let mut p = Path::new(seed, 0.25);
            p.sender_max = 1_300_000.0;
            let caps = drive_hinted(&mut a, &mut p, 2.0);
            let (t, _) = caps
                .iter()
                .find(|(_, c)| rate_of(*c) >= 1_280_000.0)
                .expect("never reached the sender's rate");
            assert!(*t <= 0.9, "seed {seed}: 1.28 Mpps only after {t} s");
            assert_eq!(a.cuts(), 0, "seed {seed}");
            assert!(p.found() > 0.99);
        }
    }

    #[test]
    fn a_round_trip_longer_than_the_fast_tick_is_waited_for_not_read_as_loss() {
        // Replies 40 ms behind their probes (two fast ticks): the lag is
        // measured and the controller asks for ticks that hold it, so no
        // reply on its way reads as loss on a clean path...
        for seed in 0..5 {
            let mut a = Adaptive::new();
            let mut p = Path::new(seed, 0.25);
            p.delay = 0.04;
            let caps = drive_hinted(&mut a, &mut p, 6.0);
            assert_eq!(a.cuts(), 0, "seed {seed}: {}", a.status());
            assert!(
                caps.last().unwrap().1.is_none(),
                "seed {seed}: {}",
                a.status()
            );
            assert!(a.tick_hint() >= Duration::from_millis(40));
        }
        // ...and behind a policer it still settles under it.
        for seed in 0..5 {
            let mut a = Adaptive::new();
            let mut p = Path::new(seed, 0.25);
            p.delay = 0.04;
            p.syn_policer = Some(Bucket::new(50_000.0, 1000.0));
            let caps: Vec<Option<f64>> = drive_hinted(&mut a, &mut p, 10.0)
                .into_iter()
                .map(|c| c.1)
                .collect();
            // A lag of most of a tick leaves each doubling's settling tick
            // short of replies: the pooled baseline reads a little low,
            // so the sawtooth reaches further over the policer than with
            // an instant path (within 30%), and stays around it.
            settled_within(
                &caps,
                100,
                50_000.0,
                1.3,
                (0.55, 1.1),
                &format!("seed {seed}"),
            );
            // Each fall shows a tick later than with an instant path, so
            // a little more is lost before the back-off (the scan sends
            // those stretches again).
            assert!(p.found() > 0.9, "seed {seed}: found {}", p.found());
        }
    }

    #[test]
    fn a_fall_that_a_thin_baseline_cannot_resolve_still_backs_off() {
        // A policer a tenth under the first doubling: the baseline (a few
        // hundred replies) is too thin for the shortfall to be significant,
        // and too far below it for the ratio to hold. The ramp must not sit
        // at the rate undecided for the rest of the scan (seed 2 did, for
        // all of its 3 s, before the epoch's length decided it).
        for seed in 0..5 {
            let mut a = Adaptive::new();
            let mut p = Path::new(seed, 0.25);
            p.syn_policer = Some(Bucket::new(17_800.0, 100.0));
            let caps = drive_hinted(&mut a, &mut p, 3.0);
            assert!(a.cuts() >= 1, "seed {seed}: {}", a.status());
            let last = rate_of(caps.last().unwrap().1);
            assert!(last <= 20_000.0, "seed {seed}: {last}");
        }
    }

    #[test]
    fn a_baseline_high_by_chance_does_not_cut_the_rate_to_the_floor() {
        // The first two thousand probes are answered a tenth more often
        // than the rest (as a baseline of a few hundred replies can be, by
        // chance): every epoch after reads a little short of it. The live
        // lab saw one run in ten cut down to 600 pps that way, each cut's
        // lower rate as short as the rate before it.
        for seed in 0..10 {
            let mut a = Adaptive::new();
            let mut p = Path::new(seed, 0.25);
            p.early = Some((2_000.0, 0.28));
            // A cut may come (the shortfall is material), but the next
            // epoch, at the lower rate, is as short: the baseline is
            // measured again and the climb goes on.
            let caps = drive_hinted(&mut a, &mut p, 4.0);
            let last = rate_of(caps.last().unwrap().1);
            assert!(last >= 300_000.0, "seed {seed}: {last}: {}", a.status());
            assert!(a.cuts() <= 2, "seed {seed}: {} cuts", a.cuts());
        }
    }

    #[test]
    fn a_syn_policer_is_found_and_stayed_under() {
        for seed in 0..5 {
            let mut a = Adaptive::new();
            let mut p = Path::new(seed, 0.25);
            p.syn_policer = Some(Bucket::new(50_000.0, 1000.0));
            let caps = drive(&mut a, &mut p, 8.0, 0.05);
            // It settles under the policer, not far under, and stays there.
            settled_under(&caps, 100, 50_000.0, &format!("seed {seed}"));
            // Loss is confined to the ramp and the probes.
            assert!(p.found() > 0.95, "seed {seed}: found {}", p.found());
            assert!(a.cuts() >= 1);
            let s = a.status();
            assert!(s.contains("reply ratio"), "{s}");
        }
    }

    #[test]
    fn a_reply_policer_is_found_too() {
        // Replies policed at 20k on the way back: with a quarter of probes
        // answered, the path carries 80 kpps of probes.
        for seed in 0..5 {
            let mut a = Adaptive::new();
            let mut p = Path::new(seed, 0.25);
            p.reply_policer = Some(Bucket::new(20_000.0, 5.0));
            let caps = drive(&mut a, &mut p, 8.0, 0.05);
            settled_under(&caps, 100, 80_000.0, &format!("seed {seed}"));
            assert!(p.found() > 0.93, "seed {seed}: found {}", p.found());
        }
    }

    #[test]
    fn random_loss_that_does_not_depend_on_the_rate_does_not_hold_it_back() {
        for seed in 0..5 {
            let mut a = Adaptive::new();
            let mut p = Path::new(seed, 0.25);
            p.random_loss = 0.05;
            let caps = drive(&mut a, &mut p, 6.0, 0.05);
            assert!(
                caps[caps.len() - 40..].iter().all(|c| c.is_none()),
                "seed {seed}: {caps:?}"
            );
            assert_eq!(a.cuts(), 0, "seed {seed}");
        }
    }

    #[test]
    fn a_sparse_scan_stays_at_the_safe_rate() {
        // One reply per 10,000 probes: 1 per second at the safe rate.
        let mut a = Adaptive::new();
        let mut p = Path::new(7, 1e-4);
        let caps = drive(&mut a, &mut p, 60.0, 0.05);
        assert!(caps.iter().all(|&c| c == Some(START)), "{caps:?}");
        assert_eq!(a.cuts(), 0);
        assert!(a.status().contains("too few replies"), "{}", a.status());
        // A sparse scan behind a policer below the safe rate is not made
        // worse by noise either: it never climbs on one lucky tick.
        let mut a = Adaptive::new();
        let mut p = Path::new(8, 1e-4);
        p.syn_policer = Some(Bucket::new(17_800.0, 100.0));
        let caps = drive(&mut a, &mut p, 60.0, 0.05);
        assert!(caps.iter().all(|&c| rate_of(c) <= START), "{caps:?}");
    }

    #[test]
    fn a_sink_with_no_replies_at_all_stays_safe() {
        let mut a = Adaptive::new();
        let mut p = Path::new(9, 0.0);
        let caps = drive(&mut a, &mut p, 10.0, 0.1);
        assert!(caps.iter().all(|&c| c == Some(START)));
    }

    #[test]
    fn lumpy_replies_are_not_loss() {
        // Half the ticks see no reply at all and the next one twice as many:
        // no decision rests on one tick, so no back-off.
        for seed in 0..5 {
            let mut a = Adaptive::new();
            let mut p = Path::new(seed, 0.25);
            p.lumpy = true;
            let caps = drive(&mut a, &mut p, 4.0, 0.05);
            assert!(caps.last().unwrap().is_none(), "seed {seed}: {caps:?}");
            assert_eq!(a.cuts(), 0, "seed {seed}");
        }
    }

    #[test]
    fn bursty_paths_behind_a_policer_still_settle_under_it() {
        for seed in 0..5 {
            let mut a = Adaptive::new();
            let mut p = Path::new(seed, 0.25);
            p.lumpy = true;
            p.syn_policer = Some(Bucket::new(50_000.0, 1000.0));
            let caps = drive(&mut a, &mut p, 8.0, 0.05);
            // Lumps blur the estimate of what the path delivered: the
            // sawtooth is wider, but it stays around the policer.
            settled_within(
                &caps,
                100,
                50_000.0,
                1.25,
                (0.55, 1.05),
                &format!("seed {seed}"),
            );
            // (A shortfall the lumps make undecidable while climbing backs
            // off and climbs on, so one more doubling may overshoot: the
            // retry round sends its stretches again.)
            assert!(p.found() > 0.92, "seed {seed}: found {}", p.found());
        }
    }

    #[test]
    fn it_follows_the_capacity_down_and_back_up() {
        let mut a = Adaptive::new();
        let mut p = Path::new(3, 0.25);
        p.syn_policer = Some(Bucket::new(200_000.0, 1000.0));
        let caps = drive(&mut a, &mut p, 6.0, 0.05);
        settled_under(&caps, 60, 200_000.0, "before");
        // Cross traffic takes most of the path.
        p.syn_policer = Some(Bucket::new(40_000.0, 1000.0));
        let caps = drive(&mut a, &mut p, 6.0, 0.05);
        settled_under(&caps, 60, 40_000.0, "squeezed");
        // It goes away again: probing upward finds the room.
        p.syn_policer = Some(Bucket::new(200_000.0, 1000.0));
        let caps = drive(&mut a, &mut p, 20.0, 0.05);
        let back = rate_of(*caps.last().unwrap());
        assert!(back > 100_000.0, "{back}");
    }

    #[test]
    fn drops_on_our_side_count_as_loss() {
        let mut a = Adaptive::new();
        let mut p = Path::new(4, 0.25);
        // Our capture socket keeps up with 25k replies per second only.
        p.drops_above = Some(25_000.0);
        let caps = drive(&mut a, &mut p, 6.0, 0.05);
        let last = rate_of(*caps.last().unwrap());
        assert!(last <= 110_000.0, "{last}");
        assert!(a.cuts() >= 1);
        assert!(a.status().contains("drops"), "{}", a.status());
    }

    #[test]
    fn a_retry_round_keeps_the_rate_learned() {
        let mut a = Adaptive::new();
        let mut p = Path::new(5, 0.25);
        p.syn_policer = Some(Bucket::new(50_000.0, 1000.0));
        drive(&mut a, &mut p, 5.0, 0.05);
        assert_eq!(a.live_cap(), None, "no live cap in the first pass");
        a.new_round();
        // Retries go at RETRY_SHARE of the highest rate that held...
        let top = a.cap().unwrap();
        assert!(
            (0.5 * RETRY_SHARE * 50_000.0..=RETRY_SHARE * 50_000.0 * 1.1).contains(&top),
            "{top}"
        );
        // ...and those to hosts that answered start as if every one were
        // answered: the replies per second of that rate, below the policer.
        let b = a.baseline().unwrap();
        let start = a.live_cap().unwrap();
        assert!(
            (top * b * 0.99..=top * b * 1.01).contains(&start),
            "{start}"
        );
        let tick = |sent: u64, live_sent: u64, replies: u64| Tick {
            dt: Duration::from_millis(50),
            sent,
            replies,
            drops: 0,
            live_sent,
        };
        // Lost SYN-ACKs sent again: nearly every live probe is answered, the
        // live cap stays where it started.
        for _ in 0..20 {
            a.update(tick(1000, 600, 600));
        }
        let held = a.live_cap().unwrap();
        assert!(held <= start * 1.001, "{held} vs {start}");
        // Live probes that are rarely answered (a host's filtered ports):
        // the live cap rises to the retry rate, never beyond.
        let mut caps = Vec::new();
        for _ in 0..40 {
            a.update(tick(1200, 1000, 3));
            caps.push(a.live_cap().unwrap());
        }
        assert!(caps.iter().all(|&c| c <= top), "{caps:?}");
        assert_eq!(*caps.last().unwrap(), top, "{caps:?}");
        // Answered again: back down at once (one epoch).
        a.update(tick(1000, 500, 500));
        a.update(tick(1000, 500, 500));
        let again = a.live_cap().unwrap();
        assert!(again <= start * 1.001, "{again} vs {start}");
        assert_eq!(a.cap(), Some(top), "the retry rate itself stays");
        assert!(a.status().starts_with("retry at"), "{}", a.status());
        assert!(
            a.status().contains("hosts that answered at"),
            "{}",
            a.status()
        );
        // An unlimited first pass retries unlimited.
        let mut a = Adaptive::new();
        drive(&mut a, &mut Path::new(6, 0.25), 3.0, 0.05);
        a.new_round();
        assert_eq!(a.cap(), None);
        assert_eq!(a.live_cap(), None);
    }

    #[test]
    fn lossy_ticks_become_position_ranges_per_sender() {
        // Two senders; walked after ticks 0..=5.
        let walked = vec![
            vec![10, 110],
            vec![20, 120],
            vec![30, 130],
            vec![40, 140],
            vec![50, 150],
            vec![60, 160],
        ];
        let from = [0, 100];
        // Ticks 1-2 and 3-3 (adjacent: merged), and 5 to beyond the record.
        let got = lossy_positions(&[(1, 2), (3, 3), (5, 9)], &walked, &from);
        assert_eq!(got, vec![vec![10..40, 50..60], vec![110..140, 150..160]]);
        // From the first tick: from the start of the walk.
        assert_eq!(
            lossy_positions(&[(0, 0)], &walked, &from)[1],
            vec![100..110]
        );
        assert!(
            lossy_positions(&[], &walked, &from)
                .iter()
                .all(Vec::is_empty)
        );
    }

    #[test]
    fn a_fall_marks_the_ticks_it_lost_replies_in() {
        let mut a = Adaptive::new();
        let mut p = Path::new(11, 0.25);
        p.syn_policer = Some(Bucket::new(17_800.0, 100.0));
        let mut cap = a.cap();
        let mut first_cut = None;
        for k in 0..60u64 {
            cap = a.update(p.tick(cap, 0.05));
            if a.cuts() == 1 && first_cut.is_none() {
                first_cut = Some(k);
            }
        }
        let k = first_cut.expect("no cut");
        let (lo, hi) = a.lossy_ticks()[0];
        // The epoch at the rate that was too high, and the tick after the cut.
        assert!(
            lo < k && k - lo <= LOSSY_TICKS && hi == k + 1,
            "{lo}-{hi} cut at {k}"
        );
    }

    #[test]
    fn empty_ticks_change_nothing() {
        let mut a = Adaptive::new();
        assert_eq!(
            a.update(Tick {
                dt: Duration::ZERO,
                ..Default::default()
            }),
            Some(START)
        );
        for _ in 0..100 {
            a.update(Tick {
                dt: Duration::from_millis(50),
                ..Default::default()
            });
        }
        assert_eq!(a.cap(), Some(START));
    }
}
