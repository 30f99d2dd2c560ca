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
}
