//! The durable per-operation journal: one fsynced JSON file per operation id under
//! `<data_dir>/updates/journal/`, rewritten (atomically) at every step of a container swap:
//!
//! ```text
//! Planned → Pulled → BackedUp → OldRenamed → NewCreated → NewStarted → Validated → OldRemoved
//!                                    └──────────────┴────────────┴──→ RollingBack → RolledBack
//! ```
//!
//! A step is written *after* it happened, so after a crash the engine may be one step ahead of
//! the journal; [`undo`] and [`finish`] therefore look at the engine (container ids), not only at
//! the step. On agent start, [`recover`] finishes every operation that reached `Validated` and
//! undoes every other unfinished one, so a container is never left missing. An update through
//! compose ([`Record::compose`]) is undone by tagging the old image back and running `up` again. The stored result
//! makes a retried command idempotent: the executor answers it from the journal.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bollard::models::{RestartPolicy, RestartPolicyNameEnum};
use serde::{Deserialize, Serialize};
use unity_shared::model::update::{CommandResult, OperationId, Outcome};

use super::backup::valid_name;
use super::compose_update::{self, ComposeService};
use super::engine::{Engine, EngineError};

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
    /// [`undo`].
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
        })
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

    /// Every record without a result (an operation interrupted by a crash).
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
            if let Some(record) = self.load(&OperationId(id.to_owned()))? {
                if record.result.is_none() {
                    records.push(record);
                }
            }
        }
        records.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(records)
    }
}

/// Puts the old container back: removes whatever else holds its name (the new container),
/// renames it back from its parked name, starts it if it ran before, and checks that it is
/// there (and running). Safe to repeat.
pub async fn undo<E: Engine>(engine: &E, record: &Record) -> Result<(), EngineError> {
    let current = engine.inspect_container(&record.container).await?;
    let current_is_old = current
        .as_ref()
        .is_some_and(|current| current.id == record.old_id);
    if let (Some(current), false) = (&current, current_is_old) {
        let id = current
            .id
            .clone()
            .unwrap_or_else(|| record.container.clone());
        engine.remove(&id).await?;
    }
    if engine
        .inspect_container(&record.parked_name)
        .await?
        .is_some()
    {
        engine
            .rename(&record.parked_name, &record.container)
            .await?;
    }
    if let Some(policy) = record.old_restart_policy.clone().filter(is_restarting) {
        engine.set_restart_policy(&record.container, policy).await?;
    }
    let Some(old) = engine.inspect_container(&record.container).await? else {
        return Err(EngineError::Socket {
            operation: format!("restore {}", record.container),
            message: "the old container is gone".to_owned(),
        });
    };
    let running = old
        .state
        .as_ref()
        .and_then(|state| state.running)
        .unwrap_or(false);
    if record.old_was_running && !running {
        engine.start(&record.container).await?;
        let state = engine
            .inspect_container(&record.container)
            .await?
            .and_then(|old| old.state);
        if !state.and_then(|state| state.running).unwrap_or(false) {
            return Err(EngineError::Socket {
                operation: format!("restore {}", record.container),
                message: "the old container does not stay running".to_owned(),
            });
        }
    }
    Ok(())
}

/// Whether a restart policy brings a container back by itself.
pub fn is_restarting(policy: &RestartPolicy) -> bool {
    !matches!(
        policy.name,
        None | Some(RestartPolicyNameEnum::NO | RestartPolicyNameEnum::EMPTY)
    )
}

/// Completes a validated swap: removes the parked old container. Safe to repeat.
pub async fn finish<E: Engine>(engine: &E, record: &Record) -> Result<(), EngineError> {
    engine.remove(&record.parked_name).await
}

/// Finishes or undoes every interrupted operation (at agent start); returns the results it
/// stored. An operation that cannot be recovered now is logged and left for the next start.
pub async fn recover<E: Engine>(
    engine: &E,
    journal: &Journal,
) -> Result<Vec<CommandResult>, JournalError> {
    let mut results = Vec::new();
    for record in journal.unfinished()? {
        let id = record.id.clone();
        if journal.is_running(&id) {
            continue;
        }
        match recover_one(engine, journal, record).await? {
            Ok(result) => results.push(result),
            Err(error) => tracing::warn!(operation = %id, %error, "Recovery failed."),
        }
    }
    Ok(results)
}

/// Finishes (from `Validated` on) or undoes (before) one interrupted operation and stores its
/// result. The outer error is the journal's, the inner one the engine's.
pub async fn recover_one<E: Engine>(
    engine: &E,
    journal: &Journal,
    mut record: Record,
) -> Result<Result<CommandResult, EngineError>, JournalError> {
    let (outcome, message) = if let Some(service) = record.compose.clone() {
        match compose_update::recover(engine, &record, &service).await {
            Ok((outcome, message, step)) => {
                record.step = step;
                (outcome, message)
            }
            Err(error) => return Ok(Err(error)),
        }
    } else if matches!(record.step, Step::Validated | Step::OldRemoved) {
        if let Err(error) = finish(engine, &record).await {
            return Ok(Err(error));
        }
        record.step = Step::OldRemoved;
        (
            Outcome::Succeeded,
            "the agent restarted after the new container was validated; the old one is removed",
        )
    } else {
        if let Err(error) = undo(engine, &record).await {
            return Ok(Err(error));
        }
        let untouched = record.step <= Step::BackedUp;
        record.step = Step::RolledBack;
        match untouched {
            true => (
                Outcome::Refused,
                "the agent restarted before the container was changed; nothing was changed",
            ),
            false => (
                Outcome::RolledBack,
                "the agent restarted mid-update; the old container was restored",
            ),
        }
    };
    let result = CommandResult {
        id: record.id.clone(),
        container: record.container.clone(),
        outcome,
        message: message.to_owned(),
        old_image_id: None,
        new_image_id: None,
        backup: None,
        backup_taken: None,
        log: Vec::new(),
    };
    tracing::info!(operation = %record.id, container = %record.container, ?outcome, "Recovered an interrupted operation.");
    record.result = Some(result.clone());
    journal.save(&record)?;
    Ok(Ok(result))
}
