//! Package builds, pure (docs/agent-updates.md, "Package-managed hosts"): which build kind an
//! installation takes, the hand-over directory's file names, the request the sandboxed agent
//! writes there, the checks of a package's own fields (name, version, architecture) against
//! its signed manifest, and what `apply-upgrade` does while it waits for the new agent.
//!
//! The sandboxed agent only stages a verified package in `<data_dir>/upgrade/`; the root
//! `unity-agent apply-upgrade` (started by `unity-agent-upgrade.path`) checks everything again
//! and installs it. Nothing here trusts a file because the agent wrote it.

use super::decide::{Trial, MAX_TRIAL_STARTS};
use serde::{Deserialize, Serialize};
use unity_shared::model::agent_build::{AgentBuildManifest, BuildArch, BuildKind};
use unity_shared::proto::InstallKind;

/// The one package `apply-upgrade` installs.
pub const PACKAGE_NAME: &str = "unity-agent";

/// The hand-over directory under the agent's data directory.
pub const UPGRADE_DIR: &str = "upgrade";
/// The signed manifest, the controller's `manifest.postcard` bytes exactly.
pub const MANIFEST_FILE: &str = "pending.manifest";
/// The request; written last, it is what `unity-agent-upgrade.path` waits for.
pub const REQUEST_FILE: &str = "request.json";
/// What `apply-upgrade` did with the last request, for the operator (the journal has it too).
pub const RESULT_FILE: &str = "result.json";

/// The largest request and manifest files read (both are a few hundred bytes).
pub const MAX_SMALL_FILE: u64 = 64 * 1024;

/// The longest wait for the new agent's confirmation `apply-upgrade` honours, whatever the
/// request asks.
pub const MAX_CONFIRM_SECS: u32 = 3600;
/// The shortest.
pub const MIN_CONFIRM_SECS: u32 = 10;

/// The package file's name in the hand-over directory (and in `apply-upgrade`'s own).
pub fn package_file(kind: BuildKind, stem: &str) -> Option<String> {
    match kind {
        BuildKind::Deb => Some(format!("{stem}.deb")),
        BuildKind::Rpm => Some(format!("{stem}.rpm")),
        BuildKind::Binary => None,
    }
}

/// How a build of `kind` is installed on an agent installed as `install`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Replace the running binary's file (the agent does it, [`super::install`]).
    ReplaceBinary,
    /// Hand the package to `apply-upgrade`.
    Package(BuildKind),
}

/// A build kind must match the way the agent was installed: a binary for a plain file, the
/// owning package manager's format for a package.
pub fn route(install: InstallKind, kind: BuildKind) -> Result<Route, String> {
    match (install, kind) {
        (InstallKind::File | InstallKind::Unknown, BuildKind::Binary) => Ok(Route::ReplaceBinary),
        (InstallKind::Deb, BuildKind::Deb) | (InstallKind::Rpm, BuildKind::Rpm) => {
            Ok(Route::Package(kind))
        }
        (InstallKind::Deb | InstallKind::Rpm, _) => {
            let (tool, wanted) = if install == InstallKind::Deb {
                ("dpkg", "deb")
            } else {
                ("rpm", "rpm")
            };
            Err(format!(
                "{tool} owns this agent's binary: send a {wanted} build, not {} \
                 (docs/agent-updates.md, \"Package-managed hosts\")",
                kind.name()
            ))
        }
        (InstallKind::File | InstallKind::Unknown, _) => Err(format!(
            "this agent was not installed from a package; send a binary build, not {}",
            kind.name()
        )),
    }
}

/// What the agent asks of `apply-upgrade` besides the signed manifest. Unsigned: everything in
/// it is bounded or checked again ([`confirm_secs`], the downgrade rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    /// An explicit rollback by an operator: an older (signed) version is accepted.
    pub allow_downgrade: bool,
    /// How long the new agent has to reach the controller.
    pub confirm_within_secs: u32,
}

/// Reads a request file's bytes.
pub fn parse_request(bytes: &[u8]) -> Result<UpgradeRequest, String> {
    serde_json::from_slice(bytes).map_err(|error| format!("the request does not parse: {error}"))
}

/// The wait `apply-upgrade` grants, within [`MIN_CONFIRM_SECS`]..=[`MAX_CONFIRM_SECS`].
pub fn confirm_secs(request: &UpgradeRequest) -> u32 {
    request
        .confirm_within_secs
        .clamp(MIN_CONFIRM_SECS, MAX_CONFIRM_SECS)
}

/// A package's own fields, as `dpkg-deb --show` or `rpm -qp` print them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFields {
    pub name: String,
    pub version: String,
    pub arch: String,
}

/// Reads three lines: name, version, architecture.
pub fn parse_fields(stdout: &str) -> Option<PackageFields> {
    let mut lines = stdout.lines().map(str::trim);
    let fields = PackageFields {
        name: lines.next()?.to_owned(),
        version: lines.next()?.to_owned(),
        arch: lines.next()?.to_owned(),
    };
    if fields.name.is_empty() || fields.version.is_empty() {
        return None;
    }
    Some(fields)
}

/// Why a package is refused though its manifest verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageRefusal {
    /// Another package than `unity-agent`.
    #[error("the package is {0:?}, not {PACKAGE_NAME:?}")]
    WrongName(String),
    /// The package's version is not its manifest's.
    #[error("the package says version {package}, its manifest {manifest}")]
    WrongVersion { package: String, manifest: String },
    /// The package is for another architecture.
    #[error("the package is for {package}, its manifest for {manifest}")]
    WrongArch { package: String, manifest: String },
}

/// The package's fields must agree with the signed manifest. An RPM version cannot hold `-`,
/// so build.sh writes `_` there; both spellings are the manifest's version.
pub fn check_fields(
    fields: &PackageFields,
    manifest: &AgentBuildManifest,
) -> Result<(), PackageRefusal> {
    if fields.name != PACKAGE_NAME {
        return Err(PackageRefusal::WrongName(fields.name.clone()));
    }
    let same_version = fields.version == manifest.version
        || (manifest.kind == BuildKind::Rpm
            && fields.version == manifest.version.replace('-', "_"));
    if !same_version {
        return Err(PackageRefusal::WrongVersion {
            package: fields.version.clone(),
            manifest: manifest.version.clone(),
        });
    }
    // `all`/`noarch` would not hold the binary; only the manifest's architecture is accepted.
    if BuildArch::parse(&fields.arch) != Some(manifest.arch) {
        return Err(PackageRefusal::WrongArch {
            package: fields.arch.clone(),
            manifest: manifest.arch.name().to_owned(),
        });
    }
    Ok(())
}

/// The trial `apply-upgrade` writes before it installs: the new agent confirms it as a binary
/// update's, by reaching the controller.
pub fn trial(
    from_version: &str,
    manifest: &AgentBuildManifest,
    exe: &str,
    previous: Option<&str>,
    deadline_ms: i64,
) -> Trial {
    Trial {
        from_version: from_version.to_owned(),
        to_version: manifest.version.clone(),
        exe: exe.to_owned(),
        previous: previous.unwrap_or_default().to_owned(),
        deadline_ms,
        starts: 0,
        package: true,
    }
}

/// Where a wait for the new agent stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waiting {
    /// Look again later.
    Wait,
    /// The new agent reached the controller (it removed the trial record).
    Confirmed,
    /// It did not: roll back.
    Failed(String),
}

/// What the trial record says, seen from `apply-upgrade` after a successful install of
/// `to_version`: gone means confirmed; a start count past the limit (a crash loop) or the
/// deadline passing means failed. A record for another version (a newer request took over)
/// ends this wait as confirmed: this install is no longer the one on trial.
pub fn waiting(trial: Option<&Trial>, to_version: &str, now_ms: i64, deadline_ms: i64) -> Waiting {
    let Some(trial) = trial else {
        return Waiting::Confirmed;
    };
    if trial.to_version != to_version {
        return Waiting::Confirmed;
    }
    if trial.starts > MAX_TRIAL_STARTS {
        return Waiting::Failed(format!(
            "version {to_version} started {} times without reaching the controller",
            trial.starts - 1
        ));
    }
    if now_ms >= deadline_ms {
        return Waiting::Failed(format!(
            "version {to_version} did not reach the controller before its deadline"
        ));
    }
    Waiting::Wait
}

/// What `apply-upgrade` did, in `<data_dir>/upgrade/result.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeResult {
    /// `refused`, `install-failed`, `confirmed`, `rolled-back`, `rollback-failed` or
    /// `not-confirmed` (no previous package kept to put back).
    pub outcome: String,
    /// The version the request named, when its manifest verified.
    pub version: Option<String>,
    /// The package version installed before.
    pub from_version: Option<String>,
    pub detail: String,
    pub at_ms: i64,
}
