//! Connecting to Redis: [`RedisConnection`] (TLS, ACL users, Sentinel, reconnects) from a
//! [`RedisConfig`], and the plain [`connect`] helper.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::io::tcp::{TcpSettings, socket2};
use redis::{
    AsyncConnectionConfig, Client, ClientTlsConfig, Cmd, ConnectionAddr, ConnectionInfo,
    IntoConnectionInfo, Pipeline, RedisConnectionInfo, RedisError, RedisFuture, RedisResult,
    TlsCertificates, Value,
};
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::config::{Address, RedisConfig, SentinelOptions, check_certificates, check_private_key};

/// A check of a PEM file's content: its parameter, its path, its bytes.
type CheckPem = fn(&str, &std::path::Path, &[u8]) -> Result<(), String>;

/// A Redis connection the rqs components can clone per call and share across tasks.
///
/// Implemented for every cheap-to-clone async connection, such as [`RedisConnection`],
/// [`ConnectionManager`] and [`redis::aio::MultiplexedConnection`]. Because the
/// components use only single commands and Lua scripts (never `WATCH`), sharing one
/// multiplexed connection is safe.
pub trait Conn: ConnectionLike + Clone + Send + Sync + 'static {}

impl<T: ConnectionLike + Clone + Send + Sync + 'static> Conn for T {}

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

/// Makes rustls use the `ring` crypto provider, unless the process chose one already.
/// Called by [`RedisConnection::connect`] for TLS; binaries may call it at start.
pub fn install_tls_provider() {
    // An error means a provider is installed already: keep it.
    let _ = rustls::crypto::ring::default_provider().install_default();
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
    let read = |what: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            ConnectError::Settings(format!("cannot read {what} {}: {e}", path.display()))
        })
    };
    // A file that is there but holds no usable PEM is bad settings, like a missing one.
    let checked = |what: &str, path, bytes: &[u8], check: CheckPem| {
        check(what, path, bytes).map_err(ConnectError::Settings)
    };
    let root_cert = match tls.ca_certs.as_deref() {
        Some(path) => {
            let pem = read("ssl_ca_certs", path)?;
            checked("ssl_ca_certs", path, &pem, check_certificates)?;
            Some(pem)
        }
        None => None,
    };
    let client_tls = match (&tls.certfile, &tls.keyfile) {
        (Some(cert), key) => {
            let client_cert = read("ssl_certfile", cert)?;
            checked("ssl_certfile", cert, &client_cert, check_certificates)?;
            let client_key = match key {
                Some(key) => read("ssl_keyfile", key)?,
                None => client_cert.clone(),
            };
            let (param, path) = key
                .as_ref()
                .map_or(("ssl_certfile", cert), |k| ("ssl_keyfile", k));
            checked(param, path, &client_key, check_private_key)?;
            Some(ClientTlsConfig {
                client_cert,
                client_key,
            })
        }
        (None, Some(_)) => {
            return Err(ConnectError::Settings(
                "ssl_keyfile needs ssl_certfile (the client certificate) too".into(),
            ));
        }
        (None, None) => None,
    };
    let certificates = TlsCertificates {
        client_tls,
        root_cert,
    };
    let settings = |e: RedisError| ConnectError::Settings(format!("TLS settings: {e}"));
    let client = Client::build_with_tls(info, certificates).map_err(settings)?;
    if tls.cert_reqs.verifies() && !tls.check_hostname {
        let mut addr = client.get_connection_info().addr().clone();
        addr.set_danger_accept_invalid_hostnames(true);
        let info = client.get_connection_info().clone().set_addr(addr);
        return Client::open(info).map_err(settings);
    }
    Ok(client)
}

/// The certificate problem in a TLS error, in plain words.
fn tls_problem(text: &str) -> Option<String> {
    let known = [
        (
            "UnknownIssuer",
            "the server's certificate is not signed by a trusted CA (UnknownIssuer): give \
             its CA with ssl_ca_certs=/path/ca.pem, or skip verification with \
             ssl_cert_reqs=none",
        ),
        (
            "not valid for name",
            "the server's certificate does not name the host connected to \
             (NotValidForName): connect by a name the certificate holds, or skip this \
             check with ssl_check_hostname=false",
        ),
        ("Expired", "the server's certificate has expired (Expired)"),
        (
            "NotValidYet",
            "the server's certificate is not valid yet (NotValidYet): check the clocks",
        ),
        (
            "BadSignature",
            "the server's certificate has a bad signature (BadSignature)",
        ),
        ("Revoked", "the server's certificate is revoked (Revoked)"),
        (
            "CertificateRequired",
            "the server requires a client certificate (CertificateRequired): give one \
             with ssl_certfile and ssl_keyfile",
        ),
        (
            "alert: UnknownCA",
            "the server does not trust our client certificate (UnknownCA)",
        ),
        (
            "alert: BadCertificate",
            "the server refused our client certificate (BadCertificate)",
        ),
        (
            "InvalidContentType",
            "the server did not answer with TLS: is this its TLS port?",
        ),
        (
            "CaUsedAsEndEntity",
            "the server's certificate is a CA certificate, as a self-signed one made with \
             `openssl req -x509` is (CaUsedAsEndEntity): give the server a certificate \
             issued by a CA and that CA with ssl_ca_certs, or skip verification with \
             ssl_cert_reqs=none",
        ),
        (
            "UnsupportedCertVersion",
            "the server's certificate is not an X.509 v3 certificate \
             (UnsupportedCertVersion): issue it again as v3",
        ),
    ];
    if let Some((_, words)) = known.iter().find(|(k, _)| text.contains(k)) {
        return Some((*words).to_owned());
    }
    let lower = text.to_ascii_lowercase();
    (lower.contains("invalid peer certificate")
        || lower.contains("received fatal alert")
        || lower.contains("tls"))
    .then(|| format!("TLS error: {}", unwrap_debug(text)))
}

/// `Other(OtherError(Name))`, rustls's debug form of a certificate error it has no
/// variant for, as `Name`.
fn unwrap_debug(text: &str) -> String {
    let mut text = text.to_owned();
    for wrapper in ["Other(OtherError(", "OtherError("] {
        while let Some(start) = text.find(wrapper) {
            let inner = start + wrapper.len();
            let depth = wrapper.matches('(').count();
            match text[inner..].find(&")".repeat(depth)) {
                Some(end) => {
                    text.replace_range(inner + end..inner + end + depth, "");
                    text.replace_range(start..inner, "");
                }
                None => break,
            }
        }
    }
    text
}

/// A connection error as a [`ConnectError`] that says what to do.
fn classify(e: RedisError, address: &Address, config: &RedisConfig) -> ConnectError {
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

/// Whether Redis refused the credentials: a password rotated on the server before (or
/// after) the client's, or a user disabled for a moment.
fn is_auth_error(e: &RedisError) -> bool {
    e.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(e.code(), Some("WRONGPASS" | "NOAUTH"))
        || e.to_string().contains("WRONGPASS")
}

/// Asks each sentinel in turn for the master's address.
async fn ask_sentinels(
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
async fn watch_switch_master(
    shared: Weak<Shared>,
    sentinel: SentinelOptions,
    mut stopped: watch::Receiver<()>,
) {
    loop {
        for (host, port) in &sentinel.nodes {
            let listened = tokio::select! {
                r = listen(&shared, &sentinel, host, *port) => r,
                _ = stopped.changed() => return,
            };
            if let Err(e) = listened {
                debug!(sentinel = %format!("{host}:{port}"), error = %e, "cannot listen to this sentinel");
            }
            if shared.strong_count() == 0 {
                return;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stopped.changed() => return,
        }
    }
}

async fn listen(
    shared: &Weak<Shared>,
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
        let Some(shared) = shared.upgrade() else {
            return Ok(());
        };
        let address = Address::Tcp {
            host: host.to_owned(),
            port,
        };
        debug!(%address, "a sentinel announced a new master");
        let generation = shared.current().generation;
        shared.find_master(generation, Some(address), false).await;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_problems_in_plain_words() {
        let unknown = tls_problem("invalid peer certificate: UnknownIssuer").unwrap();
        assert!(unknown.contains("not signed by a trusted CA"), "{unknown}");
        let name = tls_problem(
            "invalid peer certificate: certificate not valid for name \"h\"; certificate is only valid for DnsName(\"x\")",
        )
        .unwrap();
        assert!(name.contains("ssl_check_hostname=false"), "{name}");
        assert_eq!(tls_problem("connection refused"), None);
        let own =
            tls_problem("invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))").unwrap();
        assert!(own.contains("is a CA certificate"), "{own}");
        assert!(!own.contains("OtherError"), "{own}");
        let other =
            tls_problem("invalid peer certificate: Other(OtherError(SomethingNew))").unwrap();
        assert_eq!(other, "TLS error: invalid peer certificate: SomethingNew");
    }
}
