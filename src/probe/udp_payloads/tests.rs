//! Payload bytes checked against the specifications by hand, and checker
//! edge cases. Replies from real daemons are in `tests/udp_vectors.rs`.

use super::*;
use crate::finding::Severity;

const C: u32 = 0x9c3a_51e7;
/// cookie16(C) = 0x9c3a ^ 0x51e7.
const C16: [u8; 2] = [0xcd, 0xdd];

#[test]
fn cookie16_folds_both_halves() {
    assert_eq!(cookie16(C).to_be_bytes(), C16);
    assert_ne!(cookie16(0x0001_0000), cookie16(0));
}

#[test]
fn dns_version_bind_bytes() {
    #[rustfmt::skip]
    let want = [
        0xcd, 0xdd, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
        7, b'v', b'e', b'r', b's', b'i', b'o', b'n', 4, b'b', b'i', b'n', b'd', 0,
        0, 16, 0, 3, // TXT, CH
    ];
    assert_eq!(DNS_VERSION_BIND.payload(C), want);
}

#[test]
fn dns_recursive_bytes() {
    #[rustfmt::skip]
    let want = [
        0xcd, 0xdd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
        8, b's', b'y', b'n', b's', b'w', b'e', b'e', b'p', 7, b'i', b'n', b'v', b'a', b'l', b'i', b'd', 0,
        0, 1, 0, 1, // A, IN
    ];
    assert_eq!(DNS_RECURSIVE.payload(C), want);
}

#[test]
fn mdns_asks_for_unicast_answer() {
    let p = MDNS.payload(C);
    assert_eq!(&p[..2], &C16);
    assert_eq!(&p[p.len() - 4..], &[0, 12, 0x80, 1]); // PTR, QU|IN
    assert_eq!(&p[12..22], b"\x09_services");
}

#[test]
fn dns_checker_needs_response_bit_id_and_question() {
    let check = DNS_VERSION_BIND.check;
    let mut r = DNS_VERSION_BIND.payload(C);
    // The query itself is not a response.
    assert_eq!(check(&r, C), Verdict::Invalid);
    r[2] |= 0x80;
    assert_eq!(check(&r, C), Verdict::Valid(Echo::Match));
    assert_eq!(check(&r, C ^ 1), Verdict::Valid(Echo::Mismatch));
    // Name case does not matter; another name does.
    r[13] = b'V';
    assert_eq!(check(&r, C), Verdict::Valid(Echo::Match));
    r[14] = b'x';
    assert_eq!(check(&r, C), Verdict::Valid(Echo::Mismatch));
    // A reply to the other DNS payload is not an answer to this one.
    let mut other = DNS_RECURSIVE.payload(C);
    other[2] |= 0x80;
    assert_eq!(check(&other, C), Verdict::Valid(Echo::Mismatch));
    // No question: only as an error (FORMERR).
    let mut hdr = DNS_VERSION_BIND.payload(C)[..12].to_vec();
    hdr[2] |= 0x80;
    hdr[5] = 0;
    assert_eq!(check(&hdr, C), Verdict::Invalid);
    hdr[3] = 1;
    assert_eq!(check(&hdr, C), Verdict::Valid(Echo::Match));
    hdr[2] |= 0x08; // opcode 1
    assert_eq!(check(&hdr, C), Verdict::Invalid);
    assert_eq!(check(&hdr[..11], C), Verdict::Invalid);
}

#[test]
fn ntp_request_bytes() {
    let p = NTP.payload(C);
    assert_eq!(p.len(), 48);
    assert_eq!(&p[..4], &[0x23, 0, 6, 0xec]);
    assert_eq!(&p[40..], &[0x9c, 0x3a, 0x51, 0xe7, b's', b'y', b'n', b's']);
    assert!(p[4..40].iter().all(|&b| b == 0));
    // Our own request (mode 3) is not a server reply.
    assert_eq!(ntp_check(&p, C), Verdict::Invalid);
}

#[test]
fn snmp_v2c_bytes() {
    #[rustfmt::skip]
    let want = [
        0x30, 0x29,
        0x02, 0x01, 0x01,                                   // version 2c
        0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c',     // community
        0xa0, 0x1c,                                         // GetRequest
        0x02, 0x04, 0x9c, 0x3a, 0x51, 0xe7,                 // request-id (negative Integer32)
        0x02, 0x01, 0x00, 0x02, 0x01, 0x00,                 // error-status, error-index
        0x30, 0x0e, 0x30, 0x0c,
        0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, // sysDescr.0
        0x05, 0x00,
    ];
    assert_eq!(SNMP_V2C.payload(C), want);
    let v1 = SNMP_V1.payload(C);
    assert_eq!(&v1[..5], &[0x30, 0x29, 0x02, 0x01, 0x00]);
}

#[test]
fn ber_integers_are_minimal() {
    let enc = |v: i64| {
        let mut o = Vec::new();
        ber_int(v, &mut o);
        o
    };
    assert_eq!(enc(0), [2, 1, 0]);
    assert_eq!(enc(127), [2, 1, 0x7f]);
    assert_eq!(enc(128), [2, 2, 0, 0x80]);
    assert_eq!(enc(-1), [2, 1, 0xff]);
    assert_eq!(enc(-129), [2, 2, 0xff, 0x7f]);
    assert_eq!(enc(0x7fff_ffff), [2, 4, 0x7f, 0xff, 0xff, 0xff]);
    for v in [
        0i64,
        1,
        -1,
        127,
        128,
        -128,
        -129,
        0x1234_5678,
        -0x7fff_ffff,
        i32::MIN as i64,
    ] {
        let e = enc(v);
        let (tag, c, rest) = ber_read(&e).unwrap();
        assert_eq!((tag, rest.len()), (2, 0));
        assert_eq!(ber_int_value(c), Some(v));
    }
}

#[test]
fn ber_long_lengths() {
    let mut o = Vec::new();
    ber_tlv(0x04, &[7u8; 300], &mut o);
    assert_eq!(&o[..4], &[0x04, 0x82, 0x01, 0x2c]);
    let (_, c, rest) = ber_read(&o).unwrap();
    assert_eq!((c.len(), rest.len()), (300, 0));
    // A length past the buffer, and an indefinite length, are refused.
    assert!(ber_read(&o[..100]).is_none());
    assert!(ber_read(&[0x30, 0x80, 0, 0]).is_none());
}

#[test]
fn snmp_checker_takes_response_not_request() {
    let mut p = SNMP_V2C.payload(C);
    assert_eq!(snmp_check(&p, C), Verdict::Invalid); // a0 GetRequest
    p[13] = 0xa2;
    assert_eq!(snmp_check(&p, C), Verdict::Valid(Echo::Match));
    assert_eq!(
        snmp_check(&p, C.wrapping_add(1)),
        Verdict::Valid(Echo::Mismatch)
    );
    // The same request-id written non-minimally (5 bytes) still matches.
    let mut q = p.clone();
    q.splice(15..21, [0x02, 0x05, 0xff, 0x9c, 0x3a, 0x51, 0xe7]);
    q[1] += 1;
    q[14] += 1;
    assert_eq!(snmp_check(&q, C), Verdict::Valid(Echo::Match));
}

#[test]
fn cldap_bytes() {
    #[rustfmt::skip]
    let want = [
        0x30, 0x28,
        0x02, 0x04, 0x1c, 0x3a, 0x51, 0xe7,                 // messageID: 31 bits of the cookie
        0x63, 0x20,                                         // searchRequest
        0x04, 0x00, 0x0a, 0x01, 0x00, 0x0a, 0x01, 0x00,
        0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00,
        0x87, 0x0b, b'o', b'b', b'j', b'e', b'c', b't', b'C', b'l', b'a', b's', b's',
        0x30, 0x00,
    ];
    assert_eq!(CLDAP.payload(C), want);
    assert_eq!(cldap_id(0x8000_0000), 1);
}

#[test]
fn cldap_checker_on_a_search_result_done() {
    // LDAPMessage { 0x1c3a51e7, searchResDone { success, "", "" } }.
    let done = [
        0x30, 0x0f, 0x02, 0x04, 0x1c, 0x3a, 0x51, 0xe7, 0x65, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00,
        0x04, 0x00,
    ];
    assert_eq!(cldap_check(&done, C), Verdict::Valid(Echo::Match));
    assert_eq!(
        cldap_check(&done, C ^ 0x100),
        Verdict::Valid(Echo::Mismatch)
    );
    assert_eq!(cldap_check(&CLDAP.payload(C), C), Verdict::Invalid);
}

#[test]
fn memcached_bytes() {
    let want = [
        0xcd, 0xdd, 0, 0, 0, 1, 0, 0, b's', b't', b'a', b't', b's', b'\r', b'\n',
    ];
    assert_eq!(MEMCACHED.payload(C), want);
    // The request is not a reply.
    assert_eq!(memcached_check(&want, C), Verdict::Invalid);
    let mut r = want[..8].to_vec();
    r.extend_from_slice(b"END\r\n");
    assert_eq!(memcached_check(&r, C), Verdict::Valid(Echo::Match));
    r[6] = 1; // reserved must be 0
    assert_eq!(memcached_check(&r, C), Verdict::Invalid);
}

#[test]
fn netbios_nbstat_bytes() {
    let p = NETBIOS.payload(C);
    assert_eq!(p.len(), 50);
    assert_eq!(&p[..12], &[0xcd, 0xdd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(p[12], 32);
    assert_eq!(&p[13..15], b"CK"); // '*' = 0x2a
    assert!(p[15..45].iter().all(|&b| b == b'A'));
    assert_eq!(&p[45..], &[0, 0, 0x21, 0, 1]);
    assert_eq!(netbios_check(&p, C), Verdict::Invalid);
}

#[test]
fn portmap_dump_bytes() {
    #[rustfmt::skip]
    let want = [
        0x9c, 0x3a, 0x51, 0xe7, 0, 0, 0, 0, 0, 0, 0, 2,
        0, 1, 0x86, 0xa0, 0, 0, 0, 2, 0, 0, 0, 4,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(PORTMAP.payload(C), want);
    assert_eq!(portmap_check(&want, C), Verdict::Invalid);
    // A denied reply (RPC_MISMATCH 2..2).
    let denied = [
        0x9c, 0x3a, 0x51, 0xe7, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2,
    ];
    assert_eq!(portmap_check(&denied, C), Verdict::Valid(Echo::Match));
    assert_eq!(portmap_check(&denied, !C), Verdict::Valid(Echo::Mismatch));
}

#[test]
fn tftp_rrq_bytes_and_replies() {
    assert_eq!(TFTP.payload(C), b"\x00\x01synsweep-probe.txt\x00octet\x00");
    assert_eq!(tftp_check(&TFTP.payload(C), C), Verdict::Invalid);
    let data = [0, 3, 0, 1, b'h', b'i'];
    assert_eq!(tftp_check(&data, C), Verdict::Valid(Echo::NotApplicable));
    assert_eq!(tftp_check(&[0, 3, 0, 2, b'h'], C), Verdict::Invalid);
    assert_eq!(tftp_check(&[0, 5, 0, 9, 0], C), Verdict::Invalid);
}

#[test]
fn ipmi_ping_bytes() {
    // Tag: 0x9c ^ 0x3a ^ 0x51 ^ 0xe7 = 0x10.
    let want = [
        0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x10, 0x00, 0x00,
    ];
    assert_eq!(IPMI.payload(C), want);
    assert_eq!(ipmi_check(&want, C), Verdict::Invalid);
    // The tag never takes the reserved 0xff.
    assert_eq!(asf_tag(0x0000_00ff), 0);
}

#[test]
fn wsd_probe_carries_cookie_uuid() {
    let p = String::from_utf8(WSD_DEVICE.payload(C)).unwrap();
    assert!(
        p.contains("<wsa:MessageID>urn:uuid:9c3a51e7-7379-4e73-9377-656570000000</wsa:MessageID>")
    );
    assert!(p.contains("<wsd:Types>wsdp:Device</wsd:Types>"));
    let any = String::from_utf8(WSD_ANY.payload(C)).unwrap();
    assert!(any.contains("<wsd:Probe></wsd:Probe>"));
    assert_eq!(wsd_check(p.as_bytes(), C), Verdict::Invalid);
}

#[test]
fn xml_text_skips_closing_tags_and_prefixes() {
    let d = b"<a:RelatesTo>x</a:RelatesTo><RelatesTo> y </RelatesTo>";
    assert_eq!(xml_text(d, b"RelatesTo"), Some(&b"x"[..]));
    let d = b"<NotRelatesTo>x</NotRelatesTo><RelatesTo>y</RelatesTo>";
    assert_eq!(xml_text(d, b"RelatesTo"), Some(&b"y"[..]));
    assert_eq!(xml_text(b"<RelatesTo>unterminated", b"RelatesTo"), None);
}

#[test]
fn coap_bytes_and_replies() {
    let p = COAP.payload(C);
    assert_eq!(&p[..8], &[0x44, 0x01, 0xcd, 0xdd, 0x9c, 0x3a, 0x51, 0xe7]);
    assert_eq!(&p[8..], b"\xbb.well-known\x04core");
    assert_eq!(coap_check(&p, C), Verdict::Invalid); // a request
    // Empty ACK with our message ID (separate response follows).
    assert_eq!(
        coap_check(&[0x60, 0x00, 0xcd, 0xdd], C),
        Verdict::Valid(Echo::Match)
    );
    assert_eq!(
        coap_check(&[0x60, 0x00, 0xcd, 0xde], C),
        Verdict::Valid(Echo::Mismatch)
    );
    // Separate CON response: the server's own message ID, our token.
    let sep = [0x44, 0x45, 0x12, 0x34, 0x9c, 0x3a, 0x51, 0xe7];
    assert_eq!(coap_check(&sep, C), Verdict::Valid(Echo::Match));
    assert_eq!(coap_check(&sep, C ^ 1), Verdict::Valid(Echo::Mismatch));
}

#[test]
fn openvpn_reset_bytes() {
    let want = [
        0x38, 0x9c, 0x3a, 0x51, 0xe7, b's', b'y', b'n', b's', 0, 0, 0, 0, 0,
    ];
    assert_eq!(OPENVPN.payload(C), want);
    assert_eq!(openvpn_check(&want, C), Verdict::Invalid);
}

#[test]
fn ike_sa_init_structure() {
    let p = IKE.payload(C);
    assert_eq!(&p[..8], &[0x9c, 0x3a, 0x51, 0xe7, b's', b'y', b'n', b's']);
    assert!(p[8..16].iter().all(|&b| b == 0));
    assert_eq!(&p[16..20], &[33, 0x20, 34, 0x08]);
    assert_eq!(
        u32::from_be_bytes(p[24..28].try_into().unwrap()) as usize,
        p.len()
    );
    // Walk the payload chain: SA -> KE -> Nonce -> end, lengths adding up.
    let (mut next, mut at, mut seen) = (p[16], 28, vec![]);
    while next != 0 {
        seen.push(next);
        let len = u16::from_be_bytes([p[at + 2], p[at + 3]]) as usize;
        next = p[at];
        at += len;
    }
    assert_eq!(seen, [33, 34, 40]);
    assert_eq!(at, p.len());
    // The request itself is not a response.
    assert_eq!(ike_check(&p, C), Verdict::Invalid);
    let n = IKE_NATT.payload(C);
    assert_eq!(&n[..4], &[0, 0, 0, 0]);
    assert_eq!(&n[4..], &p[..]);
}

#[test]
fn ike_v1_main_mode_structure() {
    let p = IKE_V1.payload(C);
    assert_eq!(&p[..8], &[0x9c, 0x3a, 0x51, 0xe7, b's', b'y', b'n', b's']);
    assert_eq!(&p[16..20], &[1, 0x10, 2, 0]);
    assert_eq!(
        u32::from_be_bytes(p[24..28].try_into().unwrap()) as usize,
        p.len()
    );
    // SA payload spans the rest: DOI 1, situation 1, one proposal of 4.
    assert_eq!(u16::from_be_bytes([p[30], p[31]]) as usize, p.len() - 28);
    assert_eq!(&p[32..40], &[0, 0, 0, 1, 0, 0, 0, 1]);
    assert_eq!(u16::from_be_bytes([p[42], p[43]]) as usize, p.len() - 40);
    assert_eq!(&p[44..48], &[1, 1, 0, 4]);
    // Transforms chain: 3 (more) three times, then 0, lengths adding up.
    let mut at = 48;
    let mut nexts = vec![];
    while at < p.len() {
        nexts.push(p[at]);
        at += u16::from_be_bytes([p[at + 2], p[at + 3]]) as usize;
    }
    assert_eq!((nexts, at), (vec![3, 3, 3, 0], p.len()));
    // Our request is no answer (no responder cookie, not informational),
    // for either IKE checker.
    assert_eq!(ike_v1_check(&p, C), Verdict::Invalid);
    assert_eq!(ike_check(&p, C), Verdict::Invalid);
}

#[test]
fn chargen_and_qotd() {
    assert_eq!(CHARGEN.payload(C), b"\n");
    let lines = b"xyz{|}~ !\"#$%&\r\nyz{|}~ !\"#$%&'\r\nz{|";
    assert_eq!(chargen_check(lines, C), Verdict::Valid(Echo::NotApplicable));
    assert_eq!(chargen_check(b"HTTP/1.1 200 OK\r\n", C), Verdict::Invalid);
    assert_eq!(chargen_check(b"abcdefg", C), Verdict::Invalid);
    assert_eq!(chargen_check(b"", C), Verdict::Invalid);
    assert_eq!(chargen_check(b"\x00\x01", C), Verdict::Invalid);
    assert_eq!(
        qotd_check("Ce qui est simple est faux.\r\n".as_bytes(), C),
        Verdict::Valid(Echo::NotApplicable)
    );
    assert_eq!(qotd_check(b"\x16\x03\x01", C), Verdict::Invalid);
    assert_eq!(qotd_check(b"\n", C), Verdict::Invalid);
    assert_eq!(qotd_check(b"", C), Verdict::Invalid);
    assert_eq!(qotd_check(&[b'a'; 2000], C), Verdict::Invalid);
}

#[test]
fn table_lists_each_port_and_falls_back() {
    for s in ALL {
        for &p in s.ports {
            assert!(
                services_for_port(p).iter().any(|t| t.name == s.name),
                "{} not listed for port {p}",
                s.name
            );
        }
        assert!(!s.protocol.is_empty());
    }
    let names: std::collections::HashSet<_> = ALL.iter().map(|s| s.name).collect();
    assert_eq!(names.len(), ALL.len(), "payload names are unique");
    assert_eq!(services_for_port(53).len(), 2);
    assert_eq!(services_for_port(161).len(), 2);
    assert_eq!(services_for_port(3702).len(), 2);
    let g = services_for_port(40000);
    assert_eq!(
        (g.len(), g[0].name, g[0].protocol),
        (1, "generic-empty", "")
    );
    assert!(GENERIC.payload(C).is_empty());
    assert_eq!(
        (GENERIC.check)(b"anything", C),
        Verdict::Valid(Echo::NotApplicable)
    );
}

#[test]
fn every_payload_depends_on_the_cookie_where_it_can_echo() {
    let fixed = ["ssdp-msearch", "tftp-rrq", "chargen", "qotd"];
    for s in ALL {
        let (a, b) = (s.payload(C), s.payload(C ^ 0x0000_0100));
        assert!(!a.is_empty());
        assert_eq!(a == b, fixed.contains(&s.name), "{}", s.name);
    }
}

#[test]
fn no_checker_takes_a_reflected_probe() {
    // An echo service (or a forger replaying our probe) sends our payload
    // back: no checker may take it for an answer.
    // QOTD takes any short text, so only its own port's probe counts there.
    for s in ALL {
        for t in ALL
            .iter()
            .filter(|t| t.name != "qotd" || t.ports == s.ports)
        {
            let v = (t.check)(&s.payload(C), C);
            assert!(
                !v.accepted(),
                "{} accepted the {} probe: {v:?}",
                t.name,
                s.name
            );
        }
    }
}

#[test]
fn classify_picks_the_matching_payload() {
    let mut r = DNS_RECURSIVE.payload(C);
    r[2] |= 0x80;
    let (s, e) = classify(53, &r, C).unwrap();
    assert_eq!(s.name, "dns-recursive");
    assert_eq!((s.protocol, e), ("dns", Echo::Match));
    assert!(classify(53, &r, C ^ 1).is_none());
    assert!(classify(161, &r, C).is_none());
}

#[test]
fn amplification_factor_and_rule() {
    assert_eq!(amplification(2220, 15), 148.0);
    assert_eq!(amplification(36, 36), 1.0);
    assert_eq!(amplification(10, 0), 10.0);
    assert!(!is_amplifier(1.99));
    assert!(is_amplifier(2.0));
    assert_eq!(amplifier_severity(Severity::Medium, 148.0), Severity::High);
    assert_eq!(amplifier_severity(Severity::Info, 2.0), Severity::High);
    assert_eq!(amplifier_severity(Severity::Low, 1.5), Severity::Low);
    // Never lowered.
    assert_eq!(
        amplifier_severity(Severity::Critical, 148.0),
        Severity::Critical
    );
    assert_eq!(amplifier_severity(Severity::High, 0.5), Severity::High);
}

proptest::proptest! {
    /// No checker panics on any datagram.
    #[test]
    fn checkers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1600), cookie: u32) {
        for s in ALL {
            let _ = (s.check)(&bytes, cookie);
        }
    }
}
