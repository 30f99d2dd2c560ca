//! Where IPv6 probes go: the IPv6 half of `net::route`. For every IPv6
//! target, the interface, source address and next hop the kernel would use
//! (netlink `RTM_GETROUTE` for `AF_INET6`, after cutting the targets at
//! every IPv6 route prefix), grouped into [`Path`]s. Targets with no route
//! are kept aside and named.
//!
//! Next hops on Ethernet are found by neighbour discovery of our own
//! (`net::neigh`): the gateway's MAC by one solicitation, on-link targets
//! each by a solicitation sweep. Layer-3 links (tun, WireGuard) need none;
//! our own addresses (`::1`) go through loopback, probed by a raw IPv6
//! socket.
//!
//! [`pieces6`] and [`plan6_cells`] are pure and test on made-up tables;
//! [`resolve6`] asks the live kernel.

use super::neigh;
use super::route::{
    Groups, Hop, Iface, KernelRoute, Link, Overrides, Path, Routes, iface, netlink,
};
use crate::error::{Error, Result};
use crate::targets::RangeSet6;
use crate::wire::ethernet::Mac;
use std::net::Ipv6Addr;

/// Cut `targets` at every prefix boundary in `prefixes` ((network, length)
/// of every IPv6 route): inside one piece every address has the same
/// longest match.
pub fn pieces6(targets: &RangeSet6, prefixes: &[(u128, u8)]) -> Vec<(u128, u128)> {
    pieces6_at(targets, &cuts6(prefixes)).collect()
}

/// The prefix boundaries of `prefixes`, sorted: between two consecutive
/// cuts (a cell) every address has the same longest match, so the kernel
/// is asked once per cell, not once per piece.
pub fn cuts6(prefixes: &[(u128, u8)]) -> Vec<u128> {
    // A cut at c: a piece ends at c - 1. Cuts at 0 and past the top
    // (2^128) cut nothing.
    let mut cuts: Vec<u128> = Vec::new();
    for &(net, len) in prefixes {
        if len == 0 || len > 128 {
            continue;
        }
        let host_bits = 128 - len as u32;
        let mask = if host_bits == 128 {
            0
        } else {
            !((1u128 << host_bits) - 1)
        };
        let start = net & mask;
        if start != 0 {
            cuts.push(start);
        }
        let size_minus_1 = !mask;
        if let Some(end) = start
            .checked_add(size_minus_1)
            .and_then(|e| e.checked_add(1))
        {
            cuts.push(end);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// [`pieces6`] with the cuts already made, one piece at a time.
fn pieces6_at<'a>(
    targets: &'a RangeSet6,
    cuts: &'a [u128],
) -> impl Iterator<Item = (u128, u128)> + 'a {
    targets.ranges().iter().flat_map(move |&(a, b)| {
        let k = cuts.partition_point(|&c| c <= a);
        let mut rest = cuts[k..].iter();
        let mut lo = Some(a);
        std::iter::from_fn(move || {
            let l = lo?;
            match rest.next() {
                Some(&c) if c <= b => {
                    lo = Some(c);
                    Some((l, c - 1))
                }
                _ => {
                    lo = None;
                    Some((l, b))
                }
            }
        })
    })
}

/// [`plan`](super::route::plan) over the pieces of `targets`, asking `route_of` once per cell
/// between prefix boundaries (as [`super::route::plan_cells`]).
pub fn plan6_cells(
    targets: &RangeSet6,
    prefixes: &[(u128, u8)],
    route_of: impl FnMut(u128) -> Option<KernelRoute<Ipv6Addr>>,
) -> (Groups<KernelRoute<Ipv6Addr>, u128>, RangeSet6) {
    let cuts = cuts6(prefixes);
    let cell_of = |ip: u128| cuts.partition_point(|&c| c <= ip);
    super::route::plan(
        pieces6_at(targets, &cuts),
        super::route::per_cell(cell_of, route_of),
    )
}

mod nl {
    use super::KernelRoute;
    use super::netlink::{read, send, socket};
    use netlink_packet_core::{NLM_F_DUMP, NLM_F_REQUEST};
    use netlink_packet_route::AddressFamily;
    use netlink_packet_route::route::{
        RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType,
    };
    use std::io;
    use std::net::Ipv6Addr;

    /// (network, prefix length) of every IPv6 route of every table.
    pub fn prefixes() -> io::Result<Vec<(u128, u8)>> {
        let s = socket()?;
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet6;
        m.header.table = RouteHeader::RT_TABLE_UNSPEC;
        send(&s, m, NLM_F_REQUEST | NLM_F_DUMP)?;
        let mut out = Vec::new();
        read(&s, |r| {
            let len = r.header.destination_prefix_length;
            let net = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Destination(RouteAddress::Inet6(ip)) => Some(u128::from(*ip)),
                _ => None,
            });
            out.push((net.unwrap_or(0), len));
        })?;
        Ok(out)
    }

    /// The route the kernel would use for `dst` (None: unreachable).
    pub fn get(dst: Ipv6Addr) -> io::Result<Option<KernelRoute<Ipv6Addr>>> {
        let s = socket()?;
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet6;
        m.header.destination_prefix_length = 128;
        m.attributes
            .push(RouteAttribute::Destination(RouteAddress::Inet6(dst)));
        send(&s, m, NLM_F_REQUEST)?;
        let mut found = None;
        let res = read(&s, |r| {
            let ok = matches!(r.header.kind, RouteType::Unicast | RouteType::Local);
            let mut k = KernelRoute {
                oif: 0,
                gateway: None,
                prefsrc: None,
                local: r.header.kind == RouteType::Local,
                broadcast: false,
            };
            for a in &r.attributes {
                match a {
                    RouteAttribute::Oif(i) => k.oif = *i,
                    RouteAttribute::Gateway(RouteAddress::Inet6(g)) => k.gateway = Some(*g),
                    RouteAttribute::PrefSource(RouteAddress::Inet6(p)) => k.prefsrc = Some(*p),
                    _ => {}
                }
            }
            if ok && k.oif != 0 {
                found = Some(k);
            }
        });
        match res {
            Ok(()) => Ok(found),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(
                        libc::ENETUNREACH
                            | libc::EHOSTUNREACH
                            | libc::EACCES
                            | libc::EINVAL
                            | libc::EAFNOSUPPORT
                    )
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// The source address the kernel would use for `dst` (a connected UDP
/// socket sends nothing).
fn source_for(dst: Ipv6Addr) -> Option<Ipv6Addr> {
    let s = std::net::UdpSocket::bind("[::]:0").ok()?;
    s.connect((dst, 9)).ok()?;
    match s.local_addr().ok()?.ip() {
        std::net::IpAddr::V6(ip) if !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

/// Resolve every IPv6 target to a path, from the live kernel. With
/// `may_send` false (a dry run) no solicitation is sent and an unknown
/// gateway MAC is left as 00:00:00:00:00:00. An empty `targets` resolves
/// to no path without asking the kernel.
pub fn resolve6(targets: &RangeSet6, o: &Overrides, may_send: bool) -> Result<Routes<u128>> {
    if targets.is_empty() {
        return Ok(Routes::<u128>::default());
    }
    let forced = match &o.iface {
        Some(name) => Some(
            crate::net::sys::if_index(name)
                .map_err(|_| Error::input(format!("unknown interface '{name}'")))?,
        ),
        None => None,
    };
    let prefixes = nl::prefixes().map_err(|e| {
        Error::runtime(format!("cannot read the IPv6 routing table (netlink): {e}"))
    })?;
    let mut err = None;
    let (groups, unrouted) = plan6_cells(targets, &prefixes, |ip| {
        let r = match nl::get(Ipv6Addr::from(ip)) {
            Ok(r) => r,
            Err(e) => {
                err.get_or_insert(e);
                None
            }
        };
        match (forced, r) {
            (Some(f), Some(r)) if r.oif == f && !r.local => Some(r),
            (Some(f), r) => Some(KernelRoute {
                oif: f,
                gateway: None,
                prefsrc: r.as_ref().and_then(|r| r.prefsrc),
                local: false,
                broadcast: false,
            }),
            (None, r) => r,
        }
    });
    if let Some(e) = err {
        return Err(Error::runtime(format!("IPv6 route lookup (netlink): {e}")));
    }
    let mut paths: Vec<Path<u128>> = Vec::new();
    for (k, ranges) in groups {
        let mut ifc = iface(k.oif)?;
        if k.local && forced.is_none() {
            // Our own addresses: the kernel delivers them through loopback.
            ifc = Iface {
                link: Link::Loopback,
                ..ifc
            };
        }
        let first = Ipv6Addr::from(ranges[0].0);
        let sources = match k.prefsrc.or_else(|| source_for(first)) {
            _ if !o.sources6.is_empty() => o.sources6.clone(),
            Some(s) => vec![s],
            None => {
                return Err(Error::runtime(format!(
                    "no IPv6 source address to reach {first} (give --source-ip)"
                )));
            }
        };
        let hop = match ifc.link {
            Link::Layer3 | Link::Loopback => Hop::Direct,
            Link::Ethernet { src_mac } => match (o.router_mac, k.gateway) {
                (Some(mac), g) => Hop::Gateway { ip: g, mac },
                (None, Some(g)) => Hop::Gateway {
                    ip: Some(g),
                    mac: if may_send {
                        neigh::resolve_one::<u128>(ifc.index, &ifc.name, src_mac, sources[0], g)?
                    } else {
                        Mac::ZERO
                    },
                },
                (None, None) => Hop::OnLink,
            },
        };
        match paths
            .iter_mut()
            .find(|p| p.iface == ifc && p.hop == hop && p.sources == sources)
        {
            Some(p) => p.ranges.extend(ranges),
            None => paths.push(Path {
                iface: ifc,
                hop,
                sources,
                ranges,
            }),
        }
    }
    for p in &mut paths {
        p.ranges.sort_unstable();
    }
    Ok(Routes::new(paths, unrouted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> u128 {
        u128::from(s.parse::<Ipv6Addr>().unwrap())
    }

    #[test]
    fn pieces_cut_at_every_prefix_inside_the_targets() {
        let t = RangeSet6::from_ranges(vec![(ip("2001:2::"), ip("2001:2::ffff"))]);
        let prefixes = [
            (ip("2001:2::"), 64),      // covers all: no cut inside
            (ip("2001:2::8000"), 113), // the upper half
            (ip("2001:2::c000"), 114), // a quarter of it
            (0, 0),                    // default route: no cut
            (ip("2001:db8::"), 32),    // elsewhere
            (ip("ffff::"), 16),        // up to the top of the space
        ];
        let p = pieces6(&t, &prefixes);
        assert_eq!(
            p,
            vec![
                (ip("2001:2::"), ip("2001:2::7fff")),
                (ip("2001:2::8000"), ip("2001:2::bfff")),
                (ip("2001:2::c000"), ip("2001:2::ffff")),
            ]
        );
        let top = RangeSet6::from_ranges(vec![(u128::MAX - 3, u128::MAX)]);
        assert_eq!(pieces6(&top, &prefixes), vec![(u128::MAX - 3, u128::MAX)]);
        assert_eq!(
            pieces6(&top, &[(u128::MAX - 1, 127)]),
            vec![(u128::MAX - 3, u128::MAX - 2), (u128::MAX - 1, u128::MAX)]
        );
    }

    #[test]
    fn plan_groups_by_route_and_keeps_the_unrouted() {
        let gw = |g: &str| KernelRoute {
            oif: 2,
            gateway: Some(g.parse().unwrap()),
            prefsrc: Some("2001:2:0:ff::1".parse().unwrap()),
            local: false,
            broadcast: false,
        };
        let pieces = [
            (ip("2001:2::"), ip("2001:2::ff")),
            (ip("2001:2::100"), ip("2001:2::1ff")),
            (ip("2001:2:1::"), ip("2001:2:1::ff")),
            (ip("2001:2:2::"), ip("2001:2:2::ff")),
        ];
        let (groups, unrouted) = crate::net::route::plan(pieces, |a| {
            if a >= ip("2001:2:2::") {
                None
            } else if a >= ip("2001:2:1::") {
                Some(gw("2001:2:0:ff::3"))
            } else {
                Some(gw("2001:2:0:ff::2"))
            }
        });
        assert_eq!(groups.len(), 2);
        assert_eq!(
            groups[0].1,
            vec![(ip("2001:2::"), ip("2001:2::1ff"))],
            "merged"
        );
        assert_eq!(groups[1].1, vec![(ip("2001:2:1::"), ip("2001:2:1::ff"))]);
        assert_eq!(unrouted.count(), 256);
        let r = Routes::new(
            groups
                .into_iter()
                .map(|(k, ranges)| Path {
                    iface: Iface {
                        name: "x".into(),
                        index: k.oif,
                        link: Link::Layer3,
                    },
                    hop: Hop::Direct,
                    sources: vec![k.prefsrc.unwrap()],
                    ranges,
                })
                .collect(),
            unrouted,
        );
        assert_eq!(r.path_of(ip("2001:2::1ff")), Some(0));
        assert_eq!(r.path_of(ip("2001:2:1::7")), Some(1));
        assert_eq!(r.path_of(ip("2001:2:2::7")), None);
        assert_eq!(r.path_of(ip("2001:2::200")), None);
        assert_eq!(r.next_mac(0, ip("2001:2::1")), Some(None));
        assert_eq!(r.sources(), vec![ip("2001:2:0:ff::1")]);
        assert!(crate::net::route::describe(&r.unrouted, 4).contains("2001:2:2::-2001:2:2::ff"));
    }
}
