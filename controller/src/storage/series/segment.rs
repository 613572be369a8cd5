//! Write-ahead log segment files: append-only, outside sled, one directory of their own.
//!
//! A segment is `{number:020}.wal`: the 12-byte header `UNITYWAL ++ version (u32 LE)`, then
//! frames `payload length ++ CRC-32C of the length ++ CRC-32C of the payload ++ payload`
//! (u32 LE each). The length has its own checksum so that a damaged length is told apart
//! from a frame cut short.
//! [`Log::append`] writes one frame and calls `fdatasync` before it returns. A checkpoint
//! starts a new segment ([`Log::rotate`]) whose first frame is a snapshot of the open heads,
//! then deletes every older segment.
//!
//! On recovery ([`replay`]) a bad frame at the end of the newest segment (cut short, a payload
//! checksum mismatch in the last frame, zeros to the end, or a garbled header with no valid
//! frame after it) is a torn write that was never acknowledged: it is truncated with a
//! warning. Any other bad frame is corruption and an error that names file and offset.
//!
//! Note that this uses blocking I/O.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::SeriesError;

const MAGIC: &[u8; 8] = b"UNITYWAL";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 12;
const FRAME_HEADER_LEN: usize = 12;
/// Frames above this are taken as corruption (guards the allocation on recovery).
const MAX_PAYLOAD: usize = 1 << 30;
const SUFFIX: &str = ".wal";

/// The open log: the newest segment, appended to.
pub(crate) struct Log {
    dir: PathBuf,
    number: u64,
    file: File,
    /// Bytes of the current segment (older ones are deleted by every rotation).
    bytes: u64,
}

impl Log {
    /// Starts segment `number` with `first_payload` as its first frame, makes it durable,
    /// then deletes every older segment.
    pub(crate) fn create(
        dir: &Path,
        number: u64,
        first_payload: &[u8],
    ) -> Result<Log, SeriesError> {
        let path = segment_path(dir, number);
        let mut bytes = Vec::with_capacity(HEADER_LEN + FRAME_HEADER_LEN + first_payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        frame(&mut bytes, first_payload)?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|error| io_error(&path, error))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|error| io_error(&path, error))?;
        sync_dir(dir)?;
        for (older, older_path) in list(dir)? {
            if older < number {
                fs::remove_file(&older_path).map_err(|error| io_error(&older_path, error))?;
            }
        }
        sync_dir(dir)?;
        Ok(Log {
            dir: dir.to_owned(),
            number,
            file,
            bytes: bytes.len() as u64,
        })
    }

    /// Replaces the log by a new segment starting with `first_payload`.
    pub(crate) fn rotate(&mut self, first_payload: &[u8]) -> Result<(), SeriesError> {
        *self = Log::create(&self.dir, self.number + 1, first_payload)?;
        Ok(())
    }

    /// Appends one frame and makes it durable (`fdatasync`) before returning.
    pub(crate) fn append(&mut self, payload: &[u8]) -> Result<(), SeriesError> {
        let mut bytes = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
        frame(&mut bytes, payload)?;
        let path = segment_path(&self.dir, self.number);
        self.file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data())
            .map_err(|error| io_error(&path, error))?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// The number of the current segment.
    pub(crate) fn number(&self) -> u64 {
        self.number
    }

    /// Bytes of the log on disk.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// What [`replay`] found.
pub(crate) struct Replayed {
    /// The highest segment number present, if any.
    pub(crate) last_number: Option<u64>,
    /// The number of the segment replay started from, if its first frame satisfied
    /// `is_start`.
    pub(crate) start_number: Option<u64>,
}

/// Calls `apply` on every frame of every segment from the newest one whose first frame
/// satisfies `is_start` (all segments if none does), in order. Creates `dir` if needed.
pub(crate) fn replay(
    dir: &Path,
    is_start: impl Fn(&[u8]) -> bool,
    mut apply: impl FnMut(&[u8]) -> Result<(), SeriesError>,
) -> Result<Replayed, SeriesError> {
    fs::create_dir_all(dir).map_err(|error| io_error(dir, error))?;
    let segments = list(dir)?;
    let last_number = segments.last().map(|(number, _)| *number);
    let mut contents = Vec::with_capacity(segments.len());
    for (position, (_, path)) in segments.iter().enumerate() {
        let is_last = position + 1 == segments.len();
        contents.push(read_segment(path, is_last)?);
    }
    // Segments before the newest snapshot are covered by sled plus that snapshot.
    let start_position = contents
        .iter()
        .rposition(|frames| frames.first_payload().is_some_and(&is_start));
    let start = start_position.unwrap_or(0);
    for frames in &contents[start..] {
        for payload in frames.payloads() {
            apply(payload)?;
        }
    }
    Ok(Replayed {
        last_number,
        start_number: start_position.map(|position| segments[position].0),
    })
}

/// The valid frames of one segment.
struct Frames {
    bytes: Vec<u8>,
    /// `(start, end)` of each payload in `bytes`.
    spans: Vec<(usize, usize)>,
}

impl Frames {
    fn first_payload(&self) -> Option<&[u8]> {
        self.spans
            .first()
            .map(|&(start, end)| &self.bytes[start..end])
    }

    fn payloads(&self) -> impl Iterator<Item = &[u8]> {
        self.spans
            .iter()
            .map(|&(start, end)| &self.bytes[start..end])
    }
}

fn read_segment(path: &Path, is_last: bool) -> Result<Frames, SeriesError> {
    let bytes = fs::read(path).map_err(|error| io_error(path, error))?;
    let corrupt = |offset: usize, why: &str| SeriesError::Corrupt {
        what: "write-ahead log",
        detail: format!("{} at byte {offset}: {why}", path.display()),
    };
    let header_ok = bytes.len() >= HEADER_LEN
        && &bytes[..8] == MAGIC
        && bytes[8..HEADER_LEN] == VERSION.to_le_bytes();
    if !header_ok {
        let torn = bytes.len() <= HEADER_LEN + FRAME_HEADER_LEN || bytes.iter().all(|&b| b == 0);
        if is_last && torn {
            tracing::warn!(path = %path.display(), "Torn write-ahead log segment header, ignored.");
            truncate(path, 0)?;
            return Ok(Frames {
                bytes: Vec::new(),
                spans: Vec::new(),
            });
        }
        return Err(corrupt(0, "bad segment header"));
    }
    let mut spans = Vec::new();
    let mut pos = HEADER_LEN;
    while pos < bytes.len() {
        let why = match check_frame(&bytes, pos) {
            Frame::Valid(end) => {
                spans.push((pos + FRAME_HEADER_LEN, end));
                pos = end;
                continue;
            }
            Frame::Torn(why) => why,
            Frame::BadHeader if bytes[pos..].iter().all(|&byte| byte == 0) => "zeros",
            // A garbled header: torn unless a valid frame follows somewhere.
            Frame::BadHeader if !valid_frame_after(&bytes, pos + 1) => "garbled frame header",
            Frame::BadHeader => return Err(corrupt(pos, "garbled frame header")),
            Frame::Corrupt(why) => return Err(corrupt(pos, why)),
        };
        if !is_last {
            return Err(corrupt(pos, why));
        }
        tracing::warn!(
            path = %path.display(),
            offset = pos,
            dropped = bytes.len() - pos,
            why,
            "Torn write-ahead log tail truncated; it was never acknowledged."
        );
        truncate(path, pos as u64)?;
        break;
    }
    Ok(Frames { bytes, spans })
}

/// What [`check_frame`] found.
enum Frame {
    /// A valid frame ending at this offset.
    Valid(usize),
    /// The last write, cut short or garbled: the frame reaches the end of the file.
    Torn(&'static str),
    /// The frame header's own checksum does not match.
    BadHeader,
    /// A frame with a valid header and a bad payload, followed by more bytes.
    Corrupt(&'static str),
}

/// Checks the frame at `pos`.
fn check_frame(bytes: &[u8], pos: usize) -> Frame {
    let Some(header) = bytes.get(pos..pos + FRAME_HEADER_LEN) else {
        return Frame::Torn("frame header cut short");
    };
    let length_bytes = [header[0], header[1], header[2], header[3]];
    let header_crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let payload_crc = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    let length = u32::from_le_bytes(length_bytes) as usize;
    if masked_crc(&length_bytes) != header_crc || length == 0 || length > MAX_PAYLOAD {
        return Frame::BadHeader;
    }
    let start = pos + FRAME_HEADER_LEN;
    let end = start.saturating_add(length);
    let Some(payload) = bytes.get(start..end) else {
        return Frame::Torn("frame cut short");
    };
    if masked_crc(payload) != payload_crc {
        return if end == bytes.len() {
            Frame::Torn("checksum mismatch in the last frame")
        } else {
            Frame::Corrupt("frame checksum mismatch")
        };
    }
    Frame::Valid(end)
}

/// Whether a complete, valid frame starts anywhere at or after `from`.
fn valid_frame_after(bytes: &[u8], from: usize) -> bool {
    (from..bytes.len()).any(|pos| matches!(check_frame(bytes, pos), Frame::Valid(_)))
}

/// Appends a frame holding `payload` to `out`.
fn frame(out: &mut Vec<u8>, payload: &[u8]) -> Result<(), SeriesError> {
    if payload.is_empty() || payload.len() > MAX_PAYLOAD {
        return Err(SeriesError::Corrupt {
            what: "write-ahead log record",
            detail: format!("{} bytes cannot be framed", payload.len()),
        });
    }
    let length = (payload.len() as u32).to_le_bytes();
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc(&length).to_le_bytes());
    out.extend_from_slice(&masked_crc(payload).to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// The segments in `dir`, oldest first; other files are left alone.
fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, SeriesError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(|error| io_error(dir, error))? {
        let entry = entry.map_err(|error| io_error(dir, error))?;
        let name = entry.file_name();
        let Some(number) = name
            .to_str()
            .and_then(|name| name.strip_suffix(SUFFIX))
            .and_then(|stem| stem.parse::<u64>().ok())
        else {
            continue;
        };
        segments.push((number, entry.path()));
    }
    segments.sort();
    Ok(segments)
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:020}{SUFFIX}"))
}

fn truncate(path: &Path, len: u64) -> Result<(), SeriesError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|error| io_error(path, error))?;
    file.set_len(len)
        .and_then(|()| file.sync_all())
        .map_err(|error| io_error(path, error))
}

/// Makes file creations and deletions in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), SeriesError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|error| io_error(dir, error))
}

fn io_error(path: &Path, source: std::io::Error) -> SeriesError {
    SeriesError::Wal {
        path: path.to_owned(),
        source,
    }
}

/// CRC-32C (Castagnoli, the iSCSI polynomial) with slice-by-16 tables built at compile time
/// (a `static`, so that the 16 KiB of tables exist once rather than at every use).
static CASTAGNOLI: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// The CRC-32C of `bytes`, masked as LevelDB does, so that runs of zeros or of 0xFF (whose
/// plain CRC can be all ones) never check out.
fn masked_crc(bytes: &[u8]) -> u32 {
    crc32c(bytes).rotate_right(15).wrapping_add(0xA282_EAD8)
}

/// The CRC-32C of `bytes`.
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    CASTAGNOLI.checksum(bytes)
}

#[cfg(test)]
mod crc_tests {
    //! The on-disk format did not change when the hand-written CRC-32C gave way to the `crc`
    //! crate: same checksums as the old function, and files written before still recover.

    use std::path::Path;

    use super::super::tests::{open, report, ALL_TIME, SMALL};
    use super::super::wal_tests::copy_dir;
    use super::{check_frame, crc32c, frame, masked_crc, Frame, HEADER_LEN};

    /// The function the log used before the crate: table-driven CRC-32C, slicing by 8 (its
    /// const-fn table loops kept as they were, hence the index loops).
    #[allow(clippy::needless_range_loop)]
    fn old_crc32c(bytes: &[u8]) -> u32 {
        let mut tables = [[0u32; 256]; 8];
        for byte in 0..256 {
            let mut crc = byte as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
            tables[0][byte] = crc;
        }
        for table in 1..8 {
            for byte in 0..256 {
                let previous = tables[table - 1][byte];
                tables[table][byte] = (previous >> 8) ^ tables[0][(previous & 0xFF) as usize];
            }
        }
        let t = &tables;
        let mut crc = !0u32;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let low = crc ^ u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            crc = t[7][(low & 0xFF) as usize]
                ^ t[6][((low >> 8) & 0xFF) as usize]
                ^ t[5][((low >> 16) & 0xFF) as usize]
                ^ t[4][(low >> 24) as usize]
                ^ t[3][chunk[4] as usize]
                ^ t[2][chunk[5] as usize]
                ^ t[1][chunk[6] as usize]
                ^ t[0][chunk[7] as usize];
        }
        for &byte in chunks.remainder() {
            crc = (crc >> 8) ^ t[0][((crc ^ u32::from(byte)) & 0xFF) as usize];
        }
        !crc
    }

    #[test]
    fn crc32c_known_answers() {
        // The catalogue's check value for CRC-32/ISCSI, and RFC 3720 B.4 (32 zero bytes).
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        assert_eq!(crc32c(b""), 0);
        // The masked form written into frame headers.
        assert_eq!(masked_crc(b"123456789"), old_masked(b"123456789"));
    }

    fn old_masked(bytes: &[u8]) -> u32 {
        old_crc32c(bytes).rotate_right(15).wrapping_add(0xA282_EAD8)
    }

    #[test]
    fn the_crate_agrees_with_the_old_function() {
        // Every length up to a few tables' worth, at every alignment of a slice-by-16 step.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let bytes: Vec<u8> = (0..2048)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        for start in 0..16 {
            for end in start..bytes.len() {
                let slice = &bytes[start..end];
                assert_eq!(crc32c(slice), old_crc32c(slice), "bytes {start}..{end}");
            }
        }
    }

    /// A store's files written by the old function: `wal/` (a snapshot, then ingest records
    /// for reports 6..=8), `chunks/` (reports 1..=5 in a chunk file) and its series index.
    const FIXTURE: &str = "src/storage/series/testdata/written-before-crc-crate";

    #[test]
    fn frames_written_before_are_written_the_same_now() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
        for segment in [
            "wal/00000000000000000001.wal",
            "chunks/series-index/00000000000000000001.wal",
        ] {
            let bytes = std::fs::read(dir.join(segment)).unwrap();
            let mut rewritten = bytes[..HEADER_LEN].to_vec();
            let mut pos = HEADER_LEN;
            while pos < bytes.len() {
                let Frame::Valid(end) = check_frame(&bytes, pos) else {
                    panic!("{segment}: no valid frame at {pos}");
                };
                frame(&mut rewritten, &bytes[pos + super::FRAME_HEADER_LEN..end]).unwrap();
                pos = end;
            }
            assert_eq!(rewritten, bytes, "{segment}");
        }
    }

    #[test]
    fn a_store_written_before_recovers() {
        let root = tempfile::tempdir().unwrap();
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE),
            root.path(),
        );
        {
            let (_db, store) = open(root.path(), SMALL);
            assert_eq!(store.last_seq("a").unwrap(), Some(8));
            let got = store.query("a", "cpu", &[], ALL_TIME).unwrap();
            let expected: Vec<(i64, f64)> = (1..=8).map(|seq| (seq * 10, seq as f64)).collect();
            assert_eq!(got[0].points, expected);
            assert_eq!(store.stats().n_samples, 16);
            // And it goes on: a new report after recovery, then a restart.
            store.ingest(&[report("a", 9, 90, &[9.0, 0.25])]).unwrap();
        }
        let (_db, store) = open(root.path(), SMALL);
        assert_eq!(store.last_seq("a").unwrap(), Some(9));
    }
}
