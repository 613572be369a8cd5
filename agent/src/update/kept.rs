//! Old images kept after a successful update, so that a manual rollback works without the
//! registry: each is remembered with the time until which it is kept, in
//! `<data_dir>/updates/kept-images.json` (0600, fsynced); [`prune`] removes the expired ones
//! (an image still used by a container stays, as the engine refuses to remove it).
//!
//! Note that this uses blocking file I/O (one small file).

use std::path::{Path, PathBuf};

use super::engine::Engine;

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("updates").join("kept-images.json")
}

/// (image id, kept until in Unix milliseconds) pairs; a missing file is none.
pub fn load(data_dir: &Path) -> std::io::Result<Vec<(String, u64)>> {
    match std::fs::read(path(data_dir)) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

fn store(data_dir: &Path, kept: &[(String, u64)]) -> std::io::Result<()> {
    let file = path(data_dir);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let json = serde_json::to_vec_pretty(kept).map_err(std::io::Error::other)?;
    crate::fsutil::replace_file(&file, &json, 0o600)
}

/// Keeps `image_id` until `until_ms` (a later time wins over an earlier one).
pub fn keep(data_dir: &Path, image_id: &str, until_ms: u64) -> std::io::Result<()> {
    let mut kept = load(data_dir)?;
    match kept.iter_mut().find(|(id, _)| id == image_id) {
        Some((_, until)) => *until = (*until).max(until_ms),
        None => kept.push((image_id.to_owned(), until_ms)),
    }
    store(data_dir, &kept)
}

/// Removes the images whose time is over at `now_ms`; returns the ids removed. An image the
/// engine refuses to remove (in use) is forgotten all the same: it is no longer ours to prune.
pub async fn prune<E: Engine>(
    engine: &E,
    data_dir: &Path,
    now_ms: u64,
) -> std::io::Result<Vec<String>> {
    let (expired, kept): (Vec<_>, Vec<_>) = load(data_dir)?
        .into_iter()
        .partition(|(_, until)| *until <= now_ms);
    let mut removed = Vec::new();
    for (id, _) in expired {
        match engine.remove_image(&id).await {
            Ok(()) => removed.push(id),
            Err(error) => tracing::info!(image = %id, %error, "Kept image not removed."),
        }
    }
    store(data_dir, &kept)?;
    Ok(removed)
}
