//! `ckptsim sweep`: one scenario field varied over values, every value run with each protocol
//! (in parallel; every run is deterministic on its own), and each figure drawn against the value.
//! The field is named by its JSON path (`network.buffer_records`,
//! `topology.operators[3].task_costs.2`, …) and set in the scenario's JSON, so the usual
//! validation applies to every value and names the path when a value is not allowed.

use crate::engine;
use crate::engine::RunError;
use crate::report::charts::{Chart, Series};
use crate::report::checkpoint_stat;
use crate::report::html::{Cell, Page, Table};
use crate::scenario::{ProtocolName, Scenario, ScenarioError};
use serde_json::Value;

/// One run of the sweep: a row of `sweep.csv`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SweepRow {
    /// The value of the parameter (as written).
    pub value: String,
    /// Protocol.
    pub protocol: String,
    /// Checkpoints completed.
    pub completed: usize,
    /// Checkpoint duration p50 (ms).
    pub duration_p50_ms: f64,
    /// Checkpoint duration p99 (ms).
    pub duration_p99_ms: f64,
    /// Alignment p50 (ms).
    pub alignment_p50_ms: f64,
    /// Operator state per checkpoint, p50 (bytes).
    pub state_bytes_p50: f64,
    /// Channel state per checkpoint, p50 (bytes).
    pub channel_state_bytes_p50: f64,
    /// Log arrival → visible output, p99 (ms).
    pub committed_latency_p99_ms: f64,
    /// Source records per simulated second.
    pub throughput_rps: f64,
    /// When a sink took the last record, ms: with a finite input, the job's processing time (the
    /// ABS paper's runtime), before the final checkpoint commits the output.
    pub processing_ms: f64,
    /// Consistent-cut violations.
    pub cut_violations: usize,
}

/// The result of a sweep.
#[derive(Debug)]
pub struct SweepResult {
    /// The parameter's JSON path.
    pub param: String,
    /// One row per value × protocol, values in the given order, protocols in the given order.
    pub rows: Vec<SweepRow>,
    /// Protocols skipped, and why (a protocol the scenario has no settings for).
    pub notes: Vec<String>,
}

/// Sets the field at `path` (dots and `[i]`) in `v`; the field must exist or be optional.
fn set(v: &mut Value, path: &str, new: Value) -> Result<(), String> {
    let mut cur = v;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let (key, indices) = match part.find('[') {
            Some(b) => (&part[..b], &part[b..]),
            None => (*part, ""),
        };
        if !key.is_empty() {
            let obj = cur.as_object_mut().ok_or_else(|| format!("`{path}`: {key:?} is not inside an object"))?;
            if i + 1 == parts.len() && indices.is_empty() {
                obj.insert(key.to_string(), new);
                return Ok(());
            }
            cur = obj.entry(key.to_string()).or_insert_with(|| Value::Object(Default::default()));
        }
        for idx in indices.split('[').filter(|s| !s.is_empty()) {
            let n: usize = idx.trim_end_matches(']').parse().map_err(|_| format!("`{path}`: bad index [{idx}"))?;
            let arr = cur.as_array_mut().ok_or_else(|| format!("`{path}`: {key:?} is not a list"))?;
            let len = arr.len();
            cur = arr.get_mut(n).ok_or_else(|| format!("`{path}`: index {n} out of range (the list has {len})"))?;
        }
        if i + 1 == parts.len() {
            *cur = new;
            return Ok(());
        }
    }
    Ok(())
}

/// The scenario with `path` set to `value` (JSON: a number, `true`, or a string), validated.
pub fn with_value(s: &Scenario, path: &str, value: &str) -> Result<Scenario, ScenarioError> {
    let mut v = serde_json::to_value(s).expect("a scenario serializes");
    let new = serde_json::from_str::<Value>(value).unwrap_or_else(|_| Value::String(value.to_string()));
    for one in expand(&v, path).map_err(|e| ScenarioError::field(path, e))? {
        set(&mut v, &one, new.clone()).map_err(|e| ScenarioError::field(path, e))?;
    }
    Scenario::from_json(&v.to_string())
}

/// `path` with every `[*]` replaced by each index of the list there, e.g.
/// `topology.operators[*].parallelism` → one path per operator (every operator at once).
fn expand(v: &Value, path: &str) -> Result<Vec<String>, String> {
    let Some(at) = path.find("[*]") else { return Ok(vec![path.to_string()]) };
    let (prefix, rest) = (&path[..at], &path[at + 3..]);
    // The list the wildcard stands for, as a JSON pointer: `a.b[2].c` → `/a/b/2/c`.
    let pointer: String =
        prefix.split('.').flat_map(|p| p.split('[')).map(|p| format!("/{}", p.trim_end_matches(']'))).collect();
    let list = v
        .pointer(&pointer)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("`{prefix}` is not a list, so `[*]` cannot follow it"))?;
    let mut out = Vec::new();
    for i in 0..list.len() {
        out.extend(expand(v, &format!("{prefix}[{i}]{rest}"))?);
    }
    Ok(out)
}

/// Runs every value × protocol on `jobs` threads, calling `progress(done, total)`.
pub fn sweep(
    s: &Scenario,
    path: &str,
    values: &[String],
    protocols: &[ProtocolName],
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SweepResult, RunError> {
    let mut runs = Vec::new();
    let mut notes = Vec::new();
    for v in values {
        let base = with_value(s, path, v)?;
        for &p in protocols {
            let mut one = base.clone();
            match one.set_protocol(p) {
                Ok(()) => runs.push((v.clone(), one)),
                // As compare does: a protocol the scenario has no settings for is skipped.
                Err(e) => {
                    let note = format!("{p} skipped: {e}");
                    if !notes.contains(&note) {
                        notes.push(note);
                    }
                }
            }
        }
    }
    if runs.is_empty() {
        return Err(ScenarioError::field("checkpointing", format!("no protocol can run: {}", notes.join("; "))).into());
    }
    let scenarios: Vec<Scenario> = runs.iter().map(|(_, s)| s.clone()).collect();
    let results = engine::run_many(&scenarios, false, jobs, progress)?;
    let rows = results
        .into_iter()
        .zip(&runs)
        .map(|(r, (value, _))| {
            let m = r.summary;
            let c = &m.checkpoints;
            SweepRow {
                value: value.clone(),
                protocol: m.protocol.clone(),
                completed: c.completed,
                duration_p50_ms: c.duration_ms.p50,
                duration_p99_ms: c.duration_ms.p99,
                alignment_p50_ms: c.alignment_ms.p50,
                state_bytes_p50: c.state_bytes.p50,
                channel_state_bytes_p50: c.channel_state_bytes.p50,
                committed_latency_p99_ms: m.latency_ms.committed_p99,
                throughput_rps: m.throughput_rps,
                processing_ms: m.last_at_sink_ms,
                cut_violations: m.consistent_cut.violations,
            }
        })
        .collect();
    Ok(SweepResult { param: path.to_string(), rows, notes })
}

impl SweepResult {
    /// One chart per figure, a line per protocol, the parameter on the x axis. Values that are
    /// not numbers are placed at their position in the list.
    pub fn charts(&self) -> Vec<Chart> {
        let values = distinct(self.rows.iter().map(|r| r.value.as_str()));
        let x_of =
            |v: &str| v.parse::<f64>().unwrap_or_else(|_| values.iter().position(|&x| x == v).unwrap_or(0) as f64);
        let protocols = distinct(self.rows.iter().map(|r| r.protocol.as_str()));
        // `per_checkpoint`: a figure of the completed checkpoints, drawn only where some completed
        // (a protocol without global checkpoints gets no line rather than one at 0).
        let line = |per_checkpoint: bool, f: &dyn Fn(&SweepRow) -> f64| {
            protocols
                .iter()
                .map(|p| Series {
                    name: p.to_string(),
                    points: self
                        .rows
                        .iter()
                        .filter(|r| r.protocol == *p && (!per_checkpoint || r.completed > 0))
                        .map(|r| (x_of(&r.value), f(r)))
                        .collect(),
                })
                .filter(|s| !s.points.is_empty())
                .collect::<Vec<_>>()
        };
        // Values that grow geometrically (each at least 1.5 times the one before, a factor of 8
        // or more in all): a log₂ axis spaces 8, 16, 32, … evenly, instead of crowding the small
        // ones into a corner. Evenly spaced values keep a linear axis.
        let mut numbers: Vec<f64> = values.iter().filter_map(|v| v.parse::<f64>().ok()).collect();
        numbers.sort_by(f64::total_cmp);
        let geometric = numbers.windows(2).all(|w| w[0] > 0.0 && w[1] >= 1.5 * w[0]);
        let span = numbers.last().zip(numbers.first()).is_some_and(|(hi, lo)| *lo > 0.0 && hi / lo >= 8.0);
        let log2_x = numbers.len() == values.len() && numbers.len() > 2 && geometric && span;
        let chart = |name, title: &str, y_label: &str, per_checkpoint: bool, f: &dyn Fn(&SweepRow) -> f64| Chart {
            name,
            title: format!("{title} vs {}", self.param),
            x_label: if log2_x { format!("{} (log scale)", self.param) } else { self.param.clone() },
            y_label: y_label.to_string(),
            series: line(per_checkpoint, f),
            markers: vec![],
            log2_x,
            heatmap: None,
            gantt: None,
        };
        vec![
            chart("sweep_duration_p50", "Checkpoint duration p50", "duration p50 (ms)", true, &|r| r.duration_p50_ms),
            chart("sweep_duration_p99", "Checkpoint duration p99", "duration p99 (ms)", true, &|r| r.duration_p99_ms),
            chart("sweep_channel_state", "In-flight data per checkpoint (p50)", "channel state (KiB)", true, &|r| {
                r.channel_state_bytes_p50 / 1024.0
            }),
            chart("sweep_committed_latency", "Visible-output latency p99", "latency p99 (ms)", false, &|r| {
                r.committed_latency_p99_ms
            }),
            chart("sweep_throughput", "Throughput", "records/s", false, &|r| r.throughput_rps),
            chart(
                "sweep_processing_time",
                "Processing time (until the last record reached a sink)",
                "processing time (ms)",
                false,
                &|r| r.processing_ms,
            ),
        ]
        .into_iter()
        // A checkpoint chart with no protocol that completed one is left out, not drawn empty.
        .filter(Chart::has_data)
        .collect()
    }
}

impl SweepResult {
    /// What the sweep shows, in sentences: per protocol, how its duration and its channel state
    /// moved from the first value to the last, then which protocol the parameter moved most and
    /// least.
    pub fn findings(&self) -> Vec<String> {
        let values = distinct(self.rows.iter().map(|r| r.value.as_str()));
        let (Some(&first), Some(&last)) = (values.first(), values.last()) else { return Vec::new() };
        if first == last {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut growth = Vec::new();
        for p in distinct(self.rows.iter().map(|r| r.protocol.as_str())) {
            let at = |v: &str| self.rows.iter().find(|r| r.protocol == p && r.value == v);
            let (Some(a), Some(b)) = (at(first), at(last)) else { continue };
            if a.completed == 0 || b.completed == 0 {
                out.push(format!(
                    "{p}: no global checkpoint completed at {} = {}, so there are no checkpoint figures to compare.",
                    self.param,
                    if a.completed == 0 { first } else { last }
                ));
                continue;
            }
            out.push(format!(
                "{p}: checkpoint duration p50 {:.1} → {:.1} ms and channel state p50 {:.1} → {:.1} KiB as {} goes from {first} to {last}.",
                a.duration_p50_ms,
                b.duration_p50_ms,
                a.channel_state_bytes_p50 / 1024.0,
                b.channel_state_bytes_p50 / 1024.0,
                self.param
            ));
            if a.duration_p50_ms > 0.0 {
                growth.push((b.duration_p50_ms / a.duration_p50_ms, p));
            }
        }
        growth.sort_by(|x, y| x.0.total_cmp(&y.0));
        if let (Some(lo), Some(hi)) = (growth.first(), growth.last())
            && growth.len() > 1
        {
            out.push(format!(
                "The duration of {} grew most ({:.1}×), that of {} least ({:.1}×).",
                hi.1, hi.0, lo.1, lo.0
            ));
        }
        out
    }
}

/// The distinct items, in the order they first appear.
pub(crate) fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for x in items {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// Writes `dir/sweep.csv`, the charts `dir/sweep_*.svg` and `dir/report.html`.
pub fn write(dir: &std::path::Path, s: &Scenario, r: &SweepResult) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("sweep.csv"), crate::metrics::to_csv(&r.rows)?)?;
    let charts = r.charts();
    crate::report::charts::write(dir, &charts)?;
    let html = crate::report::html::render(&page(s, r, charts)).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.html"), html)
}

/// The `report.html` page of a sweep: the scenario, the parameter, every row, and the charts.
fn page(s: &Scenario, r: &SweepResult, charts: Vec<Chart>) -> Page {
    let header = [
        r.param.as_str(),
        "protocol",
        "checkpoints",
        "duration p50 (ms)",
        "duration p99 (ms)",
        "alignment p50 (ms)",
        "channel state p50 (KiB)",
        "visible p99 (ms)",
        "records/s",
        "cut violations",
    ];
    let rows = r
        .rows
        .iter()
        .map(|x| {
            vec![
                Cell::Text(x.value.clone()),
                Cell::Text(x.protocol.clone()),
                Cell::Text(x.completed.to_string()),
                Cell::Text(checkpoint_stat(x.completed, x.duration_p50_ms, 2)),
                Cell::Text(checkpoint_stat(x.completed, x.duration_p99_ms, 2)),
                Cell::Text(checkpoint_stat(x.completed, x.alignment_p50_ms, 2)),
                Cell::Text(checkpoint_stat(x.completed, x.channel_state_bytes_p50 / 1024.0, 1)),
                Cell::Text(format!("{:.2}", x.committed_latency_p99_ms)),
                Cell::Text(format!("{:.0}", x.throughput_rps)),
                if x.cut_violations == 0 { Cell::Ok("0".into()) } else { Cell::Bad(x.cut_violations.to_string()) },
            ]
        })
        .collect();
    Page {
        title: format!("ckptsim sweep — {}", s.name),
        heading: format!("Sweep of `{}` on `{}`", r.param, s.name),
        paragraphs: vec![
            s.description.clone(),
            format!("Seed `{}`. Each value ran with each protocol on the same seed.", s.seed),
        ],
        table: Table { header: header.iter().map(|h| h.to_string()).collect(), rows },
        findings: r.findings(),
        sections: vec![("Charts".into(), charts)],
        footer: "Generated by ckptsim. Data: `sweep.csv`.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::{SweepResult, SweepRow};

    #[test]
    fn a_protocol_without_completed_checkpoints_gets_no_checkpoint_line_or_figure() {
        let row = |value: &str, protocol: &str, completed, duration_p50_ms| SweepRow {
            value: value.into(),
            protocol: protocol.into(),
            completed,
            duration_p50_ms,
            throughput_rps: 1000.0,
            ..Default::default()
        };
        let r = SweepResult {
            param: "network.buffer_records".into(),
            rows: vec![
                row("8", "aligned", 20, 10.0),
                row("8", "uncoordinated", 0, 0.0),
                row("64", "aligned", 20, 12.0),
                row("64", "uncoordinated", 0, 0.0),
            ],
            notes: vec![],
        };
        let charts = r.charts();
        let names = |chart: &str| -> Vec<String> {
            let c = charts.iter().find(|c| c.name == chart).unwrap();
            c.series.iter().map(|s| s.name.clone()).collect()
        };
        assert_eq!(names("sweep_duration_p50"), ["aligned"]);
        assert_eq!(names("sweep_channel_state"), ["aligned"]);
        assert_eq!(names("sweep_throughput"), ["aligned", "uncoordinated"]);
        let findings = r.findings();
        assert!(findings[0].starts_with("aligned: checkpoint duration p50 10.0 → 12.0 ms"), "{findings:?}");
        assert!(findings[1].starts_with("uncoordinated: no global checkpoint completed"), "{findings:?}");
        assert!(!findings.iter().any(|f| f.contains("0.0 → 0.0 ms")), "{findings:?}");
        // Only uncoordinated: no checkpoint chart at all rather than empty axes.
        let only =
            SweepResult { rows: r.rows.iter().filter(|x| x.protocol == "uncoordinated").cloned().collect(), ..r };
        let drawn: Vec<&str> = only.charts().iter().map(|c| c.name).collect();
        assert_eq!(drawn, ["sweep_committed_latency", "sweep_throughput", "sweep_processing_time"]);
    }

    #[test]
    fn sweep_csv_quotes_user_values_and_keeps_its_header_when_empty() {
        let row = SweepRow { value: "a,\"b\"".into(), protocol: "aligned".into(), ..Default::default() };
        let csv = crate::metrics::to_csv(&[row]).unwrap();
        let mut lines = csv.lines();
        assert!(lines.next().unwrap().starts_with("value,protocol,completed,"));
        assert!(lines.next().unwrap().starts_with("\"a,\"\"b\"\"\",aligned,"), "{csv}");
        let empty = crate::metrics::to_csv::<SweepRow>(&[]).unwrap();
        assert_eq!(empty.lines().count(), 1);
        assert!(empty.starts_with("value,protocol,"));
    }
}
