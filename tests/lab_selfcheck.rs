//! The lab matches its ground truth, checked without the scanner: only std
//! sockets (and one raw socket for a SYN flood) from inside the namespaces.

mod common;

use common::{Lab, TARGET_RANGE};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const SHORT: Duration = Duration::from_millis(300);

#[derive(Debug, PartialEq, Eq)]
enum Probe {
    Open,
    Refused,
    TimedOut,
}

fn probe(addr: Ipv4Addr, port: u16) -> Probe {
    let sa = SocketAddr::V4(SocketAddrV4::new(addr, port));
    match TcpStream::connect_timeout(&sa, SHORT) {
        Ok(_) => Probe::Open,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Probe::Refused,
        Err(e) if e.kind() == ErrorKind::TimedOut => Probe::TimedOut,
        Err(e) => panic!("connect {sa}: unexpected error {e}"),
    }
}

/// Probe several (addr, port) pairs in parallel, from the scanner namespace.
fn probe_all(lab: &Lab, pairs: &[(Ipv4Addr, u16)]) -> Vec<Probe> {
    // Each probe on a thread of its own that joins the scanner namespace.
    std::thread::scope(|s| {
        let handles: Vec<_> = pairs
            .iter()
            .map(|&(a, p)| s.spawn(move || lab.in_scanner(|| probe(a, p))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn ns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

#[test]
fn open_closed_and_silent_hosts_behave_as_configured() {
    // Three hosts in four silent: alive iff the last two bits are 0.
    let lab = Lab::builder()
        .listen(&[80, 443])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build();
    let alive = Ipv4Addr::new(198, 19, 3, 4);
    let silent = Ipv4Addr::new(198, 19, 3, 5);
    let got = probe_all(
        &lab,
        &[
            (alive, 80),
            (alive, 443),
            (alive, 22),
            (silent, 80),
            (silent, 22),
        ],
    );
    assert_eq!(
        got,
        [
            Probe::Open,
            Probe::Open,
            Probe::Refused,
            Probe::TimedOut,
            Probe::TimedOut
        ]
    );
    let c = lab.counters();
    assert!(c.syn_in >= 5, "{c:?}");
    assert!(c.silent_dropped >= 2, "{c:?}");
    assert!(c.synack_out >= 2 && c.rst_out >= 1, "{c:?}");
    assert_eq!(c.syn_lost, 0, "{c:?}");
}

#[test]
fn ground_truth_matches_what_answers() {
    let lab = Lab::builder()
        .listen(&[22, 8080])
        .alive_mask("0.0.1.1", "0.0.0.1")
        .build();
    let ports = [22, 25, 8080];
    let open = lab.ground_truth_open(&ports, TARGET_RANGE);
    let closed = lab.ground_truth_closed(&ports, TARGET_RANGE);
    // a quarter of 65,536 hosts alive; 2 listening ports, 1 closed
    assert_eq!(open.len(), 16384 * 2);
    assert_eq!(closed.len(), 16384);
    assert!(open.is_disjoint(&closed));
    assert!(open.contains(&(Ipv4Addr::new(198, 19, 0, 1), 22)));
    assert!(closed.contains(&(Ipv4Addr::new(198, 19, 254, 255), 25)));
    assert!(!open.contains(&(Ipv4Addr::new(198, 19, 1, 1), 22)));
    assert_eq!(
        lab.ground_truth_open(&[22], "198.19.0.0-198.19.0.9").len(),
        5
    );
    assert_eq!(lab.ground_truth_open(&[22], "198.19.0.3").len(), 1);

    // Sample reality: first/last alive host, edges of the /16, silent ones.
    let samples = [
        (Ipv4Addr::new(198, 19, 0, 1), 22),
        (Ipv4Addr::new(198, 19, 0, 1), 8080),
        (Ipv4Addr::new(198, 19, 0, 1), 25),
        (Ipv4Addr::new(198, 19, 254, 255), 8080),
        (Ipv4Addr::new(198, 19, 254, 255), 25),
        (Ipv4Addr::new(198, 19, 255, 255), 22),
        (Ipv4Addr::new(198, 19, 0, 0), 22),
        (Ipv4Addr::new(198, 19, 1, 1), 25),
    ];
    let got = probe_all(&lab, &samples);
    for (pair, got) in samples.iter().zip(got) {
        let want = if open.contains(pair) {
            Probe::Open
        } else if closed.contains(pair) {
            Probe::Refused
        } else {
            Probe::TimedOut
        };
        assert_eq!(got, want, "{pair:?}");
    }
}

#[test]
fn network_and_broadcast_addresses_answer_too() {
    let lab = Lab::builder().listen(&[80]).build();
    let got = probe_all(
        &lab,
        &[
            (Ipv4Addr::new(198, 19, 0, 0), 80),
            (Ipv4Addr::new(198, 19, 255, 255), 80),
            (Ipv4Addr::new(198, 19, 255, 255), 81),
        ],
    );
    assert_eq!(got, [Probe::Open, Probe::Open, Probe::Refused]);
    assert_eq!(lab.ground_truth_open(&[80], TARGET_RANGE).len(), 65536);
}

#[test]
fn full_loss_drops_every_syn() {
    let lab = Lab::builder().listen(&[80]).syn_loss_percent(100).build();
    let target = Ipv4Addr::new(198, 19, 0, 8);
    assert_eq!(
        probe_all(&lab, &[(target, 80), (target, 81)]),
        [Probe::TimedOut, Probe::TimedOut]
    );
    let c = lab.counters();
    assert!(c.syn_lost >= 2 && c.syn_lost == c.syn_in, "{c:?}");
    assert_eq!(c.synack_out + c.rst_out, 0, "{c:?}");
}

#[test]
fn sink_drops_every_frame() {
    let lab = Lab::builder().listen(&[80]).sink(true).build();
    let target = Ipv4Addr::new(198, 19, 0, 8);
    assert_eq!(
        probe_all(&lab, &[(target, 80), (target, 81)]),
        [Probe::TimedOut, Probe::TimedOut]
    );
    let c = lab.counters();
    assert!(c.sink_frames >= 2, "{c:?}");
    assert_eq!(c.syn_in, 0, "{c:?}");
    assert!(lab.ground_truth_open(&[80], TARGET_RANGE).is_empty());
}

#[test]
fn no_way_out_of_the_lab() {
    let lab = Lab::builder().listen(&[80]).build();
    for ns in [lab.scanner_ns(), lab.target_ns()] {
        let out = common::run_ok(Command::new("ip").args(["-n", ns, "route", "show", "default"]));
        assert!(
            out.stdout.is_empty(),
            "{ns}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        // The only links: lo and the veth.
        let out = common::run_ok(Command::new("ip").args(["-n", ns, "-o", "link", "show"]));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).lines().count(),
            2,
            "{ns}"
        );
    }
    let routes =
        common::run_ok(Command::new("ip").args(["-n", lab.scanner_ns(), "-4", "route", "show"]));
    let routes = String::from_utf8_lossy(&routes.stdout);
    assert_eq!(routes.lines().count(), 2, "{routes}");
    assert!(routes.contains("198.19.0.0/16 via 198.18.0.2"), "{routes}");

    // TEST-NET-2 (documentation, never routed): no route in the lab, so the
    // kernel refuses before anything is sent.
    let err = lab
        .in_scanner(|| TcpStream::connect_timeout(&"198.51.100.1:9".parse().unwrap(), SHORT))
        .expect_err("198.51.100.1 must be unreachable from the scanner namespace");
    assert_eq!(err.raw_os_error(), Some(libc::ENETUNREACH), "{err}");
}

/// Several scanner namespaces share one target: each reaches the simulated
/// internet through its own veth and /30, the target counts SYNs from all of
/// them, and none reaches anything else (not another scanner, not the
/// target's other veth ends, nothing outside the lab).
#[test]
fn multi_scanner_lab_each_reaches_the_target_and_nothing_else() {
    let lab = Lab::builder()
        .scanners(3)
        .listen(&[80])
        .alive_mask("0.0.0.1", "0.0.0.0")
        .build();
    assert_eq!(lab.scanner_count(), 3);
    let alive = Ipv4Addr::new(198, 19, 5, 2);
    let silent = Ipv4Addr::new(198, 19, 5, 3);
    for k in 0..3 {
        let ns = lab.scanner_ns_n(k);
        assert_ne!(ns, lab.target_ns());
        // Its own address, its own gateway, a permanent neighbour for it.
        let addr = lab.scanner_addr_n(k);
        assert_eq!(addr, Ipv4Addr::new(198, 18, 0, 4 * k as u8 + 1));
        let out = lab.run_in_scanner_n(k, Command::new("ip").args(["-o", "-4", "addr", "show"]));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("{addr}/30")) && text.contains(lab.scanner_iface_n(k)),
            "scanner {k}: {text}"
        );
        let gw = lab.gateway_addr_n(k).to_string();
        let out = lab.run_in_scanner_n(k, Command::new("ip").args(["neigh", "show", &gw]));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&lab.router_mac_n(k)) && text.contains("PERMANENT"),
            "scanner {k}: {text}"
        );
        // Only lo and its veth; no default route; exactly its /30 and the
        // simulated internet via its own gateway.
        let out = common::run_ok(Command::new("ip").args(["-n", ns, "-o", "link", "show"]));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).lines().count(),
            2,
            "{ns}"
        );
        let out = common::run_ok(Command::new("ip").args(["-n", ns, "route", "show", "default"]));
        assert!(out.stdout.is_empty(), "{ns}");
        let routes = common::run_ok(Command::new("ip").args(["-n", ns, "-4", "route", "show"]));
        let routes = String::from_utf8_lossy(&routes.stdout);
        assert_eq!(routes.lines().count(), 2, "{routes}");
        assert!(
            routes.contains(&format!("{TARGET_RANGE} via {gw}")),
            "{routes}"
        );

        // It reaches the target as configured.
        let got = lab.in_scanner_n(k, || {
            [probe(alive, 80), probe(alive, 81), probe(silent, 80)]
        });
        assert_eq!(
            got,
            [Probe::Open, Probe::Refused, Probe::TimedOut],
            "scanner {k}"
        );
        // Nothing else: the other scanners, the target's other veth ends,
        // a documentation address outside the lab.
        for j in (0..3).filter(|&j| j != k) {
            for other in [lab.scanner_addr_n(j), lab.gateway_addr_n(j)] {
                let err = lab
                    .in_scanner_n(k, || {
                        TcpStream::connect_timeout(&SocketAddr::from((other, 9)), SHORT)
                    })
                    .expect_err("another scanner's /30 must be unreachable");
                assert_eq!(
                    err.raw_os_error(),
                    Some(libc::ENETUNREACH),
                    "scanner {k} -> {other}: {err}"
                );
            }
        }
        let err = lab
            .in_scanner_n(k, || {
                TcpStream::connect_timeout(&"198.51.100.1:9".parse().unwrap(), SHORT)
            })
            .expect_err("198.51.100.1 must be unreachable");
        assert_eq!(err.raw_os_error(), Some(libc::ENETUNREACH), "{err}");
    }
    // The target: lo plus one veth per scanner, no default route, and it
    // does not forward between scanners.
    let t = lab.target_ns();
    let out = common::run_ok(Command::new("ip").args(["-n", t, "-o", "link", "show"]));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
    let out = common::run_ok(Command::new("ip").args(["-n", t, "route", "show", "default"]));
    assert!(out.stdout.is_empty());
    let fwd = lab.in_target(|| std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap());
    assert_eq!(fwd.trim(), "0");
    // One counter for all: 3 probes per scanner, each a SYN (plus any
    // retransmitted SYNs of the timed-out connect).
    let c = lab.counters();
    assert!(c.syn_in >= 9, "{c:?}");
    assert!(c.synack_out >= 3 && c.rst_out >= 3, "{c:?}");
    assert!(c.silent_dropped >= 3, "{c:?}");

    let names: Vec<String> = (0..3)
        .map(|k| lab.scanner_ns_n(k).to_string())
        .chain([lab.target_ns().to_string()])
        .collect();
    drop(lab);
    assert!(names.iter().all(|n| !ns_exists(n)), "{names:?}");
}

/// A sink with several scanners drops what every scanner sends.
#[test]
fn multi_scanner_sink_drops_every_frame() {
    let lab = Lab::builder().scanners(2).listen(&[80]).sink(true).build();
    let target = Ipv4Addr::new(198, 19, 0, 8);
    for k in 0..2 {
        assert_eq!(
            lab.in_scanner_n(k, || probe(target, 80)),
            Probe::TimedOut,
            "scanner {k}"
        );
    }
    let c = lab.counters();
    assert!(c.sink_frames >= 2, "{c:?}");
    assert_eq!(c.syn_in, 0, "{c:?}");
}

#[test]
fn namespaces_are_removed_on_drop_and_on_panic() {
    let lab = Lab::builder().listen(&[80]).build();
    let names = [lab.scanner_ns().to_string(), lab.target_ns().to_string()];
    assert!(names.iter().all(|n| ns_exists(n)));
    drop(lab);
    assert!(names.iter().all(|n| !ns_exists(n)), "{names:?}");

    let names = std::sync::Mutex::new(Vec::new());
    let result = std::panic::catch_unwind(|| {
        let lab = Lab::loopback_only(&[80]);
        names.lock().unwrap().push(lab.scanner_ns().to_string());
        panic!("test body fails");
    });
    assert!(result.is_err());
    let names = names.into_inner().unwrap();
    assert_eq!(names.len(), 1);
    assert!(!ns_exists(&names[0]), "{names:?}");
}

#[test]
fn loopback_lab_answers_on_127_0_0_1() {
    let lab = Lab::loopback_only(&[8080]);
    assert_eq!(lab.scanner_ns(), lab.target_ns());
    assert_eq!(lab.scanner_iface(), "lo");
    let lo = Ipv4Addr::LOCALHOST;
    assert_eq!(
        probe_all(&lab, &[(lo, 8080), (lo, 8081)]),
        [Probe::Open, Probe::Refused]
    );
    assert_eq!(
        lab.ground_truth_open(&[8080, 8081], "127.0.0.1")
            .into_iter()
            .collect::<Vec<_>>(),
        [(lo, 8080)]
    );
    assert_eq!(lab.ground_truth_closed(&[8080, 8081], "127.0.0.1").len(), 1);
    // The listener is not in the machine's own namespace.
    let c = lab.counters();
    assert!(
        c.syn_in >= 2 && c.synack_out >= 1 && c.rst_out >= 1,
        "{c:?}"
    );
    // and no route anywhere but loopback
    let out =
        common::run_ok(Command::new("ip").args(["-n", lab.scanner_ns(), "-4", "route", "show"]));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn run_in_scanner_runs_in_the_scanner_namespace() {
    let lab = Lab::builder().build();
    let out = lab.run_in_scanner(Command::new("ip").args(["-o", "-4", "addr", "show"]));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("198.18.0.1/30") && text.contains(lab.scanner_iface()),
        "{text}"
    );
    // The router MAC is there already, permanently (no ARP, also for a sink).
    let out = lab.run_in_scanner(Command::new("ip").args(["neigh", "show", "198.18.0.2"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&lab.router_mac()) && text.contains("PERMANENT"),
        "{text}"
    );
}

/// A burst of raw SYNs from the scanner namespace: every SYN that reaches
/// the target is answered as the ground truth says (SYN-ACK from alive hosts
/// on the listening port, RST on the closed one, nothing from silent hosts).
#[test]
fn syn_flood_gets_every_answer() {
    let lab = Lab::builder()
        .listen(&[80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build();
    let range = "198.19.0.0/17"; // 32768 hosts
    let (lo, hi) = common::parse_range(range);
    let ports = [80u16, 81];
    let sent = lab.in_scanner(|| flood(lo..=hi, &ports)) as u64;
    assert_eq!(sent, 65536);
    let open = lab.ground_truth_open(&ports, range).len() as u64;
    let closed = lab.ground_truth_closed(&ports, range).len() as u64;
    let c = settled_counters(&lab, |c| {
        c.synack_out + c.rst_out + c.silent_dropped >= c.syn_in
    });
    // Each arriving SYN is answered or silently dropped, exactly.
    assert_eq!(
        c.synack_out + c.rst_out + c.silent_dropped,
        c.syn_in,
        "{c:?}"
    );
    if c.syn_in == sent {
        assert_eq!(c.synack_out, open, "{c:?}");
        assert_eq!(c.rst_out, closed, "{c:?}");
    } else {
        // veth drops frames when the per-CPU backlog (net.core.netdev_max_backlog,
        // a host-wide setting) overflows on a busy machine; tolerate a little.
        eprintln!("note: {} of {sent} SYNs lost on the veth", sent - c.syn_in);
        assert!(c.syn_in >= sent * 99 / 100, "{c:?}");
    }
}

/// With a tiny listen backlog and a scanner kernel that does not RST the
/// SYN-ACKs, the SYN queue fills up and the kernel answers with syncookies:
/// still one SYN-ACK per SYN.
#[test]
fn syncookies_answer_when_the_syn_queue_is_full() {
    let lab = Lab::builder().listen(&[80]).listen_backlog(16).build();
    // Keep the scanner's kernel quiet, so the half-open connections stay.
    let mut nft = Command::new("nft");
    nft.args(["add table inet quiet; \
         add chain inet quiet out { type filter hook output priority 0; }; \
         add rule inet quiet out tcp flags & rst == rst drop"]);
    let out = lab.run_in_scanner(&mut nft);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (lo, hi) = common::parse_range("198.19.0.0/23");
    let sent = lab.in_scanner(|| flood(lo..=hi, &[80])) as u64;
    let c = settled_counters(&lab, |c| c.synack_out >= c.syn_in);
    assert_eq!(c.synack_out, c.syn_in, "{c:?}");
    assert!(c.syn_in >= sent * 99 / 100, "{c:?}");
    let cookies = lab.target_tcpext("SyncookiesSent");
    assert!(cookies >= c.syn_in - 17, "cookies {cookies}, {c:?}");
}

/// Counters once `done` holds (softirqs may still be running), or after 1 s.
fn settled_counters(lab: &Lab, done: impl Fn(&common::Counters) -> bool) -> common::Counters {
    let mut c = lab.counters();
    for _ in 0..50 {
        if done(&c) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        c = lab.counters();
    }
    c
}

/// Send one SYN per (address, port) from 198.18.0.1 on a raw IP socket.
fn flood(addrs: std::ops::RangeInclusive<u32>, ports: &[u16]) -> usize {
    // SAFETY: socket syscalls on an fd we own and close.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
    let src = u32::from(common::SCANNER_ADDR);
    let mut sent = 0;
    for dst in addrs {
        for &port in ports {
            let sport = 40000 + (dst as u16 & 0x3fff);
            let pkt = syn_packet(src, dst, sport, port, dst ^ 0x5eed);
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: dst.to_be(),
                },
                sin_zero: [0; 8],
            };
            loop {
                // SAFETY: valid buffer and address for the duration of the call.
                let rc = unsafe {
                    libc::sendto(
                        fd,
                        pkt.as_ptr().cast(),
                        pkt.len(),
                        0,
                        &sin as *const _ as *const libc::sockaddr,
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                };
                if rc >= 0 {
                    break;
                }
                let e = std::io::Error::last_os_error();
                assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS), "sendto: {e}");
                std::thread::yield_now();
            }
            sent += 1;
        }
    }
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    sent
}

fn syn_packet(src: u32, dst: u32, sport: u16, dport: u16, seq: u32) -> [u8; 40] {
    let mut p = [0u8; 40];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&40u16.to_be_bytes());
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&src.to_be_bytes());
    p[16..20].copy_from_slice(&dst.to_be_bytes());
    let ip_sum = checksum(&p[..20], 0);
    p[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    let t = 20;
    p[t..t + 2].copy_from_slice(&sport.to_be_bytes());
    p[t + 2..t + 4].copy_from_slice(&dport.to_be_bytes());
    p[t + 4..t + 8].copy_from_slice(&seq.to_be_bytes());
    p[t + 12] = 5 << 4;
    p[t + 13] = 0x02; // SYN
    p[t + 14..t + 16].copy_from_slice(&1024u16.to_be_bytes());
    let pseudo = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + 6 + 20;
    let sum = checksum(&p[t..], pseudo);
    p[t + 16..t + 18].copy_from_slice(&sum.to_be_bytes());
    p
}

fn checksum(bytes: &[u8], initial: u32) -> u16 {
    let mut sum = initial;
    for chunk in bytes.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// scripts/lab.sh builds the same lab from the shell, and `down` is idempotent.
#[test]
fn lab_sh_up_exec_down() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lab.sh");
    let name = format!("st{}", std::process::id());
    let sh = |args: &[&str]| Command::new(script).args(args).output().unwrap();
    let up = sh(&["up", &name, "--ports", "80", "--alive-mask", "0.0.0.3"]);
    let stdout = String::from_utf8_lossy(&up.stdout).into_owned();
    let down = || {
        let out = sh(&["down", &name]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    if !up.status.success() {
        down();
        panic!("lab.sh up: {}", String::from_utf8_lossy(&up.stderr));
    }
    let scanner_ns = format!("sswlab-{name}-s");
    assert!(
        stdout.contains(&format!("scanner_ns={scanner_ns}\n")),
        "{stdout}"
    );
    let result = std::panic::catch_unwind(|| {
        let probes = common::in_netns(&scanner_ns, || {
            [(4, 80), (4, 81), (5, 80)].map(|(h, p)| probe(Ipv4Addr::new(198, 19, 7, h), p))
        });
        assert_eq!(probes, [Probe::Open, Probe::Refused, Probe::TimedOut]);
        let out = sh(&["exec", &name, "--", "ip", "route", "show", "default"]);
        assert!(out.status.success() && out.stdout.is_empty());
    });
    down();
    down();
    assert!(!ns_exists(&scanner_ns) && !ns_exists(&format!("sswlab-{name}-t")));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
