//! Verification against the engine's ground truth, never against a protocol's own bookkeeping.
//! - [`cut`]: the consistent-cut checker run on every completed checkpoint (DESIGN §5);
//! - [`oracle`]: the exactly-once oracle, against a failure-free reference run.

pub mod cut;
pub mod oracle;

pub use cut::{CutViolation, check_cut};
pub use oracle::Oracle;
