//! "What to fix first" in the JSON document and the HTML report: for every
//! action listed, the findings it covers are taken out (closed) and what
//! is left is scored again by the scoring code; the scan's score, grade,
//! mean and grade counts, and each listed host's score, must be what the
//! document says. Findings come annotated by the catalog and a policy, in
//! arrival order (not sorted), with a pseudo host and aspect records
//! (deprecated TLS, certificate problems).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, UNIX_EPOCH};
use synsweep::finding::{Finding, PortState, Severity};
use synsweep::output::{self, Format, ScanMeta};
use synsweep::risk::protocol::{LEGACY_TLS_REASON, legacy_tls_finding};
use synsweep::risk::score::{Grade, host_scores, scan_score};
use synsweep::risk::{Policy, Risk};

fn meta() -> ScanMeta {
    ScanMeta {
        command: "synsweep scan 198.19.0.0/24".into(),
        started: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
        finished: UNIX_EPOCH + Duration::from_secs(1_790_000_060),
        targets: "198.19.0.0/24".into(),
        ports: "1-65535".into(),
        seed: 1,
        rate: "1000 pps".into(),
        probes_sent: 1,
    }
}

/// A certificate problem reported as an aspect record of a TLS port. The
/// plan groups aspect records by service name; the reason is the one that
/// keeps an aspect record apart from its port's record in sorting.
fn cert_aspect(port: &Finding, service: &str, severity: Severity) -> Finding {
    let mut f = port.clone();
    f.reason = LEGACY_TLS_REASON.into();
    f.service = service.into();
    f.severity = severity;
    f.rationale = format!("{service} on this port");
    f.mitigation = format!("Fix the {service} certificate.");
    f
}

/// A scan of 200 hosts: a deterministic mix of ports, a policy that
/// expects some of them, a middlebox answering everywhere, deprecated TLS
/// and certificate problems.
fn scan() -> Vec<Finding> {
    let policy = Policy::parse(
        "[[expect]]\nhosts = [\"198.19.0.0/26\"]\nports = [22, 3389]\n",
        "inline",
    )
    .unwrap();
    let risk = Risk::new(Some(policy));
    let menu = [
        21, 22, 23, 80, 443, 445, 3306, 3389, 5900, 6379, 8080, 8443, 2375,
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut out = Vec::new();
    for h in 0..200u32 {
        let ip = IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 19, 0, 0)) + h));
        for &port in &menu {
            // Rarer for the worse ports, so hosts differ.
            let odds = match port {
                2375 => 40,
                23 | 6379 => 8,
                _ => 3,
            };
            if next(odds) != 0 {
                continue;
            }
            let t =
                UNIX_EPOCH + Duration::from_millis(1_790_000_000_000 + h as u64 * 50 + port as u64);
            let mut f = Finding::tcp(ip, port, PortState::Open, 64, t);
            risk.annotate(&mut f);
            if port == 443 || port == 8443 {
                match next(6) {
                    0 => out.push(legacy_tls_finding(&f, "TLSv1.0")),
                    1 => out.push(cert_aspect(&f, "tls-cert-expired", Severity::High)),
                    2 => out.push(cert_aspect(&f, "tls-cert-expiring", Severity::Medium)),
                    3 => out.push(cert_aspect(&f, "tls-cert-self-signed", Severity::Medium)),
                    _ => {}
                }
            }
            out.push(f);
        }
    }
    // A middlebox: every port answers, marked pseudo (costs nothing).
    for port in 1..=300u16 {
        let t = UNIX_EPOCH + Duration::from_millis(1_790_000_100_000 + port as u64);
        let mut f = Finding::tcp("198.19.1.1".parse().unwrap(), port, PortState::Open, 64, t);
        risk.annotate(&mut f);
        f.pseudo = true;
        out.push(f);
    }
    // Arrival order, not sorted.
    let n = out.len();
    (0..n).map(|i| out[(i * 7_919) % n].clone()).collect()
}

fn write(dir: &std::path::Path, fs: &[Finding], name: &str, format: Format) -> String {
    let path = dir.join(name);
    let mut w = output::open(path.to_str().unwrap(), format, false).unwrap();
    for f in fs {
        w.write(f).unwrap();
    }
    w.finish(&meta()).unwrap();
    std::fs::read_to_string(path).unwrap()
}

/// Whether the listed action covers `f`, from the action's own fields and
/// the documented rule: open records that cost score (not expected, not
/// pseudo, not info); a port action the port records of its service and
/// port, an aspect action the aspect records of its service.
fn covers(a: &serde_json::Value, f: &Finding) -> bool {
    if f.state != PortState::Open || f.expected || f.pseudo || f.severity == Severity::Info {
        return false;
    }
    let aspect = f.reason != "syn-ack";
    match a["kind"].as_str().unwrap() {
        "port" => {
            !aspect
                && f.service == a["service"]
                && f.proto == a["proto"]
                && u64::from(f.port) == a["port"]
        }
        "aspect" => aspect && f.service == a["service"],
        k => panic!("unknown kind {k}"),
    }
}

#[test]
fn every_action_buys_what_a_rescore_of_the_findings_without_it_gives() {
    let dir = tempfile::tempdir().unwrap();
    let fs = scan();
    let doc: serde_json::Value =
        serde_json::from_str(&write(dir.path(), &fs, "scan.json", Format::Json)).unwrap();
    let html = write(dir.path(), &fs, "scan.html", Format::Html);
    let now = scan_score(&host_scores(&fs));
    assert_eq!(doc["score"]["score"], now.score);

    let actions = doc["fix_first"].as_array().expect("fix_first array");
    assert_eq!(actions.len(), 10, "the top 10 are listed");
    let kinds: Vec<&str> = actions
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"aspect") && kinds.contains(&"port"),
        "{kinds:?}"
    );
    let mut prev = (u64::MAX, u64::MAX);
    for a in actions {
        let name = a["action"].as_str().unwrap();
        let covered: Vec<&Finding> = fs.iter().filter(|f| covers(a, f)).collect();
        assert!(!covered.is_empty(), "{name} covers nothing");
        let hosts: std::collections::BTreeSet<IpAddr> = covered.iter().map(|f| f.ip).collect();
        assert_eq!(a["hosts"], hosts.len() as u64, "{name}");
        assert_eq!(a["findings"], covered.len() as u64, "{name}");
        // No pseudo host, no expected port in any action.
        assert!(covered.iter().all(|f| !f.pseudo && !f.expected));

        let left: Vec<Finding> = fs
            .iter()
            .cloned()
            .map(|mut f| {
                if covers(a, &f) {
                    f.state = PortState::Closed;
                }
                f
            })
            .collect();
        let after_hosts = host_scores(&left);
        let after = scan_score(&after_hosts);
        assert_eq!(a["score"], now.score, "{name}");
        assert_eq!(a["score_after"], after.score, "{name}");
        assert_eq!(a["grade_after"], after.grade.as_str(), "{name}");
        assert_eq!(a["score_gain"], (after.score - now.score) as u64, "{name}");
        assert_eq!(a["mean_after"].as_f64().unwrap(), after.mean, "{name}");
        let grades: BTreeMap<String, u64> = after
            .grades
            .iter()
            .map(|(g, n)| (g.to_string(), *n as u64))
            .collect();
        let said: BTreeMap<String, u64> =
            serde_json::from_value(a["grades_after"].clone()).unwrap();
        assert_eq!(said, grades, "{name}");
        let before = host_scores(&fs);
        let gain: u64 = after_hosts
            .iter()
            .zip(&before)
            .map(|(x, y)| (x.score - y.score) as u64)
            .sum();
        assert_eq!(a["host_gain"], gain, "{name}");
        for h in a["host_list"].as_array().unwrap() {
            let ip: IpAddr = h["ip"].as_str().unwrap().parse().unwrap();
            let x = after_hosts.iter().find(|x| x.ip == ip).unwrap();
            let y = before.iter().find(|y| y.ip == ip).unwrap();
            assert_eq!(
                (h["score"].clone(), h["score_after"].clone()),
                (y.score.into(), x.score.into())
            );
            assert_eq!(h["grade_after"], Grade::from_score(x.score).as_str());
        }
        // Ranked by what the scan gains, then what the hosts gain.
        let key = (
            a["score_gain"].as_u64().unwrap(),
            a["host_gain"].as_u64().unwrap(),
        );
        assert!(key <= prev, "{name} ranked after a smaller one");
        prev = key;

        // The HTML report says the same.
        let mut shown = name.to_string();
        shown[..1].make_ascii_uppercase();
        assert!(html.contains(&shown), "{shown} not in the HTML report");
        let cell = format!("{}</span> {}/100", after.grade, after.score);
        assert!(html.contains(&cell), "{cell} not in the HTML report");
    }
    // The section comes right after the grade.
    let grade_at = html.find("Overall grade").unwrap();
    let fix_at = html.find("What to fix first").unwrap();
    let chart_at = html.find("Open findings by category").unwrap();
    assert!(grade_at < fix_at && fix_at < chart_at);
}

#[test]
fn a_scan_where_nothing_costs_score_has_nothing_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let risk = Risk::new(None);
    let t = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let mut f = Finding::tcp("198.19.0.9".parse().unwrap(), 443, PortState::Open, 64, t);
    risk.annotate(&mut f);
    assert_eq!(f.severity, Severity::Info);
    let doc: serde_json::Value =
        serde_json::from_str(&write(dir.path(), &[f.clone()], "a.json", Format::Json)).unwrap();
    assert_eq!(doc["fix_first"], serde_json::json!([]));
    let html = write(dir.path(), &[f], "a.html", Format::Html);
    assert!(html.contains("Nothing to fix"));
}
