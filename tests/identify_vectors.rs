//! Service identification on literal bytes from real servers.
//!
//! Every `tests/identify_vectors/*.bin` was captured by
//! `scripts/identify_vectors.sh` from a Debian daemon running in a network
//! namespace of its own: the first bytes (at most 1024) the daemon sent after
//! our hello (or unprompted, for servers that speak first). RTSP and MongoDB
//! have no daemon in Debian; their vectors below are built from the
//! specifications and say so. Vectors named `*-<hello>-hello` are a
//! server's answer to another protocol's hello (what a scan sees when it
//! guessed the port's protocol wrong): often an error in the server's own
//! protocol, and still named.
//!
//! Besides naming each vector right, no vector may ever be named as another
//! protocol: not with any other hello as the hint, not on any port, and not
//! when cut short at any length. Hostile and ambiguous bytes name nothing.

use synsweep::identify::hello::{ALL, MONGO_REQUEST_ID};
use synsweep::identify::{Hello, identify};

struct Vector {
    file: &'static str,
    /// What was sent before the bytes came (None: the server spoke first).
    sent: Option<Hello>,
    protocol: &'static str,
    detail: Option<&'static str>,
}

const fn v(
    file: &'static str,
    sent: Option<Hello>,
    protocol: &'static str,
    detail: Option<&'static str>,
) -> Vector {
    Vector {
        file,
        sent,
        protocol,
        detail,
    }
}

use Hello::*;

/// Captured from Debian 12 packages (versions as the details say).
const CAPTURED: &[Vector] = &[
    v(
        "ssh-openssh",
        None,
        "ssh",
        Some("OpenSSH_9.2p1 Debian-2+deb12u10"),
    ),
    v("http-nginx", Some(Http), "http", Some("nginx/1.22.1")),
    // nginx's TLS port answering a plain HTTP request speaks HTTP (400).
    v(
        "http-nginx-https-port-http-hello",
        Some(Http),
        "http",
        Some("nginx/1.22.1"),
    ),
    // An HTTP server sent our redis hello still answers in HTTP.
    v(
        "http-nginx-redis-hello",
        Some(Redis),
        "http",
        Some("nginx/1.22.1"),
    ),
    v("tls13-nginx", Some(Tls), "tls", Some("TLSv1.3")),
    v("tls12-nginx", Some(Tls), "tls", Some("TLSv1.2")),
    v("tls11-nginx", Some(Tls), "tls", Some("TLSv1.1")),
    v("tls10-nginx", Some(Tls), "tls", Some("TLSv1.0")),
    v("redis", Some(Redis), "redis", Some("7.0.15")),
    v("redis-noauth", Some(Redis), "redis", None),
    v("ftp-vsftpd", None, "ftp", Some("(vsFTPd 3.0.3)")),
    v("memcached", Some(Memcached), "memcached", Some("1.6.18")),
    v("mqtt-mosquitto", Some(Mqtt), "mqtt", None),
    v(
        "mqtt-mosquitto-refused",
        Some(Mqtt),
        "mqtt",
        Some("connection refused: not authorized"),
    ),
    v("smtp-opensmtpd", None, "smtp", Some("vm ESMTP OpenSMTPD")),
    v(
        "pop3-dovecot",
        None,
        "pop3",
        Some("Dovecot (Debian) ready."),
    ),
    v("imap-dovecot", None, "imap", None),
    v("telnet-inetutils", None, "telnet", None),
    v("rsync", None, "rsync", Some("32.0")),
    v("ldap-slapd", Some(Ldap), "ldap", Some("resultCode 0")),
    v("irc-ngircd", Some(Irc), "irc", Some("irc.lab.test")),
    v(
        "mysql-mariadb",
        None,
        "mysql",
        Some("5.5.5-10.11.19-MariaDB-0+deb12u1"),
    ),
    v(
        "postgresql-scram",
        Some(Postgres),
        "postgresql",
        Some("SASL authentication"),
    ),
    v("postgresql-error", Some(Postgres), "postgresql", None),
    v("vnc-tigervnc", None, "vnc", Some("RFB 003.008")),
    v("rdp-xrdp", Some(Rdp), "rdp", Some("TLS")),
    // xrdp answering our HTTP hello (RDP on an unexpected port).
    v("rdp-xrdp-http-hello", Some(Http), "rdp", None),
    v("smb-samba", Some(Smb), "smb", Some("SMB 2.x")),
    v("amqp-rabbitmq", Some(Amqp), "amqp", Some("RabbitMQ 3.10.8")),
    // RabbitMQ answering our HTTP hello with the protocol header it speaks.
    v(
        "amqp-rabbitmq-http-hello",
        Some(Http),
        "amqp",
        Some("AMQP 0-9-1"),
    ),
    // Answers to another protocol's hello: the greeting, then the server's
    // own error (`Invalid SSH identification string.`, `530 Please login
    // with USER and PASS.`, `-ERR Unknown command.`, `GET BAD Error in IMAP
    // command`), or the error alone.
    v(
        "ssh-openssh-http-hello",
        Some(Http),
        "ssh",
        Some("OpenSSH_9.2p1 Debian-2+deb12u10"),
    ),
    v(
        "ftp-vsftpd-http-hello",
        Some(Http),
        "ftp",
        Some("(vsFTPd 3.0.3)"),
    ),
    v(
        "ftp-vsftpd-redis-hello",
        Some(Redis),
        "ftp",
        Some("(vsFTPd 3.0.3)"),
    ),
    // vsftpd with `ftpd_banner=Welcome`: the greeting names nothing, the
    // answers to the HTTP request do.
    v(
        "ftp-vsftpd-plain-banner-http-hello",
        Some(Http),
        "ftp",
        Some("Welcome"),
    ),
    v(
        "pop3-dovecot-http-hello",
        Some(Http),
        "pop3",
        Some("Dovecot (Debian) ready."),
    ),
    v("imap-dovecot-http-hello", Some(Http), "imap", None),
    v("telnet-inetutils-http-hello", Some(Http), "telnet", None),
    // `-ERR unknown command 'version', with args beginning with: `
    v("redis-memcached-hello", Some(Memcached), "redis", None),
    v("redis-irc-hello", Some(Irc), "redis", None),
    // `ERROR` once per line of the request.
    v("memcached-redis-hello", Some(Redis), "memcached", None),
    // `ERROR :"Oops, HTTP request received? This is IRC!"`
    v("irc-ngircd-http-hello", Some(Http), "irc", None),
];

fn load(file: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/identify_vectors/{file}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// RTSP (no server in Debian): the reply to OPTIONS of RFC 2326 10.1's
/// example, with a Server header as live555 sends one.
fn rtsp_spec() -> Vec<u8> {
    b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: LIVE555 Streaming Media v2023.01.19\r\nPublic: OPTIONS, DESCRIBE, SETUP, TEARDOWN, PLAY, PAUSE\r\n\r\n".to_vec()
}

/// MongoDB (no server in Debian): an OP_REPLY to our isMaster, built from
/// the wire protocol reference: header (responseTo = our requestID, opCode
/// 1), responseFlags 8, cursorID 0, startingFrom 0, numberReturned 1, then
/// the BSON document `{ismaster: true, maxWireVersion: 17, ok: 1.0}`.
fn mongo_spec() -> Vec<u8> {
    let mut doc = Vec::new();
    doc.push(0x08);
    doc.extend_from_slice(b"ismaster\0");
    doc.push(1);
    doc.push(0x10);
    doc.extend_from_slice(b"maxWireVersion\0");
    doc.extend_from_slice(&17i32.to_le_bytes());
    doc.push(0x01);
    doc.extend_from_slice(b"ok\0");
    doc.extend_from_slice(&1.0f64.to_le_bytes());
    doc.push(0);
    let mut bson = ((doc.len() + 4) as i32).to_le_bytes().to_vec();
    bson.extend(doc);
    let mut body = 8i32.to_le_bytes().to_vec();
    body.extend(0i64.to_le_bytes());
    body.extend(0i32.to_le_bytes());
    body.extend(1i32.to_le_bytes());
    body.extend(bson);
    let mut m = ((16 + body.len()) as i32).to_le_bytes().to_vec();
    m.extend(77i32.to_le_bytes());
    m.extend(MONGO_REQUEST_ID.to_le_bytes());
    m.extend(1i32.to_le_bytes());
    m.extend(body);
    m
}

/// (name, bytes, hello sent, protocol, detail)
type Loaded = (
    String,
    Vec<u8>,
    Option<Hello>,
    &'static str,
    Option<&'static str>,
);

fn all_vectors() -> Vec<Loaded> {
    let mut all: Vec<_> = CAPTURED
        .iter()
        .map(|x| {
            (
                x.file.to_string(),
                load(x.file),
                x.sent,
                x.protocol,
                x.detail,
            )
        })
        .collect();
    all.push((
        "rtsp (spec)".into(),
        rtsp_spec(),
        Some(Rtsp),
        "rtsp",
        Some("LIVE555 Streaming Media v2023.01.19"),
    ));
    all.push((
        "mongodb (spec)".into(),
        mongo_spec(),
        Some(Mongo),
        "mongodb",
        None,
    ));
    all
}

#[test]
fn every_protocol_of_the_vocabulary_has_a_vector() {
    let all = all_vectors();
    for p in synsweep::identify::PROTOCOLS {
        assert!(all.iter().any(|v| v.3 == p), "no vector for {p}");
    }
}

/// Each vector is named right, with the right detail, on its usual port and
/// on a port no service is known for.
#[test]
fn real_server_bytes_are_named() {
    for (file, data, sent, protocol, detail) in all_vectors() {
        for port in [0u16, 4444, 65535] {
            let got = identify(&data, sent, port)
                .unwrap_or_else(|| panic!("{file} on port {port}: not identified"));
            assert_eq!(got.protocol, protocol, "{file} on port {port}");
            assert_eq!(got.detail.as_deref(), detail, "{file}");
            assert!(got.banner.len() <= synsweep::identify::BANNER_MAX);
        }
    }
}

/// No vector is ever named as another protocol: whatever hello we claim to
/// have sent, and cut at every length.
#[test]
fn real_server_bytes_are_never_misnamed() {
    let hints: Vec<Option<Hello>> = ALL.iter().map(|h| Some(*h)).chain([None]).collect();
    for (file, data, _, protocol, _) in all_vectors() {
        for n in 0..=data.len() {
            for &h in &hints {
                if let Some(got) = identify(&data[..n], h, 4444) {
                    assert_eq!(
                        got.protocol, protocol,
                        "{file} cut to {n} bytes with hello {h:?}"
                    );
                }
            }
        }
    }
}

/// The text greetings keep the server's first line as the banner.
#[test]
fn banners_are_first_lines() {
    let b = |f: &str| identify(&load(f), None, 0).unwrap().banner;
    assert_eq!(b("ssh-openssh"), b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10");
    assert_eq!(b("ftp-vsftpd"), b"220 (vsFTPd 3.0.3)");
    assert_eq!(b("pop3-dovecot"), b"+OK Dovecot (Debian) ready.");
    assert_eq!(b("mysql-mariadb"), b"5.5.5-10.11.19-MariaDB-0+deb12u1");
}

/// Servers name themselves whatever hello was sent, or none: each vector is
/// named the same with every hello as the hint. (The one exception is a
/// bare ISO 8073 Connection Confirm, which no vector here is.)
#[test]
fn every_vector_is_named_whatever_hello_was_sent() {
    let hints: Vec<Option<Hello>> = ALL.iter().map(|h| Some(*h)).chain([None]).collect();
    for (file, data, _, protocol, detail) in all_vectors() {
        for &h in &hints {
            let got = identify(&data, h, 4444)
                .unwrap_or_else(|| panic!("{file} with hello {h:?}: not identified"));
            assert_eq!(
                (got.protocol, got.detail.as_deref()),
                (protocol, detail),
                "{file} with hello {h:?}"
            );
        }
    }
}

/// Bytes that look like some protocol's but are no proof of any, hostile
/// banners, and replies of two protocols at once: nothing is named, with
/// any hello and on any port.
#[test]
fn hostile_and_ambiguous_bytes_name_nothing() {
    let cases: &[&[u8]] = &[
        // A spreadsheet formula, markup and a terminal escape as a banner.
        b"=cmd|' /C calc'!A0<script>alert(1)</script>\x1b[2J\r\n",
        // Words several protocols use: a lone ERROR, a bare -ERR, OK.
        b"ERROR\r\n",
        b"-ERR\r\n",
        b"-ERR Unknown command.\r\n",
        b"+OKAY\r\n",
        b"OK\r\n",
        // Two protocols at once: an SMTP enhanced code and an FTP login demand.
        b"220 Welcome\r\n500 5.5.1 Unknown\r\n530 Please login with USER and PASS.\r\n",
        // A tarpit's endless header lines, a line of random letters.
        b"X-a: b\r\nX-c: d\r\nX-e: f\r\n",
        b"qwhrtkjqhwertkjh\r\n",
        // Binary noise shaped like headers: TPKT with bad lengths, a
        // too-short CONNACK, an AMQP header with trailing bytes, a MySQL
        // error with no code we know, cut short.
        b"\x03\x00\x00\x0c\x06\xd0\x00\x00\x12\x34\x00\x00",
        b"\x20\x02\x00",
        b"AMQP\x00\x00\x09\x01\x00",
        b"\x17\x00\x00\x00\xff\x10\x04Too many conn",
        b"\xff\xff\xff\xff",
        b"\x00\x00\x00\x00",
    ];
    let hints: Vec<Option<Hello>> = ALL.iter().map(|h| Some(*h)).chain([None]).collect();
    for d in cases {
        for &h in &hints {
            for port in [21u16, 25, 4444] {
                assert_eq!(
                    identify(d, h, port).map(|i| i.protocol),
                    None,
                    "{:?} with hello {h:?} on {port}",
                    String::from_utf8_lossy(d)
                );
            }
        }
    }
}

/// The facts a greeting states survive the error lines that follow it: a
/// server answering another protocol's hello still says what it is.
#[test]
fn facts_of_greetings_followed_by_errors() {
    let pv = |f: &str, h: Hello| {
        let id = identify(&load(f), Some(h), 4444).unwrap();
        (id.facts.product, id.facts.version)
    };
    let some = |p: &str, v: &str| (Some(p.to_string()), Some(v.to_string()));
    assert_eq!(pv("ssh-openssh-http-hello", Http), some("OpenSSH", "9.2p1"));
    assert_eq!(pv("ftp-vsftpd-http-hello", Http), some("vsFTPd", "3.0.3"));
    assert_eq!(pv("ftp-vsftpd-redis-hello", Redis), some("vsFTPd", "3.0.3"));
    assert_eq!(
        pv("pop3-dovecot-http-hello", Http),
        (Some("Dovecot".to_string()), None)
    );
    // Errors alone state no software.
    assert_eq!(pv("redis-irc-hello", Irc), (None, None));
    assert_eq!(pv("memcached-redis-hello", Redis), (None, None));
    assert_eq!(pv("irc-ngircd-http-hello", Http), (None, None));
}

/// A greeting that names nothing is named by the server's answer to our
/// hello, not by the port: `220 Welcome` alone is nobody on 4444; followed
/// by vsftpd's `530 Please login with USER and PASS.` it is FTP.
#[test]
fn an_anonymous_greeting_is_named_by_the_answer_to_the_hello() {
    let d = load("ftp-vsftpd-plain-banner-http-hello");
    let greeting = &d[..d.iter().position(|&b| b == b'\n').unwrap() + 1];
    assert_eq!(greeting, b"220 Welcome\r\n");
    assert_eq!(
        identify(greeting, Some(Http), 4444).map(|i| i.protocol),
        None
    );
    assert_eq!(
        identify(greeting, None, 21).map(|i| i.protocol),
        Some("ftp")
    );
    let id = identify(&d, Some(Http), 4444).unwrap();
    assert_eq!(id.protocol, "ftp");
    assert_eq!(id.banner, b"220 Welcome");
}
