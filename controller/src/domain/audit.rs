//! The audit log: every change made through a face (who, what, to what, when), and reading it
//! back, newest first.

use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::auth::AuditRecord;
use serde::Serialize;

/// One audit entry as the API lists it.
#[derive(Debug, Serialize)]
pub struct AuditView {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
}

/// Records a change in the audit log. Note that this uses blocking I/O.
pub fn record(ctx: &Context, actor: &str, action: &str, target: &str) -> Result<(), DomainError> {
    ctx.store.auth.audit(&AuditRecord {
        at_ms: now_ms(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
    })?;
    Ok(())
}

/// The newest `limit` entries, newest first. Note that this uses blocking I/O.
pub fn recent(ctx: &Context, limit: usize) -> Result<Vec<AuditView>, DomainError> {
    Ok(ctx
        .store
        .auth
        .audit_log(limit)?
        .into_iter()
        .map(|record| AuditView {
            at_ms: record.at_ms,
            actor: record.actor,
            action: record.action,
            target: record.target,
        })
        .collect())
}
