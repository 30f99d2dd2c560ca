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
//! Each is one piece of code for IPv4 and IPv6: what differs between the
//! families (headers, ICMP and ICMPv6, where an error quotes our mark) is
//! in the wire views, [`crate::wire::ip`] first.
//!
//! Adding a probe type is adding a file here and a row in [`MODULES`].

pub mod tcp_syn;
pub mod udp;
pub mod udp_payloads;

use crate::wire::bpf::Insn;
use crate::wire::ip::{Quoted, Unreachable};
use std::net::IpAddr;

pub use crate::wire::ip::CaptureFilter;

pub use crate::engine::validate::{Classified, Identity, Proto, Sources};

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

/// Writes the IP packet of one probe from a fixed source address, of
/// either family (the template's: a destination of the other family gets
/// nothing written).
pub trait Template: Send + Sync + std::fmt::Debug {
    /// Write the probe to (dst, dport) from `sport` with per-probe cookie
    /// `cookie` into `out` (at least [`Probe::max_len`] bytes); returns the
    /// number of bytes written.
    #[inline]
    fn write(&self, out: &mut [u8], dst: IpAddr, sport: u16, dport: u16, cookie: u32) -> usize {
        self.write_variant(out, dst, sport, dport, cookie, 0)
    }

    /// Write probe number `variant` (below [`Probe::variants`] of `dport`)
    /// of the pair: modules that send several probes per port (UDP: one per
    /// payload of the port's services) tell them apart here.
    fn write_variant(
        &self,
        out: &mut [u8],
        dst: IpAddr,
        sport: u16,
        dport: u16,
        cookie: u32,
        variant: u32,
    ) -> usize;
}

/// One kind of probe.
pub trait Probe: Send + Sync + std::fmt::Debug {
    /// Name on the command line and in reports (`tcp-syn`).
    fn name(&self) -> &'static str;
    fn proto(&self) -> Proto;
    /// Largest IP packet a template writes (of either family).
    fn max_len(&self) -> usize;
    /// How many probes each pair on `port` gets per round (1 unless the
    /// module has several payloads for the port).
    fn variants(&self, port: u16) -> u32 {
        let _ = port;
        1
    }
    /// A template for probes from `src`.
    fn template(&self, src: IpAddr) -> Box<dyn Template>;
    /// A capture filter for frames whose IP header starts at byte `l3` (0
    /// on layer-3 links, 14 behind Ethernet): keep this module's replies to
    /// `ours` and ports in `dport`, and ICMP destination unreachables.
    fn filter(&self, l3: u32, ours: CaptureFilter<'_>, dport: (u16, u16)) -> Vec<Insn> {
        ours.program(l3, self.proto().number(), dport)
    }
    /// Validate and classify a captured IP packet of either family.
    fn classify(&self, packet: &[u8], us: &Identity) -> Result<Classified, Reject>;
}

impl Proto {
    /// The IP protocol (IPv6 next header) number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => crate::wire::ipv4::PROTO_TCP,
            Proto::Udp => crate::wire::udp::PROTO_UDP,
        }
    }
}

/// The probe a destination unreachable quotes, if it is one of ours of
/// `proto`: sent from the address the error came to, one of ours, from
/// one of our source ports. Whether its cookie matches is the module's.
fn our_quote(u: &Unreachable, proto: Proto, us: &Identity) -> Result<Quoted, Reject> {
    let q = u.quoted;
    if q.proto != proto.number() || q.src != u.to || !us.is_source(q.src) || !us.is_sport(q.sport) {
        return Err(Reject::NotForUs);
    }
    Ok(q)
}

/// Every probe module, by name.
pub static MODULES: &[&dyn Probe] = &[&tcp_syn::TcpSyn, &udp::Udp];

/// The module called `name`.
pub fn by_name(name: &str) -> Option<&'static dyn Probe> {
    MODULES.iter().copied().find(|m| m.name() == name)
}
