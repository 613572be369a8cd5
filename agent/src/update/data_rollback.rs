//! The one data step of every rollback (issue 17 §1): the swap's automatic rollback
//! (`swap.rs`), a compose service's (`compose_update.rs`, through
//! [`super::recovery::undo_compose`]) and the recovery of an operation the agent was killed in
//! (`recovery.rs`) all put a database's data back through [`DataRollback`]: nothing unless
//! the new version started (it may have migrated the data) and the backup has what the
//! policy restores from (the container's `unity.update.data_restore` label over the agent's
//! `[containers] data_restore`, [`data_restore::policy_for`]); else the files go back before
//! the old container starts ([`data_restore::before_start`]: volume archives, Redis' RDB) and
//! the dump is fed to it once it runs ([`data_restore::after_start`]). A manual restore uses
//! [`data_restore::restore_into`], the same two halves around a stop and a start.

use std::path::{Path, PathBuf};
use std::time::Duration;

use unity_shared::model::update::{DataSource, Outcome};

use super::backup::{self, BackupFile};
use super::data_restore::{self, Policy};
use super::engine::Engine;

/// What a rollback needs to put data back, from the operation's context (or, at agent start,
/// from the agent's config).
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// The agent's data directory (the backups and the files beside them).
    pub data_dir: &'a Path,
    /// The agent's `[containers] data_restore`; a container's label wins.
    pub policy: Policy,
    /// How long the new container may take to stop before the data goes back.
    pub stop_grace: Duration,
}

/// The data part of one rollback: planned, then [`DataRollback::before`] the old container
/// starts and [`DataRollback::after`] it runs; [`DataRollback::outcome`] says what happened.
#[derive(Debug)]
pub struct DataRollback<'b> {
    planned: Option<(&'b BackupFile, DataSource, PathBuf)>,
    stop_grace: Duration,
    /// Set once the files went back (or nothing had to go back before the start).
    ready: bool,
    restored: Option<DataSource>,
    problem: Option<String>,
}

impl<'b> DataRollback<'b> {
    /// What the rollback of `container` puts back: nothing unless `new_ran` (the new version
    /// started, so it may have touched the data) and `backup` has what the policy takes.
    pub fn plan(
        settings: &Settings<'_>,
        container: &str,
        backup: Option<&'b BackupFile>,
        new_ran: bool,
    ) -> DataRollback<'b> {
        let mut rollback = DataRollback {
            planned: None,
            stop_grace: settings.stop_grace,
            ready: false,
            restored: None,
            problem: None,
        };
        let Some(backup) = backup.filter(|_| new_ran) else {
            return rollback;
        };
        let policy = match data_restore::policy_for(settings.policy, &backup.inspect) {
            Ok(policy) => policy,
            Err(problem) => {
                rollback.problem = Some(problem);
                return rollback;
            }
        };
        let dir = match backup::dir(settings.data_dir, container) {
            Ok(dir) => dir,
            Err(error) => {
                rollback.problem = Some(error.to_string());
                return rollback;
            }
        };
        rollback.planned = data_restore::choose(policy, backup).map(|source| (backup, source, dir));
        rollback
    }

    /// The operation's backup, named by its journal, cannot be read (deleted, damaged): when
    /// the new version ran, nothing can put the data back, so the rollback ends failed saying
    /// why instead of "rolled back" over the new version's data.
    pub fn backup_unreadable(&mut self, new_ran: bool, problem: String) {
        if new_ran {
            self.planned = None;
            self.problem = Some(problem);
        }
    }

    /// Where the data is to come back from, when it is.
    pub fn source(&self) -> Option<DataSource> {
        self.planned.as_ref().map(|(_, source, _)| *source)
    }

    /// Before the old container starts: stops `writer` (the new container, when it still
    /// holds the data: it must write nothing more), then puts the files back (the volume
    /// archives, or Redis' RDB into `stopped`, the old container, created and not running).
    pub async fn before<E: Engine>(
        &mut self,
        engine: &E,
        writer: Option<&str>,
        stopped: &str,
        say: &mut (dyn FnMut(&str) + Send),
    ) {
        let Some((backup, source, dir)) = &self.planned else {
            return;
        };
        say(&format!(
            "the new version ran: putting the data back from the {}",
            source_words(*source)
        ));
        if let Some(writer) = writer {
            if let Err(error) = engine.stop(writer, self.stop_grace).await {
                tracing::warn!(%error, "Cannot stop the new container before restoring the data.");
            }
        }
        match data_restore::before_start(engine, stopped, backup, dir, *source).await {
            Ok(()) => self.ready = true,
            Err(problem) => self.problem = Some(problem),
        }
    }

    /// Once the old container runs again (as `running`): the dump fed to it.
    pub async fn after<E: Engine>(
        &mut self,
        engine: &E,
        running: &str,
        say: &mut (dyn FnMut(&str) + Send),
    ) {
        let Some((backup, source, dir)) = &self.planned else {
            return;
        };
        if !self.ready {
            return;
        }
        match data_restore::after_start(engine, running, backup, dir, *source).await {
            Ok(line) => {
                if let Some(line) = line {
                    say(&line);
                }
                self.restored = Some(*source);
            }
            Err(problem) => self.problem = Some(problem),
        }
    }

    /// Where the data came back from (`Ok(None)`: nothing was to be put back), or why it
    /// could not be.
    pub fn outcome(&self) -> Result<Option<DataSource>, String> {
        match &self.problem {
            Some(problem) => Err(problem.clone()),
            None => Ok(self.restored),
        }
    }

    /// A rollback's outcome and message after `why`, once the old version `runs_again`
    /// (e.g. "rolled back"): rolled back (with where the data came from), or failed when the
    /// data could not be put back (the backup's files stay).
    pub fn ending(&self, why: &str) -> (Outcome, String) {
        match self.outcome() {
            Ok(Some(source)) => (
                Outcome::RolledBack,
                format!(
                    "{why}; rolled back, with the data put back from the {}",
                    source_words(source)
                ),
            ),
            Ok(None) => (Outcome::RolledBack, format!("{why}; rolled back")),
            Err(problem) => (
                Outcome::Failed,
                format!(
                    "{why}; the old version runs again, but its data could not be put back \
                     ({problem}): the backup's files are kept"
                ),
            ),
        }
    }
}

/// "volume archive", "database dump".
pub fn source_words(source: DataSource) -> &'static str {
    match source {
        DataSource::VolumeArchive => "volume archive",
        DataSource::Dump => "database dump",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::database_image::DatabaseKind;
    use unity_shared::model::update::DatabaseDump;

    fn backup(label: Option<&str>) -> BackupFile {
        let labels = match label {
            Some(value) => serde_json::json!({ "unity.update.data_restore": value }),
            None => serde_json::json!({}),
        };
        BackupFile {
            container: "db".into(),
            taken_at_ms: 1,
            image_ref: "postgres:15".into(),
            image_id: "sha256:1".into(),
            inspect: serde_json::json!({ "Config": { "Labels": labels } }),
            volume_archives: vec!["1-data.tar.gz".into()],
            dump: Some(DatabaseDump {
                kind: DatabaseKind::Postgres,
                file: "1-dump.sql".into(),
                size_bytes: 1,
                duration_ms: 1,
            }),
            rdb_target: None,
        }
    }

    fn settings(policy: Policy) -> Settings<'static> {
        Settings {
            data_dir: Path::new("/var/lib/unity"),
            policy,
            stop_grace: Duration::from_secs(1),
        }
    }

    #[test]
    fn issue_17_a_rollback_puts_data_back_only_after_the_new_version_ran() {
        let saved = backup(None);
        let plan = |policy, new_ran| {
            DataRollback::plan(&settings(policy), "db", Some(&saved), new_ran).source()
        };
        assert_eq!(plan(Policy::Auto, true), Some(DataSource::VolumeArchive));
        assert_eq!(plan(Policy::Dump, true), Some(DataSource::Dump));
        assert_eq!(plan(Policy::Auto, false), None);
        assert_eq!(plan(Policy::Off, true), None);
        let nothing = DataRollback::plan(&settings(Policy::Auto), "db", None, true);
        assert_eq!(nothing.ending("unhealthy").1, "unhealthy; rolled back");
    }

    #[test]
    fn issue_17_a_backup_the_journal_names_but_cannot_be_read_fails_the_rollback() {
        let unreadable = || "the operation's backup 5.json cannot be read: gone".to_owned();
        let mut ran = DataRollback::plan(&settings(Policy::Auto), "db", None, true);
        ran.backup_unreadable(true, unreadable());
        assert_eq!(ran.source(), None);
        let (outcome, message) = ran.ending("the agent restarted mid-update");
        assert_eq!(outcome, Outcome::Failed);
        assert!(message.contains("5.json cannot be read: gone"), "{message}");
        assert!(message.contains("the backup's files are kept"), "{message}");
        // Before the new version ran, the data is as it was: the rollback needs no backup.
        let mut not_ran = DataRollback::plan(&settings(Policy::Auto), "db", None, false);
        not_ran.backup_unreadable(false, unreadable());
        assert_eq!(not_ran.ending("x").0, Outcome::RolledBack);
    }

    #[test]
    fn issue_17_the_containers_label_decides_and_a_bad_one_fails_the_data_step() {
        let off = backup(Some("off"));
        let rollback = DataRollback::plan(&settings(Policy::Dump), "db", Some(&off), true);
        assert_eq!(rollback.source(), None);
        let dump = backup(Some("dump"));
        let rollback = DataRollback::plan(&settings(Policy::Off), "db", Some(&dump), true);
        assert_eq!(rollback.source(), Some(DataSource::Dump));
        let bad = backup(Some("tape"));
        let rollback = DataRollback::plan(&settings(Policy::Auto), "db", Some(&bad), true);
        let (outcome, message) = rollback.ending("unhealthy");
        assert_eq!(outcome, Outcome::Failed);
        assert!(
            message.contains("unknown data restore policy \"tape\""),
            "{message}"
        );
    }
}
