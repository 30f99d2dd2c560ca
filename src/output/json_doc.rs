//! JSON document: one object with the scan's metadata, its score (the
//! weakest-link roll-up), every host's score and grade, and the findings.
//!
//! ```text
//! { "synsweep": { "version": "0.1.0", "document": 1 },
//!   "scan":     { "command", "started", "finished", "elapsed_seconds",
//!                 "targets", "ports", "seed", "rate", "probes_sent" },
//!   "score":    { "score", "grade", "weakest", "mean", "hosts", "grades" },
//!   "fix_first": [ { "action", "kind", "service", "proto", "port",
//!                    "severity", "category", "mitigation", "hosts",
//!                    "findings", "ports", "ports_total", "host_list",
//!                    "score", "grade", "score_after", "grade_after",
//!                    "score_gain", "mean_after", "host_gain", "hosts_up",
//!                    "grades_after" } ],
//!   "hosts":    [ { "ip", "score", "grade", "open", "expected", "pseudo",
//!                   "critical", "high", "medium", "low", "info" } ],
//!   "findings": [ <findings records, sorted by ip, port> ] }
//! ```
//!
//! Written by streaming: the header parts, then one host per line (from
//! the summary's hosts file), then one finding per line (from the sorted
//! findings), so memory does not grow with either.
//!
//! Field meanings are those of [`crate::risk::score::HostScore`],
//! [`crate::risk::score::ScanScore`] and, for `fix_first` (what to fix
//! first, best first, at most [`crate::risk::plan::TOP_ACTIONS`]),
//! [`crate::risk::plan::Action`].

use super::ndjson::to_vec_safe;
use super::sort::Sorted;
use super::summary::Summary;
use super::{ScanMeta, epoch, rfc3339};
use serde::Serialize;
use std::io::Write;

/// Who wrote the document.
#[derive(Debug, Serialize)]
pub struct Producer {
    pub version: &'static str,
    /// Version of this document layout.
    pub document: u32,
}

/// The scan's metadata, from [`ScanMeta`].
#[derive(Debug, Serialize)]
pub struct Scan {
    pub command: String,
    /// RFC 3339 UTC.
    pub started: String,
    pub finished: String,
    pub elapsed_seconds: u64,
    pub targets: String,
    pub ports: String,
    pub seed: u64,
    pub rate: String,
    pub probes_sent: u64,
}

fn scan(meta: &ScanMeta) -> Scan {
    Scan {
        command: meta.command.clone(),
        started: rfc3339(meta.started),
        finished: rfc3339(meta.finished),
        elapsed_seconds: epoch(meta.finished).saturating_sub(epoch(meta.started)),
        targets: meta.targets.clone(),
        ports: meta.ports.clone(),
        seed: meta.seed,
        rate: meta.rate.clone(),
        probes_sent: meta.probes_sent,
    }
}

/// Write the whole JSON document (the document writer's renderer).
pub fn render(
    sorted: &Sorted,
    sum: &Summary,
    meta: &ScanMeta,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let producer = Producer {
        version: env!("CARGO_PKG_VERSION"),
        document: 1,
    };
    w.write_all(b"{\n  \"synsweep\": ")?;
    w.write_all(&to_vec_safe(&producer)?)?;
    w.write_all(b",\n  \"scan\": ")?;
    w.write_all(&to_vec_safe(&scan(meta))?)?;
    w.write_all(b",\n  \"score\": ")?;
    w.write_all(&to_vec_safe(&sum.scan)?)?;
    w.write_all(b",\n  \"fix_first\": [")?;
    for (i, a) in sum.fix_first.actions.iter().enumerate() {
        w.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
        w.write_all(&to_vec_safe(a)?)?;
    }
    w.write_all(if sum.fix_first.actions.is_empty() {
        b"]"
    } else {
        b"\n  ]"
    })?;
    w.write_all(b",\n  \"hosts\": [")?;
    let mut first = true;
    for h in sum.hosts()? {
        w.write_all(if first { b"\n    " } else { b",\n    " })?;
        first = false;
        w.write_all(&to_vec_safe(&h?.score)?)?;
    }
    w.write_all(if first { b"],\n" } else { b"\n  ],\n" })?;
    w.write_all(b"  \"findings\": [")?;
    let mut first = true;
    for f in sorted.iter()? {
        w.write_all(if first { b"\n    " } else { b",\n    " })?;
        first = false;
        w.write_all(&to_vec_safe(&f?)?)?;
    }
    w.write_all(if first { b"]\n}\n" } else { b"\n  ]\n}\n" })?;
    Ok(())
}
