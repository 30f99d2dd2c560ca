//! The state of a running scan, saved every [`CHECKPOINT_EVERY`] to
//! paused.json so that a crash costs little sending: what a checkpoint
//! holds, taken under the collector's lock, and the file paths and output
//! lengths a saved state (a checkpoint or a pause) records.

use super::{collect, positions, respond};
use crate::cli::ScanArgs;
use crate::config::ScanConfig;
use crate::engine::cookie::CookieKey;
use crate::engine::core::Position;
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
    let Position { round, next } =
        i.samples
            .safe(until, REPLY_ALLOWANCE)
            .cloned()
            .unwrap_or(Position {
                round: 0,
                next: vec![0; i.cfg.senders],
            });
    PausedScan {
        version: crate::resume::VERSION,
        args: ScanArgs {
            senders: Some(i.cfg.senders),
            ..absolute_paths(&i.cfg.args)
        },
        space: i.space,
        seed: i.cfg.seed,
        shard: i.cfg.shard,
        key: (i.key.k0, i.key.k1),
        sport_base: i.sport_base,
        round,
        next,
        sent: i.sent,
        answered,
        outputs,
        found: i.found,
        checkpoint: true,
        lossy: PausedScan::encode_lossy(i.lossy),
        held,
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

/// The arguments with every file path made absolute, so a resume works from
/// any directory.
pub fn absolute_paths(a: &ScanArgs) -> ScanArgs {
    let abs = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut a = a.clone();
    a.targets_file = a.targets_file.iter().map(|p| abs(p)).collect();
    a.exclude_file = a.exclude_file.iter().map(|p| abs(p)).collect();
    a.policy = a.policy.as_deref().map(abs);
    a.baseline = a.baseline.as_deref().map(abs);
    a.output = a
        .output
        .iter()
        .map(|o| {
            if o == "-" {
                o.clone()
            } else {
                abs(std::path::Path::new(o)).display().to_string()
            }
        })
        .collect();
    a.resume = None;
    a
}
