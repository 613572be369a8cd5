//! The SSH CA on hosts: enable (which pieces, extra names, login users), disable, status, and
//! configure one host now: ask its agent for its host public keys, sign each, send
//! `ConfigureSshd` (certificates, the trusted user CA, principals files) and record the answer,
//! audited either way.
//!
//! Configuring talks to the agent over the hub: [`configure`] blocks its thread on those
//! requests, so call it on a blocking thread inside the runtime (the admin socket's handler
//! and `spawn_blocking` are).

use super::principals;
use crate::ca::ssh::{self, SshCertKind, SshCertRequest};
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditAction};
use crate::domain::error::DomainError;
use crate::storage::ssh_ca::{SshCaHostRecord, SshHostState};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use unity_shared::model::ssh::{
    ConfigureSshd, ReadSshHostKeys, SshHostCertificate, SshLine, SshdConfigured,
};
use unity_shared::proto::{AgentId, CommandResponse};

const READ_TIMEOUT: Duration = Duration::from_secs(30);
const CONFIGURE_TIMEOUT: Duration = Duration::from_secs(90);
const RETRY_MIN_MS: i64 = 60_000;
const RETRY_MAX_MS: i64 = 6 * 3600 * 1000;

/// What `host enable` asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnableHost {
    pub host: String,
    /// Sign the host keys and install the certificates (default yes).
    #[serde(default = "yes")]
    pub host_certificates: bool,
    /// Trust the user CA for logins (default yes).
    #[serde(default = "yes")]
    pub trust_user_ca: bool,
    /// Host principals besides the host name and agent id.
    #[serde(default)]
    pub extra_names: Vec<String>,
    /// Login users with a principals file (default root).
    #[serde(default)]
    pub users: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A host as the SSH CA sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SshHostView {
    pub agent_id: String,
    pub host_certificates: bool,
    pub trust_user_ca: bool,
    pub extra_names: Vec<String>,
    pub users: Vec<String>,
    pub configured_at_ms: Option<i64>,
    pub valid_before: Option<u64>,
    pub renew_at: Option<u64>,
    pub serials: Vec<u64>,
    pub last_error: Option<String>,
    pub failures: u32,
}

fn view(record: &SshCaHostRecord) -> SshHostView {
    let state = &record.state;
    SshHostView {
        agent_id: record.agent_id.to_string(),
        host_certificates: record.host_certificates,
        trust_user_ca: record.trust_user_ca,
        extra_names: record.extra_names.clone(),
        users: record.users.clone(),
        configured_at_ms: state.configured_at_ms,
        valid_before: state.valid_before,
        renew_at: state
            .valid_after
            .zip(state.valid_before)
            .map(|(after, before)| ssh::renew_at(after, before)),
        serials: state.serials.clone(),
        last_error: state.last_error.clone(),
        failures: state.failures,
    }
}

/// Whether the loop should configure the host now.
pub fn due(record: &SshCaHostRecord, now_ms: i64) -> bool {
    let state = &record.state;
    if state.retry_at_ms.is_some_and(|retry| now_ms < retry) {
        return false;
    }
    if state.last_error.is_some() || state.configured_at_ms.is_none() {
        return true;
    }
    match (
        record.host_certificates,
        state.valid_after,
        state.valid_before,
    ) {
        (true, Some(after), Some(before)) => now_ms / 1000 >= ssh::renew_at(after, before) as i64,
        (true, _, _) => true,
        (false, _, _) => false,
    }
}

fn record(ctx: &Context, agent_id: &AgentId) -> Result<SshCaHostRecord, DomainError> {
    ctx.store.ssh_ca.host(agent_id)?.ok_or_else(|| {
        DomainError::NotFound(format!("the SSH CA is not enabled for host {agent_id}"))
    })
}

/// Enables the SSH CA for a host and configures it now if it is connected. Note that this
/// blocks (see the module's note).
pub fn enable(
    ctx: &Context,
    actor: &Actor,
    request: EnableHost,
) -> Result<SshHostView, DomainError> {
    super::require_enabled(ctx)?;
    let agent_id = crate::domain::hosts::parse_agent_id(&request.host)?;
    crate::domain::hosts::require_known(ctx, &agent_id)?;
    let users = if request.users.is_empty() {
        vec!["root".to_owned()]
    } else {
        request.users
    };
    principals::principals_files(&users, agent_id.as_str()).map_err(DomainError::Invalid)?;
    for name in &request.extra_names {
        unity_shared::model::ssh::Principal::new(name.clone())
            .map_err(|error| DomainError::Invalid(error.to_string()))?;
    }
    if !request.host_certificates && !request.trust_user_ca {
        return Err(DomainError::Invalid(
            "enable host certificates, the user CA or both".into(),
        ));
    }
    let record = SshCaHostRecord {
        agent_id: agent_id.clone(),
        host_certificates: request.host_certificates,
        trust_user_ca: request.trust_user_ca,
        extra_names: request.extra_names,
        users,
        enabled_by: actor.to_string(),
        enabled_at_ms: now_ms(),
        state: SshHostState::default(),
    };
    ctx.store.ssh_ca.put_host(&record)?;
    audit::record(
        ctx,
        actor,
        AuditAction::SshHostEnable,
        &format!(
            "{agent_id} host certificates {} user CA {} users {}",
            record.host_certificates,
            record.trust_user_ca,
            record.users.join(",")
        ),
    )?;
    if ctx.hub.is_connected(&agent_id) {
        // The outcome is recorded on the host either way; the view shows it.
        let _ = configure(ctx, actor, &agent_id);
    }
    status(ctx, &agent_id.to_string())
}

/// Turns the SSH CA off for a host: its agent removes Unity's drop-in and files (when it is
/// connected; otherwise they stay until it is enabled again). Note that this blocks.
pub fn disable(ctx: &Context, actor: &Actor, host: &str) -> Result<String, DomainError> {
    let agent_id = crate::domain::hosts::parse_agent_id(host)?;
    record(ctx, &agent_id)?;
    let removed = match request_configure(ctx, &agent_id, empty_configuration()) {
        Ok(_) => "Unity's sshd drop-in and files were removed".to_owned(),
        Err(error) => format!("the host's files were not removed ({error})"),
    };
    ctx.store.ssh_ca.delete_host(&agent_id)?;
    audit::record(ctx, actor, AuditAction::SshHostDisable, agent_id.as_str())?;
    Ok(format!("SSH CA disabled for {agent_id}: {removed}."))
}

fn empty_configuration() -> ConfigureSshd {
    ConfigureSshd {
        host_certificates: Vec::new(),
        trusted_user_ca_keys: Vec::new(),
        principals: Vec::new(),
        revoked_keys: Vec::new(),
    }
}

/// One host, or every host with an empty `host`. Note that this uses blocking I/O.
pub fn status(ctx: &Context, host: &str) -> Result<SshHostView, DomainError> {
    let agent_id = crate::domain::hosts::parse_agent_id(host)?;
    Ok(view(&record(ctx, &agent_id)?))
}

/// Every host the SSH CA is enabled for. Note that this uses blocking I/O.
pub fn list(ctx: &Context) -> Result<Vec<SshHostView>, DomainError> {
    Ok(ctx.store.ssh_ca.hosts()?.iter().map(view).collect())
}

fn request_configure(
    ctx: &Context,
    agent_id: &AgentId,
    request: ConfigureSshd,
) -> Result<SshdConfigured, DomainError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(DomainError::internal)?;
    runtime
        .block_on(ctx.hub.request(agent_id, request, CONFIGURE_TIMEOUT))
        .map_err(|error| agent_error("configuring sshd", error))
}

fn agent_error(step: &str, error: crate::transport::hub::CommandError) -> DomainError {
    match error {
        crate::transport::hub::CommandError::Refused(CommandResponse::Failed { message }) => {
            DomainError::Unavailable(format!("{step}: the agent said: {message}"))
        }
        other => DomainError::Unavailable(format!("{step}: {other}")),
    }
}

/// What [`configuration`] plans: the request, the host certificates' serials and validity.
type Planned = (ConfigureSshd, Vec<u64>, Option<(u64, u64)>);

/// What to send the host: certificates for its keys (signed now), the user CA, principals.
fn configuration(
    ctx: &Context,
    actor: &Actor,
    record: &SshCaHostRecord,
) -> Result<Planned, DomainError> {
    let ca = super::ca(ctx, actor)?;
    let agent_id = &record.agent_id;
    let mut request = empty_configuration();
    let mut serials = Vec::new();
    let mut validity = None;
    if record.host_certificates {
        let runtime = tokio::runtime::Handle::try_current().map_err(DomainError::internal)?;
        let keys = runtime
            .block_on(ctx.hub.request(agent_id, ReadSshHostKeys, READ_TIMEOUT))
            .map_err(|error| agent_error("reading the host keys", error))?;
        let hostname = crate::domain::hosts::require_known(ctx, agent_id)?.hostname;
        let names = principals::host_principals(&hostname, agent_id.as_str(), &record.extra_names);
        let now = now_ms();
        let (valid_after, valid_before) = ssh::validity(
            (now / 1000) as u64,
            ctx.config.ssh_ca.host_certificate_days * 86400,
        );
        for key in keys.keys {
            let serial = ctx.store.ssh_ca.next_serial()?;
            let key_id =
                principals::host_key_id(agent_id.as_str(), &key.path, &super::rfc3339(now), serial);
            let signed = ca
                .sign(
                    key.public_key.as_str(),
                    &SshCertRequest {
                        kind: SshCertKind::Host,
                        key_id,
                        serial,
                        principals: names.clone(),
                        valid_after,
                        valid_before,
                    },
                )
                .map_err(|error| DomainError::Invalid(format!("host key {}: {error}", key.path)))?;
            let certificate = SshLine::new(signed.line)
                .map_err(|error| DomainError::Internal(error.to_string()))?;
            request.host_certificates.push(SshHostCertificate {
                host_key_path: key.path,
                certificate,
            });
            serials.push(serial);
        }
        validity = Some((valid_after, valid_before));
    }
    if record.trust_user_ca {
        let line = SshLine::new(ca.public_line())
            .map_err(|error| DomainError::Internal(error.to_string()))?;
        request.trusted_user_ca_keys.push(line);
        request.principals = principals::principals_files(&record.users, agent_id.as_str())
            .map_err(DomainError::Invalid)?;
        for key in super::revoked_keys::revoked_keys(ctx)? {
            request
                .revoked_keys
                .push(SshLine::new(key).map_err(|error| DomainError::Internal(error.to_string()))?);
        }
    }
    Ok((request, serials, validity))
}

/// Signs the host's keys and configures its sshd now; records and audits the outcome. Note
/// that this blocks (see the module's note).
pub fn configure(
    ctx: &Context,
    actor: &Actor,
    agent_id: &AgentId,
) -> Result<SshHostView, DomainError> {
    let mut current = record(ctx, agent_id)?;
    let outcome = configuration(ctx, actor, &current).and_then(|(request, serials, validity)| {
        let answer = request_configure(ctx, agent_id, request)?;
        Ok((answer, serials, validity))
    });
    let now = now_ms();
    let state = &mut current.state;
    match &outcome {
        Ok((answer, serials, validity)) => {
            state.configured_at_ms = Some(now);
            state.valid_after = validity.map(|(after, _)| after);
            state.valid_before = validity.map(|(_, before)| before);
            state.serials = serials.clone();
            state.last_error = None;
            state.last_error_at_ms = None;
            state.failures = 0;
            state.retry_at_ms = None;
            let serials: Vec<String> = serials.iter().map(u64::to_string).collect();
            audit::record(
                ctx,
                actor,
                AuditAction::SshHostConfigure,
                &format!(
                    "{agent_id} serials {} valid until {} changed {} reloaded {}",
                    if serials.is_empty() {
                        "-".into()
                    } else {
                        serials.join(",")
                    },
                    validity.map_or("-".into(), |(_, before)| super::rfc3339(
                        before as i64 * 1000
                    )),
                    answer.changed,
                    answer.reloaded
                ),
            )?;
        }
        Err(error) => {
            state.failures = state.failures.saturating_add(1);
            let wait = RETRY_MIN_MS
                .saturating_mul(1 << state.failures.min(16).saturating_sub(1))
                .min(RETRY_MAX_MS);
            state.retry_at_ms = Some(now + wait);
            state.last_error = Some(error.to_string());
            state.last_error_at_ms = Some(now);
            audit::record(
                ctx,
                actor,
                AuditAction::SshHostConfigureFailed,
                &format!("{agent_id}: {error}"),
            )?;
        }
    }
    ctx.store.ssh_ca.put_host(&current)?;
    outcome?;
    Ok(view(&current))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(state: SshHostState) -> SshCaHostRecord {
        SshCaHostRecord {
            agent_id: AgentId::new("nas").unwrap(),
            host_certificates: true,
            trust_user_ca: true,
            extra_names: Vec::new(),
            users: vec!["root".into()],
            enabled_by: "cli".into(),
            enabled_at_ms: 0,
            state,
        }
    }

    #[test]
    fn due_at_two_thirds_after_failures_wait() {
        assert!(due(&host(SshHostState::default()), 0));
        let configured = SshHostState {
            configured_at_ms: Some(0),
            valid_after: Some(0),
            valid_before: Some(30 * 86400),
            ..SshHostState::default()
        };
        assert!(!due(&host(configured.clone()), 19 * 86400 * 1000));
        assert!(due(&host(configured.clone()), 20 * 86400 * 1000));
        let failed = SshHostState {
            last_error: Some("sshd -t".into()),
            retry_at_ms: Some(5000),
            ..configured
        };
        assert!(!due(&host(failed.clone()), 4999));
        assert!(due(&host(failed), 5000));
    }
}
