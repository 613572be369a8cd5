//! Issue 16, story 1 (and its audit): managed authorized keys end to end. A real controller,
//! a real agent and a real OpenSSH sshd on loopback whose `AuthorizedKeysFile` is the file the
//! agent manages (under a temporary directory: the real `/root/.ssh` is never touched). A
//! grant lets a key log in; removing it, and an expiry, take the login away within one
//! reconcile; a hand edit of the block is reported as drift through the API, restored,
//! adopted and cleared again. Malformed keys are refused with clear errors (the CLI's in
//! ssh_access_pages.rs). Beside it, the agent's shell against a file system that really is
//! read-only (a tmpfs remounted `ro`).

use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use unity_shared::model::ssh::{
    AccessOutcome, ApplySshAccess, AuthorizedKeysMode, DriftAction, SshLine, UnixUser, UserKeys,
};
use unity_tests::http::HttpClient;
use unity_tests::sshd::{keygen, Sshd};
use unity_tests::*;

const RECONCILE: Duration = Duration::from_secs(2);

/// Waits (up to 20 s) until `check` holds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn drift(admin: &mut HttpClient) -> serde_json::Value {
    let response = admin.get("/api/v1/ssh/drift").await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

async fn wait_for_drift(admin: &mut HttpClient) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = drift(admin).await;
        if found.as_array().is_some_and(|list| !list.is_empty()) {
            return found;
        }
        assert!(Instant::now() < deadline, "no drift reported");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn hand_add(file: &Path, line: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    let edited = text.replace(
        "# END UNITY MANAGED KEYS",
        &format!("{line}\n# END UNITY MANAGED KEYS"),
    );
    assert_ne!(text, edited);
    std::fs::write(file, edited).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_a_granted_key_logs_in_until_the_grant_is_removed_or_expires_and_drift_is_restored_or_adopted(
) {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.ssh.reconcile_interval = RECONCILE;
    let (controller, password) = crate::api::controller_with_admin_config(config).await;
    let mut admin = logged_in_client(&controller, "ada", &password).await;

    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let keys_dir = dir.path().join("keys");
    std::fs::create_dir_all(keys_dir.join("root")).unwrap();
    let file = keys_dir.join("root/authorized_keys");
    // The owner's own lines outside the block stay byte for byte.
    let own = b"# root's own lines\r\nno-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOwnLinesStayUntouchedByUnityXXXXXXXXXXXXXXX own@box\r\n";
    std::fs::write(&file, own).unwrap();
    let mut agent_config = agent_config(&agent_dir, controller.local_addr, Duration::from_secs(5));
    agent_config.ssh_keys.authorized_keys_file =
        format!("{}/%u/authorized_keys", keys_dir.display());
    let _agent = unity_agent::runtime::start(agent_config).await.unwrap();
    let sshd = Sshd::start(
        &dir.path().join("sshd"),
        &format!(
            "AuthorizedKeysFile {}/%u/authorized_keys",
            keys_dir.display()
        ),
    );
    // Block mode is the owner's explicit choice now (file mode is the default).
    let response = admin
        .request(
            "PUT",
            &format!("/api/v1/ssh/hosts/{agent_id}"),
            &[],
            Some(("application/json", br#"{"mode":"block"}"#.to_vec())),
        )
        .await
        .unwrap();
    assert_eq!(response.status, 204, "{}", response.text());
    let alice = dir.path().join("alice");
    keygen(&alice, "alice@laptop");
    let bob = dir.path().join("bob");
    keygen(&bob, "bob@desk");
    let login = |key: &Path| sshd.login("root", key, None, &[]);
    assert!(login(&alice).is_err(), "nothing granted yet");

    // People and keys; malformed keys are refused with a message that says why.
    let response = admin
        .post_json("/api/v1/ssh/people", &json!({ "name": "alice" }))
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    for (bad, expected) in [
        ("ssh-ed25519 AAAA", "not an OpenSSH public key"),
        ("", "empty"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----",
            "private key",
        ),
        (
            include_str!("../../controller/src/domain/ssh_access/testdata/rsa1024.pub"),
            "too short",
        ),
        (
            include_str!("../../controller/src/domain/ssh_access/testdata/dsa.pub"),
            "DSA",
        ),
    ] {
        let response = admin
            .post_json(
                "/api/v1/ssh/people/alice/keys",
                &json!({ "public_key": bad }),
            )
            .await;
        assert_eq!(response.status, 400, "{bad:?}: {}", response.text());
        assert!(
            response.text().contains(expected),
            "{bad:?}: {}",
            response.text()
        );
    }
    let public = std::fs::read_to_string(alice.with_extension("pub")).unwrap();
    let response = admin
        .post_json(
            "/api/v1/ssh/people/alice/keys",
            &json!({ "public_key": public }),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    assert!(response.json()["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("SHA256:"));
    let response = admin
        .post_json(
            "/api/v1/ssh/grants",
            &json!({ "person": "alice", "users": ["root"], "host": agent_id.to_string(), "command": "echo \"x\"" }),
        )
        .await;
    assert_eq!(
        response.status,
        400,
        "a quote in a forced command: {}",
        response.text()
    );

    // Granted: the key logs in; the owner's lines are still there.
    let response = admin
        .post_json(
            "/api/v1/ssh/grants",
            &json!({ "person": "alice", "users": ["root"], "host": agent_id.to_string(), "from": ["127.0.0.0/8"] }),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    let grant = response.json()["id"].as_u64().unwrap();
    eventually("alice logs in", || login(&alice).is_ok()).await;
    let written = std::fs::read(&file).unwrap();
    assert!(
        written.starts_with(own),
        "the lines outside the block changed"
    );
    assert!(String::from_utf8_lossy(&written).contains("from=\"127.0.0.0/8\""));

    // A hand edit is drift: reported with the difference, left in place (report policy)...
    let bob_line = std::fs::read_to_string(bob.with_extension("pub"))
        .unwrap()
        .trim()
        .to_owned();
    hand_add(&file, &bob_line);
    let found = wait_for_drift(&mut admin).await;
    assert_eq!(found[0]["user"], "root");
    assert_eq!(found[0]["added"], json!([bob_line.clone()]));
    assert!(login(&bob).is_ok(), "drift is reported, not undone");
    // ...then restored: the block is Unity's again.
    let response = admin
        .post_json(&format!("/api/v1/ssh/hosts/{agent_id}/restore"), &json!({}))
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        login(&bob).is_err(),
        "restored: bob's hand-added key is gone"
    );
    assert!(login(&alice).is_ok());
    assert_eq!(drift(&mut admin).await, json!([]));

    // Edited again and adopted: the line stays, and it is no longer drift.
    hand_add(&file, &bob_line);
    wait_for_drift(&mut admin).await;
    let response = admin
        .post_json(
            &format!("/api/v1/ssh/hosts/{agent_id}/adopt"),
            &json!({ "user": "root" }),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    tokio::time::sleep(RECONCILE * 2).await;
    assert_eq!(
        drift(&mut admin).await,
        json!([]),
        "adopted lines are not drift"
    );
    assert!(login(&bob).is_ok(), "the adopted line is kept");
    let hosts = admin.get("/api/v1/ssh/hosts").await.json();
    let host = hosts
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == agent_id.to_string())
        .unwrap()
        .clone();
    assert_eq!(host["users"][0]["outcome"], "unchanged", "{host}");
    assert_eq!(host["adopted"][0][1], json!([bob_line.clone()]));
    // The owner changes their mind: the adopted line is cleared, bob is refused again.
    let clear = format!("/api/v1/ssh/hosts/{agent_id}/clear-adopted");
    let response = admin.post_json(&clear, &json!({ "user": "root" })).await;
    assert_eq!(response.status, 200, "{}", response.text());
    eventually("bob's adopted line is gone", || login(&bob).is_err()).await;
    assert!(login(&alice).is_ok());
    let response = admin.post_json(&clear, &json!({ "user": "root" })).await;
    assert_eq!(response.status, 404, "nothing adopted: {}", response.text());

    // The grant removed: alice is refused within one reconcile.
    let response = admin.delete(&format!("/api/v1/ssh/grants/{grant}")).await;
    assert_eq!(response.status, 204, "{}", response.text());
    eventually("alice is refused", || login(&alice).is_err()).await;

    // A grant with an expiry logs in, then stops being delivered.
    let response = admin
        .post_json(
            "/api/v1/ssh/grants",
            &json!({ "person": "alice", "users": ["root"], "group": "all", "expires_in": "6s" }),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text());
    eventually("alice logs in until the expiry", || login(&alice).is_ok()).await;
    eventually("the expired grant is taken away", || login(&alice).is_err()).await;
    let grants = admin.get("/api/v1/ssh/grants").await.json();
    assert_eq!(grants[0]["expired"], true);

    // Audited: who changed what, and what the agent wrote.
    let audit = admin.get("/api/v1/audit").await.text();
    for action in [
        "ssh.person_add",
        "ssh.key_add",
        "ssh.grant_add",
        "ssh.grant_remove",
        "ssh.drift_found",
        "ssh.drift_restore",
        "ssh.drift_adopt",
        "ssh.adopted_clear",
        "ssh.keys_written",
        "ssh.keys_restored",
    ] {
        assert!(audit.contains(action), "{action} not audited: {audit}");
    }
    assert!(std::fs::read(&file).unwrap().starts_with(own));
}

/// `mount` and `umount`, as the e2e harness runs other real tools.
fn run(program: &str, args: &[&str]) -> bool {
    #[allow(clippy::disallowed_methods)]
    let status = std::process::Command::new(program).args(args).status();
    status.is_ok_and(|status| status.success())
}

#[test]
fn issue_16_a_read_only_file_system_is_a_clear_failure_with_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("ro");
    std::fs::create_dir(&mount).unwrap();
    assert!(
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                "size=1m",
                "tmpfs",
                mount.to_str().unwrap()
            ]
        ),
        "mounting a tmpfs needs root"
    );
    let keys = mount.join("root");
    std::fs::create_dir(&keys).unwrap();
    let original = b"# mine\r\nssh-ed25519 AAAA own\r\n";
    std::fs::write(keys.join("authorized_keys"), original).unwrap();
    assert!(run("mount", &["-o", "remount,ro", mount.to_str().unwrap()]));
    let mut config =
        unity_agent::config::ssh_keys::SshKeysConfig::defaults(&dir.path().join("data"));
    config.authorized_keys_file = format!("{}/%u/authorized_keys", mount.display());
    let command = ApplySshAccess {
        generation: 1,
        mode: AuthorizedKeysMode::Block,
        on_drift: DriftAction::Report,
        users: vec![UserKeys {
            user: UnixUser::new("root").unwrap(),
            lines: vec![SshLine::new("ssh-ed25519 AAAAC3Nza new").unwrap()],
        }],
    };
    let applied = unity_agent::ssh_access::apply_blocking(&config, &command);
    let entries: Vec<_> = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let contents = std::fs::read(keys.join("authorized_keys")).unwrap();
    run("umount", &[mount.to_str().unwrap()]);
    let applied = applied.unwrap();
    let AccessOutcome::Failed { message } = &applied.users[0].outcome else {
        panic!("{applied:?}");
    };
    assert!(message.contains("Read-only file system"), "{message}");
    assert_eq!(contents, original, "the file is unchanged");
    assert_eq!(entries.len(), 1, "no temporary file left: {entries:?}");
}
