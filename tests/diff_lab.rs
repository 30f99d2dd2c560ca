//! `synsweep diff` on two real scans of the same lab: between
//! the scans one port is closed on one host (nftables answers its SYNs with
//! a RST) and another is opened on another host (a listener bound to that
//! address). The diff reports exactly those two ports, exits 1, and a scan
//! diffed with itself reports nothing and exits 0. The second scan's HTML
//! report, given the first as `--baseline`, shows the same two changes.

mod common;

use common::Lab;
use common::findings::{pairs, records};
use common::run::{check, synsweep};
use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::Command;

const RANGE: &str = "198.19.0.0/24";
const PORTS: [u16; 3] = [22, 80, 443];

fn scan(lab: &Lab, out: &Path, extra: &[&std::ffi::OsStr]) {
    let run = lab.run_in_scanner(
        synsweep()
            .args([
                "scan",
                RANGE,
                "-p",
                "22,80,443",
                "--rate",
                "10000",
                "--retries",
                "2",
                "--wait",
                "1",
                "-q",
                "-o",
            ])
            .arg(out)
            .args(extra),
    );
    check(&run);
}

#[test]
fn diff_of_two_lab_scans_reports_exactly_the_port_closed_and_the_port_opened() {
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build();
    let dir = tempfile::tempdir().unwrap();
    let (s1, s2) = (dir.path().join("s1.ndjson"), dir.path().join("s2.ndjson"));
    scan(&lab, &s1, &[]);
    let truth = lab.ground_truth_open(&PORTS, RANGE);
    assert_eq!(
        pairs(&records(&s1), "open"),
        truth,
        "first scan vs ground truth"
    );

    // Close 198.19.0.4:80 and open 198.19.0.8:443 (both hosts alive).
    let closed: (Ipv4Addr, u16) = ("198.19.0.4".parse().unwrap(), 80);
    let opened: (Ipv4Addr, u16) = ("198.19.0.8".parse().unwrap(), 443);
    assert!(truth.contains(&closed) && !truth.contains(&opened));
    let rules = "add table ip synsweep_difflab\n\
         add chain ip synsweep_difflab input { type filter hook input priority -10; }\n\
         add rule ip synsweep_difflab input ip daddr 198.19.0.4 tcp dport 80 reject with tcp reset\n";
    let mut nft = common::wrap_in_ns(lab.target_ns(), Command::new("nft").args(["-f", "-"]));
    let mut child = nft
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("nft is required for this test (apt-get install nftables)");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), rules.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "nft rules");
    let _listener = lab.in_target(|| TcpListener::bind((opened.0, opened.1)).unwrap());

    // The second scan also writes an HTML report against the first.
    let html = dir.path().join("r2.html");
    scan(
        &lab,
        &s2,
        &[
            "--baseline".as_ref(),
            s1.as_os_str(),
            "-o".as_ref(),
            html.as_os_str(),
        ],
    );
    let mut truth2 = truth.clone();
    truth2.remove(&closed);
    truth2.insert(opened);
    assert_eq!(
        pairs(&records(&s2), "open"),
        truth2,
        "second scan vs ground truth"
    );

    let changes = dir.path().join("changes.ndjson");
    let run = synsweep()
        .arg("diff")
        .arg(&s1)
        .arg(&s2)
        .arg("-o")
        .arg(&changes)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let recs = records(&changes);
    let got: Vec<(String, String, u64)> = recs
        .iter()
        .map(|r| {
            (
                r["change"].as_str().unwrap().to_string(),
                r["ip"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("closed".to_string(), "198.19.0.4".to_string(), 80),
            ("opened".to_string(), "198.19.0.8".to_string(), 443),
        ],
        "exactly the two ports (http low -> A stays A, https info: no grade change)"
    );
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(text.contains("1 opened, 1 closed, 0 changed"), "{text}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<strong>1</strong> ports newly open, <strong>1</strong> closed, <strong>0</strong> changed"),
        "scan --baseline: the HTML report shows what changed"
    );
    assert!(page.contains("198.19.0.8:443/tcp") && page.contains("198.19.0.4:80/tcp"));

    for s in [&s1, &s2] {
        let run = synsweep().arg("diff").arg(s).arg(s).output().unwrap();
        assert_eq!(run.status.code(), Some(0), "self-diff");
        assert!(String::from_utf8_lossy(&run.stdout).contains("no changes"));
    }
}
