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
    /// Run the scenario once per parallelism in this list (e.g. `8,64,512`): every operator at
    /// that parallelism, the sources' rates divided so the total rate stays the file's; prints
    /// ns per record-hop and peak memory per parallelism, beside a bare event-queue loop.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..=1024))]
    parallelism: Vec<u32>,
}

pub(super) fn exec(a: BenchArgs) -> Result<(), CliError> {
    let s = load(&a.scenario, None, a.protocol, &[])?;
    if !a.parallelism.is_empty() {
        return by_parallelism(&s, &a.parallelism, a.repeat);
    }
    bench(&s, a.repeat, a.scale)
}

/// `s` with every operator at parallelism `p` and each source's rate scaled so that the total
/// rate is the file's.
fn at_parallelism(s: &Scenario, p: u32) -> Result<Scenario, CliError> {
    let mut v = serde_json::to_value(s).expect("a scenario serializes");
    for op in v["topology"]["operators"].as_array_mut().expect("operators") {
        let was = op["parallelism"].as_u64().unwrap_or(1);
        op["parallelism"] = p.into();
        if let Some(arrival) = op.get_mut("arrival").and_then(|a| a.as_object_mut()) {
            for key in ["rate_per_sec", "burst_rate_per_sec"] {
                if let Some(rate) = arrival.get(key).and_then(|r| r.as_u64()) {
                    arrival.insert(key.into(), (rate * was).div_ceil(p as u64).into());
                }
            }
        }
    }
    Scenario::from_json(&v.to_string()).map_err(|e| CliError::input(format!("--parallelism {p}: {e}")))
}

/// Nanoseconds per event of a bare loop over the simulator's event queue: pop the earliest
/// event, push one a pseudo-random delay later, with `pending` events in the queue.
fn bare_queue_ns_per_event(pending: usize, events: u64) -> f64 {
    let mut q = crate::sim::EventQueue::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..pending as u64 {
        q.push(i, i);
    }
    #[allow(clippy::disallowed_methods)] // bench measures wall-clock speed
    let start = Instant::now();
    let mut sum = 0u64;
    for _ in 0..events {
        let (t, e) = q.pop().expect("never empty");
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        sum = sum.wrapping_add(e);
        q.push(t + (x >> 44), e);
    }
    std::hint::black_box(sum);
    start.elapsed().as_secs_f64() * 1e9 / events as f64
}

/// Resets the peak resident set size (Linux: `/proc/self/clear_refs`), so that each run reports
/// its own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn by_parallelism(s: &Scenario, ps: &[u32], repeat: u32) -> Result<(), CliError> {
    say!(
        "bench {} by parallelism ({} runs each, median wall time; release build: {})",
        s.name,
        repeat,
        !cfg!(debug_assertions)
    );
    say!(
        "{:>6} {:>9} {:>11} {:>12} {:>10} {:>10} {:>9} {:>10}",
        "p",
        "channels",
        "hops",
        "events",
        "wall s",
        "ns/hop",
        "× bare",
        "peak MiB"
    );
    for &p in ps {
        let one = at_parallelism(s, p)?;
        let channels = crate::graph::Graph::build(&one).channels.len();
        let mut times = Vec::new();
        let mut last = None;
        reset_peak_rss();
        for _ in 0..repeat {
            #[allow(clippy::disallowed_methods)] // bench measures wall-clock speed
            let start = Instant::now();
            let r = engine::run(&one, streaming())?;
            times.push(start.elapsed().as_secs_f64());
            last = Some(r.summary);
        }
        let peak = peak_rss_kib();
        let m = last.expect("repeat ≥ 1");
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let per_event = median * 1e9 / m.events.max(1) as f64;
        let bare = bare_queue_ns_per_event(64, m.events.clamp(1, 5_000_000));
        say!(
            "{:>6} {:>9} {:>11} {:>12} {:>10.2} {:>10.0} {:>9.1} {:>10}",
            p,
            channels,
            m.records.hops,
            m.events,
            median,
            median * 1e9 / m.records.hops.max(1) as f64,
            per_event / bare,
            peak.map_or("n/a".to_string(), |k| format!("{:.0}", k as f64 / 1024.0))
        );
    }
    say!("ns/hop: wall time per record-hop; × bare: engine time per event over a bare loop of the same event queue");
    Ok(())
}

/// Run options as `ckptsim run` streams the per-task checkpoint rows (here to nowhere), so that
/// the memory figures are those of a run that writes its files.
fn streaming() -> RunOptions {
    RunOptions {
        checkpoints: Some(Box::new(std::io::sink())),
        checkpoint_tasks: Some(Box::new(std::io::sink())),
        ..Default::default()
    }
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
        let r = engine::run(&s, streaming())?;
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
