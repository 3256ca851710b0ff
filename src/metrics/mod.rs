//! Measurement: a fixed-size latency histogram, the time-series sampler and the run summary.
//! Memory stays flat however long a run is: histograms have a fixed number of buckets and the
//! summary holds per-task and per-channel figures only.

mod histogram;
mod summary;

pub use histogram::Histogram;
pub use summary::{CheckpointSummary, CutSummary, LatencySummary, Percentiles, RecordCounts, SampleRow, Summary};
