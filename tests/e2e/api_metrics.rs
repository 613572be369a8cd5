//! Issue 5: `/metrics` asks for its bearer token and parses as Prometheus text, with a label
//! per host.

use std::time::Duration;
use unity_tests::http::HttpClient;
use unity_tests::*;

use crate::api::{controller_with_admin, METRICS_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_valid_prometheus_text_with_host_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (controller, _password) = controller_with_admin(dir.path()).await;
    let (agent_id, agent) = enrolled_agent(
        &controller,
        &dir.path().join("agent"),
        Duration::from_millis(300),
    )
    .await;
    let mut scraper = HttpClient::new(controller.api_addr);
    assert_eq!(
        scraper.get("/metrics").await.status,
        401,
        "token configured"
    );
    scraper.bearer = Some("wrong".into());
    assert_eq!(scraper.get("/metrics").await.status, 401);
    scraper.bearer = Some(METRICS_TOKEN.into());
    let text = eventually("metrics with memory", Duration::from_secs(20), || {
        let mut scraper = HttpClient::new(controller.api_addr);
        scraper.bearer = Some(METRICS_TOKEN.into());
        async move {
            let response = scraper.get("/metrics").await;
            assert_eq!(response.status, 200);
            assert!(response
                .header("content-type")
                .unwrap()
                .starts_with("text/plain; version=0.0.4"));
            let text = response.text();
            text.contains("unity_memory_total_bytes{").then_some(text)
        }
    })
    .await;
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text format");
    let up = scrape
        .samples
        .iter()
        .find(|sample| sample.metric == "unity_host_up")
        .expect("unity_host_up");
    assert_eq!(up.labels.get("agent_id"), Some(agent_id.as_str()));
    assert!(up
        .labels
        .get("hostname")
        .is_some_and(|name| !name.is_empty()));
    assert!(
        matches!(up.value, prometheus_parse::Value::Gauge(value) if value == 1.0),
        "{:?}",
        up.value
    );
    let memory = scrape
        .samples
        .iter()
        .find(|s| s.metric == "unity_memory_total_bytes")
        .unwrap();
    assert!(matches!(memory.value, prometheus_parse::Value::Gauge(value) if value > 0.0));
    let load: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "unity_load_average")
        .collect();
    assert_eq!(load.len(), 3, "one per period label");
    assert!(load
        .iter()
        .all(|s| s.labels.get("period").is_some()
            && s.labels.get("agent_id") == Some(agent_id.as_str())));
    assert!(scrape
        .samples
        .iter()
        .any(|s| s.metric.ends_with("_total")
            && matches!(s.value, prometheus_parse::Value::Counter(_))));
    let families: std::collections::HashSet<&str> =
        scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    assert!(
        families.iter().all(|name| name.starts_with("unity_")),
        "{families:?}"
    );
    agent.stop().await;
    controller.shutdown().await.unwrap();
}
