//! Retry timing for the job queue: exponential back-off with jitter, so that a failing
//! receiver is not hammered and many failed jobs do not retry in lock-step.

use std::time::Duration;

/// How a job's retries are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(60 * 60),
        }
    }
}

impl Backoff {
    /// Delay before retry number `attempt` (1 = the first retry). The exponential delay is
    /// capped, then "equal jitter" keeps at least half of it and randomises the rest;
    /// `unit_random` is a caller-supplied number in `[0, 1)`, which keeps this function pure.
    pub fn delay(&self, attempt: u32, unit_random: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let exponential = self.base.saturating_mul(1u32 << exponent);
        let capped = exponential.min(self.cap);
        let half = capped / 2;
        half + half.mul_f64(unit_random.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_bounds() {
        let backoff = Backoff::default();
        for attempt in 1..=6 {
            let full = Duration::from_secs(2 << (attempt - 1));
            assert_eq!(backoff.delay(attempt, 0.0), full / 2);
            assert_eq!(backoff.delay(attempt, 1.0), full);
            let mid = backoff.delay(attempt, 0.5);
            assert!(mid > full / 2 && mid < full);
        }
    }

    #[test]
    fn is_capped() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(40, 1.0), Duration::from_secs(3600));
        assert_eq!(backoff.delay(u32::MAX, 0.0), Duration::from_secs(1800));
    }
}
