//! The generator's random numbers: SplitMix64, seeded per event, and the few draws the model
//! needs (bounded integers, unit doubles, letters, Beam's price curve).
//!
//! # Algorithm
//! SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014;
//! the constants are Stafford's "Mix13" variant used by `java.util.SplittableRandom`): the state
//! advances by the golden-ratio gamma `0x9E3779B97F4A7C15` and each output is the state passed
//! through the [`mix64`] finalizer. It is tiny (one `u64`), fast (a few multiplies per output),
//! passes BigCrush, and, being specified here in a dozen lines of integer arithmetic, gives the
//! same numbers on every platform and every future version of this crate.
//!
//! Event `n` starts from its own state `mix64(mix64(seed) ^ mix64(n + gamma))`, so events are
//! independent of each other and of the order or thread they are generated in.
//!
//! Bounded integers use Lemire's multiply-shift (`(x * bound) >> 64`), whose bias is below
//! `bound / 2^64`, far under anything a benchmark can observe. Floating point uses only IEEE
//! basic operations (no libm), so it is deterministic too.

/// The SplitMix64 increment: `2^64 / φ`, odd.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function (Stafford's Mix13): a bijective, strongly avalanching mixer
/// of 64-bit values.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Characters are drawn four per 64-bit output, one per 16-bit chunk `c`, as
/// `(c * range) >> 16`: for 26 letters each gets 2520 or 2521 of the 65536 chunk values (bias
/// below 0.05%), for Beam's 338 (= 13 * 26) letter-or-separator values 193 or 194 (0.5%).
const CHARS_PER_DRAW: usize = 4;

/// A letter or, one time in 13, `separator`, from a 16-bit chunk.
#[inline]
pub(crate) fn spaced_char(chunk: u64, separator: u8) -> u8 {
    let value = (chunk * 338) >> 16;
    if value < 26 {
        separator
    } else {
        b'a' + (value % 26) as u8
    }
}

/// A SplitMix64 generator.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator with the given initial state.
    pub(crate) fn new(state: u64) -> Self {
        SplitMix64 { state }
    }

    /// The generator of event `n` under the (already mixed) base seed `base`.
    #[inline]
    pub(crate) fn for_event(base: u64, n: u64) -> Self {
        SplitMix64 { state: mix64(base ^ mix64(n.wrapping_add(GAMMA))) }
    }

    /// The next 64 random bits.
    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix64(self.state)
    }

    /// A number in `0..bound` (`0` when `bound` is 0 or 1).
    #[inline]
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// A double in `[0, 1)` with 53 random bits.
    #[inline]
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Fills `bytes` with `map(chunk)` of random 16-bit chunks, four per draw.
    #[inline]
    pub(crate) fn fill(&mut self, bytes: &mut [u8], map: impl Fn(u64) -> u8) {
        let mut chunks = bytes.chunks_exact_mut(CHARS_PER_DRAW);
        for chunk in &mut chunks {
            let bits = self.next_u64();
            for (index, byte) in chunk.iter_mut().enumerate() {
                *byte = map((bits >> (16 * index)) & 0xFFFF);
            }
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let bits = self.next_u64();
            for (index, byte) in rest.iter_mut().enumerate() {
                *byte = map((bits >> (16 * index)) & 0xFFFF);
            }
        }
    }

    /// `len` random letters `a..=z` (Beam's `nextExactString`).
    pub(crate) fn letters(&mut self, len: usize) -> String {
        let mut bytes = vec![0u8; len];
        self.fill(&mut bytes, |chunk| b'a' + ((chunk * 26) >> 16) as u8);
        String::from_utf8(bytes).expect("letters are ASCII")
    }

    /// Appends Beam's `nextString(maxLength)` (`max_len` at most 128): `3 + below(max_len - 3)`
    /// characters, each the ASCII `separator` with probability 1/13 and a letter otherwise.
    /// With `trim`, leading and trailing separators are dropped (Beam trims its
    /// space-separated strings).
    pub(crate) fn push_spaced(&mut self, out: &mut String, max_len: u64, separator: u8, trim: bool) {
        let mut buffer = [0u8; 128];
        let len = 3 + self.below(max_len.min(128) - 3) as usize;
        let text = &mut buffer[..len];
        self.fill(text, |chunk| spaced_char(chunk, separator));
        let mut text: &[u8] = text;
        if trim {
            while let [first, rest @ ..] = text {
                if *first != separator {
                    break;
                }
                text = rest;
            }
            while let [rest @ .., last] = text {
                if *last != separator {
                    break;
                }
                text = rest;
            }
        }
        out.push_str(std::str::from_utf8(text).expect("ASCII"));
    }

    /// Beam's `nextPrice`: `round(10^(6u) * 100)` cents for `u` uniform in `[0, 1)`, a
    /// log-uniform price from $1 to $1,000,000.
    #[inline]
    pub(crate) fn price(&mut self) -> u64 {
        // Adding 1/2 and truncating rounds these positive values as `f64::round` does, without
        // a libm call.
        (exp10(self.unit() * 6.0) * 100.0 + 0.5) as u64
    }
}

/// `1 / k!` for `k` in `0..=11`: the Taylor coefficients of `e^z`.
const EXP_COEFFICIENTS: [f64; 12] = {
    let mut coefficients = [1.0; 12];
    let mut k = 1;
    while k < 12 {
        coefficients[k] = coefficients[k - 1] / k as f64;
        k += 1;
    }
    coefficients
};

/// `10^x` for `0 <= x < 300`, from IEEE additions and multiplications only, so that it is the
/// same on every platform (libm's `pow` may differ in the last bit between systems). Relative
/// error below 1e-13.
fn exp10(x: f64) -> f64 {
    use std::f64::consts::{LN_2, LOG2_10, SQRT_2};
    let y = x * LOG2_10;
    // Truncation is floor for these non-negative values, without a libm call.
    let whole = (y as i64) as f64;
    // 2^frac = sqrt(2) * e^z with z = (frac - 1/2) * ln 2 in [-0.35, 0.35): Taylor series to
    // z^11 / 11!, truncation error below 3e-14.
    let z = (y - whole - 0.5) * LN_2;
    let mut sum = EXP_COEFFICIENTS[11];
    for k in (0..11).rev() {
        sum = sum * z + EXP_COEFFICIENTS[k];
    }
    // Multiply by 2^whole exactly, through the exponent bits.
    SQRT_2 * sum * f64::from_bits(((1023 + whole as i64) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp10_is_accurate() {
        for i in 0..6000 {
            let x = i as f64 / 1000.0;
            let expected = 10f64.powf(x);
            assert!(((exp10(x) - expected) / expected).abs() < 1e-13, "x = {x}");
        }
        assert!((exp10(0.0) - 1.0).abs() < 1e-13);
        assert!((exp10(2.0) - 100.0).abs() < 1e-11);
    }

    #[test]
    fn letters_are_uniform() {
        let mut rng = SplitMix64::new(7);
        let text = rng.letters(260_000);
        assert_eq!(text.len(), 260_000);
        for letter in b'a'..=b'z' {
            let count = text.bytes().filter(|&b| b == letter).count();
            assert!((9_500..10_500).contains(&count), "{} appears {count} times", letter as char);
        }
    }

    #[test]
    fn spaced_strings_follow_beam() {
        let mut rng = SplitMix64::new(11);
        let mut separators = 0;
        let mut chars = 0;
        for _ in 0..10_000 {
            let mut text = String::new();
            rng.push_spaced(&mut text, 20, b' ', true);
            assert!(text.len() < 20);
            assert!(!text.starts_with(' ') && !text.ends_with(' '));
            let mut raw = String::new();
            rng.push_spaced(&mut raw, 20, b'_', false);
            assert!((3..20).contains(&raw.len()));
            separators += raw.bytes().filter(|&b| b == b'_').count();
            chars += raw.len();
        }
        let share = separators as f64 / chars as f64;
        assert!((share - 1.0 / 13.0).abs() < 0.005, "separator share {share}");
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = SplitMix64::new(3);
        let mut seen = [0u32; 7];
        for _ in 0..70_000 {
            seen[rng.below(7) as usize] += 1;
        }
        assert!(seen.iter().all(|&count| (9_000..11_000).contains(&count)), "{seen:?}");
        let mut separators = 0;
        for chunk in 0..65_536 {
            separators += u32::from(spaced_char(chunk, b'_') == b'_');
        }
        assert!((5_000..5_050).contains(&separators), "{separators} of 65536 chunks");
        assert_eq!(rng.below(1), 0);
        assert_eq!(rng.below(0), 0);
    }
}
