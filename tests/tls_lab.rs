//! TLS certificates read in the scan's own pass, against real TLS servers
//! (`openssl s_server` from Debian's openssl), one per lab host: each
//! host's port 443 is redirected (nftables, in the target namespace) to a
//! server of its own, with a certificate made here by `openssl` (a lab CA
//! signs most of them, with exact dates through `openssl ca`).
//!
//! What it must show: the facts in the NDJSON record of each port match
//! what `openssl x509` says of the certificate the server was given
//! (subject, issuer, dates to the second, key type and size, signature
//! algorithm, SHA-256 fingerprint, SAN); the TLS 1.3-only server's
//! certificate is read (decrypted); and the aspect records of each port are
//! exactly the problems its certificate was made with, plus `tls-legacy`
//! for the TLS 1.0-only server and for the one that prefers TLS 1.3 but
//! still accepts TLS 1.0.

mod common;

use common::Lab;
use common::daemons::Daemons;
use common::findings::records;
use common::run::{check, synsweep};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

const DAY: u64 = 86_400;

/// One lab server.
struct Server {
    /// Its host: 198.19.0.<host>.
    host: u8,
    name: &'static str,
    /// RSA key size.
    bits: u32,
    /// Signing digest (`openssl ca -md`); None: self-signed.
    md: Option<&'static str>,
    /// Validity: seconds from now (negative: in the past).
    from: i64,
    until: i64,
    /// `openssl s_server` version option.
    version: Option<&'static str>,
    /// The version the scan must see.
    negotiated: &'static str,
    /// The aspect records its port must have (reasons).
    problems: &'static [&'static str],
}

const D: i64 = DAY as i64;

const SERVERS: [Server; 12] = [
    Server {
        host: 1,
        name: "valid",
        bits: 2048,
        md: Some("sha256"),
        from: -D,
        until: 90 * D,
        version: None,
        negotiated: "TLSv1.3",
        problems: &[],
    },
    Server {
        host: 2,
        name: "expired",
        bits: 2048,
        md: Some("sha256"),
        from: -100 * D,
        until: -10 * D,
        version: None,
        negotiated: "TLSv1.3",
        problems: &["tls-cert-expired"],
    },
    Server {
        host: 3,
        name: "notyet",
        bits: 2048,
        md: Some("sha256"),
        from: 10 * D,
        until: 100 * D,
        version: None,
        negotiated: "TLSv1.3",
        problems: &["tls-cert-not-yet-valid"],
    },
    Server {
        host: 4,
        name: "selfsigned",
        bits: 2048,
        md: None,
        from: -D,
        until: 90 * D,
        version: None,
        negotiated: "TLSv1.3",
        problems: &["tls-cert-self-signed"],
    },
    Server {
        host: 5,
        name: "rsa1024",
        bits: 1024,
        md: Some("sha256"),
        from: -D,
        until: 90 * D,
        version: None,
        negotiated: "TLSv1.3",
        problems: &["tls-weak-key"],
    },
    Server {
        host: 6,
        name: "sha1",
        bits: 2048,
        md: Some("sha1"),
        from: -D,
        until: 90 * D,
        version: None,
        negotiated: "TLSv1.3",
        problems: &["tls-weak-signature"],
    },
    Server {
        host: 7,
        name: "long",
        bits: 2048,
        md: Some("sha256"),
        from: -D,
        until: 824 * D,
        version: None,
        negotiated: "TLSv1.3",
        problems: &["tls-cert-long-lifetime"],
    },
    Server {
        host: 8,
        name: "expiring",
        bits: 2048,
        md: Some("sha256"),
        from: -80 * D,
        until: 10 * D,
        version: None,
        negotiated: "TLSv1.3",
        problems: &["tls-cert-expiring"],
    },
    Server {
        host: 9,
        name: "tls13only",
        bits: 2048,
        md: Some("sha256"),
        from: -D,
        until: 90 * D,
        version: Some("-tls1_3"),
        negotiated: "TLSv1.3",
        problems: &[],
    },
    Server {
        host: 10,
        name: "tls12only",
        bits: 2048,
        md: Some("sha256"),
        from: -D,
        until: 90 * D,
        version: Some("-tls1_2"),
        negotiated: "TLSv1.2",
        problems: &[],
    },
    Server {
        host: 12,
        name: "mixed",
        bits: 2048,
        md: Some("sha256"),
        from: -D,
        until: 90 * D,
        version: Some("-min_protocol=TLSv1"),
        negotiated: "TLSv1.3",
        problems: &["tls-version"],
    },
    Server {
        host: 11,
        name: "tls10only",
        bits: 2048,
        md: Some("sha256"),
        from: -D,
        until: 90 * D,
        version: Some("-tls1"),
        negotiated: "TLSv1.0",
        problems: &["tls-version"],
    },
];

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("tls lab: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "tls lab: {cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn openssl(args: &[&str]) -> String {
    run_ok(Command::new("openssl").args(args))
}

/// `YYYYMMDDHHMMSSZ` (`openssl ca -startdate`), `secs` from now.
fn ca_date(now: SystemTime, secs: i64) -> String {
    let t = if secs >= 0 {
        now + Duration::from_secs(secs as u64)
    } else {
        now - Duration::from_secs((-secs) as u64)
    };
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.chars().filter(|c| c.is_ascii_digit()).collect::<String>() + "Z"
}

/// Make the lab CA and each server's certificate in `dir`.
fn make_certs(dir: &Path, now: SystemTime) {
    let d = |n: &str| dir.join(n).display().to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/C=XX/O=Synsweep Lab/CN=Synsweep Lab CA",
        "-days",
        "3650",
        "-keyout",
        &d("ca.key"),
        "-out",
        &d("ca.crt"),
    ]);
    std::fs::create_dir_all(dir.join("newcerts")).unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("serial"), "1000\n").unwrap();
    std::fs::write(
        dir.join("ca.cnf"),
        format!(
            "[ca]\ndefault_ca = lab\n[lab]\ndatabase = {}\nnew_certs_dir = {}\nserial = {}\n\
             policy = any\nunique_subject = no\ndefault_md = sha256\n\
             [any]\ncountryName = optional\norganizationName = optional\ncommonName = supplied\n",
            d("index.txt"),
            d("newcerts"),
            d("serial")
        ),
    )
    .unwrap();
    for s in &SERVERS {
        let n = s.name;
        let subj = format!("/C=XX/O=Synsweep Lab/CN={n}.lab");
        let san = format!("subjectAltName=DNS:{n}.lab,IP:198.19.0.{}", s.host);
        let key = d(&format!("{n}.key"));
        let crt = d(&format!("{n}.crt"));
        match s.md {
            None => {
                openssl(&[
                    "req",
                    "-x509",
                    "-newkey",
                    &format!("rsa:{}", s.bits),
                    "-nodes",
                    "-subj",
                    &subj,
                    "-days",
                    &((s.until / D) as u64).to_string(),
                    "-addext",
                    &san,
                    "-keyout",
                    &key,
                    "-out",
                    &crt,
                ]);
            }
            Some(md) => {
                let csr = d(&format!("{n}.csr"));
                let ext = d(&format!("{n}.ext"));
                std::fs::write(&ext, format!("[leaf]\nbasicConstraints=CA:FALSE\n{san}\n"))
                    .unwrap();
                openssl(&[
                    "req",
                    "-new",
                    "-newkey",
                    &format!("rsa:{}", s.bits),
                    "-nodes",
                    "-subj",
                    &subj,
                    "-keyout",
                    &key,
                    "-out",
                    &csr,
                ]);
                openssl(&[
                    "ca",
                    "-batch",
                    "-notext",
                    "-config",
                    &d("ca.cnf"),
                    "-cert",
                    &d("ca.crt"),
                    "-keyfile",
                    &d("ca.key"),
                    "-md",
                    md,
                    "-startdate",
                    &ca_date(now, s.from),
                    "-enddate",
                    &ca_date(now, s.until),
                    "-extfile",
                    &ext,
                    "-extensions",
                    "leaf",
                    "-in",
                    &csr,
                    "-out",
                    &crt,
                ]);
            }
        }
    }
}

/// What `openssl x509` says of a certificate, in the findings record's terms.
fn ground_truth(crt: &Path) -> BTreeMap<&'static str, String> {
    let p = crt.to_str().unwrap();
    let head = openssl(&[
        "x509",
        "-in",
        p,
        "-noout",
        "-subject",
        "-issuer",
        "-nameopt",
        "RFC2253",
        "-startdate",
        "-enddate",
        "-dateopt",
        "iso_8601",
        "-fingerprint",
        "-sha256",
    ]);
    let text = openssl(&["x509", "-in", p, "-noout", "-text"]);
    let field = |t: &str, k: &str| -> String {
        t.lines()
            .find_map(|l| l.trim().strip_prefix(k))
            .unwrap_or_else(|| panic!("no {k} in openssl's output:\n{t}"))
            .trim()
            .to_string()
    };
    let date = |s: String| s.replace(' ', "T");
    let mut m = BTreeMap::new();
    m.insert("subject", field(&head, "subject="));
    m.insert("issuer", field(&head, "issuer="));
    m.insert("not_before", date(field(&head, "notBefore=")));
    m.insert("not_after", date(field(&head, "notAfter=")));
    m.insert(
        "sha256",
        field(&head, "sha256 Fingerprint=")
            .replace(':', "")
            .to_ascii_lowercase(),
    );
    m.insert("sig", field(&text, "Signature Algorithm:"));
    let alg = field(&text, "Public Key Algorithm:");
    m.insert(
        "key",
        match alg.as_str() {
            "rsaEncryption" => "rsa".into(),
            "id-ecPublicKey" => "ec".into(),
            other => other.to_ascii_lowercase(),
        },
    );
    let bits = field(&text, "Public-Key: (");
    m.insert("key_bits", bits.trim_end_matches(" bit)").to_string());
    m
}

fn lab_up(dir: &Path) -> (Lab, Daemons) {
    let lab = Lab::builder().build();
    let mut daemons = Daemons(Vec::new());
    let d = |n: &str| dir.join(n).display().to_string();
    let mut rules = String::new();
    for s in &SERVERS {
        let port = 10_000 + s.host as u16;
        let (crt, key) = (d(&format!("{}.crt", s.name)), d(&format!("{}.key", s.name)));
        let port_s = port.to_string();
        // -www: answers by itself, never reads its standard input.
        let mut args = vec![
            "s_server",
            "-www",
            "-accept",
            &port_s,
            "-cert",
            &crt,
            "-key",
            &key,
            "-cipher",
            "DEFAULT@SECLEVEL=0",
        ];
        // Only the servers made to accept TLS 1.0 do (the capped hello).
        match s.version {
            Some(v) if v.starts_with("-min_protocol=") => {
                args.extend(["-min_protocol", &v["-min_protocol=".len()..]]);
            }
            Some(v) => args.push(v),
            None => args.extend(["-no_tls1", "-no_tls1_1"]),
        }
        daemons.start(&lab, "openssl", &args);
        rules += &format!(
            " ip daddr 198.19.0.{} tcp dport 443 redirect to :{port}\n",
            s.host
        );
    }
    // Wait for every server.
    let end = Instant::now() + Duration::from_secs(20);
    for s in &SERVERS {
        let port = 10_000 + s.host as u16;
        loop {
            let out = Command::new("ip")
                .args(["netns", "exec", lab.target_ns(), "ss", "-Htln"])
                .arg(format!("sport = :{port}"))
                .output()
                .expect("ss");
            if !out.stdout.is_empty() {
                break;
            }
            for (name, c) in &mut daemons.0 {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("tls lab: {name} exited ({st}) before tcp/{port} was open");
                }
            }
            assert!(
                Instant::now() < end,
                "tls lab: nothing listens on tcp/{port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let script = format!(
        "table ip tlslab {{\n chain pre {{\n  type nat hook prerouting priority dstnat; policy accept;\n{rules} }}\n}}\n"
    );
    let mut child = Command::new("ip")
        .args(["netns", "exec", lab.target_ns(), "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("nft");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "tls lab: nft redirects");
    (lab, daemons)
}

#[test]
fn certificates_are_read_in_the_scan_and_their_problems_are_records() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    make_certs(dir.path(), now);
    let (lab, _daemons) = lab_up(dir.path());
    let out = dir.path().join("tls.ndjson");
    let t = Instant::now();
    let o = lab.run_in_scanner(
        synsweep()
            .args(["scan", "198.19.0.0/28", "-p", "443", "--rate", "1000"])
            .args(["--wait", "2", "-o"])
            .arg(&out)
            .current_dir(dir.path()),
    );
    check(&o);
    eprintln!("tls lab: scan took {:?}", t.elapsed());
    let recs = records(&out);
    if std::env::var_os("TLS_LAB_SHOW").is_some() {
        for r in &recs {
            eprintln!("{r}");
        }
    }
    let ip_of = |r: &Value| r["ip"].as_str().unwrap().to_string();

    for s in &SERVERS {
        let ip = format!("198.19.0.{}", s.host);
        let port: Vec<&Value> = recs
            .iter()
            .filter(|r| ip_of(r) == ip && r["reason"] == "syn-ack")
            .collect();
        assert_eq!(port.len(), 1, "{}: one port record: {port:?}", s.name);
        let r = port[0];
        assert_eq!(r["protocol"], "tls", "{}: {r}", s.name);
        let tls = &r["tls"];
        assert_eq!(tls["version"], s.negotiated, "{}: {r}", s.name);
        assert!(
            tls["cipher"]
                .as_str()
                .is_some_and(|c| c.starts_with("TLS_")),
            "{}: {r}",
            s.name
        );
        let cert = &tls["cert"];
        assert!(cert.is_object(), "{}: no certificate read: {r}", s.name);
        let truth = ground_truth(&dir.path().join(format!("{}.crt", s.name)));
        for (k, want) in &truth {
            let got = match &cert[*k] {
                Value::String(v) => v.clone(),
                v => v.to_string(),
            };
            assert_eq!(&got, want, "{}: {k}", s.name);
        }
        assert_eq!(
            cert["san"],
            serde_json::json!([format!("{}.lab", s.name), ip]),
            "{}",
            s.name
        );
        assert_eq!(cert["self_signed"], s.md.is_none(), "{}", s.name);
        // Exactly the problems it was made with.
        let aspects: BTreeSet<String> = recs
            .iter()
            .filter(|r| ip_of(r) == ip && r["reason"] != "syn-ack")
            .map(|r| r["reason"].as_str().unwrap().to_string())
            .collect();
        let want: BTreeSet<String> = s.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(aspects, want, "{}: aspect records", s.name);
        for a in recs
            .iter()
            .filter(|r| ip_of(r) == ip && r["reason"] != "syn-ack")
        {
            assert_eq!(a["port"], 443);
            assert!(a["severity"].is_string() && !a["mitigation"].as_str().unwrap().is_empty());
            if a["reason"] != "tls-version" {
                assert_eq!(a["service"], a["reason"], "{a}");
            } else {
                // The TLS 1.0-only server negotiated it; the one that
                // prefers TLS 1.3 takes the best the capped hello offers.
                let want = if s.name == "mixed" {
                    "negotiates TLSv1.3 but still accepts TLSv1.1"
                } else {
                    "negotiated TLSv1.0"
                };
                assert!(a["rationale"].as_str().unwrap().contains(want), "{a}");
            }
        }
    }
    // Nothing else answered.
    let others: Vec<&Value> = recs
        .iter()
        .filter(|r| {
            let last: u8 = ip_of(r).rsplit('.').next().unwrap().parse().unwrap();
            !SERVERS.iter().any(|s| s.host == last)
        })
        .collect();
    assert!(others.is_empty(), "{others:?}");
}
