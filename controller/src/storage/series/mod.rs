//! The time-series engine: a per-agent series index in sled, compressed time-ordered chunks
//! per series in chunk files, made durable by a write-ahead log in files of its own.
//!
//! - `series_meta` tree (`index.rs`): the on-disk format marker (format 3, with the bucket
//!   span), agents' last sequence numbers (as of the last checkpoint) and the series index
//!   (agent + [`SeriesKey`] -> compact `u64` id). Small, and rarely written.
//! - Chunk files (`chunk_file.rs`) in [`SeriesOptions::chunk_dir`]: immutable files of one
//!   time bucket each, chunks sorted by series with a compact index (about 7 bytes a chunk);
//!   chunk values are `codec.rs` output, entropy-coded by `rc.rs` (`chunk.rs`). Time is cut
//!   into fixed buckets of one chunk span and no chunk crosses a bucket boundary, so
//!   retention deletes whole files. Chunk bytes never pass through sled, whose log-structured
//!   pages would write each of them three to four times and keep the dead copies.
//! - The write-ahead log (`segment.rs` files, `wal.rs` records) in
//!   [`SeriesOptions::wal_dir`].
//!
//! Each series has an open head chunk in memory (`head.rs`: encoded in blocks of 16 samples
//! as it fills, so it costs a few hundred bytes, not 16 bytes a sample). [`SeriesStore::ingest`] appends one log
//! record for the whole call (every stored report's agent, sequence number, new series and
//! accepted samples) and `fdatasync`s once before returning (group commit). A head is sealed
//! into a pending chunk in memory when the cut rule says so.
//! [`SeriesStore::checkpoint`] (`checkpoint.rs`) seals heads whose bucket ended more than a
//! bucket before the newest sample (silent series), writes the pending chunks to new chunk
//! files (one per bucket), writes the agents' sequence numbers and flushes sled, then starts
//! a new log segment whose first record is a snapshot of every series (newest timestamp,
//! newest sealed bucket, open head; about 1 byte per head sample) and deletes the older
//! segments; last, it merges the files of finished buckets into one each. So the log never
//! holds more than one checkpoint interval of records plus that snapshot.
//! [`SeriesStore::open`] (`recovery.rs`) loads the index from sled, replays the log from its
//! newest snapshot and opens the chunk files that snapshot covers.
//! Replay is idempotent: a sample at or before a series' newest timestamp is ignored, always.
//!
//! Locking: one writer at a time (a mutex held through ingest, checkpoint and retention,
//! fsync included); readers take the state lock briefly to copy the heads and pending chunks
//! they need and the (shared, immutable) map of chunk files, then read files without it.
//! Files and pending chunks change places under the state lock, so a reader sees every point
//! once. Readers may see samples whose fsync is still in progress; acknowledgements wait for
//! it.

mod checkpoint;
mod chunk;
mod chunk_file;
mod codec;
mod export;
mod head;
mod index;
mod query;
mod quiet;
mod rc;
mod recovery;
mod retention;
mod retention_store;
mod rollup;
mod rollup_files;
mod rollup_store;
mod segment;
mod store;
mod tier_query;
mod wal;

#[cfg(test)]
mod bucket_tests;
#[cfg(test)]
mod chunk_file_tests;
#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod rollup_store_tests;
#[cfg(test)]
mod rollup_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod wal_tests;

pub use codec::CodecError;
pub use export::ExportSeries;
pub use retention::{FamilyRetention, Fate, MetricPattern, RetentionPolicy, TierRetention};
pub use rollup::{choose_tier, Aggregate, Tier};
pub use store::SeriesStore;
pub use tier_query::SeriesAggregates;

/// A series: metric name plus labels sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub metric: String,
    pub labels: Vec<(String, String)>,
}

impl SeriesKey {
    /// A key with its labels sorted by name (then value).
    pub fn new(metric: impl Into<String>, mut labels: Vec<(String, String)>) -> SeriesKey {
        labels.sort();
        SeriesKey {
            metric: metric.into(),
            labels,
        }
    }

    /// Whether every `(name, value)` of `matchers` is one of the labels.
    pub fn matches(&self, matchers: &[(String, String)]) -> bool {
        matchers.iter().all(|matcher| self.labels.contains(matcher))
    }

    fn is_sorted(&self) -> bool {
        self.labels.windows(2).all(|pair| pair[0] <= pair[1])
    }
}

/// A point: Unix milliseconds and value.
pub type Point = (i64, f64);

/// One measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub series: SeriesKey,
    pub timestamp_ms: i64,
    pub value: f64,
}

/// One report of an agent: its samples and its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestReport {
    pub agent: String,
    pub seq: u64,
    pub samples: Vec<Sample>,
}

/// What [`SeriesStore::ingest`] did with a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// The report is durable (samples at or before a series' newest timestamp are ignored).
    Stored,
    /// The report's `seq` is not above the agent's last stored one; nothing was stored.
    Duplicate,
}

/// A half-open time range: `from_ms` inclusive, `to_ms` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl TimeRange {
    /// Whether `ts` lies in the range.
    pub fn contains(&self, ts: i64) -> bool {
        self.from_ms <= ts && ts < self.to_ms
    }
}

/// The points of one series, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoints {
    pub series: SeriesKey,
    pub points: Vec<Point>,
}

/// Tuning of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesOptions {
    /// The write-ahead log's directory (created if missing); required. [`super::Store`]
    /// uses `<database dir>-wal` when this is `None`.
    pub wal_dir: Option<std::path::PathBuf>,
    /// The chunk files' directory (created if missing); required. [`super::Store`] uses
    /// `<database dir>-chunks` when this is `None`.
    pub chunk_dir: Option<std::path::PathBuf>,
    /// [`SeriesStore::ingest`] checkpoints by itself once the log holds this many bytes.
    pub max_wal_bytes: u64,
    /// Seal a chunk when it holds this many samples (1..=65536).
    pub max_chunk_samples: usize,
    /// The time bucket in milliseconds: a chunk never crosses a multiple of it, so it spans
    /// at most this long. Fixed when the database is created (a different value on a later
    /// open is ignored with a warning).
    pub max_chunk_span_ms: i64,
}

impl Default for SeriesOptions {
    /// 240 samples (one hour at 15 s) or the end of a two-hour bucket, whichever comes
    /// first. Larger chunks spread the per-chunk header and the coder's learning over more samples (480
    /// would save about 0.03 B/sample on the benchmark data), but queries decode whole chunks
    /// and open heads cost memory (about 1-2 bytes a sample once encoded, `head.rs`); one
    /// hour is the compromise.
    fn default() -> Self {
        SeriesOptions {
            wal_dir: None,
            chunk_dir: None,
            max_wal_bytes: 256 << 20,
            max_chunk_samples: 240,
            max_chunk_span_ms: 2 * 3600 * 1000,
        }
    }
}

/// What [`SeriesStore::apply_retention`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub chunks_deleted: u64,
    pub samples_deleted: u64,
    pub bytes_deleted: u64,
}

/// Counters for dashboards and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeriesStats {
    pub n_agents: u64,
    pub n_series: u64,
    /// Sealed chunks, in chunk files and pending.
    pub n_chunks: u64,
    /// Bytes of chunk values (file headers and indexes excluded).
    pub chunk_bytes: u64,
    /// Samples stored, in chunks and in open heads, each counted once.
    pub n_samples: u64,
    /// Samples held in open heads in memory.
    pub head_samples: u64,
    /// Bytes of heap the open heads hold (encoded blocks and raw tails).
    pub head_bytes: u64,
    /// Write-ahead log records written since the last checkpoint.
    pub wal_records: u64,
    /// Bytes of the write-ahead log on disk.
    pub wal_bytes: u64,
    /// Samples accepted since open.
    pub samples_ingested: u64,
    /// Samples ignored since open because they were not newer than their series' newest.
    pub samples_ignored: u64,
    /// Reports refused as duplicates since open.
    pub reports_duplicate: u64,
}

/// Errors of the time-series engine.
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    /// sled reported an I/O or corruption error.
    #[error("database: {0}")]
    Sled(#[from] sled::Error),
    /// Reading or writing the write-ahead log failed.
    #[error("write-ahead log {}: {source}", path.display())]
    Wal {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// Reading or writing a chunk file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// A stored record could not be decoded.
    #[error("corrupt {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// An earlier write failed part-way, so memory may be ahead of disk; reopen the store.
    #[error("the series store failed earlier and must be reopened")]
    Poisoned,
    /// The options are out of range.
    #[error("invalid series options: {0}")]
    InvalidOptions(&'static str),
}
