//! Operator commands (tokens, agents, hosts, history queries), served to the local CLI over a
//! Unix socket in the data directory (mode 0600), or run directly on the database when the
//! daemon is not running.
//!
//! The socket speaks one JSON request line and one JSON response line per connection.

use crate::clock::now_ms;
use crate::context::Context;
use crate::health::HealthRollup;
use crate::storage::registry::TokenRecord;
use crate::storage::series::TimeRange;
use crate::transport::enroll::token_hash;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use unity_shared::proto::{error_code, AgentId};

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
pub struct TokenView {
    pub token: String,
    pub token_id: String,
    pub expires_at: i64,
    pub join_command: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenSummary {
    pub token_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub used_by: Option<String>,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AdminResponse {
    Token(TokenView),
    Tokens(Vec<TokenSummary>),
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
    ApiTokens(Vec<crate::api::read::ApiTokenView>),
    ApiTokenRevoked {
        token_id: String,
    },
}

/// Keeps the detail of internal API errors for the operator.
fn from_api<T>(result: Result<T, crate::api::ApiError>) -> anyhow::Result<T> {
    result.map_err(|error| match error {
        crate::api::ApiError::Internal(detail) => anyhow::anyhow!(detail),
        other => anyhow::anyhow!(other),
    })
}

/// Creates a join token valid for `ttl`.
pub fn create_token(ctx: &Context, ttl: Duration) -> anyhow::Result<TokenView> {
    let token_id = hex::encode(rand::random::<[u8; 4]>());
    let secret = hex::encode(rand::random::<[u8; 12]>());
    let token = format!("{token_id}.{secret}");
    let now = now_ms() / 1000;
    let expires_at = now + ttl.as_secs() as i64;
    let record = TokenRecord {
        token_id: token_id.clone(),
        created_at: now,
        expires_at,
        used_at: None,
        used_by: None,
    };
    ctx.store.registry.put_token(token_hash(&token), &record)?;
    ctx.store.flush()?;
    let join_command = format!(
        "unity-agent enroll --controller {} --token {} --ca-hash {}",
        ctx.config.advertise,
        token,
        ctx.ca.ca_hash()
    );
    Ok(TokenView {
        token,
        token_id,
        expires_at,
        join_command,
    })
}

/// Revokes an agent: recorded durably, refused at every later handshake, live link closed.
pub fn revoke(ctx: &Context, agent_id: &AgentId) -> anyhow::Result<bool> {
    let now = now_ms() / 1000;
    let updated = ctx.store.registry.update_agent(agent_id, |record| {
        record.revoked_at.get_or_insert(now);
    })?;
    if updated.is_none() {
        anyhow::bail!("no agent with id {agent_id}; see `unity-controller hosts`");
    }
    ctx.store.flush()?;
    ctx.revocations.revoke(agent_id.clone());
    Ok(ctx
        .hub
        .disconnect(agent_id, error_code::REVOKED, "certificate revoked"))
}

pub fn hosts(ctx: &Context) -> anyhow::Result<Vec<HostView>> {
    let now = now_ms();
    let stale_ms = ctx.config.stale_after.as_millis() as i64;
    let mut hosts: Vec<HostView> = ctx
        .store
        .registry
        .agents()?
        .into_iter()
        .map(|record| {
            let health = crate::health::host_rollup(&ctx.store, &record.agent_id)?;
            let live = ctx.hub.last_message_ms(&record.agent_id);
            let last_seen_ms = live.unwrap_or(record.last_seen_ms).max(record.last_seen_ms);
            let status = match (record.revoked_at, live) {
                (Some(_), _) => "revoked",
                (None, Some(last)) if now - last > stale_ms => "stale",
                (None, Some(_)) => "online",
                (None, None) => "offline",
            };
            Ok(HostView {
                agent_id: record.agent_id.to_string(),
                hostname: record.hostname,
                status: status.to_owned(),
                last_seen_ms,
                agent_version: record.agent_version,
                os: format!("{} {}", record.host.os, record.host.os_version)
                    .trim()
                    .to_owned(),
                certificate_not_after: record.certificate_not_after,
                dropped_reports: record.dropped_reports,
                health,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    hosts.sort_by(|a, b| {
        a.hostname
            .cmp(&b.hostname)
            .then(a.agent_id.cmp(&b.agent_id))
    });
    Ok(hosts)
}

/// Note that this uses blocking I/O.
pub fn handle(ctx: &Context, request: AdminRequest) -> AdminResponse {
    let result = (|| -> anyhow::Result<AdminResponse> {
        Ok(match request {
            AdminRequest::CreateToken { ttl_secs } => {
                AdminResponse::Token(create_token(ctx, Duration::from_secs(ttl_secs))?)
            }
            AdminRequest::ListTokens => AdminResponse::Tokens(
                ctx.store
                    .registry
                    .tokens()?
                    .into_iter()
                    .map(|token| TokenSummary {
                        token_id: token.token_id,
                        created_at: token.created_at,
                        expires_at: token.expires_at,
                        used_at: token.used_at,
                        used_by: token.used_by.map(|id| id.to_string()),
                    })
                    .collect(),
            ),
            AdminRequest::Hosts => AdminResponse::Hosts(hosts(ctx)?),
            AdminRequest::RevokeAgent { agent_id } => {
                let agent_id = AgentId::new(agent_id)?;
                let was_connected = revoke(ctx, &agent_id)?;
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
                if from_ms >= to_ms {
                    anyhow::bail!("empty time range: from must be before to");
                }
                let series = ctx.store.series.query(
                    &agent_id,
                    &metric,
                    &matchers,
                    TimeRange { from_ms, to_ms },
                )?;
                AdminResponse::Series(
                    series
                        .into_iter()
                        .map(|series| SeriesView {
                            metric: series.series.metric,
                            labels: series.series.labels,
                            points: series.points,
                        })
                        .collect(),
                )
            }
            AdminRequest::AddUser {
                name,
                role,
                password,
            } => {
                let role = from_api(crate::api::write::parse_role(&role))?;
                from_api(crate::api::write::create_user(
                    ctx, "cli", &name, role, &password,
                ))?;
                AdminResponse::UserAdded { name }
            }
            AdminRequest::ListUsers => AdminResponse::Users(
                ctx.store
                    .auth
                    .users()?
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
                let scope = from_api(crate::api::write::parse_scope(
                    scope.as_deref().unwrap_or("read"),
                ))?;
                let expires_in = from_api(crate::api::write::parse_token_lifetime(
                    expires_in.as_deref().unwrap_or("never"),
                ))?;
                let new = crate::api::write::NewApiToken {
                    owner: &user,
                    name: &name,
                    scope,
                    expires_in,
                };
                let (token, record) =
                    from_api(crate::api::write::create_scoped_api_token(ctx, "cli", &new))?;
                AdminResponse::ApiToken {
                    token,
                    token_id: record.token_id,
                    scope: record.scope.as_str().to_owned(),
                    expires_at_ms: record.expires_at_ms,
                }
            }
            AdminRequest::ListApiTokens => AdminResponse::ApiTokens(from_api(
                crate::api::read::api_token_views(ctx, now_ms()),
            )?),
            AdminRequest::RevokeApiToken { token_id } => {
                from_api(crate::api::write::revoke_api_token(ctx, "cli", &token_id))?;
                AdminResponse::ApiTokenRevoked { token_id }
            }
            AdminRequest::ListSeries { agent_id } => AdminResponse::Series(
                ctx.store
                    .series
                    .series(&agent_id)?
                    .into_iter()
                    .map(|key| SeriesView {
                        metric: key.metric,
                        labels: key.labels,
                        points: Vec::new(),
                    })
                    .collect(),
            ),
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
