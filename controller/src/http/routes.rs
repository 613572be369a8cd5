//! The route table both HTTP faces build their routers from, and the one guard that
//! authorizes every request.
//!
//! A face adds each route with the [`Need`] it has (`routes.get(path, Need::Host(View),
//! handler)`); there is no other way to add one, so a route without a rule does not compile.
//! [`Routes::rules`] lists every route with its need, which the route tests walk. Each route
//! is wrapped in `guard`, which, before the handler runs: finds the caller (session cookie or
//! bearer token; none: 401, or the login form for pages), checks the CSRF token of a change
//! made with a cookie (the `X-CSRF-Token` header or the form's `csrf` field), finds the host
//! the request is about (the path's `agent_id`, or the host of the operation `id`), and calls
//! [`access::check`]. The handler then finds the [`Caller`] in the request's extensions.

use super::auth::{self, Caller};
use super::error::ApiError;
use super::extract::{blocking, MAX_BODY_BYTES};
use super::state::AppState;
use crate::domain::access::{self, Need};
use crate::domain::hosts::parse_agent_id;
use crate::domain::operations;
use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use unity_shared::proto::AgentId;

/// Which face a route belongs to: how a missing login is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// JSON: 401.
    Api,
    /// HTML: a redirect to the login form.
    Pages,
}

/// One route and what it needs.
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: Method,
    /// As declared, e.g. `/api/v1/hosts/{agent_id}`.
    pub path: &'static str,
    pub need: Need,
    pub face: Face,
}

/// Routes under construction, each with its rule.
pub struct Routes {
    face: Face,
    rules: Vec<Rule>,
    router: Router<AppState>,
}

impl Routes {
    pub fn new(face: Face) -> Routes {
        Routes {
            face,
            rules: Vec::new(),
            router: Router::new(),
        }
    }

    /// Adds `handler` for `method` on `path`, guarded by `need`.
    pub fn add<H, T>(mut self, method: Method, path: &'static str, need: Need, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let face = self.face;
        let filter = match method {
            Method::GET => MethodFilter::GET,
            Method::POST => MethodFilter::POST,
            Method::PUT => MethodFilter::PUT,
            Method::DELETE => MethodFilter::DELETE,
            _ => MethodFilter::GET
                .or(MethodFilter::POST)
                .or(MethodFilter::PUT)
                .or(MethodFilter::DELETE),
        };
        let route: MethodRouter<AppState> = on(filter, handler).layer(axum::middleware::from_fn(
            move |request: Request, next: Next| guard(face, need, request, next),
        ));
        self.router = self.router.route(path, route);
        self.rules.push(Rule {
            method,
            path,
            need,
            face,
        });
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        need: Need,
        handler: H,
    ) -> Routes {
        self.add(Method::GET, path, need, handler)
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        need: Need,
        handler: H,
    ) -> Routes {
        self.add(Method::POST, path, need, handler)
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        need: Need,
        handler: H,
    ) -> Routes {
        self.add(Method::PUT, path, need, handler)
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        need: Need,
        handler: H,
    ) -> Routes {
        self.add(Method::DELETE, path, need, handler)
    }

    /// Both faces' routes in one table.
    pub fn merge(mut self, other: Routes) -> Routes {
        self.rules.extend(other.rules);
        self.router = self.router.merge(other.router);
        self
    }

    /// Every route with its rule.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

/// Whether a request changes something (and so needs the CSRF token with a cookie).
fn changes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The CSRF token a request carries: the header, or else the `csrf` field of a form body
/// (which is read and put back).
async fn csrf_of(parts: &Parts, body: Body) -> Result<(Option<String>, Body), ApiError> {
    if let Some(value) = parts.headers.get(auth::CSRF_HEADER) {
        return Ok((value.to_str().ok().map(str::to_owned), body));
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, body));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::Rejected {
            status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            message: format!("bad form: larger than {MAX_BODY_BYTES} bytes"),
        })?;
    let token = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned());
    Ok((token, Body::from(bytes)))
}

/// The host a request is about, for needs on a host.
async fn host_of(
    state: &AppState,
    parts: &mut Parts,
    need: Need,
) -> Result<Option<AgentId>, ApiError> {
    let param = match need {
        Need::Host(_) => "agent_id",
        Need::OperationHost(_) => "id",
        _ => return Ok(None),
    };
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|error| ApiError::BadRequest(format!("bad path: {error}")))?;
    let value = params
        .iter()
        .find(|(name, _)| *name == param)
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| ApiError::Internal(format!("route rule needs {{{param}}} in its path")))?;
    match need {
        Need::OperationHost(_) => {
            let agent_id =
                blocking(&state.ctx, move |ctx| operations::host_of(ctx, &value)).await?;
            Ok(Some(agent_id))
        }
        _ => Ok(Some(parse_agent_id(&value)?)),
    }
}

/// Authorizes one request for `need`; on success the request carries its [`Caller`].
async fn authorize(face: Face, need: Need, request: Request) -> Result<Request, ApiError> {
    if need == Need::Public {
        return Ok(request);
    }
    let state = request
        .extensions()
        .get::<AppState>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("no AppState in the request".into()))?;
    let (mut parts, mut body) = request.into_parts();
    let mut caller = auth::authenticate(&state, &parts.headers)
        .await?
        .ok_or(match face {
            Face::Api => ApiError::Unauthorized,
            Face::Pages => ApiError::LoginPage,
        })?;
    if changes(&parts.method) && caller.is_session() {
        let (provided, same_body) = csrf_of(&parts, body).await?;
        body = same_body;
        caller.require_csrf(provided.as_deref())?;
    }
    let host = host_of(&state, &mut parts, need).await?;
    let access = caller.access.clone();
    let checked = host.clone();
    caller.host_right = blocking(&state.ctx, move |ctx| {
        access::check(ctx, &access, need, checked.as_ref())
    })
    .await?;
    caller.host = host;
    parts.extensions.insert(caller);
    Ok(Request::from_parts(parts, body))
}

/// The middleware around every route (see the module's documentation).
async fn guard(face: Face, need: Need, request: Request, next: Next) -> Response {
    match authorize(face, need, request).await {
        Ok(request) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::Internal("a public route's handler asked for the caller".into())
        })
    }
}
