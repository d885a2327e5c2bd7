//! Shared support of the end-to-end and interop tests: the `rqs` binary as a child
//! process, and Redis helpers.

#![allow(dead_code, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use redis::aio::ConnectionManager;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The `rqs` binary of this build, built on first use so `cargo test` alone works.
pub fn rqs_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "rqs", "--bin", "rqs"])
            .current_dir(root())
            .status()
            .expect("cannot run cargo to build rqs");
        assert!(status.success(), "building the rqs binary failed");
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/<test> → target/<profile>/rqs
        let bin = exe.parent().unwrap().parent().unwrap().join("rqs");
        assert!(bin.exists(), "no rqs binary at {}", bin.display());
        bin
    })
}

/// A running `rqs` process; killed on drop.
#[derive(Debug)]
pub struct Daemon {
    child: Option<Child>,
    log: tempfile::NamedTempFile,
    status: Option<ExitStatus>,
}

impl Daemon {
    /// Starts `rqs` with `args` (a `--url` is not added for you).
    pub fn start(args: &[&str]) -> Self {
        Self::start_env(args, &[])
    }

    /// Starts `rqs` with extra environment variables.
    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(rqs_bin());
        cmd.args(args).envs(env.iter().copied());
        Self::spawn(cmd)
    }

    /// Starts `rqs` under a virtual memory limit (`ulimit -v`, in KiB).
    pub fn start_limited(args: &[&str], kib: u64) -> Self {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
            .arg(rqs_bin())
            .args(args);
        Self::spawn(cmd)
    }

    /// Starts a prepared command (rqs, or a wrapper that execs it).
    pub fn spawn(mut cmd: Command) -> Self {
        let log = tempfile::NamedTempFile::new().unwrap();
        // The caller's own RQ_REDIS_* settings must not leak into a test's rqs (those the
        // test sets itself stay).
        let set: Vec<std::ffi::OsString> = cmd.get_envs().map(|(k, _)| k.to_owned()).collect();
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("RQ_REDIS_") && !set.contains(&var) {
                cmd.env_remove(var);
            }
        }
        if cmd.get_envs().all(|(k, _)| k != "RUST_LOG") {
            cmd.env_remove("RUST_LOG");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("cannot start rqs");
        Self {
            child: Some(child),
            log,
            status: None,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running")
    }

    /// Sends a signal.
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid() as i32), signal).expect("cannot signal rqs");
    }

    /// Waits for the exit, at most `timeout`; `None` if still running.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.status.is_some() {
            return self.status;
        }
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.status = Some(status);
                self.child = None;
                return self.status;
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Panics, with the log, if the process has exited.
    pub fn assert_running(&mut self) {
        assert!(
            self.wait(Duration::ZERO).is_none(),
            "rqs exited: {}",
            self.log()
        );
    }

    /// Waits for the exit and returns the exit code; panics after `timeout`.
    pub fn exit_code(&mut self, timeout: Duration) -> i32 {
        let status = self
            .wait(timeout)
            .unwrap_or_else(|| panic!("rqs did not exit in {timeout:?}; log:\n{}", self.log()));
        status.code().unwrap_or(-1)
    }

    /// SIGKILL: a crash at an arbitrary instant.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            self.status = child.wait().ok();
        }
    }

    /// What rqs logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs a Redis command and returns its reply.
pub async fn q<T: redis::FromRedisValue>(conn: &ConnectionManager, cmd: &mut redis::Cmd) -> T {
    cmd.query_async(&mut conn.clone())
        .await
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

/// The ids in `rq:queue:<name>`, head first.
pub async fn queue(conn: &ConnectionManager, name: &str) -> Vec<String> {
    q(
        conn,
        redis::cmd("LRANGE")
            .arg(format!("rq:queue:{name}"))
            .arg(0)
            .arg(-1),
    )
    .await
}

/// A field of the instance record `rq:scheduler_instance:<name>`.
pub async fn instance_field(conn: &ConnectionManager, name: &str, field: &str) -> Option<String> {
    let key = format!("rq:scheduler_instance:{name}");
    q(conn, redis::cmd("HGET").arg(key).arg(field)).await
}

/// Polls `check` until it returns `Some`, at most `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A small deterministic generator for test choices, seeded per run and printed, so a
/// failing run can be repeated with `RQS_TEST_SEED`.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn from_env(test: &str) -> Self {
        let seed = std::env::var("RQS_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{test}: RQS_TEST_SEED={seed}");
        Self(seed | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// The Redis job store with `&str` ids, as a test (or a client) uses it.
#[derive(Clone)]
pub struct Jobs(pub rqs_redis::RedisJobStore<ConnectionManager>);

impl Jobs {
    pub fn new(conn: ConnectionManager) -> Self {
        Self(rqs_redis::RedisJobStore::new(conn))
    }

    pub async fn schedule(
        &self,
        id: &str,
        hash: &rqs_core::JobHash,
        score: f64,
    ) -> rqs_store::Result<()> {
        use rqs_store::JobAdmin;
        self.0.schedule(&id.into(), hash, score).await
    }

    pub async fn score(&self, id: &str) -> rqs_store::Result<Option<f64>> {
        use rqs_store::JobAdmin;
        self.0.score(&id.into()).await
    }

    pub async fn cancel(&self, id: &str) -> rqs_store::Result<bool> {
        use rqs_store::JobAdmin;
        self.0.cancel(&id.into()).await
    }

    pub async fn change_execution_time(&self, id: &str, score: f64) -> rqs_store::Result<()> {
        use rqs_store::JobAdmin;
        self.0.change_execution_time(&id.into(), score).await
    }

    pub async fn count(&self, until: Option<f64>) -> rqs_store::Result<u64> {
        use rqs_store::JobStore;
        self.0.count(until).await
    }

    /// Scheduled ids (as text) with scores.
    pub async fn list(&self) -> rqs_store::Result<Vec<(String, f64)>> {
        use rqs_store::JobAdmin;
        Ok(self
            .0
            .list(None, None)
            .await?
            .into_iter()
            .map(|(id, s)| (String::from_utf8_lossy(id.as_bytes()).into_owned(), s))
            .collect())
    }

    pub async fn quarantined(&self) -> rqs_store::Result<Vec<rqs_core::memory::Quarantined>> {
        use rqs_store::JobAdmin;
        self.0.quarantined().await
    }
}
