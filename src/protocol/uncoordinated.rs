//! Uncoordinated checkpointing: the scheme coordinated snapshots replaced. No coordinator, no
//! barriers, no channel state: every operator chain takes a *local checkpoint* — its state and its
//! channel counters — on its own timer (`checkpointing.interval_ms`, at a phase of its own). A
//! failure restarts the job from the *recovery line*: the latest local checkpoint per task that
//! together make a consistent cut with nothing in flight (nothing recorded what was), found by
//! rolling tasks back one at a time — possibly all the way to the start (the domino effect).
//!
//! Output may only become visible once no failure can roll it back: a sink commits what its
//! local checkpoint on the *current* recovery line (the one every task could fall back to now)
//! pre-committed. On a steady stream that line stays at the start, so nothing is visible until the
//! job ends — the output-commit problem that made coordinated checkpoints win.
//!
//! The protocol makes no decisions on barriers (there are none); the local checkpoints, the
//! recovery line and the commits are the engine's (`engine/uncoordinated.rs`), and the line
//! search is [`crate::verify::uncoordinated::recovery_line`].

use super::{
    Action, BarrierPath, ChannelStateRule, CheckpointId, CheckpointTiming, Protocol, ProtocolInfo, ProtocolName,
    SourceMode, TaskView,
};
use crate::sim::{ChannelId, SimTime};

/// The registry row (see [`super::registry`]).
pub const INFO: ProtocolInfo = ProtocolInfo {
    name: "uncoordinated",
    summary: "uncoordinated: every task checkpoints on its own timer; a failure rolls back to the recovery line (the domino effect), and output commits only below it",
    create: Some(|| Box::new(Uncoordinated)),
    exactly_once: true,
    channel_state: ChannelStateRule::Never,
    uses_aligned_timeout: false,
    concurrent_checkpoints: true,
    pauses_sender_after_barrier: false,
    sources: SourceMode::Continuous,
    coordinated: false,
    narrate_snapshot: |s| {
        (
            format!("{} takes a local checkpoint on its own timer: its state and its channel counters", s.task),
            "uncoordinated: no barrier, no channel state; consistency is sought only after a failure (the recovery line)"
                .into(),
        )
    },
};

/// The uncoordinated protocol: nothing to decide.
#[derive(Clone, Copy, Debug, Default)]
pub struct Uncoordinated;

impl Protocol for Uncoordinated {
    fn name(&self) -> ProtocolName {
        ProtocolName::UNCOORDINATED
    }

    fn barrier_path(&self, _: &CheckpointTiming, _: SimTime) -> BarrierPath {
        BarrierPath::InBand
    }

    fn on_barrier(&mut self, _: &TaskView, _: ChannelId, _: CheckpointId, _: bool, _: &mut Vec<Action>) {}
}
