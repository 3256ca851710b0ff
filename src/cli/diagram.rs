//! `ckptsim diagram` and `ckptsim trace`: a space-time diagram of one checkpoint (SVG), and a
//! run's trace as JSON Lines or one checkpoint as a ShiViz log.

use super::{CliError, ScenarioArgs};
use crate::engine::{self, RunOptions};
use crate::scenario::Scenario;
use clap::Args;
use std::path::PathBuf;

/// A checkpoint and the time window around it.
#[derive(Args, Debug)]
pub(super) struct CheckpointWindow {
    /// The checkpoint.
    #[arg(long, default_value_t = 1)]
    pub(super) checkpoint: u64,
    /// Start of the time window (ms) [default: the checkpoint with a margin].
    #[arg(long)]
    from: Option<u64>,
    /// End of the time window (ms).
    #[arg(long)]
    to: Option<u64>,
}

/// The arguments of `diagram`.
#[derive(Args, Debug)]
pub(super) struct DiagramArgs {
    #[command(flatten)]
    input: ScenarioArgs,
    #[command(flatten)]
    window: CheckpointWindow,
    /// At most this many ordinary data messages are drawn; the rest are sampled.
    #[arg(long, default_value_t = 300)]
    max_messages: usize,
    /// Draw the checkpoint under each of these protocols, stacked on one time axis (e.g.
    /// `aligned,unaligned,chandy_lamport`).
    #[arg(long, value_delimiter = ',', value_parser = super::parse_protocol, conflicts_with = "protocol")]
    protocols: Vec<crate::scenario::ProtocolName>,
    /// Output file [default: output/<scenario>/<protocol>/diagram-<checkpoint>.svg].
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The arguments of `trace`.
#[derive(Args, Debug)]
pub(super) struct TraceArgs {
    #[command(flatten)]
    input: ScenarioArgs,
    /// `jsonl` (every event of the run) or `shiviz` (one checkpoint, with vector clocks).
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "shiviz"])]
    format: String,
    /// `shiviz`: the checkpoint and window to export.
    #[command(flatten)]
    window: CheckpointWindow,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
}

/// Runs `s` twice — to find checkpoint `cp`, then capturing its messages — and builds its diagram.
/// The error for a checkpoint the run never triggered (and why, for a protocol without global
/// checkpoints).
pub(super) fn never_triggered(cp: u64, m: &crate::metrics::Summary) -> CliError {
    if m.uncoordinated.is_some() {
        return CliError::input(format!(
            "protocol {} takes no global checkpoints (each task checkpoints on its own timer), so `--checkpoint {cp}` means restart {cp}'s recovery line, and the run restarted {} times; add a crash with --fail-at TASK@MS",
            m.protocol, m.recoveries
        ));
    }
    CliError::input(format!(
        "checkpoint {cp} was never triggered (protocol {}, {} checkpoints triggered)",
        m.protocol, m.checkpoints.triggered
    ))
}

pub(super) fn checkpoint_diagram(
    s: &Scenario,
    w: &CheckpointWindow,
) -> Result<(crate::engine::RunResult, crate::teach::diagram::Diagram), CliError> {
    let (cp, from, to) = (w.checkpoint, w.from, w.to);
    use crate::sim::MS;
    use crate::teach::diagram;
    let first = engine::run(s, RunOptions { keep_protocol_trace: true, ..Default::default() })?;
    if first.summary.uncoordinated.is_some() {
        // No global checkpoints: `--checkpoint N` draws restart N's recovery line.
        let Some(line) = first.recovery_lines.get((cp as usize).max(1) - 1) else {
            return Err(never_triggered(cp, &first.summary));
        };
        let until = to.map_or(line.failed_at + line.failed_at / 20 + MS, |t| t * MS);
        let window = (from.is_some() || to.is_some()).then(|| (from.map_or(0, |f| f * MS), until));
        let opts = RunOptions { keep_protocol_trace: true, capture_messages: Some((0, until)), ..Default::default() };
        let r = engine::run(s, opts)?;
        let d = diagram::build_recovery(s, &r, cp as usize, window).expect("the same run restarted");
        return Ok((r, d));
    }
    let Some((start, end)) = diagram::checkpoint_span(&first, cp) else {
        return Err(never_triggered(cp, &first.summary));
    };
    let window = match (from, to) {
        (None, None) => None,
        (f, t) => Some((f.map_or(start, |f| f * MS), t.map_or(end, |t| t * MS))),
    };
    if let Some((a, b)) = window
        && a >= b
    {
        return Err(CliError::input(format!("--from {} ms must be before --to {} ms", a / MS, b / MS)));
    }
    captured(s, cp, window.map_or(end, |w| w.1.max(end)), window)
}

/// The run again with its data messages captured up to `until`, and checkpoint `cp`'s diagram
/// (a first run found that `cp` was triggered and when it ended).
pub(super) fn captured(
    s: &Scenario,
    cp: u64,
    until: crate::sim::SimTime,
    window: Option<(crate::sim::SimTime, crate::sim::SimTime)>,
) -> Result<(crate::engine::RunResult, crate::teach::diagram::Diagram), CliError> {
    let opts = RunOptions { keep_protocol_trace: true, capture_messages: Some((0, until)), ..Default::default() };
    let r = engine::run(s, opts)?;
    let d = crate::teach::diagram::build(s, &r, cp, window).expect("the same run triggered it");
    Ok((r, d))
}

pub(super) fn exec_diagram(a: DiagramArgs) -> Result<(), CliError> {
    let DiagramArgs { input, window, max_messages, out, protocols } = a;
    use crate::teach::diagram;
    let s = input.load()?;
    let checkpoint = window.checkpoint;
    if !protocols.is_empty() {
        let mut ds = Vec::new();
        for &p in &protocols {
            let mut one = s.clone();
            one.set_protocol(p).map_err(CliError::input)?;
            ds.push(checkpoint_diagram(&one, &window)?.1);
        }
        diagram::share_axis(&mut ds);
        let names: Vec<&str> = protocols.iter().map(|p| p.name()).collect();
        let path = out.unwrap_or_else(|| {
            PathBuf::from("output").join(&s.name).join(format!("diagram-{checkpoint}-{}.svg", names.join("-")))
        });
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| CliError::io(&format!("creating {}", dir.display()), e))?;
        }
        std::fs::write(&path, diagram::stack_svg(&ds, max_messages))
            .map_err(|e| CliError::io(&format!("writing {}", path.display()), e))?;
        say!("wrote {}: checkpoint {checkpoint} under {}, on one time axis", path.display(), names.join(", "));
        return Ok(());
    }
    let (r, d) = checkpoint_diagram(&s, &window)?;
    let path = out.unwrap_or_else(|| {
        PathBuf::from("output").join(&s.name).join(&r.summary.protocol).join(format!("diagram-{checkpoint}.svg"))
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CliError::io(&format!("creating {}", dir.display()), e))?;
    }
    std::fs::write(&path, d.to_svg(max_messages))
        .map_err(|e| CliError::io(&format!("writing {}", path.display()), e))?;
    let crossing = d.messages.iter().filter(|m| m.crossing == diagram::Crossing::ChannelState).count();
    let orphans = d.messages.iter().filter(|m| m.crossing == diagram::Crossing::Orphan).count();
    if d.is_recovery_line() {
        let back = d.snapshots.values().filter(|&&t| t == 0).count();
        say!(
            "wrote {}: recovery line {checkpoint} ({}), {} local checkpoints, {back} of {} tasks back at their start, {crossing} messages crossing the line",
            path.display(),
            r.summary.protocol,
            d.local_checkpoints.len(),
            d.snapshots.len()
        );
        return Ok(());
    }
    say!(
        "wrote {}: checkpoint {checkpoint} ({}), {} snapshots, {} barriers, {crossing} messages crossing the cut, {orphans} orphans",
        path.display(),
        r.summary.protocol,
        d.snapshots.len(),
        d.barriers.len()
    );
    Ok(())
}

pub(super) fn exec_trace(a: TraceArgs) -> Result<(), CliError> {
    let TraceArgs { input, format, window, out } = a;
    let s = input.load()?;
    let checkpoint = window.checkpoint;
    if format == "jsonl" {
        let f =
            std::fs::File::create(&out).map_err(|e| CliError::io(&format!("cannot create {}", out.display()), e))?;
        let r =
            engine::run(&s, RunOptions { trace: Some(Box::new(std::io::BufWriter::new(f))), ..Default::default() })?;
        say!("wrote {}: {} events, trace hash {}", out.display(), r.summary.trace_events, r.summary.trace_hash);
        return Ok(());
    }
    let (_, d) = checkpoint_diagram(&s, &window)?;
    let events = crate::teach::shiviz::events(&d);
    std::fs::write(&out, crate::teach::shiviz::log(&d, &events))
        .map_err(|e| CliError::io(&format!("writing {}", out.display()), e))?;
    say!(
        "wrote {}: {} events of checkpoint {checkpoint} for ShiViz; paste it with this regular expression:",
        out.display(),
        events.len()
    );
    say!("{}", crate::teach::shiviz::REGEX);
    Ok(())
}
