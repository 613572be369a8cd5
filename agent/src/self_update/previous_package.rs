//! The package `apply-upgrade` puts back when a new agent does not confirm: the one it
//! installed last (`installed.<ext>` in its state directory), when its version is the one
//! installed now, or else, for a .deb, apt's copy in `/var/cache/apt/archives/`. A host whose
//! first package came from `dpkg -i ./file.deb` has neither until `apply-upgrade` has
//! installed one: its first upgrade has no rollback (docs/agent-updates.md).

use super::handover::remove_if_present;
use super::package::{package_file, PACKAGE_NAME};
use super::package_tool::PackageTool;
use std::path::{Path, PathBuf};
use unity_shared::model::agent_build::{BuildArch, BuildKind};

/// Where the packages are and what reads them (from `apply_upgrade`'s setup).
pub struct Places<'a> {
    /// `apply-upgrade`'s own directory.
    pub state_dir: &'a Path,
    pub tool: &'a PackageTool,
    /// `uname -m`.
    pub host_arch: &'a str,
    /// Where apt keeps downloaded packages.
    pub apt_cache: Option<&'a Path>,
}

/// Moves the installed package's file to `previous.<ext>`; `None` when none is known.
pub async fn keep(setup: &Places<'_>, kind: BuildKind, installed_version: &str) -> Option<PathBuf> {
    let previous = setup.state_dir.join(package_file(kind, "previous")?);
    if let Err(error) = remove_if_present(&previous) {
        tracing::warn!(%error, "Cannot remove an old previous package.");
        return None;
    }
    let installed = setup.state_dir.join(package_file(kind, "installed")?);
    if is_version(setup, &installed, installed_version).await
        && std::fs::rename(&installed, &previous).is_ok()
    {
        return Some(previous);
    }
    let cached = apt_cached(setup, kind, installed_version)?;
    if is_version(setup, &cached, installed_version).await
        && std::fs::copy(&cached, &previous).is_ok()
    {
        return Some(previous);
    }
    tracing::warn!(
        version = installed_version,
        "The installed agent package's file is not kept: this upgrade has no rollback."
    );
    None
}

/// Whether `file` is a regular file holding `unity-agent` at `version`.
async fn is_version(setup: &Places<'_>, file: &Path, version: &str) -> bool {
    let regular = std::fs::symlink_metadata(file).is_ok_and(|meta| meta.file_type().is_file());
    regular
        && setup
            .tool
            .fields(file)
            .await
            .is_ok_and(|fields| fields.name == PACKAGE_NAME && fields.version == version)
}

/// apt's file name for the installed version: `unity-agent_<version>_<arch>.deb`, an epoch's
/// `:` written `%3a`.
fn apt_cached(setup: &Places<'_>, kind: BuildKind, version: &str) -> Option<PathBuf> {
    if kind != BuildKind::Deb {
        return None;
    }
    let arch = match BuildArch::parse(setup.host_arch)? {
        BuildArch::X86_64 => "amd64",
        BuildArch::Aarch64 => "arm64",
    };
    let name = format!("{PACKAGE_NAME}_{}_{arch}.deb", version.replace(':', "%3a"));
    Some(setup.apt_cache?.join(name))
}
