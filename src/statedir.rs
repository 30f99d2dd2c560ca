//! `--state-dir DIR`: one command line for every run of a scan (or of one
//! shard), as a scheduler reruns it. In DIR:
//!
//! - `done.json` (written when the scan finished) → do nothing, say so, exit 0;
//!   a `done.json` of a different scan (targets, ports, seed, shard, ...) is
//!   refused (exit 2);
//! - else `paused.json` (written when a signal stopped it) → resume it, with
//!   the same checks as `--resume`;
//! - else → start the scan; if it is stopped, its paused state goes to
//!   `DIR/paused.json`.
//!
//! So a Slurm task or a Kubernetes pod that is resubmitted or retried resumes
//! its shard, and a finished shard is never probed again.

use crate::cli::ScanArgs;
use crate::config::ScanConfig;
use crate::error::{Error, Result};
use crate::resume::PausedScan;
use crate::run::status::Summary;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Format version of done.json.
pub const DONE_VERSION: u32 = 1;
/// The completion record's file name in the state directory.
pub const DONE_FILE: &str = "done.json";
/// The paused state's file name in the state directory.
pub const PAUSED_FILE: &str = "paused.json";

/// The record of a finished scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Done {
    pub version: u32,
    /// The scan's options (targets, ports, seed, shard, outputs, ...), file
    /// paths absolute.
    pub args: ScanArgs,
    pub seed: u64,
    /// Shard (0-based) and shard count.
    pub shard: (u64, u64),
    /// Size of the whole (address x port) space.
    pub space: u64,
    /// Probes handed to the kernel, over every run of the scan (resumes
    /// included).
    pub probes: u64,
    /// Findings written, over every run of the scan.
    pub findings: u64,
    /// When it finished (RFC 3339, UTC).
    pub finished: String,
}

impl Done {
    pub fn load(path: &Path) -> Result<Done> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
        let d: Done = serde_json::from_str(&text).map_err(|e| {
            Error::input(format!(
                "{} is not a synsweep done.json: {e}",
                path.display()
            ))
        })?;
        if d.version != DONE_VERSION {
            return Err(Error::input(format!(
                "{} has version {}, this synsweep reads {DONE_VERSION}",
                path.display(),
                d.version
            )));
        }
        Ok(d)
    }

    /// The line printed when a finished scan is run again.
    pub fn line(&self, path: &Path) -> String {
        format!(
            "synsweep: already finished (shard {}/{}, {} probes, {} findings, at {}); nothing to do ({})",
            self.shard.0 + 1,
            self.shard.1,
            self.probes,
            self.findings,
            self.finished,
            path.display()
        )
    }
}

/// What a run with `--state-dir` does.
#[derive(Debug)]
pub enum Plan {
    /// The scan finished earlier: nothing to do.
    Finished(Box<Done>, PathBuf),
    /// Resume: the arguments to run with (as `--resume` builds them) and
    /// the paused state.
    Resume(Box<ScanArgs>, Box<PausedScan>),
    /// Start the scan.
    Start(Box<ScanArgs>),
}

/// Decide what to do for `given` (whose `state_dir` is set), creating the
/// directory if needed.
pub fn plan(given: &ScanArgs) -> Result<Plan> {
    let dir = given
        .state_dir
        .as_deref()
        .ok_or_else(|| Error::input("no --state-dir given"))?;
    if dir.exists() && !dir.is_dir() {
        return Err(Error::input(format!(
            "--state-dir {} is not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::runtime(format!(
            "cannot create state directory {}: {e}",
            dir.display()
        ))
    })?;
    let done = dir.join(DONE_FILE);
    if done.exists() {
        let d = Done::load(&done)?;
        crate::resume::check_same_scan(
            &done.display().to_string(),
            &d.args,
            d.seed,
            d.shard,
            given,
        )?;
        return Ok(Plan::Finished(Box::new(d), done));
    }
    let paused = dir.join(PAUSED_FILE);
    if paused.exists() {
        let st = PausedScan::load(&paused)?;
        st.check_given(given)?;
        let with_resume = ScanArgs {
            resume: Some(paused),
            ..given.clone()
        };
        let mut args = st.merge_args(&with_resume);
        args.state_dir = given.state_dir.clone();
        return Ok(Plan::Resume(Box::new(args), Box::new(st)));
    }
    Ok(Plan::Start(Box::new(given.clone())))
}

/// Where the paused state goes for a scan with a state directory.
pub fn paused_path(dir: &Path) -> PathBuf {
    std::path::absolute(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .join(PAUSED_FILE)
}

/// Write `DIR/done.json` for a scan that ran to its end. `before` is the
/// probes and findings of the runs it resumed (0, 0 for a fresh scan).
pub fn record_done(
    dir: &Path,
    cfg: &ScanConfig,
    summary: &Summary,
    before: (u64, u64),
) -> Result<PathBuf> {
    let args = crate::resume::absolute_paths(&cfg.args);
    let findings_now = summary.open + if cfg.show_closed { summary.closed } else { 0 };
    let done = Done {
        version: DONE_VERSION,
        args,
        seed: cfg.seed,
        shard: cfg.shard,
        space: summary.space,
        probes: summary.sent + before.0,
        findings: findings_now + before.1,
        finished: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    };
    let path = dir.join(DONE_FILE);
    let tmp = dir.join("done.json.tmp");
    let text = serde_json::to_string_pretty(&done)
        .map_err(|e| Error::runtime(format!("cannot encode done.json: {e}")))?;
    std::fs::write(&tmp, text + "\n")
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::runtime(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &Path, targets: &[&str], seed: u64, shard: &str) -> ScanArgs {
        ScanArgs {
            targets: targets.iter().map(|s| s.to_string()).collect(),
            ports: Some("22,80".into()),
            seed: Some(seed),
            shard: Some(shard.into()),
            state_dir: Some(dir.to_path_buf()),
            ..ScanArgs::default()
        }
    }

    fn write_done(dir: &Path, a: &ScanArgs) {
        let cfg = crate::config::scan_config(a, String::new()).unwrap();
        let summary = Summary {
            space: 512,
            sent: 100,
            open: 3,
            closed: 97,
            ..Summary::default()
        };
        record_done(dir, &cfg, &summary, (0, 0)).unwrap();
    }

    #[test]
    fn a_new_directory_starts_the_scan_and_is_created() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state/shard-0");
        let a = args(&dir, &["198.51.100.0/24"], 7, "1/2");
        assert!(matches!(plan(&a).unwrap(), Plan::Start(_)));
        assert!(dir.is_dir());
    }

    #[test]
    fn done_json_of_the_same_scan_means_nothing_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        let a = args(tmp.path(), &["198.51.100.0/24"], 7, "1/2");
        write_done(tmp.path(), &a);
        match plan(&a).unwrap() {
            Plan::Finished(d, path) => {
                assert_eq!((d.probes, d.findings, d.seed, d.shard), (100, 3, 7, (0, 2)));
                assert_eq!(path, tmp.path().join(DONE_FILE));
                let line = d.line(&path);
                assert!(line.contains("already finished (shard 1/2, 100 probes, 3 findings"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn done_json_of_another_scan_is_refused_as_bad_input() {
        let tmp = tempfile::tempdir().unwrap();
        let a = args(tmp.path(), &["198.51.100.0/24"], 7, "1/2");
        write_done(tmp.path(), &a);
        let others = [
            (args(tmp.path(), &["198.51.101.0/24"], 7, "1/2"), "targets"),
            (args(tmp.path(), &["198.51.100.0/24"], 8, "1/2"), "seeds"),
            (args(tmp.path(), &["198.51.100.0/24"], 7, "2/2"), "shards"),
            (
                ScanArgs {
                    ports: Some("443".into()),
                    ..a.clone()
                },
                "ports",
            ),
        ];
        for (b, what) in others {
            let e = plan(&b).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
            let msg = e.to_string();
            assert!(
                msg.contains("done.json is for a different scan") && msg.contains(what),
                "{msg}"
            );
            assert!(!msg.contains('\n'));
        }
    }

    #[test]
    fn a_broken_done_json_is_bad_input() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(DONE_FILE), "{\"version\": 1").unwrap();
        let a = args(tmp.path(), &["198.51.100.0/24"], 7, "1/2");
        assert_eq!(plan(&a).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn a_file_in_place_of_the_directory_is_bad_input() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("file");
        std::fs::write(&f, "").unwrap();
        let a = args(&f, &["198.51.100.0/24"], 7, "1/2");
        assert_eq!(plan(&a).unwrap_err().exit_code(), 2);
    }
}
