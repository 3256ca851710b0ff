//! Stop-with-savepoint and starting from a savepoint.
//!
//! Stopping: at the requested time periodic checkpoints stop and the coordinator triggers an
//! aligned savepoint — at once beside any checkpoint in progress when the run is aligned (a
//! forced request, as in Flink), otherwise once none is in progress, with the run's protocol
//! swapped for `aligned` (Flink's savepoints are always aligned). Each source stops reading at
//! its snapshot, and the savepoint is the job's final checkpoint: the job ends once every task
//! heard of its completion (the sinks commit). With `drain`, the sources end first and
//! FLIP-147's final checkpoint, after every task finished, is the savepoint. If the savepoint fails (timeout, crash), the job runs
//! on with its own protocol and checkpoints, as a failed `stop` leaves a Flink job running.
//!
//! Starting: every keyed task gets the keys its key-group range owns at the new parallelism,
//! every source its log position; a restart before the first checkpoint returns there.

use super::Engine;
use crate::coordinator::{Completed, CoordCmd};
use crate::graph::TaskId;
use crate::operator::{KeyedSum, Logic};
use crate::protocol::CheckpointId;
use crate::scenario::OperatorKind;
use crate::sim::SimTime;
use crate::state::savepoint::{
    CarriedRecord, ChannelState, Restore, SAVEPOINT_FORMAT, Savepoint, SavepointFormat, SavepointMeta,
    SavepointOperator, SourcePosition, TaskState,
};

/// The stop-with-savepoint request and its progress.
pub(super) struct Stopping {
    pub(super) request: Option<super::StopWithSavepoint>,
    /// The time came; the savepoint waits for the checkpoint in progress to end.
    pub(super) waiting: bool,
    /// The savepoint's checkpoint id, once triggered.
    pub(super) cp: Option<CheckpointId>,
    pub(super) triggered: Option<SimTime>,
    /// The run's own protocol while the aligned savepoint runs.
    pub(super) saved_protocol: Option<Box<dyn crate::protocol::Protocol>>,
    /// The savepoint, once complete.
    pub(super) done: Option<Savepoint>,
    /// Why it failed, if it did.
    pub(super) failed: Option<String>,
}

impl Stopping {
    pub(super) fn new(request: Option<super::StopWithSavepoint>) -> Self {
        Stopping { request, waiting: false, cp: None, triggered: None, saved_protocol: None, done: None, failed: None }
    }

    /// `cp` is the savepoint.
    pub(super) fn is(&self, cp: CheckpointId) -> bool {
        self.cp == Some(cp)
    }
}

impl Engine<'_> {
    /// The stop-with-savepoint time came.
    pub(super) fn on_stop_with_savepoint(&mut self) {
        let Some(req) = self.stop.request else { return };
        if self.complete || self.faults.job_failed.is_some() || self.stop.cp.is_some() {
            self.stop.failed.get_or_insert_with(|| "the job had ended before the stop time".into());
            return;
        }
        if !req.drain && self.faults.down_since.is_some() {
            // Flink declines a savepoint unless every task runs: the stop fails, the job runs on.
            self.stop.failed = Some(
                "the job was restarting at the stop time (a savepoint needs every task running); the job runs on"
                    .into(),
            );
            return;
        }
        if req.drain {
            // The sources end where they are; the final checkpoint after every task finished
            // is the savepoint (see `savepoint_triggered`).
            for t in 0..self.tasks.len() {
                if let Some(src) = &mut self.tasks[t].source {
                    let at = src.cursor().offset;
                    src.stop_at(Some((at, true)));
                    self.try_run(TaskId(t as u32));
                }
            }
            self.stop.waiting = true;
            return;
        }
        self.stop.waiting = true;
        self.maybe_trigger_savepoint();
    }

    /// The job fails over: a stop without drain still waiting for its slot cannot start. Flink
    /// declines a savepoint while tasks are not running, so the stop fails and the job runs on
    /// (had it waited, a checkpoint aborted by the failover would have let the savepoint start
    /// on tasks going down, and the restarted sources would have stopped for it).
    pub(super) fn stop_interrupted_by_failover(&mut self) {
        if self.stop.waiting && self.stop.cp.is_none() && self.stop.request.is_some_and(|r| !r.drain) {
            self.stop.waiting = false;
            self.stop.failed = Some(
                "a task failed before the savepoint could start (it needs every task running); the job runs on".into(),
            );
        }
    }

    /// Triggers the savepoint (a stop without drain): at once when the run is aligned, else once
    /// no checkpoint is in progress.
    pub(super) fn maybe_trigger_savepoint(&mut self) {
        let Some(req) = self.stop.request else { return };
        if req.drain || !self.stop.waiting || self.stop.cp.is_some() || self.faults.down_since.is_some() {
            return;
        }
        if !self.sources_running() {
            // The input ended first: the job finishes with its final checkpoint (FLIP-147).
            self.stop.waiting = false;
            self.stop.failed =
                Some("the sources reached the end of their logs before the savepoint could start".into());
            return;
        }
        // Flink's stop-with-savepoint is a forced request unless unaligned checkpoints are on
        // (`CheckpointProperties.forSyncSavepoint(!unalignedCheckpointsEnabled, …)`): with aligned
        // checkpoints it starts at once, beside the checkpoints in progress, whatever
        // `max_concurrent`. Any other protocol waits until none is in progress, then runs the
        // savepoint with aligned barriers in its place.
        let aligned_run = self.protocol.as_ref().is_some_and(|p| p.name() == crate::scenario::ProtocolName::ALIGNED);
        let Some(c) = &mut self.coord else { return };
        if c.has_pending() && !aligned_run {
            return;
        }
        self.stop.waiting = false;
        if !aligned_run {
            let aligned = crate::protocol::create(crate::scenario::ProtocolName::ALIGNED);
            self.stop.saved_protocol = std::mem::replace(&mut self.protocol, aligned);
        }
        let cmds = c.trigger_savepoint(self.now);
        if let Some(CoordCmd::Trigger { timing, .. }) = cmds.first() {
            self.stop.cp = Some(timing.id);
            self.stop.triggered = Some(self.now);
        }
        self.exec(cmds);
    }

    /// A drained stop: the final checkpoint just triggered is the savepoint.
    pub(super) fn final_checkpoint_triggered(&mut self, cp: CheckpointId) {
        if self.stop.request.is_some_and(|r| r.drain) && self.stop.waiting && self.stop.cp.is_none() {
            self.stop.waiting = false;
            self.stop.cp = Some(cp);
            self.stop.triggered = Some(self.now);
            if let Some(p) = self.coord.as_mut().and_then(|c| c.pending_mut(cp)) {
                p.savepoint = true;
            }
        }
    }

    /// A source snapshotted for the savepoint: it reads no further.
    pub(super) fn source_snapshotted(&mut self, task: TaskId, cp: CheckpointId) {
        // (A drain ended the sources already: they stay ended.)
        if self.stop.is(cp)
            && self.stop.request.is_some_and(|r| !r.drain)
            && let Some(src) = &mut self.tasks[task.0 as usize].source
        {
            // Paused, not ended: if the savepoint fails the source reads on.
            let at = src.cursor().offset;
            src.stop_at(Some((at, false)));
        }
    }

    /// A checkpoint ended: the savepoint's outcome, or the wait for a free slot is over.
    pub(super) fn savepoint_checkpoint_ended(&mut self, cp: CheckpointId, completed: bool, why: &str) {
        if !self.stop.is(cp) {
            self.maybe_trigger_savepoint();
            return;
        }
        if completed {
            let done = self.coord.as_ref().and_then(|c| c.latest()).filter(|l| l.id == cp).cloned();
            if let Some(l) = done {
                let req = self.stop.request.expect("a savepoint was asked for");
                self.stop.done = Some(self.image(&l, false, req.format, req.drain));
            }
            return;
        }
        if self.stop.request.is_some_and(|r| r.drain) {
            // A drain cannot be undone (the sources ended): the final checkpoint is retried
            // (FLIP-147), and the next one is the savepoint.
            self.stop.cp = None;
            self.stop.waiting = true;
            return;
        }
        // It failed: the job runs on, with its own protocol and checkpoints.
        self.stop.failed = Some(format!("savepoint (checkpoint {cp}) {why}; the job runs on"));
        self.stop.cp = None;
        if let Some(p) = self.stop.saved_protocol.take() {
            self.protocol = Some(p);
        }
        for t in &mut self.tasks {
            if let Some(src) = &mut t.source {
                src.stop_at(None);
            }
        }
        self.final_cp = None;
        if let Some(c) = &mut self.coord {
            let cmds = c.resume_periodic(self.now);
            self.exec(cmds);
        }
        for t in 0..self.tasks.len() {
            self.try_run(TaskId(t as u32));
        }
    }

    /// The completed checkpoint `l` as a savepoint, or (`retained`) as a retained checkpoint
    /// with its in-flight data and the sinks' transactions it covers that were not committed.
    fn image(&self, l: &Completed, retained: bool, format: SavepointFormat, drained: bool) -> Savepoint {
        let s = self.scenario;
        let mut operators = Vec::new();
        let mut states = Vec::new();
        for (oi, o) in self.graph.operators.iter().enumerate() {
            let mut files = Vec::new();
            let mut per = Vec::new();
            for (i, &t) in o.tasks.iter().enumerate() {
                let snap = &l.tasks[t.0 as usize];
                let mut st = TaskState::default();
                if let Logic::KeyedSum(k) = &snap.logic {
                    st.keyed = k.sums().into_iter().collect();
                }
                st.source = snap.cursor.as_ref().map(SourcePosition::of);
                if retained && let Some(sink) = &self.tasks[t.0 as usize].sink {
                    st.pending = sink
                        .pending_up_to(l.id)
                        .into_iter()
                        .map(|(lin, arrival, value)| CarriedRecord {
                            partition: lin.partition,
                            offset: lin.offset,
                            key: 0,
                            value,
                            arrival_ns: arrival + self.log_shift,
                        })
                        .collect();
                }
                let has = !st.keyed.is_empty() || st.source.is_some() || !st.pending.is_empty();
                files.push(has.then(|| format!("{}-{i}.json", o.id)));
                per.push(st);
            }
            operators.push(SavepointOperator {
                id: o.id.clone(),
                kind: o.kind,
                parallelism: s.topology.operators[oi].parallelism,
                max_parallelism: o.max_parallelism,
                first_task: o.tasks[0].0,
                files,
            });
            states.push(per);
        }
        let mut channels = Vec::new();
        if retained {
            for (c, recs) in l.channel_state.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
                let node = &self.graph.channels[c];
                let (from, to) = (&self.graph.tasks[node.from.0 as usize], &self.graph.tasks[node.to.0 as usize]);
                channels.push(ChannelState {
                    from: self.graph.operators[from.op].id.clone(),
                    from_index: from.index,
                    to: self.graph.operators[to.op].id.clone(),
                    to_index: to.index,
                    records: recs
                        .iter()
                        .map(|r| CarriedRecord {
                            partition: r.partition,
                            offset: r.offset,
                            key: r.key,
                            value: r.value,
                            arrival_ns: r.arrival + self.log_shift,
                        })
                        .collect(),
                });
            }
        }
        Savepoint {
            channels,
            meta: SavepointMeta {
                format_version: SAVEPOINT_FORMAT,
                kind: if retained { "checkpoint" } else { "savepoint" }.into(),
                scenario: s.name.clone(),
                fingerprint: s.fingerprint(),
                seed: s.seed,
                checkpoint_id: l.id,
                triggered_ms: crate::sim::ns_to_ms(if retained {
                    l.tasks.iter().map(|t| t.at).min().unwrap_or(0)
                } else {
                    self.stop.triggered.unwrap_or(0)
                }),
                completed_ms: crate::sim::ns_to_ms(self.now),
                log_time_ns: self.now + self.log_shift,
                format,
                state_backend: s.state.label(),
                drained,
                bytes: l.tasks.iter().map(|t| t.state_bytes).sum(),
                operators,
            },
            states,
        }
    }

    /// Starts from a savepoint: each task's state as [`Restore::plan`] laid it out.
    pub(super) fn apply_restore(&mut self, r: &Restore) {
        let now = self.now;
        self.restored_from = Some(crate::metrics::RestoredSummary {
            kind: r.kind.clone(),
            checkpoint_id: r.checkpoint_id,
            notes: r.notes.clone(),
        });
        self.log_shift = r.log_shift;
        for (i, t) in self.tasks.iter_mut().enumerate() {
            let task = i as u32;
            if let Some(cursor) = r.sources.get(&task) {
                if let Some(src) = &mut t.source {
                    src.seek(cursor.clone());
                    src.set_shift(r.log_shift);
                }
                t.initial_cursor = Some(cursor.clone());
            }
            if let (Some(sums), OperatorKind::KeyedSum) = (r.keyed.get(&task), t.kind) {
                let bpk = self.scenario.topology.operators[self.graph.tasks[i].op].state_bytes_per_key.unwrap_or(16);
                let mut k = KeyedSum::new(bpk);
                for (&key, &sum) in sums {
                    k.set(key, sum);
                    // The backend loads the restored state (a RocksDB job writes it into its
                    // tree; the first checkpoint uploads it all, as after a restore in Flink's
                    // default NO_CLAIM mode).
                    if t.backend.tracks_writes() {
                        t.backend.write(key, now);
                    }
                }
                let logic = Logic::KeyedSum(k);
                // The cut checker's ground truth: the restored state stands for what its first
                // input delivered before the job started.
                if let Some(&ch) = self.graph.tasks[i].input_gates.iter().flatten().next() {
                    self.initial_channel[ch.0 as usize].1 = logic.state_kv().unwrap_or(0);
                }
                t.initial_logic = Some(logic.clone());
                t.logic = logic;
            }
        }
        // A retained checkpoint's in-flight data goes back into its (new) channels, ahead of
        // anything new; its pending transactions are committed at once.
        let inflight: Vec<(usize, &Vec<CarriedRecord>)> = r
            .inflight
            .iter()
            .map(|(&(from, to), recs)| {
                let ch = self.graph.tasks[from as usize]
                    .outputs
                    .iter()
                    .flatten()
                    .copied()
                    .find(|&c| self.graph.channel(c).to.0 == to)
                    .expect("the restore plan names channels of this job");
                (ch.0 as usize, recs)
            })
            .collect();
        let mut inflight_len = vec![0u64; self.initial_channel.len()];
        for &(c, recs) in &inflight {
            inflight_len[c] = recs.len() as u64;
        }
        // The records a source read before its restored offset count as written on each output
        // edge (on every channel of a broadcast edge) — those still in flight among them too.
        for (&task, cursor) in &r.sources {
            for chs in &self.graph.tasks[task as usize].outputs {
                let broadcast = self.graph.edges[self.graph.channel(chs[0]).edge].partitioner
                    == crate::scenario::Partitioner::Broadcast;
                if broadcast {
                    for &ch in chs {
                        self.initial_channel[ch.0 as usize].0 = cursor.offset - inflight_len[ch.0 as usize];
                    }
                } else {
                    let carried: u64 = chs.iter().map(|c| inflight_len[c.0 as usize]).sum();
                    self.initial_channel[chs[0].0 as usize].0 = cursor.offset - carried;
                }
            }
        }
        for (c, recs) in inflight {
            let n = self.initial_channel[c].0;
            self.initial_inflight[c] = recs
                .iter()
                .enumerate()
                .map(|(i, x)| crate::operator::Record {
                    key: x.key,
                    value: x.value,
                    partition: x.partition,
                    offset: x.offset,
                    arrival: x.arrival_ns.saturating_sub(r.log_shift),
                    seq: n + i as u64,
                    rounds: 0, // savepoints refuse jobs with iterations
                })
                .collect();
        }
        for c in 0..self.initial_channel.len() {
            let (n, kv) = self.initial_channel[c];
            let recs = self.initial_inflight[c].clone();
            if (n, kv) != (0, 0) || !recs.is_empty() {
                let sent = n + recs.len() as u64;
                let at = crate::net::RestoredCounters {
                    sent,
                    consumed: n,
                    digest: 0,
                    kv,
                    seqs: self.net.prefix_seqs(sent, n),
                };
                self.net.restore_channel(crate::graph::ChannelId(c as u32), at, recs);
            }
        }
        let committed: Vec<crate::operator::sink::TxnRecord> = r
            .pending
            .values()
            .flatten()
            .map(|x| {
                let l = crate::operator::Lineage { partition: x.partition, offset: x.offset };
                (l, x.arrival_ns.saturating_sub(r.log_shift), x.value)
            })
            .collect();
        self.make_visible(&committed);
    }

    /// The latest completed checkpoint, kept as `checkpoint.retention` says when the job ends
    /// without finishing (cancelled, or failed for good).
    pub(super) fn retained_checkpoint(&self) -> Option<Savepoint> {
        use crate::scenario::Retention;
        let retention = self.scenario.checkpointing.as_ref()?.retention;
        let keep = match retention {
            Retention::NoExternalizedCheckpoints => false,
            Retention::DeleteOnCancellation => self.faults.job_failed.is_some(),
            Retention::RetainOnCancellation => self.faults.job_failed.is_some() || self.watch.cancelled.is_some(),
        };
        let l = self.coord.as_ref()?.latest()?;
        keep.then(|| self.image(l, true, SavepointFormat::Canonical, false))
    }

    /// The savepoint, if the stop succeeded, and why it failed otherwise.
    pub(super) fn take_savepoint(&mut self) -> (Option<Savepoint>, Option<String>) {
        (self.stop.done.take(), self.stop.failed.take())
    }
}
