//! Findings writers, one per output format, all fed the same records; and
//! the library side of `synsweep report`, `synsweep merge` and
//! `synsweep diff`.
//!
//! | format | module | kind |
//! | --- | --- | --- |
//! | NDJSON (`.ndjson`, `.jsonl`) | [`ndjson`] | streams: one record per line, one `write` + flush each |
//! | CSV (`.csv`) | [`csv_out`] | streams: header row, then one row per record, flushed |
//! | masscan list (`.txt`) | [`list`] | streams: `#masscan`, `open tcp 80 1.2.3.4 1390380064`, `# end` |
//! | JSON document (`.json`) | [`json_doc`] | document: metadata, scores, grades, findings |
//! | nmap XML (`.xml`) | [`nmap_xml`] | document: validates against nmap's DTD |
//! | HTML report (`.html`) | [`html`] | document: one self-contained page, bounded in size |
//!
//! Nothing keeps findings in memory. A document writer spills each finding
//! to `<output>.spill.ndjson` as it comes; at [`FindingWriter::finish`] the
//! spill is sorted externally ([`sort`]), summarized in one pass
//! ([`summary`]) and the document rendered by streaming over it, then the
//! spill is removed. A paused scan keeps it
//! ([`FindingWriter::finish_paused`]) and the resumed scan appends to it, so
//! the document ends up with the findings of every run. `report`, `merge`
//! ([`mod@report`]) and `diff` ([`mod@diff`]) work the same way, in memory bounded
//! whatever the input size.
//!
//! Hostile text (banners, and any free text read back from files) is
//! neutralized per reader: HTML and XML escape it (and drop characters XML
//! 1.0 forbids), CSV cells a spreadsheet would run as a formula get a
//! leading `'`, JSON escapes every control character (C1 too), and text
//! for a terminal goes through [`crate::finding::terminal_safe`].

pub mod csv_out;
pub mod diff;
pub mod facts;
pub mod html;
pub mod import;
pub mod json_doc;
pub mod list;
pub mod ndjson;
pub mod nmap_xml;
pub mod progress;
pub mod read;
pub mod report;
pub mod sort;
pub mod summary;
pub mod verdict;

pub use read::read_findings;
pub use report::{merge, report};

use crate::error::{Error, Result};
use crate::finding::{Finding, PortState};
use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
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
        // `T:22,80,U:53`: protocol prefixes count their ports too.
        .map(|p| {
            p.strip_prefix("T:")
                .or_else(|| p.strip_prefix("U:"))
                .unwrap_or(p)
        })
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

/// A sink for findings. Streaming formats write each record as it comes;
/// document formats spill them to disk and render at `finish`. Records are
/// buffered until [`flush`](FindingWriter::flush) or `finish`.
pub trait FindingWriter: Send {
    fn write(&mut self, f: &Finding) -> std::io::Result<()>;
    /// Hand every record written so far to the kernel: a crash after this
    /// loses none of them. A scan calls it after each batch of replies,
    /// before a checkpoint can see the batch counted.
    fn flush(&mut self) -> std::io::Result<()>;
    /// Write what remains (a document: render it whole) and end the file
    /// for good.
    fn finish(&mut self, meta: &ScanMeta) -> std::io::Result<()>;
    /// The scan paused: write the file as `finish` does, but keep what a
    /// resumed scan needs to continue it (a document's spill file).
    fn finish_paused(&mut self, meta: &ScanMeta) -> std::io::Result<()> {
        self.finish(meta)
    }
    /// True when the format is written line by line (so a resumed scan may
    /// append to it); false for documents that are written whole at the end.
    fn streams(&self) -> bool;
}

/// Where a writer's bytes go.
pub(crate) type Out = Box<dyn Write + Send>;

/// The spill file of a document written to `path`.
pub fn spill_path(path: &str) -> PathBuf {
    PathBuf::from(format!("{path}.spill.ndjson"))
}

/// Where temporary files for an output go: beside it (same file system,
/// not a RAM-backed /tmp), or the system's temporary directory for stdout.
pub fn temp_dir_for(path: &str) -> PathBuf {
    if path == "-" {
        return std::env::temp_dir();
    }
    match Path::new(path).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Open a writer for `path` (`-` is stdout). `append` continues an existing
/// file (resume): a CSV file keeps its one header row, a masscan list loses
/// its `# end` trailer until the next `finish`, and a document keeps the
/// spill file of the paused run (the document itself is rewritten whole).
pub fn open(path: &str, format: Format, append: bool) -> Result<Box<dyn FindingWriter>> {
    open_with(path, format, append, None)
}

/// [`open`], with an older scan's findings for the HTML report's "what
/// changed" section (other formats ignore it). A baseline that cannot be
/// read is bad input, found before the scan starts.
pub fn open_with(
    path: &str,
    format: Format,
    append: bool,
    baseline: Option<&Path>,
) -> Result<Box<dyn FindingWriter>> {
    let baseline = match baseline {
        Some(b) if format == Format::Html => {
            std::fs::File::open(b).map_err(|e| {
                Error::input(format!("cannot read baseline file {}: {e}", b.display()))
            })?;
            Some(b.to_path_buf())
        }
        _ => None,
    };
    let spill_append = append && path != "-";
    let append = append && format.streams() && path != "-";
    let cannot = |e: std::io::Error| Error::input(format!("cannot open output file {path}: {e}"));
    // Bytes already in the file we continue (0 for a new or rewritten file).
    let mut existing = 0u64;
    let out: Out = if path == "-" {
        Box::new(std::io::BufWriter::new(std::io::stdout()))
    } else {
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
        Box::new(std::io::BufWriter::new(f))
    };
    let fresh = existing == 0;
    let io = |e: std::io::Error| Error::runtime(format!("cannot write {path}: {e}"));
    Ok(match format {
        Format::Ndjson => Box::new(ndjson::Ndjson::new(out)),
        Format::Csv => Box::new(csv_out::Csv::new(out, fresh).map_err(io)?),
        Format::List => Box::new(list::List::new(out, fresh).map_err(io)?),
        Format::Json | Format::Xml | Format::Html => {
            let mut d = Document::open(out, path, format, spill_append).map_err(cannot)?;
            d.baseline = baseline;
            Box::new(d)
        }
    })
}

/// Renders a whole document by streaming over sorted findings and their
/// summary.
pub type Render =
    fn(&sort::Sorted, &summary::Summary, &ScanMeta, &mut dyn Write) -> std::io::Result<()>;

/// The renderer of a document format (`None` for streaming formats).
pub fn renderer(format: Format) -> Option<Render> {
    match format {
        Format::Json => Some(json_doc::render),
        Format::Xml => Some(nmap_xml::render),
        Format::Html => Some(html::render),
        _ => None,
    }
}

/// Sort, summarize and render the findings of an NDJSON file (a spill)
/// into `out`; temporary files go in `dir`.
fn render_file(
    spill: &Path,
    render: Render,
    meta: &ScanMeta,
    dir: &Path,
    baseline: Option<&Path>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut reader = read::Reader::open(spill, read::Malformed::Warn)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    // A scan renders its documents while its own tables are still held:
    // a smaller sort budget than `report`'s.
    let mut sorter = sort::Sorter::with_budget(dir, SCAN_SORT_BUDGET);
    for f in reader.by_ref() {
        sorter.push(&f.map_err(|e| std::io::Error::other(e.to_string()))?)?;
    }
    for w in reader.take_warnings() {
        eprintln!("synsweep: warning: {w}");
    }
    let sorted = verdict::apply_sorted(sorter.finish()?, dir)?;
    let mut sum = summary::Summary::build(&sorted, dir)?;
    if let Some(b) = baseline {
        let old = diff::sort_file(b, dir).map_err(|e| std::io::Error::other(e.to_string()))?;
        sum.baseline = Some(diff::Changes::collect(&old, &sorted)?);
    }
    let mut w = std::io::BufWriter::with_capacity(256 * 1024, out);
    render(&sorted, &sum, meta, &mut w)?;
    w.flush()
}

/// Bytes of records a document writer sorts in memory at a time.
const SCAN_SORT_BUDGET: usize = 8 << 20;

/// A document format (JSON, nmap XML, HTML): spills every finding to an
/// NDJSON file as it comes (handed to the kernel at each
/// [`FindingWriter::flush`], so a crash loses nothing already reported) and
/// renders the whole file at `finish` by
/// streaming over it. Memory does not grow with findings.
struct Document {
    out: Out,
    render: Render,
    spill: std::io::BufWriter<std::fs::File>,
    spill_path: PathBuf,
    /// For stdout: the spill is a temporary file, removed on drop.
    temp: Option<tempfile::TempPath>,
    dir: PathBuf,
    /// An older scan to compare with (HTML).
    baseline: Option<PathBuf>,
}

impl Document {
    fn open(out: Out, path: &str, format: Format, append: bool) -> std::io::Result<Self> {
        let render = renderer(format).expect("a document format");
        let dir = temp_dir_for(path);
        let (spill, spill_path, temp) = if path == "-" {
            let t = tempfile::Builder::new()
                .prefix(".synsweep-spill-")
                .suffix(".ndjson")
                .tempfile_in(&dir)?;
            let (f, p) = t.into_parts();
            (f, p.to_path_buf(), Some(p))
        } else {
            let p = spill_path(path);
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)?;
            if !append {
                f.set_len(0)?;
            }
            (f, p, None)
        };
        Ok(Document {
            out,
            render,
            spill: std::io::BufWriter::new(spill),
            spill_path,
            temp,
            dir,
            baseline: None,
        })
    }

    fn render_now(&mut self, meta: &ScanMeta) -> std::io::Result<()> {
        self.spill.flush()?;
        render_file(
            &self.spill_path,
            self.render,
            meta,
            &self.dir,
            self.baseline.as_deref(),
            &mut self.out,
        )?;
        self.out.flush()
    }
}

impl FindingWriter for Document {
    fn write(&mut self, f: &Finding) -> std::io::Result<()> {
        self.spill.write_all(&ndjson::line(f)?)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.spill.flush()
    }
    fn finish(&mut self, meta: &ScanMeta) -> std::io::Result<()> {
        self.render_now(meta)?;
        if self.temp.is_none() {
            match std::fs::remove_file(&self.spill_path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                // A directory we may no longer write (privilege dropped):
                // empty the spill through our descriptor instead.
                Err(_) => self.spill.get_ref().set_len(0)?,
            }
        }
        Ok(())
    }
    fn finish_paused(&mut self, meta: &ScanMeta) -> std::io::Result<()> {
        self.render_now(meta)
    }
    fn streams(&self) -> bool {
        false
    }
}

/// `ip:port/proto`, with an IPv6 address in brackets.
pub fn endpoint(f: &Finding) -> String {
    match f.ip {
        IpAddr::V4(ip) => format!("{ip}:{}/{}", f.port, f.proto),
        IpAddr::V6(ip) => format!("[{ip}]:{}/{}", f.port, f.proto),
    }
}

/// Remove duplicate (ip, port, proto, state, aspect) records, keeping the earliest
/// by `ts` (the first one read when times tie or do not parse); then sort by
/// ip, port, proto and state. In memory: the reference the external sort
/// ([`sort::Sorter`]) is tested against, and handy for small sets.
pub fn dedupe(findings: Vec<Finding>) -> Vec<Finding> {
    let time = |f: &Finding| humantime::parse_rfc3339(&f.ts).ok();
    let mut keep: Vec<Finding> = Vec::with_capacity(findings.len());
    let mut at: HashMap<(IpAddr, u16, String, PortState, Option<String>), usize> = HashMap::new();
    for f in findings {
        let key = (
            f.ip,
            f.port,
            f.proto.to_ascii_lowercase(),
            f.state,
            f.aspect().map(str::to_string),
        );
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
    keep.sort_by(|a, b| {
        (a.ip, a.port, &a.proto, a.state, a.aspect()).cmp(&(
            b.ip,
            b.port,
            &b.proto,
            b.state,
            b.aspect(),
        ))
    });
    keep
}

/// Escape text for HTML and XML (text and attribute values), dropping
/// characters XML 1.0 does not allow and the other controls (DEL, C1)
/// a terminal showing the file would act on; tab, CR and LF stay.
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
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_puts_every_record_written_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let finding = |i: u16| {
            Finding::observed(
                "198.19.0.1".parse().unwrap(),
                i,
                "tcp",
                crate::finding::PortState::Open,
                "syn-ack",
                64,
                std::time::SystemTime::now(),
            )
        };
        // (format, file the records stream to, lines before the records)
        for (format, name, head) in [
            (Format::Ndjson, "f.ndjson", 0),
            (Format::Csv, "f.csv", 1),
            (Format::List, "f.txt", 1),
            (Format::Html, "f.html", 0),
            (Format::Json, "f.json", 0),
            (Format::Xml, "f.xml", 0),
        ] {
            let path = dir.path().join(name);
            let path = path.to_str().unwrap();
            let mut w = open(path, format, false).unwrap();
            let file = if format.streams() {
                PathBuf::from(path)
            } else {
                spill_path(path)
            };
            let lines = || std::fs::read_to_string(&file).unwrap().lines().count();
            for n in 1..=3u16 {
                for i in 0..200 {
                    w.write(&finding(n * 1000 + i)).unwrap();
                }
                w.flush().unwrap();
                assert_eq!(lines(), head + 200 * n as usize, "{format:?}");
            }
        }
    }

    #[test]
    fn port_lists_compress_and_count() {
        assert_eq!(
            port_list(&[22, 80, 443, 8000, 8001, 8002]),
            "22,80,443,8000-8002"
        );
        assert_eq!(count_ports("22,80,443,8000-8002"), 6);
        assert_eq!(count_ports("1-65535"), 65535);
        assert_eq!(count_ports(""), 0);
        assert_eq!(count_ports("T:22,80,U:53,161-162"), 5);
    }

    #[test]
    fn escape_covers_markup_and_controls() {
        assert_eq!(
            escape("<a href=\"x\">&'\u{1}</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
