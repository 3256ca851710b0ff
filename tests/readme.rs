//! What the README quotes stays true: the scenario it shows in full is the bundled file, and the
//! bad-input messages it shows are the ones the loader produces.

mod common;

use ckptsim::scenario::Scenario;
use serde_json::json;

fn readme() -> String {
    std::fs::read_to_string(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

#[test]
fn the_scenario_shown_in_full_is_the_bundled_file() {
    let r = readme();
    let start = r.find("This is `scenarios/backpressure.json` in full").expect("the section exists");
    let block = &r[start..];
    let open = block.find("```json\n").unwrap() + "```json\n".len();
    let close = block[open..].find("```").unwrap();
    let file = std::fs::read_to_string(common::scenario_path("backpressure")).unwrap();
    assert_eq!(&block[open..open + close], file);
}

#[test]
fn the_bad_input_messages_shown_are_the_loaders() {
    let r = readme();
    let err = |v: serde_json::Value| format!("error: {}", Scenario::from_json(&v.to_string()).unwrap_err());
    let mut v = common::json("diamond");
    v["topology"]["operators"][5]["parallelism"] = json!(0);
    assert!(r.contains(&err(v)), "parallelism 0");
    let mut v = common::json("diamond");
    v["topology"]["edges"][5]["to"] = json!("aggg");
    assert!(r.contains(&err(v)), "unknown operator");
    let mut v = common::json("diamond");
    v["topology"]["edges"].as_array_mut().unwrap().push(json!({"from": "agg", "to": "merge", "partitioner": "hash"}));
    assert!(r.contains(&err(v)), "cycle");
}

/// The output the README shows for its first command is what the command prints.
#[test]
fn the_quick_start_output_is_what_run_prints() {
    let r = readme();
    let start = r.find("```\nckptsim run scenarios/backpressure.json").expect("the quick-start block") + 4;
    let shown = &r[start..start + r[start..].find("```").unwrap()];
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("readme-quick-start");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "scenarios/backpressure.json", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let printed =
        String::from_utf8_lossy(&out.stdout).replace(&dir.display().to_string(), "output/backpressure/aligned");
    assert_eq!(shown, printed, "re-measure the README's quick-start block");
}
