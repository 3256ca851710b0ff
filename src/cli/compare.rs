//! `ckptsim compare`: every protocol on the same scenario and seed, side by side.

use super::{CliError, load, parse_fail_at, replay_command};
use crate::scenario::ProtocolName;
use clap::Args;
use std::path::PathBuf;

/// The arguments of `compare`.
#[derive(Args, Debug)]
pub(super) struct CompareArgs {
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
    /// Only these protocols, in this order (e.g. `aligned,unaligned`) [default: every one].
    #[arg(long, value_delimiter = ',', value_parser = super::parse_protocol)]
    protocols: Vec<crate::scenario::ProtocolName>,
}

pub(super) fn exec(a: CompareArgs) -> Result<(), CliError> {
    let CompareArgs { scenario, seed, out, fail_at, protocols } = a;
    let s = load(&scenario, seed, None, &fail_at)?;
    let dir = out.unwrap_or_else(|| PathBuf::from("output").join(&s.name));
    super::prepare_out(&dir)?;
    say!("ckptsim compare {}  seed={}  fingerprint={}", scenario.display(), s.seed, s.fingerprint());
    let report = if protocols.is_empty() {
        crate::compare::compare(&s)?
    } else {
        crate::compare::compare_these(&s, &protocols)?
    };
    let mut reproduce = format!("ckptsim compare {} --seed {}", scenario.display(), s.seed);
    if !protocols.is_empty() {
        let names: Vec<&str> = protocols.iter().map(|p| p.name()).collect();
        reproduce.push_str(&format!(" --protocols {}", names.join(",")));
    }
    for (task, at) in &fail_at {
        reproduce.push_str(&format!(" --fail-at {task}@{at}"));
    }
    crate::compare::write(&dir, &s, &report, &reproduce)
        .map_err(|e| CliError::io(&format!("writing {}", dir.display()), e))?;
    say_raw!("{}", crate::compare::table(&report));
    for note in &report.notes {
        say!("note: {note}");
    }
    for (row, r) in report.rows.iter().zip(&report.results) {
        let first =
            r.summary.exactly_once.first_violation.as_ref().or(r.summary.consistent_cut.first_violation.as_ref());
        if let Some(first) = first {
            let mut one = s.clone();
            one.set_protocol(ProtocolName::parse(&row.protocol).expect("a row names a protocol")).expect("ran before");
            say!("{}: {first}\n  replay: {}", row.protocol, replay_command(&scenario, &one, &fail_at, &[]));
        }
    }
    say!(
        "wrote {}/<protocol>/…, {}/compare.json, compare_*.svg and {}/report.html",
        dir.display(),
        dir.display(),
        dir.display()
    );
    // Exit 1 when a protocol that promises exactly-once failed a check or its job failed; the
    // others (at_least_once) failing is what they are there to show.
    let failed: Vec<String> = report
        .rows
        .iter()
        .zip(&report.results)
        .filter(|(row, _)| ProtocolName::parse(&row.protocol).is_some_and(|p| p.info().exactly_once))
        .filter(|(_, r)| !r.summary.failed_checks().is_empty())
        .map(|(row, _)| row.protocol.clone())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError { code: 1, message: format!("exactly-once protocols failed a check: {}", failed.join(", ")) })
    }
}
