//! Issue 16, the SSH CA, with a real controller, a real agent and a real OpenSSH sshd on
//! loopback (never the host's /etc/ssh): host certificates verified by `ssh` through an
//! `@cert-authority` known_hosts line with StrictHostKeyChecking=yes (and refused under another
//! CA), user certificates from the real `unity-controller ssh sign` process logging in as root,
//! refused after expiry and for another principal, host-scoped principals, hostile
//! configurations refused by the agent, and a drop-in that fails `sshd -t` never activated.
//! Here: the lab (controller, agent, sshd) and its helpers; logins.rs, refused.rs, renewal.rs
//! revocation.rs (revoked certificates refused, hosts through the API and the page) and
//! offline.rs (a revocation reaching a host that was offline) the tests.

mod logins;
mod offline;
mod refused;
mod renewal;
mod revocation;

use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_controller::admin::{AdminRequest, AdminResponse, SshCaRequest, SshCaResponse};
use unity_controller::domain::ssh_ca::hosts::{EnableHost, SshHostView};
use unity_controller::service::RunningController;
use unity_shared::proto::AgentId;
use unity_tests::sshd::{keygen, Sshd};
use unity_tests::{admin_request, agent_config, controller_config, enroll_agent, init_logging};

const BINARY: &str = env!("CARGO_BIN_EXE_unity-e2e-controller");

/// Runs `unity-controller --data-dir DATA_DIR ARGS...` as a process (it talks to the running
/// controller's admin socket): (success, stdout, stderr).
fn cli(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    tokio::task::block_in_place(|| {
        #[allow(clippy::disallowed_methods)]
        let output = std::process::Command::new(BINARY)
            .args(["--config", "/dev/null", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("UNITY_LOG", "warn")
            .output()
            .expect("the controller binary runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    })
}

fn login(sshd: &Sshd, key: &Path, known_hosts: Option<&Path>) -> Result<(), String> {
    tokio::task::block_in_place(|| sshd.login("root", key, known_hosts, &[]))
}

/// Waits until sshd accepts connections again after the agent's SIGHUP.
async fn serving(sshd: &Sshd) {
    tokio::time::sleep(Duration::from_millis(700)).await;
    unity_tests::eventually(
        "sshd accepts connections",
        Duration::from_secs(10),
        || async {
            std::net::TcpStream::connect(("127.0.0.1", sshd.port))
                .ok()
                .map(|_| ())
        },
    )
    .await;
}

fn reloads(sshd: &Sshd) -> usize {
    sshd.log().matches("Received SIGHUP").count()
}

async fn ssh_ca(controller: &RunningController, request: SshCaRequest) -> SshCaResponse {
    match admin_request(controller, AdminRequest::SshCa(request)).await {
        AdminResponse::SshCa(response) => response,
        other => panic!("unexpected answer {other:?}"),
    }
}

async fn enable(controller: &RunningController, enable: EnableHost) -> SshHostView {
    match ssh_ca(controller, SshCaRequest::HostEnable(enable)).await {
        SshCaResponse::Hosts(mut views) => views.remove(0),
        other => panic!("unexpected answer {other:?}"),
    }
}

struct Lab {
    _dir: tempfile::TempDir,
    root: PathBuf,
    controller: RunningController,
    controller_dir: PathBuf,
    agent_id: AgentId,
    /// The agent's configuration, to start it again after stopping it.
    agent_config: unity_agent::config::Config,
    agent: Option<unity_agent::runtime::RunningAgent>,
    sshd: Sshd,
    unity_dir: PathBuf,
    drop_in: PathBuf,
}

/// A controller with the SSH CA on, a real sshd whose main config includes a drop-in
/// directory (`include` is how), and an agent whose `[sshd]` points at them.
async fn lab(include: &str) -> Lab {
    lab_checking_every(include, Duration::from_secs(60)).await
}

/// [`lab`] with the SSH CA's loop running every `check_interval`.
async fn lab_checking_every(include: &str, check_interval: Duration) -> Lab {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let controller_dir = root.join("controller");
    let mut config = controller_config(&controller_dir);
    config.ssh_ca.enabled = true;
    config.ssh_ca.check_interval = check_interval;
    let controller = unity_tests::start_controller(config).await;

    let conf_d = root.join("sshd_config.d");
    std::fs::create_dir_all(&conf_d).unwrap();
    let sshd_dir = root.join("sshd");
    let sshd = tokio::task::block_in_place(|| {
        Sshd::start(
            &sshd_dir,
            &include.replace("CONF_D", &conf_d.display().to_string()),
        )
    });
    let unity_dir = root.join("unity");
    let drop_in = conf_d.join("50-unity.conf");

    let agent_dir = root.join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let mut config = agent_config(&agent_dir, controller.local_addr, Duration::from_secs(5));
    config.sshd.host_keys = vec![sshd_dir.join("host_*.pub").display().to_string()];
    config.sshd.unity_dir = unity_dir.clone();
    config.sshd.drop_in = drop_in.clone();
    config.sshd.config = sshd.config.clone();
    config.sshd.reload = vec![
        "pkill".into(),
        "-HUP".into(),
        "-F".into(),
        sshd_dir.join("sshd.pid").display().to_string(),
    ];
    let agent_config = config.clone();
    let agent = unity_agent::runtime::start(config).await.unwrap();
    let hub = controller.context.clone();
    let id = agent_id.clone();
    unity_tests::eventually("the agent connects", Duration::from_secs(20), || {
        let connected = hub.hub.is_connected(&id);
        async move { connected.then_some(()) }
    })
    .await;
    Lab {
        _dir: dir,
        root,
        controller,
        controller_dir,
        agent_id,
        agent_config,
        agent: Some(agent),
        sshd,
        unity_dir,
        drop_in,
    }
}

fn user_key(lab: &Lab, name: &str) -> PathBuf {
    let key = lab.root.join(name);
    tokio::task::block_in_place(|| keygen(&key, name));
    key
}

fn sign(lab: &Lab, key: &Path, args: &[&str]) {
    let public = format!("{}.pub", key.display());
    let mut all = vec!["ssh", "sign", "--user", "ops"];
    all.extend_from_slice(args);
    all.push(&public);
    let (ok, stdout, stderr) = cli(&lab.controller_dir, &all);
    assert!(ok, "ssh sign failed: {stderr}");
    assert!(stdout.contains("Signed serial"), "{stdout}");
    assert!(Path::new(&format!("{}-cert.pub", key.display())).exists());
}
