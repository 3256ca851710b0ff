//! Writing a run's results to disk: `summary.json`, `timeseries.csv`, `checkpoints.csv` and
//! `checkpoint_tasks.csv` (see docs/outputs.md for the columns).

pub mod charts;
pub mod html;

use crate::engine::RunResult;
use crate::metrics::to_csv;
use std::fs;
use std::io;
use std::path::Path;

/// A statistic of a run's completed checkpoints, with `decimals`, for a table: `-` when none
/// completed (no checkpointing, only local checkpoints, or every one failed), where a 0 would
/// read as a checkpoint that cost nothing.
///
/// ```
/// use ckptsim::report::checkpoint_stat;
/// assert_eq!(checkpoint_stat(20, 32.734, 2), "32.73");
/// assert_eq!(checkpoint_stat(0, 0.0, 2), "-");
/// ```
pub fn checkpoint_stat(completed: usize, value: f64, decimals: usize) -> String {
    if completed == 0 { "-".to_string() } else { format!("{value:.decimals$}") }
}

/// Writes `summary.json`, `timeseries.csv`, `checkpoints.csv`, `checkpoint_tasks.csv` and the
/// run's charts (`*.svg`) into `dir` (created if missing).
pub fn write_run(dir: &Path, result: &RunResult) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(&result.summary).map_err(io::Error::other)?;
    fs::write(dir.join("summary.json"), json + "\n")?;
    fs::write(dir.join("timeseries.csv"), to_csv(&result.timeseries)?)?;
    if !result.checkpoints_streamed {
        fs::write(dir.join("checkpoints.csv"), to_csv(&result.checkpoints)?)?;
    }
    if !result.checkpoint_tasks_streamed {
        fs::write(dir.join("checkpoint_tasks.csv"), to_csv(&result.checkpoint_tasks)?)?;
    }
    if !result.debloat.is_empty() {
        fs::write(dir.join("debloat.csv"), to_csv(&result.debloat)?)?;
    }
    let timeline = if result.checkpoint_tasks_streamed {
        streamed_timeline(&dir.join("checkpoint_tasks.csv"), result)?
    } else {
        charts::Gantt::of(result)
    };
    charts::write(dir, &charts::with_timeline(result, timeline))
}

/// The checkpoint timeline of a run whose per-task rows went to `csv` as it ran: the rows of the
/// median checkpoint, read back one at a time (memory stays that of one checkpoint's rows).
fn streamed_timeline(csv: &Path, result: &RunResult) -> io::Result<Option<charts::Gantt>> {
    let Some(c) = charts::Gantt::median(result) else { return Ok(None) };
    let mut rows = Vec::new();
    for row in csv::Reader::from_path(csv).map_err(io::Error::other)?.deserialize() {
        let row: crate::metrics::TaskCheckpointRow = row.map_err(io::Error::other)?;
        if row.id == c.id {
            rows.push(row);
        }
    }
    Ok(charts::Gantt::from_rows(c, &rows))
}
