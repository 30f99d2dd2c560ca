//! `synsweep report` and `synsweep merge` in memory bounded whatever the
//! input size: read the findings files one record at a time (re-annotating
//! them for `report`), sort and deduplicate them externally ([`super::sort`]),
//! summarize them in one pass ([`super::summary`]), and write every output
//! by streaming over the sorted file. `--baseline OLD` sorts the older scan
//! the same way and merge-joins it ([`super::diff`]) for the HTML report's
//! "what changed" section.

use super::diff::{Changes, sort_file};
use super::import::{self, Input};
use super::sort::{Sorted, Sorter};
use super::summary::Summary;
use super::{Format, ScanMeta, renderer, temp_dir_for};
use crate::error::{Error, Result};
use crate::risk::{Policy, Risk};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Open every input (of any format [`super::import`] reads), so a
/// missing, empty or unknown file fails before any work.
fn open_inputs(inputs: &[PathBuf]) -> Result<Vec<Input>> {
    if inputs.is_empty() {
        return Err(Error::input("no findings files given"));
    }
    inputs.iter().map(|p| Input::open(p)).collect()
}

/// Read every input, pass each record (and the format it came in) through
/// `each`, and sort.
fn sort_inputs(
    readers: Vec<Input>,
    dir: &Path,
    mut each: impl FnMut(&mut crate::finding::Finding, import::Kind),
) -> Result<Sorted> {
    let mut sorter = Sorter::new(dir);
    let io =
        |e: std::io::Error| Error::runtime(format!("sorting findings in {}: {e}", dir.display()));
    for mut r in readers {
        let kind = r.kind();
        for f in r.by_ref() {
            let mut f = f?;
            each(&mut f, kind);
            sorter.push(&f).map_err(io)?;
        }
        for w in r.take_warnings() {
            eprintln!("synsweep: warning: {w}");
        }
    }
    sorter.finish().map_err(io)
}

/// An output opened before any work, so a bad path fails first. Files
/// are written under a temporary name beside them and renamed into place
/// at the end, so an output may also be an input (`merge a b -o a`) and a
/// failed run leaves the old file as it was.
struct Opened {
    path: String,
    /// The temporary file renamed to `path` when done (none for stdout).
    temp: Option<tempfile::TempPath>,
    kind: Kind,
}

enum Kind {
    Document(super::Render, Box<dyn Write + Send>),
    Stream(Box<dyn super::FindingWriter>),
}

/// Open every output (format from `Some(format)` or the path's extension).
fn open_outputs(outputs: &[(String, Option<Format>)]) -> Result<Vec<Opened>> {
    if outputs.is_empty() {
        return Err(Error::input("no output file given (-o FILE)"));
    }
    let mut opened = Vec::new();
    for (path, fmt) in outputs {
        let fmt = fmt.unwrap_or_else(|| Format::from_path(path));
        let cannot =
            |e: std::io::Error| Error::input(format!("cannot open output file {path}: {e}"));
        let (file, temp): (Box<dyn Write + Send>, _) = if path == "-" {
            (Box::new(std::io::stdout()), None)
        } else {
            let t = tempfile::Builder::new()
                .prefix(".synsweep-out-")
                .tempfile_in(temp_dir_for(path))
                .map_err(cannot)?;
            let (f, p) = t.into_parts();
            (Box::new(f), Some(p))
        };
        let kind = match renderer(fmt) {
            Some(render) => Kind::Document(render, file),
            None => {
                let at = temp
                    .as_ref()
                    .map_or(path.clone(), |t| t.display().to_string());
                Kind::Stream(super::open(&at, fmt, false)?)
            }
        };
        opened.push(Opened {
            path: path.clone(),
            temp,
            kind,
        });
    }
    Ok(opened)
}

/// Write sorted findings to every output.
fn write_everywhere(
    outputs: Vec<Opened>,
    sorted: &Sorted,
    sum: &Summary,
    meta: &ScanMeta,
) -> Result<()> {
    for o in outputs {
        let path = &o.path;
        let io = |e: std::io::Error| Error::runtime(format!("cannot write {path}: {e}"));
        match o.kind {
            Kind::Document(render, file) => {
                let mut w = std::io::BufWriter::with_capacity(256 * 1024, file);
                render(sorted, sum, meta, &mut w).map_err(io)?;
                w.flush().map_err(io)?;
            }
            Kind::Stream(mut w) => {
                for f in sorted.iter().map_err(io)? {
                    w.write(&f.map_err(io)?).map_err(io)?;
                }
                w.finish(meta).map_err(io)?;
            }
        }
        if let Some(t) = o.temp {
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&t, std::fs::Permissions::from_mode(0o644)).map_err(io)?;
            }
            t.persist(path).map_err(|e| io(e.error))?;
        }
    }
    Ok(())
}

fn command(name: &str, inputs: &[PathBuf]) -> String {
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    format!("synsweep {name} {}", names.join(" "))
}

/// `synsweep report`: read findings files (synsweep's, or nmap, masscan,
/// zmap or naabu results: [`super::import`]), apply the catalog and the policy
/// again, drop duplicates (keeping the earliest), and write every output
/// (format from `Some(format)` or the path's extension). A malformed record is
/// bad input; a warning about a cut-short last line goes to stderr. With a `baseline` (an older scan's
/// findings), the HTML report shows what changed since.
pub fn report(
    inputs: &[PathBuf],
    outputs: &[(String, Option<Format>)],
    policy: Option<&Path>,
) -> Result<()> {
    report_with_baseline(inputs, outputs, policy, None)
}

/// [`report`] with an optional baseline scan.
pub fn report_with_baseline(
    inputs: &[PathBuf],
    outputs: &[(String, Option<Format>)],
    policy: Option<&Path>,
    baseline: Option<&Path>,
) -> Result<()> {
    let policy = policy.map(Policy::load).transpose()?;
    let readers = open_inputs(inputs)?;
    if let Some(b) = baseline {
        std::fs::metadata(b)
            .map_err(|e| Error::input(format!("cannot read baseline file {}: {e}", b.display())))?;
    }
    let opened = open_outputs(outputs)?;
    let risk = Risk::new(policy);
    let dir = temp_dir_for(&outputs[0].0);
    let old = baseline.map(|b| sort_file(b, &dir)).transpose()?;
    let io = |e: std::io::Error| Error::runtime(format!("summarizing findings: {e}"));
    let sorted = sort_inputs(readers, &dir, |f, _| risk.annotate(f))?;
    let sorted = super::verdict::apply_sorted(sorted, &dir).map_err(io)?;
    let mut sum = Summary::build(&sorted, &dir).map_err(io)?;
    if let Some(old) = &old {
        sum.baseline = Some(Changes::collect(old, &sorted).map_err(io)?);
    }
    let meta = sum.meta(&command("report", inputs));
    write_everywhere(opened, &sorted, &sum, &meta)
}

/// `synsweep merge`: read findings files, drop duplicates (keeping the
/// earliest), sort by ip then port, and write one file (format by its
/// extension; NDJSON unless it says otherwise). synsweep's records are not
/// re-annotated; other scanners' records are annotated by the catalog.
pub fn merge(inputs: &[PathBuf], output: &str) -> Result<()> {
    let readers = open_inputs(inputs)?;
    let opened = open_outputs(&[(output.to_string(), None)])?;
    let dir = temp_dir_for(output);
    let catalog = Risk::new(None);
    let sorted = sort_inputs(readers, &dir, |f, kind| {
        if !kind.is_synsweep() {
            catalog.annotate(f)
        }
    })?;
    let io = |e: std::io::Error| Error::runtime(format!("summarizing findings: {e}"));
    let sorted = super::verdict::apply_sorted(sorted, &dir).map_err(io)?;
    let sum = Summary::build(&sorted, &dir).map_err(io)?;
    let meta = sum.meta(&command("merge", inputs));
    write_everywhere(opened, &sorted, &sum, &meta)
}
