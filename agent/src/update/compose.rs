//! Containers of a compose project. Cloning one through the API keeps what the inspect shows,
//! but loses what only the compose file knows (`configs:`, `env_file` as a file, `depends_on`,
//! the project's other services), so a container whose compose file is on this host is
//! updated through the compose CLI ([`super::compose_update`]), not cloned.
//!
//! [`Project`] is what a container's labels say ([`project`] is pure; the file check is a
//! `stat`); [`ComposeService`] is what the journal keeps of a compose update, so that a
//! rollback or the recovery at start can bring the service back; [`OverrideChange`] is what
//! it keeps of a manual restore that rewrites Unity's override.

use std::path::PathBuf;

use bollard::models::ContainerInspectResponse;
use serde::{Deserialize, Serialize};

/// The compose project a container belongs to, from its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub project: String,
    pub service: String,
    /// `com.docker.compose.project.config_files`, split at commas.
    pub config_files: Vec<PathBuf>,
    pub working_dir: Option<PathBuf>,
}

/// The project from Docker Compose's labels (or podman-compose's `io.podman.compose.*`). Pure.
pub fn project(container: &ContainerInspectResponse) -> Option<Project> {
    let labels = container.config.as_ref()?.labels.as_ref()?;
    let label = |suffix: &str| {
        labels
            .get(&format!("com.docker.compose.{suffix}"))
            .or_else(|| labels.get(&format!("io.podman.compose.{suffix}")))
            .cloned()
    };
    Some(Project {
        project: label("project")?,
        service: label("service")?,
        config_files: label("project.config_files")
            .map(|files| {
                files
                    .split(',')
                    .filter(|file| !file.is_empty())
                    .map(PathBuf::from)
                    .collect()
            })
            .unwrap_or_default(),
        working_dir: label("project.working_dir").map(PathBuf::from),
    })
}

impl Project {
    /// The compose files that exist on this host. Note that this uses blocking `stat` calls.
    pub fn files_present(&self) -> Vec<PathBuf> {
        self.config_files
            .iter()
            .map(|file| match (&self.working_dir, file.is_relative()) {
                (Some(dir), true) => dir.join(file),
                _ => file.clone(),
            })
            .filter(|file| file.is_file())
            .collect()
    }
}

/// What the journal keeps of a compose update, so that recovery can bring the service back.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ComposeService {
    pub project: String,
    pub service: String,
    /// The compose files, as paths on this host.
    pub files: Vec<PathBuf>,
    pub working_dir: Option<PathBuf>,
    /// The image reference the compose file names (`repo:tag`).
    pub image_ref: String,
    /// The image the service ran before the update.
    pub old_image_id: String,
    /// Unity's compose override for the service, when this update writes it (an update by
    /// digest): a rollback puts back [`ComposeService::override_before`].
    #[serde(default)]
    pub override_file: Option<PathBuf>,
    /// The override's text before this update (`None`: there was no override file).
    #[serde(default)]
    pub override_before: Option<String>,
}

/// Unity's compose override rewritten by a manual restore (rollback) of a service it pins, so
/// that the owner's next `compose up -d` keeps the restored version: journaled before the
/// swap, written ([`OverrideChange::after`]) once the restored container is validated; the
/// recovery at start writes `after` for a validated swap and `before` for an undone one.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct OverrideChange {
    pub file: PathBuf,
    /// The override's text before the restore.
    pub before: String,
    /// Its text for the restored version (its digest, or no image: the owner's tag).
    pub after: String,
}
