//! Flags and environment variables. A bare `rqs` takes `rqscheduler`'s flags and runs the
//! scheduler; `rqs run` is the same with its explicit name, and the other subcommands
//! inspect and manage the schedule. Connection and logging flags are global: they go
//! before or after the subcommand, and every subcommand reads the same `RQ_REDIS_*`
//! variables.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub(crate) use crate::connection::ConnectionArgs;
use crate::exit::Failure;

/// Moves scheduled RQ jobs into their queues; a drop-in replacement for `rqscheduler`.
#[derive(Debug, Parser)]
#[command(name = "rqs", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,

    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,

    #[command(flatten)]
    pub(crate) log: LogArgs,

    /// The scheduler's flags, when no subcommand is given.
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the scheduler (what a bare `rqs` does)
    Run(RunArgs),
    /// Schedule a job, as rq-scheduler's Python client does, and print its id
    Schedule(Box<crate::commands::schedule::ScheduleArgs>),
    /// Instances alive and dead, the lock holder, scheduled and due counts, the next due time
    Status(crate::commands::status::StatusArgs),
    /// Scheduled jobs in due order: id, next run, queue, function, kind, repeats left
    List(crate::commands::list::ListArgs),
    /// One job's fields decoded, and its next run times
    Show(crate::commands::show::ShowArgs),
    /// Remove a job from the schedule (its hash stays, as with rq-scheduler's cancel)
    Cancel(crate::commands::cancel::CancelArgs),
    /// Move a scheduled job to another time
    Reschedule(crate::commands::reschedule::RescheduleArgs),
    /// Hand a scheduled job over now (a periodic job keeps its next run and repeat count)
    RunNow(crate::commands::run_now::RunNowArgs),
    /// Hold due jobs in the schedule, for every queue or some, for a while or until resumed
    Pause(crate::commands::pause::PauseArgs),
    /// End a pause: the jobs that waited go out in due order
    Resume(crate::commands::pause::ResumeArgs),
    /// The jobs rqs set aside as unreadable, and putting them back
    Quarantine(crate::commands::quarantine::QuarantineArgs),
    /// A dry run over the whole schedule: what rqs would do with each job; changes nothing
    Check(crate::commands::check::CheckArgs),
    /// Show what `rqs apply` would change to make a set match a schedule file (exit 4: changes)
    Plan(crate::commands::declare::DeclareArgs),
    /// Make a set match a schedule file, in one atomic step
    Apply(crate::commands::declare::DeclareArgs),
    /// Write a set (or, with --all, every scheduled job) as a schedule file
    Export(crate::commands::declare::ExportArgs),
}

/// Logging, for every subcommand.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub(crate) struct LogArgs {
    /// Show more output (every hand-off)
    #[arg(short = 'v', long, global = true)]
    pub(crate) verbose: bool,

    /// Show less output (warnings and errors)
    #[arg(long, global = true)]
    pub(crate) quiet: bool,

    /// Log lines as human-readable text or as one JSON object each
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub(crate) log_format: LogFormat,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

impl LogArgs {
    /// The log level the flags ask for (`RUST_LOG` overrides it).
    pub(crate) fn level(&self) -> tracing::Level {
        if self.verbose {
            tracing::Level::DEBUG
        } else if self.quiet {
            tracing::Level::WARN
        } else {
            tracing::Level::INFO
        }
    }
}

/// The scheduler's flags: `rqscheduler`'s, and rqs's own.
#[derive(Debug, Args, Clone, PartialEq)]
pub(crate) struct RunArgs {
    /// Run in burst mode (quit after all due work is done)
    #[arg(short = 'b', long)]
    pub(crate) burst: bool,

    /// Seconds (floats allowed, at least 0.05): the instance record lives
    /// int(interval)+10 s between heartbeats, as rqscheduler's does; a standby also tries
    /// the lock at least this often
    #[arg(
        short = 'i',
        long,
        default_value_t = 60.0,
        allow_negative_numbers = true
    )]
    pub(crate) interval: f64,

    /// Accepted for compatibility; rqs imports no Python code
    #[arg(long)]
    pub(crate) path: Option<String>,

    /// Write the process id to FILE
    #[arg(long, value_name = "FILE")]
    pub(crate) pid: Option<PathBuf>,

    /// Accepted for compatibility; rqs uses RQ's default job class layout
    #[arg(short = 'j', long = "job-class")]
    pub(crate) job_class: Option<String>,

    /// Accepted for compatibility; rqs enqueues as RQ's default Queue class does
    #[arg(short = 'q', long = "queue-class")]
    pub(crate) queue_class: Option<String>,

    /// Instance name in rq:scheduler_instance:<name>: up to 64 characters of
    /// A-Z a-z 0-9 . _ : - (default: a random uuid4 hex)
    #[arg(long)]
    pub(crate) name: Option<String>,

    /// Jobs moved per atomic hand-off batch
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) batch_size: u32,

    /// Refuse to start while a scheduler that is not rqs (Python's rqscheduler) is
    /// registered on this Redis, instead of warning
    #[arg(long)]
    pub(crate) exclusive: bool,

    /// Longest sleep of the active instance before it looks at the schedule again, in
    /// seconds (at least 0.05); it also wakes exactly at the next due time
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub(crate) peek_interval: f64,

    /// Serve Prometheus metrics (/metrics), health checks (/healthz, /readyz) and a
    /// status page (/) on HOST:PORT (off by default)
    #[arg(long, value_name = "HOST:PORT", value_parser = crate::http::parse_addr)]
    pub(crate) metrics_addr: Option<String>,

    /// Show job descriptions that hold a call's arguments on the status page (hidden by
    /// default: arguments may carry personal data or secrets)
    #[arg(long, requires = "metrics_addr")]
    pub(crate) page_show_args: bool,

    /// Require these credentials for the status page and /metrics (/healthz and /readyz
    /// stay open): FILE holds one line, `bearer TOKEN` or `basic USER:PASSWORD`
    #[arg(long, value_name = "FILE", requires = "metrics_addr", value_parser = crate::http_auth::read_file)]
    pub(crate) http_auth_file: Option<crate::http_auth::HttpAuth>,

    /// Also move the due jobs of RQ's own scheduled-job registries (Queue.enqueue_at,
    /// enqueue_in, Retry, Repeat) of these queues: names separated by commas, or `all`
    /// (docs/rq-scheduled.md); off by default
    #[arg(long, value_name = "QUEUES", env = "RQS_RQ_SCHEDULED", value_parser = crate::rq_scheduled::parse)]
    pub(crate) rq_scheduled: Option<crate::rq_scheduled::Selection>,

    /// Apply this schedule file (docs/schedules.md) each time this instance becomes the
    /// active one (with --burst: once, before the run); repeatable, one set per file
    #[arg(long, value_name = "FILE")]
    pub(crate) schedule: Vec<std::path::PathBuf>,
}

/// A flag value that parses but cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct InvalidFlag(pub(crate) String);

/// The shortest interval or peek: shorter ones only load Redis (`--peek-interval
/// 0.000001` would make thousands of calls a second).
pub(crate) const MIN_SECONDS: f64 = 0.05;

pub(crate) fn seconds(flag: &str, value: f64) -> Result<Duration, InvalidFlag> {
    if value.is_finite() && (MIN_SECONDS..1e9).contains(&value) {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(InvalidFlag(format!(
            "{flag} must be a number of seconds from {MIN_SECONDS} up, got {value}"
        )))
    }
}

impl RunArgs {
    /// The interval as a duration.
    ///
    /// # Errors
    /// When it is out of range.
    pub(crate) fn interval(&self) -> Result<Duration, InvalidFlag> {
        seconds("--interval", self.interval)
    }

    /// The peek interval as a duration.
    ///
    /// # Errors
    /// When it is out of range.
    pub(crate) fn peek_interval(&self) -> Result<Duration, InvalidFlag> {
        seconds("--peek-interval", self.peek_interval)
    }

    /// Warnings for flags that only mean something to Python.
    pub(crate) fn compatibility_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(path) = &self.path {
            out.push(format!(
                "--path {path:?} is ignored: rqs imports no Python code"
            ));
        }
        if let Some(class) = &self.job_class {
            out.push(format!(
                "--job-class {class:?} is ignored: rqs reads and writes jobs with RQ's default \
                 Job layout (rq:job:<id>)"
            ));
        }
        if let Some(class) = &self.queue_class {
            out.push(format!(
                "--queue-class {class:?} is ignored: rqs enqueues as RQ's default Queue does \
                 (rq:queue:<name>, default timeout 180)"
            ));
        }
        out
    }
}

impl Cli {
    /// Refuses scheduler flags given before a subcommand (`rqs -b status`): clap would
    /// accept and then ignore them.
    ///
    /// # Errors
    /// A message for the user.
    pub(crate) fn check(&self) -> Result<(), InvalidFlag> {
        if self.command.is_some() {
            let defaults = Cli::try_parse_from(["rqs"]).map_err(|e| InvalidFlag(e.to_string()))?;
            if self.run != defaults.run {
                return Err(InvalidFlag(
                    "the scheduler's flags (-b, -i, --pid, --name...) go after `rqs run`, \
                     or without any subcommand"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// The scheduler's flags, from `rqs run` or a bare `rqs`.
    pub(crate) fn run_args(&self) -> Option<&RunArgs> {
        match &self.command {
            None => Some(&self.run),
            Some(Command::Run(run)) => Some(run),
            Some(_) => None,
        }
    }

    /// `RQS_CHECK_ONLY=1`: what a start reads before it connects (the scheduler's values,
    /// the connection settings and the URL grammar), without connecting. A password file
    /// that does not exist here is left out. `tests/ops/docs.rs` checks the documented
    /// commands that need hosts a test cannot have this way.
    ///
    /// # Errors
    /// The [`Failure::Usage`] a real start would end with.
    pub(crate) fn check_only(&self) -> Result<(), Failure> {
        if let Some(run) = self.run_args() {
            let usage = |e: InvalidFlag| Failure::Usage(e.0);
            rqs_orchestrator::SchedulerConfig::new(run.name.as_deref().unwrap_or("rqs"))
                .interval(run.interval().map_err(usage)?)
                .peek_interval(run.peek_interval().map_err(usage)?)
                .validate()
                .map_err(Failure::Usage)?;
            crate::declare::daemon::sources(&run.schedule)?;
        }
        let mut connection = self.connection.clone();
        if connection
            .password_file
            .as_ref()
            .is_some_and(|f| !f.exists())
        {
            connection.password_file = None;
        }
        connection.config().map(drop)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses `args` as if no `RQ_REDIS_*` variable were exported, whatever the caller's
    /// environment holds: operators usually have them set.
    pub(crate) fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        fn without_env(command: clap::Command) -> clap::Command {
            command
                .mut_args(|arg| arg.env(None))
                .mut_subcommands(without_env)
        }
        let command = without_env(Cli::command());
        let matches =
            command.try_get_matches_from(std::iter::once("rqs").chain(args.iter().copied()))?;
        let cli = Cli::from_arg_matches(&matches)?;
        cli.check()
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, e))?;
        Ok(cli)
    }

    #[test]
    fn defaults_match_rqscheduler() {
        let cli = parse(&[]).unwrap();
        let run = cli.run_args().unwrap();
        assert!(!run.burst);
        let c = &cli.connection;
        assert_eq!(c.host, "localhost");
        assert_eq!(c.port, 6379);
        assert_eq!(c.db, 0);
        assert_eq!(c.password, None);
        assert_eq!(c.url, None);
        assert_eq!(run.interval().unwrap(), Duration::from_secs(60));
        assert_eq!(cli.log.level(), tracing::Level::INFO);
        assert!(run.compatibility_warnings().is_empty());
    }

    /// RQ operators export `RQ_REDIS_*`; the defaults test must pass in their shell too.
    /// Setting variables in this process would race the other tests, so the test binary
    /// runs the defaults test again in a child that has every variable set.
    #[test]
    fn the_defaults_test_passes_with_every_rq_redis_variable_exported() {
        let exported = [
            ("RQ_REDIS_HOST", "redis.internal"),
            ("RQ_REDIS_PORT", "6380"),
            ("RQ_REDIS_DB", "3"),
            ("RQ_REDIS_PASSWORD", "secret"),
            ("RQ_REDIS_URL", "redis://elsewhere:6390/4"),
            ("RQ_REDIS_USERNAME", "ops"),
            ("RQ_REDIS_PASSWORD_FILE", "/nonexistent/password"),
            ("RQ_REDIS_SENTINELS", "127.0.0.1:26379"),
            ("RQ_REDIS_SENTINEL_MASTER", "mymaster"),
            ("RQ_REDIS_SENTINEL_PASSWORD", "secret"),
        ];
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "cli::tests::defaults_match_rqscheduler"])
            .args(["--test-threads", "1", "--nocapture"])
            .envs(exported)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn every_rqscheduler_flag_parses() {
        let cli = parse(&[
            "-b",
            "-H",
            "redis.internal",
            "-p",
            "6380",
            "-d",
            "3",
            "-P",
            "secret",
            "-u",
            "redis://x:1/2",
            "-i",
            "0.5",
            "--path",
            "/app",
            "--pid",
            "/run/rqs.pid",
            "-j",
            "my.Job",
            "-q",
            "my.Queue",
            "-v",
        ])
        .unwrap();
        let run = cli.run_args().unwrap();
        assert!(run.burst);
        let c = &cli.connection;
        assert_eq!(c.host, "redis.internal");
        assert_eq!(c.port, 6380);
        assert_eq!(c.db, 3);
        assert_eq!(c.password.as_deref(), Some("secret"));
        assert_eq!(c.url.as_deref(), Some("redis://x:1/2"));
        assert_eq!(run.interval().unwrap(), Duration::from_millis(500));
        assert_eq!(
            run.pid.as_deref(),
            Some(std::path::Path::new("/run/rqs.pid"))
        );
        assert_eq!(cli.log.level(), tracing::Level::DEBUG);
        let warnings = run.compatibility_warnings();
        assert_eq!(warnings.len(), 3);
        assert!(warnings[1].contains("my.Job"));
        let long = parse(&[
            "--burst",
            "--host",
            "h",
            "--port",
            "1",
            "--db",
            "2",
            "--password",
            "p",
            "--url",
            "redis://h",
            "--interval",
            "5",
            "--job-class",
            "J",
            "--queue-class",
            "Q",
            "--verbose",
            "--name",
            "n1",
            "--batch-size",
            "10",
            "--peek-interval",
            "0.1",
        ])
        .unwrap();
        let run = long.run_args().unwrap();
        assert_eq!(run.name.as_deref(), Some("n1"));
        assert_eq!(run.batch_size, 10);
        assert_eq!(run.peek_interval().unwrap(), Duration::from_millis(100));
        assert_eq!(
            parse(&["--quiet"]).unwrap().log.level(),
            tracing::Level::WARN
        );
    }

    #[test]
    fn run_is_the_explicit_name_and_connection_flags_are_global() {
        let cli = parse(&["run", "-b", "-u", "redis://h:1/0", "--log-format", "json"]).unwrap();
        let run = cli.run_args().unwrap();
        assert!(run.burst);
        assert_eq!(cli.connection.url.as_deref(), Some("redis://h:1/0"));
        assert_eq!(cli.log.log_format, LogFormat::Json);
        let before = parse(&["-u", "redis://h:1/0", "run"]).unwrap();
        assert_eq!(before.connection.url.as_deref(), Some("redis://h:1/0"));
        // Scheduler flags before a subcommand are a mistake, not silently dropped.
        assert!(parse(&["-b", "run"]).is_err());
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        for args in [
            &["--port", "http"][..],
            &["--interval", "soon"],
            &["--no-such-flag"],
            &["--db", "x"],
            &["--batch-size", "0"],
            &["--log-format", "xml"],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
        for bad in ["0", "-1", "nan", "inf", "0.01"] {
            let cli = parse(&["--interval", bad, "--peek-interval", bad]).unwrap();
            let run = cli.run_args().unwrap();
            assert!(run.interval().is_err(), "{bad}");
            assert!(run.peek_interval().is_err(), "{bad}");
        }
    }

    #[test]
    fn inspection_subcommands_parse() {
        use crate::commands::quarantine::Action;
        let cli = parse(&["-u", "redis://h:1/0", "status", "--json"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Status(ref a)) if a.json));
        let cli = parse(&[
            "list",
            "--until",
            "2026-12-04T10:00:00Z",
            "--queue",
            "q",
            "--limit",
            "5",
        ])
        .unwrap();
        match cli.command {
            Some(Command::List(a)) => {
                assert_eq!(a.until, Some(1_796_378_400.0));
                assert_eq!((a.queue.as_deref(), a.limit), (Some("q"), 5));
            }
            other => panic!("{other:?}"),
        }
        let cli = parse(&["quarantine", "release", "j1", "--at", "1796378400"]).unwrap();
        match cli.command {
            Some(Command::Quarantine(q)) => assert_eq!(
                q.action,
                Action::Release {
                    id: "j1".into(),
                    at: Some(1_796_378_400.0),
                    force: false,
                    json: false
                }
            ),
            other => panic!("{other:?}"),
        }
        let cli = parse(&["quarantine", "release", "j1", "--force"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Quarantine(q)) if matches!(q.action, Action::Release { force: true, .. })
        ));
        for args in [
            &["show", "j1", "--json"][..],
            &["cancel", "j1"],
            &["reschedule", "j1", "2026-12-04T10:00:00+01:00"],
            &["check", "--problems", "--runs", "5"],
            &["quarantine", "list", "--json"],
        ] {
            parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
        for args in [
            &["reschedule", "j1", "tomorrow"][..],
            &["show"],
            &["quarantine"],
            &["check", "--runs", "0"],
            &["-b", "status"],
        ] {
            assert!(parse(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn metrics_addr_is_a_scheduler_flag() {
        let cli = parse(&["run", "--metrics-addr", "0.0.0.0:12187"]).unwrap();
        assert_eq!(
            cli.run_args().unwrap().metrics_addr.as_deref(),
            Some("0.0.0.0:12187")
        );
        assert_eq!(parse(&[]).unwrap().run.metrics_addr, None, "off by default");
        assert_eq!(
            parse(&["--metrics-addr", "12187"]).unwrap_err().exit_code(),
            2
        );
        assert!(parse(&["--metrics-addr", "127.0.0.1:1", "status"]).is_err());
    }
}
