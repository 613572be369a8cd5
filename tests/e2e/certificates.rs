//! Issue 15, story 1, end to end: a real agent whose `[certificates] paths` point at a
//! directory of real certificate files (OpenSSL-made: a chain, an expired one, a broken one, a
//! CA bundle, one made now that expires in 5 days) and that probes a real `openssl s_server`
//! serving a chain without its intermediate; a real controller lists them sorted by expiry in
//! the API and on the Certificates page, and raises the expiry alerts.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_tests::*;

use crate::api::controller_with_admin_config;
use crate::plugins::Child;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent/src/collect/certificates/testdata")
}

/// Runs `openssl` with `args` and waits for it (a test tool, not the agent).
fn openssl(args: &[&str]) {
    #[allow(clippy::disallowed_methods)]
    let status = std::process::Command::new("openssl")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl installed (scripts/test PACKAGES)");
    assert!(status.success(), "openssl {args:?}");
}

/// `openssl s_server` on `port` serving the leaf fixture alone (no intermediate).
fn tls_server(port: u16) -> Child {
    let data = fixtures();
    #[allow(clippy::disallowed_methods)]
    let child = std::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(data.join("leaf.pem"))
        .arg("-key")
        .arg(data.join("leaf.key"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_server starts");
    Child(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_fleet_certificates_reach_the_api_the_page_and_the_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.alerts.interval = Duration::from_millis(200);
    let (controller, password) = controller_with_admin_config(config).await;

    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    for name in [
        "fullchain.pem",
        "expired.pem",
        "truncated.pem",
        "ca-bundle.pem",
    ] {
        std::fs::copy(fixtures().join(name), certs.join(name)).unwrap();
    }
    let soon = certs.join("soon.pem");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        dir.path().join("soon.key").to_str().unwrap(),
        "-out",
        soon.to_str().unwrap(),
        "-days",
        "5",
        "-subj",
        "/CN=soon.home.arpa",
        "-addext",
        "subjectAltName=DNS:soon.home.arpa",
    ]);
    let port = free_port();
    let _server = tls_server(port);

    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let mut agent_config =
        unity_tests::agent_config(&agent_dir, controller.local_addr, Duration::from_secs(1));
    agent_config.certificates.enabled = true;
    agent_config.certificates.paths = vec![certs.clone()];
    agent_config.certificates.caps.probe_timeout = Duration::from_secs(1);
    // Wait for the TLS server before the first round (it runs at start).
    eventually("s_server listening", Duration::from_secs(10), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
    })
    .await;
    let agent = unity_agent::runtime::start(agent_config)
        .await
        .expect("agent starts");
    let mut admin = logged_in_client(&controller, "ada", &password).await;

    let listed = eventually_explained("the inventory in the API", Duration::from_secs(60), || {
        let mut admin = admin.clone();
        async move {
            let response = admin.get("/api/v1/certificates").await;
            assert_eq!(response.status, 200, "{}", response.text());
            let json = response.json();
            let served = json["certificates"]
                .as_array()
                .is_some_and(|all| all.iter().any(|c| c["location"]["port"] == port));
            if served {
                Ok(json)
            } else {
                Err(json.to_string())
            }
        }
    })
    .await;
    let certificates = listed["certificates"].as_array().unwrap();
    let not_after: Vec<i64> = certificates
        .iter()
        .map(|c| c["not_after_unix"].as_i64().unwrap())
        .collect();
    assert!(
        not_after.windows(2).all(|w| w[0] <= w[1]),
        "sorted: {not_after:?}"
    );
    let subject = |c: &Value| c["subject"].as_str().unwrap_or("").to_owned();
    // Other listeners on this machine may serve certificates too: look at ours.
    let position_of = |wanted: &str| {
        certificates
            .iter()
            .position(|c| subject(c) == wanted && c["location"]["kind"] == "file")
            .unwrap_or_else(|| panic!("{wanted} listed: {certificates:?}"))
    };
    let (old_at, soon_at) = (
        position_of("CN=old.home.arpa"),
        position_of("CN=soon.home.arpa"),
    );
    assert!(old_at < soon_at, "soonest expiry first");
    let (old, soon_json) = (&certificates[old_at], &certificates[soon_at]);
    assert_eq!(old["urgency"], "expired");
    assert_eq!(soon_json["urgency"], "critical");
    // Made a moment ago for 5 days: 5 or, a second later, 4 whole days left.
    let days_left = soon_json["days_left"].as_i64().unwrap();
    assert!((4..=5).contains(&days_left), "{soon_json}");
    assert_eq!(soon_json["host"]["agent_id"], agent_id.as_str());
    assert_eq!(
        soon_json["location"],
        serde_json::json!({"kind": "file", "path": soon.to_str().unwrap(), "format": "pem"})
    );
    assert_eq!(
        soon_json["key"],
        serde_json::json!({"type": "ecdsa", "curve": "P-256"})
    );
    // The bundle's roots are not service certificates.
    assert!(!certificates
        .iter()
        .any(|c| subject(c).contains("Bundle Root")));
    // The served leaf, without its intermediate, by the process that serves it.
    let served = certificates
        .iter()
        .find(|c| c["location"]["port"] == port)
        .unwrap();
    assert_eq!(served["location"]["kind"], "port");
    assert_eq!(served["location"]["process"], "openssl");
    assert_eq!(subject(served), "CN=leaf.home.arpa,O=Home");
    let kinds: Vec<&str> = served["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"missing_intermediate"), "{served}");
    // The broken file is a problem with its path.
    let problems = listed["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["location"].as_str().unwrap().ends_with("truncated.pem")),
        "{problems:?}"
    );
    // Never key material.
    assert!(!listed.to_string().contains("PRIVATE KEY"));

    // The page.
    let page = admin.get("/certificates").await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("<h1>Certificates</h1>"), "{html}");
    let soon_at = html.find("CN=soon.home.arpa").expect("soon on the page");
    let old_at = html.find("CN=old.home.arpa").expect("expired on the page");
    assert!(old_at < soon_at, "sorted by expiry on the page");
    assert!(html.contains("data-urgency=\"critical\""));
    assert!(html.contains("does not send the intermediate certificate"));

    // The host's page has its own list; the API filters by host.
    let host_page = admin.get(&format!("/hosts/{agent_id}")).await;
    assert_eq!(host_page.status, 200);
    let html = host_page.text();
    assert!(html.contains("id=\"section-certificates\""), "{html}");
    assert!(html.contains("CN=soon.home.arpa"));
    let filtered = admin
        .get(&format!("/api/v1/certificates?host={agent_id}"))
        .await
        .json();
    assert!(filtered["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["host"]["agent_id"] == agent_id.as_str()));
    let none = admin.get("/api/v1/certificates?host=nobody").await.json();
    assert_eq!(none["certificates"], serde_json::json!([]));

    // The alerts: critical for the one expiring in 5 days and for the expired one.
    let soon_sha = soon_json["sha256"].as_str().unwrap().to_owned();
    let old_sha = old["sha256"].as_str().unwrap().to_owned();
    let alerts = eventually_explained("the expiry alerts", Duration::from_secs(30), || {
        let mut admin = admin.clone();
        let keys = [
            format!("certificate/{agent_id}/{soon_sha}"),
            format!("certificate/{agent_id}/{old_sha}"),
        ];
        async move {
            let json = admin.get("/api/v1/alerts").await.json();
            let all = json.as_array().cloned().unwrap_or_default();
            let found: Vec<Value> = keys
                .iter()
                .filter_map(|key| all.iter().find(|a| a["key"] == *key).cloned())
                .collect();
            if found.len() == 2 {
                Ok(found)
            } else {
                Err(json.to_string())
            }
        }
    })
    .await;
    assert_eq!(alerts[0]["severity"], "critical");
    let summary = alerts[0]["summary"].as_str().unwrap();
    assert!(
        summary == "Certificate DNS:soon.home.arpa expires in 4 days"
            || summary == "Certificate DNS:soon.home.arpa expires in 5 days",
        "{summary}"
    );
    assert_eq!(
        alerts[1]["summary"],
        "Certificate DNS:old.home.arpa has expired"
    );

    // `unity-agent collect certificates --json` over the same paths shows the same files.
    let inventory = unity_agent::collect::certificates::collect(
        &unity_agent::collect::certificates::CertificatesConfig {
            paths: vec![certs.clone()],
            probe_ports: false,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let json: Value =
        serde_json::from_str(&unity_agent::diag::certificates::render_json(&inventory, 0).unwrap())
            .unwrap();
    assert_eq!(json["certificates"][0]["subject"], "CN=old.home.arpa");
    agent.stop().await;
    controller.shutdown().await.unwrap();
}
