//! systemd's notification protocol (`sd_notify`), spoken directly over the datagram
//! socket named by `NOTIFY_SOCKET`, so `Type=notify` and `WatchdogSec=` need no C
//! library: [`Notifier`] says when rqs is ready, what it is doing, that it is alive
//! (throttled, so it can be fed on every loop turn) and that it is stopping. As an
//! [`Observer`] it does all of that from the scheduler's events.
//!
//! Sending never blocks (the socket is non-blocking) and never fails the caller: a lost
//! notification is logged, and systemd's timeouts deal with the rest.

use std::ffi::{OsStr, OsString};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rqs_orchestrator::{Event, Observer, StepDown};
use tracing::{debug, warn};

/// A connection to the service manager's notification socket.
#[derive(Debug)]
pub(crate) struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
    /// From `WATCHDOG_USEC`, when the watchdog is on and meant for this process.
    watchdog: Option<Duration>,
    /// When `WATCHDOG=1` was last sent.
    last_ping: Mutex<Option<Instant>>,
    /// The role part of `STATUS=`, shown again when the backend comes back.
    role: Mutex<String>,
    /// A send failed before: later failures are logged at debug only.
    failed: AtomicBool,
}

impl Notifier {
    /// From the process environment: `None` when not started by a service manager that
    /// listens (`NOTIFY_SOCKET` unset, empty or of a kind not supported here).
    pub(crate) fn from_env() -> Option<Self> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// As [`from_env`](Self::from_env), reading each variable through `lookup`.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Option<Self> {
        let target = lookup("NOTIFY_SOCKET").filter(|s| !s.is_empty())?;
        let addr = match socket_addr(&target) {
            Ok(addr) => addr,
            Err(reason) => {
                warn!(socket = ?target, "NOTIFY_SOCKET ignored: {reason}");
                return None;
            }
        };
        let socket = UnixDatagram::unbound().and_then(|s| {
            s.set_nonblocking(true)?;
            Ok(s)
        });
        let socket = match socket {
            Ok(socket) => socket,
            Err(e) => {
                warn!(error = %e, "cannot open a socket to notify systemd");
                return None;
            }
        };
        Some(Self {
            socket,
            addr,
            watchdog: watchdog_interval(
                lookup("WATCHDOG_USEC").as_deref(),
                lookup("WATCHDOG_PID").as_deref(),
                std::process::id(),
            ),
            last_ping: Mutex::new(None),
            role: Mutex::new(String::new()),
            failed: AtomicBool::new(false),
        })
    }

    /// `READY=1` with a status line: start-up is over.
    pub(crate) fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// `STOPPING=1`: the process is shutting down.
    pub(crate) fn stopping(&self) {
        self.send("STOPPING=1");
    }

    /// `STATUS=`: a line for `systemctl status`.
    pub(crate) fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    /// `WATCHDOG=1`, at most once per half of the watchdog interval (systemd's advice),
    /// so it may be called as often as the loop turns. Nothing without a watchdog.
    pub(crate) fn watchdog(&self) {
        self.watchdog_at(Instant::now());
    }

    /// [`watchdog`](Self::watchdog) as if called at `now`.
    fn watchdog_at(&self, now: Instant) {
        let Some(every) = self.watchdog_interval() else {
            return;
        };
        {
            let mut last = self
                .last_ping
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|at| now.saturating_duration_since(at) < every / 2) {
                return;
            }
            *last = Some(now);
        }
        self.send("WATCHDOG=1");
    }

    /// The watchdog timeout systemd enforces on this process, when it does.
    pub(crate) fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    fn set_role(&self, role: String) {
        self.status(&role);
        *self.role.lock().unwrap_or_else(PoisonError::into_inner) = role;
    }

    fn send(&self, message: &str) {
        if let Err(e) = self.socket.send_to_addr(message.as_bytes(), &self.addr) {
            if self.failed.swap(true, Ordering::Relaxed) {
                debug!(error = %e, "cannot notify systemd");
            } else {
                warn!(
                    error = %e,
                    socket = ?self.addr,
                    "cannot notify systemd (later failures are logged at debug level)"
                );
            }
        }
    }
}

/// Any event shows the loop is moving, not only `Tick`: a long drain of a backlog
/// commits batch after batch and sends no `Tick` until it ends.
impl Observer for Notifier {
    fn observe(&self, event: &Event<'_>) {
        match event {
            Event::Born { name } => {
                let role = format!("standby: registered as {name}, waiting for the lock");
                self.ready(&role);
                *self.role.lock().unwrap_or_else(PoisonError::into_inner) = role;
            }
            Event::Active { scheduled, .. } => self.set_role(match scheduled {
                Some(n) => format!("active: moving due jobs ({n} scheduled)"),
                None => "active: moving due jobs".to_owned(),
            }),
            Event::SteppedDown { reason } => self.set_role(
                match reason {
                    StepDown::LostLock => "standby: another instance took the lock",
                    StepDown::LeaseExpired => "standby: the lease ran out before its renewal",
                    StepDown::Shutdown => "standby: released the lock",
                    _ => "standby",
                }
                .to_owned(),
            ),
            Event::BackendDown { error } => {
                self.status(&format!(
                    "Redis is not answering ({}), retrying",
                    error.kind()
                ));
            }
            Event::BackendBack { .. } => {
                let role = self
                    .role
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                self.status(&role);
            }
            Event::Stopped { .. } => {
                self.stopping();
                return;
            }
            _ => {}
        }
        self.watchdog();
    }
}

/// `/path` or `@abstract-name`, as `sd_notify` takes them.
fn socket_addr(target: &OsStr) -> Result<SocketAddr, String> {
    let bytes = target.as_bytes();
    let addr = match bytes.first() {
        Some(b'/') => SocketAddr::from_pathname(target),
        Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..]),
        // systemd 254 also passes vsock: addresses to virtual machines.
        _ => return Err("neither an absolute path nor an @abstract name".to_owned()),
    };
    addr.map_err(|e| e.to_string())
}

/// `sd_watchdog_enabled`'s rules: `WATCHDOG_USEC` a positive number, and
/// `WATCHDOG_PID`, when set, this process (a child may inherit the variables).
fn watchdog_interval(usec: Option<&OsStr>, pid: Option<&OsStr>, own_pid: u32) -> Option<Duration> {
    let parse = |value: &OsStr| value.to_str()?.parse::<u64>().ok();
    let usec = usec?;
    let Some(usec) = parse(usec).filter(|&n| n > 0) else {
        warn!(value = ?usec, "WATCHDOG_USEC is not a positive number; no watchdog");
        return None;
    };
    if let Some(pid) = pid
        && parse(pid) != Some(u64::from(own_pid))
    {
        debug!(watchdog_pid = ?pid, "the watchdog is meant for another process");
        return None;
    }
    Some(Duration::from_micros(usec))
}

/// The protocol is one `KEY=value` a line.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::ErrorKind;

    use rqs_orchestrator::Stats;

    use super::*;

    fn notifier(vars: &[(&str, &str)]) -> Option<Notifier> {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        Notifier::from_lookup(|k| vars.get(k).cloned())
    }

    /// A socket of the test's own, at a path in a temp dir.
    fn listener() -> (tempfile::TempDir, UnixDatagram, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_nonblocking(true).unwrap();
        (dir, socket, path.to_str().unwrap().to_owned())
    }

    /// Every datagram waiting; a sent datagram is queued before `send_to` returns.
    fn received(socket: &UnixDatagram) -> Vec<String> {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match socket.recv(&mut buf) {
                Ok(n) => all.push(String::from_utf8(buf[..n].to_vec()).unwrap()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return all,
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn own_pid() -> String {
        std::process::id().to_string()
    }

    #[test]
    fn notify_sends_the_exact_messages_to_a_path() {
        let (_dir, socket, path) = listener();
        let n = notifier(&[("NOTIFY_SOCKET", &path)]).unwrap();
        n.ready("standby");
        n.status("two\nlines");
        n.stopping();
        assert_eq!(
            received(&socket),
            ["READY=1\nSTATUS=standby", "STATUS=two lines", "STOPPING=1"]
        );
    }

    #[test]
    fn notify_reaches_an_abstract_socket() {
        let nanos = std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos();
        let name = format!("rqs-notify-test-{}-{nanos}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        socket.set_nonblocking(true).unwrap();
        let n = notifier(&[("NOTIFY_SOCKET", &format!("@{name}"))]).unwrap();
        n.ready("up");
        assert_eq!(received(&socket), ["READY=1\nSTATUS=up"]);
    }

    #[test]
    fn notify_pings_the_watchdog_at_most_once_per_half_interval() {
        let (_dir, socket, path) = listener();
        let n = notifier(&[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "10000000")]).unwrap();
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(10)));
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        for ms in [0, 1, 4_999] {
            n.watchdog_at(at(ms));
        }
        assert_eq!(received(&socket), ["WATCHDOG=1"]);
        n.watchdog_at(at(5_000));
        n.watchdog_at(at(9_999));
        assert_eq!(received(&socket), ["WATCHDOG=1"]);
        // An instant before the last ping (another thread's clock read) sends nothing.
        n.watchdog_at(at(4_000));
        n.watchdog_at(at(10_000));
        assert_eq!(received(&socket), ["WATCHDOG=1"]);
    }

    #[test]
    fn notify_watchdog_follows_watchdog_pid() {
        let (_dir, socket, path) = listener();
        let other = (std::process::id() + 1).to_string();
        let ours = own_pid();
        for (pid, on) in [(other.as_str(), false), ("x", false), (ours.as_str(), true)] {
            let n = notifier(&[
                ("NOTIFY_SOCKET", &path),
                ("WATCHDOG_USEC", "30000000"),
                ("WATCHDOG_PID", pid),
            ])
            .unwrap();
            assert_eq!(n.watchdog_interval().is_some(), on, "WATCHDOG_PID={pid}");
            n.watchdog();
            let expected: &[&str] = if on { &["WATCHDOG=1"] } else { &[] };
            assert_eq!(received(&socket), expected, "WATCHDOG_PID={pid}");
        }
    }

    #[test]
    fn notify_has_no_watchdog_without_a_positive_watchdog_usec() {
        let (_dir, socket, path) = listener();
        for usec in [None, Some("0"), Some("-1"), Some("soon"), Some("")] {
            let mut vars = vec![("NOTIFY_SOCKET", path.as_str())];
            vars.extend(usec.map(|u| ("WATCHDOG_USEC", u)));
            let n = notifier(&vars).unwrap();
            assert_eq!(n.watchdog_interval(), None, "{usec:?}");
            n.watchdog();
        }
        assert!(received(&socket).is_empty());
    }

    #[test]
    fn notify_is_off_without_a_usable_socket() {
        assert!(notifier(&[]).is_none());
        assert!(notifier(&[("WATCHDOG_USEC", "1000000"), ("WATCHDOG_PID", &own_pid())]).is_none());
        assert!(notifier(&[("NOTIFY_SOCKET", "")]).is_none());
        assert!(notifier(&[("NOTIFY_SOCKET", "vsock:2:1234")]).is_none());
        assert!(notifier(&[("NOTIFY_SOCKET", "relative/path")]).is_none());
        let too_long = format!("/{}", "x".repeat(200));
        assert!(notifier(&[("NOTIFY_SOCKET", &too_long)]).is_none());
    }

    #[test]
    fn notify_observer_maps_the_schedulers_events() {
        let (_dir, socket, path) = listener();
        let n = notifier(&[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "30000000")]).unwrap();
        n.observe(&Event::Born { name: "a1" });
        assert_eq!(
            received(&socket),
            [
                "READY=1\nSTATUS=standby: registered as a1, waiting for the lock",
                "WATCHDOG=1"
            ]
        );
        n.observe(&Event::Active {
            scheduled: Some(3),
            next_due: None,
        });
        n.observe(&Event::Tick);
        // Throttled: the ping at birth is recent.
        assert_eq!(
            received(&socket),
            ["STATUS=active: moving due jobs (3 scheduled)"]
        );
        n.observe(&Event::BackendBack {
            outage: Duration::from_secs(1),
        });
        assert_eq!(
            received(&socket),
            ["STATUS=active: moving due jobs (3 scheduled)"]
        );
        n.observe(&Event::Stopped {
            total: &Stats::default(),
        });
        assert_eq!(received(&socket), ["STOPPING=1"]);
    }

    #[test]
    fn notify_tick_pings_the_watchdog() {
        let (_dir, socket, path) = listener();
        let n = notifier(&[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "30000000")]).unwrap();
        n.observe(&Event::Tick);
        assert_eq!(received(&socket), ["WATCHDOG=1"]);
    }

    #[test]
    fn notify_survives_a_missing_socket() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let n = notifier(&[("NOTIFY_SOCKET", gone.to_str().unwrap())]).unwrap();
        n.ready("up");
        n.stopping();
        assert!(n.failed.load(Ordering::Relaxed));
    }

    #[test]
    fn notify_never_blocks_on_a_full_socket() {
        let (_dir, socket, path) = listener();
        let n = notifier(&[("NOTIFY_SOCKET", &path)]).unwrap();
        // Nobody reads: the queue fills after a few hundred datagrams
        // (net.unix.max_dgram_qlen), and a blocking send would hang there.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for i in 0..5_000 {
                n.status(&format!("status {i}"));
            }
            done.send(n.failed.load(Ordering::Relaxed)).unwrap();
        });
        let failed = finished
            .recv_timeout(Duration::from_secs(30))
            .expect("sending blocked");
        assert!(failed, "the queue never filled");
        drop(socket);
    }
}
