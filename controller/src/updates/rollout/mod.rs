//! Deciding when (pure): which pending container updates to dispatch now.
//!
//! [`plan`] takes every pending update (one per container with an offered candidate), the
//! attempts made so far, and returns one [`Decision`] per pending update, in the same order.
//! The rules, in the order they are checked:
//!
//! 1. **Skip** a container whose policy mode is `off`, a second entry for a container already
//!    listed, and a container that already updated to this candidate successfully.
//! 2. **One update per container**: wait while an attempt on the same container is running.
//! 3. **Approval and window**: an `auto` update waits for its host's maintenance window
//!    ([`WindowState`]; a host without windows is always open). A `notify` update waits for
//!    an operator's [`Approval`]: [`Approval::InWindow`] then waits for the window too,
//!    [`Approval::Now`] and [`Approval::Force`] do not. An approval also lets an `auto`
//!    update skip its window.
//! 4. **Staged rollout** per candidate, keyed by repository and candidate digest:
//!    - the first container to start an update of a candidate is its **canary**; every
//!      other container of that candidate, on any host (the canary's host included), waits
//!      until an attempt has **succeeded** (passed its health gate);
//!    - when several containers could be the canary at once, the one on the host with the
//!      fewest pending containers of that candidate goes first, then by agent id, then by
//!      container name; a container that cannot go now (window closed, no approval, host
//!      busy) does not hold the rollout back: the next one that can go becomes the canary;
//!    - **any failed attempt stops the rollout** of that candidate: no container updates to
//!      it automatically or with [`Approval::Now`] again. [`Approval::Force`] updates a
//!      container anyway (and may be the canary); to resume the automatic rollout, the
//!      caller leaves the failures an operator dismissed out of `history`.
//!
//!    Approvals other than `Force` respect the staged rollout: an operator approving a
//!    `notify` update on a second host while the canary runs waits for the canary.
//!
//!    **Rule 4a, dependency order** on a host ([`dependencies`], given by [`plan_ordered`]):
//!    an update waits while a container it depends on (compose `depends_on`,
//!    `unity.update.after`, a shared network namespace: [`crate::updates::order`]) has an
//!    update to make in this plan or one running, so the dependency is updated and passes its
//!    health gate first; it stops while that container's newest update failed (until a later
//!    update of it succeeds, or an operator forces the dependent); containers on a dependency
//!    cycle wait, the cycle named.
//! 5. **Per-host concurrency**: at most [`RolloutOptions::max_per_host`] updates (default 1)
//!    run on a host, counting running attempts of any candidate. Forced and approved-now
//!    updates are considered first, then by candidate and canary order.
//!
//! Forced updates bypass rules 3, 4 and 4a only; never 1, 2 or 5.

pub mod dependencies;
mod reasons;

pub use dependencies::HostDependencies;
pub use reasons::{SkipReason, WaitReason};

use super::window::WindowState;
use crate::storage::containers::UpdateMode;
use jiff::Timestamp;
use std::collections::{HashMap, HashSet};
use unity_shared::proto::AgentId;

/// An operator's go-ahead for one container's update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Apply in the host's next maintenance window (the dashboard's "Approve").
    InWindow,
    /// Apply now, outside the window, still following the staged rollout ("Update now").
    Now,
    /// Apply now, outside the window and the staged rollout, even after a failed attempt
    /// ("Force update").
    Force,
}

/// A container with an offered update.
#[derive(Debug, Clone)]
pub struct PendingUpdate {
    pub agent_id: AgentId,
    /// The host's display name, used in reasons.
    pub host_name: String,
    pub container: String,
    /// The normalised repository, e.g. `docker.io/library/nginx`.
    pub repository: String,
    /// The digest that identifies the candidate (the tag's digest: hosts of different
    /// platforms share one rollout).
    pub candidate_digest: String,
    pub mode: UpdateMode,
    /// The host's maintenance windows now ([`super::window::WindowSet::state`]).
    pub window: WindowState,
    pub approval: Option<Approval>,
}

/// How an attempt went (or is going).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Running,
    /// Updated and passed its health gate.
    Succeeded,
    /// Failed or rolled back.
    Failed,
}

/// An update attempt already started: of this candidate, or any running one (which counts
/// for its container and host).
#[derive(Debug, Clone)]
pub struct Attempt {
    pub agent_id: AgentId,
    pub host_name: String,
    pub container: String,
    pub repository: String,
    pub candidate_digest: String,
    pub started: Timestamp,
    pub outcome: AttemptOutcome,
}

/// Limits for [`plan_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutOptions {
    /// Updates running at once on one host.
    pub max_per_host: usize,
}

impl Default for RolloutOptions {
    fn default() -> RolloutOptions {
        RolloutOptions { max_per_host: 1 }
    }
}

/// What to do with one pending update now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Dispatch(Stage),
    /// Not now; a later plan may dispatch it (time, an attempt finishing, an operator).
    Wait(WaitReason),
    /// Not an update to make.
    Skip(SkipReason),
}

/// Why an update is dispatched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The first of its candidate: the rest wait for it.
    Canary,
    /// The candidate has passed on a canary.
    Rollout,
    /// An operator forced it past the rollout rules.
    Forced,
}

/// A candidate: repository and digest.
type Key<'a> = (&'a str, &'a str);

/// Where a candidate's rollout stands, from the attempts so far.
enum Progress {
    NotStarted,
    CanaryRunning { host: String },
    Passed,
    Stopped { host: String, canary: bool },
}

fn progress(history: &[Attempt], key: Key<'_>) -> Progress {
    let mut attempts: Vec<&Attempt> = history
        .iter()
        .filter(|a| (a.repository.as_str(), a.candidate_digest.as_str()) == key)
        .collect();
    attempts.sort_by(|a, b| (a.started, &a.agent_id).cmp(&(b.started, &b.agent_id)));
    let succeeded = attempts
        .iter()
        .any(|a| a.outcome == AttemptOutcome::Succeeded);
    if let Some(failed) = attempts
        .iter()
        .find(|a| a.outcome == AttemptOutcome::Failed)
    {
        return Progress::Stopped {
            host: failed.host_name.clone(),
            canary: !succeeded,
        };
    }
    if succeeded {
        return Progress::Passed;
    }
    match attempts.first() {
        Some(running) => Progress::CanaryRunning {
            host: running.host_name.clone(),
        },
        None => Progress::NotStarted,
    }
}

/// [`plan_with`] with the default options (one update per host at a time).
pub fn plan(pending: &[PendingUpdate], history: &[Attempt], now: Timestamp) -> Vec<Decision> {
    plan_with(&RolloutOptions::default(), pending, history, now)
}

/// [`plan_ordered`] without dependencies between containers.
pub fn plan_with(
    options: &RolloutOptions,
    pending: &[PendingUpdate],
    history: &[Attempt],
    now: Timestamp,
) -> Vec<Decision> {
    plan_ordered(options, pending, history, &HostDependencies::default(), now)
}

/// Whether this container already updated to this candidate successfully.
fn already_applied(update: &PendingUpdate, history: &[Attempt]) -> bool {
    history.iter().any(|a| {
        a.agent_id == update.agent_id
            && a.container == update.container
            && a.repository == update.repository
            && a.candidate_digest == update.candidate_digest
            && a.outcome == AttemptOutcome::Succeeded
    })
}

/// One decision per pending update, in the same order, following each host's dependency
/// order (rule 4a). `now` is used to show the next window.
pub fn plan_ordered(
    options: &RolloutOptions,
    pending: &[PendingUpdate],
    history: &[Attempt],
    dependencies: &HostDependencies,
    now: Timestamp,
) -> Vec<Decision> {
    let key_of = |update: &PendingUpdate| -> (String, String) {
        (update.repository.clone(), update.candidate_digest.clone())
    };
    // Pending containers of each candidate per host: the canary's host has the fewest.
    let mut per_host: HashMap<(String, String, AgentId), usize> = HashMap::new();
    for update in pending {
        let (repository, digest) = key_of(update);
        *per_host
            .entry((repository, digest, update.agent_id.clone()))
            .or_default() += 1;
    }
    let mut order: Vec<usize> = (0..pending.len()).collect();
    order.sort_by_key(|&i| {
        let update = &pending[i];
        let operator_first = match update.approval {
            Some(Approval::Force | Approval::Now) => 0,
            Some(Approval::InWindow) | None => 1,
        };
        let (repository, digest) = key_of(update);
        let n_on_host = per_host
            .get(&(repository.clone(), digest.clone(), update.agent_id.clone()))
            .copied()
            .unwrap_or(0);
        (
            operator_first,
            repository,
            digest,
            n_on_host,
            update.agent_id.clone(),
            update.container.clone(),
            i,
        )
    });

    let mut running_on_host: HashMap<&str, usize> = HashMap::new();
    let mut busy_containers: HashSet<(&str, &str)> = HashSet::new();
    for attempt in history
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::Running)
    {
        *running_on_host
            .entry(attempt.agent_id.as_str())
            .or_default() += 1;
        busy_containers.insert((attempt.agent_id.as_str(), attempt.container.as_str()));
    }
    // Containers with an update to make (rule 1 passed), which their dependents wait for.
    let to_apply: HashSet<(&str, &str)> = pending
        .iter()
        .filter(|update| update.mode != UpdateMode::Off && !already_applied(update, history))
        .map(|update| (update.agent_id.as_str(), update.container.as_str()))
        .collect();
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut canary_dispatched: HashMap<Key<'_>, String> = HashMap::new();
    let mut decisions: Vec<Option<Decision>> = vec![None; pending.len()];

    // Duplicates are judged in the caller's order, so the first entry is the one kept.
    for (i, update) in pending.iter().enumerate() {
        if !seen.insert((update.agent_id.as_str(), update.container.as_str())) {
            decisions[i] = Some(Decision::Skip(SkipReason::Duplicate));
        }
    }
    for i in order {
        if decisions[i].is_some() {
            continue;
        }
        let update = &pending[i];
        let key: Key<'_> = (update.repository.as_str(), update.candidate_digest.as_str());
        let gate = gate(
            update,
            key,
            history,
            now,
            &busy_containers,
            &canary_dispatched,
        );
        let gate = match gate {
            Gate::Ready(stage) if stage != Stage::Forced => {
                match dependencies::wait_reason(update, dependencies, &to_apply, &busy_containers) {
                    Some(reason) => Gate::Decided(Decision::Wait(reason)),
                    None => Gate::Ready(stage),
                }
            }
            other => other,
        };
        let decision = match gate {
            Gate::Decided(decision) => decision,
            Gate::Ready(stage) => {
                let running = running_on_host.entry(update.agent_id.as_str()).or_default();
                if *running >= options.max_per_host {
                    Decision::Wait(WaitReason::HostBusy {
                        host: update.host_name.clone(),
                        limit: options.max_per_host,
                    })
                } else {
                    *running += 1;
                    if stage != Stage::Rollout {
                        // The first dispatched update of a candidate is its canary.
                        canary_dispatched
                            .entry(key)
                            .or_insert_with(|| update.host_name.clone());
                    }
                    Decision::Dispatch(stage)
                }
            }
        };
        decisions[i] = Some(decision);
    }
    decisions
        .into_iter()
        .map(|decision| decision.unwrap_or(Decision::Skip(SkipReason::Duplicate)))
        .collect()
}

/// The outcome of rules 1 to 4 for one update.
enum Gate {
    Decided(Decision),
    /// Dispatch as this stage if the host has room (rule 5).
    Ready(Stage),
}

/// Rules 1 to 4 for one update (duplicates are found by the caller).
fn gate(
    update: &PendingUpdate,
    key: Key<'_>,
    history: &[Attempt],
    now: Timestamp,
    busy_containers: &HashSet<(&str, &str)>,
    canary_dispatched: &HashMap<Key<'_>, String>,
) -> Gate {
    let same_container =
        |a: &&Attempt| a.agent_id == update.agent_id && a.container == update.container;
    if update.mode == UpdateMode::Off {
        return Gate::Decided(Decision::Skip(SkipReason::ModeOff));
    }
    if busy_containers.contains(&(update.agent_id.as_str(), update.container.as_str())) {
        return Gate::Decided(Decision::Wait(WaitReason::ContainerBusy));
    }
    let forced = update.approval == Some(Approval::Force);
    let applied = history.iter().filter(same_container).any(|a| {
        (a.repository.as_str(), a.candidate_digest.as_str()) == key
            && a.outcome == AttemptOutcome::Succeeded
    });
    if applied && !forced {
        return Gate::Decided(Decision::Skip(SkipReason::AlreadyApplied));
    }
    if forced {
        return Gate::Ready(Stage::Forced);
    }
    if update.mode == UpdateMode::Notify && update.approval.is_none() {
        return Gate::Decided(Decision::Wait(WaitReason::AwaitingApproval));
    }
    if update.approval != Some(Approval::Now) {
        if let WindowState::Closed { next } = &update.window {
            let next = next.as_ref().map(|occurrence| occurrence.start_label(now));
            return Gate::Decided(Decision::Wait(WaitReason::OutsideWindow { next }));
        }
    }
    match progress(history, key) {
        Progress::Stopped { host, canary } => {
            Gate::Decided(Decision::Wait(WaitReason::RolloutStopped { host, canary }))
        }
        Progress::CanaryRunning { host } => {
            Gate::Decided(Decision::Wait(WaitReason::CanaryRunning { host }))
        }
        Progress::Passed => Gate::Ready(Stage::Rollout),
        Progress::NotStarted => match canary_dispatched.get(&key) {
            Some(host) => Gate::Decided(Decision::Wait(WaitReason::CanaryRunning {
                host: host.clone(),
            })),
            None => Gate::Ready(Stage::Canary),
        },
    }
}

#[cfg(test)]
mod dependency_tests;
#[cfg(test)]
mod property_tests;
#[cfg(test)]
mod tests;
