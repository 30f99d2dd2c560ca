//! Crash safety: a lab scan killed with SIGKILL midway leaves an NDJSON
//! findings file whose complete lines all parse, each a true open pair, none
//! twice; `synsweep report` reads it, and skips a cut-short last line (as a
//! crash in the middle of a write would leave) with one warning. The
//! checkpoint it left (paused.json, saved every second) resumes the scan:
//! every open port found, no line twice, and no more probes sent again than
//! two seconds of the rate.

mod common;

use common::Lab;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RANGE: &str = "198.19.0.0/16";
const PORTS: [u16; 3] = [22, 80, 443];
const SPACE: u64 = 65536 * 3;

fn pair(v: &serde_json::Value) -> (Ipv4Addr, u16) {
    (
        v["ip"].as_str().unwrap().parse().unwrap(),
        v["port"].as_u64().unwrap() as u16,
    )
}

#[test]
fn sigkill_midway_leaves_complete_parseable_lines() {
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.ndjson");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_synsweep"));
    cmd.current_dir(dir.path())
        .args([
            "scan",
            RANGE,
            "-p",
            "22,80,443",
            "--rate",
            "20000",
            "--wait",
            "1",
            "-o",
        ])
        .arg(&f)
        .args(["-o", "f.json", "-o", "-"]);
    let mut child = lab
        .wrap_in_scanner(&cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The same findings go to stdout: read them as they come.
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let t0 = Instant::now();
    while lab.counters().syn_in < SPACE / 2 {
        assert!(child.try_wait().unwrap().is_none(), "scan ended too soon");
        assert!(t0.elapsed() < Duration::from_secs(60), "scan too slow");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let streamed = reader.join().unwrap();
    let killed_at = lab.counters().syn_in;
    assert!(
        dir.path().join("paused.json").is_file(),
        "no checkpoint left by the killed scan"
    );

    let text = std::fs::read_to_string(&f).unwrap();
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    let truth = lab.ground_truth_open(&PORTS, RANGE);
    let mut seen = BTreeSet::new();
    for (n, line) in complete.lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}: {line:?}", n + 1));
        assert_eq!(v["state"], "open");
        let p = pair(&v);
        assert!(truth.contains(&p), "{p:?} is not open");
        assert!(seen.insert(p), "{p:?} twice");
    }
    eprintln!(
        "crash test: killed after {} SYNs; {} complete lines on disk, {} streamed to stdout, \
         {} bytes after the last newline",
        lab.counters().syn_in,
        seen.len(),
        streamed.len(),
        text.len() - complete.len()
    );
    assert!(
        seen.len() > 1000,
        "only {} findings before the kill",
        seen.len()
    );
    // Every finding that was reported (the stdout copy is written after the
    // file's) is in the file.
    for l in &streamed {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(seen.contains(&pair(&v)), "reported but not on disk: {l}");
    }

    // `report` reads what the crash left, with a cut-short last line as a
    // kill in the middle of a write would leave it.
    let first = complete.lines().next().unwrap();
    let mut cut = complete.to_string();
    cut.push_str(&first[..first.len() / 2]);
    let g = dir.path().join("cut.ndjson");
    std::fs::write(&g, &cut).unwrap();
    for input in [&f, &g] {
        let out_json = dir.path().join("r.json");
        let out = Command::new(env!("CARGO_BIN_EXE_synsweep"))
            .arg("report")
            .arg(input)
            .arg("-o")
            .arg(&out_json)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "report failed: {err}");
        let warnings = err.lines().filter(|l| l.contains("warning")).count();
        if input == &g {
            assert_eq!(warnings, 1, "{err}");
            let last_line = cut.lines().count();
            assert!(err.contains(&format!(":{last_line}:")), "{err}");
        } else {
            assert!(warnings <= 1, "{err}");
        }
        let doc: serde_json::Value = common::schema::read_document(&out_json);
        assert_eq!(doc["findings"].as_array().unwrap().len(), seen.len());
    }

    // Resume from the checkpoint: the scan completes, every open pair is in
    // the file once, and the probes sent twice are at most two seconds' worth.
    let out = lab.run_in_scanner(
        Command::new(env!("CARGO_BIN_EXE_synsweep"))
            .current_dir(dir.path())
            .args(["scan", "--resume", "paused.json", "-q"]),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "resume after SIGKILL: {err}");
    let text = std::fs::read_to_string(&f).unwrap();
    let mut all = BTreeSet::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            all.insert(pair(&v)),
            "{:?} twice after the resume",
            pair(&v)
        );
    }
    assert_eq!(all, truth, "findings after the resume vs ground truth");
    let total = lab.counters().syn_in;
    let again = total.saturating_sub(SPACE);
    eprintln!(
        "crash test: killed at {killed_at} SYNs, {total} SYNs in all for {SPACE} pairs: {again} sent again"
    );
    assert!(
        total >= SPACE,
        "pairs never probed: {total} SYNs for {SPACE}"
    );
    assert!(
        again <= 2 * 20_000,
        "{again} probes sent again, more than two seconds at 20000 pps"
    );
    assert!(
        !dir.path().join("paused.json").exists(),
        "spent checkpoint left behind"
    );
}
