//! Chunk keys and the cut rule. A chunk is stored under `series_id (BE) ++ start_ts (BE)`,
//! with the sign bit of the timestamp flipped so that keys sort in time order.

use super::codec;
use super::SeriesError;

/// The length of a chunk key.
pub(crate) const KEY_LEN: usize = 16;

/// The chunk key for `series_id` starting at `start_ts`.
pub(crate) fn key(series_id: u64, start_ts: i64) -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    key[..8].copy_from_slice(&series_id.to_be_bytes());
    key[8..].copy_from_slice(&((start_ts as u64) ^ (1 << 63)).to_be_bytes());
    key
}

/// Splits a chunk key into series id and start timestamp.
pub(crate) fn parse_key(key: &[u8]) -> Result<(u64, i64), SeriesError> {
    let bytes: [u8; KEY_LEN] = key.try_into().map_err(|_| SeriesError::Corrupt {
        what: "chunk key",
        detail: format!("{} bytes", key.len()),
    })?;
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[..8]);
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&bytes[8..]);
    Ok((
        u64::from_be_bytes(id),
        (u64::from_be_bytes(ts) ^ (1 << 63)) as i64,
    ))
}

/// When to cut a head chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutRule {
    /// Seal a chunk when it holds this many samples.
    pub max_samples: usize,
    /// Seal a chunk before a sample that lies more than this far after its first sample.
    pub max_span_ms: i64,
}

impl CutRule {
    /// Whether a head starting at `start_ts` with `len` samples must be sealed before `next_ts`.
    pub(crate) fn must_cut(&self, start_ts: i64, len: usize, next_ts: i64) -> bool {
        len >= self.max_samples || next_ts.saturating_sub(start_ts) > self.max_span_ms
    }
}

/// Encodes `points` as chunk bytes.
pub(crate) fn encode(points: &[(i64, f64)], sealed: bool) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 + points.len());
    codec::encode(points, sealed, &mut bytes);
    bytes
}

/// Decodes a stored chunk (key and value) into its series id, start and points.
pub(crate) fn decode(key: &[u8], value: &[u8]) -> Result<(u64, Vec<(i64, f64)>), SeriesError> {
    let (series_id, start_ts) = parse_key(key)?;
    let mut points = Vec::new();
    codec::decode(start_ts, value, &mut points).map_err(|error| SeriesError::Corrupt {
        what: "chunk",
        detail: format!("series {series_id} at {start_ts}: {error}"),
    })?;
    Ok((series_id, points))
}
