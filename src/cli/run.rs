//! `ckptsim run`: one scenario, its summary and its output files.

use super::{CliError, ScenarioArgs, replay_command};
use crate::engine::{self, RunOptions};
use crate::report;
use crate::sim::{MS, fmt_ms};
use crate::state::savepoint::{Restore, Savepoint, SavepointFormat};
use crate::verify::Oracle;
use clap::Args;
use std::path::PathBuf;

/// The arguments of `run`.
#[derive(Args, Debug)]
pub(super) struct RunArgs {
    #[command(flatten)]
    input: ScenarioArgs,
    /// Output directory [default: output/<scenario>/<protocol>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write every trace event to this file as JSON Lines.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Stop the job with a savepoint at MS milliseconds (Flink's `stop`), written to
    /// OUT/savepoints/savepoint-<id>/.
    #[arg(long, value_name = "MS")]
    stop_with_savepoint_at: Option<u64>,
    /// With --stop-with-savepoint-at: end the sources first and let the job drain (`stop --drain`).
    #[arg(long, requires = "stop_with_savepoint_at")]
    drain: bool,
    /// Savepoint format: canonical (every key-value written out; any backend reads it) or native
    /// (the backend's own files).
    #[arg(long, value_name = "FORMAT", default_value = "canonical", value_parser = parse_format)]
    savepoint_format: SavepointFormat,
    /// Start from this savepoint (the directory holding `_metadata`), possibly with another
    /// parallelism or more operators.
    #[arg(long, value_name = "DIR")]
    restore: Option<PathBuf>,
    /// With --restore: drop the state of operators the scenario no longer has
    /// (Flink's allowNonRestoredState).
    #[arg(long, requires = "restore")]
    allow_non_restored_state: bool,
}

fn parse_format(v: &str) -> Result<SavepointFormat, String> {
    match v {
        "canonical" => Ok(SavepointFormat::Canonical),
        "native" => Ok(SavepointFormat::Native),
        _ => Err(format!("expected canonical or native, found {v:?}")),
    }
}

pub(super) fn exec(a: RunArgs) -> Result<(), CliError> {
    let RunArgs {
        input,
        out,
        trace,
        stop_with_savepoint_at,
        drain,
        savepoint_format,
        restore,
        allow_non_restored_state,
    } = a;
    let mut s = input.load()?;
    let restore = match &restore {
        Some(dir) => {
            let sp = Savepoint::load(dir).map_err(CliError::input)?;
            Restore::adopt_max_parallelism(&sp, &mut s);
            let plan = Restore::plan(&sp, &s, allow_non_restored_state)
                .map_err(|e| CliError::input(format!("--restore {}: {e}", dir.display())))?;
            if sp.meta.drained {
                say!(
                    "warning: savepoint {} was taken with --drain: in Flink every event-time timer fired as if the input had ended, and resuming repeats those results (ckptsim jobs have no timers)",
                    dir.display()
                );
            }
            Some(plan)
        }
        None => None,
    };
    let (scenario, fail_at) = (&input.scenario, &input.fail_at);
    let dir = out.unwrap_or_else(|| PathBuf::from("output").join(&s.name).join(s.protocol().name()));
    super::prepare_out(&dir)?;
    say!("ckptsim run {}  seed={}  fingerprint={}", scenario.display(), s.seed, s.fingerprint());
    let trace_out: Option<Box<dyn std::io::Write>> = match &trace {
        Some(p) => {
            let f = std::fs::File::create(p).map_err(|e| CliError::io(&format!("cannot create {}", p.display()), e))?;
            Some(Box::new(std::io::BufWriter::new(f)))
        }
        None => None,
    };
    // The checkpoint rows go straight to their files: they are what grows with run length.
    let create = |name: &str| -> Result<Box<dyn std::io::Write>, CliError> {
        let path = dir.join(name);
        let f =
            std::fs::File::create(&path).map_err(|e| CliError::io(&format!("cannot create {}", path.display()), e))?;
        Ok(Box::new(std::io::BufWriter::new(f)))
    };
    let opts = RunOptions {
        collect_output: true,
        trace: trace_out,
        checkpoints: Some(create("checkpoints.csv")?),
        checkpoint_tasks: Some(create("checkpoint_tasks.csv")?),
        stop_with_savepoint: stop_with_savepoint_at.map(|ms| engine::StopWithSavepoint {
            at: ms * MS,
            drain,
            format: savepoint_format,
        }),
        restore: restore.clone(),
        ..Default::default()
    };
    let mut result = engine::run(&s, opts)?;
    // The exactly-once check covers the part of the log this run was responsible for: from the
    // savepoint it started from, up to the savepoint it stopped with.
    let mut oracle = Oracle::reference(&s)?;
    if let Some(r) = &restore {
        oracle = oracle.from(r.from_offsets.clone(), r.new_operators.clone()).carrying(r.carried_counts(&s));
    }
    if let Some(sp) = &result.savepoint {
        oracle = oracle.until(&s, sp.source_offsets());
    }
    result.summary.exactly_once = oracle.check(&result);
    report::write_run(&dir, &result).map_err(|e| CliError::io(&format!("writing {}", dir.display()), e))?;
    print_summary(&result.summary)?;
    let protocol = s.protocol();
    if s.network.reorder_us > 0
        && protocol != crate::scenario::ProtocolName::NONE
        && protocol.info().coordinated
        && protocol.info().channel_state != crate::protocol::ChannelStateRule::WhiteRecords
    {
        say!(
            "  note: network.reorder_us = {} makes the channels non-FIFO, and {} sends its barriers in-band assuming FIFO order: cut violations are expected here (a negative control; lai_yang is built for such channels)",
            s.network.reorder_us,
            protocol.name()
        );
    }
    if let Some(r) = &result.summary.restored_from {
        say!(
            "  restored from {} {}{}",
            r.kind,
            r.checkpoint_id,
            if r.notes.is_empty() { String::new() } else { format!(": {}", r.notes.join("; ")) }
        );
    }
    if let Some(sp) = &result.savepoint {
        let spdir = dir.join("savepoints").join(sp.dir_name());
        sp.write(&spdir).map_err(|e| CliError::io(&format!("writing {}", spdir.display()), e))?;
        say!(
            "  savepoint {} ({} format{}): {} bytes, triggered at {:.1} ms, complete at {:.1} ms; written to {}",
            sp.meta.checkpoint_id,
            format!("{:?}", sp.meta.format).to_lowercase(),
            if sp.meta.drained { ", drained" } else { "" },
            sp.meta.bytes,
            sp.meta.triggered_ms,
            sp.meta.completed_ms,
            spdir.display()
        );
        say!("  resume with: ckptsim run {} --restore {}", scenario.display(), spdir.display());
    } else if let Some(why) = result.summary.savepoint.as_ref().and_then(|s| s.failed.as_ref()) {
        say!("  STOP-WITH-SAVEPOINT FAILED: {why}");
    }
    if let Some(chk) = &result.retained {
        let chkdir = dir.join("checkpoints").join(chk.dir_name());
        chk.write(&chkdir).map_err(|e| CliError::io(&format!("writing {}", chkdir.display()), e))?;
        let inflight: usize = chk.channels.iter().map(|c| c.records.len()).sum();
        let pending: usize = chk.states.iter().flatten().map(|t| t.pending.len()).sum();
        say!(
            "  retained checkpoint {} (checkpointing.retention): {} bytes of state, {inflight} in-flight records, {pending} records in pending transactions; written to {}",
            chk.meta.checkpoint_id,
            chk.meta.bytes,
            chkdir.display()
        );
        say!("  resume with: ckptsim run {} --restore {}", scenario.display(), chkdir.display());
    }
    if result.summary.exactly_once.violations > 0 || result.summary.consistent_cut.violations > 0 {
        say!("  replay: {}", replay_command(scenario, &s, fail_at, &input.set));
    }
    if let Some(t) = &trace {
        say!("  trace: {}", t.display());
    }
    say!(
        "  wrote {}/summary.json, timeseries.csv, checkpoints.csv, checkpoint_tasks.csv and charts (*.svg)",
        dir.display()
    );
    run_verdict(&result.summary)
}

/// Exit code 1 when a check failed, the job failed for good, or the watchdog stopped the run.
fn run_verdict(m: &crate::metrics::Summary) -> Result<(), CliError> {
    let failed = m.failed_checks();
    if failed.is_empty() { Ok(()) } else { Err(CliError { code: 1, message: failed.join("; ") }) }
}

/// The short human summary of a run.
fn print_summary(m: &crate::metrics::Summary) -> Result<(), CliError> {
    say!(
        "  protocol {}: simulated {} ms, {} events, trace hash {}",
        m.protocol,
        fmt_ms(m.sim_time_ns),
        m.events,
        m.trace_hash
    );
    say!(
        "  records: {} read, {} at sinks; throughput {:.0} records/s",
        m.records.source_read,
        m.records.sink_received,
        m.throughput_rps
    );
    say!(
        "  latency (log arrival → sink): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        m.latency_ms.p50,
        m.latency_ms.p99,
        m.latency_ms.max
    );
    match m.backpressure.iter().filter(|(_, f)| **f > 0.0).max_by(|a, b| a.1.total_cmp(b.1)) {
        Some((task, f)) => {
            say!("  most backpressured task: {task} ({:.1}% of the time blocked on output)", f * 100.0)
        }
        None => say!("  no backpressure: no task was ever blocked on output"),
    }
    let max_q = m.max_queued_buffers.values().max().copied().unwrap_or(0);
    say!("  deepest input queue: {max_q} buffers (credit bound {})", m.credit_bound);
    let c = &m.checkpoints;
    if c.triggered > 0 {
        say!(
            "  checkpoints: {} triggered, {} completed, {} aborted; duration p50 {:.3} ms, p99 {:.3} ms; alignment p50 {:.3} ms",
            c.triggered,
            c.completed,
            c.aborted,
            c.duration_ms.p50,
            c.duration_ms.p99,
            c.alignment_ms.p50
        );
        say!(
            "  snapshot size p50: {} state bytes + {} channel-state bytes; inputs blocked {:.1} ms in total",
            c.state_bytes.p50,
            c.channel_state_bytes.p50,
            m.input_blocked_ms
        );
        if m.recovery.checkpoint_failovers > 0 {
            say!("  failovers after too many consecutive failed checkpoints: {}", m.recovery.checkpoint_failovers);
        }
    }
    if let Some(u) = &m.uncoordinated {
        say!(
            "  local checkpoints: {} (every task on its own timer, no barriers); output commits only below the recovery line",
            u.local_checkpoints
        );
        for r in &u.recoveries {
            say!(
                "  recovery line after the failure at {:.1} ms: {} of {} tasks rolled back ({} to their start), up to {:.1} ms; {} rollbacks forced, {} local checkpoints of no use",
                r.failed_at_ms,
                r.tasks_rolled_back,
                m.backpressure.len(),
                r.tasks_to_start,
                r.max_rollback_ms,
                r.forced,
                r.useless_checkpoints
            );
        }
    }
    if c.triggered > 0 || m.uncoordinated.is_some() {
        if m.failures > 0 {
            let r = &m.recovery;
            say!(
                "  failures: {} crashes, {} restarts; down {:.1} ms, restore {:.1} ms ({} bytes downloaded), {} records reprocessed, caught up in {:.1} ms",
                m.failures,
                m.recoveries,
                r.downtime_ms,
                r.restore_ms,
                r.restore_bytes,
                r.reprocessed_records,
                r.catch_up_ms
            );
            say!(
                "  restarted tasks: {}",
                r.restarted_tasks.iter().map(|(t, n)| format!("{t}×{n}")).collect::<Vec<_>>().join(", ")
            );
        }
        say!(
            "  visible output: {} records; latency log arrival → visible p50 {:.3} ms, p99 {:.3} ms",
            m.records.committed,
            m.latency_ms.committed_p50,
            m.latency_ms.committed_p99
        );
        let cut = &m.consistent_cut;
        let what = if m.uncoordinated.is_some() { "recovery lines" } else { "checkpoints" };
        match &cut.first_violation {
            None => say!("  consistent cut: {} {what} checked, 0 violations", cut.checked),
            Some(v) => {
                say!("  CONSISTENT CUT VIOLATED: {} violations in {} {what}; first: {v}", cut.violations, cut.checked)
            }
        }
    }
    let eo = &m.exactly_once;
    if let Some(why) = &eo.not_checked {
        say!("  exactly once: not checked — {why}");
    }
    if eo.checked {
        match &eo.first_violation {
            None => say!(
                "  exactly once: every expected record visible exactly once, with the expected values; final state equals the reference"
            ),
            Some(v) => say!(
                "  EXACTLY-ONCE VIOLATED: {} missing, {} duplicated, {} state mismatches, {} value mismatches, {} keys in the wrong task, {} reference mismatches; first: {v}",
                eo.missing,
                eo.duplicated,
                eo.state_mismatches,
                eo.value_mismatches,
                eo.ownership_violations,
                eo.reference_mismatches
            ),
        }
        for part in &eo.not_checked_parts {
            say!("  not checked (depends on arrival order): {part}");
        }
    }
    if let Some(why) = &m.job_failed {
        say!("  JOB FAILED: {why}");
    }
    if let Some(why) = &m.watchdog {
        say!("  STOPPED BY THE WATCHDOG: {why}");
    } else if let Some(at) = m.cancelled_at_ms {
        say!("  cancelled at {at:.0} ms (limits.cancel_at_ms), as a benchmark ends its job");
    } else if !m.drained {
        say!("  WARNING: the run did not drain — some task never finished");
    }
    Ok(())
}
