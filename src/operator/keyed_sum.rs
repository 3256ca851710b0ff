//! `keyed_sum`: keyed state holding the running sum of values per key.

use super::Record;
use std::collections::BTreeMap;

/// The state of one `keyed_sum` task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedSum {
    sums: BTreeMap<u64, i64>,
    bytes_per_key: u64,
}

impl KeyedSum {
    /// Empty state; each distinct key accounts for `bytes_per_key` bytes.
    pub fn new(bytes_per_key: u64) -> Self {
        KeyedSum { sums: BTreeMap::new(), bytes_per_key }
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
        self.sums.pop_first();
    }

    /// Number of distinct keys × bytes per key.
    pub fn state_bytes(&self) -> u64 {
        self.sums.len() as u64 * self.bytes_per_key
    }

    /// The sums, by key.
    pub fn sums(&self) -> &BTreeMap<u64, i64> {
        &self.sums
    }
}
