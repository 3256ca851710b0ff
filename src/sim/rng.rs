//! The RNG tree: one master ChaCha key from the scenario seed, one independent stream per component.
//!
//! Every component (each source, each task's cost model, the network, later the failure injector)
//! draws from its own ChaCha stream, selected with `set_stream`. Adding a component therefore never
//! shifts the draws of another one.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A component that owns a random stream. The numbering is part of the trace format: do not reorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Component {
    /// The network (latency jitter).
    Network,
    /// The arrival process of one source log partition.
    SourceLog(u32),
    /// The processing-cost model (and partitioner start) of one task.
    Task(u32),
    /// The failure injector.
    Failures,
}

impl Component {
    fn stream_id(self) -> u64 {
        match self {
            Component::Network => 1,
            Component::Failures => 2,
            Component::SourceLog(p) => (1 << 32) | p as u64,
            Component::Task(t) => (2 << 32) | t as u64,
        }
    }
}

/// Derives the per-component RNG streams from one seed.
///
/// ```
/// use ckptsim::sim::{Component, RngTree};
/// use rand::Rng;
/// let tree = RngTree::new(7);
/// let a: u64 = tree.stream(Component::Task(0)).r#gen();
/// let b: u64 = tree.stream(Component::Task(0)).r#gen();
/// let c: u64 = tree.stream(Component::Task(1)).r#gen();
/// assert_eq!(a, b);
/// assert_ne!(a, c);
/// ```
#[derive(Clone, Debug)]
pub struct RngTree {
    seed: u64,
}

impl RngTree {
    /// The tree for a scenario seed.
    pub fn new(seed: u64) -> Self {
        RngTree { seed }
    }

    /// A fresh RNG positioned at the start of `component`'s stream.
    pub fn stream(&self, component: Component) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(component.stream_id());
        rng
    }
}

/// SplitMix64 finaliser: a stable, well-mixed pure function of a 64-bit input.
/// Used for record keys/values (a pure function of seed, partition and offset) and for partitioning.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
