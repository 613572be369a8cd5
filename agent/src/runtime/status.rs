//! What `unity-agent status` shows about the running daemon: the [`Status`] the daemon's loops
//! keep up to date and write to `<data_dir>/status.json`, read by the CLI.
//!
//! Note that [`write()`] and [`read()`] use blocking file I/O (one small file).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What `unity-agent status` shows about the daemon; written to `status.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    pub agent_id: String,
    pub controller: String,
    /// `connecting`, `connected` or `disconnected`.
    pub connection: String,
    pub connection_since_ms: i64,
    pub last_error: Option<String>,
    pub last_collection_ms: i64,
    pub last_ack_ms: i64,
    pub certificate_not_after: i64,
    pub pid: u32,
    /// This installation of the identity (see `crate::instance`).
    pub instance_id: String,
    /// Set when the data directory was copied or moved from another machine.
    pub identity_note: Option<String>,
    /// When the oldest report or heartbeat still waiting for the controller's answer was
    /// sent; 0 when nothing waits.
    pub waiting_since_ms: i64,
}

/// Where the daemon writes its status.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("status.json")
}

/// Replaces the status file (best effort: a status that cannot be written is skipped).
pub fn write(data_dir: &Path, status: &Status) {
    let path = path(data_dir);
    let tmp = path.with_extension("json.tmp");
    if let Ok(bytes) = serde_json::to_vec_pretty(status) {
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
}

/// The status the daemon last wrote; `None` when there is none or it cannot be read.
pub fn read(data_dir: &Path) -> Option<Status> {
    std::fs::read(path(data_dir))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
}
