//! The secrets page, for admins: every secret with its kind, version, fingerprint, scope and
//! last delivery (never a value); a form to create one or replace its value (a password
//! input, so browsers do not show or keep it); scope editing; deletion behind a confirmation
//! box. Thin handlers over [`crate::domain::secrets`]; `render` is pure.

use super::format::{datetime, url_segment};
use super::layout::{self, Frame, Nav};
use super::PageCaller;
use crate::domain::error::DomainError;
use crate::domain::secrets::{self, SecretView};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use crate::storage::secrets::SecretKind;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;
use unity_shared::model::secret::SecretValue;
use unity_shared::proto::AgentId;

fn scope_text(view: &SecretView) -> String {
    let words: Vec<String> = view
        .scope_hosts
        .iter()
        .map(|host| format!("host {host}"))
        .chain(
            view.scope_groups
                .iter()
                .map(|group| format!("group {group}")),
        )
        .collect();
    if words.is_empty() {
        "no host".to_owned()
    } else {
        words.join(", ")
    }
}

fn row(view: &SecretView, csrf: &str) -> Markup {
    let base = format!("/secrets/{}", url_segment(&view.name));
    let hosts: Vec<&str> = view.scope_hosts.iter().map(AgentId::as_str).collect();
    html! {
        tr {
            td { (view.name) div.sub { (view.kind.as_str()) " · version " (view.version) } }
            td { code { (view.fingerprint) } }
            td { (scope_text(view)) }
            td {
                @match &view.last_delivered_to {
                    Some(host) => { (datetime(view.last_delivered_ms)) div.sub { (host) } }
                    None => { "never" }
                }
            }
            td {
                form method="post" action={ (base) "/scope" } class="scope" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="text" name="hosts" value=(hosts.join(" ")) placeholder="agent ids";
                    input type="text" name="groups" value=(view.scope_groups.join(" ")) placeholder="host groups";
                    button type="submit" { "Set scope" }
                }
                form method="post" action={ (base) "/delete" } class="delete" data-confirm={ "Delete the secret " (view.name) "? Hosts using it lose it." } {
                    input type="hidden" name="csrf" value=(csrf);
                    label { input type="checkbox" name="confirm" value="yes" required; " I am sure" }
                    button type="submit" class="danger" { "Delete" }
                }
            }
        }
    }
}

/// The secrets page (pure).
pub fn render(views: &[SecretView], caller: &Caller) -> Markup {
    let csrf = caller.csrf_token();
    let content = html! {
        h1 { "Secrets" }
        p.muted {
            "Values are sealed and write-only: they are shown nowhere, only their fingerprint. "
            "An agent receives a secret only while its host is in the scope (hosts and host groups)."
        }
        form method="post" action="/secrets" class="card" id="set-secret" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Name " input type="text" name="name" required; }
            label {
                "Kind "
                select name="kind" {
                    @for kind in SecretKind::ALL { option { (kind.as_str()) } }
                }
            }
            label { "Value " input type="password" name="value" autocomplete="new-password" required; }
            button type="submit" { "Create or replace" }
        }
        @if views.is_empty() {
            p.muted { "No secrets yet." }
        } @else {
            div.table { table #secrets {
                thead { tr { th { "Secret" } th { "Fingerprint" } th { "Scope" } th { "Last delivered" } th {} } }
                tbody { @for view in views { (row(view, csrf)) } }
            } }
        }
    };
    layout::page(Frame::new("Secrets", Nav::Secrets), caller, content)
}

/// `GET /secrets`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    let views = blocking(&state.ctx, secrets::list).await?;
    Ok(render(&views, &caller.0))
}

#[derive(Deserialize)]
pub struct SetForm {
    pub name: String,
    pub kind: String,
    pub value: String,
}

/// `POST /secrets`: create a secret or replace its value.
pub async fn set(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<SetForm>,
) -> Result<Response, ApiError> {
    let name = secrets::parse_name(form.name.trim())?;
    let kind = secrets::parse_kind(&form.kind)?;
    let value = SecretValue::new(form.value);
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        secrets::set(ctx, &actor, &name, Some(kind), &value)
    })
    .await?;
    Ok(Redirect::to("/secrets").into_response())
}

#[derive(Deserialize)]
pub struct ScopeForm {
    #[serde(default)]
    pub hosts: String,
    #[serde(default)]
    pub groups: String,
}

/// `POST /secrets/{name}/scope`: hosts and groups, separated by spaces or commas.
pub async fn set_scope(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(form): ApiForm<ScopeForm>,
) -> Result<Response, ApiError> {
    let name = secrets::parse_name(&name)?;
    let words = |text: &str| -> Vec<String> {
        text.split([' ', ','])
            .filter(|word| !word.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let hosts = words(&form.hosts)
        .into_iter()
        .map(|host| AgentId::new(host).map_err(|error| DomainError::Invalid(error.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let groups = words(&form.groups);
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| {
        secrets::set_scope(ctx, &actor, &name, hosts, groups)
    })
    .await?;
    Ok(Redirect::to("/secrets").into_response())
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    pub confirm: Option<String>,
}

/// `POST /secrets/{name}/delete`, with the confirmation box ticked.
pub async fn delete(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(form): ApiForm<DeleteForm>,
) -> Result<Response, ApiError> {
    if form.confirm.as_deref() != Some("yes") {
        return Err(DomainError::Invalid("tick \"I am sure\" to delete a secret".into()).into());
    }
    let name = secrets::parse_name(&name)?;
    let actor = caller.0.actor();
    blocking(&state.ctx, move |ctx| secrets::delete(ctx, &actor, &name)).await?;
    Ok(Redirect::to("/secrets").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::auth::Role;
    use crate::web::layout::tests::caller;

    #[test]
    fn issue_16_the_page_shows_fingerprints_never_values_and_escapes_scopes() {
        let view = SecretView {
            name: "pg-monitor".into(),
            kind: SecretKind::Password,
            fingerprint: "aac0e5a8e7ffb0d667814fa6".into(),
            version: 3,
            created_at_ms: 0,
            updated_at_ms: 0,
            scope_hosts: vec![AgentId::new("nas-1").unwrap()],
            scope_groups: vec!["<script>x</script>".into()],
            last_delivered_ms: 1_700_000_000_000,
            last_delivered_to: Some(AgentId::new("nas-1").unwrap()),
        };
        let html = render(&[view], &caller(Role::Admin)).into_string();
        assert!(html.contains("aac0e5a8e7ffb0d667814fa6"), "{html}");
        assert!(html.contains("host nas-1, group &lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>x"), "{html}");
        assert!(html.contains(r#"type="password""#), "{html}");
        assert!(
            html.contains(r#"action="/secrets/pg-monitor/delete""#),
            "{html}"
        );
        assert!(html.contains("required"), "{html}");
        assert!(html.contains("csrf-token"), "{html}");
    }
}
