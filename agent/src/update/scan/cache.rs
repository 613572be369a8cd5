//! The agent's image scans, per image id, in `<data_dir>/image-scans.json` (replaced
//! atomically): the newest scan and the newest failure of each image, bounded, so that a
//! rescan waits for the cache's age and the controller is told the same summaries again after
//! a restart.

use std::path::Path;

use serde::{Deserialize, Serialize};
use unity_shared::model::scan::{ImageScan, ScanFailure};

use crate::fsutil;

/// At most this many images are remembered (the oldest scans go first).
pub const MAX_IMAGES: usize = 256;

/// What the cache file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanCache {
    pub scans: Vec<ImageScan>,
    pub failures: Vec<ScanFailure>,
}

impl ScanCache {
    /// The scan of `image_id` if it is younger than `max_age_ms` at `now_ms`.
    pub fn fresh(&self, image_id: &str, now_ms: i64, max_age_ms: i64) -> Option<ImageScan> {
        self.scans
            .iter()
            .find(|scan| scan.image_id == image_id)
            .filter(|scan| now_ms.saturating_sub(scan.scanned_at_ms) < max_age_ms)
            .cloned()
    }

    /// Keeps `scan` as the image's newest and forgets an older failure.
    pub fn put(&mut self, scan: ImageScan) {
        self.scans.retain(|old| old.image_id != scan.image_id);
        self.failures.retain(|old| old.image_id != scan.image_id);
        self.scans.push(scan);
        self.scans
            .sort_by_key(|scan| std::cmp::Reverse(scan.scanned_at_ms));
        self.scans.truncate(MAX_IMAGES);
    }

    /// Records a failed scan of `image_id`.
    pub fn fail(&mut self, image_id: &str, at_ms: i64, message: String) {
        self.failures.retain(|old| old.image_id != image_id);
        self.failures.push(ScanFailure {
            image_id: image_id.to_owned(),
            at_ms,
            message,
        });
        self.failures
            .sort_by_key(|failure| std::cmp::Reverse(failure.at_ms));
        self.failures.truncate(MAX_IMAGES);
    }
}

/// The cache, or an empty one when the file is missing or unreadable.
pub fn load(path: &Path) -> ScanCache {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Replaces the file.
pub fn save(path: &Path, cache: &ScanCache) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec(cache)?;
    fsutil::write_atomically(path, &bytes, 0o600)
}
