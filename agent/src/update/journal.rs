//! The durable per-operation journal: one fsynced JSON file per operation id under
//! `<data_dir>/updates/journal/`, rewritten (atomically) at every step of a container swap:
//!
//! ```text
//! Planned → Pulled → BackedUp → OldRenamed → NewCreated → NewStarted → Validated → OldRemoved
//!                                    └──────────────┴────────────┴──→ RollingBack → RolledBack
//! ```
//!
//! A step is written *after* it happened, so after a crash the engine may be one step ahead of
//! the journal; [`super::recovery`] reads these records (and the engine) to finish or undo an
//! interrupted operation. The stored result makes a retried command idempotent: the executor
//! answers it from the journal. This module only stores records: it calls no engine.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bollard::models::RestartPolicy;
use serde::{Deserialize, Serialize};
use unity_shared::model::update::{CommandResult, OperationId};

use super::backup::valid_name;
use super::compose::{ComposeService, OverrideChange};

/// How far an operation got.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Planned,
    Pulled,
    BackedUp,
    /// The old container was renamed to [`Record::parked_name`] and stopped.
    OldRenamed,
    NewCreated,
    NewStarted,
    Validated,
    OldRemoved,
    RollingBack,
    RolledBack,
}

/// One operation's journal entry (an agent-local file format, not a wire type).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Record {
    pub id: OperationId,
    pub container: String,
    pub step: Step,
    /// The old container's id, once known.
    pub old_id: Option<String>,
    pub old_was_running: bool,
    /// The old container's restart policy, set to `no` while it is parked and restored by
    /// [`super::recovery::undo`].
    #[serde(default)]
    pub old_restart_policy: Option<RestartPolicy>,
    /// The name the old container is parked under while the new one is validated.
    pub parked_name: String,
    pub new_id: Option<String>,
    /// Set for an update through the compose CLI (before its pull), which recovery undoes by
    /// tagging the old image back and running `up` again.
    #[serde(default)]
    pub compose: Option<ComposeService>,
    /// Set when the operation ended; a retry returns it.
    pub result: Option<CommandResult>,
    /// The backup taken before the change (its file name among the container's backups), so
    /// that a rollback after a crash can put the data back from its volume archives or dump.
    #[serde(default)]
    pub backup: Option<String>,
    /// Set (and journaled) just before the new version is started: from then on it may have
    /// touched the data, so a rollback, even the recovery's after a crash, puts it back.
    #[serde(default)]
    pub new_ran: bool,
    /// Set by a manual restore of a service Unity's compose override pins (before the swap):
    /// the override's text before and after, which recovery settles by the step.
    #[serde(default)]
    pub override_change: Option<OverrideChange>,
}

impl Record {
    pub fn new(id: &OperationId, container: &str) -> Record {
        Record {
            id: id.clone(),
            container: container.to_owned(),
            step: Step::Planned,
            old_id: None,
            old_was_running: false,
            old_restart_policy: None,
            parked_name: format!("{container}-unity-old-{}", id.0),
            new_id: None,
            compose: None,
            result: None,
            backup: None,
            new_ran: false,
            override_change: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading or writing a journal file failed.
    #[error("journal {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A journal file is not valid.
    #[error("journal {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// An operation id or container name that cannot name a file.
    #[error("invalid operation id or container name {0:?}")]
    InvalidName(String),
}

/// The journal directory. Note that this uses blocking file I/O (small files, fsync).
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
    /// Operations running in this process (an unfinished record of one of these is not a
    /// crash to recover but work in progress). Shared by clones.
    running: Arc<Mutex<HashSet<OperationId>>>,
    /// Held while an interrupted operation is recovered: the recovery at agent start and a
    /// retried command (which recovers its own operation first) must not both put the same
    /// container and its data back at once. Shared by clones.
    recovery: Arc<tokio::sync::Mutex<()>>,
}

impl Journal {
    pub fn open(data_dir: &Path) -> Result<Journal, JournalError> {
        let dir = data_dir.join("updates").join("journal");
        std::fs::create_dir_all(&dir).map_err(|source| JournalError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Journal {
            dir,
            running: Arc::default(),
            recovery: Arc::default(),
        })
    }

    /// Waits until no other recovery runs in this process; recover while holding the guard.
    pub async fn recovery_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.recovery.lock().await
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashSet<OperationId>> {
        // A poisoned set is still a valid set.
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Marks `id` as running in this process; false when it already is.
    pub fn claim(&self, id: &OperationId) -> bool {
        self.running().insert(id.clone())
    }

    pub fn release(&self, id: &OperationId) {
        self.running().remove(id);
    }

    /// Whether `id` is running in this process.
    pub fn is_running(&self, id: &OperationId) -> bool {
        self.running().contains(id)
    }

    fn path(&self, id: &OperationId) -> Result<PathBuf, JournalError> {
        if !valid_name(&id.0) {
            return Err(JournalError::InvalidName(id.0.clone()));
        }
        Ok(self.dir.join(format!("{}.json", id.0)))
    }

    pub fn load(&self, id: &OperationId) -> Result<Option<Record>, JournalError> {
        let path = self.path(id)?;
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| JournalError::Json { path, source }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(JournalError::Io { path, source }),
        }
    }

    /// Writes the record durably (fsynced before this returns).
    pub fn save(&self, record: &Record) -> Result<(), JournalError> {
        if !valid_name(&record.container) {
            return Err(JournalError::InvalidName(record.container.clone()));
        }
        let path = self.path(&record.id)?;
        let json = serde_json::to_vec_pretty(record).map_err(|source| JournalError::Json {
            path: path.clone(),
            source,
        })?;
        crate::fsutil::replace_file(&path, &json, 0o600)
            .map_err(|source| JournalError::Io { path, source })
    }

    /// Moves the record to `step` and saves it.
    pub fn advance(&self, record: &mut Record, step: Step) -> Result<(), JournalError> {
        record.step = step;
        self.save(record)
    }

    /// Every record without a result (an operation interrupted by a crash). A record that
    /// cannot be read is renamed `<id>.json.unreadable` and logged, so it cannot block the
    /// recovery of the others.
    pub fn unfinished(&self) -> Result<Vec<Record>, JournalError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| JournalError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let mut records = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|name| name.strip_suffix(".json")) else {
                continue;
            };
            match self.load(&OperationId(id.to_owned())) {
                Ok(Some(record)) if record.result.is_none() => records.push(record),
                Ok(_) => {}
                // One unreadable record must not stop the others' recovery: it is set aside
                // (kept for the owner, never deleted) and said loudly.
                Err(JournalError::Json { path, source }) => {
                    let aside = path.with_extension("json.unreadable");
                    let moved = std::fs::rename(&path, &aside);
                    tracing::error!(
                        path = %path.display(),
                        error = %source,
                        moved_to = %aside.display(),
                        moved = moved.is_ok(),
                        "An update journal record is unreadable; it is set aside and its \
                         operation is not recovered. Check that container by hand."
                    );
                }
                Err(error) => return Err(error),
            }
        }
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
    }
}
