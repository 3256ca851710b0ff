//! Property testing and seed exploration: random scenarios ([`generate`]) checked against the named
//! invariants of [`crate::verify::invariants`]. A seed always yields the same scenario, whatever
//! runs around it, so every finding replays with `ckptsim run FILE`.

pub mod generate;

use crate::scenario::{ProtocolName, Scenario};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// The scenario of exploration seed `seed`, with `protocol`.
///
/// ```
/// use ckptsim::scenario::ProtocolName;
/// let a = ckptsim::explore::scenario_for_seed(7, ProtocolName::ALIGNED);
/// let b = ckptsim::explore::scenario_for_seed(7, ProtocolName::ALIGNED);
/// assert_eq!(a, b);
/// assert!((2..=8).contains(&a.topology.operators.len()));
/// ```
pub fn scenario_for_seed(seed: u64, protocol: ProtocolName) -> Scenario {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(b"ckptsim!");
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let plan = generate::scenarios().new_tree(&mut runner).expect("the plan strategy never rejects").current();
    plan.build(&format!("explore-{seed}"), protocol)
}

use crate::verify::invariants::{self, Invariant, Violation};
use crate::verify::mutants::Mutant;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The correct protocols (those the registry says promise exactly-once), which exploration
/// rotates through by seed.
pub fn correct_protocols() -> Vec<ProtocolName> {
    ProtocolName::exactly_once()
}

/// What to explore.
#[derive(Clone, Debug)]
pub struct ExploreConfig {
    /// Seeds to check, in order.
    pub seeds: std::ops::Range<u64>,
    /// Worker threads.
    pub jobs: usize,
    /// One protocol for every seed; `None` rotates through [`correct_protocols`] by seed.
    pub protocol: Option<ProtocolName>,
    /// Check a deliberately broken protocol instead (for the mutation check).
    pub mutant: Option<Mutant>,
    /// Invariants to check.
    pub invariants: Vec<Invariant>,
    /// Go on after a violation.
    pub keep_going: bool,
    /// Skip (and do not count) seeds whose scenario has fewer operators.
    pub min_operators: usize,
    /// Explore only shard `i` of `n`: the seeds `s` of the range with `(s − start) mod n = i`.
    pub shard: Option<(u64, u64)>,
}

/// A seed whose scenario broke an invariant.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The seed.
    pub seed: u64,
    /// Its scenario (protocol included).
    pub scenario: Scenario,
    /// What broke.
    pub violations: Vec<Violation>,
}

/// The result of an exploration.
#[derive(Debug)]
pub struct ExploreResult {
    /// Seeds checked.
    pub checked: u64,
    /// Operators in the scenarios checked, summed (for their mean size).
    pub operators: u64,
    /// Findings in seed order (only the first unless `keep_going`).
    pub findings: Vec<Finding>,
}

/// The protocol seed `seed` runs.
pub fn protocol_for(seed: u64, cfg: &ExploreConfig) -> ProtocolName {
    cfg.mutant.map(Mutant::base).or(cfg.protocol).unwrap_or_else(|| {
        let correct = correct_protocols();
        correct[(seed % correct.len() as u64) as usize]
    })
}

/// What checking one seed gave.
#[derive(Debug)]
pub enum Checked {
    /// The scenario is smaller than `min_operators`: not checked.
    Skipped,
    /// Every invariant held; the scenario had this many operators.
    Passed(usize),
    /// An invariant failed.
    Failed(Box<Finding>),
}

/// Checks one seed.
pub fn check_seed(seed: u64, cfg: &ExploreConfig) -> Checked {
    let scenario = scenario_for_seed(seed, protocol_for(seed, cfg));
    let operators = scenario.topology.operators.len();
    if operators < cfg.min_operators {
        return Checked::Skipped;
    }
    let violations = match cfg.mutant {
        Some(m) => invariants::check(&scenario, &|| Some(m.protocol(&scenario)), m.sabotage(), &cfg.invariants),
        None => invariants::check(&scenario, &|| scenario.protocol().create(), Default::default(), &cfg.invariants),
    };
    if violations.is_empty() {
        Checked::Passed(operators)
    } else {
        Checked::Failed(Box::new(Finding { seed, scenario, violations }))
    }
}

/// Checks `cfg.seeds` on `cfg.jobs` threads; `progress(checked, violations)` is called after each
/// seed. Workers take seeds in increasing order and, after a violation at seed `v`, take no seed
/// above `v`: every seed below the reported one was checked, whatever the number of threads.
pub fn explore(cfg: &ExploreConfig, progress: &(dyn Fn(u64, usize) + Sync)) -> ExploreResult {
    let next = AtomicU64::new(cfg.seeds.start);
    let limit = AtomicU64::new(u64::MAX);
    let checked = AtomicU64::new(0);
    let operators = AtomicU64::new(0);
    let findings = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..cfg.jobs.max(1) {
            scope.spawn(|| {
                // fetch_update stops at the end of the range instead of wrapping past u64::MAX.
                while let Ok(seed) =
                    next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| (s < cfg.seeds.end).then(|| s + 1))
                {
                    if seed > limit.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Some((i, n)) = cfg.shard
                        && (seed - cfg.seeds.start) % n != i
                    {
                        continue;
                    }
                    let found = match check_seed(seed, cfg) {
                        Checked::Skipped => continue,
                        Checked::Passed(n) => {
                            operators.fetch_add(n as u64, Ordering::SeqCst);
                            None
                        }
                        Checked::Failed(f) => {
                            operators.fetch_add(f.scenario.topology.operators.len() as u64, Ordering::SeqCst);
                            Some(*f)
                        }
                    };
                    let done = checked.fetch_add(1, Ordering::SeqCst) + 1;
                    let mut f = findings.lock().expect("no worker panics while holding the lock");
                    if let Some(finding) = found {
                        f.push(finding);
                        if !cfg.keep_going {
                            limit.fetch_min(seed, Ordering::SeqCst);
                        }
                    }
                    let n = f.len();
                    drop(f);
                    progress(done, n);
                }
            });
        }
    });
    let mut findings = findings.into_inner().expect("workers joined");
    findings.sort_by_key(|f| f.seed);
    if !cfg.keep_going {
        findings.truncate(1);
    }
    ExploreResult { checked: checked.into_inner(), operators: operators.into_inner(), findings }
}

/// Writes a finding as a scenario file `dir/<invariant>-<fingerprint>.json` and returns its path.
pub fn write_finding(dir: &Path, f: &Finding) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut s = f.scenario.clone();
    let stem = format!("{}-{}", f.violations[0].invariant.name(), s.fingerprint());
    s.name = stem.clone();
    s.description = format!(
        "explore seed {}: {}",
        f.seed,
        f.violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("; ")
    );
    let path = dir.join(format!("{stem}.json"));
    let json = serde_json::to_string_pretty(&s).map_err(std::io::Error::other)?;
    std::fs::write(&path, json + "\n")?;
    Ok(path)
}

/// What one shard of an exploration found: written as `shard-<i>-of-<n>.json`, combined by
/// [`merge`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShardResult {
    /// The whole range's first seed.
    pub start: u64,
    /// The whole range's end (excluded).
    pub end: u64,
    /// This shard's index.
    pub shard: u64,
    /// The number of shards.
    pub shards: u64,
    /// What was explored (mutant or protocols), for a check that shards belong together.
    pub what: String,
    /// Seeds checked.
    pub checked: u64,
    /// Operators in the scenarios checked, summed.
    pub operators: u64,
    /// Wall-clock seconds the shard took (information only).
    pub seconds: f64,
    /// The findings: seed, the invariants that failed (with their messages), the scenario file.
    pub findings: Vec<ShardFinding>,
}

/// One finding in a [`ShardResult`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShardFinding {
    /// The seed.
    pub seed: u64,
    /// What failed, `invariant: message` each.
    pub violations: Vec<String>,
    /// The scenario file written for it.
    pub file: String,
}

/// Combines shard results: every shard `0..n` of the same range and exploration exactly once, or
/// an error that names what is missing, duplicated or mismatched. The findings come in seed order.
pub fn merge(results: &[ShardResult]) -> Result<ShardResult, String> {
    let first = results.first().ok_or("no shard results to merge")?;
    let n = first.shards;
    let mut seen = vec![false; n as usize];
    for r in results {
        if (r.start, r.end, r.shards, &r.what) != (first.start, first.end, first.shards, &first.what) {
            return Err(format!(
                "shard {}/{} explored {}..{} ({}) but shard {}/{} explored {}..{} ({}): they do not belong together",
                r.shard,
                r.shards,
                r.start,
                r.end,
                r.what,
                first.shard,
                first.shards,
                first.start,
                first.end,
                first.what
            ));
        }
        let slot = seen.get_mut(r.shard as usize).ok_or_else(|| format!("shard {} is not below {n}", r.shard))?;
        if *slot {
            return Err(format!("shard {}/{n} appears twice (overlapping results)", r.shard));
        }
        *slot = true;
    }
    let missing: Vec<String> = (0..n).filter(|&i| !seen[i as usize]).map(|i| i.to_string()).collect();
    if !missing.is_empty() {
        return Err(format!("shards missing: {} of {n}", missing.join(", ")));
    }
    let mut findings: Vec<ShardFinding> = results.iter().flat_map(|r| r.findings.clone()).collect();
    findings.sort_by_key(|f| f.seed);
    Ok(ShardResult {
        start: first.start,
        end: first.end,
        shard: 0,
        shards: 1,
        what: first.what.clone(),
        checked: results.iter().map(|r| r.checked).sum(),
        operators: results.iter().map(|r| r.operators).sum(),
        seconds: results.iter().map(|r| r.seconds).fold(0.0, f64::max),
        findings,
    })
}
