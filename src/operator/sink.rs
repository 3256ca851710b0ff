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
use std::collections::{BTreeMap, BTreeSet};

/// A record in a transaction: its lineage, when it arrived in the source log, and its value.
pub type TxnRecord = (Lineage, SimTime, i64);

/// The sink's snapshot state: handles (checkpoint ids) of its pre-committed transactions that are
/// not yet committed, oldest first. The data is in the external system, as with Kafka.
pub type Precommitted = Vec<CheckpointId>;

/// The delivery state of one sink task, and the external system it writes to.
#[derive(Clone, Debug)]
pub struct Sink {
    delivery: Delivery,
    /// The external system aborts transactions older than this (Kafka's `transaction.timeout.ms`).
    timeout: Option<SimTime>,
    open: Vec<TxnRecord>,
    /// When the open transaction started (its first record).
    open_since: Option<SimTime>,
    /// The external system: when each pre-committed transaction started.
    started: BTreeMap<CheckpointId, SimTime>,
    /// Transactions the external system had aborted by timeout when their commit came, and
    /// their records (lost).
    pub expired: (u64, u64),
    /// Task state: handles of pre-committed, uncommitted transactions.
    handles: Precommitted,
    /// The external system: pre-committed transactions by handle. They survive a crash of the
    /// task; a restore commits or aborts them.
    external: BTreeMap<CheckpointId, Vec<TxnRecord>>,
    /// The external system: handles already committed — a commit is idempotent.
    committed: BTreeSet<CheckpointId>,
}

impl Sink {
    /// A sink delivering as `delivery`; a transaction older than `timeout` is aborted by the
    /// external system.
    pub fn new(delivery: Delivery, timeout: Option<SimTime>) -> Self {
        Sink {
            delivery,
            timeout,
            open: Vec::new(),
            open_since: None,
            started: BTreeMap::new(),
            expired: (0, 0),
            handles: Vec::new(),
            external: BTreeMap::new(),
            committed: BTreeSet::new(),
        }
    }

    /// How this sink delivers.
    pub fn delivery(&self) -> Delivery {
        self.delivery
    }

    /// Takes a record at `now`; returns it when it is visible at once (plain delivery).
    pub fn receive(&mut self, r: TxnRecord, now: SimTime) -> Option<TxnRecord> {
        match self.delivery {
            Delivery::Plain => Some(r),
            Delivery::Transactional => {
                self.open_since.get_or_insert(now);
                self.open.push(r);
                None
            }
        }
    }

    /// The sink's snapshot for `cp`: pre-commits the open transaction under handle `cp` and
    /// returns the state (the handles of every pre-committed transaction not yet committed).
    pub fn snapshot(&mut self, cp: CheckpointId) -> Precommitted {
        if self.delivery == Delivery::Transactional {
            self.external.insert(cp, std::mem::take(&mut self.open));
            if let Some(t) = self.open_since.take() {
                self.started.insert(cp, t);
            }
            self.handles.push(cp);
        }
        self.handles.clone()
    }

    /// Checkpoint `cp` completed (`now`): commits every pre-committed transaction up to `cp` and
    /// returns the records that became visible. A transaction older than the timeout was aborted
    /// by the external system meanwhile: its records are lost (counted in `expired`).
    pub fn commit_up_to(&mut self, cp: CheckpointId, now: SimTime) -> Vec<TxnRecord> {
        let (done, keep): (Precommitted, Precommitted) = self.handles.iter().partition(|&&id| id <= cp);
        self.handles = keep;
        let mut visible = Vec::new();
        for id in done {
            let started = self.started.remove(&id);
            if let Some(txn) = self.external.remove(&id)
                && self.committed.insert(id)
            {
                if let (Some(limit), Some(t0)) = (self.timeout, started)
                    && now - t0 > limit
                {
                    self.expired.0 += 1;
                    self.expired.1 += txn.len() as u64;
                    continue;
                }
                visible.extend(txn);
            }
        }
        visible
    }

    /// A crash of the task: the open transaction is lost. Pre-committed transactions stay in the
    /// external system until the restore commits or aborts them.
    pub fn crash(&mut self) {
        self.open.clear();
        self.open_since = None;
        self.handles.clear();
    }

    /// Restores the state of a snapshot: commits its transactions (they belong to a completed
    /// checkpoint; committing again is a no-op) and aborts every other pre-committed one. Returns
    /// the records that became visible now.
    pub fn restore_and_commit(&mut self, state: &Precommitted, now: SimTime) -> Vec<TxnRecord> {
        self.open.clear();
        self.open_since = None;
        self.handles = state.clone();
        let visible = match state.last() {
            Some(&cp) => self.commit_up_to(cp, now),
            None => Vec::new(),
        };
        // Whatever else was pre-committed belongs to no completed checkpoint: abort it.
        self.external.clear();
        self.started.clear();
        self.handles.clear();
        visible
    }

    /// The records of the pre-committed transactions up to `cp` that were not committed (what a
    /// retained checkpoint `cp` carries for the restore to commit).
    pub fn pending_up_to(&self, cp: CheckpointId) -> Vec<TxnRecord> {
        self.external
            .range(..=cp)
            .filter(|(id, _)| !self.committed.contains(id))
            .flat_map(|(_, t)| t.iter().copied())
            .collect()
    }

    /// Records waiting in open or pre-committed transactions.
    pub fn uncommitted(&self) -> usize {
        self.open.len() + self.external.values().map(Vec::len).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(o: u64) -> TxnRecord {
        (Lineage { partition: 0, offset: o }, 0, 0)
    }

    #[test]
    fn two_phase_commit_makes_output_visible_only_on_completion_and_commits_once() {
        let mut s = Sink::new(Delivery::Transactional, None);
        assert_eq!(s.receive(rec(0), 0), None);
        let state = s.snapshot(1);
        s.receive(rec(1), 0);
        assert!(s.commit_up_to(0, 0).is_empty());
        assert_eq!(s.commit_up_to(1, 0), vec![rec(0)]);
        // A crash after the commit, restore of checkpoint 1: no second copy of record 0, and the
        // open transaction (record 1) is gone — it will be replayed.
        assert!(s.restore_and_commit(&state, 0).is_empty());
        assert_eq!(s.uncommitted(), 0);
        assert_eq!(state, vec![1], "the snapshot holds the transaction's handle, not its data");
    }

    #[test]
    fn a_crash_between_completion_and_notification_commits_on_restore() {
        let mut s = Sink::new(Delivery::Transactional, None);
        s.receive(rec(0), 0);
        let state = s.snapshot(1);
        // A later transaction, pre-committed for a checkpoint that never completed.
        s.receive(rec(1), 0);
        s.snapshot(2);
        s.crash();
        // Checkpoint 1 completed, but the notification never arrived: the restore commits it,
        // and aborts transaction 2.
        assert_eq!(s.restore_and_commit(&state, 0), vec![rec(0)]);
        assert_eq!(s.uncommitted(), 0);
    }

    #[test]
    fn a_transaction_older_than_the_timeout_is_lost_at_commit() {
        let mut s = Sink::new(Delivery::Transactional, Some(100));
        s.receive(rec(0), 10);
        let state = s.snapshot(1);
        s.receive(rec(1), 50);
        s.snapshot(2);
        s.crash();
        // The restore comes 200 after transaction 1 started: Kafka aborted it.
        assert!(s.restore_and_commit(&state, 210).is_empty());
        assert_eq!(s.expired, (1, 1));
        // Within the timeout it commits.
        let mut s = Sink::new(Delivery::Transactional, Some(100));
        s.receive(rec(0), 10);
        s.snapshot(1);
        assert_eq!(s.commit_up_to(1, 110), vec![rec(0)]);
    }

    #[test]
    fn plain_delivery_is_immediate() {
        let mut s = Sink::new(Delivery::Plain, None);
        assert_eq!(s.receive(rec(3), 0), Some(rec(3)));
        assert!(s.snapshot(1).is_empty());
    }
}
