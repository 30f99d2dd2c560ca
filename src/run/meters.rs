//! The running counts of a scan, read from the threads' counters: what
//! was sent, walked and found, the drops, and the status line made of
//! them. The scan loop, checkpoints and the summary all read them here.

use super::{collect, recv, respond, send, status};
use status::{fmt_dur, fmt_rate};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Where the counts are read from.
pub struct Meters<'a> {
    pub progress: &'a [send::Progress],
    pub counters: &'a collect::Counters,
    pub rxstats: &'a recv::RxStats,
    /// Identification's shared state (None: no identification).
    pub ident: Option<&'a respond::Shared>,
    /// The kernel's backlog drops when the scan started.
    pub backlog0: u64,
    /// Ports found by the paused run this one resumes.
    pub found_before: u64,
    pub show_closed: bool,
    /// Whether the status line is shown.
    pub live: bool,
}

impl Meters<'_> {
    /// The kernel's backlog drops since the scan started.
    pub fn backlog(&self) -> u64 {
        crate::net::softnet::backlog_drops().map_or(0, |d| d.saturating_sub(self.backlog0))
    }

    /// Ports found, with the paused run's (closed ones if shown).
    pub fn found(&self) -> u64 {
        self.found_before
            + self.counters.open.load(Ordering::Relaxed)
            + if self.show_closed {
                self.counters.closed.load(Ordering::Relaxed)
            } else {
                0
            }
    }

    /// Probes sent.
    pub fn sent(&self) -> u64 {
        self.progress
            .iter()
            .map(|p| p.sent.load(Ordering::Relaxed))
            .sum()
    }

    /// Probes sent to hosts that answered before (retry rounds).
    pub fn live_sent(&self) -> u64 {
        self.progress
            .iter()
            .map(|p| p.live_sent.load(Ordering::Relaxed))
            .sum()
    }

    /// Positions of the current round walked, over all senders.
    pub fn walked(&self) -> u64 {
        self.progress
            .iter()
            .map(|p| p.walked.load(Ordering::Relaxed))
            .sum()
    }

    /// Positions of the current round walked, per sender.
    pub fn walked_each(&self) -> Vec<u64> {
        self.progress
            .iter()
            .map(|p| p.walked.load(Ordering::Relaxed))
            .collect()
    }

    /// Everything on the wire: probes and identification's packets (what
    /// `--rate` paces).
    pub fn wire(&self) -> u64 {
        self.sent() + self.ident.map_or(0, respond::Shared::wire_sent)
    }

    /// Show the status line (when live).
    pub fn status_line(&self, phase: &str, pct: f64, eta: Option<Duration>, rate: f64) {
        if !self.live {
            return;
        }
        let ident = self.ident;
        status::show(&format!(
            "{phase} {:5.1}% | {} | sent {}{} | replies {} | open {}{} | drops {}+{} | left {}",
            pct,
            fmt_rate(rate),
            self.sent(),
            ident.map_or(String::new(), |i| format!(" +{} ident", i.wire_sent())),
            self.counters.valid.load(Ordering::Relaxed),
            // Open is a fact at the SYN-ACK: ports still being
            // identified count already.
            self.counters.open.load(Ordering::Relaxed) + ident.map_or(0, respond::Shared::held),
            ident.map_or(String::new(), |i| format!(
                " | identified {}",
                i.identified.load(Ordering::Relaxed)
            )),
            self.rxstats.kernel_drops.load(Ordering::Relaxed),
            self.backlog(),
            eta.map(fmt_dur).unwrap_or_else(|| "-".into()),
        ));
    }
}
