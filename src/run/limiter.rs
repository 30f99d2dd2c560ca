//! The send schedule on the clock: [`Schedule`] decides when a batch may
//! go; this keeps the time it is given (from an `Instant` taken when the
//! limiter is made) and waits, sleeping (the sender calls
//! [`crate::net::sys::fine_timer_slack`] so a sleep ends on time) and
//! spinning only for the last few microseconds.

use crate::engine::ratelimit::Schedule;
use std::time::{Duration, Instant};

/// The last stretch of a wait that is spent spinning rather than sleeping.
const SPIN: Duration = Duration::from_micros(5);

/// A [`Schedule`] timed by the clock.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    epoch: Instant,
    schedule: Schedule,
}

impl RateLimiter {
    pub fn new(rate: Option<f64>) -> Self {
        RateLimiter {
            epoch: Instant::now(),
            schedule: Schedule::new(rate),
        }
    }

    pub fn rate(&self) -> Option<f64> {
        self.schedule.rate()
    }

    /// See [`Schedule::set_rate`].
    pub fn set_rate(&mut self, rate: Option<f64>) {
        let now = self.epoch.elapsed();
        self.schedule.set_rate(rate, now);
    }

    /// See [`Schedule::charge`].
    pub fn charge(&mut self, n: u64) {
        self.schedule.charge(n);
    }

    /// Start a new schedule from now (after a pause between rounds).
    pub fn restart(&mut self) {
        let now = self.epoch.elapsed();
        self.schedule.restart(now);
    }

    /// Wait until a batch of `max` may go; return its size (`max`).
    pub fn acquire(&mut self, max: u64) -> u64 {
        loop {
            match self.schedule.grant(self.epoch.elapsed(), max) {
                Ok(n) => return n,
                Err(wait) if wait > SPIN => std::thread::sleep(wait - SPIN),
                Err(_) => std::hint::spin_loop(),
            }
        }
    }
}
