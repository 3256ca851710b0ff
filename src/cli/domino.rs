//! `ckptsim domino`: what uncoordinated checkpointing would have to roll back if one task
//! failed — without message logging (the domino effect) and with sender-based logging.

use super::CliError;
use crate::engine::{self, RunOptions};
use crate::graph::Graph;
use crate::sim::{MS, US, fmt_ms};
use crate::verify::uncoordinated::{self, Analysis, Uncoordinated};
use clap::Args;
use std::path::PathBuf;

/// The arguments of `domino`.
#[derive(Args, Debug)]
pub(super) struct DominoArgs {
    /// Scenario file (JSON); it runs without checkpoints and without its failures.
    scenario: PathBuf,
    /// Override the scenario's seed (it also sets the tasks' checkpoint phases).
    #[arg(long)]
    seed: Option<u64>,
    /// The task that fails and when, e.g. `b[0]@900`.
    #[arg(long = "fail", value_name = "TASK@MS", value_parser = super::parse_fail_at)]
    fail: (String, u64),
    /// Each task's checkpoint interval (ms) [default: the scenario's `checkpointing.interval_ms`, or 100].
    #[arg(long)]
    interval: Option<u64>,
    /// How often the channels' counters are observed (µs): a checkpoint holds the last observation
    /// before it.
    #[arg(long, default_value_t = 100)]
    observe_us: u64,
}

pub(super) fn exec(a: DominoArgs) -> Result<(), CliError> {
    let DominoArgs { scenario, seed, fail, interval, observe_us } = a;
    let mut s = super::load(&scenario, seed, None, &[])?;
    let interval = interval.or(s.checkpointing.as_ref().map(|c| c.interval_ms)).unwrap_or(100);
    if interval == 0 || observe_us == 0 {
        return Err(CliError::input("--interval and --observe-us must be at least 1"));
    }
    let g = Graph::build(&s);
    let failed = g.find_task(&fail.0).ok_or_else(|| {
        let names: Vec<&str> = g.tasks.iter().map(|t| t.name.as_str()).collect();
        CliError::input(format!("--fail: no task {:?}; the tasks are {}", fail.0, names.join(", ")))
    })?;
    // The job as it ran: no checkpoints (they are the analysis's), no failures (the one asked
    // about is hypothetical).
    s.checkpointing = None;
    s.failures.clear();
    let r = engine::run(&s, RunOptions { observe_counters: Some(observe_us * US), ..Default::default() })?;
    let at = fail.1 * MS;
    if at > r.summary.sim_time_ns {
        return Err(CliError::input(format!(
            "--fail: {} ms is after the run's end ({} ms)",
            fail.1,
            fmt_ms(r.summary.sim_time_ns)
        )));
    }
    say!(
        "ckptsim domino {}  seed={}: every task checkpoints every {interval} ms on its own timer; {} fails at {} ms",
        scenario.display(),
        s.seed,
        fail.0,
        fail.1
    );
    for logging in [false, true] {
        let u = Uncoordinated { interval: interval * MS, seed: s.seed, failed, at, logging };
        let a = uncoordinated::analyse(&g, &r, &u).map_err(CliError::input)?;
        say!("");
        say!(
            "{}",
            if logging {
                "with sender-based message logging: senders keep what they wrote, the failed task replays it"
            } else {
                "without message logging: no channel state, so no record may be in flight at the recovery line"
            }
        );
        say_raw!("{}", table(&a));
    }
    Ok(())
}

fn table(a: &Analysis) -> String {
    let mut out = format!(
        "{:<16} {:>12} {:>14} {:>14} {:>11}\n",
        "task", "resumes at", "rolled back ms", "records again", "ckpts lost"
    );
    for r in &a.rows {
        let resumes = if r.distance == 0 {
            "(as is)".to_string()
        } else if r.resumes_at == 0 {
            "start".to_string()
        } else {
            format!("{} ms", fmt_ms(r.resumes_at))
        };
        out.push_str(&format!(
            "{:<16} {:>12} {:>14} {:>14} {:>11}\n",
            r.task,
            resumes,
            fmt_ms(r.distance),
            r.reprocessed,
            r.discarded
        ));
    }
    out.push_str(&format!(
        "{} of {} tasks back at the start; {} rollbacks forced by others; {} records taken again in all\n",
        a.to_start(),
        a.rows.len(),
        a.forced,
        a.rows.iter().map(|r| r.reprocessed).sum::<u64>()
    ));
    out
}
