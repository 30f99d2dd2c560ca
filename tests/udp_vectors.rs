//! Replies of real Debian daemons to synsweep's UDP payloads.
//!
//! Each `tests/udp_vectors/NAME-N.bin` is the N-th datagram a real server sent
//! back to payload NAME built with cookie [`COOKIE`], captured by
//! `scripts/udp_vectors.sh` (which starts the daemons in a network namespace
//! of their own and stops them). Every checker must accept its real reply
//! with the right cookie, see a mismatch (or, where nothing is echoed, still
//! accept) with a wrong one, and refuse the other services' replies.

use synsweep::probe::udp_payloads::{ALL, Echo, UdpService, Verdict, amplification, classify};

/// The cookie the vectors were captured with.
const COOKIE: u32 = 0x9c3a_51e7;
/// Wrong cookies: one bit off in each byte, and two bits at both ends.
const WRONG: [u32; 5] = [
    COOKIE ^ 0x0000_0001,
    COOKIE ^ 0x0000_0100,
    COOKIE ^ 0x0001_0000,
    COOKIE ^ 0x0100_0000,
    COOKIE ^ 0x8000_0001,
];

/// (payload name, daemon, reply datagrams).
const VECTORS: &[(&str, &str, &[&[u8]])] = &[
    (
        "dns-version-bind",
        "dnsmasq 2.90",
        &[include_bytes!("udp_vectors/dns-version-bind-0.bin")],
    ),
    (
        "dns-recursive",
        "dnsmasq 2.90",
        &[include_bytes!("udp_vectors/dns-recursive-0.bin")],
    ),
    (
        "mdns-services",
        "avahi-daemon 0.8",
        &[include_bytes!("udp_vectors/mdns-services-0.bin")],
    ),
    (
        "ntp-client",
        "chrony 4.3",
        &[include_bytes!("udp_vectors/ntp-client-0.bin")],
    ),
    (
        "snmp-v2c-public",
        "net-snmp snmpd 5.9",
        &[include_bytes!("udp_vectors/snmp-v2c-public-0.bin")],
    ),
    (
        "snmp-v1-public",
        "net-snmp snmpd 5.9",
        &[include_bytes!("udp_vectors/snmp-v1-public-0.bin")],
    ),
    (
        "memcached-stats",
        "memcached 1.6 -U 11211",
        &[
            include_bytes!("udp_vectors/memcached-stats-0.bin"),
            include_bytes!("udp_vectors/memcached-stats-1.bin"),
        ],
    ),
    (
        "ssdp-msearch",
        "minissdpd 1.6",
        &[include_bytes!("udp_vectors/ssdp-msearch-0.bin")],
    ),
    (
        "netbios-nbstat",
        "samba nmbd 4.17",
        &[include_bytes!("udp_vectors/netbios-nbstat-0.bin")],
    ),
    (
        "netbios-nbstat",
        "samba 4.17 AD DC (nbt server)",
        &[include_bytes!("udp_vectors/netbios-nbstat-samba-ad-0.bin")],
    ),
    (
        "cldap-rootdse",
        "samba 4.17 AD DC",
        &[include_bytes!("udp_vectors/cldap-rootdse-0.bin")],
    ),
    (
        "portmap-dump",
        "rpcbind 1.2",
        &[include_bytes!("udp_vectors/portmap-dump-0.bin")],
    ),
    (
        "tftp-rrq",
        "tftpd-hpa 5.2",
        &[include_bytes!("udp_vectors/tftp-rrq-0.bin")],
    ),
    (
        "ipmi-presence-ping",
        "OpenIPMI ipmi_sim 2.0",
        &[include_bytes!("udp_vectors/ipmi-presence-ping-0.bin")],
    ),
    (
        "wsd-probe-device",
        "wsdd 0.7",
        &[include_bytes!("udp_vectors/wsd-probe-device-0.bin")],
    ),
    (
        "coap-well-known-core",
        "libcoap 4.3 coap-server",
        &[include_bytes!("udp_vectors/coap-well-known-core-0.bin")],
    ),
    (
        "openvpn-hard-reset",
        "OpenVPN 2.6 (tls-server)",
        &[include_bytes!("udp_vectors/openvpn-hard-reset-0.bin")],
    ),
    (
        "ike-sa-init",
        "strongSwan charon 5.9",
        &[include_bytes!("udp_vectors/ike-sa-init-0.bin")],
    ),
    (
        "ike-v1-main-mode",
        "strongSwan charon 5.9",
        &[include_bytes!("udp_vectors/ike-v1-main-mode-0.bin")],
    ),
    (
        "ike-sa-init-natt",
        "strongSwan charon 5.9",
        &[include_bytes!("udp_vectors/ike-sa-init-natt-0.bin")],
    ),
    (
        "chargen",
        "xinetd 2.3 (internal chargen)",
        &[include_bytes!("udp_vectors/chargen-0.bin")],
    ),
];

fn service(name: &str) -> &'static UdpService {
    ALL.iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no payload {name}"))
}

#[test]
fn real_replies_are_accepted_with_the_right_cookie() {
    for (name, daemon, replies) in VECTORS {
        let s = service(name);
        for r in *replies {
            let v = (s.check)(r, COOKIE);
            assert!(v.accepted(), "{name}: {daemon}'s reply judged {v:?}");
        }
    }
}

#[test]
fn real_replies_with_a_wrong_cookie_are_mismatches() {
    // Nothing to echo in these: the core relies on address and port.
    let no_echo = ["ssdp-msearch", "tftp-rrq", "chargen"];
    for (name, daemon, replies) in VECTORS {
        let s = service(name);
        for r in *replies {
            let want = if no_echo.contains(name) {
                Echo::NotApplicable
            } else {
                Echo::Mismatch
            };
            for w in WRONG {
                // IPMI echoes an 8-bit tag: a cookie whose bytes XOR to the
                // same tag is indistinguishable (1 in 255).
                if *name == "ipmi-presence-ping"
                    && (w ^ COOKIE).to_be_bytes().iter().fold(0, |a, b| a ^ b) == 0
                {
                    continue;
                }
                assert_eq!(
                    (s.check)(r, w),
                    Verdict::Valid(want),
                    "{name} ({daemon}) with cookie {w:08x}"
                );
            }
        }
    }
}

#[test]
fn each_checker_refuses_the_other_services_replies() {
    // Pairs that are the same protocol on the wire.
    fn fam(n: &str) -> &str {
        match n {
            "dns-version-bind" | "dns-recursive" | "mdns-services" => "dns",
            "snmp-v2c-public" | "snmp-v1-public" => "snmp",
            "ike-sa-init" | "ike-sa-init-natt" | "ike-v1-main-mode" => "ike",
            n => n,
        }
    }
    let same = |a: &str, b: &str| fam(a) == fam(b);
    for (name, _, _) in VECTORS {
        let s = service(name);
        for (other, daemon, replies) in VECTORS {
            if same(name, other) {
                continue;
            }
            for r in *replies {
                let v = (s.check)(r, COOKIE);
                // QOTD takes any short text; chargen's and SSDP's replies are text.
                assert!(
                    !v.accepted(),
                    "{name} accepted {other}'s reply from {daemon}: {v:?}"
                );
            }
        }
    }
}

#[test]
fn classify_by_port_names_the_protocol() {
    let cases = [
        (53, "dns-version-bind", "dns"),
        (53, "dns-recursive", "dns"),
        (5353, "mdns-services", "mdns"),
        (123, "ntp-client", "ntp"),
        (161, "snmp-v2c-public", "snmp"),
        (11211, "memcached-stats", "memcached"),
        (1900, "ssdp-msearch", "ssdp"),
        (137, "netbios-nbstat", "netbios-ns"),
        (389, "cldap-rootdse", "cldap"),
        (111, "portmap-dump", "portmap"),
        (69, "tftp-rrq", "tftp"),
        (623, "ipmi-presence-ping", "ipmi"),
        (3702, "wsd-probe-device", "ws-discovery"),
        (5683, "coap-well-known-core", "coap"),
        (1194, "openvpn-hard-reset", "openvpn"),
        (500, "ike-sa-init", "ike"),
        (500, "ike-v1-main-mode", "ike"),
        (4500, "ike-sa-init-natt", "ike"),
        (19, "chargen", "chargen"),
    ];
    for (port, name, proto) in cases {
        let (_, _, replies) = VECTORS.iter().find(|v| v.0 == name).unwrap();
        let (s, _) =
            classify(port, replies[0], COOKIE).unwrap_or_else(|| panic!("{name} on {port}"));
        assert_eq!(s.protocol, proto, "{name}");
    }
}

#[test]
fn open_resolver_mark_on_dnsmasq() {
    // dnsmasq with recursion answers the RD query for .invalid with RA set.
    let (_, _, r) = VECTORS.iter().find(|v| v.0 == "dns-recursive").unwrap();
    assert!(synsweep::probe::udp_payloads::dns_recursion_available(r[0]));
    assert_eq!(r[0][3] & 0x0f, 3, "NXDOMAIN");
}

/// Bandwidth amplification of each real reply (all its datagrams) over our
/// probe, and whether the rule calls it an amplifier.
fn factor(name: &str, daemon_prefix: &str) -> f64 {
    let (_, _, replies) = VECTORS
        .iter()
        .find(|v| v.0 == name && v.1.starts_with(daemon_prefix))
        .unwrap();
    let reply: usize = replies.iter().map(|d| d.len()).sum();
    amplification(reply, service(name).payload(COOKIE).len())
}

#[test]
fn measured_amplification_of_real_replies() {
    use synsweep::probe::udp_payloads::is_amplifier;
    for (name, daemon, _) in VECTORS {
        eprintln!("{name:24} {daemon:32} {:8.2}", factor(name, daemon));
    }
    // memcached stats: two datagrams (about 2.2 kB) for 15 bytes.
    assert!(factor("memcached-stats", "") > 100.0);
    // CLDAP rootDSE from an AD DC (about 1.7 kB for 42 bytes).
    assert!(factor("cldap-rootdse", "") > 30.0);
    // chargen: xinetd sends 1024 bytes for our one.
    assert_eq!(factor("chargen", ""), 1024.0);
    // NetBIOS node status: US-CERT TA14-017A's 3.8, near enough.
    assert!(factor("netbios-nbstat", "samba nmbd") > 3.5);
    for amp in [
        "memcached-stats",
        "cldap-rootdse",
        "chargen",
        "netbios-nbstat",
        "ssdp-msearch",
        "portmap-dump",
        "coap-well-known-core",
    ] {
        assert!(is_amplifier(factor(amp, "")), "{amp}");
    }
    // Replies about the request's size are not amplifiers.
    for flat in [
        "dns-recursive",
        "ntp-client",
        "ike-sa-init",
        "tftp-rrq",
        "snmp-v2c-public",
    ] {
        assert!(!is_amplifier(factor(flat, "")), "{flat}");
    }
}
