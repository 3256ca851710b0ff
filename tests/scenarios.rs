//! Every bundled scenario runs and its key figures are pinned, so a behaviour change shows up as a
//! diff here rather than as a surprise. When a change is intended, update the pins in the same
//! commit and say why.

mod common;

struct Pin {
    name: &'static str,
    /// The scenario's own `checkpointing.mode`.
    protocol: &'static str,
    /// Checkpoints triggered and completed (the others were abandoned by a failure).
    checkpoints: (usize, usize),
    /// Crashes injected.
    failures: u32,
    trace_hash: &'static str,
    events: u64,
    /// Source records (each visible exactly once at the end).
    records: u64,
    /// Records read again after restores.
    reprocessed: u64,
    hops: u64,
    /// Range of latency p99 (ms).
    p99_ms: (f64, f64),
    /// Range of the largest per-task backpressure fraction.
    max_backpressure: (f64, f64),
}

const PINS: &[Pin] = &[
    Pin {
        name: "backpressure",
        protocol: "aligned",
        // Aligned checkpoints take ≈ 107 ms here (longer than the 100 ms interval), so fewer fit;
        // the last one is the final checkpoint after every task finished.
        checkpoints: (20, 20),
        failures: 0,
        trace_hash: "4b9e9b229fb6f5a0",
        events: 835_800,
        records: 200_000,
        reprocessed: 0,
        hops: 800_000,
        // The slow agg[2] holds the job to ≈ 100k records/s while 200k/s arrive: latency grows
        // to about a second by the end of the log.
        p99_ms: (900.0, 1100.0),
        max_backpressure: (0.8, 0.95),
    },
    Pin {
        name: "crash-before-notify",
        protocol: "aligned",
        checkpoints: (19, 19),
        failures: 2,
        trace_hash: "d89688e008f03eab",
        events: 680_860,
        records: 80_000,
        reprocessed: 1_873,
        hops: 531_507,
        p99_ms: (2.0, 50.0),
        max_backpressure: (0.0, 0.1),
    },
    Pin {
        name: "crash-during-alignment",
        protocol: "aligned",
        // Two checkpoints in progress were abandoned by crashes.
        checkpoints: (21, 19),
        failures: 3,
        trace_hash: "7985480237417e31",
        events: 575_099,
        records: 120_000,
        reprocessed: 19_230,
        hops: 549_341,
        p99_ms: (700.0, 1000.0),
        max_backpressure: (0.7, 0.9),
    },
    Pin {
        name: "diamond",
        protocol: "aligned",
        checkpoints: (20, 20),
        failures: 0,
        trace_hash: "45af383f8e450e0b",
        events: 680_677,
        records: 80_000,
        reprocessed: 0,
        // src, both filters (each sees every record), inc (evens), merge, agg, sink.
        hops: 520_234,
        p99_ms: (2.0, 5.0),
        max_backpressure: (0.0, 0.0),
    },
    Pin {
        name: "pipeline",
        protocol: "aligned",
        checkpoints: (20, 20),
        failures: 0,
        trace_hash: "e81e4128b7d268c0",
        events: 511_011,
        records: 100_000,
        reprocessed: 0,
        hops: 400_000,
        // No bottleneck: latency ≈ two network hops + buffer timeouts (1 ms) + processing.
        p99_ms: (1.0, 3.0),
        max_backpressure: (0.0, 0.0),
    },
    Pin {
        name: "random-failures",
        protocol: "aligned",
        checkpoints: (16, 15),
        // Four random crashes; two of them hit while the job was already down.
        failures: 4,
        trace_hash: "ef90172f4e738322",
        events: 614_188,
        records: 100_000,
        reprocessed: 35_665,
        hops: 538_401,
        // The records read again after each restore wait behind the catch-up: 261 ms.
        p99_ms: (50.0, 400.0),
        max_backpressure: (0.0, 0.1),
    },
];

#[test]
fn every_bundled_scenario_is_pinned() {
    let pinned: Vec<&str> = PINS.iter().map(|p| p.name).collect();
    assert_eq!(common::bundled(), pinned, "add a pin for each scenario in scenarios/ (sorted by name)");
}

#[test]
fn bundled_scenarios_match_their_pinned_figures() {
    for pin in PINS {
        let s = common::load(pin.name);
        let m = common::run(&s).summary;
        let name = pin.name;
        assert!(m.drained, "{name}: did not drain");
        assert_eq!(m.protocol, pin.protocol);
        assert_eq!((m.checkpoints.triggered, m.checkpoints.completed), pin.checkpoints, "{name}: checkpoints");
        assert_eq!(
            (m.consistent_cut.checked, m.consistent_cut.violations),
            (pin.checkpoints.1, 0),
            "{name}: cut checks"
        );
        assert_eq!(m.failures, pin.failures, "{name}: failures");
        assert_eq!(m.recovery.reprocessed_records, pin.reprocessed, "{name}: reprocessed");
        // Every record is read once plus once per replay; a record a source had read but not
        // finished when a failure hit counts as re-read without having counted as read, so each
        // failure may leave the identity short by one per source task.
        let sources: u64 =
            s.topology.operators.iter().filter(|o| o.kind.name() == "source").map(|o| o.parallelism as u64).sum();
        let expected = pin.records + pin.reprocessed;
        assert!(
            m.records.source_read <= expected && m.records.source_read + pin.failures as u64 * sources >= expected,
            "{name}: source_read {} against {expected} read and re-read",
            m.records.source_read
        );
        if pin.failures == 0 {
            assert_eq!(m.records.sink_received, pin.records, "{name}: sink_received");
        }
        assert_eq!(m.records.committed, pin.records, "{name}: the final checkpoint commits everything");
        assert_eq!(m.records.hops, pin.hops, "{name}: hops");
        assert_eq!(m.events, pin.events, "{name}: events");
        assert_eq!(m.trace_hash, pin.trace_hash, "{name}: trace_hash");
        assert!(
            (pin.p99_ms.0..=pin.p99_ms.1).contains(&m.latency_ms.p99),
            "{name}: latency p99 {} ms",
            m.latency_ms.p99
        );
        let bp = m.backpressure.values().cloned().fold(0.0, f64::max);
        assert!((pin.max_backpressure.0..=pin.max_backpressure.1).contains(&bp), "{name}: max backpressure {bp}");
        assert!(
            m.latency_ms.p50 <= m.latency_ms.p99 && m.latency_ms.p99 <= m.latency_ms.max,
            "{name}: percentiles out of order"
        );
        assert_eq!(m.fingerprint, s.fingerprint());
    }
}

#[test]
fn the_cli_run_writes_summary_and_timeseries() {
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-run");
    let _ = std::fs::remove_dir_all(&out);
    let trace = out.with_extension("jsonl");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["run", &common::scenario_path("pipeline").to_string_lossy(), "--seed", "9", "--out"])
        .arg(&out)
        .arg("--trace")
        .arg(&trace)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(stdout.contains("seed=9") && stdout.contains("fingerprint="), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    for key in [
        "scenario",
        "seed",
        "fingerprint",
        "protocol",
        "sim_time_ns",
        "events",
        "trace_hash",
        "throughput_rps",
        "backpressure",
        "max_queued_buffers",
        "checkpoints",
        "consistent_cut",
    ] {
        assert!(!summary[key].is_null(), "summary.json lacks {key}");
    }
    assert_eq!(summary["seed"], 9);
    assert_eq!(summary["records"]["source_read"], 100_000);
    for p in ["p50", "p99", "max"] {
        assert!(summary["latency_ms"][p].is_number());
    }
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    let mut lines = csv.lines();
    let header = ckptsim::metrics::to_csv::<ckptsim::metrics::SampleRow>(&[]).unwrap();
    assert_eq!(lines.next().unwrap(), header.trim_end());
    assert!(header.starts_with("t_ms,source_read,sink_received,"), "{header}");
    let rows: Vec<_> = lines.collect();
    assert!(rows.len() >= 20, "{} rows", rows.len());
    let last_read: u64 = rows.last().unwrap().split(',').nth(1).unwrap().parse().unwrap();
    assert_eq!(last_read, 100_000, "the last row holds the final counts");
    // The trace file's line count equals the number of trace events.
    let lines = std::fs::read_to_string(&trace).unwrap().lines().count() as u64;
    assert_eq!(lines, summary["trace_events"].as_u64().unwrap());
}
