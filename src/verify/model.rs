//! The independent reference (DESIGN §5): what a job must produce, computed from the source logs
//! through the DAG directly — operator semantics and partitioners only, no engine, no network, no
//! scheduling. An engine bug that loses or duplicates records in every run, the failure-free
//! reference run included, is still caught.
//!
//! Per source record it follows the record's copies through the operators (a broadcast edge
//! makes one copy per downstream task) and derives:
//! - how many times its lineage must become visible at the sinks;
//! - the sum of the values it must arrive with, where that does not depend on arrival order (a
//!   `keyed_sum` emits running sums, which do);
//! - each `keyed_sum`'s final sum per key, where its input values do not depend on order, and —
//!   when every input edge is a hash edge — the task that owns each key.
//!
//! A `filter` downstream of a `keyed_sum` selects records by a running sum: then even the lineage
//! counts depend on order, and [`Model::counts_order_dependent`] says so.

use crate::graph::Graph;
use crate::operator::{Lineage, SourceLog};
use crate::scenario::{OperatorKind, Partitioner, Scenario};
use crate::sim::{Component, RngTree};
use std::collections::BTreeMap;

/// What the job must produce.
#[derive(Debug, Default)]
pub struct Model {
    /// Per source partition, per offset: visible arrivals expected at the sinks.
    pub counts: BTreeMap<u32, Vec<u32>>,
    /// Per source partition, per offset: the expected sum of the values the lineage arrives with,
    /// or `None` where it depends on arrival order.
    pub values: BTreeMap<u32, Vec<Option<i64>>>,
    /// Final sum per key of each `keyed_sum` whose input values do not depend on order.
    pub state: BTreeMap<String, BTreeMap<u64, i64>>,
    /// For a `keyed_sum` fed by hash edges only: its max parallelism and parallelism (a key
    /// lives in the task whose key-group range holds the key's group).
    pub owners: BTreeMap<String, (u32, u32)>,
    /// Why the lineage counts depend on order (a filter downstream of a keyed_sum), if they do.
    pub counts_order_dependent: Option<String>,
    /// What the model could not determine because it depends on arrival order.
    pub order_dependent: Vec<String>,
}

struct Walk<'a> {
    s: &'a Scenario,
    /// Outgoing edges per operator: (target operator, copies per record, a back-edge).
    out: Vec<Vec<(usize, u64, bool)>>,
    model: Model,
}

impl Walk<'_> {
    /// One copy-set of a record (`mult` copies) reaches operator `op` with `value` (`None`: it
    /// depends on arrival order), having gone round iterations `rounds` times.
    fn flow(&mut self, op: usize, l: Lineage, key: u64, value: Option<i64>, mult: u64, rounds: u32) {
        let spec = &self.s.topology.operators[op];
        // Which outputs the copies take: `None` all, `Some(b)` only the back-edges or only not.
        let mut lane = None;
        let value = match spec.kind {
            OperatorKind::LoopUntil => {
                let until = spec.until.as_ref().expect("validated: a loop_until has `until`");
                let max = spec.max_rounds.unwrap_or(crate::operator::DEFAULT_MAX_ROUNDS);
                let Some(v) = value else {
                    self.model.counts_order_dependent.get_or_insert_with(|| {
                        format!("loop_until {:?} is downstream of a keyed_sum: which records go round depends on arrival order", spec.id)
                    });
                    return;
                };
                lane = Some(crate::operator::loops_again(v, rounds, until.modulo, &until.remainders, max));
                value
            }
            OperatorKind::Source | OperatorKind::Union => value,
            OperatorKind::Map => value.map(|v| v.wrapping_add(1)),
            OperatorKind::Filter => {
                let keep = spec.keep.as_ref().expect("validated: a filter has keep");
                match value {
                    Some(v) if !keep.remainders.contains(&(v.rem_euclid(keep.modulo as i64) as u64)) => return,
                    Some(v) => Some(v),
                    None => {
                        self.model.counts_order_dependent.get_or_insert_with(|| {
                            format!("filter {:?} is downstream of a keyed_sum: which records it keeps depends on arrival order", spec.id)
                        });
                        return;
                    }
                }
            }
            OperatorKind::KeyedSum => {
                match value {
                    Some(v) => {
                        if let Some(sums) = self.model.state.get_mut(&spec.id) {
                            let e = sums.entry(key).or_insert(0);
                            *e = e.wrapping_add(v.wrapping_mul(mult as i64));
                        }
                    }
                    None => {
                        if self.model.state.remove(&spec.id).is_some() {
                            self.model
                                .order_dependent
                                .push(format!("final state of keyed_sum {:?} (its inputs are running sums)", spec.id));
                        }
                    }
                }
                None
            }
            OperatorKind::Sink => {
                let i = l.offset as usize;
                let c = self.model.counts.entry(l.partition).or_default();
                if c.len() <= i {
                    c.resize(i + 1, 0);
                }
                c[i] += mult as u32;
                let v = self.model.values.entry(l.partition).or_default();
                if v.len() <= i {
                    v.resize(i + 1, Some(0));
                }
                v[i] = match (v[i], value) {
                    (Some(a), Some(b)) => Some(a.wrapping_add(b.wrapping_mul(mult as i64))),
                    _ => None,
                };
                return;
            }
        };
        for k in 0..self.out[op].len() {
            let (to, copies, back) = self.out[op][k];
            match lane {
                Some(round) if round != back => {}
                Some(true) => self.flow(to, l, key, value, mult * copies, rounds + 1),
                _ => self.flow(to, l, key, value, mult * copies, rounds),
            }
        }
    }
}

impl Model {
    /// The model of a validated scenario.
    pub fn of(s: &Scenario) -> Model {
        Self::of_until(s, None)
    }

    /// The model of the records before `until` (per partition, exclusive; all when `None`) — a
    /// job stopped with a savepoint read only those.
    pub fn of_until(s: &Scenario, until: Option<&BTreeMap<u32, u64>>) -> Model {
        let ops = &s.topology.operators;
        let index = |id: &str| ops.iter().position(|o| o.id == id).expect("validated edge");
        let mut out = vec![Vec::new(); ops.len()];
        let mut hash_only = vec![true; ops.len()];
        for e in &s.topology.edges {
            let (from, to) = (index(&e.from), index(&e.to));
            let copies = if e.partitioner == Partitioner::Broadcast { ops[to].parallelism as u64 } else { 1 };
            out[from].push((to, copies, e.back_edge));
            hash_only[to] &= e.partitioner == Partitioner::Hash;
        }
        let mut model = Model::default();
        for (i, o) in ops.iter().enumerate() {
            if o.kind == OperatorKind::KeyedSum {
                model.state.insert(o.id.clone(), BTreeMap::new());
                if hash_only[i] {
                    model.owners.insert(o.id.clone(), (s.topology.max_parallelism_of(o), o.parallelism));
                }
            }
        }
        let mut walk = Walk { s, out, model };
        // Source task `t` (a global task index) reads log partition `t`, as the engine numbers
        // them; its records are a pure function of (seed, partition, offset).
        let graph = Graph::build(s);
        let rngs = RngTree::new(s.seed);
        for (t, node) in graph.tasks.iter().enumerate() {
            let spec = &ops[node.op];
            if spec.kind != OperatorKind::Source {
                continue;
            }
            let mut log = SourceLog::new(spec, t as u32, s.seed, rngs.stream(Component::SourceLog(t as u32)));
            let stop = until.and_then(|u| u.get(&(t as u32)).copied()).unwrap_or(u64::MAX);
            while log.next_arrival().is_some() && log.cursor().offset < stop {
                let r = log.read();
                walk.flow(node.op, r.lineage(), r.key, Some(r.value), 1, 0);
            }
        }
        walk.model
    }

    /// How often each lineage of `carried` records — in flight into operator `op` (an index in
    /// the scenario) when a retained checkpoint was taken — reaches the sinks of `s`: what a job
    /// restored from it must still make visible for them.
    pub fn carried_counts(s: &Scenario, carried: &[(usize, Lineage, u64, i64)]) -> BTreeMap<(u32, u64), u32> {
        let ops = &s.topology.operators;
        let index = |id: &str| ops.iter().position(|o| o.id == id).expect("validated edge");
        let mut out = vec![Vec::new(); ops.len()];
        for e in &s.topology.edges {
            let (from, to) = (index(&e.from), index(&e.to));
            let copies = if e.partitioner == Partitioner::Broadcast { ops[to].parallelism as u64 } else { 1 };
            out[from].push((to, copies, e.back_edge));
        }
        // A separate walk: the keyed state it folds is thrown away, only the counts matter.
        let mut walk = Walk { s, out, model: Model::default() };
        for &(op, l, key, value) in carried {
            walk.flow(op, l, key, Some(value), 1, 0);
        }
        let mut counts = BTreeMap::new();
        for (p, c) in walk.model.counts {
            for (o, &n) in c.iter().enumerate().filter(|(_, n)| **n > 0) {
                counts.insert((p, o as u64), n);
            }
        }
        counts
    }

    /// The task (index within its operator) that owns `key` in `keyed_sum` `op`, when known.
    pub fn owner(&self, op: &str, key: u64) -> Option<u32> {
        self.owners.get(op).map(|&(m, p)| crate::state::keygroups::owner(key, m, p))
    }
}
