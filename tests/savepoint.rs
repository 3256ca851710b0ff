//! Stop-with-savepoint and restore, possibly at another parallelism: both parts of the job are
//! exactly once on their part of the log, together they cover it, and every key lives in the
//! task that owns its key group after the rescale.

use ckptsim::engine::{self, RunOptions, RunResult, StopWithSavepoint};
use ckptsim::scenario::{ArrivalSpec, OperatorKind, OperatorSpec, Partitioner, ProtocolName, Scenario};
use ckptsim::sim::MS;
use ckptsim::state::savepoint::{Restore, Savepoint, SavepointFormat};
use ckptsim::verify::Oracle;

/// src(2) → hash → agg(3) → rebalance → sink(2): 4 s of records, checkpoints every 100 ms.
fn job(protocol: ProtocolName, agg: u32, backend: &str) -> Scenario {
    let mut s = Scenario::builder("sp", 9)
        .operator(
            OperatorSpec::source("src", 2, 8_000, ArrivalSpec::Poisson { rate_per_sec: 2_000 })
                .keys(500)
                .key_churn(20, 50, 10),
        )
        .operator(OperatorSpec::new("agg", OperatorKind::KeyedSum).parallelism(agg).state_bytes_per_key(256))
        .operator(OperatorSpec::new("sink", OperatorKind::Sink).parallelism(2))
        .edge("src", "agg", Partitioner::Hash)
        .edge("agg", "sink", Partitioner::Rebalance)
        .checkpointing(protocol, 100)
        .build()
        .unwrap();
    s.state = s.state.with_backend(backend).unwrap();
    s.validate().unwrap();
    s
}

fn stop(s: &Scenario, at_ms: u64, drain: bool, format: SavepointFormat) -> RunResult {
    let opts = RunOptions {
        collect_output: true,
        stop_with_savepoint: Some(StopWithSavepoint { at: at_ms * MS, drain, format }),
        ..Default::default()
    };
    let mut r = engine::run(s, opts).unwrap();
    let mut oracle = Oracle::reference(s).unwrap();
    if let Some(sp) = &r.savepoint {
        oracle = oracle.until(s, sp.source_offsets());
    }
    r.summary.exactly_once = oracle.check(&r);
    r
}

fn resume(sp: &Savepoint, s: &Scenario) -> RunResult {
    let mut s = s.clone();
    Restore::adopt_max_parallelism(sp, &mut s);
    let plan = Restore::plan(sp, &s, false).unwrap();
    let opts = RunOptions { collect_output: true, restore: Some(plan.clone()), ..Default::default() };
    let mut r = engine::run(&s, opts).unwrap();
    r.summary.exactly_once = Oracle::reference(&s).unwrap().from(plan.from_offsets, plan.new_operators).check(&r);
    r
}

/// Every lineage visible once over both parts, and both parts checked.
fn assert_whole(first: &RunResult, second: &RunResult, what: &str) {
    for (part, r) in [("first", first), ("second", second)] {
        let m = &r.summary;
        assert!(m.exactly_once.checked, "{what}, {part} part: not checked");
        assert_eq!(m.exactly_once.violations, 0, "{what}, {part} part: {:?}", m.exactly_once);
        assert_eq!(m.consistent_cut.violations, 0, "{what}, {part} part: {:?}", m.consistent_cut);
    }
    let total = first.summary.records.committed + second.summary.records.committed;
    assert_eq!(total, 16_000, "{what}: both parts together commit every record once");
}

#[test]
fn a_rescaled_restore_continues_exactly_once() {
    for protocol in [ProtocolName::ALIGNED, ProtocolName::UNALIGNED] {
        for backend in ["hashmap", "rocksdb-incremental"] {
            let s = job(protocol, 3, backend);
            let first = stop(&s, 1_500, false, SavepointFormat::Canonical);
            let sp = first.savepoint.clone().expect("the savepoint completed");
            assert!(first.summary.drained, "the job stopped after the savepoint");
            assert!(sp.meta.bytes > 0);
            for agg in [1, 3, 5, 8] {
                let second = resume(&sp, &job(protocol, agg, backend));
                let what = format!("{} {backend} 3 → {agg}", protocol.name());
                assert_whole(&first, &second, &what);
                let notes = &second.summary.restored_from.as_ref().unwrap().notes;
                assert_eq!(notes.iter().any(|n| n.contains("rescaled")), agg != 3, "{what}: {notes:?}");
                // The oracle's ownership check covered every key; and some keys moved.
                assert_eq!(second.summary.exactly_once.ownership_violations, 0);
            }
        }
    }
}

#[test]
fn a_savepoint_is_aligned_even_under_unaligned_checkpoints() {
    let s = job(ProtocolName::UNALIGNED, 3, "hashmap");
    let r = stop(&s, 1_500, false, SavepointFormat::Canonical);
    let sp = r.savepoint.as_ref().unwrap();
    let row = r.checkpoints.iter().find(|c| c.id == sp.meta.checkpoint_id).unwrap();
    assert_eq!(row.channel_state_bytes, 0, "no in-flight data in a savepoint");
    assert!(r.checkpoints.iter().filter(|c| c.id < sp.meta.checkpoint_id).any(|c| c.channel_state_bytes > 0));
    assert_eq!(r.checkpoints.last().unwrap().id, sp.meta.checkpoint_id, "the savepoint is the last checkpoint");
}

/// Flink's stop-with-savepoint is a forced request unless unaligned checkpoints are on: under
/// aligned checkpoints it starts at the stop time beside a checkpoint in progress; under
/// unaligned ones it waits until that checkpoint ends.
#[test]
fn a_stop_during_a_checkpoint_is_forced_under_aligned_checkpoints_and_waits_under_unaligned() {
    for protocol in [ProtocolName::ALIGNED, ProtocolName::UNALIGNED] {
        let s = job(protocol, 3, "hashmap");
        // Halfway through the first checkpoint after 1.5 s of a run without a stop.
        let plain = engine::run(&s, RunOptions::default()).unwrap();
        let busy = plain.checkpoints.iter().find(|c| c.trigger_ms >= 1_500.0).unwrap();
        assert!(busy.duration_ms > 0.5, "{busy:?}");
        let at = ((busy.trigger_ms + busy.duration_ms / 2.0) * MS as f64) as u64;
        let opts = RunOptions {
            collect_output: true,
            stop_with_savepoint: Some(StopWithSavepoint { at, drain: false, format: SavepointFormat::Canonical }),
            ..Default::default()
        };
        let r = engine::run(&s, opts).unwrap();
        let sp = r.summary.savepoint.as_ref().unwrap();
        assert_eq!(sp.failed, None);
        let triggered = sp.triggered_ms.unwrap();
        let before = r.checkpoints.iter().find(|c| c.id == busy.id).unwrap();
        assert_eq!(before.trigger_ms, busy.trigger_ms, "the same checkpoint was in progress at the stop");
        if protocol == ProtocolName::ALIGNED {
            assert_eq!(triggered, at as f64 / MS as f64, "forced: at the stop time");
            assert!(before.end_ms > triggered, "beside the checkpoint in progress: {before:?}");
        } else {
            assert!(triggered >= before.end_ms, "not forced: after the checkpoint in progress ended");
        }
        let first = {
            let mut r = r;
            let saved = r.savepoint.clone().unwrap();
            r.summary.exactly_once = Oracle::reference(&s).unwrap().until(&s, saved.source_offsets()).check(&r);
            r
        };
        let second = resume(first.savepoint.as_ref().unwrap(), &job(protocol, 2, "hashmap"));
        assert_whole(&first, &second, protocol.name());
    }
}

#[test]
fn a_drained_stop_ends_the_sources_first() {
    let s = job(ProtocolName::ALIGNED, 3, "hashmap");
    let first = stop(&s, 1_500, true, SavepointFormat::Canonical);
    let sp = first.savepoint.clone().unwrap();
    assert!(sp.meta.drained);
    assert!(first.summary.savepoint.as_ref().unwrap().drained);
    let second = resume(&sp, &job(ProtocolName::ALIGNED, 2, "hashmap"));
    assert_whole(&first, &second, "drained");
}

#[test]
fn a_native_rocksdb_savepoint_copies_its_sst_files() {
    let s = job(ProtocolName::ALIGNED, 3, "rocksdb-incremental");
    let canonical = stop(&s, 2_000, false, SavepointFormat::Canonical).savepoint.unwrap();
    let native = stop(&s, 2_000, false, SavepointFormat::Native).savepoint.unwrap();
    // The same state, but the native one carries RocksDB's space amplification.
    assert_eq!(canonical.states, native.states);
    assert!(native.meta.bytes >= canonical.meta.bytes, "{} vs {}", native.meta.bytes, canonical.meta.bytes);
    // …and is quicker: it copies files, where the canonical one reads every key-value back.
    let took = |sp: &Savepoint| sp.meta.completed_ms - sp.meta.triggered_ms;
    assert!(took(&native) < took(&canonical), "{} vs {} ms", took(&native), took(&canonical));
}

#[test]
fn a_savepoint_survives_the_disk_round_trip() {
    let s = job(ProtocolName::ALIGNED, 3, "hashmap");
    let sp = stop(&s, 1_000, false, SavepointFormat::Canonical).savepoint.unwrap();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("savepoint-round-trip");
    let _ = std::fs::remove_dir_all(&dir);
    sp.write(&dir).unwrap();
    assert_eq!(Savepoint::load(&dir).unwrap(), sp);
    let meta = std::fs::read_to_string(dir.join("_metadata")).unwrap();
    assert!(meta.contains("\"max_parallelism\": 128"), "{meta}");
}

#[test]
fn a_crash_during_the_savepoint_leaves_the_job_running() {
    let mut s = job(ProtocolName::ALIGNED, 3, "hashmap");
    s.failures.push(ckptsim::scenario::FailureSpec {
        task: Some("agg[1]".into()),
        at_ms: Some(1_501),
        ..Default::default()
    });
    let r = stop(&s, 1_500, false, SavepointFormat::Canonical);
    let m = &r.summary;
    assert!(r.savepoint.is_none());
    let failed = m.savepoint.as_ref().unwrap().failed.as_deref().unwrap();
    assert!(failed.contains("abandoned"), "{failed}");
    assert!(m.failed_checks().contains(&"stop-with-savepoint failed"));
    // The job ran on to the end of its input, exactly once over the whole log.
    assert_eq!((m.exactly_once.violations, m.records.committed), (0, 16_000));
}

#[test]
fn restoring_into_a_changed_job_is_checked_like_flink_does() {
    let s = job(ProtocolName::ALIGNED, 3, "hashmap");
    let sp = stop(&s, 1_000, false, SavepointFormat::Canonical).savepoint.unwrap();
    let err = |s: &Scenario, allow: bool| Restore::plan(&sp, s, allow).unwrap_err();
    let mut other_seed = s.clone();
    other_seed.seed = 10;
    assert!(err(&other_seed, false).contains("seed 9"));
    let mut wider_source = s.clone();
    wider_source.topology.operators[0].parallelism = 3;
    assert!(err(&wider_source, false).contains("sources keep their parallelism"));
    let mut renamed = s.clone();
    renamed.topology.operators[1].id = "sum".into();
    renamed.topology.edges[0].to = "sum".into();
    renamed.topology.edges[1].from = "sum".into();
    assert!(err(&renamed, false).contains("allow-non-restored-state"));
    let plan = Restore::plan(&sp, &renamed, true).unwrap();
    assert_eq!((plan.dropped.clone(), plan.new_operators.clone()), (vec!["agg".to_string()], vec!["sum".to_string()]));
    let mut fixed = s.clone();
    fixed.topology.max_parallelism = Some(256);
    assert!(err(&fixed, false).contains("max parallelism 128 in the savepoint, 256"));
    // Unset, the savepoint's is adopted, even at a parallelism whose default would differ.
    let mut wide = job(ProtocolName::ALIGNED, 200, "hashmap");
    Restore::adopt_max_parallelism(&sp, &mut wide);
    assert!(Restore::plan(&sp, &wide, false).is_ok());
}

#[test]
fn an_operator_added_at_the_restore_starts_empty_and_is_not_compared_from_the_start() {
    let s = job(ProtocolName::ALIGNED, 3, "hashmap");
    let first = stop(&s, 1_500, false, SavepointFormat::Canonical);
    let sp = first.savepoint.clone().unwrap();
    // The upgraded job counts per key in a second keyed operator after the first.
    let mut up = s.clone();
    up.topology.operators.insert(2, OperatorSpec::new("count", OperatorKind::KeyedSum).parallelism(2));
    up.topology.edges[1].to = "count".into();
    up.topology.edges.push(ckptsim::scenario::EdgeSpec {
        from: "count".into(),
        to: "sink".into(),
        partitioner: Partitioner::Rebalance,
        chain: true,
        back_edge: false,
    });
    up.validate().unwrap();
    let second = resume(&sp, &up);
    let eo = &second.summary.exactly_once;
    assert_eq!(eo.violations, 0, "{eo:?}");
    assert!(eo.not_checked_parts.iter().any(|p| p.contains("\"count\"")), "{:?}", eo.not_checked_parts);
    assert_eq!(first.summary.records.committed + second.summary.records.committed, 16_000);
}

#[test]
fn the_cli_stops_with_a_savepoint_and_resumes_at_another_parallelism() {
    let bin = env!("CARGO_BIN_EXE_ckptsim");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-savepoint");
    let _ = std::fs::remove_dir_all(&dir);
    let scenario = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/state/backends.json");
    let first = std::process::Command::new(bin)
        .args([
            "run",
            &scenario.to_string_lossy(),
            "--stop-with-savepoint-at",
            "20000",
            "--set",
            "failures=[]",
            "--out",
        ])
        .arg(dir.join("a"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{stdout}{}", String::from_utf8_lossy(&first.stderr));
    assert!(stdout.contains("resume with: ckptsim run"), "{stdout}");
    let sp = std::fs::read_dir(dir.join("a/savepoints")).unwrap().next().unwrap().unwrap().path();
    assert!(sp.join("_metadata").exists() && sp.join("agg-0.json").exists());
    let second = std::process::Command::new(bin)
        .args(["run", &scenario.to_string_lossy(), "--restore"])
        .arg(&sp)
        .args(["--set", "topology.operators[1].parallelism=6", "--out"])
        .arg(dir.join("b"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{stdout}{}", String::from_utf8_lossy(&second.stderr));
    assert!(stdout.contains("rescaled from 4 to 6 tasks"), "{stdout}");
    assert!(stdout.contains("exactly once: every expected record visible exactly once"), "{stdout}");
    // A source with another parallelism cannot resume: exit 2, the reason named.
    let bad = std::process::Command::new(bin)
        .args(["run", &scenario.to_string_lossy(), "--restore"])
        .arg(&sp)
        .args(["--set", "topology.operators[0].parallelism=3", "--out"])
        .arg(dir.join("c"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("sources keep their parallelism"));
    let missing = std::process::Command::new(bin)
        .args(["run", &scenario.to_string_lossy(), "--restore", "/nonexistent/savepoint-1"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("_metadata"));
}

#[test]
fn state_restored_to_the_wrong_tasks_is_caught() {
    // A restore planned for 3 tasks but run at 5: the keys sit where 3 tasks would own them,
    // while records are routed by 5 — the oracle's ownership check must say so.
    let s = job(ProtocolName::ALIGNED, 3, "hashmap");
    let sp = stop(&s, 1_500, false, SavepointFormat::Canonical).savepoint.unwrap();
    let plan = Restore::plan(&sp, &s, false).unwrap();
    let wide = job(ProtocolName::ALIGNED, 5, "hashmap");
    let opts = RunOptions { collect_output: true, restore: Some(plan.clone()), ..Default::default() };
    let mut r = engine::run(&wide, opts).unwrap();
    r.summary.exactly_once = Oracle::reference(&wide).unwrap().from(plan.from_offsets, plan.new_operators).check(&r);
    assert!(r.summary.exactly_once.ownership_violations > 0, "{:?}", r.summary.exactly_once);
}

/// Runs `s` cancelled at `cancel_ms` with `retention`; returns the run and its retained checkpoint.
fn cancelled(s: &Scenario, cancel_ms: u64, retention: ckptsim::scenario::Retention) -> RunResult {
    let mut s = s.clone();
    s.limits.cancel_at_ms = Some(cancel_ms);
    s.checkpointing.as_mut().unwrap().retention = retention;
    engine::run(&s, RunOptions { collect_output: true, ..Default::default() }).unwrap()
}

fn resume_checked(chk: &Savepoint, s: &Scenario, carrying: bool) -> RunResult {
    let mut s = s.clone();
    Restore::adopt_max_parallelism(chk, &mut s);
    let plan = Restore::plan(chk, &s, false).unwrap();
    let opts = RunOptions { collect_output: true, restore: Some(plan.clone()), ..Default::default() };
    let mut r = engine::run(&s, opts).unwrap();
    let mut oracle = Oracle::reference(&s).unwrap().from(plan.from_offsets.clone(), plan.new_operators.clone());
    if carrying {
        oracle = oracle.carrying(plan.carried_counts(&s));
    }
    r.summary.exactly_once = oracle.check(&r);
    r
}

#[test]
fn a_retained_unaligned_checkpoint_resumes_with_its_in_flight_data_rescaled() {
    use ckptsim::scenario::Retention;
    let mut s = job(ProtocolName::UNALIGNED, 3, "hashmap");
    // A slow aggregation: its inputs are full, so unaligned checkpoints carry in-flight data.
    s.topology.operators[1].cost = ckptsim::scenario::CostSpec::FixedUs(400);
    let first = cancelled(&s, 1_500, Retention::RetainOnCancellation);
    let chk = first.retained.clone().expect("retained on cancellation");
    assert_eq!(chk.meta.kind, "checkpoint");
    let inflight: usize = chk.channels.iter().map(|c| c.records.len()).sum();
    assert!(inflight > 0, "an unaligned checkpoint under backpressure carries in-flight data");
    for agg in [1, 3, 5] {
        let mut s2 = s.clone();
        s2.topology.operators[1].parallelism = agg;
        let second = resume_checked(&chk, &s2, true);
        let m = &second.summary;
        assert!(m.exactly_once.checked);
        assert_eq!(m.exactly_once.violations, 0, "3 → {agg}: {:?}", m.exactly_once);
        assert_eq!(m.consistent_cut.violations, 0, "3 → {agg}: {:?}", m.consistent_cut);
        let notes = &m.restored_from.as_ref().unwrap().notes;
        assert!(notes.iter().any(|n| n.contains("in-flight records put back")), "{notes:?}");
    }
    // Without counting the carried records, the oracle sees them as records that should not show.
    let blind = resume_checked(&chk, &s, false);
    assert!(blind.summary.exactly_once.duplicated > 0, "{:?}", blind.summary.exactly_once);
}

#[test]
fn retention_follows_flinks_three_settings() {
    use ckptsim::scenario::Retention;
    let s = job(ProtocolName::ALIGNED, 3, "hashmap");
    assert!(cancelled(&s, 1_500, Retention::RetainOnCancellation).retained.is_some());
    assert!(cancelled(&s, 1_500, Retention::DeleteOnCancellation).retained.is_none());
    assert!(cancelled(&s, 1_500, Retention::NoExternalizedCheckpoints).retained.is_none());
    // A job that fails for good keeps its checkpoint unless none is externalized.
    let mut failing = s.clone();
    failing.restart.attempts = 0;
    failing.failures.push(ckptsim::scenario::FailureSpec {
        task: Some("agg[0]".into()),
        at_ms: Some(1_500),
        ..Default::default()
    });
    failing.checkpointing.as_mut().unwrap().retention = Retention::DeleteOnCancellation;
    let r = engine::run(&failing, RunOptions::default()).unwrap();
    assert!(r.summary.job_failed.is_some());
    let chk = r.retained.expect("kept when the job fails");
    let second = resume_checked(&chk, &s, true);
    assert_eq!(second.summary.exactly_once.violations, 0, "{:?}", second.summary.exactly_once);
}

#[test]
fn pending_transactions_of_a_retained_checkpoint_are_committed_by_the_restore() {
    use ckptsim::scenario::Retention;
    let mut s = job(ProtocolName::ALIGNED, 3, "hashmap");
    // Notifications take 2 ms: a cancellation can fall between a completion and the commit.
    s.network.latency_us = 2_000;
    let probe = engine::run(&s, RunOptions::default()).unwrap();
    let end = probe.checkpoints.iter().find(|c| c.id == 5).unwrap().end_ms;
    let cancel = end.ceil() as u64;
    assert!((cancel as f64) < end + 2.0);
    let first = cancelled(&s, cancel, Retention::RetainOnCancellation);
    let chk = first.retained.expect("retained");
    assert_eq!(chk.meta.checkpoint_id, 5);
    let pending: usize = chk.states.iter().flatten().map(|t| t.pending.len()).sum();
    assert!(pending > 0, "the sinks had not committed checkpoint 5's transactions yet");
    let second = resume_checked(&chk, &s, true);
    assert_eq!(second.summary.exactly_once.violations, 0, "{:?}", second.summary.exactly_once);
}

#[test]
fn a_stop_after_the_end_of_the_job_fails_without_stretching_the_run() {
    let s = job(ProtocolName::ALIGNED, 3, "hashmap");
    let r = stop(&s, 600_000, false, SavepointFormat::Canonical);
    assert!(r.savepoint.is_none());
    assert!(r.summary.sim_time_ns < 10 * ckptsim::sim::SEC, "{} ns", r.summary.sim_time_ns);
    let failed = r.summary.savepoint.as_ref().unwrap().failed.as_deref().unwrap();
    assert!(failed.contains("ended before the stop time"), "{failed}");
    assert_eq!(r.summary.exactly_once.violations, 0);
}
