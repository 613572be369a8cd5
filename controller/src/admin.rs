//! Operator commands (tokens, agents, hosts, history queries), served to the local CLI over a
//! Unix socket in the data directory (mode 0600), or run directly on the database when the
//! daemon is not running.
//!
//! The socket speaks one JSON request line and one JSON response line per connection.

use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::api_tokens::{self, ApiTokenView, NewApiToken};
use crate::domain::error::DomainError;
use crate::domain::tokens::{self, JoinToken, JoinTokenSummary};
use crate::domain::{agents, history, hosts, users};
use crate::health::HealthRollup;
use crate::storage::series::TimeRange;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use unity_shared::proto::AgentId;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AdminRequest {
    CreateToken {
        ttl_secs: u64,
    },
    ListTokens,
    Hosts,
    RevokeAgent {
        agent_id: String,
    },
    Query {
        agent_id: String,
        metric: String,
        matchers: Vec<(String, String)>,
        from_ms: i64,
        to_ms: i64,
    },
    ListSeries {
        agent_id: String,
    },
    /// Adds a dashboard user (the password travels over the 0600 socket only).
    AddUser {
        name: String,
        role: String,
        password: String,
    },
    ListUsers,
    /// Creates an API token; `scope` defaults to `read`, `expires_in` to `never`.
    CreateApiToken {
        user: String,
        name: String,
        #[serde(default)]
        scope: Option<String>,
        #[serde(default)]
        expires_in: Option<String>,
    },
    ListApiTokens,
    RevokeApiToken {
        token_id: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserSummary {
    pub name: String,
    pub role: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostView {
    pub agent_id: String,
    pub hostname: String,
    /// `online`, `stale`, `offline` or `revoked`.
    pub status: String,
    pub last_seen_ms: i64,
    pub agent_version: String,
    pub os: String,
    pub certificate_not_after: i64,
    pub dropped_reports: u64,
    /// Disks, pools, arrays, databases and containers by verdict, from the newest state.
    pub health: HealthRollup,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeriesView {
    pub metric: String,
    pub labels: Vec<(String, String)>,
    pub points: Vec<(i64, f64)>,
}

impl From<history::RawSeries> for SeriesView {
    fn from(series: history::RawSeries) -> Self {
        SeriesView {
            metric: series.metric,
            labels: series.labels,
            points: series.points,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AdminResponse {
    Token(JoinToken),
    Tokens(Vec<JoinTokenSummary>),
    Hosts(Vec<HostView>),
    Revoked {
        agent_id: String,
        was_connected: bool,
    },
    Series(Vec<SeriesView>),
    Error(String),
    UserAdded {
        name: String,
    },
    Users(Vec<UserSummary>),
    ApiToken {
        token: String,
        token_id: String,
        scope: String,
        expires_at_ms: Option<i64>,
    },
    ApiTokens(Vec<ApiTokenView>),
    ApiTokenRevoked {
        token_id: String,
    },
}

/// The hosts as the admin socket sends them (text for the CLI and scripts). Note that this
/// uses blocking I/O.
pub fn hosts(ctx: &Context) -> Result<Vec<HostView>, DomainError> {
    Ok(hosts::list(ctx)?
        .into_iter()
        .map(|host| HostView {
            agent_id: host.agent_id.to_string(),
            hostname: host.hostname,
            status: host.status.as_str().to_owned(),
            last_seen_ms: host.last_seen_ms,
            agent_version: host.agent_version,
            os: host.os,
            certificate_not_after: host.certificate_not_after,
            dropped_reports: host.dropped_reports,
            health: host.health,
        })
        .collect())
}

/// Note that this uses blocking I/O.
pub fn handle(ctx: &Context, request: AdminRequest) -> AdminResponse {
    let result = (|| -> anyhow::Result<AdminResponse> {
        Ok(match request {
            AdminRequest::CreateToken { ttl_secs } => {
                AdminResponse::Token(tokens::issue(ctx, Duration::from_secs(ttl_secs))?)
            }
            AdminRequest::ListTokens => AdminResponse::Tokens(tokens::list(ctx)?),
            AdminRequest::Hosts => AdminResponse::Hosts(hosts(ctx)?),
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
                        role: user.role.to_owned(),
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

/// Serves the admin socket; the returned task runs until aborted.
pub async fn serve(ctx: Arc<Context>) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use std::os::unix::fs::PermissionsExt;
    let path = ctx.config.admin_socket();
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                let mut reader = BufReader::new(read.take(1 << 20));
                if reader.read_line(&mut line).await.is_err() {
                    return;
                }
                let response = match serde_json::from_str::<AdminRequest>(&line) {
                    Ok(request) => tokio::task::spawn_blocking(move || handle(&ctx, request))
                        .await
                        .unwrap_or_else(|error| AdminResponse::Error(error.to_string())),
                    Err(error) => AdminResponse::Error(format!("bad request: {error}")),
                };
                if let Ok(mut bytes) = serde_json::to_vec(&response) {
                    bytes.push(b'\n');
                    let _ = write.write_all(&bytes).await;
                }
            });
        }
    }))
}

use tokio::io::AsyncReadExt as _;

/// Sends `request` to a running daemon; `Ok(None)` when no daemon listens on the socket.
pub async fn call_daemon(
    socket: &std::path::Path,
    request: &AdminRequest,
) -> anyhow::Result<Option<AdminResponse>> {
    let stream = match tokio::net::UnixStream::connect(socket).await {
        Ok(stream) => stream,
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(error) => {
            return Err(anyhow::anyhow!(
                "connecting to {}: {error}",
                socket.display()
            ))
        }
    };
    let (read, mut write) = stream.into_split();
    let mut bytes = serde_json::to_vec(request)?;
    bytes.push(b'\n');
    write.write_all(&bytes).await?;
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    Ok(Some(serde_json::from_str(&line)?))
}
