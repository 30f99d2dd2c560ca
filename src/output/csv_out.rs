//! CSV: a header row with the findings record's field names, then one row
//! per finding in the same order, flushed as it is written. Appending to a
//! file that already has rows writes no second header. Optional fields are
//! empty cells when absent; `pseudo` is `true` or `false`.
//!
//! Text cells are protected against formula injection (CSV injection,
//! OWASP): a cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage
//! return, which a spreadsheet would evaluate, gets a leading `'`; control
//! characters in text cells are written as `\xNN`.
//!
//! After the record's fields ([`HEADER`]) come the facts of the port
//! ([`FACT_HEADER`], appended, never reordered): `product`, `version`, the
//! HTTP facts, the TLS version and cipher and the leaf certificate's
//! fields (SANs joined by spaces), empty when absent.

use super::{FindingWriter, Out, ScanMeta};
use crate::finding::{Finding, terminal_safe};
use crate::risk::{category_str, severity_str};
use std::borrow::Cow;

/// The header row: the findings record's fields, in order.
pub const HEADER: [&str; 18] = [
    "ip",
    "port",
    "proto",
    "state",
    "reason",
    "ttl",
    "ts",
    "service",
    "protocol",
    "banner",
    "category",
    "severity",
    "admin",
    "expected",
    "pseudo",
    "amplification",
    "rationale",
    "mitigation",
];

/// The fact columns, after [`HEADER`].
pub const FACT_HEADER: [&str; 18] = [
    "product",
    "version",
    "http_status",
    "http_server",
    "http_title",
    "http_location",
    "tls_version",
    "tls_cipher",
    "cert_subject",
    "cert_issuer",
    "cert_san",
    "cert_not_before",
    "cert_not_after",
    "cert_key",
    "cert_key_bits",
    "cert_sig",
    "cert_self_signed",
    "cert_sha256",
];

/// Every column, in order.
pub fn columns() -> impl Iterator<Item = &'static str> {
    HEADER.iter().chain(FACT_HEADER.iter()).copied()
}

/// A text cell a spreadsheet will not run as a formula, with no control
/// characters (a CSV file also ends up on terminals).
pub fn protect(s: &str) -> Cow<'_, str> {
    let s = match s.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    };
    match terminal_safe(&s) {
        Cow::Borrowed(_) => s,
        Cow::Owned(o) => Cow::Owned(o),
    }
}

/// The row of a finding, in [`HEADER`] order.
pub fn row(f: &Finding) -> [Cow<'_, str>; 18] {
    let state = match f.state {
        crate::finding::PortState::Open => "open",
        crate::finding::PortState::Closed => "closed",
    };
    [
        Cow::Owned(f.ip.to_string()),
        Cow::Owned(f.port.to_string()),
        protect(&f.proto),
        Cow::Borrowed(state),
        protect(&f.reason),
        Cow::Owned(f.ttl.to_string()),
        protect(&f.ts),
        protect(&f.service),
        f.protocol.as_deref().map(protect).unwrap_or_default(),
        f.banner.as_deref().map(protect).unwrap_or_default(),
        Cow::Borrowed(category_str(f.category)),
        Cow::Borrowed(severity_str(f.severity)),
        Cow::Borrowed(if f.admin { "true" } else { "false" }),
        Cow::Borrowed(if f.expected { "true" } else { "false" }),
        Cow::Borrowed(if f.pseudo { "true" } else { "false" }),
        f.amplification
            .map(|a| Cow::Owned(a.to_string()))
            .unwrap_or_default(),
        protect(&f.rationale),
        protect(&f.mitigation),
    ]
}

/// The fact cells of a finding, in [`FACT_HEADER`] order.
pub fn fact_row(f: &Finding) -> [Cow<'_, str>; 18] {
    fn text(s: Option<&str>) -> Cow<'_, str> {
        s.map(protect).unwrap_or_default()
    }
    let http = f.http.as_deref();
    let tls = f.tls.as_deref();
    let cert = tls.and_then(|t| t.cert.as_ref());
    [
        text(f.product.as_deref()),
        text(f.version.as_deref()),
        http.map(|h| Cow::Owned(h.status.to_string()))
            .unwrap_or_default(),
        text(http.and_then(|h| h.server.as_deref())),
        text(http.and_then(|h| h.title.as_deref())),
        text(http.and_then(|h| h.location.as_deref())),
        text(tls.map(|t| t.version.as_str())),
        text(tls.and_then(|t| t.cipher.as_deref())),
        text(cert.map(|c| c.subject.as_str())),
        text(cert.map(|c| c.issuer.as_str())),
        cert.map(|c| Cow::Owned(protect(&c.san.join(" ")).into_owned()))
            .unwrap_or_default(),
        text(cert.map(|c| c.not_before.as_str())),
        text(cert.map(|c| c.not_after.as_str())),
        text(cert.map(|c| c.key.as_str())),
        cert.map(|c| Cow::Owned(c.key_bits.to_string()))
            .unwrap_or_default(),
        text(cert.map(|c| c.sig.as_str())),
        cert.map(|c| Cow::Borrowed(if c.self_signed { "true" } else { "false" }))
            .unwrap_or_default(),
        text(cert.map(|c| c.sha256.as_str())),
    ]
}

pub struct Csv {
    w: csv::Writer<Out>,
}

impl Csv {
    /// `fresh`: the file is new or empty, so it gets a header row.
    pub fn new(out: Out, fresh: bool) -> std::io::Result<Self> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(out);
        if fresh {
            w.write_record(columns())?;
            w.flush()?;
        }
        Ok(Csv { w })
    }
}

impl FindingWriter for Csv {
    fn write(&mut self, f: &Finding) -> std::io::Result<()> {
        self.w
            .write_record(
                row(f)
                    .iter()
                    .chain(fact_row(f).iter())
                    .map(|c| c.as_bytes()),
            )
            .map_err(std::io::Error::other)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
    fn finish(&mut self, _meta: &ScanMeta) -> std::io::Result<()> {
        self.w.flush()
    }
    fn streams(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_protected_and_plain_text_is_not() {
        for s in ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)"] {
            assert_eq!(protect(s), format!("'{s}"));
        }
        assert_eq!(protect("\tx"), "'\\x09x");
        assert_eq!(protect("a\x1b[2J"), "a\\x1b[2J");
        for s in ["ssh", "2026-11-22T02:35:54.123Z", "", "a=b"] {
            assert_eq!(protect(s), s);
        }
    }
}
