//! Property testing of the recovery invariants: random whole scenarios (DAGs, network and cost
//! parameters, checkpoint settings, failure schedules), each checked against every named
//! invariant for a correct protocol. A failure is shrunk by proptest, written as a scenario file
//! under `scenarios/regressions/`, and reported with the command that replays it; proptest's own
//! regression file (`tests/properties.proptest-regressions`) keeps the seed of the failure.
//!
//! `PROPTEST_CASES=N` sets the number of cases (default 48 — the CI budget); the long run is
//! `PROPTEST_CASES=5000 cargo test --release --test properties`, or `ckptsim explore`.

use ckptsim::explore::{Finding, correct_protocols, generate, scenario_for_seed, write_finding};
use ckptsim::protocol;
use ckptsim::scenario::{OperatorKind, Partitioner, ProtocolName};
use ckptsim::verify::invariants::{self, Invariant};
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestError, TestRunner};
use std::collections::BTreeSet;
use std::path::Path;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
}

#[test]
fn correct_protocols_hold_every_invariant_on_random_scenarios() {
    let config = Config {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("tests/properties.proptest-regressions"))),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let check = |plan: &generate::Plan, p: usize| {
        let s = plan.build("property", correct_protocols()[p]);
        let v = invariants::check(&s, &|| protocol::create(s.protocol()), Default::default(), &Invariant::ALL);
        (s, v)
    };
    let result = runner.run(&(generate::scenarios(), 0usize..4), |(plan, p)| {
        let (_, v) = check(&plan, p);
        match v.first() {
            None => Ok(()),
            Some(first) => Err(TestCaseError::fail(first.to_string())),
        }
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, (plan, p))) => {
            let (scenario, violations) = check(&plan, p);
            let finding = Finding { seed: scenario.seed, scenario, violations };
            let path = write_finding(Path::new("scenarios/regressions"), &finding).expect("writing the regression");
            panic!(
                "invariant violated: {reason}\nshrunk case written to {}\nreplay: ckptsim run {}",
                path.display(),
                path.display()
            );
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn the_generator_produces_valid_scenarios_covering_the_space() {
    // `Plan::build` panics on an invalid or out-of-scope scenario, so building is the check.
    let (mut sizes, mut partitioners, mut parallelisms) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let (mut unions, mut with_failures, mut crash_counts, mut skewed) = (0, 0, BTreeSet::new(), 0);
    let mut loops = 0;
    for seed in 0..600 {
        let s = scenario_for_seed(seed, ProtocolName::ALIGNED);
        sizes.insert(s.topology.operators.len());
        partitioners.extend(s.topology.edges.iter().map(|e| e.partitioner));
        parallelisms.extend(s.topology.operators.iter().map(|o| o.parallelism));
        unions += s.topology.operators.iter().any(|o| o.kind == OperatorKind::Union) as u32;
        skewed += s.topology.operators.iter().any(|o| !o.task_costs.is_empty()) as u32;
        with_failures += !s.failures.is_empty() as u32;
        crash_counts.insert(s.failures.len());
        loops += s.topology.edges.iter().any(|e| e.back_edge) as u32;
    }
    assert_eq!(sizes, (2..=11).collect(), "operator counts");
    // One seed in three, unless running sums reach the loop.
    assert!(loops > 100, "only {loops} of 600 scenarios have an iteration");
    assert_eq!(partitioners.len(), 4, "{partitioners:?}");
    assert!(partitioners.contains(&Partitioner::Forward));
    assert_eq!(parallelisms, (1..=4).collect());
    assert!(unions > 100, "only {unions} of 600 scenarios have a multi-input operator");
    assert!(skewed > 50, "only {skewed} skewed");
    assert!(with_failures > 300, "only {with_failures} with failures");
    assert_eq!(crash_counts, (0..=5).collect());
}
