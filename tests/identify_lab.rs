//! Service identification in a real scan, against real Debian daemons in
//! the lab's target namespace (openssh-server, nginx, redis-server, vsftpd,
//! memcached, mosquitto, inetutils-telnetd behind socat), some on ports
//! where nobody expects them (nftables redirects in the target namespace),
//! and a block of middlebox hosts that SYN-ACK every port and never say a
//! word (every port redirected to a listener that never accepts).
//!
//! What it must show: every open port is found (the same set as
//! `--no-identify`), at least 99% of them are identified with the right
//! protocol and none wrongly, services on unexpected ports are rated as
//! what they are, every port of the middleboxes is pseudo (also in each
//! shard of a sharded scan), and no RST
//! suppression table is left behind after a normal exit, a SIGINT, or a
//! SIGKILL followed by the next run.

mod common;

use common::Lab;
use common::daemons::Daemons;
use common::findings::records;
use common::run::{check, synsweep};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The real hosts (every daemon listens on 0.0.0.0: all of them answer).
const REAL: &str = "198.19.0.0/28";
/// The middlebox hosts.
const MIDDLEBOX: &str = "198.19.1.0/29";
/// Where the middleboxes' connections go: a listener that never accepts.
const HOLD_PORT: u16 = 65000;

/// Port -> the protocol that answers there on a real host.
const SERVICES: [(u16, &str); 14] = [
    (21, "ftp"),
    (22, "ssh"),
    (23, "telnet"),
    (80, "http"),
    (443, "ssh"), // redirected to sshd
    (1883, "mqtt"),
    (4443, "tls"), // nginx TLS on a port nobody knows
    (6379, "redis"),
    (7379, "redis"),  // redirected to redis
    (7777, "http"),   // nginx on a port nobody knows
    (8080, "telnet"), // redirected to telnetd
    (8443, "tls"),
    (993, "tls"), // openssl s_server speaking TLS 1.0 only
    (11211, "memcached"),
];
/// A service of no known protocol that greets with a hostile banner:
/// a spreadsheet formula, markup and script, terminal escapes, then 5 KB of
/// binary junk.
const HOSTILE_PORT: u16 = 9999;
const HOSTILE_HEAD: &str = "=cmd|' /C calc'!A0<script>alert(1)</script>\\x1b[2J\\x1b]0;pwned\\x07";
/// Closed on the real hosts, open (SYN-ACK) on the middleboxes.
const CLOSED: std::ops::RangeInclusive<u16> = 2000..=2009;

fn ports_arg() -> String {
    SERVICES
        .iter()
        .map(|(p, _)| p.to_string())
        .chain([
            HOSTILE_PORT.to_string(),
            format!("{}-{}", CLOSED.start(), CLOSED.end()),
        ])
        .collect::<Vec<_>>()
        .join(",")
}

fn hosts(cidr: &str) -> Vec<Ipv4Addr> {
    let (a, bits) = cidr.split_once('/').unwrap();
    let a = u32::from(a.parse::<Ipv4Addr>().unwrap());
    let n = 1u32 << (32 - bits.parse::<u32>().unwrap());
    (a..a + n).map(Ipv4Addr::from).collect()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn run_ok(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("identify lab: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "identify lab: {cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn in_target(lab: &Lab, program: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", lab.target_ns(), program])
        .args(args);
    c
}

/// Wait until something listens on each TCP port in the target namespace.
fn wait_tcp(lab: &Lab, daemons: &mut Daemons, ports: &[u16]) {
    let end = Instant::now() + Duration::from_secs(20);
    for &p in ports {
        loop {
            let out = in_target(lab, "ss", &["-Htln", &format!("sport = :{p}")])
                .output()
                .expect("ss");
            if !out.stdout.is_empty() {
                break;
            }
            for (name, c) in &mut daemons.0 {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!("identify lab: {name} exited ({st}) before tcp/{p} was open");
                }
            }
            assert!(
                Instant::now() < end,
                "identify lab: nothing listens on tcp/{p}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Kills, when dropped, the telnetd processes socat forked in the target
/// namespace (one whose client went away without a word would outlive its
/// socat and the lab).
struct TelnetReaper(String);

impl Drop for TelnetReaper {
    fn drop(&mut self) {
        let Ok(out) = Command::new("ip").args(["netns", "pids", &self.0]).output() else {
            return;
        };
        for pid in String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() == "telnetd" {
                // SAFETY: signalling a process of this test's own lab.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// The lab: daemons, redirects and middleboxes in the target namespace.
fn identify_lab(dir: &Path) -> (Lab, Daemons, TelnetReaper) {
    let lab = Lab::builder().build();
    let reaper = TelnetReaper(lab.target_ns().to_string());
    let d = |name: &str| dir.join(name).display().to_string();
    let mut daemons = Daemons(Vec::new());

    // sshd: a host key of its own, many unauthenticated connections at once.
    std::fs::create_dir_all("/run/sshd").unwrap();
    run_ok(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f", &d("hostkey")]));
    daemons.start(
        &lab,
        "/usr/sbin/sshd",
        &[
            "-D",
            "-e",
            "-f",
            "/dev/null",
            "-h",
            &d("hostkey"),
            "-o",
            "ListenAddress=0.0.0.0:22",
            "-o",
            "MaxStartups=2000",
            "-o",
            "PidFile=none",
        ],
    );
    // nginx: HTTP on 80 and 7777, TLS on 8443 and 4443 (self-signed).
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
             server {{ listen 80; listen 7777; location / {{ return 200 \"lab\\n\"; }} }}\n\
             server {{ listen 8443 ssl; listen 4443 ssl; ssl_certificate {crt}; ssl_certificate_key {key};\n\
             location / {{ return 200 \"lab\\n\"; }} }}\n}}\n",
            pid = d("nginx.pid"),
            t = d("nginx"),
            crt = d("tls.crt"),
            key = d("tls.key"),
        ),
    );
    daemons.start(
        &lab,
        "/usr/sbin/nginx",
        &["-p", &d("nginx"), "-c", &d("nginx.conf")],
    );
    daemons.start(
        &lab,
        "openssl",
        &[
            "s_server",
            "-accept",
            "993",
            "-cert",
            &d("tls.crt"),
            "-key",
            &d("tls.key"),
            "-tls1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-quiet",
        ],
    );
    daemons.start(
        &lab,
        "redis-server",
        &[
            "--port",
            "6379",
            "--bind",
            "0.0.0.0",
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
    // vsftpd in the foreground; no logins needed, only its greeting.
    std::fs::create_dir_all(dir.join("ftp-empty")).unwrap();
    write(
        &dir.join("vsftpd.conf"),
        &format!(
            "listen=YES\nlisten_ipv6=NO\nbackground=NO\nanonymous_enable=NO\nlocal_enable=YES\n\
             seccomp_sandbox=NO\nmax_clients=0\nmax_per_ip=0\nsecure_chroot_dir={}\n",
            d("ftp-empty")
        ),
    );
    daemons.start(&lab, "/usr/sbin/vsftpd", &[&d("vsftpd.conf")]);
    daemons.start(
        &lab,
        "memcached",
        &[
            "-u", "root", "-l", "0.0.0.0", "-p", "11211", "-U", "0", "-c", "4096",
        ],
    );
    write(
        &dir.join("mosquitto.conf"),
        "listener 1883 0.0.0.0\nallow_anonymous true\nmax_connections -1\n",
    );
    daemons.start(&lab, "mosquitto", &["-c", &d("mosquitto.conf")]);
    // inetutils-telnetd is started by inetd: socat plays inetd.
    daemons.start(
        &lab,
        "socat",
        &[
            "TCP-LISTEN:23,reuseaddr,fork,backlog=1024",
            "EXEC:/usr/sbin/telnetd,nofork",
        ],
    );
    // The middleboxes: every port to a listener that never accepts (the
    // kernel completes the handshakes; nothing is ever sent). One listener
    // answers for every middlebox: a deep accept queue, as if each had its own.
    run_ok(&mut in_target(
        &lab,
        "sysctl",
        &["-q", "-w", "net.core.somaxconn=65535"],
    ));
    daemons.start(
        &lab,
        "python3",
        &[
            "-c",
            &format!(
                "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
                 s.bind(('0.0.0.0',{HOLD_PORT}))\ns.listen(65535)\nwhile True: time.sleep(3600)\n"
            ),
        ],
    );
    daemons.start(
        &lab,
        "python3",
        &[
            "-c",
            &format!(
                "import socketserver\n\
                 junk=bytes((i*131)%256 for i in range(5000))\n\
                 class H(socketserver.BaseRequestHandler):\n\
                 \tdef handle(self):\n\
                 \t\tself.request.sendall(b\"{HOSTILE_HEAD}\"+junk)\n\
                 socketserver.ThreadingTCPServer.allow_reuse_address=True\n\
                 socketserver.ThreadingTCPServer.request_queue_size=1024\n\
                 socketserver.ThreadingTCPServer(('0.0.0.0',{HOSTILE_PORT}),H).serve_forever()\n"
            ),
        ],
    );
    wait_tcp(
        &lab,
        &mut daemons,
        &[
            21,
            22,
            23,
            80,
            1883,
            4443,
            6379,
            7777,
            8443,
            993,
            11211,
            HOLD_PORT,
            HOSTILE_PORT,
        ],
    );
    // Services on unexpected ports, and the middleboxes.
    let script = format!(
        "table ip idlab {{\n chain pre {{\n  type nat hook prerouting priority dstnat; policy accept;\n\
         ip daddr {REAL} tcp dport 443 redirect to :22\n\
         ip daddr {REAL} tcp dport 8080 redirect to :23\n\
         ip daddr {REAL} tcp dport 7379 redirect to :6379\n\
         ip daddr {MIDDLEBOX} tcp dport != {HOLD_PORT} redirect to :{HOLD_PORT}\n }}\n}}\n"
    );
    let mut nft = in_target(&lab, "nft", &["-f", "-"]);
    let mut child = nft.stdin(Stdio::piped()).spawn().expect("nft");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "identify lab: nft redirects"
    );
    (lab, daemons, reaper)
}

/// The RST guards' nftables tables (`synsweep_<pid>`) in the scanner namespace.
/// The upstream version of a Debian package (`1:9.2p1-2+deb12u3` ->
/// `9.2p1`).
fn upstream(pkg: &str) -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", pkg])
        .output()
        .expect("dpkg-query");
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let v = v.split_once(':').map_or(v.as_str(), |x| x.1);
    v.rsplit_once('-').map_or(v, |x| x.0).to_string()
}

/// What a daemon says its version is (`nginx -v`, `memcached -V`): the
/// text after `prefix` on the line that has it.
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

/// The product and version each real host's daemons state, as the daemons
/// themselves (and Debian's packages) give them: sshd on 22 and 443,
/// nginx on 80 and 7777 (with the HTTP facts), vsftpd on 21, memcached on
/// 11211; redis when its INFO came in the reply it was named from.
fn stated_facts_match_the_daemons(recs: &[Value]) {
    let ssh = upstream("openssh-server");
    // sshd -V names the release without the portable suffix (9.2).
    let sshd = daemon_says("/usr/sbin/sshd", "-V", "OpenSSH_");
    assert!(
        ssh.starts_with(sshd.trim_end_matches(',')),
        "{ssh} vs sshd -V {sshd}"
    );
    let nginx = daemon_says("/usr/sbin/nginx", "-v", "nginx/");
    assert_eq!(nginx, upstream("nginx"));
    let vsftpd = upstream("vsftpd");
    let memcached = daemon_says("memcached", "-V", "memcached ");
    let redis = daemon_says("redis-server", "-v", "v=");
    let want: [(u16, &str, &str); 6] = [
        (22, "OpenSSH", &ssh),
        (443, "OpenSSH", &ssh),
        (80, "nginx", &nginx),
        (7777, "nginx", &nginx),
        (21, "vsFTPd", &vsftpd),
        (11211, "memcached", &memcached),
    ];
    for h in hosts(REAL) {
        let at = |port: u16| {
            recs.iter()
                .find(|r| r["ip"] == h.to_string() && r["port"] == port && r["reason"] == "syn-ack")
                .unwrap_or_else(|| panic!("{h}:{port} missing"))
        };
        for (port, product, version) in want {
            let r = at(port);
            assert_eq!(
                (r["product"].as_str(), r["version"].as_str()),
                (Some(product), Some(version)),
                "{h}:{port}: {r}"
            );
        }
        for port in [80, 7777] {
            let http = &at(port)["http"];
            assert_eq!(http["status"], 200, "{h}:{port}: {http}");
            assert_eq!(http["server"], format!("nginx/{nginx}"), "{h}:{port}");
        }
        for port in [6379, 7379] {
            let r = at(port);
            if r.get("product").is_some() {
                assert_eq!(
                    (r["product"].as_str(), r["version"].as_str()),
                    (Some("Redis"), Some(redis.as_str()))
                );
            }
        }
        // Services that state nothing carry no facts.
        for port in [23, 1883, 8080] {
            assert!(at(port).get("product").is_none(), "{h}:{port}");
        }
    }
}

fn guard_tables(lab: &Lab) -> Vec<String> {
    let out = lab.run_in_scanner(Command::new("nft").args(["list", "tables"]));
    assert!(out.status.success(), "nft list tables");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("table inet "))
        .filter(|t| {
            t.strip_prefix("synsweep_")
                .is_some_and(|id| id.bytes().all(|b| b.is_ascii_digit() || b == b'_'))
        })
        .map(str::to_string)
        .collect()
}

fn scan(lab: &Lab, out: &Path, extra: &[&str]) -> (Vec<Value>, Duration, String) {
    let t = Instant::now();
    let o = lab.run_in_scanner(
        synsweep()
            .args([
                "scan",
                REAL,
                MIDDLEBOX,
                "-p",
                &ports_arg(),
                "--rate",
                "2000",
            ])
            .args(["--wait", "2", "--seed", "7", "-o"])
            .arg(out)
            .args(extra)
            .current_dir(out.parent().unwrap()),
    );
    let took = t.elapsed();
    check(&o);
    (
        records(out),
        took,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn pairs(recs: &[Value]) -> BTreeSet<(String, u64)> {
    recs.iter()
        .filter(|r| r["state"] == "open" && r["reason"] == "syn-ack")
        .map(|r| {
            (
                r["ip"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn real_daemons_are_identified_middleboxes_are_pseudo_and_nothing_is_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (lab, _daemons, _reaper) = identify_lab(dir.path());

    let (plain, plain_time, _) = scan(&lab, &dir.path().join("plain.ndjson"), &["--no-identify"]);
    let (csv, html, xml, json) = (
        dir.path().join("ident.csv"),
        dir.path().join("ident.html"),
        dir.path().join("ident.xml"),
        dir.path().join("ident.json"),
    );
    let (recs, ident_time, stderr) = scan(
        &lab,
        &dir.path().join("ident.ndjson"),
        &[
            "-o",
            csv.to_str().unwrap(),
            "-o",
            html.to_str().unwrap(),
            "-o",
            xml.to_str().unwrap(),
            "-o",
            json.to_str().unwrap(),
        ],
    );
    // The hostile banner reached every format, and nothing live did.
    for f in [&csv, &html, &xml] {
        let text = std::fs::read(f).unwrap();
        assert!(!text.contains(&0x1b), "an escape in {}", f.display());
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("cmd|"),
            "no banner in {}: {:?}",
            f.display(),
            text.lines()
                .filter(|l| l.contains("9999"))
                .take(2)
                .collect::<Vec<_>>()
        );
        if f != &csv {
            assert!(
                !text.contains("<script>alert"),
                "live markup in {}",
                f.display()
            );
        } else {
            for cell in text.split([',', '\n']) {
                let cell = cell.trim_start_matches('"');
                assert!(
                    !cell.starts_with("=cmd"),
                    "a formula cell in the CSV: {cell}"
                );
            }
        }
    }
    assert!(
        guard_tables(&lab).is_empty(),
        "table left after a normal exit"
    );
    eprintln!(
        "identify lab: wall time {:.2}s identifying, {:.2}s with --no-identify ({:.2}x)",
        ident_time.as_secs_f64(),
        plain_time.as_secs_f64(),
        ident_time.as_secs_f64() / plain_time.as_secs_f64()
    );

    // Every open port is found, identifying or not: the ground truth.
    let mut truth = BTreeSet::new();
    for h in hosts(REAL) {
        for p in SERVICES.iter().map(|(p, _)| *p).chain([HOSTILE_PORT]) {
            truth.insert((h.to_string(), p as u64));
        }
    }
    for h in hosts(MIDDLEBOX) {
        for p in SERVICES
            .iter()
            .map(|(p, _)| *p)
            .chain([HOSTILE_PORT])
            .chain(CLOSED)
        {
            truth.insert((h.to_string(), p as u64));
        }
    }
    assert_eq!(pairs(&plain), truth, "--no-identify");
    assert_eq!(pairs(&recs), truth, "identifying");
    stated_facts_match_the_daemons(&recs);
    assert!(
        plain.iter().all(|r| r.get("protocol").is_none()),
        "--no-identify identified something"
    );
    // One record per open port, and one more for each TLS 1.0 service: a
    // finding of its own; and for each self-signed certificate (every TLS
    // port here: the lab's certificate is self-signed).
    let legacy: Vec<&Value> = recs
        .iter()
        .filter(|r| r["reason"] == "tls-version")
        .collect();
    let self_signed: BTreeSet<(String, u64)> = recs
        .iter()
        .filter(|r| r["reason"] == "tls-cert-self-signed")
        .map(|r| {
            (
                r["ip"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap(),
            )
        })
        .collect();
    let tls_ports: BTreeSet<(String, u64)> = recs
        .iter()
        .filter(|r| r["reason"] == "syn-ack" && r["protocol"] == "tls")
        .map(|r| {
            (
                r["ip"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        self_signed, tls_ports,
        "one self-signed record per TLS port"
    );
    let expiring = recs
        .iter()
        .filter(|r| r["reason"] == "tls-cert-expiring")
        .count();
    assert_eq!(
        expiring,
        tls_ports.len(),
        "one expiring record per TLS port"
    );
    assert_eq!(
        recs.len(),
        truth.len() + legacy.len() + self_signed.len() + expiring
    );
    let legacy_at: BTreeSet<(String, u64)> = legacy
        .iter()
        .map(|r| {
            (
                r["ip"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap(),
            )
        })
        .collect();
    let want_legacy: BTreeSet<(String, u64)> =
        hosts(REAL).iter().map(|h| (h.to_string(), 993)).collect();
    assert_eq!(legacy_at, want_legacy);
    for r in &legacy {
        assert_eq!(
            (
                r["service"].as_str(),
                r["category"].as_str(),
                r["protocol"].as_str()
            ),
            (Some("tls-legacy"), Some("risky"), Some("tls")),
            "{r}"
        );
        assert!(r["rationale"].as_str().unwrap().contains("TLSv1.0"), "{r}");
    }
    // The JSON document keeps that record next to the port's too (its
    // deduplication tells the two apart).
    let doc: Value = common::schema::read_document(&json);
    let doc_legacy = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["reason"] == "tls-version")
        .count();
    assert_eq!(
        doc_legacy,
        legacy.len(),
        "tls-legacy records in the JSON document"
    );

    // Real hosts: >= 99% identified right, none wrong.
    let want: BTreeMap<u16, &str> = SERVICES.into_iter().collect();
    let real: BTreeSet<String> = hosts(REAL).iter().map(|h| h.to_string()).collect();
    let (mut right, mut wrong, mut total) = (0, Vec::new(), 0);
    for r in recs
        .iter()
        .filter(|r| real.contains(r["ip"].as_str().unwrap()) && r["reason"] == "syn-ack")
    {
        let port = r["port"].as_u64().unwrap() as u16;
        assert!(
            r.get("pseudo").is_none(),
            "a real host's port is pseudo: {r}"
        );
        if port == HOSTILE_PORT {
            // No protocol of ours: recorded, named nothing, the banner
            // escaped (printable ASCII only) and bounded.
            assert!(r.get("protocol").is_none(), "{r}");
            let b = r["banner"]
                .as_str()
                .unwrap_or_else(|| panic!("no banner: {r}"));
            assert!(b.len() <= 256, "{r}");
            assert!(b.bytes().all(|c| (0x20..0x7f).contains(&c)), "{r}");
            assert!(
                b.starts_with("=cmd|' /C calc'!A0<script>alert(1)</script>\\x1b[2J"),
                "{b}"
            );
            continue;
        }
        total += 1;
        match r.get("protocol").and_then(Value::as_str) {
            Some(p) if p == want[&port] => right += 1,
            Some(_) => wrong.push(r.clone()),
            None => {}
        }
    }
    eprintln!("identify lab: {right} of {total} services identified right");
    assert!(wrong.is_empty(), "wrongly identified: {wrong:#?}");
    assert!(
        right * 100 >= total * 99,
        "identified {right} of {total}: {:#?}",
        recs.iter()
            .filter(|r| real.contains(r["ip"].as_str().unwrap()) && r.get("protocol").is_none())
            .collect::<Vec<_>>()
    );

    // Unexpected ports are rated as what answers there.
    let by_port = |port: u64| -> Vec<&Value> {
        recs.iter()
            .filter(|r| r["port"] == port && real.contains(r["ip"].as_str().unwrap()))
            .filter(|r| r.get("protocol").is_some())
            .collect()
    };
    for r in by_port(443) {
        assert_eq!(
            (r["service"].as_str(), r["category"].as_str()),
            (Some("ssh"), Some("administrative")),
            "{r}"
        );
        assert!(
            r["banner"].as_str().unwrap().starts_with("SSH-2.0-OpenSSH"),
            "{r}"
        );
    }
    for r in by_port(8080) {
        assert_eq!(
            (
                r["service"].as_str(),
                r["category"].as_str(),
                r["severity"].as_str()
            ),
            (Some("telnet"), Some("risky"), Some("critical")),
            "{r}"
        );
    }
    for r in by_port(7379) {
        assert_eq!(
            (r["service"].as_str(), r["category"].as_str()),
            (Some("redis"), Some("risky")),
            "{r}"
        );
    }
    for r in by_port(7777) {
        assert_eq!(r["service"], "http", "{r}");
    }
    // Where the port said it already, the port's row stays.
    for r in by_port(8443) {
        assert_eq!(r["protocol"], "tls", "{r}");
    }

    // Middleboxes: every port pseudo, and the summary names each host once.
    let mb: BTreeSet<String> = hosts(MIDDLEBOX).iter().map(|h| h.to_string()).collect();
    for r in recs
        .iter()
        .filter(|r| mb.contains(r["ip"].as_str().unwrap()))
    {
        assert_eq!(r["pseudo"], true, "{r}");
        assert!(r.get("protocol").is_none(), "{r}");
    }
    // In two shards (the same seed): a shard probes about half of each
    // host's ports, and judges a host by those, so the middleboxes' ports
    // are pseudo in each shard's stream too; together the shards find the
    // same open ports.
    let mut in_shards = BTreeSet::new();
    for k in 1..=2 {
        let out = dir.path().join(format!("shard{k}.ndjson"));
        let (part, _, err) = scan(&lab, &out, &["--shard", &format!("{k}/2")]);
        for r in part
            .iter()
            .filter(|r| mb.contains(r["ip"].as_str().unwrap()))
        {
            assert_eq!(r["pseudo"], true, "shard {k}/2: {r}");
        }
        assert!(
            err.contains(&format!("{} hosts answer on every port", mb.len())),
            "shard {k}/2: {err}"
        );
        in_shards.extend(pairs(&part));
    }
    assert_eq!(in_shards, pairs(&recs));
    let summary = stderr
        .lines()
        .find(|l| l.contains(" probes for "))
        .unwrap_or_else(|| panic!("no summary: {stderr}"));
    assert!(
        summary.contains(&format!("{right} services identified")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("{} hosts answer on every port", mb.len())),
        "{summary}"
    );
    for h in &mb {
        assert_eq!(
            summary.matches(&format!(" {h} ")).count() + summary.matches(&format!(" {h},")).count(),
            1,
            "{h} in {summary}"
        );
    }
}

#[test]
fn the_rst_guard_is_removed_after_sigint_and_after_sigkill() {
    let lab = Lab::builder().listen(&[22, 80]).build();
    let dir = tempfile::tempdir().unwrap();
    let long_scan = |name: &str| {
        let mut c = lab.wrap_in_scanner(
            synsweep()
                .args([
                    "scan",
                    "198.19.0.0/16",
                    "-p",
                    "22,80",
                    "--rate",
                    "3000",
                    "-q",
                    "-o",
                ])
                .arg(dir.path().join(name))
                .current_dir(dir.path()),
        );
        c.stdout(Stdio::null()).stderr(Stdio::piped());
        c.spawn().expect("synsweep")
    };
    let wait_for_table = |child: &mut std::process::Child| {
        let end = Instant::now() + Duration::from_secs(10);
        while guard_tables(&lab).is_empty() {
            assert!(child.try_wait().unwrap().is_none(), "scan ended early");
            assert!(Instant::now() < end, "the RST guard never appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The guard is installed before the signal handlers (while the
        // scan still has its privileges): give the scan time to reach them.
        std::thread::sleep(Duration::from_millis(500));
    };

    // SIGINT: the scan pauses and ends through the normal path.
    let mut c = long_scan("int.ndjson");
    wait_for_table(&mut c);
    let pid = c.id() as i32;
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let st = c.wait().unwrap();
    assert_eq!(st.code(), Some(75), "paused");
    assert!(guard_tables(&lab).is_empty(), "table left after SIGINT");
    std::fs::remove_file(dir.path().join("paused.json")).unwrap();

    // SIGKILL: no chance to clean up; the keeper does, and a stale table
    // of a dead scan is removed by the next run.
    let mut c = long_scan("kill.ndjson");
    wait_for_table(&mut c);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(c.id() as i32, libc::SIGKILL) }, 0);
    let _ = c.wait();
    let end = Instant::now() + Duration::from_secs(5);
    while !guard_tables(&lab).is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(guard_tables(&lab).is_empty(), "table left after SIGKILL");
    let _ = std::fs::remove_file(dir.path().join("paused.json"));
    // A table of a process that is gone (as after a SIGKILL of scanner and
    // keeper both): the next run removes it.
    let stale = "synsweep_4194303"; // above any pid_max: no such process
    run_in_scanner_nft(&lab, &format!("add table inet {stale}\n"));
    assert_eq!(guard_tables(&lab), vec![stale.to_string()]);
    let o = lab.run_in_scanner(
        synsweep()
            .args([
                "scan",
                "198.19.0.0/30",
                "-p",
                "22",
                "--wait",
                "1",
                "-q",
                "-o",
            ])
            .arg(dir.path().join("next.ndjson"))
            .current_dir(dir.path()),
    );
    check(&o);
    assert!(
        guard_tables(&lab).is_empty(),
        "stale table survived the next run"
    );
}

fn run_in_scanner_nft(lab: &Lab, script: &str) {
    let mut c = lab.wrap_in_scanner(Command::new("nft").args(["-f", "-"]));
    let mut child = c.stdin(Stdio::piped()).spawn().expect("nft");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// Loopback: follow-ups go through a raw IP socket whose packets the RST
/// guard must let through (marked), and are captured on `lo`.
#[test]
fn a_loopback_scan_identifies_through_the_raw_ip_socket() {
    let lab = Lab::loopback_only(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = lab.scanner_command("python3");
    cmd.args(["-m", "http.server", "8000", "--bind", "127.0.0.1"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Kill(cmd.spawn().expect("python3 -m http.server"));
    let up = lab.in_scanner(|| {
        (0..100).any(|_| {
            let ok = std::net::TcpStream::connect(("127.0.0.1", 8000)).is_ok();
            if !ok {
                std::thread::sleep(Duration::from_millis(100));
            }
            ok
        })
    });
    assert!(up, "http.server never listened");
    let out = dir.path().join("lo.ndjson");
    let o = lab.run_in_scanner(
        synsweep()
            .args(["scan", "127.0.0.1", "-p", "8000,9", "--wait", "1", "-o"])
            .arg(&out)
            .current_dir(dir.path()),
    );
    check(&o);
    let recs = records(&out);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    assert_eq!(recs[0]["protocol"], "http", "{}", recs[0]);
    assert!(
        recs[0]["banner"]
            .as_str()
            .unwrap()
            .starts_with("HTTP/1.0 200"),
        "{}",
        recs[0]
    );
    assert!(guard_tables(&lab).is_empty());
}

/// Without CAP_NET_ADMIN there is no RST suppression: synsweep says so in
/// one line and runs a SYN scan that still finds every open port.
#[test]
fn without_cap_net_admin_it_says_so_and_scans_without_identifying() {
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build();
    let dir = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let range = "198.19.0.0/26";
    let mut c = Command::new("setpriv");
    c.current_dir(dir.path()).args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=+net_raw",
        "--ambient-caps=+net_raw",
        env!("CARGO_BIN_EXE_synsweep"),
        "scan",
        range,
        "-p",
        "22,80",
        "--wait",
        "1",
        "-o",
        "f.ndjson",
    ]);
    let out = lab.run_in_scanner(&mut c);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    let warning: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warning.len(), 1, "{err}");
    assert!(
        warning[0].contains("CAP_NET_ADMIN") && warning[0].contains("not identified"),
        "{err}"
    );
    let recs = records(&dir.path().join("f.ndjson"));
    let found: BTreeSet<(String, u64)> = pairs(&recs);
    let truth: BTreeSet<(String, u64)> = lab
        .ground_truth_open(&[22, 80], range)
        .into_iter()
        .map(|(a, p)| (a.to_string(), p as u64))
        .collect();
    assert_eq!(found, truth);
    assert!(recs.iter().all(|r| r.get("protocol").is_none()));
    assert!(!err.contains("services identified"), "{err}");
    assert!(guard_tables(&lab).is_empty());
}
