//! The failed candidates: (container, image id) pairs whose update was rolled back, so that the
//! same image is not applied to that container again automatically (a request with `force`
//! still may). Stored as one small JSON file, `<data_dir>/updates/failed.json` (0600, fsynced).
//!
//! Note that this uses blocking file I/O (one small file).

use std::path::{Path, PathBuf};

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("updates").join("failed.json")
}

/// Every failed pair; a missing file is an empty set.
pub fn load(data_dir: &Path) -> std::io::Result<Vec<(String, String)>> {
    match std::fs::read(path(data_dir)) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

pub fn is_failed(data_dir: &Path, container: &str, image_id: &str) -> std::io::Result<bool> {
    Ok(load(data_dir)?
        .iter()
        .any(|(c, i)| c == container && i == image_id))
}

/// Adds a pair (once).
pub fn mark(data_dir: &Path, container: &str, image_id: &str) -> std::io::Result<()> {
    let mut pairs = load(data_dir)?;
    if !pairs.iter().any(|(c, i)| c == container && i == image_id) {
        pairs.push((container.to_owned(), image_id.to_owned()));
    }
    let file = path(data_dir);
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let json = serde_json::to_vec_pretty(&pairs).map_err(std::io::Error::other)?;
    crate::fsutil::replace_file(&file, &json, 0o600)
}
