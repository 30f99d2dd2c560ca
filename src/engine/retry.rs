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

use super::answered::Answered;
use std::sync::Arc;

/// Probes per retry round for a silent port of a host that answered.
pub const LIVE_HOST_COPIES: u32 = 2;

#[derive(Debug, Clone)]
pub struct RetryPlan {
    pub answered: Arc<Answered>,
    pub round: u32,
    pub nports: u64,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::space::Space;
    use crate::probe::Proto;
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
}
