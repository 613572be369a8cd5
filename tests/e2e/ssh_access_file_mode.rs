//! Issue 16, managed keys in file mode (the default) end to end, as under the packaged agent
//! unit: the agent writes `<managed_dir>/<user>` and an sshd drop-in that adds it to the
//! `AuthorizedKeysFile` in force (read from `sshd -T`), checked with `sshd -t` and activated by
//! a reload of a real sshd whose configuration has no `AuthorizedKeysFile` line of the test's
//! own: a granted key logs in. A second apply changes nothing. A drop-in sshd refuses is never
//! activated: the previous bytes are put back, sshd is not reloaded.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_agent::config::ssh_keys::SshKeysConfig;
use unity_agent::config::sshd::SshdConfig;
use unity_shared::model::ssh::{
    AccessOutcome, ApplySshAccess, AuthorizedKeysMode, DriftAction, SshLine, UnixUser, UserKeys,
};
use unity_tests::sshd::{check_config, keygen, Sshd};
use unity_tests::*;

/// A real sshd including `<root>/sshd_config.d/*.conf` (as Debian's main configuration does)
/// and no `AuthorizedKeysFile` line, and the agent's `[sshd]` and `[ssh_keys]` pointing at it.
fn sshd_lab(root: &Path, managed_dir: PathBuf) -> (Sshd, SshdConfig, SshKeysConfig) {
    let conf_d = root.join("sshd_config.d");
    std::fs::create_dir_all(&conf_d).unwrap();
    let sshd_dir = root.join("sshd");
    let sshd = Sshd::start(&sshd_dir, &format!("Include {}/*.conf", conf_d.display()));
    assert!(!std::fs::read_to_string(&sshd.config)
        .unwrap()
        .contains("AuthorizedKeysFile"));
    let mut sshd_config = SshdConfig {
        config: sshd.config.clone(),
        ..SshdConfig::default()
    };
    sshd_config.reload = vec![
        "pkill".into(),
        "-HUP".into(),
        "-F".into(),
        sshd_dir.join("sshd.pid").display().to_string(),
    ];
    let mut keys = SshKeysConfig::defaults(&root.join("agent"));
    keys.managed_dir = managed_dir;
    keys.sshd_drop_in = conf_d.join("10-unity-authorized-keys.conf");
    (sshd, sshd_config, keys)
}

fn reloads(sshd: &Sshd) -> usize {
    sshd.log().matches("Received SIGHUP").count()
}

fn login(sshd: &Sshd, key: &Path) -> Result<(), String> {
    tokio::task::block_in_place(|| sshd.login("root", key, None, &[]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_file_mode_is_the_default_and_the_agent_makes_sshd_read_the_managed_files() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.ssh.reconcile_interval = Duration::from_secs(1);
    let (controller, password) = crate::api::controller_with_admin_config(config).await;
    let mut admin = logged_in_client(&controller, "ada", &password).await;
    let managed = dir.path().join("managed");
    let (sshd, sshd_config, keys) =
        tokio::task::block_in_place(|| sshd_lab(dir.path(), managed.clone()));
    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let mut agent_config = agent_config(&agent_dir, controller.local_addr, Duration::from_secs(5));
    agent_config.sshd = sshd_config;
    agent_config.ssh_keys = SshKeysConfig {
        state_file: agent_dir.join("ssh-access.json"),
        ..keys.clone()
    };
    let _agent = unity_agent::runtime::start(agent_config).await.unwrap();
    let alice = dir.path().join("alice");
    tokio::task::block_in_place(|| keygen(&alice, "alice@laptop"));
    assert!(login(&sshd, &alice).is_err(), "nothing granted yet");

    let public = std::fs::read_to_string(alice.with_extension("pub")).unwrap();
    for (path, body) in [
        ("/api/v1/ssh/people", json!({ "name": "alice" })),
        (
            "/api/v1/ssh/people/alice/keys",
            json!({ "public_key": public }),
        ),
        (
            "/api/v1/ssh/grants",
            json!({ "person": "alice", "users": ["root"], "host": agent_id.to_string() }),
        ),
    ] {
        let response = admin.post_json(path, &body).await;
        assert_eq!(response.status, 201, "{path}: {}", response.text());
    }
    let hosts = admin.get("/api/v1/ssh/hosts").await.json();
    assert_eq!(
        hosts[0]["mode"], "file",
        "file mode is the default: {hosts}"
    );
    eventually(
        "alice logs in through the managed file",
        Duration::from_secs(20),
        || async { login(&sshd, &alice).ok() },
    )
    .await;
    let file = std::fs::read_to_string(managed.join("root")).unwrap();
    let key: Vec<&str> = public.split_whitespace().take(2).collect();
    assert!(file.contains(&key.join(" ")), "{file}");
    let drop_in = std::fs::read_to_string(&keys.sshd_drop_in).unwrap();
    assert!(
        drop_in.contains(&format!(
            "\nAuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2 {}/%u\n",
            managed.display()
        )),
        "the owner's files stay, Unity's are added: {drop_in}"
    );
    tokio::task::block_in_place(|| check_config(&sshd.config)).unwrap();
    assert_eq!(reloads(&sshd), 1, "{}", sshd.log());

    // Every further reconcile finds the entry in force: nothing written, no reload.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        std::fs::read_to_string(&keys.sshd_drop_in).unwrap(),
        drop_in
    );
    assert_eq!(reloads(&sshd), 1, "{}", sshd.log());
    let hosts = admin.get("/api/v1/ssh/hosts").await.json();
    assert_eq!(hosts[0]["users"][0]["outcome"], "unchanged", "{hosts}");
    assert!(login(&sshd, &alice).is_ok());
}

fn command(line: &str) -> ApplySshAccess {
    ApplySshAccess {
        generation: 1,
        mode: AuthorizedKeysMode::File,
        on_drift: DriftAction::Report,
        users: vec![UserKeys {
            user: UnixUser::new("root").unwrap(),
            lines: vec![SshLine::new(line).unwrap()],
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_a_managed_keys_drop_in_sshd_refuses_is_never_activated() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    // A quote in the managed directory makes the drop-in's line one sshd refuses.
    let managed = dir.path().join("keys\"odd");
    let (sshd, sshd_config, keys) =
        tokio::task::block_in_place(|| sshd_lab(dir.path(), managed.clone()));
    let alice = dir.path().join("alice");
    tokio::task::block_in_place(|| keygen(&alice, "alice@laptop"));
    let public = std::fs::read_to_string(alice.with_extension("pub")).unwrap();
    let previous = b"# an earlier drop-in of this name, kept byte for byte\n";
    std::fs::write(&keys.sshd_drop_in, previous).unwrap();

    let applied = unity_agent::ssh_access::apply(&keys, &sshd_config, command(public.trim()))
        .await
        .unwrap();
    let AccessOutcome::Failed { message } = &applied.users[0].outcome else {
        panic!("{applied:?}");
    };
    assert!(message.contains("sshd does not read them"), "{message}");
    assert!(message.contains("sshd -t refused"), "{message}");
    assert!(message.contains("put back"), "{message}");
    assert_eq!(std::fs::read(&keys.sshd_drop_in).unwrap(), previous);
    assert!(managed.join("root").exists(), "the keys file is written");
    assert_eq!(reloads(&sshd), 0, "a refused drop-in is never reloaded");
    tokio::task::block_in_place(|| check_config(&sshd.config)).unwrap();
    assert!(login(&sshd, &alice).is_err());

    // Without an earlier file of that name, the refused drop-in is removed again.
    std::fs::remove_file(&keys.sshd_drop_in).unwrap();
    let applied = unity_agent::ssh_access::apply(&keys, &sshd_config, command(public.trim()))
        .await
        .unwrap();
    assert!(
        matches!(applied.users[0].outcome, AccessOutcome::Failed { .. }),
        "{applied:?}"
    );
    assert!(!keys.sshd_drop_in.exists());
    assert_eq!(reloads(&sshd), 0);

    // The same keys with a sane directory: written, in force, reloaded once; then left alone.
    let keys = SshKeysConfig {
        managed_dir: dir.path().join("managed"),
        ..keys
    };
    for round in 0..2 {
        let applied = unity_agent::ssh_access::apply(&keys, &sshd_config, command(public.trim()))
            .await
            .unwrap();
        assert!(
            !matches!(applied.users[0].outcome, AccessOutcome::Failed { .. }),
            "round {round}: {applied:?}"
        );
        assert_eq!(reloads(&sshd), 1, "round {round}: {}", sshd.log());
    }
    eventually("alice logs in", Duration::from_secs(10), || async {
        login(&sshd, &alice).ok()
    })
    .await;
}
