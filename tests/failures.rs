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

/// State that grows with every record (every record a new key, 1 MiB per key) until the final
/// checkpoint's upload outlasts `timeout_ms`. The final checkpoint (FLIP-147) used to time out
/// once and never be triggered again: the run reported `drained`, no failure, and the last
/// transaction was never committed. Now it is retried, every abort counts against the tolerable
/// failures, and past them the job fails over and, out of restarts, fails for good — loudly.
#[test]
fn a_final_checkpoint_that_cannot_complete_never_loses_output_silently() {
    let s = Scenario::builder("growing-state", 2)
        .operator(OperatorSpec::source("src", 1, 400, ArrivalSpec::Constant { rate_per_sec: 1000 }).keys(1 << 40))
        .operator(OperatorSpec::new("sum", OperatorKind::KeyedSum).state_bytes_per_key(1 << 20))
        .operator(OperatorSpec::new("sink", OperatorKind::Sink))
        .edge("src", "sum", Partitioner::Hash)
        .edge("sum", "sink", Partitioner::Forward)
        .checkpointing(ProtocolName::ALIGNED, 100)
        .with_checkpointing(|c| {
            c.timeout_ms = 2_000;
            c.tolerable_failed_checkpoints = 3;
            c.storage.write_mib_per_sec = 100;
            c.storage.sync_mib_per_sec = 1 << 20;
        })
        .restart(|r| r.attempts = 1)
        .build()
        .unwrap();
    let r = checked(&s);
    let m = &r.summary;
    assert!(
        m.job_failed.is_some() || (m.records.committed == 400 && m.exactly_once.violations == 0),
        "output lost silently: {} of 400 committed, job_failed {:?}, {} checkpoints aborted",
        m.records.committed,
        m.job_failed,
        m.checkpoints.aborted
    );
    assert!(m.job_failed.is_some(), "the final checkpoint can never complete here");
    assert!(!m.drained);
}

/// FLIP-147: finished tasks stay alive until the final checkpoint completes and the sinks
/// commit. A crash in that window used to be dropped; now it is simulated: the job restarts
/// from the latest completed checkpoint, finishes again, and a new final checkpoint commits.
#[test]
fn a_crash_between_end_of_input_and_the_final_commit_is_simulated() {
    let mut s = common::load("pipeline");
    let probe = engine::run(&s, RunOptions { keep_protocol_trace: true, ..Default::default() }).unwrap();
    let last_trigger = probe
        .protocol_trace
        .iter()
        .filter_map(|(t, e)| matches!(e, ckptsim::trace::TraceEvent::Triggered { .. }).then_some(*t))
        .next_back()
        .unwrap();
    let all_finished = probe
        .protocol_trace
        .iter()
        .filter_map(|(t, e)| matches!(e, ckptsim::trace::TraceEvent::Finished { .. }).then_some(*t))
        .max();
    // The last trigger is the final checkpoint's, taken once every task finished.
    assert!(all_finished.is_none_or(|f| f <= last_trigger), "{all_finished:?} {last_trigger}");
    let at_ms = last_trigger / 1_000_000 + 1;
    s.add_failure_at("sink[0]", at_ms).unwrap();
    let r = checked(&s);
    assert_eq!((r.summary.failures, r.summary.recoveries), (1, 1), "the crash at {at_ms} ms was dropped");
    assert!(r.summary.drained);
    assert_eq!(r.summary.records.committed, 100_000);
    assert_eq!(r.summary.exactly_once.violations, 0, "{:?}", r.summary.exactly_once.first_violation);
}

/// A finished task joins later checkpoints with its final state without pausing: its row
/// reports no synchronous part (it used to report one it never took).
#[test]
fn sync_time_is_reported_only_for_tasks_that_paused() {
    let r = common::run(&common::load("pipeline"));
    let last = r.checkpoints.last().unwrap().id;
    let rows: Vec<_> = r.checkpoint_tasks.iter().filter(|t| t.id == last).collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|t| t.sync_ms.is_none()), "the final checkpoint's tasks had all finished");
    assert!(r.checkpoint_tasks.iter().filter(|t| t.id == 1).all(|t| t.sync_ms.is_some_and(|s| s > 0.0)));
}

/// Flink's restart strategies with their option names: the delays of exponential-delay grow
/// per failure, and an option of another strategy is rejected with its path.
#[test]
fn restart_strategies_shape_the_downtime() {
    use ckptsim::scenario::RestartStrategy;
    let mut s = common::load("random-failures");
    s.restart.strategy = RestartStrategy::ExponentialDelay;
    s.restart.initial_backoff_ms = Some(20);
    s.restart.backoff_multiplier = Some(2.0);
    s.restart.jitter_factor = Some(0.0);
    let r = checked(&s);
    assert!(r.summary.recoveries >= 2);
    let downs: Vec<f64> = r.crashes_ms.iter().zip(&r.restarts_ms).map(|(c, s)| s - c).collect();
    assert!((downs[0] - 20.0).abs() < 1e-6, "{downs:?}");
    assert!(downs.windows(2).all(|w| w[1] >= w[0]), "{downs:?}");
    assert_eq!(r.summary.exactly_once.violations, 0);
    let mut bad = common::json("pipeline");
    bad["restart"] = serde_json::json!({"strategy": "fixed_delay", "backoff_multiplier": 2.0});
    let e = Scenario::from_json(&bad.to_string()).unwrap_err().to_string();
    assert!(e.contains("restart.backoff_multiplier") && e.contains("exponential_delay"), "{e}");
    bad["restart"] = serde_json::json!({"strategy": "failure_rate", "max_failures_per_interval": 0});
    let e = Scenario::from_json(&bad.to_string()).unwrap_err().to_string();
    assert!(e.contains("restart.max_failures_per_interval"), "{e}");
}

/// Restore is not free: every task downloads its state and its inputs' channel state from the
/// checkpoint storage, sharing its bandwidth, so restore time grows with the snapshot; with
/// task-local recovery only the crashed task downloads.
#[test]
fn restore_time_grows_with_state_size_and_local_recovery_downloads_less() {
    let run = |bytes_per_key: u64, local: bool| {
        let mut s = common::load("crash-during-alignment");
        for op in &mut s.topology.operators {
            if op.kind == OperatorKind::KeyedSum {
                op.state_bytes_per_key = Some(bytes_per_key);
            }
        }
        let c = s.checkpointing.as_mut().unwrap();
        c.storage.local_recovery = local;
        c.storage.write_mib_per_sec = 1000;
        checked(&s).summary
    };
    let small = run(16, false);
    let large = run(16 * 1024, false);
    let local = run(16 * 1024, true);
    assert!(
        large.recovery.restore_bytes > 100 * small.recovery.restore_bytes / 2,
        "{} vs {}",
        large.recovery.restore_bytes,
        small.recovery.restore_bytes
    );
    assert!(
        large.recovery.restore_ms > 5.0 * small.recovery.restore_ms,
        "{} vs {} ms",
        large.recovery.restore_ms,
        small.recovery.restore_ms
    );
    assert!(
        local.recovery.restore_bytes < large.recovery.restore_bytes / 2,
        "{} vs {}",
        local.recovery.restore_bytes,
        large.recovery.restore_bytes
    );
    for m in [&small, &large, &local] {
        assert_eq!(m.exactly_once.violations, 0, "{:?}", m.exactly_once.first_violation);
        assert!(m.drained);
    }
}

/// Two independent forward pipelines (src[i] → map[i] → sink[i]): Flink's default region
/// failover restarts only the failed task's pipelined region; `full` restarts every task.
/// Both stay exactly once.
#[test]
fn region_failover_restarts_only_the_failed_pipeline() {
    use ckptsim::scenario::FailoverStrategy;
    let build = |failover: FailoverStrategy| {
        Scenario::builder("two-pipelines", 4)
            .operator(OperatorSpec::source("src", 2, 20_000, ArrivalSpec::Constant { rate_per_sec: 20_000 }))
            .operator(OperatorSpec::new("map", OperatorKind::Map).parallelism(2))
            .operator(OperatorSpec::new("sink", OperatorKind::Sink).parallelism(2))
            .edge("src", "map", Partitioner::Forward)
            .edge("map", "sink", Partitioner::Forward)
            .checkpointing(ProtocolName::ALIGNED, 100)
            .crash_at("map[0]", 550)
            .restart(|r| r.failover = failover)
            .build()
            .unwrap()
    };
    let region = checked(&build(FailoverStrategy::Region)).summary;
    let full = checked(&build(FailoverStrategy::Full)).summary;
    let names = |m: &ckptsim::metrics::Summary| m.recovery.restarted_tasks.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&region), ["map[0]", "sink[0]", "src[0]"]);
    assert_eq!(names(&full).len(), 6);
    assert!(
        region.recovery.reprocessed_records < full.recovery.reprocessed_records,
        "{} vs {}",
        region.recovery.reprocessed_records,
        full.recovery.reprocessed_records
    );
    for m in [&region, &full] {
        assert_eq!(m.exactly_once.violations, 0, "{:?}", m.exactly_once.first_violation);
        assert!(m.drained);
        assert_eq!(m.records.committed, 40_000);
    }
}

/// Kafka's `transaction.timeout.ms` shorter than the downtime plus the checkpoint interval — the
/// classic misconfiguration: the sink's pre-committed transaction of the restored checkpoint is
/// older than the timeout when the restore commits it, the external system has aborted it, and
/// its records are lost. The oracle reports them missing; a long enough timeout loses nothing.
#[test]
fn a_transaction_timeout_shorter_than_the_downtime_loses_records() {
    let run = |timeout_ms: u64| {
        let mut s = common::load("crash-before-notify");
        s.restart.delay_ms = 1_000;
        for op in &mut s.topology.operators {
            if op.kind == OperatorKind::Sink {
                op.transaction_timeout_ms = Some(timeout_ms);
            }
        }
        checked(&s).summary
    };
    let short = run(500);
    assert!(short.records.expired_transactions > 0);
    assert!(short.exactly_once.missing > 0);
    assert_eq!(short.exactly_once.missing, short.records.expired_records);
    assert_eq!(short.exactly_once.duplicated, 0);
    let long = run(900_000);
    assert_eq!((long.records.expired_transactions, long.exactly_once.violations), (0, 0));
}

fn example(name: &str) -> Scenario {
    Scenario::load(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/failures").join(format!("{name}.json")),
    )
    .unwrap()
}

/// The figures "Failure handling by example" in docs/failures.md quotes.
#[test]
fn the_failure_examples_in_the_readme_hold() {
    use ckptsim::scenario::FailoverStrategy;
    // Tolerable failures exceeded → failover, three times, then the job fails for good.
    let m = checked(&example("tolerable-failures")).summary;
    assert_eq!((m.recovery.checkpoint_failovers, m.recoveries), (3, 2));
    assert!(m.job_failed.as_deref().unwrap().contains("restart.attempts = 2"));
    let mut s = example("tolerable-failures");
    s.set_protocol(ProtocolName::UNALIGNED).unwrap();
    let m = checked(&s).summary;
    assert_eq!((m.checkpoints.completed, m.checkpoints.aborted), (21, 0));
    assert_eq!((m.recovery.checkpoint_failovers, m.job_failed.is_none(), m.exactly_once.violations), (0, true, 0));
    // Region vs full restart.
    let mut s = example("two-pipelines");
    let region = checked(&s).summary;
    s.restart.failover = FailoverStrategy::Full;
    let full = checked(&s).summary;
    assert_eq!((region.recovery.restarted_tasks.len(), region.recovery.reprocessed_records), (3, 998));
    assert_eq!((full.recovery.restarted_tasks.len(), full.recovery.reprocessed_records), (6, 1996));
    // Restore time grows with state size; local recovery downloads a quarter.
    let mut s = example("big-state");
    let big = checked(&s).summary;
    assert_eq!(big.recovery.restore_bytes, 130_744_368);
    assert!((big.recovery.restore_ms - 628.4).abs() < 0.1, "{}", big.recovery.restore_ms);
    s.checkpointing.as_mut().unwrap().storage.local_recovery = true;
    let local = checked(&s).summary;
    assert_eq!(local.recovery.restore_bytes, 31_916_032);
    s.checkpointing.as_mut().unwrap().storage.local_recovery = false;
    s.topology.operators[1].state_bytes_per_key = Some(1024);
    let small = checked(&s).summary;
    assert!((small.recovery.restore_ms - 14.8).abs() < 0.1, "{}", small.recovery.restore_ms);
    for m in [&big, &local, &small] {
        assert_eq!(m.exactly_once.violations, 0);
    }
    // A transaction timeout shorter than the downtime loses records.
    let mut s = example("transaction-timeout");
    let m = checked(&s).summary;
    assert_eq!((m.exactly_once.missing, m.records.expired_records, m.exactly_once.duplicated), (2000, 2000, 0));
    s.topology.operators[2].transaction_timeout_ms = Some(900_000);
    assert_eq!(checked(&s).summary.exactly_once.violations, 0);
}

/// A timed-out checkpoint is announced to every running task (Flink's notifyCheckpointAborted);
/// a transactional sink keeps that checkpoint's pre-committed transaction, and the next completed
/// checkpoint commits it — nothing lost, nothing twice.
#[test]
fn tasks_hear_of_timed_out_checkpoints_and_the_sink_commits_later() {
    let mut s = common::load("backpressure");
    s.checkpointing.as_mut().unwrap().timeout_ms = 50;
    s.checkpointing.as_mut().unwrap().tolerable_failed_checkpoints = 1000;
    let mut r =
        engine::run(&s, RunOptions { collect_output: true, keep_protocol_trace: true, ..Default::default() }).unwrap();
    r.summary.exactly_once = Oracle::reference(&s).unwrap().check(&r);
    let aborted: Vec<u64> = r.checkpoints.iter().filter(|c| c.outcome.name() == "timed_out").map(|c| c.id).collect();
    assert!(!aborted.is_empty());
    let told = r
        .protocol_trace
        .iter()
        .filter(|(_, e)| matches!(e, ckptsim::trace::TraceEvent::NotifyAborted { cp, .. } if aborted.contains(cp)))
        .count();
    assert_eq!(told, aborted.len() * 9, "every one of the 9 tasks hears of every timed-out checkpoint");
    assert_eq!(r.summary.exactly_once.violations, 0);
    assert_eq!(r.summary.records.committed, 200_000);
}
