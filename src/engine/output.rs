//! What became visible at the sinks, by lineage: per source partition, how many times each offset
//! arrived and the sum of the values it arrived with.

use crate::operator::Lineage;
use std::collections::BTreeMap;

/// Sink arrivals per lineage. Memory: a counter and a value sum per offset of each partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputLog {
    counts: BTreeMap<u32, Vec<u32>>,
    values: BTreeMap<u32, Vec<i64>>,
}

impl OutputLog {
    /// Counts one arrival of `l` with `value`.
    pub fn add(&mut self, l: Lineage, value: i64) {
        let i = l.offset as usize;
        let v = self.counts.entry(l.partition).or_default();
        if v.len() <= i {
            v.resize(i + 1, 0);
        }
        v[i] += 1;
        let w = self.values.entry(l.partition).or_default();
        if w.len() <= i {
            w.resize(i + 1, 0);
        }
        w[i] = w[i].wrapping_add(value);
    }

    /// The sum of the values `l` arrived with.
    pub fn value_sum(&self, l: Lineage) -> i64 {
        self.values.get(&l.partition).and_then(|v| v.get(l.offset as usize)).copied().unwrap_or(0)
    }

    /// How many times `l` arrived.
    pub fn count(&self, l: Lineage) -> u32 {
        self.counts.get(&l.partition).and_then(|v| v.get(l.offset as usize)).copied().unwrap_or(0)
    }

    /// Partitions seen, each with its per-offset counts (index = offset).
    pub fn partitions(&self) -> impl Iterator<Item = (u32, &[u32])> {
        self.counts.iter().map(|(&p, v)| (p, v.as_slice()))
    }

    /// Total arrivals.
    pub fn total(&self) -> u64 {
        self.counts.values().flat_map(|v| v.iter()).map(|&c| c as u64).sum()
    }
}
