//! `--rate max` in the scan core: what the driver reads every tick becomes
//! the controller's input, and the controller's verdicts become each
//! sender's caps and the retry round's lossy stretches.
//!
//! The driver reads the scan's running counters ([`Counts`]) and, while a
//! round is sent, the senders' positions, and hands them in with the time;
//! [`RateControl`] turns them into the tick's deltas for [`Adaptive`]
//! (a counter that went back was reset and counts from zero), splits the
//! caps among the senders ([`SenderCaps`]), and keeps the first pass's
//! positions at each controller tick ([`FirstPass`]) so that the ticks the
//! controller found lossy map to stretches of positions per sender. No
//! clock, no atomics: time and readings come in, decisions go out.

use super::adaptive::{self, Adaptive, Tick};
use std::ops::Range;
use std::time::Instant;

/// The scan's running counters, as the driver reads them at one tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Probes handed to the kernel.
    pub sent: u64,
    /// Replies captured (before the cookie check).
    pub replies: u64,
    /// Frames dropped on the capture sockets or in the host's backlog.
    pub drops: u64,
    /// Probes to hosts that answered before (retry rounds).
    pub live_sent: u64,
}

impl Counts {
    /// The tick from `before` (read at `then`) to these counts (read at
    /// `now`). A counter lower than before was reset (or wrapped, as the
    /// host's backlog counters do) and counts from zero.
    pub fn tick_since(self, before: Counts, then: Instant, now: Instant) -> Tick {
        let d = |now: u64, before: u64| now.checked_sub(before).unwrap_or(now);
        Tick {
            dt: now.saturating_duration_since(then),
            sent: d(self.sent, before.sent),
            replies: d(self.replies, before.replies),
            drops: d(self.drops, before.drops),
            live_sent: d(self.live_sent, before.live_sent),
        }
    }
}

/// Each sender's caps, in probes per second: the controller's, split
/// evenly (at least 1 each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderCaps {
    /// On every probe (None: unlimited).
    pub all: Option<u64>,
    /// On probes to hosts that answered before, paced one by one (None:
    /// no cap of their own).
    pub live: Option<u64>,
}

impl SenderCaps {
    /// The controller's caps `all` and `live` over all senders, split
    /// among `senders`.
    pub fn split(all: Option<f64>, live: Option<f64>, senders: usize) -> SenderCaps {
        let per = |c: f64| ((c / senders.max(1) as f64) as u64).max(1);
        SenderCaps {
            all: all.map(per),
            live: live.map(per),
        }
    }
}

/// The first pass's positions at each controller tick, to map the ticks
/// whose replies were lost to the positions sent in them.
#[derive(Debug, Clone, Default)]
pub struct FirstPass {
    /// Where each sender started the pass (a resumed pass: where it
    /// resumed).
    from: Vec<u64>,
    /// `walked[k][t]`: how far sender `t` had walked when tick `k` ended.
    walked: Vec<Vec<u64>>,
}

impl FirstPass {
    /// The pass starts (or resumes) with the senders at `from`.
    pub fn start(&mut self, from: &[u64]) {
        self.from = from.to_vec();
        self.walked.clear();
    }

    /// A controller tick of the pass ended with the senders at `walked`.
    pub fn tick(&mut self, walked: Vec<u64>) {
        self.walked.push(walked);
    }

    /// The pass ended with the senders at `next`; `lossy_ticks` are the
    /// controller's lossy tick ranges (numbered from the pass's first
    /// tick, inclusive): the stretches of positions each sender sent in
    /// them, which the retry round covers.
    pub fn stretches(
        &mut self,
        next: Vec<u64>,
        lossy_ticks: &[(u64, u64)],
    ) -> Vec<Vec<Range<u64>>> {
        self.walked.push(next);
        adaptive::lossy_positions(lossy_ticks, &self.walked, &self.from)
    }
}

/// The `--rate max` controller with what feeds it.
#[derive(Debug)]
pub struct RateControl {
    adaptive: Adaptive,
    senders: usize,
    /// The last reading and when it was taken.
    last: (Instant, Counts),
    first: FirstPass,
}

impl RateControl {
    /// A controller for `senders` senders, counting from `now` (every
    /// counter at zero).
    pub fn new(senders: usize, now: Instant) -> RateControl {
        RateControl {
            adaptive: Adaptive::new(),
            senders,
            last: (now, Counts::default()),
            first: FirstPass::default(),
        }
    }

    /// The counters start at zero at `now`.
    pub fn begin(&mut self, now: Instant) {
        self.last = (now, Counts::default());
    }

    pub fn adaptive(&self) -> &Adaptive {
        &self.adaptive
    }

    pub fn into_adaptive(self) -> Adaptive {
        self.adaptive
    }

    /// Each sender's caps now.
    pub fn caps(&self) -> SenderCaps {
        SenderCaps::split(self.adaptive.cap(), self.adaptive.live_cap(), self.senders)
    }

    /// Round `round` starts with the senders at `from`. A retry round
    /// keeps the rate learned so far: its caps.
    pub fn round_started(&mut self, round: u32, from: &[u64]) -> Option<SenderCaps> {
        if round == 0 {
            self.first.start(from);
            return None;
        }
        self.adaptive.new_round();
        Some(self.caps())
    }

    /// A tick at `now` with the counters at `counts`. `sending`: the round
    /// being sent and the senders' positions in it (None between rounds
    /// and after the last: the controller is not fed, the reading is
    /// kept). Returns the senders' caps while sending.
    pub fn tick(
        &mut self,
        now: Instant,
        counts: Counts,
        sending: Option<(u32, Vec<u64>)>,
    ) -> Option<SenderCaps> {
        let (then, before) = std::mem::replace(&mut self.last, (now, counts));
        let (round, walked) = sending?;
        let cap = self.adaptive.update(counts.tick_since(before, then, now));
        debug_assert_eq!(cap, self.adaptive.cap());
        if round == 0 {
            self.first.tick(walked);
        }
        Some(self.caps())
    }

    /// The first pass ended (complete or paused) with the senders at
    /// `next`: the stretches of positions each sent while replies were
    /// lost.
    pub fn first_pass_done(&mut self, next: Vec<u64>) -> Vec<Vec<Range<u64>>> {
        self.first.stretches(next, self.adaptive.lossy_ticks())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn counts(sent: u64, replies: u64, drops: u64, live_sent: u64) -> Counts {
        Counts {
            sent,
            replies,
            drops,
            live_sent,
        }
    }

    #[test]
    fn a_tick_is_the_counts_since_the_last_reading() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(50);
        let tick = counts(1500, 40, 3, 7).tick_since(counts(1000, 30, 3, 2), t0, t1);
        assert_eq!(
            tick,
            Tick {
                dt: Duration::from_millis(50),
                sent: 500,
                replies: 10,
                drops: 0,
                live_sent: 5,
            }
        );
    }

    #[test]
    fn a_counter_that_went_back_counts_from_zero() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(100);
        // The backlog counter wrapped (or was reset) between readings; the
        // others went on.
        let tick = counts(200, 20, 4, 0).tick_since(counts(100, 10, u64::MAX - 5, 0), t0, t1);
        assert_eq!((tick.sent, tick.replies, tick.drops), (100, 10, 4));
        // A reading from before `then` (never, with a monotonic clock): no
        // time passed, which the controller ignores.
        assert_eq!(
            counts(0, 0, 0, 0).tick_since(counts(0, 0, 0, 0), t1, t0).dt,
            Duration::ZERO
        );
    }

    #[test]
    fn caps_are_split_evenly_and_never_zero() {
        assert_eq!(
            SenderCaps::split(Some(10_000.0), Some(900.0), 4),
            SenderCaps {
                all: Some(2_500),
                live: Some(225)
            }
        );
        assert_eq!(
            SenderCaps::split(None, None, 3),
            SenderCaps {
                all: None,
                live: None
            }
        );
        assert_eq!(SenderCaps::split(Some(2.0), None, 8).all, Some(1));
    }

    #[test]
    fn lossy_ticks_map_to_each_senders_positions_in_them() {
        // Three senders, resumed at 5, 105 and 205; four ticks, then the
        // pass ends.
        let mut p = FirstPass::default();
        p.start(&[5, 105, 205]);
        for k in 1..=4 {
            p.tick(vec![5 + 10 * k, 105 + 10 * k, 205 + 10 * k]);
        }
        // Tick 1 lost replies, and from tick 3 on past the last tick.
        let got = p.stretches(vec![50, 150, 250], &[(1, 1), (3, 9)]);
        assert_eq!(
            got,
            vec![
                vec![15..25, 35..50],
                vec![115..125, 135..150],
                vec![215..225, 235..250],
            ]
        );
    }

    #[test]
    fn an_empty_pass_has_no_lossy_stretch() {
        let mut p = FirstPass::default();
        p.start(&[0, 0]);
        // Ended before its first tick, where it started.
        assert_eq!(p.stretches(vec![0, 0], &[(0, 3)]), vec![vec![], vec![]]);
        // A new pass forgets the last one's ticks.
        p.start(&[7, 9]);
        p.tick(vec![17, 19]);
        assert_eq!(
            p.stretches(vec![20, 25], &[(0, 0)]),
            vec![vec![7..17], vec![9..19]]
        );
    }

    #[test]
    fn the_controller_is_fed_only_while_sending_and_caps_each_sender() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut c = RateControl::new(2, t0);
        assert_eq!(c.round_started(0, &[0, 0]), None);
        // Sending: the senders get half the starting rate each.
        let caps = c.tick(ms(50), counts(250, 0, 0, 0), Some((0, vec![120, 130])));
        let half = (adaptive::START / 2.0) as u64;
        assert_eq!(
            caps,
            Some(SenderCaps {
                all: Some(half),
                live: None
            })
        );
        // Between rounds: nothing fed, the reading kept.
        assert_eq!(c.tick(ms(100), counts(500, 0, 0, 0), None), None);
        assert_eq!(c.last, (ms(100), counts(500, 0, 0, 0)));
        // The first pass ends: no tick was lossy.
        assert_eq!(c.first_pass_done(vec![250, 250]), vec![vec![], vec![]]);
        // A retry round: caps again, frozen below what the first pass held.
        let caps = c.round_started(1, &[0, 0]).unwrap();
        assert!(caps.all.is_some_and(|a| a <= half), "{caps:?}");
        assert!(
            c.tick(ms(150), counts(600, 0, 0, 10), Some((1, vec![5, 5])))
                .is_some()
        );
    }
}
