//! Target address sets: parse IPv4 and IPv6 addresses, CIDR blocks
//! (prefixes) and ranges, apply excludes and the reserved-space rule, and map
//! a dense index to an address.
//!
//! A set is a sorted list of disjoint inclusive ranges, so a /8 costs what a
//! /32 costs. `nth` maps an index in `0..count()` to an address by binary
//! search over prefix sums: this is how the permutation's indices become
//! addresses without ever listing the space. [`Ranges`] holds the addresses
//! of one family (`Ranges<u32>`, alias [`RangeSet`]: IPv4; `Ranges<u128>`:
//! IPv6), and [`Targets`] both: IPv4 ranks first, then IPv6, one index
//! space.

use crate::error::{Error, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// An address as an integer: `u32` (IPv4) or `u128` (IPv6), and what
/// target lists need to know of its family.
pub trait Addr: Copy + Ord + Default + std::fmt::Debug + Send + Sync + 'static {
    /// The family's name in messages: "IPv4", "IPv6".
    const VERSION: &'static str;
    /// A malformed prefix of the family, in messages.
    const PREFIX: &'static str;
    /// The forms a target takes besides an address, in messages.
    const FORMS: &'static str;
    /// The family's special-purpose ranges (IANA, RFC 6890 and
    /// successors) that a wide sweep must not probe, with what they are.
    const RESERVED: &'static [(&'static str, &'static str)];
    fn wide(self) -> u128;
    /// The inverse of [`wide`](Addr::wide); `v` must fit.
    fn narrow(v: u128) -> Self;
    /// `ip`, if it is of this family.
    fn from_ip(ip: IpAddr) -> Option<Self>;
    /// Why the text of a target is refused before it is parsed (None: it
    /// is not).
    fn refused_text(s: &str) -> Option<&'static str>;
    /// Why a parsed target is refused (None: it is not).
    fn refused(range: (Self, Self)) -> Option<String>;
}

impl Addr for u32 {
    const VERSION: &'static str = "IPv4";
    const PREFIX: &'static str = "CIDR block (want a.b.c.d/0-32)";
    const FORMS: &'static str = "CIDR block or range";
    const RESERVED: &'static [(&'static str, &'static str)] = &[
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
    #[inline]
    fn wide(self) -> u128 {
        self as u128
    }
    #[inline]
    fn narrow(v: u128) -> Self {
        v as u32
    }
    fn from_ip(ip: IpAddr) -> Option<u32> {
        match ip {
            IpAddr::V4(a) => Some(a.into()),
            IpAddr::V6(_) => None,
        }
    }
    fn refused_text(_: &str) -> Option<&'static str> {
        None
    }
    fn refused(_: (u32, u32)) -> Option<String> {
        None
    }
}

impl Addr for u128 {
    const VERSION: &'static str = "IPv6";
    const PREFIX: &'static str = "IPv6 prefix (want an address and /0-128)";
    const FORMS: &'static str = "prefix or range";
    /// The ranges of the IPv6 Special-Purpose Address Registry that are
    /// not globally reachable, and multicast.
    const RESERVED: &'static [(&'static str, &'static str)] = &[
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("64:ff9b:1::/48", "IPv4-IPv6 translation (local use)"),
        ("100::/64", "discard-only"),
        ("100:0:0:1::/64", "dummy prefix"),
        ("2001::/23", "IETF protocol assignments"),
        ("2001:2::/48", "benchmarking"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing (SRv6) SIDs"),
        ("fc00::/7", "unique local"),
        ("fe80::/10", "link local"),
        ("ff00::/8", "multicast"),
    ];
    #[inline]
    fn wide(self) -> u128 {
        self
    }
    #[inline]
    fn narrow(v: u128) -> Self {
        v
    }
    fn from_ip(ip: IpAddr) -> Option<u128> {
        match ip {
            IpAddr::V6(a) => Some(a.into()),
            IpAddr::V4(_) => None,
        }
    }
    fn refused_text(s: &str) -> Option<&'static str> {
        s.contains('%').then_some(
            "zone IDs (%IFACE) are not targets; name the address without one (the route picks the link)",
        )
    }
    fn refused((a, b): (u128, u128)) -> Option<String> {
        // IPv4-mapped addresses (::ffff:a.b.c.d) are IPv4 hosts: probing
        // them over IPv6 reaches nothing.
        const MAPPED: (u128, u128) = (0xffff_0000_0000, 0xffff_ffff_ffff);
        (MAPPED.0 <= a && b <= MAPPED.1).then(|| {
            format!(
                "an IPv4-mapped IPv6 address; name the IPv4 address ({}) instead",
                Ipv4Addr::from(a as u32)
            )
        })
    }
}

/// A set of addresses as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranges<A: Addr> {
    ranges: Vec<(A, A)>,
    /// prefix[i] = number of addresses in ranges[..i], saturating at
    /// `u64::MAX` (an index is a `u64`, so a saturated range is never
    /// reached by [`nth`](Self::nth) or [`rank`](Self::rank)).
    prefix: Vec<u64>,
    /// Number of addresses, exactly (saturating at `u128::MAX`).
    total: u128,
}

/// A set of IPv4 addresses.
pub type RangeSet = Ranges<u32>;

impl<A: Addr> Ranges<A> {
    pub fn new() -> Self {
        Ranges {
            ranges: Vec::new(),
            prefix: Vec::new(),
            total: 0,
        }
    }

    /// Build from arbitrary (possibly overlapping) inclusive ranges. Sorts
    /// and merges in place: no second copy of the list.
    pub fn from_ranges(mut v: Vec<(A, A)>) -> Self {
        v.sort_unstable();
        merge_sorted(&mut v);
        v.shrink_to_fit();
        let mut s = Ranges {
            ranges: v,
            prefix: Vec::new(),
            total: 0,
        };
        s.reindex();
        s
    }

    /// Build from ranges already sorted, disjoint and non-adjacent.
    fn from_canonical(v: Vec<(A, A)>) -> Self {
        debug_assert!(
            v.windows(2)
                .all(|w| w[0].1.wide().saturating_add(1) < w[1].0.wide())
        );
        let mut s = Ranges {
            ranges: v,
            prefix: Vec::new(),
            total: 0,
        };
        s.reindex();
        s
    }

    fn reindex(&mut self) {
        let mut acc = 0u128;
        let mut prefix = Vec::with_capacity(self.ranges.len());
        for &(a, b) in &self.ranges {
            prefix.push(u64::try_from(acc).unwrap_or(u64::MAX));
            acc = acc.saturating_add((b.wide() - a.wide()).saturating_add(1));
        }
        self.prefix = prefix;
        self.total = acc;
    }

    pub fn ranges(&self) -> &[(A, A)] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of addresses in the set (saturating; see
    /// [`count_wide`](Self::count_wide)).
    pub fn count(&self) -> u64 {
        u64::try_from(self.count_wide()).unwrap_or(u64::MAX)
    }

    /// Number of addresses in the set, exactly (the whole IPv6 space
    /// saturates at `u128::MAX`).
    pub fn count_wide(&self) -> u128 {
        self.total
    }

    /// The `i`-th address in ascending order. Panics if `i >= count()`.
    #[inline]
    pub fn nth(&self, i: u64) -> A {
        let k = self.prefix.partition_point(|&p| p <= i) - 1;
        A::narrow(self.ranges[k].0.wide() + (i - self.prefix[k]) as u128)
    }

    /// The position of `ip` in ascending order (the inverse of [`nth`](Self::nth)),
    /// or `None` when the set does not hold it.
    #[inline]
    pub fn rank(&self, ip: A) -> Option<u64> {
        let k = self.ranges.partition_point(|&(a, _)| a <= ip);
        (k > 0 && ip <= self.ranges[k - 1].1).then(|| {
            (self.prefix[k - 1] as u128 + (ip.wide() - self.ranges[k - 1].0.wide())) as u64
        })
    }

    /// Whether the set holds `ip`.
    #[inline]
    pub fn contains(&self, ip: A) -> bool {
        let k = self.ranges.partition_point(|&(a, _)| a <= ip);
        k > 0 && ip <= self.ranges[k - 1].1
    }

    /// The set minus `other`, in one pass over both sorted lists.
    pub fn subtract(&self, other: &Ranges<A>) -> Ranges<A> {
        if other.is_empty() {
            return self.clone();
        }
        Ranges::from_canonical(subtract_sorted(&self.ranges, &other.ranges))
    }

    /// The set's ranges inside `spans` (sorted, disjoint inclusive ranges),
    /// clipped to them, in ascending order: the set intersected with the
    /// spans, without building it.
    pub fn clipped<'a>(&'a self, spans: &'a [(A, A)]) -> impl Iterator<Item = (A, A)> + 'a {
        spans.iter().flat_map(move |&(x, y)| {
            let (lo, hi) = self.overlapping(x, y);
            self.ranges[lo..hi]
                .iter()
                .map(move |&(a, b)| (a.max(x), b.min(y)))
        })
    }

    /// How many of the set's ranges meet `spans` once clipped (the length
    /// of [`clipped`](Self::clipped)).
    pub fn clipped_len(&self, spans: &[(A, A)]) -> usize {
        spans
            .iter()
            .map(|&(x, y)| {
                let (lo, hi) = self.overlapping(x, y);
                hi - lo
            })
            .sum()
    }

    /// Number of addresses of the set inside `spans` (sorted, disjoint).
    pub fn count_in(&self, spans: &[(A, A)]) -> u128 {
        self.clipped(spans)
            .map(|(a, b)| (b.wide() - a.wide()).saturating_add(1))
            .fold(0u128, |s, n| s.saturating_add(n))
    }

    /// The set inside `spans` (sorted, disjoint), as a set of its own.
    pub fn within(&self, spans: &[(A, A)]) -> Ranges<A> {
        Ranges::from_canonical(self.clipped(spans).collect())
    }

    /// The indices `lo..hi` of the ranges that meet `[x, y]`.
    fn overlapping(&self, x: A, y: A) -> (usize, usize) {
        let lo = self.ranges.partition_point(|&(_, b)| b < x);
        let hi = self.ranges.partition_point(|&(a, _)| a <= y);
        (lo, hi.max(lo))
    }

    /// Whether `[a, b]` lies wholly inside one range of the set.
    pub fn covers(&self, a: A, b: A) -> bool {
        let k = self.ranges.partition_point(|&(x, _)| x <= a);
        k > 0 && b <= self.ranges[k - 1].1
    }
}

/// Merge sorted ranges in place: overlapping or adjacent ranges become one.
fn merge_sorted<A: Addr>(v: &mut Vec<(A, A)>) {
    let mut w = 0;
    for r in 0..v.len() {
        let (a, b) = v[r];
        if w > 0 && a.wide() <= v[w - 1].1.wide().saturating_add(1) {
            if b > v[w - 1].1 {
                v[w - 1].1 = b;
            }
        } else {
            v[w] = (a, b);
            w += 1;
        }
    }
    v.truncate(w);
}

/// `keep` minus `cut`, both sorted, disjoint and non-adjacent; the result is
/// too. One pass: a cut range is passed over once it ends before the range
/// being cut.
fn subtract_sorted<A: Addr>(keep: &[(A, A)], cut: &[(A, A)]) -> Vec<(A, A)> {
    let mut out = Vec::with_capacity(keep.len());
    let mut j = 0;
    for &(a, b) in keep {
        while j < cut.len() && cut[j].1 < a {
            j += 1;
        }
        // `lo` may step one past the top of the address space: u128 holds
        // it for IPv4, and for IPv6 the `None` below says "nothing left".
        let mut lo = Some(a.wide());
        let hi = b.wide();
        for &(x, y) in &cut[j..] {
            let Some(l) = lo else { break };
            let (x, y) = (x.wide(), y.wide());
            if x > hi {
                break;
            }
            if x > l {
                out.push((A::narrow(l), A::narrow(x - 1)));
            }
            lo = y.checked_add(1).filter(|&n| n <= hi);
        }
        if let Some(l) = lo {
            out.push((A::narrow(l), A::narrow(hi)));
        }
    }
    out
}

/// One target as written: an inclusive range of IPv4 or of IPv6 addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    V4(u32, u32),
    V6(u128, u128),
}

impl Target {
    /// Number of addresses.
    pub fn size(&self) -> u128 {
        match *self {
            Target::V4(a, b) => (b - a) as u128 + 1,
            Target::V6(a, b) => (b - a).saturating_add(1),
        }
    }
}

/// The widest IPv6 target a scan sweeps without `--allow-wide`: 2^32
/// addresses (a /96), as many as the whole IPv4 space.
pub const MAX_V6_TARGET_BITS: u32 = 32;

/// Parse one target of family `A`: an address, a prefix or a range, as an
/// inclusive range of addresses. IPv4: `1.2.3.4`, `1.2.3.0/24` or
/// `1.2.3.4-1.2.3.9`; IPv6: `2001:2::7`, `2001:2::/112` or
/// `2001:2::1-2001:2::9`. Zone IDs (`fe80::1%eth0`) are refused: they name
/// a link, not an address to sweep.
///
/// ```
/// use synsweep::targets::parse_target;
/// assert_eq!(parse_target::<u32>("198.19.0.0/30").unwrap(), (0xc613_0000, 0xc613_0003));
/// assert_eq!(parse_target::<u32>("198.19.0.9-198.19.0.1").unwrap_err().exit_code(), 2);
/// assert_eq!(parse_target::<u128>("2001:2::/127").unwrap(), (0x2001_0002u128 << 96, (0x2001_0002u128 << 96) + 1));
/// assert_eq!(parse_target::<u128>("fe80::1%eth0").unwrap_err().exit_code(), 2);
/// ```
pub fn parse_target<A: Addr>(s: &str) -> Result<(A, A)> {
    let r = parse_range::<A>(s)?;
    match A::refused(r) {
        Some(why) => Err(Error::input(format!(
            "invalid target '{}': {why}",
            s.trim()
        ))),
        None => Ok(r),
    }
}

/// [`parse_target`] without the refusals of a parsed range (the reserved
/// lists name IPv4-mapped space).
fn parse_range<A: Addr>(s: &str) -> Result<(A, A)> {
    let s = s.trim();
    let bad = |why: &str| Error::input(format!("invalid target '{s}': {why}"));
    if s.is_empty() {
        return Err(bad("empty"));
    }
    if let Some(why) = A::refused_text(s) {
        return Err(bad(why));
    }
    let addr = |t: &str| t.trim().parse::<IpAddr>().ok().and_then(A::from_ip);
    if let Some((a, b)) = s.split_once('-') {
        let v = A::VERSION;
        let a = addr(a).ok_or_else(|| bad(&format!("range start is not an {v} address")))?;
        let b = addr(b).ok_or_else(|| bad(&format!("range end is not an {v} address")))?;
        if a > b {
            return Err(bad("empty range (start is after end)"));
        }
        return Ok((a, b));
    }
    if s.contains('/') {
        return s
            .parse::<ipnet::IpNet>()
            .ok()
            .and_then(|n| Some((A::from_ip(n.network())?, A::from_ip(n.broadcast())?)))
            .ok_or_else(|| bad(&format!("malformed {}", A::PREFIX)));
    }
    let a = addr(s).ok_or_else(|| bad(&format!("not an {} address, {}", A::VERSION, A::FORMS)))?;
    Ok((a, a))
}

/// Parse one target of either family (IPv6 when it holds a `:`).
///
/// ```
/// use synsweep::targets::{parse_any, Target};
/// assert!(matches!(parse_any("198.19.0.0/30").unwrap(), Target::V4(..)));
/// assert!(matches!(parse_any("2001:2::/112").unwrap(), Target::V6(..)));
/// ```
pub fn parse_any(s: &str) -> Result<Target> {
    if s.contains(':') {
        if s.contains('.') && s.contains('-') && {
            let (a, b) = s.split_once('-').unwrap_or_default();
            a.contains(':') != b.contains(':')
        } {
            return Err(Error::input(format!(
                "invalid target '{}': a range cannot mix IPv4 and IPv6",
                s.trim()
            )));
        }
        let (a, b) = parse_target(s)?;
        Ok(Target::V6(a, b))
    } else {
        let (a, b) = parse_target(s)?;
        Ok(Target::V4(a, b))
    }
}

/// Refuse an IPv6 target too wide to sweep unless `allow_wide`: more than
/// 2^[`MAX_V6_TARGET_BITS`] addresses.
pub fn check_width(s: &str, t: Target, allow_wide: bool) -> Result<()> {
    let Target::V6(..) = t else { return Ok(()) };
    let n = t.size();
    if allow_wide || n <= 1u128 << MAX_V6_TARGET_BITS {
        return Ok(());
    }
    let bits = if n == u128::MAX {
        128
    } else {
        127 - n.leading_zeros()
    };
    Err(Error::input(format!(
        "invalid target '{}': it holds about 2^{bits} addresses, too many to sweep (at most 2^{MAX_V6_TARGET_BITS}, a /96, per IPv6 target); name a narrower prefix or pass --allow-wide",
        s.trim()
    )))
}

/// Read targets from a file: one per line (several per line may be separated
/// by commas or spaces), `#` starts a comment, IPv4 and IPv6 mixed. Errors
/// name file and line.
pub fn read_target_file(path: &Path) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    for_each_target_in_file(path, |_, t| {
        out.push(t);
        Ok(())
    })?;
    Ok(out)
}

/// Stream the targets of a file (the format of [`read_target_file`]) to `f`,
/// each with its text as written, line by line: memory stays that of one
/// line. An error, from parsing or from `f`, is prefixed with `FILE:LINE: `.
pub fn for_each_target_in_file(
    path: &Path,
    mut f: impl FnMut(&str, Target) -> Result<()>,
) -> Result<()> {
    use std::io::BufRead as _;
    let cannot = |e: std::io::Error| Error::input(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut rd = std::io::BufReader::with_capacity(1 << 16, file);
    let mut buf = Vec::new();
    let mut n = 0usize;
    loop {
        buf.clear();
        if rd.read_until(b'\n', &mut buf).map_err(cannot)? == 0 {
            return Ok(());
        }
        n += 1;
        let at = |e: Error| Error::input(format!("{}:{n}: {e}", path.display()));
        let line = std::str::from_utf8(&buf).map_err(|_| at(Error::input("not UTF-8 text")))?;
        let line = line.split('#').next().unwrap_or("");
        for tok in line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            let t = parse_any(tok).map_err(at)?;
            f(tok, t).map_err(at)?;
        }
    }
}

/// The reserved ranges of family `A`, one by one as listed.
fn reserved_list<A: Addr>() -> Vec<(A, A)> {
    A::RESERVED
        .iter()
        .map(|(c, _)| parse_range(c).expect("built-in prefix"))
        .collect()
}

/// The reserved ranges of family `A` as a set.
pub fn reserved_set<A: Addr>() -> Ranges<A> {
    Ranges::from_ranges(reserved_list())
}

/// One family's address set: `include` minus `exclude`, and (when
/// `default_excludes`) minus the reserved ranges inside any include that
/// does not lie wholly inside one reserved range. Each reserved range is
/// tested on its own: adjacent ranges (224.0.0.0/4 multicast and
/// 240.0.0.0/4 reserved) merge in the set, and a target spanning both
/// (224.0.0.0/3) was not named inside either. Works on the lists in place
/// (sort, merge, one pass to subtract), so a list of millions costs about
/// one sort.
fn resolve_family<A: Addr>(
    mut include: Vec<(A, A)>,
    exclude: Vec<(A, A)>,
    default_excludes: bool,
    reserved: Vec<(A, A)>,
) -> Ranges<A> {
    if default_excludes {
        let one_by_one = reserved.clone();
        let set = Ranges::from_ranges(reserved);
        let mut cut = Vec::new();
        include.retain(|&(a, b)| {
            let k = set.ranges.partition_point(|&(x, _)| x <= b);
            let touches = k > 0 && set.ranges[k - 1].1 >= a;
            if !touches || one_by_one.iter().any(|&(x, y)| x <= a && b <= y) {
                return true;
            }
            cut.extend(subtract_sorted(&[(a, b)], &set.ranges));
            false
        });
        include.append(&mut cut);
    }
    let kept = Ranges::from_ranges(include);
    if exclude.is_empty() {
        return kept;
    }
    kept.subtract(&Ranges::from_ranges(exclude))
}

/// The addresses of a scan, both families: IPv4 ranks first, then IPv6.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    pub v4: RangeSet,
    pub v6: Ranges<u128>,
}

impl From<RangeSet> for Targets {
    fn from(v4: RangeSet) -> Self {
        Targets {
            v4,
            v6: Ranges::<u128>::new(),
        }
    }
}

impl Targets {
    /// Number of addresses (saturating; see [`count_wide`](Self::count_wide)).
    pub fn count(&self) -> u64 {
        u64::try_from(self.count_wide()).unwrap_or(u64::MAX)
    }

    pub fn count_wide(&self) -> u128 {
        self.v4.count_wide().saturating_add(self.v6.count_wide())
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// The `i`-th address: IPv4 in ascending order, then IPv6.
    #[inline]
    pub fn nth(&self, i: u64) -> IpAddr {
        let n4 = self.v4.count();
        if i < n4 {
            IpAddr::V4(Ipv4Addr::from(self.v4.nth(i)))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.v6.nth(i - n4)))
        }
    }

    /// The inverse of [`nth`](Self::nth).
    #[inline]
    pub fn rank(&self, ip: IpAddr) -> Option<u64> {
        match ip {
            IpAddr::V4(a) => self.v4.rank(u32::from(a)),
            IpAddr::V6(a) => Some(self.v4.count() + self.v6.rank(u128::from(a))?),
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.v4.contains(u32::from(a)),
            IpAddr::V6(a) => self.v6.contains(u128::from(a)),
        }
    }
}

/// One family's targets as given: what to include and what to exclude.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given<A> {
    pub include: Vec<(A, A)>,
    pub exclude: Vec<(A, A)>,
}

impl<A> Default for Given<A> {
    fn default() -> Self {
        Given {
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

impl<A: Addr> Given<A> {
    /// The final address set: a target wholly inside one reserved range
    /// was named on purpose and is kept whole; a wider target loses the
    /// reserved ranges inside it (with `default_excludes`). User excludes
    /// always apply. Consumes the lists (no copy of them is made).
    pub fn resolve(self, default_excludes: bool) -> Ranges<A> {
        resolve_family(
            self.include,
            self.exclude,
            default_excludes,
            reserved_list(),
        )
    }
}

/// Everything that decides which addresses a scan probes.
#[derive(Debug, Clone, Default)]
pub struct TargetSpec {
    pub v4: Given<u32>,
    pub v6: Given<u128>,
    /// Apply the reserved-space rule (the default).
    pub default_excludes: bool,
}

impl TargetSpec {
    /// Add parsed targets to the includes (`exclude`: to the excludes).
    pub fn add(&mut self, t: Target, exclude: bool) {
        match (t, exclude) {
            (Target::V4(a, b), false) => self.v4.include.push((a, b)),
            (Target::V4(a, b), true) => self.v4.exclude.push((a, b)),
            (Target::V6(a, b), false) => self.v6.include.push((a, b)),
            (Target::V6(a, b), true) => self.v6.exclude.push((a, b)),
        }
    }

    /// Both families.
    pub fn resolve_all(&self) -> Targets {
        self.clone().into_targets()
    }

    /// Both families, consuming the lists (no copy of them is made).
    pub fn into_targets(self) -> Targets {
        Targets {
            v4: self.v4.resolve(self.default_excludes),
            v6: self.v6.resolve(self.default_excludes),
        }
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
            v4: Given {
                include: vec![parse_target::<u32>(t).unwrap()],
                exclude: vec![],
            },
            default_excludes: true,
            ..Default::default()
        };
        assert!(
            spec("224.0.0.0/3").into_targets().v4.is_empty(),
            "multicast + reserved"
        );
        assert_eq!(
            spec("240.0.0.0/4").into_targets().v4.count(),
            1 << 28,
            "inside one: named on purpose"
        );
        assert_eq!(spec("224.0.0.1").into_targets().v4.count(), 1);
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
            parse_target::<u32>("198.19.0.7").unwrap(),
            (ip("198.19.0.7"), ip("198.19.0.7"))
        );
        assert_eq!(
            parse_target::<u32>("198.19.1.0/24").unwrap(),
            (ip("198.19.1.0"), ip("198.19.1.255"))
        );
        assert_eq!(
            parse_target::<u32>("198.19.1.9/24").unwrap(),
            (ip("198.19.1.0"), ip("198.19.1.255"))
        );
        assert_eq!(
            parse_target::<u32>("198.19.0.1-198.19.0.3").unwrap(),
            (ip("198.19.0.1"), ip("198.19.0.3"))
        );
        assert_eq!(parse_target::<u32>("0.0.0.0/0").unwrap(), (0, u32::MAX));
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
            let e = parse_target::<u32>(bad).unwrap_err();
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
            v4: Given {
                include: vec![(0, u32::MAX)],
                exclude: vec![],
            },
            default_excludes: true,
            ..Default::default()
        }
        .into_targets()
        .v4;
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
            v4: Given {
                include: vec![parse_target::<u32>("198.19.0.0/16").unwrap()],
                exclude: vec![],
            },
            default_excludes: true,
            ..Default::default()
        }
        .into_targets()
        .v4;
        assert_eq!(lab.count(), 65536);
        let lo = TargetSpec {
            v4: Given {
                include: vec![parse_target::<u32>("127.0.0.1").unwrap()],
                exclude: vec![],
            },
            default_excludes: true,
            ..Default::default()
        }
        .into_targets()
        .v4;
        assert_eq!(lo.count(), 1);
        let off = TargetSpec {
            v4: Given {
                include: vec![parse_target::<u32>("196.0.0.0/6").unwrap()],
                exclude: vec![],
            },
            default_excludes: false,
            ..Default::default()
        }
        .into_targets()
        .v4;
        assert_eq!(off.count(), 1 << 26);
    }

    #[test]
    fn excludes_apply() {
        let s = TargetSpec {
            v4: Given {
                include: vec![parse_target::<u32>("198.19.0.0/24").unwrap()],
                exclude: vec![
                    parse_target::<u32>("198.19.0.0/25").unwrap(),
                    parse_target::<u32>("198.19.0.255").unwrap(),
                ],
            },
            default_excludes: true,
            ..Default::default()
        }
        .into_targets()
        .v4;
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

    fn ip6(s: &str) -> u128 {
        u128::from(s.parse::<Ipv6Addr>().unwrap())
    }

    fn spec6(include: &[&str], exclude: &[&str]) -> Targets {
        let mut s = TargetSpec {
            default_excludes: true,
            ..Default::default()
        };
        for t in include {
            s.add(parse_any(t).unwrap(), false);
        }
        for t in exclude {
            s.add(parse_any(t).unwrap(), true);
        }
        s.resolve_all()
    }

    #[test]
    fn parses_the_three_ipv6_forms() {
        assert_eq!(
            parse_target::<u128>("2001:2::7").unwrap(),
            (ip6("2001:2::7"), ip6("2001:2::7"))
        );
        assert_eq!(
            parse_target::<u128>("2001:2:0:1::/112").unwrap(),
            (ip6("2001:2:0:1::"), ip6("2001:2:0:1::ffff"))
        );
        assert_eq!(
            parse_target::<u128>("2001:2:0:1::9:1/112").unwrap(),
            (ip6("2001:2:0:1::9:0"), ip6("2001:2:0:1::9:ffff")),
            "host bits are cleared, as for IPv4"
        );
        assert_eq!(
            parse_target::<u128>("2001:2::1 - 2001:2::3").unwrap(),
            (ip6("2001:2::1"), ip6("2001:2::3"))
        );
        assert_eq!(parse_target::<u128>("::/0").unwrap(), (0, u128::MAX));
        assert_eq!(
            parse_any("2001:2::/126").unwrap(),
            Target::V6(ip6("2001:2::"), ip6("2001:2::3"))
        );
        assert_eq!(
            parse_any("198.19.0.0/30").unwrap(),
            Target::V4(ip("198.19.0.0"), ip("198.19.0.3"))
        );
    }

    #[test]
    fn rejects_bad_ipv6_targets_with_one_line() {
        for (bad, why) in [
            ("2001:2::/129", "malformed IPv6 prefix"),
            ("2001:2::/", "malformed IPv6 prefix"),
            ("2001:2::/abc", "malformed IPv6 prefix"),
            ("2001:2:::1/64", "malformed IPv6 prefix"),
            ("2001:2::g", "not an IPv6 address"),
            ("fe80::1%eth0", "zone IDs"),
            ("fe80::%1/64", "zone IDs"),
            ("2001:2::9-2001:2::1", "empty range"),
            ("2001:2::1-198.19.0.1", "cannot mix"),
            ("2001:2::1-2001:2::x", "range end"),
            ("::ffff:198.19.0.1", "IPv4-mapped"),
            (
                "::ffff:198.19.0.0/120",
                "name the IPv4 address (198.19.0.0)",
            ),
        ] {
            let e = parse_any(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            let m = e.to_string();
            assert!(
                m.contains("invalid target") && m.contains(why),
                "{bad}: {m}"
            );
            assert!(!m.contains('\n'), "{m}");
        }
    }

    #[test]
    fn over_wide_ipv6_targets_need_allow_wide() {
        let t = |s: &str| parse_any(s).unwrap();
        assert!(check_width("2001:2::/96", t("2001:2::/96"), false).is_ok());
        assert!(check_width("198.19.0.0/0", t("0.0.0.0/0"), false).is_ok());
        for wide in [
            "2001:2::/95",
            "2001:2::/64",
            "::/0",
            "2001:2::-2001:2::1:0:0",
        ] {
            let e = check_width(wide, t(wide), false).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            let m = e.to_string();
            assert!(m.contains("--allow-wide") && m.contains(wide), "{m}");
            assert!(check_width(wide, t(wide), true).is_ok());
        }
        let m = check_width("::/0", t("::/0"), false)
            .unwrap_err()
            .to_string();
        assert!(m.contains("2^128"), "{m}");
        let m = check_width("x", t("2001:2::/64"), false)
            .unwrap_err()
            .to_string();
        assert!(m.contains("2^64"), "{m}");
    }

    #[test]
    fn ipv6_reserved_space_skipped_inside_wider_targets_only() {
        let all = Ranges::<u128>::from_ranges(vec![(0, u128::MAX)]);
        assert_eq!(all.count_wide(), u128::MAX, "saturates");
        let wide = spec6(&["::/0"], &[]);
        for r in [
            "::",
            "::1",
            "::ffff:198.19.0.1",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "2001:db8::1",
            "2001:2::1",
            "2002::1",
            "3fff::1",
        ] {
            assert!(!wide.v6.contains(ip6(r)), "{r} must be skipped");
        }
        assert!(wide.v6.contains(ip6("2a00:1450::1")));
        assert!(wide.v6.contains(ip6("2001:4860::8888")));
        assert!(!wide.v6.contains(u128::MAX), "multicast");
        assert!(!wide.v6.contains(0xffff_c613_0001), "IPv4-mapped");
        assert!(reserved_set::<u128>().contains(0xffff_c613_0001));
        assert!(wide.v6.contains(ip6("fbff::1")));
        // Named inside one reserved range: on purpose, kept whole (as
        // 198.18.0.0/15 for IPv4), although 2001:2::/48 also lies in
        // 2001::/23.
        let lab = spec6(&["2001:2:0:1::/112"], &[]);
        assert_eq!(lab.v6.count(), 65536);
        assert_eq!(spec6(&["::1"], &[]).v6.count(), 1);
        // Spanning 2001::/23 and beyond: the reserved part goes.
        let span = spec6(&["2001::/22"], &[]);
        assert!(!span.v6.contains(ip6("2001:2::1")));
        assert!(span.v6.contains(ip6("2001:200::1")));
        let off = TargetSpec {
            v6: Given {
                include: vec![parse_target::<u128>("2001:2::/112").unwrap()],
                exclude: vec![],
            },
            default_excludes: false,
            ..Default::default()
        }
        .into_targets()
        .v6;
        assert_eq!(off.count(), 65536);
    }

    #[test]
    fn mixed_targets_rank_ipv4_first_then_ipv6() {
        let t = spec6(
            &["2001:2:0:1::/126", "198.19.0.0/30", "2001:2:0:1::10"],
            &["2001:2:0:1::1", "198.19.0.3"],
        );
        assert_eq!((t.v4.count(), t.v6.count(), t.count()), (3, 4, 7));
        let all: Vec<String> = (0..t.count()).map(|i| t.nth(i).to_string()).collect();
        assert_eq!(
            all,
            [
                "198.19.0.0",
                "198.19.0.1",
                "198.19.0.2",
                "2001:2:0:1::",
                "2001:2:0:1::2",
                "2001:2:0:1::3",
                "2001:2:0:1::10"
            ]
        );
        for i in 0..t.count() {
            assert_eq!(t.rank(t.nth(i)), Some(i));
            assert!(t.contains(t.nth(i)));
        }
        assert_eq!(t.rank("2001:2:0:1::1".parse().unwrap()), None);
        assert_eq!(t.rank("198.19.0.3".parse().unwrap()), None);
    }

    #[test]
    fn subtract_reaches_the_top_of_the_ipv6_space() {
        let s = Ranges::<u128>::from_ranges(vec![(u128::MAX - 9, u128::MAX)]);
        let cut = s.subtract(&Ranges::<u128>::from_ranges(vec![(
            u128::MAX - 1,
            u128::MAX,
        )]));
        assert_eq!(cut.ranges(), &[(u128::MAX - 9, u128::MAX - 2)]);
        assert!(s.subtract(&s).is_empty());
        let cut = s.subtract(&Ranges::<u128>::from_ranges(vec![(
            u128::MAX - 5,
            u128::MAX - 5,
        )]));
        assert_eq!(cut.count(), 9);
        assert_eq!(cut.nth(8), u128::MAX);
    }

    #[test]
    fn target_files_mix_families() {
        let f = std::env::temp_dir().join(format!("ssw-tf6-{}", std::process::id()));
        std::fs::write(&f, "198.19.0.0/30, 2001:2::/126\n2001:2::9 # one\n").unwrap();
        let v = read_target_file(&f).unwrap();
        assert_eq!(v.len(), 3);
        assert!(matches!(v[1], Target::V6(..)));
        std::fs::write(&f, "2001:2::/126\nfe80::1%lo\n").unwrap();
        let e = read_target_file(&f).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("zone"), "{e}");
        std::fs::remove_file(&f).ok();
    }
}

/// The fast resolution (in-place sort and merge, one-pass subtract, spans)
/// against the straightforward one it replaced, kept here as the reference.
#[cfg(test)]
mod reference {
    use super::*;
    use proptest::prelude::*;

    fn merge<A: Addr>(mut v: Vec<(A, A)>) -> Vec<(A, A)> {
        v.sort_unstable();
        let mut out: Vec<(A, A)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match out.last_mut() {
                Some(last) if a.wide() <= last.1.wide().saturating_add(1) => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        out
    }

    fn subtract<A: Addr>(keep: &[(A, A)], cut: &[(A, A)]) -> Vec<(A, A)> {
        let mut out = Vec::new();
        for &(a, b) in keep {
            let mut lo = Some(a.wide());
            let hi = b.wide();
            for &(x, y) in cut {
                let Some(l) = lo else { break };
                let (x, y) = (x.wide(), y.wide());
                if y < l || x > hi {
                    continue;
                }
                if x > l {
                    out.push((A::narrow(l), A::narrow(x - 1)));
                }
                lo = y.checked_add(1).filter(|&n| n <= hi);
            }
            if let Some(l) = lo {
                out.push((A::narrow(l), A::narrow(hi)));
            }
        }
        merge(out)
    }

    fn resolve<A: Addr>(
        include: &[(A, A)],
        exclude: &[(A, A)],
        default_excludes: bool,
        listed: &[(&str, &str)],
        parse: fn(&str) -> (A, A),
    ) -> Vec<(A, A)> {
        let reserved = merge(listed.iter().map(|(c, _)| parse(c)).collect());
        let mut kept = Vec::new();
        for &(a, b) in include {
            let inside_one = listed.iter().any(|(c, _)| {
                let (x, y) = parse(c);
                x <= a && b <= y
            });
            if !default_excludes || inside_one {
                kept.push((a, b));
            } else {
                kept.extend(subtract(&[(a, b)], &reserved));
            }
        }
        subtract(&merge(kept), &merge(exclude.to_vec()))
    }

    fn v4(s: &str) -> (u32, u32) {
        parse_target::<u32>(s).unwrap()
    }

    fn v6(s: &str) -> (u128, u128) {
        parse_range::<u128>(s).unwrap()
    }

    /// IPv4 ranges drawn near the reserved blocks' edges and inside them,
    /// so that the reserved rule and the excludes all come into play.
    fn range4() -> impl Strategy<Value = (u32, u32)> {
        let anchors: Vec<u32> = u32::RESERVED
            .iter()
            .flat_map(|(c, _)| {
                let (a, b) = v4(c);
                [a, b]
            })
            .chain([0, u32::MAX, 0xc613_0000])
            .collect();
        (proptest::sample::select(anchors), -300i64..300, 0u32..5000).prop_map(
            |(base, off, len)| {
                let a = (base as i64 + off).clamp(0, u32::MAX as i64) as u32;
                (a, a.saturating_add(len))
            },
        )
    }

    fn range6() -> impl Strategy<Value = (u128, u128)> {
        let anchors: Vec<u128> = u128::RESERVED
            .iter()
            .flat_map(|(c, _)| {
                let (a, b) = v6(c);
                [a, b]
            })
            .chain([0, u128::MAX, 0x2001_0002u128 << 96])
            .collect();
        (
            proptest::sample::select(anchors),
            -300i128..300,
            prop_oneof![0u128..5000, Just(u128::MAX >> 1)],
        )
            .prop_map(|(base, off, len)| {
                let a = if off < 0 {
                    base.saturating_sub(off.unsigned_abs())
                } else {
                    base.saturating_add(off as u128)
                };
                (a, a.saturating_add(len))
            })
    }

    proptest! {
        #[test]
        fn ipv4_resolution_gives_the_reference_ranges(
            include in proptest::collection::vec(range4(), 1..60),
            exclude in proptest::collection::vec(range4(), 0..20),
            default_excludes in any::<bool>(),
        ) {
            let spec = TargetSpec {
                v4: Given {
                    include: include.clone(),
                    exclude: exclude.clone(),
                },
                default_excludes,
                ..Default::default()
            };
            let want = resolve(&include, &exclude, default_excludes, u32::RESERVED, v4);
            let got = spec.clone().into_targets().v4;
            prop_assert_eq!(got.ranges(), &want[..]);
            let by_ref = spec.resolve_all().v4;
            prop_assert_eq!(by_ref.ranges(), &want[..]);
            let total: u128 = want.iter().map(|&(a, b)| (b - a) as u128 + 1).sum();
            prop_assert_eq!(got.count_wide(), total);
            if total > 0 {
                let last = got.count() - 1;
                prop_assert_eq!(got.rank(got.nth(last)), Some(last));
                prop_assert_eq!(got.nth(0), want[0].0);
            }
        }

        #[test]
        fn ipv6_resolution_gives_the_reference_ranges(
            include in proptest::collection::vec(range6(), 1..60),
            exclude in proptest::collection::vec(range6(), 0..20),
            default_excludes in any::<bool>(),
        ) {
            let spec = TargetSpec {
                v6: Given {
                    include: include.clone(),
                    exclude: exclude.clone(),
                },
                default_excludes,
                ..Default::default()
            };
            let want = resolve(&include, &exclude, default_excludes, u128::RESERVED, v6);
            let got = spec.into_targets().v6;
            prop_assert_eq!(got.ranges(), &want[..]);
            let total = want
                .iter()
                .fold(0u128, |s, &(a, b)| s.saturating_add((b - a).saturating_add(1)));
            prop_assert_eq!(got.count_wide(), total);
        }

        #[test]
        fn clipping_to_spans_is_the_intersection(
            set in proptest::collection::vec((0u32..2000, 0u32..40), 0..40),
            spans in proptest::collection::vec((0u32..2000, 0u32..200), 0..10),
        ) {
            let set = RangeSet::from_ranges(set.into_iter().map(|(a, n)| (a, a + n)).collect());
            let spans = RangeSet::from_ranges(spans.into_iter().map(|(a, n)| (a, a + n)).collect());
            let want: Vec<u32> = (0..2300u32).filter(|&x| set.contains(x) && spans.contains(x)).collect();
            let inside = set.within(spans.ranges());
            let got: Vec<u32> = (0..inside.count()).map(|i| inside.nth(i)).collect();
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(set.count_in(spans.ranges()), want.len() as u128);
            prop_assert_eq!(set.clipped_len(spans.ranges()), inside.ranges().len());
        }

        #[test]
        fn a_streamed_file_gives_the_targets_of_its_lines(
            lines in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![
                        any::<u32>().prop_map(|a| Ipv4Addr::from(a).to_string()),
                        any::<u128>().prop_map(|a| format!("{}/120", Ipv6Addr::from(a & !0xff))),
                        (any::<u32>(), 0u32..9).prop_map(|(a, n)| format!(
                            "{}-{}", Ipv4Addr::from(a), Ipv4Addr::from(a.saturating_add(n)))),
                    ],
                    0..4,
                ),
                0..30,
            ),
        ) {
            let text: String = lines
                .iter()
                .map(|l| format!("{}  # note\r\n", l.join(", ")))
                .collect();
            let want: Vec<Target> = lines.iter().flatten().map(|t| parse_any(t).unwrap()).collect();
            let dir = std::env::temp_dir().join(format!(
                "synsweep-targets-{}-{}",
                std::process::id(),
                text.len()
            ));
            std::fs::write(&dir, &text).unwrap();
            let got = read_target_file(&dir);
            std::fs::remove_file(&dir).unwrap();
            prop_assert_eq!(got.unwrap(), want);
        }
    }
}
