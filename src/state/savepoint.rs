//! Savepoints on disk, and restoring a job from one — possibly at another parallelism.
//!
//! A savepoint is a directory: `_metadata` (JSON, human-readable: the job, the checkpoint, and
//! per operator its parallelism, max parallelism and one state file per task) and the state
//! files `<operator>-<index>.json` (a keyed operator's sums, a source's log position). As in
//! Flink, it is self-contained (it shares no file with the checkpoints) and taken with aligned
//! barriers, so it holds no in-flight data.
//!
//! Restoring ([`Restore::plan`]) matches operators by id, as Flink matches operator uids: every
//! operator with state in the savepoint must exist in the new job with the same kind, unless
//! non-restored state is allowed explicitly; new operators start empty. A keyed operator's
//! state is redistributed by key group (each key goes to the task owning its group at the new
//! parallelism), which is why its max parallelism must not change. Sources keep their
//! parallelism: in ckptsim a source task *is* a log partition.

use crate::graph::Graph;
use crate::operator::LogCursor;
use crate::scenario::{OperatorKind, Scenario};
use crate::sim::{RngState, SimRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The savepoint file format version this ckptsim writes and reads.
pub const SAVEPOINT_FORMAT: u32 = 1;

/// How a savepoint stores state (Flink's `SavepointFormatType`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SavepointFormat {
    /// Backend-independent: every key-value written out (a RocksDB job iterates its whole state,
    /// slower; a savepoint any backend can read).
    #[default]
    Canonical,
    /// The backend's own files (RocksDB SST files, copied whole): faster to take and restore,
    /// readable by the same backend only.
    Native,
}

/// `_metadata`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavepointMeta {
    /// [`SAVEPOINT_FORMAT`].
    pub format_version: u32,
    /// `savepoint`, or `checkpoint` for a retained (externalized) checkpoint, which may hold
    /// in-flight data and pending sink transactions.
    #[serde(default = "savepoint_kind")]
    pub kind: String,
    /// The scenario it was taken from.
    pub scenario: String,
    /// That scenario's fingerprint.
    pub fingerprint: String,
    /// Its seed (the source logs are a function of it).
    pub seed: u64,
    /// The checkpoint id of the savepoint.
    pub checkpoint_id: u64,
    /// When it was triggered and completed (simulated ms).
    pub triggered_ms: f64,
    /// When it completed.
    pub completed_ms: f64,
    /// The source logs' time when it completed (ns): a job started from it runs its clock from
    /// 0 while the logs go on from here.
    pub log_time_ns: u64,
    /// Canonical or native.
    pub format: SavepointFormat,
    /// The state backend that wrote it.
    pub state_backend: String,
    /// Taken with `--drain`: the sources were ended first (in Flink event time jumps to the end,
    /// firing every timer — resuming such a job repeats those results).
    pub drained: bool,
    /// Bytes the savepoint holds (its state files as the storage counts them).
    pub bytes: u64,
    /// One entry per operator, in the job's order.
    pub operators: Vec<SavepointOperator>,
}

fn savepoint_kind() -> String {
    "savepoint".into()
}

/// An operator in `_metadata`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavepointOperator {
    /// Operator id (Flink's uid).
    pub id: String,
    /// Its kind.
    pub kind: OperatorKind,
    /// Parallelism when the savepoint was taken.
    pub parallelism: u32,
    /// Key groups (max parallelism).
    pub max_parallelism: u32,
    /// First global task number (sources: the log partition of task 0).
    pub first_task: u32,
    /// Its tasks' state files, in task order (`None`: the task has no state).
    pub files: Vec<Option<String>>,
}

/// One task's state file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    /// A keyed operator's state: `(key, sum)`, by key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keyed: Vec<(u64, i64)>,
    /// A source's log position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourcePosition>,
    /// A transactional sink's pre-committed transactions that the checkpoint covers but that were
    /// not committed yet (a retained checkpoint): the restore commits them (Flink's
    /// `recoverAndCommit`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<CarriedRecord>,
}

/// A record a retained checkpoint carries: in flight on a channel, or in a pending transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedRecord {
    /// Source partition of its lineage.
    pub partition: u32,
    /// Offset of its lineage.
    pub offset: u64,
    /// Key.
    pub key: u64,
    /// Value.
    pub value: i64,
    /// When its source record arrived in the log (ns, the old job's clock).
    pub arrival_ns: u64,
}

/// One channel's in-flight data in a retained unaligned checkpoint (`_channel_state.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelState {
    /// Sending operator and task index.
    pub from: String,
    /// Its index.
    pub from_index: u32,
    /// Receiving operator.
    pub to: String,
    /// Its index.
    pub to_index: u32,
    /// The records, in channel order.
    pub records: Vec<CarriedRecord>,
}

/// A source's position in its log partition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourcePosition {
    /// Next offset to read.
    pub offset: u64,
    /// When that offset arrives in the log (ns).
    pub next_arrival_ns: u64,
    /// The arrival process's RNG at that offset.
    pub rng: RngState,
}

impl SourcePosition {
    /// From a cursor.
    pub fn of(c: &LogCursor) -> Self {
        SourcePosition { offset: c.offset, next_arrival_ns: c.next_arrival, rng: c.rng().state() }
    }

    /// Back to a cursor.
    pub fn cursor(&self) -> Result<LogCursor, String> {
        Ok(LogCursor::new(self.offset, self.next_arrival_ns, SimRng::from_state(&self.rng)?))
    }
}

/// A savepoint in memory: its metadata and every task's state, per operator.
#[derive(Clone, Debug, PartialEq)]
pub struct Savepoint {
    /// `_metadata`.
    pub meta: SavepointMeta,
    /// Per operator (as in `meta.operators`), per task.
    pub states: Vec<Vec<TaskState>>,
    /// In-flight data per channel (retained unaligned checkpoints only).
    pub channels: Vec<ChannelState>,
}

impl Savepoint {
    /// The directory name: `savepoint-<id>`, or `chk-<id>` for a retained checkpoint.
    pub fn dir_name(&self) -> String {
        if self.meta.kind == "checkpoint" {
            format!("chk-{}", self.meta.checkpoint_id)
        } else {
            format!("savepoint-{}", self.meta.checkpoint_id)
        }
    }

    /// Each source partition's offset in it: where the job that stopped with it stopped
    /// reading, and where a job restored from it reads on.
    pub fn source_offsets(&self) -> BTreeMap<u32, u64> {
        let mut out = BTreeMap::new();
        for (op, states) in self.meta.operators.iter().zip(&self.states) {
            for (i, st) in states.iter().enumerate() {
                if let Some(p) = &st.source {
                    out.insert(op.first_task + i as u32, p.offset);
                }
            }
        }
        out
    }

    /// Writes `_metadata` and the state files into `dir` (created).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (op, states) in self.meta.operators.iter().zip(&self.states) {
            for (file, st) in op.files.iter().zip(states) {
                if let Some(f) = file {
                    let json = serde_json::to_string(st).map_err(std::io::Error::other)?;
                    std::fs::write(dir.join(f), json + "\n")?;
                }
            }
        }
        if !self.channels.is_empty() {
            let json = serde_json::to_string(&self.channels).map_err(std::io::Error::other)?;
            std::fs::write(dir.join("_channel_state.json"), json + "\n")?;
        }
        let meta = serde_json::to_string_pretty(&self.meta).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("_metadata"), meta + "\n")
    }

    /// Reads a savepoint directory (the one holding `_metadata`).
    pub fn load(dir: &Path) -> Result<Savepoint, String> {
        let path = dir.join("_metadata");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "{}: {e} (a savepoint is a directory with a `_metadata` file, e.g. OUT/savepoints/savepoint-7)",
                path.display()
            )
        })?;
        let meta: SavepointMeta =
            serde_json::from_str(&text).map_err(|e| format!("{}: not a savepoint's metadata: {e}", path.display()))?;
        if meta.format_version != SAVEPOINT_FORMAT {
            return Err(format!(
                "{}: savepoint format {} (this ckptsim reads format {SAVEPOINT_FORMAT})",
                path.display(),
                meta.format_version
            ));
        }
        let mut states = Vec::new();
        for op in &meta.operators {
            let mut per = Vec::new();
            for file in &op.files {
                per.push(match file {
                    None => TaskState::default(),
                    Some(f) => {
                        let p = dir.join(f);
                        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                        serde_json::from_str(&text)
                            .map_err(|e| format!("{}: not a task state file: {e}", p.display()))?
                    }
                });
            }
            states.push(per);
        }
        let cs = dir.join("_channel_state.json");
        let channels = if cs.exists() {
            let text = std::fs::read_to_string(&cs).map_err(|e| format!("{}: {e}", cs.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: not a channel state file: {e}", cs.display()))?
        } else {
            Vec::new()
        };
        Ok(Savepoint { meta, states, channels })
    }
}

/// How a job starts from a savepoint: each task's initial state.
#[derive(Clone, Debug, Default)]
pub struct Restore {
    /// Per global task of the new job: keyed state to start with.
    pub keyed: BTreeMap<u32, BTreeMap<u64, i64>>,
    /// Per global source task: where it resumes.
    pub sources: BTreeMap<u32, LogCursor>,
    /// Per source partition, the offset it resumes at (what the run's exactly-once check starts
    /// from).
    pub from_offsets: BTreeMap<u32, u64>,
    /// Keyed operators of the new job that start empty (not in the savepoint).
    pub new_operators: Vec<String>,
    /// Operators of the savepoint that the new job does not have (their state is dropped).
    pub dropped: Vec<String>,
    /// The savepoint's (or retained checkpoint's) id.
    pub checkpoint_id: u64,
    /// `savepoint` or `checkpoint`.
    pub kind: String,
    /// Log time − simulated time in the new job (the log time when the savepoint completed).
    pub log_shift: u64,
    /// What changed, in words (parallelism changes, new and dropped operators).
    pub notes: Vec<String>,
    /// In-flight data to put back, per new channel `(sending task, receiving task)` (global task
    /// numbers), in channel order — a retained unaligned checkpoint's channel state, rescaled.
    pub inflight: BTreeMap<(u32, u32), Vec<CarriedRecord>>,
    /// Pending transactions the restore commits, per new sink task.
    pub pending: BTreeMap<u32, Vec<CarriedRecord>>,
    /// The operator each in-flight record enters, by index in the scenario (for the oracle).
    pub carried_into: Vec<(usize, CarriedRecord)>,
}

impl Restore {
    /// Checks that `s` can start from `sp` and plans each task's initial state. The max
    /// parallelism of a keyed operator must be the savepoint's: when `s` leaves it unset, set it
    /// first with [`Restore::adopt_max_parallelism`].
    pub fn plan(sp: &Savepoint, s: &Scenario, allow_non_restored: bool) -> Result<Restore, String> {
        let graph = Graph::build(s);
        let mut r = Restore {
            checkpoint_id: sp.meta.checkpoint_id,
            kind: sp.meta.kind.clone(),
            log_shift: sp.meta.log_time_ns,
            ..Default::default()
        };
        if sp.meta.seed != s.seed {
            return Err(format!(
                "the savepoint was taken with seed {} and the scenario has seed {}: the source logs would differ (use --seed {})",
                sp.meta.seed, s.seed, sp.meta.seed
            ));
        }
        for (op, states) in sp.meta.operators.iter().zip(&sp.states) {
            let has_state = states.iter().any(|t| !t.keyed.is_empty() || t.source.is_some());
            let Some((oi, node)) = graph.operators.iter().enumerate().find(|(_, o)| o.id == op.id) else {
                if has_state && !allow_non_restored {
                    return Err(format!(
                        "operator {:?} has state in the savepoint but is not in the scenario; pass --allow-non-restored-state to drop it (Flink's allowNonRestoredState)",
                        op.id
                    ));
                }
                if has_state {
                    r.dropped.push(op.id.clone());
                    r.notes.push(format!("state of {:?} dropped (not in the scenario)", op.id));
                }
                continue;
            };
            if node.kind != op.kind {
                return Err(format!(
                    "operator {:?} is a {} in the savepoint and a {} in the scenario",
                    op.id,
                    op.kind.name(),
                    node.kind.name()
                ));
            }
            let p = s.topology.operators[oi].parallelism;
            match op.kind {
                OperatorKind::Source => {
                    if p != op.parallelism || node.tasks[0].0 != op.first_task {
                        return Err(format!(
                            "source {:?}: {} tasks from task {} in the savepoint, {} from task {} in the scenario; in ckptsim a source task is a log partition, so sources keep their parallelism and come first",
                            op.id, op.parallelism, op.first_task, p, node.tasks[0].0
                        ));
                    }
                    for (i, st) in states.iter().enumerate() {
                        let pos =
                            st.source.as_ref().ok_or_else(|| format!("source {:?} task {i} has no position", op.id))?;
                        let task = node.tasks[i].0;
                        r.sources.insert(task, pos.cursor()?);
                        r.from_offsets.insert(task, pos.offset);
                    }
                }
                OperatorKind::KeyedSum => {
                    if node.max_parallelism != op.max_parallelism {
                        return Err(format!(
                            "keyed operator {:?}: max parallelism {} in the savepoint, {} in the scenario; key groups cannot change once a job has state (leave max_parallelism unset to adopt the savepoint's)",
                            op.id, op.max_parallelism, node.max_parallelism
                        ));
                    }
                    if p != op.parallelism {
                        let broadcast = s
                            .topology
                            .edges
                            .iter()
                            .any(|e| e.to == op.id && e.partitioner == crate::scenario::Partitioner::Broadcast);
                        if broadcast {
                            // Every task holds every key's full sum: its state is replicated,
                            // not partitioned (Flink's broadcast state), and does not rescale by
                            // key group.
                            return Err(format!(
                                "keyed operator {:?} is fed by a broadcast edge, so each of its tasks holds every key; it cannot change its parallelism ({} → {p})",
                                op.id, op.parallelism
                            ));
                        }
                        r.notes.push(format!(
                            "{:?} rescaled from {} to {} tasks: its {} key groups are redistributed",
                            op.id, op.parallelism, p, op.max_parallelism
                        ));
                    }
                    for t in &node.tasks {
                        r.keyed.entry(t.0).or_default();
                    }
                    for st in states {
                        for &(key, sum) in &st.keyed {
                            let owner = super::keygroups::owner(key, op.max_parallelism, p);
                            // A keyed operator fed without a hash edge holds a key in several
                            // tasks, each with a partial sum: they merge in the key's owner.
                            let total =
                                r.keyed.entry(node.tasks[owner as usize].0).or_default().entry(key).or_insert(0);
                            *total = total.wrapping_add(sum);
                        }
                    }
                }
                _ => {
                    if p != op.parallelism {
                        r.notes.push(format!("{:?} runs with {} tasks instead of {}", op.id, p, op.parallelism));
                    }
                    for (i, st) in states.iter().enumerate() {
                        if !st.pending.is_empty() {
                            // Any task of the sink may commit a recovered transaction.
                            let task = node.tasks[i % node.tasks.len()].0;
                            r.pending.entry(task).or_default().extend(st.pending.iter().copied());
                        }
                    }
                }
            }
        }
        // In-flight data: each record goes to the channel the new job would send it on, from the
        // same sender task (or its counterpart when the sender's operator shrank).
        for c in &sp.channels {
            let find = |id: &str| graph.operators.iter().position(|o| o.id == id);
            let (Some(fi), Some(ti)) = (find(&c.from), find(&c.to)) else {
                if !allow_non_restored {
                    return Err(format!(
                        "in-flight data from {:?} to {:?} has no edge in the scenario; pass --allow-non-restored-state to drop it",
                        c.from, c.to
                    ));
                }
                r.notes.push(format!("in-flight data from {:?} to {:?} dropped", c.from, c.to));
                continue;
            };
            let Some(edge) = s.topology.edges.iter().find(|e| e.from == c.from && e.to == c.to) else {
                return Err(format!("in-flight data from {:?} to {:?} has no edge in the scenario", c.from, c.to));
            };
            let (from, to) = (&graph.operators[fi], &graph.operators[ti]);
            let sender = from.tasks[c.from_index as usize % from.tasks.len()].0;
            for rec in &c.records {
                let idx = match edge.partitioner {
                    crate::scenario::Partitioner::Hash => {
                        super::keygroups::owner(rec.key, to.max_parallelism, to.tasks.len() as u32)
                    }
                    crate::scenario::Partitioner::Forward => sender - from.tasks[0].0,
                    crate::scenario::Partitioner::Rebalance => c.to_index % to.tasks.len() as u32,
                    crate::scenario::Partitioner::Broadcast => {
                        let old = sp.meta.operators.iter().find(|o| o.id == c.to).map_or(0, |o| o.parallelism);
                        if old as usize != to.tasks.len() {
                            return Err(format!(
                                "in-flight data on the broadcast edge {:?} → {:?} cannot be rescaled ({} → {} receivers)",
                                c.from,
                                c.to,
                                old,
                                to.tasks.len()
                            ));
                        }
                        c.to_index
                    }
                };
                r.inflight.entry((sender, to.tasks[idx as usize].0)).or_default().push(*rec);
                r.carried_into.push((ti, *rec));
            }
        }
        if !r.carried_into.is_empty() {
            r.notes.push(format!("{} in-flight records put back into their channels", r.carried_into.len()));
        }
        let pending: usize = r.pending.values().map(Vec::len).sum();
        if pending > 0 {
            r.notes.push(format!("{pending} records of pending transactions committed"));
        }
        for o in &graph.operators {
            if o.kind == OperatorKind::KeyedSum && !sp.meta.operators.iter().any(|x| x.id == o.id) {
                r.new_operators.push(o.id.clone());
                r.notes.push(format!("{:?} is new: it starts with empty state", o.id));
            }
        }
        Ok(r)
    }

    /// How often each lineage the restored checkpoint carried (in flight, or in a pending
    /// transaction) must still become visible in `s` — for the exactly-once oracle
    /// ([`crate::verify::Oracle::carrying`]).
    pub fn carried_counts(&self, s: &Scenario) -> BTreeMap<(u32, u64), u32> {
        let lineage = |x: &CarriedRecord| crate::operator::Lineage { partition: x.partition, offset: x.offset };
        let flows: Vec<_> = self.carried_into.iter().map(|(op, x)| (*op, lineage(x), x.key, x.value)).collect();
        let mut counts = crate::verify::model::Model::carried_counts(s, &flows);
        for x in self.pending.values().flatten() {
            *counts.entry((x.partition, x.offset)).or_insert(0) += 1;
        }
        counts
    }

    /// Sets, in `s`, the max parallelism of every keyed operator the savepoint holds and `s`
    /// leaves unset — Flink keeps the restored job's max parallelism.
    pub fn adopt_max_parallelism(sp: &Savepoint, s: &mut Scenario) {
        if s.topology.max_parallelism.is_some() {
            return;
        }
        for op in &mut s.topology.operators {
            if op.max_parallelism.is_none()
                && let Some(saved) =
                    sp.meta.operators.iter().find(|x| x.id == op.id && x.kind == OperatorKind::KeyedSum)
            {
                op.max_parallelism = Some(saved.max_parallelism);
            }
        }
    }
}
