//! Aligned checkpoints with a timeout (Flink `execution.checkpointing.aligned-checkpoint-timeout`).
//!
//! A checkpoint starts aligned. Once the timeout has passed since its trigger, it turns unaligned
//! everywhere (as in Flink, where every task compares the barrier's trigger timestamp with the
//! timeout): barriers still queued at a sender or a receiver become priority barriers, and a task
//! still aligning snapshots at once and records the inputs whose barrier is missing. The inputs
//! that had delivered their barrier before the switch stay blocked until every barrier has
//! arrived (FLINK-22638; Flink's `AlternatingCollectingBarriersUnaligned` keeps them blocked and
//! unblocks all in `finishCheckpoint`). A task that sees its first barrier after the deadline
//! behaves unaligned from the start. The engine computes the deadline
//! (trigger + `aligned_checkpoint_timeout_ms`) and passes it in [`CheckpointTiming`].

use super::SourceMode;
use super::{
    Action, Aligned, BarrierPath, ChannelStateRule, CheckpointId, CheckpointTiming, Protocol, ProtocolInfo,
    ProtocolName, TaskView,
};
use crate::sim::SimTime;
use crate::sim::{ChannelId, TaskId};
use std::collections::BTreeSet;

/// The registry row (see [`super::registry`]).
pub const INFO: ProtocolInfo = ProtocolInfo {
    name: "aligned_timeout",
    summary: "aligned, switching a checkpoint to unaligned once aligned_checkpoint_timeout_ms has passed",
    create: Some(|| Box::new(AlignedTimeout::default())),
    exactly_once: true,
    channel_state: ChannelStateRule::AfterAlignedTimeout,
    uses_aligned_timeout: true,
    concurrent_checkpoints: false,
    pauses_sender_after_barrier: true,
    sources: SourceMode::Continuous,
    coordinated: true,
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
    /// Tasks that switched to unaligned in a checkpoint and still wait for some barriers, with
    /// the inputs aligned before the switch still blocked.
    switched: BTreeSet<(TaskId, CheckpointId)>,
}

impl AlignedTimeout {
    /// Snapshots unaligned; the barrier count goes on until every barrier arrived.
    fn switch(&mut self, t: &TaskView, cp: CheckpointId, out: &mut Vec<Action>) {
        out.push(Action::Snapshot { cp, record_inputs: true });
        self.switched.insert((t.task, cp));
    }

    /// Every barrier of `cp` arrived (or its input ended) after the switch: unblock all.
    fn finish(&mut self, task: TaskId, cp: CheckpointId, out: &mut Vec<Action>) {
        self.aligned.barriers.forget(task, cp);
        self.switched.remove(&(task, cp));
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
            if self.switched.contains(&(t.task, cp)) && self.aligned.barriers.arrive(t, cp, ch) {
                self.finish(t.task, cp, out);
            }
            return;
        }
        if overtaking {
            // Past the deadline: unaligned from here on.
            self.switch(t, cp, out);
            if self.aligned.barriers.arrive(t, cp, ch) {
                self.finish(t.task, cp, out);
            }
        } else {
            self.aligned.on_barrier(t, ch, cp, false, out);
        }
    }

    fn on_input_ended(&mut self, t: &TaskView, ch: ChannelId, out: &mut Vec<Action>) {
        for cp in self.aligned.barriers.input_ended(t, ch) {
            if self.switched.contains(&(t.task, cp)) {
                self.finish(t.task, cp, out);
            } else {
                self.aligned.barriers.forget(t.task, cp);
                out.push(Action::Snapshot { cp, record_inputs: false });
                out.push(Action::UnblockAll);
            }
        }
    }

    fn on_deadline(&mut self, t: &TaskView, cp: CheckpointId, out: &mut Vec<Action>) {
        if !t.snapshotted && self.aligned.is_aligning(t.task, cp) {
            self.switch(t, cp, out);
        }
    }

    fn on_checkpoint_end(&mut self, task: TaskId, cp: CheckpointId, out: &mut Vec<Action>) {
        self.switched.remove(&(task, cp));
        self.aligned.on_checkpoint_end(task, cp, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(snapshotted: bool) -> TaskView {
        TaskView { task: TaskId(0), inputs: 2, ended: 0, snapshotted }
    }

    /// FLINK-22638: at the switch to unaligned, an input that had already delivered its barrier
    /// stays blocked until the missing barrier arrives.
    #[test]
    fn aligned_inputs_stay_blocked_after_the_switch_until_every_barrier_arrived() {
        let mut p = AlignedTimeout::default();
        let mut out = Vec::new();
        p.on_barrier(&view(false), ChannelId(0), 1, false, &mut out);
        assert_eq!(out, vec![Action::Block(ChannelId(0))]);
        out.clear();
        p.on_deadline(&view(false), 1, &mut out);
        assert_eq!(out, vec![Action::Snapshot { cp: 1, record_inputs: true }]);
        out.clear();
        p.on_barrier(&view(true), ChannelId(1), 1, true, &mut out);
        assert_eq!(out, vec![Action::UnblockAll]);
        // Nothing is left waiting.
        out.clear();
        p.on_checkpoint_end(TaskId(0), 1, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn an_input_that_ends_after_the_switch_completes_the_alignment() {
        let mut p = AlignedTimeout::default();
        let mut out = Vec::new();
        p.on_barrier(&view(false), ChannelId(0), 1, false, &mut out);
        p.on_deadline(&view(false), 1, &mut out);
        out.clear();
        let ended = TaskView { task: TaskId(0), inputs: 2, ended: 1, snapshotted: true };
        p.on_input_ended(&ended, ChannelId(1), &mut out);
        assert_eq!(out, vec![Action::UnblockAll]);
    }
}
