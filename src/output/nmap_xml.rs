//! nmap XML (`-oX`): a document that validates against nmap's DTD
//! (`tests/data/nmap.dtd`), so tools that import nmap XML take it.
//!
//! The DTD allows only `scanner="nmap"`; `args` and a leading comment say
//! that synsweep wrote the file. Risk data rides in elements the DTD has for
//! extra data: a `synsweep-risk` `<script>` per port and a `synsweep-score`
//! `<hostscript>` per host, plus the host's `comment` attribute.

use super::{ScanMeta, count_ports, epoch, escape, rfc3339};
use crate::finding::{Finding, PortState};
use crate::risk::score::{HostScore, host_scores, scan_score};
use crate::risk::{category_str, severity_str};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

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

/// The whole document.
pub fn document(findings: &[Finding], meta: &ScanMeta) -> String {
    let a = |s: &str| escape(s);
    let mut by_host: BTreeMap<Ipv4Addr, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_host.entry(f.ip).or_default().push(f);
    }
    let scores: BTreeMap<Ipv4Addr, HostScore> = host_scores(findings)
        .into_iter()
        .map(|h| (h.ip, h))
        .collect();
    let scan = scan_score(&scores.values().cloned().collect::<Vec<_>>());
    let start = epoch(meta.started);
    let end = epoch(meta.finished);
    let protocol =
        if findings.iter().all(|f| f.proto.eq_ignore_ascii_case("udp")) && !findings.is_empty() {
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

    for (ip, fs) in &by_host {
        let first = fs
            .iter()
            .map(|f| f.unix_seconds())
            .filter(|&t| t > 0)
            .min()
            .unwrap_or(start);
        let last = fs
            .iter()
            .map(|f| f.unix_seconds())
            .max()
            .unwrap_or(end)
            .max(first);
        let hs = &scores[ip];
        let _ = writeln!(
            x,
            "<host starttime=\"{first}\" endtime=\"{last}\" comment=\"synsweep score {} grade {}\">",
            hs.score, hs.grade
        );
        let any_open = fs.iter().any(|f| f.state == PortState::Open);
        let ttl = fs.iter().map(|f| f.ttl).next().unwrap_or(0);
        let _ = writeln!(
            x,
            "<status state=\"up\" reason=\"{}\" reason_ttl=\"{ttl}\"/>",
            if any_open { "syn-ack" } else { "reset" }
        );
        let _ = writeln!(x, "<address addr=\"{ip}\" addrtype=\"ipv4\"/>");
        x.push_str("<hostnames>\n</hostnames>\n<ports>");
        let mut ports = fs.clone();
        ports.sort_by(|a, b| (&a.proto, a.port, a.state).cmp(&(&b.proto, b.port, b.state)));
        ports.dedup_by(|a, b| a.proto == b.proto && a.port == b.port);
        for f in ports {
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
            if !f.service.is_empty() {
                let _ = write!(
                    x,
                    "<service name=\"{}\" method=\"table\" conf=\"3\"/>",
                    a(&f.service)
                );
            }
            let output = format!(
                "category={} severity={} admin={} expected={}; {} Mitigation: {}",
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
        x.push_str("</ports>\n");
        let _ = writeln!(
            x,
            "<hostscript><script id=\"synsweep-score\" output=\"score {} grade {}; open {} expected {}; critical {} high {} medium {} low {} info {}\"/></hostscript>",
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
    }

    let summary = format!(
        "synsweep done at {}; {} hosts with findings; scan score {} grade {} (weakest host)",
        rfc3339(meta.finished),
        by_host.len(),
        scan.score,
        scan.grade
    );
    let _ = writeln!(
        x,
        "<runstats><finished time=\"{end}\" timestr=\"{}\" elapsed=\"{}\" summary=\"{}\" exit=\"success\"/><hosts up=\"{}\" down=\"0\" total=\"{}\"/></runstats>",
        a(&rfc3339(meta.finished)),
        end.saturating_sub(start),
        a(&summary),
        by_host.len(),
        by_host.len()
    );
    x.push_str("</nmaprun>\n");
    x
}

/// The whole XML file as bytes (the document writer's renderer).
pub fn render(findings: &[Finding], meta: &ScanMeta) -> std::io::Result<Vec<u8>> {
    Ok(document(findings, meta).into_bytes())
}
