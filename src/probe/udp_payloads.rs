//! UDP payloads per service, and the checkers that recognise their replies.
//!
//! A UDP port says nothing unless the datagram sent to it is something the
//! service understands, so every service here has a payload that a correctly
//! configured server answers, written for synsweep from the protocol
//! specifications (RFC numbers beside each builder). Several payloads may be
//! listed for one port ([`services_for_port`]): a DNS server that hides its
//! version still answers a plain query, an SNMP agent that speaks only v1
//! ignores v2c.
//!
//! Stateless validation without TCP's sequence number: the scan core computes
//! a 32-bit cookie per probe (a keyed hash of addresses and ports, see
//! `crate::cookie`) and carries it in the source port; each builder also puts
//! the cookie into a field the server echoes (DNS ID, SNMP request-id, NTP
//! origin timestamp, RPC XID, ...), and each checker says whether the reply
//! is a well-formed answer of its protocol ([`Verdict::Valid`]) and whether
//! that field came back ([`Echo`]). Protocols with nothing to echo (chargen,
//! QOTD, SSDP, TFTP) answer [`Echo::NotApplicable`]; there the source port and
//! the address are all the core can check.
//!
//! Everything here is pure: no sockets, no clock, no state.
//!
//! What the scan core must know when it wires this in:
//!
//! | cookie bits echoed | how | protocols (field) |
//! | --- | --- | --- |
//! | 32 | as is | NTP (origin timestamp), SNMP (request-id), portmap (XID), CoAP (token), IKE (initiator SPI), OpenVPN (session ID), WS-Discovery (RelatesTo UUID) |
//! | 31 | low 31 bits, never 0 | CLDAP (message ID) |
//! | 16 | [`cookie16`] | DNS, mDNS (ID), memcached (request ID), NetBIOS (transaction ID), CoAP (message ID, beside the token) |
//! | 8 | bytes XORed, 0..=0xfe | IPMI (ASF message tag) |
//! | 0 | nothing echoed | SSDP, TFTP, chargen, QOTD, [`GENERIC`] |
//!
//! - Replies that do not come from the probed port: a TFTP server answers
//!   from a fresh port (its transfer ID, RFC 1350), and wsdd answers a
//!   WS-Discovery probe from its multicast socket's port. Both still go to
//!   our source port, which carries the cookie: the core should accept
//!   those two protocols from any source port of the probed address.
//! - Several datagrams per reply: memcached splits `stats` into numbered
//!   datagrams (each carries the request ID), wsdd repeats its answer
//!   (SOAP-over-UDP). [`amplification`] counts all of them.
//! - Identification: run every checker of the port's list ([`classify`])
//!   and keep the first accepted verdict; its `protocol` names the service.

use std::fmt::Write as _;

/// Whether the cookie came back in the reply's echo field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// The echoed field holds this probe's cookie.
    Match,
    /// The echoed field is there but holds something else: not our reply
    /// (forged, stale, or for another prober).
    Mismatch,
    /// The protocol echoes nothing of the request.
    NotApplicable,
}

/// What a checker makes of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not a reply of this protocol.
    Invalid,
    /// A well-formed reply of this protocol.
    Valid(Echo),
}

impl Verdict {
    /// A valid reply whose echo field matches or that has none: the reply
    /// counts (once the core has also checked address and ports).
    pub fn accepted(self) -> bool {
        matches!(self, Verdict::Valid(Echo::Match | Echo::NotApplicable))
    }
}

/// One payload for one service.
#[derive(Debug)]
pub struct UdpService {
    /// Application protocol named in findings (`protocol` of DESIGN.md's
    /// vocabulary); empty for [`GENERIC`], which identifies nothing.
    pub protocol: &'static str,
    /// A name for this payload, unique in the table (`dns-version-bind`).
    pub name: &'static str,
    /// Ports this payload is sent to.
    pub ports: &'static [u16],
    /// Append the payload for `cookie` to `out`.
    pub build: fn(cookie: u32, out: &mut Vec<u8>),
    /// Judge a reply (the UDP payload) to the probe that carried `cookie`.
    pub check: fn(reply: &[u8], cookie: u32) -> Verdict,
}

impl UdpService {
    /// The payload for `cookie` as a new vector.
    pub fn payload(&self, cookie: u32) -> Vec<u8> {
        let mut v = Vec::new();
        (self.build)(cookie, &mut v);
        v
    }
}

/// The 16-bit form of a cookie used where a protocol echoes only 16 bits:
/// both halves folded together, so every cookie bit counts.
pub fn cookie16(cookie: u32) -> u16 {
    (cookie ^ (cookie >> 16)) as u16
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn echo(same: bool) -> Verdict {
    Verdict::Valid(if same { Echo::Match } else { Echo::Mismatch })
}

// ------------------------------------------------------------------ DNS

const DNS_HEADER: usize = 12;
const QTYPE_A: u16 = 1;
const QTYPE_PTR: u16 = 12;
const QTYPE_TXT: u16 = 16;
const QCLASS_IN: u16 = 1;
const QCLASS_CH: u16 = 3;
/// mDNS "unicast response requested" bit of the question class (RFC 6762 5.4).
const QCLASS_QU: u16 = 0x8000;

/// A DNS query (RFC 1035 4.1) with one question.
fn dns_query(id: u16, flags: u16, name: &[&str], qtype: u16, qclass: u16, out: &mut Vec<u8>) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&qclass.to_be_bytes());
}

/// A DNS response to `query` (our payload): QR set, standard query opcode,
/// and either our question repeated (RFC 1035 4.1.2; names compared without
/// case, the mDNS unicast-response bit ignored) or no question and an error
/// code (FORMERR, NOTIMP). Echo: the ID, and the question when there is
/// one. NetBIOS name service replies share the header layout but carry no
/// question and rcode 0, so they are not taken for DNS.
fn dns_reply(reply: &[u8], cookie: u32, query: &[u8]) -> Verdict {
    if reply.len() < DNS_HEADER || reply[2] & 0x80 == 0 || (reply[2] >> 3) & 0x0f != 0 {
        return Verdict::Invalid;
    }
    let id_ok = be16(reply, 0) == Some(cookie16(cookie));
    match be16(reply, 4) {
        Some(0) if reply[3] & 0x0f != 0 => echo(id_ok),
        Some(1..=16) => match dns_question(&reply[DNS_HEADER..]) {
            Some(q) => echo(id_ok && dns_same_question(q, &query[DNS_HEADER..])),
            None => Verdict::Invalid,
        },
        _ => Verdict::Invalid,
    }
}

/// The first question of a message body: uncompressed name, type, class.
fn dns_question(b: &[u8]) -> Option<&[u8]> {
    let mut at = 0;
    loop {
        let len = *b.get(at)? as usize;
        if len & 0xc0 != 0 {
            return None;
        }
        at += 1 + len;
        if len == 0 {
            break;
        }
    }
    b.get(..at + 4)
}

fn dns_same_question(got: &[u8], ours: &[u8]) -> bool {
    let n = got.len();
    n == ours.len()
        && got[..n - 4].eq_ignore_ascii_case(&ours[..n - 4])
        && got[n - 4..n - 2] == ours[n - 4..n - 2]
        && got[n - 2] & 0x7f == ours[n - 2] & 0x7f
        && got[n - 1] == ours[n - 1]
}

fn dns_version_bind_check(reply: &[u8], cookie: u32) -> Verdict {
    dns_reply(reply, cookie, &DNS_VERSION_BIND.payload(cookie))
}

fn dns_recursive_check(reply: &[u8], cookie: u32) -> Verdict {
    dns_reply(reply, cookie, &DNS_RECURSIVE.payload(cookie))
}

fn mdns_check(reply: &[u8], cookie: u32) -> Verdict {
    dns_reply(reply, cookie, &MDNS.payload(cookie))
}

/// `version.bind` CH TXT (no recursion): answered by BIND, Unbound,
/// dnsmasq, Knot, PowerDNS (with a version, a decoy, or REFUSED: any answer
/// shows a DNS server). RFC 4892.
fn dns_version_bind(cookie: u32, out: &mut Vec<u8>) {
    dns_query(
        cookie16(cookie),
        0x0000,
        &["version", "bind"],
        QTYPE_TXT,
        QCLASS_CH,
        out,
    );
}

/// A recursion-desired A query for `synsweep.invalid` (RFC 6761: `.invalid`
/// never exists, so no resolver has to go out for it). A recursive resolver
/// answers NXDOMAIN with RA set; an authoritative-only server answers
/// REFUSED; the RA bit of the reply tells an open resolver ([`dns_recursion_available`]).
fn dns_recursive(cookie: u32, out: &mut Vec<u8>) {
    dns_query(
        cookie16(cookie),
        0x0100,
        &["synsweep", "invalid"],
        QTYPE_A,
        QCLASS_IN,
        out,
    );
}

/// Whether a DNS reply says recursion is available and did not refuse: the
/// mark of an open resolver when the reply answers [`DNS_RECURSIVE`].
pub fn dns_recursion_available(reply: &[u8]) -> bool {
    reply.len() >= DNS_HEADER && reply[3] & 0x80 != 0 && reply[3] & 0x0f != 5
}

/// mDNS legacy unicast query (RFC 6762 6.7): sent from a port other than
/// 5353, the responder must answer by unicast and echo the ID. The question
/// is the DNS-SD service enumeration (RFC 6763 9) with the QU bit.
fn mdns_services(cookie: u32, out: &mut Vec<u8>) {
    dns_query(
        cookie16(cookie),
        0x0000,
        &["_services", "_dns-sd", "_udp", "local"],
        QTYPE_PTR,
        QCLASS_IN | QCLASS_QU,
        out,
    );
}

// ------------------------------------------------------------------ NTP

/// Second half of the NTP transmit timestamp: a constant, so the 64 echoed
/// bits are cookie and marker.
const NTP_FRACTION: u32 = 0x7379_6e73; // "syns"

/// NTPv4 client request (RFC 5905, mode 3): 48 bytes, the transmit
/// timestamp carries the cookie; the server copies it into the origin
/// timestamp of its reply.
fn ntp_client(cookie: u32, out: &mut Vec<u8>) {
    let mut p = [0u8; 48];
    p[0] = (4 << 3) | 3; // LI 0, VN 4, mode 3
    p[2] = 6; // poll 2^6 s
    p[3] = 0xec; // precision 2^-20 s
    p[40..44].copy_from_slice(&cookie.to_be_bytes());
    p[44..48].copy_from_slice(&NTP_FRACTION.to_be_bytes());
    out.extend_from_slice(&p);
}

/// NTP server reply (mode 4, version 1 to 4, 48 bytes or more); echo: the
/// origin timestamp.
fn ntp_check(reply: &[u8], cookie: u32) -> Verdict {
    if reply.len() < 48 || reply[0] & 7 != 4 || !(1..=4).contains(&((reply[0] >> 3) & 7)) {
        return Verdict::Invalid;
    }
    echo(be32(reply, 24) == Some(cookie) && be32(reply, 28) == Some(NTP_FRACTION))
}

// ------------------------------------------------------------------ BER (SNMP, CLDAP)

fn ber_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let b = (len as u32).to_be_bytes();
        let skip = b.iter().take_while(|&&x| x == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&b[skip..]);
    }
}

fn ber_tlv(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    ber_len(content.len(), out);
    out.extend_from_slice(content);
}

/// A BER INTEGER in minimal two's complement (X.690 8.3).
fn ber_int(v: i64, out: &mut Vec<u8>) {
    let b = v.to_be_bytes();
    let mut i = 0;
    while i < 7 && ((b[i] == 0 && b[i + 1] & 0x80 == 0) || (b[i] == 0xff && b[i + 1] & 0x80 != 0)) {
        i += 1;
    }
    ber_tlv(0x02, &b[i..], out);
}

/// Read one TLV: (tag, content, rest). Single-byte tags, definite lengths up
/// to four length bytes.
fn ber_read(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&l0, mut b) = b.split_first()?;
    let len = if l0 < 0x80 {
        l0 as usize
    } else {
        let n = (l0 & 0x7f) as usize;
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n].iter().fold(0usize, |a, &x| (a << 8) | x as usize);
        b = &b[n..];
        len
    };
    if b.len() < len {
        return None;
    }
    Some((tag, &b[..len], &b[len..]))
}

/// A BER INTEGER's value (up to 8 content bytes).
fn ber_int_value(content: &[u8]) -> Option<i64> {
    if content.is_empty() || content.len() > 8 {
        return None;
    }
    let init = if content[0] & 0x80 != 0 { -1i64 } else { 0 };
    Some(content.iter().fold(init, |a, &x| (a << 8) | x as i64))
}

// ------------------------------------------------------------------ SNMP

/// OID 1.3.6.1.2.1.1.1.0 (sysDescr.0), BER-encoded content.
const SYS_DESCR: [u8; 8] = [0x2b, 6, 1, 2, 1, 1, 1, 0];

/// SNMP GetRequest for sysDescr.0 with community `public` (RFC 3416, RFC
/// 1157); `version` 0 is SNMPv1, 1 is SNMPv2c. The request-id is the cookie
/// read as a signed 32-bit Integer32, all 32 bits.
fn snmp_get(version: i64, cookie: u32, out: &mut Vec<u8>) {
    let mut varbind = Vec::with_capacity(16);
    ber_tlv(0x06, &SYS_DESCR, &mut varbind);
    varbind.extend_from_slice(&[0x05, 0x00]);
    let mut list = Vec::with_capacity(20);
    ber_tlv(0x30, &varbind, &mut list);
    let mut pdu = Vec::with_capacity(40);
    ber_int(cookie as i32 as i64, &mut pdu);
    ber_int(0, &mut pdu); // error-status
    ber_int(0, &mut pdu); // error-index
    ber_tlv(0x30, &list, &mut pdu);
    let mut msg = Vec::with_capacity(64);
    ber_int(version, &mut msg);
    ber_tlv(0x04, b"public", &mut msg);
    ber_tlv(0xa0, &pdu, &mut msg);
    ber_tlv(0x30, &msg, out);
}

fn snmp_v2c_public(cookie: u32, out: &mut Vec<u8>) {
    snmp_get(1, cookie, out)
}

fn snmp_v1_public(cookie: u32, out: &mut Vec<u8>) {
    snmp_get(0, cookie, out)
}

/// An SNMP Response (or Report) PDU; echo: the request-id.
fn snmp_check(reply: &[u8], cookie: u32) -> Verdict {
    let parse = || -> Option<i64> {
        let (tag, msg, _) = ber_read(reply)?;
        if tag != 0x30 {
            return None;
        }
        let (tag, ver, rest) = ber_read(msg)?;
        if tag != 0x02 || !(0..=3).contains(&ber_int_value(ver)?) {
            return None;
        }
        let (tag, _community, rest) = ber_read(rest)?;
        if tag != 0x04 {
            return None;
        }
        let (tag, pdu, _) = ber_read(rest)?;
        if tag != 0xa2 && tag != 0xa8 {
            return None;
        }
        let (tag, id, _) = ber_read(pdu)?;
        if tag != 0x02 {
            return None;
        }
        ber_int_value(id)
    };
    match parse() {
        None => Verdict::Invalid,
        Some(id) => echo(id == cookie as i32 as i64),
    }
}

// ------------------------------------------------------------------ CLDAP

/// The LDAP message ID for a cookie: MessageID is 0..2^31-1 and 0 is for
/// unsolicited notifications (RFC 4511 4.1.1.1), so 31 bits, never 0.
fn cldap_id(cookie: u32) -> i64 {
    (cookie & 0x7fff_ffff).max(1) as i64
}

/// CLDAP rootDSE search (RFC 4511 searchRequest over UDP as RFC 1798 and
/// Active Directory's CLDAP take it): base "", scope base, filter
/// (objectClass=*), all user attributes.
fn cldap_rootdse(cookie: u32, out: &mut Vec<u8>) {
    let mut req = Vec::with_capacity(40);
    ber_tlv(0x04, b"", &mut req); // baseObject
    ber_tlv(0x0a, &[0], &mut req); // scope baseObject
    ber_tlv(0x0a, &[0], &mut req); // derefAliases never
    ber_int(0, &mut req); // sizeLimit
    ber_int(0, &mut req); // timeLimit
    ber_tlv(0x01, &[0], &mut req); // typesOnly FALSE
    ber_tlv(0x87, b"objectClass", &mut req); // present filter
    ber_tlv(0x30, b"", &mut req); // attributes
    let mut msg = Vec::with_capacity(48);
    ber_int(cldap_id(cookie), &mut msg);
    ber_tlv(0x63, &req, &mut msg);
    ber_tlv(0x30, &msg, out);
}

/// An LDAPMessage carrying a search result entry, done or reference; echo:
/// the message ID.
fn cldap_check(reply: &[u8], cookie: u32) -> Verdict {
    let parse = || -> Option<i64> {
        let (tag, msg, _) = ber_read(reply)?;
        if tag != 0x30 {
            return None;
        }
        let (tag, id, rest) = ber_read(msg)?;
        if tag != 0x02 {
            return None;
        }
        let (op, _, _) = ber_read(rest)?;
        if !matches!(op, 0x64 | 0x65 | 0x73) {
            return None;
        }
        ber_int_value(id)
    };
    match parse() {
        None => Verdict::Invalid,
        Some(id) => echo(id == cldap_id(cookie)),
    }
}

// ------------------------------------------------------------------ memcached

/// memcached `stats` over UDP (memcached protocol.txt, "UDP protocol"): an
/// 8-byte frame header (request ID, sequence 0, 1 datagram, reserved 0)
/// before the text command. The request ID is echoed in every reply datagram.
fn memcached_stats(cookie: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&cookie16(cookie).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 1, 0, 0]);
    out.extend_from_slice(b"stats\r\n");
}

fn memcached_check(reply: &[u8], cookie: u32) -> Verdict {
    let (Some(seq), Some(total), Some(rsv)) = (be16(reply, 2), be16(reply, 4), be16(reply, 6))
    else {
        return Verdict::Invalid;
    };
    if total == 0 || seq >= total || rsv != 0 {
        return Verdict::Invalid;
    }
    let body = &reply[8..];
    let starts = [
        &b"STAT "[..],
        b"END\r\n",
        b"ERROR",
        b"SERVER_ERROR",
        b"CLIENT_ERROR",
    ];
    // Later datagrams of a multi-datagram reply continue mid-text.
    let ok = if seq == 0 {
        starts.iter().any(|s| body.starts_with(s))
    } else {
        !body.is_empty() && body.iter().all(|&c| c.is_ascii())
    };
    if !ok {
        return Verdict::Invalid;
    }
    echo(be16(reply, 0) == Some(cookie16(cookie)))
}

// ------------------------------------------------------------------ SSDP

/// SSDP discovery request (UPnP Device Architecture 1.1, 1.3.2) for all
/// devices and services, sent by unicast to the device.
fn ssdp_msearch(_cookie: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(
        b"M-SEARCH * HTTP/1.1\r\n\
          HOST: 239.255.255.250:1900\r\n\
          MAN: \"ssdp:discover\"\r\n\
          MX: 1\r\n\
          ST: ssdp:all\r\n\
          \r\n",
    );
}

/// An HTTPU `200 OK` search response carrying ST or USN; nothing is echoed.
fn ssdp_check(reply: &[u8], _cookie: u32) -> Verdict {
    let head = &reply[..reply.len().min(12)];
    if !head.eq_ignore_ascii_case(b"HTTP/1.1 200") && !head.eq_ignore_ascii_case(b"HTTP/1.0 200") {
        return Verdict::Invalid;
    }
    let has = |name: &[u8]| {
        reply
            .split(|&c| c == b'\n')
            .any(|l| l.len() >= name.len() && l[..name.len()].eq_ignore_ascii_case(name))
    };
    if has(b"ST:") || has(b"USN:") {
        Verdict::Valid(Echo::NotApplicable)
    } else {
        Verdict::Invalid
    }
}

// ------------------------------------------------------------------ NetBIOS

/// NetBIOS node status request (RFC 1002 4.2.17) for the wildcard name `*`:
/// any NetBIOS name server answers with its name table. The transaction ID
/// is echoed.
fn netbios_nbstat(cookie: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&cookie16(cookie).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    // First-level encoding (RFC 1001 14.1) of "*" padded with NULs to 16
    // bytes: each nibble + 'A'.
    out.push(32);
    let mut name = [0u8; 16];
    name[0] = b'*';
    for b in name {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 0x0f));
    }
    out.push(0);
    out.extend_from_slice(&[0x00, 0x21, 0x00, 0x01]); // NBSTAT, IN
}

/// A NetBIOS node status response (RFC 1002 4.2.18: R bit, opcode query, no
/// question, one NBSTAT answer record), or a negative response (an RCODE and
/// no records); echo: the transaction ID.
fn netbios_check(reply: &[u8], cookie: u32) -> Verdict {
    if reply.len() < 12 || reply[2] & 0x80 == 0 || (reply[2] >> 3) & 0x0f != 0 {
        return Verdict::Invalid;
    }
    let (qd, an) = (be16(reply, 4), be16(reply, 6));
    let ok = match (qd, an) {
        (Some(0), Some(0)) => reply[3] & 0x0f != 0,
        (Some(0), Some(_)) => {
            // Answer name: a 32-byte encoded label then the root, or a pointer.
            let ty = match reply.get(12) {
                Some(0x20) => 12 + 34,
                Some(b) if b & 0xc0 == 0xc0 => 12 + 2,
                _ => return Verdict::Invalid,
            };
            be16(reply, ty) == Some(0x0021)
        }
        _ => false,
    };
    if !ok {
        return Verdict::Invalid;
    }
    echo(be16(reply, 0) == Some(cookie16(cookie)))
}

// ------------------------------------------------------------------ portmap

/// ONC RPC call (RFC 5531) to the portmapper (program 100000, version 2,
/// procedure 4 DUMP, RFC 1833) with AUTH_NULL; the XID is the cookie.
fn portmap_dump(cookie: u32, out: &mut Vec<u8>) {
    for w in [cookie, 0, 2, 100_000, 2, 4, 0, 0, 0, 0] {
        out.extend_from_slice(&w.to_be_bytes());
    }
}

/// An RPC reply (accepted or denied, with sane status codes); echo: the XID.
fn portmap_check(reply: &[u8], cookie: u32) -> Verdict {
    let w = |i: usize| be32(reply, 4 * i);
    let ok = match (w(1), w(2)) {
        // MSG_ACCEPTED: verifier (flavor, length, body), then accept_stat.
        (Some(1), Some(0)) => match w(4) {
            Some(vlen) if vlen <= 400 && vlen % 4 == 0 => {
                be32(reply, 20 + vlen as usize).is_some_and(|s| s <= 5)
            }
            _ => false,
        },
        // MSG_DENIED: reject_stat RPC_MISMATCH or AUTH_ERROR.
        (Some(1), Some(1)) => w(3).is_some_and(|s| s <= 1),
        _ => false,
    };
    if !ok {
        return Verdict::Invalid;
    }
    echo(w(0) == Some(cookie))
}

// ------------------------------------------------------------------ TFTP

/// TFTP read request (RFC 1350) for a file no server has; a server answers
/// with ERROR "file not found" (or DATA if it exists). Nothing is echoed,
/// and the reply comes from a new server port (the transfer ID), not 69.
fn tftp_rrq(_cookie: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(b"synsweep-probe.txt\0octet\0");
}

fn tftp_check(reply: &[u8], _cookie: u32) -> Verdict {
    let ok = match be16(reply, 0) {
        // DATA block 1, at most 512 bytes of data.
        Some(3) => be16(reply, 2) == Some(1) && reply.len() <= 516,
        // ERROR with a code 0..=8 and a message.
        Some(5) => be16(reply, 2).is_some_and(|c| c <= 8) && reply.len() >= 5,
        // OACK (RFC 2347): options, NUL-terminated.
        Some(6) => reply.len() > 2 && reply.last() == Some(&0),
        _ => false,
    };
    if ok {
        Verdict::Valid(Echo::NotApplicable)
    } else {
        Verdict::Invalid
    }
}

// ------------------------------------------------------------------ IPMI / RMCP

const ASF_IANA: u32 = 4542;

/// The ASF message tag for a cookie: 8 bits, 0..=0xfe (0xff means "no
/// response expected").
fn asf_tag(cookie: u32) -> u8 {
    (cookie.to_be_bytes().iter().fold(0u8, |a, &x| a ^ x)) % 0xff
}

/// RMCP ASF Presence Ping (DMTF DSP0136 3.2.4.3): RMCP version 6, sequence
/// 0xff (no RMCP ACK), class ASF; the message tag is echoed in the Pong.
fn ipmi_presence_ping(cookie: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&[0x06, 0x00, 0xff, 0x06]);
    out.extend_from_slice(&ASF_IANA.to_be_bytes());
    out.extend_from_slice(&[0x80, asf_tag(cookie), 0x00, 0x00]);
}

/// A Presence Pong; echo: the message tag (8 bits only).
fn ipmi_check(reply: &[u8], cookie: u32) -> Verdict {
    if reply.len() < 12
        || reply[0] != 0x06
        || reply[3] & 0x1f != 0x06
        || be32(reply, 4) != Some(ASF_IANA)
        || reply[8] != 0x40
    {
        return Verdict::Invalid;
    }
    echo(reply[9] == asf_tag(cookie))
}

// ------------------------------------------------------------------ WS-Discovery

/// The MessageID of a probe: a UUID whose first 32 bits are the cookie.
fn wsd_message_id(cookie: u32) -> String {
    format!("urn:uuid:{cookie:08x}-7379-4e73-9377-656570000000")
}

fn wsd_probe(cookie: u32, types: &str, out: &mut Vec<u8>) {
    let mut s = String::with_capacity(700);
    s.push_str(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\" \
xmlns:wsa=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" \
xmlns:wsd=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\" \
xmlns:wsdp=\"http://schemas.xmlsoap.org/ws/2006/02/devprof\">\
<soap:Header>\
<wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To>\
<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action>",
    );
    let _ = write!(
        s,
        "<wsa:MessageID>{}</wsa:MessageID>",
        wsd_message_id(cookie)
    );
    s.push_str("</soap:Header><soap:Body><wsd:Probe>");
    s.push_str(types);
    s.push_str("</wsd:Probe></soap:Body></soap:Envelope>");
    out.extend_from_slice(s.as_bytes());
}

/// WS-Discovery Probe (OASIS WS-Discovery 2005/04, SOAP-over-UDP) for
/// devices (`wsdp:Device`: Windows hosts, printers, Samba's wsdd).
fn wsd_probe_device(cookie: u32, out: &mut Vec<u8>) {
    wsd_probe(cookie, "<wsd:Types>wsdp:Device</wsd:Types>", out)
}

/// WS-Discovery Probe with no Types, which matches every target service
/// (WS-Discovery 5.1): cameras (ONVIF) and other non-Windows devices.
fn wsd_probe_any(cookie: u32, out: &mut Vec<u8>) {
    wsd_probe(cookie, "", out)
}

/// The text of the first element whose name ends with `local` (any
/// namespace prefix).
fn xml_text<'a>(doc: &'a [u8], local: &[u8]) -> Option<&'a [u8]> {
    let mut at = 0;
    while let Some(i) = find(&doc[at..], local) {
        let start = at + i;
        let end = start + local.len();
        at = end;
        let prev = start.checked_sub(1).map(|p| doc[p]);
        if !matches!(prev, Some(b'<' | b':')) {
            continue;
        }
        // Opening tag: name then '>' or attributes; skip closing tags.
        let open = doc[..start].iter().rposition(|&c| c == b'<')?;
        if doc.get(open + 1) == Some(&b'/') {
            continue;
        }
        let gt = end + doc[end..].iter().position(|&c| c == b'>')?;
        let lt = gt + doc[gt..].iter().position(|&c| c == b'<')?;
        return Some(doc[gt + 1..lt].trim_ascii());
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A ProbeMatches message; echo: RelatesTo holds our MessageID.
fn wsd_check(reply: &[u8], cookie: u32) -> Verdict {
    if find(reply, b"Envelope").is_none() || find(reply, b"ProbeMatches").is_none() {
        return Verdict::Invalid;
    }
    let id = wsd_message_id(cookie);
    echo(xml_text(reply, b"RelatesTo").is_some_and(|t| t.eq_ignore_ascii_case(id.as_bytes())))
}

// ------------------------------------------------------------------ CoAP

/// CoAP confirmable GET /.well-known/core (RFC 7252, RFC 6690): message ID
/// 16 bits and a 4-byte token of the cookie; a server answers with a
/// piggybacked ACK echoing both.
fn coap_well_known_core(cookie: u32, out: &mut Vec<u8>) {
    out.push(0x44); // version 1, CON, token length 4
    out.push(0x01); // GET
    out.extend_from_slice(&cookie16(cookie).to_be_bytes());
    out.extend_from_slice(&cookie.to_be_bytes());
    out.push(0xbb); // Uri-Path (11), length 11
    out.extend_from_slice(b".well-known");
    out.push(0x04); // Uri-Path again, length 4
    out.extend_from_slice(b"core");
}

/// A CoAP response or empty ACK/RST; echo: the message ID for ACK/RST and
/// the token when there is one.
fn coap_check(reply: &[u8], cookie: u32) -> Verdict {
    if reply.len() < 4 || reply[0] >> 6 != 1 {
        return Verdict::Invalid;
    }
    let ty = (reply[0] >> 4) & 3;
    let tkl = (reply[0] & 0x0f) as usize;
    let code = reply[1];
    let empty = code == 0;
    if tkl > 8 || reply.len() < 4 + tkl || !(empty || matches!(code >> 5, 2 | 4 | 5)) {
        return Verdict::Invalid;
    }
    // An empty message is only ACK or RST and has no token (RFC 7252 4.1).
    if empty && (tkl != 0 || ty < 2 || reply.len() != 4) {
        return Verdict::Invalid;
    }
    let mid_ok = ty < 2 || be16(reply, 2) == Some(cookie16(cookie));
    let token_ok = empty || reply[4..4 + tkl] == cookie.to_be_bytes();
    echo(mid_ok && token_ok)
}

// ------------------------------------------------------------------ OpenVPN

const OVPN_HARD_RESET_CLIENT_V2: u8 = 7;
const OVPN_HARD_RESET_SERVER_V2: u8 = 8;
const OVPN_ACK_V1: u8 = 5;

fn ovpn_session(cookie: u32) -> [u8; 8] {
    let mut s = [0u8; 8];
    s[..4].copy_from_slice(&cookie.to_be_bytes());
    s[4..].copy_from_slice(b"syns");
    s
}

/// OpenVPN P_CONTROL_HARD_RESET_CLIENT_V2 (OpenVPN's ssl_pkt / protocol
/// notes): opcode 7 key 0, our session ID, no ACKs, packet-id 0. A server
/// without tls-auth/tls-crypt answers with HARD_RESET_SERVER_V2 that acks
/// our packet and names our session ID as the remote one.
fn openvpn_reset(cookie: u32, out: &mut Vec<u8>) {
    out.push(OVPN_HARD_RESET_CLIENT_V2 << 3);
    out.extend_from_slice(&ovpn_session(cookie));
    out.push(0); // ack array length
    out.extend_from_slice(&[0, 0, 0, 0]); // message packet-id
}

/// A server hard reset or ACK (no tls-auth); echo: the remote session ID.
fn openvpn_check(reply: &[u8], cookie: u32) -> Verdict {
    let op = match reply.first() {
        Some(b) => b >> 3,
        None => return Verdict::Invalid,
    };
    if op != OVPN_HARD_RESET_SERVER_V2 && op != OVPN_ACK_V1 {
        return Verdict::Invalid;
    }
    let n = match reply.get(9) {
        Some(&n) if n <= 8 => n as usize,
        _ => return Verdict::Invalid,
    };
    if n == 0 {
        // Nothing acked: a reset of its own, not an answer to ours.
        return if op == OVPN_HARD_RESET_SERVER_V2 && reply.len() >= 14 {
            Verdict::Valid(Echo::Mismatch)
        } else {
            Verdict::Invalid
        };
    }
    let remote = 10 + 4 * n;
    match reply.get(remote..remote + 8) {
        Some(r) => echo(r == ovpn_session(cookie)),
        None => Verdict::Invalid,
    }
}

// ------------------------------------------------------------------ IKE

/// The NIST P-256 base point G (SEC 2, 2.4.2) as x || y: a valid public key
/// (private key 1) for the KE payload, so a responder's point check passes.
/// The probe never completes a handshake.
const P256_G: [u8; 64] = [
    0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2,
    0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96,
    0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16,
    0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
];

fn ike_spi(cookie: u32) -> [u8; 8] {
    let mut s = [0u8; 8];
    s[..4].copy_from_slice(&cookie.to_be_bytes());
    s[4..].copy_from_slice(b"syns");
    s
}

/// IKEv2 IKE_SA_INIT request (RFC 7296): one IKE proposal with common
/// transforms (AES-CBC 128/256, HMAC-SHA2-256 and SHA1 PRF and integrity,
/// ECP-256 and MODP-2048), a KE payload for ECP-256, a 32-byte nonce. The
/// initiator SPI carries the cookie; every answer (SA_INIT response,
/// INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN, COOKIE) echoes it.
fn ike_sa_init(cookie: u32, out: &mut Vec<u8>) {
    // (type, id, key length attribute)
    let transforms: [(u8, u16, Option<u16>); 8] = [
        (1, 12, Some(128)), // ENCR_AES_CBC 128
        (1, 12, Some(256)), // ENCR_AES_CBC 256
        (2, 5, None),       // PRF_HMAC_SHA2_256
        (2, 2, None),       // PRF_HMAC_SHA1
        (3, 12, None),      // AUTH_HMAC_SHA2_256_128
        (3, 2, None),       // AUTH_HMAC_SHA1_96
        (4, 19, None),      // ECP-256
        (4, 14, None),      // MODP-2048
    ];
    let mut prop = vec![0, 0, 0, 0, 1, 1, 0, transforms.len() as u8];
    for (i, (ty, id, kl)) in transforms.iter().enumerate() {
        let last = i + 1 == transforms.len();
        let len: u16 = if kl.is_some() { 12 } else { 8 };
        prop.push(if last { 0 } else { 3 });
        prop.push(0);
        prop.extend_from_slice(&len.to_be_bytes());
        prop.push(*ty);
        prop.push(0);
        prop.extend_from_slice(&id.to_be_bytes());
        if let Some(kl) = kl {
            prop.extend_from_slice(&0x800eu16.to_be_bytes()); // TV Key Length
            prop.extend_from_slice(&kl.to_be_bytes());
        }
    }
    let plen = prop.len() as u16;
    prop[2..4].copy_from_slice(&plen.to_be_bytes());

    let start = out.len();
    out.extend_from_slice(&ike_spi(cookie));
    out.extend_from_slice(&[0; 8]); // responder SPI
    out.extend_from_slice(&[33, 0x20, 34, 0x08]); // next SA, v2.0, IKE_SA_INIT, initiator
    out.extend_from_slice(&[0; 4]); // message ID
    out.extend_from_slice(&[0; 4]); // length, below
    // SA payload, next KE.
    out.extend_from_slice(&[34, 0]);
    out.extend_from_slice(&(4 + plen).to_be_bytes());
    out.extend_from_slice(&prop);
    // KE payload, next Nonce: group 19.
    out.extend_from_slice(&[40, 0]);
    out.extend_from_slice(&(8 + P256_G.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 19, 0, 0]);
    out.extend_from_slice(&P256_G);
    // Nonce payload, last: 32 bytes from the cookie.
    out.extend_from_slice(&[0, 0, 0, 36]);
    for i in 0..8u32 {
        out.extend_from_slice(&(cookie.rotate_left(4 * i) ^ 0x5a5a_0000 ^ i).to_be_bytes());
    }
    let total = (out.len() - start) as u32;
    out[start + 24..start + 28].copy_from_slice(&total.to_be_bytes());
}

/// IKEv1 Main Mode first message (RFC 2408, RFC 2409): an ISAKMP SA
/// proposal with pre-shared-key transforms a v1-only gateway commonly
/// accepts (AES-128 and 3DES, SHA-1, MODP-2048 and MODP-1024). The
/// initiator cookie carries the cookie; the responder's SA choice or its
/// NO-PROPOSAL-CHOSEN notification echoes it.
fn ike_v1_main_mode(cookie: u32, out: &mut Vec<u8>) {
    // (encryption algorithm, key length, DH group)
    let transforms: [(u16, Option<u16>, u16); 4] = [
        (7, Some(128), 14), // AES-CBC-128, MODP-2048
        (7, Some(128), 2),  // AES-CBC-128, MODP-1024
        (5, None, 14),      // 3DES-CBC, MODP-2048
        (5, None, 2),       // 3DES-CBC, MODP-1024
    ];
    let mut prop = vec![0, 0, 0, 0, 1, 1, 0, transforms.len() as u8];
    for (i, (enc, kl, group)) in transforms.iter().enumerate() {
        // TV attributes: encryption, [key length], hash SHA-1, auth PSK,
        // group, life type seconds, life duration 28800.
        let mut attrs: Vec<(u16, u16)> = vec![(1, *enc)];
        if let Some(kl) = kl {
            attrs.push((14, *kl));
        }
        attrs.extend_from_slice(&[(2, 2), (3, 1), (4, *group), (11, 1), (12, 28800)]);
        let len = 8 + 4 * attrs.len() as u16;
        let last = i + 1 == transforms.len();
        prop.extend_from_slice(&[if last { 0 } else { 3 }, 0]);
        prop.extend_from_slice(&len.to_be_bytes());
        prop.extend_from_slice(&[i as u8 + 1, 1, 0, 0]); // transform #, KEY_IKE
        for (ty, v) in attrs {
            prop.extend_from_slice(&(0x8000 | ty).to_be_bytes());
            prop.extend_from_slice(&v.to_be_bytes());
        }
    }
    let plen = prop.len() as u16;
    prop[2..4].copy_from_slice(&plen.to_be_bytes());

    let start = out.len();
    out.extend_from_slice(&ike_spi(cookie));
    out.extend_from_slice(&[0; 8]); // responder cookie
    out.extend_from_slice(&[1, 0x10, 2, 0]); // next SA, v1.0, Main Mode, no flags
    out.extend_from_slice(&[0; 4]); // message ID
    out.extend_from_slice(&[0; 4]); // length, below
    // SA payload: DOI IPsec, situation identity only, then the proposal.
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(12 + plen).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
    out.extend_from_slice(&prop);
    let total = (out.len() - start) as u32;
    out[start + 24..start + 28].copy_from_slice(&total.to_be_bytes());
}

/// An IKEv1 answer: an ISAKMP header of version 1 with a responder cookie
/// (Main Mode reply) or an Informational exchange (a notification); echo:
/// the initiator cookie.
fn ike_v1_check(reply: &[u8], cookie: u32) -> Verdict {
    if reply.len() < 28 {
        return Verdict::Invalid;
    }
    let len = be32(reply, 24).unwrap_or(0) as usize;
    let answered = reply[8..16] != [0; 8] || reply[18] == 5;
    if reply[17] >> 4 != 1 || !answered || len < 28 || len > reply.len() {
        return Verdict::Invalid;
    }
    echo(reply[..8] == ike_spi(cookie))
}

/// IKE_SA_INIT on the NAT-T port 4500: the same message after the 4-byte
/// non-ESP marker (RFC 3948 2.2).
fn ike_sa_init_natt(cookie: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&[0; 4]);
    ike_sa_init(cookie, out);
}

/// An IKE response: an IKEv2 header flagged response (or an IKEv1 header,
/// whose major version 1 a v1-only responder uses to answer); echo: the
/// initiator SPI.
fn ike_check(reply: &[u8], cookie: u32) -> Verdict {
    if reply.len() < 28 {
        return Verdict::Invalid;
    }
    let len = be32(reply, 24).unwrap_or(0) as usize;
    let major = reply[17] >> 4;
    if major == 1 {
        return ike_v1_check(reply, cookie);
    }
    let v2_response = major == 2 && reply[19] & 0x20 != 0 && reply[19] & 0x08 == 0;
    if !v2_response || len < 28 || len > reply.len() || reply[16] == 0 && len > 28 {
        return Verdict::Invalid;
    }
    echo(reply[..8] == ike_spi(cookie))
}

fn ike_natt_check(reply: &[u8], cookie: u32) -> Verdict {
    match reply.strip_prefix(&[0u8; 4]) {
        Some(r) => ike_check(r, cookie),
        None => Verdict::Invalid,
    }
}

// ------------------------------------------------------------------ chargen, QOTD

/// One byte: chargen (RFC 864) and QOTD (RFC 865) answer any datagram.
fn one_byte(_cookie: u32, out: &mut Vec<u8>) {
    out.push(b'\n');
}

/// Chargen (RFC 864): lines of consecutive printable ASCII characters (each
/// the one after its predecessor, `~` wrapping to space), the first at least
/// 8 long. RFC 864 says 0 to 512 bytes; xinetd sends 1024; an empty reply is
/// not counted, as it says nothing.
fn chargen_check(reply: &[u8], _cookie: u32) -> Verdict {
    let next = |c: u8| if c == 0x7e { 0x20 } else { c + 1 };
    let line_ok = |l: &[u8]| {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        l.iter().all(|&c| (0x20..0x7f).contains(&c)) && l.windows(2).all(|w| w[1] == next(w[0]))
    };
    let first = reply.split(|&c| c == b'\n').next().unwrap_or(&[]);
    if reply.len() <= 8192 && first.len() >= 8 && reply.split(|&c| c == b'\n').all(line_ok) {
        Verdict::Valid(Echo::NotApplicable)
    } else {
        Verdict::Invalid
    }
}

/// QOTD: a short text message (RFC 865 asks for under 512 characters) with
/// at least one word in it, so our own one-byte probe reflected by an echo
/// service is not taken for a quote. Any short text passes: only the port
/// tells QOTD from another text protocol.
fn qotd_check(reply: &[u8], _cookie: u32) -> Verdict {
    let text = std::str::from_utf8(reply).is_ok_and(|s| {
        s.chars()
            .all(|c| !c.is_control() || matches!(c, '\r' | '\n' | '\t'))
            && s.chars().any(char::is_alphanumeric)
    });
    if reply.len() <= 1024 && text {
        Verdict::Valid(Echo::NotApplicable)
    } else {
        Verdict::Invalid
    }
}

// ------------------------------------------------------------------ generic

fn empty(_cookie: u32, _out: &mut Vec<u8>) {}

fn any_reply(_reply: &[u8], _cookie: u32) -> Verdict {
    Verdict::Valid(Echo::NotApplicable)
}

// ------------------------------------------------------------------ table

macro_rules! service {
    ($id:ident, $proto:expr, $name:expr, [$($port:expr),+], $build:ident, $check:ident) => {
        pub const $id: UdpService = UdpService {
            protocol: $proto,
            name: $name,
            ports: &[$($port),+],
            build: $build,
            check: $check,
        };
    };
}

service!(
    DNS_VERSION_BIND,
    "dns",
    "dns-version-bind",
    [53],
    dns_version_bind,
    dns_version_bind_check
);
service!(
    DNS_RECURSIVE,
    "dns",
    "dns-recursive",
    [53],
    dns_recursive,
    dns_recursive_check
);
service!(
    MDNS,
    "mdns",
    "mdns-services",
    [5353],
    mdns_services,
    mdns_check
);
service!(NTP, "ntp", "ntp-client", [123], ntp_client, ntp_check);
service!(
    SNMP_V2C,
    "snmp",
    "snmp-v2c-public",
    [161],
    snmp_v2c_public,
    snmp_check
);
service!(
    SNMP_V1,
    "snmp",
    "snmp-v1-public",
    [161],
    snmp_v1_public,
    snmp_check
);
service!(
    MEMCACHED,
    "memcached",
    "memcached-stats",
    [11211],
    memcached_stats,
    memcached_check
);
service!(
    SSDP,
    "ssdp",
    "ssdp-msearch",
    [1900],
    ssdp_msearch,
    ssdp_check
);
service!(
    NETBIOS,
    "netbios-ns",
    "netbios-nbstat",
    [137],
    netbios_nbstat,
    netbios_check
);
service!(
    CLDAP,
    "cldap",
    "cldap-rootdse",
    [389],
    cldap_rootdse,
    cldap_check
);
service!(
    PORTMAP,
    "portmap",
    "portmap-dump",
    [111],
    portmap_dump,
    portmap_check
);
service!(TFTP, "tftp", "tftp-rrq", [69], tftp_rrq, tftp_check);
service!(
    IPMI,
    "ipmi",
    "ipmi-presence-ping",
    [623],
    ipmi_presence_ping,
    ipmi_check
);
service!(
    WSD_DEVICE,
    "ws-discovery",
    "wsd-probe-device",
    [3702],
    wsd_probe_device,
    wsd_check
);
service!(
    WSD_ANY,
    "ws-discovery",
    "wsd-probe-any",
    [3702],
    wsd_probe_any,
    wsd_check
);
service!(
    COAP,
    "coap",
    "coap-well-known-core",
    [5683],
    coap_well_known_core,
    coap_check
);
service!(
    OPENVPN,
    "openvpn",
    "openvpn-hard-reset",
    [1194],
    openvpn_reset,
    openvpn_check
);
service!(IKE, "ike", "ike-sa-init", [500], ike_sa_init, ike_check);
service!(
    IKE_V1,
    "ike",
    "ike-v1-main-mode",
    [500],
    ike_v1_main_mode,
    ike_v1_check
);
service!(
    IKE_NATT,
    "ike",
    "ike-sa-init-natt",
    [4500],
    ike_sa_init_natt,
    ike_natt_check
);
service!(CHARGEN, "chargen", "chargen", [19], one_byte, chargen_check);
service!(QOTD, "qotd", "qotd", [17], one_byte, qotd_check);

/// The fallback for ports not in the table: an empty datagram, as nmap sends
/// to ports it has no payload for. Services that answer anything (echo,
/// daytime, chargen on odd ports) reply; a closed port answers ICMP port
/// unreachable either way, which is what most unknown ports tell us. Any
/// reply counts and identifies no protocol (`protocol` is empty).
pub const GENERIC: UdpService = UdpService {
    protocol: "",
    name: "generic-empty",
    ports: &[],
    build: empty,
    check: any_reply,
};

/// Every payload of the table (not [`GENERIC`]).
pub static ALL: &[&UdpService] = &[
    &DNS_VERSION_BIND,
    &DNS_RECURSIVE,
    &MDNS,
    &NTP,
    &SNMP_V2C,
    &SNMP_V1,
    &MEMCACHED,
    &SSDP,
    &NETBIOS,
    &CLDAP,
    &PORTMAP,
    &TFTP,
    &IPMI,
    &WSD_DEVICE,
    &WSD_ANY,
    &COAP,
    &OPENVPN,
    &IKE,
    &IKE_V1,
    &IKE_NATT,
    &CHARGEN,
    &QOTD,
];

/// The payloads to send to `port`, most telling first; [`GENERIC`] alone
/// for ports the table does not know.
pub fn services_for_port(port: u16) -> &'static [&'static UdpService] {
    match port {
        17 => &[&QOTD],
        19 => &[&CHARGEN],
        53 => &[&DNS_VERSION_BIND, &DNS_RECURSIVE],
        69 => &[&TFTP],
        111 => &[&PORTMAP],
        123 => &[&NTP],
        137 => &[&NETBIOS],
        161 => &[&SNMP_V2C, &SNMP_V1],
        389 => &[&CLDAP],
        500 => &[&IKE, &IKE_V1],
        623 => &[&IPMI],
        1194 => &[&OPENVPN],
        1900 => &[&SSDP],
        3702 => &[&WSD_DEVICE, &WSD_ANY],
        4500 => &[&IKE_NATT],
        5353 => &[&MDNS],
        5683 => &[&COAP],
        11211 => &[&MEMCACHED],
        _ => &[&GENERIC],
    }
}

/// The payload of `port`'s list that `reply` answers with our cookie, and
/// the echo: the first accepted verdict, else `None` (invalid everywhere or
/// echoing someone else's cookie).
pub fn classify(port: u16, reply: &[u8], cookie: u32) -> Option<(&'static UdpService, Echo)> {
    services_for_port(port)
        .iter()
        .find_map(|s| match (s.check)(reply, cookie) {
            Verdict::Valid(e @ (Echo::Match | Echo::NotApplicable)) => Some((*s, e)),
            _ => None,
        })
}

// ------------------------------------------------------------------ amplification

/// Bandwidth amplification factor (Rossow, "Amplification Hell", NDSS 2014):
/// UDP payload bytes the service sent back (all datagrams of the reply)
/// over UDP payload bytes of our probe. A zero-byte probe (the generic
/// fallback) counts as one byte, so the factor stays finite.
pub fn amplification(reply_bytes: usize, probe_bytes: usize) -> f64 {
    reply_bytes as f64 / probe_bytes.max(1) as f64
}

/// The factor from which a service is an amplifier. Why 2: at 2 an attacker
/// with spoofed sources already doubles the bandwidth it sends; the smallest
/// factor in US-CERT TA14-017A's table is 3.8 (NetBIOS), and our benign
/// probes understate what an attacker's chosen request gets (ANY, monlist,
/// GetBulk), so a bar at the table's minimum would miss real amplifiers.
/// Below 2 are replies of about the request's size (a DNS REFUSED, a TFTP
/// error), which reflect but do not amplify.
pub const AMPLIFIER_FACTOR: f64 = 2.0;

/// Whether a measured factor makes the service an amplifier.
pub fn is_amplifier(factor: f64) -> bool {
    factor >= AMPLIFIER_FACTOR
}

/// The risk rule: an amplifier is at least high severity. Returns the
/// severity to report given the catalog's (or policy's) `severity` and the
/// measured factor; never lowers a severity.
pub fn amplifier_severity(
    severity: crate::finding::Severity,
    factor: f64,
) -> crate::finding::Severity {
    use crate::finding::Severity::*;
    match severity {
        Medium | Low | Info if is_amplifier(factor) => High,
        s => s,
    }
}

#[cfg(test)]
mod tests;
