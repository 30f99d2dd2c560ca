//! What to fix first: actions across a scan, ranked by what each would buy.
//!
//! An action is one thing a person can do that makes findings stop
//! counting: close (or restrict) one service on one port wherever it is
//! open ("close telnet (23/tcp) on 41 hosts"), or fix one kind of problem
//! wherever an aspect record reports it ("replace the expired certificate
//! on 3 ports"). [`ActionKey::of`] says which action covers a finding: open
//! records that cost score (not expected by the policy, not pseudo, not
//! info), port records grouped by (proto, port, service), aspect records
//! grouped by their service name. Every other record makes no action.
//!
//! Doing an action means the findings it covers no longer count (as if
//! closed); the hosts stay. What that buys is computed by the scoring code
//! itself ([`crate::risk::score`]): each touched host's score with those
//! findings gone ([`score_of_tally`], [`PortEntry`]), and from those the
//! scan's weakest-link score, grade, mean and grade counts. Actions are
//! ranked by the gain of the scan's score, then by the sum of the hosts'
//! gains, then by severity and hosts touched.
//!
//! [`Planner`] takes findings sorted by host (one host in memory at a
//! time). What it keeps per action is bounded: counters, a histogram of
//! the touched hosts' scores (at most 101 values), the ports touched (the
//! port space at most) and the [`ACTION_HOSTS`] worst hosts touched. The
//! number of actions is bounded by the port space and the services.

use crate::finding::{Category, Finding, PortState, Severity};
use crate::risk::score::{Grade, PortEntry, Tally, mean_of, score_of_tally};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::net::IpAddr;

/// Actions kept in a plan (the best first).
pub const TOP_ACTIONS: usize = 10;
/// Hosts listed per action (the worst of those it touches).
pub const ACTION_HOSTS: usize = 8;
/// Ports listed per action.
pub const ACTION_PORTS: usize = 12;

/// Aspect records' service names (a problem found on a port, reported in a
/// record of its own next to the port's).
pub const ASPECT_SERVICES: [&str; 8] = [
    "tls-legacy",
    "tls-cert-expired",
    "tls-cert-not-yet-valid",
    "tls-cert-expiring",
    "tls-cert-self-signed",
    "tls-weak-key",
    "tls-weak-signature",
    "tls-cert-long-lifetime",
];

/// Which action covers a finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKey {
    /// Close or restrict one service on one port.
    Port {
        proto: String,
        port: u16,
        service: String,
    },
    /// Fix one kind of problem (an aspect record's service) wherever found.
    Aspect { service: String },
}

impl ActionKey {
    /// The action that covers `f`, or None when `f` costs nothing (closed,
    /// expected by policy, pseudo, or info).
    pub fn of(f: &Finding) -> Option<ActionKey> {
        if f.state != PortState::Open || f.expected || f.pseudo || f.severity == Severity::Info {
            return None;
        }
        if f.is_aspect() || ASPECT_SERVICES.contains(&f.service.as_str()) {
            Some(ActionKey::Aspect {
                service: f.service.clone(),
            })
        } else {
            Some(ActionKey::Port {
                proto: f.proto.to_ascii_lowercase(),
                port: f.port,
                service: f.service.clone(),
            })
        }
    }
}

/// One host an action touches, as it is and as it would be.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TouchedHost {
    pub ip: IpAddr,
    /// The ports of the host the action touches (`443/tcp`).
    pub ports: Vec<String>,
    pub score: u8,
    pub grade: Grade,
    pub score_after: u8,
    pub grade_after: Grade,
}

/// One action and what it would buy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// What to do, in words (`close telnet (23/tcp) on 41 hosts`).
    pub action: String,
    /// `port` (close or restrict a service) or `aspect` (fix a problem).
    pub kind: &'static str,
    pub service: String,
    /// Port actions only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The most severe finding covered, its category and its mitigation.
    pub severity: Severity,
    pub category: Category,
    pub mitigation: String,
    /// Hosts touched.
    pub hosts: u64,
    /// Findings covered.
    pub findings: u64,
    /// Ports touched (`23/tcp`), at most [`ACTION_PORTS`], and how many in all.
    pub ports: Vec<String>,
    pub ports_total: u64,
    /// The worst hosts touched (at most [`ACTION_HOSTS`]), worst first.
    pub host_list: Vec<TouchedHost>,
    /// The scan's score and grade now and with the action done.
    pub score: u8,
    pub grade: Grade,
    pub score_after: u8,
    pub grade_after: Grade,
    /// `score_after - score`.
    pub score_gain: u8,
    /// Mean host score with the action done (as `score.mean`).
    pub mean_after: f64,
    /// Sum over hosts of their score gains.
    pub host_gain: u64,
    /// Touched hosts whose grade would rise.
    pub hosts_up: u64,
    /// How many hosts would get each grade, A to F.
    pub grades_after: BTreeMap<Grade, u64>,
}

/// What a plan holds: the best actions and how many there are in all.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// Actions found (those not shown buy less).
    pub total: usize,
}

/// An open record of the current host.
struct Rec {
    port: u16,
    proto: String,
    entry: PortEntry,
    action: Option<usize>,
}

/// The worst hosts an action touches: a max-heap on (score, ip) keeping the
/// smallest.
type HostHeap = BinaryHeap<(u8, IpAddr, u8, Vec<(u16, String)>)>;

/// What is gathered about one action.
struct ActionAcc {
    key: ActionKey,
    severity: Severity,
    category: Category,
    mitigation: String,
    findings: u64,
    hosts: u64,
    ports: BTreeSet<(u16, String)>,
    /// Touched hosts by their score now.
    touched: BTreeMap<u8, u64>,
    /// The lowest score of a touched host with the action done.
    min_after: u8,
    gain: u64,
    grades_before: [u64; 5],
    grades_after: [u64; 5],
    up: u64,
    worst: HostHeap,
}

/// Builds a [`Plan`] from findings fed host by host (all records of a host
/// together, in any order within it).
pub struct Planner {
    ids: HashMap<ActionKey, usize>,
    acts: Vec<ActionAcc>,
    ip: Option<IpAddr>,
    recs: Vec<Rec>,
    /// Every host by its score now.
    all: [u64; 101],
    hosts: u64,
    sum: u64,
}

fn grade_index(g: Grade) -> usize {
    g as usize
}

impl Default for Planner {
    fn default() -> Self {
        Planner {
            ids: HashMap::new(),
            acts: Vec::new(),
            ip: None,
            recs: Vec::new(),
            all: [0; 101],
            hosts: 0,
            sum: 0,
        }
    }
}

impl Planner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Take one finding (every finding of a host before the next host's).
    pub fn add(&mut self, f: &Finding) {
        if self.ip != Some(f.ip) {
            self.end_host();
            self.ip = Some(f.ip);
        }
        if f.state != PortState::Open {
            return;
        }
        let action = ActionKey::of(f).map(|key| {
            let next = self.acts.len();
            let id = self.ids.get(&key).copied().unwrap_or(next);
            if id == next {
                self.ids.insert(key.clone(), id);
                self.acts.push(ActionAcc {
                    key,
                    severity: f.severity,
                    category: f.category,
                    mitigation: f.mitigation.clone(),
                    findings: 0,
                    hosts: 0,
                    ports: BTreeSet::new(),
                    touched: BTreeMap::new(),
                    min_after: 100,
                    gain: 0,
                    grades_before: [0; 5],
                    grades_after: [0; 5],
                    up: 0,
                    worst: BinaryHeap::new(),
                });
            }
            let a = &mut self.acts[id];
            a.findings += 1;
            if f.severity < a.severity {
                a.severity = f.severity;
                a.category = f.category;
                a.mitigation = f.mitigation.clone();
            }
            id
        });
        self.recs.push(Rec {
            port: f.port,
            proto: f.proto.to_ascii_lowercase(),
            entry: PortEntry::new(f.severity, f.expected, f.pseudo),
            action,
        });
    }

    /// Score the host just read, as it is and with each action touching it
    /// done.
    fn end_host(&mut self) {
        let Some(ip) = self.ip.take() else {
            return;
        };
        let mut recs = std::mem::take(&mut self.recs);
        recs.sort_by(|a, b| (a.port, &a.proto).cmp(&(b.port, &b.proto)));
        // Ports as ranges of `recs`, each with its entry (all records merged).
        let mut ports: Vec<(usize, usize, PortEntry)> = Vec::new();
        let mut i = 0;
        while i < recs.len() {
            let mut e = recs[i].entry;
            let mut j = i + 1;
            while j < recs.len() && (recs[j].port, &recs[j].proto) == (recs[i].port, &recs[i].proto)
            {
                let r = recs[j].entry;
                e.merge(r.severity, r.expected, r.pseudo);
                j += 1;
            }
            ports.push((i, j, e));
            i = j;
        }
        let mut base: Tally = [0; 5];
        for (_, _, e) in &ports {
            if let Some(s) = e.counted() {
                base[s as usize] += 1;
            }
        }
        let score = score_of_tally(&base);
        self.all[score as usize] += 1;
        self.hosts += 1;
        self.sum += score as u64;
        // Each action of the host with the ports (indices into `ports`) it touches.
        let mut touched: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (pi, &(from, to, _)) in ports.iter().enumerate() {
            for r in &recs[from..to] {
                if let Some(a) = r.action {
                    let v = touched.entry(a).or_default();
                    if v.last() != Some(&pi) {
                        v.push(pi);
                    }
                }
            }
        }
        for (id, pis) in touched {
            let mut t = base;
            let mut names = Vec::with_capacity(pis.len());
            for &pi in &pis {
                let (from, to, e) = ports[pi];
                if let Some(s) = e.counted() {
                    t[s as usize] -= 1;
                }
                let mut left: Option<PortEntry> = None;
                for r in recs[from..to].iter().filter(|r| r.action != Some(id)) {
                    let r = r.entry;
                    match &mut left {
                        Some(l) => l.merge(r.severity, r.expected, r.pseudo),
                        None => left = Some(r),
                    }
                }
                if let Some(s) = left.and_then(|l| l.counted()) {
                    t[s as usize] += 1;
                }
                names.push((recs[from].port, recs[from].proto.clone()));
            }
            let after = score_of_tally(&t);
            let a = &mut self.acts[id];
            a.hosts += 1;
            *a.touched.entry(score).or_default() += 1;
            a.min_after = a.min_after.min(after);
            a.gain += after.saturating_sub(score) as u64;
            let (gb, ga) = (Grade::from_score(score), Grade::from_score(after));
            a.grades_before[grade_index(gb)] += 1;
            a.grades_after[grade_index(ga)] += 1;
            if ga < gb {
                a.up += 1;
            }
            for n in &names {
                if !a.ports.contains(n) {
                    a.ports.insert(n.clone());
                }
            }
            let item = (score, ip, after, names);
            if a.worst.len() < ACTION_HOSTS {
                a.worst.push(item);
            } else if a
                .worst
                .peek()
                .is_some_and(|w| (item.0, item.1) < (w.0, w.1))
            {
                a.worst.pop();
                a.worst.push(item);
            }
        }
    }

    /// The best [`TOP_ACTIONS`] actions, best first.
    pub fn finish(mut self) -> Plan {
        self.end_host();
        let all = self.all;
        let lowest = |skip: &BTreeMap<u8, u64>| {
            (0..=100u8).find(|&v| all[v as usize] > skip.get(&v).copied().unwrap_or(0))
        };
        let none = BTreeMap::new();
        let score = lowest(&none).unwrap_or(100);
        let mut grades_now = [0u64; 5];
        for v in 0..=100u8 {
            grades_now[grade_index(Grade::from_score(v))] += all[v as usize];
        }
        let total = self.acts.len();
        let mut acts: Vec<Action> = self
            .acts
            .into_iter()
            .map(|a| {
                // Untouched hosts keep their score; touched ones take theirs after.
                let untouched = lowest(&a.touched).unwrap_or(100);
                let score_after = untouched.min(a.min_after);
                let mut grades_after = BTreeMap::new();
                for g in [Grade::A, Grade::B, Grade::C, Grade::D, Grade::F] {
                    let i = grade_index(g);
                    grades_after.insert(g, grades_now[i] - a.grades_before[i] + a.grades_after[i]);
                }
                let ports_total = a.ports.len() as u64;
                let ports: Vec<String> = a
                    .ports
                    .iter()
                    .take(ACTION_PORTS)
                    .map(|(p, pr)| format!("{p}/{pr}"))
                    .collect();
                let host_list = a
                    .worst
                    .into_sorted_vec()
                    .into_iter()
                    .map(|(s, ip, after, names)| TouchedHost {
                        ip,
                        ports: names.iter().map(|(p, pr)| format!("{p}/{pr}")).collect(),
                        score: s,
                        grade: Grade::from_score(s),
                        score_after: after,
                        grade_after: Grade::from_score(after),
                    })
                    .collect();
                let (kind, service, proto, port) = match &a.key {
                    ActionKey::Port {
                        proto,
                        port,
                        service,
                    } => ("port", service.clone(), Some(proto.clone()), Some(*port)),
                    ActionKey::Aspect { service } => ("aspect", service.clone(), None, None),
                };
                Action {
                    action: words(&a.key, a.category, a.hosts, a.findings),
                    kind,
                    service,
                    proto,
                    port,
                    severity: a.severity,
                    category: a.category,
                    mitigation: a.mitigation,
                    hosts: a.hosts,
                    findings: a.findings,
                    ports,
                    ports_total,
                    host_list,
                    score,
                    grade: Grade::from_score(score),
                    score_after,
                    grade_after: Grade::from_score(score_after),
                    score_gain: score_after.saturating_sub(score),
                    mean_after: mean_of((self.sum + a.gain) as f64, self.hosts as usize),
                    host_gain: a.gain,
                    hosts_up: a.up,
                    grades_after,
                }
            })
            .collect();
        acts.sort_by(|x, y| {
            (
                Reverse(x.score_gain),
                Reverse(x.host_gain),
                x.severity,
                Reverse(x.hosts),
                &x.service,
                x.port,
                &x.proto,
            )
                .cmp(&(
                    Reverse(y.score_gain),
                    Reverse(y.host_gain),
                    y.severity,
                    Reverse(y.hosts),
                    &y.service,
                    y.port,
                    &y.proto,
                ))
        });
        acts.truncate(TOP_ACTIONS);
        Plan {
            actions: acts,
            total,
        }
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// An action in words.
fn words(key: &ActionKey, category: Category, hosts: u64, findings: u64) -> String {
    let on_hosts = plural(hosts, "host", "hosts");
    match key {
        ActionKey::Port {
            proto,
            port,
            service,
        } => {
            let what = format!("{service} ({port}/{proto})");
            match category {
                Category::Risky => format!("close {what} on {on_hosts}"),
                Category::Administrative => {
                    format!("restrict {what} to management networks on {on_hosts}")
                }
                Category::Normal | Category::Other => {
                    format!("close or restrict {what} on {on_hosts}")
                }
            }
        }
        ActionKey::Aspect { service } => {
            let ports = plural(findings, "port", "ports");
            let what = match service.as_str() {
                "tls-legacy" => "disable TLS 1.0/1.1 (and SSLv3)".to_string(),
                "tls-cert-expired" => "replace the expired certificate".to_string(),
                "tls-cert-expiring" => {
                    "renew the certificate that expires within 30 days".to_string()
                }
                "tls-cert-not-yet-valid" => "fix the certificate that is not yet valid".to_string(),
                "tls-cert-self-signed" => {
                    "replace the self-signed certificate with a CA-issued one".to_string()
                }
                "tls-weak-key" => "replace the certificate with a weak key".to_string(),
                "tls-weak-signature" => {
                    "reissue the certificate signed with MD5 or SHA-1".to_string()
                }
                "tls-cert-long-lifetime" => {
                    "reissue the certificate valid for over 398 days".to_string()
                }
                other => format!("fix {other}"),
            };
            format!("{what} on {ports} ({on_hosts})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::score::{host_scores, scan_score};
    use Severity::*;

    fn rec(ip: &str, port: u16, service: &str, sev: Severity) -> Finding {
        let t = std::time::UNIX_EPOCH;
        let mut f = Finding::tcp(ip.parse().unwrap(), port, PortState::Open, 64, t);
        f.service = service.into();
        f.severity = sev;
        f.category = Category::Risky;
        f.mitigation = format!("do something about {service}");
        f
    }

    fn plan_of(fs: &[Finding]) -> Plan {
        let mut fs = fs.to_vec();
        fs.sort_by_key(|f| f.ip);
        let mut p = Planner::new();
        for f in &fs {
            p.add(f);
        }
        p.finish()
    }

    /// The findings with one action done, scored by the scoring code.
    fn applied(fs: &[Finding], key: &ActionKey) -> (u8, f64, Vec<(IpAddr, u8)>) {
        let left: Vec<Finding> = fs
            .iter()
            .cloned()
            .map(|mut f| {
                if ActionKey::of(&f).as_ref() == Some(key) {
                    f.state = PortState::Closed;
                }
                f
            })
            .collect();
        let hosts = host_scores(&left);
        let s = scan_score(&hosts);
        (
            s.score,
            s.mean,
            hosts.iter().map(|h| (h.ip, h.score)).collect(),
        )
    }

    fn key_of(a: &Action) -> ActionKey {
        match a.kind {
            "port" => ActionKey::Port {
                proto: a.proto.clone().unwrap(),
                port: a.port.unwrap(),
                service: a.service.clone(),
            },
            _ => ActionKey::Aspect {
                service: a.service.clone(),
            },
        }
    }

    #[test]
    fn the_action_on_the_weakest_host_comes_first_and_numbers_match_a_rescore() {
        let mut fs = vec![
            rec("198.19.0.1", 23, "telnet", High),
            rec("198.19.0.1", 22, "ssh", Low),
            rec("198.19.0.2", 23, "telnet", High),
            rec("198.19.0.2", 2375, "docker", Critical),
            rec("198.19.0.3", 6379, "redis", High),
            rec("198.19.0.4", 443, "https", Info),
            rec("198.19.0.4", 443, "tls-legacy", Medium),
            rec("198.19.0.5", 443, "https", Info),
            rec("198.19.0.5", 443, "tls-cert-expired", High),
            rec("198.19.0.5", 8443, "tls-cert-expired", High),
        ];
        let mut exp = rec("198.19.0.6", 3389, "rdp", High);
        exp.expected = true;
        fs.push(exp);
        let mut ps = rec("198.19.0.7", 1, "tcpmux", Critical);
        ps.pseudo = true;
        fs.push(ps);
        let plan = plan_of(&fs);
        // telnet (both hosts), ssh, docker, redis, tls-legacy,
        // tls-cert-expired; the info, expected and pseudo records make none.
        assert_eq!(plan.total, 6);
        let first = &plan.actions[0];
        assert_eq!(first.service, "docker");
        assert_eq!((first.score, first.score_after), (44, 64));
        let now = scan_score(&host_scores(&fs));
        for a in &plan.actions {
            assert_eq!(a.score, now.score);
            let (score, mean, hosts) = applied(&fs, &key_of(a));
            assert_eq!(a.score_after, score, "{}", a.action);
            assert_eq!(a.grade_after, Grade::from_score(score));
            assert_eq!(a.mean_after, mean, "{}", a.action);
            for h in &a.host_list {
                let after = hosts.iter().find(|x| x.0 == h.ip).unwrap().1;
                assert_eq!(h.score_after, after, "{} on {}", a.action, h.ip);
            }
        }
        let certs = plan
            .actions
            .iter()
            .find(|a| a.service == "tls-cert-expired")
            .unwrap();
        assert_eq!((certs.hosts, certs.findings, certs.ports_total), (1, 2, 2));
        assert_eq!(certs.ports, ["443/tcp", "8443/tcp"]);
        assert_eq!(
            certs.action,
            "replace the expired certificate on 2 ports (1 host)"
        );
        assert_eq!(certs.host_list[0].ports, ["443/tcp", "8443/tcp"]);
        // 100 x 0.8 x 0.8, capped at 79 -> 64; with both fixed: 100.
        assert_eq!(
            (certs.host_list[0].score, certs.host_list[0].score_after),
            (64, 100)
        );
        let telnet = plan.actions.iter().find(|a| a.service == "telnet").unwrap();
        assert_eq!(telnet.action, "close telnet (23/tcp) on 2 hosts");
        assert_eq!(telnet.hosts, 2);
    }

    #[test]
    fn what_is_kept_is_bounded_and_the_worst_hosts_are_listed() {
        let mut fs = Vec::new();
        for h in 0..30u8 {
            let ip = format!("198.19.2.{h}");
            fs.push(rec(&ip, 23, "telnet", High));
            // Host h has h low findings: the higher h, the worse.
            for p in 0..h as u16 {
                fs.push(rec(&ip, 1000 + p, "other", Low));
            }
        }
        let plan = plan_of(&fs);
        assert_eq!(plan.total, 30, "telnet and 29 low ports");
        assert_eq!(plan.actions.len(), TOP_ACTIONS);
        let telnet = plan.actions.iter().find(|a| a.service == "telnet").unwrap();
        assert_eq!(telnet.hosts, 30);
        assert_eq!(telnet.host_list.len(), ACTION_HOSTS);
        let listed: Vec<String> = telnet.host_list.iter().map(|h| h.ip.to_string()).collect();
        assert_eq!(listed[0], "198.19.2.29", "worst first");
        assert_eq!(listed[ACTION_HOSTS - 1], "198.19.2.22");
        assert!(
            telnet
                .host_list
                .windows(2)
                .all(|w| w[0].score <= w[1].score)
        );
    }

    #[test]
    fn nothing_that_costs_nothing_makes_an_action() {
        let mut fs = vec![rec("198.19.0.1", 443, "https", Info)];
        let mut e = rec("198.19.0.1", 22, "ssh", Low);
        e.expected = true;
        fs.push(e);
        let mut c = rec("198.19.0.1", 23, "telnet", High);
        c.state = PortState::Closed;
        fs.push(c);
        let plan = plan_of(&fs);
        assert_eq!(plan, Plan::default());
    }

    #[test]
    fn random_scans_match_a_rescore_for_every_action() {
        // A small deterministic generator: no crate needed for this.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let sev = [Critical, High, Medium, Low, Info];
        let services = ["telnet", "ssh", "redis", "tls-legacy", "tls-weak-key"];
        for _ in 0..40 {
            let mut fs = Vec::new();
            for h in 0..(1 + next(12)) {
                for _ in 0..next(6) {
                    let s = services[next(5) as usize];
                    let port = [22, 23, 443, 6379][next(4) as usize];
                    let mut f = rec(&format!("198.19.1.{h}"), port, s, sev[next(5) as usize]);
                    f.expected = next(7) == 0;
                    f.pseudo = next(11) == 0;
                    fs.push(f);
                }
            }
            let plan = plan_of(&fs);
            let now = scan_score(&host_scores(&fs));
            for a in &plan.actions {
                assert_eq!(a.score, now.score);
                let (score, mean, hosts) = applied(&fs, &key_of(a));
                assert_eq!((a.score_after, a.mean_after), (score, mean), "{a:?}");
                let mut grades = BTreeMap::new();
                for g in [Grade::A, Grade::B, Grade::C, Grade::D, Grade::F] {
                    grades.insert(
                        g,
                        hosts.iter().filter(|h| Grade::from_score(h.1) == g).count() as u64,
                    );
                }
                assert_eq!(a.grades_after, grades, "{a:?}");
                for h in &a.host_list {
                    let after = hosts.iter().find(|x| x.0 == h.ip).unwrap().1;
                    assert_eq!(h.score_after, after);
                }
            }
            // Ranked: no action buys the scan more than the one before it.
            for w in plan.actions.windows(2) {
                assert!(w[0].score_gain >= w[1].score_gain);
            }
        }
    }
}
