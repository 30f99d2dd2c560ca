//! nmap XML (`-oX`): a document that validates against nmap's DTD
//! (`tests/data/nmap.dtd`), so tools that import nmap XML take it.
//!
//! The DTD allows only `scanner="nmap"`; `args` and a leading comment say
//! that synsweep wrote the file. Risk data rides in elements the DTD has for
//! extra data: a `synsweep-risk` `<script>` per port and a `synsweep-score`
//! `<hostscript>` per host, plus the host's `comment` attribute. An
//! identified protocol is the port's `<service name>` (method `probed`), a
//! banner rides in a `banner` `<script>` as nmap's own banner script
//! reports it; IPv6 hosts have `addrtype="ipv6"`. A stated product and
//! version are the `<service>`'s `product` and `version`; HTTP facts ride
//! in `http-title` and `http-server-header` scripts and a TLS leaf
//! certificate in an `ssl-cert` script, each shaped as nmap's own script of
//! that name writes it (so consumers that read nmap's `ssl-cert` tables
//! read ours; we add `sha256`, and have no `md5`, `sha1` or `pem`). Every
//! attribute value is
//! escaped, and characters XML 1.0 forbids are dropped, so hostile banners
//! keep the document well-formed.
//!
//! Written by streaming: host headers come from the summary's hosts file,
//! ports from the sorted findings, one host at a time.

use super::sort::Sorted;
use super::summary::Summary;
use super::{ScanMeta, count_ports, epoch, escape, rfc3339};
use crate::finding::{Finding, PortState};
use crate::risk::{category_str, severity_str};
use std::fmt::Write as _;
use std::io::Write;

/// nmap's word for the reply that decided a port's state.
fn reason(f: &Finding) -> &str {
    match f.reason.as_str() {
        "rst" => "reset",
        "" => match f.state {
            PortState::Open => "syn-ack",
            PortState::Closed => "reset",
        },
        r => r,
    }
}

fn state(s: PortState) -> &'static str {
    match s {
        PortState::Open => "open",
        PortState::Closed => "closed",
    }
}

/// One `<port>` element.
fn port(x: &mut String, f: &Finding) {
    let a = |s: &str| escape(s);
    let proto = if f.proto.eq_ignore_ascii_case("udp") {
        "udp"
    } else {
        "tcp"
    };
    let _ = write!(
        x,
        "<port protocol=\"{proto}\" portid=\"{}\"><state state=\"{}\" reason=\"{}\" reason_ttl=\"{}\"/>",
        f.port,
        state(f.state),
        a(reason(f)),
        f.ttl
    );
    let mut stated = String::new();
    if let Some(p) = &f.product {
        let _ = write!(stated, " product=\"{}\"", a(p));
    }
    if let Some(v) = &f.version {
        let _ = write!(stated, " version=\"{}\"", a(v));
    }
    match &f.protocol {
        Some(p) => {
            let _ = write!(
                x,
                "<service name=\"{}\"{stated} method=\"probed\" conf=\"10\"/>",
                a(p)
            );
        }
        // nmap's own way to say the name is the port's, not confirmed.
        None if !f.service_name().is_empty() => {
            let _ = write!(
                x,
                "<service name=\"{}\"{stated} method=\"table\" conf=\"3\"/>",
                a(f.service_name())
            );
        }
        None => {}
    }
    if let Some(b) = &f.banner {
        // As nmap's own banner script reports it.
        let _ = write!(x, "<script id=\"banner\" output=\"{}\"/>", a(b));
    }
    http_scripts(x, f);
    if let Some(c) = f.tls.as_deref().and_then(|t| t.cert.as_ref()) {
        ssl_cert(x, c);
    }
    let mut extra = String::new();
    if f.pseudo {
        extra.push_str(" pseudo=true");
    }
    if let Some(amp) = f.amplification {
        let _ = write!(extra, " amplification={amp}");
    }
    let output = format!(
        "category={} severity={} admin={} expected={}{extra}; {} Mitigation: {}",
        category_str(f.category),
        severity_str(f.severity),
        f.admin,
        f.expected,
        f.rationale,
        f.mitigation
    );
    let _ = writeln!(
        x,
        "<script id=\"synsweep-risk\" output=\"{}\"/></port>",
        a(&output)
    );
}

/// An attribute value of several lines, as nmap writes script output
/// (`&#xa;` between lines: a raw newline would be read back as a space).
fn lines_attr(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| escape(l))
        .collect::<Vec<_>>()
        .join("&#xa;")
}

/// `http-title` and `http-server-header`, as nmap's scripts of those names.
fn http_scripts(x: &mut String, f: &Finding) {
    let Some(h) = f.http.as_deref() else {
        return;
    };
    if let Some(t) = &h.title {
        let _ = write!(
            x,
            "<script id=\"http-title\" output=\"{t}\"><elem key=\"title\">{t}</elem></script>",
            t = escape(t)
        );
    }
    if let Some(s) = &h.server {
        let _ = write!(
            x,
            "<script id=\"http-server-header\" output=\"{s}\"><elem>{s}</elem></script>",
            s = escape(s)
        );
    }
}

/// nmap's names of the attributes of a distinguished name.
fn dn_key(short: &str) -> &str {
    match short {
        "CN" => "commonName",
        "O" => "organizationName",
        "OU" => "organizationalUnitName",
        "C" => "countryName",
        "ST" => "stateOrProvinceName",
        "L" => "localityName",
        "STREET" => "streetAddress",
        "DC" => "domainComponent",
        "UID" => "userId",
        "E" | "Email" => "emailAddress",
        k => k,
    }
}

/// The attributes of a distinguished name as text (`CN=a, O=b\, Inc.`,
/// RFC 4514 separators and escapes, or OpenSSL's `/`-free one-line form):
/// (nmap's key, value) pairs in order.
pub fn dn_pairs(dn: &str) -> Vec<(String, String)> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' | '+' => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts
        .iter()
        .filter_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            let v = v.trim().replace("\\,", ",").replace("\\+", "+");
            Some((dn_key(k.trim()).to_string(), v))
        })
        .collect()
}

/// nmap's one-line form of a name: `commonName=a/organizationName=b`.
fn dn_line(dn: &str) -> String {
    dn_pairs(dn)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("/")
}

/// nmap's form of a time: `2026-11-01T00:00:00` (no zone: it is UTC).
fn nmap_time(t: &str) -> &str {
    t.strip_suffix('Z').unwrap_or(t)
}

/// The `ssl-cert` script of a leaf certificate.
fn ssl_cert(x: &mut String, c: &crate::finding::Cert) {
    let a = |s: &str| escape(s);
    let mut lines = vec![format!("Subject: {}", dn_line(&c.subject))];
    if !c.san.is_empty() {
        lines.push(format!(
            "Subject Alternative Name: {}",
            c.san
                .iter()
                .map(|n| san_text(n))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    lines.push(format!("Issuer: {}", dn_line(&c.issuer)));
    lines.push(format!("Public Key type: {}", c.key));
    lines.push(format!("Public Key bits: {}", c.key_bits));
    lines.push(format!("Signature Algorithm: {}", c.sig));
    lines.push(format!("Not valid before: {}", nmap_time(&c.not_before)));
    lines.push(format!("Not valid after:  {}", nmap_time(&c.not_after)));
    lines.push(format!("SHA-256: {}", c.sha256));
    let _ = write!(
        x,
        "<script id=\"ssl-cert\" output=\"{}\">",
        lines_attr(&lines)
    );
    for (key, dn) in [("subject", &c.subject), ("issuer", &c.issuer)] {
        let _ = write!(x, "<table key=\"{key}\">");
        for (k, v) in dn_pairs(dn) {
            let _ = write!(x, "<elem key=\"{}\">{}</elem>", a(&k), a(&v));
        }
        x.push_str("</table>");
    }
    let _ = write!(
        x,
        "<table key=\"pubkey\"><elem key=\"type\">{}</elem><elem key=\"bits\">{}</elem></table>",
        a(&c.key),
        c.key_bits
    );
    if !c.san.is_empty() {
        let names: Vec<String> = c.san.iter().map(|n| san_text(n)).collect();
        let _ = write!(
            x,
            "<table key=\"extensions\"><table><elem key=\"name\">X509v3 Subject Alternative Name</elem><elem key=\"value\">{}</elem></table></table>",
            a(&names.join(", "))
        );
    }
    let _ = write!(
        x,
        "<elem key=\"sig_algo\">{}</elem><table key=\"validity\"><elem key=\"notBefore\">{}</elem><elem key=\"notAfter\">{}</elem></table><elem key=\"sha256\">{}</elem></script>",
        a(&c.sig),
        a(nmap_time(&c.not_before)),
        a(nmap_time(&c.not_after)),
        a(&c.sha256)
    );
}

/// A SAN as OpenSSL and nmap print it: `DNS:name`, `IP Address:addr`.
fn san_text(n: &str) -> String {
    if n.parse::<std::net::IpAddr>().is_ok() {
        return format!("IP Address:{n}");
    }
    match n.split_once(':') {
        // Already typed (`DNS:`, `email:`, `URI:`).
        Some((k, _)) if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphabetic()) => {
            n.to_string()
        }
        _ => format!("DNS:{n}"),
    }
}

/// Write the whole document (the document writer's renderer): hosts in
/// address order, each with its ports in (port, proto) order.
pub fn render(
    sorted: &Sorted,
    sum: &Summary,
    meta: &ScanMeta,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    let a = |s: &str| escape(s);
    let start = epoch(meta.started);
    let end = epoch(meta.finished);
    let protocol = if sum.records > 0 && sum.tcp == 0 {
        ("udp", "udp")
    } else {
        ("syn", "tcp")
    };

    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str("<!DOCTYPE nmaprun>\n");
    let _ = writeln!(
        x,
        "<!-- written by synsweep {} (not nmap); risk data in synsweep-* scripts -->",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        x,
        "<nmaprun scanner=\"nmap\" args=\"{}\" start=\"{start}\" startstr=\"{}\" version=\"synsweep-{}\" xmloutputversion=\"1.05\">",
        a(&meta.command),
        a(&rfc3339(meta.started)),
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        x,
        "<scaninfo type=\"{}\" protocol=\"{}\" numservices=\"{}\" services=\"{}\"/>",
        protocol.0,
        protocol.1,
        count_ports(&meta.ports),
        a(&meta.ports)
    );
    x.push_str("<verbose level=\"0\"/>\n<debugging level=\"0\"/>\n");
    w.write_all(x.as_bytes())?;

    let mut findings = sorted.iter()?.peekable();
    for h in sum.hosts()? {
        let h = h?;
        let hs = &h.score;
        let first = if h.first > 0 { h.first } else { start };
        let last = if h.last > 0 { h.last } else { end }.max(first);
        x.clear();
        let _ = writeln!(
            x,
            "<host starttime=\"{first}\" endtime=\"{last}\" comment=\"synsweep score {} grade {}\">",
            hs.score, hs.grade
        );
        let _ = writeln!(
            x,
            "<status state=\"up\" reason=\"{}\" reason_ttl=\"{}\"/>",
            if h.any_open { "syn-ack" } else { "reset" },
            h.ttl
        );
        let addrtype = if hs.ip.is_ipv4() { "ipv4" } else { "ipv6" };
        let _ = writeln!(x, "<address addr=\"{}\" addrtype=\"{addrtype}\"/>", hs.ip);
        x.push_str("<hostnames>\n</hostnames>\n<ports>");
        // One port element per (port, proto): open sorts before closed.
        let mut last_port: Option<(u16, String)> = None;
        while let Some(f) = findings.next_if(|f| f.as_ref().map_or(true, |f| f.ip == hs.ip)) {
            let f = f?;
            let key = (f.port, f.proto.clone());
            if last_port.as_ref() == Some(&key) {
                continue;
            }
            last_port = Some(key);
            port(&mut x, &f);
            if x.len() > 64 * 1024 {
                w.write_all(x.as_bytes())?;
                x.clear();
            }
        }
        x.push_str("</ports>\n");
        let pseudo = if hs.pseudo > 0 {
            format!(" pseudo {}", hs.pseudo)
        } else {
            String::new()
        };
        let _ = writeln!(
            x,
            "<hostscript><script id=\"synsweep-score\" output=\"score {} grade {}; open {} expected {}{pseudo}; critical {} high {} medium {} low {} info {}\"/></hostscript>",
            hs.score,
            hs.grade,
            hs.open,
            hs.expected,
            hs.critical,
            hs.high,
            hs.medium,
            hs.low,
            hs.info
        );
        x.push_str("</host>\n");
        w.write_all(x.as_bytes())?;
    }

    let hosts = sum.host_count();
    let summary = format!(
        "synsweep done at {}; {} hosts with findings; scan score {} grade {} (weakest host)",
        rfc3339(meta.finished),
        hosts,
        sum.scan.score,
        sum.scan.grade
    );
    x.clear();
    let _ = writeln!(
        x,
        "<runstats><finished time=\"{end}\" timestr=\"{}\" elapsed=\"{}\" summary=\"{}\" exit=\"success\"/><hosts up=\"{hosts}\" down=\"0\" total=\"{hosts}\"/></runstats>",
        a(&rfc3339(meta.finished)),
        end.saturating_sub(start),
        a(&summary),
    );
    x.push_str("</nmaprun>\n");
    w.write_all(x.as_bytes())
}
