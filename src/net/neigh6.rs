//! Neighbour discovery of our own (RFC 4861), IPv6's ARP: the MAC of an
//! IPv6 gateway by one solicitation, and a solicitation sweep over on-link
//! IPv6 targets (as `net::neigh` sweeps on-link IPv4 targets with ARP), so
//! each host is probed at its own MAC and hosts that never answer get no
//! probe. The kernel's neighbour table is neither read nor filled.
//! [`accept`] (which advertisements count) is pure.

use super::route::Iface;
use crate::error::{Error, Result};
use crate::net::sys::PacketSocket;
use crate::targets::RangeSet6;
use crate::wire::ethernet::{self, Mac};
use crate::wire::icmpv6::{self, Advertisement};
use crate::wire::ipv6::ETHERTYPE_IPV6;
use std::collections::HashMap;
use std::io;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

pub use super::neigh::SweepConfig;

/// Whether a frame is an advertisement answering our sweep: to our MAC,
/// for an address we asked about, with a real unicast MAC. Returns
/// (address, MAC).
pub fn accept(frame: &[u8], our_mac: Mac, asked: &RangeSet6) -> Option<(u128, Mac)> {
    let e = ethernet::Frame::new_checked(frame).ok()?;
    if e.dst() != our_mac {
        return None;
    }
    let Advertisement { target, mac, .. } = icmpv6::parse_advertisement(frame).ok()?;
    let t = u128::from(target);
    let bad_mac = mac == Mac::ZERO || mac.0[0] & 1 != 0;
    (asked.contains(t) && !bad_mac).then_some((t, mac))
}

fn open(ifc: &Iface) -> io::Result<PacketSocket> {
    let s = PacketSocket::open(ifc.index, ETHERTYPE_IPV6)?;
    s.set_recv_timeout(Duration::from_millis(1))?;
    Ok(s)
}

/// The MAC of `ip` (a gateway) on `ifc`, by solicitation: three tries, half
/// a second each.
pub fn resolve_one(ifc: &Iface, our_mac: Mac, our_ip: Ipv6Addr, ip: Ipv6Addr) -> Result<Mac> {
    let name = &ifc.name;
    let s = open(ifc).map_err(|e| Error::socket(e, name))?;
    let asked = RangeSet6::from_ranges(vec![(u128::from(ip), u128::from(ip))]);
    let ns = icmpv6::solicitation(our_mac, our_ip, ip);
    let mut buf = [0u8; 1514];
    for _ in 0..3 {
        s.send(&ns)
            .map_err(|e| Error::runtime(format!("neighbour solicitation on {name}: {e}")))?;
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            if let Ok(Some(n)) = s.recv(&mut buf)
                && let Some((_, m)) = accept(&buf[..n], our_mac, &asked)
            {
                return Ok(m);
            }
        }
    }
    Err(Error::runtime(format!(
        "no neighbour advertisement from IPv6 gateway {ip} on {name} (give --router-mac)"
    )))
}

/// Solicit every address of `targets` on `ifc`; returns the MACs of those
/// that answered.
pub fn sweep(
    ifc: &Iface,
    our_mac: Mac,
    our_ip: Ipv6Addr,
    targets: &RangeSet6,
    cfg: SweepConfig,
) -> io::Result<HashMap<u128, Mac>> {
    let s = open(ifc)?;
    let mut found: HashMap<u128, Mac> = HashMap::new();
    let mut buf = [0u8; 1514];
    let mut drain = |found: &mut HashMap<u128, Mac>| {
        while let Ok(Some(n)) = s.recv(&mut buf) {
            if let Some((ip, mac)) = accept(&buf[..n], our_mac, targets) {
                found.entry(ip).or_insert(mac);
            }
        }
    };
    let gap = Duration::from_secs_f64(64.0 / cfg.rate.max(1.0));
    let us = u128::from(our_ip);
    for _ in 0..cfg.rounds.max(1) {
        let start = Instant::now();
        let mut sent = 0u64;
        for &(a, b) in targets.ranges() {
            for ip in a..=b {
                if found.contains_key(&ip) || ip == us {
                    continue;
                }
                s.send(&icmpv6::solicitation(our_mac, our_ip, Ipv6Addr::from(ip)))?;
                sent += 1;
                if sent.is_multiple_of(64) {
                    drain(&mut found);
                    let due = start + gap * (sent / 64) as u32;
                    if let Some(d) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                }
            }
        }
        if sent == 0 {
            break;
        }
        let until = Instant::now() + cfg.wait;
        while Instant::now() < until {
            drain(&mut found);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv6::tests::hex;

    const NA: &str = include_str!("../wire/testdata/ipv6_na.hex");

    #[test]
    fn accepts_only_answers_to_us_about_asked_addresses() {
        let f = hex(NA);
        let us: Mac = "02:53:53:57:00:01".parse().unwrap();
        let gw: u128 = "2001:2:0:ff::2".parse::<Ipv6Addr>().unwrap().into();
        let asked = RangeSet6::from_ranges(vec![(gw - 1, gw + 1)]);
        assert_eq!(
            accept(&f, us, &asked),
            Some((gw, "02:53:53:57:00:02".parse().unwrap()))
        );
        assert_eq!(
            accept(&f, Mac([2, 0, 0, 0, 0, 9]), &asked),
            None,
            "not to us"
        );
        let elsewhere = RangeSet6::from_ranges(vec![(gw + 1, gw + 9)]);
        assert_eq!(accept(&f, us, &elsewhere), None, "not asked");
        let mut multicast = f.clone();
        // The target link-layer option (last 6 bytes) names a group MAC.
        let n = multicast.len();
        multicast[n - 6] = 0x33;
        assert_eq!(accept(&multicast, us, &asked), None, "checksum now fails");
        assert_eq!(accept(&f[..40], us, &asked), None);
    }
}
