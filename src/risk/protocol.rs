//! Risk by what answers, not by the port: when identification named a TCP
//! port's protocol, the catalog row that describes the finding is the one
//! of the protocol's own port (telnet on 8080 is rated as telnet on 23, SSH
//! on 443 as SSH on 22, RDP on 13389 as RDP on 3389), unless the port's own
//! row already describes that protocol (TLS on 993 stays `imaps`, HTTP on
//! 8080 stays `http-proxy`) or the port is one the catalog knows for a
//! service that speaks that protocol anyway (HTTP on 2375 stays `docker`).
//!
//! And TLS 1.0 and 1.1 (deprecated by RFC 8996) are a finding of their own.

use crate::finding::{Category, Finding, Severity};

/// The catalog port of each protocol [`crate::identify`] may name.
pub fn home_port(protocol: &str) -> Option<u16> {
    Some(match protocol {
        "ssh" => 22,
        "http" => 80,
        "tls" => 443,
        "ftp" => 21,
        "smtp" => 25,
        "pop3" => 110,
        "imap" => 143,
        "telnet" => 23,
        "redis" => 6379,
        "memcached" => 11211,
        "mqtt" => 1883,
        "vnc" => 5900,
        "rdp" => 3389,
        "smb" => 445,
        "mysql" => 3306,
        "postgresql" => 5432,
        "mongodb" => 27017,
        "ldap" => 389,
        "rtsp" => 554,
        "rsync" => 873,
        "amqp" => 5672,
        "irc" => 6667,
        _ => return None,
    })
}

/// The protocol a well-known port is expected to speak (the ports the
/// identification planner knows), if any.
pub fn expected(port: u16) -> Option<&'static str> {
    Some(match port {
        21 | 2121 => "ftp",
        22 | 2222 => "ssh",
        23 | 2323 => "telnet",
        25 | 587 | 2525 => "smtp",
        110 => "pop3",
        143 => "imap",
        873 => "rsync",
        3306 => "mysql",
        5900..=5903 => "vnc",
        6665..=6669 | 7000 => "irc",
        443 | 465 | 636 | 853 | 990 | 992 | 993 | 995 | 5061 | 6443 | 8443 | 9443 => "tls",
        80 | 81 | 591 | 3000 | 5000 | 8000 | 8008 | 8080 | 8081 | 8888 | 9000 | 9090 => "http",
        6379 => "redis",
        11211 => "memcached",
        1883 => "mqtt",
        3389 => "rdp",
        139 | 445 => "smb",
        5432 => "postgresql",
        27017 | 27018 => "mongodb",
        389 => "ldap",
        554 | 8554 => "rtsp",
        5672 => "amqp",
        _ => return None,
    })
}

/// The port whose catalog row describes a TCP finding on `port` whose
/// service was identified as `protocol`.
pub fn catalog_port(port: u16, protocol: Option<&str>, known: impl Fn(u16) -> bool) -> u16 {
    let Some(p) = protocol else { return port };
    let Some(home) = home_port(p) else {
        return port;
    };
    match expected(port) {
        Some(e) if e == p => port,
        Some(_) => home,
        // A port the catalog knows for a service of its own (which may
        // well speak HTTP or TLS): the port says more than the protocol.
        None if known(port) && matches!(p, "http" | "tls") => port,
        None => home,
    }
}

/// The TLS versions that make a finding of their own.
pub fn is_legacy_tls(detail: Option<&str>) -> bool {
    matches!(detail, Some("TLSv1.0" | "TLSv1.1" | "SSLv3"))
}

/// The `reason` of the finding of its own for a deprecated TLS version.
pub const LEGACY_TLS_REASON: &str = "tls-version";

/// The finding of its own for a port that negotiated a deprecated TLS
/// version (`finding` is the port's, annotated).
pub fn legacy_tls_finding(finding: &Finding, version: &str) -> Finding {
    let mut f = finding.clone();
    f.reason = LEGACY_TLS_REASON.to_string();
    f.rationale = format!(
        "The service negotiated {version}, deprecated by RFC 8996: weak ciphers and \
         downgrade attacks (BEAST, POODLE) expose what it carries."
    );
    rate_legacy_tls(&mut f);
    f
}

/// The rating of a deprecated-TLS finding (its rationale, naming the
/// version, is kept when it has one).
pub fn rate_legacy_tls(f: &mut Finding) {
    f.service = "tls-legacy".to_string();
    f.category = Category::Risky;
    f.severity = Severity::Medium;
    f.admin = false;
    if f.rationale.is_empty() || !f.rationale.contains("RFC 8996") {
        f.rationale = "The service negotiates TLS 1.0 or 1.1, deprecated by RFC 8996.".to_string();
    }
    f.mitigation = "Allow TLS 1.2 and 1.3 only.".to_string();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(p: u16) -> bool {
        crate::risk::catalog::lookup(p, "tcp").is_some()
    }

    #[test]
    fn risk_follows_what_answers() {
        // Telnet on 8080 is telnet; SSH on 443 is SSH; RDP anywhere is RDP.
        assert_eq!(catalog_port(8080, Some("telnet"), known), 23);
        assert_eq!(catalog_port(443, Some("ssh"), known), 22);
        assert_eq!(catalog_port(13389, Some("rdp"), known), 3389);
        assert_eq!(catalog_port(8080, Some("redis"), known), 6379);
        // The port's own row when it describes the protocol.
        assert_eq!(catalog_port(993, Some("tls"), known), 993);
        assert_eq!(catalog_port(8080, Some("http"), known), 8080);
        assert_eq!(catalog_port(22, Some("ssh"), known), 22);
        // HTTP on the Docker API port is the Docker API.
        assert!(known(2375));
        assert_eq!(catalog_port(2375, Some("http"), known), 2375);
        // Nothing identified: the port.
        assert_eq!(catalog_port(8080, None, known), 8080);
        assert_eq!(catalog_port(47123, Some("http"), known), 80);
        for p in crate::identify::PROTOCOLS {
            let home = home_port(p).unwrap();
            assert!(known(home), "{p} on {home}");
            assert_eq!(expected(home), Some(p));
        }
    }

    #[test]
    fn a_legacy_tls_finding_keeps_its_rating_when_annotated_again() {
        let risk = crate::risk::Risk::new(None);
        let t = std::time::UNIX_EPOCH;
        let mut port = Finding::tcp(
            "198.19.0.4".parse().unwrap(),
            993,
            crate::finding::PortState::Open,
            64,
            t,
        );
        port.protocol = Some("tls".into());
        risk.annotate(&mut port);
        assert_eq!(port.service, "imaps");
        let mut f = legacy_tls_finding(&port, "TLSv1.0");
        assert_eq!(
            (f.service.as_str(), f.category, f.severity),
            ("tls-legacy", Category::Risky, Severity::Medium)
        );
        assert!(f.rationale.contains("TLSv1.0"));
        // `synsweep report` annotates what it reads again.
        risk.annotate(&mut f);
        assert_eq!(
            (f.service.as_str(), f.category, f.severity),
            ("tls-legacy", Category::Risky, Severity::Medium)
        );
        assert!(f.rationale.contains("TLSv1.0"));
        assert_eq!(f.reason, LEGACY_TLS_REASON);
    }

    #[test]
    fn legacy_tls() {
        assert!(is_legacy_tls(Some("TLSv1.0")));
        assert!(is_legacy_tls(Some("TLSv1.1")));
        assert!(!is_legacy_tls(Some("TLSv1.2")));
        assert!(!is_legacy_tls(Some("TLSv1.3")));
        assert!(!is_legacy_tls(None));
    }
}
