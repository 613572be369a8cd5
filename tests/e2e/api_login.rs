//! Issue 13, "Login limits": the login limit holds under concurrent requests, limits per
//! (client address, user name) so an attacker elsewhere never delays the real admin, caps one
//! client across user names, and takes the client address from `X-Forwarded-For` only when the
//! TCP peer is a trusted proxy.
//!
//! Distinct clients are distinct loopback source addresses (127.0.0.2, 127.0.0.3, ...): Linux
//! routes all of 127.0.0.0/8 to the loopback interface.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use unity_controller::http::login_limit::{CLIENT_POLICY, USER_POLICY};
use unity_controller::service::RunningController;
use unity_tests::http::HttpClient;
use unity_tests::*;

pub fn client_from(controller: &RunningController, last_octet: u8) -> HttpClient {
    let mut client = HttpClient::new(controller.api_addr);
    client.local_ip = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet)));
    client
}

/// Logs in with `headers` added (e.g. `X-Forwarded-For`); returns the status.
pub async fn login_with(
    client: &mut HttpClient,
    headers: &[(&str, &str)],
    user: &str,
    password: &str,
) -> u16 {
    let body = serde_json::json!({ "username": user, "password": password });
    let body = serde_json::to_vec(&body).unwrap();
    client
        .request(
            "POST",
            "/api/v1/login",
            headers,
            Some(("application/json", body)),
        )
        .await
        .unwrap()
        .status
}

/// Wrong guesses (user names from `user`) until the answer is 429 with a Retry-After of at
/// least `min_retry_after` seconds, so what follows has that much margin on a slow machine.
/// Returns every status seen. Delayed answers are polled every 50 ms, as `eventually` does.
pub async fn guess_until_delayed(
    client: &mut HttpClient,
    headers: &[(&str, &str)],
    user: impl Fn(u32) -> String,
    min_retry_after: u64,
) -> Vec<u16> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut statuses = Vec::new();
    for attempt in 0u32.. {
        let body = serde_json::json!({ "username": user(attempt), "password": format!("guess-{attempt}") });
        let response = client
            .request(
                "POST",
                "/api/v1/login",
                headers,
                Some(("application/json", serde_json::to_vec(&body).unwrap())),
            )
            .await
            .unwrap();
        statuses.push(response.status);
        if response.status == 429 {
            let retry_after: u64 = response.header("retry-after").unwrap().parse().unwrap();
            if retry_after >= min_retry_after {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        } else {
            assert_eq!(response.status, 401, "{}", response.text());
            assert_eq!(response.json()["error"], "wrong user name or password");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never delayed: {statuses:?}"
        );
    }
    statuses
}

pub fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|&&seen| seen == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_concurrent_logins_cannot_bypass_the_limit() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let password = add_user(&controller, "ada", "admin").await;

    // 30 wrong guesses at once, each on its own connection, released together.
    let n_requests = 30;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n_requests));
    let mut tasks = Vec::new();
    for n in 0..n_requests {
        let barrier = barrier.clone();
        let mut client = HttpClient::new(controller.api_addr);
        tasks.push(tokio::spawn(async move {
            // Connect first, so the requests race in the server, not in the TCP handshakes.
            assert_eq!(client.get("/login").await.status, 200);
            barrier.wait().await;
            client.login("ada", &format!("guess-{n}")).await.status
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let n_evaluated = count(&statuses, 401);
    assert_eq!(
        n_evaluated + count(&statuses, 429),
        n_requests,
        "{statuses:?}"
    );
    assert!(
        (1..=USER_POLICY.free_failures as usize).contains(&n_evaluated),
        "at most {} passwords checked, got {n_evaluated}: {statuses:?}",
        USER_POLICY.free_failures
    );

    // The real admin from another address is not delayed by the burst.
    let mut elsewhere = client_from(&controller, 2);
    let login = elsewhere.login("ada", &password).await;
    assert_eq!(login.status, 200, "{}", login.text());
    controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_an_attacker_never_delays_the_real_admin_elsewhere() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let password = add_user(&controller, "admin", "admin").await;

    // The attacker guesses the admin's password from 127.0.0.2 until delayed for 3 s or more:
    // the free failures, then one after 1 s and one after 2 s (delays 1, 2, then 4 s).
    let mut attacker = client_from(&controller, 2);
    let statuses = guess_until_delayed(&mut attacker, &[], |_| "admin".into(), 3).await;
    assert_eq!(
        count(&statuses, 401),
        USER_POLICY.free_failures as usize + 2,
        "{statuses:?}"
    );
    let delayed = attacker.login("admin", &password).await;
    assert_eq!(
        delayed.status,
        429,
        "even the right password: {}",
        delayed.text()
    );
    assert!(delayed.json()["error"]
        .as_str()
        .unwrap()
        .contains("too many failed logins"));

    // The real admin from the usual address (127.0.0.1) gets in at once, repeatedly.
    for _ in 0..3 {
        let mut admin = HttpClient::new(controller.api_addr);
        let login = admin.login("admin", &password).await;
        assert_eq!(login.status, 200, "{}", login.text());
    }
    // The attacker's guesses for `admin` do not delay its other names (yet).
    assert_eq!(
        login_with(&mut attacker, &[], "someone-else", "x").await,
        401
    );

    // Spraying one password over many names is capped per client, for every name.
    let mut sprayer = client_from(&controller, 3);
    let statuses = guess_until_delayed(&mut sprayer, &[], |n| format!("user{n}"), 3).await;
    assert_eq!(
        count(&statuses, 401),
        CLIENT_POLICY.free_failures as usize + 2,
        "{statuses:?}"
    );
    assert_eq!(login_with(&mut sprayer, &[], "admin", &password).await, 429);
    let mut admin = HttpClient::new(controller.api_addr);
    assert_eq!(admin.login("admin", &password).await.status, 200);
    controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_x_forwarded_for_counts_only_from_trusted_proxies() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let controller = start_controller(config).await;
    let password = add_user(&controller, "ada", "admin").await;

    // Behind the trusted proxy (127.0.0.1), each forwarded address is its own client.
    let mut proxy = HttpClient::new(controller.api_addr);
    let attacker = [("X-Forwarded-For", "198.51.100.7")];
    guess_until_delayed(&mut proxy, &attacker, |_| "ada".into(), 3).await;
    assert_eq!(
        login_with(&mut proxy, &attacker, "ada", &password).await,
        429
    );
    let real = [("X-Forwarded-For", "203.0.113.9")];
    assert_eq!(login_with(&mut proxy, &real, "ada", &password).await, 200);
    // The proxy appends the peer it saw: a forged left part does not change the client...
    let forged = [("X-Forwarded-For", "203.0.113.9, 198.51.100.7")];
    assert_eq!(login_with(&mut proxy, &forged, "ada", &password).await, 429);
    // ...and behind two trusted hops the right-most untrusted address is still the client.
    let chained = [("X-Forwarded-For", "198.51.100.7, 127.0.0.1")];
    assert_eq!(
        login_with(&mut proxy, &chained, "ada", &password).await,
        429
    );

    // From an untrusted peer (127.0.0.2) the header is ignored: it cannot escape its delay.
    let mut direct = client_from(&controller, 2);
    let spoofed = [("X-Forwarded-For", "192.0.2.1")];
    guess_until_delayed(&mut direct, &spoofed, |_| "ada".into(), 3).await;
    let escape = [("X-Forwarded-For", "192.0.2.200")];
    assert_eq!(
        login_with(&mut direct, &escape, "ada", &password).await,
        429
    );
    // The same header from the trusted proxy is a fresh client.
    assert_eq!(login_with(&mut proxy, &escape, "ada", &password).await, 200);
    controller.shutdown().await.unwrap();
}
