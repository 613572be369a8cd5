//! The login limit: growing delays per (client address, user name), and a looser cap per
//! client address across user names against password spraying. No account is ever locked:
//! guesses from one address delay that address only, so the real admin logging in from
//! another address is never held up by an attacker.
//!
//! An attempt is reserved under the lock *before* the password is checked ([`LoginLimits::begin`])
//! and settled after ([`LoginLimits::finish`]); a reservation counts as a failure until it is
//! settled, so concurrent requests cannot all pass the check before the first failure is
//! counted. [`LoginLimits`] is pure (the caller passes `now`); [`LoginLimiter`] wraps it in a
//! mutex and settles an abandoned attempt (a cancelled request) as a failure.
//!
//! Clients are keyed by IPv4 address, or by IPv6 /64 prefix (what one household or one
//! attacker's machine usually gets). Behind a reverse proxy the address is the one
//! [`super::client_addr`] resolves from `X-Forwarded-For` for `trusted_proxies`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How many failures are free, how the delay grows after them, and when they are forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures allowed without any delay.
    pub free_failures: u32,
    /// The delay after the first failure past the free ones; it doubles with each further one.
    pub first_delay: Duration,
    /// The delay never grows past this.
    pub max_delay: Duration,
    /// Failures are forgotten after this long without one.
    pub forget_after: Duration,
}

/// Per (client address, user name): 3 free failures, then 1 s, 2 s, 4 s, ... up to 15 min.
pub const USER_POLICY: Policy = Policy {
    free_failures: 3,
    first_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(15 * 60),
    forget_after: Duration::from_secs(60 * 60),
};

/// Per client address over all user names: 10 free failures, then the same growth.
pub const CLIENT_POLICY: Policy = Policy {
    free_failures: 10,
    first_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(15 * 60),
    forget_after: Duration::from_secs(60 * 60),
};

/// Entries kept at most; beyond this the quietest are dropped (see [`LoginLimits::begin`]).
pub const MAX_ENTRIES: usize = 50_000;

/// User names are at most 64 bytes; longer typed names share the key of their prefix.
const MAX_KEY_NAME_BYTES: usize = 64;

impl Policy {
    /// The wait imposed after `failures` failures: zero while they are free.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures < self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures).min(31);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The password was right: the (client, user) failures are forgotten.
    Success,
    /// The password was wrong (or the request was abandoned before an answer).
    Failure,
    /// Neither (an internal error): the reservation is returned, nothing is counted.
    Released,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Client(IpAddr),
    User(IpAddr, [u8; MAX_KEY_NAME_BYTES], usize),
}

#[derive(Debug, Default)]
struct Entry {
    failures: u32,
    last_failure: Option<Instant>,
    /// Attempts begun and not finished; each counts as a failure until it finishes.
    in_flight: u32,
}

impl Entry {
    fn forget_if_quiet(&mut self, policy: &Policy, now: Instant) {
        let quiet = self
            .last_failure
            .is_some_and(|at| now.saturating_duration_since(at) >= policy.forget_after);
        if self.in_flight == 0 && quiet {
            self.failures = 0;
            self.last_failure = None;
        }
    }

    /// Zero if another attempt may begin at `now`, else how long to wait.
    fn wait(&self, policy: &Policy, now: Instant) -> Duration {
        let pending = self.failures.saturating_add(self.in_flight);
        if pending < policy.free_failures {
            return Duration::ZERO;
        }
        if self.in_flight > 0 {
            // One at a time once the free failures are used: the others wait for its delay.
            return policy.delay(pending).max(Duration::from_secs(1));
        }
        match self.last_failure {
            Some(at) => (at + policy.delay(self.failures)).saturating_duration_since(now),
            None => Duration::ZERO,
        }
    }

    fn is_idle(&self) -> bool {
        self.failures == 0 && self.in_flight == 0
    }
}

/// The key for a client: the IPv4 address, or the IPv6 /64 prefix.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

fn keys(client: IpAddr, user: &str) -> [(Key, &'static Policy); 2] {
    let client = client_key(client);
    let mut name = [0u8; MAX_KEY_NAME_BYTES];
    let bytes = user.as_bytes();
    let n_bytes = bytes.len().min(MAX_KEY_NAME_BYTES);
    name[..n_bytes].copy_from_slice(&bytes[..n_bytes]);
    [
        (Key::User(client, name, n_bytes), &USER_POLICY),
        (Key::Client(client), &CLIENT_POLICY),
    ]
}

/// The limiter's state. Pure: every method takes the time.
#[derive(Debug)]
pub struct LoginLimits {
    entries: HashMap<Key, Entry>,
    max_entries: usize,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits::with_max_entries(MAX_ENTRIES)
    }
}

impl LoginLimits {
    pub fn with_max_entries(max_entries: usize) -> LoginLimits {
        LoginLimits {
            entries: HashMap::new(),
            max_entries: max_entries.max(2),
        }
    }

    /// Reserves an attempt for `user` from `client`, or says how long to wait. Every `Ok` must
    /// be followed by exactly one [`finish`](Self::finish) with the same client and user.
    pub fn begin(&mut self, client: IpAddr, user: &str, now: Instant) -> Result<(), Duration> {
        let keys = keys(client, user);
        let mut wait = Duration::ZERO;
        for (key, policy) in &keys {
            if let Some(entry) = self.entries.get_mut(key) {
                entry.forget_if_quiet(policy, now);
                wait = wait.max(entry.wait(policy, now));
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        self.make_room(now);
        for (key, _) in keys {
            let entry = self.entries.entry(key).or_default();
            entry.in_flight = entry.in_flight.saturating_add(1);
        }
        Ok(())
    }

    /// Settles an attempt reserved by [`begin`](Self::begin).
    pub fn finish(&mut self, client: IpAddr, user: &str, outcome: Outcome, now: Instant) {
        for (key, _) in keys(client, user) {
            let Some(entry) = self.entries.get_mut(&key) else {
                continue;
            };
            entry.in_flight = entry.in_flight.saturating_sub(1);
            match (outcome, key) {
                (Outcome::Failure, _) => {
                    entry.failures = entry.failures.saturating_add(1);
                    entry.last_failure = Some(now);
                }
                // A right password clears its own (client, user) record, never the client's:
                // an attacker with one valid account must not reset its spraying count.
                (Outcome::Success, Key::User(..)) => {
                    entry.failures = 0;
                    entry.last_failure = None;
                }
                (Outcome::Success, Key::Client(_)) | (Outcome::Released, _) => {}
            }
            if entry.is_idle() {
                self.entries.remove(&key);
            }
        }
    }

    /// How many clients and (client, user) pairs are tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keeps room for two new entries: drops forgotten ones, then (only when flooded by more
    /// addresses than [`MAX_ENTRIES`]) the ones with the oldest failure. In-flight ones stay.
    fn make_room(&mut self, now: Instant) {
        if self.entries.len() + 2 <= self.max_entries {
            return;
        }
        self.entries.retain(|key, entry| {
            let policy = match key {
                Key::Client(_) => &CLIENT_POLICY,
                Key::User(..) => &USER_POLICY,
            };
            entry.forget_if_quiet(policy, now);
            !entry.is_idle()
        });
        let target = self.max_entries.saturating_mul(9) / 10;
        if self.entries.len() <= target {
            return;
        }
        let mut evictable: Vec<(Option<Instant>, Key)> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.in_flight == 0)
            .map(|(key, entry)| (entry.last_failure, *key))
            .collect();
        evictable.sort_unstable_by_key(|(last_failure, _)| *last_failure);
        let n_excess = self.entries.len() - target;
        for (_, key) in evictable.into_iter().take(n_excess) {
            self.entries.remove(&key);
        }
    }
}

/// [`LoginLimits`] shared by the request handlers.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    limits: Mutex<LoginLimits>,
}

impl LoginLimiter {
    fn with_limits<T>(&self, work: impl FnOnce(&mut LoginLimits) -> T) -> T {
        let mut limits = self
            .limits
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&mut limits)
    }

    /// Reserves an attempt now, or says how long to wait.
    pub fn begin(self: &Arc<Self>, client: IpAddr, user: &str) -> Result<LoginAttempt, Duration> {
        self.with_limits(|limits| limits.begin(client, user, Instant::now()))?;
        Ok(LoginAttempt {
            limiter: self.clone(),
            client,
            user: user.to_owned(),
            settled: false,
        })
    }
}

/// A reserved attempt. Dropped without [`settle`](Self::settle) (the request was cancelled
/// during the password check) it counts as a failure, so disconnecting early gains nothing.
#[derive(Debug)]
pub struct LoginAttempt {
    limiter: Arc<LoginLimiter>,
    client: IpAddr,
    user: String,
    settled: bool,
}

impl LoginAttempt {
    pub fn settle(mut self, outcome: Outcome) {
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: Outcome) {
        if !self.settled {
            self.settled = true;
            self.limiter.with_limits(|limits| {
                limits.finish(self.client, &self.user, outcome, Instant::now())
            });
        }
    }
}

impl Drop for LoginAttempt {
    fn drop(&mut self) {
        self.finish(Outcome::Failure);
    }
}

#[cfg(test)]
mod tests;
