//! Buffer debloating (FLIP-183), as Flink's `BufferDebloater`, `BufferSizeEMA` and
//! `ThroughputCalculator` do it.
//!
//! Each input gate counts the bytes its task takes and the time it had data queued (Flink pauses
//! the measurement while the task finds its gate empty). Every period it turns that into a
//! throughput and computes the buffer size at which its buffers in use (queued at the receiver
//! plus the senders' announced backlog) hold `target` worth of data; an exponential moving
//! average over `samples` smooths it (a step is at most the doubling of the current size, so
//! growing and shrinking go at the same pace), clamped to [min, max]. A change of less than the
//! threshold is not announced, except at the bounds. The announcement reaches every sender of the
//! gate after the network latency; their next buffers have the new size.

use super::{NetEvent, Network};
use crate::graph::TaskId;
use crate::sim::{ChannelId, EventQueue, MS, SimTime};

/// Debloating settings in simulation units.
#[derive(Clone, Copy, Debug)]
pub struct DebloatConfig {
    /// Desired time to consume a gate's in-flight data.
    pub target: SimTime,
    /// Recalculation period.
    pub period: SimTime,
    /// The moving average's weight of a new sample: `2 / (samples + 1)`.
    pub alpha: f64,
    /// Changes below this fraction of the last size are not announced.
    pub threshold: f64,
    /// Smallest buffer (bytes).
    pub min_bytes: u32,
    /// Largest buffer (bytes): the static buffer size.
    pub max_bytes: u32,
}

impl DebloatConfig {
    /// From the scenario's `network` object, when debloating is enabled.
    pub fn from_scenario(n: &crate::scenario::Network) -> Option<Self> {
        let d = &n.debloat;
        d.enabled.then(|| DebloatConfig {
            target: d.target_ms * MS,
            period: d.period_ms * MS,
            alpha: 2.0 / (d.samples as f64 + 1.0),
            threshold: d.threshold_percentages as f64 / 100.0,
            min_bytes: d.min_buffer_bytes as u32,
            max_bytes: (n.buffer_records as u64 * n.record_bytes as u64).min(u32::MAX as u64) as u32,
        })
    }
}

/// One gate's debloater and throughput meter.
#[derive(Clone, Debug)]
pub(super) struct GateDebloat {
    /// The moving average (bytes).
    ema: f64,
    /// The last announced size (bytes).
    pub(super) size: u32,
    /// Bytes taken since the last recalculation.
    taken_bytes: u64,
    /// Time with data queued since the last recalculation, not counting the running stretch.
    measured: SimTime,
    /// Data has been queued since then.
    data_since: Option<SimTime>,
    /// The last throughput (kept when nothing could be measured).
    throughput: u64,
}

impl GateDebloat {
    pub(super) fn new(cfg: &DebloatConfig) -> Self {
        GateDebloat {
            ema: cfg.max_bytes as f64,
            size: cfg.max_bytes,
            taken_bytes: 0,
            measured: 0,
            data_since: None,
            throughput: 0,
        }
    }

    /// The gate's queue went from empty to non-empty (`true`) or back (`false`).
    pub(super) fn data_queued(&mut self, queued: bool, now: SimTime) {
        match (queued, self.data_since) {
            (true, None) => self.data_since = Some(now),
            (false, Some(since)) => {
                self.measured += now - since;
                self.data_since = None;
            }
            _ => {}
        }
    }

    pub(super) fn took(&mut self, bytes: u64) {
        self.taken_bytes += bytes;
    }

    /// Bytes per second over the time with data since the last call.
    fn throughput(&mut self, now: SimTime) -> u64 {
        if let Some(since) = self.data_since {
            self.measured += now - since;
            self.data_since = Some(now);
        }
        if self.measured > 0 {
            self.throughput = (self.taken_bytes as u128 * 1_000_000_000 / self.measured as u128) as u64;
        }
        (self.taken_bytes, self.measured) = (0, 0);
        self.throughput
    }

    /// Flink's `BufferDebloater.recalculateBufferSize`: the size to announce, if any.
    fn recalculate(&mut self, cfg: &DebloatConfig, throughput: u64, buffers_in_use: u32) -> Option<u32> {
        let buffers = buffers_in_use.max(1) as f64;
        let desired_total = throughput as f64 * (cfg.target as f64 / 1e9);
        let desirable = (desired_total / buffers).min(2.0 * self.ema);
        self.ema += cfg.alpha * (desirable - self.ema);
        self.ema = self.ema.clamp(cfg.min_bytes as f64, cfg.max_bytes as f64);
        let new = self.ema.round() as u32;
        let at_bound = new <= cfg.min_bytes || new >= cfg.max_bytes;
        let small = (new as f64 - self.size as f64).abs() < self.size as f64 * cfg.threshold;
        if new == self.size || (!at_bound && small) {
            return None;
        }
        self.size = new;
        Some(new)
    }
}

/// One gate at one recalculation: a row of `debloat.csv`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct DebloatSample {
    /// When (ms).
    pub t_ms: f64,
    /// The gate: `task#gate` (`sink[0]#0`).
    pub gate: String,
    /// Bytes per second the task took from the gate while it had data.
    pub throughput_bps: u64,
    /// Buffers in use: queued at the receiver plus the senders' backlog.
    pub buffers_in_use: u32,
    /// The buffer size in force after this recalculation (bytes).
    pub buffer_bytes: u32,
    /// Whether this recalculation announced a new size.
    pub announced: bool,
    /// Data in flight towards the gate: in the senders' buffers, on the wire and queued (bytes).
    pub in_flight_bytes: u64,
}

impl Network {
    /// The debloating settings, if enabled.
    pub fn debloat_config(&self) -> Option<&DebloatConfig> {
        self.cfg.debloat.as_ref()
    }

    /// Every gate of a running task recalculates its buffer size and announces a change to its
    /// senders. Returns one sample per gate, in gate order (`gate_name` names them).
    pub fn debloat<E: From<NetEvent>>(
        &mut self,
        now: SimTime,
        q: &mut EventQueue<E>,
        running: impl Fn(TaskId) -> bool,
        gate_name: impl Fn(TaskId, usize) -> String,
    ) -> Vec<DebloatSample> {
        let Some(cfg) = self.cfg.debloat else { return Vec::new() };
        let mut rows = Vec::new();
        for g in 0..self.gates.len() {
            let (task, local) = (self.gates[g].task, self.gates[g].local);
            // A chained input has no network buffers to size, a back-edge no credits to bound.
            if !running(task) || self.gates[g].chans.iter().any(|&c| !self.chans[c.0 as usize].flow_control) {
                continue;
            }
            let chans = std::mem::take(&mut self.gates[g].chans);
            let buffers_in_use: u32 = chans
                .iter()
                .map(|&c| {
                    let r = &self.chans[c.0 as usize].recv;
                    r.queued_data + r.last_backlog
                })
                .sum();
            let in_flight: u64 = chans.iter().map(|&c| self.records_towards(c)).sum::<u64>() * self.cfg.record_bytes;
            let d = self.gates[g].debloat.as_mut().expect("debloating gates have a debloater");
            let throughput = d.throughput(now);
            let announced = d.recalculate(&cfg, throughput, buffers_in_use);
            let size = d.size;
            if let Some(bytes) = announced {
                for &c in &chans {
                    let at = now + self.delay();
                    q.push(at, NetEvent::BufferSize(c, bytes).into());
                }
            }
            self.gates[g].chans = chans;
            rows.push(DebloatSample {
                t_ms: crate::sim::ns_to_ms(now),
                gate: gate_name(task, local),
                throughput_bps: throughput,
                buffers_in_use,
                buffer_bytes: size,
                announced: announced.is_some(),
                in_flight_bytes: in_flight,
            });
        }
        rows
    }

    /// Records on their way to the receiver of `ch`: the sender's buffers, the wire, the queue.
    fn records_towards(&self, ch: ChannelId) -> u64 {
        let c = &self.chans[ch.0 as usize];
        let data = |e: &super::Element| match e {
            super::Element::Data(b) | super::Element::Recovered(b) => b.len() as u64,
            _ => 0,
        };
        let queued: u64 = c.recv.queue.iter().map(data).sum::<u64>() - c.recv.head_read as u64;
        c.send.current.len() as u64
            + c.send.backlog.iter().map(data).sum::<u64>()
            + c.send.in_flight.iter().map(|(e, ..)| data(e)).sum::<u64>()
            + queued
    }

    /// A new buffer size reached the sender of `ch`: its next buffers hold `bytes ÷ record_bytes`
    /// records (at least one); a current buffer already that full is finished.
    pub(super) fn set_buffer_size<E: From<NetEvent>>(
        &mut self,
        ch: ChannelId,
        bytes: u32,
        now: SimTime,
        q: &mut EventQueue<E>,
    ) {
        if self.chans[ch.0 as usize].chained {
            return;
        }
        let cap = (bytes as u64 / self.cfg.record_bytes).max(1) as usize;
        let send = &mut self.chans[ch.0 as usize].send;
        send.cap = cap;
        if send.current.len() >= cap {
            self.finish_buffer(ch, now, q);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> DebloatConfig {
        DebloatConfig {
            target: 100 * MS,
            period: 200 * MS,
            alpha: 2.0 / 6.0,
            threshold: 0.25,
            min_bytes: 256,
            max_bytes: 32_768,
        }
    }

    /// Recalculates with a steady throughput and buffer count until nothing changes any more.
    fn settle(d: &mut GateDebloat, throughput: u64, buffers: u32) -> u32 {
        for _ in 0..200 {
            d.recalculate(&cfg(), throughput, buffers);
        }
        d.size
    }

    #[test]
    fn the_size_converges_to_throughput_times_target_over_buffers_within_the_threshold() {
        let mut d = GateDebloat::new(&cfg());
        // 1 MB/s × 100 ms = 100 kB over 20 buffers: 5,000 bytes.
        let size = settle(&mut d, 1_000_000, 20);
        assert!((size as f64 - 5_000.0).abs() <= 0.25 * 5_000.0, "{size}");
        // Twice the throughput: twice the size, again within the threshold.
        let size = settle(&mut d, 2_000_000, 20);
        assert!((size as f64 - 10_000.0).abs() <= 0.25 * 10_000.0, "{size}");
    }

    #[test]
    fn small_changes_are_not_announced_but_the_bounds_are() {
        let mut d = GateDebloat::new(&cfg());
        settle(&mut d, 1_000_000, 20);
        let before = d.size;
        // 10% more throughput moves the average by less than 25% of the size: no announcement.
        for _ in 0..200 {
            assert_eq!(d.recalculate(&cfg(), 1_100_000, 20), None);
        }
        assert_eq!(d.size, before);
        // No throughput: it shrinks to the minimum and announces it.
        assert_eq!(settle(&mut d, 0, 20), 256);
        // A huge throughput: the maximum, reached by steps of at most the doubling.
        let first = d.recalculate(&cfg(), u32::MAX as u64, 1).unwrap();
        assert!(first <= 2 * 256, "{first}");
        assert_eq!(settle(&mut d, u32::MAX as u64, 1), 32_768);
    }

    #[test]
    fn throughput_counts_only_the_time_with_data_queued() {
        let mut d = GateDebloat::new(&cfg());
        d.data_queued(true, 0);
        d.took(1_000);
        d.data_queued(false, 10 * MS);
        // 1,000 bytes in the 10 ms that had data, though 200 ms passed: 100,000 bytes/s.
        assert_eq!(d.throughput(200 * MS), 100_000);
        // Nothing measured in the next period: the last throughput stands.
        assert_eq!(d.throughput(400 * MS), 100_000);
    }
}
