//! Aligned checkpoints with a timeout (Flink `execution.checkpointing.aligned-checkpoint-timeout`).
//!
//! A checkpoint starts aligned. Once the timeout has passed since its trigger, it turns unaligned
//! everywhere (as in Flink, where every task compares the barrier's trigger timestamp with the
//! timeout): barriers still queued at a sender or a receiver become priority barriers, and a task
//! still aligning snapshots at once, records the inputs whose barrier is missing, and unblocks the
//! aligned ones (which stayed blocked until the switch, FLINK-22638). A task that sees its first
//! barrier after the deadline behaves unaligned from the start. The engine computes the deadline
//! (trigger + `aligned_checkpoint_timeout_ms`) and passes it in [`CheckpointTiming`].

use super::{
    Action, Aligned, BarrierPath, ChannelStateRule, CheckpointId, CheckpointTiming, Protocol, ProtocolInfo,
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

/// The aligned-with-timeout protocol: [`Aligned`] until the deadline, unaligned after it.
#[derive(Clone, Debug, Default)]
pub struct AlignedTimeout {
    aligned: Aligned,
}

impl AlignedTimeout {
    fn switch(&mut self, t: &TaskView, cp: CheckpointId, out: &mut Vec<Action>) {
        self.aligned.on_checkpoint_end(t.task, cp, &mut Vec::new());
        out.push(Action::Snapshot { cp, record_inputs: true });
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
        if t.snapshotted {
            return;
        }
        if overtaking {
            // Past the deadline: unaligned from here on.
            self.switch(t, cp, out);
        } else {
            self.aligned.on_barrier(t, ch, cp, false, out);
        }
    }

    fn on_input_ended(&mut self, t: &TaskView, ch: ChannelId, out: &mut Vec<Action>) {
        self.aligned.on_input_ended(t, ch, out);
    }

    fn on_deadline(&mut self, t: &TaskView, cp: CheckpointId, out: &mut Vec<Action>) {
        if !t.snapshotted && self.aligned.is_aligning(t.task, cp) {
            self.switch(t, cp, out);
        }
    }

    fn on_checkpoint_end(&mut self, task: TaskId, cp: CheckpointId, out: &mut Vec<Action>) {
        self.aligned.on_checkpoint_end(task, cp, out);
    }
}
