//! Running the synsweep binary from tests and reading what it printed.

use std::process::{Command, Output};

/// A `Command` for the synsweep binary under test.
pub fn synsweep() -> Command {
    Command::new(env!("CARGO_BIN_EXE_synsweep"))
}

/// Panic with everything synsweep printed unless it exited 0.
pub fn check(out: &Output) {
    assert!(
        out.status.success(),
        "synsweep failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `N` of "synsweep: N probes for M pairs ..." in the summary line.
pub fn probes_in_summary(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("synsweep: ") && l.contains(" probes for "))
        .unwrap_or_else(|| panic!("no summary line in {stderr:?}"));
    line["synsweep: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}
