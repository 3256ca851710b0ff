//! The library API cannot panic on user input: a scenario built or changed in code is validated
//! by `engine::run`, and the builder gives the same checks as a scenario file.

use ckptsim::engine::{self, RunError, RunOptions};
use ckptsim::scenario::{ArrivalSpec, OperatorKind, OperatorSpec, Partitioner, ProtocolName, Scenario};

fn tiny() -> ckptsim::scenario::ScenarioBuilder {
    Scenario::builder("tiny", 3)
        .operator(OperatorSpec::source("src", 2, 50, ArrivalSpec::Constant { rate_per_sec: 5000 }))
        .operator(OperatorSpec::new("map", OperatorKind::Map).parallelism(2))
        .operator(OperatorSpec::new("out", OperatorKind::Sink))
        .edge("src", "map", Partitioner::Forward)
        .edge("map", "out", Partitioner::Rebalance)
        .checkpointing(ProtocolName::ALIGNED, 5)
}

fn scenario_error(r: Result<engine::RunResult, RunError>) -> String {
    match r {
        Err(RunError::Scenario(e)) => e.to_string(),
        Err(e) => panic!("expected a scenario error, got {e}"),
        Ok(_) => panic!("an invalid scenario ran"),
    }
}

#[test]
fn a_built_scenario_runs_and_commits_everything() -> Result<(), Box<dyn std::error::Error>> {
    let s = tiny().build()?;
    let r = engine::run(&s, RunOptions::default())?;
    assert!(r.summary.drained);
    assert_eq!(r.summary.records.committed, 100);
    assert_eq!(r.summary.consistent_cut.violations, 0);
    Ok(())
}

#[test]
fn parallelism_zero_given_to_run_is_an_error_naming_the_field() -> Result<(), Box<dyn std::error::Error>> {
    let mut s = tiny().build()?;
    s.topology.operators[1].parallelism = 0;
    let e = scenario_error(engine::run(&s, RunOptions::default()));
    assert!(e.contains("topology.operators[1].parallelism"), "{e}");
    Ok(())
}

#[test]
fn an_edge_to_an_unknown_operator_given_to_run_is_an_error() -> Result<(), Box<dyn std::error::Error>> {
    let mut s = tiny().build()?;
    s.topology.edges[1].to = "nowhere".into();
    let e = scenario_error(engine::run_with_protocol(&s, RunOptions::default(), ProtocolName::ALIGNED.create()));
    assert!(e.contains("topology.edges[1].to") && e.contains("nowhere"), "{e}");
    Ok(())
}

#[test]
fn the_builder_validates_like_a_file() {
    let e = tiny().edge("out", "src", Partitioner::Forward).build().unwrap_err().to_string();
    assert!(e.contains("topology.edges"), "{e}");
    let e = tiny().crash_at("map[7]", 1).build().unwrap_err().to_string();
    assert!(e.contains("failures[0]"), "{e}");
}

/// The per-task checkpoint rows streamed to a writer are the rows a run keeps otherwise.
#[test]
fn streamed_checkpoint_task_rows_equal_the_kept_ones() {
    let s = ckptsim::bundled::load("diamond").unwrap().unwrap();
    let kept = ckptsim::engine::run(&s, Default::default()).unwrap();
    assert!(!kept.checkpoint_tasks_streamed && !kept.checkpoint_tasks.is_empty());
    let buf = Shared::default();
    let opts = ckptsim::engine::RunOptions { checkpoint_tasks: Some(Box::new(buf.clone())), ..Default::default() };
    let streamed = ckptsim::engine::run(&s, opts).unwrap();
    assert!(streamed.checkpoint_tasks_streamed && streamed.checkpoint_tasks.is_empty());
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text, ckptsim::metrics::to_csv(&kept.checkpoint_tasks).unwrap());
    assert_eq!(streamed.summary.trace_hash, kept.summary.trace_hash);
}

/// A writer the test can read afterwards.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Streamed checkpoint rows: the file gets every row, memory keeps at most
/// `MAX_CHECKPOINT_ROWS` of them evenly spread, and the summary's counts stay exact — what keeps
/// a long run's memory flat. (A checkpoint every millisecond, 150 s: each takes ~10 ms with the
/// storage's latencies, so about 15,000 of them.)
#[test]
fn streamed_checkpoint_rows_are_all_written_and_a_bounded_number_kept() -> Result<(), Box<dyn std::error::Error>> {
    let s = Scenario::builder("many-checkpoints", 1)
        .operator(OperatorSpec::source("src", 1, 150_000, ArrivalSpec::Constant { rate_per_sec: 1000 }))
        .operator(OperatorSpec::new("out", OperatorKind::Sink))
        .edge("src", "out", Partitioner::Forward)
        .checkpointing(ProtocolName::ALIGNED, 1)
        .build()?;
    let file = Shared::default();
    let opts = RunOptions { checkpoints: Some(Box::new(file.clone())), ..Default::default() };
    let r = engine::run(&s, opts)?;
    let text = String::from_utf8(file.0.lock().unwrap().clone())?;
    let rows = text.lines().count() - 1;
    let c = &r.summary.checkpoints;
    assert!(rows > engine::MAX_CHECKPOINT_ROWS, "only {rows} checkpoints: the test needs more");
    assert_eq!(c.triggered, rows);
    assert_eq!(c.completed + c.aborted + c.failed + c.subsumed + c.unfinished, rows);
    assert!(r.checkpoints_streamed);
    assert!(
        r.checkpoints.len() <= engine::MAX_CHECKPOINT_ROWS && r.checkpoints.len() > engine::MAX_CHECKPOINT_ROWS / 4
    );
    // Evenly spread: the first checkpoint and ids at one stride from each other.
    assert_eq!(r.checkpoints[0].id, 1);
    let stride = r.checkpoints[1].id - r.checkpoints[0].id;
    assert!(stride >= 2 && r.checkpoints.windows(2).all(|w| w[1].id - w[0].id == stride), "stride {stride}");
    // Without streaming, every row stays.
    let all = engine::run(&s, RunOptions::default())?;
    assert_eq!((all.checkpoints.len(), all.checkpoints_streamed), (rows, false));
    assert_eq!(all.summary.checkpoints.triggered, c.triggered);
    Ok(())
}
