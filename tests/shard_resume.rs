//! One shard of a sharded scan, paused with SIGINT and resumed alone from its
//! own working directory, reports what an uninterrupted run of that shard
//! reports, and probes each of its pairs exactly once over both runs. Every
//! scan runs inside the lab's scanner namespace.

mod common;

use common::run::{check, synsweep};

use common::Lab;
use common::findings::{pairs, records};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use synsweep::engine::permutation::Slice;

const RANGE: &str = "198.19.0.0/18";
const PORTS: [u16; 3] = [22, 80, 443];
/// 16384 addresses x 3 ports.
const SPACE: u64 = 16384 * 3;
const SEED: &str = "777";
const SHARD: &str = "2/3";

/// The shard's scan, findings to a relative path in the working directory
/// `cwd` (paused.json goes there too). 16384 probes at 5000 pps: over 3 s.
fn shard_scan(cwd: &Path) -> Command {
    let mut c = synsweep();
    c.args([
        "scan",
        RANGE,
        "-p",
        "22,80,443",
        "--seed",
        SEED,
        "--shard",
        SHARD,
        "--rate",
        "5000",
        "--wait",
        "1",
        "--show-closed",
        "-o",
        "shard.ndjson",
    ])
    .current_dir(cwd);
    c
}

type Pairs = BTreeSet<(Ipv4Addr, u16)>;

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
fn a_paused_shard_resumes_alone_and_finds_what_an_uninterrupted_run_finds() {
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build();
    let mine = Slice::shard(1, 3).len(SPACE);
    assert_eq!(mine, 16384);

    // Uninterrupted run of shard 2/3.
    let whole_dir = tempfile::tempdir().unwrap();
    check(&lab.run_in_scanner(&mut shard_scan(whole_dir.path())));
    let whole = open_closed(&whole_dir.path().join("shard.ndjson"));
    let c = lab.counters();
    assert_eq!(c.syn_in, mine, "{c:?}");
    // A quarter of the hosts alive: about a quarter of the shard answers,
    // and all of it is true.
    let truth_open = lab.ground_truth_open(&PORTS, RANGE);
    let truth_closed = lab.ground_truth_closed(&PORTS, RANGE);
    assert!(whole.0.is_subset(&truth_open) && whole.1.is_subset(&truth_closed));
    let n = (whole.0.len() + whole.1.len()) as u64;
    assert!(
        (mine / 4 - 300..=mine / 4 + 300).contains(&n),
        "{n} answers"
    );

    // The same shard, interrupted after about a third and resumed alone.
    lab.reset_counters();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let child = lab
        .wrap_in_scanner(&shard_scan(dir.path()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    // `ip netns exec` execs synsweep: the child's pid is synsweep's.
    // SAFETY: kill(2) on the pid of our own child, which has not been reaped.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(75),
        "paused scan: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let paused_file = dir.path().join("paused.json");
    let paused: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&paused_file).unwrap()).unwrap();
    assert_eq!(paused["shard"], serde_json::json!([1, 3]), "{paused}");
    assert_eq!(paused["seed"], 777);
    let done: u64 = paused["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(
        done > 0 && done < mine,
        "paused after {done} of {mine} positions"
    );
    let sent_before = lab.counters().syn_in;
    assert_eq!(sent_before, done, "every position before `next` was sent");

    // Resume: only the file, from the shard's own working directory (no
    // --shard or --seed on the command line).
    let out = lab.run_in_scanner(
        synsweep()
            .args(["scan", "--resume", "paused.json"])
            .current_dir(dir.path()),
    );
    check(&out);
    assert!(
        !paused_file.exists(),
        "a finished resume removes paused.json"
    );
    // Every pair of the shard probed once over both runs, none twice.
    assert_eq!(lab.counters().syn_in, mine);
    let resumed = open_closed(&dir.path().join("shard.ndjson"));
    assert_eq!(resumed, whole);
}
