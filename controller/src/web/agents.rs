//! The agents page: enrolled agents with certificate expiry and version, revoke buttons, and
//! join-token creation that shows the command to run on the new host.

use super::{badge, datetime, esc, layout, url_segment, CsrfForm, PageCaller};
use crate::admin::{self, HostView, TokenSummary, TokenView};
use crate::api::read::join_token_list;
use crate::api::write::{create_join_token, parse_ttl, revoke_agent};
use crate::api::{blocking, ApiError, ApiForm, ApiPath, AppState};
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write as _;

const TTLS: &[&str] = &["15m", "1h", "24h", "7d"];

async fn data(state: &AppState) -> Result<(Vec<HostView>, Vec<TokenSummary>), ApiError> {
    blocking(&state.ctx, |ctx| {
        Ok((admin::hosts(ctx)?, join_token_list(ctx)?))
    })
    .await
}

fn render(
    caller: &PageCaller,
    hosts: &[HostView],
    tokens: &[TokenSummary],
    new_token: Option<&TokenView>,
) -> Html<String> {
    let csrf = esc(caller.0.csrf_token());
    let mut body = String::from("<h1>Agents</h1>");
    if let Some(token) = new_token {
        let _ = write!(
            body,
            "<section class=\"card notice\"><h2>Join token {}</h2><p>Single use, valid until {}. Run this on the new host as root:</p>\
<pre id=\"join-command\">{}</pre></section>",
            esc(&token.token_id),
            datetime(token.expires_at * 1000),
            esc(&token.join_command),
        );
    }
    if caller.is_admin() {
        body.push_str("<form method=\"post\" action=\"/agents/tokens\" class=\"card inline\" id=\"create-token\">");
        let _ = write!(body, "<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><label>Valid for <select name=\"ttl\">");
        for ttl in TTLS {
            let selected = if *ttl == "1h" { " selected" } else { "" };
            let _ = write!(body, "<option{selected}>{ttl}</option>");
        }
        body.push_str("</select></label><button type=\"submit\" id=\"create-token-button\">Create join token</button></form>");
    }
    body.push_str("<h2>Enrolled</h2>");
    if hosts.is_empty() {
        body.push_str("<p class=\"muted\">No agents enrolled yet.</p>");
    } else {
        body.push_str(
            "<div class=\"table\"><table id=\"agents\"><thead><tr><th>Host</th><th>Status</th><th class=\"wide\">Version</th>\
<th>Certificate until</th><th></th></tr></thead><tbody>",
        );
        for host in hosts {
            let action = if caller.is_admin() && host.status != "revoked" {
                format!(
                    "<form method=\"post\" action=\"/agents/{}/revoke\" class=\"revoke\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button type=\"submit\" class=\"danger\">Revoke</button></form>",
                    url_segment(&host.agent_id)
                )
            } else {
                String::new()
            };
            let _ = write!(
                body,
                "<tr><td><a href=\"/hosts/{}\">{}</a><div class=\"sub\">{}</div></td><td>{}</td><td class=\"wide\">{}</td><td>{}</td><td>{action}</td></tr>",
                url_segment(&host.agent_id),
                esc(&host.hostname),
                esc(&host.agent_id),
                badge(&host.status),
                esc(&host.agent_version),
                datetime(host.certificate_not_after * 1000),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    body.push_str("<h2>Join tokens</h2>");
    if tokens.is_empty() {
        body.push_str("<p class=\"muted\">None yet.</p>");
    } else {
        body.push_str("<div class=\"table\"><table id=\"tokens\"><thead><tr><th>Token</th><th>Created</th><th>Expires</th><th>Used by</th></tr></thead><tbody>");
        for token in tokens {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&token.token_id),
                datetime(token.created_at * 1000),
                datetime(token.expires_at * 1000),
                esc(token.used_by.as_deref().unwrap_or("-")),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    layout("Agents", &caller.0, "agents", &body)
}

/// `GET /agents`.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
) -> Result<Html<String>, ApiError> {
    let (hosts, tokens) = data(&state).await?;
    Ok(render(&caller, &hosts, &tokens, None))
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    pub csrf: String,
    pub ttl: String,
}

/// `POST /agents/tokens`: creates a token and shows its join command once.
pub async fn create_token(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<TokenForm>,
) -> Result<Html<String>, ApiError> {
    caller.require_change(&form.csrf)?;
    let ttl = parse_ttl(&form.ttl)?;
    let actor = caller.0.user.clone();
    let token = blocking(&state.ctx, move |ctx| create_join_token(ctx, &actor, ttl)).await?;
    let (hosts, tokens) = data(&state).await?;
    Ok(render(&caller, &hosts, &tokens, Some(&token)))
}

/// `POST /agents/{agent_id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(agent_id): ApiPath<String>,
    ApiForm(form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    caller.require_change(&form.csrf)?;
    let actor = caller.0.user.clone();
    blocking(&state.ctx, move |ctx| revoke_agent(ctx, &actor, &agent_id)).await?;
    Ok(Redirect::to("/agents").into_response())
}
