//! Reconnect delays: exponential with full jitter, capped. Pure; the random source is passed in.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            attempt: 0,
        }
    }

    /// The ceiling of the next delay: `base * 2^attempt`, at most `max`.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The next delay, uniformly in `[ceiling/2, ceiling]` given `unit` in `[0, 1)`, so that
    /// many agents restarting together do not reconnect in lockstep.
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.5
        };
        ceiling.mul_f64(0.5 + unit / 2.0)
    }

    /// Call after a connection worked.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn delays_stay_within_bounds_and_grow(units in proptest::collection::vec(0.0f64..1.0, 1..40)) {
            let base = Duration::from_millis(500);
            let max = Duration::from_secs(60);
            let mut backoff = Backoff::new(base, max);
            let mut previous_ceiling = Duration::ZERO;
            for unit in units {
                let ceiling = backoff.ceiling();
                prop_assert!(ceiling >= previous_ceiling);
                prop_assert!(ceiling <= max);
                let delay = backoff.next_delay(unit);
                prop_assert!(delay <= ceiling && delay >= ceiling / 2);
                previous_ceiling = ceiling;
            }
        }
    }

    #[test]
    fn reset_starts_over() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        for _ in 0..10 {
            backoff.next_delay(0.0);
        }
        assert_eq!(backoff.ceiling(), Duration::from_secs(60));
        backoff.reset();
        assert_eq!(backoff.ceiling(), Duration::from_secs(1));
    }
}
