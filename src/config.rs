//! From command-line arguments to a validated `ScanConfig`. Every check on
//! user input happens here, before any socket opens, so bad input ends with
//! exit status 2 and one line, and never sends a packet.

use crate::cli::ScanArgs;
use crate::error::{Error, Result};
use crate::net::route::Overrides;
use crate::output::Format;
use crate::probe::Probe;
use crate::targets::{self, RangeSet, TargetSpec, Targets};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

/// Retry rounds `--rate max` adds by itself (without `--retries`): over
/// what its controller saw lost while it learned, and the silent ports of
/// hosts that answered (a second round did not find measurably more behind
/// a reply policer, and costs time behind a SYN policer).
pub const RAMP_RETRIES: u32 = 1;

/// Most source addresses `--source-ip` may name.
pub const MAX_SOURCES: u64 = 256;

/// Probes per second when `--rate` is not given.
pub const DEFAULT_RATE: &str = "10000";
/// Seconds to wait for late replies when `--wait` is not given.
pub const DEFAULT_WAIT: f64 = 3.0;
/// Sender threads when `--senders` is not given (below [`FAST_RATE`]).
pub const DEFAULT_SENDERS: usize = 1;
/// From this rate on (and for `--rate max`) the default is two senders: on
/// two cores they hand the kernel about 1.5 times what one does (README,
/// Performance).
pub const FAST_RATE: f64 = 300_000.0;

/// How probes reach the link (`--tx-backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TxBackend {
    /// AF_XDP where a socket binds, AF_PACKET (said on stderr) elsewhere.
    #[default]
    Auto,
    /// AF_XDP on every path, or exit 1.
    Xdp,
    /// AF_PACKET (and raw IP sockets for loopback) only.
    Packet,
}

impl TxBackend {
    pub fn parse(s: &str) -> Result<TxBackend> {
        match s {
            "auto" => Ok(TxBackend::Auto),
            "xdp" => Ok(TxBackend::Xdp),
            "packet" => Ok(TxBackend::Packet),
            _ => Err(Error::input(format!(
                "invalid --tx-backend {s:?}: want auto, xdp or packet"
            ))),
        }
    }
}

/// How fast to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    Pps(f64),
    /// As fast as the path carries them: the adaptive controller.
    Max,
    /// As fast as the kernel takes them, no controller (sender benchmarks,
    /// paths known to be wide).
    Unlimited,
}

impl Rate {
    pub fn parse(s: &str) -> Result<Rate> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Rate::Max);
        }
        if s.eq_ignore_ascii_case("unlimited") {
            return Ok(Rate::Unlimited);
        }
        let v: f64 = s
            .trim_end_matches(['k', 'K', 'm', 'M'])
            .parse()
            .map_err(|_| {
                Error::input(format!(
                    "invalid rate '{s}': want packets per second (e.g. 50000, 100k, 1.5M), 'max' or 'unlimited'"
                ))
            })?;
        let mult = match s.chars().last() {
            Some('k' | 'K') => 1e3,
            Some('m' | 'M') => 1e6,
            _ => 1.0,
        };
        let v = v * mult;
        if !(v.is_finite() && v >= 1.0) {
            return Err(Error::input(format!(
                "invalid rate '{s}': must be at least 1 packet per second"
            )));
        }
        Ok(Rate::Pps(v))
    }

    pub fn pps(self) -> Option<f64> {
        match self {
            Rate::Pps(v) => Some(v),
            Rate::Max | Rate::Unlimited => None,
        }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rate::Pps(v) => write!(f, "{v}"),
            Rate::Max => f.write_str("max"),
            Rate::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// Everything that shapes one scan, resolved from the command line.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    /// Shared with the scan's space: a long list is held once.
    pub targets: std::sync::Arc<Targets>,
    /// The targets as the user wrote them (for reports).
    pub target_text: String,
    /// TCP ports.
    pub ports: Vec<u16>,
    /// UDP ports (`-p U:...`).
    pub udp_ports: Vec<u16>,
    pub rate: Rate,
    pub retries: u32,
    /// `--rate max` without `--retries`: one retry round over what the
    /// controller saw lost while it learned, plus the silent ports of live
    /// hosts (not the silent hosts).
    pub ramp_retry: bool,
    pub wait: Duration,
    /// Sender threads, each with its own socket and share of the rate.
    pub senders: usize,
    /// How probes reach the link.
    pub tx_backend: TxBackend,
    /// Stay root after opening the sockets.
    pub keep_root: bool,
    pub seed: u64,
    /// Shard index (0-based) and count.
    pub shard: (u64, u64),
    pub overrides: Overrides,
    pub show_closed: bool,
    pub outputs: Vec<(String, Format)>,
    pub policy: Option<PathBuf>,
    pub dry_run: bool,
    /// The probe modules the ports need: TCP SYN for TCP ports, UDP for
    /// UDP ports (in that order).
    pub probes: Vec<&'static dyn Probe>,
    pub quiet: bool,
    pub command_line: String,
    /// The arguments this configuration came from (saved in paused.json).
    pub args: ScanArgs,
    /// Where an interrupted scan writes its paused state, and a running
    /// scan its checkpoints (`--state-dir` points it into the state
    /// directory; default `./paused.json`).
    pub paused_path: PathBuf,
}

/// Parse `--source-ip` with IPv4 and IPv6 mixed: addresses, ranges and
/// blocks, comma-separated (at most [`MAX_SOURCES`] of each family).
pub fn parse_sources_mixed(spec: &str) -> Result<(Vec<Ipv4Addr>, Vec<Ipv6Addr>)> {
    let bad = |why: &str| Error::input(format!("invalid --source-ip '{spec}': {why}"));
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for tok in spec.split(',').filter(|t| !t.trim().is_empty()) {
        if tok.contains(':') {
            let (a, b) = targets::parse_target::<u128>(tok).map_err(|_| {
                bad("want IPv6 addresses, ranges or prefixes, comma-separated (no zone IDs)")
            })?;
            v6.push((a, b));
        } else {
            v4.push(tok);
        }
    }
    let v4 = if v4.is_empty() {
        Vec::new()
    } else {
        parse_sources(&v4.join(","))?
    };
    let set = targets::Ranges::<u128>::from_ranges(v6);
    if set.count_wide() > MAX_SOURCES as u128 {
        return Err(bad(&format!(
            "{} IPv6 addresses, at most {MAX_SOURCES}",
            set.count_wide()
        )));
    }
    let v6 = (0..set.count())
        .map(|i| Ipv6Addr::from(set.nth(i)))
        .collect();
    if v4.is_empty() && set.is_empty() {
        return Err(bad("no address"));
    }
    Ok((v4, v6))
}

/// Parse `--source-ip`: addresses, ranges and blocks, comma-separated (at
/// most [`MAX_SOURCES`] addresses).
pub fn parse_sources(spec: &str) -> Result<Vec<Ipv4Addr>> {
    let bad = |why: &str| Error::input(format!("invalid --source-ip '{spec}': {why}"));
    let mut set = Vec::new();
    for tok in spec.split(',').filter(|t| !t.trim().is_empty()) {
        let (a, b) = targets::parse_target::<u32>(tok).map_err(|_| {
            bad("want IPv4 addresses, ranges a.b.c.d-e.f.g.h or blocks, comma-separated")
        })?;
        set.push((a, b));
    }
    let set = RangeSet::from_ranges(set);
    if set.is_empty() {
        return Err(bad("no address"));
    }
    if set.count() > MAX_SOURCES {
        return Err(bad(&format!(
            "{} addresses, at most {MAX_SOURCES}",
            set.count()
        )));
    }
    Ok((0..set.count())
        .map(|i| Ipv4Addr::from(set.nth(i)))
        .collect())
}

/// Parse `K/N` (1-based K) into a 0-based (k, n).
pub fn parse_shard(s: &str) -> Result<(u64, u64)> {
    let bad = || {
        Error::input(format!(
            "invalid shard '{s}': want K/N with 1 <= K <= N, e.g. 2/8"
        ))
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || k == 0 || k > n {
        return Err(bad());
    }
    Ok((k - 1, n))
}

/// Read the shard from `VAR/N`: the variable holds a 0-based index, as
/// Kubernetes Indexed Jobs and Slurm arrays set it.
pub fn shard_from_env(spec: &str, get: impl Fn(&str) -> Option<String>) -> Result<(u64, u64)> {
    let bad = || {
        Error::input(format!(
            "invalid --shard-from-env '{spec}': want VAR/N, e.g. JOB_COMPLETION_INDEX/8"
        ))
    };
    let (var, n) = spec.split_once('/').ok_or_else(bad)?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || var.is_empty() {
        return Err(bad());
    }
    let v = get(var).ok_or_else(|| {
        Error::input(format!(
            "--shard-from-env: environment variable {var} is not set"
        ))
    })?;
    let k: u64 = v.trim().parse().map_err(|_| {
        Error::input(format!(
            "--shard-from-env: {var}='{v}' is not a shard index"
        ))
    })?;
    if k >= n {
        return Err(Error::input(format!(
            "--shard-from-env: {var}={k} is out of range for {n} shards (0-based)"
        )));
    }
    Ok((k, n))
}

/// The address set the arguments name: targets and target files (IPv4 and
/// IPv6 mixed), minus excludes and (unless turned off) reserved space. An
/// IPv6 target wider than 2^32 addresses needs `--allow-wide`.
pub fn resolve_targets(a: &ScanArgs) -> Result<Targets> {
    let mut spec = TargetSpec {
        default_excludes: !a.no_default_excludes,
        ..Default::default()
    };
    let mut any = false;
    for t in &a.targets {
        for tok in t.split(',').filter(|s| !s.trim().is_empty()) {
            let t = targets::parse_any(tok)?;
            targets::check_width(tok, t, a.allow_wide)?;
            spec.add(t, false);
            any = true;
        }
    }
    for f in &a.targets_file {
        targets::for_each_target_in_file(f, |tok, t| {
            targets::check_width(tok, t, a.allow_wide)?;
            spec.add(t, false);
            any = true;
            Ok(())
        })?;
    }
    if !any {
        return Err(Error::input(
            "no targets given (name addresses, blocks or ranges, or --targets-file FILE)",
        ));
    }
    for e in &a.exclude {
        for tok in e.split(',').filter(|s| !s.trim().is_empty()) {
            let t = targets::parse_any(tok).map_err(|e| Error::input(format!("--exclude: {e}")))?;
            spec.add(t, true);
        }
    }
    for f in &a.exclude_file {
        targets::for_each_target_in_file(f, |_, t| {
            spec.add(t, true);
            Ok(())
        })?;
    }
    let set = spec.into_targets();
    if set.is_empty() {
        return Err(Error::input(
            "no targets left to scan: every address is excluded or reserved",
        ));
    }
    if set.count_wide() >= 1u128 << 56 {
        return Err(Error::input(format!(
            "{} addresses are more than a scan can index (at most 2^56)",
            set.count_wide()
        )));
    }
    Ok(set)
}

/// Refuse output lists that cannot work: the same file (or stdout) named
/// twice would interleave two writers in one file, and a file in a directory
/// that does not exist would fail only after the scan has started.
fn check_outputs(outs: &[String]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for o in outs {
        let key = if o == "-" {
            std::path::PathBuf::from("-")
        } else {
            let p = std::path::Path::new(o);
            let parent = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => std::path::Path::new("."),
            };
            if !parent.is_dir() {
                return Err(Error::input(format!(
                    "output file {o}: directory {} does not exist",
                    parent.display()
                )));
            }
            if p.is_dir() {
                return Err(Error::input(format!("output file {o} is a directory")));
            }
            std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
        };
        if !seen.insert(key) {
            return Err(Error::input(format!(
                "output {o} is named twice (each -o needs a file of its own)"
            )));
        }
    }
    Ok(())
}

/// Build the scan configuration; `command_line` is recorded in reports.
pub fn scan_config(a: &ScanArgs, command_line: String) -> Result<ScanConfig> {
    let set = resolve_targets(a)?;
    let spec = match &a.ports {
        Some(p) => crate::ports::parse_port_spec(p)?,
        None => crate::ports::PortSpec {
            tcp: crate::risk::default_ports(),
            udp: Vec::new(),
        },
    };
    let (ports, udp_ports) = (spec.tcp, spec.udp);
    if set
        .count_wide()
        .saturating_mul((ports.len() + udp_ports.len()) as u128)
        >= 1u128 << 62
    {
        return Err(Error::input(format!(
            "{} addresses x {} ports are more probes than a scan can index (at most 2^62)",
            set.count_wide(),
            ports.len() + udp_ports.len()
        )));
    }
    let rate = Rate::parse(a.rate.as_deref().unwrap_or(DEFAULT_RATE))?;
    let wait = a.wait.unwrap_or(DEFAULT_WAIT);
    if !(wait.is_finite() && (0.0..=3600.0).contains(&wait)) {
        return Err(Error::input(format!(
            "invalid --wait {wait}: want seconds from 0 to 3600"
        )));
    }
    let ramp_retry = rate == Rate::Max && a.retries.is_none();
    let retries = a
        .retries
        .unwrap_or(if ramp_retry { RAMP_RETRIES } else { 0 });
    if retries > 100 {
        return Err(Error::input(format!(
            "invalid --retries {retries}: at most 100"
        )));
    }
    let senders = a.senders.unwrap_or(match rate {
        Rate::Max | Rate::Unlimited => 2,
        Rate::Pps(r) if r >= FAST_RATE => 2,
        Rate::Pps(_) => DEFAULT_SENDERS,
    });
    if !(1..=64).contains(&senders) {
        return Err(Error::input(format!(
            "invalid --senders {senders}: want 1 to 64"
        )));
    }
    let shard = match (&a.shard, &a.shard_from_env) {
        (Some(s), _) => Some(parse_shard(s)?),
        (None, Some(e)) => Some(shard_from_env(e, |v| std::env::var(v).ok())?),
        (None, None) => None,
    };
    if shard.is_some_and(|(_, n)| n > 1) && a.seed.is_none() {
        return Err(Error::input(
            "--shard needs --seed: every shard must walk the same order",
        ));
    }
    let (v4_sources, v6_sources) = match a.source_ip.as_deref() {
        Some(s) => parse_sources_mixed(s)?,
        None => (Vec::new(), Vec::new()),
    };
    let router_mac = a
        .router_mac
        .as_deref()
        .map(|s| {
            s.parse()
                .map_err(|e: String| Error::input(format!("invalid --router-mac: {e}")))
        })
        .transpose()?;
    if let Some(i) = &a.interface
        && crate::net::sys::if_index(i).is_err()
    {
        return Err(Error::input(format!("unknown interface '{i}'")));
    }
    let forced = a.format.as_deref().map(Format::parse).transpose()?;
    let outs = if a.output.is_empty() {
        vec!["-".to_string()]
    } else {
        a.output.clone()
    };
    check_outputs(&outs)?;
    let outputs = outs
        .iter()
        .map(|o| (o.clone(), forced.unwrap_or_else(|| Format::from_path(o))))
        .collect();
    if let Some(p) = &a.policy {
        if !p.is_file() {
            return Err(Error::input(format!(
                "policy file {} does not exist",
                p.display()
            )));
        }
        // Parse it now: a broken policy is bad input, found before any
        // socket opens (the scan loads it again).
        crate::risk::Policy::load(p)?;
    }
    let mut probes: Vec<&'static dyn Probe> = Vec::new();
    if !ports.is_empty() {
        probes.push(&crate::probe::tcp_syn::TcpSyn);
    }
    if !udp_ports.is_empty() {
        probes.push(&crate::probe::udp::Udp);
    }
    Ok(ScanConfig {
        targets: std::sync::Arc::new(set),
        target_text: a
            .targets
            .iter()
            .cloned()
            .chain(a.targets_file.iter().map(|f| format!("@{}", f.display())))
            .collect::<Vec<_>>()
            .join(" "),
        ports,
        udp_ports,
        rate,
        retries,
        ramp_retry,
        wait: Duration::from_secs_f64(wait),
        senders,
        tx_backend: a
            .tx_backend
            .as_deref()
            .map_or(Ok(TxBackend::Auto), TxBackend::parse)?,
        keep_root: a.keep_root,
        seed: a.seed.unwrap_or_else(rand::random),
        shard: shard.unwrap_or((0, 1)),
        overrides: Overrides {
            iface: a.interface.clone(),
            sources: v4_sources
                .into_iter()
                .map(IpAddr::V4)
                .chain(v6_sources.into_iter().map(IpAddr::V6))
                .collect(),
            router_mac,
        },
        show_closed: a.show_closed,
        outputs,
        policy: a.policy.clone(),
        dry_run: a.dry_run,
        probes,
        quiet: a.quiet,
        command_line,
        paused_path: std::env::current_dir()
            .map(|d| d.join("paused.json"))
            .unwrap_or_else(|_| std::path::PathBuf::from("paused.json")),
        args: a.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(targets: &[&str]) -> ScanArgs {
        ScanArgs {
            targets: targets.iter().map(|s| s.to_string()).collect(),
            rate: Some("1000".into()),
            wait: Some(1.0),
            ..Default::default()
        }
    }

    #[test]
    fn tx_backends() {
        assert_eq!(TxBackend::parse("auto").unwrap(), TxBackend::Auto);
        assert_eq!(TxBackend::parse("xdp").unwrap(), TxBackend::Xdp);
        assert_eq!(TxBackend::parse("packet").unwrap(), TxBackend::Packet);
        for bad in ["", "XDP", "af_xdp", "pcap"] {
            let e = TxBackend::parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.to_string().contains("--tx-backend"), "{e}");
        }
    }

    #[test]
    fn shards() {
        assert_eq!(parse_shard("1/3").unwrap(), (0, 3));
        assert_eq!(parse_shard("3/3").unwrap(), (2, 3));
        for bad in ["0/3", "4/3", "1/0", "x/2", "2"] {
            assert_eq!(parse_shard(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
        let env = |v: &str| (v == "JOB_COMPLETION_INDEX").then(|| "2".to_string());
        assert_eq!(
            shard_from_env("JOB_COMPLETION_INDEX/3", env).unwrap(),
            (2, 3)
        );
        assert!(shard_from_env("JOB_COMPLETION_INDEX/2", env).is_err());
        assert!(
            shard_from_env("SLURM_ARRAY_TASK_ID/4", env)
                .unwrap_err()
                .to_string()
                .contains("not set")
        );
    }

    #[test]
    fn bad_inputs_are_exit_2() {
        let cases: Vec<ScanArgs> = vec![
            args(&["198.19.0.0/33"]),
            args(&[]),
            ScanArgs {
                ports: Some("70000".into()),
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                ports: Some("90-80".into()),
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                rate: Some("fast".into()),
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                interface: Some("nosuchif9".into()),
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                targets_file: vec!["/nonexistent/targets.txt".into()],
                ..args(&[])
            },
            ScanArgs {
                shard: Some("2/3".into()),
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                exclude: vec!["198.19.0.1".into()],
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                format: Some("pdf".into()),
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                router_mac: Some("zz".into()),
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                source_ip: Some("1.2.3".into()),
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                source_ip: Some("198.18.0.0/23".into()),
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                source_ip: Some("198.18.0.9-198.18.0.1".into()),
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                wait: Some(-1.0),
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                output: vec!["a.ndjson".into(), "./a.ndjson".into()],
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                output: vec!["-".into(), "-".into()],
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                output: vec!["/nonexistent-dir/a.ndjson".into()],
                ..args(&["198.19.0.1"])
            },
            ScanArgs {
                output: vec!["/".into()],
                ..args(&["198.19.0.1"])
            },
        ];
        for a in cases {
            let e = scan_config(&a, String::new()).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{a:?}: {e}");
            assert!(!e.to_string().contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn source_lists() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(parse_sources("198.18.0.1").unwrap(), vec![ip("198.18.0.1")]);
        assert_eq!(
            parse_sources("198.18.0.1-198.18.0.2,198.18.0.9").unwrap(),
            vec![ip("198.18.0.1"), ip("198.18.0.2"), ip("198.18.0.9")]
        );
        assert_eq!(parse_sources("198.18.0.0/30").unwrap().len(), 4);
        let (v4, v6) = parse_sources_mixed("198.18.0.1,2001:2:0:2::1-2001:2:0:2::3").unwrap();
        assert_eq!(v4, vec![ip("198.18.0.1")]);
        assert_eq!(v6.len(), 3);
        assert_eq!(v6[2].to_string(), "2001:2:0:2::3");
        assert_eq!(parse_sources_mixed("2001:2::/126").unwrap().1.len(), 4);
        for bad in ["2001:2::/100", "fe80::1%eth0", "2001:2::x", ","] {
            assert_eq!(
                parse_sources_mixed(bad).unwrap_err().exit_code(),
                2,
                "{bad}"
            );
        }
    }

    #[test]
    fn rate_parsing() {
        assert_eq!(Rate::parse("50000").unwrap(), Rate::Pps(50000.0));
        assert_eq!(Rate::parse("100k").unwrap(), Rate::Pps(100_000.0));
        assert_eq!(Rate::parse("1.5M").unwrap(), Rate::Pps(1_500_000.0));
        assert_eq!(Rate::parse("max").unwrap(), Rate::Max);
        assert_eq!(Rate::parse("unlimited").unwrap(), Rate::Unlimited);
        for bad in ["fast", "0", "-5", "1e400", ""] {
            assert_eq!(Rate::parse(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn good_config() {
        let c = scan_config(
            &ScanArgs {
                ports: Some("22,80".into()),
                seed: Some(5),
                ..args(&["198.19.0.0/24"])
            },
            "x".into(),
        )
        .unwrap();
        assert_eq!(c.targets.count(), 256);
        assert_eq!(c.ports, vec![22, 80]);
        assert_eq!(c.seed, 5);
        assert_eq!(c.outputs, vec![("-".to_string(), Format::Ndjson)]);
    }

    #[test]
    fn ipv6_targets_mix_with_ipv4_and_bad_ones_are_exit_2() {
        let c = scan_config(
            &args(&["198.19.0.0/24,2001:2:0:1::/120", "2001:2:0:1::1:0/127"]),
            String::new(),
        )
        .unwrap();
        assert_eq!((c.targets.v4.count(), c.targets.v6.count()), (256, 258));
        let excluded = ScanArgs {
            exclude: vec!["2001:2:0:1::/121".into()],
            ..args(&["2001:2:0:1::/120"])
        };
        assert_eq!(
            scan_config(&excluded, String::new())
                .unwrap()
                .targets
                .v6
                .count(),
            128
        );
        for bad in [
            "2001:2::/129",
            "2001:2::/x",
            "fe80::1%eth0",
            "2001:2::/64",
            "2001:2::1-198.19.0.1",
        ] {
            let e = scan_config(&args(&[bad]), String::new()).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        let wide = ScanArgs {
            allow_wide: true,
            ports: Some("80".into()),
            ..args(&["2001:2::/80"])
        };
        assert_eq!(
            scan_config(&wide, String::new())
                .unwrap()
                .targets
                .v6
                .count(),
            1 << 48
        );
        let too_wide = ScanArgs {
            allow_wide: true,
            ..args(&["2001:2::/64"])
        };
        assert_eq!(
            scan_config(&too_wide, String::new())
                .unwrap_err()
                .exit_code(),
            2
        );
    }
}
