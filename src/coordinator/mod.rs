//! The checkpoint coordinator (Flink's `CheckpointCoordinator`) as a state machine.
//!
//! It owns the checkpoints in progress, the latest completed one, the trigger timer's state
//! (`max_concurrent`, `min_pause`, the final checkpoint after end of input), subsumption and the
//! failed-checkpoint counter. Its fields are private: the engine tells it what happened
//! ([`Coordinator::on_tick`], [`Coordinator::on_ack`], [`Coordinator::on_timeout`],
//! [`Coordinator::abort_all`], [`Coordinator::on_restart`]) and carries out the [`CoordCmd`]s it
//! answers with, in order (stateright's `Out` buffer). What each task does with a barrier is the
//! protocol's business (`crate::protocol`); what the engine records while a checkpoint is in
//! progress lives in its [`Pending`] record, which the engine reaches through
//! [`Coordinator::pending_mut`].
//!
//! What does not live here: barriers, snapshots and uploads (`engine/checkpoint.rs`).

mod checkpoint;
mod config;
mod report;

pub use crate::metrics::Outcome;
pub use checkpoint::{ChannelProgress, Completed, Pending, TaskProgress, TaskSnapshot};
pub use config::CoordinatorConfig;

use crate::graph::{Graph, TaskId};
use crate::metrics::{CheckpointStats, TaskCheckpointRow};
use crate::protocol::{CheckpointId, CheckpointTiming};
use crate::sim::SimTime;
use crate::state::StateFile;
use crate::verify::CutViolation;
use std::collections::BTreeMap;

/// What the coordinator asks the engine to do. The engine carries them out in order.
#[derive(Debug)]
pub enum CoordCmd {
    /// Call [`Coordinator::on_tick`] again at this time.
    ScheduleTick(SimTime),
    /// Checkpoint `timing.id` started: inject its trigger at the sources, include finished tasks,
    /// arm its timeout at `timeout_at` (and its aligned-checkpoint deadline, if any).
    Trigger {
        /// Id, trigger time, aligned-checkpoint deadline.
        timing: CheckpointTiming,
        /// When it times out.
        timeout_at: SimTime,
        /// The final checkpoint after every task finished (FLIP-147).
        is_final: bool,
    },
    /// A checkpoint ended (the record is for the metrics; the cut check already ran).
    Ended(Box<Ended>),
    /// The checkpoint's end reaches the tasks: cancel its timers, let the protocol forget it
    /// (unblocking what it blocked) and, if it completed, notify every task.
    Release {
        /// The checkpoint.
        cp: CheckpointId,
        /// It completed (notify the tasks).
        completed: bool,
        /// It timed out: the tasks hear of the abort (Flink's `notifyCheckpointAborted`).
        notify_aborted: bool,
    },
    /// Every task acked: write the checkpoint's metadata file, then call
    /// [`Coordinator::on_metadata`] (the checkpoint completes once it is written).
    WriteMetadata(CheckpointId),
    /// More consecutive checkpoints failed than `tolerable_failed_checkpoints` (Flink's
    /// `CheckpointFailureManager`): the job fails over through its restart strategy. The
    /// counter starts again from zero.
    FailJob(String),
}

/// A checkpoint that ended, with its rows for `checkpoints.csv` and `checkpoint_tasks.csv`.
#[derive(Debug)]
pub struct Ended {
    /// The checkpoint.
    pub cp: CheckpointId,
    /// How it ended.
    pub outcome: Outcome,
    /// Its row.
    pub stats: CheckpointStats,
    /// One row per task.
    pub task_rows: Vec<TaskCheckpointRow>,
    /// Consistent-cut violations (completed checkpoints only).
    pub violations: Vec<CutViolation>,
}

/// What the coordinator needs to know about the job when its trigger timer fires.
#[derive(Clone, Copy, Debug)]
pub struct JobState {
    /// Some source is still reading.
    pub sources_running: bool,
    /// Every task finished (all input processed).
    pub all_finished: bool,
    /// A stop-with-savepoint waits for the checkpoints in progress to end: no periodic one starts.
    pub stopping: bool,
}

/// The coordinator's state.
#[derive(Debug)]
pub struct Coordinator {
    cfg: CoordinatorConfig,
    tasks: usize,
    channels: usize,
    record_bytes: u64,
    pending: BTreeMap<CheckpointId, Pending>,
    next_id: CheckpointId,
    last_end: Option<SimTime>,
    /// Checkpoint failures since the last completed checkpoint.
    consecutive_failed: u32,
    trigger_waiting: bool,
    /// The final checkpoint (FLIP-147) in progress, if any.
    final_id: Option<CheckpointId>,
    /// The final checkpoint completed: nothing more to trigger until a restart.
    final_done: bool,
    latest: Option<Completed>,
    /// The files of the retained completed checkpoints, with reference counts.
    registry: crate::state::SharedRegistry,
    /// Stop-with-savepoint: no more periodic checkpoints.
    stopped: bool,
}

impl Coordinator {
    /// A coordinator with no checkpoint yet, for a job of `graph` whose records are
    /// `record_bytes` long (channel-state sizes).
    pub fn new(cfg: CoordinatorConfig, graph: &Graph, record_bytes: u64) -> Self {
        Coordinator {
            tasks: graph.tasks.len(),
            channels: graph.channels.len(),
            record_bytes,
            pending: BTreeMap::new(),
            next_id: 1,
            last_end: None,
            consecutive_failed: 0,
            trigger_waiting: false,
            final_id: None,
            final_done: false,
            latest: None,
            registry: crate::state::SharedRegistry::new(cfg.num_retained),
            stopped: false,
            cfg,
        }
    }

    /// The settings.
    pub fn cfg(&self) -> &CoordinatorConfig {
        &self.cfg
    }

    /// Checkpoint `cp`, while in progress.
    pub fn pending(&self, cp: CheckpointId) -> Option<&Pending> {
        self.pending.get(&cp)
    }

    /// Checkpoint `cp`, while in progress, for the engine to record barriers and snapshots in.
    pub fn pending_mut(&mut self, cp: CheckpointId) -> Option<&mut Pending> {
        self.pending.get_mut(&cp)
    }

    /// The checkpoints in progress, oldest first.
    pub fn pending_ids(&self) -> Vec<CheckpointId> {
        self.pending.keys().copied().collect()
    }

    /// The checkpoints in progress, oldest first, for the engine to record in.
    pub fn pending_iter_mut(&mut self) -> impl Iterator<Item = (CheckpointId, &mut Pending)> {
        self.pending.iter_mut().map(|(&id, p)| (id, p))
    }

    /// True when a checkpoint is in progress.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The shared-state registry: what the checkpoint storage holds.
    pub fn registry(&self) -> &crate::state::SharedRegistry {
        &self.registry
    }

    /// The latest completed checkpoint: what a restart restores.
    pub fn latest(&self) -> Option<&Completed> {
        self.latest.as_ref()
    }

    /// The run starts: the first trigger is one interval in.
    pub fn start(&self) -> Vec<CoordCmd> {
        vec![CoordCmd::ScheduleTick(self.cfg.interval)]
    }

    /// The trigger timer fired. A trigger waits for a free slot (`max_concurrent`; the end of a
    /// checkpoint re-arms the timer) and for `min_pause` after the last completed checkpoint. Once
    /// the sources finished the timer stops; when every task finished, one final checkpoint runs
    /// (FLIP-147) so the last transactions commit — and runs again until one completes.
    pub fn on_tick(&mut self, now: SimTime, job: JobState) -> Vec<CoordCmd> {
        if self.stopped {
            return Vec::new();
        }
        if !job.sources_running && (self.final_id.is_some() || self.final_done || !job.all_finished) {
            // No checkpoint: the sources finished and the tasks still drain (the final
            // checkpoint follows when they are done), or the final one is under way or done.
            return Vec::new();
        }
        if self.pending.len() >= self.cfg.max_concurrent || (job.stopping && job.sources_running) {
            // Taken up again when a checkpoint in progress ends (at a stop, the savepoint then
            // usually takes its slot and the timer stops).
            self.trigger_waiting = true;
            return Vec::new();
        }
        if let Some(end) = self.last_end
            && now < end + self.cfg.min_pause
        {
            return vec![CoordCmd::ScheduleTick(end + self.cfg.min_pause)];
        }
        if !job.sources_running {
            return vec![self.trigger(now, true)];
        }
        vec![CoordCmd::ScheduleTick(now + self.cfg.interval), self.trigger(now, false)]
    }

    /// Stop-with-savepoint: periodic checkpoints stop, and a savepoint is triggered — the job's
    /// last checkpoint (beside the checkpoints in progress, if any: a forced request).
    pub fn trigger_savepoint(&mut self, now: SimTime) -> Vec<CoordCmd> {
        self.stopped = true;
        let mut cmd = self.trigger(now, true);
        if let CoordCmd::Trigger { timing, .. } = &mut cmd {
            // Always aligned: no aligned-checkpoint timeout turns a savepoint unaligned.
            timing.deadline = None;
            let p = self.pending.get_mut(&timing.id).expect("just triggered");
            p.savepoint = true;
            p.timing.deadline = None;
        }
        vec![cmd]
    }

    /// The savepoint failed: the job runs on, and so do the periodic checkpoints.
    pub fn resume_periodic(&mut self, now: SimTime) -> Vec<CoordCmd> {
        self.stopped = false;
        self.final_id = None;
        vec![CoordCmd::ScheduleTick(now + self.cfg.interval)]
    }

    fn trigger(&mut self, now: SimTime, is_final: bool) -> CoordCmd {
        let id = self.next_id;
        self.next_id += 1;
        if is_final {
            self.final_id = Some(id);
        }
        let timing = CheckpointTiming { id, trigger: now, deadline: self.cfg.aligned_timeout.map(|t| now + t) };
        self.pending.insert(id, Pending::new(timing, self.tasks, self.channels));
        CoordCmd::Trigger { timing, timeout_at: now + self.cfg.timeout, is_final }
    }

    /// `task`'s ack of `cp` arrived (its upload finished). The last ack completes `cp`.
    pub fn on_ack(&mut self, now: SimTime, task: TaskId, cp: CheckpointId) -> Vec<CoordCmd> {
        let Some(p) = self.pending.get_mut(&cp) else { return Vec::new() };
        p.tasks[task.0 as usize].acked = Some(now);
        p.acks += 1;
        if p.acks < self.tasks {
            return Vec::new();
        }
        // Flink's CheckpointCoordinator finalizes a checkpoint by writing its `_metadata` file
        // (the handles of every task's state); it is complete once that is durable.
        vec![CoordCmd::WriteMetadata(cp)]
    }

    /// The metadata file of `cp` is written: `cp` completes (unless it ended meanwhile).
    pub fn on_metadata(&mut self, now: SimTime, cp: CheckpointId, graph: &Graph) -> Vec<CoordCmd> {
        let mut out = Vec::new();
        if self.pending.get(&cp).is_some_and(|p| p.acks == self.tasks) {
            self.end(now, cp, Outcome::Completed, graph, &mut out);
        }
        out
    }

    /// The timeout of `cp` expired: it is aborted if still in progress.
    pub fn on_timeout(&mut self, now: SimTime, cp: CheckpointId, graph: &Graph) -> Vec<CoordCmd> {
        let mut out = Vec::new();
        if self.pending.contains_key(&cp) {
            self.end(now, cp, Outcome::TimedOut, graph, &mut out);
        }
        out
    }

    /// Ends every checkpoint in progress with `outcome` (a task failed: `Failed`; the run
    /// ended: `Unfinished`).
    pub fn abort_all(&mut self, now: SimTime, outcome: Outcome, graph: &Graph) -> Vec<CoordCmd> {
        let mut out = Vec::new();
        for cp in self.pending_ids() {
            self.end(now, cp, outcome, graph, &mut out);
        }
        out
    }

    /// The job restarted: the timer starts over one interval from now.
    pub fn on_restart(&mut self, now: SimTime) -> Vec<CoordCmd> {
        self.trigger_waiting = false;
        self.final_id = None;
        self.final_done = false;
        vec![CoordCmd::ScheduleTick(now + self.cfg.interval)]
    }

    /// Completes or aborts `cp`: its rows and cut check, the failure counter, the trigger timer,
    /// subsumption of older checkpoints, then its release to the tasks.
    fn end(&mut self, now: SimTime, cp: CheckpointId, outcome: Outcome, graph: &Graph, out: &mut Vec<CoordCmd>) {
        let p = self.pending.remove(&cp).expect("ending a pending checkpoint");
        let completed = outcome == Outcome::Completed;
        let violations = if completed { crate::verify::check_cut(graph, &p) } else { Vec::new() };
        let mut stats = report::stats(&p, now, outcome, violations.len(), self.record_bytes);
        // Subtasks of one operator share a channel-state file, up to the configured group size.
        let group = self.cfg.subtasks_per_channel_state_file.max(1);
        let files: std::collections::BTreeSet<(usize, u32)> = p
            .tasks
            .iter()
            .zip(&graph.tasks)
            .filter(|(tp, _)| tp.channel_bytes > 0)
            .map(|(_, t)| (t.op, t.index / group))
            .collect();
        stats.channel_state_files = files.len() as u64;
        if completed && !p.savepoint {
            // The storage keeps the files of the retained checkpoints: this one's gain a
            // reference, the oldest checkpoint beyond the retained number lets go of its own.
            // Channel state is one private file per checkpoint here.
            let channel = StateFile { id: 1 << 63 | cp, bytes: stats.channel_state_bytes };
            let files = p.tasks.iter().filter_map(|t| t.snapshot.as_ref()).flat_map(|s| s.files.files.iter().copied());
            self.registry.register(cp, files.chain((channel.bytes > 0).then_some(channel)));
            stats.storage_bytes = self.registry.held_bytes();
        }
        let task_rows = p
            .tasks
            .iter()
            .zip(&graph.tasks)
            .map(|(tp, t)| report::task_row(&p, tp, &t.name, self.record_bytes))
            .collect();
        out.push(CoordCmd::Ended(Box::new(Ended { cp, outcome, stats, task_rows, violations })));
        if completed {
            // Flink's CheckpointRequestDecider: the min pause counts from the last *completed*
            // checkpoint, not from an abort.
            self.last_end = Some(now);
        }
        let was_final = self.final_id == Some(cp);
        if was_final {
            self.final_id = None;
        }
        match outcome {
            Outcome::Completed => {
                // Completions can come out of order (max_concurrent > 1); the latest never goes
                // back, and older checkpoints still pending are subsumed below, as in Flink.
                debug_assert!(self.latest.as_ref().is_none_or(|l| l.id < cp), "older checkpoints are subsumed");
                self.latest = Some(Completed::from(p));
                self.consecutive_failed = 0;
                self.final_done |= was_final;
            }
            // Abandoned by a failure (the restart takes over), overtaken by a newer checkpoint, or
            // still running when the run ended: not a checkpoint failure (as in Flink's
            // CheckpointFailureManager).
            Outcome::Failed | Outcome::Subsumed | Outcome::Unfinished => {}
            Outcome::TimedOut => {
                self.consecutive_failed += 1;
                if self.consecutive_failed > self.cfg.tolerable_failed {
                    out.push(CoordCmd::FailJob(format!(
                        "checkpoint {cp} {}: {} consecutive failed checkpoints exceed tolerable_failed_checkpoints ({})",
                        outcome.name(),
                        self.consecutive_failed,
                        self.cfg.tolerable_failed
                    )));
                    self.consecutive_failed = 0;
                }
                if was_final {
                    // FLIP-147: the final checkpoint runs again until one completes.
                    self.trigger_waiting = true;
                }
            }
        }
        if self.trigger_waiting {
            self.trigger_waiting = false;
            out.push(CoordCmd::ScheduleTick(now + self.cfg.min_pause));
        }
        if completed {
            let older: Vec<CheckpointId> = self.pending.range(..cp).map(|(&id, _)| id).collect();
            for id in older {
                self.end(now, id, Outcome::Subsumed, graph, out);
            }
        }
        out.push(CoordCmd::Release { cp, completed, notify_aborted: outcome == Outcome::TimedOut });
    }
}

#[cfg(test)]
mod tests;
