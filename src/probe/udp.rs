//! The UDP probe module, one piece of code for IPv4 and IPv6: per
//! destination port, one probe per payload of the port's services
//! ([`udp_payloads::services_for_port`]; an unknown port gets the empty
//! [`udp_payloads::GENERIC`] datagram), each carrying the pair's cookie in
//! the field the service echoes, and the cookie's top bits XOR the
//! payload's number in the IP mark (IPv4 identification, IPv6 flow label:
//! what an ICMP error quotes back). The UDP checksum is always computed
//! (IPv6 requires it).
//!
//! A reply counts when:
//! - it is UDP to one of our source addresses and source ports, from the
//!   probed port (TFTP and WS-Discovery answer from another port of the
//!   probed host, so a reply that is a valid TFTP or WS-Discovery answer is
//!   taken for port 69 or 3702), and the correlator finds the (address,
//!   port) in the scan;
//! - the port's payload checker accepts it: a well-formed answer of the
//!   protocol whose echo field holds our cookie, or a protocol that echoes
//!   nothing ([`Echo::NotApplicable`](super::udp_payloads::Echo::NotApplicable)); a mismatched echo is rejected.
//!
//! Open: reason `udp-response`, `protocol` from the checker, `amplification`
//! = reply UDP payload bytes / probe UDP payload bytes, both of the first
//! reply datagram that is accepted (a service that splits its answer, like
//! memcached's `stats`, amplifies more than this says).
//!
//! ICMP or ICMPv6 destination unreachable quoting one of our probes (quoted
//! source one of our addresses, quoted source port ours, quoted IP mark
//! matching the cookie of the quoted pair): port unreachable from the
//! probed host itself is `closed` (reason `icmp-port-unreach`); any other
//! unreachable is [`Reject::Filtered`], counted in the summary and not a
//! finding.

use super::udp_payloads::{self, GENERIC, UdpService};
use super::{Classified, Identity, Probe, Proto, Reject, Template, our_quote};
use crate::finding::PortState;
use crate::wire::checksum::{finish, sum};
use crate::wire::ip::{self, Answer};
use crate::wire::{TTL, udp};
use std::cell::RefCell;
use std::net::IpAddr;

/// Reason of an open UDP port.
pub const REASON_OPEN: &str = "udp-response";
/// Reason of a closed UDP port.
pub const REASON_CLOSED: &str = "icmp-port-unreach";

/// Ports whose servers answer from another port of the probed host.
const OTHER_PORT_SERVICES: [u16; 2] = [69, 3702];

/// The module.
#[derive(Debug, Clone, Copy)]
pub struct Udp;

/// Largest UDP payload of every service.
fn max_payload() -> usize {
    udp_payloads::ALL
        .iter()
        .map(|s| s.payload(0xffff_ffff).len())
        .max()
        .unwrap_or(0)
}

impl Probe for Udp {
    fn name(&self) -> &'static str {
        "udp"
    }
    fn proto(&self) -> Proto {
        Proto::Udp
    }
    fn max_len(&self) -> usize {
        ip::MAX_HEADER_LEN + udp::HEADER_LEN + max_payload()
    }
    fn variants(&self, port: u16) -> u32 {
        udp_payloads::services_for_port(port).len() as u32
    }
    fn template(&self, src: IpAddr) -> Box<dyn Template> {
        Box::new(UdpTemplate::new(src))
    }
    fn classify(&self, packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
        classify(packet, us)
    }
}

/// The services that answer a reply from `port` with this payload, if
/// any, with the probe's cookie.
fn accept(port: u16, payload: &[u8], cookie: u32) -> Option<&'static UdpService> {
    udp_payloads::classify(port, payload, cookie).map(|(s, _)| s)
}

/// Validate a captured IPv4 or IPv6 packet as an answer to one of our UDP
/// probes.
pub fn classify(packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
    match ip::parse(packet).map_err(|_| Reject::Malformed)? {
        Answer::Udp(r) => {
            if !us.is_source(r.dst) || !us.is_sport(r.dport) {
                return Err(Reject::NotForUs);
            }
            let cookie = |port: u16| us.key.cookie(r.dst, r.src, r.dport, port);
            open_reply(r.sport, r.payload, cookie, r.src, r.ttl)
        }
        Answer::Unreachable(u) => {
            let q = our_quote(&u, Proto::Udp, us)?;
            let cookie = us.key.cookie(q.src, q.dst, q.sport, q.dport);
            if q.number(cookie) >= Udp.variants(q.dport) {
                return Err(Reject::BadCookie);
            }
            if !(u.port_unreachable && u.from_target()) {
                return Err(Reject::Filtered);
            }
            Ok(Classified {
                target: q.dst,
                proto: Proto::Udp,
                port: q.dport,
                state: PortState::Closed,
                reason: REASON_CLOSED,
                ttl: u.ttl,
                protocol: None,
                amplification: None,
            })
        }
        Answer::Tcp(_) => Err(Reject::Malformed),
    }
}

/// A UDP reply to us from `target` port `sport`: which
/// probed port and service it answers, checked against `cookie` (the
/// probe's cookie for a destination port).
fn open_reply(
    sport: u16,
    payload: &[u8],
    cookie: impl Fn(u16) -> u32,
    target: IpAddr,
    ttl: u8,
) -> Result<Classified, Reject> {
    let known = !std::ptr::eq(udp_payloads::services_for_port(sport)[0], &GENERIC);
    let found = if known {
        accept(sport, payload, cookie(sport)).map(|s| (sport, s))
    } else {
        OTHER_PORT_SERVICES
            .iter()
            .find_map(|&p| accept(p, payload, cookie(p)).map(|s| (p, s)))
            .or_else(|| accept(sport, payload, cookie(sport)).map(|s| (sport, s)))
    };
    let Some((port, service)) = found else {
        return Err(Reject::BadCookie);
    };
    let probe_bytes = service.payload(cookie(port)).len();
    Ok(Classified {
        target,
        proto: Proto::Udp,
        port,
        state: PortState::Open,
        reason: REASON_OPEN,
        ttl,
        protocol: (!service.protocol.is_empty()).then_some(service.protocol),
        amplification: Some(udp_payloads::amplification(payload.len(), probe_bytes)),
    })
}

thread_local! {
    /// The payload being built (one per sender thread: no allocation per probe).
    static PAYLOAD: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(2048));
}

/// Build payload `variant` of the services of `dport` with `cookie` and hand
/// it to `f`.
fn with_payload<R>(dport: u16, variant: u32, cookie: u32, f: impl FnOnce(&[u8]) -> R) -> R {
    let services = udp_payloads::services_for_port(dport);
    let service = services[(variant as usize).min(services.len() - 1)];
    PAYLOAD.with_borrow_mut(|payload| {
        payload.clear();
        (service.build)(cookie, payload);
        f(payload)
    })
}

/// Write the UDP header (checksum zero, for the caller to fill) and the
/// payload into `rest`, which is exactly header + payload long.
fn write_datagram(rest: &mut [u8], sport: u16, dport: u16, payload: &[u8]) {
    let udp_len = rest.len() as u16;
    rest[0..2].copy_from_slice(&sport.to_be_bytes());
    rest[2..4].copy_from_slice(&dport.to_be_bytes());
    rest[4..6].copy_from_slice(&udp_len.to_be_bytes());
    rest[6..8].copy_from_slice(&[0, 0]);
    rest[udp::HEADER_LEN..].copy_from_slice(payload);
}

/// A UDP template for one source address.
#[derive(Debug, Clone)]
pub struct UdpTemplate {
    src: IpAddr,
}

impl UdpTemplate {
    pub fn new(src: impl Into<IpAddr>) -> Self {
        UdpTemplate { src: src.into() }
    }
}

impl Template for UdpTemplate {
    fn write_variant(
        &self,
        out: &mut [u8],
        dst: IpAddr,
        sport: u16,
        dport: u16,
        cookie: u32,
        variant: u32,
    ) -> usize {
        with_payload(dport, variant, cookie, |payload| {
            let udp_len = udp::HEADER_LEN + payload.len();
            if udp_len > u16::MAX as usize {
                return 0;
            }
            let header = ip::Header::new(self.src, udp::PROTO_UDP, udp_len, TTL);
            let total = header.len() + udp_len;
            if total > out.len() {
                return 0;
            }
            let (ip, rest) = out[..total].split_at_mut(header.len());
            let Some(pseudo) = header.write(ip, dst, header.mark(cookie, variant)) else {
                return 0;
            };
            write_datagram(rest, sport, dport, payload);
            // All ones for a zero sum: zero means "no checksum" (IPv4) or
            // is invalid (IPv6).
            let c = match finish(pseudo + sum(rest)) {
                0 => 0xffff,
                c => c,
            };
            rest[6..8].copy_from_slice(&c.to_be_bytes());
            total
        })
    }
}

#[cfg(test)]
mod tests;
