//! The snapshot protocols and the consistent-cut checker (issue: checkpoint coordinator and
//! protocols). Correct protocols never violate the cut; the checker catches at-least-once and
//! deliberately broken variants; the backpressure scenario shows the classic figures.

mod common;

use ckptsim::engine::RunOptions;
use ckptsim::scenario::{ProtocolName, Scenario};
use ckptsim::verify::mutants::Mutant;

fn with_protocol(name: &str, p: ProtocolName) -> Scenario {
    let mut s = common::load(name);
    s.set_protocol(p).unwrap();
    s
}

#[test]
fn correct_protocols_give_consistent_cuts_on_every_bundled_scenario() {
    for name in common::bundled() {
        for p in ckptsim::explore::correct_protocols() {
            let mut s = common::load(&name);
            if s.set_protocol(p).is_err() {
                assert!(!p.info().coordinated, "{name}/{}", p.name());
                continue; // crashes at checkpoint moments: uncoordinated has none
            }
            let m = common::run(&s).summary;
            let c = &m.checkpoints;
            assert!(m.drained, "{name}/{}: did not drain", p.name());
            if let Some(u) = &m.uncoordinated {
                // No global checkpoints: local ones, and the recovery lines are checked.
                assert!(u.local_checkpoints >= 10, "{name}: {} local checkpoints", u.local_checkpoints);
                let cut = &m.consistent_cut;
                assert!(cut.checked >= 1 && cut.violations == 0, "{name}/uncoordinated: {cut:?}");
                continue;
            }
            // A micro-batch holds what arrived while the last one ran: on a job that lags, the
            // batches grow and there are few of them.
            let min = if p.info().sources == ckptsim::protocol::SourceMode::MicroBatches { 2 } else { 10 };
            assert!(c.completed >= min, "{name}/{}: only {} checkpoints completed", p.name(), c.completed);
            assert_eq!(c.unfinished, 0, "{name}/{}: a checkpoint hung", p.name());
            assert_eq!(m.consistent_cut.checked, c.completed, "{name}/{}", p.name());
            assert_eq!(
                m.consistent_cut.violations,
                0,
                "{name}/{}: {}",
                p.name(),
                m.consistent_cut.first_violation.unwrap_or_default()
            );
        }
    }
}

#[test]
fn at_least_once_is_caught_with_orphans_on_multi_input_scenarios() {
    for name in ["diamond", "backpressure"] {
        let r = common::run(&with_protocol(name, ProtocolName::AT_LEAST_ONCE));
        assert!(r.summary.consistent_cut.violations > 0, "{name}: at_least_once passed the cut checker");
        let first = r.summary.consistent_cut.first_violation.unwrap();
        assert!(first.contains("orphans"), "{name}: {first}");
        assert!(r.cut_violations.iter().all(|v| matches!(v, ckptsim::verify::CutViolation::Orphans { .. })));
    }
}

/// A receiver that forgets to block an aligned input resumes its sender at once (Flink's
/// ResumeConsumption), so data behind the barrier arrives one round trip later. On `backpressure`
/// the alignment outlasts that round trip and the checker sees orphans; on `diamond` alignments
/// are shorter than a round trip and the sender's pause alone keeps the cut consistent.
#[test]
fn the_checker_catches_aligned_that_forgets_to_block_one_input() {
    let s = with_protocol("backpressure", ProtocolName::ALIGNED);
    let violations: usize = (0..3)
        .map(|k| {
            let mut seeded = s.clone();
            seeded.seed += k;
            Mutant::AlignedSkipsOneBlock.run(&seeded, RunOptions::default()).unwrap().summary.consistent_cut.violations
        })
        .sum();
    assert!(violations > 0, "the broken aligned variant passed on three seeds");
    // The same scenario with the real protocol is clean: the checker is not just noisy.
    assert_eq!(common::run(&s).summary.consistent_cut.violations, 0);
}

#[test]
fn the_checker_catches_unaligned_that_drops_its_output_buffer_state() {
    let s = with_protocol("backpressure", ProtocolName::UNALIGNED);
    let r = Mutant::UnalignedDropsOutputState.run(&s, RunOptions::default()).unwrap();
    assert!(r.summary.consistent_cut.violations > 0, "dropping output-buffer state passed the checker");
    let first = r.summary.consistent_cut.first_violation.unwrap();
    assert!(first.contains("channel state should be records"), "{first}");
}

#[test]
fn the_checker_catches_chandy_lamport_without_channel_recording() {
    let s = with_protocol("diamond", ProtocolName::CHANDY_LAMPORT);
    let r = Mutant::ChandyLamportRecordsNothing.run(&s, RunOptions::default()).unwrap();
    assert!(r.summary.consistent_cut.violations > 0);
}

fn figures(p: ProtocolName) -> ckptsim::metrics::Summary {
    common::run(&with_protocol("backpressure", p)).summary
}

#[test]
fn backpressure_shows_the_classic_figures() {
    let aligned = figures(ProtocolName::ALIGNED);
    let unaligned = figures(ProtocolName::UNALIGNED);
    let cl = figures(ProtocolName::CHANDY_LAMPORT);
    let timeout = figures(ProtocolName::ALIGNED_TIMEOUT);
    let (a, u, t) = (
        aligned.checkpoints.duration_ms.p50,
        unaligned.checkpoints.duration_ms.p50,
        timeout.checkpoints.duration_ms.p50,
    );
    // Aligned barriers queue behind the backpressured data; unaligned ones overtake it. Both
    // pay the same storage costs (a file write of 5 ms for the upload, one for the metadata):
    // beyond those, aligned takes many times longer.
    let fixed = 10.0;
    assert!(
        a - fixed >= 4.0 * (u - fixed),
        "aligned p50 {a:.2} ms is not ≫ unaligned p50 {u:.2} ms beyond the {fixed} ms of file writes"
    );
    assert_eq!(aligned.checkpoints.channel_state_bytes.max, 0.0, "aligned persisted channel state");
    assert!(unaligned.checkpoints.channel_state_bytes.p50 > 0.0, "unaligned persisted no channel state");
    assert!(aligned.input_blocked_ms > 0.0, "aligned never blocked an input");
    // Chandy-Lamport records channel state and never blocks.
    assert!(cl.checkpoints.channel_state_bytes.p50 > 0.0);
    assert_eq!(cl.input_blocked_ms, 0.0, "chandy_lamport blocked an input");
    assert_eq!(unaligned.input_blocked_ms, 0.0);
    // Aligned with a timeout lies between the two: bounded by the timeout, some channel state.
    assert!(u < t && t < a, "aligned_timeout p50 {t:.2} ms not between unaligned {u:.2} and aligned {a:.2}");
    assert!(timeout.checkpoints.channel_state_bytes.p50 > 0.0);
    assert!(timeout.checkpoints.channel_state_bytes.p50 < unaligned.checkpoints.channel_state_bytes.p50);
}

/// A `Write` the test can read back after the run.
#[derive(Clone, Default)]
struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `s` with its full trace kept, as parsed JSON lines.
fn traced(s: &Scenario) -> (ckptsim::engine::RunResult, Vec<serde_json::Value>) {
    let buf = Shared::default();
    let opts = ckptsim::engine::RunOptions { trace: Some(Box::new(buf.clone())), ..Default::default() };
    let r = ckptsim::engine::run(s, opts).unwrap();
    let trace = buf.0.borrow();
    let events = std::str::from_utf8(&trace).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (r, events)
}

#[test]
fn synchronous_snapshots_halt_the_sources_and_cost_throughput_not_size() {
    let (r, events) = traced(&with_protocol("backpressure", ProtocolName::SYNCHRONOUS));
    // Between a source's halt and its resumption it processes no record; every halt ends.
    let mut halted: std::collections::BTreeMap<String, u64> = Default::default();
    let (mut halts, mut resumes, mut processed_while_halted) = (0, 0, 0);
    for e in &events {
        let task = e["task"].as_str().unwrap_or_default().to_string();
        match e["ev"].as_str().unwrap() {
            "source_halted" => {
                assert!(task.starts_with("src["), "{task} halted");
                assert!(halted.insert(task, e["checkpoint"].as_u64().unwrap()).is_none(), "halted twice");
                halts += 1;
            }
            "source_resumed" => {
                assert_eq!(halted.remove(&task), e["checkpoint"].as_u64(), "{task} resumed for another checkpoint");
                resumes += 1;
            }
            "process" if halted.contains_key(&task) => processed_while_halted += 1,
            _ => {}
        }
    }
    assert_eq!(processed_while_halted, 0, "a halted source read records");
    let sources = 2;
    assert!(halts >= sources * 10, "{halts} halts");
    assert!(resumes + halted.len() == halts && halted.len() <= sources, "{resumes} resumes of {halts} halts");
    // Exactly once with consistent cuts and no channel state; the price is throughput.
    let m = &r.summary;
    assert_eq!((m.exactly_once.violations, m.consistent_cut.violations), (0, 0));
    assert_eq!(m.checkpoints.channel_state_bytes.max, 0.0);
    let aligned = figures(ProtocolName::ALIGNED);
    assert!(
        m.throughput_rps < 0.95 * aligned.throughput_rps,
        "synchronous {:.0} records/s, aligned {:.0}",
        m.throughput_rps,
        aligned.throughput_rps
    );
    assert!(m.latency_ms.committed_p99 > aligned.latency_ms.committed_p99);
}

#[test]
fn micro_batches_read_only_planned_batches_and_pay_in_latency() {
    let (r, events) = traced(&with_protocol("pipeline", ProtocolName::MICRO_BATCH));
    // A source reads only between its batch's planning and the snapshot that ends the batch.
    let mut open: std::collections::BTreeMap<String, u64> = Default::default();
    let (mut planned, mut ended, mut outside) = (0, 0, 0);
    for e in &events {
        let task = e["task"].as_str().unwrap_or_default().to_string();
        if !task.starts_with("src[") {
            continue;
        }
        match e["ev"].as_str().unwrap() {
            "batch_planned" => {
                assert!(open.insert(task, e["checkpoint"].as_u64().unwrap()).is_none(), "two batches at once");
                planned += 1;
            }
            "snapshot" if open.get(&task) == e["checkpoint"].as_u64().as_ref() => {
                open.remove(&task);
                ended += 1;
            }
            "process" if !open.contains_key(&task) => outside += 1,
            _ => {}
        }
    }
    assert_eq!(outside, 0, "a source read outside a batch");
    assert!(planned >= 10 && ended == planned, "{planned} batches planned, {ended} ended");
    // Exactly once; a record waits in its log for the next trigger: the sink latency is of the
    // order of the interval (50 ms), where the continuous protocols take about a millisecond.
    let m = &r.summary;
    assert_eq!((m.exactly_once.violations, m.consistent_cut.violations), (0, 0));
    let aligned = common::run(&with_protocol("pipeline", ProtocolName::ALIGNED)).summary;
    assert!(aligned.latency_ms.p50 < 2.0, "{}", aligned.latency_ms.p50);
    assert!(m.latency_ms.p50 > 20.0 && m.latency_ms.p99 > 40.0, "{:?}", m.latency_ms);
    assert!(m.latency_ms.committed_p99 > aligned.latency_ms.committed_p99);
}

#[test]
fn on_non_fifo_channels_every_barrier_protocol_is_caught() {
    // The negative control of issue 17: barriers and markers assume FIFO channels. With a
    // reordering window a marker can overtake a record sent before it (which then belongs to no
    // snapshot) or a record sent after it (an orphan); the cut checker, judging each channel as
    // a set, must catch every protocol — and the same job on FIFO channels must pass.
    // Lai-Yang, built for such channels, must pass on them.
    use ckptsim::protocol::ChannelStateRule;
    for p in ckptsim::explore::correct_protocols() {
        let mut s = with_protocol("diamond", p);
        let fifo = common::run(&s).summary;
        assert_eq!(fifo.consistent_cut.violations, 0, "{}", p.name());
        s.network.reorder_us = 300;
        let r = common::run(&s).summary;
        if !p.info().coordinated {
            // No barriers: a recovery line has nothing in flight, whatever the order.
            assert_eq!((r.consistent_cut.violations, r.exactly_once.violations), (0, 0), "{}", p.name());
        } else if p.info().channel_state == ChannelStateRule::WhiteRecords {
            let c = &r.consistent_cut;
            assert_eq!((c.violations, c.checked, r.exactly_once.violations), (0, 20, 0), "{}: {:?}", p.name(), c);
        } else {
            assert!(r.consistent_cut.violations > 0, "{}: no violation on non-FIFO channels", p.name());
        }
        assert_eq!(r.trace_hash, common::run(&s).summary.trace_hash, "{}: deterministic", p.name());
    }
    // `run` fails such a job (exit 1) and says why the violations are expected.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["run", &common::scenario_path("non-fifo/diamond").to_string_lossy(), "--out"])
        .arg(std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("non-fifo-run"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("CONSISTENT CUT VIOLATED") && said.contains("a negative control"), "{said}");
    // Reordering is a knob of its own: left at 0 it changes nothing, not even the fingerprint.
    let s = common::load("diamond");
    let mut zero = s.clone();
    zero.network.reorder_us = 0;
    assert_eq!(zero.fingerprint(), s.fingerprint());
}

#[test]
fn determinism_holds_with_checkpointing_for_every_protocol() {
    let mut hashes = Vec::new();
    for p in ProtocolName::all() {
        let s = with_protocol("diamond", p);
        let a = common::run(&s).summary;
        let b = common::run(&s).summary;
        assert_eq!(a.trace_hash, b.trace_hash, "{}", p.name());
        assert_eq!(a.checkpoints.duration_ms.p99, b.checkpoints.duration_ms.p99, "{}", p.name());
        hashes.push((p, a.trace_hash));
    }
    // On FIFO channels no red record ever comes before the control message, and the white
    // records end where the marker is: Lai-Yang is Chandy-Lamport there, trace for trace.
    let hash = |q: ProtocolName| hashes.iter().find(|h| h.0 == q).map(|h| h.1.clone());
    assert_eq!(hash(ProtocolName::LAI_YANG), hash(ProtocolName::CHANDY_LAMPORT));
    let hashes: Vec<String> = hashes.iter().filter(|h| h.0 != ProtocolName::LAI_YANG).map(|h| h.1.clone()).collect();
    let mut distinct = hashes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), hashes.len(), "two protocols produced the same trace: {hashes:?}");
}

#[test]
fn timed_out_checkpoints_unblock_their_inputs_and_past_the_tolerance_fail_the_job_over() {
    // Aligned on the backpressure scenario takes ≈ 30 ms; a 15 ms timeout aborts every checkpoint.
    let mut s = with_protocol("backpressure", ProtocolName::ALIGNED);
    s.checkpointing.as_mut().unwrap().timeout_ms = 15;
    s.checkpointing.as_mut().unwrap().tolerable_failed_checkpoints = 3;
    s.restart.attempts = 2;
    let m = common::run(&s).summary;
    assert_eq!(m.checkpoints.completed, 0);
    // As Flink's CheckpointFailureManager: the 4th consecutive failure fails the job over
    // through the restart strategy (two restarts), and the third time it fails for good.
    assert_eq!(m.recovery.checkpoint_failovers, 3);
    assert_eq!(m.recoveries, 2);
    assert_eq!(m.checkpoints.aborted, 12);
    let why = m.job_failed.as_deref().unwrap();
    assert!(why.contains("4 consecutive failed checkpoints exceed tolerable_failed_checkpoints (3)"), "{why}");
    assert!(why.contains("restart.attempts = 2"), "{why}");
    assert!(!m.drained);
    // With enough tolerance the blocked inputs are released after each abort and the job drains.
    s.checkpointing.as_mut().unwrap().tolerable_failed_checkpoints = 1000;
    let m = common::run(&s).summary;
    assert!(m.drained, "blocked inputs were not released after the abort");
    assert_eq!(m.recovery.checkpoint_failovers, 0);
    // Unaligned checkpoints finish within the same timeout.
    s.set_protocol(ProtocolName::UNALIGNED).unwrap();
    let m = common::run(&s).summary;
    assert_eq!(m.checkpoints.aborted, 0);
    assert!(m.checkpoints.completed >= 10);
}

#[test]
fn min_pause_and_max_concurrent_shape_the_trigger_times() {
    let mut s = with_protocol("backpressure", ProtocolName::ALIGNED);
    s.checkpointing.as_mut().unwrap().min_pause_ms = 150;
    let r = common::run(&s);
    for w in r.checkpoints.windows(2) {
        assert!(
            w[1].trigger_ms >= w[0].end_ms + 150.0 - 1e-6,
            "checkpoint {} triggered too early after {}",
            w[1].id,
            w[0].id
        );
    }
    // Aligned checkpoints (≈ 55 ms) outlast a 40 ms interval: with 2 concurrent ones they overlap.
    s.checkpointing.as_mut().unwrap().min_pause_ms = 0;
    s.checkpointing.as_mut().unwrap().interval_ms = 40;
    s.checkpointing.as_mut().unwrap().max_concurrent = 2;
    let r = common::run(&s);
    assert!(r.checkpoints.windows(2).any(|w| w[1].trigger_ms < w[0].end_ms), "no two checkpoints overlapped");
    assert_eq!(r.summary.consistent_cut.violations, 0);
    assert!(r.summary.drained);
    let single = common::run(&with_protocol("backpressure", ProtocolName::ALIGNED));
    assert!(r.summary.checkpoints.triggered > single.summary.checkpoints.triggered);
}

#[test]
fn checkpoint_csvs_are_written_with_one_row_per_checkpoint_and_task() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-protocol");
    let _ = std::fs::remove_dir_all(&dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["run", &common::scenario_path("diamond").to_string_lossy(), "--protocol", "unaligned", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("protocol unaligned") && stdout.contains("0 violations"), "{stdout}");
    let csv = std::fs::read_to_string(dir.join("checkpoints.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(rows.len() as u64, summary["checkpoints"]["triggered"].as_u64().unwrap());
    assert!(rows.iter().all(|r| r.split(',').nth(3) == Some("completed")));
    let tasks = std::fs::read_to_string(dir.join("checkpoint_tasks.csv")).unwrap();
    let tasks_per_cp = ckptsim::graph::Graph::build(&common::load("diamond")).tasks.len();
    assert_eq!(tasks.lines().count() - 1, rows.len() * tasks_per_cp);
    // A bad protocol name is an input error.
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["run", &common::scenario_path("diamond").to_string_lossy(), "--protocol", "optimistic"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("allowed: none, aligned, unaligned"));
}

#[test]
fn compare_runs_every_protocol_and_writes_compare_json() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compare");
    let _ = std::fs::remove_dir_all(&dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["compare", &common::scenario_path("diamond").to_string_lossy(), "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    for p in ProtocolName::all() {
        assert!(table.contains(p.name()), "table lacks {}: {table}", p.name());
        assert!(dir.join(p.name()).join("summary.json").exists());
    }
    // Without completed checkpoints the checkpoint columns say `-`, not a duration of 0.
    for (p, ckpts) in [("none", "0/0"), ("uncoordinated", "local")] {
        let line = table.lines().find(|l| l.starts_with(&format!("{p} "))).unwrap();
        let cells: Vec<&str> = line.split_whitespace().collect();
        let at = cells.iter().position(|c| *c == ckpts).unwrap_or_else(|| panic!("{line}"));
        assert_eq!(cells[at + 1..at + 6], ["-"; 5], "{line}");
    }
    let aligned = table.lines().find(|l| l.starts_with("aligned ")).unwrap();
    assert!(!aligned.split_whitespace().any(|c| c == "-"), "{aligned}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), ProtocolName::all().len());
    // compare's runs are the same as single runs (same seed, same protocol).
    let single = common::run(&with_protocol("diamond", ProtocolName::CHANDY_LAMPORT)).summary;
    let row = rows.iter().find(|r| r["protocol"] == "chandy_lamport").unwrap();
    assert_eq!(row["trace_hash"], single.trace_hash.as_str());
}

#[test]
fn compare_runs_only_the_protocols_asked_for_in_that_order() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("compare-some");
    let _ = std::fs::remove_dir_all(&dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["compare", &common::scenario_path("diamond").to_string_lossy(), "--protocols", "unaligned,aligned"])
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    let names: Vec<&str> = json["rows"].as_array().unwrap().iter().map(|r| r["protocol"].as_str().unwrap()).collect();
    assert_eq!(names, ["unaligned", "aligned"]);
    assert!(!dir.join("chandy_lamport").exists());
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("--protocols unaligned,aligned"), "the reproduce line names them");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["compare", &common::scenario_path("diamond").to_string_lossy(), "--protocols", "aligned,optimistic"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("optimistic"));
}

#[test]
fn a_min_pause_longer_than_the_interval_keeps_checkpoints_coming() {
    // Unaligned checkpoints end ≈ 7 ms after their trigger, long before the next 100 ms tick; a
    // 150 ms pause then delays every trigger, but must never stop them.
    let mut s = with_protocol("backpressure", ProtocolName::UNALIGNED);
    s.checkpointing.as_mut().unwrap().min_pause_ms = 150;
    let r = common::run(&s);
    assert!(r.summary.checkpoints.completed >= 8, "only {} checkpoints", r.summary.checkpoints.completed);
    for w in r.checkpoints.windows(2) {
        assert!(w[1].trigger_ms >= w[0].end_ms + 150.0 - 1e-6, "checkpoint {} triggered too early", w[1].id);
    }
}

#[test]
fn no_protocol_hangs_or_deadlocks_on_any_bundled_scenario() {
    for name in common::bundled() {
        for p in ProtocolName::all() {
            let mut s = common::load(&name);
            if s.set_protocol(p).is_err() {
                // Crashes at checkpoint moments, which uncoordinated does not have (only it
                // refuses such a job: the others fit every bundled scenario).
                assert!(!p.info().coordinated, "{name}/{}", p.name());
                continue;
            }
            let m = common::run(&s).summary;
            assert!(m.drained, "{name}/{}: deadlock — some task never finished", p.name());
            assert_eq!(m.checkpoints.unfinished, 0, "{name}/{}: a checkpoint never completed nor timed out", p.name());
            let c = &m.checkpoints;
            assert_eq!(c.triggered, c.completed + c.aborted + c.failed + c.subsumed, "{name}/{}", p.name());
            if m.failures == 0 {
                // With failures, records are read again after a restore (see tests/recovery.rs).
                assert_eq!(m.records.source_read, m.records.sink_received, "{name}/{}", p.name());
            }
        }
    }
}
