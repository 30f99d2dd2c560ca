//! `--state-dir`: the Kubernetes Job's own container command line
//! (deploy/kubernetes/synsweep-job.yaml, with only its targets and rate
//! edited, `/results` pointing at a temporary directory) run as the pods of
//! one shard would be, in a lab:
//!
//! 1. the first pod is stopped with SIGTERM (eviction): exit 75, one line on
//!    stderr (the command has `--quiet`) saying where the paused state is;
//! 2. the retried pod runs the same command: it resumes and finishes (exit 0,
//!    done.json written);
//! 3. a further retry does nothing: exit 0, one line, no SYN sent;
//! 4. the same state directory with another seed is refused: exit 2, one
//!    line, no SYN sent.
//!
//! The target counts exactly the shard's share of the space in SYNs over all
//! runs (none twice) and the findings equal the lab's ground truth for the
//! shard's pairs.

mod common;

use common::Lab;
use common::findings::{pairs, records};
use common::run::synsweep;
use serde_yaml::Value;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

const RANGE: &str = "198.19.0.0/21";
const INDEX: u64 = 1;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The Job's container args, `$(JOB_COMPLETION_INDEX)` expanded as the
/// kubelet does, `/results` moved to `results`, targets and rate edited.
fn pod_args(results: &Path) -> (Vec<String>, u64) {
    let text = std::fs::read_to_string(repo("deploy/kubernetes/synsweep-job.yaml")).unwrap();
    let job = serde_yaml::Deserializer::from_str(&text)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap())
        .find(|d| d["kind"] == "Job")
        .expect("a Job");
    let shards = job["spec"]["completions"].as_u64().unwrap();
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    let mut args: Vec<String> = c["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| {
            a.as_str()
                .unwrap()
                .replace("$(JOB_COMPLETION_INDEX)", &INDEX.to_string())
                .replace("/results", &results.display().to_string())
        })
        .collect();
    assert_eq!(
        args[1], "198.51.100.0/24",
        "the manifest's placeholder target"
    );
    args[1] = RANGE.to_string();
    let rate = args.iter().position(|a| a == "--rate").unwrap();
    // About ten seconds for the shard: time to stop it midway.
    args[rate + 1] = "200".into();
    (args, shards)
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_retried_pod_resumes_its_shard_and_a_finished_shard_is_not_probed_again() {
    // Every host alive, 22 and 80 open, 443 and 3389 closed: every probe is
    // answered (no retry round sends anything).
    let lab = Lab::builder().listen(&[22, 80]).build();
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let (args, shards) = pod_args(&results);
    let state = results.join(format!("state/shard-{INDEX}"));
    let findings = results.join(format!("shard-{INDEX}.ndjson"));
    let pod = || {
        let mut c = synsweep();
        c.args(&args)
            .env("JOB_COMPLETION_INDEX", INDEX.to_string())
            // The image's working directory is /: nothing lands there.
            .current_dir(tmp.path());
        c
    };

    // 1. The first pod, evicted midway (SIGTERM).
    let child = lab
        .wrap_in_scanner(&pod())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::fs::read_to_string(&findings)
        .map(|t| t.lines().count())
        .unwrap_or(0)
        < 100
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no findings after 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) of our child (`ip netns exec` execs synsweep).
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(75), "{:?}", stderr_lines(&out));
    assert_eq!(
        stderr_lines(&out),
        [format!(
            "synsweep: paused, state saved in {}/paused.json (run the same command again to resume)",
            state.display()
        )]
    );
    assert!(state.join("paused.json").is_file());
    assert!(!tmp.path().join("paused.json").exists());
    let first = lab.counters().syn_in;

    // 2. The retried pod: the same command resumes and finishes.
    let out = lab.run_in_scanner(&mut pod());
    assert_eq!(out.status.code(), Some(0), "{:?}", stderr_lines(&out));
    assert!(stderr_lines(&out).is_empty(), "{:?}", stderr_lines(&out));
    assert!(!state.join("paused.json").exists());
    let done: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("done.json")).unwrap()).unwrap();
    let syn = lab.counters().syn_in;
    let space = 2048 * 4;
    assert_eq!(syn, space / shards, "one SYN per pair of the shard");
    assert!(
        first < syn,
        "the first pod stopped midway ({first} of {syn})"
    );
    assert_eq!(done["probes"].as_u64(), Some(syn));
    assert_eq!(done["shard"], serde_json::json!([INDEX, shards]));

    // The findings: the lab's truth for exactly this shard's pairs (every
    // pair answered, the closed ones are not reported: count the open).
    let recs = records(&findings);
    let open = pairs(&recs, "open");
    assert_eq!(recs.len(), open.len(), "a pair reported twice");
    assert_eq!(done["findings"].as_u64(), Some(open.len() as u64));
    let truth = lab.ground_truth_open(&[22, 80, 443, 3389], RANGE);
    assert!(open.is_subset(&truth));
    // Shard 2 of 4 holds a quarter of the positions; half its pairs are open.
    assert!(
        (900..1150).contains(&open.len()),
        "{} open pairs",
        open.len()
    );

    // 3. Another retry: nothing to do, said in one line, nothing sent.
    let before = std::fs::read(&findings).unwrap();
    let out = lab.run_in_scanner(&mut pod());
    assert_eq!(out.status.code(), Some(0));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "synsweep: already finished (shard {}/{shards}, {syn} probes, {} findings, at ",
            INDEX + 1,
            open.len()
        )),
        "{lines:?}"
    );
    assert_eq!(lab.counters().syn_in, syn);
    assert_eq!(std::fs::read(&findings).unwrap(), before);

    // 4. The same state directory for another scan: refused, one line.
    let seed = args.iter().position(|a| a == "--seed").unwrap();
    let mut changed = args.clone();
    changed[seed + 1] = "7".into();
    let mut other = synsweep();
    other
        .args(&changed)
        .env("JOB_COMPLETION_INDEX", INDEX.to_string())
        .current_dir(tmp.path());
    let out = lab.run_in_scanner(&mut other);
    assert_eq!(out.status.code(), Some(2));
    let lines = stderr_lines(&out);
    assert_eq!(
        lines,
        [format!(
            "synsweep: {}/done.json is for a different scan: seeds differ from the command line",
            state.display()
        )]
    );
    assert_eq!(lab.counters().syn_in, syn);
}
