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
/// characters, backslashes and bytes that are not UTF-8 escaped (`\n`, `\x1b`, `\xff`), so
/// a value can neither forge a log line nor send escape sequences.
pub fn escape(bytes: &[u8], out: &mut impl fmt::Write) -> fmt::Result {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.write_str("\\\\")?,
                '\n' => out.write_str("\\n")?,
                '\r' => out.write_str("\\r")?,
                '\t' => out.write_str("\\t")?,
                c if c.is_control() => write!(out, "\\u{{{:x}}}", u32::from(c))?,
                c => out.write_char(c)?,
            }
        }
        for b in chunk.invalid() {
            write!(out, "\\x{b:02x}")?;
        }
    }
    Ok(())
}

/// [`escape`] into a new string.
pub fn escaped(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    // Writing into a String cannot fail.
    let _ = escape(bytes, &mut out);
    out
}

/// Displays a value with [`escape`] applied to its text: for logging error messages and
/// other strings that may carry bytes a client wrote (a key name in a Redis error, say).
#[derive(Debug, Clone, Copy)]
pub struct Escaped<T>(pub T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        escape(self.0.to_string().as_bytes(), f)
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
