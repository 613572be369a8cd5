//! Chunk values and the cut rule.
//!
//! Time is split into fixed buckets `[k * span, (k + 1) * span)` (`span` = the chunk span
//! fixed when the database was created). A head never crosses a bucket boundary, so every
//! chunk lies in one bucket, and chunk files (`chunk_file.rs`) hold one bucket each.
//!
//! A chunk value is `varint(first timestamp - bucket start) ++ codec bytes`.

use super::codec::{self, CodecError, Reader};

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
