//! `rqs` / `rqs run`: the scheduler daemon.

use std::sync::Arc;
use std::time::Duration;

use rqs_lifecycle::LifecycleRegistry;
use rqs_orchestrator::{Observer, SchedulerConfig};
use rqs_redis::{RedisJobStore, RedisLifecycleRegistry};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use crate::chart::Chart;
use crate::cli::{ConnectionArgs, RunArgs};
use crate::connection::Connection;
use crate::exit::Failure;
use crate::history::{self, HistoryObserver};
use crate::http::{self, AppState};
use crate::inspect::{INSTANCE_INDEX, Inspector, KnownInstances, WALK_LEASE};
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
    let schedules = crate::declare::daemon::sources(&args.schedule)?;
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
    let name = config.name.clone();
    let instance = name.clone();
    // Its own connection: a large apply must not queue in front of the scheduler's calls.
    let applier = if schedules.is_empty() {
        None
    } else {
        let own = connection.connect().await?;
        if args.burst {
            crate::declare::daemon::apply_all(&own, &schedules).await;
            None
        } else {
            Some(crate::declare::daemon::start(own, schedules))
        }
    };
    // The composition the library docs show (docs/library.md), by the same function.
    let mut scheduler = rqs_redis::scheduler(conn, config);
    let mut observers: Vec<Arc<dyn Observer>> = Vec::new();
    if let Some(notifier) = &notifier {
        observers.push(notifier.clone());
    }
    if let Some(applier) = applier {
        observers.push(Arc::new(applier));
    }
    // RQ's own registries: served while this instance is the active one, on a connection
    // of their own (a burst run moves them once, after its own pass).
    let (mut rq_burst, mut rq_gate) = (None, None);
    if let Some(selection) = args.rq_scheduled.clone() {
        let own = connection.connect().await?;
        if args.burst {
            rq_burst = Some((own, selection));
        } else {
            let gate = Arc::new(crate::rq_scheduled::ActiveGate::default());
            tokio::spawn(crate::rq_scheduled::serve(
                own,
                instance.clone(),
                selection,
                gate.clone(),
            ));
            observers.push(gate.clone());
            rq_gate = Some(gate);
        }
    }
    let mut history = None;
    if let Some(addr) = &args.metrics_addr {
        let handle = telemetry::install(&name).map_err(Failure::Runtime)?;
        // A turn takes at most a few Redis calls, each bounded by the response timeout.
        let (settings, _) = connection.config()?;
        let stall_after = telemetry::STALL_AFTER.max(3 * settings.options.response_timeout);
        let health = Arc::new(Health::new(stall_after));
        health.set_ready(true);
        let served = health.clone();
        let chart = Arc::new(Chart::default());
        let (recorder, to_write) = HistoryObserver::new(chart.clone());
        let (show_args, auth) = (
            args.page_show_args,
            args.http_auth_file.clone().map(Arc::new),
        );
        // Built on the server's own thread, with its own connection (see `http`): what the
        // page and the probes read never queues in front of the scheduler's commands, nor
        // runs on its thread.
        http::start(addr, connection, move |reader| {
            let known = Arc::new(KnownInstances::default());
            tokio::spawn(telemetry::poll(
                RedisJobStore::new(reader.clone()),
                served.clone(),
                handle.clone(),
            ));
            tokio::spawn(keep_instance_index(
                reader.clone(),
                name.clone(),
                known.clone(),
            ));
            // The history is written here, on the page's connection, not the scheduler's.
            tokio::spawn(history::write(reader.clone(), to_write));
            AppState {
                metrics: handle,
                health: served,
                inspector: Inspector::new(reader),
                instance: name,
                known,
                page: Arc::default(),
                chart,
                show_args,
                auth,
            }
        })
        .await?;
        observers.push(Arc::new(MetricsObserver::new(health)));
        observers.push(Arc::new(crate::paused::PauseGauge::new()));
        // Last: its buffer work waits behind the other observers, not in front of them.
        let recorder = Arc::new(recorder);
        observers.push(recorder.clone());
        history = Some(recorder);
    }
    // Every observer, in order, however many there are.
    if let Some(all) = observers
        .into_iter()
        .reduce(|a, b| Arc::new((a, b)) as Arc<dyn Observer>)
    {
        scheduler = scheduler.with_observer(all);
    }
    let outcome = scheduler.run(shutdown.requested()).await;
    if let (Some((own, selection)), Ok(_)) = (rq_burst, &outcome) {
        crate::rq_scheduled::burst(own, instance.clone(), selection).await;
    }
    if let Some(gate) = &rq_gate {
        // The queue locks go with the scheduler lock, so a worker's scheduler need not
        // wait them out.
        gate.released(crate::rq_scheduled::RELEASE_WAIT).await;
    }
    if let Some(history) = &history {
        // A burst run's last batches reach the history before the process ends.
        history.flush(HISTORY_FLUSH).await;
    }
    match outcome {
        Ok(_) => Ok(()),
        Err(e @ rqs_orchestrator::Error::AlreadyActive(_)) => {
            Err(Failure::AlreadyActive(e.to_string()))
        }
        Err(e @ rqs_orchestrator::Error::InvalidConfig(_)) => Err(Failure::Usage(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// The longest wait at exit for the hand-off history to be written.
const HISTORY_FLUSH: Duration = Duration::from_secs(1);

/// How often an instance serving `--metrics-addr` writes its own name into the index.
const INDEX_EVERY: Duration = Duration::from_secs(30);

/// One walk of the instance records per this, across every instance (a lease).
const WALK_EVERY: Duration = Duration::from_secs(60);

/// Names not seen for this long leave the index.
const INDEX_KEEP: Duration = Duration::from_secs(600);

/// Keeps [`INSTANCE_INDEX`], so that the status page and `rqs status` find the instances
/// without walking the keyspace at every load (1,101 `SCAN` calls at 1.1M keys): at most
/// every [`WALK_EVERY`] across all instances, the names a walk of
/// `rq:scheduler_instance:*` finds (Python's among them, which have no heartbeat to note
/// themselves); every [`INDEX_EVERY`], this instance's name and the old names' removal,
/// which every rqs instance's heartbeat also does.
/// What the walk found is also kept in `known`, for the page of an instance that may not
/// write the index.
async fn keep_instance_index(conn: Connection, name: String, known: Arc<KnownInstances>) {
    let registry = RedisLifecycleRegistry::new(conn.clone());
    let mut tick = tokio::time::interval(INDEX_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut conn = conn.clone();
        let lease: redis::RedisResult<Option<String>> = redis::cmd("SET")
            .arg(WALK_LEASE)
            .arg(&name)
            .arg("NX")
            .arg("EX")
            .arg(WALK_EVERY.as_secs())
            .query_async(&mut conn)
            .await;
        let walked = match lease {
            // Another instance walked within the minute.
            Ok(None) => None,
            // Ours, or a lease that cannot be written (an ACL): walk.
            Ok(Some(_)) | Err(_) => match registry.instances().await {
                Ok(found) => Some(found.into_iter().map(|(n, _)| n).collect::<Vec<_>>()),
                Err(e) => {
                    debug!(error = %e, "cannot walk the instance records");
                    None
                }
            },
        };
        let now = crate::output::now();
        let mut seen = redis::pipe();
        seen.atomic()
            .cmd("ZADD")
            .arg(INSTANCE_INDEX)
            .arg(now)
            .arg(&name);
        for other in walked.iter().flatten() {
            seen.arg(now).arg(other);
        }
        seen.ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(INSTANCE_INDEX)
            .arg("-inf")
            .arg(format!("({}", now - INDEX_KEEP.as_secs_f64()))
            .ignore();
        if let Err(e) = seen.query_async::<()>(&mut conn).await {
            debug!(error = %e, "cannot write the instance index {INSTANCE_INDEX}");
        }
        known.walked(walked);
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
