//! The checkpoint storage's bandwidth: uploads in progress share a total bandwidth (processor
//! sharing, each transfer also capped by its task's own rate), after a latency for their files.
//!
//! Exact integer arithmetic: a transfer's remaining work is kept in bytes × seconds⁻¹ × ns, so
//! it drops by `elapsed_ns × rate` and finishes after `⌈remaining / rate⌉` ns. Rates are
//! recomputed whenever a transfer starts, becomes ready or finishes (water filling: the slowest
//! caps first, the rest share what is left equally). Transfers are kept in start order, so ties
//! finish in start order.

use crate::sim::{SEC, SimTime};

/// One transfer.
#[derive(Clone, Debug)]
struct Transfer<K> {
    key: K,
    /// When its files' latency is over and its bytes start to flow.
    ready_at: SimTime,
    /// Bytes left × `SEC`.
    remaining: u128,
    /// Its own cap (bytes/s).
    cap: u64,
    /// Current rate (bytes/s; 0 until ready).
    rate: u64,
}

/// Transfers sharing a storage's bandwidth.
#[derive(Clone, Debug)]
pub struct SharedBandwidth<K> {
    total: u64,
    at: SimTime,
    transfers: Vec<Transfer<K>>,
}

impl<K: Copy + PartialEq> SharedBandwidth<K> {
    /// A storage of `total` bytes/s.
    pub fn new(total: u64) -> Self {
        SharedBandwidth { total: total.max(1), at: 0, transfers: Vec::new() }
    }

    /// Starts transferring `bytes` for `key` at `now`, after `latency`, at most `cap` bytes/s.
    /// Returns what finished meanwhile (see [`SharedBandwidth::advance`]).
    pub fn start(&mut self, now: SimTime, key: K, latency: SimTime, bytes: u64, cap: u64) -> Vec<K> {
        let done = self.advance(now);
        self.transfers.push(Transfer {
            key,
            ready_at: now + latency,
            remaining: bytes as u128 * SEC as u128,
            cap: cap.max(1),
            rate: 0,
        });
        self.rebalance();
        done
    }

    /// Moves the clock to `now`: returns the keys whose transfer finished by then, in start order.
    pub fn advance(&mut self, now: SimTime) -> Vec<K> {
        let dt = now.saturating_sub(self.at) as u128;
        self.at = self.at.max(now);
        for t in &mut self.transfers {
            t.remaining = t.remaining.saturating_sub(dt * t.rate as u128);
        }
        let mut done = Vec::new();
        self.transfers.retain(|t| {
            let over = t.ready_at <= now && t.remaining == 0;
            if over {
                done.push(t.key);
            }
            !over
        });
        self.rebalance();
        done
    }

    /// Drops the transfers of the keys `gone` says (a failure, an aborted checkpoint).
    pub fn cancel(&mut self, now: SimTime, gone: impl Fn(&K) -> bool) -> Vec<K> {
        let done = self.advance(now);
        self.transfers.retain(|t| !gone(&t.key));
        self.rebalance();
        done
    }

    /// When the next transfer becomes ready or finishes.
    pub fn next_event(&self) -> Option<SimTime> {
        self.transfers
            .iter()
            .map(|t| {
                if t.ready_at > self.at {
                    t.ready_at
                } else if t.remaining == 0 {
                    self.at
                } else {
                    self.at + t.remaining.div_ceil(t.rate.max(1) as u128) as SimTime
                }
            })
            .min()
    }

    /// True when nothing is in progress.
    pub fn is_idle(&self) -> bool {
        self.transfers.is_empty()
    }

    fn rebalance(&mut self) {
        let mut ready: Vec<usize> = (0..self.transfers.len())
            .filter(|&i| self.transfers[i].ready_at <= self.at && self.transfers[i].remaining > 0)
            .collect();
        for t in &mut self.transfers {
            t.rate = 0;
        }
        ready.sort_by_key(|&i| (self.transfers[i].cap, i));
        let mut left = self.total;
        let n = ready.len() as u64;
        for (k, &i) in ready.iter().enumerate() {
            let share = (left / (n - k as u64)).max(1);
            let r = self.transfers[i].cap.min(share);
            self.transfers[i].rate = r;
            left = left.saturating_sub(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::MS;

    const MB: u64 = 1_000_000;

    fn run_to_end(s: &mut SharedBandwidth<u32>) -> Vec<(u32, SimTime)> {
        let mut out = Vec::new();
        while let Some(t) = s.next_event() {
            for k in s.advance(t) {
                out.push((k, t));
            }
        }
        out
    }

    #[test]
    fn one_transfer_runs_at_its_cap_after_its_latency() {
        let mut s = SharedBandwidth::new(1000 * MB);
        s.start(0, 1, 5 * MS, 100 * MB, 100 * MB);
        assert_eq!(run_to_end(&mut s), vec![(1, 5 * MS + SEC)]);
    }

    #[test]
    fn transfers_share_the_total_and_the_freed_bandwidth_goes_to_the_others() {
        // 100 MB/s total, two uploads of 50 and 100 MB: both at 50 MB/s until the first ends at
        // 1 s, then the second alone at 100 MB/s for its last 50 MB: 1.5 s.
        let mut s = SharedBandwidth::new(100 * MB);
        s.start(0, 1, 0, 50 * MB, 1000 * MB);
        s.start(0, 2, 0, 100 * MB, 1000 * MB);
        assert_eq!(run_to_end(&mut s), vec![(1, SEC), (2, SEC + SEC / 2)]);
    }

    #[test]
    fn a_capped_transfer_leaves_the_rest_to_the_others() {
        // 100 MB/s total: one capped at 10 MB/s, the other gets 90.
        let mut s = SharedBandwidth::new(100 * MB);
        s.start(0, 1, 0, 10 * MB, 10 * MB);
        s.start(0, 2, 0, 90 * MB, 1000 * MB);
        assert_eq!(run_to_end(&mut s), vec![(1, SEC), (2, SEC)]);
    }

    #[test]
    fn a_cancelled_transfer_frees_its_share() {
        let mut s = SharedBandwidth::new(100 * MB);
        s.start(0, 1, 0, 100 * MB, 1000 * MB);
        s.start(0, 2, 0, 100 * MB, 1000 * MB);
        // At 1 s each has 50 MB left; cancelling 2 lets 1 finish at 1.5 s.
        assert!(s.cancel(SEC, |&k| k == 2).is_empty());
        assert_eq!(run_to_end(&mut s), vec![(1, SEC + SEC / 2)]);
    }
}
