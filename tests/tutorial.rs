//! The figures `docs/tutorial.md` quotes, so the tutorial cannot silently go stale.

use ckptsim::engine::{self, RunOptions};
use ckptsim::scenario::{ProtocolName, Scenario};
use ckptsim::teach::diagram::{self, Crossing};
use ckptsim::verify::Oracle;
use std::path::PathBuf;

fn load(name: &str) -> Scenario {
    Scenario::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/tutorial").join(format!("{name}.json")))
        .unwrap()
}

fn crossings(s: &Scenario, cp: u64, c: Crossing) -> usize {
    let opts = RunOptions { keep_protocol_trace: true, capture_messages: Some((0, u64::MAX)), ..Default::default() };
    let r = engine::run(s, opts).unwrap();
    diagram::build(s, &r, cp, None).unwrap().messages.iter().filter(|m| m.crossing == c).count()
}

#[test]
fn the_tutorial_figures_hold() {
    // 1: the union blocks one input; aligned records nothing.
    let s = load("1-aligned-diamond");
    let m = engine::run(&s, RunOptions::default()).unwrap().summary;
    assert!(m.input_blocked_ms > 0.0);
    assert_eq!(crossings(&s, 1, Crossing::ChannelState), 0);
    // 2: under backpressure aligned ≈ 9.6 ms, unaligned ≈ 2.5 ms (of which 2 ms are the two file
    // writes: the upload and the metadata) with 305 records of channel state.
    let mut s = load("2-unaligned-backpressure");
    let u = engine::run(&s, RunOptions::default()).unwrap().summary;
    assert_eq!(crossings(&s, 1, Crossing::ChannelState), 305);
    s.set_protocol(ProtocolName::ALIGNED).unwrap();
    let a = engine::run(&s, RunOptions::default()).unwrap().summary;
    assert!(a.checkpoints.duration_ms.p50 > 3.0 * u.checkpoints.duration_ms.p50);
    assert!(a.checkpoints.alignment_ms.p50 > 20.0 * u.checkpoints.alignment_ms.p50);
    // 3: Chandy-Lamport records 6 records in checkpoint 1.
    assert_eq!(crossings(&load("3-chandy-lamport"), 1, Crossing::ChannelState), 6);
    // 4: a crash at 55 ms, 596 records read again, exactly once.
    let s = load("4-failure-exactly-once");
    let mut r = engine::run(&s, RunOptions { collect_output: true, ..Default::default() }).unwrap();
    r.summary.exactly_once = Oracle::reference(&s).unwrap().check(&r);
    assert_eq!((r.summary.failures, r.summary.recovery.reprocessed_records), (1, 596));
    assert_eq!(r.summary.exactly_once.violations, 0);
    // 5: 4 orphans in checkpoint 2 become 4 duplicates.
    let s = load("5-at-least-once-duplicates");
    assert_eq!(crossings(&s, 2, Crossing::Orphan), 4);
    let mut r = engine::run(&s, RunOptions { collect_output: true, ..Default::default() }).unwrap();
    r.summary.exactly_once = Oracle::reference(&s).unwrap().check(&r);
    assert_eq!(r.summary.exactly_once.duplicated, 4);
}
