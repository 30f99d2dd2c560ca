//! UDP scans end to end (`synsweep scan -p U:...`) against real Debian
//! daemons in the lab's target namespace, checked against ground truth:
//!
//! - dnsmasq (53) and snmpd (161) answer on every live host (wildcard
//!   sockets that reply from the probed address), memcached -U (11211) on
//!   the addresses it is bound to; 12345 has no listener anywhere;
//! - every open UDP service on a live host is found and named (`protocol`),
//!   with its amplification factor;
//! - closed ports are reported closed through ICMP port unreachable with
//!   `--show-closed`;
//! - silent hosts (nftables drops what is sent to them) report nothing;
//!   no pair twice; exit 0.
//!
//! A second test forges UDP replies and ICMP errors from the target
//! namespace while a scan runs: none becomes a finding.
//!
//! Needs root and dnsmasq-base, snmpd, memcached (scripts/test.sh installs
//! them); fails, never skips, without them.

mod common;

use common::daemons::Daemons;
use common::findings::{pairs, records, score};
use common::forge::PacketSocket;
use common::run::{check, synsweep};
use common::{Lab, SCANNER_ADDR};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Mutex;

/// One raw-packet scan at a time: the machine has two cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// The scanned block: 198.19.0.0/26; even hosts live, odd ones silent.
/// Let the target namespace's kernel answer every probe of a closed port.
fn no_icmp_rate_limit(lab: &Lab) {
    for kv in [
        "net.ipv4.icmp_ratelimit=0",
        "net.ipv4.icmp_msgs_per_sec=100000",
    ] {
        let st = Command::new("ip")
            .args(["netns", "exec", lab.target_ns(), "sysctl", "-q", "-w", kv])
            .status()
            .expect("sysctl");
        assert!(st.success(), "udp lab: sysctl {kv} in the target namespace");
    }
}

const RANGE: &str = "198.19.0.0/26";
fn hosts() -> impl Iterator<Item = Ipv4Addr> {
    (0u32..64).map(|i| Ipv4Addr::from(0xc613_0000 + i))
}
/// memcached is bound to these (live) hosts only.
fn memcached_hosts() -> Vec<Ipv4Addr> {
    hosts().filter(|a| a.octets()[3] % 8 == 0).collect()
}

/// A lab with dnsmasq, snmpd and memcached in the target namespace, and
/// the kernel's ICMP rate limit off there (a closed port must be able to
/// answer every probe, as in the ground truth).
fn udp_lab(dir: &std::path::Path) -> (Lab, Daemons) {
    let lab = Lab::builder()
        .listen(&[22])
        .alive_mask("0.0.0.1", "0.0.0.0")
        .build();
    for kv in [
        "net.ipv4.icmp_ratelimit=0",
        "net.ipv4.icmp_msgs_per_sec=100000",
    ] {
        let st = Command::new("ip")
            .args(["netns", "exec", lab.target_ns(), "sysctl", "-q", "-w", kv])
            .status()
            .expect("sysctl");
        assert!(st.success(), "udp lab: sysctl {kv} in the target namespace");
    }
    let snmpd_conf = dir.join("snmpd.conf");
    std::fs::write(
        &snmpd_conf,
        "rocommunity public 198.18.0.0/16\nsysDescr synsweep udp scan lab\n",
    )
    .unwrap();
    let mut daemons = Daemons(Vec::new());
    daemons.start(
        &lab,
        "dnsmasq",
        &[
            "--conf-file=/dev/null",
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--user=root",
            &format!("--pid-file={}", dir.join("dnsmasq.pid").display()),
            "--server=/invalid/",
        ],
    );
    daemons.start(
        &lab,
        "snmpd",
        &[
            "-f",
            "-Lo",
            "-C",
            "-c",
            snmpd_conf.to_str().unwrap(),
            "-p",
            dir.join("snmpd.pid").to_str().unwrap(),
            "udp:161",
        ],
    );
    // memcached answers from its socket's address: bind it per address.
    let listen: Vec<String> = memcached_hosts().iter().map(|a| a.to_string()).collect();
    daemons.start(
        &lab,
        "memcached",
        &[
            "-u",
            "root",
            "-l",
            &listen.join(","),
            "-U",
            "11211",
            "-p",
            "0",
        ],
    );
    daemons.wait_ports(&lab, &[53, 161, 11211]);
    (lab, daemons)
}

#[test]
fn udp_scan_finds_and_names_every_open_service_and_icmp_closed_ports() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (lab, daemons) = udp_lab(dir.path());
    let out_file = dir.path().join("f.ndjson");
    let out = lab.run_in_scanner(
        synsweep()
            .args([
                "scan",
                RANGE,
                "-p",
                "U:53,161,11211,12345",
                "--rate",
                "2000",
                "--retries",
                "1",
                "--wait",
                "2",
                "--show-closed",
                "-o",
            ])
            .arg(&out_file),
    );
    check(&out);
    drop(daemons);
    let recs = records(&out_file);
    let live: Vec<Ipv4Addr> = hosts().filter(|a| lab.is_alive(*a)).collect();
    assert_eq!(live.len(), 32);
    let mc = memcached_hosts();
    let mut truth_open = BTreeSet::new();
    let mut truth_closed = BTreeSet::new();
    for &a in &live {
        truth_open.insert((a, 53));
        truth_open.insert((a, 161));
        if mc.contains(&a) {
            truth_open.insert((a, 11211));
        } else {
            truth_closed.insert((a, 11211));
        }
        truth_closed.insert((a, 12345));
    }
    let (found, false_open) = score(&pairs(&recs, "open"), &truth_open);
    assert!(false_open.is_empty(), "open but not: {false_open:?}");
    assert_eq!(found, 1.0, "found {found} of {} open", truth_open.len());
    let (found_c, false_closed) = score(&pairs(&recs, "closed"), &truth_closed);
    assert!(false_closed.is_empty(), "closed but not: {false_closed:?}");
    assert_eq!(
        found_c,
        1.0,
        "found {found_c} of {} closed",
        truth_closed.len()
    );
    assert_eq!(
        recs.len(),
        truth_open.len() + truth_closed.len(),
        "no pair twice, nothing from silent hosts"
    );
    for r in &recs {
        assert_eq!(r["proto"], "udp", "{r}");
        let port = r["port"].as_u64().unwrap();
        if r["state"] == "open" {
            assert_eq!(r["reason"], "udp-response", "{r}");
            let want = match port {
                53 => "dns",
                161 => "snmp",
                11211 => "memcached",
                _ => unreachable!(),
            };
            assert_eq!(r["protocol"], want, "{r}");
            let amp = r["amplification"].as_f64().unwrap_or(0.0);
            assert!(amp > 0.0, "{r}");
            if amp >= 2.0 {
                let sev = r["severity"].as_str().unwrap();
                assert!(sev == "high" || sev == "critical", "amplifier {r}");
            }
        } else {
            assert_eq!(r["reason"], "icmp-port-unreach", "{r}");
        }
    }
    // memcached's stats are many times our 15-byte request.
    assert!(
        recs.iter()
            .filter(|r| r["port"] == 11211 && r["state"] == "open")
            .all(|r| r["amplification"].as_f64().unwrap() >= 2.0 && r["severity"] != "medium")
    );
}

/// TCP and UDP in one scan: `-p T:22,80,U:53,12345`. TCP/22 (the lab's
/// listener) open and TCP/80 closed by RST; UDP/53 (dnsmasq) open and named,
/// UDP/12345 closed by ICMP; each finding carries its own proto, and TCP/53
/// is not probed, so no record says tcp/53.
#[test]
fn one_scan_mixes_tcp_and_udp_ports() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (lab, daemons) = udp_lab(dir.path());
    let out_file = dir.path().join("f.ndjson");
    let out = lab.run_in_scanner(
        synsweep()
            .args([
                "scan",
                "198.19.0.0/28",
                "-p",
                "T:22,80,U:53,12345",
                "--rate",
                "2000",
                "--retries",
                "1",
                "--wait",
                "2",
                "--show-closed",
                "-o",
            ])
            .arg(&out_file),
    );
    check(&out);
    drop(daemons);
    let recs = records(&out_file);
    let got: BTreeSet<(String, u16, String, String)> = recs
        .iter()
        .map(|r| {
            (
                r["ip"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap() as u16,
                r["proto"].as_str().unwrap().to_string(),
                r["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut want = BTreeSet::new();
    for a in (0u32..16).map(|i| Ipv4Addr::from(0xc613_0000 + i)) {
        if !lab.is_alive(a) {
            continue;
        }
        let a = a.to_string();
        for (port, proto, state) in [
            (22, "tcp", "open"),
            (80, "tcp", "closed"),
            (53, "udp", "open"),
            (12345, "udp", "closed"),
        ] {
            want.insert((a.clone(), port, proto.to_string(), state.to_string()));
        }
    }
    assert_eq!(got, want);
    assert_eq!(recs.len(), want.len(), "no pair twice");
    for r in &recs {
        if r["proto"] == "udp" && r["state"] == "open" {
            assert_eq!(r["protocol"], "dns", "{r}");
        }
        if r["proto"] == "tcp" {
            assert!(r.get("amplification").is_none_or(|v| v.is_null()), "{r}");
        }
    }
}

/// Forged replies from the target namespace, sent while a scan of it runs
/// (the scanner's source ports are 61000..=65535): a reply from a port that
/// was not probed, a DNS reply with a wrong ID, unsolicited replies that are
/// not answers of the probed port's protocol, a reply from an address that
/// was not probed, and ICMP port unreachables quoting probes we did not send
/// (wrong IP id, unprobed port, unprobed address), all to every source port
/// the scanner may use. None may become a finding.
///
/// Not forged: a datagram from a probed address and *unknown* port (12345
/// here) to our source port. The probe to such a port is empty and nothing
/// can echo a cookie, so such a reply is indistinguishable from a real one
/// (README, UDP: what cannot be validated).
#[test]
fn forged_udp_replies_and_icmp_errors_are_never_findings() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // No daemons: every real answer is an ICMP port unreachable (closed),
    // which the scan must report with --show-closed; forged "open" replies
    // must not appear.
    let lab = Lab::builder().alive_mask("0.0.0.1", "0.0.0.0").build();
    no_icmp_rate_limit(&lab);
    let out_file = dir.path().join("f.ndjson");
    let iface = lab.target_iface().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let forger = {
        let stop = stop.clone();
        let ns = lab.target_ns().to_string();
        std::thread::spawn(move || {
            common::in_netns(&ns, || {
                let sock = PacketSocket::open(&iface).expect("AF_PACKET in the target namespace");
                let mut sent = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    for dport in (61000u16..=65535).step_by(7) {
                        for f in forged_frames(dport) {
                            let _ = sock.send(&f);
                            sent += 1;
                        }
                    }
                }
                sent
            })
        })
    };
    let out = lab.run_in_scanner(
        synsweep()
            .args([
                "scan",
                "198.19.0.0/29",
                "-p",
                "U:53,161,12345",
                "--rate",
                "200",
                "--wait",
                "2",
                "--show-closed",
                "-o",
            ])
            .arg(&out_file),
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let forged = forger.join().unwrap();
    check(&out);
    assert!(forged > 10_000, "forged only {forged} frames");
    let recs = records(&out_file);
    assert!(
        pairs(&recs, "open").is_empty(),
        "forged replies became findings: {recs:?}"
    );
    // The real ICMP answers of the 4 live hosts (no daemons: every port
    // closed), and nothing else.
    let want: BTreeSet<(Ipv4Addr, u16)> = (0u32..8)
        .map(|i| Ipv4Addr::from(0xc613_0000 + i))
        .filter(|a| lab.is_alive(*a))
        .flat_map(|a| [53, 161, 12345].map(|p| (a, p)))
        .collect();
    assert_eq!(pairs(&recs, "closed"), want);
    assert_eq!(recs.len(), want.len());
}

/// Ethernet frames from the target side to the scanner for one of its
/// possible source ports `dport`.
fn forged_frames(dport: u16) -> Vec<Vec<u8>> {
    let live = Ipv4Addr::new(198, 19, 0, 4);
    let unprobed = Ipv4Addr::new(198, 19, 0, 200);
    // A DNS answer (QR set, NXDOMAIN) with a made-up ID and no question.
    let dns = [0x12, 0x34, 0x81, 0x83, 0, 0, 0, 0, 0, 0, 0, 0];
    let anything = b"stats STAT pid 1\r\nEND\r\n".to_vec();
    let mut v = vec![
        // A wrong ID from the probed address and port.
        udp_frame(live, 53, dport, &dns),
        // From a port that was not probed (unknown port: any payload counts
        // there, so the correlator must drop it).
        udp_frame(live, 5353, dport, &anything),
        udp_frame(live, 40000, dport, &anything),
        // Unsolicited: not an answer of the probed port's protocol.
        udp_frame(live, 53, dport, &anything),
        udp_frame(live, 161, dport, &dns),
        // From an address that was not probed.
        udp_frame(unprobed, 12345, dport, &anything),
        udp_frame(unprobed, 53, dport, &dns),
    ];
    // ICMP port unreachables quoting probes we did not send: wrong IP id,
    // a port we did not probe, an address we did not probe.
    for (dst, port, ident) in [(live, 53, 0x1234), (live, 9999, 0), (unprobed, 53, 7)] {
        let mut quoted = ipv4_udp(SCANNER_ADDR, dst, dport, port, ident, b"");
        quoted.truncate(28);
        v.push(icmp_frame(dst, 3, &quoted));
    }
    v
}

fn ipv4_udp(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    ident: u16,
    payload: &[u8],
) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut p = vec![0u8; 20 + udp_len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
    p[4..6].copy_from_slice(&ident.to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let c = synsweep::wire::checksum::checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p[20..22].copy_from_slice(&sport.to_be_bytes());
    p[22..24].copy_from_slice(&dport.to_be_bytes());
    p[24..26].copy_from_slice(&(udp_len as u16).to_be_bytes());
    p[28..].copy_from_slice(payload);
    p
}

fn ethernet(ip: Vec<u8>) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + ip.len());
    f.extend_from_slice(&common::SCANNER_MAC);
    f.extend_from_slice(&common::TARGET_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend(ip);
    f
}

fn udp_frame(src: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    ethernet(ipv4_udp(src, SCANNER_ADDR, sport, dport, 1, payload))
}

fn icmp_frame(src: Ipv4Addr, code: u8, quoted: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 28 + quoted.len()];
    p[0] = 0x45;
    let total = p.len() as u16;
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p[8] = 64;
    p[9] = 1;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&SCANNER_ADDR.octets());
    let c = synsweep::wire::checksum::checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p[20] = 3;
    p[21] = code;
    p[28..].copy_from_slice(quoted);
    let c = synsweep::wire::checksum::checksum(&p[20..]);
    p[22..24].copy_from_slice(&c.to_be_bytes());
    ethernet(p)
}
