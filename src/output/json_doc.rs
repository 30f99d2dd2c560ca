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

use super::{FindingWriter, Out, ScanMeta, epoch, rfc3339};
use crate::finding::Finding;
use crate::risk::score::{host_scores, scan_score};
use serde_json::json;
use std::io::Write;

pub struct JsonDoc {
    out: Out,
    findings: Vec<Finding>,
}

impl JsonDoc {
    pub fn new(out: Out) -> Self {
        JsonDoc {
            out,
            findings: Vec::new(),
        }
    }
}

/// The document as a JSON value.
pub fn document(findings: &[Finding], meta: &ScanMeta) -> serde_json::Value {
    let mut findings = findings.to_vec();
    findings.sort_by(|a, b| (a.ip, a.port, &a.proto).cmp(&(b.ip, b.port, &b.proto)));
    let hosts = host_scores(&findings);
    let scan = scan_score(&hosts);
    json!({
        "synsweep": { "version": env!("CARGO_PKG_VERSION"), "document": 1 },
        "scan": {
            "command": meta.command,
            "started": rfc3339(meta.started),
            "finished": rfc3339(meta.finished),
            "elapsed_seconds": epoch(meta.finished).saturating_sub(epoch(meta.started)),
            "targets": meta.targets,
            "ports": meta.ports,
            "seed": meta.seed,
            "rate": meta.rate,
            "probes_sent": meta.probes_sent,
        },
        "score": scan,
        "hosts": hosts,
        "findings": findings,
    })
}

impl FindingWriter for JsonDoc {
    fn write(&mut self, f: &Finding) -> std::io::Result<()> {
        self.findings.push(f.clone());
        Ok(())
    }
    fn finish(&mut self, meta: &ScanMeta) -> std::io::Result<()> {
        let doc = document(&self.findings, meta);
        let mut bytes = serde_json::to_vec_pretty(&doc).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        self.out.write_all(&bytes)?;
        self.out.flush()
    }
    fn streams(&self) -> bool {
        false
    }
}
