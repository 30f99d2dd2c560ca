//! A token bucket on an absolute schedule: after `t` seconds at most
//! `rate * t` probes have been granted, so the average rate is exact however
//! the sender is scheduled. Time is passed in (`grant`), so the logic tests
//! without a clock; `acquire` is the sleeping wrapper the sender uses.

use std::time::{Duration, Instant};

/// How far behind schedule the bucket may fall before it forgets the debt
/// instead of bursting to catch up.
const MAX_DEBT: Duration = Duration::from_millis(20);

#[derive(Debug, Clone)]
pub struct RateLimiter {
    /// Probes per second; `None` is unlimited.
    rate: Option<f64>,
    start: Instant,
    granted: u64,
}

impl RateLimiter {
    pub fn new(rate: Option<f64>) -> Self {
        RateLimiter {
            rate,
            start: Instant::now(),
            granted: 0,
        }
    }

    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// Change the rate from now on (the adaptive mode does this).
    pub fn set_rate(&mut self, rate: Option<f64>) {
        self.rate = rate;
        self.restart();
    }

    /// Start a new schedule from now (after a pause between rounds).
    pub fn restart(&mut self) {
        self.start = Instant::now();
        self.granted = 0;
    }

    /// Grant up to `max` probes at time `now` (since the schedule started), or
    /// say how long to wait for the next one.
    pub fn grant(&mut self, now: Duration, max: u64) -> Result<u64, Duration> {
        let Some(rate) = self.rate else {
            return Ok(max);
        };
        let due = (now.as_secs_f64() * rate) as u64;
        let debt = (MAX_DEBT.as_secs_f64() * rate) as u64 + max;
        if due > self.granted + debt {
            self.granted = due - debt;
        }
        if due > self.granted {
            let n = (due - self.granted).min(max);
            self.granted += n;
            Ok(n)
        } else {
            let next = (self.granted + 1) as f64 / rate;
            Err(Duration::from_secs_f64((next - now.as_secs_f64()).max(0.0)))
        }
    }

    /// Block until at least one probe may go; return how many (<= max).
    pub fn acquire(&mut self, max: u64) -> u64 {
        loop {
            match self.grant(self.start.elapsed(), max) {
                Ok(n) => return n,
                Err(wait) => std::thread::sleep(wait.max(Duration::from_micros(20))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simulate(rate: f64, max: u64, secs: f64, step_us: u64) -> u64 {
        let mut l = RateLimiter::new(Some(rate));
        let mut t = Duration::ZERO;
        let mut sent = 0;
        while t.as_secs_f64() < secs {
            match l.grant(t, max) {
                Ok(n) => sent += n,
                Err(w) => t += w.max(Duration::from_micros(step_us)),
            }
        }
        sent
    }

    #[test]
    fn average_rate_is_exact_at_low_and_high_rates() {
        for (rate, max) in [
            (100.0, 64),
            (5_000.0, 64),
            (100_000.0, 64),
            (1_500_000.0, 256),
        ] {
            let sent = simulate(rate, max, 2.0, 30) as f64;
            let err = (sent - 2.0 * rate).abs() / (2.0 * rate);
            assert!(
                err < 0.01,
                "rate {rate}: sent {sent} ({:.2}% off)",
                err * 100.0
            );
        }
    }

    #[test]
    fn no_burst_after_a_stall() {
        let mut l = RateLimiter::new(Some(10_000.0));
        assert_eq!(l.grant(Duration::from_millis(1), 64).unwrap(), 10);
        // One second lost: at most the 20 ms debt and one batch come out at once.
        let n = l.grant(Duration::from_secs(1), 10_000).unwrap();
        assert!(n <= 200 + 10_000 && n > 0);
        let mut l = RateLimiter::new(Some(10_000.0));
        l.grant(Duration::from_millis(1), 64).unwrap();
        let n = l.grant(Duration::from_secs(1), 64).unwrap();
        assert_eq!(n, 64);
        let mut total = 0;
        let mut t = Duration::from_secs(1);
        while let Ok(n) = l.grant(t, 64) {
            total += n;
            t += Duration::from_nanos(1);
        }
        assert!(total <= 200 + 64, "caught up with {total} probes at once");
    }

    #[test]
    fn unlimited_grants_everything() {
        let mut l = RateLimiter::new(None);
        assert_eq!(l.grant(Duration::ZERO, 64), Ok(64));
    }
}
