//! Pause and resume: SIGINT about a third into a lab scan writes paused.json
//! in the working directory and exits 75 (paused); `--resume paused.json` continues
//! with no pair skipped and none probed twice, appending to the same NDJSON
//! and completing the JSON and HTML documents. A resume file that does not
//! match the command, or is not a paused.json at all, is refused with exit
//! status 2 and one line.

mod common;

use common::run::{interrupt_after, probes_in_summary};

use common::Lab;
use common::findings::{pairs, records};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

const RANGE: &str = "198.19.0.0/16";
const PORTS: [u16; 3] = [22, 80, 443];
const SPACE: u64 = 65536 * 3;

fn synsweep(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_synsweep"));
    c.current_dir(cwd);
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_refused(out: &Output, mention: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.contains(mention), "{err:?} should mention {mention:?}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn sigint_then_resume_covers_the_space_exactly_once() {
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let mut first = synsweep(cwd);
    first.args([
        "scan",
        RANGE,
        "-p",
        "22,80,443",
        "--rate",
        "20000",
        "--wait",
        "1",
        "-o",
        "f.ndjson",
        "-o",
        "f.json",
        "-o",
        "f.html",
    ]);
    let out1 = interrupt_after(&lab, &first, SPACE / 3);
    let err1 = text(&out1.stderr);
    assert_eq!(out1.status.code(), Some(75), "{err1}");
    let paused = cwd.join("paused.json");
    assert!(
        paused.is_file(),
        "no paused.json in the working dir: {err1}"
    );
    assert!(err1.contains("paused.json"), "{err1}");
    let sent1 = probes_in_summary(&err1);
    let c1 = lab.counters();
    assert_eq!(c1.syn_in, sent1, "first run: summary vs target");
    assert!(
        sent1 > SPACE / 4 && sent1 < SPACE * 2 / 3,
        "interrupted at {sent1} of {SPACE}"
    );
    let after1 = records(&cwd.join("f.ndjson")).len();
    assert!(after1 > 0, "the first run found nothing");
    let saved = std::fs::read(&paused).unwrap();

    // A resume file that does not match the command line is refused, before
    // anything is sent.
    for (extra, mention) in [
        (vec!["198.19.1.0/24"], "targets"),
        (vec!["--seed", "4242"], "seed"),
        (vec!["-p", "22"], "ports"),
    ] {
        let mut c = synsweep(cwd);
        c.arg("scan").args(&extra).args(["--resume", "paused.json"]);
        assert_refused(&lab.run_in_scanner(&mut c), mention);
    }
    assert_eq!(lab.counters().syn_in, sent1, "a refused resume sent probes");
    assert_eq!(
        std::fs::read(&paused).unwrap(),
        saved,
        "paused.json touched"
    );

    // The resume continues where the first run stopped.
    let out2 = lab.run_in_scanner(synsweep(cwd).args(["scan", "--resume", "paused.json"]));
    let err2 = text(&out2.stderr);
    assert!(out2.status.success(), "{:?}: {err2}", out2.status);
    let sent2 = probes_in_summary(&err2);
    let c2 = lab.counters();
    eprintln!(
        "resume test: first run {sent1} probes ({after1} findings), resumed run {sent2}, \
         target saw {} SYNs of {SPACE}",
        c2.syn_in
    );
    assert_eq!(sent1 + sent2, SPACE, "probe counts of the two runs");
    assert_eq!(c2.syn_in, SPACE, "SYNs that reached the target");
    assert!(!paused.exists(), "a finished resume leaves its paused.json");

    // The NDJSON: every open pair once, nothing else.
    let truth = lab.ground_truth_open(&PORTS, RANGE);
    let recs = records(&cwd.join("f.ndjson"));
    let found = pairs(&recs, "open");
    assert_eq!(recs.len(), found.len(), "duplicate lines");
    assert_eq!(found, truth, "union of findings vs ground truth");
    assert!(recs.len() > after1, "the resumed run appended nothing");

    // The JSON document holds the findings of both runs.
    let doc: serde_json::Value = common::schema::read_document(&cwd.join("f.json"));
    let doc_pairs: BTreeSet<_> = doc["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|r| {
            (
                r["ip"].as_str().unwrap().parse().unwrap(),
                r["port"].as_u64().unwrap() as u16,
            )
        })
        .collect();
    assert_eq!(doc["findings"].as_array().unwrap().len(), truth.len());
    assert_eq!(doc_pairs, truth, "JSON document after resume");
    // The HTML report too: every open pair of both runs is counted.
    let html = std::fs::read_to_string(cwd.join("f.html")).unwrap();
    assert!(
        html.trim_end().ends_with("</html>"),
        "HTML report cut short"
    );
    // (A summary: the worst hosts are listed, and every host counted.)
    let hosts: BTreeSet<_> = truth.iter().map(|p| p.0).collect();
    assert!(
        html.contains(&format!(
            "{} hosts, {} open ports",
            hosts.len(),
            truth.len()
        )),
        "HTML report does not count {} hosts",
        hosts.len()
    );
    assert!(
        !cwd.join("f.html.spill.ndjson").exists() && !cwd.join("f.json.spill.ndjson").exists(),
        "spill files left behind"
    );
    assert!(
        html.contains(&format!("{} open ports", truth.len())),
        "HTML report does not mention {} open ports",
        truth.len()
    );
}

#[test]
fn garbage_or_missing_resume_file_is_refused() {
    let lab = Lab::builder().listen(&[22]).build();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    for (content, mention) in [
        (&b"not json at all\n"[..], "not a synsweep paused.json"),
        (&b"{\"version\": 1}"[..], "not a synsweep paused.json"),
        (&b"\xff\xfe\x00garbage"[..], "paused.json"),
        (&b""[..], "paused.json"),
    ] {
        std::fs::write(cwd.join("paused.json"), content).unwrap();
        let out = lab.run_in_scanner(synsweep(cwd).args(["scan", "--resume", "paused.json"]));
        assert_refused(&out, mention);
    }
    let out = lab.run_in_scanner(synsweep(cwd).args(["scan", "--resume", "nonexistent.json"]));
    assert_refused(&out, "nonexistent.json");
    assert_eq!(lab.counters().syn_in, 0, "a refused resume sent probes");
}
