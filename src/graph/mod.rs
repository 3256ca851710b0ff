//! The topology expanded into the physical graph: one *task* per parallel instance of an operator
//! and one *channel* per connected (upstream task, downstream task) pair of an edge.
//!
//! Ids are dense indices (`TaskId`, `ChannelId`) into `Vec`s, so iteration order is fixed and
//! nothing depends on hash order. Built from an already validated [`Scenario`].

use crate::scenario::{OperatorKind, Partitioner, Scenario};

pub use crate::sim::{ChannelId, TaskId};

/// Where one record goes on one edge: the index of one of the sender's channels of that edge,
/// or every channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The channel at this index (the downstream task's index within the edge).
    One(usize),
    /// Every channel of the edge.
    All,
}

impl Partitioner {
    /// Routes a record with `key` over an edge of `channels` channels into an operator of
    /// `max_parallelism` key groups. `rebalance_next` is the sender's round-robin position on
    /// this edge (only `rebalance` reads and advances it).
    pub fn route(self, key: u64, channels: usize, max_parallelism: u32, rebalance_next: &mut usize) -> Route {
        match self {
            Partitioner::Forward => Route::One(0),
            // Flink's KeyGroupStreamPartitioner: the owner of the key's group.
            Partitioner::Hash => {
                Route::One(crate::state::keygroups::owner(key, max_parallelism, channels as u32) as usize)
            }
            Partitioner::Rebalance => {
                let i = *rebalance_next;
                *rebalance_next = (i + 1) % channels;
                Route::One(i)
            }
            Partitioner::Broadcast => Route::All,
        }
    }
}

/// Index of an operator in `topology.operators`.
pub type OpIndex = usize;

/// An operator of the physical graph.
#[derive(Clone, Debug)]
pub struct OperatorNode {
    /// The operator id from the scenario.
    pub id: String,
    /// Its kind.
    pub kind: OperatorKind,
    /// Its number of key groups (see [`crate::state::keygroups`]).
    pub max_parallelism: u32,
    /// Its tasks, in index order.
    pub tasks: Vec<TaskId>,
    /// Indices of incoming edges, in scenario order.
    pub inputs: Vec<usize>,
    /// Indices of outgoing edges, in scenario order.
    pub outputs: Vec<usize>,
}

/// An edge of the physical graph.
#[derive(Clone, Debug)]
pub struct EdgeNode {
    /// Upstream operator.
    pub from: OpIndex,
    /// Downstream operator.
    pub to: OpIndex,
    /// Distribution of records over the downstream tasks.
    pub partitioner: Partitioner,
    /// Chained (Flink's `StreamingJobGraphGenerator.isChainable`): a `forward` edge into an
    /// operator with no other input, chaining not disabled, and the first such edge out of its
    /// operator. Its channels carry records within one thread, with no network buffers.
    pub chained: bool,
    /// The feedback edge of an iteration (`back_edge` in the scenario): never chained, no credit
    /// limit, and ignored by alignment — its barrier only comes round after the snapshot.
    pub back: bool,
}

/// An iteration: the operators of one cycle (a strongly connected component closed by
/// back-edges).
#[derive(Clone, Debug)]
pub struct LoopNode {
    /// Its operators, in scenario order.
    pub ops: Vec<OpIndex>,
    /// Its heads: the tasks of the operators its back-edges return to (where records enter it).
    pub heads: Vec<TaskId>,
}

/// A task: one parallel instance of an operator.
#[derive(Clone, Debug)]
pub struct TaskNode {
    /// Its operator.
    pub op: OpIndex,
    /// Its index within the operator (`0..parallelism`).
    pub index: u32,
    /// `op[index]`, as used in traces, failures and reports.
    pub name: String,
    /// Input channels, grouped by input edge (one group = one input gate).
    pub input_gates: Vec<Vec<ChannelId>>,
    /// Output channels per outgoing edge (in the order of its operator's `outputs`), indexed by
    /// downstream task index within the edge (a single channel for `forward`). The channels of
    /// one edge have consecutive ids: the `i`-th is the first's id plus `i`.
    pub outputs: Vec<Vec<ChannelId>>,
}

/// A channel: one upstream task → one downstream task.
#[derive(Clone, Debug)]
pub struct ChannelNode {
    /// Sending task.
    pub from: TaskId,
    /// Receiving task.
    pub to: TaskId,
    /// The edge this channel belongs to.
    pub edge: usize,
    /// Index of the input gate of `to` this channel belongs to.
    pub gate: usize,
    /// `from->to`, e.g. `src[0]->agg[1]`.
    pub name: String,
}

/// The physical graph.
#[derive(Clone, Debug)]
pub struct Graph {
    /// Operators, in scenario order.
    pub operators: Vec<OperatorNode>,
    /// Edges, in scenario order.
    pub edges: Vec<EdgeNode>,
    /// Tasks: operators in scenario order, then task index.
    pub tasks: Vec<TaskNode>,
    /// Channels: edges in scenario order, then upstream index, then downstream index.
    pub channels: Vec<ChannelNode>,
    /// Iterations, numbered in order of their first operator.
    pub loops: Vec<LoopNode>,
    /// Per channel: the iteration it lies inside (both ends in it), if any.
    pub channel_loop: Vec<Option<u32>>,
    /// Per channel: its place among its sender's output channels, flattened over the edges (as a
    /// snapshot lists them: see `coordinator::TaskSnapshot::sent_index`).
    pub at_sender: Vec<u32>,
    /// Per channel: its place among its receiver's input channels, flattened over the gates.
    pub at_receiver: Vec<u32>,
}

/// Per operator, the cycle it lies on (numbered in order of first operator), given the edges as
/// `(from, to)` operator pairs: the strongly connected components of more than one operator.
/// Operators are few, so a reachability search from each is plenty.
pub fn loops_of(n: usize, edges: &[(usize, usize)]) -> Vec<Option<usize>> {
    let reach = |start: usize| {
        let mut seen = vec![false; n];
        let mut stack = vec![start];
        while let Some(v) = stack.pop() {
            for &(f, t) in edges {
                if f == v && !seen[t] {
                    seen[t] = true;
                    stack.push(t);
                }
            }
        }
        seen
    };
    let reaches: Vec<Vec<bool>> = (0..n).map(reach).collect();
    let mut id = vec![None; n];
    let mut next = 0;
    for a in 0..n {
        if id[a].is_some() || !reaches[a][a] {
            continue;
        }
        for b in a..n {
            if reaches[a][b] && reaches[b][a] {
                id[b] = Some(next);
            }
        }
        next += 1;
    }
    id
}

impl Graph {
    /// The pipelined region of every task, numbered 0, 1, … in order of their first task
    /// (Flink's `SchedulingPipelinedRegion`): in a streaming job every exchange is pipelined, so a
    /// region is a connected component of the tasks joined by channels — an all-to-all edge
    /// (hash, rebalance, broadcast) joins every producer with every consumer, a forward edge only
    /// task `i` with task `i`. Region failover restarts only the failed task's region.
    pub fn regions(&self) -> Vec<usize> {
        let mut parent: Vec<usize> = (0..self.tasks.len()).collect();
        fn root(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        for c in &self.channels {
            let (a, b) = (root(&mut parent, c.from.0 as usize), root(&mut parent, c.to.0 as usize));
            parent[a.max(b)] = a.min(b);
        }
        let mut id = vec![usize::MAX; self.tasks.len()];
        let mut next = 0;
        (0..self.tasks.len())
            .map(|t| {
                let r = root(&mut parent, t);
                if id[r] == usize::MAX {
                    id[r] = next;
                    next += 1;
                }
                id[r]
            })
            .collect()
    }

    /// Expands a validated scenario.
    ///
    /// ```
    /// # let json = std::fs::read_to_string("scenarios/diamond.json").unwrap();
    /// let s = ckptsim::scenario::Scenario::from_json(&json).unwrap();
    /// let g = ckptsim::graph::Graph::build(&s);
    /// assert!(g.find_task("agg[0]").is_some());
    /// ```
    pub fn build(s: &Scenario) -> Graph {
        let ops = &s.topology.operators;
        let mut operators = Vec::with_capacity(ops.len());
        let mut tasks = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let first = tasks.len() as u32;
            for index in 0..op.parallelism {
                tasks.push(TaskNode {
                    op: i,
                    index,
                    name: format!("{}[{}]", op.id, index),
                    input_gates: Vec::new(),
                    outputs: Vec::new(),
                });
            }
            operators.push(OperatorNode {
                id: op.id.clone(),
                kind: op.kind,
                max_parallelism: s.topology.max_parallelism_of(op),
                tasks: (first..first + op.parallelism).map(TaskId).collect(),
                inputs: Vec::new(),
                outputs: Vec::new(),
            });
        }
        let op_of = |id: &str| ops.iter().position(|o| o.id == id).expect("validated edge endpoint");
        let mut in_degree = vec![0; ops.len()];
        for spec in &s.topology.edges {
            in_degree[op_of(&spec.to)] += 1;
        }
        // One chained output per operator (Flink chains several; one thread here runs one
        // downstream operator at a time), so a chain is a line of operators.
        let mut chained_out = vec![false; ops.len()];
        let mut edges = Vec::new();
        let mut channels = Vec::new();
        for (e, spec) in s.topology.edges.iter().enumerate() {
            let (from, to) = (op_of(&spec.from), op_of(&spec.to));
            let chained = s.topology.chaining
                && spec.chain
                && spec.partitioner == Partitioner::Forward
                && !spec.back_edge
                && in_degree[to] == 1
                && !chained_out[from];
            chained_out[from] |= chained;
            edges.push(EdgeNode { from, to, partitioner: spec.partitioner, chained, back: spec.back_edge });
            operators[from].outputs.push(e);
            operators[to].inputs.push(e);
            let gate = operators[to].inputs.len() - 1;
            let ups = operators[from].tasks.clone();
            let downs = operators[to].tasks.clone();
            for &d in &downs {
                tasks[d.0 as usize].input_gates.push(Vec::new());
            }
            for (ui, &u) in ups.iter().enumerate() {
                let targets: Vec<TaskId> = match spec.partitioner {
                    Partitioner::Forward => vec![downs[ui]],
                    _ => downs.clone(),
                };
                let mut out = Vec::with_capacity(targets.len());
                for d in targets {
                    let id = ChannelId(channels.len() as u32);
                    channels.push(ChannelNode {
                        from: u,
                        to: d,
                        edge: e,
                        gate,
                        name: format!("{}->{}", tasks[u.0 as usize].name, tasks[d.0 as usize].name),
                    });
                    tasks[d.0 as usize].input_gates[gate].push(id);
                    out.push(id);
                }
                tasks[u.0 as usize].outputs.push(out);
            }
        }
        let pairs: Vec<(usize, usize)> = edges.iter().map(|e| (e.from, e.to)).collect();
        let op_loop = loops_of(ops.len(), &pairs);
        let n_loops = op_loop.iter().flatten().map(|&l| l + 1).max().unwrap_or(0);
        let loops = (0..n_loops)
            .map(|l| LoopNode {
                ops: (0..ops.len()).filter(|&o| op_loop[o] == Some(l)).collect(),
                heads: edges
                    .iter()
                    .filter(|e| e.back && op_loop[e.to] == Some(l))
                    .flat_map(|e| operators[e.to].tasks.iter().copied())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            })
            .collect();
        let channel_loop = channels
            .iter()
            .map(|c| {
                let (f, t) = (&tasks[c.from.0 as usize], &tasks[c.to.0 as usize]);
                op_loop[f.op].filter(|_| op_loop[f.op] == op_loop[t.op]).map(|l| l as u32)
            })
            .collect();
        let (mut at_sender, mut at_receiver) = (vec![0; channels.len()], vec![0; channels.len()]);
        for t in &tasks {
            for (i, ch) in t.outputs.iter().flatten().enumerate() {
                at_sender[ch.0 as usize] = i as u32;
            }
            for (i, ch) in t.input_gates.iter().flatten().enumerate() {
                at_receiver[ch.0 as usize] = i as u32;
            }
        }
        Graph { operators, edges, tasks, channels, loops, channel_loop, at_sender, at_receiver }
    }

    /// True when `ch` is a channel of a back-edge.
    pub fn is_back(&self, ch: ChannelId) -> bool {
        self.edges[self.channels[ch.0 as usize].edge].back
    }

    /// The iteration `task` heads (a back-edge returns to it), if any.
    pub fn loop_headed_by(&self, task: TaskId) -> Option<usize> {
        let t = &self.tasks[task.0 as usize];
        let back_in = t.input_gates.iter().flatten().find(|&&c| self.is_back(c))?;
        self.channel_loop[back_in.0 as usize].map(|l| l as usize)
    }

    /// True when `ch` is a channel of a chained edge.
    pub fn is_chained(&self, ch: ChannelId) -> bool {
        self.edges[self.channels[ch.0 as usize].edge].chained
    }

    /// The chains: every task with the tasks chained after it, head first (a task that is in no
    /// chain is a chain of one). Flink runs each chain as one task.
    pub fn chains(&self) -> Vec<Vec<TaskId>> {
        let chained_input = |t: &TaskNode| t.input_gates.iter().flatten().any(|&c| self.is_chained(c));
        let mut chains = Vec::new();
        for (i, t) in self.tasks.iter().enumerate() {
            if chained_input(t) {
                continue;
            }
            let mut chain = vec![TaskId(i as u32)];
            let mut cur = t;
            while let Some(&next) = cur.outputs.iter().flatten().find(|&&c| self.is_chained(c)) {
                let to = self.channels[next.0 as usize].to;
                chain.push(to);
                cur = &self.tasks[to.0 as usize];
            }
            chains.push(chain);
        }
        chains
    }

    /// The task called `name` (`op[index]`).
    pub fn find_task(&self, name: &str) -> Option<TaskId> {
        self.tasks.iter().position(|t| t.name == name).map(|i| TaskId(i as u32))
    }

    /// The task node of `t`.
    pub fn task(&self, t: TaskId) -> &TaskNode {
        &self.tasks[t.0 as usize]
    }

    /// The channel node of `c`.
    pub fn channel(&self, c: ChannelId) -> &ChannelNode {
        &self.channels[c.0 as usize]
    }
}
