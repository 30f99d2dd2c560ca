//! The fingerprint parsers: bytes a service sent -> a protocol name.
//!
//! Each parser reads only what its protocol's specification fixes (a prefix
//! such as `SSH-2.0-`, a status line, a record header with consistent
//! lengths, an error reply in the protocol's own words) and returns `None` on
//! anything else. Every parser runs on every reply, whatever hello was sent
//! (or none): a server answers another protocol's hello in its own protocol,
//! often with an error (`530 Please login with USER and PASS.` from an FTP
//! server sent an HTTP request). Replies that only make sense as answers to
//! our own request carry the proof themselves (MongoDB's `responseTo`, LDAP's
//! messageID); the one exception is a bare ISO 8073 Connection Confirm,
//! which any ISO-TSAP service sends to a connection request, so it names RDP
//! only after RDP's own request. When two parsers name different protocols
//! the reply is ambiguous and nothing is named. All indexing goes through
//! `get`, so no input can panic a parser.

use super::facts::{header, lines};
use super::hello::{LDAP_MESSAGE_ID, MONGO_REQUEST_ID};
use super::{BANNER_MAX, DETAIL_MAX, Hello, Identified};

/// Name the protocol of a service from the first bytes it sent.
///
/// `sent` is the hello we sent on this connection (None if we only waited
/// for a banner); `port` is the service's port, used only to settle an FTP or
/// SMTP greeting that names neither protocol and says nothing more. `None`:
/// not identified, or identified as two protocols at once.
pub fn identify(data: &[u8], sent: Option<Hello>, port: u16) -> Option<Identified> {
    if data.is_empty() {
        return None;
    }
    let every = [
        ssh(data),
        status_line(data, b"HTTP/1.", "http"),
        status_line(data, b"RTSP/1.", "rtsp"),
        ftp_smtp(data, port),
        pop3(data),
        imap(data),
        vnc(data),
        rsync(data),
        redis(data),
        memcached(data),
        irc(data),
        tls(data),
        smb(data),
        mysql(data),
        amqp(data),
        rdp(data, sent == Some(Hello::Rdp)),
        telnet(data),
        mqtt(data),
        postgres(data),
        mongo(data),
        ldap(data),
    ];
    let mut named: Option<Identified> = None;
    for id in every.into_iter().flatten() {
        named = match named {
            None => Some(id),
            // The first parser to name it knows it best (a greeting's detail).
            Some(n) if n.protocol == id.protocol => Some(n),
            Some(n) if refines(n.protocol, id.protocol) => Some(id),
            Some(n) if refines(id.protocol, n.protocol) => Some(n),
            Some(_) => return None,
        };
    }
    named
}

/// Whether a reply named `general` by one parser and `specific` by another
/// is `specific`: MongoDB answers an HTTP request with an HTTP response
/// that says it is MongoDB.
fn refines(general: &str, specific: &str) -> bool {
    matches!((general, specific), ("http", "mongodb"))
}

// ---------------------------------------------------------------- helpers

/// The first line (without `\r\n` / `\n`) and whether a line end was seen.
fn first_line(data: &[u8]) -> (&[u8], bool) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let l = &data[..i];
            (l.strip_suffix(b"\r").unwrap_or(l), true)
        }
        None => (data, false),
    }
}

fn printable(s: &[u8]) -> bool {
    s.iter().all(|&b| (0x20..0x7f).contains(&b) || b == b'\t')
}

fn bounded(s: &[u8], max: usize) -> &[u8] {
    &s[..s.len().min(max)]
}

/// Printable ASCII text of `s`, bounded, or None if empty or not printable.
fn detail(s: &[u8]) -> Option<String> {
    let s = bounded(s.trim_ascii(), DETAIL_MAX);
    if s.is_empty() || !printable(s) {
        return None;
    }
    Some(String::from_utf8_lossy(s).into_owned())
}

fn found(protocol: &'static str, detail: Option<String>, banner: &[u8]) -> Option<Identified> {
    Some(Identified {
        protocol,
        detail,
        banner: bounded(banner, BANNER_MAX).to_vec(),
        facts: Default::default(),
    })
}

/// A text greeting: the first line, printable, line end seen or not.
fn text_found(protocol: &'static str, detail: Option<String>, line: &[u8]) -> Option<Identified> {
    printable(line).then_some(())?;
    found(protocol, detail, line)
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}
fn be24(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        0,
        *d.get(at)?,
        *d.get(at + 1)?,
        *d.get(at + 2)?,
    ]))
}
fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}
fn le16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*d.get(at)?, *d.get(at + 1)?]))
}
fn le32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

// ---------------------------------------------------------------- text

/// SSH (RFC 4253 4.2): `SSH-protoversion-softwareversion SP comments CR LF`,
/// protoversion `2.0`, `1.99` or `1.x`; or, with the greeting lost, the line
/// OpenSSH sends a client whose first line is not an SSH version.
fn ssh(data: &[u8]) -> Option<Identified> {
    let (line, _) = first_line(data);
    if line == b"Protocol mismatch." || line == b"Invalid SSH identification string." {
        return text_found("ssh", None, line);
    }
    let rest = line.strip_prefix(b"SSH-")?;
    let dash = rest.iter().position(|&b| b == b'-')?;
    let proto = &rest[..dash];
    if !matches!(proto, b"2.0" | b"1.99" | b"1.5" | b"1.3") {
        return None;
    }
    let software = &rest[dash + 1..];
    if software.is_empty() || software[0] == b' ' {
        return None;
    }
    text_found("ssh", detail(software), line)
}

/// An HTTP or RTSP status line: `HTTP/1.x NNN[ reason]` (RFC 9112 4),
/// `RTSP/1.0 NNN` (RFC 2326 7.1). Detail: the `Server` header.
fn status_line(data: &[u8], prefix: &[u8], protocol: &'static str) -> Option<Identified> {
    let (line, _) = first_line(data);
    let rest = line.strip_prefix(prefix)?;
    let (minor, rest) = rest.split_first()?;
    let (sp, rest) = rest.split_first()?;
    if !minor.is_ascii_digit() || *sp != b' ' {
        return None;
    }
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || !(b'1'..=b'5').contains(&code[0]) {
        return None;
    }
    if !matches!(rest.get(3), None | Some(b' ')) {
        return None;
    }
    let server = header(data, b"server");
    text_found(protocol, server.and_then(detail), line)
}

/// A reply line of FTP (RFC 959 4.2) or SMTP (RFC 5321 4.2): a three-digit
/// code, then a space, a dash or the end; the code and the text.
fn reply_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let code = line.get(..3)?;
    let ok = code.iter().all(u8::is_ascii_digit)
        && (b'1'..=b'5').contains(&code[0])
        && matches!(line.get(3), None | Some(b' ') | Some(b'-'));
    ok.then_some((code, line.get(4..).unwrap_or_default()))
}

/// An SMTP enhanced status code (RFC 3463) opening a reply's text, its class
/// the reply code's first digit: `500 5.5.2 Error: bad syntax`.
fn enhanced_status(code: &[u8], text: &[u8]) -> bool {
    let Some(word) = text.split(|&b| b == b' ').next() else {
        return false;
    };
    let mut parts = word.split(|&b| b == b'.');
    let (Some(class), Some(subject), Some(detail), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    class.len() == 1
        && class[0] == code[0]
        && matches!(class[0], b'2' | b'4' | b'5')
        && [subject, detail]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.iter().all(u8::is_ascii_digit))
}

/// FTP (RFC 959) and SMTP (RFC 5321) both greet with `220`. The greeting's
/// words decide first: an `ESMTP`/`SMTP`/`LMTP` word is SMTP, a word naming
/// an FTP server is FTP. Then the replies that follow (to our hello, sent
/// before the greeting came): an enhanced status code (RFC 3463) is SMTP;
/// FTP's demand to log in first (`530 Please login with USER and PASS.`) or
/// vsftpd's `500 OOPS:` is FTP. Then the port (21/990/2121 FTP,
/// 25/465/587/2525 SMTP); otherwise unknown. A server refusing us at once
/// (`421`, `554`) is SMTP when its words or codes say so.
fn ftp_smtp(data: &[u8], port: u16) -> Option<Identified> {
    let (line, _) = first_line(data);
    let (code, _) = reply_line(line)?;
    if !printable(line) {
        return None;
    }
    let greeting = code == b"220";
    if !greeting && !matches!(code, b"421" | b"554") && !line.starts_with(b"500 OOPS: ") {
        return None;
    }
    let (mut smtp_words, mut ftp_words, mut smtp_replies, mut ftp_replies) =
        (false, false, false, false);
    for l in lines(data).take(32).filter(|l| !l.is_empty()) {
        if !printable(l) {
            break;
        }
        // A multi-line reply's inner lines may be any text (RFC 959 4.2).
        let Some((c, text)) = reply_line(l) else {
            continue;
        };
        if enhanced_status(c, text) {
            smtp_replies = true;
        }
        if (c == b"530" && (contains_ci(text, b"login") || contains_ci(text, b"logged in")))
            || l.starts_with(b"500 OOPS: ")
        {
            ftp_replies = true;
        }
        if c != code || c == b"530" {
            continue;
        }
        for word in text.split(|b| b.is_ascii_whitespace()) {
            let w = word.trim_ascii_start();
            let w: &[u8] = {
                let s = w
                    .iter()
                    .position(|b| b.is_ascii_alphanumeric())
                    .unwrap_or(w.len());
                let e = w
                    .iter()
                    .rposition(|b| b.is_ascii_alphanumeric())
                    .map_or(s, |e| e + 1);
                &w[s..e.max(s)]
            };
            if w.eq_ignore_ascii_case(b"ESMTP")
                || w.eq_ignore_ascii_case(b"SMTP")
                || w.eq_ignore_ascii_case(b"LMTP")
            {
                smtp_words = true;
            } else if !w.contains(&b'.')
                && (contains_ci(w, b"ftp") || w.eq_ignore_ascii_case(b"FileZilla"))
            {
                ftp_words = true;
            }
        }
    }
    let text = line.get(4..).unwrap_or_default();
    let protocol = match (smtp_words, ftp_words, smtp_replies, ftp_replies) {
        (true, _, _, _) => "smtp",
        (false, true, _, _) => "ftp",
        (false, false, true, false) => "smtp",
        (false, false, false, true) => "ftp",
        (false, false, true, true) => return None,
        (false, false, false, false) if greeting => match port {
            21 | 990 | 2121 => "ftp",
            25 | 465 | 587 | 2525 => "smtp",
            _ => return None,
        },
        (false, false, false, false) => return None,
    };
    text_found(protocol, detail(text), line)
}

/// POP3 (RFC 1939 4): the greeting is `+OK` and text; a server refusing us
/// at once says `-ERR` with a response code of RFC 2449 / RFC 3206
/// (`-ERR [SYS/TEMP] ...`, `-ERR [IN-USE] ...`): a bare `-ERR` is also
/// redis's word, so it names nothing.
fn pop3(data: &[u8]) -> Option<Identified> {
    let (line, _) = first_line(data);
    if let Some(rest) = line.strip_prefix(b"-ERR [") {
        let code = rest.split(|&b| b == b']').next()?;
        let known = [
            &b"SYS/TEMP"[..],
            b"SYS/PERM",
            b"AUTH",
            b"IN-USE",
            b"LOGIN-DELAY",
        ];
        (rest.len() > code.len() && known.contains(&code)).then_some(())?;
        return text_found("pop3", None, line);
    }
    let rest = line.strip_prefix(b"+OK")?;
    if !matches!(rest.first(), None | Some(b' ')) {
        return None;
    }
    text_found("pop3", detail(rest), line)
}

/// IMAP (RFC 9051 7.1): the greeting is an untagged `OK`, `PREAUTH` or
/// `BYE`; an untagged `BAD` is a server's answer to a line it could not
/// read as a command.
fn imap(data: &[u8]) -> Option<Identified> {
    let (line, _) = first_line(data);
    let rest = line.strip_prefix(b"* ")?;
    let rest = [&b"OK"[..], b"PREAUTH", b"BYE", b"BAD"]
        .iter()
        .find_map(|k| rest.strip_prefix(*k))?;
    if !matches!(rest.first(), Some(b' ') | Some(b'[')) {
        return None;
    }
    text_found("imap", None, line)
}

/// VNC (RFC 6143 7.1.1): `RFB xxx.yyy\n`.
fn vnc(data: &[u8]) -> Option<Identified> {
    let v = data.get(..12)?;
    let ok = v.starts_with(b"RFB ")
        && v[4..7].iter().all(u8::is_ascii_digit)
        && v[7] == b'.'
        && v[8..11].iter().all(u8::is_ascii_digit)
        && v[11] == b'\n';
    ok.then_some(())?;
    found("vnc", detail(&v[..11]), &v[..11])
}

/// rsync daemon: `@RSYNCD: <version>[ <digests>]\n` (rsync's clientserver.c
/// protocol, documented in rsyncd.conf(5)).
fn rsync(data: &[u8]) -> Option<Identified> {
    let (line, _) = first_line(data);
    let rest = line.strip_prefix(b"@RSYNCD: ")?;
    let v = rest.split(|&b| b == b' ').next()?;
    let ok = !v.is_empty()
        && v[0].is_ascii_digit()
        && v.iter().all(|b| b.is_ascii_digit() || *b == b'.');
    ok.then_some(())?;
    text_found("rsync", detail(v), line)
}

/// Redis (RESP): `+PONG` to our PING, an INFO bulk string carrying
/// `redis_version:`, or an error in redis's own words: `-NOAUTH`,
/// `-DENIED Redis`, `-WRONGPASS`, `-NOPERM`, `-LOADING Redis`, `-MISCONF
/// Redis`, or `-ERR` with redis's wording for a command it does not take
/// (`unknown command 'x'`, ``unknown command `x` ``, `wrong number of
/// arguments for 'x'`, `Protocol error:`). A bare `-ERR` is also POP3's.
fn redis(data: &[u8]) -> Option<Identified> {
    let (line, _) = first_line(data);
    let error = |l: &[u8]| {
        [
            &b"-NOAUTH "[..],
            b"-DENIED Redis ",
            b"-WRONGPASS ",
            b"-NOPERM ",
            b"-LOADING Redis ",
            b"-MISCONF Redis ",
            b"-ERR unknown command '",
            b"-ERR unknown command `",
            b"-ERR wrong number of arguments for '",
            b"-ERR Protocol error: ",
        ]
        .iter()
        .any(|p| l.starts_with(p))
    };
    let ok = line == b"+PONG"
        || error(line)
        || (line.starts_with(b"$") && data.windows(9).take(64).any(|w| w == b"# Server\r"));
    ok.then_some(())?;
    let version = data
        .windows(14)
        .position(|w| w == b"redis_version:")
        .and_then(|i| {
            let v = &data[i + 14..];
            let end = v.iter().position(|&b| b == b'\r' || b == b'\n')?;
            detail(&v[..end])
        });
    text_found("redis", version, line)
}

/// memcached (protocol.txt): `VERSION <version>\r\n`; or its error lines
/// and nothing else: `CLIENT_ERROR <text>`, `SERVER_ERROR <text>`, or
/// `ERROR` once per line of a request it does not know (at least two: a
/// lone `ERROR` could be anyone's).
fn memcached(data: &[u8]) -> Option<Identified> {
    let (line, ended) = first_line(data);
    if let Some(v) = line.strip_prefix(b"VERSION ") {
        let ok = ended
            && !v.is_empty()
            && v.iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'));
        ok.then_some(())?;
        return text_found("memcached", detail(v), line);
    }
    // Whole CRLF-ended error lines only.
    let (mut errors, mut client_server) = (0, false);
    for l in data.split_inclusive(|&b| b == b'\n').take(64) {
        let l = l.strip_suffix(b"\r\n")?;
        if l == b"ERROR" {
            errors += 1;
        } else if (l.starts_with(b"CLIENT_ERROR ") || l.starts_with(b"SERVER_ERROR "))
            && printable(l)
        {
            client_server = true;
        } else {
            return None;
        }
    }
    (client_server || errors >= 2).then_some(())?;
    text_found("memcached", None, line)
}

/// IRC (RFC 2812 2.3.1): a message with a server prefix and a `NOTICE`, a
/// numeric reply or `ERROR`; the old `NOTICE AUTH :` greeting; or the
/// unprefixed `ERROR :<text>` CR LF a server sends as it drops a client
/// (`ERROR :Closing Link: ...`; ngIRCd to an HTTP request: `ERROR :"Oops,
/// HTTP request received? This is IRC!"`).
fn irc(data: &[u8]) -> Option<Identified> {
    let (line, _) = first_line(data);
    if line.starts_with(b"NOTICE AUTH :") || line.starts_with(b"NOTICE * :") {
        return text_found("irc", None, line);
    }
    if let Some(text) = line.strip_prefix(b"ERROR :") {
        let crlf = data.get(line.len()..line.len() + 2) == Some(b"\r\n");
        (crlf && !text.trim_ascii().is_empty()).then_some(())?;
        return text_found("irc", None, line);
    }
    let rest = line.strip_prefix(b":")?;
    let mut parts = rest.splitn(3, |&b| b == b' ');
    let prefix = parts.next()?;
    let command = parts.next()?;
    let params = parts.next()?;
    let prefix_ok = !prefix.is_empty()
        && prefix
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:_!@[]\\`^{}|~/".contains(b));
    let command_ok = command == b"NOTICE"
        || command == b"ERROR"
        || command == b"PING"
        || (command.len() == 3 && command.iter().all(u8::is_ascii_digit));
    (prefix_ok && command_ok && !params.is_empty()).then_some(())?;
    text_found("irc", detail(prefix), line)
}

// ---------------------------------------------------------------- binary

/// TLS (RFC 8446, RFC 5246): a handshake record starting with a ServerHello
/// (the negotiated version is the `supported_versions` extension if present,
/// else the legacy version field), or an alert record (the server refused
/// our hello; it still speaks TLS, version unknown).
fn tls(data: &[u8]) -> Option<Identified> {
    let (&kind, _) = data.split_first()?;
    let rec_ver = be16(data, 1)?;
    let rec_len = be16(data, 3)? as usize;
    if !(0x0300..=0x0304).contains(&rec_ver) || rec_len == 0 || rec_len > 16384 + 2048 {
        return None;
    }
    let body = &data[5..data.len().min(5 + rec_len)];
    match kind {
        0x15 => {
            // Alert: level (1 warning, 2 fatal), description (RFC 8446 6).
            let (level, desc) = (*body.first()?, *body.get(1)?);
            let known = [
                0u8, 10, 20, 21, 22, 30, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 60, 70,
                71, 80, 86, 90, 100, 109, 110, 111, 112, 113, 114, 115, 116, 120,
            ];
            (rec_len == 2 && (level == 1 || level == 2) && known.contains(&desc)).then_some(())?;
            found("tls", None, b"")
        }
        0x16 => {
            if *body.first()? != 0x02 {
                return None;
            }
            let hs_len = be24(body, 1)? as usize;
            if hs_len < 38 {
                return None;
            }
            let h = &body[4..body.len().min(4 + hs_len)];
            let legacy = be16(h, 0)?;
            if !(0x0300..=0x0303).contains(&legacy) {
                return None;
            }
            let sid = *h.get(34)? as usize;
            if sid > 32 {
                return None;
            }
            let mut version = Some(legacy);
            // cipher (2), compression (1), then optional extensions.
            let mut i = 35 + sid + 3;
            if let Some(ext_len) = be16(h, i) {
                i += 2;
                let end = i + ext_len as usize;
                let mut complete = end <= h.len();
                while i + 4 <= end.min(h.len()) {
                    let (k, l) = (be16(h, i)?, be16(h, i + 2)? as usize);
                    if k == 0x002b {
                        version = Some(be16(h, i + 4)?);
                        complete = true;
                        break;
                    }
                    i += 4 + l;
                }
                // Extensions cut short before we could see supported_versions:
                // a 1.2 legacy field may still mean 1.3.
                if !complete && legacy == 0x0303 {
                    version = None;
                }
            } else if h.len() < 35 + sid + 3 {
                return None;
            } else if legacy == 0x0303 && hs_len > 35 + sid + 3 {
                // Extensions exist but were not captured.
                version = None;
            }
            let name = match version {
                Some(v) => Some(super::tls::version_name(v)?),
                None => None,
            };
            found(
                "tls",
                name.map(str::to_string),
                name.unwrap_or("").as_bytes(),
            )
        }
        _ => None,
    }
}

/// SMB over NetBIOS session service (RFC 1002 4.3.1, MS-SMB2 2.2.1): a
/// session message whose payload starts `\xffSMB` or `\xfeSMB`. Detail: the
/// SMB 2 dialect of a NEGOTIATE response.
fn smb(data: &[u8]) -> Option<Identified> {
    let len = be24(data, 1)? as usize;
    if *data.first()? != 0 || len < 32 {
        return None;
    }
    match data.get(4..8)? {
        b"\xffSMB" => found("smb", Some("SMB1".into()), b"SMB1"),
        b"\xfeSMB" => {
            // SMB2 header (64 bytes; Command NEGOTIATE = 0 at offset 12), then
            // the NEGOTIATE response: StructureSize 65, DialectRevision.
            let dialect = match (le16(data, 4 + 12), le16(data, 68), le16(data, 72)) {
                (Some(0), Some(65), Some(d)) => match d {
                    0x0202 => Some("SMB 2.0.2"),
                    0x0210 => Some("SMB 2.1"),
                    0x02ff => Some("SMB 2.x"),
                    0x0300 => Some("SMB 3.0"),
                    0x0302 => Some("SMB 3.0.2"),
                    0x0311 => Some("SMB 3.1.1"),
                    _ => None,
                },
                _ => None,
            };
            found(
                "smb",
                dialect.map(str::to_string),
                dialect.unwrap_or("").as_bytes(),
            )
        }
        _ => None,
    }
}

/// MySQL / MariaDB (client/server protocol, "Initial Handshake"): packet
/// length (3 bytes LE), sequence 0, then protocol 10 and a NUL-terminated
/// server version starting with a digit; or an ERR packet (0xff) whose
/// message names MySQL or MariaDB, or, whole, with the code of an error sent
/// before the handshake (host not allowed, too many connections).
fn mysql(data: &[u8]) -> Option<Identified> {
    let len = u32::from_le_bytes([*data.first()?, *data.get(1)?, *data.get(2)?, 0]) as usize;
    if *data.get(3)? != 0 || !(5..=1024).contains(&len) {
        return None;
    }
    let body = &data[4..data.len().min(4 + len)];
    match *body.first()? {
        0x0a => {
            let nul = body.iter().position(|&b| b == 0)?;
            let version = &body[1..nul];
            let ok = (1..=64).contains(&version.len())
                && version[0].is_ascii_digit()
                && printable(version)
                // thread id (4), auth data (8), filler 0 (if captured)
                && body.get(nul + 13).is_none_or(|&f| f == 0);
            ok.then_some(())?;
            found("mysql", detail(version), version)
        }
        0xff => {
            let code = le16(body, 1)?;
            let msg = body.get(3..)?;
            let msg = msg
                .strip_prefix(b"#")
                .map_or(msg, |m| m.get(5..).unwrap_or_default());
            // Errors a server sends before any handshake: too many
            // connections (1040), bad handshake (1043), host blocked (1129),
            // host not allowed (1130). The packet must be whole (the server
            // closes after it) unless its words name the server.
            let names = contains_ci(msg, b"mysql") || contains_ci(msg, b"mariadb");
            let whole = data.len() == 4 + len && matches!(code, 1040 | 1043 | 1129 | 1130);
            let ok = (1000..5000).contains(&code)
                && printable(msg)
                && !msg.is_empty()
                && (names || whole);
            ok.then_some(())?;
            found("mysql", None, msg)
        }
        _ => None,
    }
}

/// AMQP 0-9-1: a Connection.Start method frame (type 1, channel 0, class 10
/// method 10), or the protocol header `AMQP....` a server sends back when it
/// does not speak the version we asked for. Detail: `product version` from
/// the server properties when present.
fn amqp(data: &[u8]) -> Option<Identified> {
    if let Some(v) = data.strip_prefix(b"AMQP") {
        // The protocol header (AMQP 0-9-1 4.2.2, AMQP 1.0 2.2): a protocol
        // id and three version numbers, nothing after it.
        let ok = v.len() == 4 && v[0] <= 3 && v[1..].iter().all(|&b| b <= 10);
        ok.then_some(())?;
        return found(
            "amqp",
            Some(format!("AMQP {}-{}-{}", v[1], v[2], v[3])),
            b"",
        );
    }
    let size = be32(data, 3)? as usize;
    let ok = data[0] == 1
        && be16(data, 1)? == 0
        && (6..=131_072).contains(&size)
        && be16(data, 7)? == 10
        && be16(data, 9)? == 10
        && *data.get(11)? == 0
        && *data.get(12)? == 9;
    ok.then_some(())?;
    let prop = |key: &[u8]| -> Option<&[u8]> {
        let mut pat = vec![key.len() as u8];
        pat.extend_from_slice(key);
        pat.push(b'S');
        let at = data.windows(pat.len()).position(|w| w == pat)? + pat.len();
        let l = be32(data, at)? as usize;
        data.get(at + 4..at + 4 + l)
    };
    let text = match (prop(b"product"), prop(b"version")) {
        (Some(p), Some(v)) => [p, b" ", v].concat(),
        (Some(p), None) => p.to_vec(),
        _ => Vec::new(),
    };
    let d = detail(&text);
    found("amqp", d.clone(), d.as_deref().unwrap_or("").as_bytes())
}

/// T.125 MCS Disconnect-Provider-Ultimatum in an X.224 Data TPDU: what an
/// RDP server (xrdp) answers to a request that is not RDP.
const MCS_DISCONNECT: [u8; 9] = [0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0x21, 0x80];

/// RDP: TPKT (RFC 1006) + X.224 Connection Confirm (ISO 8073). With an
/// RDP_NEG_RSP or RDP_NEG_FAILURE (MS-RDPBCGR 2.2.1.2) it is RDP whatever
/// we sent; a bare Connection Confirm (other ISO-TSAP services answer that
/// too) only counts when we sent the RDP request. An MCS disconnect (T.125,
/// the layer RDP runs on) is RDP refusing whatever else we sent.
fn rdp(data: &[u8], sent_rdp: bool) -> Option<Identified> {
    if data == MCS_DISCONNECT {
        return found("rdp", None, b"");
    }
    let len = be16(data, 2)? as usize;
    let li = *data.get(4)? as usize;
    let ok = data[0] == 3
        && data[1] == 0
        && (11..=512).contains(&len)
        && li + 5 == len
        && *data.get(5)? & 0xf0 == 0xd0;
    ok.then_some(())?;
    let neg = match (data.get(11), le16(data, 13), le32(data, 15)) {
        (Some(2), Some(8), Some(p)) => Some(match p {
            0 => "standard RDP security".to_string(),
            1 => "TLS".to_string(),
            2 | 3 => "CredSSP".to_string(),
            8 => "RDSTLS".to_string(),
            p => format!("protocol {p:#x}"),
        }),
        (Some(3), Some(8), Some(code)) => Some(format!("negotiation failure {code}")),
        _ => None,
    };
    (neg.is_some() || sent_rdp).then_some(())?;
    found("rdp", neg, b"")
}

/// Telnet (RFC 854): the server opens with option negotiation, `IAC`
/// (0xff) followed by `WILL`/`WONT`/`DO`/`DONT` and an option, or a
/// subnegotiation `IAC SB`. Every command in the first bytes must be well
/// formed.
fn telnet(data: &[u8]) -> Option<Identified> {
    let mut i = 0;
    let mut commands = 0;
    while i < data.len() && data[i] == 0xff {
        match *data.get(i + 1)? {
            0xfb..=0xfe => {
                data.get(i + 2)?;
                i += 3;
            }
            0xfa => {
                // IAC SB option ... IAC SE
                let end = data[i + 2..].windows(2).position(|w| w == [0xff, 0xf0])?;
                i += 2 + end + 2;
            }
            _ => return None,
        }
        commands += 1;
    }
    (commands > 0).then_some(())?;
    found("telnet", None, b"")
}

/// MQTT CONNACK, the whole reply (the broker then waits, or closes on a
/// refusal): MQTT 3.1.1 3.2 `0x20 0x02 flags rc`, session-present 0 or 1,
/// return code 0-5; or MQTT 5.0 3.2 `0x20 len flags reason props`, a
/// success or error reason code (0x00, 0x80-0x9F) and a properties length
/// that fills the packet. Detail: the return code when it refuses us.
fn mqtt(data: &[u8]) -> Option<Identified> {
    let (&kind, rest) = data.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let ok = kind == 0x20 && len >= 2 && rest.len() == len as usize && rest[0] <= 1;
    ok.then_some(())?;
    let rc = rest[1];
    if len == 2 {
        (rc <= 5).then_some(())?;
    } else {
        // MQTT 5: one-byte properties length (a CONNACK's few properties).
        let props = *rest.get(2)? as usize;
        let ok =
            (rc == 0 || (0x80..=0x9f).contains(&rc)) && props < 0x80 && 3 + props == len as usize;
        ok.then_some(())?;
    }
    let d = match rc {
        0 => None,
        4 => Some("connection refused: bad user name or password".to_string()),
        5 | 0x87 => Some("connection refused: not authorized".to_string()),
        rc => Some(format!("connection refused: code {rc}")),
    };
    found("mqtt", d, b"")
}

/// PostgreSQL (protocol 3.0): an AuthenticationRequest (`R`, length, a
/// known auth code, lengths as the code fixes them) or an ErrorResponse
/// (`E`) or NoticeResponse (`N`): length, then fields with a severity and a
/// five-character SQLSTATE, each NUL-terminated.
fn postgres(data: &[u8]) -> Option<Identified> {
    let len = be32(data, 1)? as usize;
    match data[0] {
        b'R' => {
            // The requests a server opens with, each of its exact length;
            // SASL lists its mechanisms, NUL-terminated, then an empty one.
            let code = be32(data, 5)?;
            let ok = match code {
                0 | 3 | 7 | 9 => len == 8,
                5 => len == 12,
                10 => {
                    let list = data.get(9..1 + len)?;
                    let names: Vec<&[u8]> = list.split(|&b| b == 0).collect();
                    (12..=512).contains(&len)
                        && list.ends_with(b"\0\0")
                        && names.len() >= 3
                        && names[..names.len() - 2]
                            .iter()
                            .all(|n| !n.is_empty() && printable(n))
                }
                _ => false,
            };
            ok.then_some(())?;
            let d = match code {
                0 => "authentication ok",
                3 => "password authentication",
                5 => "md5 authentication",
                10 => "SASL authentication",
                _ => "GSSAPI/SSPI authentication",
            };
            found("postgresql", Some(d.into()), b"")
        }
        b'E' | b'N' => {
            if !(8..=8192).contains(&len) {
                return None;
            }
            let body = &data[5..data.len().min(1 + len)];
            let (mut severity, mut code, mut message) = (false, false, &b""[..]);
            let mut rest = body;
            while let Some((&t, r)) = rest.split_first() {
                if t == 0 {
                    break;
                }
                let nul = r.iter().position(|&b| b == 0)?;
                let v = &r[..nul];
                if !b"SVCMDHPpqWsctdnFLR".contains(&t) || !printable(v) {
                    return None;
                }
                match t {
                    b'S' => severity = !v.is_empty(),
                    b'C' => code = v.len() == 5 && v.iter().all(u8::is_ascii_alphanumeric),
                    b'M' => message = v,
                    _ => {}
                }
                rest = &r[nul + 1..];
            }
            (severity && code).then_some(())?;
            found("postgresql", None, message)
        }
        _ => None,
    }
}

/// The body of the HTTP response mongod sends to an HTTP request on its
/// driver port.
const MONGO_OVER_HTTP: &[u8] =
    b"It looks like you are trying to access MongoDB over HTTP on the native driver port.";

/// MongoDB: a reply (OP_REPLY 1 or OP_MSG 2013) whose `responseTo` is our
/// isMaster's requestID; or the HTTP response mongod sends to an HTTP request.
fn mongo(data: &[u8]) -> Option<Identified> {
    if data.starts_with(b"HTTP/1.") {
        let said = data
            .windows(MONGO_OVER_HTTP.len())
            .any(|w| w == MONGO_OVER_HTTP);
        return said.then(|| found("mongodb", None, b"")).flatten();
    }
    let len = le32(data, 0)? as usize;
    let ok = (16..=48_000_000).contains(&len)
        && le32(data, 8)? == MONGO_REQUEST_ID
        && matches!(le32(data, 12)?, 1 | 2013);
    ok.then_some(())?;
    found("mongodb", None, b"")
}

/// LDAP (RFC 4511): an LDAPMessage (`SEQUENCE`) with our messageID and a
/// BindResponse (`[APPLICATION 1]`) carrying an ENUMERATED resultCode, or
/// a Notice of Disconnection (messageID 0, ExtendedResponse).
fn ldap(data: &[u8]) -> Option<Identified> {
    if *data.first()? != 0x30 {
        return None;
    }
    // BER length: short form or 0x81/0x82 long form.
    let (mut i, _) = match *data.get(1)? {
        l @ 0..=0x7f => (2, l as usize),
        0x81 => (3, *data.get(2)? as usize),
        0x82 => (4, be16(data, 2)? as usize),
        _ => return None,
    };
    if data.get(i..i + 2)? != [0x02, 0x01] {
        return None;
    }
    let id = *data.get(i + 2)?;
    let op = *data.get(i + 3)?;
    i += 4;
    i += match *data.get(i)? {
        0..=0x7f => 1,
        0x81 => 2,
        0x82 => 3,
        _ => return None,
    };
    let ok = ((id == LDAP_MESSAGE_ID && op == 0x61) || (id == 0 && op == 0x78))
        && data.get(i..i + 2)? == [0x0a, 0x01];
    ok.then_some(())?;
    let rc = *data.get(i + 2)?;
    found("ldap", Some(format!("resultCode {rc}")), b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(d: &[u8], sent: Option<Hello>, port: u16) -> Option<&'static str> {
        identify(d, sent, port).map(|i| i.protocol)
    }

    #[test]
    fn ftp_and_smtp_are_told_apart_by_text_then_port() {
        let cases: &[(&[u8], u16, Option<&str>)] = &[
            (b"220 (vsFTPd 3.0.3)\r\n", 2525, Some("ftp")),
            (
                b"220 mail.example.com ESMTP Postfix (Debian/GNU)\r\n",
                21,
                Some("smtp"),
            ),
            (b"220 ftp.example.com ESMTP Exim 4.96\r\n", 21, Some("smtp")),
            (
                b"220-FileZilla Server 1.8.0\r\n220 Please visit\r\n",
                8021,
                Some("ftp"),
            ),
            (b"220 ProFTPD Server (Debian)\r\n", 9999, Some("ftp")),
            (b"220 Microsoft FTP Service\r\n", 9999, Some("ftp")),
            (
                b"220 host Microsoft ESMTP MAIL Service ready\r\n",
                9999,
                Some("smtp"),
            ),
            // Names neither: the port decides, or nobody does.
            (b"220 Welcome\r\n", 21, Some("ftp")),
            (b"220 Welcome\r\n", 25, Some("smtp")),
            (b"220 Welcome\r\n", 8080, None),
            (
                b"220-Welcome\r\n220-to\r\n220 our FTP site\r\n",
                8080,
                Some("ftp"),
            ),
            (b"2200 nope\r\n", 21, None),
        ];
        for (d, port, want) in cases {
            assert_eq!(
                name(d, None, *port),
                *want,
                "{:?}",
                String::from_utf8_lossy(d)
            );
        }
    }

    /// Variants no Debian daemon in our captures sent, built from the
    /// specifications or the servers' sources as cited.
    #[test]
    fn spec_built_variants_are_named() {
        let mut mysql_err = vec![0, 0, 0, 0, 0xff, 0x6a, 0x04];
        mysql_err.extend_from_slice(
            b"Host '198.18.0.1' is not allowed to connect to this MariaDB server",
        );
        mysql_err[0] = (mysql_err.len() - 4) as u8;
        let mut smb1 = vec![0, 0, 0, 0x40];
        smb1.extend_from_slice(b"\xffSMB\x72");
        smb1.resize(4 + 0x40, 0);
        let cases: &[(&[u8], Option<Hello>, &str)] = &[
            // redis networking.c, protected mode
            (b"-DENIED Redis is running in protected mode because protected mode is enabled\r\n", Some(Hello::Redis), "redis"),
            (&mysql_err, None, "mysql"),
            (b"NOTICE AUTH :*** Looking up your hostname...\r\n", None, "irc"),
            (b":irc.example.net NOTICE * :*** Looking up your hostname...\r\n", None, "irc"),
            (b":irc.example.net 001 synsweep :Welcome\r\n", Some(Hello::Irc), "irc"),
            // RFC 4511 4.4.1 Notice of Disconnection, resultCode protocolError (2)
            (b"\x30\x0c\x02\x01\x00\x78\x07\x0a\x01\x02\x04\x00\x04\x00", Some(Hello::Ldap), "ldap"),
            (&smb1, Some(Hello::Smb), "smb"),
            // AMQP 0-9-1 Connection.Start with empty server properties
            (b"\x01\x00\x00\x00\x00\x00\x0c\x00\x0a\x00\x0a\x00\x09\x00\x00\x00\x00\x00\x00\x00\x00\xce", Some(Hello::Amqp), "amqp"),
            // IAC SB TERMINAL-TYPE SEND IAC SE, then IAC DO ECHO
            (b"\xff\xfa\x18\x01\xff\xf0\xff\xfd\x01", None, "telnet"),
            (b"R\x00\x00\x00\x0c\x00\x00\x00\x05\xaa\xbb\xcc\xdd", Some(Hello::Postgres), "postgresql"),
            (b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n\r\n", Some(Hello::Rtsp), "rtsp"),
            (b"* PREAUTH [CAPABILITY IMAP4rev1] ready\r\n", None, "imap"),
            (b"SSH-1.99-Cisco-1.25\r\n", None, "ssh"),
            (b"HTTP/1.0 200 OK\r\nserver: Caddy\r\n\r\n", Some(Hello::Http), "http"),
        ];
        for (d, sent, want) in cases {
            assert_eq!(
                name(d, *sent, 4444),
                Some(*want),
                "{:?}",
                String::from_utf8_lossy(d)
            );
        }
        assert_eq!(identify(&mysql_err, None, 3306).unwrap().detail, None);
        assert_eq!(
            identify(b"HTTP/1.0 200 OK\r\nserver: Caddy\r\n\r\n", None, 80)
                .unwrap()
                .detail
                .as_deref(),
            Some("Caddy")
        );
    }

    #[test]
    fn near_misses_stay_unknown() {
        let cases: &[&[u8]] = &[
            b"SSH-3.0-x\r\n",
            b"SSH-2.0-\r\n",
            b"HTTP/1.1 999 x\r\n",
            b"HTTP/1.1 20\r\n",
            b"HTTP/2 200\r\n",
            b"+OKAY\r\n",
            b"* OKAY\r\n",
            b"RFB 003.008",
            b"VERSION\r\n",
            b"VERSION 1.6",
            b"+PON",
            b"-ERR unknown command\r\n",
            b"hello world\r\n",
            b"\xff\x01\x02",
            b"\x16\x03\x01\x00\x02\x02\x28", // handshake record, not a ServerHello
            b"\x15\x03\x03\x00\x03\x02\x28\x00", // alert of the wrong length
            b"\x00\x00\x00\x10\xfdSMB",
            b"PRIVMSG x :y\r\n",
            b": NOTICE x\r\n",
        ];
        for d in cases {
            for sent in super::super::hello::ALL
                .iter()
                .map(|h| Some(*h))
                .chain([None])
            {
                assert_eq!(
                    name(d, sent, 4444),
                    None,
                    "{:?} with {sent:?}",
                    String::from_utf8_lossy(d)
                );
            }
        }
    }

    #[test]
    fn tls_versions_from_server_hello() {
        fn server_hello(legacy: u16, supported: Option<u16>) -> Vec<u8> {
            let mut h = legacy.to_be_bytes().to_vec();
            h.extend([0x11; 32]);
            h.push(0);
            h.extend([0x13, 0x01, 0x00]);
            let mut exts = Vec::new();
            exts.extend([0xff, 0x01, 0x00, 0x01, 0x00]);
            if let Some(v) = supported {
                exts.extend([0x00, 0x2b, 0x00, 0x02]);
                exts.extend(v.to_be_bytes());
            }
            h.extend((exts.len() as u16).to_be_bytes());
            h.extend(exts);
            let mut hs = vec![2, 0, 0, h.len() as u8];
            hs.extend(h);
            let mut r = vec![0x16, 0x03, 0x03, 0, hs.len() as u8];
            r.extend(hs);
            r
        }
        let v = |d: &[u8]| identify(d, Some(Hello::Tls), 443).and_then(|i| i.detail);
        assert_eq!(
            v(&server_hello(0x0303, Some(0x0304))).as_deref(),
            Some("TLSv1.3")
        );
        assert_eq!(v(&server_hello(0x0303, None)).as_deref(), Some("TLSv1.2"));
        assert_eq!(v(&server_hello(0x0302, None)).as_deref(), Some("TLSv1.1"));
        assert_eq!(v(&server_hello(0x0301, None)).as_deref(), Some("TLSv1.0"));
        // Cut before supported_versions: the protocol is known, the version not.
        let full = server_hello(0x0303, Some(0x0304));
        let cut = &full[..full.len() - 3];
        let i = identify(cut, Some(Hello::Tls), 443).unwrap();
        assert_eq!((i.protocol, i.detail), ("tls", None));
        // ... but a 1.0 legacy field cannot turn into 1.3.
        let full = server_hello(0x0301, None);
        assert_eq!(v(&full[..50]).as_deref(), Some("TLSv1.0"));
        // An alert: TLS, version unknown.
        let a = identify(b"\x15\x03\x01\x00\x02\x02\x46", Some(Hello::Http), 443).unwrap();
        assert_eq!((a.protocol, a.detail), ("tls", None));
    }

    #[test]
    fn replies_are_named_whatever_hello_was_sent() {
        let hints: Vec<Option<Hello>> = super::super::hello::ALL
            .iter()
            .map(|h| Some(*h))
            .chain([None])
            .collect();
        let connack = b"\x20\x02\x00\x05";
        let bind = b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00";
        let md5 = b"R\x00\x00\x00\x0c\x00\x00\x00\x05\x01\x02\x03\x04";
        for h in &hints {
            assert_eq!(name(connack, *h, 1883), Some("mqtt"), "{h:?}");
            assert_eq!(name(bind, *h, 389), Some("ldap"), "{h:?}");
            assert_eq!(name(md5, *h, 5432), Some("postgresql"), "{h:?}");
        }
        // A CONNACK is the whole reply; a wrong length is not one.
        assert_eq!(name(b"\x20\x02\x00\x05GET", None, 1883), None);
        assert_eq!(name(b"\x20\x03\x00\x00", None, 1883), None);
        // MQTT 5: reason code and properties.
        assert_eq!(name(b"\x20\x03\x00\x84\x00", None, 1883), Some("mqtt"));
        assert_eq!(name(b"\x20\x03\x00\x05\x00", None, 1883), None);
        // PostgreSQL's requests have the lengths their codes fix.
        assert_eq!(
            name(
                b"R\x00\x00\x00\x0c\x00\x00\x00\x00\x01\x02\x03\x04",
                None,
                5432
            ),
            None
        );
        assert_eq!(name(b"R\x00\x00\x00\x08\x00\x00\x00\x0c", None, 5432), None);
        // A bare X.224 Connection Confirm is what any ISO-TSAP service
        // answers a connection request with: RDP only after RDP's request.
        let cc = b"\x03\x00\x00\x0b\x06\xd0\x00\x00\x12\x34\x00";
        assert_eq!(name(cc, Some(Hello::Rdp), 3389), Some("rdp"));
        assert_eq!(name(cc, Some(Hello::Http), 102), None);
        assert_eq!(name(cc, None, 3389), None);
    }

    /// A server's own error to another protocol's hello, in its own words.
    /// Built from the servers' sources and nmap-service-probes' matches.
    #[test]
    fn errors_to_another_protocols_hello_are_named() {
        let cases: &[(&[u8], &str)] = &[
            // Postfix after an HTTP request, on a port no protocol is known for.
            (b"220 mail.lab.test\r\n500 5.5.2 Error: bad syntax\r\n", "smtp"),
            (b"220 mail.lab.test\r\n502 5.5.2 Error: command not recognized\r\n", "smtp"),
            (b"554 5.7.1 No SMTP service here\r\n", "smtp"),
            (b"421 4.3.2 Service not available, closing transmission channel\r\n", "smtp"),
            // vsftpd / pure-ftpd after an HTTP request.
            (b"220 Welcome\r\n530 Please login with USER and PASS.\r\n", "ftp"),
            (b"220-Welcome\r\n  to this host\r\n220 ready\r\n530 You aren't logged in\r\n", "ftp"),
            (b"500 OOPS: vsftpd: refusing to run with writable root inside chroot()\r\n", "ftp"),
            (b"-ERR [SYS/TEMP] Too many connections\r\n", "pop3"),
            (b"-ERR [IN-USE] Mailbox locked\r\n", "pop3"),
            (b"* BAD Invalid tag\r\n", "imap"),
            (b"-ERR unknown command 'GET'\r\n", "redis"),
            (b"-ERR unknown command `GET`, with args beginning with: `/`, `HTTP/1.1`, \r\n", "redis"),
            (b"-ERR wrong number of arguments for 'get' command\r\n", "redis"),
            (b"-DENIED Redis is running in protected mode\r\n", "redis"),
            (b"-NOAUTH Authentication required.\r\n", "redis"),
            (b"ERROR\r\nERROR\r\nERROR\r\n", "memcached"),
            (b"CLIENT_ERROR bad command line format\r\n", "memcached"),
            (b"ERROR :Closing Link: [198.18.0.1] (Throttled: Reconnecting too fast)\r\n", "irc"),
            (b"ERROR :Closing connection\r\n", "irc"),
            (b":irc.lab.test 451 * :Connection not registered\r\n", "irc"),
            (b"RTSP/1.0 400 Bad Request\r\nCSeq: 0\r\n\r\n", "rtsp"),
            (b"Protocol mismatch.\n", "ssh"),
            (b"AMQP\x00\x00\x09\x01", "amqp"),
            (b"AMQP\x03\x01\x00\x00", "amqp"),
            (b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27", "telnet"),
            (b"RFB 003.003\n", "vnc"),
            (b"HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 85\r\n\r\nIt looks like you are trying to access MongoDB over HTTP on the native driver port.\r\n", "mongodb"),
            // RDP_NEG_FAILURE (MS-RDPBCGR 2.2.1.2.2): SSL required by server.
            (b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x03\x00\x08\x00\x01\x00\x00\x00", "rdp"),
            // SMB2 header with an error status (STATUS_NOT_SUPPORTED).
            (b"\x00\x00\x00\x48\xfeSMB\x40\x00\x00\x00\xbb\x00\x00\xc0\x00\x00", "smb"),
            // LDAP BindResponse, protocolError (2).
            (b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x02\x04\x00\x04\x00", "ldap"),
            // PostgreSQL ErrorResponse and NoticeResponse.
            (b"E\x00\x00\x00\x29SFATAL\x00C0A000\x00Munsupported protocol\x00\x00", "postgresql"),
            (b"N\x00\x00\x00\x1bSNOTICE\x00C00000\x00Mhello\x00\x00", "postgresql"),
        ];
        let hints: Vec<Option<Hello>> = super::super::hello::ALL
            .iter()
            .map(|h| Some(*h))
            .chain([None])
            .collect();
        for (d, want) in cases {
            for h in &hints {
                assert_eq!(
                    name(d, *h, 4444),
                    Some(*want),
                    "{:?} after {h:?}",
                    String::from_utf8_lossy(d)
                );
            }
        }
        // MySQL's errors before the handshake: too many connections (1040),
        // whole, and host not allowed (1130) naming the server.
        let mut too_many = vec![0, 0, 0, 0, 0xff, 0x10, 0x04];
        too_many.extend_from_slice(b"Too many connections");
        too_many[0] = (too_many.len() - 4) as u8;
        assert_eq!(name(&too_many, Some(Hello::Http), 8080), Some("mysql"));
        // ... but not cut short or with an unknown code: anyone's bytes.
        assert_eq!(name(&too_many[..too_many.len() - 1], None, 8080), None);
        let mut other = too_many.clone();
        other[5] = 0x11;
        assert_eq!(name(&other, None, 8080), None);
    }

    /// Replies that look like two protocols at once name none, and the
    /// bare words several protocols use name none either.
    #[test]
    fn ambiguous_replies_name_nothing() {
        let cases: &[&[u8]] = &[
            // SMTP codes and an FTP login demand: which one?
            b"220 Welcome\r\n500 5.5.1 Unknown\r\n530 Please login with USER and PASS.\r\n",
            // A 220 naming neither, nothing after it, on no known port.
            b"220 Welcome\r\n",
            // A lone ERROR, a bare -ERR, a 421 without SMTP's words.
            b"ERROR\r\n",
            b"-ERR\r\n",
            b"-ERR Unknown command.\r\n",
            b"-ERR [FOO] x\r\n",
            b"421 Too many connections\r\n",
            b"ERROR: something else\r\n",
            b"ERROR :no line end",
            b"ERROR : \r\n",
            b"ERROR\r\nPONG\r\n",
            // An enhanced code of the wrong class.
            b"220 Welcome\r\n500 2.5.1 x\r\n",
            b"AMQP\x00\x00\x09\x01more",
            b"AMQP\xff\x00\x09\x01",
            // MongoDB's sentence in something that is not an HTTP response.
            b"It looks like you are trying to access MongoDB over HTTP on the native driver port.",
        ];
        for d in cases {
            assert_eq!(
                name(d, Some(Hello::Http), 4444),
                None,
                "{:?}",
                String::from_utf8_lossy(d)
            );
            assert_eq!(
                name(d, None, 4444),
                None,
                "{:?}",
                String::from_utf8_lossy(d)
            );
        }
    }

    #[test]
    fn banners_and_details_are_bounded_and_printable() {
        let mut d = b"SSH-2.0-".to_vec();
        d.extend(std::iter::repeat_n(b'A', 5000));
        let i = identify(&d, None, 22).unwrap();
        assert_eq!(i.banner.len(), BANNER_MAX);
        assert_eq!(i.detail.unwrap().len(), DETAIL_MAX);
        // A control character in a greeting line: not a text protocol.
        assert_eq!(name(b"SSH-2.0-x\x1b[31m\r\n", None, 22), None);
        assert_eq!(super::super::raw_banner(b"abc\r\ndef"), b"abc");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn hellos() -> impl Strategy<Value = Option<Hello>> {
            prop::option::of(prop::sample::select(
                super::super::super::hello::ALL.to_vec(),
            ))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]

            #[test]
            fn arbitrary_bytes_never_panic(
                d in prop::collection::vec(any::<u8>(), 0..600),
                sent in hellos(),
                port in any::<u16>(),
            ) {
                if let Some(i) = identify(&d, sent, port) {
                    prop_assert!(super::super::super::PROTOCOLS.contains(&i.protocol));
                    prop_assert!(i.banner.len() <= BANNER_MAX);
                    if let Some(x) = &i.detail {
                        prop_assert!(x.len() <= DETAIL_MAX && printable(x.as_bytes()));
                    }
                }
            }

            /// Every parser on its own (`identify` stops at the first match).
            #[test]
            fn every_parser_alone_never_panics(
                d in prop::collection::vec(any::<u8>(), 0..400),
                port in any::<u16>(),
                flag in any::<bool>(),
            ) {
                let _ = ssh(&d);
                let _ = status_line(&d, b"HTTP/1.", "http");
                let _ = status_line(&d, b"RTSP/1.", "rtsp");
                let _ = ftp_smtp(&d, port);
                let _ = pop3(&d);
                let _ = imap(&d);
                let _ = vnc(&d);
                let _ = rsync(&d);
                let _ = redis(&d);
                let _ = memcached(&d);
                let _ = irc(&d);
                let _ = tls(&d);
                let _ = smb(&d);
                let _ = mysql(&d);
                let _ = amqp(&d);
                let _ = rdp(&d, flag);
                let _ = telnet(&d);
                let _ = mqtt(&d);
                let _ = postgres(&d);
                let _ = mongo(&d);
                let _ = ldap(&d);
            }

            /// Bytes that start like each protocol reach deep into its parser.
            #[test]
            fn protocol_shaped_bytes_never_panic(
                prefix in prop::sample::select(vec![
                    &b"SSH-2.0-"[..], b"HTTP/1.1 200 ", b"220 ", b"+OK", b"* OK ", b"RFB ",
                    b"@RSYNCD: ", b"$", b"VERSION ", b":", b"\x16\x03\x03", b"\x15\x03\x01\x00\x02",
                    b"\x00\x00\x00\x40\xfeSMB", b"\x00\x00\x00\x40\xffSMB", b"\x4a\x00\x00\x00\x0a",
                    b"\x20\x00\x00\xff", b"AMQP", b"\x01\x00\x00", b"\x03\x00\x00\x13\x0e\xd0",
                    b"\xff\xfb", b"\xff\xfa", b"\x20\x02", b"R\x00\x00\x00", b"E\x00\x00\x00",
                    b"\x30\x82", b"\x30\x0c\x02\x01\x01\x61",
                ]),
                rest in prop::collection::vec(any::<u8>(), 0..300),
                sent in hellos(),
                port in any::<u16>(),
            ) {
                let mut d = prefix.to_vec();
                d.extend(rest);
                for n in 0..=d.len() {
                    let _ = identify(&d[..n], sent, port);
                }
            }
        }
    }
}
