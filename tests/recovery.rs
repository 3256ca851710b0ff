//! Failures, recovery, the transactional sink and the exactly-once oracle.

mod common;

use ckptsim::engine::{self, RunOptions, RunResult};
use ckptsim::protocol::{self, Protocol};
use ckptsim::scenario::{Delivery, OperatorKind, ProtocolName, Scenario};
use ckptsim::verify::Oracle;
use ckptsim::verify::mutants::Mutant;

/// Bundled scenarios that inject failures.
fn with_failures() -> Vec<String> {
    common::bundled().into_iter().filter(|n| !common::load(n).failures.is_empty()).collect()
}

fn run_checked(s: &Scenario, protocol: Option<Box<dyn Protocol>>) -> RunResult {
    let mut r =
        engine::run_with_protocol(s, RunOptions { collect_output: true, trace: None, ..Default::default() }, protocol)
            .unwrap();
    r.summary.exactly_once = Oracle::reference(s).unwrap().check(&r);
    r
}

fn checked(s: &Scenario) -> RunResult {
    run_checked(s, protocol::create(s.protocol()))
}

fn with_protocol(name: &str, p: ProtocolName) -> Scenario {
    let mut s = common::load(name);
    s.set_protocol(p).unwrap();
    s
}

#[test]
fn the_failure_scenarios_cover_every_crash_moment() {
    let all: Vec<_> = with_failures().iter().flat_map(|n| common::load(n).failures).collect();
    assert!(all.iter().any(|f| f.during_alignment_of.is_some()));
    assert!(all.iter().any(|f| f.after_checkpoint.is_some()));
    assert!(all.iter().any(|f| f.during_recovery_ms.is_some()));
    assert!(all.iter().any(|f| f.random.is_some()));
    assert_eq!(with_failures().len(), 3);
}

#[test]
fn correct_protocols_with_a_transactional_sink_are_exactly_once_under_failures() {
    for name in with_failures() {
        for p in ckptsim::explore::correct_protocols() {
            if !p.info().coordinated && common::load(&name).set_protocol(p).is_err() {
                // Its crashes happen at checkpoint moments, which uncoordinated does not have.
                continue;
            }
            let r = checked(&with_protocol(&name, p));
            let m = &r.summary;
            let eo = &m.exactly_once;
            assert!(eo.checked);
            assert!(m.failures >= 2, "{name}/{}: only {} crashes happened", p.name(), m.failures);
            assert!(m.recoveries >= 2, "{name}/{}", p.name());
            assert!(m.drained, "{name}/{}: did not drain after recovery", p.name());
            assert_eq!(eo.violations, 0, "{name}/{}: {}", p.name(), eo.first_violation.clone().unwrap_or_default());
            assert_eq!(m.consistent_cut.violations, 0, "{name}/{}", p.name());
            assert!(m.records.committed > 0);
        }
    }
}

#[test]
fn at_least_once_duplicates_on_a_shuffled_multi_input_job_with_failures() {
    let r = checked(&with_protocol("crash-during-alignment", ProtocolName::AT_LEAST_ONCE));
    assert!(r.summary.failures >= 2);
    assert!(r.summary.exactly_once.duplicated > 0, "at_least_once produced no duplicates");
    assert!(r.summary.exactly_once.state_mismatches > 0);
}

#[test]
fn a_plain_sink_duplicates_output_for_every_protocol() {
    for p in ckptsim::explore::correct_protocols() {
        // Crashes at checkpoint moments need global checkpoints: uncoordinated has random ones.
        let name = if p.info().coordinated { "crash-during-alignment" } else { "random-failures" };
        let mut s = with_protocol(name, p);
        for op in &mut s.topology.operators {
            if op.kind == OperatorKind::Sink {
                op.delivery = Some(Delivery::Plain);
            }
        }
        let r = checked(&s);
        let eo = &r.summary.exactly_once;
        assert!(eo.duplicated > 0, "{}: the plain sink produced no duplicates", p.name());
        // State is still exactly once: only the output is at-least-once.
        assert_eq!(eo.state_mismatches, 0, "{}", p.name());
        assert_eq!(eo.missing, 0, "{}", p.name());
    }
}

#[test]
fn unaligned_that_drops_recovered_channel_state_loses_records() {
    let s = with_protocol("crash-during-alignment", ProtocolName::UNALIGNED);
    let mut r = Mutant::UnalignedDropsRecoveredState
        .run(&s, RunOptions { collect_output: true, ..Default::default() })
        .unwrap();
    r.summary.exactly_once = Oracle::reference(&s).unwrap().check(&r);
    let eo = &r.summary.exactly_once;
    assert!(eo.missing > 0, "dropping recovered channel state lost nothing");
    assert!(eo.first_violation.as_deref().unwrap().contains("missing"), "{:?}", eo.first_violation);
    // The same run with the real protocol is clean.
    assert_eq!(checked(&s).summary.exactly_once.violations, 0);
}

#[test]
fn without_checkpoints_a_failure_restarts_from_the_beginning() {
    let mut s = common::load("pipeline");
    s.set_protocol(ProtocolName::NONE).unwrap();
    s.add_failure_at("agg[1]", 400).unwrap();
    let r = checked(&s);
    let m = &r.summary;
    assert_eq!((m.failures, m.recoveries), (1, 1));
    // Every source rewinds to offset 0: everything read before the crash is read again.
    let read_by_400ms = 2 * 50_000 * 400 / 1000;
    let reprocessed = m.recovery.reprocessed_records as f64;
    assert!((reprocessed - read_by_400ms as f64).abs() / (read_by_400ms as f64) < 0.02, "{reprocessed}");
    assert!(m.exactly_once.duplicated > 0, "plain output after a restart from scratch must duplicate");
}

#[test]
fn reprocessed_records_match_the_data_after_the_restored_checkpoint() {
    // No backpressure: each source reads 50k records/s as they arrive. A crash at 430 ms restores
    // the last checkpoint completed before it; the sources read again what arrived between that
    // checkpoint's trigger (+ the trigger RPC latency) and the crash.
    let mut s = with_protocol("pipeline", ProtocolName::ALIGNED);
    s.add_failure_at("map[0]", 430).unwrap();
    let r = checked(&s);
    let restored = r.checkpoints.iter().rev().find(|c| c.outcome.name() == "completed" && c.end_ms < 430.0).unwrap();
    let expected = 2.0 * 50_000.0 * (430.0 - restored.trigger_ms - 0.1) / 1000.0;
    let got = r.summary.recovery.reprocessed_records as f64;
    assert!((got - expected).abs() <= 4.0, "reprocessed {got}, expected ≈ {expected:.0}");
    assert_eq!(r.summary.exactly_once.violations, 0);
    assert!(r.summary.recovery.downtime_ms >= 100.0 - 1e-9, "restart.delay_ms defaults to 100");
    assert!(r.summary.recovery.catch_up_ms > 0.0);
}

#[test]
fn committed_latency_grows_with_the_checkpoint_interval() {
    let latency = |interval_ms: u64| {
        let mut s = with_protocol("pipeline", ProtocolName::ALIGNED);
        s.checkpointing.as_mut().unwrap().interval_ms = interval_ms;
        let m = common::run(&s).summary;
        (m.latency_ms.committed_p50, m.latency_ms.p50)
    };
    let (short, processed) = latency(25);
    let (long, _) = latency(200);
    // Output becomes visible at the next completed checkpoint: on average half an interval plus
    // the checkpoint's duration after the sink received it.
    assert!(short > processed, "committed {short} ms vs processed {processed} ms");
    assert!(long > 3.0 * short, "committed p50: {long:.1} ms at 200 ms vs {short:.1} ms at 25 ms");
    assert!((80.0..=140.0).contains(&long), "committed p50 {long:.1} ms at a 200 ms interval");
}

#[test]
fn determinism_holds_across_failures_and_recovery() {
    for name in with_failures() {
        for p in [ProtocolName::ALIGNED, ProtocolName::UNALIGNED] {
            let s = with_protocol(&name, p);
            let a = common::run(&s).summary;
            let b = common::run(&s).summary;
            assert_eq!(a.trace_hash, b.trace_hash, "{name}/{}", p.name());
            assert_eq!(a.failures, b.failures);
            assert_eq!(a.recovery.reprocessed_records, b.recovery.reprocessed_records);
        }
    }
}

#[test]
fn a_failure_abandons_the_checkpoints_in_progress() {
    let r = common::run(&with_protocol("crash-during-alignment", ProtocolName::ALIGNED));
    let failed: Vec<_> = r.checkpoints.iter().filter(|c| c.outcome.name() == "failed").collect();
    assert!(!failed.is_empty());
    assert_eq!(r.summary.checkpoints.failed, failed.len());
    // A failed checkpoint is not a checkpoint failure: nothing counts towards the tolerance.
    assert_eq!(r.summary.checkpoints.aborted, 0);
    assert_eq!(r.summary.recovery.checkpoint_failovers, 0);
    assert!(r.summary.job_failed.is_none());
}

#[test]
fn running_out_of_restart_attempts_fails_the_job() {
    let mut s = with_protocol("random-failures", ProtocolName::ALIGNED);
    s.restart.attempts = 1;
    let m = common::run(&s).summary;
    assert_eq!(m.recoveries, 1);
    assert!(m.job_failed.as_deref().unwrap().contains("restart.attempts = 1"), "{:?}", m.job_failed);
    assert!(!m.drained);
}

#[test]
fn the_cli_adds_failures_and_prints_the_replay_command_on_a_violation() {
    let bin = env!("CARGO_BIN_EXE_ckptsim");
    let file = common::scenario_path("crash-during-alignment");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("recovery-cli");
    let out = std::process::Command::new(bin)
        .args(["run", &file.to_string_lossy(), "--protocol", "at_least_once", "--fail-at", "agg[0]@300", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a violation exits 1: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("EXACTLY-ONCE VIOLATED") && stdout.contains("lineage (partition"), "{stdout}");
    let replay =
        format!("replay: ckptsim run {} --seed 13 --protocol at_least_once --fail-at 'agg[0]@300'", file.display());
    assert!(stdout.contains(&replay), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    for key in ["checked", "missing", "duplicated", "state_mismatches", "violations"] {
        assert!(!summary["exactly_once"][key].is_null(), "exactly_once.{key}");
    }
    for key in ["downtime_ms", "reprocessed_records", "catch_up_ms"] {
        assert!(summary["recovery"][key].is_number(), "recovery.{key}");
    }
    assert!(summary["latency_ms"]["committed_p99"].is_number());
    // The trace shows the crash --fail-at asked for, at exactly 300 ms.
    let trace = dir.with_extension("jsonl");
    let out = std::process::Command::new(bin)
        .args(["run", &file.to_string_lossy(), "--fail-at", "agg[0]@300", "--out"])
        .arg(&dir)
        .arg("--trace")
        .arg(&trace)
        .output()
        .unwrap();
    assert!(out.status.success());
    let crash = r#"{"t_ns":300000000,"ev":"crash","task":"agg[0]"}"#;
    assert!(std::fs::read_to_string(&trace).unwrap().lines().any(|l| l == crash), "no {crash} in the trace");
    // Bad --fail-at values are input errors naming what is wrong.
    for (arg, needle) in
        [("agg[9]@300", "unknown task \"agg[9]\""), ("agg[0]", "expected TASK@MS"), ("agg[0]@soon", "expected TASK@MS")]
    {
        let out =
            std::process::Command::new(bin).args(["run", &file.to_string_lossy(), "--fail-at", arg]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{arg}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{arg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
