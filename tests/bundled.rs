//! The bundled scenarios are compiled into the binary: the list matches `scenarios/`, and the
//! binary finds them by name from any directory.

mod common;

use ckptsim::scenario::ProtocolName;
use std::path::PathBuf;

#[test]
fn the_bundled_list_is_the_scenarios_folder() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut on_disk = Vec::new();
    // Every folder but the explorer's regressions (replayed by their own test).
    let mut subs = vec![String::new()];
    for e in std::fs::read_dir(&root).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && !p.ends_with("regressions") {
            subs.push(p.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    for sub in &subs {
        for e in std::fs::read_dir(root.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
                on_disk.push(if sub.is_empty() { stem } else { format!("{sub}/{stem}") });
            }
        }
    }
    on_disk.sort();
    let mut bundled: Vec<String> = ckptsim::bundled::BUNDLED.iter().map(|(n, _)| n.to_string()).collect();
    bundled.sort();
    assert_eq!(bundled, on_disk);
    for (name, text) in ckptsim::bundled::BUNDLED {
        let file = std::fs::read_to_string(root.join(format!("{name}.json"))).unwrap();
        assert_eq!(*text, file, "{name}");
        assert!(ckptsim::bundled::load(name).unwrap().is_ok(), "{name}");
    }
}

#[test]
fn the_binary_finds_bundled_scenarios_by_name_from_any_directory() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("elsewhere");
    std::fs::create_dir_all(&dir).unwrap();
    let bin = env!("CARGO_BIN_EXE_ckptsim");
    let list = std::process::Command::new(bin).arg("scenarios").current_dir(&dir).output().unwrap();
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("backpressure") && text.contains("failures/two-pipelines"), "{text}");
    let run =
        std::process::Command::new(bin).args(["run", "pipeline", "--out", "out"]).current_dir(&dir).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(dir.join("out/summary.json").exists());
    let missing =
        std::process::Command::new(bin).args(["validate", "no-such-scenario"]).current_dir(&dir).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("ckptsim scenarios"));
}

/// `bench --parallelism` runs the shuffle at each parallelism with the total rate of the file.
#[test]
fn bench_by_parallelism_keeps_the_total_rate() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["bench", "scale/shuffle", "--parallelism", "2,4", "--repeat", "1", "--protocol", "none"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.split_whitespace().next().is_some_and(|w| w.parse::<u32>().is_ok()))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    // p, channels, hops: 2 and 4 tasks per operator; about the same hops at both.
    assert_eq!((rows[0][0], rows[0][1]), ("2", "8"));
    assert_eq!((rows[1][0], rows[1][1]), ("4", "24"));
    let hops = |r: &Vec<&str>| r[2].parse::<f64>().unwrap();
    assert!((hops(&rows[0]) / hops(&rows[1]) - 1.0).abs() < 0.01, "{text}");
}

/// The engine finds a task's output channel by arithmetic (`Engine::emit`): the channels of one
/// output edge have consecutive ids, and a task lists its output edges in its operator's order.
/// Every bundled scenario and a thousand generated ones hold it.
#[test]
fn a_tasks_output_channels_are_consecutive_and_in_its_operators_edge_order() {
    use ckptsim::graph::Graph;
    let generated = (0..1000).map(|seed| ckptsim::explore::scenario_for_seed(seed, ProtocolName::ALIGNED));
    for s in common::bundled().iter().map(|n| common::load(n)).chain(generated) {
        let g = Graph::build(&s);
        for t in &g.tasks {
            assert_eq!(t.outputs.len(), g.operators[t.op].outputs.len(), "{}: {}", s.name, t.name);
            for (e, chs) in t.outputs.iter().enumerate() {
                for (i, &ch) in chs.iter().enumerate() {
                    assert_eq!(ch.0, chs[0].0 + i as u32, "{}: {}", s.name, t.name);
                    let node = g.channel(ch);
                    assert_eq!(node.edge, g.operators[t.op].outputs[e], "{}: {}", s.name, t.name);
                }
            }
        }
    }
}
