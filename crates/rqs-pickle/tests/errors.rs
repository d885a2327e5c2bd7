//! One or more inputs for every `Error` variant, through both public entry points.

use rqs_pickle::{Error, Meta, set_int};

/// `Meta::parse` and `set_int` must refuse `bytes` with the same error.
fn refused(bytes: &[u8]) -> Error {
    let parse = Meta::parse(bytes).expect_err("parse accepted bad input");
    let patch = set_int(bytes, "repeat", 1).expect_err("set_int accepted bad input");
    assert_eq!(parse, patch);
    // Every error renders a message.
    assert!(!parse.to_string().is_empty());
    parse
}

#[test]
fn truncated() {
    assert_eq!(refused(b""), Error::Truncated { offset: 0 });
    assert_eq!(refused(b"\x80\x05}"), Error::Truncated { offset: 3 });
    assert_eq!(refused(b"}K"), Error::Truncated { offset: 1 });
    assert_eq!(
        refused(b"}X\x05\x00\x00\x00abc"),
        Error::Truncated { offset: 1 }
    );
    assert_eq!(refused(b"}I12"), Error::Truncated { offset: 1 });
    // A length that cannot be satisfied is not allocated.
    assert_eq!(
        refused(b"}\x8e\xff\xff\xff\xff\xff\xff\xff\x7f"),
        Error::Truncated { offset: 1 }
    );
    let msg = Error::Truncated { offset: 7 }.to_string();
    assert!(msg.contains("truncated") && msg.contains('7'), "{msg}");
}

#[test]
fn unknown_opcode() {
    assert_eq!(
        refused(b"\xff"),
        Error::UnknownOpcode {
            opcode: 0xff,
            offset: 0
        }
    );
    assert_eq!(
        refused(b"\x80\x05}\x00."),
        Error::UnknownOpcode {
            opcode: 0x00,
            offset: 3
        }
    );
    let msg = refused(b"}z.").to_string();
    assert!(msg.contains("0x7a") && msg.contains("offset 1"), "{msg}");
}

#[test]
fn stack_underflow() {
    assert_eq!(
        refused(b"."),
        Error::StackUnderflow {
            opcode: b'.',
            offset: 0
        }
    );
    assert_eq!(
        refused(b"}Ns."),
        Error::StackUnderflow {
            opcode: b's',
            offset: 2
        }
    );
    // The MARK fences the stack: SETITEM cannot reach the dict below it.
    assert_eq!(
        refused(b"}(NNs."),
        Error::StackUnderflow {
            opcode: b's',
            offset: 4
        }
    );
    assert_eq!(
        refused(b"\x86."),
        Error::StackUnderflow {
            opcode: 0x86,
            offset: 0
        }
    );
    assert!(refused(b"2").to_string().contains("DUP"));
    // POP with nothing above the last MARK and no MARK.
    assert_eq!(
        refused(b"0"),
        Error::StackUnderflow {
            opcode: b'0',
            offset: 0
        }
    );
    // PUT needs an object.
    assert_eq!(
        refused(b"q\x00"),
        Error::StackUnderflow {
            opcode: b'q',
            offset: 0
        }
    );
    // OBJ needs at least the class above its MARK.
    assert_eq!(
        refused(b"}(o."),
        Error::StackUnderflow {
            opcode: b'o',
            offset: 2
        }
    );
}

#[test]
fn mark_missing() {
    assert_eq!(
        refused(b"}u."),
        Error::MarkMissing {
            opcode: b'u',
            offset: 1
        }
    );
    assert_eq!(
        refused(b"d."),
        Error::MarkMissing {
            opcode: b'd',
            offset: 0
        }
    );
    assert!(refused(b"}1.").to_string().contains("POP_MARK"));
}

#[test]
fn memo_key_missing() {
    assert_eq!(
        refused(b"}h\x03."),
        Error::MemoKeyMissing {
            index: 3,
            opcode: b'h',
            offset: 1
        }
    );
    assert_eq!(
        refused(b"}g12\n."),
        Error::MemoKeyMissing {
            index: 12,
            opcode: b'g',
            offset: 1
        }
    );
    assert_eq!(
        refused(b"}j\x00\x00\x01\x00."),
        Error::MemoKeyMissing {
            index: 65536,
            opcode: b'j',
            offset: 1
        }
    );
    // MEMOIZE numbers by the count of memo entries, not the largest index.
    assert_eq!(
        refused(b"}q\x05\x94h\x02."),
        Error::MemoKeyMissing {
            index: 2,
            opcode: b'h',
            offset: 4
        }
    );
}

#[test]
fn unsupported_protocol() {
    assert_eq!(
        refused(b"\x80\x06}."),
        Error::UnsupportedProtocol {
            protocol: 6,
            offset: 0
        }
    );
}

#[test]
fn bad_frame() {
    // Longer than the data.
    assert!(matches!(
        refused(b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}."),
        Error::BadFrame { offset: 2, .. }
    ));
    // An opcode's argument runs past the frame end (M's two bytes, one inside).
    assert!(matches!(
        refused(b"\x80\x04\x95\x04\x00\x00\x00\x00\x00\x00\x00}(M\x01\x00X\x01\x00\x00\x00aeu."),
        Error::BadFrame { offset: 13, .. }
    ));
    // A text argument runs past the frame end.
    assert!(matches!(
        refused(b"\x95\x03\x00\x00\x00\x00\x00\x00\x00}I1\n."),
        Error::BadFrame { offset: 10, .. }
    ));
    // A new frame starts while the current one still has bytes.
    assert!(matches!(
        refused(b"\x95\x0b\x00\x00\x00\x00\x00\x00\x00}\x95\x01\x00\x00\x00\x00\x00\x00\x00.."),
        Error::BadFrame { offset: 10, .. }
    ));
    // A length beyond usize/u64 sense.
    assert!(matches!(
        refused(b"\x95\xff\xff\xff\xff\xff\xff\xff\xff}."),
        Error::BadFrame { offset: 0, .. }
    ));
}

#[test]
fn frames_that_are_legal() {
    // An argument may start exactly where a frame ends (the pure-Python unpickler reads
    // on from the unframed stream), and a frame may start right after another.
    let ok = b"\x95\x02\x00\x00\x00\x00\x00\x00\x00}X\x06\x00\x00\x00repeatK\x05s.";
    assert!(Meta::parse(ok).is_ok());
    let two = b"\x95\x01\x00\x00\x00\x00\x00\x00\x00}\x95\x01\x00\x00\x00\x00\x00\x00\x00.";
    assert!(Meta::parse(two).is_ok());
    // A FRAME opcode that is the last thing in the current frame.
    let nested = b"\x95\x0a\x00\x00\x00\x00\x00\x00\x00}\x95\x01\x00\x00\x00\x00\x00\x00\x00.";
    assert!(Meta::parse(nested).is_ok());
}

#[test]
fn invalid_argument() {
    let cases: &[(&[u8], u8)] = &[
        (b"(dp0\nVrepeat\np1\nI1x\ns.", b'I'),
        (b"(dp0\nVrepeat\np1\nI010\ns.", b'I'),
        (b"(dp0\nVrepeat\np1\nI-0\ns.", b'I'),
        (b"(dp0\nVrepeat\np1\nL12x\ns.", b'L'),
        (b"(dp0\nVrepeat\np1\nF1e999\ns.", b'F'),
        (b"(dp0\nVrepeat\np1\nFabc\ns.", b'F'),
        (b"(dp0\nS'repeat\np1\nI1\ns.", b'S'),
        (b"(dp0\nS'\\x4'\np1\nI1\ns.", b'S'),
        (b"(dp0\nS'caf\xe9'\np1\nI1\ns.", b'S'),
        (b"(dp0\nVa\\u12\np1\nI1\ns.", b'V'),
        (b"}T\xff\xff\xff\xff.", b'T'),
        (b"}U\x01\xff.", b'U'),
        (b"}\x8b\xff\xff\xff\xff.", 0x8b),
        (b"}X\x01\x00\x00\x00\xff.", b'X'),
        (b"}\x8c\x03\xed\xa0.", 0x8c),
        (b"}p-1\n.", b'p'),
        (b"}gx\n.", b'g'),
        (b"}cmod\xff\nname\n.", b'c'),
        (b"}(imod\xe9\nname\n.", b'i'),
        (b"}\x82\x00.", 0x82),
        (b"}\x84\xff\xff\xff\xff.", 0x84),
    ];
    for (bytes, opcode) in cases {
        match refused(bytes) {
            Error::InvalidArgument { opcode: got, .. } => {
                assert_eq!(got, *opcode, "{bytes:?}");
            }
            other => panic!("{bytes:?}: {other:?}"),
        }
    }
    let msg = refused(b"}U\x01\xff.").to_string();
    assert!(
        msg.contains("SHORT_BINSTRING") && msg.contains("ASCII"),
        "{msg}"
    );
}

#[test]
fn wrong_type() {
    let cases: &[(&[u8], u8)] = &[
        (b"}Na.", b'a'),                  // APPEND to a dict
        (b"}(Ne.", b'e'),                 // APPENDS to a dict
        (b"}(N\x90.", 0x90),              // ADDITEMS to a dict
        (b"]NNs.", b's'),                 // SETITEM on a list
        (b")(NNu.", b'u'),                // SETITEMS on a tuple
        (b"}]Ns.", b's'),                 // unhashable key
        (b"(]Nd.", b'd'),                 // unhashable key in DICT
        (b"}]\x85Ns.", b's'),             // a tuple holding a list is unhashable too
        (b"((]tNd.", b'd'),               // ... also when built by TUPLE
        (b"\x8f(]\x90.", 0x90),           // unhashable set element
        (b"(]\x91.", 0x91),               // unhashable frozenset element
        (b"}}b.", b'b'),                  // BUILD on a dict
        (b"N)R.", b'R'),                  // calling None
        (b"c_codecs\nencode\n]R.", b'R'), // REDUCE args not a tuple
        (b"K\x01K\x02\x93.", 0x93),       // STACK_GLOBAL with ints
        (b"N)\x81.", 0x81),               // NEWOBJ on None
        (b"cm\nC\n)N\x92.", 0x92),        // NEWOBJ_EX kwargs not a dict
        (b"(N)o.", b'o'),                 // OBJ class is None
    ];
    for (bytes, opcode) in cases {
        match refused(bytes) {
            Error::WrongType { opcode: got, .. } => assert_eq!(got, *opcode, "{bytes:?}"),
            other => panic!("{bytes:?}: {other:?}"),
        }
    }
}

#[test]
fn odd_item_count() {
    assert_eq!(
        refused(b"(Nd."),
        Error::OddItemCount {
            opcode: b'd',
            offset: 2
        }
    );
    assert_eq!(
        refused(b"}(NNNu."),
        Error::OddItemCount {
            opcode: b'u',
            offset: 5
        }
    );
}

#[test]
fn out_of_band_buffer() {
    assert_eq!(
        refused(b"\x80\x05}\x97."),
        Error::OutOfBandBuffer {
            opcode: 0x97,
            offset: 3
        }
    );
    assert_eq!(
        refused(b"\x80\x05}\x98."),
        Error::OutOfBandBuffer {
            opcode: 0x98,
            offset: 3
        }
    );
}

#[test]
fn persistent_id() {
    assert_eq!(
        refused(b"}Pid\n."),
        Error::PersistentId {
            opcode: b'P',
            offset: 1
        }
    );
    assert_eq!(
        refused(b"}NQ."),
        Error::PersistentId {
            opcode: b'Q',
            offset: 2
        }
    );
}

#[test]
fn not_a_dict() {
    assert_eq!(refused(b"]."), Error::NotADict { offset: 1 });
    assert_eq!(refused(b"N."), Error::NotADict { offset: 1 });
    assert_eq!(refused(b"\x80\x02K\x05."), Error::NotADict { offset: 4 });
    // pickle.dumps(collections.OrderedDict(repeat=1), protocol=2): a REDUCE result.
    let od = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x06\x00\x00\x00repeatq\x02K\x01s.";
    assert_eq!(
        refused(od),
        Error::NotADict {
            offset: od.len() - 1
        }
    );
    // A dict subclass is not a plain dict either.
    let sub = b"\x80\x02cm\nD\n)\x81}X\x01\x00\x00\x00aK\x01sb.";
    assert!(matches!(refused(sub), Error::NotADict { .. }));
}

#[test]
fn trailing_bytes() {
    assert_eq!(
        refused(b"}.."),
        Error::TrailingBytes {
            offset: 1,
            count: 1
        }
    );
    assert_eq!(
        refused(b"\x80\x05}.\n\n\n"),
        Error::TrailingBytes {
            offset: 3,
            count: 3
        }
    );
    // Also inside a frame.
    assert_eq!(
        refused(b"\x95\x03\x00\x00\x00\x00\x00\x00\x00}.N"),
        Error::TrailingBytes {
            offset: 10,
            count: 1
        }
    );
}

#[test]
fn errors_are_comparable_and_cloneable() {
    let e = refused(b"\xff");
    assert_eq!(e.clone(), e);
    let dynamic: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
    assert!(dynamic.to_string().contains("unknown opcode"));
}
