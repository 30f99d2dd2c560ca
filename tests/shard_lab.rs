//! Sharded scans in the lab: three shard processes, each in a scanner
//! namespace of its own, all against the same target namespace
//! (`Lab::builder().scanners(3)`), run at the same time. Together they report
//! exactly what one unsharded scan reports, and send every probe of the space
//! exactly once. Every scan runs inside a lab scanner namespace, also the ones
//! that must be refused before they send anything.

mod common;

use common::run::{check, synsweep};

use common::Lab;
use common::findings::{pairs, records};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// One raw-packet test at a time: the machine has two cores.
static SERIAL: Mutex<()> = Mutex::new(());

const RANGE: &str = "198.19.0.0/21";
const PORTS: &str = "22,80,443";
const PORT_LIST: [u16; 3] = [22, 80, 443];
const SEED: &str = "4242";
/// 2048 addresses x 3 ports.
const SPACE: u64 = 2048 * 3;

/// `scan RANGE -p PORTS --seed SEED` at a rate three concurrent processes on
/// two cores take without loss, closed ports reported too, findings to `out`.
fn scan_args(out: &Path) -> Command {
    let mut c = synsweep();
    c.args([
        "scan",
        RANGE,
        "-p",
        PORTS,
        "--seed",
        SEED,
        "--rate",
        "10000",
        "--wait",
        "1.5",
        "--show-closed",
        "-o",
    ])
    .arg(out);
    c
}

/// The probe count of the summary line `synsweep: N probes for M pairs ...`.
fn probes_sent(stderr: &[u8]) -> (u64, u64) {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with("synsweep: ") && l.contains(" probes for "))
        .unwrap_or_else(|| panic!("no summary line in:\n{text}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let sent = words[1].parse().unwrap();
    let space = words[4].parse().unwrap();
    (sent, space)
}

type Pairs = BTreeSet<(Ipv4Addr, u16)>;

/// Open and closed pairs of a findings file, checking no pair is reported
/// twice in it.
fn open_closed(path: &Path) -> (Pairs, Pairs) {
    let recs = records(path);
    let (open, closed) = (pairs(&recs, "open"), pairs(&recs, "closed"));
    assert_eq!(
        recs.len(),
        open.len() + closed.len(),
        "{}: a pair reported twice",
        path.display()
    );
    (open, closed)
}

#[test]
fn three_concurrent_shards_report_what_one_scan_reports_each_probe_once() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Every host alive, 22 and 80 open, 443 closed: every probe gets an
    // answer, so the findings (open and closed) name every pair probed.
    let lab = Lab::builder().scanners(3).listen(&[22, 80]).build();
    let dir = tempfile::tempdir().unwrap();
    let truth_open = lab.ground_truth_open(&PORT_LIST, RANGE);
    let truth_closed = lab.ground_truth_closed(&PORT_LIST, RANGE);
    assert_eq!((truth_open.len() + truth_closed.len()) as u64, SPACE);

    // Three shard processes at once, one per scanner namespace, each with a
    // working directory and findings file of its own.
    let files: Vec<PathBuf> = (1..=3)
        .map(|k| dir.path().join(format!("shard-{k}.ndjson")))
        .collect();
    let children: Vec<_> = (0..3)
        .map(|k| {
            let cwd = dir.path().join(format!("cwd-{k}"));
            std::fs::create_dir(&cwd).unwrap();
            let mut cmd = scan_args(&files[k]);
            cmd.args(["--shard", &format!("{}/3", k + 1)])
                .current_dir(&cwd);
            // (wrap_in_scanner_n carries args, env and dir, not stdio.)
            lab.wrap_in_scanner_n(k, &cmd)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut sent_total = 0;
    for out in &outs {
        check(out);
        let (sent, space) = probes_sent(&out.stderr);
        assert_eq!(space, SPACE);
        sent_total += sent;
    }
    // The probes add up to the space, and the target saw exactly that many
    // SYNs: with every pair answered below, none was sent twice.
    assert_eq!(sent_total, SPACE, "summary probe counts");
    let c = lab.counters();
    assert_eq!(c.syn_in, SPACE, "SYNs at the target: {c:?}");

    // Each shard found its share; no pair is in two shards; together they
    // are the ground truth, every pair of the space answered exactly once.
    let shards: Vec<(Pairs, Pairs)> = files.iter().map(|f| open_closed(f)).collect();
    for (i, a) in shards.iter().enumerate() {
        let n = a.0.len() + a.1.len();
        assert!(
            (1900..=2200).contains(&n),
            "shard {} has {n} of {SPACE} pairs",
            i + 1
        );
        for b in &shards[i + 1..] {
            assert!(a.0.is_disjoint(&b.0) && a.1.is_disjoint(&b.1));
            assert!(a.0.is_disjoint(&b.1) && a.1.is_disjoint(&b.0));
        }
    }
    let union_open: Pairs = shards.iter().flat_map(|s| s.0.iter().copied()).collect();
    let union_closed: Pairs = shards.iter().flat_map(|s| s.1.iter().copied()).collect();
    assert_eq!(union_open, truth_open);
    assert_eq!(union_closed, truth_closed);

    // synsweep merge: one file, no duplicates, the same pairs.
    let merged = dir.path().join("all.ndjson");
    let out = synsweep()
        .arg("merge")
        .args(&files)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    check(&out);
    let (m_open, m_closed) = open_closed(&merged);
    assert_eq!(m_open, truth_open);
    assert_eq!(m_closed, truth_closed);

    // One unsharded scan of the same space reports the same, with the same
    // number of SYNs.
    lab.reset_counters();
    let whole = dir.path().join("whole.ndjson");
    let out = lab.run_in_scanner(scan_args(&whole).current_dir(dir.path()));
    check(&out);
    assert_eq!(probes_sent(&out.stderr), (SPACE, SPACE));
    assert_eq!(lab.counters().syn_in, SPACE);
    let (w_open, w_closed) = open_closed(&whole);
    assert_eq!((&w_open, &w_closed), (&m_open, &m_closed));

    // Merging overlapping files (the shards and the whole scan) drops every
    // duplicate.
    let again = dir.path().join("again.ndjson");
    let out = synsweep()
        .arg("merge")
        .args(&files)
        .arg(&whole)
        .arg("-o")
        .arg(&again)
        .output()
        .unwrap();
    check(&out);
    assert_eq!(open_closed(&again), (w_open, w_closed));

    // Every report format from the merged file.
    let outputs: Vec<PathBuf> = ["ndjson", "json", "csv", "xml", "txt", "html"]
        .iter()
        .map(|ext| dir.path().join(format!("report.{ext}")))
        .collect();
    let mut cmd = synsweep();
    cmd.arg("report").arg(&merged);
    for o in &outputs {
        cmd.arg("-o").arg(o);
    }
    check(&cmd.output().unwrap());
    let n = truth_open.len() + truth_closed.len();
    let (r_open, r_closed) = open_closed(&outputs[0]);
    assert_eq!(
        (r_open.len(), r_closed.len()),
        (m_open.len(), m_closed.len())
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&outputs[1]).unwrap()).unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), n);
    assert_eq!(
        csv::Reader::from_path(&outputs[2])
            .unwrap()
            .records()
            .count(),
        n
    );
    let xml = std::fs::read_to_string(&outputs[3]).unwrap();
    assert_eq!(xml.matches("<port ").count(), n);
    let txt = std::fs::read_to_string(&outputs[4]).unwrap();
    assert_eq!(
        txt.lines().filter(|l| l.starts_with("open tcp ")).count(),
        m_open.len()
    );
    let html = std::fs::read_to_string(&outputs[5]).unwrap();
    // The HTML report summarizes: every host and open port counted.
    let hosts: std::collections::BTreeSet<_> = truth_open
        .iter()
        .chain(truth_closed.iter())
        .map(|p| p.0)
        .collect();
    assert!(html.contains("</html>"));
    assert!(
        html.contains(&format!(
            "{} hosts, {} open ports",
            hosts.len(),
            m_open.len()
        )),
        "HTML report does not count {} hosts and {} open ports",
        hosts.len(),
        m_open.len()
    );
}

#[test]
fn shard_from_env_takes_the_zero_based_index_from_the_environment() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::builder().scanners(2).listen(&[22, 80]).build();
    let dir = tempfile::tempdir().unwrap();

    // Dry run: JOB_COMPLETION_INDEX=1 is shard 2 of 3.
    let dry = |var: &str, value: &str| {
        let mut cmd = synsweep();
        cmd.args([
            "scan",
            RANGE,
            "-p",
            PORTS,
            "--seed",
            SEED,
            "--dry-run",
            "--shard-from-env",
            &format!("{var}/3"),
        ])
        .env(var, value);
        lab.run_in_scanner(&mut cmd)
    };
    for (var, value, shard) in [
        ("JOB_COMPLETION_INDEX", "0", "1/3"),
        ("JOB_COMPLETION_INDEX", "1", "2/3"),
        ("SLURM_ARRAY_TASK_ID", "2", "3/3"),
    ] {
        let out = dry(var, value);
        check(&out);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("this shard {shard}: 2048")),
            "{var}={value}: {text}"
        );
    }
    // Out of range or not a number: bad input, before any socket opens.
    for bad in ["3", "-1", "x", ""] {
        let out = dry("JOB_COMPLETION_INDEX", bad);
        assert_eq!(out.status.code(), Some(2), "JOB_COMPLETION_INDEX={bad:?}");
    }

    // A real scan: --shard-from-env JOB_COMPLETION_INDEX/3 with index 1 in
    // one namespace probes exactly what --shard 2/3 probes in another.
    let by_env = dir.path().join("env.ndjson");
    let mut cmd = scan_args(&by_env);
    cmd.args(["--shard-from-env", "JOB_COMPLETION_INDEX/3"])
        .env("JOB_COMPLETION_INDEX", "1")
        .current_dir(dir.path());
    let out = lab.run_in_scanner_n(0, &mut cmd);
    check(&out);
    assert_eq!(probes_sent(&out.stderr), (2048, SPACE));
    let by_flag = dir.path().join("flag.ndjson");
    let mut cmd = scan_args(&by_flag);
    cmd.args(["--shard", "2/3"]).current_dir(dir.path());
    let out = lab.run_in_scanner_n(1, &mut cmd);
    check(&out);
    let (a, b) = (open_closed(&by_env), open_closed(&by_flag));
    assert_eq!(a, b);
    assert_eq!(a.0.len() + a.1.len(), 2048, "every probe answered");
    assert_eq!(lab.counters().syn_in, 2 * 2048);
}

#[test]
fn a_shard_without_a_seed_is_refused_before_anything_is_sent() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::builder().listen(&[80]).build();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.ndjson");
    let base = || {
        let mut c = synsweep();
        c.args(["scan", RANGE, "-p", "80", "--wait", "0", "-o"])
            .arg(&f)
            .current_dir(dir.path());
        c
    };
    let mut by_flag = base();
    by_flag.args(["--shard", "1/3"]);
    let mut by_env = base();
    by_env
        .args(["--shard-from-env", "JOB_COMPLETION_INDEX/3"])
        .env("JOB_COMPLETION_INDEX", "0");
    for mut cmd in [by_flag, by_env] {
        let out = lab.run_in_scanner(&mut cmd);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains("--seed"), "{err}");
    }
    // A missing variable is bad input too.
    let mut cmd = base();
    cmd.args(["--seed", "1", "--shard-from-env", "NO_SUCH_INDEX_VAR/3"])
        .env_remove("NO_SUCH_INDEX_VAR");
    let out = lab.run_in_scanner(&mut cmd);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NO_SUCH_INDEX_VAR"));

    assert_eq!(lab.counters().syn_in, 0, "nothing was sent");
    assert!(!f.exists(), "no findings file was created");
}
