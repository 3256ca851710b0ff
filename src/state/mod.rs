//! The state side of checkpointing: state backends, the files a snapshot writes and references,
//! and the shared-state registry of the checkpoint storage.
//!
//! A task's [`Backend`] sees every write to its keyed state and, at a snapshot, says which files
//! the checkpoint consists of, which of them are new, and what the asynchronous part uploads:
//! - `hashmap` (Flink's `HashMapStateBackend`): a full copy every time — a short synchronous part
//!   (`CopyOnWriteStateTable` copies its array of entry references, 8 bytes per entry, at
//!   `sync_mib_per_sec`; the entries themselves are copied lazily on write), then an upload of the
//!   whole state;
//! - `rocksdb` full: RocksDB takes a snapshot (synchronous part: the fixed cost only) and the
//!   asynchronous part writes every live key-value (no space amplification);
//! - `rocksdb` incremental (`RocksIncrementalSnapshotStrategy`): the synchronous part flushes the
//!   memtable; the checkpoint consists of every live SST file ([`lsm`]) and uploads only those the
//!   last *completed* checkpoint this task heard of does not hold (Flink's `uploadedSstFiles` of
//!   `lastCompletedCheckpointId`); the others are references;
//! - changelog (FLIP-158, [`changelog`]): every change is appended to a log persisted in batches in
//!   the background; a checkpoint uploads only the log's unpersisted tail and references the last
//!   materialized base and the persisted log since it.
//!
//! Operator state (a source's offset, a sink's transactions) is always a full snapshot, as in
//! Flink's `DefaultOperatorStateBackend`. Restoring puts back the backend as it was at the
//! snapshot (the same files, so the next incremental checkpoint references them).

pub mod changelog;
pub mod keygroups;
pub mod lsm;
pub mod registry;
pub mod savepoint;
pub mod storage;

use crate::protocol::CheckpointId;
use crate::scenario::{BackendKind, StateConfig};
use crate::sim::{MS, SimTime};
use changelog::Changelog;
use lsm::Lsm;
pub use registry::SharedRegistry;
use savepoint::SavepointFormat;
use std::collections::{BTreeMap, BTreeSet};

/// A file in the checkpoint storage: an id unique in the run, and its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateFile {
    /// Unique in the run (the task's number in the high bits).
    pub id: u64,
    /// Size.
    pub bytes: u64,
}

/// What one task's snapshot consists of in the checkpoint storage.
#[derive(Clone, Debug, Default)]
pub struct StateSnapshot {
    /// Every file a restore reads (uploaded now, earlier, or in the background).
    pub files: Vec<StateFile>,
    /// Bytes and files the last completed checkpoint did not hold (Flink's "Checkpointed Data
    /// Size", the incremental size).
    pub new_bytes: u64,
    /// Files among `files` that are new.
    pub new_files: u32,
    /// Bytes the asynchronous part uploads now.
    pub upload_bytes: u64,
    /// Files the asynchronous part uploads now.
    pub upload_files: u32,
    /// Bytes written in the synchronous part (0: only the fixed cost).
    pub sync_bytes: u64,
    /// Changelog: log bytes a restore re-applies on top of the base.
    pub replay_bytes: u64,
    /// Time the asynchronous part spends iterating and serializing the state before uploading
    /// (RocksDB's full snapshots and canonical savepoints read every key-value back).
    pub serialize: SimTime,
}

impl StateSnapshot {
    /// Everything a restore reads (Flink's "Full Checkpoint Data Size").
    pub fn full_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// A keyed operator's state backend as configured: kind, incrementality, changelog.
#[derive(Clone, Debug)]
enum Kind {
    /// Heap objects; full snapshots.
    Heap,
    /// RocksDB: an LSM tree; full or incremental snapshots; `iterate` bytes/s read back.
    Rocks { lsm: Box<Lsm>, incremental: bool, iterate: u64 },
}

/// One task's state backend.
#[derive(Clone, Debug)]
pub struct Backend {
    kind: Kind,
    keyed: bool,
    /// The next file id (the task's number in the high bits).
    next_id: u64,
    /// Files held by the last completed checkpoint this task heard of.
    confirmed: BTreeSet<u64>,
    /// The files of each snapshot taken since (pruned when a checkpoint completes).
    taken: BTreeMap<CheckpointId, Vec<u64>>,
    changelog: Option<Box<Changelog>>,
}

/// Snapshots remembered per task while none completes (older ones are forgotten).
const MAX_TAKEN: usize = 64;

impl Backend {
    /// The backend of task `task`: the configured one for keyed state, a heap one (full
    /// snapshots of operator state) otherwise.
    pub fn new(cfg: &StateConfig, task: u32, keyed: bool, bytes_per_key: u64) -> Self {
        let kind = match cfg.backend {
            BackendKind::Rocksdb if keyed => Kind::Rocks {
                lsm: Box::new(Lsm::new(&cfg.rocksdb, bytes_per_key)),
                incremental: cfg.incremental,
                iterate: cfg.rocksdb.iterate_mib_per_sec << 20,
            },
            _ => Kind::Heap,
        };
        let changelog = cfg
            .changelog
            .as_ref()
            .filter(|c| c.enabled && keyed)
            .map(|c| Box::new(Changelog::new(bytes_per_key, c.persist_delay_ms * MS)));
        Backend {
            kind,
            keyed,
            next_id: (task as u64 + 1) << 40,
            confirmed: BTreeSet::new(),
            taken: BTreeMap::new(),
            changelog,
        }
    }

    /// True for RocksDB: keyed writes must be reported with [`Backend::write`].
    #[inline]
    pub fn tracks_writes(&self) -> bool {
        matches!(self.kind, Kind::Rocks { .. }) || self.changelog.is_some()
    }

    /// A write to `key`'s state at `now`.
    #[inline]
    pub fn write(&mut self, key: u64, now: SimTime) {
        if let Kind::Rocks { lsm, .. } = &mut self.kind {
            lsm.write(key, &mut self.next_id);
        }
        if let Some(c) = &mut self.changelog {
            c.write(now, &mut self.next_id);
        }
    }

    /// Takes the snapshot of checkpoint `cp` at `now`; `live_bytes` is the state's logical size
    /// (what a full snapshot writes), `entries` its number of entries.
    pub fn snapshot(&mut self, cp: CheckpointId, now: SimTime, live_bytes: u64, entries: u64) -> StateSnapshot {
        let mut snap = StateSnapshot::default();
        let mut upload = Vec::new();
        if let Some(c) = &mut self.changelog {
            // The base and the persisted log are in the storage already; the tail is uploaded.
            let (files, tail, replay) = c.checkpoint(now, &mut self.next_id);
            snap.files = files;
            upload.extend(tail);
            snap.replay_bytes = replay;
        } else {
            match &mut self.kind {
                Kind::Heap => {
                    snap.sync_bytes = entries * 8;
                    upload.extend(full_file(live_bytes, &mut self.next_id));
                    snap.files = upload.clone();
                }
                Kind::Rocks { incremental: false, iterate, .. } => {
                    // RocksFullSnapshotStrategy: every key-value read back and written out.
                    snap.serialize = transfer(live_bytes, *iterate);
                    upload.extend(full_file(live_bytes, &mut self.next_id));
                    snap.files = upload.clone();
                }
                Kind::Rocks { lsm, incremental: true, .. } => {
                    snap.sync_bytes = lsm.memtable_flush_bytes();
                    lsm.flush(&mut self.next_id);
                    snap.files = lsm.files().collect();
                    upload.extend(snap.files.iter().filter(|f| !self.confirmed.contains(&f.id)));
                }
            }
        }
        for f in snap.files.iter().filter(|f| !self.confirmed.contains(&f.id)) {
            snap.new_bytes += f.bytes;
            snap.new_files += 1;
        }
        snap.upload_bytes = upload.iter().map(|f| f.bytes).sum();
        snap.upload_files = upload.len() as u32;
        self.taken.insert(cp, snap.files.iter().map(|f| f.id).collect());
        while self.taken.len() > MAX_TAKEN {
            self.taken.pop_first();
        }
        snap
    }

    /// A savepoint in `format`: self-contained (every file uploaded, none shared with the
    /// checkpoints), and not the base of later incremental checkpoints.
    pub fn savepoint(&mut self, format: SavepointFormat, live_bytes: u64, entries: u64) -> StateSnapshot {
        let mut snap = StateSnapshot::default();
        match (&mut self.kind, format) {
            (Kind::Rocks { lsm, .. }, SavepointFormat::Native) => {
                // The SST files, copied whole into the savepoint's directory.
                snap.sync_bytes = lsm.memtable_flush_bytes();
                lsm.flush(&mut self.next_id);
                let files: Vec<StateFile> = lsm.files().collect();
                for f in files {
                    snap.files.extend(full_file(f.bytes, &mut self.next_id));
                }
            }
            (Kind::Rocks { iterate, .. }, SavepointFormat::Canonical) => {
                // Every key-value iterated, serialized and written out.
                snap.serialize = transfer(live_bytes, *iterate);
                snap.files.extend(full_file(live_bytes, &mut self.next_id));
            }
            (Kind::Heap, _) => {
                snap.sync_bytes = entries * 8;
                snap.files.extend(full_file(live_bytes, &mut self.next_id));
            }
        }
        snap.new_bytes = snap.full_bytes();
        snap.new_files = snap.files.len() as u32;
        snap.upload_bytes = snap.new_bytes;
        snap.upload_files = snap.new_files;
        snap
    }

    /// The copy a snapshot keeps for [`Backend::restore`]: everything but the bookkeeping of
    /// confirmed and pending snapshots, which a restore replaces (it would cost a copy of up to
    /// 64 file lists per snapshot where checkpoints do not complete).
    pub fn image(&self) -> Backend {
        Backend {
            kind: self.kind.clone(),
            keyed: self.keyed,
            next_id: self.next_id,
            confirmed: BTreeSet::new(),
            taken: BTreeMap::new(),
            changelog: self.changelog.clone(),
        }
    }

    /// Checkpoint `cp` completed (`notifyCheckpointComplete`): its files become the base the next
    /// incremental checkpoint compares with.
    pub fn confirm(&mut self, cp: CheckpointId) {
        if let Some(files) = self.taken.remove(&cp) {
            self.confirmed = files.into_iter().collect();
        }
        self.taken.retain(|&id, _| id > cp);
    }

    /// Restores the backend as `snap` left it (an [`Backend::image`]), with `state`'s files as the
    /// confirmed base (`None`: back to empty). File ids keep counting up.
    pub fn restore(&mut self, snap: Option<(&Backend, &StateSnapshot)>, cfg: &StateConfig, task: u32, bpk: u64) {
        let next_id = self.next_id;
        match snap {
            Some((b, s)) => {
                *self = b.clone();
                self.confirmed = s.files.iter().map(|f| f.id).collect();
            }
            None => *self = Backend::new(cfg, task, self.keyed, bpk),
        }
        self.taken.clear();
        self.next_id = next_id;
        if let Some(c) = &mut self.changelog {
            c.cancel_materialization();
        }
    }

    /// Changelog: starts a periodic materialization; returns its id and the bytes and files to
    /// upload, or `None` (no changelog, one in progress, or nothing changed since the last).
    pub fn start_materialization(&mut self, live_bytes: u64) -> Option<(u64, u64, u32)> {
        let c = self.changelog.as_mut()?;
        c.start_materialization(&mut self.kind, live_bytes, &mut self.next_id)
    }

    /// Changelog: materialization `id` is uploaded; the log before it is no longer needed.
    pub fn finish_materialization(&mut self, id: u64) {
        if let Some(c) = &mut self.changelog {
            c.finish_materialization(id);
        }
    }

    /// LSM shape and activity for reports: files per level, flushes, compactions, compacted bytes.
    pub fn lsm_stats(&self) -> Option<(Vec<usize>, u64, u64, u64)> {
        match &self.kind {
            Kind::Rocks { lsm, .. } => Some((lsm.shape(), lsm.flushes, lsm.compactions, lsm.compacted_bytes)),
            Kind::Heap => None,
        }
    }

    /// Changelog: bytes persisted in the background so far.
    pub fn background_bytes(&self) -> u64 {
        self.changelog.as_ref().map_or(0, |c| c.background_bytes)
    }
}

/// Time to move `bytes` at `per_sec`.
fn transfer(bytes: u64, per_sec: u64) -> SimTime {
    (bytes as u128 * crate::sim::SEC as u128 / per_sec.max(1) as u128) as SimTime
}

/// A full snapshot's single file (none for empty state).
fn full_file(bytes: u64, next_id: &mut u64) -> Option<StateFile> {
    (bytes > 0).then(|| {
        let id = *next_id;
        *next_id += 1;
        StateFile { id, bytes }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::RocksDbSpec;

    fn rocks(incremental: bool) -> StateConfig {
        StateConfig {
            backend: BackendKind::Rocksdb,
            incremental,
            rocksdb: RocksDbSpec { write_buffer_kib: 1 << 20, ..RocksDbSpec::default() },
            ..StateConfig::default()
        }
    }

    #[test]
    fn hashmap_uploads_everything_every_time() {
        let mut b = Backend::new(&StateConfig::default(), 0, true, 16);
        let s1 = b.snapshot(1, 0, 1600, 100);
        b.confirm(1);
        let s2 = b.snapshot(2, 0, 1600, 100);
        assert_eq!((s1.upload_bytes, s2.upload_bytes, s2.new_bytes, s2.full_bytes()), (1600, 1600, 1600, 1600));
        assert_eq!(s2.sync_bytes, 100 * 8, "the table of references, not the entries");
    }

    #[test]
    fn incremental_uploads_only_new_sst_files_after_a_completed_checkpoint() {
        let mut b = Backend::new(&rocks(true), 0, true, 16);
        for k in 0..100 {
            b.write(k, 0);
        }
        let s1 = b.snapshot(1, 0, 1600, 100);
        assert_eq!((s1.upload_bytes, s1.sync_bytes, s1.full_bytes()), (1600, 1600, 1600));
        // Not confirmed yet: checkpoint 2 uploads everything again (Flink compares with the last
        // *completed* checkpoint).
        b.write(5, 0);
        let s2 = b.snapshot(2, 0, 1600, 100);
        assert_eq!(s2.upload_bytes, 1600 + 16);
        b.confirm(2);
        b.write(6, 0);
        let s3 = b.snapshot(3, 0, 1600, 100);
        assert_eq!((s3.upload_bytes, s3.new_files, s3.full_bytes()), (16, 1, 1600 + 32));
    }

    #[test]
    fn rocksdb_full_writes_the_live_state_once() {
        let mut b = Backend::new(&rocks(false), 0, true, 16);
        for k in 0..100 {
            b.write(k % 10, 0);
        }
        let s = b.snapshot(1, 0, 160, 10);
        assert_eq!((s.upload_bytes, s.sync_bytes), (160, 0));
        assert_eq!(s.serialize, 160 * crate::sim::SEC / (128 << 20), "read back at iterate_mib_per_sec");
    }

    #[test]
    fn a_restore_references_the_restored_files() {
        let cfg = rocks(true);
        let mut b = Backend::new(&cfg, 0, true, 16);
        for k in 0..10 {
            b.write(k, 0);
        }
        let s1 = b.snapshot(1, 0, 160, 10);
        let saved = b.clone();
        for k in 10..20 {
            b.write(k, 0);
        }
        b.restore(Some((&saved, &s1)), &cfg, 0, 16);
        b.write(99, 0);
        let s2 = b.snapshot(2, 0, 176, 11);
        assert_eq!(s2.upload_bytes, 16, "only the file written after the restore");
        assert!(s2.files.iter().all(|f| f.id < b.next_id));
        let ids: BTreeSet<u64> = s2.files.iter().map(|f| f.id).collect();
        assert_eq!(ids.len(), s2.files.len());
    }
}
