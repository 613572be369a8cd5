//! Backups of a real store in a temporary data directory, restored and compared: plain and
//! encrypted, and the faults (wrong passphrase, a changed byte, an archive cut short, a target
//! that holds something), none of which may leave a half-restored directory.

use super::crypt::{KdfCost, Passphrase};
use super::*;
use crate::storage::series::{IngestReport, Sample, SeriesKey, SeriesOptions, TimeRange};
use crate::storage::Store;
use std::path::Path;

const CHEAP: KdfCost = KdfCost {
    memory_kib: 64,
    passes: 1,
    lanes: 1,
};
const ALL: TimeRange = TimeRange {
    from_ms: 0,
    to_ms: i64::MAX,
};

struct Lab {
    _dir: tempfile::TempDir,
    root: PathBuf,
    data_dir: PathBuf,
}

fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let data_dir = root.join("data");
    std::fs::create_dir_all(data_dir.join("ca")).unwrap();
    std::fs::write(data_dir.join("ca/ca.key"), b"the CA key").unwrap();
    let key = data_dir.join(crate::sealing::KEY_FILE);
    std::fs::write(&key, [7u8; 32]).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::net::UnixListener::bind(data_dir.join("admin.sock")).unwrap();
    Lab {
        _dir: dir,
        root,
        data_dir,
    }
}

fn open_store(data_dir: &Path) -> Store {
    Store::open(&data_dir.join("db"), SeriesOptions::default()).unwrap()
}

fn ingest(store: &Store, seq: u64) {
    let key = SeriesKey::new("cpu_usage_ratio", vec![("cpu".into(), "0".into())]);
    let samples = (0..300)
        .map(|i| Sample {
            series: key.clone(),
            timestamp_ms: (seq as i64 * 1000 + i) * 15_000,
            value: (i % 13) as f64 / 7.0,
        })
        .collect();
    let report = IngestReport {
        agent: "nas".into(),
        seq,
        samples,
    };
    store.series.ingest(&[report]).unwrap();
}

fn points(store: &Store) -> Vec<crate::storage::series::SeriesPoints> {
    store
        .series
        .query("nas", "cpu_usage_ratio", &[], ALL)
        .unwrap()
}

fn options(lab: &Lab, name: &str, passphrase: Option<&str>) -> BackupOptions {
    BackupOptions {
        data_dir: lab.data_dir.clone(),
        database_dir: lab.data_dir.join("db"),
        target: lab.root.join(name),
        passphrase: passphrase.map(|text| Passphrase::new(text.into()).unwrap()),
        kdf: CHEAP,
        exclude: Vec::new(),
        now_ms: 1_796_670_000_000,
    }
}

fn restore_options(
    lab: &Lab,
    archive: &str,
    into: &str,
    passphrase: Option<&str>,
) -> RestoreOptions {
    let data_dir = lab.root.join(into);
    RestoreOptions {
        archive: lab.root.join(archive),
        database_dir: data_dir.join("db"),
        data_dir,
        passphrase: passphrase.map(|text| Passphrase::new(text.into()).unwrap()),
        force: false,
        now_ms: 1_796_670_000_000,
    }
}

/// Backed up (with more ingest and a checkpoint after), restored elsewhere: the same
/// history, sequence number, files and key modes; no socket or staging directory.
#[test]
fn a_backup_restores_elsewhere_with_the_same_history() {
    let lab = lab();
    let store = open_store(&lab.data_dir);
    ingest(&store, 1);
    store.series.checkpoint().unwrap();
    ingest(&store, 2);
    let expected = points(&store);
    let report = create(&store, &options(&lab, "plain.ubak", None)).unwrap();
    assert!(report.bytes > 0 && report.n_records > 0, "{report:?}");
    ingest(&store, 3);
    store.series.checkpoint().unwrap();
    drop(store);

    let manifest = verify(&lab.root.join("plain.ubak"), None).unwrap();
    assert!(manifest.file("data/ca/ca.key").is_some());
    assert!(manifest
        .files
        .iter()
        .all(|file| !file.path.contains("admin.sock")));
    assert!(manifest
        .files
        .iter()
        .all(|file| !file.path.contains(STAGING_PREFIX)));
    let restored = restore(&restore_options(&lab, "plain.ubak", "restored", None)).unwrap();
    assert_eq!(restored.moved_aside, None);
    let target = lab.root.join("restored");
    assert_eq!(
        std::fs::read(target.join("ca/ca.key")).unwrap(),
        b"the CA key"
    );
    let mode = std::fs::metadata(target.join(crate::sealing::KEY_FILE)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    let store = open_store(&target);
    assert_eq!(points(&store), expected);
    assert_eq!(store.series.last_seq("nas").unwrap(), Some(2));
    // No staging directory is left behind in the source.
    let leftovers: Vec<_> = std::fs::read_dir(&lab.data_dir)
        .unwrap()
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(STAGING_PREFIX)
        })
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn an_encrypted_backup_needs_its_passphrase() {
    let lab = lab();
    let store = open_store(&lab.data_dir);
    ingest(&store, 1);
    let expected = points(&store);
    create(&store, &options(&lab, "sealed.ubak", Some("correct horse"))).unwrap();
    drop(store);
    let path = lab.root.join("sealed.ubak");
    assert!(is_encrypted(&path).unwrap());
    assert!(matches!(
        verify(&path, None),
        Err(BackupError::NeedsPassphrase)
    ));
    let wrong = Passphrase::new("wrong horse".into()).unwrap();
    let error = verify(&path, Some(&wrong)).unwrap_err();
    assert_eq!(error.to_string(), "wrong passphrase for this backup");
    let error = restore(&restore_options(
        &lab,
        "sealed.ubak",
        "r",
        Some("wrong horse"),
    ))
    .unwrap_err();
    assert!(matches!(error, BackupError::Crypt(_)), "{error}");
    assert!(!lab.root.join("r").exists());
    restore(&restore_options(
        &lab,
        "sealed.ubak",
        "r",
        Some("correct horse"),
    ))
    .unwrap();
    assert_eq!(points(&open_store(&lab.root.join("r"))), expected);
}

/// A changed byte or an archive cut short is refused, and nothing is left of the restore.
#[test]
fn damaged_archives_are_refused_and_nothing_is_restored() {
    let lab = lab();
    let store = open_store(&lab.data_dir);
    ingest(&store, 1);
    create(&store, &options(&lab, "plain.ubak", None)).unwrap();
    create(&store, &options(&lab, "sealed.ubak", Some("correct horse"))).unwrap();
    drop(store);
    for (name, passphrase) in [("plain.ubak", None), ("sealed.ubak", Some("correct horse"))] {
        let bytes = std::fs::read(lab.root.join(name)).unwrap();
        let mut cases = Vec::new();
        for at in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 10] {
            let mut changed = bytes.clone();
            changed[at] ^= 0x20;
            cases.push((format!("{name} byte {at}"), changed));
        }
        for cut in [bytes.len() / 2, bytes.len() - 1] {
            cases.push((format!("{name} cut at {cut}"), bytes[..cut].to_vec()));
        }
        for (case, bytes) in cases {
            std::fs::write(lab.root.join("bad.ubak"), &bytes).unwrap();
            let options = restore_options(&lab, "bad.ubak", "target", passphrase);
            let error = restore(&options).unwrap_err();
            assert!(
                matches!(
                    error,
                    BackupError::Damaged(_) | BackupError::Manifest(_) | BackupError::Crypt(_)
                ),
                "{case}: {error}"
            );
            assert!(!lab.root.join("target").exists(), "{case}");
            let temporaries = std::fs::read_dir(&lab.root)
                .unwrap()
                .flatten()
                .filter(|entry| entry.file_name().to_string_lossy().contains(".restore-"))
                .count();
            assert_eq!(temporaries, 0, "{case}");
        }
    }
    std::fs::write(lab.root.join("text.ubak"), b"hello").unwrap();
    assert!(matches!(
        verify(&lab.root.join("text.ubak"), None),
        Err(BackupError::NotABackup(_))
    ));
}

#[test]
fn a_target_that_holds_something_needs_force_and_is_moved_aside() {
    let lab = lab();
    let store = open_store(&lab.data_dir);
    ingest(&store, 1);
    create(&store, &options(&lab, "plain.ubak", None)).unwrap();
    let error = create(&store, &options(&lab, "plain.ubak", None)).unwrap_err();
    assert!(matches!(error, BackupError::Exists(_)), "{error}");
    drop(store);
    let target = lab.root.join("busy");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("keep-me"), b"x").unwrap();
    let mut options = restore_options(&lab, "plain.ubak", "busy", None);
    let error = restore(&options).unwrap_err();
    assert!(matches!(error, BackupError::NotEmpty(_)), "{error}");
    assert!(target.join("keep-me").exists());
    options.force = true;
    let report = restore(&options).unwrap();
    let aside = report.moved_aside.unwrap();
    assert_eq!(std::fs::read(aside.join("keep-me")).unwrap(), b"x");
    assert!(target.join("ca/ca.key").exists());
    assert!(!target.join("keep-me").exists());
}
