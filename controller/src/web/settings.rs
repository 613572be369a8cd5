//! The settings page: users and roles (admins add and delete users) and API tokens (shown
//! once when created).

use super::{datetime, esc, layout, url_segment, CsrfForm, PageCaller};
use crate::api::read::{api_token_list, user_list, ApiTokenView, UserView};
use crate::api::write::{
    create_api_token as create_token_op, create_user as create_user_op,
    delete_user as delete_user_op, parse_role, random_password,
};
use crate::api::{blocking, ApiError, ApiForm, ApiPath, AppState};
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write as _;

async fn data(
    state: &AppState,
    caller: &PageCaller,
) -> Result<(Vec<UserView>, Vec<ApiTokenView>), ApiError> {
    let caller = caller.0.clone();
    blocking(&state.ctx, move |ctx| {
        Ok((user_list(ctx)?, api_token_list(ctx, &caller)?))
    })
    .await
}

fn render(
    caller: &PageCaller,
    users: &[UserView],
    tokens: &[ApiTokenView],
    notice: Option<String>,
) -> Html<String> {
    let csrf = esc(caller.0.csrf_token());
    let mut body = String::from("<h1>Settings</h1>");
    if let Some(notice) = notice {
        let _ = write!(
            body,
            "<section class=\"card notice\" id=\"notice\">{notice}</section>"
        );
    }
    body.push_str("<h2>Users</h2><div class=\"table\"><table id=\"users\"><thead><tr><th>User</th><th>Role</th><th>Created</th><th></th></tr></thead><tbody>");
    for user in users {
        let action = if caller.is_admin() && user.name != caller.0.user {
            format!(
                "<form method=\"post\" action=\"/settings/users/{}/delete\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<button type=\"submit\" class=\"danger\">Delete</button></form>",
                url_segment(&user.name)
            )
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
            esc(&user.name),
            user.role,
            datetime(user.created_at_ms)
        );
    }
    body.push_str("</tbody></table></div>");
    if caller.is_admin() {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/settings/users\" class=\"card\" id=\"add-user\"><h3>Add a user</h3>\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><label>Name <input name=\"name\" required></label>\
<label>Role <select name=\"role\"><option>viewer</option><option>admin</option></select></label>\
<label>Password <input name=\"password\" type=\"password\" placeholder=\"empty: generate one\"></label>\
<button type=\"submit\">Add user</button></form>"
        );
    }
    body.push_str("<h2>API tokens</h2><p class=\"sub\">Send as <code>Authorization: Bearer &lt;token&gt;</code>.</p>");
    if !tokens.is_empty() {
        body.push_str("<div class=\"table\"><table id=\"api-tokens\"><thead><tr><th>Id</th><th>Name</th><th>User</th><th>Created</th></tr></thead><tbody>");
        for token in tokens {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&token.token_id),
                esc(&token.name),
                esc(&token.owner),
                datetime(token.created_at_ms)
            );
        }
        body.push_str("</tbody></table></div>");
    }
    if caller.is_admin() {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/settings/api-tokens\" class=\"card inline\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
<label>Name <input name=\"name\" required placeholder=\"grafana\"></label><button type=\"submit\">Create API token</button></form>"
        );
    }
    layout("Settings", &caller.0, "settings", &body)
}

/// `GET /settings`.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
) -> Result<Html<String>, ApiError> {
    let (users, tokens) = data(&state, &caller).await?;
    Ok(render(&caller, &users, &tokens, None))
}

#[derive(Debug, Deserialize)]
pub struct UserForm {
    pub csrf: String,
    pub name: String,
    pub role: String,
    pub password: String,
}

/// `POST /settings/users`.
pub async fn create_user(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<UserForm>,
) -> Result<Html<String>, ApiError> {
    caller.require_change(&form.csrf)?;
    let role = parse_role(&form.role)?;
    let generated = form.password.is_empty().then(random_password);
    let password = generated.clone().unwrap_or(form.password);
    let (actor, name) = (caller.0.user.clone(), form.name.clone());
    blocking(&state.ctx, move |ctx| {
        create_user_op(ctx, &actor, &name, role, &password)
    })
    .await?;
    let notice = match generated {
        Some(password) => format!(
            "Added {} ({}). Password, shown once: <code id=\"new-password\">{}</code>",
            esc(&form.name),
            role.as_str(),
            esc(&password)
        ),
        None => format!("Added {} ({}).", esc(&form.name), role.as_str()),
    };
    let (users, tokens) = data(&state, &caller).await?;
    Ok(render(&caller, &users, &tokens, Some(notice)))
}

/// `POST /settings/users/{name}/delete`.
pub async fn delete_user(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(name): ApiPath<String>,
    ApiForm(form): ApiForm<CsrfForm>,
) -> Result<Response, ApiError> {
    caller.require_change(&form.csrf)?;
    let actor = caller.0.user.clone();
    blocking(&state.ctx, move |ctx| delete_user_op(ctx, &actor, &name)).await?;
    Ok(Redirect::to("/settings").into_response())
}

#[derive(Debug, Deserialize)]
pub struct ApiTokenForm {
    pub csrf: String,
    pub name: String,
}

/// `POST /settings/api-tokens`: creates a token for the caller and shows it once.
pub async fn create_api_token(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<ApiTokenForm>,
) -> Result<Html<String>, ApiError> {
    caller.require_change(&form.csrf)?;
    let actor = caller.0.user.clone();
    let (token, _) = blocking(&state.ctx, move |ctx| {
        create_token_op(ctx, &actor, &actor, &form.name)
    })
    .await?;
    let notice = format!(
        "New API token, shown once: <code id=\"new-api-token\">{}</code>",
        esc(&token)
    );
    let (users, tokens) = data(&state, &caller).await?;
    Ok(render(&caller, &users, &tokens, Some(notice)))
}
