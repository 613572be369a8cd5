//! A binary adaptive range coder (the LZMA design) and the small models built on it.
//!
//! This is the entropy-coding back end of the chunk codec. It is pure: bytes in, bytes out.
//! The decoder never panics on garbage input; bytes past the end read as zero and are
//! counted, so the caller can reject a stream that was read far past its end.

/// Probabilities are 11-bit fixed point.
const PROB_BITS: u32 = 11;
const PROB_ONE: u16 = 1 << PROB_BITS;
/// Adaptation speed: a shift of 4 learns quickly, which suits chunks of a few hundred samples.
const MOVE_BITS: u32 = 4;
const TOP: u32 = 1 << 24;

/// An adaptive probability that the next bit is 0.
#[derive(Clone, Copy)]
pub(crate) struct Bit(u16);

impl Bit {
    pub(crate) const NEW: Bit = Bit(PROB_ONE / 2);
}

/// Writes range-coded bits.
pub(crate) struct Encoder<'a> {
    low: u64,
    range: u32,
    cache: u8,
    cache_size: u64,
    /// The first byte the LZMA scheme emits is always 0; it is dropped.
    first: bool,
    out: &'a mut Vec<u8>,
}

impl<'a> Encoder<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Encoder<'a> {
        Encoder {
            low: 0,
            range: u32::MAX,
            cache: 0,
            cache_size: 1,
            first: true,
            out,
        }
    }

    fn shift_low(&mut self) {
        if (self.low as u32) < 0xFF00_0000 || (self.low >> 32) != 0 {
            let carry = (self.low >> 32) as u8;
            let mut temp = self.cache;
            loop {
                if self.first {
                    self.first = false;
                } else {
                    self.out.push(temp.wrapping_add(carry));
                }
                temp = 0xFF;
                self.cache_size -= 1;
                if self.cache_size == 0 {
                    break;
                }
            }
            self.cache = ((self.low >> 24) & 0xFF) as u8;
        }
        self.cache_size += 1;
        self.low = (self.low & 0x00FF_FFFF) << 8;
    }

    pub(crate) fn bit(&mut self, prob: &mut Bit, bit: bool) {
        let bound = (self.range >> PROB_BITS) * u32::from(prob.0);
        if bit {
            self.low += u64::from(bound);
            self.range -= bound;
            prob.0 -= prob.0 >> MOVE_BITS;
        } else {
            self.range = bound;
            prob.0 += (PROB_ONE - prob.0) >> MOVE_BITS;
        }
        while self.range < TOP {
            self.range <<= 8;
            self.shift_low();
        }
    }

    /// Writes the low `n_bits` of `value`, most significant first, each with probability 1/2.
    pub(crate) fn direct(&mut self, value: u64, n_bits: u32) {
        for shift in (0..n_bits).rev() {
            self.range >>= 1;
            if (value >> shift) & 1 == 1 {
                self.low += u64::from(self.range);
            }
            while self.range < TOP {
                self.range <<= 8;
                self.shift_low();
            }
        }
    }

    /// Ends the stream. The final value is chosen with as many trailing zero bits as the
    /// interval allows, and trailing zero bytes are dropped (the decoder reads them back as 0).
    pub(crate) fn finish(mut self, start_len: usize) {
        let high = self.low + u64::from(self.range);
        for k in (0..=32u32).rev() {
            let mask = (1u64 << k) - 1;
            let candidate = (self.low + mask) & !mask;
            if candidate < high {
                self.low = candidate;
                break;
            }
        }
        for _ in 0..5 {
            self.shift_low();
        }
        while self.out.len() > start_len && self.out.last() == Some(&0) {
            self.out.pop();
        }
    }
}

/// Reads range-coded bits.
pub(crate) struct Decoder<'a> {
    code: u32,
    range: u32,
    input: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Decoder<'a> {
        let mut decoder = Decoder {
            code: 0,
            range: u32::MAX,
            input,
            pos: 0,
        };
        for _ in 0..4 {
            decoder.code = (decoder.code << 8) | u32::from(decoder.next_byte());
        }
        decoder
    }

    fn next_byte(&mut self) -> u8 {
        let byte = self.input.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        byte
    }

    pub(crate) fn bit(&mut self, prob: &mut Bit) -> bool {
        let bound = (self.range >> PROB_BITS) * u32::from(prob.0);
        let bit = if self.code < bound {
            self.range = bound;
            prob.0 += (PROB_ONE - prob.0) >> MOVE_BITS;
            false
        } else {
            self.code -= bound;
            self.range -= bound;
            prob.0 -= prob.0 >> MOVE_BITS;
            true
        };
        while self.range < TOP {
            self.range <<= 8;
            self.code = (self.code << 8) | u32::from(self.next_byte());
        }
        bit
    }

    pub(crate) fn direct(&mut self, n_bits: u32) -> u64 {
        let mut value = 0u64;
        for _ in 0..n_bits {
            self.range >>= 1;
            // Branch-free, as LZMA decodes direct bits: these bits are random, so a branch
            // mispredicts half the time. Subtract the range and add it back when the result
            // went negative (code < range). In a valid stream code < 2 * range here, so the
            // sign bit is exact; a damaged one decodes to garbage, never to a panic.
            self.code = self.code.wrapping_sub(self.range);
            let below = 0u32.wrapping_sub(self.code >> 31);
            self.code = self.code.wrapping_add(self.range & below);
            value = (value << 1) | u64::from(below.wrapping_add(1));
            while self.range < TOP {
                self.range <<= 8;
                self.code = (self.code << 8) | u32::from(self.next_byte());
            }
        }
        value
    }
}

/// A binary tree of adaptive bits coding a symbol of `N_BITS` bits (`2^N_BITS - 1` nodes used).
#[derive(Clone)]
pub(crate) struct BitTree<const N: usize> {
    probs: [Bit; N],
}

impl<const N: usize> BitTree<N> {
    pub(crate) fn new() -> Self {
        BitTree {
            probs: [Bit::NEW; N],
        }
    }

    /// The number of bits of a symbol: `N` is `2^bits`.
    const BITS: u32 = N.trailing_zeros();

    pub(crate) fn encode(&mut self, encoder: &mut Encoder<'_>, symbol: u32) {
        let mut node = 1usize;
        for shift in (0..Self::BITS).rev() {
            let bit = (symbol >> shift) & 1 == 1;
            encoder.bit(&mut self.probs[node], bit);
            node = (node << 1) | usize::from(bit);
        }
    }

    pub(crate) fn decode(&mut self, decoder: &mut Decoder<'_>) -> u32 {
        let mut node = 1usize;
        for _ in 0..Self::BITS {
            let bit = decoder.bit(&mut self.probs[node]);
            node = (node << 1) | usize::from(bit);
        }
        (node - N) as u32
    }
}

/// Codes signed integer residuals: a zero flag, a sign, the bit length of the magnitude, the
/// two bits below the leading one with context, and the rest as direct bits.
pub(crate) struct IntModel {
    zero: [Bit; 3],
    sign: [Bit; 3],
    length: [BitTree<64>; 2],
    mantissa: [[Bit; 4]; 65],
    previous: u8,
    previous_long: usize,
}

impl IntModel {
    pub(crate) fn new() -> IntModel {
        IntModel {
            zero: [Bit::NEW; 3],
            sign: [Bit::NEW; 3],
            length: [BitTree::new(), BitTree::new()],
            mantissa: [[Bit::NEW; 4]; 65],
            previous: 0,
            previous_long: 0,
        }
    }

    /// Encodes a residual given as sign and magnitude (the magnitude may use all 64 bits).
    pub(crate) fn encode(&mut self, encoder: &mut Encoder<'_>, negative: bool, magnitude: u64) {
        let context = usize::from(self.previous);
        encoder.bit(&mut self.zero[context], magnitude != 0);
        if magnitude == 0 {
            self.previous = 0;
            return;
        }
        encoder.bit(&mut self.sign[context], negative);
        let length = 64 - magnitude.leading_zeros();
        self.length[self.previous_long].encode(encoder, length - 1);
        self.encode_mantissa(encoder, magnitude, length);
        self.previous = if negative { 2 } else { 1 };
        self.previous_long = usize::from(length > 8);
    }

    fn encode_mantissa(&mut self, encoder: &mut Encoder<'_>, magnitude: u64, length: u32) {
        let below = length - 1;
        let probs = &mut self.mantissa[length as usize];
        if below >= 1 {
            let first = (magnitude >> (below - 1)) & 1 == 1;
            encoder.bit(&mut probs[0], first);
            if below >= 2 {
                let second = (magnitude >> (below - 2)) & 1 == 1;
                encoder.bit(&mut probs[1 + usize::from(first)], second);
                encoder.direct(magnitude, below - 2);
            }
        }
    }

    /// Decodes a residual as sign and magnitude.
    pub(crate) fn decode(&mut self, decoder: &mut Decoder<'_>) -> (bool, u64) {
        let context = usize::from(self.previous);
        if !decoder.bit(&mut self.zero[context]) {
            self.previous = 0;
            return (false, 0);
        }
        let negative = decoder.bit(&mut self.sign[context]);
        let length = self.length[self.previous_long].decode(decoder) + 1;
        let below = length - 1;
        let probs = &mut self.mantissa[length as usize];
        let mut magnitude = 1u64;
        if below >= 1 {
            let first = decoder.bit(&mut probs[0]);
            magnitude = (magnitude << 1) | u64::from(first);
            if below >= 2 {
                let second = decoder.bit(&mut probs[1 + usize::from(first)]);
                magnitude = (magnitude << 1) | u64::from(second);
                let rest = decoder.direct(below - 2);
                magnitude = (magnitude << (below - 2)) | rest;
            }
        }
        self.previous = if negative { 2 } else { 1 };
        self.previous_long = usize::from(length > 8);
        (negative, magnitude)
    }
}

/// Codes raw f64 bit patterns as the XOR with the previous value (Gorilla's idea), with the
/// leading and trailing zero counts range-coded.
pub(crate) struct XorModel {
    same: [Bit; 2],
    leading: BitTree<64>,
    trailing: BitTree<64>,
    previous_same: usize,
}

impl XorModel {
    pub(crate) fn new() -> XorModel {
        XorModel {
            same: [Bit::NEW; 2],
            leading: BitTree::new(),
            trailing: BitTree::new(),
            previous_same: 0,
        }
    }

    pub(crate) fn encode(&mut self, encoder: &mut Encoder<'_>, xor: u64) {
        encoder.bit(&mut self.same[self.previous_same], xor != 0);
        self.previous_same = usize::from(xor == 0);
        if xor == 0 {
            return;
        }
        let leading = xor.leading_zeros();
        let trailing = xor.trailing_zeros();
        self.leading.encode(encoder, leading);
        self.trailing.encode(encoder, trailing);
        let length = 64 - leading - trailing;
        // The outermost meaningful bits are 1 by definition.
        if length > 2 {
            encoder.direct(xor >> (trailing + 1), length - 2);
        }
    }

    pub(crate) fn decode(&mut self, decoder: &mut Decoder<'_>) -> u64 {
        let changed = decoder.bit(&mut self.same[self.previous_same]);
        self.previous_same = usize::from(!changed);
        if !changed {
            return 0;
        }
        let leading = self.leading.decode(decoder);
        let trailing = self.trailing.decode(decoder);
        let length = 64u32.saturating_sub(leading + trailing);
        match length {
            0 => 0,
            1 => 1u64 << trailing,
            _ => {
                let middle = decoder.direct(length - 2);
                let top = 1u64 << (length - 1);
                ((top | (middle << 1) | 1) & mask(length)) << trailing
            }
        }
    }
}

fn mask(length: u32) -> u64 {
    if length >= 64 {
        u64::MAX
    } else {
        (1u64 << length) - 1
    }
}
