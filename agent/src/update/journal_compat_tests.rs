//! The update journal across agent upgrades and lost files (issue 17): records written before
//! issue 17 added the backup, `new_ran` and the compose override's text (the bytes in
//! `testdata/journal-before-issue-17-*.json`, field for field the layout of commit b613ca0)
//! still load and recover; a record naming a backup that cannot be read ends failed, saying so,
//! instead of "rolled back" over the new version's data; the recovery at start and a retried
//! command never recover the same operation twice.

use std::path::Path;
use std::time::Duration;

use unity_shared::model::update::{OperationId, Outcome};

use super::data_restore::Policy;
use super::data_rollback::Settings;
use super::executor_tests::fake;
use super::journal::{Journal, Record, Step};
use super::recovery;

const SWAP: &str = include_str!("testdata/journal-before-issue-17-swap.json");
const COMPOSE: &str = include_str!("testdata/journal-before-issue-17-compose.json");
const FINISHED: &str = include_str!("testdata/journal-before-issue-17-finished.json");

/// A journal directory under `data_dir` holding `files` (operation id, bytes).
fn journal_with(data_dir: &Path, files: &[(&str, &str)]) -> Journal {
    let journal = Journal::open(data_dir).unwrap();
    for (id, bytes) in files {
        let path = data_dir.join("updates/journal").join(format!("{id}.json"));
        std::fs::write(path, bytes).unwrap();
    }
    journal
}

fn settings(data_dir: &Path) -> Settings<'_> {
    Settings {
        data_dir,
        policy: Policy::Auto,
        stop_grace: Duration::from_secs(1),
    }
}

#[test]
fn issue_17_journals_written_before_issue_17_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_with(
        dir.path(),
        &[
            ("op-old-swap", SWAP),
            ("op-old-compose", COMPOSE),
            ("op-old-done", FINISHED),
        ],
    );
    let unfinished = journal.unfinished().unwrap();
    let ids: Vec<&str> = unfinished
        .iter()
        .map(|record| record.id.0.as_str())
        .collect();
    assert_eq!(ids, ["op-old-compose", "op-old-swap"]);
    for record in &unfinished {
        assert_eq!(record.backup, None, "{record:?}");
        assert!(!record.new_ran, "{record:?}");
        assert_eq!(record.override_change, None, "{record:?}");
    }
    let compose = unfinished[0].compose.clone().unwrap();
    assert_eq!(
        (compose.project.as_str(), compose.service.as_str()),
        ("lab", "db")
    );
    assert_eq!(compose.image_ref, "localhost/postgres:1");
    assert_eq!(compose.old_image_id, "sha256:5d1e");
    assert_eq!(compose.override_file, None);
    assert_eq!(compose.override_before, None);
    assert_eq!(unfinished[0].step, Step::NewStarted);

    // A finished operation of that time answers its retry with its stored result.
    let done = journal
        .load(&OperationId("op-old-done".to_owned()))
        .unwrap()
        .unwrap()
        .result
        .unwrap();
    assert_eq!(done.outcome, Outcome::RolledBack);
    assert_eq!(done.data_restored, None);
    assert_eq!(done.evidence, None);
    assert_eq!(done.log.len(), 1);
}

/// An agent upgraded while an update was interrupted: the new agent's recovery puts the old
/// container back from the old record (which names no backup, so no data step is claimed).
#[tokio::test]
async fn issue_17_a_journal_written_before_issue_17_still_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_with(dir.path(), &[("op-old-swap", SWAP)]);
    let engine = fake(&[]);
    let results = recovery::recover(&engine, &journal, &settings(dir.path()))
        .await
        .unwrap();
    let [result] = results.as_slice() else {
        panic!("{results:#?}")
    };
    assert_eq!(result.outcome, Outcome::RolledBack, "{result:#?}");
    assert_eq!(
        result.message,
        "the agent restarted mid-update; the old container was restored; rolled back"
    );
    assert_eq!(result.data_restored, None);
    let stored = journal
        .load(&OperationId("op-old-swap".to_owned()))
        .unwrap()
        .unwrap();
    assert_eq!(stored.step, Step::RolledBack);
    assert_eq!(stored.result.as_ref(), Some(result));
    assert!(recovery::recover(&engine, &journal, &settings(dir.path()))
        .await
        .unwrap()
        .is_empty());
}

/// The journal says the new version ran and names its backup, but the backup is gone (deleted
/// by hand, a damaged disk): the old container is put back, and the operation ends failed,
/// naming the backup, never "rolled back" over the data the new version left.
#[tokio::test]
async fn issue_17_recovery_without_the_journaled_backup_ends_failed_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let mut record = Record::new(&OperationId("op-lost-backup".to_owned()), "web");
    record.old_id = Some("c1".to_owned());
    record.backup = Some("1764100000000.json".to_owned());
    record.new_ran = true;
    journal.advance(&mut record, Step::NewStarted).unwrap();
    let engine = fake(&[]);
    let results = recovery::recover(&engine, &journal, &settings(dir.path()))
        .await
        .unwrap();
    let [result] = results.as_slice() else {
        panic!("{results:#?}")
    };
    assert_eq!(result.outcome, Outcome::Failed, "{result:#?}");
    assert!(
        result
            .message
            .contains("its data could not be put back (the operation's backup 1764100000000.json cannot be read"),
        "{}",
        result.message
    );
    assert_eq!(result.data_restored, None);
    assert_eq!(result.backup.as_deref(), Some("1764100000000.json"));
}

/// The recovery at agent start and the controller's retry of the same command (which recovers
/// its operation first) both found the record unfinished: the second waits for the first and
/// answers its stored result, never putting the container and its data back a second time
/// (seen live: two `compose up --no-start` and two dump restores of one container at once).
#[tokio::test]
async fn issue_17_an_operation_is_recovered_once_when_start_and_a_retry_race() {
    use std::sync::atomic::Ordering::Relaxed;
    let once = tempfile::tempdir().unwrap();
    let journal = journal_with(once.path(), &[("op-old-swap", SWAP)]);
    let engine = fake(&[]);
    let record = journal.unfinished().unwrap().remove(0);
    recovery::recover_one(&engine, &journal, record, &settings(once.path()))
        .await
        .unwrap();
    let one_recovery = engine.inspections.load(Relaxed);
    assert!(one_recovery > 0);

    let dir = tempfile::tempdir().unwrap();
    let journal = journal_with(dir.path(), &[("op-old-swap", SWAP)]);
    let engine = fake(&[]);
    let at_start = journal.unfinished().unwrap().remove(0);
    let retried = at_start.clone();
    let settings = settings(dir.path());
    let (first, second) = tokio::join!(
        recovery::recover_one(&engine, &journal, at_start, &settings),
        recovery::recover_one(&engine, &journal, retried, &settings),
    );
    assert_eq!(first.unwrap(), second.unwrap());
    assert_eq!(engine.inspections.load(Relaxed), one_recovery);
}
