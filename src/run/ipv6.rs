//! The IPv6 wiring of a scan, next to the IPv4 wiring in `run`: IPv6
//! routes and neighbour discovery, the modules' IPv6 templates, sending
//! sockets per IPv6 path and capture sockets (ethertype 0x86dd, the module's
//! IPv6 filter) per interface. Each function is called once from
//! [`super::run`] where its IPv4 counterpart is; with no IPv6 target each
//! does nothing.

use super::plan::Templates6;
use crate::config::{Rate, ScanConfig};
use crate::error::{Error, Result};
use crate::net::neigh::{self, SweepConfig};
use crate::net::route::{Hop, Iface, Link, Routes};
use crate::net::sys::{PacketSocket, RawIp6Socket, TxSocket};
use crate::probe::{CaptureFilter, Identity, Probe};
use crate::targets::RangeSet6;
use crate::wire::ipv6::ETHERTYPE_IPV6;
use std::time::Duration;

/// The IPv6 routes of the scan (none without IPv6 targets); IPv6 targets
/// with no route are named on stderr.
pub fn resolve(cfg: &ScanConfig) -> Result<Routes<u128>> {
    let r = crate::net::route::resolve(&cfg.targets.v6, &cfg.overrides, !cfg.dry_run)?;
    if !r.unrouted.is_empty() && !cfg.quiet {
        eprintln!(
            "synsweep: warning: no route to {}; they are not probed",
            crate::net::route::describe(&r.unrouted, 4)
        );
    }
    Ok(r)
}

/// Solicit every on-link IPv6 target for its MAC; those that do not
/// answer are down and get no probe.
pub fn sweep_on_link(cfg: &ScanConfig, routes: &mut Routes<u128>) -> Result<()> {
    let rate = match cfg.rate {
        Rate::Pps(r) => r.min(SweepConfig::default().rate),
        Rate::Max | Rate::Unlimited => SweepConfig::default().rate,
    };
    for k in 0..routes.paths.len() {
        let p = &routes.paths[k];
        let (Hop::OnLink, Link::Ethernet { src_mac }) = (p.hop, p.iface.link) else {
            continue;
        };
        let asked = cfg.targets.v6.within(&p.ranges);
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
                "synsweep: {} on-link: {} of {} IPv6 hosts answered neighbour discovery; the other {down} are down and not probed",
                p.iface.name,
                found.len(),
                asked.count(),
            );
        }
        routes.down += down;
        routes.neighbours.extend(found);
    }
    Ok(())
}

/// Per IPv6 path, per source, per module: the module's IPv6 template.
pub fn templates(cfg: &ScanConfig, routes: &Routes<u128>) -> Templates6 {
    routes
        .paths
        .iter()
        .map(|p| {
            p.sources
                .iter()
                .map(|&s| {
                    cfg.probes
                        .iter()
                        .map(|m| Some(m.template(s.into())))
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// One sending socket per IPv6 path (for one sender).
pub fn tx_sockets(routes: &Routes<u128>) -> Result<Vec<TxSocket>> {
    routes
        .paths
        .iter()
        .map(|p| {
            let err = |e| Error::socket(e, &p.iface.name);
            let s = match p.iface.link {
                Link::Loopback => return Ok(TxSocket::RawIp6(RawIp6Socket::open().map_err(err)?)),
                Link::Layer3 => PacketSocket::open_sender(p.iface.index, ETHERTYPE_IPV6),
                Link::Ethernet { .. } => PacketSocket::open(p.iface.index, 0),
            }
            .map_err(err)?;
            let _ = s.set_qdisc_bypass();
            Ok(TxSocket::Packet(s))
        })
        .collect()
}

/// A capture socket per interface of an IPv6 path and module: IPv6 frames
/// only, through the module's IPv6 filter. Each comes with its link header
/// length, module and interface name, as the IPv4 ones.
#[allow(clippy::type_complexity)]
pub fn rx_sockets(
    cfg: &ScanConfig,
    routes: &Routes<u128>,
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
            let prog = m.filter(l3 as u32, CaptureFilter::V6(&id.sources6), dport);
            let s = PacketSocket::open(i.index, ETHERTYPE_IPV6)
                .map_err(|e| Error::socket(e, &i.name))?;
            s.attach_filter(&prog).map_err(|e| {
                Error::runtime(format!(
                    "cannot attach the IPv6 capture filter on {}: {e}",
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

/// The `--dry-run` lines of the IPv6 paths.
pub fn dry_run_lines(targets: &RangeSet6, routes: &Routes<u128>) -> String {
    let mut out = String::new();
    for p in &routes.paths {
        let hop = match p.hop {
            Hop::Gateway { ip: Some(ip), mac } => format!("gateway {ip} ({mac})"),
            Hop::Gateway { ip: None, mac } => format!("router MAC {mac}"),
            Hop::OnLink => "on-link (neighbour discovery, each host at its own MAC)".into(),
            Hop::Direct if p.iface.link == Link::Loopback => "loopback (raw IPv6 socket)".into(),
            Hop::Direct => "layer 3 (no link header)".into(),
        };
        let sources: Vec<String> = p.sources.iter().map(|s| s.to_string()).collect();
        out.push_str(&format!(
            "path:      interface {}, source {}, {hop}: {}\n",
            p.iface.name,
            sources.join(","),
            crate::net::route::describe_in(targets, &p.ranges, 3)
        ));
    }
    if !routes.unrouted.is_empty() {
        out.push_str(&format!(
            "no route:  {}\n",
            crate::net::route::describe(&routes.unrouted, 3)
        ));
    }
    out
}
