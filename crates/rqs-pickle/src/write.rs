//! The pickle writer: [`dumps`] turns a [`PyValue`] into the bytes CPython's
//! `pickle.dumps(obj, protocol=5)` (`HIGHEST_PROTOCOL`) writes for it.
//!
//! It follows the C pickler (`Modules/_pickle.c`) step by step: `PROTO 5`; frames opened
//! lazily and closed once they hold 64 KiB at an object boundary (a frame of fewer than
//! 4 bytes loses its header); `str`/`bytes` of 64 KiB or more written outside any frame;
//! `MEMOIZE` after every str, bytes, list, dict and non-empty tuple; `APPEND`/`SETITEM`
//! for one item, else `MARK … APPENDS`/`SETITEMS` in batches of 1000 (a dict of a
//! multiple of 1000 items ends with an empty batch, as CPython's does); `TUPLE1..3` up to
//! three items; the narrowest int opcode.
//!
//! The memo is keyed by object identity in CPython, so its output depends on which
//! values are the *same object*. [`dumps`] writes what CPython writes when every str and
//! bytes value is a distinct object, except those CPython always shares: the empty str
//! and bytes, and one-character strs below U+0100. A repeated such value becomes a
//! `BINGET`, exactly as in CPython. Values built at run time (parsed from JSON, read
//! from a file) have that shape; literals repeated in one Python function share more, and
//! so do one-byte bytes made by some (not all) of CPython's constructors, which changes
//! the bytes but never the loaded value.

use std::collections::HashMap;

use crate::op;
use crate::{PyInt, PyValue};

/// The protocol [`dumps`] writes: CPython's `pickle.HIGHEST_PROTOCOL` since 3.8.
pub const PROTOCOL: u8 = 5;

/// The deepest nesting of containers [`dumps`] accepts. CPython's own recursion limit
/// (1000 frames) is of the same order.
pub const MAX_DEPTH: usize = 500;

const FRAME_SIZE_MIN: usize = 4;
const FRAME_SIZE_TARGET: usize = 64 * 1024;
const FRAME_HEADER_SIZE: usize = 9;
const BATCH_SIZE: usize = 1000;

/// Why a value cannot be pickled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// A dict key Python cannot hash (a list or dict, or a tuple holding one).
    #[error("dict key {key} is unhashable: Python would refuse to load the dict")]
    UnhashableKey {
        /// The key's `repr`.
        key: String,
    },
    /// Containers nested deeper than [`MAX_DEPTH`].
    #[error("values are nested more than {MAX_DEPTH} containers deep")]
    TooDeep,
}

/// Pickles `value` with protocol 5, byte for byte as CPython's `pickle.dumps` does (see
/// the module documentation for which values count as one shared object).
///
/// # Errors
/// [`WriteError`] for an unhashable dict key or a value nested too deep.
///
/// # Example
/// ```
/// use rqs_pickle::{PyValue, dumps};
///
/// // pickle.dumps({'interval': 600}, protocol=5)
/// let meta = PyValue::dict([("interval", 600)]);
/// assert_eq!(
///     dumps(&meta)?,
///     b"\x80\x05\x95\x12\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x08interval\x94M\x58\x02s."
/// );
/// # Ok::<(), rqs_pickle::WriteError>(())
/// ```
pub fn dumps(value: &PyValue) -> Result<Vec<u8>, WriteError> {
    let mut p = Pickler::default();
    p.write(&[op::PROTO, PROTOCOL]);
    p.framing = true;
    p.save(value, 0)?;
    p.write(&[op::STOP]);
    p.commit_frame();
    Ok(p.out)
}

/// A value CPython keeps as one object however it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shared {
    /// `''` (`None`) or a one-character str below U+0100.
    Str(Option<u8>),
    /// `b''`.
    Bytes,
}

impl Shared {
    fn of_str(s: &str) -> Option<Shared> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (None, _) => Some(Shared::Str(None)),
            (Some(c), None) => u8::try_from(u32::from(c))
                .ok()
                .map(|b| Shared::Str(Some(b))),
            _ => None,
        }
    }

    fn of_bytes(b: &[u8]) -> Option<Shared> {
        b.is_empty().then_some(Shared::Bytes)
    }
}

#[derive(Debug, Default)]
struct Pickler {
    out: Vec<u8>,
    framing: bool,
    /// Where the current frame's 9-byte header slot starts.
    frame_start: Option<usize>,
    /// Entries in the unpickler's memo so far.
    memo_len: u32,
    shared: HashMap<Shared, u32>,
}

impl Pickler {
    /// `_Pickler_Write`: opens a frame first when framing and none is open.
    fn write(&mut self, data: &[u8]) {
        if self.framing && self.frame_start.is_none() {
            self.frame_start = Some(self.out.len());
            self.out.extend([0xfe; FRAME_HEADER_SIZE]);
        }
        self.out.extend_from_slice(data);
    }

    /// `_Pickler_CommitFrame`: fills in the header, or drops it for a tiny frame.
    fn commit_frame(&mut self) {
        let Some(start) = self.frame_start.take() else {
            return;
        };
        let len = self.out.len() - start - FRAME_HEADER_SIZE;
        if len >= FRAME_SIZE_MIN {
            self.out[start] = op::FRAME;
            self.out[start + 1..start + FRAME_HEADER_SIZE]
                .copy_from_slice(&(len as u64).to_le_bytes());
        } else {
            self.out.drain(start..start + FRAME_HEADER_SIZE);
        }
    }

    /// `_Pickler_OpcodeBoundary`, called before each object.
    fn opcode_boundary(&mut self) {
        if let Some(start) = self.frame_start
            && self.out.len() - start - FRAME_HEADER_SIZE >= FRAME_SIZE_TARGET
        {
            self.commit_frame();
        }
    }

    /// `_Pickler_write_bytes`: large payloads go outside any frame.
    fn write_bytes(&mut self, header: &[u8], data: &[u8]) {
        if data.len() >= FRAME_SIZE_TARGET {
            self.commit_frame();
            let framing = std::mem::replace(&mut self.framing, false);
            self.write(header);
            self.write(data);
            self.framing = framing;
        } else {
            self.write(header);
            self.write(data);
        }
    }

    fn memo_put(&mut self) -> u32 {
        self.write(&[op::MEMOIZE]);
        self.memo_len += 1;
        self.memo_len - 1
    }

    fn memo_get(&mut self, index: u32) {
        match u8::try_from(index) {
            Ok(i) => self.write(&[op::BINGET, i]),
            Err(_) => {
                let mut data = vec![op::LONG_BINGET];
                data.extend(index.to_le_bytes());
                self.write(&data);
            }
        }
    }

    fn save(&mut self, value: &PyValue, depth: usize) -> Result<(), WriteError> {
        self.opcode_boundary();
        match value {
            PyValue::None => self.write(&[op::NONE]),
            PyValue::Bool(b) => self.write(&[if *b { op::NEWTRUE } else { op::NEWFALSE }]),
            PyValue::Int(i) => self.save_int(i),
            PyValue::Float(f) => {
                let mut data = vec![op::BINFLOAT];
                data.extend(f.to_bits().to_be_bytes());
                self.write(&data);
            }
            PyValue::Str(s) => self.save_shared(Shared::of_str(s), |p| p.save_str(s)),
            PyValue::Bytes(b) => self.save_shared(Shared::of_bytes(b), |p| p.save_bytes(b)),
            PyValue::List(items) => self.save_list(items, depth + 1)?,
            PyValue::Tuple(items) => self.save_tuple(items, depth + 1)?,
            PyValue::Dict(pairs) => self.save_dict(pairs, depth + 1)?,
        }
        Ok(())
    }

    /// Writes a str or bytes, or a `BINGET` when it is a shared object already written.
    fn save_shared(&mut self, shared: Option<Shared>, save: impl FnOnce(&mut Self)) {
        if let Some(index) = shared.and_then(|s| self.shared.get(&s).copied()) {
            self.memo_get(index);
            return;
        }
        save(self);
        let index = self.memo_put();
        if let Some(s) = shared {
            self.shared.insert(s, index);
        }
    }

    fn save_int(&mut self, value: &PyInt) {
        if let Some(v) = value.as_i64().and_then(|v| i32::try_from(v).ok()) {
            let data = match (u8::try_from(v), u16::try_from(v)) {
                (Ok(b), _) => vec![op::BININT1, b],
                (_, Ok(w)) => [&[op::BININT2][..], &w.to_le_bytes()].concat(),
                _ => [&[op::BININT][..], &v.to_le_bytes()].concat(),
            };
            self.write(&data);
            return;
        }
        let payload = value.to_le_twos();
        match u8::try_from(payload.len()) {
            Ok(n) => self.write(&[op::LONG1, n]),
            Err(_) => {
                let mut header = vec![op::LONG4];
                header.extend((payload.len() as u32).to_le_bytes());
                self.write(&header);
            }
        }
        self.write(&payload);
    }

    fn save_str(&mut self, s: &str) {
        let header = sized_header(
            s.len(),
            op::SHORT_BINUNICODE,
            op::BINUNICODE,
            op::BINUNICODE8,
        );
        self.write_bytes(&header, s.as_bytes());
    }

    fn save_bytes(&mut self, b: &[u8]) {
        let header = sized_header(b.len(), op::SHORT_BINBYTES, op::BINBYTES, op::BINBYTES8);
        self.write_bytes(&header, b);
    }

    fn save_list(&mut self, items: &[PyValue], depth: usize) -> Result<(), WriteError> {
        check_depth(depth)?;
        self.write(&[op::EMPTY_LIST]);
        self.memo_put();
        if let [item] = items {
            self.save(item, depth)?;
            self.write(&[op::APPEND]);
            return Ok(());
        }
        for batch in items.chunks(BATCH_SIZE) {
            self.write(&[op::MARK]);
            for item in batch {
                self.save(item, depth)?;
            }
            self.write(&[op::APPENDS]);
        }
        Ok(())
    }

    fn save_tuple(&mut self, items: &[PyValue], depth: usize) -> Result<(), WriteError> {
        check_depth(depth)?;
        let short = match items.len() {
            0 => {
                self.write(&[op::EMPTY_TUPLE]);
                return Ok(());
            }
            1 => Some(op::TUPLE1),
            2 => Some(op::TUPLE2),
            3 => Some(op::TUPLE3),
            _ => None,
        };
        if short.is_none() {
            self.write(&[op::MARK]);
        }
        for item in items {
            self.save(item, depth)?;
        }
        self.write(&[short.unwrap_or(op::TUPLE)]);
        self.memo_put();
        Ok(())
    }

    fn save_dict(&mut self, pairs: &[(PyValue, PyValue)], depth: usize) -> Result<(), WriteError> {
        check_depth(depth)?;
        if let Some((key, _)) = pairs.iter().find(|(k, _)| !k.is_hashable()) {
            return Err(WriteError::UnhashableKey { key: key.repr() });
        }
        self.write(&[op::EMPTY_DICT]);
        self.memo_put();
        match pairs {
            [] => {}
            [(k, v)] => {
                self.save(k, depth)?;
                self.save(v, depth)?;
                self.write(&[op::SETITEM]);
            }
            _ => {
                let mut rest = pairs;
                loop {
                    let (batch, tail) = rest.split_at(rest.len().min(BATCH_SIZE));
                    self.write(&[op::MARK]);
                    for (k, v) in batch {
                        self.save(k, depth)?;
                        self.save(v, depth)?;
                    }
                    self.write(&[op::SETITEMS]);
                    // CPython goes round again after every full batch, even an empty one.
                    if batch.len() < BATCH_SIZE {
                        break;
                    }
                    rest = tail;
                }
            }
        }
        Ok(())
    }
}

fn check_depth(depth: usize) -> Result<(), WriteError> {
    if depth > MAX_DEPTH {
        Err(WriteError::TooDeep)
    } else {
        Ok(())
    }
}

/// The str/bytes opcode and length CPython picks for a payload of `len` bytes.
fn sized_header(len: usize, short: u8, four: u8, eight: u8) -> Vec<u8> {
    if let Ok(n) = u8::try_from(len) {
        vec![short, n]
    } else if let Ok(n) = u32::try_from(len) {
        [&[four][..], &n.to_le_bytes()].concat()
    } else {
        [&[eight][..], &(len as u64).to_le_bytes()].concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn rq_data_tuple_matches_the_trace() {
        // ('drive.task_ok', None, (1, 'two'), {'k': 'v'}), from the rq 2.12 client trace.
        let data = PyValue::tuple([
            PyValue::from("drive.task_ok"),
            PyValue::None,
            PyValue::tuple([PyValue::from(1), PyValue::from("two")]),
            PyValue::dict([("k", "v")]),
        ]);
        assert_eq!(
            hex(&dumps(&data).unwrap()),
            "8005952a00000000000000288c0d64726976652e7461736b5f6f6b944e4b018c0374776f9486947d948c016b948c0176947374942e"
        );
    }

    #[test]
    fn shared_singletons_are_fetched_from_the_memo() {
        let v = PyValue::tuple([
            PyValue::from("a"),
            PyValue::from("a"),
            PyValue::from("ab"),
            PyValue::from("ab"),
        ]);
        // 'a' twice is one object (BINGET 0); 'ab' twice is two.
        assert_eq!(
            hex(&dumps(&v).unwrap()),
            "8005951400000000000000288c01619468008c026162948c0261629474942e"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        let bad = PyValue::dict([(PyValue::list([1]), PyValue::None)]);
        assert_eq!(
            dumps(&bad),
            Err(WriteError::UnhashableKey { key: "[1]".into() })
        );
        let mut deep = PyValue::None;
        for _ in 0..=MAX_DEPTH {
            deep = PyValue::list([deep]);
        }
        assert_eq!(dumps(&deep), Err(WriteError::TooDeep));
    }
}
