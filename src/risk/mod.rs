//! Risk categorizer: a pure function of (port, protocol, policy) to a
//! finding's service, category, severity, admin flag, expected flag,
//! rationale and mitigation; then per-host and per-scan scores and grades.
//!
//! - [`catalog`]: synsweep's own table of well-known ports and the rules it keeps.
//! - [`policy`]: the user's TOML policy (expected ports, per-port overrides).
//! - [`protocol`]: the row of an identified service (telnet on 8080 is telnet).
//! - [`score`]: the score formula, grades and the weakest-link roll-up.
//! - [`plan`]: what to fix first, ranked by what each action buys.
//!
//! Ports the catalog does not know are `other` (severity low); their service
//! name is read at run time from the host's `/etc/services` when it exists,
//! else `unknown`.
//!
//! An open port where nothing named the protocol is still rated by its
//! port's row, as a guess: its `service` ends with
//! [`GUESS_MARK`](crate::finding::GUESS_MARK) (`ftp?`) and its rationale
//! starts with [`GUESS_RATIONALE`]. A name or rationale the user's policy
//! gives the port is the user's word and stays as written.

pub mod catalog;
pub mod plan;
pub mod policy;
pub mod protocol;
pub mod score;

use crate::finding::{Category, Finding, Severity};
pub use policy::Policy;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Catalog plus the user's policy. Cheap to clone; shareable across threads.
#[derive(Debug, Default, Clone)]
pub struct Risk {
    policy: Arc<Policy>,
}

impl Risk {
    pub fn new(policy: Option<Policy>) -> Self {
        Risk {
            policy: Arc::new(policy.unwrap_or_default()),
        }
    }

    /// The policy in force (empty when none was given).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Fill in service, category, severity, admin, expected, rationale and
    /// mitigation of a finding from its ip, port and proto. Whatever those
    /// fields held before is replaced.
    pub fn annotate(&self, f: &mut Finding) {
        let legacy_tls = (f.reason == protocol::LEGACY_TLS_REASON).then(|| f.rationale.clone());
        let cert_aspect = protocol::cert_aspect(&f.reason).map(|a| (a, f.rationale.clone()));
        // An identified TCP service is rated as what it is (see `protocol`).
        let row = if f.proto.eq_ignore_ascii_case("tcp") {
            protocol::catalog_port(f.port, f.protocol.as_deref(), |p| {
                catalog::lookup(p, "tcp").is_some()
            })
        } else {
            f.port
        };
        match catalog::lookup(row, &f.proto) {
            Some(e) => {
                f.service = e.service.to_string();
                f.category = e.category;
                f.severity = e.severity;
                f.admin = e.admin;
                f.rationale = e.rationale.to_string();
                f.mitigation = e.mitigation.to_string();
            }
            None => {
                f.service = system_service(f.port, &f.proto)
                    .unwrap_or("unknown")
                    .to_string();
                f.category = catalog::OTHER_CATEGORY;
                f.severity = catalog::OTHER_SEVERITY;
                f.admin = false;
                f.rationale = catalog::OTHER_RATIONALE.to_string();
                f.mitigation = catalog::OTHER_MITIGATION.to_string();
            }
        }
        let guessed = f.state == crate::finding::PortState::Open
            && f.protocol.is_none()
            && !f.is_aspect()
            && f.service != "unknown";
        let overrides = if f.proto.eq_ignore_ascii_case("udp") {
            &self.policy.udp_ports
        } else {
            &self.policy.ports
        };
        if let Some(o) = overrides.get(&f.port) {
            if let Some(c) = o.category {
                f.category = c;
            }
            if let Some(s) = o.severity {
                f.severity = s;
            }
            if let Some(a) = o.admin {
                f.admin = a;
            }
            if let Some(s) = &o.rationale {
                f.rationale = s.clone();
            }
            if let Some(s) = &o.mitigation {
                f.mitigation = s.clone();
            }
        }
        let own = overrides.get(&f.port);
        match own.and_then(|o| o.service.as_ref()) {
            Some(s) => f.service = s.clone(),
            None if guessed => {
                f.service.push(crate::finding::GUESS_MARK);
                if own.is_none_or(|o| o.rationale.is_none()) {
                    f.rationale = format!("{GUESS_RATIONALE} {}", f.rationale);
                }
            }
            None => {}
        }
        // An amplifier (UDP reply at least twice the probe) is at least
        // high severity, whatever the catalog or the policy say.
        if let Some(a) = f.amplification {
            f.severity = crate::probe::udp_payloads::amplifier_severity(f.severity, a);
        }
        // A deprecated TLS version is a finding of its own (`report` reads
        // it back): it keeps its own rating.
        if let Some(r) = legacy_tls {
            f.rationale = r;
            protocol::rate_legacy_tls(f);
        }
        // So is a certificate problem.
        if let Some((a, r)) = cert_aspect {
            f.rationale = r;
            protocol::rate_cert_aspect(f, a);
        }
        f.expected = self.policy.is_expected(f.ip, f.port, &f.proto);
    }
}

/// What the rationale of an open port starts with when nothing named its
/// protocol and it is rated by its port's row.
pub const GUESS_RATIONALE: &str = "Service not confirmed: nothing identified what answers on this port; rated as the port's usual service.";

/// The TCP ports scanned when the user gives no `-p`: the catalog's ports.
pub fn default_ports() -> Vec<u16> {
    catalog::tcp_ports()
}

/// Lower-case name of a category, as in the findings record.
pub fn category_str(c: Category) -> &'static str {
    match c {
        Category::Risky => "risky",
        Category::Administrative => "administrative",
        Category::Normal => "normal",
        Category::Other => "other",
    }
}

/// Lower-case name of a severity, as in the findings record.
pub fn severity_str(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Info => "info",
    }
}

/// Parse `/etc/services`-style text into (proto, port) -> first name.
pub fn parse_services(text: &str) -> HashMap<(String, u16), String> {
    let mut map = HashMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut it = line.split_whitespace();
        let (Some(name), Some(pp)) = (it.next(), it.next()) else {
            continue;
        };
        let Some((port, proto)) = pp.split_once('/') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        map.entry((proto.to_ascii_lowercase(), port))
            .or_insert_with(|| name.to_string());
    }
    map
}

/// The host's `/etc/services` name for a port, read once per process.
fn system_service(port: u16, proto: &str) -> Option<&'static str> {
    static SERVICES: OnceLock<HashMap<(String, u16), String>> = OnceLock::new();
    SERVICES
        .get_or_init(|| {
            std::fs::read_to_string("/etc/services")
                .map(|t| parse_services(&t))
                .unwrap_or_default()
        })
        .get(&(proto.to_ascii_lowercase(), port))
        .map(|s| s.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_services_lines() {
        let m =
            parse_services("# c\nfoo\t\t4242/tcp  bar # x\nbaz 4242/tcp\nqux 7/udp\nbad x/tcp\n");
        assert_eq!(m[&("tcp".to_string(), 4242)], "foo");
        assert_eq!(m[&("udp".to_string(), 7)], "qux");
        assert_eq!(m.len(), 2);
    }

    fn finding(port: u16, proto: &str) -> Finding {
        Finding::observed(
            "198.19.0.4".parse().unwrap(),
            port,
            proto,
            crate::finding::PortState::Open,
            "udp-response",
            64,
            std::time::SystemTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn tcp_and_udp_of_one_port_are_keyed_apart_and_amplifiers_are_high() {
        let policy = Policy::parse(
            "[ports.\"53/udp\"]\nseverity = \"low\"\nservice = \"resolver\"\n",
            "p.toml",
        )
        .unwrap();
        let r = Risk::new(Some(policy));
        let mut t = finding(53, "tcp");
        r.annotate(&mut t);
        assert_eq!(t.severity, catalog::lookup(53, "tcp").unwrap().severity);
        assert_ne!(
            t.service, "resolver",
            "the UDP override leaves TCP/53 alone"
        );
        let mut u = finding(53, "udp");
        r.annotate(&mut u);
        assert_eq!(
            (u.service.as_str(), u.severity),
            ("resolver", Severity::Low)
        );
        // The same reply, measured as an amplifier: at least high.
        let mut a = finding(53, "udp");
        a.amplification = Some(3.5);
        r.annotate(&mut a);
        assert_eq!(a.severity, Severity::High);
        let mut small = finding(53, "udp");
        small.amplification = Some(1.2);
        r.annotate(&mut small);
        assert_eq!(small.severity, Severity::Low);
        assert!(Policy::parse("[ports.\"53/sctp\"]\nseverity = \"low\"\n", "p.toml").is_err());
    }

    #[test]
    fn an_unnamed_open_port_is_rated_by_its_port_as_a_guess() {
        let r = Risk::new(None);
        let ftp = catalog::lookup(21, "tcp").unwrap();
        let mut f = finding(21, "tcp");
        f.reason = "syn-ack".into();
        r.annotate(&mut f);
        assert_eq!(f.service, format!("{}?", ftp.service));
        assert!(f.service_guessed());
        assert_eq!(f.service_name(), ftp.service);
        assert_eq!((f.category, f.severity), (ftp.category, ftp.severity));
        assert_eq!(f.rationale, format!("{GUESS_RATIONALE} {}", ftp.rationale));
        // Annotating again (report, merge) gives the same record.
        let mut again = f.clone();
        r.annotate(&mut again);
        assert_eq!(again, f);
        // Named: the plain name, the plain rationale.
        let mut named = finding(21, "tcp");
        named.protocol = Some("ftp".into());
        r.annotate(&mut named);
        assert_eq!(
            (named.service.as_str(), named.rationale.as_str()),
            (ftp.service, ftp.rationale)
        );
        assert!(!named.service_guessed());
        // A closed port claims no service: its port's name, plain.
        let mut closed = finding(21, "tcp");
        closed.state = crate::finding::PortState::Closed;
        r.annotate(&mut closed);
        assert_eq!(closed.service, ftp.service);
        // A UDP reply nothing named is a guess too.
        let mut u = finding(53, "udp");
        r.annotate(&mut u);
        assert!(u.service_guessed(), "{}", u.service);
        // The user's own name for a port stays as written.
        let p = Policy::parse("[ports.21]\nservice = \"ftp-in\"\n", "p.toml").unwrap();
        let mut mine = finding(21, "tcp");
        Risk::new(Some(p)).annotate(&mut mine);
        assert_eq!(mine.service, "ftp-in");
        // So does the user's rationale; the name is still a guess.
        let p = Policy::parse("[ports.21]\nrationale = \"Ours.\"\n", "p.toml").unwrap();
        let mut mine = finding(21, "tcp");
        Risk::new(Some(p)).annotate(&mut mine);
        assert_eq!(
            (mine.service.as_str(), mine.rationale.as_str()),
            ("ftp?", "Ours.")
        );
    }

    #[test]
    fn risk_is_send_sync_clone() {
        fn ok<T: Send + Sync + Clone>() {}
        ok::<Risk>();
    }
}
