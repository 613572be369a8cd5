//! The hosts part of the SSH CA page (`/ssh/ca`): the table of hosts the CA configures (pieces,
//! users, last configured, host certificate expiry, renewal, last error) with a Disable button
//! each for admins, the form that enables the CA for a host, and their POST handlers (CSRF
//! checked by the route guard; audited as the caller by the domain).

use super::{outcome_page, PAGE};
use crate::domain::ssh_ca::hosts::{self, EnableHost, SshHostView};
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use crate::web::format::datetime;
use crate::web::{CsrfForm, PageCaller};
use axum::extract::State;
use maud::{html, Markup};
use serde::Deserialize;

/// The hosts table; with `csrf` (admins) a Disable button per host and the enable form.
pub fn hosts_table(hosts: &[SshHostView], csrf: Option<&str>) -> Markup {
    html! {
        h2 { "Hosts" }
        @if hosts.is_empty() {
            p.muted { "No hosts yet." }
        } @else {
            div.table { table #ssh-ca-hosts {
                thead { tr {
                    th { "Host" } th { "Host certificates" } th { "User CA" } th { "Users" }
                    th { "Configured" } th { "Valid until" } th { "Renews" } th { "Last error" }
                    @if csrf.is_some() { th {} }
                } }
                tbody { @for host in hosts { tr {
                    td { (host.agent_id) }
                    td { (if host.host_certificates { "yes" } else { "no" }) }
                    td { (if host.trust_user_ca { "yes" } else { "no" }) }
                    td { (host.users.join(", ")) }
                    td { (host.configured_at_ms.map_or("never".into(), datetime)) }
                    td { (host.valid_before.map_or("-".into(), |s| datetime(s as i64 * 1000))) }
                    td { (host.renew_at.map_or("-".into(), |s| datetime(s as i64 * 1000))) }
                    td { (host.last_error.as_deref().unwrap_or("")) }
                    @if let Some(csrf) = csrf { td {
                        form method="post" action={ (PAGE) "/hosts/" (host.agent_id) "/disable" } data-confirm={ "Stop issuing host certificates for " (host.agent_id) "?" } {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Disable" }
                        }
                    } }
                } } }
            } }
        }
        @if let Some(csrf) = csrf { (enable_form(csrf)) }
    }
}

fn enable_form(csrf: &str) -> Markup {
    html! {
        form method="post" action={ (PAGE) "/hosts" } class="card" id="ssh-ca-enable" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Host (agent id) " input name="host" required; }
            label { input type="checkbox" name="host_certificates" value="on" checked; " Host certificates" }
            label { input type="checkbox" name="trust_user_ca" value="on" checked; " Trust the user CA" }
            label { "Extra host names " input name="names" placeholder="nas.home.arpa 192.168.1.20"; }
            label { "Login users with a principals file " input name="users" placeholder="root"; }
            button type="submit" { "Enable" }
        }
    }
}

/// The enable form's fields (an unchecked box is absent).
#[derive(Debug, Deserialize)]
pub struct EnableForm {
    pub host: String,
    #[serde(default)]
    pub host_certificates: Option<String>,
    #[serde(default)]
    pub trust_user_ca: Option<String>,
    #[serde(default)]
    pub names: String,
    #[serde(default)]
    pub users: String,
}

fn words(text: &str) -> Vec<String> {
    text.split([' ', ','])
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `POST /ssh/ca/hosts`: the page again, saying how it went.
pub async fn enable(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<EnableForm>,
) -> Result<Markup, ApiError> {
    let request = EnableHost {
        host: form.host.trim().to_owned(),
        host_certificates: form.host_certificates.is_some(),
        trust_user_ca: form.trust_user_ca.is_some(),
        extra_names: words(&form.names),
        users: words(&form.users),
    };
    let actor = caller.0.actor();
    let outcome = blocking(&state.ctx, move |ctx| {
        Ok::<_, ApiError>(match hosts::enable(ctx, &actor, request) {
            Ok(view) => match view.last_error {
                Some(error) => Err(format!(
                    "SSH CA enabled for {}, but not configured: {error}",
                    view.agent_id
                )),
                None => Ok(format!("SSH CA enabled for {}.", view.agent_id)),
            },
            Err(error) => Err(error.to_string()),
        })
    })
    .await?;
    outcome_page(&state, &caller, outcome).await
}

/// `POST /ssh/ca/hosts/{agent_id}/disable`: the page again, saying how it went.
pub async fn disable(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(agent_id): ApiPath<String>,
    ApiForm(_form): ApiForm<CsrfForm>,
) -> Result<Markup, ApiError> {
    let actor = caller.0.actor();
    let outcome = blocking(&state.ctx, move |ctx| {
        Ok::<_, ApiError>(hosts::disable(ctx, &actor, &agent_id).map_err(|error| error.to_string()))
    })
    .await?;
    outcome_page(&state, &caller, outcome).await
}
