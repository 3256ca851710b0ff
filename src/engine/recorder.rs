//! What a run records for its reports, apart from the event loop's own state: the rows of every
//! checkpoint that ended, the consistent-cut verdicts, and why the job failed.

use crate::coordinator::{Ended, Outcome};
use crate::metrics::{CheckpointStats, TaskCheckpointRow};
use crate::verify::CutViolation;

/// The checkpoints that ended, in the order they ended.
#[derive(Debug, Default)]
pub(super) struct CheckpointLog {
    /// One row per checkpoint (`checkpoints.csv`).
    pub(super) stats: Vec<CheckpointStats>,
    /// One row per task and checkpoint (`checkpoint_tasks.csv`).
    pub(super) task_rows: Vec<TaskCheckpointRow>,
    /// Completed checkpoints whose cut was checked.
    pub(super) cut_checked: usize,
    /// Every cut violation found, in order.
    pub(super) cut_violations: Vec<CutViolation>,
    /// Why the job failed (too many failed checkpoints), if it did.
    pub(super) job_failed: Option<String>,
}

impl CheckpointLog {
    /// Records a checkpoint that ended.
    pub(super) fn ended(&mut self, e: Ended) {
        if e.outcome == Outcome::Completed {
            self.cut_checked += 1;
        }
        self.stats.push(e.stats);
        self.task_rows.extend(e.task_rows);
        self.cut_violations.extend(e.violations);
    }
}
