//! Issue 18: the lifecycle endpoints through the real router (route guard, CSRF, JSON
//! extractors, the one error mapping) with hostile input: bad ids, huge notes, unknown
//! fields, markup in notes (kept as text in JSON, escaped on the Alerts page).

use crate::config::Config;
use crate::context::Context;
use crate::domain::audit::AuditAction;
use crate::domain::sessions;
use crate::http::state::AppState;
use crate::storage::agents::AgentRecord;
use crate::storage::alerts::{AlertRecord, Severity};
use crate::storage::auth::{Role, UserRecord};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use std::sync::Arc;
use tower::ServiceExt;
use unity_shared::proto::AgentId;

async fn send(
    app: &axum::Router,
    ctx: &Context,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, String) {
    let record = ctx.store.auth.user("admin").unwrap().unwrap();
    let session = sessions::open_session(ctx, &record, 60_000, AuditAction::SessionLogin).unwrap();
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "127.0.0.1")
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            header::COOKIE,
            format!("unity_session={}", session.session_id),
        )
        .header("x-csrf-token", session.csrf_token)
        .body(Body::from(body.to_owned()))
        .unwrap();
    request.extensions_mut().insert(axum::extract::ConnectInfo(
        crate::http::client_addr::ClientAddr("127.0.0.1:1".parse().unwrap()),
    ));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_hostile_input_on_the_lifecycle_api() {
    let dir = tempfile::tempdir().unwrap();
    let ctx: Arc<Context> =
        crate::service::offline_context(Config::with_data_dir(dir.path().into()))
            .await
            .unwrap();
    let nas = AgentId::new("nas").unwrap();
    ctx.store
        .agents
        .put_agent(&AgentRecord::enrolled_for_tests(nas.clone(), "nas"))
        .unwrap();
    ctx.store
        .auth
        .create_user(&UserRecord {
            name: "admin".into(),
            legacy_role: Role::Viewer,
            password_hash: String::new(),
            created_at_ms: 0,
            groups: vec!["admins".into()],
            oidc: None,
        })
        .unwrap();
    ctx.store
        .alerts
        .put_open(&AlertRecord {
            key: "pool/nas/tank".into(),
            agent_id: nas,
            severity: Severity::Critical,
            summary: "tank DEGRADED".into(),
            details: vec![],
            opened_at_ms: 10,
            last_seen_ms: 10,
            resolved_at_ms: None,
        })
        .unwrap();
    let routes = crate::api::routes(&ctx.config).merge(crate::web::routes());
    let state = AppState {
        ctx: ctx.clone(),
        limiter: Arc::new(crate::http::login_limit::LoginLimiter::default()),
        speaks_tls: false,
        decoy_hash: Arc::new(crate::storage::auth::hash_password("decoy").unwrap()),
    };
    let app = crate::http::server::app(routes.into_router(), state);
    let ack = "/api/v1/hosts/nas/alerts/acknowledge";
    let huge = format!(r#"{{"key":"pool/nas/tank","note":"{}"}}"#, "x".repeat(5000));
    for (method, uri, body, status, says) in [
        (
            "POST",
            ack,
            r#"{"key":"pool/nas/none"}"#,
            404,
            "no open alert",
        ),
        (
            "POST",
            "/api/v1/hosts/..%2Fx/alerts/acknowledge",
            r#"{"key":"k"}"#,
            400,
            "",
        ),
        ("POST", ack, huge.as_str(), 400, "too long"),
        (
            "POST",
            ack,
            r#"{"key":"pool/nas/tank","colour":"red"}"#,
            422,
            "colour",
        ),
        ("POST", ack, "not json", 400, ""),
        (
            "DELETE",
            "/api/v1/alerts/silences/abc",
            "",
            400,
            "bad silence id",
        ),
        (
            "DELETE",
            "/api/v1/alerts/silences/99",
            "",
            404,
            "no silence",
        ),
        (
            "POST",
            "/api/v1/alerts/silences",
            r#"{"duration":"1h"}"#,
            400,
            "needs a host",
        ),
        (
            "PUT",
            "/api/v1/alerts/rules/hot",
            r#"{"metric":"m","above":1,"for":"soon"}"#,
            400,
            "bad for",
        ),
        (
            "DELETE",
            "/api/v1/alerts/rules/none",
            "",
            404,
            "no stored rule",
        ),
        ("GET", "/api/v1/alerts?state=bogus", "", 400, "bad state"),
        ("GET", "/api/v1/alerts?limit=0", "", 400, "bad limit"),
        ("GET", "/alerts?within=1y", "", 400, "bad time range"),
    ] {
        let (got, text) = send(&app, &ctx, method, uri, body).await;
        assert_eq!(got.as_u16(), status, "{method} {uri}: {text}");
        assert!(text.contains(says), "{method} {uri}: {text}");
    }
    let markup = r#"{"key":"pool/nas/tank","note":"<script>alert(1)</script>"}"#;
    let (status, text) = send(&app, &ctx, "POST", ack, markup).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["note"], "<script>alert(1)</script>");
    assert_eq!(answer["by"], "admin");
    let (_, list) = send(&app, &ctx, "GET", "/api/v1/alerts?state=acknowledged", "").await;
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["state"], "acknowledged");
    assert_eq!(list[0]["acknowledged"]["note"], "<script>alert(1)</script>");
    let (status, page) = send(&app, &ctx, "GET", "/alerts?q=tank", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let silence = r#"{"host":"nas","comment":"<b>moving</b>","duration":"2h"}"#;
    let (status, text) = send(&app, &ctx, "POST", "/api/v1/alerts/silences", silence).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"].clone();
    let (_, list) = send(&app, &ctx, "GET", "/api/v1/alerts?state=silenced", "").await;
    assert!(list.contains("pool/nas/tank"), "{list}");
    let (status, _) = send(
        &app,
        &ctx,
        "DELETE",
        &format!("/api/v1/alerts/silences/{id}"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let rule = r#"{"metric":"cpu_usage_ratio","above":0.9,"for":"10m","groups":["nas"]}"#;
    let (status, text) = send(&app, &ctx, "PUT", "/api/v1/alerts/rules/nas_cpu", rule).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("\"for_seconds\":600"), "{text}");
}
