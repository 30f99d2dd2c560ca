//! Risk by what answers, not by the port: when identification named a TCP
//! port's protocol, the catalog row that describes the finding is the one
//! of the protocol's own port (telnet on 8080 is rated as telnet on 23, SSH
//! on 443 as SSH on 22, RDP on 13389 as RDP on 3389), unless the port's own
//! row already describes that protocol (TLS on 993 stays `imaps`, HTTP on
//! 8080 stays `http-proxy`) or the port is one the catalog knows for a
//! service that speaks that protocol anyway (HTTP on 2375 stays `docker`).
//!
//! And TLS 1.0 and 1.1 (deprecated by RFC 8996) are a finding of their own,
//! as is each problem of a TLS port's certificate ([`cert_findings`]):
//! expired, not yet valid, expiring within 30 days, self-signed, an RSA key
//! under 2048 bits, an MD5 or SHA-1 signature, a lifetime over 398 days.

use crate::finding::{Category, Cert, Finding, Severity};
use std::time::{Duration, SystemTime};

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
    let preferred = finding
        .tls
        .as_ref()
        .map(|t| t.version.as_str())
        .filter(|v| !is_legacy_tls(Some(v)));
    f.rationale = match preferred {
        Some(p) => format!(
            "The service negotiates {p} but still accepts {version}, deprecated by RFC 8996: \
             a client that offers no more, or an attacker who strips the rest, gets weak \
             ciphers and downgrade attacks (BEAST, POODLE)."
        ),
        None => format!(
            "The service negotiated {version}, deprecated by RFC 8996: weak ciphers and \
             downgrade attacks (BEAST, POODLE) expose what it carries."
        ),
    };
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

/// A certificate problem that makes a record of its own (its `service` and
/// `reason`), with its rating and advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertAspect {
    pub name: &'static str,
    pub category: Category,
    pub severity: Severity,
    /// Why it matters, when the record has no rationale of its own.
    pub rationale: &'static str,
    pub mitigation: &'static str,
}

/// Every certificate problem, in the order its records follow a port's.
pub const CERT_ASPECTS: [CertAspect; 7] = [
    CertAspect {
        name: "tls-cert-expired",
        category: Category::Risky,
        severity: Severity::High,
        rationale: "The certificate has expired: clients refuse the connection or warn, and \
                    users who learn to click through warnings accept an attacker's too.",
        mitigation: "Renew the certificate, and automate renewal (ACME).",
    },
    CertAspect {
        name: "tls-cert-not-yet-valid",
        category: Category::Risky,
        severity: Severity::Medium,
        rationale: "The certificate is not valid yet: clients refuse it; a wrong clock or a \
                    deployment mistake.",
        mitigation: "Check the server's clock and deploy a certificate valid now.",
    },
    CertAspect {
        name: "tls-cert-expiring",
        category: Category::Risky,
        severity: Severity::Low,
        rationale: "The certificate expires within 30 days.",
        mitigation: "Renew the certificate before it expires, and automate renewal (ACME).",
    },
    CertAspect {
        name: "tls-cert-self-signed",
        category: Category::Risky,
        severity: Severity::Medium,
        rationale: "The certificate is self-signed: no client can verify whom it talks to, \
                    so a man in the middle goes unnoticed.",
        mitigation: "Use a certificate from a public CA, or from an internal CA that clients trust.",
    },
    CertAspect {
        name: "tls-weak-key",
        category: Category::Risky,
        severity: Severity::High,
        rationale: "The certificate's RSA key is shorter than 2048 bits: it can be factored \
                    with means within reach.",
        mitigation: "Issue a new certificate with an RSA key of at least 2048 bits or an EC key.",
    },
    CertAspect {
        name: "tls-weak-signature",
        category: Category::Risky,
        severity: Severity::Medium,
        rationale: "The certificate is signed with MD5 or SHA-1, whose collisions let a forged \
                    certificate carry the same signature.",
        mitigation: "Issue a new certificate signed with SHA-256 or stronger.",
    },
    CertAspect {
        name: "tls-cert-long-lifetime",
        category: Category::Risky,
        severity: Severity::Low,
        rationale: "The certificate is valid for more than 398 days, beyond what browsers \
                    accept for public certificates: a compromised key stays usable for long.",
        mitigation: "Issue certificates valid for 398 days at most, renewed automatically.",
    },
];

/// Days before expiry from which a certificate is `tls-cert-expiring`.
pub const EXPIRING_DAYS: u64 = 30;
/// Longest lifetime (days) that is not `tls-cert-long-lifetime`.
pub const LIFETIME_MAX_DAYS: u64 = 398;

/// The certificate aspect named `reason`, if it is one.
pub fn cert_aspect(reason: &str) -> Option<&'static CertAspect> {
    CERT_ASPECTS.iter().find(|a| a.name == reason)
}

fn time_of(rfc3339: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(rfc3339).ok()
}

const DAY: u64 = 86_400;

/// The problems of `cert` at time `now`, each with a rationale naming what
/// was seen (dates, key size, algorithm).
pub fn cert_problems(cert: &Cert, now: SystemTime) -> Vec<(&'static CertAspect, String)> {
    let (from, until) = (time_of(&cert.not_before), time_of(&cert.not_after));
    let mut out = Vec::new();
    let mut add = |name: &str, why: String| {
        let a = cert_aspect(name).expect("a certificate aspect");
        out.push((a, format!("{why} {}", a.rationale)));
    };
    if let Some(until) = until {
        if until < now {
            add(
                "tls-cert-expired",
                format!("Not valid after {}.", cert.not_after),
            );
        } else if until < now + Duration::from_secs(EXPIRING_DAYS * DAY) {
            add(
                "tls-cert-expiring",
                format!("Not valid after {}.", cert.not_after),
            );
        }
    }
    if from.is_some_and(|f| now < f) {
        add(
            "tls-cert-not-yet-valid",
            format!("Not valid before {}.", cert.not_before),
        );
    }
    if cert.self_signed {
        add("tls-cert-self-signed", format!("Issuer {}.", cert.issuer));
    }
    if cert.key == "rsa" && cert.key_bits < 2048 {
        add("tls-weak-key", format!("RSA {} bits.", cert.key_bits));
    }
    let sig = cert.sig.to_ascii_lowercase();
    if sig.contains("md5") || sig.contains("md2") || sig.contains("sha1") {
        add("tls-weak-signature", format!("Signed with {}.", cert.sig));
    }
    if let (Some(f), Some(u)) = (from, until)
        && u.duration_since(f)
            .is_ok_and(|d| d > Duration::from_secs(LIFETIME_MAX_DAYS * DAY))
    {
        add(
            "tls-cert-long-lifetime",
            format!("Valid from {} to {}.", cert.not_before, cert.not_after),
        );
    }
    out.sort_by_key(|(a, _)| CERT_ASPECTS.iter().position(|b| b.name == a.name));
    out
}

/// The records of their own for the problems of the certificate of
/// `finding` (the port's record, annotated) at time `now`.
pub fn cert_findings(finding: &Finding, now: SystemTime) -> Vec<Finding> {
    let Some(cert) = finding.tls.as_ref().and_then(|t| t.cert.as_ref()) else {
        return Vec::new();
    };
    cert_problems(cert, now)
        .into_iter()
        .map(|(a, why)| {
            let mut f = finding.clone();
            f.reason = a.name.to_string();
            f.rationale = why;
            rate_cert_aspect(&mut f, a);
            f
        })
        .collect()
}

/// The rating of a certificate aspect's record (its rationale, naming what
/// was seen, is kept when it has one).
pub fn rate_cert_aspect(f: &mut Finding, a: &CertAspect) {
    f.service = a.name.to_string();
    f.category = a.category;
    f.severity = a.severity;
    f.admin = false;
    if f.rationale.is_empty() || !f.rationale.ends_with(a.rationale) {
        f.rationale = a.rationale.to_string();
    }
    f.mitigation = a.mitigation.to_string();
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
    fn every_aspect_reason_is_one_the_finding_record_knows() {
        use crate::finding::ASPECT_REASON_PREFIX;
        let mut f = Finding::tcp(
            "198.19.0.4".parse().unwrap(),
            443,
            crate::finding::PortState::Open,
            64,
            std::time::UNIX_EPOCH,
        );
        assert_eq!(f.aspect(), None, "a port's own record");
        let aspects = CERT_ASPECTS.iter().map(|a| a.name);
        for reason in aspects.chain([LEGACY_TLS_REASON]) {
            assert!(reason.starts_with(ASPECT_REASON_PREFIX), "{reason}");
            f.reason = reason.into();
            assert_eq!(f.aspect(), Some(reason));
        }
        for reason in ["syn-ack", "rst", "udp-response", "icmp-port-unreach"] {
            f.reason = reason.into();
            assert_eq!(f.aspect(), None, "{reason}");
        }
    }

    #[test]
    fn legacy_tls() {
        assert!(is_legacy_tls(Some("TLSv1.0")));
        assert!(is_legacy_tls(Some("TLSv1.1")));
        assert!(!is_legacy_tls(Some("TLSv1.2")));
        assert!(!is_legacy_tls(Some("TLSv1.3")));
        assert!(!is_legacy_tls(None));
    }

    fn cert(not_before: &str, not_after: &str) -> Cert {
        Cert {
            subject: "CN=a".into(),
            issuer: "CN=ca".into(),
            not_before: not_before.into(),
            not_after: not_after.into(),
            key: "ec".into(),
            key_bits: 256,
            sig: "ecdsa-with-SHA256".into(),
            ..Cert::default()
        }
    }

    fn names(c: &Cert, now: &str) -> Vec<&'static str> {
        cert_problems(c, humantime::parse_rfc3339(now).unwrap())
            .into_iter()
            .map(|(a, _)| a.name)
            .collect()
    }

    #[test]
    fn certificate_problems_at_a_given_time() {
        let now = "2026-12-06T12:00:00Z";
        // 90 days, valid now: nothing.
        let ok = cert("2026-11-01T00:00:00Z", "2027-01-30T00:00:00Z");
        assert!(names(&ok, now).is_empty());
        // Expired a second ago; expiring within 30 days (and not at 30 days
        // and a second); not yet valid.
        let c = cert("2026-09-01T00:00:00Z", "2026-12-06T11:59:59Z");
        assert_eq!(names(&c, now), ["tls-cert-expired"]);
        let c = cert("2026-11-01T00:00:00Z", "2027-01-05T11:59:59Z");
        assert_eq!(names(&c, now), ["tls-cert-expiring"]);
        let c = cert("2026-11-01T00:00:00Z", "2027-01-05T12:00:01Z");
        assert!(names(&c, now).is_empty());
        let c = cert("2026-12-06T12:00:01Z", "2027-01-30T00:00:00Z");
        assert_eq!(names(&c, now), ["tls-cert-not-yet-valid"]);
        // Lifetime: 398 days is fine, 398 days and a second is not.
        let c = cert("2026-11-01T00:00:00Z", "2027-12-04T00:00:00Z");
        assert!(names(&c, now).is_empty());
        let c = cert("2026-11-01T00:00:00Z", "2027-12-04T00:00:01Z");
        assert_eq!(names(&c, now), ["tls-cert-long-lifetime"]);
        // Key, signature, self-signed, several at once in catalog order.
        let mut c = cert("2026-11-01T00:00:00Z", "2029-11-01T00:00:00Z");
        c.key = "rsa".into();
        c.key_bits = 1024;
        c.sig = "sha1WithRSAEncryption".into();
        c.self_signed = true;
        assert_eq!(
            names(&c, now),
            [
                "tls-cert-self-signed",
                "tls-weak-key",
                "tls-weak-signature",
                "tls-cert-long-lifetime"
            ]
        );
        c.key_bits = 2048;
        c.sig = "md5WithRSAEncryption".into();
        assert!(names(&c, now).contains(&"tls-weak-signature"));
        c.sig = "sha256WithRSAEncryption".into();
        assert!(!names(&c, now).contains(&"tls-weak-key"));
        // An EC key of 256 bits is not weak.
        let mut c = cert("2026-11-01T00:00:00Z", "2027-01-30T00:00:00Z");
        c.key_bits = 256;
        assert!(names(&c, now).is_empty());
        // Unreadable dates: no date problem.
        let c = cert("garbage", "");
        assert!(names(&c, now).is_empty());
    }

    #[test]
    fn certificate_records_keep_their_rating_when_annotated_again() {
        let risk = crate::risk::Risk::new(None);
        let mut port = Finding::tcp(
            "198.19.0.4".parse().unwrap(),
            443,
            crate::finding::PortState::Open,
            64,
            std::time::UNIX_EPOCH,
        );
        port.protocol = Some("tls".into());
        let mut c = cert("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z");
        c.self_signed = true;
        port.tls = Some(Box::new(crate::finding::Tls {
            version: "TLSv1.3".into(),
            cipher: None,
            cert: Some(c),
        }));
        risk.annotate(&mut port);
        let now = humantime::parse_rfc3339("2026-12-06T12:00:00Z").unwrap();
        let recs = cert_findings(&port, now);
        let got: Vec<_> = recs
            .iter()
            .map(|f| {
                (
                    f.reason.as_str(),
                    f.service.as_str(),
                    f.category,
                    f.severity,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "tls-cert-expired",
                    "tls-cert-expired",
                    Category::Risky,
                    Severity::High
                ),
                (
                    "tls-cert-self-signed",
                    "tls-cert-self-signed",
                    Category::Risky,
                    Severity::Medium
                )
            ]
        );
        for f in &recs {
            assert!(f.is_aspect() && !port.is_aspect());
            let mut again = f.clone();
            risk.annotate(&mut again);
            assert_eq!(&again, f, "report keeps the record as the scan wrote it");
        }
        assert!(
            recs[0]
                .rationale
                .starts_with("Not valid after 2026-02-01T00:00:00Z.")
        );
        // Deduplication (report, merge) keeps the port and each of its
        // aspects apart, and drops a true duplicate.
        let mut all = vec![port.clone()];
        all.extend(recs.iter().cloned());
        all.push(recs[1].clone());
        let kept = crate::output::dedupe(all);
        assert_eq!(kept.len(), 3);
        assert_eq!(
            kept.iter().map(|f| f.aspect()).collect::<Vec<_>>(),
            [None, Some("tls-cert-expired"), Some("tls-cert-self-signed")]
        );
        // A port without a certificate has none.
        port.tls = None;
        assert!(cert_findings(&port, now).is_empty());
    }
}
