//! The updates page: every container with an available update (current and candidate tag and
//! digest, the semver jump, image age, first seen, the policy mode and whether it is held back),
//! the containers whose check failed with the reason, "check now" and "update now" buttons
//! for admins, and the history of container operations.

use super::containers::update_cell;
use super::operations::{button, history_table};
use super::{ago, datetime, esc, layout, url_segment, CsrfForm, PageCaller};
use crate::admin::{self, HostView};
use crate::api::write::audit;
use crate::api::{blocking, ApiError, ApiForm, AppState};
use crate::service::now_ms;
use crate::storage::containers::{CheckOutcome, UpdateCheckRecord};
use crate::storage::operations::OperationRecord;
use crate::updates::auto;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

fn host_name<'a>(hosts: &'a [HostView], agent_id: &'a str) -> &'a str {
    hosts
        .iter()
        .find(|host| host.agent_id == agent_id)
        .map_or(agent_id, |host| host.hostname.as_str())
}

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.get(..12).unwrap_or(hex)
}

fn window_cell(window: Option<&(String, Option<String>)>) -> String {
    match window {
        None => "–".to_owned(),
        Some((state, next)) => format!(
            "<span data-window=\"{}\">{}</span>{}",
            esc(state),
            esc(state),
            next.as_deref()
                .map(|next| format!("<div class=\"sub\">{}</div>", esc(next)))
                .unwrap_or_default()
        ),
    }
}

/// The page body (pure).
pub fn render_body(
    records: &[UpdateCheckRecord],
    hosts: &[HostView],
    operations: &[OperationRecord],
    windows: &BTreeMap<String, (String, Option<String>)>,
    csrf: Option<&str>,
    now: i64,
) -> String {
    let mut body = String::from("<h1>Updates</h1>");
    if let Some(csrf) = csrf {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/updates/check\" class=\"card inline\" id=\"check-updates\">\
<input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Check all containers now</button></form>",
            esc(csrf)
        );
    }
    let updates: Vec<_> = records
        .iter()
        .filter_map(|record| match &record.outcome {
            CheckOutcome::Update(update) => Some((record, update)),
            _ => None,
        })
        .collect();
    body.push_str("<h2>Available</h2>");
    if updates.is_empty() {
        body.push_str("<p class=\"muted\" id=\"no-updates\">Every checked container runs the newest image its policy allows.</p>");
    } else {
        body.push_str(
            "<div class=\"table\"><table id=\"updates\"><thead><tr><th>Host / container</th><th>Image</th>\
<th>Current</th><th>Candidate</th><th>Change</th><th>Image age</th><th>First seen</th><th>Policy</th><th>Window</th><th></th></tr></thead><tbody>",
        );
        for (record, update) in updates {
            let age = update
                .candidate_created_ms
                .map_or_else(|| "–".to_owned(), |created| ago(created, now));
            let policy = match &update.held_back {
                Some(reason) => format!("{} · held back: {}", esc(&update.mode), esc(reason)),
                None => esc(&update.mode),
            };
            let _ = write!(
                body,
                "<tr data-container=\"{}\"><td><a href=\"/hosts/{}#section-containers\">{}</a> / {}</td><td>{}</td>\
<td>{} <span class=\"sub\">{}</span></td><td>{} <span class=\"sub\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&record.container),
                url_segment(&record.agent_id),
                esc(host_name(hosts, &record.agent_id)),
                esc(&record.container),
                esc(&record.image),
                esc(update.current_tag.as_deref().unwrap_or("–")),
                esc(short(update.current_digest.as_deref().unwrap_or(""))),
                esc(&update.candidate_tag),
                esc(short(&update.candidate_digest)),
                esc(&update.kind),
                age,
                datetime(update.first_seen_ms),
                policy,
                window_cell(windows.get(&record.agent_id)),
                csrf.map(|csrf| button(&record.agent_id, &record.container, "update", "Update now", csrf))
                    .unwrap_or_default(),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    let failed: Vec<&UpdateCheckRecord> = records
        .iter()
        .filter(|record| matches!(record.outcome, CheckOutcome::Error { .. }))
        .collect();
    if !failed.is_empty() {
        body.push_str("<h2>Checks that failed</h2><div class=\"table\"><table id=\"update-errors\"><thead><tr><th>Host / container</th><th>Image</th><th>Error</th><th>Checked</th></tr></thead><tbody>");
        for record in failed {
            let _ = write!(
                body,
                "<tr><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(host_name(hosts, &record.agent_id)),
                esc(&record.container),
                esc(&record.image),
                update_cell(Some(record)),
                ago(record.checked_at_ms, now),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    body.push_str("<h2>History</h2>");
    body.push_str(&history_table(operations, now));
    let n_checked = records.len();
    let _ = write!(
        body,
        "<p class=\"muted\">{n_checked} containers checked. Policies: <code>unity.update.*</code> labels, per host and per container through the API; see docs/updates.md.</p>"
    );
    body
}

/// `GET /updates`.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
) -> Result<Html<String>, ApiError> {
    let (records, hosts, operations, windows) = blocking(&state.ctx, |ctx| {
        let hosts = admin::hosts(ctx)?;
        let now = jiff::Timestamp::now();
        let mut windows = BTreeMap::new();
        for host in &hosts {
            let (set, _) = auto::windows_for(ctx, &host.agent_id, &host.hostname)?;
            windows.insert(host.agent_id.clone(), auto::describe(&set, now));
        }
        Ok((
            ctx.store.containers.all_checks()?,
            hosts,
            ctx.store.operations.recent(None, 50)?,
            windows,
        ))
    })
    .await?;
    let csrf = caller.is_admin().then(|| caller.0.csrf_token().to_owned());
    let body = render_body(
        &records,
        &hosts,
        &operations,
        &windows,
        csrf.as_deref(),
        now_ms(),
    );
    Ok(layout("Updates", &caller.0, "updates", &body))
}

/// `POST /updates/check`: checks now, then shows the page.
pub async fn check_now(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    caller.require_change(&form.csrf)?;
    let actor = caller.0.user.clone();
    blocking(&state.ctx, move |ctx| {
        audit(ctx, &actor, "updates.check", "all")
    })
    .await?;
    state
        .ctx
        .update_watch
        .run(&state.ctx, Duration::ZERO, true)
        .await
        .map_err(|error| ApiError::Internal(format!("update check failed: {error:#}")))?;
    Ok(Redirect::to("/updates").into_response())
}
