//! Job ids and queue names as Redis holds them: bytes.
//!
//! RQ creates UTF-8 ids, but a sorted-set member or a hash field is any byte string, and
//! a hostile or careless client can write one that is not UTF-8. A lossy conversion would
//! make the scheduler read one member and commit another (two ids that differ only in
//! their invalid bytes collapse into one), so ids travel as bytes from the read to the
//! commit and are only escaped for display.

use std::borrow::Borrow;
use std::fmt;

/// Writes `bytes` for a log line or a terminal: printable text as it is, control
/// characters, backslashes and bytes that are not UTF-8 escaped (`\n`, `\u{1b}`, `\xff`), so
/// a value can neither forge a log line nor send escape sequences. Unicode line breaks
/// and bidirectional controls count as control characters: they too can fake a line or
/// reorder what a reader sees (`\u{2028}`, `\u{202e}`).
///
/// The escaping is exact: [`JobId::from_escaped`] turns the text back into the same bytes.
pub fn escape(bytes: &[u8], out: &mut impl fmt::Write) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.write_str("\\\\")?,
                c => escape_char(c, out)?,
            }
        }
        for b in chunk.invalid() {
            write!(out, "\\x{b:02x}")?;
        }
    }
    Ok(())
}

/// One character of [`escape`], backslashes aside.
fn escape_char(c: char, out: &mut impl fmt::Write) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if c.is_control() || is_layout_control(c) => write!(out, "\\u{{{:x}}}", u32::from(c)),
        c => out.write_char(c),
    }
}

/// Characters that are not `Cc` controls but break a line (U+2028, U+2029) or change the
/// direction text is shown in (Unicode's `Bidi_Control` set).
fn is_layout_control(c: char) -> bool {
    matches!(
        c,
        '\u{2028}'
            | '\u{2029}'
            | '\u{061c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// The inverse of [`escape`]: `\\`, `\n`, `\r`, `\t`, `\u{HEX}` (a Unicode scalar value)
/// and `\xHH` (one byte) stand for what they name; every other character for itself.
///
/// # Errors
/// A backslash that starts none of these, with what was found.
pub(crate) fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.extend_from_slice(&rest.as_bytes()[..at]);
        let tail = &rest[at + 1..];
        let bad = |what: &str| {
            let seen: String = rest[at..].chars().take(8).collect();
            Err(format!(
                "{what} in `{seen}`: a backslash starts \\\\, \\n, \\r, \\t, \\u{{HEX}} or \\xHH"
            ))
        };
        let used = match tail.as_bytes().first() {
            Some(b'\\') => {
                out.push(b'\\');
                1
            }
            Some(b'n') => {
                out.push(b'\n');
                1
            }
            Some(b'r') => {
                out.push(b'\r');
                1
            }
            Some(b't') => {
                out.push(b'\t');
                1
            }
            Some(b'x') => {
                let Some(byte) = tail
                    .get(1..3)
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                else {
                    return bad("\\x needs two hex digits");
                };
                out.push(byte);
                3
            }
            Some(b'u') => {
                let Some(close) = tail
                    .find('}')
                    .filter(|_| tail.as_bytes().get(1) == Some(&b'{'))
                else {
                    return bad("\\u needs {HEX}");
                };
                let hex = &tail[2..close];
                let Some(c) = (1..=6)
                    .contains(&hex.len())
                    .then_some(hex)
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32)
                else {
                    return bad("\\u{..} needs 1 to 6 hex digits of a Unicode scalar value");
                };
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                close + 1
            }
            None => return bad("a lone backslash"),
            Some(_) => return bad("an unknown escape"),
        };
        rest = &tail[used..];
    }
    out.extend_from_slice(rest.as_bytes());
    Ok(out)
}

/// [`escape`] into a new string.
pub fn escaped(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    // Writing into a String cannot fail.
    let _ = escape(bytes, &mut out);
    out
}

/// Displays a value with its control characters escaped as [`escape`] does: for logging
/// error messages and other strings that may carry bytes a client wrote (a key name in a
/// Redis error, say).
///
/// Backslashes stay as they are: such a message usually names ids that their own
/// `Display` escaped already, and escaping them again would print `\\xff` for `\xff`.
/// The line stays safe, as no raw control character gets through.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<T>(pub T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.to_string().chars() {
            escape_char(c, f)?;
        }
        Ok(())
    }
}

macro_rules! byte_name {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Vec<u8>);

        impl $name {
            /// Wraps raw bytes.
            pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
                Self(bytes.into())
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            /// The value as text, when it is UTF-8.
            pub fn to_str(&self) -> Option<&str> {
                std::str::from_utf8(&self.0).ok()
            }

            /// Whether it is empty.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// The raw bytes, owned.
            pub fn into_bytes(self) -> Vec<u8> {
                self.0
            }

            /// Reads the escaped form that `Display` writes (see [`escape`]), so that
            /// what a tool printed can be given back to it.
            ///
            /// # Errors
            /// A message naming a malformed escape.
            pub fn from_escaped(text: &str) -> Result<Self, String> {
                unescape(text).map(Self)
            }
        }

        /// Escaped for logs and terminals (see [`escape`]).
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                escape(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(\"", stringify!($name))?;
                escape(&self.0, f)?;
                f.write_str("\")")
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl Borrow<[u8]> for $name {
            fn borrow(&self) -> &[u8] {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.as_bytes().to_vec())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s.into_bytes())
            }
        }

        impl From<&String> for $name {
            fn from(s: &String) -> Self {
                Self(s.as_bytes().to_vec())
            }
        }

        impl From<Vec<u8>> for $name {
            fn from(b: Vec<u8>) -> Self {
                Self(b)
            }
        }

        impl From<&[u8]> for $name {
            fn from(b: &[u8]) -> Self {
                Self(b.to_vec())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other.as_bytes()
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == other.as_bytes()
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                self.as_bytes() == other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self.as_bytes() == other.0
            }
        }
    };
}

byte_name!(
    /// A job id: a member of the schedule and the `<id>` of `rq:job:<id>`.
    JobId
);

byte_name!(
    /// A queue name: the `<name>` of `rq:queue:<name>`, a job's `origin`.
    QueueName
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_escapes_what_could_forge_a_log_line() {
        assert_eq!(JobId::from("plain-id_1").to_string(), "plain-id_1");
        assert_eq!(JobId::from("é✓").to_string(), "é✓");
        assert_eq!(
            JobId::from("evil\n2026 ERROR forged").to_string(),
            "evil\\n2026 ERROR forged"
        );
        assert_eq!(JobId::from("a\x1b[31m").to_string(), "a\\u{1b}[31m");
        assert_eq!(JobId::new(b"\xffbad".to_vec()).to_string(), "\\xffbad");
        assert_eq!(JobId::from("a\\xff").to_string(), "a\\\\xff");
        assert_eq!(
            format!("{:?}", QueueName::from("q\r")),
            "QueueName(\"q\\r\")"
        );
    }

    #[test]
    fn escaped_wraps_any_display() {
        let e = std::io::Error::other("key rq:job:a\nFAKE");
        assert_eq!(Escaped(&e).to_string(), "key rq:job:a\\nFAKE");
        // An id in a message is escaped once, by its own Display, not twice.
        let id = JobId::new(b"\xff\xfe".to_vec());
        let message = format!("job {id} is not scheduled\u{2028}");
        assert_eq!(
            Escaped(&message).to_string(),
            "job \\xff\\xfe is not scheduled\\u{2028}"
        );
    }

    #[test]
    fn line_breaks_and_direction_controls_are_escaped() {
        for (c, shown) in [
            ('\u{2028}', "\\u{2028}"),
            ('\u{2029}', "\\u{2029}"),
            ('\u{202e}', "\\u{202e}"),
            ('\u{200e}', "\\u{200e}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{202a}', "\\u{202a}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{61c}', "\\u{61c}"),
        ] {
            let id = JobId::from(format!("a{c}b"));
            assert_eq!(id.to_string(), format!("a{shown}b"), "{:x}", u32::from(c));
            assert_eq!(JobId::from_escaped(&id.to_string()), Ok(id));
        }
        // Ordinary text of right-to-left scripts is not a control.
        assert_eq!(JobId::from("שלום-עולם").to_string(), "שלום-עולם");
    }

    #[test]
    fn what_display_prints_reads_back() {
        for (text, bytes) in [
            ("\\xff\\xfe", &b"\xff\xfe"[..]),
            ("nul\\u{0}byte", b"nul\0byte"),
            ("a\\\\b\\n\\r\\t", b"a\\b\n\r\t"),
            ("plain", b"plain"),
        ] {
            let id = JobId::from_escaped(text).unwrap();
            assert_eq!(id.as_bytes(), bytes, "{text}");
        }
        assert_eq!(
            JobId::from_escaped("\\u{1F600}\\xC3").unwrap().as_bytes(),
            b"\xf0\x9f\x98\x80\xc3"
        );
        for bad in [
            "a\\",
            "\\q",
            "\\x",
            "\\xf",
            "\\xzz",
            "\\u",
            "\\u{}",
            "\\u{110000}",
            "\\u{d800}",
            "\\u{1234567}",
            "\\u1234",
        ] {
            let err = JobId::from_escaped(bad).unwrap_err();
            assert!(err.contains("a backslash starts"), "{bad}: {err}");
        }
    }

    proptest::proptest! {
        #[test]
        fn escape_round_trips_any_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let shown = escaped(&bytes);
            proptest::prop_assert_eq!(unescape(&shown), Ok(bytes.clone()));
            proptest::prop_assert!(!shown.chars().any(|c| c.is_control() || is_layout_control(c)));
        }

        #[test]
        fn escape_round_trips_any_text(text in "\\PC*|[\\u{0}-\\u{3000}\\\\]*") {
            let shown = escaped(text.as_bytes());
            proptest::prop_assert_eq!(unescape(&shown), Ok(text.clone().into_bytes()));
        }
    }

    #[test]
    fn look_alike_ids_stay_distinct() {
        let raw = JobId::new(b"x\xc0".to_vec());
        let replaced = JobId::from("x\u{fffd}");
        assert_ne!(raw, replaced);
        assert_eq!(raw.to_str(), None);
        assert_eq!(replaced.to_str(), Some("x\u{fffd}"));
        assert_eq!(JobId::from("a"), "a");
    }
}
