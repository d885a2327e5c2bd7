//! `rqs` / `rqs run`: the scheduler daemon.

use std::sync::Arc;

use rqs_orchestrator::{Observer, Scheduler, SchedulerConfig};
use rqs_redis::{RedisJobStore, RedisLifecycleRegistry, RedisLockProvider, RedisQueueSink};
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::cli::{ConnectionArgs, RunArgs};
use crate::exit::Failure;
use crate::http::{self, AppState};
use crate::inspect::Inspector;
use crate::notify::Notifier;
use crate::pidfile::PidFile;
use crate::telemetry::{self, Health, MetricsObserver};

/// Runs the scheduler until a signal (or, with `--burst`, until the due work is done).
pub(crate) async fn run(args: &RunArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let interval = args.interval().map_err(|e| Failure::Usage(e.to_string()))?;
    let peek = args
        .peek_interval()
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let notifier = Notifier::from_env().map(Arc::new);
    let mut config = SchedulerConfig::new(name)
        .interval(interval)
        .peek_interval(peek)
        .burst(args.burst)
        .exclusive(args.exclusive)
        .batch_size(args.batch_size as usize);
    if let Some(watchdog) = notifier.as_ref().and_then(|n| n.watchdog_interval()) {
        // The loop reports nothing while it waits out a backoff: keep every wait well
        // inside the watchdog's period, so a slow retry is never taken for a hang.
        let longest = config.max_backoff.min(watchdog / 4);
        config = config.max_backoff(longest);
    }
    config.validate().map_err(Failure::Usage)?;
    for warning in args.compatibility_warnings() {
        warn!("{warning}");
    }
    let shutdown = Shutdown::install(notifier.clone())?;
    let conn = connection.connect().await?;
    let _pid = args.pid.as_deref().map(PidFile::create).transpose()?;
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
    let fast_lane = Arc::new(store.clone());
    let name = config.name.clone();
    let mut scheduler = Scheduler::new(
        store,
        RedisQueueSink::new(conn.clone()),
        RedisLockProvider::new(conn.clone()),
        RedisLifecycleRegistry::new(conn),
        config,
    )
    .with_fast_lane(fast_lane);
    let mut observers: Vec<Arc<dyn Observer>> = Vec::new();
    if let Some(notifier) = &notifier {
        observers.push(notifier.clone());
    }
    if let Some(addr) = &args.metrics_addr {
        let handle = telemetry::install(&name).map_err(Failure::Runtime)?;
        // A connection of their own, so that a page reading large job hashes never
        // queues in front of the scheduler's commands.
        let reader = connection.connect().await?;
        // A turn takes at most a few Redis calls, each bounded by the response timeout.
        let stall_after = telemetry::STALL_AFTER.max(3 * reader.config().options.response_timeout);
        let health = Arc::new(Health::new(stall_after));
        health.set_ready(true);
        tokio::spawn(telemetry::poll(
            RedisJobStore::new(reader.clone()),
            health.clone(),
            handle.clone(),
        ));
        let state = AppState {
            metrics: handle,
            health: health.clone(),
            inspector: Inspector::new(reader),
            instance: name,
        };
        http::serve(addr, state).await?;
        observers.push(Arc::new(MetricsObserver::new(health)));
    }
    match observers.len() {
        0 => {}
        1 => scheduler = scheduler.with_observer(observers.remove(0)),
        _ => {
            let second = observers.remove(1);
            scheduler = scheduler.with_observer(Arc::new((observers.remove(0), second)));
        }
    }
    match scheduler.run(shutdown.requested()).await {
        Ok(_) => Ok(()),
        Err(e @ rqs_orchestrator::Error::AlreadyActive(_)) => {
            Err(Failure::AlreadyActive(e.to_string()))
        }
        Err(e @ rqs_orchestrator::Error::InvalidConfig(_)) => Err(Failure::Usage(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// SIGINT, SIGTERM and SIGHUP, watched by a task of their own from the start, so that a
/// signal is seen even while a Redis call hangs: the first asks for a clean stop, the
/// second ends the process at once.
struct Shutdown {
    notify: Arc<Notify>,
}

impl Shutdown {
    fn install(notifier: Option<Arc<Notifier>>) -> Result<Self, Failure> {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let listen = |kind| {
            signal(kind).map_err(|e| {
                Failure::Runtime(anyhow::anyhow!("cannot install signal handlers: {e}"))
            })
        };
        let mut int = listen(SignalKind::interrupt())?;
        let mut term = listen(SignalKind::terminate())?;
        let mut hup = listen(SignalKind::hangup())?;
        async fn any(int: &mut Signal, term: &mut Signal, hup: &mut Signal) {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        }
        let notify = Arc::new(Notify::new());
        let n = notify.clone();
        tokio::spawn(async move {
            any(&mut int, &mut term, &mut hup).await;
            info!("shutting down: finishing the batch in flight, then releasing the lock");
            if let Some(notifier) = &notifier {
                notifier.stopping();
            }
            n.notify_one();
            any(&mut int, &mut term, &mut hup).await;
            #[allow(clippy::print_stderr)] // Straight to stderr: the process ends now.
            {
                eprintln!("rqs: second signal, exiting now (the lock expires on its own)");
            }
            std::process::exit(130);
        });
        Ok(Self { notify })
    }

    async fn requested(self) {
        self.notify.notified().await;
    }
}
