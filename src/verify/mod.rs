//! Verification against the engine's ground truth, never against a protocol's own bookkeeping.
//! - [`cut`]: the consistent-cut checker run on every completed checkpoint (DESIGN §5);
//! - [`oracle`]: the exactly-once oracle, against a failure-free reference run;
//! - [`invariants`]: the named invariants of property testing;
//! - [`mutants`]: deliberately broken protocols the checkers must catch.

pub mod cut;
pub mod invariants;
pub mod mutants;
pub mod oracle;

pub use cut::{CutViolation, check_cut};
pub use oracle::Oracle;
