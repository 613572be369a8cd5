//! Recovery: [`SeriesStore::open`] checks the on-disk format marker in sled, loads the series
//! index file, replays the write-ahead log from its newest snapshot (which restores the
//! agents' sequence numbers and every series' newest timestamp and open head), opens the
//! chunk files that snapshot covers, and checkpoints so that the log starts afresh.
//!
//! Note that this uses blocking I/O.

use std::sync::{Arc, Mutex, RwLock};

use super::checkpoint::{encode_index, publish, snapshot, write_index, write_pending};
use super::chunk::CutRule;
use super::chunk_file;
use super::codec::MAX_CHUNK_SAMPLES;
use super::head::Head;
use super::store::{append, SeriesEntry, State, Writer};
use super::{index, segment, wal, SeriesError, SeriesKey, SeriesOptions, SeriesStore};

/// Series ids above this are taken as corruption (guards the allocation on open).
const MAX_SERIES: usize = 1 << 32;

/// The series index's directory, inside the chunk directory.
const INDEX_DIR: &str = "series-index";

/// The tree that held chunks in on-disk formats 1 and 2.
const LEGACY_CHUNK_TREE: &[u8] = b"series_chunks";

impl SeriesStore {
    /// Opens the engine in `db` and its directories, replaying the write-ahead log, so
    /// everything acknowledged before a crash is back.
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
        let chunk_dir = options
            .chunk_dir
            .clone()
            .ok_or(SeriesError::InvalidOptions("chunk_dir must be set"))?;
        let index_dir = chunk_dir.join(INDEX_DIR);
        let meta = db.open_tree("series_meta")?;
        let rule = CutRule {
            max_samples: options.max_chunk_samples,
            span_ms: bucket_span(db, &meta, options.max_chunk_span_ms)?,
        };
        let mut state = State::default();
        let mut known: Vec<bool> = Vec::new();
        let mut owners: Vec<(String, SeriesKey, u64)> = Vec::new();
        let index = segment::replay(
            &index_dir,
            |_| true,
            |frame| {
                owners = index::decode_index(frame)?;
                Ok(())
            },
        )?;
        for (agent, series_key, series_id) in owners {
            define(&mut state, &mut known, agent, series_key, series_id)?;
        }

        let replayed = segment::replay(
            &wal_dir,
            |record| record.first() == Some(&wal::KIND_SNAPSHOT),
            |record| match record.first() {
                Some(&wal::KIND_INGEST) => replay_ingest(&mut state, &mut known, record, rule),
                Some(&wal::KIND_SNAPSHOT) => replay_snapshot(&mut state, record),
                kind => Err(SeriesError::Corrupt {
                    what: "write-ahead log record",
                    detail: format!("unknown kind {kind:?}"),
                }),
            },
        )?;
        if replayed.start_number.is_none() && replayed.last_number.is_some() {
            tracing::warn!(dir = %wal_dir.display(), "The write-ahead log has no snapshot; newest timestamps of series without new samples are unknown.");
        }
        let listing = chunk_file::open_dir(&chunk_dir, replayed.start_number)?;
        let mut next_file = listing.next_number;
        for file in &listing.files {
            state
                .counters
                .chunks_added(file.n_chunks, file.n_samples, file.data_bytes);
        }
        publish_listing(&mut state, listing.files);
        state.rollups = super::rollup_store::open(&chunk_dir, rule.span_ms)?;
        state.newest_ts = state.series.iter().filter_map(|entry| entry.last_ts).max();

        // Everything replayed goes to chunk files and the new snapshot: start the log afresh.
        let number = replayed.last_number.map_or(0, |number| number + 1);
        let written = write_pending(&state, &chunk_dir, number, &mut next_file)?;
        publish(&mut state, written);
        let mut next_index = index.last_number.map_or(0, |number| number + 1);
        if state.index_dirty || index.last_number.is_none() {
            write_index(&index_dir, &mut next_index, &encode_index(&state))?;
            state.index_dirty = false;
        }
        db.flush()?;
        let log = segment::Log::create(&wal_dir, number, &snapshot(&state))?;
        // Replayed samples were not ingested in this process.
        state.counters.samples_ingested = 0;
        state.counters.samples_ignored = 0;
        state.counters.wal_bytes = log.bytes();
        Ok(SeriesStore {
            wal_dir,
            chunk_dir,
            index_dir,
            rule,
            max_wal_bytes: options.max_wal_bytes,
            writer: Mutex::new(Writer {
                log,
                poisoned: false,
                next_file,
                next_index,
            }),
            state: RwLock::new(state),
        })
    }
}

/// Puts opened chunk files (sorted by bucket, then number) into the state's file map.
fn publish_listing(state: &mut State, files: Vec<chunk_file::ChunkFile>) {
    let mut map = super::store::FileMap::new();
    for file in files {
        map.entry(file.bucket).or_default().push(Arc::new(file));
    }
    state.files = Arc::new(map);
}

/// The bucket span of the database: the one its format marker records, or `requested` for
/// a new database (written as its marker). Refuses the chunk tree of earlier layouts.
fn bucket_span(db: &sled::Db, meta: &sled::Tree, requested: i64) -> Result<i64, SeriesError> {
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
    if db
        .tree_names()
        .iter()
        .any(|name| name.as_ref() == LEGACY_CHUNK_TREE)
        && !db.open_tree(LEGACY_CHUNK_TREE)?.is_empty()
    {
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
) -> Result<(), SeriesError> {
    for report in wal::decode_ingest(record)? {
        for (series_id, index_key) in report.definitions {
            let (agent, series_key, _) = index::parse_series(&index_key, &series_id.to_be_bytes())?;
            define(state, known, agent, series_key, series_id)?;
            state.index_dirty = true;
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
            append(entry, ts, value, rule, counters);
        }
    }
    Ok(())
}

/// Applies a snapshot: every series' newest timestamp, newest sealed bucket and open head.
fn replay_snapshot(state: &mut State, record: &[u8]) -> Result<(), SeriesError> {
    let snapshot = wal::decode_snapshot(record)?;
    for (agent, seq) in snapshot.agents {
        let entry = state.agents.entry(agent).or_default();
        entry.last_seq = entry.last_seq.max(Some(seq));
    }
    for logged in snapshot.series {
        let series_id = logged.series_id;
        let entry =
            state
                .series
                .get_mut(series_id as usize)
                .ok_or_else(|| SeriesError::Corrupt {
                    what: "write-ahead log snapshot",
                    detail: format!("unknown series id {series_id}"),
                })?;
        *entry = SeriesEntry {
            head: Head::from_points(&logged.head),
            last_ts: Some(logged.last_ts),
            sealed_bucket: logged.sealed_bucket,
            pending: Vec::new(),
        };
    }
    Ok(())
}
