//! `ckptsim explore`: many seeds of random scenarios checked against the named invariants.

use super::progress::Progress;
use super::{CliError, parse_protocol};
use crate::explore::{ExploreConfig, explore, write_finding};
use crate::scenario::ProtocolName;
use crate::verify::invariants::Invariant;
use crate::verify::mutants::Mutant;
use clap::Args;
use std::path::PathBuf;

/// The arguments of `explore`.
#[derive(Args, Debug)]
pub(super) struct ExploreArgs {
    /// Seeds to explore, `A..B` (B excluded).
    #[arg(long, default_value = "0..1000", value_parser = parse_seeds)]
    seeds: std::ops::Range<u64>,
    /// Worker threads, 1 to 1024 [default: all cores].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,
    /// One protocol for every seed [default: the exactly-once protocols by turns].
    #[arg(long, value_parser = parse_protocol)]
    protocol: Option<ProtocolName>,
    /// Explore a deliberately broken protocol (see the README's mutation check).
    #[arg(long, value_parser = parse_mutant)]
    mutant: Option<Mutant>,
    /// Invariants to check, comma-separated [default: all].
    #[arg(long, value_delimiter = ',', value_parser = parse_invariant)]
    invariants: Vec<Invariant>,
    /// Go on after a violation.
    #[arg(long)]
    keep_going: bool,
    /// Where failing scenarios are written [default: output/explore, or output/explore-<mutant>
    /// with --mutant]. Pass scenarios/regressions to pin a real finding as a regression test.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip (and do not count) seeds whose scenario has fewer operators (2 to 8).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(2..=8))]
    min_operators: u64,
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

fn parse_mutant(s: &str) -> Result<Mutant, String> {
    Mutant::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
        format!("unknown mutant {s:?}; allowed: {}", all.join(", "))
    })
}

fn parse_invariant(s: &str) -> Result<Invariant, String> {
    Invariant::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Invariant::ALL.iter().map(|i| i.name()).collect();
        format!("unknown invariant {s:?}; allowed: {}", all.join(", "))
    })
}

pub(super) fn exec(a: ExploreArgs) -> Result<(), CliError> {
    let ExploreArgs { seeds, jobs, protocol, mutant, invariants, keep_going, out, min_operators } = a;
    let out = out.unwrap_or_else(|| match mutant {
        Some(m) => PathBuf::from("output").join(format!("explore-{}", m.name())),
        None => PathBuf::from("output").join("explore"),
    });
    let jobs = jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), |j| j as usize);
    let invariants = if invariants.is_empty() { Invariant::ALL.to_vec() } else { invariants };
    let total = seeds.end - seeds.start;
    let min_operators = min_operators as usize;
    let cfg = ExploreConfig { seeds: seeds.clone(), jobs, protocol, mutant, invariants, keep_going, min_operators };
    let what = match (mutant, protocol) {
        (Some(m), _) => format!("mutant {}", m.name()),
        (None, Some(p)) => format!("protocol {}", p.name()),
        (None, None) => {
            let names: Vec<&str> = crate::explore::correct_protocols().iter().map(|p| p.name()).collect();
            format!("{} by turns", names.join(", "))
        }
    };
    say!("ckptsim explore seeds {}..{} ({what}), {jobs} jobs", seeds.start, seeds.end);
    let bar = Progress::new(total, "seeds");
    let result = explore(&cfg, &|done, violations| bar.update(done, &format!("{violations} violations")));
    bar.finish();
    say!(
        "explored {} seeds in {:.1} s ({:.0} seeds/s, {:.1} operators per scenario on average): {} with violations",
        result.checked,
        bar.seconds(),
        bar.rate(result.checked),
        result.operators as f64 / result.checked.max(1) as f64,
        result.findings.len()
    );
    for f in &result.findings {
        let path = write_finding(&out, f).map_err(|e| CliError::io(&format!("writing to {}", out.display()), e))?;
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
