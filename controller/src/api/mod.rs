//! The REST API (`/api/v1/...`, JSON) and `/metrics`: a face over [`crate::domain`], served
//! with the dashboard pages by [`crate::http::server`] on `api_listen`.
//!
//! The API is split by intent: [`read`] (GET), [`write`](mod@write) (changes, audited) and
//! [`execute`] (commands sent to agents); [`session`] logs in and out, [`account`] manages
//! one's own second factors, [`access`] groups, host groups and labels. Every route is declared
//! in [`routes`] with what it needs (`domain::access::Need`); the one guard in `http::routes`
//! checks it before the handler runs. Each handler parses its request, calls the domain off
//! the async threads and answers JSON; every error becomes a response in one place,
//! `http::error::ApiError`'s `IntoResponse`.

pub mod access;
pub mod account;
pub mod agent_rollouts;
pub mod agent_update_view;
pub mod agent_updates;
pub mod agentless;
pub mod alert_lifecycle;
#[cfg(test)]
mod alert_lifecycle_tests;
pub mod alerts;
pub mod backups;
pub mod certificates;
pub mod disk_baselines;
pub mod execute;
pub mod host_state;
pub mod managed_certificates;
pub mod metrics;
pub mod openapi;
pub mod operation_view;
pub mod operations;
pub mod read;
pub mod secrets;
pub mod services;
pub mod session;
pub mod ssh_access;
pub mod ssh_ca;
pub mod updates;
pub mod write;

use crate::config::Config;
use crate::domain::access::{Need, Right};
use crate::http::error::ApiError;
use crate::http::routes::{Face, Routes};
use axum::http::Method;

const VIEW: Right = Right::View;
const OPERATE: Right = Right::Operate;
const ADMINISTER: Right = Right::Administer;

async fn no_such_endpoint() -> ApiError {
    ApiError::NotFound("no such API endpoint; see /api/v1/openapi.json".into())
}

/// The REST API's routes (`/api/v1/...` and `/metrics`), each with what it needs. Warns when
/// `/metrics` is readable without a token beyond this machine.
pub fn routes(config: &Config) -> Routes {
    if metrics::open_beyond_loopback(config) {
        tracing::warn!(
            api_listen = %config.api_listen,
            "/metrics is readable without a token by anyone who can reach api_listen; set metrics_token to require one."
        );
    }
    use Need::{AllHosts, Host, OperationHost, Public, SignedIn};
    ssh_access::routes(Routes::new(Face::Api))
        .post("/api/v1/login", Public, session::login)
        .post(
            "/api/v1/login/second-factor",
            Public,
            session::second_factor,
        )
        .post("/api/v1/logout", SignedIn, session::logout)
        .get("/api/v1/session", SignedIn, session::session)
        .get("/api/v1/openapi.json", SignedIn, openapi::document)
        .get("/api/v1/alerts", SignedIn, alerts::alerts)
        .post(
            "/api/v1/hosts/{agent_id}/alerts/acknowledge",
            Host(OPERATE),
            alert_lifecycle::acknowledge,
        )
        .post(
            "/api/v1/hosts/{agent_id}/alerts/unacknowledge",
            Host(OPERATE),
            alert_lifecycle::unacknowledge,
        )
        .get(
            "/api/v1/alerts/silences",
            AllHosts(VIEW),
            alert_lifecycle::silences,
        )
        .post(
            "/api/v1/alerts/silences",
            AllHosts(OPERATE),
            alert_lifecycle::create_silence,
        )
        .delete(
            "/api/v1/alerts/silences/{id}",
            AllHosts(OPERATE),
            alert_lifecycle::delete_silence,
        )
        .get(
            "/api/v1/alerts/rules",
            AllHosts(VIEW),
            alert_lifecycle::rules,
        )
        .put(
            "/api/v1/alerts/rules/{name}",
            AllHosts(ADMINISTER),
            alert_lifecycle::put_rule,
        )
        .delete(
            "/api/v1/alerts/rules/{name}",
            AllHosts(ADMINISTER),
            alert_lifecycle::delete_rule,
        )
        .get("/api/v1/certificates", SignedIn, certificates::list)
        .get("/api/v1/services", SignedIn, services::list)
        .put(
            "/api/v1/services/{name}",
            AllHosts(ADMINISTER),
            services::set,
        )
        .delete(
            "/api/v1/services/{name}",
            AllHosts(ADMINISTER),
            services::delete,
        )
        .get("/api/v1/hosts", SignedIn, read::hosts)
        .get("/api/v1/hosts/{agent_id}", Host(VIEW), read::host)
        .get("/api/v1/hosts/{agent_id}/series", Host(VIEW), read::series)
        .get("/api/v1/hosts/{agent_id}/query", Host(VIEW), read::query)
        .get(
            "/api/v1/hosts/{agent_id}/storage",
            Host(VIEW),
            host_state::storage,
        )
        .get(
            "/api/v1/hosts/{agent_id}/databases",
            Host(VIEW),
            host_state::databases,
        )
        .get(
            "/api/v1/hosts/{agent_id}/containers",
            Host(VIEW),
            host_state::containers,
        )
        .get(
            "/api/v1/hosts/{agent_id}/plugins",
            Host(VIEW),
            host_state::plugins,
        )
        .get(
            "/api/v1/hosts/{agent_id}/labels",
            Host(VIEW),
            access::labels,
        )
        .put(
            "/api/v1/hosts/{agent_id}/labels",
            Host(ADMINISTER),
            access::set_labels,
        )
        .get(
            "/api/v1/hosts/{agent_id}/maintenance-windows",
            Host(VIEW),
            updates::host_windows,
        )
        .put(
            "/api/v1/hosts/{agent_id}/maintenance-windows",
            Host(ADMINISTER),
            updates::set_host_windows,
        )
        .get(
            "/api/v1/hosts/{agent_id}/update-policy",
            Host(VIEW),
            updates::host_policy,
        )
        .put(
            "/api/v1/hosts/{agent_id}/update-policy",
            Host(ADMINISTER),
            updates::set_host_policy,
        )
        .get(
            "/api/v1/hosts/{agent_id}/containers/{name}/update-policy",
            Host(VIEW),
            updates::container_policy,
        )
        .put(
            "/api/v1/hosts/{agent_id}/containers/{name}/update-policy",
            Host(ADMINISTER),
            updates::set_container_policy,
        )
        .post(
            "/api/v1/hosts/{agent_id}/containers/{name}/{verb}",
            Host(OPERATE),
            operations::operate,
        )
        .get(
            "/api/v1/hosts/{agent_id}/containers/{name}/backups",
            Host(VIEW),
            backups::list,
        )
        .get(
            "/api/v1/hosts/{agent_id}/containers/{name}/backups/diff",
            Host(VIEW),
            backups::diff_handler,
        )
        .post(
            "/api/v1/hosts/{agent_id}/revoke",
            Host(ADMINISTER),
            write::revoke_agent_handler,
        )
        .post(
            "/api/v1/hosts/{agent_id}/ping",
            Host(OPERATE),
            execute::ping,
        )
        .post(
            "/api/v1/hosts/{agent_id}/collect",
            Host(OPERATE),
            execute::collect_now,
        )
        .post(
            "/api/v1/hosts/{agent_id}/agent-update",
            Host(ADMINISTER),
            agent_updates::update,
        )
        .get(
            "/api/v1/agent-rollout",
            AllHosts(VIEW),
            agent_rollouts::current,
        )
        .post(
            "/api/v1/agent-rollout",
            AllHosts(ADMINISTER),
            agent_rollouts::start,
        )
        .post(
            "/api/v1/agent-rollout/halt",
            AllHosts(ADMINISTER),
            agent_rollouts::halt,
        )
        .post(
            "/api/v1/agent-rollout/resume",
            AllHosts(ADMINISTER),
            agent_rollouts::resume,
        )
        .post(
            "/api/v1/agent-rollout/cancel",
            AllHosts(ADMINISTER),
            agent_rollouts::cancel,
        )
        .get("/api/v1/operations", SignedIn, operations::list)
        .get(
            "/api/v1/operations/{id}",
            OperationHost(VIEW),
            operations::get,
        )
        .get("/api/v1/updates", SignedIn, updates::list)
        .post(
            "/api/v1/updates/check",
            AllHosts(OPERATE),
            updates::check_now,
        )
        .get(
            "/api/v1/registries",
            AllHosts(ADMINISTER),
            updates::registries,
        )
        .put(
            "/api/v1/registries/{registry}",
            AllHosts(ADMINISTER),
            updates::set_registry,
        )
        .delete(
            "/api/v1/registries/{registry}",
            AllHosts(ADMINISTER),
            updates::delete_registry,
        )
        .get("/api/v1/secrets", AllHosts(ADMINISTER), secrets::list)
        .post(
            "/api/v1/secrets/rotate-key",
            AllHosts(ADMINISTER),
            secrets::rotate_key,
        )
        .get(
            "/api/v1/secrets/{name}",
            AllHosts(ADMINISTER),
            secrets::show,
        )
        .put("/api/v1/secrets/{name}", AllHosts(ADMINISTER), secrets::set)
        .delete(
            "/api/v1/secrets/{name}",
            AllHosts(ADMINISTER),
            secrets::delete,
        )
        .put(
            "/api/v1/secrets/{name}/scope",
            AllHosts(ADMINISTER),
            secrets::set_scope,
        )
        .get(
            "/api/v1/managed-certificates",
            AllHosts(VIEW),
            managed_certificates::list,
        )
        .post(
            "/api/v1/managed-certificates",
            AllHosts(ADMINISTER),
            managed_certificates::declare,
        )
        .get(
            "/api/v1/managed-certificates/{name}",
            AllHosts(VIEW),
            managed_certificates::show,
        )
        .delete(
            "/api/v1/managed-certificates/{name}",
            AllHosts(ADMINISTER),
            managed_certificates::delete,
        )
        .post(
            "/api/v1/managed-certificates/{name}/renew",
            AllHosts(ADMINISTER),
            managed_certificates::renew,
        )
        .post(
            "/api/v1/managed-certificates/{name}/revoke",
            AllHosts(ADMINISTER),
            managed_certificates::revoke,
        )
        .get("/api/v1/agentless", AllHosts(VIEW), agentless::list)
        .post("/api/v1/agentless", AllHosts(ADMINISTER), agentless::add)
        .get("/api/v1/agentless/{name}", AllHosts(VIEW), agentless::show)
        .delete(
            "/api/v1/agentless/{name}",
            AllHosts(ADMINISTER),
            agentless::remove,
        )
        .post(
            "/api/v1/agentless/{name}/confirm",
            AllHosts(ADMINISTER),
            agentless::confirm,
        )
        .get("/api/v1/services-ca", SignedIn, managed_certificates::root)
        .get(
            "/api/v1/services-ca/root.pem",
            SignedIn,
            managed_certificates::root_pem,
        )
        .get(
            "/api/v1/services-ca/root.der",
            SignedIn,
            managed_certificates::root_der,
        )
        .get("/api/v1/services-ca/crl", Public, managed_certificates::crl)
        .get("/api/v1/ssh/ca", SignedIn, ssh_ca::show)
        .post("/api/v1/ssh/sign", AllHosts(ADMINISTER), ssh_ca::sign)
        .get("/api/v1/ssh/ca/hosts", AllHosts(VIEW), ssh_ca::hosts)
        .post(
            "/api/v1/ssh/ca/hosts",
            AllHosts(ADMINISTER),
            ssh_ca::enable_host,
        )
        .delete(
            "/api/v1/ssh/ca/hosts/{agent_id}",
            AllHosts(ADMINISTER),
            ssh_ca::disable_host,
        )
        .get(
            "/api/v1/ssh/certificates",
            AllHosts(VIEW),
            ssh_ca::certificates,
        )
        .get(
            "/api/v1/ssh/revocations",
            AllHosts(VIEW),
            ssh_ca::revocations,
        )
        .post(
            "/api/v1/ssh/revocations",
            AllHosts(ADMINISTER),
            ssh_ca::revoke,
        )
        .get("/api/v1/join-tokens", AllHosts(VIEW), read::join_tokens)
        .post(
            "/api/v1/join-tokens",
            AllHosts(ADMINISTER),
            write::create_join_token_handler,
        )
        .get("/api/v1/users", AllHosts(VIEW), read::users)
        .post(
            "/api/v1/users",
            AllHosts(ADMINISTER),
            write::create_user_handler,
        )
        .delete(
            "/api/v1/users/{name}",
            AllHosts(ADMINISTER),
            write::delete_user_handler,
        )
        .put(
            "/api/v1/users/{name}/groups",
            AllHosts(ADMINISTER),
            access::set_user_groups,
        )
        .get("/api/v1/groups", AllHosts(VIEW), access::groups)
        .post("/api/v1/groups", AllHosts(ADMINISTER), access::create_group)
        .delete(
            "/api/v1/groups/{name}",
            AllHosts(ADMINISTER),
            access::delete_group,
        )
        .put(
            "/api/v1/groups/{name}/rights/{host_group}",
            AllHosts(ADMINISTER),
            access::set_right,
        )
        .get("/api/v1/host-groups", AllHosts(VIEW), access::host_groups)
        .put(
            "/api/v1/host-groups/{name}",
            AllHosts(ADMINISTER),
            access::put_host_group,
        )
        .delete(
            "/api/v1/host-groups/{name}",
            AllHosts(ADMINISTER),
            access::delete_host_group,
        )
        .get("/api/v1/api-tokens", SignedIn, read::api_tokens)
        .post(
            "/api/v1/api-tokens",
            AllHosts(ADMINISTER),
            write::create_api_token_handler,
        )
        .delete(
            "/api/v1/api-tokens/{token_id}",
            AllHosts(ADMINISTER),
            write::delete_api_token_handler,
        )
        .get("/api/v1/audit", AllHosts(ADMINISTER), read::audit)
        .post("/api/v1/account/totp", SignedIn, account::start_totp)
        .post(
            "/api/v1/account/totp/confirm",
            SignedIn,
            account::confirm_totp,
        )
        .delete("/api/v1/account/totp", SignedIn, account::disable_totp)
        .post(
            "/api/v1/account/recovery-codes",
            SignedIn,
            account::recovery_codes,
        )
        .get(
            "/api/v1/hosts/{agent_id}/disks/baselines",
            Host(VIEW),
            disk_baselines::list,
        )
        .post(
            "/api/v1/hosts/{agent_id}/disks/{drive}/baseline",
            Host(ADMINISTER),
            disk_baselines::accept,
        )
        .get("/metrics", Public, metrics::metrics)
        .add(
            Method::from_bytes(b"ANY").unwrap_or(Method::GET),
            "/api/v1/{*rest}",
            Public,
            no_such_endpoint,
        )
}

#[cfg(test)]
mod tests;
