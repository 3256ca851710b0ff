//! The metrics recorder: everything a run measures for its reports — record counts, latency
//! histograms, the time series, the rows of every checkpoint that ended with their cut verdicts —
//! and, at the end, the [`Summary`]. The event loop reports to it; nothing here decides anything
//! the simulation does, so it can never change a trace.

use super::{Engine, MAX_CHECKPOINT_ROWS, RunError, RunResult, State};
use crate::coordinator::{Ended, Outcome};
use crate::graph::ChannelId;
use crate::metrics::{
    CheckpointStats, CheckpointSummary, CutSummary, Histogram, LatencySummary, RecordCounts, RecoverySummary,
    SampleRow, Summary, TaskCheckpointRow,
};
use crate::operator::Logic;
use crate::sim::{SEC, SimTime, ns_to_ms};
use crate::verify::CutViolation;
use std::collections::BTreeMap;
use std::io::Write as _;

/// Where the rows of `checkpoints.csv` or `checkpoint_tasks.csv` go when they are streamed, and
/// the first error.
pub(super) struct RowsOut {
    pub(super) csv: csv::Writer<Box<dyn std::io::Write>>,
    pub(super) rows: u64,
    pub(super) error: Option<std::io::Error>,
}

impl std::fmt::Debug for RowsOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RowsOut({} rows)", self.rows)
    }
}

impl RowsOut {
    fn new(w: Box<dyn std::io::Write>) -> Self {
        RowsOut { csv: csv::Writer::from_writer(w), rows: 0, error: None }
    }

    /// Writes one row (the first write error is kept for the end of the run).
    fn write<R: serde::Serialize>(&mut self, row: &R) {
        if self.error.is_none()
            && let Err(err) = self.csv.serialize(row)
        {
            self.error = Some(std::io::Error::other(err));
        }
        self.rows += 1;
    }

    /// Ends the file: its header alone if no row came (as the file always has it), then flushed.
    fn close<R: serde::Serialize + Default>(mut self) -> Result<(), RunError> {
        if self.rows == 0 && self.error.is_none() {
            let header = crate::metrics::to_csv::<R>(&[]).map_err(RunError::Output)?;
            self.csv.flush().map_err(RunError::Output)?;
            let mut inner =
                self.csv.into_inner().map_err(|e| RunError::Output(std::io::Error::other(e.to_string())))?;
            inner.write_all(header.as_bytes()).map_err(RunError::Output)?;
            inner.flush().map_err(RunError::Output)
        } else if let Some(e) = self.error {
            Err(RunError::Output(e))
        } else {
            self.csv.flush().map_err(RunError::Output)
        }
    }
}

/// The checkpoint counts of `summary.json`, kept exact while the rows may be thinned.
#[derive(Debug, Default)]
struct OutcomeCounts {
    ended: usize,
    completed: usize,
    timed_out: usize,
    failed: usize,
    subsumed: usize,
    unfinished: usize,
    storage_bytes_max: u64,
}

/// The checkpoints that ended, in the order they ended.
#[derive(Debug, Default)]
pub(super) struct CheckpointLog {
    /// One row per checkpoint (`checkpoints.csv`); when the rows are streamed to `stats_out`, at
    /// most [`MAX_CHECKPOINT_ROWS`] of them (every `stride`-th), for the summary's percentiles and
    /// the charts.
    pub(super) stats: Vec<CheckpointStats>,
    stats_out: Option<RowsOut>,
    stride: usize,
    counts: OutcomeCounts,
    /// One row per task and checkpoint (`checkpoint_tasks.csv`), unless streamed to `task_out`.
    pub(super) task_rows: Vec<TaskCheckpointRow>,
    pub(super) task_out: Option<RowsOut>,
    /// Completed checkpoints whose cut was checked.
    pub(super) cut_checked: usize,
    /// Every cut violation found, in order.
    pub(super) cut_violations: Vec<CutViolation>,
}

impl CheckpointLog {
    /// `summary.json`'s `checkpoints`: percentiles over the rows kept, counts over every one.
    fn summary(&self, warmup_ms: f64) -> CheckpointSummary {
        let c = &self.counts;
        CheckpointSummary {
            triggered: c.ended,
            completed: c.completed,
            aborted: c.timed_out,
            failed: c.failed,
            subsumed: c.subsumed,
            unfinished: c.unfinished,
            storage_bytes_max: c.storage_bytes_max,
            ..CheckpointSummary::from_stats(&self.stats, warmup_ms)
        }
    }

    /// Records a checkpoint that ended.
    pub(super) fn ended(&mut self, e: Ended) {
        if e.outcome == Outcome::Completed {
            self.cut_checked += 1;
        }
        let c = &mut self.counts;
        match e.outcome {
            Outcome::Completed => c.completed += 1,
            Outcome::TimedOut => c.timed_out += 1,
            Outcome::Failed => c.failed += 1,
            Outcome::Subsumed => c.subsumed += 1,
            Outcome::Unfinished => c.unfinished += 1,
        }
        c.storage_bytes_max = c.storage_bytes_max.max(e.stats.storage_bytes);
        let n = c.ended;
        c.ended += 1;
        match &mut self.stats_out {
            Some(out) => {
                out.write(&e.stats);
                // Kept: every stride-th row. At the limit every other kept row goes and the stride
                // doubles (as the time series is thinned), so memory stays bounded.
                if n.is_multiple_of(self.stride.max(1)) {
                    self.stats.push(e.stats);
                    if self.stats.len() >= MAX_CHECKPOINT_ROWS {
                        let mut i = 0;
                        self.stats.retain(|_| {
                            i += 1;
                            i % 2 == 1
                        });
                        self.stride = self.stride.max(1) * 2;
                    }
                }
            }
            None => self.stats.push(e.stats),
        }
        match &mut self.task_out {
            Some(out) => {
                for r in &e.task_rows {
                    out.write(r);
                }
            }
            None => self.task_rows.extend(e.task_rows),
        }
        self.cut_violations.extend(e.violations);
    }
}

/// The most rows `timeseries.csv` holds; past it the series is thinned and sampled half as often.
pub(super) const MAX_SAMPLES: usize = 10_000;

/// One sample's view of the engine, taken by the engine.
pub(super) struct SampleFacts {
    /// Longest wait of a log record not yet read.
    pub(super) lag: SimTime,
    /// Buffers queued at receivers.
    pub(super) queued: u64,
    /// Buffers waiting for credit at senders.
    pub(super) backlog: u64,
    /// Tasks blocked on output.
    pub(super) backpressured: u32,
}

/// What the recorder measured.
#[derive(Debug, Default)]
pub(super) struct Recorder {
    /// Record counts.
    pub(super) counts: RecordCounts,
    latency: Histogram,
    window_latency: Histogram,
    window_committed: Histogram,
    samples: Vec<SampleRow>,
    last_sample: (SimTime, u64, u64),
    /// Records that became visible at sinks, and their latency from log arrival.
    committed: u64,
    committed_latency: Histogram,
    /// When a sink last took a record.
    last_at_sink: SimTime,
    /// The checkpoints that ended.
    pub(super) log: CheckpointLog,
    /// Buffer debloating: one row per gate and recalculation.
    pub(super) debloat: Vec<crate::net::DebloatSample>,
    /// Per sample (as `samples`), per task: the share of the interval it spent blocked on output,
    /// in thousandths — for jobs of at most [`MAX_HEATMAP_TASKS`] tasks.
    task_blocked: Vec<Vec<u16>>,
    /// Per task, the blocked time up to the last sample.
    prev_blocked: Vec<SimTime>,
}

/// Jobs with more tasks get no per-task backpressure heatmap (its rows would not be legible).
pub(super) const MAX_HEATMAP_TASKS: usize = 64;

impl Recorder {
    /// A recorder that writes the checkpoint rows and the per-task checkpoint rows to `stats`
    /// and `tasks` as they come, if given.
    pub(super) fn streaming(stats: Option<Box<dyn std::io::Write>>, tasks: Option<Box<dyn std::io::Write>>) -> Self {
        let mut r = Recorder::default();
        r.log.stats_out = stats.map(RowsOut::new);
        r.log.task_out = tasks.map(RowsOut::new);
        r
    }

    /// A sink took, at `now`, a record that arrived in its log `latency` ago.
    pub(super) fn sink_received(&mut self, now: SimTime, latency: SimTime) {
        self.counts.sink_received += 1;
        self.last_at_sink = now;
        self.latency.record(latency);
        self.window_latency.record(latency);
    }

    /// A record became visible (committed) `latency` after it arrived in its log.
    pub(super) fn visible(&mut self, latency: SimTime) {
        self.committed += 1;
        self.committed_latency.record(latency);
        self.window_committed.record(latency);
    }

    /// The distribution of visible latency: `(latency ms, % of the visible records within it)` at
    /// percentiles 1 to 99, 99.5, 99.9 and the maximum; empty when nothing became visible.
    pub(super) fn visible_latency_cdf(&self) -> Vec<(f64, f64)> {
        let h = &self.committed_latency;
        if h.count() == 0 {
            return Vec::new();
        }
        let ps = (1..=99).map(f64::from).chain([99.5, 99.9]);
        let mut cdf: Vec<(f64, f64)> = ps.map(|p| (ns_to_ms(h.percentile(p)), p)).collect();
        cdf.push((ns_to_ms(h.max()), 100.0));
        cdf
    }

    /// True when the last sample was taken at `now` or later.
    pub(super) fn sampled_at(&self, now: SimTime) -> bool {
        self.samples.last().is_some_and(|r| r.t_ms >= ns_to_ms(now))
    }

    /// Thins the time series when it reaches [`MAX_SAMPLES`] rows: every other row goes, and the
    /// caller doubles the sampling interval. Returns whether it did. Output size therefore does
    /// not grow with simulated time (a run of idle hours stays a few thousand rows).
    pub(super) fn thin_samples(&mut self) -> bool {
        if self.samples.len() < MAX_SAMPLES {
            return false;
        }
        let mut i = 0;
        self.samples.retain(|_| {
            i += 1;
            i % 2 == 0
        });
        // Each kept sample now covers two intervals: average their blocked shares.
        let rows = std::mem::take(&mut self.task_blocked);
        self.task_blocked = rows
            .chunks(2)
            .filter(|pair| pair.len() == 2)
            .map(|pair| pair[0].iter().zip(&pair[1]).map(|(a, b)| ((*a as u32 + *b as u32) / 2) as u16).collect())
            .collect();
        true
    }

    /// Each task's blocked time so far, at a sample `dt` after the last one.
    pub(super) fn sample_blocked(&mut self, blocked: Vec<SimTime>, dt: SimTime) {
        if self.prev_blocked.len() != blocked.len() {
            self.prev_blocked = vec![0; blocked.len()];
        }
        let row = blocked
            .iter()
            .zip(&self.prev_blocked)
            .map(|(&b, &p)| (b.saturating_sub(p) as u128 * 1000 / dt.max(1) as u128).min(1000) as u16)
            .collect();
        self.task_blocked.push(row);
        self.prev_blocked = blocked;
    }

    /// One row of the time series at `now`.
    pub(super) fn sample(&mut self, now: SimTime, f: SampleFacts) {
        let (t0, read0, sink0) = self.last_sample;
        let dt = (now - t0).max(1) as f64 / SEC as f64;
        self.samples.push(SampleRow {
            t_ms: ns_to_ms(now),
            source_read: self.counts.source_read,
            sink_received: self.counts.sink_received,
            read_rps: (self.counts.source_read - read0) as f64 / dt,
            sink_rps: (self.counts.sink_received - sink0) as f64 / dt,
            source_lag_ms: ns_to_ms(f.lag),
            queued_buffers: f.queued,
            backlog_buffers: f.backlog,
            backpressured_tasks: f.backpressured,
            latency_p50_ms: ns_to_ms(self.window_latency.percentile(50.0)),
            latency_p99_ms: ns_to_ms(self.window_latency.percentile(99.0)),
            committed_p99_ms: (self.window_committed.count() > 0)
                .then(|| ns_to_ms(self.window_committed.percentile(99.0))),
        });
        self.window_latency.clear();
        self.window_committed.clear();
        self.last_sample = (now, self.counts.source_read, self.counts.sink_received);
    }

    /// The run's summary (its `exactly_once` part is the oracle's, filled in later), with the
    /// time series and the checkpoint rows.
    fn finish(self, base: Summary, checkpointing: bool, warmup_ms: f64) -> (Summary, Vec<SampleRow>, CheckpointLog) {
        let secs = base.sim_time_ns.max(1) as f64 / SEC as f64;
        let log = self.log;
        let (checkpoints, consistent_cut) = if checkpointing {
            (
                log.summary(warmup_ms),
                CutSummary {
                    checked: log.cut_checked,
                    violations: log.cut_violations.len(),
                    first_violation: log.cut_violations.first().map(|v| v.to_string()),
                },
            )
        } else {
            Default::default()
        };
        let summary = Summary {
            records: RecordCounts { committed: self.committed, ..self.counts.clone() },
            latency_ms: LatencySummary {
                p50: ns_to_ms(self.latency.percentile(50.0)),
                p99: ns_to_ms(self.latency.percentile(99.0)),
                max: ns_to_ms(self.latency.max()),
                committed_p50: ns_to_ms(self.committed_latency.percentile(50.0)),
                committed_p99: ns_to_ms(self.committed_latency.percentile(99.0)),
            },
            throughput_rps: self.counts.source_read as f64 / secs,
            last_at_sink_ms: ns_to_ms(self.last_at_sink),
            checkpoints,
            consistent_cut,
            ..base
        };
        (summary, self.samples, log)
    }
}

impl Engine<'_> {
    /// Takes one sample of the time series now.
    pub(super) fn sample(&mut self) {
        let now = self.now;
        let mut lag: SimTime = 0;
        for t in &self.tasks {
            if let (Some(log), false) = (&t.source, t.state == State::Finished)
                && let Some(at) = log.next_arrival()
            {
                lag = lag.max(now.saturating_sub(at));
            }
        }
        let (queued, backlog) = self.net.buffer_totals();
        let backpressured = self.tasks.iter().filter(|t| t.blocked_since.is_some()).count() as u32;
        if self.tasks.len() <= MAX_HEATMAP_TASKS {
            let blocked = self.tasks.iter().map(|t| t.blocked_ns + t.blocked_since.map_or(0, |s| now - s)).collect();
            let dt = now - self.rec.last_sample.0;
            self.rec.sample_blocked(blocked, dt);
        }
        self.rec.sample(now, SampleFacts { lag, queued, backlog, backpressured });
    }

    /// Ends the run: unfinished checkpoints, the trace file, and everything the run produced.
    pub(super) fn finish(mut self) -> Result<RunResult, RunError> {
        self.end_unfinished();
        self.tracer.finish().map_err(RunError::Trace)?;
        let end = self.now;
        let input_blocked_ns =
            self.input_blocked_ns + self.input_blocked_since.iter().flatten().map(|&s| end - s).sum::<SimTime>();
        let backpressure: BTreeMap<String, f64> = self
            .tasks
            .iter()
            .zip(&self.graph.tasks)
            .map(|(t, n)| {
                let blocked = t.blocked_ns + t.blocked_since.map_or(0, |s| end - s);
                (n.name.clone(), if end == 0 { 0.0 } else { blocked as f64 / end as f64 })
            })
            .collect();
        let max_queued_buffers = self
            .graph
            .channels
            .iter()
            .enumerate()
            // A back-edge has no credits: its queue has no bound to compare with.
            .filter(|&(i, _)| !self.graph.is_back(ChannelId(i as u32)))
            .map(|(i, c)| (c.name.clone(), self.net.max_queued_buffers(ChannelId(i as u32))))
            .collect();
        let base = Summary {
            scenario: self.scenario.name.clone(),
            seed: self.scenario.seed,
            fingerprint: self.scenario.fingerprint(),
            protocol: self.protocol_name.clone(),
            state_backend: self.scenario.state.label(),
            sim_time_ns: end,
            events: self.events,
            trace_events: self.tracer.count(),
            trace_hash: self.tracer.hash_hex(),
            // A job stopped with a savepoint ends complete with its tasks paused, not finished.
            drained: self.watch.stopped.is_none()
                && (self.tasks.iter().all(|t| t.state == State::Finished) || self.stop.done.is_some() && self.complete),
            watchdog: self.watch.stopped.clone(),
            cancelled_at_ms: self.watch.cancelled.map(ns_to_ms),
            records: Default::default(),
            latency_ms: Default::default(),
            throughput_rps: 0.0,
            last_at_sink_ms: 0.0,
            backpressure,
            max_queued_buffers,
            credit_bound: self.net.config().credit_bound(),
            input_blocked_ms: ns_to_ms(input_blocked_ns),
            checkpoints: Default::default(),
            consistent_cut: Default::default(),
            failures: self.faults.failures,
            recoveries: self.faults.restarts,
            job_failed: self.faults.job_failed.clone(),
            recovery: RecoverySummary {
                downtime_ms: ns_to_ms(self.faults.downtime),
                reprocessed_records: self.faults.reprocessed,
                catch_up_ms: ns_to_ms(self.faults.catch_up),
                checkpoint_failovers: self.faults.checkpoint_failovers,
                restore_ms: ns_to_ms(self.faults.restore),
                restarted_tasks: self
                    .faults
                    .task_restarts
                    .iter()
                    .zip(&self.graph.tasks)
                    .filter(|(n, _)| **n > 0)
                    .map(|(n, t)| (t.name.clone(), *n))
                    .collect(),
                restore_bytes: self.faults.restore_bytes,
            },
            exactly_once: Default::default(),
            savepoint: None,
            restored_from: None,
            uncoordinated: None,
        };
        let mut final_state: BTreeMap<String, BTreeMap<u64, i64>> = BTreeMap::new();
        let mut final_state_by_task = BTreeMap::new();
        for (t, node) in self.tasks.iter().zip(&self.graph.tasks) {
            if let Logic::KeyedSum(k) = &t.logic {
                let sums = k.sums();
                // A key can live in several tasks (rebalance or broadcast into the operator, and a
                // restore may route a record elsewhere): the operator's sum is over its tasks.
                let op = final_state.entry(self.graph.operators[node.op].id.clone()).or_default();
                for (&key, &sum) in &sums {
                    let total = op.entry(key).or_insert(0);
                    *total = total.wrapping_add(sum);
                }
                final_state_by_task.insert((self.graph.operators[node.op].id.clone(), node.index), sums);
            }
        }
        let (savepoint, savepoint_failed) = self.take_savepoint();
        let retained = self.retained_checkpoint();
        let mut rec = std::mem::take(&mut self.rec);
        let debloat = std::mem::take(&mut rec.debloat);
        let task_blocked = std::mem::take(&mut rec.task_blocked);
        for s in self.tasks.iter().filter_map(|t| t.sink.as_ref()) {
            rec.counts.expired_transactions += s.expired.0;
            rec.counts.expired_records += s.expired.1;
        }
        let warmup_ms = self.scenario.metrics.warmup_ms as f64;
        let visible_latency_cdf = rec.visible_latency_cdf();
        let (mut summary, timeseries, mut log) = rec.finish(base, self.coord.is_some(), warmup_ms);
        let task_backpressure = (!task_blocked.is_empty()).then(|| crate::engine::TaskBackpressure {
            tasks: self.graph.tasks.iter().map(|t| t.name.clone()).collect(),
            times_ms: timeseries.iter().map(|r| r.t_ms).collect(),
            permille: task_blocked,
        });
        if let Some(req) = self.stop.request {
            summary.savepoint = Some(crate::metrics::SavepointSummary {
                checkpoint_id: savepoint.as_ref().map(|s| s.meta.checkpoint_id),
                triggered_ms: savepoint.as_ref().map(|s| s.meta.triggered_ms),
                completed_ms: savepoint.as_ref().map(|s| s.meta.completed_ms),
                bytes: savepoint.as_ref().map_or(0, |s| s.meta.bytes),
                format: format!("{:?}", req.format).to_lowercase(),
                drained: req.drain,
                failed: savepoint_failed.or_else(|| {
                    savepoint.is_none().then(|| "the savepoint did not complete before the run ended".to_string())
                }),
            });
        }
        summary.restored_from = self.restored_from.take();
        let mut recovery_lines = Vec::new();
        if let Some(local) = self.local.take() {
            // Uncoordinated: the recovery lines are the checkpoints the cut checker sees.
            summary.consistent_cut = crate::metrics::CutSummary {
                checked: local.checked,
                violations: local.violations.len(),
                first_violation: local.violations.first().map(|v| v.to_string()),
            };
            log.cut_violations.extend(local.violations);
            summary.uncoordinated = Some(local.summary);
            recovery_lines = local.traces;
        }
        let streamed = log.task_out.is_some();
        if let Some(out) = log.task_out.take() {
            out.close::<TaskCheckpointRow>()?;
        }
        let stats_streamed = log.stats_out.is_some();
        if let Some(out) = log.stats_out.take() {
            out.close::<CheckpointStats>()?;
        }
        Ok(RunResult {
            checkpoint_tasks_streamed: streamed,
            checkpoints_streamed: stats_streamed,
            summary,
            recovery_lines,
            timeseries,
            output: self.output,
            final_state,
            final_state_by_task,
            checkpoints: log.stats,
            checkpoint_tasks: log.task_rows,
            cut_violations: log.cut_violations,
            crashes_ms: self.faults.crash_times.iter().map(|&t| ns_to_ms(t)).collect(),
            restarts_ms: self.faults.restart_times.iter().map(|&t| ns_to_ms(t)).collect(),
            caught_up_ms: self.faults.caught_up_times.iter().map(|&t| ns_to_ms(t)).collect(),
            protocol_trace: self.tracer.take_kept(),
            messages: self.capture.take().map(|c| c.messages).unwrap_or_default(),
            counters: self.observe.take().map(|o| o.2).unwrap_or_default(),
            task_backpressure,
            visible_latency_cdf,
            debloat,
            savepoint,
            retained,
        })
    }
}
