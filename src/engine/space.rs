//! The index space of a scan: every (address, port) pair has an index,
//! `port_index * addresses + address_rank`, so consecutive indices spread
//! over hosts. The permutation walks indices; the answered set, retries and
//! checkpoints all speak in indices, never in addresses.

use crate::targets::RangeSet;
use std::sync::Arc;

/// Marks a port that is not scanned in the port lookup table.
const NOT_SCANNED: u32 = u32::MAX;

/// Targets x ports, with lookups both ways.
#[derive(Clone)]
pub struct Space {
    targets: Arc<RangeSet>,
    ports: Arc<Vec<u16>>,
    /// port -> its index in `ports`, or NOT_SCANNED.
    port_index: Arc<[u32]>,
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
    /// The space of `targets` x `ports` (ports in the given order, no
    /// duplicates).
    pub fn new(targets: RangeSet, ports: Vec<u16>) -> Self {
        let mut port_index = vec![NOT_SCANNED; 65536];
        for (i, &p) in ports.iter().enumerate() {
            debug_assert_eq!(port_index[p as usize], NOT_SCANNED, "port {p} twice");
            port_index[p as usize] = i as u32;
        }
        Space {
            addresses: targets.count(),
            targets: Arc::new(targets),
            ports: Arc::new(ports),
            port_index: port_index.into(),
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

    /// The index of (ip, port), or `None` when the scan does not cover it.
    #[inline]
    pub fn index_of(&self, ip: u32, port: u16) -> Option<u64> {
        let p = self.port_index[port as usize];
        if p == NOT_SCANNED {
            return None;
        }
        let a = self.targets.rank(ip)?;
        Some(p as u64 * self.addresses + a)
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
                prop_assert_eq!(s.index_of(ip, port), Some(i));
                prop_assert_eq!(s.host_of(i), s.targets().rank(ip).unwrap());
            }
        }
    }

    #[test]
    fn pairs_outside_the_space_have_no_index() {
        let s = Space::new(RangeSet::from_ranges(vec![(100, 103)]), vec![80, 22]);
        assert_eq!(s.len(), 8);
        assert_eq!(s.index_of(104, 80), None);
        assert_eq!(s.index_of(100, 443), None);
        assert_eq!(s.index_of(101, 22), Some(5));
    }
}
