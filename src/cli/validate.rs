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
    say!(
        "{}: ok — scenario {:?}, {} operators, {} tasks, {} channels, estimated memory at most {:.1} MiB, fingerprint {}",
        scenario.display(),
        s.name,
        g.operators.len(),
        g.tasks.len(),
        g.channels.len(),
        crate::scenario::estimated_memory(&s) as f64 / (1 << 20) as f64,
        s.fingerprint()
    );
    Ok(())
}
