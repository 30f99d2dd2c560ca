//! Pseudo-services: a host that SYN-ACKs on (nearly) every port probed on
//! it but shows nothing behind them is a middlebox, a SYN proxy or a
//! tarpit, not a host with a service on every port (LZR found many such
//! hosts on the internet). What shows an application behind a port: a
//! name, or the server closing the connection itself (a FIN after the
//! handshake: an application's close, as TCP wrappers do) where a
//! middlebox holds it silently. Its unidentified ports are reported
//! `pseudo: true` and cost no score; ports where a real protocol did answer
//! stay real findings.
//!
//! The judgement is relative to what was scanned: the scan probed the same
//! `probed` ports on every host (a shard of a scan probes its own share of
//! each host's ports, and passes that), so a host is judged by the share of
//! them it answered, whether the scan covers five ports or sixty thousand. A few
//! open ports prove nothing either way ([`PseudoRule::min_open`]): a host
//! scanned on three ports that all answer silently stays real.
//!
//! Pure: the caller counts per host, this module judges.

/// What was seen on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostCounts {
    /// Ports that answered SYN-ACK (open).
    pub open: u32,
    /// Of those, ports whose data [`super::identify`] named.
    pub identified: u32,
    /// Of those, ports not named whose server closed a connection itself
    /// (FIN).
    pub closed: u32,
}

/// The thresholds of the judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PseudoRule {
    /// Fewest open ports that can show a middlebox: with fewer, a host is
    /// always real (a handful of silent open ports is an ordinary host with
    /// services we do not know). Evidence, not a scan size: any scan of at
    /// least this many ports can find middleboxes.
    pub min_open: u32,
    /// The share (per thousand) of the ports probed on a host that must be
    /// open: "nearly every port" (a lost SYN or SYN-ACK costs a few).
    pub open_per_mille: u32,
    /// The host is pseudo when at most this many per thousand of its open
    /// ports were identified (a firewall answering everywhere in front of a
    /// real SSH is still a middlebox).
    pub max_identified_per_mille: u32,
    /// Open ports needed when the number of ports probed per host is not
    /// known (0).
    pub min_open_unknown: u32,
}

impl Default for PseudoRule {
    /// At least 4 open ports and 90% of those probed, at most 10% of them
    /// identified; 16 open ports when the scan's port count is unknown.
    fn default() -> Self {
        PseudoRule {
            min_open: 4,
            open_per_mille: 900,
            max_identified_per_mille: 100,
            min_open_unknown: 16,
        }
    }
}

/// The verdict on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Its open ports are ordinary findings.
    Real,
    /// Middlebox or tarpit: its unidentified ports are pseudo.
    Pseudo,
}

impl PseudoRule {
    /// Open ports a host must show to be judged pseudo, when `probed` ports
    /// were probed on it (0: unknown).
    pub fn open_needed(&self, probed: u32) -> u32 {
        if probed == 0 {
            return self.min_open_unknown.max(1);
        }
        let share = (probed as u64 * self.open_per_mille as u64).div_ceil(1000);
        (share.min(probed as u64) as u32).max(self.min_open).max(1)
    }

    /// Whether a host can be judged pseudo at all when `probed` ports are
    /// probed on it (0: unknown): not when fewer are probed than a
    /// middlebox must show open (a scan of three ports never shows one).
    pub fn can_judge_pseudo(&self, probed: u32) -> bool {
        probed == 0 || self.open_needed(probed) <= probed
    }

    /// Judge a host from its counts, `probed` ports having been probed on
    /// it (0: unknown).
    pub fn judge(&self, c: HostCounts, probed: u32) -> Verdict {
        let identified = c.identified.saturating_add(c.closed).min(c.open) as u64;
        if c.open >= self.open_needed(probed)
            && identified * 1000 <= self.max_identified_per_mille as u64 * c.open as u64
        {
            Verdict::Pseudo
        } else {
            Verdict::Real
        }
    }
}

/// Whether one port's finding is pseudo: on a pseudo host, every port where
/// nothing was identified.
pub fn port_is_pseudo(host: Verdict, port_identified: bool) -> bool {
    host == Verdict::Pseudo && !port_identified
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(open: u32, identified: u32, probed: u32) -> Verdict {
        PseudoRule::default().judge(
            HostCounts {
                open,
                identified,
                closed: 0,
            },
            probed,
        )
    }

    #[test]
    fn a_scan_of_fewer_ports_than_a_middlebox_must_show_judges_none() {
        let rule = PseudoRule::default();
        assert!(!rule.can_judge_pseudo(3), "3 probed, 4 needed");
        assert!(rule.can_judge_pseudo(4));
        assert!(rule.can_judge_pseudo(15));
        assert!(rule.can_judge_pseudo(0), "unknown: 16 open can show one");
        // And indeed: every one of 3 ports open and silent stays real.
        assert_eq!(judge(3, 0, 3), Verdict::Real);
    }

    #[test]
    fn ports_that_close_themselves_show_an_application() {
        // Nine ports of nine, nothing named, each closed by its server at
        // once (TCP wrappers): real.
        let c = |closed| HostCounts {
            open: 9,
            identified: 0,
            closed,
        };
        let rule = PseudoRule::default();
        assert_eq!(rule.judge(c(9), 9), Verdict::Real);
        // One of nine closes, the rest are silent: still a middlebox.
        assert_eq!(rule.judge(c(0), 9), Verdict::Pseudo);
        assert_eq!(
            rule.judge(c(1), 9),
            Verdict::Real,
            "a ninth is over a tenth"
        );
        assert_eq!(
            rule.judge(
                HostCounts {
                    open: 20,
                    identified: 0,
                    closed: 2,
                },
                20
            ),
            Verdict::Pseudo
        );
    }

    #[test]
    fn a_host_answering_every_port_probed_with_nothing_behind_is_pseudo() {
        // Scans of every size: a handful of ports, a lab's 15, thousands.
        for probed in [4, 5, 10, 15, 25, 1000, 65_535] {
            assert_eq!(judge(probed, 0, probed), Verdict::Pseudo, "{probed}");
        }
        // Nearly every port: a few SYN-ACKs lost.
        assert_eq!(judge(14, 0, 15), Verdict::Pseudo);
        assert_eq!(judge(59_000, 0, 65_535), Verdict::Pseudo);
        // A firewall answering everywhere in front of a real SSH and web server.
        assert_eq!(judge(65_535, 2, 65_535), Verdict::Pseudo);
        assert_eq!(judge(20, 1, 20), Verdict::Pseudo);
        assert!(port_is_pseudo(Verdict::Pseudo, false));
        assert!(
            !port_is_pseudo(Verdict::Pseudo, true),
            "the real SSH stays real"
        );
    }

    #[test]
    fn ordinary_hosts_are_real() {
        assert_eq!(judge(0, 0, 10), Verdict::Real);
        // Too few ports to tell, however many were scanned.
        assert_eq!(judge(3, 0, 3), Verdict::Real, "three silent services");
        assert_eq!(judge(1, 0, 1), Verdict::Real, "a one-port scan");
        // Silent services on a share of the ports only.
        assert_eq!(judge(13, 0, 15), Verdict::Real);
        assert_eq!(judge(200, 0, 1000), Verdict::Real);
        // A busy server: many ports, most identified.
        assert_eq!(judge(40, 35, 40), Verdict::Real);
        // The boundary: 10% identified is still pseudo, one more is not.
        assert_eq!(judge(100, 10, 100), Verdict::Pseudo);
        assert_eq!(judge(100, 11, 100), Verdict::Real);
        assert!(!port_is_pseudo(Verdict::Real, false));
    }

    #[test]
    fn an_unknown_scan_size_needs_more_open_ports() {
        assert_eq!(judge(15, 0, 0), Verdict::Real);
        assert_eq!(judge(16, 0, 0), Verdict::Pseudo);
    }

    #[test]
    fn counts_out_of_range_do_not_overflow() {
        assert_eq!(judge(u32::MAX, u32::MAX, u32::MAX), Verdict::Real);
        assert_eq!(judge(u32::MAX, 0, u32::MAX), Verdict::Pseudo);
        assert_eq!(
            judge(20, 1000, 20),
            Verdict::Real,
            "identified capped at open"
        );
        // More open than probed (a retransmission counted twice): judged as all.
        assert_eq!(judge(30, 0, 20), Verdict::Pseudo);
        let strict = PseudoRule {
            min_open: 1,
            open_per_mille: u32::MAX,
            max_identified_per_mille: u32::MAX,
            min_open_unknown: 0,
        };
        let all = HostCounts {
            open: u32::MAX,
            identified: u32::MAX,
            closed: u32::MAX,
        };
        assert_eq!(strict.judge(all, u32::MAX), Verdict::Pseudo);
        assert_eq!(strict.judge(all, 0), Verdict::Pseudo);
    }
}
