//! The hellos: the one payload synsweep sends after completing a handshake to
//! a service that waits for the client to speak first (HTTP, TLS, redis, ...).
//!
//! Every payload is written here from the protocol's specification, byte by
//! byte, and is the smallest request that makes a server of that protocol
//! answer with something [`super::identify`] can name. None asks for more
//! than a greeting: no credentials, no state changes on the server.

use std::net::IpAddr;

/// Which hello was sent on a connection (also a hint for the parsers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hello {
    /// `GET / HTTP/1.1` with a `Host` header naming the target address.
    Http,
    /// A TLS ClientHello offering TLS 1.0 to 1.3 (see [`client_hello`]).
    Tls,
    /// Redis inline commands `PING` then `INFO server`.
    Redis,
    /// memcached text protocol `version`.
    Memcached,
    /// MQTT 3.1.1 CONNECT with a clean session and no credentials.
    Mqtt,
    /// RDP: an X.224 Connection Request carrying an RDP Negotiation Request.
    Rdp,
    /// SMB: an SMB1 NEGOTIATE offering NT LM 0.12 and the SMB 2 dialects.
    Smb,
    /// PostgreSQL: a protocol 3.0 StartupMessage (user `synsweep`).
    Postgres,
    /// MongoDB: an OP_QUERY `isMaster` on `admin.$cmd` (every server version
    /// accepts it as the connection handshake).
    Mongo,
    /// LDAP: an anonymous simple BindRequest, LDAPv3.
    Ldap,
    /// RTSP: `OPTIONS * RTSP/1.0`.
    Rtsp,
    /// AMQP 0-9-1 protocol header.
    Amqp,
    /// IRC client registration (`NICK` and `USER`).
    Irc,
}

/// Every hello, for tests and tables.
pub const ALL: [Hello; 13] = [
    Hello::Http,
    Hello::Tls,
    Hello::Redis,
    Hello::Memcached,
    Hello::Mqtt,
    Hello::Rdp,
    Hello::Smb,
    Hello::Postgres,
    Hello::Mongo,
    Hello::Ldap,
    Hello::Rtsp,
    Hello::Amqp,
    Hello::Irc,
];

/// The MongoDB requestID of our isMaster query; replies carry it back in
/// `responseTo`.
pub const MONGO_REQUEST_ID: u32 = 0x5357_0001;
/// The LDAP messageID of our BindRequest.
pub const LDAP_MESSAGE_ID: u8 = 1;

impl Hello {
    /// The protocol this hello is meant for (a name of the vocabulary).
    pub fn protocol(self) -> &'static str {
        match self {
            Hello::Http => "http",
            Hello::Tls => "tls",
            Hello::Redis => "redis",
            Hello::Memcached => "memcached",
            Hello::Mqtt => "mqtt",
            Hello::Rdp => "rdp",
            Hello::Smb => "smb",
            Hello::Postgres => "postgresql",
            Hello::Mongo => "mongodb",
            Hello::Ldap => "ldap",
            Hello::Rtsp => "rtsp",
            Hello::Amqp => "amqp",
            Hello::Irc => "irc",
        }
    }

    /// The bytes to send to `target`. For TLS, `random` is the X25519
    /// secret of the ClientHello's key share (the client random and session
    /// id are hashed from it): pass [`super::tls::client_secret`] of the
    /// connection, so that its TLS 1.3 flight can be decrypted later
    /// without storing anything, or anything for tests.
    pub fn payload(self, target: IpAddr, random: [u8; 32]) -> Vec<u8> {
        match self {
            Hello::Http => http_get(target),
            Hello::Tls => client_hello(random),
            // Inline commands (no RESP framing needed); INFO carries the version.
            Hello::Redis => b"PING\r\nINFO server\r\n".to_vec(),
            Hello::Memcached => b"version\r\n".to_vec(),
            Hello::Mqtt => MQTT_CONNECT.to_vec(),
            Hello::Rdp => RDP_X224_CR.to_vec(),
            Hello::Smb => smb_negotiate(),
            Hello::Postgres => pg_startup(),
            Hello::Mongo => mongo_is_master(),
            Hello::Ldap => LDAP_ANON_BIND.to_vec(),
            Hello::Rtsp => {
                b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: synsweep\r\n\r\n".to_vec()
            }
            Hello::Amqp => b"AMQP\x00\x00\x09\x01".to_vec(),
            Hello::Irc => b"NICK synsweep\r\nUSER synsweep 0 * :synsweep\r\n".to_vec(),
        }
    }
}

/// `GET / HTTP/1.1` for `target` (IPv6 in brackets, RFC 7230 section 5.4).
pub fn http_get(target: IpAddr) -> Vec<u8> {
    let host = match target {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: synsweep/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// MQTT 3.1.1 CONNECT (OASIS MQTT 3.1.1, 3.1): protocol name "MQTT", level
/// 4, flags 0x02 (clean session), keep-alive 60 s, client id "synsweep".
const MQTT_CONNECT: [u8; 22] = [
    0x10, 20, // CONNECT, remaining length
    0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
    0x04, // level 4 = 3.1.1
    0x02, // clean session
    0x00, 0x3c, // keep alive
    0x00, 0x08, b's', b'y', b'n', b's', b'w', b'e', b'e', b'p', // client id
];

/// RDP (MS-RDPBCGR 2.2.1.1): TPKT (RFC 1006) + X.224 Connection Request
/// (ISO 8073) + RDP_NEG_REQ asking for TLS | CredSSP | RDSTLS... we offer
/// PROTOCOL_SSL | PROTOCOL_HYBRID (0x3), which every RDP server since
/// Windows Vista answers with an RDP_NEG_RSP or RDP_NEG_FAILURE.
const RDP_X224_CR: [u8; 19] = [
    0x03, 0x00, 0x00, 0x13, // TPKT v3, length 19
    0x0e, // X.224 length indicator (14 bytes follow)
    0xe0, // CR TPDU
    0x00, 0x00, // DST-REF
    0x00, 0x00, // SRC-REF
    0x00, // class 0
    0x01, 0x00, 0x08, 0x00, // RDP_NEG_REQ: type 1, flags 0, length 8
    0x03, 0x00, 0x00, 0x00, // requestedProtocols = SSL | HYBRID
];

/// LDAPv3 BindRequest, anonymous simple bind (RFC 4511 4.2), messageID 1:
/// `SEQUENCE { INTEGER 1, [APPLICATION 0] { INTEGER 3, OCTET STRING "", [0] "" } }`.
const LDAP_ANON_BIND: [u8; 14] = [
    0x30,
    0x0c, // LDAPMessage
    0x02,
    0x01,
    LDAP_MESSAGE_ID, // messageID
    0x60,
    0x07, // BindRequest
    0x02,
    0x01,
    0x03, // version 3
    0x04,
    0x00, // name ""
    0x80,
    0x00, // simple ""
];

/// SMB1 NEGOTIATE (MS-CIFS 2.2.4.52) over NetBIOS session service framing
/// (RFC 1002), offering "NT LM 0.12", "SMB 2.002" and "SMB 2.???". A server
/// that speaks SMB 2 answers with an SMB2 NEGOTIATE response (MS-SMB2
/// 3.3.5.3.1), one that only speaks SMB1 with an SMB1 one.
fn smb_negotiate() -> Vec<u8> {
    let mut dialects = Vec::new();
    for d in ["NT LM 0.12", "SMB 2.002", "SMB 2.???"] {
        dialects.push(0x02); // buffer format: dialect
        dialects.extend_from_slice(d.as_bytes());
        dialects.push(0);
    }
    let mut smb = Vec::with_capacity(35 + dialects.len());
    smb.extend_from_slice(b"\xffSMB"); // protocol
    smb.push(0x72); // SMB_COM_NEGOTIATE
    smb.extend_from_slice(&[0; 4]); // status
    smb.push(0x18); // flags: case-insensitive, canonicalized paths
    smb.extend_from_slice(&0xc853u16.to_le_bytes()); // flags2: unicode, NT status, ext sec, long names
    smb.extend_from_slice(&[0; 12]); // PIDHigh, security features, reserved
    smb.extend_from_slice(&[0, 0]); // TID
    smb.extend_from_slice(&0xfeffu16.to_le_bytes()); // PIDLow
    smb.extend_from_slice(&[0, 0]); // UID
    smb.extend_from_slice(&[0, 0]); // MID
    smb.push(0); // word count
    smb.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
    smb.extend_from_slice(&dialects);
    let mut out = vec![0x00]; // NetBIOS session message
    out.extend_from_slice(&(smb.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&smb);
    out
}

/// PostgreSQL StartupMessage, protocol 3.0 (PostgreSQL docs, "Message
/// Formats"): `user=synsweep database=synsweep`. Servers answer with an
/// AuthenticationRequest ('R') or an ErrorResponse ('E').
fn pg_startup() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes()); // 3.0
    for kv in ["user", "synsweep", "database", "synsweep"] {
        body.extend_from_slice(kv.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// MongoDB OP_QUERY (opCode 2004) `{isMaster: 1}` on `admin.$cmd`, limit -1
/// (MongoDB wire protocol, "Legacy opcodes"; still accepted for the
/// connection handshake by current servers).
fn mongo_is_master() -> Vec<u8> {
    // BSON document {isMaster: int32 1}
    let mut doc = Vec::new();
    doc.push(0x10); // int32
    doc.extend_from_slice(b"isMaster\0");
    doc.extend_from_slice(&1i32.to_le_bytes());
    doc.push(0); // end of document
    let mut bson = ((doc.len() + 4) as i32).to_le_bytes().to_vec();
    bson.extend_from_slice(&doc);

    let mut body = Vec::new();
    body.extend_from_slice(&0i32.to_le_bytes()); // flags
    body.extend_from_slice(b"admin.$cmd\0");
    body.extend_from_slice(&0i32.to_le_bytes()); // numberToSkip
    body.extend_from_slice(&(-1i32).to_le_bytes()); // numberToReturn
    body.extend_from_slice(&bson);

    let mut out = Vec::new();
    out.extend_from_slice(&((16 + body.len()) as i32).to_le_bytes());
    out.extend_from_slice(&MONGO_REQUEST_ID.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // responseTo
    out.extend_from_slice(&2004i32.to_le_bytes()); // OP_QUERY
    out.extend_from_slice(&body);
    out
}

/// TLS cipher suites offered: the three TLS 1.3 suites, then ECDHE AEAD and
/// CBC suites, then plain RSA ones, so that TLS 1.0-era servers find one
/// they accept (IANA TLS Cipher Suites registry).
const CIPHER_SUITES: [u16; 18] = [
    0x1301, 0x1302, 0x1303, // TLS_AES_128_GCM_SHA256, AES_256_GCM_SHA384, CHACHA20_POLY1305
    0xc02b, 0xc02f, 0xc02c, 0xc030, // ECDHE-{ECDSA,RSA}-AES{128,256}-GCM
    0xcca9, 0xcca8, // ECDHE-{ECDSA,RSA}-CHACHA20-POLY1305
    0xc009, 0xc013, 0xc00a, 0xc014, // ECDHE-{ECDSA,RSA}-AES{128,256}-CBC-SHA
    0x009c, 0x009d, // RSA-AES{128,256}-GCM
    0x002f, 0x0035, // RSA-AES{128,256}-CBC-SHA
    0x000a, // RSA-3DES-EDE-CBC-SHA
];

fn ext(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

/// A TLS ClientHello record (RFC 8446 4.1.2, RFC 5246 7.4.1.2) offering
/// TLS 1.0 to 1.3: legacy version 1.2 in the hello, 1.0 in the record
/// header (for old servers), `supported_versions` 1.3/1.2/1.1/1.0, groups
/// x25519/P-256/P-384 with an x25519 key share (so a 1.3 server answers with
/// a ServerHello rather than a HelloRetryRequest), and no SNI (we only have
/// an address). `secret` is the X25519 secret whose public key is the key
/// share; the client random and the session id are hashes of it (which
/// tell nothing of it).
pub fn client_hello(secret: [u8; 32]) -> Vec<u8> {
    use sha2::Digest;
    let random: [u8; 32] = sha2::Sha256::new()
        .chain_update(b"synsweep client random")
        .chain_update(secret)
        .finalize()
        .into();
    let session_id: [u8; 32] = sha2::Sha256::digest(random).into();
    let mut exts = Vec::new();
    // supported_groups: x25519, secp256r1, secp384r1
    ext(
        &mut exts,
        0x000a,
        &[0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18],
    );
    // ec_point_formats: uncompressed
    ext(&mut exts, 0x000b, &[0x01, 0x00]);
    // signature_algorithms
    let sigs: [u16; 9] = [
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0201,
    ];
    let mut s = ((sigs.len() * 2) as u16).to_be_bytes().to_vec();
    sigs.iter()
        .for_each(|x| s.extend_from_slice(&x.to_be_bytes()));
    ext(&mut exts, 0x000d, &s);
    // extended_master_secret, renegotiation_info (empty)
    ext(&mut exts, 0x0017, &[]);
    ext(&mut exts, 0xff01, &[0x00]);
    // supported_versions: 1.3, 1.2, 1.1, 1.0
    ext(
        &mut exts,
        0x002b,
        &[0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01],
    );
    // psk_key_exchange_modes: psk_dhe_ke (required alongside key_share by some stacks)
    ext(&mut exts, 0x002d, &[0x01, 0x01]);
    // key_share: x25519, the public key of `secret`
    let mut ks = vec![0x00, 0x24, 0x00, 0x1d, 0x00, 0x20];
    ks.extend_from_slice(&super::tls::public_key(secret));
    ext(&mut exts, 0x0033, &ks);

    let mut hello = Vec::new();
    hello.extend_from_slice(&[0x03, 0x03]); // legacy_version TLS 1.2
    hello.extend_from_slice(&random);
    hello.push(32); // legacy_session_id (middlebox compatibility, RFC 8446 D.4)
    hello.extend_from_slice(&session_id);
    hello.extend_from_slice(&((CIPHER_SUITES.len() * 2) as u16).to_be_bytes());
    CIPHER_SUITES
        .iter()
        .for_each(|c| hello.extend_from_slice(&c.to_be_bytes()));
    hello.extend_from_slice(&[0x01, 0x00]); // compression: null
    hello.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    hello.extend_from_slice(&exts);

    let mut hs = vec![0x01]; // client_hello
    hs.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&hello);

    let mut rec = vec![0x16, 0x03, 0x01]; // handshake, record version TLS 1.0
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// A TLS ClientHello offering TLS 1.0 and 1.1 only (legacy version 1.1,
/// no `supported_versions`, CBC suites): whether a server that prefers
/// TLS 1.2 or 1.3 still accepts a deprecated version (RFC 8996).
pub fn client_hello_legacy(random: [u8; 32]) -> Vec<u8> {
    const SUITES: [u16; 7] = [0xc013, 0xc014, 0xc009, 0xc00a, 0x002f, 0x0035, 0x000a];
    let mut exts = Vec::new();
    ext(&mut exts, 0x000a, &[0x00, 0x04, 0x00, 0x17, 0x00, 0x18]);
    ext(&mut exts, 0x000b, &[0x01, 0x00]);
    ext(&mut exts, 0xff01, &[0x00]);
    let mut hello = vec![0x03, 0x02]; // TLS 1.1 at most
    hello.extend_from_slice(&random);
    hello.push(0); // no session id
    hello.extend_from_slice(&((SUITES.len() * 2) as u16).to_be_bytes());
    SUITES
        .iter()
        .for_each(|c| hello.extend_from_slice(&c.to_be_bytes()));
    hello.extend_from_slice(&[0x01, 0x00]);
    hello.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    hello.extend_from_slice(&exts);
    let mut hs = vec![0x01];
    hs.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&hello);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const T: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 19, 0, 4));

    #[test]
    fn http_request_names_the_host() {
        let p = Hello::Http.payload(T, [0; 32]);
        let s = std::str::from_utf8(&p).unwrap();
        assert!(
            s.starts_with("GET / HTTP/1.1\r\nHost: 198.19.0.4\r\n"),
            "{s}"
        );
        assert!(s.ends_with("\r\n\r\n"));
        let v6 = http_get(IpAddr::V6("2001:2::4".parse::<Ipv6Addr>().unwrap()));
        assert!(v6.starts_with(b"GET / HTTP/1.1\r\nHost: [2001:2::4]\r\n"));
    }

    /// Walk the ClientHello by its length fields: every length is consistent,
    /// the offered versions and suites are there, and there is no SNI.
    #[test]
    fn client_hello_is_well_formed() {
        let r = [7u8; 32];
        let c = client_hello(r);
        assert_eq!(&c[..3], &[0x16, 0x03, 0x01]);
        let rec_len = u16::from_be_bytes([c[3], c[4]]) as usize;
        assert_eq!(rec_len, c.len() - 5);
        assert_eq!(c[5], 0x01);
        let hs_len = u32::from_be_bytes([0, c[6], c[7], c[8]]) as usize;
        assert_eq!(hs_len, c.len() - 9);
        let h = &c[9..];
        assert_eq!(&h[..2], &[3, 3]);
        assert_ne!(
            &h[2..34],
            &r,
            "the client random tells nothing of the secret"
        );
        assert_eq!(h[34], 32);
        let mut i = 35 + 32;
        let cs_len = u16::from_be_bytes([h[i], h[i + 1]]) as usize;
        let suites: Vec<u16> = h[i + 2..i + 2 + cs_len]
            .chunks(2)
            .map(|x| u16::from_be_bytes([x[0], x[1]]))
            .collect();
        assert!(suites.contains(&0x1301) && suites.contains(&0x002f));
        i += 2 + cs_len;
        assert_eq!(&h[i..i + 2], &[1, 0]);
        i += 2;
        let ext_len = u16::from_be_bytes([h[i], h[i + 1]]) as usize;
        i += 2;
        assert_eq!(i + ext_len, h.len());
        let mut kinds = Vec::new();
        while i < h.len() {
            let k = u16::from_be_bytes([h[i], h[i + 1]]);
            let l = u16::from_be_bytes([h[i + 2], h[i + 3]]) as usize;
            if k == 0x002b {
                assert_eq!(&h[i + 4..i + 4 + l], &[8, 3, 4, 3, 3, 3, 2, 3, 1]);
            }
            if k == 0x0033 {
                assert_eq!(&h[i + 4..i + 10], &[0, 0x24, 0, 0x1d, 0, 0x20]);
                assert_eq!(&h[i + 10..i + 42], &crate::identify::tls::public_key(r));
            }
            kinds.push(k);
            i += 4 + l;
        }
        assert_eq!(i, h.len());
        assert!(kinds.contains(&0x002b) && kinds.contains(&0x0033));
        assert!(!kinds.contains(&0x0000), "no SNI");
    }

    #[test]
    fn the_legacy_hello_offers_tls_1_1_at_most() {
        let c = client_hello_legacy([3; 32]);
        assert_eq!(u16::from_be_bytes([c[3], c[4]]) as usize, c.len() - 5);
        assert_eq!(
            u32::from_be_bytes([0, c[6], c[7], c[8]]) as usize,
            c.len() - 9
        );
        assert_eq!(&c[9..11], &[3, 2]);
        // No supported_versions extension (0x002b) anywhere in it.
        assert!(!c.windows(2).any(|w| w == [0x00, 0x2b]));
    }

    #[test]
    fn binary_hellos_have_consistent_lengths() {
        let smb = Hello::Smb.payload(T, [0; 32]);
        assert_eq!(
            u32::from_be_bytes([0, smb[1], smb[2], smb[3]]) as usize,
            smb.len() - 4
        );
        assert_eq!(&smb[4..8], b"\xffSMB");
        let pg = Hello::Postgres.payload(T, [0; 32]);
        assert_eq!(
            u32::from_be_bytes([pg[0], pg[1], pg[2], pg[3]]) as usize,
            pg.len()
        );
        let m = Hello::Mongo.payload(T, [0; 32]);
        assert_eq!(
            i32::from_le_bytes([m[0], m[1], m[2], m[3]]) as usize,
            m.len()
        );
        let mq = Hello::Mqtt.payload(T, [0; 32]);
        assert_eq!(mq[1] as usize, mq.len() - 2);
        let rdp = Hello::Rdp.payload(T, [0; 32]);
        assert_eq!(u16::from_be_bytes([rdp[2], rdp[3]]) as usize, rdp.len());
        assert_eq!(rdp[4] as usize, rdp.len() - 5);
        let l = Hello::Ldap.payload(T, [0; 32]);
        assert_eq!(l[1] as usize, l.len() - 2);
        assert_eq!(l[6] as usize, l.len() - 7);
    }

    #[test]
    fn every_hello_names_a_protocol_and_is_not_empty() {
        for h in ALL {
            assert!(!h.payload(T, [1; 32]).is_empty());
            assert!(super::super::PROTOCOLS.contains(&h.protocol()));
        }
    }
}
