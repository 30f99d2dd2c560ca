//! `--rate max` and paced sending behind a bottleneck on the path,
//! checked against the lab's ground truth. The lab (tests/common) gets an
//! nftables policer of our own in its target namespace: SYNs policed on the
//! way in, or SYN-ACKs on the way back. Lab: 198.19.0.0/16 x 22,80,443,
//! ports 22 and 80 open on a quarter of the hosts (32768 open pairs).
//!
//! Only completeness and what the summary says are asserted here, never
//! timings: the wall-time ratio against a fixed rate is measured side by side
//! by `scripts/rate_paths.sh` (README, Performance).

mod common;

use common::Lab;
use common::findings::{pairs, records, score};
use common::run::{check, synsweep};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// One raw-packet scan at a time: the machine has two cores.
static SERIAL: Mutex<()> = Mutex::new(());

const PORTS: &str = "22,80,443";

fn lab() -> Lab {
    Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build()
}

/// Load `input` (rules on the target's input hook) and `output` (on its
/// output hook) into a table of our own in the lab's target namespace. It
/// goes away with the namespace.
fn police(lab: &Lab, input: &str, output: &str) {
    let rules = format!(
        "table inet ratepath {{\n  chain input {{\n    type filter hook input priority -10; policy accept;\n    {input}\n  }}\n  chain output {{\n    type filter hook output priority -10; policy accept;\n    {output}\n  }}\n}}\n"
    );
    let mut child = Command::new("ip")
        .args(["netns", "exec", lab.target_ns(), "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nft in the target namespace");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(rules.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft: {}\n{rules}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Packets the policer rules dropped (the sum of their counters).
fn policed(lab: &Lab) -> u64 {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            lab.target_ns(),
            "nft",
            "list",
            "table",
            "inet",
            "ratepath",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("packets ")
        .skip(1)
        .filter_map(|t| t.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Scan the lab with `args`; returns (share of open pairs found, stderr).
fn scan(lab: &Lab, args: &[&str]) -> (f64, String) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.ndjson");
    let out = lab.run_in_scanner(
        synsweep()
            .args(["scan", "198.19.0.0/16", "-p", PORTS, "--seed", "7"])
            .args(args)
            .arg("-o")
            .arg(&f),
    );
    check(&out);
    let truth = lab.ground_truth_open(&[22, 80, 443], "198.19.0.0/16");
    assert_eq!(truth.len(), 32768);
    let (found, false_open) = score(&pairs(&records(&f), "open"), &truth);
    assert!(false_open.is_empty(), "not open: {false_open:?}");
    (found, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `N` of "N rate cuts" in the summary line.
fn rate_cuts(stderr: &str) -> u64 {
    let i = stderr.find(" rate cuts").expect("summary line");
    stderr[..i]
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .expect("rate cuts")
}

#[test]
fn rate_max_behind_a_syn_policer_finds_every_open_port() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab();
    police(
        &lab,
        "tcp flags & (fin | syn | rst | ack) == syn limit rate over 50000/second burst 1000 packets counter drop",
        "",
    );
    let (found, err) = scan(&lab, &["--rate", "max", "--wait", "2"]);
    assert!(
        found >= 0.999,
        "found {:.3}% of open pairs\n{err}",
        found * 100.0
    );
    // It did meet the policer, and backed off; the summary says why.
    assert!(policed(&lab) > 0, "the policer never dropped: {err}");
    assert!(rate_cuts(&err) >= 1, "{err}");
    assert!(err.contains("reply ratio fell at"), "{err}");
}

#[test]
fn rate_max_behind_a_reply_policer_finds_every_open_port() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab();
    police(
        &lab,
        "",
        "tcp flags & (syn | ack) == syn | ack limit rate over 20000/second counter drop",
    );
    let (found, err) = scan(&lab, &["--rate", "max", "--wait", "2"]);
    eprintln!("reply policer: found {:.3}%", found * 100.0);
    assert!(
        found >= 0.999,
        "found {:.3}% of open pairs\n{err}",
        found * 100.0
    );
    assert!(policed(&lab) > 0, "the policer never dropped: {err}");
    // The retries of lost SYN-ACKs went under a cap of their own.
    assert!(err.contains("hosts that answered at"), "{err}");
}

#[test]
fn paced_probes_pass_a_policer_with_a_small_burst() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab();
    // 40 kpps average under a 50 kpps policer that tolerates bursts of 16
    // packets only: batches that leave back to back would be cut.
    police(
        &lab,
        "tcp flags & (fin | syn | rst | ack) == syn limit rate over 50000/second burst 16 packets counter drop",
        "",
    );
    let (found, err) = scan(&lab, &["--rate", "40000", "--wait", "2", "--retries", "0"]);
    assert!(
        found >= 0.999,
        "found {:.3}% of open pairs ({} policed)\n{err}",
        found * 100.0,
        policed(&lab)
    );
}
