//! Measurement: a fixed-size latency histogram, the time-series sampler and the run summary.
//! Memory stays flat however long a run is: histograms have a fixed number of buckets and the
//! summary holds per-task and per-channel figures only.

mod checkpoints;
mod histogram;
mod summary;

pub use checkpoints::{CheckpointStats, Outcome, TaskCheckpointRow};
pub use histogram::Histogram;

/// A row of one of the CSV outputs.
pub trait CsvRow {
    /// The header line (column names).
    const CSV_HEADER: &'static str;
    /// The row, without a newline.
    fn to_csv(&self) -> String;
}

/// A whole CSV file: the header, then one line per row.
pub fn to_csv<R: CsvRow>(rows: &[R]) -> String {
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str(R::CSV_HEADER);
    out.push('\n');
    for row in rows {
        out.push_str(&row.to_csv());
        out.push('\n');
    }
    out
}
pub use summary::{
    CheckpointSummary, CutSummary, ExactlyOnceSummary, LatencySummary, Percentiles, RecordCounts, RecoverySummary,
    SampleRow, Summary,
};
