//! The changelog state backend (FLIP-158, generic log-based incremental checkpoints).
//!
//! Every state change is appended to a log (one change = one key's new value, `bytes_per_key`).
//! The log is persisted to the storage in batches, one per `persist_delay` period with changes
//! (Flink's DSTL `batch.persist-delay`), in the background. A checkpoint persists the batch still
//! open (the *tail*: its whole asynchronous upload) and consists of the last materialized base
//! plus the persisted log since it. A periodic materialization makes the underlying backend
//! upload a snapshot of its own (a full copy for hashmap, new SST files for RocksDB); once it is
//! uploaded, checkpoints reference it and the log before it is dropped. A restore downloads the
//! base and the log, then re-applies the log.
//!
//! Not modelled: the background uploads' share of the storage bandwidth.

use super::{Kind, StateFile};
use crate::sim::SimTime;

/// One task's change log.
#[derive(Clone, Debug)]
pub struct Changelog {
    bytes_per_change: u64,
    persist_delay: SimTime,
    /// The materialized base (empty before the first materialization).
    base: Vec<StateFile>,
    /// Persisted log batches since the base.
    segments: Vec<StateFile>,
    /// Changes not yet persisted, and the persist period they belong to.
    open_bytes: u64,
    open_period: u64,
    /// A materialization in progress: its id, files, and the segments it covers.
    materializing: Option<(u64, Vec<StateFile>, usize)>,
    /// Bytes persisted in the background so far.
    pub(super) background_bytes: u64,
}

impl Changelog {
    /// An empty log.
    pub fn new(bytes_per_change: u64, persist_delay: SimTime) -> Self {
        Changelog {
            bytes_per_change,
            persist_delay: persist_delay.max(1),
            base: Vec::new(),
            segments: Vec::new(),
            open_bytes: 0,
            open_period: 0,
            materializing: None,
            background_bytes: 0,
        }
    }

    /// A change at `now`: a batch whose period ended is persisted first.
    #[inline]
    pub fn write(&mut self, now: SimTime, next_id: &mut u64) {
        self.roll(now, next_id);
        self.open_bytes += self.bytes_per_change;
    }

    /// Persists the open batch if its period ended before `now`.
    fn roll(&mut self, now: SimTime, next_id: &mut u64) {
        let period = now / self.persist_delay;
        if period != self.open_period {
            self.persist_in_background(next_id);
            self.open_period = period;
        }
    }

    /// Persists the open batch, if it holds changes, as a background upload.
    fn persist_in_background(&mut self, next_id: &mut u64) {
        if self.open_bytes > 0 {
            self.background_bytes += self.open_bytes;
            let f = self.persist(next_id);
            self.segments.push(f);
        }
    }

    fn persist(&mut self, next_id: &mut u64) -> StateFile {
        let f = StateFile { id: *next_id, bytes: std::mem::take(&mut self.open_bytes) };
        *next_id += 1;
        f
    }

    /// A checkpoint at `now`: its files (base + log), the tail it uploads, the bytes to replay.
    pub fn checkpoint(&mut self, now: SimTime, next_id: &mut u64) -> (Vec<StateFile>, Option<StateFile>, u64) {
        self.roll(now, next_id);
        let tail = (self.open_bytes > 0).then(|| self.persist(next_id));
        self.segments.extend(tail);
        let files = self.base.iter().chain(&self.segments).copied().collect();
        let replay = self.segments.iter().map(|f| f.bytes).sum();
        (files, tail, replay)
    }

    /// Starts a materialization of `kind`'s state: returns `(id, bytes, files)` to upload, or
    /// `None` when one is in progress or nothing changed since the base.
    pub(super) fn start_materialization(
        &mut self,
        kind: &mut Kind,
        live_bytes: u64,
        next_id: &mut u64,
    ) -> Option<(u64, u64, u32)> {
        if self.materializing.is_some() || (self.segments.is_empty() && self.open_bytes == 0) {
            return None;
        }
        // The open batch is persisted so the base covers a whole number of segments.
        self.persist_in_background(next_id);
        let (files, upload): (Vec<StateFile>, Vec<StateFile>) = match kind {
            Kind::Heap | Kind::Rocks { incremental: false, .. } => {
                let f = super::full_file(live_bytes, next_id).into_iter().collect::<Vec<_>>();
                (f.clone(), f)
            }
            Kind::Rocks { lsm, incremental: true, .. } => {
                lsm.flush(next_id);
                let files: Vec<StateFile> = lsm.files().collect();
                let new = files.iter().filter(|f| !self.base.iter().any(|b| b.id == f.id)).copied().collect();
                (files, new)
            }
        };
        // Ids come from the file counter, which a restore never rewinds: a stale upload of a
        // materialization lost in a failure can never finish a newer one.
        let id = *next_id;
        *next_id += 1;
        self.materializing = Some((id, files, self.segments.len()));
        Some((id, upload.iter().map(|f| f.bytes).sum(), upload.len() as u32))
    }

    /// Materialization `id` is uploaded: it becomes the base and the log it covers is dropped.
    pub fn finish_materialization(&mut self, id: u64) {
        if self.materializing.as_ref().is_some_and(|m| m.0 == id) {
            let (_, files, covered) = self.materializing.take().expect("checked");
            self.base = files;
            self.segments.drain(..covered);
        }
    }

    /// A restore drops a materialization in progress (its upload is lost).
    pub fn cancel_materialization(&mut self) {
        self.materializing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::MS;

    #[test]
    fn a_checkpoint_uploads_only_the_open_batch() {
        let mut c = Changelog::new(16, 10 * MS);
        let mut id = 0;
        for i in 0..100 {
            c.write(i * MS, &mut id);
        }
        // Periods 0..9 are persisted in the background; the batch of period 9 is open at 99 ms.
        let (files, tail, replay) = c.checkpoint(99 * MS, &mut id);
        assert_eq!(tail.map(|f| f.bytes), Some(10 * 16));
        assert_eq!(files.len(), 10);
        assert_eq!(replay, 100 * 16);
        assert_eq!(c.background_bytes, 90 * 16);
    }

    #[test]
    fn materialization_replaces_the_log_it_covers() {
        let mut c = Changelog::new(16, 10 * MS);
        let mut id = 0;
        let mut kind = Kind::Heap;
        for i in 0..50 {
            c.write(i * MS, &mut id);
        }
        let (m, bytes, files) = c.start_materialization(&mut kind, 800, &mut id).unwrap();
        assert_eq!((bytes, files), (800, 1));
        assert!(c.start_materialization(&mut kind, 800, &mut id).is_none(), "one at a time");
        for i in 50..60 {
            c.write(i * MS, &mut id);
        }
        c.finish_materialization(m);
        let (files, _, replay) = c.checkpoint(60 * MS, &mut id);
        // The base and the 10 changes after the materialization started.
        assert_eq!(files.iter().map(|f| f.bytes).sum::<u64>(), 800 + 10 * 16);
        assert_eq!(replay, 10 * 16);
    }
}
