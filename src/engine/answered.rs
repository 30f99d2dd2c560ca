//! Which pairs answered (open or closed) and which hosts answered at all:
//! what duplicates are suppressed with and what retries are planned from.
//! Two roaring bitmaps over the index space (pairs) and the address ranks
//! (hosts): bounded by the space, compact when answers are sparse or dense,
//! and cheap to write into a checkpoint.

use roaring::RoaringTreemap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answered {
    pairs: RoaringTreemap,
    hosts: RoaringTreemap,
}

impl Answered {
    /// Whether pair `index` answered.
    #[inline]
    pub fn pair(&self, index: u64) -> bool {
        self.pairs.contains(index)
    }

    /// Whether the host of rank `host` answered on any port.
    #[inline]
    pub fn host(&self, host: u64) -> bool {
        self.hosts.contains(host)
    }

    /// Record that pair `index` (of host `host`) answered; false if it had.
    pub fn insert(&mut self, index: u64, host: u64) -> bool {
        self.hosts.insert(host);
        self.pairs.insert(index)
    }

    pub fn len(&self) -> u64 {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The set as bytes (the two bitmaps in roaring's portable format).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut pairs = Vec::new();
        self.pairs
            .serialize_into(&mut pairs)
            .expect("writing to a Vec");
        out.extend_from_slice(&(pairs.len() as u64).to_le_bytes());
        out.extend_from_slice(&pairs);
        self.hosts
            .serialize_into(&mut out)
            .expect("writing to a Vec");
        out
    }

    /// Read [`to_bytes`](Self::to_bytes) back.
    pub fn from_bytes(b: &[u8]) -> std::io::Result<Answered> {
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "answered set");
        let n = u64::from_le_bytes(b.get(..8).ok_or_else(bad)?.try_into().unwrap()) as usize;
        let pairs_bytes = b
            .get(8..8usize.checked_add(n).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        let pairs = RoaringTreemap::deserialize_from(pairs_bytes)?;
        let hosts = RoaringTreemap::deserialize_from(&b[8 + n..])?;
        Ok(Answered { pairs, hosts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_dedups_and_round_trips() {
        let mut a = Answered::default();
        assert!(a.insert(5, 1));
        assert!(!a.insert(5, 1));
        assert!(a.insert(1 << 40, 7));
        assert!(a.pair(5) && a.pair(1 << 40) && !a.pair(6));
        assert!(a.host(1) && a.host(7) && !a.host(2));
        let b = Answered::from_bytes(&a.to_bytes()).unwrap();
        assert_eq!(a, b);
        assert!(Answered::from_bytes(&[1, 2, 3]).is_err());
        assert!(Answered::from_bytes(&[]).is_err());
    }

    #[test]
    fn a_million_dense_answers_stay_small() {
        let mut a = Answered::default();
        for i in 0..1_310_720u64 {
            a.insert(i, i % 65536);
        }
        // A bit per pair at most: 1.3M pairs in about 160 KiB (a hash set
        // of u64 took about 40 MiB).
        assert!(a.to_bytes().len() < 256 * 1024, "{}", a.to_bytes().len());
    }
}
