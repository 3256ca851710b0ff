//! `ckptsim backends`: one scenario under several state backends, side by side.

use super::{CliError, load, parse_fail_at, parse_protocol};
use crate::scenario::ProtocolName;
use clap::Args;
use std::path::PathBuf;

/// The arguments of `backends`.
#[derive(Args, Debug)]
pub(super) struct BackendsArgs {
    /// Scenario file (JSON).
    scenario: PathBuf,
    /// State backends, comma-separated: hashmap, rocksdb, rocksdb-incremental, each optionally
    /// with +changelog, or changelog (= hashmap+changelog).
    #[arg(long, value_delimiter = ',', default_value = "hashmap,rocksdb,rocksdb-incremental,changelog")]
    backends: Vec<String>,
    /// Snapshot protocol of every run [default: the scenario's].
    #[arg(long, value_parser = parse_protocol)]
    protocol: Option<ProtocolName>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Output directory [default: output/<scenario>/backends].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also vary this scenario field (a JSON path, as `sweep` takes) over --values: a table
    /// per value, and charts of restore time against state size.
    #[arg(long, requires = "values")]
    param: Option<String>,
    /// The values of --param, comma-separated.
    #[arg(long, value_delimiter = ',', requires = "param")]
    values: Vec<String>,
    /// Add a crash of TASK at MS milliseconds, e.g. `agg[2]@500` (repeatable).
    #[arg(long = "fail-at", value_name = "TASK@MS", value_parser = parse_fail_at)]
    fail_at: Vec<(String, u64)>,
}

pub(super) fn exec(a: BackendsArgs) -> Result<(), CliError> {
    let BackendsArgs { scenario, backends, protocol, seed, out, param, values, fail_at } = a;
    let s = load(&scenario, seed, protocol, &fail_at)?;
    for b in &backends {
        s.state.with_backend(b).map_err(|e| CliError::input(format!("--backends: {e}")))?;
    }
    let dir = out.unwrap_or_else(|| PathBuf::from("output").join(&s.name).join("backends"));
    super::prepare_out(&dir)?;
    say!("ckptsim backends {}  seed={}  protocol={}", scenario.display(), s.seed, s.protocol().name());
    let sweep = param.as_deref().map(|p| (p, values.as_slice()));
    let report = crate::backends::sweep_backends(&s, &backends, sweep)?;
    crate::backends::write(&dir, &report).map_err(|e| CliError::io(&format!("writing {}", dir.display()), e))?;
    say_raw!("{}", crate::backends::table(&report));
    say!("wrote {}/<backend>/…, {}/backends.json and backends_*.svg", dir.display(), dir.display());
    let failed: Vec<&str> = report
        .rows
        .iter()
        .filter(|r| r.exactly_once_violations > 0 || r.cut_violations > 0)
        .map(|r| r.backend.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError { code: 1, message: format!("checks failed under: {}", failed.join(", ")) })
    }
}
