//! Agent builds and the release key as operators use them (issue 20 §2,
//! docs/agent-updates.md): the release key (made on first use beside the CA, rotated with a
//! grace period for the old public half), builds added to the store with a signed manifest,
//! and the newest build for a host's architecture. The version of a build is what the admin
//! says (`--version`): the controller runs nothing it is given, and the agent checks the claim
//! by running the build's `--version` before it installs it. Every change is audited.

use crate::ca::release::{self, ReleaseKeyring};
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditAction};
use crate::domain::error::DomainError;
use crate::storage::agent_builds::{self, BuildStore, BuildStoreError, StoredBuild};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use unity_shared::model::agent_build::{
    AgentBuildManifest, BuildArch, BuildKind, ReleaseKey, MAX_BUILD_BYTES,
};

/// How long a rotated-out release key keeps verifying unless the operator says otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30 * 24 * 3600);

fn store(ctx: &Context) -> BuildStore {
    BuildStore::new(ctx.config.data_dir.join("agent-builds"))
}

fn store_error(error: BuildStoreError) -> DomainError {
    match error {
        BuildStoreError::Exists(_) => DomainError::Conflict(error.to_string()),
        BuildStoreError::Invalid(_) => DomainError::Invalid(error.to_string()),
        other => DomainError::internal(other),
    }
}

/// The release keyring, made (and audited as made by `actor`) when there is none yet. Note
/// that this uses blocking I/O.
pub fn keyring(ctx: &Context, actor: &Actor) -> Result<ReleaseKeyring, DomainError> {
    let dir = release::dir(&ctx.config.ca_dir());
    let (keyring, created) = ReleaseKeyring::load_or_create(&dir).map_err(DomainError::internal)?;
    if created {
        audit::record(ctx, actor, AuditAction::ReleaseKeyCreate, &keyring.key_id())?;
        tracing::info!(key_id = %keyring.key_id(), "Release key created.");
    }
    Ok(keyring)
}

/// The public release keys agents should accept now. Note that this uses blocking I/O.
pub fn public_keys(ctx: &Context) -> Result<Vec<ReleaseKey>, DomainError> {
    Ok(keyring(ctx, &Actor::Cli)?.public_keys(now_ms()))
}

/// One public release key as the faces show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseKeyView {
    pub key_id: String,
    /// Hex of the raw Ed25519 public key.
    pub public_key: String,
    /// `None` for the current key.
    pub valid_until_ms: Option<i64>,
}

fn views(keys: Vec<ReleaseKey>) -> Vec<ReleaseKeyView> {
    keys.into_iter()
        .map(|key| ReleaseKeyView {
            key_id: key.key_id,
            public_key: hex::encode(key.public_key),
            valid_until_ms: key.valid_until_ms,
        })
        .collect()
}

/// The current key first, then the retired keys still valid. Note that this uses blocking I/O.
pub fn show_keys(ctx: &Context, actor: &Actor) -> Result<Vec<ReleaseKeyView>, DomainError> {
    Ok(views(keyring(ctx, actor)?.public_keys(now_ms())))
}

/// Replaces the release key; the old one verifies for `grace` more. Agents learn the new set
/// at their next session. Note that this uses blocking I/O.
pub fn rotate_key(
    ctx: &Context,
    actor: &Actor,
    grace: Duration,
) -> Result<Vec<ReleaseKeyView>, DomainError> {
    let mut keyring = keyring(ctx, actor)?;
    let old = keyring.key_id();
    let now = now_ms();
    let until = now.saturating_add(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX));
    keyring.rotate(now, until).map_err(DomainError::internal)?;
    audit::record(
        ctx,
        actor,
        AuditAction::ReleaseKeyRotate,
        &format!("{old} -> {} (old valid until {until})", keyring.key_id()),
    )?;
    tracing::info!(old = %old, new = %keyring.key_id(), "Release key rotated.");
    Ok(views(keyring.public_keys(now)))
}

/// `agent-builds add` as asked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddBuild {
    /// The file to add, an absolute path the controller's user can read.
    pub path: String,
    /// `x86_64`/`amd64` or `aarch64`/`arm64`.
    pub arch: String,
    /// `binary`, `deb` or `rpm`.
    pub kind: String,
    /// The agent version the build reports (semver).
    pub version: String,
}

/// A stored build as the faces show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildView {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub kind: String,
    pub size: u64,
    pub sha256: String,
    pub key_id: String,
    pub added_at_ms: i64,
}

impl From<&StoredBuild> for BuildView {
    fn from(build: &StoredBuild) -> BuildView {
        BuildView {
            name: build.name.clone(),
            version: build.manifest.version.clone(),
            arch: build.manifest.arch.name().to_owned(),
            kind: build.manifest.kind.name().to_owned(),
            size: build.manifest.size,
            sha256: hex::encode(build.manifest.sha256),
            key_id: build.signed.key_id.clone(),
            added_at_ms: build.manifest.added_at_ms,
        }
    }
}

/// Checks what the admin typed.
pub fn parse_add(
    add: &AddBuild,
) -> Result<(PathBuf, BuildArch, BuildKind, semver::Version), DomainError> {
    let path = PathBuf::from(&add.path);
    if !path.is_absolute() {
        return Err(DomainError::Invalid(format!(
            "{:?} is not an absolute path",
            add.path
        )));
    }
    let arch = BuildArch::parse(&add.arch)
        .ok_or_else(|| DomainError::Invalid(format!("--arch {:?}: x86_64 or aarch64", add.arch)))?;
    let kind = BuildKind::parse(&add.kind).ok_or_else(|| {
        DomainError::Invalid(format!("--kind {:?}: binary, deb or rpm", add.kind))
    })?;
    let version = semver::Version::parse(add.version.trim()).map_err(|error| {
        DomainError::Invalid(format!(
            "--version {:?}: not a semver version: {error}",
            add.version
        ))
    })?;
    Ok((path, arch, kind, version))
}

/// Hashes the file, signs its manifest with the release key and stores both. Note that this
/// uses blocking I/O.
pub fn add(ctx: &Context, actor: &Actor, add: AddBuild) -> Result<BuildView, DomainError> {
    let (path, arch, kind, version) = parse_add(&add)?;
    let (sha256, size) = agent_builds::digest_file(&path).map_err(store_error)?;
    if size == 0 || size > MAX_BUILD_BYTES {
        return Err(DomainError::Invalid(format!(
            "{}: {size} bytes (a build is 1 byte to {MAX_BUILD_BYTES})",
            path.display()
        )));
    }
    let manifest = AgentBuildManifest {
        version: version.to_string(),
        arch,
        kind,
        size,
        sha256,
        added_at_ms: now_ms(),
    };
    let signed = keyring(ctx, actor)?
        .sign(&manifest)
        .map_err(DomainError::internal)?;
    let stored = store(ctx)
        .add(&path, &manifest, &signed)
        .map_err(store_error)?;
    let view = BuildView::from(&stored);
    audit::record(
        ctx,
        actor,
        AuditAction::AgentBuildAdd,
        &format!("{} sha256 {}", view.name, view.sha256),
    )?;
    tracing::info!(build = %view.name, size, "Agent build added.");
    Ok(view)
}

/// Every build in the store. Note that this uses blocking I/O.
pub fn list(ctx: &Context) -> Result<Vec<BuildView>, DomainError> {
    Ok(store(ctx)
        .list()
        .map_err(store_error)?
        .iter()
        .map(BuildView::from)
        .collect())
}

/// The newest build of `arch` and `kind` (by semver), checked against its manifest. Note that
/// this uses blocking I/O.
pub fn newest(
    ctx: &Context,
    arch: BuildArch,
    kind: BuildKind,
) -> Result<Option<StoredBuild>, DomainError> {
    let store = store(ctx);
    let newest = store
        .list()
        .map_err(store_error)?
        .into_iter()
        .filter(|build| build.manifest.arch == arch && build.manifest.kind == kind)
        .filter_map(|build| {
            let version = semver::Version::parse(&build.manifest.version).ok()?;
            Some((version, build))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, build)| build);
    if let Some(build) = &newest {
        store.verify(build).map_err(store_error)?;
    }
    Ok(newest)
}
