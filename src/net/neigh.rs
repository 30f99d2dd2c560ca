//! Neighbour resolution of our own, for both families behind one
//! interface: ARP for IPv4, neighbour discovery (RFC 4861) for IPv6. Before
//! probing targets on a directly connected Ethernet network, [`sweep`] asks
//! every one of them for its MAC (rate-limited, unanswered ones asked
//! again), so each host is probed at its own MAC; hosts that never answer
//! are down and get no probe. [`resolve_one`] finds one gateway's MAC. The
//! kernel's neighbour table is neither read nor filled here, so a large
//! on-link block needs no kernel entry per host.
//!
//! What differs between the families is only the wire format: which frames
//! to send ([`Neighbour::request`]) and which replies count
//! ([`Neighbour::accept`], pure).

use crate::error::{Error, Result};
use crate::net::sys::{self, PacketSocket};
use crate::targets::{Addr, Ranges};
use crate::wire::arp::{self, ArpReply};
use crate::wire::ethernet::{self, Mac};
use crate::wire::icmpv6::{self, Advertisement};
use crate::wire::ipv6::ETHERTYPE_IPV6;
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// How the sweep asks.
#[derive(Debug, Clone, Copy)]
pub struct SweepConfig {
    /// Requests per second.
    pub rate: f64,
    /// Times an address is asked at most.
    pub rounds: u32,
    /// Wait after each round for late replies.
    pub wait: Duration,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            rate: 20_000.0,
            rounds: 3,
            wait: Duration::from_millis(300),
        }
    }
}

/// One family's way of asking a neighbour for its MAC: ARP for IPv4
/// (`u32`), neighbour solicitation for IPv6 (`u128`).
pub trait Neighbour: Addr + std::hash::Hash {
    /// The address type of our own source.
    type Ip: Copy
        + Eq
        + std::hash::Hash
        + std::fmt::Debug
        + std::fmt::Display
        + Into<Self>
        + From<Self>
        + Into<std::net::IpAddr>;
    /// The ethertype the capture socket listens to.
    const ETHERTYPE: u16;
    /// What the protocol is called in messages.
    const NAME: &'static str;
    /// The frame that asks `target` for its MAC.
    fn request(our_mac: Mac, our_ip: Self::Ip, target: Self::Ip) -> Vec<u8>;
    /// Whether `frame` answers one of our questions: sent to us, about an
    /// address we asked, naming a real unicast MAC. Returns (address, MAC).
    fn accept(
        frame: &[u8],
        our_mac: Mac,
        our_ip: Self::Ip,
        asked: &Ranges<Self>,
    ) -> Option<(Self, Mac)>;
}

impl Neighbour for u32 {
    type Ip = Ipv4Addr;
    const ETHERTYPE: u16 = sys::ETH_P_ARP;
    const NAME: &'static str = "ARP";
    fn request(our_mac: Mac, our_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
        arp::request(our_mac, our_ip, target).to_vec()
    }
    fn accept(
        frame: &[u8],
        our_mac: Mac,
        our_ip: Ipv4Addr,
        asked: &Ranges<u32>,
    ) -> Option<(u32, Mac)> {
        accept_arp(&arp::parse_reply(frame).ok()??, our_ip, our_mac, asked)
    }
}

impl Neighbour for u128 {
    type Ip = Ipv6Addr;
    const ETHERTYPE: u16 = ETHERTYPE_IPV6;
    const NAME: &'static str = "neighbour discovery";
    fn request(our_mac: Mac, our_ip: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
        icmpv6::solicitation(our_mac, our_ip, target).to_vec()
    }
    fn accept(
        frame: &[u8],
        our_mac: Mac,
        _our_ip: Ipv6Addr,
        asked: &Ranges<u128>,
    ) -> Option<(u128, Mac)> {
        accept_nd(frame, our_mac, asked)
    }
}

fn bad_mac(m: Mac) -> bool {
    m == Mac::ZERO || m.0[0] & 1 != 0
}

/// Whether an ARP reply answers our sweep: sent to our address and MAC,
/// from an address we asked about, with a real MAC.
pub fn accept_arp(
    r: &ArpReply,
    our_ip: Ipv4Addr,
    our_mac: Mac,
    asked: &Ranges<u32>,
) -> Option<(u32, Mac)> {
    let sender = u32::from(r.sender_ip);
    (r.target_ip == our_ip
        && r.target_mac == our_mac
        && asked.contains(sender)
        && !bad_mac(r.sender_mac))
    .then_some((sender, r.sender_mac))
}

/// Whether a frame is a neighbour advertisement answering our sweep: to our
/// MAC, for an address we asked about, with a real unicast MAC.
pub fn accept_nd(frame: &[u8], our_mac: Mac, asked: &Ranges<u128>) -> Option<(u128, Mac)> {
    let e = ethernet::Frame::new_checked(frame).ok()?;
    if e.dst() != our_mac {
        return None;
    }
    let Advertisement { target, mac, .. } = icmpv6::parse_advertisement(frame).ok()?;
    let t = u128::from(target);
    (asked.contains(t) && !bad_mac(mac)).then_some((t, mac))
}

fn open<A: Neighbour>(ifindex: u32, timeout: Duration) -> io::Result<PacketSocket> {
    let s = PacketSocket::open(ifindex, A::ETHERTYPE)?;
    s.set_recv_timeout(timeout)?;
    Ok(s)
}

/// The MAC of `ip` (a gateway) on interface `ifindex` (named `name`), by
/// asking: three tries, half a second each.
pub fn resolve_one<A: Neighbour>(
    ifindex: u32,
    name: &str,
    our_mac: Mac,
    our_ip: A::Ip,
    ip: A::Ip,
) -> Result<Mac> {
    let s = open::<A>(ifindex, Duration::from_millis(1)).map_err(|e| Error::socket(e, name))?;
    let one: A = ip.into();
    let asked = Ranges::from_ranges(vec![(one, one)]);
    let req = A::request(our_mac, our_ip, ip);
    let mut buf = [0u8; 1514];
    for _ in 0..3 {
        s.send(&req)
            .map_err(|e| Error::runtime(format!("{} request on {name}: {e}", A::NAME)))?;
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            if let Ok(Some(n)) = s.recv(&mut buf)
                && let Some((_, m)) = A::accept(&buf[..n], our_mac, our_ip, &asked)
            {
                return Ok(m);
            }
        }
    }
    Err(Error::runtime(format!(
        "no {} answer from gateway {ip} on {name} (give --router-mac)",
        A::NAME
    )))
}

/// Ask every address of `targets` on interface `ifindex` for its MAC;
/// returns the MACs of those that answered.
pub fn sweep<A: Neighbour>(
    ifindex: u32,
    our_mac: Mac,
    our_ip: A::Ip,
    targets: &Ranges<A>,
    cfg: SweepConfig,
) -> io::Result<HashMap<A, Mac>> {
    let s = open::<A>(ifindex, Duration::from_millis(1))?;
    let mut found: HashMap<A, Mac> = HashMap::new();
    let mut buf = [0u8; 1514];
    let mut drain = |found: &mut HashMap<A, Mac>| {
        while let Ok(Some(n)) = s.recv(&mut buf) {
            if let Some((ip, mac)) = A::accept(&buf[..n], our_mac, our_ip, targets) {
                found.entry(ip).or_insert(mac);
            }
        }
    };
    let gap = Duration::from_secs_f64(64.0 / cfg.rate.max(1.0));
    let us: A = our_ip.into();
    for _ in 0..cfg.rounds.max(1) {
        let start = Instant::now();
        let mut sent = 0u64;
        for &(a, b) in targets.ranges() {
            let (a, b) = (a.wide(), b.wide());
            for ip in (a..=b).map(A::narrow) {
                if found.contains_key(&ip) || ip == us {
                    continue;
                }
                s.send(&A::request(our_mac, our_ip, ip.into()))?;
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
    use crate::targets::{RangeSet, Ranges};
    use crate::wire::ipv6::tests::hex;

    #[test]
    fn only_replies_to_our_questions_count() {
        let us: Ipv4Addr = "198.18.1.1".parse().unwrap();
        let mac = Mac([2, 0, 0, 0, 0, 1]);
        let asked = RangeSet::from_ranges(vec![(u32::from(us) + 1, u32::from(us) + 100)]);
        let good = ArpReply {
            sender_ip: "198.18.1.7".parse().unwrap(),
            sender_mac: Mac([2, 0, 0, 0, 0, 7]),
            target_ip: us,
            target_mac: mac,
        };
        assert_eq!(
            accept_arp(&good, us, mac, &asked),
            Some((u32::from(good.sender_ip), good.sender_mac))
        );
        let no = |r: ArpReply| assert_eq!(accept_arp(&r, us, mac, &asked), None, "{r:?}");
        no(ArpReply {
            sender_ip: "198.18.2.7".parse().unwrap(),
            ..good
        });
        no(ArpReply {
            target_ip: "198.18.1.2".parse().unwrap(),
            ..good
        });
        no(ArpReply {
            target_mac: Mac([2, 0, 0, 0, 0, 9]),
            ..good
        });
        no(ArpReply {
            sender_mac: Mac::BROADCAST,
            ..good
        });
        no(ArpReply {
            sender_mac: Mac([1, 0, 0x5e, 0, 0, 1]),
            ..good
        });
    }

    const NA: &str = include_str!("../wire/testdata/ipv6_na.hex");

    #[test]
    fn accepts_only_answers_to_us_about_asked_addresses() {
        let f = hex(NA);
        let us: Mac = "02:53:53:57:00:01".parse().unwrap();
        let gw: u128 = "2001:2:0:ff::2".parse::<Ipv6Addr>().unwrap().into();
        let asked = Ranges::<u128>::from_ranges(vec![(gw - 1, gw + 1)]);
        assert_eq!(
            accept_nd(&f, us, &asked),
            Some((gw, "02:53:53:57:00:02".parse().unwrap()))
        );
        assert_eq!(
            accept_nd(&f, Mac([2, 0, 0, 0, 0, 9]), &asked),
            None,
            "not to us"
        );
        let elsewhere = Ranges::<u128>::from_ranges(vec![(gw + 1, gw + 9)]);
        assert_eq!(accept_nd(&f, us, &elsewhere), None, "not asked");
        let mut multicast = f.clone();
        // The target link-layer option (last 6 bytes) names a group MAC.
        let n = multicast.len();
        multicast[n - 6] = 0x33;
        assert_eq!(
            accept_nd(&multicast, us, &asked),
            None,
            "checksum now fails"
        );
        assert_eq!(accept_nd(&f[..40], us, &asked), None);
    }
}
