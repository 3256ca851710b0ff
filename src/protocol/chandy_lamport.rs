//! Chandy-Lamport (1985): markers travel in-band (FIFO). On the first marker `n` a process
//! records its state, sends marker `n` on every output, and records every other input from then
//! until marker `n` arrives on it (the first input's channel state is empty). Nothing blocks.

use super::{
    Action, BarrierPath, ChannelStateRule, CheckpointId, CheckpointTiming, Protocol, ProtocolInfo, ProtocolName,
    SourceMode, TaskView,
};
use crate::sim::ChannelId;
use crate::sim::SimTime;

/// The registry row (see [`super::registry`]).
pub const INFO: ProtocolInfo = ProtocolInfo {
    name: "chandy_lamport",
    summary: "Chandy-Lamport: in-band markers, record channels between the local snapshot and each marker",
    create: Some(|| Box::new(ChandyLamport::named(ProtocolName::CHANDY_LAMPORT))),
    exactly_once: true,
    channel_state: ChannelStateRule::Always,
    uses_aligned_timeout: false,
    concurrent_checkpoints: true,
    pauses_sender_after_barrier: false,
    sources: SourceMode::Continuous,
    coordinated: true,
    narrate_snapshot: |s| {
        (
            if s.has_outputs {
                format!(
                    "{} records its state at its first marker, sends marker {} on every output, and records its other inputs until their markers arrive",
                    s.task, s.cp
                )
            } else {
                format!(
                    "{} records its state at its first marker and records its other inputs until their markers arrive (a sink: no marker to send)",
                    s.task
                )
            },
            "Chandy-Lamport: on the first marker record the state and the other channels; no blocking".into(),
        )
    },
};

/// The Chandy-Lamport protocol: also Lai-Yang's decisions (snapshot at the first marker,
/// never block), whose colouring is the engine's (by its registry row's
/// [`ChannelStateRule::WhiteRecords`]).
#[derive(Clone, Copy, Debug)]
pub struct ChandyLamport {
    name: ProtocolName,
}

impl ChandyLamport {
    /// Chandy-Lamport's decisions under the registry row `name`.
    pub fn named(name: ProtocolName) -> Self {
        ChandyLamport { name }
    }
}

impl Protocol for ChandyLamport {
    fn name(&self) -> ProtocolName {
        self.name
    }

    fn barrier_path(&self, _: &CheckpointTiming, _: SimTime) -> BarrierPath {
        BarrierPath::InBand
    }

    fn on_barrier(&mut self, t: &TaskView, _: ChannelId, cp: CheckpointId, _: bool, out: &mut Vec<Action>) {
        if !t.snapshotted {
            out.push(Action::Snapshot { cp, record_inputs: true });
        }
    }
}
