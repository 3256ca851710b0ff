//! What operators do to records. Each record carries its lineage (source partition, offset);
//! every operator emits at most one output per input, so each sink record traces back to exactly
//! one source record.
//!
//! Stateless kinds (`map`, `filter`, `union`, `sink`) are one-liners here; the stateful ones have
//! their own file: [`source`] (the replayable log) and [`keyed_sum`] (keyed state).
//! Timing (costs, blocking) is the engine's business, not the operator's.

pub mod keyed_sum;
pub mod sink;
pub mod source;

use crate::scenario::{OperatorKind, OperatorSpec};
use crate::sim::SimTime;
pub use keyed_sum::KeyedSum;
pub use sink::Sink;
pub use source::{LogCursor, SourceLog};

/// Where a record came from: its source log partition and offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lineage {
    /// Global partition number (the source task's id).
    pub partition: u32,
    /// Offset in that partition.
    pub offset: u64,
}

/// A data record. Its origin in the source log ([`Record::lineage`]) is kept as two fields, so the
/// round counter fits beside the partition and a record stays 48 bytes (records are what the
/// network buffers hold and copy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Partitioning key.
    pub key: u64,
    /// Payload.
    pub value: i64,
    /// Origin: the source log partition.
    pub partition: u32,
    /// Times the record went round an iteration (back-edges it travelled; 0 outside loops).
    pub rounds: u32,
    /// Origin: the offset in that partition.
    pub offset: u64,
    /// When the source record arrived in its log (for end-to-end latency).
    pub arrival: SimTime,
    /// Position on the channel it last travelled: stamped by the network when the record is
    /// written to a channel (0, 1, 2, … per channel). The consistent-cut checker's ground truth.
    pub seq: u64,
}

impl Record {
    /// A record of `lineage` as a source reads it: not yet on a channel, never round a loop.
    pub fn new(key: u64, value: i64, lineage: Lineage, arrival: SimTime) -> Self {
        let Lineage { partition, offset } = lineage;
        Record { key, value, partition, rounds: 0, offset, arrival, seq: 0 }
    }

    /// Its origin in the source log.
    #[inline]
    pub fn lineage(&self) -> Lineage {
        Lineage { partition: self.partition, offset: self.offset }
    }
}

impl Lineage {
    /// A well-mixed 64-bit digest of the lineage; sums of these fingerprint a set of records.
    #[inline]
    pub fn digest(self) -> u64 {
        crate::sim::mix64(((self.partition as u64) << 40) ^ self.offset)
    }
}

/// Rounds after which a `loop_until` lets a record leave when the scenario does not say.
pub const DEFAULT_MAX_ROUNDS: u32 = 10;

/// A `loop_until`'s rule, shared with the reference model: a record with `value` that went round
/// `rounds` times goes round again unless `value % modulo` is in `remainders` or it went round
/// `max_rounds` times.
pub fn loops_again(value: i64, rounds: u32, modulo: u64, remainders: &[u64], max_rounds: u32) -> bool {
    rounds < max_rounds && !remainders.contains(&(value.rem_euclid(modulo as i64) as u64))
}

/// The per-task logic of an operator (the source's log lives in the engine's source state).
#[derive(Clone, Debug)]
pub enum Logic {
    /// Emits what it reads from its log unchanged.
    Source,
    /// `value → value + 1`.
    Map,
    /// Keeps a record when `value mod modulo` is in `remainders`.
    Filter {
        /// Divisor.
        modulo: u64,
        /// Remainders kept.
        remainders: Vec<u64>,
    },
    /// Running sum per key.
    KeyedSum(KeyedSum),
    /// Forwards unchanged.
    Union,
    /// The tail of an iteration: forwards unchanged; [`Logic::goes_round`] says which way.
    LoopUntil {
        /// Divisor.
        modulo: u64,
        /// Remainders that leave the loop.
        remainders: Vec<u64>,
        /// Rounds after which a record leaves whatever its value.
        max_rounds: u32,
    },
    /// Consumes.
    Sink,
}

impl Logic {
    /// The logic of one task of `spec`.
    pub fn new(spec: &OperatorSpec) -> Logic {
        match spec.kind {
            OperatorKind::Source => Logic::Source,
            OperatorKind::Map => Logic::Map,
            OperatorKind::Filter => {
                let keep = spec.keep.as_ref().expect("validated: a filter has `keep`");
                Logic::Filter { modulo: keep.modulo, remainders: keep.remainders.clone() }
            }
            OperatorKind::KeyedSum => Logic::KeyedSum(KeyedSum::new(spec.state_bytes_per_key.unwrap_or(16))),
            OperatorKind::Union => Logic::Union,
            OperatorKind::LoopUntil => {
                let until = spec.until.as_ref().expect("validated: a loop_until has `until`");
                Logic::LoopUntil {
                    modulo: until.modulo,
                    remainders: until.remainders.clone(),
                    max_rounds: spec.max_rounds.unwrap_or(DEFAULT_MAX_ROUNDS),
                }
            }
            OperatorKind::Sink => Logic::Sink,
        }
    }

    /// Processes one record; returns the output record, if any.
    ///
    /// ```
    /// use ckptsim::operator::{Lineage, Logic, Record};
    /// let r = Record::new(3, 10, Lineage { partition: 0, offset: 7 }, 0);
    /// assert_eq!(Logic::Map.apply(r).unwrap().value, 11);
    /// let mut even = Logic::Filter { modulo: 2, remainders: vec![0] };
    /// assert!(even.apply(r).is_some());
    /// assert!(even.apply(Record { value: 9, ..r }).is_none());
    /// ```
    #[inline]
    pub fn apply(&mut self, r: Record) -> Option<Record> {
        match self {
            Logic::Source | Logic::Union | Logic::LoopUntil { .. } => Some(r),
            Logic::Map => Some(Record { value: r.value.wrapping_add(1), ..r }),
            Logic::Filter { modulo, remainders } => {
                let rem = r.value.rem_euclid(*modulo as i64) as u64;
                remainders.contains(&rem).then_some(r)
            }
            Logic::KeyedSum(s) => Some(s.apply(r)),
            Logic::Sink => None,
        }
    }

    /// A `loop_until`: whether `r` goes round again (on the back-edges) rather than leaving.
    ///
    /// ```
    /// use ckptsim::operator::{Lineage, Logic, Record};
    /// let r = Record::new(0, 4, Lineage { partition: 0, offset: 0 }, 0);
    /// let tail = Logic::LoopUntil { modulo: 5, remainders: vec![0], max_rounds: 3 };
    /// assert!(tail.goes_round(&r));
    /// assert!(!tail.goes_round(&Record { value: 5, ..r }));
    /// assert!(!tail.goes_round(&Record { rounds: 3, ..r }));
    /// ```
    #[inline]
    pub fn goes_round(&self, r: &Record) -> bool {
        match self {
            Logic::LoopUntil { modulo, remainders, max_rounds } => {
                loops_again(r.value, r.rounds, *modulo, remainders, *max_rounds)
            }
            _ => false,
        }
    }

    /// A keyed sum's state folded as `Σ mix64(key) × sum` (`None` for stateless operators): the
    /// cut checker compares it with what the network says the task consumed.
    pub fn state_kv(&self) -> Option<u64> {
        match self {
            Logic::KeyedSum(s) => Some(s.kv_digest()),
            _ => None,
        }
    }

    /// Drops one key of a keyed sum's state (a deliberately broken snapshot, for a mutant).
    pub fn forget_a_key(&mut self) {
        if let Logic::KeyedSum(s) = self {
            s.forget_a_key();
        }
    }

    /// Entries of operator state: distinct keys (0 for stateless operators).
    pub fn state_entries(&self) -> u64 {
        match self {
            Logic::KeyedSum(s) => s.len() as u64,
            _ => 0,
        }
    }

    /// Bytes of operator state (0 for stateless operators).
    pub fn state_bytes(&self) -> u64 {
        match self {
            Logic::KeyedSum(s) => s.state_bytes(),
            _ => 0,
        }
    }
}
