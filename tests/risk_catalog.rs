//! The catalog and the categorizer follow the rules on the lab ports.

use synsweep::finding::{Category, Finding, PortState, Severity};
use synsweep::risk::{self, Risk, catalog};

fn annotated(port: u16) -> Finding {
    let mut f = Finding::tcp(
        "198.19.0.4".parse().unwrap(),
        port,
        PortState::Open,
        64,
        std::time::UNIX_EPOCH,
    );
    Risk::new(None).annotate(&mut f);
    f
}

#[test]
fn lab_ports_get_category_severity_and_admin_by_the_rules() {
    use Category::*;
    use Severity::*;
    let want: &[(u16, Category, Severity, bool)] = &[
        (22, Administrative, Low, true),
        (23, Risky, Critical, true),
        (80, Normal, Low, false),
        (443, Normal, Info, false),
        (445, Risky, Critical, false),
        (3306, Risky, High, false),
        (3389, Administrative, High, true),
        (6379, Risky, Critical, false),
    ];
    for &(port, cat, sev, admin) in want {
        let f = annotated(port);
        assert_eq!(
            (f.category, f.severity, f.admin),
            (cat, sev, admin),
            "port {port}"
        );
        assert!(
            !f.rationale.is_empty() && !f.mitigation.is_empty(),
            "port {port}"
        );
        assert!(!f.service.is_empty() && !f.expected);
    }
    // Nothing named them: the port's names, marked as guesses.
    assert_eq!(annotated(22).service, "ssh?");
    assert_eq!(annotated(3389).service, "ms-wbt-server?");
    assert!(annotated(22).rationale.starts_with(risk::GUESS_RATIONALE));
    // Named: the plain name, rated the same.
    let mut ssh = annotated(22);
    ssh.protocol = Some("ssh".into());
    Risk::new(None).annotate(&mut ssh);
    assert_eq!(ssh.service, "ssh");
    assert_eq!(
        (ssh.category, ssh.severity),
        (annotated(22).category, annotated(22).severity)
    );
    assert!(!ssh.rationale.starts_with(risk::GUESS_RATIONALE));
}

#[test]
fn unlisted_high_port_is_other_with_advice() {
    let f = annotated(47123);
    assert_eq!(f.category, Category::Other);
    assert_eq!(f.severity, Severity::Low);
    assert!(!f.admin);
    assert!(!f.service.is_empty(), "service is a name or 'unknown'");
    assert!(!f.rationale.is_empty() && !f.mitigation.is_empty());
}

#[test]
fn cleartext_management_is_risky_and_admin() {
    for port in [23, 512, 513, 514, 5900, 2375] {
        let f = annotated(port);
        assert_eq!(f.category, Category::Risky, "port {port}");
        assert!(f.admin, "port {port}");
    }
    let snmp = catalog::lookup(161, "udp").unwrap();
    assert_eq!((snmp.category, snmp.admin), (Category::Risky, true));
}

#[test]
fn web_mail_and_dns_are_normal() {
    for port in [25, 53, 80, 443, 465, 587, 993, 995] {
        assert_eq!(annotated(port).category, Category::Normal, "port {port}");
    }
}

#[test]
fn catalog_has_at_least_100_tcp_ports_and_some_udp_rows() {
    let ports = risk::default_ports();
    assert!(ports.len() >= 100, "{}", ports.len());
    assert!(
        ports.windows(2).all(|w| w[0] < w[1]),
        "sorted and deduplicated"
    );
    for p in [22, 23, 80, 443, 445, 3306, 3389, 6379] {
        assert!(ports.contains(&p));
    }
    assert!(catalog::CATALOG.iter().filter(|e| e.proto == "udp").count() >= 10);
}

#[test]
fn catalog_renders_as_table_and_json() {
    let table = catalog::render("table").unwrap();
    assert!(table.lines().next().unwrap().starts_with("PORT"));
    assert!(table.contains("3389/tcp"));
    assert_eq!(table.lines().count(), catalog::CATALOG.len() + 1);
    let json: serde_json::Value = serde_json::from_str(&catalog::render("json").unwrap()).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), catalog::CATALOG.len());
    let rdp = rows
        .iter()
        .find(|r| r["port"] == 3389 && r["proto"] == "tcp")
        .unwrap();
    assert_eq!(rdp["category"], "administrative");
    assert_eq!(rdp["severity"], "high");
    assert_eq!(rdp["admin"], true);
    assert!(catalog::render("yaml").is_err());
}
