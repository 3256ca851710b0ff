//! At-least-once (Flink `CheckpointingMode.AT_LEAST_ONCE`): barriers in-band, no blocking; the
//! task snapshots when the *last* barrier arrives and records no channel state. Records taken
//! from an input after its barrier are in the snapshot although their senders' snapshots say
//! they were never sent (orphans), so a recovery may duplicate them. This is the negative control
//! the checkers must catch.

use super::{Action, BarrierCount, BarrierPath, CheckpointId, CheckpointTiming, Protocol, TaskView};
use crate::graph::{ChannelId, TaskId};
use crate::scenario::ProtocolName;
use crate::sim::SimTime;

/// The at-least-once protocol.
#[derive(Clone, Debug, Default)]
pub struct AtLeastOnce {
    barriers: BarrierCount,
}

impl Protocol for AtLeastOnce {
    fn name(&self) -> ProtocolName {
        ProtocolName::AtLeastOnce
    }

    fn barrier_path(&self, _: &CheckpointTiming, _: SimTime) -> BarrierPath {
        BarrierPath::InBand
    }

    fn on_barrier(&mut self, t: &TaskView, ch: ChannelId, cp: CheckpointId, _: bool, out: &mut Vec<Action>) {
        if !t.snapshotted && self.barriers.arrive(t, cp, ch) {
            self.barriers.forget(t.task, cp);
            out.push(Action::Snapshot { cp, record_inputs: false });
        }
    }

    fn on_input_ended(&mut self, t: &TaskView, ch: ChannelId, out: &mut Vec<Action>) {
        for cp in self.barriers.input_ended(t, ch) {
            self.barriers.forget(t.task, cp);
            out.push(Action::Snapshot { cp, record_inputs: false });
        }
    }

    fn on_checkpoint_end(&mut self, task: TaskId, cp: CheckpointId, _: &mut Vec<Action>) {
        self.barriers.forget(task, cp);
    }
}
