//! Where Redis is: the connection flags every subcommand shares, with `rqscheduler`'s
//! names and environment variables.

use clap::Args;
use redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};

use crate::exit::Failure;

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

    /// Redis password
    #[arg(
        short = 'P',
        long,
        env = "RQ_REDIS_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub(crate) password: Option<String>,

    /// URL describing Redis connection details; overrides the other connection flags
    #[arg(
        short = 'u',
        long,
        env = "RQ_REDIS_URL",
        hide_env_values = true,
        global = true
    )]
    pub(crate) url: Option<String>,
}

impl ConnectionArgs {
    /// Opens the connection these flags describe and checks that Redis answers.
    ///
    /// # Errors
    /// [`Failure::Usage`] for settings that cannot work, [`Failure::Runtime`] when Redis
    /// does not answer.
    pub(crate) async fn connect(&self) -> Result<redis::aio::ConnectionManager, Failure> {
        let target = self.connection_info()?;
        match rqs_redis::connect(target, &rqs_redis::ConnectOptions::default()).await {
            Ok(conn) => Ok(conn),
            Err(e @ rqs_redis::ConnectError::InvalidSettings(_)) => {
                Err(Failure::Usage(e.to_string()))
            }
            Err(e) => Err(Failure::Runtime(e.into())),
        }
    }

    /// The Redis target: `--url` as given, else host, port, db and password.
    fn connection_info(&self) -> Result<redis::ConnectionInfo, Failure> {
        if let Some(url) = &self.url {
            return url
                .as_str()
                .into_connection_info()
                .map_err(|e| Failure::Usage(format!("invalid --url / RQ_REDIS_URL {url:?}: {e}")));
        }
        let mut settings = RedisConnectionInfo::default().set_db(self.db);
        if let Some(password) = &self.password {
            settings = settings.set_password(password);
        }
        ConnectionAddr::Tcp(self.host.clone(), self.port)
            .into_connection_info()
            .map(|info| info.set_redis_settings(settings))
            .map_err(|e| Failure::Usage(e.to_string()))
    }
}
