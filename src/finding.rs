//! The findings record: one open (or closed) port, as every writer and every
//! downstream tool sees it. Field names are a contract (../shared/DESIGN.md,
//! "Findings record"): add fields, never rename them.

use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// What the scan saw on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum PortState {
    Open,
    Closed,
}

/// The main risk category of an open port, in priority order
/// risky > administrative > normal > other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Risky,
    Administrative,
    Normal,
    Other,
}

/// Severity of a finding, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

/// One finding. Serializes to exactly the NDJSON record of DESIGN.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub proto: String,
    pub state: PortState,
    /// `syn-ack` or `rst`.
    pub reason: String,
    pub ttl: u8,
    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-22T02:35:54.123Z`.
    pub ts: String,
    pub service: String,
    pub category: Category,
    pub severity: Severity,
    pub admin: bool,
    pub expected: bool,
    pub rationale: String,
    pub mitigation: String,
}

impl Finding {
    /// A finding as the scan engine first makes it, before the risk
    /// categorizer fills in service, category, severity and advice.
    pub fn observed(
        ip: Ipv4Addr,
        port: u16,
        state: PortState,
        ttl: u8,
        ts: std::time::SystemTime,
    ) -> Self {
        Finding {
            ip,
            port,
            proto: "tcp".to_string(),
            state,
            reason: match state {
                PortState::Open => "syn-ack".to_string(),
                PortState::Closed => "rst".to_string(),
            },
            ttl,
            ts: humantime::format_rfc3339_millis(ts).to_string(),
            service: String::new(),
            category: Category::Other,
            severity: Severity::Info,
            admin: false,
            expected: false,
            rationale: String::new(),
            mitigation: String::new(),
        }
    }

    /// Seconds since the Unix epoch of `ts` (0 when it does not parse).
    pub fn unix_seconds(&self) -> u64 {
        humantime::parse_rfc3339(&self.ts)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_has_the_contract_field_names() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_790_000_000_123);
        let f = Finding::observed("198.19.0.4".parse().unwrap(), 3306, PortState::Open, 64, t);
        let v: serde_json::Value = serde_json::to_value(&f).unwrap();
        // The CSV header names the same fields in the same order.
        for k in crate::output::csv_out::HEADER {
            assert!(v.get(k).is_some(), "missing field {k}");
        }
        assert_eq!(v["ip"], "198.19.0.4");
        assert_eq!(v["state"], "open");
        assert_eq!(v["reason"], "syn-ack");
        assert_eq!(v["category"], "other");
        assert!(v["ts"].as_str().unwrap().ends_with(".123Z"));
        assert_eq!(f.unix_seconds(), 1_790_000_000);
    }
}
