//! The user's policy file (TOML): expected ports per host or CIDR and
//! per-port category/severity overrides. STUB for issue 3.

use std::path::Path;

#[derive(Debug, Default, Clone)]
pub struct Policy {}

impl Policy {
    /// Load and validate a policy file; errors name the file and line.
    pub fn load(path: &Path) -> crate::error::Result<Policy> {
        let _ = std::fs::read_to_string(path).map_err(|e| {
            crate::error::Error::input(format!("policy file {}: {e}", path.display()))
        })?;
        Ok(Policy {})
    }
}
