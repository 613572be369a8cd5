//! `unity-agent apply-upgrade`: the root side of a package update (docs/agent-updates.md,
//! "Package-managed hosts"), started by `unity-agent-upgrade.path` when the sandboxed agent
//! hands a package over in `<data_dir>/upgrade/`.
//!
//! Nothing the agent wrote is trusted: the package is copied into this side's own state
//! directory (`/var/lib/unity-agent-upgrade`, which the agent's unit cannot write) and checked
//! there again as the agent checked it (a signature by a release key valid now, from the set
//! pinned in the state directory, never the agent's file after the first use; SHA-256 and size;
//! architecture; newer than the installed package unless an explicit rollback; the package's
//! own name, version and architecture). Then the trial record is written, the package
//! installed with `dpkg -i` / `rpm -U` (its scripts restart the agent) and kept as
//! `installed.<ext>`, the one it replaced as `previous.<ext>` when that is known; and this side
//! waits for the new agent to reach the controller. If it does not (deadline, or a crash loop),
//! the previous package is installed again when kept, otherwise the failure is only reported.
//! The outcome goes to `<data_dir>/upgrade/result.json` and the journal.

use super::decide::{self, Trial};
use super::handover::{self, PENDING_STEM};
use super::package::{
    self, package_file, UpgradeRequest, UpgradeResult, Waiting, MANIFEST_FILE, MAX_SMALL_FILE,
    REQUEST_FILE, RESULT_FILE, UPGRADE_DIR,
};
use super::package_tool::PackageTool;
use super::{install, previous_package};
use crate::clock::now_ms;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_shared::model::agent_build::{
    AgentBuildManifest, BuildKind, ReleaseKeys, SignedManifest, MAX_BUILD_BYTES,
};
use unity_shared::proto::InstallKind;

/// The package being checked and installed, in the state directory.
const CANDIDATE_STEM: &str = "candidate";

/// The trial record's file in the data directory (as [`install`] names it).
const TRIAL_FILE: &str = "self-update-trial.json";

/// Where `apply-upgrade` looks and what it uses.
#[derive(Debug, Clone)]
pub struct ApplySetup {
    /// The agent's data directory (the hand-over directory, the trial record).
    pub data_dir: PathBuf,
    /// This side's own directory: pinned keys, the candidate, installed and previous packages.
    pub state_dir: PathBuf,
    /// The installed agent binary (named in the trial record).
    pub exe: PathBuf,
    /// How this agent was installed (a file install takes no package).
    pub install: InstallKind,
    pub tool: PackageTool,
    /// `uname -m`.
    pub host_arch: String,
    /// How often the trial record is looked at while waiting.
    pub poll: Duration,
    /// Where apt keeps downloaded packages (a first previous package may be there).
    pub apt_cache: Option<PathBuf>,
}

impl ApplySetup {
    fn upgrade_dir(&self) -> PathBuf {
        self.data_dir.join(UPGRADE_DIR)
    }
}

/// Runs one request, if there is one; `None` when nothing was pending. The result is also
/// written to `<data_dir>/upgrade/result.json` and logged.
pub async fn apply(setup: &ApplySetup) -> Option<UpgradeResult> {
    let upgrade_dir = setup.upgrade_dir();
    if std::fs::symlink_metadata(upgrade_dir.join(REQUEST_FILE)).is_err() {
        tracing::info!(dir = %upgrade_dir.display(), "No agent upgrade pending.");
        return None;
    }
    let result = match run(setup).await {
        Ok(result) => result,
        Err(fail) => UpgradeResult {
            outcome: "refused".into(),
            version: fail.version,
            from_version: fail.from_version,
            detail: fail.detail,
            at_ms: now_ms(),
        },
    };
    // Taken or refused: the pending files go either way, so the path unit does not start this
    // again for the same request; so does a refused candidate.
    handover::remove_pending(&upgrade_dir);
    for kind in [BuildKind::Deb, BuildKind::Rpm] {
        let candidate = setup
            .state_dir
            .join(package_file(kind, CANDIDATE_STEM).unwrap_or_default());
        let _ = handover::remove_if_present(&candidate);
    }
    match result.outcome.as_str() {
        "confirmed" => {
            tracing::info!(version = ?result.version, detail = %result.detail, "Agent package upgrade confirmed.")
        }
        outcome => {
            tracing::error!(%outcome, version = ?result.version, detail = %result.detail, "Agent package upgrade failed.")
        }
    }
    match serde_json::to_vec_pretty(&result) {
        Ok(bytes) if handover::check_dir(&upgrade_dir).is_ok() => {
            if let Err(error) =
                handover::write_exclusive(&upgrade_dir.join(RESULT_FILE), &bytes, 0o600)
            {
                tracing::warn!(%error, "Cannot write the upgrade result file.");
            }
        }
        _ => {
            tracing::warn!(dir = %upgrade_dir.display(), "No result file written (not a directory).")
        }
    }
    Some(result)
}

/// A refusal before anything was installed.
struct Fail {
    version: Option<String>,
    from_version: Option<String>,
    detail: String,
}

fn fail(detail: impl std::fmt::Display) -> Fail {
    Fail {
        version: None,
        from_version: None,
        detail: detail.to_string(),
    }
}

/// What was taken out of the hand-over directory.
struct Taken {
    request: UpgradeRequest,
    signed: SignedManifest,
}

async fn run(setup: &ApplySetup) -> Result<UpgradeResult, Fail> {
    let upgrade_dir = setup.upgrade_dir();
    let state_dir = setup.state_dir.clone();
    let data_dir = setup.data_dir.clone();

    // Small files first, bounded; then the signature against the pinned keys.
    let taken = {
        let upgrade_dir = upgrade_dir.clone();
        blocking(move || take_request(&upgrade_dir)).await??
    };
    let keys = blocking(move || pinned_keys(&state_dir, &data_dir)).await??;
    let manifest = decide::verify_manifest(&taken.signed, &keys, now_ms()).map_err(fail)?;
    let with_version = |detail: String| Fail {
        version: Some(manifest.version.clone()),
        from_version: None,
        detail,
    };
    let kind = match package::route(setup.install, manifest.kind) {
        Ok(package::Route::Package(kind)) if kind == setup.tool.kind => kind,
        Ok(_) => return Err(with_version("not a package build for this host".into())),
        Err(reason) => return Err(with_version(reason)),
    };
    if manifest.size > MAX_BUILD_BYTES {
        return Err(with_version(format!(
            "the build is larger than {MAX_BUILD_BYTES} bytes"
        )));
    }
    let from_version = setup
        .tool
        .installed_version()
        .await
        .map_err(|error| with_version(error.to_string()))?
        .ok_or_else(|| with_version("the unity-agent package is not installed".into()))?;
    decide::check_manifest(
        &manifest,
        &setup.host_arch,
        &from_version,
        taken.request.allow_downgrade,
    )
    .map_err(|error| with_version(error.to_string()))?;

    // The package, copied out of the agent's reach and checked there.
    let candidate = setup
        .state_dir
        .join(package_file(kind, CANDIDATE_STEM).unwrap_or_default());
    {
        let source = upgrade_dir.join(package_file(kind, PENDING_STEM).unwrap_or_default());
        let (candidate, size) = (candidate.clone(), manifest.size);
        let (sha256, copied) = blocking(move || handover::copy_checked(&source, &candidate, size))
            .await?
            .map_err(with_version)?;
        decide::check_bytes(&manifest, sha256, copied)
            .map_err(|error| with_version(error.to_string()))?;
    }
    let fields = setup
        .tool
        .fields(&candidate)
        .await
        .map_err(|error| with_version(error.to_string()))?;
    package::check_fields(&fields, &manifest).map_err(|error| with_version(error.to_string()))?;
    handover::remove_pending(&upgrade_dir);

    Ok(install_and_wait(
        setup,
        &taken.request,
        &manifest,
        kind,
        &candidate,
        &from_version,
    )
    .await)
}

/// Everything checked: keep the previous package, write the trial, install, wait.
async fn install_and_wait(
    setup: &ApplySetup,
    request: &UpgradeRequest,
    manifest: &AgentBuildManifest,
    kind: BuildKind,
    candidate: &Path,
    from_version: &str,
) -> UpgradeResult {
    let result = |outcome: &str, detail: String| UpgradeResult {
        outcome: outcome.to_owned(),
        version: Some(manifest.version.clone()),
        from_version: Some(from_version.to_owned()),
        detail,
        at_ms: now_ms(),
    };
    let places = previous_package::Places {
        state_dir: &setup.state_dir,
        tool: &setup.tool,
        host_arch: &setup.host_arch,
        apt_cache: setup.apt_cache.as_deref(),
    };
    let previous = previous_package::keep(&places, kind, from_version).await;
    let deadline_ms = now_ms().saturating_add(i64::from(package::confirm_secs(request)) * 1000);
    let trial = package::trial(
        from_version,
        manifest,
        &setup.exe.display().to_string(),
        previous
            .as_deref()
            .map(|path| path.to_str().unwrap_or_default()),
        deadline_ms,
    );
    if let Err(error) = write_trial(&setup.data_dir, &trial) {
        return result(
            "install-failed",
            format!("writing the trial record: {error}"),
        );
    }
    tracing::info!(from = from_version, to = %manifest.version, "Installing the agent package.");
    let installed = setup
        .state_dir
        .join(package_file(kind, "installed").unwrap_or_default());
    if let Err(error) = setup.tool.install(candidate, false).await {
        let _ = handover::remove_if_present(&setup.data_dir.join(TRIAL_FILE));
        let back = roll_back(setup, previous.as_deref(), &installed).await;
        return result("install-failed", format!("{error}; {back}"));
    }
    if let Err(error) = std::fs::rename(candidate, &installed) {
        tracing::warn!(%error, "Cannot keep the installed package for a later rollback.");
    }

    loop {
        let trial = read_trial(&setup.data_dir, &manifest.version);
        match package::waiting(trial.as_ref(), &manifest.version, now_ms(), deadline_ms) {
            Waiting::Wait => tokio::time::sleep(setup.poll).await,
            Waiting::Confirmed => {
                return result(
                    "confirmed",
                    format!("version {} reached the controller", manifest.version),
                )
            }
            Waiting::Failed(reason) => {
                let _ = handover::remove_if_present(&setup.data_dir.join(TRIAL_FILE));
                return match previous {
                    Some(_) => {
                        let back = roll_back(setup, previous.as_deref(), &installed).await;
                        let outcome = if back.starts_with("rolled back") {
                            "rolled-back"
                        } else {
                            "rollback-failed"
                        };
                        result(outcome, format!("{reason}; {back}"))
                    }
                    None => result(
                        "not-confirmed",
                        format!(
                            "{reason}; no previous package kept to put back: install one by hand \
                             (docs/agent-updates.md)"
                        ),
                    ),
                };
            }
        }
    }
}

/// Installs the previous package again; says what happened.
async fn roll_back(setup: &ApplySetup, previous: Option<&Path>, installed: &Path) -> String {
    let Some(previous) = previous else {
        return "no previous package kept".into();
    };
    match setup.tool.install(previous, true).await {
        Ok(()) => {
            if let Err(error) = std::fs::rename(previous, installed) {
                tracing::warn!(%error, "Cannot keep the previous package as the installed one.");
            }
            format!("rolled back to {}", previous.display())
        }
        Err(error) => format!("putting {} back failed: {error}", previous.display()),
    }
}

fn take_request(upgrade_dir: &Path) -> Result<Taken, Fail> {
    handover::check_dir(upgrade_dir).map_err(fail)?;
    let request =
        handover::read_small(&upgrade_dir.join(REQUEST_FILE), MAX_SMALL_FILE).map_err(fail)?;
    let request = package::parse_request(&request).map_err(fail)?;
    let manifest =
        handover::read_small(&upgrade_dir.join(MANIFEST_FILE), MAX_SMALL_FILE).map_err(fail)?;
    let signed: SignedManifest = postcard::from_bytes(&manifest)
        .map_err(|error| fail(format!("the signed manifest does not decode: {error}")))?;
    Ok(Taken { request, signed })
}

/// The release keys this side trusts: pinned in its own directory. The first time (nothing
/// pinned yet) the agent's set is adopted and pinned; after that the agent's file is not read
/// (`apply-upgrade --pin-release-keys` pins it again after a rotation).
fn pinned_keys(
    state_dir: &Path,
    data_dir: &Path,
) -> Result<Vec<unity_shared::model::agent_build::ReleaseKey>, Fail> {
    let pinned = install::read_keys(state_dir);
    if !pinned.is_empty() {
        return Ok(pinned);
    }
    let keys = pin_keys(state_dir, data_dir).map_err(fail)?;
    tracing::warn!(
        n_keys = keys.len(),
        "No release keys pinned for apply-upgrade yet: pinned the agent's (trust on first use)."
    );
    Ok(keys)
}

/// Pins the agent's current release keys in `state_dir`.
pub fn pin_keys(
    state_dir: &Path,
    data_dir: &Path,
) -> Result<Vec<unity_shared::model::agent_build::ReleaseKey>, String> {
    let bytes = handover::read_small(&data_dir.join(install::KEYS_FILE), MAX_SMALL_FILE).map_err(
        |error| format!("no release keys pinned, and none from the agent to pin: {error}"),
    )?;
    let keys = install::parse_keys(&bytes)
        .filter(|keys| !keys.is_empty())
        .ok_or("the agent holds no release keys (it has not reached the controller yet)")?;
    install::write_keys(state_dir, &ReleaseKeys { keys: keys.clone() })
        .map_err(|error| format!("{error:#}"))?;
    Ok(keys)
}

fn write_trial(data_dir: &Path, trial: &Trial) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(trial).map_err(std::io::Error::other)?;
    handover::write_exclusive(&data_dir.join(TRIAL_FILE), &bytes, 0o600)
}

/// The trial record as the agent left it; unreadable counts as still on trial for
/// `to_version` (the agent removes a torn record at its start; the deadline still applies).
fn read_trial(data_dir: &Path, to_version: &str) -> Option<Trial> {
    let path = data_dir.join(TRIAL_FILE);
    if std::fs::symlink_metadata(&path).is_err() {
        return None;
    }
    match handover::read_small(&path, MAX_SMALL_FILE)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Trial>(&bytes).ok())
    {
        Some(trial) => Some(trial),
        None => Some(Trial {
            from_version: String::new(),
            to_version: to_version.to_owned(),
            exe: String::new(),
            previous: String::new(),
            deadline_ms: i64::MAX,
            starts: 0,
            package: true,
        }),
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Fail> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| fail(format!("a blocking task failed: {error}")))
}
