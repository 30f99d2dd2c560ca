//! What a person sees: the live status line on a terminal and the one
//! summary line at the end.

/// A rate as the status line and the summary show it (the controller's
/// own format: "44.2 kpps").
pub use crate::engine::adaptive::fmt_rate;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// What a scan did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub space: u64,
    /// Probes handed to the kernel by this run.
    pub sent: u64,
    /// Packets identification sent beside them (ACKs, hellos, SYNs of
    /// further attempts, RSTs), within the same rate (None: `--no-identify`).
    pub ident_sent: Option<u64>,
    /// Time spent sending (first probe to last).
    pub send_time: Duration,
    pub replies: u64,
    pub open: u64,
    pub closed: u64,
    /// ICMP unreachables (other than port unreachable from the target)
    /// quoting our UDP probes: filtered, not findings (counted per message).
    pub filtered: u64,
    pub kernel_drops: u64,
    /// Frames the host's input backlog dropped while we scanned (host-wide).
    pub backlog_drops: u64,
    /// Times `--rate max` backed off because replies were being lost.
    pub rate_cuts: u64,
    /// `--rate max`: the rate it settled on and why.
    pub rate_note: Option<String>,
    /// Paths (interface, next hop) the scan used.
    pub paths: usize,
    /// On-link hosts that did not answer ARP (not probed).
    pub down: u64,
    /// Target addresses with no route (not probed).
    pub unrouted: u64,
    pub elapsed: Duration,
    /// Where the paused state went, when the scan was interrupted.
    pub paused: Option<PathBuf>,
    /// Open ports whose service was identified (None: `--no-identify`).
    pub identified: Option<u64>,
    /// Open ports reported unidentified because identification was at its
    /// limit (its share of the rate, or its table, was full).
    pub unidentified_busy: u64,
    /// Of those, the ports that found the identification tables full.
    pub unidentified_full: u64,
    /// Identification packets dropped: its queue held twice its backlog.
    pub ident_dropped: u64,
    /// Hosts judged middleboxes or tarpits (their silent ports are pseudo).
    pub pseudo_hosts: Vec<std::net::IpAddr>,
}

pub fn fmt_dur(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The live line: rewritten in place on stderr.
pub fn show(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = write!(e, "\r\x1b[2K{line}");
    let _ = e.flush();
}

/// Clear the live line.
pub fn clear() {
    eprint!("\r\x1b[2K");
}

impl Summary {
    /// The one summary line printed at the end.
    pub fn line(&self, seed: u64) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut reach = String::new();
        if self.paths > 1 {
            reach += &format!(", {} paths", self.paths);
        }
        if self.down > 0 {
            reach += &format!(", {} on-link hosts down (no ARP reply)", self.down);
        }
        if self.filtered > 0 {
            reach += &format!(", {} ICMP unreachable (filtered)", self.filtered);
        }
        if self.unrouted > 0 {
            reach += &format!(", {} addresses with no route", self.unrouted);
        }
        if let Some(n) = self.identified {
            reach += &format!(", {n} services identified");
        }
        let (full, paced) = (
            self.unidentified_full,
            self.unidentified_busy
                .saturating_sub(self.unidentified_full),
        );
        if full > 0 {
            reach += &format!(
                ", {full} open ports not identified (more open ports at once than identification holds: {} per receiver)",
                crate::run::respond::CAPACITY
            );
        }
        if paced > 0 {
            reach += &format!(
                ", {paced} open ports not identified (identification's packets were at the rate's limit: raise --rate)"
            );
        }
        if self.ident_dropped > 0 {
            reach += &format!(
                ", {} identification packets dropped (its queue was full)",
                self.ident_dropped
            );
        }
        if !self.pseudo_hosts.is_empty() {
            let shown: Vec<String> = self
                .pseudo_hosts
                .iter()
                .take(8)
                .map(|h| h.to_string())
                .collect();
            let more = self.pseudo_hosts.len().saturating_sub(shown.len());
            reach += &format!(
                ", {} hosts answer on every port with nothing behind (middlebox or tarpit; their ports are marked pseudo): {}{}",
                self.pseudo_hosts.len(),
                shown.join(" "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            );
        }
        // Identification's packets share the rate with the probes: both
        // figures, and their sum on the wire.
        let wire = match self.ident_sent {
            Some(k) => format!(
                " + {k} identification packets ({} on the wire)",
                self.sent + k
            ),
            None => String::new(),
        };
        format!(
            "synsweep: {} probes for {} pairs in {:.1}s ({} while sending){wire}, {} replies, {} open, {} closed, {} kernel drops, {} backlog drops, {} rate cuts{}{reach}, seed {seed}{}",
            self.sent,
            self.space,
            secs,
            fmt_rate(self.sent as f64 / self.send_time.as_secs_f64().max(1e-9)),
            self.replies,
            self.open,
            self.closed,
            self.kernel_drops,
            self.backlog_drops,
            self.rate_cuts,
            self.rate_note
                .as_ref()
                .map_or(String::new(), |n| format!(" ({n})")),
            match &self.paused {
                Some(p) => format!(
                    " (paused: resume with synsweep scan --resume {})",
                    p.display()
                ),
                None => String::new(),
            }
        )
    }
}
