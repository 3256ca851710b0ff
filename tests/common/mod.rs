//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ckptsim::engine::{self, RunOptions, RunResult};
use ckptsim::scenario::Scenario;
use std::path::PathBuf;

/// Path of a bundled scenario.
pub fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.json"))
}

/// Loads a bundled scenario.
pub fn load(name: &str) -> Scenario {
    Scenario::load(&scenario_path(name)).unwrap_or_else(|e| panic!("bundled scenario {name}: {e}"))
}

/// The bundled scenario's JSON as a mutable value.
pub fn json(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(scenario_path(name)).unwrap()).unwrap()
}

/// Runs with output collection on.
pub fn run_collect(s: &Scenario) -> RunResult {
    engine::run(s, RunOptions { collect_output: true, trace: None, ..Default::default() })
        .expect("run without trace file cannot fail")
}

/// Runs `s` (with `mutant`'s protocol and sabotage, if given) and judges it with the exactly-once
/// oracle against the scenario's reference: the summary with its verdict.
pub fn checked(s: &Scenario, mutant: Option<ckptsim::verify::mutants::Mutant>) -> ckptsim::metrics::Summary {
    let oracle = ckptsim::verify::Oracle::reference(s).unwrap();
    let opts = RunOptions { collect_output: true, ..Default::default() };
    let r = match mutant {
        Some(m) => m.run(s, opts).unwrap(),
        None => engine::run(s, opts).unwrap(),
    };
    let mut m = r.summary.clone();
    m.exactly_once = oracle.check(&r);
    m
}

/// Runs with default options.
pub fn run(s: &Scenario) -> RunResult {
    engine::run(s, RunOptions::default()).expect("run without trace file cannot fail")
}

/// All bundled scenario names (files directly in `scenarios/`).
pub fn bundled() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "json").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}
