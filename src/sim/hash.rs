//! A stable 64-bit hash for trace hashes and scenario fingerprints.
//!
//! Defined here (not `DefaultHasher`, whose output may change between Rust versions): each 64-bit
//! word `w` updates the state as `h = (h.rotate_left(5) ^ w) * K`, with `K = 0x517c_c1b7_2722_0a95`;
//! bytes are fed as little-endian 8-byte words (the last one zero-padded) followed by the length.
//! The result passes through the SplitMix64 finaliser.

use super::rng::mix64;

const K: u64 = 0x517c_c1b7_2722_0a95;

/// Streaming stable hasher.
///
/// ```
/// use ckptsim::sim::StableHasher;
/// let mut h = StableHasher::new();
/// h.write_u64(1);
/// h.write_bytes(b"abc");
/// assert_eq!(h.hex(), StableHasher::of_bytes_after(1, b"abc").hex());
/// ```
#[derive(Clone, Debug)]
pub struct StableHasher {
    state: u64,
}

impl Default for StableHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl StableHasher {
    /// A hasher in its initial state.
    pub fn new() -> Self {
        StableHasher { state: 0x243F_6A88_85A3_08D3 }
    }

    /// Feeds one word.
    #[inline]
    pub fn write_u64(&mut self, w: u64) {
        self.state = (self.state.rotate_left(5) ^ w).wrapping_mul(K);
    }

    /// Feeds a byte string (length-delimited).
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        self.write_u64(bytes.len() as u64);
    }

    /// The finished 64-bit value.
    pub fn finish(&self) -> u64 {
        mix64(self.state)
    }

    /// The finished value as 16 lowercase hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.finish())
    }

    /// Convenience for doc tests: a hasher fed `w` then `bytes`.
    pub fn of_bytes_after(w: u64, bytes: &[u8]) -> Self {
        let mut h = Self::new();
        h.write_u64(w);
        h.write_bytes(bytes);
        h
    }
}
