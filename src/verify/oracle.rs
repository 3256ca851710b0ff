//! The exactly-once oracle (DESIGN §5). A reference run of the same scenario and seed without
//! failures and without checkpointing (sinks deliver plainly) says how many times each source
//! record must appear in the visible output, and what the final keyed state must be. After a run
//! with failures has drained, its visible (committed) output must hold every expected lineage
//! exactly as often — nothing missing, nothing duplicated — and its final keyed state must equal
//! the reference.

use crate::engine::{self, OutputLog, RunOptions, RunResult};
use crate::metrics::ExactlyOnceSummary;
use crate::scenario::{ProtocolName, Scenario};
use std::collections::BTreeMap;

/// The expected result of a scenario, from a failure-free reference run.
#[derive(Debug)]
pub struct Oracle {
    output: OutputLog,
    state: BTreeMap<String, BTreeMap<u64, i64>>,
}

impl Oracle {
    /// Runs the reference: `s` without failures and without checkpointing.
    pub fn reference(s: &Scenario) -> Oracle {
        let mut r = s.clone();
        r.failures.clear();
        r.set_protocol(ProtocolName::None).expect("protocol none needs no settings");
        let run = engine::run(&r, RunOptions { collect_output: true, trace: None }).expect("no trace file: no I/O");
        Oracle { output: run.output.expect("collected"), state: run.final_state }
    }

    /// Checks a run made with [`RunOptions::collect_output`]; `checked` is false without it.
    pub fn check(&self, run: &RunResult) -> ExactlyOnceSummary {
        let Some(out) = &run.output else { return ExactlyOnceSummary::default() };
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
pub fn attach(s: &Scenario, run: &mut RunResult) {
    run.summary.exactly_once = Oracle::reference(s).check(run);
}
