//! Aligned checkpoints (asynchronous barrier snapshotting, Flink's exactly-once default).
//!
//! Barriers travel in-band. When barrier `n` is taken from input `c`, block `c`: its later data
//! stays queued and its credits run out, which is backpressure. When barrier `n` has arrived on
//! every input (an ended input counts as arrived), snapshot, emit barrier `n` on every output and
//! unblock. Nothing in flight belongs to the snapshot: channel state is empty.

use super::SourceMode;
use super::{
    Action, BarrierCount, BarrierPath, ChannelStateRule, CheckpointId, CheckpointTiming, Protocol, ProtocolInfo,
    ProtocolName, TaskView,
};
use crate::sim::SimTime;
use crate::sim::{ChannelId, TaskId};

/// The registry row (see [`super::registry`]).
pub const INFO: ProtocolInfo = ProtocolInfo {
    name: "aligned",
    summary: "aligned barriers (asynchronous barrier snapshotting): block each input until all barriers arrived",
    create: Some(|| Box::new(Aligned::default())),
    exactly_once: true,
    channel_state: ChannelStateRule::Never,
    uses_aligned_timeout: false,
    concurrent_checkpoints: true,
    pauses_sender_after_barrier: true,
    sources: SourceMode::Continuous,
    coordinated: true,
    narrate_snapshot: |s| {
        (
            if s.has_outputs {
                format!(
                    "{} has barrier {} {}: it snapshots its state and forwards barrier {} on its outputs",
                    s.task, s.cp, s.all_inputs, s.cp
                )
            } else {
                format!(
                    "{} has barrier {} {}: it snapshots its state (a sink: no barrier to forward)",
                    s.task, s.cp, s.all_inputs
                )
            },
            "aligned: snapshot when the last barrier arrived; no in-flight data belongs to the snapshot".into(),
        )
    },
};

/// The aligned protocol: also the barrier handling of `synchronous` and `micro_batch`, which
/// differ only in when their sources read (their registry rows' [`super::SourceMode`]).
#[derive(Clone, Debug)]
pub struct Aligned {
    pub(super) barriers: BarrierCount,
    name: ProtocolName,
}

impl Default for Aligned {
    fn default() -> Self {
        Aligned::named(ProtocolName::ALIGNED)
    }
}

impl Aligned {
    /// Aligned barrier handling under the registry row `name`.
    pub fn named(name: ProtocolName) -> Self {
        Aligned { barriers: BarrierCount::default(), name }
    }

    /// True when `task` took a barrier of `cp` and waits for the others.
    pub fn is_aligning(&self, task: TaskId, cp: CheckpointId) -> bool {
        self.barriers.waiting(task, cp)
    }
}

impl Protocol for Aligned {
    fn name(&self) -> ProtocolName {
        self.name
    }

    fn barrier_path(&self, _: &CheckpointTiming, _: SimTime) -> BarrierPath {
        BarrierPath::InBand
    }

    fn on_barrier(&mut self, t: &TaskView, ch: ChannelId, cp: CheckpointId, _: bool, out: &mut Vec<Action>) {
        if t.snapshotted {
            return;
        }
        if self.barriers.arrive(t, cp, ch) {
            self.barriers.forget(t.task, cp);
            out.push(Action::Snapshot { cp, record_inputs: false });
            out.push(Action::UnblockAll);
        } else {
            out.push(Action::Block(ch));
        }
    }

    fn on_input_ended(&mut self, t: &TaskView, ch: ChannelId, out: &mut Vec<Action>) {
        for cp in self.barriers.input_ended(t, ch) {
            self.barriers.forget(t.task, cp);
            out.push(Action::Snapshot { cp, record_inputs: false });
            out.push(Action::UnblockAll);
        }
    }

    fn on_checkpoint_end(&mut self, task: TaskId, cp: CheckpointId, out: &mut Vec<Action>) {
        if self.barriers.forget(task, cp) {
            out.push(Action::UnblockAll);
        }
    }
}
