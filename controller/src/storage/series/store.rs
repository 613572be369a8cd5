//! [`SeriesStore`]: ingest, queries, checkpoints, retention and recovery over sled.
//!
//! Note that every method uses blocking I/O; async callers go through `spawn_blocking`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::chunk::{self, CutRule, Pos};
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
    /// The position of the newest sealed chunk in sled, if any.
    pub(super) sealed: Option<Pos>,
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

/// A series a query reads: key, id, its newest sealed chunk and the head's points in range.
type QueryTarget = (SeriesKey, u64, Option<Pos>, Vec<Point>);

/// A query looks a series' chunks up bucket by bucket when its range covers at most this
/// many buckets (30 days of 2 h buckets are 360), and scans the key range otherwise.
const MAX_LOOKUP_BUCKETS: i128 = 4096;

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
        if rule.must_cut(rule.bucket(start), entry.head.len(), ts) {
            seal(entry, series_id, rule, chunk_batch, counters);
        }
    }
    entry.head.push((ts, value));
    entry.last_ts = Some(ts);
    counters.samples_ingested += 1;
    if entry.head.len() >= rule.max_samples {
        seal(entry, series_id, rule, chunk_batch, counters);
    }
    true
}

/// Writes the head of a series as a sealed chunk into `chunk_batch` and empties it. The
/// chunk takes the next sub of the head's bucket.
pub(super) fn seal(
    entry: &mut SeriesEntry,
    series_id: u64,
    rule: CutRule,
    chunk_batch: &mut sled::Batch,
    counters: &mut Counters,
) {
    let Some(&(start, _)) = entry.head.first() else {
        return;
    };
    let bucket = rule.bucket(start);
    let pos = match entry.sealed {
        Some((sealed_bucket, sub)) if sealed_bucket == bucket => (bucket, sub.saturating_add(1)),
        _ => (bucket, 0),
    };
    let bytes = rule.encode(&entry.head);
    counters.chunk_written(entry.head.len() as u64, bytes.len() as u64);
    chunk_batch.insert(&chunk::key(pos, series_id), bytes);
    entry.sealed = Some(pos);
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
        // Snapshot the heads first, with the position of the newest sealed chunk: a point
        // that leaves a head later is in a chunk after that position, so it is read once.
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
                    let head = entry
                        .head
                        .iter()
                        .copied()
                        .filter(|point| range.contains(point.0))
                        .collect();
                    Some((key.clone(), series_id, entry.sealed, head))
                })
                .collect()
        };
        let oldest_bucket = match self.chunks.first()? {
            Some((key, _)) => chunk::parse_key(&key).map(|(pos, _)| pos.0).ok(),
            None => None,
        };
        let mut result = Vec::with_capacity(targets.len());
        for (series, series_id, sealed, head) in targets {
            let mut points = match (sealed, oldest_bucket) {
                (Some(sealed), Some(oldest)) => {
                    self.chunk_points(series_id, range, sealed, oldest)?
                }
                _ => Vec::new(),
            };
            points.extend(head);
            if !points.is_empty() {
                result.push(SeriesPoints { series, points });
            }
        }
        result.sort_by(|a, b| a.series.cmp(&b.series));
        Ok(result)
    }

    /// Points in `range` from the chunks of a series up to position `sealed` (its newest
    /// chunk as of the head snapshot), reading no bucket before `oldest_bucket`.
    fn chunk_points(
        &self,
        series_id: u64,
        range: TimeRange,
        sealed: Pos,
        oldest_bucket: i64,
    ) -> Result<Vec<(i64, f64)>, SeriesError> {
        let rule = self.rule;
        let first = rule.bucket(range.from_ms).max(oldest_bucket);
        let last = rule.bucket(range.to_ms.saturating_sub(1)).min(sealed.0);
        let mut points = Vec::new();
        if first > last {
            return Ok(points);
        }
        let mut decoded = Vec::new();
        let mut add = |pos: Pos, value: &[u8]| {
            decoded.clear();
            match rule.decode_into(pos.0, value, &mut decoded) {
                Ok(()) => points.extend(decoded.iter().filter(|point| range.contains(point.0))),
                Err(error) => {
                    tracing::warn!(series_id, ?pos, %error, "Corrupt chunk, skipped.");
                }
            }
        };
        if i128::from(last) - i128::from(first) < MAX_LOOKUP_BUCKETS {
            // Point lookups: sub 0, 1, ... of every bucket until one is missing.
            for bucket in first..=last {
                for sub in 0.. {
                    let pos = (bucket, sub);
                    if pos > sealed {
                        break;
                    }
                    match self.chunks.get(chunk::key(pos, series_id))? {
                        Some(value) => add(pos, &value),
                        None => break,
                    }
                }
            }
        } else {
            // Sparse data over a huge range: scan the keys instead.
            for item in self
                .chunks
                .range(chunk::bucket_floor(first)..=chunk::key(sealed, series_id))
            {
                let (key, value) = item?;
                match chunk::parse_key(&key) {
                    Ok((pos, id)) if id == series_id && pos <= sealed => add(pos, &value),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "Unreadable chunk key, ignored."),
                }
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
                let Some(entry) = state.series.get(series_id as usize) else {
                    continue;
                };
                match (entry.head.last(), entry.sealed) {
                    (Some(&point), _) => result.push((key.clone(), point)),
                    (None, Some(pos)) => from_chunks.push((key.clone(), series_id, pos)),
                    (None, None) => {}
                }
            }
        }
        for (key, series_id, pos) in from_chunks {
            let chunk_key = chunk::key(pos, series_id);
            let Some(value) = self.chunks.get(chunk_key)? else {
                continue;
            };
            match self.rule.decode(&chunk_key, &value) {
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

    /// Deletes whole time buckets: every chunk in a bucket that ends at or before
    /// `cutoff_ms` (so every deleted sample is older than the cutoff), open heads in such
    /// buckets included, then checkpoints. Series keep their newest timestamp until the
    /// store reopens.
    pub fn apply_retention(&self, cutoff_ms: i64) -> Result<RetentionReport, SeriesError> {
        let mut writer = self.lock_writer()?;
        let first_kept = self.rule.bucket(cutoff_ms);
        let mut report = RetentionReport::default();
        let mut batch = sled::Batch::default();
        let mut deleted: Vec<(u64, u64)> = Vec::new();
        for item in self.chunks.range(..chunk::bucket_floor(first_kept)) {
            let (key, value) = item?;
            let n_samples = chunk::n_samples(&value);
            batch.remove(key);
            deleted.push((n_samples, value.len() as u64));
            report.chunks_deleted += 1;
            report.samples_deleted += n_samples;
            report.bytes_deleted += value.len() as u64;
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
                let head_bucket = entry.head.first().map(|point| self.rule.bucket(point.0));
                if head_bucket.is_some_and(|bucket| bucket < first_kept) {
                    report.chunks_deleted += 1;
                    report.samples_deleted += entry.head.len() as u64;
                    entry.head = Vec::new();
                }
                // All of this series' chunks are gone: its next chunk starts at sub 0.
                if entry.sealed.is_some_and(|(bucket, _)| bucket < first_kept) {
                    entry.sealed = None;
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

    /// Seals heads whose bucket ended more than a bucket before the newest sample, writes the
    /// agents' sequence numbers, flushes sled, then replaces the write-ahead log by a snapshot of the open heads.
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
            // A head in a bucket that ended more than a whole bucket before the newest sample
            // anywhere would be cut by its next sample anyway (agents' clocks may differ by
            // less than a bucket): seal it now, so that silent series do not keep heads
            // forever. The batch applies in key order, so these chunks append too.
            if let Some(newest) = newest_ts.map(|newest| self.rule.bucket(newest)) {
                for (series_id, entry) in series.iter_mut().enumerate() {
                    let head_bucket = entry.head.first().map(|point| self.rule.bucket(point.0));
                    if head_bucket.is_some_and(|bucket| bucket.saturating_add(1) < newest) {
                        seal(
                            entry,
                            series_id as u64,
                            self.rule,
                            &mut chunk_batch,
                            counters,
                        );
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
