//! Uncoordinated checkpointing: the recovery line of a failure, the domino effect without
//! message logging, and the bound sender-based logging puts on it.

mod common;

use ckptsim::engine::{self, RunOptions};
use ckptsim::graph::Graph;
use ckptsim::sim::{MS, US};
use ckptsim::verify::uncoordinated::{Uncoordinated, analyse, checkpoint_times};

fn analysed(logging: bool, interval_ms: u64) -> (Graph, ckptsim::verify::uncoordinated::Analysis) {
    let mut s = common::load("pipeline");
    s.checkpointing = None;
    s.failures.clear();
    let r = engine::run(&s, RunOptions { observe_counters: Some(100 * US), ..Default::default() }).unwrap();
    let g = Graph::build(&s);
    let failed = g.find_task("agg[0]").unwrap();
    let u = Uncoordinated { interval: interval_ms * MS, seed: s.seed, failed, at: 500 * MS, logging };
    (g.clone(), analyse(&g, &r, &u).unwrap())
}

#[test]
fn without_logging_the_rollback_dominoes_to_the_start() {
    // A steady stream never leaves a channel empty at two tasks' checkpoints at once, and with
    // no channel state a recovery line may hold nothing in flight: everyone goes back.
    let (g, a) = analysed(false, 50);
    assert_eq!(a.to_start(), g.tasks.len(), "{:?}", a.rows);
    assert!(a.forced > 0);
    // Everything read so far is read again: 500 ms of two sources at 50,000 records/s each.
    let sources: u64 = a.rows.iter().filter(|r| r.task.starts_with("src")).map(|r| r.reprocessed).sum();
    assert_eq!(sources, 50_000);
    assert!(a.rows.iter().all(|r| r.discarded == 10), "ten 50 ms checkpoints each, all useless");
}

#[test]
fn sender_based_logging_bounds_it_to_the_failed_chain_and_one_interval() {
    let (g, a) = analysed(true, 50);
    let failed_chain = g.chains().into_iter().find(|c| c.contains(&g.find_task("agg[0]").unwrap())).unwrap();
    for (i, r) in a.rows.iter().enumerate() {
        let in_chain = failed_chain.iter().any(|t| t.0 as usize == i);
        if in_chain {
            assert!(r.distance > 0 && r.distance <= 50 * MS, "{r:?}");
            assert!(r.reprocessed > 0);
        } else {
            assert_eq!((r.distance, r.reprocessed), (0, 0), "{r:?}");
        }
    }
    assert_eq!((a.forced, a.to_start()), (0, 0));
}

#[test]
fn each_chain_checkpoints_on_its_own_timer() {
    let s = common::load("pipeline");
    let g = Graph::build(&s);
    let u = Uncoordinated { interval: 50 * MS, seed: s.seed, failed: ckptsim::graph::TaskId(0), at: 0, logging: false };
    let times = checkpoint_times(&g, &u, 500 * MS);
    for chain in g.chains() {
        let first = &times[chain[0].0 as usize];
        assert_eq!(first.len(), 10);
        assert!(first.windows(2).all(|w| w[1] - w[0] == 50 * MS));
        for t in &chain {
            assert_eq!(&times[t.0 as usize], first, "one thread, one timer");
        }
    }
    let phases: std::collections::BTreeSet<_> = g.chains().iter().map(|c| times[c[0].0 as usize][0]).collect();
    assert!(phases.len() > 1, "chains checkpoint at different phases");
}

#[test]
fn with_sparse_traffic_a_recovery_line_is_found_before_the_start() {
    // A record every 10 ms per source, each sent at once: the channels are empty most of the
    // time, so checkpoints of neighbouring tasks often agree and the rollback stops early.
    let mut s = common::load("pipeline");
    s.checkpointing = None;
    s.failures.clear();
    for op in &mut s.topology.operators {
        if let Some(ckptsim::scenario::ArrivalSpec::Constant { rate_per_sec }) = &mut op.arrival {
            *rate_per_sec = 100;
        }
    }
    s.network.buffer_timeout_us = 0;
    let r = engine::run(&s, RunOptions { observe_counters: Some(100 * US), ..Default::default() }).unwrap();
    let g = Graph::build(&s);
    let failed = g.find_task("agg[0]").unwrap();
    let u = Uncoordinated { interval: 50 * MS, seed: s.seed, failed, at: 500 * MS, logging: false };
    let a = analyse(&g, &r, &u).unwrap();
    assert_eq!(a.to_start(), 0, "{:?}", a.rows);
    assert!(a.rows.iter().all(|r| r.distance < 500 * MS));
    // Still more than logging's bound: the failed task's own last checkpoint.
    let logged = analyse(&g, &r, &Uncoordinated { logging: true, ..u }).unwrap();
    let total = |a: &ckptsim::verify::uncoordinated::Analysis| a.rows.iter().map(|r| r.distance).sum::<u64>();
    assert!(total(&a) >= total(&logged));
}

#[test]
fn the_cli_prints_both_recovery_lines_and_refuses_a_task_it_does_not_have() {
    let file = common::scenario_path("pipeline");
    let run = |fail: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
            .args(["domino", &file.to_string_lossy(), "--fail", fail, "--interval", "50"])
            .output()
            .unwrap()
    };
    let ok = run("agg[0]@500");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(said.contains("8 of 8 tasks back at the start"), "{said}");
    assert!(said.contains("0 of 8 tasks back at the start; 0 rollbacks forced"), "{said}");
    let bad = run("nope[0]@500");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no task \"nope[0]\""));
}

// ---- the `uncoordinated` protocol: the same scheme carried out by the engine ----------------

use ckptsim::scenario::{FailureSpec, ProtocolName, Scenario};

fn pipeline_failing_at_500(sparse: bool) -> Scenario {
    let mut s = common::load("pipeline");
    s.set_protocol(ProtocolName::UNCOORDINATED).unwrap();
    s.failures = vec![FailureSpec { task: Some("agg[0]".into()), at_ms: Some(500), ..Default::default() }];
    if sparse {
        for op in &mut s.topology.operators {
            if let Some(ckptsim::scenario::ArrivalSpec::Constant { rate_per_sec }) = &mut op.arrival {
                *rate_per_sec = 100;
            }
            if op.records_per_partition.is_some() {
                op.records_per_partition = Some(100);
            }
        }
        s.network.buffer_timeout_us = 0;
    }
    s
}

#[test]
fn the_engine_rolls_a_steady_stream_back_to_the_start_and_stays_exactly_once() {
    let m = common::checked(&pipeline_failing_at_500(false), None);
    let u = m.uncoordinated.as_ref().expect("an uncoordinated run reports its local checkpoints");
    assert!(u.local_checkpoints >= 80, "{u:?}");
    let line = &u.recoveries[..];
    assert_eq!(line.len(), 1);
    // The domino effect, carried out: every task back at its start, every checkpoint useless.
    assert_eq!((line[0].tasks_rolled_back, line[0].tasks_to_start), (8, 8), "{line:?}");
    assert_eq!(line[0].max_rollback_ms, 500.0);
    assert_eq!(m.recovery.reprocessed_records, 50_000);
    // The restart's line and the end's are consistent cuts; the output is exactly once.
    assert!(m.consistent_cut.checked >= 2 && m.consistent_cut.violations == 0, "{:?}", m.consistent_cut);
    assert!(m.exactly_once.checked && m.exactly_once.violations == 0, "{:?}", m.exactly_once);
    // The output-commit problem: the line every task could fall back to never moved, so nothing
    // became visible before the end (a 1 s job); coordinated checkpoints commit every 50 ms.
    assert!(m.latency_ms.committed_p50 > 400.0, "{}", m.latency_ms.committed_p50);
    let mut aligned = pipeline_failing_at_500(false);
    aligned.set_protocol(ProtocolName::ALIGNED).unwrap();
    assert!(common::checked(&aligned, None).latency_ms.committed_p50 < 100.0);
}

#[test]
fn with_sparse_traffic_the_line_moves_commits_come_early_and_the_rollback_is_short() {
    let m = common::checked(&pipeline_failing_at_500(true), None);
    let line = &m.uncoordinated.as_ref().unwrap().recoveries[0];
    assert_eq!(line.tasks_to_start, 0, "{line:?}");
    assert!(line.max_rollback_ms < 500.0, "{line:?}");
    assert!(m.consistent_cut.checked > 2 && m.consistent_cut.violations == 0, "{:?}", m.consistent_cut);
    assert!(m.exactly_once.checked && m.exactly_once.violations == 0, "{:?}", m.exactly_once);
}

#[test]
fn a_recovery_line_that_ignores_records_in_flight_loses_them() {
    let s = pipeline_failing_at_500(false);
    let m = common::checked(&s, Some(ckptsim::verify::mutants::Mutant::UncoordinatedIgnoresInFlight));
    assert!(m.consistent_cut.violations > 0, "{:?}", m.consistent_cut);
    assert!(m.consistent_cut.first_violation.unwrap().contains("channel state should be records"));
    assert!(m.exactly_once.missing > 0, "{:?}", m.exactly_once);
}

#[test]
fn uncoordinated_refuses_checkpoint_moments_and_savepoints() {
    let mut s = common::load("crash-during-alignment");
    let e = s.set_protocol(ProtocolName::UNCOORDINATED).unwrap_err().to_string();
    assert!(e.contains("failures[0].during_alignment_of") && e.contains("no global checkpoints"), "{e}");
    let s = pipeline_failing_at_500(false);
    let stop = ckptsim::engine::StopWithSavepoint { at: 100 * MS, drain: false, format: Default::default() };
    let Err(e) = engine::run(&s, RunOptions { stop_with_savepoint: Some(stop), ..Default::default() }) else {
        panic!("a savepoint of an uncoordinated job was not refused")
    };
    assert!(e.to_string().contains("savepoints need a coordinated protocol"), "{e}");
}

#[test]
fn explain_narrates_how_the_recovery_line_was_found() {
    let s = pipeline_failing_at_500(false);
    let r = engine::run(&s, RunOptions { keep_protocol_trace: true, ..Default::default() }).unwrap();
    let steps = ckptsim::teach::explain::explain_recovery(&s, &r, 1);
    let text = ckptsim::teach::explain::to_text(&steps);
    assert!(text.contains("agg[0] crashes: the job restarts from a recovery line"), "{text}");
    // Both rules show up, and the line is the start for everyone.
    assert!(steps.iter().any(|x| x.event == "orphan") && steps.iter().any(|x| x.event == "in_flight"), "{text}");
    assert!(text.contains("8 of 8 tasks went back (8 to their start) after 56 rollbacks"), "{text}");
    assert_eq!(steps.iter().filter(|x| x.event == "orphan" || x.event == "in_flight").count(), 56);
    assert!(ckptsim::teach::explain::explain_recovery(&s, &r, 2).is_empty());
    // The CLI asks for a crash when there is none to narrate.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["explain", &common::scenario_path("pipeline").to_string_lossy(), "--protocol", "uncoordinated"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fail-at"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_diagram_draws_the_local_checkpoints_and_the_line_through_them() {
    let s = pipeline_failing_at_500(false);
    let opts = RunOptions { keep_protocol_trace: true, capture_messages: Some((0, 600 * MS)), ..Default::default() };
    let r = engine::run(&s, opts).unwrap();
    let d = ckptsim::teach::diagram::build_recovery(&s, &r, 1, None).unwrap();
    // Ten 50 ms checkpoints per task before the crash; the line is everyone's start.
    assert_eq!(d.local_checkpoints.len(), 80);
    assert!(d.snapshots.values().all(|&t| t == 0), "{:?}", d.snapshots);
    assert_eq!(d.crashes.len(), 1);
    // A recovery line leaves nothing in flight.
    assert!(d.messages.iter().all(|m| m.crossing == ckptsim::teach::diagram::Crossing::None));
    let svg = d.to_svg(300);
    assert!(svg.contains("local checkpoints") && svg.contains("the recovery line"));
    assert!(ckptsim::teach::diagram::build_recovery(&s, &r, 2, None).is_none());
}
