//! What `unity-agent status` shows about the running daemon: the [`Status`] the daemon's loops
//! keep up to date and write to `<data_dir>/status.json`, read by the CLI.
//!
//! Note that [`write()`] and [`read()`] use blocking file I/O (one small file).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use unity_shared::proto::AgentId;

/// What `unity-agent status` shows about the daemon; written to `status.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    /// Written as the plain id string, as before it was typed (`None` only before start).
    pub agent_id: Option<AgentId>,
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
    /// The agentless hosts this agent is the proxy of (issue 16), as of the last change.
    #[serde(default)]
    pub agentless: Vec<crate::agentless::StatusLine>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_id_is_written_as_before() {
        let status = Status {
            agent_id: AgentId::new("web-1").ok(),
            ..Status::default()
        };
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["agent_id"], "web-1");
        let old = r#"{"agent_id":"web-1","controller":"c:4433","connection":"connected",
            "connection_since_ms":1,"last_error":null,"last_collection_ms":2,"last_ack_ms":3,
            "certificate_not_after":4,"pid":5,"instance_id":"i","identity_note":null,
            "waiting_since_ms":0}"#;
        let read: Status = serde_json::from_str(old).unwrap();
        assert_eq!(
            read.agent_id.map(|id| id.to_string()).as_deref(),
            Some("web-1")
        );
    }
}
