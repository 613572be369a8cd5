//! The sandboxed agent's side of a package build (docs/agent-updates.md, "Package-managed
//! hosts"): the manifest was verified and the kind matches how the agent was installed
//! ([`super::receive`]); here the bytes are received into the hand-over directory, checked
//! (SHA-256, size, and the package's own name, version and architecture through `dpkg-deb` or
//! `rpm -qp`, which only read), and handed over to `unity-agent apply-upgrade` with the signed
//! manifest and the request. The agent answers `Restarting` and keeps running: the package's
//! scripts restart it once the root side has checked everything again and installed it.

use super::handover;
use super::package::{self, UpgradeRequest, UPGRADE_DIR};
use super::package_tool::PackageTool;
use super::{download, install, refused, ChunkSource, Installation};
use unity_shared::model::agent_build::{
    AgentBuildManifest, AgentUpdateOutcome, BuildKind, UpdateAgent,
};

/// Receives and hands over a verified package build.
pub async fn receive(
    installation: &Installation,
    request: &UpdateAgent,
    manifest: &AgentBuildManifest,
    kind: BuildKind,
    chunks: &mut impl ChunkSource,
) -> anyhow::Result<AgentUpdateOutcome> {
    let upgrade_dir = installation.data_dir.join(UPGRADE_DIR);
    let incoming = {
        let upgrade_dir = upgrade_dir.clone();
        match tokio::task::spawn_blocking(move || handover::prepare(&upgrade_dir, kind)).await? {
            Ok(incoming) => incoming,
            Err(reason) => return Ok(refused(reason)),
        }
    };
    let mut staged = install::Staged::create(incoming)?;
    if let Err(refusal) = download(manifest, chunks, &mut staged).await? {
        return Ok(refused(refusal));
    }
    let fields = match PackageTool::system(kind).fields(&staged.path).await {
        Ok(fields) => fields,
        Err(error) => return Ok(refused(format!("the package does not read: {error}"))),
    };
    if let Err(refusal) = package::check_fields(&fields, manifest) {
        return Ok(refused(refusal));
    }
    let signed = postcard::to_allocvec(&request.manifest)?;
    let upgrade = serde_json::to_vec_pretty(&UpgradeRequest {
        allow_downgrade: request.allow_downgrade,
        confirm_within_secs: request.confirm_within_secs,
    })?;
    let incoming = staged.path.clone();
    tokio::task::spawn_blocking(move || {
        handover::hand_over(&upgrade_dir, kind, &incoming, &signed, &upgrade)
    })
    .await??;
    staged.keep();
    tracing::info!(from = %installation.running_version, to = %manifest.version, kind = kind.name(), "Agent package handed to unity-agent-upgrade.");
    Ok(AgentUpdateOutcome::Restarting {
        from_version: installation.running_version.clone(),
        to_version: manifest.version.clone(),
    })
}
