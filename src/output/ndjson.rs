//! NDJSON: one findings record (DESIGN.md) per line. Each line is built
//! whole, handed over in one `write_all` and flushed at once, so a crash
//! leaves at most one cut-short last line, which `read_findings` skips.

use super::{FindingWriter, Out, ScanMeta};
use crate::finding::Finding;
use std::io::Write;

pub struct Ndjson {
    out: Out,
}

impl Ndjson {
    pub fn new(out: Out) -> Self {
        Ndjson { out }
    }
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
