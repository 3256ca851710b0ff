//! The simulation kernel: integer time, the event queue and the seeded RNG tree.
//!
//! Nothing here knows about dataflows; the engine (`crate::engine`) builds on these pieces.
//! What does *not* live here: operator logic, the network model, metrics.

mod hash;
mod queue;
mod rng;

pub use hash::StableHasher;
pub use queue::EventQueue;
pub use rng::{Component, RngState, RngTree, SimRng, mix64};

/// Dense id of a task (a parallel instance of an operator); an index into the graph's tasks.
/// It lives at the bottom of the module tree so that protocols need nothing above `sim`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u32);

/// Dense id of a channel (one upstream task → one downstream task).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelId(pub u32);

/// Simulated time in nanoseconds since the start of the run. Never a float.
pub type SimTime = u64;

/// Nanoseconds per microsecond.
pub const US: SimTime = 1_000;
/// Nanoseconds per millisecond.
pub const MS: SimTime = 1_000_000;
/// Nanoseconds per second.
pub const SEC: SimTime = 1_000_000_000;

/// Formats a [`SimTime`] as milliseconds with three decimals (`12.300`), for humans.
pub fn fmt_ms(t: SimTime) -> String {
    format!("{}.{:03}", t / MS, (t % MS) / US)
}

/// Converts nanoseconds to (fractional) milliseconds for reports only — never for simulation logic.
pub fn ns_to_ms(t: SimTime) -> f64 {
    t as f64 / MS as f64
}
