//! Identification measured against a lab of services that do not
//! cooperate (scripts/hostile_lab.sh), over IPv4 and IPv6: real Debian
//! daemons on their ports and on other protocols' ports (client-first
//! services on server-first ports and the reverse), middlebox hosts that
//! complete the handshake on every port, and peers that never accept,
//! accept and close, never read, tarpit, or send megabytes.
//!
//! Each family is scanned twice with the defaults (16 ports a host):
//! `--no-identify`, then identifying. The ground truth is the lab's own
//! plan; the SYNs each (address, port) received are counted in the target
//! namespace. The test prints the measured figures as a table first, then
//! asserts, per family:
//! - at least 99% of the real services named right, none wrong;
//! - every middlebox port `pseudo: true`, with no protocol;
//! - the open ports identifying are those of `--no-identify` (and of the plan);
//! - wall time at most 1.3x that of `--no-identify`;
//! - at most 5 connections (SYNs) per open port;
//! - every uncooperative peer reported, within the deadline, with no
//!   protocol and no service claimed (an unconfirmed `service` ends in `?`),
//!   and the scanner's memory not grown by what the peers sent.

mod common;

use common::findings::records;
use common::hostile_lab::{Family, Group, HostileLab, ScanRun};
use common::run::synsweep;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

/// Longest a scan of the lab may take before it is killed (the plain
/// scans take a few seconds).
const DEADLINE: Duration = Duration::from_secs(30);
/// Most connections identification may open per open port, the probe's included.
const MAX_CONNECTIONS: u64 = 5;
/// Most the identifying scanner's resident set may exceed the plain one's:
/// the megabyte peers send 8 MiB on each of their 16 ports of a family.
const MAX_EXTRA_RSS_KIB: u64 = 32 * 1024;

/// What one family's pair of scans showed.
#[derive(Default)]
struct Measure {
    services: usize,
    right: usize,
    wrong: Vec<String>,
    unnamed: BTreeMap<String, usize>,
    middlebox: usize,
    pseudo: usize,
    middlebox_bad: Vec<String>,
    hostile: usize,
    hostile_reported: usize,
    claims: Vec<String>,
    real_pseudo: Vec<String>,
    truth_open: usize,
    plain_open: usize,
    ident_open: usize,
    missing_vs_plain: Vec<String>,
    extra_vs_plain: Vec<String>,
    plain_vs_truth: Vec<String>,
    plain: Option<ScanRun>,
    ident: Option<ScanRun>,
    max_syns: u64,
    over_budget: Vec<String>,
    syns_total: u64,
    scan_errors: Vec<String>,
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

fn addr_port(r: &Value) -> (IpAddr, u16) {
    (
        r["ip"].as_str().unwrap().parse().unwrap(),
        r["port"].as_u64().unwrap() as u16,
    )
}

fn open_set(recs: &[Value]) -> BTreeSet<(IpAddr, u16)> {
    recs.iter()
        .filter(|r| r["state"] == "open" && r["reason"] == "syn-ack")
        .map(addr_port)
        .collect()
}

fn endpoint((a, p): &(IpAddr, u16)) -> String {
    match a {
        IpAddr::V4(a) => format!("{a}:{p}"),
        IpAddr::V6(a) => format!("[{a}]:{p}"),
    }
}

/// Whether a record claims a service without having named one: a
/// `protocol`, or a `service` stated as confirmed (not `unknown`, not
/// ending in `?`).
fn claim(r: &Value) -> Option<String> {
    if let Some(p) = r.get("protocol").and_then(Value::as_str) {
        return Some(format!("protocol {p}"));
    }
    match r.get("service").and_then(Value::as_str) {
        Some(s) if s != "unknown" && !s.ends_with('?') => Some(format!("service {s}")),
        _ => None,
    }
}

fn scan_family(lab: &HostileLab, family: Family) -> Measure {
    let dir = lab.dir();
    let ports = lab.ports();
    let ports_arg = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut m = Measure::default();
    let truth: BTreeMap<(IpAddr, u16), _> =
        lab.truth_of(family).map(|(k, v)| (*k, v.clone())).collect();
    m.truth_open = truth.len();
    let errors = std::cell::RefCell::new(Vec::new());
    let run = |mode: &str| -> (Vec<Value>, ScanRun, BTreeMap<(IpAddr, u16), u64>) {
        let tag = format!("{mode}{}", family.label());
        let out = dir.join(format!("{tag}.ndjson"));
        lab.reset_syns();
        let mut cmd = synsweep();
        cmd.arg("scan")
            .args(lab.targets(family))
            .args(["-p", &ports_arg, "--seed", "7", "-o"])
            .arg(&out)
            .current_dir(dir);
        if mode == "plain" {
            cmd.arg("--no-identify");
        }
        let r = lab.scan(&cmd, &dir.join(format!("{tag}.stdout")), DEADLINE);
        // A scan that did not end (killed at the deadline) or failed is a
        // finding of its own; its records are not read.
        let recs = match r.status {
            Some(0) => records(&out),
            None => {
                errors.borrow_mut().push(format!(
                    "{tag}: the scan did not end within {DEADLINE:?}: {}",
                    r.stderr.trim()
                ));
                Vec::new()
            }
            Some(c) => {
                errors
                    .borrow_mut()
                    .push(format!("{tag}: synsweep exited {c}: {}", r.stderr.trim()));
                Vec::new()
            }
        };
        (recs, r, lab.syns())
    };
    let (plain, plain_run, _) = run("plain");
    let (recs, ident_run, syns) = run("ident");
    m.plain = Some(plain_run);
    m.ident = Some(ident_run);
    m.scan_errors = errors.into_inner();

    let truth_set: BTreeSet<(IpAddr, u16)> = truth.keys().copied().collect();
    let plain_set = open_set(&plain);
    let ident_set = open_set(&recs);
    m.plain_open = plain_set.len();
    m.ident_open = ident_set.len();
    m.missing_vs_plain = plain_set.difference(&ident_set).map(endpoint).collect();
    m.extra_vs_plain = ident_set.difference(&plain_set).map(endpoint).collect();
    m.plain_vs_truth = plain_set
        .symmetric_difference(&truth_set)
        .map(|k| {
            let side = if truth_set.contains(k) {
                "missing"
            } else {
                "extra"
            };
            format!("{side} {}", endpoint(k))
        })
        .collect();

    let by_key: BTreeMap<(IpAddr, u16), &Value> = recs
        .iter()
        .filter(|r| r["reason"] == "syn-ack")
        .map(|r| (addr_port(r), r))
        .collect();
    for (key, plan) in &truth {
        let rec = by_key.get(key);
        match plan.group {
            Group::Home | Group::Swapped => {
                m.services += 1;
                let Some(r) = rec else {
                    *m.unnamed
                        .entry(format!("{} not found", plan.expect))
                        .or_default() += 1;
                    continue;
                };
                if r.get("pseudo") == Some(&Value::Bool(true)) {
                    m.real_pseudo.push(endpoint(key));
                }
                match r.get("protocol").and_then(Value::as_str) {
                    Some(p) if p == plan.expect => m.right += 1,
                    Some(p) => {
                        m.wrong
                            .push(format!("{} ({}) named {p}", endpoint(key), plan.expect))
                    }
                    None => {
                        *m.unnamed
                            .entry(format!(
                                "{} on {}{}",
                                plan.expect,
                                key.1,
                                if plan.group == Group::Swapped {
                                    " (swapped)"
                                } else {
                                    ""
                                }
                            ))
                            .or_default() += 1
                    }
                }
            }
            Group::Middlebox => {
                m.middlebox += 1;
                let Some(r) = rec else { continue };
                if r["pseudo"] == true {
                    m.pseudo += 1;
                }
                if let Some(c) = claim(r) {
                    m.middlebox_bad.push(format!("{} {c}", endpoint(key)));
                }
            }
            Group::Hostile => {
                m.hostile += 1;
                let Some(r) = rec else { continue };
                m.hostile_reported += 1;
                if let Some(c) = claim(r) {
                    m.claims
                        .push(format!("{} ({}) {c}", endpoint(key), plan.expect));
                }
            }
        }
    }
    for key in &ident_set {
        let n = syns.get(key).copied().unwrap_or(0);
        m.syns_total += n;
        m.max_syns = m.max_syns.max(n);
        if n > MAX_CONNECTIONS {
            m.over_budget.push(format!("{} {n}", endpoint(key)));
        }
    }
    m
}

fn first<T: std::fmt::Display>(v: &[T], n: usize) -> String {
    let mut s = v
        .iter()
        .take(n)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if v.len() > n {
        let _ = write!(s, " and {} more", v.len() - n);
    }
    s
}

fn table(ms: &[(Family, Measure)]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "identify hostile lab (figures measured on a machine that may be loaded):"
    );
    let _ = write!(t, "  {:<44}", "");
    for (f, _) in ms {
        let _ = write!(t, "{:>22}", f.label());
    }
    t.push('\n');
    let mut row = |label: &str, cell: &dyn Fn(&Measure) -> String| {
        let _ = write!(t, "  {label:<44}");
        for (_, m) in ms {
            let _ = write!(t, "{:>22}", cell(m));
        }
        t.push('\n');
    };
    row("real services named right", &|m| {
        format!(
            "{}/{} {:.1}%",
            m.right,
            m.services,
            pct(m.right, m.services)
        )
    });
    row("real services named wrong", &|m| m.wrong.len().to_string());
    row("real services unnamed", &|m| {
        m.unnamed.values().sum::<usize>().to_string()
    });
    row("real service ports marked pseudo", &|m| {
        m.real_pseudo.len().to_string()
    });
    row("middlebox ports pseudo", &|m| {
        format!("{}/{}", m.pseudo, m.middlebox)
    });
    row("middlebox ports claiming a service", &|m| {
        m.middlebox_bad.len().to_string()
    });
    row("uncooperative ports reported", &|m| {
        format!("{}/{}", m.hostile_reported, m.hostile)
    });
    row("uncooperative ports claiming a service", &|m| {
        m.claims.len().to_string()
    });
    row("open: plan / --no-identify / identifying", &|m| {
        format!("{}/{}/{}", m.truth_open, m.plain_open, m.ident_open)
    });
    row("open: missing / extra vs --no-identify", &|m| {
        format!("{}/{}", m.missing_vs_plain.len(), m.extra_vs_plain.len())
    });
    let secs = |r: &Option<ScanRun>| r.as_ref().map_or(0.0, |r| r.wall.as_secs_f64());
    row("wall s: identifying / --no-identify", &|m| {
        format!("{:.2}/{:.2}", secs(&m.ident), secs(&m.plain))
    });
    row("wall time ratio", &|m| {
        format!("{:.2}x", secs(&m.ident) / secs(&m.plain).max(1e-9))
    });
    row("SYNs per open port: max / total / ports", &|m| {
        format!("{}/{}/{}", m.max_syns, m.syns_total, m.ident_open)
    });
    row("open ports over 5 connections", &|m| {
        m.over_budget.len().to_string()
    });
    let rss = |r: &Option<ScanRun>| r.as_ref().map_or(0, |r| r.max_rss_kib / 1024);
    row("max RSS MiB: identifying / --no-identify", &|m| {
        format!("{}/{}", rss(&m.ident), rss(&m.plain))
    });
    for (f, m) in ms {
        let l = f.label();
        if !m.unnamed.is_empty() {
            let _ = writeln!(
                t,
                "  {l} unnamed: {}",
                m.unnamed
                    .iter()
                    .map(|(k, n)| format!("{k} x{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for (what, v) in [
            ("named wrong", &m.wrong),
            ("real ports pseudo", &m.real_pseudo),
            ("middlebox claims", &m.middlebox_bad),
            ("uncooperative claims", &m.claims),
            ("missing vs --no-identify", &m.missing_vs_plain),
            ("extra vs --no-identify", &m.extra_vs_plain),
            ("--no-identify vs plan", &m.plain_vs_truth),
            ("over 5 connections", &m.over_budget),
        ] {
            if !v.is_empty() {
                let _ = writeln!(t, "  {l} {what}: {}", first(v, 6));
            }
        }
        if let Some(s) = m
            .ident
            .as_ref()
            .and_then(|r| r.stderr.lines().rev().find(|l| l.contains(" probes for ")))
        {
            let _ = writeln!(t, "  {l} identifying: {s}");
        }
    }
    t
}

fn failures(f: Family, m: &Measure) -> Vec<String> {
    let l = f.label();
    let mut bad = m.scan_errors.clone();
    let secs = |r: &Option<ScanRun>| r.as_ref().map_or(0.0, |r| r.wall.as_secs_f64());
    let rss = |r: &Option<ScanRun>| r.as_ref().map_or(0, |r| r.max_rss_kib);
    if !m.plain_vs_truth.is_empty() {
        bad.push(format!(
            "{l}: --no-identify does not find the plan's open ports: {}",
            first(&m.plain_vs_truth, 6)
        ));
    }
    if m.right * 100 < m.services * 99 {
        bad.push(format!(
            "{l}: {} of {} real services named right ({:.1}%, want >= 99%)",
            m.right,
            m.services,
            pct(m.right, m.services)
        ));
    }
    if !m.wrong.is_empty() {
        bad.push(format!(
            "{l}: {} named wrong: {}",
            m.wrong.len(),
            first(&m.wrong, 4)
        ));
    }
    if !m.real_pseudo.is_empty() {
        bad.push(format!(
            "{l}: real services marked pseudo: {}",
            first(&m.real_pseudo, 4)
        ));
    }
    if m.pseudo != m.middlebox {
        bad.push(format!(
            "{l}: {} of {} middlebox ports pseudo",
            m.pseudo, m.middlebox
        ));
    }
    if !m.middlebox_bad.is_empty() {
        bad.push(format!(
            "{l}: middlebox ports claim a service: {}",
            first(&m.middlebox_bad, 4)
        ));
    }
    if m.hostile_reported != m.hostile {
        bad.push(format!(
            "{l}: {} of {} uncooperative ports reported",
            m.hostile_reported, m.hostile
        ));
    }
    if !m.claims.is_empty() {
        bad.push(format!(
            "{l}: uncooperative ports claim a service without evidence: {}",
            first(&m.claims, 4)
        ));
    }
    if !m.missing_vs_plain.is_empty() || !m.extra_vs_plain.is_empty() {
        bad.push(format!(
            "{l}: open ports differ from --no-identify: missing {}; extra {}",
            first(&m.missing_vs_plain, 4),
            first(&m.extra_vs_plain, 4)
        ));
    }
    let ratio = secs(&m.ident) / secs(&m.plain).max(1e-9);
    if ratio > 1.3 {
        bad.push(format!(
            "{l}: wall time {:.2}s identifying, {:.2}x --no-identify's {:.2}s (want <= 1.3x)",
            secs(&m.ident),
            ratio,
            secs(&m.plain)
        ));
    }
    if !m.over_budget.is_empty() {
        bad.push(format!(
            "{l}: {} open ports got more than {MAX_CONNECTIONS} connections: {}",
            m.over_budget.len(),
            first(&m.over_budget, 4)
        ));
    }
    if rss(&m.ident) > rss(&m.plain) + MAX_EXTRA_RSS_KIB {
        bad.push(format!(
            "{l}: identifying took {} MiB of memory, --no-identify {} MiB",
            rss(&m.ident) / 1024,
            rss(&m.plain) / 1024
        ));
    }
    bad
}

#[test]
fn identification_against_a_hostile_lab_over_ipv4_and_ipv6() {
    let dir = tempfile::tempdir().unwrap();
    let lab = HostileLab::up(dir.path());
    // The plan itself: services of both kinds, middleboxes and every kind
    // of peer, on both families.
    for f in [Family::V4, Family::V6] {
        let groups: BTreeSet<Group> = lab.truth_of(f).map(|(_, p)| p.group).collect();
        assert_eq!(groups.len(), 4, "{f:?}: {groups:?}");
        let kinds: BTreeSet<&str> = lab
            .truth_of(f)
            .filter(|(_, p)| p.group == Group::Hostile)
            .map(|(_, p)| p.expect.as_str())
            .collect();
        assert_eq!(
            kinds,
            BTreeSet::from(["close", "megabytes", "neveraccept", "noread", "tarpit"])
        );
    }
    // The lab is what its plan says (a plain client on a sample of it).
    lab.check_plan();
    let ms: Vec<(Family, Measure)> = [Family::V4, Family::V6]
        .into_iter()
        .map(|f| (f, scan_family(&lab, f)))
        .collect();
    eprintln!("{}", table(&ms));
    let mut bad: Vec<String> = ms.iter().flat_map(|(f, m)| failures(*f, m)).collect();
    // Taken down: its namespaces are gone (with them every daemon).
    let prefix = format!("sswlab-{}-", lab.name());
    drop(lab);
    let left: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    if !left.is_empty() {
        bad.push(format!(
            "namespaces left after the lab was dropped: {left:?}"
        ));
    }
    assert!(
        bad.is_empty(),
        "identification against the hostile lab:\n  {}",
        bad.join("\n  ")
    );
}
