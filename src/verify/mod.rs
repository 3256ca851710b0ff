//! Verification against the engine's ground truth, never against a protocol's own bookkeeping.
//! - [`cut`]: the consistent-cut checker run on every completed checkpoint (DESIGN §5);
//! - [`model`]: the independent reference — the expected output and state, from the source logs
//!   through the DAG without the engine;
//! - [`oracle`]: the exactly-once oracle, against the model, cross-checked with a failure-free
//!   engine run;
//! - [`invariants`]: the named invariants of property testing;
//! - [`mutants`]: deliberately broken protocols the checkers must catch.

pub mod cut;
pub mod invariants;
pub mod model;
pub mod mutants;
pub mod oracle;
pub mod uncoordinated;

pub use cut::{CutViolation, check_cut};
pub use oracle::Oracle;
