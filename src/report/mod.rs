//! Writing a run's results to disk: `summary.json`, `timeseries.csv`, `checkpoints.csv` and
//! `checkpoint_tasks.csv` (see docs/outputs.md for the columns).

pub mod charts;
pub mod html;

use crate::engine::RunResult;
use crate::metrics::to_csv;
use std::fs;
use std::io;
use std::path::Path;

/// Writes `summary.json`, `timeseries.csv`, `checkpoints.csv`, `checkpoint_tasks.csv` and the
/// run's charts (`*.svg`) into `dir` (created if missing).
pub fn write_run(dir: &Path, result: &RunResult) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(&result.summary).map_err(io::Error::other)?;
    fs::write(dir.join("summary.json"), json + "\n")?;
    fs::write(dir.join("timeseries.csv"), to_csv(&result.timeseries)?)?;
    fs::write(dir.join("checkpoints.csv"), to_csv(&result.checkpoints)?)?;
    if !result.checkpoint_tasks_streamed {
        fs::write(dir.join("checkpoint_tasks.csv"), to_csv(&result.checkpoint_tasks)?)?;
    }
    if !result.debloat.is_empty() {
        fs::write(dir.join("debloat.csv"), to_csv(&result.debloat)?)?;
    }
    charts::write(dir, &charts::run_charts(result))
}
