//! `--http-auth-file`: the credentials the status page and `/metrics` require. The file
//! holds one line, `bearer TOKEN` or `basic USER:PASSWORD`; `/healthz` and `/readyz` stay
//! open for probes. The secret never reaches a log line, an error or `Debug`.

use std::io::Read;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The most bytes read of the file: a token or a password, not a document.
const MAX_FILE_BYTES: u64 = 4096;

/// What a request must present.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum HttpAuth {
    /// `Authorization: Bearer TOKEN`.
    Bearer(Vec<u8>),
    /// `Authorization: Basic base64(USER:PASSWORD)`; kept encoded, as requests send it.
    Basic(Vec<u8>),
}

impl std::fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bearer(_) => f.write_str("HttpAuth::Bearer(<secret>)"),
            Self::Basic(_) => f.write_str("HttpAuth::Basic(<secret>)"),
        }
    }
}

/// Reads `--http-auth-file` (a clap value parser, so a bad file is a usage error, exit 2).
/// The messages name the file and what is wrong, never what it holds.
pub(crate) fn read_file(path: &str) -> Result<HttpAuth, String> {
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot read {path}: {e}"))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{path} is longer than {MAX_FILE_BYTES} bytes: it holds one line, `bearer TOKEN` or `basic USER:PASSWORD`"
        ));
    }
    parse(&text).map_err(|why| format!("{path}: {why}"))
}

fn parse(text: &str) -> Result<HttpAuth, &'static str> {
    let line = text.trim();
    if line.is_empty() {
        return Err("the file is empty: write `bearer TOKEN` or `basic USER:PASSWORD` in it");
    }
    if line.contains(['\n', '\r']) {
        return Err(
            "the file holds more than one line: write only `bearer TOKEN` or `basic USER:PASSWORD`",
        );
    }
    let (scheme, secret) = line
        .split_once([' ', '\t'])
        .map(|(s, rest)| (s, rest.trim()))
        .ok_or("the line must be `bearer TOKEN` or `basic USER:PASSWORD` (the word, a space, the secret)")?;
    if secret.is_empty() {
        return Err("the secret after the first word is empty");
    }
    if secret.chars().any(char::is_control) {
        return Err("the secret holds a control character");
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        // RFC 6750's token68 characters: anything else could not be sent in a header.
        let token68 = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
        if !secret.bytes().all(token68) {
            return Err("a bearer token may hold only A-Z a-z 0-9 - . _ ~ + / =");
        }
        Ok(HttpAuth::Bearer(secret.as_bytes().to_vec()))
    } else if scheme.eq_ignore_ascii_case("basic") {
        let (user, password) = secret
            .split_once(':')
            .ok_or("basic credentials are USER:PASSWORD, with a colon")?;
        if user.is_empty() || password.is_empty() {
            return Err("basic credentials need both a user and a password");
        }
        Ok(HttpAuth::Basic(base64(secret.as_bytes()).into_bytes()))
    } else {
        Err("the first word must be `bearer` or `basic`")
    }
}

/// Standard base64 with padding (RFC 4648), as browsers and Prometheus send Basic
/// credentials.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Compares in time that depends on `expected`'s length only, not on where `given`
/// differs, so that a client cannot find the secret a byte at a time.
fn same(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        diff |= given.get(i).copied().unwrap_or(0) ^ e;
    }
    std::hint::black_box(diff) == 0
}

impl HttpAuth {
    fn scheme(&self) -> &'static str {
        match self {
            Self::Bearer(_) => "Bearer",
            Self::Basic(_) => "Basic",
        }
    }

    /// Whether the request's `Authorization` header holds the credentials.
    pub(crate) fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return false;
        };
        let value = value.as_bytes();
        let scheme = self.scheme().as_bytes();
        // `Scheme credentials`; the scheme is case-insensitive (RFC 9110, 11.1).
        if value.len() <= scheme.len()
            || !value[..scheme.len()].eq_ignore_ascii_case(scheme)
            || value[scheme.len()] != b' '
        {
            return false;
        }
        let given = value[scheme.len() + 1..].trim_ascii();
        match self {
            Self::Bearer(secret) | Self::Basic(secret) => same(given, secret),
        }
    }

    /// The `401` that asks for the credentials.
    pub(crate) fn challenge(&self) -> Response {
        let challenge = match self {
            Self::Bearer(_) => "Bearer realm=\"rqs\"",
            Self::Basic(_) => "Basic realm=\"rqs\", charset=\"UTF-8\"",
        };
        (
            StatusCode::UNAUTHORIZED,
            [
                (
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            "401 unauthorized: this page needs the credentials of rqs's --http-auth-file \
             (/healthz and /readyz are open)\n",
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn base64_is_the_standard_alphabet_with_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        // RFC 7617's example.
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn a_bearer_token_admits_only_itself() {
        let auth = parse("  Bearer s3cr3t-token \n").unwrap();
        assert!(auth.admits(&headers("Bearer s3cr3t-token")));
        assert!(auth.admits(&headers("bearer  s3cr3t-token")));
        for wrong in [
            "Bearer s3cr3t-toke",
            "Bearer s3cr3t-tokenn",
            "Bearer ",
            "Bearer",
            "Basic s3cr3t-token",
            "s3cr3t-token",
        ] {
            assert!(!auth.admits(&headers(wrong)), "{wrong}");
        }
        assert!(!auth.admits(&HeaderMap::new()));
    }

    #[test]
    fn basic_credentials_admit_only_themselves() {
        let auth = parse("basic ops:pa:ss word\n").unwrap();
        let good = format!("Basic {}", base64(b"ops:pa:ss word"));
        assert!(auth.admits(&headers(&good)));
        let bad = format!("Basic {}", base64(b"ops:pa:ss wore"));
        assert!(!auth.admits(&headers(&bad)));
        assert!(!auth.admits(&headers("Bearer ops:pa:ss word")));
    }

    #[test]
    fn bad_files_are_refused_without_showing_the_secret() {
        for (text, why) in [
            ("", "empty"),
            (" \n\t", "empty"),
            ("hunter2", "the line must be"),
            ("token hunter2", "the first word"),
            ("bearer hunter2\nbearer two", "more than one line"),
            ("bearer hunt er2", "may hold only"),
            ("basic hunter2", "with a colon"),
            ("basic :hunter2", "both a user and a password"),
            ("basic ops:", "both a user and a password"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let e = read_file(missing.to_str().unwrap()).unwrap_err();
        assert!(e.contains("cannot read") && e.contains("missing"), "{e}");
        let big = dir.path().join("big");
        std::fs::write(&big, "bearer ".to_owned() + &"a".repeat(5000)).unwrap();
        let e = read_file(big.to_str().unwrap()).unwrap_err();
        assert!(e.contains("longer than") && !e.contains("aaaa"), "{e}");
        assert_eq!(
            format!("{:?}", parse("bearer hunter2").unwrap()),
            "HttpAuth::Bearer(<secret>)"
        );
    }

    #[test]
    fn the_comparison_does_not_stop_at_the_first_difference() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abd", b"abc"));
        assert!(!same(b"ab", b"abc"));
        assert!(!same(b"abcd", b"abc"));
        assert!(!same(b"", b"abc"));
    }
}
