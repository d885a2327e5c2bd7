//! Opening and managing connections: [`RedisConnection`] (TLS, ACL users, Sentinel,
//! reconnects) from a [`RedisConfig`], and the plain [`connect`] helper.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::io::tcp::{TcpSettings, socket2};
use redis::{
    Client, Cmd, ConnectionAddr, IntoConnectionInfo, Pipeline, RedisConnectionInfo, RedisError,
    RedisFuture, RedisResult, Value,
};
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::config::{Address, ConnectOptions, RedisConfig, SentinelOptions};
use crate::connect_error::{ConnectError, classify, is_auth_error};
use crate::sentinel::{Follower, ask_sentinels, watch_switch_master};
use crate::tls::{certificates, install_tls_provider};

/// A Redis connection the rqs components can clone per call and share across tasks.
///
/// Implemented for every cheap-to-clone async connection, such as [`RedisConnection`],
/// [`ConnectionManager`] and [`redis::aio::MultiplexedConnection`]. Because the
/// components use only single commands and Lua scripts (never `WATCH`), sharing one
/// multiplexed connection is safe.
pub trait Conn: ConnectionLike + Clone + Send + Sync + 'static {}

impl<T: ConnectionLike + Clone + Send + Sync + 'static> Conn for T {}

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
    let info = info.set_tcp_settings(tcp_settings(options));
    let client = Client::open(info).map_err(ConnectError::InvalidSettings)?;
    let unreachable = |source| ConnectError::Unreachable {
        addr: addr.clone(),
        source,
    };
    let mut manager = ConnectionManager::new_with_config(client, manager_config(options))
        .await
        .map_err(unreachable)?;
    redis::cmd("PING")
        .query_async::<()>(&mut manager)
        .await
        .map_err(unreachable)?;
    Ok(manager)
}

/// The manager reconnects by itself after a dropped connection, `reconnect_retries`
/// times with waits of 50 to 500 ms: the caller retries on its own short cadence, so a
/// wait that grew with the outage would only delay the recovery.
fn manager_config(options: &ConnectOptions) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(options.response_timeout))
        .set_connection_timeout(Some(options.connection_timeout))
        .set_number_of_retries(options.reconnect_retries)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500))
}

/// `TCP_NODELAY` (hand-offs are small and latency matters), keepalive probes for idle
/// connections, and a user timeout so that the kernel closes a connection whose peer
/// vanished (a network partition) instead of retransmitting for a quarter of an hour.
fn tcp_settings(options: &ConnectOptions) -> TcpSettings {
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(15))
        .with_interval(Duration::from_secs(5))
        .with_retries(3);
    TcpSettings::default()
        .set_nodelay(true)
        .set_keepalive(keepalive)
        .set_user_timeout(options.response_timeout.max(Duration::from_secs(1)))
}

/// The redis crate's client for one address with the config's database, user, password
/// and TLS settings.
fn client_for(config: &RedisConfig, address: &Address) -> Result<Client, ConnectError> {
    let mut redis = RedisConnectionInfo::default().set_db(config.db);
    if let Some(user) = &config.username {
        redis = redis.set_username(user);
    }
    if let Some(password) = config.current_password() {
        redis = redis.set_password(password.expose());
    }
    let addr = match (address, &config.tls) {
        (Address::Tcp { host, port }, None) => ConnectionAddr::Tcp(host.clone(), *port),
        (Address::Tcp { host, port }, Some(tls)) => ConnectionAddr::TcpTls {
            host: host.clone(),
            port: *port,
            insecure: !tls.cert_reqs.verifies(),
            tls_params: None,
        },
        (Address::Unix { path }, _) => ConnectionAddr::Unix(path.clone()),
    };
    let info = addr
        .into_connection_info()
        .map_err(ConnectError::InvalidSettings)?
        .set_redis_settings(redis)
        .set_tcp_settings(tcp_settings(&config.options));
    let Some(tls) = config
        .tls
        .as_ref()
        .filter(|_| matches!(address, Address::Tcp { .. }))
    else {
        return Client::open(info).map_err(ConnectError::InvalidSettings);
    };
    let certs = certificates(tls).map_err(ConnectError::Settings)?;
    let settings = |e: RedisError| ConnectError::Settings(format!("TLS settings: {e}"));
    let client = Client::build_with_tls(info, certs).map_err(settings)?;
    if tls.cert_reqs.verifies() && !tls.check_hostname {
        let mut addr = client.get_connection_info().addr().clone();
        addr.set_danger_accept_invalid_hostnames(true);
        let info = client.get_connection_info().clone().set_addr(addr);
        return Client::open(info).map_err(settings);
    }
    Ok(client)
}

/// What `ROLE` says: `None` for a master (or when `ROLE` is not allowed), else the
/// replica's master.
async fn replica_of(conn: &mut ConnectionManager) -> Option<Option<String>> {
    let role: Value = redis::cmd("ROLE").query_async(conn).await.ok()?;
    let Value::Array(items) = role else {
        return None;
    };
    let text = |v: &Value| match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    };
    match items.first().and_then(text).as_deref() {
        Some("slave" | "replica") => {
            let master = match (items.get(1).and_then(text), items.get(2).and_then(text)) {
                (Some(h), Some(p)) => Some(format!("{h}:{p}")),
                _ => None,
            };
            Some(master)
        }
        _ => None,
    }
}

async fn open(config: &RedisConfig, address: &Address) -> Result<ConnectionManager, ConnectError> {
    let client = client_for(config, address)?;
    let connecting = async {
        let mut manager =
            ConnectionManager::new_with_config(client, manager_config(&config.options))
                .await
                .map_err(|e| classify(e, address, config))?;
        redis::cmd("PING")
            .query_async::<()>(&mut manager)
            .await
            .map_err(|e| classify(e, address, config))?;
        Ok(manager)
    };
    if config.tls.is_none() || !matches!(address, Address::Tcp { .. }) {
        return connecting.await;
    }
    // A plaintext port never answers the TLS handshake, and each of the manager's
    // attempts would wait out the timeout again: the whole connection gets it once.
    let limit = config.options.connection_timeout;
    tokio::time::timeout(limit, connecting)
        .await
        .unwrap_or_else(|_| {
            Err(ConnectError::Tls {
                addr: address.to_string(),
                problem: format!(
                    "no TLS handshake within the connect timeout of {} s: is this the \
                     server's TLS port? (a plaintext Redis port never answers one; \
                     socket_connect_timeout sets the timeout)",
                    limit.as_secs_f64()
                ),
            })
        })
}

/// A connection to the Redis master that rqs should talk to, for every component.
///
/// Made from a [`RedisConfig`]: TCP, Unix socket or TLS, with an ACL user and password,
/// to one server or to the master that Redis Sentinel names. Cheap to clone; clones share
/// one multiplexed connection.
///
/// On top of the reconnecting [`ConnectionManager`] it wraps:
/// - **after two timeouts in a row** it opens a fresh connection (a timeout alone does not
///   make the manager reconnect, and a half-open TCP connection would time out for good);
/// - **with Sentinel** it asks the sentinels for the master again when a reply says
///   `READONLY`, when the connection drops or is refused, and whenever a sentinel
///   announces `+switch-master`, and moves to the new master. A command that surely did
///   not run (refused connection, `READONLY`) is sent again, to the new master, for up to
///   the response timeout, so a failover shows up as one slow call rather than an error.
#[derive(Clone)]
pub struct RedisConnection {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

struct Shared {
    config: RedisConfig,
    current: RwLock<Current>,
    /// One reconnect or master lookup at a time.
    refresh: Mutex<()>,
    timeouts_in_a_row: AtomicU32,
    /// Dropped with the connection: ends the `+switch-master` watcher.
    _stop: Option<watch::Sender<()>>,
}

#[derive(Clone)]
struct Current {
    conn: ConnectionManager,
    address: Address,
    generation: u64,
}

/// What to do after an error.
enum Next {
    Return,
    Retry,
}

impl RedisConnection {
    /// Connects as `config` says and checks that the server is a master that answers.
    ///
    /// # Errors
    /// A [`ConnectError`] that says what to fix: settings, password, certificate, a
    /// replica where a master is needed, or an unreachable server.
    pub async fn connect(config: &RedisConfig) -> Result<Self, ConnectError> {
        if let Some(tls) = &config.tls {
            install_tls_provider();
            // A warning, not an info line: `--quiet` must not hide it.
            if !tls.cert_reqs.verifies() {
                warn!(
                    "ssl_cert_reqs=none: the server's certificate is not verified, so the \
                     connection is encrypted but anyone on the path can pose as Redis; give \
                     its CA with ssl_ca_certs instead where you can"
                );
            }
        }
        let (address, conn) = match &config.sentinel {
            Some(sentinel) => Self::master_from_sentinels(config, sentinel).await?,
            None => {
                let mut conn = open(config, &config.address).await?;
                if let Some(master) = replica_of(&mut conn).await {
                    return Err(ConnectError::ReadOnlyReplica {
                        addr: config.address.to_string(),
                        master,
                    });
                }
                (config.address.clone(), conn)
            }
        };
        let (stop, stopped) = watch::channel(());
        let sentinel = config.sentinel.clone();
        let shared = Arc::new(Shared {
            config: config.clone(),
            current: RwLock::new(Current {
                conn,
                address,
                generation: 0,
            }),
            refresh: Mutex::new(()),
            timeouts_in_a_row: AtomicU32::new(0),
            _stop: sentinel.is_some().then_some(stop),
        });
        if let Some(sentinel) = sentinel {
            tokio::spawn(watch_switch_master(
                Arc::downgrade(&shared),
                sentinel,
                stopped,
            ));
        }
        Ok(Self { shared })
    }

    /// Asks the sentinels, in order, until one names a master that answers as one.
    async fn master_from_sentinels(
        config: &RedisConfig,
        sentinel: &SentinelOptions,
    ) -> Result<(Address, ConnectionManager), ConnectError> {
        let no_master = |details: String| ConnectError::NoMaster {
            master: sentinel.master.clone(),
            details,
        };
        let address = ask_sentinels(sentinel, &config.options)
            .await
            .map_err(no_master)?;
        let mut conn = open(config, &address).await?;
        if let Some(master) = replica_of(&mut conn).await {
            return Err(no_master(format!(
                "the sentinels name {address}, but it is a replica{} (a failover under way?)",
                master.map(|m| format!(" of {m}")).unwrap_or_default()
            )));
        }
        Ok((address, conn))
    }

    /// The address of the server in use (with Sentinel, the current master).
    pub fn address(&self) -> Address {
        self.shared.current().address
    }

    /// The settings it was made from.
    pub fn config(&self) -> &RedisConfig {
        &self.shared.config
    }

    async fn request<T, F, Fut>(&self, mut send: F) -> RedisResult<T>
    where
        F: FnMut(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let deadline = Instant::now() + self.shared.config.options.response_timeout;
        loop {
            let current = self.shared.current();
            let result = send(current.conn.clone()).await;
            let Err(e) = &result else {
                self.shared.timeouts_in_a_row.store(0, Ordering::Relaxed);
                return result;
            };
            match self.shared.after_error(e, &current).await {
                Next::Retry if Instant::now() < deadline => {
                    // The master did not change (yet): do not hammer the old one.
                    if self.shared.current().generation == current.generation {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                _ => return result,
            }
        }
    }
}

impl Shared {
    fn current(&self) -> Current {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    async fn after_error(&self, e: &RedisError, used: &Current) -> Next {
        if e.is_timeout() {
            let n = self.timeouts_in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
            if n >= 2 {
                self.reconnect(used.generation).await;
            }
            return Next::Return;
        }
        // The manager keeps a refused password for good (it reconnects only after I/O
        // errors), and its password is the one it was made with: a new connection,
        // with the password file read again, is what picks up a rotated password.
        if is_auth_error(e) {
            self.reconnect(used.generation).await;
            // Refused at the handshake, so the command did not run: send it again on
            // the new connection, if there is one.
            return if self.current().generation == used.generation {
                Next::Return
            } else {
                Next::Retry
            };
        }
        if self.config.sentinel.is_none() {
            return Next::Return;
        }
        // Surely not run: the connection was refused, or the server is a replica now.
        let not_run = e.is_connection_refusal() || e.code() == Some("READONLY");
        if not_run || e.is_io_error() || e.is_connection_dropped() {
            self.find_master(used.generation, None, false).await;
        }
        if not_run { Next::Retry } else { Next::Return }
    }

    fn install(&self, conn: ConnectionManager, address: Address) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        current.conn = conn;
        current.address = address;
        current.generation += 1;
        self.timeouts_in_a_row.store(0, Ordering::Relaxed);
    }

    /// Replaces a connection that keeps timing out, or whose password was refused (with
    /// Sentinel: asks for the master).
    async fn reconnect(&self, generation: u64) {
        if self.config.sentinel.is_some() {
            return self.find_master(generation, None, true).await;
        }
        let _one = self.refresh.lock().await;
        let current = self.current();
        if current.generation != generation {
            return;
        }
        match open(&self.config, &current.address).await {
            Ok(conn) => {
                debug!(address = %current.address, "opened a new connection");
                self.install(conn, current.address);
            }
            Err(e) => debug!(error = %e, "reconnecting after timeouts failed; trying again later"),
        }
    }

    /// Moves to the master the sentinels name (or `announced`, from `+switch-master`),
    /// unless another task did since `generation`. With `fresh`, opens a new connection
    /// even when the master did not change (the old one keeps timing out).
    async fn find_master(&self, generation: u64, announced: Option<Address>, fresh: bool) {
        let Some(sentinel) = &self.config.sentinel else {
            return;
        };
        let _one = self.refresh.lock().await;
        let current = self.current();
        if current.generation != generation {
            return;
        }
        let address = match announced {
            Some(a) => a,
            None => match ask_sentinels(sentinel, &self.config.options).await {
                Ok(a) => a,
                Err(details) => {
                    warn!(master = %sentinel.master, %details, "no sentinel named the master");
                    return;
                }
            },
        };
        if address == current.address && !fresh {
            return;
        }
        let mut conn = match open(&self.config, &address).await {
            Ok(conn) => conn,
            Err(e) => {
                warn!(address = %address, error = %e, "cannot connect to the new master yet");
                return;
            }
        };
        if replica_of(&mut conn).await.is_some() {
            debug!(address = %address, "the named master is still a replica; waiting");
            return;
        }
        if address == current.address {
            warn!(address = %address, "the master did not answer twice in a row: opened a new connection");
        } else {
            info!(master = %sentinel.master, from = %current.address, to = %address, "the Redis master moved: following it");
        }
        self.install(conn, address);
    }
}

impl Follower for Shared {
    async fn follow(&self, master: Address) {
        let generation = self.current().generation;
        self.find_master(generation, Some(master), false).await;
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(self.request(move |mut conn| async move { conn.req_packed_command(cmd).await }))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(self.request(move |mut conn| async move {
            conn.req_packed_commands(pipeline, offset, count).await
        }))
    }

    fn get_db(&self) -> i64 {
        self.shared.config.db
    }
}
