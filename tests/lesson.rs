//! `ckptsim lesson`: the interactive lesson page. Structural tests always run; the page's own
//! self-test runs in a headless browser where one is installed (scripts/check-lesson.sh), and
//! says so visibly where none is.

mod common;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// Writes the three-protocol lesson of tutorial step 2 and returns its path and HTML.
fn lesson(name: &str) -> (PathBuf, String) {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let file = common::scenario_path("tutorial/2-unaligned-backpressure");
    let run = Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["lesson", &file.to_string_lossy(), "--protocols", "aligned,unaligned,chandy_lamport", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("under aligned, unaligned, chandy_lamport"));
    let html = std::fs::read_to_string(&out).unwrap();
    (out, html)
}

fn data(html: &str) -> Value {
    let open = r#"<script id="lesson-data" type="application/json">"#;
    let start = html.find(open).expect("the data block") + open.len();
    let end = start + html[start..].find("</script>").expect("its end");
    assert_eq!(html.matches(open).count(), 1);
    serde_json::from_str(&html[start..end]).expect("the data is JSON")
}

#[test]
fn the_page_is_self_contained_and_holds_what_it_draws() {
    let (_, html) = lesson("lesson-structure.html");
    // No network: nothing loaded from elsewhere; the only URLs are SVG namespaces.
    for banned in ["<link", "@import", "src=\"", "fetch(", "XMLHttpRequest"] {
        assert!(!html.contains(banned), "the page must not load anything: found {banned}");
    }
    let urls = html.matches("http://").count() + html.matches("https://").count();
    let namespaces = html.matches("\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(urls, namespaces, "every URL is the SVG namespace");
    // Every element the script looks up by id exists.
    let script = include_str!("../src/teach/lesson.js");
    let mut ids = 0;
    for part in script.split("getElementById(\"").skip(1) {
        let id = &part[..part.find('"').unwrap()];
        assert!(html.contains(&format!("id=\"{id}\"")), "the script looks for #{id}, which the page lacks");
        ids += 1;
    }
    assert!(ids >= 10, "{ids}");
    assert!(html.contains("<svg") && html.contains("class=\"how\""));

    let d = data(&html);
    let panels = d["panels"].as_array().unwrap();
    let names: Vec<&str> = panels.iter().map(|p| p["protocol"].as_str().unwrap()).collect();
    assert_eq!(names, ["aligned", "unaligned", "chandy_lamport"]);
    let (from, to) = (panels[0]["from"].as_u64().unwrap(), panels[0]["to"].as_u64().unwrap());
    for p in panels {
        assert_eq!((p["from"].as_u64().unwrap(), p["to"].as_u64().unwrap()), (from, to), "one time axis");
        let lanes: Vec<&str> = p["lanes"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        let steps = p["steps"].as_array().unwrap();
        assert!(steps.len() > 10, "{} steps", steps.len());
        for s in steps {
            if let Some(task) = s["task"].as_str() {
                assert!(lanes.contains(&task), "step at unknown task {task}");
            }
            assert!(!s["rule"].as_str().unwrap().is_empty());
        }
        // Every record knows where it came from: a source task's log.
        let messages = p["messages"].as_array().unwrap();
        assert!(messages.len() > 100);
        for m in messages {
            let part = m[6].as_u64().expect("a dataflow record has an origin") as usize;
            assert!(lanes[part].starts_with("src["), "origin {}", lanes[part]);
            assert!(m[5].is_u64(), "and a key");
        }
    }
    // What the view inside a task shows differs as the protocols do: aligned barriers wait in
    // the queues and nothing crosses the cut; unaligned barriers overtake and records become
    // channel state.
    let crossing = |p: &Value| p["messages"].as_array().unwrap().iter().filter(|m| m[4] == 1).count();
    let priority = |p: &Value| p["barriers"].as_array().unwrap().iter().filter(|b| b[3] == true).count();
    assert!(!panels[0]["waits"].as_array().unwrap().is_empty());
    assert_eq!((crossing(&panels[0]), priority(&panels[0])), (0, 0));
    assert!(crossing(&panels[1]) > 100 && priority(&panels[1]) > 0);
    assert!(crossing(&panels[2]) > 0 && priority(&panels[2]) == 0);
}

#[test]
fn each_panels_steps_are_what_explain_says() {
    let (_, html) = lesson("lesson-steps.html");
    let d = data(&html);
    let file = common::scenario_path("tutorial/2-unaligned-backpressure");
    for p in d["panels"].as_array().unwrap() {
        let protocol = p["protocol"].as_str().unwrap();
        let run = Command::new(env!("CARGO_BIN_EXE_ckptsim"))
            .args(["explain", &file.to_string_lossy(), "--protocol", protocol, "--format", "jsonl"])
            .output()
            .unwrap();
        assert!(run.status.success());
        let explained: Vec<Value> =
            String::from_utf8_lossy(&run.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let steps = p["steps"].as_array().unwrap();
        assert_eq!(steps.len(), explained.len(), "{protocol}");
        for (s, e) in steps.iter().zip(&explained) {
            for field in ["task", "event", "text", "rule"] {
                assert_eq!(s[field], e[field], "{protocol}: {field}");
            }
            let t_ms = s["t"].as_u64().unwrap() as f64 / 1e6;
            assert!((t_ms - e["t_ms"].as_f64().unwrap()).abs() < 1e-9, "{protocol}: {t_ms} vs {}", e["t_ms"]);
        }
    }
}

#[test]
fn the_page_passes_its_self_test_in_a_headless_browser() {
    let (path, _) = lesson("lesson-browser.html");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/check-lesson.sh");
    let run = Command::new("bash").arg(&script).arg(&path).output().unwrap();
    let said = String::from_utf8_lossy(&run.stdout).trim().to_string();
    if run.status.code() == Some(77) {
        eprintln!("lesson browser test {said}");
        return;
    }
    assert!(run.status.success(), "{said}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(said.contains(": ok steps="), "{said}");
}

#[test]
fn bad_input_is_refused_with_the_reason() {
    let file = common::scenario_path("tutorial/2-unaligned-backpressure");
    let run = Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["lesson", &file.to_string_lossy(), "--checkpoint", "999", "--out", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("checkpoint 999 was never triggered"));
}

#[test]
fn a_checkpoint_of_millions_of_records_is_sampled_and_says_so() {
    // Micro-batches on the ABS job: the first batch holds the whole input (1.6 M records).
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lesson-big.html");
    let file = common::scenario_path("abs/abs-shape");
    let run = Command::new(env!("CARGO_BIN_EXE_ckptsim"))
        .args(["lesson", &file.to_string_lossy(), "--protocol", "micro_batch", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.len() < 10 << 20, "{} bytes", html.len());
    let d = data(&html);
    let p = &d["panels"][0];
    let (kept, total) = (p["messages"].as_array().unwrap().len(), p["messages_total"].as_u64().unwrap());
    assert!(kept <= ckptsim::teach::lesson::MAX_MESSAGES && total > 1_000_000, "{kept} of {total}");
    assert!(p["sampled_every"].as_u64().unwrap() > 1);
    // The page tells the reader (the script writes the note from these fields).
    assert!(include_str!("../src/teach/lesson.js").contains("sampled_every"));
}

#[test]
fn an_uncoordinated_lesson_shows_a_recovery_line_and_stands_alone() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lesson-uncoordinated.html");
    let file = common::scenario_path("pipeline");
    let lesson = |protocols: &str| {
        Command::new(env!("CARGO_BIN_EXE_ckptsim"))
            .args(["lesson", &file.to_string_lossy(), "--protocols", protocols, "--fail-at", "agg[0]@500", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let run = lesson("uncoordinated");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("recovery line 1 under uncoordinated"));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("<title>Recovery line 1 of pipeline"));
    let d = data(&html);
    let steps = d["panels"][0]["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["event"] == "orphan") && steps.iter().any(|s| s["event"] == "in_flight"));
    // Beside a coordinated protocol there is no shared time axis to put it on.
    let mixed = lesson("aligned,uncoordinated");
    assert_eq!(mixed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("no global checkpoint"));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/check-lesson.sh");
    let check = Command::new("bash").arg(&script).arg(&out).output().unwrap();
    if check.status.code() != Some(77) {
        assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    }
}
