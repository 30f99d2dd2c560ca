//! The scan's main loop, on the driver's thread while the receivers, the
//! collector and identification's pacer run: it does what the scan core
//! decides (start a round's senders, stop them, take a checkpoint, finish),
//! and every tick reads the signals, the senders' ends, positions and
//! counters and hands them to the core: the state machine
//! ([`ScanCore`]), the checkpoint positions ([`positions::History`]) and
//! the `--rate max` controller ([`RateControl`]), whose caps it stores for
//! the senders; then it shows the status line. The decisions made here
//! without any clock or socket (a round's retry plan, the status shown,
//! the shown rate) are plain functions, tested without root.

use super::checkpoint::{self, CHECKPOINT_EVERY, CheckpointInput, REPLY_ALLOWANCE};
use super::limiter::RateLimiter;
use super::meters::Meters;
use super::{collect, send, tx};
use crate::config::{Rate, ScanConfig};
use crate::engine::adaptive;
use crate::engine::cookie::CookieKey;
use crate::engine::core::{Action, CoreConfig, Phase, Position, ScanCore};
use crate::engine::feedback::{Counts, RateControl, SenderCaps};
use crate::engine::permutation::Slice;
use crate::engine::positions;
use crate::engine::retry::RetryPlan;
use crate::engine::space::Space;
use crate::error::Error;
use crate::net::signals::Signals;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

/// What the loop works with: the threads' shared state, by reference.
pub struct Ties<'a> {
    pub cfg: &'a ScanConfig,
    pub space: &'a Space,
    pub plan: &'a send::Plan,
    pub tx_sets: &'a [Mutex<tx::TxSet>],
    pub limiters: &'a [Mutex<RateLimiter>],
    pub slices: &'a [Slice],
    pub stop_send: &'a AtomicBool,
    pub collected: &'a Mutex<collect::Collected>,
    pub signals: &'a Signals,
    pub meters: &'a Meters<'a>,
    pub key: CookieKey,
    pub sport_base: u16,
    /// Probes the paused run this one resumes had sent.
    pub sent_before: u64,
    /// This shard's positions.
    pub mine: u64,
}

/// The loop's own state, and what it leaves for the shutdown and the
/// summary.
pub struct Driver<'a> {
    t: Ties<'a>,
    core: ScanCore,
    /// `--rate max`: the adaptive controller and what feeds it.
    pub control: Option<RateControl>,
    /// `--rate max`: per sender, the positions of the first pass sent while
    /// replies were lost (the retry round covers them); kept across a pause.
    pub lossy: Vec<Vec<Range<u64>>>,
    pub io_err: Option<Error>,
    /// Time the senders spent sending.
    pub send_time: Duration,
    /// Where the scan paused (None: it is complete).
    pub paused_at: Option<Position>,
    /// Signals handled so far.
    pub signals_seen: u32,
    round_start: Instant,
    shown: ShownRate,
    /// Sender positions over time, for checkpoints (back to the newest a
    /// checkpoint may save, across rounds).
    samples: positions::History,
}

type Senders<'s> = Vec<ScopedJoinHandle<'s, std::io::Result<u64>>>;

impl<'a> Driver<'a> {
    /// A loop starting at `start`, with the lossy stretches a paused run
    /// left (`lossy`).
    pub fn new(t: Ties<'a>, start: Position, lossy: Vec<Vec<Range<u64>>>) -> Driver<'a> {
        let cfg = t.cfg;
        let core = ScanCore::new(
            CoreConfig {
                retries: cfg.retries,
                wait: cfg.wait,
                senders: cfg.senders,
                checkpoint_every: Some(CHECKPOINT_EVERY),
            },
            start,
        );
        let now = Instant::now();
        Driver {
            t,
            core,
            control: (cfg.rate == Rate::Max).then(|| RateControl::new(cfg.senders, now)),
            lossy,
            io_err: None,
            send_time: Duration::ZERO,
            paused_at: None,
            signals_seen: 0,
            round_start: now,
            shown: ShownRate::new(now),
            samples: positions::History::default(),
        }
    }

    /// Run the scan to its end, a pause or an error, then stop and join
    /// the senders.
    pub fn run<'s>(&mut self, s: &'s Scope<'s, '_>)
    where
        'a: 's,
    {
        let base_tick = Duration::from_millis(if self.t.meters.live { 100 } else { 50 });
        let mut senders: Senders<'s> = Vec::new();
        let now = Instant::now();
        self.round_start = now;
        self.shown = ShownRate::new(now);
        if let Some(c) = self.control.as_mut() {
            c.begin(now);
        }
        let mut actions = self.core.start(Instant::now());
        'scan: loop {
            for a in std::mem::take(&mut actions) {
                match a {
                    Action::StartRound { round, from } => {
                        senders = self.start_round(s, round, from);
                    }
                    Action::StopSenders => self.t.stop_send.store(true, Ordering::SeqCst),
                    Action::Checkpoint => {
                        if !self.checkpoint() {
                            break 'scan;
                        }
                    }
                    Action::Finish { paused } => {
                        self.paused_at = paused;
                        break 'scan;
                    }
                }
            }
            // `--rate max` learns the path's rate on fast ticks.
            let tick = match (&self.control, self.core.phase()) {
                (Some(c), Phase::Sending { .. }) => c.adaptive().tick_hint().min(base_tick),
                _ => base_tick,
            };
            std::thread::sleep(tick);
            let now = Instant::now();
            while self.signals_seen < self.t.signals.count() {
                self.signals_seen += 1;
                actions.extend(self.core.interrupt(now));
            }
            self.sample(now);
            if !senders.is_empty() && senders.iter().all(|h| h.is_finished()) {
                let next = self.join_senders(&mut senders);
                if self.io_err.is_some() {
                    break 'scan;
                }
                if let (Phase::Sending { round: 0 }, Some(c)) =
                    (self.core.phase(), self.control.as_mut())
                {
                    self.lossy = c.first_pass_done(next.clone());
                }
                actions.extend(self.core.senders_done(now, next));
            }
            self.control(now);
            self.show(now);
            actions.extend(self.core.tick(now));
        }
        // On an error: stop whatever still runs.
        self.t.stop_send.store(true, Ordering::SeqCst);
        for h in senders.drain(..) {
            let _ = h.join();
        }
    }

    /// Start the senders of a round, each from its position in `from`.
    fn start_round<'s>(&mut self, s: &'s Scope<'s, '_>, round: u32, from: Vec<u64>) -> Senders<'s>
    where
        'a: 's,
    {
        let t = &self.t;
        let cfg = t.cfg;
        t.stop_send.store(false, Ordering::SeqCst);
        let ident_on = t.meters.ident;
        // (Ports identification holds are open already.)
        let held = ident_on
            .map(super::respond::Shared::held_ports)
            .unwrap_or_default();
        let retry = (round > 0).then(|| {
            let answered = t
                .collected
                .lock()
                .unwrap()
                .corr
                .answered_and(held.into_iter().map(|(ip, port, _)| (ip, port)));
            retry_plan(
                round,
                answered,
                t.space.ports().len() as u64,
                cfg.ramp_retry,
            )
        });
        if let Some(caps) = self
            .control
            .as_mut()
            .and_then(|c| c.round_started(round, &from))
        {
            apply_caps(caps, t.meters.progress);
        }
        self.round_start = Instant::now();
        self.samples.push(
            self.round_start,
            Position {
                round,
                next: from.clone(),
            },
        );
        (0..cfg.senders)
            .map(|k| {
                let (plan, socks, lim, prog, slice, from) = (
                    t.plan,
                    &t.tx_sets[k],
                    &t.limiters[k],
                    &t.meters.progress[k],
                    t.slices[k],
                    from[k],
                );
                // `--rate max`: this sender's positions sent while replies
                // were being lost.
                let retry = retry.as_ref().map(|r| sender_retry(r, &self.lossy, k));
                prog.walked.store(from, Ordering::Relaxed);
                prog.round.store(round, Ordering::Relaxed);
                let stop = t.stop_send;
                // Identification's packets are charged: probes take what
                // they leave of the rate (`--rate max`: of the cap).
                let charge = ident_on.map(|i| send::Charge {
                    wire: i.wire(),
                    senders: cfg.senders as u64,
                    index: k as u64,
                });
                s.spawn(move || {
                    let mut lim = lim.lock().unwrap();
                    let mut socks = socks.lock().unwrap();
                    lim.restart();
                    send::run(
                        plan,
                        &mut socks,
                        slice,
                        from,
                        round,
                        retry.as_ref(),
                        &mut lim,
                        stop,
                        prog,
                        charge,
                    )
                })
            })
            .collect()
    }

    /// Save a checkpoint; false (and the error kept) if it cannot be written.
    fn checkpoint(&mut self) -> bool {
        let t = &self.t;
        let state = checkpoint::take(CheckpointInput {
            cfg: t.cfg,
            collected: t.collected,
            samples: &self.samples,
            space: t.space.len(),
            key: t.key,
            sport_base: t.sport_base,
            sent: t.meters.sent() + t.sent_before,
            found: t.meters.found(),
            lossy: &self.lossy,
            ident: t.meters.ident,
        });
        let file = &t.cfg.paused_path;
        if let Err(e) = state.save(file) {
            self.io_err.get_or_insert(Error::runtime(format!(
                "cannot write checkpoint {}: {e}",
                file.display()
            )));
            return false;
        }
        true
    }

    /// While sending: hand the history where the senders are.
    fn sample(&mut self, now: Instant) {
        if let Phase::Sending { round } = *self.core.phase() {
            let next = self.t.meters.walked_each();
            let until = self.t.collected.lock().unwrap().until;
            let pos = Position { round, next };
            self.samples.sample(now, pos, until, REPLY_ALLOWANCE);
        }
    }

    /// Join the senders of a round that all ended: where each got to (0
    /// for one that failed, its error kept).
    fn join_senders(&mut self, senders: &mut Senders<'_>) -> Vec<u64> {
        let mut next = Vec::new();
        for h in senders.drain(..) {
            match h.join().expect("sender thread panicked") {
                Ok(j) => next.push(j),
                Err(e) => {
                    self.io_err
                        .get_or_insert(Error::runtime(format!("sending failed: {e}")));
                    next.push(0);
                }
            }
        }
        self.send_time += self.round_start.elapsed();
        next
    }

    /// `--rate max`: hand the controller the counters (the reply ratio is
    /// the probes') and, while sending, the positions; store its caps.
    fn control(&mut self, now: Instant) {
        let Some(c) = self.control.as_mut() else {
            return;
        };
        let m = self.t.meters;
        let counts = Counts {
            sent: m.sent(),
            replies: m.rxstats.frames.load(Ordering::Relaxed),
            drops: m.rxstats.kernel_drops.load(Ordering::Relaxed) + m.backlog(),
            live_sent: m.live_sent(),
        };
        let sending = match *self.core.phase() {
            Phase::Sending { round } => Some((round, m.walked_each())),
            _ => None,
        };
        if let Some(caps) = c.tick(now, counts, sending) {
            apply_caps(caps, m.progress);
        }
    }

    /// The status line shows the rate of everything on the wire.
    fn show(&mut self, now: Instant) {
        let m = self.t.meters;
        let rate = self.shown.update(now, m.wire());
        let walked = match self.core.phase() {
            Phase::Sending { .. } => m.walked(),
            _ => 0,
        };
        let status = status_of(&StatusInput {
            phase: self.core.phase(),
            interrupted: self.core.interrupted(),
            now,
            walked,
            mine: self.t.mine,
            rate,
            retries: self.t.cfg.retries,
            controller: self.control.as_ref().map(|c| c.adaptive().status()),
        });
        if let Some((name, pct, eta, rate)) = status {
            m.status_line(&name, pct, eta, rate);
        }
    }
}

/// A retry round's plan, shared by its senders before each gets its own
/// lossy stretches: the ports `answered` are not probed again, and unless
/// `ramp_retry`, neither are silent hosts.
pub fn retry_plan(
    round: u32,
    answered: crate::engine::answered::Answered,
    nports: u64,
    ramp_retry: bool,
) -> RetryPlan {
    RetryPlan {
        answered: Arc::new(answered),
        round,
        nports,
        lossy: Arc::from([]),
        silent_hosts: !ramp_retry,
    }
}

/// Sender `k`'s retry plan: the round's, with its own lossy stretches.
pub fn sender_retry(round: &RetryPlan, lossy: &[Vec<Range<u64>>], k: usize) -> RetryPlan {
    RetryPlan {
        lossy: Arc::from(lossy.get(k).cloned().unwrap_or_default()),
        ..round.clone()
    }
}

/// The rate the status line shows: over the last second; before the first
/// second is over, over what there is.
#[derive(Debug, Clone, Copy)]
pub struct ShownRate {
    last_t: Instant,
    last_sent: u64,
    rate: f64,
}

impl ShownRate {
    pub fn new(now: Instant) -> ShownRate {
        ShownRate {
            last_t: now,
            last_sent: 0,
            rate: 0.0,
        }
    }

    /// The rate at `now`, with `wire` packets sent so far.
    pub fn update(&mut self, now: Instant, wire: u64) -> f64 {
        let span = (now - self.last_t).as_secs_f64();
        if span >= 0.9 || self.rate == 0.0 {
            self.rate = wire.saturating_sub(self.last_sent) as f64 / span.max(1e-3);
        }
        if span >= 0.9 {
            (self.last_t, self.last_sent) = (now, wire);
        }
        self.rate
    }
}

/// What the status line is made of at one tick.
pub struct StatusInput<'p> {
    pub phase: &'p Phase,
    pub interrupted: bool,
    pub now: Instant,
    /// Positions of the round walked (while sending).
    pub walked: u64,
    /// This shard's positions.
    pub mine: u64,
    pub rate: f64,
    pub retries: u32,
    /// The `--rate max` controller's state.
    pub controller: Option<String>,
}

/// The status line's phase, percentage, time left and rate (None: nothing
/// to show).
pub fn status_of(i: &StatusInput<'_>) -> Option<(String, f64, Option<Duration>, f64)> {
    match i.phase {
        &Phase::Sending { round } => {
            let pct = 100.0 * i.walked as f64 / i.mine.max(1) as f64;
            let eta = (round == 0 && i.rate > 0.0)
                .then(|| Duration::from_secs_f64(i.mine.saturating_sub(i.walked) as f64 / i.rate));
            let name = round_name(round, i.retries);
            let name = match &i.controller {
                Some(c) => format!("{name} [{c}]"),
                None => name,
            };
            Some((name, pct, eta, i.rate))
        }
        &Phase::Settling { round, .. } => {
            Some((round_name(round - 1, i.retries), 100.0, None, 0.0))
        }
        &Phase::Waiting { until } => Some((
            if i.interrupted { "pausing" } else { "waiting" }.to_string(),
            100.0,
            Some(until.saturating_duration_since(i.now)),
            0.0,
        )),
        Phase::Idle | Phase::Done => None,
    }
}

/// The status line's name of a round.
fn round_name(round: u32, retries: u32) -> String {
    if round == 0 {
        "scan".to_string()
    } else {
        format!("retry {round}/{retries}")
    }
}

/// Hand the `--rate max` controller's caps to the senders, split evenly.
/// `--rate max`: identification's pace, the senders' cap in all (before
/// the controller's first cap, the rate they start at).
pub fn ident_rate_max(progress: &[send::Progress], senders: usize) -> Option<f64> {
    match progress.first().map(|p| p.cap.load(Ordering::Relaxed)) {
        Some(send::CAP_UNLIMITED) => None,
        Some(send::CAP_NONE) | None => Some(adaptive::START),
        Some(c) => Some(c as f64 * senders as f64),
    }
}

fn apply_caps(caps: SenderCaps, progress: &[send::Progress]) {
    let cap = caps.all.unwrap_or(send::CAP_UNLIMITED);
    let live = caps.live.unwrap_or(send::CAP_NONE);
    for p in progress {
        p.cap.store(cap, Ordering::Relaxed);
        p.live_cap.store(live, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::answered::Answered;

    #[test]
    fn retry_plan_skips_silent_hosts_unless_ramping() {
        let p = retry_plan(2, Answered::default(), 3, false);
        assert_eq!((p.round, p.nports, p.silent_hosts), (2, 3, true));
        assert!(p.lossy.is_empty());
        assert!(!retry_plan(1, Answered::default(), 3, true).silent_hosts);
    }

    #[test]
    fn each_sender_gets_its_own_lossy_stretches() {
        let p = retry_plan(1, Answered::default(), 1, false);
        let lossy = vec![vec![0..4, 6..8], vec![10..12, 20..21]];
        assert_eq!(&*sender_retry(&p, &lossy, 0).lossy, &[0..4, 6..8]);
        assert_eq!(&*sender_retry(&p, &lossy, 1).lossy, &[10..12, 20..21]);
        // A sender the controller saw nothing of: no stretch.
        assert!(sender_retry(&p, &lossy, 2).lossy.is_empty());
        assert_eq!(sender_retry(&p, &lossy, 1).round, 1);
    }

    #[test]
    fn shown_rate_is_over_the_last_second_once_there_is_one() {
        let t0 = Instant::now();
        let mut r = ShownRate::new(t0);
        // Before the first second: over what there is.
        let first = r.update(t0 + Duration::from_millis(100), 100);
        assert!((first - 1000.0).abs() < 1.0, "{first}");
        // Under a second since the last reset and a rate known: kept.
        assert_eq!(r.update(t0 + Duration::from_millis(500), 400), first);
        // A second on: the rate of that second, and the window restarts.
        let second = r.update(t0 + Duration::from_secs(1), 2000);
        assert!((second - 2000.0).abs() < 1.0, "{second}");
        let third = r.update(t0 + Duration::from_secs(2), 2500);
        assert!((third - 500.0).abs() < 1.0, "{third}");
    }

    fn input(phase: &Phase, walked: u64, rate: f64) -> StatusInput<'_> {
        StatusInput {
            phase,
            interrupted: false,
            now: Instant::now(),
            walked,
            mine: 1000,
            rate,
            retries: 2,
            controller: None,
        }
    }

    #[test]
    fn status_while_sending_shows_progress_and_time_left_in_the_first_pass() {
        let scan = Phase::Sending { round: 0 };
        let (name, pct, eta, rate) = status_of(&input(&scan, 250, 100.0)).unwrap();
        assert_eq!((name.as_str(), pct, rate), ("scan", 25.0, 100.0));
        assert_eq!(eta, Some(Duration::from_secs_f64(7.5)));
        let retry = Phase::Sending { round: 1 };
        let mut i = input(&retry, 500, 100.0);
        i.controller = Some("ramping".into());
        let (name, pct, eta, _) = status_of(&i).unwrap();
        assert_eq!(
            (name.as_str(), pct, eta),
            ("retry 1/2 [ramping]", 50.0, None)
        );
        // No rate yet: no time left.
        assert_eq!(status_of(&input(&scan, 0, 0.0)).unwrap().2, None);
    }

    #[test]
    fn status_while_waiting_says_whether_the_scan_pauses() {
        let now = Instant::now();
        let wait = Phase::Waiting {
            until: now + Duration::from_secs(3),
        };
        let mut i = input(&wait, 0, 5.0);
        i.now = now;
        let (name, pct, eta, rate) = status_of(&i).unwrap();
        assert_eq!((name.as_str(), pct, rate), ("waiting", 100.0, 0.0));
        assert_eq!(eta, Some(Duration::from_secs(3)));
        i.interrupted = true;
        assert_eq!(status_of(&i).unwrap().0, "pausing");
        assert!(status_of(&input(&Phase::Done, 0, 0.0)).is_none());
        assert!(status_of(&input(&Phase::Idle, 0, 0.0)).is_none());
    }
}
