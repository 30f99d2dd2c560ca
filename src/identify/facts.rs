//! Service facts: what a service states about itself in the first bytes it
//! sent, beyond its protocol's name. Pure parsers, bytes in, facts out.
//!
//! - [`http`]: status, `Server`, `<title>` and `Location` of an HTTP
//!   response (the answer to the plain `GET /` identification sends; over
//!   TLS nothing is decrypted, so HTTPS ports carry no `http` facts);
//! - [`product_version`]: the software and version a greeting, header or
//!   handshake names: SSH (`SSH-2.0-OpenSSH_9.2p1 ...`), FTP/SMTP/POP3/IMAP
//!   greetings that name a known server (`220 (vsFTPd 3.0.3)`,
//!   `ESMTP Exim 4.96`), the HTTP/RTSP `Server` header (`nginx/1.22.1`),
//!   the MySQL/MariaDB handshake (`5.5.5-10.11.6-MariaDB`), redis `INFO`
//!   (`redis_version:`), memcached `VERSION`, AMQP server properties.
//!
//! Everything here is attacker-controlled text: every string returned is
//! escaped and bounded by [`crate::finding::escape_banner`] (printable
//! ASCII, `\xNN` for anything else), and no input can panic a parser.

use super::Identified;
use crate::finding::{Http, escape_banner};

/// Longest product or version text (after escaping).
pub const NAME_MAX: usize = 64;
/// Longest `Server`, title or `Location` text (after escaping).
pub const TEXT_MAX: usize = 256;

/// What a service stated about itself (escaped and bounded).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub product: Option<String>,
    pub version: Option<String>,
    /// Boxed: most services state none, and identification keeps many
    /// of these at once.
    pub http: Option<Box<Http>>,
}

impl Facts {
    pub fn is_empty(&self) -> bool {
        *self == Facts::default()
    }
}

/// The facts of an identified service from the bytes it sent.
pub fn facts(id: &Identified, data: &[u8]) -> Facts {
    let http = match id.protocol {
        "http" => http(data),
        _ => None,
    };
    let (product, version) = match product_version(id, data) {
        Some((p, v)) => (Some(p), v),
        None => (None, None),
    };
    Facts {
        product,
        version,
        http: http.map(Box::new),
    }
}

// ---------------------------------------------------------------- helpers

/// The lines of `data`, without their CR LF (or LF).
pub(super) fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// The value of header `name` (any case) of an HTTP-style head: the
/// header lines after the first, up to the empty line; the bytes after the
/// colon, untrimmed.
pub(super) fn header<'a>(data: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    lines(data)
        .skip(1)
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let colon = l.iter().position(|&b| b == b':')?;
            l[..colon]
                .eq_ignore_ascii_case(name)
                .then(|| &l[colon + 1..])
        })
}

fn first_line(data: &[u8]) -> &[u8] {
    lines(data).next().unwrap_or_default()
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn text(s: &[u8], max: usize) -> Option<String> {
    let s = s.trim_ascii();
    (!s.is_empty()).then(|| escape_banner(s, max))
}

/// A version token at the start of `s`: an optional `v`, then a digit,
/// then digits, letters and `._+~-`, up to whatever else (space, `,`,
/// `;`, `/`, `)`).
fn version_token(s: &[u8]) -> Option<&[u8]> {
    let s = s.trim_ascii_start();
    let s = match s {
        [b'v' | b'V', d, ..] if d.is_ascii_digit() => &s[1..],
        _ => s,
    };
    if !s.first()?.is_ascii_digit() {
        return None;
    }
    let end = s
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || b"._+~-".contains(b)))
        .unwrap_or(s.len());
    let v = s[..end].trim_ascii_end();
    let v = v.strip_suffix(b".").unwrap_or(v);
    (!v.is_empty()).then_some(v)
}

fn name_version(product: &[u8], version: Option<&[u8]>) -> Option<(String, Option<String>)> {
    let p = text(product, NAME_MAX)?;
    Some((p, version.and_then(|v| text(v, NAME_MAX))))
}

// ---------------------------------------------------------------- HTTP

/// The facts of an HTTP response (`HTTP/1.x NNN ...`): status, `Server`,
/// `Location`, and the `<title>` when the body's start was captured.
pub fn http(data: &[u8]) -> Option<Http> {
    let line = first_line(data);
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let status = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let mut http = Http {
        status,
        ..Http::default()
    };
    let mut ended = false;
    for l in lines(data).skip(1) {
        if l.is_empty() {
            ended = true;
            break;
        }
        let Some(colon) = l.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&l[..colon], &l[colon + 1..]);
        if name.eq_ignore_ascii_case(b"server") && http.server.is_none() {
            http.server = text(value, TEXT_MAX);
        } else if name.eq_ignore_ascii_case(b"location") && http.location.is_none() {
            http.location = text(value, TEXT_MAX);
        }
    }
    if ended {
        let body = match data.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(i) => &data[i + 4..],
            None => data
                .windows(2)
                .position(|w| w == b"\n\n")
                .map_or(&[][..], |i| &data[i + 2..]),
        };
        http.title = title(body);
    }
    Some(http)
}

/// The character references a title commonly holds.
const ENTITIES: [(&[u8], u8); 6] = [
    (b"&amp;", b'&'),
    (b"&lt;", b'<'),
    (b"&gt;", b'>'),
    (b"&quot;", b'"'),
    (b"&#39;", b'\''),
    (b"&nbsp;", b' '),
];

/// The text of the first `<title>...</title>` of an HTML body: entities
/// `&amp; &lt; &gt; &quot; &#39; &nbsp;` decoded, runs of white space made
/// one space, escaped and bounded. None without a closing tag (a title cut
/// off by the capture is not shown half).
pub fn title(body: &[u8]) -> Option<String> {
    let at = find_ci(body, b"<title")?;
    let rest = &body[at + 6..];
    // `<title>` or `<title attr=...>`, not `<titles>`.
    if !matches!(
        rest.first(),
        Some(b'>') | Some(b' ' | b'\t' | b'\r' | b'\n')
    ) {
        return None;
    }
    let open = rest.iter().position(|&b| b == b'>')?;
    let rest = &rest[open + 1..];
    let end = find_ci(rest, b"</title")?;
    let raw = &rest[..end];
    let mut out = Vec::with_capacity(raw.len().min(TEXT_MAX * 2));
    let mut i = 0;
    while i < raw.len() && out.len() < TEXT_MAX * 2 {
        let entity = ENTITIES.iter().find(|(e, _)| raw[i..].starts_with(e));
        let (b, n) = match entity {
            Some((e, c)) => (*c, e.len()),
            None => (raw[i], 1),
        };
        i += n;
        if b.is_ascii_whitespace() {
            if out.last().is_some_and(|&l| l != b' ') {
                out.push(b' ');
            }
        } else {
            out.push(b);
        }
    }
    text(&out, TEXT_MAX)
}

/// `product/version rest` (a `Server` header): the product and version of
/// its first token.
fn server_header(s: &[u8]) -> Option<(String, Option<String>)> {
    let s = s.trim_ascii();
    let token = s.split(|b| b.is_ascii_whitespace()).next()?;
    match token.iter().position(|&b| b == b'/') {
        Some(slash) => name_version(&token[..slash], version_token(&token[slash + 1..])),
        None => name_version(token, None),
    }
}

// ---------------------------------------------------------------- products

/// The product and version a service states, when it states one.
pub fn product_version(id: &Identified, data: &[u8]) -> Option<(String, Option<String>)> {
    match id.protocol {
        "ssh" => ssh(data),
        "http" | "rtsp" => server_header(header(data, b"server")?),
        "ftp" | "smtp" | "pop3" | "imap" => greeting(data),
        "mysql" => mysql(id.detail.as_deref()?.as_bytes()),
        "redis" => {
            let v = id.detail.as_deref()?;
            name_version(b"Redis", Some(v.as_bytes()))
        }
        "memcached" => {
            let v = first_line(data).strip_prefix(b"VERSION ")?;
            name_version(b"memcached", version_token(v))
        }
        "amqp" => {
            // `product version` from the server properties.
            let d = id.detail.as_deref()?.as_bytes();
            if d.starts_with(b"AMQP ") {
                return None;
            }
            match d.iter().rposition(|&b| b == b' ') {
                Some(sp) => name_version(&d[..sp], version_token(&d[sp + 1..])),
                None => name_version(d, None),
            }
        }
        _ => None,
    }
}

/// SSH (RFC 4253 4.2): `SSH-2.0-softwareversion SP comments`; the software
/// version is `Product_version` by convention (OpenSSH, dropbear, libssh),
/// sometimes `Product-version`.
fn ssh(data: &[u8]) -> Option<(String, Option<String>)> {
    let line = first_line(data);
    let rest = line.strip_prefix(b"SSH-")?;
    let dash = rest.iter().position(|&b| b == b'-')?;
    let software = rest[dash + 1..].split(|b| b.is_ascii_whitespace()).next()?;
    if software.is_empty() {
        return None;
    }
    for sep in [b'_', b'-'] {
        if let Some(at) = software
            .iter()
            .enumerate()
            .position(|(i, &b)| b == sep && software.get(i + 1).is_some_and(u8::is_ascii_digit))
            && at > 0
        {
            return name_version(&software[..at], version_token(&software[at + 1..]));
        }
    }
    name_version(software, None)
}

/// Servers known to name themselves in an FTP, SMTP, POP3 or IMAP
/// greeting: the words to look for, and the product as it calls itself.
const GREETERS: [(&[u8], &str); 14] = [
    (b"vsFTPd", "vsFTPd"),
    (b"ProFTPD", "ProFTPD"),
    (b"Pure-FTPd", "Pure-FTPd"),
    (b"FileZilla Server", "FileZilla Server"),
    (b"Microsoft FTP Service", "Microsoft FTP Service"),
    (
        b"Microsoft ESMTP MAIL Service",
        "Microsoft ESMTP MAIL Service",
    ),
    (b"Postfix", "Postfix"),
    (b"Exim", "Exim"),
    (b"Sendmail", "Sendmail"),
    (b"OpenSMTPD", "OpenSMTPD"),
    (b"Dovecot", "Dovecot"),
    (b"Cyrus IMAP", "Cyrus IMAP"),
    (b"Courier-IMAP", "Courier-IMAP"),
    (b"Courier", "Courier"),
];

/// A text greeting (`220 ...`, `+OK ...`, `* OK ...`, every line of a
/// multi-line `220-` one) that names a known server, with the version that
/// follows its name (`vsFTPd 3.0.3`, `Exim 4.96`, `Sendmail
/// 8.17.1.9/8.17.1.9`, `Cyrus IMAP v2.4.17`, `..., Version: 10.0.17763.1`).
fn greeting(data: &[u8]) -> Option<(String, Option<String>)> {
    for l in lines(data).take(16) {
        for (needle, name) in GREETERS {
            let Some(at) = find_ci(l, needle) else {
                continue;
            };
            // A whole word: not `Eximious`.
            let after = &l[at + needle.len()..];
            if after.first().is_some_and(u8::is_ascii_alphanumeric)
                || (at > 0 && l[at - 1].is_ascii_alphanumeric())
            {
                continue;
            }
            let after = after.strip_prefix(b",").unwrap_or(after);
            let after = after.trim_ascii_start();
            let after = after.strip_prefix(b"Version:").unwrap_or(after);
            return name_version(name.as_bytes(), version_token(after));
        }
    }
    None
}

/// The MySQL/MariaDB server version of the initial handshake: MariaDB
/// says `5.5.5-10.11.6-MariaDB-0+deb12u1` (a 5.5.5 prefix for old
/// clients), MySQL `8.0.36` or `8.0.36-0ubuntu0.22.04.1`.
fn mysql(v: &[u8]) -> Option<(String, Option<String>)> {
    let maria = find_ci(v, b"mariadb").is_some();
    let v = if maria {
        v.strip_prefix(b"5.5.5-").unwrap_or(v)
    } else {
        v
    };
    let num = v.split(|&b| b == b'-').next()?;
    let num = version_token(num).filter(|n| n.len() == num.len())?;
    name_version(if maria { b"MariaDB" } else { b"MySQL" }, Some(num))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identify::{Hello, identify};

    fn pv(data: &[u8], sent: Option<Hello>, port: u16) -> Option<(String, Option<String>)> {
        let id = identify(data, sent, port).expect("identified");
        product_version(&id, data)
    }

    fn some(p: &str, v: Option<&str>) -> Option<(String, Option<String>)> {
        Some((p.to_string(), v.map(str::to_string)))
    }

    #[test]
    fn ssh_software_versions() {
        // What Debian 12's sshd says (`ssh -V` / `sshd -V`: OpenSSH_9.2p1 Debian-2+deb12u3).
        assert_eq!(
            pv(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", None, 22),
            some("OpenSSH", Some("9.2p1"))
        );
        assert_eq!(
            pv(b"SSH-2.0-dropbear_2022.83\r\n", None, 22),
            some("dropbear", Some("2022.83"))
        );
        assert_eq!(
            pv(b"SSH-2.0-libssh_0.10.4\r\n", None, 22),
            some("libssh", Some("0.10.4"))
        );
        assert_eq!(
            pv(b"SSH-1.99-Cisco-1.25\r\n", None, 22),
            some("Cisco", Some("1.25"))
        );
        assert_eq!(pv(b"SSH-2.0-ROSSSH\r\n", None, 22), some("ROSSSH", None));
        assert_eq!(
            pv(b"SSH-2.0-OpenSSH_for_Windows_8.1\r\n", None, 22),
            some("OpenSSH_for_Windows", Some("8.1"))
        );
    }

    #[test]
    fn greetings_that_name_their_server() {
        // Debian 12's vsftpd 3.0.3.
        assert_eq!(
            pv(b"220 (vsFTPd 3.0.3)\r\n", None, 21),
            some("vsFTPd", Some("3.0.3"))
        );
        assert_eq!(
            pv(
                b"220 ProFTPD 1.3.5e Server (Debian) [::ffff:198.19.0.4]\r\n",
                None,
                21
            ),
            some("ProFTPD", Some("1.3.5e"))
        );
        assert_eq!(
            pv(
                b"220 ProFTPD Server (Debian) [::ffff:198.19.0.4]\r\n",
                None,
                21
            ),
            some("ProFTPD", None)
        );
        assert_eq!(
            pv(
                b"220-FileZilla Server 1.7.0\r\n220 Please visit https://filezilla-project.org/\r\n",
                None,
                21
            ),
            some("FileZilla Server", Some("1.7.0"))
        );
        assert_eq!(
            pv(
                b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n",
                None,
                25
            ),
            some("Postfix", None)
        );
        assert_eq!(
            pv(
                b"220 mx.example.org ESMTP Exim 4.96 Sun, 06 Dec 2026 20:00:00 +0000\r\n",
                None,
                25
            ),
            some("Exim", Some("4.96"))
        );
        assert_eq!(
            pv(
                b"220 mx.example.org ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2; Sun, 6 Dec 2026\r\n",
                None,
                25
            ),
            some("Sendmail", Some("8.17.1.9"))
        );
        assert_eq!(
            pv(
                b"220 ex01 Microsoft ESMTP MAIL Service, Version: 10.0.17763.1 ready at Sun\r\n",
                None,
                25
            ),
            some("Microsoft ESMTP MAIL Service", Some("10.0.17763.1"))
        );
        assert_eq!(
            pv(b"+OK Dovecot (Debian) ready.\r\n", None, 110),
            some("Dovecot", None)
        );
        assert_eq!(
            pv(
                b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
                None,
                143
            ),
            some("Dovecot", None)
        );
        assert_eq!(
            pv(
                b"* OK imap.example.org Cyrus IMAP v2.4.17 server ready\r\n",
                None,
                143
            ),
            some("Cyrus IMAP", Some("2.4.17"))
        );
        // A greeting that names nothing known states nothing.
        assert_eq!(pv(b"220 Welcome\r\n", None, 21), None);
        assert_eq!(pv(b"220 host ESMTP Eximious\r\n", None, 25), None);
    }

    #[test]
    fn http_server_headers() {
        let r = |server: &str| {
            format!("HTTP/1.1 200 OK\r\nServer: {server}\r\nContent-Length: 0\r\n\r\n").into_bytes()
        };
        for (server, want) in [
            ("nginx/1.22.1", some("nginx", Some("1.22.1"))),
            ("Apache/2.4.62 (Debian)", some("Apache", Some("2.4.62"))),
            ("Microsoft-IIS/10.0", some("Microsoft-IIS", Some("10.0"))),
            ("lighttpd/1.4.69", some("lighttpd", Some("1.4.69"))),
            ("nginx", some("nginx", None)),
            ("cloudflare", some("cloudflare", None)),
        ] {
            assert_eq!(pv(&r(server), Some(Hello::Http), 80), want, "{server}");
        }
        // No Server header: nothing stated.
        assert_eq!(
            pv(b"HTTP/1.1 204 No Content\r\n\r\n", Some(Hello::Http), 80),
            None
        );
        // RTSP too.
        assert_eq!(
            pv(
                b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: GStreamer RTSP server\r\n\r\n",
                Some(Hello::Rtsp),
                554
            ),
            some("GStreamer", None)
        );
    }

    #[test]
    fn binary_handshakes_and_replies() {
        // MariaDB 10.11.6 as Debian 12 ships it.
        let mut maria = vec![0, 0, 0, 0, 0x0a];
        maria.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0");
        maria.extend_from_slice(&[
            1, 0, 0, 0, b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h', 0,
        ]);
        maria[0] = (maria.len() - 4) as u8;
        assert_eq!(pv(&maria, None, 3306), some("MariaDB", Some("10.11.6")));
        let mut mysql = vec![0, 0, 0, 0, 0x0a];
        mysql.extend_from_slice(b"8.0.36-0ubuntu0.22.04.1\0");
        mysql.extend_from_slice(&[
            1, 0, 0, 0, b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h', 0,
        ]);
        mysql[0] = (mysql.len() - 4) as u8;
        assert_eq!(pv(&mysql, None, 3306), some("MySQL", Some("8.0.36")));
        // redis: INFO's redis_version when the reply carried it.
        let info =
            b"+PONG\r\n$120\r\n# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n";
        assert_eq!(
            pv(info, Some(Hello::Redis), 6379),
            some("Redis", Some("7.0.15"))
        );
        assert_eq!(pv(b"+PONG\r\n", Some(Hello::Redis), 6379), None);
        assert_eq!(
            pv(b"VERSION 1.6.18\r\n", Some(Hello::Memcached), 11211),
            some("memcached", Some("1.6.18"))
        );
    }

    #[test]
    fn amqp_server_properties() {
        let id = Identified {
            protocol: "amqp",
            detail: Some("RabbitMQ 3.10.8".into()),
            banner: Vec::new(),
            facts: Facts::default(),
        };
        assert_eq!(product_version(&id, b""), some("RabbitMQ", Some("3.10.8")));
        let id = Identified {
            detail: Some("AMQP 0-9-1".into()),
            ..id
        };
        assert_eq!(product_version(&id, b""), None);
    }

    #[test]
    fn http_facts_of_real_responses() {
        // What Debian 12's nginx sends for its default page (headers and
        // the start of the body).
        let nginx = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 06 Dec 2026 20:00:00 GMT\r\nContent-Type: text/html\r\nContent-Length: 615\r\nLast-Modified: Sun, 06 Dec 2026 19:00:00 GMT\r\nConnection: close\r\nETag: \"6575a8f0-267\"\r\nAccept-Ranges: bytes\r\n\r\n<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n<style>\nhtml { color-scheme: light dark; }\n";
        assert_eq!(
            http(nginx),
            Some(Http {
                status: 200,
                server: Some("nginx/1.22.1".into()),
                title: Some("Welcome to nginx!".into()),
                location: None,
            })
        );
        let redirect = b"HTTP/1.1 301 Moved Permanently\r\nServer: nginx\r\nLocation: https://198.19.0.4/\r\nContent-Length: 162\r\n\r\n<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n";
        let h = http(redirect).unwrap();
        assert_eq!(h.status, 301);
        assert_eq!(h.location.as_deref(), Some("https://198.19.0.4/"));
        assert_eq!(h.title.as_deref(), Some("301 Moved Permanently"));
        // Headers cut short: status and what was seen, no title.
        let cut = b"HTTP/1.0 404 Not Found\r\nServer: Apache/2.4.62 (Debian)\r\nContent-Ty";
        assert_eq!(
            http(cut),
            Some(Http {
                status: 404,
                server: Some("Apache/2.4.62 (Debian)".into()),
                title: None,
                location: None,
            })
        );
        assert_eq!(http(b"HTTP/1.1 2x0 OK\r\n\r\n"), None);
        assert_eq!(http(b"SSH-2.0-OpenSSH_9.2p1\r\n"), None);
    }

    #[test]
    fn titles_are_decoded_collapsed_and_need_their_closing_tag() {
        assert_eq!(
            title(b"<TITLE lang=en>\n  Tom &amp; Jerry&#39;s\n\t page </TITLE>").as_deref(),
            Some("Tom & Jerry's page")
        );
        assert_eq!(title(b"<title>cut off by the capt"), None);
        assert_eq!(title(b"<titles>x</titles>"), None);
        assert_eq!(title(b"<title></title>"), None);
        assert_eq!(title(b"no title here"), None);
    }

    #[test]
    fn hostile_text_is_escaped_and_bounded() {
        let mut r = b"HTTP/1.1 200 OK\r\nServer: =cmd|' /C calc'!A0\x1b[2J\r\nLocation: javascript:alert(1)\x07\r\n\r\n<title><script>alert(1)</script>\x1b]0;pwned\x07"
            .to_vec();
        r.extend(std::iter::repeat_n(b'A', 5000));
        r.extend_from_slice(b"\xff\xfe</title>");
        let h = http(&r).unwrap();
        let server = h.server.unwrap();
        assert_eq!(server, "=cmd|' /C calc'!A0\\x1b[2J");
        assert_eq!(h.location.as_deref(), Some("javascript:alert(1)\\x07"));
        let t = h.title.unwrap();
        assert!(t.starts_with("<script>alert(1)</script>\\x1b]0;pwned\\x07AAA"));
        assert!(t.len() <= TEXT_MAX && t.ends_with("..."));
        for s in [&server, &t] {
            assert!(s.bytes().all(|b| (0x20..0x7f).contains(&b)));
        }
        // Product and version too.
        let (p, v) = ssh(b"SSH-2.0-Evil\x1b[2J_9.9\xff\xfe Debian\r\n").unwrap();
        assert_eq!((p.as_str(), v.as_deref()), ("Evil\\x1b[2J", Some("9.9")));
        assert!(
            p.bytes()
                .chain(v.unwrap_or_default().bytes())
                .all(|b| (0x20..0x7f).contains(&b))
        );
        let long = format!(
            "HTTP/1.1 200 OK\r\nServer: {}/{}\r\n\r\n",
            "x".repeat(500),
            "1".repeat(500)
        );
        let (p, v) = pv(long.as_bytes(), Some(Hello::Http), 80).unwrap();
        assert!(p.len() <= NAME_MAX && v.unwrap().len() <= NAME_MAX);
    }

    #[test]
    fn facts_follow_the_protocol() {
        let data = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n<title>t</title>";
        let id = identify(data, Some(Hello::Http), 80).unwrap();
        let f = facts(&id, data);
        assert_eq!(f.product.as_deref(), Some("nginx"));
        assert_eq!(f.version.as_deref(), Some("1.22.1"));
        assert_eq!(f.http.unwrap().title.as_deref(), Some("t"));
        // identify() fills them in.
        assert_eq!(id.facts.version.as_deref(), Some("1.22.1"));
        let data = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
        let id = identify(data, None, 22).unwrap();
        assert!(id.facts.http.is_none());
        assert_eq!(id.facts.product.as_deref(), Some("OpenSSH"));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic_and_stay_printable(
                data in proptest::collection::vec(any::<u8>(), 0..600),
                prefix in prop::sample::select(vec![
                    &b""[..], b"HTTP/1.1 200 OK\r\nServer: ", b"SSH-2.0-", b"220 ",
                    b"+OK ", b"* OK ", b"VERSION ", b"\x30\x00\x00\x00\x0a5.5.5-",
                ]),
            ) {
                let mut d = prefix.to_vec();
                d.extend_from_slice(&data);
                let _ = title(&d);
                if let Some(h) = http(&d) {
                    for s in [h.server, h.title, h.location].into_iter().flatten() {
                        prop_assert!(s.len() <= TEXT_MAX);
                        prop_assert!(s.bytes().all(|b| (0x20..0x7f).contains(&b)));
                    }
                }
                for hello in std::iter::once(None).chain(crate::identify::hello::ALL.map(Some)) {
                    if let Some(id) = identify(&d, hello, 21) {
                        let f = &id.facts;
                        for s in [&f.product, &f.version].into_iter().flatten() {
                            prop_assert!(s.len() <= NAME_MAX);
                            prop_assert!(s.bytes().all(|b| (0x20..0x7f).contains(&b)));
                        }
                    }
                }
            }
        }
    }
}
