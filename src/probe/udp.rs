//! The UDP probe module: per destination port, one probe per payload of the
//! port's services ([`udp_payloads::services_for_port`]; an unknown port
//! gets the empty [`udp_payloads::GENERIC`] datagram), each carrying the
//! pair's cookie in the field the service echoes, and the cookie's high
//! half XOR the payload's number in the IP identification (what an ICMP
//! error quotes back).
//!
//! A reply counts when:
//! - it is UDP to one of our source addresses and source ports, from the
//!   probed port (TFTP and WS-Discovery answer from another port of the
//!   probed host, so a reply that is a valid TFTP or WS-Discovery answer is
//!   taken for port 69 or 3702), and the correlator finds the (address,
//!   port) in the scan;
//! - the port's payload checker accepts it: a well-formed answer of the
//!   protocol whose echo field holds our cookie, or a protocol that echoes
//!   nothing ([`Echo::NotApplicable`]); a mismatched echo is rejected.
//!
//! Open: reason `udp-response`, `protocol` from the checker, `amplification`
//! = reply UDP payload bytes / probe UDP payload bytes, both of the first
//! reply datagram that is accepted (a service that splits its answer, like
//! memcached's `stats`, amplifies more than this says).
//!
//! ICMP destination unreachable quoting one of our probes (quoted source one
//! of our addresses, quoted source port ours, quoted IP id matching the
//! cookie of the quoted pair): port unreachable from the probed host itself
//! is `closed` (reason `icmp-port-unreach`); any other unreachable is
//! [`Reject::Filtered`], counted in the summary and not a finding.

use super::udp_payloads::{self, GENERIC, UdpService};
use super::{Classified, Identity, Probe, Proto, Reject, Template};
use crate::finding::PortState;
use crate::wire::bpf::{
    self, Asm, Insn, JEQ_K, JGE_K, JGT_K, JSET_K, LD_B_ABS, LD_B_IND, LD_H_ABS, LD_H_IND, LD_W_ABS,
    LDX_B_MSH,
};
use crate::wire::icmp::{self, PortState as IcmpState};
use crate::wire::{TTL, ipv4, udp};
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr};

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
        ipv4::HEADER_LEN + udp::HEADER_LEN + max_payload()
    }
    fn variants(&self, port: u16) -> u32 {
        udp_payloads::services_for_port(port).len() as u32
    }
    fn template(&self, src: Ipv4Addr) -> Box<dyn Template> {
        Box::new(UdpTemplate { src })
    }
    fn filter(&self, l3: u32, dst: (u32, u32), dport: (u16, u16)) -> Vec<Insn> {
        filter(l3, dst, dport)
    }
    fn classify(&self, packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
        classify(packet, us)
    }
    fn template6(&self, src: std::net::Ipv6Addr) -> Option<Box<dyn super::Template6>> {
        Some(Box::new(super::udp6::UdpTemplate6::new(src)))
    }
    fn filter6(&self, l3: u32, dst: &[u128], dport: (u16, u16)) -> Option<Vec<Insn>> {
        Some(super::udp6::filter6(l3, dst, dport))
    }
}

/// The capture filter: IPv4 at byte `l3`, to an address in `dst`, not a
/// fragment, and either UDP to a port in `dport` or ICMP destination
/// unreachable.
pub fn filter(l3: u32, dst: (u32, u32), dport: (u16, u16)) -> Vec<Insn> {
    use bpf::To::{Drop, Keep, Next, Skip};
    let mut a = Asm::new();
    if l3 >= 2 {
        a.op(LD_H_ABS, l3 - 2).jump(JEQ_K, 0x0800, Next, Drop);
    }
    a.op(LD_B_ABS, l3)
        .jump(JGE_K, 0x45, Next, Drop)
        .jump(JGT_K, 0x4f, Drop, Next)
        .op(LD_W_ABS, l3 + 16)
        .jump(JGE_K, dst.0, Next, Drop)
        .jump(JGT_K, dst.1, Drop, Next)
        .op(LD_H_ABS, l3 + 6)
        .jump(JSET_K, 0x3fff, Drop, Next)
        .op(LDX_B_MSH, l3)
        .op(LD_B_ABS, l3 + 9)
        .jump(JEQ_K, icmp::PROTO_ICMP as u32, Next, Skip(2))
        .op(LD_B_IND, l3) // ICMP type
        .jump(JEQ_K, icmp::DEST_UNREACHABLE as u32, Keep, Drop)
        .jump(JEQ_K, udp::PROTO_UDP as u32, Next, Drop)
        .op(LD_H_IND, l3 + 2)
        .jump(JGE_K, dport.0 as u32, Next, Drop)
        .jump(JGT_K, dport.1 as u32, Drop, Keep);
    a.finish()
}

/// IP identification of payload `variant` of the probe with `cookie`.
#[inline]
fn ident(cookie: u32, variant: u32) -> u16 {
    (cookie >> 16) as u16 ^ variant as u16
}

/// The services that answer a reply from `port` with this payload, if
/// any, with the probe's cookie.
fn accept(port: u16, payload: &[u8], cookie: u32) -> Option<&'static UdpService> {
    udp_payloads::classify(port, payload, cookie).map(|(s, _)| s)
}

/// Validate a captured IPv4 packet as an answer to one of our UDP probes.
pub fn classify(packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
    if packet.first().is_some_and(|b| b >> 4 == 6) {
        return super::udp6::classify(packet, us);
    }
    match packet.get(9) {
        Some(&udp::PROTO_UDP) => classify_udp(packet, us),
        Some(&icmp::PROTO_ICMP) => classify_icmp(packet, us),
        _ => Err(Reject::Malformed),
    }
}

fn classify_udp(packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
    let r = udp::parse_ipv4(packet).map_err(|_| Reject::Malformed)?;
    if !us.is_source(r.dst) || !us.is_sport(r.dport) {
        return Err(Reject::NotForUs);
    }
    let cookie = |port: u16| us.key.cookie(r.dst, r.src, r.dport, port);
    open_reply(r.sport, r.payload, cookie, IpAddr::V4(r.src.into()), r.ttl)
}

/// A UDP reply to us from `target` port `sport` (either IP version): which
/// probed port and service it answers, checked against `cookie` (the
/// probe's cookie for a destination port).
pub(super) fn open_reply(
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

fn classify_icmp(packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
    let u = icmp::parse_ipv4(packet).map_err(|_| Reject::Malformed)?;
    let q = u.quoted;
    if !us.is_source(u.to) || q.src != u.to || !us.is_sport(q.sport) {
        return Err(Reject::NotForUs);
    }
    if q.protocol != udp::PROTO_UDP {
        return Err(Reject::NotForUs);
    }
    let cookie = us.key.cookie(q.src, q.dst, q.sport, q.dport);
    let variant = (q.ident ^ (cookie >> 16) as u16) as u32;
    if variant >= Udp.variants(q.dport) {
        return Err(Reject::BadCookie);
    }
    match u.port_state() {
        IcmpState::Closed if u.from_target() => Ok(Classified {
            target: IpAddr::V4(q.dst.into()),
            proto: Proto::Udp,
            port: q.dport,
            state: PortState::Closed,
            reason: REASON_CLOSED,
            ttl: u.ttl,
            protocol: None,
            amplification: None,
        }),
        _ => Err(Reject::Filtered),
    }
}

thread_local! {
    /// The payload being built (one per sender thread: no allocation per probe).
    static PAYLOAD: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(2048));
}

/// Build payload `variant` of the services of `dport` with `cookie` and hand
/// it to `f` (either family's template).
pub(super) fn with_payload<R>(
    dport: u16,
    variant: u32,
    cookie: u32,
    f: impl FnOnce(&[u8]) -> R,
) -> R {
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
pub(super) fn write_datagram(rest: &mut [u8], sport: u16, dport: u16, payload: &[u8]) {
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
    src: Ipv4Addr,
}

impl UdpTemplate {
    pub fn new(src: Ipv4Addr) -> Self {
        UdpTemplate { src }
    }
}

impl Template for UdpTemplate {
    fn write(&self, out: &mut [u8], dst: u32, sport: u16, dport: u16, cookie: u32) -> usize {
        self.write_variant(out, dst, sport, dport, cookie, 0)
    }

    fn write_variant(
        &self,
        out: &mut [u8],
        dst: u32,
        sport: u16,
        dport: u16,
        cookie: u32,
        variant: u32,
    ) -> usize {
        with_payload(dport, variant, cookie, |payload| {
            let udp_len = udp::HEADER_LEN + payload.len();
            let total = ipv4::HEADER_LEN + udp_len;
            if total > out.len() {
                return 0;
            }
            let dst = Ipv4Addr::from(dst);
            let (ip, rest) = out[..total].split_at_mut(ipv4::HEADER_LEN);
            ipv4::Packet::new_unchecked(&mut ip[..]).emit(
                self.src,
                dst,
                udp_len,
                ident(cookie, variant),
                TTL,
                udp::PROTO_UDP,
            );
            write_datagram(rest, sport, dport, payload);
            let c = udp::checksum(self.src, dst, rest);
            rest[6..8].copy_from_slice(&c.to_be_bytes());
            total
        })
    }
}

#[cfg(test)]
mod tests;
