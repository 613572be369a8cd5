//! Rollups (pure): a series' points summarised per fixed time bucket of a tier (5 minutes,
//! 1 hour) as min, max, sum, count and last, which merge exactly; and their encoding as one
//! block per series in a rollup file (`rollup_store.rs`).
//!
//! - A bucket is `[k * step, (k + 1) * step)`, named by its start. NaN samples are left out
//!   (a bucket of NaNs only does not exist); infinities count like any value, so a bucket
//!   holding one has an infinite min, max or sum, as the raw data would show.
//! - Partial aggregates of one bucket (computed from different chunks, or from a rollup file
//!   and from raw samples not rolled up yet) merge exactly: min of mins, max of maxes, sums
//!   and counts added, the later part's last. [`merge`] takes parts in time order.
//! - The average is `sum / count`; the sum is what is stored so that parts merge.
//! - 1-hour aggregates are [`coarsen`]ed from 5-minute ones: the same min, max, count and last
//!   as rolling the raw samples up directly, and the same sum up to float rounding.
//!
//! A block is `varint(n) ++ zigzag(first start - base)` followed by five codec streams
//! (`codec.rs`, length-prefixed) over the bucket starts: min, max, sum, last, count. The
//! codec picks decimal coding for values that are decimals (min, max and last are raw values,
//! counts are integers), so a block costs a few bytes per bucket.

use super::codec::{self, put_varint, zigzag, CodecError, Reader, MAX_CHUNK_SAMPLES};
use super::Point;

/// A resolution of stored history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Every sample as received.
    Raw,
    /// 5-minute aggregates.
    FiveMinutes,
    /// 1-hour aggregates.
    OneHour,
}

impl Tier {
    /// Every tier, finest first.
    pub const ALL: [Tier; 3] = [Tier::Raw, Tier::FiveMinutes, Tier::OneHour];

    /// The rollup tiers, finest first.
    pub const ROLLUPS: [Tier; 2] = [Tier::FiveMinutes, Tier::OneHour];

    /// The bucket length; for raw, the agents' usual 15 s interval (what a query estimates
    /// its point count with).
    pub fn step_ms(self) -> i64 {
        match self {
            Tier::Raw => 15_000,
            Tier::FiveMinutes => 5 * 60_000,
            Tier::OneHour => 3_600_000,
        }
    }

    /// The tier's name in the API and the configuration: `raw`, `5m`, `1h`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::FiveMinutes => "5m",
            Tier::OneHour => "1h",
        }
    }
}

/// The summary of one series over one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aggregate {
    /// The bucket's start, Unix milliseconds.
    pub start_ms: i64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    /// Samples summarised (NaN samples excluded); at least 1.
    pub count: u64,
    /// The value of the newest sample in the bucket.
    pub last: f64,
}

impl Aggregate {
    /// One sample as a bucket of its own.
    pub(crate) fn of(start_ms: i64, value: f64) -> Aggregate {
        Aggregate {
            start_ms,
            min: value,
            max: value,
            sum: value,
            count: 1,
            last: value,
        }
    }

    /// The mean of the bucket's samples.
    pub fn average(&self) -> f64 {
        self.sum / self.count as f64
    }

    /// Adds a later part of the same bucket.
    fn absorb(&mut self, later: &Aggregate) {
        self.min = self.min.min(later.min);
        self.max = self.max.max(later.max);
        self.sum += later.sum;
        self.count += later.count;
        self.last = later.last;
    }
}

/// The bucket start of `ts` for a step.
pub fn bucket_start(ts: i64, step_ms: i64) -> i64 {
    ts.div_euclid(step_ms) * step_ms
}

/// Summarises time-ordered `points` into buckets of `step_ms`, oldest first.
pub fn rollup(points: &[Point], step_ms: i64) -> Vec<Aggregate> {
    let mut out: Vec<Aggregate> = Vec::new();
    for &(ts, value) in points {
        if value.is_nan() {
            continue;
        }
        let start = bucket_start(ts, step_ms);
        match out.last_mut() {
            Some(current) if current.start_ms == start => {
                current.absorb(&Aggregate::of(start, value))
            }
            _ => out.push(Aggregate::of(start, value)),
        }
    }
    out
}

/// Summarises aggregates (time-ordered) into coarser buckets of `step_ms`.
pub fn coarsen(aggregates: &[Aggregate], step_ms: i64) -> Vec<Aggregate> {
    let mut out: Vec<Aggregate> = Vec::new();
    for aggregate in aggregates {
        let start = bucket_start(aggregate.start_ms, step_ms);
        match out.last_mut() {
            Some(current) if current.start_ms == start => current.absorb(aggregate),
            _ => out.push(Aggregate {
                start_ms: start,
                ..*aggregate
            }),
        }
    }
    out
}

/// Merges parts given in time order (each time-ordered; a bucket may straddle two parts)
/// into one time-ordered list, combining the parts of a bucket.
pub fn merge(parts: Vec<Vec<Aggregate>>) -> Vec<Aggregate> {
    let mut all: Vec<Aggregate> = parts.into_iter().flatten().collect();
    // Stable: the parts of one bucket stay in time order, so the later one's last wins.
    all.sort_by_key(|aggregate| aggregate.start_ms);
    let mut out: Vec<Aggregate> = Vec::with_capacity(all.len());
    for aggregate in all {
        match out.last_mut() {
            Some(current) if current.start_ms == aggregate.start_ms => current.absorb(&aggregate),
            _ => out.push(aggregate),
        }
    }
    out
}

/// Encodes time-ordered aggregates (distinct starts, at most 65,536) relative to `base_ms`.
pub fn encode_block(aggregates: &[Aggregate], base_ms: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + aggregates.len() * 4);
    put_varint(&mut out, aggregates.len() as u64);
    let Some(first) = aggregates.first() else {
        return out;
    };
    put_varint(&mut out, zigzag(first.start_ms.wrapping_sub(base_ms)));
    let columns: [fn(&Aggregate) -> f64; 5] = [
        |a| a.min,
        |a| a.max,
        |a| a.sum,
        |a| a.last,
        |a| a.count as f64,
    ];
    let mut stream = Vec::new();
    for column in columns {
        let points: Vec<Point> = aggregates.iter().map(|a| (a.start_ms, column(a))).collect();
        stream.clear();
        codec::encode(&points, true, &mut stream);
        put_varint(&mut out, stream.len() as u64);
        out.extend_from_slice(&stream);
    }
    out
}

/// The number of aggregates a block declares (0 when unreadable).
pub fn block_len(bytes: &[u8]) -> u64 {
    Reader { bytes, pos: 0 }.varint().unwrap_or(0)
}

/// Decodes a block written by [`encode_block`] with the same `base_ms`.
pub fn decode_block(bytes: &[u8], base_ms: i64) -> Result<Vec<Aggregate>, CodecError> {
    let mut reader = Reader { bytes, pos: 0 };
    let n = usize::try_from(reader.varint()?).map_err(|_| CodecError::Corrupt("count"))?;
    if n == 0 {
        return Ok(Vec::new());
    }
    if n > MAX_CHUNK_SAMPLES {
        return Err(CodecError::Corrupt("too many aggregates"));
    }
    let offset = codec::unzigzag(reader.varint()?);
    let first = base_ms.wrapping_add(offset);
    let mut columns: Vec<Vec<Point>> = Vec::with_capacity(5);
    for _ in 0..5 {
        let len = usize::try_from(reader.varint()?).map_err(|_| CodecError::Truncated)?;
        let end = reader.pos.checked_add(len).ok_or(CodecError::Truncated)?;
        let stream = bytes.get(reader.pos..end).ok_or(CodecError::Truncated)?;
        reader.pos = end;
        let mut points = Vec::with_capacity(n);
        codec::decode(first, stream, &mut points)?;
        if points.len() != n {
            return Err(CodecError::Corrupt("column lengths differ"));
        }
        columns.push(points);
    }
    if !reader.is_empty() {
        return Err(CodecError::Corrupt("trailing bytes"));
    }
    let [min, max, sum, last, count] = [0, 1, 2, 3, 4].map(|i| &columns[i]);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let start_ms = min[i].0;
        let same_start = [max[i].0, sum[i].0, last[i].0, count[i].0] == [start_ms; 4];
        let count = count[i].1;
        if !(same_start && count >= 1.0 && count.fract() == 0.0) {
            return Err(CodecError::Corrupt("inconsistent aggregate"));
        }
        out.push(Aggregate {
            start_ms,
            min: min[i].1,
            max: max[i].1,
            sum: sum[i].1,
            count: count as u64,
            last: last[i].1,
        });
    }
    Ok(out)
}

/// The tier a chart of `range_ms` reads: the finest whose bucket count over the range stays
/// within `read_budget` points per series (raw counted at one sample per 15 s); 1 hour when
/// none does.
pub fn choose_tier(range_ms: i64, read_budget: i64) -> Tier {
    Tier::ALL
        .into_iter()
        .find(|tier| range_ms / tier.step_ms() <= read_budget)
        .unwrap_or(Tier::OneHour)
}
