//! `keyed_sum`: keyed state holding the running sum of values per key.

use super::Record;
use std::collections::BTreeMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes a `u64` key with the SplitMix64 finaliser: fixed (no random seed), so a run's map is
/// laid out the same every time — though nothing here depends on that (see [`KeyedSum::sums`]).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        crate::sim::mix64(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The sums by key. A hash map because the hot path is one lookup per record (a B-tree's was ~10%
/// of the simulator's time on the backpressure bench); every reader that needs an order sorts
/// (`sums`) or folds with an order-independent operation (`kv_digest`, `forget_a_key`'s minimum),
/// so no behaviour depends on the map's iteration order.
#[allow(clippy::disallowed_types)]
type Sums = std::collections::HashMap<u64, i64, BuildHasherDefault<KeyHasher>>;

/// The state of one `keyed_sum` task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedSum {
    sums: Sums,
    bytes_per_key: u64,
}

impl KeyedSum {
    /// Empty state; each distinct key accounts for `bytes_per_key` bytes.
    pub fn new(bytes_per_key: u64) -> Self {
        KeyedSum { sums: Sums::default(), bytes_per_key }
    }

    /// Adds the record's value to its key's sum and emits `(key, new sum)`.
    #[inline]
    pub fn apply(&mut self, r: Record) -> Record {
        let sum = self.sums.entry(r.key).or_insert(0);
        *sum = sum.wrapping_add(r.value);
        Record { value: *sum, ..r }
    }

    /// Sets `key`'s sum (a restore from a savepoint).
    pub fn set(&mut self, key: u64, sum: i64) {
        self.sums.insert(key, sum);
    }

    /// Drops the smallest key (a deliberately broken snapshot, for a mutant).
    pub fn forget_a_key(&mut self) {
        if let Some(&k) = self.sums.keys().min() {
            self.sums.remove(&k);
        }
    }

    /// Number of distinct keys.
    pub fn len(&self) -> usize {
        self.sums.len()
    }

    /// True when no key has a sum.
    pub fn is_empty(&self) -> bool {
        self.sums.is_empty()
    }

    /// Number of distinct keys × bytes per key.
    pub fn state_bytes(&self) -> u64 {
        self.sums.len() as u64 * self.bytes_per_key
    }

    /// `Σ mix64(key) × sum` over the keys (wrapping; a sum, so independent of order).
    pub fn kv_digest(&self) -> u64 {
        self.sums.iter().fold(0u64, |a, (&k, &v)| a.wrapping_add(crate::sim::mix64(k).wrapping_mul(v as u64)))
    }

    /// The sums, by key (a sorted copy).
    pub fn sums(&self) -> BTreeMap<u64, i64> {
        self.sums.iter().map(|(&k, &v)| (k, v)).collect()
    }
}
