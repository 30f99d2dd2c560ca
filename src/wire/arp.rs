//! ARP over Ethernet for IPv4 (RFC 826): just enough to ask for the next
//! hop's MAC and read the answer.

use super::ethernet::{self, ETHERTYPE_ARP, ETHERTYPE_IPV4, Mac};
use super::{Malformed, Result, be16};
use std::net::Ipv4Addr;

mod field {
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: usize = 8;
    pub const SPA: usize = 14;
    pub const THA: usize = 18;
    pub const TPA: usize = 24;
    pub const END: usize = 28;
}

pub const REQUEST: u16 = 1;
pub const REPLY: u16 = 2;
pub const FRAME_LEN: usize = ethernet::HEADER_LEN + field::END;

/// Build a broadcast who-has frame for `target`.
pub fn request(src_mac: Mac, src_ip: Ipv4Addr, target: Ipv4Addr) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    let mut e = ethernet::Frame::new_unchecked(&mut f[..]);
    e.set_dst(Mac::BROADCAST);
    e.set_src(src_mac);
    e.set_ethertype(ETHERTYPE_ARP);
    let a = &mut f[ethernet::HEADER_LEN..];
    a[field::HTYPE..field::HTYPE + 2].copy_from_slice(&1u16.to_be_bytes());
    a[field::PTYPE..field::PTYPE + 2].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    a[field::HLEN] = 6;
    a[field::PLEN] = 4;
    a[field::OPER..field::OPER + 2].copy_from_slice(&REQUEST.to_be_bytes());
    a[field::SHA..field::SHA + 6].copy_from_slice(&src_mac.0);
    a[field::SPA..field::SPA + 4].copy_from_slice(&src_ip.octets());
    a[field::THA..field::THA + 6].copy_from_slice(&[0; 6]);
    a[field::TPA..field::TPA + 4].copy_from_slice(&target.octets());
    f
}

/// The addresses of an ARP reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpReply {
    pub sender_ip: Ipv4Addr,
    pub sender_mac: Mac,
    pub target_ip: Ipv4Addr,
    pub target_mac: Mac,
}

fn ip_at(a: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(a[at], a[at + 1], a[at + 2], a[at + 3])
}

/// If `frame` is an ARP reply (Ethernet/IPv4), its addresses.
pub fn parse_reply(frame: &[u8]) -> Result<Option<ArpReply>> {
    let e = ethernet::Frame::new_checked(frame)?;
    if e.ethertype() != ETHERTYPE_ARP {
        return Ok(None);
    }
    let a = e.payload();
    if a.len() < field::END {
        return Err(Malformed);
    }
    if be16(a, field::HTYPE) != 1
        || be16(a, field::PTYPE) != ETHERTYPE_IPV4
        || a[field::HLEN] != 6
        || a[field::PLEN] != 4
    {
        return Err(Malformed);
    }
    if be16(a, field::OPER) != REPLY {
        return Ok(None);
    }
    Ok(Some(ArpReply {
        sender_ip: ip_at(a, field::SPA),
        sender_mac: Mac(a[field::SHA..field::SHA + 6].try_into().unwrap()),
        target_ip: ip_at(a, field::TPA),
        target_mac: Mac(a[field::THA..field::THA + 6].try_into().unwrap()),
    }))
}

/// If `frame` is an ARP reply saying where `ip` is, its MAC.
pub fn parse_reply_for(frame: &[u8], ip: Ipv4Addr) -> Result<Option<Mac>> {
    Ok(parse_reply(frame)?
        .filter(|r| r.sender_ip == ip)
        .map(|r| r.sender_mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes() {
        let f = request(
            Mac([2, 0, 0, 0, 0, 1]),
            "198.18.0.1".parse().unwrap(),
            "198.18.0.2".parse().unwrap(),
        );
        let want: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, // ethernet
            0, 1, 0x08, 0x00, 6, 4, 0, 1, // htype ptype hlen plen oper
            2, 0, 0, 0, 0, 1, 198, 18, 0, 1, // sender
            0, 0, 0, 0, 0, 0, 198, 18, 0, 2, // target
        ];
        assert_eq!(f, want);
    }

    #[test]
    fn reads_the_matching_reply_only() {
        let gw: Ipv4Addr = "198.18.0.2".parse().unwrap();
        let mut f = request(Mac([2, 0, 0, 0, 0, 9]), gw, "198.18.0.1".parse().unwrap());
        f[ethernet::HEADER_LEN + field::OPER + 1] = 2;
        assert_eq!(
            parse_reply_for(&f, gw).unwrap(),
            Some(Mac([2, 0, 0, 0, 0, 9]))
        );
        assert_eq!(
            parse_reply_for(&f, "198.18.0.3".parse().unwrap()).unwrap(),
            None
        );
        assert!(parse_reply_for(&f[..30], gw).is_err());
    }
}
