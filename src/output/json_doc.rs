//! JSON document: one object with the scan's metadata, its score (the
//! weakest-link roll-up), every host's score and grade, and the findings.
//!
//! ```text
//! { "synsweep": { "version": "0.1.0", "document": 1 },
//!   "scan":     { "command", "started", "finished", "elapsed_seconds",
//!                 "targets", "ports", "seed", "rate", "probes_sent" },
//!   "score":    { "score", "grade", "weakest", "mean", "hosts", "grades" },
//!   "hosts":    [ { "ip", "score", "grade", "open", "expected",
//!                   "critical", "high", "medium", "low", "info" } ],
//!   "findings": [ <findings records, sorted by ip, port> ] }
//! ```
//!
//! Field meanings are those of [`crate::risk::score::HostScore`] and
//! [`crate::risk::score::ScanScore`].

use super::{ScanMeta, epoch, rfc3339};
use crate::finding::Finding;
use crate::risk::score::{HostScore, ScanScore, host_scores, scan_score};
use serde::Serialize;

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

/// The whole document; fields are written in this order.
#[derive(Debug, Serialize)]
pub struct Document {
    pub synsweep: Producer,
    pub scan: Scan,
    pub score: ScanScore,
    pub hosts: Vec<HostScore>,
    pub findings: Vec<Finding>,
}

/// The document for a set of findings.
pub fn document(findings: &[Finding], meta: &ScanMeta) -> Document {
    let mut findings = findings.to_vec();
    findings.sort_by(|a, b| (a.ip, a.port, &a.proto).cmp(&(b.ip, b.port, &b.proto)));
    let hosts = host_scores(&findings);
    let score = scan_score(&hosts);
    Document {
        synsweep: Producer {
            version: env!("CARGO_PKG_VERSION"),
            document: 1,
        },
        scan: Scan {
            command: meta.command.clone(),
            started: rfc3339(meta.started),
            finished: rfc3339(meta.finished),
            elapsed_seconds: epoch(meta.finished).saturating_sub(epoch(meta.started)),
            targets: meta.targets.clone(),
            ports: meta.ports.clone(),
            seed: meta.seed,
            rate: meta.rate.clone(),
            probes_sent: meta.probes_sent,
        },
        score,
        hosts,
        findings,
    }
}

/// The whole JSON document as bytes (the document writer's renderer).
pub fn render(findings: &[Finding], meta: &ScanMeta) -> std::io::Result<Vec<u8>> {
    let mut bytes =
        serde_json::to_vec_pretty(&document(findings, meta)).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes)
}
