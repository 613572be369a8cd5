//! Tests of the package path's pure rules (which build an installation takes, the request,
//! the package's own fields, the wait for the new agent) and of the hand-over directory on
//! real files: hostile files (symlinks, a directory, a FIFO, a huge sparse file) refused
//! before anything is read, root's writes never following a planted link, and the agent
//! handing over a real .deb made by dpkg-deb, or refusing one and leaving nothing behind.

use super::decide::{Trial, MAX_TRIAL_STARTS};
use super::handover;
use super::package::*;
use super::test_packages::{self, chunks, host};
use super::{exits_after, receive, Installation};
use std::os::unix::fs::symlink;
use unity_shared::model::agent_build::{
    AgentBuildManifest, AgentUpdateOutcome, BuildKind, SignedManifest,
};
use unity_shared::proto::InstallKind;

#[test]
fn a_build_must_match_how_the_agent_was_installed() {
    use BuildKind::*;
    assert_eq!(route(InstallKind::File, Binary), Ok(Route::ReplaceBinary));
    assert_eq!(
        route(InstallKind::Unknown, Binary),
        Ok(Route::ReplaceBinary)
    );
    assert_eq!(route(InstallKind::Deb, Deb), Ok(Route::Package(Deb)));
    assert_eq!(route(InstallKind::Rpm, Rpm), Ok(Route::Package(Rpm)));
    let reason = route(InstallKind::Deb, Binary).unwrap_err();
    assert!(
        reason.contains("dpkg owns") && reason.contains("send a deb build"),
        "{reason}"
    );
    let reason = route(InstallKind::Deb, Rpm).unwrap_err();
    assert!(reason.contains("send a deb build, not rpm"), "{reason}");
    let reason = route(InstallKind::Rpm, Deb).unwrap_err();
    assert!(
        reason.contains("rpm owns") && reason.contains("not deb"),
        "{reason}"
    );
    let reason = route(InstallKind::File, Deb).unwrap_err();
    assert!(reason.contains("not installed from a package"), "{reason}");
}

#[test]
fn requests_parse_strictly_and_their_wait_is_bounded() {
    let request = parse_request(br#"{"allow_downgrade":false,"confirm_within_secs":120}"#).unwrap();
    assert_eq!(confirm_secs(&request), 120);
    let long =
        parse_request(br#"{"allow_downgrade":true,"confirm_within_secs":4000000000}"#).unwrap();
    assert_eq!(confirm_secs(&long), MAX_CONFIRM_SECS);
    let short = parse_request(br#"{"allow_downgrade":true,"confirm_within_secs":0}"#).unwrap();
    assert_eq!(confirm_secs(&short), MIN_CONFIRM_SECS);
    for bad in [
        &b""[..],
        b"{}",
        br#"{"allow_downgrade":false}"#,
        br#"{"allow_downgrade":false,"confirm_within_secs":1,"run":"sh"}"#,
        br#"{"allow_downgrade":"yes","confirm_within_secs":1}"#,
        b"\xff\xfe",
    ] {
        assert!(parse_request(bad).is_err(), "{bad:?}");
    }
}

fn manifest(version: &str, kind: BuildKind) -> AgentBuildManifest {
    AgentBuildManifest {
        version: version.into(),
        arch: unity_shared::model::agent_build::BuildArch::X86_64,
        kind,
        size: 1,
        sha256: [0; 32],
        added_at_ms: 1,
    }
}

#[track_caller]
fn check(stdout: &str, kind: BuildKind, expect: Result<(), &str>) {
    let fields = parse_fields(stdout).expect("three lines");
    let got = check_fields(&fields, &manifest("0.2.0-rc.1", kind)).map_err(|e| e.to_string());
    match (got, expect) {
        (Ok(()), Ok(())) => {}
        (Err(reason), Err(part)) => assert!(reason.contains(part), "{reason}"),
        (got, expect) => panic!("{got:?}, expected {expect:?}"),
    }
}

#[test]
fn a_package_s_own_fields_must_match_its_manifest() {
    check("unity-agent\n0.2.0-rc.1\namd64\n", BuildKind::Deb, Ok(()));
    check("unity-agent\n0.2.0_rc.1\nx86_64\n", BuildKind::Rpm, Ok(()));
    check(
        "unity-agent\n0.2.0_rc.1\namd64\n",
        BuildKind::Deb,
        Err("says version 0.2.0_rc.1"),
    );
    check(
        "openssh-server\n0.2.0-rc.1\namd64\n",
        BuildKind::Deb,
        Err("\"openssh-server\""),
    );
    check(
        "unity-agent-evil\n0.2.0-rc.1\namd64\n",
        BuildKind::Deb,
        Err("not \"unity-agent\""),
    );
    check(
        "unity-agent\n0.3.0\namd64\n",
        BuildKind::Deb,
        Err("manifest 0.2.0-rc.1"),
    );
    check(
        "unity-agent\n0.2.0-rc.1\narm64\n",
        BuildKind::Deb,
        Err("for arm64"),
    );
    check(
        "unity-agent\n0.2.0-rc.1\nall\n",
        BuildKind::Deb,
        Err("for all"),
    );
    assert_eq!(parse_fields("unity-agent\n0.2.0\n"), None);
    assert_eq!(parse_fields("\n\n\n"), None);
}

fn on_trial(version: &str, starts: u32) -> Trial {
    trial(
        "0.1.0",
        &manifest(version, BuildKind::Deb),
        "/usr/bin/unity-agent",
        None,
        5_000,
    )
    .with_starts(starts)
}

trait WithStarts {
    fn with_starts(self, starts: u32) -> Self;
}

impl WithStarts for Trial {
    fn with_starts(mut self, starts: u32) -> Self {
        self.starts = starts;
        self
    }
}

#[test]
fn the_wait_ends_on_confirmation_a_crash_loop_or_the_deadline() {
    let record = on_trial("0.2.0", 1);
    assert!(record.package);
    assert_eq!(waiting(Some(&record), "0.2.0", 1_000, 5_000), Waiting::Wait);
    assert_eq!(waiting(None, "0.2.0", 1_000, 5_000), Waiting::Confirmed);
    assert_eq!(
        waiting(Some(&on_trial("0.3.0", 1)), "0.2.0", 1_000, 5_000),
        Waiting::Confirmed
    );
    let looping = on_trial("0.2.0", MAX_TRIAL_STARTS + 1);
    assert!(
        matches!(waiting(Some(&looping), "0.2.0", 1_000, 5_000), Waiting::Failed(reason) if reason.contains("started 3 times"))
    );
    assert!(
        matches!(waiting(Some(&record), "0.2.0", 5_000, 5_000), Waiting::Failed(reason) if reason.contains("deadline"))
    );
}

#[test]
fn hostile_hand_over_files_are_refused_before_they_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::write(
        &real,
        b"{\"allow_downgrade\":false,\"confirm_within_secs\":1}",
    )
    .unwrap();
    let out = dir.path().join("copy");

    // A symlink to a real file (say /etc/shadow) is not followed.
    let link = dir.path().join("link");
    symlink("/etc/shadow", &link).unwrap();
    let reason = handover::read_small(&link, 1024).unwrap_err();
    assert!(reason.contains("not a regular file"), "{reason}");
    assert!(handover::copy_checked(&link, &out, 10).is_err());
    assert!(!out.exists());
    // A directory, a FIFO (reading it would block), a device.
    for path in [dir.path().to_path_buf(), "/dev/zero".into()] {
        assert!(handover::read_small(&path, 1024).is_err(), "{path:?}");
    }
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    assert!(handover::read_small(&fifo, 1024)
        .unwrap_err()
        .contains("not a regular file"));
    // A huge (sparse) file is refused by its size, before a byte is read.
    let huge = dir.path().join("huge");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(1 << 40)
        .unwrap();
    let started = std::time::Instant::now();
    let reason = handover::copy_checked(&huge, &out, 1000).unwrap_err();
    assert!(reason.contains("more than the 1000 expected"), "{reason}");
    assert!(handover::read_small(&huge, 64 * 1024).is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(!out.exists());
    // Shorter than its manifest says.
    let reason = handover::copy_checked(&real, &out, 1000).unwrap_err();
    assert!(reason.contains("its manifest says 1000"), "{reason}");
    // The right size is copied, 0600, with its digest.
    let bytes = std::fs::read(&real).unwrap();
    let (sha256, n) = handover::copy_checked(&real, &out, bytes.len() as u64).unwrap();
    assert_eq!(
        (sha256, n),
        (super::decide::digest(&bytes), bytes.len() as u64)
    );
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A hand-over directory that is a symlink.
    let linked_dir = dir.path().join("linked-dir");
    symlink(dir.path(), &linked_dir).unwrap();
    assert!(handover::check_dir(&linked_dir)
        .unwrap_err()
        .contains("not a directory"));
    assert!(handover::check_dir(dir.path()).is_ok());
}

#[test]
fn root_s_writes_never_follow_a_planted_link() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let target = dir.path().join("result.json");
    // A link at the target and at every temporary name the writer could use.
    symlink(&victim, &target).unwrap();
    symlink(
        &victim,
        target.with_extension(format!("tmp-{}", std::process::id())),
    )
    .unwrap();
    handover::write_exclusive(&target, b"{}", 0o600).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(std::fs::read(&target).unwrap(), b"{}");
    assert!(!std::fs::symlink_metadata(&target)
        .unwrap()
        .file_type()
        .is_symlink());
}

struct Agent {
    temp: tempfile::TempDir,
    installation: Installation,
    key: ring::signature::Ed25519KeyPair,
}

fn agent(install: InstallKind) -> Agent {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let key = test_packages::key();
    test_packages::trust(&data_dir, &key);
    Agent {
        installation: Installation {
            data_dir,
            exe: temp.path().join("unity-agent"),
            running_version: "0.1.0".into(),
            host_arch: std::env::consts::ARCH.into(),
            install,
        },
        temp,
        key,
    }
}

fn upgrade_files(agent: &Agent) -> Vec<String> {
    let dir = agent.installation.data_dir.join(UPGRADE_DIR);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn refusal(
    agent: &Agent,
    request: unity_shared::model::agent_build::UpdateAgent,
    bytes: &[u8],
) -> String {
    match receive(&agent.installation, request, &mut chunks(bytes)).await {
        AgentUpdateOutcome::Refused { reason } => reason,
        other => panic!("accepted: {other:?}"),
    }
}

#[tokio::test]
async fn a_deb_build_is_handed_over_and_a_bad_one_leaves_nothing() {
    let agent = agent(InstallKind::Deb);
    let deb_arch = host().1;
    let good = test_packages::deb(agent.temp.path(), PACKAGE_NAME, "0.2.0", deb_arch).await;
    let bytes = std::fs::read(&good).unwrap();

    // Another package, properly signed: refused by its own name, nothing left behind.
    let other = test_packages::deb(agent.temp.path(), "openssh-server", "0.2.0", deb_arch).await;
    let other = std::fs::read(&other).unwrap();
    let request = test_packages::update(&agent.key, "0.2.0", BuildKind::Deb, &other, 120);
    let reason = refusal(&agent, request, &other).await;
    assert!(reason.contains("\"openssh-server\""), "{reason}");
    assert!(
        upgrade_files(&agent).is_empty(),
        "{:?}",
        upgrade_files(&agent)
    );
    // A version the package does not hold.
    let request = test_packages::update(&agent.key, "0.3.0", BuildKind::Deb, &bytes, 120);
    let reason = refusal(&agent, request, &bytes).await;
    assert!(reason.contains("says version 0.2.0"), "{reason}");
    // Forged: signed by another key under the trusted id.
    let stranger = test_packages::key();
    let request = test_packages::update(&stranger, "0.2.0", BuildKind::Deb, &bytes, 120);
    assert!(refusal(&agent, request, &bytes).await.contains("signature"));
    // Bytes other than the manifest's.
    let mut evil = bytes.clone();
    evil[100] ^= 1;
    let request = test_packages::update(&agent.key, "0.2.0", BuildKind::Deb, &bytes, 120);
    assert!(refusal(&agent, request, &evil).await.contains("SHA-256"));
    // A binary or an rpm build for a deb-installed agent.
    let request = test_packages::update(&agent.key, "0.2.0", BuildKind::Binary, &bytes, 120);
    assert!(refusal(&agent, request, &bytes)
        .await
        .contains("send a deb build"));
    let request = test_packages::update(&agent.key, "0.2.0", BuildKind::Rpm, &bytes, 120);
    assert!(refusal(&agent, request, &bytes).await.contains("not rpm"));
    assert!(
        upgrade_files(&agent).is_empty(),
        "{:?}",
        upgrade_files(&agent)
    );

    // The good one: package, signed manifest and request in place; the agent keeps running.
    let request = test_packages::update(&agent.key, "0.2.0", BuildKind::Deb, &bytes, 120);
    let signed = request.manifest.clone();
    let outcome = receive(&agent.installation, request, &mut chunks(&bytes)).await;
    assert_eq!(
        outcome,
        AgentUpdateOutcome::Restarting {
            from_version: "0.1.0".into(),
            to_version: "0.2.0".into()
        }
    );
    assert!(!exits_after(&outcome, InstallKind::Deb));
    assert!(exits_after(&outcome, InstallKind::File));
    assert_eq!(
        upgrade_files(&agent),
        ["pending.deb", "pending.manifest", "request.json"]
    );
    let dir = agent.installation.data_dir.join(UPGRADE_DIR);
    assert_eq!(std::fs::read(dir.join("pending.deb")).unwrap(), bytes);
    let manifest: SignedManifest =
        postcard::from_bytes(&std::fs::read(dir.join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(manifest, signed);
    let request = parse_request(&std::fs::read(dir.join(REQUEST_FILE)).unwrap()).unwrap();
    assert_eq!(
        request,
        UpgradeRequest {
            allow_downgrade: false,
            confirm_within_secs: 120
        }
    );
    // No trial yet: apply-upgrade writes it when it installs.
    assert!(super::install::read_trial(&agent.installation.data_dir)
        .unwrap()
        .is_none());

    // A second build while the first is pending is refused, the first left as it was.
    let request = test_packages::update(&agent.key, "0.2.0", BuildKind::Deb, &bytes, 120);
    assert!(refusal(&agent, request, &bytes)
        .await
        .contains("already pending"));
    assert_eq!(std::fs::read(dir.join("pending.deb")).unwrap(), bytes);
    handover::remove_pending(&dir);
    assert!(upgrade_files(&agent).is_empty());
}

#[tokio::test]
async fn a_binary_build_is_refused_when_the_binary_s_directory_is_not_writable() {
    let mut agent = agent(InstallKind::File);
    // /proc takes no new files, even from root (as /usr/bin under ProtectSystem=strict).
    agent.installation.exe = "/proc/self/unity-agent".into();
    let new = b"#!/bin/sh\necho 'unity-agent 0.2.0'\n".to_vec();
    let request = test_packages::update(&agent.key, "0.2.0", BuildKind::Binary, &new, 120);
    let reason = refusal(&agent, request, &new).await;
    assert!(
        reason.contains("cannot write its binary's directory /proc/self"),
        "{reason}"
    );
    assert!(reason.contains("unity-agent-file-install.conf"), "{reason}");
}
