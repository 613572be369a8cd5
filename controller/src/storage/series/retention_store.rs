//! Applying a [`RetentionPolicy`] to the store: raw buckets and rollup files past their
//! tier's longest retention are deleted (raw buckets only once rolled up), files in between
//! are rewritten without the series whose family's retention they have outlived
//! (`retention.rs` decides; this does the file work).
//!
//! A filtered raw chunk file names the file it replaces (recovery finishes a rewrite cut
//! short, as for merges); a filtered rollup file keeps its covered raw buckets and gets a
//! higher number (the highest of a period wins at open).
//!
//! Note that this uses blocking I/O.

use std::collections::HashMap;
use std::sync::Arc;

use super::chunk::{self};
use super::chunk_file::{self, ChunkFile, ChunkToWrite};
use super::retention::{Fate, RetentionPolicy};
use super::rollup::{self, Tier};
use super::rollup_files::TierFiles;
use super::rollup_store::{covered_of, period_ms, tier_dir};
use super::store::FileMap;
use super::{RetentionReport, SeriesError, SeriesStore};

impl SeriesStore {
    /// Applies `policy` at `now_ms` to every tier, then checkpoints.
    pub fn apply_retention_policy(
        &self,
        policy: &RetentionPolicy,
        now_ms: i64,
    ) -> Result<RetentionReport, SeriesError> {
        let mut report = self.apply_retention(policy.cutoff_ms(Tier::Raw, now_ms))?;
        let mut writer = self.lock_writer()?;
        let metrics: HashMap<u64, String> = {
            let state = self.read_state();
            state
                .agents
                .values()
                .flat_map(|agent| agent.series.iter())
                .map(|(key, &series_id)| (series_id, key.metric.clone()))
                .collect()
        };
        // Raw buckets between the shortest and the longest retention.
        let files = self.read_state().files.clone();
        let stale: Vec<i64> = self
            .stale_buckets(&files)
            .into_iter()
            .map(|(bucket, _)| bucket)
            .collect();
        let span = self.rule.span_ms;
        for (&bucket, bucket_files) in files.iter() {
            let end_ms = (bucket + 1).saturating_mul(span);
            if policy.fate(Tier::Raw, end_ms, now_ms) != Fate::Filter || stale.contains(&bucket) {
                continue;
            }
            let keep = |series_id: u64| {
                metrics
                    .get(&series_id)
                    .is_none_or(|metric| policy.keeps(metric, Tier::Raw, end_ms, now_ms))
            };
            for file in bucket_files {
                let number = writer.next_file;
                writer.next_file += 1;
                let target = FilterTarget {
                    dir: &self.chunk_dir,
                    number,
                    tag: file.tag,
                    meta: &[file.number],
                    n_samples_of: &chunk::n_samples,
                };
                let Some(filtered) = filter_file(file, &keep, target)? else {
                    continue;
                };
                chunk_file::sync_dir(&self.chunk_dir)?;
                add_removed(&mut report, file, &filtered);
                {
                    let mut state = self.write_state();
                    state
                        .counters
                        .chunks_removed(file.n_chunks, file.n_samples, file.data_bytes);
                    let (n_chunks, n_samples) = (filtered.n_chunks, filtered.n_samples);
                    state
                        .counters
                        .chunks_added(n_chunks, n_samples, filtered.data_bytes);
                    let mut map = FileMap::clone(&state.files);
                    if let Some(slot) = map.get_mut(&bucket) {
                        for entry in slot.iter_mut() {
                            if entry.number == file.number {
                                *entry = Arc::new(filtered);
                                break;
                            }
                        }
                    }
                    state.files = Arc::new(map);
                }
                chunk_file::remove(file)?;
                chunk_file::sync_dir(&self.chunk_dir)?;
            }
        }
        for tier in Tier::ROLLUPS {
            let (n_aggregates, n_bytes) =
                self.drop_rollups_before(tier, policy.cutoff_ms(tier, now_ms))?;
            report.samples_deleted += n_aggregates;
            report.bytes_deleted += n_bytes;
            let tier_files = {
                let state = self.read_state();
                state.rollups.tier(tier).cloned().unwrap_or_default()
            };
            let dir = tier_dir(&self.chunk_dir, tier);
            for (&period, file) in &tier_files.files {
                let end_ms = (period + 1).saturating_mul(period_ms(tier));
                if policy.fate(tier, end_ms, now_ms) != Fate::Filter {
                    continue;
                }
                let keep = |series_id: u64| {
                    metrics
                        .get(&series_id)
                        .is_none_or(|metric| policy.keeps(metric, tier, end_ms, now_ms))
                };
                let number = {
                    let mut state = self.write_state();
                    let number = state.rollups.next_number;
                    state.rollups.next_number += 1;
                    number
                };
                let target = FilterTarget {
                    dir: &dir,
                    number,
                    tag: 0,
                    meta: &file.replaces,
                    n_samples_of: &rollup::block_len,
                };
                let Some(filtered) = filter_file(file, &keep, target)? else {
                    continue;
                };
                chunk_file::sync_dir(&dir)?;
                add_removed(&mut report, file, &filtered);
                {
                    let mut state = self.write_state();
                    if let Some(slot) = state.rollups.tier_mut(tier) {
                        let mut files = slot.files.clone();
                        files.insert(period, Arc::new(filtered));
                        *slot = Arc::new(TierFiles {
                            files,
                            covered: slot.covered.clone(),
                        });
                    }
                }
                chunk_file::remove(file)?;
                chunk_file::sync_dir(&dir)?;
            }
        }
        Ok(report)
    }
}

impl SeriesStore {
    /// Deletes a tier's files whose period ends at or before `cutoff_ms`; returns the
    /// deleted files' aggregate count and bytes.
    pub(crate) fn drop_rollups_before(
        &self,
        tier: Tier,
        cutoff_ms: i64,
    ) -> Result<(u64, u64), SeriesError> {
        let period_len = period_ms(tier);
        let removed: Vec<Arc<ChunkFile>> = {
            let mut state = self.write_state();
            let Some(slot) = state.rollups.tier_mut(tier) else {
                return Ok((0, 0));
            };
            let (gone, kept): (Vec<_>, Vec<_>) = slot
                .files
                .iter()
                .map(|(&period, file)| (period, file.clone()))
                .partition(|(period, _)| (period + 1).saturating_mul(period_len) <= cutoff_ms);
            if gone.is_empty() {
                return Ok((0, 0));
            }
            let mut covered = slot.covered.clone();
            for (_, file) in &gone {
                for (bucket, _) in covered_of(file) {
                    covered.remove(&bucket);
                }
            }
            *slot = Arc::new(TierFiles {
                files: kept.into_iter().collect(),
                covered,
            });
            gone.into_iter().map(|(_, file)| file).collect()
        };
        let mut totals = (0, 0);
        for file in &removed {
            totals.0 += file.n_samples;
            totals.1 += file.data_bytes;
            chunk_file::remove(file)?;
        }
        chunk_file::sync_dir(&tier_dir(&self.chunk_dir, tier))?;
        Ok(totals)
    }
}

fn add_removed(report: &mut RetentionReport, before: &ChunkFile, after: &ChunkFile) {
    report.chunks_deleted += before.n_chunks.saturating_sub(after.n_chunks);
    report.samples_deleted += before.n_samples.saturating_sub(after.n_samples);
    report.bytes_deleted += before.data_bytes.saturating_sub(after.data_bytes);
}

/// Where and how [`filter_file`] writes.
struct FilterTarget<'a> {
    dir: &'a std::path::Path,
    number: u64,
    tag: u64,
    /// The meta list of the new file.
    meta: &'a [u64],
    n_samples_of: &'a dyn Fn(&[u8]) -> u64,
}

/// Writes `file` again (as `target` says) without the chunks of the series `keep` refuses,
/// or returns `None` when it would keep every chunk. The caller syncs the directory.
fn filter_file(
    file: &ChunkFile,
    keep: &dyn Fn(u64) -> bool,
    target: FilterTarget<'_>,
) -> Result<Option<ChunkFile>, SeriesError> {
    let chunks = file.all_chunks()?;
    let kept: Vec<&(u64, Vec<u8>)> = chunks.iter().filter(|(id, _)| keep(*id)).collect();
    if kept.len() == chunks.len() {
        return Ok(None);
    }
    let to_write: Vec<ChunkToWrite<'_>> = kept
        .iter()
        .map(|(series_id, value)| ChunkToWrite {
            series_id: *series_id,
            value,
            n_samples: (target.n_samples_of)(value),
        })
        .collect();
    let written = ChunkFile::write(
        target.dir,
        file.bucket,
        target.number,
        target.tag,
        &to_write,
        target.meta,
    )?;
    Ok(Some(written))
}
