//! `ckptsim explain`: a narrated step log of one checkpoint.

use super::{CliError, ScenarioArgs};
use crate::engine::{self, RunOptions};
use clap::Args;

/// The arguments of `explain`.
#[derive(Args, Debug)]
pub(super) struct ExplainArgs {
    #[command(flatten)]
    input: ScenarioArgs,
    /// The checkpoint to narrate.
    #[arg(long, default_value_t = 1)]
    checkpoint: u64,
    /// Narrate the N-th restart's recovery line instead (protocol `uncoordinated`, which has no
    /// global checkpoints; add a crash with `--fail-at`).
    #[arg(long, value_name = "N")]
    recovery: Option<usize>,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "jsonl"])]
    format: String,
}

pub(super) fn exec(a: ExplainArgs) -> Result<(), CliError> {
    let ExplainArgs { input, checkpoint, recovery, format } = a;
    let s = input.load()?;
    let opts = RunOptions { keep_protocol_trace: true, ..Default::default() };
    let r = engine::run(&s, opts)?;
    let uncoordinated = r.summary.uncoordinated.is_some();
    if recovery.is_some() || uncoordinated {
        if !uncoordinated {
            return Err(CliError::input(format!(
                "--recovery narrates a recovery line of protocol uncoordinated; {} restarts from its latest completed checkpoint (narrate one with --checkpoint)",
                r.summary.protocol
            )));
        }
        let n = recovery.unwrap_or(1);
        let steps = crate::teach::explain::explain_recovery(&s, &r, n);
        if steps.is_empty() {
            return Err(CliError::input(format!(
                "restart {n} never happened ({} restarts); add a crash, e.g. --fail-at 'TASK@MS', to see a recovery line searched",
                r.recovery_lines.len()
            )));
        }
        if format == "jsonl" {
            say_raw!("{}", crate::teach::explain::to_jsonl(&steps));
        } else {
            say!("restart {n} of {} with protocol {} (seed {}): its recovery line", s.name, r.summary.protocol, s.seed);
            say_raw!("{}", crate::teach::explain::to_text(&steps));
        }
        return Ok(());
    }
    let mut steps = crate::teach::explain::explain(&s, &r, checkpoint);
    if steps.is_empty() {
        return Err(super::diagram::never_triggered(checkpoint, &r.summary));
    }
    // How much: the same run again with its messages captured up to the checkpoint's end, for
    // the per-channel counts (channel state, orphans, queue waits).
    if let Some((_, end)) = crate::teach::diagram::checkpoint_span(&r, checkpoint) {
        let (_, d) = super::diagram::captured(&s, checkpoint, end, None)?;
        steps.extend(crate::teach::explain::how_much(&d));
        steps.sort_by_key(|x| x.t_ns);
    }
    if format == "jsonl" {
        say_raw!("{}", crate::teach::explain::to_jsonl(&steps));
    } else {
        say!("checkpoint {checkpoint} of {} with protocol {} (seed {})", s.name, r.summary.protocol, s.seed);
        say_raw!("{}", crate::teach::explain::to_text(&steps));
    }
    Ok(())
}
