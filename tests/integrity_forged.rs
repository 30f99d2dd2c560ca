//! Hostile replies in the lab: while synsweep scans, a thread in the target
//! namespace sniffs every probe on the target's veth and answers it with
//! forged frames that no genuine reply could be (wrong acknowledgement
//! numbers, wrong ports or addresses, flags other than SYN+ACK or RST+ACK,
//! truncated headers, bad IHL and total lengths, IP options, fragments, odd
//! TCP options, ...), most of them carrying the probe's right
//! acknowledgement number so that only the defect stands between them and
//! a finding; it also sprays the scanner's whole possible source port range
//! (61000-65535) blind. The findings must equal the lab's ground truth
//! exactly, open and closed: nothing silent or closed reported open, nothing
//! open lost because a forgery took its place.

mod common;

use common::findings::{pairs, records};
use common::forge::{ACK, Forgery, PacketSocket, Probe, Reply, SYN};
use common::{Lab, SCANNER_ADDR, SCANNER_MAC, TARGET_MAC};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

const RANGE: &str = "198.19.0.0/18";
const PORTS: [u16; 3] = [22, 80, 443];
/// Forged frames per sniffed probe (cycling through every kind).
const PER_PROBE: usize = 4;

#[derive(Debug, Default)]
struct ForgerStats {
    probes: u64,
    sent: BTreeMap<String, u64>,
    blind: u64,
    sports: BTreeSet<u16>,
}

/// Sniff probes on `iface` (the target's veth) and answer each with forged
/// frames until `stop`.
fn forge(iface: &str, stop: &AtomicBool, ready: mpsc::Sender<()>) -> ForgerStats {
    let sock = PacketSocket::open(iface).expect("AF_PACKET socket in the target namespace");
    ready.send(()).unwrap();
    let mut st = ForgerStats::default();
    let mut buf = vec![0u8; 2048];
    let mut n_forged = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let n = match sock.recv(&mut buf).expect("recv") {
            Some(n) if n > 0 => n,
            _ => continue,
        };
        let Some(p) = Probe::parse(&buf[..n]) else {
            continue;
        };
        if p.src != SCANNER_ADDR {
            continue;
        }
        st.probes += 1;
        st.sports.insert(p.sport);
        let salt = st.probes as u32;
        // An address outside the scanned /18 (still inside the lab's range).
        let unscanned = Ipv4Addr::from(0xc613_4000 + (salt.wrapping_mul(2_654_435_761) % 0xc000));
        for _ in 0..PER_PROBE {
            let f = Forgery::ALL[n_forged % Forgery::ALL.len()];
            n_forged += 1;
            sock.send(&f.frame(&p, SCANNER_MAC, TARGET_MAC, unscanned, salt))
                .expect("send forged frame");
            *st.sent.entry(format!("{f:?}")).or_default() += 1;
        }
        // Blind: a well-formed SYN-ACK with a made-up acknowledgement from
        // the probed pair, to the next port of 61000-65535.
        let mut r = Reply::answering(&p, SYN | ACK);
        r.dport = 61000 + (st.probes % 4536) as u16;
        r.ack = salt.wrapping_mul(0x9e37_79b9);
        if r.dport == p.sport && r.ack == p.seq.wrapping_add(1) {
            r.ack ^= 1;
        }
        let f = common::forge::ethernet(SCANNER_MAC, TARGET_MAC, 0x0800, &r.ipv4());
        sock.send(&f).expect("send blind frame");
        st.blind += 1;
    }
    st
}

#[test]
fn forged_replies_never_become_findings() {
    let lab = Lab::builder()
        .listen(&[22, 80])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build();
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("forged.ndjson");
    let stop = AtomicBool::new(false);
    let (ready_tx, ready_rx) = mpsc::channel();
    let iface = lab.target_iface().to_string();
    let (out, st) = std::thread::scope(|s| {
        let forger = s.spawn(|| lab.in_target(|| forge(&iface, &stop, ready_tx)));
        ready_rx.recv().expect("forger did not start");
        let out = lab.run_in_scanner(
            Command::new(env!("CARGO_BIN_EXE_synsweep"))
                .current_dir(dir.path())
                .args([
                    "scan",
                    RANGE,
                    "-p",
                    "22,80,443",
                    "--rate",
                    "10000",
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
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");

    let c = lab.counters();
    let forged: u64 = st.sent.values().sum();
    eprintln!(
        "forged test: {} probes sniffed of {} SYNs at the target, source ports {:?}; \
         {forged} forged + {} blind frames sent\n  {:?}\n  scanner: {}",
        st.probes,
        c.syn_in,
        st.sports,
        st.blind,
        st.sent,
        stderr.trim()
    );
    // The forger saw (nearly) every probe and sent every kind of forgery.
    assert!(st.probes * 100 >= c.syn_in * 95, "sniffed too few probes");
    for f in Forgery::ALL {
        let n = st.sent.get(&format!("{f:?}")).copied().unwrap_or(0);
        assert!(n >= 500, "{f:?} sent only {n} times");
    }
    assert!(
        !st.sports.is_empty() && st.sports.len() <= 16,
        "{:?}",
        st.sports
    );

    let recs = records(&out_file);
    let open = pairs(&recs, "open");
    let closed = pairs(&recs, "closed");
    let truth_open = lab.ground_truth_open(&PORTS, RANGE);
    let truth_closed = lab.ground_truth_closed(&PORTS, RANGE);
    let false_open: Vec<_> = open.difference(&truth_open).take(10).collect();
    let false_closed: Vec<_> = closed.difference(&truth_closed).take(10).collect();
    assert!(false_open.is_empty(), "forged open ports: {false_open:?}");
    assert!(
        false_closed.is_empty(),
        "forged closed ports: {false_closed:?}"
    );
    assert_eq!(
        recs.len(),
        open.len() + closed.len(),
        "a pair reported twice"
    );
    let missed: Vec<_> = truth_open.difference(&open).take(10).collect();
    assert!(missed.is_empty(), "open pairs lost: {missed:?}");
    assert_eq!(closed, truth_closed, "closed pairs");
}
