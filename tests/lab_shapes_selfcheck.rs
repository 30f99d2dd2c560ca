//! The LAN, VPN and two-path labs match their ground truth, checked without
//! the scanner: std sockets from inside the namespaces, an ARP sweep and a
//! few hand-made frames on an AF_PACKET socket, and the kernel's own view
//! (routes, links, counters).

mod common;

use common::forge::{PacketSocket, SYN, checksum, ethernet};
use common::{LAN_NET, LAN_SCANNER_ADDR, Lab, PATH_RANGES, SCANNER_MAC, Shape};
use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_millis(1000);

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Probe {
    Open,
    Refused,
    TimedOut,
    Unreachable,
}

fn probe(addr: Ipv4Addr, port: u16) -> Probe {
    let sa = SocketAddr::from((addr, port));
    match TcpStream::connect_timeout(&sa, SHORT) {
        Ok(_) => Probe::Open,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Probe::Refused,
        Err(e) if e.kind() == ErrorKind::TimedOut => Probe::TimedOut,
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EHOSTUNREACH | libc::ENETUNREACH)
            ) =>
        {
            Probe::Unreachable
        }
        Err(e) => panic!("connect {sa}: unexpected error {e}"),
    }
}

/// Probe every pair in parallel from the scanner namespace.
fn probe_all(lab: &Lab, pairs: &[(Ipv4Addr, u16)]) -> Vec<Probe> {
    std::thread::scope(|s| {
        let handles: Vec<_> = pairs
            .iter()
            .map(|&(a, p)| s.spawn(move || lab.in_scanner(|| probe(a, p))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn ns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

fn lines_of(ns: &str, args: &[&str]) -> Vec<String> {
    let out = common::run_ok(Command::new("ip").args(["-n", ns]).args(args));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn mac_bytes(mac: &str) -> [u8; 6] {
    let v: Vec<u8> = mac
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

/// Every namespace of the lab has no default route.
fn assert_closed(lab: &Lab, namespaces: &[&str]) {
    for ns in namespaces {
        assert!(ns_exists(ns), "{ns}");
        let routes = lines_of(ns, &["route", "show", "default"]);
        assert!(routes.is_empty(), "{ns}: {routes:?}");
    }
    // Nothing outside the lab is reachable from the scanner: TEST-NET-2.
    assert_eq!(
        lab.in_scanner(|| probe("198.51.100.1".parse().unwrap(), 9)),
        Probe::Unreachable
    );
}

// ---- LAN ---------------------------------------------------------------------

/// ARP-sweep `targets` from `iface` (current thread's namespace) and return
/// (address, MAC) of every reply that arrives within `wait`.
fn arp_sweep(
    iface: &str,
    src_mac: [u8; 6],
    src_ip: Ipv4Addr,
    targets: &[Ipv4Addr],
    wait: Duration,
) -> BTreeSet<(Ipv4Addr, [u8; 6])> {
    const ETH_P_ARP: u16 = 0x0806;
    let name = std::ffi::CString::new(iface).unwrap();
    // SAFETY: plain syscalls on values we own; the fd moves into OwnedFd.
    let (fd, idx) = unsafe {
        let idx = libc::if_nametoindex(name.as_ptr());
        assert!(idx != 0, "if_nametoindex {iface}");
        let fd = libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ETH_P_ARP.to_be()),
        );
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        (OwnedFd::from_raw_fd(fd), idx)
    };
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = ETH_P_ARP.to_be();
    sll.sll_ifindex = idx as i32;
    // SAFETY: bind with a valid sockaddr_ll.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sll as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
    for t in targets {
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
        arp.extend(src_mac);
        arp.extend(src_ip.octets());
        arp.extend([0u8; 6]);
        arp.extend(t.octets());
        let frame = ethernet([0xff; 6], src_mac, ETH_P_ARP, &arp);
        // SAFETY: the buffer is valid for its length.
        let r = unsafe { libc::send(fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert!(r >= 0, "send: {}", std::io::Error::last_os_error());
    }
    let mut got = BTreeSet::new();
    let end = Instant::now() + wait;
    let mut buf = [0u8; 1600];
    while Instant::now() < end {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 50) } <= 0 {
            continue;
        }
        // SAFETY: recv into a buffer we own.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 42 {
            continue;
        }
        let a = &buf[14..n as usize];
        // An ARP reply (op 2) to us.
        if a[6..8] == [0, 2] && a[24..28] == src_ip.octets() {
            let mac: [u8; 6] = a[8..14].try_into().unwrap();
            got.insert((Ipv4Addr::new(a[14], a[15], a[16], a[17]), mac));
        }
    }
    got
}

/// An Ethernet frame with a bare SYN from the LAN scanner to `dst` at `mac`.
fn syn_frame(mac: [u8; 6], src: Ipv4Addr, dst: Ipv4Addr, dport: u16) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&40u16.to_be_bytes());
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let sum = checksum(&p[..20]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p[20..22].copy_from_slice(&45000u16.to_be_bytes());
    p[22..24].copy_from_slice(&dport.to_be_bytes());
    p[24..28].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    p[32] = 5 << 4;
    p[33] = SYN;
    p[34..36].copy_from_slice(&1024u16.to_be_bytes());
    let mut pseudo = Vec::with_capacity(32);
    pseudo.extend(src.octets());
    pseudo.extend(dst.octets());
    pseudo.extend([0, 6, 0, 20]);
    pseudo.extend_from_slice(&p[20..]);
    let sum = checksum(&pseudo);
    p[36..38].copy_from_slice(&sum.to_be_bytes());
    ethernet(mac, SCANNER_MAC, 0x0800, &p)
}

#[test]
fn lan_hosts_answer_tcp_as_their_ground_truth_says() {
    let ports = [22, 80, 443];
    let lab = Lab::builder().listen(&ports).build_lan();
    assert_eq!(lab.shape(), Shape::Lan);
    let hosts = lab.lan_hosts();
    assert_eq!(hosts.len(), 12);
    let addrs: BTreeSet<Ipv4Addr> = hosts.iter().map(|h| h.addr).collect();
    let macs: BTreeSet<&str> = hosts.iter().map(|h| h.mac.as_str()).collect();
    assert_eq!(addrs.len(), 12, "addresses not distinct: {hosts:?}");
    assert_eq!(macs.len(), 12, "MACs not distinct: {hosts:?}");
    assert!(!addrs.contains(&LAN_SCANNER_ADDR));
    // Different port sets per host, and the truth is not every host x port.
    let sets: BTreeSet<&Vec<u16>> = hosts.iter().map(|h| &h.ports).collect();
    assert!(sets.len() >= 3, "{hosts:?}");
    let open = lab.ground_truth_open(&ports, LAN_NET);
    let closed = lab.ground_truth_closed(&ports, LAN_NET);
    assert_eq!(open.len() + closed.len(), 12 * ports.len());
    assert!(!open.is_empty() && !closed.is_empty());

    // Every host x port, connected to from the scanner, plus two unused addresses.
    let mut pairs: Vec<(Ipv4Addr, u16)> = hosts
        .iter()
        .flat_map(|h| ports.iter().map(move |&p| (h.addr, p)))
        .collect();
    let unused: Vec<Ipv4Addr> = (2..=254u8)
        .map(|i| Ipv4Addr::new(198, 18, 1, i))
        .filter(|a| !addrs.contains(a))
        .take(2)
        .collect();
    pairs.extend(unused.iter().map(|&a| (a, 22)));
    let got = probe_all(&lab, &pairs);
    for (pair, got) in pairs.iter().zip(got) {
        let want = if open.contains(pair) {
            Probe::Open
        } else if closed.contains(pair) {
            Probe::Refused
        } else {
            // No ARP answer: the kernel never sends the SYN.
            assert!(!lab.is_alive(pair.0));
            Probe::TimedOut
        };
        assert_eq!(got, want, "{pair:?}");
    }
    let c = lab.counters();
    // Only the hosts' SYNs reached the bridge; none blind, none at a wrong MAC.
    assert_eq!(c.syn_in, 36, "{c:?}");
    assert_eq!((c.syn_blind, c.syn_wrong_mac), (0, 0), "{c:?}");
    assert_eq!(c.synack_out, open.len() as u64, "{c:?}");
    // (A closed port answers one RST; a connection torn down early may add one.)
    assert!(c.rst_out >= closed.len() as u64, "{c:?}");
    assert!(c.arp_requests >= 12, "{c:?}");

    let mut nss: Vec<&str> = hosts.iter().map(|h| h.ns.as_str()).collect();
    nss.extend([lab.scanner_ns(), lab.switch_ns()]);
    assert_closed(&lab, &nss);
    let routes = lines_of(lab.scanner_ns(), &["-4", "route", "show"]);
    assert_eq!(routes.len(), 1, "{routes:?}");
    assert!(routes[0].starts_with("198.18.1.0/24 dev"), "{routes:?}");
}

#[test]
fn lan_arp_answers_exactly_the_hosts_and_the_switch_counts_misdirected_syns() {
    let lab = Lab::builder().listen(&[80]).build_lan();
    let iface = lab.scanner_iface().to_string();
    let targets: Vec<Ipv4Addr> = (2..=254u8).map(|i| Ipv4Addr::new(198, 18, 1, i)).collect();
    let got = lab.in_scanner(|| {
        arp_sweep(
            &iface,
            SCANNER_MAC,
            LAN_SCANNER_ADDR,
            &targets,
            Duration::from_millis(700),
        )
    });
    let want: BTreeSet<(Ipv4Addr, [u8; 6])> = lab
        .lan_hosts()
        .iter()
        .map(|h| (h.addr, mac_bytes(&h.mac)))
        .collect();
    assert_eq!(got, want);
    let c = lab.counters();
    assert!(c.arp_requests >= 253, "{c:?}");

    // Hand-made SYNs: right MAC, another host's MAC, an unused address.
    lab.reset_counters();
    let (h0, h1) = (&lab.lan_hosts()[0], &lab.lan_hosts()[1]);
    let unused = targets.iter().copied().find(|a| !lab.is_alive(*a)).unwrap();
    let frames = [
        syn_frame(mac_bytes(&h0.mac), LAN_SCANNER_ADDR, h0.addr, 80),
        syn_frame(mac_bytes(&h0.mac), LAN_SCANNER_ADDR, h1.addr, 80),
        syn_frame([0xff; 6], LAN_SCANNER_ADDR, unused, 80),
    ];
    lab.in_scanner(|| {
        let s = PacketSocket::open(&iface).unwrap();
        for f in &frames {
            s.send(f).unwrap();
        }
    });
    let mut c = lab.counters();
    for _ in 0..50 {
        if c.synack_out + c.rst_out >= 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        c = lab.counters();
    }
    assert_eq!(c.syn_in, 3, "{c:?}");
    assert_eq!(c.syn_wrong_mac, 1, "{c:?}");
    assert_eq!(c.syn_blind, 1, "{c:?}");
    // Host 0 answers its own SYN (open or closed), nobody answers the others.
    assert_eq!(c.synack_out + c.rst_out, 1, "{c:?}");
}

// ---- VPN ---------------------------------------------------------------------

#[test]
fn vpn_tun_relay_carries_tcp_both_ways() {
    let lab = Lab::builder()
        .listen(&[22, 443])
        .alive_mask("0.0.0.3", "0.0.0.0")
        .build_vpn();
    let (alive, silent) = (Ipv4Addr::new(198, 19, 1, 8), Ipv4Addr::new(198, 19, 1, 9));
    let got = probe_all(
        &lab,
        &[(alive, 22), (alive, 443), (alive, 80), (silent, 22)],
    );
    assert_eq!(
        got,
        [Probe::Open, Probe::Open, Probe::Refused, Probe::TimedOut]
    );
    let c = lab.counters();
    assert!(c.syn_in >= 4 && c.silent_dropped >= 1, "{c:?}");
    assert_eq!((c.synack_out, c.rst_out), (2, 1), "{c:?}");
    assert_eq!(
        lab.ground_truth_open(&[22, 80], "198.19.1.8-198.19.1.9")
            .len(),
        1
    );

    // The scanner's only link besides lo is a layer-3 tun: no Ethernet
    // header, no link-layer address (ARPHRD_NONE).
    let links = lines_of(lab.scanner_ns(), &["-o", "link", "show"]);
    assert_eq!(links.len(), 2, "{links:?}");
    let link = lines_of(
        lab.scanner_ns(),
        &["-d", "-o", "link", "show", lab.scanner_iface()],
    )
    .join(" ");
    assert!(link.contains("link/none"), "{link}");
    assert!(link.contains("tun type tun pi off"), "{link}");
    assert_closed(&lab, &[lab.scanner_ns(), lab.target_ns()]);
}

#[test]
fn vpn_relay_stops_and_namespaces_go_when_the_lab_drops() {
    let lab = Lab::builder().listen(&[80]).build_vpn();
    let pid: u32 = lab.get("relay_pid").parse().unwrap();
    let proc_dir = format!("/proc/{pid}");
    assert!(Path::new(&proc_dir).exists());
    let cmdline = std::fs::read_to_string(format!("{proc_dir}/cmdline")).unwrap();
    assert!(cmdline.contains("tunrelay.py"), "{cmdline:?}");
    let nss = [lab.scanner_ns().to_string(), lab.target_ns().to_string()];
    drop(lab);
    // Gone, or a zombie that init has yet to reap (it was orphaned).
    let state = std::fs::read_to_string(format!("{proc_dir}/stat")).unwrap_or_default();
    let state = state.rsplit(") ").next().unwrap_or("").chars().next();
    assert!(
        matches!(state, None | Some('Z')),
        "relay {pid} still runs: {state:?}"
    );
    for ns in &nss {
        assert!(!ns_exists(ns), "{ns}");
    }
}

// ---- two paths ---------------------------------------------------------------

#[test]
fn two_path_lab_routes_each_half_to_its_own_target() {
    let lab = Lab::builder()
        .listen(&[80])
        .alive_mask("0.0.0.1", "0.0.0.0")
        .build_two_path();
    let paths = lab.paths().to_vec();
    assert_eq!(paths.len(), 2);
    assert_eq!(
        [paths[0].range.as_str(), paths[1].range.as_str()],
        PATH_RANGES
    );
    assert_ne!(paths[0].target_ns, paths[1].target_ns);
    assert_ne!(paths[0].iface, paths[1].iface);
    for (k, addr) in ["198.19.1.2", "198.19.200.2"].into_iter().enumerate() {
        // The kernel's route: this path's interface, source and gateway.
        let route = lines_of(lab.scanner_ns(), &["route", "get", addr]).join(" ");
        let p = &paths[k];
        assert!(
            route.contains(&format!(
                "via {} dev {} src {}",
                p.gateway, p.iface, p.source
            )),
            "{route}"
        );
    }
    lab.reset_counters();
    let a = Ipv4Addr::new(198, 19, 1, 2);
    let b = Ipv4Addr::new(198, 19, 200, 2);
    let got = probe_all(
        &lab,
        &[
            (a, 80),
            (b, 80),
            (b, 81),
            (Ipv4Addr::new(198, 19, 200, 3), 80),
        ],
    );
    assert_eq!(
        got,
        [Probe::Open, Probe::Open, Probe::Refused, Probe::TimedOut]
    );
    let (c0, c1) = (lab.path_counters(0), lab.path_counters(1));
    assert_eq!((c0.syn_in, c0.synack_out, c0.rst_out), (1, 1, 0), "{c0:?}");
    assert!(c1.syn_in >= 3 && c1.silent_dropped >= 1, "{c1:?}");
    assert_eq!((c1.synack_out, c1.rst_out), (1, 1), "{c1:?}");
    let sum = lab.counters();
    assert_eq!(sum.syn_in, c0.syn_in + c1.syn_in, "{sum:?}");

    // No route to a lab range outside the two halves.
    assert_eq!(
        lab.in_scanner(|| probe(Ipv4Addr::new(198, 18, 200, 1), 80)),
        Probe::Unreachable
    );
    assert_closed(
        &lab,
        &[lab.scanner_ns(), &paths[0].target_ns, &paths[1].target_ns],
    );
    // The ground truth covers both halves.
    assert_eq!(
        lab.ground_truth_open(&[80, 81], common::TARGET_RANGE).len(),
        32768
    );
}

#[test]
fn lab_sh_builds_every_shape_and_takes_it_down() {
    let name = format!("sh{}", std::process::id());
    for shape in ["lan", "vpn", "twopath", "loopback"] {
        let up = common::run_ok(
            Command::new(common::LAB_SH).args(["up", &name, "--shape", shape, "--ports", "80"]),
        );
        let text = String::from_utf8_lossy(&up.stdout).into_owned();
        let ns = format!("sswlab-{name}-s");
        let ok = std::panic::catch_unwind(|| {
            assert!(text.contains(&format!("shape={shape}\n")), "{text}");
            assert!(text.contains(&format!("scanner_ns={ns}\n")), "{text}");
            assert!(ns_exists(&ns));
        });
        common::run_ok(Command::new(common::LAB_SH).args(["down", &name]));
        let left: Vec<_> = std::fs::read_dir("/run/netns")
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!("sswlab-{name}-")))
            .collect();
        assert!(left.is_empty(), "{shape}: left behind {left:?}");
        if let Err(e) = ok {
            std::panic::resume_unwind(e);
        }
    }
}

#[test]
fn extra_source_addresses_reach_the_target_and_are_counted() {
    let lab = Lab::builder().listen(&[80]).sources(3).build();
    assert_eq!(
        lab.source_addrs(),
        [
            Ipv4Addr::new(198, 18, 2, 1),
            Ipv4Addr::new(198, 18, 2, 2),
            Ipv4Addr::new(198, 18, 2, 3)
        ]
    );
    let target = SocketAddr::from((Ipv4Addr::new(198, 19, 0, 7), 80));
    for src in lab.source_addrs() {
        lab.in_scanner(|| {
            let s = socket2_connect(src, target);
            assert!(s.is_ok(), "connect from {src}: {s:?}");
        });
    }
    for k in 1..=3 {
        assert_eq!(lab.counter(&format!("syn_src_{k}")), 1);
    }
    assert_eq!(lab.counters().syn_in, 3);
}

/// A TCP connect from a chosen source address (std has no bind-then-connect).
fn socket2_connect(src: Ipv4Addr, dst: SocketAddr) -> std::io::Result<()> {
    // SAFETY: plain socket syscalls on an fd we own and close.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let sin = |a: Ipv4Addr, port: u16| libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(a).to_be(),
            },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let local = sin(src, 0);
        if libc::bind(
            fd.as_raw_fd(),
            &local as *const _ as *const libc::sockaddr,
            len,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        let SocketAddr::V4(d) = dst else {
            unreachable!()
        };
        let remote = sin(*d.ip(), d.port());
        if libc::connect(
            fd.as_raw_fd(),
            &remote as *const _ as *const libc::sockaddr,
            len,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}
