//! Python's arbitrary-precision `int`, as far as the writer needs it.

use std::fmt;
use std::str::FromStr;

use crate::text::{encode_long, minimal_twos};

/// CPython 3.11 refuses to convert longer decimal strings (`sys.int_info`'s
/// `default_max_str_digits`), so `json.loads` and `int()` fail on them too.
pub const MAX_DECIMAL_DIGITS: usize = 4300;

/// A Python `int` of any size.
///
/// Values that fit `i64` are kept as such; larger ones as the minimal little-endian two's
/// complement bytes CPython's pickler writes for them (`LONG1`/`LONG4`), so two equal ints
/// always compare equal.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyInt(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Small(i64),
    /// Minimal two's complement, never a value that fits `i64`.
    Big(Vec<u8>),
}

/// Why a decimal string is not an int.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseIntError {
    /// Not an optional sign followed by ASCII digits.
    #[error("not a decimal integer")]
    Invalid,
    /// More digits than CPython converts by default.
    #[error("more than {MAX_DECIMAL_DIGITS} digits")]
    TooLong,
}

impl PyInt {
    /// The int whose two's complement little-endian bytes are `bytes` (any length; empty
    /// is zero), as `int.from_bytes(bytes, 'little', signed=True)`.
    pub fn from_le_twos(bytes: &[u8]) -> PyInt {
        let v = minimal_twos(bytes.to_vec());
        if v.len() > 8 {
            return PyInt(Repr::Big(v));
        }
        let fill = if v.last().is_some_and(|b| b & 0x80 != 0) {
            0xff
        } else {
            0x00
        };
        let mut buf = [fill; 8];
        buf[..v.len()].copy_from_slice(&v);
        PyInt(Repr::Small(i64::from_le_bytes(buf)))
    }

    /// The minimal two's complement little-endian bytes (empty for zero), the payload of
    /// CPython's `LONG1`/`LONG4`.
    pub fn to_le_twos(&self) -> Vec<u8> {
        match &self.0 {
            Repr::Small(i) => encode_long(*i),
            Repr::Big(b) => b.clone(),
        }
    }

    /// The value, when it fits `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            Repr::Small(i) => Some(i),
            Repr::Big(_) => None,
        }
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        match &self.0 {
            Repr::Small(i) => *i < 0,
            Repr::Big(b) => b.last().is_some_and(|x| x & 0x80 != 0),
        }
    }
}

impl From<i64> for PyInt {
    fn from(v: i64) -> Self {
        PyInt(Repr::Small(v))
    }
}

impl From<i128> for PyInt {
    fn from(v: i128) -> Self {
        PyInt::from_le_twos(&v.to_le_bytes())
    }
}

impl From<u128> for PyInt {
    fn from(v: u128) -> Self {
        let mut bytes = v.to_le_bytes().to_vec();
        bytes.push(0);
        PyInt::from_le_twos(&bytes)
    }
}

macro_rules! via_i64 {
    ($($t:ty),*) => {$(
        impl From<$t> for PyInt {
            fn from(v: $t) -> Self {
                PyInt(Repr::Small(i64::from(v)))
            }
        }
    )*};
}

via_i64!(i8, i16, i32, u8, u16, u32);

impl From<u64> for PyInt {
    fn from(v: u64) -> Self {
        PyInt::from(u128::from(v))
    }
}

impl From<usize> for PyInt {
    fn from(v: usize) -> Self {
        PyInt::from(v as u128)
    }
}

impl From<isize> for PyInt {
    fn from(v: isize) -> Self {
        PyInt::from(v as i128)
    }
}

/// Little-endian base 2^32 limbs of an unsigned magnitude.
type Limbs = Vec<u32>;

fn limbs_from_le_bytes(bytes: &[u8]) -> Limbs {
    bytes
        .chunks(4)
        .map(|c| {
            let mut b = [0u8; 4];
            b[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(b)
        })
        .collect()
}

/// Two's complement negation in place (`!x + 1`), over the given width.
fn negate(bytes: &mut [u8]) {
    let mut carry = true;
    for b in bytes.iter_mut() {
        let (v, c) = (!*b).overflowing_add(u8::from(carry));
        *b = v;
        carry = c;
    }
}

impl FromStr for PyInt {
    type Err = ParseIntError;

    /// An optional `+`/`-` and ASCII digits, as JSON and `int()` spell ints (without the
    /// underscores and surrounding spaces `int()` also takes).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (negative, digits) = match text.as_bytes() {
            [b'-', rest @ ..] => (true, rest),
            [b'+', rest @ ..] => (false, rest),
            rest => (false, rest),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(ParseIntError::Invalid);
        }
        if digits.len() > MAX_DECIMAL_DIGITS {
            return Err(ParseIntError::TooLong);
        }
        if digits.len() <= 18 {
            let v = digits
                .iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
            return Ok(PyInt::from(if negative { -v } else { v }));
        }
        let mut limbs: Limbs = Vec::new();
        for chunk in digits.chunks(9) {
            let mut mul: u64 = 1;
            let mut add: u64 = 0;
            for d in chunk {
                mul *= 10;
                add = add * 10 + u64::from(d - b'0');
            }
            let mut carry = add;
            for limb in limbs.iter_mut() {
                let t = u64::from(*limb) * mul + carry;
                *limb = t as u32;
                carry = t >> 32;
            }
            if carry != 0 {
                limbs.push(carry as u32);
            }
        }
        let mut bytes: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
        // Room for the sign bit.
        bytes.push(0);
        if negative {
            negate(&mut bytes);
        }
        Ok(PyInt::from_le_twos(&bytes))
    }
}

impl fmt::Display for PyInt {
    /// Decimal, as Python's `str(int)` and `repr(int)` write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = match &self.0 {
            Repr::Small(i) => return write!(f, "{i}"),
            Repr::Big(b) => b,
        };
        let mut magnitude = bytes.clone();
        let negative = self.is_negative();
        if negative {
            negate(&mut magnitude);
        }
        let mut limbs = limbs_from_le_bytes(&magnitude);
        // Base 10^9 digits, least significant first.
        let mut chunks = Vec::new();
        while limbs.iter().any(|&l| l != 0) {
            let mut rem: u64 = 0;
            for limb in limbs.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            chunks.push(rem as u32);
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
        }
        let mut out = String::new();
        if negative {
            out.push('-');
        }
        let mut iter = chunks.iter().rev();
        if let Some(first) = iter.next() {
            out.push_str(&first.to_string());
        }
        for chunk in iter {
            out.push_str(&format!("{chunk:09}"));
        }
        f.write_str(&out)
    }
}

impl fmt::Debug for PyInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PyInt({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_big_values_round_trip_through_text() {
        for text in [
            "0",
            "-1",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "-9223372036854775809",
            "1180591620717411303424",
            "-1180591620717411303424",
            "340282366920938463463374607431768211455",
            "123456789012345678901234567890123456789012345678901234567890",
        ] {
            let v: PyInt = text.parse().unwrap();
            assert_eq!(v.to_string(), text);
            assert_eq!(PyInt::from_le_twos(&v.to_le_twos()), v, "{text}");
        }
        assert_eq!("+42".parse::<PyInt>().unwrap(), PyInt::from(42));
        assert_eq!("007".parse::<PyInt>().unwrap().to_string(), "7");
    }

    #[test]
    fn encodings_match_cpython() {
        // 2**70 and -2**70, as pickle.dumps writes them after LONG1 <len>.
        let pos: PyInt = "1180591620717411303424".parse().unwrap();
        assert_eq!(pos.to_le_twos(), [0, 0, 0, 0, 0, 0, 0, 0, 0x40]);
        let neg: PyInt = "-1180591620717411303424".parse().unwrap();
        assert_eq!(neg.to_le_twos(), [0, 0, 0, 0, 0, 0, 0, 0, 0xc0]);
        assert_eq!(
            PyInt::from(u64::MAX).to_le_twos(),
            [0xff; 8].iter().copied().chain([0]).collect::<Vec<_>>()
        );
        assert_eq!(PyInt::from(i128::MIN).to_string(), i128::MIN.to_string());
        assert_eq!(PyInt::from(u128::MAX).to_string(), u128::MAX.to_string());
        assert!(PyInt::from(i128::MIN).is_negative());
        assert_eq!(PyInt::from(5u64).as_i64(), Some(5));
    }

    #[test]
    fn bad_text_is_refused() {
        for bad in ["", "-", "1.0", "1e3", " 1", "1_000", "0x10", "١"] {
            assert_eq!(bad.parse::<PyInt>(), Err(ParseIntError::Invalid), "{bad:?}");
        }
        let long = "9".repeat(MAX_DECIMAL_DIGITS + 1);
        assert_eq!(long.parse::<PyInt>(), Err(ParseIntError::TooLong));
        assert!("9".repeat(MAX_DECIMAL_DIGITS).parse::<PyInt>().is_ok());
    }
}
