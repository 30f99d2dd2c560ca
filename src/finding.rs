//! The findings record: one open (or closed) port, as every writer and every
//! downstream tool sees it. Field names are a contract (../shared/DESIGN.md,
//! "Findings record"): add fields, never rename them.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::net::IpAddr;

/// What the scan saw on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum PortState {
    Open,
    Closed,
}

/// The main risk category of an open port, in priority order
/// risky > administrative > normal > other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Risky,
    Administrative,
    Normal,
    Other,
}

/// Severity of a finding, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];
}

/// What the reason of every aspect record starts with (`tls-version`,
/// `tls-cert-expired`, ...: `risk::protocol` names them), and no port's own
/// reason does (`syn-ack`, `rst`, `udp-response`, `icmp-port-unreach`).
pub const ASPECT_REASON_PREFIX: &str = "tls-";

/// One finding. Serializes to exactly the NDJSON record of DESIGN.md; the
/// optional fields are left out when absent (`pseudo` when false).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// IPv4 dotted quad or IPv6 in RFC 5952 text.
    pub ip: IpAddr,
    pub port: u16,
    /// `tcp` or `udp`.
    pub proto: String,
    pub state: PortState,
    /// What showed the state: `syn-ack`, `rst`, `udp-response`, `icmp-port-unreach`.
    pub reason: String,
    pub ttl: u8,
    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-22T02:35:54.123Z`.
    pub ts: String,
    pub service: String,
    /// The application protocol identified from what the service sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// First printable bytes the service sent, escaped and bounded (see
    /// [`escape_banner`]). Attacker-controlled: every writer neutralizes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    pub category: Category,
    pub severity: Severity,
    pub admin: bool,
    pub expected: bool,
    /// The host answers on every port without a real service (middlebox,
    /// tarpit): reported, but costs no score.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pseudo: bool,
    /// UDP: reply bytes / probe bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amplification: Option<f64>,
    /// The software a banner or handshake states (`OpenSSH`, `nginx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Its version as stated (`9.2p1`, `1.22.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// What a TLS handshake on the port showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Box<Tls>>,
    /// What the HTTP response (plain or over TLS) showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Box<Http>>,
    pub rationale: String,
    pub mitigation: String,
}

/// What a TLS handshake showed (DESIGN.md, "Findings record", `tls`). Every
/// text field is attacker-controlled: escaped and bounded like a banner.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tls {
    /// `TLSv1.0` .. `TLSv1.3`.
    pub version: String,
    /// IANA name of the negotiated cipher suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// The leaf certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<Cert>,
}

/// Facts of a leaf certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cert {
    pub subject: String,
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub san: Vec<String>,
    /// RFC 3339 UTC, to the second.
    pub not_before: String,
    pub not_after: String,
    /// `rsa`, `ec`, `ed25519`, `ed448`, `dsa` or `other`.
    pub key: String,
    pub key_bits: u32,
    /// Signature algorithm, as OpenSSL names it (`sha256WithRSAEncryption`).
    pub sig: String,
    pub self_signed: bool,
    /// SHA-256 of the DER certificate, lowercase hex.
    pub sha256: String,
}

/// Facts of an HTTP response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Http {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Ends `service` when the name is only the port's usual service: nothing
/// on the wire confirmed it (nmap writes `ftp?` likewise). Records written
/// before the mark existed carry the plain name; they read as before.
pub const GUESS_MARK: char = '?';

impl Finding {
    /// The service name without the guess mark (`ftp` for `ftp?`).
    pub fn service_name(&self) -> &str {
        self.service
            .strip_suffix(GUESS_MARK)
            .unwrap_or(&self.service)
    }

    /// Whether `service` is a guess from the port (it ends with
    /// [`GUESS_MARK`]).
    pub fn service_guessed(&self) -> bool {
        self.service.ends_with(GUESS_MARK)
    }

    /// A record of its own about an aspect of a port that has its main
    /// record too (a deprecated TLS version, reason `tls-version`; a
    /// certificate problem, reason `tls-cert-expired` ...): deduplication
    /// and diffs keep it apart from the port's record.
    pub fn is_aspect(&self) -> bool {
        self.aspect().is_some()
    }

    /// Which aspect a record is about (its `reason`), None for a port's own
    /// record: what keeps several aspects of one port apart.
    pub fn aspect(&self) -> Option<&str> {
        self.reason
            .starts_with(ASPECT_REASON_PREFIX)
            .then_some(self.reason.as_str())
    }

    /// A finding as the scan engine first makes it, before the risk
    /// categorizer fills in service, category, severity and advice.
    /// `proto` is `tcp` or `udp`; `reason` what showed the state
    /// (`syn-ack`, `rst`, `udp-response`, `icmp-port-unreach`).
    pub fn observed(
        ip: IpAddr,
        port: u16,
        proto: &str,
        state: PortState,
        reason: &str,
        ttl: u8,
        ts: std::time::SystemTime,
    ) -> Self {
        Finding {
            ip,
            port,
            proto: proto.to_string(),
            state,
            reason: reason.to_string(),
            ttl,
            ts: humantime::format_rfc3339_millis(ts).to_string(),
            service: String::new(),
            protocol: None,
            banner: None,
            category: Category::Other,
            severity: Severity::Info,
            admin: false,
            expected: false,
            pseudo: false,
            amplification: None,
            product: None,
            version: None,
            tls: None,
            http: None,
            rationale: String::new(),
            mitigation: String::new(),
        }
    }

    /// A TCP SYN scan finding: reason `syn-ack` when open, `rst` when closed.
    pub fn tcp(
        ip: IpAddr,
        port: u16,
        state: PortState,
        ttl: u8,
        ts: std::time::SystemTime,
    ) -> Self {
        let reason = match state {
            PortState::Open => "syn-ack",
            PortState::Closed => "rst",
        };
        Finding::observed(ip, port, "tcp", state, reason, ttl, ts)
    }

    /// Seconds since the Unix epoch of `ts` (0 when it does not parse).
    pub fn unix_seconds(&self) -> u64 {
        humantime::parse_rfc3339(&self.ts)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// Make bytes a service sent storable and harmless: printable ASCII is
/// kept, a backslash becomes `\\`, every other byte `\xNN`; the result is
/// at most `max` bytes long (cut at an escape boundary, `...` marks a cut).
/// So a banner holds no markup-breaking control, no terminal escape and no
/// non-ASCII; markup characters (`<`, `&`, `=`) stay, and each writer
/// escapes or protects them for its reader.
pub fn escape_banner(bytes: &[u8], max: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len().min(max) + 4);
    // Where each escaped byte ends, to cut only between escapes.
    let mut ends = Vec::with_capacity(bytes.len().min(max) + 1);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
        ends.push(out.len());
        if out.len() > max {
            break;
        }
    }
    if out.len() <= max {
        return out;
    }
    let keep = max.saturating_sub(3);
    let cut = ends
        .iter()
        .rev()
        .find(|&&e| e <= keep)
        .copied()
        .unwrap_or(0);
    out.truncate(cut);
    if max >= 3 {
        out.push_str("...");
    }
    out
}

/// Text safe to print on a terminal: every control character (C0, DEL,
/// C1: what starts an escape sequence) becomes `\xNN` / `\u{NN}`.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            if (c as u32) < 0x100 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_has_the_contract_field_names() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_790_000_000_123);
        let mut f = Finding::tcp("198.19.0.4".parse().unwrap(), 3306, PortState::Open, 64, t);
        let v: serde_json::Value = serde_json::to_value(&f).unwrap();
        // Optional fields are left out when absent.
        for k in ["protocol", "banner", "pseudo", "amplification"] {
            assert!(v.get(k).is_none(), "{k} written though absent");
        }
        f.protocol = Some("mysql".into());
        f.banner = Some("5.5.5-10.11.6-MariaDB".into());
        f.pseudo = true;
        f.amplification = Some(2.5);
        let v: serde_json::Value = serde_json::to_value(&f).unwrap();
        // The CSV header names the record's fields.
        for k in crate::output::csv_out::HEADER {
            assert!(v.get(k).is_some(), "missing field {k}");
        }
        assert_eq!(v["pseudo"], true);
        assert_eq!(v["amplification"], 2.5);
        let back: Finding = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, f);
        assert_eq!(v["ip"], "198.19.0.4");
        assert_eq!(v["state"], "open");
        assert_eq!(v["reason"], "syn-ack");
        assert_eq!(v["category"], "other");
        assert!(v["ts"].as_str().unwrap().ends_with(".123Z"));
        assert_eq!(f.unix_seconds(), 1_790_000_000);
    }

    #[test]
    fn ipv6_prints_in_rfc_5952_text() {
        let t = std::time::UNIX_EPOCH;
        let f = Finding::tcp(
            "2001:2:0:0:0:0:0:1".parse().unwrap(),
            22,
            PortState::Open,
            64,
            t,
        );
        let v: serde_json::Value = serde_json::to_value(&f).unwrap();
        assert_eq!(v["ip"], "2001:2::1");
    }

    #[test]
    fn banners_are_printable_escaped_and_bounded() {
        assert_eq!(
            escape_banner(b"SSH-2.0-OpenSSH_9.2\r\n", 64),
            "SSH-2.0-OpenSSH_9.2\\x0d\\x0a"
        );
        assert_eq!(escape_banner(b"a\\b\x1b[2J\xff", 64), "a\\\\b\\x1b[2J\\xff");
        assert_eq!(escape_banner(b"0123456789", 10), "0123456789");
        assert_eq!(escape_banner(b"0123456789A", 10), "0123456...");
        // A cut never splits an escape.
        assert_eq!(escape_banner(b"01234\x00\x00", 10), "01234...");
        let junk: Vec<u8> = (0..5000u32).map(|i| (i * 37 % 256) as u8).collect();
        let e = escape_banner(&junk, 256);
        assert!(e.len() <= 256 && e.ends_with("..."));
        assert!(e.bytes().all(|b| (0x20..0x7f).contains(&b)));
    }

    #[test]
    fn terminal_text_has_no_control_characters() {
        assert_eq!(terminal_safe("plain"), "plain");
        let s = terminal_safe("a\x1b[2Jb\u{9b}c\u{7f}");
        assert_eq!(s, "a\\x1b[2Jb\\x9bc\\x7f");
        assert!(!s.chars().any(char::is_control));
    }
}
