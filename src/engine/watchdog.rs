//! The watchdog (runs always end): a run that passes `limits.max_sim_time_ms`, or in which no
//! record was processed for `limits.stall_ms` while some task had input waiting, is stopped with
//! a reason that names the stalled tasks (`summary.watchdog`).

use super::{Engine, State};
use crate::sim::{MS, SimTime};

/// The watchdog's state (DESIGN §4: runs always end).
pub(super) struct Watchdog {
    pub(super) max_time: SimTime,
    pub(super) stall: SimTime,
    /// `limits.cancel_at_ms`, and when the job was cancelled.
    pub(super) cancel_at: SimTime,
    pub(super) cancelled: Option<SimTime>,
    pub(super) hops: u64,
    pub(super) since: SimTime,
    pub(super) stopped: Option<String>,
}

impl Engine<'_> {
    /// True (and the reason noted) when no task processed a record for `limits.stall_ms` while
    /// some task had input it could have taken.
    pub(super) fn stalled(&mut self) -> bool {
        let hops = self.rec.counts.hops;
        if hops != self.watch.hops {
            (self.watch.hops, self.watch.since) = (hops, self.now);
            return false;
        }
        if self.now - self.watch.since < self.watch.stall {
            return false;
        }
        let stuck = self.stalled_tasks();
        if stuck.is_empty() {
            // Idle by design (sources waiting for their logs): look again one span later.
            self.watch.since = self.now;
            return false;
        }
        self.watch.stopped = Some(format!(
            "no record processed for {} ms (limits.stall_ms) while these tasks had input waiting: {}",
            (self.now - self.watch.since) / MS,
            stuck.join(", ")
        ));
        true
    }

    /// Tasks that are alive and have a record they could take: a source whose next log record
    /// has arrived, or a task with data queued on an input.
    pub(super) fn stalled_tasks(&self) -> Vec<String> {
        let now = self.now;
        self.tasks
            .iter()
            .zip(&self.graph.tasks)
            .filter(|(t, _)| !matches!(t.state, State::Finished | State::Down))
            .filter(|(t, node)| match &t.source {
                Some(log) => !log.paused() && log.next_arrival().is_some_and(|at| at <= now),
                None => node.input_gates.iter().flatten().any(|&ch| self.net.queued_buffers(ch) > 0),
            })
            .map(|(_, node)| node.name.clone())
            .collect()
    }
}
