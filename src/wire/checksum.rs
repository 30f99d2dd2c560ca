//! The Internet checksum (RFC 1071) and its incremental form (RFC 1624).

/// One's-complement sum of `data` as big-endian 16-bit words, unfolded.
#[inline]
pub fn sum(data: &[u8]) -> u32 {
    let mut acc = 0u32;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [b] = chunks.remainder() {
        acc += (*b as u32) << 8;
    }
    acc
}

/// Fold a 32-bit accumulator to 16 bits and complement it.
#[inline]
pub fn finish(mut acc: u32) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Checksum of `data` (with its checksum field zeroed or included: a correct
/// packet sums to 0).
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// Add a 32-bit value as two 16-bit words.
#[inline]
pub fn add32(acc: u32, v: u32) -> u32 {
    acc + (v >> 16) + (v & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example bytes: sum 0xddf2, checksum !0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(finish(sum(&d)), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }
}
