//! `synsweep diff OLD NEW`: what changed between two scans, as ndiff and
//! attack-surface tools report it, in bounded memory: both inputs are
//! sorted externally ([`super::sort`]), then merge-joined by (ip, port,
//! proto), one host at a time.
//!
//! Change records (NDJSON, one per line), in address order:
//!
//! - `opened`: open in NEW, not in OLD: the NEW finding's fields plus
//!   `"change":"opened"`;
//! - `closed`: open in OLD, not in NEW: the OLD finding's fields plus
//!   `"change":"closed"`;
//! - `changed`: open in both with a different `service`, `protocol`,
//!   `category` or `severity`, or a certificate with a new SHA-256
//!   fingerprint: the NEW finding's fields, `"change":"changed"` and `was`
//!   holding the OLD values of those four fields and the old fingerprint
//!   (`cert_sha256`);
//! - a certificate that crossed into `tls-cert-expiring` or
//!   `tls-cert-expired` on a port open in both scans: its new aspect record
//!   is `changed` too (not `opened`), with `was` naming what the port was
//!   (its record, or its `tls-cert-expiring` record when it went on to
//!   expire) and the old fingerprint;
//! - `grade`: a host whose grade changed, after that host's port records:
//!   `{"change":"grade","ip":..,"old_score":..,"old_grade":..,"new_score":..,"new_grade":..}`.
//!   A host absent from one scan (no open port there) counts as score 100, A.
//!
//! Records are compared port by port: a port's own record with its own,
//! each aspect record (`tls-legacy`, `tls-cert-*`) with the one of the same
//! kind. Only open ports are compared (closed records from `--show-closed`
//! are ignored). Exit status: 0 no change, 1 changes, 2 bad input.

use super::import::Input;
use super::sort::{Findings, Sorted, Sorter};
use crate::error::{Error, Result};
use crate::finding::{Finding, PortState, terminal_safe};
use crate::risk::score::{HostAcc, HostScore};
use crate::risk::{category_str, severity_str};
use serde::Serialize;
use std::collections::BinaryHeap;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

/// One change between two scans.
#[derive(Debug, Clone)]
pub enum Change {
    Opened(Finding),
    Closed(Finding),
    Changed {
        old: Box<Finding>,
        new: Box<Finding>,
    },
    Grade {
        old: HostScore,
        new: HostScore,
    },
}

/// The old values of a changed port.
#[derive(Debug, Serialize)]
struct Was<'a> {
    service: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<&'a str>,
    category: crate::finding::Category,
    severity: crate::finding::Severity,
    /// The old certificate's SHA-256 fingerprint.
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_sha256: Option<&'a str>,
}

/// The SHA-256 fingerprint of a record's certificate.
fn cert_sha256(f: &Finding) -> Option<&str> {
    f.tls
        .as_deref()
        .and_then(|t| t.cert.as_ref())
        .map(|c| c.sha256.as_str())
}

/// Aspect records that a certificate crosses into as time passes.
const CROSSINGS: [&str; 2] = ["tls-cert-expiring", "tls-cert-expired"];

/// Most aspect records of one port compared (more are hostile input).
const ASPECTS_MAX: usize = 64;

#[derive(Serialize)]
struct PortRecord<'a> {
    change: &'static str,
    #[serde(flatten)]
    finding: &'a Finding,
    #[serde(skip_serializing_if = "Option::is_none")]
    was: Option<Was<'a>>,
}

#[derive(Serialize)]
struct GradeRecord {
    change: &'static str,
    ip: IpAddr,
    old_score: u8,
    old_grade: crate::risk::score::Grade,
    new_score: u8,
    new_grade: crate::risk::score::Grade,
}

impl Change {
    /// The change record (one NDJSON line, with its newline).
    pub fn record(&self) -> std::io::Result<Vec<u8>> {
        let mut line = match self {
            Change::Opened(f) | Change::Closed(f) => serde_json::to_vec(&PortRecord {
                change: if matches!(self, Change::Opened(_)) {
                    "opened"
                } else {
                    "closed"
                },
                finding: f,
                was: None,
            }),
            Change::Changed { old, new } => serde_json::to_vec(&PortRecord {
                change: "changed",
                finding: new,
                was: Some(Was {
                    service: &old.service,
                    protocol: old.protocol.as_deref(),
                    category: old.category,
                    severity: old.severity,
                    cert_sha256: cert_sha256(old),
                }),
            }),
            Change::Grade { old, new } => serde_json::to_vec(&GradeRecord {
                change: "grade",
                ip: new.ip,
                old_score: old.score,
                old_grade: old.grade,
                new_score: new.score,
                new_grade: new.grade,
            }),
        }
        .map_err(std::io::Error::other)?;
        line.push(b'\n');
        Ok(line)
    }

    /// One line for people (no control characters).
    pub fn text(&self) -> String {
        let port = |f: &Finding| {
            format!(
                "{} {} ({}, {})",
                super::endpoint(f),
                terminal_safe(f.protocol.as_deref().unwrap_or(&f.service)),
                category_str(f.category),
                severity_str(f.severity)
            )
        };
        match self {
            Change::Opened(f) => format!("+ opened  {}", port(f)),
            Change::Closed(f) => format!("- closed  {}", port(f)),
            Change::Changed { old, new } => {
                let cert = match (cert_sha256(old), cert_sha256(new)) {
                    (Some(a), Some(b)) if a != b => {
                        format!(", cert {} -> {}", short_hex(a), short_hex(b))
                    }
                    _ => String::new(),
                };
                format!("~ changed {} was {}{cert}", port(new), {
                    let p = port(old);
                    p.split_once(' ').map(|x| x.1.to_string()).unwrap_or(p)
                })
            }
            Change::Grade { old, new } => format!(
                "! grade   {}: {} ({}) -> {} ({})",
                new.ip, old.grade, old.score, new.grade, new.score
            ),
        }
    }
}

/// The first 16 hex digits of a fingerprint, for people (no controls).
fn short_hex(h: &str) -> String {
    terminal_safe(h).chars().take(16).collect()
}

/// True when two findings of the same port differ in what the diff compares.
/// The guess mark alone is no change: a record written before it existed
/// says `ftp` where a newer one says `ftp?` for the same unnamed port.
fn differs(a: &Finding, b: &Finding) -> bool {
    a.service_name() != b.service_name()
        || a.protocol != b.protocol
        || a.category != b.category
        || a.severity != b.severity
        || matches!((cert_sha256(a), cert_sha256(b)), (Some(x), Some(y)) if x != y)
}

/// The records of one port in one scan: its own and its aspects.
#[derive(Default)]
struct Group {
    main: Option<Finding>,
    aspects: Vec<Finding>,
}

/// Compare one port open in both scans, calling `on` for each change.
fn compare(
    old: Group,
    new: Group,
    ha: &mut HostAcc,
    hb: &mut HostAcc,
    on: &mut impl FnMut(Change) -> std::io::Result<()>,
) -> std::io::Result<()> {
    for f in old.main.iter().chain(&old.aspects) {
        ha.add(f);
    }
    for f in new.main.iter().chain(&new.aspects) {
        hb.add(f);
    }
    match (&old.main, new.main) {
        (Some(a), Some(b)) if differs(a, &b) => on(Change::Changed {
            old: Box::new(a.clone()),
            new: Box::new(b),
        })?,
        (None, Some(b)) => on(Change::Opened(b))?,
        (Some(a), None) => on(Change::Closed(a.clone()))?,
        _ => {}
    }
    let mut old_aspects: Vec<Option<Finding>> = old.aspects.into_iter().map(Some).collect();
    let mut unmatched = Vec::new();
    for b in new.aspects {
        let same = old_aspects
            .iter_mut()
            .find(|a| a.as_ref().is_some_and(|a| a.reason == b.reason))
            .and_then(Option::take);
        match same {
            Some(a) if differs(&a, &b) => on(Change::Changed {
                old: Box::new(a),
                new: Box::new(b),
            })?,
            Some(_) => {}
            None => unmatched.push(b),
        }
    }
    for b in unmatched {
        // A certificate that crossed into expiring or expired: what the
        // port was (its expiring record, when it went on to expire).
        let was = if CROSSINGS.contains(&b.reason.as_str()) {
            let expiring = (b.reason == CROSSINGS[1])
                .then(|| {
                    old_aspects
                        .iter_mut()
                        .find(|a| a.as_ref().is_some_and(|a| a.reason == CROSSINGS[0]))
                        .and_then(Option::take)
                })
                .flatten();
            expiring.or_else(|| old.main.clone())
        } else {
            None
        };
        match was {
            Some(a) => on(Change::Changed {
                old: Box::new(a),
                new: Box::new(b),
            })?,
            None => on(Change::Opened(b))?,
        }
    }
    for a in old_aspects.into_iter().flatten() {
        on(Change::Closed(a))?;
    }
    Ok(())
}

/// A sorted stream of open findings with one record of lookahead.
struct Stream {
    it: Findings,
    head: Option<Finding>,
}

impl Stream {
    fn new(s: &Sorted) -> std::io::Result<Stream> {
        let mut st = Stream {
            it: s.iter()?,
            head: None,
        };
        st.advance()?;
        Ok(st)
    }
    fn advance(&mut self) -> std::io::Result<()> {
        self.head = None;
        for f in self.it.by_ref() {
            let f = f?;
            if f.state == PortState::Open {
                self.head = Some(f);
                break;
            }
        }
        Ok(())
    }
    fn take(&mut self) -> std::io::Result<Finding> {
        let f = self.head.take().expect("take after a head was seen");
        self.advance()?;
        Ok(f)
    }
    /// (port, proto) of the head when it belongs to `ip`.
    fn at(&self, ip: IpAddr) -> Option<(u16, String)> {
        self.head
            .as_ref()
            .filter(|f| f.ip == ip)
            .map(|f| (f.port, f.proto.to_ascii_lowercase()))
    }
    /// Every record of the head's port (its own first if it has one; at
    /// most [`ASPECTS_MAX`] aspects kept).
    fn group(&mut self, ip: IpAddr) -> std::io::Result<Group> {
        let key = self.at(ip);
        let mut g = Group::default();
        while key.is_some() && self.at(ip) == key {
            let f = self.take()?;
            if f.is_aspect() {
                if g.aspects.len() < ASPECTS_MAX {
                    g.aspects.push(f);
                }
            } else if g.main.is_none() {
                g.main = Some(f);
            }
        }
        Ok(g)
    }
}

/// Merge-join two sorted scans, calling `on` for every change, in address
/// order (a host's grade change after its ports).
pub fn diff_sorted(
    old: &Sorted,
    new: &Sorted,
    mut on: impl FnMut(Change) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut a = Stream::new(old)?;
    let mut b = Stream::new(new)?;
    loop {
        let ip = match (&a.head, &b.head) {
            (None, None) => break,
            (Some(x), None) => x.ip,
            (None, Some(y)) => y.ip,
            (Some(x), Some(y)) => x.ip.min(y.ip),
        };
        let mut ha = HostAcc::new(ip);
        let mut hb = HostAcc::new(ip);
        loop {
            match (a.at(ip), b.at(ip)) {
                (None, None) => break,
                (Some(ka), kb) if kb.as_ref().is_none_or(|kb| ka < *kb) => {
                    let g = a.group(ip)?;
                    for f in g.main.into_iter().chain(g.aspects) {
                        ha.add(&f);
                        on(Change::Closed(f))?;
                    }
                }
                (ka, Some(kb)) if ka.as_ref().is_none_or(|ka| kb < *ka) => {
                    let g = b.group(ip)?;
                    for f in g.main.into_iter().chain(g.aspects) {
                        hb.add(&f);
                        on(Change::Opened(f))?;
                    }
                }
                _ => {
                    let (ga, gb) = (a.group(ip)?, b.group(ip)?);
                    compare(ga, gb, &mut ha, &mut hb, &mut on)?;
                }
            }
        }
        let (sa, sb) = (ha.finish(), hb.finish());
        if sa.grade != sb.grade {
            on(Change::Grade { old: sa, new: sb })?;
        }
    }
    Ok(())
}

/// Samples kept of each kind of change (the HTML report's baseline section).
pub const SAMPLES: usize = 200;

/// Counts of the changes and bounded samples of each kind.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub opened: u64,
    pub closed: u64,
    pub changed: u64,
    pub grades: u64,
    /// Opened ports, most severe first (at most [`SAMPLES`]).
    pub new_ports: Vec<Finding>,
    /// The first closed ports, changed ports and grade changes, in address
    /// order (at most [`SAMPLES`] each).
    pub closed_ports: Vec<Finding>,
    pub changed_ports: Vec<(Finding, Finding)>,
    pub grade_changes: Vec<(HostScore, HostScore)>,
}

struct BySeverity((crate::finding::Severity, IpAddr, u16, String), Finding);
impl PartialEq for BySeverity {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl Eq for BySeverity {}
impl PartialOrd for BySeverity {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for BySeverity {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.cmp(&o.0)
    }
}

impl Changes {
    /// Count the changes from `old` to `new`, keeping bounded samples.
    pub fn collect(old: &Sorted, new: &Sorted) -> std::io::Result<Changes> {
        let mut c = Changes::default();
        let mut opened: BinaryHeap<BySeverity> = BinaryHeap::new();
        diff_sorted(old, new, |ch| {
            match ch {
                Change::Opened(f) => {
                    c.opened += 1;
                    let key = (f.severity, f.ip, f.port, f.proto.clone());
                    if opened.len() < SAMPLES {
                        opened.push(BySeverity(key, f));
                    } else if opened.peek().is_some_and(|t| key < t.0) {
                        opened.pop();
                        opened.push(BySeverity(key, f));
                    }
                }
                Change::Closed(f) => {
                    c.closed += 1;
                    if c.closed_ports.len() < SAMPLES {
                        c.closed_ports.push(f);
                    }
                }
                Change::Changed { old, new } => {
                    c.changed += 1;
                    if c.changed_ports.len() < SAMPLES {
                        c.changed_ports.push((*old, *new));
                    }
                }
                Change::Grade { old, new } => {
                    c.grades += 1;
                    if c.grade_changes.len() < SAMPLES {
                        c.grade_changes.push((old, new));
                    }
                }
            }
            Ok(())
        })?;
        c.new_ports = opened.into_sorted_vec().into_iter().map(|b| b.1).collect();
        Ok(c)
    }

    pub fn any(&self) -> bool {
        self.opened + self.closed + self.changed + self.grades > 0
    }

    /// `2 opened, 1 closed, 0 changed, 1 host grade changed`.
    pub fn line(&self) -> String {
        format!(
            "{} opened, {} closed, {} changed, {} host grade{} changed",
            self.opened,
            self.closed,
            self.changed,
            self.grades,
            if self.grades == 1 { "" } else { "s" }
        )
    }
}

/// Read one findings file of any format [`super::import`] reads
/// (strictly: a malformed record other than a cut-short last line of
/// NDJSON is bad input) and sort it into `dir`. Other scanners' records
/// are annotated by the catalog, so they compare with synsweep's.
pub fn sort_file(path: &Path, dir: &Path) -> Result<Sorted> {
    let mut r = Input::open(path)?;
    let foreign = !r.kind().is_synsweep();
    let catalog = crate::risk::Risk::new(None);
    let mut s = Sorter::new(dir);
    let io = |e: std::io::Error| Error::runtime(format!("sorting {}: {e}", path.display()));
    for f in r.by_ref() {
        let mut f = f?;
        if foreign {
            catalog.annotate(&mut f);
        }
        s.push(&f).map_err(io)?;
    }
    for w in r.take_warnings() {
        eprintln!("synsweep: warning: {w}");
    }
    s.finish().map_err(io)
}

/// Lines of each kind printed on the terminal before "... and N more".
const TEXT_LINES: u64 = 50;

/// `synsweep diff OLD NEW [-o FILE]`: change records to `output` (when
/// given; `-` is stdout), a text summary on stdout (on stderr when the
/// records go to stdout). Returns true when anything changed.
pub fn diff(old: &Path, new: &Path, output: Option<&str>) -> Result<bool> {
    let dir = super::temp_dir_for(output.unwrap_or("-"));
    let old_s = sort_file(old, &dir)?;
    let new_s = sort_file(new, &dir)?;
    let mut out: Option<Box<dyn Write>> = match output {
        None => None,
        Some("-") => Some(Box::new(std::io::BufWriter::new(std::io::stdout()))),
        Some(p) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p)
                .map_err(|e| Error::input(format!("cannot open output file {p}: {e}")))?,
        ))),
    };
    let mut text: Box<dyn Write> = if output == Some("-") {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let mut c = Changes::default();
    let mut shown = [0u64; 4];
    super::progress::phase(super::progress::Phase::Merging);
    let res = diff_sorted(&old_s, &new_s, |ch| {
        let kind = match &ch {
            Change::Opened(_) => {
                c.opened += 1;
                0
            }
            Change::Closed(_) => {
                c.closed += 1;
                1
            }
            Change::Changed { .. } => {
                c.changed += 1;
                2
            }
            Change::Grade { .. } => {
                c.grades += 1;
                3
            }
        };
        if let Some(o) = out.as_mut() {
            o.write_all(&ch.record()?)?;
        }
        shown[kind] += 1;
        if shown[kind] <= TEXT_LINES {
            writeln!(text, "{}", ch.text())?;
        }
        Ok(())
    });
    let res = res.and_then(|_| out.as_mut().map_or(Ok(()), |o| o.flush()));
    res.map_err(|e| Error::runtime(format!("diff: {e}")))?;
    let hidden: u64 = shown.iter().map(|n| n.saturating_sub(TEXT_LINES)).sum();
    if hidden > 0 {
        let _ = writeln!(
            text,
            "... {hidden} more change{} not listed here{}",
            if hidden == 1 { "" } else { "s" },
            if output.is_some() {
                " (every change is in the records file)"
            } else {
                " (-o FILE writes every change)"
            }
        );
    }
    let _ = writeln!(
        text,
        "synsweep diff {} {}: {}",
        terminal_safe(&old.display().to_string()),
        terminal_safe(&new.display().to_string()),
        if c.any() {
            c.line()
        } else {
            "no changes".to_string()
        }
    );
    Ok(c.any())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::PortState;
    use crate::output::sort::Sorter;
    use std::time::{Duration, UNIX_EPOCH};

    fn sorted(dir: &Path, fs: &[Finding]) -> Sorted {
        let mut s = Sorter::new(dir);
        fs.iter().for_each(|f| s.push(f).unwrap());
        s.finish().unwrap()
    }

    #[test]
    fn a_deprecated_tls_record_opens_and_closes_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let ip: IpAddr = "198.19.0.4".parse().unwrap();
        let port = Finding::tcp(ip, 443, PortState::Open, 64, t0);
        let mut tls = port.clone();
        tls.reason = crate::risk::protocol::LEGACY_TLS_REASON.into();
        let (before, after) = (
            sorted(dir.path(), std::slice::from_ref(&port)),
            sorted(dir.path(), &[port.clone(), tls.clone()]),
        );
        let c = Changes::collect(&before, &after).unwrap();
        assert_eq!((c.opened, c.closed, c.changed), (1, 0, 0));
        assert!(c.new_ports[0].is_aspect());
        let c = Changes::collect(&after, &before).unwrap();
        assert_eq!((c.opened, c.closed, c.changed), (0, 1, 0));
        assert!(c.closed_ports[0].is_aspect());
    }

    fn tls_port(ip: IpAddr, sha: &str) -> Finding {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let mut f = Finding::tcp(ip, 443, PortState::Open, 64, t0);
        f.service = "https".into();
        f.tls = Some(Box::new(crate::finding::Tls {
            version: "TLSv1.3".into(),
            cipher: None,
            cert: Some(crate::finding::Cert {
                subject: "CN=www.lab".into(),
                sha256: sha.into(),
                ..Default::default()
            }),
        }));
        f
    }

    fn aspect(port: &Finding, name: &str) -> Finding {
        let mut a = port.clone();
        a.reason = name.into();
        a.service = name.into();
        a.category = crate::finding::Category::Risky;
        a.severity = crate::finding::Severity::High;
        a
    }

    fn records(old: &[Finding], new: &[Finding]) -> Vec<serde_json::Value> {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (sorted(dir.path(), old), sorted(dir.path(), new));
        let mut out = Vec::new();
        // Port records only (a grade may change too).
        diff_sorted(&a, &b, |c| {
            if !matches!(c, Change::Grade { .. }) {
                out.push(serde_json::from_slice(&c.record()?).unwrap());
            }
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn the_guess_mark_alone_is_no_change() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let ip: IpAddr = "198.19.0.4".parse().unwrap();
        // A record written before the mark existed, and today's.
        let mut old = Finding::tcp(ip, 21, PortState::Open, 64, t0);
        old.service = "ftp".into();
        let mut new = old.clone();
        new.service = "ftp?".into();
        assert!(records(std::slice::from_ref(&old), std::slice::from_ref(&new)).is_empty());
        // Named since: a change, whatever the old record said.
        let mut named = old.clone();
        named.protocol = Some("ftp".into());
        let r = records(std::slice::from_ref(&new), std::slice::from_ref(&named));
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(
            (r[0]["service"].as_str(), r[0]["was"]["service"].as_str()),
            (Some("ftp"), Some("ftp?"))
        );
        // Another guess: a change.
        let mut other = new.clone();
        other.service = "ssh?".into();
        assert_eq!(records(&[new], &[other]).len(), 1);
    }

    #[test]
    fn a_new_certificate_is_a_change_naming_the_old_fingerprint() {
        let ip: IpAddr = "198.19.0.4".parse().unwrap();
        let (old, new) = (tls_port(ip, "aaaa"), tls_port(ip, "bbbb"));
        let r = records(std::slice::from_ref(&old), std::slice::from_ref(&new));
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0]["change"], "changed");
        assert_eq!(r[0]["tls"]["cert"]["sha256"], "bbbb");
        assert_eq!(r[0]["was"]["cert_sha256"], "aaaa");
        assert_eq!(r[0]["was"]["service"], "https");
        // The same certificate: no change.
        assert!(records(std::slice::from_ref(&old), std::slice::from_ref(&old)).is_empty());
        // A scan that read no certificate is no evidence of a new one.
        let mut bare = old.clone();
        bare.tls = None;
        assert!(records(&[bare], std::slice::from_ref(&old)).is_empty());
        let text = Change::Changed {
            old: Box::new(old),
            new: Box::new(new),
        }
        .text();
        assert!(text.contains("cert aaaa -> bbbb"), "{text}");
    }

    #[test]
    fn a_certificate_crossing_into_expiring_then_expired_is_a_change() {
        let ip: IpAddr = "198.19.0.4".parse().unwrap();
        let port = tls_port(ip, "aaaa");
        let expiring = aspect(&port, "tls-cert-expiring");
        let expired = aspect(&port, "tls-cert-expired");
        // Valid -> expiring: the aspect record appears as a change of the port.
        let r = records(
            std::slice::from_ref(&port),
            &[port.clone(), expiring.clone()],
        );
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0]["change"], "changed");
        assert_eq!(r[0]["service"], "tls-cert-expiring");
        assert_eq!(r[0]["was"]["service"], "https");
        assert_eq!(r[0]["was"]["cert_sha256"], "aaaa");
        // Expiring -> expired: one change, was names the expiring record.
        let r = records(
            &[port.clone(), expiring.clone()],
            &[port.clone(), expired.clone()],
        );
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0]["change"], "changed");
        assert_eq!(r[0]["service"], "tls-cert-expired");
        assert_eq!(r[0]["was"]["service"], "tls-cert-expiring");
        assert_eq!(r[0]["was"]["cert_sha256"], "aaaa");
        // Renewed: the port changed (new fingerprint), the problem closed.
        let renewed = tls_port(ip, "cccc");
        let r = records(
            &[port.clone(), expired.clone()],
            std::slice::from_ref(&renewed),
        );
        let kinds: Vec<(&str, &str)> = r
            .iter()
            .map(|v| {
                (
                    v["change"].as_str().unwrap(),
                    v["service"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [("changed", "https"), ("closed", "tls-cert-expired")]
        );
        // Other problems open and close as records of their own; so does a
        // port that is new altogether, with its problems.
        let r = records(
            std::slice::from_ref(&port),
            &[port.clone(), aspect(&port, "tls-cert-self-signed")],
        );
        assert_eq!((r.len(), r[0]["change"].as_str()), (1, Some("opened")));
        let r = records(&[], &[port.clone(), expired.clone()]);
        assert!(r.iter().all(|v| v["change"] == "opened") && r.len() == 2);
        let dir = tempfile::tempdir().unwrap();
        let c = Changes::collect(
            &sorted(dir.path(), &[port.clone(), expiring]),
            &sorted(dir.path(), &[port, expired]),
        )
        .unwrap();
        assert_eq!((c.opened, c.closed, c.changed), (0, 0, 1));
    }
}
