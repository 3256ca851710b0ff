//! Chandy-Lamport (1985): markers travel in-band (FIFO). On the first marker `n` a process
//! records its state, sends marker `n` on every output, and records every other input from then
//! until marker `n` arrives on it (the first input's channel state is empty). Nothing blocks.

use super::{Action, BarrierPath, CheckpointId, CheckpointTiming, Protocol, TaskView};
use crate::graph::ChannelId;
use crate::scenario::ProtocolName;
use crate::sim::SimTime;

/// The Chandy-Lamport protocol.
#[derive(Clone, Copy, Debug, Default)]
pub struct ChandyLamport;

impl Protocol for ChandyLamport {
    fn name(&self) -> ProtocolName {
        ProtocolName::ChandyLamport
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
