//! Redis Sentinel: asking the sentinels which server is the master, and listening for
//! their `+switch-master` announcements.
//!
//! Moving a connection to the master named here is the connection's business
//! ([`RedisConnection`](crate::RedisConnection)): it hands the watcher a [`Follower`].

use std::future::Future;
use std::sync::Weak;
use std::time::Duration;

use futures_util::StreamExt;
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo,
    RedisConnectionInfo, RedisResult,
};
use tokio::sync::watch;
use tracing::debug;

use crate::config::{Address, ConnectOptions, SentinelOptions};

/// What follows the master a sentinel announces: the connection, which checks that the
/// new master answers as one before it moves.
pub(crate) trait Follower: Send + Sync + 'static {
    /// Moves to `master`, unless someone moved already.
    fn follow(&self, master: Address) -> impl Future<Output = ()> + Send;
}

/// Asks each sentinel in turn for the master's address.
pub(crate) async fn ask_sentinels(
    sentinel: &SentinelOptions,
    options: &ConnectOptions,
) -> Result<Address, String> {
    let mut problems = Vec::new();
    for (host, port) in &sentinel.nodes {
        match ask_sentinel(sentinel, host, *port, options).await {
            Ok(Some(address)) => return Ok(address),
            Ok(None) => problems.push(format!("{host}:{port} knows no such master")),
            Err(e) => problems.push(format!("{host}:{port}: {e}")),
        }
    }
    Err(problems.join("; "))
}

fn sentinel_client(sentinel: &SentinelOptions, host: &str, port: u16) -> RedisResult<Client> {
    let mut redis = RedisConnectionInfo::default();
    if let Some(user) = &sentinel.username {
        redis = redis.set_username(user);
    }
    if let Some(password) = &sentinel.password {
        redis = redis.set_password(password.expose());
    }
    let info: ConnectionInfo = ConnectionAddr::Tcp(host.to_owned(), port)
        .into_connection_info()?
        .set_redis_settings(redis);
    Client::open(info)
}

async fn ask_sentinel(
    sentinel: &SentinelOptions,
    host: &str,
    port: u16,
    options: &ConnectOptions,
) -> RedisResult<Option<Address>> {
    let client = sentinel_client(sentinel, host, port)?;
    // A sentinel that hangs must not hold up the others for long.
    let wait = options.connection_timeout.min(Duration::from_secs(2));
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(wait))
        .set_response_timeout(Some(wait));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let reply: Option<(String, u16)> = redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(&sentinel.master)
        .query_async(&mut conn)
        .await?;
    Ok(reply.map(|(host, port)| Address::Tcp { host, port }))
}

/// Follows `+switch-master` announcements of any sentinel, until the connection is
/// dropped.
pub(crate) async fn watch_switch_master<F: Follower>(
    follower: Weak<F>,
    sentinel: SentinelOptions,
    mut stopped: watch::Receiver<()>,
) {
    loop {
        for (host, port) in &sentinel.nodes {
            let listened = tokio::select! {
                r = listen(&follower, &sentinel, host, *port) => r,
                _ = stopped.changed() => return,
            };
            if let Err(e) = listened {
                debug!(sentinel = %format!("{host}:{port}"), error = %e, "cannot listen to this sentinel");
            }
            if follower.strong_count() == 0 {
                return;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stopped.changed() => return,
        }
    }
}

async fn listen<F: Follower>(
    follower: &Weak<F>,
    sentinel: &SentinelOptions,
    host: &str,
    port: u16,
) -> RedisResult<()> {
    let client = sentinel_client(sentinel, host, port)?;
    let mut pubsub = tokio::time::timeout(Duration::from_secs(2), client.get_async_pubsub())
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    pubsub.subscribe("+switch-master").await?;
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let payload: String = message.get_payload()?;
        // "<master name> <old ip> <old port> <new ip> <new port>"
        let fields: Vec<&str> = payload.split(' ').collect();
        let [name, _, _, host, port] = fields[..] else {
            continue;
        };
        if name != sentinel.master {
            continue;
        }
        let Ok(port) = port.parse() else { continue };
        let Some(follower) = follower.upgrade() else {
            return Ok(());
        };
        let address = Address::Tcp {
            host: host.to_owned(),
            port,
        };
        debug!(%address, "a sentinel announced a new master");
        follower.follow(address).await;
    }
    Ok(())
}
