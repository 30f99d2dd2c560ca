//! `report` and `merge` as library functions: findings files in, any format
//! out; policy applied again; duplicates dropped keeping the earliest.

mod common;

use std::path::PathBuf;
use synsweep::error::Error;
use synsweep::finding::Category;
use synsweep::output::{self, Format};

const A: &str = r#"{"ip":"198.19.0.2","port":3389,"proto":"tcp","state":"open","reason":"syn-ack","ttl":64,"ts":"2026-11-22T02:35:55.000Z","service":"","category":"other","severity":"info","admin":false,"expected":false,"rationale":"","mitigation":""}
{"ip":"198.19.0.1","port":22,"proto":"tcp","state":"open","reason":"syn-ack","ttl":64,"ts":"2026-11-22T02:35:54.000Z","service":"","category":"other","severity":"info","admin":false,"expected":false,"rationale":"","mitigation":""}
{"ip":"198.19.0.2","port":80,"proto":"tcp","state":"open","reason":"syn-ack","ttl":64,"ts":"2026-11-22T02:35:54.5
"#;

const B: &str = r#"{"ip":"198.19.0.2","port":3389,"proto":"tcp","state":"open","reason":"syn-ack","ttl":60,"ts":"2026-11-22T02:35:50.000Z"}
{"ip":"198.19.0.10","port":443,"ts":"2026-11-22T02:36:00.000Z"}
{"ip":"198.19.0.1","port":22,"ts":"2026-11-22T02:35:59.000Z"}
"#;

fn inputs(dir: &std::path::Path) -> Vec<PathBuf> {
    let a = dir.join("a.ndjson");
    let b = dir.join("b.ndjson");
    std::fs::write(&a, A).unwrap();
    std::fs::write(&b, B).unwrap();
    vec![a, b]
}

#[test]
fn report_reannotates_dedupes_and_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let ins = inputs(dir.path());
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[expect]]\nhosts = [\"198.19.0.2\"]\nports = [3389]\n",
    )
    .unwrap();
    let out = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let outputs = vec![
        (out("r.ndjson"), None),
        (out("r.json"), None),
        (out("r.csv"), None),
        (out("r.xml"), None),
        (out("r.txt"), None),
        (out("r.html"), None),
        (out("r.data"), Some(Format::Json)),
    ];
    output::report(&ins, &outputs, Some(&policy)).unwrap();
    // Every record and both documents hold to the published schema.
    common::schema::check_ndjson(&dir.path().join("r.ndjson"));
    common::schema::read_document(&dir.path().join("r.json"));
    common::schema::read_document(&dir.path().join("r.data"));

    let (fs, warnings) = output::read_findings(&dir.path().join("r.ndjson")).unwrap();
    assert!(warnings.is_empty());
    let keys: Vec<(String, u16)> = fs.iter().map(|f| (f.ip.to_string(), f.port)).collect();
    assert_eq!(
        keys,
        vec![
            ("198.19.0.1".into(), 22),
            ("198.19.0.2".into(), 3389),
            ("198.19.0.10".into(), 443)
        ],
        "cut-short line skipped, duplicates dropped, sorted by address"
    );
    // The earliest record wins (ttl 60 from b, at :50).
    assert_eq!(fs[1].ttl, 60);
    assert_eq!(fs[1].category, Category::Administrative);
    assert!(fs[1].expected, "policy applied again");
    assert!(!fs[0].rationale.is_empty());

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.data")).unwrap()).unwrap();
    assert_eq!(doc["score"]["grade"], "A");
    assert_eq!(doc["findings"].as_array().unwrap().len(), 3);
    assert_eq!(doc["scan"]["started"], "2026-11-22T02:35:50Z");
    for n in ["r.json", "r.csv", "r.xml", "r.txt", "r.html"] {
        assert!(
            std::fs::metadata(dir.path().join(n)).unwrap().len() > 0,
            "{n}"
        );
    }
}

#[test]
fn merge_writes_one_sorted_deduplicated_file() {
    let dir = tempfile::tempdir().unwrap();
    let ins = inputs(dir.path());
    let merged = dir.path().join("all.ndjson");
    output::merge(&ins, merged.to_str().unwrap()).unwrap();
    common::schema::check_ndjson(&merged);
    let (fs, _) = output::read_findings(&merged).unwrap();
    assert_eq!(fs.len(), 3);
    assert!(
        fs.windows(2)
            .all(|w| (w[0].ip, w[0].port) < (w[1].ip, w[1].port))
    );
    assert_eq!(fs[0].ts, "2026-11-22T02:35:54.000Z", "earliest kept");
    // Merge keeps records as they were: no re-annotation.
    assert_eq!(fs[0].category, Category::Other);

    let csv_out = dir.path().join("all.csv");
    output::merge(&ins, csv_out.to_str().unwrap()).unwrap();
    assert_eq!(
        csv::Reader::from_path(&csv_out).unwrap().records().count(),
        3
    );
}

#[test]
fn bad_inputs_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ins = inputs(dir.path());
    let out = dir.path().join("x.json").to_str().unwrap().to_string();
    let missing = vec![dir.path().join("missing.ndjson")];
    assert!(matches!(
        output::report(&missing, &[(out.clone(), None)], None),
        Err(Error::Input(_))
    ));
    assert!(matches!(
        output::report(&[], &[(out.clone(), None)], None),
        Err(Error::Input(_))
    ));
    assert!(matches!(
        output::report(&ins, &[], None),
        Err(Error::Input(_))
    ));
    let bad_policy = dir.path().join("bad.toml");
    std::fs::write(&bad_policy, "[ports.22]\nseverity = \"dire\"\n").unwrap();
    match output::report(&ins, &[(out.clone(), None)], Some(&bad_policy)) {
        Err(Error::Input(m)) => assert!(m.contains("bad.toml:2:"), "{m}"),
        other => panic!("{other:?}"),
    }
    let nowhere = "/nonexistent-dir/x.json".to_string();
    assert!(matches!(
        output::report(&ins, &[(nowhere, None)], None),
        Err(Error::Input(_))
    ));
}

#[test]
fn merge_and_report_keep_what_the_in_memory_dedup_kept() {
    // The external sort must not change what survives: the earliest record
    // of each (ip, port, proto, state), the first read when times tie.
    let dir = tempfile::tempdir().unwrap();
    let ins = inputs(dir.path());
    let mut all = Vec::new();
    for p in &ins {
        all.extend(output::read_findings(p).unwrap().0);
    }
    let want = output::dedupe(all);
    let merged = dir.path().join("m.ndjson");
    output::merge(&ins, merged.to_str().unwrap()).unwrap();
    assert_eq!(output::read_findings(&merged).unwrap().0, want);
    // report: the same records, re-annotated.
    let risk = synsweep::risk::Risk::new(None);
    let mut want = want;
    for f in &mut want {
        risk.annotate(f);
    }
    let r = dir.path().join("r.ndjson");
    output::report(&ins, &[(r.to_str().unwrap().to_string(), None)], None).unwrap();
    assert_eq!(output::read_findings(&r).unwrap().0, want);
}

#[test]
fn merge_may_write_over_one_of_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let ins = inputs(dir.path());
    let mut all = Vec::new();
    for p in &ins {
        all.extend(output::read_findings(p).unwrap().0);
    }
    let want = output::dedupe(all);
    output::merge(&ins, ins[0].to_str().unwrap()).unwrap();
    assert_eq!(output::read_findings(&ins[0]).unwrap().0, want);
    // Nothing else is left in the directory (temporary files are gone).
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["a.ndjson", "b.ndjson"]);
}

/// A middlebox whose first ports were written before the scan judged it:
/// `report` and `merge` apply the final verdict (every silent port of a
/// host with a pseudo record is pseudo), the score counts none of them,
/// and the real service behind it stays a finding.
#[test]
fn report_and_merge_apply_the_final_middlebox_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let rec = |port: u16, extra: &str| {
        format!(
            r#"{{"ip":"198.19.0.9","port":{port},"proto":"tcp","state":"open","reason":"syn-ack","ttl":64,"ts":"2026-11-22T02:35:5{}.000Z"{extra}}}"#,
            port % 10
        )
    };
    let lines = [
        rec(23, ""),
        rec(3389, ""),
        rec(445, r#","pseudo":true"#),
        rec(22, r#","protocol":"ssh","banner":"SSH-2.0-OpenSSH_9.2p1""#),
    ];
    let input = dir.path().join("late.ndjson");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("out.json");
    let merged = dir.path().join("merged.ndjson");
    output::report(
        std::slice::from_ref(&input),
        &[(out.to_str().unwrap().to_string(), None)],
        None,
    )
    .unwrap();
    output::merge(std::slice::from_ref(&input), merged.to_str().unwrap()).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let pseudo_of = |recs: &[serde_json::Value]| -> Vec<(u64, bool)> {
        recs.iter()
            .map(|f| (f["port"].as_u64().unwrap(), f["pseudo"] == true))
            .collect()
    };
    let want = vec![(22, false), (23, true), (445, true), (3389, true)];
    assert_eq!(pseudo_of(doc["findings"].as_array().unwrap()), want);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&merged)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(pseudo_of(&lines), want);
    // Telnet and RDP on a middlebox cost nothing: only the SSH counts.
    let host = &doc["hosts"][0];
    assert_eq!(host["pseudo"], 3, "{host}");
}
