//! Redis plumbing shared by the Redis implementations of the rqs component traits.
//!
//! - [`connect`]: a reconnecting [`ConnectionManager`] with `TCP_NODELAY` on and response
//!   and connect timeouts sized for batch scripts (the redis crate's 500 ms default is too
//!   short for a large batch and would report writes that did happen as failures);
//! - [`Conn`]: the connection bound the implementations are generic over;
//! - [`script`] and [`encode_enqueue`]: the Lua fragment that applies an
//!   [`rqs_core::Enqueue`], so the sink's enqueue script and the store's commit script
//!   run the very same code;
//! - [`is_transient`]: which Redis errors are worth retrying.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, RedisError, Script};
use rqs_core::{Enqueue, keys};

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
pub enum Error {
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
/// [`Error::InvalidSettings`] for a bad URL, [`Error::Unreachable`] when no server answers.
pub async fn connect<T: IntoConnectionInfo>(
    target: T,
    options: &ConnectOptions,
) -> Result<ConnectionManager, Error> {
    let info = target
        .into_connection_info()
        .map_err(Error::InvalidSettings)?;
    let addr = info.addr().to_string();
    let info = info.set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
    let client = redis::Client::open(info).map_err(Error::InvalidSettings)?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(options.response_timeout))
        .set_connection_timeout(Some(options.connection_timeout))
        .set_number_of_retries(options.reconnect_retries);
    let unreachable = |source| Error::Unreachable {
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

/// Whether an error is a passing condition (connection dropped, timeout, server loading or
/// failing over) after which the same call may succeed.
pub fn is_transient(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || matches!(
            error.code(),
            Some("LOADING" | "BUSY" | "TRYAGAIN" | "MASTERDOWN" | "READONLY" | "CLUSTERDOWN")
        )
}

/// The error code rqs's scripts fail with, before writing anything, when a key has a type
/// they cannot work with.
pub const REJECTED: &str = "RQS_REJECTED";

/// Implements `From<redis::RedisError>` for a component error enum with `Unavailable`
/// and `Backend` variants that hold a boxed error: transient errors ([`is_transient`])
/// become `Unavailable`, the rest `Backend`. With `rejected`, the enum also has a
/// `Rejected(String)` variant for a script's [`REJECTED`] refusal.
#[macro_export]
macro_rules! impl_from_redis_error {
    ($error:ty) => {
        impl From<$crate::redis::RedisError> for $error {
            fn from(e: $crate::redis::RedisError) -> Self {
                if $crate::is_transient(&e) {
                    Self::Unavailable(Box::new(e))
                } else {
                    Self::Backend(Box::new(e))
                }
            }
        }
    };
    ($error:ty, rejected) => {
        impl From<$crate::redis::RedisError> for $error {
            fn from(e: $crate::redis::RedisError) -> Self {
                if e.code() == Some($crate::REJECTED) {
                    Self::Rejected(e.detail().unwrap_or_default().to_owned())
                } else if $crate::is_transient(&e) {
                    Self::Unavailable(Box::new(e))
                } else {
                    Self::Backend(Box::new(e))
                }
            }
        }
    };
}

#[doc(hidden)]
pub use redis;

const ENQUEUE_FRAGMENT: &str = include_str!("lua/enqueue.lua");

/// Builds a script from the shared enqueue fragment followed by `body`, with RQ's key
/// prefixes filled in.
pub fn script(body: &str) -> Script {
    Script::new(&source(body))
}

fn source(body: &str) -> String {
    format!("{ENQUEUE_FRAGMENT}\n{body}")
        .replace("{{JOB}}", keys::JOB_PREFIX)
        .replace("{{QUEUE}}", keys::QUEUE_PREFIX)
        .replace("{{DEFERRED}}", keys::DEFERRED_PREFIX)
        .replace("{{QUEUES}}", keys::QUEUES)
}

/// Appends the ARGV record of one [`Enqueue`] that the Lua fragment reads.
pub fn encode_enqueue(e: &Enqueue, args: &mut Vec<Vec<u8>>) {
    let flag = |b: bool| if b { b"1".to_vec() } else { b"0".to_vec() };
    args.push(e.job_id.as_bytes().to_vec());
    args.push(e.queue.as_bytes().to_vec());
    args.push(flag(e.at_front));
    args.push(
        e.ttl
            .map(|t| t.to_string().into_bytes())
            .unwrap_or_default(),
    );
    args.push(flag(e.was_deferred));
    args.push(e.now.to_string().into_bytes());
    for fields in [&e.ready_fields, &e.deferred_fields] {
        args.push(fields.len().to_string().into_bytes());
        for (k, v) in fields {
            args.push(k.as_bytes().to_vec());
            args.push(v.clone());
        }
    }
    for list in [&e.dependencies, &e.met_statuses] {
        args.push(list.len().to_string().into_bytes());
        args.extend(list.iter().map(|s| s.as_bytes().to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_has_no_placeholders_left() {
        let text = source("return 1");
        assert!(!text.contains("{{"));
        assert!(text.contains("'rq:job:' .. e.id"));
        assert!(text.contains("'rq:job::' .. e.id .. ':dependencies'"));
        assert!(text.contains("'rq:queues'"));
        assert!(text.ends_with("return 1"));
    }
}
