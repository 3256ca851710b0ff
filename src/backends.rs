//! `ckptsim backends`: one scenario under several state backends (same protocol, same seed),
//! side by side — full and incremental checkpoint sizes, synchronous and asynchronous parts,
//! what the checkpoint storage holds, and the restore time after the scenario's failures.
//!
//! Like `compare`, the runs are independent and run in parallel threads; each is deterministic.

use crate::engine::{self, RunError, RunResult};
use crate::report;
use crate::report::charts::{Chart, Series};
use crate::scenario::{Scenario, ScenarioError};
use crate::verify::Oracle;
use serde::Serialize;
use std::path::Path;

/// The backends compared when none are named.
pub const DEFAULT_BACKENDS: &[&str] = &["hashmap", "rocksdb", "rocksdb-incremental", "changelog"];

/// One backend's figures in `backends.json`.
#[derive(Clone, Debug, Serialize)]
pub struct BackendRow {
    /// The swept parameter's value, with `--param`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Backend label (`hashmap`, `rocksdb`, `rocksdb-incremental`, `…+changelog`).
    pub backend: String,
    /// Checkpoints completed.
    pub completed: usize,
    /// Checkpoints triggered.
    pub triggered: usize,
    /// Full checkpoint size, p50 (bytes): everything a restore reads.
    pub full_bytes_p50: f64,
    /// Incremental size, p50 (bytes): what the last completed checkpoint did not hold.
    pub incremental_bytes_p50: f64,
    /// Incremental size, max (bytes).
    pub incremental_bytes_max: f64,
    /// State files uploaded, summed over completed checkpoints.
    pub files_uploaded: u64,
    /// State files referenced from earlier checkpoints, summed over completed checkpoints.
    pub files_referenced: u64,
    /// Synchronous part p50 (ms, slowest task).
    pub sync_p50_ms: f64,
    /// Asynchronous part p50 (ms, slowest task).
    pub async_p50_ms: f64,
    /// Asynchronous part max (ms).
    pub async_max_ms: f64,
    /// Checkpoint duration p50 (ms).
    pub duration_p50_ms: f64,
    /// Most bytes the checkpoint storage held.
    pub storage_bytes_max: u64,
    /// Restore time summed over restarts (ms): downloads (and the changelog's replay).
    pub restore_ms: f64,
    /// Bytes downloaded at restores.
    pub restore_bytes: u64,
    /// Exactly-once violations (0 when checked and fine).
    pub exactly_once_violations: u64,
    /// Why the exactly-once oracle did not judge the run.
    pub exactly_once_not_checked: Option<String>,
    /// Consistent-cut violations.
    pub cut_violations: usize,
    /// Trace hash.
    pub trace_hash: String,
}

/// `backends.json`.
#[derive(Debug, Serialize)]
pub struct BackendsReport {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Snapshot protocol of every run.
    pub protocol: String,
    /// The swept parameter's JSON path, with `--param`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// One row per backend, in the order asked.
    pub rows: Vec<BackendRow>,
    /// The full results, in row order.
    #[serde(skip)]
    pub results: Vec<RunResult>,
}

/// Runs `s` under each backend of `labels` (see [`crate::scenario::StateConfig::with_backend`]).
pub fn compare_backends(s: &Scenario, labels: &[String]) -> Result<BackendsReport, RunError> {
    sweep_backends(s, labels, None)
}

/// As [`compare_backends`], for each value of the scenario field at `param.0` (a JSON path, as
/// `sweep` takes) when given: one row per value and backend.
pub fn sweep_backends(
    s: &Scenario,
    labels: &[String],
    param: Option<(&str, &[String])>,
) -> Result<BackendsReport, RunError> {
    if s.checkpointing.is_none() {
        return Err(ScenarioError::field(
            "checkpointing",
            "missing; backends needs a checkpointing section with at least `interval_ms`",
        )
        .into());
    }
    let values: Vec<Option<&String>> = match param {
        Some((_, vs)) => vs.iter().map(Some).collect(),
        None => vec![None],
    };
    let mut scenarios = Vec::new();
    let mut bases = Vec::new();
    for value in &values {
        let base = match (param, value) {
            (Some((path, _)), Some(v)) => crate::sweep::with_value(s, path, v)?,
            _ => s.clone(),
        };
        for l in labels {
            let mut v = base.clone();
            v.state = base.state.with_backend(l).map_err(|e| ScenarioError::field("--backends", e))?;
            scenarios.push(v);
        }
        bases.push(base);
    }
    let mut results = engine::run_many(&scenarios, true, engine::default_jobs(), &|_, _| {})?;
    // The backend changes where state is written, never what it is: one reference per value
    // serves every backend.
    for (base, runs) in bases.iter().zip(results.chunks_mut(labels.len())) {
        let oracle = Oracle::reference(base)?;
        for r in runs {
            r.summary.exactly_once = oracle.check(r);
        }
    }
    let rows = results.iter().enumerate().map(|(i, r)| row(r, values[i / labels.len()].cloned())).collect();
    Ok(BackendsReport {
        scenario: s.name.clone(),
        seed: s.seed,
        protocol: s.protocol().name().to_string(),
        param: param.map(|p| p.0.to_string()),
        rows,
        results,
    })
}

fn row(r: &RunResult, value: Option<String>) -> BackendRow {
    let m = &r.summary;
    let c = &m.checkpoints;
    let done = r.checkpoints.iter().filter(|x| x.outcome == crate::metrics::Outcome::Completed);
    BackendRow {
        value,
        backend: m.state_backend.clone(),
        completed: c.completed,
        triggered: c.triggered,
        full_bytes_p50: c.state_bytes.p50,
        incremental_bytes_p50: c.incremental_bytes.p50,
        incremental_bytes_max: c.incremental_bytes.max,
        files_uploaded: done.clone().map(|x| x.uploaded_files).sum(),
        files_referenced: done.map(|x| x.referenced_files).sum(),
        sync_p50_ms: c.sync_ms.p50,
        async_p50_ms: c.async_ms.p50,
        async_max_ms: c.async_ms.max,
        duration_p50_ms: c.duration_ms.p50,
        storage_bytes_max: c.storage_bytes_max,
        restore_ms: m.recovery.restore_ms,
        restore_bytes: m.recovery.restore_bytes,
        exactly_once_violations: m.exactly_once.violations,
        exactly_once_not_checked: (!m.exactly_once.checked)
            .then(|| m.exactly_once.not_checked.clone().unwrap_or_else(|| "the oracle did not run".into())),
        cut_violations: m.consistent_cut.violations,
        trace_hash: m.trace_hash.clone(),
    }
}

fn mib(b: f64) -> f64 {
    b / (1024.0 * 1024.0)
}

/// The table printed by `ckptsim backends`.
pub fn table(r: &BackendsReport) -> String {
    let mut out = format!(
        "{:<30} {:>9} {:>9} {:>9} {:>9} {:>13} {:>8} {:>8} {:>8} {:>9} {:>9}  {}\n",
        "backend",
        "ckpts",
        "full p50",
        "incr p50",
        "incr max",
        "files",
        "sync p50",
        "async",
        "dur p50",
        "storage",
        "restore",
        "exactly once"
    );
    out.push_str(&format!(
        "{:<30} {:>9} {:>9} {:>9} {:>9} {:>13} {:>8} {:>8} {:>8} {:>9} {:>9}\n",
        "", "done/trig", "MiB", "MiB", "MiB", "up/ref", "ms", "p50 ms", "ms", "max MiB", "ms"
    ));
    let mut group = None;
    for x in &r.rows {
        if let (Some(p), Some(v)) = (&r.param, &x.value)
            && group != Some(v)
        {
            out.push_str(&format!("{p} = {v}\n"));
            group = Some(v);
        }
        let once = if let Some(why) = &x.exactly_once_not_checked {
            format!("not checked ({why})")
        } else if x.exactly_once_violations == 0 && x.cut_violations == 0 {
            "ok".to_string()
        } else {
            format!("VIOLATED ({} exactly-once, {} cut)", x.exactly_once_violations, x.cut_violations)
        };
        out.push_str(&format!(
            "{:<30} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>13} {:>8.2} {:>8.1} {:>8.1} {:>9.1} {:>9.1}  {}\n",
            x.backend,
            format!("{}/{}", x.completed, x.triggered),
            mib(x.full_bytes_p50),
            mib(x.incremental_bytes_p50),
            mib(x.incremental_bytes_max),
            format!("{}/{}", x.files_uploaded, x.files_referenced),
            x.sync_p50_ms,
            x.async_p50_ms,
            x.duration_p50_ms,
            mib(x.storage_bytes_max as f64),
            x.restore_ms,
            once
        ));
    }
    out
}

/// Charts of a sweep over a parameter: restore time against the bytes it downloads, and the
/// asynchronous part and the incremental size against the value, one line per backend.
fn sweep_charts(r: &BackendsReport, param: &str) -> Vec<Chart> {
    let backends = crate::sweep::distinct(r.rows.iter().map(|x| x.backend.as_str()));
    let value = |x: &BackendRow| x.value.as_deref().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let lines = |f: &dyn Fn(&BackendRow) -> (f64, f64)| -> Vec<Series> {
        backends
            .iter()
            .map(|b| Series { name: b.to_string(), points: r.rows.iter().filter(|x| x.backend == *b).map(f).collect() })
            .collect()
    };
    let chart = |name, title: &str, x: &str, y: &str, series| Chart {
        name,
        title: title.to_string(),
        x_label: x.to_string(),
        y_label: y.to_string(),
        series,
        markers: Vec::new(),
        log2_x: false,
        heatmap: None,
        gantt: None,
    };
    vec![
        chart(
            "backends_restore_vs_size",
            "Restore time against what it downloads",
            "downloaded at the restore (MiB)",
            "restore (ms)",
            lines(&|x| (mib(x.restore_bytes as f64), x.restore_ms)),
        ),
        chart(
            "backends_async_vs_value",
            "Asynchronous part (upload) p50",
            param,
            "ms",
            lines(&|x| (value(x), x.async_p50_ms)),
        ),
        chart(
            "backends_incremental_vs_value",
            "Incremental size p50",
            param,
            "MiB",
            lines(&|x| (value(x), mib(x.incremental_bytes_p50))),
        ),
    ]
}

/// Charts: full and incremental size over time, and the asynchronous part, one line per backend
/// (with `--param`: restore time against size, and figures against the value).
pub fn charts(r: &BackendsReport) -> Vec<Chart> {
    if let Some(p) = &r.param {
        return sweep_charts(r, p);
    }
    let per = |f: &dyn Fn(&crate::metrics::CheckpointStats) -> f64| -> Vec<Series> {
        r.results
            .iter()
            .map(|run| Series {
                name: run.summary.state_backend.clone(),
                points: run
                    .checkpoints
                    .iter()
                    .filter(|c| c.outcome == crate::metrics::Outcome::Completed)
                    .map(|c| (c.end_ms / 1000.0, f(c)))
                    .collect(),
            })
            .collect()
    };
    let markers = r.results.first().map_or_else(Vec::new, |run| {
        run.crashes_ms.iter().map(|&x| report::charts::Marker { x: x / 1000.0, kind: "failure" }).collect()
    });
    let chart = |name, title: &str, y: &str, series| Chart {
        name,
        title: title.to_string(),
        x_label: "simulated time (s)".into(),
        y_label: y.to_string(),
        series,
        markers: markers.clone(),
        log2_x: false,
        heatmap: None,
        gantt: None,
    };
    vec![
        chart(
            "backends_full_size",
            "Full checkpoint size (everything a restore reads)",
            "MiB",
            per(&|c| mib(c.state_bytes as f64)),
        ),
        chart(
            "backends_incremental_size",
            "Incremental size (new in each checkpoint)",
            "MiB",
            per(&|c| mib(c.incremental_bytes as f64)),
        ),
        chart("backends_async", "Asynchronous part (upload), slowest task", "ms", per(&|c| c.async_max_ms)),
        chart(
            "backends_storage",
            "Checkpoint storage held (retained checkpoints, shared files once)",
            "MiB",
            per(&|c| mib(c.storage_bytes as f64)),
        ),
    ]
}

/// Writes each backend's outputs into `dir/<backend>/`, `dir/backends.json` and the charts.
pub fn write(dir: &Path, r: &BackendsReport) -> std::io::Result<()> {
    for (run, row) in r.results.iter().zip(&r.rows) {
        let name = match &row.value {
            Some(v) => format!("{}-{v}", run.summary.state_backend),
            None => run.summary.state_backend.clone(),
        };
        report::write_run(&dir.join(name), run)?;
    }
    let json = serde_json::to_string_pretty(r).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("backends.json"), json + "\n")?;
    report::charts::write(dir, &charts(r))
}
