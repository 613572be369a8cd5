//! [`SeriesStore`]: ingest, checkpoints and retention (reads are in `query.rs`, opening and
//! recovery in `recovery.rs`).
//!
//! Note that every method uses blocking I/O; async callers go through `spawn_blocking`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::chunk::CutRule;
use super::chunk_file::{self, ChunkFile};
use super::head::Head;
use super::{index, segment, wal};
use super::{IngestOutcome, IngestReport, RetentionReport, SeriesError, SeriesKey, SeriesStats};

/// The time-series store. `Send + Sync`: one thread ingests, any thread reads.
pub struct SeriesStore {
    pub(super) wal_dir: PathBuf,
    pub(super) chunk_dir: PathBuf,
    /// Where the series index is written (`series-index/` in the chunk directory).
    pub(super) index_dir: PathBuf,
    pub(super) rule: CutRule,
    pub(super) max_wal_bytes: u64,
    pub(super) writer: Mutex<Writer>,
    pub(super) state: RwLock<State>,
}

/// State only the writer touches.
pub(super) struct Writer {
    pub(super) log: segment::Log,
    pub(super) poisoned: bool,
    /// The number of the next chunk file.
    pub(super) next_file: u64,
    /// The number of the next series index segment.
    pub(super) next_index: u64,
}

/// The chunk files by bucket, oldest file first in each.
pub(super) type FileMap = BTreeMap<i64, Vec<Arc<ChunkFile>>>;

#[derive(Default)]
pub(super) struct State {
    pub(super) agents: HashMap<String, AgentEntry>,
    /// Indexed by series id; ids are dense and never reused.
    pub(super) series: Vec<SeriesEntry>,
    /// The newest timestamp accepted in any series.
    pub(super) newest_ts: Option<i64>,
    pub(super) counters: Counters,
    /// Series were defined since the index was last written.
    pub(super) index_dirty: bool,
    /// Replaced as a whole when files come or go, so a reader's copy stays valid.
    pub(super) files: Arc<FileMap>,
    /// The rollup tiers' files (`rollup_store.rs`).
    pub(super) rollups: super::rollup_files::Rollups,
}

#[derive(Default)]
pub(super) struct AgentEntry {
    pub(super) last_seq: Option<u64>,
    pub(super) series: HashMap<SeriesKey, u64>,
}

#[derive(Default)]
pub(super) struct SeriesEntry {
    /// The open chunk, encoded as it fills; only in memory and in the write-ahead log.
    pub(super) head: Head,
    /// The newest timestamp ever accepted; samples at or before it are ignored.
    pub(super) last_ts: Option<i64>,
    /// The bucket of the newest sealed chunk, if any.
    pub(super) sealed_bucket: Option<i64>,
    /// Chunks sealed since the last checkpoint, oldest first: in memory until the next
    /// checkpoint writes them to chunk files (the log holds their samples until then).
    pub(super) pending: Vec<PendingChunk>,
}

pub(super) struct PendingChunk {
    pub(super) bucket: i64,
    pub(super) value: Vec<u8>,
    pub(super) n_samples: u64,
}

#[derive(Default, Clone, Copy)]
pub(super) struct Counters {
    pub(super) n_chunks: u64,
    pub(super) chunk_bytes: u64,
    pub(super) chunk_samples: u64,
    pub(super) wal_records: u64,
    pub(super) wal_bytes: u64,
    pub(super) samples_ingested: u64,
    pub(super) samples_ignored: u64,
    pub(super) reports_duplicate: u64,
}

impl Counters {
    pub(super) fn chunks_added(&mut self, n_chunks: u64, n_samples: u64, n_bytes: u64) {
        self.n_chunks += n_chunks;
        self.chunk_samples += n_samples;
        self.chunk_bytes += n_bytes;
    }

    pub(super) fn chunks_removed(&mut self, n_chunks: u64, n_samples: u64, n_bytes: u64) {
        self.n_chunks = self.n_chunks.saturating_sub(n_chunks);
        self.chunk_samples = self.chunk_samples.saturating_sub(n_samples);
        self.chunk_bytes = self.chunk_bytes.saturating_sub(n_bytes);
    }
}

/// Appends one sample to a series, sealing its head first when the cut rule says so and
/// right after when it is full. Returns whether the sample was accepted.
pub(super) fn append(
    entry: &mut SeriesEntry,
    ts: i64,
    value: f64,
    rule: CutRule,
    counters: &mut Counters,
) -> bool {
    if entry.last_ts.is_some_and(|last| ts <= last) {
        counters.samples_ignored += 1;
        return false;
    }
    if let Some((start, _)) = entry.head.first() {
        if rule.must_cut(rule.bucket(start), entry.head.len(), ts) {
            seal(entry, rule, counters);
        }
    }
    entry.head.push(ts, value);
    entry.last_ts = Some(ts);
    counters.samples_ingested += 1;
    if entry.head.len() >= rule.max_samples {
        seal(entry, rule, counters);
    }
    true
}

/// Moves the head of a series into its pending chunks and empties it.
pub(super) fn seal(entry: &mut SeriesEntry, rule: CutRule, counters: &mut Counters) {
    let Some((start, _)) = entry.head.first() else {
        return;
    };
    let bucket = rule.bucket(start);
    let value = rule.encode(&entry.head.points());
    let n_samples = entry.head.len() as u64;
    counters.chunks_added(1, n_samples, value.len() as u64);
    entry.pending.push(PendingChunk {
        bucket,
        value,
        n_samples,
    });
    entry.sealed_bucket = Some(bucket);
    entry.head.clear();
}

impl SeriesStore {
    pub(super) fn lock_writer(&self) -> Result<MutexGuard<'_, Writer>, SeriesError> {
        let writer = self.writer.lock().map_err(|_| SeriesError::Poisoned)?;
        if writer.poisoned {
            return Err(SeriesError::Poisoned);
        }
        Ok(writer)
    }

    pub(super) fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores every report that is not a duplicate, each with its agent's new sequence
    /// number, as one write-ahead log record, then `fdatasync`s once for the whole slice and
    /// only then returns.
    pub fn ingest(&self, reports: &[IngestReport]) -> Result<Vec<IngestOutcome>, SeriesError> {
        let mut writer = self.lock_writer()?;
        let mut outcomes = Vec::with_capacity(reports.len());
        let n_samples: usize = reports.iter().map(|report| report.samples.len()).sum();
        let mut record = wal::IngestRecord::with_capacity(n_samples);
        let mut changed = false;
        {
            let mut state = self.write_state();
            let State {
                agents,
                series,
                newest_ts,
                counters,
                index_dirty,
                ..
            } = &mut *state;
            for report in reports {
                if !agents.contains_key(&report.agent) {
                    agents.insert(report.agent.clone(), AgentEntry::default());
                }
                let Some(agent) = agents.get_mut(&report.agent) else {
                    continue;
                };
                if agent.last_seq.is_some_and(|last| report.seq <= last) {
                    counters.reports_duplicate += 1;
                    outcomes.push(IngestOutcome::Duplicate);
                    continue;
                }
                agent.last_seq = Some(report.seq);
                changed = true;
                record.begin_report(&report.agent, report.seq);
                for sample in &report.samples {
                    let series_id = match agent.series.get(&sample.series) {
                        Some(&series_id) => series_id,
                        None => {
                            let key = if sample.series.is_sorted() {
                                sample.series.clone()
                            } else {
                                SeriesKey::new(
                                    sample.series.metric.clone(),
                                    sample.series.labels.clone(),
                                )
                            };
                            match agent.series.get(&key) {
                                Some(&series_id) => series_id,
                                None => {
                                    let series_id = series.len() as u64;
                                    let index_key = index::series_key(&report.agent, &key);
                                    record.define(series_id, &index_key);
                                    *index_dirty = true;
                                    agent.series.insert(key, series_id);
                                    series.push(SeriesEntry::default());
                                    series_id
                                }
                            }
                        }
                    };
                    let Some(entry) = series.get_mut(series_id as usize) else {
                        continue;
                    };
                    let (ts, value) = (sample.timestamp_ms, sample.value);
                    if append(entry, ts, value, self.rule, counters) {
                        record.sample(series_id, ts, value);
                        *newest_ts = Some(newest_ts.map_or(ts, |newest| newest.max(ts)));
                    }
                }
                record.end_report();
                outcomes.push(IngestOutcome::Stored);
            }
        }
        if changed {
            if let Err(error) = writer.log.append(record.bytes()) {
                writer.poisoned = true;
                return Err(error);
            }
            let wal_bytes = writer.log.bytes();
            {
                let mut state = self.write_state();
                state.counters.wal_records += 1;
                state.counters.wal_bytes = wal_bytes;
            }
            if wal_bytes > self.max_wal_bytes {
                self.checkpoint_locked(&mut writer)?;
            }
        }
        Ok(outcomes)
    }

    /// The last stored sequence number of `agent`.
    pub fn last_seq(&self, agent: &str) -> Result<Option<u64>, SeriesError> {
        Ok(self
            .read_state()
            .agents
            .get(agent)
            .and_then(|entry| entry.last_seq))
    }

    /// Deletes whole time buckets: every chunk in a bucket that ends at or before
    /// `cutoff_ms` (so every deleted sample is older than the cutoff), open heads in such
    /// buckets included, then checkpoints. Series keep their newest timestamp.
    pub fn apply_retention(&self, cutoff_ms: i64) -> Result<RetentionReport, SeriesError> {
        let mut writer = self.lock_writer()?;
        let first_kept = self.rule.bucket(cutoff_ms);
        let mut report = RetentionReport::default();
        // Buckets not rolled up yet stay until they are (the next checkpoints).
        let files = self.read_state().files.clone();
        let not_rolled_up: Vec<i64> = self
            .stale_buckets(&files)
            .into_iter()
            .map(|(bucket, _)| bucket)
            .filter(|&bucket| bucket < first_kept)
            .collect();
        if !not_rolled_up.is_empty() {
            tracing::info!(
                n_buckets = not_rolled_up.len(),
                "Raw buckets past retention kept until they are rolled up."
            );
        }
        let removed: Vec<Arc<ChunkFile>> = {
            let mut state = self.write_state();
            let State {
                series,
                counters,
                files,
                ..
            } = &mut *state;
            let mut kept = FileMap::clone(files);
            let newer = kept.split_off(&first_kept);
            let mut older = std::mem::replace(&mut kept, newer);
            for bucket in &not_rolled_up {
                if let Some(bucket_files) = older.remove(bucket) {
                    kept.insert(*bucket, bucket_files);
                }
            }
            let removed: Vec<Arc<ChunkFile>> = older.into_values().flatten().collect();
            *files = Arc::new(kept);
            for file in &removed {
                counters.chunks_removed(file.n_chunks, file.n_samples, file.data_bytes);
                report.chunks_deleted += file.n_chunks;
                report.samples_deleted += file.n_samples;
                report.bytes_deleted += file.data_bytes;
            }
            for entry in series.iter_mut() {
                entry.pending.retain(|chunk| {
                    let keep = chunk.bucket >= first_kept;
                    if !keep {
                        let n_bytes = chunk.value.len() as u64;
                        counters.chunks_removed(1, chunk.n_samples, n_bytes);
                        report.chunks_deleted += 1;
                        report.samples_deleted += chunk.n_samples;
                        report.bytes_deleted += n_bytes;
                    }
                    keep
                });
                let head_bucket = entry.head.first().map(|point| self.rule.bucket(point.0));
                if head_bucket.is_some_and(|bucket| bucket < first_kept) {
                    report.chunks_deleted += 1;
                    report.samples_deleted += entry.head.len() as u64;
                    entry.head.release();
                }
                if entry
                    .sealed_bucket
                    .is_some_and(|bucket| bucket < first_kept)
                {
                    entry.sealed_bucket = None;
                }
            }
            removed
        };
        let deleted = removed
            .iter()
            .try_for_each(|file| chunk_file::remove(file))
            .and_then(|()| chunk_file::sync_dir(&self.chunk_dir));
        if let Err(error) = deleted {
            writer.poisoned = true;
            return Err(error);
        }
        // The new log segment no longer holds the dropped heads.
        self.checkpoint_locked(&mut writer)?;
        Ok(report)
    }

    /// Seals heads whose bucket ended more than a bucket before the newest sample, writes
    /// the chunks sealed since the last checkpoint to chunk files and the agents' sequence
    /// numbers to sled, then replaces the write-ahead log by a snapshot of the series, and
    /// merges the files of finished buckets. Call it periodically and on shutdown.
    pub fn checkpoint(&self) -> Result<(), SeriesError> {
        let mut writer = self.lock_writer()?;
        self.checkpoint_locked(&mut writer)
    }

    pub(super) fn checkpoint_locked(&self, writer: &mut Writer) -> Result<(), SeriesError> {
        let result = self.checkpoint_steps(writer);
        if result.is_err() {
            writer.poisoned = true;
        }
        result
    }

    /// `(bucket, series id)` of every sealed chunk, in files and pending, sorted.
    #[cfg(test)]
    pub(super) fn chunk_positions(&self) -> Vec<(i64, u64)> {
        let state = self.read_state();
        let mut positions = Vec::new();
        for (&bucket, files) in state.files.iter() {
            for file in files {
                let ids = file.series_ids().unwrap_or_default();
                positions.extend(ids.into_iter().map(|series_id| (bucket, series_id)));
            }
        }
        for (series_id, entry) in state.series.iter().enumerate() {
            positions.extend(entry.pending.iter().map(|c| (c.bucket, series_id as u64)));
        }
        positions.sort();
        positions
    }

    /// The number of chunk files of every bucket.
    #[cfg(test)]
    pub(super) fn files_per_bucket(&self) -> Vec<(i64, usize)> {
        let state = self.read_state();
        state
            .files
            .iter()
            .map(|(&b, files)| (b, files.len()))
            .collect()
    }

    /// Counters: series, chunks, samples, bytes.
    /// Bytes of the write-ahead log and the chunk files (series index included) on disk.
    ///
    /// Note that this uses blocking I/O.
    pub fn size_on_disk(&self) -> u64 {
        dir_size(&self.wal_dir) + dir_size(&self.chunk_dir)
    }

    pub fn stats(&self) -> SeriesStats {
        let state = self.read_state();
        let counters = state.counters;
        let head_samples: u64 = state.series.iter().map(|e| e.head.len() as u64).sum();
        let head_bytes: u64 = state
            .series
            .iter()
            .map(|e| e.head.heap_bytes() as u64)
            .sum();
        SeriesStats {
            n_agents: state.agents.len() as u64,
            n_series: state.series.len() as u64,
            n_chunks: counters.n_chunks,
            chunk_bytes: counters.chunk_bytes,
            n_samples: counters.chunk_samples + head_samples,
            head_samples,
            head_bytes,
            wal_records: counters.wal_records,
            wal_bytes: counters.wal_bytes,
            samples_ingested: counters.samples_ingested,
            samples_ignored: counters.samples_ignored,
            reports_duplicate: counters.reports_duplicate,
        }
    }
}

/// The bytes of the regular files under `dir`; what cannot be read counts as nothing.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_size(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |meta| meta.len()),
            _ => 0,
        })
        .sum()
}
