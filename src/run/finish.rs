//! A scan's end, once its threads are joined: the documents finished (or
//! left to a resume), errors reported, the paused state saved or the spent
//! one removed, and the summary.

use super::checkpoint::{Reached, Scan, output_lengths, state};
use super::meters::Meters;
use super::setup::port_text;
use super::{collect, respond, status::Summary};
use crate::config::ScanConfig;
use crate::engine::adaptive::Adaptive;
use crate::engine::cookie::CookieKey;
use crate::engine::core::Position;
use crate::error::{Error, Result};
use crate::net::route::Routes;
use crate::output::{FindingWriter, ScanMeta};
use crate::resume::PausedScan;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// What a scan leaves when its threads are joined.
pub struct Ended<'a> {
    pub cfg: &'a ScanConfig,
    pub resume: Option<&'a PausedScan>,
    pub space: u64,
    pub key: CookieKey,
    pub sport_base: u16,
    pub writers: Vec<Box<dyn FindingWriter>>,
    pub collected: Mutex<collect::Collected>,
    /// The collector's end.
    pub collect_res: std::io::Result<()>,
    pub io_err: Option<Error>,
    /// Where the scan paused (None: complete).
    pub paused_at: Option<Position>,
    pub lossy: Vec<Vec<Range<u64>>>,
    pub send_time: Duration,
    pub adaptive: Option<Adaptive>,
    pub meters: &'a Meters<'a>,
    pub routes: &'a Routes,
    pub routes6: &'a Routes<u128>,
    pub started: Instant,
    pub started_wall: SystemTime,
    pub ident: &'a respond::Shared,
    pub ident_dropped: &'a AtomicU64,
}

/// Finish the outputs, save or clear the paused state, and sum up.
pub fn finish(e: Ended<'_>) -> Result<Summary> {
    let Ended {
        cfg,
        resume,
        mut writers,
        meters,
        ..
    } = e;
    let sent = meters.sent();
    let meta = ScanMeta {
        command: cfg.command_line.clone(),
        started: e.started_wall,
        finished: SystemTime::now(),
        targets: cfg.target_text.clone(),
        ports: port_text(cfg),
        seed: cfg.seed,
        rate: cfg.rate.to_string(),
        probes_sent: sent + resume.map_or(0, |r| r.sent),
    };
    for w in writers.iter_mut() {
        // Paused: documents keep their spill file for the resumed run.
        if e.paused_at.is_some() {
            w.finish_paused(&meta)
        } else {
            w.finish(&meta)
        }
        .map_err(|e| Error::runtime(format!("writing findings: {e}")))?;
    }
    e.collect_res
        .map_err(|e| Error::runtime(format!("writing findings: {e}")))?;
    if let Some(err) = e.io_err {
        return Err(err);
    }
    let corr = e.collected.into_inner().unwrap().corr;
    let c = corr.stats();
    let mut paused = None;
    if let Some(at) = e.paused_at {
        let answered = PausedScan::encode_answered(corr.answered());
        drop(corr);
        let state = state(
            Scan::of(cfg, e.space, e.key, e.sport_base),
            Reached {
                at,
                sent: meta.probes_sent,
                answered,
                outputs: output_lengths(cfg),
                found: meters.found(),
                lossy: PausedScan::encode_lossy(&e.lossy),
                // (Identification ended before the pause: nothing is held.)
                held: Vec::new(),
            },
            false,
        );
        let file = cfg.paused_path.clone();
        state
            .save(&file)
            .map_err(|e| Error::runtime(format!("cannot write {}: {e}", file.display())))?;
        paused = Some(file);
    } else {
        // The scan is complete: its checkpoint, and the paused state it
        // resumed from, are spent.
        let _ = std::fs::remove_file(&cfg.paused_path);
        if let Some(p) = cfg.args.resume.as_ref() {
            let _ = std::fs::remove_file(p);
        }
    }
    let ident_on = meters.ident;
    let (routes, routes6) = (e.routes, e.routes6);
    Ok(Summary {
        space: e.space,
        sent,
        send_time: e.send_time,
        replies: c.open + c.closed,
        open: c.open,
        closed: c.closed,
        filtered: meters.rxstats.filtered.load(Ordering::Relaxed),
        kernel_drops: meters.rxstats.kernel_drops.load(Ordering::Relaxed),
        backlog_drops: meters.backlog(),
        rate_cuts: e.adaptive.as_ref().map_or(0, Adaptive::cuts),
        rate_note: e.adaptive.as_ref().map(Adaptive::status),
        paths: routes.paths.len() + routes6.paths.len(),
        down: routes.down + routes6.down,
        unrouted: routes.unrouted.count() + routes6.unrouted.count(),
        elapsed: e.started.elapsed(),
        paused,
        identified: ident_on.map(|i| i.identified.load(Ordering::Relaxed)),
        unidentified_busy: ident_on.map_or(0, |i| i.overflowed.load(Ordering::Relaxed)),
        unidentified_full: ident_on.map_or(0, |i| i.overflowed_full.load(Ordering::Relaxed)),
        ident_dropped: e.ident_dropped.load(Ordering::Relaxed),
        ident_sent: ident_on.map(respond::Shared::wire_sent),
        pseudo_hosts: e.ident.pseudo_hosts(),
    })
}
