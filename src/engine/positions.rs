//! Which positions a checkpoint saves, decided from the senders' positions
//! over time (the driver samples them while a round is sent): a checkpoint
//! saves the positions of a reply allowance before the capture time up to
//! which every reply has been handled (`until`), so no probe before them
//! can still have a reply in flight, or a port held by identification.
//!
//! History is kept back to the newest sample a checkpoint may save, however
//! long that is (a port under identification holds `until` back for
//! seconds), and across rounds: while a port answered in one round is still
//! held, a checkpoint saves a position of that round, not the next round's
//! start (whose retry plan need not probe that port again).

use super::core::Position;
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

    /// While round `pos.round` is sent: the senders stood at `pos` at `at`;
    /// forget what a checkpoint at `until` (or later) can no longer save.
    pub fn sample(&mut self, at: Instant, pos: Position, until: Instant, allowance: Duration) {
        self.push(at, pos);
        self.trim(until, allowance);
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

    /// The position a checkpoint at `until` records: the [`safe`](Self::safe)
    /// one, or the start of round 0 (every one of the `senders` at 0) when
    /// nothing was sampled yet.
    pub fn checkpoint_at(&self, until: Instant, allowance: Duration, senders: usize) -> Position {
        self.safe(until, allowance).cloned().unwrap_or(Position {
            round: 0,
            next: vec![0; senders],
        })
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

    #[test]
    fn a_checkpoint_records_every_senders_safe_position_or_the_start() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let at = |round, next: &[u64]| Position {
            round,
            next: next.to_vec(),
        };
        let mut h = History::default();
        // Nothing sampled (no round started yet): round 0, every sender at 0.
        assert_eq!(h.checkpoint_at(ms(0), A, 3), at(0, &[0, 0, 0]));
        // Three senders; round 0 from the start, then sampled every 100 ms.
        h.push(ms(0), at(0, &[0, 0, 0]));
        for k in 1..=5u64 {
            h.sample(ms(100 * k), at(0, &[k * 10, k * 20, k * 30]), ms(0), A);
        }
        // Replies handled up to 380 ms: the newest sample by 130 ms.
        assert_eq!(h.checkpoint_at(ms(380), A, 3), at(0, &[10, 20, 30]));
        // Round 1 starts over at 0 (the positions go back): a checkpoint
        // saves round 1's, never a mix with round 0's larger ones.
        h.sample(ms(700), at(1, &[0, 0, 0]), ms(600), A);
        h.sample(ms(800), at(1, &[4, 5, 6]), ms(600), A);
        assert_eq!(h.checkpoint_at(ms(600), A, 3), at(0, &[30, 60, 90]));
        assert_eq!(h.checkpoint_at(ms(960), A, 3), at(1, &[0, 0, 0]));
        assert_eq!(h.checkpoint_at(ms(1050), A, 3), at(1, &[4, 5, 6]));
        // An empty round (senders with nothing to send): its start.
        h.sample(ms(1100), at(2, &[0, 0, 0]), ms(1100), A);
        assert_eq!(h.checkpoint_at(ms(1400), A, 3), at(2, &[0, 0, 0]));
    }
}
