//! Bad input everywhere: impossible option combinations and broken files are
//! refused with exit status 2 and one line naming what is wrong, before any
//! packet leaves. Every command runs in a lab scanner namespace, so even a
//! check that failed to refuse could only reach the lab; the lab's target
//! then proves nothing arrived.

mod common;

use common::Lab;
use std::path::Path;
use std::process::{Command, Output};
use synsweep::cli::ScanArgs;
use synsweep::resume::{PausedScan, VERSION};

fn run(lab: &Lab, cwd: &Path, args: &[&str]) -> Output {
    lab.run_in_scanner(
        Command::new(env!("CARGO_BIN_EXE_synsweep"))
            .current_dir(cwd)
            .args(args),
    )
}

fn assert_refused(out: &Output, mention: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(mention), "{err:?} should mention {mention:?}");
}

#[test]
fn impossible_combinations_and_broken_files_send_nothing() {
    let lab = Lab::builder().listen(&[22]).build();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let t = "198.19.0.0/24";
    std::fs::write(
        d.join("policy.toml"),
        "[ports.8443]\ncategory = \"nonsense\"\n",
    )
    .unwrap();
    std::fs::write(d.join("excl.txt"), "198.19.0.1\n\n# fine\n198.19.0.300\n").unwrap();
    std::fs::write(d.join("targets.txt"), "198.19.0.0/28\n198.19.0.1/40\n").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-o", "a.ndjson", "-o", "./a.ndjson"], "named twice"),
        (vec!["-o", "-", "-o", "-"], "named twice"),
        (vec!["-o", "no/such/dir/a.ndjson"], "does not exist"),
        (vec!["-o", "."], "is a directory"),
        (vec!["--policy", "policy.toml"], "policy.toml:"),
        (vec!["--exclude-file", "excl.txt"], "excl.txt:4:"),
        (vec!["--targets-file", "targets.txt"], "targets.txt:2:"),
        (vec!["--shard", "1/2"], "--seed"),
        (vec!["--shard", "2/3", "--shard-from-env", "X/3"], "--shard"),
        (vec!["--senders", "0"], "--senders"),
        (vec!["--retries", "1000"], "--retries"),
        (vec!["--wait", "nan"], "--wait"),
        (vec!["--rate", "0"], "rate"),
        (vec!["--exclude", "198.19.0.0/16"], "no targets left"),
    ];
    for (extra, mention) in cases {
        let mut args = vec!["scan", t, "-p", "22", "--wait", "0"];
        args.extend(&extra);
        let out = run(&lab, d, &args);
        assert_refused(&out, mention);
    }
    assert!(!d.join("a.ndjson").exists(), "an output was created");
    assert_eq!(lab.counters().syn_in, 0, "a refused command sent probes");
}

/// A paused.json as a scan of 198.19.0.0/24 port 22 with seed 7 and no
/// retries would leave it, stopped at position 100.
fn paused_file(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("f.ndjson");
    std::fs::write(&out, "").unwrap();
    let st = PausedScan {
        version: VERSION,
        args: ScanArgs {
            targets: vec!["198.19.0.0/24".into()],
            ports: Some("22".into()),
            output: vec![out.display().to_string()],
            exclude: vec!["198.19.0.9".into()],
            rate: Some("1000".into()),
            ..Default::default()
        },
        space: 255,
        seed: 7,
        shard: (0, 1),
        key: (1, 2),
        sport_base: 61000,
        round: 0,
        next: vec![100],
        sent: 100,
        answered: String::new(),
        outputs: vec![],
        found: 0,
        checkpoint: false,
        lossy: Vec::new(),
        held: Vec::new(),
    };
    let p = dir.join("paused.json");
    st.save(&p).unwrap();
    p
}

#[test]
fn resume_refuses_options_that_differ_from_the_paused_scan() {
    let lab = Lab::builder().listen(&[22]).build();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    paused_file(d);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["198.19.1.0/24"], "targets"),
        (vec!["-p", "80"], "ports"),
        (vec!["--seed", "8"], "seeds"),
        (vec!["--shard", "1/2"], "shards"),
        (vec!["--exclude", "198.19.0.10"], "excludes"),
        (vec!["--exclude-file", "paused.json"], "exclude files"),
        (vec!["--no-default-excludes"], "reserved-range"),
        (vec!["--retries", "2"], "retries"),
        (vec!["--senders", "2"], "sender counts"),
        (vec!["--show-closed"], "--show-closed"),
        (vec!["-o", "other.ndjson"], "outputs"),
        (vec!["--format", "csv"], "output formats"),
        (vec!["--source-ip", "198.18.0.1"], "source addresses"),
        (vec!["--router-mac", "02:00:00:00:00:01"], "router MACs"),
        (vec!["-i", "lo"], "interfaces"),
    ];
    for (extra, mention) in cases {
        let mut args = vec!["scan"];
        args.extend(&extra);
        args.extend(["--resume", "paused.json"]);
        let out = run(&lab, d, &args);
        assert_refused(&out, mention);
    }
    // Saying the same again, or changing only the pace, is fine.
    let out = run(
        &lab,
        d,
        &[
            "scan",
            "198.19.0.0/24",
            "-p",
            "22",
            "--seed",
            "7",
            "--exclude",
            "198.19.0.9",
            "-o",
            "f.ndjson",
            "--retries",
            "0",
            "--rate",
            "5000",
            "--wait",
            "0",
            "--resume",
            "paused.json",
            "--dry-run",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("100 of 255 positions done"), "{text}");
    assert!(text.contains("rate:      5000"), "{text}");
    assert_eq!(lab.counters().syn_in, 0, "a refused resume sent probes");
}
