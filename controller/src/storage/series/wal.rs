//! Write-ahead log records (the payloads of [`super::segment`] frames). Pure.
//!
//! The first byte says what a record is:
//! - ingest (one per `ingest` call): for each stored report `agent (len ++ UTF-8) ++ seq ++
//!   n new series ++ (series id ++ len ++ index key)* ++ n samples ++ (zigzag Δ series id ++
//!   zigzag Δ timestamp ++ f64 LE)*`, deltas running over the record, varints throughout.
//!   New series travel with the samples that use them, so a record never names an id that
//!   sled may have lost. Only accepted samples are logged;
//! - snapshot (the first record of every segment, written by a checkpoint): `n agents ++
//!   (len ++ agent ++ last seq)*`, then for every series
//!   with samples `Δ series id ++ zigzag Δ newest timestamp ++ (0 | 1 + zigzag Δ bucket of
//!   the newest sealed chunk) ++ len ++ open head's unsealed chunk bytes ([`super::codec`])
//!   ++ (if any) zigzag(newest timestamp - head start)`.
//!
//! Replaying is idempotent because the store ignores samples at or before a series' newest
//! timestamp and sequence numbers at or below an agent's last one.

use super::chunk;
use super::codec::{self, put_varint, unzigzag, zigzag, Reader};
use super::SeriesError;

pub(crate) const KIND_INGEST: u8 = 1;
/// Kind 2 (heads only) belonged to on-disk format 2.
pub(crate) const KIND_SNAPSHOT: u8 = 3;

/// The record of one ingest call, built report by report.
pub(crate) struct IngestRecord {
    out: Vec<u8>,
    definitions: Vec<u8>,
    n_definitions: u64,
    samples: Vec<u8>,
    n_samples: u64,
    previous_id: u64,
    previous_ts: i64,
}

impl IngestRecord {
    pub(crate) fn with_capacity(n_samples: usize) -> IngestRecord {
        let mut out = Vec::with_capacity(64 + n_samples * 11);
        out.push(KIND_INGEST);
        IngestRecord {
            out,
            definitions: Vec::new(),
            n_definitions: 0,
            samples: Vec::with_capacity(4096),
            n_samples: 0,
            previous_id: 0,
            previous_ts: 0,
        }
    }

    /// Starts a stored report; [`IngestRecord::end_report`] closes it.
    pub(crate) fn begin_report(&mut self, agent: &str, seq: u64) {
        put_bytes(&mut self.out, agent.as_bytes());
        put_varint(&mut self.out, seq);
        self.definitions.clear();
        self.n_definitions = 0;
        self.samples.clear();
        self.n_samples = 0;
    }

    /// A new series with its index key ([`super::index::series_key`]).
    pub(crate) fn define(&mut self, series_id: u64, index_key: &[u8]) {
        put_varint(&mut self.definitions, series_id);
        put_bytes(&mut self.definitions, index_key);
        self.n_definitions += 1;
    }

    /// An accepted sample.
    pub(crate) fn sample(&mut self, series_id: u64, ts: i64, value: f64) {
        let id_delta = series_id.wrapping_sub(self.previous_id) as i64;
        put_varint(&mut self.samples, zigzag(id_delta));
        put_varint(&mut self.samples, zigzag(ts.wrapping_sub(self.previous_ts)));
        self.samples
            .extend_from_slice(&value.to_bits().to_le_bytes());
        self.previous_id = series_id;
        self.previous_ts = ts;
        self.n_samples += 1;
    }

    pub(crate) fn end_report(&mut self) {
        put_varint(&mut self.out, self.n_definitions);
        self.out.extend_from_slice(&self.definitions);
        put_varint(&mut self.out, self.n_samples);
        self.out.extend_from_slice(&self.samples);
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.out
    }
}

/// A report read back from an ingest record.
pub(crate) struct LoggedReport {
    pub(crate) agent: String,
    pub(crate) seq: u64,
    /// `(series id, index key)` of the series this report created.
    pub(crate) definitions: Vec<(u64, Vec<u8>)>,
    pub(crate) samples: Vec<(u64, i64, f64)>,
}

/// Decodes an ingest record (its kind byte included).
pub(crate) fn decode_ingest(record: &[u8]) -> Result<Vec<LoggedReport>, SeriesError> {
    let mut reader = Reader {
        bytes: record,
        pos: 1,
    };
    let mut reports = Vec::new();
    let mut previous_id = 0u64;
    let mut previous_ts = 0i64;
    while !reader.is_empty() {
        let agent = String::from_utf8(get_bytes(&mut reader)?.to_vec())
            .map_err(|_| corrupt("agent name not UTF-8".to_owned()))?;
        let seq = varint(&mut reader)?;
        let n_definitions = varint(&mut reader)?;
        let mut definitions = Vec::new();
        for _ in 0..n_definitions {
            let series_id = varint(&mut reader)?;
            definitions.push((series_id, get_bytes(&mut reader)?.to_vec()));
        }
        let n_samples = varint(&mut reader)?;
        // Each sample takes at least 10 bytes; this bounds the allocation.
        let remaining = record.len().saturating_sub(reader.pos) as u64 / 10;
        let mut samples = Vec::with_capacity(n_samples.min(remaining) as usize);
        for _ in 0..n_samples {
            let series_id = previous_id.wrapping_add(unzigzag(varint(&mut reader)?) as u64);
            let ts = previous_ts.wrapping_add(unzigzag(varint(&mut reader)?));
            let value = f64::from_bits(reader.u64_le().map_err(codec_error)?);
            samples.push((series_id, ts, value));
            previous_id = series_id;
            previous_ts = ts;
        }
        reports.push(LoggedReport {
            agent,
            seq,
            definitions,
            samples,
        });
    }
    Ok(reports)
}

/// One series in a snapshot: its newest timestamp, the bucket of its newest sealed chunk
/// and its open head.
pub(crate) struct SeriesSnapshot<'a> {
    pub(crate) series_id: u64,
    pub(crate) last_ts: i64,
    pub(crate) sealed_bucket: Option<i64>,
    pub(crate) head: std::borrow::Cow<'a, [(i64, f64)]>,
}

/// Encodes a snapshot record: every agent's last sequence number, then every series that
/// has a newest timestamp, by ascending id.
pub(crate) fn encode_snapshot<'a>(
    agents: &[(&str, u64)],
    series: impl Iterator<Item = SeriesSnapshot<'a>>,
) -> Vec<u8> {
    let mut out = vec![KIND_SNAPSHOT];
    put_varint(&mut out, agents.len() as u64);
    for (agent, seq) in agents {
        put_bytes(&mut out, agent.as_bytes());
        put_varint(&mut out, *seq);
    }
    let (mut previous_id, mut previous_ts, mut previous_bucket) = (0u64, 0i64, 0i64);
    for entry in series {
        put_varint(&mut out, entry.series_id.wrapping_sub(previous_id));
        put_varint(&mut out, zigzag(entry.last_ts.wrapping_sub(previous_ts)));
        match entry.sealed_bucket {
            Some(bucket) => {
                put_varint(
                    &mut out,
                    zigzag(bucket.wrapping_sub(previous_bucket)).saturating_add(1),
                );
                previous_bucket = bucket;
            }
            None => put_varint(&mut out, 0),
        }
        match entry.head.first() {
            Some(&(start, _)) => {
                put_bytes(&mut out, &chunk::encode(&entry.head, false));
                put_varint(&mut out, zigzag(entry.last_ts.wrapping_sub(start)));
            }
            None => put_varint(&mut out, 0),
        }
        previous_id = entry.series_id;
        previous_ts = entry.last_ts;
    }
    out
}

/// A series read back from a snapshot record.
#[derive(Debug, PartialEq)]
pub(crate) struct LoggedSeries {
    pub(crate) series_id: u64,
    pub(crate) last_ts: i64,
    pub(crate) sealed_bucket: Option<i64>,
    pub(crate) head: Vec<(i64, f64)>,
}

/// A snapshot read back: agents' last sequence numbers and series.
pub(crate) struct Snapshot {
    pub(crate) agents: Vec<(String, u64)>,
    pub(crate) series: Vec<LoggedSeries>,
}

/// Decodes a snapshot record (its kind byte included).
pub(crate) fn decode_snapshot(record: &[u8]) -> Result<Snapshot, SeriesError> {
    let mut reader = Reader {
        bytes: record,
        pos: 1,
    };
    let n_agents = varint(&mut reader)?;
    let mut agents = Vec::new();
    for _ in 0..n_agents {
        let agent = String::from_utf8(get_bytes(&mut reader)?.to_vec())
            .map_err(|_| corrupt("agent name not UTF-8".to_owned()))?;
        agents.push((agent, varint(&mut reader)?));
    }
    let mut series = Vec::new();
    let (mut previous_id, mut previous_ts, mut previous_bucket) = (0u64, 0i64, 0i64);
    while !reader.is_empty() {
        let series_id = previous_id.wrapping_add(varint(&mut reader)?);
        let last_ts = previous_ts.wrapping_add(unzigzag(varint(&mut reader)?));
        let sealed_bucket = match varint(&mut reader)? {
            0 => None,
            delta => {
                previous_bucket = previous_bucket.wrapping_add(unzigzag(delta - 1));
                Some(previous_bucket)
            }
        };
        let bytes = get_bytes(&mut reader)?;
        let mut head = Vec::new();
        if !bytes.is_empty() {
            let start = last_ts.wrapping_sub(unzigzag(varint(&mut reader)?));
            codec::decode(start, bytes, &mut head)
                .map_err(|error| corrupt(format!("head of series {series_id}: {error}")))?;
        }
        series.push(LoggedSeries {
            series_id,
            last_ts,
            sealed_bucket,
            head,
        });
        previous_id = series_id;
        previous_ts = last_ts;
    }
    Ok(Snapshot { agents, series })
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn get_bytes<'a>(reader: &mut Reader<'a>) -> Result<&'a [u8], SeriesError> {
    let len = varint(reader)?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|len| reader.pos.checked_add(len))
        .ok_or_else(|| corrupt(format!("length {len}")))?;
    let bytes = reader
        .bytes
        .get(reader.pos..end)
        .ok_or_else(|| corrupt("truncated".to_owned()))?;
    reader.pos = end;
    Ok(bytes)
}

fn varint(reader: &mut Reader<'_>) -> Result<u64, SeriesError> {
    reader.varint().map_err(codec_error)
}

fn codec_error(error: codec::CodecError) -> SeriesError {
    corrupt(error.to_string())
}

fn corrupt(detail: String) -> SeriesError {
    SeriesError::Corrupt {
        what: "write-ahead log record",
        detail,
    }
}
