//! Which silent pairs a retry round probes again, and how many times. A pair
//! that answered is never probed again. On a host that answered on any port,
//! a silent port is retried with [`LIVE_HOST_COPIES`] probes from different
//! source ports: a reply there was very plausibly lost, and such pairs are
//! few, so extra copies cost little and make a miss far less likely (at 5%
//! loss, one probe per round leaves 5%^3 of open pairs unfound after two
//! retries; two copies per round leave 5% x 0.25%^2). On a host that never
//! answered (most of the internet), one port per round is retried, chosen
//! afresh each round: that finds hosts whose every probe was lost at a cost
//! of 1/ports of the silent space, instead of all of it.
//!
//! `--rate max` adds what its controller learned in the first pass:
//! `lossy` holds the positions (of one sender's walk) sent while the reply
//! ratio was falling, during the ramp or a probe upward. There every silent
//! pair is probed again, a silent host on every port, since whole hosts'
//! replies were plausibly lost. With `silent_hosts` false (the retry round
//! `--rate max` adds by itself) only those positions and the silent ports of
//! hosts that answered are probed: the ramp's losses are covered without
//! probing the silent space again.

use super::answered::Answered;
use std::sync::Arc;

/// Probes per retry round for a silent port of a host that answered.
pub const LIVE_HOST_COPIES: u32 = 2;

#[derive(Debug, Clone)]
pub struct RetryPlan {
    pub answered: Arc<Answered>,
    pub round: u32,
    pub nports: u64,
    /// Sorted, disjoint ranges of positions sent while replies were lost.
    pub lossy: Arc<[std::ops::Range<u64>]>,
    /// Silent hosts outside `lossy` get one port per round.
    pub silent_hosts: bool,
}

impl RetryPlan {
    /// How many probes this round sends to pair `index` of host rank `host`
    /// whose port has index `port_index` in the scan's list: 0, 1 or
    /// [`LIVE_HOST_COPIES`].
    #[inline]
    pub fn probes(&self, index: u64, host: u64, port_index: u64) -> u32 {
        if self.answered.pair(index) {
            return 0;
        }
        if self.answered.host(host) {
            return LIVE_HOST_COPIES;
        }
        let pick = ((host.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) + self.round as u64)
            % self.nports.max(1);
        u32::from(port_index == pick)
    }

    /// [`probes`](Self::probes) for the pair at position `pos` of the
    /// sender's walk, with the first pass's lossy stretches and
    /// `silent_hosts`.
    #[inline]
    pub fn probes_at(&self, pos: u64, index: u64, host: u64, port_index: u64) -> u32 {
        if self.answered.pair(index) {
            return 0;
        }
        if self.answered.host(host) {
            return LIVE_HOST_COPIES;
        }
        let i = self.lossy.partition_point(|r| r.end <= pos);
        if self.lossy.get(i).is_some_and(|r| r.contains(&pos)) {
            return 1;
        }
        if !self.silent_hosts {
            return 0;
        }
        self.probes(index, host, port_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::space::Space;
    use crate::engine::validate::Proto;
    use crate::targets::RangeSet;

    #[test]
    fn retries_go_where_replies_were_lost() {
        let s = Space::new(RangeSet::from_ranges(vec![(1000, 1009)]), vec![22, 80, 443]);
        let mut a = Answered::default();
        let i22 = s.index_of(1004, Proto::Tcp, 22).unwrap();
        a.insert(i22, s.host_of(i22));
        let plan = |round| RetryPlan {
            answered: Arc::new(a.clone()),
            round,
            nports: 3,
            lossy: Arc::from([]),
            silent_hosts: true,
        };
        let p = plan(1);
        let probes = |p: &RetryPlan, ip: u32, port: u16| {
            let i = s.index_of(ip, Proto::Tcp, port).unwrap();
            let (_, _, pi) = s.pair(i);
            p.probes(i, s.host_of(i), pi)
        };
        assert_eq!(probes(&p, 1004, 22), 0, "answered pair");
        assert_eq!(
            probes(&p, 1004, 80),
            LIVE_HOST_COPIES,
            "silent port of a live host"
        );
        assert_eq!(probes(&p, 1004, 443), LIVE_HOST_COPIES);
        // A silent host gets exactly one of its ports each round, another next round.
        let picks: Vec<u16> = (1..=3)
            .map(|r| {
                let p = plan(r);
                let v: Vec<u16> = [22, 80, 443]
                    .into_iter()
                    .filter(|&port| probes(&p, 1005, port) > 0)
                    .collect();
                assert_eq!(v.len(), 1, "{v:?}");
                v[0]
            })
            .collect();
        assert_ne!(picks[0], picks[1]);
        assert_ne!(picks[1], picks[2]);
    }

    #[test]
    fn ramp_retry_covers_lossy_stretches_and_nothing_else_silent() {
        let s = Space::new(RangeSet::from_ranges(vec![(1000, 1009)]), vec![22, 80, 443]);
        let mut a = Answered::default();
        let i22 = s.index_of(1004, Proto::Tcp, 22).unwrap();
        a.insert(i22, s.host_of(i22));
        let plan = |silent_hosts| RetryPlan {
            answered: Arc::new(a.clone()),
            round: 1,
            nports: 3,
            lossy: Arc::from([10..20, 50..51]),
            silent_hosts,
        };
        let at = |p: &RetryPlan, pos, ip, port| {
            let i = s.index_of(ip, Proto::Tcp, port).unwrap();
            let (_, _, pi) = s.pair(i);
            p.probes_at(pos, i, s.host_of(i), pi)
        };
        let ramp = plan(false);
        // Answered pairs never; silent ports of a live host anywhere, twice.
        assert_eq!(at(&ramp, 15, 1004, 22), 0);
        assert_eq!(at(&ramp, 99, 1004, 80), LIVE_HOST_COPIES);
        // A silent host: every port inside a lossy stretch, none outside.
        for (pos, want) in [(9, 0), (10, 1), (19, 1), (20, 0), (49, 0), (50, 1), (51, 0)] {
            for port in [22u16, 80, 443] {
                assert_eq!(at(&ramp, pos, 1005, port), want, "pos {pos} port {port}");
            }
        }
        // With silent hosts on (explicit --retries), outside the stretches
        // the usual rotating port.
        let full = plan(true);
        let outside: u32 = [22, 80, 443].iter().map(|&p| at(&full, 30, 1005, p)).sum();
        assert_eq!(outside, 1);
        let inside: u32 = [22, 80, 443].iter().map(|&p| at(&full, 12, 1005, p)).sum();
        assert_eq!(inside, 3);
    }
}
