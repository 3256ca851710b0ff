//! The named invariants checked on every generated case (STYLE: invariants have names).

use crate::engine::{self, RunOptions, RunResult};
use crate::protocol::Protocol;
use crate::scenario::Scenario;
use crate::verify::Oracle;
use std::fmt;

/// A named invariant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Invariant {
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
}

impl Invariant {
    /// Every invariant.
    pub const ALL: [Invariant; 6] = [
        Invariant::ExactlyOnce,
        Invariant::ConsistentCut,
        Invariant::Deterministic,
        Invariant::CheckpointsProgress,
        Invariant::BoundedBuffers,
        Invariant::NoDeadlock,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::ExactlyOnce => "exactly_once",
            Invariant::ConsistentCut => "consistent_cut",
            Invariant::Deterministic => "deterministic",
            Invariant::CheckpointsProgress => "checkpoints_progress",
            Invariant::BoundedBuffers => "bounded_buffers",
            Invariant::NoDeadlock => "no_deadlock",
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

fn run(s: &Scenario, p: Option<Box<dyn Protocol>>) -> RunResult {
    engine::run_with_protocol(s, RunOptions { collect_output: true, trace: None, ..Default::default() }, p)
        .expect("no trace file: no I/O")
}

/// Checks `which` invariants on `s`; `make` builds a fresh protocol instance per run.
pub fn check(s: &Scenario, make: &dyn Fn() -> Option<Box<dyn Protocol>>, which: &[Invariant]) -> Vec<Violation> {
    let r = run(s, make());
    let m = &r.summary;
    let mut out = Vec::new();
    let mut fail = |invariant: Invariant, message: String| out.push(Violation { invariant, message });
    for &inv in which {
        match inv {
            Invariant::ExactlyOnce => {
                let eo = Oracle::reference(s).check(&r);
                if let Some(why) = eo.not_checked {
                    fail(inv, format!("cannot be judged: {why}"));
                } else if eo.violations > 0 {
                    fail(
                        inv,
                        format!(
                            "{} missing, {} duplicated, {} keys wrong; first: {}",
                            eo.missing,
                            eo.duplicated,
                            eo.state_mismatches,
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
                let again = run(s, make()).summary.trace_hash;
                if again != m.trace_hash {
                    fail(inv, format!("trace hash {} then {again}", m.trace_hash));
                }
            }
            Invariant::CheckpointsProgress => {
                // A checkpoint overtaken by a newer completed one (subsumed) counts as progress.
                let c = &m.checkpoints;
                if s.failures.is_empty()
                    && s.checkpointing.is_some()
                    && (c.completed == 0 || c.completed + c.subsumed != c.triggered)
                {
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
