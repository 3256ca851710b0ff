//! The named invariants checked on every generated case (STYLE: invariants have names).

use crate::engine::{self, RunError, RunOptions, RunResult, Sabotage};
use crate::protocol::Protocol;
use crate::scenario::Scenario;
use crate::verify::Oracle;
use std::fmt;

/// A named invariant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Invariant {
    /// The scenario validates and its runs can be made (the generator's promise). Always checked
    /// first: nothing else can be judged without a run.
    Runnable,
    /// The visible output holds every expected record exactly once and the final keyed state
    /// equals the failure-free reference.
    ExactlyOnce,
    /// Every completed checkpoint is a consistent cut.
    ConsistentCut,
    /// The same scenario and seed give the same trace hash twice.
    Deterministic,
    /// Without failures, every triggered checkpoint completes or is subsumed by a newer completed
    /// one, and at least one completes.
    CheckpointsProgress,
    /// No receiver queue ever holds more buffers than its credits allow.
    BoundedBuffers,
    /// The run drains: every task finishes, no checkpoint is left hanging.
    NoDeadlock,
    /// No output becomes visible before the checkpoint that covers it completed.
    CommitAfterCompletion,
}

impl Invariant {
    /// Every invariant.
    pub const ALL: [Invariant; 8] = [
        Invariant::Runnable,
        Invariant::ExactlyOnce,
        Invariant::ConsistentCut,
        Invariant::Deterministic,
        Invariant::CheckpointsProgress,
        Invariant::BoundedBuffers,
        Invariant::NoDeadlock,
        Invariant::CommitAfterCompletion,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::Runnable => "runnable",
            Invariant::ExactlyOnce => "exactly_once",
            Invariant::ConsistentCut => "consistent_cut",
            Invariant::Deterministic => "deterministic",
            Invariant::CheckpointsProgress => "checkpoints_progress",
            Invariant::BoundedBuffers => "bounded_buffers",
            Invariant::NoDeadlock => "no_deadlock",
            Invariant::CommitAfterCompletion => "commit_after_completion",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Invariant> {
        Self::ALL.into_iter().find(|i| i.name() == s)
    }
}

/// An invariant that did not hold, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which one.
    pub invariant: Invariant,
    /// What was seen.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant.name(), self.message)
    }
}

fn run(s: &Scenario, p: Option<Box<dyn Protocol>>, sabotage: Sabotage) -> Result<RunResult, RunError> {
    engine::run_with_protocol(s, RunOptions { collect_output: true, sabotage, ..Default::default() }, p)
}

/// Checks `which` invariants on `s`; `make` builds a fresh protocol instance per run, and
/// `sabotage` (default for every correct protocol) says which engine duties a mutant skips.
pub fn check(
    s: &Scenario,
    make: &dyn Fn() -> Option<Box<dyn Protocol>>,
    sabotage: Sabotage,
    which: &[Invariant],
) -> Vec<Violation> {
    let runnable = |e: RunError| vec![Violation { invariant: Invariant::Runnable, message: e.to_string() }];
    let r = match run(s, make(), sabotage) {
        Ok(r) => r,
        Err(e) => return runnable(e),
    };
    // The reference run carries the same sabotage: a broken engine is broken in every run.
    let oracle = match which.contains(&Invariant::ExactlyOnce).then(|| Oracle::reference_with(s, sabotage)).transpose()
    {
        Ok(o) => o,
        Err(e) => return runnable(e),
    };
    let m = &r.summary;
    let mut out = Vec::new();
    let mut fail = |invariant: Invariant, message: String| out.push(Violation { invariant, message });
    for &inv in which {
        match inv {
            Invariant::Runnable => {}
            Invariant::ExactlyOnce => {
                let eo = oracle.as_ref().expect("made above when asked for").check(&r);
                if let Some(why) = eo.not_checked {
                    fail(inv, format!("cannot be judged: {why}"));
                } else if eo.violations > 0 {
                    fail(
                        inv,
                        format!(
                            "{} missing, {} duplicated, {} keys wrong, {} values wrong, {} keys in the wrong task, {} reference mismatches; first: {}",
                            eo.missing,
                            eo.duplicated,
                            eo.state_mismatches,
                            eo.value_mismatches,
                            eo.ownership_violations,
                            eo.reference_mismatches,
                            eo.first_violation.unwrap_or_default()
                        ),
                    );
                }
            }
            Invariant::ConsistentCut => {
                if let Some(first) = &m.consistent_cut.first_violation {
                    fail(inv, format!("{} violations; first: {first}", m.consistent_cut.violations));
                }
            }
            Invariant::Deterministic => {
                let again = run(s, make(), sabotage).map(|r| r.summary.trace_hash).unwrap_or_default();
                if again != m.trace_hash {
                    fail(inv, format!("trace hash {} then {again}", m.trace_hash));
                }
            }
            Invariant::CheckpointsProgress => {
                // A checkpoint overtaken by a newer completed one (subsumed) counts as progress.
                // With a timeout shorter than a second checkpoints may time out legitimately:
                // then at least one must complete.
                let c = &m.checkpoints;
                let short_timeout = s.checkpointing.as_ref().is_some_and(|k| k.timeout_ms < 1000);
                let stalled = if short_timeout { c.completed == 0 } else { c.completed + c.subsumed != c.triggered };
                if s.failures.is_empty() && s.checkpointing.is_some() && (c.completed == 0 || stalled) {
                    fail(
                        inv,
                        format!(
                            "{} triggered, {} completed, {} subsumed, {} aborted, {} unfinished",
                            c.triggered, c.completed, c.subsumed, c.aborted, c.unfinished
                        ),
                    );
                }
            }
            Invariant::BoundedBuffers => {
                if let Some((ch, q)) = m.max_queued_buffers.iter().find(|(_, q)| **q > m.credit_bound) {
                    fail(inv, format!("channel {ch} queued {q} buffers, credit bound {}", m.credit_bound));
                }
            }
            Invariant::CommitAfterCompletion => {
                if m.records.visible_before_completion > 0 {
                    fail(
                        inv,
                        format!(
                            "{} records became visible before their checkpoint completed",
                            m.records.visible_before_completion
                        ),
                    );
                }
            }
            Invariant::NoDeadlock => {
                if !m.drained || m.checkpoints.unfinished > 0 {
                    fail(
                        inv,
                        format!("drained: {}, checkpoints left unfinished: {}", m.drained, m.checkpoints.unfinished),
                    );
                }
            }
        }
    }
    out
}
