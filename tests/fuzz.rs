//! The scenario loader under fuzzing: valid scenario files, mutated at random (values replaced by
//! other types and extreme numbers, fields removed or renamed), never panic. Each either fails
//! with an error that names a field or a line (exit 2 in the CLI), or runs and ends within the
//! watchdog's limit.

mod common;

use ckptsim::scenario::{Scenario, ScenarioError};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Every path to a value in `v` (object keys and array indices).
fn paths(v: &Value, prefix: Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let mut p = prefix.clone();
                p.push(json!(k));
                out.push(p.clone());
                paths(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut p = prefix.clone();
                p.push(json!(i));
                out.push(p.clone());
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, k| match k {
        Value::String(s) => &mut v[s.as_str()],
        Value::Number(n) => &mut v[n.as_u64().unwrap() as usize],
        _ => unreachable!(),
    })
}

fn replacement(kind: u8) -> Value {
    match kind % 12 {
        0 => json!(null),
        1 => json!(-1),
        2 => json!(0),
        3 => json!(u64::MAX),
        4 => json!(1e300),
        5 => json!("x"),
        6 => json!([]),
        7 => json!({}),
        8 => json!(true),
        9 => json!(1_000_000_000u64),
        10 => json!({"fixed_us": 1, "fixed_ns": 3}),
        _ => json!(".."),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(200),
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_scenarios_never_panic(file in 0usize..6, picks in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let names = common::bundled();
        let mut v = common::json(&names[file % names.len()]);
        for (pick, kind) in picks {
            let mut all = Vec::new();
            paths(&v, Vec::new(), &mut all);
            let path = pick.get(&all).clone();
            if kind % 13 == 12 {
                // Remove the field (or empty the array slot).
                *at(&mut v, &path) = Value::Null;
            } else {
                *at(&mut v, &path) = replacement(kind);
            }
        }
        match Scenario::from_json(&v.to_string()) {
            Err(ScenarioError::Field { path, message }) => prop_assert!(!path.is_empty() && !message.is_empty()),
            Err(ScenarioError::Syntax { .. }) => prop_assert!(false, "serializing a Value cannot produce invalid JSON"),
            Err(ScenarioError::Io { .. }) => prop_assert!(false, "no I/O here"),
            Ok(mut s) => {
                // It validated: it must run and end (shortened, so the test stays fast).
                s.limits.max_sim_time_ms = s.limits.max_sim_time_ms.min(2_000);
                s.limits.stall_ms = s.limits.stall_ms.min(1_000);
                prop_assume!(ckptsim::scenario::estimated_memory(&s) < 1 << 30);
                let r = ckptsim::engine::run(&s, Default::default());
                prop_assert!(r.is_ok(), "{:?}", r.err());
            }
        }
    }
}
