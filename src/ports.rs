//! Port lists: `22,80,443`, `1-1024`, or a mix, parsed into a sorted,
//! de-duplicated list.

use crate::error::{Error, Result};

/// Parse a port spec into a sorted list without duplicates.
pub fn parse_ports(spec: &str) -> Result<Vec<u16>> {
    let bad = |why: String| Error::input(format!("invalid port list '{spec}': {why}"));
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(bad("empty entry".into()));
        }
        let num = |s: &str| -> Result<u16> {
            let s = s.trim();
            let s = s
                .strip_prefix("T:")
                .or_else(|| s.strip_prefix("t:"))
                .unwrap_or(s);
            let n: u64 = s
                .parse()
                .map_err(|_| bad(format!("'{s}' is not a port number")))?;
            if n == 0 || n > 65535 {
                return Err(bad(format!("port {n} is out of range 1-65535")));
            }
            Ok(n as u16)
        };
        if let Some((a, b)) = part.split_once('-') {
            let a = if a.trim().is_empty() { 1 } else { num(a)? };
            let b = if b.trim().is_empty() { 65535 } else { num(b)? };
            if a > b {
                return Err(bad(format!("empty range {a}-{b}")));
            }
            out.extend(a..=b);
        } else {
            out.push(num(part)?);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// A compact text form of a port list (`22,80,443,1000-2000`).
pub fn format_ports(ports: &[u16]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ports.len() {
        let mut j = i;
        while j + 1 < ports.len() && ports[j + 1] == ports[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", ports[i], ports[j])
        } else {
            ports[i].to_string()
        });
        i = j + 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges() {
        assert_eq!(parse_ports("443,22,80,22").unwrap(), vec![22, 80, 443]);
        assert_eq!(parse_ports("1-3, 5").unwrap(), vec![1, 2, 3, 5]);
        assert_eq!(parse_ports("-").unwrap().len(), 65535);
        assert_eq!(parse_ports("65530-").unwrap().len(), 6);
        assert_eq!(
            format_ports(&parse_ports("1-3,5,7-8").unwrap()),
            "1-3,5,7-8"
        );
    }

    #[test]
    fn bad_ports_are_input_errors() {
        for bad in ["70000", "0", "10-5", "http", "22,,80", ""] {
            let e = parse_ports(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
        assert!(
            parse_ports("70000")
                .unwrap_err()
                .to_string()
                .contains("out of range")
        );
    }
}
