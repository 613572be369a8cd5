//! An open head chunk in memory, encoded as it fills.
//!
//! A head keeps at most [`BLOCK`] newest points raw; each time that many have arrived they are
//! encoded with the chunk codec (`codec.rs`, unsealed) into a block appended to one byte
//! buffer, so a head of 240 samples holds about 16 raw points and a few hundred bytes instead
//! of 240 x 16 bytes. Sealing decodes the blocks and encodes the whole head as one chunk, so
//! chunk values are the same bytes as before. Pure: no I/O; crash safety is the write-ahead
//! log's, which logs every accepted sample as before.
//!
//! Block layout: `varint(first timestamp - head's first timestamp) ++ varint(n bytes) ++ codec
//! bytes`.

use super::codec::{self, CodecError, Reader};
use super::Point;

/// Points kept raw before they are encoded into a block.
pub(super) const BLOCK: usize = 16;

/// An open head: time-ordered points (strictly increasing timestamps).
#[derive(Default, Clone)]
pub(crate) struct Head {
    /// Encoded blocks, oldest first; the capacity is kept equal to the length.
    blocks: Vec<u8>,
    /// The newest points not yet in a block (fewer than [`BLOCK`]).
    tail: Vec<Point>,
    /// The first point of the head.
    first: Option<Point>,
    /// The newest point of the head.
    last: Option<Point>,
    len: usize,
}

impl Head {
    /// A head holding `points` (time-ordered, strictly increasing timestamps).
    pub(crate) fn from_points(points: &[Point]) -> Head {
        let mut head = Head::default();
        for &(ts, value) in points {
            head.push(ts, value);
        }
        head
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn first(&self) -> Option<Point> {
        self.first
    }

    pub(crate) fn last(&self) -> Option<Point> {
        self.last
    }

    /// Appends a point newer than every point of the head.
    pub(crate) fn push(&mut self, ts: i64, value: f64) {
        debug_assert!(self.last.is_none_or(|(last, _)| last < ts));
        if self.first.is_none() {
            self.first = Some((ts, value));
        }
        self.last = Some((ts, value));
        if self.tail.capacity() < BLOCK {
            self.tail.reserve_exact(BLOCK - self.tail.len());
        }
        self.tail.push((ts, value));
        self.len += 1;
        if self.tail.len() >= BLOCK {
            self.flush_tail();
        }
    }

    /// Encodes the raw tail into a block.
    fn flush_tail(&mut self) {
        let (Some(&(block_first, _)), Some((head_first, _))) = (self.tail.first(), self.first)
        else {
            return;
        };
        let mut bytes = Vec::with_capacity(16 + self.tail.len() * 2);
        codec::encode(&self.tail, false, &mut bytes);
        // At most two varints of 10 bytes each precede the codec bytes.
        self.blocks.reserve_exact(bytes.len() + 20);
        // Timestamps strictly increase, so the offset is non-negative and fits in a u64.
        codec::put_varint(
            &mut self.blocks,
            block_first.wrapping_sub(head_first) as u64,
        );
        codec::put_varint(&mut self.blocks, bytes.len() as u64);
        self.blocks.extend_from_slice(&bytes);
        self.blocks.shrink_to_fit();
        self.tail.clear();
    }

    /// Every point, oldest first.
    pub(crate) fn points(&self) -> Vec<Point> {
        let mut out = Vec::with_capacity(self.len);
        // Blocks are this head's own codec output; a failure would be a bug, never input.
        if let Err(error) = self.decode_blocks(&mut out) {
            tracing::error!(%error, "An open head's block could not be decoded.");
        }
        out.extend_from_slice(&self.tail);
        out
    }

    fn decode_blocks(&self, out: &mut Vec<Point>) -> Result<(), CodecError> {
        let Some((head_first, _)) = self.first else {
            return Ok(());
        };
        let mut reader = Reader {
            bytes: &self.blocks,
            pos: 0,
        };
        while !reader.is_empty() {
            let offset = reader.varint()?;
            let n_bytes =
                usize::try_from(reader.varint()?).map_err(|_| CodecError::Corrupt("block"))?;
            let end = reader
                .pos
                .checked_add(n_bytes)
                .filter(|&end| end <= self.blocks.len())
                .ok_or(CodecError::Truncated)?;
            let block_first = head_first.wrapping_add(offset as i64);
            codec::decode(block_first, &self.blocks[reader.pos..end], out)?;
            reader.pos = end;
        }
        Ok(())
    }

    /// The points within `range`, oldest first.
    pub(crate) fn points_in(&self, range: super::TimeRange) -> Vec<Point> {
        match (self.first, self.last) {
            (Some((first, _)), Some((last, _))) if range.from_ms <= first && last < range.to_ms => {
                self.points()
            }
            (Some((first, _)), Some((last, _))) if range.to_ms <= first || last < range.from_ms => {
                Vec::new()
            }
            (None, _) | (_, None) => Vec::new(),
            _ => {
                let mut points = self.points();
                points.retain(|point| range.contains(point.0));
                points
            }
        }
    }

    /// Empties the head, keeping the raw tail's allocation for the next one.
    pub(crate) fn clear(&mut self) {
        self.blocks = Vec::new();
        self.tail.clear();
        self.first = None;
        self.last = None;
        self.len = 0;
    }

    /// Empties the head and frees its memory (silent series).
    pub(crate) fn release(&mut self) {
        *self = Head::default();
    }

    /// Bytes of heap this head holds.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.blocks.capacity() + self.tail.capacity() * std::mem::size_of::<Point>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(points: &[Point]) -> Vec<(i64, u64)> {
        points.iter().map(|&(t, v)| (t, v.to_bits())).collect()
    }

    #[test]
    fn a_head_returns_its_points_bit_for_bit_at_every_length() {
        let specials = [
            f64::NAN,
            f64::from_bits(0x7ff8_0000_dead_beef),
            -0.0,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            1e300,
        ];
        let mut points = Vec::new();
        let mut ts = i64::MIN + 5;
        for i in 0..(3 * BLOCK + 5) {
            let value = if i % 3 == 0 {
                specials[i % specials.len()]
            } else {
                i as f64 * 0.1
            };
            points.push((ts, value));
            ts = ts.saturating_add(if i == 7 { i64::MAX } else { 15_000 + i as i64 });
        }
        points.dedup_by_key(|p| p.0);
        let mut head = Head::default();
        for (n, &(ts, value)) in points.iter().enumerate() {
            head.push(ts, value);
            assert_eq!(head.len(), n + 1);
            assert_eq!(
                bits(&head.points()),
                bits(&points[..=n]),
                "after {} points",
                n + 1
            );
        }
        assert_eq!(head.first().map(|p| p.0), Some(points[0].0));
        assert_eq!(bits(&Head::from_points(&points).points()), bits(&points));
        head.clear();
        assert!(head.is_empty() && head.points().is_empty());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// Any f64 bit pattern (NaN payloads, -0.0, infinities, subnormals) and any strictly
        /// increasing timestamps come back bit for bit after every push.
        #[test]
        fn any_points_round_trip(
            value_bits in proptest::collection::vec(proptest::num::u64::ANY, 1..70),
            start in proptest::num::i64::ANY,
            steps in proptest::collection::vec(proptest::prop_oneof![
                3 => proptest::strategy::Just(15_000i64),
                1 => 1i64..1_000_000,
                1 => 1i64..=i64::MAX,
            ], 70),
        ) {
            let mut points = Vec::new();
            let mut ts = Some(start);
            for (bits, step) in value_bits.iter().zip(&steps) {
                let Some(now) = ts else { break };
                points.push((now, f64::from_bits(*bits)));
                ts = now.checked_add(*step);
            }
            let mut head = Head::default();
            for &(ts, value) in &points {
                head.push(ts, value);
            }
            proptest::prop_assert_eq!(bits(&head.points()), bits(&points));
            proptest::prop_assert_eq!(head.len(), points.len());
        }
    }

    /// The point of the head: an hour of a typical counter costs a fraction of 240 x 16 bytes.
    #[test]
    fn a_full_head_of_a_counter_holds_far_less_than_its_raw_points() {
        let mut head = Head::default();
        let mut value = 5_086_507.22;
        for i in 0..239i64 {
            head.push(1_704_067_201_231 + i * 15_000, value);
            value = ((value * 100.0f64).round() + 1_000.0 + (i % 7) as f64 * 37.0) / 100.0;
        }
        let raw = 239 * std::mem::size_of::<Point>();
        assert!(
            head.heap_bytes() * 4 < raw,
            "{} bytes of heap for {raw} bytes of points",
            head.heap_bytes()
        );
    }

    #[test]
    fn points_in_keeps_only_the_range() {
        let points: Vec<Point> = (0..40).map(|i| (1_000 + i * 15, i as f64)).collect();
        let head = Head::from_points(&points);
        let range = super::super::TimeRange {
            from_ms: 1_100,
            to_ms: 1_400,
        };
        let expected: Vec<Point> = points
            .iter()
            .copied()
            .filter(|p| range.contains(p.0))
            .collect();
        assert_eq!(head.points_in(range), expected);
        let none = super::super::TimeRange {
            from_ms: 0,
            to_ms: 1_000,
        };
        assert!(head.points_in(none).is_empty());
    }
}
