//! The scan: wires targets, permutation, sender, receiver, correlator, risk
//! and writers together for one run, with the status line, retry rounds,
//! the final wait for late replies, and a clean stop on SIGINT/SIGTERM.

use crate::cookie::CookieKey;
use crate::correlator::{Answered, Correlator, Expect, PortSet, RetryPlan};
use crate::error::{Error, Result};
use crate::finding::{Finding, PortState};
use crate::output::{self, FindingWriter, Format, ScanMeta};
use crate::permutation::{Permutation, Slice};
use crate::ratelimit::RateLimiter;
use crate::receiver::{self, RxStats};
use crate::risk::{Policy, Risk};
use crate::route::{self, Link, Overrides};
use crate::sender::{self, Plan, Progress};
use crate::sys::{self, PacketSocket, RawIpSocket, TxSocket};
use crate::targets::RangeSet;
use crate::wire::probe::{Framing, ProbeTemplate};
use crate::wire::reply::Reply;
use std::io::{IsTerminal, Write};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Number of source ports probes come from (one per retry round, cycling).
pub const SPORT_COUNT: u16 = 16;

/// How fast to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    Pps(f64),
    /// As fast as the kernel takes them.
    Max,
}

impl Rate {
    pub fn parse(s: &str) -> Result<Rate> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Rate::Max);
        }
        let v: f64 = s
            .trim_end_matches(['k', 'K', 'm', 'M'])
            .parse()
            .map_err(|_| {
                Error::input(format!(
                    "invalid rate '{s}': want packets per second (e.g. 50000, 100k, 1.5M) or 'max'"
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

    fn pps(self) -> Option<f64> {
        match self {
            Rate::Pps(v) => Some(v),
            Rate::Max => None,
        }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rate::Pps(v) => write!(f, "{v}"),
            Rate::Max => f.write_str("max"),
        }
    }
}

/// Everything that shapes one scan, resolved from the command line.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub targets: RangeSet,
    /// The targets as the user wrote them (for reports).
    pub target_text: String,
    pub ports: Vec<u16>,
    pub rate: Rate,
    pub retries: u32,
    pub wait: Duration,
    pub seed: u64,
    /// Shard index (0-based) and count.
    pub shard: (u64, u64),
    pub overrides: Overrides,
    pub show_closed: bool,
    pub outputs: Vec<(String, Format)>,
    pub policy: Option<PathBuf>,
    pub dry_run: bool,
    pub quiet: bool,
    pub command_line: String,
}

/// What a scan did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub space: u64,
    pub sent: u64,
    pub replies: u64,
    pub open: u64,
    pub closed: u64,
    pub kernel_drops: u64,
    pub elapsed: Duration,
    pub interrupted: bool,
}

/// Turn a socket error into the user's error: permission problems say how
/// to fix them.
pub fn socket_error(e: std::io::Error, iface: &str) -> Error {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        Error::runtime(format!(
            "permission denied opening a raw socket on {iface}: run as root or give the binary CAP_NET_RAW (setcap cap_net_raw+ep)"
        ))
    } else {
        Error::runtime(format!("cannot open a raw socket on {iface}: {e}"))
    }
}

struct Counters {
    open: AtomicU64,
    closed: AtomicU64,
    valid: AtomicU64,
}

fn collect(
    rx: crossbeam_channel::Receiver<Vec<Reply>>,
    corr: &Mutex<Correlator>,
    risk: &Risk,
    writers: &mut [Box<dyn FindingWriter>],
    show_closed: bool,
    counters: &Counters,
) -> std::io::Result<()> {
    let mut err = None;
    for batch in rx {
        let mut c = corr.lock().unwrap();
        for r in &batch {
            let Ok(ev) = c.handle(r) else { continue };
            counters.valid.fetch_add(1, Ordering::Relaxed);
            match ev.state {
                PortState::Open => counters.open.fetch_add(1, Ordering::Relaxed),
                PortState::Closed => counters.closed.fetch_add(1, Ordering::Relaxed),
            };
            if ev.state == PortState::Closed && !show_closed {
                continue;
            }
            let mut f = Finding::observed(
                Ipv4Addr::from(ev.ip),
                ev.port,
                ev.state,
                ev.ttl,
                SystemTime::now(),
            );
            risk.annotate(&mut f);
            for w in writers.iter_mut() {
                if let Err(e) = w.write(&f) {
                    err.get_or_insert(e);
                }
            }
        }
    }
    err.map_or(Ok(()), Err)
}

fn fmt_rate(pps: f64) -> String {
    if pps >= 1e6 {
        format!("{:.2} Mpps", pps / 1e6)
    } else if pps >= 1e3 {
        format!("{:.1} kpps", pps / 1e3)
    } else {
        format!("{pps:.0} pps")
    }
}

fn fmt_dur(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Run a scan to the end (or until interrupted).
pub fn run(cfg: &ScanConfig) -> Result<Summary> {
    if cfg.targets.is_empty() {
        return Err(Error::input(
            "no targets left to scan (all excluded or reserved)",
        ));
    }
    if cfg.ports.is_empty() {
        return Err(Error::input("no ports to scan"));
    }
    let targets = Arc::new(cfg.targets.clone());
    let space = targets.count() * cfg.ports.len() as u64;
    let perm = Permutation::new(space, cfg.seed);
    let slice = Slice::shard(cfg.shard.0, cfg.shard.1);
    let first = Ipv4Addr::from(targets.nth(0));
    let path = route::resolve(first, &cfg.overrides, !cfg.dry_run)?;
    let sport_base = 61000 + rand::random_range(0..(65536 - 61000 - SPORT_COUNT as u32)) as u16;
    let expect = Expect {
        src_ip: u32::from(path.src_ip),
        sport_base,
        sport_count: SPORT_COUNT,
        key: CookieKey::random(),
        targets: targets.clone(),
        ports: Arc::new(PortSet::new(&cfg.ports)),
    };
    let (framing, iface) = match &path.link {
        Link::Ethernet {
            iface,
            src_mac,
            next_hop_mac,
            ..
        } => (
            Framing::Ethernet {
                src: *src_mac,
                dst: *next_hop_mac,
            },
            iface.clone(),
        ),
        Link::Loopback { .. } => (Framing::Ip, "lo".to_string()),
    };
    let plan = Plan {
        perm,
        targets: targets.clone(),
        ports: Arc::new(cfg.ports.clone()),
        expect: expect.clone(),
        template: ProbeTemplate::new(framing, path.src_ip),
    };
    let mine = slice.len(space);
    if cfg.dry_run {
        let hop = match &path.link {
            Link::Ethernet { next_hop_mac, .. } => format!("{} ({next_hop_mac})", path.next_hop),
            Link::Loopback { .. } => "loopback (raw IP socket)".to_string(),
        };
        println!(
            "targets:   {} addresses ({})",
            targets.count(),
            cfg.target_text
        );
        println!(
            "ports:     {} ({})",
            cfg.ports.len(),
            crate::ports::format_ports(&cfg.ports)
        );
        println!(
            "space:     {space} probes, this shard {}/{}: {mine}",
            cfg.shard.0 + 1,
            cfg.shard.1
        );
        println!("interface: {iface}, source {}, next hop {hop}", path.src_ip);
        println!(
            "rate:      {}, retries {}, wait {}s, seed {}",
            cfg.rate,
            cfg.retries,
            cfg.wait.as_secs_f64(),
            cfg.seed
        );
        if let Rate::Pps(r) = cfg.rate {
            println!(
                "time:      about {} for the first pass",
                fmt_dur(Duration::from_secs_f64(mine as f64 / r))
            );
        }
        return Ok(Summary {
            space,
            ..Default::default()
        });
    }
    let policy = cfg.policy.as_deref().map(Policy::load).transpose()?;
    let risk = Risk::new(policy);
    let mut writers: Vec<Box<dyn FindingWriter>> = cfg
        .outputs
        .iter()
        .map(|(p, f)| output::open(p, *f, false))
        .collect::<Result<_>>()?;

    // Sockets: the receiver first, so no early reply is missed.
    let ifindex = match &path.link {
        Link::Ethernet { ifindex, .. } | Link::Loopback { ifindex } => *ifindex,
    };
    let rx_sock =
        PacketSocket::open(ifindex, sys::ETH_P_IP).map_err(|e| socket_error(e, &iface))?;
    rx_sock
        .attach_filter(&receiver::filter(
            expect.src_ip,
            sport_base,
            sport_base + SPORT_COUNT - 1,
        ))
        .map_err(|e| Error::runtime(format!("cannot attach the capture filter on {iface}: {e}")))?;
    let _ = rx_sock.set_recv_buffer(64 << 20);
    rx_sock
        .set_recv_timeout(Duration::from_millis(50))
        .map_err(|e| socket_error(e, &iface))?;
    let tx_sock = match &path.link {
        Link::Ethernet { ifindex, .. } => {
            let s = PacketSocket::open(*ifindex, 0).map_err(|e| socket_error(e, &iface))?;
            let _ = s.set_qdisc_bypass();
            TxSocket::Packet(s)
        }
        Link::Loopback { .. } => {
            TxSocket::RawIp(RawIpSocket::open().map_err(|e| socket_error(e, &iface))?)
        }
    };

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal exits at once; the first asks for a clean stop.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone());
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    let stop_rx = AtomicBool::new(false);
    let rxstats = RxStats::default();
    let counters = Counters {
        open: AtomicU64::new(0),
        closed: AtomicU64::new(0),
        valid: AtomicU64::new(0),
    };
    let progress = Progress::default();
    let corr = Mutex::new(Correlator::with_answered(expect, Answered::default()));
    let limiter = Mutex::new(RateLimiter::new(cfg.rate.pps()));
    let started = Instant::now();
    let started_wall = SystemTime::now();
    let live = !cfg.quiet && std::io::stderr().is_terminal();
    let status = |phase: &str, pct: f64, eta: Option<Duration>, rate: f64| {
        if !live {
            return;
        }
        let line = format!(
            "{phase} {:5.1}% | {} | sent {} | replies {} | open {} | drops {} | left {}",
            pct,
            fmt_rate(rate),
            progress.sent.load(Ordering::Relaxed),
            counters.valid.load(Ordering::Relaxed),
            counters.open.load(Ordering::Relaxed),
            rxstats.kernel_drops.load(Ordering::Relaxed),
            eta.map(fmt_dur).unwrap_or_else(|| "-".into()),
        );
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[2K{line}");
        let _ = e.flush();
    };

    let mut interrupted = false;
    let mut io_err: Option<Error> = None;
    let collect_res = std::thread::scope(|s| {
        let (tx, rx) = crossbeam_channel::bounded::<Vec<Reply>>(1 << 14);
        let rxh = s.spawn(|| receiver::run(rx_sock, tx, &stop_rx, &rxstats));
        let w = &mut writers;
        let (corr_ref, risk_ref, counters_ref) = (&corr, &risk, &counters);
        let ch = s.spawn(move || collect(rx, corr_ref, risk_ref, w, cfg.show_closed, counters_ref));
        let tick = Duration::from_millis(if live { 250 } else { 100 });
        'rounds: for round in 0..=cfg.retries {
            let retry = (round > 0).then(|| RetryPlan {
                answered: Arc::new(corr.lock().unwrap().answered().clone()),
                round,
                nports: cfg.ports.len() as u64,
            });
            limiter.lock().unwrap().restart();
            progress.walked.store(0, Ordering::Relaxed);
            let (lim, plan_ref, tx_ref, stop_ref, prog_ref) =
                (&limiter, &plan, &tx_sock, &*stop, &progress);
            let sh = s.spawn(move || {
                let mut lim = lim.lock().unwrap();
                sender::run(
                    plan_ref,
                    tx_ref,
                    slice,
                    0,
                    round,
                    retry.as_ref(),
                    &mut lim,
                    stop_ref,
                    prog_ref,
                )
            });
            let phase = if round == 0 {
                "scan".to_string()
            } else {
                format!("retry {round}/{}", cfg.retries)
            };
            let (mut last_t, mut last_sent) =
                (Instant::now(), progress.sent.load(Ordering::Relaxed));
            let mut rate = 0.0;
            while !sh.is_finished() {
                std::thread::sleep(tick);
                let now = Instant::now();
                let sent = progress.sent.load(Ordering::Relaxed);
                if now - last_t >= Duration::from_millis(900) {
                    rate = (sent - last_sent) as f64 / (now - last_t).as_secs_f64();
                    (last_t, last_sent) = (now, sent);
                }
                let walked = progress.walked.load(Ordering::Relaxed);
                let pct = 100.0 * walked as f64 / mine.max(1) as f64;
                let eta = (round == 0 && rate > 0.0)
                    .then(|| Duration::from_secs_f64((mine - walked.min(mine)) as f64 / rate));
                status(&phase, pct, eta, rate);
            }
            match sh.join().expect("sender thread panicked") {
                Ok(_) => {}
                Err(e) => {
                    io_err = Some(Error::runtime(format!("sending on {iface} failed: {e}")));
                    break 'rounds;
                }
            }
            if stop.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            if round < cfg.retries {
                let until = Instant::now() + cfg.wait.min(Duration::from_secs(1));
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    status(&phase, 100.0, None, 0.0);
                }
            }
        }
        // Late replies.
        let until = Instant::now() + cfg.wait;
        while Instant::now() < until {
            std::thread::sleep(tick);
            let left = until.saturating_duration_since(Instant::now());
            status("waiting", 100.0, Some(left), 0.0);
        }
        stop_rx.store(true, Ordering::Relaxed);
        if let Err(e) = rxh.join().expect("receiver thread panicked") {
            io_err.get_or_insert(Error::runtime(format!("receiving on {iface} failed: {e}")));
        }
        ch.join().expect("collector thread panicked")
    });
    if live {
        eprint!("\r\x1b[2K");
    }
    let meta = ScanMeta {
        command: cfg.command_line.clone(),
        started: started_wall,
        finished: SystemTime::now(),
        targets: cfg.target_text.clone(),
        ports: crate::ports::format_ports(&cfg.ports),
        seed: cfg.seed,
        rate: cfg.rate.to_string(),
        probes_sent: progress.sent.load(Ordering::Relaxed),
    };
    for w in writers.iter_mut() {
        w.finish(&meta)
            .map_err(|e| Error::runtime(format!("writing findings: {e}")))?;
    }
    collect_res.map_err(|e| Error::runtime(format!("writing findings: {e}")))?;
    if let Some(e) = io_err {
        return Err(e);
    }
    Ok(Summary {
        space,
        sent: progress.sent.load(Ordering::Relaxed),
        replies: counters.valid.load(Ordering::Relaxed),
        open: counters.open.load(Ordering::Relaxed),
        closed: counters.closed.load(Ordering::Relaxed),
        kernel_drops: rxstats.kernel_drops.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        interrupted,
    })
}

impl Summary {
    /// The one summary line printed at the end.
    pub fn line(&self, seed: u64) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        format!(
            "synsweep: {} probes for {} pairs in {:.1}s ({}), {} replies, {} open, {} closed, {} kernel drops, seed {seed}{}",
            self.sent,
            self.space,
            secs,
            fmt_rate(self.sent as f64 / secs),
            self.replies,
            self.open,
            self.closed,
            self.kernel_drops,
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_parsing() {
        assert_eq!(Rate::parse("50000").unwrap(), Rate::Pps(50000.0));
        assert_eq!(Rate::parse("100k").unwrap(), Rate::Pps(100_000.0));
        assert_eq!(Rate::parse("1.5M").unwrap(), Rate::Pps(1_500_000.0));
        assert_eq!(Rate::parse("max").unwrap(), Rate::Max);
        for bad in ["fast", "0", "-5", "1e400", ""] {
            assert_eq!(Rate::parse(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
    }
}
