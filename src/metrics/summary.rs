//! The machine-readable results of a run: `summary.json` and the rows of `timeseries.csv`.
//! Field names are stable: tools and tests read them.

use serde::Serialize;
use std::collections::BTreeMap;

/// `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Seed of the run.
    pub seed: u64,
    /// Scenario fingerprint (16 hex digits).
    pub fingerprint: String,
    /// Snapshot protocol (`"none"`: no checkpointing).
    pub protocol: String,
    /// State backend (`hashmap`, `rocksdb`, `rocksdb-incremental`, with `+changelog`).
    pub state_backend: String,
    /// Simulated time at which the last event happened.
    pub sim_time_ns: u64,
    /// Events handled by the event loop.
    pub events: u64,
    /// Trace events hashed into `trace_hash`.
    pub trace_events: u64,
    /// Stable hash of the trace (16 hex digits).
    pub trace_hash: String,
    /// True when every task finished (all input consumed, nothing left in flight).
    pub drained: bool,
    /// Why the watchdog stopped the run (`limits` in the scenario), if it did: a run that made no
    /// progress, or ran past its simulated-time limit. `drained` is then false.
    pub watchdog: Option<String>,
    /// When the job was cancelled (`limits.cancel_at_ms`), if it was; `drained` is then false.
    pub cancelled_at_ms: Option<f64>,
    /// Record counts.
    pub records: RecordCounts,
    /// Latency from log arrival to sink, in milliseconds.
    pub latency_ms: LatencySummary,
    /// Source records read per simulated second, from the first to the last event.
    pub throughput_rps: f64,
    /// When a sink took its last record (ms; 0 when none did). With a finite input: the time the
    /// job took to process it, before the final checkpoint commits it.
    pub last_at_sink_ms: f64,
    /// Per task: fraction of the run it spent blocked on a full output channel.
    pub backpressure: BTreeMap<String, f64>,
    /// Per channel (`from->to`): the most data buffers ever queued at the receiver.
    pub max_queued_buffers: BTreeMap<String, u32>,
    /// The bound no receiver queue may exceed: `buffers_per_channel + floating_buffers_per_gate`.
    pub credit_bound: u32,
    /// Total time input channels were blocked by alignment, summed over channels.
    pub input_blocked_ms: f64,
    /// Checkpoint statistics (all zero without checkpointing).
    pub checkpoints: CheckpointSummary,
    /// Consistent-cut checks of completed checkpoints.
    pub consistent_cut: CutSummary,
    /// Task crashes injected.
    pub failures: u32,
    /// Restarts performed.
    pub recoveries: u32,
    /// Why the job failed for good (restart attempts exhausted), if it did.
    pub job_failed: Option<String>,
    /// Recovery figures.
    pub recovery: RecoverySummary,
    /// The exactly-once oracle (`checked: false` until it runs; see `verify::oracle`).
    pub exactly_once: ExactlyOnceSummary,
    /// Stop-with-savepoint, when asked for: the savepoint, or why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savepoint: Option<SavepointSummary>,
    /// The savepoint the run started from (its checkpoint id), and what changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<RestoredSummary>,
    /// Uncoordinated checkpoints: local checkpoints and recovery lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncoordinated: Option<UncoordinatedSummary>,
}

/// `summary.json` → `savepoint`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SavepointSummary {
    /// Its checkpoint id (`None`: it failed).
    pub checkpoint_id: Option<u64>,
    /// When it was triggered and completed (ms).
    pub triggered_ms: Option<f64>,
    /// When it completed.
    pub completed_ms: Option<f64>,
    /// Bytes of state it holds.
    pub bytes: u64,
    /// `canonical` or `native`.
    pub format: String,
    /// Taken with `--drain`.
    pub drained: bool,
    /// Why the savepoint failed (the job ran on).
    pub failed: Option<String>,
}

/// `summary.json` → `restored_from`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RestoredSummary {
    /// `savepoint` or `checkpoint` (a retained one).
    pub kind: String,
    /// Its checkpoint id.
    pub checkpoint_id: u64,
    /// What changed against the savepoint's job (rescaled, new and dropped operators).
    pub notes: Vec<String>,
}

impl Summary {
    /// The checks this run failed, in words: a consistent-cut or exactly-once violation, output
    /// visible before its checkpoint completed, a job that failed for good, a watchdog stop.
    /// Empty when every check that ran passed (the CLI exits 1 otherwise).
    pub fn failed_checks(&self) -> Vec<&'static str> {
        let mut failed = Vec::new();
        if self.consistent_cut.violations > 0 {
            failed.push("consistent cut violated");
        }
        if self.exactly_once.violations > 0 {
            failed.push("exactly-once violated");
        }
        if self.records.visible_before_completion > 0 {
            failed.push("output visible before its checkpoint completed");
        }
        if self.job_failed.is_some() {
            failed.push("the job failed");
        }
        if self.watchdog.is_some() {
            failed.push("stopped by the watchdog");
        }
        if self.savepoint.as_ref().is_some_and(|s| s.failed.is_some()) {
            failed.push("stop-with-savepoint failed");
        }
        failed
    }
}

/// `p50`, `p99` and `max` of a figure.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Percentiles {
    /// Median (nearest rank).
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values` (all zero when empty).
    pub fn of(mut values: Vec<f64>) -> Self {
        if values.is_empty() {
            return Percentiles::default();
        }
        values.sort_by(f64::total_cmp);
        let at = |p: f64| values[((p / 100.0 * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Percentiles { p50: at(50.0), p99: at(99.0), max: values[values.len() - 1] }
    }
}

/// `summary.json` → `checkpoints`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckpointSummary {
    /// Checkpoints triggered.
    pub triggered: usize,
    /// Completed (every task acked).
    pub completed: usize,
    /// Aborted (timed out).
    pub aborted: usize,
    /// Abandoned because a task failed.
    pub failed: usize,
    /// Abandoned because a newer checkpoint completed first.
    pub subsumed: usize,
    /// Still in progress when the run ended (a liveness problem).
    pub unfinished: usize,
    /// End-to-end duration of completed checkpoints.
    pub duration_ms: Percentiles,
    /// Largest per-task alignment (first → last barrier processed) of completed checkpoints.
    pub alignment_ms: Percentiles,
    /// Operator state of completed checkpoints.
    pub state_bytes: Percentiles,
    /// Channel state (in-flight data) of completed checkpoints.
    pub channel_state_bytes: Percentiles,
    /// State new in each completed checkpoint (the incremental size; equal to `state_bytes` for
    /// full snapshots).
    pub incremental_bytes: Percentiles,
    /// Largest synchronous part of completed checkpoints.
    pub sync_ms: Percentiles,
    /// Largest asynchronous part (upload) of completed checkpoints.
    pub async_ms: Percentiles,
    /// Most bytes the checkpoint storage held after a completed checkpoint (retained
    /// checkpoints' files, shared ones once).
    pub storage_bytes_max: u64,
}

impl CheckpointSummary {
    /// Summarizes the rows of `checkpoints.csv`; the percentiles leave out the checkpoints
    /// triggered before `warmup_ms`.
    pub fn from_stats(stats: &[super::CheckpointStats], warmup_ms: f64) -> Self {
        use super::Outcome;
        let done: Vec<_> =
            stats.iter().filter(|s| s.outcome == Outcome::Completed && s.trigger_ms >= warmup_ms).collect();
        let of = |f: &dyn Fn(&super::CheckpointStats) -> f64| Percentiles::of(done.iter().map(|s| f(s)).collect());
        CheckpointSummary {
            triggered: stats.len(),
            completed: stats.iter().filter(|s| s.outcome == Outcome::Completed).count(),
            aborted: stats.iter().filter(|s| s.outcome == Outcome::TimedOut).count(),
            failed: stats.iter().filter(|s| s.outcome == Outcome::Failed).count(),
            subsumed: stats.iter().filter(|s| s.outcome == Outcome::Subsumed).count(),
            unfinished: stats.iter().filter(|s| s.outcome == Outcome::Unfinished).count(),
            duration_ms: of(&|s| s.duration_ms),
            alignment_ms: of(&|s| s.alignment_max_ms),
            state_bytes: of(&|s| s.state_bytes as f64),
            channel_state_bytes: of(&|s| s.channel_state_bytes as f64),
            incremental_bytes: of(&|s| s.incremental_bytes as f64),
            sync_ms: of(&|s| s.sync_max_ms),
            async_ms: of(&|s| s.async_max_ms),
            storage_bytes_max: stats.iter().map(|s| s.storage_bytes).max().unwrap_or(0),
        }
    }
}

/// `summary.json` → `consistent_cut`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CutSummary {
    /// Completed checkpoints checked.
    pub checked: usize,
    /// Violations found.
    pub violations: usize,
    /// The first violation, in words.
    pub first_violation: Option<String>,
}

/// `summary.json` → `uncoordinated` (protocol `uncoordinated` only): local checkpoints, and the
/// recovery line of every restart.
#[derive(Clone, Debug, Default, Serialize)]
pub struct UncoordinatedSummary {
    /// Local checkpoints taken, over all tasks (their final states included).
    pub local_checkpoints: u64,
    /// One row per restart.
    pub recoveries: Vec<RecoveryLine>,
}

/// Where a restart under uncoordinated checkpoints went back to.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RecoveryLine {
    /// When the job failed.
    pub failed_at_ms: f64,
    /// Rollbacks the search for the line forced (one task at a time).
    pub forced: usize,
    /// Tasks that resumed from an older checkpoint than their latest.
    pub tasks_rolled_back: usize,
    /// Of those, tasks that went back to their initial state.
    pub tasks_to_start: usize,
    /// The furthest a task went back: failure time − its checkpoint's time.
    pub max_rollback_ms: f64,
    /// Local checkpoints taken after the line's, of no use to this restart.
    pub useless_checkpoints: usize,
}

/// Record counters.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RecordCounts {
    /// Records read from the source logs.
    pub source_read: u64,
    /// Records that reached a sink.
    pub sink_received: u64,
    /// Record-hops: records processed by any task (a record moving through one operator).
    pub hops: u64,
    /// Records that became visible at sinks (committed by a transactional sink).
    pub committed: u64,
    /// Transactions the external system had aborted by `transaction_timeout_ms` when their commit
    /// came (a restore or a late notification), and the records they held — lost.
    pub expired_transactions: u64,
    /// Records in those transactions.
    pub expired_records: u64,
    /// Records a sink made visible for a checkpoint that had not completed (never, for a
    /// correct two-phase commit).
    pub visible_before_completion: u64,
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
    /// Median from log arrival to visible output (commit, for a transactional sink).
    pub committed_p50: f64,
    /// 99th percentile from log arrival to visible output.
    pub committed_p99: f64,
}

/// `summary.json` → `recovery`: totals over all recoveries.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RecoverySummary {
    /// Time the job was down (failure → restart), summed.
    pub downtime_ms: f64,
    /// Source records read again after rewinding to the restored offsets, summed.
    pub reprocessed_records: u64,
    /// Time from each restart until the sources were back at their offsets of the failure, summed.
    pub catch_up_ms: f64,
    /// Per restarted task: how many times it was restarted (region failover restarts only the
    /// failed task's pipelined region).
    pub restarted_tasks: BTreeMap<String, u32>,
    /// Time to download the restored state (the slowest task's download), summed over restarts.
    pub restore_ms: f64,
    /// Bytes downloaded from the checkpoint storage at restores (state and channel state).
    pub restore_bytes: u64,
    /// Failovers because more consecutive checkpoints failed than
    /// `tolerable_failed_checkpoints` allows (Flink's `CheckpointFailureManager`).
    pub checkpoint_failovers: u32,
}

/// `summary.json` → `exactly_once`: the oracle's verdict against a failure-free reference run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ExactlyOnceSummary {
    /// The oracle ran.
    pub checked: bool,
    /// Expected output records never made visible.
    pub missing: u64,
    /// Output records made visible more often than expected.
    pub duplicated: u64,
    /// Keys whose final keyed state differs from the reference.
    pub state_mismatches: u64,
    /// Lineages that arrived as often as expected but with other values.
    pub value_mismatches: u64,
    /// Keys held by a task that does not own them (hash-partitioned keyed state).
    pub ownership_violations: u64,
    /// Lineages on which the failure-free engine run disagrees with the independent model: an
    /// engine bug that every run shares.
    pub reference_mismatches: u64,
    /// The sum of all the counts above.
    pub violations: u64,
    /// What was not compared because it depends on arrival order (the rest was).
    pub not_checked_parts: Vec<String>,
    /// The first offending lineage or key, in words.
    pub first_violation: Option<String>,
    /// Why the oracle could not judge this job (`checked` is then false).
    pub not_checked: Option<String>,
}

/// One row of `timeseries.csv`: the state at `t_ms` and rates over the preceding interval.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SampleRow {
    /// Sample time.
    pub t_ms: f64,
    /// Records read from the logs so far.
    pub source_read: u64,
    /// Records received by sinks so far.
    pub sink_received: u64,
    /// Source read rate over the interval (records/s).
    pub read_rps: f64,
    /// Sink receive rate over the interval (records/s).
    pub sink_rps: f64,
    /// The largest source lag: how long ago the oldest unread log record arrived (ms).
    pub source_lag_ms: f64,
    /// Data buffers queued at receivers, all channels.
    pub queued_buffers: u64,
    /// Finished data buffers waiting for credit at senders, all channels.
    pub backlog_buffers: u64,
    /// Tasks blocked on a full output channel at this instant.
    pub backpressured_tasks: u32,
    /// Median sink latency over the interval (ms; 0 when nothing arrived).
    pub latency_p50_ms: f64,
    /// 99th-percentile sink latency over the interval (ms).
    pub latency_p99_ms: f64,
    /// 99th-percentile log arrival → visible output of the records made visible in the interval
    /// (ms; commit, for a transactional sink); empty when nothing became visible in it (commits
    /// come in bursts, at checkpoint completions).
    pub committed_p99_ms: Option<f64>,
}
