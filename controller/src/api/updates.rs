//! Container updates over the API: the newest check of every container (any user), "check
//! now", update-policy overrides per host and per container, and registry credentials
//! (admins only, CSRF-checked, audited). Credentials are write-only: no endpoint returns a
//! secret, and they are stored sealed (see `updates::credentials`).

use super::auth::{Admin, Caller};
use super::read::parse_agent_id;
use super::write::audit;
use super::{blocking, ApiError, ApiJson, ApiPath, AppState};
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::containers::{CheckOutcome, PolicyOverride, PolicyScope, UpdateCheckRecord};
use crate::storage::credentials::CredentialRecord;
use crate::updates::credentials::{CredentialKey, Credentials};
use crate::updates::policy::PolicyLayer;
use crate::updates::reference::normalize_registry;
use crate::updates::watch::RunSummary;
use crate::updates::window::WindowSet;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatesQuery {
    /// `update` (default: only containers with an update), `error`, or `all`.
    pub status: Option<String>,
}

/// `GET /api/v1/updates?status=update|error|all`.
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    super::ApiQuery(query): super::ApiQuery<UpdatesQuery>,
) -> Result<Json<Vec<UpdateCheckRecord>>, ApiError> {
    let wanted = query.status.unwrap_or_else(|| "update".to_owned());
    if !["update", "error", "all"].contains(&wanted.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "bad status {wanted:?}: expected update, error or all"
        )));
    }
    blocking(&state.ctx, move |ctx| {
        let records = ctx.store.containers.all_checks()?;
        Ok(records
            .into_iter()
            .filter(|record| {
                matches!(
                    (&record.outcome, wanted.as_str()),
                    (_, "all")
                        | (CheckOutcome::Update(_), "update")
                        | (CheckOutcome::Error { .. }, "error")
                )
            })
            .collect())
    })
    .await
    .map(Json)
}

/// `POST /api/v1/updates/check`: checks every container now and waits for the result.
pub async fn check_now(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> Result<Json<RunSummary>, ApiError> {
    blocking(&state.ctx, move |ctx| {
        audit(ctx, &caller.user, "updates.check", "all")
    })
    .await?;
    crate::updates::watch::run(&state.ctx, Duration::ZERO, true)
        .await
        .map(Json)
        .map_err(|error| ApiError::Internal(format!("update check failed: {error:#}")))
}

/// An override's settings as JSON: `{"mode": "notify", "level": "patch", "pin": "true"}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    pub settings: BTreeMap<String, String>,
}

fn validated(settings: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, ApiError> {
    let mut layer = PolicyLayer::default();
    for (key, value) in settings {
        if key.starts_with("unity.update.") {
            return Err(ApiError::BadRequest(format!(
                "{key}: use the bare key ({}) in a policy setting",
                key.trim_start_matches("unity.update.")
            )));
        }
        layer
            .set(key, value)
            .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    }
    Ok(settings
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect())
}

fn put_policy(
    ctx: &Context,
    actor: &str,
    scope: PolicyScope,
    body: &PolicyBody,
) -> Result<PolicyBody, ApiError> {
    let agent_id = match &scope {
        PolicyScope::Host { agent_id }
        | PolicyScope::Container { agent_id, .. }
        | PolicyScope::HostWindows { agent_id } => agent_id,
    };
    let agent_id = parse_agent_id(agent_id)?;
    if ctx.store.registry.agent(&agent_id)?.is_none() {
        return Err(ApiError::NotFound(format!(
            "no host with agent id {agent_id}"
        )));
    }
    let (settings, action, target) = match &scope {
        PolicyScope::Host { agent_id } => (
            validated(&body.settings)?,
            "update_policy.set",
            agent_id.clone(),
        ),
        PolicyScope::Container {
            agent_id,
            container,
        } => (
            validated(&body.settings)?,
            "update_policy.set",
            format!("{agent_id}/{container}"),
        ),
        PolicyScope::HostWindows { agent_id } => {
            let texts: Vec<&String> = body.settings.values().collect();
            WindowSet::parse_all(&texts)
                .map_err(|error| ApiError::BadRequest(error.to_string()))?;
            (
                body.settings
                    .values()
                    .map(|text| ("window".to_owned(), text.clone()))
                    .collect(),
                "maintenance_windows.set",
                agent_id.clone(),
            )
        }
    };
    ctx.store
        .containers
        .put_policy(&PolicyOverride { scope, settings })?;
    audit(ctx, actor, action, &target)?;
    Ok(PolicyBody {
        settings: body.settings.clone(),
    })
}

fn get_policy(ctx: &Context, scope: &PolicyScope) -> Result<PolicyBody, ApiError> {
    let settings = ctx
        .store
        .containers
        .policy(scope)?
        .map(|policy| policy.settings.into_iter().collect())
        .unwrap_or_default();
    Ok(PolicyBody { settings })
}

/// `GET /api/v1/hosts/{agent_id}/update-policy`.
pub async fn host_policy(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<PolicyBody>, ApiError> {
    let scope = PolicyScope::Host { agent_id };
    blocking(&state.ctx, move |ctx| get_policy(ctx, &scope))
        .await
        .map(Json)
}

/// `PUT /api/v1/hosts/{agent_id}/update-policy`; empty settings remove the override.
pub async fn set_host_policy(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(agent_id): ApiPath<String>,
    ApiJson(body): ApiJson<PolicyBody>,
) -> Result<Json<PolicyBody>, ApiError> {
    let scope = PolicyScope::Host { agent_id };
    blocking(&state.ctx, move |ctx| {
        put_policy(ctx, &caller.user, scope, &body)
    })
    .await
    .map(Json)
}

/// `GET /api/v1/hosts/{agent_id}/containers/{name}/update-policy`.
pub async fn container_policy(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath((agent_id, container)): ApiPath<(String, String)>,
) -> Result<Json<PolicyBody>, ApiError> {
    let scope = PolicyScope::Container {
        agent_id,
        container,
    };
    blocking(&state.ctx, move |ctx| get_policy(ctx, &scope))
        .await
        .map(Json)
}

/// `PUT /api/v1/hosts/{agent_id}/containers/{name}/update-policy`.
pub async fn set_container_policy(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath((agent_id, container)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<PolicyBody>,
) -> Result<Json<PolicyBody>, ApiError> {
    let scope = PolicyScope::Container {
        agent_id,
        container,
    };
    blocking(&state.ctx, move |ctx| {
        put_policy(ctx, &caller.user, scope, &body)
    })
    .await
    .map(Json)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsBody {
    /// E.g. `["Sat 02:00-05:00 Europe/Berlin", "cron: 0 3 * * 1 duration 1h tz UTC"]`;
    /// empty: the host follows its group's or the controller's windows.
    pub windows: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct WindowsView {
    /// The host's own windows (empty when it follows its group's or the controller's).
    pub windows: Vec<String>,
    /// The windows in effect and where they come from (`host`, `group NAME`, `controller`).
    pub effective: Vec<String>,
    pub source: String,
    /// `always` (no windows), `open`, or `closed`.
    pub state: String,
    /// When the current window ends or the next one starts, for people.
    pub next: Option<String>,
}

/// `GET /api/v1/hosts/{agent_id}/maintenance-windows`.
pub async fn host_windows(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<WindowsView>, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    blocking(&state.ctx, move |ctx| {
        let Some(agent) = ctx.store.registry.agent(&agent_id)? else {
            return Err(ApiError::NotFound(format!(
                "no host with agent id {agent_id}"
            )));
        };
        let own = crate::updates::auto::host_window_texts(ctx, agent_id.as_str())?;
        let (effective, source) =
            crate::updates::auto::windows_for(ctx, agent_id.as_str(), &agent.hostname)?;
        let (state, next) = crate::updates::auto::describe(&effective, jiff::Timestamp::now());
        Ok(WindowsView {
            windows: own,
            effective: effective
                .windows()
                .iter()
                .map(|w| w.text().to_owned())
                .collect(),
            source,
            state,
            next,
        })
    })
    .await
    .map(Json)
}

/// `PUT /api/v1/hosts/{agent_id}/maintenance-windows`.
pub async fn set_host_windows(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(agent_id): ApiPath<String>,
    ApiJson(body): ApiJson<WindowsBody>,
) -> Result<StatusCode, ApiError> {
    let scope = PolicyScope::HostWindows { agent_id };
    let settings = body
        .windows
        .iter()
        .enumerate()
        .map(|(index, text)| (format!("{index:04}"), text.clone()))
        .collect();
    blocking(&state.ctx, move |ctx| {
        put_policy(ctx, &caller.user, scope, &PolicyBody { settings })
    })
    .await
    .map(|_| StatusCode::NO_CONTENT)
}

/// A registry's stored credentials, without the secret.
#[derive(Debug, Serialize)]
pub struct RegistryView {
    pub registry: String,
    pub username: Option<String>,
    pub plain_http: bool,
    pub updated_at_ms: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryBody {
    pub username: String,
    /// The password or access token; never returned or logged.
    pub secret: String,
    #[serde(default)]
    pub plain_http: bool,
}

/// `GET /api/v1/registries` (admins): registries with stored credentials.
pub async fn registries(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<RegistryView>>, ApiError> {
    caller.require_admin()?;
    blocking(&state.ctx, |ctx| {
        let key = CredentialKey::open_or_create(&ctx.config.data_dir)
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        let records = ctx.store.credentials.list()?;
        Ok(records
            .into_iter()
            .map(|record| RegistryView {
                username: key
                    .open(&record.registry, &record.sealed)
                    .ok()
                    .map(|credentials| credentials.username),
                registry: record.registry,
                plain_http: record.plain_http,
                updated_at_ms: record.updated_at_ms,
            })
            .collect())
    })
    .await
    .map(Json)
}

/// `PUT /api/v1/registries/{registry}`: stores (replaces) a registry's credentials, sealed.
pub async fn set_registry(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(registry): ApiPath<String>,
    ApiJson(body): ApiJson<RegistryBody>,
) -> Result<StatusCode, ApiError> {
    let registry = normalize_registry(&registry);
    if registry.is_empty() || registry.contains('/') {
        return Err(ApiError::BadRequest(format!(
            "bad registry {registry:?}: expected host[:port], e.g. ghcr.io"
        )));
    }
    if body.username.is_empty() || body.secret.is_empty() {
        return Err(ApiError::BadRequest(
            "username and secret are required".into(),
        ));
    }
    blocking(&state.ctx, move |ctx| {
        let key = CredentialKey::open_or_create(&ctx.config.data_dir)
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        let credentials = Credentials {
            username: body.username,
            secret: body.secret,
        };
        let sealed = key
            .seal(&registry, &credentials)
            .map_err(|error| ApiError::Internal(error.to_string()))?;
        ctx.store.credentials.put(&CredentialRecord {
            registry: registry.clone(),
            sealed,
            plain_http: body.plain_http,
            updated_at_ms: now_ms(),
        })?;
        audit(ctx, &caller.user, "registry_credentials.set", &registry)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// `DELETE /api/v1/registries/{registry}`.
pub async fn delete_registry(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(registry): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let registry = normalize_registry(&registry);
    blocking(&state.ctx, move |ctx| {
        if !ctx.store.credentials.remove(&registry)? {
            return Err(ApiError::NotFound(format!(
                "no credentials stored for {registry}"
            )));
        }
        audit(ctx, &caller.user, "registry_credentials.delete", &registry)?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}
