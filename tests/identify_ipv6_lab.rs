//! Service identification over IPv6, against the same real Debian daemons
//! as over IPv4 (openssh-server, nginx HTTP and TLS, redis-server, vsftpd,
//! memcached, mosquitto), each listening on both families in the lab's
//! target namespace, which answers for 198.19.0.0/16 and 2001:2::/64 alike
//! (`lab.sh --ipv6`: the scanner reaches 2001:2::/64 through a gateway it
//! finds by neighbour discovery, so follow-ups are Ethernet frames to the
//! resolved next hop). One port is a redirect (nftables `inet` nat: redis
//! behind 7379, for both families); one is closed.
//!
//! What it must show, scanned with the defaults:
//! - an IPv6 scan finds the same open ports as `--no-identify`, and names
//!   every service right, with the product and version each daemon states;
//! - a mixed IPv4 + IPv6 scan names the same protocols, products, versions
//!   and TLS facts (version, cipher, the certificate as `openssl x509`
//!   reads it) on the IPv6 hosts as on the IPv4 ones;
//! - the same for an on-link IPv6 host (reached at the MAC our own
//!   neighbour discovery found), over a layer-3 link (the VPN lab: bare
//!   IPv6 on a tun) and over `::1` (a raw IPv6 socket, daemons in the
//!   scanner's namespace);
//! - the RST guard (one `inet` table) is gone after each scan.

mod common;

use common::Lab;
use common::daemons::Daemons;
use common::findings::records;
use common::run::{check, synsweep};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The IPv4 hosts (every daemon listens on every address of both families).
const REAL4: &str = "198.19.0.16/30";
/// The IPv6 hosts, as many.
const REAL6: &str = "2001:2::10/126";
const HOSTS: u8 = 4;

/// Port -> the protocol that answers there.
const SERVICES: [(u16, &str); 10] = [
    (21, "ftp"),
    (22, "ssh"),
    (80, "http"),
    (1883, "mqtt"),
    (4443, "tls"), // nginx TLS on a port nobody knows
    (6379, "redis"),
    (7379, "redis"), // redirected to redis
    (7777, "http"),  // nginx on a port nobody knows
    (8443, "tls"),
    (11211, "memcached"),
];
/// The port behind which redis answers through an nftables redirect
/// (prerouting: only where the scanner is another namespace).
const REDIRECTED: u16 = 7379;
/// Closed everywhere.
const CLOSED: u16 = 2000;

/// The services of a lab, with or without the redirect.
fn services(redirect: bool) -> Vec<(u16, &'static str)> {
    SERVICES
        .into_iter()
        .filter(|&(p, _)| redirect || p != REDIRECTED)
        .collect()
}

fn ports_arg(redirect: bool) -> String {
    services(redirect)
        .iter()
        .map(|(p, _)| p.to_string())
        .chain([CLOSED.to_string()])
        .collect::<Vec<_>>()
        .join(",")
}

fn hosts4() -> Vec<IpAddr> {
    (0..HOSTS)
        .map(|k| IpAddr::V4(Ipv4Addr::new(198, 19, 0, 16 + k)))
        .collect()
}

fn hosts6() -> Vec<IpAddr> {
    let base = u128::from("2001:2::10".parse::<Ipv6Addr>().unwrap());
    (0..HOSTS)
        .map(|k| IpAddr::V6(Ipv6Addr::from(base + k as u128)))
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("ipv6 identify lab: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "ipv6 identify lab: {cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn in_target(lab: &Lab, program: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", lab.target_ns(), program])
        .args(args);
    c
}

/// Wait until something listens on each TCP port in the target namespace,
/// over IPv6 and (unless a dual-stack socket, `-6` only, takes both) over
/// IPv4.
fn wait_tcp(lab: &Lab, daemons: &mut Daemons, ports: &[u16], dual_stack: &[u16]) {
    let end = Instant::now() + Duration::from_secs(20);
    for &p in ports {
        let families: &[&str] = if dual_stack.contains(&p) {
            &["-6"]
        } else {
            &["-4", "-6"]
        };
        for &family in families {
            loop {
                let out = in_target(lab, "ss", &["-Htln", family, &format!("sport = :{p}")])
                    .output()
                    .expect("ss");
                if !out.stdout.is_empty() {
                    break;
                }
                for (name, c) in &mut daemons.0 {
                    if let Ok(Some(st)) = c.try_wait() {
                        panic!("ipv6 identify lab: {name} exited ({st}) before tcp/{p} was open");
                    }
                }
                assert!(
                    Instant::now() < end,
                    "ipv6 identify lab: nothing listens on tcp/{p} ({family})"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Every daemon on both families in the target namespace of `lab`, and
/// the redirect if asked.
fn start_daemons(lab: &Lab, dir: &Path, redirect: bool) -> Daemons {
    let d = |name: &str| dir.join(name).display().to_string();
    let mut daemons = Daemons(Vec::new());

    std::fs::create_dir_all("/run/sshd").unwrap();
    run_ok(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f", &d("hostkey")]));
    daemons.start(
        lab,
        "/usr/sbin/sshd",
        &[
            "-D",
            "-e",
            "-f",
            "/dev/null",
            "-h",
            &d("hostkey"),
            "-o",
            "AddressFamily=any",
            "-o",
            "ListenAddress=0.0.0.0:22",
            "-o",
            "ListenAddress=[::]:22",
            "-o",
            "MaxStartups=2000",
            "-o",
            "PidFile=none",
        ],
    );
    run_ok(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=synsweep-lab",
        "-days",
        "2",
        "-keyout",
        &d("tls.key"),
        "-out",
        &d("tls.crt"),
    ]));
    std::fs::create_dir_all(dir.join("nginx/logs")).unwrap();
    write(
        &dir.join("nginx.conf"),
        &format!(
            "daemon off;\nmaster_process off;\nuser root;\nworker_processes 1;\npid {pid};\n\
             error_log stderr;\nevents {{ worker_connections 4096; }}\n\
             http {{\n access_log off;\n client_body_temp_path {t}/body;\n proxy_temp_path {t}/proxy;\n\
             fastcgi_temp_path {t}/fcgi;\n uwsgi_temp_path {t}/uwsgi;\n scgi_temp_path {t}/scgi;\n\
             server {{ listen 80; listen [::]:80; listen 7777; listen [::]:7777;\n\
             location / {{ return 200 \"lab\\n\"; }} }}\n\
             server {{ listen 8443 ssl; listen [::]:8443 ssl; listen 4443 ssl; listen [::]:4443 ssl;\n\
             ssl_certificate {crt}; ssl_certificate_key {key};\n\
             location / {{ return 200 \"lab\\n\"; }} }}\n}}\n",
            pid = d("nginx.pid"),
            t = d("nginx"),
            crt = d("tls.crt"),
            key = d("tls.key"),
        ),
    );
    daemons.start(
        lab,
        "/usr/sbin/nginx",
        &["-p", &d("nginx"), "-c", &d("nginx.conf")],
    );
    daemons.start(
        lab,
        "redis-server",
        &[
            "--port",
            "6379",
            "--bind",
            "0.0.0.0",
            "::",
            "--protected-mode",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &d(""),
        ],
    );
    // vsftpd on [::] (dual-stack: it takes IPv4 connections too).
    std::fs::create_dir_all(dir.join("ftp-empty")).unwrap();
    write(
        &dir.join("vsftpd.conf"),
        &format!(
            "listen=NO\nlisten_ipv6=YES\nbackground=NO\nanonymous_enable=NO\nlocal_enable=YES\n\
             seccomp_sandbox=NO\nmax_clients=0\nmax_per_ip=0\nsecure_chroot_dir={}\n",
            d("ftp-empty")
        ),
    );
    daemons.start(lab, "/usr/sbin/vsftpd", &[&d("vsftpd.conf")]);
    // memcached without -l listens on every address of both families.
    daemons.start(
        lab,
        "memcached",
        &["-u", "root", "-p", "11211", "-U", "0", "-c", "4096"],
    );
    write(
        &dir.join("mosquitto.conf"),
        "listener 1883\nallow_anonymous true\nmax_connections -1\n",
    );
    daemons.start(lab, "mosquitto", &["-c", &d("mosquitto.conf")]);
    wait_tcp(
        lab,
        &mut daemons,
        &[21, 22, 80, 1883, 4443, 6379, 7777, 8443, 11211],
        &[21],
    );
    if !redirect {
        return daemons;
    }
    // redis behind 7379, for both families.
    let script = format!(
        "table inet idlab6 {{\n chain pre {{\n  type nat hook prerouting priority dstnat; policy accept;\n\
         tcp dport {REDIRECTED} redirect to :6379\n }}\n}}\n"
    );
    let mut child = in_target(lab, "nft", &["-f", "-"])
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
    assert!(
        child.wait().unwrap().success(),
        "ipv6 identify lab: nft redirect"
    );
    daemons
}

/// The upstream version of a Debian package (`1:9.2p1-2+deb12u3` -> `9.2p1`).
fn upstream(pkg: &str) -> String {
    let v = run_ok(Command::new("dpkg-query").args(["-W", "-f", "${Version}", pkg]));
    let v = v.trim();
    let v = v.split_once(':').map_or(v, |x| x.1);
    v.rsplit_once('-').map_or(v, |x| x.0).to_string()
}

/// What a daemon says its version is: the word after `prefix`.
fn daemon_says(program: &str, arg: &str, prefix: &str) -> String {
    let out = Command::new(program).arg(arg).output().expect(program);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| l.split_once(prefix).map(|x| x.1))
        .unwrap_or_else(|| panic!("{program} {arg} says no {prefix:?}: {text}"))
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The lab certificate as `openssl x509` reads it: SHA-256 fingerprint
/// (lowercase hex) and subject.
fn cert_truth(crt: &Path) -> (String, String) {
    let out = run_ok(Command::new("openssl").args([
        "x509",
        "-in",
        crt.to_str().unwrap(),
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
        "-fingerprint",
        "-sha256",
    ]));
    let field = |k: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(k))
            .unwrap_or_else(|| panic!("no {k} in {out}"))
            .trim()
            .to_string()
    };
    (
        field("sha256 Fingerprint=")
            .replace(':', "")
            .to_ascii_lowercase(),
        field("subject="),
    )
}

fn scan(
    lab: &Lab,
    out: &Path,
    targets: &[&str],
    redirect: bool,
    extra: &[&str],
) -> (Vec<Value>, String) {
    let o = lab.run_in_scanner(
        synsweep()
            .arg("scan")
            .args(targets)
            .args(["-p", &ports_arg(redirect), "--rate", "2000"])
            .args(["--wait", "2", "--seed", "7", "-o"])
            .arg(out)
            .args(extra)
            .current_dir(out.parent().unwrap()),
    );
    check(&o);
    (
        records(out),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ip_of(r: &Value) -> IpAddr {
    r["ip"].as_str().unwrap().parse().unwrap()
}

/// The port records (one per open port), by (address, port).
fn ports(recs: &[Value]) -> BTreeMap<(IpAddr, u16), &Value> {
    let mut m = BTreeMap::new();
    for r in recs
        .iter()
        .filter(|r| r["state"] == "open" && r["reason"] == "syn-ack")
    {
        let k = (ip_of(r), r["port"].as_u64().unwrap() as u16);
        assert!(m.insert(k, r).is_none(), "two records for {k:?}");
    }
    m
}

fn truth(hosts: &[IpAddr], redirect: bool) -> BTreeSet<(IpAddr, u16)> {
    let services = services(redirect);
    hosts
        .iter()
        .flat_map(|&h| services.iter().map(move |&(p, _)| (h, p)))
        .collect()
}

fn guard_tables(lab: &Lab) -> Vec<String> {
    let out = lab.run_in_scanner(Command::new("nft").args(["list", "tables"]));
    assert!(out.status.success(), "nft list tables");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("table inet synsweep_"))
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

/// What identification says of a port, family aside.
fn facts(r: &Value) -> Value {
    serde_json::json!({
        "protocol": r["protocol"],
        "product": r["product"],
        "version": r["version"],
        "http_status": r["http"]["status"],
        "http_server": r["http"]["server"],
        "tls": r["tls"],
        "pseudo": r["pseudo"],
    })
}

/// Every service named right, with the facts its daemon states.
fn named_right(at: &BTreeMap<(IpAddr, u16), &Value>, hosts: &[IpAddr], dir: &Path, redirect: bool) {
    let ssh = upstream("openssh-server");
    let nginx = daemon_says("/usr/sbin/nginx", "-v", "nginx/");
    let vsftpd = upstream("vsftpd");
    let memcached = daemon_says("memcached", "-V", "memcached ");
    let (sha256, subject) = cert_truth(&dir.join("tls.crt"));
    for &h in hosts {
        let r = |port: u16| {
            *at.get(&(h, port))
                .unwrap_or_else(|| panic!("{h}:{port} missing"))
        };
        for (port, protocol) in services(redirect) {
            assert_eq!(r(port)["protocol"], protocol, "{h}:{port}: {}", r(port));
            assert_ne!(r(port)["pseudo"], true, "{h}:{port}");
        }
        for (port, product, version) in [
            (22, "OpenSSH", &ssh),
            (80, "nginx", &nginx),
            (7777, "nginx", &nginx),
            (21, "vsFTPd", &vsftpd),
            (11211, "memcached", &memcached),
        ] {
            assert_eq!(
                (r(port)["product"].as_str(), r(port)["version"].as_str()),
                (Some(product), Some(version.as_str())),
                "{h}:{port}: {}",
                r(port)
            );
        }
        for port in [80, 7777] {
            assert_eq!(r(port)["http"]["status"], 200, "{h}:{port}");
            assert_eq!(r(port)["http"]["server"], format!("nginx/{nginx}"));
        }
        for port in [8443, 4443] {
            let tls = &r(port)["tls"];
            assert!(
                tls["version"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("TLSv1.")),
                "{h}:{port}: {tls}"
            );
            assert!(
                tls["cipher"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("TLS_")),
                "{h}:{port}: {tls}"
            );
            let cert = &tls["cert"];
            assert_eq!(cert["sha256"], sha256.as_str(), "{h}:{port}: {tls}");
            assert_eq!(cert["subject"], subject.as_str(), "{h}:{port}");
            assert_eq!(cert["self_signed"], true, "{h}:{port}");
            assert_eq!(
                (cert["key"].as_str(), cert["key_bits"].as_u64()),
                (Some("rsa"), Some(2048)),
                "{h}:{port}"
            );
        }
    }
}

#[test]
fn ipv6_services_are_identified_as_over_ipv4() {
    let dir = tempfile::tempdir().unwrap();
    let lab = Lab::builder().ipv6(None).build();
    let _daemons = start_daemons(&lab, dir.path(), true);
    let (v4, v6) = (hosts4(), hosts6());

    // IPv6 alone: the same open ports as a SYN scan, every one named.
    let (plain, _) = scan(
        &lab,
        &dir.path().join("plain6.ndjson"),
        &[REAL6],
        true,
        &["--no-identify"],
    );
    assert_eq!(
        ports(&plain).keys().copied().collect::<BTreeSet<_>>(),
        truth(&v6, true),
        "--no-identify over IPv6"
    );
    assert!(plain.iter().all(|r| r.get("protocol").is_none()));
    let (recs6, stderr) = scan(&lab, &dir.path().join("ident6.ndjson"), &[REAL6], true, &[]);
    assert!(
        !stderr.contains("not identified"),
        "identification off: {stderr}"
    );
    let at6 = ports(&recs6);
    assert_eq!(
        at6.keys().copied().collect::<BTreeSet<_>>(),
        truth(&v6, true),
        "identifying over IPv6"
    );
    named_right(&at6, &v6, dir.path(), true);
    assert!(guard_tables(&lab).is_empty(), "RST guard left behind");

    // Both families in one scan: the same facts on each.
    let (mixed, _) = scan(
        &lab,
        &dir.path().join("mixed.ndjson"),
        &[REAL4, REAL6],
        true,
        &[],
    );
    let at = ports(&mixed);
    let all: Vec<IpAddr> = v4.iter().chain(&v6).copied().collect();
    assert_eq!(
        at.keys().copied().collect::<BTreeSet<_>>(),
        truth(&all, true),
        "mixed scan"
    );
    named_right(&at, &all, dir.path(), true);
    for (h4, h6) in v4.iter().zip(&v6) {
        for (port, _) in SERVICES {
            let (a, b) = (facts(at[&(*h4, port)]), facts(at[&(*h6, port)]));
            if port == 6379 || port == 7379 {
                // redis states its version only when INFO came in the
                // reply it was named from: compare the name.
                assert_eq!(a["protocol"], b["protocol"], "{port}");
                continue;
            }
            // The same name, facts, handshake and certificate.
            assert_eq!(a, b, "{h4} and {h6} on {port}");
        }
    }
    // The same findings of risk on each family (TLS certificate problems
    // included), address aside.
    let aspects = |hosts: &[IpAddr]| -> BTreeMap<(u16, String), usize> {
        let mut m = BTreeMap::new();
        for r in mixed.iter().filter(|r| hosts.contains(&ip_of(r))) {
            *m.entry((
                r["port"].as_u64().unwrap() as u16,
                r["reason"].as_str().unwrap().to_string(),
            ))
            .or_default() += 1;
        }
        m
    };
    assert_eq!(aspects(&v4), aspects(&v6));
    assert!(
        aspects(&v6).contains_key(&(8443, "tls-cert-self-signed".into())),
        "{:?}",
        aspects(&v6)
    );
    assert!(guard_tables(&lab).is_empty(), "RST guard left behind");

    // An on-link IPv6 host (the target namespace's own address on the
    // veth's /64): follow-ups go to the MAC our neighbour discovery found.
    let on_link: IpAddr = "2001:2:0:ff::2".parse().unwrap();
    let (recs, stderr) = scan(
        &lab,
        &dir.path().join("onlink.ndjson"),
        &["2001:2:0:ff::2"],
        true,
        &[],
    );
    assert!(
        stderr.contains("1 of 1 IPv6 hosts answered neighbour discovery"),
        "{stderr}"
    );
    let at = ports(&recs);
    assert_eq!(
        at.keys().copied().collect::<BTreeSet<_>>(),
        truth(&[on_link], true)
    );
    named_right(&at, &[on_link], dir.path(), true);
}

/// The other ways follow-ups go out: bare IPv6 on a layer-3 link (the VPN
/// lab: a tun, no link header) and a raw IPv6 socket to `::1` (the
/// loopback lab, daemons in the scanner's own namespace). Each names every
/// service on IPv6 as on IPv4.
#[test]
fn ipv6_identification_over_a_layer3_link_and_loopback() {
    for (shape, v4, v6) in [("vpn", REAL4, REAL6), ("loopback", "127.0.0.1", "::1")] {
        let dir = tempfile::tempdir().unwrap();
        let lab = match shape {
            "vpn" => Lab::builder().ipv6(None).build_vpn(),
            _ => Lab::builder().ipv6(None).build_loopback(),
        };
        let _daemons = start_daemons(&lab, dir.path(), false);
        let (hosts4, hosts6): (Vec<IpAddr>, Vec<IpAddr>) = match shape {
            "vpn" => (hosts4(), hosts6()),
            _ => (
                vec!["127.0.0.1".parse().unwrap()],
                vec!["::1".parse().unwrap()],
            ),
        };
        let (recs, stderr) = scan(
            &lab,
            &dir.path().join("mixed.ndjson"),
            &[v4, v6],
            false,
            &[],
        );
        assert!(!stderr.contains("not identified"), "{shape}: {stderr}");
        let at = ports(&recs);
        let all: Vec<IpAddr> = hosts4.iter().chain(&hosts6).copied().collect();
        assert_eq!(
            at.keys().copied().collect::<BTreeSet<_>>(),
            truth(&all, false),
            "{shape}"
        );
        named_right(&at, &all, dir.path(), false);
        assert!(
            guard_tables(&lab).is_empty(),
            "{shape}: RST guard left behind"
        );
    }
}
