//! Which update a container is offered now, and what "roll back" goes back to (pure).
//!
//! A check record says what the registry had when the container was last checked; what the
//! container runs and what was tried since can make it stale. [`offer_state`] decides from the
//! record, the container's digests in its newest report and the container's update history:
//!
//! 1. **Applied**: the container's newest report names the candidate digest, or an update to
//!    the candidate succeeded after that report was sent: nothing is offered.
//! 2. **Failed here**: an update of this container to the candidate failed (rolled back or
//!    failed; not refused or expired) and none succeeded after it: the candidate is offered for a manual
//!    update only, marked with when and why it failed; policies never apply it again.
//! 3. Otherwise it is offered as the check found it.
//!
//! [`known_bad`] is the set of candidate digests that failed on a container; [`pick`] makes the
//! check look past them to the newest candidate that is not known-bad (after a restore to an
//! older version, the good newer version is offered, not the one that failed). [`rollback_target`] is the backup the newest successful update took: the version
//! before it, which is what "roll back" means (the newest backup is, after a failed update, the
//! version already running).

use crate::storage::operations::{OperationKind, OperationRecord, OperationState};
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::SystemTime;
use unity_shared::model::update::Outcome;

/// How one update attempt of a container went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// Queued, running, or ended before the container was touched (expired, refused, pull
    /// failed): no verdict on the candidate.
    NoVerdict,
    Succeeded,
    /// Rolled back or failed: the candidate ran and did not pass; the reason for people.
    Failed {
        reason: String,
    },
}

/// One update of a container, from its operation record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastUpdate {
    /// The candidate digest it was for (empty for an update to a given image).
    pub to_digest: String,
    /// When it finished (else when it was asked for), ms since the Unix epoch.
    pub at_ms: i64,
    pub result: AttemptResult,
    /// The backup it took before changing anything (the version before it).
    pub backup: Option<String>,
}

/// What a container's newest report says it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningNow {
    /// Its repo digests (`sha256:…`, without the repository).
    pub digests: Vec<String>,
    /// When the report was received, ms since the Unix epoch.
    pub reported_at_ms: i64,
}

/// A candidate that failed on this container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedMark {
    pub at_ms: i64,
    pub reason: String,
}

/// What to do with a detected update now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferState {
    /// The container runs the candidate already: not offered.
    Applied,
    /// Offered; with `failed`, only for a manual update.
    Offered { failed: Option<FailedMark> },
}

/// The updates of one container from operation records, oldest first (pure).
pub fn history_of(records: &[OperationRecord]) -> Vec<PastUpdate> {
    let mut history: Vec<PastUpdate> = records
        .iter()
        .filter(|record| record.action == OperationKind::Update)
        .map(|record| {
            let result = match (record.state, &record.result) {
                (OperationState::Finished, Some(result))
                    if result.outcome == Outcome::Succeeded =>
                {
                    AttemptResult::Succeeded
                }
                (OperationState::Finished, Some(result))
                    if matches!(result.outcome, Outcome::RolledBack | Outcome::Failed) =>
                {
                    AttemptResult::Failed {
                        reason: result.message.clone(),
                    }
                }
                _ => AttemptResult::NoVerdict,
            };
            PastUpdate {
                to_digest: record.to_digest.clone().unwrap_or_default(),
                at_ms: record.finished_at_ms.unwrap_or(record.requested_at_ms),
                result,
                backup: record
                    .result
                    .as_ref()
                    .and_then(|result| result.backup.clone()),
            }
        })
        .collect();
    history.sort_by_key(|update| update.at_ms);
    history
}

/// The state of the offer of `candidate_digest` to a container (see the module's rules).
/// `history` is the container's updates, in any order.
pub fn offer_state(
    candidate_digest: &str,
    running: Option<&RunningNow>,
    history: &[PastUpdate],
) -> OfferState {
    if let Some(running) = running {
        if running
            .digests
            .iter()
            .any(|digest| digest == candidate_digest)
        {
            return OfferState::Applied;
        }
    }
    let reported_at_ms = running.map_or(i64::MIN, |running| running.reported_at_ms);
    let newest = history
        .iter()
        .filter(|update| update.to_digest == candidate_digest)
        .filter(|update| update.result != AttemptResult::NoVerdict)
        .max_by_key(|update| update.at_ms);
    match newest {
        Some(update) if update.result == AttemptResult::Succeeded => {
            if update.at_ms > reported_at_ms {
                OfferState::Applied
            } else {
                // Applied once, and the container was taken back since: offered again.
                OfferState::Offered { failed: None }
            }
        }
        Some(PastUpdate {
            at_ms,
            result: AttemptResult::Failed { reason },
            ..
        }) => OfferState::Offered {
            failed: Some(FailedMark {
                at_ms: *at_ms,
                reason: reason.clone(),
            }),
        },
        _ => OfferState::Offered { failed: None },
    }
}

/// Candidate digests whose newest finished update on this container failed.
pub fn known_bad(history: &[PastUpdate]) -> BTreeSet<String> {
    let mut sorted: Vec<&PastUpdate> = history.iter().collect();
    sorted.sort_by_key(|update| update.at_ms);
    let mut bad = BTreeSet::new();
    for update in sorted {
        if update.to_digest.is_empty() {
            continue;
        }
        match update.result {
            AttemptResult::NoVerdict => {}
            AttemptResult::Succeeded => {
                bad.remove(&update.to_digest);
            }
            AttemptResult::Failed { .. } => {
                bad.insert(update.to_digest.clone());
            }
        }
    }
    bad
}

/// The backup "roll back" restores: the one the newest successful update took (the version
/// before it). `None` when no successful update took a backup.
pub fn rollback_target(history: &[PastUpdate]) -> Option<String> {
    history
        .iter()
        .filter(|update| update.result == AttemptResult::Succeeded && update.backup.is_some())
        .max_by_key(|update| update.at_ms)
        .and_then(|update| update.backup.clone())
}

/// The candidate a check reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picked<T> {
    /// Past its cooldown: offered now.
    Ready(T),
    /// In its cooldown until the time given.
    Waiting(T, SystemTime),
    /// No candidate.
    None,
}

/// Which of a check's candidates (in order of preference, each with the time its cooldown
/// ends) to report: candidates not known-bad first (the first past its cooldown, else the first
/// waiting), and a known-bad one only when no other exists (it is then offered with its failed
/// mark, by hand only).
pub fn pick<T>(
    candidates: Vec<(T, SystemTime)>,
    is_bad: impl Fn(&T) -> bool,
    now: SystemTime,
) -> Picked<T> {
    let (bad, good): (Vec<_>, Vec<_>) = candidates
        .into_iter()
        .partition(|(candidate, _)| is_bad(candidate));
    match choose(good, now) {
        Picked::None => choose(bad, now),
        chosen => chosen,
    }
}

/// The first candidate past its cooldown, else the first waiting one.
fn choose<T>(candidates: Vec<(T, SystemTime)>, now: SystemTime) -> Picked<T> {
    let mut waiting = Picked::None;
    for (candidate, ready_at) in candidates {
        if ready_at <= now {
            return Picked::Ready(candidate);
        }
        if matches!(waiting, Picked::None) {
            waiting = Picked::Waiting(candidate, ready_at);
        }
    }
    waiting
}

#[cfg(test)]
mod tests;
