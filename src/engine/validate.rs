//! What the engine needs to know about a probe and its answer, whatever the
//! probe module: our side of every probe (the cookie key, our addresses and
//! source ports), and a reply a module has validated and classified. Probe
//! modules (`crate::probe`) build on these; the engine never names a module.

use super::cookie::CookieKey;
use crate::finding::PortState;
use std::net::IpAddr;

/// The transport protocol a module probes (the findings' `proto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// Our side of every probe of a scan: what a reply must be addressed to.
#[derive(Debug, Clone)]
pub struct Identity {
    pub key: CookieKey,
    /// Our source addresses.
    pub sources: Sources,
    /// Probes come from ports `sport_base .. sport_base + sport_count`.
    pub sport_base: u16,
    pub sport_count: u16,
}

impl Identity {
    /// Probes from the one address `source`, from ports `sport_base ..
    /// sport_base + sport_count`.
    pub fn one_source(key: CookieKey, source: IpAddr, sport_base: u16, sport_count: u16) -> Self {
        let mut sources = Sources::default();
        match source {
            IpAddr::V4(a) => sources.v4.push(a.into()),
            IpAddr::V6(a) => sources.v6.push(a.into()),
        }
        Identity {
            key,
            sources,
            sport_base,
            sport_count,
        }
    }

    /// Whether `ip` is one of our source addresses.
    #[inline]
    pub fn is_source(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.sources.v4.binary_search(&a.into()).is_ok(),
            IpAddr::V6(a) => self.sources.v6.binary_search(&a.into()).is_ok(),
        }
    }

    /// Whether `port` is one of our source ports.
    #[inline]
    pub fn is_sport(&self, port: u16) -> bool {
        port.wrapping_sub(self.sport_base) < self.sport_count
    }

    /// Source port of a probe in retry round `round`.
    #[inline]
    pub fn sport(&self, round: u32) -> u16 {
        self.sport_base + (round % self.sport_count as u32) as u16
    }

    /// Source port of copy `copy` (0-based) of a probe in round `round`:
    /// copies come from the other half of the source port range, so each
    /// copy is a connection attempt of its own.
    #[inline]
    pub fn sport_copy(&self, round: u32, copy: u32) -> u16 {
        self.sport(round.wrapping_add(copy.wrapping_mul((self.sport_count as u32 / 2).max(1))))
    }

    /// The lowest and highest IPv4 source address (for capture filters).
    pub fn source_bounds(&self) -> (u32, u32) {
        (
            self.sources.v4.first().copied().unwrap_or(0),
            self.sources.v4.last().copied().unwrap_or(0),
        )
    }
}

/// Our source addresses of each family (each sorted, deduplicated), as
/// [`Targets`](crate::targets::Targets) holds the targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    pub v4: Vec<u32>,
    pub v6: Vec<u128>,
}

/// A reply a module recognized as the answer to one of its probes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Classified {
    /// The probed address (the reply's source).
    pub target: IpAddr,
    /// The protocol of the probed port (the module's).
    pub proto: Proto,
    /// The probed port.
    pub port: u16,
    pub state: PortState,
    /// What showed the state (`syn-ack`, `rst`, ...).
    pub reason: &'static str,
    pub ttl: u8,
    /// The application protocol the reply showed (UDP: the payload checker
    /// that accepted it).
    pub protocol: Option<&'static str>,
    /// Reply bytes over probe bytes (UDP payloads; the first reply datagram).
    pub amplification: Option<f64>,
}
