//! `ckptsim flink-benchmarks`: Flink's published checkpointing micro-benchmarks, reproduced, as
//! the "Flink measured vs ckptsim" table of `docs/flink-benchmarks.md`.

use super::CliError;
use super::progress::Progress;
use crate::flinkbench::{self, CASES};
use clap::Args;
use std::path::PathBuf;

/// The arguments of `flink-benchmarks`.
#[derive(Args, Debug)]
pub(super) struct FlinkBenchArgs {
    /// Parallel runs [default: the number of cores].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,
    /// Output directory for flink-benchmarks.md and flink-benchmarks.json.
    #[arg(long, default_value = "output/flink-benchmarks")]
    out: PathBuf,
}

pub(super) fn exec(a: FlinkBenchArgs) -> Result<(), CliError> {
    super::prepare_out(&a.out)?;
    let jobs = a.jobs.map_or_else(crate::engine::default_jobs, |j| j as usize);
    let bar = Progress::new(CASES.len() as u64, "runs");
    let rows = flinkbench::run_all(CASES, jobs, &|done, _| bar.update(done as u64, ""))
        .map_err(|e| CliError { code: 1, message: e.to_string() })?;
    bar.finish();
    let table = flinkbench::markdown(&rows);
    say_raw!("{table}");
    say!("\nEach row's command:");
    for r in &rows {
        say!("  {}", r.command);
    }
    let write = |name: &str, text: String| {
        std::fs::write(a.out.join(name), text).map_err(|e| CliError::io(&format!("writing {}", a.out.display()), e))
    };
    write("flink-benchmarks.md", table)?;
    write("flink-benchmarks.json", serde_json::to_string_pretty(&rows).expect("rows serialize") + "\n")?;
    say!("wrote {}/flink-benchmarks.md and flink-benchmarks.json", a.out.display());
    Ok(())
}
