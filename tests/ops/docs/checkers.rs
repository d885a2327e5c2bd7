//! One checker per program a documented command runs; each one can fail.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rqs_testkit::RedisServer;

use super::repo::{
    Package, existing, packages, read, rust_str_const, tests_source, workspace_version, xtask_tasks,
};
use super::rqs::{RqsFlags, UrlAt, check_only, run_rqs, same_output, same_shape, seed};
use super::shell::{Cmd, assignment};
use crate::common::T;
use crate::support::{Daemon, q, root, rqs_bin};

/// What a command of a console session must do, from the output shown under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    Success,
    /// The output shown holds an `ERROR` log line, or an `echo $?` after the command
    /// shows a code other than 0.
    Failure,
}

/// Where an `rqs` command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    /// On this machine, as written.
    Here,
    /// Inside a container or pod, whose environment and network a test does not have:
    /// checked with `RQS_CHECK_ONLY=1` only.
    Container,
}

/// Checks the commands of one block; owns the block's private Redis.
pub(super) struct Checker {
    rt: tokio::runtime::Runtime,
    packages: Vec<Package>,
    server: Option<RedisServer>,
    /// Files an earlier command of the block built (`cargo build --release` →
    /// `target/release/rqs`).
    built: Vec<String>,
    /// Containers an earlier `podman run --name` of the block started.
    containers: Vec<String>,
    /// The exit code of the last command, for a session's `echo $?`.
    last_code: Option<i32>,
    /// The block is a console session (where `echo $?` means something).
    session: bool,
}

pub(super) type Checked = Result<(), String>;

pub(super) fn fail<T>(message: impl Into<String>) -> Result<T, String> {
    Err(message.into())
}

impl Checker {
    pub(super) fn new() -> Self {
        Self {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            packages: packages(),
            server: None,
            built: Vec::new(),
            containers: Vec::new(),
            last_code: None,
            session: false,
        }
    }

    /// A checker for a console session: a private Redis seeded with the schedule the
    /// inspection examples show.
    pub(super) fn seeded() -> Self {
        let mut checker = Self::new();
        checker.session = true;
        let server = RedisServer::start();
        checker.rt.block_on(seed(&server));
        let url = server.url();
        checker.server = Some(server);
        // One burst, as in the examples: the JSON-meta job due long ago lands in the
        // quarantine.
        let mut burst = Daemon::start(&["run", "--burst", "-u", &url, "--name", "burst-1"]);
        assert_eq!(burst.exit_code(T), 0, "{}", burst.log());
        checker
    }

    fn server(&mut self) -> &RedisServer {
        self.server.get_or_insert_with(RedisServer::start)
    }

    pub(super) fn check(&mut self, cmd: &Cmd, expect: Expect, shown: &[String]) -> Checked {
        let program = cmd.argv[0].as_str();
        let args: Vec<&str> = cmd.argv[1..].iter().map(String::as_str).collect();
        if program != "echo" {
            self.last_code = None;
        }
        let rqs = ["rqs", "target/release/rqs", "target/debug/rqs"].contains(&program);
        let runs = rqs || ["redis-cli", "sudo"].contains(&program);
        if expect == Expect::Failure && !runs {
            return fail("only rqs and redis-cli commands are run, so none other may fail");
        }
        match program {
            _ if rqs => self.rqs(&cmd.env, &args, Host::Here, expect, shown),
            "cargo" => self.cargo(&cmd.env, &args),
            "sudo" => {
                let rest = Cmd {
                    env: cmd.env.clone(),
                    argv: cmd.argv[1..].to_vec(),
                    piped: cmd.piped,
                };
                if rest.argv.is_empty() {
                    return fail("sudo without a command");
                }
                self.check(&rest, expect, shown)
            }
            "install" => self.install(&args),
            "systemctl" => systemctl(&args),
            "python3" => python(&args),
            "podman" | "docker" => self.podman(&args),
            "kubectl" => self.kubectl(&args, cmd.piped),
            "promtool" => promtool(&args),
            "redis-cli" => self.redis_cli(&args, expect, shown),
            "echo" => self.echo(&args, shown),
            p if p == "pip" || p == "pip3" || p.ends_with("/bin/pip") => pip(&args),
            p if p.ends_with("/bin/kubernetes-validate") => kubernetes_validate(&args),
            p if p.starts_with("deploy/") => self.script(p, &args),
            other => fail(format!(
                "no checker for `{other}`: add one to tests/ops/docs/checkers.rs"
            )),
        }
    }

    // --- rqs -------------------------------------------------------------------------

    /// Runs an `rqs` command: for real against the private Redis when that is all it
    /// needs, else with `RQS_CHECK_ONLY=1`.
    fn rqs(
        &mut self,
        env: &[(String, String)],
        args: &[&str],
        host: Host,
        expect: Expect,
        shown: &[String],
    ) -> Checked {
        // The docs' example files are named from the repository's root.
        let owned: Vec<String> = args
            .iter()
            .map(|a| {
                let at_root = root().join(a);
                if a.ends_with(".toml") && at_root.exists() {
                    at_root.display().to_string()
                } else {
                    (*a).to_owned()
                }
            })
            .collect();
        let args: Vec<&str> = owned.iter().map(String::as_str).collect();
        let args = args.as_slice();
        let flags = RqsFlags::read(env, args);
        if host == Host::Container || flags.needs_what_a_test_lacks() {
            if expect == Expect::Failure {
                return fail("a command shown failing must run for real");
            }
            return check_only(env, args);
        }
        let url = self.server().url();
        let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let mut env: Vec<(String, String)> = env.to_vec();
        // The private server instead of the documented one: its URL replaces the one
        // given, or comes in through RQ_REDIS_URL, which wins over -H and -p.
        match flags.url_at {
            Some(UrlAt::Arg(i)) => args[i] = url.clone(),
            Some(UrlAt::Inline(i)) => args[i] = format!("--url={url}"),
            Some(UrlAt::Env(i)) => env[i].1 = url.clone(),
            None => env.push(("RQ_REDIS_URL".into(), url.clone())),
        }
        let daemon = matches!(flags.subcommand.as_deref(), None | Some("run")) && !flags.burst;
        if daemon {
            if expect == Expect::Failure {
                return fail("a daemon shown failing: no checker for that");
            }
            return self.rqs_daemon(&env, args);
        }
        let subcommand = flags.subcommand.clone();
        let run = run_rqs(&env, &args)?;
        self.last_code = Some(run.code);
        match expect {
            Expect::Success if run.code != 0 => {
                return fail(format!("exit {}:\n{}{}", run.code, run.stdout, run.stderr));
            }
            Expect::Failure if run.code == 0 => {
                return fail(format!(
                    "shown failing, but it succeeded:\n{}{}",
                    run.stdout, run.stderr
                ));
            }
            _ => {}
        }
        same_shape(shown, &run.stdout)?;
        if expect == Expect::Success && subcommand.as_deref() == Some("schedule") {
            // It prints the new job's id: the job must be in the schedule.
            let id = run.stdout.trim().to_owned();
            let conn = self.rt.block_on(self.server.as_ref().unwrap().connection());
            let score: Option<f64> = self.rt.block_on(q(
                &conn,
                redis::cmd("ZSCORE")
                    .arg("rq:scheduler:scheduled_jobs")
                    .arg(&id),
            ));
            if score.is_none() {
                return fail(format!("printed {id:?}, which is not in the schedule"));
            }
        }
        Ok(())
    }

    /// A daemon: it must become the active instance, then stop cleanly on SIGTERM.
    fn rqs_daemon(&mut self, env: &[(String, String)], mut args: Vec<String>) -> Checked {
        let dir = tempfile::tempdir().unwrap();
        for i in 1..args.len() {
            // A free port and a private pid file instead of the documented ones, which
            // may be taken on this machine.
            match args[i - 1].as_str() {
                "--metrics-addr" => args[i] = "127.0.0.1:0".into(),
                "--pid" => args[i] = dir.path().join("rqs.pid").display().to_string(),
                _ => {}
            }
        }
        let mut cmd = Command::new(rqs_bin());
        cmd.env_remove("RQS_CHECK_ONLY")
            .args(&args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("TZ", "UTC");
        let mut daemon = Daemon::spawn(cmd);
        let deadline = Instant::now() + T;
        while !daemon.log().contains("became the active instance") {
            if daemon.wait(Duration::ZERO).is_some() || Instant::now() > deadline {
                return fail(format!("never became active:\n{}", daemon.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon.signal(Signal::SIGTERM);
        match daemon.wait(T).and_then(|s| s.code()) {
            Some(0) => Ok(()),
            code => fail(format!(
                "exit {code:?} after SIGTERM, not 0:\n{}",
                daemon.log()
            )),
        }
    }

    // --- cargo -----------------------------------------------------------------------

    fn cargo(&mut self, env: &[(String, String)], args: &[&str]) -> Checked {
        let Some((&sub, rest)) = args.split_first() else {
            return fail("cargo without a subcommand");
        };
        if sub == "xtask" {
            // xtask tasks install packages, start servers and run for minutes: the task
            // must exist, which is what the docs can get wrong.
            let task = rest.first().copied().unwrap_or("");
            let tasks = xtask_tasks();
            return if tasks.contains(task) {
                Ok(())
            } else {
                fail(format!("xtask has no task {task:?} (it has {tasks:?})"))
            };
        }
        if !matches!(sub, "build" | "run" | "install" | "test" | "clippy" | "doc") {
            return fail(format!("no checker for `cargo {sub}`"));
        }
        // Building is the test suite's own business; here the names must exist.
        let mut package: Option<&Package> = None;
        let mut profile = "dev".to_owned();
        let mut target: Option<&str> = None;
        let mut bin: Option<&str> = None;
        let mut test: Option<&str> = None;
        let mut program_args: Option<Vec<&str>> = None;
        let mut it = rest.iter().copied();
        while let Some(arg) = it.next() {
            match arg {
                "-p" | "--package" => {
                    let name = it.next().unwrap_or("");
                    package = Some(
                        self.packages
                            .iter()
                            .find(|p| p.name == name)
                            .ok_or_else(|| format!("no package {name:?} in the workspace"))?,
                    );
                }
                "--path" => {
                    let path = it.next().unwrap_or("");
                    package = Some(
                        self.packages
                            .iter()
                            .find(|p| p.dir == root().join(path))
                            .ok_or_else(|| format!("no package at {path:?}"))?,
                    );
                }
                "--release" => profile = "release".into(),
                "--profile" => {
                    let name = it.next().unwrap_or("");
                    let builtin = ["dev", "release", "test", "bench"].contains(&name);
                    if !builtin && !read("Cargo.toml").contains(&format!("[profile.{name}]")) {
                        return fail(format!("Cargo.toml has no profile {name:?}"));
                    }
                    profile = name.into();
                }
                "--target" => {
                    let triple = it.next().unwrap_or("");
                    let list = Command::new("rustc")
                        .args(["--print", "target-list"])
                        .output()
                        .map_err(|e| format!("cannot run rustc: {e}"))?;
                    if !String::from_utf8_lossy(&list.stdout)
                        .lines()
                        .any(|l| l == triple)
                    {
                        return fail(format!("rustc knows no target {triple:?}"));
                    }
                    target = Some(triple);
                }
                "--bin" => bin = it.next(),
                "--test" => test = it.next(),
                "--locked" | "--quiet" | "--doc" | "--all-targets" | "--workspace" => {}
                "--" => program_args = Some(it.by_ref().collect()),
                a if a.starts_with('-') => return fail(format!("no checker for cargo's {a}")),
                // A test name filter.
                _ if sub == "test" => {}
                a => return fail(format!("unexpected argument {a:?}")),
            }
        }
        let package = package.ok_or("no -p or --path: which package?")?;
        if let Some(bin) = bin
            && !package.bins.iter().any(|b| b == bin)
        {
            return fail(format!("{} has no binary {bin:?}", package.name));
        }
        if let Some(test) = test
            && !package.tests.iter().any(|t| t == test)
        {
            return fail(format!("{} has no test target {test:?}", package.name));
        }
        if sub == "install" && package.bins.is_empty() {
            return fail(format!("{} has no binary to install", package.name));
        }
        if profile == "image" {
            // The by-hand build of the image's binary: the flags xtask builds it with.
            let wanted = rust_str_const("xtask/src/image.rs", "STATIC_RUSTFLAGS");
            let given = env.iter().find(|(k, _)| k == "RUSTFLAGS").map(|(_, v)| v);
            if given != Some(&wanted) {
                return fail(format!(
                    "RUSTFLAGS {given:?} is not xtask's STATIC_RUSTFLAGS {wanted:?}"
                ));
            }
        }
        if sub == "build" {
            let dir = if profile == "dev" { "debug" } else { &profile };
            for bin in bin.map_or_else(|| package.bins.clone(), |b| vec![b.to_owned()]) {
                let path = match target {
                    Some(t) => format!("target/{t}/{dir}/{bin}"),
                    None => format!("target/{dir}/{bin}"),
                };
                self.built.push(path);
            }
        }
        match (sub, program_args) {
            ("run", Some(program_args)) if package.name == "rqs" => {
                self.rqs(env, &program_args, Host::Here, Expect::Success, &[])
            }
            ("run", _) => fail("no checker for running this package"),
            (_, Some(_)) if sub != "test" => fail(format!("cargo {sub} takes no `--`")),
            _ => Ok(()),
        }
    }

    // --- what changes the machine ----------------------------------------------------

    /// `install [-m MODE] [-d] SRC... DEST`: not run (it writes under /usr and /etc); the
    /// sources must be in the repository or built by an earlier command of the block.
    fn install(&self, args: &[&str]) -> Checked {
        let mut dirs = false;
        let mut operands = Vec::new();
        let mut it = args.iter().copied();
        while let Some(arg) = it.next() {
            match arg {
                "-m" => {
                    let mode = it.next().unwrap_or("");
                    if !u32::from_str_radix(mode, 8).is_ok_and(|m| m <= 0o7777) {
                        return fail(format!("{mode:?} is not an octal mode"));
                    }
                }
                "-d" => dirs = true,
                a if a.starts_with('-') => return fail(format!("no checker for install's {a}")),
                a => operands.push(a),
            }
        }
        if operands.iter().any(|o| o.is_empty()) || operands.is_empty() {
            return fail("install without operands");
        }
        let dests = if dirs {
            &operands[..]
        } else {
            if operands.len() < 2 {
                return fail("install needs a source and a destination");
            }
            for src in &operands[..operands.len() - 1] {
                // target/ is the build's, not the repository's: only what the block built.
                let in_repo = !src.starts_with("target/") && root().join(src).exists();
                if !in_repo && !self.built.iter().any(|b| b == src) {
                    return fail(format!(
                        "{src} is neither in the repository nor built earlier in the block"
                    ));
                }
            }
            &operands[operands.len() - 1..]
        };
        match dests.iter().find(|d| !d.starts_with('/')) {
            Some(d) => fail(format!("the destination {d} is not an absolute path")),
            None => Ok(()),
        }
    }

    /// `podman`/`docker`: not run (building an image takes minutes and `run` needs a
    /// Redis at `redis.internal`; tests/ops/image.rs builds and inspects the image). The
    /// tags carry the workspace version, the build context holds the Containerfile, and
    /// the rqs arguments of `run` and `exec` pass the check-only mode.
    fn podman(&mut self, args: &[&str]) -> Checked {
        let version = workspace_version();
        let tag_ok = |tag: &str| {
            let ok = tag == format!("rqs:{version}") || tag.ends_with(&format!("/rqs:{version}"));
            if ok {
                Ok(())
            } else {
                fail(format!("the image tag {tag} is not rqs:{version}"))
            }
        };
        match args {
            ["build", "-t", tag, context] => {
                tag_ok(tag)?;
                if existing(&root(), &format!("{context}/Containerfile")).is_empty() {
                    return fail(format!("no Containerfile in the build context {context}"));
                }
                Ok(())
            }
            ["push", from, to] => tag_ok(from).and(tag_ok(to)),
            ["run", rest @ ..] => {
                let mut env = Vec::new();
                let mut mounts = Vec::new();
                let mut it = rest.iter().copied();
                let image = loop {
                    match it.next() {
                        Some("-d") => {}
                        Some("--name") => self.containers.push(it.next().unwrap_or("").into()),
                        Some("--stop-timeout") => {
                            let unit = read("deploy/rqs.service");
                            let wanted = unit
                                .lines()
                                .find_map(|l| l.strip_prefix("TimeoutStopSec="))
                                .unwrap_or("");
                            let given = it.next().unwrap_or("");
                            if given != wanted {
                                return fail(format!(
                                    "--stop-timeout {given} is not the unit's TimeoutStopSec={wanted}"
                                ));
                            }
                        }
                        Some("-p") => {
                            let port = it.next().unwrap_or("").rsplit(':').next().unwrap_or("");
                            if !read("Containerfile").contains(&format!("EXPOSE {port}/tcp")) {
                                return fail(format!("the image exposes no port {port}"));
                            }
                        }
                        Some("-e") => match it.next().and_then(assignment) {
                            Some(pair) => env.push(pair),
                            None => return fail("-e without NAME=value"),
                        },
                        Some("-v") => {
                            let spec = it.next().unwrap_or("");
                            let mut parts = spec.split(':');
                            mounts.push(parts.nth(1).unwrap_or("").to_owned());
                        }
                        Some(flag) if flag.starts_with('-') => {
                            return fail(format!("no checker for podman run's {flag}"));
                        }
                        Some(image) => break image,
                        None => return fail("podman run without an image"),
                    }
                };
                tag_ok(image)?;
                let rqs_args: Vec<&str> = it.collect();
                mounted(&rqs_args, &mounts)?;
                self.rqs(&env, &rqs_args, Host::Container, Expect::Success, &[])
            }
            ["exec", name, "rqs", rqs_args @ ..] => {
                if !self.containers.iter().any(|c| c == name) {
                    return fail(format!("no container {name} was started in this block"));
                }
                self.rqs(&[], rqs_args, Host::Container, Expect::Success, &[])
            }
            _ => fail(format!("no checker for podman {}", args.join(" "))),
        }
    }

    /// `kubectl`: not run (no cluster here; tests/ops/image/kubernetes.rs validates the
    /// manifests). The names and files it uses must be those of `deploy/kubernetes/`.
    fn kubectl(&mut self, args: &[&str], piped: bool) -> Checked {
        let args = match args {
            ["-n", _namespace, rest @ ..] => rest,
            rest => rest,
        };
        let deployment = read("deploy/kubernetes/deployment.yaml");
        let has = |line: &str| deployment.lines().any(|l| l.trim() == line);
        match args {
            ["create", "namespace", _] | ["get", "pods"] => Ok(()),
            ["create", "secret", "generic", name, sources @ ..] => {
                if !has(&format!("secretName: {name}")) && !has(&format!("name: {name}")) {
                    return fail(format!("deployment.yaml reads no Secret {name}"));
                }
                for source in sources {
                    let Some((key, value)) = source
                        .strip_prefix("--from-literal=")
                        .or_else(|| source.strip_prefix("--from-file="))
                        .and_then(|s| s.split_once('='))
                    else {
                        return fail(format!("no checker for {source}"));
                    };
                    if !has(&format!("key: {key}")) && !has(&format!("- key: {key}")) {
                        return fail(format!("deployment.yaml reads no key {key} of {name}"));
                    }
                    if key == "url" {
                        check_only(&[("RQ_REDIS_URL".into(), value.into())], &[])?;
                    }
                }
                Ok(())
            }
            ["create", "configmap", _name, source] => {
                let path = source.strip_prefix("--from-file=").unwrap_or("");
                if existing(&root(), path).is_empty() {
                    return fail(format!("{path} is not in the repository"));
                }
                Ok(())
            }
            ["apply", "-f", "-"] if piped => Ok(()),
            ["apply", "-f", path] => {
                if existing(&root(), path).is_empty() {
                    return fail(format!("{path} is not in the repository"));
                }
                Ok(())
            }
            ["set", "image", target, change] => {
                let name = target.strip_prefix("deployment/").unwrap_or("");
                let (container, image) = change.split_once('=').unwrap_or(("", ""));
                if !has("kind: Deployment") || !has(&format!("name: {name}")) {
                    return fail(format!("deployment.yaml has no Deployment {name}"));
                }
                if !has(&format!("- name: {container}")) {
                    return fail(format!("deployment.yaml has no container {container}"));
                }
                if !image.ends_with(&format!(":{}", workspace_version())) {
                    return fail(format!("{image} is not at the workspace version"));
                }
                Ok(())
            }
            ["exec", _target, "--", "rqs", rqs_args @ ..] => {
                let mounts: Vec<String> = deployment
                    .lines()
                    .filter_map(|l| l.trim().strip_prefix("mountPath: "))
                    .map(str::to_owned)
                    .collect();
                mounted(rqs_args, &mounts)?;
                self.rqs(&[], rqs_args, Host::Container, Expect::Success, &[])
            }
            _ => fail(format!("no checker for kubectl {}", args.join(" "))),
        }
    }

    /// `redis-cli`: run against the private server (a throwaway one, so no command can
    /// harm anything) when redis-cli is installed; else the command must be one Redis
    /// knows.
    fn redis_cli(&mut self, args: &[&str], expect: Expect, shown: &[String]) -> Checked {
        if args.first().is_some_and(|a| a.starts_with('-')) {
            return fail("no checker for redis-cli's flags (the server is swapped in)");
        }
        let Some(name) = args.first() else {
            return fail("redis-cli without a command");
        };
        let port = self.server().port().to_string();
        let conn = self.rt.block_on(self.server.as_ref().unwrap().connection());
        let info: redis::Value = self
            .rt
            .block_on(q(&conn, redis::cmd("COMMAND").arg("INFO").arg(*name)));
        if matches!(&info, redis::Value::Array(a) if a.iter().all(|v| matches!(v, redis::Value::Nil)))
        {
            return fail(format!("Redis has no command {name}"));
        }
        let Ok(out) = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port])
            .args(args)
            .output()
        else {
            return Ok(());
        };
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let failed =
            !out.status.success() || stdout.starts_with("ERR") || stdout.starts_with("(error)");
        self.last_code = Some(i32::from(failed));
        match (failed, expect) {
            (false, Expect::Success) => same_output(shown, &stdout),
            (true, Expect::Failure) => Ok(()),
            _ => fail(format!("redis-cli {}: {stdout}", args.join(" "))),
        }
    }

    /// `echo $?` in a session: the exit code shown is the previous command's.
    fn echo(&self, args: &[&str], shown: &[String]) -> Checked {
        if !self.session || args != ["$?"] {
            return fail("no checker for echo outside `echo $?` in a console session");
        }
        let shown = shown.first().map(|s| s.trim()).unwrap_or("");
        match self.last_code {
            Some(code) if code.to_string() == shown => Ok(()),
            code => fail(format!(
                "shown {shown:?}, the previous command exited {code:?}"
            )),
        }
    }

    /// A script of `deploy/` (they only print): run it.
    fn script(&self, path: &str, args: &[&str]) -> Checked {
        let out = Command::new(root().join(path))
            .args(args)
            .current_dir(root())
            .output()
            .map_err(|e| format!("cannot run {path}: {e}"))?;
        if out.status.success() && !out.stdout.is_empty() {
            Ok(())
        } else {
            fail(format!(
                "{path} failed or printed nothing: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

/// `systemctl`: not run (it would install and start a service on this machine); the unit
/// must be one `deploy/` ships.
fn systemctl(args: &[&str]) -> Checked {
    let shipped = |unit: &str| {
        let file = format!("deploy/{}.service", unit.trim_end_matches(".service"));
        if root().join(&file).is_file() {
            Ok(())
        } else {
            fail(format!("deploy/ ships no unit {unit} ({file})"))
        }
    };
    match args {
        ["daemon-reload"] => Ok(()),
        [verb, "--now", unit] | [verb, unit]
            if [
                "enable", "disable", "start", "stop", "restart", "status", "edit",
            ]
            .contains(verb) =>
        {
            shipped(unit)
        }
        _ => fail(format!("no checker for systemctl {}", args.join(" "))),
    }
}

/// `pip install`: not run (it needs the network and a virtualenv). A git URL must be the
/// repository's, a path must hold a Python package, a pinned requirement must be the
/// version a test pins.
fn pip(args: &[&str]) -> Checked {
    let ["install", requirements @ ..] = args else {
        return fail(format!("no checker for pip {}", args.join(" ")));
    };
    if requirements.is_empty() {
        return fail("pip install without a requirement");
    }
    let pyproject = read("pyproject.toml");
    for requirement in requirements {
        if let Some(url) = requirement.strip_prefix("git+") {
            if !pyproject.contains(&format!("Repository = \"{url}\"")) {
                return fail(format!("{url} is not pyproject.toml's Repository"));
            }
        } else if requirement.contains("==") {
            let pinned = tests_source().contains(&format!("\"{requirement}\""));
            if !pinned {
                return fail(format!("no test pins {requirement}"));
            }
        } else if !root().join(requirement).join("pyproject.toml").is_file() {
            return fail(format!(
                "{requirement} is no Python package of the repository"
            ));
        }
    }
    Ok(())
}

/// `python3 -m venv DIR` only: a virtualenv in a scratch directory, not worth making here.
fn python(args: &[&str]) -> Checked {
    match args {
        ["-m", "venv", dir] if dir.starts_with('/') => Ok(()),
        _ => fail(format!("no checker for python3 {}", args.join(" "))),
    }
}

/// `kubernetes-validate`: not run (tests/ops/image/kubernetes.rs runs it in its pinned
/// virtualenv). The versions must lie between the oldest the manifests are for and the
/// pinned release, and the files must exist.
fn kubernetes_validate(args: &[&str]) -> Checked {
    let source = read("tests/ops/image/kubernetes.rs");
    let pinned = source
        .split("\"kubernetes-validate==")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the pinned kubernetes-validate");
    let minor = |v: &str| -> Option<u32> { v.strip_prefix("1.")?.split('.').next()?.parse().ok() };
    let newest = minor(pinned).unwrap();
    let oldest: u32 = source
        .split("OLDEST_KUBERNETES: (u32, u32) = (1, ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .expect("OLDEST_KUBERNETES");
    let mut files = 0;
    let mut it = args.iter().copied();
    while let Some(arg) = it.next() {
        match arg {
            "--strict" => {}
            "-k" => {
                let v = it.next().unwrap_or("");
                if !minor(v).is_some_and(|m| (oldest..=newest).contains(&m)) {
                    return fail(format!(
                        "Kubernetes {v} is outside 1.{oldest} to 1.{newest}"
                    ));
                }
            }
            a if a.starts_with('-') => return fail(format!("no checker for {a}")),
            pattern => {
                let found = existing(&root(), pattern);
                if found.is_empty() {
                    return fail(format!("{pattern} matches nothing"));
                }
                files += found.len();
            }
        }
    }
    if files == 0 {
        return fail("no file to validate");
    }
    Ok(())
}

/// `promtool check rules F` and `promtool test rules F`: not run here (tests/ops/deploy.rs
/// runs both); the file must exist, at the root or in `deploy/prometheus/`, where the
/// runbook runs them.
fn promtool(args: &[&str]) -> Checked {
    match args {
        ["check" | "test", "rules", file] => {
            let found = [root(), root().join("deploy/prometheus")]
                .iter()
                .any(|base| base.join(file).is_file());
            if found {
                Ok(())
            } else {
                fail(format!("no rule file {file}"))
            }
        }
        _ => fail(format!("no checker for promtool {}", args.join(" "))),
    }
}

/// The `--password-file` of an rqs command in a container must be a mounted path.
fn mounted(rqs_args: &[&str], mounts: &[String]) -> Checked {
    let file = rqs_args
        .windows(2)
        .find(|w| w[0] == "--password-file")
        .map(|w| w[1]);
    match file {
        Some(file) if !mounts.iter().any(|m| Path::new(file).starts_with(m)) => {
            fail(format!("{file} is not under a mounted path ({mounts:?})"))
        }
        _ => Ok(()),
    }
}
