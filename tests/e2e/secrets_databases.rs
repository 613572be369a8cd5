//! Issue 16 with the SQL servers: a real PostgreSQL (`scram-sha-256`) and a real MariaDB
//! (password authentication), each with a monitoring user whose password exists only in the
//! controller's secrets store (set through the admin socket as `secret set` does). The agent's
//! probe draws it (`password_secret`, no password file) once the scope includes the host, logs
//! in and reports the server's health; clearing the scope withdraws the value from the agent's
//! cache, its next request is refused and audited, and the probe reports the secret
//! unavailable. No file of either daemon holds the plaintext.

use crate::secrets_setup::SecretsLab;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;
use unity_shared::model::database::DatabaseEngine;
use unity_shared::model::secret::SecretName;
use unity_tests::*;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const PG_PASSWORD: &str = "Pg-password-only-in-the-store";
const MARIADB_PASSWORD: &str = "Maria-password-only-in-the-store";

fn user_ids(user: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&user))
                .then(|| (fields[2].parse().unwrap(), fields[3].parse().unwrap()))
        })
        .unwrap_or_else(|| {
            panic!("no user {user}: install its Debian package (postgresql, mariadb-server)")
        })
}

/// A server process; killed and reaped on drop.
struct Server {
    child: std::process::Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn until_listening(what: &str, port: u16) {
    eventually(what, Duration::from_secs(60), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;
}

/// PostgreSQL 15 on a free loopback port, `scram-sha-256` for every connection, `password`
/// for the `postgres` role.
#[allow(clippy::disallowed_methods)]
async fn start_postgres(dir: &Path, password: &str) -> Server {
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
    until_listening("postgres listening", port).await;
    Server { child, port }
}

/// Runs a setup command to completion, failing with its output.
fn run_setup(command: &mut std::process::Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: {error} (Debian package mariadb-server)"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// MariaDB on a free loopback port, its data and Unix socket in `dir`; `root` logs in over
/// the socket without a password (for [`mariadb_sql`]).
#[allow(clippy::disallowed_methods)]
async fn start_mariadb(dir: &Path) -> Server {
    let (uid, gid) = user_ids("mysql");
    std::os::unix::fs::chown(dir, Some(uid), Some(gid)).unwrap();
    let data = dir.join("data");
    run_setup(
        std::process::Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=mysql"])
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .arg("--skip-name-resolve")
            .arg(format!("--datadir={}", data.display()))
            .current_dir(dir),
        "mariadb-install-db",
    );
    let port = free_port();
    let log = std::fs::File::create(dir.join("server.log")).unwrap();
    let child = std::process::Command::new("/usr/sbin/mariadbd")
        .args(["--no-defaults", "--user=mysql", "--bind-address=127.0.0.1"])
        .args(["--skip-name-resolve", "--innodb-buffer-pool-size=16M"])
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--port={port}"))
        .arg(format!("--socket={}", dir.join("my.sock").display()))
        .arg(format!("--pid-file={}", dir.join("my.pid").display()))
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("mariadbd runs (Debian package mariadb-server; scripts/test installs it)");
    until_listening("mariadbd listening", port).await;
    Server { child, port }
}

/// Runs `sql` as MariaDB's `root` through the `mariadb` client on the Unix socket in `dir`.
#[allow(clippy::disallowed_methods)]
fn mariadb_sql(dir: &Path, sql: &str) {
    run_setup(
        std::process::Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", dir.join("my.sock").display()))
            .args(["--user=root", "--batch", "-e", sql]),
        "mariadb client",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_16_a_postgres_probe_logs_in_with_a_password_only_in_the_store() {
    let lab = SecretsLab::start(&[PG_PASSWORD]).await;
    let pg_dir = lab.dir.path().join("pg");
    std::fs::create_dir(&pg_dir).unwrap();
    let postgres = start_postgres(&pg_dir, PG_PASSWORD).await;
    let name = SecretName::new("pg-monitor").unwrap();
    lab.set_password(&name, PG_PASSWORD).await;
    lab.scope(&name, &[&lab.agent_id]).await;
    let agent = lab
        .start_probing_agent(
            DatabaseEngine::Postgres,
            postgres.port,
            Some("postgres"),
            &name,
        )
        .await;
    lab.until_logged_in(postgres.port, "the probe logs in to PostgreSQL")
        .await;

    lab.scope(&name, &[]).await;
    lab.until_secret_unavailable(postgres.port, &name, "the probe loses access")
        .await;
    lab.finish(agent).await;
    drop(postgres);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_16_a_mariadb_probe_logs_in_with_a_password_only_in_the_store() {
    let lab = SecretsLab::start(&[MARIADB_PASSWORD]).await;
    // Its own top-level directory: mariadbd runs as `mysql`, which must reach it.
    let maria_dir = tempfile::tempdir().unwrap();
    let mariadb = start_mariadb(maria_dir.path()).await;
    mariadb_sql(
        maria_dir.path(),
        &format!(
            "CREATE USER 'unity_agent'@'%' IDENTIFIED BY '{MARIADB_PASSWORD}'; \
             GRANT PROCESS, SLAVE MONITOR ON *.* TO 'unity_agent'@'%'; \
             CREATE DATABASE homelab; CREATE TABLE homelab.t (id INT PRIMARY KEY); \
             GRANT SELECT ON homelab.* TO 'unity_agent'@'%';"
        ),
    );
    let (port, agent_id) = (mariadb.port, &lab.agent_id);
    let name = SecretName::new("mariadb-monitor").unwrap();
    lab.set_password(&name, MARIADB_PASSWORD).await;
    let agent = lab
        .start_probing_agent(DatabaseEngine::Mariadb, port, Some("unity_agent"), &name)
        .await;

    // No scope: no password anywhere on the host, so no login; the refusal is audited.
    let refused = lab
        .until_secret_unavailable(port, &name, "the probe reports the secret missing")
        .await;
    assert!(refused.health.is_none(), "{refused:?}");
    let refusal = format!(
        "agent:{agent_id} secret.refused mariadb-monitor for agent request: host not in scope"
    );
    lab.until_audited(&refusal).await;

    // In scope: drawn over the session, logged in, the server's health reported.
    lab.scope(&name, &[agent_id]).await;
    let instance = lab
        .until_logged_in(port, "the probe logs in to MariaDB")
        .await;
    assert_eq!(instance.engine, DatabaseEngine::Mariadb);
    assert_eq!(instance.auth_required, Some(true), "{instance:?}");
    let health = instance.health.as_ref().unwrap();
    assert!(health.connections.is_some_and(|n| n >= 1), "{health:?}");
    assert!(health.uptime_seconds.is_some(), "{health:?}");
    assert!(
        health.databases.iter().any(|db| db.name == "homelab"),
        "{health:?}"
    );
    let delivered = lab.audit_lines().await;
    assert!(
        delivered.iter().any(|line| line
            == &format!(
                "agent:{agent_id} secret.deliver mariadb-monitor version 1 for agent request"
            )),
        "{delivered:?}"
    );

    // Narrowed: the agent forgets the value, asks again, is refused, and the probe stops
    // logging in.
    let refusals_before = lab
        .audit_lines()
        .await
        .iter()
        .filter(|line| **line == refusal)
        .count();
    lab.scope(&name, &[]).await;
    lab.until_secret_unavailable(port, &name, "the probe loses access")
        .await;
    eventually(
        "the agent's new request refused",
        Duration::from_secs(30),
        || async {
            let lines = lab.audit_lines().await;
            (lines.iter().filter(|line| **line == refusal).count() > refusals_before).then_some(())
        },
    )
    .await;
    lab.finish(agent).await;
    drop(mariadb);
}
