//! Reading a scan's NDJSON findings back as sets, for comparison with a lab's
//! ground truth.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

/// Every record of an NDJSON findings file (panics on a line that does not
/// parse, or a record that does not validate against the published schema).
pub fn records(path: &Path) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad NDJSON line {l:?}: {e}"));
            super::schema::check_record(&v);
            v
        })
        .collect()
}

/// The (ip, port) pairs of the records whose state is `state`.
pub fn pairs(records: &[serde_json::Value], state: &str) -> BTreeSet<(Ipv4Addr, u16)> {
    records
        .iter()
        .filter(|r| r["state"] == state)
        .map(|r| {
            (
                r["ip"].as_str().unwrap().parse().unwrap(),
                r["port"].as_u64().unwrap() as u16,
            )
        })
        .collect()
}

/// Compare found against truth: (share of truth found, pairs found that are not true).
pub fn score(
    found: &BTreeSet<(Ipv4Addr, u16)>,
    truth: &BTreeSet<(Ipv4Addr, u16)>,
) -> (f64, Vec<(Ipv4Addr, u16)>) {
    let hit = found.intersection(truth).count();
    let false_pos: Vec<_> = found.difference(truth).take(10).cloned().collect();
    (hit as f64 / truth.len().max(1) as f64, false_pos)
}
