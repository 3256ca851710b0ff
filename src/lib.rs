//! # ckptsim
//!
//! A deterministic discrete-event simulator of a Flink-like dataflow — operators, parallel tasks,
//! credit-based network buffers and backpressure — built to compare and verify distributed
//! snapshot (checkpoint) protocols.
//!
//! Driving a run from Rust: build (or load) a scenario, run it, read the summary. An invalid
//! scenario is an error naming the field, never a panic.
//!
//! ```
//! use ckptsim::scenario::{ArrivalSpec, OperatorKind, OperatorSpec, Partitioner, ProtocolName, Scenario};
//! let s = Scenario::builder("tiny", 1)
//!     .operator(OperatorSpec::source("src", 2, 100, ArrivalSpec::Constant { rate_per_sec: 1000 }))
//!     .operator(OperatorSpec::new("out", OperatorKind::Sink))
//!     .edge("src", "out", Partitioner::Rebalance)
//!     .checkpointing(ProtocolName::ALIGNED, 10)
//!     .build()
//!     .unwrap();
//! let mut r = ckptsim::engine::run(&s, ckptsim::engine::RunOptions { collect_output: true, ..Default::default() })
//!     .unwrap();
//! ckptsim::verify::oracle::attach(&s, &mut r).unwrap();
//! assert_eq!(r.summary.records.committed, 200);
//! assert_eq!(r.summary.consistent_cut.violations, 0);
//! assert_eq!(r.summary.exactly_once.violations, 0);
//! ```
//!
//! Layout (one concept per module):
//! - [`sim`]: integer time, task and channel ids, the `(time, seq)` event queue, the seeded RNG
//!   tree and its samplers, the stable hash;
//! - [`scenario`]: the scenario file (serde types), its validation and builder;
//! - [`bundled`]: the bundled scenarios, compiled in;
//! - [`graph`]: the topology expanded into tasks and channels, partitioners, pipelined regions;
//! - [`operator`]: what each operator kind does to a record, the replayable source log, sinks;
//! - [`net`]: channels, buffers, credits;
//! - [`engine`]: the event loop, checkpointing, failures and recovery, the metrics recorder;
//! - [`protocol`]: the snapshot protocols, one file each behind one trait, and their registry;
//! - [`coordinator`]: the checkpoint coordinator as a state machine;
//! - [`state`]: state backends (hashmap, RocksDB LSM, changelog) and the shared-state registry;
//! - [`verify`]: the consistent-cut checker, the independent model and the exactly-once oracle,
//!   the named invariants and the mutants;
//! - [`explore`]: random scenarios and seed exploration;
//! - [`compare`], [`sweep`], [`backends`]: every protocol on one scenario; one field over values;
//!   one scenario under several state backends;
//! - [`metrics`]: histograms, the summary and CSV rows;
//! - [`trace`]: trace events, the trace hash and the JSON Lines writer;
//! - [`teach`]: diagrams, narrated logs, the ShiViz export; [`cos418`]: the COS 418 token world;
//! - [`report`]: result files, charts and report pages; [`cli`]: the command-line interface.
#![forbid(missing_docs)]
#![forbid(unsafe_code)]

pub mod backends;
pub mod bundled;
pub mod cli;
pub mod compare;
pub mod coordinator;
pub mod cos418;
pub mod engine;
pub mod explore;
pub mod flinkbench;
pub mod graph;
pub mod metrics;
pub mod net;
pub mod operator;
pub mod protocol;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod state;
pub mod sweep;
pub mod teach;
pub mod trace;
pub mod verify;
