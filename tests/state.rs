//! State backends: what each one uploads, references and restores, checked on real runs — and
//! exactly-once under every backend, through a failure.

use ckptsim::engine::{self, RunOptions, RunResult};
use ckptsim::metrics::{CheckpointStats, Outcome};
use ckptsim::scenario::{ArrivalSpec, OperatorKind, OperatorSpec, Partitioner, ProtocolName, Scenario, StateConfig};

/// src(2) → hash → agg(2) → sink: `keys` keys, 4 KiB of state each, 2,000 records/s per source
/// for 4 s, a checkpoint every 200 ms.
fn job(keys: u64, hot: Option<(u64, u64)>, backend: &str) -> Scenario {
    let mut src = OperatorSpec::source("src", 2, 8_000, ArrivalSpec::Constant { rate_per_sec: 2_000 }).keys(keys);
    if let Some((hot_keys, pct)) = hot {
        src = src.key_churn(hot_keys, pct, 0);
    }
    let s = Scenario::builder("state", 5)
        .operator(src)
        .operator(OperatorSpec::new("agg", OperatorKind::KeyedSum).parallelism(2).state_bytes_per_key(4096))
        .operator(OperatorSpec::new("sink", OperatorKind::Sink))
        .edge("src", "agg", Partitioner::Hash)
        .edge("agg", "sink", Partitioner::Rebalance)
        .checkpointing(ProtocolName::ALIGNED, 200)
        .build()
        .unwrap();
    with_backend(s, backend)
}

fn with_backend(mut s: Scenario, backend: &str) -> Scenario {
    s.state = s.state.with_backend(backend).unwrap();
    s.validate().unwrap();
    s
}

fn run(s: &Scenario) -> RunResult {
    let mut r = engine::run(s, RunOptions { collect_output: true, ..Default::default() }).unwrap();
    ckptsim::verify::oracle::attach(s, &mut r).unwrap();
    r
}

fn completed(r: &RunResult) -> Vec<&CheckpointStats> {
    r.checkpoints.iter().filter(|c| c.outcome == Outcome::Completed).collect()
}

#[test]
fn low_churn_incremental_checkpoints_upload_less_than_the_full_state() {
    // 2,000 keys, 50 of which take 90% of the updates, for 20 s: once the cold keys are all
    // there (≈ 10 s), a checkpoint interval changes ≈ 130 of them, and most checkpoints upload
    // a small fraction of what they reference — all but the ones after a compaction, which
    // rewrites the files (one in four: RocksDB's level0_compaction_trigger).
    let mut s = job(2_000, Some((50, 90)), "rocksdb-incremental");
    s.topology.operators[0].records_per_partition = Some(40_000);
    let r = run(&s);
    let done = completed(&r);
    assert!(done.len() >= 90, "{} completed", done.len());
    assert_eq!(done[0].incremental_bytes, done[0].state_bytes, "the first checkpoint uploads everything");
    let late: Vec<_> = done.iter().filter(|c| c.trigger_ms >= 10_000.0).collect();
    let small = late.iter().filter(|c| c.incremental_bytes * 4 < c.state_bytes).count();
    assert!(small * 3 >= late.len() * 2, "{small} of {} checkpoints uploaded < 1/4 of their size", late.len());
    assert!(done.iter().skip(1).any(|c| c.referenced_files > 0));
    assert_eq!(r.summary.exactly_once.violations, 0);
}

#[test]
fn when_every_key_changes_an_incremental_checkpoint_uploads_the_whole_state() {
    // 50 keys, 400 records per interval: every key changes between two checkpoints, so each new
    // SST file holds every key — the incremental size is the live state, as a full snapshot's.
    let inc = run(&job(50, None, "rocksdb-incremental"));
    let full = run(&job(50, None, "hashmap"));
    let (i, f) = (completed(&inc), completed(&full));
    assert_eq!(i.len(), f.len());
    // Skip the final checkpoint (after end of input nothing changed: it uploads nothing new).
    for (a, b) in i.iter().zip(&f).take(i.len() - 1) {
        // The non-keyed tasks' operator state is the same in both; the keyed part is 50 keys.
        assert_eq!(a.incremental_bytes, b.state_bytes, "checkpoint {}", a.id);
    }
}

#[test]
fn rocksdb_full_uploads_the_live_state_after_reading_it_back() {
    let rocks = run(&job(2_000, None, "rocksdb"));
    let heap = run(&job(2_000, None, "hashmap"));
    for (a, b) in completed(&rocks).iter().zip(completed(&heap)) {
        assert_eq!(a.state_bytes, b.state_bytes);
        assert_eq!(a.incremental_bytes, a.state_bytes);
    }
    assert!(rocks.summary.checkpoints.sync_ms.p50 < heap.summary.checkpoints.sync_ms.p50);
    // It reads every key-value back before uploading (state.rocksdb.iterate_mib_per_sec).
    assert!(rocks.summary.checkpoints.async_ms.p50 > heap.summary.checkpoints.async_ms.p50);
}

#[test]
fn changelog_uploads_a_small_tail_and_pays_at_restore() {
    let crash = |s: Scenario| {
        let mut s = s;
        s.failures.push(ckptsim::scenario::FailureSpec {
            task: Some("agg[0]".into()),
            at_ms: Some(3_100),
            ..Default::default()
        });
        s
    };
    let heap = run(&crash(job(20_000, None, "hashmap")));
    let log = run(&crash(job(20_000, None, "changelog")));
    let (h, l) = (&heap.summary, &log.summary);
    assert!(
        l.checkpoints.async_ms.p50 * 2.0 < h.checkpoints.async_ms.p50,
        "{:?} vs {:?}",
        l.checkpoints,
        h.checkpoints
    );
    // The log holds every change since the (never reached: 10 min) materialization: more than
    // the state, so a restore downloads and replays more.
    assert!(l.recovery.restore_bytes > h.recovery.restore_bytes);
    assert!(l.recovery.restore_ms > h.recovery.restore_ms);
    assert_eq!(h.exactly_once.violations, 0);
    assert_eq!(l.exactly_once.violations, 0);
    assert!(l.exactly_once.checked && h.exactly_once.checked);
}

#[test]
fn materialization_truncates_the_log() {
    let mut s = job(20_000, None, "changelog");
    s.state.changelog.as_mut().unwrap().materialize_interval_ms = 500;
    let short = run(&s);
    let long = run(&job(20_000, None, "changelog"));
    let last = |r: &RunResult| completed(r).iter().rev().nth(1).map(|c| c.state_bytes).unwrap();
    assert!(last(&short) < last(&long), "{} vs {}", last(&short), last(&long));
    assert_eq!(short.summary.exactly_once.violations, 0);
}

#[test]
fn every_backend_is_exactly_once_through_a_crash_and_a_restore() {
    for backend in ["hashmap", "rocksdb", "rocksdb-incremental", "changelog", "rocksdb-incremental+changelog"] {
        for protocol in [ProtocolName::ALIGNED, ProtocolName::UNALIGNED] {
            let mut s = job(3_000, Some((50, 60)), backend);
            s.set_protocol(protocol).unwrap();
            s.failures.push(ckptsim::scenario::FailureSpec {
                task: Some("agg[1]".into()),
                at_ms: Some(2_050),
                ..Default::default()
            });
            let r = run(&s);
            let m = &r.summary;
            assert!(m.exactly_once.checked, "{backend} {}", protocol.name());
            assert_eq!(m.exactly_once.violations, 0, "{backend} {}: {:?}", protocol.name(), m.exactly_once);
            assert_eq!(m.consistent_cut.violations, 0);
            assert_eq!(m.failures, 1);
            assert!(m.recovery.restore_bytes > 0);
        }
    }
}

#[test]
fn after_a_restore_incremental_checkpoints_reference_the_restored_files() {
    let mut s = job(20_000, Some((100, 95)), "rocksdb-incremental");
    s.failures.push(ckptsim::scenario::FailureSpec {
        task: Some("agg[0]".into()),
        at_ms: Some(2_050),
        ..Default::default()
    });
    let r = run(&s);
    let restart = r.restarts_ms[0];
    let first_after = completed(&r).into_iter().find(|c| c.trigger_ms > restart).unwrap();
    assert!(first_after.referenced_files > 0, "{first_after:?}");
    assert!(first_after.incremental_bytes < first_after.state_bytes);
}

#[test]
fn retaining_more_checkpoints_holds_more_storage() {
    let one = run(&job(20_000, Some((100, 95)), "rocksdb-incremental"));
    let mut s = job(20_000, Some((100, 95)), "rocksdb-incremental");
    s.state.num_retained = 3;
    let three = run(&s);
    let (a, b) = (one.summary.checkpoints.storage_bytes_max, three.summary.checkpoints.storage_bytes_max);
    assert!(b > a, "{b} vs {a}");
    // With one retained checkpoint the storage holds exactly the latest one's files (and its
    // channel state: none, aligned).
    for c in completed(&one) {
        assert_eq!(c.storage_bytes, c.state_bytes, "checkpoint {}", c.id);
    }
}

#[test]
fn state_settings_are_validated_with_the_field_named() {
    let s = job(100, None, "hashmap");
    let mut bad = s.clone();
    bad.state.incremental = true;
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("state.incremental") && e.contains("rocksdb"), "{e}");
    let mut bad = s.clone();
    bad.state.num_retained = 0;
    assert!(bad.validate().unwrap_err().to_string().contains("state.num_retained"));
    let mut bad = s.clone();
    bad.topology.operators[0].hot_key_pct = Some(50);
    assert!(bad.validate().unwrap_err().to_string().contains("hot_keys"));
    let mut bad = s.clone();
    bad.topology.operators[1].hot_keys = Some(5);
    assert!(bad.validate().unwrap_err().to_string().contains("only allowed on a source"));
    assert!(StateConfig::default().with_backend("leveldb").unwrap_err().contains("allowed: hashmap"));
    let json = r#"{"name": "x", "seed": 1, "topology": {"operators": [], "edges": []}, "state": {"backend": "heap"}}"#;
    let e = Scenario::from_json(json).unwrap_err().to_string();
    assert!(e.contains("state") && e.contains("hashmap"), "{e}");
}

#[test]
fn key_churn_adds_new_keys_at_the_stated_rate() {
    // 2 sources × 2,000 records/s for 4 s; a window of 100 cold keys sliding by 500 keys/s: about
    // 100 + 4 × 500 distinct keys, where a fixed window gives 100.
    let mut s = job(100, None, "hashmap");
    s.topology.operators[0].new_keys_per_sec = Some(500);
    let r = run(&s);
    let keys: usize = r.final_state.values().map(|m| m.len()).sum();
    assert!((1_900..=2_100).contains(&keys), "{keys} keys");
    assert_eq!(r.summary.exactly_once.violations, 0);
}

#[test]
fn the_readme_and_the_state_page_quote_the_backends_table_as_it_is() {
    let s = ckptsim::bundled::load("state/backends").unwrap().unwrap();
    let labels: Vec<String> = ckptsim::backends::DEFAULT_BACKENDS.iter().map(|b| b.to_string()).collect();
    let report = ckptsim::backends::compare_backends(&s, &labels).unwrap();
    let table = ckptsim::backends::table(&report);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for doc in ["README.md", "docs/state.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        assert!(text.contains(&table), "{doc} does not quote this table:\n{table}");
    }
}

#[test]
fn restore_time_grows_with_the_state_under_every_backend() {
    let s = job(20_000, Some((100, 95)), "hashmap");
    let mut s = s;
    s.failures.push(ckptsim::scenario::FailureSpec {
        task: Some("agg[0]".into()),
        at_ms: Some(3_100),
        ..Default::default()
    });
    let labels: Vec<String> = ckptsim::backends::DEFAULT_BACKENDS.iter().map(|b| b.to_string()).collect();
    let values = ["1024".to_string(), "8192".to_string()];
    let r =
        ckptsim::backends::sweep_backends(&s, &labels, Some(("topology.operators[1].state_bytes_per_key", &values)))
            .unwrap();
    assert_eq!(r.rows.len(), 8);
    for b in ["hashmap", "rocksdb", "rocksdb-incremental", "hashmap+changelog"] {
        let rows: Vec<_> = r.rows.iter().filter(|x| x.backend == b).collect();
        assert_eq!(rows.len(), 2, "{b}");
        assert!(rows[1].restore_bytes > rows[0].restore_bytes && rows[1].restore_ms > rows[0].restore_ms, "{b}");
        assert!(rows.iter().all(|x| x.exactly_once_violations == 0 && x.exactly_once_not_checked.is_none()));
    }
    let table = ckptsim::backends::table(&r);
    assert!(table.contains("topology.operators[1].state_bytes_per_key = 8192"), "{table}");
    let charts = ckptsim::backends::charts(&r);
    assert_eq!(charts[0].name, "backends_restore_vs_size");
    assert!(charts[0].series.iter().all(|s| s.points.len() == 2));
}

#[test]
fn a_materialization_timer_never_outlives_the_job() {
    // Ten minutes between materializations (Flink's default), a four-second job: the run ends
    // with the job, not at the next timer.
    let r = run(&job(2_000, None, "changelog"));
    assert!(r.summary.sim_time_ns < 5 * ckptsim::sim::SEC, "{} ns", r.summary.sim_time_ns);
    assert!(r.summary.drained);
}
