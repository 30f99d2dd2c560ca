//! Real scans in the lab (tests/common), checked against its ground truth.
//! Every scan runs inside the lab's scanner namespace, whose only link leads
//! to the lab's target namespace.

mod common;

use common::run::{check, synsweep};

use common::Lab;
use common::findings::{pairs, records, score};
use std::process::Command;
use std::sync::Mutex;

/// One raw-packet scan at a time: the machine has two cores.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn lab_scan_at_100kpps_finds_every_open_port_and_nothing_else() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build();
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("f.ndjson");
    let out = lab.run_in_scanner(
        synsweep()
            .args([
                "scan",
                "198.19.0.0/16",
                "-p",
                "22,80,443",
                "--rate",
                "100000",
                "--wait",
                "2",
                "--show-closed",
                "-o",
            ])
            .arg(&out_file),
    );
    check(&out);
    let recs = records(&out_file);
    let truth_open = lab.ground_truth_open(&[22, 80, 443], "198.19.0.0/16");
    let truth_closed = lab.ground_truth_closed(&[22, 80, 443], "198.19.0.0/16");
    let (found, false_open) = score(&pairs(&recs, "open"), &truth_open);
    assert!(
        false_open.is_empty(),
        "reported open but not open: {false_open:?}"
    );
    assert!(
        found >= 0.999,
        "found {:.4}% of {} open pairs",
        found * 100.0,
        truth_open.len()
    );
    let (found_closed, false_closed) = score(&pairs(&recs, "closed"), &truth_closed);
    assert!(
        false_closed.is_empty(),
        "reported closed but not closed: {false_closed:?}"
    );
    assert!(
        found_closed >= 0.999,
        "found {:.4}% of closed pairs",
        found_closed * 100.0
    );
    // No pair twice.
    assert_eq!(
        recs.len(),
        pairs(&recs, "open").len() + pairs(&recs, "closed").len()
    );
    // The summary line tells what happened.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("196608 probes"), "{err}");
}

#[test]
fn without_show_closed_only_open_ports_are_reported() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::builder()
        .listen(&[443])
        .alive_mask("0.0.0.1", "0.0.0.1")
        .build();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.ndjson");
    check(
        &lab.run_in_scanner(
            synsweep()
                .args([
                    "scan",
                    "198.19.7.0/24",
                    "-p",
                    "22,443",
                    "--rate",
                    "5000",
                    "--wait",
                    "1",
                    "-q",
                    "-o",
                ])
                .arg(&f),
        ),
    );
    let recs = records(&f);
    assert!(recs.iter().all(|r| r["state"] == "open"));
    assert_eq!(
        pairs(&recs, "open"),
        lab.ground_truth_open(&[22, 443], "198.19.7.0/24")
    );
}

#[test]
fn loopback_scan_of_all_ports_reports_exactly_the_listeners() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let listening = [22u16, 443, 8080, 31337, 65535];
    let lab = Lab::loopback_only(&listening);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("lo.ndjson");
    check(
        &lab.run_in_scanner(
            synsweep()
                .args([
                    "scan",
                    "127.0.0.1",
                    "-p",
                    "1-65535",
                    "--rate",
                    "200000",
                    "--wait",
                    "1",
                    "-o",
                ])
                .arg(&f),
        ),
    );
    let got: Vec<u16> = pairs(&records(&f), "open")
        .into_iter()
        .map(|(ip, p)| {
            assert_eq!(ip.to_string(), "127.0.0.1");
            p
        })
        .collect();
    assert_eq!(got, listening.to_vec());
}

#[test]
fn stdout_output_pipes_one_json_object_per_line() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::loopback_only(&[8443]);
    let out = lab.run_in_scanner(synsweep().args([
        "scan",
        "127.0.0.1",
        "-p",
        "8440-8450",
        "--wait",
        "0.5",
        "-o",
        "-",
    ]));
    check(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["port"], 8443);
    assert_eq!(lines[0]["state"], "open");
    assert_eq!(lines[0]["reason"], "syn-ack");
}

#[test]
fn next_hop_mac_found_by_arp_when_the_neighbour_table_is_empty() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::builder().listen(&[22]).build();
    // The lab installs a permanent neighbour for the gateway; remove it so
    // synsweep has to ask with ARP itself.
    let del = Command::new("ip")
        .args([
            "-n",
            lab.scanner_ns(),
            "neigh",
            "del",
            "198.18.0.2",
            "dev",
            lab.scanner_iface(),
        ])
        .output()
        .unwrap();
    assert!(
        del.status.success(),
        "{}",
        String::from_utf8_lossy(&del.stderr)
    );
    let show = Command::new("ip")
        .args(["-n", lab.scanner_ns(), "neigh", "show", "198.18.0.2"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&show.stdout).contains("lladdr"),
        "neighbour still known"
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f.ndjson");
    check(
        &lab.run_in_scanner(
            synsweep()
                .args([
                    "scan",
                    "198.19.3.0/24",
                    "-p",
                    "22,23",
                    "--rate",
                    "5000",
                    "--wait",
                    "1",
                    "-q",
                    "-o",
                ])
                .arg(&f),
        ),
    );
    assert_eq!(
        pairs(&records(&f), "open"),
        lab.ground_truth_open(&[22, 23], "198.19.3.0/24")
    );
}

#[test]
fn dry_run_sends_nothing_and_describes_the_scan() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::builder().listen(&[22]).build();
    lab.reset_counters();
    let out = lab.run_in_scanner(synsweep().args([
        "scan",
        "198.19.0.0/16",
        "-p",
        "22,80",
        "--dry-run",
        "--seed",
        "3",
    ]));
    check(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("131072 probes"), "{text}");
    assert!(text.contains(lab.scanner_iface()), "{text}");
    assert_eq!(lab.counters().syn_in, 0, "a dry run sent probes");
}
