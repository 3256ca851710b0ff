//! RocksDB's LSM tree, modelled at the level of files: writes go to a memtable; a full memtable
//! (or a checkpoint) flushes it to a new L0 SST file; when L0 holds `level0_compaction_trigger`
//! files they are merged with the overlapping L1 files into new L1 files, and a level over its
//! size limit pushes one file (round robin over the key space, RocksDB's compaction pointer) into
//! the next level. Files are immutable and named by a per-task counter, so an incremental
//! checkpoint knows which ones the last completed checkpoint already holds; compaction rewrites
//! files, which the next incremental checkpoint uploads again.
//!
//! A file holds the set of keys written to it (sorted); its size is keys × bytes per key. A key
//! can live in several levels at once (the newest version wins on read), which is RocksDB's
//! space amplification: the SST files of a checkpoint can hold more than the live state.
//! Compaction runs at once when triggered (RocksDB runs it in the background).

use super::StateFile;
use crate::scenario::RocksDbSpec;
use std::collections::BTreeSet;
use std::sync::Arc;

/// One immutable SST file.
#[derive(Clone, Debug)]
struct Sst {
    id: u64,
    /// Sorted, distinct.
    keys: Arc<Vec<u64>>,
}

impl Sst {
    fn min(&self) -> u64 {
        self.keys[0]
    }
    fn max(&self) -> u64 {
        *self.keys.last().expect("an SST file is never empty")
    }
    fn overlaps(&self, lo: u64, hi: u64) -> bool {
        self.min() <= hi && lo <= self.max()
    }
}

/// One task's LSM tree.
#[derive(Clone, Debug)]
pub struct Lsm {
    bytes_per_key: u64,
    write_buffer: u64,
    l0_trigger: usize,
    keys_per_file: usize,
    level_base: u64,
    multiplier: u64,
    memtable: BTreeSet<u64>,
    /// Bytes written to the memtable since its last flush (overwrites count: RocksDB appends).
    memtable_bytes: u64,
    /// `levels[0]` is L0 (oldest first, may overlap); below, files sorted by key, disjoint.
    levels: Vec<Vec<Sst>>,
    /// Per level: the largest key of the file compacted last (RocksDB's compaction pointer).
    pointers: Vec<u64>,
    /// Flushes and compactions so far, and the bytes compactions wrote.
    pub(super) flushes: u64,
    pub(super) compactions: u64,
    pub(super) compacted_bytes: u64,
}

impl Lsm {
    /// An empty tree.
    pub fn new(spec: &RocksDbSpec, bytes_per_key: u64) -> Self {
        Lsm {
            bytes_per_key,
            write_buffer: spec.write_buffer_kib << 10,
            l0_trigger: spec.level0_compaction_trigger as usize,
            keys_per_file: ((spec.target_file_size_kib << 10) / bytes_per_key).max(1) as usize,
            level_base: spec.max_bytes_for_level_base_kib << 10,
            multiplier: spec.level_multiplier,
            memtable: BTreeSet::new(),
            memtable_bytes: 0,
            levels: vec![Vec::new(), Vec::new()],
            pointers: vec![0, 0],
            flushes: 0,
            compactions: 0,
            compacted_bytes: 0,
        }
    }

    /// A write of `key`; flushes when the memtable is full. `next_id` names new files.
    pub fn write(&mut self, key: u64, next_id: &mut u64) {
        self.memtable.insert(key);
        self.memtable_bytes += self.bytes_per_key;
        if self.memtable_bytes >= self.write_buffer {
            self.flush(next_id);
        }
    }

    /// Bytes the next flush writes (the memtable's distinct keys).
    pub fn memtable_flush_bytes(&self) -> u64 {
        self.memtable.len() as u64 * self.bytes_per_key
    }

    /// Flushes the memtable to a new L0 file (nothing when empty), then compacts as needed.
    pub fn flush(&mut self, next_id: &mut u64) {
        self.memtable_bytes = 0;
        if self.memtable.is_empty() {
            return;
        }
        let keys: Vec<u64> = std::mem::take(&mut self.memtable).into_iter().collect();
        self.flushes += 1;
        self.levels[0].push(Sst { id: take(next_id), keys: Arc::new(keys) });
        if self.levels[0].len() >= self.l0_trigger {
            self.compact_l0(next_id);
        }
        let mut level = 1;
        while level < self.levels.len() {
            // A level over its limit pushes one file down at a time until it fits.
            let mut guard = self.levels[level].len() + 1;
            while self.level_bytes(level) > self.level_limit(level) && guard > 0 {
                self.compact_one(level, next_id);
                guard -= 1;
            }
            level += 1;
        }
    }

    /// Every live SST file.
    pub fn files(&self) -> impl Iterator<Item = StateFile> + '_ {
        self.levels.iter().flatten().map(|f| StateFile { id: f.id, bytes: f.keys.len() as u64 * self.bytes_per_key })
    }

    /// Files per level (L0 first).
    pub fn shape(&self) -> Vec<usize> {
        self.levels.iter().map(Vec::len).collect()
    }

    fn level_bytes(&self, level: usize) -> u64 {
        self.levels[level].iter().map(|f| f.keys.len() as u64).sum::<u64>() * self.bytes_per_key
    }

    fn level_limit(&self, level: usize) -> u64 {
        self.level_base.saturating_mul(self.multiplier.saturating_pow(level as u32 - 1))
    }

    /// Merges every L0 file with the L1 files they overlap.
    fn compact_l0(&mut self, next_id: &mut u64) {
        let l0 = std::mem::take(&mut self.levels[0]);
        let lo = l0.iter().map(Sst::min).min().expect("L0 is not empty");
        let hi = l0.iter().map(Sst::max).max().expect("L0 is not empty");
        self.merge_into(1, l0, lo, hi, next_id);
    }

    /// Pushes the file after the compaction pointer of `level` into `level + 1`.
    fn compact_one(&mut self, level: usize, next_id: &mut u64) {
        if level + 1 == self.levels.len() {
            self.levels.push(Vec::new());
            self.pointers.push(0);
        }
        let files = &self.levels[level];
        let i = files.iter().position(|f| f.min() > self.pointers[level]).unwrap_or(0);
        let f = self.levels[level].remove(i);
        self.pointers[level] = f.max();
        let (lo, hi) = (f.min(), f.max());
        self.merge_into(level + 1, vec![f], lo, hi, next_id);
    }

    /// Merges `inputs` (covering `lo..=hi`) with the overlapping files of `level` into new files
    /// of `level`, cut at the target file size.
    fn merge_into(&mut self, level: usize, inputs: Vec<Sst>, lo: u64, hi: u64, next_id: &mut u64) {
        let (overlapping, rest): (Vec<Sst>, Vec<Sst>) =
            std::mem::take(&mut self.levels[level]).into_iter().partition(|f| f.overlaps(lo, hi));
        let mut keys: Vec<u64> = inputs.iter().chain(&overlapping).flat_map(|f| f.keys.iter().copied()).collect();
        keys.sort_unstable();
        keys.dedup();
        self.compactions += 1;
        self.compacted_bytes += keys.len() as u64 * self.bytes_per_key;
        let mut files = rest;
        files.extend(keys.chunks(self.keys_per_file).map(|c| Sst { id: take(next_id), keys: Arc::new(c.to_vec()) }));
        files.sort_by_key(Sst::min);
        self.levels[level] = files;
    }
}

fn take(next_id: &mut u64) -> u64 {
    let id = *next_id;
    *next_id += 1;
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> RocksDbSpec {
        RocksDbSpec {
            write_buffer_kib: 1,
            level0_compaction_trigger: 4,
            target_file_size_kib: 1,
            max_bytes_for_level_base_kib: 4,
            level_multiplier: 10,
            iterate_mib_per_sec: 128,
        }
    }

    #[test]
    fn a_full_memtable_flushes_to_l0_and_four_l0_files_compact_into_l1() {
        let mut lsm = Lsm::new(&small(), 16);
        let mut id = 0;
        // 1 KiB of writes at 16 B: the 64th write flushes.
        for k in 0..63 {
            lsm.write(k, &mut id);
        }
        assert_eq!(lsm.shape(), vec![0, 0]);
        lsm.write(63, &mut id);
        assert_eq!(lsm.shape(), vec![1, 0]);
        for k in 64..(64 * 4) {
            lsm.write(k % 100, &mut id);
        }
        // The fourth flush triggered a compaction: L0 is empty, L1 holds the 100 distinct keys in
        // files of 64 keys.
        assert_eq!(lsm.shape(), vec![0, 2]);
        assert_eq!(lsm.files().map(|f| f.bytes).sum::<u64>(), 100 * 16);
        assert_eq!(lsm.compactions, 1);
    }

    #[test]
    fn overwrites_fill_the_memtable_but_flush_one_version() {
        let mut lsm = Lsm::new(&small(), 16);
        let mut id = 0;
        for _ in 0..64 {
            lsm.write(7, &mut id);
        }
        let files: Vec<_> = lsm.files().collect();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].bytes, 16);
    }

    #[test]
    fn a_level_over_its_limit_pushes_files_down_and_keeps_levels_disjoint() {
        let mut lsm = Lsm::new(&small(), 16);
        let mut id = 0;
        for k in 0..5_000u64 {
            lsm.write(k * 7919 % 4_000, &mut id);
        }
        assert!(lsm.levels.len() >= 3, "{:?}", lsm.shape());
        assert!(lsm.level_bytes(1) <= lsm.level_limit(1));
        for level in &lsm.levels[1..] {
            for w in level.windows(2) {
                assert!(w[0].max() < w[1].min(), "files of a level are disjoint and sorted");
            }
        }
        // Every key written is somewhere (memtable or a file).
        let mut all: BTreeSet<u64> = lsm.memtable.clone();
        all.extend(lsm.levels.iter().flatten().flat_map(|f| f.keys.iter().copied()));
        assert_eq!(all.len(), 4_000);
    }
}
