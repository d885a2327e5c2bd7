//! Flags and environment variables, the same as rq-scheduler's `rqscheduler`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Moves scheduled RQ jobs into their queues; a drop-in replacement for `rqscheduler`.
#[derive(Debug, Parser, PartialEq)]
#[command(name = "rqs", version, about, long_about = None)]
pub struct Cli {
    /// Run in burst mode (quit after all due work is done)
    #[arg(short = 'b', long)]
    pub burst: bool,

    /// Redis host
    #[arg(short = 'H', long, env = "RQ_REDIS_HOST", default_value = "localhost")]
    pub host: String,

    /// Redis port number
    #[arg(short = 'p', long, env = "RQ_REDIS_PORT", default_value_t = 6379)]
    pub port: u16,

    /// Redis database
    #[arg(short = 'd', long, env = "RQ_REDIS_DB", default_value_t = 0)]
    pub db: i64,

    /// Redis password
    #[arg(short = 'P', long, env = "RQ_REDIS_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,

    /// URL describing Redis connection details; overrides the other connection flags
    #[arg(short = 'u', long, env = "RQ_REDIS_URL", hide_env_values = true)]
    pub url: Option<String>,

    /// How often to check for due jobs while another instance holds the lock, in seconds
    /// (floats allowed); also sets the lock and heartbeat lifetime to int(interval) + 10
    #[arg(
        short = 'i',
        long,
        default_value_t = 60.0,
        allow_negative_numbers = true
    )]
    pub interval: f64,

    /// Accepted for compatibility; rqs imports no Python code
    #[arg(long)]
    pub path: Option<String>,

    /// Write the process id to FILE
    #[arg(long, value_name = "FILE")]
    pub pid: Option<PathBuf>,

    /// Accepted for compatibility; rqs uses RQ's default job class layout
    #[arg(short = 'j', long = "job-class")]
    pub job_class: Option<String>,

    /// Accepted for compatibility; rqs enqueues as RQ's default Queue class does
    #[arg(short = 'q', long = "queue-class")]
    pub queue_class: Option<String>,

    /// Show more output
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Show less output
    #[arg(long)]
    pub quiet: bool,

    /// Instance name in rq:scheduler_instance:<name> (default: a random uuid4 hex)
    #[arg(long)]
    pub name: Option<String>,

    /// Jobs moved per atomic hand-off batch
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,

    /// Longest sleep of the active instance before it looks at the schedule again, in
    /// seconds; it also wakes exactly at the next due time
    #[arg(long, default_value_t = 1.0)]
    pub peek_interval: f64,
}

/// A flag value that parses but cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFlag(pub String);

fn seconds(flag: &str, value: f64) -> Result<Duration, InvalidFlag> {
    if value.is_finite() && value > 0.0 && value < 1e9 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(InvalidFlag(format!(
            "{flag} must be a positive number of seconds, got {value}"
        )))
    }
}

impl Cli {
    /// The interval as a duration.
    ///
    /// # Errors
    /// When it is not a positive number.
    pub fn interval(&self) -> Result<Duration, InvalidFlag> {
        seconds("--interval", self.interval)
    }

    /// The peek interval as a duration.
    ///
    /// # Errors
    /// When it is not a positive number.
    pub fn peek_interval(&self) -> Result<Duration, InvalidFlag> {
        seconds("--peek-interval", self.peek_interval)
    }

    /// Warnings for flags that only mean something to Python.
    pub fn compatibility_warnings(&self) -> Vec<String> {
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

    /// The log level the flags ask for.
    pub fn log_level(&self) -> tracing::Level {
        if self.verbose {
            tracing::Level::DEBUG
        } else if self.quiet {
            tracing::Level::WARN
        } else {
            tracing::Level::INFO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `args` as if no `RQ_REDIS_*` variable were exported, whatever the caller's
    /// environment holds: operators usually have them set.
    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        let command = Cli::command().mut_args(|arg| arg.env(None));
        let matches =
            command.try_get_matches_from(std::iter::once("rqs").chain(args.iter().copied()))?;
        Cli::from_arg_matches(&matches)
    }

    #[test]
    fn defaults_match_rqscheduler() {
        let cli = parse(&[]).unwrap();
        assert!(!cli.burst);
        assert_eq!(cli.host, "localhost");
        assert_eq!(cli.port, 6379);
        assert_eq!(cli.db, 0);
        assert_eq!(cli.password, None);
        assert_eq!(cli.url, None);
        assert_eq!(cli.interval().unwrap(), Duration::from_secs(60));
        assert_eq!(cli.log_level(), tracing::Level::INFO);
        assert!(cli.compatibility_warnings().is_empty());
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
        assert!(cli.burst);
        assert_eq!(cli.host, "redis.internal");
        assert_eq!(cli.port, 6380);
        assert_eq!(cli.db, 3);
        assert_eq!(cli.password.as_deref(), Some("secret"));
        assert_eq!(cli.url.as_deref(), Some("redis://x:1/2"));
        assert_eq!(cli.interval().unwrap(), Duration::from_millis(500));
        assert_eq!(
            cli.pid.as_deref(),
            Some(std::path::Path::new("/run/rqs.pid"))
        );
        assert_eq!(cli.log_level(), tracing::Level::DEBUG);
        let warnings = cli.compatibility_warnings();
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
        assert_eq!(long.name.as_deref(), Some("n1"));
        assert_eq!(long.batch_size, 10);
        assert_eq!(long.peek_interval().unwrap(), Duration::from_millis(100));
        assert_eq!(
            parse(&["--quiet"]).unwrap().log_level(),
            tracing::Level::WARN
        );
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        for args in [
            &["--port", "http"][..],
            &["--interval", "soon"],
            &["--no-such-flag"],
            &["--db", "x"],
            &["--batch-size", "0"],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
        for bad in ["0", "-1", "nan", "inf"] {
            let cli = parse(&["--interval", bad]).unwrap();
            assert!(cli.interval().is_err(), "{bad}");
        }
    }
}
