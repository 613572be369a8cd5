//! Test support: real PostgreSQL, MariaDB and Redis servers from the Debian packages, started
//! on free loopback ports in their own temporary directories, killed when dropped (also when a
//! test fails), plus tiny fake TCP servers for wrong-protocol and transcript tests.
//!
//! [`mariadb_sql`] runs setup statements (users, grants) through the `mariadb` client.
//!
//! A missing server binary fails the test with the Debian package to install (`scripts/test`
//! installs them when run as root).

#![allow(clippy::disallowed_methods, clippy::indexing_slicing)]

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use unity_shared::model::database::{DatabaseEndpoint, DatabaseEngine};

use super::credentials::Credentials;
use super::probe::{self, ProbeOutcome};

pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// How long a server may take to accept connections (each starts in < 2 s on CI).
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);

/// Panics, naming the Debian package, when `program` is not installed.
pub fn require(program: &Path, package: &str) {
    assert!(
        program.exists(),
        "{} is not installed: install the Debian package `{package}` \
         (apt-get install --no-install-recommends {package}; scripts/test does it as root)",
        program.display()
    );
}

/// Finds `name` on `PATH` (or in the sbin directories Debian uses), else fails naming the package.
pub fn find_program(name: &str, package: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| candidate.exists());
    match found {
        Some(found) => found,
        None => {
            require(Path::new(name), package);
            unreachable!()
        }
    }
}

/// The uid and gid of a system user, from `/etc/passwd`.
pub fn user_ids(user: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&user)).then(|| {
                (
                    fields[2].parse::<u32>().unwrap(),
                    fields[3].parse::<u32>().unwrap(),
                )
            })
        })
        .unwrap_or_else(|| {
            panic!("no user `{user}` in /etc/passwd: is its Debian package installed?")
        })
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub fn loopback(port: u16) -> DatabaseEndpoint {
    DatabaseEndpoint::Tcp {
        host: "127.0.0.1".to_owned(),
        port,
    }
}

/// Runs a setup command to completion, failing with its output.
fn run_setup(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: {error}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The first line of `program --version`.
pub fn version_output(program: &Path) -> String {
    let output = Command::new(program).arg("--version").output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A running server process; killed and reaped on drop.
pub struct Server {
    pub engine: DatabaseEngine,
    pub port: u16,
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    log: PathBuf,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap()
    }

    pub fn endpoint(&self) -> DatabaseEndpoint {
        loopback(self.port)
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Waits until a probe gets a complete answer (`ready` says when it is complete).
    pub async fn wait_ready(
        &mut self,
        credentials: Option<&Credentials>,
        ready: impl Fn(&ProbeOutcome) -> bool,
    ) {
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            let outcome = probe::probe(
                self.engine,
                &self.endpoint(),
                credentials,
                Duration::from_secs(2),
            )
            .await;
            if ready(&outcome) {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "{:?} server exited ({status}) before it was ready:\n{}",
                        self.engine,
                        self.log_tail()
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "{:?} server on port {} not ready after {STARTUP_DEADLINE:?}; last probe: {outcome:?}\n{}",
                self.engine,
                self.port,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server and waits until it has exited (`signal` first, then SIGKILL).
    pub async fn stop(&mut self, signal: &str) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn log_file(dir: &Path) -> (PathBuf, Stdio, Stdio) {
    let log = dir.join("server.log");
    let file = std::fs::File::create(&log).unwrap();
    let stderr = file.try_clone().unwrap();
    (log, Stdio::from(file), Stdio::from(stderr))
}

/// Starts PostgreSQL 15 (trust authentication) on a free loopback port, its Unix socket in
/// its temporary directory.
pub async fn start_postgres() -> Server {
    start_postgres_with(None).await
}

/// Starts PostgreSQL 15 like [`start_postgres`], but with `scram-sha-256` authentication for
/// every connection and `password` for the `postgres` role; ready once `credentials` log in.
pub async fn start_postgres_scram(password: &str, credentials: &Credentials) -> Server {
    start_postgres_with(Some((password, credentials))).await
}

async fn start_postgres_with(scram: Option<(&str, &Credentials)>) -> Server {
    let bin = Path::new(PG_BIN);
    require(&bin.join("postgres"), "postgresql");
    require(&bin.join("initdb"), "postgresql");
    let (uid, gid) = user_ids("postgres");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
    let data = dir.path().join("data");
    let mut auth = vec!["--auth=trust".to_owned()];
    if let Some((password, _)) = scram {
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{password}\n")).unwrap();
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).unwrap();
        auth = vec![
            "--auth=scram-sha-256".to_owned(),
            format!("--pwfile={}", pwfile.display()),
        ];
    }
    run_setup(
        Command::new(bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(&auth)
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .uid(uid)
            .gid(gid),
        "initdb",
    );
    let port = free_port();
    let (log, stdout, stderr) = log_file(dir.path());
    std::os::unix::fs::chown(&log, Some(uid), Some(gid)).unwrap();
    let child = Command::new(bin.join("postgres"))
        .arg("-D")
        .arg(&data)
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
        .args(["-p", &port.to_string()])
        .arg("-k")
        .arg(dir.path())
        .current_dir(dir.path())
        .uid(uid)
        .gid(gid)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut server = Server {
        engine: DatabaseEngine::Postgres,
        port,
        child: Some(child),
        dir,
        log,
    };
    server
        .wait_ready(scram.map(|(_, credentials)| credentials), |outcome| {
            outcome.reachable && outcome.error.is_none() && outcome.version.is_some()
        })
        .await;
    server
}

/// Starts MariaDB on a free loopback port, its Unix socket in its temporary directory.
pub async fn start_mariadb() -> Server {
    let install_db = find_program("mariadb-install-db", "mariadb-server");
    let mariadbd = find_program("mariadbd", "mariadb-server");
    let (uid, gid) = user_ids("mysql");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
    let data = dir.path().join("data");
    run_setup(
        Command::new(install_db)
            .args([
                "--no-defaults",
                "--user=mysql",
                "--auth-root-authentication-method=normal",
            ])
            .args(["--skip-test-db", "--skip-name-resolve"])
            .arg(format!("--datadir={}", data.display()))
            .current_dir(dir.path()),
        "mariadb-install-db",
    );
    let port = free_port();
    let (log, stdout, stderr) = log_file(dir.path());
    let child = Command::new(mariadbd)
        .args(["--no-defaults", "--user=mysql", "--bind-address=127.0.0.1"])
        .args(["--skip-name-resolve", "--innodb-buffer-pool-size=16M"])
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--port={port}"))
        .arg(format!("--socket={}", dir.path().join("my.sock").display()))
        .arg(format!(
            "--pid-file={}",
            dir.path().join("my.pid").display()
        ))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut server = Server {
        engine: DatabaseEngine::Mariadb,
        port,
        child: Some(child),
        dir,
        log,
    };
    server
        .wait_ready(None, |outcome| {
            outcome.reachable && outcome.version.is_some()
        })
        .await;
    server
}

/// Starts Redis 7 on a free loopback port (no persistence), with `requirepass` when given.
pub async fn start_redis(password: Option<&str>, credentials: Option<&Credentials>) -> Server {
    let redis_server = find_program("redis-server", "redis-server");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (log, stdout, stderr) = log_file(dir.path());
    let mut command = Command::new(redis_server);
    command
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .arg("--dir")
        .arg(dir.path())
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"]);
    if let Some(password) = password {
        command.args(["--requirepass", password]);
    }
    let child = command
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut server = Server {
        engine: DatabaseEngine::Redis,
        port,
        child: Some(child),
        dir,
        log,
    };
    server
        .wait_ready(credentials, |outcome| {
            outcome.reachable && outcome.auth_required.is_some() && outcome.error.is_none()
        })
        .await;
    server
}

/// What a fake server does with each connection.
#[derive(Debug, Clone)]
pub enum Fake {
    /// Reads the request (up to a pause), then writes these bytes and closes.
    Reply(Vec<u8>),
    /// Writes these bytes at once, without reading, and keeps the connection open.
    Greet(Vec<u8>),
    /// Accepts and never answers.
    Silent,
    /// HTTP: answers a request whose first line is `GET <path> ` with that path's reply, then
    /// closes.
    Http(Vec<(String, Vec<u8>)>),
    /// Answers each request with the next reply in the list (one reply per read burst),
    /// recording the requests.
    Script(Vec<Vec<u8>>),
}

/// A fake TCP server on a free loopback port; its task ends when dropped.
pub struct FakeServer {
    pub port: u16,
    /// Every request received, in order (for [`Fake::Script`] and [`Fake::Reply`]).
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    pub fn endpoint(&self) -> DatabaseEndpoint {
        loopback(self.port)
    }
}

/// Reads one request: what arrives until the client pauses for 100 ms.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let wait = if request.is_empty() {
            Duration::from_secs(30)
        } else {
            Duration::from_millis(100)
        };
        match tokio::time::timeout(wait, socket.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (!request.is_empty()).then_some(request),
            Ok(Ok(n)) => request.extend_from_slice(&chunk[..n]),
            Err(_) => return (!request.is_empty()).then_some(request),
        }
    }
}

pub async fn start_fake(behaviour: Fake) -> FakeServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = requests.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let behaviour = behaviour.clone();
            let recorded = recorded.clone();
            tokio::spawn(async move {
                match behaviour {
                    Fake::Reply(reply) => {
                        if let Some(request) = read_request(&mut socket).await {
                            recorded.lock().unwrap().push(request);
                        }
                        let _ = socket.write_all(&reply).await;
                        let _ = socket.shutdown().await;
                    }
                    Fake::Http(routes) => {
                        let Some(request) = read_request(&mut socket).await else {
                            return;
                        };
                        let reply = routes.iter().find_map(|(path, reply)| {
                            request
                                .starts_with(format!("GET {path} ").as_bytes())
                                .then_some(reply.clone())
                        });
                        recorded.lock().unwrap().push(request);
                        let reply = reply.unwrap_or_else(|| {
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()
                        });
                        let _ = socket.write_all(&reply).await;
                        let _ = socket.shutdown().await;
                    }
                    Fake::Greet(greeting) => {
                        let _ = socket.write_all(&greeting).await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Fake::Silent => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        drop(socket);
                    }
                    Fake::Script(replies) => {
                        for reply in replies {
                            let Some(request) = read_request(&mut socket).await else {
                                return;
                            };
                            recorded.lock().unwrap().push(request);
                            if socket.write_all(&reply).await.is_err() {
                                return;
                            }
                        }
                        // Drain the goodbye, then close.
                        let _ = read_request(&mut socket).await;
                    }
                }
            });
        }
    });
    FakeServer {
        port,
        requests,
        task,
    }
}

/// Runs `sql` as MariaDB's `root` through the `mariadb` client on the server's Unix socket.
pub fn mariadb_sql(server: &Server, sql: &str) {
    let client = find_program("mariadb", "mariadb-client");
    run_setup(
        Command::new(client)
            .arg("--no-defaults")
            .arg(format!(
                "--socket={}",
                server.dir.path().join("my.sock").display()
            ))
            .args(["--user=root", "--batch", "-e", sql]),
        "mariadb client",
    );
}
