//! The rows a checkpoint leaves behind when it ends: its line of `checkpoints.csv` and one line
//! per task of `checkpoint_tasks.csv`, computed from its [`Pending`] record.

use super::{Outcome, Pending, TaskProgress};
use crate::metrics::{CheckpointStats, TaskCheckpointRow};
use crate::sim::{SimTime, ns_to_ms};

fn max_of(v: impl Iterator<Item = f64>) -> f64 {
    v.fold(0.0, f64::max)
}

pub(super) fn stats(
    p: &Pending,
    now: SimTime,
    outcome: Outcome,
    violations: usize,
    record_bytes: u64,
) -> CheckpointStats {
    let trig = p.timing.trigger;
    let snaps = || p.tasks.iter().filter_map(|t| t.snapshot.as_ref().map(|s| (t, s)));
    let records: usize = p.channels.iter().map(|c| c.input.len() + c.output.len()).sum();
    CheckpointStats {
        id: p.timing.id,
        trigger_ms: ns_to_ms(trig),
        end_ms: ns_to_ms(now),
        outcome,
        duration_ms: ns_to_ms(now - trig),
        start_delay_max_ms: max_of(p.tasks.iter().filter_map(|t| t.first_barrier).map(|f| ns_to_ms(f - trig))),
        alignment_max_ms: max_of(p.tasks.iter().filter_map(alignment).map(ns_to_ms)),
        sync_max_ms: max_of(snaps().map(|(_, s)| ns_to_ms(s.sync))),
        async_max_ms: max_of(p.tasks.iter().filter_map(|t| t.upload).map(|(_, d)| ns_to_ms(d))),
        state_bytes: snaps().map(|(_, s)| s.state_bytes).sum(),
        incremental_bytes: snaps().map(|(_, s)| s.files.new_bytes).sum(),
        uploaded_files: snaps().map(|(_, s)| s.files.upload_files as u64).sum(),
        referenced_files: snaps()
            .map(|(_, s)| (s.files.files.len() as u64).saturating_sub(s.files.new_files as u64))
            .sum(),
        storage_bytes: 0,
        channel_state_bytes: records as u64 * record_bytes,
        channel_state_records: records as u64,
        channel_state_files: 0,
        processed_bytes: p.tasks.iter().map(|t| processed(t) * record_bytes).sum(),
        cut_violations: violations,
    }
}

/// Flink's alignment duration: first barrier → latest barrier the task processed.
fn alignment(t: &TaskProgress) -> Option<SimTime> {
    Some(t.last_barrier? - t.first_barrier?)
}

/// Records the task took between its first and its latest barrier.
fn processed(t: &TaskProgress) -> u64 {
    t.taken_at_last - t.taken_at_first
}

pub(super) fn task_row(p: &Pending, tp: &TaskProgress, name: &str, record_bytes: u64) -> TaskCheckpointRow {
    let trig = p.timing.trigger;
    let snap = tp.snapshot.as_ref();
    TaskCheckpointRow {
        id: p.timing.id,
        task: name.to_string(),
        first_barrier_ms: tp.first_barrier.map(ns_to_ms),
        last_barrier_ms: tp.last_barrier.map(ns_to_ms),
        start_delay_ms: tp.first_barrier.map(|f| ns_to_ms(f - trig)),
        alignment_ms: alignment(tp).map(ns_to_ms),
        snapshot_ms: snap.map(|s| ns_to_ms(s.at)),
        sync_ms: snap.filter(|s| s.paused).map(|s| ns_to_ms(s.sync)),
        async_ms: tp.upload.map(|(_, d)| ns_to_ms(d)),
        ack_ms: tp.acked.map(ns_to_ms),
        end_to_end_ms: tp.acked.map(|a| ns_to_ms(a - trig)),
        processed_bytes: processed(tp) * record_bytes,
        state_bytes: snap.map_or(0, |s| s.state_bytes),
        incremental_bytes: snap.map_or(0, |s| s.files.new_bytes),
        uploaded_bytes: snap.map_or(0, |s| s.files.upload_bytes),
        channel_state_bytes: tp.channel_bytes,
    }
}
