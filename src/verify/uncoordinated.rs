//! Uncoordinated checkpointing, and the domino effect. Every task checkpoints on its own timer —
//! no barriers, no coordinator, no channel state — and a failure must then find a *recovery
//! line*: one local checkpoint per task (or its current state, for a task that did not fail, or
//! its initial state) that makes a consistent cut. On each channel `u → v` the receiver must not
//! have taken a record the sender has not written at its checkpoint (an orphan: roll `v` back);
//! and since nothing recorded the records in flight, the sender must not have written records
//! the receiver has not taken (they would be lost: roll `u` back so that it writes them again).
//! Each rollback can force another, possibly all the way to the start — the domino effect.
//!
//! Sender-based message logging (Johnson and Zwaenepoel 1987) bounds it: senders keep what they
//! wrote, so a recovering task is fed again from its senders' logs and, running deterministically
//! (the simulator does), reaches its state before the failure and writes the same records again
//! — no other task rolls back, and the failed one re-executes at most one checkpoint interval.
//!
//! This is an analysis of a run, not a recovery the engine carries out: the run (with
//! [`crate::engine::RunOptions::observe_counters`]) gives every channel's counters over time, the
//! local checkpoints are read off them, and [`analyse`] computes the recovery line for a failure
//! of one task at one moment. Assumptions: sources read replayable logs (they can start again
//! from any offset, so a channel out of a source forces nothing), and a task's checkpoint holds
//! the counters of the last observation at or before it (observe finely).

use crate::engine::RunResult;
use crate::graph::{ChannelId, Graph, TaskId};
use crate::scenario::OperatorKind;
use crate::sim::SimTime;

/// What the analysis needs besides the run.
#[derive(Clone, Copy, Debug)]
pub struct Uncoordinated {
    /// Each task's checkpoint interval; every operator chain checkpoints at its own phase in
    /// `0..interval` (the tasks of one chain share a thread, hence a timer).
    pub interval: SimTime,
    /// Seeds the phases.
    pub seed: u64,
    /// The task that fails.
    pub failed: TaskId,
    /// When.
    pub at: SimTime,
    /// Sender-based message logging.
    pub logging: bool,
}

/// One task's part of the recovery.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollback {
    /// The task.
    pub task: String,
    /// Where it resumes: a local checkpoint's time, 0 for its initial state, or the failure
    /// time itself for a task that keeps its current state.
    pub resumes_at: SimTime,
    /// How far it went back (`at − resumes_at`).
    pub distance: SimTime,
    /// Records it takes again (a source: records it writes again).
    pub reprocessed: u64,
    /// Its local checkpoints after the one it resumes from (taken, and of no use here).
    pub discarded: usize,
}

/// The recovery line of a failure, task by task.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    /// One row per task, in task order.
    pub rows: Vec<Rollback>,
    /// Rollbacks the search forced, one task at a time, after the failed task's own.
    pub forced: usize,
}

impl Analysis {
    /// Tasks that went back to their initial state.
    pub fn to_start(&self) -> usize {
        self.rows.iter().filter(|r| r.resumes_at == 0 && r.distance > 0).count()
    }
}

/// Each task's timer phase in `0..interval`: one per operator chain (one thread, one timer),
/// drawn from `seed`.
pub fn phases(g: &Graph, interval: SimTime, seed: u64) -> Vec<SimTime> {
    let mut phase = vec![0; g.tasks.len()];
    for (k, chain) in g.chains().iter().enumerate() {
        let p = crate::sim::mix64(seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) % interval.max(1);
        for t in chain {
            phase[t.0 as usize] = p;
        }
    }
    phase
}

/// Each task's local checkpoint times up to `until`, its chain's phase first.
pub fn checkpoint_times(g: &Graph, u: &Uncoordinated, until: SimTime) -> Vec<Vec<SimTime>> {
    phases(g, u.interval, u.seed)
        .iter()
        .map(|&p| (0..).map(|k| p + k * u.interval).take_while(|&t| t <= until).filter(|&t| t > 0).collect())
        .collect()
}

/// The recovery line for `u.failed` failing at `u.at` in run `r` (observed with
/// [`crate::engine::RunOptions::observe_counters`]).
pub fn analyse(g: &Graph, r: &RunResult, u: &Uncoordinated) -> Result<Analysis, String> {
    if r.counters.is_empty() {
        return Err("the run observed no counters (RunOptions::observe_counters)".into());
    }
    // Counters at time t: the last observation at or before it (before the first: nothing).
    let at_time = |t: SimTime| -> Option<&Vec<(u64, u64)>> {
        let i = r.counters.partition_point(|(x, _)| *x <= t);
        (i > 0).then(|| &r.counters[i - 1].1)
    };
    let sent = |ch: ChannelId, t: SimTime| at_time(t).map_or(0, |c| c[ch.0 as usize].0);
    let taken = |ch: ChannelId, t: SimTime| at_time(t).map_or(0, |c| c[ch.0 as usize].1);
    let times = checkpoint_times(g, u, u.at);
    // Where each task resumes: the failed one — with the rest of its operator chain, which is
    // one thread — from its last checkpoint, the others as they are.
    let mut cut: Vec<SimTime> = vec![u.at; g.tasks.len()];
    // The operator chain of each task (one thread: one state, one cut).
    let chains = g.chains();
    let mut chain_of: Vec<usize> = vec![0; g.tasks.len()];
    for (k, c) in chains.iter().enumerate() {
        for t in c {
            chain_of[t.0 as usize] = k;
        }
    }
    for t in &chains[chain_of[u.failed.0 as usize]] {
        let i = t.0 as usize;
        cut[i] = times[i].last().copied().unwrap_or(0);
    }
    // The latest of `task`'s checkpoints (or its start) at or before `cut`, where `ok` holds.
    let back = |task: usize, cut: SimTime, ok: &dyn Fn(SimTime) -> bool| -> SimTime {
        times[task].iter().rev().copied().filter(|&t| t <= cut).find(|&t| ok(t)).unwrap_or(0)
    };
    let mut forced = 0;
    if !u.logging {
        loop {
            let mut changed = false;
            for (c, node) in g.channels.iter().enumerate() {
                let ch = ChannelId(c as u32);
                let (from, to) = (node.from.0 as usize, node.to.0 as usize);
                if g.operators[g.tasks[from].op].kind == OperatorKind::Source {
                    continue; // a replayable log: the source writes again from any offset
                }
                let (s, t) = (sent(ch, cut[from]), taken(ch, cut[to]));
                if t > s {
                    // An orphan: the receiver goes back to before it took what is unsent.
                    cut[to] = back(to, cut[to], &|x| taken(ch, x) <= s);
                } else if s > t {
                    // Records in flight that nothing recorded: the sender writes them again.
                    cut[from] = back(from, cut[from], &|x| sent(ch, x) <= t);
                } else {
                    continue;
                }
                // The whole chain goes back with the task that had to.
                for k in [chain_of[from], chain_of[to]] {
                    let lowest = chains[k].iter().map(|t| cut[t.0 as usize]).min().unwrap_or(0);
                    for t in &chains[k] {
                        cut[t.0 as usize] = lowest;
                    }
                }
                forced += 1;
                changed = true;
            }
            if !changed {
                break;
            }
        }
    }
    let rows = g
        .tasks
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let inputs = node.input_gates.iter().flatten();
            let mut reprocessed: u64 = inputs.map(|&ch| taken(ch, u.at) - taken(ch, cut[i])).sum();
            if g.operators[node.op].kind == OperatorKind::Source {
                reprocessed = node.outputs.iter().flatten().map(|&ch| sent(ch, u.at) - sent(ch, cut[i])).sum();
            }
            Rollback {
                task: node.name.clone(),
                resumes_at: cut[i],
                distance: u.at - cut[i],
                reprocessed,
                discarded: times[i].iter().filter(|&&t| t > cut[i]).count(),
            }
        })
        .collect();
    Ok(Analysis { rows, forced })
}

/// One rollback a recovery line search forced, for narration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineStep {
    /// The channel that disagreed.
    pub ch: ChannelId,
    /// The task that went back: the receiver for an orphan, the sender for records in flight.
    pub task: TaskId,
    /// An orphan (the receiver took more than the sender had written), or records in flight
    /// that nothing recorded.
    pub orphan: bool,
    /// Records the sender had written at its checkpoint.
    pub sent: u64,
    /// Records the receiver had taken at its own.
    pub taken: u64,
    /// The task's checkpoint before: an index in the search, a time (ns) in a [`LineTrace`].
    pub from: u64,
    /// Its checkpoint after, likewise.
    pub to: u64,
    /// The other end's checkpoint, likewise.
    pub peer: u64,
}

/// A restart's recovery line under the `uncoordinated` protocol, for narration.
#[derive(Clone, Debug, Default)]
pub struct LineTrace {
    /// When the job failed.
    pub failed_at: SimTime,
    /// Per task, the time of its latest local checkpoint, where the search starts.
    pub latest: Vec<SimTime>,
    /// Per task, the time of its checkpoint on the line (0: its start).
    pub line: Vec<SimTime>,
    /// The rollbacks, in order, with `from` and `to` as checkpoint times in ns.
    pub steps: Vec<LineStep>,
}

/// The recovery line over local checkpoints, as the engine searches it at a failure (and, for
/// output commits, after every local checkpoint): task `t`'s checkpoints are numbered `0..` oldest
/// first — 0 is where it started, whose counters agree with every neighbour's 0 — and `sent(t, k,
/// ch)` / `taken(t, k, ch)` are its counters at checkpoint `k`. Starting from `at`, a receiver
/// that took a record its sender had not written at its checkpoint goes back (an orphan), and a
/// sender that wrote a record its receiver had not taken goes back (nothing recorded it), until
/// every channel agrees. Counters never decrease from one checkpoint to the next, so each
/// rollback is a binary search. Returns the checkpoint per task and the rollbacks forced.
/// `ignore_in_flight` is a mutant's mistake: it rolls back only for orphans, as if the records in
/// flight at the line were recorded somewhere. Each rollback is appended to `steps`.
pub fn recovery_line(
    g: &Graph,
    sent: impl Fn(usize, usize, ChannelId) -> u64,
    taken: impl Fn(usize, usize, ChannelId) -> u64,
    mut at: Vec<usize>,
    ignore_in_flight: bool,
    mut steps: Option<&mut Vec<LineStep>>,
) -> (Vec<usize>, usize) {
    // A worklist of channels to check: all at first, then those of a task that went back.
    let mut todo: std::collections::VecDeque<usize> = (0..g.channels.len()).collect();
    let mut queued = vec![true; g.channels.len()];
    let mut forced = 0;
    // The latest checkpoint below `k` whose counter is at most `bound` (checkpoint 0's is).
    let latest = |k: usize, bound: u64, counter: &dyn Fn(usize) -> u64| {
        let (mut lo, mut hi) = (0, k);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if counter(mid) <= bound { lo = mid } else { hi = mid }
        }
        lo
    };
    while let Some(c) = todo.pop_front() {
        queued[c] = false;
        let ch = ChannelId(c as u32);
        let node = &g.channels[c];
        let (from, to) = (node.from.0 as usize, node.to.0 as usize);
        let (s, t) = (sent(from, at[from], ch), taken(to, at[to], ch));
        let (moved, orphan) = if t > s {
            (to, true)
        } else if s > t && !ignore_in_flight {
            (from, false)
        } else {
            continue;
        };
        let (was, peer) = (at[moved], at[if orphan { from } else { to }]);
        at[moved] =
            if orphan { latest(at[to], s, &|k| taken(to, k, ch)) } else { latest(at[from], t, &|k| sent(from, k, ch)) };
        if let Some(steps) = steps.as_deref_mut() {
            let (from, to, peer) = (was as u64, at[moved] as u64, peer as u64);
            steps.push(LineStep { ch, task: TaskId(moved as u32), orphan, sent: s, taken: t, from, to, peer });
        }
        forced += 1;
        let task = &g.tasks[moved];
        for &c in task.input_gates.iter().flatten().chain(task.outputs.iter().flatten()) {
            if !queued[c.0 as usize] {
                queued[c.0 as usize] = true;
                todo.push_back(c.0 as usize);
            }
        }
    }
    (at, forced)
}
