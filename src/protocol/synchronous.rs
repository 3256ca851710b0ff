//! Synchronous (stop-the-world) snapshots, as in the systems asynchronous barrier snapshotting
//! was measured against (Carbone et al. 2015, §6; Naiad's synchronous checkpoints): the
//! coordinator halts the sources, the job drains what is in flight, every task snapshots, and only
//! when the whole snapshot is stored does processing resume.
//!
//! Built from the same parts as aligned checkpoints: at the trigger a source snapshots its
//! offset, emits the barrier and *stops reading* ([`SourceMode::HaltDuringCheckpoint`]); barriers
//! travel in-band, so when a task has the barrier on every input it has processed everything
//! sent before the halt — the job is drained up to it — and it snapshots. Nothing is in flight
//! at any snapshot, so channel state is empty; the sources read again once the checkpoint's end
//! (completed or aborted) reaches them. The pause — drain, snapshot and upload — is the price:
//! the shorter the interval, the larger the share of time the job stands still.

use super::aligned::Aligned;
use super::{ChannelStateRule, ProtocolInfo, ProtocolName, SourceMode};

/// The registry row (see [`super::registry`]).
pub const INFO: ProtocolInfo = ProtocolInfo {
    name: "synchronous",
    summary: "stop-the-world snapshots: halt the sources, drain the job, snapshot every task, resume when stored",
    create: Some(|| Box::new(Aligned::named(ProtocolName::SYNCHRONOUS))),
    exactly_once: true,
    channel_state: ChannelStateRule::Never,
    uses_aligned_timeout: false,
    // One halt at a time: the next trigger waits for the sources to read again.
    concurrent_checkpoints: false,
    pauses_sender_after_barrier: false,
    sources: SourceMode::HaltDuringCheckpoint,
    coordinated: true,
    narrate_snapshot: |s| {
        (
            if s.has_outputs {
                format!(
                    "{} has barrier {} {}: everything sent before the sources halted is processed, so it snapshots and forwards barrier {}",
                    s.task, s.cp, s.all_inputs, s.cp
                )
            } else {
                format!(
                    "{} has barrier {} {}: the job is drained up to here; it snapshots (a sink: no barrier to forward)",
                    s.task, s.cp, s.all_inputs
                )
            },
            "synchronous: the sources halted at the trigger; a task snapshots once the barrier shows its inputs drained, and nothing resumes until the whole snapshot is stored".into(),
        )
    },
};
