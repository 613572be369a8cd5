//! Issue 4 end to end: a real Redis server on loopback is discovered by the agent daemon with
//! no configuration, its state and availability history reach the controller, and it is seen
//! down after it stops.

use std::time::Duration;
use unity_controller::storage::agents::StateKind;
use unity_shared::model::database::{DatabaseEndpoint, DatabaseEngine, DatabaseInstance};
use unity_tests::*;

struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Redis {
    /// Starts `redis-server` on a free loopback port and waits until it answers PING, failing
    /// with its log when it does not (a port taken in the meantime, a missing package).
    async fn start(dir: &std::path::Path) -> Redis {
        let port = free_port();
        let log = dir.join("redis.log");
        #[allow(clippy::disallowed_methods)]
        let child = std::process::Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .spawn()
            .expect("redis-server runs (Debian package redis-server; scripts/test installs it)");
        let mut redis = Redis { child, port };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !redis.answers_ping().await {
            let exited = redis.child.try_wait().ok().flatten();
            if exited.is_some() || tokio::time::Instant::now() > deadline {
                panic!(
                    "redis-server on port {port} did not answer PING ({}); its log:\n{}",
                    exited.map_or("still starting after 30s".to_owned(), |s| s.to_string()),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        redis
    }

    async fn answers_ping(&self) -> bool {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").await.is_ok()
            && stream.read_exact(&mut reply).await.is_ok()
            && &reply == b"+PONG\r\n"
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn is_our_redis(instance: &DatabaseInstance, port: u16) -> bool {
    instance.engine == DatabaseEngine::Redis
        && matches!(&instance.endpoint, DatabaseEndpoint::Tcp { port: p, .. } if *p == port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_server_is_discovered_reported_and_seen_down() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut redis = Redis::start(dir.path()).await;
    let port = redis.port;
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let mut config = agent_config(&agent_dir, controller.local_addr, Duration::from_secs(3600));
    config.databases.enabled = true;
    config.databases.interval = Duration::from_millis(300);
    let agent = unity_agent::runtime::start(config).await.unwrap();

    let instance = eventually_explained(
        "Redis at the controller",
        Duration::from_secs(30),
        || async {
            let latest: Option<(i64, Vec<DatabaseInstance>)> = controller
                .context
                .store
                .agents
                .latest(&agent_id, StateKind::Databases)
                .unwrap();
            let Some((_, instances)) = latest else {
                return Err("no database state from the agent yet".to_owned());
            };
            let seen = format!("{instances:?}");
            instances
                .into_iter()
                .find(|instance| is_our_redis(instance, port) && instance.reachable)
                .ok_or(seen)
        },
    )
    .await;
    assert!(
        instance
            .version
            .as_deref()
            .is_some_and(|v| v.starts_with('7')),
        "{instance:?}"
    );
    assert_eq!(instance.auth_required, Some(false));

    let endpoint = format!("127.0.0.1:{port}");
    let up_series = |series: Vec<unity_controller::admin::SeriesView>| {
        series
            .into_iter()
            .find(|s| {
                s.labels
                    .iter()
                    .any(|(k, v)| k == "endpoint" && *v == endpoint)
            })
            .map(|s| s.points)
            .unwrap_or_default()
    };
    eventually(
        "database_up = 1 stored",
        Duration::from_secs(20),
        || async {
            let points = up_series(query(&controller, &agent_id, "database_up").await);
            points.iter().any(|(_, v)| *v == 1.0).then_some(())
        },
    )
    .await;
    assert!(
        !query(&controller, &agent_id, "database_probe_latency_seconds")
            .await
            .is_empty()
    );

    redis.stop();
    eventually(
        "database_up = 0 after the server stopped",
        Duration::from_secs(30),
        || async {
            let points = up_series(query(&controller, &agent_id, "database_up").await);
            (points.last().map(|(_, v)| *v) == Some(0.0)).then_some(())
        },
    )
    .await;

    agent.stop().await;
    controller.shutdown().await.unwrap();
}
