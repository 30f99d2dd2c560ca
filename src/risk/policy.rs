//! The user's policy file (TOML, `--policy FILE`): ports that are expected on
//! some hosts (reported, marked `expected`, no score cost) and per-port
//! overrides of the catalog's category, severity and advice.
//!
//! ```toml
//! [[expect]]
//! hosts = ["198.19.0.0/28", "198.19.3.7", "2001:2::/64"]  # IPv4/IPv6 addresses or CIDR blocks
//! ports = [3389]
//! proto = "tcp"                              # optional, default "tcp"
//!
//! [ports.8443]                               # TCP port 8443 on every host
//! [ports."53/udp"]                           # UDP port 53 ("53/tcp" = [ports.53])
//! category = "normal"                        # risky | administrative | normal | other
//! severity = "info"                          # critical | high | medium | low | info
//! admin = false                              # optional
//! service = "intranet"                       # optional
//! rationale = "..."                          # optional
//! mitigation = "..."                         # optional
//! ```
//!
//! Unknown keys are errors (a typo must not silently do nothing). Every error
//! is an [`Error::Input`] of one line that names the file and the line.

use crate::error::{Error, Result};
use crate::finding::{Category, Severity};
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use toml::Spanned;

/// A validated policy.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Policy {
    /// Expected (hosts, ports) pairs.
    pub expect: Vec<Expect>,
    /// Per-port overrides of TCP ports (`[ports.N]`, `[ports."N/tcp"]`).
    pub ports: BTreeMap<u16, PortOverride>,
    /// Per-port overrides of UDP ports (`[ports."N/udp"]`).
    pub udp_ports: BTreeMap<u16, PortOverride>,
}

/// One `[[expect]]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub hosts: Vec<IpNet>,
    pub ports: Vec<u16>,
    /// `tcp` or `udp`.
    pub proto: String,
}

/// One `[ports.N]` table; `None` keeps the catalog's value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PortOverride {
    pub category: Option<Category>,
    pub severity: Option<Severity>,
    pub admin: Option<bool>,
    pub service: Option<String>,
    pub rationale: Option<String>,
    pub mitigation: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    expect: Vec<RawExpect>,
    #[serde(default)]
    ports: BTreeMap<String, Spanned<RawPort>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    hosts: Vec<Spanned<String>>,
    ports: Vec<Spanned<i64>>,
    #[serde(default)]
    proto: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPort {
    category: Option<Category>,
    severity: Option<Severity>,
    admin: Option<bool>,
    service: Option<String>,
    rationale: Option<String>,
    mitigation: Option<String>,
}

/// 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl Policy {
    /// Load and validate a policy file; errors name the file and line.
    pub fn load(path: &Path) -> Result<Policy> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::input(format!("policy file {}: {e}", path.display())))?;
        Policy::parse(&text, &path.display().to_string())
    }

    /// Parse policy text; `name` is used in error messages (`NAME:LINE: ...`).
    pub fn parse(text: &str, name: &str) -> Result<Policy> {
        let err = |at: usize, msg: &str| {
            Error::input(format!(
                "policy file {name}:{}: {}",
                line_of(text, at),
                msg.trim().replace('\n', " ")
            ))
        };
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            err(at, e.message())
        })?;

        let mut expect = Vec::new();
        for e in raw.expect {
            let mut hosts = Vec::new();
            for h in &e.hosts {
                let s = h.get_ref().trim();
                let net = if s.contains('/') {
                    s.parse::<IpNet>().ok().map(|n| n.trunc())
                } else {
                    s.parse::<IpAddr>().ok().map(IpNet::from)
                };
                match net {
                    Some(n) => hosts.push(n),
                    None => {
                        return Err(err(
                            h.span().start,
                            &format!("'{s}' is not an IP address or CIDR block"),
                        ));
                    }
                }
            }
            let mut ports = Vec::new();
            for p in &e.ports {
                match u16::try_from(*p.get_ref()) {
                    Ok(n) if n > 0 => ports.push(n),
                    _ => {
                        return Err(err(
                            p.span().start,
                            &format!("port {} is not in 1-65535", p.get_ref()),
                        ));
                    }
                }
            }
            let proto = match &e.proto {
                None => "tcp".to_string(),
                Some(p) => {
                    let s = p.get_ref().to_ascii_lowercase();
                    if s != "tcp" && s != "udp" {
                        return Err(err(
                            p.span().start,
                            &format!("proto '{}' is not tcp or udp", p.get_ref()),
                        ));
                    }
                    s
                }
            };
            expect.push(Expect {
                hosts,
                ports,
                proto,
            });
        }

        let mut ports = BTreeMap::new();
        let mut udp_ports = BTreeMap::new();
        for (key, rule) in raw.ports {
            let (num, udp) = match key.trim().rsplit_once('/') {
                Some((n, p)) if p.eq_ignore_ascii_case("udp") => (n, true),
                Some((n, p)) if p.eq_ignore_ascii_case("tcp") => (n, false),
                _ => (key.trim(), false),
            };
            let port = match num.trim().parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => {
                    // The span of the table's body starts on the header line
                    // or just after it; point at the header.
                    let at = text[..rule.span().start.min(text.len())]
                        .rfind(&format!("ports.{key}"))
                        .or_else(|| text.find(&format!("ports.{key}")))
                        .unwrap_or(rule.span().start);
                    return Err(err(
                        at,
                        &format!(
                            "[ports.{key}]: '{key}' is not a port number in 1-65535 (optionally N/tcp or N/udp)"
                        ),
                    ));
                }
            };
            let r = rule.into_inner();
            if udp { &mut udp_ports } else { &mut ports }.insert(
                port,
                PortOverride {
                    category: r.category,
                    severity: r.severity,
                    admin: r.admin,
                    service: r.service,
                    rationale: r.rationale,
                    mitigation: r.mitigation,
                },
            );
        }
        Ok(Policy {
            expect,
            ports,
            udp_ports,
        })
    }

    /// True when the policy expects `port`/`proto` on `ip`.
    pub fn is_expected(&self, ip: IpAddr, port: u16, proto: &str) -> bool {
        self.expect.iter().any(|e| {
            e.proto.eq_ignore_ascii_case(proto)
                && e.ports.contains(&port)
                && e.hosts.iter().any(|n| n.contains(&ip))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_design_example() {
        let p = Policy::parse(
            "[[expect]]\nhosts = [\"198.19.0.0/28\", \"198.19.3.7\"]\nports = [3389]\n\n[ports.8443]\ncategory = \"normal\"\nseverity = \"info\"\n",
            "p.toml",
        )
        .unwrap();
        assert!(p.is_expected("198.19.0.15".parse().unwrap(), 3389, "tcp"));
        assert!(p.is_expected("198.19.3.7".parse().unwrap(), 3389, "tcp"));
        assert!(!p.is_expected("198.19.0.16".parse().unwrap(), 3389, "tcp"));
        assert!(!p.is_expected("198.19.0.1".parse().unwrap(), 3389, "udp"));
        assert_eq!(p.ports[&8443].severity, Some(Severity::Info));
        assert!(p.udp_ports.is_empty());
    }

    #[test]
    fn ipv6_hosts_and_prefixes_match() {
        let p = Policy::parse(
            "[[expect]]\nhosts = [\"2001:2::/64\", \"2001:2:0:1::7\", \"198.19.0.1\"]\nports = [22]\n",
            "p.toml",
        )
        .unwrap();
        assert!(p.is_expected("2001:2::1234".parse().unwrap(), 22, "tcp"));
        assert!(p.is_expected("2001:2:0:1::7".parse().unwrap(), 22, "tcp"));
        assert!(!p.is_expected("2001:2:0:1::8".parse().unwrap(), 22, "tcp"));
        assert!(p.is_expected("198.19.0.1".parse().unwrap(), 22, "tcp"));
        // An IPv4 address never matches an IPv6 prefix and the other way round.
        assert!(!p.is_expected("::ffff:198.19.0.1".parse().unwrap(), 22, "tcp"));
    }

    #[test]
    fn line_numbers_are_one_based() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
    }
}
