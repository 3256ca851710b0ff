//! `ckptsim sweep`: the classic results as figures, outputs that match each other, clear errors.

mod common;

use ckptsim::scenario::ProtocolName;
use ckptsim::sweep::{self, SweepRow};

fn run(name: &str, param: &str, values: &[&str], protocols: &[ProtocolName]) -> Vec<SweepRow> {
    let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    sweep::sweep(&common::load(name), param, &values, protocols, 2, &|_, _| {}).unwrap().rows
}

fn find<'a>(rows: &'a [SweepRow], value: &str, p: &str) -> &'a SweepRow {
    rows.iter().find(|r| r.value == value && r.protocol == p).unwrap()
}

#[test]
fn aligned_grows_with_buffers_while_unaligned_stays_flat_but_grows_in_size() {
    let rows =
        run("backpressure", "network.buffer_records", &["16", "64"], &[ProtocolName::ALIGNED, ProtocolName::UNALIGNED]);
    let (a16, a64) = (find(&rows, "16", "aligned"), find(&rows, "64", "aligned"));
    let (u16, u64) = (find(&rows, "16", "unaligned"), find(&rows, "64", "unaligned"));
    assert!(
        a64.duration_p50_ms > 1.5 * a16.duration_p50_ms,
        "aligned {} → {}",
        a16.duration_p50_ms,
        a64.duration_p50_ms
    );
    assert!(
        (u64.duration_p50_ms - u16.duration_p50_ms).abs() < 0.2 * u16.duration_p50_ms,
        "unaligned {} → {}",
        u16.duration_p50_ms,
        u64.duration_p50_ms
    );
    assert!(u64.channel_state_bytes_p50 > 2.0 * u16.channel_state_bytes_p50);
    assert_eq!(a64.channel_state_bytes_p50, 0.0);
    assert!(rows.iter().all(|r| r.cut_violations == 0));
}

#[test]
fn visible_latency_grows_with_the_interval_and_the_timeout_bounds_duration() {
    let rows = run("pipeline", "checkpointing.interval_ms", &["25", "200"], &[ProtocolName::ALIGNED]);
    assert!(
        find(&rows, "200", "aligned").committed_latency_p99_ms
            > 4.0 * find(&rows, "25", "aligned").committed_latency_p99_ms
    );
    let p = [ProtocolName::ALIGNED, ProtocolName::ALIGNED_TIMEOUT];
    let rows = run("backpressure", "checkpointing.aligned_checkpoint_timeout_ms", &["5", "20"], &p);
    for (v, t) in [("5", 5.0), ("20", 20.0)] {
        let d = find(&rows, v, "aligned_timeout").duration_p99_ms;
        // The timeout, then the upload (a 5 ms file write and the channel state) and the
        // JobManager's metadata file (5 ms).
        assert!(d > t && d < t + 20.0, "timeout {t} ms: duration p99 {d} ms");
        assert!(d < find(&rows, v, "aligned").duration_p50_ms);
    }
}

#[test]
fn the_abs_papers_shape_asynchronous_snapshots_stay_flat_synchronous_ones_grow() {
    // Carbone et al. 2015, section 6: processing time of a fixed input over the snapshot interval.
    let (none, aligned, sync) = (ProtocolName::NONE, ProtocolName::ALIGNED, ProtocolName::SYNCHRONOUS);
    let values = ["50", "200", "800"];
    let rows = run("abs/abs-shape", "checkpointing.interval_ms", &values, &[none, aligned, sync]);
    let t = |v: &str, p: ProtocolName| find(&rows, v, p.name()).processing_ms;
    let base = t("800", none);
    for v in values {
        assert_eq!(t(v, none), base, "without snapshots the interval changes nothing");
        assert!(t(v, aligned) <= 1.02 * base, "aligned at {v} ms: {} against {base}", t(v, aligned));
        assert!(t(v, sync) > t(v, aligned), "synchronous at {v} ms");
    }
    assert!(t("50", sync) > t("200", sync) && t("200", sync) > t("800", sync));
    assert!(t("50", sync) > 1.5 * base, "synchronous at 50 ms: {} against {base}", t("50", sync));
    // Over parallelism too (every operator at once, through `[*]`): aligned within 2%.
    let rows = run("abs/abs-shape", "topology.operators[*].parallelism", &["1", "8"], &[none, aligned, sync]);
    for v in ["1", "8"] {
        let base = find(&rows, v, "none").processing_ms;
        assert!(find(&rows, v, "aligned").processing_ms <= 1.02 * base);
        assert!(find(&rows, v, "synchronous").processing_ms > 1.1 * base);
    }
}

#[test]
fn the_cli_writes_csv_charts_and_report_that_agree() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sweep-cli");
    let _ = std::fs::remove_dir_all(&dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args([
            "sweep",
            &common::scenario_path("diamond").to_string_lossy(),
            "--param",
            "network.latency_us",
            "--values",
            "100,400",
        ])
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 2 * 8, "2 values × 8 correct protocols");
    let values = ["100", "400"];
    let r = sweep::sweep(
        &common::load("diamond"),
        "network.latency_us",
        &values.map(String::from),
        &ckptsim::explore::correct_protocols(),
        1,
        &|_, _| {},
    )
    .unwrap();
    for c in r.charts() {
        let svg = std::fs::read_to_string(dir.join(format!("{}.svg", c.name))).unwrap();
        assert!(svg.starts_with("<svg") && svg.len() > 2000, "{}", c.name);
        if c.name == "sweep_duration_p50" {
            for s in &c.series {
                for (x, y) in &s.points {
                    let line = rows.iter().find(|l| l.starts_with(&format!("{x},{},", s.name))).unwrap();
                    let v: f64 = line.split(',').nth(3).unwrap().parse().unwrap();
                    assert!((v - y).abs() < 1e-3, "{line} vs {y}");
                }
            }
        }
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 6);
    // Bad input names the path.
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args([
            "sweep",
            &common::scenario_path("diamond").to_string_lossy(),
            "--param",
            "network.buffer_records",
            "--values",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("network.buffer_records`: found 0"));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args([
            "sweep",
            &common::scenario_path("diamond").to_string_lossy(),
            "--param",
            "topology.operators[9].parallelism",
            "--values",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("index 9 out of range"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn doubling_values_get_a_log_axis_and_the_report_says_what_moved() {
    let values: Vec<String> = ["8", "32", "128"].iter().map(|v| v.to_string()).collect();
    let p = [ProtocolName::ALIGNED, ProtocolName::UNALIGNED];
    let r = sweep::sweep(&common::load("backpressure"), "network.buffer_records", &values, &p, 2, &|_, _| {}).unwrap();
    let charts = r.charts();
    assert!(charts.iter().all(|c| c.log2_x && c.x_label.contains("log scale")));
    let findings = r.findings();
    assert_eq!(findings.len(), 3, "{findings:?}");
    assert!(findings[0].starts_with("aligned: checkpoint duration p50"), "{findings:?}");
    assert!(findings[2].contains("The duration of aligned grew most"), "{findings:?}");
    // Evenly spaced values, and two values, stay on a linear axis.
    let even: Vec<String> = ["10", "40", "70", "100"].iter().map(|v| v.to_string()).collect();
    let r =
        sweep::sweep(&common::load("pipeline"), "checkpointing.interval_ms", &even, &p[..1], 2, &|_, _| {}).unwrap();
    assert!(r.charts().iter().all(|c| !c.log2_x));
    let near: Vec<String> = ["16", "32"].iter().map(|v| v.to_string()).collect();
    let r = sweep::sweep(&common::load("pipeline"), "network.buffer_records", &near, &p[..1], 2, &|_, _| {}).unwrap();
    assert!(r.charts().iter().all(|c| !c.log2_x));
}

#[test]
fn a_wildcard_sets_every_element_and_a_misplaced_one_is_refused() {
    let s = common::load("abs/abs-shape");
    let all = sweep::with_value(&s, "topology.operators[*].parallelism", "3").unwrap();
    assert!(all.topology.operators.iter().all(|o| o.parallelism == 3));
    let e = sweep::with_value(&s, "checkpointing[*].interval_ms", "3").unwrap_err().to_string();
    assert!(e.contains("checkpointing[*].interval_ms") && e.contains("is not a list"), "{e}");
}
