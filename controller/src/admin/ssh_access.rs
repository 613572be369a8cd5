//! `ssh ...` requests on the admin socket (managed authorized keys): people, keys, grants,
//! host settings, status and drift, through [`crate::domain::ssh_access`] as the actor `cli`.
//! What the operator typed travels as text and is parsed here.

use super::protocol::AdminResponse;
use super::ssh_protocol::{SshAccessAnswer, SshAccessRequest};
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::error::DomainError;
use crate::domain::hosts::parse_agent_id;
use crate::domain::ssh_access::{self as ssh, apply, drift, NewGrant};
use crate::storage::ssh_access::GrantOptions;
use unity_shared::model::ssh::UnixUser;

/// Answers one request. Note that this uses blocking I/O.
pub fn handle(ctx: &Context, request: SshAccessRequest) -> Result<AdminResponse, DomainError> {
    let answer = |answer| Ok(AdminResponse::SshAccess(Box::new(answer)));
    let done = |text: String| Ok(AdminResponse::Done(text));
    match request {
        SshAccessRequest::People => answer(SshAccessAnswer::People(ssh::people(ctx)?)),
        SshAccessRequest::AddPerson { name } => answer(SshAccessAnswer::Person(ssh::add_person(
            ctx,
            &Actor::Cli,
            &name,
        )?)),
        SshAccessRequest::RemovePerson { name } => {
            ssh::remove_person(ctx, &Actor::Cli, &name)?;
            done(format!("Removed {name} with their keys and grants."))
        }
        SshAccessRequest::AddKey { person, public_key } => answer(SshAccessAnswer::Key(
            ssh::add_key(ctx, &Actor::Cli, &person, &public_key)?,
        )),
        SshAccessRequest::RemoveKey { fingerprint } => {
            ssh::remove_key(ctx, &Actor::Cli, &fingerprint)?;
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
            answer(SshAccessAnswer::Grant(ssh::add_grant(
                ctx,
                &Actor::Cli,
                new,
            )?))
        }
        SshAccessRequest::RemoveGrant { id } => {
            ssh::remove_grant(ctx, &Actor::Cli, id)?;
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
            ssh::set_host(ctx, &Actor::Cli, &agent_id, mode, on_drift)?;
            done(format!("Updated the SSH access settings of {host}."))
        }
        SshAccessRequest::Status => answer(SshAccessAnswer::Hosts(apply::status(ctx)?)),
        SshAccessRequest::Drift => answer(SshAccessAnswer::Drift(drift::list(ctx)?)),
        SshAccessRequest::Restore { host } => {
            drift::request_restore(ctx, &Actor::Cli, &parse_agent_id(&host)?)?;
            done(format!(
                "Restore requested: {host} gets Unity's keys back as soon as it is connected."
            ))
        }
        SshAccessRequest::Adopt { host, user } => {
            let user =
                UnixUser::new(user).map_err(|error| DomainError::Invalid(error.to_string()))?;
            let count = drift::request_adopt(ctx, &Actor::Cli, &parse_agent_id(&host)?, &user)?;
            done(format!(
                "Adopted {count} hand-edited lines of {user} on {host}; they stay in its managed keys."
            ))
        }
        SshAccessRequest::ClearAdopted { host, user } => {
            let user =
                UnixUser::new(user).map_err(|error| DomainError::Invalid(error.to_string()))?;
            let count = drift::clear_adopted(ctx, &Actor::Cli, &parse_agent_id(&host)?, &user)?;
            done(format!(
                "Dropped {count} adopted lines of {user} on {host}; the next apply takes them out."
            ))
        }
    }
}
