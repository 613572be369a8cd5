//! Failed candidate images kept for inspection, then removed: after a rolled-back update the
//! candidate image stays on the host for `failed_image_retention` (so the owner can run it and
//! look), remembered in `<data_dir>/updates/failed-images.json` (0600, fsynced; it survives
//! agent restarts); [`prune`] removes those whose time is over. Only images this agent brought
//! onto the host are recorded (an image the host had before the update is the owner's and is
//! never recorded), and the engine's own refusal keeps an image any container uses (the image
//! is then forgotten: it is no longer ours to remove). The time is passed in (`now_ms`), so
//! tests drive it.
//!
//! Note that this uses blocking file I/O (one small file).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::engine::{Engine, EngineError};

/// One failed candidate image waiting for its removal.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct FailedImage {
    /// `sha256:...`
    pub image_id: String,
    /// The container it failed for (for people reading the file).
    pub container: String,
    /// Unix milliseconds after which it is removed.
    pub remove_after_ms: u64,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("updates").join("failed-images.json")
}

/// Every recorded image; a missing file is none.
pub fn load(data_dir: &Path) -> std::io::Result<Vec<FailedImage>> {
    match std::fs::read(path(data_dir)) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

fn store(data_dir: &Path, images: &[FailedImage]) -> std::io::Result<()> {
    let file = path(data_dir);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let json = serde_json::to_vec_pretty(images).map_err(std::io::Error::other)?;
    crate::fsutil::replace_file(&file, &json, 0o600)
}

/// Records `image_id` (failed for `container`) for removal after `remove_after_ms`; a later
/// failure of the same image pushes its time out.
pub fn record(
    data_dir: &Path,
    image_id: &str,
    container: &str,
    remove_after_ms: u64,
) -> std::io::Result<()> {
    let mut images = load(data_dir)?;
    match images.iter_mut().find(|image| image.image_id == image_id) {
        Some(image) => image.remove_after_ms = image.remove_after_ms.max(remove_after_ms),
        None => images.push(FailedImage {
            image_id: image_id.to_owned(),
            container: container.to_owned(),
            remove_after_ms,
        }),
    }
    store(data_dir, &images)
}

/// Forgets `image_id` (the owner applied it after all, with `force`, and it succeeded).
pub fn forget(data_dir: &Path, image_id: &str) -> std::io::Result<()> {
    let mut images = load(data_dir)?;
    let before = images.len();
    images.retain(|image| image.image_id != image_id);
    if images.len() != before {
        store(data_dir, &images)?;
    }
    Ok(())
}

/// Removes the images whose time is over at `now_ms`; returns the ids removed. An image the
/// engine refuses to remove (a container uses it, or it has other names) is forgotten; one
/// it could not ask (no answer) waits for the next prune.
pub async fn prune<E: Engine>(
    engine: &E,
    data_dir: &Path,
    now_ms: u64,
) -> std::io::Result<Vec<String>> {
    let (due, mut waiting): (Vec<_>, Vec<_>) = load(data_dir)?
        .into_iter()
        .partition(|image| image.remove_after_ms <= now_ms);
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let mut removed = Vec::new();
    for image in due {
        match engine.remove_image(&image.image_id).await {
            Ok(()) => {
                tracing::info!(image = %image.image_id, container = %image.container, "Failed candidate image removed after its retention.");
                removed.push(image.image_id);
            }
            Err(error @ EngineError::Api { .. }) => {
                tracing::info!(image = %image.image_id, %error, "Failed candidate image kept: the engine refused to remove it.");
            }
            // The engine did not answer: try again next time.
            Err(error) => {
                tracing::warn!(image = %image.image_id, %error, "Failed candidate image not removed yet.");
                waiting.push(image);
            }
        }
    }
    store(data_dir, &waiting)?;
    Ok(removed)
}
