//! The Flink-like network: output buffers, credit-based flow control and backpressure.
//!
//! Per channel, the **sender** fills a `current` buffer with records; it is *finished* when it
//! holds `buffer_records` or when the task's flush timer fires, and then waits in the `backlog`.
//! A data buffer leaves only with a *credit*: one free buffer promised by the receiver. Events
//! (end of partition, in-band barriers) need no credit but stay in FIFO order behind data.
//! A *priority* barrier (unaligned checkpoints) overtakes the sender's backlog: it is sent at once
//! and the data it overtook is returned to the caller to persist as output channel state. It
//! cannot overtake what is already on the wire; at the receiver it does not join the channel's
//! queue but is reported to the engine at once.
//! Every output edge of a task is one *result partition* with its own buffer pool, as in
//! Flink's `ResultPartitionFactory`: `subpartitions × buffers_per_channel +
//! floating_buffers_per_gate` buffers, of which one subpartition (channel) may hold at most
//! `max_buffers_per_channel`. A buffer is taken from the pool when a record starts it and goes back
//! when it leaves for the wire. When a partition's pool is used up, or one of its channels holds
//! its maximum, the partition is *unavailable* and its task stops (backpressure) until a buffer
//! leaves. A record is always written whole: the buffer it needs past the limit is Flink's
//! overdraft buffer (FLIP-227), and the task stops before its next record.
//!
//! The **receiver** owns `buffers_per_channel` exclusive buffers per channel and shares
//! `floating_buffers_per_gate` floating buffers per input gate. Each data buffer carries the
//! sender's backlog; when the backlog exceeds the credits already granted, the receiver grants
//! floating buffers. When a buffer has been consumed, its slot goes back to the channel (a new
//! credit) or, if it was a floating buffer no longer needed, to the gate. Credits travel back with
//! the network latency. Invariant: `queued data buffers + outstanding credits ≤ exclusive +
//! floating held`, so no receiver queue ever exceeds `buffers_per_channel +
//! floating_buffers_per_gate`.
//!
//! A *chained* channel (a forward edge Flink chains, [`crate::graph::EdgeNode::chained`]) has no
//! buffers, credits, pool or latency: each record is handed over at once, and the sending task
//! waits until the receiving task has processed it (one thread runs the chain), so a chain never
//! has data in flight between its operators. Waiting for the chain is not backpressure.
//!
//! Ground truth for the consistent-cut checker lives here too: every record written to a channel
//! is stamped with the channel's next sequence number, and the receiver counts (and digests) what
//! its task consumed. The network does not schedule anything itself beyond its own messages
//! ([`NetEvent`]); it tells the engine which tasks may be able to continue through
//! [`Network::take_wakeups`], and what arrived through the return value of [`Network::handle`].

mod credits;
mod debloat;
mod inspect;
mod lane;

pub use debloat::{DebloatConfig, DebloatSample};

use crate::graph::{ChannelId, Graph, TaskId};
use crate::operator::Record;
use crate::protocol::CheckpointId;
use crate::scenario;
use crate::sim::{EventQueue, SimRng, SimTime, US};
use lane::Lane;
use std::collections::VecDeque;

/// A network message in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetEvent {
    /// The oldest element in flight on the channel reaches the receiver.
    Arrive(ChannelId),
    /// The receiver's credit announcement reaches the sender.
    Credit(ChannelId, u32),
    /// The receiver's *ResumeConsumption* reaches a sender paused after a barrier.
    Resume(ChannelId),
    /// A debloating gate's new buffer size (bytes) reaches a sender.
    BufferSize(ChannelId, u32),
}

/// An element of a channel's stream.
#[derive(Clone, Debug, PartialEq)]
pub enum Element {
    /// A network buffer of records.
    Data(Vec<Record>),
    /// An in-band checkpoint barrier (or Chandy-Lamport marker): FIFO with the data.
    Barrier(CheckpointId),
    /// A priority barrier: overtakes buffered data on both sides of the channel.
    PriorityBarrier(CheckpointId),
    /// Recovered channel state, replayed at the receiver before any new data after a restore.
    /// It holds no credit.
    Recovered(Vec<Record>),
    /// The upstream task finished: no more elements follow.
    EndOfPartition,
}

/// What reached a receiver (the result of handling [`NetEvent::Arrive`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// A data buffer with this many records, now at the back of the channel's queue.
    Data(u32),
    /// An in-band barrier, now at the back of the channel's queue.
    Barrier(CheckpointId),
    /// A priority barrier. It was not queued: it overtook everything queued before it.
    PriorityBarrier(CheckpointId),
    /// End of partition, now at the back of the channel's queue.
    EndOfPartition,
}

/// What a task took from its inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Taken {
    /// A record from a channel.
    Record(ChannelId, Record),
    /// An in-band barrier from a channel.
    Barrier(ChannelId, CheckpointId),
    /// The end of a channel.
    EndOfPartition(ChannelId),
}

#[derive(Debug, Default)]
struct SendSide {
    current: Vec<Record>,
    /// Records per buffer (the static size, or the last one a debloating receiver announced).
    cap: usize,
    backlog: Lane<Element>,
    backlog_data: u32,
    credit: u32,
    /// On the wire: each element, the sender's backlog of data buffers when it left, and when it
    /// arrives (in that order unless the channels reorder).
    in_flight: Lane<(Element, u32, SimTime)>,
    last_arrival: SimTime,
    /// The channel holds `max_buffers_per_channel` pool buffers.
    full: bool,
    /// Sent an aligned barrier: nothing more leaves until the receiver resumes consumption.
    paused: bool,
    /// A chained channel: records handed over and not yet processed by the receiving task.
    chain_pending: u32,
    /// Records written to the channel so far (the next sequence number).
    sent: u64,
    /// Non-FIFO channels only: `Σ mix64(seq)` over the records written — the set `0..sent` as a
    /// digest, for the cut checker's set comparison.
    sent_seqs: u64,
}

impl SendSide {
    fn new(cfg: &NetConfig, chained: bool, feedback: bool) -> Self {
        if chained {
            // One record per hand-over, never short of credit.
            return SendSide { current: Vec::with_capacity(1), cap: 1, credit: u32::MAX, ..Default::default() };
        }
        // The buffer is allocated when a record first needs it: a wide shuffle has many channels
        // that are idle at any moment.
        // A back-edge is never short of credit: it has no flow control.
        let credit = if feedback { u32::MAX } else { cfg.exclusive };
        SendSide { current: Vec::new(), cap: cfg.buffer_records, credit, ..Default::default() }
    }
}

#[derive(Debug, Default)]
struct RecvSide {
    queue: Lane<Element>,
    head_read: usize,
    queued_data: u32,
    outstanding: u32,
    floating_held: u32,
    last_backlog: u32,
    in_ready: bool,
    blocked: bool,
    /// Took an aligned barrier: owes the sender a *ResumeConsumption* once not blocked.
    owes_resume: bool,
    waiting_floating: bool,
    max_queued: u32,
    /// Records that reached the receiver so far.
    arrived: u64,
    /// Records the receiving task took from the channel so far.
    consumed: u64,
    /// Sum of the lineage digests of those records.
    consumed_digest: u64,
    /// Sum of `mix64(key) × value` of those records: what a keyed sum of them must hold.
    consumed_kv: u64,
    /// Non-FIFO channels only: `Σ mix64(seq)` over the records taken, and one past the highest
    /// sequence number taken (the taken records need not be a prefix).
    consumed_seqs: (u64, u64),
}

#[derive(Debug)]
struct Chan {
    from: TaskId,
    to: TaskId,
    gate: usize,
    /// The sender's result partition.
    part: usize,
    /// A channel of a chained edge.
    chained: bool,
    /// Credit-based flow control and the sender's pool apply: not within a chain, and not on an
    /// iteration's back-edge, whose records are never held back (a full loop would deadlock).
    flow_control: bool,
    send: SendSide,
    recv: RecvSide,
}

/// A channel's counters at a restored checkpoint ([`Network::restore_channel`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct RestoredCounters {
    /// Records the sender had written.
    pub sent: u64,
    /// Records the receiver had taken.
    pub consumed: u64,
    /// Sum of the lineage digests of those.
    pub digest: u64,
    /// Sum of `mix64(key) × value` of those.
    pub kv: u64,
    /// Non-FIFO channels: the sequence-number digests of the sender and the receiver
    /// ([`Network::seq_digests`]; zeros on FIFO channels).
    pub seqs: (u64, (u64, u64)),
}

/// A result partition: one output edge of one task, with its buffer pool.
#[derive(Debug)]
struct Partition {
    task: TaskId,
    /// Pool size.
    size: u32,
    /// Buffers in use: finished ones waiting to leave, plus partly filled ones.
    used: u32,
    /// Channels holding their maximum.
    full_chans: u32,
    /// Counted in `full_outputs` of its task.
    unavailable: bool,
}

#[derive(Debug)]
struct Gate {
    task: TaskId,
    /// Its index among the task's input gates.
    local: usize,
    chans: Vec<ChannelId>,
    floating_free: u32,
    waiting: VecDeque<ChannelId>,
    /// Data buffers queued over its channels.
    queued: u32,
    debloat: Option<debloat::GateDebloat>,
}

impl Gate {
    fn new(task: TaskId, local: usize, chans: Vec<ChannelId>, cfg: &NetConfig) -> Self {
        Gate {
            task,
            local,
            chans,
            floating_free: cfg.floating,
            waiting: VecDeque::new(),
            queued: 0,
            debloat: cfg.debloat.as_ref().map(debloat::GateDebloat::new),
        }
    }
}

/// Network parameters in simulation units.
#[derive(Clone, Copy, Debug)]
pub struct NetConfig {
    /// Records per buffer.
    pub buffer_records: usize,
    /// Exclusive credits per channel.
    pub exclusive: u32,
    /// Floating buffers per gate.
    pub floating: u32,
    /// Buffers one output channel may hold at the sender.
    pub max_backlog: u32,
    /// One-way latency.
    pub latency: SimTime,
    /// Maximum extra latency.
    pub jitter: SimTime,
    /// Non-FIFO channels: the reordering window (0: FIFO).
    pub reorder: SimTime,
    /// Serialized size of one record.
    pub record_bytes: u64,
    /// Buffer debloating, if enabled.
    pub debloat: Option<DebloatConfig>,
    /// A sender pauses a channel after an in-band barrier until the receiver resumes it
    /// (Flink's aligned barriers; see [`crate::protocol::ProtocolInfo::pauses_sender_after_barrier`]).
    pub pause_after_barrier: bool,
}

impl NetConfig {
    /// From the scenario's `network` object.
    pub fn from_scenario(n: &scenario::Network) -> Self {
        NetConfig {
            buffer_records: n.buffer_records as usize,
            exclusive: n.buffers_per_channel,
            floating: n.floating_buffers_per_gate,
            max_backlog: n.max_buffers_per_channel,
            latency: n.latency_us * US,
            jitter: n.jitter_us * US,
            reorder: n.reorder_us * US,
            record_bytes: n.record_bytes as u64,
            debloat: DebloatConfig::from_scenario(n),
            pause_after_barrier: false,
        }
    }

    /// The most data buffers a receiver may ever hold for one channel.
    pub fn credit_bound(&self) -> u32 {
        self.exclusive + self.floating
    }

    /// Buffers in the output pool of a result partition with `subpartitions` channels.
    pub fn output_pool(&self, subpartitions: usize) -> u32 {
        subpartitions as u32 * self.exclusive + self.floating
    }
}

/// All channels and input gates of a run.
pub struct Network {
    cfg: NetConfig,
    rng: SimRng,
    chans: Vec<Chan>,
    /// Gates, indexed by `gate_base[task] + local gate index`.
    gates: Vec<Gate>,
    /// Per task: input channels that have something to take, in the order they became available.
    ready: Vec<VecDeque<ChannelId>>,
    /// Result partitions (output edges of tasks) and their pools.
    parts: Vec<Partition>,
    /// Per task: how many of its result partitions are unavailable.
    full_outputs: Vec<u32>,
    /// Per task: how many of its chained outputs hold a record the next task has not processed.
    chain_wait: Vec<u32>,
    /// Per task: output channels that got a partly filled buffer since its last flush (may hold
    /// channels whose buffer has been finished since, and repeats).
    partial: Vec<Vec<ChannelId>>,
    /// Per task: the next task of its chain, and the one before it.
    chain_next: Vec<Option<TaskId>>,
    chain_prev: Vec<Option<TaskId>>,
    wakeups: Vec<TaskId>,
    spare: Vec<Vec<Record>>,
    /// Σ over the channels of `recv.queued_data` and of `send.backlog_data`, kept as they change
    /// so that a sample of the time series does not visit every channel.
    queued_total: u64,
    backlog_total: u64,
}

impl Network {
    /// The network of `graph`, with every channel holding its initial exclusive credits.
    pub fn new(graph: &Graph, cfg: NetConfig, rng: SimRng) -> Self {
        let mut gate_base = Vec::with_capacity(graph.tasks.len());
        let mut gates = Vec::new();
        for (i, t) in graph.tasks.iter().enumerate() {
            gate_base.push(gates.len());
            for (local, chans) in t.input_gates.iter().enumerate() {
                gates.push(Gate::new(TaskId(i as u32), local, chans.clone(), &cfg));
            }
        }
        let mut parts = Vec::new();
        let mut part_of = vec![0; graph.channels.len()];
        for (t, task) in graph.tasks.iter().enumerate() {
            for chs in &task.outputs {
                for ch in chs {
                    part_of[ch.0 as usize] = parts.len();
                }
                parts.push(Partition {
                    task: TaskId(t as u32),
                    size: cfg.output_pool(chs.len()),
                    used: 0,
                    full_chans: 0,
                    unavailable: false,
                });
            }
        }
        let chans = graph
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| Chan {
                from: c.from,
                to: c.to,
                gate: gate_base[c.to.0 as usize] + c.gate,
                part: part_of[i],
                chained: graph.edges[c.edge].chained,
                flow_control: !graph.edges[c.edge].chained && !graph.edges[c.edge].back,
                send: SendSide::new(&cfg, graph.edges[c.edge].chained, graph.edges[c.edge].back),
                recv: RecvSide { outstanding: cfg.exclusive, ..Default::default() },
            })
            .collect();
        Network {
            cfg,
            rng,
            chans,
            gates,
            ready: vec![VecDeque::new(); graph.tasks.len()],
            parts,
            full_outputs: vec![0; graph.tasks.len()],
            chain_wait: vec![0; graph.tasks.len()],
            partial: vec![Vec::new(); graph.tasks.len()],
            chain_next: graph
                .tasks
                .iter()
                .map(|t| t.outputs.iter().flatten().find(|&&c| graph.is_chained(c)).map(|&c| graph.channel(c).to))
                .collect(),
            chain_prev: graph
                .tasks
                .iter()
                .map(|t| t.input_gates.iter().flatten().find(|&&c| graph.is_chained(c)).map(|&c| graph.channel(c).from))
                .collect(),
            wakeups: Vec::new(),
            spare: Vec::new(),
            queued_total: 0,
            backlog_total: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &NetConfig {
        &self.cfg
    }

    /// True when `task` may not take its next record: it or a task after it in its chain has an
    /// unavailable network output (Flink's task checks every output of the chain), or the task
    /// chained after it has not yet processed the record it was handed.
    #[inline]
    pub fn output_blocked(&self, task: TaskId) -> bool {
        self.chain_busy(task) || self.backpressured(task)
    }

    /// A record handed over within the chain after `task` is not processed yet: one thread runs
    /// the chain, so nothing before it may start another.
    fn chain_busy(&self, task: TaskId) -> bool {
        let t = task.0 as usize;
        self.chain_wait[t] > 0 || self.chain_next[t].is_some_and(|n| self.chain_busy(n))
    }

    /// Wakes `task` and every task before it in its chain.
    fn wake_chain(&mut self, task: TaskId) {
        let mut cur = Some(task);
        while let Some(c) = cur {
            self.wakeups.push(c);
            cur = self.chain_prev[c.0 as usize];
        }
    }

    /// True when `task` is backpressured: a network output of it or of a task after it in its
    /// chain is unavailable (Flink reports backpressure per chain). Waiting while the chain
    /// merely works is not backpressure.
    pub fn backpressured(&self, task: TaskId) -> bool {
        let t = task.0 as usize;
        self.full_outputs[t] > 0 || self.chain_next[t].is_some_and(|n| self.backpressured(n))
    }

    /// The receiving task of chained channel `ch` finished processing a record taken from it.
    pub fn chain_done(&mut self, ch: ChannelId) {
        let c = &mut self.chans[ch.0 as usize];
        if c.send.chain_pending == 0 {
            return; // a record of restored channel state: nobody waits for it
        }
        c.send.chain_pending -= 1;
        if c.send.chain_pending == 0 {
            let from = c.from;
            self.chain_wait[from.0 as usize] -= 1;
            if self.chain_wait[from.0 as usize] == 0 {
                self.wake_chain(from);
            }
        }
    }

    /// True when `ch` is a chained channel.
    pub fn is_chained(&self, ch: ChannelId) -> bool {
        self.chans[ch.0 as usize].chained
    }

    /// True when the next input of `task` is a record handed over by the task before it in its
    /// chain. In Flink a record goes through the whole chain by method calls once started, so
    /// the task takes it even when its own outputs are unavailable (the overdraft buffers of
    /// FLIP-227 hold what it emits); no record is ever left between two operators of a chain.
    pub fn chained_record_waiting(&self, task: TaskId) -> bool {
        self.ready[task.0 as usize].front().is_some_and(|&ch| {
            let c = &self.chans[ch.0 as usize];
            c.chained && matches!(c.recv.queue.front(), Some(Element::Data(_)))
        })
    }

    /// Tasks that may be able to continue since the last call (in event order, may repeat).
    pub fn take_wakeups(&mut self, into: &mut Vec<TaskId>) {
        into.append(&mut self.wakeups);
    }

    /// Appends a record to the channel's current buffer; finishes the buffer when full.
    /// Returns true when the record started a new buffer (so a flush timer may be needed).
    #[inline]
    pub fn push_record<E: From<NetEvent>>(
        &mut self,
        ch: ChannelId,
        r: Record,
        now: SimTime,
        q: &mut EventQueue<E>,
    ) -> bool {
        let send = &mut self.chans[ch.0 as usize].send;
        let started = send.current.is_empty();
        if started && send.current.capacity() == 0 {
            send.current = self.spare.pop().unwrap_or_else(|| Vec::with_capacity(send.cap));
        }
        send.current.push(Record { seq: send.sent, ..r });
        if self.cfg.reorder > 0 {
            send.sent_seqs = send.sent_seqs.wrapping_add(crate::sim::mix64(send.sent));
        }
        send.sent += 1;
        let finished = send.current.len() >= send.cap;
        if self.chans[ch.0 as usize].chained {
            self.chain_handed(ch);
            self.finish_buffer(ch, now, q);
            return false;
        }
        if started {
            if self.chans[ch.0 as usize].flow_control {
                self.take_pool_buffer(ch);
            }
            if !finished {
                let from = self.chans[ch.0 as usize].from;
                self.partial[from.0 as usize].push(ch);
            }
        }
        if finished {
            self.finish_buffer(ch, now, q);
        }
        started
    }

    /// Finishes every partly filled output buffer of `task`, in channel order (as a scan of all its
    /// outputs would), visiting only the channels that got one since the last flush.
    pub fn flush_partial<E: From<NetEvent>>(&mut self, task: TaskId, now: SimTime, q: &mut EventQueue<E>) {
        let mut chans = std::mem::take(&mut self.partial[task.0 as usize]);
        chans.sort_unstable();
        chans.dedup();
        for &ch in &chans {
            self.finish_buffer(ch, now, q);
        }
        chans.clear();
        if self.partial[task.0 as usize].is_empty() {
            self.partial[task.0 as usize] = chans; // keep the allocation
        }
    }

    /// True when the channel's current buffer holds records not yet finished.
    pub fn has_partial(&self, ch: ChannelId) -> bool {
        !self.chans[ch.0 as usize].send.current.is_empty()
    }

    /// Finishes the current buffer (if it holds anything) and tries to send.
    pub fn finish_buffer<E: From<NetEvent>>(&mut self, ch: ChannelId, now: SimTime, q: &mut EventQueue<E>) {
        let c = &mut self.chans[ch.0 as usize];
        if c.send.current.is_empty() {
            return;
        }
        let buf = std::mem::take(&mut c.send.current);
        c.send.backlog.push_back(Element::Data(buf));
        c.send.backlog_data += 1;
        self.backlog_total += 1;
        self.try_send(ch, now, q);
    }

    /// Finishes the current buffer, then appends an event element (FIFO after the data).
    pub fn push_event<E: From<NetEvent>>(&mut self, ch: ChannelId, e: Element, now: SimTime, q: &mut EventQueue<E>) {
        self.finish_buffer(ch, now, q);
        self.chans[ch.0 as usize].send.backlog.push_back(e);
        self.try_send(ch, now, q);
    }

    /// Sends a priority barrier: finishes the current buffer, then sends the barrier ahead of
    /// every buffer still waiting in the backlog. Returns the records it overtook (the output
    /// channel state), which stay queued and are sent after it.
    pub fn push_priority_barrier<E: From<NetEvent>>(
        &mut self,
        ch: ChannelId,
        id: CheckpointId,
        now: SimTime,
        q: &mut EventQueue<E>,
    ) -> Vec<Record> {
        self.finish_buffer(ch, now, q);
        let overtaken = Self::data_records(self.chans[ch.0 as usize].send.backlog.iter());
        self.send_now(ch, Element::PriorityBarrier(id), now, q);
        overtaken
    }

    /// Turns an in-band barrier still waiting in the sender's backlog into a priority barrier
    /// (aligned checkpoint timeout). Returns the records it overtook, or `None` when the barrier
    /// is no longer in the backlog.
    pub fn overtake_backlog_barrier<E: From<NetEvent>>(
        &mut self,
        ch: ChannelId,
        id: CheckpointId,
        now: SimTime,
        q: &mut EventQueue<E>,
    ) -> Option<Vec<Record>> {
        let backlog = &mut self.chans[ch.0 as usize].send.backlog;
        let pos = backlog.iter().position(|e| *e == Element::Barrier(id))?;
        backlog.remove(pos);
        let overtaken = Self::data_records(backlog.iter().take(pos));
        self.send_now(ch, Element::PriorityBarrier(id), now, q);
        Some(overtaken)
    }

    /// Takes an in-band barrier out of the receiver's queue so that it overtakes the data before
    /// it (aligned checkpoint timeout). Returns false when the barrier is not queued there.
    pub fn overtake_queued_barrier(&mut self, ch: ChannelId, id: CheckpointId) -> bool {
        let pauses = self.pauses(ch);
        let r = &mut self.chans[ch.0 as usize].recv;
        let Some(pos) = r.queue.iter().position(|e| *e == Element::Barrier(id)) else { return false };
        r.queue.remove(pos);
        r.owes_resume |= pauses;
        if r.queue.is_empty() && r.in_ready {
            // The barrier was all that was queued: the channel has nothing to take any more.
            r.in_ready = false;
            let to = self.chans[ch.0 as usize].to;
            self.ready[to.0 as usize].retain(|&c| c != ch);
        }
        true
    }

    /// Unconsumed records queued at the receiver of `ch`, in order, up to an in-band barrier
    /// `until` if one is queued.
    pub fn queued_records(&self, ch: ChannelId, until: Option<CheckpointId>) -> Vec<Record> {
        let r = &self.chans[ch.0 as usize].recv;
        let stop = until.and_then(|id| r.queue.iter().position(|e| *e == Element::Barrier(id))).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        for (i, e) in r.queue.iter().enumerate().take(stop) {
            if let Element::Data(b) | Element::Recovered(b) = e {
                // Only the head buffer is partly consumed.
                let from = if i == 0 { r.head_read } else { 0 };
                out.extend_from_slice(&b[from..]);
            }
        }
        out
    }

    fn data_records<'e>(elems: impl Iterator<Item = &'e Element>) -> Vec<Record> {
        let mut out = Vec::new();
        for e in elems {
            if let Element::Data(b) = e {
                out.extend_from_slice(b);
            }
        }
        out
    }

    /// Puts an element on the wire at once (no credit), keeping FIFO order on the wire.
    fn send_now<E: From<NetEvent>>(&mut self, ch: ChannelId, e: Element, now: SimTime, q: &mut EventQueue<E>) {
        let delay = self.delay_on(ch);
        self.put_on_wire(ch, e, now + delay, q);
    }

    /// Puts `e` on the wire to arrive at `at` at the earliest: FIFO (never before an earlier
    /// element), or — on non-FIFO channels (`reorder`) — at `at` plus a random extra delay,
    /// whatever was sent before, except end-of-partition, which comes after everything.
    fn put_on_wire<E: From<NetEvent>>(&mut self, ch: ChannelId, e: Element, at: SimTime, q: &mut EventQueue<E>) {
        let reorder = self.cfg.reorder > 0 && !self.chans[ch.0 as usize].chained;
        let at = if reorder && !matches!(e, Element::EndOfPartition) {
            at + self.rng.up_to(self.cfg.reorder)
        } else {
            at.max(self.chans[ch.0 as usize].send.last_arrival)
        };
        let send = &mut self.chans[ch.0 as usize].send;
        send.last_arrival = send.last_arrival.max(at);
        send.in_flight.push_back((e, send.backlog_data, at));
        q.push(at, NetEvent::Arrive(ch).into());
    }

    /// The element in flight on `ch` that arrives next: the oldest, or on non-FIFO channels the
    /// one due first (the first sent among those due at once).
    fn next_on_wire(&self, ch: ChannelId) -> Option<usize> {
        let f = &self.chans[ch.0 as usize].send.in_flight;
        if self.cfg.reorder == 0 {
            return (!f.is_empty()).then_some(0);
        }
        (0..f.len()).min_by_key(|&i| f[i].2)
    }

    /// True when the sender of `ch` pauses after an aligned barrier (never within a chain: there
    /// is no subpartition to block, the record goes by method call).
    fn pauses(&self, ch: ChannelId) -> bool {
        self.cfg.pause_after_barrier && self.chans[ch.0 as usize].flow_control
    }

    /// The latency of the next message on `ch`: none within a chain.
    fn delay_on(&mut self, ch: ChannelId) -> SimTime {
        if self.chans[ch.0 as usize].chained { 0 } else { self.delay() }
    }

    fn delay(&mut self) -> SimTime {
        let j = if self.cfg.jitter > 0 { self.rng.up_to(self.cfg.jitter) } else { 0 };
        self.cfg.latency + j
    }

    /// Sends from the backlog while the head is an event or there is credit for a data buffer.
    fn try_send<E: From<NetEvent>>(&mut self, ch: ChannelId, now: SimTime, q: &mut EventQueue<E>) {
        loop {
            let c = &self.chans[ch.0 as usize];
            match c.send.backlog.front() {
                _ if c.send.paused => break,
                None => break,
                Some(Element::Data(_)) if c.send.credit == 0 => break,
                Some(_) => {}
            }
            let delay = self.delay_on(ch);
            let c = &mut self.chans[ch.0 as usize];
            let e = c.send.backlog.pop_front().expect("checked non-empty");
            let data = matches!(e, Element::Data(_)) && c.flow_control;
            if data {
                c.send.credit -= 1;
            }
            if matches!(e, Element::Data(_)) {
                c.send.backlog_data -= 1;
                self.backlog_total -= 1;
            }
            c.send.paused = self.cfg.pause_after_barrier && c.flow_control && matches!(e, Element::Barrier(_));
            // FIFO: a message never overtakes an earlier one on the same channel (unless the
            // channels reorder).
            self.put_on_wire(ch, e, now + delay, q);
            if data {
                self.return_pool_buffer(ch);
            }
        }
    }

    /// Buffers of the pool the sender of `ch` holds for it: finished ones and a partly filled one.
    fn chan_used(&self, ch: ChannelId) -> u32 {
        let s = &self.chans[ch.0 as usize].send;
        s.backlog_data + u32::from(!s.current.is_empty())
    }

    /// A record started a new buffer on `ch`: one more buffer of its partition's pool in use.
    fn take_pool_buffer(&mut self, ch: ChannelId) {
        let part = self.chans[ch.0 as usize].part;
        self.parts[part].used += 1;
        if !self.chans[ch.0 as usize].send.full && self.chan_used(ch) >= self.cfg.max_backlog {
            self.chans[ch.0 as usize].send.full = true;
            self.parts[part].full_chans += 1;
        }
        self.update_partition(part);
    }

    /// A data buffer left for the wire: its pool buffer is free again.
    fn return_pool_buffer(&mut self, ch: ChannelId) {
        let part = self.chans[ch.0 as usize].part;
        self.parts[part].used -= 1;
        if self.chans[ch.0 as usize].send.full && self.chan_used(ch) < self.cfg.max_backlog {
            self.chans[ch.0 as usize].send.full = false;
            self.parts[part].full_chans -= 1;
        }
        self.update_partition(part);
    }

    /// Counts the partition in its task's unavailable outputs while its pool is used up or one of
    /// its channels holds its maximum; wakes the task when its last output becomes available.
    fn update_partition(&mut self, part: usize) {
        let p = &mut self.parts[part];
        let unavailable = p.used >= p.size || p.full_chans > 0;
        if unavailable == p.unavailable {
            return;
        }
        p.unavailable = unavailable;
        let t = p.task;
        let n = &mut self.full_outputs[t.0 as usize];
        if unavailable {
            *n += 1;
        } else {
            *n -= 1;
            if *n == 0 {
                // The task and every task before it in its chain may go on.
                self.wake_chain(t);
            }
        }
    }

    /// Handles a network message: a credit lets the sender continue; an arrival queues the
    /// element (except a priority barrier) and is reported back.
    pub fn handle<E: From<NetEvent>>(&mut self, ev: NetEvent, now: SimTime, q: &mut EventQueue<E>) -> Option<Arrival> {
        match ev {
            NetEvent::Credit(ch, n) => {
                self.chans[ch.0 as usize].send.credit += n;
                self.try_send(ch, now, q);
                None
            }
            NetEvent::BufferSize(ch, bytes) => {
                self.set_buffer_size(ch, bytes, now, q);
                None
            }
            NetEvent::Resume(ch) => {
                self.chans[ch.0 as usize].send.paused = false;
                self.try_send(ch, now, q);
                None
            }
            NetEvent::Arrive(ch) => Some(self.arrive(ch, now, q)),
        }
    }

    /// After the receiver handled a barrier from `ch` or unblocked `ch`: if it owes the sender a
    /// *ResumeConsumption* and the channel is not blocked, sends it (it travels with the latency).
    pub fn resume_if_owed<E: From<NetEvent>>(&mut self, ch: ChannelId, now: SimTime, q: &mut EventQueue<E>) {
        let r = &mut self.chans[ch.0 as usize].recv;
        if r.owes_resume && !r.blocked {
            r.owes_resume = false;
            let at = now + self.delay_on(ch);
            q.push(at, NetEvent::Resume(ch).into());
        }
    }

    fn arrive<E: From<NetEvent>>(&mut self, ch: ChannelId, now: SimTime, q: &mut EventQueue<E>) -> Arrival {
        let i = self.next_on_wire(ch).expect("an Arrive event has an element in flight");
        let (e, backlog, _) = self.chans[ch.0 as usize].send.in_flight.remove(i).expect("found above");
        self.arrive_element(ch, e, backlog, now, q)
    }

    /// Hands a record to the next task of its chain: with nothing queued before it on the way,
    /// it reaches the receiver at once (the caller reports the arrival, as for an `Arrive`
    /// event); otherwise it follows what is on the way, FIFO. Returns the arrival if it happened.
    pub fn hand_over<E: From<NetEvent>>(
        &mut self,
        ch: ChannelId,
        r: Record,
        now: SimTime,
        q: &mut EventQueue<E>,
    ) -> Option<Arrival> {
        let s = &self.chans[ch.0 as usize].send;
        debug_assert!(self.chans[ch.0 as usize].chained);
        // A chained channel never pauses and never holds a partial buffer (one record per buffer,
        // finished at once): only an event still on its way can be ahead of the record.
        if !s.in_flight.is_empty() || !s.backlog.is_empty() {
            self.push_record(ch, r, now, q);
            return None;
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        let c = &mut self.chans[ch.0 as usize];
        buf.push(Record { seq: c.send.sent, ..r });
        if self.cfg.reorder > 0 {
            c.send.sent_seqs = c.send.sent_seqs.wrapping_add(crate::sim::mix64(c.send.sent));
        }
        c.send.sent += 1;
        self.chain_handed(ch);
        Some(self.arrive_element(ch, Element::Data(buf), 0, now, q))
    }

    /// A record was handed over on chained channel `ch`: its sender waits until it is processed.
    fn chain_handed(&mut self, ch: ChannelId) {
        let c = &mut self.chans[ch.0 as usize];
        c.send.chain_pending += 1;
        if c.send.chain_pending == 1 {
            self.chain_wait[c.from.0 as usize] += 1;
        }
    }

    fn arrive_element<E: From<NetEvent>>(
        &mut self,
        ch: ChannelId,
        e: Element,
        backlog: u32,
        now: SimTime,
        q: &mut EventQueue<E>,
    ) -> Arrival {
        let c = &mut self.chans[ch.0 as usize];
        let arrival = match &e {
            Element::Data(b) if !c.flow_control => {
                c.recv.queued_data += 1;
                self.queued_total += 1;
                c.recv.max_queued = c.recv.max_queued.max(c.recv.queued_data);
                c.recv.arrived += b.len() as u64;
                Arrival::Data(b.len() as u32)
            }
            Element::Data(b) => {
                c.recv.outstanding -= 1;
                c.recv.queued_data += 1;
                self.queued_total += 1;
                let g = &mut self.gates[c.gate];
                g.queued += 1;
                if g.queued == 1
                    && let Some(d) = &mut g.debloat
                {
                    d.data_queued(true, now);
                }
                c.recv.max_queued = c.recv.max_queued.max(c.recv.queued_data);
                c.recv.last_backlog = backlog;
                c.recv.arrived += b.len() as u64;
                Arrival::Data(b.len() as u32)
            }
            Element::Barrier(id) => Arrival::Barrier(*id),
            Element::EndOfPartition => Arrival::EndOfPartition,
            Element::PriorityBarrier(id) => return Arrival::PriorityBarrier(*id),
            Element::Recovered(_) => unreachable!("recovered state is placed at the receiver, never sent"),
        };
        c.recv.queue.push_back(e);
        let to = c.to;
        if matches!(arrival, Arrival::Data(_)) && self.chans[ch.0 as usize].flow_control {
            self.request_floating(ch, now, q);
        }
        self.mark_ready(ch, to);
        arrival
    }

    /// The records of the data buffer that arrived last on `ch` (after [`Arrival::Data`]).
    pub fn last_arrived(&self, ch: ChannelId) -> &[Record] {
        match self.chans[ch.0 as usize].recv.queue.back() {
            Some(Element::Data(b)) => b,
            _ => &[],
        }
    }

    /// Blocks or unblocks an input channel: a blocked channel is never offered to its task.
    pub fn set_blocked(&mut self, ch: ChannelId, blocked: bool) {
        let to = self.chans[ch.0 as usize].to;
        let r = &mut self.chans[ch.0 as usize].recv;
        if r.blocked == blocked {
            return;
        }
        r.blocked = blocked;
        if blocked {
            if r.in_ready {
                r.in_ready = false;
                self.ready[to.0 as usize].retain(|&c| c != ch);
            }
        } else {
            self.mark_ready(ch, to);
        }
    }

    /// True when `ch` is blocked.
    pub fn is_blocked(&self, ch: ChannelId) -> bool {
        self.chans[ch.0 as usize].recv.blocked
    }

    fn mark_ready(&mut self, ch: ChannelId, to: TaskId) {
        let r = &mut self.chans[ch.0 as usize].recv;
        if !r.in_ready && !r.blocked && !r.queue.is_empty() {
            r.in_ready = true;
            self.ready[to.0 as usize].push_back(ch);
            self.wakeups.push(to);
        }
    }

    /// Takes the next record or event for `task` from the first ready input channel. A task
    /// drains one buffer of a channel before moving to the next ready channel (as Flink does).
    pub fn take<E: From<NetEvent>>(&mut self, task: TaskId, now: SimTime, q: &mut EventQueue<E>) -> Option<Taken> {
        let &ch = self.ready[task.0 as usize].front()?;
        let c = &mut self.chans[ch.0 as usize];
        let (taken, done_with_head) = match c.recv.queue.front().expect("a ready channel has elements") {
            Element::Data(buf) | Element::Recovered(buf) => {
                if let Some(d) = &mut self.gates[c.gate].debloat {
                    d.took(self.cfg.record_bytes);
                }
                let r = buf[c.recv.head_read];
                c.recv.head_read += 1;
                c.recv.consumed += 1;
                c.recv.consumed_digest = c.recv.consumed_digest.wrapping_add(r.lineage().digest());
                c.recv.consumed_kv =
                    c.recv.consumed_kv.wrapping_add(crate::sim::mix64(r.key).wrapping_mul(r.value as u64));
                if self.cfg.reorder > 0 {
                    let (d, end) = c.recv.consumed_seqs;
                    c.recv.consumed_seqs = (d.wrapping_add(crate::sim::mix64(r.seq)), end.max(r.seq + 1));
                }
                (Taken::Record(ch, r), c.recv.head_read == buf.len())
            }
            Element::Barrier(id) => {
                c.recv.owes_resume |= self.cfg.pause_after_barrier && c.flow_control;
                (Taken::Barrier(ch, *id), true)
            }
            Element::EndOfPartition => (Taken::EndOfPartition(ch), true),
            Element::PriorityBarrier(_) => unreachable!("priority barriers are never queued"),
        };
        if done_with_head {
            c.recv.head_read = 0;
            let head = c.recv.queue.pop_front().expect("checked");
            self.ready[task.0 as usize].pop_front();
            self.chans[ch.0 as usize].recv.in_ready = false;
            match head {
                Element::Data(mut buf) if !self.chans[ch.0 as usize].flow_control => {
                    // Within a chain or on a back-edge: no credit to give back.
                    buf.clear();
                    self.spare.push(buf);
                    self.chans[ch.0 as usize].recv.queued_data -= 1;
                    self.queued_total -= 1;
                }
                Element::Data(mut buf) => {
                    buf.clear();
                    self.spare.push(buf);
                    let g = &mut self.gates[self.chans[ch.0 as usize].gate];
                    g.queued -= 1;
                    if g.queued == 0
                        && let Some(d) = &mut g.debloat
                    {
                        d.data_queued(false, now);
                    }
                    self.release_slot(ch, now, q);
                }
                // Recovered state held no credit: nothing to give back.
                Element::Recovered(_) => {}
                _ => {}
            }
            self.mark_ready(ch, task);
        }
        Some(taken)
    }

    /// The channel and sequence number of the record [`Network::take`] would return for `task`
    /// next, if it would return a record.
    pub fn peek_record(&self, task: TaskId) -> Option<(ChannelId, u64)> {
        let &ch = self.ready[task.0 as usize].front()?;
        let r = &self.chans[ch.0 as usize].recv;
        match r.queue.front()? {
            Element::Data(buf) | Element::Recovered(buf) => Some((ch, buf[r.head_read].seq)),
            _ => None,
        }
    }

    /// Records in the element in flight on `ch` that arrives next (0 for an event or when nothing
    /// is in flight).
    pub fn front_in_flight_records(&self, ch: ChannelId) -> u32 {
        match self.next_on_wire(ch).map(|i| &self.chans[ch.0 as usize].send.in_flight[i]) {
            Some((Element::Data(b), ..)) => b.len() as u32,
            _ => 0,
        }
    }

    /// A global restart: every buffer, credit and queue is discarded and every channel starts
    /// empty with its initial credits. Counters are set again by [`Network::restore_channel`].
    pub fn reset(&mut self) {
        let all = vec![true; self.ready.len()];
        self.reset_tasks(&all);
    }

    /// Discards everything in flight on the channels into the tasks marked in `down` (a failover
    /// region: the channels into it come from it too), and their gates' credits.
    pub fn reset_tasks(&mut self, down: &[bool]) {
        let cfg = self.cfg;
        for c in &mut self.chans {
            if !down[c.to.0 as usize] {
                continue;
            }
            debug_assert!(down[c.from.0 as usize], "a failover region contains both ends of its channels");
            self.queued_total -= c.recv.queued_data as u64;
            self.backlog_total -= c.send.backlog_data as u64;
            c.send = SendSide::new(&cfg, c.chained, !c.chained && !c.flow_control);
            c.recv = RecvSide { outstanding: cfg.exclusive, ..Default::default() };
            let g = &mut self.gates[c.gate];
            *g = Gate::new(g.task, g.local, std::mem::take(&mut g.chans), &cfg);
        }
        for (t, is_down) in down.iter().enumerate() {
            if *is_down {
                self.ready[t].clear();
                self.full_outputs[t] = 0;
                self.chain_wait[t] = 0;
                self.partial[t].clear();
            }
        }
        for p in &mut self.parts {
            if down[p.task.0 as usize] {
                (p.used, p.full_chans, p.unavailable) = (0, 0, false);
            }
        }
        self.wakeups.retain(|t| !down[t.0 as usize]);
    }

    /// After [`Network::reset`]: the channel continues from a restored checkpoint with its
    /// counters as `at` gives them; `recovered` — the checkpoint's channel state, records
    /// `consumed..sent` — is queued at the receiver ahead of any new data.
    pub fn restore_channel(&mut self, ch: ChannelId, at: RestoredCounters, recovered: Vec<Record>) {
        let RestoredCounters { sent, consumed, digest, kv, seqs } = at;
        let c = &mut self.chans[ch.0 as usize];
        c.send.sent = sent;
        c.send.sent_seqs = seqs.0;
        c.recv.consumed_seqs = seqs.1;
        c.recv.consumed = consumed;
        c.recv.consumed_digest = digest;
        c.recv.consumed_kv = kv;
        c.recv.arrived = consumed + recovered.len() as u64;
        if !recovered.is_empty() {
            for chunk in recovered.chunks(self.cfg.buffer_records) {
                c.recv.queue.push_back(Element::Recovered(chunk.to_vec()));
            }
            let to = c.to;
            self.mark_ready(ch, to);
        }
    }
}
