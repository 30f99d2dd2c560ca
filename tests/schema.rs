//! The published schemas (schema/*.schema.json): a record with every field
//! of DESIGN.md's "Findings record" validates, the schema names every field
//! the writer writes, a broken record fails, and the outputs `report`
//! writes (NDJSON, JSON document, `diff` records) validate.

mod common;

use common::run::{check, synsweep};
use common::schema::{check_ndjson, document_errors, read_document, record_errors};
use serde_json::{Value, json};
use synsweep::finding::{Cert, Finding, Http, PortState, Tls};

/// A finding with every optional field set.
fn full() -> Finding {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_790_000_000_123);
    let mut f = Finding::tcp("198.19.0.4".parse().unwrap(), 443, PortState::Open, 64, t);
    f.service = "https".into();
    f.protocol = Some("tls".into());
    f.banner = Some("HTTP/1.1 200 OK\\x0d\\x0a".into());
    f.pseudo = true;
    f.amplification = Some(2.5);
    f.product = Some("nginx".into());
    f.version = Some("1.22.1".into());
    f.tls = Some(Box::new(Tls {
        version: "TLSv1.3".into(),
        cipher: Some("TLS_AES_128_GCM_SHA256".into()),
        cert: Some(Cert {
            subject: "CN=www.example.org".into(),
            issuer: "CN=Example CA".into(),
            san: vec!["www.example.org".into()],
            not_before: "2026-11-01T00:00:00Z".into(),
            not_after: "2027-01-30T00:00:00Z".into(),
            key: "rsa".into(),
            key_bits: 2048,
            sig: "sha256WithRSAEncryption".into(),
            self_signed: false,
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        }),
    }));
    f.http = Some(Box::new(Http {
        status: 200,
        server: Some("nginx/1.22.1".into()),
        title: Some("Welcome".into()),
        location: Some("https://www.example.org/".into()),
    }));
    f.rationale = "why".into();
    f.mitigation = "what to do".into();
    f
}

#[test]
fn a_full_record_validates_and_the_schema_names_every_field() {
    let v = serde_json::to_value(full()).unwrap();
    assert_eq!(record_errors(&v), Vec::<String>::new());
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/finding.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let props = |s: &Value| -> Vec<String> {
        s["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let mut missing = Vec::new();
    for k in v.as_object().unwrap().keys() {
        if !props(&schema).contains(k) {
            missing.push(k.clone());
        }
    }
    for (k, def) in [("tls", "tls"), ("http", "http")] {
        for kk in v[k].as_object().unwrap().keys() {
            if !props(&schema["$defs"][def]).contains(kk) {
                missing.push(format!("{k}.{kk}"));
            }
        }
    }
    for kk in v["tls"]["cert"].as_object().unwrap().keys() {
        if !props(&schema["$defs"]["cert"]).contains(kk) {
            missing.push(format!("tls.cert.{kk}"));
        }
    }
    assert!(
        missing.is_empty(),
        "fields the schema does not describe: {missing:?}"
    );
    // Minimal records (no optional field) validate too, and so do fields
    // added later (the stability promise: fields may be added).
    let mut min = serde_json::to_value(Finding::tcp(
        "2001:2::1".parse().unwrap(),
        22,
        PortState::Closed,
        0,
        std::time::UNIX_EPOCH,
    ))
    .unwrap();
    assert_eq!(record_errors(&min), Vec::<String>::new());
    min["a_field_added_later"] = json!({"any": "thing"});
    assert_eq!(record_errors(&min), Vec::<String>::new());
}

/// A way to break a valid record.
type Breakage = Box<dyn Fn(&mut Value)>;

#[test]
fn broken_records_fail_validation() {
    let good = serde_json::to_value(full()).unwrap();
    let breakages: Vec<(&str, Breakage)> = vec![
        (
            "no ip",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("ip");
            }),
        ),
        (
            "ip not an address",
            Box::new(|v| v["ip"] = json!("198.19.0")),
        ),
        ("port as text", Box::new(|v| v["port"] = json!("443"))),
        ("port out of range", Box::new(|v| v["port"] = json!(70000))),
        ("proto sctp", Box::new(|v| v["proto"] = json!("sctp"))),
        (
            "state filtered",
            Box::new(|v| v["state"] = json!("filtered")),
        ),
        ("ts not a time", Box::new(|v| v["ts"] = json!("yesterday"))),
        (
            "category unknown",
            Box::new(|v| v["category"] = json!("scary")),
        ),
        (
            "severity unknown",
            Box::new(|v| v["severity"] = json!("urgent")),
        ),
        ("admin as text", Box::new(|v| v["admin"] = json!("false"))),
        (
            "amplification negative",
            Box::new(|v| v["amplification"] = json!(-1)),
        ),
        (
            "tls without version",
            Box::new(|v| {
                v["tls"].as_object_mut().unwrap().remove("version");
            }),
        ),
        (
            "cert sha256 not hex",
            Box::new(|v| v["tls"]["cert"]["sha256"] = json!("XYZ")),
        ),
        (
            "cert key unknown",
            Box::new(|v| v["tls"]["cert"]["key"] = json!("rot13")),
        ),
        (
            "cert san not a list",
            Box::new(|v| v["tls"]["cert"]["san"] = json!("a.example")),
        ),
        (
            "http status as text",
            Box::new(|v| v["http"]["status"] = json!("200")),
        ),
        ("product as a number", Box::new(|v| v["product"] = json!(1))),
    ];
    for (what, breaks) in breakages {
        let mut v = good.clone();
        breaks(&mut v);
        assert!(!record_errors(&v).is_empty(), "{what}: validated\n{v}");
    }
    assert!(!document_errors(&json!({"findings": []})).is_empty());
}

#[test]
fn report_outputs_and_diff_records_validate() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.ndjson");
    let mut f = full();
    let mut lines = serde_json::to_string(&f).unwrap() + "\n";
    f.port = 23;
    f.tls = None;
    f.protocol = Some("telnet".into());
    lines += &(serde_json::to_string(&f).unwrap() + "\n");
    lines += "{\"ip\":\"2001:2::9\",\"port\":161,\"proto\":\"udp\",\"amplification\":6.5}\n";
    std::fs::write(&input, lines).unwrap();
    let (nd, doc) = (dir.path().join("r.ndjson"), dir.path().join("r.json"));
    check(
        &synsweep()
            .arg("report")
            .arg(&input)
            .arg("-o")
            .arg(&nd)
            .arg("-o")
            .arg(&doc)
            .output()
            .unwrap(),
    );
    check_ndjson(&nd);
    let d = read_document(&doc);
    assert_eq!(d["findings"].as_array().unwrap().len(), 3);
    // The document reads back (report reads synsweep's JSON document too).
    let again = dir.path().join("again.ndjson");
    check(
        &synsweep()
            .arg("report")
            .arg(&doc)
            .arg("-o")
            .arg(&again)
            .output()
            .unwrap(),
    );
    assert_eq!(
        std::fs::read_to_string(&again).unwrap(),
        std::fs::read_to_string(&nd).unwrap()
    );
    // A document whose findings break the record schema fails.
    let mut broken = d.clone();
    broken["findings"][0]["port"] = json!(-1);
    assert!(!document_errors(&broken).is_empty());
    // diff change records (opened, closed, changed, grade).
    let old = dir.path().join("old.ndjson");
    std::fs::write(
        &old,
        "{\"ip\":\"198.19.0.4\",\"port\":443,\"proto\":\"tcp\",\"state\":\"open\"}\n{\"ip\":\"198.19.0.5\",\"port\":22}\n",
    )
    .unwrap();
    let changes = dir.path().join("c.ndjson");
    let run = synsweep()
        .arg("diff")
        .arg(&old)
        .arg(&nd)
        .arg("-o")
        .arg(&changes)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let recs = common::findings::records(&changes);
    assert!(recs.iter().any(|r| r["change"] == "opened"));
    assert!(recs.iter().any(|r| r["change"] == "closed"));
}
