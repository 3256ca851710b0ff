//! Replayable source logs (like Kafka partitions).
//!
//! Record `offset` of partition `p` arrives in the log at a time given by the arrival process, and
//! its key and value are a pure function of `(seed, p, offset)`. The reading position is a
//! [`LogCursor`] — offset, arrival time of that offset, and the arrival RNG's position — which is
//! cheap to copy, so a snapshot of it rewinds the source exactly, and memory stays flat however
//! long the log grows.

use super::{Lineage, Record};
use crate::scenario::{ArrivalSpec, OperatorSpec};
use crate::sim::{MS, SEC, SimRng, SimTime, mix64};

/// The reading position in a log partition.
#[derive(Clone, Debug, PartialEq)]
pub struct LogCursor {
    /// Next offset to read.
    pub offset: u64,
    /// When that offset arrives (arrived) in the log.
    pub next_arrival: SimTime,
    rng: SimRng,
}

impl LogCursor {
    /// The position `offset`, whose record arrives at `next_arrival`, with the arrival RNG at
    /// `rng` (from a savepoint).
    pub fn new(offset: u64, next_arrival: SimTime, rng: SimRng) -> Self {
        LogCursor { offset, next_arrival, rng }
    }

    /// The arrival RNG at this position.
    pub fn rng(&self) -> &SimRng {
        &self.rng
    }
}

/// One partition of a replayable log.
#[derive(Clone, Debug)]
pub struct SourceLog {
    partition: u32,
    seed: u64,
    keys: u64,
    /// Key churn: `(hot keys, percent of records on them, new cold keys per second)`.
    churn: Option<(u64, u64, u64)>,
    limit: Option<u64>,
    until: Option<SimTime>,
    arrival: ArrivalSpec,
    cursor: LogCursor,
    /// Stop-with-savepoint: the source stops reading at this offset — ending its input (`true`,
    /// a drain) or pausing (its position in the savepoint).
    stop_at: Option<(u64, bool)>,
    /// Log time − simulated time: a job started from a savepoint starts its clock at 0 while the
    /// log has gone on (what arrived while the job was stopped is there at once).
    shift: SimTime,
}

impl SourceLog {
    /// Partition `partition` of a source operator, with its own arrival RNG stream.
    pub fn new(spec: &OperatorSpec, partition: u32, seed: u64, rng: SimRng) -> Self {
        SourceLog {
            partition,
            seed,
            keys: spec.keys.unwrap_or(1000),
            churn: (spec.hot_keys.is_some() || spec.new_keys_per_sec.is_some()).then(|| {
                (spec.hot_keys.unwrap_or(0), spec.hot_key_pct.unwrap_or(0), spec.new_keys_per_sec.unwrap_or(0))
            }),
            limit: spec.records_per_partition,
            until: spec.until_ms.map(|m| m * MS),
            arrival: spec.arrival.expect("validated: a source has an arrival process"),
            cursor: LogCursor { offset: 0, next_arrival: 0, rng },
            stop_at: None,
            shift: 0,
        }
    }

    /// The current reading position.
    pub fn cursor(&self) -> &LogCursor {
        &self.cursor
    }

    /// Stops reading at `offset` (stop-with-savepoint) — for good when `end` (the input ends
    /// there: a drain), else paused — or reads on (`None`).
    pub fn stop_at(&mut self, stop: Option<(u64, bool)>) {
        self.stop_at = stop;
    }

    /// Paused by a stop-with-savepoint: no record is read, but the input has not ended.
    #[inline]
    pub fn paused(&self) -> bool {
        self.stop_at.is_some_and(|(at, end)| !end && self.cursor.offset >= at)
    }

    /// Rewinds (or forwards) to a position taken earlier with [`SourceLog::cursor`].
    pub fn seek(&mut self, cursor: LogCursor) {
        self.cursor = cursor;
    }

    /// Arrival time of the next record, or `None` when the partition is exhausted.
    #[inline]
    pub fn next_arrival(&self) -> Option<SimTime> {
        let c = &self.cursor;
        let over_limit =
            self.limit.is_some_and(|l| c.offset >= l) || self.stop_at.is_some_and(|s| s.1 && c.offset >= s.0);
        let over_time = self.until.is_some_and(|u| c.next_arrival > u);
        (!over_limit && !over_time).then_some(c.next_arrival.saturating_sub(self.shift))
    }

    /// Runs the log `shift` ahead of the simulated clock (a start from a savepoint taken when
    /// the log was at `shift`).
    pub fn set_shift(&mut self, shift: SimTime) {
        self.shift = shift;
    }

    /// The record at `offset` (pure function of seed, partition and offset) with the given arrival.
    pub fn record_at(&self, offset: u64, arrival: SimTime) -> Record {
        let h = mix64(self.seed ^ mix64(((self.partition as u64) << 40) ^ offset));
        let key = match self.churn {
            None => h % self.keys,
            Some((hot, pct, new_per_sec)) => {
                if hot > 0 && mix64(h ^ 0x0005_eed0_f4e7_c0de) % 100 < pct {
                    h % hot
                } else {
                    // The cold window slides with arrival time: `new_per_sec` new keys a second.
                    let slide = (arrival as u128 * new_per_sec as u128 / SEC as u128) as u64;
                    hot + slide + h % self.keys
                }
            }
        };
        Record::new(key, (mix64(h) % 100) as i64, Lineage { partition: self.partition, offset }, arrival)
    }

    /// Reads the next record and advances. Call only when [`SourceLog::next_arrival`] is `Some`.
    pub fn read(&mut self) -> Record {
        let mut r = self.record_at(self.cursor.offset, self.cursor.next_arrival);
        r.arrival = r.arrival.saturating_sub(self.shift);
        self.advance();
        r
    }

    fn advance(&mut self) {
        let c = &mut self.cursor;
        c.offset += 1;
        c.next_arrival = match self.arrival {
            ArrivalSpec::Constant { rate_per_sec } => {
                (c.offset as u128 * SEC as u128 / rate_per_sec as u128) as SimTime
            }
            ArrivalSpec::Poisson { rate_per_sec } => c.next_arrival + c.rng.exp_ratio(SEC, rate_per_sec),
            ArrivalSpec::Bursts { rate_per_sec, burst_rate_per_sec, burst_ms, period_ms } => {
                let phase = c.next_arrival % (period_ms * MS);
                let rate = if phase < burst_ms * MS { burst_rate_per_sec } else { rate_per_sec };
                c.next_arrival + (SEC / rate).max(1)
            }
        };
    }
}
