//! Progress of `report`, `merge` and `diff`: a line on stderr once a second
//! when stderr is a terminal (a pseudo-terminal from util-linux's `script`
//! here), nothing when it is not or with `-q`. The input is a FIFO held
//! open for 1.6 s halfway through, so the command is still reading when
//! the first line is due, whatever the machine's speed.

mod common;

use common::run::synsweep;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};
use synsweep::finding::{Finding, PortState};

fn lines(n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let ip = std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(198, 19, 0, 0)) + i);
        let t = UNIX_EPOCH + Duration::from_millis(1_790_000_000_000 + i as u64);
        let f = Finding::tcp(ip.into(), 23, PortState::Open, 64, t);
        serde_json::to_writer(&mut out, &f).unwrap();
        out.push(b'\n');
    }
    out
}

/// Records written before the pause.
const FIRST: usize = 1_000;

/// A FIFO at `path` fed by a thread: [`FIRST`] records, a pause, the rest.
fn slow_input(path: &Path) -> std::thread::JoinHandle<()> {
    let st = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(st.success());
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let data = lines(2_000);
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let cut = data
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(FIRST - 1)
            .unwrap()
            .0
            + 1;
        f.write_all(&data[..cut]).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(1_600));
        f.write_all(&data[cut..]).unwrap();
    })
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `synsweep ARGS` under a pseudo-terminal; everything it printed.
fn on_a_terminal(args: &[&str]) -> String {
    let bin = env!("CARGO_BIN_EXE_synsweep");
    let cmd: Vec<String> = std::iter::once(bin)
        .chain(args.iter().copied())
        .map(shell_quote)
        .collect();
    let out = Command::new("script")
        .args(["-qefc", &cmd.join(" "), "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("util-linux script");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn paths(dir: &Path) -> (PathBuf, String) {
    (
        dir.join("in.ndjson"),
        dir.join("out.html").display().to_string(),
    )
}

#[test]
fn report_shows_progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = paths(dir.path());

    let feed = slow_input(&input);
    let tty = on_a_terminal(&["report", input.to_str().unwrap(), "-o", &out]);
    feed.join().unwrap();
    assert!(
        tty.contains(&format!("synsweep report: reading, {FIRST} records")),
        "no progress line on the terminal: {tty:?}"
    );
    assert!(tty.contains("\r\x1b[2K"), "the line is rewritten in place");
    std::fs::remove_file(&input).unwrap();

    let feed = slow_input(&input);
    let quiet = on_a_terminal(&["report", input.to_str().unwrap(), "-o", &out, "-q"]);
    feed.join().unwrap();
    assert!(!quiet.contains("synsweep report:"), "-q: {quiet:?}");
    std::fs::remove_file(&input).unwrap();

    let feed = slow_input(&input);
    let piped = synsweep()
        .args(["report", input.to_str().unwrap(), "-o", &out])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    feed.join().unwrap();
    assert!(piped.status.success());
    assert_eq!(
        String::from_utf8_lossy(&piped.stderr),
        "",
        "stderr not a terminal: nothing"
    );
    let html = std::fs::read_to_string(&out).unwrap();
    // Nothing named those ports: the name is the port's guess.
    assert!(html.contains("Close telnet? (23/tcp) on 2000 hosts"));
}

#[test]
fn merge_and_diff_take_q_and_show_progress_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (input, _) = paths(dir.path());
    let merged = dir.path().join("merged.ndjson");

    let feed = slow_input(&input);
    let tty = on_a_terminal(&[
        "merge",
        input.to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    feed.join().unwrap();
    assert!(tty.contains("synsweep merge: reading"), "{tty:?}");
    std::fs::remove_file(&input).unwrap();

    let feed = slow_input(&input);
    let tty = on_a_terminal(&[
        "diff",
        merged.to_str().unwrap(),
        input.to_str().unwrap(),
        "-q",
    ]);
    feed.join().unwrap();
    assert!(!tty.contains("synsweep diff: reading"), "-q: {tty:?}");
    assert!(tty.contains("no changes"), "{tty:?}");
    std::fs::remove_file(&input).unwrap();

    let feed = slow_input(&input);
    let tty = on_a_terminal(&["diff", merged.to_str().unwrap(), input.to_str().unwrap()]);
    feed.join().unwrap();
    assert!(tty.contains("synsweep diff: reading"), "{tty:?}");
}
