//! Issue 13, security headers and hosts: every response carries the Content-Security-Policy
//! (with `form-action 'self'` and `base-uri 'none'`) and the other hardening headers, HTTPS adds
//! Strict-Transport-Security, and `allowed_hosts` refuses requests for other host names (DNS
//! rebinding). Behind a trusted proxy that terminates TLS, its `X-Forwarded-Proto: https` makes
//! cookies `Secure` and adds HSTS; nobody else's header does.

use unity_controller::config::ApiTls;
use unity_tests::http::{HttpClient, HttpResponse};
use unity_tests::*;

#[track_caller]
fn check_hardened(what: &str, response: &HttpResponse) {
    let policy = response
        .header("content-security-policy")
        .unwrap_or_default();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ] {
        assert!(
            policy.contains(directive),
            "{what}: {directive} in {policy:?}"
        );
    }
    assert_eq!(
        response.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(response.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(
        response.header("referrer-policy"),
        Some("same-origin"),
        "{what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_every_response_carries_the_security_headers() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let mut client = HttpClient::new(controller.api_addr);
    for path in [
        "/login",
        "/",
        "/api/v1/session",
        "/api/v1/nothing",
        "/assets/app.js",
        "/metrics",
    ] {
        let response = client.get(path).await;
        check_hardened(path, &response);
        assert_eq!(
            response.header("strict-transport-security"),
            None,
            "{path}: no HSTS over plain HTTP"
        );
    }
    controller.shutdown().await.unwrap();

    let mut config = controller_config(&dir.path().join("https"));
    config.api_tls = ApiTls::SelfIssued;
    let controller = start_controller(config).await;
    let ca = controller.context.ca.ca_der().clone();
    let mut client = HttpClient::new_tls(controller.api_addr, ca, "localhost").unwrap();
    for path in ["/login", "/api/v1/session"] {
        let response = client.get(path).await;
        check_hardened(path, &response);
        assert_eq!(
            response.header("strict-transport-security"),
            Some("max-age=31536000"),
            "{path}"
        );
    }
    controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_allowed_hosts_refuse_other_host_names() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.allowed_hosts = vec!["unity.lan".into(), "127.0.0.1".into()];
    let controller = start_controller(config).await;
    let password = add_user(&controller, "ada", "admin").await;

    // The configured names pass, with any port and in any case.
    let mut by_ip = HttpClient::new(controller.api_addr);
    assert_eq!(by_ip.get("/login").await.status, 200);
    let mut by_name = HttpClient::new(controller.api_addr);
    by_name.host = Some(format!("Unity.LAN:{}", controller.api_addr.port()));
    assert_eq!(by_name.login("ada", &password).await.status, 200);
    assert_eq!(by_name.get("/api/v1/hosts").await.status, 200);

    // A rebound name is refused everywhere, logged in or not, with a clear message.
    let mut rebound = HttpClient::new(controller.api_addr);
    rebound.host = Some("attacker.example".into());
    rebound.cookies = by_name.cookies.clone();
    for path in ["/api/v1/hosts", "/login", "/metrics", "/assets/app.js"] {
        let response = rebound.get(path).await;
        assert_eq!(response.status, 421, "{path}: {}", response.text());
        assert!(
            response.json()["error"]
                .as_str()
                .unwrap()
                .contains("allowed_hosts"),
            "{path}: {}",
            response.text()
        );
        check_hardened(path, &response);
    }
    let login = rebound.login("ada", &password).await;
    assert_eq!(login.status, 421, "no login through a rebound name");
    controller.shutdown().await.unwrap();

    // Unset (the default): any host name.
    let controller = start_controller(controller_config(&dir.path().join("open"))).await;
    let mut anything = HttpClient::new(controller.api_addr);
    anything.host = Some("whatever.example".into());
    assert_eq!(anything.get("/login").await.status, 200);
    controller.shutdown().await.unwrap();
}

/// The login's `Set-Cookie` values, sent with `extra` headers.
async fn login_cookies(
    client: &mut HttpClient,
    extra: &[(&str, &str)],
    password: &str,
) -> Vec<String> {
    let body = serde_json::json!({ "username": "ada", "password": password });
    let response = client
        .request(
            "POST",
            "/api/v1/login",
            extra,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    response
        .headers_named("set-cookie")
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_tls_proxy_cookies_are_secure_and_hsts_is_sent() {
    // A reverse proxy that terminates TLS talks plain HTTP to the controller and says
    // `X-Forwarded-Proto: https`: the browser is on HTTPS, so the session cookie must be
    // `Secure` and HSTS sent. From anyone but a trusted proxy the header changes nothing.
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let controller = start_controller(config).await;
    let password = add_user(&controller, "ada", "admin").await;
    let https = [("X-Forwarded-Proto", "https")];

    let mut proxy = HttpClient::new(controller.api_addr);
    let cookies = login_cookies(&mut proxy, &https, &password).await;
    assert!(!cookies.is_empty());
    for cookie in &cookies {
        assert!(cookie.ends_with("; Secure"), "{cookie}");
        assert_eq!(cookie.matches("Secure").count(), 1, "{cookie}");
    }
    let page = proxy.request("GET", "/login", &https, None).await.unwrap();
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    // The same proxy forwarding a plain HTTP request: no Secure, no HSTS.
    let cookies = login_cookies(&mut proxy, &[("X-Forwarded-Proto", "http")], &password).await;
    assert!(
        cookies.iter().all(|cookie| !cookie.contains("Secure")),
        "{cookies:?}"
    );
    let page = proxy.get("/login").await;
    assert_eq!(page.header("strict-transport-security"), None);
    controller.shutdown().await.unwrap();

    // No trusted proxies: a client's own X-Forwarded-Proto is ignored.
    let controller = start_controller(controller_config(&dir.path().join("direct"))).await;
    let password = add_user(&controller, "ada", "admin").await;
    let mut direct = HttpClient::new(controller.api_addr);
    let cookies = login_cookies(&mut direct, &https, &password).await;
    assert!(
        cookies.iter().all(|cookie| !cookie.contains("Secure")),
        "{cookies:?}"
    );
    let page = direct.request("GET", "/login", &https, None).await.unwrap();
    assert_eq!(page.header("strict-transport-security"), None);
    controller.shutdown().await.unwrap();
}
