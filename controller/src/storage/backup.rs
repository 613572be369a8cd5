//! The storage side of the controller's backup (`crate::backup`, docs/backup.md): a
//! consistent snapshot of the database taken while the daemon runs, and the database rebuilt
//! from it on restore.
//!
//! [`Store::snapshot`] holds the series writer's lock ([`series::SeriesStore::while_quiet`])
//! while it (1) hard-links every series file (write-ahead log segments, chunk files, the
//! series index) into a staging directory, noting each file's length, and (2) dumps every sled
//! tree, key by key, into `database.dump`. Chunk and index files are immutable and log
//! segments only ever grow, so a link plus the length noted under the lock is the file as it
//! was at that instant, however the store goes on after the lock is released (a checkpoint
//! may delete the original; the link keeps the inode). sled has no point-in-time snapshot: the
//! dump reads each record whole, and the series' records in sled (the index, the agents'
//! sequence numbers) cannot change while the lock is held, so they match the series files;
//! other records (sessions, the audit log, an operator's change in flight) are as they were at
//! some instant during the dump. Reports acknowledged before the snapshot are in it: their
//! samples in the log (fsynced before the ack) and their typed state in sled (written before
//! the samples).
//!
//! The dump format (ours, not sled's `export`, whose `import` panics on bad input):
//! `UNITYDB1`, then records `1 name_len name` (a tree starts), `2 key_len key value_len value`
//! (a record of the current tree), `0` (the end), lengths as u32 LE.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::{open_sled, series, Store};

const MAGIC: &[u8; 8] = b"UNITYDB1";
const TAG_END: u8 = 0;
const TAG_TREE: u8 = 1;
const TAG_RECORD: u8 = 2;
/// A key, value or tree name above this is taken as damage (guards the allocation).
const MAX_LEN: u32 = 256 << 20;

/// Errors taking a snapshot or rebuilding the database.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file or directory could not be read, linked or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// sled failed.
    #[error("database: {0}")]
    Sled(#[from] sled::Error),
    /// The series store refused (it failed earlier and must be reopened).
    #[error("time series: {0}")]
    Series(#[from] series::SeriesError),
    /// The dump is not one this version wrote, or is damaged.
    #[error("database dump: {0}")]
    BadDump(String),
    /// The target already holds a database.
    #[error("{} already holds a database", .0.display())]
    NotEmpty(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One series file as it was under the lock.
#[derive(Debug, Clone)]
pub struct SnapshotFile {
    /// Where it lives in the store.
    pub source: PathBuf,
    /// Its link (or copy) in the staging directory; read only `len` bytes of it.
    pub staged: PathBuf,
    pub len: u64,
}

/// What [`Store::snapshot`] left in the staging directory.
#[derive(Debug, Clone)]
pub struct StoreSnapshot {
    /// The sled dump (`database.dump` in the staging directory).
    pub database_dump: PathBuf,
    /// The series files.
    pub files: Vec<SnapshotFile>,
    /// The directories the series files came from: the rest of a backup skips them.
    pub series_dirs: Vec<PathBuf>,
    /// Trees and records in the dump.
    pub n_trees: u64,
    pub n_records: u64,
}

impl Store {
    /// Takes a consistent snapshot into `staging` (an empty directory on the same file system
    /// as the store, so files can be hard-linked; otherwise they are copied). See the module
    /// documentation for what "consistent" means here.
    ///
    /// Note that this uses blocking I/O, and ingest waits while the sled dump is written.
    pub fn snapshot(&self, staging: &Path) -> Result<StoreSnapshot, SnapshotError> {
        let series_staging = staging.join("series");
        std::fs::create_dir_all(&series_staging).map_err(io(&series_staging))?;
        let database_dump = staging.join("database.dump");
        self.series.while_quiet(|dirs| {
            let mut files = Vec::new();
            for dir in dirs {
                stage_dir(dir, &series_staging, &mut files)?;
            }
            let (n_trees, n_records) = dump_database(&self.db, &database_dump)?;
            Ok(StoreSnapshot {
                database_dump: database_dump.clone(),
                files,
                series_dirs: dirs.to_vec(),
                n_trees,
                n_records,
            })
        })?
    }
}

/// Links (or copies) every regular file under `dir` into `staging`, in a flat numbering.
fn stage_dir(
    dir: &Path,
    staging: &Path,
    files: &mut Vec<SnapshotFile>,
) -> Result<(), SnapshotError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(io(dir)(error)),
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            stage_dir(&path, staging, files)?;
        } else if kind.is_file() {
            let len = entry.metadata().map_err(io(&path))?.len();
            let staged = staging.join(files.len().to_string());
            if std::fs::hard_link(&path, &staged).is_err() {
                copy_prefix(&path, &staged, len)?;
            }
            files.push(SnapshotFile {
                source: path,
                staged,
                len,
            });
        }
    }
    Ok(())
}

fn copy_prefix(from: &Path, to: &Path, len: u64) -> Result<(), SnapshotError> {
    let mut source = File::open(from).map_err(io(from))?.take(len);
    let mut target = File::create(to).map_err(io(to))?;
    std::io::copy(&mut source, &mut target).map_err(io(to))?;
    Ok(())
}

/// Writes every tree of `db` to `path`; returns (trees, records).
fn dump_database(db: &sled::Db, path: &Path) -> Result<(u64, u64), SnapshotError> {
    let file = File::create(path).map_err(io(path))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut write = |bytes: &[u8]| out.write_all(bytes).map_err(io(path));
    write(MAGIC)?;
    let (mut n_trees, mut n_records) = (0, 0);
    for name in db.tree_names() {
        let tree = db.open_tree(&name)?;
        write(&[TAG_TREE])?;
        write(&length(&name)?)?;
        write(&name)?;
        n_trees += 1;
        for record in tree.iter() {
            let (key, value) = record?;
            write(&[TAG_RECORD])?;
            write(&length(&key)?)?;
            write(&key)?;
            write(&length(&value)?)?;
            write(&value)?;
            n_records += 1;
        }
    }
    write(&[TAG_END])?;
    out.flush().map_err(io(path))?;
    Ok((n_trees, n_records))
}

fn length(bytes: &[u8]) -> Result<[u8; 4], SnapshotError> {
    u32::try_from(bytes.len())
        .ok()
        .filter(|&len| len <= MAX_LEN)
        .map(u32::to_le_bytes)
        .ok_or_else(|| SnapshotError::BadDump(format!("a record of {} bytes", bytes.len())))
}

/// Builds a new sled database in `db_dir` (which must not hold one) from a dump; returns
/// (trees, records). Bad input is an error, never a panic; the caller removes `db_dir` then.
///
/// Note that this uses blocking I/O.
pub fn restore_database(db_dir: &Path, dump: impl Read) -> Result<(u64, u64), SnapshotError> {
    if std::fs::read_dir(db_dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(SnapshotError::NotEmpty(db_dir.to_path_buf()));
    }
    let db = open_sled(&sled::Config::new().path(db_dir))?;
    let mut input = BufReader::with_capacity(1 << 20, dump);
    let mut magic = [0; 8];
    read_exact(&mut input, &mut magic)?;
    if &magic != MAGIC {
        return Err(SnapshotError::BadDump("not a Unity database dump".into()));
    }
    let (mut n_trees, mut n_records) = (0, 0);
    let mut tree: Option<sled::Tree> = None;
    loop {
        let mut tag = [0; 1];
        read_exact(&mut input, &mut tag)?;
        match tag[0] {
            TAG_END => break,
            TAG_TREE => {
                let name = read_field(&mut input)?;
                tree = Some(db.open_tree(name)?);
                n_trees += 1;
            }
            TAG_RECORD => {
                let Some(tree) = &tree else {
                    return Err(SnapshotError::BadDump("a record before any tree".into()));
                };
                let key = read_field(&mut input)?;
                let value = read_field(&mut input)?;
                tree.insert(key, value)?;
                n_records += 1;
            }
            other => {
                return Err(SnapshotError::BadDump(format!(
                    "unknown record tag {other}"
                )))
            }
        }
    }
    let mut rest = [0; 1];
    if input.read(&mut rest).map_err(io(db_dir))? != 0 {
        return Err(SnapshotError::BadDump("bytes after the end".into()));
    }
    db.flush()?;
    Ok((n_trees, n_records))
}

fn read_exact(input: &mut impl Read, buffer: &mut [u8]) -> Result<(), SnapshotError> {
    input.read_exact(buffer).map_err(|error| {
        SnapshotError::BadDump(if error.kind() == std::io::ErrorKind::UnexpectedEof {
            "cut short".into()
        } else {
            error.to_string()
        })
    })
}

fn read_field(input: &mut impl Read) -> Result<Vec<u8>, SnapshotError> {
    let mut len = [0; 4];
    read_exact(input, &mut len)?;
    let len = u32::from_le_bytes(len);
    if len > MAX_LEN {
        return Err(SnapshotError::BadDump(format!("a field of {len} bytes")));
    }
    let mut field = vec![0; len as usize];
    read_exact(input, &mut field)?;
    Ok(field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::series::{IngestReport, Sample, SeriesKey, SeriesOptions, TimeRange};

    fn range(from_ms: i64, to_ms: i64) -> TimeRange {
        TimeRange { from_ms, to_ms }
    }

    fn ingest(store: &Store, seq: u64, from_ms: i64) {
        let key = SeriesKey::new("cpu_usage_ratio", Vec::new());
        let samples = (0..50)
            .map(|i| Sample {
                series: key.clone(),
                timestamp_ms: from_ms + i * 15_000,
                value: i as f64,
            })
            .collect();
        store
            .series
            .ingest(&[IngestReport {
                agent: "a".into(),
                seq,
                samples,
            }])
            .unwrap();
    }

    /// A snapshot, put back in place of the files, opens as the store was at that moment,
    /// whatever the store did afterwards (more ingest, a checkpoint deleting log segments).
    #[test]
    fn a_snapshot_restores_the_store_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), SeriesOptions::default()).unwrap();
        ingest(&store, 1, 0);
        store.series.checkpoint().unwrap();
        ingest(&store, 2, 50 * 15_000);
        store.db.open_tree("t").unwrap().insert(b"k", b"v").unwrap();
        let staging = dir.path().join("staging");
        let snapshot = store.snapshot(&staging).unwrap();
        assert!(snapshot.n_records > 0);
        // Afterwards: more samples, a checkpoint that rotates the log.
        ingest(&store, 3, 100 * 15_000);
        store.series.checkpoint().unwrap();
        let expected = store
            .series
            .query("a", "cpu_usage_ratio", &[], range(0, 100 * 15_000))
            .unwrap();
        drop(store);

        let restored = dir.path().join("restored");
        let dump = File::open(&snapshot.database_dump).unwrap();
        restore_database(&restored.join("db"), dump).unwrap();
        for file in &snapshot.files {
            let relative = file.source.strip_prefix(dir.path()).unwrap();
            let target = restored.join(relative);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            copy_prefix(&file.staged, &target, file.len).unwrap();
        }
        let reopened = Store::open(&restored.join("db"), SeriesOptions::default()).unwrap();
        assert_eq!(reopened.series.last_seq("a").unwrap(), Some(2));
        let points = reopened
            .series
            .query("a", "cpu_usage_ratio", &[], range(0, i64::MAX))
            .unwrap();
        assert_eq!(points, expected);
        let tree = reopened.db.open_tree("t").unwrap();
        assert_eq!(tree.get(b"k").unwrap().unwrap().as_ref(), b"v");
    }

    #[test]
    fn a_damaged_dump_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), SeriesOptions::default()).unwrap();
        store.db.open_tree("t").unwrap().insert(b"k", b"v").unwrap();
        let snapshot = store.snapshot(&dir.path().join("staging")).unwrap();
        let bytes = std::fs::read(&snapshot.database_dump).unwrap();
        for cut in [0, 4, 9, bytes.len() / 2, bytes.len() - 1] {
            let target = dir.path().join(format!("cut-{cut}"));
            let error = restore_database(&target, &bytes[..cut]).unwrap_err();
            assert!(matches!(error, SnapshotError::BadDump(_)), "{cut}: {error}");
        }
        let mut extra = bytes.clone();
        extra.push(7);
        let error = restore_database(&dir.path().join("extra"), &extra[..]).unwrap_err();
        assert!(error.to_string().contains("after the end"), "{error}");
        let error = restore_database(&dir.path().join("db"), &bytes[..]).unwrap_err();
        assert!(matches!(error, SnapshotError::NotEmpty(_)), "{error}");
    }
}
