//! The engine's public face: how to run a scenario ([`run`], [`run_many`],
//! [`run_with_protocol`]), the options of a run, what it produces, and why it can fail.

use super::{Engine, OutputLog};
use crate::graph::ChannelId;
use crate::metrics::{CheckpointStats, SampleRow, Summary, TaskCheckpointRow};
use crate::protocol::Protocol;
use crate::scenario::Scenario;
use crate::sim::SimTime;
use crate::trace::TraceEvent;
use std::collections::BTreeMap;
use std::io::Write;

/// Duties of checkpointing that a deliberately broken variant (a mutant, `verify::mutants`)
/// skips. Every correct protocol runs with the default: nothing skipped. These are engine
/// duties, not protocol decisions, so they live here rather than in the `Protocol` trait.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sabotage {
    /// The data a priority barrier overtakes at the sender is not persisted as channel state.
    pub drop_overtaken_output: bool,
    /// A restore does not replay the checkpoint's channel state into its channels.
    pub skip_channel_state_replay: bool,
    /// A transactional sink commits at its snapshot, before the checkpoint completed.
    pub sink_commits_at_snapshot: bool,
    /// The network loses the records a source sends whose lineage digest is a multiple of `n`
    /// (about one in `n`) — the same ones in every run, the failure-free reference included.
    pub lose_one_in: Option<u64>,
    /// A keyed sum's snapshot leaves out one key.
    pub snapshot_drops_a_key: bool,
    /// Lai-Yang: a task takes a red record without snapshotting first.
    pub ignore_red_records: bool,
    /// An iteration's head does not log its back-edges after its snapshot (what Flink's own
    /// iterations did: their checkpoints lost the records inside the loop).
    pub skip_back_edge_logging: bool,
    /// Uncoordinated checkpoints: the recovery line rolls back only for orphans, not for the
    /// records in flight that nothing recorded.
    pub line_ignores_in_flight: bool,
}

/// The most checkpoint rows a run keeps in memory when it streams them
/// ([`RunOptions::checkpoints`]).
pub const MAX_CHECKPOINT_ROWS: usize = 10_000;

/// Options of a run that are not part of the scenario.
#[derive(Default)]
pub struct RunOptions {
    /// Checkpointing duties to skip (mutants only).
    pub sabotage: Sabotage,
    /// Record which lineages became visible at the sinks (memory grows with the number of
    /// records). The exactly-once oracle needs it.
    pub collect_output: bool,
    /// Write every trace event as JSON Lines here.
    pub trace: Option<Box<dyn Write>>,
    /// Keep the checkpoint and failure trace events in [`RunResult::protocol_trace`].
    pub keep_protocol_trace: bool,
    /// Record every data record written to a channel in this time window (ns), with the time
    /// its receiver took it ([`RunResult::messages`]); for space-time diagrams.
    pub capture_messages: Option<(SimTime, SimTime)>,
    /// Every this often (ns), note every channel's counters — records written and records taken
    /// ([`RunResult::counters`]); for the uncoordinated-checkpointing analysis.
    pub observe_counters: Option<SimTime>,
    /// Write the rows of `checkpoints.csv` here (CSV with its header) as checkpoints end.
    /// [`RunResult::checkpoints`] then keeps at most [`MAX_CHECKPOINT_ROWS`] of them, for the
    /// summary's percentiles and the charts: at that limit every other row kept is dropped and
    /// only every second new one is kept (as the time series is thinned), so memory does not grow
    /// with the number of checkpoints; the summary's counts stay exact.
    pub checkpoints: Option<Box<dyn Write>>,
    /// Write the rows of `checkpoint_tasks.csv` here (CSV with its header) as checkpoints end,
    /// instead of keeping them in [`RunResult::checkpoint_tasks`] — one row per task and
    /// checkpoint is what grows with run length at high parallelism.
    pub checkpoint_tasks: Option<Box<dyn Write>>,
    /// Stop the job with a savepoint (Flink's `stop --savepointPath`): see [`StopWithSavepoint`].
    pub stop_with_savepoint: Option<StopWithSavepoint>,
    /// Start from a savepoint instead of empty state ([`crate::state::savepoint::Restore::plan`]).
    pub restore: Option<crate::state::savepoint::Restore>,
}

/// Stop-with-savepoint. Without `drain`, at `at` the periodic checkpoints stop and, once none is
/// in progress, an aligned savepoint is triggered; each source stops reading at its snapshot, and
/// the job ends once the savepoint completed and every task heard of it (the sinks commit). With
/// `drain` the sources end at `at` first, the job drains, and the final checkpoint (FLIP-147) is
/// the savepoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopWithSavepoint {
    /// When.
    pub at: SimTime,
    /// `--drain`.
    pub drain: bool,
    /// Canonical or native.
    pub format: crate::state::savepoint::SavepointFormat,
}

/// A data record on a channel, for space-time diagrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// The channel.
    pub ch: ChannelId,
    /// Its sequence number on the channel.
    pub seq: u64,
    /// Restarts before it was sent (sequence numbers repeat after a restore).
    pub epoch: u32,
    /// When the sender wrote it to the channel.
    pub sent: SimTime,
    /// When the receiver took it, if it did.
    pub consumed: Option<SimTime>,
    /// Its key.
    pub key: u64,
    /// The source record it derives from.
    pub origin: crate::operator::Lineage,
}

/// An observation of every channel's counters: the time, and per channel (by `ChannelId`) the
/// records written to it and the records its receiver took so far.
pub type CountersAt = (SimTime, Vec<(u64, u64)>);

/// Records the messages of a time window.
#[derive(Debug, Default)]
pub(super) struct Capture {
    pub(super) window: (SimTime, SimTime),
    pub(super) messages: Vec<Message>,
    pub(super) index: BTreeMap<(ChannelId, u64, u32), usize>,
}

impl Capture {
    pub(super) fn sent(&mut self, ch: ChannelId, seq: u64, epoch: u32, r: &crate::operator::Record, now: SimTime) {
        if now >= self.window.0 && now <= self.window.1 {
            self.index.insert((ch, seq, epoch), self.messages.len());
            let (key, origin) = (r.key, r.lineage());
            self.messages.push(Message { ch, seq, epoch, sent: now, consumed: None, key, origin });
        }
    }

    pub(super) fn consumed(&mut self, ch: ChannelId, seq: u64, epoch: u32, now: SimTime) {
        if let Some(&i) = self.index.get(&(ch, seq, epoch)) {
            self.messages[i].consumed = Some(now);
        }
    }
}

/// Everything a run produced.
#[derive(Debug)]
pub struct RunResult {
    /// `summary.json`.
    pub summary: Summary,
    /// Uncoordinated checkpoints: every restart's recovery line and the rollbacks that found it.
    pub recovery_lines: Vec<crate::verify::uncoordinated::LineTrace>,
    /// The rows of `timeseries.csv`.
    pub timeseries: Vec<SampleRow>,
    /// Lineages that became visible at the sinks (committed, for a transactional sink), when
    /// [`RunOptions::collect_output`] was set.
    pub output: Option<OutputLog>,
    /// Final keyed state per `keyed_sum` operator: key → the sum over the operator's tasks.
    pub final_state: BTreeMap<String, BTreeMap<u64, i64>>,
    /// Final keyed state per task of each `keyed_sum` operator: (operator id, task index) → key →
    /// sum. The oracle checks that every key lives in the task that owns it.
    pub final_state_by_task: BTreeMap<(String, u32), BTreeMap<u64, i64>>,
    /// The rows of `checkpoints.csv` (empty without checkpointing), or, when
    /// [`RunOptions::checkpoints`] streamed them, at most [`MAX_CHECKPOINT_ROWS`] of them evenly
    /// spread (all of them in shorter runs; `checkpoints_streamed` says they were streamed).
    pub checkpoints: Vec<CheckpointStats>,
    /// The rows of `checkpoints.csv` went to [`RunOptions::checkpoints`].
    pub checkpoints_streamed: bool,
    /// The rows of `checkpoint_tasks.csv` (empty when [`RunOptions::checkpoint_tasks`] streamed
    /// them; `checkpoint_tasks_streamed` says so).
    pub checkpoint_tasks: Vec<TaskCheckpointRow>,
    /// The rows of `checkpoint_tasks.csv` went to [`RunOptions::checkpoint_tasks`].
    pub checkpoint_tasks_streamed: bool,
    /// Every consistent-cut violation found, in order.
    pub cut_violations: Vec<crate::verify::CutViolation>,
    /// When tasks crashed (ms).
    pub crashes_ms: Vec<f64>,
    /// When the job restarted (ms).
    pub restarts_ms: Vec<f64>,
    /// When, after each restart, the sources were back at their offsets of the failure (ms).
    pub caught_up_ms: Vec<f64>,
    /// The checkpoint and failure trace events, with [`RunOptions::keep_protocol_trace`].
    pub protocol_trace: Vec<(SimTime, TraceEvent)>,
    /// The data messages of [`RunOptions::capture_messages`]'s window.
    pub messages: Vec<Message>,
    /// With [`RunOptions::observe_counters`]: at each observation time, per channel (by
    /// `ChannelId`), the records written to it and the records its receiver took so far.
    pub counters: Vec<CountersAt>,
    /// Visible latency (log arrival → visible at a sink, i.e. committed for a transactional
    /// sink) as a distribution: `(ms, % of the visible records within it)`, at percentiles 1 to
    /// 99, 99.5, 99.9 and the maximum; empty when nothing became visible.
    pub visible_latency_cdf: Vec<(f64, f64)>,
    /// The rows of `debloat.csv`: every input gate at every debloating recalculation (empty
    /// unless `network.debloat.enabled`).
    pub debloat: Vec<crate::net::DebloatSample>,
    /// Per task over time, the share of each sampling interval it spent blocked on output
    /// (jobs of at most 64 tasks): the backpressure heatmap.
    pub task_backpressure: Option<TaskBackpressure>,
    /// The savepoint of [`RunOptions::stop_with_savepoint`], once it completed.
    pub savepoint: Option<crate::state::savepoint::Savepoint>,
    /// The latest completed checkpoint, retained when the job ended without finishing
    /// (`checkpointing.retention`).
    pub retained: Option<crate::state::savepoint::Savepoint>,
}

/// Per task, per sample of the time series: the share of the interval before it the task spent
/// blocked on output (backpressure), in thousandths.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskBackpressure {
    /// Task names, in task order.
    pub tasks: Vec<String>,
    /// The sample times (ms), as in `timeseries.csv`.
    pub times_ms: Vec<f64>,
    /// Per sample, per task: thousandths of the interval blocked.
    pub permille: Vec<Vec<u16>>,
}

/// Why a run could not be made.
#[derive(Debug)]
pub enum RunError {
    /// The scenario is not valid (the error names the field and what is allowed).
    Scenario(crate::scenario::ScenarioError),
    /// Writing the trace file failed.
    Trace(std::io::Error),
    /// Writing the streamed `checkpoints.csv` or `checkpoint_tasks.csv` rows failed.
    Output(std::io::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Scenario(e) => write!(f, "{e}"),
            RunError::Trace(e) => write!(f, "cannot write the trace: {e}"),
            RunError::Output(e) => {
                write!(f, "cannot write the checkpoint rows (checkpoints.csv, checkpoint_tasks.csv): {e}")
            }
        }
    }
}

impl std::error::Error for RunError {}

impl From<crate::scenario::ScenarioError> for RunError {
    fn from(e: crate::scenario::ScenarioError) -> Self {
        RunError::Scenario(e)
    }
}

/// Validates `scenario` and runs it to completion (until no event is left). A scenario built or
/// changed in code gets the same checks as a file: an invalid one is an error, never a panic.
///
/// ```
/// use ckptsim::{engine, scenario::Scenario};
/// let s = Scenario::load("scenarios/pipeline.json".as_ref()).unwrap();
/// let r = engine::run(&s, engine::RunOptions::default()).unwrap();
/// assert!(r.summary.drained);
/// assert_eq!(r.summary.records.source_read, r.summary.records.sink_received);
/// ```
pub fn run(scenario: &Scenario, opts: RunOptions) -> Result<RunResult, RunError> {
    run_with_protocol(scenario, opts, crate::protocol::create(scenario.protocol()))
}

/// Worker threads when none is asked for: the machine's cores (1 if unknown). Threads never
/// change a result — every run is deterministic on its own.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs every scenario (each deterministic on its own) on `jobs` threads; results in input order.
/// `progress(done, total)` is called as runs finish. The first invalid scenario is the error.
pub fn run_many(
    scenarios: &[Scenario],
    collect_output: bool,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<RunResult>, RunError> {
    for s in scenarios {
        s.validate()?;
    }
    use std::sync::atomic::{AtomicUsize, Ordering};
    let total = scenarios.len();
    let (next, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
    type Slot = Option<Result<RunResult, RunError>>;
    let results: std::sync::Mutex<Vec<Slot>> = std::sync::Mutex::new((0..total).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, total.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total {
                        break;
                    }
                    let r = run(&scenarios[i], RunOptions { collect_output, ..Default::default() });
                    results.lock().expect("no worker panics holding the lock")[i] = Some(r);
                    progress(done.fetch_add(1, Ordering::SeqCst) + 1, total);
                }
            });
        }
    });
    results.into_inner().expect("workers joined").into_iter().map(|r| r.expect("every run finished")).collect()
}

/// Runs with an explicit protocol implementation (tests use this for deliberately broken
/// variants); `None` runs without checkpointing. The scenario's `checkpointing` settings apply.
/// Validates `scenario` first, as [`run`] does.
pub fn run_with_protocol(
    scenario: &Scenario,
    opts: RunOptions,
    protocol: Option<Box<dyn Protocol>>,
) -> Result<RunResult, RunError> {
    scenario.validate()?;
    if opts.stop_with_savepoint.is_some() && (protocol.is_none() || scenario.checkpointing.is_none()) {
        return Err(RunError::Scenario(crate::scenario::ScenarioError::field(
            "checkpointing",
            "missing; stop-with-savepoint needs checkpointing (a savepoint is a checkpoint)",
        )));
    }
    if (opts.stop_with_savepoint.is_some() || opts.restore.is_some())
        && let Some(p) = protocol.as_ref().filter(|p| !p.name().info().coordinated)
    {
        return Err(RunError::Scenario(crate::scenario::ScenarioError::field(
            "checkpointing.mode",
            format!(
                "is {}; savepoints need a coordinated protocol: a savepoint is a global checkpoint, and {} takes only local ones",
                p.name().name(),
                p.name().name()
            ),
        )));
    }
    if opts.stop_with_savepoint.is_some() && scenario.network.reorder_us > 0 {
        // A savepoint is an aligned checkpoint without channel state: its barriers need FIFO
        // channels to cut the job consistently.
        return Err(RunError::Scenario(crate::scenario::ScenarioError::field(
            "network.reorder_us",
            format!(
                "is {}; stop-with-savepoint needs FIFO channels (0): a savepoint's aligned barriers cannot cut a non-FIFO job consistently",
                scenario.network.reorder_us
            ),
        )));
    }
    if (opts.stop_with_savepoint.is_some() || opts.restore.is_some())
        && let Some(e) = scenario.topology.edges.iter().position(|e| e.back_edge)
    {
        // A savepoint carries no channel state, and a loop's snapshot is its head's state plus
        // the records logged on its back-edges.
        return Err(RunError::Scenario(crate::scenario::ScenarioError::field(
            format!("topology.edges[{e}].back_edge"),
            "savepoints (stop-with-savepoint, or a start from one) do not support iterations: the records on a back-edge are part of a loop's snapshot, and a savepoint holds no channel state",
        )));
    }
    let mut opts = opts;
    let restore = opts.restore.take();
    let mut e = Engine::new(scenario, opts, protocol);
    if let Some(r) = &restore {
        e.apply_restore(r);
    }
    e.run();
    e.finish()
}
