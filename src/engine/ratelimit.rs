//! A token bucket on an absolute schedule, and pacing: after `t` seconds at
//! most `rate * t` probes have been granted, and they leave evenly spaced, in
//! small batches whose size follows the rate ([`batch_for_rate`]), so a
//! policer downstream sees the average rate, not our bursts. No clock: time
//! is passed in (time since an epoch of the caller's choosing), and a batch
//! is granted or the time to wait for it returned; the caller keeps the
//! clock and does the waiting (`run::limiter`). Packets sent beside the
//! schedule (identification's) are [`charged`](Schedule::charge) to it: the
//! probes after them wait.

use std::time::Duration;

/// At a finite rate, a batch covers this much of the schedule...
pub const PACE: Duration = Duration::from_micros(250);
/// ...but never more than this many probes back to back, up to about
/// [`MAX_BURST`] / [`FAST_PACE`] (1 Mpps)...
pub const MAX_BURST: usize = 12;
/// ...above which a batch is the probes of this long (up to the sender's
/// batch), so the sendmmsg batching that makes the top rate holds.
pub const FAST_PACE: Duration = Duration::from_micros(12);

/// Probes per batch (one `sendmmsg`) at `rate` probes per second for this
/// sender: `top` when unlimited; else the probes of [`PACE`], at least 1 and
/// at most [`MAX_BURST`], or of [`FAST_PACE`] at rates above 1 Mpps, at most
/// `top`. At 40 kpps: 10 probes every 250 us; at 300 kpps: 12 every 40 us.
pub fn batch_for_rate(rate: Option<f64>, top: usize) -> usize {
    let Some(r) = rate else { return top };
    let paced = (r * PACE.as_secs_f64()).round().min(MAX_BURST as f64);
    let fast = (r * FAST_PACE.as_secs_f64()).round();
    (paced.max(fast) as usize).clamp(1, top.max(1))
}

/// Debt the schedule keeps: a sender that was not scheduled for longer
/// sends less rather than catching up on all of it.
pub const MAX_DEBT: Duration = Duration::from_millis(20);
/// Catching up, batches go at most this many times the rate.
pub const PEAK: f64 = 1.25;

/// The schedule. Every time passed in is time since the caller's epoch
/// (the schedule starts at zero, or where it was [`restart`](Self::restart)ed).
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Probes per second; `None` is unlimited.
    rate: Option<f64>,
    /// When the schedule started.
    start: Duration,
    granted: u64,
    /// When the last batch was granted (seconds into the schedule).
    last: Option<f64>,
    /// The next batch is due within a gap of the last: catching up.
    catching: bool,
}

impl Schedule {
    /// A schedule at `rate` starting at zero.
    pub fn new(rate: Option<f64>) -> Self {
        Schedule {
            rate,
            start: Duration::ZERO,
            granted: 0,
            last: None,
            catching: false,
        }
    }

    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// Change the rate from `now` on (the adaptive mode does this). Packets
    /// charged ([`charge`](Self::charge)) and not yet paid for stay owed.
    pub fn set_rate(&mut self, rate: Option<f64>, now: Duration) {
        let owed = self.owed(now);
        self.rate = rate;
        self.restart(now);
        self.charge(owed);
    }

    /// Count `n` packets sent outside this schedule (identification's) as
    /// granted: the probes after them wait until the schedule has room, so
    /// that both together keep the rate. Nothing when unlimited.
    pub fn charge(&mut self, n: u64) {
        if self.rate.is_some() {
            self.granted += n;
        }
    }

    /// Packets granted ahead of the schedule at `now` (charged, not yet
    /// due).
    fn owed(&self, now: Duration) -> u64 {
        let Some(rate) = self.rate else { return 0 };
        let now = now.saturating_sub(self.start);
        let due = (now.as_secs_f64() * rate + 1e-6) as u64;
        self.granted.saturating_sub(due)
    }

    /// Start a new schedule at `now` (after a pause between rounds).
    pub fn restart(&mut self, now: Duration) {
        self.start = now;
        self.granted = 0;
        self.last = None;
        self.catching = false;
    }

    /// Grant a batch of `max` probes at time `now`, or say how long to wait
    /// until it may go. A batch goes when
    /// all of it is due on the average schedule; a sender more than a batch
    /// behind (it was not scheduled) catches up at [`PEAK`] times the rate,
    /// one batch every `max / (PEAK * rate)`, not in a burst, and forgets
    /// debt beyond [`MAX_DEBT`].
    pub fn grant(&mut self, now: Duration, max: u64) -> Result<u64, Duration> {
        let Some(rate) = self.rate else {
            return Ok(max);
        };
        let max = max.max(1);
        let t = now.saturating_sub(self.start).as_secs_f64();
        // (The epsilon keeps a wait computed from this schedule from ending
        // a hair before its probes are due.)
        let due = (t * rate + 1e-6) as u64;
        let debt = (MAX_DEBT.as_secs_f64() * rate) as u64 + max;
        if due > self.granted + debt {
            self.granted = due - debt;
        }
        // More than one batch behind: catch up at PEAK times the rate.
        let behind = due >= self.granted + 2 * max;
        let gap = max as f64 / (PEAK * rate);
        let catching = behind || self.catching;
        let ready = match self.last {
            Some(l) if catching => l + gap,
            _ => 0.0,
        };
        if due >= self.granted + max && t >= ready {
            self.granted += max;
            self.last = Some(t);
            // The next batch due within a gap: it keeps the gap too.
            // Catching up until the next batch is due more than a gap away
            // (a sender merely late by less than a batch is not catching
            // up: the schedule absorbs that without losing rate).
            self.catching = catching && ((t + gap) * rate + 1e-6) as u64 >= self.granted + max;
            Ok(max)
        } else {
            let next = ((self.granted + max) as f64 / rate).max(ready);
            Err(Duration::from_secs_f64((next - t).max(1e-7)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drive a limiter whose sender wakes `step_us` late after every wait
    /// that sleeps; returns (probes granted, grant times in seconds with
    /// their sizes).
    fn simulate(rate: f64, max: u64, secs: f64, step_us: u64) -> (u64, Vec<(f64, u64)>) {
        let mut l = Schedule::new(Some(rate));
        let mut t = Duration::ZERO;
        let mut sent = 0;
        let mut grants = Vec::new();
        while t.as_secs_f64() < secs {
            match l.grant(t, max) {
                Ok(n) => {
                    sent += n;
                    grants.push((t.as_secs_f64(), n));
                }
                Err(w) if w > Duration::from_micros(5) => t += w + Duration::from_micros(step_us),
                Err(w) => t += w,
            }
        }
        (sent, grants)
    }

    #[test]
    fn average_rate_is_exact_at_low_and_high_rates() {
        for rate in [100.0, 5_000.0, 40_000.0, 100_000.0, 650_000.0, 1_500_000.0] {
            let max = batch_for_rate(Some(rate), 64) as u64;
            // Every sleep ends late, by up to a sixth of the time between
            // batches (with fine timer slack a sleep ends within
            // microseconds): the schedule absorbs it.
            let period_us = (max as f64 / rate * 1e6) as u64;
            for late in [0, period_us / 10, period_us / 6] {
                let sent = simulate(rate, max, 2.0, late).0 as f64;
                let err = (sent - 2.0 * rate).abs() / (2.0 * rate);
                assert!(
                    err < 0.01,
                    "rate {rate}, late {late} us: sent {sent} ({:.2}% off)",
                    err * 100.0
                );
            }
        }
    }

    #[test]
    fn batches_are_small_and_evenly_spaced() {
        for rate in [10_000.0, 40_000.0, 100_000.0, 300_000.0, 600_000.0] {
            let max = batch_for_rate(Some(rate), 64);
            assert!(max <= MAX_BURST, "{rate}: {max}");
            let (_, grants) = simulate(rate, max as u64, 0.5, 0);
            assert!(grants.iter().all(|&(_, n)| n == max as u64));
            // Each batch goes once all of it is due: gaps of max / rate.
            let gap = max as f64 / rate;
            for w in grants.windows(2).skip(1) {
                let d = w[1].0 - w[0].0;
                assert!((d - gap).abs() < 1e-6 + gap * 0.01, "{rate}: {d} vs {gap}");
            }
        }
    }

    #[test]
    fn batch_size_follows_the_rate() {
        assert_eq!(batch_for_rate(None, 64), 64);
        assert_eq!(batch_for_rate(Some(100.0), 64), 1);
        assert_eq!(batch_for_rate(Some(10_000.0), 64), 3);
        assert_eq!(batch_for_rate(Some(40_000.0), 64), 10);
        assert_eq!(batch_for_rate(Some(300_000.0), 64), 12);
        assert_eq!(batch_for_rate(Some(1_000_000.0), 64), 12);
        assert_eq!(batch_for_rate(Some(2_000_000.0), 64), 24);
        assert_eq!(batch_for_rate(Some(10_000_000.0), 64), 64);
        assert_eq!(batch_for_rate(Some(10_000_000.0), 32), 32);
    }

    #[test]
    fn no_burst_after_a_stall() {
        let rate = 10_000.0;
        let mut l = Schedule::new(Some(rate));
        assert_eq!(l.grant(Duration::from_micros(300), 3), Ok(3));
        // One second lost: the debt kept is MAX_DEBT; it is paid back one
        // batch at a time, at PEAK times the rate, never at once.
        let mut t = Duration::from_secs(1);
        let mut grants = Vec::new();
        while t < Duration::from_millis(1200) {
            match l.grant(t, 3) {
                Ok(n) => grants.push((t.as_secs_f64(), n)),
                Err(w) => t += w,
            }
        }
        let gap = 3.0 / (PEAK * rate);
        for w in grants.windows(2) {
            assert!(w[1].0 - w[0].0 >= gap - 1e-9, "{w:?}");
        }
        let total: u64 = grants.iter().map(|g| g.1).sum::<u64>();
        let expect = 0.2 * rate + MAX_DEBT.as_secs_f64() * rate;
        assert!((total as f64 - expect).abs() <= 6.0, "{total} vs {expect}");
    }

    #[test]
    fn charged_packets_and_probes_share_the_rate() {
        // Identification sends 1 packet for every 3 probes granted: probes
        // and charged packets together keep the rate.
        for rate in [5_000.0, 40_000.0, 300_000.0] {
            let max = batch_for_rate(Some(rate), 64) as u64;
            let mut l = Schedule::new(Some(rate));
            let (mut t, mut probes, mut charged, mut owe) = (Duration::ZERO, 0u64, 0u64, 0u64);
            while t.as_secs_f64() < 2.0 {
                match l.grant(t, max) {
                    Ok(n) => {
                        probes += n;
                        owe += n;
                        l.charge(owe / 3);
                        charged += owe / 3;
                        owe %= 3;
                    }
                    Err(w) => t += w,
                }
            }
            let total = (probes + charged) as f64;
            let err = (total - 2.0 * rate).abs() / (2.0 * rate);
            assert!(
                err < 0.01,
                "{rate}: {probes} + {charged} ({:.2}% off)",
                err * 100.0
            );
            assert!((charged as f64 / probes as f64 - 1.0 / 3.0).abs() < 0.01);
        }
    }

    #[test]
    fn a_new_rate_keeps_what_is_owed() {
        let mut l = Schedule::new(Some(10_000.0));
        l.charge(1_000);
        assert_eq!(l.owed(Duration::ZERO), 1_000);
        l.set_rate(Some(20_000.0), Duration::ZERO);
        // A tenth of a second at 10k owed: the new schedule waits for it.
        assert!(l.owed(Duration::ZERO) >= 900);
        assert!(l.grant(Duration::from_millis(40), 1).is_err());
        // Unlimited owes nothing.
        l.set_rate(None, Duration::ZERO);
        l.charge(5);
        assert_eq!(l.grant(Duration::ZERO, 8), Ok(8));
    }

    #[test]
    fn unlimited_grants_everything() {
        let mut l = Schedule::new(None);
        assert_eq!(l.grant(Duration::ZERO, 64), Ok(64));
    }

    #[test]
    fn a_restarted_schedule_counts_from_its_new_start() {
        let ms = Duration::from_millis;
        let waits = |r: Result<u64, Duration>, want: Duration| match r {
            Err(w) => w.abs_diff(want) < Duration::from_micros(1),
            Ok(_) => false,
        };
        let mut l = Schedule::new(Some(1_000.0));
        // 10 probes are due by 10 ms.
        assert_eq!(l.grant(ms(10), 10), Ok(10));
        assert!(l.grant(ms(10), 10).is_err());
        // Restarted at 5 s: nothing is due yet, the first batch at 5.01 s
        // (no debt carried from the stretch in between).
        l.restart(ms(5_000));
        assert!(waits(l.grant(ms(5_000), 10), ms(10)));
        assert_eq!(l.grant(ms(5_010), 10), Ok(10));
        // A new rate at 5.05 s: 110 granted with the charge, 50 due: 60
        // owed, which the new schedule counts from there.
        l.charge(100);
        l.set_rate(Some(2_000.0), ms(5_050));
        assert_eq!(l.owed(ms(5_050)), 60);
        assert!(waits(l.grant(ms(5_050), 10), ms(35)));
        assert_eq!(l.grant(ms(5_085), 10), Ok(10));
    }
}
