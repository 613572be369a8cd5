//! Tests of a self-update on real files: shell scripts stand in for the old and new agent
//! binaries (a second real build of the agent with another version is not possible inside a
//! unit test; the e2e test runs the real binary). Each refusal leaves the installed binary
//! byte for byte as it was and no staged file behind; the accepted build is swapped in with
//! the previous kept, and a build that never confirms is put back by the starts it uses up.

use super::decide::MAX_TRIAL_STARTS;
use super::*;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use std::collections::VecDeque;
use std::os::unix::fs::PermissionsExt;
use unity_shared::model::agent_build::{
    signed_payload, AgentBuildManifest, BuildArch, BuildKind, ReleaseKey, ReleaseKeys,
    SignedManifest,
};

struct Chunks(VecDeque<AgentBuildChunk>);

impl ChunkSource for Chunks {
    async fn next_chunk(&mut self) -> anyhow::Result<Option<AgentBuildChunk>> {
        Ok(self.0.pop_front())
    }
}

fn chunks(bytes: &[u8]) -> Chunks {
    Chunks(
        bytes
            .chunks(7)
            .enumerate()
            .map(|(n, piece)| AgentBuildChunk {
                offset: (n * 7) as u64,
                bytes: piece.to_vec(),
            })
            .collect(),
    )
}

fn script(version_line: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho '{version_line}'\n").into_bytes()
}

struct Setup {
    _temp: tempfile::TempDir,
    installation: Installation,
    key: Ed25519KeyPair,
    old: Vec<u8>,
}

fn setup() -> Setup {
    let temp = tempfile::tempdir().unwrap();
    let bin = temp.path().join("bin");
    let data_dir = temp.path().join("data");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&data_dir).unwrap();
    let exe = bin.join("unity-agent");
    let old = script("unity-agent 0.1.0");
    std::fs::write(&exe, &old).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    install::write_keys(
        &data_dir,
        &ReleaseKeys {
            keys: vec![ReleaseKey {
                key_id: "k1".into(),
                public_key: key.public_key().as_ref().to_vec(),
                valid_until_ms: None,
            }],
        },
    )
    .unwrap();
    Setup {
        _temp: temp,
        installation: Installation {
            data_dir,
            exe,
            running_version: "0.1.0".into(),
            host_arch: "x86_64".into(),
            install: InstallKind::File,
        },
        key,
        old,
    }
}

fn request(key: &Ed25519KeyPair, version: &str, bytes: &[u8], downgrade: bool) -> UpdateAgent {
    let manifest = AgentBuildManifest {
        version: version.into(),
        arch: BuildArch::X86_64,
        kind: BuildKind::Binary,
        size: bytes.len() as u64,
        sha256: decide::digest(bytes),
        added_at_ms: 1,
    };
    let manifest = postcard::to_allocvec(&manifest).unwrap();
    UpdateAgent {
        manifest: SignedManifest {
            signature: key.sign(&signed_payload(&manifest)).as_ref().to_vec(),
            manifest,
            key_id: "k1".into(),
        },
        allow_downgrade: downgrade,
        confirm_within_secs: 120,
    }
}

fn assert_untouched(setup: &Setup) {
    let exe = &setup.installation.exe;
    assert_eq!(std::fs::read(exe).unwrap(), setup.old);
    assert!(!install::staged_path(exe).exists());
    assert!(!install::previous_path(exe).exists());
    assert!(install::read_trial(&setup.installation.data_dir)
        .unwrap()
        .is_none());
}

async fn refusal(setup: &Setup, request: UpdateAgent, bytes: &[u8]) -> String {
    match receive(&setup.installation, request, &mut chunks(bytes)).await {
        AgentUpdateOutcome::Refused { reason } => reason,
        other => panic!("accepted: {other:?}"),
    }
}

#[tokio::test]
async fn hostile_builds_are_refused_without_touching_the_installed_binary() {
    let setup = setup();
    let new = script("unity-agent 0.2.0");

    // Signed by a stranger under the known key id.
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let stranger = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let reason = refusal(&setup, request(&stranger, "0.2.0", &new, false), &new).await;
    assert!(reason.contains("signature"), "{reason}");
    assert_untouched(&setup);

    // Other bytes than the manifest names (same length, one byte changed).
    let mut evil = new.clone();
    let last = evil.len() - 2;
    evil[last] = b'X';
    let reason = refusal(&setup, request(&setup.key, "0.2.0", &new, false), &evil).await;
    assert!(reason.contains("SHA-256"), "{reason}");
    assert_untouched(&setup);

    // The bytes stop early.
    let reason = refusal(&setup, request(&setup.key, "0.2.0", &new, false), &new[..5]).await;
    assert!(reason.contains("ended"), "{reason}");
    assert_untouched(&setup);

    // A downgrade, and the same version, without an explicit rollback.
    let older = script("unity-agent 0.0.9");
    let reason = refusal(&setup, request(&setup.key, "0.0.9", &older, false), &older).await;
    assert!(reason.contains("not newer"), "{reason}");
    let reason = refusal(
        &setup,
        request(&setup.key, "0.1.0", &setup.old, false),
        &setup.old,
    )
    .await;
    assert!(reason.contains("not newer"), "{reason}");
    assert_untouched(&setup);

    // A build that does not run (another architecture's ELF, or garbage), one that fails its
    // --version, and one that claims another version than its manifest.
    let mut foreign = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\xb7\0".to_vec();
    foreign.extend_from_slice(&[0u8; 64]);
    let reason = refusal(
        &setup,
        request(&setup.key, "0.2.0", &foreign, false),
        &foreign,
    )
    .await;
    assert!(reason.contains("--version"), "{reason}");
    let failing = b"#!/bin/sh\nexit 3\n".to_vec();
    let reason = refusal(
        &setup,
        request(&setup.key, "0.2.0", &failing, false),
        &failing,
    )
    .await;
    assert!(reason.contains("exited with 3"), "{reason}");
    let liar = script("unity-agent 0.3.0");
    let reason = refusal(&setup, request(&setup.key, "0.2.0", &liar, false), &liar).await;
    assert!(reason.contains("0.3.0"), "{reason}");
    assert_untouched(&setup);

    // No release keys received: nothing verifies.
    std::fs::remove_file(setup.installation.data_dir.join("release-keys.json")).unwrap();
    let reason = refusal(&setup, request(&setup.key, "0.2.0", &new, false), &new).await;
    assert!(reason.contains("release key"), "{reason}");
    assert_untouched(&setup);
}

#[tokio::test]
async fn a_package_owned_binary_is_not_replaced() {
    let mut setup = setup();
    setup.installation.install = InstallKind::Deb;
    let new = script("unity-agent 0.2.0");
    let reason = refusal(&setup, request(&setup.key, "0.2.0", &new, false), &new).await;
    assert!(reason.contains("dpkg owns"), "{reason}");
    assert_untouched(&setup);
    // A binary in a temporary directory belongs to no package.
    assert_eq!(
        crate::install::detect(&crate::exec::Local, &setup.installation.exe).await,
        InstallKind::File
    );
}

#[tokio::test]
async fn a_build_is_swapped_in_and_one_that_never_confirms_is_put_back() {
    let setup = setup();
    let (exe, data_dir) = (&setup.installation.exe, &setup.installation.data_dir);
    let new = script("unity-agent 0.2.0");
    let outcome = receive(
        &setup.installation,
        request(&setup.key, "0.2.0", &new, false),
        &mut chunks(&new),
    )
    .await;
    assert_eq!(
        outcome,
        AgentUpdateOutcome::Restarting {
            from_version: "0.1.0".into(),
            to_version: "0.2.0".into()
        }
    );
    assert_eq!(std::fs::read(exe).unwrap(), new);
    assert_eq!(
        std::fs::read(install::previous_path(exe)).unwrap(),
        setup.old
    );
    assert!(!install::staged_path(exe).exists());
    let mode = std::fs::metadata(exe).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    // The swapped-in file runs.
    let output = exec::run(
        &CommandSpec::new(exe.clone(), &["--version"]),
        VERSION_TIMEOUT,
    )
    .await
    .unwrap();
    assert_eq!(output.stdout_lossy().trim(), "unity-agent 0.2.0");

    // The new binary starts and crashes before confirming, again and again: each start is
    // counted, and the one after the last allowed puts the previous binary back.
    for start in 1..=MAX_TRIAL_STARTS {
        assert_eq!(
            at_start(data_dir, "0.2.0", None).unwrap(),
            StartOutcome::Run
        );
        assert_eq!(
            install::read_trial(data_dir).unwrap().unwrap().starts,
            start
        );
    }
    assert_eq!(
        at_start(data_dir, "0.2.0", None).unwrap(),
        StartOutcome::RolledBack
    );
    assert_eq!(std::fs::read(exe).unwrap(), setup.old);
    // The previous binary starts again and forgets the trial.
    assert_eq!(
        at_start(data_dir, "0.1.0", None).unwrap(),
        StartOutcome::Run
    );
    assert!(install::read_trial(data_dir).unwrap().is_none());

    // An explicit rollback to an older build is accepted, and confirming ends its trial.
    let installation = Installation {
        data_dir: data_dir.clone(),
        exe: exe.clone(),
        running_version: "0.1.0".into(),
        host_arch: "x86_64".into(),
        install: InstallKind::File,
    };
    let older = script("unity-agent 0.0.9");
    let outcome = receive(
        &installation,
        request(&setup.key, "0.0.9", &older, true),
        &mut chunks(&older),
    )
    .await;
    assert!(
        matches!(outcome, AgentUpdateOutcome::Restarting { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        at_start(data_dir, "0.0.9", None).unwrap(),
        StartOutcome::Run
    );
    confirm(data_dir).unwrap();
    assert!(install::read_trial(data_dir).unwrap().is_none());
    assert_eq!(
        at_start(data_dir, "0.0.9", None).unwrap(),
        StartOutcome::Run
    );
    assert_eq!(std::fs::read(exe).unwrap(), older);
}

#[tokio::test]
async fn a_trial_past_its_deadline_is_rolled_back_at_start() {
    let setup = setup();
    let (exe, data_dir) = (&setup.installation.exe, &setup.installation.data_dir);
    let new = script("unity-agent 0.2.0");
    let outcome = receive(
        &setup.installation,
        request(&setup.key, "0.2.0", &new, false),
        &mut chunks(&new),
    )
    .await;
    assert!(matches!(outcome, AgentUpdateOutcome::Restarting { .. }));
    let mut trial = install::read_trial(data_dir).unwrap().unwrap();
    trial.deadline_ms = now_ms() - 1;
    install::write_trial(data_dir, &trial).unwrap();
    assert_eq!(
        at_start(data_dir, "0.2.0", None).unwrap(),
        StartOutcome::RolledBack
    );
    assert_eq!(std::fs::read(exe).unwrap(), setup.old);
}

#[test]
fn a_garbled_trial_record_neither_blocks_the_session_nor_survives_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("self-update-trial.json"), b"{\"to_vers").unwrap();
    // Reaching the controller confirms whatever build runs: the torn record goes.
    confirm(dir.path()).unwrap();
    assert!(!dir.path().join("self-update-trial.json").exists());
    // Without a record there is nothing to confirm.
    confirm(dir.path()).unwrap();
}
