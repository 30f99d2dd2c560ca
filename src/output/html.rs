//! HTML report: one self-contained page (inline CSS and SVG, no scripts, no
//! fonts or images fetched) with the overall grade, a chart of open findings
//! by category and severity, a score table of all hosts, a table per host
//! (worst first), the mitigations grouped by service, and how the score is
//! computed. Readable on a laptop screen and printable (print styles keep
//! colours and repeat table headers). Every piece of text is escaped.

use super::{ScanMeta, escape, rfc3339};
use crate::finding::{Category, Finding, PortState, Severity};
use crate::risk::score::{Grade, HostScore, ScanScore, host_scores, scan_score};
use crate::risk::{category_str, severity_str};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// The whole report as bytes (the document writer's renderer).
pub fn render(findings: &[Finding], meta: &ScanMeta) -> std::io::Result<Vec<u8>> {
    Ok(document(findings, meta).into_bytes())
}

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];
const CATEGORIES: [Category; 4] = [
    Category::Risky,
    Category::Administrative,
    Category::Normal,
    Category::Other,
];

fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#8f1d1d",
        Severity::High => "#d9480f",
        Severity::Medium => "#e8a100",
        Severity::Low => "#3b82c4",
        Severity::Info => "#9aa5b1",
    }
}

fn grade_colour(g: Grade) -> &'static str {
    match g {
        Grade::A => "#2b8a3e",
        Grade::B => "#5c940d",
        Grade::C => "#e67700",
        Grade::D => "#d9480f",
        Grade::F => "#c92a2a",
    }
}

const STYLE: &str = r#"
:root { --ink:#1f2933; --muted:#52606d; --line:#d9e2ec; --bg:#f5f7fa; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 32px 0 10px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 17px; margin: 22px 0 8px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:16px 20px; }
.top { display:flex; gap:24px; align-items:center; }
.badge { flex:none; width:132px; height:132px; border-radius:14px; color:#fff; text-align:center;
  display:flex; flex-direction:column; justify-content:center; }
.badge .letter { font-size:72px; font-weight:700; line-height:1; }
.badge .num { font-size:16px; opacity:.95; }
.lead { font-size:17px; margin:6px 0 10px; }
dl.meta { display:grid; grid-template-columns: max-content 1fr; gap:2px 14px; margin:0; font-size:13px; color:var(--muted); }
dl.meta dt { font-weight:600; } dl.meta dd { margin:0; word-break: break-all; }
svg { width:100%; height:auto; max-width:860px; display:block; }
table { width:100%; border-collapse:collapse; background:#fff; font-size:13.5px; }
th, td { text-align:left; vertical-align:top; padding:6px 8px; border-bottom:1px solid var(--line); }
th { background:#eef2f7; font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
.sev, .gr, .tag { display:inline-block; padding:1px 7px; border-radius:10px; color:#fff; font-size:12px; font-weight:600; white-space:nowrap; }
.tag { background:#e4e7eb; color:var(--ink); font-weight:500; }
.tag.exp { background:#d3f9d8; color:#1b5e20; }
tr.closed td { color:#7b8794; }
ul.mit { padding-left: 0; list-style:none; }
ul.mit li { background:#fff; border:1px solid var(--line); border-left-width:6px; border-radius:6px; padding:8px 12px; margin:8px 0; }
.hosts-list { color:var(--muted); font-size:13px; }
footer { margin-top:36px; color:var(--muted); font-size:13px; }
@media (max-width: 760px) { .top { flex-direction:column; align-items:flex-start; } }
@media print {
  body { background:#fff; font-size:11pt; }
  main { max-width:none; padding:0; }
  .card, ul.mit li { border-color:#bbb; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  thead { display: table-header-group; }
  tr, ul.mit li, .top { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
}
@page { margin: 14mm; }
"#;

/// The chart: one horizontal bar per category, split by severity.
fn chart(findings: &[&Finding]) -> String {
    let mut counts: BTreeMap<(Category, Severity), usize> = BTreeMap::new();
    for f in findings {
        *counts.entry((f.category, f.severity)).or_default() += 1;
    }
    let total = |c: Category| {
        SEVERITIES
            .iter()
            .map(|&s| counts.get(&(c, s)).copied().unwrap_or(0))
            .sum::<usize>()
    };
    let max = CATEGORIES
        .iter()
        .map(|&c| total(c))
        .max()
        .unwrap_or(0)
        .max(1);
    let (left, width, bar, gap, top) = (150.0, 600.0, 30.0, 16.0, 14.0);
    let height = top + CATEGORIES.len() as f64 * (bar + gap) + 44.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 860 {height}\" role=\"img\" aria-labelledby=\"chart-title\">\
<title id=\"chart-title\">Open findings by category and severity</title>\
<style>text{{font:13px system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;fill:#1f2933}} .in{{fill:#fff;font-weight:600}}</style>"
    );
    for (i, &c) in CATEGORIES.iter().enumerate() {
        let y = top + i as f64 * (bar + gap);
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            left - 10.0,
            y + bar / 2.0 + 4.5,
            category_str(c)
        );
        let _ = write!(
            s,
            "<rect x=\"{left}\" y=\"{y}\" width=\"{width}\" height=\"{bar}\" fill=\"#eef2f7\"/>"
        );
        let mut x = left;
        for &sev in &SEVERITIES {
            let n = counts.get(&(c, sev)).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let w = width * n as f64 / max as f64;
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bar}\" fill=\"{}\"><title>{} {}: {n}</title></rect>",
                severity_colour(sev),
                category_str(c),
                severity_str(sev)
            );
            if w >= 22.0 {
                let _ = write!(
                    s,
                    "<text class=\"in\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{n}</text>",
                    x + w / 2.0,
                    y + bar / 2.0 + 4.5
                );
            }
            x += w;
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\">{}</text>",
            left + width + 10.0,
            y + bar / 2.0 + 4.5,
            total(c)
        );
    }
    let ly = top + CATEGORIES.len() as f64 * (bar + gap) + 14.0;
    let mut lx = left;
    for &sev in &SEVERITIES {
        let _ = write!(
            s,
            "<rect x=\"{lx}\" y=\"{ly}\" width=\"14\" height=\"14\" rx=\"2\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            severity_colour(sev),
            lx + 20.0,
            ly + 12.0,
            severity_str(sev)
        );
        lx += 100.0;
    }
    s.push_str("</svg>");
    s
}

fn sev_badge(s: Severity) -> String {
    format!(
        "<span class=\"sev\" style=\"background:{}\">{}</span>",
        severity_colour(s),
        severity_str(s)
    )
}

fn grade_badge(g: Grade) -> String {
    format!(
        "<span class=\"gr\" style=\"background:{}\">{g}</span>",
        grade_colour(g)
    )
}

fn header(out: &mut String, scan: &ScanScore, open: usize, expected: usize, meta: &ScanMeta) {
    let e = escape;
    let _ = write!(
        out,
        "<section class=\"card top\"><div class=\"badge\" style=\"background:{}\" aria-label=\"overall grade {g}\"><span class=\"letter\">{g}</span><span class=\"num\">{}/100</span></div><div>",
        grade_colour(scan.grade),
        scan.score,
        g = scan.grade
    );
    out.push_str("<h1>synsweep risk report</h1>");
    let weakest = scan
        .weakest
        .map(|ip| format!(", set by its weakest host <span class=\"mono\">{ip}</span>"))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<p class=\"lead\">Overall grade <strong>{}</strong>, score <strong>{}</strong>/100{weakest}. {} hosts, {} open ports ({} expected by policy); mean host score {:.1}.</p>",
        scan.grade, scan.score, scan.hosts, open, expected, scan.mean
    );
    out.push_str("<dl class=\"meta\">");
    let rows = [
        ("Started", rfc3339(meta.started)),
        ("Finished", rfc3339(meta.finished)),
        ("Targets", meta.targets.clone()),
        ("Ports", meta.ports.clone()),
        ("Rate", meta.rate.clone()),
        ("Probes sent", meta.probes_sent.to_string()),
        ("Seed", meta.seed.to_string()),
        ("Command", meta.command.clone()),
    ];
    for (k, v) in rows {
        let _ = write!(out, "<dt>{k}</dt><dd>{}</dd>", e(&v));
    }
    out.push_str("</dl></div></section>");
}

fn hosts_table(out: &mut String, hosts: &[&HostScore]) {
    out.push_str("<h2>Hosts</h2><table><thead><tr><th>Host</th><th>Grade</th><th class=\"num\">Score</th><th class=\"num\">Open</th><th class=\"num\">Expected</th><th class=\"num\">Critical</th><th class=\"num\">High</th><th class=\"num\">Medium</th><th class=\"num\">Low</th><th class=\"num\">Info</th></tr></thead><tbody>");
    for h in hosts {
        let _ = write!(
            out,
            "<tr><td class=\"mono\"><a href=\"#h-{ip}\">{ip}</a></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            grade_badge(h.grade),
            h.score,
            h.open,
            h.expected,
            h.critical,
            h.high,
            h.medium,
            h.low,
            h.info,
            ip = h.ip
        );
    }
    out.push_str("</tbody></table>");
}

fn host_section(out: &mut String, h: &HostScore, fs: &[&Finding]) {
    let e = escape;
    let _ = write!(
        out,
        "<h3 id=\"h-{ip}\">Host <span class=\"mono\">{ip}</span> {} score {}</h3>",
        grade_badge(h.grade),
        h.score,
        ip = h.ip
    );
    out.push_str("<table><thead><tr><th>Endpoint</th><th>Service</th><th>Category</th><th>Severity</th><th>Why it matters</th><th>What to do</th></tr></thead><tbody>");
    for f in fs {
        let closed = f.state == PortState::Closed;
        let mut tags = String::new();
        if f.admin {
            tags.push_str(" <span class=\"tag\">admin</span>");
        }
        if f.expected {
            tags.push_str(" <span class=\"tag exp\">expected</span>");
        }
        if closed {
            tags.push_str(" <span class=\"tag\">closed</span>");
        }
        let _ = write!(
            out,
            "<tr{}><td class=\"mono\">{}:{}/{}</td><td>{}</td><td>{}{tags}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if closed { " class=\"closed\"" } else { "" },
            f.ip,
            f.port,
            e(&f.proto),
            e(&f.service),
            category_str(f.category),
            sev_badge(f.severity),
            e(&f.rationale),
            e(&f.mitigation)
        );
    }
    out.push_str("</tbody></table>");
}

fn mitigations(out: &mut String, open: &[&Finding]) {
    // (severity, port, proto, service, mitigation) -> hosts
    let mut groups: BTreeMap<(Severity, u16, String, String, String), Vec<Ipv4Addr>> =
        BTreeMap::new();
    for f in open.iter().filter(|f| !f.expected) {
        groups
            .entry((
                f.severity,
                f.port,
                f.proto.clone(),
                f.service.clone(),
                f.mitigation.clone(),
            ))
            .or_default()
            .push(f.ip);
    }
    out.push_str("<h2>Mitigations</h2>");
    if groups.is_empty() {
        out.push_str(
            "<p>Nothing to mitigate: no open ports outside the policy's expectations.</p>",
        );
        return;
    }
    out.push_str("<ul class=\"mit\">");
    for ((sev, port, proto, service, mitigation), mut hosts) in groups {
        hosts.sort_unstable();
        hosts.dedup();
        let shown: Vec<String> = hosts.iter().take(20).map(|ip| ip.to_string()).collect();
        let more = if hosts.len() > 20 {
            format!(" and {} more", hosts.len() - 20)
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<li style=\"border-left-color:{}\">{} <strong>{port}/{} {}</strong>: {}<div class=\"hosts-list\">{} host{}: <span class=\"mono\">{}</span>{more}</div></li>",
            severity_colour(sev),
            sev_badge(sev),
            escape(&proto),
            escape(&service),
            escape(&mitigation),
            hosts.len(),
            if hosts.len() == 1 { "" } else { "s" },
            shown.join(", ")
        );
    }
    out.push_str("</ul>");
}

/// The whole page.
pub fn document(findings: &[Finding], meta: &ScanMeta) -> String {
    let hosts = host_scores(findings);
    let scan = scan_score(&hosts);
    let mut by_host: BTreeMap<Ipv4Addr, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_host.entry(f.ip).or_default().push(f);
    }
    for fs in by_host.values_mut() {
        fs.sort_by(|a, b| {
            (a.state, a.severity, a.port, &a.proto).cmp(&(b.state, b.severity, b.port, &b.proto))
        });
    }
    let open: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.state == PortState::Open)
        .collect();
    let expected = open.iter().filter(|f| f.expected).count();
    let mut worst_first: Vec<&HostScore> = hosts.iter().collect();
    worst_first.sort_by_key(|h| (h.score, h.ip));

    let mut out = String::with_capacity(16 * 1024 + findings.len() * 600);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>synsweep report: grade {} ({}/100)</title><style>{STYLE}</style></head><body><main>",
        scan.grade, scan.score
    );
    header(&mut out, &scan, open.len(), expected, meta);
    out.push_str("<h2>Open findings by category and severity</h2><div class=\"card\">");
    out.push_str(&chart(&open));
    let _ = write!(
        out,
        "<p class=\"hosts-list\">{} open ports; the bars count ports the policy expects too ({expected}), which cost no score.</p></div>",
        open.len()
    );
    hosts_table(&mut out, &worst_first);
    out.push_str("<h2>Findings per host</h2>");
    if worst_first.is_empty() {
        out.push_str("<p>No findings.</p>");
    }
    for h in &worst_first {
        host_section(&mut out, h, &by_host[&h.ip]);
    }
    mitigations(&mut out, &open);
    out.push_str("<footer><h2>How the score is computed</h2><p>Each host starts at 100. Every open port that the policy does not mark expected multiplies the score by (1 − penalty): critical 0.45, high 0.20, medium 0.08, low 0.03, info 0. The result is rounded down and capped at 59 if any finding is critical, at 79 if any is high. Grades: A 90–100, B 80–89, C 70–79, D 60–69, F below 60. The scan scores as its weakest host.</p>");
    let _ = write!(
        out,
        "<p>Generated by synsweep {}. Categories and advice come from synsweep's own catalog, grounded in CISA, US-CERT, FBI, CIS Controls and Shadowserver guidance.</p></footer>",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("</main></body></html>\n");
    out
}
