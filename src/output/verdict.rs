//! The final middlebox verdict, applied to a whole set of findings.
//!
//! A scan judges a host a middlebox (see [`crate::identify::pseudo`]) from
//! what it has seen of that host so far, and a streaming output writes each
//! record with what was known when it was written. Where a host's ports
//! are spread over minutes or hours (a large space in random order), its
//! first records may come before the verdict and say `pseudo: false`.
//!
//! The documents (JSON, nmap XML, HTML), `report`, `merge` and the score
//! apply the final verdict instead: a host with any record marked pseudo is
//! a middlebox, and every open TCP port of it where nothing was named and
//! nothing was said (no protocol, no banner) is pseudo too. Ports where a
//! real service answered stay real findings.

use super::sort::Sorted;
use crate::finding::{Finding, PortState};
use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;

/// Whether `f` is a port the verdict on its host decides: an open TCP
/// port where nothing was named and nothing was said.
fn silent_port(f: &Finding) -> bool {
    f.state == PortState::Open
        && f.proto == "tcp"
        && f.protocol.is_none()
        && f.banner.is_none()
        && f.aspect().is_none()
}

/// Mark `f` pseudo if its host is a middlebox and it is a silent port;
/// true if it changed.
pub fn apply(hosts: &HashSet<IpAddr>, f: &mut Finding) -> bool {
    if !f.pseudo && silent_port(f) && hosts.contains(&f.ip) {
        f.pseudo = true;
        return true;
    }
    false
}

/// The sorted findings with the final verdict applied (the same set when
/// no record needs it). Two passes: the middlebox hosts, then the marks.
pub fn apply_sorted(sorted: Sorted, dir: &Path) -> std::io::Result<Sorted> {
    let mut hosts = HashSet::new();
    let mut needs = false;
    // Sorted by ip: one host at a time (whether it has a pseudo record,
    // and a silent port not marked).
    let (mut ip, mut pseudo, mut silent) = (None, false, false);
    for f in sorted.iter()? {
        let f = f?;
        if ip != Some(f.ip) {
            (ip, pseudo, silent) = (Some(f.ip), false, false);
        }
        if f.pseudo {
            pseudo = true;
            hosts.insert(f.ip);
        } else if silent_port(&f) {
            silent = true;
        }
        needs |= pseudo && silent;
    }
    if !needs {
        return Ok(sorted);
    }
    sorted.map(dir, |f| {
        apply(&hosts, f);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::sort::Sorter;
    use std::time::UNIX_EPOCH;

    fn open(ip: &str, port: u16) -> Finding {
        Finding::tcp(ip.parse().unwrap(), port, PortState::Open, 64, UNIX_EPOCH)
    }

    #[test]
    fn a_middlebox_judged_late_has_every_silent_port_pseudo_and_real_ones_stay_real() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(dir.path());
        // 198.19.0.9: its first ports were written before the verdict.
        for p in [1, 2, 3] {
            s.push(&open("198.19.0.9", p)).unwrap();
        }
        for p in [4, 5] {
            let mut f = open("198.19.0.9", p);
            f.pseudo = true;
            s.push(&f).unwrap();
        }
        // A real SSH behind the middlebox, and a port that said something.
        let mut ssh = open("198.19.0.9", 22);
        ssh.protocol = Some("ssh".into());
        s.push(&ssh).unwrap();
        let mut said = open("198.19.0.9", 6);
        said.banner = Some("hello".into());
        s.push(&said).unwrap();
        // An ordinary host with a silent port: untouched.
        s.push(&open("198.19.0.10", 7)).unwrap();
        let sorted = apply_sorted(s.finish().unwrap(), dir.path()).unwrap();
        let got: Vec<(String, u16, bool)> = sorted
            .iter()
            .unwrap()
            .map(|f| f.unwrap())
            .map(|f| (f.ip.to_string(), f.port, f.pseudo))
            .collect();
        let want: Vec<(String, u16, bool)> = [
            ("198.19.0.9", 1, true),
            ("198.19.0.9", 2, true),
            ("198.19.0.9", 3, true),
            ("198.19.0.9", 4, true),
            ("198.19.0.9", 5, true),
            ("198.19.0.9", 6, false),
            ("198.19.0.9", 22, false),
            ("198.19.0.10", 7, false),
        ]
        .into_iter()
        .map(|(a, p, x)| (a.to_string(), p, x))
        .collect();
        assert_eq!(got, want);
        assert_eq!(sorted.count, 8);
    }

    #[test]
    fn nothing_to_change_keeps_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sorter::new(dir.path());
        let mut f = open("198.19.0.9", 1);
        f.pseudo = true;
        s.push(&f).unwrap();
        s.push(&open("198.19.0.10", 2)).unwrap();
        let sorted = s.finish().unwrap();
        let path = sorted.path().to_path_buf();
        let after = apply_sorted(sorted, dir.path()).unwrap();
        assert_eq!(after.path(), path);
    }
}
