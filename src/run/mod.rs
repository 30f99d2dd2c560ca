//! The thin drivers of a scan: they open the sockets, start the threads and
//! do what the sans-IO scan core ([`crate::engine::core`]) decides.
//!
//! - [`send`]: sender threads, each walking its slice of the permutation;
//! - [`recv`]: a receiver thread per interface, capturing and classifying;
//! - [`collect`]: the collector, correlating and writing findings;
//! - [`status`]: the status line and the summary;
//! - [`respond`]: service identification on open ports;
//!
//! and [`run`] here, which wires them for one scan: paths and the ARP
//! sweep, sockets, privilege drop, signals, the core's loop, and the paused
//! state at the end.

pub mod collect;
pub mod family;
pub mod pace;
pub mod plan;
pub mod positions;
pub mod recv;
pub mod respond;
pub mod send;
pub mod status;
pub mod tx;

use crate::cli::ScanArgs;
use crate::config::{Rate, ScanConfig};
use crate::engine::adaptive::{self, Adaptive};
use crate::engine::answered::Answered;
use crate::engine::cookie::CookieKey;
use crate::engine::core::{Action, CoreConfig, Phase, Position, ScanCore};
use crate::engine::correlator::Correlator;
use crate::engine::permutation::{Permutation, Slice};
use crate::engine::ratelimit::RateLimiter;
use crate::engine::retry::RetryPlan;
use crate::engine::space::Space;
use crate::error::{Error, Result};
use crate::net::route::{self, Routes};
use crate::net::signals::Signals;
use crate::output::{self, FindingWriter, ScanMeta};
use crate::probe::{Identity, Sources};
use crate::resume::PausedScan;
use crate::risk::{Policy, Risk};
use send::{Plan, Progress};
use status::{Summary, fmt_dur, fmt_rate};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Number of source ports probes come from (one per retry round, cycling).
pub const SPORT_COUNT: u16 = 16;

/// How often a running scan saves its state (paused.json), so that after a
/// crash or SIGKILL `--resume` repeats at most about this much sending.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// How long after a probe is sent its reply is expected: a checkpoint's
/// sender positions are those of this long before the replies it has
/// collected, so no probe before them can still have an answer in flight.
pub const REPLY_ALLOWANCE: Duration = Duration::from_millis(250);

/// Run a scan to the end, or until interrupted (then paused.json is written
/// in the working directory). `resume` continues a paused scan.
pub fn run(cfg: &ScanConfig, resume: Option<PausedScan>) -> Result<Summary> {
    if cfg.targets.is_empty() {
        return Err(Error::input(
            "no targets left to scan (all excluded or reserved)",
        ));
    }
    if cfg.ports.is_empty() && cfg.udp_ports.is_empty() {
        return Err(Error::input("no ports to scan"));
    }
    let space = Space::shared(
        cfg.targets.clone(),
        cfg.ports.clone(),
        cfg.udp_ports.clone(),
    );
    let perm = Permutation::new(space.len(), cfg.seed);
    let shard = Slice::shard(cfg.shard.0, cfg.shard.1);
    let mine = shard.len(space.len());
    let mut routes = if cfg.targets.v4.is_empty() {
        Routes::default()
    } else {
        route::resolve(&cfg.targets.v4, &cfg.overrides, !cfg.dry_run)?
    };
    let mut routes6 = route::resolve(&cfg.targets.v6, &cfg.overrides, !cfg.dry_run)?;
    if routes.paths.is_empty() && routes6.paths.is_empty() {
        let unrouted = [
            (!routes.unrouted.is_empty()).then(|| route::describe(&routes.unrouted, 4)),
            (!routes6.unrouted.is_empty()).then(|| route::describe(&routes6.unrouted, 4)),
        ];
        return Err(Error::runtime(format!(
            "no route to any target ({}); give -i IFACE and --router-mac MAC to send anyway",
            unrouted
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    // One AF_XDP sender per TX queue where the interfaces have several.
    let senders = tx::senders(cfg, &routes, &routes6);
    let with_senders;
    let cfg = if senders == cfg.senders {
        cfg
    } else {
        with_senders = ScanConfig {
            senders,
            ..cfg.clone()
        };
        &with_senders
    };
    let slices: Vec<Slice> = (0..cfg.senders as u64)
        .map(|t| shard.split(t, cfg.senders as u64))
        .collect();
    family::warn_unrouted(cfg, &routes);
    family::warn_unrouted(cfg, &routes6);
    // A resumed scan keeps the key but takes source ports apart from the
    // paused run's: connections that run left open (killed while
    // identifying, no RST sent) would otherwise meet our new SYNs on the
    // same four-tuple, and the target would answer those with an ACK of the
    // old connection, not a SYN-ACK (the port would look silent).
    let fresh_sport = |avoid: Option<u16>| loop {
        let b = 61000 + rand::random_range(0..(65536 - 61000 - SPORT_COUNT as u32)) as u16;
        if avoid.is_none_or(|a| b.abs_diff(a) >= SPORT_COUNT) {
            break b;
        }
    };
    let (key, sport_base) = match &resume {
        Some(r) => (
            CookieKey {
                k0: r.key.0,
                k1: r.key.1,
            },
            fresh_sport(Some(r.sport_base)),
        ),
        None => (
            CookieKey {
                k0: rand::random(),
                k1: rand::random(),
            },
            fresh_sport(None),
        ),
    };
    let start = match &resume {
        Some(r) => Position {
            round: r.round,
            next: r.next.clone(),
        },
        None => Position {
            round: 0,
            next: vec![0; cfg.senders],
        },
    };
    if cfg.dry_run {
        let paths6 = family::dry_run_lines(&cfg.targets.v6, &routes6);
        dry_run(
            cfg,
            &space,
            &routes,
            &paths6,
            mine,
            &start,
            resume.is_some(),
        );
        return Ok(Summary {
            space: space.len(),
            ..Default::default()
        });
    }
    // Checkpoints go to paused.json: never over another scan's state.
    let state_file = cfg.paused_path.clone();
    let resuming_it = cfg
        .args
        .resume
        .as_ref()
        .is_some_and(|r| std::path::absolute(r).ok() == std::path::absolute(&state_file).ok());
    if state_file.exists() && !resuming_it {
        return Err(Error::input(format!(
            "{} holds the state of another scan: resume it (synsweep scan --resume {0}) or move it away",
            state_file.display()
        )));
    }
    family::sweep_on_link(cfg, &cfg.targets.v4, &mut routes)?;
    family::sweep_on_link(cfg, &cfg.targets.v6, &mut routes6)?;
    let routes = Arc::new(routes);
    let routes6 = Arc::new(routes6);
    let id = Identity {
        key,
        sources: Sources {
            v4: routes.sources(),
            v6: routes6.sources(),
        },
        sport_base,
        sport_count: SPORT_COUNT,
    };
    let plan = Plan {
        perm,
        space: space.clone(),
        id: id.clone(),
        port_module: space
            .ports()
            .iter()
            .zip(space.protos())
            .map(|(&port, &proto)| {
                let m = cfg
                    .probes
                    .iter()
                    .position(|m| m.proto() == proto)
                    .expect("a module for every protocol of the space");
                (m as u8, cfg.probes[m].variants(port))
            })
            .collect(),
        v4: send::Ways {
            routes: routes.clone(),
            templates: family::templates(cfg, &routes),
        },
        v6: send::Ways {
            routes: routes6.clone(),
            templates: family::templates(cfg, &routes6),
        },
    };

    let policy = cfg.policy.as_deref().map(Policy::load).transpose()?;
    let risk = Risk::new(policy);
    let appending = resume.is_some();
    if let Some(r) = &resume {
        // After a crash, findings written since the checkpoint will be
        // found again: cut them off first.
        r.truncate_outputs()?;
    }
    let mut writers: Vec<Box<dyn FindingWriter>> = cfg
        .outputs
        .iter()
        .map(|(p, f)| output::open_with(p, *f, appending, cfg.args.baseline.as_deref()))
        .collect::<Result<_>>()?;
    // (Documents reopened with `appending` continue their spill file, so
    // they are rewritten with what the paused run found too.)

    // Sockets: the receivers first, so no early reply is missed; one per
    // interface, sending sockets one per path and sender.
    let dport = (sport_base, sport_base + SPORT_COUNT - 1);
    let mut rx_socks = family::rx_sockets(cfg, &routes, &id, dport)?;
    rx_socks.extend(family::rx_sockets(cfg, &routes6, &id, dport)?);
    let (tx_sets, tx_notes) = tx::open(cfg, &routes, &routes6, cfg.senders)?;
    if !cfg.quiet {
        for n in &tx_notes {
            eprintln!("{n}");
        }
    }
    let tx_sets: Vec<Mutex<tx::TxSet>> = tx_sets.into_iter().map(Mutex::new).collect();
    // Identification: RST suppression and the follow-up sockets, while we
    // still have the privileges.
    let guard = if !cfg.args.no_identify && !cfg.ports.is_empty() {
        match respond::Guard::install(sport_base, SPORT_COUNT) {
            Ok(g) => Some(g),
            Err(e) => {
                eprintln!("synsweep: warning: {e}; services are not identified (SYN scan only)");
                None
            }
        }
    } else {
        None
    };
    let resp_tx = match guard {
        Some(_) => Some(pace::Tx::open(routes.clone(), routes6.clone())?),
        None => None,
    };
    let ident = respond::Shared::default();
    // The middlebox rule judges a host by the share of its probed ports
    // that answer.
    ident.set_ports_per_host(cfg.ports.len());
    let ident_on = resp_tx.as_ref().map(|_| &ident);
    if !cfg.keep_root {
        crate::net::privilege::drop_privileges().map_err(|e| {
            Error::runtime(format!(
                "cannot drop privileges: {e} (use --keep-root to stay root)"
            ))
        })?;
    }

    let signals = Signals::install()?;
    let stop_send = AtomicBool::new(false);
    let stop_rx = AtomicBool::new(false);
    let rxstats = recv::RxStats::default();
    let counters = collect::Counters::default();
    let progress: Vec<Progress> = (0..cfg.senders).map(|_| Progress::default()).collect();
    let answered = match &resume {
        Some(r) => r.answered()?,
        None => Answered::default(),
    };
    let collected = Mutex::new(collect::Collected {
        corr: Correlator::new(space.clone(), answered),
        until: Instant::now(),
    });
    // `--rate max` starts at the controller's safe rate, not unlimited (a
    // first burst would spoil its baseline).
    let per_sender = match cfg.rate {
        Rate::Max => Some(adaptive::START),
        r => r.pps(),
    }
    .map(|r| r / cfg.senders as f64);
    let limiters: Vec<Mutex<RateLimiter>> = (0..cfg.senders)
        .map(|_| Mutex::new(RateLimiter::new(per_sender)))
        .collect();
    // `--rate max`: the adaptive controller, fed every tick.
    let mut adaptive = (cfg.rate == Rate::Max).then(Adaptive::new);
    let backlog0 = crate::net::softnet::backlog_drops().unwrap_or(0);
    let backlog_now =
        || crate::net::softnet::backlog_drops().map_or(0, |d| d.saturating_sub(backlog0));
    let found_before = resume.as_ref().map_or(0, |r| r.found);
    let found_now = || {
        found_before
            + counters.open.load(Ordering::Relaxed)
            + if cfg.show_closed {
                counters.closed.load(Ordering::Relaxed)
            } else {
                0
            }
    };
    let started = Instant::now();
    let started_wall = SystemTime::now();
    let live = !cfg.quiet && std::io::stderr().is_terminal();
    let live_sent_now = || {
        progress
            .iter()
            .map(|p| p.live_sent.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let sent_now = || {
        progress
            .iter()
            .map(|p| p.sent.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    // Everything on the wire: probes and identification's packets (what
    // `--rate` paces).
    let ident_sent_now = || ident_on.map_or(0, respond::Shared::wire_sent);
    let wire_now = || sent_now() + ident_sent_now();
    let walked_now = || {
        progress
            .iter()
            .map(|p| p.walked.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let status_line = |phase: &str, pct: f64, eta: Option<Duration>, rate: f64| {
        if live {
            status::show(&format!(
                "{phase} {:5.1}% | {} | sent {}{} | replies {} | open {}{} | drops {}+{} | left {}",
                pct,
                fmt_rate(rate),
                sent_now(),
                ident_on.map_or(String::new(), |i| format!(" +{} ident", i.wire_sent())),
                counters.valid.load(Ordering::Relaxed),
                // Open is a fact at the SYN-ACK: ports still being
                // identified count already.
                counters.open.load(Ordering::Relaxed) + ident_on.map_or(0, respond::Shared::held),
                ident_on.map_or(String::new(), |i| format!(
                    " | identified {}",
                    i.identified.load(Ordering::Relaxed)
                )),
                rxstats.kernel_drops.load(Ordering::Relaxed),
                backlog_now(),
                eta.map(fmt_dur).unwrap_or_else(|| "-".into()),
            ));
        }
    };

    let mut core = ScanCore::new(
        CoreConfig {
            retries: cfg.retries,
            wait: cfg.wait,
            senders: cfg.senders,
            checkpoint_every: Some(CHECKPOINT_EVERY),
        },
        start,
    );
    let mut io_err: Option<Error> = None;
    let mut send_time = Duration::ZERO;
    let mut paused_at: Option<Position> = None;
    // `--rate max`: per sender, the positions of the first pass sent while
    // replies were lost (the retry round covers them); kept across a pause.
    let mut lossy: Vec<Vec<std::ops::Range<u64>>> = resume
        .as_ref()
        .map(PausedScan::lossy_ranges)
        .unwrap_or_default();
    // Identification's way out: paced within the rate, first.
    let (outbox, queue) = pace::Outbox::new(cfg.rate.pps());
    let ident_dropped = outbox.dropped_counter();
    let collect_res = std::thread::scope(|s| {
        let pacer = resp_tx.as_ref().map(|t| {
            let (over, wire) = (&stop_rx, ident.wire());
            s.spawn(move || pace::run(queue, t, cfg.rate.pps(), over, wire))
        });
        let (tx, rx) = crossbeam_channel::bounded::<recv::Batch>(1 << 14);
        let receivers = rx_socks.len();
        // A resume after a crash: the open ports identification held when
        // the checkpoint was saved are reported first (their SYN-ACK
        // validated; the positions saved are past them).
        if let Some(b) = resume.as_ref().and_then(|r| held_batch(&r.held, receivers)) {
            let _ = tx.send(b);
        }
        let rxh: Vec<_> = rx_socks
            .into_iter()
            .enumerate()
            .map(|(k, (sock, l3, probe, name))| {
                let (tx, id, stop, stats) = (tx.clone(), &id, &stop_rx, &rxstats);
                let resp = resp_tx
                    .as_ref()
                    .filter(|_| probe.proto() == crate::probe::Proto::Tcp)
                    .map(|_| respond::Responder::new(outbox.clone(), id, &ident));
                (
                    name,
                    s.spawn(move || recv::run(k, sock, l3, probe, id, tx, stop, stats, resp)),
                )
            })
            .collect();
        drop(tx);
        // (The pacer ends when the receivers' outboxes are gone.)
        drop(outbox);
        let w = &mut writers;
        let (corr_ref, risk_ref, counters_ref) = (&collected, &risk, &counters);
        let ch = s.spawn(move || {
            collect::run(
                rx,
                receivers,
                corr_ref,
                risk_ref,
                w,
                cfg.show_closed,
                counters_ref,
                ident_on,
            )
        });
        let tick = Duration::from_millis(if live { 100 } else { 50 });
        let mut senders: Vec<std::thread::ScopedJoinHandle<'_, std::io::Result<u64>>> = Vec::new();
        let mut round_start = Instant::now();
        let (mut last_t, mut last_sent, mut rate) = (Instant::now(), 0u64, 0.0);
        let mut seen = (Instant::now(), 0u64, 0u64, 0u64, 0u64);
        let mut signals_seen = 0;
        // `--rate max`: sender positions at each controller tick of the first
        // pass, to map the ticks where replies were lost to positions.
        let mut walked_hist: Vec<Vec<u64>> = Vec::new();
        let mut round0_from: Vec<u64> = Vec::new();
        // Sender positions over time, for checkpoints (back to the newest a
        // checkpoint may save, across rounds).
        let mut samples = positions::History::default();
        let mut actions = core.start(Instant::now());
        'scan: loop {
            for a in std::mem::take(&mut actions) {
                match a {
                    Action::StartRound { round, from } => {
                        stop_send.store(false, Ordering::SeqCst);
                        // (Ports identification holds are open already.)
                        let held = ident_on
                            .map(respond::Shared::held_ports)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(ip, port, _)| (ip, port));
                        let retry = (round > 0).then(|| RetryPlan {
                            answered: Arc::new(collected.lock().unwrap().corr.answered_and(held)),
                            round,
                            nports: space.ports().len() as u64,
                            lossy: Arc::from([]),
                            silent_hosts: !cfg.ramp_retry,
                        });
                        if let (1.., Some(a)) = (round, adaptive.as_mut()) {
                            a.new_round();
                            apply_caps(a, &progress, cfg.senders);
                        }
                        round_start = Instant::now();
                        if round == 0 {
                            round0_from = from.clone();
                        }
                        samples.push(
                            round_start,
                            Position {
                                round,
                                next: from.clone(),
                            },
                        );
                        senders = (0..cfg.senders)
                            .map(|t| {
                                let (plan, socks, lim, prog, slice, from) = (
                                    &plan,
                                    &tx_sets[t],
                                    &limiters[t],
                                    &progress[t],
                                    slices[t],
                                    from[t],
                                );
                                // `--rate max`: this sender's positions sent
                                // while replies were being lost.
                                let retry = retry.clone().map(|r| RetryPlan {
                                    lossy: Arc::from(lossy.get(t).cloned().unwrap_or_default()),
                                    ..r
                                });
                                prog.walked.store(from, Ordering::Relaxed);
                                let stop = &stop_send;
                                // Fixed rates only: under `--rate max` the
                                // controller's cap is on probes (see README).
                                let charge = ident_on.filter(|_| cfg.rate != Rate::Max).map(|i| {
                                    send::Charge {
                                        wire: i.wire(),
                                        senders: cfg.senders as u64,
                                        index: t as u64,
                                    }
                                });
                                s.spawn(move || {
                                    let mut lim = lim.lock().unwrap();
                                    let mut socks = socks.lock().unwrap();
                                    lim.restart();
                                    send::run(
                                        plan,
                                        &mut socks,
                                        slice,
                                        from,
                                        round,
                                        retry.as_ref(),
                                        &mut lim,
                                        stop,
                                        prog,
                                        charge,
                                    )
                                })
                            })
                            .collect();
                    }
                    Action::StopSenders => stop_send.store(true, Ordering::SeqCst),
                    Action::Checkpoint => {
                        let state = checkpoint(CheckpointInput {
                            cfg,
                            collected: &collected,
                            samples: &samples,
                            space: space.len(),
                            key,
                            sport_base,
                            sent: sent_now() + resume.as_ref().map_or(0, |r| r.sent),
                            found: found_now(),
                            lossy: &lossy,
                            ident: ident_on,
                        });
                        let file = &cfg.paused_path;
                        if let Err(e) = state.save(file) {
                            io_err.get_or_insert(Error::runtime(format!(
                                "cannot write checkpoint {}: {e}",
                                file.display()
                            )));
                            break 'scan;
                        }
                    }
                    Action::Finish { paused } => {
                        paused_at = paused;
                        break 'scan;
                    }
                }
            }
            std::thread::sleep(tick);
            let now = Instant::now();
            while signals_seen < signals.count() {
                signals_seen += 1;
                actions.extend(core.interrupt(now));
            }
            if let Phase::Sending { round } = *core.phase() {
                samples.push(
                    now,
                    Position {
                        round,
                        next: progress
                            .iter()
                            .map(|p| p.walked.load(Ordering::Relaxed))
                            .collect(),
                    },
                );
                let until = collected.lock().unwrap().until;
                samples.trim(until, REPLY_ALLOWANCE);
            }
            if !senders.is_empty() && senders.iter().all(|h| h.is_finished()) {
                let mut next = Vec::new();
                for h in senders.drain(..) {
                    match h.join().expect("sender thread panicked") {
                        Ok(j) => next.push(j),
                        Err(e) => {
                            io_err.get_or_insert(Error::runtime(format!("sending failed: {e}")));
                            next.push(0);
                        }
                    }
                }
                send_time += round_start.elapsed();
                if io_err.is_some() {
                    break 'scan;
                }
                if let (Phase::Sending { round: 0 }, Some(a)) = (core.phase(), adaptive.as_ref()) {
                    walked_hist.push(next.clone());
                    lossy = adaptive::lossy_positions(a.lossy_ticks(), &walked_hist, &round0_from);
                }
                actions.extend(core.senders_done(now, next));
            }
            // `--rate max` compares probes with their replies (the reply
            // ratio is the probes'), and caps probes. The status line shows
            // the rate of everything on the wire.
            let sent = sent_now();
            if let (Some(a), Phase::Sending { .. }) = (adaptive.as_mut(), core.phase()) {
                let obs = (
                    now,
                    sent,
                    rxstats.frames.load(Ordering::Relaxed),
                    rxstats.kernel_drops.load(Ordering::Relaxed) + backlog_now(),
                    live_sent_now(),
                );
                let cap = a.update(adaptive::Tick {
                    dt: obs.0 - seen.0,
                    sent: obs.1 - seen.1,
                    replies: obs.2 - seen.2,
                    drops: obs.3 - seen.3,
                    live_sent: obs.4 - seen.4,
                });
                seen = obs;
                if let Phase::Sending { round: 0 } = core.phase() {
                    walked_hist.push(
                        progress
                            .iter()
                            .map(|p| p.walked.load(Ordering::Relaxed))
                            .collect(),
                    );
                }
                debug_assert_eq!(cap, a.cap());
                apply_caps(a, &progress, cfg.senders);
            } else {
                seen = (
                    now,
                    sent,
                    rxstats.frames.load(Ordering::Relaxed),
                    rxstats.kernel_drops.load(Ordering::Relaxed) + backlog_now(),
                    live_sent_now(),
                );
            }
            // The shown rate is over the last second; before the first
            // second is over, over what there is.
            let span = (now - last_t).as_secs_f64();
            let wire = wire_now();
            if span >= 0.9 || rate == 0.0 {
                rate = wire.saturating_sub(last_sent) as f64 / span.max(1e-3);
            }
            if span >= 0.9 {
                (last_t, last_sent) = (now, wire);
            }
            match core.phase().clone() {
                Phase::Sending { round } => {
                    let walked = walked_now();
                    let pct = 100.0 * walked as f64 / mine.max(1) as f64;
                    let eta = (round == 0 && rate > 0.0).then(|| {
                        Duration::from_secs_f64(mine.saturating_sub(walked) as f64 / rate)
                    });
                    let name = round_name(round, cfg.retries);
                    match adaptive.as_ref() {
                        Some(a) => status_line(&format!("{name} [{}]", a.status()), pct, eta, rate),
                        None => status_line(&name, pct, eta, rate),
                    }
                }
                Phase::Settling { round, .. } => {
                    status_line(&round_name(round - 1, cfg.retries), 100.0, None, 0.0)
                }
                Phase::Waiting { until } => status_line(
                    if core.interrupted() {
                        "pausing"
                    } else {
                        "waiting"
                    },
                    100.0,
                    Some(until.saturating_duration_since(now)),
                    0.0,
                ),
                Phase::Idle | Phase::Done => {}
            }
            actions.extend(core.tick(now));
        }
        // On an error: stop whatever still runs.
        stop_send.store(true, Ordering::SeqCst);
        for h in senders.drain(..) {
            let _ = h.join();
        }
        // Ports still being identified finish first
        // (a further signal or an error cuts the wait short).
        if let Some(i) = ident_on {
            let seen = signals_seen;
            i.drain(respond::DRAIN_MAX, || {
                io_err.is_some() || signals.count() > seen
            });
        }
        stop_rx.store(true, Ordering::Relaxed);
        for (name, h) in rxh {
            if let Err(e) = h.join().expect("receiver thread panicked") {
                io_err.get_or_insert(Error::runtime(format!("receiving on {name} failed: {e}")));
            }
        }
        if let Some(p) = pacer {
            p.join().expect("identification pacer panicked");
        }
        ch.join().expect("collector thread panicked")
    });
    if live {
        status::clear();
    }
    // The RST suppression goes now (its keeper removes the table), and the
    // send sockets with their frames (an AF_XDP UMEM is megabytes): the
    // documents are rendered without them.
    drop(guard);
    drop(tx_sets);
    let sent = sent_now();
    let meta = ScanMeta {
        command: cfg.command_line.clone(),
        started: started_wall,
        finished: SystemTime::now(),
        targets: cfg.target_text.clone(),
        ports: port_text(cfg),
        seed: cfg.seed,
        rate: cfg.rate.to_string(),
        probes_sent: sent + resume.as_ref().map_or(0, |r| r.sent),
    };
    for w in writers.iter_mut() {
        // Paused: documents keep their spill file for the resumed run.
        if paused_at.is_some() {
            w.finish_paused(&meta)
        } else {
            w.finish(&meta)
        }
        .map_err(|e| Error::runtime(format!("writing findings: {e}")))?;
    }
    collect_res.map_err(|e| Error::runtime(format!("writing findings: {e}")))?;
    if let Some(e) = io_err {
        return Err(e);
    }
    let corr = collected.into_inner().unwrap().corr;
    let c = corr.stats();
    let mut paused = None;
    if let Some(at) = paused_at {
        let answered = PausedScan::encode_answered(corr.answered());
        drop(corr);
        let state = PausedScan {
            version: crate::resume::VERSION,
            // The sender count is pinned: its default depends on the rate,
            // which a resume may change, and positions are per sender.
            args: ScanArgs {
                senders: Some(cfg.senders),
                ..absolute_paths(&cfg.args)
            },
            space: space.len(),
            seed: cfg.seed,
            shard: cfg.shard,
            key: (key.k0, key.k1),
            sport_base,
            round: at.round,
            next: at.next,
            sent: meta.probes_sent,
            answered,
            outputs: output_lengths(cfg),
            found: found_now(),
            checkpoint: false,
            lossy: PausedScan::encode_lossy(&lossy),
            // (Identification ended before the pause: nothing is held.)
            held: Vec::new(),
        };
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
    Ok(Summary {
        space: space.len(),
        sent,
        send_time,
        replies: c.open + c.closed,
        open: c.open,
        closed: c.closed,
        filtered: rxstats.filtered.load(Ordering::Relaxed),
        kernel_drops: rxstats.kernel_drops.load(Ordering::Relaxed),
        backlog_drops: backlog_now(),
        rate_cuts: adaptive.as_ref().map_or(0, Adaptive::cuts),
        rate_note: adaptive.as_ref().map(Adaptive::status),
        paths: routes.paths.len() + routes6.paths.len(),
        down: routes.down + routes6.down,
        unrouted: routes.unrouted.count() + routes6.unrouted.count(),
        elapsed: started.elapsed(),
        paused,
        identified: ident_on.map(|i| i.identified.load(Ordering::Relaxed)),
        unidentified_busy: ident_on.map_or(0, |i| i.overflowed.load(Ordering::Relaxed)),
        ident_dropped: ident_dropped.load(Ordering::Relaxed),
        ident_sent: ident_on.map(respond::Shared::wire_sent),
        pseudo_hosts: ident.pseudo_hosts(),
    })
}

/// Bytes in each file findings are streamed to now: streaming outputs, and
/// the spill file of each document.
fn output_lengths(cfg: &ScanConfig) -> Vec<(String, u64)> {
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

/// The open ports a checkpoint saved as held, as replies for the
/// collector (`from`: no receiver's).
fn held_batch(held: &[(std::net::IpAddr, u16, u8)], from: usize) -> Option<recv::Batch> {
    (!held.is_empty()).then(|| recv::Batch {
        at: Instant::now(),
        from,
        horizon: None,
        replies: held
            .iter()
            .map(|&(target, port, ttl)| crate::probe::Classified {
                target,
                proto: crate::probe::Proto::Tcp,
                port,
                state: crate::finding::PortState::Open,
                reason: "syn-ack",
                ttl,
                protocol: None,
                amplification: None,
            })
            .collect(),
    })
}

struct CheckpointInput<'a> {
    cfg: &'a ScanConfig,
    collected: &'a Mutex<collect::Collected>,
    samples: &'a positions::History,
    space: u64,
    key: CookieKey,
    sport_base: u16,
    sent: u64,
    found: u64,
    lossy: &'a [Vec<std::ops::Range<u64>>],
    ident: Option<&'a respond::Shared>,
}

/// The state of a running scan, consistent as of a moment when every
/// probe before the saved positions has had its reply collected: with the
/// collector held, take the answered set, the output lengths and the open
/// ports identification holds (collected, not yet written), and the sender
/// positions of [`REPLY_ALLOWANCE`] before what it has collected.
fn checkpoint(i: CheckpointInput<'_>) -> PausedScan {
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

/// The scan's ports as text (`22,80` for TCP only, `T:22,U:53` mixed).
fn port_text(cfg: &ScanConfig) -> String {
    crate::ports::PortSpec {
        tcp: cfg.ports.clone(),
        udp: cfg.udp_ports.clone(),
    }
    .format()
}

fn round_name(round: u32, retries: u32) -> String {
    if round == 0 {
        "scan".to_string()
    } else {
        format!("retry {round}/{retries}")
    }
}

/// `--dry-run`: say what would be probed and where, send nothing.
fn dry_run(
    cfg: &ScanConfig,
    space: &Space,
    routes: &Routes,
    paths6: &str,
    mine: u64,
    start: &Position,
    resumed: bool,
) {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "targets:   {} addresses ({})",
        space.addresses(),
        cfg.target_text
    );
    let _ = writeln!(
        out,
        "ports:     {} ({})",
        space.ports().len(),
        port_text(cfg)
    );
    let _ = writeln!(
        out,
        "space:     {} probes, this shard {}/{}: {mine}",
        space.len(),
        cfg.shard.0 + 1,
        cfg.shard.1
    );
    // UDP ports with several payloads get one probe per payload.
    let per_address: u64 = space
        .ports()
        .iter()
        .zip(space.protos())
        .map(|(&port, &proto)| {
            cfg.probes
                .iter()
                .find(|m| m.proto() == proto)
                .map_or(1, |m| m.variants(port) as u64)
        })
        .sum();
    if per_address != space.ports().len() as u64 {
        let _ = writeln!(
            out,
            "payloads:  {} probes per address and pass (a UDP port gets one per payload)",
            per_address
        );
    }
    let names: Vec<&str> = cfg.probes.iter().map(|m| m.name()).collect();
    let _ = writeln!(out, "probe:     {}", names.join(", "));
    out.push_str(&family::dry_run_lines(&cfg.targets.v4, routes));
    out.push_str(paths6);
    let _ = writeln!(
        out,
        "rate:      {}, retries {}, wait {}s, senders {}, seed {}",
        cfg.rate,
        cfg.retries,
        cfg.wait.as_secs_f64(),
        cfg.senders,
        cfg.seed
    );
    if let Rate::Pps(r) = cfg.rate {
        let _ = writeln!(
            out,
            "time:      about {} for the first pass",
            fmt_dur(Duration::from_secs_f64(mine as f64 / r))
        );
    }
    if resumed {
        let _ = writeln!(
            out,
            "resume:    round {}, {} of {mine} positions done",
            start.round,
            start.next.iter().sum::<u64>()
        );
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}

/// The arguments with every file path made absolute, so a resume works from
/// any directory.
fn absolute_paths(a: &ScanArgs) -> ScanArgs {
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

/// Hand the `--rate max` controller's caps to the senders, split evenly.
fn apply_caps(a: &Adaptive, progress: &[send::Progress], senders: usize) {
    let per = |c: f64| ((c / senders as f64) as u64).max(1);
    let cap = a.cap().map_or(send::CAP_UNLIMITED, per);
    let live = a.live_cap().map_or(send::CAP_NONE, per);
    for p in progress {
        p.cap.store(cap, Ordering::Relaxed);
        p.live_cap.store(live, Ordering::Relaxed);
    }
}
