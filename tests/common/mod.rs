//! The lab every integration test runs in (see DESIGN.md, "The lab").
//!
//! A thin caller of `scripts/lab.sh`, the one lab implementation (also used
//! by the demo and benchmark scripts): [`LabBuilder::build`] runs
//! `scripts/lab.sh up NAME --owner PID ...`, parses the `key=value` lines it
//! prints, and dropping the [`Lab`] (also when the test panics) runs
//! `scripts/lab.sh down NAME`, which stops its daemons and deletes its
//! namespaces. NAME is `r{pid}_{counter}`, unique per test; labs of test
//! processes that died before their Drop ran are swept (`lab.sh sweep`) when
//! the next test process builds its first lab, and their daemons exit on
//! their own once the owner pid is gone.
//!
//! The shapes (all closed: no default route, no link out of the lab, only
//! 198.18.0.0/15 addresses; see the head of scripts/lab.sh for every detail):
//!
//! ```text
//!   veth      scanner ns 198.18.0.1/30 <--veth--> target ns 198.18.0.2/30
//!             198.19.0.0/16 via 198.18.0.2         local 198.19.0.0/16 dev lo
//!             (.scanners(n): n scanner namespaces, scanner k at
//!              198.18.0.(4k+1)/30, all linked to the one target)
//!   loopback  one namespace with only lo (scan 127.0.0.1)
//!   lan       scanner 198.18.1.1/24 on a bridge (switch ns) with a dozen host
//!             namespaces, each with its own MAC, a scattered address of
//!             198.18.1.0/24 and its own subset of the listening ports
//!   vpn       scanner's only link is a tun (no Ethernet header) 198.18.0.1/30,
//!             relayed by scripts/tunrelay.py to a tun in the target namespace
//!             (198.18.0.2, local 198.19.0.0/16 as in veth)
//!   twopath   scanner: veth a 198.18.0.1/30 -> target A 198.18.0.2 answers
//!             198.19.0.0/17; veth b 198.18.0.5/30 -> target B 198.18.0.6
//!             answers 198.19.128.0/17; one route per half
//! ```
//!
//! In the target ranges, listening sockets on 0.0.0.0 make a port open on
//! every alive host; a port nobody listens on is closed (RST); a host that is
//! not alive is silent (nftables drops everything sent to it). Optionally a
//! share of the inbound SYNs is dropped at random, or the target veth becomes
//! a sink that drops every frame at ingress.
//!
//! Every failure while building a lab panics with lab.sh's message: lab
//! tests fail, they never skip.

#![allow(dead_code)]

pub mod chromium;
pub mod daemons;
pub mod findings;
pub mod forge;
pub mod hostile_lab;
pub mod run;
pub mod schema;
pub mod sshd;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The scanner's address in the veth lab.
pub const SCANNER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The target namespace's veth address: the scanner's gateway.
pub const GATEWAY_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The simulated internet the target namespace answers for.
pub const TARGET_RANGE: &str = "198.19.0.0/16";
/// MAC address of the scanner's veth (locally administered).
pub const SCANNER_MAC: [u8; 6] = [0x02, 0x53, 0x53, 0x57, 0x00, 0x01];
/// MAC address of the target's veth, i.e. the scanner's router MAC.
pub const TARGET_MAC: [u8; 6] = [0x02, 0x53, 0x53, 0x57, 0x00, 0x02];
/// The LAN lab's network, shared by the scanner and every host.
pub const LAN_NET: &str = "198.18.1.0/24";
/// The scanner's address in the LAN lab.
pub const LAN_SCANNER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
/// The scanner's IPv6 address (veth lab with `.ipv6(..)`).
pub const SCANNER_ADDR6: &str = "2001:2:0:ff::1";
/// The IPv6 range the target namespace answers for (veth lab with `.ipv6(..)`).
pub const TARGET_RANGE6: &str = "2001:2::/64";
/// The two halves of [`TARGET_RANGE`] in the two-path lab, path 0 and path 1.
pub const PATH_RANGES: [&str; 2] = ["198.19.0.0/17", "198.19.128.0/17"];

const TARGET_NET: u32 = 0xc613_0000; // 198.19.0.0
const TARGET_NET_MASK: u32 = 0xffff_0000; // /16

/// The one lab implementation.
pub const LAB_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lab.sh");

static COUNTER: AtomicUsize = AtomicUsize::new(0);
static SWEEP: Once = Once::new();

/// How a lab is set up. Start with [`Lab::builder`].
#[derive(Clone, Debug)]
pub struct LabBuilder {
    ports: Vec<u16>,
    alive_mask: Ipv4Addr,
    alive_value: Ipv4Addr,
    loss_percent: u8,
    sink: bool,
    backlog: u16,
    scanners: usize,
    hosts: usize,
    sources: usize,
    /// IPv6 next to IPv4 (veth lab), and its alive mask (`::3`: one host
    /// in four of 2001:2::/64 answers).
    ipv6: Option<Option<String>>,
    /// TX and RX queues of every veth (`lab.sh --queues`).
    queues: usize,
}

/// Most scanner namespaces one lab may have (each takes a /30 of 198.18.0.0/24).
pub const MAX_SCANNERS: usize = 16;

impl Default for LabBuilder {
    fn default() -> Self {
        LabBuilder {
            ports: Vec::new(),
            alive_mask: Ipv4Addr::UNSPECIFIED,
            alive_value: Ipv4Addr::UNSPECIFIED,
            loss_percent: 0,
            sink: false,
            backlog: 65535,
            scanners: 1,
            hosts: 12,
            sources: 0,
            ipv6: None,
            queues: 1,
        }
    }
}

impl LabBuilder {
    /// Give every veth `n` TX and RX queues (`lab.sh --queues`): one
    /// AF_XDP sender per queue.
    pub fn queues(mut self, n: usize) -> Self {
        self.queues = n;
        self
    }

    /// Ports with a listener on 0.0.0.0 in the target namespace (open on
    /// every alive host; in the LAN lab each host listens on a subset). May be
    /// called more than once.
    pub fn listen(mut self, ports: &[u16]) -> Self {
        for &p in ports {
            assert!(p != 0, "lab: port 0 cannot listen");
            if !self.ports.contains(&p) {
                self.ports.push(p);
            }
        }
        self
    }

    /// A host of 198.19.0.0/16 is alive iff `(addr & mask) == value`; all
    /// others are silent. Default: mask 0.0.0.0, every host alive.
    /// `alive_mask("0.0.0.3", "0.0.0.0")` keeps one host in four.
    pub fn alive_mask(mut self, mask: &str, value: &str) -> Self {
        let mask: Ipv4Addr = mask
            .parse()
            .unwrap_or_else(|e| panic!("lab: mask {mask:?}: {e}"));
        let value: Ipv4Addr = value
            .parse()
            .unwrap_or_else(|e| panic!("lab: value {value:?}: {e}"));
        assert!(
            u32::from(value) & !u32::from(mask) == 0,
            "lab: alive value {value} has bits outside mask {mask}"
        );
        self.alive_mask = mask;
        self.alive_value = value;
        self
    }

    /// Drop this percentage (0-100) of the SYNs arriving at the target, at
    /// random (`numgen random mod 100 < P drop`).
    pub fn syn_loss_percent(mut self, percent: u8) -> Self {
        assert!(percent <= 100, "lab: loss {percent}% > 100%");
        self.loss_percent = percent;
        self
    }

    /// Sink mode: a netdev ingress hook on the target veth drops every frame
    /// (for sender-only speed tests). Nothing ever answers.
    pub fn sink(mut self, on: bool) -> Self {
        self.sink = on;
        self
    }

    /// The listen() backlog of every listener (default 65535, with
    /// somaxconn raised to match). The SYN queue of a listener holds this many half-open
    /// connections; past it the kernel answers with syncookies.
    pub fn listen_backlog(mut self, backlog: u16) -> Self {
        assert!(backlog > 0, "lab: backlog 0");
        self.backlog = backlog;
        self
    }

    /// Number of scanner namespaces (1 to [`MAX_SCANNERS`], default 1), each
    /// linked to the one target namespace by its own veth pair: scanner `k`
    /// at 198.18.0.(4k+1)/30, its gateway at 198.18.0.(4k+2). Veth lab only.
    pub fn scanners(mut self, n: usize) -> Self {
        assert!(
            (1..=MAX_SCANNERS).contains(&n),
            "lab: {n} scanners, want 1 to {MAX_SCANNERS}"
        );
        self.scanners = n;
        self
    }

    /// Number of host namespaces of the LAN lab (1 to 200, default 12).
    pub fn hosts(mut self, n: usize) -> Self {
        assert!((1..=200).contains(&n), "lab: {n} LAN hosts, want 1 to 200");
        self.hosts = n;
        self
    }

    /// Give the scanner (veth lab, scanner 0) `n` more addresses (0 to 16),
    /// 198.18.2.1 to 198.18.2.n, for `--source-ip` lists; the target routes
    /// them back and counts the SYNs from each (`Lab::counter("syn_src_K")`).
    pub fn sources(mut self, n: usize) -> Self {
        assert!(n <= 16, "lab: {n} extra sources, want 0 to 16");
        self.sources = n;
        self
    }

    /// IPv6 next to IPv4 on the veth lab (`lab.sh --ipv6`): the scanner at
    /// [`SCANNER_ADDR6`], the target answering for [`TARGET_RANGE6`]; with
    /// `alive_mask6` (`"::3"`) an IPv6 host is alive iff `addr & mask == 0`.
    pub fn ipv6(mut self, alive_mask6: Option<&str>) -> Self {
        self.ipv6 = Some(alive_mask6.map(str::to_string));
        self
    }

    /// Build the two-namespace veth lab (more with [`LabBuilder::scanners`]). Panics if any step fails.
    pub fn build(self) -> Lab {
        Lab::up(Shape::Veth, self)
    }

    /// Build the loopback-only variant (one namespace, only `lo`), with the
    /// listeners and SYN loss of this config. The alive mask does not apply
    /// (all of 127.0.0.0/8 answers); sink mode is not supported.
    pub fn build_loopback(self) -> Lab {
        assert!(
            !self.sink,
            "lab: sink mode needs the veth lab, not loopback_only"
        );
        Lab::up(Shape::Loopback, self)
    }

    /// Build the LAN lab: a bridge, [`LabBuilder::hosts`] host namespaces
    /// with their own MACs on [`LAN_NET`], the scanner at
    /// [`LAN_SCANNER_ADDR`]. Host `k` listens on the ports of
    /// [`LabBuilder::listen`] whose index `j` has `(k + j) % 3 != 2`
    /// ([`Lab::lan_hosts`] tells). No alive mask, loss or sink.
    pub fn build_lan(self) -> Lab {
        Lab::up(Shape::Lan, self)
    }

    /// Build the VPN lab: the scanner's only link is a tun interface relayed
    /// to a tun in the target namespace, which answers as in the veth lab.
    pub fn build_vpn(self) -> Lab {
        Lab::up(Shape::Vpn, self)
    }

    /// Build the two-path lab: [`PATH_RANGES`]`[k]` is reached through path
    /// `k` (its own veth, source address, gateway and target namespace).
    pub fn build_two_path(self) -> Lab {
        Lab::up(Shape::TwoPath, self)
    }
}

/// Packet counts from a lab's nftables counters (`scripts/lab.sh counters`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Probe SYNs (SYN set, ACK/RST/FIN clear) that reached the target,
    /// before any drop (LAN: that the scanner put on the bridge).
    /// Identification's connection SYNs are counted apart.
    pub syn_in: u64,
    /// SYNs of identification's own connections (window
    /// `identify::handshake::WINDOW`), before any drop.
    pub ident_syn_in: u64,
    /// Identification SYNs dropped by the random-loss rule.
    pub ident_syn_lost: u64,
    /// Packets of any kind dropped because their destination host is silent.
    pub silent_dropped: u64,
    /// SYNs dropped by the random-loss rule.
    pub syn_lost: u64,
    /// SYN-ACKs the target sent.
    pub synack_out: u64,
    /// RSTs the target sent.
    pub rst_out: u64,
    /// Frames the sink dropped at ingress (sink mode only, else 0).
    pub sink_frames: u64,
    /// LAN only: SYNs to an address of the /24 that no host has.
    pub syn_blind: u64,
    /// LAN only: SYNs to a host's address but not at that host's MAC.
    pub syn_wrong_mac: u64,
    /// LAN only: ARP requests from the scanner.
    pub arp_requests: u64,
}

impl Counters {
    fn parse(text: &str) -> Counters {
        let map: BTreeMap<&str, u64> = text
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                Some((k, v.trim().parse().ok()?))
            })
            .collect();
        assert!(
            map.contains_key("syn_in"),
            "lab: no syn_in counter in lab.sh counters output:\n{text}"
        );
        let get = |k: &str| map.get(k).copied().unwrap_or(0);
        Counters {
            syn_in: get("syn_in"),
            ident_syn_in: get("ident_syn_in"),
            ident_syn_lost: get("ident_syn_lost"),
            silent_dropped: get("silent_dropped"),
            syn_lost: get("syn_lost"),
            synack_out: get("synack_out"),
            rst_out: get("rst_out"),
            sink_frames: get("sink_frames"),
            syn_blind: get("syn_blind"),
            syn_wrong_mac: get("syn_wrong_mac"),
            arp_requests: get("arp_requests"),
        }
    }
}

/// Which lab a [`Lab`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Veth,
    Loopback,
    Lan,
    Vpn,
    TwoPath,
}

impl Shape {
    fn arg(self) -> &'static str {
        match self {
            Shape::Veth => "veth",
            Shape::Loopback => "loopback",
            Shape::Lan => "lan",
            Shape::Vpn => "vpn",
            Shape::TwoPath => "twopath",
        }
    }
}

/// One host of the LAN lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LanHost {
    /// Its namespace.
    pub ns: String,
    /// Its address on [`LAN_NET`].
    pub addr: Ipv4Addr,
    /// Its MAC (`02:53:53:57:01:XX`).
    pub mac: String,
    /// The ports it listens on (possibly none).
    pub ports: Vec<u16>,
}

/// One path of the two-path lab, as the scanner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabPath {
    /// The scanner's interface for this path.
    pub iface: String,
    /// The scanner's address on it.
    pub source: Ipv4Addr,
    /// The gateway (the target namespace's address).
    pub gateway: Ipv4Addr,
    /// The gateway's MAC.
    pub router_mac: String,
    /// The target namespace behind this path.
    pub target_ns: String,
    /// The half of [`TARGET_RANGE`] it answers for.
    pub range: String,
}

/// A lab built by `scripts/lab.sh up`, torn down (`lab.sh down`) on drop.
#[derive(Debug)]
pub struct Lab {
    shape: Shape,
    config: LabBuilder,
    name: String,
    /// What `lab.sh up` printed.
    info: BTreeMap<String, String>,
    hosts: Vec<LanHost>,
    paths: Vec<LabPath>,
}

/// Scanner `k`'s address in a veth lab: 198.18.0.(4k+1).
pub fn scanner_addr_of(k: usize) -> Ipv4Addr {
    assert!(k < MAX_SCANNERS, "lab: no scanner {k}");
    Ipv4Addr::new(198, 18, 0, (4 * k + 1) as u8)
}

/// Scanner `k`'s gateway (the target's end of its veth): 198.18.0.(4k+2).
pub fn gateway_addr_of(k: usize) -> Ipv4Addr {
    assert!(k < MAX_SCANNERS, "lab: no scanner {k}");
    Ipv4Addr::new(198, 18, 0, (4 * k + 2) as u8)
}

/// MAC of scanner `k`'s veth end (scanner 0: [`SCANNER_MAC`]).
pub fn scanner_mac_of(k: usize) -> [u8; 6] {
    let mut m = SCANNER_MAC;
    m[4] = k as u8;
    m
}

/// MAC of the target's end of scanner `k`'s veth, i.e. scanner `k`'s router
/// MAC (scanner 0: [`TARGET_MAC`]).
pub fn target_mac_of(k: usize) -> [u8; 6] {
    let mut m = TARGET_MAC;
    m[4] = k as u8;
    m
}

/// Run `scripts/lab.sh ARGS`; panic with its stderr unless it succeeds.
fn lab_sh(args: &[&str]) -> String {
    let out = run_ok(Command::new(LAB_SH).args(args));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Lab {
    /// Start configuring a lab.
    pub fn builder() -> LabBuilder {
        LabBuilder::default()
    }

    /// A single fresh namespace with only `lo` up and listeners on `ports`
    /// (bound to 0.0.0.0 there), for scanning 127.0.0.1.
    pub fn loopback_only(ports: &[u16]) -> Lab {
        Lab::builder().listen(ports).build_loopback()
    }

    fn up(shape: Shape, config: LabBuilder) -> Lab {
        assert!(
            config.scanners == 1 || shape == Shape::Veth,
            "lab: several scanners need the veth lab, not {shape:?}"
        );
        let pid = std::process::id();
        SWEEP.call_once(|| {
            lab_sh(&["sweep"]);
        });
        let name = format!("r{pid}_{}", COUNTER.fetch_add(1, Ordering::SeqCst));
        let mut args: Vec<String> = vec![
            "up".into(),
            name.clone(),
            "--shape".into(),
            shape.arg().into(),
            "--owner".into(),
            pid.to_string(),
            "--backlog".into(),
            config.backlog.to_string(),
        ];
        if !config.ports.is_empty() {
            let ports: Vec<String> = config.ports.iter().map(u16::to_string).collect();
            args.extend(["--ports".into(), ports.join(",")]);
        }
        if u32::from(config.alive_mask) != 0 {
            args.extend([
                "--alive-mask".into(),
                config.alive_mask.to_string(),
                "--alive-value".into(),
                config.alive_value.to_string(),
            ]);
        }
        if config.loss_percent > 0 {
            args.extend(["--loss".into(), config.loss_percent.to_string()]);
        }
        if config.sink {
            args.push("--sink".into());
        }
        if config.queues > 1 {
            args.extend(["--queues".into(), config.queues.to_string()]);
        }
        if config.scanners > 1 {
            args.extend(["--scanners".into(), config.scanners.to_string()]);
        }
        if config.sources > 0 {
            args.extend(["--sources".into(), config.sources.to_string()]);
        }
        if shape == Shape::Lan {
            args.extend(["--hosts".into(), config.hosts.to_string()]);
        }
        if let Some(mask6) = &config.ipv6 {
            args.push("--ipv6".into());
            if let Some(m) = mask6 {
                args.extend(["--alive-mask6".into(), m.clone()]);
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // lab.sh removes what it built when `up` fails; on success the Lab
        // owns the lab and its Drop takes it down.
        let text = lab_sh(&args);
        let mut lab = Lab {
            shape,
            config,
            name,
            info: BTreeMap::new(),
            hosts: Vec::new(),
            paths: Vec::new(),
        };
        lab.info = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        lab.hosts = (0..lab.count("hosts"))
            .map(|k| LanHost {
                ns: lab.get(&format!("host_ns_{k}")).to_string(),
                addr: lab.addr(&format!("host_ip_{k}")),
                mac: lab.get(&format!("host_mac_{k}")).to_string(),
                ports: lab
                    .get(&format!("host_ports_{k}"))
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse().expect("lab: host port"))
                    .collect(),
            })
            .collect();
        lab.paths = (0..lab.count("paths"))
            .map(|k| LabPath {
                iface: lab.get(&format!("path_iface_{k}")).to_string(),
                source: lab.addr(&format!("path_ip_{k}")),
                gateway: lab.addr(&format!("path_gateway_{k}")),
                router_mac: lab.get(&format!("path_mac_{k}")).to_string(),
                target_ns: lab.get(&format!("path_target_ns_{k}")).to_string(),
                range: lab.get(&format!("path_range_{k}")).to_string(),
            })
            .collect();
        lab
    }

    /// A value `lab.sh up` printed (panics if it did not).
    pub fn get(&self, key: &str) -> &str {
        self.info.get(key).unwrap_or_else(|| {
            panic!(
                "lab: lab.sh up printed no {key} for a {:?} lab: {:?}",
                self.shape, self.info
            )
        })
    }

    fn addr(&self, key: &str) -> Ipv4Addr {
        let v = self.get(key);
        v.parse()
            .unwrap_or_else(|e| panic!("lab: {key}={v} is not an address: {e}"))
    }

    fn count(&self, key: &str) -> usize {
        self.info.get(key).map_or(0, |v| {
            v.parse().unwrap_or_else(|e| panic!("lab: {key}={v}: {e}"))
        })
    }

    /// The lab's name for `scripts/lab.sh` (`r{pid}_{n}`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Which shape this lab is.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The LAN lab's hosts (empty in other shapes).
    pub fn lan_hosts(&self) -> &[LanHost] {
        &self.hosts
    }

    /// The LAN lab's switch namespace (the bridge and its counters).
    pub fn switch_ns(&self) -> &str {
        self.get("switch_ns")
    }

    /// The two-path lab's paths (empty in other shapes).
    pub fn paths(&self) -> &[LabPath] {
        &self.paths
    }

    /// The scanner's extra source addresses (see [`LabBuilder::sources`]).
    pub fn source_addrs(&self) -> Vec<Ipv4Addr> {
        (1..=self.config.sources)
            .map(|k| Ipv4Addr::new(198, 18, 2, k as u8))
            .collect()
    }

    /// One named counter of `lab.sh counters` (e.g. `"syn_src_1"`); panics
    /// if the lab has no such counter.
    pub fn counter(&self, name: &str) -> u64 {
        let text = lab_sh(&["counters", &self.name]);
        text.lines()
            .filter_map(|l| l.split_once(' '))
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("lab: no counter {name} in:\n{text}"))
    }

    /// Counters of path `k`'s target namespace alone (two-path lab).
    pub fn path_counters(&self, k: usize) -> Counters {
        assert!(k < self.paths.len(), "lab: no path {k}");
        Counters::parse(&lab_sh(&["counters", &self.name, &k.to_string()]))
    }

    fn side_key(&self, k: usize, key: &str) -> &str {
        if k == 0 && !self.info.contains_key(&format!("{key}_0")) {
            return self.get(key);
        }
        assert!(
            k < self.scanner_count(),
            "lab: no scanner {k} (this lab has {})",
            self.scanner_count()
        );
        self.get(&format!("{key}_{k}"))
    }

    /// Name of the namespace the scanner runs in (scanner 0).
    pub fn scanner_ns(&self) -> &str {
        self.get("scanner_ns")
    }

    /// How many scanner namespaces the lab has (see [`LabBuilder::scanners`]).
    pub fn scanner_count(&self) -> usize {
        self.count("scanners").max(1)
    }

    /// Name of scanner `k`'s namespace (0-based).
    pub fn scanner_ns_n(&self, k: usize) -> &str {
        self.side_key(k, "scanner_ns")
    }

    /// Scanner `k`'s veth end (in its namespace).
    pub fn scanner_iface_n(&self, k: usize) -> &str {
        self.side_key(k, "scanner_iface")
    }

    /// The target's end of scanner `k`'s veth (in the target namespace).
    pub fn target_iface_n(&self, k: usize) -> &str {
        self.side_key(k, "target_iface")
    }

    /// Scanner `k`'s source address, 198.18.0.(4k+1) (veth lab).
    pub fn scanner_addr_n(&self, k: usize) -> Ipv4Addr {
        let v = self.side_key(k, "scanner_ip");
        v.parse()
            .unwrap_or_else(|e| panic!("lab: scanner_ip {v}: {e}"))
    }

    /// Scanner `k`'s gateway, 198.18.0.(4k+2) (veth lab).
    pub fn gateway_addr_n(&self, k: usize) -> Ipv4Addr {
        let v = self.side_key(k, "gateway_ip");
        v.parse()
            .unwrap_or_else(|e| panic!("lab: gateway_ip {v}: {e}"))
    }

    /// Scanner `k`'s router MAC (`--router-mac`; veth lab only).
    pub fn router_mac_n(&self, k: usize) -> String {
        self.side_key(k, "router_mac").to_string()
    }

    /// Name of the namespace that answers for the targets (the same as the
    /// scanner's in the loopback variant; the switch's in the LAN lab; path
    /// 0's in the two-path lab).
    pub fn target_ns(&self) -> &str {
        self.get("target_ns")
    }

    /// The scanner's interface (its veth; `lo` in the loopback variant; the
    /// tun in the VPN lab; path 0's veth in the two-path lab).
    pub fn scanner_iface(&self) -> &str {
        self.get("scanner_iface")
    }

    /// The target's interface (its veth; `lo` in the loopback variant).
    pub fn target_iface(&self) -> &str {
        self.get("target_iface")
    }

    /// The scanner's source address (198.18.0.1; 127.0.0.1 on loopback;
    /// 198.18.1.1 on the LAN).
    pub fn scanner_addr(&self) -> Ipv4Addr {
        self.addr("scanner_ip")
    }

    /// The gateway's MAC address, i.e. `--router-mac` (veth and two-path labs).
    pub fn router_mac(&self) -> String {
        self.get("router_mac").to_string()
    }

    /// Whether this is the loopback-only variant.
    pub fn is_loopback(&self) -> bool {
        self.shape == Shape::Loopback
    }

    /// The ports that have a listener (LAN: on some host).
    pub fn listening_ports(&self) -> &[u16] {
        &self.config.ports
    }

    /// Whether `addr` answers at all according to the config (ignoring random loss).
    pub fn is_alive(&self, addr: Ipv4Addr) -> bool {
        let a = u32::from(addr);
        match self.shape {
            Shape::Loopback => addr.is_loopback(),
            Shape::Lan => self.hosts.iter().any(|h| h.addr == addr),
            Shape::Veth | Shape::Vpn | Shape::TwoPath => {
                !self.config.sink
                    && a & TARGET_NET_MASK == TARGET_NET
                    && a & u32::from(self.config.alive_mask) == u32::from(self.config.alive_value)
            }
        }
    }

    /// Whether IPv6 `addr` answers at all (veth lab with `.ipv6(..)`).
    pub fn is_alive6(&self, addr: std::net::Ipv6Addr) -> bool {
        let Some(mask6) = &self.config.ipv6 else {
            return false;
        };
        let a = u128::from(addr);
        let mask = mask6
            .as_deref()
            .map_or(0, |m| u128::from(m.parse::<std::net::Ipv6Addr>().unwrap()));
        !self.config.sink && a >> 64 == 0x2001_0002_0000_0000 && a & mask == 0
    }

    /// The ports `addr` listens on (alive hosts only).
    fn ports_of(&self, addr: Ipv4Addr) -> &[u16] {
        match self.shape {
            Shape::Lan => self
                .hosts
                .iter()
                .find(|h| h.addr == addr)
                .map_or(&[], |h| &h.ports),
            _ => &self.config.ports,
        }
    }

    /// What a perfect scan of `ports` over `range` finds open: alive hosts x
    /// listening ports. `range` is `a.b.c.d`, `a.b.c.d/nn` or `a.b.c.d-e.f.g.h`
    /// (every address, network and broadcast included: they all answer; on
    /// the LAN only the hosts answer).
    /// Random loss is ignored (it is what a scanner must overcome); in sink
    /// mode nothing is open.
    pub fn ground_truth_open(&self, ports: &[u16], range: &str) -> BTreeSet<(Ipv4Addr, u16)> {
        self.ground_truth(ports, range, true)
    }

    /// What a perfect scan finds closed (RST): alive hosts x scanned ports
    /// nobody listens on.
    pub fn ground_truth_closed(&self, ports: &[u16], range: &str) -> BTreeSet<(Ipv4Addr, u16)> {
        self.ground_truth(ports, range, false)
    }

    fn ground_truth(&self, ports: &[u16], range: &str, open: bool) -> BTreeSet<(Ipv4Addr, u16)> {
        let (lo, hi) = parse_range(range);
        let (net, answers) = match self.shape {
            Shape::Loopback => (parse_range("127.0.0.0/8"), "127.0.0.0/8"),
            Shape::Lan => (parse_range(LAN_NET), LAN_NET),
            _ => ((TARGET_NET, TARGET_NET | !TARGET_NET_MASK), TARGET_RANGE),
        };
        assert!(
            net.0 <= lo && hi <= net.1,
            "lab: range {range} is outside {answers}, the range the lab answers for"
        );
        let mut set = BTreeSet::new();
        for a in lo..=hi {
            let addr = Ipv4Addr::from(a);
            if self.is_alive(addr) {
                let listening = self.ports_of(addr);
                set.extend(
                    ports
                        .iter()
                        .filter(|p| listening.contains(p) == open)
                        .map(|&p| (addr, p)),
                );
            }
        }
        set
    }

    /// Run `cmd` in the scanner namespace (`ip netns exec NS program args`,
    /// same env and current dir) and wait for it. Panics only if it cannot be
    /// started; the exit status is the caller's to check.
    pub fn run_in_scanner(&self, cmd: &mut Command) -> Output {
        self.run_in_scanner_n(0, cmd)
    }

    /// `cmd` rewritten as `ip netns exec <scanner-ns> program args`, same env
    /// and current dir, for callers that want to `spawn()` (e.g. to signal it:
    /// `ip netns exec` execs the program, so the child's pid is the program's).
    pub fn wrap_in_scanner(&self, cmd: &Command) -> Command {
        self.wrap_in_scanner_n(0, cmd)
    }

    /// A `Command` for `program` that runs in the scanner namespace.
    pub fn scanner_command(&self, program: impl AsRef<OsStr>) -> Command {
        self.wrap_in_scanner_n(0, &Command::new(program))
    }

    /// [`Lab::run_in_scanner`] in scanner `k`'s namespace.
    pub fn run_in_scanner_n(&self, k: usize, cmd: &mut Command) -> Output {
        let mut wrapped = self.wrap_in_scanner_n(k, cmd);
        wrapped
            .output()
            .unwrap_or_else(|e| panic!("lab: cannot run {wrapped:?}: {e}"))
    }

    /// [`Lab::wrap_in_scanner`] for scanner `k`'s namespace. A backend
    /// forced by `SYNSWEEP_TEST_TX_BACKEND=xdp` (see `run::synsweep`) is
    /// forced only where the link allows it: the loopback and VPN labs have
    /// no Ethernet link, so there the scan picks its backend itself.
    pub fn wrap_in_scanner_n(&self, k: usize, cmd: &Command) -> Command {
        let mut w = wrap_in_ns(self.scanner_ns_n(k), cmd);
        let forced = cmd
            .get_envs()
            .any(|(k, v)| k == "SYNSWEEP_TX_BACKEND" && v.is_some_and(|v| v == "xdp"));
        if forced && matches!(self.shape(), Shape::Loopback | Shape::Vpn) {
            w.env("SYNSWEEP_TX_BACKEND", "auto");
        }
        w
    }

    /// [`Lab::in_scanner`] on a thread that joined scanner `k`'s namespace.
    pub fn in_scanner_n<F, R>(&self, k: usize, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        in_netns(self.scanner_ns_n(k), f)
    }

    /// Run `f` on a thread that has joined the scanner namespace.
    pub fn in_scanner<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        in_netns(self.scanner_ns(), f)
    }

    /// Run `f` on a thread that has joined the target namespace.
    pub fn in_target<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        in_netns(self.target_ns(), f)
    }

    /// Read the lab's nftables counters (`lab.sh counters`): the target's
    /// (the two-path lab: both targets summed; the LAN: the switch's).
    pub fn counters(&self) -> Counters {
        Counters::parse(&lab_sh(&["counters", &self.name]))
    }

    /// A `TcpExt` counter of the target namespace's kernel (e.g.
    /// `"SyncookiesSent"`, `"ListenDrops"`), from /proc/thread-self/net/netstat.
    pub fn target_tcpext(&self, name: &str) -> u64 {
        let text = self.in_target(|| {
            std::fs::read_to_string("/proc/thread-self/net/netstat")
                .unwrap_or_else(|e| panic!("lab: read /proc/thread-self/net/netstat: {e}"))
        });
        let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
        let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
            panic!("lab: no TcpExt lines in netstat:\n{text}");
        };
        names
            .split_whitespace()
            .zip(values.split_whitespace())
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_else(|| panic!("lab: no TcpExt counter {name}"))
    }

    /// Reset the nftables counters to zero.
    pub fn reset_counters(&self) {
        lab_sh(&["reset", &self.name]);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Never panic here (we may be unwinding already).
        match Command::new(LAB_SH).args(["down", &self.name]).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "lab: lab.sh down {} failed: {}",
                self.name,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => eprintln!("lab: lab.sh down {}: {e}", self.name),
        }
    }
}

/// Run `f` on a fresh thread that joined network namespace `ns`
/// (`/run/netns/NS`). A panic in `f` propagates to the caller.
pub fn in_netns<F, R>(ns: &str, f: F) -> R
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    let path = format!("/run/netns/{ns}");
    let file = File::open(&path).unwrap_or_else(|e| panic!("lab: open {path}: {e}"));
    std::thread::scope(|scope| {
        let handle = scope.spawn(move || {
            // SAFETY: plain syscall on a valid fd; it only changes this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                panic!(
                    "lab: setns({path}, CLONE_NEWNET): {}",
                    std::io::Error::last_os_error()
                );
            }
            drop(file);
            f()
        });
        match handle.join() {
            Ok(r) => r,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    })
}

/// `cmd` rewritten as `ip netns exec NS program args`.
pub fn wrap_in_ns(ns: &str, cmd: &Command) -> Command {
    let mut w = Command::new("ip");
    w.args(["netns", "exec", ns])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => w.env(k, v),
            None => w.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        w.current_dir(dir);
    }
    w
}

/// Run a command; panic with the command and its stderr unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("lab: cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "lab: {cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    out
}

fn mac_str(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `a.b.c.d`, `a.b.c.d/nn` or `a.b.c.d-e.f.g.h` as an inclusive u32 range.
pub fn parse_range(range: &str) -> (u32, u32) {
    let addr = |s: &str| -> u32 {
        u32::from(
            s.trim()
                .parse::<Ipv4Addr>()
                .unwrap_or_else(|e| panic!("lab: bad address {s:?} in {range:?}: {e}")),
        )
    };
    if let Some((a, len)) = range.split_once('/') {
        let len: u32 = len
            .parse()
            .ok()
            .filter(|l| *l <= 32)
            .unwrap_or_else(|| panic!("lab: bad prefix length in {range:?}"));
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        let lo = addr(a) & mask;
        (lo, lo | !mask)
    } else if let Some((a, b)) = range.split_once('-') {
        let (lo, hi) = (addr(a), addr(b));
        assert!(lo <= hi, "lab: empty range {range:?}");
        (lo, hi)
    } else {
        let a = addr(range);
        (a, a)
    }
}
