//! TCP headers (RFC 9293).

use super::{Malformed, Result, be16, be32};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}

pub const HEADER_LEN: usize = 20;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// A view of a TCP segment.
#[derive(Debug, Clone)]
pub struct Segment<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Segment<T> {
    pub fn new_unchecked(buf: T) -> Self {
        Segment { buf }
    }
    /// Check that the header, with its options, fits the buffer.
    pub fn new_checked(buf: T) -> Result<Self> {
        if buf.as_ref().len() < HEADER_LEN {
            return Err(Malformed);
        }
        let s = Segment { buf };
        let hl = s.header_len();
        if hl < HEADER_LEN || hl > s.buf.as_ref().len() {
            return Err(Malformed);
        }
        Ok(s)
    }
    pub fn src_port(&self) -> u16 {
        be16(self.buf.as_ref(), field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.buf.as_ref(), field::DST_PORT)
    }
    pub fn seq(&self) -> u32 {
        be32(self.buf.as_ref(), field::SEQ)
    }
    pub fn ack(&self) -> u32 {
        be32(self.buf.as_ref(), field::ACK)
    }
    pub fn header_len(&self) -> usize {
        ((self.buf.as_ref()[field::DATA_OFF] >> 4) as usize) * 4
    }
    pub fn flags(&self) -> u8 {
        self.buf.as_ref()[field::FLAGS]
    }
    pub fn window(&self) -> u16 {
        be16(self.buf.as_ref(), field::WINDOW)
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), field::CHECKSUM)
    }
    pub fn options(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..self.header_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Segment<T> {
    /// Write a header with the given options (a multiple of 4 bytes long).
    /// The checksum field is left zero; see `probe` for how it is filled.
    #[allow(clippy::too_many_arguments)]
    pub fn emit(
        &mut self,
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        options: &[u8],
    ) {
        assert!(options.len().is_multiple_of(4) && options.len() <= 40);
        let b = self.buf.as_mut();
        b[field::SRC_PORT..field::SRC_PORT + 2].copy_from_slice(&sport.to_be_bytes());
        b[field::DST_PORT..field::DST_PORT + 2].copy_from_slice(&dport.to_be_bytes());
        b[field::SEQ..field::SEQ + 4].copy_from_slice(&seq.to_be_bytes());
        b[field::ACK..field::ACK + 4].copy_from_slice(&ack.to_be_bytes());
        b[field::DATA_OFF] = (((HEADER_LEN + options.len()) / 4) as u8) << 4;
        b[field::FLAGS] = flags;
        b[field::WINDOW..field::WINDOW + 2].copy_from_slice(&window.to_be_bytes());
        b[field::CHECKSUM..field::CHECKSUM + 2].copy_from_slice(&[0, 0]);
        b[field::URGENT..field::URGENT + 2].copy_from_slice(&[0, 0]);
        b[HEADER_LEN..HEADER_LEN + options.len()].copy_from_slice(options);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_syn_ack_with_options() {
        // SYN-ACK 22 -> 40000, seq 0x01020304, ack 0xa0b0c0d1, MSS 1460 + NOP NOP SACKOK.
        let b: [u8; 28] = [
            0x00, 0x16, 0x9c, 0x40, 0x01, 0x02, 0x03, 0x04, 0xa0, 0xb0, 0xc0, 0xd1, 0x70, 0x12,
            0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02,
        ];
        let s = Segment::new_checked(&b[..]).unwrap();
        assert_eq!((s.src_port(), s.dst_port()), (22, 40000));
        assert_eq!(s.seq(), 0x01020304);
        assert_eq!(s.ack(), 0xa0b0c0d1);
        assert_eq!(s.flags(), SYN | ACK);
        assert_eq!(s.header_len(), 28);
        assert_eq!(s.options(), &[2, 4, 5, 0xb4, 1, 1, 4, 2]);
    }

    #[test]
    fn rejects_bad_data_offset() {
        let mut b = [0u8; 24];
        b[12] = 0x40; // 16 bytes < 20
        assert!(Segment::new_checked(&b[..]).is_err());
        b[12] = 0x70; // 28 bytes > 24
        assert!(Segment::new_checked(&b[..]).is_err());
        b[12] = 0x60;
        assert!(Segment::new_checked(&b[..]).is_ok());
        assert!(Segment::new_checked(&b[..19]).is_err());
    }
}
