//! What reached the sinks, by lineage: per source partition, how many times each offset arrived.

use crate::operator::Lineage;
use std::collections::BTreeMap;

/// Sink arrivals per lineage. Memory: one counter per offset of each partition seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputLog {
    counts: BTreeMap<u32, Vec<u32>>,
}

impl OutputLog {
    /// Counts one arrival of `l`.
    pub fn add(&mut self, l: Lineage) {
        let v = self.counts.entry(l.partition).or_default();
        let i = l.offset as usize;
        if v.len() <= i {
            v.resize(i + 1, 0);
        }
        v[i] += 1;
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
