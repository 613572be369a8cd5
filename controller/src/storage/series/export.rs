//! Reads for exporters that follow the store from behind (remote write, issue 20): every
//! series with its id and newest timestamp, and one series' points after a position.
//!
//! A series only ever grows at its end (a sample at or before its newest timestamp is
//! ignored, always), so "the newest timestamp sent" per series is a complete position: every
//! point after it is unsent, every point at or before it was sent (or deleted by retention).
//! Readers take the state lock briefly, like queries, and never the writer's lock, so an
//! exporter never holds up ingest.

use super::store::SeriesStore;
use super::{Point, SeriesError, SeriesKey, TimeRange};

/// A series as an exporter sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSeries {
    /// The store's compact id: dense, never reused, stable across restarts.
    pub series_id: u64,
    pub agent: String,
    pub key: SeriesKey,
    /// The newest timestamp accepted in the series.
    pub last_ts: i64,
}

impl SeriesStore {
    /// Every series that holds a sample newer than `position(series_id)` (None: nothing
    /// sent yet), sorted by id.
    pub fn series_newer_than(
        &self,
        position: impl Fn(u64) -> Option<i64>,
    ) -> Result<Vec<ExportSeries>, SeriesError> {
        let state = self.read_state();
        let mut found = Vec::new();
        for (agent, agent_entry) in &state.agents {
            for (key, &series_id) in &agent_entry.series {
                let Some(last_ts) = state
                    .series
                    .get(series_id as usize)
                    .and_then(|entry| entry.last_ts)
                else {
                    continue;
                };
                if position(series_id).is_some_and(|sent| sent >= last_ts) {
                    continue;
                }
                found.push(ExportSeries {
                    series_id,
                    agent: agent.clone(),
                    key: key.clone(),
                    last_ts,
                });
            }
        }
        found.sort_by_key(|series| series.series_id);
        Ok(found)
    }

    /// The series of `ids` that exist, sorted by id (whatever their newest timestamp).
    pub fn series_by_id(&self, ids: &[u64]) -> Result<Vec<ExportSeries>, SeriesError> {
        let wanted: std::collections::HashSet<u64> = ids.iter().copied().collect();
        let state = self.read_state();
        let mut found = Vec::new();
        for (agent, agent_entry) in &state.agents {
            for (key, &series_id) in &agent_entry.series {
                if !wanted.contains(&series_id) {
                    continue;
                }
                let last_ts = state
                    .series
                    .get(series_id as usize)
                    .and_then(|entry| entry.last_ts)
                    .unwrap_or(i64::MIN);
                found.push(ExportSeries {
                    series_id,
                    agent: agent.clone(),
                    key: key.clone(),
                    last_ts,
                });
            }
        }
        found.sort_by_key(|series| series.series_id);
        Ok(found)
    }

    /// The points of series `series_id` in `range`, time-ordered: chunk files, then pending
    /// chunks, then the open head, taken together under the lock so each point is read once.
    pub fn series_points(
        &self,
        series_id: u64,
        range: TimeRange,
    ) -> Result<Vec<Point>, SeriesError> {
        if range.from_ms >= range.to_ms {
            return Ok(Vec::new());
        }
        let rule = self.rule;
        let (first, last) = (
            rule.bucket(range.from_ms),
            rule.bucket(range.to_ms.saturating_sub(1)),
        );
        let (pending, head, files) = {
            let state = self.read_state();
            let Some(entry) = state.series.get(series_id as usize) else {
                return Ok(Vec::new());
            };
            let pending: Vec<(i64, Vec<u8>)> = entry
                .pending
                .iter()
                .filter(|chunk| (first..=last).contains(&chunk.bucket))
                .map(|chunk| (chunk.bucket, chunk.value.clone()))
                .collect();
            let head: Vec<Point> = entry.head.points_in(range);
            (pending, head, state.files.clone())
        };
        let mut points = Vec::new();
        let mut decode = |bucket: i64, value: &[u8]| {
            let mut decoded = Vec::new();
            match rule.decode_into(bucket, value, &mut decoded) {
                Ok(()) => points.extend(decoded.into_iter().filter(|p| range.contains(p.0))),
                Err(error) => {
                    tracing::warn!(series_id, bucket, %error, "Corrupt chunk, skipped.")
                }
            }
        };
        for (&bucket, bucket_files) in files.range(first..=last) {
            for file in bucket_files {
                let chunks = file.chunks_of(series_id).unwrap_or_else(|error| {
                    tracing::warn!(%error, series_id, "Chunk file unreadable, its chunks skipped.");
                    Vec::new()
                });
                for value in chunks {
                    decode(bucket, &value);
                }
            }
        }
        for (bucket, value) in &pending {
            decode(*bucket, value);
        }
        points.extend(head);
        Ok(points)
    }
}
