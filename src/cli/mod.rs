//! The command-line interface (clap). Parses flags, calls the library, prints. The only place
//! that prints or reads the wall clock (for `bench`).

/// Prints a line to stdout; a closed stdout (`ckptsim … | head`) ends the command quietly
/// instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            return Err($crate::cli::CliError::closed());
        }
    }};
}

/// Like [`say!`] without the newline.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if write!(std::io::stdout(), $($arg)*).is_err() {
            return Err($crate::cli::CliError::closed());
        }
    }};
}

mod bench;

use crate::engine::{self, RunOptions};
use crate::report;
use crate::scenario::{ProtocolName, Scenario};
use crate::sim::fmt_ms;
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// ckptsim — a deterministic simulator of Flink-like checkpointing.
#[derive(Parser, Debug)]
#[command(name = "ckptsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// A scenario file and what the command line changes in it.
#[derive(Args, Debug)]
struct ScenarioArgs {
    /// Scenario file (JSON).
    scenario: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override `checkpointing.mode`: none, aligned, unaligned, chandy_lamport, aligned_timeout, at_least_once.
    #[arg(long, value_parser = parse_protocol)]
    protocol: Option<ProtocolName>,
    /// Add a crash of TASK at MS milliseconds, e.g. `agg[2]@500` (repeatable).
    #[arg(long = "fail-at", value_name = "TASK@MS", value_parser = parse_fail_at)]
    fail_at: Vec<(String, u64)>,
}

impl ScenarioArgs {
    fn load(&self) -> Result<Scenario, CliError> {
        load(&self.scenario, self.seed, self.protocol, &self.fail_at)
    }
}

/// A checkpoint and the time window around it.
#[derive(Args, Debug)]
struct CheckpointWindow {
    /// The checkpoint.
    #[arg(long, default_value_t = 1)]
    checkpoint: u64,
    /// Start of the time window (ms) [default: the checkpoint with a margin].
    #[arg(long)]
    from: Option<u64>,
    /// End of the time window (ms).
    #[arg(long)]
    to: Option<u64>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario and write summary.json and timeseries.csv.
    Run {
        #[command(flatten)]
        input: ScenarioArgs,
        /// Output directory [default: output/<scenario>/<protocol>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write every trace event to this file as JSON Lines.
        #[arg(long)]
        trace: Option<PathBuf>,
    },
    /// Run every protocol on the same scenario and seed; print a side-by-side table and write
    /// each protocol's outputs plus compare.json.
    Compare {
        /// Scenario file (JSON).
        scenario: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory [default: output/<scenario>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Add a crash of TASK at MS milliseconds, e.g. `agg[2]@500` (repeatable).
        #[arg(long = "fail-at", value_name = "TASK@MS", value_parser = parse_fail_at)]
        fail_at: Vec<(String, u64)>,
    },
    /// Check many seeds of random scenarios against the named invariants, in parallel.
    Explore {
        /// Seeds to explore, `A..B` (B excluded).
        #[arg(long, default_value = "0..1000", value_parser = parse_seeds)]
        seeds: std::ops::Range<u64>,
        /// Worker threads [default: all cores].
        #[arg(long)]
        jobs: Option<usize>,
        /// One protocol for every seed [default: aligned, unaligned, chandy_lamport and aligned_timeout by turns].
        #[arg(long, value_parser = parse_protocol)]
        protocol: Option<ProtocolName>,
        /// Explore a deliberately broken protocol (see the README's mutation check).
        #[arg(long, value_parser = parse_mutant)]
        mutant: Option<crate::verify::mutants::Mutant>,
        /// Invariants to check, comma-separated [default: all].
        #[arg(long, value_delimiter = ',', value_parser = parse_invariant)]
        invariants: Vec<crate::verify::invariants::Invariant>,
        /// Go on after a violation.
        #[arg(long)]
        keep_going: bool,
        /// Where failing scenarios are written.
        #[arg(long, default_value = "scenarios/regressions")]
        out: PathBuf,
        /// Skip (and do not count) seeds whose scenario has fewer operators (2 to 8).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(2..=8))]
        min_operators: u64,
    },
    /// Run a COS 418 Chandy-Lamport test case (token-passing world) and print its snapshots.
    Cos418 {
        /// Topology file (`.top`).
        topology: PathBuf,
        /// Events file (`.events`).
        events: PathBuf,
        /// Expected snapshot files (`.snap`) to compare with; exits 1 on a difference.
        #[arg(long)]
        expect: Vec<PathBuf>,
        /// Draw delays from our own seeded stream instead of Go's generator with the course seed
        /// (then only conservation and the consistent cut are checked).
        #[arg(long)]
        seed: Option<u64>,
        /// Go's `rngCooked` table [default: go_math_rand_rng_cooked.txt beside the topology].
        #[arg(long)]
        rng_table: Option<PathBuf>,
        /// Write the space-time diagram of `--snapshot` to this SVG file.
        #[arg(long)]
        diagram: Option<PathBuf>,
        /// Print a narrated log of `--snapshot` (instead of the snapshots).
        #[arg(long)]
        explain: bool,
        /// The snapshot to draw or narrate.
        #[arg(long, default_value_t = 0)]
        snapshot: usize,
    },
    /// Vary one scenario field over values, run each value with each protocol, and chart the
    /// figures against the value (sweep.csv, sweep_*.svg, report.html).
    Sweep {
        /// Scenario file (JSON).
        scenario: PathBuf,
        /// The field's JSON path, e.g. `network.buffer_records` or `checkpointing.interval_ms`.
        #[arg(long)]
        param: String,
        /// Values, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        values: Vec<String>,
        /// Protocols, comma-separated [default: aligned,unaligned,chandy_lamport,aligned_timeout].
        #[arg(long, value_delimiter = ',', value_parser = parse_protocol)]
        protocols: Vec<ProtocolName>,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Worker threads [default: all cores].
        #[arg(long)]
        jobs: Option<usize>,
        /// Output directory [default: output/<scenario>/sweep-<param>].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A space-time diagram (SVG) of one checkpoint: lanes per task, messages, barriers,
    /// snapshots and the cut.
    Diagram {
        #[command(flatten)]
        input: ScenarioArgs,
        #[command(flatten)]
        window: CheckpointWindow,
        /// At most this many ordinary data messages are drawn; the rest are sampled.
        #[arg(long, default_value_t = 300)]
        max_messages: usize,
        /// Output file [default: output/<scenario>/<protocol>/diagram-<checkpoint>.svg].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a run's trace: every event as JSON Lines, or one checkpoint as a ShiViz log.
    Trace {
        #[command(flatten)]
        input: ScenarioArgs,
        /// `jsonl` (every event of the run) or `shiviz` (one checkpoint, with vector clocks).
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "shiviz"])]
        format: String,
        /// `shiviz`: the checkpoint and window to export.
        #[command(flatten)]
        window: CheckpointWindow,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// A narrated step log of one checkpoint: every barrier, block, snapshot, ack and commit, with
    /// the protocol rule behind it.
    Explain {
        #[command(flatten)]
        input: ScenarioArgs,
        /// The checkpoint to narrate.
        #[arg(long, default_value_t = 1)]
        checkpoint: u64,
        /// Output format.
        #[arg(long, default_value = "text", value_parser = ["text", "jsonl"])]
        format: String,
    },
    /// Check a scenario file and report the first problem.
    Validate {
        /// Scenario file (JSON).
        scenario: PathBuf,
    },
    /// Measure simulator speed (events/s, record-hops/s) and peak memory.
    Bench {
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
    },
}

/// An error for the user: printed by `main`, exit code 2 for bad input, 1 otherwise.
#[derive(Debug)]
pub struct CliError {
    /// Exit code.
    pub code: u8,
    /// Message.
    pub message: String,
}

impl CliError {
    fn input(e: impl std::fmt::Display) -> Self {
        CliError { code: 2, message: e.to_string() }
    }
    fn io(what: &str, e: impl std::fmt::Display) -> Self {
        CliError { code: 1, message: format!("{what}: {e}") }
    }
    /// Standard output was closed by the reader: stop without a message.
    fn closed() -> Self {
        CliError { code: 0, message: String::new() }
    }
}

impl From<engine::RunError> for CliError {
    /// An invalid scenario is bad input (exit 2); a trace that cannot be written is exit 1.
    fn from(e: engine::RunError) -> Self {
        match e {
            engine::RunError::Scenario(e) => CliError::input(e),
            engine::RunError::Trace(e) => CliError::io("writing the trace", e),
        }
    }
}

/// Parses the arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("error: {}", e.message);
            }
            ExitCode::from(e.code)
        }
    }
}

fn load(
    path: &Path,
    seed: Option<u64>,
    protocol: Option<ProtocolName>,
    fail_at: &[(String, u64)],
) -> Result<Scenario, CliError> {
    let mut s = Scenario::load(path).map_err(CliError::input)?;
    if let Some(seed) = seed {
        s.seed = seed;
    }
    if let Some(p) = protocol {
        s.set_protocol(p).map_err(|e| CliError::input(format!("--protocol {}: {e}", p.name())))?;
    }
    for (task, ms) in fail_at {
        s.add_failure_at(task, *ms).map_err(|e| CliError::input(format!("--fail-at {task}@{ms}: {e}")))?;
    }
    Ok(s)
}

fn parse_fail_at(v: &str) -> Result<(String, u64), String> {
    let err = || format!("expected TASK@MS, e.g. agg[2]@500 (a task name, `@`, milliseconds), found {v:?}");
    let (task, ms) = v.rsplit_once('@').ok_or_else(err)?;
    let ms = ms.parse::<u64>().map_err(|_| err())?;
    if task.is_empty() {
        return Err(err());
    }
    Ok((task.to_string(), ms))
}

/// The command that reproduces a run: the same file, seed, protocol and added failures.
fn replay_command(path: &Path, s: &Scenario, fail_at: &[(String, u64)]) -> String {
    let mut cmd = format!("ckptsim run {} --seed {} --protocol {}", path.display(), s.seed, s.protocol().name());
    for (task, ms) in fail_at {
        cmd.push_str(&format!(" --fail-at '{task}@{ms}'"));
    }
    cmd
}

/// What `cos418` shows besides the snapshots.
struct Cos418Teach {
    diagram: Option<PathBuf>,
    explain: bool,
    snapshot: usize,
}

fn cos418(
    top: &Path,
    events: &Path,
    expect: &[PathBuf],
    seed: Option<u64>,
    table: Option<PathBuf>,
    teach: Cos418Teach,
) -> Result<(), CliError> {
    use crate::cos418::{self, Delays, Snap, gorand::CookedTable};
    let (t, e) = cos418::load(top, events).map_err(CliError::input)?;
    let delays = match seed {
        Some(s) => Delays::seeded(s),
        None => {
            let path = table.unwrap_or_else(|| top.with_file_name("go_math_rand_rng_cooked.txt"));
            let table = CookedTable::load(&path).map_err(|e| {
                CliError::input(format!(
                    "{e}\n(pass --rng-table FILE with Go's 607 rngCooked values, or --seed N for our own delays)"
                ))
            })?;
            Delays::course(&table)
        }
    };
    let out = cos418::run(&t, &e, delays);
    if teach.snapshot >= out.snapshots.len() && (teach.explain || teach.diagram.is_some()) {
        return Err(CliError::input(format!(
            "--snapshot {}: the events take {} snapshots",
            teach.snapshot,
            out.snapshots.len()
        )));
    }
    if let Some(path) = &teach.diagram {
        let d = cos418::teach::diagram(&t, &out, teach.snapshot).expect("the snapshot exists");
        std::fs::write(path, d.to_svg(300)).map_err(|e| CliError::io(&format!("writing {}", path.display()), e))?;
        eprintln!("wrote {}", path.display());
    }
    if teach.explain {
        for s in cos418::teach::explain(&t, &out, teach.snapshot) {
            say!("tick {:>3}  {}\n          ↳ {}", s.t_ms, s.text, s.rule);
        }
    } else {
        for s in &out.snapshots {
            say_raw!("{}", s.to_text());
        }
    }
    let mut problems = out.violations.clone();
    for path in expect {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::input(format!("cannot read {}: {e}", path.display())))?;
        let want = Snap::parse(&text, &path.display().to_string()).map_err(CliError::input)?;
        match out.snapshots.get(want.id) {
            None => problems.push(format!("{}: snapshot {} was never taken", path.display(), want.id)),
            Some(got) => problems.extend(got.diff(&want).into_iter().map(|d| format!("{}: {d}", path.display()))),
        }
    }
    if problems.is_empty() {
        eprintln!(
            "ok: {} snapshots, {} ticks; tokens conserved, consistent cuts{}",
            out.snapshots.len(),
            out.ticks,
            if expect.is_empty() { "" } else { ", as expected" }
        );
        Ok(())
    } else {
        Err(CliError { code: 1, message: format!("{} problems:\n  {}", problems.len(), problems.join("\n  ")) })
    }
}

/// Runs `s` twice — to find checkpoint `cp`, then capturing its messages — and builds its diagram.
fn checkpoint_diagram(
    s: &Scenario,
    w: &CheckpointWindow,
) -> Result<(crate::engine::RunResult, crate::teach::diagram::Diagram), CliError> {
    let (cp, from, to) = (w.checkpoint, w.from, w.to);
    use crate::sim::MS;
    use crate::teach::diagram;
    let first = engine::run(s, RunOptions { keep_protocol_trace: true, ..Default::default() })?;
    let Some((start, end)) = diagram::checkpoint_span(&first, cp) else {
        return Err(CliError::input(format!(
            "checkpoint {cp} was never triggered (protocol {})",
            first.summary.protocol
        )));
    };
    let window = match (from, to) {
        (None, None) => None,
        (f, t) => Some((f.map_or(start, |f| f * MS), t.map_or(end, |t| t * MS))),
    };
    if let Some((a, b)) = window
        && a >= b
    {
        return Err(CliError::input(format!("--from {} ms must be before --to {} ms", a / MS, b / MS)));
    }
    let until = window.map_or(end, |w| w.1.max(end));
    let opts = RunOptions { keep_protocol_trace: true, capture_messages: Some((0, until)), ..Default::default() };
    let r = engine::run(s, opts)?;
    let d = diagram::build(s, &r, cp, window).expect("the same run triggered it");
    Ok((r, d))
}

fn param_short(p: &str) -> &str {
    p.rsplit('.').next().unwrap_or(p)
}

fn parse_seeds(s: &str) -> Result<std::ops::Range<u64>, String> {
    let err = || format!("expected a seed range A..B with A < B, e.g. 0..1000, found {s:?}");
    let (a, b) = s.split_once("..").ok_or_else(err)?;
    let (a, b) = (a.parse::<u64>().map_err(|_| err())?, b.parse::<u64>().map_err(|_| err())?);
    if a >= b {
        return Err(err());
    }
    Ok(a..b)
}

fn parse_mutant(s: &str) -> Result<crate::verify::mutants::Mutant, String> {
    use crate::verify::mutants::Mutant;
    Mutant::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
        format!("unknown mutant {s:?}; allowed: {}", all.join(", "))
    })
}

fn parse_invariant(s: &str) -> Result<crate::verify::invariants::Invariant, String> {
    use crate::verify::invariants::Invariant;
    Invariant::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Invariant::ALL.iter().map(|i| i.name()).collect();
        format!("unknown invariant {s:?}; allowed: {}", all.join(", "))
    })
}

/// The options of `ckptsim explore` besides the seeds and the output directory.
struct ExploreOpts {
    jobs: Option<usize>,
    protocol: Option<ProtocolName>,
    mutant: Option<crate::verify::mutants::Mutant>,
    invariants: Vec<crate::verify::invariants::Invariant>,
    keep_going: bool,
    min_operators: usize,
}

#[allow(clippy::disallowed_methods)] // progress and seeds/s read the wall clock; the simulation does not
fn explore(seeds: std::ops::Range<u64>, o: ExploreOpts, out: &Path) -> Result<(), CliError> {
    let ExploreOpts { jobs, protocol, mutant, invariants, keep_going, min_operators } = o;
    use crate::explore::{ExploreConfig, explore, write_finding};
    use std::io::IsTerminal;
    use std::time::Instant;
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let invariants =
        if invariants.is_empty() { crate::verify::invariants::Invariant::ALL.to_vec() } else { invariants };
    let total = seeds.end - seeds.start;
    let cfg = ExploreConfig { seeds: seeds.clone(), jobs, protocol, mutant, invariants, keep_going, min_operators };
    let what = match (mutant, protocol) {
        (Some(m), _) => format!("mutant {}", m.name()),
        (None, Some(p)) => format!("protocol {}", p.name()),
        (None, None) => "aligned, unaligned, chandy_lamport, aligned_timeout by turns".into(),
    };
    say!("ckptsim explore seeds {}..{} ({what}), {jobs} jobs", seeds.start, seeds.end);
    let start = Instant::now();
    let last = std::sync::Mutex::new(start);
    let tty = std::io::stderr().is_terminal();
    let progress = |done: u64, violations: usize| {
        let mut last = last.lock().expect("progress lock");
        if tty && (last.elapsed().as_millis() >= 200 || done == total) {
            *last = Instant::now();
            let rate = done as f64 / start.elapsed().as_secs_f64().max(1e-9);
            let width = 30;
            let filled = (done * width / total.max(1)) as usize;
            eprint!(
                "\r[{}{}] {done}/{total} seeds, {rate:.0} seeds/s, {violations} violations ",
                "#".repeat(filled),
                "-".repeat(width as usize - filled)
            );
        }
    };
    let result = explore(&cfg, &progress);
    if tty {
        eprintln!();
    }
    let secs = start.elapsed().as_secs_f64();
    say!(
        "explored {} seeds in {:.1} s ({:.0} seeds/s, {:.1} operators per scenario on average): {} with violations",
        result.checked,
        secs,
        result.checked as f64 / secs.max(1e-9),
        result.operators as f64 / result.checked.max(1) as f64,
        result.findings.len()
    );
    for f in &result.findings {
        let path = write_finding(out, f).map_err(|e| CliError::io(&format!("writing to {}", out.display()), e))?;
        for v in &f.violations {
            say!("seed {}: {v}", f.seed);
        }
        match mutant {
            None => say!("  wrote {}\n  replay: ckptsim run {}", path.display(), path.display()),
            Some(m) => say!(
                "  wrote {}\n  replay: ckptsim explore --mutant {} --seeds {}..{}",
                path.display(),
                m.name(),
                f.seed,
                f.seed + 1
            ),
        }
    }
    if result.findings.is_empty() {
        Ok(())
    } else {
        Err(CliError { code: 1, message: format!("{} seeds violated an invariant", result.findings.len()) })
    }
}

fn parse_protocol(s: &str) -> Result<ProtocolName, String> {
    ProtocolName::parse(s).ok_or_else(|| ProtocolName::unknown(s))
}

/// The short human summary of a run.
fn print_summary(m: &crate::metrics::Summary) -> Result<(), CliError> {
    say!(
        "  protocol {}: simulated {} ms, {} events, trace hash {}",
        m.protocol,
        fmt_ms(m.sim_time_ns),
        m.events,
        m.trace_hash
    );
    say!(
        "  records: {} read, {} at sinks; throughput {:.0} records/s",
        m.records.source_read,
        m.records.sink_received,
        m.throughput_rps
    );
    say!(
        "  latency (log arrival → sink): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        m.latency_ms.p50,
        m.latency_ms.p99,
        m.latency_ms.max
    );
    match m.backpressure.iter().filter(|(_, f)| **f > 0.0).max_by(|a, b| a.1.total_cmp(b.1)) {
        Some((task, f)) => {
            say!("  most backpressured task: {task} ({:.1}% of the time blocked on output)", f * 100.0)
        }
        None => say!("  no backpressure: no task was ever blocked on output"),
    }
    let max_q = m.max_queued_buffers.values().max().copied().unwrap_or(0);
    say!("  deepest input queue: {max_q} buffers (credit bound {})", m.credit_bound);
    let c = &m.checkpoints;
    if c.triggered > 0 {
        say!(
            "  checkpoints: {} triggered, {} completed, {} aborted; duration p50 {:.3} ms, p99 {:.3} ms; alignment p50 {:.3} ms",
            c.triggered,
            c.completed,
            c.aborted,
            c.duration_ms.p50,
            c.duration_ms.p99,
            c.alignment_ms.p50
        );
        say!(
            "  snapshot size p50: {} state bytes + {} channel-state bytes; inputs blocked {:.1} ms in total",
            c.state_bytes.p50,
            c.channel_state_bytes.p50,
            m.input_blocked_ms
        );
        if m.failures > 0 {
            let r = &m.recovery;
            say!(
                "  failures: {} crashes, {} restarts; down {:.1} ms, {} records reprocessed, caught up in {:.1} ms",
                m.failures,
                m.recoveries,
                r.downtime_ms,
                r.reprocessed_records,
                r.catch_up_ms
            );
        }
        say!(
            "  visible output: {} records; latency log arrival → visible p50 {:.3} ms, p99 {:.3} ms",
            m.records.committed,
            m.latency_ms.committed_p50,
            m.latency_ms.committed_p99
        );
        let cut = &m.consistent_cut;
        match &cut.first_violation {
            None => say!("  consistent cut: {} checkpoints checked, 0 violations", cut.checked),
            Some(v) => say!(
                "  CONSISTENT CUT VIOLATED: {} violations in {} checkpoints; first: {v}",
                cut.violations,
                cut.checked
            ),
        }
        if let Some(why) = &c.job_failed {
            say!("  JOB FAILED: {why}");
        }
    }
    let eo = &m.exactly_once;
    if let Some(why) = &eo.not_checked {
        say!("  exactly once: not checked — {why}");
    }
    if eo.checked {
        match &eo.first_violation {
            None => {
                say!("  exactly once: every expected record visible exactly once; final state equals the reference")
            }
            Some(v) => say!(
                "  EXACTLY-ONCE VIOLATED: {} missing, {} duplicated, {} state mismatches; first: {v}",
                eo.missing,
                eo.duplicated,
                eo.state_mismatches
            ),
        }
    }
    if let Some(why) = &m.job_failed {
        say!("  JOB FAILED: {why}");
    }
    if !m.drained {
        say!("  WARNING: the run did not drain — some task never finished");
    }
    Ok(())
}

fn execute(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Run { input, out, trace } => {
            let s = input.load()?;
            let (scenario, fail_at) = (&input.scenario, &input.fail_at);
            say!("ckptsim run {}  seed={}  fingerprint={}", scenario.display(), s.seed, s.fingerprint());
            let trace_out: Option<Box<dyn std::io::Write>> = match &trace {
                Some(p) => {
                    let f = std::fs::File::create(p)
                        .map_err(|e| CliError::io(&format!("cannot create {}", p.display()), e))?;
                    Some(Box::new(std::io::BufWriter::new(f)))
                }
                None => None,
            };
            let mut result =
                engine::run(&s, RunOptions { collect_output: true, trace: trace_out, ..Default::default() })?;
            crate::verify::oracle::attach(&s, &mut result)?;
            let dir = out.unwrap_or_else(|| PathBuf::from("output").join(&s.name).join(&result.summary.protocol));
            report::write_run(&dir, &result).map_err(|e| CliError::io(&format!("writing {}", dir.display()), e))?;
            print_summary(&result.summary)?;
            if result.summary.exactly_once.violations > 0 || result.summary.consistent_cut.violations > 0 {
                say!("  replay: {}", replay_command(scenario, &s, fail_at));
            }
            if let Some(t) = &trace {
                say!("  trace: {}", t.display());
            }
            say!(
                "  wrote {}/summary.json, timeseries.csv, checkpoints.csv, checkpoint_tasks.csv and charts (*.svg)",
                dir.display()
            );
            Ok(())
        }
        Command::Compare { scenario, seed, out, fail_at } => {
            let s = load(&scenario, seed, None, &fail_at)?;
            let dir = out.unwrap_or_else(|| PathBuf::from("output").join(&s.name));
            say!("ckptsim compare {}  seed={}  fingerprint={}", scenario.display(), s.seed, s.fingerprint());
            let report = crate::compare::compare(&s)?;
            crate::compare::write(&dir, &s, &report)
                .map_err(|e| CliError::io(&format!("writing {}", dir.display()), e))?;
            say_raw!("{}", crate::compare::table(&report));
            for note in &report.notes {
                say!("note: {note}");
            }
            for (row, r) in report.rows.iter().zip(&report.results) {
                let first = r.summary.exactly_once.first_violation.as_ref().or(r
                    .summary
                    .consistent_cut
                    .first_violation
                    .as_ref());
                if let Some(first) = first {
                    let mut one = s.clone();
                    one.set_protocol(ProtocolName::parse(&row.protocol).expect("a row names a protocol"))
                        .expect("ran before");
                    say!("{}: {first}\n  replay: {}", row.protocol, replay_command(&scenario, &one, &fail_at));
                }
            }
            say!(
                "wrote {}/<protocol>/…, {}/compare.json, compare_*.svg and {}/report.html",
                dir.display(),
                dir.display(),
                dir.display()
            );
            Ok(())
        }
        Command::Explore { seeds, jobs, protocol, mutant, invariants, keep_going, out, min_operators } => {
            let opts =
                ExploreOpts { jobs, protocol, mutant, invariants, keep_going, min_operators: min_operators as usize };
            explore(seeds, opts, &out)
        }
        Command::Cos418 { topology, events, expect, seed, rng_table, diagram, explain, snapshot } => {
            cos418(&topology, &events, &expect, seed, rng_table, Cos418Teach { diagram, explain, snapshot })
        }
        Command::Sweep { scenario, param, values, protocols, seed, jobs, out } => {
            let s = load(&scenario, seed, None, &[])?;
            let protocols = if protocols.is_empty() { crate::explore::correct_protocols() } else { protocols };
            let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
            let dir = out.unwrap_or_else(|| PathBuf::from("output").join(&s.name).join(format!("sweep-{param}")));
            say!(
                "ckptsim sweep {} --param {param} over {} values × {} protocols",
                scenario.display(),
                values.len(),
                protocols.len()
            );
            let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let progress = |done: usize, total: usize| {
                if tty {
                    eprint!(
                        "\r[{}{}] {done}/{total} runs ",
                        "#".repeat(done * 30 / total),
                        "-".repeat(30 - done * 30 / total)
                    );
                }
            };
            let r = crate::sweep::sweep(&s, &param, &values, &protocols, jobs, &progress)?;
            if tty {
                eprintln!();
            }
            crate::sweep::write(&dir, &s, &r).map_err(|e| CliError::io(&format!("writing {}", dir.display()), e))?;
            say!(
                "{:>10} {:<16} {:>11} {:>11} {:>13} {:>11}",
                param_short(&param),
                "protocol",
                "dur p50 ms",
                "dur p99 ms",
                "channel KiB",
                "vis p99 ms"
            );
            for x in &r.rows {
                say!(
                    "{:>10} {:<16} {:>11.2} {:>11.2} {:>13.1} {:>11.2}",
                    x.value,
                    x.protocol,
                    x.duration_p50_ms,
                    x.duration_p99_ms,
                    x.channel_state_bytes_p50 / 1024.0,
                    x.committed_latency_p99_ms
                );
            }
            say!("wrote {}/sweep.csv, sweep_*.svg and report.html", dir.display());
            Ok(())
        }
        Command::Diagram { input, window, max_messages, out } => {
            use crate::teach::diagram;
            let s = input.load()?;
            let checkpoint = window.checkpoint;
            let (r, d) = checkpoint_diagram(&s, &window)?;
            let path = out.unwrap_or_else(|| {
                PathBuf::from("output")
                    .join(&s.name)
                    .join(&r.summary.protocol)
                    .join(format!("diagram-{checkpoint}.svg"))
            });
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| CliError::io(&format!("creating {}", dir.display()), e))?;
            }
            std::fs::write(&path, d.to_svg(max_messages))
                .map_err(|e| CliError::io(&format!("writing {}", path.display()), e))?;
            let crossing = d.messages.iter().filter(|m| m.crossing == diagram::Crossing::ChannelState).count();
            let orphans = d.messages.iter().filter(|m| m.crossing == diagram::Crossing::Orphan).count();
            say!(
                "wrote {}: checkpoint {checkpoint} ({}), {} snapshots, {} barriers, {crossing} messages crossing the cut, {orphans} orphans",
                path.display(),
                r.summary.protocol,
                d.snapshots.len(),
                d.barriers.len()
            );
            Ok(())
        }
        Command::Trace { input, format, window, out } => {
            let s = input.load()?;
            let checkpoint = window.checkpoint;
            if format == "jsonl" {
                let f = std::fs::File::create(&out)
                    .map_err(|e| CliError::io(&format!("cannot create {}", out.display()), e))?;
                let r = engine::run(
                    &s,
                    RunOptions { trace: Some(Box::new(std::io::BufWriter::new(f))), ..Default::default() },
                )?;
                say!("wrote {}: {} events, trace hash {}", out.display(), r.summary.trace_events, r.summary.trace_hash);
                return Ok(());
            }
            let (_, d) = checkpoint_diagram(&s, &window)?;
            let events = crate::teach::shiviz::events(&d);
            std::fs::write(&out, crate::teach::shiviz::log(&d, &events))
                .map_err(|e| CliError::io(&format!("writing {}", out.display()), e))?;
            say!(
                "wrote {}: {} events of checkpoint {checkpoint} for ShiViz; paste it with this regular expression:",
                out.display(),
                events.len()
            );
            say!("{}", crate::teach::shiviz::REGEX);
            Ok(())
        }
        Command::Explain { input, checkpoint, format } => {
            let s = input.load()?;
            let opts = RunOptions { keep_protocol_trace: true, ..Default::default() };
            let r = engine::run(&s, opts)?;
            let steps = crate::teach::explain::explain(&s, &r, checkpoint);
            if steps.is_empty() {
                return Err(CliError::input(format!(
                    "checkpoint {checkpoint} was never triggered (protocol {}, {} checkpoints triggered)",
                    r.summary.protocol, r.summary.checkpoints.triggered
                )));
            }
            if format == "jsonl" {
                say_raw!("{}", crate::teach::explain::to_jsonl(&steps));
            } else {
                say!("checkpoint {checkpoint} of {} with protocol {} (seed {})", s.name, r.summary.protocol, s.seed);
                say_raw!("{}", crate::teach::explain::to_text(&steps));
            }
            Ok(())
        }
        Command::Validate { scenario } => {
            let s = load(&scenario, None, None, &[])?;
            let g = crate::graph::Graph::build(&s);
            say!(
                "{}: ok — scenario {:?}, {} operators, {} tasks, {} channels, fingerprint {}",
                scenario.display(),
                s.name,
                g.operators.len(),
                g.tasks.len(),
                g.channels.len(),
                s.fingerprint()
            );
            Ok(())
        }
        Command::Bench { scenario, repeat, scale, protocol } => {
            let s = load(&scenario, None, protocol, &[])?;
            bench::bench(&s, repeat, scale)
        }
    }
}
