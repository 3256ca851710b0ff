//! Unaligned checkpoints (Flink FLIP-76).
//!
//! Barriers are priority events: a task's barrier overtakes its queued output buffers, which are
//! persisted as output channel state, and at the receiver it overtakes the queued input buffers.
//! On the *first* barrier `n` a task snapshots at once — even when backpressured — and records,
//! for every input, the data ahead of barrier `n` that it has not consumed (queued now, or
//! arriving until barrier `n` arrives on that input). Nothing blocks.

use super::{Action, BarrierPath, CheckpointId, CheckpointTiming, Protocol, TaskView};
use crate::graph::ChannelId;
use crate::scenario::ProtocolName;
use crate::sim::SimTime;

/// The unaligned protocol.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unaligned;

impl Protocol for Unaligned {
    fn name(&self) -> ProtocolName {
        ProtocolName::Unaligned
    }

    fn barrier_path(&self, _: &CheckpointTiming, _: SimTime) -> BarrierPath {
        BarrierPath::Priority
    }

    fn on_barrier(&mut self, t: &TaskView, _: ChannelId, cp: CheckpointId, _: bool, out: &mut Vec<Action>) {
        if !t.snapshotted {
            out.push(Action::Snapshot { cp, record_inputs: true });
        }
    }
}
