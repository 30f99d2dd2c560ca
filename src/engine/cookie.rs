//! Stateless validation: the TCP sequence number of each probe is a keyed
//! SipHash-1-3 of (source ip, destination ip, source port, destination port)
//! under a per-scan secret. A reply is ours only if its acknowledgement number
//! is that value plus one; no per-probe state is kept.

use siphasher::sip::SipHasher13;
use std::hash::Hasher;

/// The per-scan secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieKey {
    pub k0: u64,
    pub k1: u64,
}

impl CookieKey {
    pub fn random() -> Self {
        CookieKey {
            k0: rand::random(),
            k1: rand::random(),
        }
    }

    /// The sequence number of the probe (src, dst, sport, dport).
    #[inline]
    pub fn cookie(&self, src: u32, dst: u32, sport: u16, dport: u16) -> u32 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        let v = ((src as u64) << 32) | dst as u64;
        h.write_u64(v);
        h.write_u32(((sport as u32) << 16) | dport as u32);
        h.finish() as u32
    }

    /// Whether `ack` acknowledges our probe for this 4-tuple (written from the
    /// probe's point of view: `src` is our address).
    #[inline]
    pub fn validates(&self, src: u32, dst: u32, sport: u16, dport: u16, ack: u32) -> bool {
        self.cookie(src, dst, sport, dport).wrapping_add(1) == ack
    }

    /// The sequence number of the IPv6 probe (src, dst, sport, dport): the
    /// same hash over the 128-bit addresses (36 bytes in, so never equal by
    /// construction to an IPv4 input of 12 bytes).
    #[inline]
    pub fn cookie6(&self, src: u128, dst: u128, sport: u16, dport: u16) -> u32 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        h.write(&src.to_be_bytes());
        h.write(&dst.to_be_bytes());
        h.write_u32(((sport as u32) << 16) | dport as u32);
        h.finish() as u32
    }

    /// [`validates`](Self::validates) for IPv6.
    #[inline]
    pub fn validates6(&self, src: u128, dst: u128, sport: u16, dport: u16, ack: u32) -> bool {
        self.cookie6(src, dst, sport, dport).wrapping_add(1) == ack
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_depends_on_every_field_and_the_key() {
        let k = CookieKey { k0: 1, k1: 2 };
        let base = k.cookie(1, 2, 3, 4);
        assert_eq!(base, k.cookie(1, 2, 3, 4));
        assert_ne!(base, k.cookie(9, 2, 3, 4));
        assert_ne!(base, k.cookie(1, 9, 3, 4));
        assert_ne!(base, k.cookie(1, 2, 9, 4));
        assert_ne!(base, k.cookie(1, 2, 3, 9));
        assert_ne!(base, CookieKey { k0: 1, k1: 3 }.cookie(1, 2, 3, 4));
        assert!(k.validates(1, 2, 3, 4, base.wrapping_add(1)));
        assert!(!k.validates(1, 2, 3, 4, base));
    }

    #[test]
    fn ipv6_cookie_depends_on_every_bit_of_both_addresses() {
        let k = CookieKey { k0: 1, k1: 2 };
        let (a, b) = (
            0x2001_0002_0000_00ff_0000_0000_0000_0001u128,
            0x2001_0002u128 << 96 | 4,
        );
        let base = k.cookie6(a, b, 40000, 22);
        assert_eq!(base, k.cookie6(a, b, 40000, 22));
        for bit in [0, 31, 32, 64, 127] {
            assert_ne!(
                base,
                k.cookie6(a ^ (1 << bit), b, 40000, 22),
                "src bit {bit}"
            );
            assert_ne!(
                base,
                k.cookie6(a, b ^ (1 << bit), 40000, 22),
                "dst bit {bit}"
            );
        }
        assert_ne!(base, k.cookie6(a, b, 40001, 22));
        assert_ne!(base, k.cookie6(a, b, 40000, 23));
        assert_ne!(base, CookieKey { k0: 1, k1: 3 }.cookie6(a, b, 40000, 22));
        // An IPv4 probe whose addresses are the low bits is another probe.
        assert_ne!(k.cookie6(1, 2, 3, 4), k.cookie(1, 2, 3, 4));
        assert!(k.validates6(a, b, 40000, 22, base.wrapping_add(1)));
        assert!(!k.validates6(b, a, 40000, 22, base.wrapping_add(1)));
    }
}
