//! Aligned checkpoints with a timeout (Flink `execution.checkpointing.aligned-checkpoint-timeout`).
//!
//! A checkpoint starts aligned. Once the timeout has passed since its trigger, it turns unaligned
//! everywhere (as in Flink, where every task compares the barrier's trigger timestamp with the
//! timeout): barriers still queued at a sender or a receiver become priority barriers, and a task
//! still aligning snapshots at once and records the inputs whose barrier is missing. The inputs that
//! had already delivered their barrier stay blocked until every barrier has arrived, as in Flink's
//! `AlternatingCollectingBarriersUnaligned` (FLINK-22638). A task that sees its first barrier after
//! the deadline snapshots unaligned at once. The engine computes the deadline
//! (trigger + `aligned_checkpoint_timeout_ms`) and passes it in [`CheckpointTiming`].

use super::{
    Action, BarrierCount, BarrierPath, ChannelStateRule, CheckpointId, CheckpointTiming, Protocol, ProtocolInfo,
    ProtocolName, TaskView,
};
use crate::sim::SimTime;
use crate::sim::{ChannelId, TaskId};

/// The registry row (see [`super::registry`]).
pub const INFO: ProtocolInfo = ProtocolInfo {
    name: "aligned_timeout",
    summary: "aligned, switching a checkpoint to unaligned once aligned_checkpoint_timeout_ms has passed",
    create: Some(|| Box::new(AlignedTimeout::default())),
    exactly_once: true,
    channel_state: ChannelStateRule::AfterAlignedTimeout,
    uses_aligned_timeout: true,
    concurrent_checkpoints: false,
    narrate_snapshot: |s| {
        if s.past_deadline {
            (
                format!(
                    "{} snapshots unaligned: the checkpoint passed its aligned timeout; what is still ahead of the barriers becomes channel state",
                    s.task
                ),
                "aligned_timeout after the timeout: as unaligned".into(),
            )
        } else {
            (
                format!("{} has barrier {} {} before the timeout: it snapshots aligned", s.task, s.cp, s.all_inputs),
                "aligned_timeout before the timeout: as aligned".into(),
            )
        }
    },
};

/// The aligned-with-timeout protocol: aligned until the deadline, unaligned after it.
#[derive(Clone, Debug, Default)]
pub struct AlignedTimeout {
    barriers: BarrierCount,
}

impl AlignedTimeout {
    /// Every barrier of `cp` has arrived (or its input ended): release the inputs, and snapshot if
    /// the task had not switched (a snapshot already taken is not taken again) — recording the
    /// inputs when the last barrier overtook data (past the deadline).
    fn aligned(&mut self, t: &TaskView, cp: CheckpointId, overtaking: bool, out: &mut Vec<Action>) {
        self.barriers.forget(t.task, cp);
        if !t.snapshotted {
            out.push(Action::Snapshot { cp, record_inputs: overtaking });
        }
        out.push(Action::UnblockAll);
    }
}

impl Protocol for AlignedTimeout {
    fn name(&self) -> ProtocolName {
        ProtocolName::ALIGNED_TIMEOUT
    }

    fn barrier_path(&self, cp: &CheckpointTiming, now: SimTime) -> BarrierPath {
        match cp.deadline {
            Some(d) if now >= d => BarrierPath::Priority,
            _ => BarrierPath::InBand,
        }
    }

    fn on_barrier(&mut self, t: &TaskView, ch: ChannelId, cp: CheckpointId, overtaking: bool, out: &mut Vec<Action>) {
        let complete = self.barriers.arrive(t, cp, ch);
        if complete {
            return self.aligned(t, cp, overtaking, out);
        }
        if t.snapshotted {
            // Switched already: the inputs that delivered their barrier stay blocked until every
            // barrier arrived, as in Flink (FLINK-22638).
            out.push(Action::Block(ch));
        } else if overtaking {
            // Past the deadline: snapshot unaligned at once; the inputs whose barrier is still
            // missing are recorded, the others stay blocked.
            out.push(Action::Snapshot { cp, record_inputs: true });
            out.push(Action::Block(ch));
        } else {
            out.push(Action::Block(ch));
        }
    }

    fn on_input_ended(&mut self, t: &TaskView, ch: ChannelId, out: &mut Vec<Action>) {
        for cp in self.barriers.input_ended(t, ch) {
            // `t.snapshotted` is not set for this call: a snapshot taken at the switch is not
            // taken again (the engine ignores a second snapshot of the same checkpoint).
            self.aligned(t, cp, false, out);
        }
    }

    fn on_deadline(&mut self, t: &TaskView, cp: CheckpointId, out: &mut Vec<Action>) {
        if !t.snapshotted && self.barriers.waiting(t.task, cp) {
            // Aligning when the timeout expires: switch to unaligned. The inputs that delivered
            // their barrier stay blocked (FLINK-22638).
            out.push(Action::Snapshot { cp, record_inputs: true });
        }
    }

    fn on_checkpoint_end(&mut self, task: TaskId, cp: CheckpointId, out: &mut Vec<Action>) {
        if self.barriers.forget(task, cp) {
            out.push(Action::UnblockAll);
        }
    }
}
