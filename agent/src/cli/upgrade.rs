//! `unity-agent apply-upgrade`: run as root by `unity-agent-upgrade.service` when the agent
//! hands a package build over (crate::self_update::apply_upgrade, docs/agent-updates.md).

use crate::config::Config;
use crate::self_update::apply_upgrade::{self, ApplySetup};
use crate::self_update::package_tool::PackageTool;
use anyhow::Context as _;
use std::path::PathBuf;
use std::time::Duration;
use unity_shared::model::agent_build::BuildKind;
use unity_shared::outln;
use unity_shared::proto::InstallKind;

/// Where apt keeps the packages it downloaded.
const APT_CACHE: &str = "/var/cache/apt/archives";

/// Installs the pending package, if any; exit code 0 when there was none or the new agent
/// confirmed, 1 otherwise. With `pin_release_keys`, pins the agent's current release keys and
/// exits.
pub async fn apply(
    config: &Config,
    state_dir: PathBuf,
    pin_release_keys: bool,
) -> anyhow::Result<u8> {
    let dir = state_dir.clone();
    tokio::task::spawn_blocking(move || crate::fsutil::create_dirs(&dir, 0o700))
        .await?
        .with_context(|| format!("creating {}", state_dir.display()))?;
    if pin_release_keys {
        let (state, data) = (state_dir.clone(), config.data_dir.clone());
        let keys = tokio::task::spawn_blocking(move || apply_upgrade::pin_keys(&state, &data))
            .await?
            .map_err(anyhow::Error::msg)?;
        for key in &keys {
            outln!("pinned release key {}", key.key_id);
        }
        return Ok(0);
    }
    let exe = std::env::current_exe().context("finding this executable")?;
    let install = crate::install::this_agent().await;
    let kind = if install == InstallKind::Rpm {
        BuildKind::Rpm
    } else {
        BuildKind::Deb
    };
    let setup = ApplySetup {
        data_dir: config.data_dir.clone(),
        state_dir,
        exe,
        install,
        tool: PackageTool::system(kind),
        host_arch: std::env::consts::ARCH.to_owned(),
        poll: Duration::from_secs(2),
        apt_cache: Some(PathBuf::from(APT_CACHE)),
    };
    Ok(match apply_upgrade::apply(&setup).await {
        None => 0,
        Some(result) => {
            outln!("{}: {}", result.outcome, result.detail);
            u8::from(result.outcome != "confirmed")
        }
    })
}
