//! The exactly-once oracle (DESIGN §5). A reference run of the same scenario and seed without
//! failures and without checkpointing (sinks deliver plainly) says how many times each source
//! record must appear in the visible output, and what the final keyed state must be. After a run
//! with failures has drained, its visible (committed) output must hold every expected lineage
//! exactly as often — nothing missing, nothing duplicated — and its final keyed state must equal
//! the reference.
//!
//! The comparison needs a job whose result does not depend on arrival order. A `keyed_sum` emits
//! running sums, which depend on the order its inputs interleave — and a restore may interleave
//! them differently, legitimately. So a `keyed_sum` or a `filter` downstream of a `keyed_sum`
//! (whose state or whose selection of records would then depend on order) is out of scope:
//! [`order_dependence`] names it and the oracle reports `checked: false` instead of guessing.

use crate::engine::{self, OutputLog, RunError, RunOptions, RunResult};
use crate::metrics::ExactlyOnceSummary;
use crate::scenario::{ProtocolName, Scenario};
use std::collections::BTreeMap;

/// The expected result of a scenario, from a failure-free reference run.
#[derive(Debug)]
pub struct Oracle {
    output: OutputLog,
    state: BTreeMap<String, BTreeMap<u64, i64>>,
    /// Why the job is out of the oracle's scope, if it is.
    out_of_scope: Option<String>,
}

/// Why `s`'s result may depend on arrival order (see the module docs), or `None`.
pub fn order_dependence(s: &Scenario) -> Option<String> {
    use crate::scenario::OperatorKind;
    let ops = &s.topology.operators;
    // after[i]: operator i consumes (transitively) the output of a keyed_sum. Operators appear
    // in any order in the file, so iterate to a fixed point (at most one pass per operator).
    let mut after = vec![false; ops.len()];
    for _ in 0..ops.len() {
        for e in &s.topology.edges {
            let from = ops.iter().position(|o| o.id == e.from).expect("validated");
            let to = ops.iter().position(|o| o.id == e.to).expect("validated");
            after[to] |= after[from] || ops[from].kind == OperatorKind::KeyedSum;
        }
    }
    ops.iter().zip(&after).find(|(o, a)| **a && matches!(o.kind, OperatorKind::KeyedSum | OperatorKind::Filter)).map(
        |(o, _)| {
            format!("{} {:?} is downstream of a keyed_sum: its result depends on arrival order", o.kind.name(), o.id)
        },
    )
}

impl Oracle {
    /// Runs the reference: `s` without failures and without checkpointing.
    pub fn reference(s: &Scenario) -> Result<Oracle, RunError> {
        let mut r = s.clone();
        r.failures.clear();
        r.set_protocol(ProtocolName::NONE)?;
        let run = engine::run(&r, RunOptions { collect_output: true, ..Default::default() })?;
        Ok(Oracle { output: run.output.expect("collected"), state: run.final_state, out_of_scope: order_dependence(s) })
    }

    /// Checks a run made with [`RunOptions::collect_output`]; `checked` is false without it.
    pub fn check(&self, run: &RunResult) -> ExactlyOnceSummary {
        let Some(out) = &run.output else { return ExactlyOnceSummary::default() };
        if let Some(why) = &self.out_of_scope {
            return ExactlyOnceSummary { not_checked: Some(why.clone()), ..Default::default() };
        }
        let mut v = ExactlyOnceSummary { checked: true, ..Default::default() };
        let note = |v: &mut ExactlyOnceSummary, text: String| {
            if v.first_violation.is_none() {
                v.first_violation = Some(text);
            }
        };
        let expected: BTreeMap<u32, &[u32]> = self.output.partitions().collect();
        let actual: BTreeMap<u32, &[u32]> = out.partitions().collect();
        let partitions: std::collections::BTreeSet<u32> = expected.keys().chain(actual.keys()).copied().collect();
        for p in partitions {
            let (e, a) = (expected.get(&p).copied().unwrap_or(&[]), actual.get(&p).copied().unwrap_or(&[]));
            for offset in 0..e.len().max(a.len()) {
                let (want, got) = (e.get(offset).copied().unwrap_or(0), a.get(offset).copied().unwrap_or(0));
                if want == got {
                    continue;
                }
                if got < want {
                    v.missing += (want - got) as u64;
                } else {
                    v.duplicated += (got - want) as u64;
                }
                let kind = if got < want { "missing" } else { "duplicated" };
                note(
                    &mut v,
                    format!("lineage (partition {p}, offset {offset}) {kind}: visible {got} times, expected {want}"),
                );
            }
        }
        for (op, want) in &self.state {
            let empty = BTreeMap::new();
            let got = run.final_state.get(op).unwrap_or(&empty);
            for key in want.keys().chain(got.keys()).collect::<std::collections::BTreeSet<_>>() {
                let (w, g) = (want.get(key), got.get(key));
                if w != g {
                    v.state_mismatches += 1;
                    note(&mut v, format!("keyed state of {op}, key {key}: {g:?}, expected {w:?}"));
                }
            }
        }
        v.violations = v.missing + v.duplicated + v.state_mismatches;
        v
    }
}

/// Runs the reference for `s` and fills `run.summary.exactly_once`.
pub fn attach(s: &Scenario, run: &mut RunResult) -> Result<(), RunError> {
    run.summary.exactly_once = Oracle::reference(s)?.check(run);
    Ok(())
}
