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
