//! Credit-based backpressure: a slow operator caps the source read rate at its own capacity, and
//! no receiver queue ever holds more buffers than its credits allow.

mod common;

use ckptsim::scenario::{ArrivalSpec, CostSpec, OperatorKind, OperatorSpec, Partitioner, Scenario};

/// One source at 100k records/s into a single keyed_sum task costing `agg_cost_us` per record.
fn chain(agg_cost_us: u64) -> Scenario {
    Scenario::builder("slow-chain", 3)
        .operator(
            OperatorSpec::source("src", 1, 40_000, ArrivalSpec::Constant { rate_per_sec: 100_000 })
                .cost(CostSpec::FixedUs(1)),
        )
        .operator(OperatorSpec::new("map", OperatorKind::Map).cost(CostSpec::FixedUs(1)))
        .operator(OperatorSpec::new("agg", OperatorKind::KeyedSum).cost(CostSpec::FixedUs(agg_cost_us)))
        .operator(OperatorSpec::new("sink", OperatorKind::Sink).cost(CostSpec::FixedNs(100)))
        .edge("src", "map", Partitioner::Forward)
        .edge("map", "agg", Partitioner::Hash)
        .edge("agg", "sink", Partitioner::Forward)
        .network(|n| {
            n.buffer_records = 32;
            n.buffer_timeout_us = 1000;
            n.latency_us = 100;
        })
        .sample_interval_ms(10)
        .build()
        .unwrap()
}

/// Source read rate (records/s) over the middle half of the time the source was reading.
fn steady_read_rate(s: &Scenario) -> f64 {
    let r = common::run(s);
    let total = r.summary.records.source_read;
    let rows = &r.timeseries;
    let at = |frac: f64| rows.iter().find(|row| row.source_read as f64 >= frac * total as f64).unwrap();
    let (a, b) = (at(0.25), at(0.75));
    (b.source_read - a.source_read) as f64 / ((b.t_ms - a.t_ms) / 1000.0)
}

#[test]
fn a_slow_operator_caps_the_source_read_rate_at_its_capacity() {
    // agg costs 50 µs per record: capacity 20,000 records/s, a fifth of the arrival rate.
    // In steady state the bottleneck never idles (its input queue is never empty), so the source
    // reads exactly what it consumes; the in-flight data between them is bounded by the credits
    // and backlogs (≤ (10 + 10 + 1) buffers × 32 records = 672 records), which over the 1 s
    // measuring window (≈ 20,000 records) allows at most ≈ 3.4 % of difference. Tolerance: 4 %.
    let rate = steady_read_rate(&chain(50));
    assert!((rate - 20_000.0).abs() / 20_000.0 < 0.04, "steady source read rate {rate:.0}/s, expected ≈ 20,000/s");
    // Without the bottleneck the source keeps up with its log (100,000/s).
    let free = steady_read_rate(&chain(2));
    assert!((free - 100_000.0).abs() / 100_000.0 < 0.02, "unthrottled read rate {free:.0}/s, expected ≈ 100,000/s");
}

#[test]
fn backpressure_reaches_the_source_and_its_log_falls_behind() {
    let r = common::run(&chain(50));
    let bp = &r.summary.backpressure;
    assert!(bp["src[0]"] > 0.7, "source blocked only {:.2} of the time", bp["src[0]"]);
    assert!(bp["map[0]"] > 0.7, "map blocked only {:.2} of the time", bp["map[0]"]);
    assert_eq!(bp["agg[0]"], 0.0, "the bottleneck itself is never blocked on output");
    // Lag grows: the log receives 100k/s, the source reads 20k/s.
    let lags: Vec<f64> = r.timeseries.iter().map(|row| row.source_lag_ms).collect();
    let max_lag = lags.iter().cloned().fold(0.0, f64::max);
    assert!(max_lag > 250.0, "max source lag {max_lag:.1} ms, expected the log to run far ahead");
}

#[test]
fn receiver_queues_never_exceed_the_credit_bound() {
    let mut scenarios: Vec<Scenario> = common::bundled().iter().map(|n| common::load(n)).collect();
    scenarios.push(chain(50));
    for s in scenarios {
        let r = common::run(&s);
        let bound = r.summary.credit_bound;
        assert_eq!(bound, s.network.buffers_per_channel + s.network.floating_buffers_per_gate);
        for (ch, &q) in &r.summary.max_queued_buffers {
            assert!(q <= bound, "{}: channel {ch} queued {q} buffers, credit bound {bound}", s.name);
        }
    }
    // Under sustained backpressure the bound is actually reached (the floating buffers are used).
    let r = common::run(&chain(50));
    assert_eq!(r.summary.max_queued_buffers["map[0]->agg[0]"], r.summary.credit_bound);
}
