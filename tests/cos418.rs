//! The COS 418 Chandy-Lamport test suite: every case in `../shared/cos418/` must match exactly.
//! A case is `<top>-<name>.events` with topology `<top>.top` and expected snapshots
//! `<top>-<name>.snap` or `<top>-<name><k>.snap`. The data stays in ../shared (never copied here).

use ckptsim::cos418::{self, Delays, Snap, gorand::CookedTable};
use std::path::{Path, PathBuf};

/// The course's test data in ../shared. Missing data fails the test loudly (a silent pass would
/// claim a check that did not run), unless CKPTSIM_SKIP_COS418=1 says to skip it.
fn data() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/cos418");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CKPTSIM_SKIP_COS418").is_some(),
        "{} is missing: the COS 418 test data lives in ../shared beside the repo (set CKPTSIM_SKIP_COS418=1 to skip these tests)",
        dir.display()
    );
    None
}

#[test]
fn the_embedded_go_table_equals_the_courses_copy() {
    let Some(dir) = data() else { return };
    let shared = CookedTable::load(&dir.join("go_math_rand_rng_cooked.txt")).unwrap();
    assert_eq!(CookedTable::embedded(), shared);
}

fn cases(dir: &Path) -> Vec<(PathBuf, PathBuf, Vec<PathBuf>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut out = Vec::new();
    for ev in files.iter().filter(|p| p.extension().is_some_and(|e| e == "events")) {
        let stem = ev.file_stem().unwrap().to_string_lossy().into_owned();
        let top = dir.join(format!("{}.top", stem.split('-').next().unwrap()));
        let snaps: Vec<PathBuf> = files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "snap"))
            .filter(|p| {
                let s = p.file_stem().unwrap().to_string_lossy();
                s.strip_prefix(stem.as_str()).is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()))
            })
            .cloned()
            .collect();
        out.push((top, ev.clone(), snaps));
    }
    out
}

#[test]
fn every_course_case_matches_its_expected_snapshots_exactly() {
    let Some(dir) = data() else { return };
    let table = CookedTable::load(&dir.join("go_math_rand_rng_cooked.txt")).unwrap();
    let cases = cases(&dir);
    assert!(cases.len() >= 3, "expected the course cases in {}", dir.display());
    for (top, events, snaps) in cases {
        assert!(!snaps.is_empty(), "{}: no expected snapshot", events.display());
        let (t, e) = cos418::load(&top, &events).unwrap();
        let out = cos418::run(&t, &e, Delays::course(&table)).unwrap();
        assert!(out.violations.is_empty(), "{}: {:?}", events.display(), out.violations);
        assert_eq!(out.snapshots.len(), snaps.len(), "{}: number of snapshots", events.display());
        for snap in snaps {
            let want = Snap::parse(&std::fs::read_to_string(&snap).unwrap(), &snap.display().to_string()).unwrap();
            let got = &out.snapshots[want.id];
            let diff = got.diff(&want);
            assert!(diff.is_empty(), "{}:\n{}\ngot:\n{}", snap.display(), diff.join("\n"), got.to_text());
        }
    }
}

#[test]
fn our_own_seeds_keep_tokens_conserved_and_cuts_consistent() {
    let Some(dir) = data() else { return };
    for (top, events, _) in cases(&dir) {
        let (t, e) = cos418::load(&top, &events).unwrap();
        for seed in 0..200 {
            let out = cos418::run(&t, &e, Delays::seeded(seed)).unwrap();
            assert!(out.violations.is_empty(), "{} seed {seed}: {:?}", events.display(), out.violations);
        }
    }
}

#[test]
fn a_wrong_expectation_is_reported_with_a_diff_and_exit_code_1() {
    let Some(dir) = data() else { return };
    let bad = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wrong.snap");
    std::fs::write(&bad, "0\nN1 5\nN2 2\nN3 1\nN1 N2 token(2)\nN1 N2 token(3)\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .arg("cos418")
        .arg(dir.join("3nodes.top"))
        .arg(dir.join("3nodes-simple.events"))
        .arg("--expect")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server N2: tokens 1, expected 2"), "{err}");
    assert!(err.contains("messages to N2"), "{err}");
    // The right expectation passes, and the snapshot is printed in the .snap format.
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .arg("cos418")
        .arg(dir.join("3nodes.top"))
        .arg(dir.join("3nodes-simple.events"))
        .arg("--expect")
        .arg(dir.join("3nodes-simple.snap"))
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(String::from_utf8_lossy(&ok.stdout), std::fs::read_to_string(dir.join("3nodes-simple.snap")).unwrap());
}

#[test]
fn bad_input_names_the_file_and_line() {
    let t = cos418::Topology::parse("2\nN1 1\nN2 x\n", "t.top").unwrap_err();
    assert!(t.contains("t.top:3") && t.contains("\"x\""), "{t}");
    let top = cos418::Topology::parse("2\nN1 1\nN2 0\nN1 N2\n", "t.top").unwrap();
    let e = cos418::parse_events("send N2 N1 1\n", "e.events", &top).unwrap_err();
    assert!(e.contains("e.events:1: no link N2 → N1"), "{e}");
    let e = cos418::parse_events("jump\n", "e.events", &top).unwrap_err();
    assert!(e.contains("expected `send SRC DST K`"), "{e}");
}

#[test]
fn diagrams_and_narrations_of_the_course_cases_agree_with_the_expected_snapshots() {
    use ckptsim::teach::diagram::Crossing;
    let Some(dir) = data() else { return };
    let table = CookedTable::load(&dir.join("go_math_rand_rng_cooked.txt")).unwrap();
    for (top, events, snaps) in cases(&dir) {
        let (t, e) = cos418::load(&top, &events).unwrap();
        let out = cos418::run(&t, &e, Delays::course(&table)).unwrap();
        for snap in snaps {
            let want = Snap::parse(&std::fs::read_to_string(&snap).unwrap(), "x").unwrap();
            // The messages crossing the cut in the diagram are exactly the recorded ones.
            let d = cos418::teach::diagram(&t, &out, want.id).unwrap();
            let crossing = d.messages.iter().filter(|m| m.crossing == Crossing::ChannelState).count();
            assert_eq!(crossing, want.messages.len(), "{}: diagram of snapshot {}", snap.display(), want.id);
            assert_eq!(d.snapshots.len(), t.servers.len());
            assert!(d.to_svg(300).contains(">N1</text>"));
            // The narration records the same messages, and every server records its state.
            let steps = cos418::teach::explain(&t, &out, want.id);
            assert_eq!(
                steps.iter().filter(|s| s.event == "recorded").count(),
                want.messages.len(),
                "{}",
                snap.display()
            );
            assert_eq!(steps.iter().filter(|s| s.event == "snapshot").count(), t.servers.len());
        }
    }
    // The CLI draws and narrates a case.
    let svg = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cos418.svg");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .arg("cos418")
        .arg(dir.join("3nodes.top"))
        .arg(dir.join("3nodes-simple.events"))
        .args(["--explain", "--diagram"])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("N2 starts snapshot 0"));
    assert!(std::fs::read_to_string(&svg).unwrap().contains("2 tokens crossing the cut"));
}

#[test]
fn sends_of_more_tokens_than_held_or_of_none_are_errors() {
    use ckptsim::cos418::{Delays, Topology, parse_events};
    let top = Topology::parse("2\nA 3\nB 0\nA B\n", "t.top").unwrap();
    let e = parse_events("send A B -1\n", "e.events", &top).unwrap_err();
    assert!(e.contains("e.events:1") && e.contains("positive"), "{e}");
    let events = parse_events("send A B 2\nsend A B 2\n", "e.events", &top).unwrap();
    let e = ckptsim::cos418::run(&top, &events, Delays::seeded(1)).unwrap_err();
    assert!(e.contains("event 2: server A sends 2 tokens but holds only 1"), "{e}");
}
