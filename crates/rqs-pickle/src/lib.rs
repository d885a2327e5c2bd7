//! Reads and patches the pickled `meta` dict of an RQ job without unpickling it, and
//! writes new pickles of plain values exactly as CPython does.
//!
//! - Reading and patching: [`Meta::parse`] and [`set_int`] (below).
//! - Writing: [`dumps`] pickles a [`PyValue`] (None, bool, int of any size, float, str,
//!   bytes, list, tuple, dict) into the bytes `pickle.dumps(obj, protocol=5)` gives;
//!   [`PyValue::repr`] is Python's `repr`, and [`PyValue::from_json`] builds what
//!   `json.loads` builds. With the `serde_json` feature, a `serde_json::Value` converts
//!   into a [`PyValue`] too.
//!
//! # Why
//!
//! RQ keeps a job's `meta` in Redis as `pickle.dumps(meta, protocol=...)` of a Python
//! `dict`. The scheduler daemon needs a handful of primitive entries from it (`interval`,
//! `repeat`, `cron_string`, `use_local_timezone`, `queue_class_name`) and, after each run of
//! a repeating job, must write back the same dict with only `repeat` decremented. The dict
//! belongs to the user, though, and may hold anything picklable: datetimes, Decimals,
//! instances of the user's own classes, cycles. A deserialise/serialise round trip through
//! a Rust data model would lose or re-encode what it does not understand, so this crate
//! never builds the objects at all.
//!
//! # How
//!
//! [`Meta::parse`] runs a *symbolic* unpickler: every opcode of protocols 0 to 5 is decoded
//! and its effect on the stack, the MARK stack and the memo is replayed, but objects other
//! than primitives become identity-carrying placeholders. Dicts are tracked by identity, so
//! SETITEM/SETITEMS aimed at the top-level dict are seen even when the dict comes back
//! through the memo. The walk is strict: framing follows the rules of CPython's pure-Python
//! unpickler, text arguments must be spelled the way both CPython unpicklers read alike,
//! nothing may follow STOP, and the object at STOP must be a dict built by EMPTY_DICT or
//! DICT. When in doubt the input is refused with an [`Error`] rather than guessed at.
//!
//! [`set_int`] then edits the original bytes:
//!
//! * If the last assignment of the key took its value straight from an int opcode (or a
//!   bool one) that nothing else refers to, that opcode is replaced by the encoding
//!   CPython's pickler would choose for the new value at the pickle's protocol, and the
//!   length of the enclosing FRAME is corrected. For a meta written by `pickle.dumps` this
//!   yields exactly what `pickle.dumps` would write for the updated dict.
//! * Otherwise (the key is absent, its value is not an int, or the int is shared through
//!   the memo) an assignment `key, value, SETITEM` is inserted just before the final STOP,
//!   where the top-level dict is on top of the stack. Python keeps an existing key's
//!   position on re-assignment, so the key order is unchanged; a new key goes last.
//!
//! No other byte changes.
//!
//! # Limits
//!
//! * Objects the walker cannot build (anything made by REDUCE, NEWOBJ, BUILD, ... ) are
//!   assumed not to mutate the top-level dict while Python loads them, and not to compare
//!   equal to a str key. Plain `pickle.dumps` output never relies on either.
//! * A str holding lone surrogates (legal in Python) is reported as [`Value::Opaque`], and
//!   such a key is not listed by [`Meta::keys`].
//! * The walk is stricter than CPython: spellings on which CPython's two unpicklers
//!   disagree, frame layouts only the C unpickler tolerates, persistent ids and
//!   out-of-band buffers are refused, as are bytes after STOP. EXT1/2/4 are accepted as
//!   opaque objects, since the copyreg registry they name is the loading process's.
//! * The top-level object must be built by EMPTY_DICT or DICT; a dict produced by calling
//!   code (`builtins.dict(...)` via REDUCE, a dict subclass) is refused.
//! * Byte equality with `pickle.dumps` holds for in-place rewrites. It can only be lost
//!   when a pickle's frames are near CPython's 64 KiB frame target and the new int is
//!   wider, as CPython would then split its frames elsewhere; the result still loads as
//!   intended. An appended assignment loads as intended but is not what `pickle.dumps`
//!   would write.
//!
//! # Example
//!
//! ```
//! use rqs_pickle::{Meta, Value, set_int};
//!
//! // pickle.dumps({'interval': 60, 'repeat': 5}, protocol=5)
//! let stored: &[u8] = b"\x80\x05\x95\x1d\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x08interval\
//!                       \x94K<\x8c\x06repeat\x94K\x05u.";
//! let meta = Meta::parse(stored)?;
//! assert_eq!(meta.protocol(), 5);
//! assert_eq!(meta.get("interval"), Some(&Value::Int(60)));
//! assert_eq!(meta.keys().collect::<Vec<_>>(), ["interval", "repeat"]);
//!
//! let Some(Value::Int(repeat)) = meta.get("repeat") else { panic!("no repeat") };
//! let updated = set_int(stored, "repeat", repeat - 1)?;
//! // The same bytes pickle.dumps({'interval': 60, 'repeat': 4}, protocol=5) gives.
//! assert_eq!(
//!     updated,
//!     b"\x80\x05\x95\x1d\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x08interval\
//!       \x94K<\x8c\x06repeat\x94K\x04u."
//! );
//! assert_eq!(Meta::parse(&updated)?.get("repeat"), Some(&Value::Int(4)));
//! # Ok::<(), rqs_pickle::Error>(())
//! ```

use std::collections::HashMap;

mod call;
mod error;
mod int;
mod json;
mod machine;
mod op;
mod reader;
mod text;
mod value;
mod write;

pub use call::Call;
pub use error::Error;
pub use int::{MAX_DECIMAL_DIGITS, ParseIntError, PyInt};
pub use json::JsonError;
pub use value::PyValue;
pub use write::{MAX_DEPTH, PROTOCOL, WriteError, dumps};

use machine::Analysis;
use reader::Frame;

/// A primitive value of the top-level dict; anything else is [`Value::Opaque`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// Python `None`.
    None,
    /// Python `True` / `False` (NEWTRUE/NEWFALSE, or `I01`/`I00` before protocol 2).
    Bool(bool),
    /// A Python `int` that fits `i64`.
    Int(i64),
    /// An int that does not fit i64: little-endian two's complement bytes as in LONG1/LONG4
    /// (the shortest such encoding, as CPython's `pickle.encode_long` writes it).
    BigInt(Vec<u8>),
    /// A Python `float`.
    Float(f64),
    /// A Python `str`. Legacy STRING/BINSTRING/SHORT_BINSTRING values count as str, as
    /// `pickle.loads` (default `encoding="ASCII"`) loads them.
    Str(String),
    /// A Python `bytes` (protocol 3+ byte opcodes; protocols 0-2 pickle bytes through
    /// `_codecs.encode`, which reads back as [`Value::Opaque`]).
    Bytes(Vec<u8>),
    /// Any other object (container, instance, datetime, bytearray, a str holding lone
    /// surrogates, ...).
    Opaque,
}

impl Value {
    /// The value as an `i64`, for [`Value::Int`] only (bools are not ints here).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as a `bool`, for [`Value::Bool`] only.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as a `&str`, for [`Value::Str`] only.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Parsed view of a pickled top-level dict: its str keys in order, each with the primitive
/// value (or [`Value::Opaque`]) of its last assignment.
#[derive(Debug, Clone)]
pub struct Meta {
    protocol: u8,
    /// Key and index into `values`.
    entries: Vec<(String, usize)>,
    /// Shared by keys holding the same object, so a meta repeating one large value under
    /// many keys (through the memo) stays as small as the pickle.
    values: Vec<Value>,
    index: HashMap<String, usize>,
}

impl Meta {
    /// Walks the whole pickle and records the str-keyed entries of the top-level dict.
    ///
    /// Every opcode up to STOP is decoded and checked, and STOP must be the last byte.
    /// Keys that are not `str` (ints, tuples, ...) are allowed but not reported; nor are
    /// str keys holding lone surrogates, which no Rust string can hold.
    ///
    /// # Errors
    ///
    /// Any [`Error`] describing why the bytes are not a pickle of a dict that both CPython
    /// unpicklers load: truncation, unknown opcodes, stack or MARK underflow, a missing memo
    /// entry, bad framing, malformed arguments, operations Python would reject, out-of-band
    /// buffers, persistent ids, a non-dict top-level object, or bytes after STOP.
    pub fn parse(bytes: &[u8]) -> Result<Meta, Error> {
        let a = machine::analyze(bytes)?;
        Ok(Meta {
            protocol: a.protocol,
            entries: a.entries.into_iter().map(|e| (e.key, e.value)).collect(),
            values: a.values,
            index: a.index,
        })
    }

    /// Value of `key` in the top-level dict (the last assignment wins, like Python).
    pub fn get(&self, key: &str) -> Option<&Value> {
        let i = *self.index.get(key)?;
        self.entries.get(i).and_then(|(_, v)| self.values.get(*v))
    }

    /// The str keys of the top-level dict in Python's insertion order (a re-assigned key
    /// keeps its first position).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// The str-keyed entries in insertion order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), self.values.get(*v)?)))
    }

    /// Number of str keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the dict has no str keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The pickle protocol: the argument of the first PROTO opcode. Pickles without PROTO
    /// (protocols 0 and 1 write none) report 1 if they use any opcode introduced in
    /// protocol 1 or later (CPython's protocol-1 pickler always writes EMPTY_DICT for a
    /// dict), else 0.
    pub fn protocol(&self) -> u8 {
        self.protocol
    }
}

/// Returns a new pickle that Python loads as the same dict with `key` set to the int
/// `value` (its position kept if the key exists, appended at the end otherwise).
/// Everything else is kept byte for byte, apart from the length of the FRAME that encloses
/// the edit.
///
/// When the existing value was written by an int or bool opcode that nothing else refers
/// to, that opcode is rewritten in place with the encoding CPython picks for the protocol
/// (`K`/`M`/`J`/LONG1 from protocol 2, `K`/`M`/`J`/`L...L` at protocol 1, `I...`/`L...L` at
/// protocol 0). Otherwise the assignment is added just before STOP.
///
/// # Errors
///
/// Exactly the errors [`Meta::parse`] reports for `bytes`: a pickle that cannot be read
/// with confidence is never rewritten.
pub fn set_int(bytes: &[u8], key: &str, value: i64) -> Result<Vec<u8>, Error> {
    let a = machine::analyze(bytes)?;
    let entry = a.index.get(key).and_then(|&i| a.entries.get(i));
    if let Some((start, end)) = entry.and_then(|e| e.literal) {
        let frame = enclosing_frame(&a, start);
        // An opcode that straddles a frame end (legal, never written by CPython) is left
        // alone; a fresh assignment is just as correct.
        if frame.is_none_or(|f| end <= f.end) {
            return splice(bytes, start, end, &encode_int(a.protocol, value), frame);
        }
    }
    let mut insert = encode_key(a.protocol, key);
    insert.extend(encode_int(a.protocol, value));
    insert.push(op::SETITEM);
    splice(bytes, a.stop, a.stop, &insert, enclosing_frame(&a, a.stop))
}

/// The frame whose payload contains offset `at`.
fn enclosing_frame(a: &Analysis, at: usize) -> Option<Frame> {
    a.frames
        .iter()
        .find(|f| f.start <= at && at < f.end)
        .copied()
}

/// Replaces `bytes[start..end]` with `new`, fixing the length of `frame` (which contains
/// `start`).
fn splice(
    bytes: &[u8],
    start: usize,
    end: usize,
    new: &[u8],
    frame: Option<Frame>,
) -> Result<Vec<u8>, Error> {
    // The analysis guarantees these ranges; a failure here would be a bug, not bad input.
    let internal = Error::Truncated { offset: start };
    let head = bytes.get(..start).ok_or(internal.clone())?;
    let tail = bytes.get(end..).ok_or(internal.clone())?;
    let mut out = Vec::with_capacity(head.len() + new.len() + tail.len());
    out.extend_from_slice(head);
    out.extend_from_slice(new);
    out.extend_from_slice(tail);
    if let Some(f) = frame {
        let len = (f.end - f.start) - (end - start) + new.len();
        let slot = out
            .get_mut(f.len_at..f.len_at + 8)
            .ok_or(internal.clone())?;
        slot.copy_from_slice(&(len as u64).to_le_bytes());
    }
    Ok(out)
}

/// The opcode CPython's pickler writes for an int at `protocol` (see `save_long`).
fn encode_int(protocol: u8, value: i64) -> Vec<u8> {
    if protocol >= 1 {
        if let Ok(v) = u8::try_from(value) {
            return vec![op::BININT1, v];
        }
        if let Ok(v) = u16::try_from(value) {
            let mut out = vec![op::BININT2];
            out.extend(v.to_le_bytes());
            return out;
        }
        if let Ok(v) = i32::try_from(value) {
            let mut out = vec![op::BININT];
            out.extend(v.to_le_bytes());
            return out;
        }
    }
    if protocol >= 2 {
        let payload = text::encode_long(value);
        // At most 8 bytes for an i64, so the one-byte length of LONG1 always suffices.
        let mut out = vec![op::LONG1, payload.len() as u8];
        out.extend(payload);
        return out;
    }
    if i32::try_from(value).is_ok() {
        format!("I{value}\n").into_bytes()
    } else {
        format!("L{value}L\n").into_bytes()
    }
}

/// The str opcode CPython's pickler writes for `key` at `protocol` (see `save_str`).
/// Keys past 4 GiB get BINUNICODE8 even below protocol 4: every CPython unpickler reads
/// any opcode whatever the declared protocol, and nothing older could hold them.
fn encode_key(protocol: u8, key: &str) -> Vec<u8> {
    let utf8 = key.as_bytes();
    let mut out = Vec::with_capacity(utf8.len() + 9);
    if protocol == 0 {
        out.push(op::UNICODE);
        out.extend(text::raw_unicode_escape_encode(key));
        out.push(b'\n');
        return out;
    }
    match (u8::try_from(utf8.len()), u32::try_from(utf8.len())) {
        (Ok(n), _) if protocol >= 4 => {
            out.push(op::SHORT_BINUNICODE);
            out.push(n);
        }
        (_, Ok(n)) => {
            out.push(op::BINUNICODE);
            out.extend(n.to_le_bytes());
        }
        _ => {
            out.push(op::BINUNICODE8);
            out.extend((utf8.len() as u64).to_le_bytes());
        }
    }
    out.extend_from_slice(utf8);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_encodings_follow_cpython() {
        assert_eq!(encode_int(5, 0), b"K\x00");
        assert_eq!(encode_int(5, 255), b"K\xff");
        assert_eq!(encode_int(5, 256), b"M\x00\x01");
        assert_eq!(encode_int(5, 65535), b"M\xff\xff");
        assert_eq!(encode_int(5, 65536), b"J\x00\x00\x01\x00");
        assert_eq!(encode_int(5, -1), b"J\xff\xff\xff\xff");
        assert_eq!(encode_int(2, 1 << 31), b"\x8a\x05\x00\x00\x00\x80\x00");
        assert_eq!(encode_int(1, 7), b"K\x07");
        assert_eq!(encode_int(1, 1 << 31), b"L2147483648L\n");
        assert_eq!(encode_int(0, 7), b"I7\n");
        assert_eq!(encode_int(0, -7), b"I-7\n");
        assert_eq!(encode_int(0, i64::MIN), b"L-9223372036854775808L\n");
    }

    #[test]
    fn key_encodings_follow_cpython() {
        assert_eq!(encode_key(5, "ab"), b"\x8c\x02ab");
        assert_eq!(encode_key(3, "ab"), b"X\x02\x00\x00\x00ab");
        let long = "x".repeat(300);
        let enc = encode_key(4, &long);
        assert_eq!(enc.get(..5), Some(&b"X\x2c\x01\x00\x00"[..]));
        assert_eq!(encode_key(0, "a\\b"), b"Va\\u005cb\n");
    }
}
