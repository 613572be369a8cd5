//! Service checks as an operator sees and changes them (issue 18 §1; docs/services.md): each
//! check with its state from each agent that runs it (up or down, latency, reason, TLS days),
//! its uptime over 24 h, 7 d and 30 d from the stored `service_up` series, and where it is
//! defined; defining, changing and deleting the stored ones (administrators, audited). The
//! file's checks are changed in the file.

use super::access::Visible;
use super::actor::Actor;
use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::config::service_checks::{self as definitions, RawServiceCheck};
use crate::context::Context;
use crate::service_checks::{uptime, Defined, Origin};
use crate::storage::series::TimeRange;
use crate::storage::service_checks::StoredServiceCheck;
use std::collections::BTreeMap;
use unity_shared::model::service::{ServiceCheckKind, ServiceCheckResult};
use unity_shared::proto::AgentId;

/// One agent's view of a check.
#[derive(Debug, Clone)]
pub struct AgentView {
    pub agent_id: AgentId,
    pub hostname: String,
    /// The newest result; `None` before the first.
    pub result: Option<ServiceCheckResult>,
}

/// One check.
#[derive(Debug, Clone)]
pub struct CheckView {
    pub name: String,
    /// `http`, `tcp`, `icmp` or `dns`.
    pub kind: &'static str,
    /// What it checks: the URL, `host:port`, the host, the name.
    pub target: String,
    pub interval_secs: u32,
    pub timeout_ms: u32,
    pub tls_warning_days: u32,
    pub groups: Vec<String>,
    pub origin: Origin,
    pub raw: Option<RawServiceCheck>,
    pub agents: Vec<AgentView>,
    /// `(window, share up)` for 24h, 7d, 30d; `None`: no sample in the window.
    pub uptime: Vec<(&'static str, Option<f64>)>,
}

impl CheckView {
    /// `up` (every agent with a result sees it up), `down` (every one sees it down),
    /// `partial`, or `unknown` (no result yet).
    pub fn state(&self) -> &'static str {
        let seen: Vec<bool> = self
            .agents
            .iter()
            .filter_map(|agent| agent.result.as_ref().map(|result| result.up))
            .collect();
        match (seen.iter().any(|up| *up), seen.iter().any(|up| !*up)) {
            (false, false) => "unknown",
            (true, false) => "up",
            (false, true) => "down",
            (true, true) => "partial",
        }
    }
}

fn kind_and_target(kind: &ServiceCheckKind) -> (&'static str, String) {
    match kind {
        ServiceCheckKind::Http { url, .. } => ("http", url.clone()),
        ServiceCheckKind::Tcp { host, port } => ("tcp", format!("{host}:{port}")),
        ServiceCheckKind::Icmp { host } => ("icmp", host.clone()),
        ServiceCheckKind::Dns { name, .. } => ("dns", name.clone()),
    }
}

/// Every check, with the agents the caller sees. Note that this uses blocking I/O.
pub fn list(ctx: &Context, visible: &Visible, now_ms: i64) -> Result<Vec<CheckView>, DomainError> {
    let mut results: BTreeMap<(String, AgentId), ServiceCheckResult> = BTreeMap::new();
    for stored in ctx.store.service_checks.results()? {
        results.insert((stored.result.name.clone(), stored.agent_id), stored.result);
    }
    let hostnames: BTreeMap<AgentId, String> = ctx
        .store
        .agents
        .agents()?
        .into_iter()
        .map(|record| (record.agent_id, record.hostname))
        .collect();
    let longest = uptime::WINDOWS_MS
        .iter()
        .map(|(_, ms)| *ms)
        .max()
        .unwrap_or(0);
    let mut checks = Vec::new();
    for Defined {
        definition,
        raw,
        origin,
    } in crate::service_checks::defined(ctx)?
    {
        let name = definition.check.name.clone();
        let mut agents = Vec::new();
        let mut samples: Vec<(i64, f64)> = Vec::new();
        for agent_id in crate::service_checks::agents_of(ctx, &definition)? {
            if !visible.sees(&agent_id) {
                continue;
            }
            let range = TimeRange {
                from_ms: now_ms - longest,
                to_ms: now_ms + 1,
            };
            let matchers = [("check".to_owned(), name.clone())];
            for series in
                ctx.store
                    .series
                    .query(agent_id.as_str(), "service_up", &matchers, range)?
            {
                samples.extend(series.points);
            }
            agents.push(AgentView {
                hostname: hostnames
                    .get(&agent_id)
                    .cloned()
                    .unwrap_or_else(|| agent_id.to_string()),
                result: results.remove(&(name.clone(), agent_id.clone())),
                agent_id,
            });
        }
        let (kind, target) = kind_and_target(&definition.check.kind);
        checks.push(CheckView {
            kind,
            target,
            interval_secs: definition.check.interval_secs,
            timeout_ms: definition.check.timeout_ms,
            tls_warning_days: definition.tls_warning_days,
            groups: definition.groups.clone(),
            origin,
            raw,
            agents,
            uptime: uptime::WINDOWS_MS
                .iter()
                .map(|(label, window)| (*label, uptime::ratio(&samples, now_ms, *window)))
                .collect(),
            name,
        });
    }
    Ok(checks)
}

/// Defines (or replaces) a stored check; [`assign_all`] then sends the agents their checks.
/// A check of the file cannot be changed here. Note that this uses blocking I/O.
pub fn set(ctx: &Context, actor: &Actor, raw: RawServiceCheck) -> Result<(), DomainError> {
    let definition = definitions::validate(&raw).map_err(DomainError::Invalid)?;
    let name = definition.check.name.clone();
    if ctx.config.services.iter().any(|d| d.check.name == name) {
        return Err(DomainError::Conflict(format!(
            "the service check {name} is defined in the configuration file; change it there"
        )));
    }
    let definition_json =
        serde_json::to_string(&raw).map_err(|error| DomainError::Internal(error.to_string()))?;
    ctx.store.service_checks.put(&StoredServiceCheck {
        name: name.clone(),
        definition_json,
        updated_at_ms: crate::clock::now_ms(),
        updated_by: actor.to_string(),
    })?;
    audit::record(ctx, actor, AuditAction::ServiceCheckSet, &name)?;
    Ok(())
}

/// Deletes a stored check and its results. Note that this uses blocking I/O.
pub fn delete(ctx: &Context, actor: &Actor, name: &str) -> Result<(), DomainError> {
    if ctx.config.services.iter().any(|d| d.check.name == name) {
        return Err(DomainError::Conflict(format!(
            "the service check {name} is defined in the configuration file; remove it there"
        )));
    }
    if !ctx.store.service_checks.remove(name)? {
        return Err(DomainError::NotFound(format!(
            "no service check named {name}"
        )));
    }
    audit::record(ctx, actor, AuditAction::ServiceCheckDelete, name)?;
    Ok(())
}

/// Sends every connected agent its checks (after a change), in the background.
pub fn assign_all(ctx: &std::sync::Arc<Context>) {
    crate::service_checks::push_all(ctx);
}
