//! `ckptsim explore`: many seeds of random scenarios checked against the named invariants.

use super::progress::Progress;
use super::{CliError, parse_protocol};
use crate::explore::{ExploreConfig, ShardFinding, ShardResult, explore, merge, write_finding};
use crate::scenario::ProtocolName;
use crate::verify::invariants::Invariant;
use crate::verify::mutants::Mutant;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

/// The arguments of `explore`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub(super) struct ExploreArgs {
    #[command(subcommand)]
    merge: Option<ExploreCommand>,
    /// Explore shard I of N (`I/N`, 0 ≤ I < N): the seeds s with (s − A) mod N = I. Writes a
    /// mergeable `shard-I-of-N.json` to the output directory.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<(u64, u64)>,
    /// Seeds to explore, `A..B` (B excluded).
    #[arg(long, default_value = "0..1000", value_parser = parse_seeds)]
    seeds: std::ops::Range<u64>,
    /// Worker threads, 1 to 1024 [default: all cores].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,
    /// One protocol for every seed [default: the exactly-once protocols by turns].
    #[arg(long, value_parser = parse_protocol)]
    protocol: Option<ProtocolName>,
    /// Explore a deliberately broken protocol (see the mutation check in docs/exploration.md).
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

/// `ckptsim explore merge`.
#[derive(Subcommand, Debug)]
enum ExploreCommand {
    /// Combine the shard results in these directories; fails if a shard is missing, appears
    /// twice, or belongs to another exploration, and exits 1 if any shard found a violation.
    Merge {
        /// Directories holding `shard-I-of-N.json` files.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let err = || format!("expected I/N with 0 <= I < N <= 1,000,000, e.g. 3/8, found {s:?}");
    let (i, n) = s.split_once('/').ok_or_else(err)?;
    let (i, n) = (i.parse::<u64>().map_err(|_| err())?, n.parse::<u64>().map_err(|_| err())?);
    if n == 0 || i >= n || n > 1_000_000 {
        return Err(err());
    }
    Ok((i, n))
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
    let ExploreArgs { merge: sub, shard, seeds, jobs, protocol, mutant, invariants, keep_going, out, min_operators } =
        a;
    if let Some(ExploreCommand::Merge { dirs }) = sub {
        return merge_dirs(&dirs);
    }
    let out = out.unwrap_or_else(|| match mutant {
        Some(m) => PathBuf::from("output").join(format!("explore-{}", m.name())),
        None => PathBuf::from("output").join("explore"),
    });
    let jobs = jobs.map_or_else(crate::engine::default_jobs, |j| j as usize);
    let invariants = if invariants.is_empty() { Invariant::ALL.to_vec() } else { invariants };
    let total = seeds.end - seeds.start;
    let min_operators = min_operators as usize;
    let cfg =
        ExploreConfig { seeds: seeds.clone(), jobs, protocol, mutant, invariants, keep_going, min_operators, shard };
    let what = match (mutant, protocol) {
        (Some(m), _) => format!("mutant {}", m.name()),
        (None, Some(p)) => format!("protocol {}", p.name()),
        (None, None) => {
            let names: Vec<&str> = crate::explore::correct_protocols().iter().map(|p| p.name()).collect();
            format!("{} by turns", names.join(", "))
        }
    };
    let shard_text = shard.map_or(String::new(), |(i, n)| format!(", shard {i}/{n}"));
    say!("ckptsim explore seeds {}..{} ({what}{shard_text}), {jobs} jobs", seeds.start, seeds.end);
    let total = shard.map_or(total, |(i, n)| (total + n - 1 - i) / n);
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
    let mut shard_findings = Vec::new();
    for f in &result.findings {
        let path = write_finding(&out, f).map_err(|e| CliError::io(&format!("writing to {}", out.display()), e))?;
        shard_findings.push(ShardFinding {
            seed: f.seed,
            violations: f.violations.iter().map(|v| v.to_string()).collect(),
            file: path.display().to_string(),
        });
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
    if let Some((i, n)) = shard {
        let r = ShardResult {
            start: seeds.start,
            end: seeds.end,
            shard: i,
            shards: n,
            what: what.clone(),
            checked: result.checked,
            operators: result.operators,
            seconds: bar.seconds(),
            findings: shard_findings,
        };
        let path = out.join(format!("shard-{i}-of-{n}.json"));
        let json = serde_json::to_string_pretty(&r).expect("a shard result serializes");
        std::fs::create_dir_all(&out)
            .and_then(|()| std::fs::write(&path, json + "\n"))
            .map_err(|e| CliError::io(&format!("writing {}", path.display()), e))?;
        say!("  wrote {}", path.display());
    }
    if result.findings.is_empty() {
        Ok(())
    } else {
        Err(CliError { code: 1, message: format!("{} seeds violated an invariant", result.findings.len()) })
    }
}

/// `ckptsim explore merge DIR…`.
fn merge_dirs(dirs: &[PathBuf]) -> Result<(), CliError> {
    let mut results = Vec::new();
    for dir in dirs {
        let read =
            |d: &Path| std::fs::read_dir(d).map_err(|e| CliError::input(format!("cannot read {}: {e}", d.display())));
        let mut files: Vec<PathBuf> = read(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("shard-"))
                    && p.extension().is_some_and(|x| x == "json")
            })
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| CliError::input(format!("cannot read {}: {e}", f.display())))?;
            let r: ShardResult = serde_json::from_str(&text)
                .map_err(|e| CliError::input(format!("{} is not a shard result: {e}", f.display())))?;
            results.push(r);
        }
    }
    let m = merge(&results).map_err(CliError::input)?;
    say!(
        "merged {} shards of seeds {}..{} ({}): {} seeds checked, {:.1} operators on average, {} with violations",
        results.len(),
        m.start,
        m.end,
        m.what,
        m.checked,
        m.operators as f64 / m.checked.max(1) as f64,
        m.findings.len()
    );
    for f in &m.findings {
        for v in &f.violations {
            say!("seed {}: {v}", f.seed);
        }
        say!("  scenario: {}", f.file);
    }
    if m.findings.is_empty() {
        Ok(())
    } else {
        Err(CliError { code: 1, message: format!("{} seeds violated an invariant", m.findings.len()) })
    }
}
