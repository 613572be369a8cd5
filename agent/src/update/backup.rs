//! Backups of a container's configuration: the full inspect, the image reference it was created
//! from and the image id it ran, taken before every change. Stored as JSON files under
//! `<data_dir>/backups/<container>/<unix millis>.json` (0600, fsynced), listed newest first,
//! and pruned to the newest N (with their volume archives, see `volumes.rs`). Each travels to
//! the controller as the wire [`Backup`] with the operation's result, without the environment
//! variables the owner excluded (`env_exclude.rs`); the controller diffs them. A restore
//! always uses this file, which keeps the full environment.
//!
//! Note that this uses blocking file I/O (small files); async callers wrap it in
//! `spawn_blocking` or accept the short block.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use unity_shared::model::update::{Backup, DatabaseDump};

/// One backup as stored on disk (JSON, with the inspect as a JSON object; an agent-local
/// format, not a wire type: [`BackupFile::to_wire`] makes the wire [`Backup`]).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct BackupFile {
    pub container: String,
    /// Milliseconds since the Unix epoch; also the file name.
    pub taken_at_ms: u64,
    /// The reference the container was created from (`Config.Image`).
    pub image_ref: String,
    /// The image id it ran (`sha256:...`).
    pub image_id: String,
    /// The engine's full container inspect, as the engine sent it.
    pub inspect: Value,
    /// Volume archives taken with it (file names beside it), when asked for.
    #[serde(default)]
    pub volume_archives: Vec<String>,
    /// The database dump taken with it (a file beside it), when the container is a database.
    #[serde(default)]
    pub dump: Option<DatabaseDump>,
    /// Redis: the server's directory and RDB file name, where the dump goes back to.
    #[serde(default)]
    pub rdb_target: Option<(String, String)>,
}

impl BackupFile {
    /// The file name this backup is stored under.
    pub fn file_name(&self) -> String {
        format!("{}.json", self.taken_at_ms)
    }

    /// The backup as it travels to the controller: the environment variables matching
    /// `env_exclude` patterns are left out (named in `excluded_env`; this file keeps them).
    pub fn to_wire(&self, env_exclude: &[String]) -> Backup {
        let mut inspect = self.inspect.clone();
        let excluded_env = super::env_exclude::redact(&mut inspect, env_exclude);
        Backup {
            container: self.container.clone(),
            taken_at_ms: self.taken_at_ms,
            image_ref: self.image_ref.clone(),
            image_id: self.image_id.clone(),
            inspect_json: inspect.to_string(),
            volume_archives: self.volume_archives.clone(),
            dump: self.dump.clone(),
            excluded_env,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Reading or writing a backup file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A backup file is not valid JSON of a backup.
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A container or backup name that cannot name a file.
    #[error("invalid name {0:?}")]
    InvalidName(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Names that are safe as one path component (container names are `[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The directory of one container's backups.
pub fn dir(data_dir: &Path, container: &str) -> Result<PathBuf, BackupError> {
    if !valid_name(container) {
        return Err(BackupError::InvalidName(container.to_owned()));
    }
    Ok(data_dir.join("backups").join(container))
}

/// Writes `backup` (0600, fsynced, atomically through a temporary file); returns its path.
pub fn save(data_dir: &Path, backup: &BackupFile) -> Result<PathBuf, BackupError> {
    let dir = dir(data_dir, &backup.container)?;
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let path = dir.join(backup.file_name());
    let json = serde_json::to_vec_pretty(backup).map_err(|source| BackupError::Json {
        path: path.clone(),
        source,
    })?;
    crate::fsutil::replace_file(&path, &json, 0o600).map_err(io(&path))?;
    Ok(path)
}

/// Reads one backup by file name (`<millis>.json`).
pub fn load(data_dir: &Path, container: &str, file_name: &str) -> Result<BackupFile, BackupError> {
    if !valid_name(file_name) {
        return Err(BackupError::InvalidName(file_name.to_owned()));
    }
    let path = dir(data_dir, container)?.join(file_name);
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    serde_json::from_slice(&bytes).map_err(|source| BackupError::Json { path, source })
}

/// The file names of a container's backups, newest first (none: empty).
pub fn list(data_dir: &Path, container: &str) -> Result<Vec<String>, BackupError> {
    let dir = dir(data_dir, container)?;
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io(&dir)(error)),
    };
    let mut stamps: Vec<u64> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            entry
                .file_name()
                .to_str()?
                .strip_suffix(".json")?
                .parse()
                .ok()
        })
        .collect();
    stamps.sort_unstable_by(|a, b| b.cmp(a));
    Ok(stamps
        .into_iter()
        .map(|stamp| format!("{stamp}.json"))
        .collect())
}

/// The newest backup, if any.
pub fn newest(data_dir: &Path, container: &str) -> Result<Option<BackupFile>, BackupError> {
    match list(data_dir, container)?.first() {
        Some(name) => load(data_dir, container, name).map(Some),
        None => Ok(None),
    }
}

/// The bytes of one backup on disk: its file and the files beside it that start with its stamp
/// (volume archives, the dump).
pub fn size(data_dir: &Path, container: &str, file_name: &str) -> Result<u64, BackupError> {
    let dir = dir(data_dir, container)?;
    let stamp = file_name.trim_end_matches(".json");
    let prefix = format!("{stamp}-");
    let mut total = 0u64;
    for entry in std::fs::read_dir(&dir)
        .map_err(io(&dir))?
        .filter_map(Result::ok)
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == file_name || name.starts_with(&prefix) {
            total = total.saturating_add(entry.metadata().map(|m| m.len()).unwrap_or(0));
        }
    }
    Ok(total)
}

/// Deletes all but the newest `keep` backups, then, while the container's backups together
/// hold more than `max_bytes`, the oldest of the rest (the newest one always stays); returns
/// how many were deleted.
pub fn prune(
    data_dir: &Path,
    container: &str,
    keep: usize,
    max_bytes: Option<u64>,
) -> Result<usize, BackupError> {
    let names = list(data_dir, container)?;
    let mut keep = keep.max(1);
    if let Some(max_bytes) = max_bytes {
        let mut total = 0u64;
        for (index, name) in names.iter().enumerate().take(keep) {
            total = total.saturating_add(size(data_dir, container, name)?);
            if total > max_bytes && index > 0 {
                keep = index;
                break;
            }
        }
    }
    delete_after(data_dir, container, &names, keep)
}

fn delete_after(
    data_dir: &Path,
    container: &str,
    names: &[String],
    keep: usize,
) -> Result<usize, BackupError> {
    let dir = dir(data_dir, container)?;
    let mut deleted = 0;
    for name in names.iter().skip(keep) {
        let path = dir.join(name);
        std::fs::remove_file(&path).map_err(io(&path))?;
        deleted += 1;
        // Its volume archives, `<stamp>-<volume>.tar.gz`.
        let prefix = format!("{}-", name.trim_end_matches(".json"));
        for entry in std::fs::read_dir(&dir)
            .map_err(io(&dir))?
            .filter_map(Result::ok)
        {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
            }
        }
    }
    Ok(deleted)
}
