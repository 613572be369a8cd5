//! Issue 5: the REST API over real HTTP against an in-process controller. Authentication is
//! required on every documented route, roles and CSRF are enforced, bad input gets a clear
//! 4xx, logins are limited, logout ends the session, bearer tokens work, and HTTPS with the
//! controller's own CA works. `/metrics` is in `api_metrics.rs`.

use serde_json::json;
use std::time::Duration;
use unity_controller::config::{ApiTls, Secret};
use unity_tests::http::HttpClient;
use unity_tests::*;

pub(crate) const METRICS_TOKEN: &str = "metrics-secret-for-tests";

pub(crate) async fn controller_with_admin(
    dir: &std::path::Path,
) -> (unity_controller::service::RunningController, String) {
    controller_with_admin_config(controller_config(&dir.join("controller"))).await
}

/// A controller started from `config` with the metrics token and an admin, "ada".
pub(crate) async fn controller_with_admin_config(
    mut config: unity_controller::config::Config,
) -> (unity_controller::service::RunningController, String) {
    init_logging();
    config.metrics_token = Some(Secret(METRICS_TOKEN.into()));
    let controller = start_controller(config).await;
    let password = add_user(&controller, "ada", "admin").await;
    (controller, password)
}

fn concrete(path: &str) -> String {
    path.replace("{agent_id}", "agent-1")
        .replace("{name}", "someone")
        .replace("{token_id}", "abc")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_requires_authentication() {
    let dir = tempfile::tempdir().unwrap();
    let (controller, password) = controller_with_admin(dir.path()).await;
    let mut admin = logged_in_client(&controller, "ada", &password).await;
    let spec = admin.get("/api/v1/openapi.json").await;
    assert_eq!(spec.status, 200, "{}", spec.text());
    let spec = spec.json();
    assert_eq!(spec["openapi"], "3.0.3");
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 15, "{paths:?}");

    let mut anonymous = HttpClient::new(controller.api_addr);
    let mut n_checked = 0;
    for (path, methods) in paths {
        for method in methods.as_object().unwrap().keys() {
            // The login and the services CA's CRL are public (CRLs are fetched without credentials).
            if path == "/api/v1/login" || path == "/api/v1/services-ca/crl" {
                continue;
            }
            let method = method.to_ascii_uppercase();
            let body = (method == "POST").then(|| ("application/json", b"{}".to_vec()));
            let response = anonymous
                .request(&method, &concrete(path), &[], body)
                .await
                .unwrap();
            assert_eq!(
                response.status,
                401,
                "{method} {path} without credentials: {}",
                response.text()
            );
            assert!(
                response.json()["error"].as_str().is_some(),
                "{method} {path}: JSON error"
            );
            n_checked += 1;
        }
    }
    assert!(n_checked >= 20, "{n_checked}");

    // Pages send the browser to the login form; assets are public; bad tokens are refused.
    for page in ["/", "/agents", "/settings", "/hosts/agent-1"] {
        let response = anonymous.get(page).await;
        assert_eq!(
            (response.status, response.header("location")),
            (303, Some("/login")),
            "{page}"
        );
    }
    assert_eq!(anonymous.get("/login").await.status, 200);
    let script = anonymous.get("/assets/app.js").await;
    assert_eq!(script.status, 200);
    assert!(script
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(
        anonymous
            .get("/assets/vendor/uPlot.iife.min.js")
            .await
            .status,
        200
    );
    for hostile in [
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/%2e%2e/Cargo.toml",
        "/assets/vendor/../../../../etc/passwd",
        "/assets//etc/passwd",
    ] {
        let response = anonymous.get(hostile).await;
        assert!(
            matches!(response.status, 400 | 404),
            "{hostile}: {}",
            response.status
        );
        assert!(
            !response.text().contains("[workspace]") && !response.text().contains("root:"),
            "{hostile}"
        );
    }
    anonymous.bearer = Some("unity_not-a-token".into());
    assert_eq!(anonymous.get("/api/v1/hosts").await.status, 401);
    controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_csrf_and_bearer_tokens_are_enforced_and_changes_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (controller, password) = controller_with_admin(dir.path()).await;
    let mut admin = HttpClient::new(controller.api_addr);
    let login = admin.login("ada", &password).await;
    assert_eq!(login.status, 200, "{}", login.text());
    let cookie = login.header("set-cookie").unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP: no Secure flag: {cookie}"
    );
    assert_eq!(login.json()["role"], "admin");

    // Cookie session without the CSRF token: refused, even for an admin.
    let csrf = admin.csrf.take();
    let refused = admin.post_json("/api/v1/join-tokens", &json!({})).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused.json()["error"].as_str().unwrap().contains("CSRF"));
    admin.csrf = Some("wrong".into());
    assert_eq!(
        admin
            .post_json("/api/v1/join-tokens", &json!({}))
            .await
            .status,
        403
    );
    admin.csrf = csrf;
    let created = admin
        .post_json("/api/v1/join-tokens", &json!({ "ttl": "30m" }))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert!(created.json()["join_command"]
        .as_str()
        .unwrap()
        .starts_with("unity-agent enroll --controller"));

    // A viewer reads but changes nothing, by session or by bearer token.
    let viewer_password = {
        let response = admin
            .post_json("/api/v1/users", &json!({ "name": "vic", "role": "viewer" }))
            .await;
        assert_eq!(response.status, 201, "{}", response.text());
        response.json()["password"].as_str().unwrap().to_owned()
    };
    let token = admin
        .post_json(
            "/api/v1/api-tokens",
            &json!({ "name": "grafana", "user": "vic" }),
        )
        .await;
    assert_eq!(token.status, 201, "{}", token.text());
    let viewer_token = token.json()["token"].as_str().unwrap().to_owned();
    let mut viewer = logged_in_client(&controller, "vic", &viewer_password).await;
    assert_eq!(viewer.get("/api/v1/hosts").await.status, 200);
    let writes = [
        ("POST", "/api/v1/join-tokens", Some("{}")),
        (
            "POST",
            "/api/v1/users",
            Some(r#"{"name":"eve","role":"admin","password":"longenough"}"#),
        ),
        ("DELETE", "/api/v1/users/ada", None),
        ("POST", "/api/v1/hosts/agent-1/revoke", None),
        ("POST", "/api/v1/api-tokens", Some(r#"{"name":"x"}"#)),
    ];
    let mut bearer_viewer = HttpClient::new(controller.api_addr);
    bearer_viewer.bearer = Some(viewer_token.clone());
    for client in [&mut viewer, &mut bearer_viewer] {
        for (method, path, body) in writes {
            let body = body.map(|body| ("application/json", body.as_bytes().to_vec()));
            let response = client.request(method, path, &[], body).await.unwrap();
            assert_eq!(
                response.status,
                403,
                "viewer {method} {path}: {}",
                response.text()
            );
        }
        assert_eq!(
            client.get("/api/v1/audit").await.status,
            403,
            "audit is for admins"
        );
    }
    assert_eq!(
        bearer_viewer.get("/api/v1/session").await.json()["user"],
        "vic"
    );

    // An admin bearer token (admin scope) needs no CSRF token.
    let created = admin
        .post_json(
            "/api/v1/api-tokens",
            &json!({ "name": "script", "scope": "admin" }),
        )
        .await
        .json();
    let admin_token = created["token"].as_str().unwrap().to_owned();
    let admin_token_id = created["token_id"].as_str().unwrap().to_owned();
    let mut script = HttpClient::new(controller.api_addr);
    script.bearer = Some(admin_token);
    assert_eq!(
        script
            .post_json("/api/v1/join-tokens", &json!({}))
            .await
            .status,
        201
    );
    assert_eq!(
        script
            .post_json(
                "/api/v1/users",
                &json!({ "name": "ada", "role": "viewer", "password": "12345678" })
            )
            .await
            .status,
        409
    );

    let audit = admin.get("/api/v1/audit").await.json();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["action"].as_str().unwrap())
        .collect();
    for expected in [
        "session.login",
        "join_token.create",
        "user.create",
        "api_token.create",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert_eq!(
        audit[0]["action"], "join_token.create",
        "newest first: {audit}"
    );
    // Issue 17: what a token did is recorded as the token, not as if its owner had clicked.
    assert_eq!(
        audit[0]["actor"],
        format!("ada via API token {admin_token_id}"),
        "{audit}"
    );
    let by_session = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|record| record["action"] == "api_token.create")
        .unwrap();
    assert_eq!(by_session["actor"], "ada", "{by_session}");
    // Deleting a user removes their tokens.
    assert_eq!(admin.delete("/api/v1/users/vic").await.status, 204);
    assert_eq!(bearer_viewer.get("/api/v1/hosts").await.status, 401);
    controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_json_bad_ranges_and_huge_bodies_get_clear_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let (controller, password) = controller_with_admin(dir.path()).await;
    let (agent_id, agent) = enrolled_agent(
        &controller,
        &dir.path().join("agent"),
        Duration::from_millis(300),
    )
    .await;
    let mut admin = logged_in_client(&controller, "ada", &password).await;

    let bad_json = admin
        .post_raw("/api/v1/users", "application/json", b"{\"name\": ".to_vec())
        .await;
    check_error(&bad_json, 400, "bad JSON body");
    let unknown_field = admin
        .post_json("/api/v1/join-tokens", &json!({ "ttl": "1h", "tll": "2h" }))
        .await;
    check_error(&unknown_field, 422, "unknown field `tll`");
    let wrong_type = admin
        .post_json("/api/v1/users", &json!({ "name": 5, "role": "admin" }))
        .await;
    check_error(&wrong_type, 422, "bad JSON body");
    let no_type = admin
        .post_raw("/api/v1/join-tokens", "text/plain", b"{}".to_vec())
        .await;
    check_error(&no_type, 415, "Content-Type: application/json");
    let huge = admin
        .post_raw(
            "/api/v1/join-tokens",
            "application/json",
            vec![b' '; 1 << 20],
        )
        .await;
    assert_eq!(huge.status, 413, "{}", huge.text());
    // Its body was not read to the end: the client must not reuse the connection.
    assert_eq!(
        huge.header("connection"),
        Some("close"),
        "{:?}",
        huge.headers
    );
    check_error(
        &admin
            .post_json("/api/v1/join-tokens", &json!({ "ttl": "forever" }))
            .await,
        400,
        "bad ttl",
    );
    check_error(
        &admin
            .post_json("/api/v1/users", &json!({ "name": "bob", "role": "root" }))
            .await,
        400,
        "bad role",
    );
    check_error(
        &admin
            .post_json(
                "/api/v1/users",
                &json!({ "name": "../x", "role": "viewer" }),
            )
            .await,
        400,
        "bad user name",
    );

    let query = format!("/api/v1/hosts/{agent_id}/query");
    check_error(
        &admin
            .get(&format!("{query}?metric=cpu_usage_ratio&range=forever"))
            .await,
        400,
        "bad range \"forever\"",
    );
    check_error(
        &admin
            .get(&format!("{query}?metric=cpu_usage_ratio&range=1s"))
            .await,
        400,
        "between 1m and 3660d",
    );
    check_error(
        &admin
            .get(&format!("{query}?metric=cpu_usage_ratio&from=2000&to=1000"))
            .await,
        400,
        "before to",
    );
    check_error(
        &admin
            .get(&format!("{query}?metric=cpu_usage_ratio&from=1000"))
            .await,
        400,
        "go together",
    );
    check_error(
        &admin
            .get(&format!("{query}?metric=cpu_usage_ratio&from=abc&to=1"))
            .await,
        400,
        "bad query string",
    );
    check_error(
        &admin.get(&format!("{query}?metric=m&colour=red")).await,
        400,
        "unknown field `colour`",
    );
    check_error(
        &admin.get(&format!("{query}?range=1h")).await,
        400,
        "missing field `metric`",
    );
    check_error(
        &admin.get(&format!("{query}?metric=m&max_points=0")).await,
        400,
        "bad max_points",
    );
    check_error(
        &admin.get("/api/v1/hosts/nobody/query?metric=m").await,
        404,
        "no host",
    );
    check_error(&admin.get("/api/v1/hosts/nobody").await, 404, "no host");
    check_error(
        &admin.get("/api/v1/nothing-here").await,
        404,
        "no such API endpoint",
    );
    check_error(
        &admin.get(&format!("/hosts/{agent_id}?range=2y")).await,
        400,
        "bad range",
    );

    // And the good path: stored history comes back as JSON points.
    let series = eventually("history over the API", Duration::from_secs(20), || {
        let mut client = HttpClient::new(controller.api_addr);
        client.cookies = admin.cookies.clone();
        let path = format!("{query}?metric=memory_total_bytes&range=1h");
        async move {
            let body = client.get(&path).await.json();
            let n_points = body["series"][0]["points"].as_array().map_or(0, Vec::len);
            (n_points >= 2).then_some(body)
        }
    })
    .await;
    assert_eq!(series["metric"], "memory_total_bytes");
    let detail = admin.get(&format!("/api/v1/hosts/{agent_id}")).await.json();
    assert_eq!(detail["host"]["status"], "online");
    assert!(detail["latest"].as_array().unwrap().len() > 5);
    agent.stop().await;
    controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_rate_limit_and_logout() {
    let dir = tempfile::tempdir().unwrap();
    let (controller, password) = controller_with_admin(dir.path()).await;

    // Logout ends the session server-side: the old cookie no longer works.
    let mut client = logged_in_client(&controller, "ada", &password).await;
    let old_cookies = client.cookies.clone();
    assert_eq!(client.get("/api/v1/session").await.status, 200);
    let csrf = client.csrf.take();
    assert_eq!(
        client.post_json("/api/v1/logout", &json!({})).await.status,
        403,
        "logout needs CSRF"
    );
    client.csrf = csrf;
    let logout = client.post_json("/api/v1/logout", &json!({})).await;
    assert_eq!(logout.status, 200, "{}", logout.text());
    assert!(logout.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert!(client.cookies.is_empty());
    let mut replay = HttpClient::new(controller.api_addr);
    replay.cookies = old_cookies;
    assert_eq!(replay.get("/api/v1/session").await.status, 401);
    assert_eq!(replay.get("/").await.status, 303);

    // Wrong guesses, then 429 with Retry-After even for the right password (more in
    // `api_login`: growing delays, per address and user name).
    let mut attacker = HttpClient::new(controller.api_addr);
    crate::api_login::guess_until_delayed(&mut attacker, &[], |_| "ada".into(), 3).await;
    let blocked = attacker.login("ada", &password).await;
    assert_eq!(blocked.status, 429, "{}", blocked.text());
    let retry_after: u64 = blocked.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=4).contains(&retry_after), "{retry_after}");
    let form = attacker
        .post_form("/login", &[("username", "ada"), ("password", &password)])
        .await;
    assert_eq!(form.status, 429, "the login form shares the limit");
    controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_from_the_controllers_ca() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.api_tls = ApiTls::SelfIssued;
    let controller = start_controller(config).await;
    assert!(
        controller.dashboard_url.starts_with("https://"),
        "{}",
        controller.dashboard_url
    );
    let password = add_user(&controller, "ada", "admin").await;
    let ca = controller.context.ca.ca_der().clone();
    let mut client = HttpClient::new_tls(controller.api_addr, ca.clone(), "localhost").unwrap();
    assert_eq!(client.get("/api/v1/session").await.status, 401);
    let login = client.login("ada", &password).await;
    assert_eq!(login.status, 200, "{}", login.text());
    assert!(
        login.header("set-cookie").unwrap().contains("; Secure"),
        "HTTPS cookies are Secure"
    );
    assert_eq!(client.get("/api/v1/session").await.json()["user"], "ada");
    let mut by_ip = HttpClient::new_tls(controller.api_addr, ca, "127.0.0.1").unwrap();
    assert_eq!(
        by_ip.get("/login").await.status,
        200,
        "the certificate names the IP too"
    );
    let mut plain = HttpClient::new(controller.api_addr);
    assert!(
        plain
            .request("GET", "/login", &[], None)
            .await
            .map_or(true, |r| r.status != 200),
        "no plain HTTP on the TLS port"
    );
    controller.shutdown().await.unwrap();
}
