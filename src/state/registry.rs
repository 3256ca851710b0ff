//! The shared-state registry of the checkpoint storage (Flink's `SharedStateRegistry`): every
//! retained completed checkpoint holds a reference to each of its files; a file is deleted when
//! the last checkpoint that references it is dropped. Flink retains
//! `state.checkpoints.num-retained` completed checkpoints (default 1).

use super::StateFile;
use crate::protocol::CheckpointId;
use std::collections::{BTreeMap, VecDeque};

/// Reference counts of the files in the checkpoint storage.
#[derive(Clone, Debug)]
pub struct SharedRegistry {
    /// File id → (references, bytes).
    refs: BTreeMap<u64, (u32, u64)>,
    retained: VecDeque<(CheckpointId, Vec<u64>)>,
    num_retained: usize,
    held_bytes: u64,
    /// Bytes and files deleted so far.
    pub deleted_bytes: u64,
    /// Files deleted so far.
    pub deleted_files: u64,
}

impl SharedRegistry {
    /// Keeps `num_retained` completed checkpoints (at least 1).
    pub fn new(num_retained: u32) -> Self {
        SharedRegistry {
            refs: BTreeMap::new(),
            retained: VecDeque::new(),
            num_retained: num_retained.max(1) as usize,
            held_bytes: 0,
            deleted_bytes: 0,
            deleted_files: 0,
        }
    }

    /// Checkpoint `cp` completed with `files`: they gain a reference; checkpoints beyond the
    /// retained number are dropped, and files nobody references any more are deleted.
    pub fn register(&mut self, cp: CheckpointId, files: impl IntoIterator<Item = StateFile>) {
        let mut ids = Vec::new();
        for f in files {
            let e = self.refs.entry(f.id).or_insert((0, f.bytes));
            if e.0 == 0 {
                self.held_bytes += f.bytes;
            }
            e.0 += 1;
            ids.push(f.id);
        }
        self.retained.push_back((cp, ids));
        while self.retained.len() > self.num_retained {
            let (_, ids) = self.retained.pop_front().expect("not empty");
            for id in ids {
                let e = self.refs.get_mut(&id).expect("registered");
                e.0 -= 1;
                if e.0 == 0 {
                    let bytes = e.1;
                    self.refs.remove(&id);
                    self.held_bytes -= bytes;
                    self.deleted_bytes += bytes;
                    self.deleted_files += 1;
                }
            }
        }
    }

    /// Bytes the storage holds for the retained checkpoints.
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes
    }

    /// Files the storage holds.
    pub fn held_files(&self) -> usize {
        self.refs.len()
    }

    /// The retained checkpoints, oldest first.
    pub fn retained(&self) -> impl Iterator<Item = CheckpointId> + '_ {
        self.retained.iter().map(|r| r.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(id: u64, bytes: u64) -> StateFile {
        StateFile { id, bytes }
    }

    #[test]
    fn a_shared_file_lives_as_long_as_a_retained_checkpoint_references_it() {
        let mut r = SharedRegistry::new(1);
        r.register(1, [f(1, 100), f(2, 10)]);
        r.register(2, [f(1, 100), f(3, 10)]);
        // Checkpoint 1 is dropped: file 2 goes, file 1 stays (checkpoint 2 holds it).
        assert_eq!((r.held_bytes(), r.held_files(), r.deleted_bytes), (110, 2, 10));
        r.register(3, [f(4, 50)]);
        assert_eq!((r.held_bytes(), r.deleted_files), (50, 3));
    }

    #[test]
    fn retaining_two_keeps_the_older_files() {
        let mut r = SharedRegistry::new(2);
        r.register(1, [f(1, 100)]);
        r.register(2, [f(2, 10)]);
        assert_eq!(r.held_bytes(), 110);
        r.register(3, [f(3, 1)]);
        assert_eq!(r.held_bytes(), 11);
        assert_eq!(r.retained().collect::<Vec<_>>(), vec![2, 3]);
    }
}
