//! `rqs`: moves scheduled RQ jobs into their queues, with rq-scheduler's flags.
//!
//! Exit codes: 0 after a clean stop, 1 for a runtime failure (Redis unreachable at start,
//! a fatal backend error), 2 for bad flags (an invalid `--url` included), 3 when a live
//! instance has the same `--name`, 130 when a second signal cuts the shutdown short.

#![allow(clippy::print_stderr)]

mod cli;

use std::process::ExitCode;

use clap::Parser;
use redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};
use rqs_orchestrator::{Scheduler, SchedulerConfig};
use rqs_redis::{RedisJobStore, RedisLifecycleRegistry, RedisLockProvider, RedisQueueSink};
use tracing::{error, info, warn};

use cli::Cli;

const EXIT_RUNTIME: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_ALREADY_ACTIVE: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli);
    let (interval, peek) = match (cli.interval(), cli.peek_interval()) {
        (Ok(i), Ok(p)) => (i, p),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("rqs: error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    for warning in cli.compatibility_warnings() {
        warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rqs: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let config = SchedulerConfig::new(
        cli.name
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()),
    )
    .interval(interval)
    .peek_interval(peek)
    .burst(cli.burst)
    .batch_size(cli.batch_size as usize);
    match runtime.block_on(run(&cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::AlreadyActive(e)) => {
            error!("{e}");
            ExitCode::from(EXIT_ALREADY_ACTIVE)
        }
        Err(Failure::Usage(e)) => {
            eprintln!("rqs: error: {e}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Runtime(e)) => {
            error!("{e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

enum Failure {
    AlreadyActive(rqs_orchestrator::Error),
    Usage(anyhow::Error),
    Runtime(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Runtime(e.into())
    }
}

async fn run(cli: &Cli, config: SchedulerConfig) -> Result<(), Failure> {
    let target = connection_info(cli).map_err(Failure::Usage)?;
    let conn = match rqs_redis::connect(target, &rqs_redis::ConnectOptions::default()).await {
        Ok(conn) => conn,
        Err(e @ rqs_redis::ConnectError::InvalidSettings(_)) => {
            return Err(Failure::Usage(e.into()));
        }
        Err(e) => return Err(e.into()),
    };
    let _pid = cli.pid.as_deref().map(PidFile::write).transpose()?;
    info!(name = %config.name, "rqs {} starting", env!("CARGO_PKG_VERSION"));
    let store = RedisJobStore::new(conn.clone());
    match store.migrate_legacy_quarantine().await {
        Ok(0) => {}
        Ok(n) => info!(
            records = n,
            "moved the quarantine from rqs:quarantine to rq:rqs:quarantine"
        ),
        Err(e) => warn!(error = %e, "could not move the old quarantine rqs:quarantine"),
    }
    let scheduler = Scheduler::new(
        store,
        RedisQueueSink::new(conn.clone()),
        RedisLockProvider::new(conn.clone()),
        RedisLifecycleRegistry::new(conn),
        config,
    );
    match scheduler.run(shutdown_signal()).await {
        Ok(_) => Ok(()),
        Err(e @ rqs_orchestrator::Error::AlreadyActive(_)) => Err(Failure::AlreadyActive(e)),
        Err(e) => Err(e.into()),
    }
}

/// The Redis target: `--url` as given, else host, port, db and password.
fn connection_info(cli: &Cli) -> anyhow::Result<redis::ConnectionInfo> {
    use anyhow::Context;
    if let Some(url) = &cli.url {
        return url
            .as_str()
            .into_connection_info()
            .with_context(|| format!("invalid --url / RQ_REDIS_URL {url:?}"));
    }
    let mut settings = RedisConnectionInfo::default().set_db(cli.db);
    if let Some(password) = &cli.password {
        settings = settings.set_password(password);
    }
    Ok(ConnectionAddr::Tcp(cli.host.clone(), cli.port)
        .into_connection_info()?
        .set_redis_settings(settings))
}

/// Resolves on the first SIGINT or SIGTERM; a second one ends the process at once.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        warn!("cannot install signal handlers; stop rqs with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    info!("shutting down: finishing the batch in flight, then releasing the lock");
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        eprintln!("rqs: second signal, exiting now (the lock expires on its own)");
        std::process::exit(130);
    });
}

fn init_tracing(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(cli.log_level().as_str()));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

/// The `--pid` file, removed again when rqs stops.
struct PidFile(std::path::PathBuf);

impl PidFile {
    fn write(path: &std::path::Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        std::fs::write(path, std::process::id().to_string())
            .with_context(|| format!("cannot write the pid file {}", path.display()))?;
        Ok(Self(path.to_owned()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
