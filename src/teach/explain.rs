//! `ckptsim explain`: a narrated step log of one checkpoint — every barrier, block, snapshot,
//! ack and commit in plain language, each line naming the rule of the protocol that caused it.
//! It reads the run's checkpoint and failure trace events; nothing here changes the simulation.

use crate::engine::RunResult;
use crate::graph::{ChannelId, Graph, TaskId};
use crate::protocol::{CheckpointId, SnapshotStory};
use crate::scenario::{OperatorKind, ProtocolName, Scenario};
use crate::sim::{SimTime, fmt_ms, ns_to_ms};
use crate::trace::TraceEvent;
use serde::Serialize;
use std::collections::BTreeMap;

/// One narrated step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// When (ms; a number in JSON Lines).
    pub t_ms: f64,
    /// When, in simulated nanoseconds (the text log prints it as milliseconds, truncated).
    #[serde(skip)]
    pub t_ns: SimTime,
    /// The task it happened at, if any.
    pub task: Option<String>,
    /// The trace event behind it.
    pub event: &'static str,
    /// What happened.
    pub text: String,
    /// The rule that made it happen.
    pub rule: String,
}

/// The rule of a loop's head (Carbone et al. 2015, Algorithm 2).
const BACK_EDGE_RULE: &str = "ABS on a cyclic graph: a loop's head cannot wait for the barrier on its back-edge (it only comes round after the head's own snapshot), so it snapshots on its other inputs and logs its back-edge until the barrier returns — the logged records are part of the snapshot";

/// Narrates checkpoint `cp` of run `r` of scenario `s` (the run must have kept its protocol trace).
pub fn explain(s: &Scenario, r: &RunResult, cp: CheckpointId) -> Vec<Step> {
    let g = Graph::build(s);
    let protocol = ProtocolName::parse(&r.summary.protocol).unwrap_or(ProtocolName::NONE);
    let ck = s.checkpointing.as_ref();
    let task = |t: TaskId| g.task(t).name.clone();
    // Inputs a task aligns on: all but an iteration head's back-edges.
    let inputs = |t: TaskId| g.task(t).input_gates.iter().flatten().filter(|&&c| !g.is_back(c)).count();
    let is_source = |t: TaskId| s.topology.operators[g.task(t).op].kind == OperatorKind::Source;
    let is_sink = |t: TaskId| s.topology.operators[g.task(t).op].kind == OperatorKind::Sink;
    let (mut start, mut end) = (None::<SimTime>, None::<SimTime>);
    for &(t, ev) in &r.protocol_trace {
        match ev {
            TraceEvent::Triggered { cp: c } if c == cp => start = Some(t),
            TraceEvent::Completed { cp: c } | TraceEvent::Aborted { cp: c } if c == cp => end = Some(t),
            _ => {}
        }
    }
    let Some(start) = start else { return Vec::new() };
    let end = end.unwrap_or(SimTime::MAX);
    let mut out = Vec::new();
    let mut arrived: BTreeMap<TaskId, usize> = BTreeMap::new();
    let mut last_barrier: BTreeMap<ChannelId, CheckpointId> = BTreeMap::new();
    let mut arrival_at: BTreeMap<ChannelId, SimTime> = BTreeMap::new();
    let mut acks = 0;
    let mut past_deadline = false;
    let mut step = |t: SimTime, task: Option<String>, event: &'static str, text: String, rule: String| {
        out.push(Step { t_ms: ns_to_ms(t), t_ns: t, task, event, text, rule })
    };
    for &(t, ev) in &r.protocol_trace {
        let in_window = t >= start && t <= end;
        match ev {
            TraceEvent::Triggered { cp: c } if c == cp => {
                let rule = match ck {
                    Some(c) => format!(
                        "coordinator: a trigger every interval_ms = {} (max_concurrent {}, min_pause_ms {})",
                        c.interval_ms, c.max_concurrent, c.min_pause_ms
                    ),
                    None => "coordinator".into(),
                };
                step(t, None, "triggered", format!("the coordinator triggers checkpoint {cp}: the trigger reaches every source task"), rule);
                for chain in g.chains().iter().filter(|c| c.len() > 1) {
                    let names: Vec<String> = chain.iter().map(|&m| task(m)).collect();
                    step(t, None, "chain", format!("{} run as one task (an operator chain)", names.join(" → ")), "chaining: a forward edge into an operator with no other input runs in one thread — no network buffers, and a barrier passes along the chain at once".into());
                }
            }
            TraceEvent::BarrierArrive { ch, cp: c, .. } if c == cp && g.is_back(ch) => {
                let node = g.channel(ch);
                last_barrier.insert(ch, c);
                step(
                    t,
                    Some(task(node.to)),
                    "barrier",
                    format!(
                        "barrier {cp} comes round the loop from {} back to {}: the log of that back-edge ends — what it holds is the records that were going round at the cut",
                        task(node.from),
                        task(node.to)
                    ),
                    BACK_EDGE_RULE.into(),
                );
            }
            TraceEvent::BarrierArrive { ch, cp: c, priority } if c == cp => {
                let node = g.channel(ch);
                let n = arrived.entry(node.to).or_default();
                *n += 1;
                last_barrier.insert(ch, c);
                arrival_at.insert(ch, t);
                let rule = if priority {
                    "a priority barrier overtakes every buffer queued ahead of it, at the sender and at the receiver".to_string()
                } else {
                    "an in-band barrier travels FIFO: it reaches the task only after the data queued before it".to_string()
                };
                step(
                    t,
                    Some(task(node.to)),
                    "barrier",
                    format!("barrier {cp} from {} arrives at {} ({} of {} inputs)", task(node.from), task(node.to), n, inputs(node.to)),
                    rule,
                );
            }
            TraceEvent::Block { ch } if in_window && last_barrier.get(&ch) == Some(&cp) => {
                let node = g.channel(ch);
                let n = arrived.get(&node.to).copied().unwrap_or(0);
                step(
                    t,
                    Some(task(node.to)),
                    "block",
                    format!(
                        "{} blocks its input from {}: barrier {cp} came that way, so what follows it must wait ({} of {} inputs aligned)",
                        task(node.to),
                        task(node.from),
                        n,
                        inputs(node.to)
                    ),
                    "aligned: block each input on which the barrier arrived until it arrived on all inputs".into(),
                );
            }
            TraceEvent::BarrierTaken { ch, cp: c } if c == cp && arrival_at.get(&ch).is_some_and(|&a| t > a) => {
                let node = g.channel(ch);
                let waited = ns_to_ms(t - arrival_at[&ch]);
                step(
                    t,
                    Some(task(node.to)),
                    "barrier_taken",
                    format!("{} takes barrier {cp} from {} after {waited:.3} ms in its input queue", task(node.to), task(node.from)),
                    "the barrier waited behind the records queued before it (or the record in hand): the task reaches it only after them".into(),
                );
            }
            TraceEvent::Unblock { ch } if in_window => {
                let node = g.channel(ch);
                step(t, Some(task(node.to)), "unblock", format!("{} unblocks its input from {}", task(node.to), task(node.from)), "the snapshot is taken (or the checkpoint ended): blocked inputs flow again".into());
            }
            TraceEvent::Resume { ch } if in_window => {
                let node = g.channel(ch);
                step(t, Some(task(node.from)), "resume", format!("{} resumes sending to {}: its ResumeConsumption arrived", task(node.from), task(node.to)), "aligned: a sender holds what follows a barrier on that channel until the receiver has aligned (the data waits in the sender's buffers, not the receiver's)".into());
            }
            TraceEvent::Deadline { cp: c } if c == cp => {
                past_deadline = true;
                let ms = ck.and_then(|c| c.aligned_checkpoint_timeout_ms).unwrap_or(0);
                step(t, None, "deadline", format!("checkpoint {cp} has been aligning for {ms} ms: it turns unaligned"), "aligned_timeout: barriers still queued become priority barriers; tasks still aligning snapshot at once and record their inputs".into());
            }
            TraceEvent::Snapshot { task: tk, cp: c } if c == cp => {
                let back: Vec<ChannelId> = g.task(tk).input_gates.iter().flatten().copied().filter(|&c| g.is_back(c)).collect();
                let n = inputs(tk);
                let all = if n == 1 { "on its only input".to_string() } else { format!("on all {n} inputs") };
                let (text, rule) = if is_source(tk) && protocol.info().sources == crate::protocol::SourceMode::MicroBatches {
                    (format!("{} has read batch {cp}: it records its end offset and emits the barrier that ends the batch", task(tk)), "micro-batch: a source ends its batch once it has read the records its trigger planned".to_string())
                } else if is_source(tk) {
                    (format!("{} snapshots its log offset and emits barrier {cp}", task(tk)), "sources snapshot when the trigger reaches them".to_string())
                } else if t == start {
                    (format!("{} has finished: its final state joins checkpoint {cp}", task(tk)), "a finished task is part of every later checkpoint with its final state (FLIP-147)".to_string())
                } else {
                    let name = task(tk);
                    let has_outputs = !g.task(tk).outputs.is_empty();
                    (protocol.info().narrate_snapshot)(&SnapshotStory {
                        task: &name,
                        cp,
                        all_inputs: &all,
                        past_deadline,
                        has_outputs,
                    })
                };
                let (text, rule) = if !back.is_empty() && t != start {
                    let from: Vec<String> = back.iter().map(|&b| task(g.channel(b).from)).collect();
                    (
                        format!(
                            "{text}; it heads a loop: what comes round its back-edge{} from {} is logged until barrier {cp} comes round too (it did not wait for the barrier there)",
                            if back.len() > 1 { "s" } else { "" },
                            from.join(" and ")
                        ),
                        BACK_EDGE_RULE.to_string(),
                    )
                } else {
                    (text, rule)
                };
                step(t, Some(task(tk)), "snapshot", text, rule);
            }
            TraceEvent::Ack { task: tk, cp: c } if c == cp => {
                acks += 1;
                step(
                    t,
                    Some(task(tk)),
                    "ack",
                    format!("the coordinator receives {}'s ack ({} of {} tasks)", task(tk), acks, g.tasks.len()),
                    "a task acks once its state and channel state are uploaded to the checkpoint storage".into(),
                );
            }
            TraceEvent::Completed { cp: c } if c == cp => step(
                t,
                None,
                "completed",
                format!(
                    "checkpoint {cp} is complete after {} ms: every task acked and the metadata file is written; the coordinator notifies them all",
                    fmt_ms(t - start)
                ),
                "a checkpoint completes when every task acked and the JobManager wrote its metadata file (one file write)".into(),
            ),
            TraceEvent::Aborted { cp: c } if c == cp => step(
                t,
                None,
                "aborted",
                format!("checkpoint {cp} is abandoned after {} ms", fmt_ms(t - start)),
                "timeout, a newer checkpoint completing first (subsumed), or a failure".into(),
            ),
            TraceEvent::Notify { task: tk, cp: c } if c == cp && is_sink(tk) => step(
                t,
                Some(task(tk)),
                "notify",
                format!("{} learns that checkpoint {cp} completed and commits its transactions up to {cp}: that output becomes visible", task(tk)),
                "two-phase commit: pre-commit at the snapshot, commit on the completion notice".into(),
            ),
            TraceEvent::SourceHalted { task: tk, cp: c } if c == cp => step(
                t,
                Some(task(tk)),
                "halt",
                format!("{} halts: it reads nothing more until checkpoint {cp} is stored", task(tk)),
                "synchronous: the sources stop at the trigger, so the job drains behind the barriers and stands still while every task snapshots and uploads".into(),
            ),
            TraceEvent::RedRecord { ch, cp: c } if c == cp => {
                let node = g.channel(ch);
                step(
                    t,
                    Some(task(node.to)),
                    "red_record",
                    format!(
                        "{} is about to take a red record from {}: written after {}'s snapshot, so {} snapshots first (it has had no control message yet)",
                        task(node.to),
                        task(node.from),
                        task(node.from),
                        task(node.to)
                    ),
                    "Lai-Yang: a process snapshots before taking its first red record; without FIFO channels the control message may come later".into(),
                )
            }
            TraceEvent::BatchPlanned { task: tk, cp: c } if c == cp => step(
                t,
                Some(task(tk)),
                "batch_planned",
                format!("{} plans batch {cp}: the records that reached its log by now — an offset range Spark writes to its offset log before the batch runs", task(tk)),
                "micro-batch: a trigger plans a batch of what the logs hold; nothing is read between batches".into(),
            ),
            TraceEvent::SourceResumed { task: tk, cp: c } if c == cp => step(
                t,
                Some(task(tk)),
                "unhalt",
                format!("{} reads again: checkpoint {cp} is complete, the pause is over (records that arrived in its log meanwhile wait there)", task(tk)),
                "synchronous: the end of the checkpoint releases the sources".into(),
            ),
            TraceEvent::Crash { task: tk } if in_window => step(t, Some(task(tk)), "crash", format!("{} crashes: the whole job goes down", task(tk)), "global restart (Flink's default for all-to-all graphs)".into()),
            TraceEvent::Restart if in_window => step(t, None, "restart", "the job restarts from its latest completed checkpoint: state restored, sources rewound, channel state replayed first".into(), "restart strategy: fixed delay".into()),
            _ => {}
        }
    }
    out
}

/// Narrates restart `n` (1, 2, …) of a run under `uncoordinated` checkpoints: the failure, where
/// the search for the recovery line starts, every rollback it forced with the rule behind it, and
/// the line it found. Empty when the run had no such restart.
pub fn explain_recovery(s: &Scenario, r: &RunResult, n: usize) -> Vec<Step> {
    let Some(line) = n.checked_sub(1).and_then(|i| r.recovery_lines.get(i)) else { return Vec::new() };
    let g = Graph::build(s);
    let task = |t: TaskId| g.task(t).name.clone();
    let at =
        |ns: SimTime| if ns == 0 { "its start".to_string() } else { format!("its checkpoint of {} ms", fmt_ms(ns)) };
    let t = line.failed_at;
    let mut out = Vec::new();
    let mut step = |task: Option<String>, event: &'static str, text: String, rule: &str| {
        out.push(Step { t_ms: ns_to_ms(t), t_ns: t, task, event, text, rule: rule.to_string() })
    };
    let crashed: Vec<String> = r
        .protocol_trace
        .iter()
        .filter(|(x, _)| *x == t)
        .filter_map(|(_, e)| match e {
            TraceEvent::Crash { task: c } => Some(task(*c)),
            _ => None,
        })
        .collect();
    step(
        crashed.first().cloned(),
        "crash",
        format!(
            "{} crashes: the job restarts from a recovery line — one local checkpoint per task, with nothing in flight between them",
            if crashed.is_empty() { "a task".to_string() } else { crashed.join(", ") }
        ),
        "uncoordinated: each task checkpointed on its own timer, so the checkpoints must be matched up after the failure",
    );
    let starts: Vec<String> =
        (0..g.tasks.len()).map(|i| format!("{} {}", task(TaskId(i as u32)), at(line.latest[i]))).collect();
    step(
        None,
        "line_start",
        format!("the search starts from every task's latest local checkpoint: {}", starts.join(", ")),
        "the latest checkpoints lose the least work, if they agree",
    );
    for x in &line.steps {
        let node = g.channel(x.ch);
        let (from, to) = (task(node.from), task(node.to));
        if x.orphan {
            step(
                Some(to.clone()),
                "orphan",
                format!(
                    "{to} had taken {} records from {from} by {}, but {from} had written only {} by {}: {} would be orphans, taken but never sent — {to} goes back to {}",
                    x.taken,
                    at(x.from),
                    x.sent,
                    at(x.peer),
                    x.taken - x.sent,
                    at(x.to)
                ),
                "a receiver may not have taken what its sender, restored, has not written (an orphan): the receiver goes back",
            );
        } else {
            step(
                Some(from.clone()),
                "in_flight",
                format!(
                    "{from} had written {} records to {to} by {}, but {to} had taken only {} by {}: nothing recorded the {} in flight — {from} goes back to {} to write them again",
                    x.sent,
                    at(x.from),
                    x.taken,
                    at(x.peer),
                    x.sent - x.taken,
                    at(x.to)
                ),
                "without channel state a recovery line may leave nothing in flight: the sender goes back",
            );
        }
    }
    let back = (0..g.tasks.len()).filter(|&i| line.line[i] < line.latest[i]).count();
    let to_start = (0..g.tasks.len()).filter(|&i| line.line[i] == 0 && line.latest[i] > 0).count();
    step(
        None,
        "line",
        format!(
            "the recovery line: {back} of {} tasks went back ({to_start} to their start) after {} rollbacks; each rollback could force another — the domino effect",
            g.tasks.len(),
            line.steps.len()
        ),
        "the latest consistent set of local checkpoints; the checkpoints after it are of no use",
    );
    out
}

/// How much, per channel, from the checkpoint's space-time diagram (built from the same run with
/// its messages captured): the records crossing the cut (channel state), the orphans, and what
/// each barrier waited behind in its receiver's queue — three steps at the last snapshot.
pub fn how_much(d: &crate::teach::diagram::Diagram) -> Vec<Step> {
    use crate::teach::diagram::Crossing;
    let Some(&t) = d.snapshots.values().max() else { return Vec::new() };
    let name = |ch: ChannelId| d.channels[ch.0 as usize].2.clone();
    let mut per: BTreeMap<ChannelId, (usize, usize)> = BTreeMap::new();
    for m in &d.messages {
        match m.crossing {
            Crossing::ChannelState => per.entry(m.ch).or_default().0 += 1,
            Crossing::Orphan => per.entry(m.ch).or_default().1 += 1,
            Crossing::None => {}
        }
    }
    let plural = |n: usize, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
    let list = |f: &dyn Fn(&(usize, usize)) -> usize| -> (usize, String) {
        let items: Vec<String> =
            per.iter().filter(|(_, c)| f(c) > 0).map(|(&ch, c)| format!("{} {}", name(ch), f(c))).collect();
        (per.values().map(f).sum(), items.join(", "))
    };
    let mut out = Vec::new();
    let mut step = |event: &'static str, text: String, rule: &str| {
        out.push(Step { t_ms: ns_to_ms(t), t_ns: t, task: None, event, text, rule: rule.to_string() })
    };
    let (cs, cs_list) = list(&|c| c.0);
    if cs > 0 {
        step(
            "channel_state",
            format!(
                "{} cross the cut: {cs_list} — in flight at the cut, so they are this checkpoint's channel state",
                plural(cs, "record", "records")
            ),
            "channel state = the records sent before the sender's snapshot and taken after the receiver's",
        );
    } else {
        step(
            "channel_state",
            "no record crosses the cut: this checkpoint holds no channel state".into(),
            "channel state = the records sent before the sender's snapshot and taken after the receiver's",
        );
    }
    let (orphans, orphan_list) = list(&|c| c.1);
    if orphans > 0 {
        step(
            "orphans",
            format!(
                "{} cross the cut backwards: {orphan_list} — taken before the receiver's snapshot but sent after the sender's, so a restore would count them twice",
                plural(orphans, "orphan", "orphans")
            ),
            "a consistent cut has no orphans",
        );
    }
    // Only the waits behind records (a barrier taken at once, or behind the record in hand, is
    // not worth a line).
    let waits: Vec<_> = d.waits.iter().filter(|w| w.records_ahead > 0).collect();
    if let Some(longest) = waits.iter().max_by_key(|w| (w.taken - w.arrived, w.ch)) {
        let items: Vec<String> = waits
            .iter()
            .map(|w| {
                format!(
                    "{} {} ({} ms)",
                    name(w.ch),
                    plural(w.records_ahead, "record", "records"),
                    fmt_ms(w.taken - w.arrived)
                )
            })
            .collect();
        step(
            "queue_waits",
            format!(
                "the barriers waited in their receivers' queues behind: {}; the longest on {}",
                items.join(", "),
                name(longest.ch)
            ),
            "an in-band barrier is taken only after the records queued before it",
        );
    }
    out
}

/// The steps as text, one per line: `t=… ms  what — rule`.
/// Each rule is printed under the first step it explains; later steps of the same rule say
/// "(same rule)" rather than repeating it (JSON Lines keep every rule).
pub fn to_text(steps: &[Step]) -> String {
    let mut seen = std::collections::BTreeSet::new();
    steps
        .iter()
        .map(|s| {
            if seen.insert(s.rule.as_str()) {
                format!("t={} ms  {}\n            ↳ {}\n", fmt_ms(s.t_ns), s.text, s.rule)
            } else {
                format!("t={} ms  {}  (same rule)\n", fmt_ms(s.t_ns), s.text)
            }
        })
        .collect()
}

/// The steps as JSON Lines.
pub fn to_jsonl(steps: &[Step]) -> String {
    steps.iter().map(|s| serde_json::to_string(s).expect("a step serializes") + "\n").collect()
}
