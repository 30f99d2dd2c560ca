//! The index space of a scan: every (address, port) pair has an index,
//! `port_index * addresses + address_rank`, so consecutive indices spread
//! over hosts. The permutation walks indices; the answered set, retries and
//! checkpoints all speak in indices, never in addresses.
//!
//! A port entry is a (protocol, port): `-p T:53,U:53` has two entries, so
//! TCP/53 and UDP/53 are two pairs per address and never collide. TCP
//! entries come first.
//!
//! Addresses are ranks in [`Targets`]: IPv4 first, then IPv6, so both
//! families share one permutation, one answered set and one checkpoint.

use super::permutation::{Permutation, Slice};
use super::validate::Proto;
use crate::targets::Targets;
use std::net::IpAddr;
use std::sync::Arc;

/// Marks a port that is not scanned in the port lookup table.
const NOT_SCANNED: u32 = u32::MAX;

/// Targets x ports, with lookups both ways.
#[derive(Clone)]
pub struct Space {
    targets: Arc<Targets>,
    ports: Arc<Vec<u16>>,
    /// The protocol of each entry of `ports`.
    protos: Arc<Vec<Proto>>,
    /// Per protocol (TCP, UDP): port -> its index in `ports`, or NOT_SCANNED.
    port_index: [Arc<[u32]>; 2],
    addresses: u64,
}

impl std::fmt::Debug for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Space({} addresses x {} ports)",
            self.addresses,
            self.ports.len()
        )
    }
}

impl Space {
    /// The space of `targets` x TCP `ports` (ports in the given order, no
    /// duplicates).
    pub fn new(targets: impl Into<Targets>, ports: Vec<u16>) -> Self {
        Self::mixed(targets, ports, Vec::new())
    }

    /// The space of `targets` x (TCP `tcp` then UDP `udp`), each list
    /// without duplicates.
    pub fn mixed(targets: impl Into<Targets>, tcp: Vec<u16>, udp: Vec<u16>) -> Self {
        Self::shared(Arc::new(targets.into()), tcp, udp)
    }

    /// [`mixed`](Self::mixed) over targets held elsewhere too (a long
    /// target list is not copied).
    pub fn shared(targets: Arc<Targets>, tcp: Vec<u16>, udp: Vec<u16>) -> Self {
        let mut index = [vec![NOT_SCANNED; 65536], Vec::new()];
        if !udp.is_empty() {
            index[1] = vec![NOT_SCANNED; 65536];
        }
        let protos: Vec<Proto> = std::iter::repeat_n(Proto::Tcp, tcp.len())
            .chain(std::iter::repeat_n(Proto::Udp, udp.len()))
            .collect();
        let mut ports = tcp;
        ports.extend(udp);
        for (i, (&p, &proto)) in ports.iter().zip(&protos).enumerate() {
            let t = &mut index[proto_slot(proto)];
            debug_assert_eq!(t[p as usize], NOT_SCANNED, "port {p} twice");
            t[p as usize] = i as u32;
        }
        let [t, u] = index;
        Space {
            addresses: targets.count(),
            targets,
            ports: Arc::new(ports),
            protos: Arc::new(protos),
            port_index: [t.into(), u.into()],
        }
    }

    /// Number of pairs.
    pub fn len(&self) -> u64 {
        self.addresses * self.ports.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of addresses.
    pub fn addresses(&self) -> u64 {
        self.addresses
    }

    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The protocol of each port entry (parallel to [`ports`](Self::ports)).
    pub fn protos(&self) -> &[Proto] {
        &self.protos
    }

    /// The protocol of port entry `pi`.
    #[inline]
    pub fn proto(&self, pi: u64) -> Proto {
        self.protos[pi as usize]
    }

    /// The (IPv4 address, port, port index) of index `i`, for spaces of
    /// IPv4 targets only (see [`pair_ip`](Self::pair_ip)).
    #[inline]
    pub fn pair(&self, i: u64) -> (u32, u16, u64) {
        let (a, p) = (i % self.addresses, i / self.addresses);
        debug_assert!(a < self.targets.v4.count(), "an IPv6 index");
        (self.targets.v4.nth(a), self.ports[p as usize], p)
    }

    /// The (address, port, port index) of index `i`, either family.
    #[inline]
    pub fn pair_ip(&self, i: u64) -> (IpAddr, u16, u64) {
        let (a, p) = (i % self.addresses, i / self.addresses);
        (self.targets.nth(a), self.ports[p as usize], p)
    }

    /// The rank of the address of index `i` (what "host answered" is keyed by).
    #[inline]
    pub fn host_of(&self, i: u64) -> u64 {
        i % self.addresses
    }

    /// The index of (IPv4 ip, proto, port), or `None` when the scan does
    /// not cover it.
    #[inline]
    pub fn index_of(&self, ip: u32, proto: Proto, port: u16) -> Option<u64> {
        let p = self.port_entry(proto, port)?;
        let a = self.targets.v4.rank(ip)?;
        Some(p * self.addresses + a)
    }

    /// The index of (ip, proto, port), either family.
    #[inline]
    pub fn index_of_ip(&self, ip: IpAddr, proto: Proto, port: u16) -> Option<u64> {
        let p = self.port_entry(proto, port)?;
        let a = self.targets.rank(ip)?;
        Some(p * self.addresses + a)
    }

    #[inline]
    fn port_entry(&self, proto: Proto, port: u16) -> Option<u64> {
        let p = *self.port_index[proto_slot(proto)].get(port as usize)?;
        (p != NOT_SCANNED).then_some(p as u64)
    }
}

/// Which of a host's TCP ports one shard probes: a shard of N walks every
/// N-th position of the order, so it probes about 1/N of each host's ports,
/// a different share on each host. The middlebox judgement measures "every
/// port" by this share.
#[derive(Debug, Clone)]
pub struct ShardPorts {
    space: Space,
    perm: Permutation,
    shard: Slice,
}

impl ShardPorts {
    pub fn new(space: Space, perm: Permutation, shard: Slice) -> Self {
        ShardPorts { space, perm, shard }
    }

    /// How many of `ip`'s TCP ports the shard probes (0 for an address the
    /// scan does not cover). One position lookup per TCP port of the scan.
    pub fn tcp_ports(&self, ip: IpAddr) -> u32 {
        self.count(ip, |_| true).0
    }

    /// [`tcp_ports`](Self::tcp_ports), and of those, how many the shard's
    /// `senders` senders have walked past in the first pass, sender `t` up
    /// to (not including) the `walked(t)`-th position of its slice (see
    /// [`Slice::split`]). One pass for both.
    pub fn tcp_ports_walked(
        &self,
        ip: IpAddr,
        senders: u64,
        walked: impl Fn(usize) -> u64,
    ) -> (u32, u32) {
        let senders = senders.max(1);
        self.count(ip, |js| js / senders < walked((js % senders) as usize))
    }

    /// `ip`'s TCP ports in the shard, and those of them whose index within
    /// the shard's positions passes `keep`.
    fn count(&self, ip: IpAddr, keep: impl Fn(u64) -> bool) -> (u32, u32) {
        let Some(a) = self.space.targets.rank(ip) else {
            return (0, 0);
        };
        let tcp = self.space.protos.iter().take_while(|&&p| p == Proto::Tcp);
        let (mut all, mut kept) = (0u32, 0u32);
        for (pi, _) in (0u64..).zip(tcp) {
            let p = self.perm.position_of(pi * self.space.addresses + a);
            if self.shard.holds(p) {
                all += 1;
                kept += u32::from(keep((p - self.shard.offset) / self.shard.stride));
            }
        }
        (all, kept)
    }
}

#[inline]
fn proto_slot(p: Proto) -> usize {
    match p {
        Proto::Tcp => 0,
        Proto::Udp => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{RangeSet, Ranges};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn index_of_inverts_pair(
            ranges in prop::collection::vec((0u32..5000, 0u32..40), 1..6),
            ports in prop::collection::btree_set(any::<u16>(), 1..20),
        ) {
            let set = RangeSet::from_ranges(ranges.iter().map(|&(a, n)| (a, a + n)).collect());
            let ports: Vec<u16> = ports.into_iter().collect();
            let s = Space::new(set, ports.clone());
            for i in 0..s.len() {
                let (ip, port, pi) = s.pair(i);
                prop_assert_eq!(ports[pi as usize], port);
                prop_assert_eq!(s.index_of(ip, Proto::Tcp, port), Some(i));
                prop_assert_eq!(s.host_of(i), s.targets().v4.rank(ip).unwrap());
            }
        }
    }

    #[test]
    fn pairs_outside_the_space_have_no_index() {
        let s = Space::new(RangeSet::from_ranges(vec![(100, 103)]), vec![80, 22]);
        assert_eq!(s.len(), 8);
        assert_eq!(s.index_of(104, Proto::Tcp, 80), None);
        assert_eq!(s.index_of(100, Proto::Tcp, 443), None);
        assert_eq!(s.index_of(101, Proto::Tcp, 22), Some(5));
        assert_eq!(s.index_of(101, Proto::Udp, 22), None, "UDP/22 not scanned");
    }

    #[test]
    fn tcp_and_udp_entries_of_one_port_are_distinct_pairs() {
        let s = Space::mixed(
            RangeSet::from_ranges(vec![(100, 101)]),
            vec![53, 80],
            vec![53, 161],
        );
        assert_eq!(s.len(), 8);
        assert_eq!(
            s.protos(),
            &[Proto::Tcp, Proto::Tcp, Proto::Udp, Proto::Udp]
        );
        let t = s.index_of(101, Proto::Tcp, 53).unwrap();
        let u = s.index_of(101, Proto::Udp, 53).unwrap();
        assert_ne!(t, u);
        let (ip, port, pi) = s.pair(u);
        assert_eq!((ip, port, s.proto(pi)), (101, 53, Proto::Udp));
        assert_eq!(s.index_of(100, Proto::Udp, 80), None);
        assert_eq!(s.index_of(100, Proto::Tcp, 161), None);
        for i in 0..s.len() {
            let (ip, port, pi) = s.pair(i);
            assert_eq!(s.index_of(ip, s.proto(pi), port), Some(i));
        }
    }

    fn mixed_space(v4: &[(u32, u32)], v6: &[(u128, u32)], ports: Vec<u16>) -> Space {
        let t = Targets {
            v4: RangeSet::from_ranges(v4.iter().map(|&(a, n)| (a, a + n)).collect()),
            v6: Ranges::<u128>::from_ranges(v6.iter().map(|&(a, n)| (a, a + n as u128)).collect()),
        };
        Space::mixed(t, ports, vec![53])
    }

    proptest! {
        #[test]
        fn index_of_ip_inverts_pair_ip_over_both_families(
            v4 in prop::collection::vec((0u32..5000, 0u32..20), 0..4),
            v6 in prop::collection::vec((any::<u128>().prop_map(|x| x >> 8), 0u32..20), 1..4),
            ports in prop::collection::btree_set(any::<u16>(), 1..6),
        ) {
            let s = mixed_space(&v4, &v6, ports.into_iter().collect());
            let mut seen = std::collections::HashSet::new();
            for i in 0..s.len() {
                let (ip, port, pi) = s.pair_ip(i);
                prop_assert_eq!(s.index_of_ip(ip, s.proto(pi), port), Some(i));
                prop_assert_eq!(s.host_of(i), s.targets().rank(ip).unwrap());
                prop_assert!(seen.insert((ip, s.proto(pi), port)));
                if let IpAddr::V4(a) = ip {
                    prop_assert_eq!(s.pair(i).0, u32::from(a));
                    prop_assert_eq!(s.index_of(u32::from(a), s.proto(pi), port), Some(i));
                }
            }
        }

        /// Every (address, port) pair of a mixed IPv4 + IPv6 space is probed
        /// exactly once across the shards of one seed, and within a shard
        /// across sender threads.
        #[test]
        fn shards_of_a_mixed_space_visit_every_pair_once(
            v4 in prop::collection::vec((0u32..5000, 0u32..30), 0..3),
            v6 in prop::collection::vec((any::<u128>().prop_map(|x| x >> 8), 0u32..30), 1..3),
            ports in prop::collection::btree_set(any::<u16>(), 1..5),
            seed in any::<u64>(),
            shards in 1u64..6,
            threads in 1u64..4,
        ) {
            use crate::engine::permutation::{Permutation, Slice};
            let s = mixed_space(&v4, &v6, ports.into_iter().collect());
            let perm = Permutation::new(s.len(), seed);
            let mut count = std::collections::HashMap::new();
            for k in 0..shards {
                let shard = Slice::shard(k, shards);
                for t in 0..threads {
                    let part = shard.split(t, threads);
                    for j in 0..part.len(perm.len()) {
                        let (ip, port, pi) = s.pair_ip(perm.at(part.position(j)));
                        *count.entry((ip, s.proto(pi), port)).or_insert(0u32) += 1;
                    }
                }
            }
            prop_assert_eq!(count.len() as u64, s.len());
            prop_assert!(count.values().all(|&n| n == 1));
            let v6n = count.keys().filter(|(ip, _, _)| ip.is_ipv6()).count() as u64;
            prop_assert_eq!(v6n, s.targets().v6.count() * s.ports().len() as u64);
        }

        /// A shard's TCP ports of a host are those its walk probes there
        /// (UDP entries not counted), and the shards' shares of a host add
        /// up to every TCP port of the scan.
        #[test]
        fn shard_ports_count_what_the_shard_walks(
            v4 in prop::collection::vec((0u32..5000, 0u32..12), 0..3),
            v6 in prop::collection::vec((any::<u128>().prop_map(|x| x >> 8), 0u32..12), 1..3),
            ports in prop::collection::btree_set(any::<u16>(), 1..12),
            seed in any::<u64>(),
            shards in 1u64..5,
        ) {
            use crate::engine::permutation::{Permutation, Slice};
            let s = mixed_space(&v4, &v6, ports.into_iter().collect());
            let tcp = s.protos().iter().filter(|&&p| p == Proto::Tcp).count() as u32;
            let perm = Permutation::new(s.len(), seed);
            let mut total = std::collections::HashMap::new();
            for k in 0..shards {
                let shard = Slice::shard(k, shards);
                let mut walked = std::collections::HashMap::new();
                for j in 0..shard.len(perm.len()) {
                    let (ip, _, pi) = s.pair_ip(perm.at(shard.position(j)));
                    if s.proto(pi) == Proto::Tcp {
                        *walked.entry(ip).or_insert(0u32) += 1;
                    }
                }
                let sp = ShardPorts::new(s.clone(), perm.clone(), shard);
                for a in 0..s.addresses() {
                    let ip = s.targets().nth(a);
                    let n = sp.tcp_ports(ip);
                    prop_assert_eq!(n, walked.get(&ip).copied().unwrap_or(0));
                    *total.entry(ip).or_insert(0u32) += n;
                }
            }
            prop_assert!(total.values().all(|&n| n == tcp));
            // Part way: senders of shard 0 that walked `walked[t]` positions
            // each have probed exactly the TCP ports their walks met.
            let shard = Slice::shard(0, shards);
            let senders = 1 + seed % 3;
            let sp = ShardPorts::new(s.clone(), perm.clone(), shard);
            let walked: Vec<u64> = (0..senders).map(|t| (seed >> (8 * t)) % 5).collect();
            let mut met = std::collections::HashMap::new();
            for t in 0..senders {
                let part = shard.split(t, senders);
                for j in 0..walked[t as usize].min(part.len(perm.len())) {
                    let (ip, _, pi) = s.pair_ip(perm.at(part.position(j)));
                    if s.proto(pi) == Proto::Tcp {
                        *met.entry(ip).or_insert(0u32) += 1;
                    }
                }
            }
            for a in 0..s.addresses() {
                let ip = s.targets().nth(a);
                prop_assert_eq!(
                    sp.tcp_ports_walked(ip, senders, |t| walked[t]),
                    (sp.tcp_ports(ip), met.get(&ip).copied().unwrap_or(0))
                );
            }
            prop_assert_eq!(ShardPorts::new(s.clone(), perm, Slice::WHOLE).tcp_ports("192.0.2.1".parse().unwrap()), 0);
        }
    }
}
