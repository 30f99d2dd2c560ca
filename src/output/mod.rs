//! Findings writers, one per output format, all fed the same records; and
//! the library side of `synsweep report` and `synsweep merge`.
//!
//! | format | module | kind |
//! | --- | --- | --- |
//! | NDJSON (`.ndjson`, `.jsonl`) | [`ndjson`] | streams: one record per line, one `write` + flush each |
//! | CSV (`.csv`) | [`csv_out`] | streams: header row, then one row per record, flushed |
//! | masscan list (`.txt`) | [`list`] | streams: `#masscan`, `open tcp 80 1.2.3.4 1390380064`, `# end` |
//! | JSON document (`.json`) | [`json_doc`] | document: metadata, scores, grades, findings |
//! | nmap XML (`.xml`) | [`nmap_xml`] | document: validates against nmap's DTD |
//! | HTML report (`.html`) | [`html`] | document: one self-contained page |
//!
//! Documents keep their findings in memory and write everything at
//! [`FindingWriter::finish`].

pub mod csv_out;
pub mod html;
pub mod json_doc;
pub mod list;
pub mod ndjson;
pub mod nmap_xml;

use crate::error::{Error, Result};
use crate::finding::{Category, Finding, PortState, Severity};
use crate::risk::{Policy, Risk};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Output formats, chosen by file extension or `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Json,
    Csv,
    Xml,
    List,
    Html,
}

impl Format {
    /// Parse a `--format` value.
    pub fn parse(s: &str) -> Result<Format> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "ndjson" | "jsonl" => Format::Ndjson,
            "json" => Format::Json,
            "csv" => Format::Csv,
            "xml" | "nmap" => Format::Xml,
            "txt" | "list" | "masscan" => Format::List,
            "html" => Format::Html,
            other => {
                return Err(Error::input(format!(
                    "unknown format '{other}' (ndjson, json, csv, xml, list, html)"
                )));
            }
        })
    }

    /// The format a path's extension names; `-` (stdout) and unknown
    /// extensions are NDJSON.
    pub fn from_path(path: &str) -> Format {
        let ext = Path::new(path)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        match ext.to_ascii_lowercase().as_str() {
            "json" => Format::Json,
            "csv" => Format::Csv,
            "xml" => Format::Xml,
            "txt" => Format::List,
            "html" | "htm" => Format::Html,
            _ => Format::Ndjson,
        }
    }

    /// True for formats written line by line as findings arrive.
    pub fn streams(self) -> bool {
        matches!(self, Format::Ndjson | Format::Csv | Format::List)
    }
}

/// What a document format says about the scan as a whole.
#[derive(Debug, Clone)]
pub struct ScanMeta {
    pub command: String,
    pub started: SystemTime,
    pub finished: SystemTime,
    pub targets: String,
    pub ports: String,
    pub seed: u64,
    pub rate: String,
    pub probes_sent: u64,
}

impl ScanMeta {
    /// Metadata for findings read back from files (`report`, `merge`): the
    /// time span of the findings, their hosts and ports.
    pub fn from_findings(command: &str, findings: &[Finding]) -> ScanMeta {
        let times: Vec<SystemTime> = findings
            .iter()
            .filter_map(|f| humantime::parse_rfc3339(&f.ts).ok())
            .collect();
        let now = SystemTime::now();
        let started = times.iter().min().copied().unwrap_or(now);
        let finished = times.iter().max().copied().unwrap_or(now);
        let mut hosts: Vec<Ipv4Addr> = findings.iter().map(|f| f.ip).collect();
        hosts.sort_unstable();
        hosts.dedup();
        let mut ports: Vec<u16> = findings.iter().map(|f| f.port).collect();
        ports.sort_unstable();
        ports.dedup();
        ScanMeta {
            command: command.to_string(),
            started,
            finished,
            targets: format!("{} hosts", hosts.len()),
            ports: port_list(&ports),
            seed: 0,
            rate: "n/a".to_string(),
            probes_sent: 0,
        }
    }
}

/// A sorted port list as compact text: `22,80,443,8000-8002`.
pub fn port_list(ports: &[u16]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ports.len() {
        let mut j = i;
        while j + 1 < ports.len() && ports[j + 1] == ports[j].saturating_add(1) {
            j += 1;
        }
        if j > i {
            out.push(format!("{}-{}", ports[i], ports[j]));
        } else {
            out.push(ports[i].to_string());
        }
        i = j + 1;
    }
    out.join(",")
}

/// How many ports a port list such as `22,80,1000-1999` names (best effort:
/// parts that do not parse count nothing).
pub fn count_ports(spec: &str) -> u64 {
    spec.split(',')
        .map(|p| p.trim())
        .map(|p| match p.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                (Ok(a), Ok(b)) if b >= a => (b - a + 1) as u64,
                _ => 0,
            },
            None => p.parse::<u16>().map(|_| 1).unwrap_or(0),
        })
        .sum()
}

/// RFC 3339 UTC text of a time, to the second.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Seconds since the epoch (0 before it).
pub(crate) fn epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// A sink for findings. Streaming formats write each record at once;
/// document formats keep them and write at `finish`.
pub trait FindingWriter: Send {
    fn write(&mut self, f: &Finding) -> std::io::Result<()>;
    fn finish(&mut self, meta: &ScanMeta) -> std::io::Result<()>;
    /// True when the format is written line by line (so a resumed scan may
    /// append to it); false for documents that are written whole at the end.
    fn streams(&self) -> bool;
}

/// Where a writer's bytes go.
pub(crate) type Out = Box<dyn Write + Send>;

/// Open a writer for `path` (`-` is stdout). `append` continues an existing
/// streaming file (resume): a CSV file keeps its one header row and a
/// masscan list loses its `# end` trailer until the next `finish`.
/// Documents are always rewritten whole.
pub fn open(path: &str, format: Format, append: bool) -> Result<Box<dyn FindingWriter>> {
    let append = append && format.streams() && path != "-";
    // Bytes already in the file we continue (0 for a new or rewritten file).
    let mut existing = 0u64;
    let out: Out = if path == "-" {
        Box::new(std::io::stdout())
    } else {
        let cannot =
            |e: std::io::Error| Error::input(format!("cannot open output file {path}: {e}"));
        if append {
            if format == Format::List {
                list::strip_trailer(Path::new(path)).map_err(cannot)?;
            }
            existing = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(cannot)?;
        Box::new(f)
    };
    let fresh = existing == 0;
    let io = |e: std::io::Error| Error::runtime(format!("cannot write {path}: {e}"));
    Ok(match format {
        Format::Ndjson => Box::new(ndjson::Ndjson::new(out)),
        Format::Csv => Box::new(csv_out::Csv::new(out, fresh).map_err(io)?),
        Format::List => Box::new(list::List::new(out, fresh).map_err(io)?),
        Format::Json => Box::new(Document::new(out, json_doc::render)),
        Format::Xml => Box::new(Document::new(out, nmap_xml::render)),
        Format::Html => Box::new(Document::new(out, html::render)),
    })
}

/// Renders a whole document from every finding and the scan's metadata.
type Render = fn(&[Finding], &ScanMeta) -> std::io::Result<Vec<u8>>;

/// A document format (JSON, nmap XML, HTML): keeps every finding and writes
/// the whole file at `finish`.
struct Document {
    out: Out,
    findings: Vec<Finding>,
    render: Render,
}

impl Document {
    fn new(out: Out, render: Render) -> Self {
        Document {
            out,
            findings: Vec::new(),
            render,
        }
    }
}

impl FindingWriter for Document {
    fn write(&mut self, f: &Finding) -> std::io::Result<()> {
        self.findings.push(f.clone());
        Ok(())
    }
    fn finish(&mut self, meta: &ScanMeta) -> std::io::Result<()> {
        self.out.write_all(&(self.render)(&self.findings, meta)?)?;
        self.out.flush()
    }
    fn streams(&self) -> bool {
        false
    }
}

/// A findings record as read back from a file: only `ip` and `port` are
/// required, so records from older versions or other tools still load.
#[derive(Deserialize)]
struct LooseFinding {
    ip: Ipv4Addr,
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
    category: Option<Category>,
    #[serde(default)]
    severity: Option<Severity>,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    expected: bool,
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
            proto: l.proto,
            state: l.state,
            reason,
            ttl: l.ttl,
            ts: l.ts,
            service: l.service,
            category: l.category.unwrap_or(Category::Other),
            severity: l.severity.unwrap_or(Severity::Info),
            admin: l.admin,
            expected: l.expected,
            rationale: l.rationale,
            mitigation: l.mitigation,
        }
    }
}

/// Read an NDJSON findings file. Blank lines are ignored; a malformed or
/// cut-short line is skipped and reported as a warning `FILE:LINE: ...`.
/// Only a file that cannot be opened or read is an error.
pub fn read_findings(path: &Path) -> Result<(Vec<Finding>, Vec<String>)> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::input(format!("cannot read findings file {}: {e}", path.display())))?;
    let mut findings = Vec::new();
    let mut warnings = Vec::new();
    for (n, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
        let line = line.map_err(|e| {
            Error::runtime(format!("cannot read findings file {}: {e}", path.display()))
        })?;
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<LooseFinding>(text) {
            Ok(l) => findings.push(l.into()),
            Err(e) => warnings.push(format!(
                "{}:{}: skipped a malformed findings record ({e})",
                path.display(),
                n + 1
            )),
        }
    }
    Ok((findings, warnings))
}

fn read_all(inputs: &[PathBuf]) -> Result<Vec<Finding>> {
    if inputs.is_empty() {
        return Err(Error::input("no findings files given"));
    }
    let mut all = Vec::new();
    for p in inputs {
        let (fs, warnings) = read_findings(p)?;
        for w in warnings {
            eprintln!("synsweep: warning: {w}");
        }
        all.extend(fs);
    }
    Ok(all)
}

/// Remove duplicate (ip, port, proto, state) records, keeping the earliest
/// by `ts` (the first one read when times tie or do not parse); then sort by
/// ip, port, proto and state.
pub fn dedupe(findings: Vec<Finding>) -> Vec<Finding> {
    let time = |f: &Finding| humantime::parse_rfc3339(&f.ts).ok();
    let mut keep: Vec<Finding> = Vec::with_capacity(findings.len());
    let mut at: HashMap<(Ipv4Addr, u16, String, PortState), usize> = HashMap::new();
    for f in findings {
        let key = (f.ip, f.port, f.proto.to_ascii_lowercase(), f.state);
        match at.get(&key) {
            Some(&i) => {
                let earlier = match (time(&f), time(&keep[i])) {
                    (Some(a), Some(b)) => a < b,
                    (Some(_), None) => true,
                    _ => false,
                };
                if earlier {
                    keep[i] = f;
                }
            }
            None => {
                at.insert(key, keep.len());
                keep.push(f);
            }
        }
    }
    keep.sort_by(|a, b| (a.ip, a.port, &a.proto, a.state).cmp(&(b.ip, b.port, &b.proto, b.state)));
    keep
}

fn write_everywhere(
    outputs: &[(String, Option<Format>)],
    findings: &[Finding],
    meta: &ScanMeta,
) -> Result<()> {
    if outputs.is_empty() {
        return Err(Error::input("no output file given (-o FILE)"));
    }
    // Open every output first, so a bad path fails before anything is written.
    let mut writers = Vec::new();
    for (path, fmt) in outputs {
        let fmt = fmt.unwrap_or_else(|| Format::from_path(path));
        writers.push((path, open(path, fmt, false)?));
    }
    for (path, w) in &mut writers {
        let io = |e: std::io::Error| Error::runtime(format!("cannot write {path}: {e}"));
        for f in findings {
            w.write(f).map_err(io)?;
        }
        w.finish(meta).map_err(io)?;
    }
    Ok(())
}

/// `synsweep report`: read findings files, apply the catalog and the policy
/// again, drop duplicates (keeping the earliest), and write every output
/// (format from `Some(format)` or the path's extension). Warnings about
/// skipped lines go to stderr.
pub fn report(
    inputs: &[PathBuf],
    outputs: &[(String, Option<Format>)],
    policy: Option<&Path>,
) -> Result<()> {
    let policy = policy.map(Policy::load).transpose()?;
    let risk = Risk::new(policy);
    let mut findings = read_all(inputs)?;
    for f in &mut findings {
        risk.annotate(f);
    }
    let findings = dedupe(findings);
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    let meta = ScanMeta::from_findings(&format!("synsweep report {}", names.join(" ")), &findings);
    write_everywhere(outputs, &findings, &meta)
}

/// `synsweep merge`: read findings files, drop duplicates (keeping the
/// earliest), sort by ip then port, and write one file (format by its
/// extension; NDJSON unless it says otherwise). Records are not re-annotated.
pub fn merge(inputs: &[PathBuf], output: &str) -> Result<()> {
    let findings = dedupe(read_all(inputs)?);
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    let meta = ScanMeta::from_findings(&format!("synsweep merge {}", names.join(" ")), &findings);
    write_everywhere(&[(output.to_string(), None)], &findings, &meta)
}

/// Escape text for HTML and XML (text and attribute values), dropping
/// characters XML 1.0 does not allow.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_lists_compress_and_count() {
        assert_eq!(
            port_list(&[22, 80, 443, 8000, 8001, 8002]),
            "22,80,443,8000-8002"
        );
        assert_eq!(count_ports("22,80,443,8000-8002"), 6);
        assert_eq!(count_ports("1-65535"), 65535);
        assert_eq!(count_ports(""), 0);
    }

    #[test]
    fn escape_covers_markup_and_controls() {
        assert_eq!(
            escape("<a href=\"x\">&'\u{1}</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
