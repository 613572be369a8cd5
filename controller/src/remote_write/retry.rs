//! Pure: what to do after one attempt to send a batch. Network errors, 5xx and 429 are
//! retried with exponential backoff and jitter (a `Retry-After` the receiver gives is
//! honoured, up to [`MAX_RETRY_AFTER`]); any other non-2xx answer means the receiver will
//! never take this batch, so it is dropped (counted, logged) and the exporter moves on.
//! Retries never give up: a receiver that is down delays its endpoint, it loses nothing.

use std::time::Duration;

/// The first wait after a failure.
pub const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// The longest `Retry-After` obeyed.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered with this status (and maybe a `Retry-After` in seconds).
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No answer: connection refused or reset, timeout, TLS failure.
    Network,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The batch arrived; advance the position.
    Delivered,
    /// Send the same batch again after this long.
    Retry(Duration),
    /// The receiver refused the batch for good; count its samples as dropped and advance.
    Drop,
}

/// The decision after attempt number `failures` (0 for the first) ended as `attempt`.
/// `jitter` in `[0, 1)` spreads the waits of several endpoints (half the backoff is fixed,
/// half random); the backoff doubles from [`MIN_BACKOFF`] up to `max_backoff`.
pub fn decide(attempt: Attempt, failures: u32, jitter: f64, max_backoff: Duration) -> Decision {
    let retry_after = match attempt {
        Attempt::Status { status, .. } if (200..300).contains(&status) => {
            return Decision::Delivered
        }
        Attempt::Status {
            status,
            retry_after,
        } if status == 429 || (500..600).contains(&status) => retry_after,
        Attempt::Status { .. } => return Decision::Drop,
        Attempt::Network => None,
    };
    if let Some(wait) = retry_after {
        return Decision::Retry(wait.min(MAX_RETRY_AFTER));
    }
    Decision::Retry(backoff(failures, jitter, max_backoff))
}

/// `MIN_BACKOFF * 2^failures` capped at `max_backoff`, of which the upper half is scaled by
/// `jitter`.
pub fn backoff(failures: u32, jitter: f64, max_backoff: Duration) -> Duration {
    let full = MIN_BACKOFF
        .saturating_mul(2u32.saturating_pow(failures.min(30)))
        .min(max_backoff.max(MIN_BACKOFF));
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    full / 2 + (full / 2).mul_f64(jitter)
}

/// The `Retry-After` header as a wait (delta-seconds; an HTTP date counts as absent).
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    let seconds: u64 = value?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_secs(30);

    fn status(status: u16) -> Attempt {
        Attempt::Status {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn remote_write_retry_decisions_follow_the_status() {
        assert_eq!(decide(status(204), 3, 0.5, MAX), Decision::Delivered);
        assert_eq!(decide(status(200), 0, 0.5, MAX), Decision::Delivered);
        for refused in [400, 401, 403, 404, 409, 413, 422, 301] {
            assert_eq!(
                decide(status(refused), 0, 0.5, MAX),
                Decision::Drop,
                "{refused}"
            );
        }
        for retried in [429, 500, 502, 503, 504] {
            assert!(
                matches!(decide(status(retried), 0, 0.0, MAX), Decision::Retry(_)),
                "{retried}"
            );
        }
        assert_eq!(
            decide(Attempt::Network, 0, 0.0, MAX),
            Decision::Retry(Duration::from_millis(250))
        );
    }

    #[test]
    fn remote_write_retry_after_is_honoured_and_capped() {
        let answer = |seconds| Attempt::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(seconds)),
        };
        assert_eq!(
            decide(answer(7), 9, 0.9, MAX),
            Decision::Retry(Duration::from_secs(7))
        );
        assert_eq!(
            decide(answer(100_000), 0, 0.0, MAX),
            Decision::Retry(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_after(Some(" 12 ")), Some(Duration::from_secs(12)));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn remote_write_backoff_doubles_with_jitter_up_to_the_cap() {
        let waits: Vec<Duration> = (0..8).map(|n| backoff(n, 0.0, MAX)).collect();
        assert_eq!(waits[0], Duration::from_millis(250));
        assert_eq!(waits[1], Duration::from_millis(500));
        assert_eq!(waits[2], Duration::from_secs(1));
        assert_eq!(waits[7], Duration::from_secs(15));
        assert_eq!(backoff(u32::MAX, 0.0, MAX), Duration::from_secs(15));
        assert_eq!(backoff(u32::MAX, 0.999_999_9, MAX).as_secs(), 29);
        assert_eq!(backoff(0, 1.0, MAX), MIN_BACKOFF);
        assert_eq!(backoff(0, f64::NAN, MAX), Duration::from_millis(250));
        // A cap below the first wait still waits the first wait.
        assert_eq!(backoff(5, 1.0, Duration::from_millis(1)), MIN_BACKOFF);
    }
}
