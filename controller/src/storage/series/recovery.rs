//! Recovery: [`SeriesStore::open`] checks the on-disk format marker, rebuilds the index and
//! the agents' sequence numbers from `series_meta`, takes every series' newest timestamp from
//! its newest chunk, then replays the write-ahead log from its newest heads snapshot, and
//! checkpoints so that the log starts afresh.
//!
//! The newest chunk of every series comes from one pass over the chunk keys (in key order,
//! a series' later chunk always comes later), which open needs anyway for the chunk, byte
//! and sample counters; a per-series record would save the decode of one chunk per series
//! but not the pass, and would be one more thing to keep in step with sled.
//!
//! Note that this uses blocking I/O.

use std::sync::{Mutex, RwLock};

use super::chunk::{self, CutRule};
use super::codec::MAX_CHUNK_SAMPLES;
use super::store::{append, SeriesEntry, State, Writer};
use super::{index, segment, wal, SeriesError, SeriesKey, SeriesOptions, SeriesStore};

/// Series ids above this are taken as corruption (guards the allocation on open).
const MAX_SERIES: usize = 1 << 32;

/// The key prefix of write-ahead log records kept in sled by earlier versions.
const LEGACY_WAL_PREFIX: u8 = b'W';

impl SeriesStore {
    /// Opens the engine's trees in `db`, loading the newest chunk of every series and
    /// replaying the write-ahead log, so everything acknowledged before a crash is back.
    pub fn open(db: &sled::Db, options: SeriesOptions) -> Result<SeriesStore, SeriesError> {
        if options.max_chunk_samples == 0 || options.max_chunk_samples > MAX_CHUNK_SAMPLES {
            return Err(SeriesError::InvalidOptions(
                "max_chunk_samples must be 1..=65536",
            ));
        }
        if options.max_chunk_span_ms <= 0 {
            return Err(SeriesError::InvalidOptions(
                "max_chunk_span_ms must be positive",
            ));
        }
        let wal_dir = options
            .wal_dir
            .clone()
            .ok_or(SeriesError::InvalidOptions("wal_dir must be set"))?;
        let meta = db.open_tree("series_meta")?;
        let chunks = db.open_tree("series_chunks")?;
        let rule = CutRule {
            max_samples: options.max_chunk_samples,
            span_ms: bucket_span(&meta, &chunks, options.max_chunk_span_ms)?,
        };
        let mut state = State::default();
        let mut known: Vec<bool> = Vec::new();
        let mut owners: Vec<(String, SeriesKey, u64)> = Vec::new();
        let mut meta_batch = sled::Batch::default();
        for item in meta.iter() {
            let (key, value) = item?;
            match key.first() {
                Some(&index::FORMAT_PREFIX) => {}
                Some(&index::AGENT_PREFIX) => {
                    let (agent, seq) = index::parse_agent(&key, &value)?;
                    state.agents.entry(agent).or_default().last_seq = Some(seq);
                }
                Some(&index::SERIES_PREFIX) => owners.push(index::parse_series(&key, &value)?),
                Some(&LEGACY_WAL_PREFIX) => {
                    tracing::warn!(key = ?key, "Log record of an earlier version, dropped.");
                    meta_batch.remove(key);
                }
                _ => tracing::warn!(key = ?key, "Unknown key in the series index, ignored."),
            }
        }
        for (agent, series_key, series_id) in owners {
            define(&mut state, &mut known, agent, series_key, series_id)?;
        }
        for (series_id, known) in known.iter().enumerate() {
            if !known {
                tracing::warn!(series_id, "Series id without a key, skipped.");
            }
        }

        // The newest timestamp of every series, from its newest chunk.
        let mut newest: Vec<Option<(chunk::Pos, sled::IVec)>> = vec![None; state.series.len()];
        for item in chunks.iter() {
            let (key, value) = item?;
            let (pos, series_id) = match chunk::parse_key(&key) {
                Ok(parsed) => parsed,
                Err(error) => {
                    tracing::warn!(%error, "Unreadable chunk key, ignored.");
                    continue;
                }
            };
            state
                .counters
                .chunk_written(chunk::n_samples(&value), value.len() as u64);
            match newest.get_mut(series_id as usize) {
                Some(slot) => *slot = Some((pos, value)),
                None => tracing::warn!(series_id, "Chunk of an unknown series, ignored."),
            }
        }
        for (series_id, slot) in newest.into_iter().enumerate() {
            let Some((pos, value)) = slot else { continue };
            let entry = &mut state.series[series_id];
            entry.sealed = Some(pos);
            let mut points = Vec::new();
            match rule.decode_into(pos.0, &value, &mut points) {
                Ok(()) => entry.last_ts = points.last().map(|point| point.0),
                Err(error) => {
                    tracing::warn!(series_id, ?pos, %error, "Corrupt newest chunk, skipped.");
                }
            }
        }
        // Samples up to here are in sled; a snapshot head never repeats them.
        let sealed_ts: Vec<Option<i64>> = state.series.iter().map(|e| e.last_ts).collect();

        let mut chunk_batch = sled::Batch::default();
        let replayed = segment::replay(
            &wal_dir,
            |record| record.first() == Some(&wal::KIND_HEADS),
            |record| match record.first() {
                Some(&wal::KIND_INGEST) => replay_ingest(
                    &mut state,
                    &mut known,
                    record,
                    rule,
                    &mut chunk_batch,
                    &mut meta_batch,
                ),
                Some(&wal::KIND_HEADS) => replay_heads(&mut state, &sealed_ts, record),
                kind => Err(SeriesError::Corrupt {
                    what: "write-ahead log record",
                    detail: format!("unknown kind {kind:?}"),
                }),
            },
        )?;
        for (agent, entry) in &state.agents {
            if let Some(seq) = entry.last_seq {
                meta_batch.insert(index::agent_key(agent), &seq.to_be_bytes());
            }
        }
        chunks.apply_batch(chunk_batch)?;
        meta.apply_batch(meta_batch)?;
        db.flush()?;
        state.newest_ts = state.series.iter().filter_map(|entry| entry.last_ts).max();
        // Replayed samples were not ingested in this process.
        state.counters.samples_ingested = 0;
        state.counters.samples_ignored = 0;

        // Everything replayed is in sled or in the new snapshot: start the log afresh.
        let heads = wal::encode_heads(
            state
                .series
                .iter()
                .enumerate()
                .map(|(series_id, entry)| (series_id as u64, entry.head.as_slice())),
        );
        let number = replayed.last_number.map_or(0, |number| number + 1);
        let log = segment::Log::create(&wal_dir, number, &heads)?;
        state.counters.wal_bytes = log.bytes();
        Ok(SeriesStore {
            db: db.clone(),
            meta,
            chunks,
            rule,
            max_wal_bytes: options.max_wal_bytes,
            writer: Mutex::new(Writer {
                log,
                poisoned: false,
            }),
            state: RwLock::new(state),
        })
    }
}

/// The bucket span of the database: the one its format marker records, or `requested` for
/// a new database (written as its marker). Refuses chunks of the old layout (no marker).
fn bucket_span(meta: &sled::Tree, chunks: &sled::Tree, requested: i64) -> Result<i64, SeriesError> {
    if let Some(value) = meta.get(index::FORMAT_KEY)? {
        let span = index::parse_format(&value)?;
        if span != requested {
            tracing::warn!(
                span_ms = span,
                requested_ms = requested,
                "The chunk span is fixed when the database is created; keeping its span."
            );
        }
        return Ok(span);
    }
    if chunks.first()?.is_some() {
        return Err(SeriesError::Corrupt {
            what: "on-disk format",
            detail: format!(
                "chunks without a format marker are of the unreleased format 1 (series-major \
                 keys); this version reads only format {}; there is no migration: move the \
                 database aside",
                index::FORMAT_VERSION
            ),
        });
    }
    meta.insert(index::FORMAT_KEY, &index::format_value(requested))?;
    Ok(requested)
}

/// Adds `agent`'s series `series_key` with id `series_id` to the index in memory.
fn define(
    state: &mut State,
    known: &mut Vec<bool>,
    agent: String,
    series_key: SeriesKey,
    series_id: u64,
) -> Result<(), SeriesError> {
    let corrupt = |detail: String| SeriesError::Corrupt {
        what: "series index",
        detail,
    };
    let slot = usize::try_from(series_id)
        .ok()
        .filter(|&slot| slot < MAX_SERIES)
        .ok_or_else(|| corrupt(format!("series id {series_id}")))?;
    let agent_entry = state.agents.entry(agent).or_default();
    match agent_entry.series.get(&series_key) {
        Some(&existing) if existing == series_id => return Ok(()),
        Some(&existing) => {
            return Err(corrupt(format!(
                "{series_key:?} is series {existing} and {series_id}"
            )))
        }
        None => {}
    }
    if known.get(slot).copied().unwrap_or(false) {
        return Err(corrupt(format!("series id {series_id} used twice")));
    }
    if slot >= known.len() {
        known.resize(slot + 1, false);
        state.series.resize_with(slot + 1, SeriesEntry::default);
    }
    known[slot] = true;
    agent_entry.series.insert(series_key, series_id);
    Ok(())
}

/// Applies one ingest record: new series, sequence numbers and samples.
fn replay_ingest(
    state: &mut State,
    known: &mut Vec<bool>,
    record: &[u8],
    rule: CutRule,
    chunk_batch: &mut sled::Batch,
    meta_batch: &mut sled::Batch,
) -> Result<(), SeriesError> {
    for report in wal::decode_ingest(record)? {
        for (series_id, index_key) in report.definitions {
            let (agent, series_key, _) = index::parse_series(&index_key, &series_id.to_be_bytes())?;
            define(state, known, agent, series_key, series_id)?;
            meta_batch.insert(index_key, &series_id.to_be_bytes());
        }
        let agent = state.agents.entry(report.agent).or_default();
        agent.last_seq = agent.last_seq.max(Some(report.seq));
        let State {
            series, counters, ..
        } = state;
        for (series_id, ts, value) in report.samples {
            let entry = series
                .get_mut(series_id as usize)
                .ok_or_else(|| SeriesError::Corrupt {
                    what: "write-ahead log record",
                    detail: format!("unknown series id {series_id}"),
                })?;
            append(entry, series_id, ts, value, rule, chunk_batch, counters);
        }
    }
    Ok(())
}

/// Applies a heads snapshot, leaving out what sled already holds.
fn replay_heads(
    state: &mut State,
    sealed_ts: &[Option<i64>],
    record: &[u8],
) -> Result<(), SeriesError> {
    for (series_id, mut points) in wal::decode_heads(record)? {
        let entry =
            state
                .series
                .get_mut(series_id as usize)
                .ok_or_else(|| SeriesError::Corrupt {
                    what: "write-ahead log heads",
                    detail: format!("unknown series id {series_id}"),
                })?;
        if let Some(Some(sealed)) = sealed_ts.get(series_id as usize) {
            points.retain(|point| point.0 > *sealed);
        }
        if let Some(&(last, _)) = points.last() {
            entry.last_ts = entry.last_ts.max(Some(last));
        }
        entry.head = points;
    }
    Ok(())
}
