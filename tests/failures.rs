//! Failure handling as Flink does it, and runs that always end (issue: failure handling).

mod common;

use ckptsim::engine::{self, RunOptions, RunResult};
use ckptsim::scenario::{
    ArrivalSpec, OperatorKind, OperatorSpec, Partitioner, ProtocolName, Scenario, ScenarioBuilder,
};
use ckptsim::verify::Oracle;

fn checked(s: &Scenario) -> RunResult {
    let mut r = engine::run(s, RunOptions { collect_output: true, ..Default::default() }).unwrap();
    r.summary.exactly_once = Oracle::reference(s).unwrap().check(&r);
    r
}

/// 1 source → 1 sink at `rate` records/s, `records` records.
fn source_to_sink(records: u64, rate: u64) -> ScenarioBuilder {
    Scenario::builder("source-to-sink", 1)
        .operator(OperatorSpec::source("src", 1, records, ArrivalSpec::Constant { rate_per_sec: rate }))
        .operator(OperatorSpec::new("sink", OperatorKind::Sink))
        .edge("src", "sink", Partitioner::Forward)
}

/// The minimal case: a synchronous snapshot part (2 ms) longer than the checkpoint
/// interval (1 ms), two checkpoints at once, fast storage, no network latency. Draining the whole
/// mailbox before any input step starved the source: after each sync the next trigger was
/// already waiting, so it snapshotted again and never read a record, and simulated time ran away.
/// Flink's mailbox runs the batch of mails present when the batch starts, then one input step.
#[test]
fn a_stream_of_checkpoints_cannot_starve_a_task_of_its_input() {
    let s = source_to_sink(200, 10_000)
        .checkpointing(ProtocolName::ALIGNED, 1)
        .with_checkpointing(|c| {
            c.max_concurrent = 2;
            c.storage.sync_base_us = 2000;
            c.storage.write_latency_ms = 1;
            c.tolerable_failed_checkpoints = 1_000_000;
        })
        .network(|n| n.latency_us = 0)
        .limits(|l| l.stall_ms = 1000)
        .build()
        .unwrap();
    let r = checked(&s);
    assert_eq!(r.summary.watchdog, None);
    assert!(r.summary.drained);
    assert_eq!(r.summary.records.committed, 200);
    assert_eq!(r.summary.exactly_once.violations, 0);
}

/// A run past its simulated-time limit stops with an error instead of running forever. (The
/// stall check — no record processed for `limits.stall_ms` while a task had input waiting —
/// caught the starvation above before the mailbox fix: "no record processed for 1000 ms
/// (limits.stall_ms) while these tasks had input waiting: src[0]".)
#[test]
fn the_watchdog_stops_runs_that_make_no_progress_or_run_too_long() {
    let mut s = source_to_sink(1000, 1000).build().unwrap();
    s.limits.max_sim_time_ms = 300;
    let r = engine::run(&s, RunOptions::default()).unwrap();
    let why = r.summary.watchdog.as_deref().expect("stopped at 300 ms");
    assert!(why.contains("limits.max_sim_time_ms (300 ms)"), "{why}");
    assert!(!r.summary.drained);
    assert!(r.summary.sim_time_ns <= 300_000_000);
}
