//! `--rate max`: an adaptive send rate that finds everything without tuning.
//!
//! The controller starts unlimited (as fast as the kernel takes frames) and is
//! fed, every tick, what happened since the last one: probes sent, replies
//! captured, frames the kernel dropped on our capture socket
//! (PACKET_STATISTICS) and frames the host dropped before any socket saw them
//! (the per-CPU backlog, `/proc/net/softnet_stat`). Any drop, or a reply ratio
//! that falls well below the one seen so far, means replies are being lost:
//! the rate is cut to a fraction of what was just sent (multiplicative
//! decrease). Quiet ticks let it climb again by a few percent per tick
//! (additive-ish increase), back to unlimited once it is well past what the
//! kernel takes anyway. Like the correlator it has no clock and no sockets:
//! time and counters are passed in, so it tests without root.

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
}

/// Cut to this share of the rate just achieved when loss is seen.
const DECREASE: f64 = 0.7;
/// Climb by this factor per quiet tick.
const INCREASE: f64 = 1.05;
/// Never go below this (probes per second).
const FLOOR: f64 = 1_000.0;
/// Once the cap is this far above what is actually sent, it is lifted.
const LIFT: f64 = 2.0;
/// A reply ratio below this share of the best one seen counts as loss...
const RATIO_FALL: f64 = 0.6;
/// ...once the tick held at least this many expected replies.
const MIN_EXPECTED: f64 = 200.0;
/// Ticks to stay put after a cut, so replies in flight settle.
const HOLD_TICKS: u32 = 3;

/// The adaptive rate controller.
#[derive(Debug, Clone)]
pub struct Adaptive {
    /// Current cap in probes per second; `None` is unlimited.
    cap: Option<f64>,
    /// Smoothed reply ratio (replies per probe) of loss-free ticks.
    ratio: Option<f64>,
    hold: u32,
    /// How many times the rate was cut.
    cuts: u64,
}

impl Default for Adaptive {
    fn default() -> Self {
        Self::new()
    }
}

impl Adaptive {
    pub fn new() -> Self {
        Adaptive {
            cap: None,
            ratio: None,
            hold: 0,
            cuts: 0,
        }
    }

    /// The current cap (probes per second for the whole scan), `None` when
    /// unlimited.
    pub fn cap(&self) -> Option<f64> {
        self.cap
    }

    /// How many times loss made the controller back off.
    pub fn cuts(&self) -> u64 {
        self.cuts
    }

    /// Feed one tick; returns the new cap.
    pub fn update(&mut self, t: Tick) -> Option<f64> {
        let secs = t.dt.as_secs_f64();
        if secs <= 0.0 {
            return self.cap;
        }
        let achieved = t.sent as f64 / secs;
        let expected = self.ratio.map(|r| r * t.sent as f64);
        let ratio_fell = match expected {
            Some(e) if e >= MIN_EXPECTED => (t.replies as f64) < RATIO_FALL * e,
            _ => false,
        };
        if t.drops > 0 || ratio_fell {
            if self.hold == 0 && t.sent > 0 {
                let base = match self.cap {
                    Some(c) => c.min(achieved),
                    None => achieved,
                };
                self.cap = Some((base * DECREASE).max(FLOOR));
                self.cuts += 1;
                self.hold = HOLD_TICKS;
            }
            return self.cap;
        }
        if t.sent > 0 {
            let r = t.replies as f64 / t.sent as f64;
            self.ratio = Some(match self.ratio {
                Some(old) => 0.8 * old + 0.2 * r,
                None => r,
            });
        }
        if self.hold > 0 {
            self.hold -= 1;
            return self.cap;
        }
        if let Some(c) = self.cap {
            let next = c * INCREASE;
            // Lift the cap once it no longer binds: the kernel is the limit.
            self.cap = if t.sent > 0 && next > LIFT * achieved.max(FLOOR) {
                None
            } else {
                Some(next)
            };
        }
        self.cap
    }
}

/// Frames the host dropped because a CPU's input backlog was full
/// (`net.core.netdev_max_backlog`): the sum of the second column of
/// `/proc/net/softnet_stat` over all CPUs. The counter is host-wide, so drops
/// caused by others count too (the controller then errs on the slow side).
/// `None` when the file cannot be read.
pub fn backlog_drops() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/net/softnet_stat").ok()?;
    parse_softnet(&s)
}

fn parse_softnet(s: &str) -> Option<u64> {
    s.lines()
        .map(|l| {
            let col = l.split_whitespace().nth(1)?;
            u64::from_str_radix(col, 16).ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(sent: u64, replies: u64, drops: u64) -> Tick {
        Tick {
            dt: Duration::from_millis(100),
            sent,
            replies,
            drops,
        }
    }

    #[test]
    fn stays_unlimited_without_loss() {
        let mut a = Adaptive::new();
        for _ in 0..100 {
            assert_eq!(a.update(tick(50_000, 12_500, 0)), None);
        }
        assert_eq!(a.cuts(), 0);
    }

    #[test]
    fn drops_cut_the_rate_then_it_climbs_back() {
        let mut a = Adaptive::new();
        a.update(tick(50_000, 12_500, 0));
        // 500 kpps achieved, drops seen: cut to 70% of it.
        let c = a.update(tick(50_000, 12_000, 30)).unwrap();
        assert!((c - 350_000.0).abs() < 1.0, "{c}");
        // Drops during the hold do not cut again.
        assert_eq!(a.update(tick(35_000, 8_000, 5)), Some(c));
        // Quiet ticks: hold, then climb.
        for _ in 0..HOLD_TICKS {
            assert_eq!(a.update(tick(35_000, 8_750, 0)), Some(c));
        }
        let c2 = a.update(tick(35_000, 8_750, 0)).unwrap();
        assert!(c2 > c);
        // If the sender cannot reach the cap, the cap goes away.
        let mut lifted = false;
        for _ in 0..200 {
            if a.update(tick(35_000, 8_750, 0)).is_none() {
                lifted = true;
                break;
            }
        }
        assert!(lifted);
        assert_eq!(a.cuts(), 1);
    }

    #[test]
    fn a_falling_reply_ratio_counts_as_loss() {
        let mut a = Adaptive::new();
        for _ in 0..10 {
            a.update(tick(10_000, 2_500, 0));
        }
        // A quarter of the expected replies missing is within noise...
        assert_eq!(a.update(tick(10_000, 1_900, 0)), None);
        // ...half of them missing is not.
        assert!(a.update(tick(10_000, 1_000, 0)).is_some());
        assert_eq!(a.cuts(), 1);
    }

    #[test]
    fn never_below_the_floor() {
        let mut a = Adaptive::new();
        for _ in 0..100 {
            a.update(tick(10, 0, 1));
        }
        assert!(a.cap().unwrap() >= FLOOR);
    }

    #[test]
    fn softnet_drops_are_summed_over_cpus() {
        let s = "0002e2a5 0000000a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n\
                 000e04a1 000000f0 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000000\n";
        assert_eq!(parse_softnet(s), Some(0x0a + 0xf0));
        assert_eq!(parse_softnet("zz"), None);
        assert!(backlog_drops().is_some());
    }

    #[test]
    fn empty_ticks_change_nothing() {
        let mut a = Adaptive::new();
        assert_eq!(
            a.update(Tick {
                dt: Duration::ZERO,
                ..Default::default()
            }),
            None
        );
        assert_eq!(a.update(tick(0, 0, 0)), None);
    }
}
