//! Issue 13, "Tokens": an API token has a scope (`read` by default, or `admin`, never more than
//! its user's role) and an optional expiry; expired tokens are refused with a clear message and
//! listed as expired; tokens are revoked from the API and the CLI; every change is audited.

use serde_json::json;
use unity_controller::admin::AdminRequest;
use unity_controller::admin::AdminResponse;
use unity_controller::storage::auth::{secret_hash, ApiTokenRecord, TokenScope};
use unity_tests::http::HttpClient;
use unity_tests::*;

fn bearer(controller: &unity_controller::service::RunningController, token: &str) -> HttpClient {
    let mut client = HttpClient::new(controller.api_addr);
    client.bearer = Some(token.to_owned());
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_api_tokens_have_a_scope_and_an_expiry() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let password = add_user(&controller, "ada", "admin").await;
    add_user(&controller, "vic", "viewer").await;
    let mut admin = logged_in_client(&controller, "ada", &password).await;

    // Least privilege by default: read scope, no expiry.
    let created = admin
        .post_json("/api/v1/api-tokens", &json!({ "name": "backup" }))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    assert_eq!(created["scope"], "read");
    assert_eq!(created["expires_at_ms"], serde_json::Value::Null);
    let mut reader = bearer(&controller, created["token"].as_str().unwrap());
    assert_eq!(reader.get("/api/v1/hosts").await.status, 200);
    check_error(
        &reader.post_json("/api/v1/join-tokens", &json!({})).await,
        403,
        "read scope",
    );
    assert_eq!(reader.get("/api/v1/session").await.json()["role"], "viewer");

    // Admin scope with an expiry.
    let before_ms = unity_controller::clock::now_ms();
    let created = admin
        .post_json(
            "/api/v1/api-tokens",
            &json!({ "name": "deploy", "scope": "admin", "expires_in": "30d" }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    assert_eq!(created["scope"], "admin");
    let expires_at_ms = created["expires_at_ms"].as_i64().unwrap();
    let thirty_days_ms = 30 * 86_400_000;
    assert!(
        (before_ms + thirty_days_ms..before_ms + thirty_days_ms + 60_000).contains(&expires_at_ms),
        "{expires_at_ms}"
    );
    let deploy_id = created["token_id"].as_str().unwrap().to_owned();
    let mut deployer = bearer(&controller, created["token"].as_str().unwrap());
    assert_eq!(
        deployer
            .post_json("/api/v1/join-tokens", &json!({}))
            .await
            .status,
        201
    );

    // Never more than the user's role; bad values are clear 400s.
    check_error(
        &admin
            .post_json(
                "/api/v1/api-tokens",
                &json!({ "name": "x", "user": "vic", "scope": "admin" }),
            )
            .await,
        400,
        "viewer",
    );
    check_error(
        &admin
            .post_json(
                "/api/v1/api-tokens",
                &json!({ "name": "x", "scope": "root" }),
            )
            .await,
        400,
        "bad scope",
    );
    check_error(
        &admin
            .post_json(
                "/api/v1/api-tokens",
                &json!({ "name": "x", "expires_in": "soon" }),
            )
            .await,
        400,
        "bad token expiry",
    );

    // An expired token is refused with a clear message and listed as expired.
    let expired_secret = "unity_expired-token-for-tests";
    let context = controller.context.clone();
    tokio::task::spawn_blocking(move || {
        let now = unity_controller::clock::now_ms();
        let record = ApiTokenRecord {
            token_id: "0ld0ld0ld0ld".into(),
            owner: "ada".into(),
            name: "old".into(),
            created_at_ms: now - 100_000,
            scope: TokenScope::Admin,
            expires_at_ms: Some(now - 1_000),
            last_used_ms: None,
            host_group: None,
        };
        context
            .store
            .auth
            .put_api_token(secret_hash(expired_secret), &record)
            .unwrap();
    })
    .await
    .unwrap();
    check_error(
        &bearer(&controller, expired_secret)
            .get("/api/v1/hosts")
            .await,
        401,
        "expired",
    );
    let list = admin.get("/api/v1/api-tokens").await.json();
    let find = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|token| token["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {list}"))
            .clone()
    };
    assert_eq!(find("old")["expired"], true);
    assert_eq!(find("deploy")["expired"], false);
    assert_eq!(find("deploy")["expires_at_ms"], expires_at_ms);
    assert_eq!(find("backup")["scope"], "read");
    assert!(find("backup")["last_used_ms"].as_i64().unwrap() >= before_ms - 60_000);
    assert_eq!(find("old")["last_used_ms"], serde_json::Value::Null);

    // Revoked from the API: refused from then on; both changes audited.
    assert_eq!(
        admin
            .delete(&format!("/api/v1/api-tokens/{deploy_id}"))
            .await
            .status,
        204
    );
    assert_eq!(deployer.get("/api/v1/hosts").await.status, 401);
    let audit = admin.get("/api/v1/audit").await.json();
    let entries: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|record| format!("{} {}", record["action"], record["target"]))
        .collect();
    assert!(
        entries
            .iter()
            .any(|entry| entry.contains("api_token.create")
                && entry.contains("deploy")
                && entry.contains("admin")
                && entry.contains("expires")),
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .any(|entry| entry.contains("api_token.revoke") && entry.contains(&deploy_id)),
        "{entries:?}"
    );
    controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_the_cli_creates_lists_and_revokes_scoped_tokens() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    add_user(&controller, "ada", "admin").await;
    let request = AdminRequest::CreateApiToken {
        user: "ada".into(),
        name: "backup".into(),
        scope: Some("admin".into()),
        expires_in: Some("1d".into()),
        host_group: None,
    };
    let AdminResponse::ApiToken {
        token,
        token_id,
        scope,
        expires_at_ms,
    } = admin_request(&controller, request).await
    else {
        panic!("expected a token")
    };
    assert_eq!(scope, "admin");
    assert!(expires_at_ms.is_some());
    let mut client = bearer(&controller, &token);
    assert_eq!(client.get("/api/v1/hosts").await.status, 200);

    let AdminResponse::ApiTokens(tokens) =
        admin_request(&controller, AdminRequest::ListApiTokens).await
    else {
        panic!("expected tokens")
    };
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        (
            tokens[0].token_id.as_str(),
            tokens[0].scope.as_str(),
            tokens[0].expired
        ),
        (token_id.as_str(), "admin", false)
    );
    assert!(tokens[0].last_used_ms.is_some(), "{tokens:?}");

    let revoke = AdminRequest::RevokeApiToken {
        token_id: token_id.clone(),
    };
    assert!(matches!(
        admin_request(&controller, revoke.clone()).await,
        AdminResponse::ApiTokenRevoked { .. }
    ));
    assert_eq!(client.get("/api/v1/hosts").await.status, 401);
    let AdminResponse::Error(message) = admin_request(&controller, revoke).await else {
        panic!("revoking twice is an error")
    };
    assert!(message.contains("no API token"), "{message}");
    controller.shutdown().await.unwrap();
}
