//! One streaming pass over sorted findings that gathers what every document
//! needs before its detail: the scan's score, counts by category, severity
//! and service, the time span and ports, the worst hosts (bounded), the
//! riskiest hosts with their worst findings (bounded), and a file of every
//! host's score in address order (for the JSON hosts list and the nmap XML
//! host headers), and what to fix first ([`crate::risk::plan`]). Only one
//! host is in memory at a time; what is kept is bounded by [`HOSTS_TABLE`],
//! [`DETAIL_HOSTS`], [`DETAIL_FINDINGS`] and the port space (the service
//! table and the plan's actions), never by the number of findings.

use super::ScanMeta;
use super::diff::Changes;
use super::sort::Sorted;
use crate::finding::{Category, Finding, PortState, Severity};
use crate::risk::plan::{Plan, Planner};
use crate::risk::score::{HostAcc, HostScore, ScanAcc, ScanScore};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::io::{BufRead, BufWriter, Write};
use std::net::IpAddr;
use std::path::Path;
use std::time::SystemTime;
use tempfile::NamedTempFile;

/// Rows of the worst-hosts table.
pub const HOSTS_TABLE: usize = 1000;
/// Hosts shown with their findings.
pub const DETAIL_HOSTS: usize = 50;
/// Findings shown per detailed host.
pub const DETAIL_FINDINGS: usize = 40;

/// One open port (service) over all hosts.
#[derive(Debug, Clone)]
pub struct ServiceRow {
    pub proto: String,
    pub port: u16,
    pub service: String,
    pub category: Category,
    /// The most severe seen.
    pub severity: Severity,
    pub mitigation: String,
    /// Hosts with the port open (one record per host and port).
    pub hosts: u64,
    /// Of those, where the policy expects it.
    pub expected: u64,
}

/// A host shown in detail: its score and its worst findings.
#[derive(Debug, Clone)]
pub struct HostDetail {
    pub score: HostScore,
    /// Worst first: open before closed, then by severity, port.
    pub findings: Vec<Finding>,
    /// Findings of the host not shown (besides pseudo ones).
    pub more: u64,
    /// Open ports marked pseudo (shown as one line).
    pub pseudo: u64,
}

/// One line of the hosts file: a host's score plus what the nmap XML host
/// element needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostLine {
    #[serde(flatten)]
    pub score: HostScore,
    /// Earliest and latest finding time (Unix seconds, 0 when unknown).
    pub first: u64,
    pub last: u64,
    pub ttl: u8,
    pub any_open: bool,
}

/// What documents say before their detail.
pub struct Summary {
    pub scan: ScanScore,
    /// Records (after duplicates were removed).
    pub records: u64,
    pub open: u64,
    pub closed: u64,
    /// Open ports the policy expects.
    pub expected: u64,
    /// Open ports marked pseudo, and hosts with any.
    pub pseudo: u64,
    pub pseudo_hosts: u64,
    pub tcp: u64,
    pub udp: u64,
    pub first: Option<SystemTime>,
    pub last: Option<SystemTime>,
    /// Every port number seen (a bit per port).
    ports: Vec<u64>,
    /// Open, non-pseudo ports by category and severity (table order).
    pub by_cat: [[u64; 5]; 4],
    /// Hosts with at least one open, non-pseudo port of each category.
    pub cat_hosts: [u64; 4],
    /// Every open port over all hosts, most severe first, then most hosts.
    pub services: Vec<ServiceRow>,
    /// The worst hosts, worst first (at most [`HOSTS_TABLE`]).
    pub worst: Vec<HostScore>,
    /// The riskiest hosts with findings, worst first (at most [`DETAIL_HOSTS`]).
    pub riskiest: Vec<HostDetail>,
    /// Every host's [`HostLine`], in address order.
    hosts: NamedTempFile,
    /// What changed since a baseline scan, when one was given.
    pub baseline: Option<Changes>,
    /// What to fix first (the best actions, bounded).
    pub fix_first: Plan,
    /// Certificates, TLS problems and versions, software (bounded).
    pub facts: super::facts::FactsSummary,
}

/// Order of a host among others: worst (lowest score) first, then address.
struct ByRisk<T>(u8, IpAddr, T);
impl<T> PartialEq for ByRisk<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl<T> Eq for ByRisk<T> {}
impl<T> PartialOrd for ByRisk<T> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for ByRisk<T> {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.0, self.1).cmp(&(o.0, o.1))
    }
}

/// Order of a finding within its host: open first, most severe, port.
type FindingKey = (PortState, Severity, u16, String);
struct Worst(FindingKey, Finding);
impl PartialEq for Worst {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Worst {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.cmp(&o.0)
    }
}

/// Keep the `n` smallest items of a max-heap.
fn bounded_push<T: Ord>(heap: &mut BinaryHeap<T>, n: usize, item: T) {
    if heap.len() < n {
        heap.push(item);
    } else if heap.peek().is_some_and(|top| item < *top) {
        heap.pop();
        heap.push(item);
    }
}

fn cat_index(c: Category) -> usize {
    c as usize
}

fn sev_index(s: Severity) -> usize {
    s as usize
}

/// The host being read.
struct Host {
    acc: HostAcc,
    first: u64,
    last: u64,
    ttl: Option<u8>,
    any_open: bool,
    top: BinaryHeap<Worst>,
    shown_candidates: u64,
    pseudo: u64,
    cats: [bool; 4],
}

impl Host {
    fn new(ip: IpAddr) -> Host {
        Host {
            acc: HostAcc::new(ip),
            first: 0,
            last: 0,
            ttl: None,
            any_open: false,
            top: BinaryHeap::new(),
            shown_candidates: 0,
            pseudo: 0,
            cats: [false; 4],
        }
    }
}

/// Builds a [`Summary`] from findings fed in (ip, port, proto, state) order.
struct Builder {
    scan: ScanAcc,
    s: Summary,
    services: HashMap<(String, u16, String), ServiceRow>,
    worst: BinaryHeap<ByRisk<HostScore>>,
    riskiest: BinaryHeap<ByRisk<HostDetail>>,
    hosts_out: BufWriter<std::fs::File>,
    host: Option<Host>,
    plan: Planner,
}

impl Builder {
    fn end_host(&mut self) -> std::io::Result<()> {
        let Some(h) = self.host.take() else {
            return Ok(());
        };
        let score = h.acc.finish();
        self.scan.add(&score);
        for (i, seen) in h.cats.iter().enumerate() {
            if *seen {
                self.s.cat_hosts[i] += 1;
            }
        }
        if h.pseudo > 0 {
            self.s.pseudo_hosts += 1;
        }
        let line = HostLine {
            score: score.clone(),
            first: h.first,
            last: h.last,
            ttl: h.ttl.unwrap_or(0),
            any_open: h.any_open,
        };
        serde_json::to_writer(&mut self.hosts_out, &line).map_err(std::io::Error::other)?;
        self.hosts_out.write_all(b"\n")?;
        let (sc, ip) = (score.score, score.ip);
        bounded_push(&mut self.worst, HOSTS_TABLE, ByRisk(sc, ip, score.clone()));
        let fits = self.riskiest.len() < DETAIL_HOSTS
            || self.riskiest.peek().is_some_and(|t| (sc, ip) < (t.0, t.1));
        if fits {
            let mut findings: Vec<Finding> =
                h.top.into_sorted_vec().into_iter().map(|w| w.1).collect();
            findings.truncate(DETAIL_FINDINGS);
            let more = h.shown_candidates - findings.len() as u64;
            let d = HostDetail {
                score,
                findings,
                more,
                pseudo: h.pseudo,
            };
            bounded_push(&mut self.riskiest, DETAIL_HOSTS, ByRisk(sc, ip, d));
        }
        Ok(())
    }

    fn add(&mut self, f: &Finding) -> std::io::Result<()> {
        if self.host.as_ref().is_none_or(|h| h.acc.ip != f.ip) {
            self.end_host()?;
            self.host = Some(Host::new(f.ip));
        }
        self.plan.add(f);
        let s = &mut self.s;
        s.facts.add(f);
        s.records += 1;
        s.ports[f.port as usize / 64] |= 1 << (f.port % 64);
        if f.proto == "udp" {
            s.udp += 1;
        } else {
            s.tcp += 1;
        }
        let t = humantime::parse_rfc3339(&f.ts).ok();
        if let Some(t) = t {
            s.first = Some(s.first.map_or(t, |x| x.min(t)));
            s.last = Some(s.last.map_or(t, |x| x.max(t)));
        }
        let h = self.host.as_mut().expect("host set above");
        h.acc.add(f);
        let secs = f.unix_seconds();
        if secs > 0 {
            h.first = if h.first == 0 {
                secs
            } else {
                h.first.min(secs)
            };
            h.last = h.last.max(secs);
        }
        h.ttl.get_or_insert(f.ttl);
        match f.state {
            PortState::Closed => s.closed += 1,
            PortState::Open => {
                s.open += 1;
                h.any_open = true;
                if f.expected {
                    s.expected += 1;
                }
                if f.pseudo {
                    s.pseudo += 1;
                    h.pseudo += 1;
                } else {
                    s.by_cat[cat_index(f.category)][sev_index(f.severity)] += 1;
                    h.cats[cat_index(f.category)] = true;
                    let row = self
                        .services
                        .entry((f.proto.clone(), f.port, f.service.clone()))
                        .or_insert_with(|| ServiceRow {
                            proto: f.proto.clone(),
                            port: f.port,
                            service: f.service.clone(),
                            category: f.category,
                            severity: f.severity,
                            mitigation: f.mitigation.clone(),
                            hosts: 0,
                            expected: 0,
                        });
                    if f.severity < row.severity {
                        row.severity = f.severity;
                        row.category = f.category;
                        row.mitigation = f.mitigation.clone();
                    }
                    row.hosts += 1;
                    if f.expected {
                        row.expected += 1;
                    }
                }
            }
        }
        if !(f.state == PortState::Open && f.pseudo) {
            h.shown_candidates += 1;
            let key = (f.state, f.severity, f.port, f.proto.clone());
            if h.top.len() < DETAIL_FINDINGS || h.top.peek().is_some_and(|t| key < t.0) {
                bounded_push(&mut h.top, DETAIL_FINDINGS, Worst(key, f.clone()));
            }
        }
        Ok(())
    }
}

impl Summary {
    /// One pass over `sorted`; the hosts file goes in `dir`.
    pub fn build(sorted: &Sorted, dir: &Path) -> std::io::Result<Summary> {
        let hosts = super::sort::temp_in(dir, "hosts")?;
        let hosts_out = BufWriter::with_capacity(256 * 1024, hosts.reopen()?);
        let mut b = Builder {
            scan: ScanAcc::default(),
            s: Summary {
                scan: ScanAcc::default().finish(),
                records: 0,
                open: 0,
                closed: 0,
                expected: 0,
                pseudo: 0,
                pseudo_hosts: 0,
                tcp: 0,
                udp: 0,
                first: None,
                last: None,
                ports: vec![0; 1024],
                by_cat: [[0; 5]; 4],
                cat_hosts: [0; 4],
                services: Vec::new(),
                worst: Vec::new(),
                riskiest: Vec::new(),
                hosts,
                baseline: None,
                fix_first: Plan::default(),
                facts: Default::default(),
            },
            services: HashMap::new(),
            worst: BinaryHeap::new(),
            riskiest: BinaryHeap::new(),
            hosts_out,
            host: None,
            plan: Planner::new(),
        };
        super::progress::phase(super::progress::Phase::Rendering);
        for f in sorted.iter()? {
            b.add(&f?)?;
            super::progress::record();
        }
        b.end_host()?;
        b.hosts_out.flush()?;
        let mut s = b.s;
        s.scan = b.scan.finish();
        s.fix_first = b.plan.finish();
        s.facts.finish();
        s.worst = b.worst.into_sorted_vec().into_iter().map(|h| h.2).collect();
        s.riskiest = b
            .riskiest
            .into_sorted_vec()
            .into_iter()
            .map(|h| h.2)
            .collect();
        let mut services: Vec<ServiceRow> = b.services.into_values().collect();
        services.sort_by(|a, b| {
            (
                a.severity,
                std::cmp::Reverse(a.hosts),
                a.port,
                &a.proto,
                &a.service,
            )
                .cmp(&(
                    b.severity,
                    std::cmp::Reverse(b.hosts),
                    b.port,
                    &b.proto,
                    &b.service,
                ))
        });
        s.services = services;
        Ok(s)
    }

    /// Every host's line, in address order.
    pub fn hosts(
        &self,
    ) -> std::io::Result<impl Iterator<Item = std::io::Result<HostLine>> + use<>> {
        let f = self.hosts.reopen()?;
        Ok(std::io::BufReader::new(f)
            .lines()
            .map(|l| l.and_then(|l| serde_json::from_str(&l).map_err(std::io::Error::other))))
    }

    /// Hosts with any record.
    pub fn host_count(&self) -> usize {
        self.scan.hosts
    }

    /// The ports seen, as compact text (`22,80,443,8000-8002`).
    pub fn port_text(&self) -> String {
        let ports: Vec<u16> = (0..=u16::MAX)
            .filter(|&p| self.ports[p as usize / 64] & (1 << (p % 64)) != 0)
            .collect();
        super::port_list(&ports)
    }

    /// Metadata for findings read back from files (`report`, `merge`): the
    /// time span of the findings, their hosts and ports.
    pub fn meta(&self, command: &str) -> ScanMeta {
        let now = SystemTime::now();
        ScanMeta {
            command: command.to_string(),
            started: self.first.unwrap_or(now),
            finished: self.last.unwrap_or(now),
            targets: format!("{} hosts", self.host_count()),
            ports: self.port_text(),
            seed: 0,
            rate: "n/a".to_string(),
            probes_sent: 0,
        }
    }
}
