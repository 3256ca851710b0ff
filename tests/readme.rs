//! What the README and `docs/` quote stays true: the quick-start output, the scenario shown in
//! full, the bad-input messages, every command shown, and a field reference that names every
//! field.

mod common;

use ckptsim::scenario::Scenario;
use serde_json::json;

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// A page of `docs/`.
fn doc(name: &str) -> String {
    std::fs::read_to_string(root().join("docs").join(name)).unwrap()
}

/// The README and every page of `docs/`, with their names.
fn all_pages() -> Vec<(String, String)> {
    let mut pages = vec![("README.md".to_string(), readme())];
    let mut names: Vec<String> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    names.sort();
    for n in names {
        let text = doc(&n);
        pages.push((format!("docs/{n}"), text));
    }
    pages
}

#[test]
fn the_scenario_shown_in_full_is_the_bundled_file() {
    let r = doc("scenario-format.md");
    let start = r.find("This is `scenarios/backpressure.json` in full").expect("the section exists");
    let block = &r[start..];
    let open = block.find("```json\n").unwrap() + "```json\n".len();
    let close = block[open..].find("```").unwrap();
    let file = std::fs::read_to_string(common::scenario_path("backpressure")).unwrap();
    assert_eq!(&block[open..open + close], file);
}

#[test]
fn the_bad_input_messages_shown_are_the_loaders() {
    let r: String = all_pages().into_iter().map(|(_, t)| t).collect();
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

/// Every `ckptsim …` or `cargo run --release -- …` command in a shell block of the README or of
/// `docs/` parses (flags and values, as clap checks them) and names a scenario that exists.
#[test]
fn every_command_shown_parses_and_names_an_existing_scenario() {
    use clap::Parser;
    let mut checked = 0;
    for (page, text) in all_pages() {
        let mut in_sh = false;
        let mut pending = String::new();
        for line in text.lines() {
            if line.starts_with("```") {
                in_sh = line == "```sh";
                continue;
            }
            if !in_sh {
                continue;
            }
            let line = line.split(" # ").next().unwrap().trim_end();
            if let Some(cont) = line.strip_suffix('\\') {
                pending.push_str(cont);
                continue;
            }
            let full = format!("{pending}{line}");
            pending.clear();
            let args = match full.trim() {
                l if l.starts_with("cargo run --release -- ") => &l["cargo run --release -- ".len()..],
                l if l.starts_with("ckptsim ") => &l["ckptsim ".len()..],
                _ => continue,
            };
            // Shell variables (a Slurm array index, a Kubernetes completion index) stand for numbers.
            let words: Vec<String> = shell_words(args).into_iter().map(|w| without_variables(&w)).collect();
            let argv = std::iter::once("ckptsim".to_string()).chain(words.iter().cloned());
            if let Err(e) = ckptsim::cli::Cli::try_parse_from(argv) {
                panic!("{page}: `{full}` does not parse: {e}");
            }
            for w in &words {
                if w.ends_with(".json") && w.starts_with("scenarios/") {
                    assert!(root().join(w).exists(), "{page}: `{full}` names a missing scenario {w}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} commands found");
}

/// `w` with every `$NAME` or `${NAME}` replaced by 0.
fn without_variables(w: &str) -> String {
    let mut out = String::new();
    let mut chars = w.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            for d in chars.by_ref() {
                if d == '}' {
                    break;
                }
            }
        } else {
            while chars.peek().is_some_and(|d| d.is_ascii_alphanumeric() || *d == '_') {
                chars.next();
            }
        }
        out.push('0');
    }
    out
}

/// Splits a command line into words, honouring single quotes.
fn shell_words(s: &str) -> Vec<String> {
    let (mut words, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for c in s.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// The scenario format page names every field of the objects with defaults (network, debloating,
/// checkpointing, storage, restart, limits, metrics), so the reference cannot drift from the types.
#[test]
fn the_scenario_format_page_names_every_field() {
    use ckptsim::scenario::*;
    let page = doc("scenario-format.md");
    let s = ckptsim::bundled::load("backpressure").unwrap().unwrap();
    let mut objects = vec![
        (
            "network",
            serde_json::to_value(Network {
                debloat: Debloat { enabled: true, ..Default::default() },
                ..Default::default()
            })
            .unwrap(),
        ),
        ("network.debloat", serde_json::to_value(Debloat::default()).unwrap()),
        ("checkpointing", serde_json::to_value(s.checkpointing.clone().unwrap()).unwrap()),
        ("restart", serde_json::to_value(Restart::default()).unwrap()),
        ("limits", serde_json::to_value(Limits { cancel_at_ms: Some(1), ..Default::default() }).unwrap()),
        ("metrics", serde_json::to_value(MetricsConfig { warmup_ms: 1, ..Default::default() }).unwrap()),
    ];
    objects.push((
        "checkpointing.storage",
        serde_json::to_value(Storage { local_recovery: true, ..Default::default() }).unwrap(),
    ));
    // Fields left out of the canonical JSON at their defaults are named too.
    let mut storage = serde_json::to_value(Storage::default()).unwrap();
    storage["bandwidth_mib_per_sec"] = 1.into();
    storage["upload_threads"] = 1.into();
    storage["max_subtasks_per_channel_state_file"] = 1.into();
    storage["read_latency_ms"] = 1.into();
    storage["read_mib_per_sec"] = 1.into();
    objects.push(("checkpointing.storage", storage));
    let state = StateConfig { changelog: Some(ChangelogSpec::default()), ..Default::default() };
    let mut state = serde_json::to_value(state).unwrap();
    state["rocksdb"] = serde_json::to_value(RocksDbSpec::default()).unwrap();
    objects.push(("state.changelog", state["changelog"].clone()));
    objects.push(("state.rocksdb", state["rocksdb"].clone()));
    objects.push(("state", state));
    let mut source = serde_json::to_value(
        OperatorSpec::source("s", 1, 1, ArrivalSpec::Constant { rate_per_sec: 1 }).keys(1).key_churn(1, 1, 1),
    )
    .unwrap();
    source["max_parallelism"] = 1.into();
    objects.push(("operator", source));
    for (what, v) in objects {
        let last = what.rsplit('.').next().unwrap();
        for key in v.as_object().unwrap().keys() {
            let named = [format!("`{key}`"), format!("`{last}.{key}`"), format!("`{what}.{key}`"), format!("`{key}.")];
            assert!(named.iter().any(|n| page.contains(n)), "{what}.{key} is not in docs/scenario-format.md");
        }
    }
}
