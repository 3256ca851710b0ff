//! Deliberately wrong protocol variants — *mutants* — that the checkers must catch. A checker
//! that cannot fail is a defect; `tests/mutants.rs` shows each of these is caught within a bounded
//! number of generated cases.

use crate::engine::{self, RunOptions, RunResult, Sabotage};
use crate::graph::{ChannelId, Graph, TaskId};
use crate::protocol::{
    self, Action, Aligned, BarrierPath, ChandyLamport, CheckpointId, CheckpointTiming, Protocol, TaskView, Unaligned,
};
use crate::scenario::{ProtocolName, Scenario};
use crate::sim::SimTime;

/// A deliberately broken protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutant {
    /// At-least-once mode itself: no alignment, no channel state.
    AtLeastOnce,
    /// Aligned, but it never blocks the first input of a task.
    AlignedSkipsOneBlock,
    /// Unaligned, but the output buffers its barriers overtake are not persisted.
    UnalignedDropsOutputState,
    /// Unaligned, but a restore does not replay the recovered channel state.
    UnalignedDropsRecoveredState,
    /// Chandy-Lamport, but its markers overtake the data (and nobody records what they overtook).
    ChandyLamportOvertakingMarkers,
    /// Chandy-Lamport, but a snapshot does not record the inputs whose marker is still to come.
    ChandyLamportRecordsNothing,
    /// Aligned, but the sink commits its transaction at its snapshot instead of on completion.
    SinkCommitsEarly,
    /// Aligned over a network that loses about one record in a thousand — in every run, the
    /// failure-free reference run included (only the independent model can catch it).
    LossyNetwork,
    /// Aligned, but a keyed sum's snapshot leaves out one key.
    SnapshotDropsAKey,
    /// Lai-Yang, but a task takes a red record without snapshotting first (it waits for the
    /// control message, as if the channels were FIFO).
    LaiYangIgnoresRedRecords,
    /// Aligned on a cyclic job, but an iteration's head does not log its back-edges after its
    /// snapshot: the records inside the loop are in no snapshot (Flink's iterations, whose
    /// documentation warned that such records were lost on failure).
    AlignedSkipsBackEdgeLog,
    /// Uncoordinated, but the recovery line only avoids orphans: the records in flight at the
    /// line, which no local checkpoint recorded, are lost on restart.
    UncoordinatedIgnoresInFlight,
}

impl Mutant {
    /// Every mutant.
    pub const ALL: [Mutant; 12] = [
        Mutant::AtLeastOnce,
        Mutant::AlignedSkipsOneBlock,
        Mutant::UnalignedDropsOutputState,
        Mutant::UnalignedDropsRecoveredState,
        Mutant::ChandyLamportOvertakingMarkers,
        Mutant::ChandyLamportRecordsNothing,
        Mutant::SinkCommitsEarly,
        Mutant::LossyNetwork,
        Mutant::SnapshotDropsAKey,
        Mutant::LaiYangIgnoresRedRecords,
        Mutant::AlignedSkipsBackEdgeLog,
        Mutant::UncoordinatedIgnoresInFlight,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Mutant::AtLeastOnce => "at_least_once",
            Mutant::AlignedSkipsOneBlock => "aligned_skips_one_block",
            Mutant::UnalignedDropsOutputState => "unaligned_drops_output_state",
            Mutant::UnalignedDropsRecoveredState => "unaligned_drops_recovered_state",
            Mutant::ChandyLamportOvertakingMarkers => "chandy_lamport_overtaking_markers",
            Mutant::ChandyLamportRecordsNothing => "chandy_lamport_records_nothing",
            Mutant::SinkCommitsEarly => "sink_commits_early",
            Mutant::LossyNetwork => "lossy_network",
            Mutant::SnapshotDropsAKey => "snapshot_drops_a_key",
            Mutant::LaiYangIgnoresRedRecords => "lai_yang_ignores_red_records",
            Mutant::AlignedSkipsBackEdgeLog => "aligned_skips_back_edge_log",
            Mutant::UncoordinatedIgnoresInFlight => "uncoordinated_ignores_in_flight",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Mutant> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }

    /// The correct protocol it breaks (its scenarios use this `checkpointing.mode`).
    pub fn base(self) -> ProtocolName {
        match self {
            Mutant::AtLeastOnce => ProtocolName::AT_LEAST_ONCE,
            Mutant::AlignedSkipsOneBlock
            | Mutant::SinkCommitsEarly
            | Mutant::LossyNetwork
            | Mutant::SnapshotDropsAKey
            | Mutant::AlignedSkipsBackEdgeLog => ProtocolName::ALIGNED,
            Mutant::UnalignedDropsOutputState | Mutant::UnalignedDropsRecoveredState => ProtocolName::UNALIGNED,
            Mutant::ChandyLamportOvertakingMarkers | Mutant::ChandyLamportRecordsNothing => {
                ProtocolName::CHANDY_LAMPORT
            }
            Mutant::LaiYangIgnoresRedRecords => ProtocolName::LAI_YANG,
            Mutant::UncoordinatedIgnoresInFlight => ProtocolName::UNCOORDINATED,
        }
    }

    /// A fresh instance of its protocol's decisions for a run of `s`.
    pub fn protocol(self, s: &Scenario) -> Box<dyn Protocol> {
        match self {
            Mutant::AtLeastOnce => Box::new(protocol::AtLeastOnce::default()),
            Mutant::AlignedSkipsOneBlock => {
                let g = Graph::build(s);
                let first =
                    g.tasks.iter().filter_map(|t| t.input_gates.first().and_then(|g| g.first().copied())).collect();
                Box::new(SkipsOneBlock { inner: Aligned::default(), first })
            }
            Mutant::UnalignedDropsOutputState | Mutant::UnalignedDropsRecoveredState => Box::new(Unaligned),
            Mutant::ChandyLamportOvertakingMarkers => Box::new(OvertakingMarkers),
            Mutant::ChandyLamportRecordsNothing => Box::new(RecordsNothing),
            Mutant::SinkCommitsEarly
            | Mutant::LossyNetwork
            | Mutant::SnapshotDropsAKey
            | Mutant::AlignedSkipsBackEdgeLog => Box::new(Aligned::default()),
            Mutant::LaiYangIgnoresRedRecords => Box::new(ChandyLamport::named(ProtocolName::LAI_YANG)),
            Mutant::UncoordinatedIgnoresInFlight => ProtocolName::UNCOORDINATED.create().expect("a protocol"),
        }
    }

    /// The engine duties it skips.
    pub fn sabotage(self) -> Sabotage {
        let none = Sabotage::default();
        match self {
            Mutant::UnalignedDropsOutputState | Mutant::ChandyLamportOvertakingMarkers => {
                Sabotage { drop_overtaken_output: true, ..none }
            }
            Mutant::UnalignedDropsRecoveredState => Sabotage { skip_channel_state_replay: true, ..none },
            Mutant::SinkCommitsEarly => Sabotage { sink_commits_at_snapshot: true, ..none },
            Mutant::LossyNetwork => Sabotage { lose_one_in: Some(1000), ..none },
            Mutant::SnapshotDropsAKey => Sabotage { snapshot_drops_a_key: true, ..none },
            Mutant::LaiYangIgnoresRedRecords => Sabotage { ignore_red_records: true, ..none },
            Mutant::AlignedSkipsBackEdgeLog => Sabotage { skip_back_edge_logging: true, ..none },
            Mutant::UncoordinatedIgnoresInFlight => Sabotage { line_ignores_in_flight: true, ..none },
            Mutant::AtLeastOnce | Mutant::AlignedSkipsOneBlock | Mutant::ChandyLamportRecordsNothing => none,
        }
    }

    /// Runs `s` with this mutant (its protocol and its sabotage) and `opts`.
    pub fn run(self, s: &Scenario, opts: RunOptions) -> Result<RunResult, engine::RunError> {
        engine::run_with_protocol(s, RunOptions { sabotage: self.sabotage(), ..opts }, Some(self.protocol(s)))
    }
}

struct SkipsOneBlock {
    inner: Aligned,
    first: Vec<ChannelId>,
}

impl Protocol for SkipsOneBlock {
    fn name(&self) -> ProtocolName {
        ProtocolName::ALIGNED
    }
    fn barrier_path(&self, cp: &CheckpointTiming, now: SimTime) -> BarrierPath {
        self.inner.barrier_path(cp, now)
    }
    fn on_barrier(&mut self, t: &TaskView, ch: ChannelId, cp: CheckpointId, o: bool, out: &mut Vec<Action>) {
        self.inner.on_barrier(t, ch, cp, o, out);
        out.retain(|a| !matches!(a, Action::Block(c) if self.first.contains(c)));
    }
    fn on_input_ended(&mut self, t: &TaskView, ch: ChannelId, out: &mut Vec<Action>) {
        self.inner.on_input_ended(t, ch, out);
    }
    fn on_checkpoint_end(&mut self, task: TaskId, cp: CheckpointId, out: &mut Vec<Action>) {
        self.inner.on_checkpoint_end(task, cp, out);
    }
}

/// Unaligned decisions under Chandy-Lamport's name: markers overtake the data, and (with its
/// sabotage) nobody records what they overtook.
struct OvertakingMarkers;

impl Protocol for OvertakingMarkers {
    fn name(&self) -> ProtocolName {
        ProtocolName::CHANDY_LAMPORT
    }
    fn barrier_path(&self, _: &CheckpointTiming, _: SimTime) -> BarrierPath {
        BarrierPath::Priority
    }
    fn on_barrier(&mut self, t: &TaskView, ch: ChannelId, cp: CheckpointId, o: bool, out: &mut Vec<Action>) {
        Unaligned.on_barrier(t, ch, cp, o, out);
    }
}

/// Chandy-Lamport's decisions, with every snapshot told not to record its inputs.
struct RecordsNothing;

impl Protocol for RecordsNothing {
    fn name(&self) -> ProtocolName {
        ProtocolName::CHANDY_LAMPORT
    }
    fn barrier_path(&self, cp: &CheckpointTiming, now: SimTime) -> BarrierPath {
        ChandyLamport::named(ProtocolName::CHANDY_LAMPORT).barrier_path(cp, now)
    }
    fn on_barrier(&mut self, t: &TaskView, ch: ChannelId, cp: CheckpointId, o: bool, out: &mut Vec<Action>) {
        let from = out.len();
        ChandyLamport::named(ProtocolName::CHANDY_LAMPORT).on_barrier(t, ch, cp, o, out);
        for a in &mut out[from..] {
            if let Action::Snapshot { record_inputs, .. } = a {
                *record_inputs = false;
            }
        }
    }
}
