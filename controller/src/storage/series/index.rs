//! The series index (agent + series key -> compact series id) and the format marker.
//!
//! - The format marker is the one key the engine keeps in sled (`series_meta` tree):
//!   `F` -> on-disk format (u32 BE, [`FORMAT_VERSION`]) ++ bucket span in ms (i64 BE).
//! - A series is named by `S ++ len agent ++ len metric ++ n labels ++ (len name ++ name ++
//!   len value ++ value)*` (lengths as varints), in write-ahead log records and in the index
//!   file: a checkpoint that saw new series writes the whole index as the one frame of a new
//!   segment ([`super::segment`]) in `<chunk dir>/series-index/`, `n ++ (series id ++ len ++
//!   name)*`. Measured on sled 0.34, one sled key per series cost about 570 bytes each
//!   (3,000 series: 1.7 MB), ten times the data; the file costs what it holds.

use super::codec::{put_varint, Reader};
use super::{SeriesError, SeriesKey};

/// The on-disk format: 3 = chunks in chunk files (`chunk_file.rs`). Format 2 kept them in
/// sled under time-major keys, format 1 (no marker) under series-major keys.
pub(crate) const FORMAT_VERSION: u32 = 3;

/// The key of the format marker.
pub(crate) const FORMAT_KEY: [u8; 1] = [b'F'];

/// The format marker's value for a bucket span.
pub(crate) fn format_value(span_ms: i64) -> [u8; 12] {
    let mut value = [0u8; 12];
    value[..4].copy_from_slice(&FORMAT_VERSION.to_be_bytes());
    value[4..].copy_from_slice(&span_ms.to_be_bytes());
    value
}

/// The bucket span recorded by a format marker, if the format is this version's.
pub(crate) fn parse_format(value: &[u8]) -> Result<i64, SeriesError> {
    let unsupported = |detail: String| SeriesError::Corrupt {
        what: "on-disk format",
        detail,
    };
    let version = value
        .get(..4)
        .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
        .map(u32::from_be_bytes);
    if version != Some(FORMAT_VERSION) {
        return Err(unsupported(format!(
            "the database has format {version:?}, this version reads only format \
             {FORMAT_VERSION}; there is no migration: move the database aside"
        )));
    }
    let span = value
        .get(4..)
        .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
        .map(i64::from_be_bytes)
        .filter(|&span| span > 0)
        .ok_or_else(|| unsupported(format!("bad marker {value:?}")))?;
    Ok(span)
}
pub(crate) const SERIES_PREFIX: u8 = b'S';

/// Encodes the whole index: `(series id, name)` as made by [`series_key`].
pub(crate) fn encode_index(entries: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 64 + 8);
    put_varint(&mut out, entries.len() as u64);
    for (series_id, name) in entries {
        put_varint(&mut out, *series_id);
        put_str_bytes(&mut out, name);
    }
    out
}

/// Decodes an index written by [`encode_index`] into `(agent, key, series id)`.
pub(crate) fn decode_index(bytes: &[u8]) -> Result<Vec<(String, SeriesKey, u64)>, SeriesError> {
    let mut reader = Reader { bytes, pos: 0 };
    let bad = |e: super::CodecError| corrupt("series index", &e.to_string());
    let n = reader.varint().map_err(bad)?;
    let mut entries = Vec::with_capacity(n.min(bytes.len() as u64 / 4) as usize);
    for _ in 0..n {
        let series_id = reader.varint().map_err(bad)?;
        let len = usize::try_from(reader.varint().map_err(bad)?)
            .map_err(|_| corrupt("series index", "length"))?;
        let end = reader
            .pos
            .checked_add(len)
            .ok_or_else(|| corrupt("series index", "length"))?;
        let name = bytes
            .get(reader.pos..end)
            .ok_or_else(|| corrupt("series index", "truncated"))?;
        reader.pos = end;
        entries.push(parse_series(name, &series_id.to_be_bytes())?);
    }
    if !reader.is_empty() {
        return Err(corrupt("series index", "trailing bytes"));
    }
    Ok(entries)
}

fn put_str_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

pub(crate) fn series_key(agent: &str, series: &SeriesKey) -> Vec<u8> {
    let mut key = Vec::with_capacity(64);
    key.push(SERIES_PREFIX);
    put_str(&mut key, agent);
    put_str(&mut key, &series.metric);
    put_varint(&mut key, series.labels.len() as u64);
    for (name, value) in &series.labels {
        put_str(&mut key, name);
        put_str(&mut key, value);
    }
    key
}

pub(crate) fn parse_series(
    key: &[u8],
    value: &[u8],
) -> Result<(String, SeriesKey, u64), SeriesError> {
    let mut reader = Reader { bytes: key, pos: 1 };
    let agent = get_str(&mut reader)?;
    let metric = get_str(&mut reader)?;
    let n_labels = reader
        .varint()
        .map_err(|e| corrupt("series key", &e.to_string()))?;
    let mut labels = Vec::new();
    for _ in 0..n_labels {
        let name = get_str(&mut reader)?;
        let label_value = get_str(&mut reader)?;
        labels.push((name, label_value));
    }
    if !reader.is_empty() {
        return Err(corrupt("series key", "trailing bytes"));
    }
    Ok((
        agent,
        SeriesKey { metric, labels },
        parse_u64(value, "series id")?,
    ))
}

fn parse_u64(bytes: &[u8], what: &'static str) -> Result<u64, SeriesError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| corrupt(what, &format!("{} bytes, expected 8", bytes.len())))?;
    Ok(u64::from_be_bytes(array))
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_str_bytes(out, text.as_bytes());
}

fn get_str(reader: &mut Reader<'_>) -> Result<String, SeriesError> {
    let len = reader
        .varint()
        .map_err(|e| corrupt("series key", &e.to_string()))?;
    let len = usize::try_from(len).map_err(|_| corrupt("series key", "length"))?;
    let end = reader
        .pos
        .checked_add(len)
        .ok_or_else(|| corrupt("series key", "length"))?;
    let bytes = reader
        .bytes
        .get(reader.pos..end)
        .ok_or_else(|| corrupt("series key", "truncated"))?;
    reader.pos = end;
    String::from_utf8(bytes.to_vec()).map_err(|_| corrupt("series key", "not UTF-8"))
}

fn corrupt(what: &'static str, detail: &str) -> SeriesError {
    SeriesError::Corrupt {
        what,
        detail: detail.to_owned(),
    }
}
