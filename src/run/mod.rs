//! The thin drivers of a scan: they open the sockets, start the threads and
//! do what the sans-IO scan core ([`crate::engine::core`]) decides.
//!
//! - [`send`]: sender threads, each walking its slice of the permutation;
//! - [`recv`]: a receiver thread per interface, capturing and classifying;
//! - [`collect`]: the collector, correlating and writing findings;
//! - [`status`]: the status line and the summary;
//! - [`respond`]: service identification on open ports;
//! - [`setup`]: inputs, routes, keys, the dry run, sockets and the
//!   privilege drop, before any thread starts;
//! - [`scan_loop`]: the main loop, doing what the core decides;
//! - [`meters`]: the running counts and the status line;
//! - [`finish`]: outputs finished, the paused state, the summary;
//!
//! and [`run`] here, which wires them for one scan: set-up, signals, the
//! threads and the loop in order, their shutdown, and the end.

pub mod checkpoint;
pub mod collect;
pub mod family;
pub mod finish;
pub mod limiter;
pub mod meters;
pub mod pace;
pub mod plan;
pub mod recv;
pub mod respond;
pub mod scan_loop;
pub mod send;
pub mod setup;
pub mod status;
pub mod tx;

use crate::config::{Rate, ScanConfig};
use crate::engine::adaptive;
use crate::engine::answered::Answered;
use crate::engine::correlator::Correlator;
use crate::engine::feedback::RateControl;
use crate::error::{Error, Result};
use crate::net::signals::Signals;
use crate::resume::PausedScan;
pub use checkpoint::{CHECKPOINT_EVERY, REPLY_ALLOWANCE};
use limiter::RateLimiter;
use meters::Meters;
pub use setup::SPORT_COUNT;
use status::Summary;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Instant, SystemTime};

/// Run a scan to the end, or until interrupted (then paused.json is written
/// in the working directory). `resume` continues a paused scan.
pub fn run(cfg: &ScanConfig, resume: Option<PausedScan>) -> Result<Summary> {
    let routed = setup::route(cfg)?;
    // One AF_XDP sender per TX queue where the interfaces have several.
    let senders = tx::senders(cfg, &routed.v4, &routed.v6);
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
    let resume = resume.as_ref();
    let setup = match setup::prepare(cfg, resume, routed)? {
        setup::Ready::DryRun(space) => {
            return Ok(Summary {
                space,
                ..Default::default()
            });
        }
        setup::Ready::Scan(s) => *s,
    };
    let setup::Setup {
        space,
        mine,
        slices,
        key,
        sport_base,
        start,
        routes,
        routes6,
        id,
        plan,
        risk,
        mut writers,
        rx_socks,
        tx_sets,
        guard,
        resp_tx,
        ident,
    } = setup;
    let ident_on = resp_tx.as_ref().map(|_| &ident);

    let signals = Signals::install()?;
    let stop_send = AtomicBool::new(false);
    let stop_rx = AtomicBool::new(false);
    let rxstats = recv::RxStats::default();
    let counters = collect::Counters::default();
    let progress = setup::progress(cfg, &space, &plan, &ident);
    let collected = collected(&space, resume)?;
    let limiters = limiters(cfg);
    let meters = Meters {
        progress: &progress[..],
        counters: &counters,
        rxstats: &rxstats,
        ident: ident_on,
        backlog0: crate::net::softnet::backlog_drops().unwrap_or(0),
        found_before: resume.map_or(0, |r| r.found),
        show_closed: cfg.show_closed,
        live: !cfg.quiet && std::io::stderr().is_terminal(),
    };
    let started = Instant::now();
    let started_wall = SystemTime::now();
    let mut driver = scan_loop::Driver::new(
        scan_loop::Ties {
            cfg,
            space: &space,
            plan: &plan,
            tx_sets: &tx_sets,
            limiters: &limiters,
            slices: &slices,
            stop_send: &stop_send,
            collected: &collected,
            signals: &signals,
            meters: &meters,
            key,
            sport_base,
            sent_before: resume.map_or(0, |r| r.sent),
            mine,
        },
        start,
        resume.map(PausedScan::lossy_ranges).unwrap_or_default(),
    );
    // Identification's way out: paced within the rate, first.
    let (outbox, queue) = pace::Outbox::new(cfg.rate.pps());
    let ident_dropped = outbox.dropped_counter();
    let collect_res = std::thread::scope(|s| {
        let pacer = resp_tx.as_ref().map(|t| {
            let (over, wire) = (&stop_rx, ident.wire());
            let limit = outbox.backlog_handle();
            // `--rate max`: the controller's cap on everything sent.
            let progress = &progress;
            let rate = move || match cfg.rate {
                Rate::Max => scan_loop::ident_rate_max(progress, cfg.senders),
                r => r.pps(),
            };
            s.spawn(move || pace::run(queue, t, rate, &limit, over, wire))
        });
        let (tx, rx) = crossbeam_channel::bounded::<recv::Batch>(1 << 14);
        let receivers = rx_socks.len();
        // A resume after a crash: the open ports identification held when
        // the checkpoint was saved are reported first (their SYN-ACK
        // validated; the positions saved are past them).
        if let Some(b) = resume.and_then(|r| held_batch(&r.held, receivers)) {
            let _ = tx.send(b);
        }
        let rxh = spawn_receivers(
            s,
            rx_socks,
            &tx,
            &outbox,
            RxTies {
                id: &id,
                stop: &stop_rx,
                stats: &rxstats,
                ident: ident_on,
            },
        );
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
        driver.run(s);
        // Ports still being identified finish first
        // (a further signal or an error cuts the wait short).
        if let Some(i) = ident_on {
            let seen = driver.signals_seen;
            let io_err = &driver.io_err;
            i.drain(respond::DRAIN_MAX, || {
                io_err.is_some() || signals.count() > seen
            });
        }
        stop_rx.store(true, Ordering::Relaxed);
        for (name, h) in rxh {
            if let Err(e) = h.join().expect("receiver thread panicked") {
                driver
                    .io_err
                    .get_or_insert(Error::runtime(format!("receiving on {name} failed: {e}")));
            }
        }
        if let Some(p) = pacer {
            p.join().expect("identification pacer panicked");
        }
        ch.join().expect("collector thread panicked")
    });
    let scan_loop::Driver {
        control,
        lossy,
        io_err,
        send_time,
        paused_at,
        ..
    } = driver;
    if meters.live {
        status::clear();
    }
    // The RST suppression goes now (its keeper removes the table), and the
    // send sockets with their frames (an AF_XDP UMEM is megabytes): the
    // documents are rendered without them.
    drop(guard);
    drop(tx_sets);
    finish::finish(finish::Ended {
        cfg,
        resume,
        space: space.len(),
        key,
        sport_base,
        writers,
        collected,
        collect_res,
        io_err,
        paused_at,
        lossy,
        send_time,
        adaptive: control.map(RateControl::into_adaptive),
        meters: &meters,
        routes: &routes,
        routes6: &routes6,
        started,
        started_wall,
        ident: &ident,
        ident_dropped: &ident_dropped,
    })
}

/// The collector's state to start with: what the paused run had answered.
fn collected(
    space: &crate::engine::space::Space,
    resume: Option<&PausedScan>,
) -> Result<Mutex<collect::Collected>> {
    let answered = match resume {
        Some(r) => r.answered()?,
        None => Answered::default(),
    };
    Ok(Mutex::new(collect::Collected {
        corr: Correlator::new(space.clone(), answered),
        until: Instant::now(),
    }))
}

/// What every receiver shares.
struct RxTies<'a> {
    id: &'a crate::probe::Identity,
    stop: &'a AtomicBool,
    stats: &'a recv::RxStats,
    /// Identification's shared state (None: no identification).
    ident: Option<&'a respond::Shared>,
}

type Receivers<'s> = Vec<(String, ScopedJoinHandle<'s, std::io::Result<()>>)>;

/// Start a receiver on each socket, with a responder where it captures
/// TCP and services are identified.
fn spawn_receivers<'s, 'a: 's>(
    s: &'s Scope<'s, '_>,
    socks: Vec<setup::RxSocket>,
    tx: &crossbeam_channel::Sender<recv::Batch>,
    outbox: &pace::Outbox,
    t: RxTies<'a>,
) -> Receivers<'s> {
    socks
        .into_iter()
        .enumerate()
        .map(|(k, (sock, l3, probe, name))| {
            let (tx, id, stop, stats) = (tx.clone(), t.id, t.stop, t.stats);
            let resp = t
                .ident
                .filter(|_| probe.proto() == crate::probe::Proto::Tcp)
                .map(|i| respond::Responder::new(outbox.clone(), id, i));
            (
                name,
                s.spawn(move || recv::run(k, sock, l3, probe, id, tx, stop, stats, resp)),
            )
        })
        .collect()
}

/// Each sender's rate limiter. `--rate max` starts at the controller's
/// safe rate, not unlimited (a first burst would spoil its baseline).
fn limiters(cfg: &ScanConfig) -> Vec<Mutex<RateLimiter>> {
    let per_sender = per_sender_rate(cfg.rate, cfg.senders);
    (0..cfg.senders)
        .map(|_| Mutex::new(RateLimiter::new(per_sender)))
        .collect()
}

/// Each sender's share of the rate (None: unlimited).
fn per_sender_rate(rate: Rate, senders: usize) -> Option<f64> {
    match rate {
        Rate::Max => Some(adaptive::START),
        r => r.pps(),
    }
    .map(|r| r / senders as f64)
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
