//! Lai-Yang (1987): snapshots without FIFO channels. Every record carries its sender's colour —
//! white if written before the sender's snapshot, red after. A process snapshots at its own
//! trigger (the sources), at the first control message of the checkpoint on an input, or — the
//! step FIFO-free correctness rests on — before it takes its first red record: whatever it takes
//! after its snapshot was either written after the sender's (red, so no orphan) or is white and
//! goes to the channel state. The channel state of an input is the white records that reach the
//! process after its snapshot; since they may come in any order, a control message tells how
//! many white records the sender wrote, and the recording of that channel ends when they are all
//! in — not when the control message arrives, which may overtake some of them.
//!
//! The decisions are Chandy-Lamport's (snapshot on the first control message, never block); the
//! colouring and the counted recording are the engine's, by this row's
//! [`ChannelStateRule::WhiteRecords`]. Here the colour bit is the engine's ground truth — a
//! record is red once its sender has snapshotted and its sequence number is at least the count
//! the sender had written then — exactly what the bit piggybacked on each record would say.

use super::chandy_lamport::ChandyLamport;
use super::{ChannelStateRule, ProtocolInfo, ProtocolName, SourceMode};

/// The registry row (see [`super::registry`]).
pub const INFO: ProtocolInfo = ProtocolInfo {
    name: "lai_yang",
    summary: "Lai-Yang: coloured records for non-FIFO channels; a red record makes its receiver snapshot first, white ones arriving after are channel state",
    create: Some(|| Box::new(ChandyLamport::named(ProtocolName::LAI_YANG))),
    exactly_once: true,
    channel_state: ChannelStateRule::WhiteRecords,
    uses_aligned_timeout: false,
    // One checkpoint's colours at a time.
    concurrent_checkpoints: false,
    pauses_sender_after_barrier: false,
    sources: SourceMode::Continuous,
    coordinated: true,
    narrate_snapshot: |s| {
        (
            if s.has_outputs {
                format!(
                    "{} records its state (checkpoint {}): from now on it writes red records, and it sends a control message with its count of white ones on every output",
                    s.task, s.cp
                )
            } else {
                format!(
                    "{} records its state (checkpoint {}) and records the white records still to come on its inputs (a sink: no output)",
                    s.task, s.cp
                )
            },
            "Lai-Yang: snapshot at the first control message or before the first red record; white records arriving after the snapshot are channel state, counted in".into(),
        )
    },
};
