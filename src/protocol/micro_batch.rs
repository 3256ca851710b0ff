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
use super::{ChannelStateRule, ProtocolInfo, ProtocolName, SourceMode};

/// The registry row (see [`super::registry`]).
pub const INFO: ProtocolInfo = ProtocolInfo {
    name: "micro_batch",
    summary: "micro-batches (Spark Structured Streaming): each trigger plans a batch of what the logs hold, the job processes it, the batch commits",
    create: Some(|| Box::new(Aligned::named(ProtocolName::MICRO_BATCH))),
    exactly_once: true,
    channel_state: ChannelStateRule::Never,
    uses_aligned_timeout: false,
    // One batch at a time: the next is planned when the last one committed.
    concurrent_checkpoints: false,
    pauses_sender_after_barrier: false,
    sources: SourceMode::MicroBatches,
    coordinated: true,
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
