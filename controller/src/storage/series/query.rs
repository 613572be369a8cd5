//! Reads of the [`SeriesStore`]: the series of an agent, range queries and the latest point
//! of each series, merged from open heads, pending (sealed, not yet filed) chunks and chunk
//! files. Readers share the state lock with each other, never with a checkpoint's file I/O.

use super::chunk_file::ChunkFile;
use super::store::SeriesStore;
use super::{Point, SeriesError, SeriesKey, SeriesPoints, TimeRange};

/// The whole time line.
const ALL: TimeRange = TimeRange {
    from_ms: i64::MIN,
    to_ms: i64::MAX,
};

/// A series a query reads: key, id, its pending chunks in range and the head's points in
/// range.
struct QueryTarget {
    series: SeriesKey,
    series_id: u64,
    pending: Vec<(i64, Vec<u8>)>,
    head: Vec<Point>,
}

/// The chunks of a series in a file; a file that cannot be read is skipped with a warning
/// (one bad file must not fail every query that touches its bucket).
fn chunks_of(file: &ChunkFile, series_id: u64) -> Vec<Vec<u8>> {
    file.chunks_of(series_id).unwrap_or_else(|error| {
        tracing::warn!(%error, series_id, "Chunk file unreadable, its chunks skipped.");
        Vec::new()
    })
}

impl SeriesStore {
    /// Every series of `agent`, sorted.
    pub fn series(&self, agent: &str) -> Result<Vec<SeriesKey>, SeriesError> {
        let state = self.read_state();
        let mut keys: Vec<SeriesKey> = state
            .agents
            .get(agent)
            .map(|entry| entry.series.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        Ok(keys)
    }

    /// The series of `agent` named `metric` whose labels include every matcher, with their
    /// points in `range`, time-ordered. Series without points in the range are left out.
    pub fn query(
        &self,
        agent: &str,
        metric: &str,
        matchers: &[(String, String)],
        range: TimeRange,
    ) -> Result<Vec<SeriesPoints>, SeriesError> {
        if range.from_ms >= range.to_ms {
            return Ok(Vec::new());
        }
        let rule = self.rule;
        let (first, last) = (
            rule.bucket(range.from_ms),
            rule.bucket(range.to_ms.saturating_sub(1)),
        );
        // Heads, pending chunks and files are taken together under the lock: a point that
        // moves from a head to a pending chunk to a file is read exactly once.
        let (targets, files) = {
            let state = self.read_state();
            let Some(agent_entry) = state.agents.get(agent) else {
                return Ok(Vec::new());
            };
            let targets: Vec<QueryTarget> = agent_entry
                .series
                .iter()
                .filter(|(key, _)| key.metric == metric && key.matches(matchers))
                .filter_map(|(key, &series_id)| {
                    let entry = state.series.get(series_id as usize)?;
                    let head = entry.head.points_in(range);
                    let pending = entry
                        .pending
                        .iter()
                        .filter(|chunk| (first..=last).contains(&chunk.bucket))
                        .map(|chunk| (chunk.bucket, chunk.value.clone()))
                        .collect();
                    Some(QueryTarget {
                        series: key.clone(),
                        series_id,
                        pending,
                        head,
                    })
                })
                .collect();
            (targets, state.files.clone())
        };
        let mut result = Vec::with_capacity(targets.len());
        for target in targets {
            let mut points = Vec::new();
            let mut add = |bucket: i64, value: &[u8]| {
                self.decode_in_range(target.series_id, bucket, value, range, &mut points)
            };
            for (&bucket, bucket_files) in files.range(first..=last) {
                for file in bucket_files {
                    for value in chunks_of(file, target.series_id) {
                        add(bucket, &value);
                    }
                }
            }
            for (bucket, value) in &target.pending {
                add(*bucket, value);
            }
            points.extend(target.head);
            if !points.is_empty() {
                result.push(SeriesPoints {
                    series: target.series,
                    points,
                });
            }
        }
        result.sort_by(|a, b| a.series.cmp(&b.series));
        Ok(result)
    }

    /// Decodes a chunk of `bucket`, appending its points in `range` to `out`; a chunk that
    /// does not decode is skipped with a warning.
    fn decode_in_range(
        &self,
        series_id: u64,
        bucket: i64,
        value: &[u8],
        range: TimeRange,
        out: &mut Vec<Point>,
    ) {
        let mut decoded = Vec::new();
        match self.rule.decode_into(bucket, value, &mut decoded) {
            Ok(()) => out.extend(decoded.into_iter().filter(|point| range.contains(point.0))),
            Err(error) => tracing::warn!(series_id, bucket, %error, "Corrupt chunk, skipped."),
        }
    }

    /// The newest point of every series of `agent` that has one, sorted by series.
    pub fn latest(&self, agent: &str) -> Result<Vec<(SeriesKey, Point)>, SeriesError> {
        let mut from_files = Vec::new();
        let mut result = Vec::new();
        let files = {
            let state = self.read_state();
            let Some(agent_entry) = state.agents.get(agent) else {
                return Ok(Vec::new());
            };
            for (key, &series_id) in &agent_entry.series {
                let Some(entry) = state.series.get(series_id as usize) else {
                    continue;
                };
                if let Some(point) = entry.head.last() {
                    result.push((key.clone(), point));
                } else if let Some(chunk) = entry.pending.last() {
                    let mut points = Vec::new();
                    self.decode_in_range(series_id, chunk.bucket, &chunk.value, ALL, &mut points);
                    if let Some(&point) = points.last() {
                        result.push((key.clone(), point));
                    }
                } else if let Some(bucket) = entry.sealed_bucket {
                    from_files.push((key.clone(), series_id, bucket));
                }
            }
            state.files.clone()
        };
        for (key, series_id, bucket) in from_files {
            let Some(bucket_files) = files.get(&bucket) else {
                continue;
            };
            for file in bucket_files.iter().rev() {
                if let Some(value) = chunks_of(file, series_id).last() {
                    let mut points = Vec::new();
                    self.decode_in_range(series_id, bucket, value, ALL, &mut points);
                    if let Some(&point) = points.last() {
                        result.push((key, point));
                    }
                    break;
                }
            }
        }
        result.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(result)
    }
}
