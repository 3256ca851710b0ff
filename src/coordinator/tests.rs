//! The coordinator on its own: no engine, no network — events in, commands out.

use super::*;
use crate::operator::Logic;
use crate::protocol::CheckpointId;
use crate::scenario::{ProtocolName, Scenario};
use crate::sim::MS;

/// source(1) → sink(1): two tasks, one channel.
fn graph() -> Graph {
    let s = Scenario::from_json(
        r#"{"name": "t", "seed": 1, "topology": {
            "operators": [
              {"id": "src", "kind": "source", "records_per_partition": 10,
               "arrival": {"kind": "constant", "rate_per_sec": 1000}},
              {"id": "out", "kind": "sink"}],
            "edges": [{"from": "src", "to": "out", "partitioner": "forward"}]}}"#,
    )
    .unwrap();
    Graph::build(&s)
}

fn coordinator(edit: impl FnOnce(&mut crate::scenario::Checkpointing)) -> (Coordinator, Graph) {
    let mut c: crate::scenario::Checkpointing =
        serde_json::from_str(r#"{"interval_ms": 100, "timeout_ms": 1000}"#).unwrap();
    edit(&mut c);
    let g = graph();
    (Coordinator::new(CoordinatorConfig::new(&c, ProtocolName::ALIGNED), &g, 16), g)
}

const RUNNING: JobState = JobState { sources_running: true, all_finished: false, stopping: false };

fn triggered(cmds: &[CoordCmd]) -> Vec<CheckpointId> {
    cmds.iter().filter_map(|c| if let CoordCmd::Trigger { timing, .. } = c { Some(timing.id) } else { None }).collect()
}

fn ticks(cmds: &[CoordCmd]) -> Vec<SimTime> {
    cmds.iter().filter_map(|c| if let CoordCmd::ScheduleTick(t) = c { Some(*t) } else { None }).collect()
}

fn ended(cmds: &[CoordCmd]) -> Vec<(CheckpointId, Outcome)> {
    cmds.iter().filter_map(|c| if let CoordCmd::Ended(e) = c { Some((e.cp, e.outcome)) } else { None }).collect()
}

/// Every task snapshots `cp` (nothing sent or consumed: a consistent cut) and acks at `at`.
fn complete(c: &mut Coordinator, g: &Graph, cp: CheckpointId, at: SimTime) -> Vec<CoordCmd> {
    let p = c.pending_mut(cp).unwrap();
    for (t, tp) in p.tasks.iter_mut().enumerate() {
        let ch = crate::graph::ChannelId(0);
        tp.snapshot = Some(TaskSnapshot {
            at,
            state_bytes: 8,
            state_digest: 0,
            consumed_digest: 0,
            consumed: if t == 1 { vec![(ch, 0, 0, 0)] } else { Vec::new() },
            state_kv: None,
            sent: if t == 0 { vec![(ch, 0)] } else { Vec::new() },
            seqs: Default::default(),
            sync: 0,
            paused: true,
            logic: Logic::Map,
            cursor: None,
            sink: Vec::new(),
            backend: crate::state::Backend::new(&Default::default(), t as u32, false, 16),
            files: Default::default(),
        });
    }
    let out = c.on_ack(at, TaskId(0), cp);
    assert!(out.is_empty(), "one ack of two completes nothing");
    let out = c.on_ack(at, TaskId(1), cp);
    assert!(matches!(out[..], [CoordCmd::WriteMetadata(id)] if id == cp), "the last ack writes the metadata");
    c.on_metadata(at, cp, g)
}

#[test]
fn a_tick_triggers_and_rearms_the_timer_one_interval_later() {
    let (mut c, _) = coordinator(|_| {});
    assert_eq!(ticks(&c.start()), vec![100 * MS]);
    let cmds = c.on_tick(100 * MS, RUNNING);
    assert_eq!(ticks(&cmds), vec![200 * MS]);
    assert_eq!(triggered(&cmds), vec![1]);
    match &cmds[1] {
        CoordCmd::Trigger { timing, timeout_at, is_final } => {
            assert_eq!((timing.trigger, *timeout_at, timing.deadline, *is_final), (100 * MS, 1100 * MS, None, false));
        }
        other => panic!("expected a trigger, got {other:?}"),
    }
    assert!(c.pending(1).is_some());
}

#[test]
fn max_concurrent_makes_the_trigger_wait_until_a_checkpoint_ends() {
    let (mut c, g) = coordinator(|c| c.min_pause_ms = 0);
    c.on_tick(100 * MS, RUNNING);
    let cmds = c.on_tick(200 * MS, RUNNING);
    assert!(cmds.is_empty(), "one in progress, max_concurrent 1: nothing, not even a tick: {cmds:?}");
    let cmds = complete(&mut c, &g, 1, 250 * MS);
    assert_eq!(ended(&cmds), vec![(1, Outcome::Completed)]);
    assert_eq!(ticks(&cmds), vec![250 * MS], "the waiting trigger fires as soon as the slot is free");
    assert!(matches!(cmds.last(), Some(CoordCmd::Release { cp: 1, completed: true, notify_aborted: false })));
    assert_eq!(c.latest().map(|l| l.id), Some(1));
}

#[test]
fn min_pause_delays_the_next_trigger_after_the_last_end() {
    let (mut c, g) = coordinator(|c| c.min_pause_ms = 80);
    c.on_tick(100 * MS, RUNNING);
    complete(&mut c, &g, 1, 150 * MS);
    let cmds = c.on_tick(200 * MS, RUNNING);
    assert_eq!(ticks(&cmds), vec![230 * MS]);
    assert!(triggered(&cmds).is_empty());
    assert_eq!(triggered(&c.on_tick(230 * MS, RUNNING)), vec![2]);
}

#[test]
fn a_timeout_aborts_and_a_late_ack_is_ignored() {
    let (mut c, g) = coordinator(|c| c.tolerable_failed_checkpoints = 5);
    c.on_tick(100 * MS, RUNNING);
    let cmds = c.on_timeout(1100 * MS, 1, &g);
    assert_eq!(ended(&cmds), vec![(1, Outcome::TimedOut)]);
    assert!(matches!(cmds.last(), Some(CoordCmd::Release { cp: 1, completed: false, notify_aborted: true })));
    assert!(c.on_ack(1200 * MS, TaskId(0), 1).is_empty());
    assert!(c.on_timeout(1300 * MS, 1, &g).is_empty(), "a checkpoint ends once");
}

#[test]
fn a_newer_completion_subsumes_older_pending_checkpoints() {
    let (mut c, g) = coordinator(|c| c.max_concurrent = 3);
    c.on_tick(100 * MS, RUNNING);
    c.on_tick(200 * MS, RUNNING);
    c.on_tick(300 * MS, RUNNING);
    let cmds = complete(&mut c, &g, 2, 350 * MS);
    assert_eq!(ended(&cmds), vec![(2, Outcome::Completed), (1, Outcome::Subsumed)]);
    assert_eq!(c.pending_ids(), vec![3]);
    assert_eq!(c.latest().map(|l| l.id), Some(2));
}

fn fails_job(cmds: &[CoordCmd]) -> bool {
    cmds.iter().any(|c| matches!(c, CoordCmd::FailJob(_)))
}

#[test]
fn exceeding_the_tolerable_failures_fails_the_job_over_and_starts_counting_again() {
    let (mut c, g) = coordinator(|c| c.tolerable_failed_checkpoints = 1);
    c.on_tick(100 * MS, RUNNING);
    assert!(!fails_job(&c.on_timeout(1100 * MS, 1, &g)), "one failure is tolerated");
    c.on_tick(1200 * MS, RUNNING);
    let second = c.on_timeout(2200 * MS, 2, &g);
    assert!(second.iter().any(|c| matches!(c, CoordCmd::FailJob(m) if m.contains("2 consecutive failed checkpoints exceed tolerable_failed_checkpoints (1)"))));
    // The failover's restart re-arms the timer; the counter started again from zero.
    c.on_restart(2300 * MS);
    c.on_tick(2400 * MS, RUNNING);
    assert!(!fails_job(&c.on_timeout(3400 * MS, 3, &g)));
}

#[test]
fn a_completed_checkpoint_resets_the_failure_counter() {
    // Flink's CheckpointFailureManager counts consecutive failures: T, T, C, T, T stays within
    // a tolerance of 2 (a cumulative count would fail the job at the third failure).
    let (mut c, g) = coordinator(|c| c.tolerable_failed_checkpoints = 2);
    let mut t = 100 * MS;
    let mut cp = 1;
    for completes in [false, false, true, false, false] {
        c.on_tick(t, RUNNING);
        let cmds = if completes { complete(&mut c, &g, cp, t + 10 * MS) } else { c.on_timeout(t + 1000 * MS, cp, &g) };
        assert!(!fails_job(&cmds), "checkpoint {cp}");
        t += 1100 * MS;
        cp += 1;
    }
    c.on_tick(t, RUNNING);
    assert!(fails_job(&c.on_timeout(t + 1000 * MS, cp, &g)), "the third consecutive failure fails the job");
}

#[test]
fn a_final_checkpoint_that_times_out_is_triggered_again() {
    let (mut c, g) = coordinator(|c| c.tolerable_failed_checkpoints = 10);
    let done = JobState { sources_running: false, all_finished: true, stopping: false };
    let cmds = c.on_tick(100 * MS, done);
    assert!(matches!(cmds[0], CoordCmd::Trigger { is_final: true, .. }));
    let cmds = c.on_timeout(1100 * MS, 1, &g);
    assert_eq!(ticks(&cmds), vec![1100 * MS], "the final checkpoint is retried");
    let cmds = c.on_tick(1100 * MS, done);
    assert!(matches!(cmds[0], CoordCmd::Trigger { is_final: true, timing: CheckpointTiming { id: 2, .. }, .. }));
    let cmds = complete(&mut c, &g, 2, 1200 * MS);
    assert!(ticks(&cmds).is_empty(), "done: nothing more to trigger");
    assert!(c.on_tick(1300 * MS, done).is_empty());
}

#[test]
fn failures_and_subsumptions_do_not_count_against_the_tolerance() {
    let (mut c, g) = coordinator(|c| {
        c.tolerable_failed_checkpoints = 0;
        c.max_concurrent = 2;
    });
    c.on_tick(100 * MS, RUNNING);
    c.on_tick(200 * MS, RUNNING);
    let cmds = c.abort_all(250 * MS, Outcome::Failed, &g);
    assert_eq!(ended(&cmds), vec![(1, Outcome::Failed), (2, Outcome::Failed)]);
    assert!(!cmds.iter().any(|c| matches!(c, CoordCmd::FailJob(_))));
    assert_eq!(ticks(&c.on_restart(300 * MS)), vec![400 * MS]);
    assert_eq!(triggered(&c.on_tick(400 * MS, RUNNING)), vec![3]);
}

#[test]
fn after_end_of_input_one_final_checkpoint_runs_when_every_task_finished() {
    let (mut c, g) = coordinator(|_| {});
    let draining = JobState { sources_running: false, all_finished: false, stopping: false };
    let done = JobState { sources_running: false, all_finished: true, stopping: false };
    assert!(c.on_tick(100 * MS, draining).is_empty(), "tasks still drain: wait");
    let cmds = c.on_tick(120 * MS, done);
    assert_eq!(triggered(&cmds), vec![1]);
    assert!(ticks(&cmds).is_empty(), "the final checkpoint re-arms nothing");
    assert!(c.on_tick(130 * MS, done).is_empty(), "one final checkpoint at a time");
    complete(&mut c, &g, 1, 140 * MS);
}

#[test]
fn the_aligned_timeout_deadline_is_set_only_for_protocols_that_use_it() {
    let mut cfg: crate::scenario::Checkpointing =
        serde_json::from_str(r#"{"interval_ms": 100, "aligned_checkpoint_timeout_ms": 20}"#).unwrap();
    let g = graph();
    let mut aligned = Coordinator::new(CoordinatorConfig::new(&cfg, ProtocolName::ALIGNED), &g, 16);
    cfg.mode = ProtocolName::ALIGNED_TIMEOUT;
    let mut timeout = Coordinator::new(CoordinatorConfig::new(&cfg, ProtocolName::ALIGNED_TIMEOUT), &g, 16);
    let deadline = |cmds: Vec<CoordCmd>| {
        cmds.into_iter()
            .find_map(|c| if let CoordCmd::Trigger { timing, .. } = c { Some(timing.deadline) } else { None })
    };
    assert_eq!(deadline(aligned.on_tick(100 * MS, RUNNING)), Some(None));
    assert_eq!(deadline(timeout.on_tick(100 * MS, RUNNING)), Some(Some(120 * MS)));
}

#[test]
fn min_pause_counts_from_the_last_completed_checkpoint_not_from_an_abort() {
    let (mut c, g) = coordinator(|c| {
        c.min_pause_ms = 80;
        c.timeout_ms = 50;
        c.tolerable_failed_checkpoints = 10;
    });
    c.on_tick(100 * MS, RUNNING);
    c.on_timeout(150 * MS, 1, &g);
    // No checkpoint completed yet: the abort at 150 ms imposes no pause.
    assert_eq!(triggered(&c.on_tick(200 * MS, RUNNING)), vec![2]);
    complete(&mut c, &g, 2, 210 * MS);
    c.on_tick(300 * MS, RUNNING);
    c.on_timeout(350 * MS, 3, &g);
    // The pause counts from 210 ms (the completion), so 400 ms is free to trigger.
    assert_eq!(triggered(&c.on_tick(400 * MS, RUNNING)), vec![4]);
}

#[test]
fn while_a_stop_waits_no_periodic_checkpoint_starts_and_the_tick_returns_when_one_ends() {
    let (mut c, g) = coordinator(|k| k.max_concurrent = 2);
    c.start();
    assert_eq!(triggered(&c.on_tick(100 * MS, RUNNING)), vec![1]);
    // A stop waits for checkpoint 1: the next tick starts nothing, though a slot is free.
    let stopping = JobState { stopping: true, ..RUNNING };
    let cmds = c.on_tick(200 * MS, stopping);
    assert!(triggered(&cmds).is_empty() && ticks(&cmds).is_empty(), "{cmds:?}");
    // Checkpoint 1 ends: the tick comes back (min pause 0) for whatever follows — the savepoint,
    // or the periodic timer if the stop failed meanwhile.
    let cmds = complete(&mut c, &g, 1, 250 * MS);
    assert_eq!(ticks(&cmds), vec![250 * MS]);
    // Draining sources (no stop applies any more) still get their final checkpoint.
    let done = JobState { sources_running: false, all_finished: true, stopping: true };
    assert_eq!(triggered(&c.on_tick(260 * MS, done)), vec![2]);
}

#[test]
fn a_snapshot_finds_its_channels_by_place_and_by_search_when_listed_otherwise() {
    let g = graph();
    let ch = crate::graph::ChannelId(0);
    let mut s = TaskSnapshot {
        at: 0,
        state_bytes: 0,
        state_digest: 0,
        consumed_digest: 0,
        consumed: vec![(ch, 7, 0, 0)],
        state_kv: None,
        sent: vec![(ch, 9)],
        seqs: Default::default(),
        sync: 0,
        paused: false,
        logic: Logic::Map,
        cursor: None,
        sink: Vec::new(),
        backend: crate::state::Backend::new(&Default::default(), 0, false, 16),
        files: Default::default(),
    };
    assert_eq!((g.at_sender[0], g.at_receiver[0]), (0, 0));
    assert_eq!((s.sent_on(&g, ch), s.consumed_on(&g, ch)), (Some(9), Some(7)));
    // Listed in another order (not as the engine captures): found by search.
    let other = crate::graph::ChannelId(5);
    s.sent.insert(0, (other, 1));
    s.consumed.insert(0, (other, 1, 0, 0));
    assert_eq!((s.sent_index(&g, ch), s.consumed_index(&g, ch)), (Some(1), Some(1)));
    assert_eq!((s.sent_on(&g, ch), s.consumed_on(&g, ch)), (Some(9), Some(7)));
    s.sent.remove(1);
    assert_eq!(s.sent_on(&g, ch), None);
}
