//! zmap's CSV output (`-O csv -f saddr,sport,...`): a header row naming
//! the fields, then one row per reply. `saddr` is the host, `sport` the
//! port it answered from (the scanned port). A row is an open port when
//! its `success` is 1 and its `classification` (when given) is `synack`
//! (TCP) or `udp` (UDP); `rst` and ICMP rows are not. `ttl` and
//! `timestamp_ts` (Unix seconds) are used when present.

use super::{LineFormat, open_finding};
use crate::finding::Finding;
use std::collections::VecDeque;
use std::net::IpAddr;

/// True when `line` is a zmap CSV header with `saddr` and `sport`.
pub(super) fn is_header(line: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(line) else {
        return false;
    };
    let names: Vec<&str> = s.split(',').map(str::trim).collect();
    names.contains(&"saddr") && names.contains(&"sport")
}

#[derive(Default)]
pub(super) struct Csv {
    /// Column of each field, once the header is read.
    cols: Option<Cols>,
}

struct Cols {
    n: usize,
    saddr: usize,
    sport: usize,
    classification: Option<usize>,
    success: Option<usize>,
    ttl: Option<usize>,
    ts: Option<usize>,
}

impl LineFormat for Csv {
    fn line(&mut self, line: &str, out: &mut VecDeque<Finding>) -> Result<(), String> {
        if line.is_empty() {
            return Ok(());
        }
        // zmap's fields are addresses, numbers and words: no quoting.
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let Some(c) = &self.cols else {
            let at = |name: &str| cells.iter().position(|c| *c == name);
            let (Some(saddr), Some(sport)) = (at("saddr"), at("sport")) else {
                return Err("the header does not name saddr and sport".into());
            };
            self.cols = Some(Cols {
                n: cells.len(),
                saddr,
                sport,
                classification: at("classification"),
                success: at("success"),
                ttl: at("ttl"),
                ts: at("timestamp_ts"),
            });
            return Ok(());
        };
        if cells.len() != c.n {
            return Err(format!(
                "{} fields where the header has {}",
                cells.len(),
                c.n
            ));
        }
        let ip: IpAddr = cells[c.saddr]
            .parse()
            .map_err(|e| format!("saddr {:?}: {e}", cells[c.saddr]))?;
        let port: u16 = cells[c.sport]
            .parse()
            .map_err(|e| format!("sport {:?}: {e}", cells[c.sport]))?;
        if c.success.is_some_and(|i| cells[i] != "1") {
            return Ok(());
        }
        let proto = match c.classification.map(|i| cells[i]) {
            None | Some("synack") => "tcp",
            Some("udp") => "udp",
            Some(_) => return Ok(()),
        };
        let ttl = c.ttl.and_then(|i| cells[i].parse().ok()).unwrap_or(0);
        let ts = c.ts.and_then(|i| cells[i].parse().ok());
        out.push_back(open_finding(ip, port, proto, "", ttl, ts));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<Vec<Finding>, String> {
        let mut c = Csv::default();
        let mut out = VecDeque::new();
        for l in text.lines() {
            c.line(l.trim(), &mut out)?;
        }
        Ok(out.into())
    }

    #[test]
    fn synack_rows_are_open_ports() {
        let text = "saddr,sport,classification,success,ttl,timestamp_ts\n198.19.0.2,80,synack,1,64,1700000000\n198.19.0.3,80,rst,0,64,1700000000\n198.19.0.4,53,udp,1,63,1700000001\n";
        let fs = run(text).unwrap();
        assert_eq!(fs.len(), 2);
        assert_eq!(
            (
                fs[0].ip.to_string(),
                fs[0].port,
                fs[0].proto.as_str(),
                fs[0].ttl
            ),
            ("198.19.0.2".into(), 80, "tcp", 64)
        );
        assert_eq!(fs[0].unix_seconds(), 1_700_000_000);
        assert_eq!((fs[1].port, fs[1].proto.as_str()), (53, "udp"));
        // saddr and sport only: every row is a reply zmap kept (its default
        // output filter keeps successes).
        let fs = run("saddr,sport\n198.19.0.2,22\n").unwrap();
        assert_eq!((fs[0].port, fs[0].ts.as_str()), (22, ""));
    }

    #[test]
    fn bad_rows_are_errors() {
        assert!(run("saddr,sport\n198.19.0.2\n").is_err());
        assert!(run("saddr,sport\n198.19.0.2,http\n").is_err());
        assert!(run("saddr,sport\nhost,22\n").is_err());
        assert!(run("daddr,dport\n198.19.0.2,22\n").is_err());
    }
}
