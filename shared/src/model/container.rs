//! Container inventory model: what the agent's container collector reports about the Docker or
//! Podman engine on a host and every container it runs, plus the runtime events it saw.
//!
//! These types travel to the controller over postcard (which encodes fields and variants by
//! position) and are printed as JSON by `unity-agent collect containers --json`. Therefore:
//! never reorder fields or variants, only append; no `untagged`, `flatten` or
//! `skip_serializing_if`; absent values are `Option::None` (JSON `null`).
//!
//! The controller's update detection works from [`Container::image`] (the reference as written),
//! [`Container::repo_digests`], [`Container::image_id`] and [`Container::platform`]; see
//! `docs/containers.md`.

use serde::{Deserialize, Serialize};

/// One collection of the host's container engine.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ContainerInventory {
    /// The engine that answered, or `None` when no engine socket was found or it did not answer.
    pub engine: Option<EngineInfo>,
    /// Every container the engine knows (running or not), sorted by name.
    pub containers: Vec<Container>,
    /// Runtime events seen since the previous report, oldest first.
    pub events: Vec<ContainerEvent>,
    /// Why the inventory is empty or partial (socket missing, permission denied, API error).
    pub error: Option<String>,
}

/// Which engine implementation answered on the socket.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    Docker,
    Podman,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    pub kind: EngineKind,
    /// The engine's own version string ("20.10.24", "4.3.1").
    pub version: String,
    /// The API socket used (`/var/run/docker.sock`, `/run/podman/podman.sock`).
    pub socket: String,
}

/// An OS/architecture pair as in an OCI image index (`linux`, `amd64`, variant `v8` for arm64).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// The engine's lifecycle state of a container.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    /// A state string this version does not know.
    Unknown,
}

/// The container's HEALTHCHECK status (`None` on [`Container::health`] when it has none).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
    Unknown,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// Port inside the container.
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// Host address and port it is published on, when published.
    pub host_ip: Option<String>,
    pub host_port: Option<u16>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// `bind`, `volume`, `tmpfs`, ...
    pub kind: String,
    /// Host path (bind) or volume name (volume).
    pub source: String,
    pub destination: String,
    pub read_only: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct NetworkAttachment {
    pub name: String,
    pub ip_address: Option<String>,
    pub aliases: Vec<String>,
}

/// Resource usage from one read of the engine's stats endpoint.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ContainerUsage {
    /// CPU use as a percentage of one core (200.0 = two cores busy).
    pub cpu_percent: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    pub net_rx_bytes: Option<u64>,
    pub net_tx_bytes: Option<u64>,
    pub block_read_bytes: Option<u64>,
    pub block_write_bytes: Option<u64>,
    pub pids: Option<u64>,
}

/// Compose project and service, from the `com.docker.compose.*` labels (Podman's
/// `io.podman.compose.*` too).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ComposeInfo {
    pub project: String,
    pub service: String,
    /// `com.docker.compose.project.config_files`, when present.
    pub config_files: Option<String>,
    /// `com.docker.compose.project.working_dir`, when present.
    pub working_dir: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Container {
    /// Full container id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// The image reference as written when the container was created (`nginx:1.27`,
    /// `ghcr.io/org/app@sha256:...`).
    pub image: String,
    /// The local image id (`sha256:` + config digest on Docker and Podman).
    pub image_id: String,
    /// The image's repo digests (`registry/repo@sha256:...`): the manifest or index digest(s)
    /// the image was pulled by. Empty for a locally built, never pushed image.
    pub repo_digests: Vec<String>,
    /// The platform of the image the container runs.
    pub platform: Option<Platform>,
    /// When the image was built (its config's `created`), Unix milliseconds.
    pub image_created_ms: Option<i64>,
    pub state: RunState,
    pub health: Option<HealthStatus>,
    /// Exit code of the last run, when exited.
    pub exit_code: Option<i64>,
    /// `no`, `always`, `unless-stopped`, `on-failure`.
    pub restart_policy: Option<String>,
    pub restart_count: u64,
    pub created_ms: Option<i64>,
    pub started_ms: Option<i64>,
    pub ports: Vec<PortMapping>,
    pub mounts: Vec<MountInfo>,
    pub networks: Vec<NetworkAttachment>,
    /// All labels, sorted by key.
    pub labels: Vec<(String, String)>,
    pub compose: Option<ComposeInfo>,
    /// Resource usage, for running containers.
    pub usage: Option<ContainerUsage>,
    /// The engine's `HostConfig.NetworkMode`: `bridge`, `host`, a network's name, or
    /// `container:<id>` when the container shares another's network namespace (Compose's
    /// `network_mode: service:x` too). `None` when the engine did not say. Appended (issue 17):
    /// updates order a container after the one whose namespace it joins.
    #[serde(default)]
    pub network_mode: Option<String>,
    /// The engine's `State.OOMKilled`: the last run was ended by the kernel's OOM killer
    /// (Docker and Podman keep it until the next start). Appended (issue 18): the controller
    /// raises a container-OOM alert from it even when the `oom` event was missed.
    #[serde(default)]
    pub oom_killed: bool,
}

impl Container {
    /// The value of a label, if set.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What happened to a container, as streamed from the engine's events endpoint.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ContainerEventKind {
    Start,
    /// The container's main process exited.
    Die {
        exit_code: Option<i64>,
    },
    /// Docker sends the new status; Podman sends none (`None`).
    HealthStatus {
        status: Option<HealthStatus>,
    },
    Oom,
    Stop,
    Restart,
    Create,
    Destroy,
    Pause,
    Unpause,
    Kill,
    /// Any other action, by its engine name.
    Other {
        action: String,
    },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    /// When the engine says it happened, Unix milliseconds.
    pub at_ms: i64,
    pub container_id: String,
    /// Container name, from the event's attributes.
    pub name: Option<String>,
    pub kind: ContainerEventKind,
}
