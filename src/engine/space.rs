//! The index space of a scan: every (address, port) pair has an index,
//! `port_index * addresses + address_rank`, so consecutive indices spread
//! over hosts. The permutation walks indices; the answered set, retries and
//! checkpoints all speak in indices, never in addresses.
//!
//! A port entry is a (protocol, port): `-p T:53,U:53` has two entries, so
//! TCP/53 and UDP/53 are two pairs per address and never collide. TCP
//! entries come first.

use super::validate::Proto;
use crate::targets::RangeSet;
use std::sync::Arc;

/// Marks a port that is not scanned in the port lookup table.
const NOT_SCANNED: u32 = u32::MAX;

/// Targets x ports, with lookups both ways.
#[derive(Clone)]
pub struct Space {
    targets: Arc<RangeSet>,
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
    pub fn new(targets: RangeSet, ports: Vec<u16>) -> Self {
        Self::mixed(targets, ports, Vec::new())
    }

    /// The space of `targets` x (TCP `tcp` then UDP `udp`), each list
    /// without duplicates.
    pub fn mixed(targets: RangeSet, tcp: Vec<u16>, udp: Vec<u16>) -> Self {
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
            targets: Arc::new(targets),
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

    pub fn targets(&self) -> &RangeSet {
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

    /// The (address, port, port index) of index `i`.
    #[inline]
    pub fn pair(&self, i: u64) -> (u32, u16, u64) {
        let (a, p) = (i % self.addresses, i / self.addresses);
        (self.targets.nth(a), self.ports[p as usize], p)
    }

    /// The rank of the address of index `i` (what "host answered" is keyed by).
    #[inline]
    pub fn host_of(&self, i: u64) -> u64 {
        i % self.addresses
    }

    /// The index of (ip, proto, port), or `None` when the scan does not
    /// cover it.
    #[inline]
    pub fn index_of(&self, ip: u32, proto: Proto, port: u16) -> Option<u64> {
        let p = *self.port_index[proto_slot(proto)].get(port as usize)?;
        if p == NOT_SCANNED {
            return None;
        }
        let a = self.targets.rank(ip)?;
        Some(p as u64 * self.addresses + a)
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
                prop_assert_eq!(s.host_of(i), s.targets().rank(ip).unwrap());
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
}
