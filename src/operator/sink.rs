//! `sink` output delivery: plain, or transactional (two-phase commit, like Flink's
//! `TwoPhaseCommitSinkFunction`).
//!
//! Transactional: records go into the *open* transaction. At the sink's snapshot for checkpoint
//! `n` the open transaction is *pre-committed* under `n` and a new one opens; the pre-committed
//! transactions not yet committed are the sink's state in that snapshot. On the notification that
//! checkpoint `n` completed, every pre-committed transaction up to `n` is committed: its records
//! become visible. After a failure the open transaction is aborted; the restored snapshot's
//! pre-committed transactions are committed again — idempotently, as a transaction id is
//! committed at most once. Plain: a record is visible as soon as the sink processes it.

use super::Lineage;
use crate::protocol::CheckpointId;
use crate::scenario::Delivery;
use crate::sim::SimTime;
use std::collections::BTreeSet;

/// A record in a transaction: its lineage and when it arrived in the source log.
pub type TxnRecord = (Lineage, SimTime);

/// Pre-committed transactions, by checkpoint, oldest first (the sink's snapshot state).
pub type Precommitted = Vec<(CheckpointId, Vec<TxnRecord>)>;

/// The delivery state of one sink task.
#[derive(Clone, Debug)]
pub struct Sink {
    delivery: Delivery,
    open: Vec<TxnRecord>,
    precommitted: Precommitted,
    /// Transaction ids (checkpoints) already committed: a commit is idempotent.
    committed: BTreeSet<CheckpointId>,
}

impl Sink {
    /// A sink delivering as `delivery`.
    pub fn new(delivery: Delivery) -> Self {
        Sink { delivery, open: Vec::new(), precommitted: Vec::new(), committed: BTreeSet::new() }
    }

    /// How this sink delivers.
    pub fn delivery(&self) -> Delivery {
        self.delivery
    }

    /// Takes a record; returns it when it is visible at once (plain delivery).
    pub fn receive(&mut self, r: TxnRecord) -> Option<TxnRecord> {
        match self.delivery {
            Delivery::Plain => Some(r),
            Delivery::Transactional => {
                self.open.push(r);
                None
            }
        }
    }

    /// The sink's snapshot for `cp`: pre-commits the open transaction and returns the state
    /// (every pre-committed transaction not yet committed).
    pub fn snapshot(&mut self, cp: CheckpointId) -> Precommitted {
        if self.delivery == Delivery::Transactional {
            let txn = std::mem::take(&mut self.open);
            self.precommitted.push((cp, txn));
        }
        self.precommitted.clone()
    }

    /// Checkpoint `cp` completed: commits every pre-committed transaction up to `cp` and returns
    /// the records that became visible.
    pub fn commit_up_to(&mut self, cp: CheckpointId) -> Vec<TxnRecord> {
        let (done, keep): (Precommitted, Precommitted) =
            std::mem::take(&mut self.precommitted).into_iter().partition(|(id, _)| *id <= cp);
        self.precommitted = keep;
        let mut visible = Vec::new();
        for (id, txn) in done {
            if self.committed.insert(id) {
                visible.extend(txn);
            }
        }
        visible
    }

    /// A failure: the open transaction and every pre-committed one are aborted.
    pub fn abort_all(&mut self) {
        self.open.clear();
        self.precommitted.clear();
    }

    /// Restores the state of a snapshot and commits its transactions again (they belong to a
    /// completed checkpoint); returns the records that became visible now.
    pub fn restore_and_commit(&mut self, state: &Precommitted) -> Vec<TxnRecord> {
        self.abort_all();
        self.precommitted = state.clone();
        match state.last() {
            Some(&(cp, _)) => self.commit_up_to(cp),
            None => Vec::new(),
        }
    }

    /// Records waiting in open or pre-committed transactions.
    pub fn uncommitted(&self) -> usize {
        self.open.len() + self.precommitted.iter().map(|(_, t)| t.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(o: u64) -> TxnRecord {
        (Lineage { partition: 0, offset: o }, 0)
    }

    #[test]
    fn two_phase_commit_makes_output_visible_only_on_completion_and_commits_once() {
        let mut s = Sink::new(Delivery::Transactional);
        assert_eq!(s.receive(rec(0)), None);
        let state = s.snapshot(1);
        s.receive(rec(1));
        assert!(s.commit_up_to(0).is_empty());
        assert_eq!(s.commit_up_to(1), vec![rec(0)]);
        // A crash after the commit, restore of checkpoint 1: no second copy of record 0, and the
        // open transaction (record 1) is gone — it will be replayed.
        assert!(s.restore_and_commit(&state).is_empty());
        assert_eq!(s.uncommitted(), 0);
    }

    #[test]
    fn a_crash_between_completion_and_notification_commits_on_restore() {
        let mut s = Sink::new(Delivery::Transactional);
        s.receive(rec(0));
        let state = s.snapshot(1);
        // Checkpoint 1 completed, but the notification never arrived: the restore commits.
        assert_eq!(s.restore_and_commit(&state), vec![rec(0)]);
    }

    #[test]
    fn plain_delivery_is_immediate() {
        let mut s = Sink::new(Delivery::Plain);
        assert_eq!(s.receive(rec(3)), Some(rec(3)));
        assert!(s.snapshot(1).is_empty());
    }
}
