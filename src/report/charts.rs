//! Charts (plotters, SVG). A [`Chart`] is plain data — titled series of points with axis labels
//! and event markers — built from a run's results by [`run_charts`] or, one series per protocol
//! on the same axes, by [`compare_charts`]; [`Chart::to_svg`] renders it. Keeping the data apart
//! from the drawing lets tests check every chart against the CSV files it summarizes.
//!
//! SVG only: plotters' SVG backend writes text as `<text>` elements that the browser renders,
//! so no font library (fontconfig, freetype) and no shipped font file are needed.

use crate::engine::RunResult;
use crate::metrics::SampleRow;
use crate::metrics::{CheckpointStats, Outcome, TaskCheckpointRow};
use crate::report::html::esc;
use plotters::prelude::*;

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// `(x, y)` points in x order.
    pub points: Vec<(f64, f64)>,
}

/// A vertical marker: a moment on the x axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// Where.
    pub x: f64,
    /// What happened (`checkpoint`, `failure`).
    pub kind: &'static str,
}

/// A chart as data.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// File stem (`checkpoint_duration` → `checkpoint_duration.svg`).
    pub name: &'static str,
    /// Title.
    pub title: String,
    /// X axis label, with unit.
    pub x_label: String,
    /// Y axis label, with unit.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Vertical markers.
    pub markers: Vec<Marker>,
    /// The x axis is logarithmic (base 2): for values that double, as buffer sizes or parallelism.
    pub log2_x: bool,
    /// Drawn as a heatmap (one row per task, one column per sample) instead of lines.
    pub heatmap: Option<crate::engine::TaskBackpressure>,
    /// Drawn as a timeline of one checkpoint, a row per task, instead of lines.
    pub gantt: Option<Gantt>,
}

/// One checkpoint, task by task, as Flink's web UI details it: when each task got its first
/// barrier (start delay), aligned, paused for the synchronous part, uploaded and acked.
#[derive(Clone, Debug, PartialEq)]
pub struct Gantt {
    /// The checkpoint.
    pub cp: u64,
    /// Its end-to-end duration (ms): the axis runs from the trigger to here.
    pub duration_ms: f64,
    /// Per task: name and its phases as `(start, end)` ms after the trigger.
    pub rows: Vec<GanttRow>,
}

/// One task's phases in a checkpoint (ms after the trigger; `None` where it did not happen).
#[derive(Clone, Debug, PartialEq)]
pub struct GanttRow {
    /// Task name.
    pub task: String,
    /// Trigger → first barrier processed.
    pub start_delay: Option<(f64, f64)>,
    /// First → last barrier processed.
    pub alignment: Option<(f64, f64)>,
    /// Snapshot → end of the synchronous part.
    pub sync: Option<(f64, f64)>,
    /// The upload (ending at the ack).
    pub upload: Option<(f64, f64)>,
    /// The ack reached the coordinator.
    pub ack: Option<f64>,
    /// Bytes the task persisted: what its upload wrote plus its channel state.
    pub persisted: u64,
}

impl Gantt {
    /// The checkpoint of median duration among the completed ones (the final one after end of
    /// input left out when there are others), from the run's per-task rows; `None` when the rows
    /// were streamed to a file or no checkpoint completed.
    pub fn of(r: &RunResult) -> Option<Gantt> {
        if r.checkpoint_tasks.is_empty() || r.checkpoint_tasks.len() > 64 * r.checkpoints.len().max(1) {
            return None;
        }
        Self::from_rows(Self::median(r)?, &r.checkpoint_tasks)
    }

    /// The completed checkpoint of median duration (the final one after end of input left out
    /// when there are others): the one the timeline shows.
    pub fn median(r: &RunResult) -> Option<&CheckpointStats> {
        let mut done: Vec<&CheckpointStats> =
            r.checkpoints.iter().filter(|c| c.outcome == Outcome::Completed).collect();
        if done.len() > 1 {
            done.pop();
        }
        done.sort_by(|a, b| a.duration_ms.total_cmp(&b.duration_ms).then(a.id.cmp(&b.id)));
        done.get(done.len() / 2).copied()
    }

    /// Checkpoint `c`'s timeline from per-task rows (of any checkpoints: those of `c` are used);
    /// `None` without rows of `c` or with more than 64 tasks (rows no longer legible).
    pub fn from_rows(c: &CheckpointStats, rows: &[TaskCheckpointRow]) -> Option<Gantt> {
        let t0 = c.trigger_ms;
        let rows: Vec<GanttRow> = rows
            .iter()
            .filter(|x| x.id == c.id)
            .map(|x| {
                let rel = |v: f64| v - t0;
                GanttRow {
                    task: x.task.clone(),
                    start_delay: x.start_delay_ms.map(|d| (0.0, d)),
                    alignment: x.first_barrier_ms.zip(x.last_barrier_ms).map(|(a, b)| (rel(a), rel(b))),
                    sync: x.snapshot_ms.zip(x.sync_ms).map(|(s, d)| (rel(s), rel(s) + d)),
                    upload: x.ack_ms.zip(x.async_ms).map(|(a, d)| (rel(a) - d, rel(a))),
                    ack: x.ack_ms.map(rel),
                    persisted: x.uploaded_bytes + x.channel_state_bytes,
                }
            })
            .collect();
        (!rows.is_empty() && rows.len() <= 64).then_some(Gantt { cp: c.id, duration_ms: c.duration_ms, rows })
    }
}

const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(127, 127, 127),
];

/// An axis label as people write it: `2`, not `2.0`; `0.25`; `1500`, not `1500.0`.
fn tick(v: f64) -> String {
    if v == v.round() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The `i`-th colour of a palette that never runs out: the seven base colours, then hues spaced
/// by the golden angle (so neighbours differ) at a fixed saturation and lightness.
pub fn palette(i: usize) -> RGBColor {
    if let Some(&c) = COLORS.get(i) {
        return c;
    }
    let hue = ((i - COLORS.len()) as f64 * 137.508 + 15.0) % 360.0;
    let (s, l) = (0.65, 0.42);
    let c = (1.0 - (2.0 * l - 1.0f64).abs()) * s;
    let x = c * (1.0 - ((hue / 60.0) % 2.0 - 1.0).abs());
    let (r, g, b) = match (hue / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let byte = |v: f64| ((v + m) * 255.0).round() as u8;
    RGBColor(byte(r), byte(g), byte(b))
}

/// A protocol keeps its colour (its registry position) in every chart; other series take the
/// palette in order.
fn color_of(series: &str, index: usize) -> RGBColor {
    palette(crate::scenario::ProtocolName::parse(series).map_or(index, |p| p.index()))
}

fn completed(c: &[CheckpointStats]) -> impl Iterator<Item = &CheckpointStats> {
    c.iter().filter(|s| s.outcome == Outcome::Completed)
}

fn per_checkpoint(c: &[CheckpointStats], f: impl Fn(&CheckpointStats) -> f64) -> Vec<(f64, f64)> {
    completed(c).map(|s| (s.id as f64, f(s))).collect()
}

fn over_time(rows: &[SampleRow], f: impl Fn(&SampleRow) -> f64) -> Vec<(f64, f64)> {
    rows.iter().map(|r| (r.t_ms, f(r))).collect()
}

fn markers(r: &RunResult) -> Vec<Marker> {
    let mut m: Vec<Marker> = completed(&r.checkpoints).map(|s| Marker { x: s.end_ms, kind: "checkpoint" }).collect();
    m.extend(r.crashes_ms.iter().map(|&x| Marker { x, kind: "failure" }));
    m
}

/// The most gates a debloating chart draws: those with the most data in flight.
const DEBLOAT_GATES: usize = 8;

/// With buffer debloating: per gate, the buffer size in force and the data in flight, over time.
fn debloat_charts(r: &RunResult) -> Vec<Chart> {
    if r.debloat.is_empty() {
        return Vec::new();
    }
    let p = &r.summary.protocol;
    let mut gates: Vec<&str> = Vec::new();
    for row in &r.debloat {
        if !gates.contains(&row.gate.as_str()) {
            gates.push(&row.gate);
        }
    }
    let peak = |g: &str| r.debloat.iter().filter(|x| x.gate == g).map(|x| x.in_flight_bytes).max().unwrap_or(0);
    let shown = gates.len().min(DEBLOAT_GATES);
    let note =
        if gates.len() > shown { format!(", the {shown} gates with the most data in flight") } else { String::new() };
    gates.sort_by_key(|g| std::cmp::Reverse(peak(g)));
    gates.truncate(shown);
    gates.sort();
    let series = |f: &dyn Fn(&crate::net::DebloatSample) -> f64| -> Vec<Series> {
        gates
            .iter()
            .map(|g| Series {
                name: g.to_string(),
                points: r.debloat.iter().filter(|x| x.gate == *g).map(|x| (x.t_ms, f(x))).collect(),
            })
            .collect()
    };
    vec![
        Chart {
            name: "debloat_buffer_size",
            title: format!("Buffer debloating: buffer size per input gate ({p}{note})"),
            x_label: "time (ms)".into(),
            y_label: "buffer size (bytes)".into(),
            series: series(&|x| x.buffer_bytes as f64),
            markers: markers(r),
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
        Chart {
            name: "debloat_in_flight",
            title: format!("Buffer debloating: data in flight towards each gate ({p}{note})"),
            x_label: "time (ms)".into(),
            y_label: "in flight (KiB)".into(),
            series: series(&|x| x.in_flight_bytes as f64 / 1024.0),
            markers: markers(r),
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
    ]
}

/// The charts of one run — those with something to show: a chart without a point is left out,
/// and so is the recovery timeline of a run without failures.
pub fn run_charts(r: &RunResult) -> Vec<Chart> {
    with_timeline(r, Gantt::of(r))
}

/// [`run_charts`] with the checkpoint timeline given (`run` streams its per-task rows to a file
/// and reads back those of the one checkpoint drawn).
pub fn with_timeline(r: &RunResult, timeline: Option<Gantt>) -> Vec<Chart> {
    let mut charts = base_charts(r);
    charts.extend(debloat_charts(r));
    charts.retain(Chart::has_data);
    if r.crashes_ms.is_empty() {
        charts.retain(|c| c.name != "recovery");
    }
    // One checkpoint task by task: the straggler stands out.
    if let Some(g) = timeline {
        charts.push(Chart {
            name: "checkpoint_timeline",
            title: format!("Checkpoint {} task by task ({}), the median duration", g.cp, r.summary.protocol),
            x_label: "ms after the trigger".into(),
            y_label: "task".into(),
            series: Vec::new(),
            markers: Vec::new(),
            log2_x: false,
            heatmap: None,
            gantt: Some(g),
        });
    }
    // Which task was blocked when: backpressure travelling upstream, row by row.
    if let Some(h) = r.task_backpressure.as_ref().filter(|h| h.permille.iter().flatten().any(|&p| p > 0)) {
        charts.push(Chart {
            name: "backpressure_heatmap",
            title: format!("Backpressure per task ({}): share of each interval blocked on output", r.summary.protocol),
            x_label: "simulated time (ms)".into(),
            y_label: "task".into(),
            series: Vec::new(),
            markers: Vec::new(),
            log2_x: false,
            heatmap: Some(h.clone()),
            gantt: None,
        });
    }
    charts
}

fn base_charts(r: &RunResult) -> Vec<Chart> {
    let p = &r.summary.protocol;
    let s = |name: &str, points| Series { name: name.to_string(), points };
    vec![
        Chart {
            name: "checkpoint_duration",
            title: format!("Checkpoint duration ({p})"),
            x_label: "checkpoint".into(),
            y_label: "duration (ms)".into(),
            series: vec![s("end-to-end", per_checkpoint(&r.checkpoints, |c| c.duration_ms))],
            markers: vec![],
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
        Chart {
            name: "checkpoint_alignment",
            title: format!("Start delay and alignment, largest task ({p})"),
            x_label: "checkpoint".into(),
            y_label: "time (ms)".into(),
            series: vec![
                s("start delay", per_checkpoint(&r.checkpoints, |c| c.start_delay_max_ms)),
                s("alignment", per_checkpoint(&r.checkpoints, |c| c.alignment_max_ms)),
            ],
            markers: vec![],
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
        Chart {
            name: "snapshot_size",
            title: format!("Snapshot size: operator state and in-flight data ({p})"),
            x_label: "checkpoint".into(),
            y_label: "size (KiB)".into(),
            series: vec![
                s("state", per_checkpoint(&r.checkpoints, |c| c.state_bytes as f64 / 1024.0)),
                s(
                    "channel state (in-flight)",
                    per_checkpoint(&r.checkpoints, |c| c.channel_state_bytes as f64 / 1024.0),
                ),
            ],
            markers: vec![],
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
        Chart {
            name: "latency",
            title: format!("Record latency: log arrival → sink, and → visible ({p})"),
            x_label: "time (ms)".into(),
            y_label: "latency (ms)".into(),
            series: vec![
                s("p50", over_time(&r.timeseries, |x| x.latency_p50_ms)),
                s("p99", over_time(&r.timeseries, |x| x.latency_p99_ms)),
                s(
                    "visible p99 (committed)",
                    r.timeseries.iter().filter_map(|x| x.committed_p99_ms.map(|v| (x.t_ms, v))).collect(),
                ),
            ],
            markers: markers(r),
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
        Chart {
            name: "throughput",
            title: format!("Throughput ({p})"),
            x_label: "time (ms)".into(),
            y_label: "records/s".into(),
            series: vec![
                s("source read", over_time(&r.timeseries, |x| x.read_rps)),
                s("sink received", over_time(&r.timeseries, |x| x.sink_rps)),
            ],
            markers: markers(r),
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
        Chart {
            name: "recovery",
            title: format!("Recovery timeline: failure → restart → caught up ({p})"),
            x_label: "time (ms)".into(),
            y_label: "records/s".into(),
            series: vec![s("source read", over_time(&r.timeseries, |x| x.read_rps))],
            markers: r
                .crashes_ms
                .iter()
                .map(|&x| Marker { x, kind: "failure" })
                .chain(r.restarts_ms.iter().map(|&x| Marker { x, kind: "restart" }))
                .chain(r.caught_up_ms.iter().map(|&x| Marker { x, kind: "caught up" }))
                .collect(),
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
        Chart {
            name: "backpressure",
            title: format!("Backpressure and queues ({p})"),
            x_label: "time (ms)".into(),
            y_label: "count".into(),
            series: vec![
                s("tasks blocked on output", over_time(&r.timeseries, |x| x.backpressured_tasks as f64)),
                s("buffers queued at receivers", over_time(&r.timeseries, |x| x.queued_buffers as f64)),
            ],
            markers: markers(r),
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
    ]
}

/// One chart per figure with a line per protocol, on the same axes.
pub fn compare_charts(runs: &[RunResult]) -> Vec<Chart> {
    let each = |f: &dyn Fn(&RunResult) -> Vec<(f64, f64)>| {
        runs.iter()
            .map(|r| Series { name: r.summary.protocol.clone(), points: f(r) })
            .filter(|s| !s.points.is_empty())
            .collect()
    };
    vec![
        Chart {
            name: "compare_checkpoint_duration",
            title: "Checkpoint duration per protocol".into(),
            x_label: "checkpoint".into(),
            y_label: "duration (ms)".into(),
            series: each(&|r| per_checkpoint(&r.checkpoints, |c| c.duration_ms)),
            markers: vec![],
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
        Chart {
            name: "compare_alignment",
            title: "Alignment (first → last barrier, largest task) per protocol".into(),
            x_label: "checkpoint".into(),
            y_label: "alignment (ms)".into(),
            series: each(&|r| per_checkpoint(&r.checkpoints, |c| c.alignment_max_ms)),
            markers: vec![],
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
        Chart {
            name: "compare_channel_state",
            title: "In-flight data persisted per checkpoint (channel state)".into(),
            x_label: "checkpoint".into(),
            y_label: "channel state (KiB)".into(),
            series: each(&|r| per_checkpoint(&r.checkpoints, |c| c.channel_state_bytes as f64 / 1024.0)),
            markers: vec![],
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
        // Visible latency, not sink latency: protocols hardly differ in when a record reaches
        // the sink, but a transactional sink shows it only when the checkpoint after it completes.
        Chart {
            name: "compare_visible_latency_p99",
            title: "Visible latency p99 (log arrival → committed output) over time".into(),
            x_label: "time (ms)".into(),
            y_label: "visible latency p99 (ms)".into(),
            series: each(&|r| r.timeseries.iter().filter_map(|x| x.committed_p99_ms.map(|v| (x.t_ms, v))).collect()),
            markers: vec![],
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
        Chart {
            name: "compare_visible_latency_cdf",
            title: "Visible latency distribution (share of records visible within x ms)".into(),
            x_label: "visible latency (ms)".into(),
            y_label: "records (%)".into(),
            series: each(&|r| r.visible_latency_cdf.clone()),
            markers: vec![],
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
        Chart {
            name: "compare_throughput",
            title: "Source read rate over time".into(),
            x_label: "time (ms)".into(),
            y_label: "records/s".into(),
            series: each(&|r| over_time(&r.timeseries, |x| x.read_rps)),
            markers: vec![],
            log2_x: false,
            heatmap: None,
            gantt: None,
        },
    ]
    .into_iter()
    // A chart of checkpoints when none of the protocols completed one (none, uncoordinated)
    // is left out rather than drawn as empty axes.
    .filter(Chart::has_data)
    .collect()
}

impl Chart {
    /// Some line has a point: a chart without any is left out rather than drawn as empty axes.
    /// (Heatmaps and timelines are added only when they have data.)
    pub fn has_data(&self) -> bool {
        self.series.iter().any(|s| !s.points.is_empty())
    }

    /// The chart as an SVG document (800 × 400: the plot, and its legend to the right, where it
    /// covers no line).
    pub fn to_svg(&self) -> Result<String, String> {
        if let Some(h) = &self.heatmap {
            return Ok(heatmap_svg(&self.title, h));
        }
        if let Some(g) = &self.gantt {
            return Ok(gantt_svg(&self.title, g));
        }
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (800, 400)).into_drawing_area();
            self.draw(&root).map_err(|e| format!("drawing {}: {e}", self.name))?;
            root.present().map_err(|e| format!("drawing {}: {e}", self.name))?;
        }
        Ok(out)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        // A log₂ axis draws log₂ x and labels it with x.
        let log2 = self.log2_x;
        let fx = move |x: f64| if log2 { x.max(f64::MIN_POSITIVE).log2() } else { x };
        let pts = || self.series.iter().flat_map(|s| s.points.iter()).map(|&(x, y)| (fx(x), y));
        let (mut x0, mut x1) = pts().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
        if x0 > x1 {
            (x0, x1) = (0.0, 1.0);
        }
        if x0 == x1 {
            (x0, x1) = (x0 - 1.0, x1 + 1.0);
        }
        let y1 = pts().fold(0.0f64, |m, p| m.max(p.1));
        let y1 = if y1 > 0.0 { y1 * 1.1 } else { 1.0 };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 17))
            .margin(12)
            .margin_right(LEGEND_WIDTH)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, 0.0..y1)?;
        // On a log₂ axis, one label per doubling (plotters' default is 10 labels).
        let x_labels = if log2 { ((x1 - x0).round() as usize + 1).clamp(2, 12) } else { 10 };
        chart
            .configure_mesh()
            .x_labels(x_labels)
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&|v| if log2 { tick((2f64.powf(*v) * 100.0).round() / 100.0) } else { tick(*v) })
            .y_label_formatter(&|v| tick(*v))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for m in &self.markers {
            let color = match m.kind {
                "failure" => RGBColor(214, 39, 40).mix(0.7),
                "restart" => RGBColor(255, 127, 14).mix(0.8),
                "caught up" => RGBColor(44, 160, 44).mix(0.8),
                _ => RGBColor(120, 120, 120).mix(0.25),
            };
            let mx = fx(m.x);
            chart.draw_series(std::iter::once(PathElement::new(vec![(mx, 0.0), (mx, y1)], color.stroke_width(1))))?;
        }
        // A line that a later one would cover (the same points, within 1% of the y range) is
        // drawn wider, so that it shows as a border around the one on top.
        let close = |a: &Series, b: &Series| {
            a.points.len() == b.points.len()
                && a.points.iter().zip(&b.points).all(|(p, q)| p.0 == q.0 && (p.1 - q.1).abs() <= 0.01 * y1)
        };
        for (i, s) in self.series.iter().enumerate() {
            let color = color_of(&s.name, i);
            let points: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (fx(x), y)).collect();
            let covered = self.series[i + 1..].iter().any(|later| close(s, later));
            chart.draw_series(LineSeries::new(decimate(&points), color.stroke_width(if covered { 6 } else { 2 })))?;
            if points.len() <= 60 {
                chart.draw_series(points.iter().map(|&p| Circle::new(p, 2, color.filled())))?;
            }
            // The legend, beside the plot.
            let (lx, ly) = (800 - LEGEND_WIDTH as i32 + 16, 48 + 20 * i as i32);
            root.draw(&PathElement::new(vec![(lx, ly), (lx + 22, ly)], color.stroke_width(3)))?;
            root.draw(&Text::new(s.name.clone(), (lx + 28, ly - 7), ("sans-serif", 13)))?;
        }
        Ok(())
    }
}

/// Plots of one row per task (the heatmap, the checkpoint timeline): the plot's left edge, top
/// and width, in an 800 px wide SVG whose legend sits to the right.
const ROWS_LEFT: f64 = 100.0;
const ROWS_TOP: f64 = 46.0;
const ROWS_WIDTH: f64 = 530.0;

/// A row plot's row name, right-aligned against the plot, on baseline `y`.
fn row_label(o: &mut String, y: f64, name: &str) {
    use std::fmt::Write as _;
    let _ = writeln!(
        o,
        r#"<text x="{:.1}" y="{y:.1}" font-size="11" text-anchor="end">{}</text>"#,
        ROWS_LEFT - 6.0,
        esc(name)
    );
}

/// The opening of a row plot of `rows` rows of `row` px: the SVG element, its white background
/// and the title.
fn rows_open(title: &str, row: f64, rows: usize) -> String {
    use std::fmt::Write as _;
    let height = ROWS_TOP + row * rows as f64 + 60.0;
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="800" height="{height:.0}" viewBox="0 0 800 {height:.0}" font-family="sans-serif"><rect width="800" height="{height:.0}" fill="white"/>"#
    );
    let _ = writeln!(o, r#"<text x="400" y="24" font-size="17" text-anchor="middle">{}</text>"#, esc(title));
    o
}

/// A row plot's frame down to `bottom` and its time axis from 0 to `end` ms: ticks at a round step
/// (1, 2 or 5 × a power of ten), about four of them, and the axis `label`.
fn rows_time_axis(o: &mut String, bottom: f64, end: f64, label: &str) {
    use std::fmt::Write as _;
    let (left, top, plot_w) = (ROWS_LEFT, ROWS_TOP, ROWS_WIDTH);
    let _ = writeln!(
        o,
        r##"<rect x="{left}" y="{top}" width="{plot_w}" height="{:.1}" fill="none" stroke="#888"/>"##,
        bottom - top
    );
    let raw = end / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(raw);
    let mut v = 0.0;
    while v <= end + 1e-9 {
        let x = left + plot_w * v / end;
        let _ = writeln!(
            o,
            r##"<line x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}" stroke="#888"/><text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            bottom + 4.0,
            bottom + 16.0,
            tick((v * 1000.0).round() / 1000.0)
        );
        v += step;
    }
    let _ = writeln!(
        o,
        r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{}</text>"#,
        left + plot_w / 2.0,
        bottom + 34.0,
        esc(label)
    );
}

/// A task × time heatmap: a row per task, a column per sample (at most 270, neighbours averaged),
/// white for never blocked to red for blocked the whole interval.
fn heatmap_svg(title: &str, h: &crate::engine::TaskBackpressure) -> String {
    use std::fmt::Write as _;
    let (left, top, row, plot_w) = (ROWS_LEFT, ROWS_TOP, 14.0, ROWS_WIDTH);
    let n = h.permille.len().max(1);
    let group = n.div_ceil(270);
    let cols: Vec<Vec<u32>> = h
        .permille
        .chunks(group)
        .map(|c| {
            (0..h.tasks.len())
                .map(|t| c.iter().map(|r| r.get(t).copied().unwrap_or(0) as u32).sum::<u32>() / c.len() as u32)
                .collect()
        })
        .collect();
    let cw = plot_w / cols.len().max(1) as f64;
    let mut o = rows_open(title, row, h.tasks.len());
    let shade = |p: u32| {
        let f = p.min(1000) as f64 / 1000.0;
        let c = |full: f64| (255.0 - (255.0 - full) * f).round() as u8;
        format!("#{:02x}{:02x}{:02x}", c(214.0), c(39.0), c(40.0))
    };
    for (t, name) in h.tasks.iter().enumerate() {
        let y = top + row * t as f64;
        row_label(&mut o, y + row - 3.0, name);
        for (i, col) in cols.iter().enumerate() {
            if col[t] > 0 {
                let _ = writeln!(
                    o,
                    r#"<rect x="{:.2}" y="{y:.1}" width="{:.2}" height="{row}" fill="{}"/>"#,
                    left + cw * i as f64,
                    cw + 0.3,
                    shade(col[t])
                );
            }
        }
    }
    let bottom = top + row * h.tasks.len() as f64;
    let end = h.times_ms.last().copied().unwrap_or(0.0).max(1e-9);
    rows_time_axis(&mut o, bottom, end, "simulated time (ms)");
    // The scale, beside the plot.
    let lx = 800.0 - LEGEND_WIDTH as f64 + 16.0;
    for (k, p) in [0u32, 250, 500, 750, 1000].iter().enumerate() {
        let y = top + 18.0 * k as f64;
        let _ = writeln!(
            o,
            r##"<rect x="{lx:.1}" y="{y:.1}" width="22" height="12" fill="{}" stroke="#bbb"/><text x="{:.1}" y="{:.1}" font-size="12">{}% blocked</text>"##,
            shade(*p),
            lx + 28.0,
            y + 10.0,
            p / 10
        );
    }
    o.push_str("</svg>\n");
    o
}

/// One checkpoint's timeline: a row per task, its phases as coloured bars on one ms axis.
fn gantt_svg(title: &str, g: &Gantt) -> String {
    use std::fmt::Write as _;
    let (left, top, row, plot_w) = (ROWS_LEFT, ROWS_TOP, 16.0, ROWS_WIDTH);
    // The axis runs 15% past the last ack, so that its persisted-bytes label stays in the plot.
    let end = g.rows.iter().filter_map(|r| r.ack).fold(g.duration_ms, f64::max).max(1e-6) * 1.15;
    let x = |v: f64| left + plot_w * (v / end).clamp(0.0, 1.0);
    let mut o = rows_open(title, row, g.rows.len());
    const PHASES: [(&str, &str); 4] =
        [("#c7c7c7", "start delay"), ("#ff7f0e", "alignment"), ("#d62728", "synchronous part"), ("#1f77b4", "upload")];
    for (i, r) in g.rows.iter().enumerate() {
        let y = top + row * i as f64;
        row_label(&mut o, y + row - 4.0, &r.task);
        for (span, (color, what)) in [r.start_delay, r.alignment, r.sync, r.upload].iter().zip(PHASES) {
            if let Some((a, b)) = span {
                let _ = writeln!(
                    o,
                    r#"<rect x="{:.2}" y="{:.1}" width="{:.2}" height="{:.1}" fill="{color}"><title>{} {what}: {a:.3} → {b:.3} ms</title></rect>"#,
                    x(*a),
                    y + 2.0,
                    (x(*b) - x(*a)).max(1.0),
                    row - 4.0,
                    esc(&r.task)
                );
            }
        }
        if let Some(a) = r.ack {
            let _ = writeln!(
                o,
                r#"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="black" stroke-width="2"><title>{3} acks at {a:.3} ms</title></line>"#,
                x(a),
                y + 1.0,
                y + row - 1.0,
                esc(&r.task)
            );
        }
        // What the task persisted, beside its ack: the straggler by size, as by time.
        if r.persisted > 0 {
            let _ = writeln!(
                o,
                r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#555"><title>{} persisted {} bytes (upload + channel state)</title>{}</text>"##,
                r.ack.map_or(left + plot_w, x) + 4.0,
                y + row - 4.0,
                esc(&r.task),
                r.persisted,
                bytes_label(r.persisted)
            );
        }
    }
    let bottom = top + row * g.rows.len() as f64;
    rows_time_axis(&mut o, bottom, end, &format!("ms after the trigger of checkpoint {}", g.cp));
    let lx = 800.0 - LEGEND_WIDTH as f64 + 16.0;
    for (k, (color, what)) in PHASES.iter().enumerate() {
        let y = top + 18.0 * k as f64;
        let _ = writeln!(
            o,
            r#"<rect x="{lx:.1}" y="{y:.1}" width="22" height="12" fill="{color}"/><text x="{:.1}" y="{:.1}" font-size="12">{what}</text>"#,
            lx + 28.0,
            y + 10.0
        );
    }
    let y = top + 18.0 * 4.0;
    let _ = writeln!(
        o,
        r#"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{:.1}" stroke="black" stroke-width="2"/><text x="{:.1}" y="{:.1}" font-size="12">ack</text>"#,
        lx + 11.0,
        lx + 11.0,
        y + 12.0,
        lx + 28.0,
        y + 10.0
    );
    o.push_str("</svg>\n");
    o
}

/// A byte count as people read it: `812 B`, `84.0 KiB`, `3.2 MiB`.
fn bytes_label(b: u64) -> String {
    match b {
        0..1024 => format!("{b} B"),
        1024..1_048_576 => format!("{:.1} KiB", b as f64 / 1024.0),
        _ => format!("{:.1} MiB", b as f64 / 1_048_576.0),
    }
}

/// Pixels to the right of the plot for its legend.
const LEGEND_WIDTH: u32 = 170;

/// At most [`MAX_POINTS`] points of a line: every k-th point, the last one always kept, so an SVG
/// stays small however long the run.
pub fn decimate(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let step = points.len().div_ceil(MAX_POINTS).max(1);
    let mut out: Vec<(f64, f64)> = points.iter().step_by(step).copied().collect();
    if step > 1
        && let Some(&last) = points.last()
    {
        out.push(last);
    }
    out
}

/// The most points a chart draws per line.
pub const MAX_POINTS: usize = 2000;

/// Writes every chart as `dir/<name>.svg`.
pub fn write(dir: &std::path::Path, charts: &[Chart]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for c in charts {
        std::fs::write(dir.join(format!("{}.svg", c.name)), c.to_svg().map_err(std::io::Error::other)?)?;
    }
    Ok(())
}
