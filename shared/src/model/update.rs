//! Container update commands: what the controller asks an agent to do to one container (update
//! to a new image, roll back, restart, back up, restore), the progress stages the agent streams
//! while doing it, and the result it ends with.
//!
//! These types travel over postcard (fields and variants by position). Therefore: never reorder
//! fields or variants, only append; no `untagged`, `flatten` or `skip_serializing_if`; absent
//! values are `Option::None`. See `docs/container-updates.md`.

use serde::{Deserialize, Serialize};

use super::database_image::DatabaseKind;

/// One container command. Every command carries an operation id chosen by the controller: the
/// agent runs a given id at most once and answers a retry with the stored result.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum ContainerCommand {
    /// Pull, back up, recreate, health-check, and roll back automatically on failure.
    Update(UpdateRequest),
    /// Manual rollback to the newest backup, using the image kept locally.
    Rollback { id: OperationId, container: String },
    /// Restart the container in place.
    Restart { id: OperationId, container: String },
    /// Take a backup (inspect and image reference) now.
    Backup { id: OperationId, container: String },
    /// Recreate the container from one stored backup (`backup` is its file name,
    /// `<timestamp>.json`, as listed in a [`CommandResult::backup`]).
    Restore {
        id: OperationId,
        container: String,
        backup: String,
    },
}

impl ContainerCommand {
    pub fn id(&self) -> &OperationId {
        match self {
            ContainerCommand::Update(request) => &request.id,
            ContainerCommand::Rollback { id, .. }
            | ContainerCommand::Restart { id, .. }
            | ContainerCommand::Backup { id, .. }
            | ContainerCommand::Restore { id, .. } => id,
        }
    }
}

/// The controller's id for one operation (a UUID or similar; only `[A-Za-z0-9_.-]` is accepted
/// by the agent, since it names files).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperationId(pub String);

impl std::fmt::Display for OperationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Update one container to another image.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct UpdateRequest {
    pub id: OperationId,
    /// The container's name (without the leading `/`).
    pub container: String,
    /// What to pull and run: `repo:tag`, `repo@sha256:...`, or `repo:tag@sha256:...` (the
    /// candidate digest the controller checked, under its tag): the agent then pulls
    /// `repo@sha256:...`, checks the image is that digest, and runs it as `repo:tag` (a compose
    /// service: see `docs/container-updates.md`).
    pub image: String,
    /// Credentials for this one pull; the agent never stores them.
    pub auth: Option<RegistryAuth>,
    pub health: HealthPolicy,
    /// Apply even if this image already failed for this container (a manual retry).
    pub force: bool,
    /// Also archive the container's volumes with the backup, when together they are at most
    /// this many bytes (`None`: no archive, the default).
    pub volume_archive_limit_bytes: Option<u64>,
    /// Scan the current and the candidate image first and act on what they show (issue 17 §2,
    /// `docs/updates.md` "Vulnerability gate"); `None`: no gate. Appended in protocol 9.
    #[serde(default)]
    pub vulnerability_gate: Option<crate::model::scan::VulnerabilityGate>,
}

/// Registry credentials for one pull.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
    /// The registry host (`ghcr.io`, `127.0.0.1:5000`).
    pub server: String,
}

impl std::fmt::Debug for RegistryAuth {
    /// Never prints the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// How the new container is judged healthy. Times are milliseconds.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct HealthPolicy {
    /// Longest wait for the verdict.
    pub timeout_ms: u64,
    /// `unhealthy` is tolerated this long after the start (slow starters).
    pub start_grace_ms: u64,
    /// Without a HEALTHCHECK: how long the container must run without a restart.
    pub stability_ms: u64,
    /// Between two observations.
    pub poll_interval_ms: u64,
    /// An extra probe that must succeed too.
    pub probe: Option<Probe>,
}

impl Default for HealthPolicy {
    fn default() -> HealthPolicy {
        HealthPolicy {
            timeout_ms: 120_000,
            start_grace_ms: 30_000,
            stability_ms: 20_000,
            poll_interval_ms: 1_000,
            probe: None,
        }
    }
}

/// A probe run by the agent against an address it can reach (usually a published port).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// A TCP connect succeeds.
    Tcp { host: String, port: u16 },
    /// `GET path` answers with a 2xx or 3xx status.
    Http {
        host: String,
        port: u16,
        path: String,
    },
}

/// Where an operation is; streamed with a log line as it changes.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Pulling,
    BackingUp,
    Stopping,
    Starting,
    HealthChecking,
    RollingBack,
    Done,
}

impl Stage {
    /// The stage for people ("Backing up"): the one label the dashboard, the API's
    /// `stage_label` and the CLI show. The wire and the API's `stage` keep the snake_case word
    /// (`backing_up`).
    pub fn label(self) -> &'static str {
        match self {
            Stage::Pulling => "Pulling",
            Stage::BackingUp => "Backing up",
            Stage::Stopping => "Stopping",
            Stage::Starting => "Starting",
            Stage::HealthChecking => "Checking health",
            Stage::RollingBack => "Rolling back",
            Stage::Done => "Done",
        }
    }
}

/// One progress message of a running operation.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub id: OperationId,
    pub stage: Stage,
    pub message: String,
}

/// How an operation ended.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done as asked (updated and validated, restarted, backed up, restored, rolled back on
    /// request).
    Succeeded,
    /// The new container failed; the old one runs again under its name.
    RolledBack,
    /// Nothing changed: the request was refused or failed before the container was touched
    /// (pull failed, a previously failed image without `force`, unknown container).
    Refused,
    /// Failed and could not be undone completely; the message says what is left. An operator
    /// must look.
    Failed,
}

/// The end of an operation, stored by the agent under its id.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    pub id: OperationId,
    pub container: String,
    pub outcome: Outcome,
    /// One sentence for people.
    pub message: String,
    /// The image id the container ran before and runs now (`sha256:...`), when known.
    pub old_image_id: Option<String>,
    pub new_image_id: Option<String>,
    /// The backup taken (file name), when one was.
    pub backup: Option<String>,
    /// Every progress message, in order.
    pub log: Vec<LogLine>,
    /// The backup taken, as the agent stored it, so the controller keeps it and can diff it
    /// against later ones.
    pub backup_taken: Option<Backup>,
    /// After a rollback: where the container's data was put back from, when it was (issue 17:
    /// a database the new version had touched).
    #[serde(default)]
    pub data_restored: Option<DataSource>,
    /// What a candidate that failed its health gate left behind (its last log lines, the
    /// engine's health check runs, why the gate failed), captured before it was removed.
    /// `None` for every other outcome. Appended in issue 17.
    #[serde(default)]
    pub evidence: Option<FailureEvidence>,
}

/// Where a container's data was restored from.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// The volume archives taken with the backup.
    VolumeArchive,
    /// The database's logical dump taken with the backup.
    Dump,
}

/// A database's logical dump, taken inside the container before an update (see
/// `docs/container-updates.md`, "Data safety for databases").
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DatabaseDump {
    pub kind: DatabaseKind,
    /// The file beside the backup on the agent (`<taken_at_ms>-dump.sql`, `.rdb`, `.archive`).
    pub file: String,
    pub size_bytes: u64,
    /// How long the dump took.
    pub duration_ms: u64,
}

/// What a failed candidate container left behind, captured on the agent before the rollback
/// removed it. Everything here is the container's own output: hostile text, bounded by the
/// agent (at most [`EVIDENCE_LOG_LINES`] lines and [`EVIDENCE_LOG_BYTES`] bytes of log, valid
/// UTF-8 with invalid bytes replaced) and escaped wherever it is shown.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct FailureEvidence {
    /// Why the health gate failed, as the agent decided (`exited with code 1`, `reported
    /// unhealthy after the start grace period`).
    pub reason: String,
    /// The container's last log lines, stdout and stderr interleaved as the engine returned
    /// them, oldest first.
    pub log_tail: String,
    /// True when older lines or bytes were cut to fit the bounds.
    pub log_truncated: bool,
    /// The engine's last health check runs (`State.Health.Log`), oldest first; empty without a
    /// HEALTHCHECK.
    pub health_checks: Vec<HealthCheckRun>,
    /// The agent's own TCP/HTTP probe: why its last run failed, when there is a probe and it
    /// did not pass.
    pub probe_failure: Option<String>,
    /// Why the evidence is incomplete (the logs could not be read), when it is.
    pub capture_error: Option<String>,
}

/// At most this many log lines are kept in [`FailureEvidence::log_tail`].
pub const EVIDENCE_LOG_LINES: usize = 200;
/// At most this many bytes of log are kept in [`FailureEvidence::log_tail`] (the newest).
pub const EVIDENCE_LOG_BYTES: usize = 64 * 1024;
/// At most this many bytes of one health check's output are kept.
pub const EVIDENCE_HEALTH_OUTPUT_BYTES: usize = 4 * 1024;

/// One run of the engine's HEALTHCHECK, as the engine recorded it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckRun {
    /// When it started and ended, as the engine wrote them (RFC 3339 text).
    pub start: String,
    pub end: String,
    /// 0 healthy, 1 unhealthy, other values: the check could not run.
    pub exit_code: i64,
    /// What the check printed (bounded by [`EVIDENCE_HEALTH_OUTPUT_BYTES`]).
    pub output: String,
}

/// A container's configuration as it was before a change: what `restore` brings back and
/// what the controller diffs (see `controller::updates::backups`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub container: String,
    /// Milliseconds since the Unix epoch; the agent's file is `<taken_at_ms>.json`.
    pub taken_at_ms: u64,
    /// The reference the container was created from (`Config.Image`).
    pub image_ref: String,
    /// The image id it ran (`sha256:...`).
    pub image_id: String,
    /// The engine's full container inspect, as the engine sent it: JSON text, since the
    /// document is the engine's (Docker's or Podman's), not a Unity type.
    pub inspect_json: String,
    /// Volume archives taken with it (file names beside it on the agent).
    pub volume_archives: Vec<String>,
    /// The database dump taken with it, when the container is a database.
    #[serde(default)]
    pub dump: Option<DatabaseDump>,
    /// Environment variables (names) whose entries the agent left out of `inspect_json`
    /// (its `backup_env_exclude`): their values stay only in the agent's own copy of this
    /// backup, which a restore uses. Appended in issue 17.
    #[serde(default)]
    pub excluded_env: Vec<String>,
}

/// One progress message, kept in the result.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stage: Stage,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_postcard() {
        let command = ContainerCommand::Update(UpdateRequest {
            id: OperationId("op-1".to_owned()),
            container: "web".to_owned(),
            image: "127.0.0.1:5000/lab/app@sha256:00".to_owned(),
            auth: Some(RegistryAuth {
                username: "u".to_owned(),
                password: "p".to_owned(),
                server: "127.0.0.1:5000".to_owned(),
            }),
            health: HealthPolicy {
                probe: Some(Probe::Http {
                    host: "127.0.0.1".to_owned(),
                    port: 8080,
                    path: "/health".to_owned(),
                }),
                ..HealthPolicy::default()
            },
            force: false,
            volume_archive_limit_bytes: Some(1 << 30),
            vulnerability_gate: None,
        });
        let bytes = postcard::to_stdvec(&command).unwrap();
        let back: ContainerCommand = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, command);
        assert_eq!(back.id().0, "op-1");
    }

    #[test]
    fn debug_hides_the_password() {
        let auth = RegistryAuth {
            username: "u".to_owned(),
            password: "hunter2".to_owned(),
            server: "r".to_owned(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
