//! Container inventory: every container the host's Docker or Podman engine knows, with its
//! image, state, health, restart policy, ports, mounts, networks, labels and resource usage,
//! read from the Docker Engine API socket through bollard (Podman serves the same API).
//!
//! - [`socket`]: finds the engine's API socket (config, `DOCKER_HOST`, well-known paths),
//!   connects a [`Client`], tells Docker from Podman.
//! - [`inventory`]: pure; bollard's inspect / image-inspect responses in, model out.
//! - [`stats`]: pure; one stats response (and an optional earlier CPU reading) in, usage out.
//! - [`events`]: the event stream; the mapping to [`ContainerEvent`] is pure.
//! - [`run`]: one collection (list, inspect, image inspect, stats), bounded and never failing:
//!   problems end up in [`ContainerInventory::error`].
//! - [`samples`]: pure; the inventory as time series.
//! - [`logs`]: a container's newest log lines on the controller's request (never stored);
//!   [`log_lines`] (pure) turns the engine's stamped frames into bounded lines.
//!
//! See `docs/containers.md`.
//!
//! [`ContainerEvent`]: unity_shared::model::container::ContainerEvent
//! [`ContainerInventory::error`]: unity_shared::model::container::ContainerInventory

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod events;
pub mod inventory;
pub mod log_lines;
pub mod logs;
pub mod run;
pub mod samples;
pub mod socket;
pub mod stats;

#[cfg(test)]
mod live_event_tests;
#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

pub use run::{collect, collect_with, published_ports, StatsMemory};
pub use socket::{connect, Client, ClientError};

/// Where the engine's API socket is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketSetting {
    /// `DOCKER_HOST` (when `unix://`), then the well-known Docker and Podman paths.
    Auto,
    /// This path only.
    Path(PathBuf),
}

/// Typed `[containers]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainersConfig {
    /// Collect in the daemon at all.
    pub enabled: bool,
    pub socket: SocketSetting,
    /// How often the daemon collects a full inventory (events come in between).
    pub interval: Duration,
    /// Longest one API call may take (the stats call of a running container takes about a
    /// second on Docker by itself).
    pub timeout: Duration,
    /// Read resource usage of running containers (one stats call each).
    pub stats: bool,
    /// After an event, wait this long for more before reporting, so that a burst (a compose
    /// project restarting) becomes one report.
    pub event_debounce: Duration,
    /// Updates: how long the image a container ran before an update is kept, so a manual
    /// rollback works without the registry.
    pub keep_old_image: Duration,
    /// Updates: backups kept per container.
    pub keep_backups: usize,
    /// Updates: one container's backups (with their volume archives and database dumps) hold
    /// at most this many bytes together; the newest one always stays.
    pub backup_max_bytes: u64,
    /// Updates: where a rollback puts a database's data back from: `auto`, `volume`, `dump`
    /// or `off` (validated words; `update::data_restore::Policy` reads them).
    pub data_restore: String,
    /// Updates: how long a failed candidate image (one the agent pulled) is kept for
    /// inspection before the agent removes it.
    pub failed_image_retention: Duration,
    /// Updates: environment variable name patterns whose values are left out of the backups
    /// sent to the controller (they stay in the agent's own backup files).
    pub backup_env_exclude: Vec<String>,
}

impl Default for ContainersConfig {
    fn default() -> ContainersConfig {
        ContainersConfig {
            enabled: true,
            socket: SocketSetting::Auto,
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            stats: true,
            event_debounce: Duration::from_secs(1),
            keep_old_image: Duration::from_secs(7 * 86400),
            keep_backups: 10,
            backup_max_bytes: 10 * 1024 * 1024 * 1024,
            data_restore: "auto".to_owned(),
            failed_image_retention: Duration::from_secs(7 * 86400),
            backup_env_exclude: crate::update::env_exclude::DEFAULT_PATTERNS
                .iter()
                .map(|pattern| (*pattern).to_owned())
                .collect(),
        }
    }
}
