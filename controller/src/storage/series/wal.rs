//! Write-ahead log records: the samples accepted by one `ingest` call, compactly.
//!
//! One ingest call writes one or more records (all in its atomic batch). A record is a sequence of `varint series_id ++ zigzag varint (timestamp - previous
//! timestamp in the record) ++ f64 LE`. Replaying a record is idempotent because the store
//! ignores samples at or before a series' newest timestamp.

use super::codec::{put_varint, unzigzag, zigzag, Reader};
use super::SeriesError;

/// Records are cut at about this size. Note that sled keeps values above a quarter segment
/// (128 KiB) as blob files; measured on the benchmark, big blob records leave far less
/// garbage in sled's log than many small inline records (which sled rewrites with their leaf).
pub(crate) const MAX_RECORD_BYTES: usize = 1 << 20;

/// Appends one sample to a record being built; `previous_ts` carries the record's state.
pub(crate) fn put(
    record: &mut Vec<u8>,
    previous_ts: &mut i64,
    series_id: u64,
    ts: i64,
    value: f64,
) {
    put_varint(record, series_id);
    put_varint(record, zigzag(ts.wrapping_sub(*previous_ts)));
    record.extend_from_slice(&value.to_bits().to_le_bytes());
    *previous_ts = ts;
}

/// Calls `apply(series_id, timestamp, value)` for every sample of a record, in order.
pub(crate) fn replay(
    record: &[u8],
    mut apply: impl FnMut(u64, i64, f64) -> Result<(), SeriesError>,
) -> Result<(), SeriesError> {
    let mut reader = Reader {
        bytes: record,
        pos: 0,
    };
    let mut previous_ts = 0i64;
    while !reader.is_empty() {
        let parsed = (|| {
            let series_id = reader.varint()?;
            let ts = previous_ts.wrapping_add(unzigzag(reader.varint()?));
            let value = f64::from_bits(reader.u64_le()?);
            Ok::<_, super::codec::CodecError>((series_id, ts, value))
        })();
        let (series_id, ts, value) = parsed.map_err(|error| SeriesError::Corrupt {
            what: "write-ahead log record",
            detail: error.to_string(),
        })?;
        previous_ts = ts;
        apply(series_id, ts, value)?;
    }
    Ok(())
}
