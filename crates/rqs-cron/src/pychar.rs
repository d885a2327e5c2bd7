//! Character classes and integer parsing exactly as CPython 3.11 applies them to a cron string.
//!
//! Python's `str.split()` breaks on more characters than Rust's `char::is_whitespace`
//! (the ASCII separators U+001C..U+001F count), and `int()` / `str.isdigit()` accept every
//! Unicode decimal digit (category Nd), not only `0-9`. Both are reproduced here so that the
//! set of accepted strings is the same as in Python.

/// The code points for which Python's `str.isspace()` is true (Unicode 14, CPython 3.11).
pub(crate) fn is_py_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{0B}'
            | '\u{0C}'
            | '\r'
            | '\u{1C}'..='\u{1F}'
            | ' '
            | '\u{85}'
            | '\u{A0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}'
    )
}

/// The digit zero of every run of ten Unicode decimal digits (general category Nd, Unicode 14).
/// Every run is contiguous, so a digit's value is its distance from the run's zero.
const ND_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

/// The value of a Unicode decimal digit, as Python's `int()` reads it.
pub(crate) fn decimal_digit(c: char) -> Option<u32> {
    let cp = u32::from(c);
    if c.is_ascii_digit() {
        return Some(cp - 0x30);
    }
    // The table is sorted: find the last zero <= cp.
    let idx = ND_ZEROS.partition_point(|&z| z <= cp);
    let zero = ND_ZEROS[idx.checked_sub(1)?];
    let v = cp - zero;
    (v < 10).then_some(v)
}

/// CPython refuses to convert decimal strings of more than this many digits
/// (`sys.get_int_max_str_digits()`, default 4300), raising ValueError.
pub(crate) const MAX_STR_DIGITS: usize = 4300;

/// The outcome of reading a number the way the Python code does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Num {
    /// Not a number Python would accept here.
    Invalid,
    /// A number with more digits than CPython converts (ValueError in Python).
    TooLong,
    /// The value; saturates at `u64::MAX`, which is out of every field's range anyway.
    Value(u64),
}

/// `s.isdigit() and int(s, 10)` for the strings the crontab code guards with `isdigit()`:
/// one or more decimal digits and nothing else.
///
/// Python's `isdigit()` is also true for superscripts and the like, but `int()` then raises
/// ValueError, so for deciding acceptance only category Nd matters.
pub(crate) fn decimal(s: &str) -> Num {
    let mut value: u64 = 0;
    let mut digits = 0usize;
    for c in s.chars() {
        let Some(d) = decimal_digit(c) else {
            return Num::Invalid;
        };
        digits += 1;
        value = value.saturating_mul(10).saturating_add(u64::from(d));
    }
    if digits == 0 {
        Num::Invalid
    } else if digits > MAX_STR_DIGITS {
        Num::TooLong
    } else {
        Num::Value(value)
    }
}

/// Python's `int(s, 10)` without any `isdigit()` guard (used for the step after `/`):
/// an optional sign, then digits with single underscores allowed between digits.
/// Returns the sign separately (`true` = negative) and the saturated magnitude.
/// Surrounding whitespace, which `int()` would strip, cannot occur inside a cron field.
pub(crate) fn py_int(s: &str) -> (bool, Num) {
    let (negative, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let mut value: u64 = 0;
    let mut digits = 0usize;
    let mut after_underscore = false;
    for c in body.chars() {
        if c == '_' {
            // An underscore must follow a digit and be followed by one.
            if digits == 0 || after_underscore {
                return (negative, Num::Invalid);
            }
            after_underscore = true;
            continue;
        }
        let Some(d) = decimal_digit(c) else {
            return (negative, Num::Invalid);
        };
        after_underscore = false;
        digits += 1;
        value = value.saturating_mul(10).saturating_add(u64::from(d));
    }
    if digits == 0 || after_underscore {
        (negative, Num::Invalid)
    } else if digits > MAX_STR_DIGITS {
        (negative, Num::TooLong)
    } else {
        (negative, Num::Value(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_digits() {
        assert_eq!(decimal_digit('7'), Some(7));
        assert_eq!(decimal_digit('\u{0665}'), Some(5)); // Arabic-Indic five
        assert_eq!(decimal_digit('\u{FF19}'), Some(9)); // fullwidth nine
        assert_eq!(decimal_digit('\u{1FBF9}'), Some(9)); // segmented nine, last Nd run
        assert_eq!(decimal_digit('\u{00B2}'), None); // superscript two: isdigit() but not int()
        assert_eq!(decimal_digit('a'), None);
        assert_eq!(decimal_digit('\u{2F}'), None);
        assert_eq!(decimal_digit('\u{670}'), None); // just past the Arabic-Indic run
    }

    #[test]
    fn decimal_rules() {
        assert_eq!(decimal("007"), Num::Value(7));
        assert_eq!(decimal(""), Num::Invalid);
        assert_eq!(decimal("+1"), Num::Invalid);
        assert_eq!(decimal("1_0"), Num::Invalid);
        assert_eq!(decimal(&"9".repeat(40)), Num::Value(u64::MAX));
        assert_eq!(decimal(&"0".repeat(4300)), Num::Value(0));
        assert_eq!(decimal(&"0".repeat(4301)), Num::TooLong);
    }

    #[test]
    fn int_rules() {
        assert_eq!(py_int("+5"), (false, Num::Value(5)));
        assert_eq!(py_int("-5"), (true, Num::Value(5)));
        assert_eq!(py_int("0_5"), (false, Num::Value(5)));
        assert_eq!(py_int("1__0").1, Num::Invalid);
        assert_eq!(py_int("_1").1, Num::Invalid);
        assert_eq!(py_int("1_").1, Num::Invalid);
        assert_eq!(py_int("+").1, Num::Invalid);
        assert_eq!(py_int("").1, Num::Invalid);
        assert_eq!(py_int("+_1").1, Num::Invalid);
        assert_eq!(py_int("1.5").1, Num::Invalid);
        let long = format!("{}_5", "0".repeat(4299));
        assert_eq!(py_int(&long).1, Num::Value(5));
        let too_long = format!("+{}5", "0".repeat(4300));
        assert_eq!(py_int(&too_long).1, Num::TooLong);
    }

    #[test]
    fn spaces() {
        for c in [
            '\t', '\u{1C}', '\u{1F}', '\u{85}', '\u{A0}', '\u{2007}', '\u{3000}',
        ] {
            assert!(is_py_space(c), "{c:?}");
        }
        for c in ['\u{200B}', '\u{180E}', '\u{FEFF}', 'a', '_'] {
            assert!(!is_py_space(c), "{c:?}");
        }
    }
}
