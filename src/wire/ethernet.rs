//! Ethernet II frames.

use super::{Malformed, Result, be16};

mod field {
    use std::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const PAYLOAD: usize = 14;
}

pub const HEADER_LEN: usize = field::PAYLOAD;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;

/// A MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const BROADCAST: Mac = Mac([0xff; 6]);
    pub const ZERO: Mac = Mac([0; 6]);
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl std::str::FromStr for Mac {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Mac, String> {
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(format!(
                "'{s}' is not a MAC address (want aa:bb:cc:dd:ee:ff)"
            ));
        }
        let mut m = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            m[i] = u8::from_str_radix(p, 16)
                .map_err(|_| format!("'{s}' is not a MAC address (want aa:bb:cc:dd:ee:ff)"))?;
        }
        Ok(Mac(m))
    }
}

/// A view of an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    pub fn new_unchecked(buf: T) -> Self {
        Frame { buf }
    }
    pub fn new_checked(buf: T) -> Result<Self> {
        if buf.as_ref().len() < HEADER_LEN {
            Err(Malformed)
        } else {
            Ok(Frame { buf })
        }
    }
    pub fn dst(&self) -> Mac {
        Mac(self.buf.as_ref()[field::DST].try_into().unwrap())
    }
    pub fn src(&self) -> Mac {
        Mac(self.buf.as_ref()[field::SRC].try_into().unwrap())
    }
    pub fn ethertype(&self) -> u16 {
        be16(self.buf.as_ref(), field::ETHERTYPE.start)
    }
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    pub fn set_dst(&mut self, m: Mac) {
        self.buf.as_mut()[field::DST].copy_from_slice(&m.0);
    }
    pub fn set_src(&mut self, m: Mac) {
        self.buf.as_mut()[field::SRC].copy_from_slice(&m.0);
    }
    pub fn set_ethertype(&mut self, t: u16) {
        self.buf.as_mut()[field::ETHERTYPE].copy_from_slice(&t.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_mac() {
        let m: Mac = "02:00:5e:10:00:01".parse().unwrap();
        assert_eq!(m.0, [2, 0, 0x5e, 0x10, 0, 1]);
        assert_eq!(m.to_string(), "02:00:5e:10:00:01");
        assert!("02:00:5e:10:00".parse::<Mac>().is_err());
        assert!("zz:00:5e:10:00:01".parse::<Mac>().is_err());
    }

    #[test]
    fn short_frame_rejected() {
        assert!(Frame::new_checked(&[0u8; 13][..]).is_err());
        let f =
            Frame::new_checked(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00][..]).unwrap();
        assert_eq!(f.ethertype(), ETHERTYPE_IPV4);
        assert_eq!(f.src(), Mac([7, 8, 9, 10, 11, 12]));
        assert!(f.payload().is_empty());
    }
}
