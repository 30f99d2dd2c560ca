//! Hostile banners and IPv6 addresses in every format. A banner
//! is attacker-controlled: markup and script for the HTML report, a
//! spreadsheet formula for the CSV, terminal escapes for whatever prints
//! it, 5 KB of binary junk. Each writer must neutralize what its reader
//! would run, and keep the banner (escaped, bounded) readable. Checked with
//! the readers themselves: serde_json, the csv crate, xmllint against
//! nmap's DTD, headless Chromium.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};
use synsweep::finding::{Cert, Finding, Http, PortState, Tls, escape_banner};
use synsweep::output::{self, Format, ScanMeta};
use synsweep::risk::Risk;

const FORMULA: &str = "=cmd|' /C calc'!A0";

/// Banners as a service sends them (bytes).
fn hostile_bytes() -> Vec<Vec<u8>> {
    let mut junk: Vec<u8> = (0..5000u32).map(|i| (i * 131 % 256) as u8).collect();
    junk.extend_from_slice(b"<script>alert(2)</script>");
    vec![
        b"<script>alert(1)</script><img src=x onerror=alert(1)>".to_vec(),
        FORMULA.as_bytes().to_vec(),
        b"\x1b[2J\x1b]0;pwned\x07SSH-2.0-x\r\n".to_vec(),
        junk,
    ]
}

fn findings() -> Vec<Finding> {
    let risk = Risk::new(None);
    let t = UNIX_EPOCH + Duration::from_millis(1_790_000_000_000);
    let mut out = Vec::new();
    // Escaped at capture, as the scan stores them.
    for (i, b) in hostile_bytes().iter().enumerate() {
        let mut f = Finding::tcp(
            format!("198.19.0.{}", i + 1).parse().unwrap(),
            22,
            PortState::Open,
            64,
            t,
        );
        risk.annotate(&mut f);
        f.protocol = Some("ssh".into());
        f.banner = Some(escape_banner(b, 256));
        out.push(f);
    }
    // Raw hostile text in every free-text field (a findings file from
    // elsewhere, read back by `report`): writers must not trust it either.
    let mut raw = Finding::tcp("2001:2::1".parse().unwrap(), 23, PortState::Open, 64, t);
    risk.annotate(&mut raw);
    raw.banner = Some(format!(
        "{FORMULA}\u{1b}[2J\u{9b}31m\u{7}<script>x</script>"
    ));
    raw.protocol = Some("-2+3\u{1b}[1m".into());
    raw.service = "@SUM(A1)\u{0}".into();
    raw.rationale = "+cmd\u{1b}]0;t\u{7}".into();
    raw.amplification = Some(31.5);
    raw.pseudo = true;
    out.push(raw);
    let mut v6 = Finding::tcp("2001:2::ff".parse().unwrap(), 443, PortState::Open, 57, t);
    risk.annotate(&mut v6);
    // An enormous text field (a findings file from elsewhere).
    v6.mitigation = "patch ".repeat(40_000);
    // Hostile facts: what a server states, raw (from elsewhere).
    v6.product = Some(format!("{FORMULA}<b>x</b>"));
    v6.version = Some("-1+1\u{1b}[1m".into());
    v6.http = Some(Box::new(Http {
        status: 200,
        server: Some("@SUM(A1)<script>alert(3)</script>".into()),
        title: Some("=HYPERLINK(\"x\")\u{1b}[2J<img src=x onerror=alert(4)>".into()),
        location: Some("javascript:alert(5)\u{7}".into()),
    }));
    v6.tls = Some(Box::new(Tls {
        version: "+TLSv1.3\u{9b}".into(),
        cipher: Some("-cipher".into()),
        cert: Some(Cert {
            subject: "CN=<script>alert(6)</script>, O==cmd\\, Inc.".into(),
            issuer: "@SUM(A1)\u{0}\u{1b}]0;t\u{7}".into(),
            san: vec!["-evil\u{1b}[2J".into(), "<img src=x>".into()],
            // Dates and the fingerprint are ours (parsed and computed, never
            // the server's text): well-formed, as the schema requires.
            not_before: "2026-11-01T00:00:00Z".into(),
            not_after: "2027-01-30T00:00:00Z".into(),
            key: "rsa".into(),
            key_bits: 1024,
            sig: "+sha1".into(),
            self_signed: true,
            sha256: "ab".repeat(32),
        }),
    }));
    out.push(v6);
    out
}

fn meta() -> ScanMeta {
    ScanMeta {
        command: "synsweep scan 198.19.0.0/29 2001:2::/120".into(),
        started: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
        finished: UNIX_EPOCH + Duration::from_secs(1_790_000_010),
        targets: "198.19.0.0/29, 2001:2::/120".into(),
        ports: "22,23,443".into(),
        seed: 1,
        rate: "10000 pps".into(),
        probes_sent: 30,
    }
}

fn write(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let p = path.to_str().unwrap();
    let mut w = output::open(p, Format::from_path(p), false).unwrap();
    for f in findings() {
        w.write(&f).unwrap();
    }
    w.finish(&meta()).unwrap();
    assert!(!Path::new(&format!("{p}.spill.ndjson")).exists());
    path
}

/// No character a terminal acts on: C0 but newline, DEL, C1.
fn assert_no_controls(name: &str, text: &str, allow: &[char]) {
    for (i, c) in text.char_indices() {
        assert!(
            !c.is_control() || allow.contains(&c),
            "{name}: control {:?} at {i}: {:?}",
            c,
            &text[i.saturating_sub(40)..(i + 10).min(text.len())]
        );
    }
}

#[test]
fn escape_banner_bounds_and_escapes_what_a_service_sends() {
    for b in hostile_bytes() {
        let e = escape_banner(&b, 256);
        assert!(e.len() <= 256);
        assert!(e.bytes().all(|c| (0x20..0x7f).contains(&c)), "{e}");
    }
    let e = escape_banner(b"\x1b[2J\r\n", 256);
    assert_eq!(e, "\\x1b[2J\\x0d\\x0a");
    assert!(escape_banner(&hostile_bytes()[3], 256).ends_with("..."));
}

#[test]
fn ndjson_and_json_escape_every_control_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let nd = write(dir.path(), "f.ndjson");
    let text = std::fs::read_to_string(&nd).unwrap();
    assert_no_controls("ndjson", &text, &['\n']);
    let (back, warnings) = output::read_findings(&nd).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(back, findings(), "every field survives, banners included");
    assert!(text.contains(r#""ip":"2001:2::1""#));
    assert!(text.contains(r#""pseudo":true"#) && text.contains(r#""amplification":31.5"#));

    let js = write(dir.path(), "f.json");
    let text = std::fs::read_to_string(&js).unwrap();
    assert_no_controls("json", &text, &['\n']);
    let doc: serde_json::Value = common::schema::read_document(&js);
    let fs = doc["findings"].as_array().unwrap();
    assert_eq!(fs.len(), findings().len());
    assert!(fs.iter().any(|f| f["ip"] == "2001:2::ff"));
    assert!(
        doc["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["ip"] == "2001:2::1")
    );
}

#[test]
fn csv_cells_never_start_a_formula_and_hold_no_controls() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "f.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_no_controls("csv", &text, &['\n']);
    let mut rdr = csv::Reader::from_path(&path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let mut rows = 0;
    let mut saw_formula = false;
    let mut saw_v6 = false;
    let mut saw_cert = false;
    for r in rdr.records() {
        let r = r.unwrap();
        rows += 1;
        for (h, cell) in headers.iter().zip(r.iter()) {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{h} cell {cell:?} would run as a formula"
            );
            if h == "banner" && cell.starts_with(&format!("'{FORMULA}")) {
                saw_formula = true;
            }
            if h == "ip" && cell == "2001:2::1" {
                saw_v6 = true;
            }
            if h == "cert_subject" && cell.starts_with("CN=<script>alert(6)") {
                saw_cert = true;
            }
        }
    }
    assert_eq!(rows, findings().len());
    assert!(saw_formula, "the formula banner is kept, protected");
    assert!(saw_v6);
    assert!(saw_cert, "certificate text is kept");
    for cell in [
        format!("'{FORMULA}<b>x</b>"),
        "'-1+1\\x1b[1m".into(),
        "'@SUM(A1)<script>alert(3)</script>".into(),
        "'=HYPERLINK(\"\"x\"\")\\x1b[2J<img src=x onerror=alert(4)>".into(),
        "'-evil\\x1b[2J <img src=x>".into(),
    ] {
        assert!(text.contains(&cell), "{cell} not in the CSV");
    }
}

#[test]
fn masscan_list_holds_no_controls_and_ipv6_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(write(dir.path(), "f.txt")).unwrap();
    assert_no_controls("list", &text, &['\n']);
    assert!(text.contains("open tcp 443 2001:2::ff "));
    // One banner line per banner, each on its own line.
    assert_eq!(text.lines().filter(|l| l.starts_with("banner ")).count(), 5);
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
fn nmap_xml_stays_well_formed_and_valid_with_hostile_banners_and_ipv6() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "f.xml");
    let p = path.to_str().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_no_controls("xml", &text, &['\n']);
    let dtd = "/usr/share/nmap/nmap.dtd";
    assert!(
        Path::new(dtd).is_file(),
        "{dtd} is missing: apt-get install nmap-common"
    );
    let out = xmllint(&["--noout", "--dtdvalid", dtd, p]);
    assert!(
        out.status.success(),
        "xmllint rejected the XML:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let q = xmllint(&[
        "--xpath",
        "string(//host[address/@addr='2001:2::ff']/address/@addrtype)",
        p,
    ]);
    assert_eq!(String::from_utf8_lossy(&q.stdout).trim(), "ipv6");
    // The banner is data, read back as the text it was.
    let q = xmllint(&[
        "--xpath",
        "string(//host[address/@addr='198.19.0.1']//script[@id='banner']/@output)",
        p,
    ]);
    assert!(String::from_utf8_lossy(&q.stdout).starts_with("<script>alert(1)</script>"));
    let q = xmllint(&["--xpath", "count(//script[@id='banner'])", p]);
    assert_eq!(String::from_utf8_lossy(&q.stdout).trim(), "5");
    // Scripts hold nmap's tables and elems (ssl-cert, http-title) and
    // nothing else.
    let q = xmllint(&[
        "--xpath",
        "count(//script//*[not(self::table or self::elem)])",
        p,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&q.stdout).trim(),
        "0",
        "no injected element"
    );
    let q = xmllint(&[
        "--xpath",
        "string(//script[@id='ssl-cert']/table[@key='subject']/elem[@key='commonName'])",
        p,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&q.stdout).trim(),
        "<script>alert(6)</script>"
    );
    let q = xmllint(&["--xpath", "string(//script[@id='http-title']/elem)", p]);
    assert_eq!(
        String::from_utf8_lossy(&q.stdout).trim(),
        "=HYPERLINK(\"x\")[2J<img src=x onerror=alert(4)>",
        "the title is data (controls dropped)"
    );
}

#[test]
fn html_shows_banners_as_text_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "f.html");
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(!html.contains("<script"), "a script element got through");
    assert!(!html.contains("<img"), "an element got through");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains('\u{1b}'));
    assert!(html.contains("[2001:2::ff]:443/tcp"));
    // Free text is cut in the report (the 240 KB field shows as 300 characters).
    assert!(html.len() < 100_000, "HTML is {} bytes", html.len());
    assert!(html.contains("patch patch …"));
    let url = format!("file://{}", path.display());
    let dom = common::chromium::dump_dom(&url);
    assert!(
        !dom.contains("<script>alert"),
        "no injected element in the DOM"
    );
    assert!(!dom.contains("<img"), "no injected element in the DOM");
    let text = common::chromium::dom_text(&dom);
    assert!(text.contains("<script>alert(1)</script><img src=x onerror=alert(1)>"));
    assert!(text.contains("Host 2001:2::1"));
    // Certificate and product text shows as text too.
    assert!(text.contains("CN=<script>alert(6)</script>"), "{text}");
    assert!(text.contains(&format!("{FORMULA}<b>x</b>")));
}

#[test]
fn terminal_text_of_diff_has_no_controls() {
    let dir = tempfile::tempdir().unwrap();
    let new = write(dir.path(), "new.ndjson");
    // An empty file is bad input now: the old scan is one unrelated port.
    let old = dir.path().join("old.ndjson");
    std::fs::write(&old, "{\"ip\":\"198.19.0.250\",\"port\":9}\n").unwrap();
    let run = common::run::synsweep()
        .arg("diff")
        .arg(&old)
        .arg(&new)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let out = String::from_utf8(run.stdout).unwrap();
    assert_no_controls("diff stdout", &out, &['\n']);
    assert!(out.contains("[2001:2::1]:23/tcp"), "{out}");
    assert!(out.contains("\\x1b[1m"), "escaped, still readable: {out}");
}
