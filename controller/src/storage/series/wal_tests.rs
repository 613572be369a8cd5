//! Write-ahead log tests: torn tails are truncated, corruption in the middle is an error,
//! and checkpoints keep the log small.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::tests::{open, open_db, report, ALL_TIME, SMALL};
use super::{SeriesError, SeriesOptions};

/// The newest segment file under `root/wal`.
fn newest_segment(root: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = fs::read_dir(root.join("wal"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wal"))
        .collect();
    segments.sort();
    segments.pop().unwrap()
}

fn wal_files(root: &Path) -> (usize, u64) {
    let mut n_files = 0;
    let mut n_bytes = 0;
    for entry in fs::read_dir(root.join("wal")).unwrap() {
        n_files += 1;
        n_bytes += entry.unwrap().metadata().unwrap().len();
    }
    (n_files, n_bytes)
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

/// Ingests reports 1..=n of agent "a", one call each, without a checkpoint, and returns
/// the segment's length before the last call.
fn ingest_reports(root: &Path, n: u64) -> u64 {
    let (_db, store) = open(root, SMALL);
    let mut before_last = 0;
    for seq in 1..=n {
        before_last = file_len(&newest_segment(root));
        store
            .ingest(&[report("a", seq, seq as i64 * 10, &[seq as f64, 0.25])])
            .unwrap();
    }
    before_last
}

/// Checks that reports 1..=n (and nothing else) are stored.
#[track_caller]
fn check_reports(root: &Path, n: u64) {
    let (_db, store) = open(root, SMALL);
    assert_eq!(store.last_seq("a").unwrap(), (n > 0).then_some(n));
    let got = store.query("a", "cpu", &[], ALL_TIME).unwrap();
    let expected: Vec<(i64, f64)> = (1..=n).map(|seq| (seq as i64 * 10, seq as f64)).collect();
    assert_eq!(
        got.first().map(|s| s.points.clone()).unwrap_or_default(),
        expected
    );
    assert_eq!(store.stats().n_samples, n * 2);
}

#[test]
fn garbage_after_the_last_record_is_truncated() {
    for garbage in [
        &[0u8; 3][..],
        &[0u8; 4096],
        &[7, 0, 0, 0, 1, 2, 3, 4, 5],
        &[0xFF; 20],
    ] {
        let dir = tempfile::tempdir().unwrap();
        ingest_reports(dir.path(), 9);
        let segment = newest_segment(dir.path());
        let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
        file.write_all(garbage).unwrap();
        drop(file);
        check_reports(dir.path(), 9);
        // Reopening truncated the tail, then started a new segment.
        assert!(!segment.exists());
        assert!(file_len(&newest_segment(dir.path())) > 0);
    }
}

#[test]
fn a_torn_last_record_is_dropped_and_everything_before_it_survives() {
    let dir = tempfile::tempdir().unwrap();
    let before_last = ingest_reports(dir.path(), 9);
    let segment = newest_segment(dir.path());
    let len = file_len(&segment);
    let template = fs::read(&segment).unwrap();
    // Every cut inside the last record, and a flipped byte in it.
    let mut variants: Vec<Vec<u8>> = (before_last as usize + 1..len as usize)
        .map(|cut| template[..cut].to_vec())
        .collect();
    let mut flipped = template.clone();
    flipped[len as usize - 3] ^= 0x40;
    variants.push(flipped);
    for variant in variants {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        fs::write(newest_segment(copy.path()), &variant).unwrap();
        check_reports(copy.path(), 8);
    }
    check_reports(dir.path(), 9);
}

#[test]
fn corruption_in_the_middle_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let before_last = ingest_reports(dir.path(), 9);
    let segment = newest_segment(dir.path());
    let mut bytes = fs::read(&segment).unwrap();
    bytes[before_last as usize - 5] ^= 0x01;
    fs::write(&segment, &bytes).unwrap();
    let db = open_db(dir.path());
    let options = SeriesOptions {
        wal_dir: Some(dir.path().join("wal")),
        chunk_dir: Some(dir.path().join("chunks")),
        ..SMALL
    };
    let error = super::SeriesStore::open(&db, options).err().unwrap();
    assert!(
        matches!(
            error,
            SeriesError::Corrupt {
                what: "write-ahead log",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("checksum"), "{error}");
    // The log was left as it was, for the operator.
    assert_eq!(fs::read(&segment).unwrap(), bytes);
}

#[test]
fn checkpoints_delete_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, store) = open(dir.path(), SMALL);
    let mut largest = 0;
    for seq in 1..=400u64 {
        store
            .ingest(&[report("a", seq, seq as i64 * 10, &[1.0, 2.0, 3.0, 4.0])])
            .unwrap();
        if seq % 25 == 0 {
            store.checkpoint().unwrap();
            let (n_files, n_bytes) = wal_files(dir.path());
            assert_eq!(n_files, 1);
            assert_eq!(n_bytes, store.stats().wal_bytes);
            assert!(n_bytes < 200, "{n_bytes} bytes after a checkpoint");
        }
        largest = largest.max(wal_files(dir.path()).1);
    }
    assert!(largest < 25 * 100, "{largest}");
}

#[test]
fn a_full_log_checkpoints_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let options = SeriesOptions {
        max_wal_bytes: 2000,
        max_chunk_samples: 1000,
        max_chunk_span_ms: 1 << 40,
        ..SMALL
    };
    {
        let (_db, store) = open(dir.path(), options.clone());
        for seq in 1..=300u64 {
            store
                .ingest(&[report("a", seq, seq as i64 * 10, &[seq as f64, 0.25])])
                .unwrap();
            let (n_files, n_bytes) = wal_files(dir.path());
            assert_eq!(n_files, 1);
            // The log holds a heads snapshot (about a byte per sample) plus < 2000 bytes.
            assert!(n_bytes < 2000 + 600 + 100, "{n_bytes}");
        }
        assert!(store.stats().head_samples > 500, "heads stay open");
    }
    let (_db, store) = open(dir.path(), options);
    assert_eq!(store.last_seq("a").unwrap(), Some(300));
    assert_eq!(store.stats().n_samples, 600);
}

#[test]
fn heads_of_silent_series_are_sealed_by_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let options = SeriesOptions {
        max_chunk_samples: 100,
        max_chunk_span_ms: 50,
        ..SMALL
    };
    let (_db, store) = open(dir.path(), options);
    // Series 0 and 1 report once, then only series 0 goes on.
    store.ingest(&[report("a", 1, 0, &[1.0, 2.0])]).unwrap();
    for seq in 2..=20u64 {
        store
            .ingest(&[report("a", seq, seq as i64 * 10, &[1.0])])
            .unwrap();
    }
    // Series 0 cuts at every 50 ms bucket boundary and holds 200; series 1 holds 0.
    assert_eq!(store.stats().head_samples, 1 + 1);
    store.checkpoint().unwrap();
    // Only the silent series' head lies in a bucket more than a bucket before the newest.
    assert_eq!(store.stats().head_samples, 1);
    assert_eq!(store.stats().n_samples, 21);
    assert_eq!(store.latest("a").unwrap().len(), 2);
}

pub(super) fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}
