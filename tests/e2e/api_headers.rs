//! Issue 13, security headers and hosts: every response carries the Content-Security-Policy
//! (with `form-action 'self'` and `base-uri 'none'`) and the other hardening headers, HTTPS adds
//! Strict-Transport-Security, and `allowed_hosts` refuses requests for other host names (DNS
//! rebinding).

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
