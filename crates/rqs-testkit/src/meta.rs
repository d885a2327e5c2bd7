//! Pickled meta dicts for tests, written the way CPython's protocol 2 writes simple values.

/// A simple Python value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PyValue<'a> {
    /// An int that fits 32 bits.
    Int(i32),
    /// A bool.
    Bool(bool),
    /// A str.
    Str(&'a str),
    /// A float.
    Float(f64),
}

/// `pickle.dumps(dict(pairs), protocol=2)` for simple values (without memo opcodes, which
/// CPython would add; the unpickler needs none).
pub fn pickled_dict(pairs: &[(&str, PyValue<'_>)]) -> Vec<u8> {
    let mut out = vec![0x80, 2, b'}', b'('];
    let text = |out: &mut Vec<u8>, s: &str| {
        out.push(b'X');
        out.extend((s.len() as u32).to_le_bytes());
        out.extend(s.as_bytes());
    };
    for (key, value) in pairs {
        text(&mut out, key);
        match value {
            PyValue::Int(i) => {
                out.push(b'J');
                out.extend(i.to_le_bytes());
            }
            PyValue::Bool(b) => out.push(if *b { 0x88 } else { 0x89 }),
            PyValue::Str(s) => text(&mut out, s),
            PyValue::Float(f) => {
                out.push(b'G');
                out.extend(f.to_be_bytes());
            }
        }
    }
    out.extend([b'u', b'.']);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_with_the_patcher() {
        let bytes = pickled_dict(&[
            ("cron_string", PyValue::Str("0 9 * * *")),
            ("use_local_timezone", PyValue::Bool(true)),
            ("repeat", PyValue::Int(-3)),
        ]);
        let meta = rqs_pickle::Meta::parse(&bytes).unwrap();
        assert_eq!(meta.get("repeat"), Some(&rqs_pickle::Value::Int(-3)));
        assert_eq!(
            meta.get("use_local_timezone"),
            Some(&rqs_pickle::Value::Bool(true))
        );
        assert_eq!(
            meta.get("cron_string"),
            Some(&rqs_pickle::Value::Str("0 9 * * *".into()))
        );
    }
}
