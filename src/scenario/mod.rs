//! The scenario file: one documented, serializable struct (serde) plus its validation.
//!
//! A scenario is everything a run depends on besides the command-line flags: name, seed, topology,
//! network, costs and (later) checkpointing, failures and restart strategy. Unknown fields are
//! rejected. [`Scenario::from_json`] parses *and* validates, so a `Scenario` obtained from it is
//! always runnable; every error names the JSON path, what was found and what is allowed.
//! What does not live here: turning the topology into tasks and channels (`crate::graph`).

mod builder;
mod error;
mod types;
mod validate;

pub use builder::ScenarioBuilder;
pub use error::ScenarioError;
pub use types::*;
pub use validate::{MAX_MEMORY_BYTES, MAX_PARALLELISM, estimated_memory};

use crate::sim::StableHasher;
use std::path::Path;

impl Scenario {
    /// Parses and validates a scenario from JSON text.
    ///
    /// ```
    /// let json = r#"{
    ///   "name": "tiny", "seed": 1,
    ///   "topology": {
    ///     "operators": [
    ///       {"id": "src", "kind": "source", "records_per_partition": 10,
    ///        "arrival": {"kind": "constant", "rate_per_sec": 1000}},
    ///       {"id": "out", "kind": "sink"}
    ///     ],
    ///     "edges": [{"from": "src", "to": "out", "partitioner": "forward"}]
    ///   }
    /// }"#;
    /// let s = ckptsim::scenario::Scenario::from_json(json).unwrap();
    /// assert_eq!(s.topology.operators.len(), 2);
    /// let bad = json.replace(r#""to": "out""#, r#""to": "nowhere""#);
    /// let err = ckptsim::scenario::Scenario::from_json(&bad).unwrap_err().to_string();
    /// assert!(err.contains("topology.edges[0].to"), "{err}");
    /// ```
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario = error::parse_json::<Scenario>(text)?;
        validate::validate(&scenario)?;
        Ok(scenario)
    }

    /// Validates a scenario built or changed in code (as `from_json` does for a file).
    pub fn validate(&self) -> Result<(), ScenarioError> {
        validate::validate(self)
    }

    /// Adds a crash of `task` at `at_ms` (the `--fail-at TASK@MS` flag) and validates the result.
    pub fn add_failure_at(&mut self, task: &str, at_ms: u64) -> Result<(), ScenarioError> {
        self.failures.push(FailureSpec { task: Some(task.to_string()), at_ms: Some(at_ms), ..Default::default() });
        self.validate()
    }

    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::Io { path: path.display().to_string(), message: e.to_string() })?;
        Self::from_json(&text).map_err(|e| match e {
            ScenarioError::Syntax { line, column, message, .. } => {
                ScenarioError::Syntax { line, column, message, file: Some(path.display().to_string()) }
            }
            other => other,
        })
    }

    /// The protocol the run uses: `checkpointing.mode`, or `none` without a checkpointing section.
    pub fn protocol(&self) -> ProtocolName {
        self.checkpointing.as_ref().map_or(ProtocolName::NONE, |c| c.mode)
    }

    /// Switches the protocol (the `--protocol` flag). Any protocol but `none` needs a
    /// `checkpointing` section to supply the interval; `aligned_timeout` also needs
    /// `checkpointing.aligned_checkpoint_timeout_ms`.
    pub fn set_protocol(&mut self, p: ProtocolName) -> Result<(), ScenarioError> {
        match (&mut self.checkpointing, p) {
            (None, ProtocolName::NONE) => Ok(()),
            (None, _) => Err(ScenarioError::field(
                "checkpointing",
                format!("missing; protocol {} needs a checkpointing section with at least `interval_ms`", p.name()),
            )),
            (Some(c), _) => {
                validate::protocol_fits(c, p)?;
                validate::failures_fit(&self.failures, p)?;
                c.mode = p;
                Ok(())
            }
        }
    }

    /// The scenario as canonical JSON (fields in declaration order, maps sorted).
    pub fn to_canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a scenario always serializes")
    }

    /// A stable fingerprint of the scenario contents (16 hex digits), independent of whitespace
    /// and field order in the file. The seed is part of it.
    pub fn fingerprint(&self) -> String {
        let mut h = StableHasher::new();
        h.write_bytes(self.to_canonical_json().as_bytes());
        h.hex()
    }
}
