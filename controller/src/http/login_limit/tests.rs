//! Tests of the login limit with injected time: no sleeping.

use super::*;
use std::net::Ipv4Addr;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Fails once for `user` from `client` at `now`; panics if the attempt is not allowed.
#[track_caller]
fn fail(limits: &mut LoginLimits, client: &str, user: &str, now: Instant) {
    limits.begin(ip(client), user, now).unwrap();
    limits.finish(ip(client), user, Outcome::Failure, now);
}

#[track_caller]
fn check_delays(policy: Policy, expect: &[u64]) {
    let delays: Vec<u64> = (0..expect.len() as u32)
        .map(|failures| policy.delay(failures).as_secs())
        .collect();
    assert_eq!(delays, expect);
}

#[test]
fn delays_grow_after_the_free_failures_up_to_the_cap() {
    check_delays(
        USER_POLICY,
        &[0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900],
    );
    check_delays(CLIENT_POLICY, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4]);
    assert_eq!(USER_POLICY.delay(u32::MAX), USER_POLICY.max_delay);
}

#[test]
fn issue_13_concurrent_attempts_reserve_the_budget_atomically() {
    let mut limits = LoginLimits::default();
    let now = Instant::now();
    let results: Vec<_> = (0..30)
        .map(|_| limits.begin(ip("192.0.2.1"), "admin", now))
        .collect();
    let n_allowed = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(n_allowed, USER_POLICY.free_failures as usize, "{results:?}");
    assert!(results
        .iter()
        .filter_map(|result| result.err())
        .all(|wait| wait >= Duration::from_secs(1)));
    // Once the reserved ones fail, the next attempt waits for the first delay.
    for _ in 0..n_allowed {
        limits.finish(ip("192.0.2.1"), "admin", Outcome::Failure, now);
    }
    assert_eq!(
        limits.begin(ip("192.0.2.1"), "admin", now),
        Err(Duration::from_secs(1))
    );
}

#[test]
fn one_attempt_at_a_time_once_delayed() {
    let mut limits = LoginLimits::default();
    let start = Instant::now();
    for _ in 0..USER_POLICY.free_failures {
        fail(&mut limits, "192.0.2.1", "admin", start);
    }
    let later = start + Duration::from_secs(1);
    assert!(limits.begin(ip("192.0.2.1"), "admin", later).is_ok());
    assert_eq!(
        limits.begin(ip("192.0.2.1"), "admin", later),
        Err(Duration::from_secs(2)),
        "a second concurrent attempt waits for the delay its sibling will cause"
    );
}

#[test]
fn issue_13_guesses_from_one_address_never_delay_another() {
    let mut limits = LoginLimits::default();
    let mut now = Instant::now();
    for _ in 0..40 {
        if limits.begin(ip("198.51.100.7"), "admin", now).is_ok() {
            limits.finish(ip("198.51.100.7"), "admin", Outcome::Failure, now);
        }
        now += Duration::from_secs(1);
    }
    assert!(limits.begin(ip("198.51.100.7"), "admin", now).is_err());
    assert!(
        limits.begin(ip("203.0.113.9"), "admin", now).is_ok(),
        "the real admin elsewhere"
    );
}

#[test]
fn the_delay_is_measured_from_the_last_failure_and_forgotten_when_quiet() {
    let mut limits = LoginLimits::default();
    let start = Instant::now();
    for _ in 0..5 {
        limits.begin(ip("192.0.2.1"), "ada", start).ok();
        limits.finish(ip("192.0.2.1"), "ada", Outcome::Failure, start);
    }
    // 5 failures: 4 s after the last one.
    let wait = limits
        .begin(ip("192.0.2.1"), "ada", start + Duration::from_secs(1))
        .unwrap_err();
    assert_eq!(wait, Duration::from_secs(3));
    assert!(limits
        .begin(ip("192.0.2.1"), "ada", start + Duration::from_secs(4))
        .is_ok());
    limits.finish(
        ip("192.0.2.1"),
        "ada",
        Outcome::Failure,
        start + Duration::from_secs(4),
    );
    // An hour of quiet: all forgotten, the free failures are back.
    let quiet = start + Duration::from_secs(4) + USER_POLICY.forget_after;
    for _ in 0..USER_POLICY.free_failures {
        fail(&mut limits, "192.0.2.1", "ada", quiet);
    }
}

#[test]
fn a_right_password_clears_its_own_record_but_not_the_clients() {
    let mut limits = LoginLimits::default();
    let now = Instant::now();
    for n in 0..USER_POLICY.free_failures {
        fail(&mut limits, "192.0.2.1", "ada", now);
        fail(&mut limits, "192.0.2.1", &format!("user{n}"), now);
    }
    limits.begin(ip("192.0.2.1"), "ada", now).unwrap_err();
    let later = now + Duration::from_secs(1);
    limits.begin(ip("192.0.2.1"), "ada", later).unwrap();
    limits.finish(ip("192.0.2.1"), "ada", Outcome::Success, later);
    for _ in 0..USER_POLICY.free_failures {
        fail(&mut limits, "192.0.2.1", "ada", later);
    }
    // The client had 2 * 3 + 3 = 9 failures; the success did not reset them: one more is
    // free, then the client is delayed for every name.
    fail(&mut limits, "192.0.2.1", "zed", later);
    assert!(limits.begin(ip("192.0.2.1"), "yan", later).is_err());
}

#[test]
fn issue_13_spraying_many_names_is_capped_per_client() {
    let mut limits = LoginLimits::default();
    let now = Instant::now();
    for n in 0..CLIENT_POLICY.free_failures {
        fail(&mut limits, "192.0.2.1", &format!("user{n}"), now);
    }
    assert_eq!(
        limits.begin(ip("192.0.2.1"), "fresh-name", now),
        Err(Duration::from_secs(1))
    );
    assert!(limits.begin(ip("192.0.2.2"), "fresh-name", now).is_ok());
}

#[test]
fn released_attempts_count_nothing_and_idle_entries_are_dropped() {
    let mut limits = LoginLimits::default();
    let now = Instant::now();
    for _ in 0..10 {
        limits.begin(ip("192.0.2.1"), "ada", now).unwrap();
        limits.finish(ip("192.0.2.1"), "ada", Outcome::Released, now);
    }
    assert!(limits.is_empty());
    limits.begin(ip("192.0.2.1"), "ada", now).unwrap();
    limits.finish(ip("192.0.2.1"), "ada", Outcome::Success, now);
    assert!(limits.is_empty(), "nothing kept for a clean login");
}

#[test]
fn ipv6_clients_are_keyed_by_their_64_prefix() {
    assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
    assert_eq!(client_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    assert_eq!(client_key(ip("192.0.2.1")), ip("192.0.2.1"));
    let mut limits = LoginLimits::default();
    let now = Instant::now();
    for n in 0..USER_POLICY.free_failures {
        fail(&mut limits, &format!("2001:db8:1:2::{n}"), "ada", now);
    }
    assert!(limits.begin(ip("2001:db8:1:2::ffff"), "ada", now).is_err());
    assert!(limits.begin(ip("2001:db8:1:3::1"), "ada", now).is_ok());
}

#[test]
fn the_table_stays_bounded_and_keeps_in_flight_attempts() {
    let mut limits = LoginLimits::with_max_entries(100);
    let now = Instant::now();
    limits.begin(ip("192.0.2.1"), "ada", now).unwrap();
    for n in 0..1000u32 {
        let client = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
        limits.begin(client, "x", now).unwrap();
        limits.finish(
            client,
            "x",
            Outcome::Failure,
            now + Duration::from_millis(n.into()),
        );
    }
    assert!(limits.len() <= 100, "{}", limits.len());
    let in_flight = limits
        .entries
        .get(&Key::Client(ip("192.0.2.1")))
        .map(|entry| entry.in_flight);
    assert_eq!(
        in_flight,
        Some(1),
        "the in-flight attempt survived the eviction"
    );
    limits.finish(ip("192.0.2.1"), "ada", Outcome::Released, now);
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_attempt_counts_as_a_failure() {
    let limiter = Arc::new(LoginLimiter::default());
    for _ in 0..USER_POLICY.free_failures {
        let attempt = limiter.begin(ip("192.0.2.1"), "ada").unwrap();
        drop(attempt);
    }
    assert!(limiter.begin(ip("192.0.2.1"), "ada").is_err());
    let released = limiter.begin(ip("192.0.2.2"), "ada").unwrap();
    released.settle(Outcome::Released);
    assert!(limiter.with_limits(|limits| limits
        .entries
        .keys()
        .all(|key| !matches!(key, Key::Client(client) if *client == ip("192.0.2.2")))));
}
