//! Cyclic dataflows (issue 17, item 4): an iteration closed by a back-edge, ABS's back-edge
//! logging (Carbone et al. 2015, Algorithm 2), and what goes wrong without it.

mod common;

use ckptsim::engine::{RunOptions, StopWithSavepoint};
use ckptsim::scenario::{OperatorKind, OperatorSpec, Partitioner, ProtocolName, Scenario};
use ckptsim::verify::mutants::Mutant;

fn iteration(p: ProtocolName) -> Scenario {
    let mut s = common::load("cyclic/iteration");
    s.set_protocol(p).unwrap();
    s
}

#[test]
fn every_correct_protocol_is_exactly_once_on_the_cyclic_job_with_a_crash() {
    for p in ckptsim::explore::correct_protocols() {
        let m = common::checked(&iteration(p), None);
        assert!(m.drained, "{}: did not drain: {:?}", p.name(), m.watchdog);
        assert_eq!(m.failures, 1, "{}", p.name());
        match &m.uncoordinated {
            // Local checkpoints, and the recovery lines checked (the restart's, the end's).
            Some(u) => assert!(u.local_checkpoints >= 5 && m.consistent_cut.checked >= 2, "{u:?}"),
            None => {
                assert!(m.checkpoints.completed >= 5, "{}: {} checkpoints", p.name(), m.checkpoints.completed);
                assert_eq!(m.consistent_cut.checked, m.checkpoints.completed, "{}", p.name());
            }
        }
        assert_eq!(m.consistent_cut.violations, 0, "{}: {:?}", p.name(), m.consistent_cut.first_violation);
        let eo = &m.exactly_once;
        assert!(eo.checked && eo.violations == 0, "{}: {:?}", p.name(), eo.first_violation);
        assert!(eo.not_checked_parts.is_empty(), "{}: {:?}", p.name(), eo.not_checked_parts);
    }
}

#[test]
fn aligned_snapshots_of_the_loop_hold_the_records_on_its_back_edge() {
    let m = common::checked(&iteration(ProtocolName::ALIGNED), None);
    // Aligned checkpoints record no channel state on a DAG; here the head's log of its back-edge
    // is the only channel state there is.
    assert!(m.checkpoints.channel_state_bytes.p50 > 0.0, "no back-edge log: {:?}", m.checkpoints.channel_state_bytes);
}

#[test]
fn without_the_back_edge_log_the_mutant_is_caught() {
    let s = iteration(ProtocolName::ALIGNED);
    let m = common::checked(&s, Some(Mutant::AlignedSkipsBackEdgeLog));
    assert!(m.consistent_cut.violations > 0, "the cut checker missed the unlogged back-edge");
    let first = m.consistent_cut.first_violation.clone().unwrap();
    assert!(first.contains("until[") && first.contains("->head["), "{first}");
    // The crash restores a checkpoint whose loop was empty: the records that were going round
    // are lost.
    assert!(m.exactly_once.missing > 0, "{:?}", m.exactly_once);
}

#[test]
fn records_go_round_until_their_value_leaves_or_max_rounds() {
    // No map in the loop: values never change, so a record leaves at once (value % 5 == 0) or
    // after exactly max_rounds rounds. The sinks see every record once either way.
    let mut s = common::load("cyclic/iteration");
    s.checkpointing = None;
    s.failures.clear();
    let step = s.topology.operators.iter().position(|o| o.id == "step").unwrap();
    s.topology.operators[step].kind = OperatorKind::Union;
    s.topology.edges.retain(|e| e.to != "step" && e.from != "step");
    s.topology.operators.remove(step);
    s.topology.edges.push(ckptsim::scenario::EdgeSpec {
        from: "head".into(),
        to: "until".into(),
        partitioner: Partitioner::Forward,
        chain: true,
        back_edge: false,
    });
    s.topology.operators.iter_mut().find(|o| o.id == "until").unwrap().max_rounds = Some(3);
    s.validate().unwrap();
    let m = common::checked(&s, None);
    assert!(m.drained);
    assert_eq!(m.records.committed, 24_000);
    let hops = m.records.hops;
    // 24,000 records; those not a multiple of five (about 4/5) pass head and until 4 times.
    assert!(hops > 24_000 * 2 + 24_000 * 4 / 5 * 6 * 9 / 10, "hops {hops}");
    assert!(m.exactly_once.checked && m.exactly_once.violations == 0, "{:?}", m.exactly_once);
}

#[test]
fn the_cyclic_job_is_deterministic() {
    let s = iteration(ProtocolName::UNALIGNED);
    let a = common::run(&s).summary.trace_hash;
    let b = common::run(&s).summary.trace_hash;
    assert_eq!(a, b);
}

fn err(s: &Scenario) -> String {
    s.validate().unwrap_err().to_string()
}

#[test]
fn validation_explains_what_a_loop_needs() {
    let base = common::load("cyclic/iteration");
    let back = base.topology.edges.iter().position(|e| e.back_edge).unwrap();

    let mut s = base.clone();
    s.topology.edges[back].back_edge = false;
    let e = err(&s);
    assert!(e.contains("cycle: head → step → until → head") && e.contains("\"back_edge\": true"), "{e}");

    let mut s = base.clone();
    s.topology.edges[back].partitioner = Partitioner::Broadcast;
    let e = err(&s);
    assert!(e.contains("topology.edges[3].partitioner") && e.contains("broadcast"), "{e}");

    let mut s = base.clone();
    s.topology.operators.iter_mut().find(|o| o.id == "until").unwrap().until = None;
    let e = err(&s);
    assert!(e.contains("topology.operators[3].until") && e.contains("missing"), "{e}");

    let mut s = base.clone();
    let agg = s.topology.edges.iter().position(|e| e.to == "agg").unwrap();
    s.topology.edges[agg].back_edge = true;
    let e = err(&s);
    assert!(e.contains("topology.edges[4].back_edge") && e.contains("closes no cycle"), "{e}");

    let mut s = base.clone();
    s.topology.edges[back].from = "step".into();
    let e = err(&s);
    assert!(e.contains("topology.edges[3].back_edge") && e.contains("a back-edge leaves a loop_until"), "{e}");

    let mut s = common::load("pipeline");
    let map = &mut s.topology.operators[1];
    map.kind = OperatorKind::LoopUntil;
    map.until = base.topology.operators[3].until.clone();
    let e = err(&s);
    assert!(e.contains("loop_until \"map\" has no back-edge"), "{e}");

    // A second source feeding the middle of the loop.
    let mut s = base.clone();
    let mut src2 = s.topology.operators[0].clone();
    src2.id = "src2".into();
    s.topology.operators.push(src2);
    s.topology.operators.push(OperatorSpec::new("mix", OperatorKind::Union).parallelism(2));
    for e in &mut s.topology.edges {
        if e.from == "head" {
            e.from = "mix".into();
        }
    }
    for (from, to) in [("head", "mix"), ("src2", "mix")] {
        s.topology.edges.push(ckptsim::scenario::EdgeSpec {
            from: from.into(),
            to: to.into(),
            partitioner: Partitioner::Forward,
            chain: true,
            back_edge: false,
        });
    }
    let e = err(&s);
    assert!(e.contains("enters the loop") && e.contains("at \"mix\""), "{e}");

    let mut s = base;
    s.topology.operators.iter_mut().find(|o| o.id == "step").unwrap().until = s.topology.operators[3].until.clone();
    assert!(err(&s).contains("`until` is only allowed on a loop_until operator"), "{}", err(&s));
}

#[test]
fn savepoints_refuse_cyclic_jobs() {
    let s = iteration(ProtocolName::ALIGNED);
    let stop = StopWithSavepoint { at: 100_000_000, drain: false, format: Default::default() };
    let opts = RunOptions { stop_with_savepoint: Some(stop), ..Default::default() };
    let Err(e) = ckptsim::engine::run(&s, opts) else { panic!("a savepoint of a cyclic job was not refused") };
    let e = e.to_string();
    assert!(e.contains("topology.edges[3].back_edge") && e.contains("iterations"), "{e}");
}

#[test]
fn explain_narrates_the_back_edge_log() {
    let s = iteration(ProtocolName::ALIGNED);
    let r = ckptsim::engine::run(&s, RunOptions { keep_protocol_trace: true, ..Default::default() }).unwrap();
    let steps = ckptsim::teach::explain::explain(&s, &r, 3);
    let text = ckptsim::teach::explain::to_text(&steps);
    assert!(text.contains("head[0] has barrier 3 on its only input"), "{text}");
    assert!(
        text.contains("it heads a loop: what comes round its back-edges from until[0] and until[1] is logged"),
        "{text}"
    );
    assert!(text.contains("barrier 3 comes round the loop from until[1] back to head[0]"), "{text}");
    // The head aligns on its one input from outside the loop, not on its back-edges.
    assert!(text.contains("barrier 3 from src[0] arrives at head[0] (1 of 1 inputs)"), "{text}");
}

/// The figures docs/tutorial.md step 12 quotes.
#[test]
fn the_tutorial_figures_for_the_loop_hold() {
    let s = iteration(ProtocolName::ALIGNED);
    let opts = RunOptions { keep_protocol_trace: true, capture_messages: Some((0, u64::MAX)), ..Default::default() };
    let r = ckptsim::engine::run(&s, opts).unwrap();
    let d = ckptsim::teach::diagram::build(&s, &r, 3, None).unwrap();
    let crossing: Vec<_> =
        d.messages.iter().filter(|m| m.crossing == ckptsim::teach::diagram::Crossing::ChannelState).collect();
    // Checkpoint 3's channel state: 69 records, all on the back-edges.
    assert_eq!(crossing.len(), 69);
    let g = ckptsim::graph::Graph::build(&s);
    assert!(crossing.iter().all(|m| g.is_back(m.ch)));
    // Without the log: the four back-edges are wrong in all 11 checkpoints; after the crash 109
    // records are missing and 96 keys wrong.
    let m = common::checked(&s, Some(Mutant::AlignedSkipsBackEdgeLog));
    assert_eq!((m.consistent_cut.violations, m.consistent_cut.checked), (44, 11));
    assert_eq!((m.exactly_once.missing, m.exactly_once.state_mismatches), (109, 96));
}

#[test]
fn validate_names_the_iteration() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["validate", &common::scenario_path("cyclic/iteration").to_string_lossy()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("an iteration (head → step → until)"));
}
