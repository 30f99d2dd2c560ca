//! HTML report: one self-contained page (inline CSS and SVG, no scripts, no
//! fonts or images fetched) that summarizes a scan of any size in at most a
//! few MB. In order: the overall grade; what to fix first (the actions
//! that buy the most score, each with the hosts and ports it touches and
//! the scan's score and grade with it done); the chart of open findings by
//! category and severity; what changed since a baseline scan (with
//! `--baseline`); findings by category and by service, with counts, the
//! hosts affected and what to do; the riskiest hosts (worst first, at most
//! [`HOSTS_TABLE`](super::summary::HOSTS_TABLE) rows); the findings of the worst [`DETAIL_HOSTS`] hosts
//! (at most [`DETAIL_FINDINGS`] each); then how the score is computed.
//! When ports stated them, a TLS section (certificates expiring soonest
//! first, the certificate and TLS problems with the hosts affected, the
//! versions in use) and a table of the software and versions seen follow
//! the service table.
//! Whatever is not shown is counted, with a pointer to the CSV or NDJSON.
//! Readable on a laptop screen and printable (print styles keep colours
//! and repeat table headers). Every piece of text is escaped, banners
//! included.
//!
//! Everything comes from the [`Summary`] (one bounded pass over the sorted
//! findings), so rendering keeps nothing per finding.

use super::diff::Changes;
use super::facts::{FactsSummary, TLS_PROBLEMS};
use super::sort::Sorted;
use super::summary::{DETAIL_FINDINGS, DETAIL_HOSTS, HostDetail, Summary};
use super::{ScanMeta, endpoint, escape, rfc3339};
use crate::finding::{Category, Finding, PortState, Severity};
use crate::risk::score::{Grade, ScanScore};
use crate::risk::{category_str, severity_str};
use std::fmt::Write as _;
use std::io::Write;

/// Rows of the service table.
pub const SERVICE_ROWS: usize = 300;
/// Rows of each list of the baseline section.
pub const CHANGE_ROWS: usize = 100;

/// The most characters of one free-text field shown: the page stays
/// bounded whatever a findings file holds.
const TEXT_MAX: usize = 300;

/// Escaped, at most [`TEXT_MAX`] characters (a cut ends in `…`).
fn esc(s: &str) -> String {
    esc_max(s, TEXT_MAX)
}

fn esc_max(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => escape(&format!("{}…", &s[..i])),
        None => escape(s),
    }
}

/// Hosts listed per action in the "what to fix first" table.
pub const FIX_HOSTS: usize = 5;

/// Write the report (the document writer's renderer).
pub fn render(
    _sorted: &Sorted,
    sum: &Summary,
    meta: &ScanMeta,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    w.write_all(document(sum, meta).as_bytes())
}

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
table.fix td.rank { font-weight:700; font-size:16px; color:var(--muted); }
table.fix .act { font-weight:600; }
table.fix ul { margin:0; padding:0; list-style:none; font-size:12.5px; }
table.fix li { margin:0 0 2px; }
table.fix { table-layout:fixed; }
table.fix .after { font-size:15px; }
table.fix .after .s { white-space:nowrap; }
.gain { color:#2b8a3e; font-weight:600; }
tr.bad td { background:#fff0f0; } tr.warn td { background:#fff8e1; }
.bad-text { color:#c92a2a; font-weight:600; } .warn-text { color:#b35c00; font-weight:600; }
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
fn chart(by_cat: &[[u64; 5]; 4]) -> String {
    let count = |c: Category, s: Severity| by_cat[c as usize][s as usize];
    let total = |c: Category| Severity::ALL.iter().map(|&s| count(c, s)).sum::<u64>();
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
        for &sev in &Severity::ALL {
            let n = count(c, sev);
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
    for &sev in &Severity::ALL {
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

fn header(out: &mut String, scan: &ScanScore, open: u64, expected: u64, meta: &ScanMeta) {
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
        .map(|ip| format!(", set by its weakest host <a class=\"mono\" href=\"#h-{ip}\">{ip}</a>"))
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
        let _ = write!(out, "<dt>{k}</dt><dd>{}</dd>", esc_max(&v, 2000));
    }
    out.push_str("</dl></div></section>");
}

/// What to do about a whole category.
fn category_advice(c: Category) -> &'static str {
    match c {
        Category::Risky => {
            "Close these or put them behind a VPN or an allow-list first: they are what attackers scan the internet for (cleartext logins, unauthenticated databases and management)."
        }
        Category::Administrative => {
            "Reachable only from management networks or through a VPN or bastion, with strong authentication and patching."
        }
        Category::Normal => {
            "Expected on servers of that role: keep them patched and make sure each one is meant to be public."
        }
        Category::Other => {
            "Not in the catalog: find the owner and the software, then close what has no reason to be reachable."
        }
    }
}

/// What to fix first: the best actions of the plan, each with what it
/// touches and the scan's score and grade with it done.
fn fix_first(out: &mut String, sum: &Summary) {
    let plan = &sum.fix_first;
    let scan = &sum.scan;
    out.push_str("<h2 id=\"fix-first\">What to fix first</h2>");
    if plan.actions.is_empty() {
        out.push_str("<p>Nothing to fix: no open port costs score (ports the policy expects and pseudo ports cost nothing).</p>");
        return;
    }
    let _ = write!(
        out,
        "<p class=\"hosts-list\">Each action alone, scored by the same formula as the grade with the findings it covers gone (as if closed): the scan now scores {} ({}), mean host score {:.1}. Ranked by what the scan's score gains, then by what the hosts gain.</p>",
        scan.score, scan.grade, scan.mean
    );
    out.push_str("<table class=\"fix\"><colgroup><col style=\"width:4%\"><col style=\"width:22%\"><col style=\"width:25%\"><col style=\"width:12%\"><col style=\"width:14%\"><col style=\"width:23%\"></colgroup><thead><tr><th>#</th><th>Action</th><th>Hosts and ports (score now → with it done)</th><th>Scan with it done</th><th>Hosts with it done</th><th>What to do</th></tr></thead><tbody>");
    for (i, a) in plan.actions.iter().enumerate() {
        let mut touched = String::from("<ul>");
        for h in a.host_list.iter().take(FIX_HOSTS) {
            let _ = write!(
                touched,
                "<li><span class=\"mono\">{}</span> <code>{}</code> <span class=\"hosts-list\">{}&nbsp;{}&nbsp;→&nbsp;{}&nbsp;{}</span></li>",
                h.ip,
                esc(&h.ports.join(", ")),
                h.grade,
                h.score,
                h.grade_after,
                h.score_after
            );
        }
        let shown = a.host_list.len().min(FIX_HOSTS) as u64;
        if a.hosts > shown {
            let _ = write!(
                touched,
                "<li class=\"hosts-list\">and {} more hosts</li>",
                a.hosts - shown
            );
        }
        touched.push_str("</ul>");
        if a.kind == "aspect" {
            let more = a.ports_total - a.ports.len() as u64;
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            let _ = write!(
                touched,
                "<div class=\"hosts-list\">Ports: {}{more}</div>",
                esc(&a.ports.join(", "))
            );
        }
        let mut after = format!(
            "<span class=\"s\">{} {}/100",
            grade_badge(a.grade_after),
            a.score_after
        );
        if a.score_gain > 0 {
            let _ = write!(
                after,
                " <span class=\"gain\">+{}</span></span>",
                a.score_gain
            );
        } else {
            after.push_str(
                "</span><div class=\"hosts-list\">no change: the weakest host has worse</div>",
            );
        }
        let up = match a.hosts_up {
            0 => "no host changes grade".to_string(),
            n => format!(
                "{n} of {} up a grade",
                if a.hosts == 1 {
                    "1 host".to_string()
                } else {
                    format!("{} hosts", a.hosts)
                }
            ),
        };
        let _ = write!(
            out,
            "<tr><td class=\"rank\">{}</td><td><div class=\"act\">{}</div>{}</td><td>{touched}</td><td class=\"after\">{after}</td><td>mean {:.1} → {:.1}<div class=\"hosts-list\">{up}; +{} points over all hosts</div></td><td>{}</td></tr>",
            i + 1,
            esc(&capitalized(&a.action)),
            sev_badge(a.severity),
            scan.mean,
            a.mean_after,
            a.host_gain,
            esc(&a.mitigation)
        );
    }
    out.push_str("</tbody></table>");
    if plan.total > plan.actions.len() {
        let more = plan.total - plan.actions.len();
        let _ = write!(
            out,
            "<p class=\"hosts-list\">{}; the findings by service below cover {}.</p>",
            if more == 1 {
                "1 more action, buying less, is not listed".to_string()
            } else {
                format!("{more} more actions, each buying less, are not listed")
            },
            if more == 1 { "it" } else { "them" }
        );
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn categories(out: &mut String, sum: &Summary) {
    out.push_str("<h2>Findings by category</h2><table><thead><tr><th>Category</th><th class=\"num\">Open ports</th><th class=\"num\">Hosts</th><th class=\"num\">Critical</th><th class=\"num\">High</th><th class=\"num\">Medium</th><th class=\"num\">Low</th><th class=\"num\">Info</th><th>What to do</th></tr></thead><tbody>");
    for &c in &CATEGORIES {
        let row = &sum.by_cat[c as usize];
        let total: u64 = row.iter().sum();
        let top: Vec<String> = sum
            .services
            .iter()
            .filter(|s| s.category == c)
            .take(4)
            .map(|s| format!("{}/{} {}", s.port, esc(&s.proto), esc(&s.service)))
            .collect();
        let top = if top.is_empty() {
            String::new()
        } else {
            format!("<div class=\"hosts-list\">Worst: {}</div>", top.join(", "))
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{total}</td><td class=\"num\">{}</td>",
            category_str(c),
            sum.cat_hosts[c as usize]
        );
        for n in row {
            let _ = write!(out, "<td class=\"num\">{n}</td>");
        }
        let _ = write!(out, "<td>{}{top}</td></tr>", category_advice(c));
    }
    out.push_str("</tbody></table>");
    if sum.pseudo > 0 {
        let _ = write!(
            out,
            "<p class=\"hosts-list\">Not counted above: {} open ports on {} hosts that answer on every port without a real service (middleboxes, tarpits; marked pseudo, no score cost).</p>",
            sum.pseudo, sum.pseudo_hosts
        );
    }
}

fn services(out: &mut String, sum: &Summary) {
    out.push_str("<h2>Findings by service</h2>");
    if sum.services.is_empty() {
        out.push_str("<p>No open ports.</p>");
        return;
    }
    out.push_str("<table><thead><tr><th>Port</th><th>Service</th><th>Category</th><th>Severity</th><th class=\"num\">Hosts</th><th class=\"num\">Expected</th><th>What to do</th></tr></thead><tbody>");
    for s in sum.services.iter().take(SERVICE_ROWS) {
        let _ = write!(
            out,
            "<tr><td class=\"mono\">{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            s.port,
            esc(&s.proto),
            esc(&s.service),
            category_str(s.category),
            sev_badge(s.severity),
            s.hosts,
            s.expected,
            esc(&s.mitigation)
        );
    }
    out.push_str("</tbody></table>");
    if sum.services.len() > SERVICE_ROWS {
        let _ = write!(
            out,
            "<p class=\"hosts-list\">{} more services, less severe or on fewer hosts, are not listed; the CSV or NDJSON output has every finding.</p>",
            sum.services.len() - SERVICE_ROWS
        );
    }
}

/// Rows of the software table.
pub const SOFTWARE_ROWS: usize = 100;

/// Hosts as a short list of addresses (`a, b, c and 12 more`).
fn host_list(sample: &[std::net::IpAddr], total: u64) -> String {
    let mut s = sample
        .iter()
        .map(|ip| ip.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if total > sample.len() as u64 {
        let _ = write!(s, " and {} more", total - sample.len() as u64);
    }
    s
}

/// How long until a certificate expires, said for people, and the row's
/// class (`bad` expired, `warn` within 30 days).
fn time_left(
    expires: Option<std::time::SystemTime>,
    now: std::time::SystemTime,
) -> (String, &'static str) {
    const DAY: u64 = 86_400;
    match expires {
        None => ("unreadable date".into(), "warn"),
        Some(t) => match t.duration_since(now) {
            Ok(d) => {
                let days = d.as_secs() / DAY;
                let class = if days < 30 { "warn" } else { "" };
                (
                    match days {
                        0 => "expires today".into(),
                        1 => "in 1 day".into(),
                        n => format!("in {n} days"),
                    },
                    class,
                )
            }
            Err(e) => {
                let days = e.duration().as_secs() / DAY;
                (
                    match days {
                        0 => "expired today".into(),
                        1 => "expired 1 day ago".into(),
                        n => format!("expired {n} days ago"),
                    },
                    "bad",
                )
            }
        },
    }
}

/// The TLS section: problems with the hosts affected, versions in use,
/// certificates expiring soonest first (`now`: when the scan finished).
fn tls_section(out: &mut String, f: &FactsSummary, now: std::time::SystemTime) {
    if !f.any_tls() {
        return;
    }
    out.push_str("<h2 id=\"tls\">TLS certificates and versions</h2>");
    let versions = f
        .versions
        .iter()
        .map(|(v, n)| {
            format!(
                "<strong>{}</strong> on {n} port{}",
                esc(v),
                if *n == 1 { "" } else { "s" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let _ = write!(
        out,
        "<p class=\"lead\">{} port{} showed a certificate. Versions in use: {}.</p>",
        f.cert_ports,
        if f.cert_ports == 1 { "" } else { "s" },
        if versions.is_empty() {
            "none seen".to_string()
        } else {
            versions
        }
    );
    let bad = f.problems.iter().any(|p| p.spread.ports > 0);
    if bad {
        out.push_str("<h3>Certificate and TLS problems</h3><table><thead><tr><th>Problem</th><th class=\"num\">Ports</th><th class=\"num\">Hosts</th><th>Hosts affected</th><th>What to do</th></tr></thead><tbody>");
        for ((_, title), p) in TLS_PROBLEMS.iter().zip(&f.problems) {
            if p.spread.ports == 0 {
                continue;
            }
            let _ = write!(
                out,
                "<tr><td>{title}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
                p.spread.ports,
                p.spread.hosts,
                esc(&host_list(&p.spread.sample, p.spread.hosts)),
                esc(&p.mitigation)
            );
        }
        out.push_str("</tbody></table>");
    } else {
        out.push_str("<p>No certificate or TLS version problem found.</p>");
    }
    if f.certs.is_empty() {
        return;
    }
    out.push_str("<h3>Certificates, expiring soonest first</h3><table><thead><tr><th>Not after</th><th>Left</th><th>Endpoint</th><th>Subject</th><th>Issuer</th><th>Key</th><th>Signature</th><th>SHA-256</th></tr></thead><tbody>");
    for c in &f.certs {
        let (left, class) = time_left(c.expires, now);
        let endpoint = match c.ip {
            std::net::IpAddr::V4(ip) => format!("{ip}:{}/{}", c.port, c.proto),
            std::net::IpAddr::V6(ip) => format!("[{ip}]:{}/{}", c.port, c.proto),
        };
        let text_class = match class {
            "bad" => " class=\"bad-text\"",
            "warn" => " class=\"warn-text\"",
            _ => "",
        };
        let self_signed = if c.self_signed {
            " <span class=\"tag\">self-signed</span>"
        } else {
            ""
        };
        let fp = match c.sha256.get(..16) {
            Some(h) if c.sha256.len() > 16 => format!("{h}…"),
            _ => c.sha256.clone(),
        };
        let _ = write!(
            out,
            "<tr class=\"{class}\"><td class=\"mono\">{}</td><td{text_class}>{left}</td><td class=\"mono\">{}</td><td>{}</td><td>{}{self_signed}</td><td>{} {}</td><td>{}</td><td class=\"mono\" title=\"{}\">{}</td></tr>",
            esc(&c.not_after),
            esc(&endpoint),
            esc(&c.subject),
            esc(&c.issuer),
            esc(&c.key),
            c.key_bits,
            esc(&c.sig),
            esc(&c.sha256),
            esc(&fp)
        );
    }
    out.push_str("</tbody></table>");
    if f.cert_ports > f.certs.len() as u64 {
        let _ = write!(
            out,
            "<p class=\"hosts-list\">{} more certificates, expiring later, are in the CSV or NDJSON output.</p>",
            f.cert_ports - f.certs.len() as u64
        );
    }
}

/// The software and versions the services stated.
fn software_section(out: &mut String, f: &FactsSummary) {
    if f.software.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"software\">Software and versions seen</h2><table><thead><tr><th>Product</th><th>Version</th><th class=\"num\">Ports</th><th class=\"num\">Hosts</th><th>Hosts</th></tr></thead><tbody>");
    for s in f.software.iter().take(SOFTWARE_ROWS) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"mono hosts-list\">{}</td></tr>",
            esc(&s.product),
            s.version
                .as_deref()
                .map(esc)
                .unwrap_or_else(|| "not stated".into()),
            s.spread.ports,
            s.spread.hosts,
            esc(&host_list(&s.spread.sample, s.spread.hosts))
        );
    }
    out.push_str("</tbody></table>");
    let more = f.software.len().saturating_sub(SOFTWARE_ROWS);
    if more > 0 || f.software_other > 0 {
        let _ = write!(
            out,
            "<p class=\"hosts-list\">{more} more products and versions on fewer ports{}; the CSV or NDJSON output has every port's product and version.</p>",
            if f.software_other > 0 {
                format!(" and {} ports with yet other versions", f.software_other)
            } else {
                String::new()
            }
        );
    }
}

fn hosts_table(out: &mut String, sum: &Summary) {
    out.push_str("<h2>Riskiest hosts</h2><table><thead><tr><th>Host</th><th>Grade</th><th class=\"num\">Score</th><th class=\"num\">Open</th><th class=\"num\">Expected</th><th class=\"num\">Critical</th><th class=\"num\">High</th><th class=\"num\">Medium</th><th class=\"num\">Low</th><th class=\"num\">Info</th></tr></thead><tbody>");
    for (i, h) in sum.worst.iter().enumerate() {
        let ip = if i < DETAIL_HOSTS {
            format!("<a href=\"#h-{ip}\">{ip}</a>", ip = h.ip)
        } else {
            h.ip.to_string()
        };
        let _ = write!(
            out,
            "<tr><td class=\"mono\">{ip}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            grade_badge(h.grade),
            h.score,
            h.open,
            h.expected,
            h.critical,
            h.high,
            h.medium,
            h.low,
            h.info,
        );
    }
    out.push_str("</tbody></table>");
    let n = sum.host_count();
    if n > sum.worst.len() {
        let _ = write!(
            out,
            "<p class=\"hosts-list\">The {} worst of {n} hosts; the JSON output lists every host's score and grade.</p>",
            sum.worst.len()
        );
    }
}

fn finding_row(out: &mut String, f: &Finding) {
    let e = esc;
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
    let mut service = e(&f.service);
    if let Some(p) = &f.protocol
        && *p != f.service
    {
        let _ = write!(service, " <span class=\"tag\">{}</span>", e(p));
    }
    if let Some(b) = &f.banner {
        let _ = write!(service, "<div><code>{}</code></div>", e(b));
    }
    if let Some(a) = f.amplification {
        let _ = write!(service, "<div>amplification {a:.1}x</div>");
    }
    let _ = write!(
        out,
        "<tr{}><td class=\"mono\">{}</td><td>{service}</td><td>{}{tags}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        if closed { " class=\"closed\"" } else { "" },
        e(&endpoint(f)),
        category_str(f.category),
        sev_badge(f.severity),
        e(&f.rationale),
        e(&f.mitigation)
    );
}

fn host_section(out: &mut String, d: &HostDetail) {
    let h = &d.score;
    let _ = write!(
        out,
        "<h3 id=\"h-{ip}\">Host <span class=\"mono\">{ip}</span> {} score {}</h3>",
        grade_badge(h.grade),
        h.score,
        ip = h.ip
    );
    out.push_str("<table><thead><tr><th>Endpoint</th><th>Service</th><th>Category</th><th>Severity</th><th>Why it matters</th><th>What to do</th></tr></thead><tbody>");
    for f in &d.findings {
        finding_row(out, f);
    }
    if d.pseudo > 0 {
        let _ = write!(
            out,
            "<tr class=\"closed\"><td colspan=\"6\">{} more open ports answer without a real service (a middlebox or tarpit, marked pseudo): not listed, no score cost.</td></tr>",
            d.pseudo
        );
    }
    if d.more > 0 {
        let _ = write!(
            out,
            "<tr class=\"closed\"><td colspan=\"6\">{} more findings of this host, less severe, are in the CSV or NDJSON output.</td></tr>",
            d.more
        );
    }
    out.push_str("</tbody></table>");
}

fn change_list(out: &mut String, title: &str, total: u64, rows: &[&Finding]) {
    if total == 0 {
        return;
    }
    let _ = write!(out, "<h3>{title} ({total})</h3>");
    out.push_str("<table><thead><tr><th>Endpoint</th><th>Service</th><th>Category</th><th>Severity</th><th>Why it matters</th><th>What to do</th></tr></thead><tbody>");
    for f in rows.iter().take(CHANGE_ROWS) {
        finding_row(out, f);
    }
    out.push_str("</tbody></table>");
    if total > rows.len().min(CHANGE_ROWS) as u64 {
        let _ = write!(
            out,
            "<p class=\"hosts-list\">{} more not listed; <code>synsweep diff OLD NEW -o changes.ndjson</code> writes every change.</p>",
            total - rows.len().min(CHANGE_ROWS) as u64
        );
    }
}

fn baseline(out: &mut String, c: &Changes) {
    out.push_str("<h2>What changed since the baseline</h2>");
    let _ = write!(
        out,
        "<p class=\"lead\"><strong>{}</strong> ports newly open, <strong>{}</strong> closed, <strong>{}</strong> changed (service, protocol, category, severity or certificate), <strong>{}</strong> hosts changed grade.</p>",
        c.opened, c.closed, c.changed, c.grades
    );
    if !c.any() {
        out.push_str("<p>Nothing changed.</p>");
        return;
    }
    let new: Vec<&Finding> = c.new_ports.iter().collect();
    change_list(out, "New open ports, most severe first", c.opened, &new);
    let changed: Vec<&Finding> = c.changed_ports.iter().map(|p| &p.1).collect();
    change_list(out, "Changed ports (as they are now)", c.changed, &changed);
    let closed: Vec<&Finding> = c.closed_ports.iter().collect();
    change_list(out, "Closed ports", c.closed, &closed);
    if c.grades > 0 {
        let _ = write!(
            out,
            "<h3>Grade changes ({})</h3><table><thead><tr><th>Host</th><th>Was</th><th>Now</th></tr></thead><tbody>",
            c.grades
        );
        for (old, new) in c.grade_changes.iter().take(CHANGE_ROWS) {
            let _ = write!(
                out,
                "<tr><td class=\"mono\">{}</td><td>{} {}</td><td>{} {}</td></tr>",
                new.ip,
                grade_badge(old.grade),
                old.score,
                grade_badge(new.grade),
                new.score
            );
        }
        out.push_str("</tbody></table>");
    }
}

/// The whole page.
pub fn document(sum: &Summary, meta: &ScanMeta) -> String {
    let scan = &sum.scan;
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>synsweep report: grade {} ({}/100)</title><style>{STYLE}</style></head><body><main>",
        scan.grade, scan.score
    );
    header(&mut out, scan, sum.open, sum.expected, meta);
    fix_first(&mut out, sum);
    out.push_str("<h2>Open findings by category and severity</h2><div class=\"card\">");
    out.push_str(&chart(&sum.by_cat));
    let _ = write!(
        out,
        "<p class=\"hosts-list\">{} open ports; the bars count ports the policy expects too ({}), which cost no score.</p></div>",
        sum.open, sum.expected
    );
    if let Some(c) = &sum.baseline {
        baseline(&mut out, c);
    }
    categories(&mut out, sum);
    services(&mut out, sum);
    tls_section(&mut out, &sum.facts, meta.finished);
    software_section(&mut out, &sum.facts);
    hosts_table(&mut out, sum);
    out.push_str("<h2>Findings per host</h2>");
    if sum.riskiest.is_empty() {
        out.push_str("<p>No findings.</p>");
    }
    for d in &sum.riskiest {
        host_section(&mut out, d);
    }
    if sum.host_count() > sum.riskiest.len() {
        let _ = write!(
            out,
            "<p class=\"hosts-list\">Findings of the {} riskiest hosts (at most {DETAIL_FINDINGS} each) are shown; the other {} hosts' findings are in the CSV or NDJSON output (<code>synsweep report FINDINGS -o findings.csv</code>).</p>",
            sum.riskiest.len(),
            sum.host_count() - sum.riskiest.len()
        );
    }
    out.push_str("<footer><h2>How the score is computed</h2><p>Each host starts at 100. Every open port that the policy does not mark expected multiplies the score by (1 − penalty): critical 0.45, high 0.20, medium 0.08, low 0.03, info 0. The result is rounded down and capped at 59 if any finding is critical, at 79 if any is high. Grades: A 90–100, B 80–89, C 70–79, D 60–69, F below 60. The scan scores as its weakest host. Ports marked pseudo (a host answering on every port without a service) cost nothing.</p>");
    let _ = write!(
        out,
        "<p>Generated by synsweep {}. Categories and advice come from synsweep's own catalog, grounded in CISA, US-CERT, FBI, CIS Controls and Shadowserver guidance.</p></footer>",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("</main></body></html>\n");
    out
}
