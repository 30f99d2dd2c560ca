//! `synsweep diff OLD NEW` from the command line: exactly the ports opened,
//! closed and changed, the hosts whose grade changed, exit 0/1/2 as diff and
//! ndiff; and `report --baseline` showing what is new. No packets.

mod common;

use common::run::synsweep;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn rec(ip: &str, port: u16, service: &str, severity: &str) -> String {
    format!(
        r#"{{"ip":"{ip}","port":{port},"proto":"tcp","state":"open","reason":"syn-ack","ttl":64,"ts":"2026-11-22T02:35:54.000Z","service":"{service}","category":"other","severity":"{severity}","admin":false,"expected":false,"rationale":"r","mitigation":"m"}}"#
    )
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&p, text).unwrap();
    p
}

/// An old scan and a new one: 198.19.0.1:80 closed, 198.19.0.2:23 opened,
/// 198.19.0.3:8080 changed service and severity, 2001:2::7:22 opened (a
/// new IPv6 host), the rest the same; the records in another order.
fn scans(dir: &Path) -> (PathBuf, PathBuf) {
    let old = vec![
        rec("198.19.0.1", 22, "ssh", "low"),
        rec("198.19.0.1", 80, "http", "low"),
        rec("198.19.0.2", 443, "https", "info"),
        rec("198.19.0.3", 8080, "http-alt", "low"),
        rec("198.19.0.4", 3389, "ms-wbt-server", "high"),
    ];
    let mut new = vec![
        rec("198.19.0.4", 3389, "ms-wbt-server", "high"),
        rec("198.19.0.3", 8080, "telnet", "critical"),
        rec("2001:2::7", 22, "ssh", "low"),
        rec("198.19.0.2", 23, "telnet", "critical"),
        rec("198.19.0.2", 443, "https", "info"),
        rec("198.19.0.1", 22, "ssh", "low"),
    ];
    // A closed record in NEW is not a change of open ports.
    new.push(
        r#"{"ip":"198.19.0.1","port":25,"state":"closed","ts":"2026-11-22T02:35:54.000Z"}"#
            .to_string(),
    );
    (
        write(dir, "old.ndjson", &old),
        write(dir, "new.ndjson", &new),
    )
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v = serde_json::from_str(l).unwrap();
            common::schema::check_record(&v);
            v
        })
        .collect()
}

/// `synsweep diff OLD NEW -o OUT`.
fn diff_to(
    old: &std::path::Path,
    new: &std::path::Path,
    out: &std::path::Path,
) -> std::process::Output {
    synsweep()
        .arg("diff")
        .arg(old)
        .arg(new)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn diff_reports_exactly_what_opened_closed_and_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = scans(dir.path());
    let out = dir.path().join("changes.ndjson");
    let run = diff_to(&old, &new, &out);
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let recs = records(&out);
    let ports: Vec<(String, String, u64)> = recs
        .iter()
        .filter(|r| r["change"] != "grade")
        .map(|r| {
            (
                r["change"].as_str().unwrap().to_string(),
                r["ip"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, String, u64)> = [
        ("closed", "198.19.0.1", 80),
        ("opened", "198.19.0.2", 23),
        ("changed", "198.19.0.3", 8080),
        ("opened", "2001:2::7", 22),
    ]
    .iter()
    .map(|(c, ip, p)| (c.to_string(), ip.to_string(), *p))
    .collect();
    assert_eq!(ports, want);
    // A change record is the finding's fields plus `change`.
    let opened = &recs.iter().find(|r| r["port"] == 23).unwrap();
    assert_eq!(opened["service"], "telnet");
    assert_eq!(opened["severity"], "critical");
    assert_eq!(opened["proto"], "tcp");
    let changed = &recs.iter().find(|r| r["change"] == "changed").unwrap();
    assert_eq!(changed["service"], "telnet");
    assert_eq!(changed["was"]["service"], "http-alt");
    assert_eq!(changed["was"]["severity"], "low");
    let closed = &recs.iter().find(|r| r["change"] == "closed").unwrap();
    assert_eq!(closed["service"], "http");
    // Grades: .1 lost a low port (94 -> 97, still A: no record); .2 and .3
    // gained a critical one (F); the new IPv6 host has a low port (A -> A).
    let grades: Vec<(String, String, String)> = recs
        .iter()
        .filter(|r| r["change"] == "grade")
        .map(|r| {
            (
                r["ip"].as_str().unwrap().to_string(),
                r["old_grade"].as_str().unwrap().to_string(),
                r["new_grade"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        grades,
        vec![
            ("198.19.0.2".to_string(), "A".to_string(), "F".to_string()),
            ("198.19.0.3".to_string(), "A".to_string(), "F".to_string()),
        ]
    );
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        text.contains("2 opened, 1 closed, 1 changed, 2 host grades changed"),
        "{text}"
    );
    assert!(
        text.contains("+ opened  198.19.0.2:23/tcp telnet"),
        "{text}"
    );
    assert!(text.contains("[2001:2::7]:22/tcp"), "{text}");
}

#[test]
fn a_scan_diffed_with_itself_has_no_change_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let (_, new) = scans(dir.path());
    let out = dir.path().join("none.ndjson");
    let run = diff_to(&new, &new, &out);
    assert_eq!(run.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "");
    assert!(String::from_utf8_lossy(&run.stdout).contains("no changes"));
    // Without -o: only the summary.
    let run = synsweep().arg("diff").arg(&new).arg(&new).output().unwrap();
    assert_eq!(run.status.code(), Some(0));
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (old, _) = scans(dir.path());
    let garbage = dir.path().join("garbage.ndjson");
    std::fs::write(
        &garbage,
        "this is not json\n{\"ip\":\"198.19.0.1\",\"port\":1}\n",
    )
    .unwrap();
    for bad in [dir.path().join("missing.ndjson"), garbage] {
        let run = synsweep().arg("diff").arg(&old).arg(&bad).output().unwrap();
        assert_eq!(run.status.code(), Some(2), "{}", bad.display());
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("synsweep: "), "{err}");
    }
    // A cut-short last line (a killed scan) is only a warning.
    let cut = dir.path().join("cut.ndjson");
    let mut text = std::fs::read_to_string(&old).unwrap();
    text.push_str("{\"ip\":\"198.19.0.9\",\"po");
    std::fs::write(&cut, text).unwrap();
    let run = synsweep().arg("diff").arg(&old).arg(&cut).output().unwrap();
    assert_eq!(run.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&run.stderr).contains("warning"));
}

#[test]
fn report_with_a_baseline_shows_what_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = scans(dir.path());
    let html = dir.path().join("r.html");
    let run = synsweep()
        .arg("report")
        .arg(&new)
        .arg("--baseline")
        .arg(&old)
        .arg("-o")
        .arg(&html)
        .output()
        .unwrap();
    common::run::check(&run);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("What changed since the baseline"));
    // Counted after the report re-annotated NEW (the baseline is taken as
    // it is): 198.19.0.2:23 and [2001:2::7]:22 are new.
    assert!(
        page.contains("<strong>2</strong> ports newly open, <strong>1</strong> closed"),
        "{page}"
    );
    assert!(page.contains("198.19.0.2:23/tcp"));
    assert!(page.contains("[2001:2::7]:22/tcp"));
    // Without a baseline there is no such section.
    let run = synsweep()
        .arg("report")
        .arg(&new)
        .arg("-o")
        .arg(&html)
        .output()
        .unwrap();
    common::run::check(&run);
    assert!(
        !std::fs::read_to_string(&html)
            .unwrap()
            .contains("What changed since")
    );
}

/// Records written before the guess mark (`"service":"ssh"` on a port
/// nothing named) against today's (`"ssh?"`): no change, and `report` and
/// `merge` read the old file as before.
#[test]
fn old_records_without_the_guess_mark_read_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(
        dir.path(),
        "old.ndjson",
        &[
            rec("198.19.0.1", 22, "ssh", "low"),
            rec("198.19.0.1", 21, "ftp", "high"),
        ],
    );
    let new = write(
        dir.path(),
        "new.ndjson",
        &[
            rec("198.19.0.1", 22, "ssh?", "low"),
            rec("198.19.0.1", 21, "ftp?", "high"),
        ],
    );
    let out = dir.path().join("d.ndjson");
    let run = diff_to(&old, &new, &out);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "");
    // A different guess is a change.
    let other = write(
        dir.path(),
        "other.ndjson",
        &[
            rec("198.19.0.1", 22, "telnet?", "low"),
            rec("198.19.0.1", 21, "ftp?", "high"),
        ],
    );
    let run = synsweep()
        .arg("diff")
        .arg(&old)
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    // report re-annotates the old records: today's names, marked.
    let report = dir.path().join("r.ndjson");
    common::run::check(
        &synsweep()
            .arg("report")
            .arg(&old)
            .arg("-o")
            .arg(&report)
            .output()
            .unwrap(),
    );
    let services: Vec<String> = records(&report)
        .iter()
        .map(|r| r["service"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(services, ["ftp?", "ssh?"]);
    // merge keeps each record as written.
    let merged = dir.path().join("m.ndjson");
    common::run::check(
        &synsweep()
            .arg("merge")
            .arg(&old)
            .arg("-o")
            .arg(&merged)
            .output()
            .unwrap(),
    );
    assert_eq!(records(&merged).len(), 2);
}
