//! What the sinks make visible: plain deliveries, commits of transactional sinks on completion
//! notifications (checked against the engine's completed checkpoints), and the job's completion
//! once the final checkpoint committed (FLIP-147).

use super::{Engine, Event};
use crate::graph::TaskId;
use crate::protocol::CheckpointId;
use crate::trace::TraceEvent;

impl Engine<'_> {
    /// Sink records became visible (committed, or received by a plain sink).
    pub(super) fn make_visible(&mut self, records: &[crate::operator::sink::TxnRecord]) {
        for &(lineage, arrival, value) in records {
            self.rec.visible(self.now - arrival);
            if let Some(out) = &mut self.output {
                out.add(lineage, value);
            }
        }
    }

    /// A task learns that checkpoint `cp` completed; a transactional sink commits.
    pub(super) fn on_notify(&mut self, task: TaskId, cp: CheckpointId) {
        self.tracer.record(self.now, TraceEvent::Notify { task, cp }, &self.graph);
        self.tasks[task.0 as usize].backend.confirm(cp);
        self.commit_sink(task, cp);
        if self.final_cp == Some(cp) && self.final_notifies_left > 0 {
            self.final_notifies_left -= 1;
            if self.final_notifies_left == 0 {
                self.complete_job();
            }
        }
    }

    /// A transactional sink commits its transactions up to `cp`. Ground truth, independent of the
    /// sink's bookkeeping: committing for a checkpoint that has not completed makes output visible
    /// too early (counted in `records.visible_before_completion`).
    pub(super) fn commit_sink(&mut self, task: TaskId, cp: CheckpointId) {
        let now = self.now;
        let visible = self.tasks[task.0 as usize].sink.as_mut().map(|s| s.commit_up_to(cp, now)).unwrap_or_default();
        if !self.completed_cps.contains(&cp) {
            self.rec.counts.visible_before_completion += visible.len() as u64;
        }
        self.make_visible(&visible);
    }

    /// The job is complete: all input processed and (with checkpointing) the final checkpoint
    /// committed. Failures still scheduled can no longer happen.
    pub(super) fn complete_job(&mut self) {
        self.complete = true;
        // Nothing is left to fail, to stop or to materialize: no timer may keep the run going.
        self.queue.retain(|e| {
            !matches!(e, Event::Crash(_) | Event::RandomFailure | Event::Materialize(_) | Event::StopWithSavepoint)
        });
        if self.stop.request.is_some() && self.stop.done.is_none() && self.stop.cp.is_none() {
            self.stop.failed.get_or_insert_with(|| "the job had ended before the stop time".into());
        }
    }
}
