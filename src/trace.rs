//! The trace: what happened, in order. Every trace event is folded into a stable hash (the run's
//! `trace_hash`), and optionally written as one JSON object per line.
//!
//! Hash input per event: time, a kind number, then the kind's fields as 64-bit words, fed to
//! [`StableHasher`]. The kind numbers below are part of the format: do not renumber.

use crate::graph::{ChannelId, Graph, TaskId};
use crate::operator::Lineage;
use crate::protocol::CheckpointId;
use crate::sim::{SimTime, StableHasher};
use std::io::{self, Write};

/// One observable step of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    /// A task finished processing a record.
    Process {
        /// The task.
        task: TaskId,
        /// The record's origin.
        lineage: Lineage,
    },
    /// A network buffer (with `records` records) or an event (`records` = 0) reached a receiver.
    Arrive {
        /// The channel.
        ch: ChannelId,
        /// Records in the buffer; 0 for an event.
        records: u32,
    },
    /// A task took a barrier off an input: an in-band barrier after the records queued before it,
    /// a priority barrier as soon as the task could handle it (the end of its wait in the queue).
    BarrierTaken {
        /// The channel.
        ch: ChannelId,
        /// The checkpoint.
        cp: CheckpointId,
    },
    /// A receiver's *ResumeConsumption* reached a sender that had paused the channel after an
    /// aligned barrier.
    Resume {
        /// The channel.
        ch: ChannelId,
    },
    /// A debloating receiver's new buffer size reached a sender.
    BufferSize {
        /// The channel.
        ch: ChannelId,
        /// The new size (bytes).
        bytes: u32,
    },
    /// A credit announcement reached a sender.
    Credit {
        /// The channel.
        ch: ChannelId,
        /// Credits granted.
        n: u32,
    },
    /// A task stopped because an output channel is full.
    Blocked {
        /// The task.
        task: TaskId,
    },
    /// A blocked task could continue.
    Unblocked {
        /// The task.
        task: TaskId,
    },
    /// A task consumed all its input (or its log) and sent end-of-partition downstream.
    Finished {
        /// The task.
        task: TaskId,
    },
    /// The coordinator triggered a checkpoint.
    Triggered {
        /// Checkpoint.
        cp: CheckpointId,
    },
    /// A barrier reached the receiver of a channel.
    BarrierArrive {
        /// The channel.
        ch: ChannelId,
        /// Checkpoint.
        cp: CheckpointId,
        /// True for a priority (overtaking) barrier.
        priority: bool,
    },
    /// A task took its snapshot (the synchronous part starts).
    Snapshot {
        /// The task.
        task: TaskId,
        /// Checkpoint.
        cp: CheckpointId,
    },
    /// An input channel was blocked (alignment).
    Block {
        /// The channel.
        ch: ChannelId,
    },
    /// An input channel was unblocked.
    Unblock {
        /// The channel.
        ch: ChannelId,
    },
    /// The coordinator received a task's ack.
    Ack {
        /// The task.
        task: TaskId,
        /// Checkpoint.
        cp: CheckpointId,
    },
    /// Every task acked: the checkpoint is complete.
    Completed {
        /// Checkpoint.
        cp: CheckpointId,
    },
    /// The checkpoint was aborted (timeout).
    Aborted {
        /// Checkpoint.
        cp: CheckpointId,
    },
    /// A task was notified that a checkpoint completed.
    Notify {
        /// The task.
        task: TaskId,
        /// Checkpoint.
        cp: CheckpointId,
    },
    /// The aligned-checkpoint timeout of a checkpoint expired: it turns unaligned.
    Deadline {
        /// Checkpoint.
        cp: CheckpointId,
    },
    /// A task crashed: the job goes down.
    Crash {
        /// The task.
        task: TaskId,
    },
    /// The job restarted from its latest completed checkpoint.
    Restart,
    /// The job failed over because too many consecutive checkpoints failed.
    Failover,
    /// A source stopped reading at a checkpoint's trigger (synchronous snapshots).
    SourceHalted {
        /// The source task.
        task: TaskId,
        /// The checkpoint.
        cp: CheckpointId,
    },
    /// The end of the checkpoint reached a halted source: it reads again.
    SourceResumed {
        /// The source task.
        task: TaskId,
        /// The checkpoint.
        cp: CheckpointId,
    },
    /// Lai-Yang: a task was about to take a red record of a checkpoint it has no snapshot for
    /// (its sender snapshotted first): it snapshots before taking it.
    RedRecord {
        /// The channel.
        ch: ChannelId,
        /// The checkpoint.
        cp: CheckpointId,
    },
    /// A trigger planned a micro-batch at a source: it reads the records that reached its log by
    /// now, then ends the batch.
    BatchPlanned {
        /// The source task.
        task: TaskId,
        /// The checkpoint that is the batch.
        cp: CheckpointId,
    },
    /// A task heard that a checkpoint timed out (`notifyCheckpointAborted`).
    NotifyAborted {
        /// The task.
        task: TaskId,
        /// The checkpoint.
        cp: CheckpointId,
    },
}

impl TraceEvent {
    fn words(&self) -> (u64, [u64; 3]) {
        match *self {
            TraceEvent::Process { task, lineage } => (1, [task.0 as u64, lineage.partition as u64, lineage.offset]),
            TraceEvent::Arrive { ch, records } => (2, [ch.0 as u64, records as u64, 0]),
            TraceEvent::Credit { ch, n } => (3, [ch.0 as u64, n as u64, 0]),
            TraceEvent::Blocked { task } => (4, [task.0 as u64, 0, 0]),
            TraceEvent::Unblocked { task } => (5, [task.0 as u64, 0, 0]),
            TraceEvent::Finished { task } => (6, [task.0 as u64, 0, 0]),
            TraceEvent::Triggered { cp } => (7, [cp, 0, 0]),
            TraceEvent::BarrierArrive { ch, cp, priority } => (8, [ch.0 as u64, cp, priority as u64]),
            TraceEvent::Snapshot { task, cp } => (9, [task.0 as u64, cp, 0]),
            TraceEvent::Block { ch } => (10, [ch.0 as u64, 0, 0]),
            TraceEvent::Unblock { ch } => (11, [ch.0 as u64, 0, 0]),
            TraceEvent::Ack { task, cp } => (12, [task.0 as u64, cp, 0]),
            TraceEvent::Completed { cp } => (13, [cp, 0, 0]),
            TraceEvent::Aborted { cp } => (14, [cp, 0, 0]),
            TraceEvent::Notify { task, cp } => (15, [task.0 as u64, cp, 0]),
            TraceEvent::Deadline { cp } => (16, [cp, 0, 0]),
            TraceEvent::Crash { task } => (17, [task.0 as u64, 0, 0]),
            TraceEvent::Restart => (18, [0, 0, 0]),
            TraceEvent::Failover => (19, [0, 0, 0]),
            TraceEvent::NotifyAborted { task, cp } => (20, [task.0 as u64, cp, 0]),
            TraceEvent::Resume { ch } => (21, [ch.0 as u64, 0, 0]),
            TraceEvent::BufferSize { ch, bytes } => (22, [ch.0 as u64, bytes as u64, 0]),
            TraceEvent::BarrierTaken { ch, cp } => (23, [ch.0 as u64, cp, 0]),
            TraceEvent::SourceHalted { task, cp } => (24, [task.0 as u64, cp, 0]),
            TraceEvent::SourceResumed { task, cp } => (25, [task.0 as u64, cp, 0]),
            TraceEvent::BatchPlanned { task, cp } => (26, [task.0 as u64, cp, 0]),
            TraceEvent::RedRecord { ch, cp } => (27, [ch.0 as u64, cp, 0]),
        }
    }

    /// The event as one JSON object (no trailing newline).
    pub fn to_json(&self, t: SimTime, g: &Graph) -> String {
        let task = |t: TaskId| &g.task(t).name;
        let ch = |c: ChannelId| &g.channel(c).name;
        match *self {
            TraceEvent::Process { task: t2, lineage } => format!(
                r#"{{"t_ns":{t},"ev":"process","task":"{}","partition":{},"offset":{}}}"#,
                task(t2),
                lineage.partition,
                lineage.offset
            ),
            TraceEvent::Arrive { ch: c, records } => {
                format!(r#"{{"t_ns":{t},"ev":"arrive","channel":"{}","records":{records}}}"#, ch(c))
            }
            TraceEvent::Credit { ch: c, n } => format!(r#"{{"t_ns":{t},"ev":"credit","channel":"{}","n":{n}}}"#, ch(c)),
            TraceEvent::Resume { ch: c } => format!(r#"{{"t_ns":{t},"ev":"resume","channel":"{}"}}"#, ch(c)),
            TraceEvent::BarrierTaken { ch: c, cp } => {
                format!(r#"{{"t_ns":{t},"ev":"barrier_taken","channel":"{}","checkpoint":{cp}}}"#, ch(c))
            }
            TraceEvent::BufferSize { ch: c, bytes } => {
                format!(r#"{{"t_ns":{t},"ev":"buffer_size","channel":"{}","bytes":{bytes}}}"#, ch(c))
            }
            TraceEvent::Blocked { task: t2 } => {
                format!(r#"{{"t_ns":{t},"ev":"blocked","task":"{}"}}"#, task(t2))
            }
            TraceEvent::Unblocked { task: t2 } => {
                format!(r#"{{"t_ns":{t},"ev":"unblocked","task":"{}"}}"#, task(t2))
            }
            TraceEvent::Finished { task: t2 } => {
                format!(r#"{{"t_ns":{t},"ev":"finished","task":"{}"}}"#, task(t2))
            }
            TraceEvent::Triggered { cp } => format!(r#"{{"t_ns":{t},"ev":"triggered","checkpoint":{cp}}}"#),
            TraceEvent::BarrierArrive { ch: c, cp, priority } => format!(
                r#"{{"t_ns":{t},"ev":"barrier","channel":"{}","checkpoint":{cp},"priority":{priority}}}"#,
                ch(c)
            ),
            TraceEvent::Snapshot { task: t2, cp } => {
                format!(r#"{{"t_ns":{t},"ev":"snapshot","task":"{}","checkpoint":{cp}}}"#, task(t2))
            }
            TraceEvent::Block { ch: c } => format!(r#"{{"t_ns":{t},"ev":"block","channel":"{}"}}"#, ch(c)),
            TraceEvent::Unblock { ch: c } => format!(r#"{{"t_ns":{t},"ev":"unblock","channel":"{}"}}"#, ch(c)),
            TraceEvent::Ack { task: t2, cp } => {
                format!(r#"{{"t_ns":{t},"ev":"ack","task":"{}","checkpoint":{cp}}}"#, task(t2))
            }
            TraceEvent::Completed { cp } => format!(r#"{{"t_ns":{t},"ev":"completed","checkpoint":{cp}}}"#),
            TraceEvent::Aborted { cp } => format!(r#"{{"t_ns":{t},"ev":"aborted","checkpoint":{cp}}}"#),
            TraceEvent::Notify { task: t2, cp } => {
                format!(r#"{{"t_ns":{t},"ev":"notify","task":"{}","checkpoint":{cp}}}"#, task(t2))
            }
            TraceEvent::Deadline { cp } => format!(r#"{{"t_ns":{t},"ev":"deadline","checkpoint":{cp}}}"#),
            TraceEvent::Crash { task: t2 } => format!(r#"{{"t_ns":{t},"ev":"crash","task":"{}"}}"#, task(t2)),
            TraceEvent::Restart => format!(r#"{{"t_ns":{t},"ev":"restart"}}"#),
            TraceEvent::Failover => format!(r#"{{"t_ns":{t},"ev":"failover","cause":"tolerable_failed_checkpoints"}}"#),
            TraceEvent::NotifyAborted { task: t2, cp } => {
                format!(r#"{{"t_ns":{t},"ev":"notify_aborted","task":"{}","checkpoint":{cp}}}"#, task(t2))
            }
            TraceEvent::SourceHalted { task: t2, cp } => {
                format!(r#"{{"t_ns":{t},"ev":"source_halted","task":"{}","checkpoint":{cp}}}"#, task(t2))
            }
            TraceEvent::RedRecord { ch: c, cp } => {
                format!(r#"{{"t_ns":{t},"ev":"red_record","channel":"{}","checkpoint":{cp}}}"#, ch(c))
            }
            TraceEvent::BatchPlanned { task: t2, cp } => {
                format!(r#"{{"t_ns":{t},"ev":"batch_planned","task":"{}","checkpoint":{cp}}}"#, task(t2))
            }
            TraceEvent::SourceResumed { task: t2, cp } => {
                format!(r#"{{"t_ns":{t},"ev":"source_resumed","task":"{}","checkpoint":{cp}}}"#, task(t2))
            }
        }
    }
}

impl TraceEvent {
    /// True for checkpoint and failure events (everything but the per-record data path).
    pub fn is_protocol(&self) -> bool {
        !matches!(
            self,
            TraceEvent::Process { .. }
                | TraceEvent::Arrive { .. }
                | TraceEvent::Credit { .. }
                | TraceEvent::BufferSize { .. }
                | TraceEvent::Blocked { .. }
                | TraceEvent::Unblocked { .. }
        )
    }
}

/// Hashes trace events and optionally writes them as JSON Lines or keeps the protocol events.
pub struct Tracer {
    hasher: StableHasher,
    count: u64,
    out: Option<Box<dyn Write>>,
    error: Option<io::Error>,
    kept: Option<Vec<(SimTime, TraceEvent)>>,
}

impl Tracer {
    /// A tracer that writes JSON Lines to `out` (if any).
    pub fn new(out: Option<Box<dyn Write>>) -> Self {
        Tracer { hasher: StableHasher::new(), count: 0, out, error: None, kept: None }
    }

    /// Also keep the protocol events ([`TraceEvent::is_protocol`]) in memory.
    pub fn keep_protocol_events(&mut self) {
        self.kept = Some(Vec::new());
    }

    /// The protocol events kept so far.
    pub fn take_kept(&mut self) -> Vec<(SimTime, TraceEvent)> {
        self.kept.take().unwrap_or_default()
    }

    /// Records one event at time `t`.
    #[inline]
    pub fn record(&mut self, t: SimTime, ev: TraceEvent, g: &Graph) {
        let (kind, w) = ev.words();
        self.hasher.write_u64(t);
        self.hasher.write_u64(kind);
        for x in w {
            self.hasher.write_u64(x);
        }
        self.count += 1;
        if let Some(kept) = &mut self.kept
            && ev.is_protocol()
        {
            kept.push((t, ev));
        }
        if let Some(out) = &mut self.out
            && self.error.is_none()
            && let Err(e) = writeln!(out, "{}", ev.to_json(t, g))
        {
            self.error = Some(e);
        }
    }

    /// Events recorded so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The hash of everything recorded so far.
    pub fn hash_hex(&self) -> String {
        self.hasher.hex()
    }

    /// Flushes the writer; reports the first write error.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(out) = &mut self.out {
            out.flush()?;
        }
        Ok(())
    }
}
