//! Flink's restart strategies (`restart-strategy.type`): after a failover, how long to wait
//! before restarting — or that the job fails for good. Fixed-delay, exponential-delay (Flink's
//! default with checkpointing since 1.19, FLIP-364 defaults) and failure-rate, as in Flink's
//! `RestartBackoffTimeStrategy` implementations.

use crate::scenario::{Restart, RestartStrategy};
use crate::sim::{Component, MS, RngTree, SimRng, SimTime};

/// A restart strategy's state.
pub(super) struct Strategy {
    cfg: Restart,
    rng: SimRng,
    /// Restarts so far (fixed-delay), or since the backoff was last reset (exponential-delay).
    attempts: u32,
    /// Exponential-delay: the current backoff and when the last failure happened.
    backoff: SimTime,
    last_failure: Option<SimTime>,
    /// Failure-rate: the failures within the current interval.
    recent: Vec<SimTime>,
}

impl Strategy {
    pub(super) fn new(cfg: &Restart, rngs: &RngTree) -> Self {
        Strategy {
            cfg: cfg.clone(),
            rng: rngs.stream(Component::Restart),
            attempts: 0,
            backoff: 0,
            last_failure: None,
            recent: Vec::new(),
        }
    }

    /// A failure at `now`: `Ok(delay)` until the restart, or `Err(why)` when the job fails for
    /// good (naming the option that decided it).
    pub(super) fn on_failure(&mut self, now: SimTime) -> Result<SimTime, String> {
        let c = &self.cfg;
        match c.strategy {
            RestartStrategy::FixedDelay => {
                if self.attempts >= c.attempts {
                    return Err(format!(
                        "restart strategy fixed_delay: {} restarts used up (restart.attempts = {})",
                        self.attempts, c.attempts
                    ));
                }
                self.attempts += 1;
                Ok(c.delay_ms * MS)
            }
            RestartStrategy::ExponentialDelay => {
                let initial = c.initial_backoff_ms.unwrap_or(1000) * MS;
                let max = c.max_backoff_ms.unwrap_or(60_000) * MS;
                let multiplier = c.backoff_multiplier.unwrap_or(1.5);
                let reset = c.reset_backoff_threshold_ms.unwrap_or(3_600_000) * MS;
                let jitter = c.jitter_factor.unwrap_or(0.1);
                let quiet_long_enough = self.last_failure.is_some_and(|t| now.saturating_sub(t) >= reset);
                if self.last_failure.is_none() || quiet_long_enough {
                    self.backoff = initial;
                    self.attempts = 0;
                } else {
                    self.backoff = ((self.backoff as f64 * multiplier).round() as SimTime).min(max);
                }
                self.last_failure = Some(now);
                if self.attempts >= c.attempts {
                    return Err(format!(
                        "restart strategy exponential_delay: {} restarts without a {} ms quiet period (restart.attempts = {})",
                        self.attempts,
                        reset / MS,
                        c.attempts
                    ));
                }
                self.attempts += 1;
                // ± jitter: a uniform draw in [backoff − j, backoff + j], j = backoff × factor.
                let j = (self.backoff as f64 * jitter).round() as SimTime;
                Ok(self.backoff - j + if j > 0 { self.rng.up_to(2 * j) } else { 0 })
            }
            RestartStrategy::FailureRate => {
                let interval = c.failure_rate_interval_ms.unwrap_or(60_000) * MS;
                let max = c.max_failures_per_interval.unwrap_or(1);
                self.recent.retain(|&t| now.saturating_sub(t) < interval);
                self.recent.push(now);
                if self.recent.len() as u32 > max {
                    return Err(format!(
                        "restart strategy failure_rate: {} failures within {} ms (restart.max_failures_per_interval = {max})",
                        self.recent.len(),
                        interval / MS
                    ));
                }
                Ok(c.delay_ms * MS)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strategy(edit: impl FnOnce(&mut Restart)) -> Strategy {
        let mut r = Restart::default();
        edit(&mut r);
        Strategy::new(&r, &RngTree::new(1))
    }

    #[test]
    fn fixed_delay_restarts_attempts_times_then_fails() {
        let mut s = strategy(|r| {
            r.delay_ms = 50;
            r.attempts = 2;
        });
        assert_eq!(s.on_failure(0), Ok(50 * MS));
        assert_eq!(s.on_failure(MS), Ok(50 * MS));
        assert!(s.on_failure(2 * MS).unwrap_err().contains("restart.attempts = 2"));
    }

    #[test]
    fn exponential_delay_grows_caps_and_resets_after_a_quiet_period() {
        let mut s = strategy(|r| {
            r.strategy = RestartStrategy::ExponentialDelay;
            r.initial_backoff_ms = Some(100);
            r.max_backoff_ms = Some(1000);
            r.backoff_multiplier = Some(2.0);
            r.reset_backoff_threshold_ms = Some(10_000);
            r.jitter_factor = Some(0.0);
            r.attempts = 100;
        });
        let delays: Vec<SimTime> = (0..6).map(|i| s.on_failure(i * 2000 * MS).unwrap() / MS).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        // 10 s without a failure: back to the initial backoff.
        assert_eq!(s.on_failure(30_000 * MS).unwrap(), 100 * MS);
    }

    #[test]
    fn exponential_delay_jitter_stays_within_its_factor() {
        let mut s = strategy(|r| {
            r.strategy = RestartStrategy::ExponentialDelay;
            r.initial_backoff_ms = Some(1000);
            r.jitter_factor = Some(0.1);
            r.reset_backoff_threshold_ms = Some(1);
        });
        for i in 0..200 {
            let d = s.on_failure(i * 10 * MS).unwrap();
            assert!((900 * MS..=1100 * MS).contains(&d), "{d}");
        }
    }

    #[test]
    fn failure_rate_fails_when_the_rate_is_exceeded() {
        let mut s = strategy(|r| {
            r.strategy = RestartStrategy::FailureRate;
            r.max_failures_per_interval = Some(2);
            r.failure_rate_interval_ms = Some(1000);
            r.delay_ms = 10;
        });
        assert_eq!(s.on_failure(0), Ok(10 * MS));
        assert_eq!(s.on_failure(500 * MS), Ok(10 * MS));
        assert_eq!(s.on_failure(1600 * MS), Ok(10 * MS), "the first failure left the interval");
        assert_eq!(s.on_failure(1700 * MS), Ok(10 * MS));
        assert!(s.on_failure(1800 * MS).unwrap_err().contains("3 failures within 1000 ms"));
    }
}
