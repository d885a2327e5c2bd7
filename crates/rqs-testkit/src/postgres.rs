//! A private PostgreSQL server per test, as [`RedisServer`](crate::RedisServer) is for
//! Redis: its own data directory (`initdb`), a free loopback port, trust authentication
//! for the `postgres` user, stopped and removed on drop. Tests that need PostgreSQL (the
//! PostgreSQL lock example) then need nothing already running on the machine.
//!
//! The binaries come from Debian's `postgresql` package (`cargo xtask test` installs it):
//! `initdb` and `postgres` on `PATH`, or under `/usr/lib/postgresql/<version>/bin`.
//! PostgreSQL refuses to run as root, so under root both run as the `postgres` user (or
//! `nobody`), with the data directory handed to that user.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to accept connections.
const START_PATIENCE: Duration = Duration::from_secs(60);

/// A running private PostgreSQL server; stopped (and its files removed) on drop.
#[derive(Debug)]
pub struct PostgresServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl PostgresServer {
    /// Creates a database cluster in a temporary directory and starts a server on a free
    /// loopback port.
    ///
    /// # Panics
    /// When the binaries are missing (the message says how to install them) or the server
    /// does not come up (the message holds its log).
    pub fn start() -> Self {
        let bin = binaries().unwrap_or_else(|| {
            panic!(
                "initdb and postgres not found on PATH nor under /usr/lib/postgresql/*/bin: \
                 install Debian's postgresql package (cargo xtask test does)"
            )
        });
        let dir = tempfile::Builder::new()
            .prefix("rqs-postgres-")
            .tempdir()
            .expect("cannot make a temporary directory");
        let owner = Owner::for_this_process();
        owner.hand_over(dir.path());
        let data = dir.path().join("data");
        let init = owner
            .command(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .expect("cannot run initdb");
        assert!(
            init.status.success(),
            "initdb failed:\n{}\n{}",
            String::from_utf8_lossy(&init.stdout),
            String::from_utf8_lossy(&init.stderr)
        );
        let port = free_port();
        let log = dir.path().join("server.log");
        let log_file = fs::File::create(&log).expect("cannot create the server log");
        owner.hand_over(&log);
        let child = owner
            .command(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            // No socket file: TCP on loopback only, nothing left in /var/run.
            .args(["-c", "unix_socket_directories="])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("cannot start postgres");
        let mut server = Self {
            child: Some(child),
            port,
            dir,
        };
        server.wait_until_ready(&log);
        server
    }

    fn wait_until_ready(&mut self, log: &Path) {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + START_PATIENCE;
        while Instant::now() < deadline {
            let text = fs::read_to_string(log).unwrap_or_default();
            // The log says so once it takes connections; another server that happens
            // to answer on the port would not write to this log.
            if text.contains("ready to accept connections")
                && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            {
                return;
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("postgres exited with {status}:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "postgres did not accept connections within {START_PATIENCE:?}:\n{}",
            fs::read_to_string(log).unwrap_or_default()
        );
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A libpq connection string for the `postgres` user and database.
    pub fn conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }

    /// The server's own directory (data and log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL: the data directory goes with the test, nothing to shut down for.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The folder that holds `initdb` and `postgres`.
fn binaries() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    // Debian keeps them out of PATH, one folder per major version: take the newest.
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// Who runs the server: this process, or under root an unprivileged user.
struct Owner(Option<(u32, u32)>);

impl Owner {
    fn for_this_process() -> Self {
        if !is_root() {
            return Self(None);
        }
        Self(Some(
            user_ids("postgres")
                .or_else(|| user_ids("nobody"))
                .unwrap_or((65_534, 65_534)),
        ))
    }

    fn hand_over(&self, path: &Path) {
        if let Some((uid, gid)) = self.0 {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("cannot hand {} over: {e}", path.display()));
        }
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        if let Some((uid, gid)) = self.0 {
            cmd.uid(uid).gid(gid).env("HOME", "/");
        }
        // A temporary directory is the working directory PostgreSQL can always enter.
        cmd.current_dir("/");
        cmd
    }
}

fn is_root() -> bool {
    // The owner of /proc/self is this process's effective user.
    fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

/// A user's uid and gid from /etc/passwd.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != name {
            return None;
        }
        let uid = fields.nth(1)?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some((uid, gid))
    })
}
