//! At-least-once (Flink `CheckpointingMode.AT_LEAST_ONCE`): barriers in-band, no blocking; the
//! task snapshots when the *last* barrier arrives and records no channel state. Records taken
//! from an input after its barrier are in the snapshot although their senders' snapshots say
//! they were never sent (orphans), so a recovery may duplicate them. This is the negative control
//! the checkers must catch.

use super::SourceMode;
use super::{
    Action, BarrierCount, BarrierPath, ChannelStateRule, CheckpointId, CheckpointTiming, Protocol, ProtocolInfo,
    ProtocolName, TaskView,
};
use crate::sim::SimTime;
use crate::sim::{ChannelId, TaskId};

/// The registry row (see [`super::registry`]).
pub const INFO: ProtocolInfo = ProtocolInfo {
    name: "at_least_once",
    summary: "no alignment and no channel state: snapshot at the last barrier (may duplicate on recovery)",
    create: Some(|| Box::new(AtLeastOnce::default())),
    exactly_once: false,
    channel_state: ChannelStateRule::Never,
    uses_aligned_timeout: false,
    concurrent_checkpoints: true,
    pauses_sender_after_barrier: false,
    sources: SourceMode::Continuous,
    coordinated: true,
    narrate_snapshot: |s| {
        (
            format!(
                "{} snapshots at its last barrier; it never blocked, so records that came after an earlier barrier are in its state",
                s.task
            ),
            "at-least-once: no alignment, no channel state — a recovery may duplicate".into(),
        )
    },
};

/// The at-least-once protocol.
#[derive(Clone, Debug, Default)]
pub struct AtLeastOnce {
    barriers: BarrierCount,
}

impl Protocol for AtLeastOnce {
    fn name(&self) -> ProtocolName {
        ProtocolName::AT_LEAST_ONCE
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
