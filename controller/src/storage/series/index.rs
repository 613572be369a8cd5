//! Keys of the `series_meta` tree: agents (last sequence number as of the last checkpoint;
//! the write-ahead log has the newer ones) and the series index (agent + series key ->
//! compact series id).
//!
//! Layout:
//! - `F` -> on-disk format (u32 BE, [`FORMAT_VERSION`]) ++ bucket span in ms (i64 BE);
//! - `A ++ agent` -> last sequence number (u64 BE);
//! - `S ++ len agent ++ len metric ++ n labels ++ (len name ++ name ++ len value ++ value)*`
//!   -> series id (u64 BE), lengths as varints. The same bytes name a new series in the
//!   write-ahead log.

use super::codec::{put_varint, Reader};
use super::{SeriesError, SeriesKey};

pub(crate) const FORMAT_PREFIX: u8 = b'F';
pub(crate) const AGENT_PREFIX: u8 = b'A';

/// The on-disk format: 2 = time-major chunk keys (`chunk.rs`). Format 1 (chunks keyed by
/// series, then start) had no marker.
pub(crate) const FORMAT_VERSION: u32 = 2;

/// The key of the format marker.
pub(crate) const FORMAT_KEY: [u8; 1] = [FORMAT_PREFIX];

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

pub(crate) fn agent_key(agent: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + agent.len());
    key.push(AGENT_PREFIX);
    key.extend_from_slice(agent.as_bytes());
    key
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

pub(crate) fn parse_agent(key: &[u8], value: &[u8]) -> Result<(String, u64), SeriesError> {
    let agent = std::str::from_utf8(&key[1..]).map_err(|_| corrupt("agent key", "not UTF-8"))?;
    Ok((agent.to_owned(), parse_u64(value, "agent sequence number")?))
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
    put_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
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
