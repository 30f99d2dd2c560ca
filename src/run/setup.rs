//! A scan's set-up, before any thread starts: the inputs checked, the
//! space and this shard's slices, the routes of both families, the key and
//! source ports, the dry run, the state file check, the neighbour sweeps,
//! the senders' plan, the writers, every socket, the RST guard and the
//! identification sockets, and last the privilege drop. Whatever needs
//! privileges happens here; the scan loop starts with none.

use super::plan::Progress;
use super::status::fmt_dur;
use super::{family, pace, respond, send, tx};
use crate::config::{Rate, ScanConfig};
use crate::engine::cookie::CookieKey;
use crate::engine::core::Position;
use crate::engine::permutation::{Permutation, Slice};
use crate::engine::space::{ShardPorts, Space};
use crate::error::{Error, Result};
use crate::identify::session::{PortsOf, Probed};
use crate::net::route::{self, Routes};
use crate::net::sys::PacketSocket;
use crate::output::{self, FindingWriter};
use crate::probe::{Identity, Probe, Sources};
use crate::resume::PausedScan;
use crate::risk::{Policy, Risk};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Number of source ports probes come from (one per retry round, cycling).
pub const SPORT_COUNT: u16 = 16;

/// The routes of both families, resolved.
pub struct Routed {
    pub v4: Routes,
    pub v6: Routes<u128>,
}

/// Check the inputs and resolve the routes to the targets: an error when
/// there is nothing to scan, or no route to any target.
pub fn route(cfg: &ScanConfig) -> Result<Routed> {
    if cfg.targets.is_empty() {
        return Err(Error::input(
            "no targets left to scan (all excluded or reserved)",
        ));
    }
    if cfg.ports.is_empty() && cfg.udp_ports.is_empty() {
        return Err(Error::input("no ports to scan"));
    }
    let routes = if cfg.targets.v4.is_empty() {
        Routes::default()
    } else {
        route::resolve(&cfg.targets.v4, &cfg.overrides, !cfg.dry_run)?
    };
    let routes6 = route::resolve(&cfg.targets.v6, &cfg.overrides, !cfg.dry_run)?;
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
    Ok(Routed {
        v4: routes,
        v6: routes6,
    })
}

/// A receiving socket with what its receiver needs: the link header's
/// length, the probe module it classifies for, the interface's name.
pub type RxSocket = (PacketSocket, usize, &'static dyn Probe, String);

/// Everything a scan starts its threads with.
pub struct Setup {
    pub space: Space,
    /// Positions in this shard.
    pub mine: u64,
    /// Each sender's slice of this shard.
    pub slices: Vec<Slice>,
    pub key: CookieKey,
    pub sport_base: u16,
    /// Where the scan starts (a resume: where it paused).
    pub start: Position,
    pub routes: Arc<Routes>,
    pub routes6: Arc<Routes<u128>>,
    pub id: Identity,
    pub plan: send::Plan,
    pub risk: Risk,
    pub writers: Vec<Box<dyn FindingWriter>>,
    pub rx_socks: Vec<RxSocket>,
    pub tx_sets: Vec<Mutex<tx::TxSet>>,
    /// The RST suppression while identifying (None: no identification).
    pub guard: Option<respond::Guard>,
    /// Identification's sending sockets (Some with the guard).
    pub resp_tx: Option<pace::Tx>,
    pub ident: respond::Shared,
}

/// What [`prepare`] leads to.
pub enum Ready {
    /// `--dry-run`: the plan was printed; the space's size.
    DryRun(u64),
    Scan(Box<Setup>),
}

/// Set the scan up, up to the privilege drop (`cfg.senders` is final).
pub fn prepare(cfg: &ScanConfig, resume: Option<&PausedScan>, routed: Routed) -> Result<Ready> {
    let Routed {
        v4: mut routes,
        v6: mut routes6,
    } = routed;
    let space = Space::shared(
        cfg.targets.clone(),
        cfg.ports.clone(),
        cfg.udp_ports.clone(),
    );
    let perm = Permutation::new(space.len(), cfg.seed);
    let shard = Slice::shard(cfg.shard.0, cfg.shard.1);
    let mine = shard.len(space.len());
    let slices: Vec<Slice> = (0..cfg.senders as u64)
        .map(|t| shard.split(t, cfg.senders as u64))
        .collect();
    family::warn_unrouted(cfg, &routes);
    family::warn_unrouted(cfg, &routes6);
    let (key, sport_base) = keys(resume);
    let start = match resume {
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
        return Ok(Ready::DryRun(space.len()));
    }
    check_state_file(cfg)?;
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
    let plan = send::Plan {
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
    if let Some(r) = resume {
        // After a crash, findings written since the checkpoint will be
        // found again: cut them off first.
        r.truncate_outputs()?;
    }
    let writers: Vec<Box<dyn FindingWriter>> = cfg
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
    if !cfg.keep_root {
        crate::net::privilege::drop_privileges().map_err(|e| {
            Error::runtime(format!(
                "cannot drop privileges: {e} (use --keep-root to stay root)"
            ))
        })?;
    }
    Ok(Ready::Scan(Box::new(Setup {
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
        writers,
        rx_socks,
        tx_sets,
        guard,
        resp_tx,
        ident,
    })))
}

/// The cookie key and the first source port. A resumed scan keeps the key
/// but takes source ports apart from the paused run's: connections that
/// run left open (killed while identifying, no RST sent) would otherwise
/// meet our new SYNs on the same four-tuple, and the target would answer
/// those with an ACK of the old connection, not a SYN-ACK (the port would
/// look silent).
fn keys(resume: Option<&PausedScan>) -> (CookieKey, u16) {
    match resume {
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
    }
}

/// A random first source port of [`SPORT_COUNT`] from 61000 up, at least
/// that far from `avoid`.
fn fresh_sport(avoid: Option<u16>) -> u16 {
    loop {
        let b = 61000 + rand::random_range(0..(65536 - 61000 - SPORT_COUNT as u32)) as u16;
        if avoid.is_none_or(|a| b.abs_diff(a) >= SPORT_COUNT) {
            break b;
        }
    }
}

/// Checkpoints go to paused.json: never over another scan's state.
fn check_state_file(cfg: &ScanConfig) -> Result<()> {
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
    Ok(())
}

/// The scan's ports as text (`22,80` for TCP only, `T:22,U:53` mixed).
pub fn port_text(cfg: &ScanConfig) -> String {
    crate::ports::PortSpec {
        tcp: cfg.ports.clone(),
        udp: cfg.udp_ports.clone(),
    }
    .format()
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

/// The senders' live counters, one per sender; identification reads their
/// positions to learn the TCP ports probed on a host so far (all of this
/// shard's share of them once the first pass is over), for the middlebox
/// judgement (see [`crate::identify::session::Sessions::set_ports_of`]).
pub fn progress(
    cfg: &ScanConfig,
    space: &Space,
    plan: &send::Plan,
    ident: &respond::Shared,
) -> Arc<[Progress]> {
    let progress: Arc<[Progress]> = (0..cfg.senders).map(|_| Progress::default()).collect();
    let shard = Slice::shard(cfg.shard.0, cfg.shard.1);
    let of = ShardPorts::new(space.clone(), plan.perm.clone(), shard);
    let live = progress.clone();
    let senders = cfg.senders as u64;
    ident.set_ports_of(PortsOf(Arc::new(move |ip| {
        let first_pass = live.iter().all(|p| p.round.load(Ordering::Relaxed) == 0);
        if !first_pass {
            let total = of.tcp_ports(ip);
            return Probed {
                total,
                so_far: total,
            };
        }
        // A batch of slack: a sender counts a batch as walked only once it
        // has left, and its first replies may come before that.
        let (total, so_far) = of.tcp_ports_walked(ip, senders, |t| {
            live[t].walked.load(Ordering::Relaxed) + send::BATCH as u64
        });
        Probed { total, so_far }
    })));
    progress
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_source_ports_stay_in_range_and_apart() {
        for _ in 0..2000 {
            let b = fresh_sport(None);
            assert!(b >= 61000);
            assert!(b as u32 + SPORT_COUNT as u32 - 1 <= 65535);
            let avoid = 61000 + (b % 4000);
            let c = fresh_sport(Some(avoid));
            assert!(c.abs_diff(avoid) >= SPORT_COUNT, "{c} near {avoid}");
            assert!(c as u32 + SPORT_COUNT as u32 - 1 <= 65535);
        }
    }
}
