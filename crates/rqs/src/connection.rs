//! Where Redis is: the connection flags every subcommand shares, with `rqscheduler`'s
//! names and environment variables, plus ACL users, password files and Sentinel.

use std::path::PathBuf;

use clap::Args;
use rqs_redis::{Address, ConnectError, RedisConfig, RedisConnection, Secret, SentinelOptions};
use tracing::{debug, warn};

use crate::exit::Failure;

/// The connection every command gets: to one server, or to the master Sentinel names.
pub(crate) type Connection = RedisConnection;

/// How to reach Redis.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub(crate) struct ConnectionArgs {
    /// Redis host
    #[arg(
        short = 'H',
        long,
        env = "RQ_REDIS_HOST",
        default_value = "localhost",
        global = true
    )]
    pub(crate) host: String,

    /// Redis port number
    #[arg(
        short = 'p',
        long,
        env = "RQ_REDIS_PORT",
        default_value_t = 6379,
        global = true
    )]
    pub(crate) port: u16,

    /// Redis database
    #[arg(
        short = 'd',
        long,
        env = "RQ_REDIS_DB",
        default_value_t = 0,
        global = true
    )]
    pub(crate) db: i64,

    /// Redis password (prefer --password-file: a flag shows in the process list)
    #[arg(
        short = 'P',
        long,
        env = "RQ_REDIS_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub(crate) password: Option<String>,

    /// URL describing Redis connection details, as redis-py reads it (redis://, rediss://
    /// with ssl_* parameters, unix://); overrides the host, port, db and password flags
    #[arg(
        short = 'u',
        long,
        env = "RQ_REDIS_URL",
        hide_env_values = true,
        global = true
    )]
    pub(crate) url: Option<String>,

    /// Redis ACL user (when the URL names none)
    #[arg(long, env = "RQ_REDIS_USERNAME", global = true)]
    pub(crate) username: Option<String>,

    /// Read the Redis password from FILE (its first line; when the URL holds none)
    #[arg(
        long,
        env = "RQ_REDIS_PASSWORD_FILE",
        value_name = "FILE",
        global = true
    )]
    pub(crate) password_file: Option<PathBuf>,

    /// Find the master through this Redis Sentinel (HOST:PORT, repeatable; port 26379 by
    /// default); the host and port of -H/-p/-u are then ignored
    #[arg(
        long = "sentinel",
        env = "RQ_REDIS_SENTINELS",
        value_name = "HOST:PORT",
        value_delimiter = ',',
        global = true
    )]
    pub(crate) sentinels: Vec<String>,

    /// The master's name in the sentinels' configuration
    #[arg(
        long,
        env = "RQ_REDIS_SENTINEL_MASTER",
        value_name = "NAME",
        global = true
    )]
    pub(crate) sentinel_master: Option<String>,

    /// Password of the sentinels themselves (not of the master)
    #[arg(
        long,
        env = "RQ_REDIS_SENTINEL_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub(crate) sentinel_password: Option<String>,
}

impl ConnectionArgs {
    /// Opens the connection these flags describe and checks that a master answers.
    ///
    /// # Errors
    /// [`Failure::Usage`] for settings that cannot work, [`Failure::Runtime`] when Redis
    /// does not answer, refuses the password or the certificate, or is a replica.
    pub(crate) async fn connect(&self) -> Result<Connection, Failure> {
        let (config, warnings) = self.config()?;
        for warning in warnings {
            warn!("{warning}");
        }
        debug!(redis = %config, "connecting to Redis");
        // The message holds its cause already: no chain of sources after it.
        RedisConnection::connect(&config)
            .await
            .map_err(|e: ConnectError| {
                if e.is_settings() {
                    Failure::Usage(e.to_string())
                } else {
                    Failure::Runtime(anyhow::anyhow!("{e}"))
                }
            })
    }

    /// The settings, and warnings about what in them is ignored.
    ///
    /// # Errors
    /// [`Failure::Usage`] naming the bad flag; never quoting a password or the URL.
    pub(crate) fn config(&self) -> Result<(RedisConfig, Vec<String>), Failure> {
        let mut warnings = Vec::new();
        let file_password = self.password_file()?;
        let mut config = match &self.url {
            Some(url) => {
                let parsed = RedisConfig::from_url(url).map_err(|e| {
                    Failure::Usage(format!(
                        "invalid --url / RQ_REDIS_URL (not shown: it may hold a password): {e}"
                    ))
                })?;
                warnings.extend(parsed.warnings);
                if self.password.is_some() {
                    warnings.push(
                        "--password / RQ_REDIS_PASSWORD is ignored because --url is given, as \
                         rqscheduler does: put the password in the URL or use --password-file"
                            .into(),
                    );
                }
                let mut config = parsed.config;
                if config.password.is_none() && file_password.is_some() {
                    config.password = file_password;
                    // Read again at every new connection: a rotation needs no restart.
                    config.password_file = self.password_file.clone();
                }
                if config.username.is_none() {
                    config.username = self.username.clone();
                }
                config
            }
            None => {
                if self.password.is_some() && file_password.is_some() {
                    return Err(Failure::Usage(
                        "give the password either with --password or with --password-file, \
                         not both"
                            .into(),
                    ));
                }
                let from_file = file_password.is_some();
                RedisConfig::tcp(self.host.clone(), self.port)
                    .db(self.db)
                    .username(self.username.clone())
                    .password(self.password.clone().map(Secret::new).or(file_password))
                    .password_file(self.password_file.clone().filter(|_| from_file))
            }
        };
        config.sentinel = self.sentinel()?;
        if config.sentinel.is_some() && matches!(config.address, Address::Unix { .. }) {
            return Err(Failure::Usage(
                "--sentinel cannot be used with a unix:// URL".into(),
            ));
        }
        Ok((config, warnings))
    }

    fn password_file(&self) -> Result<Option<Secret>, Failure> {
        let Some(path) = &self.password_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::Usage(format!(
                "cannot read the password file {}: {e}",
                path.display()
            ))
        })?;
        let password = text.lines().next().unwrap_or_default();
        if password.is_empty() {
            return Err(Failure::Usage(format!(
                "the password file {} is empty",
                path.display()
            )));
        }
        Ok(Some(Secret::new(password)))
    }

    fn sentinel(&self) -> Result<Option<SentinelOptions>, Failure> {
        let nodes: Vec<&String> = self.sentinels.iter().filter(|s| !s.is_empty()).collect();
        match (nodes.is_empty(), &self.sentinel_master) {
            (true, None) => Ok(None),
            (false, None) => Err(Failure::Usage(
                "--sentinel needs --sentinel-master (RQ_REDIS_SENTINEL_MASTER): the name of \
                 the master to ask for"
                    .into(),
            )),
            (true, Some(_)) => Err(Failure::Usage(
                "--sentinel-master needs at least one --sentinel HOST:PORT \
                 (RQ_REDIS_SENTINELS)"
                    .into(),
            )),
            (false, Some(master)) => {
                let nodes = nodes
                    .into_iter()
                    .map(|n| sentinel_addr(n))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some(
                    SentinelOptions::new(nodes, master.clone())
                        .password(self.sentinel_password.clone().map(Secret::new)),
                ))
            }
        }
    }
}

/// `host:port`, `[v6]:port` or a bare host (Sentinel's port 26379).
fn sentinel_addr(text: &str) -> Result<(String, u16), Failure> {
    let bad = || {
        Failure::Usage(format!(
            "--sentinel {text:?} is not HOST:PORT (e.g. 10.0.0.5:26379)"
        ))
    };
    let text = text.trim();
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            Some(_) => return Err(bad()),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = match port {
        Some(p) => p.parse().map_err(|_| bad())?,
        None => 26379,
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use rqs_redis::CertReqs;

    use crate::cli::tests::parse;

    use super::*;

    fn config(args: &[&str]) -> Result<(RedisConfig, Vec<String>), String> {
        parse(args)
            .map_err(|e| e.to_string())?
            .connection
            .config()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn flags_build_a_tcp_config() {
        let (c, warnings) = config(&["-H", "r", "-p", "7000", "-d", "2", "-P", "pw"]).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(
            c,
            RedisConfig::tcp("r", 7000)
                .db(2)
                .password(Some(Secret::new("pw")))
        );
    }

    #[test]
    fn the_url_wins_and_db_in_the_query_counts() {
        let (c, _) = config(&["-d", "5", "-u", "redis://127.0.0.1:6379?db=3"]).unwrap();
        assert_eq!(c.db, 3);
        let (c, warnings) =
            config(&["-P", "x", "-u", "rediss://h?ssl_cert_reqs=none&x=1"]).unwrap();
        assert_eq!(
            c.password, None,
            "-P is ignored with --url, as in rqscheduler"
        );
        assert_eq!(c.tls.unwrap().cert_reqs, CertReqs::None);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }

    #[test]
    fn a_password_file_fills_in_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        let file = file.to_str().unwrap();
        let (c, _) = config(&["--password-file", file, "--username", "rq"]).unwrap();
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("s3cret"));
        assert_eq!(c.username.as_deref(), Some("rq"));
        let (c, _) = config(&["--password-file", file, "-u", "redis://u@h/0"]).unwrap();
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("s3cret"));
        assert_eq!(c.username.as_deref(), Some("u"));
        let (c, _) = config(&["--password-file", file, "-u", "redis://u:mine@h/0"]).unwrap();
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("mine"));
        let err = config(&["--password-file", file, "-P", "x"]).unwrap_err();
        assert!(err.contains("not both"), "{err}");
        let err = config(&["--password-file", "/nonexistent/pw"]).unwrap_err();
        assert!(
            err.contains("cannot read the password file /nonexistent/pw"),
            "{err}"
        );
    }

    #[test]
    fn sentinel_flags() {
        let (c, _) = config(&[
            "--sentinel",
            "10.0.0.1:26380",
            "--sentinel",
            "[::1]:1,h2",
            "--sentinel-master",
            "mymaster",
            "--sentinel-password",
            "sp",
            "-d",
            "4",
        ])
        .unwrap();
        let s = c.sentinel.unwrap();
        assert_eq!(
            s.nodes,
            [
                ("10.0.0.1".to_owned(), 26380),
                ("::1".to_owned(), 1),
                ("h2".to_owned(), 26379)
            ]
        );
        assert_eq!(s.master, "mymaster");
        assert_eq!(s.password.as_ref().map(Secret::expose), Some("sp"));
        assert_eq!(c.db, 4);
        assert!(
            config(&["--sentinel", "h:1"])
                .unwrap_err()
                .contains("--sentinel-master")
        );
        assert!(
            config(&["--sentinel-master", "m"])
                .unwrap_err()
                .contains("--sentinel HOST")
        );
        assert!(
            config(&["--sentinel", "h:x", "--sentinel-master", "m"])
                .unwrap_err()
                .contains("not HOST:PORT")
        );
    }

    #[test]
    fn url_errors_never_show_the_url() {
        let err = config(&["-u", "redis://user:hunter2@h:port/0"]).unwrap_err();
        assert!(err.contains("invalid --url"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
