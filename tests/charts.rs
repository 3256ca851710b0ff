//! Charts and the HTML report: files exist and are well-formed, and the data behind every chart
//! is the data of the CSV files it summarizes.

mod common;

use ckptsim::report::charts::{self, Chart};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A CSV file as rows of column → value.
fn csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines.map(|l| header.iter().cloned().zip(l.split(',').map(String::from)).collect()).collect()
}

fn num(row: &BTreeMap<String, String>, col: &str) -> f64 {
    row[col].parse().unwrap_or_else(|_| panic!("{col} = {:?}", row[col]))
}

/// Chart points equal CSV values up to the CSV's 3 decimals.
fn assert_points(chart: &Chart, series: &str, expected: &[(f64, f64)]) {
    let s =
        chart.series.iter().find(|s| s.name == series).unwrap_or_else(|| panic!("{}: no series {series}", chart.name));
    assert_eq!(s.points.len(), expected.len(), "{} / {series}: number of points", chart.name);
    for (p, e) in s.points.iter().zip(expected) {
        assert!(
            (p.0 - e.0).abs() < 1e-3 && (p.1 - e.1).abs() <= 1e-3 * e.1.abs().max(1.0),
            "{} / {series}: {p:?} vs {e:?}",
            chart.name
        );
    }
}

fn compare_into(dir: &Path, scenario: &str) {
    let _ = std::fs::remove_dir_all(dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["compare", &common::scenario_path(scenario).to_string_lossy(), "--out"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn assert_svg(path: &Path, title: &str) {
    let svg = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(svg.len() > 2000, "{} is nearly empty", path.display());
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{} is not an SVG document", path.display());
    assert!(
        svg.contains(&title.replace('&', "&amp;").replace('>', "&gt;")),
        "{} lacks its title {title:?}",
        path.display()
    );
}

#[test]
fn run_charts_hold_the_data_of_the_csv_files() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("charts-compare");
    compare_into(&dir, "crash-during-alignment");
    for p in ["aligned", "unaligned"] {
        let run_dir = dir.join(p);
        let mut s = common::load("crash-during-alignment");
        s.set_protocol(ckptsim::scenario::ProtocolName::parse(p).unwrap()).unwrap();
        let r = common::run(&s);
        let charts = charts::run_charts(&r);
        for c in &charts {
            assert_svg(&run_dir.join(format!("{}.svg", c.name)), &c.title);
        }
        let cps: Vec<_> =
            csv(&run_dir.join("checkpoints.csv")).into_iter().filter(|r| r["outcome"] == "completed").collect();
        let ts = csv(&run_dir.join("timeseries.csv"));
        let by = |name: &str| charts.iter().find(|c| c.name == name).unwrap();
        let per_cp =
            |col: &str, scale: f64| cps.iter().map(|r| (num(r, "id"), num(r, col) / scale)).collect::<Vec<_>>();
        let over_t = |col: &str| ts.iter().map(|r| (num(r, "t_ms"), num(r, col))).collect::<Vec<_>>();
        assert_points(by("checkpoint_duration"), "end-to-end", &per_cp("duration_ms", 1.0));
        assert_points(by("checkpoint_alignment"), "alignment", &per_cp("alignment_max_ms", 1.0));
        assert_points(by("checkpoint_alignment"), "start delay", &per_cp("start_delay_max_ms", 1.0));
        assert_points(by("snapshot_size"), "state", &per_cp("state_bytes", 1024.0));
        assert_points(by("snapshot_size"), "channel state (in-flight)", &per_cp("channel_state_bytes", 1024.0));
        assert_points(by("latency"), "p99", &over_t("latency_p99_ms"));
        let committed: Vec<(f64, f64)> = ts
            .iter()
            .filter(|r| !r["committed_p99_ms"].is_empty())
            .map(|r| (num(r, "t_ms"), num(r, "committed_p99_ms")))
            .collect();
        assert!(!committed.is_empty());
        assert_points(by("latency"), "visible p99 (committed)", &committed);
        let recovery = by("recovery");
        assert_eq!(recovery.markers.iter().filter(|m| m.kind == "restart").count() as u32, r.summary.recoveries);
        assert!(recovery.markers.iter().any(|m| m.kind == "caught up"));
        assert_points(by("throughput"), "source read", &over_t("read_rps"));
        assert_points(by("backpressure"), "tasks blocked on output", &over_t("backpressured_tasks"));
        // Failure markers where the crashes were; checkpoint markers at completions.
        let latency = by("latency");
        assert_eq!(latency.markers.iter().filter(|m| m.kind == "failure").count() as u32, r.summary.failures);
        assert_eq!(latency.markers.iter().filter(|m| m.kind == "checkpoint").count(), cps.len());
    }
    // Side by side: one line per protocol with checkpoints, on shared axes.
    let runs: Vec<_> = ["aligned", "unaligned", "chandy_lamport", "aligned_timeout", "at_least_once"]
        .iter()
        .map(|p| {
            let mut s = common::load("crash-during-alignment");
            s.set_protocol(ckptsim::scenario::ProtocolName::parse(p).unwrap()).unwrap();
            common::run(&s)
        })
        .collect();
    for c in charts::compare_charts(&runs) {
        assert_svg(&dir.join(format!("{}.svg", c.name)), &c.title);
        if c.name == "compare_checkpoint_duration" {
            assert_eq!(c.series.len(), 5);
            for p in ["aligned", "unaligned"] {
                let cps: Vec<_> = csv(&dir.join(p).join("checkpoints.csv"))
                    .into_iter()
                    .filter(|r| r["outcome"] == "completed")
                    .collect();
                assert_points(&c, p, &cps.iter().map(|r| (num(r, "id"), num(r, "duration_ms"))).collect::<Vec<_>>());
            }
        }
        if c.name == "compare_visible_latency_cdf" {
            // A distribution per protocol: rising to 100% at the maximum, through the summary's
            // visible p50 and p99.
            assert_eq!(c.series.len(), 5);
            for (s, r) in c.series.iter().zip(&runs) {
                assert!(s.points.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1), "{}", s.name);
                let at = |p: f64| s.points.iter().find(|q| q.1 == p).unwrap().0;
                assert_eq!(at(50.0), r.summary.latency_ms.committed_p50);
                assert_eq!(at(99.0), r.summary.latency_ms.committed_p99);
                assert_eq!(s.points.last().unwrap().1, 100.0);
            }
        }
    }
}

#[test]
fn the_report_is_self_contained_and_holds_every_chart() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("charts-report");
    compare_into(&dir, "backpressure");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    let svgs = html.matches("<svg").count();
    assert_eq!(svgs, html.matches("</svg>").count());
    // 6 side-by-side charts + 8 per protocol × 10 protocols (no recovery timeline without a
    // failure; the backpressure heatmap and one checkpoint's timeline), less the 4 checkpoint
    // charts of `none` and of `uncoordinated`, which have no global checkpoint to draw.
    assert_eq!(svgs, 6 + 8 * 10 - 4 - 4);
    assert!(!html.contains("Recovery timeline"), "a recovery chart without a failure");
    // A contents line, the side-by-side section open, each protocol folded away.
    assert!(html.contains("<nav><b>Contents:</b>"));
    assert_eq!(html.matches("<details").count(), 11);
    assert_eq!(html.matches("<details id=\"s0\" open>").count(), 1);
    for title in [
        "Checkpoint duration per protocol",
        "In-flight data persisted per checkpoint",
        "Visible latency p99",
        "Visible latency distribution",
    ] {
        assert!(html.contains(title), "report lacks {title:?}");
    }
    assert!(
        !html.contains("http://")
            || html.matches("http://").count() == html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count(),
        "external reference"
    );
    assert!(!html.contains("<script"), "the report needs no script");
    assert!(
        html.contains("longer: aligned barriers queue behind the in-flight data"),
        "the findings paragraph is missing"
    );
    for row in ["<td>aligned</td>", "<td>unaligned</td>", "<td>at_least_once</td>"] {
        assert!(html.contains(row), "table lacks {row}");
    }
}

/// Output size does not grow with idle simulated time: a 100 s run sampled every millisecond keeps
/// at most 10,000 time-series rows (thinned, then sampled half as often), and a chart line at most
/// 2,000 points.
#[test]
fn long_idle_runs_keep_output_small() {
    use ckptsim::scenario::{ArrivalSpec, OperatorKind, OperatorSpec, Partitioner, Scenario};
    let s = Scenario::builder("slow", 1)
        .operator(OperatorSpec::source("src", 1, 100, ArrivalSpec::Constant { rate_per_sec: 1 }))
        .operator(OperatorSpec::new("sink", OperatorKind::Sink))
        .edge("src", "sink", Partitioner::Forward)
        .sample_interval_ms(1)
        .build()
        .unwrap();
    let r = ckptsim::engine::run(&s, Default::default()).unwrap();
    assert!(r.summary.sim_time_ns >= 99_000_000_000);
    assert!(r.timeseries.len() <= 10_000 && r.timeseries.len() >= 5_000, "{} rows", r.timeseries.len());
    assert!(r.timeseries.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
    let many: Vec<(f64, f64)> = (0..100_000).map(|i| (i as f64, 1.0)).collect();
    let d = ckptsim::report::charts::decimate(&many);
    assert!(d.len() <= ckptsim::report::charts::MAX_POINTS + 1);
    assert_eq!(d.last(), many.last());
}

#[test]
fn the_backpressure_heatmap_agrees_with_the_summary() {
    let s = common::load("backpressure");
    let r = ckptsim::engine::run(&s, ckptsim::engine::RunOptions::default()).unwrap();
    let h = r.task_backpressure.as_ref().expect("9 tasks: a heatmap");
    assert_eq!(h.permille.len(), h.times_ms.len());
    assert_eq!(h.times_ms.len(), r.timeseries.len());
    // Each task's average over the intervals is its share of the run blocked (the summary's),
    // up to the unequal last interval and rounding to thousandths.
    for (t, name) in h.tasks.iter().enumerate() {
        let mean = h.permille.iter().map(|row| row[t] as f64).sum::<f64>() / h.permille.len() as f64 / 1000.0;
        let whole = r.summary.backpressure[name];
        assert!((mean - whole).abs() < 0.05, "{name}: heatmap mean {mean:.3}, summary {whole:.3}");
    }
    let charts = ckptsim::report::charts::run_charts(&r);
    let chart = charts.iter().find(|c| c.name == "backpressure_heatmap").expect("drawn when a task was blocked");
    let svg = chart.to_svg().unwrap();
    assert!(h.tasks.iter().all(|t| svg.contains(&format!(">{t}</text>"))));
    assert!(svg.contains("100% blocked"));
}

#[test]
fn the_checkpoint_timeline_shows_the_straggler() {
    let s = common::load("backpressure");
    let r = ckptsim::engine::run(&s, ckptsim::engine::RunOptions::default()).unwrap();
    let g = charts::Gantt::of(&r).expect("per-task rows kept");
    assert_eq!(g.rows.len(), 9);
    // agg[2], five times slower, gets its barrier last: the longest start delay.
    let slowest =
        g.rows.iter().max_by(|a, b| a.start_delay.map_or(0.0, |d| d.1).total_cmp(&b.start_delay.map_or(0.0, |d| d.1)));
    assert_eq!(slowest.unwrap().task, "agg[2]");
    // The rows are the checkpoint's own per-task figures.
    for row in &g.rows {
        let t = r.checkpoint_tasks.iter().find(|x| x.id == g.cp && x.task == row.task).unwrap();
        assert_eq!(row.start_delay.map(|d| d.1), t.start_delay_ms);
        assert_eq!(row.persisted, t.uploaded_bytes + t.channel_state_bytes);
        assert!(row.ack.is_some_and(|a| a <= g.duration_ms + 1e-9));
    }
    let chart = charts::run_charts(&r).into_iter().find(|c| c.name == "checkpoint_timeline").unwrap();
    let svg = chart.to_svg().unwrap();
    assert!(svg.contains(">agg[2]</text>") && svg.contains("synchronous part"));
    // `run` streams the per-task rows to checkpoint_tasks.csv and reads back those of this
    // checkpoint: the same timeline.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("timeline-run");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["run", &common::scenario_path("backpressure").to_string_lossy(), "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.join("checkpoint_timeline.svg")).unwrap(), svg);
}

#[test]
fn protocols_without_global_checkpoints_get_no_empty_checkpoint_charts() {
    use ckptsim::scenario::ProtocolName;
    let s = common::load("pipeline");
    let r = ckptsim::compare::compare_these(&s, &[ProtocolName::NONE, ProtocolName::UNCOORDINATED]).unwrap();
    let names: Vec<&str> = charts::compare_charts(&r.results).iter().map(|c| c.name).collect();
    assert_eq!(names, ["compare_visible_latency_p99", "compare_visible_latency_cdf", "compare_throughput"]);
    let with_aligned = ckptsim::compare::compare_these(&s, &[ProtocolName::ALIGNED, ProtocolName::NONE]).unwrap();
    assert_eq!(charts::compare_charts(&with_aligned.results).len(), 6);
}
