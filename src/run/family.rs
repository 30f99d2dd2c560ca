//! The wiring of one address family's paths, the same code for IPv4 and
//! IPv6: on-link neighbour sweeps, the modules' templates per path, sending
//! and capture sockets, and the `--dry-run` lines. [`Family`] names the few
//! things that differ (the ethertype, our addresses in a capture filter, the
//! raw socket to our own addresses, how the sweep and loopback are called);
//! [`super::run`] calls each function once per family.

use super::plan::Templates;
use crate::config::{Rate, ScanConfig};
use crate::engine::cookie::CookieAddr;
use crate::error::{Error, Result};
use crate::net::neigh::{self, SweepConfig};
use crate::net::route::{self, Hop, Iface, Link, RouteAddr, Routes};
use crate::net::sys::{self, IpVersion, PacketSocket, RawIpSocket, TxSocket};
use crate::probe::{CaptureFilter, Identity, Probe};
use crate::targets::Ranges;
use crate::wire::ipv6::ETHERTYPE_IPV6;
use std::time::Duration;

/// What a scan's wiring needs to know of an address family beyond its
/// routes: `u32` is IPv4, `u128` IPv6.
pub trait Family: RouteAddr + CookieAddr {
    /// The ethertype of the family's IP packets.
    const IP_ETHERTYPE: u16;
    /// How `--dry-run` names an on-link path's neighbour sweep.
    const SWEEP: &'static str;
    /// How `--dry-run` names the loopback path's socket.
    const RAW_SOCKET: &'static str;
    /// Our addresses of this family, as the capture filter wants them.
    fn ours(id: &Identity) -> CaptureFilter<'_>;
    /// The family's raw IP sockets (the way to our own addresses).
    const IP_VERSION: IpVersion;
    /// 32 bits of the address, to pick one of a path's sources by.
    fn fold(self) -> u32;
    /// The destination a raw IP socket needs beside the packet (IPv6 raw
    /// sockets address each packet by its header: 0).
    fn raw_dst(self) -> u32;
}

impl Family for u32 {
    const IP_ETHERTYPE: u16 = sys::ETH_P_IP;
    const SWEEP: &'static str = "ARP sweep";
    const RAW_SOCKET: &'static str = "raw IP socket";
    fn ours(id: &Identity) -> CaptureFilter<'_> {
        let (low, high) = id.source_bounds();
        CaptureFilter::V4 { low, high }
    }
    const IP_VERSION: IpVersion = IpVersion::V4;
    #[inline]
    fn fold(self) -> u32 {
        self
    }
    #[inline]
    fn raw_dst(self) -> u32 {
        self
    }
}

impl Family for u128 {
    const IP_ETHERTYPE: u16 = ETHERTYPE_IPV6;
    const SWEEP: &'static str = "neighbour discovery";
    const RAW_SOCKET: &'static str = "raw IPv6 socket";
    fn ours(id: &Identity) -> CaptureFilter<'_> {
        CaptureFilter::V6(&id.sources.v6)
    }
    const IP_VERSION: IpVersion = IpVersion::V6;
    #[inline]
    fn fold(self) -> u32 {
        (self ^ (self >> 32) ^ (self >> 64) ^ (self >> 96)) as u32
    }
    #[inline]
    fn raw_dst(self) -> u32 {
        0
    }
}

/// Ask every on-link target of `targets` for its MAC (ARP or neighbour
/// discovery), so each is probed at its own; those that do not answer are
/// down and get no probe.
pub fn sweep_on_link<A: Family>(
    cfg: &ScanConfig,
    targets: &Ranges<A>,
    routes: &mut Routes<A>,
) -> Result<()> {
    let rate = match cfg.rate {
        Rate::Pps(r) => r.min(SweepConfig::default().rate),
        Rate::Max | Rate::Unlimited => SweepConfig::default().rate,
    };
    for k in 0..routes.paths.len() {
        let p = &routes.paths[k];
        let (Hop::OnLink, Link::Ethernet { src_mac }) = (p.hop, p.iface.link) else {
            continue;
        };
        let asked = targets.within(&p.ranges);
        let found = neigh::sweep(
            p.iface.index,
            src_mac,
            p.sources[0],
            &asked,
            SweepConfig {
                rate,
                ..SweepConfig::default()
            },
        )
        .map_err(|e| Error::socket(e, &p.iface.name))?;
        let down = asked.count() - found.len() as u64;
        if !cfg.quiet {
            eprintln!(
                "synsweep: {} on-link: {} of {} {}hosts answered {}; the other {down} are down and not probed",
                p.iface.name,
                found.len(),
                asked.count(),
                A::QUALIFIER,
                A::NAME,
            );
        }
        routes.down += down;
        routes.neighbours.extend(found);
    }
    Ok(())
}

/// Per path, per source, per module: the module's template.
pub fn templates<A: Family>(cfg: &ScanConfig, routes: &Routes<A>) -> Templates {
    routes
        .paths
        .iter()
        .map(|p| {
            p.sources
                .iter()
                .map(|&s| {
                    let s: std::net::IpAddr = s.into();
                    cfg.probes.iter().map(|m| m.template(s)).collect()
                })
                .collect()
        })
        .collect()
}

/// One sending socket per path (for one sender): AF_PACKET on links, a raw
/// IP socket to our own addresses.
pub fn tx_sockets<A: Family>(routes: &Routes<A>) -> Result<Vec<TxSocket>> {
    routes
        .paths
        .iter()
        .map(|p| {
            let err = |e| Error::socket(e, &p.iface.name);
            let s = match p.iface.link {
                Link::Loopback => {
                    return Ok(TxSocket::RawIp(
                        RawIpSocket::open(A::IP_VERSION).map_err(err)?,
                    ));
                }
                Link::Layer3 => PacketSocket::open_sender(p.iface.index, A::IP_ETHERTYPE),
                Link::Ethernet { .. } => PacketSocket::open(p.iface.index, 0),
            }
            .map_err(err)?;
            let _ = s.set_qdisc_bypass();
            Ok(TxSocket::Packet(s))
        })
        .collect()
}

/// A capture socket per interface of a path and module: the family's
/// frames only, through the module's filter. Each comes with its link
/// header length, module and interface name.
#[allow(clippy::type_complexity)]
pub fn rx_sockets<A: Family>(
    cfg: &ScanConfig,
    routes: &Routes<A>,
    id: &Identity,
    dport: (u16, u16),
) -> Result<Vec<(PacketSocket, usize, &'static dyn Probe, String)>> {
    let mut ifaces: Vec<&Iface> = Vec::new();
    for p in &routes.paths {
        if !ifaces.iter().any(|i| i.index == p.iface.index) {
            ifaces.push(&p.iface);
        }
    }
    let mut out = Vec::new();
    for i in ifaces {
        for &m in &cfg.probes {
            let l3 = i.link.capture_offset();
            let prog = m.filter(l3 as u32, A::ours(id), dport);
            let s = PacketSocket::open(i.index, A::IP_ETHERTYPE)
                .map_err(|e| Error::socket(e, &i.name))?;
            s.attach_filter(&prog).map_err(|e| {
                Error::runtime(format!(
                    "cannot attach the {}capture filter on {}: {e}",
                    A::QUALIFIER,
                    i.name
                ))
            })?;
            let _ = s.set_recv_buffer(64 << 20);
            s.set_recv_timeout(Duration::from_millis(50))
                .map_err(|e| Error::socket(e, &i.name))?;
            out.push((s, l3, m, i.name.clone()));
        }
    }
    Ok(out)
}

/// The `--dry-run` lines of the paths.
pub fn dry_run_lines<A: Family>(targets: &Ranges<A>, routes: &Routes<A>) -> String {
    let mut out = String::new();
    for p in &routes.paths {
        let hop = match p.hop {
            Hop::Gateway { ip: Some(ip), mac } => format!("gateway {ip} ({mac})"),
            Hop::Gateway { ip: None, mac } => format!("router MAC {mac}"),
            Hop::OnLink => format!("on-link ({}, each host at its own MAC)", A::SWEEP),
            Hop::Direct if p.iface.link == Link::Loopback => {
                format!("loopback ({})", A::RAW_SOCKET)
            }
            Hop::Direct => "layer 3 (no link header)".into(),
        };
        let sources: Vec<String> = p.sources.iter().map(|s| s.to_string()).collect();
        out.push_str(&format!(
            "path:      interface {}, source {}, {hop}: {}\n",
            p.iface.name,
            sources.join(","),
            route::describe_in(targets, &p.ranges, 3)
        ));
    }
    if !routes.unrouted.is_empty() {
        out.push_str(&format!(
            "no route:  {}\n",
            route::describe(&routes.unrouted, 3)
        ));
    }
    out
}

/// A warning on stderr naming the targets with no route (not probed).
pub fn warn_unrouted<A: Family>(cfg: &ScanConfig, routes: &Routes<A>) {
    if !routes.unrouted.is_empty() && !cfg.quiet {
        eprintln!(
            "synsweep: warning: no route to {}; they are not probed",
            route::describe(&routes.unrouted, 4)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::route::Path;
    use crate::wire::ethernet::Mac;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn iface(name: &str, link: Link) -> Iface {
        Iface {
            name: name.into(),
            index: 2,
            link,
        }
    }

    const ETH: Link = Link::Ethernet {
        src_mac: Mac([2, 0, 0, 0, 0, 1]),
    };

    #[test]
    fn dry_run_lines_name_each_ipv4_path_and_the_unrouted() {
        let ip = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
        let targets = Ranges::from_ranges(vec![
            (ip("198.18.1.0"), ip("198.18.1.3")),
            (ip("198.19.0.0"), ip("198.19.0.255")),
            (ip("127.0.0.1"), ip("127.0.0.1")),
            (ip("198.20.0.7"), ip("198.20.0.7")),
        ]);
        let paths = vec![
            Path {
                iface: iface("veth0", ETH),
                hop: Hop::Gateway {
                    ip: Some("198.18.0.2".parse().unwrap()),
                    mac: Mac([2, 0, 0, 0, 0, 2]),
                },
                sources: vec!["198.18.0.1".parse().unwrap()],
                ranges: vec![(ip("198.19.0.0"), ip("198.19.255.255"))],
            },
            Path {
                iface: iface("veth0", ETH),
                hop: Hop::OnLink,
                sources: vec!["198.18.1.9".parse().unwrap()],
                ranges: vec![(ip("198.18.1.0"), ip("198.18.1.255"))],
            },
            Path {
                iface: iface("lo", Link::Loopback),
                hop: Hop::Direct,
                sources: vec!["127.0.0.1".parse().unwrap()],
                ranges: vec![(ip("127.0.0.1"), ip("127.0.0.1"))],
            },
        ];
        let unrouted = Ranges::from_ranges(vec![(ip("198.20.0.7"), ip("198.20.0.7"))]);
        let routes = Routes::new(paths, unrouted);
        assert_eq!(
            dry_run_lines(&targets, &routes),
            "path:      interface veth0, source 198.18.0.1, gateway 198.18.0.2 (02:00:00:00:00:02): 256 addresses: 198.19.0.0-198.19.0.255\n\
             path:      interface veth0, source 198.18.1.9, on-link (ARP sweep, each host at its own MAC): 4 addresses: 198.18.1.0-198.18.1.3\n\
             path:      interface lo, source 127.0.0.1, loopback (raw IP socket): 1 addresses: 127.0.0.1\n\
             no route:  1 addresses: 198.20.0.7\n"
        );
    }

    #[test]
    fn dry_run_lines_name_each_ipv6_path_the_same_way() {
        let ip = |s: &str| u128::from(s.parse::<Ipv6Addr>().unwrap());
        let targets = Ranges::from_ranges(vec![
            (ip("2001:2::1"), ip("2001:2::2")),
            (ip("2001:2:1::5"), ip("2001:2:1::5")),
        ]);
        let paths = vec![
            Path {
                iface: iface("veth0", ETH),
                hop: Hop::OnLink,
                sources: vec!["2001:2::ff".parse().unwrap()],
                ranges: vec![(ip("2001:2::"), ip("2001:2::ffff"))],
            },
            Path {
                iface: iface("wg0", Link::Layer3),
                hop: Hop::Direct,
                sources: vec![
                    "2001:2:0:ff::1".parse().unwrap(),
                    "2001:2:0:ff::2".parse().unwrap(),
                ],
                ranges: vec![(ip("2001:2:1::"), ip("2001:2:1::ffff"))],
            },
        ];
        let routes = Routes::new(paths, Ranges::new());
        assert_eq!(
            dry_run_lines(&targets, &routes),
            "path:      interface veth0, source 2001:2::ff, on-link (neighbour discovery, each host at its own MAC): 2 IPv6 addresses: 2001:2::1-2001:2::2\n\
             path:      interface wg0, source 2001:2:0:ff::1,2001:2:0:ff::2, layer 3 (no link header): 1 IPv6 addresses: 2001:2:1::5\n"
        );
    }

    #[test]
    fn a_path_picks_its_source_by_32_bits_of_the_address() {
        assert_eq!(Family::fold(0xc613_0004u32), 0xc613_0004);
        let a: u128 = 0x2001_0002_0000_0001_0000_0003_0000_0005;
        assert_eq!(Family::fold(a), 0x2001_0002 ^ 0x0000_0001 ^ 3 ^ 5);
        assert_eq!(Family::raw_dst(a), 0, "IPv6 raw sockets address by header");
        assert_eq!(Family::raw_dst(7u32), 7);
    }
}
