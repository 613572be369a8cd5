//! Agentless hosts (issue 16), as an operator sees and changes them: add one (a host record of
//! its own with no certificate, an ed25519 login key generated and sealed, the public half
//! shown once and on demand), list and show them with the proxy's newest word and the host key
//! to confirm (with its SHA-256 fingerprint), confirm (pin) a host key, remove one. Every
//! change is audited and re-sends the proxy its assignment. The faces (CLI, API, pages) call
//! these. See `docs/agentless.md`.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use super::hosts::{parse_agent_id, require_known};
use crate::agentless::keys;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::agentless::{AgentlessKey, AgentlessRecord};
use crate::storage::agents::AgentRecord;
use serde::{Deserialize, Serialize};
use unity_shared::model::agentless::{AgentlessCollectors, UnixUser};
use unity_shared::model::secret::SecretName;
use unity_shared::proto::{AgentId, HostFacts};

/// How long each remote command may take, unless said otherwise.
pub const DEFAULT_COMMAND_TIMEOUT_SECS: u32 = 30;
/// The shortest collection interval accepted.
pub const MIN_INTERVAL_SECS: u32 = 1;

/// What the owner asks for when adding a host.
#[derive(Debug, Clone)]
pub struct NewAgentless {
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub proxy: String,
    pub collectors: AgentlessCollectors,
    pub interval_secs: u32,
    /// Log in with this secret of the store (an OpenSSH private key whose scope includes the
    /// proxy) instead of a key Unity generates.
    pub key_secret: Option<String>,
}

/// One agentless host as every face shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentlessView {
    pub host: AgentId,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub proxy: AgentId,
    /// The `authorized_keys` line to put on the host (a generated key's).
    pub public_key: Option<String>,
    /// The secret of the store the proxy logs in with, when not a generated key.
    pub key_secret: Option<String>,
    pub host_key: Option<String>,
    pub host_key_fingerprint: Option<String>,
    /// A key the host presented that is not pinned (to confirm, or a mismatch).
    pub presented_key: Option<String>,
    pub presented_fingerprint: Option<String>,
    pub collectors: Vec<String>,
    pub interval_secs: u32,
    pub command_timeout_secs: u32,
    /// The proxy's newest word: `collected`, `host_key_to_confirm`, `host_key_mismatch`,
    /// `unreachable`, `authentication_failed`, `command_failed`; `None` before the first.
    pub state: Option<String>,
    pub message: Option<String>,
    pub state_at_ms: Option<i64>,
}

pub use crate::agentless::outcome_words;

/// The collectors as words.
pub fn collector_words(collectors: &AgentlessCollectors) -> Vec<&'static str> {
    [
        ("system", collectors.system),
        ("smart", collectors.smart),
        ("zfs", collectors.zfs),
        ("raid", collectors.raid),
    ]
    .into_iter()
    .filter_map(|(word, on)| on.then_some(word))
    .collect()
}

/// A collection interval as people write it (`30s`, `1m`, `1h`) to seconds; every face parses
/// it here.
pub fn parse_interval(text: &str) -> Result<u32, DomainError> {
    let interval = humantime::parse_duration(text.trim()).map_err(|error| {
        DomainError::Invalid(format!("bad interval {:?} (e.g. 1m): {error}", text.trim()))
    })?;
    Ok(u32::try_from(interval.as_secs()).unwrap_or(u32::MAX))
}

/// `system,smart,zfs,raid` (any subset) to collectors.
pub fn parse_collectors(text: &str) -> Result<AgentlessCollectors, DomainError> {
    let mut collectors = AgentlessCollectors {
        system: false,
        smart: false,
        zfs: false,
        raid: false,
    };
    for word in text
        .split(',')
        .map(str::trim)
        .filter(|word| !word.is_empty())
    {
        match word {
            "system" => collectors.system = true,
            "smart" => collectors.smart = true,
            "zfs" => collectors.zfs = true,
            "raid" => collectors.raid = true,
            other => {
                return Err(DomainError::Invalid(format!(
                    "unknown collector {other:?}: expected system, smart, zfs or raid"
                )))
            }
        }
    }
    Ok(collectors)
}

fn view(record: AgentlessRecord) -> AgentlessView {
    let (public_key, key_secret) = match &record.key {
        AgentlessKey::Generated { public, .. } => (Some(public.clone()), None),
        AgentlessKey::Secret { name } => (None, Some(name.clone())),
    };
    let (state, message, state_at_ms) = match &record.status {
        Some((at, outcome)) => {
            let (word, message) = outcome_words(outcome);
            (Some(word.to_owned()), message, Some(*at))
        }
        None => (None, None, None),
    };
    AgentlessView {
        host_key_fingerprint: record.host_key.as_deref().and_then(keys::fingerprint),
        presented_fingerprint: record.presented_key.as_deref().and_then(keys::fingerprint),
        public_key,
        key_secret,
        collectors: collector_words(&record.collectors)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        host: record.host,
        address: record.address,
        port: record.port,
        user: record.user,
        proxy: record.proxy,
        host_key: record.host_key,
        presented_key: record.presented_key,
        interval_secs: record.interval_secs,
        command_timeout_secs: record.command_timeout_secs,
        state,
        message,
        state_at_ms,
    }
}

/// Every agentless host, by id. Note that this uses blocking I/O.
pub fn list(ctx: &Context) -> Result<Vec<AgentlessView>, DomainError> {
    Ok(ctx.store.agentless.all()?.into_iter().map(view).collect())
}

/// One agentless host. Note that this uses blocking I/O.
pub fn show(ctx: &Context, host: &AgentId) -> Result<AgentlessView, DomainError> {
    ctx.store
        .agentless
        .get(host)?
        .map(view)
        .ok_or_else(|| DomainError::NotFound(format!("no agentless host {host}")))
}

/// The agentless record of a host, when it is one (for "agentless via X"). Note that this
/// uses blocking I/O.
pub fn of_host(ctx: &Context, host: &AgentId) -> Result<Option<AgentlessView>, DomainError> {
    Ok(ctx.store.agentless.get(host)?.map(view))
}

/// Adds an agentless host on behalf of `actor`: validates, generates its key, stores the host
/// and its record durably, audits, and sends the proxy its new assignment (when connected).
/// Note that this uses blocking I/O.
pub fn add(ctx: &Context, actor: &Actor, new: NewAgentless) -> Result<AgentlessView, DomainError> {
    let host = parse_agent_id(&new.name)?;
    let proxy = parse_agent_id(&new.proxy)?;
    let user = UnixUser::new(new.user.clone())
        .map_err(|error| DomainError::Invalid(format!("bad user {:?}: {error}", new.user)))?;
    let address = new.address.trim();
    if address.is_empty() || address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(DomainError::Invalid(format!(
            "bad address {:?}",
            new.address
        )));
    }
    if new.port == 0 {
        return Err(DomainError::Invalid("the port must be 1 to 65535".into()));
    }
    if new.interval_secs < MIN_INTERVAL_SECS {
        return Err(DomainError::Invalid(
            "the interval must be at least 1s".into(),
        ));
    }
    if ctx.store.agents.agent(&host)?.is_some() {
        return Err(DomainError::Conflict(format!(
            "a host with id {host} exists already"
        )));
    }
    let proxy_record = require_known(ctx, &proxy)?;
    if proxy_record.revoked_at.is_some() {
        return Err(DomainError::Invalid(format!("agent {proxy} is revoked")));
    }
    if ctx.store.agentless.get(&proxy)?.is_some() {
        return Err(DomainError::Invalid(format!(
            "{proxy} is an agentless host itself; pick an agent as the proxy"
        )));
    }
    let key = match &new.key_secret {
        Some(name) => {
            let name = SecretName::new(name.trim())
                .map_err(|error| DomainError::Invalid(error.to_string()))?;
            if ctx.store.secrets.get(name.as_str())?.is_none() {
                return Err(DomainError::Invalid(format!(
                    "no secret {name} in the store; add it with `unity-controller secret set {name} --kind ssh-key --from-file KEY` and scope it to {proxy}"
                )));
            }
            AgentlessKey::Secret {
                name: name.as_str().to_owned(),
            }
        }
        None => {
            let generated =
                keys::generate(&ctx.config.data_dir, &host).map_err(DomainError::internal)?;
            AgentlessKey::Generated {
                sealed_private: generated.sealed_private,
                public: generated.public,
            }
        }
    };
    let now = now_ms();
    ctx.store.agents.put_agent(&AgentRecord {
        agent_id: host.clone(),
        hostname: host.as_str().to_owned(),
        host: HostFacts::default(),
        enrolled_at: now / 1000,
        // No certificate: an agentless host never connects itself.
        certificate_serial: String::new(),
        certificate_not_after: 0,
        revoked_at: None,
        last_seen_ms: 0,
        agent_version: format!("agentless via {proxy}"),
        dropped_reports: 0,
        install: unity_shared::proto::InstallKind::Unknown,
    })?;
    let record = AgentlessRecord {
        host: host.clone(),
        address: address.to_owned(),
        port: new.port,
        user: user.as_str().to_owned(),
        proxy: proxy.clone(),
        key,
        host_key: None,
        presented_key: None,
        collectors: new.collectors,
        interval_secs: new.interval_secs,
        command_timeout_secs: DEFAULT_COMMAND_TIMEOUT_SECS,
        created_at_ms: now,
        status: None,
    };
    ctx.store.agentless.put(&record)?;
    ctx.store.flush()?;
    audit::record(ctx, actor, AuditAction::AgentlessAdd, host.as_str())?;
    reassign(ctx, &proxy);
    Ok(view(record))
}

/// Pins the key the host presented (when `fingerprint` is given, only if it is that key's) and
/// re-sends the proxy its assignment. Note that this uses blocking I/O.
pub fn confirm(
    ctx: &Context,
    actor: &Actor,
    host: &AgentId,
    fingerprint: Option<&str>,
) -> Result<AgentlessView, DomainError> {
    let record = ctx
        .store
        .agentless
        .get(host)?
        .ok_or_else(|| DomainError::NotFound(format!("no agentless host {host}")))?;
    let presented = record.presented_key.clone().ok_or_else(|| {
        DomainError::Conflict(format!(
            "{host} has presented no host key yet; wait for its proxy's first attempt"
        ))
    })?;
    let actual = keys::fingerprint(&presented);
    if let Some(expected) = fingerprint {
        if actual.as_deref() != Some(expected.trim()) {
            return Err(DomainError::Conflict(format!(
                "the presented key's fingerprint is {}, not {expected}",
                actual.as_deref().unwrap_or("unknown")
            )));
        }
    }
    let updated = ctx.store.agentless.update(host, |record| {
        record.host_key = Some(presented.clone());
        record.presented_key = None;
    })?;
    ctx.store.flush()?;
    audit::record(
        ctx,
        actor,
        AuditAction::AgentlessConfirm,
        &format!("{host} {}", actual.unwrap_or_default()),
    )?;
    reassign(ctx, &record.proxy);
    updated
        .map(view)
        .ok_or_else(|| DomainError::NotFound(format!("no agentless host {host}")))
}

/// Removes an agentless host (its record and its host record; its history stays until
/// retention) and stops its collection. Note that this uses blocking I/O.
pub fn remove(ctx: &Context, actor: &Actor, host: &AgentId) -> Result<(), DomainError> {
    let record = ctx
        .store
        .agentless
        .get(host)?
        .ok_or_else(|| DomainError::NotFound(format!("no agentless host {host}")))?;
    ctx.store.agentless.remove(host)?;
    ctx.store.agents.remove_agent(host)?;
    ctx.store.flush()?;
    audit::record(ctx, actor, AuditAction::AgentlessRemove, host.as_str())?;
    reassign(ctx, &record.proxy);
    Ok(())
}

/// A secret of the store changed (value, scope, removed): the proxies of agentless hosts that
/// log in with it get their assignment again, with the new key or without the host (a proxy
/// outside the scope no longer holds the key). Note that this uses blocking I/O.
pub fn secret_changed(ctx: &Context, name: &SecretName) {
    let records = match ctx.store.agentless.all() {
        Ok(records) => records,
        Err(error) => {
            tracing::error!(%error, secret = %name, "Agentless hosts not re-assigned after a secret changed.");
            return;
        }
    };
    let mut proxies: Vec<AgentId> = records
        .into_iter()
        .filter(|record| {
            matches!(&record.key, AgentlessKey::Secret { name: used } if used == name.as_str())
        })
        .map(|record| record.proxy)
        .collect();
    proxies.sort();
    proxies.dedup();
    for proxy in proxies {
        reassign(ctx, &proxy);
    }
}

/// Has the push loop send `proxy` its assignment soon (it gets it at its next connection when
/// it is not connected). Never blocks.
fn reassign(ctx: &Context, proxy: &AgentId) {
    ctx.agentless.push_soon(proxy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_16_every_face_reads_an_interval_the_same_way() {
        assert_eq!(parse_interval(" 1m ").unwrap(), 60);
        assert_eq!(parse_interval("90s").unwrap(), 90);
        let error = parse_interval("soon").unwrap_err().to_string();
        assert!(error.contains("bad interval \"soon\""), "{error}");
    }
}
