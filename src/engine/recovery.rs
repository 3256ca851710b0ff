//! Failures and recovery (DESIGN §4): injected crashes — at a time, at a protocol moment, or at
//! random — and Flink's default for all-to-all graphs, a *global restart*: discard all in-flight
//! data and pending checkpoints, wait `restart.delay_ms`, and reset every task to the latest
//! completed checkpoint. Operator state is restored, sources rewind to their snapshotted offsets,
//! the checkpoint's channel state is replayed into its channels before any new data, and a
//! transactional sink aborts what it had not committed and commits the restored checkpoint's
//! pre-committed transactions again (idempotently). No completed checkpoint yet: start over.

use super::{Engine, Event, State};
use crate::coordinator::{CoordinatorConfig, Outcome};
use crate::graph::{ChannelId, Graph, TaskId};
use crate::net::{NetEvent, RestoredCounters};
use crate::operator::Logic;
use crate::protocol::CheckpointId;
use crate::scenario::{FailoverStrategy, RandomFailures, Scenario};
use crate::sim::{Component, MS, RngTree, SimRng, SimTime};
use crate::trace::TraceEvent;

/// Why the job fails over.
#[derive(Clone, Debug)]
pub(super) enum Cause {
    /// A task crashed.
    Task(TaskId),
    /// More consecutive checkpoints failed than tolerated.
    Checkpoints(String),
}

/// A failure waiting for its moment, fired at most once.
#[derive(Clone, Debug)]
struct Armed<T> {
    task: TaskId,
    when: T,
    fired: bool,
}

/// Recovery in progress: since `since`, each source has to get back to its offset at the failure.
#[derive(Clone, Debug)]
struct CatchUp {
    since: SimTime,
    /// Per source: the offset at the failure, and whether it got back there.
    targets: Vec<(TaskId, u64, bool)>,
}

/// The failure schedule, the restart strategy and the recovery figures.
pub(super) struct Faults {
    timed: Vec<(TaskId, SimTime)>,
    during_alignment: Vec<Armed<CheckpointId>>,
    after_checkpoint: Vec<Armed<CheckpointId>>,
    during_recovery: Vec<Armed<SimTime>>,
    random: Option<(RandomFailures, SimRng, u32)>,
    /// The restart strategy.
    strategy: super::restart::Strategy,
    pub(super) failures: u32,
    /// Which tasks a failure restarts, and each task's pipelined region.
    failover: FailoverStrategy,
    regions: Vec<usize>,
    /// Tasks down and waiting for the restart.
    down: Vec<bool>,
    /// Per task: how many times it was restarted.
    pub(super) task_restarts: Vec<u32>,
    /// Failovers because too many consecutive checkpoints failed.
    pub(super) checkpoint_failovers: u32,
    /// When each crash happened.
    pub(super) crash_times: Vec<SimTime>,
    /// When each restart happened.
    pub(super) restart_times: Vec<SimTime>,
    /// When each catch-up ended.
    pub(super) caught_up_times: Vec<SimTime>,
    pub(super) restarts: u32,
    pub(super) down_since: Option<SimTime>,
    pub(super) downtime: SimTime,
    pub(super) reprocessed: u64,
    /// Restore time (the slowest task's download) summed over restarts, and bytes downloaded.
    pub(super) restore: SimTime,
    pub(super) restore_bytes: u64,
    /// The tasks that crashed since the job went down (task-local recovery: only these download).
    crashed: Vec<TaskId>,
    pub(super) catch_up: SimTime,
    offsets_at_crash: Vec<(TaskId, u64)>,
    /// Since the last restart: how far each source has to read again.
    catching_up: Option<CatchUp>,
    pub(super) job_failed: Option<String>,
}

impl Faults {
    pub(super) fn new(s: &Scenario, g: &Graph, rngs: &RngTree) -> Self {
        let task = |f: &crate::scenario::FailureSpec| {
            g.find_task(f.task.as_deref().expect("validated: a non-random failure names its task"))
                .expect("validated task")
        };
        let mut f = Faults {
            timed: Vec::new(),
            during_alignment: Vec::new(),
            after_checkpoint: Vec::new(),
            during_recovery: Vec::new(),
            random: None,
            strategy: super::restart::Strategy::new(&s.restart, rngs),
            failures: 0,
            failover: s.restart.failover,
            regions: g.regions(),
            down: vec![false; g.tasks.len()],
            task_restarts: vec![0; g.tasks.len()],
            checkpoint_failovers: 0,
            crash_times: Vec::new(),
            restart_times: Vec::new(),
            caught_up_times: Vec::new(),
            restarts: 0,
            down_since: None,
            downtime: 0,
            reprocessed: 0,
            restore: 0,
            restore_bytes: 0,
            crashed: Vec::new(),
            catch_up: 0,
            offsets_at_crash: Vec::new(),
            catching_up: None,
            job_failed: None,
        };
        for spec in &s.failures {
            if let Some(r) = spec.random {
                f.random = Some((r, rngs.stream(Component::Failures), 0));
            } else if let Some(ms) = spec.at_ms {
                f.timed.push((task(spec), ms * MS));
            } else if let Some(cp) = spec.during_alignment_of {
                f.during_alignment.push(Armed { task: task(spec), when: cp, fired: false });
            } else if let Some(cp) = spec.after_checkpoint {
                f.after_checkpoint.push(Armed { task: task(spec), when: cp, fired: false });
            } else if let Some(ms) = spec.during_recovery_ms {
                f.during_recovery.push(Armed { task: task(spec), when: ms * MS, fired: false });
            }
        }
        f
    }

    /// A task received a barrier of `cp` before its snapshot: the task to crash now, if any.
    pub(super) fn alignment_moment(&mut self, task: TaskId, cp: CheckpointId) -> Option<TaskId> {
        Self::fire(&mut self.during_alignment, |a| a.task == task && a.when == cp)
    }

    /// Checkpoint `cp` completed, nobody notified yet: the task to crash now, if any.
    pub(super) fn completed_moment(&mut self, cp: CheckpointId) -> Option<TaskId> {
        Self::fire(&mut self.after_checkpoint, |a| a.when == cp)
    }

    fn fire<T>(armed: &mut [Armed<T>], hit: impl Fn(&Armed<T>) -> bool) -> Option<TaskId> {
        let a = armed.iter_mut().find(|a| !a.fired && hit(a))?;
        a.fired = true;
        Some(a.task)
    }

    /// A source read up to `offset`: checks whether recovery caught up.
    #[inline]
    pub(super) fn source_progress(&mut self, task: TaskId, offset: u64, now: SimTime) {
        let Some(c) = &mut self.catching_up else { return };
        for t in c.targets.iter_mut().filter(|t| t.0 == task) {
            t.2 |= offset >= t.1;
        }
        self.settle_catch_up(now);
    }

    /// Ends the catch-up once every source is back at its offset of the failure.
    fn settle_catch_up(&mut self, now: SimTime) {
        if let Some(c) = &self.catching_up
            && c.targets.iter().all(|t| t.2)
        {
            self.catch_up += now - c.since;
            self.caught_up_times.push(now);
            self.catching_up = None;
        }
    }
}

/// Download times of concurrent transfers of `bytes` sharing `per_sec` equally (processor
/// sharing: the smallest finishes first, then the others share what it freed), each after
/// `latency`. A task with nothing to download takes no time.
pub(super) fn shared_downloads(bytes: &[u64], latency: SimTime, per_sec: u64) -> Vec<SimTime> {
    let mut order: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] > 0).collect();
    order.sort_by_key(|&i| (bytes[i], i));
    let mut out = vec![0; bytes.len()];
    let (mut done_bytes, mut clock) = (0u64, 0u128);
    let mut left = order.len() as u128;
    for i in order {
        // Until this transfer ends, `left` transfers share the bandwidth equally.
        clock += (bytes[i] - done_bytes) as u128 * left * crate::sim::SEC as u128 / per_sec as u128;
        done_bytes = bytes[i];
        left -= 1;
        out[i] = latency + clock as SimTime;
    }
    out
}

impl super::TaskRt {
    /// The job failed: the task stops (keeping its backpressure time), forgets its mail, its
    /// timers and its inputs' ends, and a sink loses its open transaction. Its operator state and
    /// log position stay until the restart restores them.
    fn go_down(&mut self, now: SimTime) {
        if let Some(since) = self.blocked_since.take() {
            self.blocked_ns += now - since;
        }
        self.state = State::Down;
        self.inbox.clear();
        self.batch_left = 0;
        self.input_due = false;
        self.arrival_wake = false;
        self.flush_armed = false;
        self.ended_inputs = 0;
        self.ended_back = 0;
        self.from_loop = None;
        self.sync_until = 0;
        self.chained_input = None;
        if let Some(s) = &mut self.sink {
            s.crash();
        }
    }
}

impl Engine<'_> {
    /// Schedules the failures known at the start.
    pub(super) fn schedule_failures(&mut self) {
        for &(task, at) in &self.faults.timed {
            self.queue.push(at, Event::Crash(task));
        }
        if let Some((r, rng, _)) = &mut self.faults.random {
            let at = rng.exp(r.mtbf_ms * MS);
            self.queue.push(at, Event::RandomFailure);
        }
    }

    pub(super) fn random_failure(&mut self) {
        let n = self.tasks.len();
        let Some((r, rng, fired)) = &mut self.faults.random else { return };
        let task = TaskId(rng.below(n as u64) as u32);
        *fired += 1;
        if *fired < r.max_failures {
            let at = self.now + rng.exp(r.mtbf_ms * MS);
            self.queue.push(at, Event::RandomFailure);
        }
        self.crash(task);
    }

    /// Every task finished (all input processed). With checkpointing the job is not complete
    /// before its final checkpoint committed (`Engine::complete`).
    pub(super) fn job_done(&self) -> bool {
        self.tasks.iter().all(|t| t.state == State::Finished)
    }

    /// `task` crashes: the whole job goes down and restarts after the delay.
    pub(super) fn crash(&mut self, task: TaskId) {
        self.fail(Cause::Task(task));
    }

    /// The job fails over (a task crashed, or too many checkpoints failed): every task goes down
    /// and the restart strategy decides when — or whether — it restarts.
    pub(super) fn fail(&mut self, cause: Cause) {
        let now = self.now;
        if self.faults.job_failed.is_some() || self.complete {
            return;
        }
        if self.faults.down_since.is_none() {
            // A new failover, not a failure while the job is already down.
            self.faults.down_since = Some(now);
            self.faults.catching_up = None;
            self.faults.crashed.clear();
            self.faults.offsets_at_crash.clear();
        }
        match &cause {
            Cause::Task(task) => {
                self.faults.crashed.push(*task);
                self.faults.failures += 1;
                self.faults.crash_times.push(now);
                self.tracer.record(now, TraceEvent::Crash { task: *task }, &self.graph);
            }
            Cause::Checkpoints(_) => {
                self.faults.checkpoint_failovers += 1;
                self.faults.crash_times.push(now);
                self.tracer.record(now, TraceEvent::Failover, &self.graph);
            }
        }
        // The tasks this failure takes down: the failed task's pipelined region (Flink's
        // default failover strategy), or every task (`full`, and any failover the checkpoint
        // coordinator asks for, which is global in Flink).
        let hit: Vec<bool> = match (&cause, self.faults.failover) {
            // Uncoordinated checkpoints restart the job from its recovery line: global.
            (Cause::Task(t), FailoverStrategy::Region) if self.local.is_none() => {
                let r = self.faults.regions[t.0 as usize];
                self.faults.regions.iter().map(|&x| x == r).collect()
            }
            _ => vec![true; self.tasks.len()],
        };
        let newly: Vec<bool> = hit.iter().zip(&self.faults.down).map(|(&h, &d)| h && !d).collect();
        if newly.iter().any(|&d| d) {
            for (i, t) in self.tasks.iter().enumerate() {
                if let (true, Some(s)) = (newly[i], &t.source) {
                    self.faults.offsets_at_crash.push((TaskId(i as u32), s.cursor().offset));
                }
            }
            // Every checkpoint in progress involves every task: all of them are abandoned.
            self.stop_interrupted_by_failover();
            self.abort_all(Outcome::Failed);
            for (t, _) in self.tasks.iter_mut().zip(&newly).filter(|(_, d)| **d) {
                t.go_down(now);
            }
            for (c, node) in self.graph.channels.iter().enumerate() {
                if newly[node.to.0 as usize] {
                    if let Some(s) = self.input_blocked_since[c].take() {
                        self.input_blocked_ns += now - s;
                    }
                    self.eop_arrived[c] = false;
                }
            }
            self.net.reset_tasks(&newly);
            // A loop lies in one region: what was inside it is gone (its channel state, if any,
            // is counted back in at the restart).
            for (l, lp) in self.graph.loops.iter().enumerate() {
                if newly[lp.heads[0].0 as usize] {
                    self.in_loop[l] = 0;
                }
            }
            for (d, n) in self.faults.down.iter_mut().zip(&newly) {
                *d |= n;
            }
        }
        // Everything in flight or scheduled for the tasks that are down is void, and so are the
        // coordinator's timers (a restart re-arms them); the other tasks go on.
        let down = &self.faults.down;
        let channels = &self.graph.channels;
        self.queue.retain(|e| match *e {
            // The materialization timer keeps running; an upload in progress is lost.
            Event::Crash(_) | Event::RandomFailure | Event::Materialize(_) | Event::StopWithSavepoint => true,
            Event::Tick | Event::Timeout(_) | Event::Deadline(_) | Event::Restart | Event::Metadata(_) => false,
            // The storage's clock: kept (uploads of the tasks still up go on).
            Event::Storage => true,
            Event::Wake(t)
            | Event::SourceArrival(t)
            | Event::Flush(t)
            | Event::TriggerArrive(t, _)
            | Event::Ack(t, _)
            | Event::Notify(t, _)
            | Event::NotifyAborted(t, _)
            | Event::Unhalt(t, _)
            | Event::LocalCheckpoint(t)
            | Event::Restored(t) => !down[t.0 as usize],
            Event::Net(
                NetEvent::Arrive(ch) | NetEvent::Credit(ch, _) | NetEvent::Resume(ch) | NetEvent::BufferSize(ch, _),
            ) => !down[channels[ch.0 as usize].to.0 as usize],
        });
        self.wake.retain(|t| !down[t.0 as usize]);
        // Their uploads are lost too.
        let down = self.faults.down.clone();
        self.cancel_uploads(|u| match *u {
            super::Upload::Ack(t, _) | super::Upload::Materialized(t, _) => down[t.0 as usize],
        });
        match self.faults.strategy.on_failure(now) {
            Ok(delay) => self.queue.push(now + delay, Event::Restart),
            Err(why) => {
                let what = match &cause {
                    Cause::Task(task) => format!("{} crashed", self.graph.task(*task).name),
                    Cause::Checkpoints(why) => why.clone(),
                };
                self.faults.job_failed = Some(format!("{what}; {why}"));
            }
        }
    }

    /// A task's download is done: it resumes (unless it went down again meanwhile — then its
    /// event was discarded with everything else).
    pub(super) fn restored(&mut self, task: TaskId) {
        if self.tasks[task.0 as usize].state == State::Down {
            self.tasks[task.0 as usize].state = State::Idle;
            self.try_run(task);
        }
    }

    /// Restores every task from the latest completed checkpoint (or from the start) and resumes.
    pub(super) fn restart(&mut self) {
        let now = self.now;
        self.faults.restarts += 1;
        self.faults.restart_times.push(now);
        let failed_at = self.faults.down_since.unwrap_or(now);
        if let Some(since) = self.faults.down_since.take() {
            self.faults.downtime += now - since;
        }
        self.tracer.record(now, TraceEvent::Restart, &self.graph);
        // Restarted tasks (finished ones too) materialize again.
        self.arm_materialization();
        let latest = match self.recovery_line_to_restore(failed_at) {
            Some(line) => Some(line),
            None => self.coord.as_ref().and_then(|c| c.latest().cloned()),
        };
        let replay = !self.sabotage.skip_channel_state_replay;
        let mut visible = Vec::new();
        let down = std::mem::replace(&mut self.faults.down, vec![false; self.tasks.len()]);
        for (n, d) in self.faults.task_restarts.iter_mut().zip(&down) {
            *n += *d as u32;
        }
        for (i, t) in self.tasks.iter_mut().enumerate() {
            if !down[i] {
                continue;
            }
            let spec = &self.scenario.topology.operators[self.graph.tasks[i].op];
            let bpk = spec.state_bytes_per_key.unwrap_or(16);
            match &latest {
                Some(cp) => {
                    let snap = &cp.tasks[i];
                    t.backend.restore(Some((&snap.backend, &snap.files)), &self.scenario.state, i as u32, bpk);
                    t.logic = snap.logic.clone();
                    t.state_digest = snap.state_digest;
                    if let (Some(src), Some(c)) = (&mut t.source, &snap.cursor) {
                        src.seek(c.clone());
                    }
                    if let Some(s) = &mut t.sink {
                        visible.extend(s.restore_and_commit(&snap.sink, now));
                    }
                }
                None => {
                    t.backend.restore(None, &self.scenario.state, i as u32, bpk);
                    // Back to the start: empty state, or the savepoint the job started from.
                    t.logic = t.initial_logic.clone().unwrap_or_else(|| Logic::new(spec));
                    t.state_digest = 0;
                    if let (Some(src), Some(c)) = (&mut t.source, &t.initial_cursor) {
                        src.seek(c.clone());
                    }
                }
            }
            t.state = State::Idle;
            t.halted = None;
            t.batch = None;
        }
        self.make_visible(&visible);
        if self.stop.done.is_some() {
            // Stopped with a savepoint that completed: the restore committed its transactions,
            // and the stopped job has nothing more to do.
            self.complete_job();
        }
        // Restore cost: each task downloads its state and the channel state of its inputs from
        // the checkpoint storage (all of them at once, sharing the bandwidth) and resumes when its
        // download is done. With task-local recovery only the tasks that crashed download.
        if let (Some(cp), Some(c)) = (&latest, &self.coord) {
            let cfg = c.cfg();
            let record_bytes = self.scenario.network.record_bytes as u64;
            let mut bytes: Vec<u64> = cp.tasks.iter().map(|t| t.state_bytes).collect();
            for (ch, node) in self.graph.channels.iter().enumerate() {
                bytes[node.to.0 as usize] += cp.channel_state[ch].len() as u64 * record_bytes;
            }
            for (i, b) in bytes.iter_mut().enumerate() {
                // Tasks that kept running restore nothing; with task-local recovery, tasks that
                // did not crash read their local copy.
                if !down[i] || (cfg.local_recovery && !self.faults.crashed.contains(&TaskId(i as u32))) {
                    *b = 0;
                }
            }
            let mut done = shared_downloads(&bytes, cfg.read_latency, cfg.read_bytes_per_sec);
            // Changelog: the log since the base is re-applied after the download.
            for (i, d) in done.iter_mut().enumerate() {
                let replay = cp.tasks[i].files.replay_bytes;
                if down[i] && replay > 0 {
                    *d += CoordinatorConfig::transfer(replay, cfg.sync_bytes_per_sec);
                }
            }
            self.faults.restore += done.iter().copied().max().unwrap_or(0);
            self.faults.restore_bytes += bytes.iter().sum::<u64>();
            for (i, d) in done.into_iter().enumerate() {
                if d > 0 {
                    self.tasks[i].state = State::Down;
                    self.queue.push(now + d, Event::Restored(TaskId(i as u32)));
                }
            }
        }
        for (c, node) in self.graph.channels.iter().enumerate() {
            let ch = ChannelId(c as u32);
            if !down[node.to.0 as usize] {
                continue;
            }
            match &latest {
                Some(cp) => {
                    let (from, to) = (&cp.tasks[node.from.0 as usize], &cp.tasks[node.to.0 as usize]);
                    let out = from.sent_index(&self.graph, ch);
                    let sent = out.map_or(0, |i| from.sent[i].1);
                    let input = to.consumed_index(&self.graph, ch);
                    let (consumed, digest, kv) = input.map_or((0, 0, 0), |i| {
                        let x = &to.consumed[i];
                        (x.1, x.2, x.3)
                    });
                    // Non-FIFO channels: the sequence numbers written and taken, as the snapshots
                    // saw them (all 0 on FIFO channels).
                    let seqs = (
                        out.and_then(|i| from.seqs.1.get(i)).copied().unwrap_or(0),
                        input.and_then(|i| to.seqs.0.get(i)).copied().unwrap_or((0, 0)),
                    );
                    let recovered = if replay { cp.channel_state[c].clone() } else { Vec::new() };
                    if let Some(l) = self.graph.channel_loop[c] {
                        self.in_loop[l as usize] += recovered.len() as u64;
                    }
                    let at = RestoredCounters { sent, consumed, digest, kv, seqs };
                    self.net.restore_channel(ch, at, recovered);
                }
                None => {
                    let (n, kv) = self.initial_channel[c];
                    let recs = if replay { self.initial_inflight[c].clone() } else { Vec::new() };
                    let sent = n + self.initial_inflight[c].len() as u64;
                    let seqs = self.net.prefix_seqs(sent, n);
                    self.net.restore_channel(ch, RestoredCounters { sent, consumed: n, digest: 0, kv, seqs }, recs)
                }
            }
        }
        self.final_cp = None;
        self.final_notifies_left = 0;
        self.rearm_local_checkpoints();
        if let Some(c) = &mut self.coord {
            let cmds = c.on_restart(now);
            self.exec(cmds);
        }
        // Recovery figures: what the sources read again, and when they are back where they were.
        let mut targets = Vec::new();
        for &(task, at_crash) in &self.faults.offsets_at_crash {
            let restored = self.tasks[task.0 as usize].source.as_ref().map_or(0, |s| s.cursor().offset);
            self.faults.reprocessed += at_crash.saturating_sub(restored);
            targets.push((task, at_crash, restored >= at_crash));
        }
        self.faults.catching_up = Some(CatchUp { since: now, targets });
        // Sources that lost nothing are back already (a restore right at their offsets).
        self.faults.settle_catch_up(now);
        for a in self.faults.during_recovery.iter_mut().filter(|a| !a.fired) {
            a.fired = true;
            self.queue.push(now + a.when, Event::Crash(a.task));
        }
        for t in 0..self.tasks.len() {
            self.try_run(TaskId(t as u32));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shared_downloads;
    use crate::sim::MS;

    #[test]
    fn concurrent_downloads_share_the_bandwidth() {
        // 1 MiB/s shared by three tasks of 1, 2 and 0 MiB, 5 ms latency each: the small one ends
        // when 2 × 1 MiB went through (2 s), the large one 1 s later; nothing to fetch is free.
        let mib = 1 << 20;
        let d = shared_downloads(&[mib, 2 * mib, 0], 5 * MS, mib);
        assert_eq!(d, vec![5 * MS + 2000 * MS, 5 * MS + 3000 * MS, 0]);
    }
}
