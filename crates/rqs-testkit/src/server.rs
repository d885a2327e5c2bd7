//! A private `redis-server` per test, on a free loopback port, killed on drop.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tls::CertFiles;

/// How to start a server.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Keep data across restarts with an append-only file (fsync always).
    pub persistent: bool,
    /// Run the server in a process group of its own, so a Ctrl-C at the terminal reaches
    /// only its owner, which then stops it when it is done with it (the demo reads its
    /// final counts after a Ctrl-C). Tests leave this off: a test run stopped with Ctrl-C
    /// takes its servers down with it.
    pub own_process_group: bool,
    /// Also listen for TLS connections on a second port.
    pub tls: Option<TlsServer>,
    /// Start as a replica of this master port on 127.0.0.1.
    pub replica_of: Option<u16>,
    /// Listen on this address instead of 127.0.0.1.
    pub bind: Option<Ipv4Addr>,
    /// Run inside this network namespace (`ip netns exec <name>`).
    pub netns: Option<String>,
    /// More `redis-server` arguments (`--maxmemory 10mb`...).
    pub args: Vec<String>,
    /// A command that runs the server (`valgrind --tool=callgrind`...): the server's
    /// binary and arguments follow it.
    pub wrapper: Vec<String>,
}

/// The TLS side of a server: its certificate, the CA it trusts for client certificates,
/// and whether it demands one (`tls-auth-clients`).
#[derive(Debug, Clone)]
pub struct TlsServer {
    /// The server's certificate and key.
    pub cert: CertFiles,
    /// The CA of client certificates.
    pub ca: PathBuf,
    /// Refuse clients without a certificate signed by `ca` (mutual TLS).
    pub auth_clients: bool,
}

impl ServerOptions {
    /// Options for a server that keeps its data across [`RedisServer::restart`].
    pub fn persistent() -> Self {
        Self {
            persistent: true,
            ..Self::default()
        }
    }

    /// The same options, with the server in a process group of its own.
    pub fn in_own_process_group(mut self) -> Self {
        self.own_process_group = true;
        self
    }

    /// Adds a TLS port.
    pub fn tls(mut self, tls: TlsServer) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Starts as a replica of the server on `master_port`.
    pub fn replica_of(mut self, master_port: u16) -> Self {
        self.replica_of = Some(master_port);
        self
    }

    /// Runs inside a network namespace, listening on `bind`.
    pub fn in_netns(mut self, netns: impl Into<String>, bind: Ipv4Addr) -> Self {
        self.netns = Some(netns.into());
        self.bind = Some(bind);
        self
    }

    /// Adds `redis-server` arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Runs the server under `wrapper` (a program and its arguments).
    pub fn wrapped(mut self, wrapper: &[&str]) -> Self {
        self.wrapper = wrapper.iter().map(|a| (*a).to_owned()).collect();
        self
    }
}

/// A `redis-server` child process owned by a test.
///
/// It listens on 127.0.0.1 only, keeps its files in a temporary directory and never
/// touches a Redis it did not start. The binary is `redis-server` on `PATH`, or
/// `$RQS_REDIS_SERVER` when set; when it is missing the test fails with the command that
/// installs it.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    tls_port: Option<u16>,
    dir: tempfile::TempDir,
    options: ServerOptions,
}

const INSTALL_HINT: &str = "redis-server is required by the tests: install it with \
`sudo apt-get install -y redis-server` (Debian/Ubuntu), or run the README's test command \
(`cargo xtask test`), which installs it; set RQS_REDIS_SERVER to use another binary";

pub(crate) fn binary() -> PathBuf {
    std::env::var_os("RQS_REDIS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("redis-server"))
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

impl RedisServer {
    /// Starts a server without persistence.
    ///
    /// # Panics
    /// When `redis-server` is missing or does not start; a test cannot go on without it.
    pub fn start() -> Self {
        Self::start_with(ServerOptions::default())
    }

    /// Starts a server with options.
    ///
    /// # Panics
    /// As [`RedisServer::start`].
    pub fn start_with(options: ServerOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rqs-redis-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let mut server = Self {
            child: None,
            port: 0,
            tls_port: None,
            dir,
            options,
        };
        // Another process may take the port between our probe and the server's bind.
        for _ in 0..20 {
            server.port = free_port();
            server.tls_port = server.options.tls.as_ref().map(|_| free_port());
            if server.spawn() {
                return server;
            }
        }
        panic!(
            "redis-server did not start after 20 attempts; its log is:\n{}",
            server.log()
        );
    }

    fn spawn(&mut self) -> bool {
        let ready_before = self.ready_lines();
        let mut cmd = match &self.options.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(binary());
                c
            }
            None => match self.options.wrapper.split_first() {
                Some((program, args)) => {
                    let mut c = Command::new(program);
                    c.args(args).arg(binary());
                    c
                }
                None => Command::new(binary()),
            },
        };
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg(self.host().to_string())
            .args(["--protected-mode", "no"])
            // Tests stall the server with DEBUG SLEEP.
            .args(["--enable-debug-command", "yes"])
            .args(["--save", ""])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"));
        if self.options.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        if self.options.own_process_group {
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        }
        if let (Some(tls), Some(port)) = (&self.options.tls, self.tls_port) {
            cmd.arg("--tls-port")
                .arg(port.to_string())
                .arg("--tls-cert-file")
                .arg(&tls.cert.cert)
                .arg("--tls-key-file")
                .arg(&tls.cert.key)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca)
                .arg("--tls-auth-clients")
                .arg(if tls.auth_clients { "yes" } else { "no" });
        }
        if let Some(master) = self.options.replica_of {
            cmd.args(["--replicaof", "127.0.0.1"])
                .arg(master.to_string());
        }
        cmd.args(&self.options.args);
        let child = match cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("{INSTALL_HINT} ({}: {e})", binary().display())
            }
            Err(e) => panic!("cannot run {}: {e}", binary().display()),
        };
        self.child = Some(child);
        // A server under valgrind takes seconds to start.
        let patience = if self.options.wrapper.is_empty() {
            10
        } else {
            60
        };
        let deadline = Instant::now() + Duration::from_secs(patience);
        while Instant::now() < deadline {
            // A PING answered on our port may come from another test's server that took
            // the port first: only our own log saying it is ready (once more than before
            // a restart) proves that the server answering is ours.
            if self.ping() && self.ready_lines() > ready_before {
                return true;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                // Exited: most likely the port was taken.
                self.child = None;
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.kill();
        false
    }

    fn ready_lines(&self) -> usize {
        self.log().matches("Ready to accept connections").count()
    }

    fn ping(&self) -> bool {
        answers_ping(SocketAddr::from((self.host(), self.port)))
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TLS port, for a server started with [`ServerOptions::tls`].
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    /// The address it listens on: 127.0.0.1 unless [`ServerOptions::in_netns`] said.
    pub fn host(&self) -> Ipv4Addr {
        self.options.bind.unwrap_or(Ipv4Addr::LOCALHOST)
    }

    /// `redis://<host>:<port>/<db>`.
    pub fn url_db(&self, db: u8) -> String {
        format!("redis://{}:{}/{db}", self.host(), self.port)
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        self.url_db(0)
    }

    /// The server's working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default()
    }

    /// A reconnecting connection to database 0.
    ///
    /// # Panics
    /// When the server does not answer.
    #[cfg(feature = "redis")]
    pub async fn connection(&self) -> rqs_redis::redis::aio::ConnectionManager {
        self.connection_db(0).await
    }

    /// A reconnecting connection to database `db`.
    ///
    /// # Panics
    /// When the server does not answer.
    #[cfg(feature = "redis")]
    pub async fn connection_db(&self, db: u8) -> rqs_redis::redis::aio::ConnectionManager {
        rqs_redis::connect(self.url_db(db), &rqs_redis::ConnectOptions::default())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test redis-server: {e}"))
    }

    /// Kills the server (SIGKILL): a crash, not a shutdown.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (after [`kill`](Self::kill)).
    ///
    /// # Panics
    /// When it does not come back.
    pub fn restart(&mut self) {
        self.kill();
        // A server under valgrind takes seconds to start.
        let patience = if self.options.wrapper.is_empty() {
            10
        } else {
            60
        };
        let deadline = Instant::now() + Duration::from_secs(patience);
        while Instant::now() < deadline {
            if self.spawn() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "redis-server did not restart on port {}:\n{}",
            self.port,
            self.log()
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a Redis server (or sentinel) answers `PING` at `addr`.
pub(crate) fn answers_ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    // A server with a password answers NOAUTH: it is up all the same.
    stream.read_exact(&mut reply).is_ok() && (&reply == b"+PONG\r\n" || &reply == b"-NOAUTH")
}
