//! The demo (`scripts/run.sh`, the README's first command) checked against
//! its lab's ground truth: the same lab builder and the same scan
//! (`scripts/demo_lab.sh up` / `scan`), with a seed and a smaller size.
//!
//! Real Debian daemons serve IPv4 and IPv6 hosts, some on ports where nobody
//! expects them, a middlebox SYN-ACKs every port, memcached answers over
//! UDP; the plan the lab was built from (`truth.tsv`, from
//! `scripts/demo_plan.py`) says who answers where. What must hold:
//!
//! - every open port of the plan is found, in both families, TCP and UDP,
//!   and nothing is reported open that is not (the middlebox aside, whose
//!   every port is open and `pseudo: true`);
//! - the IPv4 TCP services are named right (none wrongly, at least five
//!   protocols), services on unexpected ports as what answers there;
//! - memcached over UDP is an amplifier (`amplification` >= 2);
//! - the demo's summary and HTML report show named services, the pseudo
//!   host, the amplifiers and IPv6;
//! - `down` stops every daemon the lab started and removes its namespaces.
//!
//! Needs root and the daemons' packages (scripts/test.sh installs them);
//! fails, never skips, when the lab cannot be built.

mod common;

use common::findings::records;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

const DEMO_LAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo_lab.sh");

/// The lab; `demo_lab.sh down` when dropped, also when the test panics.
struct DemoLab {
    name: String,
    target_ns: String,
    truth: String,
}

impl Drop for DemoLab {
    fn drop(&mut self) {
        let _ = Command::new(DEMO_LAB).args(["down", &self.name]).output();
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("demo lab: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "demo lab: {cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn up(dir: &Path) -> DemoLab {
    let name = format!("dl{}", std::process::id());
    let out = run(Command::new(DEMO_LAB)
        .env("DEMO_OWNER", std::process::id().to_string())
        .args(["up", &name])
        .arg(dir.join("lab"))
        .args(["--seed", "11", "--hosts", "10", "--hosts6", "4"]));
    let info: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let get = |k: &str| {
        info.get(k)
            .unwrap_or_else(|| panic!("demo lab: no {k} in {info:?}"))
            .clone()
    };
    DemoLab {
        name,
        target_ns: get("target_ns"),
        truth: get("truth"),
    }
}

/// An open port of the plan: (address, proto, port).
type Pair = (String, String, u64);

struct Truth {
    /// Open port -> (backend port, protocol).
    open: BTreeMap<Pair, (u64, String)>,
    middlebox: String,
    /// Certificate kind -> TLS backend port.
    certs: BTreeMap<String, u64>,
}

fn truth(path: &str) -> Truth {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut t = Truth {
        open: BTreeMap::new(),
        middlebox: String::new(),
        certs: BTreeMap::new(),
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[0] {
            "tcp" | "udp" => {
                t.open.insert(
                    (f[1].to_string(), f[0].to_string(), f[2].parse().unwrap()),
                    (f[3].parse().unwrap(), f[4].to_string()),
                );
            }
            "middlebox" => t.middlebox = f[1].to_string(),
            "cert" => {
                t.certs.insert(f[2].to_string(), f[1].parse().unwrap());
            }
            _ => panic!("demo lab: truth line {line:?}"),
        }
    }
    assert!(!t.middlebox.is_empty() && t.certs.len() == 4, "{text}");
    t
}

fn pair(r: &Value) -> Pair {
    (
        r["ip"].as_str().unwrap().to_string(),
        r["proto"].as_str().unwrap().to_string(),
        r["port"].as_u64().unwrap(),
    )
}

fn ns_pids(ns: &str) -> Vec<i32> {
    let out = run(Command::new("ip").args(["netns", "pids", ns]));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn the_demo_finds_and_names_what_its_lab_runs() {
    let dir = tempfile::tempdir().unwrap();
    let lab = up(dir.path());
    let t = truth(&lab.truth);
    let out = dir.path().join("out");
    let scan = run(Command::new(DEMO_LAB)
        .args(["scan", &lab.name, env!("CARGO_BIN_EXE_synsweep")])
        .arg(&out)
        .args(["--seed", "5"])
        .current_dir(dir.path()));
    let stderr = String::from_utf8_lossy(&scan.stderr).into_owned();
    let findings = out.join("findings.ndjson");
    let recs = records(&findings);

    // Open ports: exactly the plan's, plus every scanned TCP port of the middlebox.
    let open: Vec<&Value> = recs
        .iter()
        .filter(|r| {
            r["state"] == "open" && (r["reason"] == "syn-ack" || r["reason"] == "udp-response")
        })
        .collect();
    let found: BTreeSet<Pair> = open.iter().map(|r| pair(r)).collect();
    let want: BTreeSet<Pair> = t.open.keys().cloned().collect();
    let missing: Vec<&Pair> = want.difference(&found).collect();
    assert!(missing.is_empty(), "open ports not found: {missing:?}");
    let not_open: Vec<&Pair> = found
        .difference(&want)
        .filter(|p| p.0 != t.middlebox)
        .collect();
    assert!(not_open.is_empty(), "reported open but not: {not_open:?}");
    assert_eq!(open.len(), found.len(), "an open port reported twice");

    // The middlebox: every catalog TCP port open, all pseudo; nothing else pseudo.
    let catalog = run(common::run::synsweep().arg("catalog"));
    let tcp_ports = String::from_utf8_lossy(&catalog.stdout)
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|p| p.ends_with("/tcp"))
        })
        .count();
    let mb: Vec<&&Value> = open
        .iter()
        .filter(|r| r["ip"] == t.middlebox.as_str())
        .collect();
    assert_eq!(mb.len(), tcp_ports, "middlebox ports found");
    for r in &mb {
        assert_eq!(r["pseudo"], true, "{r}");
    }
    for r in open.iter().filter(|r| r["ip"] != t.middlebox.as_str()) {
        assert!(r.get("pseudo").is_none_or(|p| p == false), "pseudo: {r}");
    }
    assert!(
        stderr.contains(&format!(
            "1 hosts answer on every port with nothing behind (middlebox or tarpit; their ports are marked pseudo): {}",
            t.middlebox
        )),
        "{stderr}"
    );

    // Names: TCP by identification (both families), UDP by the probe that
    // got an answer.
    let (mut right, mut unnamed, mut wrong) =
        (BTreeMap::<String, u32>::new(), Vec::new(), Vec::new());
    for r in &open {
        let p = pair(r);
        let Some((backend, proto)) = t.open.get(&p) else {
            continue;
        };
        match r.get("protocol").and_then(Value::as_str) {
            Some(got) if got == proto => {
                *right.entry(proto.clone()).or_default() += 1;
                // Where nobody expects the service, it is rated as what
                // answers (ssh on 443 is ssh; telnet on 2323 stays telnet-alt).
                if p.1 == "tcp" && *backend != p.2 && proto != "tls" {
                    let service = r["service"].as_str().unwrap();
                    assert!(service.starts_with(proto.as_str()), "{r}");
                }
            }
            Some(_) => wrong.push(r.to_string()),
            None => unnamed.push(r.to_string()),
        }
    }
    assert!(wrong.is_empty(), "named wrongly: {wrong:#?}");
    let total: u32 = right.values().sum::<u32>() + unnamed.len() as u32;
    let named: u32 = right.values().sum();
    eprintln!("demo lab: {named} of {total} services named right: {right:?}");
    assert!(
        named * 100 >= total * 95,
        "named {named} of {total}; unnamed: {unnamed:#?}"
    );
    assert!(right.len() >= 5, "protocols named right: {right:?}");
    for p in ["ssh", "http", "tls", "ftp", "telnet", "redis", "mqtt"] {
        assert!(right.contains_key(p), "{p} never named: {right:?}");
    }

    // Certificates with problems, where the findings carry certificate facts.
    let kind_of: BTreeMap<u64, &str> = t.certs.iter().map(|(k, p)| (*p, k.as_str())).collect();
    for r in &open {
        let Some(cert) = r
            .get("tls")
            .and_then(|t| t.get("cert"))
            .filter(|c| c.is_object())
        else {
            continue;
        };
        let Some((backend, _)) = t.open.get(&pair(r)) else {
            continue;
        };
        match kind_of.get(backend).copied() {
            Some("expired") => assert!(cert["not_after"].as_str().unwrap().contains("2024"), "{r}"),
            Some("self-signed") => assert_eq!(cert["self_signed"], true, "{r}"),
            Some("rsa1024") => assert_eq!(cert["key_bits"], 1024, "{r}"),
            Some("good") => assert_eq!(cert["self_signed"], false, "{r}"),
            _ => {}
        }
    }

    // UDP amplifiers: memcached on every host that runs it over UDP.
    let mut amplifiers = 0;
    for r in open
        .iter()
        .filter(|r| r["proto"] == "udp" && r["protocol"] == "memcached")
    {
        let a = r["amplification"].as_f64().unwrap_or(0.0);
        assert!(a >= 2.0, "memcached over UDP: {r}");
        amplifiers += 1;
    }
    assert!(amplifiers >= 1, "no UDP amplifier in {findings:?}");

    // IPv6: findings on every IPv6 host of the plan, TCP and UDP.
    let v6: BTreeSet<&Pair> = found.iter().filter(|p| p.0.contains(':')).collect();
    let v6_want: BTreeSet<&Pair> = want.iter().filter(|p| p.0.contains(':')).collect();
    assert_eq!(v6, v6_want, "IPv6 findings");
    assert!(v6.iter().any(|p| p.1 == "udp") && v6.iter().any(|p| p.1 == "tcp"));

    // What a person reads: the demo's summary and the report.
    let summary = run(Command::new(DEMO_LAB).args(["summary"]).arg(&findings));
    let summary = String::from_utf8_lossy(&summary.stdout).into_owned();
    eprintln!("{summary}");
    let n_protocols: usize = summary
        .lines()
        .find_map(|l| l.trim().split_once(" protocols named").map(|(n, _)| n))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no protocols line in {summary}"));
    assert!(n_protocols >= 5, "{summary}");
    assert!(
        summary.contains("1 pseudo host (") && summary.contains(&t.middlebox),
        "{summary}"
    );
    assert!(
        summary.lines().any(|l| l
            .trim()
            .strip_prefix(&format!("{amplifiers} UDP amplifier"))
            .is_some_and(|rest| rest.contains(": memcached 198.19.0."))),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("IPv6: {} findings on ", v6.len())),
        "{summary}"
    );
    assert!(summary.contains("ssh on 443/tcp"), "{summary}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("answer on every port without a real service"));
    assert!(
        html.contains("amplification "),
        "no amplifier in the report"
    );
    let v6_host = &v6.iter().next().unwrap().0;
    assert!(
        html.contains(v6_host.as_str()),
        "no IPv6 host in the report"
    );
    for p in ["ssh", "telnet", "redis"] {
        assert!(
            html.contains(&format!("<td>{p}</td>")),
            "{p} not in the report"
        );
    }
    assert!(out.join("findings.csv").exists());

    // Down: every daemon stopped, the namespaces gone.
    let pids = ns_pids(&lab.target_ns);
    assert!(pids.len() >= 10, "daemons in the lab: {pids:?}");
    let (name, tns) = (lab.name.clone(), lab.target_ns.clone());
    drop(lab);
    for ns in [tns.clone(), format!("sswlab-{name}-s")] {
        assert!(
            !Path::new("/run/netns").join(&ns).exists(),
            "namespace {ns} left"
        );
    }
    for p in pids {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let state = stat.rsplit(") ").next().unwrap_or("").chars().next();
        assert!(
            stat.is_empty() || state == Some('Z'),
            "process {p} of the lab still runs: {stat}"
        );
    }
}
