//! UDP over IPv6: the IPv6 half of the `udp` module ([`super::udp`]
//! dispatches here on the IP version). The same payloads per port, each
//! carrying the pair's cookie (over the 128-bit addresses) where the
//! service echoes it; IPv6 has no IP identification, so the cookie's bits
//! 12-31 XOR the payload's number ride in the flow label, which an ICMPv6
//! error quotes back. The UDP checksum (mandatory over IPv6) covers the
//! IPv6 pseudo-header.
//!
//! A UDP reply counts as for IPv4 ([`super::udp`]). An ICMPv6 destination
//! unreachable quoting one of our probes (quoted source one of ours, our
//! source port, flow label matching the quoted pair's cookie): port
//! unreachable (code 4) from the probed address itself is `closed`; any
//! other is [`Reject::Filtered`].

use super::udp::{REASON_CLOSED, Udp, open_reply, with_payload, write_datagram};
use super::{Classified, Identity, Probe, Proto, Reject, Template6};
use crate::finding::PortState;
use crate::wire::bpf::Insn;
use crate::wire::ipv6::{self, NEXT_ICMPV6, NEXT_UDP};
use crate::wire::{TTL, icmpv6, udp};
use std::net::{IpAddr, Ipv6Addr};

/// The flow label of payload `variant` of the probe with `cookie`.
#[inline]
pub fn flow_label(cookie: u32, variant: u32) -> u32 {
    ((cookie >> 12) ^ variant) & 0x000f_ffff
}

/// The capture filter: IPv6 to one of `dst`, and UDP to a port in `dport`
/// or an ICMPv6 destination unreachable.
pub fn filter6(l3: u32, dst: &[u128], dport: (u16, u16)) -> Vec<Insn> {
    super::tcp_syn6::filter6_for(l3, dst, dport, NEXT_UDP)
}

/// A UDP-over-IPv6 template for one source address.
#[derive(Debug, Clone)]
pub struct UdpTemplate6 {
    src: Ipv6Addr,
}

impl UdpTemplate6 {
    pub fn new(src: Ipv6Addr) -> Self {
        UdpTemplate6 { src }
    }
}

impl Template6 for UdpTemplate6 {
    fn write6(&self, out: &mut [u8], dst: u128, sport: u16, dport: u16, cookie: u32) -> usize {
        self.write6_variant(out, dst, sport, dport, cookie, 0)
    }

    fn write6_variant(
        &self,
        out: &mut [u8],
        dst: u128,
        sport: u16,
        dport: u16,
        cookie: u32,
        variant: u32,
    ) -> usize {
        with_payload(dport, variant, cookie, |payload| {
            let udp_len = udp::HEADER_LEN + payload.len();
            let total = ipv6::HEADER_LEN + udp_len;
            if total > out.len() || udp_len > u16::MAX as usize {
                return 0;
            }
            let dst = Ipv6Addr::from(dst);
            let (ip, rest) = out[..total].split_at_mut(ipv6::HEADER_LEN);
            ipv6::Packet::new_unchecked(&mut ip[..]).emit(self.src, dst, udp_len, NEXT_UDP, TTL);
            let label = flow_label(cookie, variant);
            ip[1] = (label >> 16) as u8;
            ip[2] = (label >> 8) as u8;
            ip[3] = label as u8;
            write_datagram(rest, sport, dport, payload);
            let c = match ipv6::upper_checksum(self.src, dst, NEXT_UDP, rest) {
                0 => 0xffff,
                c => c,
            };
            rest[6..8].copy_from_slice(&c.to_be_bytes());
            total
        })
    }
}

/// Validate a captured IPv6 packet as an answer to one of our UDP probes.
pub fn classify(packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
    let ip = ipv6::Packet::new_checked(packet).map_err(|_| Reject::Malformed)?;
    match ip.next_header() {
        NEXT_UDP => {
            let d = udp::Datagram::new_checked(ip.payload()).map_err(|_| Reject::Malformed)?;
            let (src, dst) = (u128::from(ip.src()), u128::from(ip.dst()));
            let dport = d.dst_port();
            if !us.is_source6(dst) || !us.is_sport(dport) {
                return Err(Reject::NotForUs);
            }
            let cookie = |port: u16| us.key.cookie6(dst, src, dport, port);
            open_reply(
                d.src_port(),
                d.payload(),
                cookie,
                IpAddr::V6(ip.src()),
                ip.hop_limit(),
            )
        }
        NEXT_ICMPV6 => classify_icmp(packet, us),
        _ => Err(Reject::Malformed),
    }
}

fn classify_icmp(packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
    let u = icmpv6::parse_unreachable(packet).map_err(|_| Reject::Malformed)?;
    let q = u.quoted;
    if q.next_header != NEXT_UDP || q.src != u.to || !us.is_source6(q.src) || !us.is_sport(q.sport)
    {
        return Err(Reject::NotForUs);
    }
    let cookie = us.key.cookie6(q.src, q.dst, q.sport, q.dport);
    let variant = (q.flow ^ (cookie >> 12)) & 0x000f_ffff;
    if variant >= Udp.variants(q.dport) {
        return Err(Reject::BadCookie);
    }
    if u.code == icmpv6::code::PORT && u.from == q.dst {
        Ok(Classified {
            target: IpAddr::V6(q.dst.into()),
            proto: Proto::Udp,
            port: q.dport,
            state: PortState::Closed,
            reason: REASON_CLOSED,
            ttl: u.hop_limit,
            protocol: None,
            amplification: None,
        })
    } else {
        Err(Reject::Filtered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cookie::CookieKey;
    use crate::wire::ipv6::tests::hex;

    const PORT_UNREACH: &str = include_str!("../wire/testdata/ipv6_port_unreach.hex");

    fn ip(s: &str) -> u128 {
        u128::from(s.parse::<Ipv6Addr>().unwrap())
    }

    fn us() -> Identity {
        Identity {
            key: CookieKey { k0: 5, k1: 7 },
            sources: vec![],
            sources6: vec![ip("2001:2:0:ff::1")],
            sport_base: 40000,
            sport_count: 16,
        }
    }

    fn probe(dst: u128, dport: u16, variant: u32) -> Vec<u8> {
        let key = us().key;
        let cookie = key.cookie6(ip("2001:2:0:ff::1"), dst, 40001, dport);
        let mut out = vec![0u8; 1500];
        let n = UdpTemplate6::new("2001:2:0:ff::1".parse().unwrap())
            .write6_variant(&mut out, dst, 40001, dport, cookie, variant);
        out.truncate(n);
        out
    }

    /// The captured port unreachable, its quote replaced by `quote`, sent
    /// from `from`.
    fn unreachable(from: u128, code: u8, quote: &[u8]) -> Vec<u8> {
        let f = hex(PORT_UNREACH);
        let mut p = f[14..14 + 48].to_vec();
        p.extend_from_slice(quote);
        let n = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&n.to_be_bytes());
        p[8..24].copy_from_slice(&from.to_be_bytes());
        p[41] = code;
        p[42..44].fill(0);
        let c = ipv6::upper_checksum(
            Ipv6Addr::from(from),
            "2001:2:0:ff::1".parse().unwrap(),
            NEXT_ICMPV6,
            &p[40..],
        );
        p[42..44].copy_from_slice(&c.to_be_bytes());
        p
    }

    #[test]
    fn every_payload_fits_a_transmit_slot_behind_ethernet() {
        use crate::net::sys::TX_SLOT;
        let v4 = crate::wire::ipv4::HEADER_LEN;
        let most = Udp.max_len() - v4 + ipv6::HEADER_LEN;
        assert!(
            most + crate::wire::ethernet::HEADER_LEN <= TX_SLOT,
            "{most}"
        );
    }

    #[test]
    fn probes_carry_the_cookie_and_a_valid_checksum() {
        let host = ip("2001:2::4");
        for (port, variant) in [(53, 0), (53, 1), (161, 0), (40123, 0)] {
            let p = probe(host, port, variant);
            let v = ipv6::Packet::new_checked(&p[..]).unwrap();
            assert!(v.verify_upper_checksum(), "{port}/{variant}");
            assert_eq!(v.next_header(), NEXT_UDP);
            let cookie = us().key.cookie6(ip("2001:2:0:ff::1"), host, 40001, port);
            let label = u32::from_be_bytes([0, p[1] & 0x0f, p[2], p[3]]);
            assert_eq!(label, flow_label(cookie, variant));
        }
        assert_eq!(probe(host, 40123, 0).len(), 48, "generic: empty datagram");
    }

    #[test]
    fn port_unreachable_from_the_target_quoting_our_probe_is_closed() {
        let host = ip("2001:2:0:ff::2");
        let p = probe(host, 9, 0);
        let c = classify(&unreachable(host, icmpv6::code::PORT, &p), &us()).unwrap();
        assert_eq!(
            (c.target, c.proto, c.port, c.state, c.reason),
            (
                IpAddr::V6(host.into()),
                Proto::Udp,
                9,
                PortState::Closed,
                REASON_CLOSED
            )
        );
        // From someone else (a router, or the lab's AnyIP target whose
        // errors leave from its link address), or another code: filtered.
        let p4 = probe(ip("2001:2::4"), 9, 0);
        assert_eq!(
            classify(&unreachable(host, icmpv6::code::PORT, &p4), &us()),
            Err(Reject::Filtered)
        );
        assert_eq!(
            classify(
                &unreachable(host, icmpv6::code::ADMIN_PROHIBITED, &p),
                &us()
            ),
            Err(Reject::Filtered)
        );
        // A quote whose flow label is not our cookie's: forged.
        let mut forged = p.clone();
        forged[3] ^= 0x55;
        assert_eq!(
            classify(&unreachable(host, icmpv6::code::PORT, &forged), &us()),
            Err(Reject::BadCookie)
        );
        // The real capture quotes someone else's datagram (the kernel's
        // flow label, port 40001 but another key): not ours to believe.
        let f = hex(PORT_UNREACH);
        assert!(classify(&f[14..], &us()).is_err());
    }

    #[test]
    fn a_reply_to_a_generic_probe_is_open() {
        let host = ip("2001:2:0:ff::2");
        // The probe turned around, with a payload.
        let p = probe(host, 40123, 0);
        let mut r = p.clone();
        r[8..24].copy_from_slice(&p[24..40]);
        r[24..40].copy_from_slice(&p[8..24]);
        r[40..42].copy_from_slice(&40123u16.to_be_bytes());
        r[42..44].copy_from_slice(&40001u16.to_be_bytes());
        r.extend_from_slice(b"hi");
        let n = (r.len() - 40) as u16;
        r[4..6].copy_from_slice(&n.to_be_bytes());
        r[44..46].copy_from_slice(&n.to_be_bytes());
        let c = classify(&r, &us()).unwrap();
        assert_eq!(
            (c.target, c.port, c.state),
            (IpAddr::V6(host.into()), 40123, PortState::Open)
        );
        let mut other = r.clone();
        other[39] ^= 1; // not to us
        assert_eq!(classify(&other, &us()), Err(Reject::NotForUs));
        assert_eq!(classify(&r[..45], &us()), Err(Reject::Malformed));
    }
}
