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
    /// Stopped with a savepoint halfway and resumed from it with the keyed operators rescaled,
    /// both parts are exactly once on their share of the log and their checkpoints are consistent
    /// cuts (checked on one scenario in four: it takes four more runs).
    SavepointRestore,
}

impl Invariant {
    /// Every invariant.
    pub const ALL: [Invariant; 9] = [
        Invariant::Runnable,
        Invariant::ExactlyOnce,
        Invariant::ConsistentCut,
        Invariant::Deterministic,
        Invariant::CheckpointsProgress,
        Invariant::BoundedBuffers,
        Invariant::NoDeadlock,
        Invariant::CommitAfterCompletion,
        Invariant::SavepointRestore,
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
            Invariant::SavepointRestore => "savepoint_restore",
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
    // The independent model judges every run; exploration leaves out the failure-free engine
    // run that cross-checks it (the model alone still sees an engine bug every run shares, as
    // records missing or wrong), and the verdict lists that cross-check as not checked.
    let oracle = which.contains(&Invariant::ExactlyOnce).then(|| Oracle::model_only(s));
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
                if let Some(u) = &m.uncoordinated {
                    // No global checkpoints: every task takes local ones, and the job's end is a
                    // recovery line that commits the output.
                    if u.local_checkpoints == 0 || m.consistent_cut.checked == 0 {
                        fail(
                            inv,
                            format!(
                                "{} local checkpoints, {} recovery lines",
                                u.local_checkpoints, m.consistent_cut.checked
                            ),
                        );
                    }
                } else if s.failures.is_empty() && s.checkpointing.is_some() && (c.completed == 0 || stalled) {
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
            Invariant::SavepointRestore => {
                // One seed in four (two more jobs each); savepoints need FIFO channels and a job
                // without iterations.
                if s.seed % 4 == 1
                    && s.network.reorder_us == 0
                    && s.checkpointing.as_ref().is_some_and(|c| c.mode.info().coordinated)
                    && !s.topology.edges.iter().any(|e| e.back_edge)
                    && let Err(why) = savepoint_restore(s, &r.crashes_ms, make, sabotage)
                {
                    fail(inv, why);
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

/// When the savepoint check stops or cancels the scenario of `seed` (ms), given the time halfway
/// through its shortest source log and when tasks crashed in its checked run: halfway, or, one
/// time in four when something crashed, within 4 ms of one of those crashes, where a stop and a
/// failover interleave (the stop waiting for its slot, the savepoint running, the job
/// restarting; a cancellation during a restart). The run with the stop is the checked run up to
/// the stop, so a crash before it happens there too. The one in four is two bits of the seed
/// that no pinned regression file's seed has both of, so each keeps the stop it failed with.
fn stop_ms(seed: u64, half_ms: u64, crashes_ms: &[f64]) -> u64 {
    if (seed >> 14) & 1 == 1 && (seed >> 20) & 1 == 1 && !crashes_ms.is_empty() {
        let crash = crashes_ms[((seed >> 15) % crashes_ms.len() as u64) as usize] as u64;
        (crash + (seed >> 16) % 9).saturating_sub(4).max(1)
    } else {
        half_ms
    }
}

/// Stops `s` with a savepoint (at [`stop_ms`], given the crashes of its checked run), resumes it
/// with every keyed operator that has no forward edge rescaled, and judges both parts; `Err`
/// says what failed.
fn savepoint_restore(
    s: &Scenario,
    crashes_ms: &[f64],
    make: &dyn Fn() -> Option<Box<dyn Protocol>>,
    sabotage: Sabotage,
) -> Result<(), String> {
    use crate::scenario::{OperatorKind, Partitioner};
    use crate::state::savepoint::{Restore, SavepointFormat};
    if s.checkpointing.is_none() {
        return Ok(());
    }
    // Halfway through the shortest source log.
    let half_ms = s
        .topology
        .operators
        .iter()
        .filter(|o| o.kind == OperatorKind::Source)
        .filter_map(|o| Some(o.records_per_partition? * 1000 / o.arrival?.base_rate_per_sec() / 2))
        .min()
        .unwrap_or(1)
        .max(1);
    // Which path is a function of the seed's bits, chosen so that the pinned regression files
    // (found before retained checkpoints existed) keep taking the savepoint path they failed on.
    let sp = if (s.seed >> 12) & 1 == 1 {
        // A retained checkpoint instead: the job is cancelled halfway and keeps its latest
        // completed checkpoint — in-flight data and pending transactions included. The cancelled
        // part is not judged (its output is partial by design).
        let mut c = s.clone();
        c.limits.cancel_at_ms = Some(stop_ms(s.seed, half_ms, crashes_ms));
        if let Some(k) = &mut c.checkpointing {
            k.retention = crate::scenario::Retention::RetainOnCancellation;
        }
        let opts = RunOptions { collect_output: true, sabotage, ..Default::default() };
        let first = engine::run_with_protocol(&c, opts, make()).map_err(|e| format!("cancelling: {e}"))?;
        if first.summary.consistent_cut.violations > 0 {
            return Err(format!(
                "before the cancellation: {}",
                first.summary.consistent_cut.first_violation.clone().unwrap_or_default()
            ));
        }
        match first.retained {
            Some(chk) => chk,
            None => return Ok(()),
        }
    } else {
        let stop = crate::engine::StopWithSavepoint {
            at: stop_ms(s.seed, half_ms, crashes_ms) * crate::sim::MS,
            drain: s.seed % 8 == 5,
            format: if s.seed.is_multiple_of(3) { SavepointFormat::Native } else { SavepointFormat::Canonical },
        };
        let opts = RunOptions { collect_output: true, sabotage, stop_with_savepoint: Some(stop), ..Default::default() };
        let first = engine::run_with_protocol(s, opts, make()).map_err(|e| format!("stopping: {e}"))?;
        let oracle = Oracle::model_only(s);
        let Some(sp) = first.savepoint.clone() else {
            // The savepoint failed (a crash during it) or came after the end of input: the job
            // ran on, and is judged whole.
            let eo = oracle.check(&first);
            return if eo.violations > 0 {
                Err(format!("the savepoint failed and the job ran on, but: {}", eo.first_violation.unwrap_or_default()))
            } else {
                Ok(())
            };
        };
        let eo = oracle.until(s, sp.source_offsets()).check(&first);
        if eo.violations > 0 || first.summary.consistent_cut.violations > 0 {
            return Err(format!(
                "before the savepoint: {}{}",
                eo.first_violation.unwrap_or_default(),
                first.summary.consistent_cut.first_violation.clone().unwrap_or_default()
            ));
        }
        sp
    };
    // The resumed job: every keyed operator without a forward edge, or a broadcast one into
    // it (replicated state), gets another parallelism.
    let mut s2 = s.clone();
    for (i, op) in s2.topology.operators.iter_mut().enumerate() {
        let pinned = s.topology.edges.iter().any(|e| {
            (e.from == op.id || e.to == op.id) && e.partitioner == Partitioner::Forward
                || e.to == op.id && e.partitioner == Partitioner::Broadcast
        });
        if op.kind == OperatorKind::KeyedSum && !pinned {
            op.parallelism = 1 + ((s.seed / 4 + i as u64) % 5) as u32;
            let p = op.parallelism;
            op.task_costs.retain(|t, _| t.parse::<u32>().is_ok_and(|t| t < p));
        }
    }
    // Crashes of tasks that the rescale removed are dropped.
    let graph = crate::graph::Graph::build(&s2);
    s2.failures.retain(|f| f.task.as_ref().is_none_or(|t| graph.find_task(t).is_some()));
    Restore::adopt_max_parallelism(&sp, &mut s2);
    s2.validate().map_err(|e| format!("the rescaled scenario does not validate: {e}"))?;
    let plan = Restore::plan(&sp, &s2, false).map_err(|e| format!("restoring: {e}"))?;
    let opts = RunOptions { collect_output: true, sabotage, restore: Some(plan.clone()), ..Default::default() };
    let second = engine::run_with_protocol(&s2, opts, make()).map_err(|e| format!("resuming: {e}"))?;
    let eo = Oracle::model_only(&s2)
        .from(plan.from_offsets.clone(), plan.new_operators.clone())
        .carrying(plan.carried_counts(&s2))
        .check(&second);
    if eo.violations > 0 || second.summary.consistent_cut.violations > 0 {
        return Err(format!(
            "after the restore ({}): {}{}",
            plan.notes.join("; "),
            eo.first_violation.unwrap_or_default(),
            second.summary.consistent_cut.first_violation.clone().unwrap_or_default()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_savepoint_stop_in_four_lands_near_a_crash() {
        // (seed >> 15) picks the crash, (seed >> 16) % 9 the offset from −4 to +4 ms: here the
        // first of two crashes (36 is even), 4 ms before it (18 % 9 = 0).
        let near = (1 << 20) | (1 << 17) | (1 << 14);
        assert_eq!(stop_ms(near, 7, &[50.6, 80.0]), 46);
        // The second crash (35 is odd), 4 ms after it (17 % 9 = 8).
        let second = (1 << 20) | (1 << 16) | (1 << 15) | (1 << 14);
        assert_eq!(stop_ms(second, 7, &[50.0, 80.2]), 84);
        // Never before 1 ms.
        assert_eq!(stop_ms(near, 7, &[2.0]), 1);
        // Without both bits, or when nothing crashed: halfway.
        assert_eq!(stop_ms(1 << 20, 7, &[50.0]), 7);
        assert_eq!(stop_ms(1 << 14, 7, &[50.0]), 7);
        assert_eq!(stop_ms(near, 7, &[]), 7);
    }
}
