//! `cargo xtask demo`: the whole flow on this machine, narrated.
//!
//! A private `redis-server`, `rqs` and an `rq worker` start; rq-scheduler's own Python
//! client schedules a one-off, an interval and a cron job; rqs hands them over and the
//! worker runs them. Every narrated event and every count is read from Redis (the job
//! hashes, the schedule, and a list the demo's task appends to on each run), so a broken
//! hand-off shows in the last line: `demo: N scheduled, N handed over, N run`.

use std::collections::HashSet;
use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use rqs_redis::redis;
use rqs_testkit::python::{self, Stack};
use rqs_testkit::{RedisServer, ServerOptions};

use crate::{cargo, project_root};

const USAGE: &str = "usage: cargo xtask demo [--keep] [--release] [--seconds N] [--dir DIR]\n\n  \
    --keep       run until Ctrl-C instead of stopping after N seconds\n  \
    --release    build and run the release rqs (default: the debug build the tests use)\n  \
    --seconds N  how long to run (default 30)\n  \
    --dir DIR    where the logs of rqs and the worker go (default target/rqs-demo)";

const QUEUE: &str = "demo";
const SCHEDULE: &str = "rq:scheduler:scheduled_jobs";
const LOCK: &str = "rq:scheduler_lock";
/// Written by `xtask/demo/rqs_demo_tasks.py`, one entry per run.
const RUNS: &str = "rqs-demo:runs";
const RQS_NAME: &str = "rqs-demo";
const WORKER_NAME: &str = "rqs-demo-worker";
const TICK: Duration = Duration::from_millis(100);
/// How long rqs and the worker get to come up, or the worker to run what was handed over.
const PATIENCE: Duration = Duration::from_secs(60);

/// Set by the first SIGINT, SIGTERM or SIGHUP.
static STOP: AtomicBool = AtomicBool::new(false);

#[derive(Debug)]
struct Options {
    keep: bool,
    release: bool,
    seconds: u64,
    dir: PathBuf,
}

fn parse(args: &[&str]) -> Result<Options> {
    let mut options = Options {
        keep: false,
        release: false,
        seconds: 30,
        dir: target_dir().join("rqs-demo"),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match *arg {
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--keep" => options.keep = true,
            "--release" => options.release = true,
            "--seconds" => {
                options.seconds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .with_context(|| format!("--seconds takes a positive number\n{USAGE}"))?;
            }
            "--dir" => {
                options.dir = args
                    .next()
                    .map(PathBuf::from)
                    .with_context(|| format!("--dir takes a directory\n{USAGE}"))?;
            }
            _ => bail!("unknown argument {arg:?}\n{USAGE}"),
        }
    }
    Ok(options)
}

/// Runs the demo; exits with 130 when a signal cut a timed demo short.
pub(crate) fn run(args: &[&str]) -> Result<()> {
    let options = parse(args)?;
    watch_signals()?;
    // Every child is stopped when `demo` returns, whichever way it returns.
    let interrupted = demo(&options)?;
    if interrupted {
        std::process::exit(130);
    }
    Ok(())
}

/// The target directory: `cargo run` builds xtask as `<target>/<profile>/xtask`.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_owned()))
        .unwrap_or_else(|| project_root().join("target"))
}

fn demo(options: &Options) -> Result<bool> {
    crate::system::ensure_demo_prerequisites()?;
    let rqs_bin = build_rqs(options.release)?;
    println!(
        "demo: preparing the pinned Python stack (rq 2.12.0, rq-scheduler 0.14.0; built once)"
    );
    let env = python::ensure(Stack::Rq2);
    let scripts = project_root().join("xtask").join("demo");
    std::fs::create_dir_all(&options.dir)
        .with_context(|| format!("cannot create {}", options.dir.display()))?;
    let logs = [options.dir.join("rqs.log"), options.dir.join("worker.log")];
    let see_logs = format!("see {} and {}", logs[0].display(), logs[1].display());

    // Its own process group: a Ctrl-C at the terminal reaches only this process, which
    // stops the others in order and still reads the final counts.
    let server = RedisServer::start_with(ServerOptions::default().in_own_process_group());
    let url = server.url();
    println!(
        "demo: a private redis-server (pid {}) on 127.0.0.1:{}, nothing saved; logs in {}",
        server.pid().unwrap_or_default(),
        server.port(),
        options.dir.display()
    );

    // The status page comes with the `--metrics-addr` flag; used when this rqs has it.
    let status_page = has_flag(&rqs_bin, "--metrics-addr")
        .then(free_port)
        .transpose()?;
    let mut rqs_cmd = Command::new(&rqs_bin);
    rqs_cmd.args(["run", "--url", &url, "--name", RQS_NAME, "--verbose"]);
    if let Some(port) = status_page {
        rqs_cmd
            .arg("--metrics-addr")
            .arg(format!("127.0.0.1:{port}"));
    }
    let mut rqs = Proc::spawn("rqs", &mut rqs_cmd, &logs[0])?;
    let mut worker = Proc::spawn(
        "rq worker",
        Command::new(env.bin("rq"))
            .args(["worker", "--url", &url, "--name", WORKER_NAME, "--path"])
            .arg(&scripts)
            .arg(QUEUE)
            .current_dir(&scripts)
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        &logs[1],
    )?;
    let mut watch = Watch::new(&url, (rqs.pid(), worker.pid()))?;

    // rqs and the worker register in Redis once they are ready; then the client schedules.
    let ready_by = Instant::now() + PATIENCE;
    let mut failure = None;
    while failure.is_none() && !stopping() && !(watch.rqs_active && watch.worker_up) {
        if Instant::now() > ready_by {
            failure = Some("rqs or the worker did not register in Redis within a minute".into());
        } else {
            failure = watch.tick(&mut [&mut rqs, &mut worker])?;
        }
    }
    if failure.is_none() && !stopping() {
        schedule(&env, &scripts, &url, &mut watch)?;
        if options.keep {
            println!("demo: running until Ctrl-C. Look at the data with:");
            println!("        redis-cli -p {}", server.port());
            println!(
                "        (for instance ZRANGE {SCHEDULE} 0 -1 WITHSCORES, HGETALL rq:job:demo-interval, LRANGE {RUNS} 0 -1)"
            );
            if let Some(port) = status_page {
                println!("      rqs's status page: http://127.0.0.1:{port}/");
            }
            println!(
                "      logs: {} and {}",
                logs[0].display(),
                logs[1].display()
            );
        }
        let end = Instant::now() + Duration::from_secs(options.seconds);
        while failure.is_none() && !stopping() && (options.keep || Instant::now() < end) {
            failure = watch.tick(&mut [&mut rqs, &mut worker])?;
        }
    }
    let interrupted = stopping();

    // rqs first, then the worker gets time to run what it was handed.
    if failure.is_none() {
        if interrupted {
            println!("demo: stopping rqs, then letting the worker run what was handed over");
        } else {
            println!(
                "demo: {} s are up; stopping rqs, then letting the worker run what was handed over",
                options.seconds
            );
        }
        failure = watch.stop_rqs(&mut rqs)?;
        let drained_by = Instant::now() + PATIENCE;
        while failure.is_none() && Instant::now() < drained_by && !watch.drained()? {
            failure = watch.tick(&mut [&mut worker])?;
        }
    }
    rqs.stop();
    worker.stop();
    watch.poll()?;
    let (scheduled, handed_over, ran) = watch.counts();
    println!("demo: {scheduled} scheduled, {handed_over} handed over, {ran} run");
    drop(server);

    if let Some(why) = failure {
        bail!("{why}; {see_logs}");
    }
    if !interrupted && (handed_over == 0 || handed_over != ran) {
        bail!("the flow is broken: every hand-off should have run once; {see_logs}");
    }
    Ok(interrupted && !options.keep)
}

fn stopping() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Builds rqs the way the tests do (or `--release`) and returns the binary.
fn build_rqs(release: bool) -> Result<PathBuf> {
    let mut build = cargo();
    build.args(["build", "-p", "rqs", "--bin", "rqs"]);
    if release {
        build.arg("--release");
    }
    crate::run(&mut build)?;
    let bin = target_dir()
        .join(if release { "release" } else { "debug" })
        .join("rqs");
    if !bin.exists() {
        bail!("no rqs binary at {} after building it", bin.display());
    }
    Ok(bin)
}

/// The Python client schedules the demo's jobs; its lines say which call made each.
fn schedule(env: &python::PythonEnv, scripts: &Path, url: &str, watch: &mut Watch) -> Result<()> {
    let output = Command::new(env.python())
        .arg(scripts.join("schedule.py"))
        .args([url, QUEUE])
        .current_dir(scripts)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .context("cannot run the Python client")?;
    if !output.status.success() {
        bail!(
            "the Python client failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let (id, call) = line.split_once('\t').unwrap_or((line, ""));
        let score: Option<f64> = redis::cmd("ZSCORE")
            .arg(SCHEDULE)
            .arg(id)
            .query(&mut watch.con)?;
        let due = score.map_or_else(|| "not in the schedule".to_owned(), in_seconds);
        watch.say("client", format!("{call}: job {id}, due {due}"));
    }
    Ok(())
}

/// A hash field that may be missing.
type Field = Option<Vec<u8>>;

/// What the demo sees in Redis.
struct Watch {
    con: redis::Connection,
    start: Instant,
    /// Job ids seen in the schedule, in the order they appeared.
    seen: Vec<Vec<u8>>,
    /// Each hand-off writes a new `enqueued_at` into the job's hash: (id, enqueued_at).
    handoffs: HashSet<(Vec<u8>, Vec<u8>)>,
    /// Hand-offs whose run failed.
    failed: HashSet<(Vec<u8>, Vec<u8>)>,
    /// Entries read from the run list.
    runs: usize,
    rqs_up: bool,
    rqs_active: bool,
    worker_up: bool,
    /// For the narration: (rqs, worker).
    pids: (u32, u32),
}

impl Watch {
    fn new(url: &str, pids: (u32, u32)) -> Result<Self> {
        let con = redis::Client::open(url)?.get_connection()?;
        con.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Self {
            con,
            start: Instant::now(),
            seen: Vec::new(),
            handoffs: HashSet::new(),
            failed: HashSet::new(),
            runs: 0,
            rqs_up: false,
            rqs_active: false,
            worker_up: false,
            pids,
        })
    }

    fn say(&self, who: &str, what: impl std::fmt::Display) {
        println!(
            "{:>6.1}s  {who:<6}  {what}",
            self.start.elapsed().as_secs_f64()
        );
    }

    /// One step of watching: says what changed, or why rqs or the worker is gone.
    fn tick(&mut self, children: &mut [&mut Proc]) -> Result<Option<String>> {
        for child in children {
            if let Some(status) = child.exited() {
                self.poll()?;
                return Ok(Some(format!("{} exited on its own ({status})", child.name)));
            }
        }
        self.poll()?;
        std::thread::sleep(TICK);
        Ok(None)
    }

    /// Stops rqs (SIGTERM: it finishes the batch in flight and releases the lock).
    fn stop_rqs(&mut self, rqs: &mut Proc) -> Result<Option<String>> {
        let status = rqs.stop();
        self.poll()?;
        if !status.is_some_and(|s| s.success()) {
            return Ok(Some(format!("rqs ended with {}", describe(status))));
        }
        let what = if self.exists(LOCK)? {
            "stopped, but rq:scheduler_lock is still there"
        } else {
            "stopped cleanly and released rq:scheduler_lock"
        };
        self.say("rqs", what);
        Ok(None)
    }

    fn exists(&mut self, key: &str) -> Result<bool> {
        Ok(redis::cmd("EXISTS").arg(key).query(&mut self.con)?)
    }

    /// Reads what changed since the last call and says it.
    fn poll(&mut self) -> Result<()> {
        let (rqs_pid, worker_pid) = self.pids;
        if !self.rqs_up && self.exists(&format!("rq:scheduler_instance:{RQS_NAME}"))? {
            self.rqs_up = true;
            self.say(
                "rqs",
                format!("started (pid {rqs_pid}) and registered rq:scheduler_instance:{RQS_NAME}"),
            );
        }
        if self.rqs_up && !self.rqs_active && self.exists(LOCK)? {
            self.rqs_active = true;
            self.say("rqs", format!("holds {LOCK}: it is the active scheduler"));
        }
        if !self.worker_up && self.exists(&format!("rq:worker:{WORKER_NAME}"))? {
            self.worker_up = true;
            self.say(
                "worker",
                format!("rq worker {WORKER_NAME} started (pid {worker_pid}), listening on queue '{QUEUE}'"),
            );
        }

        let schedule: Vec<(Vec<u8>, f64)> = redis::cmd("ZRANGE")
            .arg(SCHEDULE)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query(&mut self.con)?;
        for (id, _) in &schedule {
            if !self.seen.contains(id) {
                self.seen.push(id.clone());
            }
        }
        for id in self.seen.clone() {
            let (enqueued_at, status, origin): (Field, Field, Field) = redis::cmd("HMGET")
                .arg([b"rq:job:".as_slice(), &id].concat())
                .arg(&["enqueued_at", "status", "origin"][..])
                .query(&mut self.con)?;
            let Some(at) = enqueued_at.filter(|at| !at.is_empty()) else {
                continue;
            };
            let next = schedule.iter().find(|(i, _)| *i == id).map(|(_, s)| *s);
            self.handed_over(&id, &at, origin.as_deref(), next);
            if status.as_deref() == Some(b"failed") && self.failed.insert((id.clone(), at)) {
                self.say(
                    "worker",
                    format!("job {} failed (the worker log says why)", text(&id)),
                );
            }
        }

        let records: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(RUNS)
            .arg(self.runs)
            .arg(-1)
            .query(&mut self.con)?;
        for record in records {
            self.runs += 1;
            let mut fields = record.splitn(3, |&b| b == b'\t');
            let (id, at, said) = (
                fields.next().unwrap_or_default(),
                fields.next().unwrap_or_default(),
                fields.next().unwrap_or_default(),
            );
            // A run proves its hand-off even if two hand-offs fell between two polls.
            self.handed_over(id, at, None, None);
            self.say("worker", format!("ran job {}: {}", text(id), text(said)));
        }
        Ok(())
    }

    fn handed_over(&mut self, id: &[u8], at: &[u8], queue: Option<&[u8]>, next: Option<f64>) {
        if !self.handoffs.insert((id.to_vec(), at.to_vec())) {
            return;
        }
        let queue = queue.map_or_else(String::new, |q| format!(" to queue '{}'", text(q)));
        let then = match next {
            Some(score) => format!("; back in the schedule, due {}", in_seconds(score)),
            None => "; it left the schedule".to_owned(),
        };
        self.say("rqs", format!("handed job {} over{queue}{then}", text(id)));
    }

    /// The queue is empty and every hand-off has run or failed.
    fn drained(&mut self) -> Result<bool> {
        let queued: usize = redis::cmd("LLEN")
            .arg(format!("rq:queue:{QUEUE}"))
            .query(&mut self.con)?;
        Ok(queued == 0 && self.runs + self.failed.len() >= self.handoffs.len())
    }

    fn counts(&self) -> (usize, usize, usize) {
        (self.seen.len(), self.handoffs.len(), self.runs)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// "in 5 s" for a Unix time a few seconds ahead.
fn in_seconds(unix: f64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let ahead = (unix - now).round();
    if ahead <= 0.0 {
        "now".to_owned()
    } else {
        format!("in {ahead} s")
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Whether `rqs run --help` lists `flag`.
fn has_flag(rqs: &Path, flag: &str) -> bool {
    Command::new(rqs)
        .args(["run", "--help"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(flag))
}

fn describe(status: Option<ExitStatus>) -> String {
    status.map_or_else(|| "no exit status".to_owned(), |s| s.to_string())
}

/// A child process in a process group of its own, stopped when dropped, so every way out
/// of the demo (the end, an error, a panic, a signal) leaves nothing running.
struct Proc {
    name: &'static str,
    child: Child,
    status: Option<ExitStatus>,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> Result<Self> {
        let out = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {name}: {cmd:?}"))?;
        Ok(Self {
            name,
            child,
            status: None,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// SIGTERM (a clean stop for rqs and a warm shutdown for the worker), then, after a
    /// grace period, SIGKILL to the whole group (the worker's forked work horse too).
    fn stop(&mut self) -> Option<ExitStatus> {
        if let Some(status) = self.exited() {
            return Some(status);
        }
        let pid = Pid::from_raw(i32::try_from(self.pid()).unwrap_or(i32::MAX));
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = killpg(pid, Signal::SIGKILL);
        self.status = self.child.wait().ok();
        self.status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sets [`STOP`] on SIGINT, SIGTERM or SIGHUP, from a thread of its own.
fn watch_signals() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    // Registered before returning, so a signal from now on is caught.
    let (mut int, mut term, mut hup) = {
        let _entered = runtime.enter();
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
            signal(SignalKind::hangup())?,
        )
    };
    std::thread::spawn(move || {
        runtime.block_on(async move {
            loop {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
                if STOP.swap(true, Ordering::SeqCst) {
                    eprintln!("demo: already stopping (each child gets at most 10 s)");
                }
            }
        });
    });
    Ok(())
}
