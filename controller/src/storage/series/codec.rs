//! The chunk codec: time-ordered `(timestamp_ms, f64)` points to bytes and back. Pure.
//!
//! A chunk picks its value encoding from what the points really hold, and says which in its
//! first byte:
//! - constant: every value has the same bit pattern (stored once, as a small integer when it is
//!   one);
//! - decimal: every value is `i / 10^k` for integers `i` (counters, bytes, 0.1 °C, load
//!   averages, nanosecond counters in seconds). The integers are coded as the value, its delta
//!   or its delta-of-delta (whichever is cheapest for the chunk), divided by their common
//!   factor (memory in KiB, sizes in blocks);
//! - XOR: anything else (full-precision floats, NaN, infinities, -0.0), Gorilla-style.
//!
//! Timestamps are coded as the difference from the chunk's usual interval. All residuals go
//! through one adaptive binary range coder ([`super::rc`]), so a run of exact 15 s intervals
//! or of unchanged values costs a few hundredths of a bit per sample.
//!
//! Round trips are bit-exact for every f64 and every strictly increasing timestamp sequence.
//! The chunk does not store its first timestamp: that is in its key.

use super::rc::{Decoder, Encoder, IntModel, XorModel};

/// Why chunk bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The bytes end before the header does.
    #[error("chunk truncated")]
    Truncated,
    /// The header names an encoding this version does not know.
    #[error("unknown chunk encoding {0:#04x}")]
    UnknownEncoding(u8),
    /// The header or the coded stream is inconsistent.
    #[error("corrupt chunk: {0}")]
    Corrupt(&'static str),
}

/// The largest number of samples a chunk may declare; guards allocations on corrupt input.
pub const MAX_CHUNK_SAMPLES: usize = 1 << 16;

const KIND_MASK: u8 = 0b11;
const KIND_CONSTANT_INT: u8 = 0;
const KIND_CONSTANT_BITS: u8 = 1;
const KIND_DECIMAL: u8 = 2;
const KIND_XOR: u8 = 3;
const FLAG_SEALED: u8 = 1 << 2;
const TRANSFORM_SHIFT: u32 = 3;
const TRANSFORM_VALUE: u8 = 0;
const TRANSFORM_DELTA: u8 = 1;
const TRANSFORM_DOD: u8 = 2;
const KNOWN_BITS: u8 = 0b1_1111;

/// Largest decimal exponent tried; 10^18 is exact in f64.
const MAX_DECIMAL_EXPONENT: usize = 18;
/// Integers are kept within ±2^61 so deltas and delta-of-deltas fit in 64-bit magnitudes.
const MAX_DECIMAL_INT: f64 = 2_305_843_009_213_693_952.0;

const POW10: [f64; MAX_DECIMAL_EXPONENT + 1] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];

/// What a chunk's header says without decoding the points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    pub n_samples: usize,
    pub sealed: bool,
}

/// Reads the header of encoded chunk bytes.
pub fn header(bytes: &[u8]) -> Result<ChunkHeader, CodecError> {
    let mut reader = Reader { bytes, pos: 0 };
    let flags = reader.byte()?;
    if flags & !KNOWN_BITS != 0 {
        return Err(CodecError::UnknownEncoding(flags));
    }
    let n_samples = usize::try_from(reader.varint()?).map_err(|_| CodecError::Corrupt("count"))?;
    if n_samples == 0 || n_samples > MAX_CHUNK_SAMPLES {
        return Err(CodecError::Corrupt("sample count"));
    }
    Ok(ChunkHeader {
        n_samples,
        sealed: flags & FLAG_SEALED != 0,
    })
}

/// Encodes points, appending to `out`.
///
/// Preconditions (the head guarantees them): `points` is non-empty, has at most
/// [`MAX_CHUNK_SAMPLES`] entries, and its timestamps strictly increase.
pub fn encode(points: &[(i64, f64)], sealed: bool, out: &mut Vec<u8>) {
    debug_assert!(!points.is_empty() && points.len() <= MAX_CHUNK_SAMPLES);
    debug_assert!(points.windows(2).all(|w| w[0].0 < w[1].0));
    let Some(&(_, first_value)) = points.first() else {
        return;
    };
    let sealed_flag = if sealed { FLAG_SEALED } else { 0 };
    let flags_at = out.len();
    out.push(0);
    put_varint(out, points.len() as u64);
    let ts_base = timestamp_base(points);
    if points.len() > 1 {
        put_varint(out, zigzag(ts_base));
    }

    let first_bits = first_value.to_bits();
    let values = Values::choose(points);
    let kind = match &values {
        Values::Constant if is_small_int(first_value) => {
            put_varint(out, zigzag(first_value as i64));
            KIND_CONSTANT_INT
        }
        Values::Constant => {
            out.extend_from_slice(&first_bits.to_le_bytes());
            KIND_CONSTANT_BITS
        }
        Values::Decimal(plan) => {
            out.push(plan.exponent as u8);
            put_varint(out, plan.factor);
            put_varint(out, zigzag(plan.a));
            put_varint(out, zigzag(plan.b));
            KIND_DECIMAL | (plan.transform << TRANSFORM_SHIFT)
        }
        Values::Xor => {
            out.extend_from_slice(&first_bits.to_le_bytes());
            KIND_XOR
        }
    };
    out[flags_at] = kind | sealed_flag;

    let start_len = out.len();
    let mut encoder = Encoder::new(out);
    let mut ts_model = IntModel::new();
    let mut value_model = IntModel::new();
    let mut xor_model = XorModel::new();
    let mut previous_ts = points[0].0;
    let mut previous_bits = first_bits;
    for (index, &(ts, value)) in points.iter().enumerate() {
        if index > 0 {
            let residual = i128::from(ts) - i128::from(previous_ts) - i128::from(ts_base);
            encode_i128(&mut ts_model, &mut encoder, residual);
            previous_ts = ts;
        }
        match &values {
            Values::Constant => {}
            Values::Decimal(plan) => {
                if let Some(residual) = plan.residual(index) {
                    encode_i128(&mut value_model, &mut encoder, residual);
                }
            }
            Values::Xor => {
                if index > 0 {
                    let bits = value.to_bits();
                    xor_model.encode(&mut encoder, bits ^ previous_bits);
                    previous_bits = bits;
                }
            }
        }
    }
    encoder.finish(start_len);
}

/// Decodes chunk bytes whose first timestamp (from the key) is `first_ts`, appending to `out`.
pub fn decode(first_ts: i64, bytes: &[u8], out: &mut Vec<(i64, f64)>) -> Result<(), CodecError> {
    let head = header(bytes)?;
    let mut reader = Reader { bytes, pos: 0 };
    let flags = reader.byte()?;
    let _ = reader.varint()?;
    let n = head.n_samples;
    let ts_base = if n > 1 { unzigzag(reader.varint()?) } else { 0 };
    let kind = flags & KIND_MASK;
    let transform = (flags >> TRANSFORM_SHIFT) & 0b11;
    let mut constant = 0f64;
    let mut exponent = 0usize;
    let (mut factor, mut a, mut b) = (1u64, 0i64, 0i64);
    let mut previous_bits = 0u64;
    match kind {
        KIND_CONSTANT_INT => constant = unzigzag(reader.varint()?) as f64,
        KIND_CONSTANT_BITS => constant = f64::from_bits(reader.u64_le()?),
        KIND_DECIMAL => {
            exponent = usize::from(reader.byte()?);
            if exponent > MAX_DECIMAL_EXPONENT || transform > TRANSFORM_DOD {
                return Err(CodecError::Corrupt("decimal header"));
            }
            factor = reader.varint()?;
            a = unzigzag(reader.varint()?);
            b = unzigzag(reader.varint()?);
        }
        _ => previous_bits = reader.u64_le()?,
    }

    let stream = &bytes[reader.pos..];
    let mut decoder = Decoder::new(stream);
    let mut ts_model = IntModel::new();
    let mut value_model = IntModel::new();
    let mut xor_model = XorModel::new();
    let factor = i128::from(factor);
    let mut ts = i128::from(first_ts);
    // Decimal state: the current integer and the current delta.
    let mut int = i128::from(a);
    let mut delta = i128::from(b);
    out.reserve(n);
    for index in 0..n {
        if index > 0 {
            let residual = decode_i128(&mut ts_model, &mut decoder);
            let step = residual + i128::from(ts_base);
            if step <= 0 {
                return Err(CodecError::Corrupt("timestamps not increasing"));
            }
            ts += step;
        }
        let ts_out = i64::try_from(ts).map_err(|_| CodecError::Corrupt("timestamp range"))?;
        let value = match kind {
            KIND_CONSTANT_INT | KIND_CONSTANT_BITS => constant,
            KIND_DECIMAL => {
                match transform {
                    TRANSFORM_VALUE => {
                        let residual = decode_i128(&mut value_model, &mut decoder);
                        int = scaled_add(i128::from(a), residual, factor)?;
                    }
                    TRANSFORM_DELTA => {
                        if index > 0 {
                            let residual = decode_i128(&mut value_model, &mut decoder);
                            int = scaled_add(int + i128::from(b), residual, factor)?;
                        }
                    }
                    _ => {
                        if index > 1 {
                            let residual = decode_i128(&mut value_model, &mut decoder);
                            delta = scaled_add(delta, residual, factor)?;
                        }
                        if index > 0 {
                            int = int
                                .checked_add(delta)
                                .ok_or(CodecError::Corrupt("decimal range"))?;
                        }
                    }
                }
                if int.unsigned_abs() > MAX_DECIMAL_INT as u128 {
                    return Err(CodecError::Corrupt("decimal range"));
                }
                int as i64 as f64 / POW10[exponent]
            }
            _ => {
                if index > 0 {
                    previous_bits ^= xor_model.decode(&mut decoder);
                }
                f64::from_bits(previous_bits)
            }
        };
        out.push((ts_out, value));
    }
    // Note that reading past the end is normal: trailing zero bytes are trimmed.
    Ok(())
}

/// `base + residual * factor`, or an error when that leaves the decimal range.
fn scaled_add(base: i128, residual: i128, factor: i128) -> Result<i128, CodecError> {
    residual
        .checked_mul(factor)
        .and_then(|step| base.checked_add(step))
        .filter(|sum| sum.unsigned_abs() <= MAX_DECIMAL_INT as u128)
        .ok_or(CodecError::Corrupt("decimal range"))
}

/// The value encoding chosen for a chunk.
enum Values {
    Constant,
    Decimal(DecimalPlan),
    Xor,
}

impl Values {
    fn choose(points: &[(i64, f64)]) -> Values {
        let first_bits = points[0].1.to_bits();
        if points.iter().all(|p| p.1.to_bits() == first_bits) {
            return Values::Constant;
        }
        match DecimalPlan::new(points) {
            Some(plan) => Values::Decimal(plan),
            None => Values::Xor,
        }
    }
}

/// Decimal values as integers, and how their residuals are formed.
///
/// `a` and `b` depend on the transform: value (`a` = centre, unused `b`), delta
/// (`a` = first integer, `b` = usual delta), delta-of-delta (`a` = first integer,
/// `b` = first delta).
struct DecimalPlan {
    exponent: usize,
    transform: u8,
    factor: u64,
    a: i64,
    b: i64,
    ints: Vec<i64>,
}

impl DecimalPlan {
    fn new(points: &[(i64, f64)]) -> Option<DecimalPlan> {
        let mut exponent = 0;
        for &(_, value) in points {
            while to_decimal(value, exponent).is_none() {
                exponent += 1;
                if exponent > MAX_DECIMAL_EXPONENT {
                    return None;
                }
            }
        }
        let ints = points
            .iter()
            .map(|&(_, value)| to_decimal(value, exponent))
            .collect::<Option<Vec<i64>>>()?;
        let n = ints.len();
        // Candidate transforms, scored by a rough bit count of their residuals.
        let value_plan = centred(&ints);
        let deltas: Vec<i128> = ints
            .windows(2)
            .map(|w| i128::from(w[1]) - i128::from(w[0]))
            .collect();
        let delta_plan = centred_i128(&deltas);
        let dods: Vec<i128> = deltas.windows(2).map(|w| w[1] - w[0]).collect();
        let dod_factor = gcd_all(dods.iter().copied());
        let mut best = (
            score(
                ints.iter()
                    .map(|&i| i128::from(i) - i128::from(value_plan.0)),
                value_plan.1,
            ),
            TRANSFORM_VALUE,
        );
        if n > 1 {
            let delta_score = score(
                deltas.iter().map(|&d| d - i128::from(delta_plan.0)),
                delta_plan.1,
            );
            if delta_score < best.0 {
                best = (delta_score, TRANSFORM_DELTA);
            }
            let dod_score = score(dods.iter().copied(), dod_factor);
            if dod_score < best.0 {
                best = (dod_score, TRANSFORM_DOD);
            }
        }
        let (a, b, factor) = match best.1 {
            TRANSFORM_VALUE => (value_plan.0, 0, value_plan.1),
            TRANSFORM_DELTA => (ints[0], delta_plan.0, delta_plan.1),
            _ => (ints[0], i64::try_from(deltas[0]).ok()?, dod_factor),
        };
        Some(DecimalPlan {
            exponent,
            transform: best.1,
            factor: u64::try_from(factor).ok()?,
            a,
            b,
            ints,
        })
    }

    /// The residual coded for sample `index`, if that sample codes one.
    fn residual(&self, index: usize) -> Option<i128> {
        let factor = i128::from(self.factor);
        let at = |i: usize| i128::from(self.ints[i]);
        match self.transform {
            TRANSFORM_VALUE => Some((at(index) - i128::from(self.a)) / factor),
            TRANSFORM_DELTA if index > 0 => {
                Some((at(index) - at(index - 1) - i128::from(self.b)) / factor)
            }
            TRANSFORM_DOD if index > 1 => {
                Some((at(index) - 2 * at(index - 1) + at(index - 2)) / factor)
            }
            _ => None,
        }
    }
}

/// The integer `i` with `i / 10^exponent == value` bit for bit, if there is one in range.
fn to_decimal(value: f64, exponent: usize) -> Option<i64> {
    let scaled = value * POW10[exponent];
    if scaled.is_nan() || scaled.abs() > MAX_DECIMAL_INT {
        return None;
    }
    let int = scaled.round() as i64;
    ((int as f64 / POW10[exponent]).to_bits() == value.to_bits()).then_some(int)
}

/// A centre for `values` that keeps their residuals multiples of their common factor, and
/// that factor.
fn centred(values: &[i64]) -> (i64, i128) {
    let wide: Vec<i128> = values.iter().map(|&v| i128::from(v)).collect();
    centred_i128(&wide)
}

fn centred_i128(values: &[i128]) -> (i64, i128) {
    let Some(&first) = values.first() else {
        return (0, 1);
    };
    let factor = gcd_all(values.iter().map(|&v| v - first));
    let sum: i128 = values.iter().sum();
    let mean = sum / values.len() as i128;
    let centre = first + (mean - first) / factor * factor;
    // The centre lies between the smallest and largest value, so it fits in i64.
    (i64::try_from(centre).unwrap_or(0), factor)
}

fn gcd_all(values: impl Iterator<Item = i128>) -> i128 {
    let mut g: u128 = 0;
    for v in values {
        let mut a = g;
        let mut b = v.unsigned_abs();
        while b != 0 {
            (a, b) = (b, a % b);
        }
        g = a;
        if g == 1 {
            break;
        }
    }
    if g == 0 {
        1
    } else {
        i128::try_from(g).unwrap_or(1)
    }
}

/// A rough cost in bits of coding `residuals / factor`.
fn score(residuals: impl Iterator<Item = i128>, factor: i128) -> u64 {
    let header = 64 - (factor.unsigned_abs() as u64).leading_zeros();
    residuals
        .map(|r| {
            let magnitude = (r / factor).unsigned_abs();
            if magnitude == 0 {
                1
            } else {
                4 + u64::from(128 - magnitude.leading_zeros())
            }
        })
        .sum::<u64>()
        + u64::from(header)
}

/// The usual step between timestamps: the most frequent of the first three deltas (0 when
/// they do not fit in an i64, which keeps every residual within 64 bits).
fn timestamp_base(points: &[(i64, f64)]) -> i64 {
    let deltas = || {
        points
            .windows(2)
            .map(|w| w[1].0.checked_sub(w[0].0).unwrap_or(0))
    };
    let mut best = (0usize, 0i64);
    for candidate in deltas().take(3) {
        let count = deltas().filter(|&d| d == candidate).count();
        if count > best.0 {
            best = (count, candidate);
        }
    }
    best.1
}

fn is_small_int(value: f64) -> bool {
    value.fract() == 0.0
        && value.abs() < 9.0e15
        && (value as i64 as f64).to_bits() == value.to_bits()
}

fn encode_i128(model: &mut IntModel, encoder: &mut Encoder<'_>, residual: i128) {
    let magnitude = u64::try_from(residual.unsigned_abs()).unwrap_or(u64::MAX);
    model.encode(encoder, residual < 0, magnitude);
}

fn decode_i128(model: &mut IntModel, decoder: &mut Decoder<'_>) -> i128 {
    let (negative, magnitude) = model.decode(decoder);
    let magnitude = i128::from(magnitude);
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

pub(crate) fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

pub(crate) fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A bounds-checked cursor over bytes.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl Reader<'_> {
    pub(crate) fn byte(&mut self) -> Result<u8, CodecError> {
        let byte = *self.bytes.get(self.pos).ok_or(CodecError::Truncated)?;
        self.pos += 1;
        Ok(byte)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, CodecError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(CodecError::Corrupt("varint too long"))
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64, CodecError> {
        let slice = self
            .bytes
            .get(self.pos..self.pos + 8)
            .ok_or(CodecError::Truncated)?;
        self.pos += 8;
        let mut array = [0u8; 8];
        array.copy_from_slice(slice);
        Ok(u64::from_le_bytes(array))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}
