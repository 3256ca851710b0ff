//! The coordinator's settings in simulation units, from the scenario's `checkpointing` section.

use crate::scenario::{Checkpointing, ProtocolName};
use crate::sim::{MS, SEC, SimTime, US};

/// Coordinator settings in simulation units.
#[derive(Clone, Debug)]
pub struct CoordinatorConfig {
    /// Trigger interval.
    pub interval: SimTime,
    /// Abort after this long.
    pub timeout: SimTime,
    /// Pause between the last completed checkpoint and the next trigger.
    pub min_pause: SimTime,
    /// Checkpoints in progress at once.
    pub max_concurrent: usize,
    /// Aborted checkpoints tolerated before the job fails.
    pub tolerable_failed: u32,
    /// `aligned_timeout` only: when a checkpoint turns unaligned, after its trigger.
    pub aligned_timeout: Option<SimTime>,
    /// Fixed part of the synchronous snapshot.
    pub sync_base: SimTime,
    /// Bytes per second of the synchronous state copy.
    pub sync_bytes_per_sec: u64,
    /// Latency of writing one file.
    pub write_latency: SimTime,
    /// Upload bytes per second, per task.
    pub write_bytes_per_sec: u64,
    /// Total bytes per second of the storage, shared by concurrent uploads.
    pub storage_bytes_per_sec: u64,
    /// Files a task uploads at once.
    pub upload_threads: u64,
    /// Subtasks of an operator sharing one channel-state file.
    pub subtasks_per_channel_state_file: u32,
    /// Latency of one task's download at a restore.
    pub read_latency: SimTime,
    /// Download bytes per second at a restore, shared by the restoring tasks.
    pub read_bytes_per_sec: u64,
    /// Task-local recovery: only crashed tasks download their state.
    pub local_recovery: bool,
    /// Completed checkpoints kept in the storage (`state.checkpoints.num-retained`).
    pub num_retained: u32,
}

impl CoordinatorConfig {
    /// From the scenario's `checkpointing` section, for `protocol`.
    pub fn new(c: &Checkpointing, protocol: ProtocolName) -> Self {
        CoordinatorConfig {
            interval: c.interval_ms * MS,
            timeout: c.timeout_ms * MS,
            min_pause: c.min_pause_ms * MS,
            max_concurrent: c.max_concurrent as usize,
            tolerable_failed: c.tolerable_failed_checkpoints,
            aligned_timeout: protocol
                .info()
                .uses_aligned_timeout
                .then(|| c.aligned_checkpoint_timeout_ms.map(|m| m * MS))
                .flatten(),
            sync_base: c.storage.sync_base_us * US,
            sync_bytes_per_sec: c.storage.sync_mib_per_sec << 20,
            write_latency: c.storage.write_latency_ms * MS,
            write_bytes_per_sec: c.storage.write_mib_per_sec << 20,
            storage_bytes_per_sec: c.storage.bandwidth_mib_per_sec << 20,
            upload_threads: c.storage.upload_threads as u64,
            subtasks_per_channel_state_file: c.storage.max_subtasks_per_channel_state_file,
            read_latency: c.storage.read_latency_ms * MS,
            read_bytes_per_sec: c.storage.read_mib_per_sec << 20,
            local_recovery: c.storage.local_recovery,
            num_retained: 1,
        }
    }

    /// The latency of writing `files` files, `upload_threads` at a time.
    pub fn files_latency(&self, files: u64) -> SimTime {
        self.write_latency * files.div_ceil(self.upload_threads.max(1))
    }

    /// Time to copy `bytes` at `per_sec`.
    pub fn transfer(bytes: u64, per_sec: u64) -> SimTime {
        (bytes as u128 * SEC as u128 / per_sec as u128) as SimTime
    }
}
