//! Measurement: a fixed-size latency histogram, the time-series sampler and the run summary.
//! Memory stays flat however long a run is: histograms have a fixed number of buckets and the
//! summary holds per-task and per-channel figures only.

mod checkpoints;
mod histogram;
mod summary;

pub use checkpoints::{CheckpointStats, Outcome, TaskCheckpointRow};
pub use histogram::Histogram;

/// A whole CSV file (the `csv` crate, so text values are quoted where they must be): the header
/// from the row type's serde field names, then one line per row. An empty table still has its
/// header (taken from a default row).
pub fn to_csv<R: serde::Serialize + Default>(rows: &[R]) -> std::io::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        let mut header = csv::Writer::from_writer(Vec::new());
        header.serialize(R::default()).map_err(std::io::Error::other)?;
        let text = String::from_utf8(header.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?)
            .map_err(std::io::Error::other)?;
        return Ok(text.lines().next().map(|h| format!("{h}\n")).unwrap_or_default());
    }
    for r in rows {
        w.serialize(r).map_err(std::io::Error::other)?;
    }
    let bytes = w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
    String::from_utf8(bytes).map_err(std::io::Error::other)
}

pub use summary::{
    CheckpointSummary, CutSummary, ExactlyOnceSummary, LatencySummary, Percentiles, RecordCounts, RecoveryLine,
    RecoverySummary, RestoredSummary, SampleRow, SavepointSummary, Summary, UncoordinatedSummary,
};
