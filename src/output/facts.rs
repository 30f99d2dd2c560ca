//! What the open ports of a scan state about themselves, gathered in the
//! summary's one pass for the report: TLS certificates (the ones that
//! expire soonest), the certificate and TLS problems found (aspect records
//! such as `tls-cert-expired`, with the hosts affected), the TLS versions
//! in use, and the software and versions seen.
//!
//! Bounded like the rest of the summary: at most [`CERT_ROWS`]
//! certificates, [`SAMPLE_HOSTS`] hosts per problem and per product,
//! [`SOFTWARE_MAX`] distinct (product, version) pairs and [`VERSIONS_MAX`]
//! TLS versions are kept, whatever the number of findings; the rest is
//! counted. Findings come in address order, so a host's records are
//! contiguous and hosts are counted without remembering them.

use crate::finding::{Finding, PortState};
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::time::SystemTime;

/// Certificates listed, soonest expiry first.
pub const CERT_ROWS: usize = 50;
/// Hosts named per problem and per product.
pub const SAMPLE_HOSTS: usize = 10;
/// Distinct (product, version) pairs counted one by one; beyond, counted
/// together.
pub const SOFTWARE_MAX: usize = 10_000;
/// Distinct TLS version names counted one by one.
pub const VERSIONS_MAX: usize = 16;

/// The aspect records about TLS, in the order the report lists them, with
/// a short title.
pub const TLS_PROBLEMS: [(&str, &str); 8] = [
    ("tls-cert-expired", "Expired certificate"),
    ("tls-cert-not-yet-valid", "Certificate not yet valid"),
    ("tls-cert-expiring", "Certificate expiring within 30 days"),
    ("tls-cert-self-signed", "Self-signed certificate"),
    ("tls-weak-key", "Weak key (RSA under 2048 bits)"),
    ("tls-weak-signature", "Weak signature (MD5, SHA-1)"),
    ("tls-cert-long-lifetime", "Lifetime over 398 days"),
    ("tls-legacy", "TLS 1.0 or 1.1"),
];

/// Whether a record is one of the TLS aspect records (by its service).
pub fn is_tls_problem(f: &Finding) -> bool {
    TLS_PROBLEMS.iter().any(|(s, _)| *s == f.service)
}

/// One certificate seen on a port.
#[derive(Debug, Clone)]
pub struct CertRow {
    pub ip: IpAddr,
    pub port: u16,
    pub proto: String,
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    /// `not_after` parsed (None: unreadable, listed last).
    pub expires: Option<SystemTime>,
    pub key: String,
    pub key_bits: u32,
    pub sig: String,
    pub self_signed: bool,
    pub sha256: String,
}

struct BySoonest(CertRow);
impl BySoonest {
    fn key(&self) -> (bool, Option<SystemTime>, IpAddr, u16) {
        let r = &self.0;
        (r.expires.is_none(), r.expires, r.ip, r.port)
    }
}
impl PartialEq for BySoonest {
    fn eq(&self, o: &Self) -> bool {
        self.key() == o.key()
    }
}
impl Eq for BySoonest {}
impl PartialOrd for BySoonest {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for BySoonest {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key().cmp(&o.key())
    }
}

/// Ports and hosts of one kind, with the first hosts seen.
#[derive(Debug, Clone, Default)]
pub struct Spread {
    pub ports: u64,
    pub hosts: u64,
    /// The first [`SAMPLE_HOSTS`] hosts, in address order.
    pub sample: Vec<IpAddr>,
    last: Option<IpAddr>,
}

impl Spread {
    fn add(&mut self, ip: IpAddr) {
        self.ports += 1;
        if self.last != Some(ip) {
            self.last = Some(ip);
            self.hosts += 1;
            if self.sample.len() < SAMPLE_HOSTS {
                self.sample.push(ip);
            }
        }
    }
}

/// One TLS problem over the scan.
#[derive(Debug, Clone, Default)]
pub struct Problem {
    pub spread: Spread,
    /// What to do (the mitigation of its first record).
    pub mitigation: String,
}

/// One product and version over the scan.
#[derive(Debug, Clone)]
pub struct Software {
    pub product: String,
    pub version: Option<String>,
    pub spread: Spread,
}

/// What the report's TLS and software sections show.
#[derive(Default)]
pub struct FactsSummary {
    /// The soonest-expiring certificates, soonest first (after [`finish`](Self::finish)).
    pub certs: Vec<CertRow>,
    heap: BinaryHeap<BySoonest>,
    /// Ports with a certificate.
    pub cert_ports: u64,
    /// Per [`TLS_PROBLEMS`] entry.
    pub problems: [Problem; 8],
    /// Ports by negotiated TLS version (at most [`VERSIONS_MAX`] names,
    /// the rest under `other`), most ports first after `finish`.
    pub versions: Vec<(String, u64)>,
    /// Software seen, most ports first after `finish`.
    pub software: Vec<Software>,
    soft: HashMap<(String, Option<String>), Software>,
    /// Ports whose (product, version) came after [`SOFTWARE_MAX`] others.
    pub software_other: u64,
}

impl FactsSummary {
    /// Take one finding (in address order).
    pub fn add(&mut self, f: &Finding) {
        if f.state != PortState::Open || f.pseudo {
            return;
        }
        if let Some(i) = TLS_PROBLEMS.iter().position(|(s, _)| *s == f.service) {
            let p = &mut self.problems[i];
            if p.mitigation.is_empty() {
                p.mitigation = f.mitigation.clone();
            }
            p.spread.add(f.ip);
            return;
        }
        if f.is_aspect() {
            return;
        }
        if let Some(t) = f.tls.as_deref() {
            let name = if self.versions.len() < VERSIONS_MAX
                || self.versions.iter().any(|(v, _)| *v == t.version)
            {
                t.version.as_str()
            } else {
                "other"
            };
            match self.versions.iter_mut().find(|(v, _)| v == name) {
                Some((_, n)) => *n += 1,
                None => self.versions.push((name.to_string(), 1)),
            }
            if let Some(c) = &t.cert {
                self.cert_ports += 1;
                let row = CertRow {
                    ip: f.ip,
                    port: f.port,
                    proto: f.proto.clone(),
                    subject: c.subject.clone(),
                    issuer: c.issuer.clone(),
                    not_before: c.not_before.clone(),
                    not_after: c.not_after.clone(),
                    expires: humantime::parse_rfc3339_weak(&c.not_after).ok(),
                    key: c.key.clone(),
                    key_bits: c.key_bits,
                    sig: c.sig.clone(),
                    self_signed: c.self_signed,
                    sha256: c.sha256.clone(),
                };
                let item = BySoonest(row);
                if self.heap.len() < CERT_ROWS {
                    self.heap.push(item);
                } else if self.heap.peek().is_some_and(|t| item < *t) {
                    self.heap.pop();
                    self.heap.push(item);
                }
            }
        }
        if let Some(p) = &f.product {
            let key = (p.clone(), f.version.clone());
            if let Some(s) = self.soft.get_mut(&key) {
                s.spread.add(f.ip);
            } else if self.soft.len() < SOFTWARE_MAX {
                let mut s = Software {
                    product: key.0.clone(),
                    version: key.1.clone(),
                    spread: Spread::default(),
                };
                s.spread.add(f.ip);
                self.soft.insert(key, s);
            } else {
                self.software_other += 1;
            }
        }
    }

    /// Order what was gathered.
    pub fn finish(&mut self) {
        self.certs = std::mem::take(&mut self.heap)
            .into_sorted_vec()
            .into_iter()
            .map(|b| b.0)
            .collect();
        self.versions
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut soft: Vec<Software> = std::mem::take(&mut self.soft).into_values().collect();
        soft.sort_by(|a, b| {
            (std::cmp::Reverse(a.spread.ports), &a.product, &a.version).cmp(&(
                std::cmp::Reverse(b.spread.ports),
                &b.product,
                &b.version,
            ))
        });
        self.software = soft;
    }

    /// Whether there is anything TLS to show.
    pub fn any_tls(&self) -> bool {
        self.cert_ports > 0
            || !self.versions.is_empty()
            || self.problems.iter().any(|p| p.spread.ports > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Cert, Tls};
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_problems_shown_are_the_ones_the_risk_module_rates() {
        let shown: Vec<&str> = TLS_PROBLEMS.iter().map(|(name, _)| *name).collect();
        let rated: Vec<&str> = crate::risk::protocol::CERT_ASPECTS
            .iter()
            .map(|a| a.name)
            .chain(["tls-legacy"])
            .collect();
        assert_eq!(shown, rated, "one label per rated problem, in its order");
    }

    fn port(ip: &str, port: u16, not_after: &str) -> Finding {
        let mut f = Finding::tcp(ip.parse().unwrap(), port, PortState::Open, 64, UNIX_EPOCH);
        f.tls = Some(Box::new(Tls {
            version: "TLSv1.2".into(),
            cipher: None,
            cert: Some(Cert {
                subject: format!("CN={ip}"),
                not_after: not_after.into(),
                ..Cert::default()
            }),
        }));
        f
    }

    #[test]
    fn certificates_soonest_first_bounded() {
        let mut s = FactsSummary::default();
        for i in 0..200u32 {
            let ip = format!("198.19.{}.{}", i / 200, i % 200);
            // Expiry times in scrambled order.
            let secs = 1_790_000_000 + u64::from((i * 7919) % 200) * 86_400;
            let t = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs));
            s.add(&port(&ip, 443, &t.to_string()));
        }
        s.add(&port("198.19.9.9", 443, "garbage"));
        s.finish();
        assert_eq!(s.cert_ports, 201);
        assert_eq!(s.certs.len(), CERT_ROWS);
        let e: Vec<SystemTime> = s.certs.iter().map(|c| c.expires.unwrap()).collect();
        assert!(e.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(e[0], UNIX_EPOCH + Duration::from_secs(1_790_000_000));
        assert_eq!(s.versions, vec![("TLSv1.2".to_string(), 201)]);
    }

    #[test]
    fn problems_and_software_count_ports_and_hosts() {
        let mut s = FactsSummary::default();
        for (ip, p) in [
            ("198.19.0.1", 443),
            ("198.19.0.1", 8443),
            ("198.19.0.2", 443),
        ] {
            let mut f = Finding::tcp(ip.parse().unwrap(), p, PortState::Open, 64, UNIX_EPOCH);
            f.product = Some("nginx".into());
            f.version = Some("1.22.1".into());
            s.add(&f);
            let mut a = f.clone();
            a.service = "tls-cert-expired".into();
            a.mitigation = "Renew it.".into();
            s.add(&a);
        }
        let mut ssh = Finding::tcp(
            "198.19.0.3".parse().unwrap(),
            22,
            PortState::Open,
            64,
            UNIX_EPOCH,
        );
        ssh.product = Some("OpenSSH".into());
        ssh.version = Some("9.2p1".into());
        s.add(&ssh);
        // Pseudo and closed ports state nothing.
        let mut pseudo = ssh.clone();
        pseudo.pseudo = true;
        s.add(&pseudo);
        s.finish();
        let exp = &s.problems[0];
        assert_eq!((exp.spread.ports, exp.spread.hosts), (3, 2));
        assert_eq!(exp.mitigation, "Renew it.");
        assert_eq!(exp.spread.sample.len(), 2);
        // The aspect records' copies of the facts are not counted twice.
        assert_eq!(s.software.len(), 2);
        assert_eq!(s.software[0].product, "nginx");
        assert_eq!(
            (s.software[0].spread.ports, s.software[0].spread.hosts),
            (3, 2)
        );
        assert_eq!(
            (s.software[1].spread.ports, s.software[1].spread.hosts),
            (1, 1)
        );
    }

    #[test]
    fn software_table_is_bounded() {
        let mut s = FactsSummary::default();
        for i in 0..(SOFTWARE_MAX as u32 + 10) {
            let mut f = Finding::tcp(
                IpAddr::from(std::net::Ipv4Addr::from(i)),
                80,
                PortState::Open,
                64,
                UNIX_EPOCH,
            );
            f.product = Some("x".into());
            f.version = Some(i.to_string());
            s.add(&f);
        }
        s.finish();
        assert_eq!((s.software.len(), s.software_other), (SOFTWARE_MAX, 10));
    }
}
