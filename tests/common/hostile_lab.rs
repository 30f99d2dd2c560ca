//! The hostile identification lab (`scripts/hostile_lab.sh`) from tests:
//! real daemons, services on other protocols' ports, middleboxes and peers
//! that do not cooperate, over IPv4 and IPv6. Builds it, reads its ground
//! truth (`truth.tsv`, the lab's own plan, never a scan's output), counts
//! the SYNs each (address, port) received, runs scans in its scanner
//! namespace with a deadline, and takes it down when dropped (also on
//! panic). A lab that cannot be built panics: the test fails, never skips.

use super::wrap_in_ns;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The lab's script.
pub const HOSTILE_LAB_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/hostile_lab.sh");

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// An address family of the lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// What the lab's plan says answers at an (address, port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// A real daemon on its own port.
    Home,
    /// A real daemon on another protocol's port.
    Swapped,
    /// A peer that does not cooperate.
    Hostile,
    /// A middlebox port (SYN-ACK, nothing behind).
    Middlebox,
}

impl Group {
    fn parse(s: &str) -> Group {
        match s {
            "home" => Group::Home,
            "swapped" => Group::Swapped,
            "hostile" => Group::Hostile,
            "middlebox" => Group::Middlebox,
            _ => panic!("hostile lab: unknown group {s:?} in truth.tsv"),
        }
    }

    /// Whether a real service answers (its protocol is the expectation).
    pub fn is_service(self) -> bool {
        matches!(self, Group::Home | Group::Swapped)
    }
}

/// One open (address, port) of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub family: Family,
    pub group: Group,
    /// The protocol that answers (services), the peer's kind (hostile:
    /// neveraccept, close, noread, tarpit, megabytes) or `pseudo`.
    pub expect: String,
}

/// How a scan run by [`HostileLab::scan`] ended.
#[derive(Debug)]
pub struct ScanRun {
    /// Its exit status (None: killed at the deadline).
    pub status: Option<i32>,
    pub wall: Duration,
    /// Largest resident set of the scanner process, in KiB (getrusage).
    pub max_rss_kib: u64,
    pub stderr: String,
}

/// A built hostile lab; `hostile_lab.sh down` when dropped.
pub struct HostileLab {
    name: String,
    dir: PathBuf,
    info: BTreeMap<String, String>,
    /// The ground truth: every open (address, port) of the lab.
    pub truth: BTreeMap<(IpAddr, u16), Planned>,
}

fn script(args: &[&str]) -> String {
    let out = Command::new(HOSTILE_LAB_SH)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("hostile lab: cannot run {HOSTILE_LAB_SH}: {e}"));
    assert!(
        out.status.success(),
        "hostile lab: hostile_lab.sh {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl HostileLab {
    /// Build the lab with its files under `dir`. Panics if any step fails.
    pub fn up(dir: &Path) -> HostileLab {
        let pid = std::process::id();
        let name = format!("h{pid}_{}", COUNTER.fetch_add(1, Ordering::SeqCst));
        let text = script(&[
            "up",
            &name,
            dir.to_str().unwrap(),
            "--owner",
            &pid.to_string(),
        ]);
        let mut lab = HostileLab {
            name,
            dir: dir.to_path_buf(),
            info: text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            truth: BTreeMap::new(),
        };
        let truth = std::fs::read_to_string(lab.get("truth"))
            .unwrap_or_else(|e| panic!("hostile lab: truth.tsv: {e}"));
        for line in truth.lines().filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 5, "hostile lab: bad truth line {line:?}");
            let addr: IpAddr = f[2]
                .parse()
                .unwrap_or_else(|e| panic!("hostile lab: {line:?}: {e}"));
            let family = match f[0] {
                "4" => Family::V4,
                "6" => Family::V6,
                x => panic!("hostile lab: family {x:?}"),
            };
            assert_eq!(addr.is_ipv4(), family == Family::V4, "{line:?}");
            let port: u16 = f[3].parse().expect("hostile lab: port");
            let prev = lab.truth.insert(
                (addr, port),
                Planned {
                    family,
                    group: Group::parse(f[1]),
                    expect: f[4].to_string(),
                },
            );
            assert!(prev.is_none(), "hostile lab: {addr} {port} planned twice");
        }
        assert!(!lab.truth.is_empty(), "hostile lab: empty plan");
        lab
    }

    /// A value `hostile_lab.sh up` printed.
    pub fn get(&self, key: &str) -> &str {
        self.info
            .get(key)
            .unwrap_or_else(|| panic!("hostile lab: up printed no {key}: {:?}", self.info))
    }

    /// The scanned ports (`-p` list).
    pub fn ports(&self) -> Vec<u16> {
        self.get("ports")
            .split(',')
            .map(|p| p.parse().expect("hostile lab: port"))
            .collect()
    }

    /// The target prefixes of one family.
    pub fn targets(&self, family: Family) -> Vec<String> {
        let key = match family {
            Family::V4 => "targets4",
            Family::V6 => "targets6",
        };
        self.get(key).split(',').map(str::to_string).collect()
    }

    /// The lab's name for `hostile_lab.sh`.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn scanner_ns(&self) -> &str {
        self.get("scanner_ns")
    }

    pub fn target_ns(&self) -> &str {
        self.get("target_ns")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The truth of one family.
    pub fn truth_of(&self, family: Family) -> impl Iterator<Item = (&(IpAddr, u16), &Planned)> {
        self.truth.iter().filter(move |(_, p)| p.family == family)
    }

    /// SYNs each (address, port) received since the last [`Self::reset_syns`].
    pub fn syns(&self) -> BTreeMap<(IpAddr, u16), u64> {
        script(&["syns", &self.name])
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(f.len(), 3, "hostile lab: syns line {l:?}");
                (
                    (
                        f[0].parse().expect("syns addr"),
                        f[1].parse().expect("syns port"),
                    ),
                    f[2].parse().expect("syns count"),
                )
            })
            .collect()
    }

    pub fn reset_syns(&self) {
        script(&["reset", &self.name]);
    }

    /// Run `cmd` in the scanner namespace, its stdout to `stdout_to`; kill it
    /// (SIGKILL) if it has not ended after `deadline`. The child is reaped
    /// with wait4(2), which also gives its resource usage.
    #[allow(clippy::zombie_processes)]
    pub fn scan(&self, cmd: &Command, stdout_to: &Path, deadline: Duration) -> ScanRun {
        let err_path = stdout_to.with_extension("stderr");
        let mut w = wrap_in_ns(self.scanner_ns(), cmd);
        w.stdin(Stdio::null())
            .stdout(std::fs::File::create(stdout_to).expect("stdout file"))
            .stderr(std::fs::File::create(&err_path).expect("stderr file"));
        let t0 = Instant::now();
        let child = w
            .spawn()
            .unwrap_or_else(|e| panic!("hostile lab: cannot run {w:?}: {e}"));
        // `ip netns exec` execs the program: the child is the scanner.
        let pid = child.id() as libc::pid_t;
        let mut killed = false;
        let (status, rss) = loop {
            let mut st = 0;
            // SAFETY: a zeroed rusage is a valid out-parameter.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: wait4 on our own child, valid out-pointers.
            let r = unsafe { libc::wait4(pid, &mut st, libc::WNOHANG, &mut ru) };
            if r == pid {
                let code = if libc::WIFEXITED(st) && !killed {
                    Some(libc::WEXITSTATUS(st))
                } else {
                    None
                };
                break (code, ru.ru_maxrss as u64);
            }
            assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
            if !killed && t0.elapsed() > deadline {
                // SAFETY: signalling our own child, not yet reaped.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                killed = true;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        ScanRun {
            status,
            wall: t0.elapsed(),
            max_rss_kib: rss,
            stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        }
    }
}

impl Drop for HostileLab {
    fn drop(&mut self) {
        // Never panic here (we may be unwinding already).
        match Command::new(HOSTILE_LAB_SH)
            .args(["down", &self.name])
            .stdin(Stdio::null())
            .output()
        {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "hostile lab: down {} failed: {}",
                self.name,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => eprintln!("hostile lab: down {}: {e}", self.name),
        }
    }
}

/// What a plain client (the kernel's TCP, from the scanner namespace) sees
/// at `addr:port` when it says what `expect`'s protocol wants to hear (or
/// nothing, for a server-first protocol or a peer): `Ok(())` if that is the
/// behaviour the plan gives it, else what went wrong. `expect` as in
/// truth.tsv; `closed` for a port the plan leaves closed.
fn probe_one(addr: IpAddr, port: u16, expect: &str) -> Result<(), String> {
    use std::io::{ErrorKind, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    let sa = SocketAddr::new(addr, port);
    let conn = TcpStream::connect_timeout(&sa, Duration::from_secs(3));
    if expect == "closed" {
        return match conn {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => Ok(()),
            Err(e) => Err(format!("closed port: {e}")),
            Ok(_) => Err("closed port accepted a connection".into()),
        };
    }
    let mut s = conn.map_err(|e| format!("connect: {e}"))?;
    // A TLS 1.2 ClientHello offering TLS_RSA_WITH_AES_128_GCM_SHA256 and
    // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, with the groups, point formats
    // and signature algorithms an ECDHE server needs.
    let tls_hello: Vec<u8> = {
        let mut ext = Vec::new();
        ext.extend([0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17]); // groups: P-256
        ext.extend([0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]); // point formats
        ext.extend([0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x01]); // rsa_pkcs1_sha256
        let mut body = vec![0x03, 0x03];
        body.extend([7u8; 32]);
        body.push(0); // session id
        body.extend([0x00, 0x04, 0xc0, 0x2f, 0x00, 0x9c]);
        body.extend([0x01, 0x00]);
        body.extend((ext.len() as u16).to_be_bytes());
        body.extend(ext);
        let mut hs = vec![0x01, 0x00];
        hs.extend((body.len() as u16).to_be_bytes());
        hs.extend(body);
        let mut rec = vec![0x16, 0x03, 0x01];
        rec.extend((hs.len() as u16).to_be_bytes());
        rec.extend(hs);
        rec
    };
    let hello: &[u8] = match expect {
        "http" => b"GET / HTTP/1.0\r\n\r\n",
        "redis" => b"PING\r\n",
        "memcached" => b"version\r\n",
        "mqtt" => &[
            0x10, 0x0c, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00,
        ],
        "tls" => &tls_hello,
        _ => b"",
    };
    if !hello.is_empty() {
        s.write_all(hello).map_err(|e| format!("send: {e}"))?;
    }
    // Read what comes within `secs`, up to `max` bytes.
    let read = |s: &mut TcpStream, secs: u64, max: usize| -> (Vec<u8>, Option<std::io::Error>) {
        let end = Instant::now() + Duration::from_secs(secs);
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while got.len() < max {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (got, None);
            }
            s.set_read_timeout(Some(left)).unwrap();
            match s.read(&mut buf) {
                Ok(0) => {
                    return (got, Some(std::io::Error::from(ErrorKind::UnexpectedEof)));
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return (got, None);
                }
                Err(e) => return (got, Some(e)),
            }
            if !matches!(expect, "megabytes" | "tarpit") && !got.is_empty() {
                return (got, None);
            }
        }
        (got, None)
    };
    let show = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(60)]).into_owned();
    match expect {
        "ftp" | "ssh" | "smtp" | "telnet" | "http" | "redis" | "memcached" | "mqtt" | "tls" => {
            let (b, _) = read(&mut s, 5, 1);
            let ok = match expect {
                "ftp" | "smtp" => b.starts_with(b"220"),
                "ssh" => b.starts_with(b"SSH-"),
                "telnet" => b.first() == Some(&0xff),
                "http" => b.starts_with(b"HTTP/1."),
                "redis" => b.starts_with(b"+PONG"),
                "memcached" => b.starts_with(b"VERSION "),
                "mqtt" => b.starts_with(&[0x20, 0x02]),
                // A TLS record (handshake or alert) of TLS 1.x.
                _ => b.len() >= 3 && matches!(b[0], 0x15 | 0x16) && b[1] == 3,
            };
            if ok {
                Ok(())
            } else {
                Err(format!("{expect}: got {:?}", show(&b)))
            }
        }
        "neveraccept" | "noread" | "pseudo" => match read(&mut s, 1, 1) {
            (b, None) if b.is_empty() => Ok(()),
            (b, e) => Err(format!("{expect}: said {:?} ({e:?})", show(&b))),
        },
        "close" => match read(&mut s, 3, 1) {
            (b, Some(_)) if b.is_empty() => Ok(()),
            (b, e) => Err(format!("close: {:?} ({e:?})", show(&b))),
        },
        "tarpit" => {
            let (b, e) = read(&mut s, 3, 1 << 20);
            if e.is_none() && !b.is_empty() && b.ends_with(b"\r\n") && b.len() < 64 {
                Ok(())
            } else {
                Err(format!("tarpit: {:?} ({e:?})", show(&b)))
            }
        }
        "megabytes" => {
            let (b, e) = read(&mut s, 5, 1 << 20);
            if b.len() >= 1 << 20 {
                Ok(())
            } else {
                Err(format!("megabytes: {} bytes ({e:?})", b.len()))
            }
        }
        _ => Err(format!("no check for {expect}")),
    }
}

impl HostileLab {
    /// Check the plan against the lab with a plain client, from the scanner
    /// namespace: on the first host of each group and family, every planned
    /// port behaves as planned and one unplanned scanned port is closed.
    /// Panics with every mismatch.
    pub fn check_plan(&self) {
        let mut checks: Vec<(IpAddr, u16, String)> = Vec::new();
        let mut firsts: BTreeMap<(Family, Group, bool), IpAddr> = BTreeMap::new();
        for ((a, _), p) in &self.truth {
            // Middleboxes: the first host of each half (hold, sink).
            let half = p.group == Group::Middlebox
                && match a {
                    IpAddr::V4(v) => v.octets()[3] & 4 != 0,
                    IpAddr::V6(v) => v.segments()[7] & 4 != 0,
                };
            firsts.entry((p.family, p.group, half)).or_insert(*a);
        }
        let ports = self.ports();
        for ((_, group, _), addr) in &firsts {
            for &port in &ports {
                match self.truth.get(&(*addr, port)) {
                    Some(p) if *group != Group::Middlebox || port == 21 || port == 2004 => {
                        checks.push((*addr, port, p.expect.clone()))
                    }
                    Some(_) => {}
                    None => checks.push((*addr, port, "closed".into())),
                }
            }
        }
        let bad: Vec<String> = super::in_netns(self.scanner_ns(), || {
            std::thread::scope(|sc| {
                let handles: Vec<_> = checks
                    .iter()
                    .map(|(a, p, e)| sc.spawn(move || (a, p, e, probe_one(*a, *p, e))))
                    .collect();
                handles
                    .into_iter()
                    .filter_map(|h| {
                        let (a, p, e, r) = h.join().unwrap();
                        r.err().map(|m| format!("{a} port {p} ({e}): {m}"))
                    })
                    .collect()
            })
        });
        assert!(
            bad.is_empty(),
            "hostile lab: the lab is not what its plan says:\n  {}",
            bad.join("\n  ")
        );
    }
}
