//! Retries under loss: with 5% of SYNs dropped at random on the way to the
//! lab target and three hosts in four silent, `--retries 2` finds at least
//! 99.99% of the open pairs while sending no more than 1.6 times the space.
//! Retries go where a reply is plausibly missing (silent ports of hosts that
//! answered), not over the whole silent space.

mod common;

use common::run::probes_in_summary;

use common::Lab;
use common::findings::{pairs, records, score};
use std::process::Command;

const RANGE: &str = "198.19.0.0/16";
const PORTS: [u16; 3] = [22, 80, 443];

#[test]
fn retries_recover_lost_syns_without_reprobing_the_silent_space() {
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .syn_loss_percent(5)
        .build();
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("loss.ndjson");
    let out = lab.run_in_scanner(
        Command::new(env!("CARGO_BIN_EXE_synsweep"))
            .current_dir(dir.path())
            .args([
                "scan",
                RANGE,
                "-p",
                "22,80,443",
                "--retries",
                "2",
                "--rate",
                "100000",
                "--wait",
                "2",
                "-o",
            ])
            .arg(&out_file),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);

    let space = 65536 * PORTS.len() as u64;
    let truth = lab.ground_truth_open(&PORTS, RANGE);
    assert_eq!(truth.len(), 32768);
    let recs = records(&out_file);
    let found = pairs(&recs, "open");
    let (share, false_pos) = score(&found, &truth);
    let missed = truth.difference(&found).count();
    let sent = probes_in_summary(&stderr);
    let c = lab.counters();
    eprintln!(
        "loss test: found {:.4}% ({missed} of {} missed), {sent} probes = {:.3} x space; \
         target: syn_in {} (lost {}, to silent hosts {}), synack_out {}, rst_out {}",
        share * 100.0,
        truth.len(),
        sent as f64 / space as f64,
        c.syn_in,
        c.syn_lost,
        c.silent_dropped,
        c.synack_out,
        c.rst_out
    );
    assert!(false_pos.is_empty(), "false positives: {false_pos:?}");
    assert_eq!(recs.len(), found.len(), "a pair reported twice");
    assert!(
        share >= 0.9999,
        "found {:.4}% of open pairs ({missed} missed)",
        share * 100.0
    );
    // The loss rule did bite, or the test proves nothing.
    assert!(c.syn_lost > space / 4 / 100, "{c:?}");
    // Probes: the summary line and the target's count agree (the lab has no
    // other loss between the two namespaces), and stay under 1.6 x the space.
    assert_eq!(
        c.syn_in, sent,
        "summary line vs SYNs that reached the target"
    );
    assert!(
        c.syn_lost + c.silent_dropped <= c.syn_in,
        "drops are a part of syn_in: {c:?}"
    );
    assert!(
        sent as f64 <= 1.6 * space as f64,
        "{sent} probes = {:.3} x the space",
        sent as f64 / space as f64
    );
}
