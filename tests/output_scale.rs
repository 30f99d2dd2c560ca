//! Documents at scale and across a pause: the HTML report of
//! 300,000 findings stays under 5 MB and still renders the grade and the
//! total count of open ports in headless Chromium; a document written by a
//! paused scan and finished by the resumed one holds the findings of both
//! runs, from the spill file, which is gone once the document is done.

mod common;

use std::time::{Duration, UNIX_EPOCH};
use synsweep::finding::{Finding, PortState};
use synsweep::output::{self, Format, ScanMeta};
use synsweep::risk::Risk;

fn meta(n: u64) -> ScanMeta {
    ScanMeta {
        command: "synsweep scan 198.19.0.0/16 -p 1-20".into(),
        started: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
        finished: UNIX_EPOCH + Duration::from_secs(1_790_000_300),
        targets: "198.19.0.0/16".into(),
        ports: "1-20".into(),
        seed: 3,
        rate: "100000 pps".into(),
        probes_sent: n,
    }
}

/// Host `h` of 198.19.0.0/16, port `p`, annotated by the catalog.
fn finding(risk: &Risk, h: u32, p: u16) -> Finding {
    let ip = std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(198, 19, 0, 0)) + h);
    let t = UNIX_EPOCH + Duration::from_millis(1_790_000_000_000 + h as u64 * 20 + p as u64);
    let mut f = Finding::tcp(ip.into(), p, PortState::Open, 64, t);
    risk.annotate(&mut f);
    f
}

#[test]
fn html_report_of_300k_findings_is_under_5_mb_and_renders_grade_and_total() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.html");
    let p = path.to_str().unwrap();
    let risk = Risk::new(None);
    let (hosts, ports) = (15_000u32, 20u16);
    let total = hosts as u64 * ports as u64;
    let mut w = output::open(p, Format::Html, false).unwrap();
    // Arrival order of a scan: a permutation, not sorted.
    for i in 0..total {
        let j = (i * 7_919) % total;
        w.write(&finding(
            &risk,
            (j / ports as u64) as u32,
            (j % ports as u64) as u16 + 1,
        ))
        .unwrap();
    }
    w.finish(&meta(total)).unwrap();
    assert!(!output::spill_path(p).exists(), "spill removed");
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size <= 5 * 1024 * 1024, "HTML report is {size} bytes");
    let html = std::fs::read_to_string(&path).unwrap();
    // Ports 1-20 include telnet (23 is not; 21 is not) ... whatever the
    // catalog says, every host has the same ports, so every host has the
    // same grade, and the scan's grade is that one.
    let one = synsweep::risk::score::host_scores(
        &(1..=ports)
            .map(|p| finding(&risk, 0, p))
            .collect::<Vec<_>>(),
    )[0]
    .clone();
    let dom = common::chromium::dump_dom(&format!("file://{}", path.display()));
    let text = common::chromium::dom_text(&dom);
    assert!(
        text.contains(&format!("Overall grade {}", one.grade)),
        "grade missing"
    );
    assert!(text.contains(&format!("{} {}/100", one.grade, one.score)));
    assert!(
        text.contains(&format!("{total} open ports")),
        "total count of open ports missing"
    );
    assert!(text.contains(&format!("{hosts} hosts")));
    // Bounded detail, and a pointer to the rest.
    assert!(text.contains("are in the CSV or NDJSON output"));
    assert_eq!(html.matches("<h3 id=\"h-").count(), 50);
}

#[test]
fn a_paused_document_is_finished_by_the_resumed_scan_with_both_runs() {
    let dir = tempfile::tempdir().unwrap();
    let risk = Risk::new(None);
    let all: Vec<Finding> = (0..40u32)
        .flat_map(|h| [22u16, 80, 443].map(|p| finding(&risk, h, p)))
        .collect();
    let (first, second) = all.split_at(50);
    for name in ["doc.json", "doc.xml", "doc.html"] {
        let path = dir.path().join(name);
        let p = path.to_str().unwrap();
        let fmt = Format::from_path(p);
        let mut w = output::open(p, fmt, false).unwrap();
        for f in first {
            w.write(f).unwrap();
        }
        w.finish_paused(&meta(50)).unwrap();
        drop(w);
        assert!(
            output::spill_path(p).exists(),
            "{name}: spill kept on pause"
        );
        // The paused document already shows the first run.
        if name == "doc.json" {
            let doc: serde_json::Value = common::schema::read_document(&path);
            assert_eq!(doc["findings"].as_array().unwrap().len(), first.len());
        }
        // Resume: append to the spill; a finding reported again (after a
        // crash, from the last checkpoint) is written once.
        let mut w = output::open(p, fmt, true).unwrap();
        w.write(&first[first.len() - 1]).unwrap();
        for f in second {
            w.write(f).unwrap();
        }
        w.finish(&meta(120)).unwrap();
        assert!(!output::spill_path(p).exists(), "{name}: spill removed");
        let text = std::fs::read_to_string(&path).unwrap();
        match name {
            "doc.json" => {
                let doc: serde_json::Value = common::schema::read_document(&path);
                let fs = doc["findings"].as_array().unwrap();
                assert_eq!(fs.len(), all.len());
                assert_eq!(doc["hosts"].as_array().unwrap().len(), 40);
            }
            "doc.xml" => assert_eq!(text.matches("<port ").count(), all.len()),
            _ => assert!(text.contains(&format!("{} open ports", all.len()))),
        }
    }
}
