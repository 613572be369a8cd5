//! Answers one admin request with the domain's functions, on behalf of the actor `cli`: the
//! operator (root on the controller's machine), who passes the same `access::check` as every
//! other face with every right. Join tokens and revocations made here are not audited (the
//! operator is at the machine); users, groups, rights, labels and API tokens are, as `cli`.

use super::protocol::{
    AdminRequest, AdminResponse, AgentlessRequest, CertificateRequest, HostView, SeriesView,
    UserSummary,
};
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::access::{self, Access, Need, Right};
use crate::domain::actor::Actor;
use crate::domain::api_tokens::{self, NewApiToken};
use crate::domain::{agents, groups, history, hosts, second_factor, tokens, users};
use crate::storage::series::TimeRange;
use std::time::Duration;
use unity_shared::proto::AgentId;

/// Answers one request; a refusal or failure becomes [`AdminResponse::Error`] with the whole
/// chain. Note that this uses blocking I/O.
pub fn handle(ctx: &Context, request: AdminRequest) -> AdminResponse {
    let result = (|| -> anyhow::Result<AdminResponse> {
        let need = match &request {
            AdminRequest::ListTokens
            | AdminRequest::Hosts
            | AdminRequest::Query { .. }
            | AdminRequest::ListSeries { .. }
            | AdminRequest::ListUsers
            | AdminRequest::ListApiTokens
            | AdminRequest::ListGroups
            | AdminRequest::ListHostGroups
            | AdminRequest::UpdateChecks { .. }
            | AdminRequest::Agentless(AgentlessRequest::List | AgentlessRequest::Show { .. })
            | AdminRequest::ManagedCertificate(
                CertificateRequest::List
                | CertificateRequest::Show { .. }
                | CertificateRequest::Root,
            ) => Need::AllHosts(Right::View),
            AdminRequest::SshCa(ssh) if ssh.reads_only() => Need::AllHosts(Right::View),
            AdminRequest::AgentBuilds(builds) if builds.reads_only() => Need::AllHosts(Right::View),
            AdminRequest::Secret(_) => Need::AllHosts(Right::Administer),
            AdminRequest::Alerts(request) => Need::AllHosts(request.right()),
            AdminRequest::SshAccess(request) if request.reads() => Need::AllHosts(Right::View),
            _ => Need::AllHosts(Right::Administer),
        };
        access::check(ctx, &Access::operator(), need, None)?;
        Ok(match request {
            AdminRequest::CreateToken { ttl_secs } => {
                AdminResponse::Token(tokens::issue(ctx, Duration::from_secs(ttl_secs))?)
            }
            AdminRequest::ListTokens => AdminResponse::Tokens(tokens::list(ctx)?),
            AdminRequest::Hosts => {
                AdminResponse::Hosts(hosts::list(ctx)?.into_iter().map(HostView::from).collect())
            }
            AdminRequest::RevokeAgent { agent_id } => {
                let agent_id = AgentId::new(agent_id)?;
                let was_connected = agents::revoke(ctx, &agent_id)?;
                AdminResponse::Revoked {
                    agent_id: agent_id.to_string(),
                    was_connected,
                }
            }
            AdminRequest::Query {
                agent_id,
                metric,
                matchers,
                from_ms,
                to_ms,
            } => {
                let agent_id = AgentId::new(agent_id)?;
                let range = TimeRange { from_ms, to_ms };
                let series = history::raw_query(ctx, &agent_id, &metric, &matchers, range)?;
                AdminResponse::Series(series.into_iter().map(SeriesView::from).collect())
            }
            AdminRequest::AddUser {
                name,
                role,
                password,
                groups,
            } => {
                let groups = match groups {
                    Some(groups) => groups,
                    None => users::role_groups(users::parse_role(&role)?),
                };
                users::create(ctx, &Actor::Cli, &name, &groups, &password)?;
                AdminResponse::UserAdded { name }
            }
            AdminRequest::ListUsers => AdminResponse::Users(
                users::list(ctx)?
                    .into_iter()
                    .map(|user| UserSummary {
                        name: user.name,
                        role: user.role.to_owned(),
                        created_at_ms: user.created_at_ms,
                        groups: user.groups,
                        second_factor: user.second_factor,
                    })
                    .collect(),
            ),
            AdminRequest::DeleteUser { name } => {
                users::delete(ctx, &Actor::Cli, &name)?;
                AdminResponse::Done(format!("Deleted user {name}."))
            }
            AdminRequest::SetUserGroups { name, groups } => {
                users::set_groups(ctx, &Actor::Cli, &name, &groups)?;
                AdminResponse::Done(format!("{name} is in: {}.", groups.join(", ")))
            }
            AdminRequest::SetPassword { name, password } => {
                users::set_password(ctx, &Actor::Cli, &name, &password)?;
                AdminResponse::Done(format!("Set the password of {name}."))
            }
            AdminRequest::ResetSecondFactor { name } => {
                second_factor::disable_totp(ctx, &Actor::Cli, &name)?;
                second_factor::passkeys::delete_all(ctx, &Actor::Cli, &name)?;
                AdminResponse::Done(format!(
                    "Turned off the authenticator app and removed the passkeys of {name}."
                ))
            }
            AdminRequest::ManagedCertificate(request) => {
                super::managed_certificates::handle(ctx, request)?
            }
            AdminRequest::SshCa(request) => {
                AdminResponse::SshCa(super::ssh_ca::handle(ctx, request)?)
            }
            AdminRequest::Agentless(request) => agentless_request(ctx, request)?,
            AdminRequest::Secret(request) => super::secrets::handle(ctx, request)?,
            AdminRequest::Alerts(request) => {
                AdminResponse::Alerts(Box::new(super::alerts::handle(ctx, request)?))
            }
            AdminRequest::Backup(request) => {
                AdminResponse::Backup(super::backup::handle(ctx, request)?)
            }
            AdminRequest::AgentBuilds(request) => {
                AdminResponse::AgentBuilds(super::agent_builds::handle(ctx, request)?)
            }
            AdminRequest::UpdateChecks { status } => {
                let filter = crate::domain::updates::parse_check_filter(status.as_deref())?;
                let checks = crate::domain::updates::checks(ctx, filter)?;
                AdminResponse::UpdateChecks(
                    checks
                        .iter()
                        .map(serde_json::to_value)
                        .collect::<Result<_, _>>()?,
                )
            }
            AdminRequest::SshAccess(request) => super::ssh_access::handle(ctx, request)?,
            AdminRequest::ListGroups => AdminResponse::Groups(groups::list(ctx)?),
            AdminRequest::CreateGroup { name, description } => {
                groups::create(ctx, &Actor::Cli, &name, &description)?;
                AdminResponse::Done(format!("Added group {name}."))
            }
            AdminRequest::DeleteGroup { name } => {
                groups::delete(ctx, &Actor::Cli, &name)?;
                AdminResponse::Done(format!("Deleted group {name}."))
            }
            AdminRequest::SetRight {
                group,
                host_group,
                right,
            } => {
                let parsed = groups::parse_right(&right)?;
                groups::set_right(ctx, &Actor::Cli, &group, &host_group, parsed)?;
                AdminResponse::Done(format!("{group} on {host_group}: {right}."))
            }
            AdminRequest::ListHostGroups => AdminResponse::HostGroups(groups::host_groups(ctx)?),
            AdminRequest::PutHostGroup {
                name,
                labels,
                hosts,
            } => {
                let labels = groups::parse_labels(&labels)?;
                let hosts = hosts
                    .into_iter()
                    .map(AgentId::new)
                    .collect::<Result<Vec<_>, _>>()?;
                groups::put_host_group(ctx, &Actor::Cli, &name, labels, hosts)?;
                AdminResponse::Done(format!("Saved host group {name}."))
            }
            AdminRequest::DeleteHostGroup { name } => {
                groups::delete_host_group(ctx, &Actor::Cli, &name)?;
                AdminResponse::Done(format!("Deleted host group {name}."))
            }
            AdminRequest::SetLabels { agent_id, labels } => {
                let agent_id = AgentId::new(agent_id)?;
                let labels = groups::parse_labels(&labels)?;
                groups::set_labels(ctx, &Actor::Cli, &agent_id, &labels)?;
                AdminResponse::Done(format!("Set the labels of {agent_id}."))
            }
            AdminRequest::CreateApiToken {
                user,
                name,
                scope,
                expires_in,
                host_group,
            } => {
                let scope = api_tokens::parse_scope(scope.as_deref().unwrap_or("read"))?;
                let expires_in =
                    api_tokens::parse_lifetime(expires_in.as_deref().unwrap_or("never"))?;
                let new = NewApiToken {
                    owner: &user,
                    name: &name,
                    scope,
                    expires_in,
                    host_group: host_group.as_deref(),
                };
                let (token, record) = api_tokens::create(ctx, &Actor::Cli, &new)?;
                AdminResponse::ApiToken {
                    token,
                    token_id: record.token_id,
                    scope: record.scope.as_str().to_owned(),
                    expires_at_ms: record.expires_at_ms,
                }
            }
            AdminRequest::ListApiTokens => {
                AdminResponse::ApiTokens(api_tokens::list(ctx, now_ms())?)
            }
            AdminRequest::RevokeApiToken { token_id } => {
                api_tokens::revoke(ctx, &Actor::Cli, &token_id)?;
                AdminResponse::ApiTokenRevoked { token_id }
            }
            AdminRequest::ListSeries { agent_id } => {
                let agent_id = AgentId::new(agent_id)?;
                let series = history::series_of(ctx, &agent_id)?;
                AdminResponse::Series(series.into_iter().map(SeriesView::from).collect())
            }
        })
    })();
    result.unwrap_or_else(|error| AdminResponse::Error(format!("{error:#}")))
}

fn agentless_request(ctx: &Context, request: AgentlessRequest) -> anyhow::Result<AdminResponse> {
    use crate::domain::agentless;
    use crate::domain::hosts::parse_agent_id;
    Ok(match request {
        AgentlessRequest::Add {
            name,
            address,
            port,
            user,
            proxy,
            collect,
            interval_secs,
            key_secret,
        } => {
            let collectors = agentless::parse_collectors(&collect)?;
            let view = agentless::add(
                ctx,
                &Actor::Cli,
                agentless::NewAgentless {
                    name,
                    address,
                    port,
                    user,
                    proxy,
                    collectors,
                    interval_secs,
                    key_secret,
                },
            )?;
            AdminResponse::Agentless(vec![view])
        }
        AgentlessRequest::List => AdminResponse::Agentless(agentless::list(ctx)?),
        AgentlessRequest::Show { name } => {
            AdminResponse::Agentless(vec![agentless::show(ctx, &parse_agent_id(&name)?)?])
        }
        AgentlessRequest::Confirm { name, fingerprint } => {
            let host = parse_agent_id(&name)?;
            let view = agentless::confirm(ctx, &Actor::Cli, &host, fingerprint.as_deref())?;
            AdminResponse::Agentless(vec![view])
        }
        AgentlessRequest::Remove { name } => {
            agentless::remove(ctx, &Actor::Cli, &parse_agent_id(&name)?)?;
            AdminResponse::Done(format!("Removed agentless host {name}."))
        }
    })
}
