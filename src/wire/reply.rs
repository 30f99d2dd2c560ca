//! An IPv4 TCP reply in the few fixed-size fields the correlator needs,
//! read by [`super::segment`] (where every check is: lengths, version,
//! header checksum, fragments, protocol, TCP data offset). Anything odd is
//! dropped, never a panic.

use super::{Malformed, Result, ethernet, segment};
use std::net::IpAddr;

/// The fields of a TCP reply the correlator looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The replying host (the probe's destination).
    pub src: u32,
    /// Our address (the probe's source).
    pub dst: u32,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub ttl: u8,
}

/// Parse an Ethernet II frame carrying IPv4/TCP.
pub fn parse_ethernet(frame: &[u8]) -> Result<Reply> {
    let e = ethernet::Frame::new_checked(frame)?;
    if e.ethertype() != ethernet::ETHERTYPE_IPV4 {
        return Err(Malformed);
    }
    parse_ipv4(e.payload())
}

/// Parse a bare IPv4 packet carrying TCP. IP options are allowed; fragments,
/// bad header checksums and truncated headers are not. The TCP checksum is
/// not checked: captured frames on virtual and offloading NICs carry partial
/// checksums, and the cookie already rejects what is not ours.
pub fn parse_ipv4(pkt: &[u8]) -> Result<Reply> {
    let s = segment::parse_ipv4(pkt)?;
    let v4 = |a: IpAddr| match a {
        IpAddr::V4(a) => Ok(u32::from(a)),
        IpAddr::V6(_) => Err(Malformed),
    };
    Ok(Reply {
        src: v4(s.src)?,
        dst: v4(s.dst)?,
        sport: s.sport,
        dport: s.dport,
        seq: s.seq,
        ack: s.ack,
        flags: s.flags,
        ttl: s.ttl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::checksum;
    use crate::wire::{ipv4, tcp};

    /// A SYN-ACK from 198.19.0.4:22 to 198.18.0.1:40000 with IP options
    /// (a 4-byte NOP/EOL pad) and TCP options, in an Ethernet frame.
    fn syn_ack_with_ip_options() -> Vec<u8> {
        #[rustfmt::skip]
        let mut f = vec![
            2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00,
            0x46, 0x00, 0x00, 0x30, 0x00, 0x00, 0x40, 0x00, 0x3f, 0x06, 0x00, 0x00, 198, 19, 0, 4, 198, 18, 0, 1,
            0x01, 0x01, 0x01, 0x00,
            0x00, 0x16, 0x9c, 0x40, 0x11, 0x22, 0x33, 0x44, 0xde, 0xad, 0xbe, 0xf0, 0x60, 0x12, 0xfa, 0xf0, 0, 0, 0, 0,
            0x02, 0x04, 0x05, 0xb4,
        ];
        let c = checksum(&f[14..38]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        f
    }

    #[test]
    fn parses_reply_with_ip_options() {
        let r = parse_ethernet(&syn_ack_with_ip_options()).unwrap();
        assert_eq!(r.src, u32::from_be_bytes([198, 19, 0, 4]));
        assert_eq!(r.dst, u32::from_be_bytes([198, 18, 0, 1]));
        assert_eq!((r.sport, r.dport), (22, 40000));
        assert_eq!(r.ack, 0xdeadbef0);
        assert_eq!(r.flags, tcp::SYN | tcp::ACK);
        assert_eq!(r.ttl, 63);
    }

    #[test]
    fn ethernet_padding_is_ignored() {
        let mut f = syn_ack_with_ip_options();
        f.extend_from_slice(&[0u8; 6]);
        assert!(parse_ethernet(&f).is_ok());
    }

    #[test]
    fn rejects_broken_replies() {
        let good = syn_ack_with_ip_options();
        // Every truncation fails cleanly.
        for n in 0..good.len() {
            assert!(parse_ethernet(&good[..n]).is_err(), "truncated to {n}");
        }
        let mut bad = good.clone();
        bad[25] ^= 1; // header checksum
        assert!(parse_ethernet(&bad).is_err());
        let mut frag = good.clone();
        frag[20] = 0x20; // MF
        let c = checksum(&{
            let mut h = frag[14..38].to_vec();
            h[10] = 0;
            h[11] = 0;
            h
        });
        frag[24..26].copy_from_slice(&c.to_be_bytes());
        assert!(parse_ethernet(&frag).is_err());
        let mut udp = good.clone();
        udp[23] = 17;
        assert!(parse_ethernet(&udp).is_err());
        let mut arp = good;
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(parse_ethernet(&arp).is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// The fields of a reply frame, with the parts the parser must skip
        /// over (IP options, TCP options, payload, Ethernet padding).
        #[derive(Debug, Clone)]
        struct Fields {
            src: u32,
            dst: u32,
            sport: u16,
            dport: u16,
            seq: u32,
            ack: u32,
            flags: u8,
            ttl: u8,
            ident: u16,
            df: bool,
            ip_options: Vec<u8>,
            tcp_options: Vec<u8>,
            payload: Vec<u8>,
            padding: Vec<u8>,
        }

        fn fields() -> impl Strategy<Value = Fields> {
            (
                (
                    any::<u32>(),
                    any::<u32>(),
                    any::<u16>(),
                    any::<u16>(),
                    any::<u32>(),
                    any::<u32>(),
                    any::<u8>(),
                    any::<u8>(),
                ),
                (
                    any::<u16>(),
                    any::<bool>(),
                    (0usize..=10).prop_flat_map(|w| prop::collection::vec(any::<u8>(), w * 4)),
                    (0usize..=10).prop_flat_map(|w| prop::collection::vec(any::<u8>(), w * 4)),
                    prop::collection::vec(any::<u8>(), 0..64),
                    prop::collection::vec(any::<u8>(), 0..16),
                ),
            )
                .prop_map(
                    |(
                        (src, dst, sport, dport, seq, ack, flags, ttl),
                        (ident, df, ip_options, tcp_options, payload, padding),
                    )| Fields {
                        src,
                        dst,
                        sport,
                        dport,
                        seq,
                        ack,
                        flags,
                        ttl,
                        ident,
                        df,
                        ip_options,
                        tcp_options,
                        payload,
                        padding,
                    },
                )
        }

        /// Build the IPv4 packet (no Ethernet header) for `f`.
        fn ipv4_packet(f: &Fields) -> Vec<u8> {
            let ihl = 20 + f.ip_options.len();
            let tcp_len = 20 + f.tcp_options.len() + f.payload.len();
            let total = ihl + tcp_len;
            let mut p = vec![0u8; total];
            p[0] = 0x40 | (ihl / 4) as u8;
            p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            p[4..6].copy_from_slice(&f.ident.to_be_bytes());
            p[6] = if f.df { 0x40 } else { 0 };
            p[8] = f.ttl;
            p[9] = ipv4::PROTO_TCP;
            p[12..16].copy_from_slice(&f.src.to_be_bytes());
            p[16..20].copy_from_slice(&f.dst.to_be_bytes());
            p[20..ihl].copy_from_slice(&f.ip_options);
            let c = checksum(&p[..ihl]);
            p[10..12].copy_from_slice(&c.to_be_bytes());
            tcp::Segment::new_unchecked(&mut p[ihl..]).emit(
                f.sport,
                f.dport,
                f.seq,
                f.ack,
                f.flags,
                0xffff,
                &f.tcp_options,
            );
            let o = ihl + 20 + f.tcp_options.len();
            p[o..].copy_from_slice(&f.payload);
            p
        }

        fn frame(f: &Fields) -> Vec<u8> {
            let mut e = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
            e.extend(ipv4_packet(f));
            e.extend(&f.padding);
            e
        }

        fn want(f: &Fields) -> Reply {
            Reply {
                src: f.src,
                dst: f.dst,
                sport: f.sport,
                dport: f.dport,
                seq: f.seq,
                ack: f.ack,
                flags: f.flags,
                ttl: f.ttl,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Bytes that look like IPv4 (version 4, a plausible IHL and
            /// total length) reach deeper into the parser than random ones.
            #[test]
            fn ipv4_shaped_bytes_never_panic(
                mut b in prop::collection::vec(any::<u8>(), 20..120),
                ihl in 0u8..16,
                total in 0u16..140,
                off in 0u8..16,
            ) {
                b[0] = 0x40 | ihl;
                b[2..4].copy_from_slice(&total.to_be_bytes());
                b[9] = ipv4::PROTO_TCP;
                b[6] &= 0x40;
                b[7] = 0;
                let hl = (ihl as usize * 4).min(b.len());
                b[10] = 0;
                b[11] = 0;
                let c = checksum(&b[..hl.max(20)]);
                b[10..12].copy_from_slice(&c.to_be_bytes());
                if let Some(x) = b.get_mut(hl + 12) {
                    *x = off << 4;
                }
                let _ = parse_ipv4(&b);
                let mut e = vec![0u8; 12];
                e.extend([0x08, 0x00]);
                e.extend(&b);
                let _ = parse_ethernet(&e);
            }

            #[test]
            fn valid_frames_round_trip(f in fields()) {
                prop_assert_eq!(parse_ethernet(&frame(&f)), Ok(want(&f)));
                prop_assert_eq!(parse_ipv4(&ipv4_packet(&f)), Ok(want(&f)));
            }

            /// Any single-byte change or truncation of a valid frame parses
            /// to an error or to a reply, never a panic; a change to the IP
            /// header is always caught.
            #[test]
            fn mutated_frames_never_panic(
                f in fields(),
                at in any::<prop::sample::Index>(),
                x in any::<u8>(),
                cut in any::<prop::sample::Index>(),
            ) {
                let good = frame(&f);
                let mut b = good.clone();
                let i = at.index(b.len());
                b[i] ^= x;
                let r = parse_ethernet(&b);
                let ihl = 20 + f.ip_options.len();
                // Past the version/IHL byte, the header checksum covers the
                // whole IP header: one changed byte there is always caught
                // (a one's-complement sum misses only 0x0000 <-> 0xffff words).
                if x != 0 && (15..14 + ihl).contains(&i) {
                    prop_assert!(r.is_err(), "byte {} ^ {:#x} accepted: {:?}", i, x, r);
                }
                let _ = parse_ethernet(&good[..cut.index(good.len())]);
            }

            /// Fragments and non-TCP packets never parse, whatever else.
            #[test]
            fn fragments_and_other_protocols_rejected(
                f in fields(),
                frag in 1u16..0x4000,
                proto in any::<u8>(),
            ) {
                let mut p = ipv4_packet(&f);
                let ihl = 20 + f.ip_options.len();
                let fix = |p: &mut Vec<u8>| {
                    p[10] = 0;
                    p[11] = 0;
                    let c = checksum(&p[..ihl]);
                    p[10..12].copy_from_slice(&c.to_be_bytes());
                };
                let mut q = p.clone();
                let ff = (u16::from_be_bytes([q[6], q[7]]) & 0x4000) | (frag & 0x3fff);
                q[6..8].copy_from_slice(&ff.to_be_bytes());
                fix(&mut q);
                prop_assert!(parse_ipv4(&q).is_err());
                if proto != ipv4::PROTO_TCP {
                    p[9] = proto;
                    fix(&mut p);
                    prop_assert!(parse_ipv4(&p).is_err());
                }
            }
        }
    }
}
