//! `ssh ...` requests on the admin socket (managed authorized keys): people, keys, grants,
//! host settings, status and drift, through [`crate::domain::ssh_access`] as the actor `cli`.
//! What the operator typed travels as text and is parsed here.

use super::protocol::AdminResponse;
use crate::context::Context;
use crate::domain::error::DomainError;
use crate::domain::hosts::parse_agent_id;
use crate::domain::ssh_access::views::{DriftView, HostAccessView};
use crate::domain::ssh_access::{
    self as ssh, apply, drift, GrantView, KeyView, NewGrant, PersonView,
};
use crate::storage::ssh_access::GrantOptions;
use serde::{Deserialize, Serialize};
use unity_shared::model::ssh::UnixUser;

/// `unity-controller ssh ...` (managed keys) as sent to the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SshAccessRequest {
    People,
    AddPerson {
        name: String,
    },
    RemovePerson {
        name: String,
    },
    AddKey {
        person: String,
        public_key: String,
    },
    RemoveKey {
        fingerprint: String,
    },
    Grants,
    AddGrant(Box<GrantRequest>),
    RemoveGrant {
        id: u64,
    },
    SetHost {
        host: String,
        mode: Option<String>,
        on_drift: Option<String>,
    },
    Status,
    Drift,
    Restore {
        host: String,
    },
    Adopt {
        host: String,
        user: String,
    },
}

impl SshAccessRequest {
    /// Whether it only reads (a viewer's right suffices).
    pub fn reads(&self) -> bool {
        matches!(
            self,
            SshAccessRequest::People
                | SshAccessRequest::Grants
                | SshAccessRequest::Status
                | SshAccessRequest::Drift
        )
    }
}

/// A new grant as typed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GrantRequest {
    pub person: String,
    pub key: Option<String>,
    pub users: Vec<String>,
    pub host: Option<String>,
    pub group: Option<String>,
    pub expires_in: Option<String>,
    pub from: Vec<String>,
    pub command: Option<String>,
    pub no_port_forwarding: bool,
    pub no_agent_forwarding: bool,
    pub no_pty: bool,
}

/// The answers to [`SshAccessRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SshAccessAnswer {
    People(Vec<PersonView>),
    Person(PersonView),
    Key(KeyView),
    Grants(Vec<GrantView>),
    Grant(GrantView),
    Hosts(Vec<HostAccessView>),
    Drift(Vec<DriftView>),
}

/// Answers one request. Note that this uses blocking I/O.
pub fn handle(ctx: &Context, request: SshAccessRequest) -> Result<AdminResponse, DomainError> {
    let answer = |answer| Ok(AdminResponse::SshAccess(Box::new(answer)));
    let done = |text: String| Ok(AdminResponse::Done(text));
    match request {
        SshAccessRequest::People => answer(SshAccessAnswer::People(ssh::people(ctx)?)),
        SshAccessRequest::AddPerson { name } => {
            answer(SshAccessAnswer::Person(ssh::add_person(ctx, "cli", &name)?))
        }
        SshAccessRequest::RemovePerson { name } => {
            ssh::remove_person(ctx, "cli", &name)?;
            done(format!("Removed {name} with their keys and grants."))
        }
        SshAccessRequest::AddKey { person, public_key } => answer(SshAccessAnswer::Key(
            ssh::add_key(ctx, "cli", &person, &public_key)?,
        )),
        SshAccessRequest::RemoveKey { fingerprint } => {
            ssh::remove_key(ctx, "cli", &fingerprint)?;
            done(format!("Removed key {fingerprint}."))
        }
        SshAccessRequest::Grants => answer(SshAccessAnswer::Grants(ssh::grants(ctx)?)),
        SshAccessRequest::AddGrant(grant) => {
            let grant = *grant;
            let new = NewGrant {
                person: grant.person,
                key: grant.key,
                users: grant.users,
                host: grant.host,
                group: grant.group,
                expires_in: grant.expires_in,
                options: GrantOptions {
                    from: grant.from,
                    command: grant.command,
                    no_port_forwarding: grant.no_port_forwarding,
                    no_agent_forwarding: grant.no_agent_forwarding,
                    no_pty: grant.no_pty,
                },
            };
            answer(SshAccessAnswer::Grant(ssh::add_grant(ctx, "cli", new)?))
        }
        SshAccessRequest::RemoveGrant { id } => {
            ssh::remove_grant(ctx, "cli", id)?;
            done(format!(
                "Removed grant {id}; its keys leave the hosts within one reconcile."
            ))
        }
        SshAccessRequest::SetHost {
            host,
            mode,
            on_drift,
        } => {
            let agent_id = parse_agent_id(&host)?;
            let mode = mode.as_deref().map(ssh::parse_mode).transpose()?;
            let on_drift = on_drift
                .as_deref()
                .map(ssh::parse_drift_action)
                .transpose()?;
            ssh::set_host(ctx, "cli", &agent_id, mode, on_drift)?;
            done(format!("Updated the SSH access settings of {host}."))
        }
        SshAccessRequest::Status => answer(SshAccessAnswer::Hosts(apply::status(ctx)?)),
        SshAccessRequest::Drift => answer(SshAccessAnswer::Drift(drift::list(ctx)?)),
        SshAccessRequest::Restore { host } => {
            drift::request_restore(ctx, "cli", &parse_agent_id(&host)?)?;
            done(format!(
                "Restore requested: {host} gets Unity's keys back as soon as it is connected."
            ))
        }
        SshAccessRequest::Adopt { host, user } => {
            let user =
                UnixUser::new(user).map_err(|error| DomainError::Invalid(error.to_string()))?;
            let count = drift::request_adopt(ctx, "cli", &parse_agent_id(&host)?, &user)?;
            done(format!(
                "Adopted {count} hand-edited lines of {user} on {host}; they stay in its managed keys."
            ))
        }
    }
}
