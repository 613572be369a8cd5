//! [`SeriesStore`]: ingest, queries, checkpoints, retention and recovery over sled.
//!
//! Note that every method uses blocking I/O; async callers go through `spawn_blocking`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::chunk::{self, CutRule};
use super::codec;
use super::{index, segment, wal};
use super::{
    IngestOutcome, IngestReport, Point, RetentionReport, SeriesError, SeriesKey, SeriesPoints,
    SeriesStats, TimeRange,
};

/// The time-series store. `Send + Sync`: one thread ingests, any thread reads.
pub struct SeriesStore {
    pub(super) db: sled::Db,
    pub(super) meta: sled::Tree,
    pub(super) chunks: sled::Tree,
    pub(super) rule: CutRule,
    pub(super) max_wal_bytes: u64,
    pub(super) writer: Mutex<Writer>,
    pub(super) state: RwLock<State>,
}

/// State only the writer touches.
pub(super) struct Writer {
    pub(super) log: segment::Log,
    pub(super) poisoned: bool,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) agents: HashMap<String, AgentEntry>,
    /// Indexed by series id; ids are dense and never reused.
    pub(super) series: Vec<SeriesEntry>,
    /// The newest timestamp accepted in any series.
    pub(super) newest_ts: Option<i64>,
    pub(super) counters: Counters,
}

#[derive(Default)]
pub(super) struct AgentEntry {
    pub(super) last_seq: Option<u64>,
    pub(super) series: HashMap<SeriesKey, u64>,
}

#[derive(Default)]
pub(super) struct SeriesEntry {
    /// The open chunk, oldest first; only in memory and in the write-ahead log.
    pub(super) head: Vec<(i64, f64)>,
    /// The newest timestamp ever accepted; samples at or before it are ignored.
    pub(super) last_ts: Option<i64>,
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
    pub(super) fn chunk_written(&mut self, n_samples: u64, n_bytes: u64) {
        self.n_chunks += 1;
        self.chunk_samples += n_samples;
        self.chunk_bytes += n_bytes;
    }

    fn chunk_removed(&mut self, n_samples: u64, n_bytes: u64) {
        self.n_chunks = self.n_chunks.saturating_sub(1);
        self.chunk_samples = self.chunk_samples.saturating_sub(n_samples);
        self.chunk_bytes = self.chunk_bytes.saturating_sub(n_bytes);
    }
}

/// A series a query reads: key, id, the start of its head and the head's points in range.
type QueryTarget = (SeriesKey, u64, Option<i64>, Vec<Point>);

/// Appends one sample to a series, sealing its head first when the cut rule says so and
/// right after when it is full. Returns whether the sample was accepted.
pub(super) fn append(
    entry: &mut SeriesEntry,
    series_id: u64,
    ts: i64,
    value: f64,
    rule: CutRule,
    chunk_batch: &mut sled::Batch,
    counters: &mut Counters,
) -> bool {
    if entry.last_ts.is_some_and(|last| ts <= last) {
        counters.samples_ignored += 1;
        return false;
    }
    if let Some(&(start, _)) = entry.head.first() {
        if rule.must_cut(start, entry.head.len(), ts) {
            seal(entry, series_id, chunk_batch, counters);
        }
    }
    entry.head.push((ts, value));
    entry.last_ts = Some(ts);
    counters.samples_ingested += 1;
    if entry.head.len() >= rule.max_samples {
        seal(entry, series_id, chunk_batch, counters);
    }
    true
}

/// Writes the head of a series as a sealed chunk into `chunk_batch` and empties it.
pub(super) fn seal(
    entry: &mut SeriesEntry,
    series_id: u64,
    chunk_batch: &mut sled::Batch,
    counters: &mut Counters,
) {
    let Some(&(start, _)) = entry.head.first() else {
        return;
    };
    let bytes = chunk::encode(&entry.head, true);
    counters.chunk_written(entry.head.len() as u64, bytes.len() as u64);
    chunk_batch.insert(&chunk::key(series_id, start), bytes);
    entry.head.clear();
}

impl SeriesStore {
    fn lock_writer(&self) -> Result<MutexGuard<'_, Writer>, SeriesError> {
        let writer = self.writer.lock().map_err(|_| SeriesError::Poisoned)?;
        if writer.poisoned {
            return Err(SeriesError::Poisoned);
        }
        Ok(writer)
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
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
        let mut meta_batch = sled::Batch::default();
        let mut chunk_batch = sled::Batch::default();
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
                                    meta_batch.insert(index_key, &series_id.to_be_bytes());
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
                    if append(
                        entry,
                        series_id,
                        ts,
                        value,
                        self.rule,
                        &mut chunk_batch,
                        counters,
                    ) {
                        record.sample(series_id, ts, value);
                        *newest_ts = Some(newest_ts.map_or(ts, |newest| newest.max(ts)));
                    }
                }
                record.end_report();
                outcomes.push(IngestOutcome::Stored);
            }
            if changed {
                // Applied under the state lock: see the module documentation. sled makes
                // these durable by itself or at the next checkpoint; until then the log
                // holds them. Should sled keep them and the log not (a crash before the
                // fsync below), they were merely stored without an acknowledgement.
                let applied = self
                    .chunks
                    .apply_batch(chunk_batch)
                    .and_then(|()| self.meta.apply_batch(meta_batch));
                if let Err(error) = applied {
                    writer.poisoned = true;
                    return Err(error.into());
                }
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
        // Snapshot the heads first: a point that leaves a head is in a chunk by then.
        let targets: Vec<QueryTarget> = {
            let state = self.read_state();
            let Some(agent_entry) = state.agents.get(agent) else {
                return Ok(Vec::new());
            };
            agent_entry
                .series
                .iter()
                .filter(|(key, _)| key.metric == metric && key.matches(matchers))
                .filter_map(|(key, &series_id)| {
                    let entry = state.series.get(series_id as usize)?;
                    let head_start = entry.head.first().map(|point| point.0);
                    let head = entry
                        .head
                        .iter()
                        .copied()
                        .filter(|point| range.contains(point.0))
                        .collect();
                    Some((key.clone(), series_id, head_start, head))
                })
                .collect()
        };
        let mut result = Vec::with_capacity(targets.len());
        for (series, series_id, head_start, head) in targets {
            let chunks_before = head_start.map_or(range.to_ms, |start| start.min(range.to_ms));
            let mut points = self.chunk_points(series_id, range, chunks_before)?;
            points.extend(head);
            if !points.is_empty() {
                result.push(SeriesPoints { series, points });
            }
        }
        result.sort_by(|a, b| a.series.cmp(&b.series));
        Ok(result)
    }

    /// Points in `range` from the chunks of a series that start before `chunks_before`.
    fn chunk_points(
        &self,
        series_id: u64,
        range: TimeRange,
        chunks_before: i64,
    ) -> Result<Vec<(i64, f64)>, SeriesError> {
        let mut points = Vec::new();
        let mut decoded = Vec::new();
        let lower = chunk::key(series_id, i64::MIN);
        let first = self
            .chunks
            .range(lower..=chunk::key(series_id, range.from_ms))
            .next_back();
        let rest = if range.from_ms < chunks_before {
            let from = chunk::key(series_id, range.from_ms.saturating_add(1));
            Some(
                self.chunks
                    .range(from..chunk::key(series_id, chunks_before)),
            )
        } else {
            None
        };
        for item in first.into_iter().chain(rest.into_iter().flatten()) {
            let (key, value) = item?;
            let (_, start) = chunk::parse_key(&key)?;
            if start >= chunks_before {
                continue;
            }
            decoded.clear();
            match codec::decode(start, &value, &mut decoded) {
                Ok(()) => points.extend(decoded.iter().filter(|point| range.contains(point.0))),
                Err(error) => tracing::warn!(series_id, start, %error, "Corrupt chunk, skipped."),
            }
        }
        Ok(points)
    }

    /// The newest point of every series of `agent` that has one, sorted by series.
    pub fn latest(&self, agent: &str) -> Result<Vec<(SeriesKey, Point)>, SeriesError> {
        let mut from_chunks = Vec::new();
        let mut result = Vec::new();
        {
            let state = self.read_state();
            let Some(agent_entry) = state.agents.get(agent) else {
                return Ok(Vec::new());
            };
            for (key, &series_id) in &agent_entry.series {
                match state
                    .series
                    .get(series_id as usize)
                    .and_then(|e| e.head.last())
                {
                    Some(&point) => result.push((key.clone(), point)),
                    None => from_chunks.push((key.clone(), series_id)),
                }
            }
        }
        for (key, series_id) in from_chunks {
            let Some(item) = self.chunks.scan_prefix(series_id.to_be_bytes()).next_back() else {
                continue;
            };
            let (chunk_key, value) = item?;
            match chunk::decode(&chunk_key, &value) {
                Ok((_, points)) => {
                    if let Some(&point) = points.last() {
                        result.push((key, point));
                    }
                }
                Err(error) => tracing::warn!(series_id, %error, "Corrupt chunk, skipped."),
            }
        }
        result.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(result)
    }

    /// Deletes every chunk whose newest sample is older than `cutoff_ms` (an open head
    /// included), then checkpoints. Series keep their newest timestamp until the store
    /// reopens.
    pub fn apply_retention(&self, cutoff_ms: i64) -> Result<RetentionReport, SeriesError> {
        let mut writer = self.lock_writer()?;
        let n_series = self.read_state().series.len() as u64;
        let mut report = RetentionReport::default();
        let mut batch = sled::Batch::default();
        let mut deleted: Vec<(u64, u64)> = Vec::new();
        for series_id in 0..n_series {
            let lower = chunk::key(series_id, i64::MIN);
            let candidates: Vec<(sled::IVec, sled::IVec)> = self
                .chunks
                .range(lower..chunk::key(series_id, cutoff_ms))
                .collect::<Result<_, _>>()?;
            for (position, (key, value)) in candidates.iter().enumerate() {
                // A chunk's newest sample is older than the next chunk's start.
                let expired = if position + 1 < candidates.len() {
                    true
                } else {
                    match chunk::decode(key, value) {
                        Ok((_, points)) => points.last().is_some_and(|point| point.0 < cutoff_ms),
                        Err(error) => {
                            tracing::warn!(series_id, %error, "Corrupt chunk, kept.");
                            false
                        }
                    }
                };
                if expired {
                    let n_samples = codec::header(value).map_or(0, |h| h.n_samples as u64);
                    batch.remove(key);
                    deleted.push((n_samples, value.len() as u64));
                    report.chunks_deleted += 1;
                    report.samples_deleted += n_samples;
                    report.bytes_deleted += value.len() as u64;
                }
            }
        }
        {
            let mut state = self.write_state();
            let State {
                series, counters, ..
            } = &mut *state;
            for (n_samples, n_bytes) in deleted {
                counters.chunk_removed(n_samples, n_bytes);
            }
            for entry in series.iter_mut() {
                if entry.head.last().is_some_and(|point| point.0 < cutoff_ms) {
                    report.chunks_deleted += 1;
                    report.samples_deleted += entry.head.len() as u64;
                    entry.head = Vec::new();
                }
            }
            if let Err(error) = self.chunks.apply_batch(batch) {
                writer.poisoned = true;
                return Err(error.into());
            }
        }
        // The new log segment no longer holds the dropped heads.
        self.checkpoint_locked(&mut writer)?;
        Ok(report)
    }

    /// Seals heads idle for longer than a chunk span, writes the agents' sequence numbers,
    /// flushes sled, then replaces the write-ahead log by a snapshot of the open heads.
    /// Call it periodically and on shutdown.
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

    fn checkpoint_steps(&self, writer: &mut Writer) -> Result<(), SeriesError> {
        let mut chunk_batch = sled::Batch::default();
        let mut meta_batch = sled::Batch::default();
        {
            let mut state = self.write_state();
            let State {
                agents,
                series,
                newest_ts,
                counters,
            } = &mut *state;
            // A head whose first sample lies more than a span before the newest sample
            // anywhere would be cut by its next sample anyway (with agents' clocks in step):
            // seal it now, so that silent series do not keep heads forever.
            if let Some(horizon) =
                newest_ts.map(|newest| newest.saturating_sub(self.rule.max_span_ms))
            {
                for (series_id, entry) in series.iter_mut().enumerate() {
                    if entry.head.first().is_some_and(|point| point.0 < horizon) {
                        seal(entry, series_id as u64, &mut chunk_batch, counters);
                        entry.head = Vec::new();
                    }
                }
            }
            for (agent, entry) in agents.iter() {
                if let Some(seq) = entry.last_seq {
                    meta_batch.insert(index::agent_key(agent), &seq.to_be_bytes());
                }
            }
            self.chunks.apply_batch(chunk_batch)?;
            self.meta.apply_batch(meta_batch)?;
        }
        self.db.flush()?;
        let heads = {
            let state = self.read_state();
            wal::encode_heads(
                state
                    .series
                    .iter()
                    .enumerate()
                    .map(|(series_id, entry)| (series_id as u64, entry.head.as_slice())),
            )
        };
        writer.log.rotate(&heads)?;
        let mut state = self.write_state();
        state.counters.wal_records = 0;
        state.counters.wal_bytes = writer.log.bytes();
        Ok(())
    }

    /// Counters: series, chunks, samples, bytes.
    pub fn stats(&self) -> SeriesStats {
        let state = self.read_state();
        let counters = state.counters;
        let head_samples: u64 = state.series.iter().map(|e| e.head.len() as u64).sum();
        SeriesStats {
            n_agents: state.agents.len() as u64,
            n_series: state.series.len() as u64,
            n_chunks: counters.n_chunks,
            chunk_bytes: counters.chunk_bytes,
            n_samples: counters.chunk_samples + head_samples,
            head_samples,
            wal_records: counters.wal_records,
            wal_bytes: counters.wal_bytes,
            samples_ingested: counters.samples_ingested,
            samples_ignored: counters.samples_ignored,
            reports_duplicate: counters.reports_duplicate,
        }
    }
}
