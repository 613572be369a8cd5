//! Checkpoints: pending chunks to chunk files, the series index to its file when series were
//! added, a new log segment starting with a snapshot (agents' sequence numbers and every
//! series), and merges of the files of finished buckets.
//!
//! The order makes every crash recoverable. Files written by the checkpoint that will create
//! log segment `n` carry tag `n`; until that segment (with its snapshot) is durable, the
//! previous segment still replays their samples, and recovery deletes files tagged above the
//! newest snapshot. A merge runs after the rotation, writes its file (naming the files it
//! replaces) before deleting those, and recovery finishes a merge cut short.
//!
//! Note that this uses blocking I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::chunk_file::{self, ChunkFile, ChunkToWrite};
use super::codec::MAX_CHUNK_SAMPLES;
use super::store::{seal, FileMap, State, Writer};
use super::{chunk, index, segment, wal, SeriesError, SeriesStore};

/// A bucket with more files than this is merged even while it still receives chunks.
const MAX_FILES_PER_BUCKET: usize = 16;

impl SeriesStore {
    pub(super) fn checkpoint_steps(&self, writer: &mut Writer) -> Result<(), SeriesError> {
        let tag = writer.log.number() + 1;
        seal_silent_heads(&mut self.write_state(), self.rule);
        let files = {
            let state = self.read_state();
            write_pending(&state, &self.chunk_dir, tag, &mut writer.next_file)?
        };
        publish(&mut self.write_state(), files);
        let index = {
            let state = self.read_state();
            state.index_dirty.then(|| encode_index(&state))
        };
        if let Some(index) = index {
            write_index(&self.index_dir, &mut writer.next_index, &index)?;
            self.write_state().index_dirty = false;
        }
        let snapshot = snapshot(&self.read_state());
        writer.log.rotate(&snapshot)?;
        {
            let mut state = self.write_state();
            state.counters.wal_records = 0;
            state.counters.wal_bytes = writer.log.bytes();
        }
        // Merging only tidies: a failure leaves valid files (recovery finishes or discards a
        // merge cut short), so it is reported and retried at the next checkpoint.
        if let Err(error) = self.merge_files(writer) {
            tracing::warn!(%error, "Merging chunk files failed; retrying at the next checkpoint.");
        }
        // Rollups are rebuilt from the chunk files they summarise, so a failure loses nothing.
        if let Err(error) = self.roll_up(writer) {
            tracing::warn!(%error, "Rolling up chunk files failed; retrying at the next checkpoint.");
        }
        Ok(())
    }

    /// Merges the files of every bucket that has ended (no head is in it or later than it
    /// by less than a bucket) or has too many files, each into one file sorted by series.
    fn merge_files(&self, writer: &mut Writer) -> Result<(), SeriesError> {
        let tag = writer.log.number();
        let (files, newest) = {
            let state = self.read_state();
            let newest = state.newest_ts.map(|ts| self.rule.bucket(ts));
            (state.files.clone(), newest)
        };
        for (&bucket, bucket_files) in files.iter() {
            let ended = newest.is_some_and(|newest| bucket.saturating_add(1) < newest);
            if bucket_files.len() < 2 || !(ended || bucket_files.len() > MAX_FILES_PER_BUCKET) {
                continue;
            }
            let inputs: Vec<&ChunkFile> = bucket_files.iter().map(Arc::as_ref).collect();
            let number = writer.next_file;
            writer.next_file += 1;
            let rule = self.rule;
            let merged = chunk_file::merge(
                &self.chunk_dir,
                &inputs,
                number,
                tag,
                chunk::n_samples,
                |values| combine(rule, bucket, values),
            )?;
            if let Err(error) = chunk_file::sync_dir(&self.chunk_dir) {
                // Not published: take it away again, so it can never double the inputs.
                if let Err(error) = chunk_file::remove(&merged) {
                    tracing::warn!(%error, "Removing an unpublished merged chunk file failed.");
                }
                return Err(error);
            }
            {
                let mut state = self.write_state();
                for input in &inputs {
                    let (n_chunks, n_samples) = (input.n_chunks, input.n_samples);
                    state
                        .counters
                        .chunks_removed(n_chunks, n_samples, input.data_bytes);
                }
                let (n_chunks, n_samples) = (merged.n_chunks, merged.n_samples);
                state
                    .counters
                    .chunks_added(n_chunks, n_samples, merged.data_bytes);
                let mut map = FileMap::clone(&state.files);
                map.insert(bucket, vec![Arc::new(merged)]);
                state.files = Arc::new(map);
            }
            for input in &inputs {
                chunk_file::remove(input)?;
            }
            chunk_file::sync_dir(&self.chunk_dir)?;
        }
        Ok(())
    }
}

/// One chunk holding every point of `values` (chunks of one series in one bucket, in time
/// order), or `None` to keep them as they are (one does not decode, or there are too many
/// points). One chunk per series and bucket spreads the chunk header and the coder's
/// learning over twice the samples or more and halves the index.
fn combine(rule: chunk::CutRule, bucket: i64, values: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut points = Vec::new();
    for value in values {
        rule.decode_into(bucket, value, &mut points).ok()?;
    }
    let ordered = points.windows(2).all(|pair| pair[0].0 < pair[1].0);
    (ordered && points.len() <= MAX_CHUNK_SAMPLES).then(|| rule.encode(&points))
}

/// Seals heads in a bucket that ended more than a whole bucket before the newest sample
/// anywhere: their next sample would cut them anyway (agents' clocks may differ by less than
/// a bucket), and silent series would otherwise keep heads forever.
pub(super) fn seal_silent_heads(state: &mut State, rule: chunk::CutRule) {
    let State {
        series,
        newest_ts,
        counters,
        ..
    } = state;
    let Some(newest) = newest_ts.map(|newest| rule.bucket(newest)) else {
        return;
    };
    for entry in series.iter_mut() {
        let head_bucket = entry.head.first().map(|point| rule.bucket(point.0));
        if head_bucket.is_some_and(|bucket| bucket.saturating_add(1) < newest) {
            seal(entry, rule, counters);
            entry.head.release();
        }
    }
}

/// Writes every pending chunk, one file per bucket (chunks by series id, then time), tagged
/// `tag`, and syncs the directory. Returns the files, oldest bucket first.
pub(super) fn write_pending(
    state: &State,
    dir: &std::path::Path,
    tag: u64,
    next_file: &mut u64,
) -> Result<Vec<ChunkFile>, SeriesError> {
    let mut by_bucket: BTreeMap<i64, Vec<ChunkToWrite<'_>>> = BTreeMap::new();
    for (series_id, entry) in state.series.iter().enumerate() {
        for chunk in &entry.pending {
            by_bucket
                .entry(chunk.bucket)
                .or_default()
                .push(ChunkToWrite {
                    series_id: series_id as u64,
                    value: &chunk.value,
                    n_samples: chunk.n_samples,
                });
        }
    }
    let mut files = Vec::with_capacity(by_bucket.len());
    for (bucket, chunks) in by_bucket {
        let number = *next_file;
        *next_file += 1;
        files.push(ChunkFile::write(dir, bucket, number, tag, &chunks, &[])?);
    }
    if !files.is_empty() {
        chunk_file::sync_dir(dir)?;
    }
    Ok(files)
}

/// Makes written files visible to readers and drops the pending chunks they hold (all of
/// them: only the writer seals, and it wrote them).
pub(super) fn publish(state: &mut State, files: Vec<ChunkFile>) {
    if files.is_empty() {
        return;
    }
    let mut map = FileMap::clone(&state.files);
    for file in files {
        map.entry(file.bucket).or_default().push(Arc::new(file));
    }
    state.files = Arc::new(map);
    for entry in state.series.iter_mut() {
        entry.pending = Vec::new();
    }
}

/// The whole series index, by series id.
pub(super) fn encode_index(state: &State) -> Vec<u8> {
    let mut entries: Vec<(u64, Vec<u8>)> = state
        .agents
        .iter()
        .flat_map(|(agent, entry)| {
            entry
                .series
                .iter()
                .map(move |(key, &series_id)| (series_id, index::series_key(agent, key)))
        })
        .collect();
    entries.sort_unstable_by_key(|(series_id, _)| *series_id);
    index::encode_index(&entries)
}

/// Writes the series index as the one frame of a new segment (durable, with its directory),
/// which deletes the older ones.
pub(super) fn write_index(
    dir: &std::path::Path,
    next_index: &mut u64,
    index: &[u8],
) -> Result<(), SeriesError> {
    segment::Log::create(dir, *next_index, index)?;
    *next_index += 1;
    Ok(())
}

/// The snapshot record: agents' sequence numbers and every series with samples.
pub(super) fn snapshot(state: &State) -> Vec<u8> {
    let mut agents: Vec<(&str, u64)> = state
        .agents
        .iter()
        .filter_map(|(agent, entry)| Some((agent.as_str(), entry.last_seq?)))
        .collect();
    agents.sort_unstable();
    wal::encode_snapshot(
        &agents,
        state
            .series
            .iter()
            .enumerate()
            .filter_map(|(series_id, entry)| {
                Some(wal::SeriesSnapshot {
                    series_id: series_id as u64,
                    last_ts: entry.last_ts?,
                    sealed_bucket: entry.sealed_bucket,
                    head: entry.head.points().into(),
                })
            }),
    )
}
