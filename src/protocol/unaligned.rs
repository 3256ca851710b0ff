//! Unaligned checkpoints (Flink FLIP-76).
//!
//! Barriers are priority events: a task's barrier overtakes its queued output buffers, which are
//! persisted as output channel state, and at the receiver it overtakes the queued input buffers.
//! On the *first* barrier `n` a task snapshots at once — even when backpressured — and records,
//! for every input, the data ahead of barrier `n` that it has not consumed (queued now, or
//! arriving until barrier `n` arrives on that input). Nothing blocks.

use super::{
    Action, BarrierPath, ChannelStateRule, CheckpointId, CheckpointTiming, Protocol, ProtocolInfo, ProtocolName,
    SourceMode, TaskView,
};
use crate::sim::ChannelId;
use crate::sim::SimTime;

/// The registry row (see [`super::registry`]).
pub const INFO: ProtocolInfo = ProtocolInfo {
    name: "unaligned",
    summary: "unaligned: priority barriers overtake buffered data, which is persisted as channel state",
    create: Some(|| Box::new(Unaligned)),
    exactly_once: true,
    channel_state: ChannelStateRule::Always,
    uses_aligned_timeout: false,
    concurrent_checkpoints: false,
    pauses_sender_after_barrier: false,
    sources: SourceMode::Continuous,
    coordinated: true,
    narrate_snapshot: |s| {
        (
            format!(
                "{} snapshots at its first barrier; its barrier overtakes its output buffers, and the data it overtook — and its inputs' data ahead of their barriers — becomes channel state",
                s.task
            ),
            "unaligned: snapshot on the first barrier, persist the overtaken data, never block".into(),
        )
    },
};

/// The unaligned protocol.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unaligned;

impl Protocol for Unaligned {
    fn name(&self) -> ProtocolName {
        ProtocolName::UNALIGNED
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
