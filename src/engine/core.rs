//! The scan's state machine, sans IO: rounds (the first pass and each retry
//! round), the short settle between rounds, the wait for late replies, the
//! pause on a signal, and when to write checkpoints. It owns no thread,
//! socket or clock: the driver (`run`) tells it what happened and when, and
//! does what it answers. Every transition tests without root.
//!
//! ```text
//!  start -> Sending(r) --senders done--> Settling(r+1) --settle over--> Sending(r+1)
//!             |                 \--(last round)--> Waiting --wait over--> Done
//!          interrupt -> StopSenders; senders done -> Waiting (paused at r)
//! ```

use std::time::{Duration, Instant};

/// Longest settle between retry rounds (bounded by `--wait`).
pub const SETTLE_MAX: Duration = Duration::from_secs(1);

/// What shapes the state machine.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Retry rounds after the first pass.
    pub retries: u32,
    /// Wait for late replies after the last probe.
    pub wait: Duration,
    /// Sender threads (one position each).
    pub senders: usize,
    /// Write a checkpoint this often while sending (None: never).
    pub checkpoint_every: Option<Duration>,
}

/// Where a scan stands: the round in progress and, per sender, the next
/// position of its slice (every position before it was sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub round: u32,
    pub next: Vec<u64>,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start the senders on `round`, each from its position in `from`.
    StartRound { round: u32, from: Vec<u64> },
    /// Ask the senders to stop after their current batch (then report
    /// where they are with [`ScanCore::senders_done`]).
    StopSenders,
    /// Save a checkpoint now.
    Checkpoint,
    /// Stop receiving and finish. `paused`: where to resume, when the scan
    /// was interrupted before it was complete.
    Finish { paused: Option<Position> },
}

/// The phase of the scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Not started.
    Idle,
    /// Senders are walking round `round`.
    Sending {
        round: u32,
    },
    /// Between rounds: replies to the last round may still arrive, and the
    /// retry plan is made from the answers, so wait a little.
    Settling {
        round: u32,
        until: Instant,
    },
    /// All sending is over: waiting for late replies.
    Waiting {
        until: Instant,
    },
    Done,
}

/// The state machine.
#[derive(Debug)]
pub struct ScanCore {
    cfg: CoreConfig,
    phase: Phase,
    next: Vec<u64>,
    /// Signals received so far.
    interrupts: u32,
    /// Where [`start`](Self::start) begins.
    start_at: Option<Position>,
    /// Where to resume when interrupted.
    paused: Option<Position>,
    next_checkpoint: Option<Instant>,
}

impl ScanCore {
    /// A scan starting at `from` (round 0 and zeros for a new scan).
    pub fn new(cfg: CoreConfig, from: Position) -> Self {
        assert_eq!(from.next.len(), cfg.senders, "one position per sender");
        ScanCore {
            next: from.next.clone(),
            phase: Phase::Idle,
            cfg,
            interrupts: 0,
            start_at: Some(from),
            paused: None,
            next_checkpoint: None,
        }
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Whether the scan was interrupted.
    pub fn interrupted(&self) -> bool {
        self.interrupts > 0
    }

    /// The round in progress or next (for status lines and checkpoints).
    pub fn round(&self) -> u32 {
        match self.phase {
            Phase::Sending { round } | Phase::Settling { round, .. } => round,
            _ => self
                .paused
                .as_ref()
                .or(self.start_at.as_ref())
                .map_or(self.cfg.retries, |p| p.round),
        }
    }

    /// Start sending.
    pub fn start(&mut self, now: Instant) -> Vec<Action> {
        let from = self.start_at.take().expect("start once");
        if from.round > self.cfg.retries {
            // A resumed scan whose rounds were all sent: only the wait is left.
            return self.begin_wait(now);
        }
        self.begin_round(now, from.round, from.next)
    }

    fn begin_round(&mut self, now: Instant, round: u32, from: Vec<u64>) -> Vec<Action> {
        self.phase = Phase::Sending { round };
        self.next = from.clone();
        self.next_checkpoint = self.cfg.checkpoint_every.map(|d| now + d);
        vec![Action::StartRound { round, from }]
    }

    fn begin_wait(&mut self, now: Instant) -> Vec<Action> {
        if self.interrupts >= 2 || self.cfg.wait.is_zero() {
            return self.finish();
        }
        self.phase = Phase::Waiting {
            until: now + self.cfg.wait,
        };
        Vec::new()
    }

    fn finish(&mut self) -> Vec<Action> {
        self.phase = Phase::Done;
        vec![Action::Finish {
            paused: self.paused.clone(),
        }]
    }

    /// The senders of the current round returned; `next` is where each
    /// stopped (the end of its slice when the round is complete).
    pub fn senders_done(&mut self, now: Instant, next: Vec<u64>) -> Vec<Action> {
        let Phase::Sending { round } = self.phase else {
            return Vec::new();
        };
        self.next = next;
        if self.interrupts > 0 {
            self.paused = Some(Position {
                round,
                next: self.next.clone(),
            });
            return self.begin_wait(now);
        }
        if round < self.cfg.retries {
            self.phase = Phase::Settling {
                round: round + 1,
                until: now + self.cfg.wait.min(SETTLE_MAX),
            };
            return Vec::new();
        }
        self.begin_wait(now)
    }

    /// SIGINT or SIGTERM: the first stops sending (the scan pauses, unless
    /// every probe was already sent); the second skips the wait.
    pub fn interrupt(&mut self, now: Instant) -> Vec<Action> {
        self.interrupts += 1;
        match (self.interrupts, self.phase.clone()) {
            (1, Phase::Sending { .. }) => vec![Action::StopSenders],
            (1, Phase::Settling { round, .. }) => {
                // Between rounds: the next round starts from scratch.
                self.paused = Some(Position {
                    round,
                    next: vec![0; self.cfg.senders],
                });
                self.begin_wait(now)
            }
            (_, Phase::Waiting { .. }) if self.interrupts >= 2 => self.finish(),
            _ => Vec::new(),
        }
    }

    /// Time passed: start the next round, end the wait, or checkpoint.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        match self.phase {
            Phase::Settling { round, until } if now >= until => {
                let from = vec![0; self.cfg.senders];
                self.begin_round(now, round, from)
            }
            Phase::Waiting { until } if now >= until => self.finish(),
            Phase::Sending { .. } => match (self.next_checkpoint, self.cfg.checkpoint_every) {
                (Some(at), Some(every)) if now >= at && self.interrupts == 0 => {
                    self.next_checkpoint = Some(now + every);
                    vec![Action::Checkpoint]
                }
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(retries: u32) -> CoreConfig {
        CoreConfig {
            retries,
            wait: Duration::from_secs(3),
            senders: 2,
            checkpoint_every: None,
        }
    }

    fn fresh(retries: u32) -> ScanCore {
        ScanCore::new(
            cfg(retries),
            Position {
                round: 0,
                next: vec![0, 0],
            },
        )
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn rounds_settle_then_wait_then_finish() {
        let t0 = Instant::now();
        let mut c = fresh(2);
        assert_eq!(c.phase(), &Phase::Idle);
        assert_eq!(
            c.start(t0),
            vec![Action::StartRound {
                round: 0,
                from: vec![0, 0]
            }]
        );
        assert!(c.tick(t0 + S).is_empty(), "sending: nothing to do");
        assert!(c.senders_done(t0 + S, vec![50, 50]).is_empty());
        assert!(matches!(c.phase(), Phase::Settling { round: 1, .. }));
        assert!(c.tick(t0 + S + S / 2).is_empty(), "settling for a second");
        assert_eq!(
            c.tick(t0 + 2 * S),
            vec![Action::StartRound {
                round: 1,
                from: vec![0, 0]
            }]
        );
        c.senders_done(t0 + 3 * S, vec![50, 50]);
        assert_eq!(
            c.tick(t0 + 4 * S),
            vec![Action::StartRound {
                round: 2,
                from: vec![0, 0]
            }]
        );
        assert!(c.senders_done(t0 + 5 * S, vec![50, 50]).is_empty());
        assert!(
            matches!(c.phase(), Phase::Waiting { .. }),
            "last round: wait"
        );
        assert!(c.tick(t0 + 7 * S).is_empty(), "the wait is 3 s");
        assert_eq!(c.tick(t0 + 8 * S), vec![Action::Finish { paused: None }]);
        assert_eq!(c.phase(), &Phase::Done);
    }

    #[test]
    fn settle_is_bounded_by_wait() {
        let t0 = Instant::now();
        let mut c = ScanCore::new(
            CoreConfig {
                wait: Duration::from_millis(200),
                ..cfg(1)
            },
            Position {
                round: 0,
                next: vec![0, 0],
            },
        );
        c.start(t0);
        c.senders_done(t0, vec![1, 1]);
        assert_eq!(
            c.tick(t0 + Duration::from_millis(200)),
            vec![Action::StartRound {
                round: 1,
                from: vec![0, 0]
            }]
        );
    }

    #[test]
    fn interrupt_while_sending_pauses_where_the_senders_stopped() {
        let t0 = Instant::now();
        let mut c = fresh(1);
        c.start(t0);
        assert_eq!(c.interrupt(t0 + S), vec![Action::StopSenders]);
        assert!(
            c.senders_done(t0 + S, vec![17, 23]).is_empty(),
            "wait for late replies"
        );
        assert!(c.tick(t0 + 3 * S).is_empty());
        assert_eq!(
            c.tick(t0 + 4 * S),
            vec![Action::Finish {
                paused: Some(Position {
                    round: 0,
                    next: vec![17, 23]
                })
            }]
        );
    }

    #[test]
    fn second_interrupt_skips_the_wait() {
        let t0 = Instant::now();
        let mut c = fresh(0);
        c.start(t0);
        c.interrupt(t0);
        c.senders_done(t0, vec![5, 6]);
        assert_eq!(
            c.interrupt(t0),
            vec![Action::Finish {
                paused: Some(Position {
                    round: 0,
                    next: vec![5, 6]
                })
            }]
        );
        // Two signals before the senders stopped: no wait at all.
        let mut c = fresh(0);
        c.start(t0);
        c.interrupt(t0);
        assert!(c.interrupt(t0).is_empty());
        assert_eq!(
            c.senders_done(t0, vec![1, 2]),
            vec![Action::Finish {
                paused: Some(Position {
                    round: 0,
                    next: vec![1, 2]
                })
            }]
        );
    }

    #[test]
    fn interrupt_between_rounds_resumes_the_next_round_from_scratch() {
        let t0 = Instant::now();
        let mut c = fresh(2);
        c.start(t0);
        c.senders_done(t0, vec![9, 9]);
        assert!(c.interrupt(t0).is_empty());
        assert_eq!(
            c.tick(t0 + 3 * S),
            vec![Action::Finish {
                paused: Some(Position {
                    round: 1,
                    next: vec![0, 0]
                })
            }]
        );
    }

    #[test]
    fn interrupt_during_the_final_wait_is_not_a_pause() {
        let t0 = Instant::now();
        let mut c = fresh(0);
        c.start(t0);
        c.senders_done(t0, vec![9, 9]);
        assert!(c.interrupt(t0).is_empty(), "complete: keep waiting");
        assert_eq!(c.interrupt(t0), vec![Action::Finish { paused: None }]);
    }

    #[test]
    fn resume_continues_the_round_and_positions() {
        let t0 = Instant::now();
        let mut c = ScanCore::new(
            cfg(2),
            Position {
                round: 1,
                next: vec![40, 41],
            },
        );
        assert_eq!(
            c.start(t0),
            vec![Action::StartRound {
                round: 1,
                from: vec![40, 41]
            }]
        );
        assert_eq!(c.round(), 1);
    }

    #[test]
    fn checkpoints_come_at_the_interval_while_sending() {
        let t0 = Instant::now();
        let mut c = ScanCore::new(
            CoreConfig {
                checkpoint_every: Some(S),
                ..cfg(0)
            },
            Position {
                round: 0,
                next: vec![0, 0],
            },
        );
        c.start(t0);
        assert!(c.tick(t0 + S / 2).is_empty());
        assert_eq!(c.tick(t0 + S), vec![Action::Checkpoint]);
        assert!(c.tick(t0 + S + S / 2).is_empty());
        assert_eq!(c.tick(t0 + 2 * S), vec![Action::Checkpoint]);
        c.interrupt(t0 + 2 * S);
        assert!(c.tick(t0 + 4 * S).is_empty(), "no checkpoint while pausing");
    }
}
