//! Issue 16 with PostgreSQL: a real server with `scram-sha-256` authentication whose
//! password exists only in the controller's secrets store (set through the admin socket as
//! `secret set` does); the agent's probe draws it (`password_secret`) and logs in, and loses
//! it again when the scope is cleared.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;
use unity_agent::collect::databases::{DatabaseCredentials, DatabaseTarget};
use unity_controller::admin::{AdminRequest, AdminResponse, SecretAdminRequest};
use unity_controller::storage::agents::StateKind;
use unity_shared::model::database::{DatabaseEndpoint, DatabaseEngine, DatabaseInstance};
use unity_shared::model::secret::SecretName;
use unity_tests::*;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const PASSWORD: &str = "Pg-password-only-in-the-store";

fn user_ids(user: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&user))
                .then(|| (fields[2].parse().unwrap(), fields[3].parse().unwrap()))
        })
        .unwrap_or_else(|| panic!("no user {user} (Debian package postgresql)"))
}

struct Postgres {
    child: std::process::Child,
    port: u16,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PostgreSQL 15 on a free loopback port, `scram-sha-256` for every connection, `password`
/// for the `postgres` role.
#[allow(clippy::disallowed_methods)]
async fn start_postgres(dir: &Path, password: &str) -> Postgres {
    let bin = Path::new(PG_BIN);
    assert!(
        bin.join("initdb").exists(),
        "install the Debian package postgresql"
    );
    let (uid, gid) = user_ids("postgres");
    std::os::unix::fs::chown(dir, Some(uid), Some(gid)).unwrap();
    let pwfile = dir.join("pwfile");
    std::fs::write(&pwfile, format!("{password}\n")).unwrap();
    std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).unwrap();
    let data = dir.join("data");
    let status = std::process::Command::new(bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .arg("--auth=scram-sha-256")
        .arg(format!("--pwfile={}", pwfile.display()))
        .args(["-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
        .current_dir(dir)
        .env("HOME", dir)
        .uid(uid)
        .gid(gid)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "initdb failed");
    std::fs::remove_file(&pwfile).unwrap();
    let port = free_port();
    let child = std::process::Command::new(bin.join("postgres"))
        .arg("-D")
        .arg(&data)
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
        .args(["-p", &port.to_string()])
        .arg("-k")
        .arg(dir)
        .current_dir(dir)
        .uid(uid)
        .gid(gid)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually("postgres listening", Duration::from_secs(60), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
    Postgres { child, port }
}

async fn ours(
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

async fn secret(
    controller: &unity_controller::service::RunningController,
    request: SecretAdminRequest,
) {
    let response = admin_request(controller, AdminRequest::Secret(request)).await;
    assert!(!matches!(response, AdminResponse::Error(_)), "{response:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_16_a_postgres_probe_logs_in_with_a_password_only_in_the_store() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let pg_dir = dir.path().join("pg");
    std::fs::create_dir(&pg_dir).unwrap();
    let postgres = start_postgres(&pg_dir, PASSWORD).await;
    let controller_dir = dir.path().join("controller");
    let controller = start_controller(controller_config(&controller_dir)).await;
    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let name = SecretName::new("pg-monitor").unwrap();
    secret(
        &controller,
        SecretAdminRequest::Set {
            name: name.to_string(),
            kind: None,
            value_hex: hex::encode(PASSWORD),
        },
    )
    .await;
    secret(
        &controller,
        SecretAdminRequest::Scope {
            name: name.to_string(),
            hosts: vec![agent_id.to_string()],
            groups: vec![],
        },
    )
    .await;

    let mut config = agent_config(&agent_dir, controller.local_addr, Duration::from_secs(3600));
    config.databases.enabled = true;
    config.databases.discover = false;
    config.databases.interval = Duration::from_millis(300);
    config.databases.targets = vec![DatabaseTarget {
        engine: DatabaseEngine::Postgres,
        endpoint: DatabaseEndpoint::Tcp {
            host: "127.0.0.1".into(),
            port: postgres.port,
        },
        credentials: Some(DatabaseCredentials {
            user: Some("postgres".into()),
            database: None,
            password_file: None,
            password_secret: Some(name.clone()),
        }),
    }];
    let agent = unity_agent::runtime::start(config).await.unwrap();
    let port = postgres.port;
    let logged_in = eventually(
        "the probe logs in to PostgreSQL",
        Duration::from_secs(60),
        || async {
            ours(&controller, &agent_id, port)
                .await
                .filter(|instance| instance.version.is_some() && instance.error.is_none())
        },
    )
    .await;
    assert!(logged_in.health.is_some(), "{logged_in:?}");

    secret(
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
            ours(&controller, &agent_id, port).await.filter(|instance| {
                instance.version.is_none()
                    && instance
                        .error
                        .as_deref()
                        .is_some_and(|error| error.contains("secret pg-monitor not available yet"))
            })
        },
    )
    .await;

    agent.stop().await;
    controller.context.store.flush().unwrap();
    controller.shutdown().await.unwrap();
    for root in [&controller_dir, &agent_dir] {
        let mut folders = vec![root.to_path_buf()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    assert!(
                        !bytes
                            .windows(PASSWORD.len())
                            .any(|w| w == PASSWORD.as_bytes()),
                        "{} holds the plaintext",
                        path.display()
                    );
                }
            }
        }
    }
    drop(postgres);
}
