//! The dashboard: server-rendered HTML pages (overview, host, agents, settings), the login
//! form, and the static assets (CSS, the chart and passkey scripts, uPlot) embedded in the binary.
//!
//! Pages are plain HTML that works without JavaScript except for the charts, which fetch
//! stored history from `/api/v1/hosts/{agent_id}/query` and draw it with uPlot. Every form
//! that changes something carries the session's CSRF token.
//!
//! Every page is rendered by maud (`html!`), which escapes whatever it is given: no page is
//! built from strings. Each page is a thin axum handler that gathers what it shows and a pure
//! `render` function (no I/O), so tests render pages without a server. States and kinds are
//! shown in words from `labels.rs`, never by their `Debug` names.

mod access;
mod agent_rollout;
mod agent_updates;
mod agentless;
mod agents;
mod alert_forms;
mod alerts;
mod alerts_page;
mod backups;
mod badge;
mod certificates;
mod chart_range;
mod container_logs;
mod container_page;
mod containers;
mod disk_baselines;
mod error_page;
mod evidence;
mod format;
mod host;
mod host_metrics;
#[cfg(test)]
mod injection_tests;
mod labels;
mod layout;
mod log_text;
mod login;
mod logout;
mod managed_certificates;
mod metric_names;
mod notifications;
mod oidc;
mod operations;
mod overview;
mod overview_card;
mod overview_live;
mod passkeys;
mod plugins;
mod qr;
mod second_factor;
mod secrets;
mod security;
mod services;
mod settings;
mod sparkline;
mod ssh_access;
mod ssh_ca;
mod state;
mod static_files;
mod storage_pages;
mod update_insight;
mod updates;
mod vulnerability_gate;

use crate::domain::access::{Need, Right};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::routes::{Face, Routes};
use crate::http::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::Router;
use serde::Deserialize;

/// The dashboard's routes, each with what it needs (`domain::access::Need`); the guard in
/// `http::routes` checks it (and the forms' CSRF token) before a handler runs.
pub fn routes() -> Routes {
    use Need::{AllHosts, Host, OperationHost, Public, SignedIn};
    const VIEW: Right = Right::View;
    const OPERATE: Right = Right::Operate;
    const ADMINISTER: Right = Right::Administer;
    ssh_access::routes(Routes::new(Face::Pages))
        .get("/", SignedIn, overview::page)
        .get("/events/overview", SignedIn, overview_live::events)
        .get("/alerts", SignedIn, alerts_page::page)
        .post(
            "/hosts/{agent_id}/alerts/acknowledge",
            Host(OPERATE),
            alert_forms::acknowledge,
        )
        .post(
            "/hosts/{agent_id}/alerts/unacknowledge",
            Host(OPERATE),
            alert_forms::unacknowledge,
        )
        .post("/alerts/silences", AllHosts(OPERATE), alert_forms::silence)
        .post(
            "/alerts/silences/{id}/delete",
            AllHosts(OPERATE),
            alert_forms::unsilence,
        )
        .post("/alerts/rules", AllHosts(ADMINISTER), alert_forms::put_rule)
        .post(
            "/alerts/rules/{name}/delete",
            AllHosts(ADMINISTER),
            alert_forms::delete_rule,
        )
        .get("/login", Public, login::page)
        .post("/login", Public, login::submit)
        .get("/login/oidc", Public, oidc::start)
        .get("/login/oidc/callback", Public, oidc::callback)
        .get("/login/second-factor", Public, second_factor::page)
        .post("/login/second-factor", Public, second_factor::submit)
        .post(
            "/login/second-factor/passkey/options",
            Public,
            passkeys::request_options,
        )
        .post("/login/second-factor/passkey", Public, passkeys::login)
        .post("/logout", SignedIn, logout::logout)
        .get("/hosts/{agent_id}", Host(VIEW), host::page)
        .get("/hosts/{agent_id}/metrics", Host(VIEW), host_metrics::page)
        .get(
            "/hosts/{agent_id}/disks/{drive}",
            Host(VIEW),
            storage_pages::disk_page,
        )
        .get(
            "/hosts/{agent_id}/pools/{name}",
            Host(VIEW),
            storage_pages::pool_page,
        )
        .get(
            "/hosts/{agent_id}/arrays/{name}",
            Host(VIEW),
            storage_pages::array_page,
        )
        .post(
            "/hosts/{agent_id}/labels",
            Host(ADMINISTER),
            access::set_labels,
        )
        .post(
            "/hosts/{agent_id}/containers/{name}/{verb}",
            Host(OPERATE),
            operations::submit_form,
        )
        .post(
            "/hosts/{agent_id}/disks/{drive}/baseline",
            Host(ADMINISTER),
            disk_baselines::accept,
        )
        .get(
            "/hosts/{agent_id}/containers/{name}/backups",
            Host(VIEW),
            backups::page,
        )
        .get(
            "/hosts/{agent_id}/containers/{name}",
            Host(VIEW),
            container_page::page,
        )
        .get(
            "/hosts/{agent_id}/containers/{name}/logs",
            Host(ADMINISTER),
            container_logs::page,
        )
        .get(
            "/hosts/{agent_id}/containers/{name}/logs/follow",
            Host(ADMINISTER),
            container_logs::follow,
        )
        .get("/operations/{id}", OperationHost(VIEW), operations::page)
        .get("/updates", SignedIn, updates::page)
        .get("/certificates", SignedIn, certificates::page)
        .get("/services", SignedIn, services::page)
        .post("/services", AllHosts(ADMINISTER), services::define)
        .post(
            "/services/{name}/delete",
            AllHosts(ADMINISTER),
            services::delete,
        )
        .post("/updates/check", AllHosts(OPERATE), updates::check_now)
        .get(
            "/certificates/managed",
            AllHosts(VIEW),
            managed_certificates::page,
        )
        .post(
            "/certificates/managed",
            AllHosts(ADMINISTER),
            managed_certificates::declare,
        )
        .post(
            "/certificates/managed/{name}/renew",
            AllHosts(ADMINISTER),
            managed_certificates::renew,
        )
        .post(
            "/certificates/managed/{name}/revoke",
            AllHosts(ADMINISTER),
            managed_certificates::revoke,
        )
        .post(
            "/certificates/managed/{name}/delete",
            AllHosts(ADMINISTER),
            managed_certificates::delete,
        )
        .get("/ssh/ca", SignedIn, ssh_ca::page)
        .post("/ssh/ca/sign", AllHosts(ADMINISTER), ssh_ca::sign)
        .post("/ssh/ca/hosts", AllHosts(ADMINISTER), ssh_ca::hosts::enable)
        .post(
            "/ssh/ca/hosts/{agent_id}/disable",
            AllHosts(ADMINISTER),
            ssh_ca::hosts::disable,
        )
        .post(
            "/ssh/ca/certificates/{serial}/revoke",
            AllHosts(ADMINISTER),
            ssh_ca::certificates::revoke,
        )
        .get("/agentless", AllHosts(VIEW), agentless::page)
        .post("/agentless", AllHosts(ADMINISTER), agentless::add)
        .post(
            "/agentless/{name}/confirm",
            AllHosts(ADMINISTER),
            agentless::confirm,
        )
        .post(
            "/agentless/{name}/delete",
            AllHosts(ADMINISTER),
            agentless::delete,
        )
        .get("/agents", SignedIn, agents::page)
        .post("/agents/tokens", AllHosts(ADMINISTER), agents::create_token)
        .post(
            "/agents/{agent_id}/revoke",
            Host(ADMINISTER),
            agents::revoke,
        )
        .post(
            "/agents/{agent_id}/update",
            Host(ADMINISTER),
            agent_updates::submit,
        )
        .get("/agents/rollout", AllHosts(VIEW), agent_rollout::page)
        .post(
            "/agents/rollout",
            AllHosts(ADMINISTER),
            agent_rollout::start,
        )
        .post(
            "/agents/rollout/halt",
            AllHosts(ADMINISTER),
            agent_rollout::halt,
        )
        .post(
            "/agents/rollout/resume",
            AllHosts(ADMINISTER),
            agent_rollout::resume,
        )
        .post(
            "/agents/rollout/cancel",
            AllHosts(ADMINISTER),
            agent_rollout::cancel,
        )
        .get("/secrets", AllHosts(ADMINISTER), secrets::page)
        .post("/secrets", AllHosts(ADMINISTER), secrets::set)
        .post(
            "/secrets/{name}/scope",
            AllHosts(ADMINISTER),
            secrets::set_scope,
        )
        .post(
            "/secrets/{name}/delete",
            AllHosts(ADMINISTER),
            secrets::delete,
        )
        .get("/settings", SignedIn, settings::page)
        .post(
            "/settings/users",
            AllHosts(ADMINISTER),
            settings::create_user,
        )
        .post(
            "/settings/users/{name}/delete",
            AllHosts(ADMINISTER),
            settings::delete_user,
        )
        .post(
            "/settings/users/{name}/groups",
            AllHosts(ADMINISTER),
            access::set_user_groups,
        )
        .post(
            "/settings/api-tokens",
            AllHosts(ADMINISTER),
            settings::create_api_token,
        )
        .post(
            "/settings/api-tokens/{token_id}/revoke",
            AllHosts(ADMINISTER),
            settings::revoke_api_token,
        )
        .get("/settings/access", AllHosts(VIEW), access::page)
        .post(
            "/settings/groups",
            AllHosts(ADMINISTER),
            access::create_group,
        )
        .post(
            "/settings/groups/{name}/delete",
            AllHosts(ADMINISTER),
            access::delete_group,
        )
        .post(
            "/settings/groups/{name}/rights",
            AllHosts(ADMINISTER),
            access::set_right,
        )
        .post(
            "/settings/host-groups",
            AllHosts(ADMINISTER),
            access::put_host_group,
        )
        .post(
            "/settings/host-groups/{name}/delete",
            AllHosts(ADMINISTER),
            access::delete_host_group,
        )
        .get("/settings/security", SignedIn, security::page)
        .post("/settings/security/totp", SignedIn, security::start_totp)
        .post(
            "/settings/security/totp/confirm",
            SignedIn,
            security::confirm_totp,
        )
        .post(
            "/settings/security/totp/disable",
            SignedIn,
            security::disable_totp,
        )
        .post(
            "/settings/security/recovery-codes",
            SignedIn,
            security::recovery_codes,
        )
        .post(
            "/settings/security/passkeys/options",
            SignedIn,
            passkeys::creation_options,
        )
        .post("/settings/security/passkeys", SignedIn, passkeys::add)
        .post(
            "/settings/security/passkeys/{id}/delete",
            SignedIn,
            passkeys::delete,
        )
        .get(
            "/settings/notifications",
            AllHosts(ADMINISTER),
            notifications::page,
        )
        .post(
            "/settings/notifications/test",
            AllHosts(ADMINISTER),
            notifications::send_test,
        )
        .get("/assets/{*path}", Public, static_files::asset)
        .get("/manifest.webmanifest", Public, static_files::manifest)
}

/// `router` (both faces) with the dashboard's 404 page for paths no route has, and the layer
/// that shows error responses to browsers as pages (`error_page`).
pub fn with_error_pages(router: Router<AppState>) -> Router<AppState> {
    router
        .fallback(error_page::not_found)
        .layer(axum::middleware::from_fn(error_page::layer))
}

/// The signed-in user on a page, as the route guard found them (without one the guard sent
/// the browser to the login form).
pub struct PageCaller(pub Caller);

impl FromRequestParts<AppState> for PageCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Caller::from_request_parts(parts, state)
            .await
            .map(PageCaller)
    }
}

/// The CSRF token for the forms that change something: for admins, and on a host's page for
/// those who may operate it; `None` for everyone else, who get no such forms.
pub fn admin_csrf(caller: &Caller) -> Option<&str> {
    let operates_here = caller
        .host_right
        .is_some_and(|right| right >= Right::Operate);
    (caller.is_admin() || operates_here).then(|| caller.csrf_token())
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

#[cfg(test)]
mod tests {
    /// Issue 13: pages come from maud templates only. Outside their tests, no module of the
    /// dashboard (its subfolders included) opts out of escaping, writes HTML in a string
    /// literal, answers with an HTML string, or shows a `Debug` name.
    #[test]
    fn no_page_is_built_from_strings() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
        let mut pending = vec![dir.clone()];
        let mut n_files = 0;
        let mut n_nested = 0;
        while let Some(folder) = pending.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                if path.extension().is_none_or(|ext| ext != "rs") {
                    continue;
                }
                // Test modules (`*_tests.rs`, `injection_tests/`) build pages to attack them.
                let relative = path.strip_prefix(&dir).unwrap_or(&path);
                let is_test = relative.components().any(|part| {
                    part.as_os_str()
                        .to_str()
                        .is_some_and(|name| name.ends_with("_tests") || name.ends_with("_tests.rs"))
                });
                if is_test {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("mod tests {").next().unwrap_or_default();
                for needle in ["PreEscaped", ":?}", "\"<", "Html<"] {
                    assert!(
                        !code.contains(needle),
                        "{}: `{needle}` outside the tests",
                        path.display()
                    );
                }
                n_files += 1;
                n_nested += usize::from(path.parent() != Some(dir.as_path()));
            }
        }
        assert!(
            n_files >= 10 && n_nested >= 3,
            "{n_files} files ({n_nested} in subfolders) checked in {}",
            dir.display()
        );
    }
}
