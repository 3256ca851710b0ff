//! Uncoordinated checkpointing carried out ([`crate::protocol::ProtocolName::UNCOORDINATED`]):
//! every operator chain takes local checkpoints on its own timer, at a phase of its own; there is
//! no coordinator and no barrier. After every local checkpoint of a sink the engine searches the *current
//! recovery line* — where the job would restart if every task failed now — and commits each sink's
//! output up to its checkpoint on that line (nothing below it can ever be rolled back); older
//! checkpoints are then of no use and are dropped. A failure restarts the job from that line,
//! which the consistent-cut checker checks like any completed checkpoint.
//!
//! Local checkpoints are taken at once: no synchronous pause and no upload are modelled (the
//! point of the protocol is where it restarts, not what a checkpoint costs).

use super::{Engine, Event, Mail, State};
use crate::coordinator::{Completed, Pending, TaskSnapshot};
use crate::graph::{ChannelId, TaskId};
use crate::metrics::{RecoveryLine, UncoordinatedSummary};
use crate::protocol::{CheckpointId, CheckpointTiming};
use crate::sim::{SimTime, ns_to_ms};
use crate::trace::TraceEvent;
use crate::verify::uncoordinated::{LineStep, LineTrace};

/// The local checkpoints and what became of them.
pub(super) struct Local {
    /// Each task's timer period, and its phase (shared by its operator chain).
    interval: SimTime,
    phase: Vec<SimTime>,
    /// The next local checkpoint's id (ids grow over all tasks, so a sink commits in order).
    next_id: CheckpointId,
    /// Per task, its local checkpoints since its base (the line it last restarted from, or its
    /// start), oldest first; the base is never dropped.
    ckpts: Vec<Vec<(CheckpointId, TaskSnapshot)>>,
    /// Sinks' local checkpoints since the line was last sought, and how many to wait for: the
    /// search walks back through every checkpoint the line has not passed (the domino effect
    /// makes that the whole run), so while the line does not move it is sought after 1, 2, 4, …
    /// of them — commits wait at most twice as long as they must.
    since_search: u32,
    search_gap: u32,
    /// What `summary.json` reports.
    pub(super) summary: UncoordinatedSummary,
    /// Recovery lines checked by the cut checker, and the violations found.
    pub(super) checked: usize,
    pub(super) violations: Vec<crate::verify::CutViolation>,
    /// Every restart's line with its rollbacks, for `explain`.
    pub(super) traces: Vec<LineTrace>,
}

impl Local {
    /// Local checkpoints every `interval`, at the phases of `verify::uncoordinated`.
    pub(super) fn new(g: &crate::graph::Graph, interval: SimTime, seed: u64) -> Self {
        let phase = crate::verify::uncoordinated::phases(g, interval, seed);
        Local {
            interval,
            phase,
            since_search: 0,
            search_gap: 1,
            next_id: 1,
            ckpts: vec![Vec::new(); g.tasks.len()],
            summary: UncoordinatedSummary::default(),
            checked: 0,
            violations: Vec::new(),
            traces: Vec::new(),
        }
    }

    /// The first timer of `task` after `now`.
    fn next_time(&self, task: TaskId, now: SimTime) -> SimTime {
        let (p, i) = (self.phase[task.0 as usize], self.interval.max(1));
        if now < p { p } else { p + ((now - p) / i + 1) * i }
    }
}

impl Engine<'_> {
    /// Every task's base (its initial state) and first timer.
    pub(super) fn start_local_checkpoints(&mut self) {
        for t in 0..self.tasks.len() {
            let task = TaskId(t as u32);
            let snap = self.capture(task, 0);
            let local = self.local.as_mut().expect("uncoordinated");
            local.ckpts[t].push((0, snap));
            let at = local.next_time(task, self.now);
            self.queue.push(at, Event::LocalCheckpoint(task));
        }
    }

    /// A task's timer: the checkpoint waits in its mailbox for the end of the record in hand.
    pub(super) fn on_local_timer(&mut self, task: TaskId) {
        if matches!(self.tasks[task.0 as usize].state, State::Finished | State::Down) {
            return;
        }
        let local = self.local.as_ref().expect("uncoordinated");
        let next = local.next_time(task, self.now);
        self.queue.push(next, Event::LocalCheckpoint(task));
        self.mail(task, Mail::LocalCheckpoint);
    }

    /// Takes a local checkpoint of `task` (also when it finishes: its final state), then moves
    /// the current recovery line as far as it goes and commits what is below it.
    pub(super) fn local_checkpoint(&mut self, task: TaskId) {
        let Some(local) = &mut self.local else { return };
        let id = local.next_id;
        local.next_id += 1;
        let snap = self.capture(task, id);
        self.tracer.record(self.now, TraceEvent::Snapshot { task, cp: id }, &self.graph);
        let local = self.local.as_mut().expect("checked");
        local.ckpts[task.0 as usize].push((id, snap));
        local.summary.local_checkpoints += 1;
        // The line matters for what the sinks may commit: it is sought when a sink checkpoints
        // (and when a task finishes: the last one's final checkpoint ends the job's line).
        let t = &self.tasks[task.0 as usize];
        let finished = t.state == State::Finished;
        if t.sink.is_some() {
            local.since_search += 1;
        }
        if finished || local.since_search >= local.search_gap {
            local.since_search = 0;
            let moved = self.advance_line();
            let local = self.local.as_mut().expect("checked");
            local.search_gap = if moved { 1 } else { (local.search_gap * 2).min(1 << 20) };
        }
    }

    /// The recovery line of everyone's latest local checkpoints (its rollbacks noted in `steps`).
    fn search_line(&self, steps: Option<&mut Vec<LineStep>>) -> (Vec<usize>, usize) {
        let local = self.local.as_ref().expect("uncoordinated");
        let ck = &local.ckpts;
        let latest = ck.iter().map(|c| c.len() - 1).collect();
        // Its own snapshots list their channels in the graph's order: indexed, not searched.
        let g = &self.graph;
        let sent = |t: usize, k: usize, ch: ChannelId| ck[t][k].1.sent[g.at_sender[ch.0 as usize] as usize].1;
        let taken = |t: usize, k: usize, ch: ChannelId| ck[t][k].1.consumed[g.at_receiver[ch.0 as usize] as usize].1;
        let sloppy = self.sabotage.line_ignores_in_flight;
        crate::verify::uncoordinated::recovery_line(&self.graph, sent, taken, latest, sloppy, steps)
    }

    /// The line as a checkpoint: every task's snapshot on it, and no channel state (the line has
    /// nothing in flight). The cut checker checks it.
    fn line_checkpoint(&mut self, line: &[usize]) -> Completed {
        let local = self.local.as_ref().expect("uncoordinated");
        let n = self.graph.channels.len();
        // Numbered 1, 2, … in the order checked, as the cut checker's messages name them.
        let timing = CheckpointTiming { id: local.checked as CheckpointId + 1, trigger: self.now, deadline: None };
        let mut p = Pending::new(timing, self.tasks.len(), n);
        for (t, &k) in line.iter().enumerate() {
            p.tasks[t].snapshot = Some(local.ckpts[t][k].1.clone());
        }
        let violations = crate::verify::check_cut(&self.graph, &p);
        let local = self.local.as_mut().expect("uncoordinated");
        local.checked += 1;
        local.violations.extend(violations);
        Completed {
            id: 0,
            tasks: p.tasks.into_iter().map(|t| t.snapshot.expect("set above")).collect(),
            channel_state: vec![Vec::new(); n],
        }
    }

    /// Moves the current recovery line: where it advanced, each sink commits what its checkpoint
    /// on the line pre-committed, and every task drops the checkpoints below its own. Returns
    /// whether it moved.
    fn advance_line(&mut self) -> bool {
        let (line, _) = self.search_line(None);
        let moved: Vec<usize> = (0..line.len()).filter(|&t| line[t] > 0).collect();
        if moved.is_empty() {
            return false;
        }
        self.line_checkpoint(&line);
        let local = self.local.as_mut().expect("uncoordinated");
        let mut commits = Vec::new();
        for &t in &moved {
            let k = line[t];
            local.ckpts[t].drain(..k);
            let id = local.ckpts[t][0].0;
            commits.push((TaskId(t as u32), id));
        }
        for (task, id) in commits {
            // Below the line nothing can be rolled back: as final as a completed checkpoint.
            self.completed_cps.insert(id);
            if self.tasks[task.0 as usize].sink.is_some() {
                self.commit_sink(task, id);
            }
        }
        true
    }

    /// A failure: the job restarts from the current recovery line (global failover). Returns it
    /// as the checkpoint to restore, and notes how far each task went back.
    pub(super) fn recovery_line_to_restore(&mut self, failed_at: SimTime) -> Option<Completed> {
        self.local.as_ref()?;
        let mut steps = Vec::new();
        let (line, forced) = self.search_line(Some(&mut steps));
        let cp = self.line_checkpoint(&line);
        let local = self.local.as_mut().expect("checked");
        // The narration's copy, with checkpoint times for indices.
        let time = |t: usize, k: u64| local.ckpts[t][k as usize].1.at;
        for s in &mut steps {
            let node = self.graph.channel(s.ch);
            let (t, peer) = (s.task.0 as usize, if s.orphan { node.from } else { node.to });
            (s.from, s.to, s.peer) = (time(t, s.from), time(t, s.to), time(peer.0 as usize, s.peer));
        }
        let latest = local.ckpts.iter().map(|c| c.last().expect("a base").1.at).collect();
        let at_line = line.iter().enumerate().map(|(t, &k)| local.ckpts[t][k].1.at).collect();
        local.traces.push(LineTrace { failed_at, latest, line: at_line, steps });
        let mut row = RecoveryLine { failed_at_ms: ns_to_ms(failed_at), forced, ..Default::default() };
        for (t, ck) in local.ckpts.iter_mut().enumerate() {
            let k = line[t];
            let back = failed_at.saturating_sub(ck[k].1.at);
            row.max_rollback_ms = row.max_rollback_ms.max(ns_to_ms(back));
            row.useless_checkpoints += ck.len() - 1 - k;
            if ck[k].1.at == 0 && ck.len() > 1 {
                row.tasks_to_start += 1;
            }
            if k + 1 < ck.len() {
                row.tasks_rolled_back += 1;
            }
            // The line is the new base: nothing goes further back than a restart.
            ck.truncate(k + 1);
            ck.drain(..k);
        }
        local.summary.recoveries.push(row);
        Some(cp)
    }

    /// After a restart: every task's timer again.
    pub(super) fn rearm_local_checkpoints(&mut self) {
        let Some(local) = &self.local else { return };
        let times: Vec<SimTime> = (0..self.tasks.len()).map(|t| local.next_time(TaskId(t as u32), self.now)).collect();
        self.queue.retain(|e| !matches!(e, Event::LocalCheckpoint(_)));
        for (t, at) in times.into_iter().enumerate() {
            self.queue.push(at, Event::LocalCheckpoint(TaskId(t as u32)));
        }
    }
}
