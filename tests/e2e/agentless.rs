//! Issue 16, story 6: agentless hosts end to end. A real controller, a real proxy agent and a
//! real OpenSSH sshd on loopback whose remote PATH (sshd's `SetEnv PATH=`) holds fake
//! `smartctl`, `zpool`, `zfs` and `mdadm` scripts replaying the repository's fixtures (those
//! of the local storage tests), plus a `cat` that shows an md array in `/proc/mdstat`. The
//! login key is the one the controller generated, put in an `AuthorizedKeysFile` under the
//! test's directory.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_controller::admin::{AdminRequest, AdminResponse, AgentlessRequest};
use unity_controller::domain::agentless::AgentlessView;
use unity_controller::service::RunningController;
use unity_controller::storage::agents::StateKind;
use unity_shared::model::storage::VerdictStatus;
use unity_shared::proto::{AgentId, StorageState};
use unity_tests::sshd::{keygen, Sshd};
use unity_tests::*;

/// The fake tools of the remote host, in `dir/bin`: those of the local storage tests
/// (`smartctl`, `zpool`, `zfs`, `mdadm`), and a `cat` that shows their md array in
/// `/proc/mdstat`.
fn fake_remote_tools(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    crate::storage::fake_host(&bin);
    let mdstat = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../agent/src/collect/mdraid/testdata/proc-mdstat-raid5-recovery-degraded.txt");
    let cat = bin.join("cat");
    std::fs::write(
        &cat,
        format!(
            "#!/bin/sh\nif [ \"$1\" = /proc/mdstat ]; then exec /bin/cat \"{}\"; fi\nexec /bin/cat \"$@\"\n",
            mdstat.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cat, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// An sshd that takes keys from `dir/authorized_keys` and runs commands with the fake tools
/// first on the PATH.
pub(crate) fn remote_host(dir: &Path) -> Sshd {
    let bin = fake_remote_tools(dir);
    let authorized = dir.join("authorized_keys");
    std::fs::write(&authorized, "").unwrap();
    Sshd::start(
        &dir.join("sshd"),
        &format!(
            "AuthorizedKeysFile {}\nSetEnv PATH={}:/usr/bin:/bin\n",
            authorized.display(),
            bin.display()
        ),
    )
}

pub(crate) async fn agentless(
    controller: &RunningController,
    request: AgentlessRequest,
) -> AgentlessView {
    match admin_request(controller, AdminRequest::Agentless(request)).await {
        AdminResponse::Agentless(mut views) if views.len() == 1 => views.remove(0),
        other => panic!("unexpected answer: {other:?}"),
    }
}

/// What the agentless tests start with: the remote host's sshd, a controller and a started
/// proxy agent collecting its own reports every `interval`, all under `dir`.
pub(crate) struct Lab {
    pub sshd: Sshd,
    pub controller: RunningController,
    pub proxy: AgentId,
    pub agent: unity_agent::runtime::RunningAgent,
}

pub(crate) async fn lab(dir: &Path, interval: Duration) -> Lab {
    init_logging();
    let sshd = remote_host(dir);
    let controller = start_controller(controller_config(&dir.join("controller"))).await;
    let (proxy, agent) = enrolled_agent(&controller, &dir.join("agent"), interval).await;
    Lab {
        sshd,
        controller,
        proxy,
        agent,
    }
}

/// Adding `nas` on the loopback sshd at `port`, collected by `proxy` every second, logging in
/// with a generated key or with `key_secret`.
pub(crate) fn add_nas_request(
    port: u16,
    proxy: &AgentId,
    collect: &str,
    key_secret: Option<&str>,
) -> AgentlessRequest {
    AgentlessRequest::Add {
        name: "nas".into(),
        address: "127.0.0.1".into(),
        port,
        user: "root".into(),
        proxy: proxy.to_string(),
        collect: collect.into(),
        interval_secs: 1,
        key_secret: key_secret.map(str::to_owned),
    }
}

/// Adds `nas` collected by `proxy` and authorizes its generated key on the host.
async fn add_nas(
    controller: &RunningController,
    sshd: &Sshd,
    dir: &Path,
    proxy: &AgentId,
) -> AgentlessView {
    let request = add_nas_request(sshd.port, proxy, "system,smart,zfs,raid", None);
    let view = agentless(controller, request).await;
    let public = view.public_key.clone().unwrap();
    assert!(public.starts_with("ssh-ed25519 "), "{view:?}");
    std::fs::write(dir.join("authorized_keys"), format!("{public}\n")).unwrap();
    view
}

/// `ssh-keygen -lf`'s SHA256 fingerprint of a public key file.
pub(crate) fn fingerprint_of(public_key: &Path) -> String {
    #[allow(clippy::disallowed_methods)] // ssh-keygen is the reference here.
    let output = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(public_key)
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    text.split_whitespace().nth(1).unwrap().to_owned()
}

pub(crate) async fn show(controller: &RunningController) -> AgentlessView {
    agentless(controller, AgentlessRequest::Show { name: "nas".into() }).await
}

async fn host_view(controller: &RunningController, id: &str) -> unity_controller::admin::HostView {
    match admin_request(controller, AdminRequest::Hosts).await {
        AdminResponse::Hosts(hosts) => hosts.into_iter().find(|h| h.agent_id == id).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_agentless_host_confirmed_collected_then_down_while_the_proxy_keeps_reporting() {
    let dir = tempfile::tempdir().unwrap();
    let Lab {
        sshd,
        controller,
        proxy,
        agent: _agent,
    } = lab(dir.path(), Duration::from_millis(500)).await;
    add_nas(&controller, &sshd, dir.path(), &proxy).await;
    let nas = AgentId::new("nas").unwrap();

    // No key pinned: the proxy reports the presented one and collects nothing.
    let view = eventually(
        "the host key to confirm",
        Duration::from_secs(30),
        || async {
            let view = show(&controller).await;
            (view.state.as_deref() == Some("host_key_to_confirm")).then_some(view)
        },
    )
    .await;
    let expected = fingerprint_of(&sshd.host_key.with_extension("pub"));
    assert_eq!(
        view.presented_fingerprint.as_deref(),
        Some(expected.as_str())
    );
    assert!(!sshd.log().contains("Accepted publickey"), "{}", sshd.log());
    let state: Option<(i64, StorageState)> = controller
        .context
        .store
        .agents
        .latest(&nas, StateKind::Storage)
        .unwrap();
    assert!(state.is_none());

    // A wrong fingerprint is refused; the right one pins the key.
    let refused = admin_request(
        &controller,
        AdminRequest::Agentless(AgentlessRequest::Confirm {
            name: "nas".into(),
            fingerprint: Some("SHA256:not-this-one".into()),
        }),
    )
    .await;
    assert!(matches!(refused, AdminResponse::Error(_)), "{refused:?}");
    let pinned = agentless(
        &controller,
        AgentlessRequest::Confirm {
            name: "nas".into(),
            fingerprint: Some(expected.clone()),
        },
    )
    .await;
    assert_eq!(
        pinned.host_key_fingerprint.as_deref(),
        Some(expected.as_str())
    );

    // Collected under the host's own id, with the verdicts of the replayed fixtures.
    let (_, state): (i64, StorageState) = eventually(
        "the agentless host's storage state",
        Duration::from_secs(30),
        || async {
            controller
                .context
                .store
                .agents
                .latest(&nas, StateKind::Storage)
                .unwrap()
        },
    )
    .await;
    let verdicts: Vec<VerdictStatus> = state
        .smart
        .devices
        .iter()
        .filter_map(|device| device.verdict.as_ref().map(|v| v.status))
        .collect();
    assert!(verdicts.contains(&VerdictStatus::Failing), "{verdicts:?}");
    assert!(!state.zfs.pools.is_empty(), "{:?}", state.zfs);
    assert!(!state.raid.arrays.is_empty(), "{:?}", state.raid);
    eventually(
        "load average of the agentless host",
        Duration::from_secs(20),
        || async { (!query(&controller, &nas, "load_average").await.is_empty()).then_some(()) },
    )
    .await;
    eventually(
        "smart_verdict series of the agentless host",
        Duration::from_secs(20),
        || async { (!query(&controller, &nas, "smart_verdict").await.is_empty()).then_some(()) },
    )
    .await;
    let host = eventually(
        "the agentless host online",
        Duration::from_secs(20),
        || async {
            let host = host_view(&controller, "nas").await;
            (host.status == "online").then_some(host)
        },
    )
    .await;
    assert_eq!(host.agentless_via.as_deref(), Some(proxy.as_str()));
    assert_eq!(show(&controller).await.state.as_deref(), Some("collected"));

    // The host dies: reported unreachable and down; the proxy keeps reporting its own.
    drop(sshd);
    let host = eventually(
        "the agentless host down",
        Duration::from_secs(30),
        || async {
            let host = host_view(&controller, "nas").await;
            (host.status == "offline").then_some(host)
        },
    )
    .await;
    assert!(host.down_reason.is_some(), "{host:?}");
    assert_eq!(
        show(&controller).await.state.as_deref(),
        Some("unreachable")
    );
    let before = query(&controller, &proxy, "load_average").await[0]
        .points
        .len();
    eventually(
        "the proxy's own reports",
        Duration::from_secs(20),
        || async {
            let now = query(&controller, &proxy, "load_average").await[0]
                .points
                .len();
            (now > before).then_some(())
        },
    )
    .await;
    assert_eq!(
        host_view(&controller, proxy.as_str()).await.status,
        "online"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_a_wrong_pinned_host_key_is_refused_and_nothing_is_collected() {
    let dir = tempfile::tempdir().unwrap();
    let Lab {
        sshd,
        controller,
        proxy,
        agent: _agent,
    } = lab(dir.path(), Duration::from_secs(1)).await;
    add_nas(&controller, &sshd, dir.path(), &proxy).await;
    let nas = AgentId::new("nas").unwrap();
    // Another machine's key pinned (as if the host had been replaced or spoofed).
    let other = dir.path().join("other_host_key");
    keygen(&other, "other");
    let wrong = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    controller
        .context
        .store
        .agentless
        .update(&nas, |record| {
            record.host_key = Some(wrong.trim().to_owned())
        })
        .unwrap();
    // Pushed until refused: the background loop may still be sending the assignment that
    // `add_nas` queued (built before the key was changed), and it can land after this one.
    let view = eventually("the host key refused", Duration::from_secs(30), || async {
        let view = show(&controller).await;
        if view.state.as_deref() == Some("host_key_mismatch") {
            return Some(view);
        }
        let _ = unity_controller::agentless::push(&controller.context, &proxy).await;
        None
    })
    .await;
    assert!(
        view.message.as_deref().unwrap_or("").contains("refused"),
        "{view:?}"
    );
    let expected = fingerprint_of(&sshd.host_key.with_extension("pub"));
    assert_eq!(
        view.presented_fingerprint.as_deref(),
        Some(expected.as_str())
    );
    // Give it a few more rounds: still nothing logged in, nothing stored.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!sshd.log().contains("Accepted publickey"), "{}", sshd.log());
    let state: Option<(i64, StorageState)> = controller
        .context
        .store
        .agents
        .latest(&nas, StateKind::Storage)
        .unwrap();
    assert!(state.is_none());
    assert!(query(&controller, &nas, "load_average").await.is_empty());
    let host = host_view(&controller, "nas").await;
    assert_eq!(host.status, "offline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_agentless_hosts_through_the_api_and_the_pages() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let proxy = enroll_agent(&controller, &dir.path().join("agent")).await;
    let password = add_user(&controller, "alice", "admin").await;
    let mut client = logged_in_client(&controller, "alice", &password).await;

    let bad = client
        .post_json(
            "/api/v1/agentless",
            &serde_json::json!({"name": "nas", "address": "192.0.2.7", "user": "monitor",
                "proxy": proxy.as_str(), "collect": "system,telepathy"}),
        )
        .await;
    check_error(&bad, 400, "telepathy");
    let added = client
        .post_json(
            "/api/v1/agentless",
            &serde_json::json!({"name": "nas", "address": "192.0.2.7", "user": "monitor",
                "proxy": proxy.as_str(), "collect": "system,smart", "interval": "5m"}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text());
    let public_key = added.json()["public_key"].as_str().unwrap().to_owned();
    assert!(public_key.starts_with("ssh-ed25519 "), "{public_key}");
    let again = client
        .post_json(
            "/api/v1/agentless",
            &serde_json::json!({"name": "nas", "address": "192.0.2.8", "user": "monitor",
                "proxy": proxy.as_str()}),
        )
        .await;
    check_error(&again, 409, "exists");

    let list = client.get("/api/v1/agentless").await.json();
    assert_eq!(list[0]["host"], "nas");
    assert_eq!(list[0]["proxy"], proxy.as_str());
    assert_eq!(
        list[0]["collectors"],
        serde_json::json!(["system", "smart"])
    );
    assert_eq!(list[0]["interval_secs"], 300);
    // The host is a host of its own, down until its proxy collects it.
    let hosts = client.get("/api/v1/hosts").await.json();
    let nas = hosts
        .as_array()
        .unwrap()
        .iter()
        .find(|host| host["agent_id"] == "nas")
        .unwrap()
        .clone();
    assert_eq!(nas["status"], "offline");
    assert_eq!(nas["agentless"]["proxy"], proxy.as_str());

    let page = client.get("/agentless").await.text();
    assert!(
        page.contains("No container updates on agentless hosts"),
        "{page}"
    );
    assert!(page.contains(&public_key), "{page}");
    let host_page = client.get("/hosts/nas").await.text();
    assert!(
        host_page.contains(&format!("agentless via {proxy}")),
        "{host_page}"
    );
    assert!(host_page.contains("No container updates on agentless hosts"));
    let overview = client.get("/").await.text();
    assert!(
        overview.contains(&format!("agentless via {proxy}")),
        "{overview}"
    );
    assert!(
        overview.contains("<a href=\"/agentless\">Agentless</a>"),
        "the navigation links the agentless hosts: {overview}"
    );

    // Nothing presented yet: nothing to confirm.
    let confirm = client
        .post_json("/api/v1/agentless/nas/confirm", &serde_json::json!({}))
        .await;
    check_error(&confirm, 409, "presented no host key");
    assert_eq!(client.delete("/api/v1/agentless/nas").await.status, 204);
    assert_eq!(
        client.get("/api/v1/agentless").await.json(),
        serde_json::json!([])
    );
}
