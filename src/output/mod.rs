//! Findings writers, one per output format, all fed the same records.
//!
//! STUB: only NDJSON exists; the risk work (issue 3) adds the other formats.

use crate::error::{Error, Result};
use crate::finding::Finding;
use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

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

/// A sink for findings. Streaming formats write each record at once;
/// document formats keep them and write at `finish`.
pub trait FindingWriter: Send {
    fn write(&mut self, f: &Finding) -> std::io::Result<()>;
    fn finish(&mut self, meta: &ScanMeta) -> std::io::Result<()>;
    /// True when the format is written line by line (so a resumed scan may
    /// append to it); false for documents that are written whole at the end.
    fn streams(&self) -> bool;
}

/// Open a writer for `path` (`-` is stdout). `append` continues an existing
/// streaming file (resume); documents are always rewritten whole.
pub fn open(path: &str, format: Format, append: bool) -> Result<Box<dyn FindingWriter>> {
    let _ = format;
    let out: Box<dyn Write + Send> = if path == "-" {
        Box::new(std::io::stdout())
    } else {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(|e| Error::input(format!("cannot open output file {path}: {e}")))?;
        Box::new(f)
    };
    Ok(Box::new(Ndjson { out }))
}

struct Ndjson {
    out: Box<dyn Write + Send>,
}

impl FindingWriter for Ndjson {
    fn write(&mut self, f: &Finding) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(f).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.out.flush()
    }
    fn finish(&mut self, _meta: &ScanMeta) -> std::io::Result<()> {
        self.out.flush()
    }
    fn streams(&self) -> bool {
        true
    }
}
