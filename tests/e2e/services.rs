//! Issue 18 §1, service checks end to end: checks defined on the controller (through the API
//! and the Services page's form) are sent to two real agents, which run them against real
//! servers on loopback; results reach the Services page and the API with uptime; the HTTP
//! server going away raises a critical `service/<check>/down` (down from both agents) that
//! resolves when it comes back. Hostile definitions get clear errors.

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use unity_tests::*;

fn serve(listener: TcpListener) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nhello, Unity!")
                    .await;
            });
        }
    })
}

async fn put(client: &mut http::HttpClient, name: &str, body: &Value) -> http::HttpResponse {
    client
        .request(
            "PUT",
            &format!("/api/v1/services/{name}"),
            &[],
            Some(("application/json", serde_json::to_vec(body).unwrap())),
        )
        .await
        .unwrap()
}

async fn services(client: &mut http::HttpClient) -> Vec<Value> {
    let response = client.get("/api/v1/services").await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["checks"].as_array().unwrap().clone()
}

async fn check_named(client: &mut http::HttpClient, name: &str) -> Option<Value> {
    services(client)
        .await
        .into_iter()
        .find(|check| check["name"] == name)
}

async fn open_alert(client: &mut http::HttpClient, key: &str, state: &str) -> Option<Value> {
    let response = client.get(&format!("/api/v1/alerts?state={state}")).await;
    response
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|alert| alert["key"] == key)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_a_service_check_runs_on_agents_and_raises_and_resolves_an_alert() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.alerts.interval = Duration::from_millis(200);
    config.alerts.resolve_after = Duration::from_secs(1);
    let controller = start_controller(config).await;
    let password = add_user(&controller, "owner", "admin").await;
    let mut client = logged_in_client(&controller, "owner", &password).await;
    let (first, first_agent) = enrolled_agent(
        &controller,
        &dir.path().join("agent-1"),
        Duration::from_secs(5),
    )
    .await;
    let (second, second_agent) = enrolled_agent(
        &controller,
        &dir.path().join("agent-2"),
        Duration::from_secs(5),
    )
    .await;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let server = serve(listener);

    // Hostile definitions: clear errors, nothing stored.
    let bad = put(
        &mut client,
        "web",
        &json!({"name": "web", "kind": "http", "url": "nas.home.arpa", "agents": [first.as_str()]}),
    )
    .await;
    check_error(&bad, 400, "relative URL without a base");
    let bad = put(
        &mut client,
        "ssh",
        &json!({"name": "ssh", "kind": "tcp", "host": "127.0.0.1", "port": 0, "agents": [first.as_str()]}),
    )
    .await;
    check_error(&bad, 400, "needs port");
    assert!(services(&mut client).await.is_empty());

    // Through the API: an HTTP check run from both agents.
    let defined = put(
        &mut client,
        "web",
        &json!({
            "name": "web", "kind": "http", "url": format!("http://{address}/"),
            "keyword": "Unity", "interval": "10s", "timeout": "2s",
            "agents": [first.as_str(), second.as_str()],
        }),
    )
    .await;
    assert_eq!(defined.status, 204, "{}", defined.text());
    // Through the page's form: a TCP check on the first agent.
    let form = client
        .post_form(
            "/services",
            &[
                ("name", "web-port"),
                ("kind", "tcp"),
                ("host", "127.0.0.1"),
                ("port", &address.port().to_string()),
                ("interval", "10s"),
                ("timeout", "2s"),
                ("agents", first.as_str()),
            ],
        )
        .await;
    assert_eq!(form.status, 303, "{}", form.text());

    let up = eventually(
        "both agents see the check up, with its uptime",
        Duration::from_secs(60),
        || {
            let mut client = client.clone();
            async move {
                let check = check_named(&mut client, "web").await?;
                let agents = check["agents"].as_array()?;
                // The result is stored as state before its `service_up` sample reaches the
                // series store (ingest's group commit), so uptime may lag the state briefly.
                (agents.len() == 2
                    && agents.iter().all(|agent| agent["up"] == true)
                    && check["uptime"]["24h"].is_number())
                .then_some(check)
            }
        },
    )
    .await;
    assert_eq!(up["state"], "up");
    assert_eq!(up["uptime"]["24h"], 1.0, "{up:#}");
    assert!(up["agents"][0]["latency_ms"].is_u64());
    eventually("the TCP check up", Duration::from_secs(30), || {
        let mut client = client.clone();
        async move {
            let check = check_named(&mut client, "web-port").await?;
            (check["state"] == "up").then_some(())
        }
    })
    .await;
    let page = client.get("/services").await.text();
    assert!(
        page.contains("data-check=\"web\"") && page.contains("100.00 %"),
        "{page}"
    );
    assert!(
        page.contains("href=\"/services\""),
        "the nav links the page"
    );

    // The server goes away: down from both agents, a critical alert.
    server.abort();
    let _ = server.await;
    let alert = eventually("a critical service alert", Duration::from_secs(40), || {
        let mut client = client.clone();
        async move {
            let alert = open_alert(&mut client, "service/web/down", "open").await?;
            (alert["severity"] == "critical").then_some(alert)
        }
    })
    .await;
    assert!(
        alert["summary"]
            .as_str()
            .unwrap()
            .contains("down from 2 of 2 agents"),
        "{alert}"
    );
    let down = check_named(&mut client, "web").await.unwrap();
    assert_eq!(down["state"], "down");
    assert!(down["agents"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("connect to 127.0.0.1"));
    assert!(down["uptime"]["24h"].as_f64().unwrap() < 1.0);

    // It comes back on the same port: the alert resolves.
    let listener = TcpListener::bind(address).await.unwrap();
    let _server = serve(listener);
    eventually(
        "the service alert resolved",
        Duration::from_secs(40),
        || {
            let mut client = client.clone();
            async move {
                open_alert(&mut client, "service/web/down", "resolved")
                    .await
                    .map(|_| ())
            }
        },
    )
    .await;

    // Deleting the stored check stops it; a viewer may not define one.
    let deleted = client.delete("/api/v1/services/web-port").await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert!(check_named(&mut client, "web-port").await.is_none());
    let viewer_password = add_user(&controller, "guest", "viewer").await;
    let mut viewer = logged_in_client(&controller, "guest", &viewer_password).await;
    let refused = put(&mut viewer, "x", &json!({"name": "x"})).await;
    assert_eq!(refused.status, 403, "{}", refused.text());

    first_agent.stop().await;
    second_agent.stop().await;
}
