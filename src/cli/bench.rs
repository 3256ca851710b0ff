//! `ckptsim bench`: wall-clock speed of the simulator in release mode. Reads the wall clock —
//! which is why it lives in the CLI, never in the simulation.

use super::{CliError, load, parse_protocol};
use crate::engine::{self, RunOptions};
use crate::scenario::{ProtocolName, Scenario};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

/// The arguments of `bench`.
#[derive(Args, Debug)]
pub(super) struct BenchArgs {
    /// Scenario file (JSON).
    #[arg(default_value = "scenarios/backpressure.json")]
    scenario: PathBuf,
    /// Timed runs; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeat: u32,
    /// Multiply every source's `records_per_partition` and `until_ms` by this factor.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    scale: u64,
    /// Override `checkpointing.mode` (e.g. `none` to measure the cost of checkpointing).
    #[arg(long, value_parser = parse_protocol)]
    protocol: Option<ProtocolName>,
}

pub(super) fn exec(a: BenchArgs) -> Result<(), CliError> {
    let s = load(&a.scenario, None, a.protocol, &[])?;
    bench(&s, a.repeat, a.scale)
}

/// Runs `s` (scaled) `repeat` times and prints median events/s and record-hops/s, and peak memory.
fn bench(s: &Scenario, repeat: u32, scale: u64) -> Result<(), CliError> {
    let mut s = s.clone();
    for op in &mut s.topology.operators {
        op.records_per_partition = op.records_per_partition.map(|n| n * scale);
        op.until_ms = op.until_ms.map(|t| t * scale);
    }
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeat {
        #[allow(clippy::disallowed_methods)] // bench measures wall-clock speed; it is not simulation code
        let start = Instant::now();
        let r = engine::run(&s, RunOptions::default())?;
        times.push(start.elapsed().as_secs_f64());
        last = Some(r.summary);
    }
    let m = last.expect("repeat ≥ 1");
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    say!(
        "bench {} with protocol {} (scale ×{scale}, {repeat} runs, release build: {})",
        s.name,
        m.protocol,
        !cfg!(debug_assertions)
    );
    say!("  per run: {} events, {} record-hops, {} simulated ms", m.events, m.records.hops, m.sim_time_ns / 1_000_000);
    say!("  wall time: median {:.3} s (min {:.3}, max {:.3})", median, times[0], times[times.len() - 1]);
    say!(
        "  median speed: {:.2} M events/s, {:.2} M record-hops/s",
        m.events as f64 / median / 1e6,
        m.records.hops as f64 / median / 1e6
    );
    match peak_rss_kib() {
        Some(kib) => say!("  peak memory (VmHWM): {:.1} MiB", kib as f64 / 1024.0),
        None => say!("  peak memory: not available on this platform"),
    }
    Ok(())
}

/// Peak resident set size of this process, from `/proc/self/status` (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
