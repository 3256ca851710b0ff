//! Building a scenario in code (turmoil's `Builder`): documented setters instead of escaped JSON,
//! and [`ScenarioBuilder::build`] runs the same validation as a scenario file, so a built
//! scenario is always runnable or an error that names the field.

use super::{
    ArrivalSpec, Checkpointing, CostSpec, EdgeSpec, FailureSpec, Limits, MetricsConfig, Network, OperatorKind,
    OperatorSpec, Partitioner, ProtocolName, Restart, Scenario, ScenarioError, Topology,
};
use std::collections::BTreeMap;

impl Scenario {
    /// A builder for a scenario named `name` with `seed`.
    ///
    /// ```
    /// use ckptsim::scenario::{ArrivalSpec, OperatorKind, OperatorSpec, Partitioner, ProtocolName, Scenario};
    /// let s = Scenario::builder("tiny", 1)
    ///     .operator(OperatorSpec::source("src", 2, 100, ArrivalSpec::Constant { rate_per_sec: 1000 }))
    ///     .operator(OperatorSpec::new("out", OperatorKind::Sink))
    ///     .edge("src", "out", Partitioner::Rebalance)
    ///     .checkpointing(ProtocolName::ALIGNED, 10)
    ///     .build()
    ///     .unwrap();
    /// let r = ckptsim::engine::run(&s, Default::default()).unwrap();
    /// assert_eq!(r.summary.records.committed, 200);
    /// ```
    pub fn builder(name: &str, seed: u64) -> ScenarioBuilder {
        ScenarioBuilder {
            s: Scenario {
                format: None,
                name: name.to_string(),
                description: String::new(),
                seed,
                topology: Topology { operators: Vec::new(), edges: Vec::new(), chaining: true, max_parallelism: None },
                network: Network::default(),
                metrics: MetricsConfig::default(),
                checkpointing: None,
                state: Default::default(),
                failures: Vec::new(),
                restart: Restart::default(),
                limits: Limits::default(),
            },
        }
    }
}

/// Builds a [`Scenario`]; see [`Scenario::builder`].
#[derive(Clone, Debug)]
pub struct ScenarioBuilder {
    s: Scenario,
}

impl ScenarioBuilder {
    /// Adds an operator.
    pub fn operator(mut self, op: OperatorSpec) -> Self {
        self.s.topology.operators.push(op);
        self
    }

    /// Adds an edge `from → to`.
    pub fn edge(mut self, from: &str, to: &str, partitioner: Partitioner) -> Self {
        self.s.topology.edges.push(EdgeSpec {
            from: from.to_string(),
            to: to.to_string(),
            partitioner,
            chain: true,
            back_edge: false,
        });
        self
    }

    /// Adds a back-edge `from → to`: the feedback edge of an iteration, from a `loop_until`
    /// back to the loop's head.
    pub fn back_edge(mut self, from: &str, to: &str, partitioner: Partitioner) -> Self {
        self.s.topology.edges.push(EdgeSpec {
            from: from.to_string(),
            to: to.to_string(),
            partitioner,
            chain: false,
            back_edge: true,
        });
        self
    }

    /// With the state backend `state`.
    pub fn state(mut self, state: crate::scenario::StateConfig) -> Self {
        self.s.state = state;
        self
    }

    /// Checkpoints with `mode` every `interval_ms` (the other settings at Flink's defaults).
    pub fn checkpointing(mut self, mode: ProtocolName, interval_ms: u64) -> Self {
        let mut c: Checkpointing =
            serde_json::from_value(serde_json::json!({ "interval_ms": interval_ms })).expect("defaults deserialize");
        c.mode = mode;
        self.s.checkpointing = Some(c);
        self
    }

    /// Changes the checkpointing settings (after [`ScenarioBuilder::checkpointing`]).
    pub fn with_checkpointing(mut self, edit: impl FnOnce(&mut Checkpointing)) -> Self {
        if let Some(c) = &mut self.s.checkpointing {
            edit(c);
        }
        self
    }

    /// Changes the network settings.
    pub fn network(mut self, edit: impl FnOnce(&mut Network)) -> Self {
        edit(&mut self.s.network);
        self
    }

    /// Samples the time series every `ms` milliseconds.
    pub fn sample_interval_ms(mut self, ms: u64) -> Self {
        self.s.metrics.sample_interval_ms = ms;
        self
    }

    /// Restarts `delay_ms` after a failure.
    pub fn restart_delay_ms(mut self, delay_ms: u64) -> Self {
        self.s.restart.delay_ms = delay_ms;
        self
    }

    /// Changes the restart strategy.
    pub fn restart(mut self, edit: impl FnOnce(&mut Restart)) -> Self {
        edit(&mut self.s.restart);
        self
    }

    /// Changes the watchdog's limits.
    pub fn limits(mut self, edit: impl FnOnce(&mut Limits)) -> Self {
        edit(&mut self.s.limits);
        self
    }

    /// Crashes `task` (`op[index]`) at `at_ms`.
    pub fn crash_at(mut self, task: &str, at_ms: u64) -> Self {
        self.s.failures.push(FailureSpec { task: Some(task.to_string()), at_ms: Some(at_ms), ..Default::default() });
        self
    }

    /// Validates and returns the scenario.
    pub fn build(self) -> Result<Scenario, ScenarioError> {
        self.s.validate()?;
        Ok(self.s)
    }
}

impl OperatorSpec {
    /// An operator of `kind` with parallelism 1, zero cost and no kind-specific settings.
    pub fn new(id: &str, kind: OperatorKind) -> Self {
        OperatorSpec {
            id: id.to_string(),
            kind,
            parallelism: 1,
            cost: CostSpec::default(),
            task_costs: BTreeMap::new(),
            arrival: None,
            records_per_partition: None,
            until_ms: None,
            keys: None,
            max_parallelism: None,
            hot_keys: None,
            hot_key_pct: None,
            new_keys_per_sec: None,
            keep: None,
            until: None,
            max_rounds: None,
            state_bytes_per_key: None,
            delivery: None,
            transaction_timeout_ms: None,
        }
    }

    /// A source of `parallelism` partitions of `records` records each, arriving by `arrival`.
    pub fn source(id: &str, parallelism: u32, records: u64, arrival: ArrivalSpec) -> Self {
        OperatorSpec {
            parallelism,
            arrival: Some(arrival),
            records_per_partition: Some(records),
            ..Self::new(id, OperatorKind::Source)
        }
    }

    /// With `parallelism` tasks.
    pub fn parallelism(mut self, parallelism: u32) -> Self {
        self.parallelism = parallelism;
        self
    }

    /// Key churn (sources): `hot_keys` keys take `hot_key_pct` percent of the records; the
    /// other keys slide by `new_keys_per_sec`.
    pub fn key_churn(mut self, hot_keys: u64, hot_key_pct: u64, new_keys_per_sec: u64) -> Self {
        self.hot_keys = Some(hot_keys);
        self.hot_key_pct = Some(hot_key_pct);
        self.new_keys_per_sec = Some(new_keys_per_sec);
        self
    }

    /// With `keys` distinct keys (sources).
    pub fn keys(mut self, keys: u64) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Keeping a record when `value % modulo` is in `remainders` (filters).
    pub fn keep(mut self, modulo: u64, remainders: Vec<u64>) -> Self {
        self.keep = Some(super::KeepSpec { modulo, remainders });
        self
    }

    /// With `bytes` of keyed state per distinct key (keyed_sum).
    pub fn state_bytes_per_key(mut self, bytes: u64) -> Self {
        self.state_bytes_per_key = Some(bytes);
        self
    }

    /// With a per-record processing cost.
    pub fn cost(mut self, cost: CostSpec) -> Self {
        self.cost = cost;
        self
    }
}
