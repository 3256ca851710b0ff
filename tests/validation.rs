//! Every malformed scenario gets a clear error naming the JSON path, what was found and what is
//! allowed — never a panic, never a silent clamp. Each case mutates a valid scenario.

mod common;

use ckptsim::scenario::{Scenario, ScenarioError};
use serde_json::{Value, json};

fn base() -> Value {
    common::json("diamond")
}

fn err_of(v: &Value) -> ScenarioError {
    Scenario::from_json(&v.to_string()).expect_err("the malformed scenario was accepted")
}

/// Asserts the error points at `path` and its message contains every one of `needles`.
fn assert_field_error(v: &Value, path: &str, needles: &[&str]) {
    let e = err_of(v);
    assert_eq!(e.path(), Some(path), "wrong path in: {e}");
    let msg = e.to_string();
    for n in needles {
        assert!(msg.contains(n), "message lacks {n:?}: {msg}");
    }
}

#[test]
fn the_base_scenario_is_valid() {
    Scenario::from_json(&base().to_string()).unwrap();
}

#[test]
fn syntax_error_reports_line_and_column() {
    let text = "{\n  \"name\": \"x\",\n  \"seed\": 1,,\n}";
    match Scenario::from_json(text) {
        Err(ScenarioError::Syntax { line, column, .. }) => assert_eq!((line, column), (3, 13)),
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let e = Scenario::from_json("{\"name\": ").unwrap_err().to_string();
    assert!(e.contains("line 1"), "{e}");
}

#[test]
fn unknown_fields_are_rejected() {
    let mut v = base();
    v["topology"]["operators"][1]["paralelism"] = json!(2);
    assert_field_error(&v, "topology.operators[1].paralelism", &["unknown field `paralelism`", "parallelism"]);
    let mut v = base();
    v["netwrok"] = json!({});
    assert_field_error(&v, "netwrok", &["unknown field"]);
}

#[test]
fn unknown_operator_kind_lists_the_allowed_kinds() {
    let mut v = base();
    v["topology"]["operators"][4]["kind"] = json!("join");
    assert_field_error(&v, "topology.operators[4].kind", &["join", "keyed_sum", "union"]);
}

#[test]
fn unknown_operator_in_an_edge() {
    let mut v = base();
    v["topology"]["edges"][5]["to"] = json!("aggg");
    assert_field_error(&v, "topology.edges[5].to", &["unknown operator \"aggg\"", "known operators: src, evens"]);
    let mut v = base();
    v["topology"]["edges"][0]["from"] = json!("source");
    assert_field_error(&v, "topology.edges[0].from", &["unknown operator \"source\""]);
}

#[test]
fn unknown_task_in_a_cost_override() {
    let mut v = base();
    v["topology"]["operators"][5]["task_costs"] = json!({"3": {"fixed_us": 5}});
    assert_field_error(&v, "topology.operators[5].task_costs.3", &["unknown task \"3\"", "0..=2"]);
}

#[test]
fn duplicate_operator_ids() {
    let mut v = base();
    v["topology"]["operators"][3]["id"] = json!("evens");
    assert_field_error(&v, "topology.operators[3].id", &["duplicate operator id \"evens\"", "operators[1]"]);
}

#[test]
fn cycles_are_named() {
    let mut v = base();
    v["topology"]["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "agg", "to": "inc", "partitioner": "rebalance"}));
    // inc now has two inputs; make that legal by turning it into a union, so the cycle is the problem.
    v["topology"]["operators"][2] = json!({"id": "inc", "kind": "union", "parallelism": 2});
    assert_field_error(&v, "topology.edges", &["cycle", "inc → merge → agg → inc"]);
}

#[test]
fn forward_between_different_parallelisms() {
    let mut v = base();
    v["topology"]["edges"][6]["partitioner"] = json!("forward"); // agg (3) → sink (1)
    assert_field_error(
        &v,
        "topology.edges[6].partitioner",
        &["parallelism 3", "parallelism 1", "forward needs equal parallelism"],
    );
}

#[test]
fn zero_parallelism_buffer_and_rate() {
    let mut v = base();
    v["topology"]["operators"][5]["parallelism"] = json!(0);
    assert_field_error(&v, "topology.operators[5].parallelism", &["found 0", "1..=1024"]);
    let mut v = base();
    v["network"]["buffer_records"] = json!(0);
    assert_field_error(&v, "network.buffer_records", &["found 0", "1..=65536"]);
    let mut v = base();
    v["network"]["buffers_per_channel"] = json!(0);
    assert_field_error(&v, "network.buffers_per_channel", &["found 0"]);
    let mut v = base();
    v["topology"]["operators"][0]["arrival"]["rate_per_sec"] = json!(0);
    assert_field_error(&v, "topology.operators[0].arrival.rate_per_sec", &["found 0", "records per second"]);
}

#[test]
fn a_file_of_another_scenario_format_is_refused_clearly() {
    let mut v = base();
    v["format"] = json!(1);
    assert!(Scenario::from_json(&v.to_string()).is_ok());
    v["format"] = json!(2);
    assert_field_error(&v, "format", &["found 2", "this ckptsim reads scenario format 1"]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim")).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("(scenario format 1)"));
}

#[test]
fn debloating_settings_are_checked_when_enabled() {
    let mut v = base();
    v["network"]["debloat"] = json!({"enabled": true, "threshold_percentages": 150});
    assert_field_error(&v, "network.debloat.threshold_percentages", &["found 150", "0..=100"]);
    let mut v = base();
    v["network"]["debloat"] = json!({"enabled": true, "period_ms": 0});
    assert_field_error(&v, "network.debloat.period_ms", &["found 0"]);
    // The smallest buffer cannot exceed the largest (buffer_records × record_bytes), but only
    // matters when debloating is on.
    let mut v = base();
    v["network"]["buffer_records"] = json!(1);
    v["network"]["debloat"] = json!({"enabled": true});
    assert_field_error(&v, "network.debloat.min_buffer_bytes", &["found 256", "buffer_records × record_bytes"]);
    v["network"]["debloat"]["enabled"] = json!(false);
    assert!(Scenario::from_json(&v.to_string()).is_ok());
    let mut v = base();
    v["network"]["debloat"] = json!({"enabled": true, "targett_ms": 5});
    let e = Scenario::from_json(&v.to_string()).unwrap_err().to_string();
    assert!(e.contains("targett_ms"), "{e}");
}

#[test]
fn multiple_inputs_into_a_single_input_operator() {
    let mut v = base();
    v["topology"]["edges"].as_array_mut().unwrap().push(json!({"from": "odds", "to": "agg", "partitioner": "hash"}));
    assert_field_error(&v, "topology.edges[7]", &["keyed_sum \"agg\" takes exactly one input but has 2", "union"]);
}

#[test]
fn a_sink_with_no_input() {
    let mut v = base();
    v["topology"]["edges"].as_array_mut().unwrap().pop();
    // agg now has no output and sink no input; the first operator in file order is reported.
    assert_field_error(&v, "topology.operators[5]", &["keyed_sum \"agg\" has no output"]);
    v["topology"]["operators"].as_array_mut().unwrap().push(json!({"id": "out2", "kind": "sink"}));
    v["topology"]["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "agg", "to": "out2", "partitioner": "rebalance"}));
    assert_field_error(&v, "topology.operators[6]", &["sink \"sink\" has no input"]);
}

#[test]
fn negative_and_absurd_values() {
    let mut v = base();
    v["network"]["latency_us"] = json!(-5);
    assert_field_error(&v, "network.latency_us", &["-5", "expected a non-negative integer"]);
    let mut v = base();
    v["network"]["latency_us"] = json!(3_600_000_000u64); // an hour
    assert_field_error(&v, "network.latency_us", &["found 3600000000", "0..=10000000"]);
    let mut v = base();
    v["topology"]["operators"][0]["parallelism"] = json!(100_000);
    assert_field_error(&v, "topology.operators[0].parallelism", &["found 100000", "1..=1024"]);
    let mut v = base();
    v["network"]["jitter_us"] = json!(1.5);
    assert_field_error(&v, "network.jitter_us", &["1.5"]);
    let mut v = base();
    v["seed"] = json!("forty-two");
    assert_field_error(&v, "seed", &["forty-two"]);
}

#[test]
fn kind_specific_fields_and_required_fields() {
    let mut v = base();
    v["topology"]["operators"][2]["keys"] = json!(5);
    assert_field_error(&v, "topology.operators[2].keys", &["only allowed on a source", "map \"inc\""]);
    let mut v = base();
    v["topology"]["operators"][0].as_object_mut().unwrap().remove("arrival");
    assert_field_error(&v, "topology.operators[0].arrival", &["missing", "constant"]);
    let mut v = base();
    v["topology"]["operators"][0].as_object_mut().unwrap().remove("records_per_partition");
    assert_field_error(&v, "topology.operators[0].records_per_partition", &["until_ms"]);
    let mut v = base();
    v["topology"]["operators"][1]["keep"]["remainders"] = json!([2]);
    assert_field_error(&v, "topology.operators[1].keep.remainders[0]", &["found 2", "0..=1"]);
    let mut v = base();
    v["topology"]["operators"][0]["arrival"] =
        json!({"kind": "bursts", "rate_per_sec": 10, "burst_rate_per_sec": 100, "burst_ms": 50, "period_ms": 50});
    assert_field_error(&v, "topology.operators[0].arrival.period_ms", &["found 50", "51..="]);
}

#[test]
fn edges_into_sources_and_out_of_sinks() {
    let mut v = base();
    v["topology"]["edges"].as_array_mut().unwrap().push(json!({"from": "agg", "to": "src", "partitioner": "hash"}));
    assert_field_error(&v, "topology.edges[7].to", &["is a source"]);
    let mut v = base();
    v["topology"]["edges"].as_array_mut().unwrap().push(json!({"from": "sink", "to": "merge", "partitioner": "hash"}));
    assert_field_error(&v, "topology.edges[7].from", &["is a sink"]);
}

#[test]
fn optional_sections_may_be_null_or_empty() {
    let mut v = base();
    v["checkpointing"] = Value::Null;
    v["failures"] = json!([]);
    Scenario::from_json(&v.to_string()).unwrap();
}

#[test]
fn failures_must_name_a_known_task_and_exactly_one_moment() {
    let mut v = base();
    v["failures"] = json!([{"task": "agg[7]", "at_ms": 100}]);
    assert_field_error(&v, "failures[0].task", &["unknown task \"agg[7]\"", "agg[2]", "sink[0]"]);
    let mut v = base();
    v["failures"] = json!([{"task": "agg[1]"}]);
    assert_field_error(&v, "failures[0]", &["found none", "exactly one of at_ms"]);
    let mut v = base();
    v["failures"] = json!([{"at_ms": 5}, {"task": "agg[1]", "at_ms": 5, "after_checkpoint": 2}]);
    assert_field_error(&v, "failures[0].task", &["missing"]);
    v["failures"][0]["task"] = json!("src[0]");
    assert_field_error(&v, "failures[1]", &["found at_ms and after_checkpoint"]);
    let mut v = base();
    v["failures"] = json!([{"task": "agg[1]", "random": {"mtbf_ms": 100, "max_failures": 2}}]);
    assert_field_error(&v, "failures[0].task", &["random failure picks its task"]);
    let mut v = base();
    v["failures"] = json!([{"random": {"mtbf_ms": 0, "max_failures": 2}}]);
    assert_field_error(&v, "failures[0].random.mtbf_ms", &["found 0"]);
    let mut v = base();
    v["failures"] = json!([{"task": "agg[1]", "during_alignment_of": 2}]);
    v["checkpointing"] = Value::Null;
    assert_field_error(&v, "failures[0]", &["needs a checkpointing section"]);
    let mut v = base();
    v["failures"] = json!([{"task": "agg[1]", "at_ms": 5, "when": "now"}]);
    assert_field_error(&v, "failures[0].when", &["unknown field"]);
    let mut v = base();
    v["restart"] = json!({"delay_ms": 10, "attempts": -1});
    assert_field_error(&v, "restart.attempts", &["-1"]);
    let mut v = base();
    v["topology"]["operators"][2]["delivery"] = json!("transactional");
    assert_field_error(&v, "topology.operators[2].delivery", &["only allowed on a sink"]);
    let mut v = base();
    v["topology"]["operators"][6]["delivery"] = json!("exactly_once");
    assert_field_error(&v, "topology.operators[6].delivery", &["exactly_once", "transactional", "plain"]);
}

#[test]
fn checkpointing_settings_are_checked() {
    let mut v = base();
    v["checkpointing"] = json!({"mode": "aligned", "interval_ms": 0});
    assert_field_error(&v, "checkpointing.interval_ms", &["found 0"]);
    let mut v = base();
    v["checkpointing"] = json!({"mode": "aligned_timeout", "interval_ms": 100});
    assert_field_error(&v, "checkpointing.aligned_checkpoint_timeout_ms", &["missing"]);
    let mut v = base();
    v["checkpointing"] = json!({"mode": "optimistic", "interval_ms": 100});
    assert_field_error(&v, "checkpointing.mode", &["optimistic", "chandy_lamport", "at_least_once"]);
    let mut v = base();
    v["checkpointing"] = json!({"interval_ms": 100, "max_concurrent": 0});
    assert_field_error(&v, "checkpointing.max_concurrent", &["found 0", "1..=64"]);
    let mut v = base();
    v["checkpointing"] = json!({"interval_ms": 100, "storage": {"write_mib_per_sec": 0}});
    assert_field_error(&v, "checkpointing.storage.write_mib_per_sec", &["found 0"]);
    let mut v = base();
    v["checkpointing"] = json!({"interval_ms": 100, "intervall_ms": 5});
    assert_field_error(&v, "checkpointing.intervall_ms", &["unknown field"]);
}

#[test]
fn the_cli_reports_bad_input_with_exit_code_2_and_the_path() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let mut v = base();
    v["topology"]["operators"][5]["parallelism"] = json!(0);
    let file = dir.join("bad-parallelism.json");
    std::fs::write(&file, v.to_string()).unwrap();
    for args in [vec!["validate"], vec!["run"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim")).args(&args).arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("topology.operators[5].parallelism") && err.contains("found 0"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["validate", "no/such/file.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read scenario `no/such/file.json`"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["validate", &common::scenario_path("diamond").to_string_lossy()])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn enum_values_of_the_wrong_shape_are_type_errors_at_their_path() {
    let mut v = base();
    v["topology"]["operators"][1]["cost"] = json!(5);
    assert_field_error(&v, "topology.operators[1].cost", &["wrong type or shape", "fixed_us"]);
    v["topology"]["operators"][1]["cost"] = json!({"fixed_us": 1, "fixed_ns": 3});
    assert_field_error(&v, "topology.operators[1].cost", &["wrong type or shape"]);
}

#[test]
fn a_syntax_error_in_a_file_names_the_file_and_names_cannot_leave_the_output_folder() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("validation-file");
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("broken.json");
    std::fs::write(&f, "{\"name\": \"x\",").unwrap();
    let e = Scenario::load(&f).unwrap_err().to_string();
    assert!(e.contains("broken.json") && e.contains("line 1"), "{e}");
    let mut v = base();
    for bad in ["..", ".hidden", "a/b"] {
        v["name"] = json!(bad);
        assert_field_error(&v, "name", &["not starting with `.`"]);
    }
}

#[test]
fn a_scenario_too_big_for_memory_is_refused_with_the_figure() {
    // The pipeline at parallelism 256 with a broadcast edge and 1024 buffers per channel: it used
    // to validate and then allocate 8 GB before any output.
    let mut v = common::json("pipeline");
    for op in v["topology"]["operators"].as_array_mut().unwrap() {
        op["parallelism"] = json!(256);
    }
    v["topology"]["edges"][1]["partitioner"] = json!("broadcast");
    v["network"]["max_buffers_per_channel"] = json!(1024);
    assert_field_error(&v, "topology", &["GiB of memory", "16 GiB allowed"]);
    v["network"]["max_buffers_per_channel"] = json!(10);
    v["network"]["buffer_records"] = json!(1);
    Scenario::from_json(&v.to_string()).expect("small buffers fit");
}

#[test]
fn uncoordinated_checkpoints_count_in_the_memory_estimate() {
    // state/backends (60 s of input, ≈ 34,000 keys) with a local checkpoint every millisecond:
    // every one since the recovery line is kept with a copy of the state, 60,001 copies.
    let mut v = common::json("state/backends");
    v["checkpointing"]["interval_ms"] = json!(1);
    let aligned = Scenario::from_json(&v.to_string()).expect("aligned keeps one completed checkpoint");
    assert!(ckptsim::scenario::estimated_memory(&aligned) < 16 << 20);
    v["checkpointing"]["mode"] = json!("uncoordinated");
    assert_field_error(&v, "topology", &["GiB of memory", "60001 local checkpoints", "shorten the uncoordinated run"]);
    // The run's limit bounds them: a second holds 1,001.
    v["limits"] = json!({"max_sim_time_ms": 1000});
    let short = Scenario::from_json(&v.to_string()).expect("a second fits");
    let per_copy = ckptsim::scenario::estimated_memory(&short) / 1002;
    assert!((1 << 20..2 << 20).contains(&per_copy), "{per_copy} bytes per copy of ≈ 34,000 keys");
}
