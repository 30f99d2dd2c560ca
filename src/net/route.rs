//! Where probes go: for every target of either family, the interface,
//! source address and next hop the kernel would use, grouped into paths.
//! One scan drives every path it needs.
//!
//! The kernel is asked through netlink (`RTM_GETROUTE`, as `ip route get`
//! does, so policy routing is honoured): the target ranges are first cut at
//! every route prefix of every table (so each piece has one route), then one
//! address per piece is looked up. Pieces with the same (interface, gateway,
//! sources) form a [`Path`]. Targets with no route are kept aside and named,
//! never silently dropped.
//!
//! Link types: Ethernet (frames to the gateway's MAC, or, on a directly
//! connected network, to each host's own MAC from our ARP or neighbour
//! discovery sweep, see `net::neigh`), loopback (a raw IP socket), and
//! layer-3 devices with no link header (tun, WireGuard, ppp), probed and
//! captured at the IP layer.
//!
//! Everything here is generic over the family ([`RouteAddr`]: `u32` for
//! IPv4, `u128` for IPv6); what differs (the netlink address attribute, the
//! neighbour cache) is in the two impls of that trait. [`plan`] and
//! [`plan_cells`] are pure and test on made-up routing tables; [`resolve`]
//! asks the live kernel.

use super::neigh::{self, Neighbour};
use crate::error::{Error, Result};
use crate::net::sys;
use crate::targets::{Addr, Ranges};
use crate::wire::ethernet::Mac;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::route::RouteAddress;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How frames are framed on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Ethernet II, from our MAC.
    Ethernet { src_mac: Mac },
    /// No link header (tun, WireGuard, ppp): bare IP packets.
    Layer3,
    /// Loopback: probes through a raw IP socket (frames injected on `lo`
    /// are dropped as martians), replies captured behind a zero Ethernet header.
    Loopback,
}

impl Link {
    /// Bytes before the IP header of a captured frame.
    pub fn capture_offset(self) -> usize {
        match self {
            Link::Ethernet { .. } | Link::Loopback => 14,
            Link::Layer3 => 0,
        }
    }
}

/// An interface probes leave by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iface {
    pub name: String,
    pub index: u32,
    pub link: Link,
}

/// An address family as routes see it: the integer address of the target
/// sets (`u32`, `u128`), its standard type ([`Neighbour::Ip`]) and how
/// netlink and the neighbour cache spell it.
pub trait RouteAddr: Neighbour {
    /// How the family qualifies "addresses", "routing table"... in
    /// messages: nothing for IPv4, "IPv6 " for IPv6.
    const QUALIFIER: &'static str;
    /// Bits in an address (the longest prefix).
    const BITS: u32;
    /// The family's netlink address family.
    const FAMILY: AddressFamily;
    /// An address of this family as a netlink route attribute.
    fn route_address(ip: Self::Ip) -> RouteAddress;
    /// A netlink route attribute's address, if it is of this family.
    fn of_route_address(a: &RouteAddress) -> Option<Self::Ip>;
    /// `ip`, if it is of this family.
    fn of_ip(ip: IpAddr) -> Option<Self::Ip>;
    /// `ip`'s complete entry on `iface` in the kernel's neighbour cache, as
    /// far as it is read (IPv4: `/proc/net/arp`; IPv6: none).
    fn cached_mac(ip: Self::Ip, iface: &str) -> Option<Mac>;
}

impl RouteAddr for u32 {
    const QUALIFIER: &'static str = "";
    const BITS: u32 = 32;
    const FAMILY: AddressFamily = AddressFamily::Inet;
    fn route_address(ip: Ipv4Addr) -> RouteAddress {
        RouteAddress::Inet(ip)
    }
    fn of_route_address(a: &RouteAddress) -> Option<Ipv4Addr> {
        match a {
            RouteAddress::Inet(ip) => Some(*ip),
            _ => None,
        }
    }
    fn of_ip(ip: IpAddr) -> Option<Ipv4Addr> {
        match ip {
            IpAddr::V4(ip) => Some(ip),
            IpAddr::V6(_) => None,
        }
    }
    fn cached_mac(ip: Ipv4Addr, iface: &str) -> Option<Mac> {
        std::fs::read_to_string("/proc/net/arp")
            .ok()
            .and_then(|t| parse_neighbour(&t, ip, iface))
    }
}

impl RouteAddr for u128 {
    const QUALIFIER: &'static str = "IPv6 ";
    const BITS: u32 = 128;
    const FAMILY: AddressFamily = AddressFamily::Inet6;
    fn route_address(ip: Ipv6Addr) -> RouteAddress {
        RouteAddress::Inet6(ip)
    }
    fn of_route_address(a: &RouteAddress) -> Option<Ipv6Addr> {
        match a {
            RouteAddress::Inet6(ip) => Some(*ip),
            _ => None,
        }
    }
    fn of_ip(ip: IpAddr) -> Option<Ipv6Addr> {
        match ip {
            IpAddr::V6(ip) => Some(ip),
            IpAddr::V4(_) => None,
        }
    }
    fn cached_mac(_: Ipv6Addr, _: &str) -> Option<Mac> {
        None
    }
}

/// Where a frame goes next (either family: `I` is its address type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop<I = Ipv4Addr> {
    /// Every probe to one MAC: the gateway's (or `--router-mac`).
    Gateway { ip: Option<I>, mac: Mac },
    /// The targets are on the link: each host at its own MAC (ARP or ND
    /// sweep).
    OnLink,
    /// No link-layer next hop (layer 3, loopback).
    Direct,
}

/// A group of targets that share an interface, next hop and sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path<A: RouteAddr = u32> {
    pub iface: Iface,
    pub hop: Hop<A::Ip>,
    /// Our source addresses on this path (probes spread over them).
    pub sources: Vec<A::Ip>,
    /// The spans this path carries (sorted, disjoint): its targets are the
    /// scan's targets inside them (a span may cover gaps with no target).
    pub ranges: Vec<(A, A)>,
}

/// What the kernel said about one destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KernelRoute<I = Ipv4Addr> {
    pub oif: u32,
    pub gateway: Option<I>,
    pub prefsrc: Option<I>,
    /// A local address of this machine (delivered through loopback).
    pub local: bool,
    /// A broadcast address: no host to probe (IPv4 only).
    pub broadcast: bool,
}

/// Every path of a scan of one family, and the lookup from a target to its
/// path.
#[derive(Debug, Clone, Default)]
pub struct Routes<A: RouteAddr = u32> {
    pub paths: Vec<Path<A>>,
    /// (first, last, path index), sorted, disjoint.
    table: Vec<(A, A, u32)>,
    /// Targets with no route.
    pub unrouted: Ranges<A>,
    /// Broadcast addresses among the targets (no host there: not probed).
    pub broadcast: Ranges<A>,
    /// MACs of on-link hosts that answered our ARP or ND sweep.
    pub neighbours: HashMap<A, Mac>,
    /// On-link addresses that did not answer (counted as down).
    pub down: u64,
}

impl<A: RouteAddr> Routes<A> {
    /// Build from paths (their ranges must be disjoint).
    pub fn new(paths: Vec<Path<A>>, unrouted: Ranges<A>) -> Routes<A> {
        let mut table: Vec<(A, A, u32)> = paths
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.ranges.iter().map(move |&(a, b)| (a, b, i as u32)))
            .collect();
        table.sort_unstable();
        Routes {
            paths,
            table,
            unrouted,
            broadcast: Ranges::new(),
            neighbours: HashMap::new(),
            down: 0,
        }
    }

    /// The index of the path that carries `ip`.
    #[inline]
    pub fn path_of(&self, ip: A) -> Option<usize> {
        if let [(a, b, p)] = self.table[..] {
            return (a <= ip && ip <= b).then_some(p as usize);
        }
        let k = self.table.partition_point(|&(a, _, _)| a <= ip);
        (k > 0 && ip <= self.table[k - 1].1).then(|| self.table[k - 1].2 as usize)
    }

    /// Where a frame to `ip` on path `p` goes: `Some(Some(mac))` for
    /// Ethernet, `Some(None)` with no link header, `None` when the host is
    /// on the link and did not answer ARP or ND (it is down: no probe).
    #[inline]
    pub fn next_mac(&self, p: usize, ip: A) -> Option<Option<Mac>> {
        match self.paths[p].hop {
            Hop::Gateway { mac, .. } => Some(Some(mac)),
            Hop::Direct => Some(None),
            Hop::OnLink => self.neighbours.get(&ip).map(|m| Some(*m)),
        }
    }

    /// Every source address of every path (sorted, deduplicated).
    pub fn sources(&self) -> Vec<A> {
        let mut v: Vec<A> = self
            .paths
            .iter()
            .flat_map(|p| p.sources.iter().map(|&s| s.into()))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Cut `targets` at every prefix boundary in `prefixes` ((network, length)
/// of every route the kernel has): inside one piece, every address has the
/// same longest match.
pub fn pieces<A: RouteAddr>(targets: &Ranges<A>, prefixes: &[(A, u8)]) -> Vec<(A, A)> {
    pieces_at(targets, &cuts(prefixes)).collect()
}

/// The prefix boundaries of `prefixes` (as wide addresses), sorted: between
/// two consecutive cuts (a cell) every address has the same longest match,
/// so the kernel is asked once per cell, not once per piece.
pub fn cuts<A: RouteAddr>(prefixes: &[(A, u8)]) -> Vec<u128> {
    // A cut at c: a piece ends at c - 1. A cut past the top of the IPv6
    // space (2^128) would cut nothing and is left out.
    let mut cuts: Vec<u128> = Vec::new();
    for &(net, len) in prefixes {
        if len == 0 || u32::from(len) > A::BITS {
            continue;
        }
        let size = 1u128 << (A::BITS - u32::from(len));
        let start = net.wide() & !(size - 1);
        cuts.push(start);
        if let Some(end) = start.checked_add(size) {
            cuts.push(end);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// [`pieces`] with the cuts already made, one piece at a time.
fn pieces_at<'a, A: Addr>(
    targets: &'a Ranges<A>,
    cuts: &'a [u128],
) -> impl Iterator<Item = (A, A)> + 'a {
    targets.ranges().iter().flat_map(move |&(a, b)| {
        let (a, b) = (a.wide(), b.wide());
        let k = cuts.partition_point(|&c| c <= a);
        let mut rest = cuts[k..].iter();
        let mut lo = Some(a);
        std::iter::from_fn(move || {
            let l = lo?;
            match rest.next() {
                Some(&c) if c <= b => {
                    lo = Some(c);
                    Some((A::narrow(l), A::narrow(c - 1)))
                }
                _ => {
                    lo = None;
                    Some((A::narrow(l), A::narrow(b)))
                }
            }
        })
    })
}

/// Target spans grouped by the route that carries them.
pub type RouteGroups<A = u32> = Groups<KernelRoute<<A as Neighbour>::Ip>, A>;
/// Routes in first-seen order, each with its spans (either family).
pub type Groups<R, A> = Vec<(R, Vec<(A, A)>)>;

/// Group target pieces of either family (every piece of the targets, in
/// ascending order) by their route: `route_of` answers for one address of
/// a piece (None: no route). Returns, per distinct route (in first-seen
/// order), its spans, and the pieces with no route. A span covers a run of
/// consecutive pieces of one route and the gaps between them, which hold
/// no target: the route's targets are exactly the targets inside its
/// spans, and a long list of scattered targets on one route costs one
/// span, not one per target.
pub fn plan<A: Addr, R: PartialEq>(
    pieces: impl IntoIterator<Item = (A, A)>,
    mut route_of: impl FnMut(A) -> Option<R>,
) -> (Groups<R, A>, Ranges<A>) {
    let mut groups: Groups<R, A> = Vec::new();
    let mut unrouted = Vec::new();
    // The group of the previous piece, if it had a route.
    let mut prev: Option<usize> = None;
    for (a, b) in pieces {
        let Some(r) = route_of(a) else {
            unrouted.push((a, b));
            prev = None;
            continue;
        };
        match prev {
            Some(g) if groups[g].0 == r => {
                if let Some(last) = groups[g].1.last_mut() {
                    last.1 = b;
                }
            }
            _ => {
                let g = match groups.iter().position(|(k, _)| *k == r) {
                    Some(g) => g,
                    None => {
                        groups.push((r, Vec::new()));
                        groups.len() - 1
                    }
                };
                groups[g].1.push((a, b));
                prev = Some(g);
            }
        }
    }
    (groups, Ranges::from_ranges(unrouted))
}

/// [`plan`] over the pieces of `targets` cut at the boundaries of
/// `prefixes`, asking `route_of` once per cell (the addresses between two
/// consecutive boundaries share their longest match, so one answer holds for
/// the cell) rather than once per piece: a list of a million scattered
/// targets costs as many lookups as there are routes among them.
pub fn plan_cells<A: RouteAddr>(
    targets: &Ranges<A>,
    prefixes: &[(A, u8)],
    route_of: impl FnMut(A) -> Option<KernelRoute<A::Ip>>,
) -> (RouteGroups<A>, Ranges<A>) {
    let cuts = cuts(prefixes);
    let cell_of = |ip: A| cuts.partition_point(|&c| c <= ip.wide());
    plan(pieces_at(targets, &cuts), per_cell(cell_of, route_of))
}

/// `route_of`, asked once per cell (`cell_of` numbers an address's cell):
/// pieces come in address order, so the pieces of one cell are neighbours
/// and the last answer is the one to reuse.
fn per_cell<A: Copy, R: Clone>(
    cell_of: impl Fn(A) -> usize,
    mut route_of: impl FnMut(A) -> Option<R>,
) -> impl FnMut(A) -> Option<R> {
    let mut last: Option<(usize, Option<R>)> = None;
    move |ip| {
        let cell = cell_of(ip);
        match &last {
            Some((c, r)) if *c == cell => r.clone(),
            _ => {
                let r = route_of(ip);
                last = Some((cell, r.clone()));
                r
            }
        }
    }
}

/// What the user forced on the command line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub iface: Option<String>,
    /// `--source-ip`: one or more addresses of either family (each
    /// family's probes spread over its own).
    pub sources: Vec<IpAddr>,
    pub router_mac: Option<Mac>,
}

pub(crate) fn sysfs(iface: &str, what: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/{what}"))
        .ok()
        .map(|s| s.trim().to_string())
}

fn if_name(index: u32) -> Option<String> {
    let mut buf = [0u8; libc::IF_NAMESIZE];
    // SAFETY: buf has IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr() as *mut libc::c_char) };
    if p.is_null() {
        return None;
    }
    let n = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..n].to_vec()).ok()
}

/// The interface with index `index`, and how it frames packets.
pub fn iface(index: u32) -> Result<Iface> {
    let name =
        if_name(index).ok_or_else(|| Error::runtime(format!("no interface with index {index}")))?;
    let link = match sysfs(&name, "type").as_deref() {
        Some("772") => Link::Loopback,
        Some("1") => Link::Ethernet {
            src_mac: sysfs(&name, "address")
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    Error::runtime(format!("interface {name} has no Ethernet address"))
                })?,
        },
        // tun/WireGuard (65534), ppp (512), IP tunnels (768, 776, 778...):
        // no link-layer header.
        _ => Link::Layer3,
    };
    Ok(Iface { name, index, link })
}

/// Ask the kernel for every route prefix (all tables) and for single routes.
pub(crate) mod netlink {
    use super::{KernelRoute, RouteAddr};
    use netlink_packet_core::{
        NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    };
    use netlink_packet_route::RouteNetlinkMessage;
    use netlink_packet_route::route::{RouteAttribute, RouteHeader, RouteMessage, RouteType};
    use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
    use std::io;

    fn socket() -> io::Result<Socket> {
        let mut s = Socket::new(NETLINK_ROUTE)?;
        s.bind_auto()?;
        s.connect(&SocketAddr::new(0, 0))?;
        Ok(s)
    }

    fn send(s: &Socket, msg: RouteMessage, flags: u16) -> io::Result<()> {
        let mut hdr = NetlinkHeader::default();
        hdr.flags = flags;
        let mut packet = NetlinkMessage::new(
            hdr,
            NetlinkPayload::from(RouteNetlinkMessage::GetRoute(msg)),
        );
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf[..]);
        s.send(&buf, 0)?;
        Ok(())
    }

    /// Read replies until Done or an error; call `f` on each route message.
    fn read(s: &Socket, mut f: impl FnMut(RouteMessage)) -> io::Result<()> {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = s.recv(&mut &mut buf[..], 0)?;
            let mut off = 0;
            while off < n {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[off..n])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = msg.header.length as usize;
                match msg.payload {
                    NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(()),
                            Some(c) => Err(io::Error::from_raw_os_error(-c.get())),
                        };
                    }
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(r)) => f(r),
                    _ => {}
                }
                if len == 0 {
                    break;
                }
                off += len;
            }
            if !multipart_pending(&buf[..n]) {
                return Ok(());
            }
        }
    }

    /// Whether a reply batch ends without Done (more parts follow).
    fn multipart_pending(b: &[u8]) -> bool {
        // nlmsg_flags of the first message: NLM_F_MULTI (2).
        b.len() >= 8 && u16::from_ne_bytes([b[6], b[7]]) & 2 != 0
    }

    /// (network, prefix length) of every route of family `A` of every table.
    pub fn prefixes<A: RouteAddr>() -> io::Result<Vec<(A, u8)>> {
        let s = socket()?;
        let mut m = RouteMessage::default();
        m.header.address_family = A::FAMILY;
        m.header.table = RouteHeader::RT_TABLE_UNSPEC;
        send(&s, m, NLM_F_REQUEST | NLM_F_DUMP)?;
        let mut out = Vec::new();
        read(&s, |r| {
            let len = r.header.destination_prefix_length;
            let net = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Destination(d) => A::of_route_address(d).map(Into::into),
                _ => None,
            });
            out.push((net.unwrap_or_default(), len));
        })?;
        Ok(out)
    }

    /// The route the kernel would use for `dst` (None: unreachable).
    pub fn get<A: RouteAddr>(dst: A::Ip) -> io::Result<Option<KernelRoute<A::Ip>>> {
        let s = socket()?;
        let mut m = RouteMessage::default();
        m.header.address_family = A::FAMILY;
        m.header.destination_prefix_length = A::BITS as u8;
        m.attributes
            .push(RouteAttribute::Destination(A::route_address(dst)));
        send(&s, m, NLM_F_REQUEST)?;
        let mut found = None;
        let res = read(&s, |r| {
            // (IPv6 has no broadcast routes.)
            let ok = matches!(
                r.header.kind,
                RouteType::Unicast | RouteType::Local | RouteType::Broadcast
            );
            let mut k = KernelRoute {
                oif: 0,
                gateway: None,
                prefsrc: None,
                local: r.header.kind == RouteType::Local,
                broadcast: r.header.kind == RouteType::Broadcast,
            };
            for a in &r.attributes {
                match a {
                    RouteAttribute::Oif(i) => k.oif = *i,
                    RouteAttribute::Gateway(g) => k.gateway = A::of_route_address(g),
                    RouteAttribute::PrefSource(p) => k.prefsrc = A::of_route_address(p),
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

/// Resolve every target of family `A` to a path, from the live kernel.
/// With `may_send` false (a dry run) no ARP or ND request is sent and an
/// unknown gateway MAC is left as 00:00:00:00:00:00. An empty `targets`
/// resolves to no path without asking the kernel; targets with no route
/// are kept in [`Routes::unrouted`] (the caller says whether that leaves
/// anything to scan).
pub fn resolve<A: RouteAddr>(
    targets: &Ranges<A>,
    o: &Overrides,
    may_send: bool,
) -> Result<Routes<A>> {
    if targets.is_empty() {
        return Ok(Routes::default());
    }
    let forced = match &o.iface {
        Some(name) => Some(
            sys::if_index(name).map_err(|_| Error::input(format!("unknown interface '{name}'")))?,
        ),
        None => None,
    };
    let q = A::QUALIFIER;
    let prefixes = netlink::prefixes::<A>()
        .map_err(|e| Error::runtime(format!("cannot read the {q}routing table (netlink): {e}")))?;
    let mut err = None;
    let (groups, unrouted) = plan_cells(targets, &prefixes, |ip| {
        let r = match netlink::get::<A>(ip.into()) {
            Ok(r) => r,
            Err(e) => {
                err.get_or_insert(e);
                None
            }
        };
        match (forced, r) {
            // -i: the kernel's gateway only when it routes out of that interface.
            (Some(f), Some(r)) if r.oif == f => Some(r),
            (Some(f), r) => Some(KernelRoute {
                oif: f,
                gateway: None,
                prefsrc: r.as_ref().and_then(|r| r.prefsrc),
                local: false,
                broadcast: r.is_some_and(|r| r.broadcast),
            }),
            (None, r) => r,
        }
    });
    if let Some(e) = err {
        return Err(Error::runtime(format!("{q}route lookup (netlink): {e}")));
    }
    let forced_sources: Vec<A::Ip> = o.sources.iter().filter_map(|&s| A::of_ip(s)).collect();
    let mut paths: Vec<Path<A>> = Vec::new();
    let mut broadcast = Vec::new();
    for (k, ranges) in groups {
        if k.broadcast {
            broadcast.extend(targets.clipped(&ranges));
            continue;
        }
        let mut ifc = iface(k.oif)?;
        if k.local && forced.is_none() {
            // Our own addresses: the kernel delivers them through loopback.
            ifc = Iface {
                link: Link::Loopback,
                ..ifc
            };
        }
        let sources = if !forced_sources.is_empty() {
            forced_sources.clone()
        } else if let Some(s) = k.prefsrc {
            vec![s]
        } else {
            let first: A::Ip = ranges[0].0.into();
            vec![source_for::<A>(first).ok_or_else(|| {
                Error::runtime(format!(
                    "no {q}source address to reach {first} (give --source-ip)"
                ))
            })?]
        };
        let hop = match ifc.link {
            Link::Layer3 | Link::Loopback => Hop::Direct,
            Link::Ethernet { src_mac } => match (o.router_mac, k.gateway) {
                (Some(mac), g) => Hop::Gateway { ip: g, mac },
                (None, Some(g)) => Hop::Gateway {
                    ip: Some(g),
                    mac: neighbour::<A>(&ifc, src_mac, sources[0], g, may_send)?,
                },
                (None, None) => Hop::OnLink,
            },
        };
        // Pieces of one kernel route may differ only in gateway MAC lookup:
        // merge paths that came out the same.
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
    let mut routes = Routes::new(paths, unrouted);
    routes.broadcast = Ranges::from_ranges(broadcast);
    Ok(routes)
}

/// A short text for a set of ranges of either family: the first `n`,
/// then how many more.
pub fn describe<A: RouteAddr>(set: &Ranges<A>, n: usize) -> String {
    describe_in(set, set.ranges(), n)
}

/// [`describe`] for the part of `set` inside `spans` (a path's targets),
/// without building it.
pub fn describe_in<A: RouteAddr>(set: &Ranges<A>, spans: &[(A, A)], n: usize) -> String {
    let len = set.clipped_len(spans);
    let mut parts: Vec<String> = set
        .clipped(spans)
        .take(n)
        .map(|(a, b)| {
            let (a, b): (A::Ip, A::Ip) = (a.into(), b.into());
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    if len > n {
        parts.push(format!("and {} more ranges", len - n));
    }
    format!(
        "{} {}addresses: {}",
        u64::try_from(set.count_in(spans)).unwrap_or(u64::MAX),
        A::QUALIFIER,
        parts.join(", ")
    )
}

/// The source address the kernel would use for `dst` (a connected UDP socket
/// sends nothing).
fn source_for<A: RouteAddr>(dst: A::Ip) -> Option<A::Ip> {
    let dst: IpAddr = dst.into();
    let any = if dst.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let s = std::net::UdpSocket::bind(any).ok()?;
    s.connect((dst, 9)).ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then(|| A::of_ip(ip)).flatten()
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

/// The gateway's MAC: from the neighbour cache (as far as
/// [`RouteAddr::cached_mac`] reads it), else by asking with ARP or ND.
fn neighbour<A: RouteAddr>(
    ifc: &Iface,
    src_mac: Mac,
    src_ip: A::Ip,
    ip: A::Ip,
    may_send: bool,
) -> Result<Mac> {
    if let Some(m) = A::cached_mac(ip, &ifc.name) {
        return Ok(m);
    }
    if !may_send {
        return Ok(Mac::ZERO);
    }
    neigh::resolve_one::<A>(ifc.index, &ifc.name, src_mac, src_ip, ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::RangeSet;
    use proptest::prelude::*;

    /// The planning it replaced: one lookup per piece, exact ranges.
    fn reference_plan(
        pieces: &[(u32, u32)],
        route_of: impl Fn(u32) -> Option<KernelRoute>,
    ) -> (RouteGroups, RangeSet) {
        let mut groups: RouteGroups = Vec::new();
        let mut unrouted = Vec::new();
        for &(a, b) in pieces {
            match route_of(a) {
                Some(r) => match groups.iter_mut().find(|(k, _)| *k == r) {
                    Some((_, v)) => match v.last_mut() {
                        Some(last) if last.1 as u64 + 1 == a as u64 => last.1 = b,
                        _ => v.push((a, b)),
                    },
                    None => groups.push((r, vec![(a, b)])),
                },
                None => unrouted.push((a, b)),
            }
        }
        (groups, RangeSet::from_ranges(unrouted))
    }

    /// The longest match of `ip` among `prefixes`; the route names the
    /// prefix's gateway by its index (several prefixes share a gateway).
    fn longest_match(prefixes: &[(u32, u8)], ip: u32) -> Option<KernelRoute> {
        prefixes
            .iter()
            .enumerate()
            .filter(|&(_, &(net, len))| {
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                ip & mask == net & mask
            })
            .max_by_key(|&(_, &(_, len))| len)
            .map(|(i, _)| KernelRoute {
                oif: 2 + (i % 3) as u32,
                gateway: None,
                prefsrc: None,
                local: false,
                broadcast: false,
            })
    }

    proptest! {
        #[test]
        fn planning_by_cell_gives_each_route_the_reference_targets(
            targets in proptest::collection::vec((0u32..4096, 0u32..64), 1..200),
            prefixes in proptest::collection::vec((0u32..4096, 20u8..=32), 0..12),
        ) {
            let targets = RangeSet::from_ranges(
                targets.into_iter().map(|(a, n)| (a, a + n)).collect(),
            );
            let mut asked = 0;
            let (groups, unrouted) = plan_cells(&targets, &prefixes, |ip| {
                asked += 1;
                longest_match(&prefixes, ip)
            });
            let (want, want_unrouted) =
                reference_plan(&pieces(&targets, &prefixes), |ip| longest_match(&prefixes, ip));
            prop_assert_eq!(groups.len(), want.len());
            for ((k, spans), (wk, wranges)) in groups.iter().zip(&want) {
                prop_assert_eq!(k, wk);
                prop_assert_eq!(targets.within(spans), RangeSet::from_ranges(wranges.clone()));
            }
            prop_assert_eq!(unrouted, want_unrouted);
            // At most one lookup per cell.
            prop_assert!(asked <= 2 * prefixes.len() + 1);
        }
    }

    fn ip(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    #[test]
    fn pieces_cut_at_route_boundaries() {
        let t = RangeSet::from_ranges(vec![(ip("198.19.0.0"), ip("198.19.255.255"))]);
        let p = pieces(
            &t,
            &[
                (ip("198.19.0.0"), 17),
                (ip("198.19.128.0"), 17),
                (0, 0),
                (ip("10.0.0.0"), 8),
            ],
        );
        assert_eq!(
            p,
            vec![
                (ip("198.19.0.0"), ip("198.19.127.255")),
                (ip("198.19.128.0"), ip("198.19.255.255"))
            ]
        );
        // A /32 route inside a range cuts it in three.
        let p = pieces(&t, &[(ip("198.19.5.5"), 32)]);
        assert_eq!(p.len(), 3);
        assert_eq!(p[1], (ip("198.19.5.5"), ip("198.19.5.5")));
        // Cuts at the very top of the space do not overflow.
        let all = RangeSet::from_ranges(vec![(ip("255.255.255.0"), u32::MAX)]);
        assert_eq!(pieces(&all, &[(u32::MAX, 32)]).len(), 2);
    }

    #[test]
    fn plan_groups_by_route_and_names_the_unrouted() {
        let a = KernelRoute {
            oif: 2,
            gateway: Some("198.18.0.2".parse::<Ipv4Addr>().unwrap()),
            prefsrc: None,
            local: false,
            broadcast: false,
        };
        let b = KernelRoute {
            oif: 3,
            gateway: Some("198.18.0.6".parse().unwrap()),
            prefsrc: None,
            local: false,
            broadcast: false,
        };
        let pcs: [(u32, u32); 4] = [(0, 9), (10, 19), (20, 29), (30, 39)];
        let (groups, unrouted) = plan(pcs, |x| match x {
            0 | 10 => Some(a.clone()),
            20 => Some(b.clone()),
            _ => None,
        });
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0], (a, vec![(0, 19)]), "adjacent pieces merge");
        assert_eq!(groups[1], (b, vec![(20, 29)]));
        assert_eq!(unrouted.ranges(), &[(30, 39)]);
    }

    #[test]
    fn lookup_finds_the_path_and_the_next_mac() {
        let ifc = Iface {
            name: "x".into(),
            index: 1,
            link: Link::Ethernet { src_mac: Mac::ZERO },
        };
        let gw = Mac([2, 0, 0, 0, 0, 2]);
        let paths = vec![
            Path {
                iface: ifc.clone(),
                hop: Hop::Gateway { ip: None, mac: gw },
                sources: vec!["198.18.0.1".parse().unwrap()],
                ranges: vec![(100, 199)],
            },
            Path {
                iface: ifc,
                hop: Hop::OnLink,
                sources: vec!["198.18.1.1".parse().unwrap()],
                ranges: vec![(300, 399), (0, 9)],
            },
        ];
        let mut r = Routes::new(paths, RangeSet::new());
        r.neighbours.insert(305, Mac([2, 0, 0, 0, 3, 5]));
        assert_eq!(r.path_of(150), Some(0));
        assert_eq!(r.path_of(5), Some(1));
        assert_eq!(r.path_of(250), None);
        assert_eq!(r.next_mac(0, 150), Some(Some(gw)));
        assert_eq!(r.next_mac(1, 305), Some(Some(Mac([2, 0, 0, 0, 3, 5]))));
        assert_eq!(
            r.next_mac(1, 306),
            None,
            "on-link host that did not answer ARP"
        );
        assert_eq!(r.sources(), vec![ip("198.18.0.1"), ip("198.18.1.1")]);
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

    #[test]
    fn the_kernel_routes_loopback_locally() {
        // Reads this machine's own routing table; sends nothing.
        let r = netlink::get::<u32>(Ipv4Addr::LOCALHOST).unwrap().unwrap();
        assert!(r.local);
        assert_eq!(iface(r.oif).unwrap().link, Link::Loopback);
        assert!(!netlink::prefixes::<u32>().unwrap().is_empty());
    }
    fn ip6(s: &str) -> u128 {
        u128::from(s.parse::<Ipv6Addr>().unwrap())
    }

    #[test]
    fn ipv6_pieces_cut_at_every_prefix_inside_the_targets() {
        let ip = ip6;
        let t = Ranges::from_ranges(vec![(ip("2001:2::"), ip("2001:2::ffff"))]);
        let prefixes = [
            (ip("2001:2::"), 64),      // covers all: no cut inside
            (ip("2001:2::8000"), 113), // the upper half
            (ip("2001:2::c000"), 114), // a quarter of it
            (0, 0),                    // default route: no cut
            (ip("2001:db8::"), 32),    // elsewhere
            (ip("ffff::"), 16),        // up to the top of the space
        ];
        let p = pieces(&t, &prefixes);
        assert_eq!(
            p,
            vec![
                (ip("2001:2::"), ip("2001:2::7fff")),
                (ip("2001:2::8000"), ip("2001:2::bfff")),
                (ip("2001:2::c000"), ip("2001:2::ffff")),
            ]
        );
        let top = Ranges::from_ranges(vec![(u128::MAX - 3, u128::MAX)]);
        assert_eq!(pieces(&top, &prefixes), vec![(u128::MAX - 3, u128::MAX)]);
        assert_eq!(
            pieces(&top, &[(u128::MAX - 1, 127)]),
            vec![(u128::MAX - 3, u128::MAX - 2), (u128::MAX - 1, u128::MAX)]
        );
    }

    #[test]
    fn ipv6_plan_groups_by_route_and_keeps_the_unrouted() {
        let ip = ip6;
        let gw = |g: &str| KernelRoute {
            oif: 2,
            gateway: Some(g.parse::<Ipv6Addr>().unwrap()),
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
        let (groups, unrouted) = plan(pieces, |a| {
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
        assert!(describe(&r.unrouted, 4).contains("256 IPv6 addresses: 2001:2:2::-2001:2:2::ff"));
    }

    #[test]
    fn the_kernel_routes_ipv6_loopback_locally() {
        // Reads this machine's own routing table; sends nothing.
        let r = netlink::get::<u128>(Ipv6Addr::LOCALHOST).unwrap().unwrap();
        assert!(r.local);
        assert_eq!(iface(r.oif).unwrap().link, Link::Loopback);
    }
}
