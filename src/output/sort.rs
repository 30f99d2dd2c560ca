//! External sort of findings with duplicate removal, in bounded memory
//! whatever the input size: records are buffered up to a byte budget,
//! sorted and written as a run (NDJSON in a temporary file), and the runs
//! are merged k-way (at most [`FAN_IN`] files open at once; more runs are
//! merged in rounds). The result is one temporary NDJSON file sorted by
//! (ip, port, proto, state, aspect), with one record per key: the earliest by `ts`
//! (the first one pushed when times tie or do not parse), exactly what the
//! in-memory [`super::dedupe`] keeps.
//!
//! Every pass over the findings ([`Sorted::iter`]) streams that file, so a
//! report, a document or a diff holds one record (or one host) at a time.

use super::read::parse_line;
use crate::finding::{Finding, PortState};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use tempfile::NamedTempFile;

/// Bytes of records buffered before a run is written.
pub const DEFAULT_BUDGET: usize = 24 << 20;
/// Runs merged at once.
pub const FAN_IN: usize = 64;

/// The sort order: the dedup key, then the earliest time first (records
/// without a parseable time last); the run index breaks ties (input order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub ip: IpAddr,
    pub port: u16,
    pub proto: String,
    pub state: PortState,
    /// [`Finding::aspect`]: a record of its own next to the port's (which
    /// aspect: a port may have several).
    pub aspect: Option<String>,
    untimed: bool,
    ts: Option<SystemTime>,
}

impl Key {
    pub fn of(f: &Finding) -> Key {
        let ts = humantime::parse_rfc3339(&f.ts).ok();
        Key {
            ip: f.ip,
            port: f.port,
            proto: f.proto.to_ascii_lowercase(),
            state: f.state,
            aspect: f.aspect().map(str::to_string),
            untimed: ts.is_none(),
            ts,
        }
    }

    /// Same (ip, port, proto, state, aspect): duplicates.
    fn same_record(&self, o: &Key) -> bool {
        self.ip == o.ip
            && self.port == o.port
            && self.proto == o.proto
            && self.state == o.state
            && self.aspect == o.aspect
    }
}

/// A temporary file in `dir`, or in the system's temporary directory when
/// `dir` takes no new file (a scan that gave up root writes its documents
/// through descriptors opened before, into directories it may no longer
/// write).
pub(crate) fn temp_in(dir: &Path, what: &str) -> std::io::Result<NamedTempFile> {
    let make = |d: &Path| {
        tempfile::Builder::new()
            .prefix(&format!(".synsweep-{what}-"))
            .suffix(".ndjson")
            .tempfile_in(d)
    };
    make(dir).or_else(|e| {
        let tmp = std::env::temp_dir();
        if tmp == dir { Err(e) } else { make(&tmp) }
    })
}

/// Builds a [`Sorted`] file from findings pushed in any order.
pub struct Sorter {
    dir: PathBuf,
    budget: usize,
    /// The buffered records' lines, back to back (one allocation, no
    /// per-record slack), and each record's key and place in it.
    arena: Vec<u8>,
    chunk: Vec<(Key, usize, usize)>,
    runs: Vec<NamedTempFile>,
}

impl Sorter {
    /// Temporary files go in `dir`.
    pub fn new(dir: &Path) -> Sorter {
        Sorter::with_budget(dir, DEFAULT_BUDGET)
    }

    pub fn with_budget(dir: &Path, budget: usize) -> Sorter {
        Sorter {
            dir: dir.to_path_buf(),
            budget: budget.max(1),
            arena: Vec::new(),
            chunk: Vec::new(),
            runs: Vec::new(),
        }
    }

    pub fn push(&mut self, f: &Finding) -> std::io::Result<()> {
        super::progress::phase(super::progress::Phase::Reading);
        super::progress::record();
        let start = self.arena.len();
        serde_json::to_writer(&mut self.arena, f).map_err(std::io::Error::other)?;
        self.arena.push(b'\n');
        self.chunk
            .push((Key::of(f), start, self.arena.len() - start));
        // Lines plus about what a key and its entry take.
        if self.arena.len() + self.chunk.len() * 96 >= self.budget {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> std::io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        // Stable: equal keys keep the order they were pushed in.
        self.chunk.sort_by(|a, b| a.0.cmp(&b.0));
        let run = temp_in(&self.dir, "run")?;
        let mut w = BufWriter::with_capacity(256 * 1024, run.as_file());
        for (_, start, len) in self.chunk.drain(..) {
            w.write_all(&self.arena[start..start + len])?;
        }
        w.flush()?;
        drop(w);
        self.runs.push(run);
        self.arena.clear();
        Ok(())
    }

    /// Sort, merge and deduplicate everything pushed.
    pub fn finish(mut self) -> std::io::Result<Sorted> {
        super::progress::phase(super::progress::Phase::Sorting);
        self.spill()?;
        let mut runs = self.runs;
        // Merge the earliest runs first, keeping their place in front, so
        // run order still follows input order.
        while runs.len() > FAN_IN {
            let rest = runs.split_off(FAN_IN);
            let (merged, _) = merge_runs(&runs, &self.dir)?;
            runs = std::iter::once(merged).chain(rest).collect();
        }
        let (file, count) = merge_runs(&runs, &self.dir)?;
        Ok(Sorted { file, count })
    }
}

/// A run being merged: its lines, and the head record.
struct RunReader {
    lines: std::io::Split<std::io::BufReader<std::fs::File>>,
}

impl RunReader {
    fn next(&mut self) -> std::io::Result<Option<(Key, Vec<u8>)>> {
        for line in self.lines.by_ref() {
            let mut line = line?;
            if line.is_empty() {
                continue;
            }
            let f = parse_line(&line).map_err(std::io::Error::other)?;
            line.push(b'\n');
            return Ok(Some((Key::of(&f), line)));
        }
        Ok(None)
    }
}

/// Merge sorted runs into one file, keeping the first record of each key.
fn merge_runs(runs: &[NamedTempFile], dir: &Path) -> std::io::Result<(NamedTempFile, u64)> {
    let out = temp_in(dir, "sorted")?;
    let mut w = BufWriter::with_capacity(256 * 1024, out.as_file());
    let mut readers = Vec::with_capacity(runs.len());
    let mut heads: Vec<Option<Vec<u8>>> = Vec::with_capacity(runs.len());
    let mut heap = BinaryHeap::new();
    for (i, r) in runs.iter().enumerate() {
        let f = r.reopen()?;
        let mut rr = RunReader {
            lines: std::io::BufReader::with_capacity(64 * 1024, f).split(b'\n'),
        };
        match rr.next()? {
            Some((k, line)) => {
                heap.push(Reverse((k, i)));
                heads.push(Some(line));
            }
            None => heads.push(None),
        }
        readers.push(rr);
    }
    let mut last: Option<Key> = None;
    let mut count = 0u64;
    while let Some(Reverse((k, i))) = heap.pop() {
        let line = heads[i].take().expect("a run in the heap has a head");
        if !last.as_ref().is_some_and(|l| l.same_record(&k)) {
            w.write_all(&line)?;
            count += 1;
            last = Some(k);
        }
        if let Some((k, line)) = readers[i].next()? {
            heads[i] = Some(line);
            heap.push(Reverse((k, i)));
        }
    }
    w.flush()?;
    drop(w);
    Ok((out, count))
}

/// A pass over sorted findings.
pub type Findings = Box<dyn Iterator<Item = std::io::Result<Finding>>>;

/// Findings sorted by (ip, port, proto, state), one per key, in a
/// temporary file removed when this is dropped.
pub struct Sorted {
    file: NamedTempFile,
    /// Records in the file.
    pub count: u64,
}

impl Sorted {
    /// A pass over the findings, in order.
    pub fn iter(&self) -> std::io::Result<Findings> {
        let f = self.file.reopen()?;
        Ok(Box::new(
            std::io::BufReader::with_capacity(256 * 1024, f)
                .split(b'\n')
                .filter(|l| !l.as_ref().is_ok_and(|l| l.is_empty()))
                .map(|l| l.and_then(|l| parse_line(&l).map_err(std::io::Error::other))),
        ))
    }

    /// The sorted NDJSON file itself.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The same findings with `change` applied to each, in a new file in
    /// `dir`. `change` must not alter the sort key (ip, port, proto,
    /// state, aspect): the order is kept as it is.
    pub fn map(&self, dir: &Path, mut change: impl FnMut(&mut Finding)) -> std::io::Result<Sorted> {
        let file = temp_in(dir, "sorted")?;
        let mut w = BufWriter::with_capacity(256 * 1024, file.as_file());
        let mut count = 0;
        for f in self.iter()? {
            let mut f = f?;
            change(&mut f);
            serde_json::to_writer(&mut w, &f).map_err(std::io::Error::other)?;
            w.write_all(b"\n")?;
            count += 1;
        }
        w.flush()?;
        drop(w);
        Ok(Sorted { file, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::PortState;
    use std::time::{Duration, UNIX_EPOCH};

    /// Findings with many duplicates, times that tie, and times that do not parse.
    fn sample() -> Vec<Finding> {
        let mut out = Vec::new();
        let mut x = 12345u64;
        for i in 0..3000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let ip: IpAddr = if x.is_multiple_of(7) {
                format!("2001:2::{:x}", (x >> 20) % 9).parse().unwrap()
            } else {
                format!("198.19.0.{}", (x >> 20) % 13).parse().unwrap()
            };
            let state = if (x >> 40).is_multiple_of(5) {
                PortState::Closed
            } else {
                PortState::Open
            };
            let mut f = Finding::tcp(
                ip,
                [22, 80, 443, 3389][((x >> 30) % 4) as usize],
                state,
                (i % 200) as u8,
                UNIX_EPOCH + Duration::from_millis(1_790_000_000_000 + (x >> 50) % 4),
            );
            if (x >> 45).is_multiple_of(11) {
                f.ts = "not a time".into();
            }
            // Some ports get a deprecated-TLS record of their own too.
            if (x >> 35).is_multiple_of(6) {
                let mut t = f.clone();
                t.reason = crate::risk::protocol::LEGACY_TLS_REASON.into();
                out.push(t);
            }
            out.push(f);
        }
        out
    }

    #[test]
    fn external_sort_keeps_exactly_what_the_in_memory_dedup_keeps() {
        let fs = sample();
        let dir = tempfile::tempdir().unwrap();
        // A tiny budget: many runs, and more than FAN_IN of them.
        let mut s = Sorter::with_budget(dir.path(), 8 * 1024);
        for f in &fs {
            s.push(f).unwrap();
        }
        let sorted = s.finish().unwrap();
        let got: Vec<Finding> = sorted.iter().unwrap().map(|r| r.unwrap()).collect();
        let want = super::super::dedupe(fs);
        assert_eq!(got.len() as u64, sorted.count);
        assert_eq!(got, want);
        // Only the sorted file is left behind.
        drop(sorted);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_deprecated_tls_record_is_kept_next_to_its_ports_record() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let ip: IpAddr = "198.19.0.4".parse().unwrap();
        let port = Finding::tcp(ip, 443, PortState::Open, 64, t0);
        let mut tls = port.clone();
        tls.reason = crate::risk::protocol::LEGACY_TLS_REASON.into();
        let fs = vec![tls.clone(), port.clone(), port.clone(), tls.clone()];
        let want = vec![port, tls];
        assert_eq!(super::super::dedupe(fs.clone()), want);
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(dir.path());
        fs.iter().for_each(|f| s.push(f).unwrap());
        let got: Vec<Finding> = s
            .finish()
            .unwrap()
            .iter()
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_directory_that_takes_no_file_falls_back_to_the_temp_dir() {
        let mut s = Sorter::with_budget(Path::new("/nonexistent-synsweep-dir"), 64);
        for f in sample().iter().take(10) {
            s.push(f).unwrap();
        }
        assert_eq!(s.finish().unwrap().iter().unwrap().count(), 10);
    }

    #[test]
    fn an_empty_sort_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let sorted = Sorter::new(dir.path()).finish().unwrap();
        assert_eq!(sorted.count, 0);
        assert_eq!(sorted.iter().unwrap().count(), 0);
    }
}
