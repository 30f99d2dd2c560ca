//! The AF_XDP sender and its fallback, in the lab: one AF_XDP socket per TX
//! queue of a 2-queue veth; AF_PACKET, said in one line, where AF_XDP cannot
//! bind (a locked-memory limit too small for the UMEM, as in a container
//! without CAP_IPC_LOCK; a tun link); `--tx-backend xdp` exits 1 there with
//! one line; a queue another scan holds is busy, one freed just now is
//! waited for. Every scan is checked against the lab's ground truth.

mod common;

use common::Lab;
use common::findings::{pairs, records, score};
use common::run::synsweep;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;

/// One raw-packet scan at a time: the machine has two cores.
static SERIAL: Mutex<()> = Mutex::new(());

const RANGE: &str = "198.19.0.0/20";
const PORTS: &[u16] = &[22, 80, 443];

/// The lab of these tests: a quarter of the hosts alive, 22 and 80 open.
fn lab() -> common::LabBuilder {
    Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
}

fn scan_cmd(file: &Path, extra: &[&str]) -> Command {
    let mut c = synsweep();
    c.args([
        "scan",
        RANGE,
        "-p",
        "22,80,443",
        "--wait",
        "1",
        "--retries",
        "1",
        "-o",
    ])
    .arg(file)
    .args(extra);
    c
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// stderr's lines about the way probes leave (AF_XDP, AF_PACKET).
fn backend_lines(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.contains("AF_XDP") || l.contains("AF_PACKET"))
        .map(str::to_string)
        .collect()
}

/// The scan exited 0 and found exactly the lab's open pairs.
fn assert_complete(lab: &Lab, out: &Output, file: &Path) {
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(out));
    let truth: BTreeSet<(Ipv4Addr, u16)> = lab.ground_truth_open(PORTS, RANGE);
    assert_eq!(truth.len(), 4096 / 4 * 2);
    let (found, false_open) = score(&pairs(&records(file), "open"), &truth);
    assert!(false_open.is_empty(), "false open: {false_open:?}");
    assert_eq!(
        found,
        1.0,
        "found {found} of the open pairs: {}",
        stderr(out)
    );
}

/// Exit 1 with one line on stderr that contains every one of `words`.
fn assert_refused(out: &Output, words: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for w in words {
        assert!(err.contains(w), "{w:?} not in {err:?}");
    }
}

#[test]
fn a_two_queue_veth_takes_one_af_xdp_sender_per_queue() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab().queues(2).build();
    let dir = tempfile::tempdir().unwrap();
    // Two senders, each bound to its own queue: no fallback, every open
    // port found, every probe arrived.
    let file = dir.path().join("two.ndjson");
    let out = lab.run_in_scanner(&mut scan_cmd(
        &file,
        &["--rate", "100000", "--senders", "2", "--tx-backend", "xdp"],
    ));
    assert_complete(&lab, &out, &file);
    assert!(backend_lines(&out).is_empty(), "{}", stderr(&out));
    assert!(lab.counters().syn_in >= 4096 * 3);
    // A third sender has no queue of its own: refused when AF_XDP is
    // forced, on AF_PACKET (said once) when the backend is automatic.
    let file = dir.path().join("three.ndjson");
    let out = lab.run_in_scanner(&mut scan_cmd(
        &file,
        &["--rate", "100000", "--senders", "3", "--tx-backend", "xdp"],
    ));
    assert_refused(&out, &["--tx-backend xdp", "2 TX queues for 3 senders"]);
    let out = lab.run_in_scanner(&mut scan_cmd(
        &file,
        &["--rate", "100000", "--senders", "3", "--tx-backend", "auto"],
    ));
    assert_complete(&lab, &out, &file);
    assert_eq!(
        backend_lines(&out),
        [format!(
            "synsweep: {} has 2 TX queues for 3 senders (one AF_XDP socket per queue); senders past 2 send through AF_PACKET",
            lab.scanner_iface()
        )]
    );
}

/// Without CAP_IPC_LOCK (dropped from the bounding set, as in a container)
/// the 2 MiB UMEM counts against RLIMIT_MEMLOCK; at 64 KiB (a container's
/// default) AF_XDP cannot bind: the scan says so in one line and completes
/// through AF_PACKET; forced AF_XDP exits 1 with one line.
#[test]
fn too_little_locked_memory_falls_back_to_af_packet() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab().build();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.ndjson");
    let limited = |backend: &str| {
        let inner = scan_cmd(&file, &["--rate", "50000", "--tx-backend", backend]);
        let mut c = Command::new("setpriv");
        c.args([
            "--bounding-set",
            "-ipc_lock",
            "--",
            "prlimit",
            "--memlock=65536:65536",
            "--",
        ])
        .arg(inner.get_program())
        .args(inner.get_args());
        lab.run_in_scanner(&mut c)
    };
    let out = limited("auto");
    assert_complete(&lab, &out, &file);
    assert!(lab.counters().syn_in >= 4096 * 3);
    let lines = backend_lines(&out);
    assert_eq!(lines.len(), 1, "{}", stderr(&out));
    for w in [
        "AF_XDP cannot bind on",
        "not enough locked memory",
        "sending through AF_PACKET",
    ] {
        assert!(lines[0].contains(w), "{w:?} not in {lines:?}");
    }
    let out = limited("xdp");
    assert_refused(&out, &["--tx-backend xdp", "not enough locked memory"]);
    // With AF_XDP forced, `--rate max` takes as many senders as the veth
    // has queues (one), where AF_PACKET would take two.
    for (backend, senders) in [("xdp", "senders 1"), ("auto", "senders 2")] {
        let out = lab.run_in_scanner(&mut scan_cmd(
            &file,
            &["--rate", "max", "--tx-backend", backend, "--dry-run"],
        ));
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out);
        assert!(out.status.success() && text.contains(senders), "{text}");
    }
}

/// A tun carries IP packets, no Ethernet frames: AF_XDP cannot send there.
#[test]
fn a_tun_link_sends_through_af_packet_and_says_so() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab().build_vpn();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.ndjson");
    let out = lab.run_in_scanner(&mut scan_cmd(
        &file,
        &["--rate", "5000", "--tx-backend", "auto"],
    ));
    assert_complete(&lab, &out, &file);
    assert_eq!(
        backend_lines(&out),
        [format!(
            "synsweep: {} is a layer-3 link (no Ethernet frames), where AF_XDP cannot send; sending through AF_PACKET",
            lab.scanner_iface()
        )]
    );
    let out = lab.run_in_scanner(&mut scan_cmd(&file, &["--tx-backend", "xdp"]));
    assert_refused(&out, &["--tx-backend xdp", "is a layer-3 link"]);
}

/// A queue held by another scan's AF_XDP socket is busy: a second scan on
/// the same link says so in one line and completes through AF_PACKET, and
/// with AF_XDP forced exits 1 with one line. Once the first scan is gone,
/// the next one binds the queue again, even right after (the kernel frees a
/// closed socket's queue a moment after the close; the scan waits for it).
#[test]
fn a_queue_held_by_another_scan_is_busy_and_the_scan_falls_back() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab().build();
    let dir = tempfile::tempdir().unwrap();
    let slow = dir.path().join("slow.ndjson");
    let state = dir.path().join("state");
    // 12,288 probes at 300 per second: it holds the queue for 40 s (its
    // state in the temporary directory, should it be stopped by a signal).
    let mut holder = Holder(
        lab.wrap_in_scanner(&scan_cmd(
            &slow,
            &["--rate", "300", "--senders", "1", "--tx-backend", "xdp"],
        ))
        .arg("--state-dir")
        .arg(&state)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap(),
    );
    // It holds the queue once its probes arrive.
    let t0 = std::time::Instant::now();
    while lab.counters().syn_in == 0 {
        assert!(
            t0.elapsed().as_secs() < 20 && holder.0.try_wait().unwrap().is_none(),
            "the first scan sent nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let file = dir.path().join("f.ndjson");
    let scan = |backend: &str| {
        lab.run_in_scanner(&mut scan_cmd(
            &file,
            &["--rate", "50000", "--senders", "1", "--tx-backend", backend],
        ))
    };
    let out = scan("auto");
    assert_complete(&lab, &out, &file);
    assert_eq!(
        backend_lines(&out),
        [format!(
            "synsweep: AF_XDP cannot bind on {}: the queue is busy (another AF_XDP socket holds it); sending through AF_PACKET",
            lab.scanner_iface()
        )]
    );
    let out = scan("xdp");
    assert_refused(&out, &["--tx-backend xdp", "the queue is busy"]);
    drop(holder);
    // Right after: AF_XDP again, nothing said.
    let out = scan("xdp");
    assert_complete(&lab, &out, &file);
    assert!(backend_lines(&out).is_empty(), "{}", stderr(&out));
}

/// A child process killed (SIGKILL) and reaped when dropped, also when the
/// test panics.
struct Holder(std::process::Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
