//! JSON text to [`PyValue`], as Python's `json.loads` builds it.

use crate::write::MAX_DEPTH;
use crate::{PyInt, PyValue};

/// Why a text is not JSON [`PyValue::from_json`] accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {offset}: {reason}")]
pub struct JsonError {
    /// Where the problem is.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

impl PyValue {
    /// Parses RFC 8259 JSON into the value Python's `json.loads` returns: objects become
    /// dicts (a repeated key keeps its first position and its last value), arrays lists,
    /// integers ints of any size, other numbers floats (correctly rounded, `1e400` is
    /// `inf`).
    ///
    /// Stricter than `json.loads` where Rust cannot follow: `NaN`/`Infinity` are not
    /// accepted (they are not JSON), nor are lone surrogates (`"\ud800"`), nor integers
    /// of more than 4300 digits (Python 3.11 refuses them too).
    ///
    /// # Errors
    /// [`JsonError`] with the byte offset of the problem.
    pub fn from_json(text: &str) -> Result<PyValue, JsonError> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(p.err("unexpected text after the value"));
        }
        Ok(v)
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, reason: impl Into<String>) -> JsonError {
        JsonError {
            offset: self.i,
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Result<(), JsonError> {
        if self.peek() == Some(b) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(format!("expected {:?}", char::from(b))))
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyValue, JsonError> {
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(PyValue::Str),
            Some(b't') => self.word("true", PyValue::Bool(true)),
            Some(b'f') => self.word("false", PyValue::Bool(false)),
            Some(b'n') => self.word("null", PyValue::None),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expected a JSON value")),
        }
    }

    fn word(&mut self, w: &str, v: PyValue) -> Result<PyValue, JsonError> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(self.err("expected a JSON value"))
        }
    }

    fn nested(&self, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            Err(self.err(format!("nested more than {MAX_DEPTH} deep")))
        } else {
            Ok(())
        }
    }

    fn object(&mut self, depth: usize) -> Result<PyValue, JsonError> {
        self.nested(depth)?;
        self.eat(b'{')?;
        let mut pairs: Vec<(PyValue, PyValue)> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(PyValue::Dict(pairs));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let key = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            let value = self.value(depth)?;
            match index.get(&key) {
                Some(&at) => pairs[at].1 = value,
                None => {
                    index.insert(key.clone(), pairs.len());
                    pairs.push((PyValue::Str(key), value));
                }
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(PyValue::Dict(pairs));
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<PyValue, JsonError> {
        self.nested(depth)?;
        self.eat(b'[')?;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(PyValue::List(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(PyValue::List(items));
                }
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
    }

    fn number(&mut self) -> Result<PyValue, JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err("expected a digit")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.i += 1;
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.err("expected a digit after '.'"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.err("expected a digit in the exponent"));
            }
            self.digits();
        }
        // Only ASCII was consumed.
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default();
        if integer {
            text.parse::<PyInt>()
                .map(PyValue::Int)
                .map_err(|e| JsonError {
                    offset: start,
                    reason: format!("integer {e}"),
                })
        } else {
            text.parse::<f64>()
                .map(PyValue::Float)
                .map_err(|e| JsonError {
                    offset: start,
                    reason: e.to_string(),
                })
        }
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let hex = self
            .s
            .get(self.i..self.i + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.err("expected four hex digits after \\u"))?;
        self.i += 4;
        u32::from_str_radix(hex, 16).map_err(|e| self.err(e.to_string()))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.eat(b'"')?;
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control character.
            let start = self.i;
            while self
                .peek()
                .is_some_and(|b| b != b'"' && b != b'\\' && b >= 0x20)
            {
                self.i += 1;
            }
            let run = std::str::from_utf8(&self.s[start..self.i])
                .map_err(|_| self.err("invalid UTF-8"))?;
            out.push_str(run);
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let escape = self.peek().ok_or_else(|| self.err("unterminated string"))?;
                    self.i += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                Some(_) => return Err(self.err("control character in a string")),
            }
        }
    }

    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let high = self.hex4()?;
        let code = match high {
            0xd800..=0xdbff => {
                if !self.s[self.i..].starts_with(b"\\u") {
                    return Err(self.err("lone surrogate (Rust strings cannot hold one)"));
                }
                self.i += 2;
                let low = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&low) {
                    return Err(self.err("lone surrogate (Rust strings cannot hold one)"));
                }
                0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00)
            }
            0xdc00..=0xdfff => {
                return Err(self.err("lone surrogate (Rust strings cannot hold one)"));
            }
            c => c,
        };
        char::from_u32(code).ok_or_else(|| self.err("invalid code point"))
    }
}

#[cfg(feature = "serde_json")]
impl From<&serde_json::Value> for PyValue {
    /// `null`, booleans, numbers (integers up to `u64`, else floats), strings, arrays and
    /// objects, in the map's own key order. For integers beyond `u64` or Python's key order
    /// use [`PyValue::from_json`] on the text.
    fn from(v: &serde_json::Value) -> Self {
        use serde_json::Value;
        match v {
            Value::Null => PyValue::None,
            Value::Bool(b) => PyValue::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    PyValue::from(i)
                } else if let Some(u) = n.as_u64() {
                    PyValue::from(u)
                } else {
                    PyValue::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => PyValue::Str(s.clone()),
            Value::Array(items) => PyValue::List(items.iter().map(PyValue::from).collect()),
            Value::Object(map) => PyValue::Dict(
                map.iter()
                    .map(|(k, v)| (PyValue::Str(k.clone()), PyValue::from(v)))
                    .collect(),
            ),
        }
    }
}

#[cfg(feature = "serde_json")]
impl From<serde_json::Value> for PyValue {
    fn from(v: serde_json::Value) -> Self {
        PyValue::from(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_json_loads() {
        let v = PyValue::from_json(
            r#" {"a": [1, -2.5, 1e400, true, null, "x\u00e9\ud83d\ude00\n"],
                 "big": 123456789012345678901234567890, "a": 0, "neg": -0} "#,
        )
        .unwrap();
        assert_eq!(
            v,
            PyValue::dict([
                (PyValue::from("a"), PyValue::from(0)),
                (
                    PyValue::from("big"),
                    PyValue::Int("123456789012345678901234567890".parse().unwrap())
                ),
                (PyValue::from("neg"), PyValue::from(0)),
            ])
        );
        assert_eq!(
            PyValue::from_json("[1e400, -0.0]").unwrap().repr(),
            "[inf, -0.0]"
        );
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "",
            "hello",
            "01",
            "1.",
            ".5",
            "+1",
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "'x'",
            "\"\\ud800\"",
            "\"\\x41\"",
            "\"a\tb\"",
            "NaN",
            "Infinity",
            "[1] 2",
            "\"open",
        ] {
            assert!(PyValue::from_json(bad).is_err(), "{bad:?} was accepted");
        }
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(PyValue::from_json(&deep).is_err());
    }
}
