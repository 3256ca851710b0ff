//! Random scenarios for property testing and exploration, as a proptest [`Strategy`].
//!
//! The strategy draws a [`Plan`] of small choices — shrinkable by proptest — and [`Plan::build`]
//! turns any plan into a *valid* scenario: 1–2 sources, up to four inner operators (map, filter,
//! keyed_sum, union) wired to earlier operators with every partitioner, a union that merges what
//! is left open, one seed in three an iteration (a loop closed by a back-edge), and a sink;
//! 2–11 operators with parallelism 1–4. Costs, rates and network sizes
//! range from idle to heavy backpressure with a skewed task; checkpoint settings vary; up to five
//! crashes at random times and protocol moments. A generated scenario that fails validation is a
//! bug in this file (`build` checks it).

use crate::scenario::*;
use proptest::prelude::*;

/// One source operator.
#[derive(Clone, Debug)]
pub struct SourcePlan {
    parallelism: u32,
    rate_khz: u64,
    records: u64,
    poisson: bool,
    keys: u64,
}

/// One inner operator: its kind, where its inputs come from, and its cost.
#[derive(Clone, Debug)]
pub struct InnerPlan {
    kind: u8,
    parallelism: u32,
    inputs: (usize, usize),
    partitioner: u8,
    cost_us: u64,
    exponential: bool,
    skew: Option<(u32, u64)>,
}

/// One crash: which task (index into all tasks), what moment, and the moment's number.
#[derive(Clone, Debug)]
pub struct FailurePlan {
    task: usize,
    moment: u8,
    value: u64,
}

/// All the choices of one random scenario.
#[derive(Clone, Debug)]
pub struct Plan {
    seed: u64,
    sources: Vec<SourcePlan>,
    inner: Vec<InnerPlan>,
    sink_parallelism: u32,
    network: (u32, u64, u32, u32, u32, u64, u64),
    checkpoint: (u64, u32, u64, u64),
    failures: Vec<FailurePlan>,
    restart_delay_ms: u64,
}

fn source() -> impl Strategy<Value = SourcePlan> {
    (1u32..=4, 5u64..=100, 50u64..=300, any::<bool>(), 1u64..=200).prop_map(
        |(parallelism, rate_khz, records, poisson, keys)| SourcePlan { parallelism, rate_khz, records, poisson, keys },
    )
}

fn inner() -> impl Strategy<Value = InnerPlan> {
    (
        0u8..4,
        1u32..=4,
        (0usize..16, 0usize..16),
        0u8..4,
        0u64..=40,
        any::<bool>(),
        proptest::option::weighted(0.2, (0u32..4, 2u64..=10)),
    )
        .prop_map(|(kind, parallelism, inputs, partitioner, cost_us, exponential, skew)| InnerPlan {
            kind,
            parallelism,
            inputs,
            partitioner,
            cost_us,
            exponential,
            skew,
        })
}

fn failure() -> impl Strategy<Value = FailurePlan> {
    (0usize..64, 0u8..4, 0u64..=120).prop_map(|(task, moment, value)| FailurePlan { task, moment, value })
}

/// The strategy of whole random scenarios.
pub fn scenarios() -> impl Strategy<Value = Plan> {
    (
        any::<u64>(),
        proptest::collection::vec(source(), 1..=2),
        proptest::collection::vec(inner(), 0..=4),
        1u32..=2,
        (1u32..=64, 0u64..=2000, 1u32..=4, 0u32..=8, 1u32..=10, 10u64..=500, 0u64..=100),
        (5u64..=40, 1u32..=2, 0u64..=10, 1u64..=20),
        proptest::collection::vec(failure(), 0..=5),
        0u64..=20,
    )
        .prop_map(|(seed, sources, inner, sink_parallelism, network, checkpoint, failures, restart_delay_ms)| {
            Plan { seed, sources, inner, sink_parallelism, network, checkpoint, failures, restart_delay_ms }
        })
}

fn op(id: String, kind: OperatorKind, parallelism: u32) -> OperatorSpec {
    OperatorSpec::new(&id, kind).parallelism(parallelism).cost(CostSpec::FixedNs(500))
}

impl Plan {
    /// The scenario this plan describes, with checkpointing in `protocol`.
    pub fn build(&self, name: &str, protocol: ProtocolName) -> Scenario {
        let mut ops: Vec<OperatorSpec> = Vec::new();
        let mut edges: Vec<EdgeSpec> = Vec::new();
        for (i, s) in self.sources.iter().enumerate() {
            let mut o = op(format!("src{i}"), OperatorKind::Source, s.parallelism);
            o.arrival = Some(if s.poisson {
                ArrivalSpec::Poisson { rate_per_sec: s.rate_khz * 1000 }
            } else {
                ArrivalSpec::Constant { rate_per_sec: s.rate_khz * 1000 }
            });
            o.records_per_partition = Some(s.records);
            o.keys = Some(s.keys);
            ops.push(o);
        }
        let connect = |edges: &mut Vec<EdgeSpec>, ops: &[OperatorSpec], from: usize, to: &OperatorSpec, p: u8| {
            let partitioner = match p {
                0 if ops[from].parallelism == to.parallelism => Partitioner::Forward,
                0 | 1 => Partitioner::Hash,
                2 => Partitioner::Rebalance,
                _ => Partitioner::Broadcast,
            };
            edges.push(EdgeSpec {
                from: ops[from].id.clone(),
                to: to.id.clone(),
                partitioner,
                chain: true,
                back_edge: false,
            });
        };
        // after_sum[i]: operator i consumes the output of a keyed_sum. Below one, no filter: it
        // would select records by a running sum, so even the lineage counts would depend on
        // arrival order. A keyed_sum there is fine: the oracle checks its lineage counts and
        // lists its state as not checked (see `verify::oracle`).
        let mut after_sum = vec![false; ops.len()];
        for (i, p) in self.inner.iter().enumerate() {
            let n = ops.len();
            let (a, b) = (p.inputs.0 % n, p.inputs.1 % n);
            let union = p.kind == 3 && a != b;
            let feeds = |x: usize| after_sum[x] || ops[x].kind == OperatorKind::KeyedSum;
            let downstream = feeds(a) || (union && feeds(b));
            let kind = match p.kind {
                0 => OperatorKind::Map,
                1 if !downstream => OperatorKind::Filter,
                2 => OperatorKind::KeyedSum,
                3 if union => OperatorKind::Union,
                _ => OperatorKind::Map,
            };
            after_sum.push(downstream);
            let mut o = op(format!("op{i}"), kind, p.parallelism);
            o.cost = if p.exponential { CostSpec::ExpMeanUs(p.cost_us) } else { CostSpec::FixedUs(p.cost_us) };
            if let Some((task, factor)) = p.skew {
                let t = task % p.parallelism;
                let slow = (p.cost_us * factor).max(5);
                o.task_costs.insert(t.to_string(), CostSpec::FixedUs(slow));
            }
            if kind == OperatorKind::Filter {
                o.keep = Some(KeepSpec { modulo: 3, remainders: vec![0, 2] });
            }
            connect(&mut edges, &ops, a, &o, p.partitioner);
            if union {
                connect(&mut edges, &ops, b, &o, p.partitioner.wrapping_add(1) % 4);
            }
            ops.push(o);
        }
        // Everything still without a consumer goes to the sink, through a union when several.
        let open: Vec<usize> = (0..ops.len()).filter(|&i| !edges.iter().any(|e| e.from == ops[i].id)).collect();
        let into_sink = if open.len() > 1 {
            let parallelism = ops[open[0]].parallelism;
            let u = op("merge".into(), OperatorKind::Union, parallelism);
            for (k, &i) in open.iter().enumerate() {
                connect(&mut edges, &ops, i, &u, (k % 4) as u8);
            }
            ops.push(u);
            ops.len() - 1
        } else {
            open[0]
        };
        // An iteration before the sink, one seed in three (a function of the seed, so the plan's
        // draws do not move): a head, a step (+1 per round) and a loop_until whose back-edge
        // returns to the head — unless running sums reach it, which would make the rounds
        // depend on arrival order.
        let sums = |i: usize| after_sum.get(i).copied().unwrap_or(false) || ops[i].kind == OperatorKind::KeyedSum;
        let into_sink =
            if self.seed.is_multiple_of(3) && !sums(into_sink) && !(open.len() > 1 && open.iter().any(|&i| sums(i))) {
                let p = ops[into_sink].parallelism;
                let head = op("loop_head".into(), OperatorKind::Union, p);
                connect(&mut edges, &ops, into_sink, &head, 1 + (self.seed / 3 % 2) as u8);
                ops.push(head);
                let step = op("loop_step".into(), OperatorKind::Map, p);
                connect(&mut edges, &ops, ops.len() - 1, &step, 0);
                ops.push(step);
                let mut until = op("loop_until".into(), OperatorKind::LoopUntil, p);
                until.until = Some(KeepSpec { modulo: 3, remainders: vec![0] });
                until.max_rounds = Some(1 + (self.seed / 6 % 4) as u32);
                connect(&mut edges, &ops, ops.len() - 1, &until, 0);
                ops.push(until);
                let back = if (self.seed / 3).is_multiple_of(2) { Partitioner::Rebalance } else { Partitioner::Hash };
                edges.push(EdgeSpec {
                    from: "loop_until".into(),
                    to: "loop_head".into(),
                    partitioner: back,
                    chain: false,
                    back_edge: true,
                });
                ops.len() - 1
            } else {
                into_sink
            };
        let mut sink = op("sink".into(), OperatorKind::Sink, self.sink_parallelism);
        // Exactly-once output needs the two-phase-commit sink (a plain sink is at-least-once by
        // design; tests/recovery.rs shows that separately).
        sink.delivery = Some(Delivery::Transactional);
        connect(&mut edges, &ops, into_sink, &sink, 2);
        ops.push(sink);

        let (buffer_records, timeout_us, exclusive, floating, max_backlog, latency_us, jitter_us) = self.network;
        let (interval_ms, max_concurrent, min_pause_ms, aligned_timeout_ms) = self.checkpoint;
        let tasks: Vec<String> =
            ops.iter().flat_map(|o| (0..o.parallelism).map(move |i| format!("{}[{i}]", o.id))).collect();
        let failures = self
            .failures
            .iter()
            .map(|f| {
                let task = Some(tasks[f.task % tasks.len()].clone());
                let cp = 1 + f.value % 6;
                // Without global checkpoints there are no checkpoint moments: a crash at a time.
                let moment = if protocol.info().coordinated || f.moment > 2 { f.moment } else { 0 };
                match moment {
                    0 => FailureSpec { task, at_ms: Some(f.value), ..Default::default() },
                    1 => FailureSpec { task, during_alignment_of: Some(cp), ..Default::default() },
                    2 => FailureSpec { task, after_checkpoint: Some(cp), ..Default::default() },
                    _ => FailureSpec { task, during_recovery_ms: Some(f.value % 20), ..Default::default() },
                }
            })
            .collect();
        // Three stress shapes, each in one seed of eight (a function of the seed, so the other
        // draws do not move): a synchronous snapshot part longer than the checkpoint interval
        // with two checkpoints at once (a stream of checkpoints must not starve any task),
        // timeouts short enough that checkpoints — the final one included — time out and are
        // triggered again, and buffer debloating that resizes buffers every few milliseconds.
        let (mut interval_ms, mut max_concurrent) = (interval_ms, max_concurrent);
        let (mut sync_base_us, mut timeout_ms, mut tolerable) = (20, 60_000, 0);
        let mut debloat = crate::scenario::Debloat::default();
        // Chaining is on by default, as in Flink; one seed in eight runs every forward edge over
        // the network instead.
        let mut chaining = true;
        match self.seed % 8 {
            0 => (interval_ms, max_concurrent, sync_base_us) = (1, 2, 2000),
            // Short enough that loaded checkpoints time out, long enough for the final one (the
            // finished tasks' upload and the ack's network latency) to complete eventually.
            1 => (timeout_ms, tolerable) = (4 + 3 * (latency_us + jitter_us).div_ceil(1000), 1_000_000),
            2 => {
                debloat = crate::scenario::Debloat {
                    enabled: true,
                    target_ms: 2,
                    period_ms: 1,
                    samples: 3,
                    threshold_percentages: 10,
                    min_buffer_bytes: 50,
                }
            }
            3 => chaining = false,
            _ => {}
        }
        if !protocol.info().concurrent_checkpoints {
            max_concurrent = 1;
        }
        let s = Scenario {
            format: None,
            name: name.to_string(),
            description: "generated by ckptsim::explore".into(),
            seed: self.seed,
            topology: Topology { operators: ops, edges, chaining, max_parallelism: None },
            network: Network {
                buffer_records,
                record_bytes: 100,
                buffer_timeout_us: timeout_us,
                buffers_per_channel: exclusive,
                floating_buffers_per_gate: floating,
                max_buffers_per_channel: max_backlog,
                latency_us,
                jitter_us,
                // FIFO for every barrier protocol (non-FIFO channels are their negative control);
                // half the seeds of a protocol built for non-FIFO channels (Lai-Yang) reorder,
                // within 50–500 µs (from the plan's seed: no new draw, so every other scenario
                // stays as it was).
                reorder_us: if protocol.info().channel_state == crate::protocol::ChannelStateRule::WhiteRecords
                    && self.seed % 2 == 1
                {
                    50 + (self.seed >> 1) % 451
                } else {
                    0
                },
                debloat,
            },
            metrics: MetricsConfig { sample_interval_ms: 10, ..Default::default() },
            state: state_for(self.seed),
            checkpointing: Some(Checkpointing {
                mode: protocol,
                interval_ms,
                timeout_ms,
                min_pause_ms,
                max_concurrent,
                tolerable_failed_checkpoints: tolerable,
                aligned_checkpoint_timeout_ms: Some(aligned_timeout_ms),
                storage: Storage {
                    sync_base_us,
                    sync_mib_per_sec: 1024,
                    write_latency_ms: 1,
                    write_mib_per_sec: 100,
                    ..Default::default()
                },
                retention: Default::default(),
            }),
            failures,
            restart: Restart { delay_ms: self.restart_delay_ms, attempts: 1000, ..Default::default() },
            limits: Default::default(),
        };
        let mut s = s;
        // Key churn, one seed in four: hot keys and new keys, so incremental checkpoints and the
        // changelog see overwrites and growth.
        if self.seed % 4 == 2 {
            for o in s.topology.operators.iter_mut().filter(|o| o.kind == OperatorKind::Source) {
                o.hot_keys = Some(3);
                o.hot_key_pct = Some(60);
                o.new_keys_per_sec = Some(20_000);
            }
        }
        if let Err(e) = s.validate() {
            panic!("the scenario generator produced an invalid scenario ({e}): {s:?}");
        }
        if let Some(why) = crate::verify::oracle::order_dependence(&s) {
            panic!("the scenario generator produced an order-dependent job ({why}): {s:?}");
        }
        s
    }
}

/// The state backend of a seed's scenario (a function of the seed, so the plan's draws do not
/// move): hashmap, RocksDB full or incremental, or changelog on either — with a tiny LSM (1 KiB
/// memtables and files) so flushes and compactions happen within a few hundred records, and a
/// changelog that materializes every few milliseconds.
fn state_for(seed: u64) -> StateConfig {
    let rocksdb = RocksDbSpec {
        write_buffer_kib: 1,
        level0_compaction_trigger: 2 + (seed % 3) as u32,
        target_file_size_kib: 1,
        max_bytes_for_level_base_kib: 2,
        level_multiplier: 2,
        ..Default::default()
    };
    let changelog = Some(ChangelogSpec { enabled: true, materialize_interval_ms: 1 + seed % 7, persist_delay_ms: 1 });
    let base = StateConfig { rocksdb, num_retained: 1 + (seed % 3) as u32, ..Default::default() };
    match (seed / 8) % 5 {
        0 => base,
        1 => StateConfig { backend: BackendKind::Rocksdb, ..base },
        2 => StateConfig { backend: BackendKind::Rocksdb, incremental: true, ..base },
        3 => StateConfig { changelog, ..base },
        _ => StateConfig { backend: BackendKind::Rocksdb, incremental: true, changelog, ..base },
    }
}
