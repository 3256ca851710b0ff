//! # ckptsim
//!
//! A deterministic discrete-event simulator of a Flink-like dataflow — operators, parallel tasks,
//! credit-based network buffers and backpressure — built to compare and verify distributed
//! snapshot (checkpoint) protocols.
//!
//! Layout (one concept per module):
//! - [`sim`]: integer time, the `(time, seq)` event queue, the seeded RNG tree, the stable hash;
//! - [`scenario`]: the scenario file (serde types) and its validation;
//! - [`graph`]: the topology expanded into tasks and channels;
//! - [`operator`]: what each operator kind does to a record, and the replayable source log;
//! - [`net`]: channels, buffers, credits;
//! - [`engine`]: the event loop that moves records through the graph, and checkpointing;
//! - [`protocol`]: the snapshot protocols, one file each behind one trait;
//! - [`coordinator`]: checkpoint settings, checkpoints in progress and their statistics;
//! - [`verify`]: the consistent-cut checker;
//! - [`compare`]: every protocol on one scenario;
//! - [`metrics`]: histograms, time series and the run summary;
//! - [`trace`]: trace events, the trace hash and the JSON Lines writer;
//! - [`report`]: result files; [`cli`]: the command-line interface.
#![forbid(missing_docs)]
#![forbid(unsafe_code)]

pub mod bundled;
pub mod cli;
pub mod compare;
pub mod coordinator;
pub mod cos418;
pub mod engine;
pub mod explore;
pub mod graph;
pub mod metrics;
pub mod net;
pub mod operator;
pub mod protocol;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod sweep;
pub mod teach;
pub mod trace;
pub mod verify;
