//! Volume archives, optional with a backup (off by default): each volume the container mounts
//! (named or anonymous) is archived as `<stamp>-<volume>.tar.gz` beside the backup file, when
//! together they are within the request's size limit. The archive is taken from the volume's
//! directory on the host while the container still runs (before it is stopped), so it is as
//! consistent as a copy of a live directory. Restoring an archive is manual for now
//! (`tar -xzf` into the volume's directory).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::models::ContainerInspectResponse;

use super::engine::{Engine, EngineError};
use crate::exec::{self, CommandSpec};

/// Why no archive was made.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// The engine did not say where a volume is.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Together the volumes are larger than the limit.
    #[error("the volumes hold more than {limit} bytes, the archive limit")]
    TooLarge { limit: u64 },
    /// Measuring a volume failed.
    #[error("measuring {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `tar` failed.
    #[error("archiving {volume}: {message}")]
    Tar { volume: String, message: String },
}

/// The longest one `tar` may take.
const TAR_TIMEOUT: Duration = Duration::from_secs(1800);

/// The volume names the container mounts, in mount order. Pure.
pub fn volume_names(container: &ContainerInspectResponse) -> Vec<String> {
    container
        .mounts
        .iter()
        .flatten()
        .filter(|mount| mount.typ.as_deref() == Some("volume"))
        .filter_map(|mount| mount.name.clone())
        .collect()
}

/// Archives every volume of `container` into `dir` as `<stamp>-<volume>.tar.gz` (0600);
/// returns the file names. Nothing is written when the volumes exceed `limit` bytes.
pub async fn archive<E: Engine>(
    engine: &E,
    dir: &Path,
    stamp: u64,
    container: &ContainerInspectResponse,
    limit: u64,
) -> Result<Vec<String>, VolumeError> {
    let mut sources = Vec::new();
    for name in volume_names(container) {
        if let Some(path) = engine.volume_mountpoint(&name).await? {
            sources.push((name, path));
        }
    }
    let paths: Vec<PathBuf> = sources.iter().map(|(_, path)| path.clone()).collect();
    let measured = tokio::task::spawn_blocking(move || total_size(&paths, limit)).await;
    match measured {
        Ok(Ok(total)) if total <= limit => {}
        Ok(Ok(_)) => return Err(VolumeError::TooLarge { limit }),
        Ok(Err(error)) => return Err(error),
        Err(join) => {
            return Err(VolumeError::Io {
                path: dir.to_owned(),
                source: std::io::Error::other(join),
            })
        }
    }
    let mut files = Vec::new();
    for (name, path) in sources {
        let file = format!("{stamp}-{name}.tar.gz");
        let target = dir.join(&file);
        let spec = CommandSpec::new(
            "tar",
            &[
                "-C",
                &path.to_string_lossy(),
                "-czf",
                &target.to_string_lossy(),
                ".",
            ],
        );
        let tar_error = |message: String| VolumeError::Tar {
            volume: name.clone(),
            message,
        };
        let output = exec::run(&spec, TAR_TIMEOUT)
            .await
            .map_err(|error| tar_error(error.to_string()))?;
        // GNU tar exits 1 when a file changed while it was read: the archive is still usable.
        if !matches!(output.exit_code, Some(0 | 1)) {
            return Err(tar_error(
                String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            ));
        }
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
        std::fs::set_permissions(&target, private).map_err(|source| VolumeError::Io {
            path: target.clone(),
            source,
        })?;
        files.push(file);
    }
    Ok(files)
}

/// The bytes of regular files below `paths`, counting stops once past `limit`. Symbolic links
/// are not followed. Note that this uses blocking I/O.
fn total_size(paths: &[PathBuf], limit: u64) -> Result<u64, VolumeError> {
    let mut total = 0u64;
    let mut pending: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = pending.pop() {
        let io = |source| VolumeError::Io {
            path: path.clone(),
            source,
        };
        let metadata = std::fs::symlink_metadata(&path).map_err(io)?;
        if metadata.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(io)? {
                pending.push(entry.map_err(io)?.path());
            }
        } else if metadata.is_file() {
            total = total.saturating_add(metadata.len());
            if total > limit {
                break;
            }
        }
    }
    Ok(total)
}
