//! The CLI's exit codes, as docs/commands.md documents them: 0 all checks passed; 1 a check failed or
//! the job failed (for `compare`, only a protocol that promises exactly-once counts); 2 bad input.

mod common;

fn code(args: &[&str]) -> i32 {
    let out = std::env::temp_dir().join(format!("ckptsim-exit-{}", args.join("-").replace(['/', '.', '[', ']'], "_")));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ckptsim"));
    cmd.args(args).arg("--out").arg(&out);
    cmd.output().unwrap().status.code().unwrap()
}

fn path(name: &str) -> String {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name).to_string_lossy().into_owned()
}

#[test]
fn exit_codes_tell_scripts_what_happened() {
    assert_eq!(code(&["run", &path("pipeline.json")]), 0);
    // At-least-once duplicates: the run fails its checks.
    assert_eq!(code(&["run", &path("tutorial/5-at-least-once-duplicates.json")]), 1);
    // A job that fails for good.
    assert_eq!(code(&["run", &path("failures/tolerable-failures.json")]), 1);
    // compare: at_least_once failing is expected; the exactly-once protocols all pass.
    assert_eq!(code(&["compare", &path("crash-during-alignment.json")]), 0);
    // Bad input.
    assert_eq!(code(&["run", &path("no-such-file.json")]), 2);
    assert_eq!(code(&["run", &path("pipeline.json"), "--set", "topology.operators[1].parallelism=0"]), 2);
    assert_eq!(code(&["run", &path("pipeline.json"), "--protocol", "optimistic"]), 2);
}
