//! Recovery: [`SeriesStore::open`] rebuilds the index from `series_meta`, loads the newest
//! chunk of every series (an unsealed one becomes the head again) and replays the
//! write-ahead log.
//!
//! Note that this uses blocking I/O.

use std::sync::{Mutex, RwLock};

use super::chunk::{self, CutRule};
use super::codec::{self, MAX_CHUNK_SAMPLES};
use super::store::{append, SeriesEntry, State, Writer};
use super::{index, wal, SeriesError, SeriesKey, SeriesOptions, SeriesStore};

/// Series ids above this are taken as corruption (guards the allocation on open).
const MAX_SERIES: usize = 1 << 32;

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
        let rule = CutRule {
            max_samples: options.max_chunk_samples,
            max_span_ms: options.max_chunk_span_ms,
        };
        let meta = db.open_tree("series_meta")?;
        let chunks = db.open_tree("series_chunks")?;
        let mut state = State::default();
        let mut known: Vec<bool> = Vec::new();
        let mut owners: Vec<(String, SeriesKey, u64)> = Vec::new();
        for item in meta.iter() {
            let (key, value) = item?;
            match key.first() {
                Some(&index::AGENT_PREFIX) => {
                    let (agent, seq) = index::parse_agent(&key, &value)?;
                    state.agents.entry(agent).or_default().last_seq = Some(seq);
                }
                Some(&index::SERIES_PREFIX) => owners.push(index::parse_series(&key, &value)?),
                Some(&index::WAL_PREFIX) => {}
                _ => tracing::warn!(key = ?key, "Unknown key in the series index, ignored."),
            }
        }
        for (agent, series_key, series_id) in owners {
            let slot = usize::try_from(series_id)
                .ok()
                .filter(|&slot| slot < MAX_SERIES)
                .ok_or_else(|| SeriesError::Corrupt {
                    what: "series id",
                    detail: series_id.to_string(),
                })?;
            if slot >= known.len() {
                known.resize(slot + 1, false);
            }
            known[slot] = true;
            state
                .agents
                .entry(agent)
                .or_default()
                .series
                .insert(series_key, series_id);
        }
        for (series_id, known) in known.iter().enumerate() {
            if !known {
                tracing::warn!(series_id, "Series id without a key, skipped.");
            }
        }
        state.series = known.iter().map(|_| SeriesEntry::new()).collect();

        // The newest chunk of every series: its head if unsealed, its newest timestamp always.
        let mut newest: Vec<Option<(i64, sled::IVec)>> = vec![None; state.series.len()];
        for item in chunks.iter() {
            let (key, value) = item?;
            let (series_id, start) = match chunk::parse_key(&key) {
                Ok(parsed) => parsed,
                Err(error) => {
                    tracing::warn!(%error, "Unreadable chunk key, ignored.");
                    continue;
                }
            };
            let n_samples = codec::header(&value).map_or(0, |header| header.n_samples as u64);
            state
                .counters
                .chunk_written(None, n_samples, value.len() as u64);
            match newest.get_mut(series_id as usize) {
                Some(slot) => *slot = Some((start, value)),
                None => tracing::warn!(series_id, "Chunk of an unknown series, ignored."),
            }
        }
        for (series_id, slot) in newest.into_iter().enumerate() {
            let Some((start, value)) = slot else { continue };
            let mut points = Vec::new();
            let decoded = codec::header(&value)
                .and_then(|header| codec::decode(start, &value, &mut points).map(|()| header));
            let header = match decoded {
                Ok(header) => header,
                Err(error) => {
                    tracing::warn!(series_id, start, %error, "Corrupt newest chunk, skipped.");
                    continue;
                }
            };
            let entry = &mut state.series[series_id];
            entry.last_ts = points.last().map(|point| point.0);
            if !header.sealed {
                entry.head_persisted = Some((points.len() as u64, value.len() as u64));
                entry.head = points;
            }
        }

        // Replay the log, in order.
        let mut next_wal = 0;
        let mut chunk_batch = sled::Batch::default();
        for item in meta.scan_prefix([index::WAL_PREFIX]) {
            let (key, record) = item?;
            next_wal = index::parse_wal_position(&key)? + 1;
            state.counters.wal_records += 1;
            let State {
                series, counters, ..
            } = &mut state;
            wal::replay(&record, |series_id, ts, value| {
                let entry =
                    series
                        .get_mut(series_id as usize)
                        .ok_or_else(|| SeriesError::Corrupt {
                            what: "write-ahead log record",
                            detail: format!("unknown series id {series_id}"),
                        })?;
                append(
                    entry,
                    series_id,
                    ts,
                    value,
                    rule,
                    &mut chunk_batch,
                    counters,
                );
                Ok(())
            })?;
        }
        chunks.apply_batch(chunk_batch)?;
        // Replayed samples were not ingested in this process.
        state.counters.samples_ingested = 0;
        state.counters.samples_ignored = 0;
        Ok(SeriesStore {
            db: db.clone(),
            meta,
            chunks,
            rule,
            writer: Mutex::new(Writer {
                next_wal,
                poisoned: false,
            }),
            state: RwLock::new(state),
        })
    }
}
