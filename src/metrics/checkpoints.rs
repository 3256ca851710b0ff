//! The per-checkpoint rows: `checkpoints.csv` (one row per checkpoint) and
//! `checkpoint_tasks.csv` (one row per task and checkpoint), and how a checkpoint ended.

use crate::protocol::CheckpointId;
use serde::Serialize;

/// How a checkpoint ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every task acked.
    Completed,
    /// Not complete within `timeout_ms`.
    TimedOut,
    /// Still in progress when the run ended (the default: not ended yet).
    #[default]
    Unfinished,
    /// Abandoned because a task failed (does not count towards the tolerable failures).
    Failed,
    /// Abandoned because a newer checkpoint completed first (Flink's `CHECKPOINT_SUBSUMED`).
    Subsumed,
}

impl Outcome {
    /// snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::TimedOut => "timed_out",
            Outcome::Unfinished => "unfinished",
            Outcome::Failed => "failed",
            Outcome::Subsumed => "subsumed",
        }
    }
}

/// One row of `checkpoints.csv`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckpointStats {
    /// Checkpoint id.
    pub id: CheckpointId,
    /// Trigger time.
    pub trigger_ms: f64,
    /// Completion or abort time.
    pub end_ms: f64,
    /// How it ended.
    pub outcome: Outcome,
    /// End − trigger (Flink's "End to End Duration" of the checkpoint).
    pub duration_ms: f64,
    /// Largest start delay: trigger → a task processes its first barrier (Flink's "Start Delay").
    pub start_delay_max_ms: f64,
    /// Largest alignment: a task's first → latest processed barrier (Flink's "Alignment
    /// Duration"; it runs until the last barrier for unaligned checkpoints too).
    pub alignment_max_ms: f64,
    /// Largest synchronous part (Flink's "Sync Duration").
    pub sync_max_ms: f64,
    /// Largest asynchronous upload (Flink's "Async Duration").
    pub async_max_ms: f64,
    /// State, all tasks: every file a restore reads (Flink's "Full Checkpoint Data Size").
    pub state_bytes: u64,
    /// State files the last completed checkpoint did not hold (Flink's "Checkpointed Data
    /// Size": the incremental size; equal to `state_bytes` for full snapshots).
    pub incremental_bytes: u64,
    /// State files the asynchronous parts uploaded.
    pub uploaded_files: u64,
    /// State files referenced from earlier checkpoints (RocksDB incremental, changelog).
    pub referenced_files: u64,
    /// Bytes the checkpoint storage holds once this checkpoint completed: its files and the
    /// retained older checkpoints' (`state.checkpoints.num-retained`); 0 when not completed.
    pub storage_bytes: u64,
    /// Channel state (in-flight data), all channels (Flink's "Persisted Data").
    pub channel_state_bytes: u64,
    /// Channel state in records.
    pub channel_state_records: u64,
    /// Channel-state files: one per group of `max_subtasks_per_channel_state_file` subtasks of
    /// an operator with channel state.
    pub channel_state_files: u64,
    /// Data the tasks processed during alignment, all tasks (Flink's "Processed Data").
    pub processed_bytes: u64,
    /// Consistent-cut violations found in this checkpoint (completed ones only).
    pub cut_violations: usize,
}

/// One row of `checkpoint_tasks.csv`: one task in one checkpoint. Times in ms; empty when the
/// moment never came.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct TaskCheckpointRow {
    /// Checkpoint id.
    pub id: CheckpointId,
    /// Task name.
    pub task: String,
    /// First barrier reached the task.
    pub first_barrier_ms: Option<f64>,
    /// Last barrier reached the task.
    pub last_barrier_ms: Option<f64>,
    /// First barrier − trigger (Flink's "Start Delay").
    pub start_delay_ms: Option<f64>,
    /// Last barrier − first barrier (Flink's "Alignment Duration").
    pub alignment_ms: Option<f64>,
    /// Snapshot time.
    pub snapshot_ms: Option<f64>,
    /// Synchronous part.
    pub sync_ms: Option<f64>,
    /// Upload.
    pub async_ms: Option<f64>,
    /// Ack received by the coordinator.
    pub ack_ms: Option<f64>,
    /// Ack − trigger (Flink's per-subtask "End to End Duration").
    pub end_to_end_ms: Option<f64>,
    /// Data taken from the inputs between the first and the latest barrier (Flink's
    /// "Processed Data").
    pub processed_bytes: u64,
    /// State: every file a restore reads.
    pub state_bytes: u64,
    /// State files new in this checkpoint (the incremental size).
    pub incremental_bytes: u64,
    /// State bytes the asynchronous part uploaded.
    pub uploaded_bytes: u64,
    /// Channel state this task persisted (Flink's "Persisted Data").
    pub channel_state_bytes: u64,
}
