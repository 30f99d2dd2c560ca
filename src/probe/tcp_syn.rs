//! The TCP SYN probe module: a prebuilt IPv4/TCP SYN whose per-probe fields
//! (destination address, ports, sequence number, IP id) are patched in place,
//! with both checksums finished from precomputed partial sums (RFC 1624
//! style): a probe costs a 44-byte copy and a few additions. The sequence
//! number is the cookie; a SYN-ACK (open) or RST-ACK (closed) is ours only if
//! it acknowledges the cookie plus one.

use super::{Classified, Identity, Probe, Proto, Reject, Template};
use crate::finding::PortState;
use crate::wire::bpf::{
    self, Asm, Insn, JEQ_K, JGE_K, JGT_K, JSET_K, LD_B_ABS, LD_H_ABS, LD_H_IND, LD_W_ABS, LDX_B_MSH,
};
use crate::wire::checksum::{add32, finish, sum};
use crate::wire::reply;
use crate::wire::{ipv4, tcp};
use std::net::{IpAddr, Ipv4Addr};

/// TCP options of the probe: MSS 1460, as a real stack would send.
pub const TCP_OPTIONS: [u8; 4] = [2, 4, 0x05, 0xb4];
const TCP_LEN: usize = tcp::HEADER_LEN + TCP_OPTIONS.len();
/// Length of every probe (IPv4 header + TCP header with options).
pub const PROBE_LEN: usize = ipv4::HEADER_LEN + TCP_LEN;
pub const TTL: u8 = 64;
pub const WINDOW: u16 = 64240;

/// The module.
#[derive(Debug, Clone, Copy)]
pub struct TcpSyn;

impl Probe for TcpSyn {
    fn name(&self) -> &'static str {
        "tcp-syn"
    }
    fn proto(&self) -> Proto {
        Proto::Tcp
    }
    fn max_len(&self) -> usize {
        PROBE_LEN
    }
    fn template(&self, src: Ipv4Addr) -> Box<dyn Template> {
        Box::new(ProbeTemplate::new(src))
    }
    fn filter(&self, l3: u32, dst: (u32, u32), dport: (u16, u16)) -> Vec<Insn> {
        filter(l3, dst, dport)
    }
    fn classify(&self, packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
        classify(packet, us)
    }
    fn template6(&self, src: std::net::Ipv6Addr) -> Option<Box<dyn super::Template6>> {
        Some(Box::new(super::tcp_syn6::ProbeTemplate6::new(src)))
    }
    fn filter6(&self, l3: u32, dst: &[u128], dport: (u16, u16)) -> Option<Vec<Insn>> {
        Some(super::tcp_syn6::filter6(l3, dst, dport))
    }
}

/// The capture filter: IPv4 at byte `l3` (behind an ethertype 0x0800 when
/// `l3` is 14), to an address in `dst`, TCP, not a fragment, destination
/// port in `dport`.
pub fn filter(l3: u32, dst: (u32, u32), dport: (u16, u16)) -> Vec<Insn> {
    use bpf::To::{Drop, Next};
    let mut a = Asm::new();
    if l3 >= 2 {
        a.op(LD_H_ABS, l3 - 2).jump(JEQ_K, 0x0800, Next, Drop); // ethertype IPv4
    }
    a.op(LD_B_ABS, l3) // version + header length: 0x45..=0x4f
        .jump(JGE_K, 0x45, Next, Drop)
        .jump(JGT_K, 0x4f, Drop, Next)
        .op(LD_W_ABS, l3 + 16) // destination: one of ours
        .jump(JGE_K, dst.0, Next, Drop)
        .jump(JGT_K, dst.1, Drop, Next)
        .op(LD_B_ABS, l3 + 9) // protocol TCP
        .jump(JEQ_K, 6, Next, Drop)
        .op(LD_H_ABS, l3 + 6) // not a fragment
        .jump(JSET_K, 0x3fff, Drop, Next)
        .op(LDX_B_MSH, l3) // x = IP header length
        .op(LD_H_IND, l3 + 2) // TCP destination port in range
        .jump(JGE_K, dport.0 as u32, Next, Drop)
        .jump(JGT_K, dport.1 as u32, Drop, Next);
    a.finish()
}

/// Validate a captured IPv4 packet as the answer to one of our SYNs.
pub fn classify(packet: &[u8], us: &Identity) -> Result<Classified, Reject> {
    if packet.first().is_some_and(|b| b >> 4 == 6) {
        return super::tcp_syn6::classify(packet, us);
    }
    let r = reply::parse_ipv4(packet).map_err(|_| Reject::Malformed)?;
    if !us.is_source(r.dst) || !us.is_sport(r.dport) {
        return Err(Reject::NotForUs);
    }
    let (state, reason) = match r.flags & (tcp::SYN | tcp::ACK | tcp::RST) {
        f if f == tcp::SYN | tcp::ACK => (PortState::Open, "syn-ack"),
        f if f == tcp::RST | tcp::ACK => (PortState::Closed, "rst"),
        _ => return Err(Reject::Flags),
    };
    if !us.key.validates(r.dst, r.src, r.dport, r.sport, r.ack) {
        return Err(Reject::BadCookie);
    }
    Ok(Classified {
        target: IpAddr::V4(r.src.into()),
        proto: Proto::Tcp,
        port: r.sport,
        state,
        reason,
        ttl: r.ttl,
        protocol: None,
        amplification: None,
    })
}

/// A SYN template for one source address.
#[derive(Debug, Clone)]
pub struct ProbeTemplate {
    packet: [u8; PROBE_LEN],
    ip_sum: u32,
    tcp_sum: u32,
}

const T: usize = ipv4::HEADER_LEN;

impl ProbeTemplate {
    pub fn new(src: Ipv4Addr) -> Self {
        let mut packet = [0u8; PROBE_LEN];
        // Variable fields zero: destination, ident, ports, sequence.
        ipv4::Packet::new_unchecked(&mut packet[..T]).emit(
            src,
            Ipv4Addr::UNSPECIFIED,
            TCP_LEN,
            0,
            TTL,
            ipv4::PROTO_TCP,
        );
        packet[10..12].copy_from_slice(&[0, 0]);
        tcp::Segment::new_unchecked(&mut packet[T..]).emit(
            0,
            0,
            0,
            0,
            tcp::SYN,
            WINDOW,
            &TCP_OPTIONS,
        );
        let ip_sum = sum(&packet[..T]);
        // Pseudo-header: src, (dst added per probe), zero+protocol, TCP length.
        let tcp_sum =
            add32(sum(&packet[T..]), u32::from(src)) + ipv4::PROTO_TCP as u32 + TCP_LEN as u32;
        ProbeTemplate {
            packet,
            ip_sum,
            tcp_sum,
        }
    }

    /// Write the probe for (dst, sport, dport) with sequence number `seq`
    /// and IP id `ident` into `out` (at least [`PROBE_LEN`] bytes).
    #[inline]
    pub fn write_with_ident(
        &self,
        out: &mut [u8],
        dst: u32,
        sport: u16,
        dport: u16,
        seq: u32,
        ident: u16,
    ) -> usize {
        let out = &mut out[..PROBE_LEN];
        out.copy_from_slice(&self.packet);
        out[4..6].copy_from_slice(&ident.to_be_bytes());
        out[16..20].copy_from_slice(&dst.to_be_bytes());
        let c = finish(add32(self.ip_sum, dst) + ident as u32);
        out[10..12].copy_from_slice(&c.to_be_bytes());
        out[T..T + 2].copy_from_slice(&sport.to_be_bytes());
        out[T + 2..T + 4].copy_from_slice(&dport.to_be_bytes());
        out[T + 4..T + 8].copy_from_slice(&seq.to_be_bytes());
        let c = finish(add32(add32(self.tcp_sum, dst), seq) + sport as u32 + dport as u32);
        out[T + 16..T + 18].copy_from_slice(&c.to_be_bytes());
        PROBE_LEN
    }
}

impl Template for ProbeTemplate {
    #[inline]
    fn write(&self, out: &mut [u8], dst: u32, sport: u16, dport: u16, cookie: u32) -> usize {
        self.write_with_ident(
            out,
            dst,
            sport,
            dport,
            cookie,
            (cookie >> 16) as u16 ^ dport,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::checksum;

    fn tcp_checksum_ok(ip: &[u8]) -> bool {
        let p = ipv4::Packet::new_checked(ip).unwrap();
        let seg = p.payload();
        let mut acc = sum(seg);
        acc = add32(acc, u32::from(p.src()));
        acc = add32(acc, u32::from(p.dst()));
        acc += ipv4::PROTO_TCP as u32 + seg.len() as u32;
        finish(acc) == 0
    }

    #[test]
    fn literal_probe_bytes() {
        let t = ProbeTemplate::new("198.18.0.1".parse().unwrap());
        let mut out = [0u8; PROBE_LEN];
        let n = t.write_with_ident(
            &mut out,
            u32::from(Ipv4Addr::new(198, 19, 0, 4)),
            40000,
            22,
            0xdeadbeef,
            0x1234,
        );
        assert_eq!(n, 44);
        #[rustfmt::skip]
        let want: [u8; 44] = [
            0x45, 0x00, 0x00, 0x2c, 0x12, 0x34, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00, 198, 18, 0, 1, 198, 19, 0, 4,
            0x9c, 0x40, 0x00, 0x16, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0x60, 0x02, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00,
            0x02, 0x04, 0x05, 0xb4,
        ];
        // Compare all but the two checksum fields, then check those by recomputation.
        let mut got = out;
        got[10..12].copy_from_slice(&[0, 0]);
        got[36..38].copy_from_slice(&[0, 0]);
        assert_eq!(got, want);
        assert_eq!(checksum(&out[..20]), 0, "IP header checksum");
        assert!(tcp_checksum_ok(&out), "TCP checksum");
        // Values computed independently with a short Python RFC 1071 sum.
        assert_eq!(u16::from_be_bytes([out[10], out[11]]), 0xdc6d);
        assert_eq!(u16::from_be_bytes([out[36], out[37]]), 0xd716);
    }

    #[test]
    fn incremental_checksums_match_full_ones() {
        let t = ProbeTemplate::new("127.0.0.1".parse().unwrap());
        let mut out = [0u8; PROBE_LEN];
        let mut x = 0x1234_5678u32;
        for _ in 0..2000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let n = t.write_with_ident(
                &mut out,
                x,
                (x >> 7) as u16,
                (x >> 3) as u16 | 1,
                x.rotate_left(13),
                (x >> 16) as u16,
            );
            assert_eq!(n, 44);
            assert_eq!(checksum(&out[..20]), 0);
            assert!(tcp_checksum_ok(&out[..n]));
        }
    }

    fn frame(l3: usize, dst: [u8; 4], proto: u8, frag: u16, ihl: u8, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; l3 + ihl as usize * 4 + 20];
        if l3 == 14 {
            f[12..14].copy_from_slice(&[0x08, 0x00]);
        }
        f[l3] = 0x40 | ihl;
        f[l3 + 6..l3 + 8].copy_from_slice(&frag.to_be_bytes());
        f[l3 + 9] = proto;
        f[l3 + 16..l3 + 20].copy_from_slice(&dst);
        let t = l3 + ihl as usize * 4;
        f[t + 2..t + 4].copy_from_slice(&dport.to_be_bytes());
        f
    }

    #[test]
    fn filter_keeps_only_our_tcp() {
        let us = [198, 18, 0, 1];
        let ip = u32::from_be_bytes(us);
        for l3 in [14usize, 0] {
            let p = filter(l3 as u32, (ip, ip + 2), (61000, 61015));
            let run = |f: &[u8]| bpf::run(&p, f);
            assert!(run(&frame(l3, us, 6, 0, 5, 61000)) > 0);
            assert!(
                run(&frame(l3, [198, 18, 0, 3], 6, 0, 5, 61000)) > 0,
                "another source of ours"
            );
            assert!(run(&frame(l3, us, 6, 0x4000, 5, 61015)) > 0, "DF is fine");
            assert!(
                run(&frame(l3, us, 6, 0, 6, 61007)) > 0,
                "IP options shift the TCP header"
            );
            assert_eq!(run(&frame(l3, us, 6, 0, 5, 60999)), 0);
            assert_eq!(run(&frame(l3, us, 6, 0, 5, 61016)), 0);
            assert_eq!(run(&frame(l3, us, 17, 0, 5, 61000)), 0, "UDP");
            assert_eq!(
                run(&frame(l3, [198, 18, 0, 0], 6, 0, 5, 61000)),
                0,
                "below our addresses"
            );
            assert_eq!(
                run(&frame(l3, [198, 18, 0, 4], 6, 0, 5, 61000)),
                0,
                "above our addresses"
            );
            assert_eq!(
                run(&frame(l3, us, 6, 0x2000, 5, 61000)),
                0,
                "more fragments"
            );
            assert_eq!(
                run(&frame(l3, us, 6, 0x0010, 5, 61000)),
                0,
                "fragment offset"
            );
            let mut v6 = frame(l3, us, 6, 0, 5, 61000);
            v6[l3] = 0x65;
            assert_eq!(run(&v6), 0, "not IPv4");
            let short = frame(l3, us, 6, 0, 5, 61000);
            assert_eq!(run(&short[..l3 + 20]), 0, "short frame");
        }
        let p = filter(14, (ip, ip), (61000, 61015));
        let mut arp = frame(14, us, 6, 0, 5, 61000);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(bpf::run(&p, &arp), 0);
    }

    const US: u32 = 0xc612_0001; // 198.18.0.1
    const HOST: u32 = 0xc613_0004; // 198.19.0.4

    fn identity() -> Identity {
        Identity {
            key: crate::engine::cookie::CookieKey { k0: 11, k1: 22 },
            sources: vec![US],
            sources6: vec![],
            sport_base: 61000,
            sport_count: 4,
        }
    }

    /// An IPv4/TCP reply from `src:sport` to `dst:dport`.
    fn reply_packet(src: u32, dst: u32, sport: u16, dport: u16, ack: u32, flags: u8) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&40u16.to_be_bytes());
        p[8] = 63;
        p[9] = 6;
        p[12..16].copy_from_slice(&src.to_be_bytes());
        p[16..20].copy_from_slice(&dst.to_be_bytes());
        let c = checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p[20..22].copy_from_slice(&sport.to_be_bytes());
        p[22..24].copy_from_slice(&dport.to_be_bytes());
        p[24..28].copy_from_slice(&777u32.to_be_bytes());
        p[28..32].copy_from_slice(&ack.to_be_bytes());
        p[32] = 0x50;
        p[33] = flags;
        p
    }

    #[test]
    fn classify_validates_the_cookie_and_flags() {
        let us = identity();
        let ack = us.key.cookie(US, HOST, 61001, 22).wrapping_add(1);
        let c = classify(
            &reply_packet(HOST, US, 22, 61001, ack, tcp::SYN | tcp::ACK),
            &us,
        )
        .unwrap();
        assert_eq!(
            c,
            Classified {
                target: IpAddr::V4(HOST.into()),
                proto: Proto::Tcp,
                port: 22,
                state: PortState::Open,
                reason: "syn-ack",
                ttl: 63,
                protocol: None,
                amplification: None,
            }
        );
        let c = classify(
            &reply_packet(HOST, US, 22, 61001, ack, tcp::RST | tcp::ACK),
            &us,
        )
        .unwrap();
        assert_eq!((c.state, c.reason), (PortState::Closed, "rst"));
        let bad = |p: Vec<u8>| classify(&p, &us).unwrap_err();
        assert_eq!(
            bad(reply_packet(
                HOST,
                US,
                22,
                61001,
                ack ^ 1,
                tcp::SYN | tcp::ACK
            )),
            Reject::BadCookie
        );
        assert_eq!(
            bad(reply_packet(HOST, US, 22, 61002, ack, tcp::SYN | tcp::ACK)),
            Reject::BadCookie,
            "other source port"
        );
        assert_eq!(
            bad(reply_packet(HOST, US, 22, 61004, ack, tcp::SYN | tcp::ACK)),
            Reject::NotForUs,
            "outside our ports"
        );
        assert_eq!(
            bad(reply_packet(
                HOST,
                US + 1,
                22,
                61001,
                ack,
                tcp::SYN | tcp::ACK
            )),
            Reject::NotForUs
        );
        assert_eq!(
            bad(reply_packet(HOST, US, 22, 61001, ack, tcp::SYN)),
            Reject::Flags
        );
        assert_eq!(
            bad(reply_packet(HOST, US, 22, 61001, ack, tcp::ACK)),
            Reject::Flags
        );
        assert_eq!(bad(vec![0x45; 10]), Reject::Malformed);
    }
}
