//! `ckptsim explain`: the narrated step logs are pinned as golden files (`tests/golden/`), and
//! every line is tied to the trace. Regenerate with `UPDATE_GOLDEN=1 cargo test --test explain`
//! after an intended change, and read the diff.

mod common;

use ckptsim::engine::{self, RunOptions};
use ckptsim::scenario::ProtocolName;
use ckptsim::teach::explain;
use std::path::PathBuf;

fn narrate(name: &str, p: ProtocolName, cp: u64) -> (Vec<explain::Step>, ckptsim::engine::RunResult) {
    let mut s = common::load(name);
    s.set_protocol(p).unwrap();
    let r = engine::run(&s, RunOptions { keep_protocol_trace: true, ..Default::default() }).unwrap();
    (explain::explain(&s, &r, cp), r)
}

fn golden(file: &str, text: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if want != text {
        let first = want
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(text.lines().count()));
        panic!(
            "{file} differs from the golden file at line {}:\n  golden: {:?}\n  now:    {:?}\n(UPDATE_GOLDEN=1 rewrites it after an intended change)",
            first + 1,
            want.lines().nth(first),
            text.lines().nth(first)
        );
    }
}

#[test]
fn checkpoint_1_of_each_protocol_is_pinned() {
    for p in [ProtocolName::ALIGNED, ProtocolName::UNALIGNED, ProtocolName::CHANDY_LAMPORT, ProtocolName::AT_LEAST_ONCE]
    {
        let (steps, _) = narrate("diamond", p, 1);
        assert!(!steps.is_empty());
        golden(&format!("explain-diamond-{}-1.txt", p.name()), &explain::to_text(&steps));
    }
    let (steps, _) = narrate("backpressure", ProtocolName::ALIGNED_TIMEOUT, 1);
    assert!(steps.iter().any(|s| s.event == "deadline"), "the aligned timeout should expire in checkpoint 1");
    golden("explain-backpressure-aligned_timeout-1.txt", &explain::to_text(&steps));
    let (steps, _) = narrate("crash-during-alignment", ProtocolName::ALIGNED, 3);
    assert!(steps.iter().any(|s| s.event == "crash"), "agg[2] crashes while aligning checkpoint 3");
    golden("explain-crash-during-alignment-aligned-3.txt", &explain::to_text(&steps));
}

#[test]
fn the_narration_follows_the_trace_and_the_protocol_rules() {
    let (steps, r) = narrate("diamond", ProtocolName::ALIGNED, 1);
    // Every snapshot of checkpoint 1 in the trace is narrated, at its time.
    let snapshots = r
        .protocol_trace
        .iter()
        .filter(|(_, e)| matches!(e, ckptsim::trace::TraceEvent::Snapshot { cp: 1, .. }))
        .count();
    assert_eq!(steps.iter().filter(|s| s.event == "snapshot").count(), snapshots);
    let tasks = ckptsim::graph::Graph::build(&common::load("diamond")).tasks.len();
    assert_eq!(steps.iter().filter(|s| s.event == "ack").count(), tasks, "one ack per task");
    assert!(steps.first().unwrap().event == "triggered" && steps.last().unwrap().event == "notify");
    // Aligned blocks inputs of the union; Chandy-Lamport never does.
    assert!(steps.iter().any(|s| s.event == "block" && s.task.as_deref() == Some("merge[0]")));
    let (cl, _) = narrate("diamond", ProtocolName::CHANDY_LAMPORT, 1);
    assert!(cl.iter().all(|s| s.event != "block"));
    assert!(cl.iter().any(|s| s.rule.starts_with("Chandy-Lamport")));
    // Times never go backwards.
    let times: Vec<f64> = steps.iter().map(|s| s.t_ms).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn the_cli_prints_text_and_jsonl() {
    let bin = env!("CARGO_BIN_EXE_ckptsim");
    let file = common::scenario_path("diamond");
    let out = std::process::Command::new(bin)
        .args(["explain", &file.to_string_lossy(), "--protocol", "unaligned", "--format", "jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["t_ms"].is_number() && v["event"].is_string() && v["text"].is_string() && v["rule"].is_string());
    }
    let out = std::process::Command::new(bin)
        .args(["explain", &file.to_string_lossy(), "--checkpoint", "999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checkpoint 999 was never triggered"));
}

#[test]
fn checkpoint_1_of_every_tutorial_scenario_is_pinned() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/tutorial");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 5, "five tutorial scenarios");
    for f in files {
        let s = ckptsim::scenario::Scenario::load(&f).unwrap();
        let r = engine::run(&s, RunOptions { keep_protocol_trace: true, ..Default::default() }).unwrap();
        let steps = explain::explain(&s, &r, 1);
        assert!(!steps.is_empty(), "{}", f.display());
        golden(&format!("explain-{}-1.txt", f.file_stem().unwrap().to_string_lossy()), &explain::to_text(&steps));
    }
}

#[test]
fn the_narration_says_how_much_per_channel() {
    use ckptsim::teach::diagram;
    let counts = |name: &str, p: ProtocolName, cp: u64| {
        let mut s = common::load(name);
        s.set_protocol(p).unwrap();
        let opts = ckptsim::engine::RunOptions {
            keep_protocol_trace: true,
            capture_messages: Some((0, u64::MAX)),
            ..Default::default()
        };
        let r = ckptsim::engine::run(&s, opts).unwrap();
        let d = diagram::build(&s, &r, cp, None).unwrap();
        (explain::how_much(&d), d)
    };
    // Unaligned under backpressure: 305 records of channel state, named per channel.
    let (steps, d) = counts("tutorial/2-unaligned-backpressure", ProtocolName::UNALIGNED, 1);
    let cs = steps.iter().find(|s| s.event == "channel_state").unwrap();
    assert!(cs.text.starts_with("305 records cross the cut: src[0]->agg[0] 124"), "{}", cs.text);
    assert_eq!(d.messages.iter().filter(|m| m.crossing == diagram::Crossing::ChannelState).count(), 305);
    // Aligned: none, and what each barrier waited behind.
    let (steps, _) = counts("tutorial/2-unaligned-backpressure", ProtocolName::ALIGNED, 1);
    assert!(steps.iter().any(|s| s.text.starts_with("no record crosses the cut")));
    let waits = steps.iter().find(|s| s.event == "queue_waits").unwrap();
    assert!(waits.text.contains("src[0]->agg[0] 98 records"), "{}", waits.text);
    // At-least-once: the orphans of checkpoint 2.
    let (steps, _) = counts("tutorial/5-at-least-once-duplicates", ProtocolName::AT_LEAST_ONCE, 2);
    let o = steps.iter().find(|s| s.event == "orphans").unwrap();
    assert!(o.text.starts_with("4 orphans cross the cut backwards: agg[0]->sink[0] 4"), "{}", o.text);
}
