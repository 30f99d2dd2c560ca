//! Target address sets: parse addresses, CIDR blocks and ranges, apply
//! excludes and the reserved-space rule, and map a dense index to an address.
//!
//! The set is a sorted list of disjoint inclusive ranges, so a /8 costs what a
//! /32 costs. `nth` maps an index in `0..count()` to an address by binary
//! search over prefix sums: this is how the permutation's indices become
//! addresses without ever listing the space.

use crate::error::{Error, Result};
use std::net::Ipv4Addr;
use std::path::Path;

/// A set of IPv4 addresses as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<(u32, u32)>,
    /// prefix[i] = number of addresses in ranges[..i].
    prefix: Vec<u64>,
}

impl RangeSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Build from arbitrary (possibly overlapping) inclusive ranges.
    pub fn from_ranges(mut v: Vec<(u32, u32)>) -> Self {
        v.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match out.last_mut() {
                Some(last) if (a as u64) <= last.1 as u64 + 1 => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        let mut s = RangeSet {
            ranges: out,
            prefix: Vec::new(),
        };
        s.reindex();
        s
    }

    fn reindex(&mut self) {
        let mut acc = 0u64;
        self.prefix = self
            .ranges
            .iter()
            .map(|&(a, b)| {
                let p = acc;
                acc += (b - a) as u64 + 1;
                p
            })
            .collect();
    }

    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of addresses in the set.
    pub fn count(&self) -> u64 {
        match (self.ranges.last(), self.prefix.last()) {
            (Some(&(a, b)), Some(&p)) => p + (b - a) as u64 + 1,
            _ => 0,
        }
    }

    /// The `i`-th address in ascending order. Panics if `i >= count()`.
    #[inline]
    pub fn nth(&self, i: u64) -> u32 {
        let k = self.prefix.partition_point(|&p| p <= i) - 1;
        self.ranges[k].0 + (i - self.prefix[k]) as u32
    }

    /// The position of `ip` in ascending order (the inverse of [`nth`](Self::nth)),
    /// or `None` when the set does not hold it.
    #[inline]
    pub fn rank(&self, ip: u32) -> Option<u64> {
        let k = self.ranges.partition_point(|&(a, _)| a <= ip);
        (k > 0 && ip <= self.ranges[k - 1].1)
            .then(|| self.prefix[k - 1] + (ip - self.ranges[k - 1].0) as u64)
    }

    /// Whether the set holds `ip`.
    #[inline]
    pub fn contains(&self, ip: u32) -> bool {
        let k = self.ranges.partition_point(|&(a, _)| a <= ip);
        k > 0 && ip <= self.ranges[k - 1].1
    }

    /// The set minus `other`.
    pub fn subtract(&self, other: &RangeSet) -> RangeSet {
        let mut out = Vec::new();
        for &(a, b) in &self.ranges {
            let mut lo = a as u64;
            let hi = b as u64;
            for &(x, y) in &other.ranges {
                let (x, y) = (x as u64, y as u64);
                if y < lo || x > hi {
                    continue;
                }
                if x > lo {
                    out.push((lo as u32, (x - 1) as u32));
                }
                lo = y + 1;
                if lo > hi {
                    break;
                }
            }
            if lo <= hi {
                out.push((lo as u32, hi as u32));
            }
        }
        RangeSet::from_ranges(out)
    }

    /// Whether `[a, b]` lies wholly inside one range of the set.
    pub fn covers(&self, a: u32, b: u32) -> bool {
        let k = self.ranges.partition_point(|&(x, _)| x <= a);
        k > 0 && b <= self.ranges[k - 1].1
    }
}

/// Parse one target: `1.2.3.4`, `1.2.3.0/24` or `1.2.3.4-1.2.3.9`, as an
/// inclusive range of addresses.
///
/// ```
/// use synsweep::targets::parse_target;
/// assert_eq!(parse_target("198.19.0.0/30").unwrap(), (0xc613_0000, 0xc613_0003));
/// assert_eq!(parse_target("198.19.0.9-198.19.0.1").unwrap_err().exit_code(), 2);
/// ```
pub fn parse_target(s: &str) -> Result<(u32, u32)> {
    let s = s.trim();
    let bad = |why: &str| Error::input(format!("invalid target '{s}': {why}"));
    if s.is_empty() {
        return Err(bad("empty"));
    }
    if let Some((a, b)) = s.split_once('-') {
        let a: Ipv4Addr = a
            .trim()
            .parse()
            .map_err(|_| bad("range start is not an IPv4 address"))?;
        let b: Ipv4Addr = b
            .trim()
            .parse()
            .map_err(|_| bad("range end is not an IPv4 address"))?;
        let (a, b) = (u32::from(a), u32::from(b));
        if a > b {
            return Err(bad("empty range (start is after end)"));
        }
        return Ok((a, b));
    }
    if s.contains('/') {
        let net: ipnet::Ipv4Net = s
            .parse()
            .map_err(|_| bad("malformed CIDR block (want a.b.c.d/0-32)"))?;
        return Ok((u32::from(net.network()), u32::from(net.broadcast())));
    }
    let a: Ipv4Addr = s
        .parse()
        .map_err(|_| bad("not an IPv4 address, CIDR block or range"))?;
    Ok((u32::from(a), u32::from(a)))
}

/// Read targets from a file: one per line (several per line may be separated
/// by commas or spaces), `#` starts a comment. Errors name file and line.
pub fn read_target_file(path: &Path) -> Result<Vec<(u32, u32)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for tok in line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            out.push(
                parse_target(tok)
                    .map_err(|e| Error::input(format!("{}:{}: {e}", path.display(), n + 1)))?,
            );
        }
    }
    Ok(out)
}

/// IANA special-purpose IPv4 ranges (RFC 6890 and successors) that a wide
/// sweep must not probe.
pub const RESERVED: &[(&str, &str)] = &[
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (CGN)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved for future use"),
    ("255.255.255.255/32", "limited broadcast"),
];

/// The reserved ranges as a set.
pub fn reserved_set() -> RangeSet {
    RangeSet::from_ranges(
        RESERVED
            .iter()
            .map(|(c, _)| parse_target(c).expect("built-in CIDR"))
            .collect(),
    )
}

/// Whether `[a, b]` lies wholly inside one reserved range. Each range is
/// tested on its own: adjacent ranges (224.0.0.0/4 multicast and
/// 240.0.0.0/4 reserved) merge in [`reserved_set`], and a target spanning
/// both (224.0.0.0/3) was not named inside either.
fn inside_one_reserved(a: u32, b: u32) -> bool {
    RESERVED.iter().any(|(c, _)| {
        let (x, y) = parse_target(c).expect("built-in CIDR");
        x <= a && b <= y
    })
}

/// Everything that decides which addresses a scan probes.
#[derive(Debug, Clone, Default)]
pub struct TargetSpec {
    pub include: Vec<(u32, u32)>,
    pub exclude: Vec<(u32, u32)>,
    /// Apply the reserved-space rule (the default).
    pub default_excludes: bool,
}

impl TargetSpec {
    /// Resolve to the final address set. A target wholly inside one reserved
    /// range was named on purpose and is kept whole; a wider target loses the
    /// reserved ranges inside it. User excludes always apply.
    pub fn resolve(&self) -> RangeSet {
        let reserved = reserved_set();
        let mut kept = Vec::new();
        for &(a, b) in &self.include {
            if !self.default_excludes || inside_one_reserved(a, b) {
                kept.push((a, b));
            } else {
                kept.extend_from_slice(
                    RangeSet::from_ranges(vec![(a, b)])
                        .subtract(&reserved)
                        .ranges(),
                );
            }
        }
        RangeSet::from_ranges(kept).subtract(&RangeSet::from_ranges(self.exclude.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    #[test]
    fn a_target_spanning_two_reserved_ranges_is_not_named_inside_one() {
        let spec = |t: &str| TargetSpec {
            include: vec![parse_target(t).unwrap()],
            exclude: vec![],
            default_excludes: true,
        };
        assert!(
            spec("224.0.0.0/3").resolve().is_empty(),
            "multicast + reserved"
        );
        assert_eq!(
            spec("240.0.0.0/4").resolve().count(),
            1 << 28,
            "inside one: named on purpose"
        );
        assert_eq!(spec("224.0.0.1").resolve().count(), 1);
    }

    #[test]
    fn rank_inverts_nth() {
        let s = RangeSet::from_ranges(vec![(10, 12), (20, 20), (30, 39)]);
        for i in 0..s.count() {
            assert_eq!(s.rank(s.nth(i)), Some(i));
        }
        assert_eq!(s.rank(13), None);
        assert_eq!(s.rank(9), None);
        assert_eq!(s.rank(40), None);
    }

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(
            parse_target("198.19.0.7").unwrap(),
            (ip("198.19.0.7"), ip("198.19.0.7"))
        );
        assert_eq!(
            parse_target("198.19.1.0/24").unwrap(),
            (ip("198.19.1.0"), ip("198.19.1.255"))
        );
        assert_eq!(
            parse_target("198.19.1.9/24").unwrap(),
            (ip("198.19.1.0"), ip("198.19.1.255"))
        );
        assert_eq!(
            parse_target("198.19.0.1-198.19.0.3").unwrap(),
            (ip("198.19.0.1"), ip("198.19.0.3"))
        );
        assert_eq!(parse_target("0.0.0.0/0").unwrap(), (0, u32::MAX));
    }

    #[test]
    fn rejects_bad_targets_with_a_reason() {
        for bad in [
            "198.19.0.0/33",
            "198.19.0/16",
            "1.2.3.4-1.2.3.1",
            "host.example",
            "",
            "1.2.3.256",
        ] {
            let e = parse_target(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains("invalid target"), "{e}");
        }
    }

    #[test]
    fn nth_and_contains_agree() {
        let s = RangeSet::from_ranges(vec![(10, 12), (20, 20), (11, 15), (16, 16), (100, 101)]);
        assert_eq!(s.ranges(), &[(10, 16), (20, 20), (100, 101)]);
        assert_eq!(s.count(), 10);
        let all: Vec<u32> = (0..s.count()).map(|i| s.nth(i)).collect();
        assert_eq!(all, vec![10, 11, 12, 13, 14, 15, 16, 20, 100, 101]);
        for x in 0..120 {
            assert_eq!(s.contains(x), all.contains(&x), "{x}");
        }
    }

    #[test]
    fn subtract_cuts_holes() {
        let s = RangeSet::from_ranges(vec![(0, 100)]);
        let cut = s.subtract(&RangeSet::from_ranges(vec![(0, 9), (50, 60), (100, 200)]));
        assert_eq!(cut.ranges(), &[(10, 49), (61, 99)]);
        let full = RangeSet::from_ranges(vec![(0, u32::MAX)]);
        assert_eq!(full.count(), 1 << 32);
        assert!(full.subtract(&full).is_empty());
    }

    #[test]
    fn reserved_space_skipped_inside_wider_targets_only() {
        let wide = TargetSpec {
            include: vec![(0, u32::MAX)],
            exclude: vec![],
            default_excludes: true,
        }
        .resolve();
        for r in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "198.19.0.4",
            "224.0.0.1",
            "255.255.255.255",
            "100.64.0.1",
        ] {
            assert!(!wide.contains(ip(r)), "{r} must be skipped");
        }
        assert!(wide.contains(ip("8.8.8.8")));
        assert!(wide.contains(ip("1.1.1.1")));
        let lab = TargetSpec {
            include: vec![parse_target("198.19.0.0/16").unwrap()],
            exclude: vec![],
            default_excludes: true,
        }
        .resolve();
        assert_eq!(lab.count(), 65536);
        let lo = TargetSpec {
            include: vec![parse_target("127.0.0.1").unwrap()],
            exclude: vec![],
            default_excludes: true,
        }
        .resolve();
        assert_eq!(lo.count(), 1);
        let off = TargetSpec {
            include: vec![parse_target("196.0.0.0/6").unwrap()],
            exclude: vec![],
            default_excludes: false,
        }
        .resolve();
        assert_eq!(off.count(), 1 << 26);
    }

    #[test]
    fn excludes_apply() {
        let s = TargetSpec {
            include: vec![parse_target("198.19.0.0/24").unwrap()],
            exclude: vec![
                parse_target("198.19.0.0/25").unwrap(),
                parse_target("198.19.0.255").unwrap(),
            ],
            default_excludes: true,
        }
        .resolve();
        assert_eq!(s.count(), 127);
        assert!(!s.contains(ip("198.19.0.255")));
        assert!(s.contains(ip("198.19.0.128")));
    }

    #[test]
    fn target_file_errors_name_the_line() {
        let dir = std::env::temp_dir().join(format!("ssw-tf-{}", std::process::id()));
        std::fs::write(&dir, "# lab\n198.19.0.0/30 198.19.1.1 # two\n\nbogus\n").unwrap();
        let e = read_target_file(&dir).unwrap_err().to_string();
        assert!(e.contains(":4:"), "{e}");
        std::fs::write(&dir, "# lab\n198.19.0.0/30, 198.19.1.1\n").unwrap();
        assert_eq!(read_target_file(&dir).unwrap().len(), 2);
        std::fs::remove_file(&dir).ok();
    }
}
