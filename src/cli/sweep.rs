//! `ckptsim sweep`: one scenario field over values × protocols, charted against the value.

use super::progress::Progress;
use super::{CliError, load, parse_protocol};
use crate::scenario::ProtocolName;
use clap::Args;
use std::path::PathBuf;

/// The arguments of `sweep`.
#[derive(Args, Debug)]
pub(super) struct SweepArgs {
    /// Scenario file (JSON).
    scenario: PathBuf,
    /// The field's JSON path, e.g. `network.buffer_records` or `checkpointing.interval_ms`.
    #[arg(long)]
    param: String,
    /// Values, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    values: Vec<String>,
    /// Protocols, comma-separated [default: the exactly-once protocols].
    #[arg(long, value_delimiter = ',', value_parser = parse_protocol)]
    protocols: Vec<ProtocolName>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads, 1 to 1024 [default: all cores].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,
    /// Output directory [default: output/<scenario>/sweep-<param>].
    #[arg(long)]
    out: Option<PathBuf>,
}

fn param_short(p: &str) -> &str {
    p.rsplit('.').next().unwrap_or(p)
}

pub(super) fn exec(a: SweepArgs) -> Result<(), CliError> {
    let SweepArgs { scenario, param, values, protocols, seed, jobs, out } = a;
    let s = load(&scenario, seed, None, &[])?;
    let protocols = if protocols.is_empty() { crate::explore::correct_protocols() } else { protocols };
    let jobs = jobs.map_or_else(crate::engine::default_jobs, |j| j as usize);
    let dir = out.unwrap_or_else(|| PathBuf::from("output").join(&s.name).join(format!("sweep-{param}")));
    super::prepare_out(&dir)?;
    say!(
        "ckptsim sweep {} --param {param} over {} values × {} protocols",
        scenario.display(),
        values.len(),
        protocols.len()
    );
    let bar = Progress::new((values.len() * protocols.len()) as u64, "runs");
    let r = crate::sweep::sweep(&s, &param, &values, &protocols, jobs, &|done, _| bar.update(done as u64, ""))?;
    bar.finish();
    for note in &r.notes {
        say!("note: {note}");
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
            "{:>10} {:<16} {:>11} {:>11} {:>13} {:>11.2}",
            x.value,
            x.protocol,
            crate::report::checkpoint_stat(x.completed, x.duration_p50_ms, 2),
            crate::report::checkpoint_stat(x.completed, x.duration_p99_ms, 2),
            crate::report::checkpoint_stat(x.completed, x.channel_state_bytes_p50 / 1024.0, 1),
            x.committed_latency_p99_ms
        );
    }
    for f in r.findings() {
        say!("{f}");
    }
    say!("wrote {}/sweep.csv, sweep_*.svg and report.html", dir.display());
    let failed: Vec<String> = r
        .rows
        .iter()
        .filter(|x| x.cut_violations > 0 && ProtocolName::parse(&x.protocol).is_some_and(|p| p.info().exactly_once))
        .map(|x| format!("{} at {}", x.protocol, x.value))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError {
            code: 1,
            message: format!("consistent-cut violations of exactly-once protocols: {}", failed.join(", ")),
        })
    }
}
