//! Snapshot protocols: one file each, behind one trait.
//!
//! A protocol *decides*; the engine *acts*. The engine tells a protocol when a barrier reached a
//! task, when an input ended, when the aligned-checkpoint deadline passed and when a checkpoint
//! ended; the protocol answers with [`Action`]s (block this input, snapshot now and record the
//! inputs whose barrier is still missing, unblock). The protocol also says how the barriers a
//! task emits travel ([`BarrierPath`]). Everything else — forwarding barriers, recording channel
//! state, the storage model, acks — is the engine's, so a protocol file is a few dozen lines.
//!
//! Adding a protocol = one file implementing [`Protocol`] + one line in [`create`].

mod aligned;
mod aligned_timeout;
mod at_least_once;
mod chandy_lamport;
mod unaligned;

pub use aligned::Aligned;
pub use aligned_timeout::AlignedTimeout;
pub use at_least_once::AtLeastOnce;
pub use chandy_lamport::ChandyLamport;
pub use unaligned::Unaligned;

use crate::graph::{ChannelId, TaskId};
use crate::scenario::ProtocolName;
use crate::sim::SimTime;
use std::collections::BTreeMap;

/// Checkpoint number: 1, 2, 3, … in trigger order.
pub type CheckpointId = u64;

/// What a protocol sees of a task when it decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskView {
    /// The task.
    pub task: TaskId,
    /// Number of input channels.
    pub inputs: u32,
    /// Input channels whose end-of-partition the task has consumed.
    pub ended: u32,
    /// True when the task already took its snapshot for the checkpoint in question.
    pub snapshotted: bool,
}

/// What a protocol asks the engine to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Stop offering this input channel to the task (aligned: the barrier arrived on it).
    Block(ChannelId),
    /// Unblock every input channel of the task.
    UnblockAll,
    /// Snapshot the task for checkpoint `cp` now and emit barrier `cp` on every output. With
    /// `record_inputs`, every input channel's data ahead of barrier `cp` that the task has not
    /// consumed becomes channel state (already queued, or arriving until the barrier arrives).
    Snapshot {
        /// The checkpoint.
        cp: CheckpointId,
        /// Record the inputs' in-flight data ahead of the barrier.
        record_inputs: bool,
    },
}

/// How the barriers a task emits travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarrierPath {
    /// FIFO with the data, behind every queued buffer.
    InBand,
    /// Overtaking the buffers queued at the sender and at the receiver.
    Priority,
}

/// When a checkpoint started, and when (if ever) it turns unaligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointTiming {
    /// The checkpoint.
    pub id: CheckpointId,
    /// When the coordinator triggered it.
    pub trigger: SimTime,
    /// `aligned_timeout`: trigger + `aligned_checkpoint_timeout_ms`.
    pub deadline: Option<SimTime>,
}

/// A snapshot protocol. Called by the engine at the moments named below; answers in `out`.
pub trait Protocol {
    /// The protocol's name.
    fn name(&self) -> ProtocolName;

    /// How barrier `cp` travels when a task emits it (or when it arrives) at `now`.
    fn barrier_path(&self, cp: &CheckpointTiming, now: SimTime) -> BarrierPath;

    /// Barrier `cp` reached task `t` on input `ch`: taken from the queue in FIFO order
    /// (`overtaking = false`) or, for a priority barrier, as soon as the task could look at it.
    fn on_barrier(&mut self, t: &TaskView, ch: ChannelId, cp: CheckpointId, overtaking: bool, out: &mut Vec<Action>);

    /// Task `t` consumed the end of input `ch` (no barrier will come on it any more).
    fn on_input_ended(&mut self, t: &TaskView, ch: ChannelId, out: &mut Vec<Action>) {
        let _ = (t, ch, out);
    }

    /// The aligned-checkpoint deadline of `cp` passed (only with a deadline).
    fn on_deadline(&mut self, t: &TaskView, cp: CheckpointId, out: &mut Vec<Action>) {
        let _ = (t, cp, out);
    }

    /// Checkpoint `cp` completed or was aborted: forget it, unblock what it blocked.
    fn on_checkpoint_end(&mut self, task: TaskId, cp: CheckpointId, out: &mut Vec<Action>) {
        let _ = (task, cp, out);
    }

    /// Whether the data a priority barrier overtakes at the sender is persisted as channel
    /// state. Every correct protocol does; a deliberately broken variant may not.
    fn persists_overtaken_output(&self) -> bool {
        true
    }
}

/// The protocol named `name`; `None` for `none` (no checkpointing).
pub fn create(name: ProtocolName) -> Option<Box<dyn Protocol>> {
    Some(match name {
        ProtocolName::None => return None,
        ProtocolName::Aligned => Box::new(Aligned::default()),
        ProtocolName::Unaligned => Box::new(Unaligned),
        ProtocolName::ChandyLamport => Box::new(ChandyLamport),
        ProtocolName::AtLeastOnce => Box::new(AtLeastOnce::default()),
        ProtocolName::AlignedTimeout => Box::new(AlignedTimeout::default()),
    })
}

/// Barrier bookkeeping shared by the protocols that wait for every input: per task and
/// checkpoint, the inputs on which the barrier arrived.
#[derive(Clone, Debug, Default)]
pub struct BarrierCount {
    seen: BTreeMap<(TaskId, CheckpointId), u32>,
}

impl BarrierCount {
    /// Counts a barrier; returns true when barriers (plus ended inputs) now cover every input.
    pub fn arrive(&mut self, t: &TaskView, cp: CheckpointId) -> bool {
        let n = self.seen.entry((t.task, cp)).or_insert(0);
        *n += 1;
        *n + t.ended >= t.inputs
    }

    /// Checkpoints the task is waiting on whose barriers plus ended inputs now cover every input.
    pub fn complete_after_end(&self, t: &TaskView) -> Vec<CheckpointId> {
        self.seen
            .range((t.task, 0)..=(t.task, CheckpointId::MAX))
            .filter(|&(_, &n)| n + t.ended >= t.inputs)
            .map(|(&(_, cp), _)| cp)
            .collect()
    }

    /// True when the task is waiting on `cp` (some barrier arrived, snapshot not taken).
    pub fn waiting(&self, task: TaskId, cp: CheckpointId) -> bool {
        self.seen.contains_key(&(task, cp))
    }

    /// Forgets `cp` at `task`.
    pub fn forget(&mut self, task: TaskId, cp: CheckpointId) -> bool {
        self.seen.remove(&(task, cp)).is_some()
    }
}
