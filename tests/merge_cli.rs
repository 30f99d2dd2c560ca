//! `synsweep merge` and `synsweep report` from the command line, on shard
//! files that overlap (as shards of a rerun or a resumed scan can): one file,
//! every duplicate gone, and every report format from it. No packets.

mod common;

use common::run::{check, synsweep};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn rec(ip: &str, port: u16, state: &str, ts: &str) -> String {
    format!(
        r#"{{"ip":"{ip}","port":{port},"proto":"tcp","state":"{state}","reason":"{}","ttl":64,"ts":"{ts}"}}"#,
        if state == "open" { "syn-ack" } else { "rst" }
    )
}

/// Three shard files: 30 distinct open pairs and 3 closed ones, with
/// duplicates across files and inside one file.
fn shards(dir: &Path) -> Vec<PathBuf> {
    let mut files = [String::new(), String::new(), String::new()];
    for h in 0..10u32 {
        for (i, port) in [22u16, 80, 3389].into_iter().enumerate() {
            let ip = format!("198.19.0.{h}");
            let k = (h as usize + i) % 3;
            files[k] += &rec(&ip, port, "open", "2026-11-22T02:35:54.000Z");
            files[k].push('\n');
        }
    }
    // Duplicates: in another shard (later), and twice in the same shard.
    files[1] += &rec("198.19.0.0", 22, "open", "2026-11-22T02:36:10.000Z");
    files[1].push('\n');
    files[2] += &rec("198.19.0.9", 3389, "open", "2026-11-22T02:36:11.000Z");
    files[2].push('\n');
    files[2] += &rec("198.19.0.9", 3389, "open", "2026-11-22T02:36:12.000Z");
    files[2].push('\n');
    for h in 0..3 {
        let line = rec(
            &format!("198.19.1.{h}"),
            443,
            "closed",
            "2026-11-22T02:35:58.000Z",
        );
        files[h] += &line;
        files[h].push('\n');
        files[(h + 1) % 3] += &line;
        files[(h + 1) % 3].push('\n');
    }
    files
        .iter()
        .enumerate()
        .map(|(k, text)| {
            let p = dir.join(format!("shard-{k}.ndjson"));
            std::fs::write(&p, text).unwrap();
            p
        })
        .collect()
}

fn keys(path: &Path) -> Vec<(String, u64, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["ip"].as_str().unwrap().to_string(),
                v["port"].as_u64().unwrap(),
                v["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn merge_removes_every_duplicate_and_report_writes_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let ins = shards(dir.path());
    let merged = dir.path().join("all.ndjson");
    check(
        &synsweep()
            .arg("merge")
            .args(&ins)
            .arg("-o")
            .arg(&merged)
            .output()
            .unwrap(),
    );
    let got = keys(&merged);
    let unique: BTreeSet<_> = got.iter().cloned().collect();
    assert_eq!(got.len(), unique.len(), "no duplicates");
    assert_eq!(got.len(), 33, "30 open + 3 closed pairs");
    assert_eq!(got.iter().filter(|k| k.2 == "closed").count(), 3);
    // The earliest record of a duplicate is kept.
    let text = std::fs::read_to_string(&merged).unwrap();
    assert!(!text.contains("02:36:1"), "later duplicates dropped");

    // Merging the merged file again with a shard changes nothing.
    let again = dir.path().join("again.ndjson");
    check(
        &synsweep()
            .arg("merge")
            .arg(&merged)
            .arg(&ins[0])
            .arg("-o")
            .arg(&again)
            .output()
            .unwrap(),
    );
    assert_eq!(keys(&again), got);

    // Every report format from the merged file.
    let outs: Vec<PathBuf> = ["ndjson", "json", "csv", "xml", "txt", "html"]
        .iter()
        .map(|e| dir.path().join(format!("report.{e}")))
        .collect();
    let mut cmd = synsweep();
    cmd.arg("report").arg(&merged);
    for o in &outs {
        cmd.arg("-o").arg(o);
    }
    check(&cmd.output().unwrap());
    assert_eq!(keys(&outs[0]).len(), 33);
    let doc: serde_json::Value = common::schema::read_document(&outs[1]);
    assert_eq!(doc["findings"].as_array().unwrap().len(), 33);
    assert!(doc["score"]["grade"].is_string());
    assert_eq!(
        csv::Reader::from_path(&outs[2]).unwrap().records().count(),
        33
    );
    let xml = std::fs::read_to_string(&outs[3]).unwrap();
    assert_eq!(xml.matches("<port ").count(), 33);
    assert!(xml.contains("<nmaprun") && xml.trim_end().ends_with("</nmaprun>"));
    let txt = std::fs::read_to_string(&outs[4]).unwrap();
    assert_eq!(
        txt.lines().filter(|l| l.starts_with("open tcp ")).count(),
        30
    );
    let html = std::fs::read_to_string(&outs[5]).unwrap();
    assert!(html.contains("198.19.0.9") && html.contains("</html>"));

    // Or one format at a time, chosen by --format.
    let forced = dir.path().join("report.data");
    check(
        &synsweep()
            .arg("report")
            .arg(&merged)
            .args(["--format", "csv", "-o"])
            .arg(&forced)
            .output()
            .unwrap(),
    );
    assert_eq!(
        csv::Reader::from_path(&forced).unwrap().records().count(),
        33
    );
}

#[test]
fn merge_of_a_missing_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = synsweep()
        .arg("merge")
        .arg(dir.path().join("missing.ndjson"))
        .arg("-o")
        .arg(dir.path().join("all.ndjson"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}
