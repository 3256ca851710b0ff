//! Verification against the engine's ground truth, never against a protocol's own bookkeeping.
//! - [`cut`]: the consistent-cut checker run on every completed checkpoint (DESIGN §5).

pub mod cut;

pub use cut::{CutViolation, check_cut};
