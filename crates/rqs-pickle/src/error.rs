//! The crate's error type.

use crate::op;

/// Why a byte string was refused.
///
/// Every variant describes something wrong with (or unsupported in) the input; offsets are
/// byte offsets into the pickle, and `opcode` is the opcode byte being decoded when the
/// problem was found (its `pickletools` name is part of the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The data ends before the opcode starting at `offset` is complete, or before any STOP.
    #[error("pickle is truncated: the opcode at offset {offset} runs past the end of the data")]
    Truncated {
        /// Offset of the opcode that could not be read in full (the data length when the
        /// data ends where an opcode was expected).
        offset: usize,
    },

    /// A byte that is not an opcode of protocols 0 to 5.
    #[error("unknown opcode byte 0x{opcode:02x} at offset {offset}")]
    UnknownOpcode {
        /// The offending byte.
        opcode: u8,
        /// Where it is.
        offset: usize,
    },

    /// An opcode needs more objects than the stack holds above the last MARK.
    #[error("stack underflow: {} at offset {offset} needs more objects than the stack holds", op::name(*.opcode))]
    StackUnderflow {
        /// The opcode that underflowed.
        opcode: u8,
        /// Where it is.
        offset: usize,
    },

    /// An opcode needs a MARK on the stack and there is none.
    #[error("{} at offset {offset} needs a MARK but none is on the stack", op::name(*.opcode))]
    MarkMissing {
        /// The opcode that looked for a MARK.
        opcode: u8,
        /// Where it is.
        offset: usize,
    },

    /// A GET-family opcode names a memo slot that was never filled.
    #[error("memo key {index} is missing ({} at offset {offset})", op::name(*.opcode))]
    MemoKeyMissing {
        /// The memo index asked for.
        index: u64,
        /// The GET-family opcode.
        opcode: u8,
        /// Where it is.
        offset: usize,
    },

    /// PROTO names a protocol newer than 5.
    #[error("unsupported pickle protocol {protocol} (PROTO at offset {offset})")]
    UnsupportedProtocol {
        /// The protocol number found.
        protocol: u8,
        /// Where the PROTO opcode is.
        offset: usize,
    },

    /// Framing (protocol 4+) is inconsistent: a read crosses the end of a frame, a frame
    /// starts before the previous one is used up, or a frame is longer than the data.
    #[error("bad frame at offset {offset}: {reason}")]
    BadFrame {
        /// Offset of the opcode during which the problem showed.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },

    /// An opcode argument is malformed (bad decimal text, negative length, invalid UTF-8,
    /// non-ASCII legacy string, bad escape, ...).
    #[error("invalid argument to {} at offset {offset}: {reason}", op::name(*.opcode))]
    InvalidArgument {
        /// The opcode whose argument is bad.
        opcode: u8,
        /// Where it is.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },

    /// An opcode is applied to an object that cannot take it (APPEND to a dict, BUILD on a
    /// list, STACK_GLOBAL with a non-str, unhashable dict key, ...). Python would fail too.
    #[error("{} at offset {offset} cannot work here: {reason}", op::name(*.opcode))]
    WrongType {
        /// The opcode.
        opcode: u8,
        /// Where it is.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },

    /// DICT or SETITEMS found an odd number of objects above the MARK.
    #[error("{} at offset {offset} found an odd number of objects above its MARK", op::name(*.opcode))]
    OddItemCount {
        /// DICT or SETITEMS.
        opcode: u8,
        /// Where it is.
        offset: usize,
    },

    /// NEXT_BUFFER / READONLY_BUFFER: out-of-band buffers cannot come from a stored string.
    #[error("out-of-band buffer opcode {} at offset {offset} is not supported", op::name(*.opcode))]
    OutOfBandBuffer {
        /// The buffer opcode.
        opcode: u8,
        /// Where it is.
        offset: usize,
    },

    /// PERSID / BINPERSID: plain `pickle.loads` cannot load persistent ids.
    #[error("persistent id opcode {} at offset {offset} is not supported", op::name(*.opcode))]
    PersistentId {
        /// The persistent-id opcode.
        opcode: u8,
        /// Where it is.
        offset: usize,
    },

    /// The object returned at STOP is not a dict built by EMPTY_DICT or DICT.
    #[error("the pickled object (STOP at offset {offset}) is not a plain dict")]
    NotADict {
        /// Offset of the STOP opcode.
        offset: usize,
    },

    /// The object returned at STOP is not a 4-tuple, as RQ's job `data` is.
    #[error(
        "the pickled object (STOP at offset {offset}) is not a (function, instance, args, kwargs) tuple"
    )]
    NotACall {
        /// Offset of the STOP opcode.
        offset: usize,
    },

    /// Bytes follow the STOP opcode.
    #[error("{count} trailing byte(s) after the STOP opcode at offset {offset}")]
    TrailingBytes {
        /// Offset of the STOP opcode.
        offset: usize,
        /// How many bytes follow it.
        count: usize,
    },
}
