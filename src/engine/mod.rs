//! The event loop: moves records from the source logs through the tasks and channels to the sinks.
//!
//! A task is a single-threaded mailbox (as in Flink): it processes one record at a time, taking
//! `cost` of simulated time, and emits the result when done. Before taking the next record it
//! checks that none of its output channels is full — otherwise it is *blocked* (backpressured)
//! until the network frees a buffer. Sources read their log when the next record has arrived.
//! The engine acts; the network ([`crate::net`]), the operators ([`crate::operator`]) and the
//! snapshot protocol ([`crate::protocol`]) decide. Checkpointing — triggers, barriers, snapshots,
//! channel state, acks — lives in `checkpoint.rs`.
//!
//! A task also has a *priority inbox* (Flink's mailbox with priority mails): checkpoint triggers
//! and priority barriers are handled before the next record, even while the task is
//! backpressured. In-band barriers, by contrast, are taken from the inputs like records.

mod checkpoint;
mod output;
mod recorder;
mod recovery;

pub use output::OutputLog;

use crate::coordinator::{Coordinator, CoordinatorConfig};
use crate::graph::{ChannelId, Graph, TaskId};
use crate::metrics::{CheckpointStats, TaskCheckpointRow};
use crate::metrics::{
    CheckpointSummary, CutSummary, Histogram, LatencySummary, RecordCounts, RecoverySummary, SampleRow, Summary,
};
use crate::net::{Element, NetConfig, NetEvent, Network, Taken};
use crate::operator::{Logic, Record, Sink, SourceLog};
use crate::protocol::{Action, CheckpointId, Protocol};
use crate::scenario::{CostSpec, Delivery, OperatorKind, Partitioner, Scenario};
use crate::sim::{Component, EventQueue, MS, RngTree, SEC, SimTime, US, mix64, ns_to_ms};
use crate::trace::{TraceEvent, Tracer};
use std::collections::BTreeMap;
use std::io::Write;

/// What the event loop schedules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    /// A task finished its current record, or its synchronous snapshot part.
    Wake(TaskId),
    /// The log record a source waits for has arrived.
    SourceArrival(TaskId),
    /// A task's buffer timeout expired: flush its partially filled output buffers.
    Flush(TaskId),
    /// A network message arrives.
    Net(NetEvent),
    /// The coordinator's periodic trigger timer.
    Tick,
    /// The trigger RPC for a checkpoint reaches a source task.
    TriggerArrive(TaskId, CheckpointId),
    /// A task's ack (its upload finished) reaches the coordinator.
    Ack(TaskId, CheckpointId),
    /// The notification of a completed checkpoint reaches a task.
    Notify(TaskId, CheckpointId),
    /// The checkpoint's timeout expires.
    Timeout(CheckpointId),
    /// The checkpoint's aligned-checkpoint timeout expires (`aligned_timeout`).
    Deadline(CheckpointId),
    /// A task crashes.
    Crash(TaskId),
    /// The next random crash.
    RandomFailure,
    /// The restart delay is over: restore and resume.
    Restart,
}

impl From<NetEvent> for Event {
    fn from(e: NetEvent) -> Self {
        Event::Net(e)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    Idle,
    /// Processing a record until the given time.
    Busy(Record, SimTime),
    /// The synchronous part of a snapshot: paused until `sync_until`.
    Syncing,
    Finished,
    /// The job failed and waits for its restart.
    Down,
}

/// A priority mail in a task's inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mail {
    /// The coordinator's trigger (sources).
    Trigger(CheckpointId),
    /// A priority barrier that arrived on an input.
    Barrier(ChannelId, CheckpointId),
    /// The aligned-checkpoint timeout of a checkpoint expired.
    Deadline(CheckpointId),
}

struct TaskRt {
    kind: OperatorKind,
    logic: Logic,
    source: Option<SourceLog>,
    cost: CostSpec,
    rng: crate::sim::SimRng,
    state: State,
    rebalance_next: Vec<usize>,
    blocked_since: Option<SimTime>,
    blocked_ns: SimTime,
    flush_armed: bool,
    arrival_wake: bool,
    inputs: u32,
    ended_inputs: u32,
    inbox: std::collections::VecDeque<Mail>,
    sync_until: SimTime,
    /// The operator's fold of the records it applied (sum of lineage digests).
    state_digest: u64,
    /// Sinks: how output becomes visible (two-phase commit or plain).
    sink: Option<Sink>,
    /// Sources: the log position at the start (a restart without a checkpoint rewinds here).
    initial_cursor: Option<crate::operator::LogCursor>,
}

/// Duties of checkpointing that a deliberately broken variant (a mutant, `verify::mutants`)
/// skips. Every correct protocol runs with the default: nothing skipped. These are engine
/// duties, not protocol decisions, so they live here rather than in the `Protocol` trait.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sabotage {
    /// The data a priority barrier overtakes at the sender is not persisted as channel state.
    pub drop_overtaken_output: bool,
    /// A restore does not replay the checkpoint's channel state into its channels.
    pub skip_channel_state_replay: bool,
    /// A transactional sink commits at its snapshot, before the checkpoint completed.
    pub sink_commits_at_snapshot: bool,
}

/// Options of a run that are not part of the scenario.
#[derive(Default)]
pub struct RunOptions {
    /// Checkpointing duties to skip (mutants only).
    pub sabotage: Sabotage,
    /// Record which lineages became visible at the sinks (memory grows with the number of
    /// records). The exactly-once oracle needs it.
    pub collect_output: bool,
    /// Write every trace event as JSON Lines here.
    pub trace: Option<Box<dyn Write>>,
    /// Keep the checkpoint and failure trace events in [`RunResult::protocol_trace`].
    pub keep_protocol_trace: bool,
    /// Record every data record written to a channel in this time window (ns), with the time
    /// its receiver took it ([`RunResult::messages`]); for space-time diagrams.
    pub capture_messages: Option<(SimTime, SimTime)>,
}

/// A data record on a channel, for space-time diagrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// The channel.
    pub ch: ChannelId,
    /// Its sequence number on the channel.
    pub seq: u64,
    /// Restarts before it was sent (sequence numbers repeat after a restore).
    pub epoch: u32,
    /// When the sender wrote it to the channel.
    pub sent: SimTime,
    /// When the receiver took it, if it did.
    pub consumed: Option<SimTime>,
}

/// Records the messages of a time window.
#[derive(Debug, Default)]
struct Capture {
    window: (SimTime, SimTime),
    messages: Vec<Message>,
    index: BTreeMap<(ChannelId, u64, u32), usize>,
}

impl Capture {
    fn sent(&mut self, ch: ChannelId, seq: u64, epoch: u32, now: SimTime) {
        if now >= self.window.0 && now <= self.window.1 {
            self.index.insert((ch, seq, epoch), self.messages.len());
            self.messages.push(Message { ch, seq, epoch, sent: now, consumed: None });
        }
    }

    fn consumed(&mut self, ch: ChannelId, seq: u64, epoch: u32, now: SimTime) {
        if let Some(&i) = self.index.get(&(ch, seq, epoch)) {
            self.messages[i].consumed = Some(now);
        }
    }
}

/// Everything a run produced.
#[derive(Debug)]
pub struct RunResult {
    /// `summary.json`.
    pub summary: Summary,
    /// The rows of `timeseries.csv`.
    pub timeseries: Vec<SampleRow>,
    /// Lineages that became visible at the sinks (committed, for a transactional sink), when
    /// [`RunOptions::collect_output`] was set.
    pub output: Option<OutputLog>,
    /// Final keyed state per `keyed_sum` operator: key → the sum over the operator's tasks.
    pub final_state: BTreeMap<String, BTreeMap<u64, i64>>,
    /// The rows of `checkpoints.csv` (empty without checkpointing).
    pub checkpoints: Vec<CheckpointStats>,
    /// The rows of `checkpoint_tasks.csv`.
    pub checkpoint_tasks: Vec<TaskCheckpointRow>,
    /// Every consistent-cut violation found, in order.
    pub cut_violations: Vec<crate::verify::CutViolation>,
    /// When tasks crashed (ms).
    pub crashes_ms: Vec<f64>,
    /// When the job restarted (ms).
    pub restarts_ms: Vec<f64>,
    /// When, after each restart, the sources were back at their offsets of the failure (ms).
    pub caught_up_ms: Vec<f64>,
    /// The checkpoint and failure trace events, with [`RunOptions::keep_protocol_trace`].
    pub protocol_trace: Vec<(SimTime, TraceEvent)>,
    /// The data messages of [`RunOptions::capture_messages`]'s window.
    pub messages: Vec<Message>,
}

/// Why a run could not be made.
#[derive(Debug)]
pub enum RunError {
    /// The scenario is not valid (the error names the field and what is allowed).
    Scenario(crate::scenario::ScenarioError),
    /// Writing the trace file failed.
    Trace(std::io::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Scenario(e) => write!(f, "{e}"),
            RunError::Trace(e) => write!(f, "cannot write the trace: {e}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<crate::scenario::ScenarioError> for RunError {
    fn from(e: crate::scenario::ScenarioError) -> Self {
        RunError::Scenario(e)
    }
}

/// Validates `scenario` and runs it to completion (until no event is left). A scenario built or
/// changed in code gets the same checks as a file: an invalid one is an error, never a panic.
///
/// ```
/// use ckptsim::{engine, scenario::Scenario};
/// let s = Scenario::load("scenarios/pipeline.json".as_ref()).unwrap();
/// let r = engine::run(&s, engine::RunOptions::default()).unwrap();
/// assert!(r.summary.drained);
/// assert_eq!(r.summary.records.source_read, r.summary.records.sink_received);
/// ```
pub fn run(scenario: &Scenario, opts: RunOptions) -> Result<RunResult, RunError> {
    run_with_protocol(scenario, opts, crate::protocol::create(scenario.protocol()))
}

/// Runs every scenario (each deterministic on its own) on `jobs` threads; results in input order.
/// `progress(done, total)` is called as runs finish. The first invalid scenario is the error.
pub fn run_many(
    scenarios: &[Scenario],
    collect_output: bool,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<RunResult>, RunError> {
    for s in scenarios {
        s.validate()?;
    }
    use std::sync::atomic::{AtomicUsize, Ordering};
    let total = scenarios.len();
    let (next, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
    type Slot = Option<Result<RunResult, RunError>>;
    let results: std::sync::Mutex<Vec<Slot>> = std::sync::Mutex::new((0..total).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, total.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total {
                        break;
                    }
                    let r = run(&scenarios[i], RunOptions { collect_output, ..Default::default() });
                    results.lock().expect("no worker panics holding the lock")[i] = Some(r);
                    progress(done.fetch_add(1, Ordering::SeqCst) + 1, total);
                }
            });
        }
    });
    results.into_inner().expect("workers joined").into_iter().map(|r| r.expect("every run finished")).collect()
}

/// Runs with an explicit protocol implementation (tests use this for deliberately broken
/// variants); `None` runs without checkpointing. The scenario's `checkpointing` settings apply.
/// Validates `scenario` first, as [`run`] does.
pub fn run_with_protocol(
    scenario: &Scenario,
    opts: RunOptions,
    protocol: Option<Box<dyn Protocol>>,
) -> Result<RunResult, RunError> {
    scenario.validate()?;
    let mut e = Engine::new(scenario, opts, protocol);
    e.run();
    e.finish().map_err(RunError::Trace)
}

struct Engine<'a> {
    scenario: &'a Scenario,
    graph: Graph,
    now: SimTime,
    queue: EventQueue<Event>,
    net: Network,
    tasks: Vec<TaskRt>,
    tracer: Tracer,
    buffer_timeout: SimTime,
    sample_interval: SimTime,
    events: u64,
    wake: Vec<TaskId>,
    wake_batch: Vec<TaskId>,
    counts: RecordCounts,
    latency: Histogram,
    window_latency: Histogram,
    window_committed: Histogram,
    samples: Vec<SampleRow>,
    last_sample: (SimTime, u64, u64),
    output: Option<OutputLog>,
    protocol: Option<Box<dyn Protocol>>,
    sabotage: Sabotage,
    protocol_name: String,
    coord: Option<Coordinator>,
    log: recorder::CheckpointLog,
    actions: Vec<Action>,
    /// Per channel: end-of-partition reached the receiver.
    eop_arrived: Vec<bool>,
    /// Per channel: blocked since (alignment).
    input_blocked_since: Vec<Option<SimTime>>,
    input_blocked_ns: SimTime,
    /// Failures, restarts and recovery figures.
    faults: recovery::Faults,
    /// Data messages of the capture window, if any.
    capture: Option<Capture>,
    /// Records that became visible at sinks, and their latency from log arrival.
    committed: u64,
    committed_latency: Histogram,
}

impl<'a> Engine<'a> {
    fn new(scenario: &'a Scenario, opts: RunOptions, protocol: Option<Box<dyn Protocol>>) -> Self {
        let graph = Graph::build(scenario);
        let graph_channels = graph.channels.len();
        // Without checkpoints there are no transactions to commit: every sink delivers plainly.
        let checkpointing = protocol.is_some() && scenario.checkpointing.is_some();
        let rngs = RngTree::new(scenario.seed);
        let coord = match (&protocol, &scenario.checkpointing) {
            (Some(p), Some(c)) => Some(Coordinator::new(
                CoordinatorConfig::new(c, p.name()),
                &graph,
                scenario.network.record_bytes as u64,
            )),
            _ => None,
        };
        let faults = recovery::Faults::new(scenario, &graph, &rngs);
        let net = Network::new(&graph, NetConfig::from_scenario(&scenario.network), rngs.stream(Component::Network));
        let tasks = graph
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let spec = &scenario.topology.operators[t.op];
                let mut rng = rngs.stream(Component::Task(i as u32));
                let source = (spec.kind == OperatorKind::Source).then(|| {
                    SourceLog::new(spec, i as u32, scenario.seed, rngs.stream(Component::SourceLog(i as u32)))
                });
                let initial_cursor = source.as_ref().map(|s| s.cursor().clone());
                // Flink's rebalance starts at a random channel per task.
                let rebalance_next = t.outputs.iter().map(|chs| rng.below(chs.len() as u64) as usize).collect();
                TaskRt {
                    kind: spec.kind,
                    logic: Logic::new(spec),
                    source,
                    cost: spec.task_costs.get(&t.index.to_string()).copied().unwrap_or(spec.cost),
                    rng,
                    state: State::Idle,
                    rebalance_next,
                    blocked_since: None,
                    blocked_ns: 0,
                    flush_armed: false,
                    arrival_wake: false,
                    inputs: t.input_gates.iter().map(|g| g.len() as u32).sum(),
                    ended_inputs: 0,
                    inbox: Default::default(),
                    sync_until: 0,
                    state_digest: 0,
                    initial_cursor,
                    sink: (spec.kind == OperatorKind::Sink).then(|| {
                        let d = if checkpointing {
                            spec.delivery.unwrap_or(Delivery::Transactional)
                        } else {
                            Delivery::Plain
                        };
                        Sink::new(d)
                    }),
                }
            })
            .collect();
        Engine {
            scenario,
            graph,
            now: 0,
            queue: EventQueue::new(),
            net,
            tasks,
            tracer: {
                let mut t = Tracer::new(opts.trace);
                if opts.keep_protocol_trace {
                    t.keep_protocol_events();
                }
                t
            },
            buffer_timeout: scenario.network.buffer_timeout_us * US,
            sample_interval: scenario.metrics.sample_interval_ms * MS,
            events: 0,
            wake: Vec::new(),
            wake_batch: Vec::new(),
            counts: RecordCounts::default(),
            latency: Histogram::new(),
            window_latency: Histogram::new(),
            window_committed: Histogram::new(),
            samples: Vec::new(),
            last_sample: (0, 0, 0),
            output: opts.collect_output.then(OutputLog::default),
            protocol_name: protocol.as_ref().map_or("none", |p| p.name().name()).to_string(),
            coord,
            log: Default::default(),
            protocol,
            sabotage: opts.sabotage,
            actions: Vec::new(),
            eop_arrived: vec![false; graph_channels],
            input_blocked_since: vec![None; graph_channels],
            input_blocked_ns: 0,
            faults,
            capture: opts.capture_messages.map(|window| Capture { window, ..Default::default() }),
            committed: 0,
            committed_latency: Histogram::new(),
        }
    }

    fn run(&mut self) {
        if let Some(c) = &self.coord {
            let cmds = c.start();
            self.exec(cmds);
        }
        self.schedule_failures();
        for t in 0..self.tasks.len() {
            self.try_run(TaskId(t as u32));
        }
        let mut next_sample = self.sample_interval;
        while let Some((t, ev)) = self.queue.pop() {
            debug_assert!(t >= self.now, "time went backwards: {t} < {}", self.now);
            // Samples due before this event see the state left by the earlier events; sampling
            // is not an event, so it never extends the run or changes the trace.
            while next_sample <= t {
                self.now = next_sample;
                self.sample();
                next_sample += self.sample_interval;
            }
            self.now = t;
            self.events += 1;
            match ev {
                Event::Wake(task) => self.on_wake(task),
                Event::SourceArrival(task) => {
                    self.tasks[task.0 as usize].arrival_wake = false;
                    self.try_run(task);
                }
                Event::Flush(task) => self.on_flush(task),
                Event::Net(n) => self.on_net(n),
                Event::Tick => self.on_tick(),
                Event::TriggerArrive(task, cp) => self.mail(task, Mail::Trigger(cp)),
                Event::Ack(task, cp) => self.on_ack(task, cp),
                Event::Notify(task, cp) => self.on_notify(task, cp),
                Event::Crash(task) => self.crash(task),
                Event::RandomFailure => self.random_failure(),
                Event::Restart => self.restart(),
                Event::Timeout(cp) => self.on_timeout(cp),
                Event::Deadline(cp) => self.on_deadline(cp),
            }
            self.run_wakeups();
        }
        if self.samples.last().is_none_or(|r| r.t_ms < ns_to_ms(self.now)) {
            self.sample();
        }
    }

    fn run_wakeups(&mut self) {
        loop {
            self.net.take_wakeups(&mut self.wake);
            if self.wake.is_empty() {
                return;
            }
            // Tasks woken while this batch runs land in `self.wake` for the next round.
            let mut batch = std::mem::take(&mut self.wake_batch);
            batch.append(&mut self.wake);
            for &t in &batch {
                self.try_run(t);
            }
            batch.clear();
            self.wake_batch = batch;
        }
    }

    fn on_net(&mut self, n: NetEvent) {
        match n {
            NetEvent::Arrive(ch) => {
                let records = self.net.front_in_flight_records(ch);
                self.tracer.record(self.now, TraceEvent::Arrive { ch, records }, &self.graph);
            }
            NetEvent::Credit(ch, n) => self.tracer.record(self.now, TraceEvent::Credit { ch, n }, &self.graph),
        }
        if let (Some(arrival), NetEvent::Arrive(ch)) = (self.net.handle(n, self.now, &mut self.queue), n) {
            self.on_arrival(ch, arrival);
        }
    }

    fn on_wake(&mut self, task: TaskId) {
        let t = &mut self.tasks[task.0 as usize];
        match t.state {
            State::Busy(r, until) if self.now >= until => {
                t.state = State::Idle;
                self.complete(task, r);
            }
            State::Syncing if self.now >= t.sync_until => {
                t.state = State::Idle;
                self.sync_finished(task);
            }
            // A wake whose pause was extended by a later snapshot (or already consumed by one
            // at the same instant): nothing to do.
            State::Busy(..) | State::Syncing | State::Idle | State::Finished | State::Down => {}
        }
        self.try_run(task);
    }

    /// Puts a priority mail in the task's inbox and lets it run.
    fn mail(&mut self, task: TaskId, m: Mail) {
        self.tasks[task.0 as usize].inbox.push_back(m);
        self.try_run(task);
    }

    fn on_flush(&mut self, task: TaskId) {
        self.tasks[task.0 as usize].flush_armed = false;
        for i in 0..self.graph.tasks[task.0 as usize].outputs.len() {
            for j in 0..self.graph.tasks[task.0 as usize].outputs[i].len() {
                let ch = self.graph.tasks[task.0 as usize].outputs[i][j];
                self.net.finish_buffer(ch, self.now, &mut self.queue);
            }
        }
    }

    /// Starts the next piece of work of `task`, if it can.
    fn try_run(&mut self, task: TaskId) {
        let ti = task.0 as usize;
        loop {
            if matches!(self.tasks[ti].state, State::Busy(..) | State::Syncing | State::Finished | State::Down) {
                return;
            }
            if let Some(m) = self.tasks[ti].inbox.pop_front() {
                self.handle_mail(task, m);
                continue;
            }
            if self.net.output_blocked(task) {
                if self.tasks[ti].blocked_since.is_none() {
                    self.tasks[ti].blocked_since = Some(self.now);
                    self.tracer.record(self.now, TraceEvent::Blocked { task }, &self.graph);
                }
                return;
            }
            if let Some(since) = self.tasks[ti].blocked_since.take() {
                self.tasks[ti].blocked_ns += self.now - since;
                self.tracer.record(self.now, TraceEvent::Unblocked { task }, &self.graph);
            }
            if let Some(log) = &mut self.tasks[ti].source {
                match log.next_arrival() {
                    None => return self.finish_task(task),
                    Some(at) if at > self.now => {
                        if !self.tasks[ti].arrival_wake {
                            self.tasks[ti].arrival_wake = true;
                            self.queue.push(at, Event::SourceArrival(task));
                        }
                        return;
                    }
                    Some(_) => {
                        let r = log.read();
                        return self.start(task, r);
                    }
                }
            }
            match self.net.take(task, self.now, &mut self.queue) {
                None => {
                    let t = &self.tasks[ti];
                    if t.ended_inputs == t.inputs {
                        self.finish_task(task);
                    }
                    return;
                }
                Some(Taken::Record(ch, r)) => {
                    if let Some(c) = &mut self.capture {
                        c.consumed(ch, r.seq, self.faults.restarts, self.now);
                    }
                    return self.start(task, r);
                }
                Some(Taken::Barrier(ch, cp)) => self.on_inband_barrier(task, ch, cp),
                Some(Taken::EndOfPartition(ch)) => {
                    self.tasks[ti].ended_inputs += 1;
                    self.on_input_ended(task, ch);
                }
            }
        }
    }

    fn start(&mut self, task: TaskId, r: Record) {
        let t = &mut self.tasks[task.0 as usize];
        let mean = t.cost.mean_ns();
        let cost = if t.cost.is_exponential() { t.rng.exp(mean) } else { mean };
        t.state = State::Busy(r, self.now + cost);
        self.queue.push(self.now + cost, Event::Wake(task));
    }

    fn complete(&mut self, task: TaskId, r: Record) {
        self.counts.hops += 1;
        self.tracer.record(self.now, TraceEvent::Process { task, lineage: r.lineage }, &self.graph);
        let t = &mut self.tasks[task.0 as usize];
        if t.kind == OperatorKind::Source {
            self.counts.source_read += 1;
            self.faults.source_progress(task, t.source.as_ref().map_or(0, |s| s.cursor().offset), self.now);
        } else {
            // The operator's fold of what it applied; the cut checker compares it with what the
            // task's inputs delivered.
            t.state_digest = t.state_digest.wrapping_add(r.lineage.digest());
        }
        if t.kind == OperatorKind::Sink {
            self.counts.sink_received += 1;
            let lat = self.now - r.arrival;
            self.latency.record(lat);
            self.window_latency.record(lat);
            if let Some(visible) = t.sink.as_mut().and_then(|s| s.receive((r.lineage, r.arrival))) {
                self.make_visible(&[visible]);
            }
            return;
        }
        if let Some(out) = t.logic.apply(r) {
            self.emit(task, out);
        }
    }

    /// Sink records became visible (committed, or received by a plain sink).
    fn make_visible(&mut self, records: &[crate::operator::sink::TxnRecord]) {
        for &(lineage, arrival) in records {
            self.committed += 1;
            self.committed_latency.record(self.now - arrival);
            self.window_committed.record(self.now - arrival);
            if let Some(out) = &mut self.output {
                out.add(lineage);
            }
        }
    }

    /// A task learns that checkpoint `cp` completed; a transactional sink commits.
    fn on_notify(&mut self, task: TaskId, cp: CheckpointId) {
        self.tracer.record(self.now, TraceEvent::Notify { task, cp }, &self.graph);
        let visible = self.tasks[task.0 as usize].sink.as_mut().map(|s| s.commit_up_to(cp)).unwrap_or_default();
        self.make_visible(&visible);
    }

    /// Writes `r` to channel `ch` (noting it when capturing data messages).
    fn send(&mut self, ch: ChannelId, r: Record) -> bool {
        if let Some(c) = &mut self.capture {
            c.sent(ch, self.net.sent(ch), self.faults.restarts, self.now);
        }
        self.net.push_record(ch, r, self.now, &mut self.queue)
    }

    fn emit(&mut self, task: TaskId, r: Record) {
        let ti = task.0 as usize;
        let mut started = false;
        for e in 0..self.graph.tasks[ti].outputs.len() {
            let chs = &self.graph.tasks[ti].outputs[e];
            let edge = self.graph.channel(chs[0]).edge;
            let pick = |chs: &Vec<ChannelId>, i: usize| chs[i];
            match self.graph.edges[edge].partitioner {
                Partitioner::Forward => started |= self.send(pick(chs, 0), r),
                Partitioner::Hash => {
                    let ch = pick(chs, (mix64(r.key) % chs.len() as u64) as usize);
                    started |= self.send(ch, r);
                }
                Partitioner::Rebalance => {
                    let i = self.tasks[ti].rebalance_next[e];
                    self.tasks[ti].rebalance_next[e] = (i + 1) % chs.len();
                    let ch = pick(chs, i);
                    started |= self.send(ch, r);
                }
                Partitioner::Broadcast => {
                    for j in 0..self.graph.tasks[ti].outputs[e].len() {
                        let ch = self.graph.tasks[ti].outputs[e][j];
                        started |= self.send(ch, r);
                    }
                }
            }
        }
        if self.buffer_timeout == 0 {
            self.on_flush(task);
        } else if started && !self.tasks[ti].flush_armed {
            self.tasks[ti].flush_armed = true;
            self.queue.push(self.now + self.buffer_timeout, Event::Flush(task));
        }
    }

    /// All input consumed (or the log exhausted): flush and send end-of-partition downstream.
    fn finish_task(&mut self, task: TaskId) {
        let ti = task.0 as usize;
        self.tasks[ti].state = State::Finished;
        self.tracer.record(self.now, TraceEvent::Finished { task }, &self.graph);
        for e in 0..self.graph.tasks[ti].outputs.len() {
            for j in 0..self.graph.tasks[ti].outputs[e].len() {
                let ch = self.graph.tasks[ti].outputs[e][j];
                self.net.push_event(ch, Element::EndOfPartition, self.now, &mut self.queue);
            }
        }
        self.snapshot_finished(task);
        if self.job_done() {
            // Every task processed all its input. Failures still scheduled can no longer happen,
            // and the final checkpoint can run (FLIP-147).
            self.queue.retain(|e| !matches!(e, Event::Crash(_) | Event::RandomFailure));
            if self.coord.is_some() {
                self.queue.push(self.now, Event::Tick);
            }
        }
    }

    fn sample(&mut self) {
        let (t0, read0, sink0) = self.last_sample;
        let dt = (self.now - t0).max(1) as f64 / SEC as f64;
        let mut lag: SimTime = 0;
        for t in &self.tasks {
            if let (Some(log), false) = (&t.source, t.state == State::Finished)
                && let Some(at) = log.next_arrival()
            {
                lag = lag.max(self.now.saturating_sub(at));
            }
        }
        let mut queued = 0u64;
        let mut backlog = 0u64;
        for c in 0..self.net.channel_count() {
            queued += self.net.queued_buffers(ChannelId(c as u32)) as u64;
            backlog += self.net.backlog_buffers(ChannelId(c as u32)) as u64;
        }
        self.samples.push(SampleRow {
            t_ms: ns_to_ms(self.now),
            source_read: self.counts.source_read,
            sink_received: self.counts.sink_received,
            read_rps: (self.counts.source_read - read0) as f64 / dt,
            sink_rps: (self.counts.sink_received - sink0) as f64 / dt,
            source_lag_ms: ns_to_ms(lag),
            queued_buffers: queued,
            backlog_buffers: backlog,
            backpressured_tasks: self.tasks.iter().filter(|t| t.blocked_since.is_some()).count() as u32,
            latency_p50_ms: ns_to_ms(self.window_latency.percentile(50.0)),
            latency_p99_ms: ns_to_ms(self.window_latency.percentile(99.0)),
            committed_p99_ms: (self.window_committed.count() > 0)
                .then(|| ns_to_ms(self.window_committed.percentile(99.0))),
        });
        self.window_latency.clear();
        self.window_committed.clear();
        self.last_sample = (self.now, self.counts.source_read, self.counts.sink_received);
    }

    fn finish(mut self) -> std::io::Result<RunResult> {
        self.end_unfinished();
        self.tracer.finish()?;
        let end = self.now;
        let input_blocked_ns =
            self.input_blocked_ns + self.input_blocked_since.iter().flatten().map(|&s| end - s).sum::<SimTime>();
        let (checkpoints, consistent_cut, stats, rows, violations) = match self.coord.take() {
            Some(_) => {
                let c = std::mem::take(&mut self.log);
                (
                    CheckpointSummary::from_stats(&c.stats, c.job_failed.clone()),
                    CutSummary {
                        checked: c.cut_checked,
                        violations: c.cut_violations.len(),
                        first_violation: c.cut_violations.first().map(|v| v.to_string()),
                    },
                    c.stats,
                    c.task_rows,
                    c.cut_violations,
                )
            }
            None => Default::default(),
        };
        let secs = end.max(1) as f64 / SEC as f64;
        let backpressure: BTreeMap<String, f64> = self
            .tasks
            .iter()
            .zip(&self.graph.tasks)
            .map(|(t, n)| {
                let blocked = t.blocked_ns + t.blocked_since.map_or(0, |s| end - s);
                (n.name.clone(), if end == 0 { 0.0 } else { blocked as f64 / end as f64 })
            })
            .collect();
        let max_queued_buffers = self
            .graph
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), self.net.max_queued_buffers(ChannelId(i as u32))))
            .collect();
        let summary = Summary {
            scenario: self.scenario.name.clone(),
            seed: self.scenario.seed,
            fingerprint: self.scenario.fingerprint(),
            protocol: self.protocol_name.clone(),
            sim_time_ns: end,
            events: self.events,
            trace_events: self.tracer.count(),
            trace_hash: self.tracer.hash_hex(),
            drained: self.tasks.iter().all(|t| t.state == State::Finished),
            records: RecordCounts { committed: self.committed, ..self.counts.clone() },
            latency_ms: LatencySummary {
                p50: ns_to_ms(self.latency.percentile(50.0)),
                p99: ns_to_ms(self.latency.percentile(99.0)),
                max: ns_to_ms(self.latency.max()),
                committed_p50: ns_to_ms(self.committed_latency.percentile(50.0)),
                committed_p99: ns_to_ms(self.committed_latency.percentile(99.0)),
            },
            throughput_rps: self.counts.source_read as f64 / secs,
            backpressure,
            max_queued_buffers,
            credit_bound: self.net.config().credit_bound(),
            input_blocked_ms: ns_to_ms(input_blocked_ns),
            checkpoints,
            consistent_cut,
            failures: self.faults.failures,
            recoveries: self.faults.restarts,
            job_failed: self.faults.job_failed.clone(),
            recovery: RecoverySummary {
                downtime_ms: ns_to_ms(self.faults.downtime),
                reprocessed_records: self.faults.reprocessed,
                catch_up_ms: ns_to_ms(self.faults.catch_up),
            },
            exactly_once: Default::default(),
        };
        let mut final_state: BTreeMap<String, BTreeMap<u64, i64>> = BTreeMap::new();
        for (t, node) in self.tasks.iter().zip(&self.graph.tasks) {
            if let Logic::KeyedSum(k) = &t.logic {
                // A key can live in several tasks (rebalance or broadcast into the operator, and a
                // restore may route a record elsewhere): the operator's sum is over its tasks.
                let op = final_state.entry(self.graph.operators[node.op].id.clone()).or_default();
                for (&key, &sum) in k.sums() {
                    let total = op.entry(key).or_insert(0);
                    *total = total.wrapping_add(sum);
                }
            }
        }
        Ok(RunResult {
            summary,
            timeseries: self.samples,
            output: self.output,
            final_state,
            checkpoints: stats,
            checkpoint_tasks: rows,
            cut_violations: violations,
            crashes_ms: self.faults.crash_times.iter().map(|&t| ns_to_ms(t)).collect(),
            restarts_ms: self.faults.restart_times.iter().map(|&t| ns_to_ms(t)).collect(),
            caught_up_ms: self.faults.caught_up_times.iter().map(|&t| ns_to_ms(t)).collect(),
            protocol_trace: self.tracer.take_kept(),
            messages: self.capture.take().map(|c| c.messages).unwrap_or_default(),
        })
    }
}
