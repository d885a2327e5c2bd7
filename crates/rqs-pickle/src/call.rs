//! Reads RQ's job `data`: the pickled tuple `(func_name, instance, args, kwargs)`, for
//! display. The same symbolic walk as [`Meta::parse`](crate::Meta::parse): nothing is
//! built, and every value that is not a primitive comes back as [`Value::Opaque`].

use crate::{Error, Value, machine};

/// The call a job makes, as far as the walk can tell without running Python code.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Call {
    /// The pickle protocol.
    pub protocol: u8,
    /// The function's dotted name (a [`Value::Str`] for every job RQ writes).
    pub func: Value,
    /// The object of a method call, [`Value::None`] for a plain function.
    pub instance: Value,
    /// Positional arguments in order; `None` when they are not a plain tuple or list.
    pub args: Option<Vec<Value>>,
    /// Keyword arguments with str keys, in insertion order; `None` when they are not a
    /// plain dict.
    pub kwargs: Option<Vec<(String, Value)>>,
}

impl Call {
    /// Walks the (already decompressed) pickle of a job's `data`.
    ///
    /// # Errors
    /// What [`Meta::parse`](crate::Meta::parse) reports for unreadable pickles, and
    /// [`Error::NotACall`] when the pickled object is not a 4-tuple.
    pub fn parse(bytes: &[u8]) -> Result<Call, Error> {
        let a = machine::analyze_call(bytes)?;
        Ok(Call {
            protocol: a.protocol,
            func: a.func,
            instance: a.instance,
            args: a.args,
            kwargs: a.kwargs,
        })
    }

    /// The function name, when it is a str.
    pub fn func_name(&self) -> Option<&str> {
        self.func.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn reads_what_rq_pickles_at_every_protocol() {
        // pickle.dumps(('rqs_interop_jobs.add', None, (1, 2), {}), protocol=p)
        for (protocol, data) in [
            (
                2,
                "80022858140000007271735f696e7465726f705f6a6f62732e61646471004e4b014b028671017d71027471032e",
            ),
            (
                4,
                "8004952400000000000000288c147271735f696e7465726f705f6a6f62732e616464944e4b014b0286947d9474942e",
            ),
            (
                5,
                "8005952400000000000000288c147271735f696e7465726f705f6a6f62732e616464944e4b014b0286947d9474942e",
            ),
        ] {
            let call = Call::parse(&hex(data)).unwrap();
            assert_eq!(call.protocol, protocol);
            assert_eq!(call.func_name(), Some("rqs_interop_jobs.add"));
            assert_eq!(call.instance, Value::None);
            assert_eq!(call.args, Some(vec![Value::Int(1), Value::Int(2)]));
            assert_eq!(call.kwargs, Some(vec![]));
        }
    }

    #[test]
    fn list_arguments_keep_their_order_and_containers_stay_opaque() {
        // pickle.dumps(('m.f', None, ['x', [1, 2], 3.5, b'\x00', True, None, 2**70],
        //               {'k': 'v', 'n': 7}), protocol=5)
        let data = hex(
            "8005954700000000000000288c036d2e66944e5d94288c0178945d94284b014b026547400c00000000000043010094884e8a09000000000000000040657d94288c016b948c0176948c016e944b077574942e",
        );
        let call = Call::parse(&data).unwrap();
        assert_eq!(call.func_name(), Some("m.f"));
        let args = call.args.unwrap();
        assert_eq!(args.len(), 7);
        assert_eq!(args[0], Value::Str("x".into()));
        assert_eq!(args[1], Value::Opaque);
        assert_eq!(args[2], Value::Float(3.5));
        assert_eq!(args[3], Value::Bytes(vec![0]));
        assert_eq!(args[4], Value::Bool(true));
        assert_eq!(args[5], Value::None);
        assert!(matches!(args[6], Value::BigInt(_)));
        assert_eq!(
            call.kwargs.unwrap(),
            [
                ("k".to_owned(), Value::Str("v".into())),
                ("n".to_owned(), Value::Int(7))
            ]
        );
    }

    #[test]
    fn anything_else_is_refused() {
        // A dict (a meta) and a 3-tuple are not job data; garbage is not a pickle.
        assert!(matches!(
            Call::parse(b"\x80\x02}q\x00."),
            Err(Error::NotACall { .. })
        ));
        assert!(matches!(
            Call::parse(b"\x80\x02K\x01K\x02K\x03\x87."),
            Err(Error::NotACall { .. })
        ));
        assert!(Call::parse(b"not a pickle").is_err());
        assert!(matches!(
            Call::parse(b"\x80\x02(NNNNt.x"),
            Err(Error::TrailingBytes { .. })
        ));
        // Arguments that are an object, not a tuple: the call reads, the args do not.
        let call = Call::parse(b"\x80\x02(X\x01\x00\x00\x00fNcbuiltins\nobject\n)\x81}t.").unwrap();
        assert_eq!(call.func_name(), Some("f"));
        assert_eq!(call.args, None);
        assert_eq!(call.kwargs, Some(vec![]));
    }
}
