//! Snapshot protocols: one file each, behind one trait.
//!
//! A protocol *decides*; the engine *acts*. The engine tells a protocol when a barrier reached a
//! task, when an input ended, when the aligned-checkpoint deadline passed and when a checkpoint
//! ended; the protocol answers with [`Action`]s (block this input, snapshot now and record the
//! inputs whose barrier is still missing, unblock). The protocol also says how the barriers a
//! task emits travel ([`BarrierPath`]). Everything else — forwarding barriers, recording channel
//! state, the storage model, acks — is the engine's, so a protocol file is a few dozen lines.
//!
//! Adding a protocol = one file implementing [`Protocol`] with its [`ProtocolInfo`] row, plus
//! one line in [`REGISTRY`] (and the `mod` line that declares the file).

mod aligned;
mod aligned_timeout;
mod at_least_once;
mod chandy_lamport;
mod lai_yang;
mod micro_batch;
mod registry;
mod synchronous;
mod unaligned;
mod uncoordinated;

pub use aligned::Aligned;
pub use aligned_timeout::AlignedTimeout;
pub use at_least_once::AtLeastOnce;
pub use chandy_lamport::ChandyLamport;
pub use registry::{ChannelStateRule, ProtocolInfo, ProtocolName, REGISTRY, SnapshotStory, SourceMode};
pub use unaligned::Unaligned;

use crate::sim::{ChannelId, SimTime, TaskId};
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
}

/// The protocol named `name`; `None` for `none` (no checkpointing).
pub fn create(name: ProtocolName) -> Option<Box<dyn Protocol>> {
    name.create()
}

/// Barrier bookkeeping shared by the protocols that wait for every input: per task and
/// checkpoint, the inputs on which the barrier arrived. An input that ended counts as arrived;
/// one that delivered its barrier and then ended counts once.
#[derive(Clone, Debug, Default)]
pub struct BarrierCount {
    seen: BTreeMap<(TaskId, CheckpointId), Seen>,
}

#[derive(Clone, Debug, Default)]
struct Seen {
    channels: Vec<ChannelId>,
    /// Of those, inputs that ended afterwards (already counted in `TaskView::ended`).
    ended_after: u32,
}

impl Seen {
    fn complete(&self, t: &TaskView) -> bool {
        self.channels.len() as u32 + t.ended - self.ended_after >= t.inputs
    }
}

impl BarrierCount {
    /// Counts barrier `cp` on input `ch`; returns true when every input has its barrier or ended.
    pub fn arrive(&mut self, t: &TaskView, cp: CheckpointId, ch: ChannelId) -> bool {
        let s = self.seen.entry((t.task, cp)).or_default();
        s.channels.push(ch);
        s.complete(t)
    }

    /// Input `ch` of the task ended (`t.ended` includes it). Returns the checkpoints whose
    /// barriers are now complete.
    pub fn input_ended(&mut self, t: &TaskView, ch: ChannelId) -> Vec<CheckpointId> {
        let mut done = Vec::new();
        for (&(_, cp), s) in self.seen.range_mut((t.task, 0)..=(t.task, CheckpointId::MAX)) {
            if s.channels.contains(&ch) {
                s.ended_after += 1;
            }
            if s.complete(t) {
                done.push(cp);
            }
        }
        done
    }

    /// True when the task is waiting on `cp` (some barrier arrived, snapshot not taken).
    pub fn waiting(&self, task: TaskId, cp: CheckpointId) -> bool {
        self.seen.contains_key(&(task, cp))
    }

    /// Forgets `cp` at `task`; returns whether the task was waiting on it.
    pub fn forget(&mut self, task: TaskId, cp: CheckpointId) -> bool {
        self.seen.remove(&(task, cp)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(ended: u32) -> TaskView {
        TaskView { task: TaskId(0), inputs: 2, ended, snapshotted: false }
    }

    #[test]
    fn an_input_that_ended_after_its_barrier_is_not_counted_twice() {
        let mut b = BarrierCount::default();
        assert!(!b.arrive(&view(0), 1, ChannelId(0)));
        // Channel 0 delivered barrier 1 and then ended: channel 1 still owes its barrier.
        assert!(b.input_ended(&view(1), ChannelId(0)).is_empty());
        assert!(b.arrive(&view(1), 1, ChannelId(1)));
    }

    #[test]
    fn an_input_that_ended_without_a_barrier_counts_as_aligned() {
        let mut b = BarrierCount::default();
        assert!(!b.arrive(&view(0), 1, ChannelId(0)));
        assert_eq!(b.input_ended(&view(1), ChannelId(1)), vec![1]);
    }
}
