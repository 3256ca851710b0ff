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

mod api;
mod checkpoint;
mod output;
mod recorder;
mod recovery;
mod restart;
mod savepoint;
mod sinks;
mod uncoordinated;
mod watchdog;

pub use api::{
    CountersAt, MAX_CHECKPOINT_ROWS, Message, RunError, RunOptions, RunResult, Sabotage, StopWithSavepoint,
    TaskBackpressure, default_jobs, run, run_many, run_with_protocol,
};
pub use output::OutputLog;

use api::Capture;

use crate::coordinator::{Coordinator, CoordinatorConfig};
use crate::graph::{ChannelId, Graph, Route, TaskId};
use crate::net::{Element, NetConfig, NetEvent, Network, Taken};
use crate::operator::{Logic, Record, Sink, SourceLog};
use crate::protocol::{Action, CheckpointId, Protocol};
use crate::scenario::{CostSpec, Delivery, OperatorKind, Scenario};
use crate::sim::{Component, EventQueue, MS, RngTree, SimTime, US};
use crate::trace::{TraceEvent, Tracer};

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
    /// The notification of a timed-out checkpoint reaches a task (`notifyCheckpointAborted`).
    NotifyAborted(TaskId, CheckpointId),
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
    /// A task finished downloading its state from the checkpoint storage: it resumes.
    Restored(TaskId),
    /// The end of a checkpoint reaches a source it halted (synchronous snapshots): it reads again.
    Unhalt(TaskId, CheckpointId),
    /// The JobManager's metadata file of a checkpoint is written: it completes.
    Metadata(CheckpointId),
    /// The checkpoint storage: an upload may have become ready or finished.
    Storage,
    /// Stop-with-savepoint time.
    StopWithSavepoint,
    /// Changelog: a task's periodic materialization timer fired.
    Materialize(TaskId),
    /// Uncoordinated checkpoints: a task's local checkpoint timer fired.
    LocalCheckpoint(TaskId),
}

/// What an upload to the checkpoint storage is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Upload {
    /// A task's snapshot for a checkpoint: the task acks when it is done.
    Ack(TaskId, CheckpointId),
    /// A changelog materialization of a task.
    Materialized(TaskId, u64),
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
    /// Uncoordinated checkpoints: take a local checkpoint.
    LocalCheckpoint,
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
    /// Sources under synchronous snapshots: halted at this checkpoint's trigger until its end
    /// reaches them.
    halted: Option<CheckpointId>,
    /// Sources under micro-batches: the batch being read — its checkpoint, and the log arrival
    /// time up to which it takes records.
    batch: Option<(CheckpointId, SimTime)>,
    inputs: u32,
    ended_inputs: u32,
    /// Of those, back-edges (an iteration's head): alignment does not wait for them and the task
    /// ends without their end of partition ([`Engine::inputs_done`]).
    back_inputs: u32,
    ended_back: u32,
    /// The iteration the record in progress came from, if it came from inside one.
    from_loop: Option<u32>,
    inbox: std::collections::VecDeque<Mail>,
    /// Mails left in the current batch.
    batch_left: u32,
    /// The batch is over: one input step comes before the next batch.
    input_due: bool,
    sync_until: SimTime,
    /// The operator's fold of the records it applied (sum of lineage digests).
    state_digest: u64,
    /// Sinks: how output becomes visible (two-phase commit or plain).
    sink: Option<Sink>,
    /// Sources: the log position at the start (a restart without a checkpoint rewinds here).
    initial_cursor: Option<crate::operator::LogCursor>,
    /// Records taken from the inputs since the run began (for "processed data during alignment").
    taken: u64,
    /// The chained input the record in progress came from: the upstream task of the chain waits
    /// until it is processed.
    chained_input: Option<ChannelId>,
    /// The operator state a restart without a checkpoint returns to (from a savepoint).
    initial_logic: Option<Logic>,
    /// The state backend: which files a snapshot writes (keyed tasks: the configured one).
    backend: crate::state::Backend,
}

impl TaskRt {
    /// Its input channels that alignment and the end of input count, and how many of them
    /// ended: all but an iteration head's back-edges, whose barrier comes round only after the
    /// head's snapshot (ABS on cyclic graphs) and whose end follows the head's own.
    fn outside_inputs(&self) -> (u32, u32) {
        (self.inputs - self.back_inputs, self.ended_inputs - self.ended_back)
    }
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
    /// Counts, latencies, the time series and the checkpoint rows.
    rec: recorder::Recorder,
    output: Option<OutputLog>,
    protocol: Option<Box<dyn Protocol>>,
    sabotage: Sabotage,
    protocol_name: String,
    coord: Option<Coordinator>,
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
    /// [`RunOptions::observe_counters`]: the period, the next time, and what was observed.
    observe: Option<(SimTime, SimTime, Vec<api::CountersAt>)>,
    /// The watchdog: the limits, the progress it last saw, and why it stopped the run.
    watch: watchdog::Watchdog,
    /// The final checkpoint (FLIP-147) in progress or completed, and the notifications of its
    /// completion still on their way; the job is complete when none is left.
    final_cp: Option<CheckpointId>,
    final_notifies_left: usize,
    complete: bool,
    /// The sources read only in micro-batches ([`crate::protocol::SourceMode::MicroBatches`]).
    micro_batches: bool,
    /// Records are coloured by their sender's snapshot (Lai-Yang,
    /// [`crate::protocol::ChannelStateRule::WhiteRecords`]).
    colours: bool,
    /// Checkpoints that completed (ground truth for `visible_before_completion`).
    completed_cps: std::collections::BTreeSet<CheckpointId>,
    /// The checkpoint storage's uploads in progress, sharing its bandwidth.
    storage: crate::state::storage::SharedBandwidth<Upload>,
    /// When the pending `Event::Storage` fires (`SimTime::MAX`: none pending).
    storage_wake: SimTime,
    /// Stop-with-savepoint: what was asked, and how it is going.
    stop: savepoint::Stopping,
    /// Per channel, for a start from a savepoint: the records it stands for as sent and consumed
    /// (a source's output: its restored offset) and the key-value sum its receiver's restored
    /// state stands for — the cut checker's ground truth, as if the job had run from the start.
    initial_channel: Vec<(u64, u64)>,
    /// Per channel, a retained checkpoint's in-flight data the job starts with.
    initial_inflight: Vec<Vec<Record>>,
    /// The savepoint the run started from.
    restored_from: Option<crate::metrics::RestoredSummary>,
    /// Log time − simulated time (a start from a savepoint).
    log_shift: SimTime,
    /// Per iteration: records inside it — on its channels, or taken from them and in progress.
    /// Its heads end when their outside inputs ended and this is 0.
    in_loop: Vec<u64>,
    /// Back-edges an iteration's head holds until its snapshot: (head, channel, checkpoint).
    back_blocked: Vec<(TaskId, ChannelId, CheckpointId)>,
    /// Uncoordinated checkpoints: the local checkpoints and the recovery line (no coordinator).
    local: Option<uncoordinated::Local>,
}

impl<'a> Engine<'a> {
    fn new(scenario: &'a Scenario, opts: RunOptions, protocol: Option<Box<dyn Protocol>>) -> Self {
        let graph = Graph::build(scenario);
        let (graph_channels, loops) = (graph.channels.len(), graph.loops.len());
        // Without checkpoints there are no transactions to commit: every sink delivers plainly.
        let checkpointing = protocol.is_some() && scenario.checkpointing.is_some();
        let rngs = RngTree::new(scenario.seed);
        let local = match (&protocol, &scenario.checkpointing) {
            (Some(p), Some(c)) if !p.name().info().coordinated => {
                Some(uncoordinated::Local::new(&graph, c.interval_ms * MS, scenario.seed))
            }
            _ => None,
        };
        let coord = match (&protocol, &scenario.checkpointing) {
            (Some(p), Some(c)) if p.name().info().coordinated => Some(Coordinator::new(
                CoordinatorConfig { num_retained: scenario.state.num_retained, ..CoordinatorConfig::new(c, p.name()) },
                &graph,
                scenario.network.record_bytes as u64,
            )),
            _ => None,
        };
        let colours = protocol
            .as_ref()
            .is_some_and(|p| p.name().info().channel_state == crate::protocol::ChannelStateRule::WhiteRecords);
        let micro_batches =
            protocol.as_ref().is_some_and(|p| p.name().info().sources == crate::protocol::SourceMode::MicroBatches);
        let faults = recovery::Faults::new(scenario, &graph, &rngs);
        let net_cfg = NetConfig {
            pause_after_barrier: checkpointing
                && protocol.as_ref().is_some_and(|p| p.name().info().pauses_sender_after_barrier),
            ..NetConfig::from_scenario(&scenario.network)
        };
        let net = Network::new(&graph, net_cfg, rngs.stream(Component::Network));
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
                    halted: None,
                    batch: None,
                    inputs: t.input_gates.iter().map(|g| g.len() as u32).sum(),
                    ended_inputs: 0,
                    back_inputs: t.input_gates.iter().flatten().filter(|&&c| graph.is_back(c)).count() as u32,
                    ended_back: 0,
                    from_loop: None,
                    inbox: Default::default(),
                    batch_left: 0,
                    input_due: false,
                    sync_until: 0,
                    state_digest: 0,
                    initial_cursor,
                    taken: 0,
                    chained_input: None,
                    initial_logic: None,
                    backend: crate::state::Backend::new(
                        &scenario.state,
                        i as u32,
                        spec.kind == OperatorKind::KeyedSum,
                        spec.state_bytes_per_key.unwrap_or(16),
                    ),
                    sink: (spec.kind == OperatorKind::Sink).then(|| {
                        let d = if checkpointing {
                            spec.delivery.unwrap_or(Delivery::Transactional)
                        } else {
                            Delivery::Plain
                        };
                        Sink::new(d, spec.transaction_timeout_ms.map(|t| t * MS))
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
            rec: recorder::Recorder::streaming(opts.checkpoints, opts.checkpoint_tasks),
            output: opts.collect_output.then(OutputLog::default),
            protocol_name: protocol.as_ref().map_or("none", |p| p.name().name()).to_string(),
            coord,
            protocol,
            sabotage: opts.sabotage,
            actions: Vec::new(),
            eop_arrived: vec![false; graph_channels],
            input_blocked_since: vec![None; graph_channels],
            input_blocked_ns: 0,
            faults,
            capture: opts.capture_messages.map(|window| Capture { window, ..Default::default() }),
            observe: opts.observe_counters.map(|every| (every.max(1), 0, Vec::new())),
            final_cp: None,
            final_notifies_left: 0,
            complete: false,
            micro_batches,
            colours,
            completed_cps: Default::default(),
            storage: crate::state::storage::SharedBandwidth::new(
                scenario.checkpointing.as_ref().map_or(1 << 30, |c| c.storage.bandwidth_mib_per_sec << 20),
            ),
            storage_wake: SimTime::MAX,
            stop: savepoint::Stopping::new(opts.stop_with_savepoint),
            initial_channel: vec![(0, 0); graph_channels],
            initial_inflight: vec![Vec::new(); graph_channels],
            restored_from: None,
            log_shift: 0,
            in_loop: vec![0; loops],
            back_blocked: Vec::new(),
            local,
            watch: watchdog::Watchdog {
                max_time: scenario.limits.max_sim_time_ms * MS,
                stall: scenario.limits.stall_ms * MS,
                cancel_at: scenario.limits.cancel_at_ms.map_or(SimTime::MAX, |ms| ms * MS),
                cancelled: None,
                hops: 0,
                since: 0,
                stopped: None,
            },
        }
    }

    fn run(&mut self) {
        if let Some(c) = &self.coord {
            let cmds = c.start();
            self.exec(cmds);
        }
        self.schedule_failures();
        if let Some(req) = self.stop.request {
            self.queue.push(req.at, Event::StopWithSavepoint);
        }
        self.arm_materialization();
        if self.local.is_some() {
            self.start_local_checkpoints();
        }
        for t in 0..self.tasks.len() {
            self.try_run(TaskId(t as u32));
        }
        let mut next_sample = self.sample_interval;
        let debloat_period = self.net.debloat_config().map(|d| d.period);
        let mut next_debloat = debloat_period.unwrap_or(SimTime::MAX);
        while let Some(t) = self.queue.peek_time() {
            assert!(t >= self.now, "time went backwards: {t} < {}", self.now);
            if t > self.watch.cancel_at {
                // limits.cancel_at_ms: the job is cancelled, as a benchmark ends its job.
                self.now = self.watch.cancel_at;
                self.watch.cancelled = Some(self.now);
                break;
            }
            if t > self.watch.max_time {
                let stuck = self.stalled_tasks();
                self.watch.stopped = Some(format!(
                    "simulated time passed limits.max_sim_time_ms ({} ms){}",
                    self.watch.max_time / MS,
                    if stuck.is_empty() {
                        String::new()
                    } else {
                        format!("; tasks with input waiting: {}", stuck.join(", "))
                    }
                ));
                break;
            }
            // Counters due before this event, as sampling: never an event, never in the trace.
            while let Some((every, next, seen)) = &mut self.observe
                && *next <= t
            {
                let row = (0..self.graph.channels.len())
                    .map(|c| (self.net.sent(ChannelId(c as u32)), self.net.consumed(ChannelId(c as u32))))
                    .collect();
                seen.push((*next, row));
                *next += *every;
            }
            // Samples due before this event see the state left by the earlier events; sampling
            // is not an event, so it never extends the run or changes the trace.
            while next_sample <= t {
                self.now = next_sample;
                self.sample();
                if self.rec.thin_samples() {
                    self.sample_interval *= 2;
                }
                next_sample += self.sample_interval;
            }
            // Buffer debloating recalculates between events, like sampling, so it never
            // extends a run whose work is done. Its announcements are network messages, which
            // may come before the next event: look again.
            if next_debloat <= t {
                self.now = next_debloat;
                self.debloat();
                next_debloat += debloat_period.expect("scheduled only when enabled");
                continue;
            }
            let (t, ev) = self.queue.pop().expect("peeked");
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
                Event::NotifyAborted(task, cp) => {
                    // A transactional sink keeps the pre-committed transaction of an aborted
                    // checkpoint: the next completed checkpoint commits it (as Flink's
                    // TwoPhaseCommitSinkFunction, whose notifyCheckpointAborted does nothing).
                    self.tracer.record(self.now, TraceEvent::NotifyAborted { task, cp }, &self.graph)
                }
                Event::Crash(task) => self.crash(task),
                Event::RandomFailure => self.random_failure(),
                Event::Restart => self.restart(),
                Event::Restored(task) => self.restored(task),
                Event::Materialize(task) => self.materialize(task),
                Event::Metadata(cp) => self.on_metadata(cp),
                Event::Unhalt(task, cp) => self.unhalt(task, cp),
                Event::StopWithSavepoint => self.on_stop_with_savepoint(),
                Event::Storage => self.on_storage(),
                Event::Timeout(cp) => self.on_timeout(cp),
                Event::Deadline(cp) => self.on_deadline(cp),
                Event::LocalCheckpoint(task) => self.on_local_timer(task),
            }
            self.run_wakeups();
            if self.stalled() {
                break;
            }
        }
        if !self.rec.sampled_at(self.now) {
            self.sample();
        }
    }

    /// Every running task's input gates recalculate their buffer size (FLIP-183).
    fn debloat(&mut self) {
        let (tasks, graph) = (&self.tasks, &self.graph);
        let rows = self.net.debloat(
            self.now,
            &mut self.queue,
            |t| !matches!(tasks[t.0 as usize].state, State::Finished | State::Down),
            |t, g| format!("{}#{g}", graph.task(t).name),
        );
        self.rec.debloat.extend(rows);
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
            NetEvent::Resume(ch) => self.tracer.record(self.now, TraceEvent::Resume { ch }, &self.graph),
            NetEvent::BufferSize(ch, bytes) => {
                self.tracer.record(self.now, TraceEvent::BufferSize { ch, bytes }, &self.graph)
            }
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

    /// The buffer timeout: finishes the task's partly filled buffers (only those: a task with
    /// hundreds of output channels has a few partial buffers at a time).
    fn on_flush(&mut self, task: TaskId) {
        self.tasks[task.0 as usize].flush_armed = false;
        self.net.flush_partial(task, self.now, &mut self.queue);
    }

    /// Starts the next piece of work of `task`, if it can.
    fn try_run(&mut self, task: TaskId) {
        let ti = task.0 as usize;
        loop {
            if matches!(self.tasks[ti].state, State::Busy(..) | State::Syncing | State::Finished | State::Down) {
                return;
            }
            // Flink's MailboxProcessor: a batch of the mails present when the batch starts, then
            // one input step (the default action), so no stream of checkpoints can starve the
            // task of its records. Mails that arrive during a batch wait for the next one.
            let t = &mut self.tasks[ti];
            if t.batch_left == 0 && !t.input_due && !t.inbox.is_empty() {
                t.batch_left = t.inbox.len() as u32;
            }
            if t.batch_left > 0 {
                t.batch_left -= 1;
                t.input_due = t.batch_left == 0;
                let m = t.inbox.pop_front().expect("a batch counts mails that are in the inbox");
                self.handle_mail(task, m);
                continue;
            }
            t.input_due = false;
            // A priority barrier is an input event, not a mail: in Flink the input gate returns it
            // ahead of any data (it overtook that data), so it comes first in the input step —
            // no record behind it may be taken before the snapshot it triggers.
            if let Some(i) = t.inbox.iter().position(|m| matches!(m, Mail::Barrier(..))) {
                let m = t.inbox.remove(i).expect("found above");
                self.handle_mail(task, m);
                continue;
            }
            // When the input step cannot run, the mails that came in the meantime go first.
            let mail_waiting = !t.inbox.is_empty();
            if self.net.output_blocked(task) && !self.net.chained_record_waiting(task) {
                // Waiting for the next task of its own chain is not backpressure.
                if self.tasks[ti].blocked_since.is_none() && self.net.backpressured(task) {
                    self.tasks[ti].blocked_since = Some(self.now);
                    self.tracer.record(self.now, TraceEvent::Blocked { task }, &self.graph);
                }
                if mail_waiting {
                    continue;
                }
                return;
            }
            if let Some(since) = self.tasks[ti].blocked_since.take() {
                self.tasks[ti].blocked_ns += self.now - since;
                self.tracer.record(self.now, TraceEvent::Unblocked { task }, &self.graph);
            }
            let t = &self.tasks[ti];
            let (halted, batch) = (t.halted.is_some(), t.batch);
            let between_batches = batch.is_none() && self.micro_batches;
            if let Some(log) = &mut self.tasks[ti].source {
                let next = log.next_arrival();
                if log.paused() || halted || (between_batches && next.is_some()) {
                    // Stopped with a savepoint, halted for a synchronous snapshot, or waiting for
                    // the next micro-batch: nothing to read now, but not the end of input.
                    if mail_waiting {
                        continue;
                    }
                    return;
                }
                if let Some((cp, until)) = batch
                    && next.is_none_or(|at| at > until)
                {
                    // The batch's records are read: the source ends the batch.
                    self.end_batch(task, cp);
                    continue;
                }
                match next {
                    None => return self.finish_task(task),
                    Some(at) if at > self.now => {
                        if !self.tasks[ti].arrival_wake {
                            self.tasks[ti].arrival_wake = true;
                            self.queue.push(at, Event::SourceArrival(task));
                        }
                        if mail_waiting {
                            continue;
                        }
                        return;
                    }
                    Some(_) => {
                        let r = self.tasks[ti].source.as_mut().expect("a source").read();
                        return self.start(task, r);
                    }
                }
            }
            if self.colours
                && !self.sabotage.ignore_red_records
                && let Some((ch, seq)) = self.net.peek_record(task)
                && self.red_record(task, ch, seq)
            {
                continue; // it snapshotted first; the record comes after the snapshot
            }
            match self.net.take(task, self.now, &mut self.queue) {
                None => {
                    if self.inputs_done(task) {
                        self.finish_task(task);
                    }
                    if mail_waiting {
                        continue;
                    }
                    return;
                }
                Some(Taken::Record(ch, r)) => {
                    self.tasks[ti].taken += 1;
                    if !self.in_loop.is_empty() {
                        self.tasks[ti].from_loop = self.graph.channel_loop[ch.0 as usize];
                    }
                    self.tasks[ti].chained_input = self.net.is_chained(ch).then_some(ch);
                    if let Some(c) = &mut self.capture {
                        c.consumed(ch, r.seq, self.faults.restarts, self.now);
                    }
                    return self.start(task, r);
                }
                Some(Taken::Barrier(ch, cp)) => self.on_inband_barrier(task, ch, cp),
                Some(Taken::EndOfPartition(ch)) => {
                    self.tasks[ti].ended_inputs += 1;
                    if self.graph.is_back(ch) {
                        self.tasks[ti].ended_back += 1;
                    } else if self.tasks[ti].back_inputs > 0
                        && self.outside_inputs_ended(task)
                        && let Some(l) = self.graph.loop_headed_by(task)
                    {
                        // The loop's other heads may have been waiting for this one.
                        self.wake.extend_from_slice(&self.graph.loops[l].heads);
                    }
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
        self.rec.counts.hops += 1;
        self.tracer.record(self.now, TraceEvent::Process { task, lineage: r.lineage() }, &self.graph);
        let t = &mut self.tasks[task.0 as usize];
        if t.kind == OperatorKind::Source {
            self.rec.counts.source_read += 1;
            self.faults.source_progress(task, t.source.as_ref().map_or(0, |s| s.cursor().offset), self.now);
        } else {
            // The operator's fold of what it applied; the cut checker compares it with what the
            // task's inputs delivered.
            t.state_digest = t.state_digest.wrapping_add(r.lineage().digest());
        }
        if t.kind == OperatorKind::Sink {
            self.rec.sink_received(self.now, self.now - r.arrival);
            if let Some(visible) = t.sink.as_mut().and_then(|s| s.receive((r.lineage(), r.arrival, r.value), self.now))
            {
                self.make_visible(&[visible]);
            }
        } else if let Some(mut out) = t.logic.apply(r) {
            if t.kind == OperatorKind::KeyedSum && t.backend.tracks_writes() {
                t.backend.write(r.key, self.now);
            }
            if t.kind == OperatorKind::LoopUntil {
                // An iteration's tail sends a record round again on its back-edges, or out.
                let round = t.logic.goes_round(&out);
                out.rounds += round as u32;
                self.emit(task, out, Some(round));
            } else {
                self.emit(task, out, None);
            }
        }
        if !self.in_loop.is_empty() {
            self.left_loop(task);
        }
        // One thread runs a chain: the task before this one in its chain may go on.
        if let Some(ch) = self.tasks[task.0 as usize].chained_input.take() {
            self.net.chain_done(ch);
        }
    }

    /// `task` processed a record it took from inside an iteration (if it did): what it emitted
    /// into the loop is counted already, the record it took is out. An empty loop may end.
    #[cold]
    fn left_loop(&mut self, task: TaskId) {
        if let Some(l) = self.tasks[task.0 as usize].from_loop.take() {
            self.in_loop[l as usize] -= 1;
            if self.in_loop[l as usize] == 0 {
                self.wake.extend_from_slice(&self.graph.loops[l as usize].heads);
            }
        }
    }

    /// Writes `r` to channel `ch` (noting it when capturing data messages).
    fn send(&mut self, ch: ChannelId, r: Record) -> bool {
        if let Some(n) = self.sabotage.lose_one_in
            && self.tasks[self.graph.channel(ch).from.0 as usize].kind == OperatorKind::Source
            && r.lineage().digest().is_multiple_of(n)
        {
            // A deliberately broken network (a mutant): the same records vanish in every run.
            return false;
        }
        if let Some(c) = &mut self.capture {
            c.sent(ch, self.net.sent(ch), self.faults.restarts, &r, self.now);
        }
        if !self.in_loop.is_empty()
            && let Some(l) = self.graph.channel_loop[ch.0 as usize]
        {
            self.in_loop[l as usize] += 1;
        }
        if self.net.is_chained(ch) {
            // Within a chain the record reaches the next operator at once, without an event.
            if let Some(arrival) = self.net.hand_over(ch, r, self.now, &mut self.queue) {
                self.tracer.record(self.now, TraceEvent::Arrive { ch, records: 1 }, &self.graph);
                self.on_arrival(ch, arrival);
            }
            return false;
        }
        self.net.push_record(ch, r, self.now, &mut self.queue)
    }

    /// Sends `r` on every output edge of `task` — or, with `lane`, only on its back-edges
    /// (`Some(true)`) or only on the others (`Some(false)`).
    fn emit(&mut self, task: TaskId, r: Record, lane: Option<bool>) {
        let ti = task.0 as usize;
        let mut started = false;
        let op = self.graph.tasks[ti].op;
        for e in 0..self.graph.tasks[ti].outputs.len() {
            // The edge from the operator (few, in cache), and the channel by arithmetic: a wide
            // shuffle's channels are far more than the caches hold (see `TaskNode::outputs`).
            let edge = &self.graph.edges[self.graph.operators[op].outputs[e]];
            if lane.is_some_and(|back| back != edge.back) {
                continue;
            }
            let (partitioner, max_p) = (edge.partitioner, self.graph.operators[edge.to].max_parallelism);
            let (first, n) = (self.graph.tasks[ti].outputs[e][0].0, self.graph.tasks[ti].outputs[e].len());
            match partitioner.route(r.key, n, max_p, &mut self.tasks[ti].rebalance_next[e]) {
                Route::One(i) => started |= self.send(ChannelId(first + i as u32), r),
                Route::All => {
                    for j in 0..n {
                        started |= self.send(ChannelId(first + j as u32), r);
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

    /// True when `task` has consumed the end of every input it waits for: all of them, except
    /// that an iteration's head does not wait for its back-edges — it ends once its other inputs
    /// ended and no record is left inside its loop (the loop then drains its end of partition
    /// round to the head, which no longer needs it). Flink's old iterations ended on a timeout
    /// of the feedback queue instead; the simulator can see that the loop is empty.
    fn inputs_done(&self, task: TaskId) -> bool {
        let t = &self.tasks[task.0 as usize];
        if t.back_inputs == 0 {
            return t.ended_inputs == t.inputs;
        }
        // Every head of the loop: another head's records may still come round to this one.
        self.graph.loop_headed_by(task).is_none_or(|l| {
            self.in_loop[l] == 0 && self.graph.loops[l].heads.iter().all(|&h| self.outside_inputs_ended(h))
        })
    }

    /// True when the inputs of `task` from outside its loop (all but its back-edges) ended.
    fn outside_inputs_ended(&self, task: TaskId) -> bool {
        let (inputs, ended) = self.tasks[task.0 as usize].outside_inputs();
        ended == inputs
    }

    /// The changelog settings, when tasks materialize (a changelog with checkpoints).
    fn materialization(&self) -> Option<&'a crate::scenario::ChangelogSpec> {
        self.scenario.state.changelog.as_ref().filter(|c| c.enabled && self.coord.is_some())
    }

    /// Changelog: (re)starts every keyed task's materialization timer, one interval from now.
    fn arm_materialization(&mut self) {
        self.queue.retain(|e| !matches!(e, Event::Materialize(_)));
        if let Some(c) = self.materialization() {
            for t in 0..self.tasks.len() {
                if self.tasks[t].kind == OperatorKind::KeyedSum && self.tasks[t].state != State::Finished {
                    self.queue.push(self.now + c.materialize_interval_ms * MS, Event::Materialize(TaskId(t as u32)));
                }
            }
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
        // Uncoordinated: its final state is its last local checkpoint.
        self.local_checkpoint(task);
        // A finished task materializes no more: its timer must not keep the run going. (Only
        // then: a scan of the queue per finishing task costs tasks × pending events.)
        if self.materialization().is_some() {
            self.queue.retain(|e| !matches!(e, Event::Materialize(t) if *t == task));
        }
        if self.job_done() {
            if self.coord.is_some() {
                // Every task processed all its input: the final checkpoint (FLIP-147) can run.
                // The tasks stay alive until it completes; failures can still happen meanwhile.
                self.queue.push(self.now, Event::Tick);
            } else {
                self.complete_job();
            }
        }
    }
}
