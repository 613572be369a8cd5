//! Tests of chunk files: the file format, merges, and recovery from a checkpoint or a merge
//! cut short (by putting the directories back into the state such a crash leaves).

use std::fs;
use std::path::{Path, PathBuf};

use super::chunk_file::{ChunkFile, ChunkToWrite};
use super::tests::{open, report, ALL_TIME};
use super::{SeriesOptions, SeriesStore};

fn options() -> SeriesOptions {
    SeriesOptions {
        wal_dir: None,
        chunk_dir: None,
        max_wal_bytes: 1 << 20,
        max_chunk_samples: 4,
        max_chunk_span_ms: 100,
    }
}

/// Ingests two series (cpu, cpu{cpu=0,mode=idle}) at `timestamps`, seq counting from `seq`.
fn ingest(store: &SeriesStore, seq: u64, timestamps: impl IntoIterator<Item = i64>) -> u64 {
    let mut seq = seq;
    for ts in timestamps {
        let values = [ts as f64, -(ts as f64)];
        store.ingest(&[report("a", seq, ts, &values)]).unwrap();
        seq += 1;
    }
    seq
}

/// Both series' points, as (cpu, cpu idle).
/// The points of both series.
type Both = (Vec<(i64, f64)>, Vec<(i64, f64)>);

fn both(store: &SeriesStore) -> Both {
    let got = store.query("a", "cpu", &[], ALL_TIME).unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    let plain = got.iter().find(|s| s.series.labels.is_empty()).unwrap();
    let idle = got.iter().find(|s| !s.series.labels.is_empty()).unwrap();
    (plain.points.clone(), idle.points.clone())
}

fn expected(timestamps: impl IntoIterator<Item = i64> + Clone) -> Both {
    let plain = timestamps
        .clone()
        .into_iter()
        .map(|t| (t, t as f64))
        .collect();
    let idle = timestamps.into_iter().map(|t| (t, -(t as f64))).collect();
    (plain, idle)
}

fn chunk_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(root.join("chunks"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn copy_dir(from: &Path, to: &Path) {
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

#[test]
fn a_file_round_trips_and_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let chunks = [
        (3u64, vec![1u8, 2, 3]),
        (3, vec![4]),
        (7, vec![5, 6]),
        (1000, vec![7u8; 300]),
    ];
    let to_write: Vec<ChunkToWrite<'_>> = chunks
        .iter()
        .map(|(series_id, value)| ChunkToWrite {
            series_id: *series_id,
            value,
            n_samples: value.len() as u64,
        })
        .collect();
    let file = ChunkFile::write(dir.path(), -4, 12, 9, &to_write, &[2, 5]).unwrap();
    let path = dir.path().join("-4_12.chunks");
    assert!(path.exists());
    let file_again = ChunkFile::open(&path).unwrap();
    for file in [&file, &file_again] {
        assert_eq!((file.bucket, file.number, file.tag), (-4, 12, 9));
        assert_eq!(
            (file.n_chunks, file.n_samples, file.data_bytes),
            (4, 306, 306)
        );
        assert_eq!(file.replaces, [2, 5]);
        assert_eq!(file.chunks_of(3).unwrap(), [vec![1, 2, 3], vec![4]]);
        assert_eq!(file.chunks_of(1000).unwrap(), [vec![7u8; 300]]);
        assert!(file.chunks_of(4).unwrap().is_empty());
        assert_eq!(file.all_chunks().unwrap().len(), 4);
    }
    // Unsorted input is refused.
    let unsorted = [&to_write[2], &to_write[0]].map(|chunk| ChunkToWrite {
        series_id: chunk.series_id,
        value: chunk.value,
        n_samples: chunk.n_samples,
    });
    assert!(ChunkFile::write(dir.path(), 0, 13, 9, &unsorted, &[]).is_err());

    // A flipped data byte costs that chunk only; a flipped index byte is an error on use; a
    // flipped trailer byte or a cut file is refused at open.
    let bytes = fs::read(&path).unwrap();
    let damaged = |at: usize| {
        let mut copy = bytes.clone();
        copy[at] ^= 0x40;
        let path = dir.path().join("-4_99.chunks");
        fs::write(&path, copy).unwrap();
        path
    };
    let file = ChunkFile::open(&damaged(20)).unwrap();
    assert_eq!(file.chunks_of(3).unwrap(), [vec![4]]);
    let index_at = 20 + 306 + 1;
    let file = ChunkFile::open(&damaged(index_at)).unwrap();
    let error = file.chunks_of(3).unwrap_err().to_string();
    assert!(error.contains("index checksum"), "{error}");
    let error = ChunkFile::open(&damaged(bytes.len() - 20)).unwrap_err();
    assert!(error.to_string().contains("checksum"), "{error}");
    let cut = dir.path().join("-4_98.chunks");
    fs::write(&cut, &bytes[..bytes.len() - 1]).unwrap();
    assert!(ChunkFile::open(&cut).is_err());
    fs::write(&cut, b"UNITYCHK").unwrap();
    assert!(ChunkFile::open(&cut).is_err());
}

#[test]
fn checkpoints_write_files_and_merge_ended_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = open(dir.path(), options());
    // Buckets 0 and 1, a checkpoint after every 10 ms: several files per bucket.
    let mut seq = 1;
    for start in (0..200).step_by(10) {
        seq = ingest(&store, seq, start..start + 10);
        store.checkpoint().unwrap();
    }
    // Bucket 0 has not ended yet (the newest sample is in bucket 1).
    let per_bucket = store.files_per_bucket();
    assert!(per_bucket.iter().all(|&(_, n)| n > 1), "{per_bucket:?}");
    seq = ingest(&store, seq, 300..305);
    store.checkpoint().unwrap();
    // Buckets 0 and 1 ended: merged into one file each, sorted by series.
    assert_eq!(store.files_per_bucket(), [(0, 1), (1, 1), (3, 1)]);
    // ... and each series' chunks of a merged bucket became one chunk of 100 samples.
    let positions = store.chunk_positions();
    assert_eq!(positions[..4], [(0, 0), (0, 1), (1, 0), (1, 1)]);
    assert_eq!(store.stats().n_chunks, positions.len() as u64);
    let all: Vec<i64> = (0..200).chain(300..305).collect();
    assert_eq!(both(&store), expected(all.clone()));
    assert_eq!(store.stats().n_samples, 2 * all.len() as u64);
    assert_eq!(store.latest("a").unwrap().len(), 2);
    assert_eq!(chunk_files(dir.path()).len(), 3);
    drop(store);
    drop(db);
    let (db, store) = open(dir.path(), options());
    assert_eq!(both(&store), expected(all.clone()));
    assert_eq!(store.stats().n_samples, 2 * all.len() as u64);
    // A series that went silent has its latest point in a file.
    store.ingest(&[report("a", seq, 1000, &[1.0])]).unwrap();
    store.checkpoint().unwrap();
    let latest = |store: &SeriesStore| -> Vec<(i64, f64)> {
        store
            .latest("a")
            .unwrap()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    };
    assert_eq!(latest(&store), [(1000, 1.0), (304, -304.0)]);
    drop(store);
    drop(db);
    let (_db, store) = open(dir.path(), options());
    assert_eq!(latest(&store), [(1000, 1.0), (304, -304.0)]);
}

#[test]
fn a_checkpoint_cut_short_after_writing_files_replays_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let crashed = tempfile::tempdir().unwrap();
    {
        let (db, store) = open(dir.path(), options());
        ingest(&store, 1, 0..50);
        store.checkpoint().unwrap();
        ingest(&store, 51, 50..130);
        db.flush().unwrap();
        // The state before the next checkpoint: pending chunks only in memory and the log.
        copy_dir(dir.path(), crashed.path());
        store.checkpoint().unwrap();
    }
    // The crash: the new chunk files are on disk, the log was not rotated yet.
    let old: Vec<PathBuf> = chunk_files(crashed.path());
    for path in chunk_files(dir.path()) {
        let target = crashed
            .path()
            .join("chunks")
            .join(path.file_name().unwrap());
        if !old.contains(&target) {
            fs::copy(&path, &target).unwrap();
        }
    }
    assert!(chunk_files(crashed.path()).len() > old.len());
    let (_db, store) = open(crashed.path(), options());
    assert_eq!(both(&store), expected(0..130));
    assert_eq!(store.stats().n_samples, 260);
}

#[test]
fn a_merge_cut_short_is_finished_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = tempfile::tempdir().unwrap();
    let (db, store) = open(dir.path(), options());
    let mut seq = 1;
    for start in (0..100).step_by(25) {
        seq = ingest(&store, seq, start..start + 25);
        store.checkpoint().unwrap();
    }
    assert_eq!(store.files_per_bucket(), [(0, 4)]);
    copy_dir(&dir.path().join("chunks"), inputs.path());
    ingest(&store, seq, 250..255);
    store.checkpoint().unwrap();
    assert_eq!(store.files_per_bucket(), [(0, 1), (2, 1)]);
    drop(store);
    drop(db);
    // The crash: the merged file is written, its inputs are not deleted yet.
    copy_dir(inputs.path(), &dir.path().join("chunks"));
    let (_db, store) = open(dir.path(), options());
    assert_eq!(both(&store), expected((0..100).chain(250..255)));
    assert_eq!(store.files_per_bucket(), [(0, 1), (2, 1)]);
    assert_eq!(chunk_files(dir.path()).len(), 2);
}

#[test]
fn a_corrupt_file_is_moved_aside_and_the_rest_served() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_db, store) = open(dir.path(), options());
        ingest(&store, 1, 0..400);
        store.checkpoint().unwrap();
    }
    let files = chunk_files(dir.path());
    let victim = files
        .iter()
        .find(|p| p.to_str().unwrap().contains("/1_"))
        .unwrap();
    let len = fs::metadata(victim).unwrap().len();
    let file = fs::OpenOptions::new().write(true).open(victim).unwrap();
    file.set_len(len - 3).unwrap();
    // Leftovers of an unfinished write are removed.
    fs::write(
        dir.path().join("chunks").join("2_77.chunks.tmp"),
        b"partial",
    )
    .unwrap();
    let (_db, store) = open(dir.path(), options());
    let (plain, _) = both(&store);
    let expected: Vec<(i64, f64)> = (0..100).chain(200..400).map(|t| (t, t as f64)).collect();
    assert_eq!(plain, expected);
    assert!(victim.with_extension("corrupt").exists());
    assert!(!dir.path().join("chunks").join("2_77.chunks.tmp").exists());
    // Retention deletes whole files.
    let report = store.apply_retention(300).unwrap();
    assert_eq!(report.samples_deleted, 2 * 200);
    assert_eq!(
        both(&store),
        (
            (300..400).map(|t| (t, t as f64)).collect(),
            (300..400).map(|t| (t, -(t as f64))).collect()
        )
    );
    let names: Vec<PathBuf> = chunk_files(dir.path());
    assert!(
        names.iter().all(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("3_") || name.ends_with(".corrupt")
        }),
        "{names:?}"
    );
}
