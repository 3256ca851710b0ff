//! One checkpoint's record while it is in progress ([`Pending`]: every task's progress and
//! snapshot, every channel's recorded state) and once it completed ([`Completed`]: what a
//! recovery restores). The engine fills these in as barriers travel; the coordinator owns them.

use crate::graph::{ChannelId, Graph};
use crate::operator::sink::Precommitted;
use crate::operator::{LogCursor, Logic, Record};
use crate::protocol::{CheckpointId, CheckpointTiming};
use crate::sim::SimTime;

/// What a task's snapshot captured, with the engine's ground truth at that instant.
#[derive(Clone, Debug)]
pub struct TaskSnapshot {
    /// When it was taken.
    pub at: SimTime,
    /// State size in the checkpoint: every file a restore reads (Flink's "Full Checkpoint Data
    /// Size"; with RocksDB incremental it counts the SST files' space amplification).
    pub state_bytes: u64,
    /// The operator's fold of the records it applied (sum of lineage digests).
    pub state_digest: u64,
    /// Ground truth: sum of the lineage digests of the records taken from its inputs.
    pub consumed_digest: u64,
    /// Ground truth: records taken from each input channel so far (`r`), with the sum of their
    /// lineage digests and the sum of `mix64(key) × value` over them.
    pub consumed: Vec<(ChannelId, u64, u64, u64)>,
    /// A keyed sum's state as `Σ mix64(key) × sum`: it must equal the inputs' key-value sums.
    pub state_kv: Option<u64>,
    /// Ground truth: records written to each output channel so far (`s`).
    pub sent: Vec<(ChannelId, u64)>,
    /// Non-FIFO channels only (else empty): per input channel as in `consumed`, `Σ mix64(seq)`
    /// over the records taken and one past the highest sequence number taken; per output
    /// channel as in `sent`, `Σ mix64(seq)` over the records written.
    pub seqs: (Vec<(u64, u64)>, Vec<u64>),
    /// Duration of the synchronous part (0 for a task that had finished).
    pub sync: SimTime,
    /// The task paused for the synchronous part (a finished task does not).
    pub paused: bool,
    /// A copy of the operator state (what a restore puts back).
    pub logic: Logic,
    /// Sources: the log position to rewind to.
    pub cursor: Option<LogCursor>,
    /// Sinks: the pre-committed transactions not yet committed.
    pub sink: Precommitted,
    /// The state backend as the snapshot left it (what a restore puts back).
    pub backend: crate::state::Backend,
    /// The files the snapshot consists of, and what it uploads.
    pub files: crate::state::StateSnapshot,
}

impl TaskSnapshot {
    /// The place of output channel `ch` in `sent` (and in `seqs.1`): its place among the task's
    /// outputs, [`Graph::at_sender`], as the engine lists them — O(1) where a search would cost
    /// the task's fan-out per channel (found by search only in a snapshot listed otherwise).
    pub fn sent_index(&self, g: &Graph, ch: ChannelId) -> Option<usize> {
        let i = g.at_sender[ch.0 as usize] as usize;
        if self.sent.get(i).is_some_and(|x| x.0 == ch) { Some(i) } else { self.sent.iter().position(|x| x.0 == ch) }
    }

    /// The place of input channel `ch` in `consumed` (and in `seqs.0`), as [`Self::sent_index`].
    pub fn consumed_index(&self, g: &Graph, ch: ChannelId) -> Option<usize> {
        let i = g.at_receiver[ch.0 as usize] as usize;
        if self.consumed.get(i).is_some_and(|x| x.0 == ch) {
            Some(i)
        } else {
            self.consumed.iter().position(|x| x.0 == ch)
        }
    }

    /// Records written to output channel `ch` at the snapshot.
    pub fn sent_on(&self, g: &Graph, ch: ChannelId) -> Option<u64> {
        self.sent_index(g, ch).map(|i| self.sent[i].1)
    }

    /// Records taken from input channel `ch` at the snapshot.
    pub fn consumed_on(&self, g: &Graph, ch: ChannelId) -> Option<u64> {
        self.consumed_index(g, ch).map(|i| self.consumed[i].1)
    }
}

/// One task's progress in one checkpoint.
#[derive(Clone, Debug, Default)]
pub struct TaskProgress {
    /// The task processed its first barrier (or, for a source, the trigger): Flink's start
    /// delay ends here and its alignment starts.
    pub first_barrier: Option<SimTime>,
    /// The task processed its latest barrier: once every barrier came, Flink's alignment end.
    pub last_barrier: Option<SimTime>,
    /// Records the task had taken from its inputs at its first barrier.
    pub taken_at_first: u64,
    /// Records the task had taken from its inputs at its latest barrier.
    pub taken_at_last: u64,
    /// The snapshot, once taken.
    pub snapshot: Option<TaskSnapshot>,
    /// Input channels still being recorded.
    pub open_recordings: u32,
    /// The synchronous part finished.
    pub sync_done: bool,
    /// Upload start and duration, once started.
    pub upload: Option<(SimTime, SimTime)>,
    /// Channel-state bytes this task uploads (its recorded inputs and overtaken outputs).
    pub channel_bytes: u64,
    /// When the coordinator received the ack.
    pub acked: Option<SimTime>,
}

/// One channel's recorded state in one checkpoint.
#[derive(Clone, Debug, Default)]
pub struct ChannelProgress {
    /// Recorded by the receiver: data ahead of the barrier it had not consumed at its snapshot.
    pub input: Vec<Record>,
    /// Recorded by the sender: data its priority barrier overtook.
    pub output: Vec<Record>,
    /// The receiver is recording arrivals (snapshot taken, barrier not yet arrived).
    pub recording: bool,
    /// Records that had arrived at the receiver when the barrier arrived.
    pub barrier_bound: Option<u64>,
}

/// A checkpoint in progress.
#[derive(Clone, Debug)]
pub struct Pending {
    /// Id, trigger time, deadline.
    pub timing: CheckpointTiming,
    /// Per task.
    pub tasks: Vec<TaskProgress>,
    /// Per channel.
    pub channels: Vec<ChannelProgress>,
    /// Acks received.
    pub acks: usize,
    /// A savepoint: aligned, self-contained, not retained with the checkpoints.
    pub savepoint: bool,
}

impl Pending {
    /// A fresh checkpoint over `tasks` tasks and `channels` channels.
    pub fn new(timing: CheckpointTiming, tasks: usize, channels: usize) -> Self {
        Pending {
            timing,
            tasks: vec![TaskProgress::default(); tasks],
            channels: vec![ChannelProgress::default(); channels],
            acks: 0,
            savepoint: false,
        }
    }
}

/// A completed checkpoint: what a recovery restores.
#[derive(Clone, Debug)]
pub struct Completed {
    /// The checkpoint.
    pub id: CheckpointId,
    /// Per task, its snapshot.
    pub tasks: Vec<TaskSnapshot>,
    /// Per channel, the recorded state: the receiver's part, then the sender's (records `r..s`).
    pub channel_state: Vec<Vec<Record>>,
}

impl From<Pending> for Completed {
    /// The completed form of a checkpoint whose every task snapshotted.
    fn from(p: Pending) -> Self {
        Completed {
            id: p.timing.id,
            tasks: p
                .tasks
                .into_iter()
                .map(|t| t.snapshot.expect("a completed checkpoint has every snapshot"))
                .collect(),
            channel_state: p
                .channels
                .into_iter()
                .map(|mut c| {
                    c.input.append(&mut c.output);
                    c.input
                })
                .collect(),
        }
    }
}
