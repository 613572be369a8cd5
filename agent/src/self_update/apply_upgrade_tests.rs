//! Tests of `apply-upgrade` with real packages and a real dpkg: .debs made by dpkg-deb (a
//! script stands in for the binary), installed by the machine's dpkg into a scratch root
//! (`dpkg --root`, its own database), handed over by the agent's real receiving side, and a
//! new agent simulated by the same start and confirmation calls `unity-agent run` makes. Each
//! hostile request is refused with the scratch system unchanged (the installed version, the
//! binary's bytes, no trial) and the pending files removed.

use super::apply_upgrade::{apply, pin_keys, ApplySetup};
use super::package::{UpgradeResult, MANIFEST_FILE, REQUEST_FILE, RESULT_FILE, UPGRADE_DIR};
use super::package_tool::PackageTool;
use super::test_packages::{self, chunks};
use super::{at_start, confirm, install, receive, Installation, StartOutcome};
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_shared::model::agent_build::{AgentUpdateOutcome, BuildKind, SignedManifest};
use unity_shared::proto::InstallKind;

struct Host {
    temp: tempfile::TempDir,
    setup: ApplySetup,
    key: ring::signature::Ed25519KeyPair,
    old: PathBuf,
    new: PathBuf,
}

/// A scratch host with unity-agent 0.1.0 installed from a package, the agent's release key
/// stored, and 0.2.0 built.
async fn host_with_0_1_0(keep_installed: bool) -> Host {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let state_dir = temp.path().join("state");
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::create_dir_all(&state_dir).unwrap();
    let root = test_packages::dpkg_root(temp.path());
    let key = test_packages::key();
    test_packages::trust(&data_dir, &key);
    let old =
        test_packages::deb(temp.path(), "unity-agent", "0.1.0", test_packages::host().1).await;
    let new =
        test_packages::deb(temp.path(), "unity-agent", "0.2.0", test_packages::host().1).await;
    let tool = PackageTool {
        kind: BuildKind::Deb,
        root: Some(root.clone()),
    };
    tool.install(&old, false).await.unwrap();
    if keep_installed {
        std::fs::copy(&old, state_dir.join("installed.deb")).unwrap();
    }
    let setup = ApplySetup {
        data_dir,
        state_dir,
        exe: root.join("usr/bin/unity-agent"),
        install: InstallKind::Deb,
        tool,
        host_arch: std::env::consts::ARCH.into(),
        poll: Duration::from_millis(20),
        apt_cache: None,
    };
    Host {
        temp,
        setup,
        key,
        old,
        new,
    }
}

impl Host {
    async fn installed_version(&self) -> Option<String> {
        self.setup.tool.installed_version().await.unwrap()
    }

    fn binary(&self) -> String {
        std::fs::read_to_string(&self.setup.exe).unwrap()
    }

    fn upgrade_dir(&self) -> PathBuf {
        self.setup.data_dir.join(UPGRADE_DIR)
    }

    /// The agent receives 0.2.0 and hands it over.
    async fn hand_over_new(&self) {
        let bytes = std::fs::read(&self.new).unwrap();
        let installation = Installation {
            data_dir: self.setup.data_dir.clone(),
            exe: self.setup.exe.clone(),
            running_version: "0.1.0".into(),
            host_arch: std::env::consts::ARCH.into(),
            install: InstallKind::Deb,
        };
        let request = test_packages::update(&self.key, "0.2.0", BuildKind::Deb, &bytes, 60);
        let outcome = receive(&installation, request, &mut chunks(&bytes)).await;
        assert!(
            matches!(outcome, AgentUpdateOutcome::Restarting { .. }),
            "{outcome:?}"
        );
    }

    /// What a compromised agent could write: any manifest, request and package file.
    fn drop_request(&self, signed: &SignedManifest, request: &[u8], package: impl FnOnce(&Path)) {
        let dir = self.upgrade_dir();
        std::fs::create_dir_all(&dir).unwrap();
        package(&dir.join("pending.deb"));
        std::fs::write(
            dir.join(MANIFEST_FILE),
            postcard::to_allocvec(signed).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.join(REQUEST_FILE), request).unwrap();
    }

    fn result_file(&self) -> UpgradeResult {
        serde_json::from_slice(&std::fs::read(self.upgrade_dir().join(RESULT_FILE)).unwrap())
            .unwrap()
    }
}

const REQUEST: &[u8] = br#"{"allow_downgrade":false,"confirm_within_secs":60}"#;

/// The new agent's starts, as `unity-agent run` makes them, once the package is in; then a
/// confirmation when `confirms`.
async fn new_agent(data_dir: PathBuf, tool: PackageTool, confirms: bool) {
    loop {
        let version = tool.installed_version().await.unwrap();
        if version.as_deref() == Some("0.2.0") && install::read_trial(&data_dir).unwrap().is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The script's binary says 0.2.0 as well; the package version decides either way.
    let start = at_start(&data_dir, "0.1.0", Some("0.2.0")).unwrap();
    assert_eq!(start, StartOutcome::Run);
    if confirms {
        confirm(&data_dir).unwrap();
        return;
    }
    // A crash loop: systemd starts it again and again.
    loop {
        if at_start(&data_dir, "0.1.0", Some("0.2.0")).unwrap()
            == StartOutcome::AwaitPackageRollback
        {
            return;
        }
    }
}

#[tokio::test]
async fn a_handed_over_package_is_checked_again_installed_and_confirmed() {
    let host = host_with_0_1_0(true).await;
    host.hand_over_new().await;
    let agent = tokio::spawn(new_agent(
        host.setup.data_dir.clone(),
        host.setup.tool.clone(),
        true,
    ));
    let result = apply(&host.setup).await.unwrap();
    agent.await.unwrap();
    assert_eq!(result.outcome, "confirmed", "{result:?}");
    assert_eq!(result.version.as_deref(), Some("0.2.0"));
    assert_eq!(result.from_version.as_deref(), Some("0.1.0"));
    assert_eq!(host.installed_version().await.as_deref(), Some("0.2.0"));
    assert!(host.binary().contains("unity-agent 0.2.0"));
    // The installed package kept for the next rollback, the one it replaced as previous.
    let state = &host.setup.state_dir;
    assert_eq!(
        std::fs::read(state.join("installed.deb")).unwrap(),
        std::fs::read(&host.new).unwrap()
    );
    assert_eq!(
        std::fs::read(state.join("previous.deb")).unwrap(),
        std::fs::read(&host.old).unwrap()
    );
    assert!(!state.join("candidate.deb").exists());
    // The agent's keys were pinned at this first use.
    assert_eq!(install::read_keys(state).len(), 1);
    // Nothing pending; the result for the agent and the operator.
    let mut left: Vec<String> = std::fs::read_dir(host.upgrade_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [RESULT_FILE]);
    assert_eq!(host.result_file(), result);
    assert!(install::read_trial(&host.setup.data_dir).unwrap().is_none());
    // Run again (the path unit fires for nothing): nothing to do.
    assert_eq!(apply(&host.setup).await, None);
}

#[tokio::test]
async fn a_package_that_never_confirms_is_replaced_by_the_previous_one() {
    let host = host_with_0_1_0(true).await;
    host.hand_over_new().await;
    let agent = tokio::spawn(new_agent(
        host.setup.data_dir.clone(),
        host.setup.tool.clone(),
        false,
    ));
    let result = apply(&host.setup).await.unwrap();
    agent.await.unwrap();
    assert_eq!(result.outcome, "rolled-back", "{result:?}");
    assert!(
        result.detail.contains("started 3 times"),
        "{}",
        result.detail
    );
    assert_eq!(host.installed_version().await.as_deref(), Some("0.1.0"));
    assert!(host.binary().contains("unity-agent 0.1.0"));
    assert!(install::read_trial(&host.setup.data_dir).unwrap().is_none());
    // The package back in place is the one kept for the next time.
    let installed = std::fs::read(host.setup.state_dir.join("installed.deb")).unwrap();
    assert_eq!(installed, std::fs::read(&host.old).unwrap());
    // The old agent starts and runs normally.
    assert_eq!(
        at_start(&host.setup.data_dir, "0.1.0", Some("0.1.0")).unwrap(),
        StartOutcome::Run
    );
}

#[tokio::test]
async fn without_a_previous_package_a_failed_trial_is_reported() {
    let host = host_with_0_1_0(false).await;
    host.hand_over_new().await;
    let agent = tokio::spawn(new_agent(
        host.setup.data_dir.clone(),
        host.setup.tool.clone(),
        false,
    ));
    let result = apply(&host.setup).await.unwrap();
    agent.await.unwrap();
    assert_eq!(result.outcome, "not-confirmed", "{result:?}");
    assert!(
        result.detail.contains("no previous package"),
        "{}",
        result.detail
    );
    assert_eq!(host.installed_version().await.as_deref(), Some("0.2.0"));
    assert!(install::read_trial(&host.setup.data_dir).unwrap().is_none());
}

async fn assert_refused(host: &Host, part: &str) {
    let result = apply(&host.setup).await.expect("a request was pending");
    assert_eq!(result.outcome, "refused", "{result:?}");
    assert!(
        result.detail.contains(part),
        "{:?} lacks {part:?}",
        result.detail
    );
    assert_eq!(host.installed_version().await.as_deref(), Some("0.1.0"));
    assert!(host.binary().contains("unity-agent 0.1.0"));
    assert!(install::read_trial(&host.setup.data_dir).unwrap().is_none());
    for name in ["pending.deb", MANIFEST_FILE, REQUEST_FILE] {
        assert!(
            std::fs::symlink_metadata(host.upgrade_dir().join(name)).is_err(),
            "{name} left"
        );
    }
    assert!(!host.setup.state_dir.join("candidate.deb").exists());
}

#[tokio::test]
async fn hostile_requests_are_refused_with_the_system_unchanged() {
    let host = host_with_0_1_0(true).await;
    let new = std::fs::read(&host.new).unwrap();
    let copy = |bytes: Vec<u8>| move |path: &Path| std::fs::write(path, bytes).unwrap();
    let good = test_packages::signed(&host.key, "0.2.0", BuildKind::Deb, &new);

    // Nothing pinned yet, and the agent holds no keys: nothing verifies.
    let keys = host.setup.data_dir.join(install::KEYS_FILE);
    let saved = std::fs::read(&keys).unwrap();
    std::fs::remove_file(&keys).unwrap();
    host.drop_request(&good, REQUEST, copy(new.clone()));
    assert_refused(&host, "no release keys").await;
    std::fs::write(&keys, saved).unwrap();
    pin_keys(&host.setup.state_dir, &host.setup.data_dir).unwrap();

    // A forged manifest: signed by a stranger under the trusted key id.
    let stranger = test_packages::key();
    let forged = test_packages::signed(&stranger, "0.2.0", BuildKind::Deb, &new);
    host.drop_request(&forged, REQUEST, copy(new.clone()));
    assert_refused(&host, "signature").await;
    // The agent swaps in its own key after the pin: the pinned set decides.
    test_packages::trust(&host.setup.data_dir, &stranger);
    host.drop_request(&forged, REQUEST, copy(new.clone()));
    assert_refused(&host, "signature").await;
    test_packages::trust(&host.setup.data_dir, &stranger); // stays the agent's; the pin holds
                                                           // Other bytes than the manifest's.
    let mut evil = new.clone();
    evil[200] ^= 1;
    host.drop_request(&good, REQUEST, copy(evil));
    assert_refused(&host, "SHA-256").await;
    // A properly signed package that is not unity-agent.
    let other = test_packages::deb(
        host.temp.path(),
        "openssh-server",
        "0.2.0",
        test_packages::host().1,
    )
    .await;
    let other = std::fs::read(other).unwrap();
    let signed_other = test_packages::signed(&host.key, "0.2.0", BuildKind::Deb, &other);
    host.drop_request(&signed_other, REQUEST, copy(other));
    assert_refused(&host, "\"openssh-server\"").await;
    // The pending package a symlink to a good package elsewhere, or a huge sparse file.
    let new_path = host.new.clone();
    host.drop_request(&good, REQUEST, |path| {
        std::os::unix::fs::symlink(&new_path, path).unwrap()
    });
    assert_refused(&host, "not a regular file").await;
    host.drop_request(&good, REQUEST, |path| {
        std::fs::File::create(path)
            .unwrap()
            .set_len(1 << 40)
            .unwrap()
    });
    assert_refused(&host, "more than").await;
    // Not newer than the installed package, without an explicit rollback.
    let old = std::fs::read(&host.old).unwrap();
    let same = test_packages::signed(&host.key, "0.1.0", BuildKind::Deb, &old);
    host.drop_request(&same, REQUEST, copy(old));
    assert_refused(&host, "not newer").await;
    // A request that is not one, a manifest that is not one, a binary build.
    host.drop_request(
        &good,
        b"{\"allow_downgrade\":false,\"run\":\"sh\"}",
        copy(new.clone()),
    );
    assert_refused(&host, "does not parse").await;
    let binary = test_packages::signed(&host.key, "0.2.0", BuildKind::Binary, &new);
    host.drop_request(&binary, REQUEST, copy(new.clone()));
    assert_refused(&host, "send a deb build").await;
    // The hand-over directory itself a symlink to one holding a good request.
    let elsewhere = host.temp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("pending.deb"), &new).unwrap();
    std::fs::write(
        elsewhere.join(MANIFEST_FILE),
        postcard::to_allocvec(&good).unwrap(),
    )
    .unwrap();
    std::fs::write(elsewhere.join(REQUEST_FILE), REQUEST).unwrap();
    std::fs::remove_dir_all(host.upgrade_dir()).unwrap();
    std::os::unix::fs::symlink(&elsewhere, host.upgrade_dir()).unwrap();
    let result = apply(&host.setup).await.unwrap();
    assert_eq!(result.outcome, "refused");
    assert!(
        result.detail.contains("not a directory"),
        "{}",
        result.detail
    );
    assert_eq!(host.installed_version().await.as_deref(), Some("0.1.0"));
    // The link went, not what it pointed to.
    assert!(std::fs::symlink_metadata(host.upgrade_dir()).is_err());
    assert!(elsewhere.join(REQUEST_FILE).exists());
    // A directory planted as the request: refused, and removed so the path unit stops.
    std::fs::create_dir_all(host.upgrade_dir().join(REQUEST_FILE)).unwrap();
    let result = apply(&host.setup).await.unwrap();
    assert_eq!(result.outcome, "refused");
    assert!(std::fs::symlink_metadata(host.upgrade_dir().join(REQUEST_FILE)).is_err());
}
