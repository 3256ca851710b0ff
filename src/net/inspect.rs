//! Read-only views of the network: per-channel counters (sent, arrived, consumed) and queue
//! depths, for snapshots, the cut checker and the metrics.

use super::Network;
use crate::sim::ChannelId;

impl Network {
    /// Records written to `ch` so far (ground truth for the cut checker).
    pub fn sent(&self, ch: ChannelId) -> u64 {
        self.chans[ch.0 as usize].send.sent
    }

    /// Records that reached the receiver of `ch` so far.
    pub fn arrived(&self, ch: ChannelId) -> u64 {
        self.chans[ch.0 as usize].recv.arrived
    }

    /// Records the receiver took from `ch` so far (ground truth for the cut checker).
    pub fn consumed(&self, ch: ChannelId) -> u64 {
        self.chans[ch.0 as usize].recv.consumed
    }

    /// Sum of the lineage digests of the records taken from `ch` so far.
    pub fn consumed_digest(&self, ch: ChannelId) -> u64 {
        self.chans[ch.0 as usize].recv.consumed_digest
    }

    /// Sum of `mix64(key) × value` of the records taken from `ch` (what a keyed sum of them holds).
    pub fn consumed_kv(&self, ch: ChannelId) -> u64 {
        self.chans[ch.0 as usize].recv.consumed_kv
    }

    /// Non-FIFO channels: `Σ mix64(seq)` over the records written to `ch`, and over the records
    /// taken from it with one past the highest sequence number taken (all 0 on FIFO channels,
    /// where the taken records are the prefix `0..consumed`).
    pub fn seq_digests(&self, ch: ChannelId) -> (u64, (u64, u64)) {
        let c = &self.chans[ch.0 as usize];
        (c.send.sent_seqs, c.recv.consumed_seqs)
    }

    /// [`Network::seq_digests`] of a channel whose first `sent` records were written and first
    /// `consumed` taken, in order (a start, or a restore from a savepoint).
    pub fn prefix_seqs(&self, sent: u64, consumed: u64) -> (u64, (u64, u64)) {
        if !self.reorders() {
            return (0, (0, 0));
        }
        let prefix = |k: u64| (0..k).fold(0u64, |d, i| d.wrapping_add(crate::sim::mix64(i)));
        (prefix(sent), (prefix(consumed), consumed))
    }

    /// The channels reorder (`network.reorder_us` > 0).
    pub fn reorders(&self) -> bool {
        self.cfg.reorder > 0
    }

    /// Receiver-side data buffers currently queued on `ch`.
    pub fn queued_buffers(&self, ch: ChannelId) -> u32 {
        self.chans[ch.0 as usize].recv.queued_data
    }

    /// The most data buffers ever queued at the receiver of `ch`.
    pub fn max_queued_buffers(&self, ch: ChannelId) -> u32 {
        self.chans[ch.0 as usize].recv.max_queued
    }

    /// Finished data buffers waiting for credit at the sender of `ch`.
    pub fn backlog_buffers(&self, ch: ChannelId) -> u32 {
        self.chans[ch.0 as usize].send.backlog_data
    }

    /// Data buffers queued at every receiver, and waiting at every sender: the sums of
    /// [`Network::queued_buffers`] and [`Network::backlog_buffers`] over all channels, kept as
    /// buffers move (O(1), where the sums visit every channel).
    pub fn buffer_totals(&self) -> (u64, u64) {
        (self.queued_total, self.backlog_total)
    }

    /// Number of channels.
    pub fn channel_count(&self) -> usize {
        self.chans.len()
    }
}
