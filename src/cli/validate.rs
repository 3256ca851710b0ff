//! `ckptsim validate`: check a scenario file and report the first problem.

use super::{CliError, load};
use clap::Args;
use std::path::PathBuf;

/// The arguments of `validate`.
#[derive(Args, Debug)]
pub(super) struct ValidateArgs {
    /// Scenario file (JSON).
    scenario: PathBuf,
}

pub(super) fn exec(a: ValidateArgs) -> Result<(), CliError> {
    let ValidateArgs { scenario } = a;
    let s = load(&scenario, None, None, &[])?;
    let g = crate::graph::Graph::build(&s);
    let chained =
        g.channels.iter().enumerate().filter(|&(i, _)| g.is_chained(crate::graph::ChannelId(i as u32))).count();
    // Iterations, each named by its operators.
    let loops: String = g
        .loops
        .iter()
        .map(|l| {
            let ops: Vec<&str> = l.ops.iter().map(|&o| g.operators[o].id.as_str()).collect();
            format!(", an iteration ({})", ops.join(" → "))
        })
        .collect();
    say!(
        "{}: ok — scenario {:?}, {} operators, {} tasks ({} after operator chaining), {} channels ({} chained){loops}, estimated memory at most {:.1} MiB, fingerprint {}",
        scenario.display(),
        s.name,
        g.operators.len(),
        g.tasks.len(),
        g.chains().len(),
        g.channels.len(),
        chained,
        crate::scenario::estimated_memory(&s) as f64 / (1 << 20) as f64,
        s.fingerprint()
    );
    Ok(())
}
