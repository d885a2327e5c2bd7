//! [`PyValue`]: the Python values the writer pickles, and their `repr`.

use std::fmt::Write as _;

use crate::PyInt;

/// A Python value made of the built-in types a job's arguments and meta usually hold.
///
/// Build one with the `From` conversions (`PyValue::from(3)`, `"text".into()`,
/// `None::<i64>.into()`) and the container constructors ([`PyValue::list`],
/// [`PyValue::tuple`], [`PyValue::dict`], [`PyValue::bytes`]); pickle it with
/// [`dumps`](crate::dumps).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PyValue {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int` of any size.
    Int(PyInt),
    /// A `float` (its bits are kept: `-0.0` and NaN payloads survive).
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `bytes`.
    Bytes(Vec<u8>),
    /// A `list`.
    List(Vec<PyValue>),
    /// A `tuple`.
    Tuple(Vec<PyValue>),
    /// A `dict`, in insertion order. Keys must be hashable (not a list or dict, nor a
    /// tuple holding one); keys that compare equal in Python collapse into one entry when
    /// Python loads the dict, as in a dict display.
    Dict(Vec<(PyValue, PyValue)>),
}

impl PyValue {
    /// A `bytes` value.
    pub fn bytes(b: impl Into<Vec<u8>>) -> PyValue {
        PyValue::Bytes(b.into())
    }

    /// A `list` of the items.
    pub fn list<I: IntoIterator<Item = T>, T: Into<PyValue>>(items: I) -> PyValue {
        PyValue::List(items.into_iter().map(Into::into).collect())
    }

    /// A `tuple` of the items.
    pub fn tuple<I: IntoIterator<Item = T>, T: Into<PyValue>>(items: I) -> PyValue {
        PyValue::Tuple(items.into_iter().map(Into::into).collect())
    }

    /// A `dict` of the pairs, in order.
    pub fn dict<I, K, V>(pairs: I) -> PyValue
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<PyValue>,
        V: Into<PyValue>,
    {
        PyValue::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// Whether Python can use the value as a dict key.
    pub fn is_hashable(&self) -> bool {
        match self {
            PyValue::List(_) | PyValue::Dict(_) => false,
            PyValue::Tuple(items) => items.iter().all(PyValue::is_hashable),
            _ => true,
        }
    }

    /// Python's `repr()` of the value, e.g. `{'k': (1, b'\x00')}`.
    ///
    /// Exactly CPython's for every value, except for a `str` holding code points that are
    /// unassigned in Python's Unicode database (CPython escapes them, this writes them as
    /// they are): which ones those are depends on the Python version.
    pub fn repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            PyValue::None => out.push_str("None"),
            PyValue::Bool(true) => out.push_str("True"),
            PyValue::Bool(false) => out.push_str("False"),
            PyValue::Int(i) => {
                let _ = write!(out, "{i}");
            }
            PyValue::Float(f) => out.push_str(&float_repr(*f)),
            PyValue::Str(s) => str_repr(s, out),
            PyValue::Bytes(b) => bytes_repr(b, out),
            PyValue::List(items) => {
                out.push('[');
                join(items, out);
                out.push(']');
            }
            PyValue::Tuple(items) => {
                out.push('(');
                join(items, out);
                if items.len() == 1 {
                    out.push(',');
                }
                out.push(')');
            }
            PyValue::Dict(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    k.write_repr(out);
                    out.push_str(": ");
                    v.write_repr(out);
                }
                out.push('}');
            }
        }
    }
}

fn join(items: &[PyValue], out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        item.write_repr(out);
    }
}

/// `repr(float)`: the shortest digits that round-trip, in positional notation for
/// decimal exponents from -4 to 16 and in scientific notation (two exponent digits at
/// least) outside, as CPython's `float_repr_style == 'short'` does.
pub(crate) fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust's `{:e}` prints a shortest round-tripping digit string ("d.ddde<exp>"), but
    // where several of that length round-trip it may not pick the nearest, as Python's
    // dtoa does; the correctly rounded one of the same length (ties to even, like dtoa)
    // is that nearest one whenever it round-trips.
    let shortest = format!("{:e}", x.abs());
    let len = shortest
        .split_once('e')
        .map_or(1, |(m, _)| m.chars().filter(char::is_ascii_digit).count());
    let nearest = format!("{:.*e}", len.saturating_sub(1), x.abs());
    let sci = if nearest.parse::<f64>().ok() == Some(x.abs()) {
        nearest
    } else {
        shortest
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    // Position of the decimal point relative to the digits, as in Python's dtoa.
    let decpt = exp + 1;
    let mut out = String::new();
    if x.is_sign_negative() {
        out.push('-');
    }
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        let _ = write!(out, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', decpt.unsigned_abs() as usize));
        out.push_str(&digits);
    } else {
        let point = decpt as usize;
        if point >= digits.len() {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', point - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

/// The quote CPython's repr picks: `"` only when the text has a `'` and no `"`.
fn quote_for(has_single: bool, has_double: bool) -> char {
    if has_single && !has_double { '"' } else { '\'' }
}

fn str_repr(s: &str, out: &mut String) {
    let quote = quote_for(s.contains('\''), s.contains('"'));
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if printable(c) => out.push(c),
            c => {
                let code = u32::from(c);
                let _ = match code {
                    0..=0xff => write!(out, "\\x{code:02x}"),
                    0x100..=0xffff => write!(out, "\\u{code:04x}"),
                    _ => write!(out, "\\U{code:08x}"),
                };
            }
        }
    }
    out.push(quote);
}

fn bytes_repr(b: &[u8], out: &mut String) {
    let quote = quote_for(b.contains(&b'\''), b.contains(&b'"'));
    out.push('b');
    out.push(quote);
    for &byte in b {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if char::from(c) == quote => {
                out.push('\\');
                out.push(char::from(c));
            }
            0x20..=0x7e => out.push(char::from(byte)),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    out.push(quote);
}

/// Code points outside Latin-1 that Python's `str.isprintable()` rejects because of their
/// general category (separators `Z*` other than space, format `Cf`, private use `Co`) or
/// because they are noncharacters. Unassigned code points are not listed: which are
/// unassigned changes with each Unicode version.
const NOT_PRINTABLE: &[(u32, u32)] = &[
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x1680, 0x1680),
    (0x180E, 0x180E),
    (0x2000, 0x200F),
    (0x2028, 0x202F),
    (0x205F, 0x206F),
    (0x3000, 0x3000),
    (0xE000, 0xF8FF),
    (0xFDD0, 0xFDEF),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
    (0xF0000, 0x10FFFF),
];

/// Python's `str.isprintable()` for one character (exact up to U+00FF).
fn printable(c: char) -> bool {
    let code = u32::from(c);
    match code {
        0x20..=0x7e => true,
        0..=0x1f | 0x7f..=0xa0 | 0xad => false,
        0xa1..=0xff => true,
        // Noncharacters at the end of every plane.
        _ if code & 0xfffe == 0xfffe => false,
        _ => !NOT_PRINTABLE
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&code)),
    }
}

macro_rules! int_from {
    ($($t:ty),*) => {$(
        impl From<$t> for PyValue {
            fn from(v: $t) -> Self {
                PyValue::Int(PyInt::from(v))
            }
        }
    )*};
}

int_from!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

impl From<PyInt> for PyValue {
    fn from(v: PyInt) -> Self {
        PyValue::Int(v)
    }
}

impl From<bool> for PyValue {
    fn from(v: bool) -> Self {
        PyValue::Bool(v)
    }
}

impl From<f64> for PyValue {
    fn from(v: f64) -> Self {
        PyValue::Float(v)
    }
}

impl From<f32> for PyValue {
    fn from(v: f32) -> Self {
        PyValue::Float(f64::from(v))
    }
}

impl From<&str> for PyValue {
    fn from(v: &str) -> Self {
        PyValue::Str(v.to_owned())
    }
}

impl From<String> for PyValue {
    fn from(v: String) -> Self {
        PyValue::Str(v)
    }
}

impl From<&String> for PyValue {
    fn from(v: &String) -> Self {
        PyValue::Str(v.clone())
    }
}

impl<T: Into<PyValue>> From<Option<T>> for PyValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(PyValue::None, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        for (x, want) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (-2.5e300, "-2.5e+300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (1234.5678, "1234.5678"),
            // Exactly halfway between two 17-digit decimals: ties go to even.
            (8_401_839_528_017_177.0 / 4.0, "2100459882004294.2"),
            (1e23, "1e+23"),
        ] {
            assert_eq!(float_repr(x), want, "{x:e}");
        }
    }

    #[test]
    fn repr_matches_python() {
        let v = PyValue::dict([
            (PyValue::from("k"), PyValue::tuple([PyValue::from(1)])),
            (
                PyValue::from("it's"),
                PyValue::bytes(b"\x00'\"\\\n".to_vec()),
            ),
            (
                PyValue::from(2),
                PyValue::list([
                    PyValue::None,
                    true.into(),
                    PyValue::tuple::<[i32; 0], i32>([]),
                ]),
            ),
        ]);
        assert_eq!(
            v.repr(),
            r#"{'k': (1,), "it's": b'\x00\'"\\\n', 2: [None, True, ()]}"#
        );
        assert_eq!(PyValue::from("a\"b'c").repr(), r#"'a"b\'c'"#);
        assert_eq!(
            PyValue::from("é\u{7f}\u{a0}\u{ad}\u{2028}\u{fffe}✓😀").repr(),
            "'é\\x7f\\xa0\\xad\\u2028\\ufffe✓😀'"
        );
        assert_eq!(PyValue::from("\u{10ffff}").repr(), "'\\U0010ffff'");
        assert_eq!(PyValue::bytes(b"it's".to_vec()).repr(), "b\"it's\"");
    }

    #[test]
    fn hashability_follows_python() {
        assert!(PyValue::tuple([PyValue::from(1), PyValue::from("a")]).is_hashable());
        assert!(!PyValue::tuple([PyValue::list([1])]).is_hashable());
        assert!(!PyValue::dict::<[(i32, i32); 0], i32, i32>([]).is_hashable());
        assert!(PyValue::Float(f64::NAN).is_hashable());
    }
}
