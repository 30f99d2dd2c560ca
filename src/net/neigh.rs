//! The ARP sweep: before probing targets on a directly connected Ethernet
//! network, ask every one of them for its MAC with ARP requests of our own
//! (rate-limited, unanswered ones asked again), so each host is probed at
//! its own MAC. Hosts that never answer are down: they get no probe. The
//! kernel's neighbour table is not used, so a large on-link block needs no
//! kernel entry per host. [`accept`] (which replies count) is pure.

use crate::net::sys::{self, PacketSocket};
use crate::targets::RangeSet;
use crate::wire::arp::{self, ArpReply};
use crate::wire::ethernet::Mac;
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
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

/// Whether an ARP reply answers our sweep: sent to our address and MAC,
/// from an address we asked about, with a real MAC. Returns (address, MAC).
pub fn accept(
    r: &ArpReply,
    our_ip: Ipv4Addr,
    our_mac: Mac,
    asked: &RangeSet,
) -> Option<(u32, Mac)> {
    let sender = u32::from(r.sender_ip);
    let bad_mac =
        r.sender_mac == Mac::ZERO || r.sender_mac == Mac::BROADCAST || r.sender_mac.0[0] & 1 != 0;
    (r.target_ip == our_ip && r.target_mac == our_mac && asked.contains(sender) && !bad_mac)
        .then_some((sender, r.sender_mac))
}

/// Ask every address of `targets` on interface `ifindex` for its MAC.
pub fn sweep(
    ifindex: u32,
    our_mac: Mac,
    our_ip: Ipv4Addr,
    targets: &RangeSet,
    cfg: SweepConfig,
) -> io::Result<HashMap<u32, Mac>> {
    let s = PacketSocket::open(ifindex, sys::ETH_P_ARP)?;
    s.set_recv_timeout(Duration::from_millis(1))?;
    let mut found: HashMap<u32, Mac> = HashMap::new();
    let mut answered = RoaringBitmap::new();
    let mut buf = [0u8; 1514];
    let mut drain = |found: &mut HashMap<u32, Mac>, answered: &mut RoaringBitmap| {
        while let Ok(Some(n)) = s.recv(&mut buf) {
            if let Ok(Some(r)) = arp::parse_reply(&buf[..n])
                && let Some((ip, mac)) = accept(&r, our_ip, our_mac, targets)
            {
                answered.insert(ip);
                found.entry(ip).or_insert(mac);
            }
        }
    };
    let gap = Duration::from_secs_f64(64.0 / cfg.rate.max(1.0));
    for _ in 0..cfg.rounds.max(1) {
        let start = Instant::now();
        let mut sent = 0u64;
        for &(a, b) in targets.ranges() {
            for ip in a..=b {
                if answered.contains(ip) || ip == u32::from(our_ip) {
                    continue;
                }
                s.send(&arp::request(our_mac, our_ip, Ipv4Addr::from(ip)))?;
                sent += 1;
                if sent.is_multiple_of(64) {
                    drain(&mut found, &mut answered);
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
            drain(&mut found, &mut answered);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            accept(&good, us, mac, &asked),
            Some((u32::from(good.sender_ip), good.sender_mac))
        );
        let no = |r: ArpReply| assert_eq!(accept(&r, us, mac, &asked), None, "{r:?}");
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
}
