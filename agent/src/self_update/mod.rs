//! The agent updated from the controller (issue 20 §2, docs/agent-updates.md).
//!
//! [`receive`] takes an [`UpdateAgent`] command and the build's bytes from its stream, checks
//! everything ([`decide`]: signature by a release key the controller sent over the session,
//! SHA-256 and size, architecture, a newer version unless an explicit rollback), runs the
//! staged build's `--version` (a wrong-architecture or broken file fails here, with the
//! installed binary untouched), keeps the running binary as `<exe>.previous`, swaps the new one
//! in with a rename, writes a trial record and answers; the caller then exits with
//! [`RESTART_EXIT_CODE`] and systemd (`Restart=on-failure`) starts the new binary. No
//! `systemctl` and no extra privilege: the agent only needs to write its binary's directory.
//!
//! [`at_start`] runs first thing in `unity-agent run`: it counts the start in the trial record
//! before anything else can fail, and puts the previous binary back (then exits to be
//! restarted) when the new one has used up its starts or its deadline. [`confirm`] removes the
//! record once the new process has been welcomed by the controller; [`watch`] rolls back a
//! process that runs but never gets there.
//!
//! Package-managed hosts: when `dpkg -S` or `rpm -qf` says a package owns the running binary,
//! a `binary` build is refused (the file belongs to the package manager) and a build of the
//! owning format is handed over (package_receive.rs, [`handover`]) to the root
//! `unity-agent apply-upgrade` ([`apply_upgrade`]), which checks it again and installs it with
//! dpkg or rpm; for a package build the sandboxed agent writes nothing outside its data
//! directory.

pub mod apply_upgrade;
pub mod decide;
pub mod handover;
pub mod install;
pub mod package;
mod package_receive;
pub mod package_tool;
mod previous_package;

#[cfg(test)]
mod apply_upgrade_tests;
#[cfg(test)]
mod decide_tests;
#[cfg(test)]
mod install_tests;
#[cfg(test)]
mod package_tests;
#[cfg(test)]
mod test_packages;

use crate::clock::now_ms;
use crate::exec::{self, CommandSpec};
use decide::{AtStart, Refusal, Trial};
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_shared::model::agent_build::{
    AgentBuildChunk, AgentBuildManifest, AgentUpdateOutcome, UpdateAgent, CHUNK_BYTES,
    MAX_BUILD_BYTES,
};
use unity_shared::proto::{frame, InstallKind};

/// The exit code that asks systemd for a restart into the new (or previous) binary
/// (`Restart=on-failure` restarts on any non-zero code; 75 is EX_TEMPFAIL).
pub const RESTART_EXIT_CODE: i32 = 75;

/// How long the staged build's `--version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// What [`receive`] needs to know about this agent.
pub struct Installation {
    pub data_dir: PathBuf,
    /// The running binary (`/proc/self/exe`).
    pub exe: PathBuf,
    pub running_version: String,
    /// `uname -m`.
    pub host_arch: String,
    /// How it was installed ([`crate::install`]): a package-owned binary is not replaced.
    pub install: InstallKind,
}

/// Where the build's chunks come from (a command stream; a vector in tests).
pub trait ChunkSource {
    fn next_chunk(
        &mut self,
    ) -> impl std::future::Future<Output = anyhow::Result<Option<AgentBuildChunk>>> + Send;
}

impl ChunkSource for quinn::RecvStream {
    async fn next_chunk(&mut self) -> anyhow::Result<Option<AgentBuildChunk>> {
        Ok(unity_shared::wire::read(self, frame::MAX_COMMAND_FRAME_LEN).await?)
    }
}

fn refused(reason: impl std::fmt::Display) -> AgentUpdateOutcome {
    AgentUpdateOutcome::Refused {
        reason: reason.to_string(),
    }
}

/// Receives, checks and installs a build; on [`AgentUpdateOutcome::Restarting`] the new binary
/// is in place with its trial record written, and the caller must exit with
/// [`RESTART_EXIT_CODE`]. On a refusal nothing was changed.
pub async fn receive(
    installation: &Installation,
    request: UpdateAgent,
    chunks: &mut impl ChunkSource,
) -> AgentUpdateOutcome {
    match receive_inner(installation, request, chunks).await {
        Ok(outcome) => outcome,
        Err(error) => refused(format!("{error:#}")),
    }
}

async fn receive_inner(
    installation: &Installation,
    request: UpdateAgent,
    chunks: &mut impl ChunkSource,
) -> anyhow::Result<AgentUpdateOutcome> {
    let keys = install::read_keys(&installation.data_dir);
    let manifest = match decide::verify_manifest(&request.manifest, &keys, now_ms()) {
        Ok(manifest) => manifest,
        Err(refusal) => return Ok(refused(refusal)),
    };
    if let Err(refusal) = decide::check_manifest(
        &manifest,
        &installation.host_arch,
        &installation.running_version,
        request.allow_downgrade,
    ) {
        return Ok(refused(refusal));
    }
    if manifest.size > MAX_BUILD_BYTES {
        return Ok(refused(format!(
            "the build is larger than {MAX_BUILD_BYTES} bytes"
        )));
    }
    let kind = match package::route(installation.install, manifest.kind) {
        Ok(package::Route::ReplaceBinary) => None,
        Ok(package::Route::Package(kind)) => Some(kind),
        Err(reason) => return Ok(refused(reason)),
    };
    if let Some(kind) = kind {
        return package_receive::receive(installation, &request, &manifest, kind, chunks).await;
    }
    if let Err(reason) = install::check_writable(&installation.exe) {
        return Ok(refused(reason));
    }

    // The bytes, into a staged file beside the binary, hashed as they come.
    let mut staged = install::Staged::create(install::staged_path(&installation.exe))?;
    if let Err(refusal) = download(&manifest, chunks, &mut staged).await? {
        return Ok(refused(refusal));
    }

    // The build's own word on its version: a wrong-arch or broken file fails here.
    let spec = CommandSpec::new(staged.path.clone(), &["--version"]).clear_env();
    let check = match exec::run(&spec, VERSION_TIMEOUT).await {
        Ok(output) => decide::check_version_output(
            output.exit_code,
            &output.stdout_lossy(),
            &manifest.version,
        ),
        Err(error) => Err(Refusal::VersionCheck(format!("could not run: {error}"))),
    };
    if let Err(refusal) = check {
        return Ok(refused(refusal));
    }

    let exe = installation.exe.clone();
    let previous = install::previous_path(&exe);
    let trial = Trial {
        from_version: installation.running_version.clone(),
        to_version: manifest.version.clone(),
        exe: exe.display().to_string(),
        previous: previous.display().to_string(),
        deadline_ms: now_ms().saturating_add(i64::from(request.confirm_within_secs.max(10)) * 1000),
        starts: 0,
        package: false,
    };
    let data_dir = installation.data_dir.clone();
    let staged_path = staged.path.clone();
    // The trial record first: if the swap then fails, the record names a version that does
    // not run and the next start forgets it.
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        install::write_trial(&data_dir, &trial)?;
        install::swap(&exe, &staged_path, &previous)?;
        Ok(())
    })
    .await??;
    staged.keep();
    tracing::info!(from = %installation.running_version, to = %manifest.version, "Agent build installed; restarting into it.");
    Ok(AgentUpdateOutcome::Restarting {
        from_version: installation.running_version.clone(),
        to_version: manifest.version,
    })
}

/// Receives `manifest.size` bytes into `staged`, checking order, size and SHA-256; the
/// refusal when they are not the manifest's.
async fn download(
    manifest: &AgentBuildManifest,
    chunks: &mut impl ChunkSource,
    staged: &mut install::Staged,
) -> anyhow::Result<Result<(), String>> {
    let mut hasher = sha2::Sha256::new();
    let mut received = 0u64;
    while received < manifest.size {
        let Some(chunk) = chunks.next_chunk().await? else {
            return Ok(Err(format!(
                "the build ended after {received} of {} bytes",
                manifest.size
            )));
        };
        if chunk.offset != received || chunk.bytes.len() > CHUNK_BYTES {
            return Ok(Err(
                "a chunk of the build is out of order or too large".into()
            ));
        }
        received += chunk.bytes.len() as u64;
        if received > manifest.size {
            return Ok(Err(decide::Refusal::WrongDigest.to_string()));
        }
        hasher.update(&chunk.bytes);
        staged.write(&chunk.bytes)?;
    }
    staged.finish()?;
    Ok(
        decide::check_bytes(manifest, hasher.finalize().into(), received)
            .map_err(|refusal| refusal.to_string()),
    )
}

/// Whether the agent exits after answering `outcome` (systemd then starts the new binary): a
/// binary build swapped in, yes; a package handed over, no (the package's scripts restart the
/// agent once `apply-upgrade` has installed it).
pub fn exits_after(outcome: &AgentUpdateOutcome, install: InstallKind) -> bool {
    matches!(outcome, AgentUpdateOutcome::Restarting { .. })
        && !matches!(install, InstallKind::Deb | InstallKind::Rpm)
}

/// The installed package's version when a trial record is there and a package owns the agent
/// (for [`at_start`]); `None` otherwise, without asking the package manager.
pub async fn package_version_on_trial(data_dir: &Path) -> Option<String> {
    let record = data_dir.join("self-update-trial.json");
    if !tokio::fs::try_exists(&record).await.unwrap_or(false) {
        return None;
    }
    let kind = match crate::install::this_agent().await {
        InstallKind::Deb => unity_shared::model::agent_build::BuildKind::Deb,
        InstallKind::Rpm => unity_shared::model::agent_build::BuildKind::Rpm,
        InstallKind::File | InstallKind::Unknown => return None,
    };
    package_tool::PackageTool::system(kind)
        .installed_version()
        .await
        .ok()
        .flatten()
}

/// What `unity-agent run` does first.
#[derive(Debug, PartialEq, Eq)]
pub enum StartOutcome {
    /// Run.
    Run,
    /// The previous binary is back in place: exit with [`RESTART_EXIT_CODE`] at once.
    RolledBack,
    /// A package on trial failed it: `apply-upgrade` puts the previous package back (it reads
    /// the start count); exit with [`RESTART_EXIT_CODE`] and do not run meanwhile.
    AwaitPackageRollback,
}

/// Counts this start against a trial, or rolls back. `package_version` is the installed
/// `unity-agent` package's version on a package-managed host: a package trial is for the
/// package's version, which a test build may give a binary of another version. Note that this
/// uses blocking I/O.
pub fn at_start(
    data_dir: &Path,
    running_version: &str,
    package_version: Option<&str>,
) -> anyhow::Result<StartOutcome> {
    let trial = match install::read_trial(data_dir) {
        Ok(trial) => trial,
        Err(error) => {
            tracing::warn!(%error, "Unreadable self-update trial record; removed.");
            install::remove_trial(data_dir)?;
            None
        }
    };
    let running_version = match (&trial, package_version) {
        (Some(trial), Some(package)) if trial.package && package == trial.to_version => package,
        _ => running_version,
    };
    match decide::at_start(trial, running_version, now_ms()) {
        AtStart::Normal => Ok(StartOutcome::Run),
        AtStart::Forget => {
            install::remove_trial(data_dir)?;
            tracing::warn!(
                version = running_version,
                "Running the previous agent again after a failed update."
            );
            Ok(StartOutcome::Run)
        }
        AtStart::Continue(trial) => {
            install::write_trial(data_dir, &trial)?;
            tracing::info!(version = %trial.to_version, start = trial.starts, "New agent build on trial until it reaches the controller.");
            Ok(StartOutcome::Run)
        }
        AtStart::RollBack { trial, reason } if trial.package => {
            install::write_trial(data_dir, &trial)?;
            tracing::error!(%reason, to = %trial.from_version, "The new agent package failed its trial; unity-agent-upgrade puts the previous package back.");
            Ok(StartOutcome::AwaitPackageRollback)
        }
        AtStart::RollBack { trial, reason } => {
            roll_back(&trial, &reason)?;
            Ok(StartOutcome::RolledBack)
        }
    }
}

fn roll_back(trial: &Trial, reason: &str) -> anyhow::Result<()> {
    tracing::error!(%reason, to = %trial.from_version, "Rolling back to the previous agent binary.");
    install::roll_back(Path::new(&trial.exe), Path::new(&trial.previous))
        .map_err(|error| anyhow::anyhow!("putting {} back: {error}", trial.previous))
}

/// The new process reached the controller: the trial is over. Note that this uses blocking
/// I/O.
pub fn confirm(data_dir: &Path) -> anyhow::Result<()> {
    match install::read_trial(data_dir) {
        Ok(None) => {}
        Ok(Some(trial)) => {
            install::remove_trial(data_dir)?;
            tracing::info!(version = %trial.to_version, "Agent update confirmed.");
        }
        // This build reached the controller: whatever the record said, it stays.
        Err(error) => {
            tracing::warn!(%error, "Unreadable self-update trial record; removed.");
            install::remove_trial(data_dir)?;
        }
    }
    Ok(())
}

/// Waits for the trial's deadline; if the record is still there (never confirmed), puts the
/// previous binary back and exits for systemd to restart it. Returns at once without a trial.
pub async fn watch(data_dir: PathBuf) {
    let Ok(Some(trial)) = install::read_trial(&data_dir) else {
        return;
    };
    if trial.package {
        // apply-upgrade keeps the deadline of a package trial and puts the previous package
        // back itself.
        return;
    }
    let wait = trial.deadline_ms.saturating_sub(now_ms()).max(0);
    tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
    let still = tokio::task::spawn_blocking(move || {
        let trial = install::read_trial(&data_dir).ok().flatten()?;
        Some(roll_back(
            &trial,
            "no confirmation from the controller before the deadline",
        ))
    })
    .await;
    match still {
        Ok(None) => {}
        Ok(Some(Ok(()))) => std::process::exit(RESTART_EXIT_CODE),
        Ok(Some(Err(error))) => tracing::error!(%error, "The rollback failed."),
        Err(error) => tracing::error!(%error, "The rollback task failed."),
    }
}
