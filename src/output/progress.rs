//! Progress of `report`, `merge` and `diff` over large inputs: one line on
//! stderr, rewritten once a second (like `scan`'s status line), saying the
//! phase (reading, sorting, merging, rendering), the records handled in it,
//! the rate and the time since the command started. Shown only when
//! stderr is a terminal and `-q` was not given; cleared at the end.
//!
//! The work reports through process-wide counters ([`phase`], [`record`]),
//! cheap enough to call per record whether or not a line is shown; a
//! [`Progress`] started by the command reads them from a thread of its own.

use crate::run::status::{clear, fmt_dur, show};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the command is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Reading = 1,
    Sorting = 2,
    Merging = 3,
    Rendering = 4,
}

impl Phase {
    fn from_u8(v: u8) -> Option<Phase> {
        match v {
            1 => Some(Phase::Reading),
            2 => Some(Phase::Sorting),
            3 => Some(Phase::Merging),
            4 => Some(Phase::Rendering),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Reading => "reading",
            Phase::Sorting => "sorting",
            Phase::Merging => "merging",
            Phase::Rendering => "rendering",
        }
    }
}

static PHASE: AtomicU8 = AtomicU8::new(0);
static RECORDS: AtomicU64 = AtomicU64::new(0);
/// When the phase began, in milliseconds since [`epoch`].
static PHASE_AT: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static E: OnceLock<Instant> = OnceLock::new();
    *E.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64
}

/// Enter a phase (its record count starts at zero); entering the phase
/// already in force changes nothing.
pub fn phase(p: Phase) {
    // A load first: called per record, it rarely has anything to change.
    if PHASE.load(Ordering::Relaxed) != p as u8 && PHASE.swap(p as u8, Ordering::Relaxed) != p as u8
    {
        RECORDS.store(0, Ordering::Relaxed);
        PHASE_AT.store(now_ms(), Ordering::Relaxed);
    }
}

/// One record handled in the current phase.
pub fn record() {
    RECORDS.fetch_add(1, Ordering::Relaxed);
}

/// A count as people read it: `987`, `12.3k`, `4.56M`.
pub fn fmt_count(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.2}M", n as f64 / 1e6)
    } else if n >= 10_000 {
        format!("{:.1}k", n as f64 / 1e3)
    } else {
        n.to_string()
    }
}

/// The progress line.
pub fn line(
    command: &str,
    phase: Phase,
    records: u64,
    in_phase: Duration,
    elapsed: Duration,
) -> String {
    let mut s = format!("synsweep {command}: {}", phase.as_str());
    if records > 0 {
        let rate = records as f64 / in_phase.as_secs_f64().max(1e-3);
        s += &format!(
            ", {} records, {}/s",
            fmt_count(records),
            fmt_count(rate as u64)
        );
    }
    s += &format!(", {} elapsed", fmt_dur(elapsed));
    s
}

/// Whether a command shows progress: stderr is a terminal and no `-q`.
pub fn wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// The line's thread, while a command runs; dropping it stops the thread
/// and clears the line.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Start showing progress of `command` when `show_it` (see [`wanted`]);
    /// otherwise nothing is printed.
    pub fn start(command: &'static str, show_it: bool) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        if !show_it {
            return Progress { stop, thread: None };
        }
        let started = Instant::now();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut next = Duration::from_secs(1);
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if started.elapsed() < next {
                    continue;
                }
                next += Duration::from_secs(1);
                let Some(p) = Phase::from_u8(PHASE.load(Ordering::Relaxed)) else {
                    continue;
                };
                let since = Duration::from_millis(
                    now_ms().saturating_sub(PHASE_AT.load(Ordering::Relaxed)),
                );
                show(&line(
                    command,
                    p,
                    RECORDS.load(Ordering::Relaxed),
                    since,
                    started.elapsed(),
                ));
            }
        });
        Progress {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
            clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_phase_records_rate_and_time() {
        let l = line(
            "report",
            Phase::Reading,
            1_250_000,
            Duration::from_millis(2_500),
            Duration::from_secs(3),
        );
        assert_eq!(
            l,
            "synsweep report: reading, 1.25M records, 500.0k/s, 0:00:03 elapsed"
        );
        let l = line(
            "diff",
            Phase::Sorting,
            0,
            Duration::ZERO,
            Duration::from_secs(61),
        );
        assert_eq!(l, "synsweep diff: sorting, 0:01:01 elapsed");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(12_345), "12.3k");
    }

    #[test]
    fn quiet_or_no_terminal_shows_nothing() {
        assert!(!wanted(true));
        // Tests run with stderr captured or piped: not a terminal.
        if !std::io::stderr().is_terminal() {
            assert!(!wanted(false));
        }
        let p = Progress::start("report", false);
        assert!(p.thread.is_none());
    }
}
