//! `ckptsim lesson`: an interactive HTML page of one checkpoint (diagram, narrated steps, time
//! slider, record lineage, a task's channels from inside).

use super::diagram::{CheckpointWindow, checkpoint_diagram};
use super::{CliError, ScenarioArgs};
use crate::scenario::ProtocolName;
use crate::teach::lesson::{self, Panel};
use clap::Args;
use std::path::PathBuf;

/// The arguments of `lesson`.
#[derive(Args, Debug)]
pub(super) struct LessonArgs {
    #[command(flatten)]
    input: ScenarioArgs,
    #[command(flatten)]
    window: CheckpointWindow,
    /// The checkpoint under each of these protocols, one panel each on one time axis (e.g.
    /// `aligned,unaligned,chandy_lamport`) [default: the scenario's protocol, or --protocol].
    #[arg(long, value_delimiter = ',', value_parser = super::parse_protocol, conflicts_with = "protocol")]
    protocols: Vec<ProtocolName>,
    /// At most this many ordinary data messages are drawn per panel (hovering finds every one).
    #[arg(long, default_value_t = 300)]
    max_messages: usize,
    /// Output file [default: output/<scenario>/lesson-<checkpoint>.html].
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(super) fn exec(a: LessonArgs) -> Result<(), CliError> {
    let LessonArgs { input, window, protocols, max_messages, out } = a;
    let s = input.load()?;
    let cp = window.checkpoint;
    let protocols = if protocols.is_empty() { vec![s.protocol()] } else { protocols };
    if protocols.len() > 1
        && let Some(p) = protocols.iter().find(|p| !p.info().coordinated)
    {
        return Err(CliError::input(format!(
            "{} has no global checkpoint to put beside the others on one time axis: its lesson shows restart N's recovery line on its own (`lesson SCENARIO --protocol {} --fail-at TASK@MS`)",
            p.name(),
            p.name()
        )));
    }
    let (mut diagrams, mut steps) = (Vec::new(), Vec::new());
    for &p in &protocols {
        let mut one = s.clone();
        one.set_protocol(p).map_err(CliError::input)?;
        let (r, d) = checkpoint_diagram(&one, &window)?;
        if r.summary.uncoordinated.is_some() {
            // A recovery line: the search's steps, on the line's diagram.
            steps.push(crate::teach::explain::explain_recovery(&one, &r, cp as usize));
            diagrams.push(d);
            continue;
        }
        let mut narrated = crate::teach::explain::explain(&one, &r, cp);
        narrated.extend(crate::teach::explain::how_much(&d));
        narrated.sort_by_key(|x| x.t_ns);
        diagrams.push(d);
        steps.push(narrated);
    }
    crate::teach::diagram::share_axis(&mut diagrams);
    let panels: Vec<Panel> = protocols
        .iter()
        .zip(diagrams)
        .zip(steps)
        .map(|((p, diagram), steps)| Panel { protocol: p.name().to_string(), diagram, steps })
        .collect();
    let path = out.unwrap_or_else(|| PathBuf::from("output").join(&s.name).join(format!("lesson-{cp}.html")));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CliError::io(&format!("creating {}", dir.display()), e))?;
    }
    std::fs::write(&path, lesson::html(&s.name, cp, &panels, max_messages))
        .map_err(|e| CliError::io(&format!("writing {}", path.display()), e))?;
    let steps: usize = panels.iter().map(|p| p.steps.len()).sum();
    let names: Vec<&str> = panels.iter().map(|p| p.protocol.as_str()).collect();
    let what = if panels.iter().all(|p| p.diagram.is_recovery_line()) { "recovery line" } else { "checkpoint" };
    say!(
        "wrote {}: {what} {cp} under {}, {steps} narrated steps; open it in a browser (no network needed)",
        path.display(),
        names.join(", ")
    );
    Ok(())
}
