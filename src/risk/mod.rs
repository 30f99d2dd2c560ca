//! Risk categorizer: a pure function of (port, protocol, policy) to a finding's
//! service, category, severity, admin flag, rationale and mitigation; then
//! per-host and per-scan scores and grades.
//!
//! STUB: to be filled in by the risk work (issue 3). The engine relies only on
//! `Risk::new`, `Risk::annotate` and `default_ports`.

pub mod policy;

use crate::finding::{Category, Finding, Severity};
pub use policy::Policy;

/// Catalog plus the user's policy.
#[derive(Debug, Default, Clone)]
pub struct Risk {
    policy: Policy,
}

impl Risk {
    pub fn new(policy: Option<Policy>) -> Self {
        Risk {
            policy: policy.unwrap_or_default(),
        }
    }

    /// Fill in service, category, severity, admin, expected, rationale and
    /// mitigation of a finding from its ip, port and proto.
    pub fn annotate(&self, f: &mut Finding) {
        let _ = &self.policy;
        f.service = String::new();
        f.category = Category::Other;
        f.severity = Severity::Info;
    }
}

/// The TCP ports scanned when the user gives no `-p`: the catalog's ports.
pub fn default_ports() -> Vec<u16> {
    vec![
        21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 993, 995, 1433, 1521, 2375,
        3306, 3389, 5432, 5900, 6379, 8080, 8443, 9200, 11211, 27017,
    ]
}
