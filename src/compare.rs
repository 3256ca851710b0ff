//! `ckptsim compare`: every protocol on the same scenario and seed, side by side.
//!
//! The runs are independent, so they run in parallel threads; each is deterministic on its own,
//! so the result does not depend on the number of threads.

use crate::engine::RunError;
use crate::engine::{self, RunResult};
use crate::report;
use crate::report::charts::Chart;
use crate::report::checkpoint_stat;
use crate::report::html::{Cell, Page, Table};
use crate::scenario::{ProtocolName, Scenario, ScenarioError};
use crate::verify::Oracle;
use serde::Serialize;
use std::path::Path;

/// One protocol's figures in `compare.json`.
#[derive(Clone, Debug, Serialize)]
pub struct CompareRow {
    /// Protocol name.
    pub protocol: String,
    /// Checkpoints triggered.
    pub triggered: usize,
    /// Local checkpoints (`uncoordinated`, which triggers none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_checkpoints: Option<u64>,
    /// Checkpoints completed.
    pub completed: usize,
    /// Checkpoints aborted.
    pub aborted: usize,
    /// Checkpoint duration p50 (ms).
    pub duration_p50_ms: f64,
    /// Checkpoint duration p99 (ms).
    pub duration_p99_ms: f64,
    /// Alignment p50 (ms): first → last barrier, largest task.
    pub alignment_p50_ms: f64,
    /// Operator state per checkpoint, p50 (bytes).
    pub state_bytes_p50: f64,
    /// Channel state per checkpoint, p50 (bytes).
    pub channel_state_bytes_p50: f64,
    /// Channel state per checkpoint, max (bytes).
    pub channel_state_bytes_max: f64,
    /// Source records per simulated second.
    pub throughput_rps: f64,
    /// Sink latency p99 (ms).
    pub latency_p99_ms: f64,
    /// Time inputs were blocked by alignment, summed over channels (ms).
    pub input_blocked_ms: f64,
    /// Completed checkpoints checked for a consistent cut.
    pub cut_checked: usize,
    /// Consistent-cut violations.
    pub cut_violations: usize,
    /// Crashes injected.
    pub failures: u32,
    /// Expected output records never made visible (exactly-once oracle).
    pub missing: u64,
    /// Output records made visible too often.
    pub duplicated: u64,
    /// Keys whose final state differs from the reference.
    pub state_mismatches: u64,
    /// Every exactly-once violation (the three counts above, plus wrong values, keys in the wrong
    /// task and reference mismatches).
    pub exactly_once_violations: u64,
    /// Why the exactly-once oracle did not judge this run (then the three counts above are 0
    /// because nothing was compared, not because nothing was wrong).
    pub exactly_once_not_checked: Option<String>,
    /// Log arrival → visible output, p99 (ms).
    pub committed_latency_p99_ms: f64,
    /// The run drained.
    pub drained: bool,
    /// Trace hash of the run.
    pub trace_hash: String,
}

/// `compare.json`.
#[derive(Debug, Serialize)]
pub struct CompareReport {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Scenario fingerprint.
    pub fingerprint: String,
    /// One row per protocol, in registry order ([`ProtocolName::all`]).
    pub rows: Vec<CompareRow>,
    /// Protocols skipped, and why.
    pub notes: Vec<String>,
    /// The full results, in row order.
    #[serde(skip)]
    pub results: Vec<RunResult>,
}

/// Runs every protocol on `s` (which needs a `checkpointing` section). `aligned_timeout` is
/// skipped, with a note, when `checkpointing.aligned_checkpoint_timeout_ms` is not set.
pub fn compare(s: &Scenario) -> Result<CompareReport, RunError> {
    compare_these(s, &ProtocolName::all())
}

/// [`compare`] with only `protocols`, in that order.
pub fn compare_these(s: &Scenario, protocols: &[ProtocolName]) -> Result<CompareReport, RunError> {
    if s.checkpointing.is_none() {
        return Err(ScenarioError::field(
            "checkpointing",
            "missing; compare needs a checkpointing section with at least `interval_ms`",
        )
        .into());
    }
    let mut notes = Vec::new();
    let mut scenarios = Vec::new();
    for &p in protocols {
        let mut v = s.clone();
        match v.set_protocol(p) {
            Ok(()) => scenarios.push(v),
            Err(e) => notes.push(format!("{} skipped: {e}", p.name())),
        }
    }
    let mut results = engine::run_many(&scenarios, true, engine::default_jobs(), &|_, _| {})?;
    let oracle = Oracle::reference(s)?;
    for r in &mut results {
        r.summary.exactly_once = oracle.check(r);
    }
    let rows = results.iter().map(row).collect();
    Ok(CompareReport { scenario: s.name.clone(), seed: s.seed, fingerprint: s.fingerprint(), rows, notes, results })
}

fn row(r: &RunResult) -> CompareRow {
    let m = &r.summary;
    let c = &m.checkpoints;
    CompareRow {
        protocol: m.protocol.clone(),
        triggered: c.triggered,
        local_checkpoints: m.uncoordinated.as_ref().map(|u| u.local_checkpoints),
        completed: c.completed,
        aborted: c.aborted,
        duration_p50_ms: c.duration_ms.p50,
        duration_p99_ms: c.duration_ms.p99,
        alignment_p50_ms: c.alignment_ms.p50,
        state_bytes_p50: c.state_bytes.p50,
        channel_state_bytes_p50: c.channel_state_bytes.p50,
        channel_state_bytes_max: c.channel_state_bytes.max,
        throughput_rps: m.throughput_rps,
        latency_p99_ms: m.latency_ms.p99,
        input_blocked_ms: m.input_blocked_ms,
        cut_checked: m.consistent_cut.checked,
        cut_violations: m.consistent_cut.violations,
        failures: m.failures,
        missing: m.exactly_once.missing,
        duplicated: m.exactly_once.duplicated,
        state_mismatches: m.exactly_once.state_mismatches,
        exactly_once_violations: m.exactly_once.violations,
        exactly_once_not_checked: (!m.exactly_once.checked)
            .then(|| m.exactly_once.not_checked.clone().unwrap_or_else(|| "the oracle did not run".into())),
        committed_latency_p99_ms: m.latency_ms.committed_p99,
        drained: m.drained,
        trace_hash: m.trace_hash.clone(),
    }
}

/// Writes each protocol's outputs into `dir/<protocol>/`, `dir/compare.json`, the side-by-side
/// charts `dir/compare_*.svg` and `dir/report.html`.
/// `reproduce` is the command line that makes the same report (the report prints it).
pub fn write(dir: &Path, s: &Scenario, report: &CompareReport, reproduce: &str) -> std::io::Result<()> {
    for r in &report.results {
        report::write_run(&dir.join(&r.summary.protocol), r)?;
    }
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("compare.json"), json + "\n")?;
    let charts = report::charts::compare_charts(&report.results);
    report::charts::write(dir, &charts)?;
    let html = report::html::render(&page(s, report, charts, reproduce)).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.html"), html)
}

/// The side-by-side table printed by `ckptsim compare`.
pub fn table(report: &CompareReport) -> String {
    let mut out = format!(
        "{:<16} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11} {:>10} {:>9} {:>9} {:>9}  {:<12} {}\n",
        "protocol",
        "ckpts",
        "dur p50",
        "dur p99",
        "align p50",
        "state p50",
        "channel p50",
        "records/s",
        "lat p99",
        "vis p99",
        "blocked",
        "cut checks",
        "exactly once"
    );
    out.push_str(&format!(
        "{:<16} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11} {:>10} {:>9} {:>9} {:>9}\n",
        "", "done/trig", "ms", "ms", "ms", "bytes", "bytes", "", "ms", "ms", "ms"
    ));
    for r in &report.rows {
        let checks = if r.protocol == "none" {
            "-".to_string()
        } else if r.cut_violations == 0 {
            format!("{}/{} ok", r.cut_checked, r.cut_checked)
        } else {
            format!("{} VIOLATED", r.cut_violations)
        };
        let once = match verdict(r) {
            Cell::Ok(t) | Cell::Bad(t) | Cell::NotChecked(t) | Cell::Text(t) => t,
        };
        out.push_str(&format!(
            "{:<16} {:>9} {:>9} {:>9} {:>9} {:>10} {:>11} {:>10.0} {:>9.2} {:>9.2} {:>9.1}  {:<12} {}\n",
            r.protocol,
            checkpoints_cell(r),
            checkpoint_stat(r.completed, r.duration_p50_ms, 2),
            checkpoint_stat(r.completed, r.duration_p99_ms, 2),
            checkpoint_stat(r.completed, r.alignment_p50_ms, 2),
            checkpoint_stat(r.completed, r.state_bytes_p50, 0),
            checkpoint_stat(r.completed, r.channel_state_bytes_p50, 0),
            r.throughput_rps,
            r.latency_p99_ms,
            r.committed_latency_p99_ms,
            r.input_blocked_ms,
            checks,
            once
        ));
    }
    out
}

/// Checkpoints completed of triggered, or, for uncoordinated checkpoints, the local ones.
fn checkpoints_cell(r: &CompareRow) -> String {
    match r.local_checkpoints {
        Some(n) => format!("{n} local"),
        None => format!("{}/{}", r.completed, r.triggered),
    }
}

/// The exactly-once verdict of a row: passed, failed with the counts, or not checked and why.
fn verdict(r: &CompareRow) -> Cell {
    if let Some(why) = &r.exactly_once_not_checked {
        Cell::NotChecked(format!("not checked ({why})"))
    } else if r.exactly_once_violations == 0 {
        Cell::Ok("ok".into())
    } else {
        let other = r.exactly_once_violations - r.missing - r.duplicated - r.state_mismatches;
        let other = if other > 0 { format!(", {other} other") } else { String::new() };
        Cell::Bad(format!("{} dup, {} missing, {} keys wrong{other}", r.duplicated, r.missing, r.state_mismatches))
    }
}

fn find<'a>(r: &'a CompareReport, p: &str) -> Option<&'a CompareRow> {
    r.rows.iter().find(|x| x.protocol == p)
}

/// A few sentences on what the comparison shows, from its figures.
fn findings(r: &CompareReport) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(a), Some(u)) = (find(r, "aligned"), find(r, "unaligned")) {
        if u.duration_p50_ms > 0.0 {
            out.push(format!(
                "Aligned checkpoints took {:.1} ms (p50) against {:.1} ms for unaligned ones — {:.1}× longer: aligned barriers queue behind the in-flight data, unaligned ones overtake it.",
                a.duration_p50_ms,
                u.duration_p50_ms,
                a.duration_p50_ms / u.duration_p50_ms
            ));
        }
        out.push(format!(
            "The price of unaligned checkpoints is size: {:.0} KiB of in-flight records persisted per checkpoint (p50), where aligned ones persist none; aligned ones instead kept inputs blocked for {:.1} ms in total.",
            u.channel_state_bytes_p50 / 1024.0,
            a.input_blocked_ms
        ));
    }
    if let Some(c) = find(r, "chandy_lamport") {
        out.push(format!(
            "Chandy-Lamport never blocked an input ({:.1} ms) and recorded {:.0} KiB of channel state per checkpoint; its markers still travel behind the data, so it took {:.1} ms.",
            c.input_blocked_ms,
            c.channel_state_bytes_p50 / 1024.0,
            c.duration_p50_ms
        ));
    }
    if let Some(t) = find(r, "aligned_timeout") {
        out.push(format!(
            "Aligned checkpoints with a timeout took {:.1} ms: the timeout bounds how long they align.",
            t.duration_p50_ms
        ));
    }
    if let Some(l) = find(r, "at_least_once") {
        out.push(if l.cut_violations > 0 {
            format!(
                "At-least-once snapshots are not consistent cuts: the checker found {} violations (orphan records){}.",
                l.cut_violations,
                if l.duplicated > 0 {
                    format!(", and after the failures {} records became visible twice", l.duplicated)
                } else {
                    String::new()
                }
            )
        } else {
            "At-least-once produced no orphans on this scenario (no input ran ahead of another).".to_string()
        });
    }
    out
}

/// The `report.html` page of a comparison.
fn page(s: &Scenario, r: &CompareReport, compare: Vec<Chart>, reproduce: &str) -> Page {
    let header = [
        "protocol",
        // The verdicts first, where a narrow window still shows them.
        "consistent cut",
        "exactly once",
        "checkpoints done/triggered",
        "duration p50 (ms)",
        "duration p99 (ms)",
        "alignment p50 (ms)",
        "state p50 (KiB)",
        "channel state p50 (KiB)",
        "records/s",
        "latency p99 (ms)",
        "visible p99 (ms)",
        "inputs blocked (ms)",
        "failures",
    ];
    let rows = r
        .rows
        .iter()
        .map(|x| {
            let cut = if x.protocol == "none" {
                Cell::Text("— (no checkpoints)".into())
            } else if x.cut_violations == 0 {
                Cell::Ok(format!("{} checked, ok", x.cut_checked))
            } else {
                Cell::Bad(format!("{} violations", x.cut_violations))
            };
            vec![
                Cell::Text(x.protocol.clone()),
                cut,
                verdict(x),
                Cell::Text(checkpoints_cell(x)),
                Cell::Text(checkpoint_stat(x.completed, x.duration_p50_ms, 2)),
                Cell::Text(checkpoint_stat(x.completed, x.duration_p99_ms, 2)),
                Cell::Text(checkpoint_stat(x.completed, x.alignment_p50_ms, 2)),
                Cell::Text(checkpoint_stat(x.completed, x.state_bytes_p50 / 1024.0, 1)),
                Cell::Text(checkpoint_stat(x.completed, x.channel_state_bytes_p50 / 1024.0, 1)),
                Cell::Text(format!("{:.0}", x.throughput_rps)),
                Cell::Text(format!("{:.2}", x.latency_p99_ms)),
                Cell::Text(format!("{:.2}", x.committed_latency_p99_ms)),
                Cell::Text(format!("{:.1}", x.input_blocked_ms)),
                Cell::Text(x.failures.to_string()),
            ]
        })
        .collect();
    let mut sections = vec![("Side by side".to_string(), compare)];
    for run in &r.results {
        sections.push((run.summary.protocol.clone(), report::charts::run_charts(run)));
    }
    Page {
        title: format!("ckptsim — {}", s.name),
        heading: format!("Checkpoint protocols on `{}`", s.name),
        paragraphs: vec![
            s.description.clone(),
            format!(
                "Seed `{}`, scenario fingerprint `{}`. Every protocol ran the same scenario with the same seed; reproduce with `{reproduce}`.",
                r.seed, r.fingerprint
            ),
        ],
        table: Table { header: header.iter().map(|h| h.to_string()).collect(), rows },
        findings: findings(r),
        sections,
        footer: "Generated by ckptsim. Each protocol keeps its colour in every chart. Vertical grey lines: completed checkpoints; red: failures; orange: restarts; green: recovery caught up. The last checkpoint of a run is the final one taken after every task finished (FLIP-147): nothing is in flight any more, so it is short. Machine-readable data: `compare.json` and each protocol's `summary.json`, `checkpoints.csv`, `timeseries.csv`.".into(),
    }
}
