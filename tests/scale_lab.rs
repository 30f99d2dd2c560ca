//! Results at internet scale: a lab where every one of 65,536
//! hosts answers on 20 ports, 1,310,720 open ports. The scan reports each
//! exactly once while its memory stays flat (peak RSS at most 64 MiB, with an
//! NDJSON stream and an HTML document spilled to disk), and the HTML report
//! stays small enough for a browser.

mod common;

use common::Lab;
use common::run::synsweep;
use std::collections::HashSet;
use std::io::BufRead;

const PORTS: std::ops::RangeInclusive<u16> = 1..=20;
const OPEN: usize = 65536 * 20;

/// Peak RSS in KiB of the largest child this process has waited for.
fn children_max_rss_kib() -> i64 {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) },
        0
    );
    ru.ru_maxrss
}

#[test]
fn a_million_open_ports_once_each_in_flat_memory() {
    let ports: Vec<u16> = PORTS.collect();
    let lab = Lab::builder().listen(&ports).build();
    let dir = tempfile::tempdir().unwrap();
    let nd = dir.path().join("f.ndjson");
    let html = dir.path().join("f.html");
    let before = children_max_rss_kib();
    let out = lab.run_in_scanner(
        synsweep()
            .current_dir(dir.path())
            .args(["scan", "198.19.0.0/16", "-p", "1-20", "--rate", "100000"])
            .args(["--retries", "1", "--wait", "2", "-q", "-o"])
            .arg(&nd)
            .arg("-o")
            .arg(&html),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let peak = children_max_rss_kib();
    // Every line a finding, every open pair once.
    let mut seen: HashSet<(String, u64)> = HashSet::with_capacity(OPEN);
    let mut lines = 0usize;
    for line in std::io::BufReader::new(std::fs::File::open(&nd).unwrap()).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        assert_eq!(v["state"], "open");
        let key = (
            v["ip"].as_str().unwrap().to_string(),
            v["port"].as_u64().unwrap(),
        );
        assert!(seen.insert(key.clone()), "{key:?} twice");
        lines += 1;
    }
    eprintln!(
        "scale test: {lines} findings, peak RSS of the scan {} KiB (children before: {before} KiB), HTML {} bytes",
        peak,
        std::fs::metadata(&html).unwrap().len()
    );
    assert_eq!(lines, OPEN, "open ports found");
    assert!(
        peak <= 64 * 1024,
        "peak RSS {peak} KiB over 64 MiB for {OPEN} findings"
    );
    let size = std::fs::metadata(&html).unwrap().len();
    assert!(size <= 5_000_000, "HTML report of {size} bytes");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("65536 hosts, 1310720 open ports"),
        "the report counts every host and open port"
    );
    assert!(
        !dir.path().join("f.html.spill.ndjson").exists(),
        "spill file left behind"
    );
}
