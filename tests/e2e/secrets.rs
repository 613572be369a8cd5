//! Issue 16, stories 4 and 5 end to end: a real Redis on loopback whose password exists only
//! in the controller's secrets store. The agent's probe names it (`password_secret`), draws it
//! over its session once the secret's scope includes the host, and logs in; narrowing the
//! scope withdraws it and the probe loses access; no file of the controller or the agent ever
//! holds the plaintext; rotating the sealing key keeps the secret and a registry credential
//! readable; no admin answer carries the value; a host outside the scope and a revoked host
//! get nothing, and every delivery and refusal is audited.

use std::path::Path;
use std::time::Duration;
use unity_agent::collect::databases::{DatabaseCredentials, DatabaseTarget};
use unity_controller::admin::{AdminRequest, AdminResponse, SecretAdminRequest};
use unity_controller::domain::{audit, registries, secrets};
use unity_controller::storage::agents::StateKind;
use unity_shared::model::database::{DatabaseEndpoint, DatabaseEngine, DatabaseInstance};
use unity_shared::model::secret::SecretName;
use unity_tests::*;

const PASSWORD: &str = "Corr3ct-Horse-only-in-the-store";
const REGISTRY_SECRET: &str = "registry-token-only-sealed";

struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Redis {
    /// `redis-server` on a free loopback port that wants `password`.
    async fn start(dir: &Path, password: &str) -> Redis {
        let port = free_port();
        let log = dir.join("redis.log");
        #[allow(clippy::disallowed_methods)]
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                password,
            ])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .spawn()
            .expect("redis-server runs (Debian package redis-server; scripts/test installs it)");
        let redis = Redis { child, port };
        eventually(
            "redis-server listening",
            Duration::from_secs(30),
            || async {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()
                    .map(|_| ())
            },
        )
        .await;
        redis
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every byte of every file under `dir` (sled's files, the WAL, the key, the spool).
fn assert_no_file_contains(dir: &Path, needle: &[u8]) {
    let mut folders = vec![dir.to_path_buf()];
    let mut files = 0;
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                files += 1;
                assert!(
                    !bytes.windows(needle.len()).any(|window| window == needle),
                    "{} holds the plaintext",
                    path.display()
                );
            }
        }
    }
    assert!(files > 0, "nothing under {}", dir.display());
}

async fn secret_request(
    controller: &unity_controller::service::RunningController,
    request: SecretAdminRequest,
) -> AdminResponse {
    let response = admin_request(controller, AdminRequest::Secret(request)).await;
    let json = serde_json::to_string(&response).unwrap();
    assert!(
        !json.contains(PASSWORD),
        "an admin answer carries the value: {json}"
    );
    if let AdminResponse::Error(error) = &response {
        panic!("secret request failed: {error}");
    }
    response
}

async fn our_redis(
    controller: &unity_controller::service::RunningController,
    agent_id: &unity_shared::proto::AgentId,
    port: u16,
) -> Option<DatabaseInstance> {
    let latest: Option<(i64, Vec<DatabaseInstance>)> = controller
        .context
        .store
        .agents
        .latest(agent_id, StateKind::Databases)
        .unwrap();
    latest?.1.into_iter().find(|instance| {
        matches!(&instance.endpoint, DatabaseEndpoint::Tcp { port: p, .. } if *p == port)
    })
}

async fn audit_actions(controller: &unity_controller::service::RunningController) -> Vec<String> {
    let ctx = controller.context.clone();
    tokio::task::spawn_blocking(move || audit::recent(&ctx, 500))
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|entry| format!("{} {} {}", entry.actor, entry.action, entry.target))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_16_a_probe_logs_in_with_a_password_that_exists_only_in_the_store() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(dir.path(), PASSWORD).await;
    let port = redis.port;
    let controller_dir = dir.path().join("controller");
    let controller = start_controller(controller_config(&controller_dir)).await;
    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let outsider = enroll_agent(&controller, &dir.path().join("outsider")).await;
    let name = SecretName::new("redis-pass").unwrap();

    // The password goes in through the admin socket (as `secret set --stdin` sends it).
    secret_request(
        &controller,
        SecretAdminRequest::Set {
            name: name.to_string(),
            kind: Some("password".into()),
            value_hex: hex::encode(PASSWORD),
        },
    )
    .await;

    let mut config = agent_config(&agent_dir, controller.local_addr, Duration::from_secs(3600));
    config.databases.enabled = true;
    config.databases.discover = false;
    config.databases.interval = Duration::from_millis(300);
    config.databases.targets = vec![DatabaseTarget {
        engine: DatabaseEngine::Redis,
        endpoint: DatabaseEndpoint::Tcp {
            host: "127.0.0.1".into(),
            port,
        },
        credentials: Some(DatabaseCredentials {
            user: None,
            database: None,
            password_file: None,
            password_secret: Some(name.clone()),
        }),
    }];
    let agent = unity_agent::runtime::start(config).await.unwrap();

    // No scope yet: the probe says the secret is not available, and does not crash.
    let refused = eventually(
        "the probe reports the secret missing",
        Duration::from_secs(30),
        || async {
            our_redis(&controller, &agent_id, port)
                .await
                .filter(|instance| {
                    instance
                        .error
                        .as_deref()
                        .is_some_and(|error| error.contains("secret redis-pass not available yet"))
                })
        },
    )
    .await;
    assert_eq!(refused.version, None, "{refused:?}");
    // Once connected, the agent asks, and the refusal is audited.
    let refused_line = format!("agent:{agent_id} secret.refused redis-pass");
    eventually("the refusal audited", Duration::from_secs(30), || async {
        audit_actions(&controller)
            .await
            .iter()
            .any(|line| line.starts_with(&refused_line))
            .then_some(())
    })
    .await;

    // Scoped to the host: drawn, logged in, version and health reported.
    secret_request(
        &controller,
        SecretAdminRequest::Scope {
            name: name.to_string(),
            hosts: vec![agent_id.to_string()],
            groups: vec![],
        },
    )
    .await;
    let logged_in = eventually("the probe logs in", Duration::from_secs(30), || async {
        our_redis(&controller, &agent_id, port)
            .await
            .filter(|instance| instance.version.is_some() && instance.error.is_none())
    })
    .await;
    assert!(logged_in.health.is_some(), "{logged_in:?}");
    let actions = audit_actions(&controller).await;
    assert!(
        actions.iter().any(|line| line.starts_with(&format!(
            "agent:{agent_id} secret.deliver redis-pass version 1"
        ))),
        "{actions:?}"
    );
    match secret_request(
        &controller,
        SecretAdminRequest::Show {
            name: name.to_string(),
        },
    )
    .await
    {
        AdminResponse::Secret(view) => {
            assert_eq!(view.last_delivered_to.as_ref(), Some(&agent_id));
            assert_eq!(view.fingerprint.len(), 24);
        }
        other => panic!("{other:?}"),
    }
    secret_request(&controller, SecretAdminRequest::List).await;

    // The REST API and the dashboard, as an admin: a value goes in; no GET gives one back;
    // viewers are refused.
    let admin_password = add_user(&controller, "admin", "admin").await;
    let mut admin = logged_in_client(&controller, "admin", &admin_password).await;
    let api_value = "api-value-never-returned";
    let put = admin
        .request(
            "PUT",
            "/api/v1/secrets/api-token",
            &[],
            Some((
                "application/json",
                serde_json::to_vec(&serde_json::json!({ "value": api_value, "kind": "token" }))
                    .unwrap(),
            )),
        )
        .await
        .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.json()["version"], 1);
    for path in [
        "/api/v1/secrets",
        "/api/v1/secrets/api-token",
        "/api/v1/secrets/redis-pass",
        "/secrets",
        "/api/v1/openapi.json",
    ] {
        let response = admin.get(path).await;
        assert_eq!(response.status, 200, "{path}: {}", response.text());
        let text = response.text();
        assert!(
            !text.contains(api_value) && !text.contains(PASSWORD),
            "{path}: {text}"
        );
    }
    assert!(admin.get("/secrets").await.text().contains("redis-pass"));
    let viewer_password = add_user(&controller, "viewer", "viewer").await;
    let mut viewer = logged_in_client(&controller, "viewer", &viewer_password).await;
    assert_eq!(viewer.get("/api/v1/secrets").await.status, 403);
    assert_eq!(admin.delete("/api/v1/secrets/api-token").await.status, 204);

    // A host outside the scope gets nothing, audited.
    let ctx = controller.context.clone();
    let (outside, inside) = {
        let (ctx, name, outsider, agent_id) = (
            ctx.clone(),
            name.clone(),
            outsider.clone(),
            agent_id.clone(),
        );
        tokio::task::spawn_blocking(move || {
            (
                secrets::deliver(&ctx, &name, &outsider, "e2e").unwrap(),
                secrets::deliver(&ctx, &name, &agent_id, "e2e").unwrap(),
            )
        })
        .await
        .unwrap()
    };
    assert_eq!(outside, None);
    assert_eq!(inside.unwrap().expose(), PASSWORD.as_bytes());
    assert!(audit_actions(&controller)
        .await
        .iter()
        .any(|line| line.starts_with(&format!(
            "agent:{outsider} secret.refused redis-pass for e2e"
        ))));

    // A registry credential sealed with the same key, for the rotation below.
    {
        let ctx = ctx.clone();
        tokio::task::spawn_blocking(move || {
            registries::set(
                &ctx,
                "e2e",
                "registry.example:5000",
                registries::NewCredentials {
                    username: "robot".into(),
                    secret: REGISTRY_SECRET.into(),
                    secret_name: None,
                    plain_http: false,
                },
            )
        })
        .await
        .unwrap()
        .unwrap();
    }

    // Narrowing the scope withdraws the value: the probe loses access.
    secret_request(
        &controller,
        SecretAdminRequest::Scope {
            name: name.to_string(),
            hosts: vec![],
            groups: vec![],
        },
    )
    .await;
    eventually(
        "the probe loses access",
        Duration::from_secs(30),
        || async {
            our_redis(&controller, &agent_id, port)
                .await
                .filter(|instance| {
                    instance.version.is_none()
                        && instance
                            .error
                            .as_deref()
                            .is_some_and(|error| error.contains("not available yet"))
                })
        },
    )
    .await;

    // Rotation: a new key, everything re-sealed, everything still opens, the old key gone.
    match secret_request(&controller, SecretAdminRequest::RotateKey).await {
        AdminResponse::KeyRotated(report) => {
            assert!(report.new_key);
            assert_eq!(report.secrets, 1);
            assert_eq!(report.registry_credentials, 1);
        }
        other => panic!("{other:?}"),
    }
    assert!(!controller_dir.join("registry-credentials.key.old").exists());
    secret_request(
        &controller,
        SecretAdminRequest::Scope {
            name: name.to_string(),
            hosts: vec![agent_id.to_string()],
            groups: vec!["all".into()],
        },
    )
    .await;
    eventually(
        "the probe logs in after the rotation",
        Duration::from_secs(30),
        || async {
            our_redis(&controller, &agent_id, port)
                .await
                .filter(|instance| instance.version.is_some() && instance.error.is_none())
        },
    )
    .await;
    let views = {
        let ctx = ctx.clone();
        tokio::task::spawn_blocking(move || registries::list(&ctx))
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(views[0].username.as_deref(), Some("robot"), "{views:?}");

    // Revoking the host stops delivery.
    {
        let (ctx, name, agent_id) = (ctx.clone(), name.clone(), agent_id.clone());
        let after_revoke = tokio::task::spawn_blocking(move || {
            unity_controller::domain::agents::revoke(&ctx, &agent_id).unwrap();
            secrets::deliver(&ctx, &name, &agent_id, "e2e").unwrap()
        })
        .await
        .unwrap();
        assert_eq!(after_revoke, None);
    }

    agent.stop().await;
    controller.context.store.flush().unwrap();
    for needle in [PASSWORD, REGISTRY_SECRET] {
        assert_no_file_contains(&controller_dir, needle.as_bytes());
        assert_no_file_contains(&agent_dir, needle.as_bytes());
    }
    controller.shutdown().await.unwrap();
    drop(redis);
}
