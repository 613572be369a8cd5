//! The decisions of a self-update, pure (docs/agent-updates.md): whether a build may be
//! installed (signature by a release key valid now, the bytes' SHA-256 and size, this host's
//! architecture, a newer version unless an explicit rollback), whether the build's own
//! `--version` says what its manifest does, and what a start of the agent does with a trial
//! record (carry on, count the start, or put the previous binary back).

use ring::signature::{UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unity_shared::model::agent_build::{
    signed_payload, AgentBuildManifest, BuildArch, ReleaseKey, SignedManifest,
};

/// How many starts of a new binary are allowed before it has confirmed; the next start puts
/// the previous binary back. A binary that crashes at once is restarted by systemd every few
/// seconds, so this ends a crash loop even when the clock cannot be trusted.
pub const MAX_TRIAL_STARTS: u32 = 3;

/// Why a build is refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No release key this agent holds has the manifest's key id (or it expired).
    #[error("no valid release key {0} (the agent has not received it, or it expired)")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("the manifest's signature does not verify")]
    BadSignature,
    /// The signed bytes are not a manifest.
    #[error("the signed manifest does not decode: {0}")]
    BadManifest(String),
    /// The bytes received are not those the manifest names.
    #[error("the build's SHA-256 or size does not match its manifest")]
    WrongDigest,
    /// The build is for another architecture.
    #[error("the build is for {build}, this host is {host}")]
    WrongArch { build: String, host: String },
    /// A version string is not semver.
    #[error("version {0:?} is not semver")]
    BadVersion(String),
    /// Not newer than what runs (and not an explicit rollback).
    #[error("version {build} is not newer than the running {running} (a downgrade needs an explicit rollback)")]
    NotNewer { build: String, running: String },
    /// The build's `--version` failed or named another version.
    #[error("the build's --version {0}")]
    VersionCheck(String),
}

/// Checks the signature and decodes the manifest; nothing unsigned is decoded.
pub fn verify_manifest(
    signed: &SignedManifest,
    keys: &[ReleaseKey],
    now_ms: i64,
) -> Result<AgentBuildManifest, Refusal> {
    let key = keys
        .iter()
        .find(|key| {
            key.key_id == signed.key_id && key.valid_until_ms.is_none_or(|until| now_ms < until)
        })
        .ok_or_else(|| Refusal::UnknownKey(signed.key_id.clone()))?;
    UnparsedPublicKey::new(&ED25519, &key.public_key)
        .verify(&signed_payload(&signed.manifest), &signed.signature)
        .map_err(|_| Refusal::BadSignature)?;
    postcard::from_bytes(&signed.manifest).map_err(|error| Refusal::BadManifest(error.to_string()))
}

/// Checks everything about a verified manifest but the bytes: the architecture and the
/// version against what runs.
pub fn check_manifest(
    manifest: &AgentBuildManifest,
    host_arch: &str,
    running_version: &str,
    allow_downgrade: bool,
) -> Result<(), Refusal> {
    if BuildArch::parse(host_arch) != Some(manifest.arch) {
        return Err(Refusal::WrongArch {
            build: manifest.arch.name().to_owned(),
            host: host_arch.to_owned(),
        });
    }
    let build = semver::Version::parse(&manifest.version)
        .map_err(|_| Refusal::BadVersion(manifest.version.clone()))?;
    let running = semver::Version::parse(running_version)
        .map_err(|_| Refusal::BadVersion(running_version.to_owned()))?;
    if build <= running && !(allow_downgrade && build != running) {
        return Err(Refusal::NotNewer {
            build: build.to_string(),
            running: running.to_string(),
        });
    }
    Ok(())
}

/// Checks the received bytes against the manifest.
pub fn check_bytes(
    manifest: &AgentBuildManifest,
    sha256: [u8; 32],
    size: u64,
) -> Result<(), Refusal> {
    if sha256 != manifest.sha256 || size != manifest.size {
        return Err(Refusal::WrongDigest);
    }
    Ok(())
}

/// SHA-256 of `bytes`.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Checks what `<build> --version` printed: exit 0 and `unity-agent <version>` (clap's form)
/// on its first line.
pub fn check_version_output(
    exit_code: Option<i32>,
    stdout: &str,
    version: &str,
) -> Result<(), Refusal> {
    if exit_code != Some(0) {
        return Err(Refusal::VersionCheck(match exit_code {
            Some(code) => format!("exited with {code}"),
            None => "was killed by a signal".to_owned(),
        }));
    }
    let first = stdout.lines().next().unwrap_or("").trim();
    let mut words = first.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("unity-agent"), Some(said), None) if said == version => Ok(()),
        _ => Err(Refusal::VersionCheck(format!(
            "printed {first:?}, expected \"unity-agent {version}\""
        ))),
    }
}

/// A new binary on trial, kept in the data directory until it confirms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trial {
    pub from_version: String,
    pub to_version: String,
    /// The installed binary's path, and where the previous one is kept.
    pub exe: String,
    pub previous: String,
    /// Unix milliseconds by which the new process must have reached the controller.
    pub deadline_ms: i64,
    /// Starts of the new binary so far (counted before anything else can fail).
    pub starts: u32,
    /// Installed from a package by `unity-agent apply-upgrade`, which puts the previous package
    /// back itself: the agent never swaps files for such a trial.
    #[serde(default)]
    pub package: bool,
}

/// What a start of the agent does about a trial record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtStart {
    /// No trial: run normally.
    Normal,
    /// The trial goes on: store the record with the start counted, then run and confirm by
    /// reaching the controller before the deadline.
    Continue(Trial),
    /// Put the previous binary back and restart into it (the reason is logged).
    RollBack { trial: Trial, reason: String },
    /// The previous binary is already running (a rollback happened): forget the record.
    Forget,
}

/// The decision at a start; `running_version` is this process's version.
pub fn at_start(trial: Option<Trial>, running_version: &str, now_ms: i64) -> AtStart {
    let Some(mut trial) = trial else {
        return AtStart::Normal;
    };
    if running_version != trial.to_version {
        return AtStart::Forget;
    }
    trial.starts = trial.starts.saturating_add(1);
    if trial.starts > MAX_TRIAL_STARTS {
        let reason = format!(
            "version {} started {} times without reaching the controller",
            trial.to_version,
            trial.starts - 1
        );
        return AtStart::RollBack { trial, reason };
    }
    if now_ms >= trial.deadline_ms {
        let reason = format!(
            "version {} did not reach the controller before its deadline",
            trial.to_version
        );
        return AtStart::RollBack { trial, reason };
    }
    AtStart::Continue(trial)
}

/// While running on trial: whether the deadline has passed without a confirmation.
pub fn overdue(trial: &Trial, now_ms: i64) -> bool {
    now_ms >= trial.deadline_ms
}
