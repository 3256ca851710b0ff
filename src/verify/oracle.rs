//! The exactly-once oracle (DESIGN §5). The expected result comes from the independent model
//! ([`crate::verify::model`]: the source logs through the DAG, without the engine), and is
//! cross-checked with a failure-free engine run of the same scenario and seed (no checkpointing,
//! plain sinks): a disagreement there is an engine bug that every run shares. After a run with
//! failures has drained, its visible (committed) output must hold every expected lineage exactly
//! as often — nothing missing, nothing duplicated — with the expected values where they do not
//! depend on arrival order; every `keyed_sum` whose inputs do not depend on order must end with the
//! expected sum per key, each key in the task that owns it (hash-partitioned state).
//!
//! A `keyed_sum` emits running sums, which depend on the order its inputs interleave — and a
//! restore may interleave them differently, legitimately. So what is downstream of a `keyed_sum`
//! is checked by what does not depend on order: lineage counts always, values and final sums only
//! upstream of it; the summary lists what was left out (`not_checked_parts`). Only a `filter`
//! downstream of a `keyed_sum` makes the lineage counts themselves depend on order: then the
//! verdict is `not_checked` with the reason ([`order_dependence`]).

use crate::engine::{self, OutputLog, RunError, RunOptions, RunResult, Sabotage};
use crate::metrics::ExactlyOnceSummary;
use crate::scenario::{ProtocolName, Scenario};
use crate::verify::model::Model;
use std::collections::BTreeMap;

/// The expected result of a scenario: the independent model, and the failure-free engine run
/// that cross-checks it.
#[derive(Debug)]
pub struct Oracle {
    model: Model,
    /// The failure-free engine run's visible output.
    /// `None`: the model alone ([`Oracle::model_only`]).
    engine_output: Option<OutputLog>,
    /// Why the job is out of the oracle's scope, if it is.
    out_of_scope: Option<String>,
    /// The part of each log partition the run is judged on: offsets `from..until` (a job that
    /// started from a savepoint, or stopped with one).
    from: BTreeMap<u32, u64>,
    until: Option<BTreeMap<u32, u64>>,
    /// Keyed operators whose final state is not compared (they started empty at a restore).
    skip_state: Vec<String>,
    /// Lineages before `from` that the run must still make visible, and how often: a retained
    /// checkpoint's in-flight records and pending transactions.
    carried: BTreeMap<(u32, u64), u32>,
}

/// Why `s`'s lineage counts may depend on arrival order (a `filter` downstream of a
/// `keyed_sum`), or `None`.
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
    ops.iter().zip(&after).find(|(o, a)| **a && o.kind == OperatorKind::Filter).map(|(o, _)| {
        format!("filter {:?} is downstream of a keyed_sum: which records it keeps depends on arrival order", o.id)
    })
}

impl Oracle {
    /// The independent model of `s` alone, without the failure-free engine run that cross-checks
    /// it: every run is still judged against the model (an engine bug every run shares shows as
    /// missing or wrong records), only the diagnosis "the reference run agrees with the model" is
    /// left out, and the verdict lists it as not checked. Exploration uses it: one run less per
    /// seed.
    pub fn model_only(s: &Scenario) -> Oracle {
        match s.limits.cancel_at_ms {
            Some(at) => Self::cancelled(at),
            None => Oracle { model: Model::of(s), out_of_scope: order_dependence(s), ..Self::cancelled(0) },
        }
    }

    /// The oracle of a job cancelled at `at` ms: nothing to compare a partial output with.
    fn cancelled(at: u64) -> Oracle {
        Oracle {
            model: Model::default(),
            engine_output: None,
            from: BTreeMap::new(),
            until: None,
            skip_state: Vec::new(),
            carried: BTreeMap::new(),
            out_of_scope: Some(format!(
                "the job is cancelled at {at} ms (limits.cancel_at_ms): the output of a cancelled job is partial"
            )),
        }
    }

    /// The model of `s` and its cross-check: `s` run without failures and without checkpointing.
    pub fn reference(s: &Scenario) -> Result<Oracle, RunError> {
        Self::reference_with(s, Sabotage::default())
    }

    /// As [`Oracle::reference`], with the engine's reference run carrying `sabotage` — for
    /// showing that an engine bug present in every run is caught by the model.
    pub fn reference_with(s: &Scenario, sabotage: Sabotage) -> Result<Oracle, RunError> {
        if let Some(at) = s.limits.cancel_at_ms {
            // Nothing to compare a partial output with: no model, no reference run.
            return Ok(Self::cancelled(at));
        }
        let mut r = s.clone();
        r.failures.clear();
        r.set_protocol(ProtocolName::NONE)?;
        let run = engine::run(&r, RunOptions { collect_output: true, sabotage, ..Default::default() })?;
        Ok(Oracle {
            model: Model::of(s),
            engine_output: Some(run.output.expect("collected")),
            out_of_scope: order_dependence(s),
            from: BTreeMap::new(),
            until: None,
            skip_state: Vec::new(),
            carried: BTreeMap::new(),
        })
    }

    /// Also expects the lineages a retained checkpoint carried (in flight, or in pending
    /// transactions), as often as given, though they come before `from`.
    pub fn carrying(mut self, carried: BTreeMap<(u32, u64), u32>) -> Oracle {
        self.carried = carried;
        self
    }

    /// Judges a job stopped with a savepoint: only the records before `until` (the sources'
    /// positions in the savepoint), with the state they make.
    pub fn until(mut self, s: &Scenario, until: BTreeMap<u32, u64>) -> Oracle {
        self.model = Model::of_until(s, Some(&until));
        self.until = Some(until);
        self
    }

    /// Judges a job started from a savepoint: only the records from `from` on (the sources'
    /// positions in the savepoint) must become visible; the final state still covers the whole
    /// log (the savepoint brought the rest), except for `new_operators`, which started empty.
    pub fn from(mut self, from: BTreeMap<u32, u64>, new_operators: Vec<String>) -> Oracle {
        self.from = from;
        self.skip_state = new_operators;
        self
    }

    /// Checks a run made with [`RunOptions::collect_output`]; `checked` is false without it.
    pub fn check(&self, run: &RunResult) -> ExactlyOnceSummary {
        let Some(out) = &run.output else { return ExactlyOnceSummary::default() };
        if let Some(why) = &self.out_of_scope {
            return ExactlyOnceSummary { not_checked: Some(why.clone()), ..Default::default() };
        }
        let mut v = ExactlyOnceSummary {
            checked: true,
            not_checked_parts: self.model.order_dependent.clone(),
            ..Default::default()
        };
        for op in &self.skip_state {
            v.not_checked_parts.push(format!(
                "final state of {op:?}: it started empty at the restore, while the model counts from the start of the log"
            ));
        }
        let inside = |p: u32, o: u64| {
            o >= self.from.get(&p).copied().unwrap_or(0)
                && self.until.as_ref().is_none_or(|u| o < u.get(&p).copied().unwrap_or(u64::MAX))
        };
        let note = |v: &mut ExactlyOnceSummary, text: String| {
            if v.first_violation.is_none() {
                v.first_violation = Some(text);
            }
        };
        let expected: BTreeMap<u32, &[u32]> = self.model.counts.iter().map(|(&p, c)| (p, c.as_slice())).collect();
        let actual: BTreeMap<u32, &[u32]> = out.partitions().collect();
        let reference: BTreeMap<u32, &[u32]> = self.engine_output.iter().flat_map(|o| o.partitions()).collect();
        if self.engine_output.is_none() {
            v.not_checked_parts.push(
                "the cross-check of the model with a failure-free engine run (the model alone judged this run)".into(),
            );
        }
        let partitions: std::collections::BTreeSet<u32> =
            expected.keys().chain(actual.keys()).chain(reference.keys()).copied().collect();
        let at = |m: &BTreeMap<u32, &[u32]>, p: u32, o: usize| m.get(&p).and_then(|c| c.get(o)).copied().unwrap_or(0);
        for p in partitions {
            let len =
                [&expected, &actual, &reference].iter().map(|m| m.get(&p).map_or(0, |c| c.len())).max().unwrap_or(0);
            for offset in 0..len {
                let l = crate::operator::Lineage { partition: p, offset: offset as u64 };
                let (mut want, got, mut refd) =
                    (at(&expected, p, offset), at(&actual, p, offset), at(&reference, p, offset));
                let carried = self.carried.get(&(p, offset as u64)).copied();
                if !inside(p, offset as u64) {
                    // Outside the part of the log this run is judged on: nothing may show, but
                    // what a retained checkpoint carried in.
                    want = carried.unwrap_or(0);
                    refd = want;
                }
                if refd != want && self.engine_output.is_some() {
                    v.reference_mismatches += 1;
                    note(
                        &mut v,
                        format!(
                            "lineage (partition {p}, offset {offset}): the failure-free engine run made it visible {refd} times, the model expects {want} — an engine bug every run shares"
                        ),
                    );
                }
                if want != got {
                    let kind = if got < want { "missing" } else { "duplicated" };
                    if got < want {
                        v.missing += (want - got) as u64;
                    } else {
                        v.duplicated += (got - want) as u64;
                    }
                    note(
                        &mut v,
                        format!(
                            "lineage (partition {p}, offset {offset}) {kind}: visible {got} times, expected {want}"
                        ),
                    );
                    continue;
                }
                let expected_value = self
                    .model
                    .values
                    .get(&p)
                    .and_then(|c| c.get(offset).copied().flatten())
                    .filter(|_| inside(p, offset as u64));
                if let Some(e) = expected_value
                    && want > 0
                    && out.value_sum(l) != e
                {
                    v.value_mismatches += 1;
                    note(
                        &mut v,
                        format!(
                            "lineage (partition {p}, offset {offset}) arrived with values summing to {}, expected {e}",
                            out.value_sum(l)
                        ),
                    );
                }
            }
        }
        for (op, want) in self.model.state.iter().filter(|(op, _)| !self.skip_state.contains(op)) {
            let empty = BTreeMap::new();
            let got = run.final_state.get(op).unwrap_or(&empty);
            for key in want.keys().chain(got.keys()).collect::<std::collections::BTreeSet<_>>() {
                let (w, g) = (want.get(key).filter(|&&x| x != 0), got.get(key).filter(|&&x| x != 0));
                if w != g {
                    v.state_mismatches += 1;
                    note(&mut v, format!("keyed state of {op}, key {key}: {g:?}, expected {w:?}"));
                }
            }
        }
        for ((op, task), sums) in &run.final_state_by_task {
            for &key in sums.keys() {
                if let Some(owner) = self.model.owner(op, key)
                    && owner != *task
                {
                    v.ownership_violations += 1;
                    note(&mut v, format!("key {key} of {op} lives in task {op}[{task}], but {op}[{owner}] owns it"));
                }
            }
        }
        v.violations = v.missing
            + v.duplicated
            + v.state_mismatches
            + v.value_mismatches
            + v.ownership_violations
            + v.reference_mismatches;
        v
    }
}

/// Runs the reference for `s` and fills `run.summary.exactly_once`.
pub fn attach(s: &Scenario, run: &mut RunResult) -> Result<(), RunError> {
    run.summary.exactly_once = Oracle::reference(s)?.check(run);
    Ok(())
}
