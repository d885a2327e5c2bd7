//! A private Redis Sentinel per test, watching a [`RedisServer`](crate::RedisServer) master.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::server::free_port;

/// A `redis-server --sentinel` child process on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct RedisSentinel {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl RedisSentinel {
    /// Starts a sentinel that watches the master on `127.0.0.1:<master_port>` under
    /// `master_name`, with `quorum` and `down_after` (`down-after-milliseconds`). The
    /// failover timeout is short (5 s), so a failed election is retried soon.
    ///
    /// # Panics
    /// When it does not start.
    pub fn start(master_name: &str, master_port: u16, quorum: u32, down_after: Duration) -> Self {
        Self::start_with(master_name, master_port, quorum, down_after, &[])
    }

    /// [`RedisSentinel::start`] with more configuration lines (`requirepass …`).
    ///
    /// # Panics
    /// When it does not start.
    pub fn start_with(
        master_name: &str,
        master_port: u16,
        quorum: u32,
        down_after: Duration,
        extra: &[&str],
    ) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rqs-sentinel-")
            .tempdir()
            .expect("cannot create a temporary directory");
        for _ in 0..20 {
            let port = free_port();
            // Sentinel rewrites its configuration file, so each gets its own.
            let conf = dir.path().join("sentinel.conf");
            let text = format!(
                "port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {dir}\nlogfile {log}\n\
                 sentinel monitor {master_name} 127.0.0.1 {master_port} {quorum}\n\
                 sentinel down-after-milliseconds {master_name} {down}\n\
                 sentinel failover-timeout {master_name} 5000\n\
                 sentinel parallel-syncs {master_name} 1\n",
                dir = dir.path().display(),
                log = dir.path().join("sentinel.log").display(),
                down = down_after.as_millis(),
            );
            let text = format!("{text}{}\n", extra.join("\n"));
            std::fs::write(&conf, text).expect("cannot write sentinel.conf");
            let mut child = Command::new(crate::server::binary())
                .arg(&conf)
                .arg("--sentinel")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run redis-server --sentinel: {e}"));
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if ping(port) {
                    return Self {
                        child: Some(child),
                        port,
                        dir,
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis sentinel did not start; its log:\n{}", log(&dir));
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, as rqs's `--sentinel` takes it.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `redis://127.0.0.1:<port>`, to talk to the sentinel itself.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The sentinel's log so far.
    pub fn log(&self) -> String {
        log(&self.dir)
    }
}

fn log(dir: &tempfile::TempDir) -> String {
    std::fs::read_to_string(dir.path().join("sentinel.log")).unwrap_or_default()
}

fn ping(port: u16) -> bool {
    crate::server::answers_ping(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
