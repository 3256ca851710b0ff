//! The network on its own: Flink's output buffer pool (`subpartitions × buffers_per_channel +
//! floating_buffers_per_gate`, at most `max_buffers_per_channel` per subpartition) and the pause
//! of a channel after an aligned barrier until the receiver's *ResumeConsumption*.

use ckptsim::graph::{ChannelId, Graph, TaskId};
use ckptsim::net::{Element, NetConfig, NetEvent, Network};
use ckptsim::operator::{Lineage, Record};
use ckptsim::scenario::{ArrivalSpec, OperatorKind, OperatorSpec, Partitioner, Scenario};
use ckptsim::sim::{Component, EventQueue, RngTree};

/// One source task fanning out to `fan_out` sink tasks.
fn fan_out(fan_out: u32) -> (Graph, NetConfig) {
    let s = Scenario::builder("fan-out", 1)
        .operator(OperatorSpec::source("src", 1, 10, ArrivalSpec::Constant { rate_per_sec: 1000 }))
        .operator(OperatorSpec::new("sink", OperatorKind::Sink).parallelism(fan_out))
        .edge("src", "sink", Partitioner::Rebalance)
        .network(|n| n.buffer_records = 1)
        .build()
        .unwrap();
    (Graph::build(&s), NetConfig::from_scenario(&s.network))
}

fn record(i: u64) -> Record {
    Record::new(i, 1, Lineage { partition: 0, offset: i }, 0)
}

/// Writes one-record buffers on the channels `pick(i)` until the sending task must stop;
/// nothing is ever consumed. Returns how many records it took.
fn records_until_blocked(fan: u32, pick: impl Fn(u64) -> usize) -> u64 {
    let (g, cfg) = fan_out(fan);
    let mut net = Network::new(&g, cfg, RngTree::new(1).stream(Component::Network));
    let mut q: EventQueue<NetEvent> = EventQueue::new();
    let chans = &g.tasks[0].outputs[0];
    let src = TaskId(0);
    let mut i = 0;
    while !net.output_blocked(src) {
        net.push_record(chans[pick(i)], record(i), 0, &mut q);
        i += 1;
        assert!(i < 1000, "the sender never stopped");
    }
    i
}

#[test]
fn the_output_pool_is_shared_by_the_subpartitions_as_in_flink() {
    let (_, cfg) = fan_out(4);
    assert_eq!(cfg.output_pool(4), 4 * 2 + 8);
    // Round robin over 4 channels: 2 buffers per channel leave on the initial credits, then the
    // 16 buffers of the pool fill up (no channel reaches its own maximum of 10).
    assert_eq!(records_until_blocked(4, |i| (i % 4) as usize), 4 * 2 + 16);
    // All on one channel: 2 leave on credit, then that subpartition holds its maximum of 10.
    assert_eq!(records_until_blocked(4, |_| 0), 2 + 10);
    // One channel: the pool (1 × 2 + 8) and the per-channel maximum coincide.
    assert_eq!(records_until_blocked(1, |_| 0), 2 + 10);
}

#[test]
fn a_sender_pauses_after_an_aligned_barrier_until_the_receiver_resumes() {
    let (g, cfg) = fan_out(1);
    let cfg = NetConfig { pause_after_barrier: true, ..cfg };
    let mut net = Network::new(&g, cfg, RngTree::new(1).stream(Component::Network));
    let mut q: EventQueue<NetEvent> = EventQueue::new();
    let ch = ChannelId(0);
    let sink = TaskId(1);
    net.push_event(ch, Element::Barrier(1), 0, &mut q);
    net.push_record(ch, record(0), 0, &mut q);
    // Only the barrier is on the wire: the record behind it waits at the sender.
    let mut arrivals = 0;
    while let Some((t, ev)) = q.pop() {
        if matches!(ev, NetEvent::Arrive(_)) {
            arrivals += 1;
        }
        net.handle(ev, t, &mut q);
    }
    assert_eq!((arrivals, net.backlog_buffers(ch)), (1, 1));
    // The receiver takes the barrier; while it keeps the channel blocked nothing is resumed.
    net.take(sink, 1, &mut q).expect("the barrier");
    net.set_blocked(ch, true);
    net.resume_if_owed(ch, 1, &mut q);
    assert!(q.is_empty());
    // Alignment over: the ResumeConsumption travels back and the record follows.
    net.set_blocked(ch, false);
    net.resume_if_owed(ch, 1, &mut q);
    let (t, ev) = q.pop().unwrap();
    assert_eq!(ev, NetEvent::Resume(ch));
    net.handle(ev, t, &mut q);
    assert_eq!(net.backlog_buffers(ch), 0);
    assert!(matches!(q.pop(), Some((_, NetEvent::Arrive(c))) if c == ch));
}

/// The network's running sums of queued and backlogged buffers (what the time series samples)
/// equal the per-channel counts, through sends, arrivals, takes, credit returns and a reset.
#[test]
fn the_buffer_totals_equal_the_sum_over_the_channels() {
    let (g, cfg) = fan_out(4);
    let mut net = Network::new(&g, cfg, RngTree::new(1).stream(Component::Network));
    let mut q: EventQueue<NetEvent> = EventQueue::new();
    let chans = g.tasks[0].outputs[0].clone();
    let sinks: Vec<TaskId> = (1..=4).map(TaskId).collect();
    let scanned = |net: &Network| {
        let n = net.channel_count() as u32;
        (
            (0..n).map(|c| net.queued_buffers(ChannelId(c)) as u64).sum::<u64>(),
            (0..n).map(|c| net.backlog_buffers(ChannelId(c)) as u64).sum::<u64>(),
        )
    };
    let mut seen_both = false;
    for i in 0..200u64 {
        let now = i * 20_000; // 20 µs steps: a buffer crosses in 100 µs
        if !net.output_blocked(TaskId(0)) {
            net.push_record(chans[(i * 7 % 4) as usize], record(i), now, &mut q);
        }
        // Deliver what is due, and let one sink take a record every third step.
        while let Some(t) = q.peek_time().filter(|&t| t <= now) {
            let (_, ev) = q.pop().expect("peeked");
            net.handle(ev, t, &mut q);
        }
        if i % 3 == 0 {
            let _ = net.take(sinks[(i / 3 % 4) as usize], now, &mut q);
        }
        let totals = net.buffer_totals();
        assert_eq!(totals, scanned(&net), "step {i}");
        seen_both |= totals.0 > 0 && totals.1 > 0;
    }
    assert!(seen_both, "the test never had buffers both queued and backlogged");
    net.reset();
    assert_eq!(net.buffer_totals(), (0, 0));
    assert_eq!(scanned(&net), (0, 0));
}

/// FLIP-183's claim: with debloating, the data in flight towards a gate is about its throughput ×
/// the target, and aligned checkpoints get shorter because less data is queued ahead of barriers.
#[test]
fn debloating_keeps_about_throughput_times_target_in_flight() {
    let base: Scenario =
        Scenario::load(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/backpressure.json"))
            .unwrap();
    let mut s = base.clone();
    let d = &mut s.network.debloat;
    (d.enabled, d.target_ms, d.samples, d.min_buffer_bytes) = (true, 10, 5, 100);
    let r = ckptsim::engine::run(&s, Default::default()).unwrap();
    // The slow task's gate, over the second half of the run.
    let rows: Vec<_> = r.debloat.iter().filter(|x| x.gate == "agg[2]#0" && x.t_ms >= 1000.0).collect();
    assert!(rows.len() >= 5);
    let mean =
        |f: &dyn Fn(&ckptsim::net::DebloatSample) -> f64| rows.iter().map(|x| f(x)).sum::<f64>() / rows.len() as f64;
    let throughput = mean(&|x| x.throughput_bps as f64);
    let in_flight = mean(&|x| x.in_flight_bytes as f64);
    let ratio = in_flight / (throughput * 0.010);
    assert!((0.5..=2.0).contains(&ratio), "in flight {in_flight:.0} B against {throughput:.0} B/s × 10 ms: {ratio:.2}");
    // Smaller buffers were announced, and the sizes stay within their bounds.
    assert!(r.debloat.iter().any(|x| x.announced && x.buffer_bytes < 6400));
    assert!(r.debloat.iter().all(|x| (100..=6400).contains(&x.buffer_bytes)));
    let plain = ckptsim::engine::run(&base, Default::default()).unwrap();
    assert!(plain.debloat.is_empty());
    let (with, without) = (r.summary.checkpoints.duration_ms.p50, plain.summary.checkpoints.duration_ms.p50);
    assert!(with < 0.75 * without, "aligned p50 {with:.1} ms with debloating, {without:.1} ms without");
    assert_eq!((r.summary.consistent_cut.violations, r.summary.drained), (0, true));
}

fn chain_job(chaining: bool) -> Scenario {
    use ckptsim::scenario::CostSpec;
    let mut s = Scenario::builder("chain", 3)
        .operator(
            OperatorSpec::source("src", 1, 20_000, ArrivalSpec::Constant { rate_per_sec: 1_000_000 })
                .cost(CostSpec::FixedUs(10)),
        )
        .operator(OperatorSpec::new("map", OperatorKind::Map).cost(CostSpec::FixedUs(10)))
        .operator(OperatorSpec::new("sink", OperatorKind::Sink).cost(CostSpec::FixedNs(100)))
        .edge("src", "map", Partitioner::Forward)
        .edge("map", "sink", Partitioner::Rebalance)
        .build()
        .unwrap();
    s.topology.chaining = chaining;
    s
}

/// Flink's chaining rule: a forward edge into an operator with no other input, one chained output
/// per operator here, and the knobs that turn it off.
#[test]
fn forward_edges_into_single_input_operators_are_chained() {
    let g = Graph::build(&chain_job(true));
    assert_eq!(g.edges.iter().map(|e| e.chained).collect::<Vec<_>>(), vec![true, false]);
    assert_eq!(g.chains().len(), 2, "src→map, and the sink alone");
    assert!(!Graph::build(&chain_job(false)).edges[0].chained);
    let mut s = chain_job(true);
    s.topology.edges[0].chain = false;
    assert!(!Graph::build(&s).edges[0].chained);
    // The diamond: src feeds evens and odds by forward edges; only the first is chained, and the
    // union (two inputs) is never chained.
    let d = Graph::build(
        &Scenario::load(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/diamond.json")).unwrap(),
    );
    let chained: Vec<(usize, usize)> = d.edges.iter().filter(|e| e.chained).map(|e| (e.from, e.to)).collect();
    assert_eq!(chained, vec![(0, 1), (1, 2)], "src→evens and evens→inc");
}

/// One thread runs a chain: the costs of its operators add up, while two network-connected tasks
/// work in parallel; and a chain holds one record at a time between its operators.
#[test]
fn a_chain_runs_its_operators_in_one_thread() {
    let chained = ckptsim::engine::run(&chain_job(true), Default::default()).unwrap().summary;
    let apart = ckptsim::engine::run(&chain_job(false), Default::default()).unwrap().summary;
    // 10 µs + 10 µs per record in one thread: 50,000 records/s; apart each takes 100,000/s.
    assert!((49_000.0..=50_000.0).contains(&chained.throughput_rps), "{}", chained.throughput_rps);
    assert!((98_000.0..=100_000.0).contains(&apart.throughput_rps), "{}", apart.throughput_rps);
    assert_eq!(chained.max_queued_buffers["src[0]->map[0]"], 1);
    // Waiting for its own chain is not backpressure: nothing downstream is slow.
    assert!(chained.backpressure["src[0]"] < 0.01, "{}", chained.backpressure["src[0]"]);
    // Checkpoints of every correct protocol cut a chain consistently.
    for p in ckptsim::explore::correct_protocols() {
        let mut s = chain_job(true);
        let mut c: ckptsim::scenario::Checkpointing =
            serde_json::from_value(serde_json::json!({ "interval_ms": 20, "aligned_checkpoint_timeout_ms": 1 }))
                .unwrap();
        c.mode = p;
        s.checkpointing = Some(c);
        let m = ckptsim::engine::run(&s, Default::default()).unwrap().summary;
        assert_eq!((m.consistent_cut.violations, m.drained), (0, true), "{}", p.name());
        // The first micro-batch holds all 20,000 records (they are in the log by the first
        // trigger); the others, a checkpoint every 20 ms.
        let min = if p.info().sources == ckptsim::protocol::SourceMode::MicroBatches { 1 } else { 10 };
        let done = m.uncoordinated.as_ref().map_or(m.checkpoints.completed as u64, |u| u.local_checkpoints);
        assert!(done >= min, "{}", p.name());
    }
}
