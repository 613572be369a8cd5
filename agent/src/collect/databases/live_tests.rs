//! Real servers on loopback, started by these tests from the Debian packages (PostgreSQL 15,
//! MariaDB 10.11, Redis 7): each is discovered with no configuration through its listening
//! socket and process, identified with the installed package's version, then stopped and
//! reported down. Also: deeper health with credentials, credential redaction, and a
//! wrong-protocol server on a well-known port found by discovery.
//!
//! A missing server binary fails the test with the package to install (see [`super::servers`]).

#![allow(clippy::indexing_slicing)]

use std::path::Path;
use std::time::Duration;

use unity_shared::model::database::{
    DatabaseEndpoint, DatabaseEngine, DatabaseInstance, DiscoveryMethod, ReplicationRole,
};

use super::credentials::DatabaseCredentials;
use super::run::{collect, DatabaseTarget, DatabasesConfig};
use super::servers::{
    find_program, loopback, start_mariadb, start_postgres, start_redis, version_output, PG_BIN,
};

const TIMEOUT: Duration = Duration::from_secs(5);

async fn collect_with(
    targets: Vec<DatabaseTarget>,
    remembered: &[DatabaseInstance],
) -> Vec<DatabaseInstance> {
    let config = DatabasesConfig {
        timeout: TIMEOUT,
        targets,
        ..DatabasesConfig::default()
    };
    let started = tokio::time::Instant::now();
    let instances = collect(&config, &[], remembered).await.unwrap();
    // Probes run concurrently, each bounded by the timeout.
    assert!(started.elapsed() < TIMEOUT + Duration::from_secs(10));
    instances
}

#[track_caller]
fn find(instances: &[DatabaseInstance], port: u16) -> &DatabaseInstance {
    instances
        .iter()
        .find(|instance| {
            std::iter::once(&instance.endpoint)
                .chain(&instance.other_endpoints)
                .any(|endpoint| matches!(endpoint, DatabaseEndpoint::Tcp { port: p, .. } if *p == port))
        })
        .unwrap_or_else(|| panic!("nothing found on port {port}: {instances:#?}"))
}

#[track_caller]
fn assert_discovered_by_socket(instance: &DatabaseInstance, pid: u32, name: &str) {
    let process = instance.process.as_ref().expect("process mapped");
    assert_eq!(process.pid, pid, "{instance:#?}");
    assert_eq!(process.name, name);
    assert!(
        instance
            .discovered_by
            .contains(&DiscoveryMethod::ListeningSocket)
            && instance
                .discovered_by
                .contains(&DiscoveryMethod::ProcessName),
        "{instance:#?}"
    );
}

#[track_caller]
fn assert_down(instances: &[DatabaseInstance], port: u16, engine: DatabaseEngine) {
    let down = find(instances, port);
    assert_eq!(down.engine, engine, "{down:#?}");
    assert!(!down.reachable, "{down:#?}");
    assert_eq!(down.discovered_by, vec![DiscoveryMethod::Remembered]);
    assert!(
        down.error
            .as_deref()
            .unwrap_or("")
            .contains("cannot connect"),
        "{down:#?}"
    );
    assert_eq!(down.version, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_is_discovered_identified_and_seen_down() {
    let mut server = start_postgres().await;
    // `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`
    let installed = version_output(&Path::new(PG_BIN).join("postgres"));

    let instances = collect_with(Vec::new(), &[]).await;
    let instance = find(&instances, server.port);
    assert_eq!(instance.engine, DatabaseEngine::Postgres, "{instance:#?}");
    let version = instance.version.clone().expect("server_version");
    assert!(
        installed.ends_with(&version) && version.starts_with("15."),
        "server says {version:?}, package says {installed:?}"
    );
    assert_discovered_by_socket(instance, server.pid(), "postgres");
    assert_eq!(instance.endpoint, loopback(server.port));
    let socket = server.dir.path().join(format!(".s.PGSQL.{}", server.port));
    assert!(
        instance.other_endpoints.contains(&DatabaseEndpoint::Unix {
            path: socket.display().to_string()
        }),
        "{instance:#?}"
    );
    assert!(instance.reachable);
    assert_eq!(instance.auth_required, Some(false));
    assert_eq!(instance.tls_offered, Some(false));
    assert!(instance.latency_ms.is_some_and(|ms| ms > 0.0));
    assert_eq!(instance.error, None);
    assert_eq!(instance.health, None, "no credentials, no health queries");

    server.stop("-INT").await;
    let after = collect_with(Vec::new(), &instances).await;
    assert_down(&after, server.port, DatabaseEngine::Postgres);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_health_with_trust_credentials() {
    let server = start_postgres().await;
    let target = DatabaseTarget {
        engine: DatabaseEngine::Postgres,
        endpoint: loopback(server.port),
        credentials: Some(DatabaseCredentials {
            user: Some("postgres".to_owned()),
            database: None,
            password_file: None,
            password_secret: None,
        }),
    };
    let instances = collect_with(vec![target], &[]).await;
    let instance = find(&instances, server.port);
    assert!(instance
        .discovered_by
        .contains(&DiscoveryMethod::Configured));
    assert_eq!(instance.error, None, "{instance:#?}");
    let health = instance.health.as_ref().expect("health");
    assert!(health.connections.is_some_and(|n| n >= 1), "{health:#?}");
    assert_eq!(health.max_connections, Some(100));
    let replication = health.replication.as_ref().unwrap();
    assert_eq!(replication.role, ReplicationRole::Primary);
    assert_eq!(replication.n_replicas, Some(0));
    assert!(health.uptime_seconds.is_some());
    assert_eq!(health.blocked_clients, Some(0));
    let names: Vec<&str> = health.databases.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["postgres", "template1"]);
    assert!(health.databases[0]
        .size_bytes
        .is_some_and(|size| size > 1_000_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_is_discovered_identified_and_seen_down() {
    let mut server = start_mariadb().await;
    // `mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)`
    let installed = version_output(&find_program("mariadbd", "mariadb-server"));
    let installed = installed
        .split_whitespace()
        .skip_while(|word| *word != "Ver")
        .nth(1)
        .unwrap()
        .to_owned();

    let instances = collect_with(Vec::new(), &[]).await;
    let instance = find(&instances, server.port);
    assert_eq!(instance.engine, DatabaseEngine::Mariadb, "{instance:#?}");
    assert_eq!(instance.version.as_deref(), Some(installed.as_str()));
    assert_discovered_by_socket(instance, server.pid(), "mariadbd");
    assert!(instance.other_endpoints.contains(&DatabaseEndpoint::Unix {
        path: server.dir.path().join("my.sock").display().to_string()
    }));
    assert!(instance.reachable);
    assert!(instance.tls_offered.is_some());
    assert_eq!(instance.auth_required, None, "the probe does not log in");
    assert_eq!(instance.error, None);

    server.stop("-TERM").await;
    let after = collect_with(Vec::new(), &instances).await;
    assert_down(&after, server.port, DatabaseEngine::Mariadb);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_is_discovered_identified_and_seen_down() {
    let mut server = start_redis(None, None).await;
    // `Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=...`
    let installed = version_output(&find_program("redis-server", "redis-server"));
    let installed = installed
        .split_whitespace()
        .find_map(|word| word.strip_prefix("v="))
        .unwrap()
        .to_owned();

    let instances = collect_with(Vec::new(), &[]).await;
    let instance = find(&instances, server.port);
    assert_eq!(instance.engine, DatabaseEngine::Redis, "{instance:#?}");
    assert_eq!(instance.version.as_deref(), Some(installed.as_str()));
    assert_discovered_by_socket(instance, server.pid(), "redis-server");
    assert!(instance.reachable);
    assert_eq!(instance.auth_required, Some(false));
    // An open Redis answers INFO without credentials.
    let health = instance.health.as_ref().expect("health from INFO");
    assert!(health.connections.is_some_and(|n| n >= 1));
    assert!(health.max_connections.is_some());
    assert!(health.used_memory_bytes.is_some_and(|bytes| bytes > 0));
    assert_eq!(
        health.replication.as_ref().map(|r| r.role),
        Some(ReplicationRole::Primary)
    );
    assert_eq!(health.slow_queries, Some(0));

    server.stop("-TERM").await;
    let after = collect_with(Vec::new(), &instances).await;
    assert_down(&after, server.port, DatabaseEngine::Redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_with_password_needs_credentials_which_never_leak() {
    let password = "Tr0ub4dor-and-3-horses";
    let credentials_dir = tempfile::tempdir().unwrap();
    let password_file = credentials_dir.path().join("redis.pass");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    let credentials = DatabaseCredentials {
        user: None,
        database: None,
        password_file: Some(password_file.clone()),
        password_secret: None,
    };
    let loaded = credentials.load().await.unwrap();
    let server = start_redis(Some(password), Some(&loaded)).await;

    // Without credentials: found, reachable, NOAUTH, no version.
    let anonymous = collect_with(Vec::new(), &[]).await;
    let instance = find(&anonymous, server.port);
    assert_eq!(instance.engine, DatabaseEngine::Redis);
    assert!(instance.reachable);
    assert_eq!(instance.auth_required, Some(true));
    assert_eq!(instance.version, None);
    assert_eq!(instance.health, None);

    // With credentials: version and health.
    let target = DatabaseTarget {
        engine: DatabaseEngine::Redis,
        endpoint: loopback(server.port),
        credentials: Some(credentials.clone()),
    };
    let config_debug = format!("{target:?} {loaded:?}");
    let instances = collect_with(vec![target], &[]).await;
    let instance = find(&instances, server.port);
    assert_eq!(instance.auth_required, Some(true));
    assert!(instance.version.is_some(), "{instance:#?}");
    assert!(instance.health.as_ref().unwrap().connections.is_some());

    // A wrong password: an error that does not echo it.
    let wrong_file = credentials_dir.path().join("wrong.pass");
    std::fs::write(&wrong_file, "not-the-Tr0ub4dor-password").unwrap();
    let wrong = DatabaseTarget {
        engine: DatabaseEngine::Redis,
        endpoint: loopback(server.port),
        credentials: Some(DatabaseCredentials {
            password_file: Some(wrong_file),
            password_secret: None,
            ..credentials
        }),
    };
    let wrong_instances = collect_with(vec![wrong], &[]).await;
    let wrong_instance = find(&wrong_instances, server.port);
    assert!(
        wrong_instance
            .error
            .as_deref()
            .unwrap_or("")
            .contains("authentication failed"),
        "{wrong_instance:#?}"
    );

    for text in [
        config_debug,
        format!("{instances:?} {wrong_instances:?}"),
        serde_json::to_string(&instances).unwrap(),
        serde_json::to_string(&wrong_instances).unwrap(),
        crate::diag::databases::render_table(&instances),
    ] {
        assert!(!text.contains("Tr0ub4dor"), "password leaked: {text}");
    }
}

/// Issue 4: an HTTP server on a well-known database port is found by discovery and reported
/// as unknown, quickly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_4_http_on_a_database_port_is_unknown() {
    let listener = [5432u16, 6379, 27017, 9000, 3306]
        .into_iter()
        .find_map(|port| std::net::TcpListener::bind(("127.0.0.1", port)).ok())
        .expect("all well-known database ports are taken on 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    let instances = collect_with(Vec::new(), &[]).await;
    server.abort();
    let instance = find(&instances, port);
    assert!(instance
        .discovered_by
        .contains(&DiscoveryMethod::WellKnownPort));
    if port == 3306 {
        // MySQL servers speak first; a silent HTTP server times out instead.
        assert!(!instance.reachable);
        assert!(instance
            .error
            .as_deref()
            .unwrap()
            .contains("no complete answer"));
    } else {
        assert_eq!(instance.engine, DatabaseEngine::Unknown, "{instance:#?}");
        assert!(!instance.reachable);
        assert!(
            instance.error.as_deref().unwrap().contains("HTTP"),
            "{instance:#?}"
        );
    }
}
