//! The command-line interface (clap). Parses flags, calls the library, prints. The only place
//! that prints or reads the wall clock (for `bench` and the progress bar). One file per command;
//! this one holds what they share: the scenario arguments, loading, errors and exit codes.

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

mod backends;
mod bench;
mod compare;
mod cos418;
mod diagram;
mod domino;
mod explain;
mod explore;
mod flinkbench;
mod lesson;
mod progress;
mod run;
mod sweep;
mod validate;

use crate::engine;
use crate::scenario::{ProtocolName, Scenario};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The version and the scenario format it reads (`ckptsim --version`).
const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (scenario format 1)");

/// ckptsim — a deterministic simulator of Flink-like checkpointing.
#[derive(Parser, Debug)]
#[command(name = "ckptsim", version, long_version = LONG_VERSION, about, long_about = None)]
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
    #[arg(long, value_parser = parse_protocol, help = protocol_help())]
    protocol: Option<ProtocolName>,
    /// Add a crash of TASK at MS milliseconds, e.g. `agg[2]@500` (repeatable).
    #[arg(long = "fail-at", value_name = "TASK@MS", value_parser = parse_fail_at)]
    fail_at: Vec<(String, u64)>,
    /// Set one field of the scenario by its JSON path, e.g. `restart.failover=full` or
    /// `topology.operators[1].parallelism=4` (repeatable; validated like the file).
    #[arg(long = "set", value_name = "PATH=VALUE", value_parser = parse_set)]
    set: Vec<(String, String)>,
}

impl ScenarioArgs {
    fn load(&self) -> Result<Scenario, CliError> {
        let mut s = load(&self.scenario, self.seed, self.protocol, &self.fail_at)?;
        for (path, value) in &self.set {
            s = crate::sweep::with_value(&s, path, value)
                .map_err(|e| CliError::input(format!("--set {path}={value}: {e}")))?;
        }
        Ok(s)
    }
}

/// A scenario file, or — when no such file exists — the bundled scenario of that name
/// (`backpressure`, `failures/big-state`), so an installed binary works from any directory.
pub(super) fn load_file_or_bundled(path: &Path) -> Result<Scenario, CliError> {
    if !path.exists()
        && let Some(bundled) = crate::bundled::load(&path.to_string_lossy())
    {
        return bundled.map_err(CliError::input);
    }
    Scenario::load(path).map_err(|e| match e {
        crate::scenario::ScenarioError::Io { .. } => CliError::input(format!(
            "{e}\n(no such file, and no bundled scenario of that name: `ckptsim scenarios` lists them)"
        )),
        other => CliError::input(other),
    })
}

/// Creates the output directory and checks it is writable — before any simulation runs, so an
/// unwritable `--out` costs nothing.
pub(super) fn prepare_out(dir: &Path) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::io(&format!("cannot write to {}", dir.display()), e);
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(".ckptsim-write-test");
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

fn parse_set(v: &str) -> Result<(String, String), String> {
    match v.split_once('=') {
        Some((path, value)) if !path.is_empty() && !value.is_empty() => Ok((path.to_string(), value.to_string())),
        _ => Err(format!("expected PATH=VALUE, e.g. restart.failover=full, found {v:?}")),
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario; check every completed checkpoint's cut and the output against the
    /// exactly-once oracle; write summary.json, timeseries.csv, checkpoints.csv,
    /// checkpoint_tasks.csv and the charts (*.svg). Exits 1 when a check fails.
    Run(run::RunArgs),
    /// Run every protocol on the same scenario and seed; print a side-by-side table and write
    /// each protocol's outputs plus compare.json.
    Compare(compare::CompareArgs),
    /// Run one scenario under several state backends (hashmap, RocksDB full and incremental,
    /// changelog); print full and incremental sizes, sync/async times, storage held and restore
    /// time side by side, and write backends.json and charts.
    Backends(backends::BackendsArgs),
    /// Check many seeds of random scenarios against the named invariants, in parallel.
    Explore(explore::ExploreArgs),
    /// Run a COS 418 Chandy-Lamport test case (token-passing world) and print its snapshots.
    Cos418(cos418::Cos418Args),
    /// Vary one scenario field over values, run each value with each protocol, and chart the
    /// figures against the value (sweep.csv, sweep_*.svg, report.html).
    Sweep(sweep::SweepArgs),
    /// A space-time diagram (SVG) of one checkpoint: lanes per task, messages, barriers,
    /// snapshots and the cut.
    Diagram(diagram::DiagramArgs),
    /// Write a run's trace: every event as JSON Lines, or one checkpoint as a ShiViz log.
    Trace(diagram::TraceArgs),
    /// A narrated step log of one checkpoint: every barrier, block, snapshot, ack and commit, with
    /// the protocol rule behind it.
    Explain(explain::ExplainArgs),
    /// An interactive lesson page (one self-contained HTML file) of one checkpoint: the diagram
    /// beside the narrated steps, a time slider, each record's origin on hover, and a task's
    /// input and output channels seen from inside.
    Lesson(lesson::LessonArgs),
    /// What uncoordinated checkpointing would roll back if one task failed: the recovery line
    /// without message logging (the domino effect) and with sender-based logging.
    Domino(domino::DominoArgs),
    /// Check a scenario file and report the first problem.
    Validate(validate::ValidateArgs),
    /// Measure simulator speed (events/s, record-hops/s) and peak memory.
    Bench(bench::BenchArgs),
    /// Reproduce Flink's published checkpointing micro-benchmarks (flink-benchmarks) and print
    /// the table "Flink measured vs ckptsim".
    FlinkBenchmarks(flinkbench::FlinkBenchArgs),
    /// List the bundled scenarios, which every command accepts by name (`ckptsim run backpressure`).
    Scenarios,
}

impl Command {
    fn exec(self) -> Result<(), CliError> {
        match self {
            Command::Run(a) => run::exec(a),
            Command::Compare(a) => compare::exec(a),
            Command::Backends(a) => backends::exec(a),
            Command::Explore(a) => explore::exec(a),
            Command::Cos418(a) => cos418::exec(a),
            Command::Sweep(a) => sweep::exec(a),
            Command::Diagram(a) => diagram::exec_diagram(a),
            Command::Trace(a) => diagram::exec_trace(a),
            Command::Explain(a) => explain::exec(a),
            Command::Lesson(a) => lesson::exec(a),
            Command::Domino(a) => domino::exec(a),
            Command::Validate(a) => validate::exec(a),
            Command::Bench(a) => bench::exec(a),
            Command::FlinkBenchmarks(a) => flinkbench::exec(a),
            Command::Scenarios => {
                for (name, description) in crate::bundled::list() {
                    say!("{name:<36} {description}");
                }
                Ok(())
            }
        }
    }
}

/// The `--protocol` help, from the protocol registry.
fn protocol_help() -> String {
    format!("Override `checkpointing.mode`: {}", ProtocolName::names().join(", "))
}

pub(super) fn parse_protocol(s: &str) -> Result<ProtocolName, String> {
    ProtocolName::parse(s).ok_or_else(|| ProtocolName::unknown(s))
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
    pub(super) fn input(e: impl std::fmt::Display) -> Self {
        CliError { code: 2, message: e.to_string() }
    }
    pub(super) fn io(what: &str, e: impl std::fmt::Display) -> Self {
        CliError { code: 1, message: format!("{what}: {e}") }
    }
    /// Standard output was closed by the reader: stop without a message.
    pub(super) fn closed() -> Self {
        CliError { code: 0, message: String::new() }
    }
}

impl From<engine::RunError> for CliError {
    /// An invalid scenario is bad input (exit 2); a trace that cannot be written is exit 1.
    fn from(e: engine::RunError) -> Self {
        match e {
            engine::RunError::Scenario(e) => CliError::input(e),
            engine::RunError::Trace(e) => CliError::io("writing the trace", e),
            engine::RunError::Output(e) => CliError::io("writing checkpoint_tasks.csv", e),
        }
    }
}

/// Parses the arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.exec() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.message.is_empty() {
                eprintln!("error: {}", e.message);
            }
            ExitCode::from(e.code)
        }
    }
}

pub(super) fn load(
    path: &Path,
    seed: Option<u64>,
    protocol: Option<ProtocolName>,
    fail_at: &[(String, u64)],
) -> Result<Scenario, CliError> {
    let mut s = load_file_or_bundled(path)?;
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

pub(super) fn parse_fail_at(v: &str) -> Result<(String, u64), String> {
    let err = || format!("expected TASK@MS, e.g. agg[2]@500 (a task name, `@`, milliseconds), found {v:?}");
    let (task, ms) = v.rsplit_once('@').ok_or_else(err)?;
    let ms = ms.parse::<u64>().map_err(|_| err())?;
    if task.is_empty() {
        return Err(err());
    }
    Ok((task.to_string(), ms))
}

/// The command that reproduces a run: the same file, seed, protocol and added failures.
pub(super) fn replay_command(path: &Path, s: &Scenario, fail_at: &[(String, u64)], set: &[(String, String)]) -> String {
    let mut cmd = format!("ckptsim run {} --seed {} --protocol {}", path.display(), s.seed, s.protocol().name());
    for (task, ms) in fail_at {
        cmd.push_str(&format!(" --fail-at '{task}@{ms}'"));
    }
    for (p, v) in set {
        cmd.push_str(&format!(" --set '{p}={v}'"));
    }
    cmd
}

#[cfg(test)]
mod version_tests {
    #[test]
    fn the_long_version_names_the_scenario_format_read() {
        let want = format!("(scenario format {})", crate::scenario::FORMAT_VERSION);
        assert!(super::LONG_VERSION.ends_with(&want), "{}", super::LONG_VERSION);
    }
}
