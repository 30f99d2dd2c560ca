//! Other scanners' results read by `synsweep report` and `synsweep diff`:
//! nmap (`-sS -sV -oX`, and `-oG` to know independently what it found),
//! masscan (`-oJ`, `-oL`) and zmap (`-O csv`) run inside the scanner
//! namespace of a lab against the lab only (198.19.0.8/29: hosts .8, .10,
//! .12, .14 alive, listeners on 22 and 80 that accept and close, and an
//! SSH-speaking listener on 2222). `report` over each file gives exactly the
//! open ports that tool found, which are the lab's truth; `diff` between
//! nmap's XML and a synsweep scan of the same lab reports no change.
//!
//! naabu is not packaged by Debian: its records are covered by unit tests
//! on samples built from its documented format (src/output/import/naabu.rs).
//!
//! Also, without a lab: what `report` and `diff` say about files that are
//! not results (exit 2, one line) and about an nmap scan that found nothing.

mod common;

use common::Lab;
use common::findings::{pairs, records};
use common::run::{check, synsweep};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RANGE: &str = "198.19.0.8/29";
const PORTS: [u16; 3] = [22, 80, 2222];
const SSH_BANNER: &[u8] = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";

/// A child killed (by its own pid) when dropped, also when the test panics.
struct Guard(Option<Child>);
impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Run a scanner in the lab's scanner namespace, its output to `log`.
/// masscan 1.3.2 may hang after its wait ends (its countdown goes
/// negative: its receive thread waits for a packet that never comes, and
/// an interrupted masscan exits without flushing its output file, so its
/// output goes to a line-buffered stdout): then, or after `limit`, it is
/// interrupted three times, and killed if still there.
/// With `stdout`, the scanner's standard output goes there.
fn run_bounded(
    lab: &Lab,
    cmd: &mut Command,
    log: &Path,
    stdout: Option<&Path>,
    limit: Duration,
) -> String {
    let f = std::fs::File::create(log).unwrap();
    let out = match stdout {
        Some(p) => std::fs::File::create(p).unwrap(),
        None => f.try_clone().unwrap(),
    };
    let child = lab
        .wrap_in_scanner(cmd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(f)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?} (is it installed?): {e}"));
    let mut g = Guard(Some(child));
    let c = g.0.as_mut().unwrap();
    let t0 = Instant::now();
    while c.try_wait().unwrap().is_none() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail = &text[text.len().saturating_sub(200)..];
        if t0.elapsed() > limit || tail.contains("waiting -") {
            for _ in 0..3 {
                // SAFETY: a signal to our own child (`ip netns exec` execs the scanner).
                unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
                std::thread::sleep(Duration::from_millis(200));
            }
            let end = Instant::now() + Duration::from_secs(5);
            while c.try_wait().unwrap().is_none() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(50));
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(g);
    std::fs::read_to_string(log).unwrap_or_default()
}

/// `synsweep report FILE -o OUT.ndjson`; the open (ip, port) pairs.
fn report_pairs(file: &Path, dir: &Path) -> BTreeSet<(Ipv4Addr, u16)> {
    let out = dir.join(format!(
        "{}.report.ndjson",
        file.file_name().unwrap().to_string_lossy()
    ));
    let run = synsweep()
        .arg("report")
        .arg(file)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    check(&run);
    pairs(&records(&out), "open")
}

/// An SSH-speaking listener on 0.0.0.0:2222 in the target namespace.
fn ssh_banner_listener(lab: &Lab) {
    let l = lab.in_target(|| TcpListener::bind(("0.0.0.0", 2222)).unwrap());
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.write_all(SSH_BANNER);
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf);
            });
        }
    });
}

#[test]
fn report_and_diff_read_what_nmap_masscan_and_zmap_found_in_the_lab() {
    let t0 = Instant::now();
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.1", "0.0.0.0")
        .build();
    ssh_banner_listener(&lab);
    let mut truth = lab.ground_truth_open(&[22, 80], RANGE);
    for h in [8u8, 10, 12, 14] {
        assert!(lab.is_alive(Ipv4Addr::new(198, 19, 0, h)));
        truth.insert((Ipv4Addr::new(198, 19, 0, h), 2222));
    }
    assert_eq!(truth.len(), 12);
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| -> PathBuf { dir.path().join(n) };
    let ports = &PORTS.map(|p| p.to_string()).join(",");
    let iface = lab.scanner_iface().to_string();
    let src = lab.scanner_addr().to_string();
    let mac = lab.router_mac();

    // nmap: SYN scan with service detection, XML and grepable output.
    let log = run_bounded(
        &lab,
        Command::new("nmap")
            .args(["-n", "-Pn", "-sS", "-sV", "--version-light", "-T4"])
            .args(["--max-retries", "1", "-p", ports, "-e", &iface, "-S", &src])
            .arg("-oX")
            .arg(p("nmap.xml"))
            .arg("-oG")
            .arg(p("nmap.gnmap"))
            .arg(RANGE),
        &p("nmap.log"),
        None,
        Duration::from_secs(60),
    );
    let gnmap = std::fs::read_to_string(p("nmap.gnmap")).unwrap_or_else(|e| panic!("{e}: {log}"));
    let mut nmap_found = BTreeSet::new();
    for l in gnmap.lines().filter(|l| l.starts_with("Host: ")) {
        let ip: Ipv4Addr = l.split_whitespace().nth(1).unwrap().parse().unwrap();
        if let Some(ports) = l.split("Ports: ").nth(1) {
            for e in ports.split(", ") {
                let f: Vec<&str> = e.split('/').collect();
                if f.len() > 2 && f[1] == "open" {
                    nmap_found.insert((ip, f[0].trim().parse::<u16>().unwrap()));
                }
            }
        }
    }
    assert_eq!(nmap_found, truth, "nmap vs the lab\n{log}\n{gnmap}");
    assert_eq!(report_pairs(&p("nmap.xml"), dir.path()), nmap_found);
    // nmap -sV named SSH, its product and version, on 2222.
    let recs = records(&dir.path().join("nmap.xml.report.ndjson"));
    let ssh = recs
        .iter()
        .find(|r| r["port"] == 2222)
        .expect("a 2222 record");
    assert_eq!(ssh["protocol"], "ssh", "{ssh}");
    assert_eq!(ssh["product"], "OpenSSH", "{ssh}");
    assert!(
        ssh["version"].as_str().unwrap().starts_with("9.2p1"),
        "{ssh}"
    );
    assert_eq!(ssh["category"], "administrative", "{ssh}");

    // masscan: -oL and -oJ, one run each.
    let masscan = |flag: &str, out: &Path, log: &Path| {
        run_bounded(
            &lab,
            Command::new("stdbuf")
                .args(["-oL", "masscan", RANGE])
                .args([
                    "-p",
                    ports,
                    "--rate",
                    "2000",
                    "--retries",
                    "1",
                    "--wait",
                    "1",
                ])
                .args([
                    "--adapter",
                    &iface,
                    "--adapter-ip",
                    &src,
                    "--router-mac",
                    &mac,
                ])
                .args([flag, "-"]),
            log,
            Some(out),
            Duration::from_secs(20),
        )
    };
    let log = masscan("-oL", &p("masscan.txt"), &p("masscan.txt.log"));
    let list = std::fs::read_to_string(p("masscan.txt")).unwrap_or_else(|e| panic!("{e}: {log}"));
    let masscan_found: BTreeSet<(Ipv4Addr, u16)> = list
        .lines()
        .filter(|l| l.starts_with("open "))
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            (w[3].parse().unwrap(), w[2].parse().unwrap())
        })
        .collect();
    assert_eq!(
        masscan_found, truth,
        "masscan -oL vs the lab\n{log}\n{list}"
    );
    assert_eq!(report_pairs(&p("masscan.txt"), dir.path()), masscan_found);
    let log = masscan("-oJ", &p("masscan.json"), &p("masscan.json.log"));
    let json = std::fs::read_to_string(p("masscan.json")).unwrap_or_else(|e| panic!("{e}: {log}"));
    let json_found: BTreeSet<(Ipv4Addr, u16)> = json
        .lines()
        .filter(|l| l.contains("\"open\""))
        .map(|l| {
            let ip = l
                .split("\"ip\": \"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let port = l
                .split("\"port\": ")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap();
            (ip.parse().unwrap(), port.trim().parse().unwrap())
        })
        .collect();
    assert_eq!(json_found, truth, "masscan -oJ vs the lab\n{log}\n{json}");
    assert_eq!(report_pairs(&p("masscan.json"), dir.path()), json_found);

    // zmap: one port per run; CSV with saddr and sport.
    let log = run_bounded(
        &lab,
        Command::new("zmap")
            .args([
                "-p", "80", "-r", "2000", "-c", "1", "-i", &iface, "-G", &mac, "-S", &src,
            ])
            .args(["--blacklist-file=/dev/null", "-O", "csv"])
            .args(["-f", "saddr,sport,classification,success", "-o"])
            .arg(p("zmap.csv"))
            .arg(RANGE),
        &p("zmap.log"),
        None,
        Duration::from_secs(30),
    );
    let csv = std::fs::read_to_string(p("zmap.csv")).unwrap_or_else(|e| panic!("{e}: {log}"));
    let zmap_found: BTreeSet<(Ipv4Addr, u16)> = csv
        .lines()
        .skip(1)
        .filter(|l| l.ends_with(",synack,1"))
        .map(|l| {
            let w: Vec<&str> = l.split(',').collect();
            (w[0].parse().unwrap(), w[1].parse().unwrap())
        })
        .collect();
    let truth80: BTreeSet<_> = truth.iter().filter(|p| p.1 == 80).cloned().collect();
    assert_eq!(zmap_found, truth80, "zmap vs the lab\n{log}\n{csv}");
    assert_eq!(report_pairs(&p("zmap.csv"), dir.path()), zmap_found);

    // synsweep's own scan of the same lab, then diff against nmap's XML.
    let ours = p("synsweep.ndjson");
    check(
        &lab.run_in_scanner(
            synsweep()
                .args([
                    "scan",
                    RANGE,
                    "-p",
                    ports,
                    "--rate",
                    "2000",
                    "--retries",
                    "2",
                ])
                .args(["--wait", "1", "-q", "-o"])
                .arg(&ours),
        ),
    );
    assert_eq!(pairs(&records(&ours), "open"), truth, "synsweep vs the lab");
    for (a, b) in [(p("nmap.xml"), ours.clone()), (ours.clone(), p("nmap.xml"))] {
        let run = synsweep().arg("diff").arg(&a).arg(&b).output().unwrap();
        let text = String::from_utf8_lossy(&run.stdout);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{text}{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(text.contains("no changes"), "{text}");
    }
    eprintln!("import lab: {:.1} s", t0.elapsed().as_secs_f64());
}

#[test]
fn files_that_are_not_results_are_bad_input_and_an_empty_nmap_run_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = |n: &str, b: &[u8]| {
        let p = dir.path().join(n);
        std::fs::write(&p, b).unwrap();
        p
    };
    let good = file(
        "good.ndjson",
        b"{\"ip\":\"198.19.0.2\",\"port\":22,\"proto\":\"tcp\",\"state\":\"open\"}\n",
    );
    let out = dir.path().join("r.ndjson");
    for (bad, says) in [
        (file("zero.ndjson", b""), "empty file"),
        (file("garbage.txt", b"this is not a scan\nat all\n"), "not a results file"),
        (file("svg.xml", b"<?xml version=\"1.0\"?><svg/>"), "not a results file"),
        (
            file("mid.ndjson", b"{\"ip\":\"198.19.0.2\",\"port\":22}\nnot json\n{\"ip\":\"198.19.0.3\",\"port\":22}\n"),
            "mid.ndjson:2:",
        ),
        (file("bad.csv", b"saddr,sport\n198.19.0.2,x\n"), "bad.csv:2:"),
    ] {
        for args in [
            vec!["report".into(), bad.clone().into_os_string(), "-o".into(), out.clone().into_os_string()],
            vec!["merge".into(), bad.clone().into_os_string(), "-o".into(), out.clone().into_os_string()],
            vec!["diff".into(), good.clone().into_os_string(), bad.clone().into_os_string()],
        ] {
            let run = synsweep().args(&args).output().unwrap();
            let err = String::from_utf8_lossy(&run.stderr);
            assert_eq!(run.status.code(), Some(2), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(err.starts_with("synsweep: ") && err.contains(says), "{args:?}: {err}");
        }
    }
    // nmap found nothing open: a valid, empty result (an A report).
    let empty = file(
        "empty.xml",
        b"<?xml version=\"1.0\"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner=\"nmap\" start=\"1700000000\">\n<host><status state=\"up\"/><address addr=\"198.19.0.9\" addrtype=\"ipv4\"/><ports><extraports state=\"closed\" count=\"3\"/></ports></host>\n<runstats><finished time=\"1700000001\"/></runstats>\n</nmaprun>\n",
    );
    let json = dir.path().join("r.json");
    check(
        &synsweep()
            .arg("report")
            .arg(&empty)
            .arg("-o")
            .arg(&json)
            .output()
            .unwrap(),
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(doc["findings"].as_array().unwrap().len(), 0);
}
