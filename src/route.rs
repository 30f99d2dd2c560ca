//! Where to send: the interface, source address and next hop for a target,
//! from the kernel's routing table (`/proc/net/route`), the neighbour table
//! (`/proc/net/arp`) or an ARP request of our own. The parsers are pure and
//! test on literal text; `resolve` reads the live files.

use crate::error::{Error, Result};
use crate::sys::{self, PacketSocket};
use crate::wire::arp;
use crate::wire::ethernet::Mac;
use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

/// One row of `/proc/net/route`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub iface: String,
    pub dest: u32,
    pub gateway: u32,
    pub mask: u32,
    pub metric: u32,
}

/// Parse `/proc/net/route` (addresses are little-endian hex).
pub fn parse_routes(text: &str) -> Vec<Route> {
    let hex = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::from_be);
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let flags = u32::from_str_radix(f[3], 16).ok()?;
            if flags & 0x1 == 0 {
                return None; // RTF_UP not set
            }
            Some(Route {
                iface: f[0].to_string(),
                dest: hex(f[1])?,
                gateway: hex(f[2])?,
                mask: hex(f[7])?,
                metric: f[6].parse().ok()?,
            })
        })
        .collect()
}

/// The best route to `dst`: longest prefix, then lowest metric.
pub fn lookup(routes: &[Route], dst: u32) -> Option<&Route> {
    routes
        .iter()
        .filter(|r| dst & r.mask == r.dest)
        .max_by_key(|r| (r.mask.count_ones(), u32::MAX - r.metric))
}

/// Find `ip`'s complete entry on `iface` in `/proc/net/arp`.
pub fn parse_neighbour(text: &str, ip: Ipv4Addr, iface: &str) -> Option<Mac> {
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 6 || f[0].parse::<Ipv4Addr>().ok()? != ip || f[5] != iface {
            return None;
        }
        let flags = u32::from_str_radix(f[2].trim_start_matches("0x"), 16).ok()?;
        if flags & 0x2 == 0 {
            return None;
        }
        f[3].parse().ok().filter(|m: &Mac| *m != Mac::ZERO)
    })
}

/// How probes leave the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Ethernet frames on an interface, to the next hop's MAC.
    Ethernet {
        iface: String,
        ifindex: u32,
        src_mac: Mac,
        next_hop_mac: Mac,
    },
    /// Raw IPv4 on loopback (frames injected on `lo` would be dropped as martians).
    Loopback { ifindex: u32 },
}

/// The resolved path for a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub link: Link,
    pub src_ip: Ipv4Addr,
    /// The next hop (gateway, or the target itself when on-link).
    pub next_hop: Ipv4Addr,
}

/// What the user forced on the command line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub iface: Option<String>,
    pub src_ip: Option<Ipv4Addr>,
    pub router_mac: Option<Mac>,
}

fn sysfs(iface: &str, what: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/{what}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Resolve interface, source address and next-hop MAC for probes to `dst`.
/// With `may_send` false (a dry run) no ARP request is sent and an unknown
/// next hop is left as 00:00:00:00:00:00.
pub fn resolve(dst: Ipv4Addr, o: &Overrides, may_send: bool) -> Result<Path> {
    if let Some(i) = &o.iface
        && sysfs(i, "ifindex").is_none()
    {
        return Err(Error::input(format!("unknown interface '{i}'")));
    }
    let table = std::fs::read_to_string("/proc/net/route")
        .map_err(|e| Error::runtime(format!("cannot read /proc/net/route: {e}")))?;
    let routes = parse_routes(&table);
    let route = lookup(&routes, u32::from(dst));
    let (iface, gateway) = match (&o.iface, route) {
        (Some(i), Some(r)) if &r.iface == i => (i.clone(), r.gateway),
        (Some(i), _) => (i.clone(), 0),
        (None, Some(r)) => (r.iface.clone(), r.gateway),
        (None, None) if dst.is_loopback() => ("lo".to_string(), 0),
        (None, None) => {
            return Err(Error::runtime(format!(
                "no route to {dst} (give -i IFACE and --router-mac MAC)"
            )));
        }
    };
    let ifindex: u32 = sysfs(&iface, "ifindex")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::input(format!("unknown interface '{iface}'")))?;
    let src_ip = match o.src_ip {
        Some(ip) => ip,
        None => source_for(dst).ok_or_else(|| {
            Error::runtime(format!(
                "no source address to reach {dst} (give --source-ip)"
            ))
        })?,
    };
    let next_hop = if gateway != 0 {
        Ipv4Addr::from(gateway)
    } else {
        dst
    };
    let is_loopback = iface == "lo" || sysfs(&iface, "type").as_deref() == Some("772");
    if is_loopback {
        return Ok(Path {
            link: Link::Loopback { ifindex },
            src_ip,
            next_hop,
        });
    }
    let src_mac: Mac = sysfs(&iface, "address")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::runtime(format!("interface {iface} has no Ethernet address")))?;
    let next_hop_mac = match o.router_mac {
        Some(m) => m,
        None => neighbour(&iface, ifindex, src_mac, src_ip, next_hop, may_send)?,
    };
    Ok(Path {
        link: Link::Ethernet {
            iface,
            ifindex,
            src_mac,
            next_hop_mac,
        },
        src_ip,
        next_hop,
    })
}

/// The source address the kernel would use for `dst` (a connected UDP socket
/// sends nothing).
fn source_for(dst: Ipv4Addr) -> Option<Ipv4Addr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect((dst, 9)).ok()?;
    match s.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

/// The next hop's MAC: from the neighbour table, else by asking with ARP.
fn neighbour(
    iface: &str,
    ifindex: u32,
    src_mac: Mac,
    src_ip: Ipv4Addr,
    ip: Ipv4Addr,
    may_send: bool,
) -> Result<Mac> {
    if let Some(m) = std::fs::read_to_string("/proc/net/arp")
        .ok()
        .and_then(|t| parse_neighbour(&t, ip, iface))
    {
        return Ok(m);
    }
    if !may_send {
        return Ok(Mac::ZERO);
    }
    let s = PacketSocket::open(ifindex, sys::ETH_P_ARP)
        .map_err(|e| crate::scan::socket_error(e, iface))?;
    s.set_recv_timeout(Duration::from_millis(100))
        .map_err(|e| Error::runtime(format!("{iface}: {e}")))?;
    let req = arp::request(src_mac, src_ip, ip);
    let mut buf = [0u8; 1514];
    for _ in 0..3 {
        s.send(&req)
            .map_err(|e| Error::runtime(format!("ARP request on {iface}: {e}")))?;
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            if let Ok(Some(n)) = s.recv(&mut buf)
                && let Ok(Some(m)) = arp::parse_reply_for(&buf[..n], ip)
            {
                return Ok(m);
            }
        }
    }
    Err(Error::runtime(format!(
        "no ARP reply from next hop {ip} on {iface} (give --router-mac)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
veth0\t000013C6\t020012C6\t0003\t0\t0\t0\t0000FFFF\t0\t0\t0
veth0\t000012C6\t00000000\t0001\t0\t0\t0\tFCFFFFFF\t0\t0\t0
veth1\t000013C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
down0\t000013C6\t00000000\t0000\t0\t0\t0\tFFFFFFFF\t0\t0\t0
";

    #[test]
    fn longest_prefix_wins() {
        let r = parse_routes(ROUTES);
        assert_eq!(r.len(), 3, "the route that is not up is skipped");
        let ip = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
        let via = lookup(&r, ip("198.19.7.7")).unwrap();
        assert_eq!(
            (via.iface.as_str(), via.gateway),
            ("veth0", ip("198.18.0.2"))
        );
        assert_eq!(lookup(&r, ip("198.19.0.9")).unwrap().iface, "veth1");
        assert_eq!(lookup(&r, ip("198.18.0.2")).unwrap().gateway, 0);
        assert!(lookup(&r, ip("203.0.113.1")).is_none(), "no default route");
    }

    #[test]
    fn neighbour_table() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device
198.18.0.2       0x1         0x2         02:aa:bb:cc:dd:ee     *        veth0
198.18.0.3       0x1         0x0         00:00:00:00:00:00     *        veth0
";
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            parse_neighbour(t, ip("198.18.0.2"), "veth0"),
            Some("02:aa:bb:cc:dd:ee".parse().unwrap())
        );
        assert_eq!(parse_neighbour(t, ip("198.18.0.2"), "eth9"), None);
        assert_eq!(
            parse_neighbour(t, ip("198.18.0.3"), "veth0"),
            None,
            "incomplete entry"
        );
    }
}
