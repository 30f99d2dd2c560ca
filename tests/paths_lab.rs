//! Scans over every kind of path a user meets, each checked against
//! its lab's ground truth: a LAN (on-link hosts, each at its own MAC, found by
//! an ARP sweep), a VPN (a layer-3 tun, no Ethernet header) and two routes
//! through two interfaces and gateways in one scan, plus targets with no
//! route, which are named, never dropped silently.

mod common;

use common::Lab;
use common::findings::{pairs, records, score};
use common::run::synsweep;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Output;
use std::sync::Mutex;

/// One raw-packet scan at a time: the machine has two cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run `synsweep scan ARGS -o FILE` in the lab's scanner namespace.
fn scan(lab: &Lab, file: &Path, args: &[&str]) -> Output {
    lab.run_in_scanner(synsweep().arg("scan").args(args).arg("-o").arg(file))
}

fn assert_exit(out: &Output, code: i32) {
    let (stdout, stderr) = text(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "want exit {code}\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// stderr names 198.18.200.0/24 (as a block or a range) and says "no route".
fn names_unroutable(stderr: &str) -> bool {
    (stderr.contains("198.18.200.0/24") || stderr.contains("198.18.200.0-198.18.200.255"))
        && stderr.to_lowercase().contains("no route")
}

fn open_pairs(file: &Path) -> BTreeSet<(Ipv4Addr, u16)> {
    pairs(&records(file), "open")
}

/// Whole /24 of a LAN: every open (host, port) and nothing else, exit 0; the
/// addresses that never answered ARP are reported down and never probed (the
/// switch counts SYNs to an address no host has, and SYNs to a host's address
/// at another host's MAC: both stay 0).
#[test]
fn lan_scan_of_the_whole_slash_24_finds_every_open_port_at_each_hosts_mac() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ports = [22, 80, 443];
    let lab = Lab::builder().listen(&ports).build_lan();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lan.ndjson");
    let out = scan(
        &lab,
        &file,
        &["198.18.1.0/24", "-p", "22,80,443", "--wait", "1"],
    );
    assert_exit(&out, 0);
    let (_, stderr) = text(&out);
    let truth = lab.ground_truth_open(&ports, common::LAN_NET);
    assert_eq!(truth.len(), 24, "the lab's truth: 12 hosts x 2 ports each");
    assert_eq!(open_pairs(&file), truth, "stderr: {stderr}");
    let lower = stderr.to_lowercase();
    assert!(
        lower.contains("down") || lower.contains("arp"),
        "no word of the hosts that did not answer ARP: {stderr}"
    );
    let c = lab.counters();
    assert_eq!(c.syn_blind, 0, "SYNs to addresses no host has: {c:?}");
    assert_eq!(c.syn_wrong_mac, 0, "SYNs to a host at another's MAC: {c:?}");
    assert!(
        c.syn_in >= (lab.lan_hosts().len() * ports.len()) as u64,
        "{c:?}"
    );
    assert!(c.arp_requests >= 253, "no ARP sweep of the /24: {c:?}");
}

/// Only the range of live hosts, a /24 with holes: an earlier bug sent
/// every probe to the first host's MAC and found 2 of 24 open ports.
#[test]
fn lan_scan_of_a_range_probes_each_host_at_its_own_mac() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ports = [22, 80, 443];
    let lab = Lab::builder().listen(&ports).build_lan();
    let addrs: Vec<Ipv4Addr> = lab.lan_hosts().iter().map(|h| h.addr).collect();
    let (lo, hi) = (addrs.iter().min().unwrap(), addrs.iter().max().unwrap());
    let range = format!("{lo}-{hi}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("range.ndjson");
    let out = scan(&lab, &file, &[&range, "-p", "22,80,443", "--wait", "1"]);
    assert_exit(&out, 0);
    assert_eq!(open_pairs(&file), lab.ground_truth_open(&ports, &range));
    let c = lab.counters();
    assert_eq!((c.syn_blind, c.syn_wrong_mac), (0, 0), "{c:?}");
}

/// The scanner's only way out is a tun interface (no Ethernet header): a scan
/// of 512 addresses finds every open port and nothing else.
#[test]
fn vpn_scan_over_a_tun_finds_every_open_port() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build_vpn();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vpn.ndjson");
    let range = "198.19.4.0/23";
    let out = scan(
        &lab,
        &file,
        &[
            range,
            "-p",
            "22,80,443",
            "--rate",
            "5000",
            "--retries",
            "1",
            "--wait",
            "1",
        ],
    );
    assert_exit(&out, 0);
    let truth = lab.ground_truth_open(&[22, 80, 443], range);
    assert_eq!(truth.len(), 256);
    assert_eq!(open_pairs(&file), truth, "stderr: {}", text(&out).1);
    let c = lab.counters();
    assert!(c.syn_in >= 512 * 3, "{c:?}");
}

/// Half of the /16 behind one interface and gateway, half behind another:
/// one scan finds at least 99.9% of each half, with no false positive, and
/// each target saw the probes of its own half.
#[test]
fn two_path_scan_finds_both_halves() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build_two_path();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two.ndjson");
    let out = scan(
        &lab,
        &file,
        &[
            "198.19.0.0/16",
            "-p",
            "22,80,443",
            "--rate",
            "50000",
            "--retries",
            "1",
            "--wait",
            "2",
        ],
    );
    assert_exit(&out, 0);
    let found = open_pairs(&file);
    for (k, path) in lab.paths().iter().enumerate() {
        let truth = lab.ground_truth_open(&[22, 80, 443], &path.range);
        assert_eq!(truth.len(), 16384);
        let (lo, hi) = common::parse_range(&path.range);
        let half: BTreeSet<_> = found
            .iter()
            .filter(|(a, _)| (lo..=hi).contains(&u32::from(*a)))
            .cloned()
            .collect();
        let (share, false_pos) = score(&half, &truth);
        assert!(false_pos.is_empty(), "path {k}: not open: {false_pos:?}");
        assert!(
            share >= 0.999,
            "path {k} ({}): found {:.2}% of {} open pairs; stderr: {}",
            path.range,
            share * 100.0,
            truth.len(),
            text(&out).1
        );
        let c = lab.path_counters(k);
        assert!(c.syn_in >= 32768 * 3 * 99 / 100, "path {k}: {c:?}");
    }
}

/// A target with no route next to one with a route: the scan runs, exit 0,
/// and a warning names the unroutable range and says "no route".
#[test]
fn a_target_with_no_route_is_named_and_the_rest_is_scanned() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::builder()
        .listen(&[80])
        .alive_mask("0.0.0.1", "0.0.0.0")
        .build_two_path();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("noroute.ndjson");
    let out = scan(
        &lab,
        &file,
        &[
            "198.19.0.0/24",
            "198.18.200.0/24",
            "-p",
            "80,81",
            "--wait",
            "1",
        ],
    );
    assert_exit(&out, 0);
    let (_, stderr) = text(&out);
    assert!(
        names_unroutable(&stderr),
        "no warning naming 198.18.200.0/24 and 'no route': {stderr}"
    );
    assert_eq!(
        open_pairs(&file),
        lab.ground_truth_open(&[80, 81], "198.19.0.0/24")
    );
}

/// Every target without a route: the scan cannot run, exit 1, naming it.
#[test]
fn only_targets_with_no_route_exit_1() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::builder().listen(&[80]).build_two_path();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("none.ndjson");
    let out = scan(&lab, &file, &["198.18.200.0/24", "-p", "80", "--wait", "1"]);
    assert_exit(&out, 1);
    let (_, stderr) = text(&out);
    assert!(names_unroutable(&stderr), "{stderr}");
    assert_eq!(lab.counters().syn_in, 0);
}

/// `--source-ip` with a range and with a list: probes spread across every
/// source address (the target counts the SYNs from each), and every open
/// port is found, whichever source it was probed from.
#[test]
fn several_source_addresses_share_the_probes() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .sources(4)
        .build();
    let range = "198.19.0.0/20";
    let truth = lab.ground_truth_open(&[22, 80, 443], range);
    for (i, sources) in [
        "198.18.2.1-198.18.2.4",
        "198.18.2.1,198.18.2.2,198.18.2.3,198.18.2.4",
    ]
    .into_iter()
    .enumerate()
    {
        lab.reset_counters();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("src{i}.ndjson"));
        let out = scan(
            &lab,
            &file,
            &[
                range,
                "-p",
                "22,80,443",
                "--source-ip",
                sources,
                "--rate",
                "50000",
                "--retries",
                "1",
                "--wait",
                "1",
            ],
        );
        assert_exit(&out, 0);
        assert_eq!(open_pairs(&file), truth, "--source-ip {sources}");
        let probes = 4096 * 3;
        for k in 1..=4 {
            let n = lab.counter(&format!("syn_src_{k}"));
            // An even share is probes / 4; allow a wide margin.
            assert!(
                n >= probes / 8,
                "--source-ip {sources}: only {n} of {probes} SYNs from 198.18.2.{k}"
            );
        }
        let c = lab.counters();
        let from_sources: u64 = (1..=4).map(|k| lab.counter(&format!("syn_src_{k}"))).sum();
        assert_eq!(from_sources, c.syn_in, "SYNs from elsewhere: {c:?}");
    }
}
