//! Writing a run's results to disk: `summary.json`, `timeseries.csv`, `checkpoints.csv` and
//! `checkpoint_tasks.csv` (see the README for the columns).

use crate::coordinator::{CheckpointStats, TaskCheckpointRow};
use crate::engine::RunResult;
use crate::metrics::SampleRow;
use std::fs;
use std::io;
use std::path::Path;

/// Writes `summary.json`, `timeseries.csv`, `checkpoints.csv` and `checkpoint_tasks.csv` into
/// `dir` (created if missing).
pub fn write_run(dir: &Path, result: &RunResult) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(&result.summary).map_err(io::Error::other)?;
    fs::write(dir.join("summary.json"), json + "\n")?;
    let mut csv = String::with_capacity(64 * (result.timeseries.len() + 1));
    csv.push_str(SampleRow::CSV_HEADER);
    csv.push('\n');
    for row in &result.timeseries {
        csv.push_str(&row.to_csv());
        csv.push('\n');
    }
    fs::write(dir.join("timeseries.csv"), csv)?;
    let mut csv = String::from(CheckpointStats::CSV_HEADER);
    csv.push('\n');
    for row in &result.checkpoints {
        csv.push_str(&row.to_csv());
        csv.push('\n');
    }
    fs::write(dir.join("checkpoints.csv"), csv)?;
    let mut csv = String::from(TaskCheckpointRow::CSV_HEADER);
    csv.push('\n');
    for row in &result.checkpoint_tasks {
        csv.push_str(&row.to_csv());
        csv.push('\n');
    }
    fs::write(dir.join("checkpoint_tasks.csv"), csv)
}
