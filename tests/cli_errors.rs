//! Bad input ends with exit status 2 and one line naming what is wrong, never
//! a panic, and before any packet could leave (no lab needed: nothing is sent).

use std::process::Command;

fn synsweep(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_synsweep"))
        .args(args)
        .output()
        .unwrap()
}

fn assert_input_error(args: &[&str], mention: &str) {
    let out = synsweep(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: one line, got {err:?}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains(mention),
        "{args:?}: {err:?} should mention {mention:?}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn malformed_cidr() {
    assert_input_error(&["scan", "198.19.0.0/33", "-p", "80"], "198.19.0.0/33");
    assert_input_error(&["scan", "198.19.0/16", "-p", "80"], "198.19.0/16");
}

#[test]
fn port_out_of_range() {
    assert_input_error(&["scan", "198.19.0.1", "-p", "70000"], "70000");
}

#[test]
fn empty_ranges() {
    assert_input_error(
        &["scan", "198.19.0.9-198.19.0.1", "-p", "80"],
        "empty range",
    );
    assert_input_error(&["scan", "198.19.0.1", "-p", "90-80"], "empty range");
}

#[test]
fn unknown_interface() {
    assert_input_error(
        &["scan", "198.19.0.1", "-p", "80", "-i", "nosuchif0"],
        "nosuchif0",
    );
}

#[test]
fn missing_targets_file() {
    assert_input_error(
        &[
            "scan",
            "--targets-file",
            "/nonexistent/targets.txt",
            "-p",
            "80",
        ],
        "/nonexistent/targets.txt",
    );
}

#[test]
fn junk_in_targets_file_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.txt");
    std::fs::write(&f, "198.19.0.0/24\n# ok\nnot-an-address\n").unwrap();
    assert_input_error(
        &["scan", "--targets-file", f.to_str().unwrap(), "-p", "80"],
        ":3:",
    );
}

#[test]
fn unknown_option_and_missing_targets() {
    assert_input_error(&["scan", "198.19.0.1", "--frobnicate"], "--frobnicate");
    assert_input_error(&["scan", "-p", "80"], "no targets");
    assert_input_error(&["scan", "198.19.0.1", "--rate", "fast"], "fast");
    assert_input_error(&["scan", "198.19.0.1", "--shard", "2/3"], "--seed");
}

#[test]
fn help_answers_questions() {
    let out = synsweep(&["scan", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for want in [
        "Examples:",
        "--rate",
        "--retries",
        "--resume",
        "paused.json",
        "Exit status",
    ] {
        assert!(help.contains(want), "scan --help lacks {want}");
    }
    let man = synsweep(&["man"]);
    assert!(String::from_utf8_lossy(&man.stdout).contains(".TH synsweep"));
    let comp = synsweep(&["completions", "bash"]);
    assert!(String::from_utf8_lossy(&comp.stdout).contains("synsweep"));
}
