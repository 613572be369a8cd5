//! Issue 16, stories 4 and 5 end to end: a real Redis on loopback whose password exists only
//! in the controller's secrets store. The agent's probe names it (`password_secret`), draws it
//! over its session once the secret's scope includes the host, and logs in; narrowing the
//! scope withdraws it and the probe loses access; no file of the controller or the agent ever
//! holds the plaintext; rotating the sealing key keeps the secret and a registry credential
//! readable; no admin answer carries the value; a host outside the scope and a revoked host
//! get nothing, and every delivery and refusal is audited.

use crate::secrets_setup::SecretsLab;
use std::path::Path;
use std::time::Duration;
use unity_controller::admin::{AdminResponse, SecretAdminRequest};
use unity_controller::domain::{registries, secrets};
use unity_shared::model::database::DatabaseEngine;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_16_a_probe_logs_in_with_a_password_that_exists_only_in_the_store() {
    let lab = SecretsLab::start(&[PASSWORD, REGISTRY_SECRET]).await;
    let (controller, agent_id) = (&lab.controller, &lab.agent_id);
    let redis = Redis::start(lab.dir.path(), PASSWORD).await;
    let port = redis.port;
    let outsider = enroll_agent(controller, &lab.dir.path().join("outsider")).await;
    let name = SecretName::new("redis-pass").unwrap();

    // The password goes in through the admin socket (as `secret set --stdin` sends it).
    lab.set_password(&name, PASSWORD).await;
    let agent = lab
        .start_probing_agent(DatabaseEngine::Redis, port, None, &name)
        .await;

    // No scope yet: the probe says the secret is not available, and does not crash; once
    // connected, the agent asks, and the refusal is audited.
    lab.until_secret_unavailable(port, &name, "the probe reports the secret missing")
        .await;
    lab.until_audited(&format!("agent:{agent_id} secret.refused redis-pass"))
        .await;

    // Scoped to the host: drawn, logged in, version and health reported.
    lab.scope(&name, &[agent_id]).await;
    lab.until_logged_in(port, "the probe logs in").await;
    let actions = lab.audit_lines().await;
    assert!(
        actions.iter().any(|line| line.starts_with(&format!(
            "agent:{agent_id} secret.deliver redis-pass version 1 for agent request"
        ))),
        "{actions:?}"
    );
    match lab
        .secret(SecretAdminRequest::Show {
            name: name.to_string(),
        })
        .await
    {
        AdminResponse::Secret(view) => {
            assert_eq!(view.last_delivered_to.as_ref(), Some(agent_id));
            assert_eq!(view.fingerprint.len(), 24);
        }
        other => panic!("{other:?}"),
    }
    lab.secret(SecretAdminRequest::List).await;

    // The REST API and the dashboard, as an admin: a value goes in; no GET gives one back;
    // viewers are refused.
    let admin_password = add_user(controller, "admin", "admin").await;
    let mut admin = logged_in_client(controller, "admin", &admin_password).await;
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
    let viewer_password = add_user(controller, "viewer", "viewer").await;
    let mut viewer = logged_in_client(controller, "viewer", &viewer_password).await;
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
    assert!(lab
        .audit_lines()
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
                &unity_controller::domain::actor::Actor::Cli,
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
    lab.scope(&name, &[]).await;
    lab.until_secret_unavailable(port, &name, "the probe loses access")
        .await;

    // Rotation: a new key, everything re-sealed, everything still opens, the old key gone.
    match lab.secret(SecretAdminRequest::RotateKey).await {
        AdminResponse::KeyRotated(report) => {
            assert!(report.new_key);
            assert_eq!(report.secrets, 1);
            assert_eq!(report.registry_credentials, 1);
        }
        other => panic!("{other:?}"),
    }
    assert!(!lab
        .controller_dir
        .join("registry-credentials.key.old")
        .exists());
    lab.secret(SecretAdminRequest::Scope {
        name: name.to_string(),
        hosts: vec![agent_id.to_string()],
        groups: vec!["all".into()],
    })
    .await;
    lab.until_logged_in(port, "the probe logs in after the rotation")
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

    lab.finish(agent).await;
    drop(redis);
}
