//! Issue 21: every route of both HTTP faces, enumerated from the route table the router is
//! built from (so a new route comes with its rule or does not compile), refuses a caller
//! without the right it needs and lets one with it through.
//!
//! The household: host `nas-1` labelled `role=media`; `watcher` may view media hosts,
//! `operator` may operate them, `viewer` views every host, `alloperator` operates every host,
//! `admin` administers everything, `outsider` may do nothing. For each rule the test sends
//! the request once as the best-placed caller without the right (expecting 403, or 404 for a
//! host the caller may not even see, or 401 / the login form for nobody) and once as one with
//! it (expecting the guard to let it through: anything but those refusals, and never a 500,
//! which a public route whose handler asks for the caller would give).

use crate::config::Config;
use crate::context::Context;
use crate::domain::access::{Need, Right};
use crate::domain::audit::AuditAction;
use crate::domain::sessions;
use crate::http::routes::{Face, Rule};
use crate::http::state::AppState;
use crate::storage::access::{GrantRecord, GroupRecord, HostGroupRecord};
use crate::storage::agents::AgentRecord;
use crate::storage::auth::{Role, UserRecord};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use std::sync::Arc;
use tower::ServiceExt;
use unity_shared::proto::AgentId;

/// A queued operation on `nas-1` (as `storage/golden_tests.rs` has it).
const OPERATION: &str = "ff0216303030303030303030303030312d3030303030303032056e61732d3103776562\
    07726573746172740216303030303030303030303030312d303030303030303203776562036164\
    61d00fa01f010a6e67696e783a312e3237000000000000000000";
const OPERATION_ID: &str = "0000000000001-00000002";
const HOST: &str = "nas-1";

fn household(ctx: &Context) {
    let store = &ctx.store;
    store
        .agents
        .put_agent(&AgentRecord::enrolled_for_tests(
            AgentId::new(HOST).unwrap(),
            "nas",
        ))
        .unwrap();
    store
        .access
        .set_labels(
            &AgentId::new(HOST).unwrap(),
            &[("role".into(), "media".into())],
        )
        .unwrap();
    store
        .access
        .put_host_group(&HostGroupRecord {
            name: "media".into(),
            labels: vec![("role".into(), "media".into())],
            hosts: vec![],
            created_at_ms: 0,
        })
        .unwrap();
    for (group, host_group, right) in [
        ("watchers", "media", Right::View),
        ("operators", "media", Right::Operate),
        ("alloperators", "all", Right::Operate),
    ] {
        store
            .access
            .create_group(&GroupRecord {
                name: group.into(),
                description: String::new(),
                grants: vec![GrantRecord {
                    host_group: host_group.into(),
                    right,
                }],
                created_at_ms: 0,
            })
            .unwrap();
    }
    for (name, group) in [
        ("admin", "admins"),
        ("viewer", "viewers"),
        ("watcher", "watchers"),
        ("operator", "operators"),
        ("alloperator", "alloperators"),
        ("outsider", "nothing"),
    ] {
        store
            .auth
            .create_user(&UserRecord {
                name: name.into(),
                legacy_role: Role::Viewer,
                password_hash: String::new(),
                created_at_ms: 0,
                groups: vec![group.into()],
                oidc: None,
            })
            .unwrap();
    }
    let operation = hex::decode(OPERATION).unwrap();
    ctx.store
        .operations
        .put_raw(OPERATION_ID, &operation)
        .unwrap();
}

/// Who should be refused and who let through for `need`; `None` refused: anyone signed in.
fn callers(need: Need) -> (Option<&'static str>, &'static str) {
    match need {
        Need::Public => (None, "outsider"),
        Need::SignedIn => (None, "outsider"),
        Need::Host(Right::View) | Need::OperationHost(Right::View) => (Some("outsider"), "watcher"),
        Need::Host(Right::Operate) | Need::OperationHost(Right::Operate) => {
            (Some("watcher"), "operator")
        }
        Need::Host(Right::Administer) | Need::OperationHost(Right::Administer) => {
            (Some("operator"), "admin")
        }
        Need::AllHosts(Right::View) => (Some("operator"), "viewer"),
        Need::AllHosts(Right::Operate) => (Some("viewer"), "alloperator"),
        Need::AllHosts(Right::Administer) => (Some("alloperator"), "admin"),
    }
}

fn concrete(path: &str) -> String {
    path.replace("{agent_id}", HOST)
        .replace("{id}", OPERATION_ID)
        .replace("{name}", "x")
        .replace("{verb}", "restart")
        .replace("{registry}", "registry.lan")
        .replace("{token_id}", "x")
        .replace("{host_group}", "all")
        .replace("{*path}", "app.css")
        .replace("{*rest}", "nope")
}

/// Sends `rule`'s request as `user` (a fresh session with its CSRF token), or as nobody.
async fn send(
    app: &axum::Router,
    ctx: &Context,
    rule: &Rule,
    user: Option<&str>,
) -> (StatusCode, String) {
    let method = match rule.method.as_str() {
        "GET" | "POST" | "PUT" | "DELETE" => rule.method.clone(),
        _ => axum::http::Method::GET,
    };
    let mut request = Request::builder()
        .method(method)
        .uri(concrete(rule.path))
        .header(header::HOST, "127.0.0.1")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(user) = user {
        let record = ctx.store.auth.user(user).unwrap().unwrap();
        let session =
            sessions::open_session(ctx, &record, 60_000, AuditAction::SessionLogin).unwrap();
        request = request
            .header(
                header::COOKIE,
                format!("unity_session={}", session.session_id),
            )
            .header("x-csrf-token", session.csrf_token);
    }
    let mut request = request.body(Body::from("{}")).unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(
        crate::http::client_addr::ClientAddr("127.0.0.1:1".parse().unwrap()),
    ));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    // A live stream (server-sent events) the guard let through runs until its own limit
    // (minutes): the status says enough.
    let streams = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
    let body = if streams {
        axum::body::Bytes::new()
    } else {
        axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap()
    };
    (
        status,
        format!("{location} {}", String::from_utf8_lossy(&body)),
    )
}

/// Whether the guard refused: 401, the login form, 403, or the 404 of a host not seen.
fn refused(status: StatusCode, body: &str) -> bool {
    status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || (status == StatusCode::SEE_OTHER && body.starts_with("/login "))
        || (status == StatusCode::NOT_FOUND
            && body.contains(&format!("no host with agent id {HOST}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_every_route_refuses_without_its_right_and_allows_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let ctx: Arc<Context> =
        crate::service::offline_context(Config::with_data_dir(dir.path().into()))
            .await
            .unwrap();
    household(&ctx);
    let routes = crate::api::routes(&ctx.config).merge(crate::web::routes());
    let rules: Vec<Rule> = routes.rules().to_vec();
    let state = AppState {
        ctx: ctx.clone(),
        limiter: Arc::new(crate::http::login_limit::LoginLimiter::default()),
        speaks_tls: false,
        decoy_hash: Arc::new(crate::storage::auth::hash_password("decoy").unwrap()),
    };
    let app = crate::http::server::app(routes.into_router(), state);
    assert!(rules.len() > 70, "{} rules", rules.len());
    let mut wrong = Vec::new();
    for rule in &rules {
        let what = format!(
            "{} {} ({}, {:?})",
            rule.method,
            rule.path,
            rule.need.describe(),
            rule.face
        );
        if rule.need == Need::Public {
            let (status, body) = send(&app, &ctx, rule, None).await;
            if status == StatusCode::UNAUTHORIZED
                || status == StatusCode::FORBIDDEN
                || status == StatusCode::INTERNAL_SERVER_ERROR
            {
                wrong.push(format!(
                    "{what}: nobody refused on a public route: {status} {body}"
                ));
            }
            continue;
        }
        let (denied, allowed) = callers(rule.need);
        let (status, body) = send(&app, &ctx, rule, None).await;
        let expected = match rule.face {
            Face::Api => status == StatusCode::UNAUTHORIZED,
            Face::Pages => status == StatusCode::SEE_OTHER && body.starts_with("/login "),
        };
        if !expected {
            wrong.push(format!("{what}: nobody got {status} {body}"));
        }
        if let Some(denied) = denied {
            let (status, body) = send(&app, &ctx, rule, Some(denied)).await;
            if !refused(status, &body) {
                wrong.push(format!("{what}: {denied} was let through: {status} {body}"));
            }
        }
        let (status, body) = send(&app, &ctx, rule, Some(allowed)).await;
        if refused(status, &body) || status == StatusCode::INTERNAL_SERVER_ERROR {
            wrong.push(format!("{what}: {allowed} was refused: {status} {body}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn issue_21_no_route_is_declared_twice() {
    let config = Config::with_data_dir("/nonexistent".into());
    let routes = crate::api::routes(&config).merge(crate::web::routes());
    let mut seen = std::collections::BTreeSet::new();
    for rule in routes.rules() {
        assert!(
            seen.insert((rule.method.to_string(), rule.path)),
            "{} {}",
            rule.method,
            rule.path
        );
    }
}
