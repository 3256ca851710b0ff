//! The checkers have teeth: every deliberately broken protocol is caught by the named
//! invariants within a bounded number of generated cases. The counts are in docs/exploration.md.

use ckptsim::explore::{ExploreConfig, explore};
use ckptsim::verify::invariants::Invariant;
use ckptsim::verify::mutants::Mutant;

/// Cases each mutant may need at most (docs/exploration.md lists the actual counts).
fn bound(m: Mutant) -> u64 {
    match m {
        // Needs a crash after the sink pre-committed but before the checkpoint completed.
        Mutant::SinkCommitsEarly => 1000,
        _ => 50,
    }
}

#[test]
fn every_mutant_is_caught_within_its_bound() {
    let mut report = Vec::new();
    for m in Mutant::ALL {
        let cfg = ExploreConfig {
            seeds: 0..bound(m),
            jobs: 2,
            protocol: None,
            mutant: Some(m),
            invariants: Invariant::ALL.to_vec(),
            keep_going: false,
            min_operators: 2,
            shard: None,
        };
        let r = explore(&cfg, &|_, _| {});
        let f = r.findings.first().unwrap_or_else(|| panic!("{} survived {} cases", m.name(), bound(m)));
        report.push(format!("{}: caught by seed {} ({} cases) — {}", m.name(), f.seed, f.seed + 1, f.violations[0]));
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn the_correct_protocols_pass_the_seeds_that_catch_the_mutants() {
    // Same seeds, real protocols: the checkers are not merely noisy.
    let cfg = ExploreConfig {
        seeds: 0..320,
        jobs: 2,
        protocol: None,
        mutant: None,
        invariants: Invariant::ALL.to_vec(),
        keep_going: true,
        min_operators: 2,
        shard: None,
    };
    let r = explore(&cfg, &|_, _| {});
    assert!(r.findings.is_empty(), "{:?}", r.findings.first().map(|f| (f.seed, &f.violations)));
    assert_eq!(r.checked, 320);
}

#[test]
fn explore_is_deterministic_whatever_the_number_of_jobs() {
    let run = |jobs| {
        let cfg = ExploreConfig {
            seeds: 0..1000,
            jobs,
            protocol: None,
            mutant: Some(Mutant::SinkCommitsEarly),
            invariants: vec![Invariant::ExactlyOnce],
            keep_going: false,
            min_operators: 2,
            shard: None,
        };
        explore(&cfg, &|_, _| {}).findings.first().map(|f| (f.seed, f.violations.clone()))
    };
    let one = run(1);
    assert!(one.is_some());
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn the_cli_explore_reports_writes_and_replays_a_violation() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("explore-out");
    let _ = std::fs::remove_dir_all(&dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["explore", "--mutant", "at_least_once", "--seeds", "0..50", "--jobs", "2", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a violation exits non-zero");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("seed 2: consistent_cut"), "{stdout}");
    assert!(stdout.contains("replay: ckptsim explore --mutant at_least_once --seeds 2..3"), "{stdout}");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    // The written scenario is a valid scenario file that runs (with the real at_least_once
    // protocol it reproduces the orphans).
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .arg("run")
        .arg(&files[0])
        .arg("--out")
        .arg(dir.join("run"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "a violation exits 1: {}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("CONSISTENT CUT VIOLATED"));
    // A clean range exits 0.
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["explore", "--seeds", "0..40"])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["explore", "--seeds", "9..3"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected a seed range A..B"));
}

/// A network that loses about one record in a thousand in every run, the failure-free reference
/// run included: comparing with that reference run (the old oracle) finds nothing, because both
/// lost the same records; the independent model catches every lost record.
#[test]
fn a_network_that_loses_records_in_every_run_is_caught_by_the_independent_model_only() {
    use ckptsim::engine::{self, RunOptions};
    use ckptsim::scenario::{ProtocolName, Scenario};
    let s =
        Scenario::load(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/pipeline.json")).unwrap();
    let m = Mutant::LossyNetwork;
    let run = m.run(&s, RunOptions { collect_output: true, ..Default::default() }).unwrap();
    let mut reference = s.clone();
    reference.set_protocol(ProtocolName::NONE).unwrap();
    let old =
        engine::run(&reference, RunOptions { collect_output: true, sabotage: m.sabotage(), ..Default::default() })
            .unwrap();
    let counts = |r: &engine::RunResult| {
        r.output.as_ref().unwrap().partitions().map(|(p, c)| (p, c.to_vec())).collect::<Vec<_>>()
    };
    assert_eq!(counts(&old), counts(&run), "the old oracle's comparison sees no difference");
    let eo = ckptsim::verify::Oracle::reference_with(&s, m.sabotage()).unwrap().check(&run);
    assert!(eo.missing > 50, "{eo:?}");
    assert_eq!(eo.missing, eo.reference_mismatches, "every lost record, in the run and in the reference");
    assert_eq!(eo.duplicated, 0);
}

/// Sharded exploration finds exactly what one run finds: shards 0..3 of a range together check
/// every seed once and report the same findings; merging refuses a missing or doubled shard.
#[test]
fn three_shards_find_exactly_what_one_run_finds() {
    use ckptsim::explore::{ShardFinding, ShardResult, merge};
    let cfg = |shard| ExploreConfig {
        seeds: 0..60,
        jobs: 2,
        protocol: None,
        mutant: Some(Mutant::AtLeastOnce),
        invariants: Invariant::ALL.to_vec(),
        keep_going: true,
        min_operators: 2,
        shard,
    };
    let whole = explore(&cfg(None), &|_, _| {});
    let found = |r: &ckptsim::explore::ExploreResult| {
        r.findings
            .iter()
            .map(|f| (f.seed, f.violations.iter().map(|v| v.to_string()).collect::<Vec<_>>()))
            .collect::<Vec<_>>()
    };
    let shards: Vec<ShardResult> = (0..3)
        .map(|i| {
            let r = explore(&cfg(Some((i, 3))), &|_, _| {});
            ShardResult {
                start: 0,
                end: 60,
                shard: i,
                shards: 3,
                what: "mutant at_least_once".into(),
                checked: r.checked,
                operators: r.operators,
                seconds: 0.0,
                findings: found(&r)
                    .into_iter()
                    .map(|(seed, violations)| ShardFinding { seed, violations, file: String::new() })
                    .collect(),
            }
        })
        .collect();
    let merged = merge(&shards).unwrap();
    assert_eq!(merged.checked, whole.checked);
    assert!(!whole.findings.is_empty());
    let merged_found: Vec<_> = merged.findings.iter().map(|f| (f.seed, f.violations.clone())).collect();
    assert_eq!(merged_found, found(&whole));
    assert!(merge(&shards[..2]).unwrap_err().contains("shards missing: 2 of 3"));
    let twice = [shards.clone(), vec![shards[1].clone()]].concat();
    assert!(merge(&twice).unwrap_err().contains("appears twice"));
}
