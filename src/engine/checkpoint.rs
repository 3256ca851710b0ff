//! The engine's checkpointing: the coordinator's triggers and timers, barriers reaching tasks,
//! snapshots with their channel state, the storage model (synchronous part, then upload, then
//! ack), completion with the consistent-cut check, aborts, and the aligned-checkpoint deadline.
//!
//! The protocol decides (through [`Action`]s); this file carries the decisions out. The channel
//! state it records is checked by `verify::cut` against the network's counters.

use super::{Engine, Event, Mail, State, Upload};
use crate::coordinator::{CoordCmd, CoordinatorConfig, Ended, JobState, Outcome, Pending, TaskSnapshot};
use crate::graph::{ChannelId, TaskId};
use crate::net::{Arrival, Element};
use crate::protocol::SourceMode;
use crate::protocol::{Action, BarrierPath, CheckpointId, CheckpointTiming, TaskView};
use crate::sim::{MS, SimTime};
use crate::trace::TraceEvent;

impl Engine<'_> {
    fn view(&self, task: TaskId, cp: CheckpointId) -> TaskView {
        let t = &self.tasks[task.0 as usize];
        let snapshotted = self
            .coord
            .as_ref()
            .and_then(|c| c.pending(cp))
            .is_some_and(|p| p.tasks[task.0 as usize].snapshot.is_some());
        let (inputs, ended) = t.outside_inputs();
        TaskView { task, inputs, ended, snapshotted }
    }

    fn pending(&self, cp: CheckpointId) -> Option<&Pending> {
        self.coord.as_ref()?.pending(cp)
    }

    fn pending_mut(&mut self, cp: CheckpointId) -> Option<&mut Pending> {
        self.coord.as_mut()?.pending_mut(cp)
    }

    fn pending_ids(&self) -> Vec<CheckpointId> {
        self.coord.as_ref().map_or(Vec::new(), |c| c.pending_ids())
    }

    pub(super) fn sources_running(&self) -> bool {
        self.tasks.iter().any(|t| t.source.is_some() && t.state != State::Finished)
    }

    // ---- the coordinator's commands ----------------------------------------------------------

    /// Carries out the coordinator's commands, in order. A failover it asks for comes last,
    /// once the checkpoint that caused it has been released.
    pub(super) fn exec(&mut self, cmds: Vec<CoordCmd>) {
        let mut failover = None;
        for cmd in cmds {
            match cmd {
                CoordCmd::ScheduleTick(at) => self.queue.push(at, Event::Tick),
                CoordCmd::Trigger { timing, timeout_at, is_final } => {
                    if is_final {
                        self.final_cp = Some(timing.id);
                        self.final_checkpoint_triggered(timing.id);
                    }
                    self.trigger(timing, timeout_at)
                }
                CoordCmd::Ended(e) => self.checkpoint_ended(*e),
                CoordCmd::Release { cp, completed, notify_aborted } => self.release(cp, completed, notify_aborted),
                CoordCmd::FailJob(why) => failover = Some(why),
                CoordCmd::WriteMetadata(cp) => {
                    let latency = self.coord.as_ref().expect("a coordinator sent it").cfg().write_latency;
                    self.queue.push(self.now + latency, Event::Metadata(cp));
                }
            }
        }
        if let Some(why) = failover {
            self.fail(super::recovery::Cause::Checkpoints(why));
        }
    }

    /// The coordinator's trigger timer.
    pub(super) fn on_tick(&mut self) {
        let stopping = self.stop.waiting && self.stop.request.is_some_and(|r| !r.drain);
        let job = JobState { sources_running: self.sources_running(), all_finished: self.job_done(), stopping };
        let Some(c) = &mut self.coord else { return };
        let cmds = c.on_tick(self.now, job);
        self.exec(cmds);
    }

    /// Checkpoint `timing.id` starts: its timers, the trigger RPC to every source, and the final
    /// state of every finished task.
    fn trigger(&mut self, timing: CheckpointTiming, timeout_at: SimTime) {
        let (now, id) = (self.now, timing.id);
        let latency = self.net.config().latency;
        self.queue.push(timeout_at, Event::Timeout(id));
        if let Some(d) = timing.deadline {
            self.queue.push(d, Event::Deadline(id));
        }
        self.tracer.record(now, TraceEvent::Triggered { cp: id }, &self.graph);
        for t in 0..self.tasks.len() {
            let task = TaskId(t as u32);
            if self.tasks[t].state == State::Finished {
                // FLIP-147: a finished task's state is final; it is part of the checkpoint as is.
                self.snapshot(task, id, false);
            } else if self.tasks[t].source.is_some() {
                self.queue.push(now + latency, Event::TriggerArrive(task, id));
            }
        }
    }

    pub(super) fn on_ack(&mut self, task: TaskId, cp: CheckpointId) {
        let now = self.now;
        let cmds = match &mut self.coord {
            Some(c) if c.pending(cp).is_some() => c.on_ack(now, task, cp),
            _ => return,
        };
        self.tracer.record(now, TraceEvent::Ack { task, cp }, &self.graph);
        self.exec(cmds);
    }

    /// The JobManager wrote the metadata file of `cp`.
    pub(super) fn on_metadata(&mut self, cp: CheckpointId) {
        let Some(c) = &mut self.coord else { return };
        let cmds = c.on_metadata(self.now, cp, &self.graph);
        self.exec(cmds);
    }

    pub(super) fn on_timeout(&mut self, cp: CheckpointId) {
        let Some(c) = &mut self.coord else { return };
        let cmds = c.on_timeout(self.now, cp, &self.graph);
        self.exec(cmds);
    }

    /// Ends every checkpoint in progress with `outcome`.
    pub(super) fn abort_all(&mut self, outcome: Outcome) {
        let Some(c) = &mut self.coord else { return };
        let cmds = c.abort_all(self.now, outcome, &self.graph);
        self.exec(cmds);
    }

    /// A checkpoint ended: its rows, its trace event, and the failure injected at completion.
    fn checkpoint_ended(&mut self, e: Ended) {
        let now = self.now;
        let (cp, completed) = (e.cp, e.outcome == Outcome::Completed);
        if completed {
            self.completed_cps.insert(cp);
        }
        self.rec.log.ended(e);
        if completed {
            self.tracer.record(now, TraceEvent::Completed { cp }, &self.graph);
            if let Some(victim) = self.faults.completed_moment(cp) {
                // Injected failure: before any task — the sink — hears of the completion.
                self.queue.push(now, Event::Crash(victim));
            }
        } else {
            self.tracer.record(now, TraceEvent::Aborted { cp }, &self.graph);
        }
    }

    /// The end of `cp` reaches the tasks: its timers are obsolete, the protocol forgets it, and a
    /// completion is notified to every task.
    fn release(&mut self, cp: CheckpointId, completed: bool, notify_aborted: bool) {
        let now = self.now;
        if completed && self.final_cp == Some(cp) {
            // The job is complete once every task heard of the final checkpoint (the sinks
            // commit their last transaction then).
            self.final_notifies_left = self.tasks.len();
        }
        self.queue.retain(|e| !matches!(e, Event::Timeout(id) | Event::Deadline(id) if *id == cp));
        if !self.back_blocked.is_empty() {
            self.unblock_back_edges(None, cp);
        }
        if !completed {
            self.cancel_uploads(|u| matches!(*u, Upload::Ack(_, id) if id == cp));
        }
        for t in 0..self.tasks.len() {
            let task = TaskId(t as u32);
            self.decide(task, |p, out| p.on_checkpoint_end(task, cp, out));
            let latency = self.net.config().latency;
            if self.tasks[t].halted == Some(cp) {
                self.queue.push(now + latency, Event::Unhalt(task, cp));
            }
            if completed {
                self.queue.push(now + latency, Event::Notify(task, cp));
            } else if notify_aborted && self.tasks[t].state != State::Down {
                self.queue.push(now + latency, Event::NotifyAborted(task, cp));
            }
        }
        // Every protocol heard of the end: the savepoint may start (or, if this was it and it
        // failed, the run's own protocol take over again).
        let why = if notify_aborted { "timed out" } else { "was abandoned (a task failed)" };
        self.savepoint_checkpoint_ended(cp, completed, why);
    }

    /// The aligned-checkpoint timeout of `cp` expired: everything still ahead of its barriers
    /// is overtaken, and aligning tasks switch to unaligned.
    pub(super) fn on_deadline(&mut self, cp: CheckpointId) {
        if self.pending(cp).is_none() {
            return;
        }
        self.tracer.record(self.now, TraceEvent::Deadline { cp }, &self.graph);
        let persist = !self.sabotage.drop_overtaken_output;
        for c in 0..self.graph.channels.len() {
            let ch = ChannelId(c as u32);
            if let Some(overtaken) = self.net.overtake_backlog_barrier(ch, cp, self.now, &mut self.queue) {
                let p = self.pending_mut(cp).expect("checked");
                if persist {
                    p.channels[c].output = overtaken;
                }
            }
            if self.net.overtake_queued_barrier(ch, cp) {
                let to = self.graph.channels[c].to;
                self.tasks[to.0 as usize].inbox.push_back(Mail::Barrier(ch, cp));
                self.wake.push(to);
            }
        }
        // Each task handles the timeout in its mailbox, between two records.
        for t in 0..self.tasks.len() {
            if self.tasks[t].state != State::Finished {
                self.tasks[t].inbox.push_back(Mail::Deadline(cp));
                self.wake.push(TaskId(t as u32));
            }
        }
    }

    // ---- barriers reaching tasks -------------------------------------------------------------

    /// Something arrived at the receiver of `ch`: record it if the channel is being recorded;
    /// a barrier closes the recording and, if it overtakes, goes to the task's inbox.
    pub(super) fn on_arrival(&mut self, ch: ChannelId, arrival: Arrival) {
        let Some(coord) = &mut self.coord else { return };
        let to = self.graph.channels[ch.0 as usize].to;
        match arrival {
            Arrival::Data(_) if self.colours => {
                // Lai-Yang: only the white records are channel state; the count may now be full.
                for cp in coord.pending_ids() {
                    let p = self.pending(cp).expect("listed");
                    if p.channels[ch.0 as usize].recording {
                        let white: Vec<_> =
                            self.net.last_arrived(ch).iter().filter(|r| self.white(p, ch, r.seq)).copied().collect();
                        self.pending_mut(cp).expect("listed").channels[ch.0 as usize].input.extend(white);
                        self.close_if_all_white_in(ch, cp);
                    }
                }
            }
            Arrival::Data(_) => {
                for (_, p) in coord.pending_iter_mut() {
                    if p.channels[ch.0 as usize].recording {
                        p.channels[ch.0 as usize].input.extend_from_slice(self.net.last_arrived(ch));
                    }
                }
            }
            Arrival::EndOfPartition => {
                self.eop_arrived[ch.0 as usize] = true;
                for cp in coord.pending_ids() {
                    self.close_recording(ch, cp);
                }
            }
            Arrival::Barrier(cp) | Arrival::PriorityBarrier(cp) => {
                let priority = matches!(arrival, Arrival::PriorityBarrier(_));
                self.tracer.record(self.now, TraceEvent::BarrierArrive { ch, cp, priority }, &self.graph);
                let (now, arrived) = (self.now, self.net.arrived(ch));
                let Some(p) = self.pending_mut(cp) else { return }; // aborted: dropped
                let timing = p.timing;
                p.channels[ch.0 as usize].barrier_bound = Some(arrived);
                let aligning = p.tasks[to.0 as usize].snapshot.is_none();
                if self.colours {
                    // Lai-Yang: the control message brings the count of white records; the
                    // recording ends when they are all in, which need not be now.
                    self.close_if_all_white_in(ch, cp);
                } else {
                    self.close_recording(ch, cp);
                }
                if aligning && let Some(victim) = self.faults.alignment_moment(to, cp) {
                    // Injected failure: the task has a barrier of `cp` but no snapshot yet.
                    self.queue.push(now, Event::Crash(victim));
                }
                let overtakes = priority
                    || (self
                        .protocol
                        .as_ref()
                        .is_some_and(|pr| pr.barrier_path(&timing, now) == BarrierPath::Priority)
                        && self.net.overtake_queued_barrier(ch, cp));
                if overtakes {
                    self.tasks[to.0 as usize].inbox.push_back(Mail::Barrier(ch, cp));
                    self.wake.push(to);
                }
            }
        }
    }

    fn close_recording(&mut self, ch: ChannelId, cp: CheckpointId) {
        let to = self.graph.channels[ch.0 as usize].to;
        let Some(p) = self.pending_mut(cp) else { return };
        if std::mem::take(&mut p.channels[ch.0 as usize].recording) {
            p.tasks[to.0 as usize].open_recordings -= 1;
            self.maybe_upload(to, cp);
        }
    }

    pub(super) fn handle_mail(&mut self, task: TaskId, m: Mail) {
        match m {
            Mail::Trigger(cp) => {
                if self.pending(cp).is_some()
                    && self.source_mode() == SourceMode::MicroBatches
                    && self.tasks[task.0 as usize].state != State::Finished
                {
                    // Micro-batches: the trigger plans the batch — what reached the log by now;
                    // the source reads it and then ends the batch (`end_batch`).
                    self.tasks[task.0 as usize].batch = Some((cp, self.now));
                    self.tracer.record(self.now, TraceEvent::BatchPlanned { task, cp }, &self.graph);
                } else if self.pending(cp).is_some() {
                    self.mark_barrier(task, cp);
                    self.snapshot(task, cp, false);
                    if self.source_mode() == SourceMode::HaltDuringCheckpoint
                        && self.tasks[task.0 as usize].state != State::Finished
                    {
                        // Synchronous snapshots: the source reads nothing more until the end of
                        // the checkpoint reaches it, so the job drains behind the barrier.
                        self.tasks[task.0 as usize].halted = Some(cp);
                        self.tracer.record(self.now, TraceEvent::SourceHalted { task, cp }, &self.graph);
                    }
                }
            }
            Mail::Barrier(ch, cp) => {
                self.barrier_reached(task, ch, cp, true);
                self.net.resume_if_owed(ch, self.now, &mut self.queue);
            }
            Mail::LocalCheckpoint => self.local_checkpoint(task),
            Mail::Deadline(cp) => {
                if self.pending(cp).is_some() {
                    let view = self.view(task, cp);
                    self.decide(task, |p, out| p.on_deadline(&view, cp, out));
                }
            }
        }
    }

    /// Lai-Yang: whether record `seq` of channel `ch` is red for a checkpoint `task` has no
    /// snapshot for (its sender has one, and wrote the record after it); if so the task
    /// snapshots now, before taking it. Returns whether it did.
    pub(super) fn red_record(&mut self, task: TaskId, ch: ChannelId, seq: u64) -> bool {
        // Asked before every record a task takes: between checkpoints, nothing is red.
        if self.coord.as_ref().is_none_or(|c| !c.has_pending()) {
            return false;
        }
        let from = self.graph.channels[ch.0 as usize].from;
        let red = self.pending_ids().into_iter().find(|&cp| {
            let p = self.pending(cp).expect("listed");
            p.tasks[task.0 as usize].snapshot.is_none()
                && p.tasks[from.0 as usize]
                    .snapshot
                    .as_ref()
                    .and_then(|s| s.sent_on(&self.graph, ch))
                    .is_some_and(|written| seq >= written)
        });
        let Some(cp) = red else { return false };
        self.tracer.record(self.now, TraceEvent::RedRecord { ch, cp }, &self.graph);
        self.mark_barrier(task, cp);
        let view = self.view(task, cp);
        self.decide(task, |p, out| p.on_barrier(&view, ch, cp, false, out));
        true
    }

    /// Lai-Yang: whether record `seq` of channel `ch` is white for `cp` — written before its
    /// sender's snapshot (or its sender has none yet).
    fn white(&self, p: &Pending, ch: ChannelId, seq: u64) -> bool {
        let from = self.graph.channels[ch.0 as usize].from;
        p.tasks[from.0 as usize]
            .snapshot
            .as_ref()
            .and_then(|s| s.sent_on(&self.graph, ch))
            .is_none_or(|written| seq < written)
    }

    /// Lai-Yang: once the control message told the count, the recording of `ch` for `cp` ends
    /// when every white record is in: those taken before the receiver's snapshot and those
    /// recorded since make up what the sender wrote before its own.
    fn close_if_all_white_in(&mut self, ch: ChannelId, cp: CheckpointId) {
        let node = &self.graph.channels[ch.0 as usize];
        let (from, to) = (node.from.0 as usize, node.to.0 as usize);
        let Some(p) = self.pending(cp) else { return };
        let c = &p.channels[ch.0 as usize];
        if !c.recording || c.barrier_bound.is_none() {
            return;
        }
        let written = p.tasks[from].snapshot.as_ref().and_then(|s| s.sent_on(&self.graph, ch));
        let taken = p.tasks[to].snapshot.as_ref().and_then(|s| s.consumed_on(&self.graph, ch));
        if let (Some(written), Some(taken)) = (written, taken)
            && taken + c.input.len() as u64 >= written
        {
            self.close_recording(ch, cp);
        }
    }

    /// When the run's protocol lets the sources read.
    pub(super) fn source_mode(&self) -> SourceMode {
        self.protocol.as_ref().map_or(SourceMode::Continuous, |p| p.name().info().sources)
    }

    /// A source read the records of micro-batch `cp`: it records its end offset (the snapshot) and
    /// emits the barrier that ends the batch, then waits for the next trigger.
    pub(super) fn end_batch(&mut self, task: TaskId, cp: CheckpointId) {
        self.tasks[task.0 as usize].batch = None;
        if self.pending(cp).is_some() {
            self.mark_barrier(task, cp);
            self.snapshot(task, cp, false);
        }
    }

    /// The end of checkpoint `cp` reached a source it halted: it reads again.
    pub(super) fn unhalt(&mut self, task: TaskId, cp: CheckpointId) {
        if self.tasks[task.0 as usize].halted == Some(cp) {
            self.tasks[task.0 as usize].halted = None;
            self.tracer.record(self.now, TraceEvent::SourceResumed { task, cp }, &self.graph);
            self.try_run(task);
        }
    }

    pub(super) fn on_inband_barrier(&mut self, task: TaskId, ch: ChannelId, cp: CheckpointId) {
        self.barrier_reached(task, ch, cp, false);
        // Not blocked (the last barrier, or an aborted checkpoint's): the sender may go on.
        self.net.resume_if_owed(ch, self.now, &mut self.queue);
    }

    /// The task processes a barrier of `cp` (or, for a source, the trigger): Flink's start delay
    /// ends at the first, its alignment runs from the first to the last, and the records the task
    /// took in between are its "processed data during alignment".
    fn mark_barrier(&mut self, task: TaskId, cp: CheckpointId) {
        let (now, taken) = (self.now, self.tasks[task.0 as usize].taken);
        let Some(p) = self.pending_mut(cp) else { return };
        let tp = &mut p.tasks[task.0 as usize];
        if tp.first_barrier.is_none() {
            tp.first_barrier = Some(now);
            tp.taken_at_first = taken;
        }
        tp.last_barrier = Some(now);
        tp.taken_at_last = taken;
    }

    fn barrier_reached(&mut self, task: TaskId, ch: ChannelId, cp: CheckpointId, overtaking: bool) {
        self.tracer.record(self.now, TraceEvent::BarrierTaken { ch, cp }, &self.graph);
        let Some(p) = self.pending(cp) else {
            return; // the checkpoint was aborted: its barriers are dropped
        };
        if self.graph.is_back(ch) {
            let snapshotted = p.tasks[task.0 as usize].snapshot.is_some();
            let first_barrier_snapshots = matches!(
                self.protocol.as_ref().map(|p| p.name().info().channel_state),
                Some(crate::protocol::ChannelStateRule::Always | crate::protocol::ChannelStateRule::WhiteRecords)
            );
            if snapshotted {
                // It came round after the head's snapshot: its arrival ended the log.
                return;
            }
            if !first_barrier_snapshots {
                // The barrier came round from a tail whose snapshot did not wait for this head
                // (another parallel instance's path): what follows it is after the tail's
                // snapshot, so the head holds the back-edge until its own snapshot. Alignment
                // still waits for the inputs from outside the loop only.
                self.block_back_edge(task, ch, cp);
                return;
            }
            // Protocols that snapshot at their first barrier take it as any other.
        }
        self.mark_barrier(task, cp);
        let view = self.view(task, cp);
        self.decide(task, |p, out| p.on_barrier(&view, ch, cp, overtaking, out));
    }

    /// An iteration's head holds back-edge `ch` for checkpoint `cp` until its own snapshot. If its
    /// inputs from outside the loop all ended, it is aligned already: it snapshots now.
    fn block_back_edge(&mut self, task: TaskId, ch: ChannelId, cp: CheckpointId) {
        if !self.net.is_blocked(ch) {
            self.net.set_blocked(ch, true);
            self.input_blocked_since[ch.0 as usize] = Some(self.now);
            self.tracer.record(self.now, TraceEvent::Block { ch }, &self.graph);
        }
        self.back_blocked.push((task, ch, cp));
        if self.outside_inputs_ended(task) {
            self.snapshot(task, cp, false);
        }
    }

    /// Unblocks the back-edges held for `cp` (at `task` only, or everywhere).
    fn unblock_back_edges(&mut self, task: Option<TaskId>, cp: CheckpointId) {
        let mut held = std::mem::take(&mut self.back_blocked);
        held.retain(|&(t, ch, c)| {
            if c != cp || task.is_some_and(|x| x != t) {
                return true;
            }
            if self.net.is_blocked(ch) {
                self.net.set_blocked(ch, false);
                let since = self.input_blocked_since[ch.0 as usize].take().unwrap_or(self.now);
                self.input_blocked_ns += self.now - since;
                self.tracer.record(self.now, TraceEvent::Unblock { ch }, &self.graph);
                self.wake.push(t);
            }
            false
        });
        self.back_blocked = held;
    }

    pub(super) fn on_input_ended(&mut self, task: TaskId, ch: ChannelId) {
        if self.coord.as_ref().is_none_or(|c| !c.has_pending()) || self.graph.is_back(ch) {
            return;
        }
        // Protocols keep their own per-checkpoint counts; `snapshotted` is not used here.
        let (inputs, ended) = self.tasks[task.0 as usize].outside_inputs();
        let view = TaskView { task, inputs, ended, snapshotted: false };
        self.decide(task, |p, out| p.on_input_ended(&view, ch, out));
        if view.ended == view.inputs {
            // A head holding a back-edge is aligned once its inputs from outside the loop ended.
            let held: Vec<CheckpointId> =
                self.back_blocked.iter().filter(|&&(t, _, _)| t == task).map(|&(_, _, cp)| cp).collect();
            for cp in held {
                self.snapshot(task, cp, false);
            }
        }
    }

    /// Asks the protocol (through `ask`) what `task` should do, then does it.
    fn decide(&mut self, task: TaskId, ask: impl FnOnce(&mut dyn crate::protocol::Protocol, &mut Vec<Action>)) {
        let Some(mut proto) = self.protocol.take() else { return };
        let mut actions = std::mem::take(&mut self.actions);
        ask(proto.as_mut(), &mut actions);
        // The protocol is back in place before acting: a snapshot asks it how barriers travel.
        self.protocol = Some(proto);
        self.apply(task, &mut actions);
        self.actions = actions;
    }

    /// Carries out a protocol's decisions for `task`.
    fn apply(&mut self, task: TaskId, actions: &mut Vec<Action>) {
        for a in actions.drain(..) {
            match a {
                Action::Block(ch) => {
                    if !self.net.is_blocked(ch) {
                        self.net.set_blocked(ch, true);
                        self.input_blocked_since[ch.0 as usize] = Some(self.now);
                        self.tracer.record(self.now, TraceEvent::Block { ch }, &self.graph);
                    }
                }
                Action::UnblockAll => {
                    for g in 0..self.graph.tasks[task.0 as usize].input_gates.len() {
                        for i in 0..self.graph.tasks[task.0 as usize].input_gates[g].len() {
                            let ch = self.graph.tasks[task.0 as usize].input_gates[g][i];
                            if self.net.is_blocked(ch) {
                                self.net.set_blocked(ch, false);
                                self.net.resume_if_owed(ch, self.now, &mut self.queue);
                                let since = self.input_blocked_since[ch.0 as usize].take().unwrap_or(self.now);
                                self.input_blocked_ns += self.now - since;
                                self.tracer.record(self.now, TraceEvent::Unblock { ch }, &self.graph);
                                self.wake.push(task);
                            }
                        }
                    }
                }
                Action::Snapshot { cp, record_inputs } => self.snapshot(task, cp, record_inputs),
            }
        }
    }

    // ---- snapshots, uploads, acks ------------------------------------------------------------

    /// What a snapshot of `task` for `cp` holds, taken now: its state (through its backend's
    /// files, or a savepoint's), its log position, its sink's pre-committed transactions, and the
    /// network's counters as the cut checker's ground truth. No synchronous part yet (`sync` 0).
    pub(super) fn capture(&mut self, task: TaskId, cp: CheckpointId) -> TaskSnapshot {
        let now = self.now;
        let ti = task.0 as usize;
        let node = &self.graph.tasks[ti];
        let inputs: Vec<ChannelId> = node.input_gates.iter().flatten().copied().collect();
        let outputs: Vec<ChannelId> = node.outputs.iter().flatten().copied().collect();
        // A transactional sink pre-commits its open transaction as part of its snapshot. Its
        // state is the transaction handles: the data itself is already in the external system.
        let sink = self.tasks[ti].sink.as_mut().map(|s| s.snapshot(cp)).unwrap_or_default();
        let t = &mut self.tasks[ti];
        let live_bytes = t.logic.state_bytes() + if t.source.is_some() { 8 } else { 0 } + 8 * sink.len() as u64;
        // The backend says which files the snapshot consists of and what it uploads.
        let entries = t.logic.state_entries() + t.source.is_some() as u64 + sink.len() as u64;
        let files = match self.stop.request.filter(|_| self.stop.is(cp)) {
            Some(req) => t.backend.savepoint(req.format, live_bytes, entries),
            None => t.backend.snapshot(cp, now, live_bytes, entries),
        };
        // The copy a restore puts back (a mutant may leave out a key), and its content as the cut
        // checker compares it with the network's counters.
        let mut logic = t.logic.clone();
        if self.sabotage.snapshot_drops_a_key {
            logic.forget_a_key();
        }
        TaskSnapshot {
            at: now,
            state_bytes: files.full_bytes(),
            state_digest: t.state_digest,
            consumed_digest: inputs.iter().fold(0u64, |d, &c| d.wrapping_add(self.net.consumed_digest(c))),
            consumed: inputs
                .iter()
                .map(|&c| (c, self.net.consumed(c), self.net.consumed_digest(c), self.net.consumed_kv(c)))
                .collect(),
            state_kv: logic.state_kv(),
            sent: outputs.iter().map(|&c| (c, self.net.sent(c))).collect(),
            seqs: if self.net.reorders() {
                (
                    inputs.iter().map(|&c| self.net.seq_digests(c).1).collect(),
                    outputs.iter().map(|&c| self.net.seq_digests(c).0).collect(),
                )
            } else {
                Default::default()
            },
            sync: 0,
            paused: false,
            logic,
            cursor: t.source.as_ref().map(|s| s.cursor().clone()),
            sink,
            backend: t.backend.image(),
            files,
        }
    }

    /// Takes `task`'s snapshot for `cp`: captures its state with the network's counters, emits
    /// barrier `cp` on every output, records the inputs if asked, and pauses for the synchronous
    /// part. A finished task emits nothing and does not pause.
    pub(super) fn snapshot(&mut self, task: TaskId, cp: CheckpointId, record_inputs: bool) {
        let now = self.now;
        let ti = task.0 as usize;
        let Some(p) = self.pending(cp) else {
            return;
        };
        if p.tasks[ti].snapshot.is_some() {
            return;
        }
        let timing = p.timing;
        let node = &self.graph.tasks[ti];
        let inputs: Vec<ChannelId> = node.input_gates.iter().flatten().copied().collect();
        let outputs: Vec<ChannelId> = node.outputs.iter().flatten().copied().collect();
        let mut snap = self.capture(task, cp);
        if self.sabotage.sink_commits_at_snapshot {
            self.commit_sink(task, cp);
        }
        let cfg = self.coord.as_ref().expect("checked").cfg();
        let finished = self.tasks[ti].state == State::Finished;
        // A finished task's state is final: it does not pause, so it has no synchronous part.
        snap.sync = if finished {
            0
        } else {
            cfg.sync_base + CoordinatorConfig::transfer(snap.files.sync_bytes, cfg.sync_bytes_per_sec)
        };
        snap.paused = !finished;
        let sync = snap.sync;
        self.tracer.record(now, TraceEvent::Snapshot { task, cp }, &self.graph);
        self.source_snapshotted(task, cp);
        let path = self.protocol.as_ref().map_or(BarrierPath::InBand, |pr| pr.barrier_path(&timing, now));
        let persist = !self.sabotage.drop_overtaken_output;
        let mut overtaken = Vec::new();
        // A finished task (FLIP-147: it waits for the final checkpoint, and Flink still passes
        // barriers through it) sends priority barriers on the outputs whose end has not reached the
        // receiver, so that no receiver records it until its end of partition; an in-band barrier
        // would only follow the end of partition, which already counts as aligned.
        let sends = |ch: ChannelId| !finished || (path == BarrierPath::Priority && !self.eop_arrived[ch.0 as usize]);
        let outputs: Vec<ChannelId> = outputs.into_iter().filter(|&ch| sends(ch)).collect();
        for &ch in &outputs {
            match path {
                BarrierPath::InBand => self.net.push_event(ch, Element::Barrier(cp), now, &mut self.queue),
                BarrierPath::Priority => {
                    let o = self.net.push_priority_barrier(ch, cp, now, &mut self.queue);
                    if persist {
                        overtaken.push((ch, o));
                    }
                }
            }
        }
        let mut recorded = Vec::new();
        let mut open = 0;
        // ABS on cyclic graphs (Carbone et al. 2015, Algorithm 2): an iteration's head logs what
        // arrives on its back-edges from its snapshot until the barrier comes round — the records
        // inside the loop — whatever the protocol does with its other inputs.
        let log_back = self.tasks[ti].back_inputs > 0 && !self.sabotage.skip_back_edge_logging;
        if record_inputs || log_back {
            let p = self.pending(cp).expect("checked");
            for &ch in inputs.iter().filter(|&&ch| record_inputs || self.graph.is_back(ch)) {
                let c = ch.0 as usize;
                match p.channels[c].barrier_bound {
                    // Lai-Yang: the white records queued; more may come, in any order.
                    _ if self.colours => {
                        let recs = self.net.queued_records(ch, None);
                        let white = recs.into_iter().filter(|r| self.white(p, ch, r.seq)).collect();
                        let keep_recording = !self.eop_arrived[c];
                        open += keep_recording as u32;
                        recorded.push((ch, white, keep_recording));
                    }
                    // The barrier already arrived: only the unconsumed records ahead of it.
                    Some(bound) => {
                        let recs = self.net.queued_records(ch, Some(cp));
                        recorded.push((ch, recs.into_iter().filter(|r| r.seq < bound).collect(), false));
                    }
                    None => {
                        let recs = self.net.queued_records(ch, None);
                        let keep_recording = !self.eop_arrived[c];
                        open += keep_recording as u32;
                        recorded.push((ch, recs, keep_recording));
                    }
                }
            }
        }
        let p = self.pending_mut(cp).expect("checked");
        for (ch, o) in overtaken {
            p.channels[ch.0 as usize].output = o;
        }
        for (ch, recs, keep) in recorded {
            p.channels[ch.0 as usize].input = recs;
            p.channels[ch.0 as usize].recording = keep;
        }
        let tp = &mut p.tasks[ti];
        tp.open_recordings = open;
        tp.snapshot = Some(snap);
        if !self.back_blocked.is_empty() {
            self.unblock_back_edges(Some(task), cp);
        }
        if self.colours && record_inputs {
            // Lai-Yang: a control message may have come before the snapshot, with every white
            // record already taken or queued: then there is nothing more to wait for.
            for &ch in &inputs {
                self.close_if_all_white_in(ch, cp);
            }
        }
        if finished {
            // Nothing left to pause: the state is final.
            self.pending_mut(cp).expect("checked").tasks[ti].sync_done = true;
            self.maybe_upload(task, cp);
        } else {
            let t = &mut self.tasks[ti];
            t.sync_until = t.sync_until.max(now) + sync;
            t.state = State::Syncing;
            self.queue.push(t.sync_until, Event::Wake(task));
        }
    }

    /// The synchronous pause of `task` ended: every snapshot it took so far may upload.
    pub(super) fn sync_finished(&mut self, task: TaskId) {
        let Some(c) = &mut self.coord else { return };
        let mut ready = Vec::new();
        for (cp, p) in c.pending_iter_mut() {
            let tp = &mut p.tasks[task.0 as usize];
            if tp.snapshot.is_some() && !tp.sync_done {
                tp.sync_done = true;
                ready.push(cp);
            }
        }
        for cp in ready {
            self.maybe_upload(task, cp);
        }
    }

    /// A task finished: it joins every checkpoint in progress with its final state.
    pub(super) fn snapshot_finished(&mut self, task: TaskId) {
        for cp in self.pending_ids() {
            self.snapshot(task, cp, false);
        }
    }

    /// Checkpoints still in progress when the run ends are reported as unfinished.
    pub(super) fn end_unfinished(&mut self) {
        self.abort_all(Outcome::Unfinished);
    }

    /// Changelog: the materialization timer of `task` fired. The underlying backend uploads a
    /// base (in the background, at the task's upload bandwidth); the timer goes on until the task
    /// finishes or the job ends.
    pub(super) fn materialize(&mut self, task: TaskId) {
        let ti = task.0 as usize;
        if self.complete || self.faults.job_failed.is_some() || self.tasks[ti].state == State::Finished {
            return;
        }
        let interval = self.scenario.state.changelog.as_ref().map_or(0, |c| c.materialize_interval_ms) * MS;
        self.queue.push(self.now + interval, Event::Materialize(task));
        let Some(c) = &self.coord else { return };
        let t = &mut self.tasks[ti];
        if t.state == State::Down {
            return;
        }
        let live = t.logic.state_bytes();
        if let Some((id, bytes, files)) = t.backend.start_materialization(live) {
            let (latency, bw) = (c.cfg().files_latency(files as u64), c.cfg().write_bytes_per_sec);
            self.start_upload(Upload::Materialized(task, id), latency, bytes, bw);
        }
    }

    /// Starts an upload to the checkpoint storage: `latency` for its files, then `bytes` at up to
    /// `cap` bytes/s, sharing the storage's bandwidth with the other uploads.
    fn start_upload(&mut self, key: Upload, latency: SimTime, bytes: u64, cap: u64) {
        if latency == 0 && bytes == 0 {
            return self.uploads_done(vec![key]);
        }
        let done = self.storage.start(self.now, key, latency, bytes, cap);
        self.uploads_done(done);
        self.schedule_storage();
    }

    /// The storage's clock: uploads became ready or finished.
    pub(super) fn on_storage(&mut self) {
        if self.now >= self.storage_wake {
            self.storage_wake = SimTime::MAX;
        }
        let done = self.storage.advance(self.now);
        self.uploads_done(done);
        self.schedule_storage();
    }

    /// Drops the uploads `gone` says (their checkpoint ended, their task went down).
    pub(super) fn cancel_uploads(&mut self, gone: impl Fn(&Upload) -> bool) {
        if self.storage.is_idle() {
            return;
        }
        let done = self.storage.cancel(self.now, gone);
        self.uploads_done(done);
        self.schedule_storage();
    }

    fn schedule_storage(&mut self) {
        if let Some(t) = self.storage.next_event()
            && t < self.storage_wake
        {
            self.storage_wake = t;
            self.queue.push(t, Event::Storage);
        }
    }

    /// Uploads finished: a task's ack leaves for the coordinator; a materialization becomes the
    /// changelog's base.
    fn uploads_done(&mut self, done: Vec<Upload>) {
        let now = self.now;
        let latency = self.net.config().latency;
        for u in done {
            match u {
                Upload::Ack(task, cp) => {
                    if let Some(tp) = self.pending_mut(cp).map(|p| &mut p.tasks[task.0 as usize])
                        && let Some((start, d)) = &mut tp.upload
                    {
                        *d = now - *start;
                        self.queue.push(now + latency, Event::Ack(task, cp));
                    }
                }
                Upload::Materialized(task, id) => self.tasks[task.0 as usize].backend.finish_materialization(id),
            }
        }
    }

    /// Starts the upload once the synchronous part is over and every recording closed; the ack
    /// reaches the coordinator after the upload and the RPC latency.
    fn maybe_upload(&mut self, task: TaskId, cp: CheckpointId) {
        let now = self.now;
        let record_bytes = self.scenario.network.record_bytes as u64;
        let ti = task.0 as usize;
        let Some(c) = &mut self.coord else { return };
        let bw = c.cfg().write_bytes_per_sec;
        let Some(p) = c.pending_mut(cp) else { return };
        let tp = &p.tasks[ti];
        if tp.snapshot.is_none() || !tp.sync_done || tp.open_recordings > 0 || tp.upload.is_some() {
            return;
        }
        let node = &self.graph.tasks[ti];
        let in_records: usize = node.input_gates.iter().flatten().map(|ch| p.channels[ch.0 as usize].input.len()).sum();
        let out_records: usize = node.outputs.iter().flatten().map(|ch| p.channels[ch.0 as usize].output.len()).sum();
        let channel_bytes = (in_records + out_records) as u64 * record_bytes;
        let tp = &mut p.tasks[ti];
        let files = &tp.snapshot.as_ref().expect("checked").files;
        let bytes = files.upload_bytes + channel_bytes;
        // Its state files, and its part of a channel-state file shared with the subtasks of its
        // group (one more file to wait for).
        let n_files = files.upload_files as u64 + (channel_bytes > 0) as u64;
        // RocksDB's full snapshots and canonical savepoints read every key-value back first.
        let serialize = files.serialize;
        tp.upload = Some((now, 0));
        tp.channel_bytes = channel_bytes;
        let latency = serialize + self.coord.as_ref().expect("checked").cfg().files_latency(n_files);
        self.start_upload(Upload::Ack(task, cp), latency, bytes, bw);
    }
}
