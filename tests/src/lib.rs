//! End-to-end harness: real controllers (in-process or as a child process) and real agents
//! talking QUIC over loopback, with helpers to enroll, wait and inspect.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_agent::runtime::RunningAgent;
use unity_controller::admin::{self, AdminRequest, AdminResponse, SeriesView};
use unity_controller::config::{Config, RawConfig};
use unity_controller::service::{self, RunningController};
use unity_shared::proto::AgentId;

/// Logs from tests go through the test writer; set `UNITY_LOG=debug` to see more.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("UNITY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Polls `check` until it returns `Some`, failing the test after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_explained(what, timeout, || {
        let next = check();
        async move { next.await.ok_or_else(String::new) }
    })
    .await
}

/// Like [`eventually`], but `check` says what it sees while the answer is not there yet, and
/// the failure carries the last of those descriptions.
pub async fn eventually_explained<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let seen = match check().await {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if tokio::time::Instant::now() > deadline {
            if seen.is_empty() {
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            panic!("timed out after {timeout:?} waiting for {what}; last seen: {seen}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Controller configuration for tests: loopback, any free port.
pub fn controller_config(data_dir: &Path) -> Config {
    Config::from_raw(RawConfig {
        data_dir: Some(data_dir.to_owned()),
        listen: Some("127.0.0.1:0".into()),
        advertise: Some("127.0.0.1:0".into()),
        api_listen: Some("127.0.0.1:0".into()),
        ..RawConfig::default()
    })
    .unwrap()
}

pub async fn start_controller(config: Config) -> RunningController {
    service::start(config).await.expect("controller starts")
}

/// Creates a join token on a running in-process controller.
pub async fn create_token(controller: &RunningController, ttl: Duration) -> String {
    let context = controller.context.clone();
    tokio::task::spawn_blocking(move || unity_controller::domain::tokens::issue(&context, ttl))
        .await
        .unwrap()
        .unwrap()
        .token
}

pub fn agent_config(
    data_dir: &Path,
    controller: SocketAddr,
    interval: Duration,
) -> unity_agent::config::Config {
    let mut config = unity_agent::config::Config::with_data_dir(data_dir.to_owned());
    config.controller = Some(controller.to_string());
    config.interval = interval;
    config.heartbeat = Duration::from_millis(500);
    // Only system metrics by default, so tests can count reports; tests of the storage,
    // database, container, plugin and certificate collectors switch them on.
    config.storage.enabled = false;
    config.databases.enabled = false;
    config.containers.enabled = false;
    config.plugins.enabled = false;
    config.certificates.enabled = false;
    config
}

/// Enrolls an agent whose data lives in `data_dir`; returns its id.
pub async fn enroll(
    data_dir: &Path,
    controller: SocketAddr,
    token: &str,
    ca_hash: &str,
) -> anyhow::Result<AgentId> {
    let config = agent_config(data_dir, controller, Duration::from_secs(1));
    let id =
        unity_agent::cli::enroll(&config, &controller.to_string(), token, ca_hash, false).await?;
    Ok(AgentId::new(id)?)
}

/// Enrolls an agent whose data lives in `data_dir` with a new token of an in-process
/// controller (the agent is not started); returns its id.
pub async fn enroll_agent(controller: &RunningController, data_dir: &Path) -> AgentId {
    let token = create_token(controller, Duration::from_secs(60)).await;
    enroll(
        data_dir,
        controller.local_addr,
        &token,
        &controller.context.ca.ca_hash(),
    )
    .await
    .expect("enrollment succeeds")
}

/// Enrolls and starts an agent in one go.
pub async fn enrolled_agent(
    controller: &RunningController,
    data_dir: &Path,
    interval: Duration,
) -> (AgentId, RunningAgent) {
    let agent_id = enroll_agent(controller, data_dir).await;
    let agent =
        unity_agent::runtime::start(agent_config(data_dir, controller.local_addr, interval))
            .await
            .expect("agent starts");
    (agent_id, agent)
}

/// Runs an admin request the way the CLI does (daemon socket or direct).
pub async fn admin_request(controller: &RunningController, request: AdminRequest) -> AdminResponse {
    let context = controller.context.clone();
    tokio::task::spawn_blocking(move || admin::handle(&context, request))
        .await
        .unwrap()
}

/// All points of `metric` for an agent over all time.
pub fn query_request(agent_id: &AgentId, metric: &str) -> AdminRequest {
    AdminRequest::Query {
        agent_id: agent_id.to_string(),
        metric: metric.to_owned(),
        matchers: vec![],
        from_ms: 0,
        to_ms: i64::MAX,
    }
}

pub async fn query(
    controller: &RunningController,
    agent_id: &AgentId,
    metric: &str,
) -> Vec<SeriesView> {
    match admin_request(controller, query_request(agent_id, metric)).await {
        AdminResponse::Series(series) => series,
        other => panic!("query failed: {other:?}"),
    }
}

/// A controller running as a real child process, so it can be killed with SIGKILL.
pub struct ControllerProcess {
    pub child: std::process::Child,
    pub data_dir: PathBuf,
    pub address: SocketAddr,
}

impl ControllerProcess {
    /// Starts `binary run` on `address` with its data in `data_dir`.
    pub async fn start(binary: &Path, data_dir: &Path, address: SocketAddr) -> ControllerProcess {
        Self::start_logging(binary, data_dir, address, None).await
    }

    /// Like [`ControllerProcess::start`]; with `log`, the controller logs at info level into
    /// that file (appending).
    pub async fn start_logging(
        binary: &Path,
        data_dir: &Path,
        address: SocketAddr,
        log: Option<&Path>,
    ) -> ControllerProcess {
        Self::start_configured(binary, Path::new("/dev/null"), data_dir, address, log).await
    }

    /// Like [`ControllerProcess::start_logging`] with the configuration file `config`.
    pub async fn start_configured(
        binary: &Path,
        config: &Path,
        data_dir: &Path,
        address: SocketAddr,
        log: Option<&Path>,
    ) -> ControllerProcess {
        let (level, stderr) = match log {
            Some(path) => (
                "info",
                std::process::Stdio::from(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .unwrap(),
                ),
            ),
            None => ("warn", std::process::Stdio::inherit()),
        };
        #[allow(clippy::disallowed_methods)]
        let child = std::process::Command::new(binary)
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(data_dir)
            .args([
                "run",
                "--listen",
                &address.to_string(),
                "--advertise",
                &address.to_string(),
            ])
            .env("UNITY_LOG", level)
            .env("UNITY_CONTROLLER_API_LISTEN", "127.0.0.1:0")
            .stderr(stderr)
            .spawn()
            .expect("controller process starts");
        let socket = data_dir.join("admin.sock");
        eventually(
            "the controller's admin socket",
            Duration::from_secs(20),
            || {
                let socket = socket.clone();
                async move {
                    let answer = admin::call_daemon(&socket, &AdminRequest::ListTokens)
                        .await
                        .ok()?;
                    answer.map(|_| ())
                }
            },
        )
        .await;
        ControllerProcess {
            child,
            data_dir: data_dir.to_owned(),
            address,
        }
    }

    pub async fn call(&self, request: AdminRequest) -> AdminResponse {
        admin::call_daemon(&self.data_dir.join("admin.sock"), &request)
            .await
            .unwrap()
            .expect("daemon answers")
    }

    /// Creates a join token valid for `ttl`.
    pub async fn create_token(&self, ttl: Duration) -> String {
        let ttl_secs = ttl.as_secs();
        match self.call(AdminRequest::CreateToken { ttl_secs }).await {
            AdminResponse::Token(token) => token.token,
            other => panic!("creating a token: {other:?}"),
        }
    }

    /// Enrolls an agent whose data lives in `agent_dir` with a new token (the agent is not
    /// started); returns its id.
    pub async fn enroll(&self, agent_dir: &Path) -> AgentId {
        let token = self.create_token(Duration::from_secs(60)).await;
        enroll(agent_dir, self.address, &token, &ca_hash_of(&self.data_dir))
            .await
            .expect("enrollment succeeds")
    }

    /// Sends a signal by name (`STOP` to hang the process, `CONT` to wake it).
    pub fn signal(&self, name: &str) {
        #[allow(clippy::disallowed_methods)]
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} failed");
    }

    /// SIGKILL: no shutdown, no flush, no checkpoint.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free UDP port on loopback (bound and released; fine for tests on one machine). For a TCP
/// server use [`free_port`]: a port free for UDP may be held by TCP.
pub fn free_udp_address() -> SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap()
}

/// A free TCP port on loopback (bound and released), for a server started with a port number.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Copies a directory tree (files and folders), as `cp -r` does when someone clones a host's
/// data directory.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_file() {
            // A file can vanish while a running agent replaces it; a copy taken then lacks it.
            let _ = std::fs::copy(entry.path(), &target);
        }
    }
}

pub fn ca_hash_of(data_dir: &Path) -> String {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_file(data_dir.join("ca").join("ca.crt"))
        .unwrap();
    unity_shared::tls::ca_hash(&der).unwrap()
}

pub mod acme;
pub mod homelab;
pub mod http;
pub mod lab;
pub mod oidc;
pub mod page_checks;
pub mod prebuilt_agents;
pub mod sse;
pub mod sshd;
pub mod supervisor;
pub mod webdriver;

/// Adds a dashboard user to an in-process controller; returns the password.
pub async fn add_user(controller: &RunningController, name: &str, role: &str) -> String {
    let context = controller.context.clone();
    let (name, role) = (name.to_owned(), role.to_owned());
    tokio::task::spawn_blocking(move || {
        let password = unity_controller::domain::users::random_password();
        let role = unity_controller::domain::users::parse_role(&role).unwrap();
        let groups = unity_controller::domain::users::role_groups(role);
        unity_controller::domain::users::create(
            &context,
            &unity_controller::domain::actor::Actor::Cli,
            &name,
            &groups,
            &password,
        )
        .unwrap();
        password
    })
    .await
    .unwrap()
}

/// Checks that `response` is an API error with `status` whose message mentions `message`.
#[track_caller]
pub fn check_error(response: &http::HttpResponse, status: u16, message: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    let error = response.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains(message),
        "{error:?} should mention {message:?}"
    );
}

/// An HTTP client for the controller's dashboard and API, logged in as `name`.
pub async fn logged_in_client(
    controller: &RunningController,
    name: &str,
    password: &str,
) -> http::HttpClient {
    let mut client = http::HttpClient::new(controller.api_addr);
    let response = client.login(name, password).await;
    assert_eq!(response.status, 200, "login as {name}: {}", response.text());
    client
}

/// `target/test-output/` of the workspace (created), for screenshots and other artefacts.
pub fn test_output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-output");
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap_or(dir)
}
