//! The HTML report, opened in headless Chromium (Debian's `chromium`
//! package): the rendered page shows the grade, the chart and every
//! finding, and a screenshot is taken. Fails (does not skip) without
//! chromium.

mod common;

use common::chromium::{chromium, dom_text};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};
use synsweep::finding::{Cert, Finding, PortState, Tls};
use synsweep::output::{self, Format, ScanMeta};
use synsweep::risk::protocol::legacy_tls_finding;
use synsweep::risk::score::{host_scores, scan_score};
use synsweep::risk::{Policy, Risk};

fn findings() -> Vec<Finding> {
    let policy = Policy::parse(
        "[[expect]]\nhosts = [\"198.19.0.3\"]\nports = [3389]\n\n[ports.8443]\nrationale = \"<script>alert('x')</script> & friends\"\n",
        "inline",
    )
    .unwrap();
    let risk = Risk::new(Some(policy));
    let plan: &[(&str, &[u16])] = &[
        ("198.19.0.1", &[22, 80, 443]),
        (
            "198.19.0.2",
            &[22, 23, 80, 443, 445, 3306, 3389, 6379, 47123],
        ),
        ("198.19.0.3", &[443, 3389, 8443]),
        ("198.19.0.4", &[80, 443, 2375, 5900]),
    ];
    let mut out = Vec::new();
    for (i, (ip, ports)) in plan.iter().enumerate() {
        for &p in *ports {
            let ts =
                UNIX_EPOCH + Duration::from_millis(1_790_000_000_000 + i as u64 * 100 + p as u64);
            let mut f = Finding::tcp(ip.parse().unwrap(), p, PortState::Open, 64, ts);
            risk.annotate(&mut f);
            // A deprecated TLS version: an aspect record of its own.
            if (*ip, p) == ("198.19.0.1", 443) {
                out.push(legacy_tls_finding(&f, "TLSv1.0"));
            }
            out.push(f);
        }
    }
    out
}

fn meta() -> ScanMeta {
    ScanMeta {
        command: "synsweep scan 198.19.0.0/29 -o report.html".into(),
        started: UNIX_EPOCH + Duration::from_secs(1_790_000_000),
        finished: UNIX_EPOCH + Duration::from_secs(1_790_000_030),
        targets: "198.19.0.0/29".into(),
        ports: "22,23,80,443,445,2375,3306,3389,5900,6379,8443,47123".into(),
        seed: 7,
        rate: "10000 pps".into(),
        probes_sent: 96,
    }
}

fn write_report(dir: &Path, fs: &[Finding]) -> PathBuf {
    let path = dir.join("report.html");
    let p = path.to_str().unwrap();
    let mut w = output::open(p, Format::Html, false).unwrap();
    assert!(!w.streams());
    for f in fs {
        w.write(f).unwrap();
    }
    w.finish(&meta()).unwrap();
    path
}

#[test]
fn html_report_renders_grade_chart_and_every_finding_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let fs = findings();
    let path = write_report(dir.path(), &fs);
    let html = std::fs::read_to_string(&path).unwrap();

    // Self-contained: nothing to fetch, nothing to run.
    for bad in ["http://", "https://", "<script", "<link", "@import", "url("] {
        let hits: Vec<_> = html
            .match_indices(bad)
            .map(|(i, _)| &html[i.saturating_sub(30)..(i + 40).min(html.len())])
            .collect();
        let allowed = |s: &&str| s.contains("http://www.w3.org/2000/svg");
        assert!(hits.iter().all(allowed), "{bad} found: {hits:?}");
    }
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; friends"));

    let url = format!("file://{}", path.display());
    let dom = chromium(&["--dump-dom", &url]);
    assert!(
        dom.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout).to_string();
    let text = dom_text(&dom);

    let scan = scan_score(&host_scores(&fs));
    assert!(
        text.contains(&format!("Overall grade {}", scan.grade)),
        "grade missing"
    );
    assert!(
        text.contains(&format!("{} {}/100", scan.grade, scan.score)),
        "badge missing"
    );
    assert!(dom.contains("<svg") && text.contains("Open findings by category and severity"));
    for cat in ["risky", "administrative", "normal", "other"] {
        assert!(text.contains(cat), "chart label {cat}");
    }
    for f in &fs {
        let endpoint = format!("{}:{}", f.ip, f.port);
        assert!(text.contains(&endpoint), "{endpoint} missing");
        assert!(
            text.contains(&f.mitigation),
            "mitigation for {endpoint} missing"
        );
    }
    for h in host_scores(&fs) {
        assert!(text.contains(&format!("Host {}", h.ip)));
    }
    // What to fix first: right after the grade, the best action first
    // (SMB, critical, on the weakest host 198.19.0.2), each with the scan's
    // grade and score with it done.
    let fix = text.find("What to fix first").expect("fix-first section");
    assert!(text.find("Overall grade").unwrap() < fix);
    assert!(fix < text.find("Open findings by category and severity").unwrap());
    // 12 actions: the 10 shown, then two that buy less (disabling TLS 1.0
    // on 198.19.0.1, the aspect record, is one).
    assert!(text[fix..].contains("2 more actions, each buying less, are not listed"));
    // Nothing named the service on 445: its name is the port's guess.
    let first =
        text[fix..].find("1 Close microsoft-ds? (445/tcp) on 1 host critical 198.19.0.2 445/tcp");
    assert!(
        first.is_some(),
        "best action first: {}",
        &text[fix..fix + 600]
    );
    let closed = scan_score(&host_scores(
        &fs.iter()
            .filter(|f| f.port != 445)
            .cloned()
            .collect::<Vec<_>>(),
    ));
    assert!(
        text[fix..].contains(&format!(
            "{} {}/100 +{}",
            closed.grade,
            closed.score,
            closed.score - scan.score
        )),
        "the scan with SMB closed"
    );
    assert!(
        text.contains("<script>alert('x')</script> & friends"),
        "escaped text renders as text"
    );
    assert!(!dom.contains("<script>alert"), "no injected element");

    let png = dir.path().join("report.png");
    let shot = chromium(&[
        &format!("--screenshot={}", png.display()),
        "--window-size=1280,2000",
        &url,
    ]);
    assert!(
        shot.status.success(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        bytes.len() > 40_000,
        "screenshot is suspiciously small: {} bytes",
        bytes.len()
    );
    if let Ok(keep) = std::env::var("SYNSWEEP_KEEP_SCREENSHOT") {
        std::fs::copy(&png, &keep).unwrap();
        std::fs::copy(&path, format!("{keep}.html")).unwrap();
    }
}

#[test]
fn empty_html_report_still_renders() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_report(dir.path(), &[]);
    let html = std::fs::read_to_string(path).unwrap();
    assert!(html.contains("Overall grade <strong>A</strong>"));
    assert!(html.contains("No findings."));
}

/// A certificate as the lab's servers show it.
fn cert(cn: &str, not_after: &str, key_bits: u32, sig: &str, self_signed: bool) -> Cert {
    Cert {
        subject: format!("CN={cn}, O=Lab"),
        issuer: if self_signed {
            format!("CN={cn}, O=Lab")
        } else {
            "CN=Lab CA, O=Lab".into()
        },
        san: vec![cn.to_string()],
        not_before: "2026-01-01T00:00:00Z".into(),
        not_after: not_after.into(),
        key: "rsa".into(),
        key_bits,
        sig: sig.into(),
        self_signed,
        sha256: format!("{:0>64}", cn.len()),
    }
}

/// TLS ports with certificates (one expired, one expiring in 10 days, one
/// self-signed RSA 1024 SHA-1, two valid for long, one with hostile text),
/// their problems as aspect records, and software stated on other ports.
fn tls_findings() -> Vec<Finding> {
    let risk = Risk::new(None);
    // The scan finished at 1_790_000_030 (2026-09-21T14:00:30Z).
    let plan: &[(&str, u16, Option<Cert>, &[&str])] = &[
        (
            "198.19.0.10",
            443,
            Some(cert(
                "expired.lab",
                "2026-09-01T00:00:00Z",
                2048,
                "sha256WithRSAEncryption",
                false,
            )),
            &["tls-cert-expired"],
        ),
        (
            "198.19.0.11",
            443,
            Some(cert(
                "soon.lab",
                "2026-10-01T12:00:00Z",
                2048,
                "sha256WithRSAEncryption",
                false,
            )),
            &["tls-cert-expiring"],
        ),
        (
            "198.19.0.12",
            443,
            Some(cert(
                "weak.lab",
                "2027-06-01T00:00:00Z",
                1024,
                "sha1WithRSAEncryption",
                true,
            )),
            &["tls-cert-self-signed"],
        ),
        (
            "198.19.0.12",
            8443,
            Some(cert(
                "weak.lab",
                "2027-06-01T00:00:00Z",
                1024,
                "sha1WithRSAEncryption",
                true,
            )),
            &["tls-weak-key"],
        ),
        (
            "198.19.0.12",
            9443,
            Some(cert(
                "weak.lab",
                "2027-06-01T00:00:00Z",
                1024,
                "sha1WithRSAEncryption",
                true,
            )),
            &["tls-weak-signature"],
        ),
        (
            "198.19.0.13",
            443,
            Some(cert(
                "fine.lab",
                "2027-08-01T00:00:00Z",
                2048,
                "sha256WithRSAEncryption",
                false,
            )),
            &[],
        ),
        (
            "198.19.0.14",
            443,
            Some(Cert {
                subject: "CN=<img src=x onerror=alert(1)>, O==cmd|' /C calc'!A0".into(),
                ..cert(
                    "hostile.lab",
                    "2027-12-01T00:00:00Z",
                    2048,
                    "sha256WithRSAEncryption",
                    false,
                )
            }),
            &[],
        ),
    ];
    let t = UNIX_EPOCH + Duration::from_secs(1_790_000_010);
    let mut out = Vec::new();
    for (ip, port, c, problems) in plan {
        let mut f = Finding::tcp(ip.parse().unwrap(), *port, PortState::Open, 64, t);
        f.protocol = Some("tls".into());
        f.tls = Some(Box::new(Tls {
            version: if *port == 443 { "TLSv1.3" } else { "TLSv1.2" }.into(),
            cipher: None,
            cert: c.clone(),
        }));
        risk.annotate(&mut f);
        out.push(f.clone());
        for p in *problems {
            let mut a = f.clone();
            a.reason = p.to_string();
            a.service = p.to_string();
            a.category = synsweep::finding::Category::Risky;
            a.severity = synsweep::finding::Severity::Medium;
            a.mitigation = format!("Fix {p}.");
            out.push(a);
        }
    }
    for (ip, port, product, version) in [
        ("198.19.0.20", 22, "OpenSSH", Some("9.2p1")),
        ("198.19.0.21", 22, "OpenSSH", Some("9.2p1")),
        ("198.19.0.21", 80, "nginx", Some("1.22.1")),
        ("198.19.0.21", 21, "vsFTPd", Some("3.0.3")),
        ("198.19.0.22", 25, "Postfix", None),
    ] {
        let mut f = Finding::tcp(ip.parse().unwrap(), port, PortState::Open, 64, t);
        f.product = Some(product.into());
        f.version = version.map(String::from);
        risk.annotate(&mut f);
        out.push(f);
    }
    out
}

#[test]
fn html_tls_section_and_software_table_render_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let fs = tls_findings();
    let path = write_report(dir.path(), &fs);
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(!html.contains("<img"), "certificate text is escaped");
    let url = format!("file://{}", path.display());
    let dom = chromium(&["--dump-dom", &url]);
    assert!(dom.status.success());
    let dom = String::from_utf8_lossy(&dom.stdout).to_string();
    assert!(!dom.contains("<img"), "no injected element");
    let text = dom_text(&dom);
    assert!(
        text.contains("TLS certificates and versions"),
        "no TLS section"
    );
    assert!(text.contains("7 ports showed a certificate"), "{text}");
    assert!(text.contains("TLSv1.3 on 5 ports") && text.contains("TLSv1.2 on 2 ports"));
    // Problems with counts and the hosts affected.
    for (title, ports, hosts, host) in [
        ("Expired certificate", 1, 1, "198.19.0.10"),
        ("Certificate expiring within 30 days", 1, 1, "198.19.0.11"),
        ("Self-signed certificate", 1, 1, "198.19.0.12"),
        ("Weak key (RSA under 2048 bits)", 1, 1, "198.19.0.12"),
        ("Weak signature (MD5, SHA-1)", 1, 1, "198.19.0.12"),
    ] {
        let row = format!("{title} {ports} {hosts} {host}");
        assert!(text.contains(&row), "problem row {row:?} missing");
    }
    assert!(
        !text.contains("Lifetime over 398 days"),
        "no row for a problem not seen"
    );
    // Certificates soonest first, with their dates and time left.
    let order: Vec<usize> = [
        "CN=expired.lab, O=Lab",
        "CN=soon.lab, O=Lab",
        "CN=weak.lab, O=Lab",
        "CN=fine.lab, O=Lab",
        "CN=<img src=x",
    ]
    .iter()
    .map(|s| text.find(s).unwrap_or_else(|| panic!("{s} missing")))
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "not soonest first: {order:?}"
    );
    assert!(text.contains("2026-09-01T00:00:00Z expired 20 days ago"));
    assert!(text.contains("2026-10-01T12:00:00Z in 9 days"));
    assert!(text.contains("CN=<img src=x onerror=alert(1)>, O==cmd|' /C calc'!A0"));
    // Software and versions.
    assert!(text.contains("Software and versions seen"));
    assert!(
        text.contains("OpenSSH 9.2p1 2 2 198.19.0.20, 198.19.0.21"),
        "{text}"
    );
    assert!(text.contains("nginx 1.22.1 1 1 198.19.0.21"));
    assert!(text.contains("Postfix not stated 1 1 198.19.0.22"));

    // A screenshot of the page down to the TLS section and the software
    // table (a headless screenshot of a scrolled page comes out blank, so
    // the window is tall instead).
    let png = dir.path().join("tls.png");
    let shot = chromium(&[
        &format!("--screenshot={}", png.display()),
        "--window-size=1280,3600",
        &url,
    ]);
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        bytes.len() > 60_000,
        "screenshot is suspiciously small: {} bytes",
        bytes.len()
    );
    if let Ok(keep) = std::env::var("SYNSWEEP_KEEP_TLS_SCREENSHOT") {
        std::fs::copy(&png, &keep).unwrap();
    }
}
