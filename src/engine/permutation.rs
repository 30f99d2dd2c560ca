//! The probe order: a seeded pseudo-random permutation of `0..n`, O(1) memory.
//!
//! A balanced Feistel network over the smallest even-bit power-of-two domain
//! that holds `n`, with cycle walking (values >= n are encrypted again until
//! they fall inside), as in masscan's BlackRock. The domain is at most 4n, so
//! a lookup walks fewer than four times on average. Every index comes out
//! exactly once, the same seed gives the same order, and the position space
//! splits into disjoint [`Slice`]s (shards across machines, threads within a
//! shard) by striding.

/// A keyed bijection on `0..n`.
///
/// ```
/// use synsweep::engine::permutation::{Permutation, Slice};
/// let p = Permutation::new(10, 42);
/// let mut order: Vec<u64> = (0..10).map(|i| p.at(i)).collect();
/// assert_ne!(order, (0..10).collect::<Vec<_>>()); // shuffled...
/// order.sort();
/// assert_eq!(order, (0..10).collect::<Vec<_>>()); // ...yet every index once
///
/// // Shard 2 of 3 takes positions 1, 4, 7.
/// let s = Slice::shard(1, 3);
/// assert_eq!((0..s.len(10)).map(|j| s.position(j)).collect::<Vec<_>>(), vec![1, 4, 7]);
/// ```
#[derive(Debug, Clone)]
pub struct Permutation {
    n: u64,
    half_bits: u32,
    mask: u64,
    keys: [u64; ROUNDS],
}

const ROUNDS: usize = 4;

#[inline]
fn mix(mut x: u64) -> u64 {
    // splitmix64 finalizer: full avalanche, a few cycles.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Permutation {
    pub fn new(n: u64, seed: u64) -> Self {
        let bits = 64 - n.saturating_sub(1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        let mut keys = [0u64; ROUNDS];
        let mut s = seed;
        for k in keys.iter_mut() {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            *k = mix(s);
        }
        Permutation {
            n,
            half_bits,
            mask: (1u64 << half_bits) - 1,
            keys,
        }
    }

    /// Size of the space.
    pub fn len(&self) -> u64 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    #[inline]
    fn encrypt(&self, x: u64) -> u64 {
        let mut l = x >> self.half_bits;
        let mut r = x & self.mask;
        for &k in &self.keys {
            let f = mix(r ^ k) & self.mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half_bits) | r
    }

    #[inline]
    fn decrypt(&self, y: u64) -> u64 {
        let mut l = y >> self.half_bits;
        let mut r = y & self.mask;
        for &k in self.keys.iter().rev() {
            let f = mix(l ^ k) & self.mask;
            (l, r) = (r ^ f, l);
        }
        (l << self.half_bits) | r
    }

    /// The position at which index `i` comes: the inverse of
    /// [`at`](Self::at). `i` must be `< n`.
    #[inline]
    pub fn position_of(&self, i: u64) -> u64 {
        debug_assert!(i < self.n);
        // Cycle walking backwards: the values >= n that `at` walked through
        // lie between i and its position on the same cycle.
        let mut x = self.decrypt(i);
        while x >= self.n {
            x = self.decrypt(x);
        }
        x
    }

    /// The index at position `p` of the order. `p` must be `< n`.
    #[inline]
    pub fn at(&self, p: u64) -> u64 {
        debug_assert!(p < self.n);
        let mut x = self.encrypt(p);
        while x >= self.n {
            x = self.encrypt(x);
        }
        x
    }
}

/// A disjoint share of the positions `0..n`: `offset, offset + stride, ...`.
/// Shard K of N (0-based k) is `Slice { offset: k, stride: N }`; thread t of T
/// inside it is `offset: k + N*t, stride: N*T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub offset: u64,
    pub stride: u64,
}

impl Slice {
    pub const WHOLE: Slice = Slice {
        offset: 0,
        stride: 1,
    };

    /// Shard `k` (0-based) of `count`.
    pub fn shard(k: u64, count: u64) -> Slice {
        assert!(count > 0 && k < count);
        Slice {
            offset: k,
            stride: count,
        }
    }

    /// Part `t` (0-based) of `parts` of this slice.
    pub fn split(self, t: u64, parts: u64) -> Slice {
        assert!(parts > 0 && t < parts);
        Slice {
            offset: self.offset + self.stride * t,
            stride: self.stride * parts,
        }
    }

    /// How many positions of `0..n` the slice holds.
    pub fn len(self, n: u64) -> u64 {
        if self.offset >= n {
            0
        } else {
            (n - self.offset).div_ceil(self.stride)
        }
    }

    pub fn is_empty(self, n: u64) -> bool {
        self.len(n) == 0
    }

    /// Whether position `p` is one of the slice's.
    #[inline]
    pub fn holds(self, p: u64) -> bool {
        p >= self.offset && (p - self.offset).is_multiple_of(self.stride)
    }

    /// The `j`-th position of the slice.
    #[inline]
    pub fn position(self, j: u64) -> u64 {
        self.offset + j * self.stride
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_bijection(n: u64, seed: u64) -> bool {
        let p = Permutation::new(n, seed);
        let mut seen = vec![false; n as usize];
        for i in 0..n {
            let x = p.at(i);
            if x >= n || seen[x as usize] {
                return false;
            }
            seen[x as usize] = true;
        }
        true
    }

    #[test]
    fn tiny_spaces() {
        for n in 1..=70 {
            assert!(is_bijection(n, 7), "n={n}");
        }
    }

    #[test]
    fn deterministic_per_seed_and_different_across_seeds() {
        let a: Vec<u64> = (0..1000).map(|i| Permutation::new(1000, 1).at(i)).collect();
        let b: Vec<u64> = (0..1000).map(|i| Permutation::new(1000, 1).at(i)).collect();
        let c: Vec<u64> = (0..1000).map(|i| Permutation::new(1000, 2).at(i)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Not the identity and not a near-sorted order.
        let in_place = a
            .iter()
            .enumerate()
            .filter(|&(i, &x)| i as u64 == x)
            .count();
        assert!(in_place < 20, "{in_place} fixed points");
    }

    #[test]
    fn huge_space_stays_in_range() {
        let n = (1u64 << 32) * 65535;
        let p = Permutation::new(n, 99);
        for i in (0..n).step_by((n / 10_000) as usize) {
            assert!(p.at(i) < n);
        }
    }

    proptest! {
        #[test]
        fn bijection_on_odd_sizes(n in 1u64..5000, seed in any::<u64>()) {
            prop_assert!(is_bijection(n, seed));
        }

        #[test]
        fn position_of_inverts_at(n in 1u64..5000, seed in any::<u64>()) {
            let perm = Permutation::new(n, seed);
            for p in 0..n {
                prop_assert_eq!(perm.position_of(perm.at(p)), p);
            }
        }

        #[test]
        fn position_of_inverts_at_in_huge_spaces(seed in any::<u64>(), p in any::<u64>()) {
            let n = (1u64 << 32) * 65535;
            let perm = Permutation::new(n, seed);
            let p = p % n;
            prop_assert_eq!(perm.position_of(perm.at(p)), p);
        }

        #[test]
        fn a_slice_holds_exactly_its_positions(n in 0u64..2000, shards in 1u64..7, threads in 1u64..5, k in 0u64..7, t in 0u64..5) {
            let s = Slice::shard(k % shards, shards).split(t % threads, threads);
            let mine: std::collections::BTreeSet<u64> = (0..s.len(n)).map(|j| s.position(j)).collect();
            for p in 0..n {
                prop_assert_eq!(s.holds(p), mine.contains(&p));
            }
        }

        #[test]
        fn slices_partition_positions(n in 0u64..3000, shards in 1u64..7, threads in 1u64..5) {
            let mut seen = vec![0u8; n as usize];
            for k in 0..shards {
                for t in 0..threads {
                    let s = Slice::shard(k, shards).split(t, threads);
                    for j in 0..s.len(n) {
                        let p = s.position(j);
                        prop_assert!(p < n);
                        seen[p as usize] += 1;
                    }
                }
            }
            prop_assert!(seen.iter().all(|&c| c == 1));
        }
    }
}
