//! Every streaming and document format, read back by a standard reader:
//! NDJSON, CSV (csv crate), JSON document (serde_json), masscan list, and
//! nmap XML validated against nmap's DTD with xmllint.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};
use synsweep::finding::{Cert, Finding, Http, PortState, Tls};
use synsweep::output::{self, Format, ScanMeta};
use synsweep::risk::score::{Grade, host_scores, penalty, scan_score};
use synsweep::risk::{Policy, Risk};

/// A lab-like result: three hosts, the ports, one closed port, and
/// a policy override whose text needs escaping everywhere.
fn findings() -> Vec<Finding> {
    let policy = Policy::parse(
        "[ports.8443]\nseverity = \"medium\"\nrationale = \"<b>Vendor</b> console & \\\"admin\\\" UI, with commas, 'quotes'\"\n",
        "inline",
    )
    .unwrap();
    let risk = Risk::new(Some(policy));
    let mut out = Vec::new();
    let plan: &[(&str, &[u16])] = &[
        ("198.19.0.1", &[22, 80, 443]),
        (
            "198.19.0.2",
            &[22, 23, 80, 443, 445, 3306, 3389, 6379, 47123],
        ),
        ("198.19.0.3", &[443, 3389, 8443]),
    ];
    let mut t = 1_790_000_000_000u64;
    for (ip, ports) in plan {
        for &p in *ports {
            t += 7;
            let ts = UNIX_EPOCH + Duration::from_millis(t);
            let mut f = Finding::tcp(ip.parse().unwrap(), p, PortState::Open, 64, ts);
            if *ip == "198.19.0.1" {
                facts(&mut f);
            }
            risk.annotate(&mut f);
            out.push(f);
        }
    }
    let mut closed = Finding::tcp(
        "198.19.0.3".parse().unwrap(),
        25,
        PortState::Closed,
        63,
        UNIX_EPOCH + Duration::from_millis(t + 5),
    );
    risk.annotate(&mut closed);
    out.push(closed);
    out
}

/// The facts a lab's daemons state: sshd on 22, nginx on 80, a TLS
/// certificate on 443.
fn facts(f: &mut Finding) {
    match f.port {
        22 => {
            f.protocol = Some("ssh".into());
            f.product = Some("OpenSSH".into());
            f.version = Some("9.2p1".into());
        }
        80 => {
            f.protocol = Some("http".into());
            f.product = Some("nginx".into());
            f.version = Some("1.22.1".into());
            f.http = Some(Box::new(Http {
                status: 301,
                server: Some("nginx/1.22.1".into()),
                title: Some("301 Moved Permanently".into()),
                location: Some("https://198.19.0.1/".into()),
            }));
        }
        443 => {
            f.protocol = Some("tls".into());
            f.tls = Some(Box::new(Tls {
                version: "TLSv1.3".into(),
                cipher: Some("TLS_AES_128_GCM_SHA256".into()),
                cert: Some(Cert {
                    subject: "CN=www.example.org, O=Example\\, Inc., C=US".into(),
                    issuer: "CN=Example CA, O=Example".into(),
                    san: vec!["www.example.org".into(), "198.19.0.1".into()],
                    not_before: "2026-11-01T00:00:00Z".into(),
                    not_after: "2027-01-30T00:00:00Z".into(),
                    key: "rsa".into(),
                    key_bits: 2048,
                    sig: "sha256WithRSAEncryption".into(),
                    self_signed: false,
                    sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                        .into(),
                }),
            }));
        }
        _ => {}
    }
}

fn meta() -> ScanMeta {
    ScanMeta {
        command: "synsweep scan 198.19.0.0/30 -p 22,23,25,80,443,445,3306,3389,6379,8443,47123"
            .into(),
        started: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
        finished: UNIX_EPOCH + Duration::from_secs(1_790_000_012),
        targets: "198.19.0.0/30".into(),
        ports: "22,23,25,80,443,445,3306,3389,6379,8443,47123".into(),
        seed: 42,
        rate: "10000 pps".into(),
        probes_sent: 44,
    }
}

fn write(dir: &Path, name: &str, fs: &[Finding]) -> PathBuf {
    let path = dir.join(name);
    let p = path.to_str().unwrap();
    let mut w = output::open(p, Format::from_path(p), false).unwrap();
    for f in fs {
        w.write(f).unwrap();
    }
    w.finish(&meta()).unwrap();
    path
}

#[test]
fn ndjson_round_trips_one_record_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let fs = findings();
    let path = write(dir.path(), "f.ndjson", &fs);
    common::schema::check_ndjson(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), fs.len());
    assert!(text.ends_with('\n'));
    let (back, warnings) = output::read_findings(&path).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(back, fs);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["ip"], "198.19.0.1");
    assert_eq!(first["category"], "administrative");
}

#[test]
fn read_findings_skips_a_cut_short_last_line_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let fs = findings();
    let path = write(dir.path(), "f.ndjson", &fs);
    let mut bytes = std::fs::read(&path).unwrap();
    // A crash mid-write: the last record is cut in half, no newline.
    let last_start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    bytes.truncate(last_start + (bytes.len() - last_start) / 2);
    // And some garbage in the middle, plus a blank line.
    let mut text = bytes.clone();
    text.splice(0..0, b"{not json}\n\n".iter().copied());
    std::fs::write(&path, &text).unwrap();
    let (back, warnings) = output::read_findings(&path).unwrap();
    assert_eq!(back, fs[..fs.len() - 1].to_vec());
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let name = path.display().to_string();
    assert!(
        warnings[0].starts_with(&format!("{name}:1:")),
        "{}",
        warnings[0]
    );
    let last_line = fs.len() + 2;
    assert!(
        warnings[1].starts_with(&format!("{name}:{last_line}:")),
        "{}",
        warnings[1]
    );
}

#[test]
fn read_findings_accepts_minimal_records_and_rejects_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("min.ndjson");
    std::fs::write(&path, "{\"ip\":\"198.19.0.9\",\"port\":22}\r\n").unwrap();
    let (back, warnings) = output::read_findings(&path).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(
        (back[0].port, back[0].proto.as_str(), back[0].state),
        (22, "tcp", PortState::Open)
    );
    assert!(matches!(
        output::read_findings(&dir.path().join("nope.ndjson")),
        Err(synsweep::error::Error::Input(_))
    ));
}

#[test]
fn csv_parses_back_to_the_ndjson_rows() {
    let dir = tempfile::tempdir().unwrap();
    let fs = findings();
    let nd = write(dir.path(), "f.ndjson", &fs);
    let csv_path = write(dir.path(), "f.csv", &fs);
    let mut rdr = csv::Reader::from_path(&csv_path).unwrap();
    let headers: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&nd)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let keys: Vec<String> = first.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        headers[..output::csv_out::HEADER.len()],
        output::csv_out::HEADER,
        "CSV columns are the record's fields"
    );
    // Then the facts, appended.
    assert_eq!(
        headers[output::csv_out::HEADER.len()..],
        output::csv_out::FACT_HEADER
    );
    // Every field of the record is a column; the others are the optional
    // fields this record leaves out.
    for k in &keys {
        assert!(headers.contains(k), "no column for {k}");
    }
    let optional = ["protocol", "banner", "pseudo", "amplification"];
    for h in &headers[..output::csv_out::HEADER.len()] {
        assert!(keys.contains(h) || optional.contains(&h.as_str()), "{h}");
    }
    let records: Vec<csv::StringRecord> = rdr.records().collect::<Result<_, _>>().unwrap();
    let (nd_rows, _) = output::read_findings(&nd).unwrap();
    // The record's own columns read back as the record, facts aside.
    let head = csv::StringRecord::from(headers[..output::csv_out::HEADER.len()].to_vec());
    let rows: Vec<Finding> = records
        .iter()
        .map(|r| {
            let own: csv::StringRecord = r.iter().take(output::csv_out::HEADER.len()).collect();
            own.deserialize(Some(&head)).unwrap()
        })
        .collect();
    let bare: Vec<Finding> = nd_rows
        .iter()
        .cloned()
        .map(|mut f| {
            (f.product, f.version, f.http, f.tls) = (None, None, None, None);
            f
        })
        .collect();
    assert_eq!(rows, bare);
    // The fact columns hold the facts.
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let at = |port: &str| {
        records
            .iter()
            .find(|r| &r[0] == "198.19.0.1" && &r[1] == port)
            .unwrap()
    };
    assert_eq!(
        (&at("22")[col("product")], &at("22")[col("version")]),
        ("OpenSSH", "9.2p1")
    );
    let http = at("80");
    assert_eq!(
        (
            &http[col("http_status")],
            &http[col("http_server")],
            &http[col("http_title")],
            &http[col("http_location")]
        ),
        (
            "301",
            "nginx/1.22.1",
            "301 Moved Permanently",
            "https://198.19.0.1/"
        )
    );
    let tls = at("443");
    for (c, v) in [
        ("tls_version", "TLSv1.3"),
        ("tls_cipher", "TLS_AES_128_GCM_SHA256"),
        (
            "cert_subject",
            "CN=www.example.org, O=Example\\, Inc., C=US",
        ),
        ("cert_issuer", "CN=Example CA, O=Example"),
        ("cert_san", "www.example.org 198.19.0.1"),
        ("cert_not_before", "2026-11-01T00:00:00Z"),
        ("cert_not_after", "2027-01-30T00:00:00Z"),
        ("cert_key", "rsa"),
        ("cert_key_bits", "2048"),
        ("cert_sig", "sha256WithRSAEncryption"),
        ("cert_self_signed", "false"),
        (
            "cert_sha256",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ),
    ] {
        assert_eq!(&tls[col(c)], v, "{c}");
    }
    // A port with no facts has empty fact cells.
    assert!(at("22")[col("http_status")].is_empty() && at("22")[col("cert_sha256")].is_empty());
    assert!(rows.iter().any(|f| {
        f.rationale
            .contains("<b>Vendor</b> console & \"admin\" UI, with commas")
    }));
}

#[test]
fn csv_and_list_append_without_a_second_header() {
    let dir = tempfile::tempdir().unwrap();
    let fs = findings();
    for name in ["a.csv", "a.txt"] {
        let path = dir.path().join(name);
        let p = path.to_str().unwrap();
        let (first, second) = fs.split_at(4);
        for (part, append) in [(first, false), (second, true)] {
            let mut w = output::open(p, Format::from_path(p), append).unwrap();
            assert!(w.streams());
            for f in part {
                w.write(f).unwrap();
            }
            w.finish(&meta()).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if name.ends_with(".csv") {
            assert_eq!(text.matches("ip,port,proto").count(), 1);
            let n = csv::Reader::from_path(&path).unwrap().records().count();
            assert_eq!(n, fs.len());
        } else {
            assert_eq!(text.matches("#masscan").count(), 1);
            assert_eq!(text.matches("# end").count(), 1);
            assert!(text.ends_with("# end\n"));
        }
    }
}

#[test]
fn masscan_list_has_header_records_and_trailer() {
    let dir = tempfile::tempdir().unwrap();
    let fs = findings();
    let text = std::fs::read_to_string(write(dir.path(), "f.txt", &fs)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "#masscan");
    assert_eq!(*lines.last().unwrap(), "# end");
    assert_eq!(lines.len(), fs.len() + 2);
    assert_eq!(
        lines[1],
        format!("open tcp 22 198.19.0.1 {}", fs[0].unix_seconds())
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("closed tcp 25 198.19.0.3 "))
    );
    for l in &lines[1..lines.len() - 1] {
        let parts: Vec<&str> = l.split(' ').collect();
        assert_eq!(parts.len(), 5, "{l}");
        assert!(parts[4].parse::<u64>().unwrap() > 1_700_000_000);
    }
}

/// The score formula, computed independently of the library.
fn expected_score(fs: &[Finding], ip: &str) -> u8 {
    let mut seen = std::collections::BTreeMap::new();
    for f in fs
        .iter()
        .filter(|f| f.ip.to_string() == ip && f.state == PortState::Open && !f.expected)
    {
        seen.insert(f.port, f.severity);
    }
    let raw =
        (100.0 * seen.values().map(|&s| 1.0 - penalty(s)).product::<f64>() + 1e-9).floor() as u8;
    let sevs: Vec<_> = seen.values().collect();
    if sevs
        .iter()
        .any(|s| matches!(s, synsweep::finding::Severity::Critical))
    {
        raw.min(59)
    } else if sevs
        .iter()
        .any(|s| matches!(s, synsweep::finding::Severity::High))
    {
        raw.min(79)
    } else {
        raw
    }
}

fn grade(score: u8) -> &'static str {
    match score {
        90..=100 => "A",
        80..=89 => "B",
        70..=79 => "C",
        60..=69 => "D",
        _ => "F",
    }
}

#[test]
fn json_document_parses_and_its_grades_match_the_formula() {
    let dir = tempfile::tempdir().unwrap();
    let fs = findings();
    let path = write(dir.path(), "f.json", &fs);
    // Validated against the published document schema as it is read.
    let doc = common::schema::read_document(&path);
    assert_eq!(doc["scan"]["seed"], 42);
    assert_eq!(doc["scan"]["targets"], "198.19.0.0/30");
    assert_eq!(doc["scan"]["started"], "2026-09-21T14:13:20Z");
    assert_eq!(doc["scan"]["elapsed_seconds"], 12);
    assert_eq!(doc["findings"].as_array().unwrap().len(), fs.len());
    let hosts = doc["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 3);
    let mut worst = 100;
    for h in hosts {
        let ip = h["ip"].as_str().unwrap();
        let want = expected_score(&fs, ip);
        assert_eq!(h["score"], want as u64, "{ip}");
        assert_eq!(h["grade"], grade(want), "{ip}");
        worst = worst.min(want);
    }
    assert_eq!(hosts[0]["grade"], "A");
    assert_eq!(hosts[1]["grade"], "F");
    assert_eq!(doc["score"]["score"], worst as u64);
    assert_eq!(doc["score"]["grade"], grade(worst));
    assert_eq!(doc["score"]["weakest"], "198.19.0.2");
    assert_eq!(doc["score"]["grades"]["A"], 1);
    // The library agrees with itself, too.
    let lib = scan_score(&host_scores(&fs));
    assert_eq!(lib.grade, Grade::F);
}

fn xmllint(args: &[&str]) -> std::process::Output {
    Command::new("xmllint")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("xmllint is required for this test (apt-get install libxml2-utils): {e}")
        })
}

#[test]
fn nmap_xml_validates_against_nmaps_dtd() {
    let dir = tempfile::tempdir().unwrap();
    let fs = findings();
    let path = write(dir.path(), "f.xml", &fs);
    // nmap's own DTD, as Debian's nmap-common package ships it (.ci/run installs it).
    let dtd = Path::new("/usr/share/nmap/nmap.dtd");
    assert!(
        dtd.is_file(),
        "{} is missing: apt-get install nmap-common",
        dtd.display()
    );
    let out = xmllint(&[
        "--noout",
        "--dtdvalid",
        dtd.to_str().unwrap(),
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "xmllint rejected the XML:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&path).unwrap()
    );
    // An empty scan is valid too.
    let empty = write(dir.path(), "empty.xml", &[]);
    let out = xmllint(&[
        "--noout",
        "--dtdvalid",
        dtd.to_str().unwrap(),
        empty.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What importers read: every open port with its state and service.
    let q = xmllint(&[
        "--xpath",
        "count(//port[state/@state='open'])",
        path.to_str().unwrap(),
    ]);
    let open = fs.iter().filter(|f| f.state == PortState::Open).count();
    assert_eq!(String::from_utf8_lossy(&q.stdout).trim(), open.to_string());
    let q = xmllint(&[
        "--xpath",
        "string(//host[address/@addr='198.19.0.2']/ports/port[@portid='3389']/service/@name)",
        path.to_str().unwrap(),
    ]);
    assert_eq!(String::from_utf8_lossy(&q.stdout).trim(), "ms-wbt-server");
    let q = xmllint(&[
        "--xpath",
        "string(//host[address/@addr='198.19.0.3']/ports/port[@portid='8443']/script/@output)",
        path.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&q.stdout).contains("<b>Vendor</b> console & \"admin\""));
    // Facts, where nmap puts them: service product/version, http-title,
    // http-server-header, and ssl-cert's tables.
    let x = |xpath: &str| {
        let q = xmllint(&["--xpath", xpath, path.to_str().unwrap()]);
        String::from_utf8_lossy(&q.stdout).trim().to_string()
    };
    let port = |p: u16| format!("//host[address/@addr='198.19.0.1']/ports/port[@portid='{p}']");
    assert_eq!(
        x(&format!("string({}/service/@product)", port(22))),
        "OpenSSH"
    );
    assert_eq!(
        x(&format!("string({}/service/@version)", port(22))),
        "9.2p1"
    );
    assert_eq!(
        x(&format!("string({}/service/@product)", port(80))),
        "nginx"
    );
    assert_eq!(
        x(&format!(
            "string({}/script[@id='http-title']/elem[@key='title'])",
            port(80)
        )),
        "301 Moved Permanently"
    );
    assert_eq!(
        x(&format!(
            "string({}/script[@id='http-server-header']/@output)",
            port(80)
        )),
        "nginx/1.22.1"
    );
    let cert = format!("{}/script[@id='ssl-cert']", port(443));
    for (xpath, want) in [
        (
            "table[@key='subject']/elem[@key='commonName']",
            "www.example.org",
        ),
        (
            "table[@key='subject']/elem[@key='organizationName']",
            "Example, Inc.",
        ),
        ("table[@key='subject']/elem[@key='countryName']", "US"),
        ("table[@key='issuer']/elem[@key='commonName']", "Example CA"),
        ("table[@key='pubkey']/elem[@key='type']", "rsa"),
        ("table[@key='pubkey']/elem[@key='bits']", "2048"),
        ("elem[@key='sig_algo']", "sha256WithRSAEncryption"),
        (
            "table[@key='validity']/elem[@key='notBefore']",
            "2026-11-01T00:00:00",
        ),
        (
            "table[@key='validity']/elem[@key='notAfter']",
            "2027-01-30T00:00:00",
        ),
        (
            "elem[@key='sha256']",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ),
        (
            "table[@key='extensions']/table/elem[@key='value']",
            "DNS:www.example.org, IP Address:198.19.0.1",
        ),
    ] {
        assert_eq!(x(&format!("string({cert}/{xpath})")), want, "{xpath}");
    }
    // Its output reads as nmap's, one fact a line.
    let out = x(&format!("string({cert}/@output)"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "Subject: commonName=www.example.org/organizationName=Example, Inc./countryName=US"
    );
    assert!(
        lines.contains(&"Not valid after:  2027-01-30T00:00:00"),
        "{out}"
    );
    assert!(lines.contains(&"Public Key bits: 2048"), "{out}");
}

#[test]
fn formats_parse_and_come_from_extensions() {
    assert_eq!(Format::from_path("x.jsonl"), Format::Ndjson);
    assert_eq!(Format::from_path("x.JSON"), Format::Json);
    assert_eq!(Format::from_path("-"), Format::Ndjson);
    assert_eq!(Format::from_path("r.htm"), Format::Html);
    assert_eq!(Format::parse("masscan").unwrap(), Format::List);
    assert!(matches!(
        Format::parse("pdf"),
        Err(synsweep::error::Error::Input(_))
    ));
    for (f, streams) in [
        (Format::Ndjson, true),
        (Format::Csv, true),
        (Format::List, true),
        (Format::Json, false),
        (Format::Xml, false),
        (Format::Html, false),
    ] {
        assert_eq!(f.streams(), streams);
    }
}

/// A port where nothing named the protocol says its service is a guess
/// (`ssh?`, as nmap writes it) in every format; a named port has the plain
/// name; nmap XML says it nmap's way (`method="table"`).
#[test]
fn an_unnamed_port_says_its_service_is_a_guess_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let mut fs = findings();
    // A banner nothing named (the list writes banner lines).
    let unnamed = |f: &Finding| f.ip.to_string() == "198.19.0.2" && f.port == 6379;
    fs.iter_mut()
        .filter(|f| unnamed(f))
        .for_each(|f| f.banner = Some("hello".into()));
    let by = |ip: &str, port: u16| {
        fs.iter()
            .find(|f| f.ip.to_string() == ip && f.port == port)
            .unwrap()
    };
    assert_eq!(by("198.19.0.1", 22).service, "ssh");
    assert_eq!(by("198.19.0.2", 22).service, "ssh?");
    assert_eq!(by("198.19.0.2", 6379).service, "redis?");
    assert_eq!(by("198.19.0.3", 25).service, "smtp", "closed: no claim");
    assert!(
        by("198.19.0.2", 22)
            .rationale
            .starts_with(synsweep::risk::GUESS_RATIONALE)
    );

    let nd_path = write(dir.path(), "f.ndjson", &fs);
    common::schema::check_ndjson(&nd_path);
    let nd = std::fs::read_to_string(&nd_path).unwrap();
    let recs: Vec<serde_json::Value> = nd
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rec = |ip: &str, port: u64| {
        recs.iter()
            .find(|r| r["ip"] == ip && r["port"] == port)
            .unwrap()
            .clone()
    };
    assert_eq!(rec("198.19.0.2", 22)["service"], "ssh?");
    assert_eq!(rec("198.19.0.1", 22)["service"], "ssh");

    let doc: serde_json::Value = common::schema::read_document(&write(dir.path(), "f.json", &fs));
    let in_doc = |ip: &str, port: u64| {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ip"] == ip && r["port"] == port)
            .unwrap()["service"]
            .clone()
    };
    assert_eq!(in_doc("198.19.0.2", 3389), "ms-wbt-server?");
    assert_eq!(in_doc("198.19.0.1", 80), "http");

    let mut rdr = csv::Reader::from_path(write(dir.path(), "f.csv", &fs)).unwrap();
    let h = rdr.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let row = |ip: &str, port: &str| {
        rows.iter()
            .find(|r| &r[col("ip")] == ip && &r[col("port")] == port)
            .unwrap()[col("service")]
        .to_string()
    };
    assert_eq!(row("198.19.0.2", "445"), "microsoft-ds?");
    assert_eq!(row("198.19.0.1", "443"), "https");

    let list = std::fs::read_to_string(write(dir.path(), "f.txt", &fs)).unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with("banner tcp 6379 198.19.0.2 ") && l.contains(" redis? hello")),
        "{list}"
    );

    let html = std::fs::read_to_string(write(dir.path(), "f.html", &fs)).unwrap();
    assert!(
        html.contains("<td>ssh?"),
        "the HTML names the guess as such"
    );

    let xml = write(dir.path(), "f.xml", &fs);
    let attr = |ip: &str, port: u16, a: &str| {
        let q = xmllint(&[
            "--xpath",
            &format!(
                "string(//host[address/@addr='{ip}']/ports/port[@portid='{port}']/service/@{a})"
            ),
            xml.to_str().unwrap(),
        ]);
        String::from_utf8_lossy(&q.stdout).trim().to_string()
    };
    assert_eq!(
        (
            attr("198.19.0.2", 22, "name"),
            attr("198.19.0.2", 22, "method")
        ),
        ("ssh".to_string(), "table".to_string())
    );
    assert_eq!(
        (
            attr("198.19.0.1", 22, "name"),
            attr("198.19.0.1", 22, "method")
        ),
        ("ssh".to_string(), "probed".to_string())
    );
}
