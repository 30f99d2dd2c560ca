//! The correlator: a pure state machine that turns classified replies (a
//! probe module has already checked the cookie, our addresses and ports)
//! into port states. No sockets and no clock: replies go in, events come
//! out, so it tests without root.
//!
//! A classified reply becomes an event only if it names a pair of the scan's
//! space and that pair has not answered before: each (address, port) is
//! reported once. The answered set is what retries are planned from and what
//! checkpoints save.

use super::answered::Answered;
use super::space::Space;
use super::validate::{Classified, Proto};
use crate::finding::PortState;
use std::net::IpAddr;

/// Why a classified reply was not a new event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// From an address or port we did not scan.
    NotScanned,
    /// We already know this pair.
    Duplicate,
}

/// Counters of what the correlator saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub open: u64,
    pub closed: u64,
    pub duplicate: u64,
    pub rejected: u64,
}

/// The correlator state.
#[derive(Debug)]
pub struct Correlator {
    space: Space,
    answered: Answered,
    stats: Stats,
}

impl Correlator {
    /// Start from pairs already known (empty for a new scan).
    pub fn new(space: Space, answered: Answered) -> Self {
        Correlator {
            space,
            answered,
            stats: Stats::default(),
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn answered(&self) -> &Answered {
        &self.answered
    }

    pub fn into_answered(self) -> Answered {
        self.answered
    }

    /// The answered set and the TCP ports `open` (answered already, their
    /// replies not yet handled: identification holds them): what a retry
    /// round must not probe again. The checkpoint takes
    /// [`answered`](Self::answered) alone.
    pub fn answered_and(&self, open: impl IntoIterator<Item = (IpAddr, u16)>) -> Answered {
        let mut a = self.answered.clone();
        for (ip, port) in open {
            if let Some(i) = self.space.index_of_ip(ip, Proto::Tcp, port) {
                a.insert(i, self.space.host_of(i));
            }
        }
        a
    }

    /// Judge one classified reply: Ok with its pair's index in the space
    /// when it is news (a port whose state we learned, `c` itself).
    pub fn handle(&mut self, c: &Classified) -> Result<u64, Drop> {
        let Some(index) = self.space.index_of_ip(c.target, c.proto, c.port) else {
            self.stats.rejected += 1;
            return Err(Drop::NotScanned);
        };
        if !self.answered.insert(index, self.space.host_of(index)) {
            self.stats.duplicate += 1;
            return Err(Drop::Duplicate);
        }
        match c.state {
            PortState::Open => self.stats.open += 1,
            PortState::Closed => self.stats.closed += 1,
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cookie::CookieKey;
    use crate::probe::tcp_syn::TcpSyn;
    use crate::probe::{Identity, Probe};
    use crate::targets::RangeSet;
    use crate::wire::tcp;

    const US: u32 = 0xc612_0001; // 198.18.0.1
    const LO: u32 = 0xc613_0000; // 198.19.0.0
    const HI: u32 = 0xc613_00ff; // 198.19.0.255: the scanned addresses

    fn space() -> Space {
        Space::new(RangeSet::from_ranges(vec![(LO, HI)]), vec![22, 80, 443])
    }

    fn classified(target: u32, port: u16, state: PortState) -> Classified {
        Classified {
            target: IpAddr::V4(target.into()),
            proto: Proto::Tcp,
            port,
            state,
            reason: "syn-ack",
            ttl: 64,
            protocol: None,
            amplification: None,
        }
    }

    #[test]
    fn held_ports_count_as_answered_for_retries_only() {
        let mut c = Correlator::new(space(), Answered::default());
        c.handle(&classified(LO + 4, 22, PortState::Open)).unwrap();
        let held = [
            (IpAddr::V4((LO + 9).into()), 80),
            // Outside the space: ignored.
            (IpAddr::V4((HI + 1).into()), 80),
            (IpAddr::V4(LO.into()), 8080),
        ];
        let a = c.answered_and(held);
        let i = space().index_of(LO + 9, Proto::Tcp, 80).unwrap();
        assert!(a.pair(i) && a.host(space().host_of(i)));
        assert_eq!(a.len(), 2);
        // The correlator's own set (the checkpoint's) is unchanged.
        assert!(!c.answered().pair(i));
        assert_eq!(c.answered().len(), 1);
    }

    #[test]
    fn each_pair_once_and_only_pairs_of_the_space() {
        let mut c = Correlator::new(space(), Answered::default());
        let index = c.handle(&classified(LO + 4, 22, PortState::Open)).unwrap();
        assert_eq!(index, space().index_of(LO + 4, Proto::Tcp, 22).unwrap());
        assert_eq!(c.stats().open, 1);
        assert_eq!(
            c.handle(&classified(LO + 4, 22, PortState::Closed)),
            Err(Drop::Duplicate)
        );
        assert_eq!(
            c.handle(&classified(HI + 1, 22, PortState::Open)),
            Err(Drop::NotScanned)
        );
        assert_eq!(
            c.handle(&classified(LO, 8080, PortState::Open)),
            Err(Drop::NotScanned)
        );
        assert!(c.handle(&classified(LO, 80, PortState::Closed)).is_ok());
        // UDP/80 is not in this TCP-only space.
        let udp = Classified {
            proto: Proto::Udp,
            ..classified(LO + 1, 80, PortState::Open)
        };
        assert_eq!(c.handle(&udp), Err(Drop::NotScanned));
        assert_eq!(
            c.stats(),
            Stats {
                open: 1,
                closed: 1,
                duplicate: 1,
                rejected: 3
            }
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// A reply packet's fields.
        #[derive(Debug, Clone)]
        struct R {
            src: u32,
            dst: u32,
            sport: u16,
            dport: u16,
            ack: u32,
            flags: u8,
        }

        fn packet(r: &R) -> Vec<u8> {
            let mut p = vec![0u8; 40];
            p[0] = 0x45;
            p[2..4].copy_from_slice(&40u16.to_be_bytes());
            p[8] = 64;
            p[9] = 6;
            p[12..16].copy_from_slice(&r.src.to_be_bytes());
            p[16..20].copy_from_slice(&r.dst.to_be_bytes());
            let c = crate::wire::checksum::checksum(&p[..20]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
            p[20..22].copy_from_slice(&r.sport.to_be_bytes());
            p[22..24].copy_from_slice(&r.dport.to_be_bytes());
            p[28..32].copy_from_slice(&r.ack.to_be_bytes());
            p[32] = 0x50;
            p[33] = r.flags;
            p
        }

        fn identity() -> Identity {
            Identity::one_source(
                CookieKey { k0: 11, k1: 22 },
                std::net::Ipv4Addr::from(US).into(),
                61000,
                4,
            )
        }

        /// What a reply must be to become an event, written out again
        /// independently of the module and the correlator.
        fn is_ours(id: &Identity, r: &R) -> bool {
            let f = r.flags & (tcp::SYN | tcp::ACK | tcp::RST);
            r.dst == US
                && (61000..61004).contains(&r.dport)
                && [22, 80, 443].contains(&r.sport)
                && (LO..=HI).contains(&r.src)
                && (f == tcp::SYN | tcp::ACK || f == tcp::RST | tcp::ACK)
                && id.key.cookie(US, r.src, r.dport, r.sport).wrapping_add(1) == r.ack
        }

        fn near() -> impl Strategy<Value = R> {
            (
                prop_oneof![LO - 2..=HI + 2, any::<u32>()],
                prop_oneof![Just(US), Just(US + 1), any::<u32>()],
                prop_oneof![Just(22u16), Just(80), Just(443), any::<u16>()],
                60998u16..61006,
                any::<bool>(),
                any::<u32>(),
                any::<u8>(),
            )
                .prop_map(|(src, dst, sport, dport, right, ack, flags)| {
                    let ack = if right {
                        identity().key.cookie(US, src, dport, sport).wrapping_add(1)
                    } else {
                        ack
                    };
                    R {
                        src,
                        dst,
                        sport,
                        dport,
                        ack,
                        flags,
                    }
                })
        }

        proptest! {
            #[test]
            fn a_reply_becomes_an_event_iff_it_answers_our_probe(r in near()) {
                let id = identity();
                let mut c = Correlator::new(space(), Answered::default());
                let got = TcpSyn
                    .classify(&packet(&r), &id)
                    .ok()
                    .and_then(|cl| c.handle(&cl).ok());
                prop_assert_eq!(got.is_some(), is_ours(&id, &r), "{:?}", r);
            }
        }
    }
}
