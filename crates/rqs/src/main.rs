//! `rqs`: moves scheduled RQ jobs into their queues, with rq-scheduler's flags; and
//! subcommands to look at and manage the schedule.
//!
//! Exit codes: 0 after a clean stop, 1 for a runtime failure (Redis unreachable at start,
//! a fatal backend error), 2 for bad flags or settings (an invalid `--url` included), 3
//! when a live instance has the same `--name`, 4 when `rqs plan` has changes to make, 5
//! when `rqs plan`/`apply` meets declared ids scheduled outside the set, 130 when a second signal cuts the
//! shutdown short.

mod chart;
mod cli;
mod commands;
mod connection;
mod declare;
mod exit;
mod history;
mod http;
mod http_auth;
mod inspect;
mod jobinfo;
mod logging;
mod notify;
mod output;
mod page;
mod page_query;
mod pause_banner;
mod paused;
mod pidfile;
mod rq_scheduled;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;
use tracing::error;

use cli::{Cli, Command};
use exit::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(&cli.log);
    // rustls with the ring provider, chosen once for the process.
    rqs_redis::install_tls_provider();
    if let Err(e) = cli.check() {
        return report(&Failure::Usage(e.to_string()));
    }
    // A test seam (CONTRIBUTING.md): settings read and checked as a start reads them, no
    // connection made.
    if std::env::var_os("RQS_CHECK_ONLY").is_some_and(|v| v == "1") {
        return match cli.check_only() {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => report(&failure),
        };
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return report(&Failure::Runtime(e.into())),
    };
    match runtime.block_on(dispatch(&cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => report(&failure),
    }
}

async fn dispatch(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        None => commands::run::run(&cli.run, &cli.connection).await,
        Some(Command::Run(args)) => commands::run::run(args, &cli.connection).await,
        Some(Command::Schedule(args)) => commands::schedule::run(args, &cli.connection).await,
        Some(Command::Status(args)) => commands::status::run(args, &cli.connection).await,
        Some(Command::List(args)) => commands::list::run(args, &cli.connection).await,
        Some(Command::Show(args)) => commands::show::run(args, &cli.connection).await,
        Some(Command::Cancel(args)) => commands::cancel::run(args, &cli.connection).await,
        Some(Command::Reschedule(args)) => commands::reschedule::run(args, &cli.connection).await,
        Some(Command::RunNow(args)) => commands::run_now::run(args, &cli.connection).await,
        Some(Command::Pause(args)) => commands::pause::pause(args, &cli.connection).await,
        Some(Command::Resume(args)) => commands::pause::resume(args, &cli.connection).await,
        Some(Command::Quarantine(args)) => commands::quarantine::run(args, &cli.connection).await,
        Some(Command::Check(args)) => commands::check::run(args, &cli.connection).await,
        Some(Command::Plan(args)) => commands::declare::run(args, &cli.connection, false).await,
        Some(Command::Apply(args)) => commands::declare::run(args, &cli.connection, true).await,
        Some(Command::Export(args)) => commands::declare::export(args, &cli.connection).await,
    }
}

/// Logs the failure (usage errors go to stderr as clap's do) and picks the exit code.
fn report(failure: &Failure) -> ExitCode {
    match failure {
        #[allow(clippy::print_stderr)]
        Failure::Usage(message) => eprintln!("rqs: error: {message}"),
        // The command printed its verdict already.
        Failure::Verdict(_) => {}
        other => error!("{}", rqs_core::Escaped(other)),
    }
    failure.exit_code()
}
