//! UDP probes written by `wire::udp::write_probe` with payloads of
//! `probe::udp_payloads`, sent as raw Ethernet frames from the lab's scanner
//! namespace to real Debian daemons in the target namespace (dnsmasq,
//! net-snmp, memcached), and the frames that come back parsed by
//! `wire::udp` / `wire::icmp` and judged by the payload checkers:
//!
//! - every daemon answers, from the probed address and port, with a reply
//!   its checker accepts for the probe's cookie (and not for another);
//! - a closed port answers ICMP port unreachable from the probed host,
//!   quoting our probe's ports and UDP length;
//! - a silent host sends nothing.
//!
//! Needs root and the Debian packages dnsmasq-base, snmpd and memcached
//! (scripts/test.sh installs them); fails, never skips, without them.

mod common;

use common::daemons::Daemons;
use common::forge::PacketSocket;
use common::{Lab, SCANNER_ADDR, SCANNER_MAC, TARGET_MAC};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use synsweep::engine::cookie::CookieKey;
use synsweep::probe::udp_payloads::{
    DNS_RECURSIVE, DNS_VERSION_BIND, Echo, GENERIC, MEMCACHED, SNMP_V2C, UdpService, Verdict,
};
use synsweep::wire::Framing;
use synsweep::wire::ethernet::Mac;
use synsweep::wire::icmp::{self, PortState, QuotedTransport};
use synsweep::wire::udp::{self, UdpProbe, write_probe};

const LIVE: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 4);
/// Odd addresses are silent in this lab (alive mask 0.0.0.1 = 0).
const SILENT: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 5);
const KEY: CookieKey = CookieKey {
    k0: 0x7379_6e73_7765_6570,
    k1: 0x0075_6470_6c61_6221,
};

/// One probe we sent.
struct Sent {
    dst: Ipv4Addr,
    dport: u16,
    service: &'static UdpService,
    cookie: u32,
    probe_len: usize,
}

/// What came back for one probe (keyed by our source port).
#[derive(Debug, Default)]
struct Got {
    /// (source address, source port, verdict with the right cookie, verdict
    /// with a wrong one, payload length)
    replies: Vec<(Ipv4Addr, u16, Verdict, Verdict, usize)>,
    unreachable: Vec<icmp::Unreachable>,
}

#[test]
fn udp_probes_get_real_answers_closed_ports_icmp_and_silence() {
    let lab = Lab::builder().alive_mask("0.0.0.1", "0.0.0.0").build();
    let dir = tempfile::tempdir().unwrap();
    let snmpd_conf = dir.path().join("snmpd.conf");
    std::fs::write(
        &snmpd_conf,
        "rocommunity public 198.18.0.0/24\nsysDescr synsweep udp lab\n",
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
            &format!("--pid-file={}", dir.path().join("dnsmasq.pid").display()),
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
            dir.path().join("snmpd.pid").to_str().unwrap(),
            "udp:161",
        ],
    );
    // memcached answers from its socket's address: bind it to the host.
    daemons.start(
        &lab,
        "memcached",
        &["-u", "root", "-l", "198.19.0.4", "-U", "11211", "-p", "0"],
    );
    daemons.wait_ports(&lab, &[53, 161, 11211]);

    let plan: [(Ipv4Addr, u16, &'static UdpService); 7] = [
        (LIVE, 53, &DNS_VERSION_BIND),
        (LIVE, 53, &DNS_RECURSIVE),
        (LIVE, 161, &SNMP_V2C),
        (LIVE, 11211, &MEMCACHED),
        (LIVE, 9, &GENERIC), // closed: nobody listens
        (SILENT, 53, &DNS_VERSION_BIND),
        (SILENT, 9, &GENERIC),
    ];
    let iface = lab.scanner_iface().to_string();
    let (sent, got) = lab.in_scanner(move || {
        let sock = PacketSocket::open(&iface).expect("AF_PACKET socket in the scanner namespace");
        let framing = Framing::Ethernet {
            src: Mac(SCANNER_MAC),
            dst: Mac(TARGET_MAC),
        };
        let mut sent = BTreeMap::new();
        for (i, (dst, dport, service)) in plan.iter().enumerate() {
            let sport = 40000 + i as u16;
            let cookie = KEY.cookie(u32::from(SCANNER_ADDR), u32::from(*dst), sport, *dport);
            let payload = service.payload(cookie);
            let mut frame = Vec::new();
            let probe = UdpProbe {
                src: SCANNER_ADDR,
                dst: *dst,
                sport,
                dport: *dport,
                ident: i as u16,
                payload: &payload,
            };
            write_probe(framing, &probe, &mut frame).unwrap();
            sock.send(&frame).expect("send probe");
            sent.insert(
                sport,
                Sent {
                    dst: *dst,
                    dport: *dport,
                    service,
                    cookie,
                    probe_len: payload.len(),
                },
            );
        }
        let mut got: BTreeMap<u16, Got> = BTreeMap::new();
        let mut buf = [0u8; 9000];
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            let Some(n) = sock.recv(&mut buf).expect("recv") else {
                continue;
            };
            let f = &buf[..n];
            if let Ok(r) = udp::parse_ethernet(f) {
                if let Some(s) = sent.get(&r.dport) {
                    let right = (s.service.check)(r.payload, s.cookie);
                    let wrong = (s.service.check)(r.payload, s.cookie ^ 0x0000_0101);
                    got.entry(r.dport).or_default().replies.push((
                        Ipv4Addr::from(r.src),
                        r.sport,
                        right,
                        wrong,
                        r.payload.len(),
                    ));
                }
            } else if let Ok(u) = icmp::parse_ethernet(f) {
                got.entry(u.quoted.sport).or_default().unreachable.push(u);
            }
        }
        (sent, got)
    });
    drop(daemons);

    for (sport, s) in &sent {
        let g = got.get(sport);
        let name = s.service.name;
        if s.dst == SILENT {
            assert!(
                g.is_none(),
                "silent host answered {name} on {}: {g:?}",
                s.dport
            );
            continue;
        }
        let g = g.unwrap_or_else(|| panic!("no answer to {name} on {}:{}", s.dst, s.dport));
        if s.dport == 9 {
            assert!(g.replies.is_empty(), "closed port replied: {g:?}");
            assert_eq!(g.unreachable.len(), 1, "{g:?}");
            let u = g.unreachable[0];
            assert_eq!(u.port_state(), PortState::Closed);
            assert!(u.from_target());
            assert_eq!(u.to, u32::from(SCANNER_ADDR));
            assert_eq!(
                (u.quoted.src, u.quoted.dst, u.quoted.sport, u.quoted.dport),
                (u32::from(SCANNER_ADDR), u32::from(LIVE), *sport, 9)
            );
            assert!(matches!(
                u.quoted.transport,
                QuotedTransport::Udp { len: 8, .. }
            ));
            continue;
        }
        assert!(g.unreachable.is_empty(), "{name}: unreachable {g:?}");
        assert!(!g.replies.is_empty(), "{name}: no reply");
        let mut reply_bytes = 0;
        for (src, src_port, right, wrong, len) in &g.replies {
            assert_eq!(
                (*src, *src_port),
                (s.dst, s.dport),
                "{name}: reply from elsewhere"
            );
            assert_eq!(*right, Verdict::Valid(Echo::Match), "{name}");
            assert_eq!(*wrong, Verdict::Valid(Echo::Mismatch), "{name}");
            reply_bytes += len;
        }
        eprintln!(
            "{name:20} {} datagram(s), {reply_bytes} bytes for {}: amplification {:.1}",
            g.replies.len(),
            s.probe_len,
            synsweep::probe::udp_payloads::amplification(reply_bytes, s.probe_len)
        );
    }
}
