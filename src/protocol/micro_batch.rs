//! Micro-batches, as Spark Structured Streaming runs a stream (its checkpointing, as the Chinese
//! Flink literature compares it with Flink's continuous model): the job is a sequence of small
//! batches. A trigger plans batch `n` — at each source, the records that reached its log by then,
//! an offset range that Spark writes to its offset log before the batch runs — the sources read
//! exactly those, and the batch ends with a barrier behind its last record. When every task has
//! the barrier on every input the batch is processed: it snapshots (the state store's version
//! `n`), and the batch commits with its id (the transactional sink's commit of checkpoint `n`).
//! Nothing is read between batches, so a record waits in its log for the next trigger: latency is
//! bounded below by the trigger interval. A crash re-runs the batch that did not commit, from the
//! offsets of the last one that did.
//!
//! The barrier handling is aligned's; what differs is when the sources read
//! ([`SourceMode::MicroBatches`], carried out by the engine).

use super::aligned::Aligned;
use super::{Action, BarrierPath, ChannelStateRule, CheckpointId, CheckpointTiming, Protocol, ProtocolInfo};
use super::{ProtocolName, SourceMode, TaskView};
use crate::sim::{ChannelId, SimTime, TaskId};

/// The registry row (see [`super::registry`]).
pub const INFO: ProtocolInfo = ProtocolInfo {
    name: "micro_batch",
    summary: "micro-batches (Spark Structured Streaming): each trigger plans a batch of what the logs hold, the job processes it, the batch commits",
    create: Some(|| Box::new(MicroBatch::default())),
    exactly_once: true,
    channel_state: ChannelStateRule::Never,
    uses_aligned_timeout: false,
    // One batch at a time: the next is planned when the last one committed.
    concurrent_checkpoints: false,
    pauses_sender_after_barrier: false,
    sources: SourceMode::MicroBatches,
    narrate_snapshot: |s| {
        (
            if s.has_outputs {
                format!(
                    "{} has the end of batch {} {}: it has processed its part of the batch, stores state version {} and passes the end of the batch on",
                    s.task, s.cp, s.all_inputs, s.cp
                )
            } else {
                format!(
                    "{} has the end of batch {} {}: its part of the batch is done; the output waits for the batch to commit",
                    s.task, s.cp, s.all_inputs
                )
            },
            "micro-batch: a batch is done at a task when its end has come on every input; state is versioned per batch, output commits with the batch id".into(),
        )
    },
};

/// The micro-batch protocol: aligned barrier handling (a batch's end on every input); the
/// batching of the sources is the engine's (by the registry row).
#[derive(Clone, Debug, Default)]
pub struct MicroBatch {
    aligned: Aligned,
}

impl Protocol for MicroBatch {
    fn name(&self) -> ProtocolName {
        ProtocolName::MICRO_BATCH
    }

    fn barrier_path(&self, _: &CheckpointTiming, _: SimTime) -> BarrierPath {
        BarrierPath::InBand
    }

    fn on_barrier(&mut self, t: &TaskView, ch: ChannelId, cp: CheckpointId, overtaking: bool, out: &mut Vec<Action>) {
        self.aligned.on_barrier(t, ch, cp, overtaking, out);
    }

    fn on_input_ended(&mut self, t: &TaskView, ch: ChannelId, out: &mut Vec<Action>) {
        self.aligned.on_input_ended(t, ch, out);
    }

    fn on_checkpoint_end(&mut self, task: TaskId, cp: CheckpointId, out: &mut Vec<Action>) {
        self.aligned.on_checkpoint_end(task, cp, out);
    }
}
