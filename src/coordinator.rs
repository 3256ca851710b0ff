//! The checkpoint coordinator's bookkeeping (Flink's `CheckpointCoordinator`): settings, the
//! checkpoints in progress with every task's snapshot and every channel's recorded state, and the
//! statistics of finished checkpoints. The engine drives it (`engine/checkpoint.rs`): triggers,
//! barriers, acks, completion and aborts happen there.

use crate::graph::{ChannelId, Graph};
use crate::operator::sink::Precommitted;
use crate::operator::{LogCursor, Logic, Record};
use crate::protocol::{CheckpointId, CheckpointTiming};
use crate::scenario::{Checkpointing, ProtocolName};
use crate::sim::{MS, SEC, SimTime, US};
use crate::verify::CutViolation;
use serde::Serialize;
use std::collections::BTreeMap;

/// Coordinator settings in simulation units.
#[derive(Clone, Debug)]
pub struct CoordinatorConfig {
    /// Trigger interval.
    pub interval: SimTime,
    /// Abort after this long.
    pub timeout: SimTime,
    /// Pause between the end of one checkpoint and the next trigger.
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
    /// Latency of an upload.
    pub write_latency: SimTime,
    /// Upload bytes per second.
    pub write_bytes_per_sec: u64,
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
            aligned_timeout: (protocol == ProtocolName::ALIGNED_TIMEOUT)
                .then(|| c.aligned_checkpoint_timeout_ms.map(|m| m * MS))
                .flatten(),
            sync_base: c.storage.sync_base_us * US,
            sync_bytes_per_sec: c.storage.sync_mib_per_sec << 20,
            write_latency: c.storage.write_latency_ms * MS,
            write_bytes_per_sec: c.storage.write_mib_per_sec << 20,
        }
    }

    /// Time to copy `bytes` at `per_sec`.
    pub fn transfer(bytes: u64, per_sec: u64) -> SimTime {
        (bytes as u128 * SEC as u128 / per_sec as u128) as SimTime
    }
}

/// What a task's snapshot captured, with the engine's ground truth at that instant.
#[derive(Clone, Debug)]
pub struct TaskSnapshot {
    /// When it was taken.
    pub at: SimTime,
    /// Operator state size.
    pub state_bytes: u64,
    /// The operator's fold of the records it applied (sum of lineage digests).
    pub state_digest: u64,
    /// Ground truth: sum of the lineage digests of the records taken from its inputs.
    pub consumed_digest: u64,
    /// Ground truth: records taken from each input channel so far (`r`), with the sum of their
    /// lineage digests.
    pub consumed: Vec<(ChannelId, u64, u64)>,
    /// Ground truth: records written to each output channel so far (`s`).
    pub sent: Vec<(ChannelId, u64)>,
    /// Duration of the synchronous part.
    pub sync: SimTime,
    /// A copy of the operator state (what a restore puts back).
    pub logic: Logic,
    /// Sources: the log position to rewind to.
    pub cursor: Option<LogCursor>,
    /// Sinks: the pre-committed transactions not yet committed.
    pub sink: Precommitted,
}

/// One task's progress in one checkpoint.
#[derive(Clone, Debug, Default)]
pub struct TaskProgress {
    /// First barrier (or trigger, for a source) reaching the task.
    pub first_barrier: Option<SimTime>,
    /// Latest barrier reaching the task.
    pub last_barrier: Option<SimTime>,
    /// The snapshot, once taken.
    pub snapshot: Option<TaskSnapshot>,
    /// Input channels still being recorded.
    pub open_recordings: u32,
    /// The synchronous part finished.
    pub sync_done: bool,
    /// Upload start and duration, once started.
    pub upload: Option<(SimTime, SimTime)>,
    /// Channel-state bytes this task uploads (its recorded inputs and overtaken outputs).
    pub channel_bytes: u64,
    /// When the coordinator received the ack.
    pub acked: Option<SimTime>,
}

/// One channel's recorded state in one checkpoint.
#[derive(Clone, Debug, Default)]
pub struct ChannelProgress {
    /// Recorded by the receiver: data ahead of the barrier it had not consumed at its snapshot.
    pub input: Vec<Record>,
    /// Recorded by the sender: data its priority barrier overtook.
    pub output: Vec<Record>,
    /// The receiver is recording arrivals (snapshot taken, barrier not yet arrived).
    pub recording: bool,
    /// Records that had arrived at the receiver when the barrier arrived.
    pub barrier_bound: Option<u64>,
}

/// A checkpoint in progress.
#[derive(Clone, Debug)]
pub struct Pending {
    /// Id, trigger time, deadline.
    pub timing: CheckpointTiming,
    /// Per task.
    pub tasks: Vec<TaskProgress>,
    /// Per channel.
    pub channels: Vec<ChannelProgress>,
    /// Acks received.
    pub acks: usize,
}

impl Pending {
    /// A fresh checkpoint over `graph`.
    pub fn new(timing: CheckpointTiming, graph: &Graph) -> Self {
        Pending {
            timing,
            tasks: vec![TaskProgress::default(); graph.tasks.len()],
            channels: vec![ChannelProgress::default(); graph.channels.len()],
            acks: 0,
        }
    }
}

/// How a checkpoint ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every task acked.
    Completed,
    /// Not complete within `timeout_ms`.
    TimedOut,
    /// Still in progress when the run ended.
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
#[derive(Clone, Debug, Serialize)]
pub struct CheckpointStats {
    /// Checkpoint id.
    pub id: CheckpointId,
    /// Trigger time.
    pub trigger_ms: f64,
    /// Completion or abort time.
    pub end_ms: f64,
    /// How it ended.
    pub outcome: Outcome,
    /// End − trigger.
    pub duration_ms: f64,
    /// Largest start delay (trigger → first barrier at a task).
    pub start_delay_max_ms: f64,
    /// Largest alignment (first barrier → snapshot at a task).
    pub alignment_max_ms: f64,
    /// Largest synchronous part.
    pub sync_max_ms: f64,
    /// Largest asynchronous upload.
    pub async_max_ms: f64,
    /// Operator state, all tasks.
    pub state_bytes: u64,
    /// Channel state (in-flight data), all channels.
    pub channel_state_bytes: u64,
    /// Channel state in records.
    pub channel_state_records: u64,
    /// Consistent-cut violations found in this checkpoint (completed ones only).
    pub cut_violations: usize,
}

impl crate::metrics::CsvRow for CheckpointStats {
    /// CSV header.
    const CSV_HEADER: &'static str = "id,trigger_ms,end_ms,outcome,duration_ms,start_delay_max_ms,alignment_max_ms,sync_max_ms,async_max_ms,state_bytes,channel_state_bytes,channel_state_records,cut_violations";

    /// As CSV.
    fn to_csv(&self) -> String {
        format!(
            "{},{:.3},{:.3},{},{:.3},{:.3},{:.3},{:.3},{:.3},{},{},{},{}",
            self.id,
            self.trigger_ms,
            self.end_ms,
            self.outcome.name(),
            self.duration_ms,
            self.start_delay_max_ms,
            self.alignment_max_ms,
            self.sync_max_ms,
            self.async_max_ms,
            self.state_bytes,
            self.channel_state_bytes,
            self.channel_state_records,
            self.cut_violations
        )
    }
}

/// One row of `checkpoint_tasks.csv`: one task in one checkpoint. Times in ms; empty when the
/// moment never came.
#[derive(Clone, Debug, Serialize)]
pub struct TaskCheckpointRow {
    /// Checkpoint id.
    pub id: CheckpointId,
    /// Task name.
    pub task: String,
    /// First barrier reached the task.
    pub first_barrier_ms: Option<f64>,
    /// Last barrier reached the task.
    pub last_barrier_ms: Option<f64>,
    /// First barrier − trigger.
    pub start_delay_ms: Option<f64>,
    /// Snapshot − first barrier.
    pub alignment_ms: Option<f64>,
    /// Snapshot time.
    pub snapshot_ms: Option<f64>,
    /// Synchronous part.
    pub sync_ms: Option<f64>,
    /// Upload.
    pub async_ms: Option<f64>,
    /// Ack received by the coordinator.
    pub ack_ms: Option<f64>,
    /// Operator state.
    pub state_bytes: u64,
    /// Channel state this task persisted.
    pub channel_state_bytes: u64,
}

impl crate::metrics::CsvRow for TaskCheckpointRow {
    /// CSV header.
    const CSV_HEADER: &'static str = "id,task,first_barrier_ms,last_barrier_ms,start_delay_ms,alignment_ms,snapshot_ms,sync_ms,async_ms,ack_ms,state_bytes,channel_state_bytes";

    /// As CSV.
    fn to_csv(&self) -> String {
        let f = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_default();
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            self.id,
            self.task,
            f(self.first_barrier_ms),
            f(self.last_barrier_ms),
            f(self.start_delay_ms),
            f(self.alignment_ms),
            f(self.snapshot_ms),
            f(self.sync_ms),
            f(self.async_ms),
            f(self.ack_ms),
            self.state_bytes,
            self.channel_state_bytes
        )
    }
}

/// A completed checkpoint: what a recovery restores.
#[derive(Clone, Debug)]
pub struct Completed {
    /// The checkpoint.
    pub id: CheckpointId,
    /// Per task, its snapshot.
    pub tasks: Vec<TaskSnapshot>,
    /// Per channel, the recorded state: the receiver's part, then the sender's (records `r..s`).
    pub channel_state: Vec<Vec<Record>>,
}

impl From<Pending> for Completed {
    /// The completed form of a checkpoint whose every task snapshotted.
    fn from(p: Pending) -> Self {
        Completed {
            id: p.timing.id,
            tasks: p
                .tasks
                .into_iter()
                .map(|t| t.snapshot.expect("a completed checkpoint has every snapshot"))
                .collect(),
            channel_state: p
                .channels
                .into_iter()
                .map(|mut c| {
                    c.input.append(&mut c.output);
                    c.input
                })
                .collect(),
        }
    }
}

/// The coordinator's state.
#[derive(Debug)]
pub struct Coordinator {
    /// Settings.
    pub cfg: CoordinatorConfig,
    /// Checkpoints in progress.
    pub pending: BTreeMap<CheckpointId, Pending>,
    /// Next checkpoint id.
    pub next_id: CheckpointId,
    /// When the last checkpoint ended (completed or aborted).
    pub last_end: Option<SimTime>,
    /// Aborted checkpoints so far.
    pub failed: u32,
    /// Set when more than `tolerable_failed` checkpoints were aborted: no more triggers.
    pub job_failed: Option<String>,
    /// A trigger is due but waits for `max_concurrent` or `min_pause`.
    pub trigger_waiting: bool,
    /// Finished checkpoints.
    pub stats: Vec<CheckpointStats>,
    /// Per task and checkpoint.
    pub task_rows: Vec<TaskCheckpointRow>,
    /// The latest completed checkpoint: what a restart restores.
    pub latest: Option<Completed>,
    /// The final checkpoint after the sources finished (FLIP-147) was triggered.
    pub final_triggered: bool,
    /// Consistent-cut checks run (one per completed checkpoint).
    pub cut_checked: usize,
    /// All violations found.
    pub cut_violations: Vec<CutViolation>,
}

impl Coordinator {
    /// A coordinator with no checkpoint yet.
    pub fn new(cfg: CoordinatorConfig) -> Self {
        Coordinator {
            cfg,
            pending: BTreeMap::new(),
            next_id: 1,
            last_end: None,
            failed: 0,
            job_failed: None,
            trigger_waiting: false,
            stats: Vec::new(),
            task_rows: Vec::new(),
            latest: None,
            final_triggered: false,
            cut_checked: 0,
            cut_violations: Vec::new(),
        }
    }
}
