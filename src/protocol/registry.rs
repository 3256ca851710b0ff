//! The protocol registry: one row per protocol, holding every fact about it that the rest of the
//! crate needs — its name and one-line summary, its constructor, whether it promises
//! exactly-once, when it records channel state, whether it uses the aligned-checkpoint timeout,
//! and how a snapshot under it is narrated. Scenario parsing, the CLI's help and errors,
//! `compare`'s rows, exploration's list of correct protocols, chart colours, diagrams and
//! `explain` all derive from this table, so adding a protocol is one file (with its
//! [`ProtocolInfo`] constant) plus one line in [`REGISTRY`].

use super::{CheckpointId, Protocol};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// When a protocol's snapshot records in-flight data as channel state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelStateRule {
    /// Never: the snapshot holds operator state only.
    Never,
    /// Always: the inputs whose barrier is still missing at the snapshot are recorded.
    Always,
    /// Only once the checkpoint passed its aligned-checkpoint timeout.
    AfterAlignedTimeout,
    /// Lai-Yang's colouring, for channels that need not be FIFO: every record carries its
    /// sender's colour — white if written before the sender's snapshot, red after. A red
    /// record makes its receiver snapshot before taking it; a receiver's channel state is the
    /// white records that reach it after its snapshot, and its recording of a channel ends when
    /// all the white records its sender wrote are in (the count travels with the marker), not
    /// when the marker arrives.
    WhiteRecords,
}

/// When the sources read their logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceMode {
    /// Continuously; a trigger only makes a source snapshot its offset (every protocol of Flink's).
    Continuous,
    /// Continuously, except from a source's snapshot at the trigger until the checkpoint's end
    /// (completion or abort) reaches it: synchronous snapshots, where the job drains and stands
    /// still while every task snapshots and uploads.
    HaltDuringCheckpoint,
    /// Only in batches: a trigger plans a batch — the records that arrived in the log by then —
    /// the source reads them, then snapshots its offset and emits the barrier that ends the
    /// batch, and reads nothing more until the next trigger (Spark Structured Streaming).
    MicroBatches,
}

/// What a narration of one snapshot knows.
#[derive(Clone, Copy, Debug)]
pub struct SnapshotStory<'a> {
    /// The task that snapshots (`agg[2]`).
    pub task: &'a str,
    /// The checkpoint.
    pub cp: CheckpointId,
    /// `"on its only input"` or `"on all N inputs"`.
    pub all_inputs: &'a str,
    /// The checkpoint already passed its aligned-checkpoint timeout.
    pub past_deadline: bool,
    /// The task has outputs to forward barriers on (a sink has none).
    pub has_outputs: bool,
}

/// Every fact about one protocol.
#[derive(Clone, Copy, Debug)]
pub struct ProtocolInfo {
    /// The snake_case name used in scenario files (`checkpointing.mode`) and on the command line.
    pub name: &'static str,
    /// One line for the CLI's help and reports.
    pub summary: &'static str,
    /// A fresh instance for one run; `None` for no checkpointing.
    pub create: Option<fn() -> Box<dyn Protocol>>,
    /// Whether the protocol promises exactly-once results (explore checks these; a violation by
    /// any other protocol is expected and is not a failure).
    pub exactly_once: bool,
    /// When its snapshots record channel state.
    pub channel_state: ChannelStateRule,
    /// Whether it needs `checkpointing.aligned_checkpoint_timeout_ms`.
    pub uses_aligned_timeout: bool,
    /// Whether several of its checkpoints may be in progress at once (`max_concurrent > 1`).
    /// Flink does not allow it for unaligned checkpoints (aligned timeout included): a priority
    /// barrier of the next checkpoint would keep a task from ever taking a record.
    pub concurrent_checkpoints: bool,
    /// Whether a sender stops sending on a channel after an in-band barrier until the receiver
    /// has finished aligning and sends *ResumeConsumption* (Flink's aligned barriers:
    /// `PipelinedSubpartition` blocks after a barrier that needs alignment), so that the data
    /// behind the barrier waits at the sender, in its output pool.
    pub pauses_sender_after_barrier: bool,
    /// When the sources read their logs.
    pub sources: SourceMode,
    /// A checkpoint coordinator triggers global checkpoints (every protocol but
    /// `uncoordinated`, whose tasks checkpoint on their own timers).
    pub coordinated: bool,
    /// The narration of one task's snapshot: what happened, and the rule behind it.
    pub narrate_snapshot: fn(&SnapshotStory) -> (String, String),
}

const NONE: ProtocolInfo = ProtocolInfo {
    name: "none",
    summary: "no checkpoints: a failure restarts the job from the beginning",
    create: None,
    exactly_once: false,
    channel_state: ChannelStateRule::Never,
    uses_aligned_timeout: false,
    concurrent_checkpoints: true,
    pauses_sender_after_barrier: false,
    sources: SourceMode::Continuous,
    coordinated: true,
    narrate_snapshot: |_| (String::new(), String::new()),
};

/// Every protocol, in the order `compare` shows them.
pub const REGISTRY: &[ProtocolInfo] = &[
    NONE,
    super::aligned::INFO,
    super::unaligned::INFO,
    super::chandy_lamport::INFO,
    super::aligned_timeout::INFO,
    super::at_least_once::INFO,
    super::synchronous::INFO,
    super::micro_batch::INFO,
    super::lai_yang::INFO,
    super::uncoordinated::INFO,
];

/// The name of a registered protocol (`checkpointing.mode`, `--protocol`). It can only be
/// obtained from the registry ([`ProtocolName::parse`], [`ProtocolName::all`]) or from the
/// constants below, which a unit test checks against the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolName(&'static str);

impl ProtocolName {
    /// No checkpointing.
    pub const NONE: ProtocolName = ProtocolName("none");
    /// Aligned barriers (asynchronous barrier snapshotting).
    pub const ALIGNED: ProtocolName = ProtocolName("aligned");
    /// Unaligned checkpoints.
    pub const UNALIGNED: ProtocolName = ProtocolName("unaligned");
    /// Chandy-Lamport.
    pub const CHANDY_LAMPORT: ProtocolName = ProtocolName("chandy_lamport");
    /// Aligned with a timeout to unaligned.
    pub const ALIGNED_TIMEOUT: ProtocolName = ProtocolName("aligned_timeout");
    /// At-least-once mode.
    pub const AT_LEAST_ONCE: ProtocolName = ProtocolName("at_least_once");
    /// Synchronous (stop-the-world) snapshots.
    pub const SYNCHRONOUS: ProtocolName = ProtocolName("synchronous");
    /// Micro-batches (Spark Structured Streaming).
    pub const MICRO_BATCH: ProtocolName = ProtocolName("micro_batch");
    /// Lai-Yang (1987): coloured records, for non-FIFO channels.
    pub const LAI_YANG: ProtocolName = ProtocolName("lai_yang");
    /// Uncoordinated checkpoints with a recovery line (the domino effect).
    pub const UNCOORDINATED: ProtocolName = ProtocolName("uncoordinated");

    /// Every registered protocol, in registry order.
    pub fn all() -> Vec<ProtocolName> {
        REGISTRY.iter().map(|i| ProtocolName(i.name)).collect()
    }

    /// The protocols that promise exactly-once, in registry order.
    pub fn exactly_once() -> Vec<ProtocolName> {
        REGISTRY.iter().filter(|i| i.exactly_once).map(|i| ProtocolName(i.name)).collect()
    }

    /// Parses a snake_case name.
    pub fn parse(s: &str) -> Option<ProtocolName> {
        REGISTRY.iter().find(|i| i.name == s).map(|i| ProtocolName(i.name))
    }

    /// The error for a name that is not registered, listing the ones that are.
    pub fn unknown(s: &str) -> String {
        format!("unknown protocol {s:?}; allowed: {}", Self::names().join(", "))
    }

    /// Every registered name.
    pub fn names() -> Vec<&'static str> {
        REGISTRY.iter().map(|i| i.name).collect()
    }

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        self.0
    }

    /// Its registry row.
    pub fn info(self) -> &'static ProtocolInfo {
        REGISTRY.iter().find(|i| i.name == self.0).expect("a ProtocolName is always registered")
    }

    /// Its position in the registry (a stable colour index for charts).
    pub fn index(self) -> usize {
        REGISTRY.iter().position(|i| i.name == self.0).expect("a ProtocolName is always registered")
    }

    /// A fresh instance for one run; `None` for `none`.
    pub fn create(self) -> Option<Box<dyn Protocol>> {
        self.info().create.map(|c| c())
    }
}

impl std::fmt::Display for ProtocolName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for ProtocolName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for ProtocolName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ProtocolName::parse(&s).ok_or_else(|| serde::de::Error::custom(ProtocolName::unknown(&s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_constant_is_registered_and_names_are_unique() {
        for p in [
            ProtocolName::NONE,
            ProtocolName::ALIGNED,
            ProtocolName::UNALIGNED,
            ProtocolName::CHANDY_LAMPORT,
            ProtocolName::ALIGNED_TIMEOUT,
            ProtocolName::AT_LEAST_ONCE,
            ProtocolName::SYNCHRONOUS,
            ProtocolName::MICRO_BATCH,
            ProtocolName::LAI_YANG,
            ProtocolName::UNCOORDINATED,
        ] {
            assert_eq!(ProtocolName::parse(p.name()), Some(p));
        }
        let mut names = ProtocolName::names();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
    }

    #[test]
    fn each_protocol_reports_its_own_registered_name() {
        for info in REGISTRY {
            if let Some(create) = info.create {
                assert_eq!(create().name().name(), info.name);
            }
        }
    }

    #[test]
    fn an_unknown_name_lists_the_registered_ones() {
        let e = serde_json::from_str::<ProtocolName>("\"optimistic\"").unwrap_err().to_string();
        assert!(e.contains("optimistic") && e.contains("chandy_lamport"), "{e}");
    }
}
