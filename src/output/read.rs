//! Reading findings back: NDJSON records, one at a time (nothing is kept),
//! tolerant of records from older versions or other tools (only `ip` and
//! `port` are required) and of a cut-short last line (a killed scan).

use crate::error::{Error, Result};
use crate::finding::{Category, Finding, PortState, Severity};
use serde::Deserialize;
use std::io::BufRead;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A findings record as read back from a file.
#[derive(Deserialize)]
struct LooseFinding {
    ip: IpAddr,
    port: u16,
    #[serde(default = "tcp")]
    proto: String,
    #[serde(default = "open_state")]
    state: PortState,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    ttl: u8,
    #[serde(default)]
    ts: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    banner: Option<String>,
    #[serde(default)]
    category: Option<Category>,
    #[serde(default)]
    severity: Option<Severity>,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    expected: bool,
    #[serde(default)]
    pseudo: bool,
    #[serde(default)]
    amplification: Option<f64>,
    #[serde(default)]
    product: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    tls: Option<Box<crate::finding::Tls>>,
    #[serde(default)]
    http: Option<Box<crate::finding::Http>>,
    #[serde(default)]
    rationale: String,
    #[serde(default)]
    mitigation: String,
}

fn tcp() -> String {
    "tcp".to_string()
}

fn open_state() -> PortState {
    PortState::Open
}

impl From<LooseFinding> for Finding {
    fn from(l: LooseFinding) -> Finding {
        let reason = l.reason.unwrap_or_else(|| match l.state {
            PortState::Open => "syn-ack".to_string(),
            PortState::Closed => "rst".to_string(),
        });
        Finding {
            ip: l.ip,
            port: l.port,
            proto: l.proto.to_ascii_lowercase(),
            state: l.state,
            reason,
            ttl: l.ttl,
            ts: l.ts,
            service: l.service,
            protocol: l.protocol,
            banner: l.banner,
            category: l.category.unwrap_or(Category::Other),
            severity: l.severity.unwrap_or(Severity::Info),
            admin: l.admin,
            expected: l.expected,
            pseudo: l.pseudo,
            amplification: l.amplification,
            product: l.product,
            version: l.version,
            tls: l.tls,
            http: l.http,
            rationale: l.rationale,
            mitigation: l.mitigation,
        }
    }
}

/// Parse one NDJSON line (without its newline) into a finding.
pub fn parse_line(line: &[u8]) -> std::result::Result<Finding, serde_json::Error> {
    serde_json::from_slice::<LooseFinding>(line).map(Finding::from)
}

/// Bytes of a findings file, read once from start to end.
pub type Stream = Box<dyn std::io::Read + Send>;

/// What to do with a malformed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Skip it with a warning (a cut-short record, a stray line).
    Warn,
    /// Only a cut-short last line is skipped (with a warning); a malformed
    /// line anywhere else makes the file bad input.
    OnlyLast,
}

/// The findings of one NDJSON file, one at a time. Blank lines are
/// ignored. Warnings (`FILE:LINE: ...`) collect in [`Reader::warnings`].
pub struct Reader {
    path: PathBuf,
    lines: std::io::Split<std::io::BufReader<Stream>>,
    n: usize,
    mode: Malformed,
    /// A malformed line seen, not yet known to be the last one.
    pending: Option<String>,
    pub warnings: Vec<String>,
}

impl Reader {
    pub fn open(path: &Path, mode: Malformed) -> Result<Reader> {
        let file = std::fs::File::open(path).map_err(|e| {
            Error::input(format!("cannot read findings file {}: {e}", path.display()))
        })?;
        Ok(Reader::from_stream(path, Box::new(file), mode))
    }

    /// The findings of `stream`, read from `path` (named in warnings): a
    /// file opened once, whose first bytes may already have been read and
    /// put back in front (a pipe cannot be opened twice).
    pub fn from_stream(path: &Path, stream: Stream, mode: Malformed) -> Reader {
        Reader {
            path: path.to_path_buf(),
            lines: std::io::BufReader::with_capacity(256 * 1024, stream).split(b'\n'),
            n: 0,
            mode,
            pending: None,
            warnings: Vec::new(),
        }
    }

    /// Warnings so far, taken (so they can be printed as they come).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }
}

impl Iterator for Reader {
    type Item = Result<Finding>;

    fn next(&mut self) -> Option<Result<Finding>> {
        loop {
            let line = match self.lines.next() {
                Some(Ok(l)) => l,
                Some(Err(e)) => {
                    return Some(Err(Error::runtime(format!(
                        "cannot read findings file {}: {e}",
                        self.path.display()
                    ))));
                }
                None => {
                    if let Some(w) = self.pending.take() {
                        self.warnings.push(w);
                    }
                    return None;
                }
            };
            self.n += 1;
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            if let Some(w) = self.pending.take() {
                // A malformed line that was not the last one.
                return Some(Err(Error::input(w.replace(
                    "skipped a malformed findings record",
                    "not a findings record",
                ))));
            }
            match parse_line(text) {
                Ok(f) => return Some(Ok(f)),
                Err(e) => {
                    let w = format!(
                        "{}:{}: skipped a malformed findings record ({e})",
                        self.path.display(),
                        self.n
                    );
                    match self.mode {
                        Malformed::Warn => self.warnings.push(w),
                        Malformed::OnlyLast => self.pending = Some(w),
                    }
                }
            }
        }
    }
}

/// Read a whole NDJSON findings file into memory (small files, tests).
/// A malformed or cut-short line is skipped and reported as a warning
/// `FILE:LINE: ...`. Only a file that cannot be opened or read is an error.
pub fn read_findings(path: &Path) -> Result<(Vec<Finding>, Vec<String>)> {
    let mut r = Reader::open(path, Malformed::Warn)?;
    let mut findings = Vec::new();
    for f in r.by_ref() {
        findings.push(f?);
    }
    Ok((findings, r.warnings))
}
