//! Pause and resume. On SIGINT or SIGTERM a scan stops sending, waits for late
//! replies, flushes its findings and writes `paused.json`: every option that
//! shapes the scan, the secret and source ports, and for each sender thread
//! exactly how far it got (every position before it was handed to the
//! kernel). `synsweep scan --resume paused.json` continues from there with no
//! pair skipped and none probed twice, appending to the same findings files.

use crate::cli::ScanArgs;
use crate::config;
use crate::config::ScanConfig;
use crate::engine::answered::Answered;
use crate::error::{Error, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Format version of the file.
pub const VERSION: u32 = 2;

/// Everything needed to continue a scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PausedScan {
    pub version: u32,
    /// The scan's options as given (targets, ports, seed, shard, outputs, ...).
    pub args: ScanArgs,
    /// Size of the whole (address x port) space, as a consistency check.
    pub space: u64,
    pub seed: u64,
    /// Shard (0-based) and shard count.
    pub shard: (u64, u64),
    /// Cookie secret and first source port, so that late replies to the
    /// first run still validate.
    pub key: (u64, u64),
    pub sport_base: u16,
    /// Retry round in progress (0 = first pass).
    pub round: u32,
    /// Per sender thread: the next position of its slice to send.
    pub next: Vec<u64>,
    /// Probes handed to the kernel so far, over all runs.
    pub sent: u64,
    /// Every pair and host that answered (open or closed): the answered set
    /// ([`Answered::to_bytes`]) in base64.
    pub answered: String,
    /// Length of each streaming output file (path, bytes) when this state
    /// was saved: a resume first cuts each file back to it, so findings
    /// written after a checkpoint (and found again after it) are not
    /// written twice.
    #[serde(default)]
    pub outputs: Vec<(String, u64)>,
    /// Findings written so far, over all runs.
    #[serde(default)]
    pub found: u64,
    /// Written by a periodic checkpoint of a running scan (not a pause).
    #[serde(default)]
    pub checkpoint: bool,
    /// `--rate max`: per sender, the ranges of first-pass positions sent
    /// while replies were being lost, which the retry round probes again.
    #[serde(default)]
    pub lossy: Vec<Vec<(u64, u64)>>,
    /// Open TCP ports whose SYN-ACK had validated and whose record was not
    /// yet written (identification held them): a resume reports them open
    /// at once. (Address, port, the SYN-ACK's TTL.)
    #[serde(default)]
    pub held: Vec<(std::net::IpAddr, u16, u8)>,
}

impl PausedScan {
    /// The lossy ranges of `--rate max`'s first pass, as saved.
    pub fn encode_lossy(lossy: &[Vec<std::ops::Range<u64>>]) -> Vec<Vec<(u64, u64)>> {
        lossy
            .iter()
            .map(|v| v.iter().map(|r| (r.start, r.end)).collect())
            .collect()
    }

    /// The lossy ranges back as ranges of positions.
    pub fn lossy_ranges(&self) -> Vec<Vec<std::ops::Range<u64>>> {
        self.lossy
            .iter()
            .map(|v| v.iter().map(|&(a, b)| a..b).collect())
            .collect()
    }

    pub fn load(path: &Path) -> Result<PausedScan> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::input(format!("cannot read resume file {}: {e}", path.display()))
        })?;
        let p: PausedScan = serde_json::from_str(&text).map_err(|e| {
            Error::input(format!(
                "resume file {} is not a synsweep paused.json: {e}",
                path.display()
            ))
        })?;
        if p.version != VERSION {
            return Err(Error::input(format!(
                "resume file {} has version {}, this synsweep reads {VERSION}",
                path.display(),
                p.version
            )));
        }
        Ok(p)
    }

    /// Write atomically (temporary file, then rename).
    /// Streamed through a buffer, so a large file never sits in memory whole.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let tmp = path.with_extension("json.tmp");
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        serde_json::to_writer_pretty(&mut w, self).map_err(std::io::Error::other)?;
        w.flush()?;
        drop(w);
        std::fs::rename(tmp, path)
    }

    /// The arguments of the resumed run: the file's, with `--rate`, `--wait`,
    /// `--tx-backend` and `-q` taken from the command line when given there.
    pub fn merge_args(&self, given: &ScanArgs) -> ScanArgs {
        let mut a = self.args.clone();
        a.seed = Some(self.seed);
        a.shard = Some(format!("{}/{}", self.shard.0 + 1, self.shard.1));
        a.shard_from_env = None;
        a.rate = given.rate.clone().or(a.rate);
        a.wait = given.wait.or(a.wait);
        a.quiet |= given.quiet;
        a.keep_root |= given.keep_root;
        a.tx_backend = given.tx_backend.clone().or(a.tx_backend);
        a.dry_run |= given.dry_run;
        a.resume = given.resume.clone();
        a
    }

    /// Cut each streaming output back to its saved length (see
    /// [`outputs`](Self::outputs)).
    pub fn truncate_outputs(&self) -> Result<()> {
        for (path, len) in &self.outputs {
            let f = match std::fs::OpenOptions::new().write(true).open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::runtime(format!("cannot open {path}: {e}"))),
            };
            let now = f.metadata().map(|m| m.len()).unwrap_or(0);
            if now > *len {
                f.set_len(*len)
                    .map_err(|e| Error::runtime(format!("cannot cut {path} back: {e}")))?;
            }
        }
        Ok(())
    }

    /// Encode the answered set for the file.
    pub fn encode_answered(a: &Answered) -> String {
        base64::engine::general_purpose::STANDARD.encode(a.to_bytes())
    }

    /// The answered set saved in the file.
    pub fn answered(&self) -> Result<Answered> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.answered)
            .ok()
            .and_then(|b| Answered::from_bytes(&b).ok())
            .ok_or_else(|| Error::input("the resume file's answered set is damaged"))
    }

    /// Refuse a resume file that does not describe the scan the command line
    /// names: targets, ports, seed and shard given there must match the file.
    pub fn check_given(&self, given: &ScanArgs) -> Result<()> {
        check_same_scan("the resume file", &self.args, self.seed, self.shard, given)
    }
    /// Check the file against the configuration built from it.
    pub fn check_config(&self, cfg: &ScanConfig) -> Result<()> {
        let space = cfg.targets.count() * cfg.ports.len() as u64;
        if space != self.space {
            return Err(Error::input(
                "the resume file does not match its own targets and ports (was it edited?)",
            ));
        }
        if self.next.is_empty() || self.next.len() != cfg.senders {
            return Err(Error::input(
                "the resume file's sender positions do not match its sender count",
            ));
        }
        Ok(())
    }
}

/// `p` made absolute (as it stands if that fails).
fn abs(p: &Path) -> std::path::PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// An output file made absolute (`-`, standard output, as it is).
fn abs_output(o: &String) -> String {
    if o == "-" {
        o.clone()
    } else {
        abs(Path::new(o)).display().to_string()
    }
}

/// The arguments as a saved state (paused.json, a checkpoint, done.json)
/// records them: every file path made absolute, so that a resume works
/// from any directory, and no `--resume`.
pub fn absolute_paths(a: &ScanArgs) -> ScanArgs {
    let mut a = a.clone();
    a.targets_file = a.targets_file.iter().map(|p| abs(p)).collect();
    a.exclude_file = a.exclude_file.iter().map(|p| abs(p)).collect();
    a.policy = a.policy.as_deref().map(abs);
    a.baseline = a.baseline.as_deref().map(abs);
    a.state_dir = a.state_dir.as_deref().map(abs);
    a.output = a.output.iter().map(abs_output).collect();
    a.resume = None;
    a
}

/// Refuse a saved scan (`what`: "the resume file", a done.json) that does
/// not describe the scan the command line names: targets, ports, seed, shard
/// and every other option given there that shapes the scan must match.
pub fn check_same_scan(
    what: &str,
    saved_args: &ScanArgs,
    seed: u64,
    shard: (u64, u64),
    given: &ScanArgs,
) -> Result<()> {
    let mismatch = |differs: &str| {
        Error::input(format!(
            "{what} is for a different scan: {differs} differ from the command line"
        ))
    };
    if (!given.targets.is_empty() || !given.targets_file.is_empty())
        && config::resolve_targets(given)? != config::resolve_targets(saved_args)?
    {
        return Err(mismatch("targets"));
    }
    if let Some(p) = &given.ports {
        let saved = match &saved_args.ports {
            Some(s) => crate::ports::parse_port_spec(s)?,
            None => crate::ports::PortSpec {
                tcp: crate::risk::default_ports(),
                udp: Vec::new(),
            },
        };
        if crate::ports::parse_port_spec(p)? != saved {
            return Err(mismatch("ports"));
        }
    }
    if given.seed.is_some_and(|s| s != seed) {
        return Err(mismatch("seeds"));
    }
    if let Some(s) = &given.shard
        && config::parse_shard(s)? != shard
    {
        return Err(mismatch("shards"));
    }
    if let Some(e) = &given.shard_from_env
        && config::shard_from_env(e, |v| std::env::var(v).ok())? != shard
    {
        return Err(mismatch("shards"));
    }
    // Every other option that shapes the scan or where its findings go
    // comes from the file. Given again, it must say the same: a new
    // --exclude silently ignored would probe what the user excluded.
    let saved = saved_args;
    let abs_all = |v: &[std::path::PathBuf]| v.iter().map(|p| abs(p)).collect::<Vec<_>>();
    let checks: [(&str, bool); 12] = [
        (
            "excludes",
            !given.exclude.is_empty() && given.exclude != saved.exclude,
        ),
        (
            "exclude files",
            !given.exclude_file.is_empty()
                && abs_all(&given.exclude_file) != abs_all(&saved.exclude_file),
        ),
        (
            "reserved-range settings (--no-default-excludes)",
            given.no_default_excludes && !saved.no_default_excludes,
        ),
        (
            "retries",
            given
                .retries
                .is_some_and(|r| r != saved.retries.unwrap_or(0)),
        ),
        (
            "sender counts",
            given
                .senders
                .is_some_and(|n| n != saved.senders.unwrap_or(config::DEFAULT_SENDERS)),
        ),
        (
            "--show-closed settings",
            given.show_closed && !saved.show_closed,
        ),
        (
            "outputs",
            !given.output.is_empty()
                && given.output.iter().map(abs_output).collect::<Vec<_>>()
                    != saved.output.iter().map(abs_output).collect::<Vec<_>>(),
        ),
        (
            "output formats",
            given.format.is_some() && given.format != saved.format,
        ),
        (
            "policy files",
            given.policy.is_some()
                && given.policy.as_deref().map(abs) != saved.policy.as_deref().map(abs),
        ),
        (
            "interfaces",
            given.interface.is_some() && given.interface != saved.interface,
        ),
        (
            "source addresses",
            given.source_ip.is_some() && given.source_ip != saved.source_ip,
        ),
        (
            "router MACs",
            given.router_mac.is_some() && given.router_mac != saved.router_mac,
        ),
    ];
    if let Some((what, _)) = checks.iter().find(|(_, differs)| *differs) {
        return Err(mismatch(what));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossy_ranges_survive_a_save_and_a_load() {
        let lossy = vec![vec![10..40, 50..60], vec![], vec![110..140]];
        let saved = PausedScan::encode_lossy(&lossy);
        let json = serde_json::to_string(&saved).unwrap();
        assert_eq!(json, "[[[10,40],[50,60]],[],[[110,140]]]");
        let back: Vec<Vec<(u64, u64)>> = serde_json::from_str(&json).unwrap();
        let p = PausedScan {
            lossy: back,
            ..serde_json::from_str::<PausedScan>(&minimal()).unwrap()
        };
        assert_eq!(p.lossy_ranges(), lossy);
        // A paused.json written before the field existed reads as none.
        let old = serde_json::from_str::<PausedScan>(&minimal()).unwrap();
        assert!(old.lossy_ranges().is_empty());
    }

    /// A paused.json with only the fields every version has.
    fn minimal() -> String {
        let args = serde_json::to_value(ScanArgs::default()).unwrap();
        serde_json::json!({
            "version": VERSION, "args": args, "space": 6, "seed": 1, "shard": [0, 1],
            "key": [1, 2], "sport_base": 61000, "round": 1, "next": [0],
            "sent": 6, "answered": ""
        })
        .to_string()
    }
}
