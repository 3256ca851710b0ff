//! Same scenario + seed ⇒ byte-identical trace; another seed ⇒ another trace.

mod common;

use ckptsim::engine::{self, RunOptions};
use std::path::PathBuf;

fn traced(name: &str, seed: u64, file: &str) -> (String, Vec<u8>) {
    let mut s = common::load(name);
    s.seed = seed;
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(file);
    let out = std::fs::File::create(&path).unwrap();
    let r = engine::run(
        &s,
        RunOptions { collect_output: false, trace: Some(Box::new(std::io::BufWriter::new(out))), ..Default::default() },
    )
    .unwrap();
    (r.summary.trace_hash, std::fs::read(&path).unwrap())
}

#[test]
fn same_seed_gives_identical_trace_bytes_and_hash() {
    for name in ["pipeline", "diamond"] {
        let (h1, t1) = traced(name, 5, &format!("{name}-a.jsonl"));
        let (h2, t2) = traced(name, 5, &format!("{name}-b.jsonl"));
        assert_eq!(h1, h2, "{name}: trace hash differs between two runs with seed 5");
        assert!(t1 == t2, "{name}: trace files differ between two runs with seed 5");
        assert!(t1.len() > 1000, "{name}: the trace is suspiciously short");
    }
}

#[test]
fn different_seed_gives_different_trace() {
    for name in common::bundled() {
        let mut s = common::load(&name);
        let a = common::run(&s).summary.trace_hash;
        s.seed += 1;
        let b = common::run(&s).summary.trace_hash;
        assert_ne!(a, b, "{name}: seeds {} and {} gave the same trace hash", s.seed - 1, s.seed);
    }
}

#[test]
fn trace_hash_equals_across_repeated_runs_of_every_bundled_scenario() {
    for name in common::bundled() {
        let s = common::load(&name);
        let a = common::run(&s).summary;
        let b = common::run(&s).summary;
        assert_eq!(a.trace_hash, b.trace_hash, "{name}");
        assert_eq!(a.events, b.events, "{name}");
    }
}

#[test]
fn trace_lines_are_json_with_time_and_kind() {
    let (_, bytes) = traced("pipeline", 42, "pipeline-json.jsonl");
    let text = String::from_utf8(bytes).unwrap();
    let mut last_t = 0;
    for line in text.lines().take(5000) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let t = v["t_ns"].as_u64().expect("t_ns");
        assert!(t >= last_t, "trace not in time order at {line}");
        last_t = t;
        assert!(v["ev"].is_string());
    }
}
