//! The engine's guarantees with identification on (the default), in a lab
//! whose open ports hold identification as long as they can: they complete
//! the handshake and then never send anything (no banner, no reply, no FIN,
//! no RST: an nftables rule in the target namespace lets only SYN-ACKs out
//! of the listening ports). Every open port is then held by identification
//! for seconds, parked and retried, which is where findings used to be lost.
//!
//! - SIGKILL mid-scan, then `--resume` from the checkpoint: every open port
//!   is reported exactly once.
//! - SIGINT, then `--resume` from the paused state: the same.
//! - 5% of SYNs lost, `--retries 2`: at least 99.99% of open ports found.
//! - The status line counts an open port when its SYN-ACK validates, not
//!   when its identification ends.
//! - One budget on the wire: at a fixed `--rate`, probes and
//!   identification's packets together arrive at the rate asked for, and a
//!   policer of that rate in front of the targets drops nothing that
//!   matters; the summary says both figures.
//!
//! Lab: 198.19.0.0/18 x 22,80,443, ports 22 and 80 open on a quarter of the
//! hosts (8,192 open pairs), 443 closed on them, the rest silent.

mod common;

use common::Lab;
use common::run::{check, interrupt_after, synsweep};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One raw-packet scan at a time: the machine has two cores.
static SERIAL: Mutex<()> = Mutex::new(());

const RANGE: &str = "198.19.0.0/18";
const PORTS: [u16; 3] = [22, 80, 443];
const SPACE: u64 = 16384 * 3;

fn lab(loss: u8) -> Lab {
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .syn_loss_percent(loss)
        .build();
    nft(
        &lab,
        "table inet silent {\n  chain output {\n    type filter hook output priority -10; policy accept;\n    \
         tcp sport { 22, 80 } tcp flags & (syn | ack) != syn | ack counter drop\n  }\n}\n",
    );
    lab
}

/// Load `rules` into the lab's target namespace (they go away with it).
fn nft(lab: &Lab, rules: &str) {
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

/// The counters (packets) of the rules of table `inet NAME` in the target
/// namespace, in order.
fn nft_counters(lab: &Lab, name: &str) -> Vec<u64> {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            lab.target_ns(),
            "nft",
            "list",
            "table",
            "inet",
            name,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split("packets ")
        .skip(1)
        .filter_map(|t| t.split_whitespace().next()?.parse::<u64>().ok())
        .collect()
}

/// The open pairs of an NDJSON file; panics on a pair reported twice.
fn open_once(f: &Path) -> BTreeSet<(Ipv4Addr, u16)> {
    let text = std::fs::read_to_string(f).unwrap();
    let mut all = BTreeSet::new();
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert_eq!(v["state"], "open", "{line}");
        let p = (
            v["ip"].as_str().unwrap().parse().unwrap(),
            v["port"].as_u64().unwrap() as u16,
        );
        assert!(all.insert(p), "{p:?} reported twice");
    }
    all
}

fn scan_cmd(dir: &Path, rate: &str, extra: &[&str]) -> Command {
    let mut c = synsweep();
    c.current_dir(dir)
        .args([
            "scan",
            RANGE,
            "-p",
            "22,80,443",
            "--rate",
            rate,
            "--wait",
            "1",
        ])
        .args(extra)
        .args(["-o", "f.ndjson"]);
    c
}

fn resume(lab: &Lab, dir: &Path) -> String {
    let out =
        lab.run_in_scanner(
            synsweep()
                .current_dir(dir)
                .args(["scan", "--resume", "paused.json"]),
        );
    check(&out);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn sigkill_then_resume_reports_every_open_port_once() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab(0);
    let truth = lab.ground_truth_open(&PORTS, RANGE);
    assert_eq!(truth.len(), 8192);
    let dir = tempfile::tempdir().unwrap();
    let mut child = lab
        .wrap_in_scanner(&scan_cmd(dir.path(), "10000", &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    // Late enough that ports were written before the kill, and many are
    // still held by identification.
    while lab.counters().syn_in < SPACE * 4 / 5 {
        assert!(child.try_wait().unwrap().is_none(), "scan ended too soon");
        assert!(t0.elapsed() < Duration::from_secs(60), "scan too slow");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        dir.path().join("paused.json").is_file(),
        "no checkpoint left by the killed scan"
    );
    let before = open_once(&dir.path().join("f.ndjson")).len();
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("paused.json")).unwrap())
            .unwrap();
    let err = resume(&lab, dir.path());
    let all = open_once(&dir.path().join("f.ndjson"));
    let lost = truth.difference(&all).count();
    eprintln!(
        "SIGKILL at {} SYNs: {before} open ports on disk, checkpoint at round {} positions {}; \
         after the resume {} of {} ({lost} lost)\n{err}",
        SPACE * 4 / 5,
        state["round"],
        state["next"],
        all.len(),
        truth.len()
    );
    assert!(all.is_subset(&truth), "reported but not open");
    assert_eq!(lost, 0, "open ports lost across SIGKILL + resume");
    // The checkpoint did not wait for identification: the ports it held
    // are in the checkpoint (reported at once by the resume), and no more
    // than two seconds of probes are sent again.
    let held = state["held"].as_array().map_or(0, Vec::len);
    let again = lab.counters().syn_in.saturating_sub(SPACE);
    eprintln!("{held} ports held in the checkpoint; {again} probes sent again");
    assert!(held > 0, "no port held in the checkpoint: {state}");
    assert!(again <= 2 * 10_000, "{again} probes sent again");
}

#[test]
fn sigint_then_resume_reports_every_open_port_once() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab(0);
    let truth = lab.ground_truth_open(&PORTS, RANGE);
    let dir = tempfile::tempdir().unwrap();
    let out = interrupt_after(&lab, &scan_cmd(dir.path(), "10000", &[]), SPACE / 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "paused: {err}");
    assert!(dir.path().join("paused.json").is_file(), "no paused state");
    let before = open_once(&dir.path().join("f.ndjson")).len();
    resume(&lab, dir.path());
    let all = open_once(&dir.path().join("f.ndjson"));
    eprintln!(
        "SIGINT: {before} open ports before the resume, {} of {} after",
        all.len(),
        truth.len()
    );
    assert_eq!(all, truth, "open ports after SIGINT + resume");
}

#[test]
fn five_percent_syn_loss_with_two_retries_finds_every_open_port() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab(5);
    let truth = lab.ground_truth_open(&PORTS, RANGE);
    let dir = tempfile::tempdir().unwrap();
    let out = lab.run_in_scanner(&mut scan_cmd(dir.path(), "10000", &["--retries", "2"]));
    check(&out);
    let all = open_once(&dir.path().join("f.ndjson"));
    assert!(all.is_subset(&truth), "reported but not open");
    let share = all.len() as f64 / truth.len() as f64;
    eprintln!(
        "5% SYN loss, --retries 2: {:.3}% found ({} SYNs lost)",
        share * 100.0,
        lab.counters().syn_lost
    );
    assert!(share >= 0.9999, "found {:.3}%", share * 100.0);
}

/// `synsweep ARGS` in the scanner namespace under a pseudo-terminal (the
/// status line shows); everything it printed.
fn on_a_terminal(lab: &Lab, dir: &Path, args: &[&str]) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let cmd: Vec<String> = ["ip", "netns", "exec", lab.scanner_ns()]
        .into_iter()
        .chain(std::iter::once(env!("CARGO_BIN_EXE_synsweep")))
        .chain(args.iter().copied())
        .map(quote)
        .collect();
    let out = Command::new("script")
        .current_dir(dir)
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

#[test]
fn the_status_line_counts_an_open_port_at_its_syn_ack() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab(0);
    let truth = lab.ground_truth_open(&PORTS, RANGE);
    let dir = tempfile::tempdir().unwrap();
    let tty = on_a_terminal(
        &lab,
        dir.path(),
        &[
            "scan",
            RANGE,
            "-p",
            "22,80,443",
            "--rate",
            "20000",
            "--wait",
            "2",
            "-o",
            "f.ndjson",
        ],
    );
    // The status lines of the final wait: every probe sent 250 ms or more
    // before; the ports answered last are still being identified (silent,
    // they are held for seconds), yet all count as open.
    let open_in = |l: &str| -> Option<u64> {
        let i = l.find("| open ")?;
        l[i + 7..].split_whitespace().next()?.parse().ok()
    };
    let waiting: Vec<u64> = tty
        .split(['\r', '\n'])
        .filter(|l| l.contains("waiting"))
        .filter_map(open_in)
        .collect();
    assert!(!waiting.is_empty(), "no status line while waiting: {tty:?}");
    let shown = *waiting.last().unwrap();
    assert_eq!(
        shown,
        truth.len() as u64,
        "open on the status line at the end of the wait: {waiting:?}"
    );
    assert_eq!(open_once(&dir.path().join("f.ndjson")), truth);
}

/// Packets from the scanner arriving at the target while the senders run
/// (probes to port 443 still arrive: identification never connects there,
/// a closed port): (packets, seconds) of that stretch, the first half
/// second left out, and the scan's output.
fn wire_while_sending(lab: &Lab, cmd: &Command) -> (u64, f64, std::process::Output) {
    nft(
        lab,
        "table inet wire {\n  chain pre {\n    type filter hook prerouting priority -300; policy accept;\n    \
         ip saddr 198.18.0.1 counter\n    tcp dport 443 counter\n  }\n}\n",
    );
    let child = lab
        .wrap_in_scanner(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // (time, packets, probes to 443) every 100 ms until the scan exits.
    let mut seen: Vec<(Instant, u64, u64)> = Vec::new();
    let mut child = child;
    let stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
            .join("\n")
    });
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        let c = nft_counters(lab, "wire");
        seen.push((Instant::now(), c[0], c[1]));
        assert!(t0.elapsed() < Duration::from_secs(120), "scan too slow");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = child.wait().unwrap();
    let out = std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: err.join().unwrap().into_bytes(),
    };
    check(&out);
    let first = seen.iter().position(|s| s.2 > 0).expect("no SYN seen");
    let last_syns = seen.last().unwrap().2;
    let end = seen
        .iter()
        .position(|s| s.2 >= last_syns)
        .expect("the last sample");
    // Leave out the first half second (the first identification packets
    // come a moment after the first probes) and the last sample's stretch.
    let from = first + 5;
    assert!(end > from + 20, "sending too short to measure: {seen:?}");
    let (a, b) = (seen[from], seen[end - 1]);
    (b.1 - a.1, (b.0 - a.0).as_secs_f64(), out)
}

/// `K` of "+ K identification packets" in the summary line.
fn ident_packets(stderr: &str) -> u64 {
    let i = stderr
        .find(" identification packets")
        .unwrap_or_else(|| panic!("no identification packets in the summary: {stderr}"));
    stderr[..i].rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn probes_and_identification_share_the_rate() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab(0);
    let dir = tempfile::tempdir().unwrap();
    let rate = 4000.0;
    let (packets, secs, out) = wire_while_sending(&lab, &scan_cmd(dir.path(), "4000", &[]));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let measured = packets as f64 / secs;
    let probes = common::run::probes_in_summary(&err);
    let ident = ident_packets(&err);
    eprintln!(
        "--rate 4000: {measured:.0} packets/s on the wire over {secs:.1}s while sending; \
         {probes} probes + {ident} identification packets in all\n{err}"
    );
    // Identification did send, a good share of the budget...
    assert!(ident > probes / 4, "{ident} identification packets");
    // ...within the rate, and the rate is met (within a few %).
    assert!(
        measured <= rate * 1.05,
        "{measured:.0} packets/s at --rate {rate}"
    );
    assert!(
        measured >= rate * 0.9,
        "{measured:.0} packets/s at --rate {rate}"
    );
    // Every open port found all the same.
    let truth = lab.ground_truth_open(&PORTS, RANGE);
    assert_eq!(open_once(&dir.path().join("f.ndjson")), truth);
}

#[test]
fn a_policer_at_the_rate_in_front_of_the_targets_drops_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab(0);
    // Everything from the scanner is policed at the rate asked for, with a
    // small burst.
    nft(
        &lab,
        "table inet police {\n  chain pre {\n    type filter hook prerouting priority -200; policy accept;\n    \
         ip saddr 198.18.0.1 limit rate over 4000/second burst 200 packets counter drop\n  }\n}\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let out = lab.run_in_scanner(&mut scan_cmd(dir.path(), "4000", &[]));
    check(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    let dropped = nft_counters(&lab, "police")[0];
    let all = open_once(&dir.path().join("f.ndjson"));
    let truth = lab.ground_truth_open(&PORTS, RANGE);
    eprintln!(
        "policer at the rate: {dropped} dropped; {} of {} open ports\n{err}",
        all.len(),
        truth.len()
    );
    assert!(all.is_subset(&truth));
    assert!(
        all.len() as f64 >= truth.len() as f64 * 0.999,
        "found {} of {}",
        all.len(),
        truth.len()
    );
    let total = common::run::probes_in_summary(&err) + ident_packets(&err);
    assert!(
        dropped as f64 <= total as f64 * 0.001,
        "the policer dropped {dropped} of {total} packets"
    );
}
