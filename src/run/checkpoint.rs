//! The state of a running scan, saved every [`CHECKPOINT_EVERY`] to
//! paused.json so that a crash costs little sending: what a checkpoint
//! holds, taken under the collector's lock, and the file paths and output
//! lengths a saved state (a checkpoint or a pause) records.

use super::{collect, respond};
use crate::cli::ScanArgs;
use crate::config::ScanConfig;
use crate::engine::cookie::CookieKey;
use crate::engine::core::Position;
use crate::engine::positions;
use crate::output;
use crate::resume::PausedScan;
use std::sync::Mutex;
use std::time::Duration;

/// How often a running scan saves its state (paused.json), so that after a
/// crash or SIGKILL `--resume` repeats at most about this much sending.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// How long after a probe is sent its reply is expected: a checkpoint's
/// sender positions are those of this long before the replies it has
/// collected, so no probe before them can still have an answer in flight.
pub const REPLY_ALLOWANCE: Duration = Duration::from_millis(250);

/// What a checkpoint is taken from.
pub struct CheckpointInput<'a> {
    pub cfg: &'a ScanConfig,
    pub collected: &'a Mutex<collect::Collected>,
    pub samples: &'a positions::History,
    pub space: u64,
    pub key: CookieKey,
    pub sport_base: u16,
    pub sent: u64,
    pub found: u64,
    pub lossy: &'a [Vec<std::ops::Range<u64>>],
    pub ident: Option<&'a respond::Shared>,
}

/// The state of a running scan, consistent as of a moment when every
/// probe before the saved positions has had its reply collected: with the
/// collector held, take the answered set, the output lengths and the open
/// ports identification holds (collected, not yet written), and the sender
/// positions of [`REPLY_ALLOWANCE`] before what it has collected.
pub fn take(i: CheckpointInput<'_>) -> PausedScan {
    let (answered, outputs, until, held) = {
        let st = i.collected.lock().unwrap();
        (
            PausedScan::encode_answered(st.corr.answered()),
            output_lengths(i.cfg),
            st.until,
            i.ident.map(respond::Shared::held_ports).unwrap_or_default(),
        )
    };
    // (Never empty while sending: each round starts with its first sample.)
    let at = i
        .samples
        .checkpoint_at(until, REPLY_ALLOWANCE, i.cfg.senders);
    state(
        Scan::of(i.cfg, i.space, i.key, i.sport_base),
        Reached {
            at,
            sent: i.sent,
            answered,
            outputs,
            found: i.found,
            lossy: PausedScan::encode_lossy(i.lossy),
            held,
        },
        true,
    )
}

/// What every saved state records of the scan itself.
#[derive(Debug, Clone, Copy)]
pub struct Scan<'a> {
    pub args: &'a ScanArgs,
    pub senders: usize,
    pub seed: u64,
    pub shard: (u64, u64),
    /// The space's size.
    pub space: u64,
    pub key: CookieKey,
    pub sport_base: u16,
}

impl<'a> Scan<'a> {
    /// The scan of `cfg`, over a space of `space` probes.
    pub fn of(cfg: &'a ScanConfig, space: u64, key: CookieKey, sport_base: u16) -> Scan<'a> {
        Scan {
            args: &cfg.args,
            senders: cfg.senders,
            seed: cfg.seed,
            shard: cfg.shard,
            space,
            key,
            sport_base,
        }
    }
}

/// How far a scan got, as a saved state records it.
#[derive(Debug)]
pub struct Reached {
    /// The round and each sender's position in it.
    pub at: Position,
    /// Probes sent, with the runs before.
    pub sent: u64,
    /// The answered set, encoded.
    pub answered: String,
    pub outputs: Vec<(String, u64)>,
    pub found: u64,
    /// The lossy stretches, encoded.
    pub lossy: Vec<Vec<(u64, u64)>>,
    /// Open ports identification holds.
    pub held: Vec<(std::net::IpAddr, u16, u8)>,
}

/// The state to save: a running scan's checkpoint (`checkpoint`), or the
/// state of a paused one. The sender count is pinned: its default depends
/// on the rate, which a resume may change, and positions are per sender.
pub fn state(scan: Scan<'_>, r: Reached, checkpoint: bool) -> PausedScan {
    PausedScan {
        version: crate::resume::VERSION,
        args: ScanArgs {
            senders: Some(scan.senders),
            ..crate::resume::absolute_paths(scan.args)
        },
        space: scan.space,
        seed: scan.seed,
        shard: scan.shard,
        key: (scan.key.k0, scan.key.k1),
        sport_base: scan.sport_base,
        round: r.at.round,
        next: r.at.next,
        sent: r.sent,
        answered: r.answered,
        outputs: r.outputs,
        found: r.found,
        checkpoint,
        lossy: r.lossy,
        held: r.held,
    }
}

/// Bytes in each file findings are streamed to now: streaming outputs, and
/// the spill file of each document.
pub fn output_lengths(cfg: &ScanConfig) -> Vec<(String, u64)> {
    cfg.outputs
        .iter()
        .filter(|(p, _)| p != "-")
        .filter_map(|(p, f)| {
            let file = if f.streams() {
                std::path::PathBuf::from(p)
            } else {
                output::spill_path(p)
            };
            let abs = std::path::absolute(file).ok()?;
            let len = std::fs::metadata(&abs).ok()?.len();
            Some((abs.display().to_string(), len))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scan(args: &ScanArgs) -> Scan<'_> {
        Scan {
            args,
            senders: 3,
            seed: 7,
            shard: (1, 4),
            space: 100,
            key: CookieKey { k0: 1, k1: 2 },
            sport_base: 61000,
        }
    }

    fn reached() -> Reached {
        Reached {
            at: Position {
                round: 1,
                next: vec![5, 6, 7],
            },
            sent: 9,
            answered: "abc".into(),
            outputs: vec![("/o.jsonl".into(), 42)],
            found: 2,
            lossy: vec![vec![(0, 4)]],
            held: vec![("198.18.0.2".parse().unwrap(), 22, 64)],
        }
    }

    #[test]
    fn a_saved_state_pins_the_senders_and_makes_paths_absolute() {
        let args = ScanArgs {
            targets_file: vec!["t.txt".into()],
            exclude_file: vec!["x.txt".into()],
            policy: Some("p.toml".into()),
            baseline: Some("b.jsonl".into()),
            state_dir: Some("state".into()),
            output: vec!["-".into(), "o.jsonl".into()],
            resume: Some("paused.json".into()),
            ..Default::default()
        };
        let s = state(scan(&args), reached(), true);
        assert_eq!(s.args.senders, Some(3));
        assert!(s.args.targets_file[0].is_absolute());
        assert!(s.args.targets_file[0].ends_with("t.txt"));
        assert!(s.args.exclude_file[0].is_absolute());
        assert!(s.args.policy.as_deref().is_some_and(Path::is_absolute));
        assert!(s.args.baseline.as_deref().is_some_and(Path::is_absolute));
        assert!(s.args.state_dir.as_deref().is_some_and(Path::is_absolute));
        // Standard output stays standard output.
        assert_eq!(s.args.output[0], "-");
        assert!(Path::new(&s.args.output[1]).is_absolute());
        // A resume of it names its own file.
        assert_eq!(s.args.resume, None);
    }

    #[test]
    fn a_saved_state_carries_the_key_positions_and_counts() {
        let args = ScanArgs::default();
        let s = state(scan(&args), reached(), false);
        assert_eq!(s.version, crate::resume::VERSION);
        assert_eq!((s.key, s.sport_base), ((1, 2), 61000));
        assert_eq!((s.seed, s.shard, s.space), (7, (1, 4), 100));
        assert_eq!((s.round, s.next.clone()), (1, vec![5, 6, 7]));
        assert_eq!((s.sent, s.found, s.answered.as_str()), (9, 2, "abc"));
        assert_eq!(s.outputs, vec![("/o.jsonl".to_string(), 42)]);
        assert_eq!(s.lossy, vec![vec![(0, 4)]]);
        assert_eq!(s.held.len(), 1);
        assert!(!s.checkpoint);
        assert!(state(scan(&args), reached(), true).checkpoint);
    }
}
