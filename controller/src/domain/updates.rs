//! Container update checks as the faces show them: the newest check of every container,
//! filtered by what it found, and "check now" (every container at once, registries asked
//! afresh), audited.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::context::Context;
use crate::storage::containers::{CheckOutcome, UpdateCheckRecord};
use crate::updates::watch::RunSummary;
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

/// The newest check of every container that `filter` lets through. Note that this uses
/// blocking I/O.
pub fn checks(ctx: &Context, filter: CheckFilter) -> Result<Vec<UpdateCheckRecord>, DomainError> {
    Ok(ctx
        .store
        .containers
        .all_checks()?
        .into_iter()
        .filter(|record| match filter {
            CheckFilter::All => true,
            CheckFilter::Update => matches!(record.outcome, CheckOutcome::Update(_)),
            CheckFilter::Error => matches!(record.outcome, CheckOutcome::Error { .. }),
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
