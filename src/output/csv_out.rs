//! CSV: a header row with the findings record's field names, then one row
//! per finding in the same order, flushed as it is written. Appending to a
//! file that already has rows writes no second header.

use super::{FindingWriter, Out, ScanMeta};
use crate::finding::Finding;

/// The header row: the findings record's fields, in order.
pub const HEADER: [&str; 14] = [
    "ip",
    "port",
    "proto",
    "state",
    "reason",
    "ttl",
    "ts",
    "service",
    "category",
    "severity",
    "admin",
    "expected",
    "rationale",
    "mitigation",
];

pub struct Csv {
    w: csv::Writer<Out>,
}

impl Csv {
    /// `fresh`: the file is new or empty, so it gets a header row.
    pub fn new(out: Out, fresh: bool) -> std::io::Result<Self> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(out);
        if fresh {
            w.write_record(HEADER)?;
            w.flush()?;
        }
        Ok(Csv { w })
    }
}

impl FindingWriter for Csv {
    fn write(&mut self, f: &Finding) -> std::io::Result<()> {
        self.w.serialize(f).map_err(std::io::Error::other)?;
        self.w.flush()
    }
    fn finish(&mut self, _meta: &ScanMeta) -> std::io::Result<()> {
        self.w.flush()
    }
    fn streams(&self) -> bool {
        true
    }
}
