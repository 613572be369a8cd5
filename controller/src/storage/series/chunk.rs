//! Chunk keys, values and the cut rule: the time-major layout (on-disk format 2).
//!
//! Time is split into fixed buckets `[k * span, (k + 1) * span)` (`span` = the chunk span
//! fixed when the database was created). A head never crosses a bucket boundary, so every
//! chunk lies in one bucket. A chunk is stored under
//! `bucket index (i64 BE, sign bit flipped) ++ sub (u64 BE) ++ series id (u64 BE)`, where
//! `sub` numbers a series' chunks within one bucket (0, 1, 2, ... without gaps). Chunks
//! sealed around the same time therefore have neighbouring keys at the right edge of the
//! tree: sled appends them to fresh leaves instead of rewriting old ones, and never touches
//! a leaf of an older bucket again except to delete it. A series' chunks in a bucket are
//! found by point lookups of sub 0, 1, ... until one is missing.
//!
//! The value is `varint(first timestamp - bucket start) ++ codec bytes`.

use super::codec::{self, CodecError, Reader};
use super::SeriesError;

/// The length of a chunk key.
pub(crate) const KEY_LEN: usize = 24;

/// Where a chunk sits in the key order of its series: bucket index, then sub.
pub(crate) type Pos = (i64, u64);

/// The chunk key of `series_id`'s chunk at `pos`.
pub(crate) fn key((bucket, sub): Pos, series_id: u64) -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    key[..8].copy_from_slice(&((bucket as u64) ^ (1 << 63)).to_be_bytes());
    key[8..16].copy_from_slice(&sub.to_be_bytes());
    key[16..].copy_from_slice(&series_id.to_be_bytes());
    key
}

/// The smallest key of `bucket` (every chunk key of earlier buckets sorts before it).
pub(crate) fn bucket_floor(bucket: i64) -> [u8; KEY_LEN] {
    key((bucket, 0), 0)
}

/// Splits a chunk key into position and series id.
pub(crate) fn parse_key(key: &[u8]) -> Result<(Pos, u64), SeriesError> {
    let bytes: [u8; KEY_LEN] = key.try_into().map_err(|_| SeriesError::Corrupt {
        what: "chunk key",
        detail: format!("{} bytes", key.len()),
    })?;
    let word = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_be_bytes(word)
    };
    Ok((((word(0) ^ (1 << 63)) as i64, word(8)), word(16)))
}

/// When to cut a head chunk, and the time buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutRule {
    /// Seal a chunk when it holds this many samples.
    pub max_samples: usize,
    /// The bucket length in milliseconds: no chunk crosses a multiple of it.
    pub span_ms: i64,
}

impl CutRule {
    /// The bucket of `ts`.
    pub(crate) fn bucket(&self, ts: i64) -> i64 {
        ts.div_euclid(self.span_ms)
    }

    /// Whether a head in `head_bucket` with `len` samples must be sealed before `next_ts`.
    pub(crate) fn must_cut(&self, head_bucket: i64, len: usize, next_ts: i64) -> bool {
        len >= self.max_samples || self.bucket(next_ts) != head_bucket
    }

    /// Encodes `points` (non-empty, all in one bucket) as a chunk value.
    pub(crate) fn encode(&self, points: &[(i64, f64)]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(20 + points.len());
        if let Some(&(first, _)) = points.first() {
            codec::put_varint(&mut bytes, first.rem_euclid(self.span_ms) as u64);
            codec::encode(points, true, &mut bytes);
        }
        bytes
    }

    /// Decodes the value of a chunk in `bucket`, appending its points to `out`.
    pub(crate) fn decode_into(
        &self,
        bucket: i64,
        value: &[u8],
        out: &mut Vec<(i64, f64)>,
    ) -> Result<(), CodecError> {
        let (offset, bytes) = split_value(value)?;
        if offset >= self.span_ms as u64 {
            return Err(CodecError::Corrupt("start offset"));
        }
        let first = i128::from(bucket) * i128::from(self.span_ms) + i128::from(offset);
        let first = i64::try_from(first).map_err(|_| CodecError::Corrupt("start offset"))?;
        codec::decode(first, bytes, out)
    }

    /// Decodes a stored chunk (key and value) into its series id and points.
    pub(crate) fn decode(
        &self,
        key: &[u8],
        value: &[u8],
    ) -> Result<(u64, Vec<(i64, f64)>), SeriesError> {
        let ((bucket, sub), series_id) = parse_key(key)?;
        let mut points = Vec::new();
        self.decode_into(bucket, value, &mut points)
            .map_err(|error| SeriesError::Corrupt {
                what: "chunk",
                detail: format!("series {series_id} in bucket {bucket}/{sub}: {error}"),
            })?;
        Ok((series_id, points))
    }
}

/// Encodes `points` as plain codec bytes (heads in the write-ahead log).
pub(crate) fn encode(points: &[(i64, f64)], sealed: bool) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 + points.len());
    codec::encode(points, sealed, &mut bytes);
    bytes
}

/// The number of samples a chunk value declares (0 when unreadable).
pub(crate) fn n_samples(value: &[u8]) -> u64 {
    split_value(value)
        .and_then(|(_, bytes)| codec::header(bytes))
        .map_or(0, |header| header.n_samples as u64)
}

/// Splits a chunk value into the start offset and the codec bytes.
fn split_value(value: &[u8]) -> Result<(u64, &[u8]), CodecError> {
    let mut reader = Reader {
        bytes: value,
        pos: 0,
    };
    let offset = reader.varint()?;
    Ok((offset, value.get(reader.pos..).unwrap_or_default()))
}
