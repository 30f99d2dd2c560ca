//! The lab every integration test runs in (see DESIGN.md, "The lab").
//!
//! A [`Lab`] is two fresh network namespaces joined by one veth pair:
//!
//! ```text
//!   scanner ns                          target ns
//!   198.18.0.1/30  <---- veth ---->     198.18.0.2/30
//!   198.19.0.0/16 via 198.18.0.2        local 198.19.0.0/16 dev lo
//!   (no default route)                  (no default route)
//! ```
//!
//! The target namespace answers for all 65,536 addresses of 198.19.0.0/16.
//! Listening sockets on 0.0.0.0 make a port open on every alive host; a port
//! nobody listens on is closed (the kernel answers the SYN with a RST); a
//! host that is not alive is silent (nftables drops everything sent to it).
//! Optionally a share of the inbound SYNs is dropped at random, or the target
//! veth becomes a sink that drops every frame at ingress.
//!
//! Nothing here ever creates a link or route out of the lab: the scanner
//! namespace's only link leads to the target namespace, and neither has a
//! default route. Both namespaces are removed when the `Lab` is dropped, also
//! when the test panics.
//!
//! With [`LabBuilder::scanners`]`(n)` the lab has `n` scanner namespaces, all
//! linked to the same target namespace, each by a veth pair of its own on a
//! /30 of its own inside 198.18.0.0/24 (for separate shard processes):
//!
//! ```text
//!   scanner k ns                                target ns (one for all)
//!   198.18.0.(4k+1)/30  <---- veth k ---->      198.18.0.(4k+2)/30
//!   198.19.0.0/16 via 198.18.0.(4k+2)           local 198.19.0.0/16 dev lo
//! ```
//!
//! Scanner 0 is the one `scanner_ns()`, `run_in_scanner()` and friends name;
//! the `*_n(k, ..)` variants name scanner `k`. The target does not forward
//! (ip_forward stays 0), so no scanner reaches another; the target's counters
//! count what arrives from all of them.
//!
//! [`Lab::loopback_only`] is the other variant: one fresh namespace with only
//! `lo` up, for scanning 127.0.0.1 in a namespace of its own.
//!
//! Every failure while building a lab panics with the command and its stderr:
//! lab tests fail, they never skip.

#![allow(dead_code)]

pub mod chromium;
pub mod findings;
pub mod forge;
pub mod run;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd};
use std::process::{Command, Output, Stdio};
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

const TARGET_NET: u32 = 0xc613_0000; // 198.19.0.0
const TARGET_NET_MASK: u32 = 0xffff_0000; // /16
const NFT_TABLE: &str = "synsweep_lab";
const NFT_SINK_TABLE: &str = "synsweep_sink";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

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
        }
    }
}

impl LabBuilder {
    /// Ports with a listener on 0.0.0.0 in the target namespace (open on
    /// every alive host). May be called more than once.
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

    /// Build the two-namespace veth lab (more with [`LabBuilder::scanners`]). Panics if any step fails.
    pub fn build(self) -> Lab {
        Lab::build_veth(self)
    }

    /// Build the loopback-only variant (one namespace, only `lo`), with the
    /// listeners and SYN loss of this config. The alive mask does not apply
    /// (all of 127.0.0.0/8 answers); sink mode is not supported.
    pub fn build_loopback(self) -> Lab {
        Lab::build_loopback(self)
    }
}

/// Packet counts from the target namespace's nftables counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// SYNs (SYN set, ACK/RST/FIN clear) that reached the target, before any drop.
    pub syn_in: u64,
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
}

#[derive(Debug)]
enum Kind {
    Veth,
    Loopback,
}

/// One scanner namespace of a veth lab and its link to the target.
#[derive(Clone, Debug)]
struct ScannerSide {
    ns: String,
    /// Its veth end, in `ns`.
    iface: String,
    /// The peer veth end, in the target namespace.
    target_iface: String,
}

/// A lab: fresh namespaces, listeners and nftables rules, removed on drop.
#[derive(Debug)]
pub struct Lab {
    kind: Kind,
    config: LabBuilder,
    /// Scanner namespaces; [0] is "the" scanner of the single-scanner API.
    scanners: Vec<ScannerSide>,
    target_ns: String,
    /// Namespaces created so far (deleted in Drop, in reverse order).
    created: Vec<String>,
    /// Listener sockets; they live in the target namespace.
    listeners: Vec<TcpListener>,
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

    fn unique_names() -> (usize, u32) {
        sweep_stale_namespaces();
        (COUNTER.fetch_add(1, Ordering::SeqCst), std::process::id())
    }

    fn build_veth(config: LabBuilder) -> Lab {
        let (n, pid) = Lab::unique_names();
        // Scanner 0 keeps the single-scanner names; scanner k > 0 adds "k{k}".
        // Namespace names stay `ssw-s-PID-X` (what the stale sweep parses).
        let scanners = (0..config.scanners)
            .map(|k| {
                let sfx = if k == 0 {
                    String::new()
                } else {
                    format!("k{k}")
                };
                ScannerSide {
                    ns: format!("ssw-s-{pid}-{n}{sfx}"),
                    // <= 15 chars: "ssw" + up to 6 hex digits (pid_max 4194304) + "s" + n (+ "k" + k)
                    iface: format!("ssw{pid:x}s{n}{sfx}"),
                    target_iface: format!("ssw{pid:x}t{n}{sfx}"),
                }
            })
            .collect::<Vec<_>>();
        let mut lab = Lab {
            kind: Kind::Veth,
            target_ns: format!("ssw-t-{pid}-{n}"),
            scanners,
            config,
            created: Vec::new(),
            listeners: Vec::new(),
        };
        assert!(
            lab.scanners
                .iter()
                .all(|s| s.iface.len() <= 15 && s.target_iface.len() <= 15),
            "lab: interface name too long: {:?}",
            lab.scanners
        );
        // From here on, a panic drops `lab`, which deletes what was created.
        let t = lab.target_ns.clone();
        lab.add_netns(&t);
        lab.sysctls(
            &t,
            &[
                ("net/ipv6/conf/all/disable_ipv6", "1"),
                ("net/ipv6/conf/default/disable_ipv6", "1"),
            ],
        );
        ip_n(&t, &["link", "set", "lo", "up"]);
        ip_n(&t, &["route", "add", "local", TARGET_RANGE, "dev", "lo"]);

        for (k, side) in lab.scanners.clone().iter().enumerate() {
            let (s, si, ti) = (&side.ns, &side.iface, &side.target_iface);
            lab.add_netns(s);
            // The veth pair is created directly inside the two namespaces: it
            // never exists in the machine's own namespace.
            let smac = mac_str(&scanner_mac_of(k));
            let tmac = mac_str(&target_mac_of(k));
            run_ok(Command::new("ip").args([
                "link", "add", si, "address", &smac, "netns", s, "type", "veth", "peer", "name",
                ti, "address", &tmac, "netns", &t,
            ]));
            lab.sysctls(
                s,
                &[
                    ("net/ipv6/conf/all/disable_ipv6", "1"),
                    ("net/ipv6/conf/default/disable_ipv6", "1"),
                ],
            );
            let (saddr, gw) = (
                scanner_addr_of(k).to_string(),
                gateway_addr_of(k).to_string(),
            );
            // Scanner side: address, one route into the simulated internet, a
            // permanent neighbour for the gateway (no ARP needed, also in sink mode).
            ip_n(s, &["link", "set", "lo", "up"]);
            ip_n(s, &["addr", "add", &format!("{saddr}/30"), "dev", si]);
            ip_n(s, &["link", "set", si, "up"]);
            ip_n(s, &["route", "add", TARGET_RANGE, "via", &gw, "dev", si]);
            ip_n(
                s,
                &[
                    "neigh",
                    "replace",
                    &gw,
                    "lladdr",
                    &tmac,
                    "dev",
                    si,
                    "nud",
                    "permanent",
                ],
            );
            // Target side: address (connected route back to the scanner's
            // /30), a permanent neighbour for the scanner so the first
            // replies of a flood never wait for ARP.
            ip_n(&t, &["addr", "add", &format!("{gw}/30"), "dev", ti]);
            ip_n(&t, &["link", "set", ti, "up"]);
            ip_n(
                &t,
                &[
                    "neigh",
                    "replace",
                    &saddr,
                    "lladdr",
                    &smac,
                    "dev",
                    ti,
                    "nud",
                    "permanent",
                ],
            );
        }
        lab.sysctls(&t, BACKLOG_SYSCTLS);

        let ifaces: Vec<String> = lab
            .scanners
            .iter()
            .map(|s| s.target_iface.clone())
            .collect();
        let rules = lab.nft_rules(&ifaces);
        nft_load(&t, &rules);
        lab.listeners = listen_in(&t, &lab.config.ports, lab.config.backlog);
        lab.check_no_default_route();
        lab
    }

    fn build_loopback(config: LabBuilder) -> Lab {
        assert!(
            !config.sink,
            "lab: sink mode needs the veth lab, not loopback_only"
        );
        assert!(
            config.scanners == 1,
            "lab: several scanners need the veth lab, not loopback_only"
        );
        let (n, pid) = Lab::unique_names();
        let ns = format!("ssw-l-{pid}-{n}");
        let mut lab = Lab {
            kind: Kind::Loopback,
            scanners: vec![ScannerSide {
                ns: ns.clone(),
                iface: "lo".into(),
                target_iface: "lo".into(),
            }],
            target_ns: ns.clone(),
            config,
            created: Vec::new(),
            listeners: Vec::new(),
        };
        lab.add_netns(&ns);
        ip_n(&ns, &["link", "set", "lo", "up"]);
        lab.sysctls(&ns, BACKLOG_SYSCTLS);
        let rules = lab.nft_rules(&["lo".to_string()]);
        nft_load(&ns, &rules);
        lab.listeners = listen_in(&ns, &lab.config.ports, lab.config.backlog);
        lab.check_no_default_route();
        lab
    }

    fn add_netns(&mut self, name: &str) {
        run_ok(Command::new("ip").args(["netns", "add", name]));
        self.created.push(name.to_string());
    }

    fn sysctls(&self, ns: &str, settings: &[(&str, &str)]) {
        // /proc/sys/net is the namespace of the thread that opens it.
        in_netns(ns, || {
            for (key, value) in settings {
                let path = format!("/proc/sys/{key}");
                std::fs::write(&path, value)
                    .unwrap_or_else(|e| panic!("lab: in netns {ns}: write {value} > {path}: {e}"));
            }
        });
    }

    fn nft_rules(&self, ifaces: &[String]) -> String {
        let c = &self.config;
        // One interface: `"a"`; several: an anonymous set `{ "a", "b" }`.
        let quoted: Vec<String> = ifaces.iter().map(|i| format!("\"{i}\"")).collect();
        let iface_match = if quoted.len() == 1 {
            quoted[0].clone()
        } else {
            format!("{{ {} }}", quoted.join(", "))
        };
        let mut r = String::new();
        r += &format!("table inet {NFT_TABLE} {{\n");
        for name in [
            "syn_in",
            "silent_dropped",
            "syn_lost",
            "synack_out",
            "rst_out",
        ] {
            r += &format!("  counter {name} {{}}\n");
        }
        r += "  chain input {\n    type filter hook input priority filter; policy accept;\n";
        let syn = "tcp flags & (fin | syn | rst | ack) == syn";
        r += &format!("    iifname {iface_match} {syn} counter name \"syn_in\"\n");
        if matches!(self.kind, Kind::Veth) && u32::from(c.alive_mask) != 0 {
            r += &format!(
                "    iifname {iface_match} ip daddr {TARGET_RANGE} ip daddr & {} != {} counter name \"silent_dropped\" drop\n",
                c.alive_mask, c.alive_value
            );
        }
        if c.loss_percent > 0 {
            // nft rejects `< 100` for a `mod 100` value: 100% is a plain drop.
            let random = if c.loss_percent < 100 {
                format!("numgen random mod 100 < {} ", c.loss_percent)
            } else {
                String::new()
            };
            r += &format!(
                "    iifname {iface_match} {syn} {random}counter name \"syn_lost\" drop\n"
            );
        }
        r += "  }\n  chain output {\n    type filter hook output priority filter; policy accept;\n";
        r += &format!(
            "    oifname {iface_match} tcp flags & (syn | ack) == syn | ack counter name \"synack_out\"\n"
        );
        r +=
            &format!("    oifname {iface_match} tcp flags & rst == rst counter name \"rst_out\"\n");
        r += "  }\n}\n";
        if c.sink {
            // One ingress chain per target veth, all counting into `frames`.
            r += &format!("table netdev {NFT_SINK_TABLE} {{\n  counter frames {{}}\n");
            for (i, iface) in ifaces.iter().enumerate() {
                r += &format!(
                    "  chain ingress{i} {{\n    type filter hook ingress device \"{iface}\" priority -500; policy drop;\n    counter name \"frames\"\n  }}\n"
                );
            }
            r += "}\n";
        }
        r
    }

    fn check_no_default_route(&self) {
        for ns in self.namespaces() {
            let out = run_ok(Command::new("ip").args(["-n", ns, "route", "show", "default"]));
            assert!(
                out.stdout.is_empty(),
                "lab: namespace {ns} has a default route: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }

    fn namespaces(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.scanners.iter().map(|s| s.ns.as_str()).collect();
        if matches!(self.kind, Kind::Veth) {
            v.push(&self.target_ns);
        }
        v
    }

    fn side(&self, k: usize) -> &ScannerSide {
        self.scanners
            .get(k)
            .unwrap_or_else(|| panic!("lab: no scanner {k} (this lab has {})", self.scanners.len()))
    }

    /// Name of the namespace the scanner runs in (scanner 0).
    pub fn scanner_ns(&self) -> &str {
        &self.scanners[0].ns
    }

    /// How many scanner namespaces the lab has (see [`LabBuilder::scanners`]).
    pub fn scanner_count(&self) -> usize {
        self.scanners.len()
    }

    /// Name of scanner `k`'s namespace (0-based).
    pub fn scanner_ns_n(&self, k: usize) -> &str {
        &self.side(k).ns
    }

    /// Scanner `k`'s veth end (in its namespace).
    pub fn scanner_iface_n(&self, k: usize) -> &str {
        &self.side(k).iface
    }

    /// The target's end of scanner `k`'s veth (in the target namespace).
    pub fn target_iface_n(&self, k: usize) -> &str {
        &self.side(k).target_iface
    }

    /// Scanner `k`'s source address, 198.18.0.(4k+1) (veth lab).
    pub fn scanner_addr_n(&self, k: usize) -> Ipv4Addr {
        self.side(k);
        match self.kind {
            Kind::Veth => scanner_addr_of(k),
            Kind::Loopback => Ipv4Addr::LOCALHOST,
        }
    }

    /// Scanner `k`'s gateway, 198.18.0.(4k+2) (veth lab).
    pub fn gateway_addr_n(&self, k: usize) -> Ipv4Addr {
        self.side(k);
        gateway_addr_of(k)
    }

    /// Scanner `k`'s router MAC (`--router-mac`; veth lab only).
    pub fn router_mac_n(&self, k: usize) -> String {
        self.side(k);
        mac_str(&target_mac_of(k))
    }

    /// Name of the namespace that answers for the targets (the same as the
    /// scanner's in the loopback variant).
    pub fn target_ns(&self) -> &str {
        &self.target_ns
    }

    /// The scanner's interface (its veth; `lo` in the loopback variant).
    pub fn scanner_iface(&self) -> &str {
        &self.scanners[0].iface
    }

    /// The target's interface (its veth; `lo` in the loopback variant).
    pub fn target_iface(&self) -> &str {
        &self.scanners[0].target_iface
    }

    /// The scanner's source address (198.18.0.1; 127.0.0.1 on loopback).
    pub fn scanner_addr(&self) -> Ipv4Addr {
        match self.kind {
            Kind::Veth => SCANNER_ADDR,
            Kind::Loopback => Ipv4Addr::LOCALHOST,
        }
    }

    /// The gateway's MAC address, i.e. `--router-mac` (veth lab only).
    pub fn router_mac(&self) -> String {
        mac_str(&TARGET_MAC)
    }

    /// Whether this is the loopback-only variant.
    pub fn is_loopback(&self) -> bool {
        matches!(self.kind, Kind::Loopback)
    }

    /// The ports that have a listener.
    pub fn listening_ports(&self) -> &[u16] {
        &self.config.ports
    }

    /// Whether `addr` answers at all according to the config (ignoring random loss).
    pub fn is_alive(&self, addr: Ipv4Addr) -> bool {
        let a = u32::from(addr);
        match self.kind {
            Kind::Loopback => addr.is_loopback(),
            Kind::Veth => {
                !self.config.sink
                    && a & TARGET_NET_MASK == TARGET_NET
                    && a & u32::from(self.config.alive_mask) == u32::from(self.config.alive_value)
            }
        }
    }

    /// What a perfect scan of `ports` over `range` finds open: alive hosts x
    /// listening ports. `range` is `a.b.c.d`, `a.b.c.d/nn` or `a.b.c.d-e.f.g.h`
    /// (every address, network and broadcast included: they all answer).
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
        if self.is_loopback() {
            assert!(
                lo >> 24 == 127 && hi >> 24 == 127,
                "lab: range {range} is outside 127.0.0.0/8, which is all a loopback lab answers for"
            );
        } else {
            assert!(
                lo & TARGET_NET_MASK == TARGET_NET && hi & TARGET_NET_MASK == TARGET_NET,
                "lab: range {range} is outside {TARGET_RANGE}, the range the lab answers for"
            );
        }
        let ports: BTreeSet<u16> = ports
            .iter()
            .copied()
            .filter(|p| self.config.ports.contains(p) == open)
            .collect();
        let mut set = BTreeSet::new();
        for a in lo..=hi {
            let addr = Ipv4Addr::from(a);
            if self.is_alive(addr) {
                set.extend(ports.iter().map(|&p| (addr, p)));
            }
        }
        set
    }

    /// Run `cmd` in the scanner namespace (`ip netns exec NS program args`,
    /// same env and current dir) and wait for it. Panics only if it cannot be
    /// started; the exit status is the caller's to check.
    pub fn run_in_scanner(&self, cmd: &mut Command) -> Output {
        let mut wrapped = self.wrap_in_scanner(cmd);
        wrapped
            .output()
            .unwrap_or_else(|e| panic!("lab: cannot run {wrapped:?}: {e}"))
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

    /// [`Lab::wrap_in_scanner`] for scanner `k`'s namespace.
    pub fn wrap_in_scanner_n(&self, k: usize, cmd: &Command) -> Command {
        wrap_in_ns(&self.side(k).ns, cmd)
    }

    /// [`Lab::in_scanner`] on a thread that joined scanner `k`'s namespace.
    pub fn in_scanner_n<F, R>(&self, k: usize, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        in_netns(&self.side(k).ns, f)
    }

    /// Run `f` on a thread that has joined the scanner namespace.
    pub fn in_scanner<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        in_netns(&self.scanners[0].ns, f)
    }

    /// Run `f` on a thread that has joined the target namespace.
    pub fn in_target<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        in_netns(&self.target_ns, f)
    }

    /// Read the target namespace's nftables counters.
    pub fn counters(&self) -> Counters {
        let text = nft_list(
            &self.target_ns,
            &["list", "counters", "table", "inet", NFT_TABLE],
        );
        let mut c = Counters {
            syn_in: counter_value(&text, "syn_in"),
            silent_dropped: counter_value(&text, "silent_dropped"),
            syn_lost: counter_value(&text, "syn_lost"),
            synack_out: counter_value(&text, "synack_out"),
            rst_out: counter_value(&text, "rst_out"),
            sink_frames: 0,
        };
        if self.config.sink {
            let text = nft_list(
                &self.target_ns,
                &["list", "counters", "table", "netdev", NFT_SINK_TABLE],
            );
            c.sink_frames = counter_value(&text, "frames");
        }
        c
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
        nft_list(
            &self.target_ns,
            &["reset", "counters", "table", "inet", NFT_TABLE],
        );
        if self.config.sink {
            nft_list(
                &self.target_ns,
                &["reset", "counters", "table", "netdev", NFT_SINK_TABLE],
            );
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Sockets hold their namespace: close them first.
        self.listeners.clear();
        for ns in self.created.drain(..).rev() {
            // Never panic here (we may be unwinding already).
            match Command::new("ip").args(["netns", "del", &ns]).output() {
                Ok(o) if o.status.success() => {}
                Ok(o) => eprintln!(
                    "lab: ip netns del {ns} failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => eprintln!("lab: ip netns del {ns}: {e}"),
            }
        }
    }
}

const BACKLOG_SYSCTLS: &[(&str, &str)] = &[
    ("net/core/somaxconn", "65535"),
    ("net/ipv4/tcp_max_syn_backlog", "65535"),
    ("net/ipv4/tcp_syncookies", "1"),
];

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

/// Listeners on 0.0.0.0:PORT created inside `ns` by a setns'd thread (no
/// child process); they stay in that namespace after the thread ends.
fn listen_in(ns: &str, ports: &[u16], backlog: u16) -> Vec<TcpListener> {
    in_netns(ns, || {
        ports.iter().map(|&p| listen_any(ns, p, backlog)).collect()
    })
}

fn listen_any(ns: &str, port: u16, backlog: u16) -> TcpListener {
    let fail = |what: &str| -> ! {
        panic!(
            "lab: in netns {ns}: {what} 0.0.0.0:{port}: {}",
            std::io::Error::last_os_error()
        )
    };
    // SAFETY: plain socket syscalls on an fd we own; on success the fd moves
    // into a TcpListener, which closes it.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            fail("socket");
        }
        let listener = TcpListener::from_raw_fd(fd);
        let one: libc::c_int = 1;
        if libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            &one as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ) != 0
        {
            fail("setsockopt SO_REUSEADDR");
        }
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr { s_addr: 0 },
            sin_zero: [0; 8],
        };
        if libc::bind(
            fd,
            &sin as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        ) != 0
        {
            fail("bind");
        }
        if libc::listen(fd, i32::from(backlog)) != 0 {
            fail("listen");
        }
        listener
    }
}

fn ip_n(ns: &str, args: &[&str]) -> Output {
    run_ok(Command::new("ip").args(["-n", ns]).args(args))
}

fn nft_load(ns: &str, rules: &str) {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "nft", "-f", "-"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("lab: cannot run {cmd:?}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(rules.as_bytes())
        .unwrap_or_else(|e| panic!("lab: writing rules to {cmd:?}: {e}"));
    let out = child.wait_with_output().expect("wait nft");
    if !out.status.success() {
        panic!(
            "lab: {cmd:?} failed ({}): {}\nrules:\n{rules}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

fn nft_list(ns: &str, args: &[&str]) -> String {
    let out = run_ok(
        Command::new("ip")
            .args(["netns", "exec", ns, "nft"])
            .args(args),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `packets N` of `counter NAME { ... }` in `nft list counters` output.
fn counter_value(text: &str, name: &str) -> u64 {
    let head = format!("counter {name} {{");
    let start = text
        .find(&head)
        .unwrap_or_else(|| panic!("lab: counter {name} not in nft output:\n{text}"));
    let rest = &text[start + head.len()..];
    let after = rest
        .split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .unwrap_or_else(|| panic!("lab: no packets for counter {name} in:\n{text}"));
    after
        .parse()
        .unwrap_or_else(|e| panic!("lab: counter {name}: {after:?}: {e}"))
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

/// Delete lab namespaces (`ssw-{s,t,l}-PID-N`) left behind by test processes
/// that no longer exist (killed before their Drop could run).
fn sweep_stale_namespaces() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    let me = std::process::id();
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut parts = name.split('-');
        let (Some("ssw"), Some("s" | "t" | "l"), Some(pid), Some(_n), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid != me && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
        }
    }
}
