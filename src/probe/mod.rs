//! Probe modules, in the shape of zmap's `probe_modules/`: everything that
//! knows what a probe of one kind looks like and what counts as its answer,
//! behind one small trait. The sender, the receiver and the scan wiring never
//! name TCP or UDP; they ask the scan's module for:
//!
//! - a **template** per source address, that writes one probe's IP packet
//!   (the link header is the path's business, see `net::route`);
//! - a **capture filter** (classic BPF) that keeps only plausible replies;
//! - a **classifier** that validates a captured IP packet statelessly (the
//!   cookie, our addresses and source ports) and says which (address, port)
//!   it answers and in what state.
//!
//! Adding a probe type is adding a file here and a row in [`MODULES`].

pub mod tcp_syn;
pub mod tcp_syn6;
pub mod udp;
pub mod udp6;
pub mod udp_payloads;

use crate::wire::bpf::Insn;
use std::net::{Ipv4Addr, Ipv6Addr};

pub use crate::engine::validate::{Classified, Identity, Proto};

/// Why a captured packet is not an answer to one of our probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// It does not parse as this module's kind of reply.
    Malformed,
    /// Not to our addresses or source ports: someone else's traffic.
    NotForUs,
    /// A kind of packet that says nothing about the port.
    Flags,
    /// The cookie does not match: forged, stale or someone else's.
    BadCookie,
    /// A valid ICMP unreachable other than port unreachable, quoting one of
    /// our probes: the port is filtered (counted, not a finding).
    Filtered,
}

/// Writes the IP packet of one probe from a fixed source address.
pub trait Template: Send + Sync + std::fmt::Debug {
    /// Write the probe to (dst, dport) from `sport` with per-probe cookie
    /// `cookie` into `out` (at least [`Probe::max_len`] bytes); returns the
    /// number of bytes written.
    fn write(&self, out: &mut [u8], dst: u32, sport: u16, dport: u16, cookie: u32) -> usize;

    /// Write probe number `variant` (below [`Probe::variants`] of `dport`)
    /// of the pair: modules that send several probes per port (UDP: one per
    /// payload of the port's services) tell them apart here.
    #[inline]
    fn write_variant(
        &self,
        out: &mut [u8],
        dst: u32,
        sport: u16,
        dport: u16,
        cookie: u32,
        variant: u32,
    ) -> usize {
        let _ = variant;
        self.write(out, dst, sport, dport, cookie)
    }
}

/// Writes the IPv6 packet of one probe from a fixed source address.
pub trait Template6: Send + Sync + std::fmt::Debug {
    /// Write the probe to (dst, dport) from `sport` with cookie `cookie`
    /// into `out`; returns the number of bytes written.
    fn write6(&self, out: &mut [u8], dst: u128, sport: u16, dport: u16, cookie: u32) -> usize;

    /// Write probe number `variant` of the pair (see
    /// [`Template::write_variant`]).
    #[inline]
    fn write6_variant(
        &self,
        out: &mut [u8],
        dst: u128,
        sport: u16,
        dport: u16,
        cookie: u32,
        variant: u32,
    ) -> usize {
        let _ = variant;
        self.write6(out, dst, sport, dport, cookie)
    }
}

/// One kind of probe.
pub trait Probe: Send + Sync + std::fmt::Debug {
    /// Name on the command line and in reports (`tcp-syn`).
    fn name(&self) -> &'static str;
    fn proto(&self) -> Proto;
    /// Largest IP packet a template writes.
    fn max_len(&self) -> usize;
    /// How many probes each pair on `port` gets per round (1 unless the
    /// module has several payloads for the port).
    fn variants(&self, port: u16) -> u32 {
        let _ = port;
        1
    }
    /// A template for probes from `src`.
    fn template(&self, src: Ipv4Addr) -> Box<dyn Template>;
    /// A capture filter for frames whose IPv4 header starts at byte `l3` (0
    /// on layer-3 links, 14 behind Ethernet): keep this module's replies to
    /// addresses in `dst` (inclusive bounds) and ports in `dport`.
    fn filter(&self, l3: u32, dst: (u32, u32), dport: (u16, u16)) -> Vec<Insn>;
    /// A template for IPv6 probes from `src` (`None`: the module does not
    /// probe over IPv6).
    fn template6(&self, src: Ipv6Addr) -> Option<Box<dyn Template6>> {
        let _ = src;
        None
    }
    /// The capture filter for IPv6 replies at byte `l3` to one of `dst`
    /// (`None`: the module does not probe over IPv6).
    fn filter6(&self, l3: u32, dst: &[u128], dport: (u16, u16)) -> Option<Vec<Insn>> {
        let _ = (l3, dst, dport);
        None
    }
    /// Validate and classify a captured IPv4 (or, for modules with
    /// [`template6`](Probe::template6), IPv6) packet.
    fn classify(&self, packet: &[u8], us: &Identity) -> Result<Classified, Reject>;
}

/// Every probe module, by name.
pub static MODULES: &[&dyn Probe] = &[&tcp_syn::TcpSyn, &udp::Udp];

/// The module called `name`.
pub fn by_name(name: &str) -> Option<&'static dyn Probe> {
    MODULES.iter().copied().find(|m| m.name() == name)
}
