//! The serde types of a scenario file. Times in the file are integers with their unit in the field
//! name (`_ns`, `_us`, `_ms`); rates are records per second.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The scenario format this version of ckptsim reads (`ckptsim --version` prints it).
pub const FORMAT_VERSION: u32 = 1;

/// A complete scenario: the dataflow, the network, and how the run is observed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The scenario format this file is written in (optional; [`FORMAT_VERSION`] when absent).
    /// A file of another format is refused with a clear message instead of being misread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<u32>,
    /// Short name, used for the output directory (`output/<name>/…`): letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// Free text shown in reports.
    #[serde(default)]
    pub description: String,
    /// The seed every random draw of the run derives from.
    pub seed: u64,
    /// Operators and the edges between them.
    pub topology: Topology,
    /// Network buffers, credits and latency.
    #[serde(default)]
    pub network: Network,
    /// Sampling of the time series.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Checkpointing: the coordinator's settings and the snapshot protocol. Absent: no checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpointing: Option<Checkpointing>,
    /// The state backend (Flink's `state.*` options); absent: `hashmap`, full snapshots.
    #[serde(default, skip_serializing_if = "StateConfig::is_default")]
    pub state: StateConfig,
    /// Failures to inject (crashes of tasks, at times or at protocol moments, or at random).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<FailureSpec>,
    /// Restart strategy after a failure (global restart with a fixed delay).
    #[serde(default)]
    pub restart: Restart,
    /// The watchdog: how long a run may go on (simulated time) before it is stopped. Left out
    /// of the canonical JSON (and so of the fingerprint) when it has its defaults.
    #[serde(default, skip_serializing_if = "Limits::is_default")]
    pub limits: Limits,
}

/// The watchdog's limits: a run that passes them stops with an error naming what stalled,
/// instead of running forever.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Simulated time after which the run stops (default one hour).
    pub max_sim_time_ms: u64,
    /// A run in which no task processed a record for this long, while some task had a record
    /// it could have taken, has stalled (default one minute).
    pub stall_ms: u64,
    /// Cancel the job at this simulated time, as a benchmark does with a job that never ends
    /// (`flink cancel`). Not a failure: the checkpoint figures stand, and the exactly-once verdict
    /// is "not checked" (the output of a cancelled job is partial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_at_ms: Option<u64>,
}

impl Limits {
    fn is_default(&self) -> bool {
        *self == Limits::default()
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_sim_time_ms: 3_600_000, stall_ms: 60_000, cancel_at_ms: None }
    }
}

/// The operator DAG.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Operators, each with a unique `id`.
    pub operators: Vec<OperatorSpec>,
    /// Directed edges `from → to`; each becomes one channel per connected pair of tasks.
    pub edges: Vec<EdgeSpec>,
    /// Operator chaining (Flink's `pipeline.operator-chaining`, default true): a `forward` edge
    /// into an operator with no other input runs in its upstream task's thread, with no network
    /// buffers between them (see [`EdgeSpec::chain`]).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub chaining: bool,
    /// Key groups of every keyed operator (Flink's `pipeline.max-parallelism`): keys are hashed
    /// into this many groups and each task owns a range of them. Absent: Flink's default per
    /// operator, `1.5 × parallelism` rounded up to a power of two, at least 128.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallelism: Option<u32>,
}

impl Topology {
    /// The max parallelism (number of key groups) of `op`.
    pub fn max_parallelism_of(&self, op: &OperatorSpec) -> u32 {
        op.max_parallelism
            .or(self.max_parallelism)
            .unwrap_or_else(|| crate::state::keygroups::default_max_parallelism(op.parallelism))
    }
}

fn yes() -> bool {
    true
}

fn is_true(v: &bool) -> bool {
    *v
}

/// The kind of an operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorKind {
    /// Reads one replayable log partition per task. No inputs.
    Source,
    /// Stateless: `value → value + 1`. One input.
    Map,
    /// Stateless: keeps records whose `value % modulo` is in `remainders`. One input.
    Filter,
    /// Keyed state: per key the running sum of values; emits `(key, sum)` per input. One input.
    KeyedSum,
    /// Merges two or more inputs unchanged.
    Union,
    /// The tail of an iteration (a cycle closed by a back-edge): a record whose `value % modulo`
    /// is in `until.remainders` — or that went round `max_rounds` times — leaves the loop on the
    /// regular outputs; any other goes round again on the back-edges. One input.
    LoopUntil,
    /// Consumes records; the end of the pipeline. No outputs.
    Sink,
}

impl OperatorKind {
    /// The snake_case name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            OperatorKind::Source => "source",
            OperatorKind::Map => "map",
            OperatorKind::Filter => "filter",
            OperatorKind::KeyedSum => "keyed_sum",
            OperatorKind::Union => "union",
            OperatorKind::LoopUntil => "loop_until",
            OperatorKind::Sink => "sink",
        }
    }
}

/// One operator. Kind-specific fields are only allowed on their kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    /// Unique id, used by edges and task names (`id[index]`).
    pub id: String,
    /// What the operator does.
    pub kind: OperatorKind,
    /// Number of parallel tasks (1..=1024; what bounds a scenario is its estimated memory).
    #[serde(default = "default_parallelism")]
    pub parallelism: u32,
    /// Per-record processing cost of every task of this operator.
    #[serde(default)]
    pub cost: CostSpec,
    /// Per-task cost overrides, keyed by task index (`"2"`), for skew.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub task_costs: BTreeMap<String, CostSpec>,
    /// `source` only: the arrival process of each log partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival: Option<ArrivalSpec>,
    /// `source` only: records per partition (at least one of this and `until_ms` is required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_per_partition: Option<u64>,
    /// `source` only: records arriving after this time are not part of the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
    /// `source` only: keys are drawn uniformly from `0..keys` (default 1000) — the cold keys,
    /// when `hot_keys` or `new_keys_per_sec` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<u64>,
    /// `source` only: a hot set of this many keys (`0..hot_keys`) that `hot_key_pct` percent of
    /// the records update; the others draw a cold key (`keys` of them, numbered after the hot ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hot_keys: Option<u64>,
    /// `source` only: percentage (0..=100) of records whose key is a hot key (needs `hot_keys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hot_key_pct: Option<u64>,
    /// `source` only: key churn. The cold keys are a window of `keys` consecutive keys that slides
    /// by this many keys per second of arrival time: new keys appear at this rate and old ones go
    /// idle (their state stays, as without a state TTL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_keys_per_sec: Option<u64>,
    /// `filter` only: keep a record when `value % modulo` is one of `remainders`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<KeepSpec>,
    /// `loop_until` only: a record leaves the loop when `value % modulo` is one of `remainders`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<KeepSpec>,
    /// `loop_until` only: a record leaves the loop after going round this many times, whatever
    /// its value (default 10), so every record leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rounds: Option<u32>,
    /// `keyed_sum` only: its number of key groups (Flink's per-operator `setMaxParallelism`);
    /// overrides `topology.max_parallelism`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallelism: Option<u32>,
    /// `keyed_sum` only: bytes of state per distinct key (default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_bytes_per_key: Option<u64>,
    /// `sink` only: `transactional` (two-phase commit: output becomes visible when the checkpoint
    /// that covers it completes; the default) or `plain` (visible at once; duplicates on replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// `sink` only, transactional: the external system aborts a transaction older than this
    /// (Kafka's `transaction.timeout.ms`); a commit that comes later finds it gone and its
    /// records are lost. Absent: transactions never time out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_timeout_ms: Option<u64>,
}

/// How a sink makes its output visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Two-phase commit: a transaction per checkpoint, pre-committed at the sink's snapshot,
    /// committed on the checkpoint's completion notification.
    Transactional,
    /// Every record is visible as soon as the sink processes it.
    Plain,
}

/// One failure to inject. Give `task` and exactly one of `at_ms`, `during_alignment_of`,
/// `after_checkpoint`, `during_recovery_ms` — or only `random`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureSpec {
    /// The task that crashes, as `operator[index]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Crash at this simulated time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
    /// Crash when the task has received a barrier of this checkpoint but not yet snapshotted
    /// (while it aligns, for aligned checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during_alignment_of: Option<u64>,
    /// Crash right after this checkpoint completed, before any task (the sink) was notified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_checkpoint: Option<u64>,
    /// Crash this long after the next restart began (while the job recovers and catches up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during_recovery_ms: Option<u64>,
    /// Random crashes of random tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random: Option<RandomFailures>,
}

/// Random crashes: exponential times between failures, a random task each time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomFailures {
    /// Mean time between failures.
    pub mtbf_ms: u64,
    /// At most this many random crashes.
    pub max_failures: u32,
}

/// Which tasks a failure restarts (`jobmanager.execution.failover-strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailoverStrategy {
    /// The failed task's pipelined region (Flink's default).
    #[default]
    Region,
    /// Every task.
    Full,
}

impl FailoverStrategy {
    fn is_region(&self) -> bool {
        *self == FailoverStrategy::Region
    }
}

/// Flink's restart strategies (`restart-strategy.type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartStrategy {
    /// `fixed-delay`: wait `delay_ms`, at most `attempts` restarts.
    #[default]
    FixedDelay,
    /// `exponential-delay` (Flink's default with checkpointing since 1.19): the delay starts at
    /// `initial_backoff_ms` and grows by `backoff_multiplier` per failure up to
    /// `max_backoff_ms`, ± `jitter_factor`; it resets after `reset_backoff_threshold_ms`
    /// without a failure; at most `attempts` restarts between resets.
    ExponentialDelay,
    /// `failure-rate`: wait `delay_ms`; fail for good when more than
    /// `max_failures_per_interval` failures fall within `failure_rate_interval_ms`.
    FailureRate,
}

impl RestartStrategy {
    fn is_fixed_delay(&self) -> bool {
        *self == RestartStrategy::FixedDelay
    }

    /// The snake_case name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            RestartStrategy::FixedDelay => "fixed_delay",
            RestartStrategy::ExponentialDelay => "exponential_delay",
            RestartStrategy::FailureRate => "failure_rate",
        }
    }
}

/// The restart strategy after a failure, with Flink's option names
/// (`restart-strategy.<type>.<option>`). Options of another strategy are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Restart {
    /// Which tasks a failure restarts (`jobmanager.execution.failover-strategy`): `region` (the
    /// default, as in Flink) restarts the failed task's pipelined region only; `full` restarts
    /// every task. A failover after too many failed checkpoints is always global.
    #[serde(skip_serializing_if = "FailoverStrategy::is_region")]
    pub failover: FailoverStrategy,
    /// Which strategy (`restart-strategy.type`); `fixed_delay` when absent.
    #[serde(skip_serializing_if = "RestartStrategy::is_fixed_delay")]
    pub strategy: RestartStrategy,
    /// `fixed_delay` and `failure_rate`: time between a failure and the restart (`…delay`).
    pub delay_ms: u64,
    /// `fixed_delay`: restarts allowed before the job fails for good (`…fixed-delay.attempts`);
    /// `exponential_delay`: restarts allowed between two resets of the backoff
    /// (`…exponential-delay.attempts-before-reset-backoff`).
    pub attempts: u32,
    /// `exponential_delay`: the first delay (`…initial-backoff`, default 1 s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_backoff_ms: Option<u64>,
    /// `exponential_delay`: the largest delay (`…max-backoff`, default 1 min).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_backoff_ms: Option<u64>,
    /// `exponential_delay`: growth of the delay per failure (`…backoff-multiplier`, default 1.5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_multiplier: Option<f64>,
    /// `exponential_delay`: a run this long without failure resets the delay
    /// (`…reset-backoff-threshold`, default 1 h).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_backoff_threshold_ms: Option<u64>,
    /// `exponential_delay`: the delay varies by up to this fraction either way
    /// (`…jitter-factor`, default 0.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_factor: Option<f64>,
    /// `failure_rate`: failures tolerated within one interval (`…max-failures-per-interval`,
    /// default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_failures_per_interval: Option<u32>,
    /// `failure_rate`: the interval (`…failure-rate-interval`, default 1 min).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_rate_interval_ms: Option<u64>,
}

impl Default for Restart {
    fn default() -> Self {
        Restart {
            failover: FailoverStrategy::Region,
            strategy: RestartStrategy::FixedDelay,
            delay_ms: 100,
            attempts: 10,
            initial_backoff_ms: None,
            max_backoff_ms: None,
            backoff_multiplier: None,
            reset_backoff_threshold_ms: None,
            jitter_factor: None,
            max_failures_per_interval: None,
            failure_rate_interval_ms: None,
        }
    }
}

fn default_parallelism() -> u32 {
    1
}

/// A per-record processing cost: fixed, or exponentially distributed with the given mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CostSpec {
    /// Exactly this many nanoseconds.
    FixedNs(u64),
    /// Exactly this many microseconds.
    FixedUs(u64),
    /// Exponential with this mean, in nanoseconds.
    ExpMeanNs(u64),
    /// Exponential with this mean, in microseconds.
    ExpMeanUs(u64),
}

impl Default for CostSpec {
    fn default() -> Self {
        CostSpec::FixedNs(1_000)
    }
}

impl CostSpec {
    /// Mean cost in nanoseconds.
    pub fn mean_ns(self) -> u64 {
        match self {
            CostSpec::FixedNs(v) | CostSpec::ExpMeanNs(v) => v,
            CostSpec::FixedUs(v) | CostSpec::ExpMeanUs(v) => v.saturating_mul(1_000),
        }
    }
    /// True for the exponential variants.
    pub fn is_exponential(self) -> bool {
        matches!(self, CostSpec::ExpMeanNs(_) | CostSpec::ExpMeanUs(_))
    }
}

/// How records arrive in a source's log partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ArrivalSpec {
    /// One record every `1/rate` seconds.
    Constant {
        /// Records per second per partition.
        rate_per_sec: u64,
    },
    /// Exponential inter-arrival times with mean `1/rate`.
    Poisson {
        /// Mean records per second per partition.
        rate_per_sec: u64,
    },
    /// Constant `rate_per_sec`, except during the first `burst_ms` of every `period_ms`,
    /// when records arrive at `burst_rate_per_sec`.
    Bursts {
        /// Base rate.
        rate_per_sec: u64,
        /// Rate during a burst.
        burst_rate_per_sec: u64,
        /// Burst length.
        burst_ms: u64,
        /// Period between burst starts (> `burst_ms`).
        period_ms: u64,
    },
}

impl ArrivalSpec {
    /// The base rate, records per second per partition (outside bursts).
    ///
    /// ```
    /// use ckptsim::scenario::ArrivalSpec;
    /// assert_eq!(ArrivalSpec::Poisson { rate_per_sec: 2000 }.base_rate_per_sec(), 2000);
    /// ```
    pub fn base_rate_per_sec(&self) -> u64 {
        match *self {
            ArrivalSpec::Constant { rate_per_sec }
            | ArrivalSpec::Poisson { rate_per_sec }
            | ArrivalSpec::Bursts { rate_per_sec, .. } => rate_per_sec,
        }
    }
}

/// A filter predicate on the record value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepSpec {
    /// Divisor (≥ 1).
    pub modulo: u64,
    /// Remainders to keep (each < `modulo`).
    pub remainders: Vec<u64>,
}

/// How records on an edge are distributed over the downstream tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Partitioner {
    /// Task `i` sends to task `i` (equal parallelism required).
    Forward,
    /// By a hash of the record key.
    Hash,
    /// Round-robin, starting at a seeded random task.
    Rebalance,
    /// Every record to every downstream task.
    Broadcast,
}

impl Partitioner {
    /// The snake_case name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Partitioner::Forward => "forward",
            Partitioner::Hash => "hash",
            Partitioner::Rebalance => "rebalance",
            Partitioner::Broadcast => "broadcast",
        }
    }
}

/// A directed edge between two operators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    /// Upstream operator id.
    pub from: String,
    /// Downstream operator id.
    pub to: String,
    /// Distribution of records over the downstream tasks.
    pub partitioner: Partitioner,
    /// `false` keeps this edge out of a chain (Flink's `disableChaining` / `startNewChain`).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub chain: bool,
    /// `true` marks the edge that closes a cycle (an iteration's feedback edge, from a
    /// `loop_until` back to the loop's head). Cycles are only allowed through such edges. A
    /// back-edge is never chained and has no credit limit (as Flink's iteration tail hands
    /// records to its head through a queue backpressure does not cover), so a full loop cannot
    /// deadlock.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub back_edge: bool,
}

/// The network: Flink-like buffers with credit-based flow control.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// Records per network buffer; a buffer is sent when full or at the buffer timeout.
    pub buffer_records: u32,
    /// Serialized size of one record, for byte figures.
    pub record_bytes: u32,
    /// Partially filled buffers are flushed this long after their first record
    /// (Flink `execution.buffer-timeout`, default 100 ms; 0 = flush after every record).
    pub buffer_timeout_us: u64,
    /// Exclusive receiver buffers (credits) per input channel (Flink default 2); also the share of
    /// each channel in its sender's output pool.
    pub buffers_per_channel: u32,
    /// Floating receiver buffers shared by an input gate (Flink default 8); also the shared part
    /// of a sender's output pool.
    pub floating_buffers_per_gate: u32,
    /// Buffers a sender may hold for one output channel before its task stops
    /// (Flink `taskmanager.network.memory.max-buffers-per-channel`, default 10).
    pub max_buffers_per_channel: u32,
    /// One-way latency of a buffer or credit message.
    pub latency_us: u64,
    /// Extra latency drawn uniformly from `0..=jitter_us` per message (FIFO order is kept).
    pub jitter_us: u64,
    /// Non-FIFO channels: each buffer or barrier gets a further delay drawn uniformly from
    /// `0..=reorder_us` *without* keeping FIFO order, so it may overtake earlier ones on its
    /// channel (a bounded reordering window); end-of-partition still comes last. 0 (the default,
    /// and Flink's network): FIFO. Left out of the canonical JSON when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub reorder_us: u64,
    /// Buffer debloating (FLIP-183); off by default, as in Flink. Left out of the canonical JSON
    /// when it is the default, so fingerprints stay as they were before it existed.
    #[serde(skip_serializing_if = "Debloat::is_default")]
    pub debloat: Debloat,
}

/// Buffer debloating (FLIP-183, `taskmanager.network.memory.buffer-debloat.*`). Every `period_ms`
/// each input gate measures its throughput (bytes taken per second of time with data to take)
/// and computes the buffer size that makes its buffers in use hold `target_ms` of data:
/// `throughput × target ÷ buffers in use`, smoothed by an exponential moving average over
/// `samples`, clamped to [`min_buffer_bytes`, `buffer_records × record_bytes`]. A change smaller
/// than `threshold_percentages` of the last size is not announced. The new size travels to the
/// gate's senders with the network latency; their next buffers hold `size ÷ record_bytes`
/// records (at least one: a record never spans buffers here).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Debloat {
    /// `…buffer-debloat.enabled` (default false).
    pub enabled: bool,
    /// `…buffer-debloat.target`: the time the in-flight data of a gate should take to consume
    /// (default 1000 ms).
    pub target_ms: u64,
    /// `…buffer-debloat.period` (default 200 ms).
    pub period_ms: u64,
    /// `…buffer-debloat.samples`: the moving average's length (default 20).
    pub samples: u32,
    /// `…buffer-debloat.threshold-percentages` (default 25).
    pub threshold_percentages: u32,
    /// `taskmanager.memory.min-segment-size` (default 256 bytes). The largest buffer is the
    /// static one, `buffer_records × record_bytes` (Flink's `taskmanager.memory.segment-size`).
    pub min_buffer_bytes: u64,
}

impl Debloat {
    fn is_default(&self) -> bool {
        *self == Debloat::default()
    }
}

impl Default for Debloat {
    fn default() -> Self {
        Debloat {
            enabled: false,
            target_ms: 1000,
            period_ms: 200,
            samples: 20,
            threshold_percentages: 25,
            min_buffer_bytes: 256,
        }
    }
}

impl Default for Network {
    fn default() -> Self {
        Network {
            buffer_records: 32,
            record_bytes: 100,
            buffer_timeout_us: 100_000,
            buffers_per_channel: 2,
            floating_buffers_per_gate: 8,
            max_buffers_per_channel: 10,
            latency_us: 100,
            jitter_us: 0,
            reorder_us: 0,
            debloat: Debloat::default(),
        }
    }
}

/// How the run is observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Interval of the rows of `timeseries.csv`.
    pub sample_interval_ms: u64,
    /// Checkpoints triggered before this time are left out of the summary's checkpoint
    /// percentiles (a benchmark's warm-up); `checkpoints.csv` keeps every row.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub warmup_ms: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { sample_interval_ms: 100, warmup_ms: 0 }
    }
}

/// A snapshot protocol (`checkpointing.mode`, `--protocol`): a name from the protocol registry.
pub use crate::protocol::ProtocolName;

/// The checkpoint coordinator's settings, with Flink's names and defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpointing {
    /// The snapshot protocol (default `aligned`, Flink's exactly-once mode).
    #[serde(default = "default_mode")]
    pub mode: ProtocolName,
    /// Time between checkpoint triggers (`execution.checkpointing.interval`).
    pub interval_ms: u64,
    /// A checkpoint not complete after this long is aborted (`…timeout`, default 10 min).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Minimum time between the last completed checkpoint and the next trigger (`…min-pause`, default 0).
    #[serde(default)]
    pub min_pause_ms: u64,
    /// Checkpoints in progress at once (`…max-concurrent-checkpoints`, default 1).
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: u32,
    /// Aborted checkpoints tolerated before the job fails (`…tolerable-failed-checkpoints`, default 0).
    #[serde(default)]
    pub tolerable_failed_checkpoints: u32,
    /// For `aligned_timeout`: after this long since the trigger a checkpoint turns unaligned
    /// (`…aligned-checkpoint-timeout`). Required by that mode, ignored by the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aligned_checkpoint_timeout_ms: Option<u64>,
    /// The simulated checkpoint storage.
    #[serde(default)]
    pub storage: Storage,
    /// `execution.checkpointing.externalized-checkpoint-retention`: whether the latest completed
    /// checkpoint is kept (written to `OUT/checkpoints/`) when the job ends without finishing.
    #[serde(default, skip_serializing_if = "Retention::is_default")]
    pub retention: Retention,
}

/// Externalized checkpoint retention, with Flink's names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    /// The checkpoints go with the job (the default).
    #[default]
    NoExternalizedCheckpoints,
    /// Kept when the job fails for good, deleted when it is cancelled.
    DeleteOnCancellation,
    /// Kept when the job fails for good or is cancelled.
    RetainOnCancellation,
}

impl Retention {
    fn is_default(&self) -> bool {
        *self == Retention::NoExternalizedCheckpoints
    }
}

fn default_mode() -> ProtocolName {
    ProtocolName::ALIGNED
}
fn default_timeout_ms() -> u64 {
    600_000
}
fn default_max_concurrent() -> u32 {
    1
}

/// The simulated checkpoint storage: a synchronous part that pauses the task, then an
/// asynchronous upload while the task keeps processing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// Fixed cost of the synchronous part (task paused).
    pub sync_base_us: u64,
    /// Speed of the synchronous copy of the state (MiB/s), added to `sync_base_us`.
    pub sync_mib_per_sec: u64,
    /// Latency of writing one file to the checkpoint storage (a PUT): a task writes its files
    /// `upload_threads` at a time; the JobManager's metadata file at completion costs one.
    pub write_latency_ms: u64,
    /// Upload bandwidth per task (MiB/s).
    pub write_mib_per_sec: u64,
    /// Total bandwidth of the checkpoint storage (MiB/s), shared by the uploads in progress.
    #[serde(skip_serializing_if = "is_default_bandwidth")]
    pub bandwidth_mib_per_sec: u64,
    /// Files a task uploads at once (Flink's `state.backend.rocksdb.checkpoint.transfer.thread.num`,
    /// default 4).
    #[serde(skip_serializing_if = "is_default_upload_threads")]
    pub upload_threads: u32,
    /// Subtasks of one operator whose channel state shares a file
    /// (`execution.checkpointing.unaligned.max-subtasks-per-channel-state-file`, default 5).
    #[serde(skip_serializing_if = "is_default_subtasks_per_file")]
    pub max_subtasks_per_channel_state_file: u32,
    /// Latency of one task's download at a restore.
    #[serde(skip_serializing_if = "is_default_read_latency")]
    pub read_latency_ms: u64,
    /// Download bandwidth of the checkpoint storage at a restore (MiB/s), shared by the tasks
    /// that restore at once: restore time grows with the snapshot's size.
    #[serde(skip_serializing_if = "is_default_read_bandwidth")]
    pub read_mib_per_sec: u64,
    /// Task-local recovery (Flink's `state.backend.local-recovery`): every task keeps a local
    /// copy of its latest snapshot; at a restore only the tasks that crashed download theirs.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub local_recovery: bool,
}

fn is_default_bandwidth(v: &u64) -> bool {
    *v == Storage::default().bandwidth_mib_per_sec
}

fn is_default_upload_threads(v: &u32) -> bool {
    *v == Storage::default().upload_threads
}

fn is_default_subtasks_per_file(v: &u32) -> bool {
    *v == Storage::default().max_subtasks_per_channel_state_file
}

fn is_default_read_latency(v: &u64) -> bool {
    *v == Storage::default().read_latency_ms
}

fn is_default_read_bandwidth(v: &u64) -> bool {
    *v == Storage::default().read_mib_per_sec
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            sync_base_us: 100,
            sync_mib_per_sec: 1024,
            write_latency_ms: 5,
            write_mib_per_sec: 100,
            bandwidth_mib_per_sec: 1024,
            upload_threads: 4,
            max_subtasks_per_channel_state_file: 5,
            read_latency_ms: 5,
            read_mib_per_sec: 200,
            local_recovery: false,
        }
    }
}

/// The state backend of the keyed operators, with Flink's option names (`state.backend.type`,
/// `state.backend.incremental`, `state.changelog.*`, `state.checkpoints.num-retained`). Operator
/// state (source offsets, sink transactions) is always a full snapshot, as in Flink.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// `state.backend.type`: `hashmap` (objects on the heap, full snapshots) or `rocksdb` (an LSM
    /// tree of SST files).
    pub backend: BackendKind,
    /// `state.backend.incremental` (`rocksdb` only): upload only the SST files the last completed
    /// checkpoint does not already hold.
    pub incremental: bool,
    /// `state.changelog.*` (FLIP-158): state changes are uploaded continuously and a checkpoint
    /// uploads only the log's tail; absent: off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changelog: Option<ChangelogSpec>,
    /// RocksDB's LSM tree (`rocksdb` only).
    #[serde(skip_serializing_if = "RocksDbSpec::is_default")]
    pub rocksdb: RocksDbSpec,
    /// `state.checkpoints.num-retained`: completed checkpoints kept in the storage (default 1).
    pub num_retained: u32,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            backend: BackendKind::Hashmap,
            incremental: false,
            changelog: None,
            rocksdb: RocksDbSpec::default(),
            num_retained: 1,
        }
    }
}

impl StateConfig {
    /// True when every field has its default (left out of the canonical JSON).
    pub fn is_default(&self) -> bool {
        *self == StateConfig::default()
    }

    /// These settings with the backend named `label`: `hashmap`, `rocksdb`,
    /// `rocksdb-incremental`, each optionally with `+changelog` (`changelog` alone is
    /// `hashmap+changelog`). The RocksDB and changelog tuning of `self` is kept.
    pub fn with_backend(&self, label: &str) -> Result<StateConfig, String> {
        let (base, changelog) = match label.strip_suffix("+changelog") {
            Some(b) => (b, true),
            None if label == "changelog" => ("hashmap", true),
            None => (label, false),
        };
        let (backend, incremental) = match base {
            "hashmap" => (BackendKind::Hashmap, false),
            "rocksdb" => (BackendKind::Rocksdb, false),
            "rocksdb-incremental" => (BackendKind::Rocksdb, true),
            _ => {
                return Err(format!(
                    "unknown state backend {label:?}; allowed: hashmap, rocksdb, rocksdb-incremental, each optionally with +changelog, or changelog"
                ));
            }
        };
        let changelog =
            changelog.then(|| ChangelogSpec { enabled: true, ..self.changelog.clone().unwrap_or_default() });
        Ok(StateConfig { backend, incremental, changelog, ..self.clone() })
    }

    /// A short name: `hashmap`, `rocksdb`, `rocksdb-incremental`, with `+changelog`.
    pub fn label(&self) -> String {
        let base = match (self.backend, self.incremental) {
            (BackendKind::Hashmap, _) => "hashmap",
            (BackendKind::Rocksdb, false) => "rocksdb",
            (BackendKind::Rocksdb, true) => "rocksdb-incremental",
        };
        if self.changelog.as_ref().is_some_and(|c| c.enabled) { format!("{base}+changelog") } else { base.to_string() }
    }
}

/// `state.backend.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// `HashMapStateBackend`: state objects on the heap; snapshots are full copies.
    Hashmap,
    /// `EmbeddedRocksDBStateBackend`: an LSM tree on local disk.
    Rocksdb,
}

/// The changelog state backend (FLIP-158).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChangelogSpec {
    /// `state.changelog.enabled`.
    pub enabled: bool,
    /// `state.changelog.periodic-materialize.interval` (Flink's default 10 min): how often the
    /// underlying backend uploads a base snapshot so the log can be truncated.
    pub materialize_interval_ms: u64,
    /// `state.changelog.dstl.dfs.batch.persist-delay` (default 10 ms): changes are uploaded in
    /// batches this far apart.
    pub persist_delay_ms: u64,
}

impl Default for ChangelogSpec {
    fn default() -> Self {
        ChangelogSpec { enabled: true, materialize_interval_ms: 600_000, persist_delay_ms: 10 }
    }
}

/// RocksDB's LSM tree, with RocksDB's (and Flink's) defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RocksDbSpec {
    /// `state.backend.rocksdb.writebuffer.size` (64 MiB): the memtable is flushed to a new SST
    /// file when its writes reach this size (and at every checkpoint).
    pub write_buffer_kib: u64,
    /// RocksDB's `level0_file_num_compaction_trigger` (4): L0 files that start a compaction into L1.
    pub level0_compaction_trigger: u32,
    /// `state.backend.rocksdb.compaction.level.target-file-size-base` (64 MiB): SST file size
    /// in L1 and below.
    pub target_file_size_kib: u64,
    /// `state.backend.rocksdb.compaction.level.max-size-level-base` (256 MiB): L1's size limit.
    pub max_bytes_for_level_base_kib: u64,
    /// `max_bytes_for_level_multiplier` (10): each level may hold this many times the one above.
    pub level_multiplier: u64,
    /// How fast a full snapshot or a canonical savepoint reads every key-value back and
    /// serializes it (MiB/s, default 128): why those are slower than incremental checkpoints and
    /// native savepoints, which copy files.
    pub iterate_mib_per_sec: u64,
}

impl Default for RocksDbSpec {
    fn default() -> Self {
        RocksDbSpec {
            write_buffer_kib: 64 << 10,
            level0_compaction_trigger: 4,
            target_file_size_kib: 64 << 10,
            max_bytes_for_level_base_kib: 256 << 10,
            level_multiplier: 10,
            iterate_mib_per_sec: 128,
        }
    }
}

impl RocksDbSpec {
    fn is_default(&self) -> bool {
        *self == RocksDbSpec::default()
    }
}
