//! Semantic validation of a parsed scenario: ranges, references, and the shape of the DAG.
//! Each check reports the JSON path, the value found and what is allowed. Limits are generous but
//! finite: a value beyond them is almost certainly a typo (milliseconds written as nanoseconds, …).

use super::{Checkpointing, OperatorKind, OperatorSpec, Partitioner, ProtocolName, Scenario, ScenarioError};
use std::collections::BTreeMap;

type R = Result<(), ScenarioError>;

/// Largest parallelism accepted; what bounds a scenario is its estimated memory.
pub const MAX_PARALLELISM: u32 = 1024;

/// The most memory a scenario may need by [`estimated_memory`] (16 GiB: this machine class has
/// 24 GiB). A scenario above it is refused with the figure, before anything is allocated.
pub const MAX_MEMORY_BYTES: u64 = 16 << 30;

/// A record in memory (lineage, key, value, arrival, sequence number).
const RECORD_BYTES_IN_MEMORY: u64 = 48;

/// Worst-case memory of a run of `s`: every channel's sender backlog and receiver queue full
/// (`max_buffers_per_channel + buffers_per_channel + floating_buffers_per_gate` buffers of
/// `buffer_records` records each, plus a fixed part per channel), and the keyed state of every
/// `keyed_sum` task holding every key of its sources — under `uncoordinated` once more for every
/// local checkpoint the run may keep ([`uncoordinated_copies`]).
pub fn estimated_memory(s: &Scenario) -> u64 {
    let ops = &s.topology.operators;
    let par = |id: &str| ops.iter().find(|o| o.id == id).map_or(1, |o| o.parallelism as u64);
    let channels: u64 = s
        .topology
        .edges
        .iter()
        .map(|e| match e.partitioner {
            Partitioner::Forward => par(&e.from),
            _ => par(&e.from) * par(&e.to),
        })
        .sum();
    let n = &s.network;
    let buffers = (n.max_buffers_per_channel + n.buffers_per_channel + n.floating_buffers_per_gate) as u64;
    let per_channel = buffers * n.buffer_records as u64 * RECORD_BYTES_IN_MEMORY + 512;
    // Distinct keys: at most the key space, and at most one per record.
    let keys: u64 = ops
        .iter()
        .filter(|o| o.kind == OperatorKind::Source)
        .map(|o| {
            // With churn, the window's slide adds new keys over the source's lifetime.
            let slide = o.new_keys_per_sec.unwrap_or(0).saturating_mul(o.until_ms.unwrap_or(3_600_000) / 1000 + 1);
            let space = o.keys.unwrap_or(1000).saturating_add(o.hot_keys.unwrap_or(0)).saturating_add(slide);
            space.min(o.records_per_partition.map_or(u64::MAX, |r| r * o.parallelism as u64))
        })
        .fold(0, u64::saturating_add);
    // A task holds at most every key once; summed over the keyed_sum operators.
    let state: u64 = ops
        .iter()
        .filter(|o| o.kind == OperatorKind::KeyedSum)
        .map(|_| keys.saturating_mul(48))
        .fold(0, u64::saturating_add);
    let state = state.saturating_mul(1 + uncoordinated_copies(s));
    channels.saturating_mul(per_channel).saturating_add(state)
}

/// Local checkpoints an `uncoordinated` run may hold at once, each with a copy of its task's
/// state: one per checkpoint interval while the sources read (their `until_ms`, or their records
/// at their rate; at most until `limits.max_sim_time_ms` or `cancel_at_ms`), since the recovery
/// line can stay at the start and every local checkpoint after it is kept (0 for any other
/// protocol).
fn uncoordinated_copies(s: &Scenario) -> u64 {
    let Some(c) = s.checkpointing.as_ref().filter(|c| c.mode == ProtocolName::UNCOORDINATED) else { return 0 };
    let input_ms = s
        .topology
        .operators
        .iter()
        .filter(|o| o.kind == OperatorKind::Source)
        .map(|o| {
            let rate = o.arrival.map_or(0, |a| a.base_rate_per_sec());
            let by_records = o.records_per_partition.filter(|_| rate > 0).map(|r| r.saturating_mul(1000) / rate);
            match (o.until_ms, by_records) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(3_600_000),
            }
        })
        .max()
        .unwrap_or(0)
        .min(s.limits.max_sim_time_ms)
        .min(s.limits.cancel_at_ms.unwrap_or(u64::MAX));
    input_ms / c.interval_ms.max(1) + 1
}

/// Largest processing cost or latency accepted (10 s).
pub const MAX_DURATION_NS: u64 = 10_000_000_000;

fn range(path: &str, value: u64, lo: u64, hi: u64, what: &str) -> R {
    if value < lo || value > hi {
        return Err(ScenarioError::field(path, format!("found {value}, allowed: {what} in {lo}..={hi}")));
    }
    Ok(())
}

fn is_ident(s: &str, extra: &[char]) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || extra.contains(&c))
}

pub(super) fn validate(s: &Scenario) -> R {
    if !is_ident(&s.name, &['.']) || s.name.starts_with('.') {
        return Err(ScenarioError::field(
            "name",
            format!(
                "found {:?}, allowed: 1 to 64 characters of letters, digits, `-`, `_`, `.`, not starting with `.` (the name is a directory under output/)",
                s.name
            ),
        ));
    }
    validate_network(s)?;
    if let Some(v) = s.format
        && v != super::FORMAT_VERSION
    {
        return Err(ScenarioError::field(
            "format",
            format!(
                "found {v}, allowed: {} (this ckptsim reads scenario format {}; `ckptsim --version` says which it reads)",
                super::FORMAT_VERSION,
                super::FORMAT_VERSION
            ),
        ));
    }
    range("metrics.sample_interval_ms", s.metrics.sample_interval_ms, 1, 3_600_000, "milliseconds")?;
    if let Some(c) = &s.checkpointing {
        validate_checkpointing(c)?;
    }
    validate_state(&s.state)?;
    if let Some(m) = s.topology.max_parallelism {
        range("topology.max_parallelism", m as u64, 1, 32_768, "key groups")?;
        if let Some(op) = s.topology.operators.iter().find(|o| o.parallelism > m) {
            return Err(ScenarioError::field(
                "topology.max_parallelism",
                format!(
                    "found {m}, below the parallelism of {:?} ({}): every operator needs at least one key group per task",
                    op.id, op.parallelism
                ),
            ));
        }
    }
    validate_restart(&s.restart)?;
    range("limits.max_sim_time_ms", s.limits.max_sim_time_ms, 1, 30 * 86_400_000, "milliseconds")?;
    range("limits.stall_ms", s.limits.stall_ms, 1, 30 * 86_400_000, "milliseconds")?;
    if let Some(at) = s.limits.cancel_at_ms {
        range("limits.cancel_at_ms", at, 1, s.limits.max_sim_time_ms, "milliseconds, up to limits.max_sim_time_ms")?;
    }
    range(
        "metrics.warmup_ms",
        s.metrics.warmup_ms,
        0,
        s.limits.max_sim_time_ms,
        "milliseconds, up to limits.max_sim_time_ms",
    )?;
    validate_topology(s)?;
    validate_failures(s)?;
    let need = estimated_memory(s);
    if need > MAX_MEMORY_BYTES {
        let copies = uncoordinated_copies(s);
        return Err(ScenarioError::field(
            "topology",
            format!(
                "needs an estimated {:.1} GiB of memory (channels × buffers × records, and keyed state{}), more than the {} GiB allowed: lower the parallelism of all-to-all edges, network.buffer_records or the buffers per channel{}",
                need as f64 / (1u64 << 30) as f64,
                if copies > 0 {
                    format!(" kept by up to {copies} local checkpoints of uncoordinated")
                } else {
                    String::new()
                },
                MAX_MEMORY_BYTES >> 30,
                if copies > 0 { ", or shorten the uncoordinated run" } else { "" }
            ),
        ));
    }
    Ok(())
}

fn validate_restart(r: &super::Restart) -> R {
    use super::RestartStrategy::*;
    range("restart.delay_ms", r.delay_ms, 0, 86_400_000, "milliseconds")?;
    range("restart.attempts", r.attempts as u64, 0, 1_000_000, "restarts")?;
    let options: [(&str, bool, super::RestartStrategy); 7] = [
        ("initial_backoff_ms", r.initial_backoff_ms.is_some(), ExponentialDelay),
        ("max_backoff_ms", r.max_backoff_ms.is_some(), ExponentialDelay),
        ("backoff_multiplier", r.backoff_multiplier.is_some(), ExponentialDelay),
        ("reset_backoff_threshold_ms", r.reset_backoff_threshold_ms.is_some(), ExponentialDelay),
        ("jitter_factor", r.jitter_factor.is_some(), ExponentialDelay),
        ("max_failures_per_interval", r.max_failures_per_interval.is_some(), FailureRate),
        ("failure_rate_interval_ms", r.failure_rate_interval_ms.is_some(), FailureRate),
    ];
    for (name, set, of) in options {
        if set && r.strategy != of {
            return Err(ScenarioError::field(
                format!("restart.{name}"),
                format!("is an option of strategy {}, but restart.strategy is {}", of.name(), r.strategy.name()),
            ));
        }
    }
    if let Some(ms) = r.initial_backoff_ms {
        range("restart.initial_backoff_ms", ms, 1, 86_400_000, "milliseconds")?;
    }
    if let Some(ms) = r.max_backoff_ms {
        range("restart.max_backoff_ms", ms, r.initial_backoff_ms.unwrap_or(1000), 86_400_000, "milliseconds")?;
    }
    if let Some(m) = r.backoff_multiplier
        && !(1.0..=100.0).contains(&m)
    {
        return Err(ScenarioError::field(
            "restart.backoff_multiplier",
            format!("found {m}, allowed: a factor in 1.0..=100.0"),
        ));
    }
    if let Some(ms) = r.reset_backoff_threshold_ms {
        range("restart.reset_backoff_threshold_ms", ms, 1, 30 * 86_400_000, "milliseconds")?;
    }
    if let Some(j) = r.jitter_factor
        && !(0.0..=1.0).contains(&j)
    {
        return Err(ScenarioError::field(
            "restart.jitter_factor",
            format!("found {j}, allowed: a fraction in 0.0..=1.0"),
        ));
    }
    if let Some(n) = r.max_failures_per_interval {
        range("restart.max_failures_per_interval", n as u64, 1, 1_000_000, "failures")?;
    }
    if let Some(ms) = r.failure_rate_interval_ms {
        range("restart.failure_rate_interval_ms", ms, 1, 30 * 86_400_000, "milliseconds")?;
    }
    Ok(())
}

fn validate_failures(s: &Scenario) -> R {
    let tasks = || {
        s.topology
            .operators
            .iter()
            .flat_map(|o| (0..o.parallelism).map(move |i| format!("{}[{i}]", o.id)))
            .collect::<Vec<_>>()
    };
    for (i, f) in s.failures.iter().enumerate() {
        let p = format!("failures[{i}]");
        let triggers = [
            ("at_ms", f.at_ms.is_some()),
            ("during_alignment_of", f.during_alignment_of.is_some()),
            ("after_checkpoint", f.after_checkpoint.is_some()),
            ("during_recovery_ms", f.during_recovery_ms.is_some()),
            ("random", f.random.is_some()),
        ];
        let given: Vec<&str> = triggers.iter().filter(|t| t.1).map(|t| t.0).collect();
        if given.len() != 1 {
            return Err(ScenarioError::field(
                p,
                format!(
                    "found {}, allowed: exactly one of at_ms, during_alignment_of, after_checkpoint, during_recovery_ms, random",
                    if given.is_empty() { "none".to_string() } else { given.join(" and ") }
                ),
            ));
        }
        if let Some(r) = &f.random {
            if f.task.is_some() {
                return Err(ScenarioError::field(
                    format!("{p}.task"),
                    "a random failure picks its task; remove `task`",
                ));
            }
            range(&format!("{p}.random.mtbf_ms"), r.mtbf_ms, 1, 86_400_000, "milliseconds")?;
            range(&format!("{p}.random.max_failures"), r.max_failures as u64, 1, 1000, "failures")?;
            continue;
        }
        let Some(task) = &f.task else {
            return Err(ScenarioError::field(
                format!("{p}.task"),
                "missing; name the task that crashes, e.g. \"agg[2]\"",
            ));
        };
        let all = tasks();
        if !all.contains(task) {
            return Err(ScenarioError::field(
                format!("{p}.task"),
                format!("unknown task {task:?}; known tasks: {}", all.join(", ")),
            ));
        }
        if (f.during_alignment_of.is_some() || f.after_checkpoint.is_some()) && s.checkpointing.is_none() {
            return Err(ScenarioError::field(p, "a failure at a checkpoint moment needs a checkpointing section"));
        }
        if let Some(n) = f.during_alignment_of.or(f.after_checkpoint) {
            let field = if f.during_alignment_of.is_some() { "during_alignment_of" } else { "after_checkpoint" };
            range(&format!("{p}.{field}"), n, 1, 1_000_000, "checkpoint id")?;
        }
        if let Some(t) = f.at_ms.or(f.during_recovery_ms) {
            let field = if f.at_ms.is_some() { "at_ms" } else { "during_recovery_ms" };
            range(&format!("{p}.{field}"), t, 0, 86_400_000_000, "milliseconds")?;
        }
    }
    if let Some(c) = &s.checkpointing {
        failures_fit(&s.failures, c.mode)?;
    }
    Ok(())
}

/// Whether `failures` can happen under protocol `p`: a crash at a checkpoint moment needs global
/// checkpoints, which `uncoordinated` does not take.
pub(super) fn failures_fit(failures: &[super::FailureSpec], p: super::ProtocolName) -> R {
    if p.info().coordinated {
        return Ok(());
    }
    for (i, f) in failures.iter().enumerate() {
        let field = if f.during_alignment_of.is_some() {
            "during_alignment_of"
        } else if f.after_checkpoint.is_some() {
            "after_checkpoint"
        } else {
            continue;
        };
        return Err(ScenarioError::field(
            format!("failures[{i}].{field}"),
            format!(
                "protocol {} takes no global checkpoints, so there is no checkpoint moment to crash at; use at_ms, during_recovery_ms or random",
                p.name()
            ),
        ));
    }
    Ok(())
}

/// Whether the checkpointing settings `c` can run protocol `p` (the file's `mode`, or the one
/// `--protocol` or `compare` switches to): the settings the protocol needs are there, and it
/// allows as many checkpoints at once as `max_concurrent` asks for.
pub(super) fn protocol_fits(c: &Checkpointing, p: super::ProtocolName) -> R {
    if p.info().uses_aligned_timeout && c.aligned_checkpoint_timeout_ms.is_none() {
        return Err(ScenarioError::field(
            "checkpointing.aligned_checkpoint_timeout_ms",
            format!("missing; protocol {p} needs the time after which a checkpoint turns unaligned (milliseconds)"),
        ));
    }
    if c.max_concurrent > 1 && !p.info().concurrent_checkpoints {
        return Err(ScenarioError::field(
            "checkpointing.max_concurrent",
            format!(
                "found {}; protocol {p} allows 1 checkpoint at a time (Flink does not support concurrent unaligned checkpoints)",
                c.max_concurrent
            ),
        ));
    }
    Ok(())
}

fn validate_state(st: &super::StateConfig) -> R {
    if st.incremental && st.backend != super::BackendKind::Rocksdb {
        return Err(ScenarioError::field(
            "state.incremental",
            "only the rocksdb backend has incremental checkpoints; use \"backend\": \"rocksdb\" or remove it",
        ));
    }
    range("state.num_retained", st.num_retained as u64, 1, 1000, "completed checkpoints")?;
    let r = &st.rocksdb;
    range("state.rocksdb.write_buffer_kib", r.write_buffer_kib, 1, 1 << 30, "KiB")?;
    range("state.rocksdb.level0_compaction_trigger", r.level0_compaction_trigger as u64, 1, 1000, "files")?;
    range("state.rocksdb.target_file_size_kib", r.target_file_size_kib, 1, 1 << 30, "KiB")?;
    range("state.rocksdb.max_bytes_for_level_base_kib", r.max_bytes_for_level_base_kib, 1, 1 << 40, "KiB")?;
    range("state.rocksdb.level_multiplier", r.level_multiplier, 2, 1000, "ratio")?;
    range("state.rocksdb.iterate_mib_per_sec", r.iterate_mib_per_sec, 1, 1 << 20, "MiB/s")?;
    if let Some(c) = &st.changelog {
        range("state.changelog.materialize_interval_ms", c.materialize_interval_ms, 1, 86_400_000, "milliseconds")?;
        range("state.changelog.persist_delay_ms", c.persist_delay_ms, 1, 86_400_000, "milliseconds")?;
    }
    Ok(())
}

fn validate_checkpointing(c: &Checkpointing) -> R {
    protocol_fits(c, c.mode)?;
    const DAY_MS: u64 = 86_400_000;
    range("checkpointing.interval_ms", c.interval_ms, 1, DAY_MS, "milliseconds")?;
    range("checkpointing.timeout_ms", c.timeout_ms, 1, DAY_MS, "milliseconds")?;
    range("checkpointing.min_pause_ms", c.min_pause_ms, 0, DAY_MS, "milliseconds")?;
    range("checkpointing.max_concurrent", c.max_concurrent as u64, 1, 64, "checkpoints")?;
    range(
        "checkpointing.tolerable_failed_checkpoints",
        c.tolerable_failed_checkpoints as u64,
        0,
        1_000_000,
        "checkpoints",
    )?;
    if let Some(t) = c.aligned_checkpoint_timeout_ms {
        range("checkpointing.aligned_checkpoint_timeout_ms", t, 0, DAY_MS, "milliseconds")?;
    }
    let st = &c.storage;
    range("checkpointing.storage.sync_base_us", st.sync_base_us, 0, MAX_DURATION_NS / 1_000, "microseconds")?;
    range("checkpointing.storage.sync_mib_per_sec", st.sync_mib_per_sec, 1, 1 << 20, "MiB/s")?;
    range(
        "checkpointing.storage.write_latency_ms",
        st.write_latency_ms,
        0,
        MAX_DURATION_NS / 1_000_000,
        "milliseconds",
    )?;
    range("checkpointing.storage.write_mib_per_sec", st.write_mib_per_sec, 1, 1 << 20, "MiB/s")?;
    range("checkpointing.storage.bandwidth_mib_per_sec", st.bandwidth_mib_per_sec, 1, 1 << 30, "MiB/s")?;
    range("checkpointing.storage.upload_threads", st.upload_threads as u64, 1, 1024, "files at once")?;
    range(
        "checkpointing.storage.max_subtasks_per_channel_state_file",
        st.max_subtasks_per_channel_state_file as u64,
        1,
        1 << 20,
        "subtasks",
    )?;
    range("checkpointing.storage.read_latency_ms", st.read_latency_ms, 0, MAX_DURATION_NS / 1_000_000, "milliseconds")?;
    range("checkpointing.storage.read_mib_per_sec", st.read_mib_per_sec, 1, 1 << 20, "MiB/s")?;
    Ok(())
}

fn validate_network(s: &Scenario) -> R {
    let n = &s.network;
    range("network.buffer_records", n.buffer_records as u64, 1, 65_536, "records")?;
    range("network.record_bytes", n.record_bytes as u64, 1, 1 << 20, "bytes")?;
    range("network.buffer_timeout_us", n.buffer_timeout_us, 0, MAX_DURATION_NS / 1_000, "microseconds")?;
    range("network.buffers_per_channel", n.buffers_per_channel as u64, 1, 1024, "buffers")?;
    range("network.floating_buffers_per_gate", n.floating_buffers_per_gate as u64, 0, 1024, "buffers")?;
    range("network.max_buffers_per_channel", n.max_buffers_per_channel as u64, 1, 1024, "buffers")?;
    range("network.latency_us", n.latency_us, 0, MAX_DURATION_NS / 1_000, "microseconds")?;
    range("network.jitter_us", n.jitter_us, 0, MAX_DURATION_NS / 1_000, "microseconds")?;
    range("network.reorder_us", n.reorder_us, 0, MAX_DURATION_NS / 1_000, "microseconds")?;
    let d = &n.debloat;
    range("network.debloat.target_ms", d.target_ms, 1, MAX_DURATION_NS / 1_000_000, "milliseconds")?;
    range("network.debloat.period_ms", d.period_ms, 1, MAX_DURATION_NS / 1_000_000, "milliseconds")?;
    range("network.debloat.samples", d.samples as u64, 1, 1_000_000, "samples")?;
    range("network.debloat.threshold_percentages", d.threshold_percentages as u64, 0, 100, "percent")?;
    if d.enabled {
        // The largest buffer is the static one.
        let max_bytes = n.buffer_records as u64 * n.record_bytes as u64;
        range(
            "network.debloat.min_buffer_bytes",
            d.min_buffer_bytes,
            1,
            max_bytes,
            "bytes, up to buffer_records × record_bytes",
        )?;
    }
    Ok(())
}

fn validate_topology(s: &Scenario) -> R {
    let ops = &s.topology.operators;
    if ops.is_empty() {
        return Err(ScenarioError::field(
            "topology.operators",
            "found an empty list, allowed: at least a source and a sink",
        ));
    }
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        let p = format!("topology.operators[{i}]");
        if !is_ident(&op.id, &[]) {
            return Err(ScenarioError::field(
                format!("{p}.id"),
                format!("found {:?}, allowed: 1 to 64 characters of letters, digits, `-`, `_`", op.id),
            ));
        }
        if let Some(first) = index.insert(&op.id, i) {
            return Err(ScenarioError::field(
                format!("{p}.id"),
                format!("duplicate operator id {:?} (also topology.operators[{first}]); ids must be unique", op.id),
            ));
        }
        validate_operator(&p, op)?;
    }
    let known = || ops.iter().map(|o| o.id.as_str()).collect::<Vec<_>>().join(", ");
    let mut inputs = vec![Vec::new(); ops.len()];
    let mut outputs = vec![Vec::new(); ops.len()];
    let mut seen: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (e, edge) in s.topology.edges.iter().enumerate() {
        let p = format!("topology.edges[{e}]");
        let lookup = |field: &str, id: &str| {
            index.get(id).copied().ok_or_else(|| {
                ScenarioError::field(
                    format!("{p}.{field}"),
                    format!("unknown operator {id:?}; known operators: {}", known()),
                )
            })
        };
        let from = lookup("from", &edge.from)?;
        let to = lookup("to", &edge.to)?;
        if ops[to].kind == OperatorKind::Source {
            return Err(ScenarioError::field(
                format!("{p}.to"),
                format!("{:?} is a source; a source has no inputs", edge.to),
            ));
        }
        if ops[from].kind == OperatorKind::Sink {
            return Err(ScenarioError::field(
                format!("{p}.from"),
                format!("{:?} is a sink; a sink has no outputs", edge.from),
            ));
        }
        if let Some(first) = seen.insert((from, to), e) {
            return Err(ScenarioError::field(
                p,
                format!(
                    "duplicate edge {} → {} (also topology.edges[{first}]); at most one edge per pair",
                    edge.from, edge.to
                ),
            ));
        }
        if edge.partitioner == Partitioner::Forward && ops[from].parallelism != ops[to].parallelism {
            return Err(ScenarioError::field(
                format!("{p}.partitioner"),
                format!(
                    "forward edge {} (parallelism {}) → {} (parallelism {}): forward needs equal parallelism; use hash, rebalance or broadcast",
                    edge.from, ops[from].parallelism, edge.to, ops[to].parallelism
                ),
            ));
        }
        inputs[to].push(e);
        outputs[from].push(e);
    }
    for (i, op) in ops.iter().enumerate() {
        let p = format!("topology.operators[{i}]");
        let n_in = inputs[i].len();
        let single_input = matches!(
            op.kind,
            OperatorKind::Map
                | OperatorKind::Filter
                | OperatorKind::KeyedSum
                | OperatorKind::Sink
                | OperatorKind::LoopUntil
        );
        if op.kind != OperatorKind::Source && n_in == 0 {
            return Err(ScenarioError::field(
                p,
                format!("{} {:?} has no input; add an edge with \"to\": {:?}", op.kind.name(), op.id, op.id),
            ));
        }
        if single_input && n_in > 1 {
            let from: Vec<_> = inputs[i].iter().map(|&e| s.topology.edges[e].from.as_str()).collect();
            return Err(ScenarioError::field(
                format!("topology.edges[{}]", inputs[i][1]),
                format!(
                    "{} {:?} takes exactly one input but has {n_in} (from {}); merge them with a union operator first",
                    op.kind.name(),
                    op.id,
                    from.join(", ")
                ),
            ));
        }
        if op.kind == OperatorKind::Union && n_in < 2 {
            return Err(ScenarioError::field(p, format!("union {:?} has {n_in} input, allowed: 2 or more", op.id)));
        }
        if op.kind != OperatorKind::Sink && outputs[i].is_empty() {
            return Err(ScenarioError::field(
                p,
                format!(
                    "{} {:?} has no output; every operator but a sink must feed another operator",
                    op.kind.name(),
                    op.id
                ),
            ));
        }
    }
    let forward_outputs: Vec<Vec<usize>> =
        outputs.iter().map(|es| es.iter().copied().filter(|&e| !s.topology.edges[e].back_edge).collect()).collect();
    if let Some(cycle) = find_cycle(ops, &forward_outputs, s) {
        return Err(ScenarioError::field(
            "topology.edges",
            format!(
                "the edges form a cycle: {cycle}; the topology must be a DAG, except for a cycle closed by an edge marked \"back_edge\": true (from a loop_until back to the loop's head)"
            ),
        ));
    }
    validate_loops(s, &index)
}

/// The iterations: back-edges leave a `loop_until` and return upstream of it; a loop is entered
/// only at an operator a back-edge returns to (its head), and no broadcast edge lies inside it.
fn validate_loops(s: &Scenario, index: &BTreeMap<&str, usize>) -> R {
    let (ops, edges) = (&s.topology.operators, &s.topology.edges);
    let pairs: Vec<(usize, usize)> = edges.iter().map(|e| (index[e.from.as_str()], index[e.to.as_str()])).collect();
    let loop_of = crate::graph::loops_of(ops.len(), &pairs);
    let mut heads = vec![false; ops.len()];
    for (e, edge) in edges.iter().enumerate() {
        let (from, to) = pairs[e];
        if !edge.back_edge {
            continue;
        }
        let p = format!("topology.edges[{e}]");
        if ops[from].kind != OperatorKind::LoopUntil {
            return Err(ScenarioError::field(
                format!("{p}.back_edge"),
                format!(
                    "a back-edge leaves a loop_until (which decides what goes round again), found on {} {:?}",
                    ops[from].kind.name(),
                    edge.from
                ),
            ));
        }
        if loop_of[from].is_none() || loop_of[from] != loop_of[to] {
            return Err(ScenarioError::field(
                format!("{p}.back_edge"),
                format!(
                    "back-edge {} → {} closes no cycle: {:?} does not lead to {:?}; a back-edge returns to an operator upstream of its loop_until",
                    edge.from, edge.to, edge.to, edge.from
                ),
            ));
        }
        heads[to] = true;
    }
    for (i, op) in ops.iter().enumerate() {
        if op.kind != OperatorKind::LoopUntil {
            continue;
        }
        let outs = || pairs.iter().zip(edges).filter(move |((f, _), _)| *f == i);
        if !outs().any(|(_, e)| e.back_edge) {
            return Err(ScenarioError::field(
                format!("topology.operators[{i}]"),
                format!(
                    "loop_until {:?} has no back-edge; add an edge from it to the loop's head with \"back_edge\": true",
                    op.id
                ),
            ));
        }
        if !outs().any(|(_, e)| !e.back_edge) {
            return Err(ScenarioError::field(
                format!("topology.operators[{i}]"),
                format!("loop_until {:?} has no regular output for the records that leave the loop", op.id),
            ));
        }
    }
    for (e, edge) in edges.iter().enumerate() {
        let (from, to) = pairs[e];
        let Some(l) = loop_of[to] else { continue };
        let members = || {
            let ids: Vec<&str> =
                (0..ops.len()).filter(|&o| loop_of[o] == Some(l)).map(|o| ops[o].id.as_str()).collect();
            ids.join(", ")
        };
        if loop_of[from] == Some(l) {
            if edge.partitioner == Partitioner::Broadcast {
                return Err(ScenarioError::field(
                    format!("topology.edges[{e}].partitioner"),
                    format!(
                        "broadcast edge {} → {} lies inside the loop of {}: it would multiply every record each round; use hash, rebalance or forward",
                        edge.from,
                        edge.to,
                        members()
                    ),
                ));
            }
        } else if !heads[to] {
            return Err(ScenarioError::field(
                format!("topology.edges[{e}]"),
                format!(
                    "edge {} → {} enters the loop of {} at {:?}, which no back-edge returns to; a loop is entered only at its head",
                    edge.from,
                    edge.to,
                    members(),
                    edge.to
                ),
            ));
        }
    }
    for (i, op) in ops.iter().enumerate() {
        if heads[i] && !pairs.iter().any(|&(f, t)| t == i && loop_of[f] != loop_of[i]) {
            return Err(ScenarioError::field(
                format!("topology.operators[{i}]"),
                format!("{:?} heads a loop but has no input from outside it: no record would ever enter", op.id),
            ));
        }
    }
    Ok(())
}

fn validate_operator(p: &str, op: &OperatorSpec) -> R {
    range(&format!("{p}.parallelism"), op.parallelism as u64, 1, MAX_PARALLELISM as u64, "tasks")?;
    range(&format!("{p}.cost"), op.cost.mean_ns(), 0, MAX_DURATION_NS, "nanoseconds")?;
    for (k, cost) in &op.task_costs {
        let path = format!("{p}.task_costs.{k}");
        match k.parse::<u32>() {
            Ok(t) if t < op.parallelism && k == &t.to_string() => {}
            _ => {
                return Err(ScenarioError::field(
                    path,
                    format!("unknown task {k:?} of {:?}; allowed: a task index 0..={}", op.id, op.parallelism - 1),
                ));
            }
        }
        range(&path, cost.mean_ns(), 0, MAX_DURATION_NS, "nanoseconds")?;
    }
    let only = |field: &str, present: bool, kind: OperatorKind| -> R {
        if present && op.kind != kind {
            return Err(ScenarioError::field(
                format!("{p}.{field}"),
                format!(
                    "`{field}` is only allowed on a {} operator, found on {} {:?}",
                    kind.name(),
                    op.kind.name(),
                    op.id
                ),
            ));
        }
        Ok(())
    };
    only("arrival", op.arrival.is_some(), OperatorKind::Source)?;
    only("records_per_partition", op.records_per_partition.is_some(), OperatorKind::Source)?;
    only("until_ms", op.until_ms.is_some(), OperatorKind::Source)?;
    only("keys", op.keys.is_some(), OperatorKind::Source)?;
    only("hot_keys", op.hot_keys.is_some(), OperatorKind::Source)?;
    only("hot_key_pct", op.hot_key_pct.is_some(), OperatorKind::Source)?;
    only("new_keys_per_sec", op.new_keys_per_sec.is_some(), OperatorKind::Source)?;
    only("keep", op.keep.is_some(), OperatorKind::Filter)?;
    only("until", op.until.is_some(), OperatorKind::LoopUntil)?;
    only("max_rounds", op.max_rounds.is_some(), OperatorKind::LoopUntil)?;
    only("state_bytes_per_key", op.state_bytes_per_key.is_some(), OperatorKind::KeyedSum)?;
    only("max_parallelism", op.max_parallelism.is_some(), OperatorKind::KeyedSum)?;
    if let Some(m) = op.max_parallelism {
        range(
            &format!("{p}.max_parallelism"),
            m as u64,
            op.parallelism as u64,
            32_768,
            "key groups, at least the parallelism",
        )?;
    }
    only("delivery", op.delivery.is_some(), OperatorKind::Sink)?;
    only("transaction_timeout_ms", op.transaction_timeout_ms.is_some(), OperatorKind::Sink)?;
    if let Some(t) = op.transaction_timeout_ms {
        range(&format!("{p}.transaction_timeout_ms"), t, 1, 30 * 86_400_000, "milliseconds")?;
        if op.delivery == Some(super::Delivery::Plain) {
            return Err(ScenarioError::field(
                format!("{p}.transaction_timeout_ms"),
                "a plain sink has no transactions; remove it or use \"delivery\": \"transactional\"",
            ));
        }
    }
    match op.kind {
        OperatorKind::Source => {
            let Some(arrival) = &op.arrival else {
                return Err(ScenarioError::field(
                    format!("{p}.arrival"),
                    "missing; a source needs an arrival process: {\"kind\": \"constant\" | \"poisson\" | \"bursts\", \"rate_per_sec\": …}",
                ));
            };
            let ap = format!("{p}.arrival");
            const MAX_RATE: u64 = 100_000_000;
            range(&format!("{ap}.rate_per_sec"), arrival.base_rate_per_sec(), 1, MAX_RATE, "records per second")?;
            if let super::ArrivalSpec::Bursts { burst_rate_per_sec, burst_ms, period_ms, .. } = *arrival {
                range(&format!("{ap}.burst_rate_per_sec"), burst_rate_per_sec, 1, MAX_RATE, "records per second")?;
                range(&format!("{ap}.burst_ms"), burst_ms, 1, 86_400_000, "milliseconds")?;
                range(
                    &format!("{ap}.period_ms"),
                    period_ms,
                    burst_ms + 1,
                    86_400_000,
                    "milliseconds (more than burst_ms)",
                )?;
            }
            if op.records_per_partition.is_none() && op.until_ms.is_none() {
                return Err(ScenarioError::field(
                    format!("{p}.records_per_partition"),
                    "missing; a source needs `records_per_partition` or `until_ms` (or both) so the run ends",
                ));
            }
            if let Some(n) = op.records_per_partition {
                range(&format!("{p}.records_per_partition"), n, 1, 1_000_000_000_000, "records")?;
            }
            if let Some(t) = op.until_ms {
                range(&format!("{p}.until_ms"), t, 1, 1_000_000_000, "milliseconds")?;
            }
            if let Some(k) = op.keys {
                range(&format!("{p}.keys"), k, 1, 1 << 40, "distinct keys")?;
            }
            if let Some(h) = op.hot_keys {
                range(&format!("{p}.hot_keys"), h, 1, 1 << 40, "distinct keys")?;
            }
            if let Some(pct) = op.hot_key_pct {
                range(&format!("{p}.hot_key_pct"), pct, 0, 100, "percent")?;
                if op.hot_keys.is_none() {
                    return Err(ScenarioError::field(
                        format!("{p}.hot_key_pct"),
                        "needs `hot_keys` (the size of the hot set the percentage refers to)",
                    ));
                }
            }
            if let Some(n) = op.new_keys_per_sec {
                range(&format!("{p}.new_keys_per_sec"), n, 0, 1 << 30, "keys per second")?;
            }
        }
        OperatorKind::Filter => {
            let Some(keep) = &op.keep else {
                return Err(ScenarioError::field(
                    format!("{p}.keep"),
                    "missing; a filter needs `keep`: {\"modulo\": M, \"remainders\": [r, …]}",
                ));
            };
            remainders(&format!("{p}.keep"), keep)?;
        }
        OperatorKind::LoopUntil => {
            let Some(until) = &op.until else {
                return Err(ScenarioError::field(
                    format!("{p}.until"),
                    "missing; a loop_until needs `until`: {\"modulo\": M, \"remainders\": [r, …]} (the records that leave the loop)",
                ));
            };
            remainders(&format!("{p}.until"), until)?;
            if let Some(n) = op.max_rounds {
                range(&format!("{p}.max_rounds"), n as u64, 1, 1000, "rounds")?;
            }
        }
        OperatorKind::KeyedSum => {
            if let Some(b) = op.state_bytes_per_key {
                range(&format!("{p}.state_bytes_per_key"), b, 1, 1 << 20, "bytes")?;
            }
        }
        OperatorKind::Map | OperatorKind::Union | OperatorKind::Sink => {}
    }
    Ok(())
}

/// A `{modulo, remainders}` predicate at `p`.
fn remainders(p: &str, k: &super::KeepSpec) -> R {
    range(&format!("{p}.modulo"), k.modulo, 1, 1 << 32, "divisor")?;
    if k.remainders.is_empty() {
        return Err(ScenarioError::field(
            format!("{p}.remainders"),
            "found an empty list, allowed: 1 or more remainders",
        ));
    }
    for (j, &r) in k.remainders.iter().enumerate() {
        range(&format!("{p}.remainders[{j}]"), r, 0, k.modulo - 1, "remainder")?;
    }
    Ok(())
}

/// Depth-first search for a cycle; returns it as `a → b → a`.
fn find_cycle(ops: &[OperatorSpec], outputs: &[Vec<usize>], s: &Scenario) -> Option<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let idx: BTreeMap<&str, usize> = ops.iter().enumerate().map(|(i, o)| (o.id.as_str(), i)).collect();
    let mut mark = vec![Mark::New; ops.len()];
    for start in 0..ops.len() {
        if mark[start] != Mark::New {
            continue;
        }
        // Iterative DFS: stack of (operator, next output position).
        let mut stack = vec![(start, 0usize)];
        mark[start] = Mark::Active;
        while let Some(&mut (v, ref mut pos)) = stack.last_mut() {
            if *pos < outputs[v].len() {
                let w = idx[s.topology.edges[outputs[v][*pos]].to.as_str()];
                *pos += 1;
                match mark[w] {
                    Mark::New => {
                        mark[w] = Mark::Active;
                        stack.push((w, 0));
                    }
                    Mark::Active => {
                        let from = stack.iter().position(|&(u, _)| u == w).unwrap_or(0);
                        let mut names: Vec<&str> = stack[from..].iter().map(|&(u, _)| ops[u].id.as_str()).collect();
                        names.push(&ops[w].id);
                        return Some(names.join(" → "));
                    }
                    Mark::Done => {}
                }
            } else {
                mark[v] = Mark::Done;
                stack.pop();
            }
        }
    }
    None
}
