//! Parse a captured frame into the few fields the correlator needs. Every
//! check that can fail is here: lengths, version, header checksum, fragments,
//! protocol, TCP data offset. Anything odd is dropped, never a panic.

use super::{Malformed, Result, ethernet, ipv4, tcp};

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
    let ip = ipv4::Packet::new_checked(pkt)?;
    if ip.protocol() != ipv4::PROTO_TCP || ip.is_fragment() || !ip.verify_checksum() {
        return Err(Malformed);
    }
    let t = tcp::Segment::new_checked(ip.payload())?;
    Ok(Reply {
        src: u32::from(ip.src()),
        dst: u32::from(ip.dst()),
        sport: t.src_port(),
        dport: t.dst_port(),
        seq: t.seq(),
        ack: t.ack(),
        flags: t.flags(),
        ttl: ip.ttl(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::checksum;

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
}
