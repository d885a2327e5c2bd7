//! Decoders and encoders for opcode arguments: decimal and float text, Python's string
//! escapes, UTF-8 with lone surrogates, and little-endian two's complement integers.
//!
//! The decoders accept a strict subset of what CPython accepts. Where CPython's C and
//! pure-Python unpicklers disagree on an odd spelling (`I010`, `I-0`, `F1e999`, ...), the
//! spelling is refused, so anything accepted here loads the same way in both.

/// CPython 3.11 refuses to turn longer decimal strings into ints by default
/// (`sys.int_info.default_max_str_digits`).
const MAX_DECIMAL_DIGITS: usize = 4300;

/// An integer read from an opcode argument.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    /// Minimal little-endian two's complement bytes of a value outside `i64`.
    Big(Vec<u8>),
}

/// Drops redundant sign-extension bytes, giving what CPython's `encode_long` writes.
pub(crate) fn minimal_twos(mut v: Vec<u8>) -> Vec<u8> {
    while let [.., prev, last] = v[..] {
        let redundant = (last == 0x00 && prev & 0x80 == 0) || (last == 0xff && prev & 0x80 != 0);
        if !redundant {
            break;
        }
        v.pop();
    }
    if v == [0] {
        v.clear();
    }
    v
}

/// Interprets LONG1/LONG4 payload bytes.
pub(crate) fn num_from_twos(bytes: &[u8]) -> Num {
    let v = minimal_twos(bytes.to_vec());
    if v.len() > 8 {
        return Num::Big(v);
    }
    let fill = match v.last() {
        Some(b) if b & 0x80 != 0 => 0xff,
        _ => 0x00,
    };
    let mut buf = [fill; 8];
    for (dst, src) in buf.iter_mut().zip(v.iter()) {
        *dst = *src;
    }
    Num::Int(i64::from_le_bytes(buf))
}

/// CPython's `pickle.encode_long` for an `i64`: minimal two's complement, empty for zero.
pub(crate) fn encode_long(value: i64) -> Vec<u8> {
    minimal_twos(value.to_le_bytes().to_vec())
}

/// Converts an unsigned decimal digit string (already checked to be all ASCII digits).
fn digits_to_num(negative: bool, digits: &[u8]) -> Num {
    if digits.len() <= 18 {
        let mut v: i64 = 0;
        for d in digits {
            v = v * 10 + i64::from(d - b'0');
        }
        return Num::Int(if negative { -v } else { v });
    }
    // Base 2^32 limbs, little-endian; fed nine decimal digits at a time.
    let mut limbs: Vec<u32> = Vec::new();
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
    // Room for the sign bit, so the magnitude reads as non-negative.
    bytes.push(0);
    if negative {
        let mut carry = true;
        for b in bytes.iter_mut() {
            let (v, c) = (!*b).overflowing_add(u8::from(carry));
            *b = v;
            carry = c;
        }
    }
    num_from_twos(&bytes)
}

/// Splits an optional leading minus sign from a digit string and checks the digits.
fn signed_digits(s: &[u8]) -> Result<(bool, &[u8]), &'static str> {
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err("not a decimal integer");
    }
    if digits.len() > MAX_DECIMAL_DIGITS {
        return Err("integer has more than 4300 decimal digits");
    }
    Ok((negative, digits))
}

/// What an INT line holds: protocol 0/1 write `I01`/`I00` for the bools.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum IntLine {
    Bool(bool),
    Num(Num),
}

/// Parses the argument of INT (`I...\n`, newline removed).
pub(crate) fn parse_int_line(s: &[u8]) -> Result<IntLine, &'static str> {
    match s {
        b"00" => return Ok(IntLine::Bool(false)),
        b"01" => return Ok(IntLine::Bool(true)),
        _ => {}
    }
    let (negative, digits) = signed_digits(s)?;
    // C reads leading zeros as octal, Python rejects them; `-0` is False for C, 0 for Python.
    if (digits.len() > 1 && digits.first() == Some(&b'0')) || (negative && digits == b"0") {
        return Err("non-canonical decimal integer");
    }
    Ok(IntLine::Num(digits_to_num(negative, digits)))
}

/// Parses the argument of LONG (`L...L\n`, newline removed; the `L` suffix is optional).
pub(crate) fn parse_long_line(s: &[u8]) -> Result<Num, &'static str> {
    let s = s.strip_suffix(b"L").unwrap_or(s);
    let (negative, digits) = signed_digits(s)?;
    // Python's int(x, 0) allows "000" but no other leading zero.
    if digits.len() > 1 && digits.first() == Some(&b'0') && digits.iter().any(|d| *d != b'0') {
        return Err("non-canonical decimal integer");
    }
    Ok(digits_to_num(negative, digits))
}

/// Parses a memo index of PUT/GET (`p12\n`).
pub(crate) fn parse_memo_index(s: &[u8]) -> Result<u64, &'static str> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return Err("not a memo index");
    }
    let mut v: u64 = 0;
    for d in s {
        v = v * 10 + u64::from(d - b'0');
    }
    Ok(v)
}

/// Parses the argument of FLOAT (`F...\n`, newline removed).
pub(crate) fn parse_float_line(s: &[u8]) -> Result<f64, &'static str> {
    let text = std::str::from_utf8(s).map_err(|_| "float text is not ASCII")?;
    let ok_chars = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !ok_chars {
        return Err("not a float literal");
    }
    let value: f64 = text.parse().map_err(|_| "not a float literal")?;
    if value.is_infinite() {
        // C's unpickler raises OverflowError for "1e999" while Python returns inf.
        let bare = text.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if bare != "inf" && bare != "infinity" {
            return Err("float literal overflows");
        }
    }
    Ok(value)
}

/// CPython's `codecs.escape_decode`, used by the STRING opcode on the text between quotes.
pub(crate) fn escape_decode(s: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = s.get(i) else {
            return Err("trailing backslash in string");
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(0x0b),
            b'a' => out.push(0x07),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match s.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                // CPython keeps the low byte of an out-of-range octal escape.
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let hi = s.get(i).and_then(|d| (*d as char).to_digit(16));
                let lo = s.get(i + 1).and_then(|d| (*d as char).to_digit(16));
                match (hi, lo) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => return Err("invalid \\x escape"),
                }
            }
            _ => {
                // Unknown escapes stay as written; the character after the backslash is
                // then read normally.
                out.push(b'\\');
                i -= 1;
            }
        }
    }
    Ok(out)
}

/// Decodes a legacy byte string the way `pickle.loads` does by default (`encoding="ASCII"`).
pub(crate) fn ascii(bytes: &[u8]) -> Result<String, &'static str> {
    if bytes.is_ascii() {
        Ok(bytes.iter().map(|b| char::from(*b)).collect())
    } else {
        Err("legacy string is not ASCII")
    }
}

/// A Python str: `None` when it holds lone surrogates, which a Rust `String` cannot.
pub(crate) type PyStr = Option<String>;

/// Python's `bytes.decode('utf-8', 'surrogatepass')`.
pub(crate) fn utf8_surrogatepass(bytes: &[u8]) -> Result<PyStr, &'static str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(Some(s.to_owned()));
    }
    // Valid apart from encoded surrogates (ED A0..BF 80..BF)? Then it is a str Rust cannot hold.
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(_) => return Ok(None),
            Err(e) => {
                let at = e.valid_up_to();
                match rest.get(at..at + 3) {
                    Some([0xed, 0xa0..=0xbf, 0x80..=0xbf]) => {
                        rest = rest.get(at + 3..).unwrap_or_default();
                    }
                    _ => return Err("invalid UTF-8"),
                }
            }
        }
    }
}

/// Python's `bytes.decode('raw-unicode-escape')`, used by the UNICODE opcode.
pub(crate) fn raw_unicode_escape_decode(s: &[u8]) -> Result<PyStr, &'static str> {
    let mut out = String::with_capacity(s.len());
    let mut representable = true;
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(char::from(c));
            continue;
        }
        let Some(&e) = s.get(i) else {
            out.push('\\');
            continue;
        };
        i += 1;
        let count = match e {
            b'u' => 4,
            b'U' => 8,
            _ => {
                out.push('\\');
                out.push(char::from(e));
                continue;
            }
        };
        let hex = s.get(i..i + count).ok_or("truncated \\u escape")?;
        i += count;
        let mut code: u32 = 0;
        for h in hex {
            let d = (*h as char).to_digit(16).ok_or("invalid \\u escape")?;
            code = code * 16 + d;
        }
        if code > 0x10ffff {
            return Err("\\U escape out of range");
        }
        match char::from_u32(code) {
            Some(ch) => out.push(ch),
            None => representable = false,
        }
    }
    Ok(representable.then_some(out))
}

/// The argument CPython's protocol-0 pickler writes for a str after the UNICODE opcode
/// (without the newline): raw-unicode-escape, with the characters that would break the
/// line-based format escaped first.
pub(crate) fn raw_unicode_escape_encode(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for ch in s.chars() {
        let code = u32::from(ch);
        match ch {
            '\\' | '\0' | '\n' | '\r' | '\x1a' => {
                out.extend_from_slice(format!("\\u{code:04x}").as_bytes());
            }
            _ if code < 0x100 => out.push(code as u8),
            _ if code < 0x10000 => out.extend_from_slice(format!("\\u{code:04x}").as_bytes()),
            _ => out.extend_from_slice(format!("\\U{code:08x}").as_bytes()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_long_matches_cpython() {
        assert_eq!(encode_long(0), b"");
        assert_eq!(encode_long(255), [0xff, 0x00]);
        assert_eq!(encode_long(-1), [0xff]);
        assert_eq!(encode_long(-128), [0x80]);
        assert_eq!(encode_long(128), [0x80, 0x00]);
        assert_eq!(encode_long(-256), [0x00, 0xff]);
        assert_eq!(encode_long(i64::MIN), i64::MIN.to_le_bytes());
        assert_eq!(encode_long(i64::MAX), i64::MAX.to_le_bytes());
    }

    #[test]
    fn twos_roundtrip_for_i64() {
        for v in [0, 1, -1, 127, 128, -129, 1 << 40, i64::MIN, i64::MAX] {
            assert_eq!(num_from_twos(&encode_long(v)), Num::Int(v));
        }
        // Non-minimal payloads read the same.
        assert_eq!(num_from_twos(&[5, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Num::Int(5));
        assert_eq!(num_from_twos(&[0xff; 12]), Num::Int(-1));
    }

    #[test]
    fn decimal_big_values() {
        // 2**70 and -2**70
        let pos = parse_long_line(b"1180591620717411303424L").unwrap_or(Num::Int(0));
        assert_eq!(pos, Num::Big(vec![0, 0, 0, 0, 0, 0, 0, 0, 0x40]));
        let neg = parse_long_line(b"-1180591620717411303424L").unwrap_or(Num::Int(0));
        assert_eq!(neg, Num::Big(vec![0, 0, 0, 0, 0, 0, 0, 0, 0xc0]));
        // 2**63 does not fit, -2**63 does
        let p63 = parse_long_line(b"9223372036854775808").unwrap_or(Num::Int(0));
        assert_eq!(p63, Num::Big(vec![0, 0, 0, 0, 0, 0, 0, 0x80, 0]));
        let n63 = parse_long_line(b"-9223372036854775808L").unwrap_or(Num::Int(0));
        assert_eq!(n63, Num::Int(i64::MIN));
        assert_eq!(
            parse_int_line(b"9223372036854775807"),
            Ok(IntLine::Num(Num::Int(i64::MAX)))
        );
    }

    #[test]
    fn int_line_spellings() {
        assert_eq!(parse_int_line(b"01"), Ok(IntLine::Bool(true)));
        assert_eq!(parse_int_line(b"00"), Ok(IntLine::Bool(false)));
        assert_eq!(parse_int_line(b"0"), Ok(IntLine::Num(Num::Int(0))));
        assert_eq!(parse_int_line(b"-12"), Ok(IntLine::Num(Num::Int(-12))));
        for bad in [
            &b"010"[..],
            b"-0",
            b"+1",
            b" 1",
            b"1_0",
            b"0x10",
            b"",
            b"-",
            b"1\r",
        ] {
            assert!(parse_int_line(bad).is_err(), "{bad:?}");
        }
        assert!(parse_int_line(&[b'1'; 4301]).is_err());
        assert!(parse_long_line(&[b'1'; 4300]).is_ok());
        assert_eq!(parse_long_line(b"000L"), Ok(Num::Int(0)));
        assert!(parse_long_line(b"007L").is_err());
    }

    #[test]
    fn float_spellings() {
        assert_eq!(parse_float_line(b"1.5"), Ok(1.5));
        assert_eq!(parse_float_line(b"-inf"), Ok(f64::NEG_INFINITY));
        assert!(parse_float_line(b"nan").is_ok_and(f64::is_nan));
        assert!(parse_float_line(b"-0.0").is_ok_and(|f| f == 0.0 && f.is_sign_negative()));
        assert!(parse_float_line(b"1e999").is_err());
        assert!(parse_float_line(b" 1").is_err());
        assert!(parse_float_line(b"1_0").is_err());
    }

    #[test]
    fn escape_decode_cases() {
        assert_eq!(
            escape_decode(br"a\'b\\c\x41\101\n\q"),
            Ok(b"a'b\\cAA\n\\q".to_vec())
        );
        assert!(escape_decode(b"abc\\").is_err());
        assert!(escape_decode(br"\x4").is_err());
        assert_eq!(escape_decode(b"\\\nz"), Ok(b"z".to_vec()));
    }

    #[test]
    fn raw_unicode_escape_cases() {
        assert_eq!(
            raw_unicode_escape_decode(br"a\u20ac\U0001f600\x"),
            Ok(Some("a€😀\\x".into()))
        );
        assert_eq!(raw_unicode_escape_decode(b"\xe9\\"), Ok(Some("é\\".into())));
        assert_eq!(
            raw_unicode_escape_decode(br"\\u0041"),
            Ok(Some(r"\\u0041".into()))
        );
        assert_eq!(raw_unicode_escape_decode(br"\ud800"), Ok(None));
        assert!(raw_unicode_escape_decode(br"\u12").is_err());
        assert!(raw_unicode_escape_decode(br"\U00110000").is_err());
        let key = "a\\b\n\r\0\x1a€😀é";
        let enc = raw_unicode_escape_encode(key);
        assert_eq!(raw_unicode_escape_decode(&enc), Ok(Some(key.into())));
        assert!(!enc.contains(&b'\n'));
    }

    #[test]
    fn surrogatepass() {
        assert_eq!(utf8_surrogatepass("ok€".as_bytes()), Ok(Some("ok€".into())));
        assert_eq!(utf8_surrogatepass(b"a\xed\xa0\x80b"), Ok(None));
        assert!(utf8_surrogatepass(b"a\xffb").is_err());
        assert!(utf8_surrogatepass(b"a\xed\xa0").is_err());
    }
}
