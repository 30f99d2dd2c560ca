//! The scan: wires targets, permutation, sender, receiver, correlator, risk
//! and writers together for one run, with the status line, retry rounds,
//! the final wait for late replies, and a clean stop on SIGINT/SIGTERM.

use crate::adaptive::{self, Adaptive};
use crate::cli::ScanArgs;
use crate::cookie::CookieKey;
use crate::correlator::{Answered, Correlator, Expect, PortSet, RetryPlan};
use crate::error::{Error, Result};
use crate::finding::{Finding, PortState};
use crate::output::{self, FindingWriter, Format, ScanMeta};
use crate::permutation::{Permutation, Slice};
use crate::ratelimit::RateLimiter;
use crate::receiver::{self, RxStats};
use crate::resume::PausedScan;
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

    fn pps(self) -> Option<f64> {
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
    pub targets: RangeSet,
    /// The targets as the user wrote them (for reports).
    pub target_text: String,
    pub ports: Vec<u16>,
    pub rate: Rate,
    pub retries: u32,
    pub wait: Duration,
    /// Sender threads, each with its own socket and share of the rate.
    pub senders: usize,
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
    pub quiet: bool,
    pub command_line: String,
    /// The arguments this configuration came from (saved in paused.json).
    pub args: ScanArgs,
}

/// What a scan did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub space: u64,
    /// Probes handed to the kernel by this run.
    pub sent: u64,
    /// Time spent sending (first probe to last).
    pub send_time: Duration,
    pub replies: u64,
    pub open: u64,
    pub closed: u64,
    pub kernel_drops: u64,
    /// Frames the host's input backlog dropped while we scanned (host-wide).
    pub backlog_drops: u64,
    /// Times `--rate max` backed off because replies were being lost.
    pub rate_cuts: u64,
    /// `--rate max`: the rate it settled on and why.
    pub rate_note: Option<String>,
    pub elapsed: Duration,
    /// Where the paused state went, when the scan was interrupted.
    pub paused: Option<PathBuf>,
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

/// The collector: correlate replies, annotate, write. Returns every finding
/// it wrote (kept for paused.json; memory follows replies).
fn collect(
    rx: crossbeam_channel::Receiver<Vec<Reply>>,
    corr: &Mutex<Correlator>,
    risk: &Risk,
    writers: &mut [Box<dyn FindingWriter>],
    show_closed: bool,
    counters: &Counters,
) -> std::io::Result<Vec<Finding>> {
    let mut err = None;
    let mut written = Vec::new();
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
            written.push(f);
        }
    }
    err.map_or(Ok(written), Err)
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

/// SIGINT/SIGTERM handling: the first signal asks for a clean stop (finish
/// the batch, wait for late replies, write paused.json); the second skips
/// the wait; the third exits at once.
struct Signals {
    stop: Arc<AtomicBool>,
    hurry: Arc<AtomicBool>,
    handle: signal_hook::iterator::Handle,
}

impl Signals {
    fn install() -> Result<Signals> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut sigs = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .map_err(|e| Error::runtime(format!("cannot install signal handlers: {e}")))?;
        let (stop, hurry) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let handle = sigs.handle();
        let (s, h) = (stop.clone(), hurry.clone());
        std::thread::spawn(move || {
            for (n, _) in sigs.forever().enumerate() {
                match n {
                    0 => s.store(true, Ordering::SeqCst),
                    1 => h.store(true, Ordering::SeqCst),
                    _ => std::process::exit(130),
                }
            }
        });
        Ok(Signals {
            stop,
            hurry,
            handle,
        })
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.handle.close();
    }
}

/// Run a scan to the end, or until interrupted (then paused.json is written
/// in the working directory). `resume` continues a paused scan.
pub fn run(cfg: &ScanConfig, resume: Option<PausedScan>) -> Result<Summary> {
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
    let shard = Slice::shard(cfg.shard.0, cfg.shard.1);
    let slices: Vec<Slice> = (0..cfg.senders as u64)
        .map(|t| shard.split(t, cfg.senders as u64))
        .collect();
    let first = Ipv4Addr::from(targets.nth(0));
    let path = route::resolve(first, &cfg.overrides, !cfg.dry_run)?;
    if matches!(path.link, Link::Ethernet { .. })
        && path.next_hop == first
        && targets.count() > 1
        && cfg.overrides.router_mac.is_none()
        && !cfg.quiet
    {
        // Every probe goes to one next-hop MAC; on a directly connected
        // network that is the first target's, so other hosts may not see
        // their probes.
        eprintln!(
            "synsweep: warning: the targets are on a directly connected network; every probe goes to {first}'s MAC (give --router-mac to send through a router)"
        );
    }
    let (key, sport_base) = match &resume {
        Some(r) => (
            CookieKey {
                k0: r.key.0,
                k1: r.key.1,
            },
            r.sport_base,
        ),
        None => (
            CookieKey::random(),
            61000 + rand::random_range(0..(65536 - 61000 - SPORT_COUNT as u32)) as u16,
        ),
    };
    let expect = Expect {
        src_ip: u32::from(path.src_ip),
        sport_base,
        sport_count: SPORT_COUNT,
        key,
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
    let mine = shard.len(space);
    let (start_round, mut next): (u32, Vec<u64>) = match &resume {
        Some(r) => (r.round, r.next.clone()),
        None => (0, vec![0; cfg.senders]),
    };
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
            "rate:      {}, retries {}, wait {}s, senders {}, seed {}",
            cfg.rate,
            cfg.retries,
            cfg.wait.as_secs_f64(),
            cfg.senders,
            cfg.seed
        );
        if let Rate::Pps(r) = cfg.rate {
            println!(
                "time:      about {} for the first pass",
                fmt_dur(Duration::from_secs_f64(mine as f64 / r))
            );
        }
        if resume.is_some() {
            println!(
                "resume:    round {start_round}, {} of {mine} positions done",
                next.iter().sum::<u64>()
            );
        }
        return Ok(Summary {
            space,
            ..Default::default()
        });
    }
    let policy = cfg.policy.as_deref().map(Policy::load).transpose()?;
    let risk = Risk::new(policy);
    let appending = resume.is_some();
    let mut writers: Vec<Box<dyn FindingWriter>> = cfg
        .outputs
        .iter()
        .map(|(p, f)| output::open(p, *f, appending))
        .collect::<Result<_>>()?;
    // Documents are rewritten whole: give them what the paused run found.
    if let Some(r) = &resume {
        for w in writers.iter_mut().filter(|w| !w.streams()) {
            for f in &r.findings {
                w.write(f)
                    .map_err(|e| Error::runtime(format!("writing findings: {e}")))?;
            }
        }
    }

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
    let tx_socks: Vec<TxSocket> = (0..cfg.senders)
        .map(|_| match &path.link {
            Link::Ethernet { ifindex, .. } => {
                let s = PacketSocket::open(*ifindex, 0).map_err(|e| socket_error(e, &iface))?;
                let _ = s.set_qdisc_bypass();
                Ok(TxSocket::Packet(s))
            }
            Link::Loopback { .. } => Ok(TxSocket::RawIp(
                RawIpSocket::open().map_err(|e| socket_error(e, &iface))?,
            )),
        })
        .collect::<Result<_>>()?;
    if !cfg.keep_root {
        crate::privilege::drop_privileges().map_err(|e| {
            Error::runtime(format!(
                "cannot drop privileges: {e} (use --keep-root to stay root)"
            ))
        })?;
    }

    let signals = Signals::install()?;
    let stop = &*signals.stop;
    let stop_rx = AtomicBool::new(false);
    let rxstats = RxStats::default();
    let counters = Counters {
        open: AtomicU64::new(0),
        closed: AtomicU64::new(0),
        valid: AtomicU64::new(0),
    };
    let progress: Vec<Progress> = (0..cfg.senders).map(|_| Progress::default()).collect();
    let mut answered = Answered::default();
    if let Some(r) = &resume {
        for &k in &r.answered {
            answered.insert((k >> 16) as u32, k as u16);
        }
    }
    let corr = Mutex::new(Correlator::with_answered(expect, answered));
    // synsweep-rate (issue 13): `--rate max` starts at the controller's safe
    // rate, not unlimited (a first burst would spoil its baseline).
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
    // synsweep-rate (issue 13): begin. `--rate max` without --retries adds
    // one retry round over what its controller saw lost while it learned
    // (RetryPlan::lossy) and the silent ports of live hosts, not the silent
    // space. Positions walked per tick map the controller's lossy ticks to
    // positions.
    let ramp_retry = cfg.rate == Rate::Max && cfg.args.retries.is_none();
    let retries = if ramp_retry {
        cfg.retries.max(1)
    } else {
        cfg.retries
    };
    let mut walked_hist: Vec<Vec<u64>> = Vec::new();
    let round0_from = next.clone();
    let mut lossy: Vec<Vec<std::ops::Range<u64>>> = vec![Vec::new(); cfg.senders];
    // synsweep-rate: end
    let backlog0 = adaptive::backlog_drops().unwrap_or(0);
    let backlog_now = || adaptive::backlog_drops().map_or(0, |d| d.saturating_sub(backlog0));
    let started = Instant::now();
    let started_wall = SystemTime::now();
    let live = !cfg.quiet && std::io::stderr().is_terminal();
    let sent_now = || {
        progress
            .iter()
            .map(|p| p.sent.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let walked_now = || {
        progress
            .iter()
            .map(|p| p.walked.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let status = |phase: &str, pct: f64, eta: Option<Duration>, rate: f64| {
        if !live {
            return;
        }
        let line = format!(
            "{phase} {:5.1}% | {} | sent {} | replies {} | open {} | drops {}+{} | left {}",
            pct,
            fmt_rate(rate),
            sent_now(),
            counters.valid.load(Ordering::Relaxed),
            counters.open.load(Ordering::Relaxed),
            rxstats.kernel_drops.load(Ordering::Relaxed),
            backlog_now(),
            eta.map(fmt_dur).unwrap_or_else(|| "-".into()),
        );
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[2K{line}");
        let _ = e.flush();
    };

    let mut interrupted_round = None;
    let mut io_err: Option<Error> = None;
    let mut send_time = Duration::ZERO;
    let collect_res = std::thread::scope(|s| {
        let (tx, rx) = crossbeam_channel::bounded::<Vec<Reply>>(1 << 14);
        let rxh = s.spawn(|| receiver::run(rx_sock, tx, &stop_rx, &rxstats));
        let w = &mut writers;
        let (corr_ref, risk_ref, counters_ref) = (&corr, &risk, &counters);
        let ch = s.spawn(move || collect(rx, corr_ref, risk_ref, w, cfg.show_closed, counters_ref));
        let tick = Duration::from_millis(if live { 100 } else { 50 });
        for round in start_round..=retries {
            let retry = (round > 0).then(|| RetryPlan {
                answered: Arc::new(corr.lock().unwrap().answered().clone()),
                round,
                nports: cfg.ports.len() as u64,
                lossy: Arc::from([]),
                silent_hosts: !ramp_retry,
            });
            if let (1.., Some(a)) = (round, adaptive.as_mut()) {
                a.new_round();
            }
            let round_start = Instant::now();
            let handles: Vec<_> = (0..cfg.senders)
                .map(|t| {
                    let (plan, sock, lim, prog, retry, slice, from) = (
                        &plan,
                        &tx_socks[t],
                        &limiters[t],
                        &progress[t],
                        retry.clone().map(|r| RetryPlan {
                            lossy: Arc::from(lossy[t].clone()),
                            ..r
                        }),
                        slices[t],
                        next[t],
                    );
                    prog.walked.store(from, Ordering::Relaxed);
                    s.spawn(move || {
                        let mut lim = lim.lock().unwrap();
                        lim.restart();
                        sender::run(
                            plan,
                            sock,
                            slice,
                            from,
                            round,
                            retry.as_ref(),
                            &mut lim,
                            stop,
                            prog,
                        )
                    })
                })
                .collect();
            let phase = if round == 0 {
                "scan".to_string()
            } else {
                format!("retry {round}/{retries}")
            };
            let (mut last_t, mut last_sent) = (Instant::now(), sent_now());
            let mut rate = 0.0;
            let mut seen = (
                Instant::now(),
                sent_now(),
                rxstats.frames.load(Ordering::Relaxed),
                rxstats.kernel_drops.load(Ordering::Relaxed) + backlog_now(),
            );
            while handles.iter().any(|h| !h.is_finished()) {
                std::thread::sleep(tick);
                let now = Instant::now();
                let sent = sent_now();
                if let Some(a) = adaptive.as_mut() {
                    let obs = (
                        now,
                        sent,
                        rxstats.frames.load(Ordering::Relaxed),
                        rxstats.kernel_drops.load(Ordering::Relaxed) + backlog_now(),
                    );
                    let tk = adaptive::Tick {
                        dt: obs.0 - seen.0,
                        sent: obs.1 - seen.1,
                        replies: obs.2 - seen.2,
                        drops: obs.3 - seen.3,
                    };
                    let cap = a.update(tk);
                    seen = obs;
                    if round == 0 {
                        walked_hist.push(
                            progress
                                .iter()
                                .map(|p| p.walked.load(Ordering::Relaxed))
                                .collect(),
                        );
                    }
                    let per = cap.map_or(sender::CAP_UNLIMITED, |c| {
                        ((c / cfg.senders as f64) as u64).max(1)
                    });
                    progress
                        .iter()
                        .for_each(|p| p.cap.store(per, Ordering::Relaxed));
                }
                // The shown rate is over the last second; before the first
                // second is over, over what there is.
                let span = (now - last_t).as_secs_f64();
                if span >= 0.9 || rate == 0.0 {
                    rate = (sent - last_sent) as f64 / span.max(1e-3);
                }
                if span >= 0.9 {
                    (last_t, last_sent) = (now, sent);
                }
                let walked = walked_now();
                let pct = 100.0 * walked as f64 / mine.max(1) as f64;
                let eta = (round == 0 && rate > 0.0)
                    .then(|| Duration::from_secs_f64(mine.saturating_sub(walked) as f64 / rate));
                match adaptive.as_ref() {
                    Some(a) => status(&format!("{phase} [{}]", a.status()), pct, eta, rate),
                    None => status(&phase, pct, eta, rate),
                }
            }
            for (t, h) in handles.into_iter().enumerate() {
                match h.join().expect("sender thread panicked") {
                    Ok(j) => next[t] = j,
                    Err(e) => {
                        io_err.get_or_insert(Error::runtime(format!(
                            "sending on {iface} failed: {e}"
                        )));
                    }
                }
            }
            send_time += round_start.elapsed();
            if io_err.is_some() {
                break;
            }
            if let (0, Some(a)) = (round, adaptive.as_ref()) {
                walked_hist.push(next.clone());
                lossy = adaptive::lossy_positions(a.lossy_ticks(), &walked_hist, &round0_from);
            }
            if stop.load(Ordering::SeqCst) {
                interrupted_round = Some(round);
                break;
            }
            next.iter_mut().for_each(|j| *j = 0);
            if round < retries {
                let until = Instant::now() + cfg.wait.min(Duration::from_secs(1));
                while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(tick);
                    status(&phase, 100.0, None, 0.0);
                }
                if stop.load(Ordering::SeqCst) {
                    // Interrupted between rounds: the next round starts from scratch.
                    interrupted_round = Some(round + 1);
                    break;
                }
            }
        }
        // Late replies (a second signal cuts the wait short).
        let until = Instant::now() + cfg.wait;
        while Instant::now() < until && !signals.hurry.load(Ordering::SeqCst) {
            std::thread::sleep(tick);
            let left = until.saturating_duration_since(Instant::now());
            status(
                if interrupted_round.is_some() {
                    "pausing"
                } else {
                    "waiting"
                },
                100.0,
                Some(left),
                0.0,
            );
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
    let sent = sent_now();
    let meta = ScanMeta {
        command: cfg.command_line.clone(),
        started: started_wall,
        finished: SystemTime::now(),
        targets: cfg.target_text.clone(),
        ports: crate::ports::format_ports(&cfg.ports),
        seed: cfg.seed,
        rate: cfg.rate.to_string(),
        probes_sent: sent + resume.as_ref().map_or(0, |r| r.sent),
    };
    for w in writers.iter_mut() {
        w.finish(&meta)
            .map_err(|e| Error::runtime(format!("writing findings: {e}")))?;
    }
    let written = collect_res.map_err(|e| Error::runtime(format!("writing findings: {e}")))?;
    if let Some(e) = io_err {
        return Err(e);
    }
    // The correlator's answered set is the largest thing a wide scan holds
    // (it follows replies): keep only what the end needs, so its tables are
    // freed before paused.json is serialized.
    let corr = corr.into_inner().unwrap();
    let c = corr.stats();
    let answered: Vec<u64> = if interrupted_round.is_some() {
        corr.answered()
            .pairs()
            .map(|(ip, p)| ((ip as u64) << 16) | p as u64)
            .collect()
    } else {
        Vec::new()
    };
    drop(corr);
    let mut paused = None;
    if let Some(round) = interrupted_round {
        let mut findings = resume
            .as_ref()
            .map(|r| r.findings.clone())
            .unwrap_or_default();
        findings.extend(written);
        let state = PausedScan {
            version: crate::resume::VERSION,
            // The sender count is pinned: its default depends on the rate,
            // which a resume may change, and positions are per sender.
            args: ScanArgs {
                senders: Some(cfg.senders),
                ..absolute_paths(&cfg.args)
            },
            space,
            seed: cfg.seed,
            shard: cfg.shard,
            key: (key.k0, key.k1),
            sport_base,
            round,
            next: next.clone(),
            sent: meta.probes_sent,
            answered,
            findings,
        };
        let file = std::env::current_dir()
            .map(|d| d.join("paused.json"))
            .unwrap_or_else(|_| PathBuf::from("paused.json"));
        state
            .save(&file)
            .map_err(|e| Error::runtime(format!("cannot write {}: {e}", file.display())))?;
        paused = Some(file);
    } else if let Some(p) = cfg.args.resume.as_ref() {
        // The resumed scan is complete: its paused state is spent.
        let _ = std::fs::remove_file(p);
    }
    Ok(Summary {
        space,
        sent,
        send_time,
        replies: c.open + c.closed,
        open: c.open,
        closed: c.closed,
        kernel_drops: rxstats.kernel_drops.load(Ordering::Relaxed),
        backlog_drops: backlog_now(),
        rate_cuts: adaptive.as_ref().map_or(0, Adaptive::cuts),
        rate_note: adaptive.as_ref().map(Adaptive::status),
        elapsed: started.elapsed(),
        paused,
    })
}

/// The arguments with every file path made absolute, so a resume works from
/// any directory.
fn absolute_paths(a: &ScanArgs) -> ScanArgs {
    let abs = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut a = a.clone();
    a.targets_file = a.targets_file.iter().map(|p| abs(p)).collect();
    a.exclude_file = a.exclude_file.iter().map(|p| abs(p)).collect();
    a.policy = a.policy.as_deref().map(abs);
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

impl Summary {
    /// The one summary line printed at the end.
    pub fn line(&self, seed: u64) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        format!(
            "synsweep: {} probes for {} pairs in {:.1}s ({} while sending), {} replies, {} open, {} closed, {} kernel drops, {} backlog drops, {} rate cuts{}, seed {seed}{}",
            self.sent,
            self.space,
            secs,
            fmt_rate(self.sent as f64 / self.send_time.as_secs_f64().max(1e-9)),
            self.replies,
            self.open,
            self.closed,
            self.kernel_drops,
            self.backlog_drops,
            self.rate_cuts,
            self.rate_note
                .as_ref()
                .map_or(String::new(), |n| format!(" ({n})")),
            match &self.paused {
                Some(p) => format!(
                    " (paused: resume with synsweep scan --resume {})",
                    p.display()
                ),
                None => String::new(),
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
        assert_eq!(Rate::parse("unlimited").unwrap(), Rate::Unlimited);
        for bad in ["fast", "0", "-5", "1e400", ""] {
            assert_eq!(Rate::parse(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
    }
}
