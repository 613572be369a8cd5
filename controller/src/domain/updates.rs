//! Container update checks as the faces show them: the newest check of every container as it
//! stands now (an update applied since is up to date, a candidate that failed on the container
//! is marked, an `auto` update that is not being applied says why), filtered by what it found,
//! and "check now" (every container at once, registries asked afresh), audited.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::context::Context;
use crate::storage::containers::{CheckOutcome, UpdateCheckRecord};
use crate::updates::offer::FailedMark;
use crate::updates::watch::RunSummary;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

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
            let waiting = match &current.record.outcome {
                CheckOutcome::Update(update) => crate::updates::waiting::reason(
                    update,
                    current.failed.as_ref(),
                    decisions.get(&key),
                    now,
                ),
                _ => None,
            };
            CheckView {
                record: current.record,
                failed: current.failed,
                waiting,
            }
        })
        .collect())
}

/// Checks every container now on behalf of `actor`, asking the registries afresh, and waits
/// for the result.
pub async fn check_now(ctx: &Arc<Context>, actor: &str) -> Result<RunSummary, DomainError> {
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
