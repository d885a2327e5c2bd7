//! Why a connection could not be made: [`ConnectError`], and the sorting of the redis
//! crate's errors into its variants, each saying what to fix.

use redis::RedisError;

use crate::config::{Address, RedisConfig};
use crate::tls::tls_problem;

/// Why a connection could not be made. No variant ever holds a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL or connection parameters are invalid.
    #[error("invalid Redis connection settings: {0}")]
    InvalidSettings(#[source] RedisError),
    /// A setting cannot be used: a certificate file that cannot be read, for instance.
    #[error("{0}")]
    Settings(String),
    /// Redis did not answer.
    #[error("cannot reach Redis at {addr}: {}", plain(source))]
    Unreachable {
        /// The address tried.
        addr: String,
        /// The underlying error.
        #[source]
        source: RedisError,
    },
    /// Redis refused the user name and password.
    #[error(
        "Redis at {addr} refused the password of user {user:?} (WRONGPASS): check the \
         password, and that the user exists and is enabled"
    )]
    AuthenticationFailed {
        /// The address.
        addr: String,
        /// The ACL user (`default` when none was given).
        user: String,
    },
    /// Redis needs a password and none was given.
    #[error("Redis at {addr} requires a password (NOAUTH): {detail}")]
    PasswordRequired {
        /// The address.
        addr: String,
        /// What to do.
        detail: String,
    },
    /// The TLS handshake failed.
    #[error("TLS connection to Redis at {addr} failed: {problem}")]
    Tls {
        /// The address.
        addr: String,
        /// What was wrong, the certificate problem in plain words.
        problem: String,
    },
    /// The server is a read-only replica: rqs must talk to the master.
    #[error(
        "Redis at {addr} is a read-only replica{}: point rqs at the master, or let it find \
         the master through Sentinel (--sentinel); nothing was written",
        master.as_ref().map(|m| format!(" of {m}")).unwrap_or_default()
    )]
    ReadOnlyReplica {
        /// The address.
        addr: String,
        /// Its master, as it reports it.
        master: Option<String>,
    },
    /// No sentinel named a reachable master.
    #[error("no sentinel could name a master called {master:?}: {details}")]
    NoMaster {
        /// The master name asked for.
        master: String,
        /// What each sentinel answered.
        details: String,
    },
}

/// An error's text without the repetitions the redis crate's nesting adds
/// ("refused: refused: refused").
fn plain(e: &RedisError) -> String {
    let text = e.to_string();
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split(": ") {
        if parts.last() != Some(&part) {
            parts.push(part);
        }
    }
    parts.join(": ")
}

impl ConnectError {
    /// Whether the settings are wrong (rather than the server or the network): a bad
    /// URL, an unreadable file.
    pub fn is_settings(&self) -> bool {
        matches!(
            self,
            ConnectError::InvalidSettings(_) | ConnectError::Settings(_)
        )
    }
}

/// A connection error as a [`ConnectError`] that says what to do.
pub(crate) fn classify(e: RedisError, address: &Address, config: &RedisConfig) -> ConnectError {
    let addr = address.to_string();
    let text = e.to_string();
    if config.tls.is_some()
        && let Some(problem) = tls_problem(&text)
    {
        return ConnectError::Tls { addr, problem };
    }
    if e.kind() == redis::ErrorKind::AuthenticationFailed || text.contains("WRONGPASS") {
        let user = config.username.clone().unwrap_or_else(|| "default".into());
        return ConnectError::AuthenticationFailed { addr, user };
    }
    if text.contains("NOAUTH") {
        return ConnectError::PasswordRequired {
            addr,
            detail: "give it with -P, --password-file, RQ_REDIS_PASSWORD or the URL".into(),
        };
    }
    if text.contains("without any password configured") {
        return ConnectError::Settings(format!(
            "a password was given but Redis at {addr} has none for the default user: \
             leave the password out, or give the ACL user it belongs to"
        ));
    }
    ConnectError::Unreachable { addr, source: e }
}

/// Whether Redis refused the credentials: a password rotated on the server before (or
/// after) the client's, or a user disabled for a moment.
pub(crate) fn is_auth_error(e: &RedisError) -> bool {
    e.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(e.code(), Some("WRONGPASS" | "NOAUTH"))
        || e.to_string().contains("WRONGPASS")
}
