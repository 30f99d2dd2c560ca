//! Port lists: `22,80,443`, `1-1024`, or a mix, parsed into a sorted,
//! de-duplicated list.

use crate::error::{Error, Result};

/// The ports of a scan by protocol: `-p T:22,80,U:53,161`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSpec {
    /// TCP ports, sorted, no duplicates.
    pub tcp: Vec<u16>,
    /// UDP ports, sorted, no duplicates.
    pub udp: Vec<u16>,
}

impl PortSpec {
    /// The compact text form (`22,80,U:53,161`; TCP without a prefix).
    pub fn format(&self) -> String {
        match (self.tcp.is_empty(), self.udp.is_empty()) {
            (_, true) => format_ports(&self.tcp),
            (true, false) => format!("U:{}", format_ports(&self.udp)),
            (false, false) => format!(
                "T:{},U:{}",
                format_ports(&self.tcp),
                format_ports(&self.udp)
            ),
        }
    }
}

/// Parse a port spec with nmap's protocol prefixes: a `T:` or `U:` prefix
/// holds until the next one; a list without a prefix is TCP; `-` is every
/// TCP port.
pub fn parse_port_spec(spec: &str) -> Result<PortSpec> {
    let bad = |why: String| Error::input(format!("invalid port list '{spec}': {why}"));
    let mut out = PortSpec::default();
    let mut udp = false;
    for part in spec.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(bad("empty entry".into()));
        }
        let part = match part.split_at_checked(2) {
            Some((p, rest)) if p.eq_ignore_ascii_case("T:") => {
                udp = false;
                rest.trim()
            }
            Some((p, rest)) if p.eq_ignore_ascii_case("U:") => {
                udp = true;
                rest.trim()
            }
            _ => part,
        };
        if part.is_empty() {
            return Err(bad("a protocol prefix without ports".into()));
        }
        let num = |s: &str| -> Result<u16> {
            let s = s.trim();
            let n: u64 = s
                .parse()
                .map_err(|_| bad(format!("'{s}' is not a port number")))?;
            if n == 0 || n > 65535 {
                return Err(bad(format!("port {n} is out of range 1-65535")));
            }
            Ok(n as u16)
        };
        let list = if udp { &mut out.udp } else { &mut out.tcp };
        if let Some((a, b)) = part.split_once('-') {
            let a = if a.trim().is_empty() { 1 } else { num(a)? };
            let b = if b.trim().is_empty() { 65535 } else { num(b)? };
            if a > b {
                return Err(bad(format!("empty range {a}-{b}")));
            }
            list.extend(a..=b);
        } else {
            list.push(num(part)?);
        }
    }
    for l in [&mut out.tcp, &mut out.udp] {
        l.sort_unstable();
        l.dedup();
    }
    Ok(out)
}

/// Parse a port spec into a sorted list of TCP ports without duplicates
/// (an input error if it names UDP ports).
pub fn parse_ports(spec: &str) -> Result<Vec<u16>> {
    let s = parse_port_spec(spec)?;
    if !s.udp.is_empty() {
        return Err(Error::input(format!(
            "invalid port list '{spec}': UDP ports are not allowed here"
        )));
    }
    Ok(s.tcp)
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
    fn protocol_prefixes_hold_until_the_next() {
        let s = parse_port_spec("T:22,80,U:53,161,T:443,u:1-3").unwrap();
        assert_eq!(s.tcp, vec![22, 80, 443]);
        assert_eq!(s.udp, vec![1, 2, 3, 53, 161]);
        assert_eq!(s.format(), "T:22,80,443,U:1-3,53,161");
        let s = parse_port_spec("22,U:53").unwrap();
        assert_eq!((s.tcp, s.udp), (vec![22], vec![53]));
        let s = parse_port_spec("U:53,T:53").unwrap();
        assert_eq!(
            (s.tcp, s.udp),
            (vec![53], vec![53]),
            "TCP/53 and UDP/53 apart"
        );
        let s = parse_port_spec("U:161").unwrap();
        assert_eq!(s.format(), "U:161");
        assert_eq!(parse_port_spec("-").unwrap().tcp.len(), 65535);
        assert!(parse_ports("U:53").is_err());
    }

    #[test]
    fn bad_ports_are_input_errors() {
        for bad in [
            "70000", "0", "10-5", "http", "22,,80", "", "U:", "T:,22", "X:22", "U:53,T:",
        ] {
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
