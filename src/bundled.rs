//! The bundled scenarios, compiled into the binary, so an installed `ckptsim` finds them by name
//! from any directory (`ckptsim run backpressure`, `ckptsim scenarios`). The files stay in
//! `scenarios/`; `tests/bundled.rs` checks this list against that folder.

use crate::scenario::{Scenario, ScenarioError};

/// Every bundled scenario: its name (the path under `scenarios/` without `.json`) and its text.
pub const BUNDLED: &[(&str, &str)] = &[
    ("abs/abs-shape", include_str!("../scenarios/abs/abs-shape.json")),
    ("backpressure", include_str!("../scenarios/backpressure.json")),
    ("crash-before-notify", include_str!("../scenarios/crash-before-notify.json")),
    ("crash-during-alignment", include_str!("../scenarios/crash-during-alignment.json")),
    ("cyclic/iteration", include_str!("../scenarios/cyclic/iteration.json")),
    ("diamond", include_str!("../scenarios/diamond.json")),
    ("failures/big-state", include_str!("../scenarios/failures/big-state.json")),
    ("state/backends", include_str!("../scenarios/state/backends.json")),
    (
        "flink-benchmarks/checkpointing-time-aligned",
        include_str!("../scenarios/flink-benchmarks/checkpointing-time-aligned.json"),
    ),
    (
        "flink-benchmarks/checkpointing-time-unaligned",
        include_str!("../scenarios/flink-benchmarks/checkpointing-time-unaligned.json"),
    ),
    (
        "flink-benchmarks/sleeping-sink-aligned",
        include_str!("../scenarios/flink-benchmarks/sleeping-sink-aligned.json"),
    ),
    (
        "flink-benchmarks/sleeping-sink-unaligned",
        include_str!("../scenarios/flink-benchmarks/sleeping-sink-unaligned.json"),
    ),
    ("failures/tolerable-failures", include_str!("../scenarios/failures/tolerable-failures.json")),
    ("failures/transaction-timeout", include_str!("../scenarios/failures/transaction-timeout.json")),
    ("failures/two-pipelines", include_str!("../scenarios/failures/two-pipelines.json")),
    ("non-fifo/diamond", include_str!("../scenarios/non-fifo/diamond.json")),
    ("pipeline", include_str!("../scenarios/pipeline.json")),
    ("random-failures", include_str!("../scenarios/random-failures.json")),
    ("scale/shuffle", include_str!("../scenarios/scale/shuffle.json")),
    ("tutorial/1-aligned-diamond", include_str!("../scenarios/tutorial/1-aligned-diamond.json")),
    ("tutorial/2-unaligned-backpressure", include_str!("../scenarios/tutorial/2-unaligned-backpressure.json")),
    ("tutorial/3-chandy-lamport", include_str!("../scenarios/tutorial/3-chandy-lamport.json")),
    ("tutorial/4-failure-exactly-once", include_str!("../scenarios/tutorial/4-failure-exactly-once.json")),
    ("tutorial/5-at-least-once-duplicates", include_str!("../scenarios/tutorial/5-at-least-once-duplicates.json")),
];

/// The bundled scenario called `name` (`backpressure`, `failures/big-state`; a trailing `.json`
/// or a leading `scenarios/` is accepted), parsed and validated.
pub fn load(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    let name = name.trim_start_matches("scenarios/").trim_end_matches(".json");
    BUNDLED.iter().find(|(n, _)| *n == name).map(|(_, text)| Scenario::from_json(text))
}

/// Every bundled scenario with the first sentence of its description, for `ckptsim scenarios`.
pub fn list() -> Vec<(&'static str, String)> {
    BUNDLED
        .iter()
        .map(|(name, text)| {
            let description = Scenario::from_json(text).map(|s| s.description).unwrap_or_default();
            let first = description.split(". ").next().unwrap_or("").trim_end_matches('.').to_string();
            (*name, first)
        })
        .collect()
}
