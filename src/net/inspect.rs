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

    /// Number of channels.
    pub fn channel_count(&self) -> usize {
        self.chans.len()
    }
}
