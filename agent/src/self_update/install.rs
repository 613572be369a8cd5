//! The file side of a self-update, on real files: the staged build written beside the
//! installed binary (same directory, so the swap is one rename), the previous binary kept as
//! `<exe>.previous`, the swap, the rollback, and the trial record and release keys in the
//! data directory. Note that this uses blocking I/O.

use super::decide::Trial;
use crate::fsutil;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use unity_shared::model::agent_build::{ReleaseKey, ReleaseKeys};

const TRIAL_FILE: &str = "self-update-trial.json";
/// The release keys last received, in the data directory.
pub const KEYS_FILE: &str = "release-keys.json";

/// Where the build is staged: beside `exe`, hidden.
pub fn staged_path(exe: &Path) -> PathBuf {
    exe.with_file_name(".unity-agent.staged")
}

/// Where the previous binary is kept.
pub fn previous_path(exe: &Path) -> PathBuf {
    let mut name = exe.file_name().unwrap_or_default().to_os_string();
    name.push(".previous");
    exe.with_file_name(name)
}

/// Whether the agent can write its binary's directory, checked before anything is staged by
/// creating and removing a probe file there: under the packaged unit's `ProtectSystem=strict`
/// `/usr/bin` is read-only, and a binary build must be refused with the reason.
pub fn check_writable(exe: &Path) -> Result<(), String> {
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let probe = exe.with_file_name(".unity-agent.probe");
    let _ = fs::remove_file(&probe);
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&probe)
    {
        Ok(_) => fs::remove_file(&probe).map_err(|error| format!("{}: {error}", probe.display())),
        Err(error) => Err(format!(
            "the agent cannot write its binary's directory {} ({error}): under the packaged \
             unit (ProtectSystem=strict) install the binary in a directory the unit may write, \
             e.g. /opt/unity-agent/bin with systemd/unity-agent-file-install.conf as a drop-in \
             (docs/agent-updates.md, \"Where the binary lives\")",
            dir.display()
        )),
    }
}

/// A build being received: a 0700 file beside the binary, removed when dropped unless kept.
pub struct Staged {
    pub path: PathBuf,
    file: Option<fs::File>,
    keep: bool,
}

impl Staged {
    pub fn create(path: PathBuf) -> std::io::Result<Staged> {
        let _ = fs::remove_file(&path);
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o700)
            .open(&path)?;
        Ok(Staged {
            path,
            file: Some(file),
            keep: false,
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match &mut self.file {
            Some(file) => file.write_all(bytes),
            None => Err(std::io::Error::other("the staged build is already closed")),
        }
    }

    /// Flushes and closes the file (it must be closed before it is executed).
    pub fn finish(&mut self) -> std::io::Result<()> {
        if let Some(file) = self.file.take() {
            file.sync_all()?;
        }
        Ok(())
    }

    /// The swap took the file: do not remove it.
    pub fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Keeps the running `exe` as `previous` and puts `staged` in its place, each step a rename
/// (a hard link for the copy of the previous), so `exe` is at every moment either the old or
/// the new binary.
pub fn swap(exe: &Path, staged: &Path, previous: &Path) -> std::io::Result<()> {
    let keep = previous.with_extension("tmp-previous");
    let _ = fs::remove_file(&keep);
    fs::hard_link(exe, &keep)?;
    fs::rename(&keep, previous)?;
    fs::set_permissions(staged, fs::Permissions::from_mode(0o755))?;
    fs::rename(staged, exe)?;
    fsutil::sync_parent(exe)
}

/// Puts `previous` back as `exe` (keeping `previous`, for a second look).
pub fn roll_back(exe: &Path, previous: &Path) -> std::io::Result<()> {
    let back = exe.with_file_name(".unity-agent.rollback");
    let _ = fs::remove_file(&back);
    fs::hard_link(previous, &back)?;
    fs::rename(&back, exe)?;
    fsutil::sync_parent(exe)
}

/// The trial record, if any; a damaged one is treated as none (logged by the caller).
pub fn read_trial(data_dir: &Path) -> anyhow::Result<Option<Trial>> {
    let path = data_dir.join(TRIAL_FILE);
    match fs::read(&path) {
        Ok(bytes) => {
            Ok(Some(serde_json::from_slice(&bytes).map_err(|error| {
                anyhow::anyhow!("{}: {error}", path.display())
            })?))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(anyhow::anyhow!("{}: {error}", path.display())),
    }
}

pub fn write_trial(data_dir: &Path, trial: &Trial) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec_pretty(trial)?;
    fsutil::replace_file(&data_dir.join(TRIAL_FILE), &bytes, 0o600)
        .map_err(|error| anyhow::anyhow!("{}: {error}", data_dir.join(TRIAL_FILE).display()))
}

/// Removes the trial record; `true` when there was one.
pub fn remove_trial(data_dir: &Path) -> anyhow::Result<bool> {
    let path = data_dir.join(TRIAL_FILE);
    match fs::remove_file(&path) {
        Ok(()) => {
            fsutil::sync_parent(&path)?;
            Ok(true)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(anyhow::anyhow!("{}: {error}", path.display())),
    }
}

/// The release keys last received; none when never received or unreadable.
pub fn read_keys(data_dir: &Path) -> Vec<ReleaseKey> {
    fs::read(data_dir.join(KEYS_FILE))
        .ok()
        .and_then(|bytes| parse_keys(&bytes))
        .unwrap_or_default()
}

/// The keys in a release-keys file's bytes.
pub fn parse_keys(bytes: &[u8]) -> Option<Vec<ReleaseKey>> {
    serde_json::from_slice::<KeysFile>(bytes)
        .ok()
        .map(|file| file.keys)
}

/// Replaces the stored release keys with `keys`.
pub fn write_keys(data_dir: &Path, keys: &ReleaseKeys) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec_pretty(&KeysFile {
        keys: keys.keys.clone(),
    })?;
    fsutil::replace_file(&data_dir.join(KEYS_FILE), &bytes, 0o600)
        .map_err(|error| anyhow::anyhow!("{}: {error}", data_dir.join(KEYS_FILE).display()))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct KeysFile {
    keys: Vec<ReleaseKey>,
}
