//! The consistent-cut checker (DESIGN §5), run on every completed checkpoint.
//!
//! For every channel `u → v`: `s` = records `u` wrote to it before `u`'s snapshot, `r` = records
//! `v` took from it before `v`'s snapshot (both counted by the network, not by the protocol), and
//! `C` = the channel state the protocol recorded (the receiver's part, then the sender's).
//! Require `r ≤ s` (no orphan: nothing consumed that was never sent) and `C` = exactly the records
//! with channel sequence numbers `r, r+1, …, s−1`, in order (nothing lost, nothing twice). Also,
//! each task's snapshotted state must be the fold of exactly what it consumed: the digest of the
//! records its operator applied equals the digest of the records its inputs delivered, a keyed
//! sum's snapshotted state equals, key by key, the sum of the values the network says it consumed,
//! and a source's snapshotted offset equals the records it wrote on each output edge.

use crate::coordinator::Pending;
use crate::graph::Graph;
use crate::protocol::CheckpointId;
use std::fmt;

/// One way a completed checkpoint is not a consistent cut.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CutViolation {
    /// The receiver consumed records its sender had not sent at its snapshot.
    Orphans {
        /// Checkpoint.
        cp: CheckpointId,
        /// Channel name.
        channel: String,
        /// Records the sender had sent.
        sent: u64,
        /// Records the receiver had consumed.
        consumed: u64,
    },
    /// The recorded channel state is not exactly the in-flight records `r..s`.
    ChannelState {
        /// Checkpoint.
        cp: CheckpointId,
        /// Channel name.
        channel: String,
        /// Expected sequence numbers `r..s`.
        expected: (u64, u64),
        /// Records recorded.
        recorded: usize,
        /// First position where the recorded state differs, with the sequence number found there.
        first_difference: Option<(usize, Option<u64>)>,
    },
    /// Non-FIFO channels: the records the receiver took before its snapshot and the recorded
    /// channel state are not, together and once each, the records `0..s` the sender had written
    /// before its snapshot (compared as counts and sequence-number digests).
    ChannelSet {
        /// Checkpoint.
        cp: CheckpointId,
        /// Channel name.
        channel: String,
        /// Records the sender had written (`s`).
        sent: u64,
        /// Records the receiver had taken.
        consumed: u64,
        /// Records recorded as channel state.
        recorded: usize,
        /// A recorded record the sender wrote after its snapshot, if one is.
        late: Option<u64>,
    },
    /// A task's snapshotted state is not the fold of what it consumed.
    State {
        /// Checkpoint.
        cp: CheckpointId,
        /// Task name.
        task: String,
    },
    /// A keyed sum's snapshotted state is not the sum, key by key, of the records the network
    /// says it consumed (compared as `Σ mix64(key) × sum`).
    StateContent {
        /// Checkpoint.
        cp: CheckpointId,
        /// Task name.
        task: String,
    },
    /// A source's snapshotted offset is not the number of records it wrote on an output edge.
    SourceOffset {
        /// Checkpoint.
        cp: CheckpointId,
        /// Task name.
        task: String,
        /// The offset in the snapshot.
        offset: u64,
        /// Records the network counted on the edge (per channel for broadcast).
        sent: u64,
    },
    /// A task has no snapshot although the checkpoint completed.
    MissingSnapshot {
        /// Checkpoint.
        cp: CheckpointId,
        /// Task name.
        task: String,
    },
}

impl fmt::Display for CutViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CutViolation::Orphans { cp, channel, sent, consumed } => write!(
                f,
                "checkpoint {cp}, channel {channel}: orphans — receiver consumed {consumed} records but the sender had sent only {sent} at its snapshot"
            ),
            CutViolation::ChannelState { cp, channel, expected, recorded, first_difference } => {
                write!(
                    f,
                    "checkpoint {cp}, channel {channel}: channel state should be records {}..{} ({} records), recorded {recorded}",
                    expected.0,
                    expected.1,
                    expected.1.saturating_sub(expected.0)
                )?;
                if let Some((i, found)) = first_difference {
                    match found {
                        Some(seq) => write!(f, "; position {i} holds record {seq}")?,
                        None => write!(f, "; missing from position {i}")?,
                    }
                }
                Ok(())
            }
            CutViolation::ChannelSet { cp, channel, sent, consumed, recorded, late } => {
                write!(
                    f,
                    "checkpoint {cp}, channel {channel}: the {consumed} records taken and the {recorded} recorded as channel state are not the {sent} the sender had written (non-FIFO channel)"
                )?;
                if let Some(seq) = late {
                    write!(f, "; record {seq} was written after the sender's snapshot")?;
                }
                Ok(())
            }
            CutViolation::State { cp, task } => {
                write!(f, "checkpoint {cp}, task {task}: snapshotted state is not the fold of the records it consumed")
            }
            CutViolation::StateContent { cp, task } => write!(
                f,
                "checkpoint {cp}, task {task}: the snapshotted keyed state is not the per-key sum of the records it consumed"
            ),
            CutViolation::SourceOffset { cp, task, offset, sent } => write!(
                f,
                "checkpoint {cp}, task {task}: the snapshot's log offset is {offset}, but the task had written {sent} records"
            ),
            CutViolation::MissingSnapshot { cp, task } => write!(f, "checkpoint {cp}: task {task} has no snapshot"),
        }
    }
}

/// Checks a completed checkpoint; returns every violation found.
pub fn check_cut(graph: &Graph, p: &Pending) -> Vec<CutViolation> {
    let cp = p.timing.id;
    let mut out = Vec::new();
    for (t, progress) in p.tasks.iter().enumerate() {
        match &progress.snapshot {
            None => out.push(CutViolation::MissingSnapshot { cp, task: graph.tasks[t].name.clone() }),
            Some(s) if s.state_digest != s.consumed_digest => {
                out.push(CutViolation::State { cp, task: graph.tasks[t].name.clone() })
            }
            Some(s) => {
                // The snapshot's content against the network's counters.
                let consumed_kv = s.consumed.iter().fold(0u64, |a, x| a.wrapping_add(x.3));
                if s.state_kv.is_some_and(|kv| kv != consumed_kv) {
                    out.push(CutViolation::StateContent { cp, task: graph.tasks[t].name.clone() });
                }
                if let Some(cursor) = &s.cursor {
                    let node = &graph.tasks[t];
                    for chs in &node.outputs {
                        let edge = &graph.edges[graph.channel(chs[0]).edge];
                        let sent = |c: &crate::graph::ChannelId| s.sent_on(graph, *c).unwrap_or(0);
                        let counts: Vec<u64> = if edge.partitioner == crate::scenario::Partitioner::Broadcast {
                            chs.iter().map(sent).collect()
                        } else {
                            vec![chs.iter().map(sent).sum()]
                        };
                        if let Some(&bad) = counts.iter().find(|&&n| n != cursor.offset) {
                            out.push(CutViolation::SourceOffset {
                                cp,
                                task: node.name.clone(),
                                offset: cursor.offset,
                                sent: bad,
                            });
                        }
                    }
                }
            }
        }
    }
    if !out.is_empty() {
        return out;
    }
    for (c, node) in graph.channels.iter().enumerate() {
        let snap = |t: crate::graph::TaskId| p.tasks[t.0 as usize].snapshot.as_ref().expect("checked above");
        let ch = crate::graph::ChannelId(c as u32);
        let s = snap(node.from).sent_on(graph, ch);
        let r = snap(node.to).consumed_on(graph, ch);
        let (s, r) = (s.expect("a snapshot covers every output"), r.expect("a snapshot covers every input"));
        let channel = || node.name.clone();
        let (from, to) = (snap(node.from), snap(node.to));
        if !to.seqs.0.is_empty() {
            // Non-FIFO channels: what the receiver took is a set, not the prefix `0..r`.
            let sent_seqs = from.sent_index(graph, ch).map_or(0, |i| from.seqs.1[i]);
            let input = to.consumed_index(graph, ch).expect("a snapshot covers every input");
            let (taken_seqs, taken_end) = to.seqs.0[input];
            if let Some(v) = set_violation(cp, channel(), (s, sent_seqs), (r, taken_seqs, taken_end), &p.channels[c]) {
                out.push(v);
            }
            continue;
        }
        if r > s {
            out.push(CutViolation::Orphans { cp, channel: channel(), sent: s, consumed: r });
            continue;
        }
        let state = &p.channels[c];
        let recorded = state.input.iter().chain(&state.output);
        let n = state.input.len() + state.output.len();
        let mut first_difference = None;
        for (i, rec) in recorded.enumerate() {
            if rec.seq != r + i as u64 {
                first_difference = Some((i, Some(rec.seq)));
                break;
            }
        }
        if first_difference.is_none() && (n as u64) < s - r {
            first_difference = Some((n, None));
        }
        if first_difference.is_some() || n as u64 != s - r {
            out.push(CutViolation::ChannelState {
                cp,
                channel: channel(),
                expected: (r, s),
                recorded: n,
                first_difference,
            });
        }
    }
    out
}

/// The set check of one non-FIFO channel: the records taken before the receiver's snapshot
/// (`taken`: count, `Σ mix64(seq)`, one past the highest sequence number) and the recorded ones
/// must be, together and once each, the records `0..s` the sender had written (`sent`: count and
/// `Σ mix64(seq)`). Taking one written after the sender's snapshot is an orphan.
fn set_violation(
    cp: CheckpointId,
    channel: String,
    sent: (u64, u64),
    taken: (u64, u64, u64),
    state: &crate::coordinator::ChannelProgress,
) -> Option<CutViolation> {
    let ((s, sent_seqs), (r, taken_seqs, taken_end)) = (sent, taken);
    if taken_end > s {
        return Some(CutViolation::Orphans { cp, channel, sent: s, consumed: r });
    }
    let recorded: Vec<u64> = state.input.iter().chain(&state.output).map(|x| x.seq).collect();
    let digest = recorded.iter().fold(taken_seqs, |d, &q| d.wrapping_add(crate::sim::mix64(q)));
    let late = recorded.iter().copied().find(|&q| q >= s);
    let bad = late.is_some() || r + recorded.len() as u64 != s || digest != sent_seqs;
    bad.then_some(CutViolation::ChannelSet { cp, channel, sent: s, consumed: r, recorded: recorded.len(), late })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::ChannelProgress;
    use crate::operator::{Lineage, Record};

    fn rec(seq: u64) -> Record {
        Record { seq, ..Record::new(0, 0, Lineage { partition: 0, offset: seq }, 0) }
    }

    fn digest(seqs: &[u64]) -> u64 {
        seqs.iter().fold(0u64, |d, &q| d.wrapping_add(crate::sim::mix64(q)))
    }

    /// The receiver took `taken`, recorded `recorded`; the sender had written `0..s`.
    fn check(s: u64, taken: &[u64], recorded: &[u64]) -> Option<CutViolation> {
        let state = ChannelProgress { input: recorded.iter().map(|&q| rec(q)).collect(), ..Default::default() };
        let end = taken.iter().map(|q| q + 1).max().unwrap_or(0);
        let all: Vec<u64> = (0..s).collect();
        set_violation(1, "a->b".into(), (s, digest(&all)), (taken.len() as u64, digest(taken), end), &state)
    }

    #[test]
    fn a_non_fifo_channel_is_judged_as_a_set() {
        // Taken out of order, the gap recorded: a consistent cut.
        assert_eq!(check(5, &[0, 2, 3], &[1, 4]), None);
        assert_eq!(check(3, &[], &[2, 0, 1]), None);
        // A record written after the sender's snapshot was taken: an orphan.
        assert!(matches!(check(3, &[0, 3], &[1, 2]), Some(CutViolation::Orphans { .. })));
        // The gap not recorded (a marker that overtook a record), or recorded twice, or a late
        // record in the channel state.
        assert!(matches!(check(4, &[0, 2, 3], &[]), Some(CutViolation::ChannelSet { late: None, .. })));
        assert!(matches!(check(3, &[0, 2], &[1, 2]), Some(CutViolation::ChannelSet { .. })));
        assert!(matches!(check(3, &[0, 2], &[3]), Some(CutViolation::ChannelSet { late: Some(3), .. })));
        // Same count, different set: the digest tells.
        assert!(matches!(check(4, &[0, 1], &[1, 3]), Some(CutViolation::ChannelSet { .. })));
    }
}
