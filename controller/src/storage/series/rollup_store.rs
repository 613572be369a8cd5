//! Rollup files: the 5-minute and 1-hour tiers (`rollup.rs`) on disk, built from sealed
//! chunk files as raw buckets end.
//!
//! Each tier has a directory in the chunk directory (`rollups-5m/`, `rollups-1h/`) of
//! immutable files in the chunk file format (`chunk_file.rs`), one per period (5 minutes:
//! one UTC day, 1 hour: 7 days), named `{period}_{number}.chunks`. A file holds one block of
//! aggregates per series (`rollup::encode_block`, relative to the period's start) and, in the
//! meta list, the raw buckets it covers with their sample counts: `(zigzag bucket, samples)*`.
//!
//! At every checkpoint, each raw bucket that has ended (as for merging) and whose sample
//! count differs from what a tier covers (never rolled up, a crash before the tier's file
//! was written, samples that came late) is rolled up again from all its chunks, and the
//! period's file is rewritten with that bucket's aggregates replaced: a bucket is keyed, so
//! it is never lost or counted twice. A rewrite writes the new file (synced, renamed)
//! before deleting the old one; at open, the highest number of a period wins and the rest
//! are deleted. At most [`MAX_BUCKETS_PER_CHECKPOINT`] raw buckets are rolled up per
//! checkpoint (the writer's lock is held), so an upgrade's backlog is spread out.
//!
//! Rollups need a chunk span that is a whole number of hours dividing a day (the default
//! 2 h does), so that no 5-minute or 1-hour bucket straddles two raw buckets; with another
//! span they are off (with a warning) and every query reads raw samples.
//!
//! Note that this uses blocking I/O.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::chunk_file::{self, ChunkFile, ChunkToWrite};
use super::codec::{unzigzag, zigzag};
use super::rollup::{self, Aggregate, Tier};
use super::rollup_files::{Rollups, TierFiles};
use super::store::{FileMap, Writer};
use super::{SeriesError, SeriesStore};

/// Raw buckets rolled up per checkpoint at most (4 days of 2 h buckets).
pub(crate) const MAX_BUCKETS_PER_CHECKPOINT: usize = 48;

const DAY_MS: i64 = 86_400_000;

/// Whether a chunk span allows rollups.
pub(crate) fn span_allows_rollups(span_ms: i64) -> bool {
    span_ms > 0 && span_ms % Tier::OneHour.step_ms() == 0 && DAY_MS % span_ms == 0
}

/// Whether a raw bucket holding `n_samples` must be rolled up (again) for a tier that
/// covers it with `covered` samples: never rolled up, or samples came late. Fewer samples
/// than covered means retention filtered the bucket (its rollup keeps every series).
pub(crate) fn is_stale(covered: Option<u64>, n_samples: u64) -> bool {
    covered.is_none_or(|covered| n_samples > covered)
}

/// The length of a tier's file period.
pub(crate) fn period_ms(tier: Tier) -> i64 {
    match tier {
        Tier::OneHour => 7 * DAY_MS,
        _ => DAY_MS,
    }
}

/// A tier's directory inside the chunk directory.
pub(crate) fn tier_dir(chunk_dir: &Path, tier: Tier) -> PathBuf {
    chunk_dir.join(format!("rollups-{}", tier.name()))
}

/// Opens both tiers' directories (created if missing): leftover `*.tmp` files are deleted,
/// of several files of one period the highest number is kept, a corrupt file is moved
/// aside (its raw buckets are rolled up again while their chunks exist).
pub(crate) fn open(chunk_dir: &Path, span_ms: i64) -> Result<Rollups, SeriesError> {
    let enabled = span_allows_rollups(span_ms);
    if !enabled {
        tracing::warn!(
            span_ms,
            "The chunk span is not a whole number of hours dividing a day: rollups are off."
        );
    }
    let mut rollups = Rollups {
        enabled,
        ..Rollups::default()
    };
    for tier in Tier::ROLLUPS {
        let dir = tier_dir(chunk_dir, tier);
        fs::create_dir_all(&dir).map_err(|error| io_error(&dir, error))?;
        let mut by_period: BTreeMap<i64, Vec<ChunkFile>> = BTreeMap::new();
        for entry in fs::read_dir(&dir).map_err(|error| io_error(&dir, error))? {
            let path = entry.map_err(|error| io_error(&dir, error))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".tmp") {
                fs::remove_file(&path).map_err(|error| io_error(&path, error))?;
                continue;
            }
            if !name.ends_with(".chunks") {
                continue;
            }
            match ChunkFile::open(&path) {
                Ok(file) => {
                    rollups.next_number = rollups.next_number.max(file.number + 1);
                    by_period.entry(file.bucket).or_default().push(file);
                }
                Err(error) => {
                    let aside = path.with_extension("corrupt");
                    tracing::error!(%error, aside = %aside.display(), "Corrupt rollup file moved aside.");
                    fs::rename(&path, &aside).map_err(|error| io_error(&path, error))?;
                }
            }
        }
        let mut files = TierFiles::default();
        for (period, mut candidates) in by_period {
            candidates.sort_by_key(|file| file.number);
            let Some(newest) = candidates.pop() else {
                continue;
            };
            for older in candidates {
                chunk_file::remove(&older)?;
            }
            files.covered.extend(covered_of(&newest));
            files.files.insert(period, Arc::new(newest));
        }
        chunk_file::sync_dir(&dir)?;
        if let Some(slot) = rollups.tier_mut(tier) {
            *slot = Arc::new(files);
        }
    }
    Ok(rollups)
}

/// The raw buckets a rollup file covers, from its meta list.
pub(crate) fn covered_of(file: &ChunkFile) -> Vec<(i64, u64)> {
    file.replaces
        .chunks_exact(2)
        .map(|pair| (unzigzag(pair[0]), pair[1]))
        .collect()
}

/// The aggregates of one raw bucket: series id -> 5-minute aggregates.
type BucketAggregates = BTreeMap<u64, Vec<Aggregate>>;

impl SeriesStore {
    /// The raw buckets that have ended and that some tier has not rolled up with their
    /// current samples ([`is_stale`]), oldest first, with their sample counts.
    pub(crate) fn stale_buckets(&self, files: &FileMap) -> Vec<(i64, u64)> {
        let state = self.read_state();
        if !state.rollups.enabled {
            return Vec::new();
        }
        let Some(newest) = state.newest_ts.map(|ts| self.rule.bucket(ts)) else {
            return Vec::new();
        };
        files
            .iter()
            .filter(|(&bucket, _)| bucket.saturating_add(1) < newest)
            .map(|(&bucket, bucket_files)| {
                (bucket, bucket_files.iter().map(|file| file.n_samples).sum())
            })
            .filter(|(bucket, n_samples)| {
                let rollups = &state.rollups;
                [&rollups.five_minutes, &rollups.one_hour]
                    .iter()
                    .any(|tier| is_stale(tier.covered.get(bucket).copied(), *n_samples))
            })
            .collect()
    }

    /// Rolls up the raw buckets that need it (at most [`MAX_BUCKETS_PER_CHECKPOINT`]).
    pub(super) fn roll_up(&self, writer: &mut Writer) -> Result<usize, SeriesError> {
        let files = self.read_state().files.clone();
        let mut stale = self.stale_buckets(&files);
        stale.truncate(MAX_BUCKETS_PER_CHECKPOINT);
        let mut computed: BTreeMap<i64, (u64, BucketAggregates)> = BTreeMap::new();
        for &(bucket, n_samples) in &stale {
            let bucket_files = files.get(&bucket).map(Vec::as_slice).unwrap_or_default();
            computed.insert(
                bucket,
                (n_samples, self.roll_up_bucket(bucket, bucket_files)?),
            );
        }
        for tier in Tier::ROLLUPS {
            let covered = {
                let state = self.read_state();
                state.rollups.tier(tier).cloned().unwrap_or_default()
            };
            let mut by_period: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
            for (&bucket, (n_samples, _)) in &computed {
                if is_stale(covered.covered.get(&bucket).copied(), *n_samples) {
                    let start = bucket * self.rule.span_ms;
                    by_period
                        .entry(start.div_euclid(period_ms(tier)))
                        .or_default()
                        .push(bucket);
                }
            }
            for (period, buckets) in by_period {
                self.rewrite_period(writer, tier, period, &buckets, &computed)?;
            }
        }
        Ok(stale.len())
    }

    /// Every series' 5-minute aggregates of one raw bucket, from all its chunks.
    fn roll_up_bucket(
        &self,
        bucket: i64,
        bucket_files: &[Arc<ChunkFile>],
    ) -> Result<BucketAggregates, SeriesError> {
        let mut points: BTreeMap<u64, Vec<(i64, f64)>> = BTreeMap::new();
        // Files in order, chunks of a series in order: time order.
        for file in bucket_files {
            for (series_id, value) in file.all_chunks()? {
                let out = points.entry(series_id).or_default();
                if let Err(error) = self.rule.decode_into(bucket, &value, out) {
                    tracing::warn!(series_id, bucket, %error, "Corrupt chunk left out of its rollup.");
                }
            }
        }
        let step = Tier::FiveMinutes.step_ms();
        Ok(points
            .into_iter()
            .map(|(series_id, points)| (series_id, rollup::rollup(&points, step)))
            .filter(|(_, aggregates)| !aggregates.is_empty())
            .collect())
    }

    /// Rewrites a tier's file of `period` with the aggregates of `buckets` replaced.
    fn rewrite_period(
        &self,
        _writer: &mut Writer,
        tier: Tier,
        period: i64,
        buckets: &[i64],
        computed: &BTreeMap<i64, (u64, BucketAggregates)>,
    ) -> Result<(), SeriesError> {
        let span = self.rule.span_ms;
        let base = period * period_ms(tier);
        let (old, number) = {
            let state = self.read_state();
            let tier_files = state.rollups.tier(tier).cloned().unwrap_or_default();
            (
                tier_files.files.get(&period).cloned(),
                state.rollups.next_number,
            )
        };
        let replaced = |start: i64| buckets.contains(&start.div_euclid(span));
        let mut series: BTreeMap<u64, Vec<Vec<Aggregate>>> = BTreeMap::new();
        let mut covered: BTreeMap<i64, u64> = BTreeMap::new();
        if let Some(old) = &old {
            covered.extend(covered_of(old));
            for (series_id, value) in old.all_chunks()? {
                match rollup::decode_block(&value, base) {
                    Ok(mut aggregates) => {
                        aggregates.retain(|a| !replaced(a.start_ms));
                        series.entry(series_id).or_default().push(aggregates);
                    }
                    Err(error) => {
                        tracing::warn!(series_id, period, %error, "Corrupt rollup block dropped.")
                    }
                }
            }
        }
        for &bucket in buckets {
            let Some((n_samples, aggregates)) = computed.get(&bucket) else {
                continue;
            };
            covered.insert(bucket, *n_samples);
            for (&series_id, five) in aggregates {
                let part = match tier {
                    Tier::OneHour => rollup::coarsen(five, tier.step_ms()),
                    _ => five.clone(),
                };
                series.entry(series_id).or_default().push(part);
            }
        }
        let blocks: Vec<(u64, Vec<u8>, u64)> = series
            .into_iter()
            .map(|(series_id, parts)| {
                let aggregates = rollup::merge(parts);
                let n = aggregates.len() as u64;
                (series_id, rollup::encode_block(&aggregates, base), n)
            })
            .filter(|(_, _, n)| *n > 0)
            .collect();
        let to_write: Vec<ChunkToWrite<'_>> = blocks
            .iter()
            .map(|(series_id, value, n)| ChunkToWrite {
                series_id: *series_id,
                value,
                n_samples: *n,
            })
            .collect();
        let mut meta = Vec::with_capacity(covered.len() * 2);
        for (&bucket, &n_samples) in &covered {
            meta.push(zigzag(bucket));
            meta.push(n_samples);
        }
        let dir = tier_dir(&self.chunk_dir, tier);
        let file = ChunkFile::write(&dir, period, number, 0, &to_write, &meta)?;
        chunk_file::sync_dir(&dir)?;
        {
            let mut state = self.write_state();
            state.rollups.next_number = number + 1;
            if let Some(slot) = state.rollups.tier_mut(tier) {
                let mut files = slot.files.clone();
                files.insert(period, Arc::new(file));
                let mut all_covered = slot.covered.clone();
                all_covered.extend(covered);
                *slot = Arc::new(TierFiles {
                    files,
                    covered: all_covered,
                });
            }
        }
        if let Some(old) = old {
            chunk_file::remove(&old)?;
            chunk_file::sync_dir(&dir)?;
        }
        Ok(())
    }
}

fn io_error(path: &Path, source: std::io::Error) -> SeriesError {
    SeriesError::Io {
        path: path.to_owned(),
        source,
    }
}
