//! The senders' positions over time, for checkpoints: a checkpoint saves
//! the positions of [`super::REPLY_ALLOWANCE`] before the capture time up
//! to which every reply has been handled (`until`), so no probe before them
//! can still have a reply in flight, or a port held by identification.
//!
//! History is kept back to the newest sample a checkpoint may save, however
//! long that is (a port under identification holds `until` back for
//! seconds), and across rounds: while a port answered in one round is still
//! held, a checkpoint saves a position of that round, not the next round's
//! start (whose retry plan need not probe that port again).

use crate::engine::core::Position;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Positions sampled while sending, oldest first.
#[derive(Debug, Default)]
pub struct History {
    samples: VecDeque<(Instant, Position)>,
}

impl History {
    /// Where the senders stood at `at` (every position before `next` sent).
    pub fn push(&mut self, at: Instant, pos: Position) {
        self.samples.push_back((at, pos));
    }

    /// Forget samples older than the newest one a checkpoint at `until`
    /// (or later: `until` only grows while nothing is held) may save.
    pub fn trim(&mut self, until: Instant, allowance: Duration) {
        while self.samples.len() > 1 && self.samples[1].0 + allowance <= until {
            self.samples.pop_front();
        }
    }

    /// The positions a checkpoint saves when every reply captured before
    /// `until` has been handled: the newest sample at least `allowance`
    /// before it; when none is that old, the oldest kept (the start of the
    /// scan or of the resumed run, safe as nothing is older).
    pub fn safe(&self, until: Instant, allowance: Duration) -> Option<&Position> {
        self.samples
            .iter()
            .rev()
            .find(|(t, _)| *t + allowance <= until)
            .or(self.samples.front())
            .map(|(_, p)| p)
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Duration = Duration::from_millis(250);

    fn pos(round: u32, n: u64) -> Position {
        Position {
            round,
            next: vec![n],
        }
    }

    #[test]
    fn a_held_port_keeps_its_positions_however_long_it_is_held() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut h = History::default();
        h.push(t0, pos(0, 0));
        // A port answered at 500 ms is held for 10 s: `until` stays just
        // before it while the senders go on.
        let until = ms(450);
        for i in 1..=200 {
            h.push(ms(i * 50), pos(0, i * 100));
            h.trim(until, A);
        }
        // Only what a checkpoint may still save was forgotten.
        assert_eq!(h.safe(until, A), Some(&pos(0, 400)));
        assert!(h.len() >= 196, "{}", h.len());
        // Once it is written, `until` catches up and the history shrinks.
        let until = ms(10_000);
        h.trim(until, A);
        assert_eq!(h.safe(until, A), Some(&pos(0, 19_500)));
        assert!(h.len() <= 6, "{}", h.len());
    }

    #[test]
    fn a_port_held_from_the_last_round_keeps_the_checkpoint_in_that_round() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut h = History::default();
        h.push(t0, pos(0, 0));
        h.push(ms(900), pos(0, 900));
        h.push(ms(1000), pos(0, 1000));
        // Round 1 starts at 2 s; a port of round 0 answered at 1.2 s is
        // still held.
        h.push(ms(2000), pos(1, 0));
        h.push(ms(3000), pos(1, 500));
        let until = ms(1150);
        h.trim(until, A);
        assert_eq!(h.safe(until, A), Some(&pos(0, 900)));
        // Written: the next round's positions are safe again.
        let until = ms(3300);
        h.trim(until, A);
        assert_eq!(h.safe(until, A), Some(&pos(1, 500)));
    }

    #[test]
    fn before_any_sample_is_old_enough_the_start_is_saved() {
        let t0 = Instant::now();
        let mut h = History::default();
        assert_eq!(h.safe(t0, A), None);
        h.push(t0, pos(2, 7));
        h.push(t0 + Duration::from_millis(100), pos(2, 50));
        assert_eq!(h.safe(t0, A), Some(&pos(2, 7)));
    }
}
