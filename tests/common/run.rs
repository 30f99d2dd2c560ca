//! Running the synsweep binary from tests and reading what it printed.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A `Command` for the synsweep binary under test. With
/// `SYNSWEEP_TEST_TX_BACKEND` set (auto, xdp or packet), its scans use that
/// `--tx-backend` unless they name one themselves (through
/// `SYNSWEEP_TX_BACKEND`, which the option falls back to).
pub fn synsweep() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_synsweep"));
    match std::env::var("SYNSWEEP_TEST_TX_BACKEND") {
        Ok(b) if !b.is_empty() => c.env("SYNSWEEP_TX_BACKEND", b),
        _ => c.env_remove("SYNSWEEP_TX_BACKEND"),
    };
    c
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

/// Run `cmd` in the scanner namespace; send SIGINT once the target has seen
/// `after` SYNs; return its output.
pub fn interrupt_after(lab: &super::Lab, cmd: &Command, after: u64) -> Output {
    let mut child = lab
        .wrap_in_scanner(cmd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("scan ended ({st}) before it could be interrupted");
        }
        if lab.counters().syn_in >= after {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "scan too slow");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill on the pid of our own child (`ip netns exec` execs synsweep).
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    child.wait_with_output().unwrap()
}
