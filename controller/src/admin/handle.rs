//! Answers one admin request with the domain's functions, on behalf of the actor `cli`.
//! Join tokens and revocations made here are not audited (the operator is at the machine);
//! users and API tokens are, as `cli`.

use super::protocol::{AdminRequest, AdminResponse, HostView, SeriesView, UserSummary};
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::api_tokens::{self, NewApiToken};
use crate::domain::{agents, history, hosts, tokens, users};
use crate::storage::series::TimeRange;
use std::time::Duration;
use unity_shared::proto::AgentId;

/// Answers one request; a refusal or failure becomes [`AdminResponse::Error`] with the whole
/// chain. Note that this uses blocking I/O.
pub fn handle(ctx: &Context, request: AdminRequest) -> AdminResponse {
    let result = (|| -> anyhow::Result<AdminResponse> {
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
            } => {
                let role = users::parse_role(&role)?;
                users::create(ctx, "cli", &name, role, &password)?;
                AdminResponse::UserAdded { name }
            }
            AdminRequest::ListUsers => AdminResponse::Users(
                users::list(ctx)?
                    .into_iter()
                    .map(|user| UserSummary {
                        name: user.name,
                        role: user.role.as_str().to_owned(),
                        created_at_ms: user.created_at_ms,
                    })
                    .collect(),
            ),
            AdminRequest::CreateApiToken {
                user,
                name,
                scope,
                expires_in,
            } => {
                let scope = api_tokens::parse_scope(scope.as_deref().unwrap_or("read"))?;
                let expires_in =
                    api_tokens::parse_lifetime(expires_in.as_deref().unwrap_or("never"))?;
                let new = NewApiToken {
                    owner: &user,
                    name: &name,
                    scope,
                    expires_in,
                };
                let (token, record) = api_tokens::create(ctx, "cli", &new)?;
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
                api_tokens::revoke(ctx, "cli", &token_id)?;
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
