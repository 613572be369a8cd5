//! Container update checks as the faces show them: the newest check of every container as it
//! stands now (an update applied since is up to date, a candidate that failed on the container
//! is marked, an `auto` update that is not being applied says why), filtered by what it found,
//! and "check now" (every container at once, registries asked afresh), audited.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::containers::{CheckOutcome, UpdateCheckRecord};
use crate::updates::auto::Inventories;
use crate::updates::insight::{Insight, Signals};
use crate::updates::offer::FailedMark;
use crate::updates::recommend::Thresholds;
use crate::updates::scan::{self, Countdown, Fleet, GateView};
use crate::updates::watch::RunSummary;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use unity_shared::model::database_image::MajorChange;
use unity_shared::model::scan::GateThreshold;

/// Which checks a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFilter {
    /// Only containers with an update.
    Update,
    /// Only checks that failed.
    Error,
    /// Every container.
    All,
}

/// Parses `update` (the default), `error` or `all`.
pub fn parse_check_filter(text: Option<&str>) -> Result<CheckFilter, DomainError> {
    match text.unwrap_or("update") {
        "update" => Ok(CheckFilter::Update),
        "error" => Ok(CheckFilter::Error),
        "all" => Ok(CheckFilter::All),
        other => Err(DomainError::Invalid(format!(
            "bad status {other:?}: expected update, error or all"
        ))),
    }
}

/// One container's newest check as it stands now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckView {
    #[serde(flatten)]
    pub record: UpdateCheckRecord,
    /// The offered candidate failed on this container (when and why): it is offered for a
    /// manual update only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<FailedMark>,
    /// Why an update is not being applied now ([`crate::updates::waiting::reason`]: failed
    /// here, cooldown with its countdown, window closed, canary running, rollout stopped, a
    /// dependency first or failed, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// A pending update's recommendation with its reasons, and its release notes (issue 17 §3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insight: Option<Insight>,
    /// The vulnerability gate for the pending update (issue 17 §2): the host's scanner (or
    /// that it has none), counts, the CVE delta and the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulnerability_gate: Option<GateView>,
    /// While the candidate is in its cooldown: when it becomes eligible ("eligible in 2h 13m";
    /// an image of unknown age counts from when it was first seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<Countdown>,
}

/// The gate's view and the cooldown countdown of one pending update. Note that this uses
/// blocking I/O.
fn gate_of(
    ctx: &Context,
    inventories: &mut Inventories,
    fleet: &Fleet,
    record: &UpdateCheckRecord,
    now_ms: i64,
) -> (Option<GateView>, Option<Countdown>) {
    let CheckOutcome::Update(update) = &record.outcome else {
        return (None, None);
    };
    let policy = inventories.policy_of(ctx, &record.agent_id, &record.container);
    let threshold = policy
        .as_ref()
        .map_or(Some(GateThreshold::Critical), |policy| {
            policy.vulnerabilities
        });
    let gate = scan::view(
        fleet,
        &record.agent_id,
        update.current_digest.as_deref(),
        &update.candidate_digest,
        threshold,
    );
    let countdown = policy.and_then(|policy| {
        scan::countdown(
            update.candidate_created_ms,
            update.first_seen_ms,
            policy.cooldown,
            now_ms,
        )
    });
    (Some(gate), countdown)
}

/// How many containers of each host have an update waiting (the overview's badge). Note that
/// this uses blocking I/O.
pub fn pending_by_host(
    ctx: &Context,
) -> Result<HashMap<unity_shared::proto::AgentId, usize>, DomainError> {
    let mut pending = HashMap::new();
    for current in crate::updates::current::checks(ctx)? {
        if matches!(current.record.outcome, CheckOutcome::Update(_)) {
            *pending.entry(current.record.agent_id).or_default() += 1;
        }
    }
    Ok(pending)
}

/// The newest check of every container that `filter` lets through, as it stands now. Note
/// that this uses blocking I/O.
pub fn checks(ctx: &Context, filter: CheckFilter) -> Result<Vec<CheckView>, DomainError> {
    let mut decisions: HashMap<(String, String), crate::updates::rollout::Decision> =
        HashMap::new();
    for planned in crate::updates::auto::decide(ctx, jiff::Timestamp::now())
        .map_err(|error| DomainError::Internal(format!("planning updates: {error:#}")))?
    {
        let key = (planned.check.agent_id.to_string(), planned.check.container);
        decisions.insert(key, planned.decision);
    }
    let operations = ctx.store.operations.all()?;
    let mut notes: HashMap<(String, String), _> = ctx
        .store
        .release_notes
        .all()?
        .into_iter()
        .map(|notes| ((notes.agent_id.to_string(), notes.container.clone()), notes))
        .collect();
    let thresholds = Thresholds {
        settle_age: ctx.config.updates.release_notes.settle_age,
    };
    let fleet = scan::stored::fleet(ctx)?;
    let mut inventories = Inventories::default();
    let now_ms = crate::clock::now_ms();
    let now = std::time::SystemTime::now();
    Ok(crate::updates::current::checks(ctx)?
        .into_iter()
        .filter(|current| match filter {
            CheckFilter::All => true,
            CheckFilter::Update => matches!(current.record.outcome, CheckOutcome::Update(_)),
            CheckFilter::Error => matches!(current.record.outcome, CheckOutcome::Error { .. }),
        })
        .map(|current| {
            let key = (
                current.record.agent_id.to_string(),
                current.record.container.clone(),
            );
            let major = major_change(&current.record);
            let waiting = match &current.record.outcome {
                CheckOutcome::Update(update) => crate::updates::waiting::reason(
                    update,
                    current.failed.as_ref(),
                    decisions.get(&key),
                    now,
                )
                .or_else(|| {
                    let reason = major.as_ref()?.reason();
                    Some(format!("only by hand, with force: {reason}"))
                }),
                _ => None,
            };
            let (vulnerability_gate, cooldown) =
                gate_of(ctx, &mut inventories, &fleet, &current.record, now_ms);
            let insight = match &current.record.outcome {
                CheckOutcome::Update(update) => Some(crate::updates::insight::of(
                    &current.record,
                    update,
                    notes.remove(&key),
                    &operations,
                    Signals {
                        cve: vulnerability_gate.as_ref().and_then(cve_delta),
                        database_major: major.as_ref().map(database_major),
                    },
                    thresholds,
                    now_ms,
                )),
                _ => None,
            };
            CheckView {
                record: current.record,
                failed: current.failed,
                waiting,
                insight,
                vulnerability_gate,
                cooldown,
            }
        })
        .collect())
}

/// The scans of the running image and the candidate, for the recommendation (§2's gate).
fn cve_delta(gate: &GateView) -> Option<crate::updates::recommend::CveDelta> {
    use crate::updates::recommend::SeverityCounts;
    let counts = |scan: &unity_shared::model::scan::SeverityCounts| SeverityCounts {
        critical: scan.critical,
        high: scan.high,
    };
    Some(crate::updates::recommend::CveDelta {
        current: counts(gate.current.as_ref()?),
        candidate: counts(gate.candidate.as_ref()?),
    })
}

/// The database major-version change a pending update makes (§1's guard), when it does.
fn major_change(record: &UpdateCheckRecord) -> Option<MajorChange> {
    let CheckOutcome::Update(update) = &record.outcome else {
        return None;
    };
    let candidate = crate::updates::dispatch::with_tag(&record.image, &update.candidate_tag);
    unity_shared::model::database_image::major_version_change(&record.image, &candidate)
}

/// The guard's change as the recommendation reads it.
fn database_major(change: &MajorChange) -> crate::updates::recommend::DatabaseMajor {
    crate::updates::recommend::DatabaseMajor {
        engine: change.kind.word().to_owned(),
        from: change.from.to_string(),
        to: change.to.to_string(),
    }
}

/// Checks every container now on behalf of `actor`, asking the registries afresh, and waits
/// for the result.
pub async fn check_now(ctx: &Arc<Context>, actor: &Actor) -> Result<RunSummary, DomainError> {
    let (audit_ctx, actor) = (ctx.clone(), actor.to_owned());
    tokio::task::spawn_blocking(move || {
        audit::record(&audit_ctx, &actor, AuditAction::UpdatesCheck, "all")
    })
    .await
    .map_err(|error| DomainError::Internal(format!("blocking task failed: {error}")))??;
    crate::updates::watch::run(ctx, Duration::ZERO, true)
        .await
        .map_err(|error| DomainError::Internal(format!("update check failed: {error:#}")))
}
