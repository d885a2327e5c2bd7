//! The URL grammar: [`RedisConfig::from_url`] reads `redis://`, `rediss://` and `unix://`
//! URLs as redis-py's `Redis.from_url` does (schemes, credentials, the database, query
//! options), cutting them as Python's `urllib.parse` does.
//!
//! A URL that cannot be read is never quoted in an error, since any part of it may be a
//! mistyped password.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{RedisConfig, Secret};
use crate::tls::{CertReqs, TlsOptions};

impl RedisConfig {
    /// Reads a `redis://`, `rediss://` or `unix://` URL the way redis-py's `from_url`
    /// does:
    ///
    /// - `redis://[[user]:[password]@]host[:port][/db]`, `rediss://` the same over TLS,
    ///   `unix://[[user]:[password]@]/path/to/socket`; user, password, host and path are
    ///   percent-decoded; the scheme is case-insensitive;
    /// - the database is the `db` query parameter, else (TCP only) the path with its
    ///   slashes removed when that is a number, else 0;
    /// - query parameters: the first value of each counts; `password` and `username`
    ///   (for `unix://` URLs, where the user part is unusual), `ssl_cert_reqs`
    ///   (`none`/`optional`/`required`), `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`,
    ///   `ssl_check_hostname` (false for `0`, `f`, `false`, `n`, `no`, any case),
    ///   `socket_timeout` and `socket_connect_timeout` (seconds). A user and password in
    ///   the URL's user part win over the query's.
    ///
    /// Any other parameter (redis-py knows many, such as `health_check_interval`) is
    /// ignored with a warning, as is an `ssl_*` parameter on a URL without TLS.
    ///
    /// # Errors
    /// A [`UrlError`] that names the part at fault but never quotes the URL.
    pub fn from_url(url: &str) -> Result<FromUrl, UrlError> {
        parse_url(url)
    }
}

/// A URL read by [`RedisConfig::from_url`], with what was ignored in it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FromUrl {
    /// The settings.
    pub config: RedisConfig,
    /// One sentence per ignored parameter, for the log.
    pub warnings: Vec<String>,
}

/// Why a URL cannot be used. The message names the part at fault and never quotes the
/// URL or any part of it that could be a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(String);

/// The parameters rqs uses; every other one is ignored with a warning.
const TLS_PARAMS: [&str; 5] = [
    "ssl_cert_reqs",
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_check_hostname",
];

fn parse_url(url: &str) -> Result<FromUrl, UrlError> {
    let scheme_ok = ["redis://", "rediss://", "unix://"].iter().any(|prefix| {
        url.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    });
    if !scheme_ok {
        return Err(UrlError(
            "a Redis URL must start with redis://, rediss:// or unix://".into(),
        ));
    }
    let parts = split(url)?;
    let mut warnings = Vec::new();
    let query = parse_query(&parts.query);
    let param = |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v);

    let tls = parts.scheme == "rediss";
    let mut config = if parts.scheme == "unix" {
        RedisConfig::unix(percent_decode(&parts.path))
    } else {
        let (host, port) = host_port(&parts.netloc)?;
        let host = host.map_or_else(|| "localhost".to_owned(), |h| percent_decode(&h));
        RedisConfig::tcp(host, port.filter(|p| *p != 0).unwrap_or(6379))
    };

    // The db: the query parameter, else the path of a TCP URL if it is a number.
    if let Some(db) = param("db") {
        config.db = python_int(db).ok_or_else(|| invalid_value("db"))?;
    } else if parts.scheme != "unix"
        && !parts.path.is_empty()
        && let Some(db) = python_int(&percent_decode(&parts.path).replace('/', ""))
    {
        config.db = db;
    }

    config.username = param("username").cloned();
    config.password = param("password").map(Secret::new);
    let (user, password) = userinfo(&parts.netloc);
    if let Some(user) = user.filter(|u| !u.is_empty()) {
        config.username = Some(percent_decode(&user));
    }
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        config.password = Some(Secret::new(percent_decode(&password)));
    }

    if let Some(t) = param("socket_timeout") {
        config.options.response_timeout =
            seconds(t).ok_or_else(|| invalid_value("socket_timeout"))?;
    }
    if let Some(t) = param("socket_connect_timeout") {
        config.options.connection_timeout =
            seconds(t).ok_or_else(|| invalid_value("socket_connect_timeout"))?;
    }

    if tls {
        let mut options = TlsOptions::default();
        if let Some(reqs) = param("ssl_cert_reqs") {
            options.cert_reqs = match reqs.as_str() {
                "none" => CertReqs::None,
                "optional" => CertReqs::Optional,
                "required" => CertReqs::Required,
                other => {
                    return Err(UrlError(format!(
                        "invalid ssl_cert_reqs {other:?} in the URL: use none, optional or required"
                    )));
                }
            };
        }
        options.ca_certs = param("ssl_ca_certs").map(PathBuf::from);
        options.certfile = param("ssl_certfile").map(PathBuf::from);
        options.keyfile = param("ssl_keyfile").map(PathBuf::from);
        if let Some(check) = param("ssl_check_hostname") {
            options.check_hostname = python_bool(check);
        }
        config.tls = Some(options);
    }

    let mut seen = Vec::new();
    for (name, _) in &query {
        if seen.contains(name) {
            continue;
        }
        seen.push(name.clone());
        let used = matches!(
            name.as_str(),
            "db" | "password" | "username" | "socket_timeout" | "socket_connect_timeout"
        );
        if TLS_PARAMS.contains(&name.as_str()) {
            if !tls {
                warnings.push(format!(
                    "the URL parameter {name} is ignored: only rediss:// URLs use TLS"
                ));
            }
        } else if !used {
            warnings.push(format!(
                "the URL parameter {:?} is not used by rqs and is ignored",
                printable(name)
            ));
        }
    }
    Ok(FromUrl { config, warnings })
}

fn invalid_value(name: &str) -> UrlError {
    UrlError(format!("invalid value for {name} in the URL"))
}

/// A parameter name as it may be shown: at most 40 printable characters.
fn printable(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(40).collect()
}

/// The pieces of a URL, as Python's `urllib.parse.urlsplit` cuts them.
struct Parts {
    scheme: String,
    netloc: String,
    path: String,
    query: String,
}

fn split(url: &str) -> Result<Parts, UrlError> {
    // Python strips leading C0 controls and spaces and drops tabs and line breaks.
    let url: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let colon = url.find(':').unwrap_or(0);
    let scheme = url[..colon].to_ascii_lowercase();
    let mut rest = &url[colon + 1..];
    let mut netloc = "";
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        netloc = &after[..end];
        rest = &after[end..];
        let (open, close) = (netloc.contains('['), netloc.contains(']'));
        if open != close {
            return Err(UrlError(
                "the URL's host is not valid: an IPv6 address needs both [ and ]".into(),
            ));
        }
    }
    let rest = rest.split('#').next().unwrap_or_default();
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    Ok(Parts {
        scheme,
        netloc: netloc.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
    })
}

/// User and password of the netloc (`user:password@host`), as Python reads them: the
/// user part ends at the last `@`, the password starts after the first `:` in it.
fn userinfo(netloc: &str) -> (Option<String>, Option<String>) {
    let Some((info, _)) = netloc.rsplit_once('@') else {
        return (None, None);
    };
    match info.split_once(':') {
        Some((user, password)) => (Some(user.to_owned()), Some(password.to_owned())),
        None => (Some(info.to_owned()), None),
    }
}

/// Host (lower-cased, as Python's `hostname`) and port of the netloc.
fn host_port(netloc: &str) -> Result<(Option<String>, Option<u16>), UrlError> {
    let hostinfo = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
    let (host, port) = match hostinfo.split_once('[') {
        Some((_, bracketed)) => {
            let (host, after) = bracketed.split_once(']').unwrap_or((bracketed, ""));
            let port = after.split_once(':').map_or("", |(_, p)| p);
            (host, port)
        }
        None => hostinfo.split_once(':').unwrap_or((hostinfo, "")),
    };
    let host = (!host.is_empty()).then(|| match host.split_once('%') {
        // A scoped IPv6 address keeps the case of its zone.
        Some((addr, zone)) => format!("{}%{zone}", addr.to_lowercase()),
        None => host.to_lowercase(),
    });
    let port = if port.is_empty() {
        None
    } else if port.bytes().all(|b| b.is_ascii_digit()) {
        Some(
            port.parse::<u32>()
                .ok()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| UrlError("the URL's port is out of range 0-65535".into()))?,
        )
    } else {
        return Err(UrlError(
            "the URL's port is not a number (the URL is not shown: it may hold a password)".into(),
        ));
    };
    Ok((host, port))
}

/// `urllib.parse.parse_qs`: `&`-separated `name=value` pairs, `+` as space,
/// percent-decoded; pairs without `=` or with an empty value are dropped.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| {
            (
                percent_decode(&name.replace('+', " ")),
                percent_decode(&value.replace('+', " ")),
            )
        })
        .collect()
}

/// `urllib.parse.unquote`: `%XX` sequences decoded, invalid ones kept, the bytes read as
/// UTF-8 with replacement characters.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(hex) = std::str::from_utf8(hex)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Python's `int(text)` for the cases a URL can hold: surrounding whitespace, a sign,
/// and underscores between digits.
fn python_int(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(d) => (-1, d),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let ok = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if !ok {
        return None;
    }
    digits
        .replace('_', "")
        .parse::<i64>()
        .ok()
        .map(|n| sign * n)
}

/// redis-py's `to_bool`: false for `0`, `F`, `FALSE`, `N`, `NO` in any case, else true.
fn python_bool(text: &str) -> bool {
    !matches!(
        text.to_ascii_uppercase().as_str(),
        "0" | "F" | "FALSE" | "N" | "NO"
    )
}

/// A positive number of seconds.
fn seconds(text: &str) -> Option<Duration> {
    let value: f64 = text.trim().replace('_', "").parse().ok()?;
    (value.is_finite() && value > 0.0 && value < 1e9).then(|| Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Address;

    fn parse(url: &str) -> RedisConfig {
        RedisConfig::from_url(url)
            .unwrap_or_else(|e| panic!("{url}: {e}"))
            .config
    }

    fn tcp(host: &str, port: u16) -> Address {
        Address::Tcp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn host_port_and_db_as_redis_py_reads_them() {
        let c = parse("redis://127.0.0.1:6380/3");
        assert_eq!(c.address, tcp("127.0.0.1", 6380));
        assert_eq!(c.db, 3);
        assert_eq!(c.tls, None);
        // Defaults; the scheme is case-insensitive; the host is lower-cased.
        let c = parse("REDIS://Redis.Example");
        assert_eq!(c.address, tcp("redis.example", 6379));
        assert_eq!(c.db, 0);
        assert_eq!(parse("redis://").address, tcp("localhost", 6379));
        // Port 0 means the default, as `if url.port:` does in Python.
        assert_eq!(parse("redis://h:0").address, tcp("h", 6379));
        assert_eq!(parse("redis://h:/2").address, tcp("h", 6379));
        assert_eq!(parse("redis://[::1]:7000/1").address, tcp("::1", 7000));
        assert_eq!(
            parse("redis://[FE80::1%Eth0]:7000").address,
            tcp("fe80::1%Eth0", 7000)
        );
    }

    #[test]
    fn db_from_query_wins_over_the_path() {
        assert_eq!(parse("redis://127.0.0.1:6379?db=3").db, 3);
        assert_eq!(parse("redis://127.0.0.1:6379/5?db=3").db, 3);
        // The first value counts.
        assert_eq!(parse("redis://h?db=4&db=9").db, 4);
        // Python's int(): whitespace, sign, underscores.
        assert_eq!(parse("redis://h?db=%201_0%20").db, 10);
        // A path that is no number is ignored, slashes are removed first.
        assert_eq!(parse("redis://h/abc").db, 0);
        assert_eq!(parse("redis://h/").db, 0);
        assert_eq!(parse("redis://h/1/2").db, 12);
        // An empty value is dropped by parse_qs, so the path counts.
        assert_eq!(parse("redis://h/7?db=").db, 7);
        let err = RedisConfig::from_url("redis://h?db=x").unwrap_err();
        assert_eq!(err.to_string(), "invalid value for db in the URL");
    }

    #[test]
    fn users_and_passwords() {
        let c = parse("redis://rq:s%40cret:x@h:1/0");
        assert_eq!(c.username.as_deref(), Some("rq"));
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("s@cret:x"));
        // An @ in the password: the user part ends at the last @.
        let c = parse("redis://:p@ss@h");
        assert_eq!(c.username, None);
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("p@ss"));
        assert_eq!(c.address, tcp("h", 6379));
        let c = parse("redis://solo@h");
        assert_eq!(c.username.as_deref(), Some("solo"));
        assert_eq!(c.password, None);
        // The query's password counts unless the user part has one.
        let c = parse("redis://h?password=q&username=u");
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("q"));
        assert_eq!(c.username.as_deref(), Some("u"));
        let c = parse("redis://:p@h?password=q");
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("p"));
    }

    #[test]
    fn unix_sockets_take_password_and_db_from_the_query() {
        let c = parse("unix:///run/redis/redis.sock?db=2&password=pw%2B1");
        assert_eq!(
            c.address,
            Address::Unix {
                path: "/run/redis/redis.sock".into()
            }
        );
        assert_eq!(c.db, 2);
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("pw+1"));
        // No db from the path of a unix URL.
        assert_eq!(parse("unix:///tmp/5").db, 0);
        let c = parse("unix://u:p@/tmp/r.sock");
        assert_eq!(c.username.as_deref(), Some("u"));
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("p"));
    }

    #[test]
    fn tls_parameters() {
        let c = parse("rediss://h:6380/0");
        assert_eq!(c.tls, Some(TlsOptions::default()));
        assert!(c.tls.as_ref().unwrap().checks_hostname());
        let c = parse(
            "rediss://h?ssl_cert_reqs=none&ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem\
             &ssl_keyfile=/k.pem&ssl_check_hostname=True",
        );
        let tls = c.tls.unwrap();
        assert_eq!(tls.cert_reqs, CertReqs::None);
        assert_eq!(tls.ca_certs, Some("/ca.pem".into()));
        assert_eq!(tls.certfile, Some("/c.pem".into()));
        assert_eq!(tls.keyfile, Some("/k.pem".into()));
        // Without verification the host name is not checked either.
        assert!(!tls.checks_hostname());
        for (value, expected) in [("false", false), ("No", false), ("0", false), ("f", false)] {
            let c = parse(&format!("rediss://h?ssl_check_hostname={value}"));
            assert_eq!(c.tls.unwrap().check_hostname, expected, "{value}");
        }
        let c = parse("rediss://h?ssl_check_hostname=yes&ssl_cert_reqs=optional");
        let tls = c.tls.unwrap();
        assert!(tls.check_hostname && tls.cert_reqs.verifies());
        let err = RedisConfig::from_url("rediss://h?ssl_cert_reqs=maybe").unwrap_err();
        assert!(err.to_string().contains("ssl_cert_reqs \"maybe\""), "{err}");
    }

    #[test]
    fn unknown_parameters_are_warnings_not_failures() {
        let parsed =
            RedisConfig::from_url("redis://h?health_check_interval=10&socket_keepalive=1&ssl_cert_reqs=none&socket_timeout=2.5")
                .unwrap();
        assert_eq!(parsed.warnings.len(), 3, "{:?}", parsed.warnings);
        assert!(parsed.warnings[0].contains("health_check_interval"));
        assert!(parsed.warnings[2].contains("only rediss:// URLs use TLS"));
        assert_eq!(parsed.config.tls, None);
        assert_eq!(
            parsed.config.options.response_timeout,
            Duration::from_millis(2500)
        );
        let c = parse("redis://h?socket_connect_timeout=0.5");
        assert_eq!(c.options.connection_timeout, Duration::from_millis(500));
        assert!(RedisConfig::from_url("redis://h?socket_timeout=soon").is_err());
    }

    #[test]
    fn errors_never_quote_the_url() {
        for url in [
            "http://user:hunter2@h",
            "redis://user:hunter2@h:port",
            "redis://h:hunter2",
            "redis://user:hunter2@[::1",
            "redis://user:hunter2@h:99999",
            "redis://user:hunter2@h?db=hunter2",
            "hunter2",
        ] {
            let err = RedisConfig::from_url(url).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{url}: {err}");
        }
        let warnings = RedisConfig::from_url("redis://h?pasword=hunter2")
            .unwrap()
            .warnings;
        assert!(!warnings.concat().contains("hunter2"), "{warnings:?}");
    }
}
