//! Stateless validation: the TCP sequence number of each probe is a keyed
//! SipHash-1-3 of (source ip, destination ip, source port, destination port)
//! under a per-scan secret. A reply is ours only if its acknowledgement number
//! is that value plus one; no per-probe state is kept. The secret is the
//! caller's: this module draws no randomness (the driver draws a fresh key
//! per scan, a resumed scan passes its saved one).

use siphasher::sip::SipHasher13;
use std::hash::Hasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The per-scan secret (SipHash key), passed in by whoever starts the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieKey {
    pub k0: u64,
    pub k1: u64,
}

impl CookieKey {
    /// The cookie of the probe (src, dst, sport, dport): its TCP sequence
    /// number, and what a UDP probe's payload and IP mark carry. IPv4
    /// hashes the two 32-bit addresses (12 bytes in), IPv6 the two 128-bit
    /// ones (36 bytes in, so never equal by construction to an IPv4 input).
    #[inline]
    pub fn cookie<A: CookieAddr>(&self, src: A, dst: A, sport: u16, dport: u16) -> u32 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        A::hash_pair(src, dst, &mut h);
        h.write_u32(((sport as u32) << 16) | dport as u32);
        h.finish() as u32
    }

    /// Whether `ack` acknowledges our probe for this 4-tuple (written from the
    /// probe's point of view: `src` is our address).
    #[inline]
    pub fn validates<A: CookieAddr>(
        &self,
        src: A,
        dst: A,
        sport: u16,
        dport: u16,
        ack: u32,
    ) -> bool {
        self.cookie(src, dst, sport, dport).wrapping_add(1) == ack
    }
}

/// An address a cookie is computed over: IPv4 as `u32` or [`Ipv4Addr`],
/// IPv6 as `u128` or [`Ipv6Addr`], either as [`IpAddr`] (the same cookie
/// as its family's own type).
pub trait CookieAddr: Copy {
    /// Feed the probe's (source, destination) to the hash.
    fn hash_pair<H: Hasher>(src: Self, dst: Self, h: &mut H);
}

impl CookieAddr for u32 {
    #[inline]
    fn hash_pair<H: Hasher>(src: u32, dst: u32, h: &mut H) {
        h.write_u64(((src as u64) << 32) | dst as u64);
    }
}

impl CookieAddr for u128 {
    #[inline]
    fn hash_pair<H: Hasher>(src: u128, dst: u128, h: &mut H) {
        h.write(&src.to_be_bytes());
        h.write(&dst.to_be_bytes());
    }
}

impl CookieAddr for Ipv4Addr {
    #[inline]
    fn hash_pair<H: Hasher>(src: Self, dst: Self, h: &mut H) {
        u32::hash_pair(src.into(), dst.into(), h)
    }
}

impl CookieAddr for Ipv6Addr {
    #[inline]
    fn hash_pair<H: Hasher>(src: Self, dst: Self, h: &mut H) {
        u128::hash_pair(src.into(), dst.into(), h)
    }
}

impl CookieAddr for IpAddr {
    /// Two addresses of one family as that family's; a mixed pair (no
    /// probe has one) as two IPv6 addresses, IPv4 ones mapped.
    #[inline]
    fn hash_pair<H: Hasher>(src: Self, dst: Self, h: &mut H) {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => Ipv4Addr::hash_pair(s, d, h),
            (s, d) => Ipv6Addr::hash_pair(wide(s), wide(d), h),
        }
    }
}

fn wide(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_depends_on_every_field_and_the_key() {
        let k = CookieKey { k0: 1, k1: 2 };
        let base = k.cookie(1u32, 2, 3, 4);
        assert_eq!(base, k.cookie(1u32, 2, 3, 4));
        assert_ne!(base, k.cookie(9u32, 2, 3, 4));
        assert_ne!(base, k.cookie(1u32, 9, 3, 4));
        assert_ne!(base, k.cookie(1u32, 2, 9, 4));
        assert_ne!(base, k.cookie(1u32, 2, 3, 9));
        assert_ne!(base, CookieKey { k0: 1, k1: 3 }.cookie(1u32, 2, 3, 4));
        assert!(k.validates(1u32, 2, 3, 4, base.wrapping_add(1)));
        assert!(!k.validates(1u32, 2, 3, 4, base));
    }

    #[test]
    fn ipv6_cookie_depends_on_every_bit_of_both_addresses() {
        let k = CookieKey { k0: 1, k1: 2 };
        let (a, b) = (
            0x2001_0002_0000_00ff_0000_0000_0000_0001u128,
            0x2001_0002u128 << 96 | 4,
        );
        let base = k.cookie(a, b, 40000, 22);
        assert_eq!(base, k.cookie(a, b, 40000, 22));
        for bit in [0, 31, 32, 64, 127] {
            assert_ne!(
                base,
                k.cookie(a ^ (1 << bit), b, 40000, 22),
                "src bit {bit}"
            );
            assert_ne!(
                base,
                k.cookie(a, b ^ (1 << bit), 40000, 22),
                "dst bit {bit}"
            );
        }
        assert_ne!(base, k.cookie(a, b, 40001, 22));
        assert_ne!(base, k.cookie(a, b, 40000, 23));
        assert_ne!(base, CookieKey { k0: 1, k1: 3 }.cookie(a, b, 40000, 22));
        // An IPv4 probe whose addresses are the low bits is another probe.
        assert_ne!(k.cookie(1u128, 2, 3, 4), k.cookie(1u32, 2, 3, 4));
        assert!(k.validates(a, b, 40000, 22, base.wrapping_add(1)));
        assert!(!k.validates(b, a, 40000, 22, base.wrapping_add(1)));
    }

    #[test]
    fn an_ip_addr_gets_its_family_cookie() {
        let k = CookieKey { k0: 7, k1: 8 };
        let (s4, d4) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 19, 0, 4));
        let (s6, d6): (Ipv6Addr, Ipv6Addr) = (
            "2001:2:0:ff::1".parse().unwrap(),
            "2001:2::4".parse().unwrap(),
        );
        let want4 = k.cookie(u32::from(s4), u32::from(d4), 40000, 22);
        assert_eq!(k.cookie(s4, d4, 40000, 22), want4);
        assert_eq!(k.cookie(IpAddr::V4(s4), IpAddr::V4(d4), 40000, 22), want4);
        let want6 = k.cookie(u128::from(s6), u128::from(d6), 40000, 22);
        assert_eq!(k.cookie(s6, d6, 40000, 22), want6);
        assert_eq!(k.cookie(IpAddr::V6(s6), IpAddr::V6(d6), 40000, 22), want6);
        // A mapped IPv4 pair is the IPv6 pair, never the IPv4 one.
        let mixed = k.cookie(IpAddr::V4(s4), IpAddr::V6(d6), 40000, 22);
        assert_eq!(mixed, k.cookie(s4.to_ipv6_mapped(), d6, 40000, 22));
    }
}
