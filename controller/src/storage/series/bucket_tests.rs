//! Tests of the time-major layout: bucket boundary cuts, more chunks than one per bucket,
//! queries over many buckets, retention by bucket and the format marker.

use std::path::Path;

use super::tests::{open, report, ALL_TIME};
use super::{SeriesError, SeriesOptions, SeriesStore, TimeRange};

fn options(max_chunk_samples: usize, max_chunk_span_ms: i64) -> SeriesOptions {
    SeriesOptions {
        wal_dir: None,
        chunk_dir: None,
        max_wal_bytes: 1 << 20,
        max_chunk_samples,
        max_chunk_span_ms,
    }
}

/// Ingests one sample of series 0 ("cpu", no labels) per timestamp, seq counting from `seq`.
fn ingest(store: &SeriesStore, seq: u64, timestamps: &[i64]) -> u64 {
    let mut seq = seq;
    for &ts in timestamps {
        store
            .ingest(&[report("a", seq, ts, &[ts as f64 / 2.0])])
            .unwrap();
        seq += 1;
    }
    seq
}

fn points(timestamps: impl IntoIterator<Item = i64>) -> Vec<(i64, f64)> {
    timestamps
        .into_iter()
        .map(|ts| (ts, ts as f64 / 2.0))
        .collect()
}

fn query(store: &SeriesStore, range: TimeRange) -> Vec<(i64, f64)> {
    let got = store.query("a", "cpu", &[], range).unwrap();
    got.into_iter()
        .next()
        .map(|series| series.points)
        .unwrap_or_default()
}

/// `(bucket, series id)` of every sealed chunk, sorted.
fn positions(store: &SeriesStore) -> Vec<(i64, u64)> {
    store.chunk_positions()
}

#[test]
fn heads_are_cut_at_bucket_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = open(dir.path(), options(1000, 100));
    let timestamps = [-150, -5, 10, 50, 99, 100, 150, 250];
    ingest(&store, 1, &timestamps);
    // Buckets -2: [-150], -1: [-5], 0: [10, 50, 99], 1: [100, 150]; the head holds 250.
    assert_eq!(positions(&store), [(-2, 0), (-1, 0), (0, 0), (1, 0)]);
    assert_eq!(store.stats().head_samples, 1);
    assert_eq!(store.stats().n_chunks, 4);
    assert_eq!(query(&store, ALL_TIME), points(timestamps));
    let range = TimeRange {
        from_ms: 99,
        to_ms: 101,
    };
    assert_eq!(query(&store, range), points([99, 100]));
    drop(store);
    drop(db);
    let (_db, store) = open(dir.path(), options(1000, 100));
    assert_eq!(query(&store, ALL_TIME), points(timestamps));
}

#[test]
fn more_than_max_samples_in_one_bucket_make_more_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = open(dir.path(), options(4, 1000));
    let seq = ingest(&store, 1, &(0..10).collect::<Vec<_>>());
    assert_eq!(positions(&store), [(0, 0), (0, 0)]);
    assert_eq!(store.stats().head_samples, 2);
    // Reopen without a checkpoint: the head comes back from the log.
    drop(store);
    drop(db);
    let (db, store) = open(dir.path(), options(4, 1000));
    ingest(
        &store,
        seq,
        &(10..21).chain([1000, 1001]).collect::<Vec<_>>(),
    );
    // 21 samples in bucket 0: five full chunks, then 20 sealed by the cut at 1000.
    assert_eq!(positions(&store), [(0, 0); 6]);
    assert_eq!(store.stats().head_samples, 2);
    let all = points((0..21).chain([1000, 1001]));
    assert_eq!(query(&store, ALL_TIME), all);
    let range = TimeRange {
        from_ms: 7,
        to_ms: 13,
    };
    assert_eq!(query(&store, range), points(7..13));
    drop(store);
    drop(db);
    let (_db, store) = open(dir.path(), options(4, 1000));
    store.checkpoint().unwrap();
    assert_eq!(query(&store, ALL_TIME), all);
    assert_eq!(store.latest("a").unwrap()[0].1, (1001, 500.5));
}

#[test]
fn queries_span_many_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = open(dir.path(), options(3, 10));
    // 7 ms apart: one or two samples per 10 ms bucket, 6,000 buckets in all, so a query
    // over everything scans and a shorter one looks buckets up.
    let timestamps: Vec<i64> = (0..8_600).map(|i| i * 7).collect();
    let seq = ingest(&store, 1, &timestamps);
    store.checkpoint().unwrap();
    drop(store);
    drop(db);
    let (_db, store) = open(dir.path(), options(3, 10));
    assert_eq!(query(&store, ALL_TIME), points(timestamps.iter().copied()));
    for (from_ms, to_ms) in [(0, 1), (3, 4), (5, 300), (1234, 5678), (-50, 20_000)] {
        let expected = points(
            timestamps
                .iter()
                .copied()
                .filter(|&t| from_ms <= t && t < to_ms),
        );
        assert_eq!(query(&store, TimeRange { from_ms, to_ms }), expected);
    }
    // Far outside the data, and a range ending in the open head.
    let far = TimeRange {
        from_ms: 1 << 50,
        to_ms: i64::MAX,
    };
    assert!(query(&store, far).is_empty());
    ingest(&store, seq, &[60_200, 60_201]);
    let tail = TimeRange {
        from_ms: 60_190,
        to_ms: i64::MAX,
    };
    assert_eq!(query(&store, tail), points([60_193, 60_200, 60_201]));
}

#[test]
fn retention_deletes_whole_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = open(dir.path(), options(1000, 100));
    // Series 1 reports once at 20 and stays silent; series 0 every 10 ms up to 990.
    store.ingest(&[report("a", 1, 20, &[1.0, 7.0])]).unwrap();
    let timestamps: Vec<i64> = (3..100).map(|i| i * 10).collect();
    let seq = ingest(&store, 2, &timestamps);
    store.checkpoint().unwrap();
    let before = store.stats();
    // Buckets 0..=2 end at or before 350; bucket 3 holds 340, older than the cutoff.
    let deleted = store.apply_retention(350).unwrap();
    assert_eq!(deleted.samples_deleted, 2 + 27);
    assert_eq!(deleted.chunks_deleted, 4);
    assert_eq!(
        store.stats().n_samples,
        before.n_samples - deleted.samples_deleted
    );
    assert_eq!(query(&store, ALL_TIME), points((30..100).map(|i| i * 10)));
    assert!(positions(&store).iter().all(|(bucket, _)| *bucket >= 3));
    assert_eq!(store.latest("a").unwrap().len(), 1);
    // A late sample of the silent series in a deleted bucket.
    store.ingest(&[report("a", seq, 30, &[1.0, 8.0])]).unwrap();
    store
        .ingest(&[
            report("a", seq + 1, 990, &[]),
            report("a", seq + 2, 1100, &[0.0, 9.0]),
        ])
        .unwrap();
    let silent = |store: &SeriesStore| {
        let got = store.query("a", "cpu", &[], ALL_TIME).unwrap();
        got.into_iter()
            .find(|s| !s.series.labels.is_empty())
            .map(|s| s.points)
    };
    assert_eq!(silent(&store), Some(vec![(30, 8.0), (1100, 9.0)]));
    drop(store);
    drop(db);
    let (_db, store) = open(dir.path(), options(1000, 100));
    assert_eq!(silent(&store), Some(vec![(30, 8.0), (1100, 9.0)]));
    let report = store.apply_retention(2000).unwrap();
    assert_eq!(store.stats().n_samples, 0, "{report:?}");
    assert!(query(&store, ALL_TIME).is_empty());
}

#[test]
fn the_bucket_span_is_fixed_at_creation() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = open(dir.path(), options(1000, 100));
    let timestamps: Vec<i64> = (0..50).map(|i| i * 9).collect();
    ingest(&store, 1, &timestamps);
    store.checkpoint().unwrap();
    drop(store);
    drop(db);
    let (_db, store) = open(dir.path(), options(1000, 30));
    assert_eq!(query(&store, ALL_TIME), points(timestamps.iter().copied()));
}

fn open_error(root: &Path) -> SeriesError {
    let db = super::tests::open_db(root);
    let options = SeriesOptions {
        wal_dir: Some(root.join("wal")),
        chunk_dir: Some(root.join("chunks")),
        ..SeriesOptions::default()
    };
    match SeriesStore::open(&db, options) {
        Ok(_) => panic!("opened"),
        Err(error) => error,
    }
}

#[test]
fn the_old_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = super::tests::open_db(dir.path());
        let chunks = db.open_tree("series_chunks").unwrap();
        chunks.insert([0u8; 16], &[1u8, 2, 3][..]).unwrap();
        db.flush().unwrap();
    }
    let error = open_error(dir.path()).to_string();
    assert!(error.contains("format 1"), "{error}");
    let other = tempfile::tempdir().unwrap();
    {
        let db = super::tests::open_db(other.path());
        let meta = db.open_tree("series_meta").unwrap();
        meta.insert(b"F", &[0u8, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1][..])
            .unwrap();
        db.flush().unwrap();
    }
    let error = open_error(other.path()).to_string();
    assert!(error.contains("format Some(2)"), "{error}");
}
