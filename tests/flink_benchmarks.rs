//! Flink's published checkpointing micro-benchmarks, reproduced (`ckptsim flink-benchmarks`):
//! the shape of each figure holds, and the table docs/flink-benchmarks.md quotes is what the command prints.

use ckptsim::flinkbench::{self, CASES};

#[test]
fn the_benchmark_shapes_hold() {
    let rows = flinkbench::run_all(CASES, 2, &|_, _| {}).unwrap();
    let by = |label: &str| rows.iter().find(|r| r.label.starts_with(label)).unwrap_or_else(|| panic!("{label}"));
    for r in &rows {
        assert!(r.measured >= 3, "{}: only {} checkpoints measured", r.label, r.measured);
    }
    // Debloating holds each of the two exchanges at about its 300 ms target.
    let aligned = by("checkpointSingleInput ALIGNED").ckptsim;
    assert!((450.0..=750.0).contains(&aligned), "aligned {aligned:.1} ms is not ≈ 2 × 300 ms");
    // Unaligned checkpoints do not wait for the in-flight data: milliseconds.
    let unaligned = by("checkpointSingleInput UNALIGNED").ckptsim;
    assert!((0.5..=5.0).contains(&unaligned), "unaligned {unaligned:.2} ms");
    assert!(aligned > 100.0 * unaligned);
    // A slower sink: slower aligned and unaligned checkpoints.
    let rate = |label: &str| by(label).ckptsim;
    assert!(rate("sink sleeping 10 ms per record, ALIGNED") < rate("sink sleeping 1 ms per record, ALIGNED") / 3.0);
    assert!(rate("sink sleeping 10 ms per record, UNALIGNED") < rate("sink sleeping 1 ms per record, UNALIGNED") / 3.0);
    assert!(rate("sink sleeping 1 ms per record, UNALIGNED") > 50.0 * rate("sink sleeping 1 ms per record, ALIGNED"));
}

#[test]
fn the_command_prints_and_writes_the_table() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("flink-benchmarks");
    let _ = std::fs::remove_dir_all(&dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["flink-benchmarks", "--jobs", "2", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let md = std::fs::read_to_string(dir.join("flink-benchmarks.md")).unwrap();
    assert!(stdout.starts_with(&md), "the printed table is the written one");
    assert_eq!(md.lines().count(), 2 + CASES.len());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("flink-benchmarks.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), CASES.len());
    // Every row's command is printed, and the first one reproduces the first figure.
    assert!(stdout.contains("ckptsim run flink-benchmarks/checkpointing-time-aligned\n"));
}

/// `limits.cancel_at_ms` ends a job that never ends by itself without calling it a failure, and
/// says that exactly-once was not checked; `metrics.warmup_ms` keeps the warm-up out of the
/// summary's percentiles but not out of `checkpoints.csv`.
#[test]
fn a_cancelled_benchmark_job_is_not_a_failure_and_its_verdict_says_not_checked() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cancelled");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["run", "flink-benchmarks/checkpointing-time-unaligned", "--set", "limits.cancel_at_ms=1000"])
        .args(["--set", "metrics.warmup_ms=500", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("exactly once: not checked — the job is cancelled at 1000 ms"), "{stdout}");
    assert!(stdout.contains("cancelled at 1000 ms (limits.cancel_at_ms)"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["cancelled_at_ms"], 1000.0);
    assert_eq!(summary["drained"], false);
    assert_eq!(summary["exactly_once"]["checked"], false);
    // The first checkpoint, triggered during the warm-up, is in the CSV but not in the percentiles.
    let s = ckptsim::bundled::load("flink-benchmarks/checkpointing-time-unaligned").unwrap().unwrap();
    let mut long_first = s.clone();
    long_first.limits.cancel_at_ms = Some(1000);
    long_first.metrics.warmup_ms = 500;
    let r = ckptsim::engine::run(&long_first, Default::default()).unwrap();
    let measured: Vec<f64> = r
        .checkpoints
        .iter()
        .filter(|c| c.trigger_ms >= 500.0 && c.outcome.name() == "completed")
        .map(|c| c.duration_ms)
        .collect();
    let max = measured.iter().cloned().fold(0.0, f64::max);
    assert_eq!(r.summary.checkpoints.duration_ms.max, max);
    assert!(r.checkpoints.iter().any(|c| c.trigger_ms < 500.0));
    assert_eq!(
        r.summary.checkpoints.completed,
        r.checkpoints.iter().filter(|c| c.outcome.name() == "completed").count()
    );
}
