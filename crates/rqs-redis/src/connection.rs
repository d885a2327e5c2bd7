//! Connecting to Redis.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, RedisError};

/// A Redis connection the rqs components can clone per call and share across tasks.
///
/// Implemented for every cheap-to-clone async connection, such as
/// [`ConnectionManager`] and [`redis::aio::MultiplexedConnection`]. Because the components
/// use only single commands and Lua scripts (never `WATCH`), sharing one multiplexed
/// connection is safe.
pub trait Conn: ConnectionLike + Clone + Send + Sync + 'static {}

impl<T: ConnectionLike + Clone + Send + Sync + 'static> Conn for T {}

/// Connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// How long to wait for any reply.
    pub response_timeout: Duration,
    /// How long to wait for a TCP connection and handshake.
    pub connection_timeout: Duration,
    /// Reconnect attempts before a command fails.
    pub reconnect_retries: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            response_timeout: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(5),
            reconnect_retries: 3,
        }
    }
}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL or connection parameters are invalid.
    #[error("invalid Redis connection settings: {0}")]
    InvalidSettings(#[source] RedisError),
    /// Redis did not answer.
    #[error("cannot reach Redis at {addr}: {source}")]
    Unreachable {
        /// The address tried.
        addr: String,
        /// The underlying error.
        #[source]
        source: RedisError,
    },
}

/// Opens a reconnecting connection and checks that the server answers `PING`.
///
/// # Errors
/// [`ConnectError::InvalidSettings`] for a bad URL, [`ConnectError::Unreachable`] when no
/// server answers.
pub async fn connect<T: IntoConnectionInfo>(
    target: T,
    options: &ConnectOptions,
) -> Result<ConnectionManager, ConnectError> {
    let info = target
        .into_connection_info()
        .map_err(ConnectError::InvalidSettings)?;
    let addr = info.addr().to_string();
    let info = info.set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
    let client = redis::Client::open(info).map_err(ConnectError::InvalidSettings)?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(options.response_timeout))
        .set_connection_timeout(Some(options.connection_timeout))
        .set_number_of_retries(options.reconnect_retries);
    let unreachable = |source| ConnectError::Unreachable {
        addr: addr.clone(),
        source,
    };
    let mut manager = ConnectionManager::new_with_config(client, config)
        .await
        .map_err(unreachable)?;
    redis::cmd("PING")
        .query_async::<()>(&mut manager)
        .await
        .map_err(unreachable)?;
    Ok(manager)
}
