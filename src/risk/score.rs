//! Scores and grades: per host, and a weakest-link roll-up per scan.
//!
//! # The formula
//!
//! Each host starts at 100. Every distinct open port on it that the policy
//! does not mark expected multiplies the score by (1 − penalty), the penalty
//! set by the finding's severity: critical 0.45, high 0.20, medium 0.08,
//! low 0.03, info 0. The result is rounded down to a whole number, then
//! capped: at most 59 if any counted finding is critical, at most 79 if any
//! is high. So
//!
//! `score = min(cap, ⌊100 × Π (1 − penaltyᵢ)⌋)`
//!
//! Grades: A 90–100, B 80–89, C 70–79, D 60–69, F below 60. Closed ports and
//! expected ports cost nothing; a host with nothing counted scores 100 (A).
//!
//! Worked examples: {80 http low, 443 https info, 22 ssh low} gives
//! 100 × 0.97 × 1 × 0.97 = 94.09, score 94, A. {80, 443, 3389 RDP high}
//! gives 100 × 0.97 × 0.80 = 77.6, score 77, C. {2375 Docker without TLS,
//! critical} gives 55, capped at 59, score 55, F.
//!
//! The scan's score is its weakest host's score (the minimum), so one bad
//! host shows in the scan's grade and a scan is never rated above its worst
//! host. The mean host score is reported beside it for context.

use crate::finding::{Finding, PortState, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// A letter grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grade {
    A,
    B,
    C,
    D,
    F,
}

impl Grade {
    /// The grade band a score (0–100) falls in.
    pub fn from_score(score: u8) -> Grade {
        match score {
            90.. => Grade::A,
            80..=89 => Grade::B,
            70..=79 => Grade::C,
            60..=69 => Grade::D,
            _ => Grade::F,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
            Grade::F => "F",
        }
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The penalty one counted finding of this severity applies.
pub fn penalty(s: Severity) -> f64 {
    match s {
        Severity::Critical => 0.45,
        Severity::High => 0.20,
        Severity::Medium => 0.08,
        Severity::Low => 0.03,
        Severity::Info => 0.0,
    }
}

/// Score of a set of counted severities (one per distinct open,
/// non-expected port), per the module's formula.
pub fn score_of(severities: &[Severity]) -> u8 {
    score_of_tally(&tally(severities))
}

/// How many of each severity, critical first (the index is `Severity as usize`).
pub type Tally = [usize; 5];

/// The [`Tally`] of a set of severities.
pub fn tally(severities: &[Severity]) -> Tally {
    let mut t = [0; 5];
    for &s in severities {
        t[s as usize] += 1;
    }
    t
}

/// Score of counted severities given as a [`Tally`]: the one place the
/// module's formula is computed ([`score_of`] and [`HostAcc`] come here, and
/// so does anything that asks what a host would score with less open).
pub fn score_of_tally(t: &Tally) -> u8 {
    let product: f64 = Severity::ALL
        .iter()
        .map(|&s| (1.0 - penalty(s)).powi(t[s as usize].min(i32::MAX as usize) as i32))
        .product();
    // The epsilon keeps float noise (79.99999…) from costing a point.
    let mut score = (100.0 * product + 1e-9).floor().clamp(0.0, 100.0) as u8;
    if t[Severity::Critical as usize] > 0 {
        score = score.min(59);
    } else if t[Severity::High as usize] > 0 {
        score = score.min(79);
    }
    score
}

/// One open port as a host's score sees it, whatever the records of it
/// say: the most severe severity counts, and the port is expected (or
/// pseudo) only if every record of it says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortEntry {
    pub severity: Severity,
    pub expected: bool,
    pub pseudo: bool,
}

impl PortEntry {
    /// The entry of a port with one record.
    pub fn new(severity: Severity, expected: bool, pseudo: bool) -> Self {
        PortEntry {
            severity,
            expected,
            pseudo,
        }
    }

    /// Take one more record of the same port into account.
    pub fn merge(&mut self, severity: Severity, expected: bool, pseudo: bool) {
        // Most severe wins (Severity orders critical first).
        self.severity = self.severity.min(severity);
        self.expected = self.expected && expected;
        self.pseudo = self.pseudo && pseudo;
    }

    /// The severity the port counts with, or None when it costs nothing
    /// (expected or pseudo).
    pub fn counted(&self) -> Option<Severity> {
        (!self.expected && !self.pseudo).then_some(self.severity)
    }
}

/// One host's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostScore {
    pub ip: IpAddr,
    /// 0–100, see the module docs.
    pub score: u8,
    pub grade: Grade,
    /// Distinct open ports (expected ones included).
    pub open: usize,
    /// Open ports the policy expects (they cost nothing).
    pub expected: usize,
    /// Open ports marked pseudo (a middlebox answering on every port; they
    /// cost nothing).
    pub pseudo: usize,
    /// Counted (open, not expected) ports by severity: critical, high,
    /// medium, low, info.
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

/// The scan's roll-up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanScore {
    /// The weakest host's score (100 when there are no hosts).
    pub score: u8,
    pub grade: Grade,
    /// The weakest host, if any.
    pub weakest: Option<IpAddr>,
    /// Mean host score, for context only; the grade follows `score`.
    pub mean: f64,
    pub hosts: usize,
    /// How many hosts got each grade, A to F.
    pub grades: BTreeMap<Grade, usize>,
}

/// One host's score, built from its findings fed one at a time (in any
/// order), so a sorted stream needs only the current host in memory.
/// Duplicate (port, proto) pairs count once: the most severe counts, and
/// the port is expected (or pseudo) only if every record of it says so.
#[derive(Debug)]
pub struct HostAcc {
    pub ip: IpAddr,
    ports: BTreeMap<(u16, String), PortEntry>,
}

impl HostAcc {
    pub fn new(ip: IpAddr) -> Self {
        HostAcc {
            ip,
            ports: BTreeMap::new(),
        }
    }

    /// Count one finding of this host (closed ports cost nothing).
    pub fn add(&mut self, f: &Finding) {
        if f.state != PortState::Open {
            return;
        }
        self.ports
            .entry((f.port, f.proto.to_ascii_lowercase()))
            .and_modify(|e| e.merge(f.severity, f.expected, f.pseudo))
            .or_insert(PortEntry::new(f.severity, f.expected, f.pseudo));
    }

    pub fn finish(self) -> HostScore {
        let ports = self.ports;
        let counted: Vec<Severity> = ports.values().filter_map(PortEntry::counted).collect();
        let t = tally(&counted);
        let count = |s: Severity| t[s as usize];
        let score = score_of_tally(&t);
        HostScore {
            ip: self.ip,
            score,
            grade: Grade::from_score(score),
            open: ports.len(),
            expected: ports.values().filter(|v| v.expected).count(),
            pseudo: ports.values().filter(|v| v.pseudo && !v.expected).count(),
            critical: count(Severity::Critical),
            high: count(Severity::High),
            medium: count(Severity::Medium),
            low: count(Severity::Low),
            info: count(Severity::Info),
        }
    }
}

/// Per-host scores of a set of findings, sorted by address. Every address
/// that appears (open or closed) gets a row. Duplicate (port, proto) pairs
/// on a host count once; the most severe of them counts.
pub fn host_scores(findings: &[Finding]) -> Vec<HostScore> {
    let mut hosts: BTreeMap<IpAddr, HostAcc> = BTreeMap::new();
    for f in findings {
        hosts
            .entry(f.ip)
            .or_insert_with(|| HostAcc::new(f.ip))
            .add(f);
    }
    hosts.into_values().map(HostAcc::finish).collect()
}

/// The scan's roll-up built one host at a time (hosts in any order); the
/// same result as [`scan_score`] over all of them.
#[derive(Debug, Default, Clone)]
pub struct ScanAcc {
    weakest: Option<(u8, IpAddr)>,
    sum: f64,
    hosts: usize,
    grades: [usize; 5],
}

impl ScanAcc {
    pub fn add(&mut self, h: &HostScore) {
        let key = (h.score, h.ip);
        if self.weakest.is_none_or(|w| key < w) {
            self.weakest = Some(key);
        }
        self.sum += h.score as f64;
        self.hosts += 1;
        self.grades[h.grade as usize] += 1;
    }

    pub fn finish(&self) -> ScanScore {
        let score = self.weakest.map(|w| w.0).unwrap_or(100);
        let mut grades = BTreeMap::new();
        for (i, g) in [Grade::A, Grade::B, Grade::C, Grade::D, Grade::F]
            .into_iter()
            .enumerate()
        {
            grades.insert(g, self.grades[i]);
        }
        ScanScore {
            score,
            grade: Grade::from_score(score),
            weakest: self.weakest.map(|w| w.1),
            mean: mean_of(self.sum, self.hosts),
            hosts: self.hosts,
            grades,
        }
    }
}

/// The mean host score as [`ScanScore::mean`] gives it (to a tenth; 100
/// when there are no hosts) from the sum of the hosts' scores.
pub fn mean_of(sum: f64, hosts: usize) -> f64 {
    let mean = if hosts == 0 {
        100.0
    } else {
        sum / hosts as f64
    };
    (mean * 10.0).round() / 10.0
}

/// Weakest-link roll-up of host scores: the scan scores as its worst host.
pub fn scan_score(hosts: &[HostScore]) -> ScanScore {
    let mut acc = ScanAcc::default();
    for h in hosts {
        acc.add(h);
    }
    acc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Severity::*;

    #[test]
    fn streaming_roll_up_equals_the_batch_one() {
        let t = std::time::UNIX_EPOCH;
        let mut fs = Vec::new();
        for (ip, port, sev) in [
            ("198.19.0.1", 80, Low),
            ("198.19.0.1", 3389, High),
            ("198.19.0.2", 2375, Critical),
            ("2001:2::5", 22, Low),
            ("198.19.0.3", 443, Info),
        ] {
            let mut f = Finding::tcp(ip.parse().unwrap(), port, PortState::Open, 64, t);
            f.severity = sev;
            fs.push(f);
        }
        let hosts = host_scores(&fs);
        let mut acc = ScanAcc::default();
        for h in &hosts {
            acc.add(h);
        }
        assert_eq!(acc.finish(), scan_score(&hosts));
        assert_eq!(
            scan_score(&hosts).weakest,
            Some("198.19.0.2".parse().unwrap())
        );
    }

    #[test]
    fn pseudo_ports_cost_nothing() {
        let t = std::time::UNIX_EPOCH;
        let mut acc = HostAcc::new("198.19.9.9".parse().unwrap());
        for port in 1..=100 {
            let mut f = Finding::tcp("198.19.9.9".parse().unwrap(), port, PortState::Open, 64, t);
            f.severity = Critical;
            f.pseudo = true;
            acc.add(&f);
        }
        let h = acc.finish();
        assert_eq!((h.score, h.open, h.pseudo, h.critical), (100, 100, 100, 0));
    }

    #[test]
    fn caps_and_bands() {
        assert_eq!(score_of(&[]), 100);
        assert_eq!(score_of(&[High]), 79);
        assert_eq!(score_of(&[Critical]), 55);
        assert_eq!(score_of(&[Medium]), 92);
        assert_eq!(score_of(&[Low, Low]), 94);
        assert_eq!(score_of(&[Info; 50]), 100);
        assert_eq!(score_of(&[Critical; 200]), 0);
        assert_eq!(Grade::from_score(90), Grade::A);
        assert_eq!(Grade::from_score(89), Grade::B);
        assert_eq!(Grade::from_score(60), Grade::D);
        assert_eq!(Grade::from_score(59), Grade::F);
    }
}
