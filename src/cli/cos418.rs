//! `ckptsim cos418`: a COS 418 Chandy-Lamport test case (the course's token-passing world).

use super::CliError;
use clap::Args;
use std::path::PathBuf;

/// The arguments of `cos418`.
#[derive(Args, Debug)]
pub(super) struct Cos418Args {
    /// Topology file (`.top`).
    topology: PathBuf,
    /// Events file (`.events`).
    events: PathBuf,
    /// Expected snapshot files (`.snap`) to compare with; exits 1 on a difference.
    #[arg(long)]
    expect: Vec<PathBuf>,
    /// Draw delays from our own seeded stream instead of Go's generator with the course seed
    /// (then only conservation and the consistent cut are checked).
    #[arg(long)]
    seed: Option<u64>,
    /// Go's `rngCooked` table [default: the copy embedded in ckptsim].
    #[arg(long)]
    rng_table: Option<PathBuf>,
    /// Write the space-time diagram of `--snapshot` to this SVG file.
    #[arg(long)]
    diagram: Option<PathBuf>,
    /// Print a narrated log of `--snapshot` (instead of the snapshots).
    #[arg(long)]
    explain: bool,
    /// The snapshot to draw or narrate.
    #[arg(long, default_value_t = 0)]
    snapshot: usize,
}

/// What `cos418` shows besides the snapshots.
struct Cos418Teach {
    diagram: Option<PathBuf>,
    explain: bool,
    snapshot: usize,
}

pub(super) fn exec(a: Cos418Args) -> Result<(), CliError> {
    let Cos418Args { topology, events, expect, seed, rng_table: table, diagram, explain, snapshot } = a;
    let teach = Cos418Teach { diagram, explain, snapshot };
    let (top, events, expect) = (topology.as_path(), events.as_path(), expect.as_slice());
    use crate::cos418::{self, Delays, Snap, gorand::CookedTable};
    let (t, e) = cos418::load(top, events).map_err(CliError::input)?;
    let delays = match seed {
        Some(s) => Delays::seeded(s),
        None => {
            let table = match table {
                Some(path) => CookedTable::load(&path).map_err(|e| {
                    CliError::input(format!(
                        "{e}\n(leave out --rng-table for the embedded copy, or pass --seed N for our own delays)"
                    ))
                })?,
                None => CookedTable::embedded(),
            };
            Delays::course(&table)
        }
    };
    let out = cos418::run(&t, &e, delays).map_err(CliError::input)?;
    if teach.snapshot >= out.snapshots.len() && (teach.explain || teach.diagram.is_some()) {
        return Err(CliError::input(format!(
            "--snapshot {}: the events take {} snapshots",
            teach.snapshot,
            out.snapshots.len()
        )));
    }
    if let Some(path) = &teach.diagram {
        let d = cos418::teach::diagram(&t, &out, teach.snapshot).expect("the snapshot exists");
        std::fs::write(path, d.to_svg(300)).map_err(|e| CliError::io(&format!("writing {}", path.display()), e))?;
        eprintln!("wrote {}", path.display());
    }
    if teach.explain {
        for s in cos418::teach::explain(&t, &out, teach.snapshot) {
            say!("tick {:>3}  {}\n          ↳ {}", s.t_ms, s.text, s.rule);
        }
    } else {
        for s in &out.snapshots {
            say_raw!("{}", s.to_text());
        }
    }
    let mut problems = out.violations.clone();
    for path in expect {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::input(format!("cannot read {}: {e}", path.display())))?;
        let want = Snap::parse(&text, &path.display().to_string()).map_err(CliError::input)?;
        match out.snapshots.get(want.id) {
            None => problems.push(format!("{}: snapshot {} was never taken", path.display(), want.id)),
            Some(got) => problems.extend(got.diff(&want).into_iter().map(|d| format!("{}: {d}", path.display()))),
        }
    }
    if problems.is_empty() {
        eprintln!(
            "ok: {} snapshots, {} ticks; tokens conserved, consistent cuts{}",
            out.snapshots.len(),
            out.ticks,
            if expect.is_empty() { "" } else { ", as expected" }
        );
        Ok(())
    } else {
        Err(CliError { code: 1, message: format!("{} problems:\n  {}", problems.len(), problems.join("\n  ")) })
    }
}
