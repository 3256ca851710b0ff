//! One progress bar for the long commands (`explore`, `sweep`): drawn on stderr only when it is a
//! terminal, at most five times a second, with the rate since the start. It reads the wall clock,
//! which is why it lives in the CLI and never in the simulation.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

/// A progress bar over `total` units of work.
pub(super) struct Progress {
    tty: bool,
    total: u64,
    unit: &'static str,
    start: Instant,
    last: Mutex<Option<Instant>>,
}

impl Progress {
    /// A bar over `total` items called `unit` (plural), started now.
    #[allow(clippy::disallowed_methods)] // progress reads the wall clock; the simulation does not
    pub(super) fn new(total: u64, unit: &'static str) -> Self {
        Progress { tty: std::io::stderr().is_terminal(), total, unit, start: Instant::now(), last: Mutex::new(None) }
    }

    /// `done` of the total are done; `extra` follows the counts (e.g. "3 violations").
    #[allow(clippy::disallowed_methods)] // see `new`
    pub(super) fn update(&self, done: u64, extra: &str) {
        if !self.tty {
            return;
        }
        let mut last = self.last.lock().expect("no panic while drawing");
        if last.is_some_and(|l| l.elapsed().as_millis() < 200) && done < self.total {
            return;
        }
        *last = Some(Instant::now());
        let width = 30;
        let filled = (done * width / self.total.max(1)).min(width) as usize;
        eprint!(
            "\r[{}{}] {done}/{} {}, {:.0} {}/s {extra} ",
            "#".repeat(filled),
            "-".repeat(width as usize - filled),
            self.total,
            self.unit,
            self.rate(done),
            self.unit,
        );
    }

    /// Items per second since the start.
    pub(super) fn rate(&self, done: u64) -> f64 {
        done as f64 / self.seconds().max(1e-9)
    }

    /// Seconds since the start.
    pub(super) fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Ends the bar's line.
    pub(super) fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}
