//! The policy file: expected ports, overrides, and errors that name the line.

use std::io::Write;
use synsweep::error::Error;
use synsweep::finding::{Category, Finding, PortState, Severity};
use synsweep::risk::score::{Grade, host_scores, scan_score};
use synsweep::risk::{Policy, Risk};

fn policy_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn scan(risk: &Risk) -> Vec<Finding> {
    let mut out = Vec::new();
    for ip in ["198.19.0.1", "198.19.0.2", "198.19.0.3"] {
        for port in [80, 443, 3389] {
            let mut f = Finding::tcp(
                ip.parse().unwrap(),
                port,
                PortState::Open,
                64,
                std::time::UNIX_EPOCH,
            );
            risk.annotate(&mut f);
            out.push(f);
        }
    }
    out
}

#[test]
fn expecting_rdp_on_one_host_changes_that_hosts_grade_and_nothing_else() {
    let file = policy_file("[[expect]]\nhosts = [\"198.19.0.2\"]\nports = [3389]\n");
    let policy = Policy::load(file.path()).unwrap();
    let before_findings = scan(&Risk::new(None));
    let after_findings = scan(&Risk::new(Some(policy)));
    let before = host_scores(&before_findings);
    let after = host_scores(&after_findings);
    assert_eq!(before.len(), 3);
    for (b, a) in before.iter().zip(&after) {
        if a.ip.to_string() == "198.19.0.2" {
            assert_eq!((b.grade, a.grade), (Grade::C, Grade::A));
            assert_eq!(a.expected, 1);
        } else {
            assert_eq!(b, a, "other hosts unchanged");
        }
    }
    // Expected findings are still reported, marked expected; nothing else moves.
    assert_eq!(before_findings.len(), after_findings.len());
    for (b, a) in before_findings.iter().zip(&after_findings) {
        let flip = a.ip.to_string() == "198.19.0.2" && a.port == 3389;
        assert_eq!(a.expected, flip);
        let mut a2 = a.clone();
        a2.expected = b.expected;
        assert_eq!(&a2, b);
    }
    // The scan is still as weak as its weakest host.
    assert_eq!(scan_score(&after).grade, Grade::C);
}

#[test]
fn cidr_hosts_and_port_overrides_apply() {
    let p = Policy::parse(
        "[[expect]]\nhosts = [\"198.19.0.0/28\"]\nports = [22, 3389]\n\n[ports.8443]\ncategory = \"normal\"\nseverity = \"info\"\n\n[ports.3306]\nseverity = \"medium\"\nrationale = \"Reached only through the bastion.\"\n",
        "inline",
    )
    .unwrap();
    let risk = Risk::new(Some(p));
    let mut f = Finding::tcp(
        "198.19.0.9".parse().unwrap(),
        3389,
        PortState::Open,
        64,
        std::time::UNIX_EPOCH,
    );
    risk.annotate(&mut f);
    assert!(f.expected);
    f.ip = "198.19.0.16".parse().unwrap();
    risk.annotate(&mut f);
    assert!(!f.expected);
    f.port = 8443;
    risk.annotate(&mut f);
    assert_eq!((f.category, f.severity), (Category::Normal, Severity::Info));
    f.port = 3306;
    risk.annotate(&mut f);
    assert_eq!(
        (f.category, f.severity),
        (Category::Risky, Severity::Medium)
    );
    assert_eq!(f.rationale, "Reached only through the bastion.");
    assert!(!f.mitigation.is_empty());
}

fn load_err(text: &str) -> String {
    let file = policy_file(text);
    match Policy::load(file.path()) {
        Err(Error::Input(m)) => {
            assert!(
                m.contains(&file.path().display().to_string()),
                "names the file: {m}"
            );
            assert!(!m.contains('\n'), "one line: {m}");
            m
        }
        other => panic!("expected an input error, got {other:?}"),
    }
}

fn names_line(msg: &str, line: usize) -> bool {
    msg.contains(&format!(".toml:{line}:"))
}

#[test]
fn bad_policies_name_the_file_and_line() {
    let cases: &[(&str, usize)] = &[
        // TOML syntax error on line 3.
        (
            "# policy\n[[expect]]\nports = [22,, 23]\nhosts = [\"198.19.0.1\"]\n",
            3,
        ),
        // Not an address.
        (
            "[[expect]]\nports = [22]\nhosts = [\"198.19.0.1\",\n  \"not-an-ip\"]\n",
            4,
        ),
        // Port out of range.
        (
            "\n\n[[expect]]\nhosts = [\"198.19.0.1\"]\nports = [22, 70000]\n",
            5,
        ),
        // Unknown category.
        ("[ports.8443]\ncategory = \"fine\"\n", 2),
        // Unknown key (typo).
        ("[ports.8443]\nseverty = \"info\"\n", 2),
        // Port key that is not a number.
        ("\n[ports.https]\nseverity = \"info\"\n", 2),
        // Unknown proto.
        (
            "[[expect]]\nhosts = [\"198.19.0.1\"]\nports = [22]\nproto = \"sctp\"\n",
            4,
        ),
    ];
    for (text, line) in cases {
        let m = load_err(text);
        eprintln!("{m}");
        assert!(names_line(&m, *line), "want line {line}: {m}");
    }
}

#[test]
fn missing_policy_file_is_an_input_error() {
    assert!(matches!(
        Policy::load(std::path::Path::new("/nonexistent/policy.toml")),
        Err(Error::Input(_))
    ));
}
