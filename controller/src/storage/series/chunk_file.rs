//! Chunk files: sealed chunks outside sled, in immutable files of one time bucket each.
//!
//! A checkpoint writes the chunks sealed since the previous one into one new file per
//! bucket; later, the files of a bucket are merged into one ([`merge`]). A file is
//! `{bucket}_{number}.chunks` (`number` counts up over the directory) and holds:
//!
//! ```text
//! header   UNITYCHK ++ version (u32 LE) ++ bucket (i64 LE)
//! data     chunk values back to back, sorted by series id, then time
//! index    per chunk: varint(series id - previous series id) ++ varint(length) ++ CRC-32C (u32 LE)
//! meta     varint(n replaced) ++ varint(file number)*     (files this one replaces)
//! trailer  index length (u64) ++ meta length (u32) ++ chunks (u64) ++ samples (u64)
//!          ++ tag (u64) ++ CRC-32C of the index (u32) ++ CRC-32C of meta and trailer so far (u32)
//!          ++ UNITYEND                                    (all LE, 52 bytes)
//! ```
//!
//! Offsets are implicit (the lengths add up), so the index costs about 7 bytes a chunk.
//! `tag` is the number of the log segment whose heads snapshot covers the file: a file
//! whose tag is above the newest snapshot on disk comes from a checkpoint that did not
//! finish, and recovery deletes it (the log still holds its samples). A merged file names the
//! files it replaces, so recovery can finish a merge that was cut short.
//!
//! A file is written to `*.tmp`, synced, then renamed: a file with a bad trailer is corrupt,
//! never torn. The index is read on first use ([`ChunkFile::chunks_of`]).
//!
//! Note that this uses blocking I/O.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::codec::{put_varint, Reader};
use super::segment::crc32c;
use super::SeriesError;

const MAGIC: &[u8; 8] = b"UNITYCHK";
const END_MAGIC: &[u8; 8] = b"UNITYEND";
const VERSION: u32 = 1;
const HEADER_LEN: u64 = 20;
const TRAILER_LEN: u64 = 52;
/// Index and meta sections above this are taken as corruption (guards allocations).
const MAX_SECTION: u64 = 1 << 32;
const SUFFIX: &str = ".chunks";
const TMP_SUFFIX: &str = ".chunks.tmp";

/// One chunk to write: series id, chunk value ([`super::chunk`]) and its sample count.
pub(crate) struct ChunkToWrite<'a> {
    pub(crate) series_id: u64,
    pub(crate) value: &'a [u8],
    pub(crate) n_samples: u64,
}

/// Where a chunk lies in its file.
#[derive(Debug, Clone, Copy)]
struct Entry {
    series_id: u64,
    offset: u64,
    len: u32,
    crc: u32,
}

/// An immutable chunk file, open for reading.
#[derive(Debug)]
pub(crate) struct ChunkFile {
    pub(crate) bucket: i64,
    pub(crate) number: u64,
    pub(crate) tag: u64,
    pub(crate) n_chunks: u64,
    pub(crate) n_samples: u64,
    /// Bytes of chunk values (header, index and trailer excluded).
    pub(crate) data_bytes: u64,
    /// The file numbers this file replaces (a merge).
    pub(crate) replaces: Vec<u64>,
    path: PathBuf,
    file: File,
    index_len: u64,
    index_crc: u32,
    index: OnceLock<Result<Vec<Entry>, String>>,
}

impl ChunkFile {
    /// Writes chunks (sorted by series id, then time) of `bucket` as file `number` in
    /// `dir`, synced, and opens it. The caller syncs the directory.
    pub(crate) fn write(
        dir: &Path,
        bucket: i64,
        number: u64,
        tag: u64,
        chunks: &[ChunkToWrite<'_>],
        replaces: &[u64],
    ) -> Result<ChunkFile, SeriesError> {
        let path = file_path(dir, bucket, number);
        let tmp = dir.join(format!("{bucket}_{number}{TMP_SUFFIX}"));
        let mut index = Vec::with_capacity(chunks.len() * 7);
        let mut previous = 0u64;
        let mut n_samples = 0u64;
        for chunk in chunks {
            if chunk.series_id < previous || chunk.value.len() > u32::MAX as usize {
                return Err(SeriesError::Corrupt {
                    what: "chunk file",
                    detail: format!("chunks to write for {} are not sorted", path.display()),
                });
            }
            put_varint(&mut index, chunk.series_id - previous);
            put_varint(&mut index, chunk.value.len() as u64);
            index.extend_from_slice(&crc32c(chunk.value).to_le_bytes());
            previous = chunk.series_id;
            n_samples += chunk.n_samples;
        }
        let mut tail = Vec::with_capacity(16 + replaces.len() * 3 + TRAILER_LEN as usize);
        put_varint(&mut tail, replaces.len() as u64);
        for &replaced in replaces {
            put_varint(&mut tail, replaced);
        }
        let meta_len = tail.len() as u32;
        tail.extend_from_slice(&(index.len() as u64).to_le_bytes());
        tail.extend_from_slice(&meta_len.to_le_bytes());
        tail.extend_from_slice(&(chunks.len() as u64).to_le_bytes());
        tail.extend_from_slice(&n_samples.to_le_bytes());
        tail.extend_from_slice(&tag.to_le_bytes());
        tail.extend_from_slice(&crc32c(&index).to_le_bytes());
        let tail_crc = crc32c(&tail);
        tail.extend_from_slice(&tail_crc.to_le_bytes());
        tail.extend_from_slice(END_MAGIC);

        let write = || -> std::io::Result<()> {
            let mut out = BufWriter::with_capacity(256 << 10, File::create(&tmp)?);
            out.write_all(MAGIC)?;
            out.write_all(&VERSION.to_le_bytes())?;
            out.write_all(&bucket.to_le_bytes())?;
            for chunk in chunks {
                out.write_all(chunk.value)?;
            }
            out.write_all(&index)?;
            out.write_all(&tail)?;
            let file = out.into_inner().map_err(|error| error.into_error())?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|error| io_error(&path, error))?;
        ChunkFile::open(&path)
    }

    /// Opens a chunk file and checks its header and trailer (not the index: that is read on
    /// first use).
    pub(crate) fn open(path: &Path) -> Result<ChunkFile, SeriesError> {
        let (bucket, number) = parse_name(path).ok_or_else(|| corrupt(path, "bad file name"))?;
        let file = File::open(path).map_err(|error| io_error(path, error))?;
        let len = file
            .metadata()
            .map_err(|error| io_error(path, error))?
            .len();
        if len < HEADER_LEN + TRAILER_LEN {
            return Err(corrupt(path, "shorter than header and trailer"));
        }
        let mut header = [0u8; HEADER_LEN as usize];
        file.read_exact_at(&mut header, 0)
            .map_err(|error| io_error(path, error))?;
        if &header[..8] != MAGIC || header[8..12] != VERSION.to_le_bytes() {
            return Err(corrupt(path, "bad header"));
        }
        if header[12..20] != bucket.to_le_bytes() {
            return Err(corrupt(
                path,
                "the header's bucket differs from the file name",
            ));
        }
        let mut trailer = [0u8; TRAILER_LEN as usize];
        file.read_exact_at(&mut trailer, len - TRAILER_LEN)
            .map_err(|error| io_error(path, error))?;
        if &trailer[44..] != END_MAGIC {
            return Err(corrupt(path, "bad trailer"));
        }
        let u64_at = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&trailer[at..at + 8]);
            u64::from_le_bytes(word)
        };
        let u32_at = |at: usize| {
            let mut word = [0u8; 4];
            word.copy_from_slice(&trailer[at..at + 4]);
            u32::from_le_bytes(word)
        };
        let (index_len, meta_len) = (u64_at(0), u64::from(u32_at(8)));
        let sections = index_len.saturating_add(meta_len);
        if index_len > MAX_SECTION || sections > len - HEADER_LEN - TRAILER_LEN {
            return Err(corrupt(path, "section lengths exceed the file"));
        }
        let mut tail = vec![0u8; (meta_len + 40) as usize];
        file.read_exact_at(&mut tail, len - TRAILER_LEN - meta_len)
            .map_err(|error| io_error(path, error))?;
        if crc32c(&tail) != u32_at(40) {
            return Err(corrupt(path, "trailer checksum mismatch"));
        }
        let mut reader = Reader {
            bytes: &tail[..meta_len as usize],
            pos: 0,
        };
        let n_replaced = reader.varint().map_err(|_| corrupt(path, "bad meta"))?;
        let mut replaces = Vec::new();
        for _ in 0..n_replaced.min(meta_len) {
            replaces.push(reader.varint().map_err(|_| corrupt(path, "bad meta"))?);
        }
        Ok(ChunkFile {
            bucket,
            number,
            tag: u64_at(28),
            n_chunks: u64_at(12),
            n_samples: u64_at(20),
            data_bytes: len - HEADER_LEN - TRAILER_LEN - sections,
            replaces,
            path: path.to_owned(),
            file,
            index_len,
            index_crc: u32_at(36),
            index: OnceLock::new(),
        })
    }

    /// The chunk values of `series_id` in this file, oldest first. A chunk whose checksum
    /// does not match is skipped with a warning.
    pub(crate) fn chunks_of(&self, series_id: u64) -> Result<Vec<Vec<u8>>, SeriesError> {
        let index = self.index()?;
        let first = index.partition_point(|entry| entry.series_id < series_id);
        let mut chunks = Vec::new();
        for entry in index[first..]
            .iter()
            .take_while(|entry| entry.series_id == series_id)
        {
            if let Some(value) = self.read(entry)? {
                chunks.push(value);
            }
        }
        Ok(chunks)
    }

    /// Every chunk of the file in order: `(series id, value)`, checksums checked.
    pub(crate) fn all_chunks(&self) -> Result<Vec<(u64, Vec<u8>)>, SeriesError> {
        let index = self.index()?;
        let data_len = usize::try_from(self.data_bytes).unwrap_or(usize::MAX);
        let mut data = vec![0u8; data_len];
        self.file
            .read_exact_at(&mut data, HEADER_LEN)
            .map_err(|error| io_error(&self.path, error))?;
        let mut chunks = Vec::with_capacity(index.len());
        for entry in index {
            let start = (entry.offset - HEADER_LEN) as usize;
            let Some(value) = data.get(start..start + entry.len as usize) else {
                continue;
            };
            if crc32c(value) == entry.crc {
                chunks.push((entry.series_id, value.to_vec()));
            } else {
                self.warn_corrupt(entry);
            }
        }
        Ok(chunks)
    }

    /// The series id of every chunk, in file order.
    #[cfg(test)]
    pub(crate) fn series_ids(&self) -> Result<Vec<u64>, SeriesError> {
        Ok(self.index()?.iter().map(|entry| entry.series_id).collect())
    }

    fn read(&self, entry: &Entry) -> Result<Option<Vec<u8>>, SeriesError> {
        let mut value = vec![0u8; entry.len as usize];
        self.file
            .read_exact_at(&mut value, entry.offset)
            .map_err(|error| io_error(&self.path, error))?;
        if crc32c(&value) != entry.crc {
            self.warn_corrupt(entry);
            return Ok(None);
        }
        Ok(Some(value))
    }

    fn warn_corrupt(&self, entry: &Entry) {
        tracing::warn!(
            path = %self.path.display(),
            series_id = entry.series_id,
            offset = entry.offset,
            "Chunk checksum mismatch, chunk skipped."
        );
    }

    fn index(&self) -> Result<&[Entry], SeriesError> {
        match self.index.get_or_init(|| self.load_index()) {
            Ok(index) => Ok(index),
            Err(detail) => Err(corrupt(&self.path, detail)),
        }
    }

    fn load_index(&self) -> Result<Vec<Entry>, String> {
        let mut bytes = vec![0u8; self.index_len as usize];
        self.file
            .read_exact_at(&mut bytes, HEADER_LEN + self.data_bytes)
            .map_err(|error| format!("reading the index: {error}"))?;
        if crc32c(&bytes) != self.index_crc {
            return Err("index checksum mismatch".to_owned());
        }
        let mut reader = Reader {
            bytes: &bytes,
            pos: 0,
        };
        let mut entries = Vec::with_capacity(self.n_chunks.min(self.index_len / 6) as usize);
        let (mut series_id, mut offset) = (0u64, HEADER_LEN);
        while !reader.is_empty() {
            let bad = |_| "bad index entry".to_owned();
            series_id = series_id
                .checked_add(reader.varint().map_err(bad)?)
                .ok_or("bad series id")?;
            let len = u32::try_from(reader.varint().map_err(bad)?).map_err(|_| "bad length")?;
            let crc = u32::from_le_bytes([
                reader.byte().map_err(bad)?,
                reader.byte().map_err(bad)?,
                reader.byte().map_err(bad)?,
                reader.byte().map_err(bad)?,
            ]);
            entries.push(Entry {
                series_id,
                offset,
                len,
                crc,
            });
            offset += u64::from(len);
        }
        if offset != HEADER_LEN + self.data_bytes || entries.len() as u64 != self.n_chunks {
            return Err("the index does not match the data".to_owned());
        }
        Ok(entries)
    }
}

/// What a chunk directory holds: its files, and the next free file number.
pub(crate) struct Listing {
    pub(crate) files: Vec<ChunkFile>,
    pub(crate) next_number: u64,
}

/// Opens every chunk file in `dir` (created if missing). Leftover `*.tmp` files are deleted;
/// files from a checkpoint that did not finish (tag above `newest_snapshot`) are deleted;
/// files replaced by a finished merge are deleted; a file with a bad header or trailer is
/// renamed to `*.corrupt` and reported.
pub(crate) fn open_dir(dir: &Path, newest_snapshot: Option<u64>) -> Result<Listing, SeriesError> {
    fs::create_dir_all(dir).map_err(|error| io_error(dir, error))?;
    let mut files = Vec::new();
    let mut next_number = 0u64;
    for entry in fs::read_dir(dir).map_err(|error| io_error(dir, error))? {
        let path = entry.map_err(|error| io_error(dir, error))?.path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("");
        if name.ends_with(TMP_SUFFIX) {
            tracing::info!(path = %path.display(), "Unfinished chunk file deleted.");
            fs::remove_file(&path).map_err(|error| io_error(&path, error))?;
            continue;
        }
        if !name.ends_with(SUFFIX) {
            continue;
        }
        if let Some((_, number)) = parse_name(&path) {
            next_number = next_number.max(number + 1);
        }
        match ChunkFile::open(&path) {
            Ok(file) => files.push(file),
            Err(error) => {
                let aside = path.with_extension("corrupt");
                tracing::error!(%error, aside = %aside.display(), "Corrupt chunk file moved aside; its chunks are missing from queries.");
                fs::rename(&path, &aside).map_err(|error| io_error(&path, error))?;
            }
        }
    }
    if let Some(newest) = newest_snapshot {
        let (keep, unfinished): (Vec<_>, Vec<_>) =
            files.into_iter().partition(|file| file.tag <= newest);
        for file in unfinished {
            tracing::info!(path = %file.path.display(), "Chunk file of an unfinished checkpoint deleted; the log replays its samples.");
            fs::remove_file(&file.path).map_err(|error| io_error(&file.path, error))?;
        }
        files = keep;
    }
    let replaced: Vec<(i64, u64)> = files
        .iter()
        .flat_map(|file| file.replaces.iter().map(|&number| (file.bucket, number)))
        .collect();
    let (replaced_files, kept): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|file| replaced.contains(&(file.bucket, file.number)));
    for file in replaced_files {
        tracing::info!(path = %file.path.display(), "Chunk file already merged deleted.");
        fs::remove_file(&file.path).map_err(|error| io_error(&file.path, error))?;
    }
    sync_dir(dir)?;
    let mut files = kept;
    files.sort_by_key(|file| (file.bucket, file.number));
    Ok(Listing { files, next_number })
}

/// Merges `files` (one bucket, oldest first) into file `number` with `tag`: chunks sorted by
/// series, each series' chunks in file order (time order), and those of one series offered
/// to `combine`, which may return them as one chunk. Deleting the inputs is the caller's job.
pub(crate) fn merge(
    dir: &Path,
    files: &[&ChunkFile],
    number: u64,
    tag: u64,
    n_samples_of: impl Fn(&[u8]) -> u64,
    combine: impl Fn(&[Vec<u8>]) -> Option<Vec<u8>>,
) -> Result<ChunkFile, SeriesError> {
    let bucket = files.first().map_or(0, |file| file.bucket);
    let mut chunks: Vec<(u64, Vec<u8>)> = Vec::new();
    for file in files {
        chunks.extend(file.all_chunks()?);
    }
    // Stable: a series' chunks stay in file order, which is time order.
    chunks.sort_by_key(|(series_id, _)| *series_id);
    let mut merged: Vec<(u64, Vec<u8>)> = Vec::with_capacity(chunks.len());
    let mut rest = chunks.as_mut_slice();
    while let Some(&(series_id, _)) = rest.first() {
        let run_len = rest.iter().take_while(|(id, _)| *id == series_id).count();
        let (run, tail) = rest.split_at_mut(run_len);
        let values: Vec<Vec<u8>> = run
            .iter_mut()
            .map(|(_, value)| std::mem::take(value))
            .collect();
        match (values.len() > 1).then(|| combine(&values)).flatten() {
            Some(value) => merged.push((series_id, value)),
            None => merged.extend(values.into_iter().map(|value| (series_id, value))),
        }
        rest = tail;
    }
    let to_write: Vec<ChunkToWrite<'_>> = merged
        .iter()
        .map(|(series_id, value)| ChunkToWrite {
            series_id: *series_id,
            value,
            n_samples: n_samples_of(value),
        })
        .collect();
    let replaces: Vec<u64> = files.iter().map(|file| file.number).collect();
    ChunkFile::write(dir, bucket, number, tag, &to_write, &replaces)
}

/// Deletes a chunk file (readers holding it open keep reading it).
pub(crate) fn remove(file: &ChunkFile) -> Result<(), SeriesError> {
    fs::remove_file(&file.path).map_err(|error| io_error(&file.path, error))
}

/// Makes file creations, renames and deletions in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), SeriesError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|error| io_error(dir, error))
}

fn file_path(dir: &Path, bucket: i64, number: u64) -> PathBuf {
    dir.join(format!("{bucket}_{number}{SUFFIX}"))
}

fn parse_name(path: &Path) -> Option<(i64, u64)> {
    let stem = path.file_name()?.to_str()?.strip_suffix(SUFFIX)?;
    let (bucket, number) = stem.rsplit_once('_')?;
    Some((bucket.parse().ok()?, number.parse().ok()?))
}

fn corrupt(path: &Path, detail: &str) -> SeriesError {
    SeriesError::Corrupt {
        what: "chunk file",
        detail: format!("{}: {detail}", path.display()),
    }
}

fn io_error(path: &Path, source: std::io::Error) -> SeriesError {
    SeriesError::Io {
        path: path.to_owned(),
        source,
    }
}
