//! Any TCP segment over IPv4 or IPv6, built and read whole: the stateless
//! handshake follow-up of service identification. After a SYN-ACK, the
//! sender writes the ACK that completes the handshake, then a PSH+ACK
//! carrying the hello, and finally a RST; the receiver reads the data
//! segments the service sends back (sequence numbers, flags and payload).
//!
//! Unlike [`crate::probe`], which patches a prebuilt SYN for speed, this
//! writes every field and the checksums from scratch: follow-ups are one
//! or three per open port, not one per probe. Over IPv6 there is no header
//! checksum and no extension header; the TCP checksum covers the IPv6
//! pseudo-header (RFC 8200 8.1).

use super::checksum::{add32, finish, sum};
use super::ethernet::{self, ETHERTYPE_IPV4, Mac};
use super::ipv6::{self, ETHERTYPE_IPV6, NEXT_TCP};
use super::{Malformed, Result, ipv4, tcp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What to put in a segment. `src` and `dst` are of the same family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    /// e.g. `tcp::ACK`, `tcp::PSH | tcp::ACK`, `tcp::RST`.
    pub flags: u8,
    pub window: u16,
    /// IPv4 identification (unused over IPv6).
    pub ident: u16,
    /// TTL, or the IPv6 hop limit.
    pub ttl: u8,
    pub payload: &'a [u8],
}

/// Largest payload one segment may carry, in either family (the IPv4 total
/// length is 16 bits; the IPv6 payload length would allow 20 bytes more).
pub const MAX_PAYLOAD: usize = u16::MAX as usize - ipv4::HEADER_LEN - tcp::HEADER_LEN;

/// Bytes [`write()`] needs for `payload_len` bytes of payload, with or without
/// an Ethernet header, over IPv4 or IPv6.
pub fn frame_len(ethernet: bool, ipv6: bool, payload_len: usize) -> usize {
    let l2 = if ethernet { ethernet::HEADER_LEN } else { 0 };
    let l3 = if ipv6 {
        ipv6::HEADER_LEN
    } else {
        ipv4::HEADER_LEN
    };
    l2 + l3 + tcp::HEADER_LEN + payload_len
}

/// Write `seg` into `out`, after an Ethernet II header `(src, dst)` if
/// given (AF_PACKET), else as a bare IP packet (a raw IP socket, a layer-3
/// link). Checksums are filled in; no IP or TCP options, no IPv6 extension
/// header. Returns the length written; `Err` if `out` is too short, the
/// payload too long, or the addresses of two families.
pub fn write(out: &mut [u8], ethernet: Option<(Mac, Mac)>, seg: &Outgoing) -> Result<usize> {
    if seg.payload.len() > MAX_PAYLOAD {
        return Err(Malformed);
    }
    let v6 = match (seg.src, seg.dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => false,
        (IpAddr::V6(_), IpAddr::V6(_)) => true,
        _ => return Err(Malformed),
    };
    let len = frame_len(ethernet.is_some(), v6, seg.payload.len());
    let out = out.get_mut(..len).ok_or(Malformed)?;
    let ip = match ethernet {
        Some((src, dst)) => {
            let mut e = ethernet::Frame::new_unchecked(&mut out[..]);
            e.set_dst(dst);
            e.set_src(src);
            e.set_ethertype(if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 });
            ethernet::HEADER_LEN
        }
        None => 0,
    };
    let tcp_len = tcp::HEADER_LEN + seg.payload.len();
    let (t, pseudo) = match (seg.src, seg.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let t = ip + ipv4::HEADER_LEN;
            ipv4::Packet::new_unchecked(&mut out[ip..t]).emit(
                src,
                dst,
                tcp_len,
                seg.ident,
                seg.ttl,
                ipv4::PROTO_TCP,
            );
            // Pseudo-header (RFC 9293 3.1): source, destination, zero,
            // protocol, TCP length.
            let p = add32(add32(0, u32::from(src)), u32::from(dst)) + ipv4::PROTO_TCP as u32;
            (t, p + tcp_len as u32)
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let t = ip + ipv6::HEADER_LEN;
            ipv6::Packet::new_unchecked(&mut out[ip..t]).emit(src, dst, tcp_len, NEXT_TCP, seg.ttl);
            (t, ipv6::pseudo_sum(src, dst, NEXT_TCP, tcp_len as u32))
        }
        _ => unreachable!("families checked above"),
    };
    tcp::Segment::new_unchecked(&mut out[t..t + tcp::HEADER_LEN]).emit(
        seg.sport,
        seg.dport,
        seg.seq,
        seg.ack,
        seg.flags,
        seg.window,
        &[],
    );
    out[t + tcp::HEADER_LEN..].copy_from_slice(seg.payload);
    let acc = add32(sum(&out[t..]), pseudo);
    out[t + 16..t + 18].copy_from_slice(&finish(acc).to_be_bytes());
    Ok(len)
}

/// A captured TCP segment with its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incoming<'a> {
    /// The sender (the scanned host).
    pub src: IpAddr,
    /// Us.
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// TTL, or the IPv6 hop limit.
    pub ttl: u8,
    /// The TCP payload (after options; Ethernet padding excluded).
    pub payload: &'a [u8],
}

impl Incoming<'_> {
    /// The sequence number just past this segment: what our ACK of it
    /// carries (SYN and FIN count one each, RFC 9293 3.4).
    pub fn seq_end(&self) -> u32 {
        let mut n = self.payload.len() as u32;
        n += u32::from(self.flags & tcp::SYN != 0);
        n += u32::from(self.flags & tcp::FIN != 0);
        self.seq.wrapping_add(n)
    }
}

/// Read an Ethernet II frame carrying IPv4/TCP or IPv6/TCP (checks as
/// [`parse_ip`]).
pub fn parse_ethernet(frame: &[u8]) -> Result<Incoming<'_>> {
    let e = ethernet::Frame::new_checked(frame)?;
    let ip = &frame[ethernet::HEADER_LEN..];
    match e.ethertype() {
        ETHERTYPE_IPV4 => parse_ipv4(ip),
        ETHERTYPE_IPV6 => parse_ipv6(ip),
        _ => Err(Malformed),
    }
}

/// Read a bare IPv4 or IPv6 packet carrying TCP (by its version field).
pub fn parse_ip(pkt: &[u8]) -> Result<Incoming<'_>> {
    match pkt.first().map(|b| b >> 4) {
        Some(4) => parse_ipv4(pkt),
        Some(6) => parse_ipv6(pkt),
        _ => Err(Malformed),
    }
}

/// [`parse_ipv4_captured`] or [`parse_ipv6_captured`], by the version field.
pub fn parse_captured(pkt: &[u8]) -> Result<(Incoming<'_>, usize)> {
    match pkt.first().map(|b| b >> 4) {
        Some(4) => parse_ipv4_captured(pkt),
        Some(6) => parse_ipv6_captured(pkt),
        _ => Err(Malformed),
    }
}

/// Read a bare IPv4 packet carrying TCP (every TCP reply we capture): IP options
/// allowed; fragments, other protocols, bad IP header checksums and
/// truncated headers refused; the TCP checksum is not checked (offloading
/// NICs hand us partial sums, and the cookie decides what is ours).
pub fn parse_ipv4(pkt: &[u8]) -> Result<Incoming<'_>> {
    let ip = ipv4::Packet::new_checked(pkt)?;
    if ip.protocol() != ipv4::PROTO_TCP || ip.is_fragment() || !ip.verify_checksum() {
        return Err(Malformed);
    }
    let (hl, tl) = (ip.header_len(), ip.total_len() as usize);
    let (src, dst) = (IpAddr::V4(ip.src()), IpAddr::V4(ip.dst()));
    incoming(src, dst, ip.ttl(), &pkt[hl..tl])
}

/// The TCP segment `seg` from `src` to `dst`, with the TTL or hop limit
/// `ttl` of its IP header.
fn incoming(src: IpAddr, dst: IpAddr, ttl: u8, seg: &[u8]) -> Result<Incoming<'_>> {
    let t = tcp::Segment::new_checked(seg)?;
    Ok(Incoming {
        src,
        dst,
        sport: t.src_port(),
        dport: t.dst_port(),
        seq: t.seq(),
        ack: t.ack(),
        flags: t.flags(),
        window: t.window(),
        ttl,
        payload: &seg[t.header_len()..],
    })
}

/// Read a bare IPv6 packet carrying TCP directly (as the probe module: no
/// extension header). Truncated packets refused, bytes past the payload
/// length (padding) ignored; the TCP checksum is not checked (as over
/// IPv4).
pub fn parse_ipv6(pkt: &[u8]) -> Result<Incoming<'_>> {
    let ip = ipv6::Packet::new_checked(pkt)?;
    if ip.next_header() != NEXT_TCP {
        return Err(Malformed);
    }
    let seg = &pkt[ipv6::HEADER_LEN..ipv6::HEADER_LEN + ip.payload_len() as usize];
    let (src, dst) = (IpAddr::V6(ip.src()), IpAddr::V6(ip.dst()));
    incoming(src, dst, ip.hop_limit(), seg)
}

/// [`parse_ipv4`] for a capture that may have cut a large segment short (a
/// receive slot smaller than what GRO hands up): the headers must be whole,
/// the payload is what was captured, and the second value is the payload's
/// length on the wire (what the next sequence number follows).
pub fn parse_ipv4_captured(pkt: &[u8]) -> Result<(Incoming<'_>, usize)> {
    if let Ok(s) = parse_ipv4(pkt) {
        let n = s.payload.len();
        return Ok((s, n));
    }
    let h = pkt.get(..ipv4::HEADER_LEN).ok_or(Malformed)?;
    let hl = ((h[0] & 0x0f) as usize) * 4;
    let tl = u16::from_be_bytes([h[2], h[3]]) as usize;
    let fragment = u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0;
    if h[0] >> 4 != 4
        || hl < ipv4::HEADER_LEN
        || tl <= pkt.len()
        || h[9] != ipv4::PROTO_TCP
        || fragment
        || pkt.len() < hl
        || super::checksum::checksum(&pkt[..hl]) != 0
    {
        return Err(Malformed);
    }
    let src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]));
    let seg = &pkt[hl..];
    let s = incoming(src, dst, h[8], seg)?;
    // (The TCP header's length.)
    let th = seg.len() - s.payload.len();
    if tl < hl + th {
        return Err(Malformed);
    }
    Ok((s, tl - hl - th))
}

/// [`parse_ipv6`] for a capture that may have cut a large segment short,
/// with the same rules as [`parse_ipv4_captured`]: the IPv6 and TCP
/// headers whole, the payload what was captured, and its length on the
/// wire (from the IPv6 payload length) as the second value.
pub fn parse_ipv6_captured(pkt: &[u8]) -> Result<(Incoming<'_>, usize)> {
    if let Ok(s) = parse_ipv6(pkt) {
        let n = s.payload.len();
        return Ok((s, n));
    }
    let h = pkt.get(..ipv6::HEADER_LEN).ok_or(Malformed)?;
    let pl = u16::from_be_bytes([h[4], h[5]]) as usize;
    if h[0] >> 4 != 6 || h[6] != NEXT_TCP || ipv6::HEADER_LEN + pl <= pkt.len() {
        return Err(Malformed);
    }
    let addr = |r: std::ops::Range<usize>| {
        IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&h[r]).unwrap()))
    };
    let seg = &pkt[ipv6::HEADER_LEN..];
    let s = incoming(addr(8..24), addr(24..40), h[7], seg)?;
    // (The TCP header's length.)
    let th = seg.len() - s.payload.len();
    if pl < th {
        return Err(Malformed);
    }
    Ok((s, pl - th))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::checksum;

    fn hello_segment(payload: &[u8]) -> Outgoing<'_> {
        Outgoing {
            src: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(198, 19, 0, 4)),
            sport: 40000,
            dport: 80,
            seq: 0xdead_bef0,
            ack: 0x1122_3345,
            flags: tcp::PSH | tcp::ACK,
            window: 64240,
            ident: 0x1234,
            ttl: 64,
            payload,
        }
    }

    /// `seg` written in an Ethernet frame from 02:00:00:00:00:01 to
    /// 02:00:00:00:00:02.
    fn framed(seg: &Outgoing<'_>) -> Vec<u8> {
        let mut out = [0u8; 100];
        let macs = (Mac([2, 0, 0, 0, 0, 1]), Mac([2, 0, 0, 0, 0, 2]));
        let n = write(&mut out, Some(macs), seg).unwrap();
        out[..n].to_vec()
    }

    /// A 3000-byte segment (`seg_of` makes it) written bare, with
    /// `headers` bytes of headers, and captured in a 2048-byte slot: the
    /// headers and the captured part of the payload read, with its length
    /// on the wire. Returns the packet written.
    fn cut_short(seg_of: for<'a> fn(&'a [u8]) -> Outgoing<'a>, headers: usize) -> Vec<u8> {
        let payload = vec![b'x'; 3000];
        let mut out = vec![0u8; 3100];
        let n = write(&mut out, None, &seg_of(&payload)).unwrap();
        assert_eq!(n, headers + 3000);
        let (whole, len) = parse_captured(&out[..n]).unwrap();
        assert_eq!((whole.payload.len(), len), (3000, 3000));
        assert!(parse_ip(&out[..2048]).is_err());
        let (cut, len) = parse_captured(&out[..2048]).unwrap();
        assert_eq!((cut.payload.len(), len), (2048 - headers, 3000));
        assert_eq!((cut.sport, cut.dport, cut.seq), (40000, 80, 0xdead_bef0));
        out.truncate(n);
        out
    }

    #[test]
    fn a_segment_cut_short_by_the_capture_reads_with_its_wire_length() {
        let mut out = cut_short(hello_segment, 40);
        // Headers cut short, or a damaged IP header, are still refused.
        assert!(parse_ipv4_captured(&out[..30]).is_err());
        out[8] ^= 1;
        assert!(parse_ipv4_captured(&out[..2048]).is_err());
    }

    /// A PSH+ACK with 18 bytes of payload, byte for byte; both checksums
    /// computed independently (a short Python RFC 1071 sum).
    #[test]
    fn literal_psh_ack_bytes() {
        let out = framed(&hello_segment(b"GET / HTTP/1.1\r\n\r\n"));
        assert_eq!(out.len(), 14 + 20 + 20 + 18);
        #[rustfmt::skip]
        let want: [u8; 72] = [
            2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
            0x45, 0x00, 0x00, 0x3a, 0x12, 0x34, 0x00, 0x00, 0x40, 0x06, 0xdc, 0x5f,
            198, 18, 0, 1, 198, 19, 0, 4,
            0x9c, 0x40, 0x00, 0x50, 0xde, 0xad, 0xbe, 0xf0, 0x11, 0x22, 0x33, 0x45,
            0x50, 0x18, 0xfa, 0xf0, 0xcb, 0x67, 0x00, 0x00,
            b'G', b'E', b'T', b' ', b'/', b' ', b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'1',
            b'\r', b'\n', b'\r', b'\n',
        ];
        assert_eq!(&out[..], &want[..]);
    }

    #[test]
    fn ack_and_rst_without_ethernet() {
        let mut out = [0u8; 40];
        let mut seg = hello_segment(b"");
        seg.flags = tcp::ACK;
        assert_eq!(write(&mut out, None, &seg), Ok(40));
        assert_eq!(checksum(&out[..20]), 0);
        let r = parse_ipv4(&out).unwrap();
        assert_eq!(
            (r.seq, r.ack, r.flags, r.payload),
            (seg.seq, seg.ack, tcp::ACK, &b""[..])
        );
        seg.flags = tcp::RST;
        write(&mut out, None, &seg).unwrap();
        assert_eq!(out[33], tcp::RST);
        // Too small a buffer, too long a payload: errors, not panics.
        assert!(write(&mut out[..39], None, &seg).is_err());
        let big = vec![0u8; MAX_PAYLOAD + 1];
        assert!(write(&mut vec![0u8; 70_000], None, &hello_segment(&big)).is_err());
    }

    /// A data segment from a server (SSH banner) with TCP options and
    /// Ethernet padding: payload and numbers come out right.
    #[test]
    fn reads_payload_past_options_and_padding() {
        let banner = b"SSH-2.0-OpenSSH_9.2p1\r\n";
        #[rustfmt::skip]
        let mut f = vec![
            2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00,
            0x45, 0x00, 0x00, 0, 0x00, 0x00, 0x40, 0x00, 0x3f, 0x06, 0x00, 0x00, 198, 19, 0, 4, 198, 18, 0, 1,
            0x00, 0x16, 0x9c, 0x40, 0x11, 0x22, 0x33, 0x45, 0xde, 0xad, 0xbe, 0xf0, 0x80, 0x18, 0x01, 0xfb, 0, 0, 0, 0,
            0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2,
        ];
        f.extend_from_slice(banner);
        let total = (f.len() - 14) as u16;
        f[16..18].copy_from_slice(&total.to_be_bytes());
        let c = checksum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&[0; 6]); // padding
        let r = parse_ethernet(&f).unwrap();
        assert_eq!(r.payload, banner);
        assert_eq!(
            (r.sport, r.dport, r.seq, r.ack),
            (22, 40000, 0x1122_3345, 0xdead_bef0)
        );
        assert_eq!(r.flags, tcp::PSH | tcp::ACK);
        assert_eq!(r.window, 0x01fb);
        assert_eq!(r.seq_end(), 0x1122_3345 + banner.len() as u32);
        for n in 0..f.len() - 6 {
            assert!(parse_ethernet(&f[..n]).is_err(), "truncated to {n}");
        }
    }

    #[test]
    fn seq_end_counts_syn_and_fin() {
        let mut out = [0u8; 60];
        let mut seg = hello_segment(b"");
        seg.flags = tcp::SYN | tcp::ACK;
        seg.seq = u32::MAX;
        write(&mut out, None, &seg).unwrap();
        assert_eq!(parse_ipv4(&out[..40]).unwrap().seq_end(), 0);
        seg.flags = tcp::FIN | tcp::ACK;
        seg.payload = b"bye";
        seg.seq = 10;
        let n = write(&mut out, None, &seg).unwrap();
        assert_eq!(parse_ipv4(&out[..n]).unwrap().seq_end(), 14);
    }

    fn hello_segment6(payload: &[u8]) -> Outgoing<'_> {
        Outgoing {
            src: "2001:2:0:ff::1".parse().unwrap(),
            dst: "2001:2::4".parse().unwrap(),
            ident: 0,
            ..hello_segment(payload)
        }
    }

    /// An IPv6 PSH+ACK with 18 bytes of payload, byte for byte; the TCP
    /// checksum (over the IPv6 pseudo-header) computed independently (a
    /// short Python RFC 1071 sum).
    #[test]
    fn literal_ipv6_psh_ack_bytes() {
        let seg = hello_segment6(b"GET / HTTP/1.1\r\n\r\n");
        let out = framed(&seg);
        assert_eq!(out.len(), 14 + 40 + 20 + 18);
        #[rustfmt::skip]
        let want: [u8; 92] = [
            2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd,
            0x60, 0x00, 0x00, 0x00, 0x00, 0x26, 0x06, 0x40,
            0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x01,
            0x20, 0x01, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04,
            0x9c, 0x40, 0x00, 0x50, 0xde, 0xad, 0xbe, 0xf0, 0x11, 0x22, 0x33, 0x45,
            0x50, 0x18, 0xfa, 0xf0, 0x16, 0x89, 0x00, 0x00,
            b'G', b'E', b'T', b' ', b'/', b' ', b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'1',
            b'\r', b'\n', b'\r', b'\n',
        ];
        assert_eq!(&out[..], &want[..]);
        // Without a link header: the bare IPv6 packet.
        let mut bare = [0u8; 100];
        let m = write(&mut bare, None, &seg).unwrap();
        assert_eq!(&bare[..m], &want[14..]);
    }

    /// A SYN-ACK the Linux kernel of a lab namespace sent over IPv6,
    /// captured with tcpdump (MSS option, a flow label, Ethernet header),
    /// reads right. Its checksum field holds only the pseudo-header's sum
    /// (veth offload: the capture precedes the checksum), which is why the
    /// reader never checks TCP checksums; the SYN the kernel accepted
    /// carries a whole one, and our pseudo-header sum gives it.
    #[test]
    fn reads_a_kernel_ipv6_syn_ack_and_checks_against_an_accepted_syn() {
        let hex = crate::wire::ipv6::tests::hex;
        let f = hex(include_str!("testdata/ipv6_syn_ack.hex"));
        let r = parse_ethernet(&f).unwrap();
        let (us, them): (Ipv6Addr, Ipv6Addr) = (
            "2001:2:0:ff::1".parse().unwrap(),
            "2001:2::4".parse().unwrap(),
        );
        assert_eq!((r.src, r.dst), (IpAddr::V6(them), IpAddr::V6(us)));
        assert_eq!(
            (r.sport, r.dport, r.seq, r.ack, r.flags, r.window, r.ttl),
            (
                22,
                40000,
                0xc71f_e7ba,
                0x1234_5679,
                tcp::SYN | tcp::ACK,
                0xfd20,
                64
            )
        );
        assert_eq!((r.payload, r.seq_end()), (&b""[..], 0xc71f_e7bb));
        let partial = finish(ipv6::pseudo_sum(them, us, NEXT_TCP, 24));
        assert_eq!(!partial, u16::from_be_bytes([f[70], f[71]]));
        for n in 0..f.len() {
            assert!(parse_ethernet(&f[..n]).is_err(), "truncated to {n}");
        }

        let syn = hex(include_str!("testdata/ipv6_syn.hex"));
        let s = parse_ethernet(&syn).unwrap();
        assert_eq!(
            (s.src, s.dst, s.flags),
            (IpAddr::V6(us), IpAddr::V6(them), tcp::SYN)
        );
        let mut t = syn[14 + 40..].to_vec();
        let theirs = u16::from_be_bytes([t[16], t[17]]);
        t[16..18].fill(0);
        let ours = finish(add32(
            sum(&t),
            ipv6::pseudo_sum(us, them, NEXT_TCP, t.len() as u32),
        ));
        assert_eq!((theirs, ours), (0x5729, 0x5729));
    }

    /// The IPv6 capture rules are the IPv4 ones: a segment cut short by the
    /// capture slot reads with its wire length; cut headers, another next
    /// header, or a family mix on write are refused.
    #[test]
    fn an_ipv6_segment_cut_short_by_the_capture_reads_with_its_wire_length() {
        let mut out = cut_short(hello_segment6, 60);
        let n = out.len();
        assert!(parse_ipv6(&out[..2048]).is_err());
        let cut = parse_captured(&out[..2048]).unwrap().0;
        assert_eq!(cut.src, "2001:2:0:ff::1".parse::<IpAddr>().unwrap());
        // Padding past the payload length is not payload.
        let mut padded = out.clone();
        padded.extend_from_slice(&[0; 6]);
        let (padded, len) = parse_captured(&padded).unwrap();
        assert_eq!((padded.payload.len(), len), (3000, 3000));
        assert!(parse_captured(&out[..50]).is_err(), "TCP header cut");
        out[6] = 17; // UDP
        assert!(parse_captured(&out[..2048]).is_err());
        assert!(parse_captured(&out[..n]).is_err());
        let mut mixed = hello_segment6(b"");
        mixed.dst = IpAddr::V4(Ipv4Addr::new(198, 19, 0, 4));
        assert!(write(&mut out, None, &mixed).is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..200)) {
                let _ = parse_ethernet(&b);
                let _ = parse_ipv4(&b);
                let _ = parse_ipv6(&b);
                let _ = parse_ip(&b);
                let _ = parse_captured(&b);
                // (And the fixed-size reply read through these.)
                let _ = crate::wire::reply::parse_ethernet(&b);
                let _ = crate::wire::reply::parse_ipv4(&b);
            }

            /// What `write` writes over either family, the parsers read
            /// back, and the checksums verify (IPv4: the header's and
            /// TCP's; IPv6: TCP's over the IPv6 pseudo-header).
            #[test]
            fn write_then_parse_round_trips(
                src in any::<u128>(), dst in any::<u128>(), v6 in any::<bool>(),
                sport in any::<u16>(), dport in any::<u16>(),
                seq in any::<u32>(), ack in any::<u32>(), flags in any::<u8>(), window in any::<u16>(),
                ident in any::<u16>(), ttl in any::<u8>(),
                payload in prop::collection::vec(any::<u8>(), 0..300),
                eth in any::<bool>(),
            ) {
                let (src, dst, ident) = if v6 {
                    (IpAddr::V6(src.into()), IpAddr::V6(dst.into()), 0)
                } else {
                    (IpAddr::V4((src as u32).into()), IpAddr::V4((dst as u32).into()), ident)
                };
                let seg = Outgoing {
                    src, dst, sport, dport, seq, ack, flags, window, ident, ttl,
                    payload: &payload,
                };
                let mut out = vec![0u8; 400];
                let macs = eth.then_some((Mac([2, 0, 0, 0, 0, 1]), Mac([2, 0, 0, 0, 0, 2])));
                let n = write(&mut out, macs, &seg).unwrap();
                prop_assert_eq!(n, frame_len(eth, v6, payload.len()));
                let r = if eth { parse_ethernet(&out[..n]) } else { parse_ip(&out[..n]) }.unwrap();
                prop_assert_eq!(
                    (r.src, r.dst, r.sport, r.dport, r.seq, r.ack, r.flags, r.window, r.ttl, r.payload),
                    (src, dst, sport, dport, seq, ack, flags, window, ttl, &payload[..])
                );
                let ip = if eth { &out[14..n] } else { &out[..n] };
                match (src, dst) {
                    (IpAddr::V4(s), IpAddr::V4(d)) => {
                        prop_assert_eq!(checksum(&ip[..20]), 0);
                        let acc = add32(add32(sum(&ip[20..]), u32::from(s)), u32::from(d))
                            + 6
                            + (ip.len() - 20) as u32;
                        prop_assert_eq!(finish(acc), 0);
                    }
                    _ => prop_assert!(ipv6::Packet::new_checked(ip).unwrap().verify_upper_checksum()),
                }
                let (c, len) = parse_captured(ip).unwrap();
                prop_assert_eq!((c, len), (r, payload.len()));
            }
        }
    }
}
