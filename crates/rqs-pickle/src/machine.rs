//! The symbolic unpickler: runs every opcode's stack effect without building Python
//! objects, keeping primitive values and an identity for everything else.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::rc::Rc;

use crate::reader::{Frame, Reader};
use crate::text::{self, IntLine, Num, PyStr};
use crate::{Error, Value, op};

type ObjId = usize;

/// A str object's text with its hash computed once, so that a long key assigned again
/// and again (through the memo) costs no more than it does in Python, which caches str
/// hashes too.
#[derive(Debug, Clone)]
struct Key {
    text: Rc<str>,
    hash: u64,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && (Rc::ptr_eq(&self.text, &other.text) || self.text == other.text)
    }
}

impl Eq for Key {}

/// What the machine knows about an object.
#[derive(Debug, Clone)]
enum Kind {
    /// A primitive other than str; never `Value::Opaque` or `Value::Str`.
    Prim(Value),
    /// A str.
    Str(Key),
    /// A str holding lone surrogates (valid in Python, not in a Rust `String`).
    OddStr,
    /// A dict built by EMPTY_DICT or DICT; the index points into `Machine::dicts`.
    Dict(usize),
    List,
    /// A tuple, and whether it is hashable (no list, dict, set or bytearray inside).
    Tuple(bool),
    Set,
    FrozenSet,
    ByteArray,
    /// Anything made by code the machine cannot run (REDUCE, NEWOBJ, GLOBAL, ...).
    Opaque,
}

impl Kind {
    fn unhashable(&self) -> bool {
        matches!(
            self,
            Kind::Dict(_) | Kind::List | Kind::Set | Kind::ByteArray | Kind::Tuple(false)
        )
    }
}

#[derive(Debug)]
struct Obj {
    kind: Kind,
    /// Byte span of the int opcode that pushed this object, if one did.
    literal: Option<(usize, usize)>,
    /// Reachable more than once (DUP or memo), so rewriting its opcode would change other
    /// references too.
    shared: bool,
}

/// The str-keyed assignments made to one dict, in Python's insertion order.
#[derive(Debug, Default)]
struct DictData {
    entries: Vec<(Key, ObjId)>,
    index: HashMap<Key, usize>,
}

impl DictData {
    fn assign(&mut self, key: Key, value: ObjId) {
        match self.index.get(&key) {
            // A re-assigned key keeps its first position, like a Python dict.
            Some(&i) => {
                if let Some(slot) = self.entries.get_mut(i) {
                    slot.1 = value;
                }
            }
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, value));
            }
        }
    }
}

/// One str-keyed entry of the top-level dict.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: String,
    /// Index into `Analysis::values` (entries holding the same object share one).
    pub(crate) value: usize,
    /// Span of the int opcode that produced the value of the last assignment, when that
    /// opcode can be rewritten without touching anything else.
    pub(crate) literal: Option<(usize, usize)>,
}

/// Everything learned from walking a pickle.
#[derive(Debug, Clone)]
pub(crate) struct Analysis {
    pub(crate) protocol: u8,
    pub(crate) entries: Vec<Entry>,
    pub(crate) values: Vec<Value>,
    pub(crate) index: HashMap<String, usize>,
    /// Offset of the final STOP opcode.
    pub(crate) stop: usize,
    pub(crate) frames: Vec<Frame>,
}

struct Machine<'a> {
    r: Reader<'a>,
    op: u8,
    objs: Vec<Obj>,
    stack: Vec<ObjId>,
    /// Stack heights at each open MARK (CPython's C unpickler keeps marks the same way).
    marks: Vec<usize>,
    memo: HashMap<u64, ObjId>,
    dicts: Vec<DictData>,
    frames: Vec<Frame>,
    proto: Option<u8>,
    max_op_proto: u8,
    hasher: std::collections::hash_map::RandomState,
    /// Items of lists and tuples, kept only when a caller reads them ([`analyze_call`]):
    /// a meta walk does not pay for them.
    items: Option<HashMap<ObjId, Vec<ObjId>>>,
}

pub(crate) fn analyze(data: &[u8]) -> Result<Analysis, Error> {
    let (m, top) = walk(data, false)?;
    m.finish(top)
}

/// The parts of RQ's job `data` tuple `(func_name, instance, args, kwargs)`.
#[derive(Debug, Clone)]
pub(crate) struct CallAnalysis {
    pub(crate) protocol: u8,
    pub(crate) func: Value,
    pub(crate) instance: Value,
    /// `None` when the arguments are not a tuple or list the walk could follow.
    pub(crate) args: Option<Vec<Value>>,
    /// `None` when the keyword arguments are not a plain dict.
    pub(crate) kwargs: Option<Vec<(String, Value)>>,
}

pub(crate) fn analyze_call(data: &[u8]) -> Result<CallAnalysis, Error> {
    let (m, top) = walk(data, true)?;
    let stop = m.r.op_offset;
    let rest = m.r.len() - m.r.pos();
    if rest != 0 {
        return Err(Error::TrailingBytes {
            offset: stop,
            count: rest,
        });
    }
    let parts = match m.kind(top) {
        Kind::Tuple(_) => m.items_of(top).filter(|p| p.len() == 4),
        _ => None,
    };
    let Some(&[func, instance, args, kwargs]) = parts.as_deref() else {
        return Err(Error::NotACall { offset: stop });
    };
    let args = match m.kind(args) {
        Kind::Tuple(_) | Kind::List => m
            .items_of(args)
            .map(|items| items.iter().map(|&i| m.value_of(i)).collect()),
        _ => None,
    };
    let kwargs = match *m.kind(kwargs) {
        Kind::Dict(d) => m.dicts.get(d).map(|data| {
            data.entries
                .iter()
                .map(|(k, v)| (k.text.to_string(), m.value_of(*v)))
                .collect()
        }),
        _ => None,
    };
    Ok(CallAnalysis {
        protocol: m.protocol(),
        func: m.value_of(func),
        instance: m.value_of(instance),
        args,
        kwargs,
    })
}

fn walk(data: &[u8], track_items: bool) -> Result<(Machine<'_>, ObjId), Error> {
    let mut m = Machine {
        r: Reader::new(data),
        op: op::STOP,
        objs: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        dicts: Vec::new(),
        frames: Vec::new(),
        proto: None,
        max_op_proto: 0,
        hasher: std::collections::hash_map::RandomState::new(),
        items: track_items.then(HashMap::new),
    };
    loop {
        m.r.op_offset = m.r.pos();
        if m.r.pos() >= m.r.len() {
            return Err(Error::Truncated {
                offset: m.r.op_offset,
            });
        }
        m.op = m.r.read_u8()?;
        if let Some(top) = m.step()? {
            return Ok((m, top));
        }
    }
}

impl Machine<'_> {
    fn err_invalid(&self, reason: &'static str) -> Error {
        Error::InvalidArgument {
            opcode: self.op,
            offset: self.r.op_offset,
            reason,
        }
    }

    fn err_type(&self, reason: &'static str) -> Error {
        Error::WrongType {
            opcode: self.op,
            offset: self.r.op_offset,
            reason,
        }
    }

    fn underflow(&self) -> Error {
        Error::StackUnderflow {
            opcode: self.op,
            offset: self.r.op_offset,
        }
    }

    fn kind(&self, id: ObjId) -> &Kind {
        &self.objs[id].kind
    }

    /// The primitive value of an object, [`Value::Opaque`] for anything else.
    fn value_of(&self, id: ObjId) -> Value {
        match self.kind(id) {
            Kind::Prim(v) => v.clone(),
            Kind::Str(k) => Value::Str(k.text.to_string()),
            _ => Value::Opaque,
        }
    }

    /// The items of a tracked list or tuple (an empty one has none recorded).
    fn items_of(&self, id: ObjId) -> Option<Vec<ObjId>> {
        let items = self.items.as_ref()?;
        Some(items.get(&id).cloned().unwrap_or_default())
    }

    /// Records the items of the object on top of the stack, when items are tracked.
    fn record_items(&mut self, new: &[ObjId]) {
        if let (Some(items), Some(&top)) = (self.items.as_mut(), self.stack.last()) {
            items.entry(top).or_default().extend_from_slice(new);
        }
    }

    fn protocol(&self) -> u8 {
        self.proto.unwrap_or(self.max_op_proto.min(1))
    }

    fn new_obj(&mut self, kind: Kind, literal: Option<(usize, usize)>) -> ObjId {
        self.objs.push(Obj {
            kind,
            literal,
            shared: false,
        });
        self.objs.len() - 1
    }

    fn push(&mut self, kind: Kind) {
        let id = self.new_obj(kind, None);
        self.stack.push(id);
    }

    fn push_value(&mut self, v: Value) {
        self.push(Kind::Prim(v));
    }

    fn push_str(&mut self, s: PyStr) {
        match s {
            Some(s) => {
                let hash = self.hasher.hash_one(s.as_str());
                self.push(Kind::Str(Key {
                    text: s.into(),
                    hash,
                }));
            }
            None => self.push(Kind::OddStr),
        }
    }

    /// Pushes an int (or bool) and remembers which bytes encoded it.
    fn push_int_literal(&mut self, v: Value, start: usize) {
        let id = self.new_obj(Kind::Prim(v), Some((start, self.r.pos())));
        self.stack.push(id);
    }

    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self) -> Result<ObjId, Error> {
        if self.stack.len() <= self.fence() {
            return Err(self.underflow());
        }
        self.stack.pop().ok_or_else(|| self.underflow())
    }

    fn top(&self) -> Result<ObjId, Error> {
        if self.stack.len() <= self.fence() {
            return Err(self.underflow());
        }
        self.stack.last().copied().ok_or_else(|| self.underflow())
    }

    fn pop_mark(&mut self) -> Result<Vec<ObjId>, Error> {
        let mark = self.marks.pop().ok_or(Error::MarkMissing {
            opcode: self.op,
            offset: self.r.op_offset,
        })?;
        Ok(self.stack.split_off(mark.min(self.stack.len())))
    }

    fn memo_put(&mut self, index: u64) -> Result<(), Error> {
        let id = self.top()?;
        self.objs[id].shared = true;
        self.memo.insert(index, id);
        Ok(())
    }

    fn memo_get(&mut self, index: u64) -> Result<(), Error> {
        let id = *self.memo.get(&index).ok_or(Error::MemoKeyMissing {
            index,
            opcode: self.op,
            offset: self.r.op_offset,
        })?;
        self.stack.push(id);
        Ok(())
    }

    fn read_len4_signed(&mut self) -> Result<usize, Error> {
        let n = i32::from_le_bytes(self.r.read_array()?);
        usize::try_from(n).map_err(|_| self.err_invalid("negative byte count"))
    }

    fn read_len4(&mut self) -> Result<usize, Error> {
        let n = u32::from_le_bytes(self.r.read_array()?);
        usize::try_from(n).map_err(|_| self.err_invalid("length does not fit in memory"))
    }

    fn read_len8(&mut self) -> Result<usize, Error> {
        let n = u64::from_le_bytes(self.r.read_array()?);
        usize::try_from(n).map_err(|_| self.err_invalid("length does not fit in memory"))
    }

    fn push_num(&mut self, n: Num, start: usize) {
        let v = match n {
            Num::Int(i) => Value::Int(i),
            Num::Big(b) => Value::BigInt(b),
        };
        self.push_int_literal(v, start);
    }

    /// Records `d[key] = value` for a dict the machine tracks.
    fn dict_assign(&mut self, dict: ObjId, key: ObjId, value: ObjId) -> Result<(), Error> {
        if self.kind(key).unhashable() {
            return Err(self.err_type("unhashable dict key"));
        }
        if let Kind::Dict(d) = *self.kind(dict)
            && let Kind::Str(s) = self.kind(key)
        {
            let s = s.clone();
            if let Some(data) = self.dicts.get_mut(d) {
                data.assign(s, value);
            }
        }
        Ok(())
    }

    fn set_items(&mut self, target: ObjId, items: &[ObjId]) -> Result<(), Error> {
        if !items.len().is_multiple_of(2) {
            return Err(Error::OddItemCount {
                opcode: self.op,
                offset: self.r.op_offset,
            });
        }
        match self.kind(target) {
            Kind::Dict(_) => {
                for pair in items.chunks_exact(2) {
                    if let [k, v] = *pair {
                        self.dict_assign(target, k, v)?;
                    }
                }
                Ok(())
            }
            // Could be an object with its own __setitem__ (OrderedDict, a dict subclass...).
            Kind::Opaque => Ok(()),
            _ => Err(self.err_type("target does not support item assignment")),
        }
    }

    /// Python hashes a tuple through its items, so one unhashable item spoils it.
    fn push_tuple(&mut self, items: &[ObjId]) {
        let hashable = !items.iter().any(|&i| self.kind(i).unhashable());
        self.push(Kind::Tuple(hashable));
    }

    fn check_hashable(&self, items: &[ObjId]) -> Result<(), Error> {
        if items.iter().any(|&i| self.kind(i).unhashable()) {
            return Err(self.err_type("unhashable set element"));
        }
        Ok(())
    }

    fn expect_callable(&self, id: ObjId) -> Result<(), Error> {
        match self.kind(id) {
            Kind::Opaque => Ok(()),
            _ => Err(self.err_type("object is not callable / not a class")),
        }
    }

    /// APPEND and APPENDS work on a list, or on an object with its own `append`.
    fn expect_list_target(&self) -> Result<(), Error> {
        match self.kind(self.top()?) {
            Kind::List | Kind::Opaque => Ok(()),
            _ => Err(self.err_type("target is not a list")),
        }
    }

    fn expect_tuple(&self, id: ObjId) -> Result<(), Error> {
        match self.kind(id) {
            Kind::Tuple(_) | Kind::Opaque => Ok(()),
            _ => Err(self.err_type("argument list is not a tuple")),
        }
    }

    fn expect_str(&self, id: ObjId) -> Result<(), Error> {
        match self.kind(id) {
            Kind::Str(_) | Kind::OddStr | Kind::Opaque => Ok(()),
            _ => Err(self.err_type("module and name must be str")),
        }
    }

    fn utf8_line(&mut self) -> Result<(), Error> {
        let line = self.r.read_line()?;
        std::str::from_utf8(line).map_err(|_| self.err_invalid("name is not UTF-8"))?;
        Ok(())
    }

    fn ascii_line(&mut self) -> Result<(), Error> {
        let line = self.r.read_line()?;
        if !line.is_ascii() {
            return Err(self.err_invalid("name is not ASCII"));
        }
        Ok(())
    }

    /// Runs one opcode (already read into `self.op`). Returns the STOP object, if any.
    fn step(&mut self) -> Result<Option<ObjId>, Error> {
        let start = self.r.op_offset;
        self.max_op_proto = self.max_op_proto.max(op::introduced_in(self.op));
        match self.op {
            // ---- framing and protocol ----
            op::PROTO => {
                let p = self.r.read_u8()?;
                if p > 5 {
                    return Err(Error::UnsupportedProtocol {
                        protocol: p,
                        offset: start,
                    });
                }
                self.proto.get_or_insert(p);
            }
            op::FRAME => {
                let len_at = self.r.pos();
                let len = u64::from_le_bytes(self.r.read_array()?);
                let frame = self.r.begin_frame(len_at, len)?;
                self.frames.push(frame);
            }
            op::STOP => return self.pop().map(Some),

            // ---- ints ----
            op::INT => {
                let line = self.r.read_line()?;
                match text::parse_int_line(line).map_err(|e| self.err_invalid(e))? {
                    IntLine::Bool(b) => self.push_int_literal(Value::Bool(b), start),
                    IntLine::Num(n) => self.push_num(n, start),
                }
            }
            op::LONG => {
                let line = self.r.read_line()?;
                let n = text::parse_long_line(line).map_err(|e| self.err_invalid(e))?;
                self.push_num(n, start);
            }
            op::BININT => {
                let v = i32::from_le_bytes(self.r.read_array()?);
                self.push_int_literal(Value::Int(v.into()), start);
            }
            op::BININT1 => {
                let v = self.r.read_u8()?;
                self.push_int_literal(Value::Int(v.into()), start);
            }
            op::BININT2 => {
                let v = u16::from_le_bytes(self.r.read_array()?);
                self.push_int_literal(Value::Int(v.into()), start);
            }
            op::LONG1 => {
                let n = usize::from(self.r.read_u8()?);
                let bytes = self.r.read(n)?;
                self.push_num(text::num_from_twos(bytes), start);
            }
            op::LONG4 => {
                let n = self.read_len4_signed()?;
                let bytes = self.r.read(n)?;
                self.push_num(text::num_from_twos(bytes), start);
            }
            op::NEWTRUE => self.push_int_literal(Value::Bool(true), start),
            op::NEWFALSE => self.push_int_literal(Value::Bool(false), start),
            op::NONE => self.push_value(Value::None),

            // ---- floats ----
            op::FLOAT => {
                let line = self.r.read_line()?;
                let f = text::parse_float_line(line).map_err(|e| self.err_invalid(e))?;
                self.push_value(Value::Float(f));
            }
            op::BINFLOAT => {
                let f = f64::from_be_bytes(self.r.read_array()?);
                self.push_value(Value::Float(f));
            }

            // ---- legacy (Python 2) strings: str under the default encoding="ASCII" ----
            op::STRING => {
                let line = self.r.read_line()?;
                let inner = match line {
                    [q @ (b'\'' | b'"'), inner @ .., last] if last == q => inner,
                    _ => return Err(self.err_invalid("STRING argument is not quoted")),
                };
                let bytes = text::escape_decode(inner).map_err(|e| self.err_invalid(e))?;
                let s = text::ascii(&bytes).map_err(|e| self.err_invalid(e))?;
                self.push_str(Some(s));
            }
            op::BINSTRING => {
                let n = self.read_len4_signed()?;
                let bytes = self.r.read(n)?;
                let s = text::ascii(bytes).map_err(|e| self.err_invalid(e))?;
                self.push_str(Some(s));
            }
            op::SHORT_BINSTRING => {
                let n = usize::from(self.r.read_u8()?);
                let bytes = self.r.read(n)?;
                let s = text::ascii(bytes).map_err(|e| self.err_invalid(e))?;
                self.push_str(Some(s));
            }

            // ---- str ----
            op::UNICODE => {
                let line = self.r.read_line()?;
                let s = text::raw_unicode_escape_decode(line).map_err(|e| self.err_invalid(e))?;
                self.push_str(s);
            }
            op::SHORT_BINUNICODE => {
                let n = usize::from(self.r.read_u8()?);
                self.unicode_payload(n)?;
            }
            op::BINUNICODE => {
                let n = self.read_len4()?;
                self.unicode_payload(n)?;
            }
            op::BINUNICODE8 => {
                let n = self.read_len8()?;
                self.unicode_payload(n)?;
            }

            // ---- bytes ----
            op::SHORT_BINBYTES => {
                let n = usize::from(self.r.read_u8()?);
                let b = self.r.read(n)?.to_vec();
                self.push_value(Value::Bytes(b));
            }
            op::BINBYTES => {
                let n = self.read_len4()?;
                let b = self.r.read(n)?.to_vec();
                self.push_value(Value::Bytes(b));
            }
            op::BINBYTES8 => {
                let n = self.read_len8()?;
                let b = self.r.read(n)?.to_vec();
                self.push_value(Value::Bytes(b));
            }
            op::BYTEARRAY8 => {
                let n = self.read_len8()?;
                self.r.read(n)?;
                self.push(Kind::ByteArray);
            }
            op::NEXT_BUFFER | op::READONLY_BUFFER => {
                return Err(Error::OutOfBandBuffer {
                    opcode: self.op,
                    offset: start,
                });
            }

            // ---- containers ----
            op::EMPTY_LIST => self.push(Kind::List),
            op::EMPTY_TUPLE => self.push(Kind::Tuple(true)),
            op::EMPTY_SET => self.push(Kind::Set),
            op::EMPTY_DICT => {
                self.dicts.push(DictData::default());
                self.push(Kind::Dict(self.dicts.len() - 1));
            }
            op::LIST => {
                let items = self.pop_mark()?;
                self.push(Kind::List);
                self.record_items(&items);
            }
            op::TUPLE => {
                let items = self.pop_mark()?;
                self.push_tuple(&items);
                self.record_items(&items);
            }
            op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                let n = usize::from(self.op - op::TUPLE1) + 1;
                let mut items = [0; 3];
                for slot in items.iter_mut().take(n) {
                    *slot = self.pop()?;
                }
                let items = items.get_mut(..n).unwrap_or_default();
                items.reverse();
                self.push_tuple(items);
                self.record_items(items);
            }
            op::FROZENSET => {
                let items = self.pop_mark()?;
                self.check_hashable(&items)?;
                self.push(Kind::FrozenSet);
            }
            op::DICT => {
                let items = self.pop_mark()?;
                self.dicts.push(DictData::default());
                let id = self.new_obj(Kind::Dict(self.dicts.len() - 1), None);
                self.set_items(id, &items)?;
                self.stack.push(id);
            }
            op::SETITEM => {
                let value = self.pop()?;
                let key = self.pop()?;
                let target = self.top()?;
                self.set_items(target, &[key, value])?;
            }
            op::SETITEMS => {
                let items = self.pop_mark()?;
                let target = self.top()?;
                self.set_items(target, &items)?;
            }
            op::APPEND => {
                let item = self.pop()?;
                self.expect_list_target()?;
                self.record_items(&[item]);
            }
            op::APPENDS => {
                let items = self.pop_mark()?;
                self.expect_list_target()?;
                self.record_items(&items);
            }
            op::ADDITEMS => {
                let items = self.pop_mark()?;
                match self.kind(self.top()?) {
                    Kind::Set => self.check_hashable(&items)?,
                    Kind::Opaque => {}
                    _ => return Err(self.err_type("target is not a set")),
                }
            }

            // ---- stack and memo ----
            op::MARK => self.marks.push(self.stack.len()),
            op::POP => {
                // Like CPython: with nothing above the last MARK, POP discards the MARK.
                if self.marks.last() == Some(&self.stack.len()) {
                    self.marks.pop();
                } else {
                    self.pop()?;
                }
            }
            op::POP_MARK => {
                self.pop_mark()?;
            }
            op::DUP => {
                let id = self.top()?;
                self.objs[id].shared = true;
                self.stack.push(id);
            }
            op::PUT => {
                let line = self.r.read_line()?;
                let i = text::parse_memo_index(line).map_err(|e| self.err_invalid(e))?;
                self.memo_put(i)?;
            }
            op::BINPUT => {
                let i = self.r.read_u8()?;
                self.memo_put(i.into())?;
            }
            op::LONG_BINPUT => {
                let i = u32::from_le_bytes(self.r.read_array()?);
                self.memo_put(i.into())?;
            }
            op::MEMOIZE => {
                let i = self.memo.len() as u64;
                self.memo_put(i)?;
            }
            op::GET => {
                let line = self.r.read_line()?;
                let i = text::parse_memo_index(line).map_err(|e| self.err_invalid(e))?;
                self.memo_get(i)?;
            }
            op::BINGET => {
                let i = self.r.read_u8()?;
                self.memo_get(i.into())?;
            }
            op::LONG_BINGET => {
                let i = u32::from_le_bytes(self.r.read_array()?);
                self.memo_get(i.into())?;
            }

            // ---- objects built by Python code: opaque results ----
            op::GLOBAL => {
                self.utf8_line()?;
                self.utf8_line()?;
                self.push(Kind::Opaque);
            }
            op::STACK_GLOBAL => {
                let name = self.pop()?;
                let module = self.pop()?;
                self.expect_str(name)?;
                self.expect_str(module)?;
                self.push(Kind::Opaque);
            }
            op::EXT1 | op::EXT2 | op::EXT4 => {
                let code = match self.op {
                    op::EXT1 => i64::from(self.r.read_u8()?),
                    op::EXT2 => i64::from(u16::from_le_bytes(self.r.read_array()?)),
                    _ => i64::from(i32::from_le_bytes(self.r.read_array()?)),
                };
                if code <= 0 {
                    return Err(self.err_invalid("extension code must be positive"));
                }
                // Resolved through copyreg's extension registry at load time.
                self.push(Kind::Opaque);
            }
            op::REDUCE => {
                let args = self.pop()?;
                let func = self.pop()?;
                self.expect_callable(func)?;
                self.expect_tuple(args)?;
                self.push(Kind::Opaque);
            }
            op::BUILD => {
                self.pop()?;
                match self.kind(self.top()?) {
                    Kind::Opaque => {}
                    _ => return Err(self.err_type("BUILD target has no state to set")),
                }
            }
            op::INST => {
                self.ascii_line()?;
                self.ascii_line()?;
                self.pop_mark()?;
                self.push(Kind::Opaque);
            }
            op::OBJ => {
                let items = self.pop_mark()?;
                let cls = *items.first().ok_or_else(|| self.underflow())?;
                self.expect_callable(cls)?;
                self.push(Kind::Opaque);
            }
            op::NEWOBJ => {
                let args = self.pop()?;
                let cls = self.pop()?;
                self.expect_callable(cls)?;
                self.expect_tuple(args)?;
                self.push(Kind::Opaque);
            }
            op::NEWOBJ_EX => {
                let kwargs = self.pop()?;
                let args = self.pop()?;
                let cls = self.pop()?;
                self.expect_callable(cls)?;
                self.expect_tuple(args)?;
                match self.kind(kwargs) {
                    Kind::Dict(_) | Kind::Opaque => {}
                    _ => return Err(self.err_type("keyword arguments are not a dict")),
                }
                self.push(Kind::Opaque);
            }
            op::PERSID | op::BINPERSID => {
                return Err(Error::PersistentId {
                    opcode: self.op,
                    offset: start,
                });
            }
            other => {
                return Err(Error::UnknownOpcode {
                    opcode: other,
                    offset: start,
                });
            }
        }
        Ok(None)
    }

    fn unicode_payload(&mut self, n: usize) -> Result<(), Error> {
        let bytes = self.r.read(n)?;
        let s = text::utf8_surrogatepass(bytes).map_err(|e| self.err_invalid(e))?;
        self.push_str(s);
        Ok(())
    }

    fn finish(self, top: ObjId) -> Result<Analysis, Error> {
        let stop = self.r.op_offset;
        let rest = self.r.len() - self.r.pos();
        if rest != 0 {
            return Err(Error::TrailingBytes {
                offset: stop,
                count: rest,
            });
        }
        let Kind::Dict(d) = self.objs[top].kind else {
            return Err(Error::NotADict { offset: stop });
        };
        let protocol = self.protocol();
        let mut dicts = self.dicts;
        let data = dicts.get_mut(d).map(std::mem::take).unwrap_or_default();
        let mut values = Vec::new();
        // One Value per object, however many keys refer to it.
        let mut value_of: HashMap<ObjId, usize> = HashMap::new();
        let mut entries = Vec::with_capacity(data.entries.len());
        let mut index = HashMap::with_capacity(data.entries.len());
        for (key, id) in data.entries {
            let obj = &self.objs[id];
            let value = *value_of.entry(id).or_insert_with(|| {
                values.push(match &obj.kind {
                    Kind::Prim(v) => v.clone(),
                    Kind::Str(k) => Value::Str(k.text.to_string()),
                    _ => Value::Opaque,
                });
                values.len() - 1
            });
            let literal = if obj.shared { None } else { obj.literal };
            index.insert(key.text.to_string(), entries.len());
            entries.push(Entry {
                key: key.text.to_string(),
                value,
                literal,
            });
        }
        Ok(Analysis {
            protocol,
            entries,
            values,
            index,
            stop,
            frames: self.frames,
        })
    }
}
