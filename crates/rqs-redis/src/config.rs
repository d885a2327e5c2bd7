//! Where Redis is and how to talk to it: [`RedisConfig`], built field by field, or read
//! from a URL exactly as redis-py's `Redis.from_url` reads it ([`RedisConfig::from_url`],
//! whose grammar lives in `url.rs`).
//!
//! Nothing here ever shows a password: [`Secret`] prints as `***`, the [`Display`] of a
//! config leaves it out, and a URL that cannot be read is never quoted in an error, since
//! any part of it may be a mistyped password.
//!
//! [`Display`]: std::fmt::Display

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::tls::TlsOptions;

/// A password: printed as `***` by `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The password itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Address {
    /// A TCP host and port.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix domain socket.
    Unix {
        /// Path of the socket.
        path: PathBuf,
    },
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "{host}:{port}"),
            Address::Unix { path } => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Redis Sentinel: the sentinels to ask and the name of the master they watch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentinelOptions {
    /// Sentinel addresses (`host`, `port`), asked in this order.
    pub nodes: Vec<(String, u16)>,
    /// The master's name in the sentinels' configuration.
    pub master: String,
    /// ACL user of the sentinels, if they need one.
    pub username: Option<String>,
    /// Password of the sentinels (not of the master).
    pub password: Option<Secret>,
}

impl SentinelOptions {
    /// Sentinels `nodes` watching the master called `master`.
    pub fn new(nodes: Vec<(String, u16)>, master: impl Into<String>) -> Self {
        Self {
            nodes,
            master: master.into(),
            username: None,
            password: None,
        }
    }

    /// Sets the sentinels' password.
    pub fn password(mut self, password: Option<Secret>) -> Self {
        self.password = password;
        self
    }

    /// Sets the sentinels' ACL user.
    pub fn username(mut self, username: Option<String>) -> Self {
        self.username = username;
        self
    }
}

/// Connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// How long to wait for any reply (redis-py's `socket_timeout`).
    pub response_timeout: Duration,
    /// How long to wait for a TCP connection and handshake (`socket_connect_timeout`).
    pub connection_timeout: Duration,
    /// Reconnect attempts before a command fails.
    pub reconnect_retries: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            response_timeout: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(5),
            reconnect_retries: 2,
        }
    }
}

/// Everything needed to open a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisConfig {
    /// Where the server is (with [`sentinel`](Self::sentinel), where the sentinels say).
    pub address: Address,
    /// TLS, for `rediss://`.
    pub tls: Option<TlsOptions>,
    /// The database.
    pub db: i64,
    /// ACL user; `None` is the `default` user.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Secret>,
    /// A file whose first line is the password, read again at every new connection, so
    /// that a rotated password is picked up without a restart. While it cannot be read
    /// (or is empty), [`password`](Self::password) is used.
    pub password_file: Option<PathBuf>,
    /// Find the master through Sentinel instead of `address`.
    pub sentinel: Option<SentinelOptions>,
    /// Timeouts and retries.
    pub options: ConnectOptions,
}

impl Default for RedisConfig {
    /// `localhost:6379`, database 0, no password: redis-py's defaults.
    fn default() -> Self {
        Self::tcp("localhost", 6379)
    }
}

impl RedisConfig {
    /// A plain TCP connection.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        Self {
            address: Address::Tcp {
                host: host.into(),
                port,
            },
            tls: None,
            db: 0,
            username: None,
            password: None,
            password_file: None,
            sentinel: None,
            options: ConnectOptions::default(),
        }
    }

    /// A Unix domain socket.
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        Self {
            address: Address::Unix { path: path.into() },
            ..Self::default()
        }
    }

    /// Sets the database.
    pub fn db(mut self, db: i64) -> Self {
        self.db = db;
        self
    }

    /// Sets the ACL user.
    pub fn username(mut self, username: Option<String>) -> Self {
        self.username = username;
        self
    }

    /// Sets the password.
    pub fn password(mut self, password: Option<Secret>) -> Self {
        self.password = password;
        self
    }

    /// Reads the password from `path` at every new connection (see
    /// [`password_file`](Self::password_file)).
    pub fn password_file(mut self, path: Option<PathBuf>) -> Self {
        self.password_file = path;
        self
    }

    /// The password to send now: the file's first line when it can be read, else the
    /// configured one.
    pub fn current_password(&self) -> Option<Secret> {
        let from_file = self.password_file.as_ref().and_then(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            let line = text.lines().next()?.to_owned();
            (!line.is_empty()).then(|| Secret::new(line))
        });
        from_file.or_else(|| self.password.clone())
    }

    /// Turns TLS on with these settings.
    pub fn tls(mut self, tls: Option<TlsOptions>) -> Self {
        self.tls = tls;
        self
    }

    /// Finds the master through Sentinel.
    pub fn sentinel(mut self, sentinel: Option<SentinelOptions>) -> Self {
        self.sentinel = sentinel;
        self
    }

    /// Sets timeouts and retries.
    pub fn options(mut self, options: ConnectOptions) -> Self {
        self.options = options;
        self
    }

    /// A description for logs: address, database, user and TLS; never the password.
    pub fn describe(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sentinel {
            Some(s) => {
                write!(f, "master {:?} of sentinels ", s.master)?;
                for (i, (host, port)) in s.nodes.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    write!(f, "{sep}{host}:{port}")?;
                }
            }
            None => write!(f, "{}", self.address)?,
        }
        write!(f, " db {}", self.db)?;
        if let Some(user) = &self.username {
            write!(f, " user {user:?}")?;
        }
        if self.password.is_some() {
            f.write_str(" with password")?;
        }
        if let Some(tls) = &self.tls {
            let verify = match (tls.cert_reqs.verifies(), tls.checks_hostname()) {
                (false, _) => "certificate not verified",
                (true, false) => "certificate verified, host name not checked",
                (true, true) => "certificate verified",
            };
            write!(f, " over TLS ({verify})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_hide_the_password() {
        let tls = TlsOptions {
            check_hostname: false,
            ..TlsOptions::default()
        };
        let c = RedisConfig::tcp("h", 1)
            .db(4)
            .username(Some("rq".into()))
            .password(Some(Secret::new("hunter2")))
            .tls(Some(tls));
        let text = c.to_string();
        assert_eq!(
            text,
            "h:1 db 4 user \"rq\" with password over TLS (certificate verified, host name not checked)"
        );
        assert!(!format!("{c:?}").contains("hunter2"));
        let s = c.sentinel(Some(
            SentinelOptions::new(vec![("a".into(), 1), ("b".into(), 2)], "mymaster")
                .password(Some(Secret::new("hunter2"))),
        ));
        assert!(
            s.to_string()
                .starts_with("master \"mymaster\" of sentinels a:1,b:2 db 4")
        );
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
