//! Hosts: every enrolled agent with its status (online, stale, offline, revoked), last-seen
//! time, versions and health roll-up, and one host's detail (its latest values and which
//! collector sections it reports). The overview, the agents page, the REST API, `/metrics`,
//! the CLI and the alert loop all read hosts here.

use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::health::HealthRollup;
use crate::storage::agents::AgentRecord;
use crate::storage::instances::InstanceRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use unity_shared::model::plugin::{SourceKind, SOURCE_LABEL};
use unity_shared::proto::{AgentId, InstallKind};

/// Where a host stands, from its live connection and its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostStatus {
    /// Connected, and heard from within `stale_after`.
    Online,
    /// Connected, but silent for longer than `stale_after`.
    Stale,
    /// Not connected.
    Offline,
    /// Its certificate is revoked (whether or not it still tries to connect).
    Revoked,
}

impl HostStatus {
    /// The word the API, the CLI and the pages show: `online`, `stale`, `offline`, `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            HostStatus::Online => "online",
            HostStatus::Stale => "stale",
            HostStatus::Offline => "offline",
            HostStatus::Revoked => "revoked",
        }
    }
}

/// One enrolled host, as every face lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Host {
    pub agent_id: AgentId,
    pub hostname: String,
    pub status: HostStatus,
    pub last_seen_ms: i64,
    pub agent_version: String,
    /// How the agent was installed (`unknown` for agents before protocol 11 and agentless
    /// hosts).
    pub install: InstallKind,
    pub os: String,
    pub certificate_not_after: i64,
    pub dropped_reports: u64,
    /// Disks, pools, arrays, databases and containers by verdict, from the newest state.
    pub health: HealthRollup,
    /// Set for an agentless host (issue 16): which agent collects it, and why it is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agentless: Option<AgentlessMark>,
}

/// What marks a host as agentless: "agentless via" and the proxy's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentlessMark {
    pub proxy: AgentId,
    /// Why the host is down, from the proxy's newest word (unreachable, host key, ...).
    pub down_reason: Option<String>,
}

/// An agentless host is up while its proxy is connected and its newest round logged in and
/// collected recently (within three intervals, at least `stale_after`); otherwise down, with
/// the proxy's reason.
fn agentless_status(
    record: &crate::storage::agentless::AgentlessRecord,
    proxy_live: bool,
    last_seen_ms: i64,
    now_ms: i64,
    stale_ms: i64,
) -> (HostStatus, Option<String>) {
    use unity_shared::model::agentless::AgentlessOutcome;
    let window = (i64::from(record.interval_secs) * 3000).max(stale_ms);
    let outcome = record.status.as_ref().map(|(_, outcome)| outcome);
    let collected = matches!(
        outcome,
        Some(AgentlessOutcome::Collected | AgentlessOutcome::CommandFailed { .. })
    );
    if !proxy_live {
        return (
            HostStatus::Offline,
            Some(format!("its proxy {} is not connected", record.proxy)),
        );
    }
    if collected && now_ms - last_seen_ms <= window {
        return (HostStatus::Online, None);
    }
    let reason = match outcome {
        Some(outcome) => crate::agentless::outcome_words(outcome)
            .1
            .unwrap_or_else(|| "no collection recently".to_owned()),
        None => "not collected yet".to_owned(),
    };
    (HostStatus::Offline, Some(reason))
}

/// The latest value of one series.
#[derive(Debug, Serialize)]
pub struct LatestValue {
    pub metric: String,
    pub labels: BTreeMap<String, String>,
    pub timestamp_ms: i64,
    pub value: f64,
}

impl LatestValue {
    /// Whether it came from a plugin (see [`is_plugin_series`]).
    pub fn is_plugin(&self) -> bool {
        is_plugin_series(
            self.labels
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        )
    }
}

/// Whether a host reports one collector section.
#[derive(Debug, Serialize)]
pub struct SectionView {
    pub name: &'static str,
    pub reported: bool,
    pub n_series: usize,
}

/// One host with its latest values and the sections it reports.
#[derive(Debug, Serialize)]
pub struct HostDetail {
    pub host: Host,
    pub latest: Vec<LatestValue>,
    pub sections: Vec<SectionView>,
}

/// Sections of the host page filled by collectors that other issues add; a host "reports" one
/// when it has a series whose metric starts with one of the prefixes.
pub const SECTIONS: &[(&str, &[&str])] = &[
    ("disks", &["smart_", "disk_"]),
    ("pools", &["zfs_", "pool_"]),
    ("arrays", &["md_", "mdraid_", "array_"]),
    ("databases", &["database_", "db_"]),
    ("containers", &["container_"]),
    // What the agent says about each plugin source (`plugin_up`, `plugin_series`, ...); the
    // plugin series themselves have a section of their own, by source.
    ("plugins", &["plugin_"]),
];

/// Whether a series came from a plugin on the host (a textfile, an exporter, a check): it has
/// a `source` label naming one. Plugin series keep the names they were given, so a name alone
/// says nothing (cAdvisor's `container_*`, an exporter's `filesystem_*`).
pub fn is_plugin_series<'a>(mut labels: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    labels.any(|(name, value)| name == SOURCE_LABEL && SourceKind::of_source(value).is_some())
}

/// Parses an agent id named by a caller.
pub fn parse_agent_id(text: &str) -> Result<AgentId, DomainError> {
    AgentId::new(text)
        .map_err(|error| DomainError::Invalid(format!("bad agent id {text:?}: {error}")))
}

/// The agent's record; [`DomainError::NotFound`] when the controller does not know it.
/// Note that this uses blocking I/O.
pub fn require_known(ctx: &Context, agent_id: &AgentId) -> Result<AgentRecord, DomainError> {
    ctx.store
        .agents
        .agent(agent_id)?
        .ok_or_else(|| DomainError::no_host(agent_id))
}

/// A host's status now, from its revocation and its live connection's last message.
fn status_of(record: &AgentRecord, live: Option<i64>, now_ms: i64, stale_ms: i64) -> HostStatus {
    match (record.revoked_at, live) {
        (Some(_), _) => HostStatus::Revoked,
        (None, Some(last)) if now_ms - last > stale_ms => HostStatus::Stale,
        (None, Some(_)) => HostStatus::Online,
        (None, None) => HostStatus::Offline,
    }
}

/// One host as listed, from its record and, for an agentless host, its agentless record.
fn host_of(
    ctx: &Context,
    record: AgentRecord,
    agentless: Option<&crate::storage::agentless::AgentlessRecord>,
    now: i64,
    stale_ms: i64,
) -> Result<Host, DomainError> {
    let health = crate::health::host_rollup(&ctx.store, &record.agent_id)?;
    let live = ctx.hub.last_message_ms(&record.agent_id);
    let last_seen_ms = live.unwrap_or(record.last_seen_ms).max(record.last_seen_ms);
    let mut status = status_of(&record, live, now, stale_ms);
    let mark = agentless.map(|agentless| {
        let proxy_live = ctx.hub.last_message_ms(&agentless.proxy).is_some();
        let (agentless_status, down_reason) =
            agentless_status(agentless, proxy_live, last_seen_ms, now, stale_ms);
        if status != HostStatus::Revoked {
            status = agentless_status;
        }
        AgentlessMark {
            proxy: agentless.proxy.clone(),
            down_reason,
        }
    });
    Ok(Host {
        status,
        agentless: mark,
        hostname: record.hostname,
        last_seen_ms,
        agent_version: record.agent_version,
        install: record.install,
        os: super::os_label::os_label(&record.host.os, &record.host.os_version),
        certificate_not_after: record.certificate_not_after,
        dropped_reports: record.dropped_reports,
        health,
        agent_id: record.agent_id,
    })
}

/// Every enrolled host, by host name then agent id. Note that this uses blocking I/O.
pub fn list(ctx: &Context) -> Result<Vec<Host>, DomainError> {
    let now = now_ms();
    let stale_ms = ctx.config.stale_after.as_millis() as i64;
    let agentless: BTreeMap<AgentId, crate::storage::agentless::AgentlessRecord> = ctx
        .store
        .agentless
        .all()?
        .into_iter()
        .map(|record| (record.host.clone(), record))
        .collect();
    let mut hosts: Vec<Host> = ctx
        .store
        .agents
        .agents()?
        .into_iter()
        .map(|record| {
            let mark = agentless.get(&record.agent_id);
            host_of(ctx, record, mark, now, stale_ms)
        })
        .collect::<Result<_, DomainError>>()?;
    hosts.sort_by(|a, b| {
        a.hostname
            .cmp(&b.hostname)
            .then(a.agent_id.cmp(&b.agent_id))
    });
    Ok(hosts)
}

/// One enrolled host as [`list`] shows it, without reading every other host (the overview's
/// live cards). Note that this uses blocking I/O.
pub fn one(ctx: &Context, agent_id: &AgentId) -> Result<Host, DomainError> {
    let record = require_known(ctx, agent_id)?;
    let agentless = ctx
        .store
        .agentless
        .all()?
        .into_iter()
        .find(|agentless| agentless.host == *agent_id);
    let stale_ms = ctx.config.stale_after.as_millis() as i64;
    host_of(ctx, record, agentless.as_ref(), now_ms(), stale_ms)
}

/// One host with its latest values and which collector sections it reports. Note that this
/// uses blocking I/O.
pub fn detail(ctx: &Context, agent_id: &AgentId) -> Result<HostDetail, DomainError> {
    let host = list(ctx)?
        .into_iter()
        .find(|host| host.agent_id == *agent_id)
        .ok_or_else(|| DomainError::no_host(agent_id))?;
    let latest: Vec<LatestValue> = ctx
        .store
        .series
        .latest(agent_id.as_str())?
        .into_iter()
        .map(|(key, (timestamp_ms, value))| LatestValue {
            metric: key.metric,
            labels: key.labels.into_iter().collect(),
            timestamp_ms,
            value,
        })
        .collect();
    let sections = sections(&latest);
    Ok(HostDetail {
        host,
        latest,
        sections,
    })
}

/// Which collector sections the latest values show (pure). Plugin series count for none of
/// them, whatever their names.
pub fn sections(latest: &[LatestValue]) -> Vec<SectionView> {
    SECTIONS
        .iter()
        .map(|(name, prefixes)| {
            let n_series = latest
                .iter()
                .filter(|value| {
                    prefixes
                        .iter()
                        .any(|prefix| value.metric.starts_with(prefix))
                        && !value.is_plugin()
                })
                .count();
            SectionView {
                name,
                reported: n_series > 0,
                n_series,
            }
        })
        .collect()
}

/// Every installation that presented the host's identity. Note that this uses blocking I/O.
pub fn instances(ctx: &Context, agent_id: &AgentId) -> Result<Vec<InstanceRecord>, DomainError> {
    Ok(ctx.store.instances.of_agent(agent_id)?)
}
