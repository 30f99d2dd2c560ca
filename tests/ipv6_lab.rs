//! IPv6 end to end in the lab (`lab.sh up --ipv6`: the target namespace
//! answers for all of 2001:2::/64 through a local route, next to
//! 198.19.0.0/16 on the same veth; one IPv6 host in four is alive, as one
//! IPv4 host in four):
//!
//! - a mixed scan of an IPv6 /112 and an IPv4 /20 finds at least 99.9% of
//!   the open pairs of each family (and the closed ones, with
//!   `--show-closed`), no false positives, no duplicates, IPv6 addresses in
//!   RFC 5952 text in every output format (nmap XML with addrtype ipv6);
//! - pause and resume over IPv6 targets probe the space exactly once;
//! - shards over mixed targets split the space exactly;
//! - forged IPv6 replies (wrong acknowledgements, addresses, ports, flags,
//!   lengths, next headers, ICMPv6 errors with forged quotes) never become
//!   findings;
//! - on a layer-3 link (the VPN lab: tuns, no link header) IPv6 is probed
//!   and captured as on Ethernet;
//! - on-link IPv6 targets are found by neighbour discovery of our own: only
//!   the hosts that answer a solicitation are probed;
//! - `::1` (the loopback lab with IPv6) is probed through a raw IPv6
//!   socket, next to 127.0.0.1;
//! - `--source-ip` with IPv6 addresses spreads probes over them;
//! - UDP over IPv6: a reply is open, a port unreachable from the probed
//!   address itself closed, one from another address filtered;
//! - bad IPv6 input (malformed prefixes, over-wide prefixes, zone IDs)
//!   exits 2 with one line and sends nothing.

mod common;

use common::forge::{self, ACK, PacketSocket, RST, SYN};
use common::run::{interrupt_after, probes_in_summary};
use common::{Lab, SCANNER_MAC, TARGET_MAC};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

const LISTEN: [u16; 2] = [22, 80];
const PORTS: [u16; 3] = [22, 80, 443];

fn lab() -> Lab {
    Lab::builder()
        .listen(&LISTEN)
        .alive_mask("0.0.0.3", "0.0.0.0")
        .ipv6(Some("::3"))
        .build()
}

fn synsweep(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_synsweep"));
    c.current_dir(cwd);
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn records(path: &Path) -> Vec<serde_json::Value> {
    common::findings::records(path)
}

fn pairs(recs: &[serde_json::Value], state: &str) -> BTreeSet<(IpAddr, u16)> {
    recs.iter()
        .filter(|r| r["state"] == state)
        .map(|r| {
            (
                r["ip"].as_str().unwrap().parse().unwrap(),
                r["port"].as_u64().unwrap() as u16,
            )
        })
        .collect()
}

fn v6(s: &str) -> u128 {
    u128::from(s.parse::<Ipv6Addr>().unwrap())
}

/// The pairs of `[lo, hi]` a perfect scan of `ports` finds (`open`: on a
/// listening port; else closed), by the lab's alive rule.
fn truth6(lab: &Lab, lo: &str, hi: &str, ports: &[u16], open: bool) -> BTreeSet<(IpAddr, u16)> {
    let mut set = BTreeSet::new();
    for a in v6(lo)..=v6(hi) {
        let ip = Ipv6Addr::from(a);
        if lab.is_alive6(ip) {
            for &p in ports {
                if LISTEN.contains(&p) == open {
                    set.insert((IpAddr::V6(ip), p));
                }
            }
        }
    }
    set
}

fn truth4(lab: &Lab, range: &str, ports: &[u16], open: bool) -> BTreeSet<(IpAddr, u16)> {
    let t = if open {
        lab.ground_truth_open(ports, range)
    } else {
        lab.ground_truth_closed(ports, range)
    };
    t.into_iter().map(|(a, p)| (IpAddr::V4(a), p)).collect()
}

fn family(set: &BTreeSet<(IpAddr, u16)>, ipv6: bool) -> BTreeSet<(IpAddr, u16)> {
    set.iter()
        .filter(|(a, _)| a.is_ipv6() == ipv6)
        .copied()
        .collect()
}

/// Share of `truth` in `found`, and up to 10 pairs of `found` not in `truth`.
fn score(
    found: &BTreeSet<(IpAddr, u16)>,
    truth: &BTreeSet<(IpAddr, u16)>,
) -> (f64, Vec<(IpAddr, u16)>) {
    let hit = found.intersection(truth).count();
    let false_pos = found.difference(truth).take(10).copied().collect();
    (hit as f64 / truth.len().max(1) as f64, false_pos)
}

#[test]
fn the_ipv6_lab_is_closed() {
    for lab in [lab(), Lab::builder().ipv6(None).build_vpn()] {
        for ns in [lab.scanner_ns(), lab.target_ns()] {
            let out = common::run_ok(Command::new("ip").args(["-n", ns, "-6", "route", "show"]));
            let routes = text(&out.stdout);
            assert!(!routes.contains("default"), "{ns}: {routes}");
            for r in routes.lines() {
                let dst = r
                    .split_whitespace()
                    .nth(usize::from(r.starts_with("local")))
                    .unwrap();
                assert!(
                    dst.starts_with("2001:2:") || dst.starts_with("fe80::") || dst == "::1",
                    "{ns}: route outside the lab: {r}"
                );
            }
        }
        // Outside 2001:2::/48 there is no way out (asking sends nothing).
        let out =
            lab.run_in_scanner(Command::new("ip").args(["-6", "route", "get", "2001:db8::1"]));
        assert!(!out.status.success(), "{}", text(&out.stdout));
    }
}

#[test]
fn mixed_scan_of_an_ipv6_112_and_an_ipv4_20_finds_every_open_pair_once() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    // The policy expects SSH on the first 256 IPv6 hosts.
    std::fs::write(
        cwd.join("policy.toml"),
        "[[expect]]\nhosts = [\"2001:2::/120\"]\nports = [22]\n",
    )
    .unwrap();
    let out = lab.run_in_scanner(synsweep(cwd).args([
        "scan",
        "2001:2::/112",
        "198.19.0.0/20",
        "--policy",
        "policy.toml",
        "-o",
        "f.json",
        "-o",
        "f.html",
        "-p",
        "22,80,443",
        "--rate",
        "30000",
        "--wait",
        "2",
        "--show-closed",
        "-o",
        "f.ndjson",
        "-o",
        "f.xml",
        "-o",
        "f.csv",
        "-o",
        "f.txt",
    ]));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    let space = (65536 + 4096) * 3;
    assert_eq!(probes_in_summary(&err), space, "{err}");
    assert_eq!(lab.counters().syn_in, space, "SYNs at the target");

    let recs = records(&cwd.join("f.ndjson"));
    let (open, closed) = (pairs(&recs, "open"), pairs(&recs, "closed"));
    assert_eq!(
        recs.len(),
        open.len() + closed.len(),
        "a pair reported twice"
    );
    for (v6fam, name) in [(true, "IPv6"), (false, "IPv4")] {
        let (t_open, t_closed) = if v6fam {
            (
                truth6(&lab, "2001:2::", "2001:2::ffff", &PORTS, true),
                truth6(&lab, "2001:2::", "2001:2::ffff", &PORTS, false),
            )
        } else {
            (
                truth4(&lab, "198.19.0.0/20", &PORTS, true),
                truth4(&lab, "198.19.0.0/20", &PORTS, false),
            )
        };
        let (share, fp) = score(&family(&open, v6fam), &t_open);
        let (share_c, fp_c) = score(&family(&closed, v6fam), &t_closed);
        eprintln!(
            "{name}: {} of {} open pairs ({:.4}%), {} of {} closed",
            family(&open, v6fam).len(),
            t_open.len(),
            share * 100.0,
            family(&closed, v6fam).len(),
            t_closed.len()
        );
        assert!(fp.is_empty(), "{name} false open: {fp:?}");
        assert!(fp_c.is_empty(), "{name} false closed: {fp_c:?}");
        assert!(share >= 0.999, "{name}: found {share} of the open pairs");
        assert!(
            share_c >= 0.999,
            "{name}: found {share_c} of the closed pairs"
        );
    }
    assert_eq!(
        truth6(&lab, "2001:2::", "2001:2::ffff", &PORTS, true).len(),
        16384 * 2,
        "one IPv6 host in four answers"
    );

    // RFC 5952 text everywhere: the canonical form, never a long one.
    for r in &recs {
        let s = r["ip"].as_str().unwrap();
        let ip: IpAddr = s.parse().unwrap();
        assert_eq!(ip.to_string(), s, "not RFC 5952");
    }
    let four = "2001:2::4";
    assert!(open.contains(&(four.parse().unwrap(), 22)), "{four}:22");
    let xml = std::fs::read_to_string(cwd.join("f.xml")).unwrap();
    assert!(
        xml.contains(&format!("<address addr=\"{four}\" addrtype=\"ipv6\"/>")),
        "nmap XML"
    );
    assert!(xml.contains("addrtype=\"ipv4\""));
    assert!(!xml.contains("2001:2:0:0:"), "long IPv6 form in the XML");
    let csv = std::fs::read_to_string(cwd.join("f.csv")).unwrap();
    assert!(
        csv.lines().any(|l| l.starts_with(&format!("{four},22,"))),
        "CSV"
    );
    // Policy host matching by IPv6 prefix.
    for r in recs.iter().filter(|r| r["state"] == "open") {
        let ip: IpAddr = r["ip"].as_str().unwrap().parse().unwrap();
        let inside = matches!(ip, IpAddr::V6(a) if u128::from(a) >> 8 == v6("2001:2::") >> 8);
        let want = inside && r["port"] == 22;
        assert_eq!(r["expected"], want, "{r}");
    }
    let doc: serde_json::Value = common::schema::read_document(&cwd.join("f.json"));
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["ip"] == four),
        "JSON document"
    );
    let html = std::fs::read_to_string(cwd.join("f.html")).unwrap();
    assert!(html.contains(">2001:2::"), "HTML report: IPv6 hosts");
    assert!(!html.contains("2001:2:0:0:"), "long IPv6 form in the HTML");
    let list = std::fs::read_to_string(cwd.join("f.txt")).unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with(&format!("open tcp 22 {four} "))),
        "list"
    );
}

#[test]
fn ipv6_over_a_layer3_link_finds_every_open_pair() {
    let lab = Lab::builder()
        .listen(&LISTEN)
        .alive_mask("0.0.0.3", "0.0.0.0")
        .ipv6(Some("::3"))
        .build_vpn();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = lab.run_in_scanner(synsweep(cwd).args([
        "scan",
        "2001:2::/118",
        "198.19.0.0/24",
        "-p",
        "22,80,443",
        "--rate",
        "5000",
        "--wait",
        "2",
        "--show-closed",
        "-o",
        "f.ndjson",
    ]));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(probes_in_summary(&err), (1024 + 256) * 3);
    let recs = records(&cwd.join("f.ndjson"));
    let (open, closed) = (pairs(&recs, "open"), pairs(&recs, "closed"));
    assert_eq!(
        recs.len(),
        open.len() + closed.len(),
        "a pair reported twice"
    );
    let mut t_open = truth6(&lab, "2001:2::", "2001:2::3ff", &PORTS, true);
    t_open.extend(truth4(&lab, "198.19.0.0/24", &PORTS, true));
    let mut t_closed = truth6(&lab, "2001:2::", "2001:2::3ff", &PORTS, false);
    t_closed.extend(truth4(&lab, "198.19.0.0/24", &PORTS, false));
    let (share, fp) = score(&open, &t_open);
    eprintln!("layer 3: {} of {} open pairs", open.len(), t_open.len());
    assert!(fp.is_empty(), "false open: {fp:?}");
    assert!(share >= 0.999, "found {share} of the open pairs");
    assert_eq!(closed, t_closed, "closed pairs");
    assert_eq!(family(&open, true).len(), 256 * 2, "IPv6 open pairs");
}

#[test]
fn on_link_ipv6_targets_are_found_by_neighbour_discovery() {
    // 2001:2:0:ff::/120 is on the veth's own /64: no gateway, each host at
    // its own MAC. Only the target namespace (2001:2:0:ff::2) answers a
    // solicitation; our own address (2001:2:0:ff::1) is probed through
    // loopback (nothing listens there: closed); the other 254 are down and
    // get no probe.
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let dry = lab.run_in_scanner(synsweep(cwd).args([
        "scan",
        "2001:2:0:ff::/120",
        "-p",
        "22",
        "--dry-run",
    ]));
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(
        text(&dry.stdout).contains("on-link (neighbour discovery"),
        "{}",
        text(&dry.stdout)
    );
    let out = lab.run_in_scanner(synsweep(cwd).args([
        "scan",
        "2001:2:0:ff::/120",
        "-p",
        "22,80,443",
        "--rate",
        "5000",
        "--wait",
        "1",
        "--show-closed",
        "-o",
        "f.ndjson",
    ]));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("1 of 255 IPv6 hosts answered neighbour discovery"),
        "{err}"
    );
    assert_eq!(
        probes_in_summary(&err),
        6,
        "the host that answered, and us: {err}"
    );
    assert_eq!(lab.counters().syn_in, 3, "SYNs at the target");
    let recs = records(&cwd.join("f.ndjson"));
    let host: IpAddr = "2001:2:0:ff::2".parse().unwrap();
    let us: IpAddr = "2001:2:0:ff::1".parse().unwrap();
    assert_eq!(
        pairs(&recs, "open"),
        [(host, 22), (host, 80)].into_iter().collect()
    );
    assert_eq!(
        pairs(&recs, "closed"),
        [(host, 443), (us, 22), (us, 80), (us, 443)]
            .into_iter()
            .collect()
    );
}

#[test]
fn udp_over_ipv6_open_closed_and_filtered() {
    // 2001:2:0:ff::2 is the target namespace's own address: it answers
    // from it. An AnyIP address of 2001:2::/64 answers errors from the
    // link address (the kernel picks the source), so its closed port reads
    // as filtered, and its service's reply (from the link address) is not
    // the probed pair's.
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let stop = AtomicBool::new(false);
    let (ready_tx, ready_rx) = mpsc::channel();
    let (out, answered) = std::thread::scope(|s| {
        let service = s.spawn(|| {
            lab.in_target(|| {
                let sock = std::net::UdpSocket::bind("[::]:40123").expect("bind [::]:40123");
                sock.set_read_timeout(Some(Duration::from_millis(20)))
                    .unwrap();
                ready_tx.send(()).unwrap();
                let mut buf = [0u8; 2048];
                let mut answered = 0;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((_, from)) = sock.recv_from(&mut buf) {
                        sock.send_to(b"hello from udp6", from).unwrap();
                        answered += 1;
                    }
                }
                answered
            })
        });
        ready_rx.recv().expect("UDP service did not start");
        let out = lab.run_in_scanner(synsweep(cwd).args([
            "scan",
            "2001:2:0:ff::2",
            "2001:2::4",
            "-p",
            "U:9,40123",
            "--rate",
            "1000",
            "--wait",
            "1",
            "--show-closed",
            "-o",
            "f.ndjson",
        ]));
        stop.store(true, Ordering::Relaxed);
        (out, service.join().expect("service panicked"))
    });
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(answered, 2, "the service saw both probes to 40123: {err}");
    assert!(err.contains("1 ICMP unreachable (filtered)"), "{err}");
    let recs = records(&cwd.join("f.ndjson"));
    let host: IpAddr = "2001:2:0:ff::2".parse().unwrap();
    assert_eq!(pairs(&recs, "open"), [(host, 40123)].into_iter().collect());
    assert_eq!(pairs(&recs, "closed"), [(host, 9)].into_iter().collect());
    assert_eq!(recs.len(), 2, "{recs:?}");
    for r in &recs {
        assert_eq!(r["proto"], "udp");
    }
    let open = recs.iter().find(|r| r["state"] == "open").unwrap();
    assert_eq!(open["reason"], "udp-response");
    let closed = recs.iter().find(|r| r["state"] == "closed").unwrap();
    assert_eq!(closed["reason"], "icmp-port-unreach");
}

#[test]
fn ipv6_probes_spread_over_the_given_source_addresses() {
    let lab = Lab::builder()
        .listen(&LISTEN)
        .ipv6(Some("::3"))
        .sources(4)
        .build();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = lab.run_in_scanner(synsweep(cwd).args([
        "scan",
        "2001:2::/116",
        "-p",
        "22,80",
        "--source-ip",
        "2001:2:0:2::1-2001:2:0:2::4",
        "--rate",
        "10000",
        "--wait",
        "1",
        "-o",
        "f.ndjson",
    ]));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let sent = probes_in_summary(&err);
    assert_eq!(sent, 4096 * 2);
    let per: Vec<u64> = (1..=4)
        .map(|k| lab.counter(&format!("syn6_src_{k}")))
        .collect();
    eprintln!("SYNs per IPv6 source: {per:?}");
    assert_eq!(
        per.iter().sum::<u64>(),
        sent,
        "every probe from a given source"
    );
    assert!(per.iter().all(|&n| n > sent / 8), "uneven spread: {per:?}");
    let recs = records(&cwd.join("f.ndjson"));
    let open = pairs(&recs, "open");
    assert_eq!(recs.len(), open.len(), "duplicates");
    assert_eq!(
        open,
        truth6(&lab, "2001:2::", "2001:2::fff", &PORTS[..2], true)
    );
}

#[test]
fn ipv6_loopback_is_probed_through_a_raw_socket() {
    let lab = Lab::builder().listen(&LISTEN).ipv6(None).build_loopback();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let out = lab.run_in_scanner(synsweep(cwd).args([
        "scan",
        "::1",
        "127.0.0.1",
        "-p",
        "22,80,443",
        "--rate",
        "1000",
        "--wait",
        "1",
        "--show-closed",
        "-o",
        "f.ndjson",
    ]));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(probes_in_summary(&err), 6, "{err}");
    let recs = records(&cwd.join("f.ndjson"));
    let (v6, v4): (IpAddr, IpAddr) = ("::1".parse().unwrap(), "127.0.0.1".parse().unwrap());
    assert_eq!(
        pairs(&recs, "open"),
        [(v6, 22), (v6, 80), (v4, 22), (v4, 80)]
            .into_iter()
            .collect()
    );
    assert_eq!(
        pairs(&recs, "closed"),
        [(v6, 443), (v4, 443)].into_iter().collect()
    );
    assert_eq!(recs.len(), 6);
    let dry = lab.run_in_scanner(synsweep(cwd).args(["scan", "::1", "-p", "22", "--dry-run"]));
    assert!(
        text(&dry.stdout).contains("loopback (raw IPv6 socket)"),
        "{}",
        text(&dry.stdout)
    );
}

#[test]
fn sigint_then_resume_over_ipv6_covers_the_space_exactly_once() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let space = 65536 * 3;
    let mut first = synsweep(cwd);
    first.args([
        "scan",
        "2001:2::/112",
        "-p",
        "22,80,443",
        "--rate",
        "20000",
        "--wait",
        "1",
        "-o",
        "f.ndjson",
    ]);
    let out1 = interrupt_after(&lab, &first, space / 3);
    let err1 = text(&out1.stderr);
    assert_eq!(out1.status.code(), Some(75), "{err1}");
    let sent1 = probes_in_summary(&err1);
    assert!(
        sent1 > space / 4 && sent1 < space * 2 / 3,
        "interrupted at {sent1}"
    );
    assert_eq!(lab.counters().syn_in, sent1);
    let after1 = records(&cwd.join("f.ndjson")).len();
    assert!(after1 > 0);

    // Other IPv6 targets than the paused scan's: refused.
    let out = lab.run_in_scanner(synsweep(cwd).args([
        "scan",
        "2001:2::1:0/112",
        "--resume",
        "paused.json",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("targets"));

    let out2 = lab.run_in_scanner(synsweep(cwd).args(["scan", "--resume", "paused.json"]));
    let err2 = text(&out2.stderr);
    assert!(out2.status.success(), "{err2}");
    let sent2 = probes_in_summary(&err2);
    eprintln!("IPv6 resume: {sent1} + {sent2} probes of {space}");
    assert_eq!(sent1 + sent2, space);
    assert_eq!(lab.counters().syn_in, space, "SYNs at the target");
    let recs = records(&cwd.join("f.ndjson"));
    let open = pairs(&recs, "open");
    assert_eq!(recs.len(), open.len(), "duplicate lines");
    assert_eq!(open, truth6(&lab, "2001:2::", "2001:2::ffff", &PORTS, true));
}

#[test]
fn shards_of_a_mixed_scan_probe_every_pair_once() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let (v6, v4) = ("2001:2::5000/116", "198.19.4.0/22");
    let space = (4096 + 1024) * 3;
    let mut all = Vec::new();
    let mut sent = 0;
    for k in 1..=3 {
        let file = format!("s{k}.ndjson");
        let out = lab.run_in_scanner(synsweep(cwd).args([
            "scan",
            v6,
            v4,
            "-p",
            "22,80,443",
            "--seed",
            "77",
            "--shard",
            &format!("{k}/3"),
            "--rate",
            "20000",
            "--wait",
            "1",
            "-o",
            &file,
        ]));
        let err = text(&out.stderr);
        assert!(out.status.success(), "shard {k}: {err}");
        let n = probes_in_summary(&err);
        assert!(n > space / 4 && n < space / 2, "shard {k}: {n} probes");
        sent += n;
        all.extend(records(&cwd.join(file)));
    }
    assert_eq!(sent, space, "the shards' probes add up to the space");
    assert_eq!(lab.counters().syn_in, space, "each pair probed once");
    let open = pairs(&all, "open");
    assert_eq!(all.len(), open.len(), "a pair found by two shards");
    let mut truth = truth6(&lab, "2001:2::5000", "2001:2::5fff", &PORTS, true);
    truth.extend(truth4(&lab, v4, &PORTS, true));
    assert_eq!(open, truth);
}

/// A SYN of the scanner's as sniffed on the target's veth.
#[derive(Clone, Copy, Debug)]
struct Syn6 {
    src: [u8; 16],
    dst: [u8; 16],
    sport: u16,
    dport: u16,
    seq: u32,
}

fn parse_syn6(f: &[u8]) -> Option<Syn6> {
    if f.len() < 14 + 40 + 20 || f[12..14] != [0x86, 0xdd] || f[14 + 6] != 6 {
        return None;
    }
    let ip = &f[14..];
    let t = &ip[40..];
    (t[13] == SYN).then(|| Syn6 {
        src: ip[8..24].try_into().unwrap(),
        dst: ip[24..40].try_into().unwrap(),
        sport: u16::from_be_bytes([t[0], t[1]]),
        dport: u16::from_be_bytes([t[2], t[3]]),
        seq: u32::from_be_bytes(t[4..8].try_into().unwrap()),
    })
}

/// The upper-layer checksum over the IPv6 pseudo-header.
fn checksum6(src: &[u8; 16], dst: &[u8; 16], next: u8, data: &[u8]) -> u16 {
    let mut p = Vec::with_capacity(40 + data.len());
    p.extend_from_slice(src);
    p.extend_from_slice(dst);
    p.extend_from_slice(&(data.len() as u32).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, next]);
    p.extend_from_slice(data);
    forge::checksum(&p)
}

/// An Ethernet frame to the scanner carrying IPv6 (`next`) with `payload`.
fn frame6(src: &[u8; 16], dst: &[u8; 16], next: u8, payload: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x60, 0, 0, 0];
    ip.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    ip.extend_from_slice(&[next, 64]);
    ip.extend_from_slice(src);
    ip.extend_from_slice(dst);
    ip.extend_from_slice(payload);
    forge::ethernet(SCANNER_MAC, TARGET_MAC, 0x86dd, &ip)
}

/// A TCP segment from `src` to `dst` (checksum right).
#[allow(clippy::too_many_arguments)]
fn tcp6(src: &[u8; 16], dst: &[u8; 16], sport: u16, dport: u16, ack: u32, flags: u8) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&0x0bad_f00du32.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = 0x50;
    t[13] = flags;
    t[14..16].copy_from_slice(&1000u16.to_be_bytes());
    let c = checksum6(src, dst, 6, &t);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}

/// The ways a forged IPv6 reply differs from a genuine one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Forgery6 {
    /// SYN-ACK acknowledging the sequence number itself, not plus one.
    AckNotPlusOne,
    /// Right acknowledgement, from another address of the scanned block.
    OtherScannedSource,
    /// Right acknowledgement, to another of our source ports.
    OtherSourcePort,
    /// Right acknowledgement, to an address that is not the scanner's.
    NotToUs,
    /// Right acknowledgement, but a bare SYN.
    BareSyn,
    /// Right acknowledgement, but ACK alone.
    AckOnly,
    /// Right acknowledgement behind a hop-by-hop options header.
    ExtensionHeader,
    /// Right acknowledgement, payload length past the frame.
    LengthLie,
    /// Cut inside the TCP header.
    Truncated,
    /// RST-ACK from an address of the block that was not probed here.
    RstFromElsewhere,
    /// ICMPv6 unreachable quoting the probe with its sequence number off.
    UnreachableForgedQuote,
}

impl Forgery6 {
    const ALL: [Forgery6; 11] = [
        Forgery6::AckNotPlusOne,
        Forgery6::OtherScannedSource,
        Forgery6::OtherSourcePort,
        Forgery6::NotToUs,
        Forgery6::BareSyn,
        Forgery6::AckOnly,
        Forgery6::ExtensionHeader,
        Forgery6::LengthLie,
        Forgery6::Truncated,
        Forgery6::RstFromElsewhere,
        Forgery6::UnreachableForgedQuote,
    ];

    fn frame(self, p: &Syn6, salt: u32) -> Vec<u8> {
        let right = p.seq.wrapping_add(1);
        let mut other = p.dst;
        // Another address of the scanned /116 (low 12 bits), alive or not.
        let low = u16::from_be_bytes([other[14], other[15]]);
        let moved = (low & 0xf000) | ((low.wrapping_add(1 + (salt % 4000) as u16)) & 0x0fff);
        other[14..16].copy_from_slice(&moved.to_be_bytes());
        let syn_ack = |src: &[u8; 16], dst: &[u8; 16], dport: u16, ack: u32, flags: u8| {
            frame6(src, dst, 6, &tcp6(src, dst, p.dport, dport, ack, flags))
        };
        match self {
            Forgery6::AckNotPlusOne => syn_ack(&p.dst, &p.src, p.sport, p.seq, SYN | ACK),
            Forgery6::OtherScannedSource => syn_ack(&other, &p.src, p.sport, right, SYN | ACK),
            Forgery6::OtherSourcePort => {
                // The next of our 16 source ports (the retry round's).
                syn_ack(&p.dst, &p.src, p.sport.wrapping_add(1), right, SYN | ACK)
            }
            Forgery6::NotToUs => {
                let mut to = p.src;
                to[15] ^= 0x40;
                syn_ack(&p.dst, &to, p.sport, right, SYN | ACK)
            }
            Forgery6::BareSyn => syn_ack(&p.dst, &p.src, p.sport, right, SYN),
            Forgery6::AckOnly => syn_ack(&p.dst, &p.src, p.sport, right, ACK),
            Forgery6::ExtensionHeader => {
                let t = tcp6(&p.dst, &p.src, p.dport, p.sport, right, SYN | ACK);
                let mut hbh = vec![6, 0, 1, 4, 0, 0, 0, 0]; // next TCP, PadN
                hbh.extend_from_slice(&t);
                frame6(&p.dst, &p.src, 0, &hbh)
            }
            Forgery6::LengthLie => {
                let mut f = syn_ack(&p.dst, &p.src, p.sport, right, SYN | ACK);
                f[18..20].copy_from_slice(&200u16.to_be_bytes());
                f
            }
            Forgery6::Truncated => {
                let mut f = syn_ack(&p.dst, &p.src, p.sport, right, SYN | ACK);
                f.truncate(14 + 40 + 12);
                f[18..20].copy_from_slice(&12u16.to_be_bytes());
                f
            }
            Forgery6::RstFromElsewhere => syn_ack(&other, &p.src, p.sport, right, RST | ACK),
            Forgery6::UnreachableForgedQuote => {
                // The probe as quoted, its sequence number changed.
                let mut quote = vec![0x60, 0, 0, 0, 0, 24, 6, 64];
                quote.extend_from_slice(&p.src);
                quote.extend_from_slice(&p.dst);
                let mut t = vec![0u8; 24];
                t[0..2].copy_from_slice(&p.sport.to_be_bytes());
                t[2..4].copy_from_slice(&p.dport.to_be_bytes());
                t[4..8].copy_from_slice(&(p.seq ^ 0x100).to_be_bytes());
                t[12] = 0x60;
                t[13] = SYN;
                quote.extend_from_slice(&t);
                let mut m = vec![1, 1, 0, 0, 0, 0, 0, 0]; // unreachable, prohibited
                m.extend_from_slice(&quote);
                let c = checksum6(&p.dst, &p.src, 58, &m);
                m[2..4].copy_from_slice(&c.to_be_bytes());
                frame6(&p.dst, &p.src, 58, &m)
            }
        }
    }
}

#[test]
fn forged_ipv6_replies_never_become_findings() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("forged.ndjson");
    let range = "2001:2::/116";
    let stop = AtomicBool::new(false);
    let (ready_tx, ready_rx) = mpsc::channel();
    let iface = lab.target_iface().to_string();
    let (out, (probes, sent)) = std::thread::scope(|s| {
        let forger = s.spawn(|| {
            lab.in_target(|| {
                let sock = PacketSocket::open_ethertype(&iface, 0x86dd).expect("AF_PACKET");
                ready_tx.send(()).unwrap();
                let mut buf = vec![0u8; 2048];
                let (mut probes, mut sent) = (0u32, std::collections::BTreeMap::new());
                while !stop.load(Ordering::Relaxed) {
                    let Some(n) = sock.recv(&mut buf).expect("recv") else {
                        continue;
                    };
                    let Some(p) = parse_syn6(&buf[..n]) else {
                        continue;
                    };
                    probes += 1;
                    for k in 0..3 {
                        let f = Forgery6::ALL[(probes as usize * 3 + k) % Forgery6::ALL.len()];
                        sock.send(&f.frame(&p, probes)).expect("send");
                        *sent.entry(f).or_insert(0u32) += 1;
                    }
                }
                (probes, sent)
            })
        });
        ready_rx.recv().expect("forger did not start");
        let out = lab.run_in_scanner(
            synsweep(dir.path())
                .args([
                    "scan",
                    range,
                    "-p",
                    "22,80,443",
                    "--rate",
                    "5000",
                    "--retries",
                    "1",
                    "--wait",
                    "2",
                    "--show-closed",
                    "-o",
                ])
                .arg(&out_file),
        );
        stop.store(true, Ordering::Relaxed);
        (out, forger.join().expect("forger panicked"))
    });
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    eprintln!(
        "forged IPv6: {probes} probes sniffed, sent {sent:?}\n  {}",
        err.trim()
    );
    assert!(probes * 100 >= 4096 * 3 * 95, "sniffed {probes} probes");
    for f in Forgery6::ALL {
        assert!(sent.get(&f).copied().unwrap_or(0) >= 500, "{f:?}: {sent:?}");
    }
    let recs = records(&out_file);
    let (open, closed) = (pairs(&recs, "open"), pairs(&recs, "closed"));
    assert_eq!(
        recs.len(),
        open.len() + closed.len(),
        "a pair reported twice"
    );
    assert_eq!(
        open,
        truth6(&lab, "2001:2::", "2001:2::fff", &PORTS, true),
        "open"
    );
    assert_eq!(
        closed,
        truth6(&lab, "2001:2::", "2001:2::fff", &PORTS, false),
        "closed"
    );
}

#[test]
fn bad_ipv6_input_exits_2_with_one_line_and_sends_nothing() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    std::fs::write(cwd.join("t.txt"), "2001:2::/120\n2001:2::/12x\n").unwrap();
    std::fs::write(cwd.join("w.txt"), "# wide\n2001:2::/64\n").unwrap();
    for (args, mention) in [
        (vec!["2001:2::/129"], "malformed IPv6 prefix"),
        (vec!["2001:2::/"], "malformed IPv6 prefix"),
        (vec!["2001:2:::1/120"], "malformed IPv6 prefix"),
        (vec!["2001:2::/64"], "--allow-wide"),
        (vec!["::/0"], "--allow-wide"),
        (vec!["fe80::1%eth0"], "zone"),
        (vec!["2001:2::1%2/128"], "zone"),
        (vec!["2001:2::9-2001:2::1"], "empty range"),
        (vec!["2001:2::1-198.19.0.1"], "cannot mix"),
        (vec!["--targets-file", "t.txt"], "t.txt:2"),
        (
            vec!["--targets-file", "w.txt"],
            "w.txt:2: invalid target '2001:2::/64'",
        ),
        (
            vec!["2001:2::/120", "--exclude", "2001:2::/1x"],
            "--exclude",
        ),
    ] {
        let mut c = synsweep(cwd);
        c.arg("scan").args(&args);
        if !args.contains(&"-p") {
            c.args(["-p", "22"]);
        }
        let out = lab.run_in_scanner(&mut c);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: one line: {err:?}"
        );
        assert!(
            err.contains(mention),
            "{args:?}: {err:?} should mention {mention:?}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_eq!(lab.counters().syn_in, 0, "bad input sent probes");
    // --allow-wide lets a /64 through parsing (a dry run: nothing sent).
    let out = lab.run_in_scanner(synsweep(cwd).args([
        "scan",
        "2001:2::/80",
        "-p",
        "22",
        "--allow-wide",
        "--dry-run",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("281474976710656 addresses"));
}
