//! Pseudo-services: a host that SYN-ACKs on many ports but has nothing
//! identifiable behind them is a middlebox, a SYN proxy or a tarpit, not a
//! host with thousands of services (LZR found many such hosts on the
//! internet). Its unidentified ports are reported `pseudo: true` and cost no
//! score; ports where a real protocol did answer stay real findings.
//!
//! Pure: the caller counts per host, this module judges.

/// What was seen on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostCounts {
    /// Ports that answered SYN-ACK (open).
    pub open: u32,
    /// Of those, ports whose data [`super::identify`] named.
    pub identified: u32,
}

/// The thresholds of the judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PseudoRule {
    /// A host with fewer open ports is always judged real: a handful of
    /// silent open ports is an ordinary host with services we do not know.
    pub min_open: u32,
    /// The host is pseudo when at most this many per thousand of its open
    /// ports were identified.
    pub max_identified_per_mille: u32,
}

impl Default for PseudoRule {
    /// At least 16 open ports, of which at most 10% identified.
    fn default() -> Self {
        PseudoRule {
            min_open: 16,
            max_identified_per_mille: 100,
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
    /// Judge a host from its counts.
    pub fn judge(&self, c: HostCounts) -> Verdict {
        let identified = c.identified.min(c.open) as u64;
        if c.open >= self.min_open
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

    fn judge(open: u32, identified: u32) -> Verdict {
        PseudoRule::default().judge(HostCounts { open, identified })
    }

    #[test]
    fn a_host_answering_everywhere_with_nothing_behind_is_pseudo() {
        assert_eq!(judge(65_535, 0), Verdict::Pseudo);
        assert_eq!(judge(1000, 0), Verdict::Pseudo);
        assert_eq!(judge(16, 0), Verdict::Pseudo);
        // A firewall answering everywhere in front of a real SSH and web server.
        assert_eq!(judge(65_535, 2), Verdict::Pseudo);
        assert!(port_is_pseudo(Verdict::Pseudo, false));
        assert!(
            !port_is_pseudo(Verdict::Pseudo, true),
            "the real SSH stays real"
        );
    }

    #[test]
    fn ordinary_hosts_are_real() {
        assert_eq!(judge(0, 0), Verdict::Real);
        assert_eq!(judge(3, 0), Verdict::Real, "a few unknown services");
        assert_eq!(judge(15, 0), Verdict::Real);
        // A busy server: many ports, most identified.
        assert_eq!(judge(40, 35), Verdict::Real);
        // The boundary: 10% identified is still pseudo, one more is not.
        assert_eq!(judge(100, 10), Verdict::Pseudo);
        assert_eq!(judge(100, 11), Verdict::Real);
        assert!(!port_is_pseudo(Verdict::Real, false));
    }

    #[test]
    fn counts_out_of_range_do_not_overflow() {
        assert_eq!(judge(u32::MAX, u32::MAX), Verdict::Real);
        assert_eq!(judge(u32::MAX, 0), Verdict::Pseudo);
        assert_eq!(judge(20, 1000), Verdict::Real, "identified capped at open");
        let strict = PseudoRule {
            min_open: 1,
            max_identified_per_mille: u32::MAX,
        };
        assert_eq!(
            strict.judge(HostCounts {
                open: u32::MAX,
                identified: u32::MAX
            }),
            Verdict::Pseudo
        );
    }
}
