//! The page's "recent hand-offs": the list [`KEY`], newest first, at most [`CAP`]
//! entries of compact JSON (`{"at":…,"job":…,"queue":…,"late":…}`), and the in-memory
//! [`Chart`] of the last hour.
//!
//! The scheduler reports each hand-off to [`HistoryObserver`] inline, so it only copies
//! the id and queue bytes into a buffer there; at the end of a batch it hands the buffer
//! to [`write`], a task on the HTTP thread that formats the newest entries and writes
//! them with the page's own connection (one `LPUSH` and an `LTRIM`, in one `MULTI`), so
//! nothing queues in front of the scheduler's commands. In a burst (batches less than
//! [`SEND_EVERY`] apart) the batches are gathered, the newest [`CAP`] kept, and sent at
//! the first event after [`SEND_EVERY`]: pushing 500 entries after every batch only to
//! trim them cost 7% of the hand-off rate of a 20,000-job burst. History is best effort:
//! when the writer falls behind, batches are dropped and counted in
//! `rqs_history_dropped_total`. Only the instance that hands jobs over writes.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::counter;
use rqs_core::Outcome;
use rqs_orchestrator::{Event, Observer};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::chart::{Chart, Tally};
use crate::connection::Connection;
use crate::telemetry::names;

/// The list of recent hand-offs (rqs's own key; Python's `rqscheduler` does not write it).
pub(crate) const KEY: &str = "rq:rqs:history";

/// Entries kept in [`KEY`].
pub(crate) const CAP: usize = 500;

/// Batches waiting for the writer before new ones are dropped.
const QUEUED_BATCHES: usize = 64;

/// The least time between two hand-overs to the writer; batches meanwhile are gathered.
pub(crate) const SEND_EVERY: Duration = Duration::from_millis(200);

/// The most bytes of an id or a queue name kept; a longer one is cut (and marked so),
/// so that the list stays small whatever clients name their jobs.
const NAME_BYTES: usize = 256;

/// One hand-off: where its id and queue end in the gathered bytes, and when its batch
/// was committed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Raw {
    at: f64,
    id_end: usize,
    /// `None`: no queue.
    queue_end: Option<usize>,
    late: f64,
    /// The id or the queue was longer than [`NAME_BYTES`].
    id_cut: bool,
    queue_cut: bool,
}

/// What the observer hands the writer.
#[derive(Debug)]
pub(crate) enum Message {
    /// The hand-offs of one batch or more, oldest first.
    Batch { bytes: Vec<u8>, raws: Vec<Raw> },
    /// Answered once every message before it is written (or dropped).
    Flush(oneshot::Sender<()>),
}

/// The hand-offs not yet sent to the writer.
#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    raws: Vec<Raw>,
    /// Where the batch in progress starts in `raws`.
    batch_start: usize,
    /// The batch in progress, for the chart.
    tally: Tally,
    /// When hand-offs were last sent to the writer.
    sent: Instant,
}

impl Default for Pending {
    fn default() -> Self {
        Self {
            bytes: Vec::new(),
            raws: Vec::new(),
            batch_start: 0,
            tally: Tally::default(),
            // Long ago: the first batch is sent at once.
            sent: Instant::now()
                .checked_sub(SEND_EVERY)
                .unwrap_or_else(Instant::now),
        }
    }
}

impl Pending {
    /// Keeps the last [`CAP`] hand-offs once twice as many are pending (a batch larger
    /// than the cap): the others would be trimmed away at once.
    fn compact(&mut self) {
        if self.raws.len() < 2 * CAP {
            return;
        }
        let keep = self.raws.len() - CAP;
        let r = self.raws[keep - 1];
        let cut = r.queue_end.unwrap_or(r.id_end);
        self.bytes.drain(..cut);
        self.raws.drain(..keep);
        self.batch_start = self.batch_start.saturating_sub(keep);
        for r in &mut self.raws {
            r.id_end -= cut;
            r.queue_end = r.queue_end.map(|q| q - cut);
        }
    }

    /// Hands what was gathered to the writer (or counts it dropped), when there is some
    /// and `now` is time to, or `force`.
    fn send(&mut self, to_writer: &mpsc::Sender<Message>, force: bool) {
        if self.raws.is_empty() || !(force || self.sent.elapsed() >= SEND_EVERY) {
            return;
        }
        self.sent = Instant::now();
        self.batch_start = 0;
        let entries = self.raws.len();
        let message = Message::Batch {
            bytes: std::mem::take(&mut self.bytes),
            raws: std::mem::take(&mut self.raws),
        };
        if to_writer.try_send(message).is_err() {
            counter!(names::HISTORY_DROPPED).increment(entries as u64);
        }
    }

    /// Copies at most [`NAME_BYTES`] of `name`; whether it was cut.
    fn copy(&mut self, name: &[u8]) -> bool {
        self.bytes
            .extend_from_slice(&name[..name.len().min(NAME_BYTES)]);
        name.len() > NAME_BYTES
    }
}

/// Feeds the history and the chart from the scheduler's events.
#[derive(Debug)]
pub(crate) struct HistoryObserver {
    pending: Mutex<Pending>,
    chart: Arc<Chart>,
    to_writer: mpsc::Sender<Message>,
}

impl HistoryObserver {
    /// The observer, and the receiving end for [`write`].
    pub(crate) fn new(chart: Arc<Chart>) -> (Self, mpsc::Receiver<Message>) {
        let (to_writer, from_observer) = mpsc::channel(QUEUED_BATCHES);
        let observer = Self {
            pending: Mutex::default(),
            chart,
            to_writer,
        };
        (observer, from_observer)
    }

    /// Waits, at most `limit`, until the writer has written what was handed over so far:
    /// a burst run's last batches are in the history when it exits.
    pub(crate) async fn flush(&self, limit: Duration) {
        let (done, written) = oneshot::channel();
        let _ = tokio::time::timeout(limit, async {
            if self.to_writer.send(Message::Flush(done)).await.is_ok() {
                let _ = written.await;
            }
        })
        .await;
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Observer for HistoryObserver {
    fn observe(&self, event: &Event<'_>) {
        match event {
            Event::HandedOff {
                job,
                queue,
                outcome: Outcome::Pushed | Outcome::Deferred,
                lateness,
                ..
            } => {
                let late = lateness.as_secs_f64();
                let mut guard = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                let p = &mut *guard;
                p.tally.add(late);
                let id_cut = p.copy(job.as_bytes());
                let id_end = p.bytes.len();
                let queue_cut = queue.is_some_and(|q| p.copy(q.as_bytes()));
                let queue_end = queue.map(|_| p.bytes.len());
                p.raws.push(Raw {
                    at: 0.0,
                    id_end,
                    queue_end,
                    late,
                    id_cut,
                    queue_cut,
                });
                p.compact();
            }
            Event::Batch { .. } => {
                let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                if p.tally.is_empty() {
                    return;
                }
                let at = unix_now();
                let start = p.batch_start;
                for r in &mut p.raws[start..] {
                    r.at = at;
                }
                p.batch_start = p.raws.len();
                self.chart.add(at, &std::mem::take(&mut p.tally));
                p.send(&self.to_writer, false);
            }
            // The end of a burst: what it gathered goes out at the next turn or pause.
            Event::Tick | Event::Idle { .. } => {
                let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                p.send(&self.to_writer, false);
            }
            Event::SteppedDown { .. } | Event::Stopped { .. } => {
                let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                p.send(&self.to_writer, true);
            }
            _ => {}
        }
    }
}

/// `bytes` as the page and the commands show ids (`rqs_core::escape`: what `rqs show`
/// takes back), as a JSON string, `…` after a name that was cut.
fn json_name(out: &mut Vec<u8>, scratch: &mut String, bytes: &[u8], cut: bool) {
    scratch.clear();
    let _ = rqs_core::escape(bytes, scratch);
    out.push(b'"');
    for c in scratch.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            // `escape` leaves no control character; this keeps the JSON valid regardless.
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    if cut {
        out.extend_from_slice("…".as_bytes());
    }
    out.push(b'"');
}

/// The JSON entries of gathered hand-offs, newest first, at most `room` of them.
fn entries(bytes: &[u8], raws: &[Raw], room: usize, out: &mut Vec<Vec<u8>>) {
    let mut scratch = String::new();
    for (i, r) in raws.iter().enumerate().rev().take(room) {
        let start = if i == 0 {
            0
        } else {
            let before = raws[i - 1];
            before.queue_end.unwrap_or(before.id_end)
        };
        let mut entry = Vec::with_capacity(64 + r.id_end - start);
        let _ = write!(entry, "{{\"at\":{:.3},\"job\":", r.at);
        json_name(&mut entry, &mut scratch, &bytes[start..r.id_end], r.id_cut);
        entry.extend_from_slice(b",\"queue\":");
        match r.queue_end {
            Some(end) => json_name(&mut entry, &mut scratch, &bytes[r.id_end..end], r.queue_cut),
            None => entry.extend_from_slice(b"null"),
        }
        let _ = write!(entry, ",\"late\":{:.3}}}", r.late);
        out.push(entry);
    }
}

/// Writes what the observer hands over, until the observer is gone. Runs on the HTTP
/// thread's runtime with the page's connection. The batches waiting meanwhile go in one
/// `MULTI`: their newest [`CAP`] entries pushed (only those are formatted), the list
/// trimmed to [`CAP`].
pub(crate) async fn write(conn: Connection, mut from_observer: mpsc::Receiver<Message>) {
    let mut messages = Vec::with_capacity(QUEUED_BATCHES);
    let mut newest_first: Vec<Vec<u8>> = Vec::with_capacity(CAP);
    while from_observer.recv_many(&mut messages, QUEUED_BATCHES).await > 0 {
        let mut flushes = Vec::new();
        let mut total = 0usize;
        for message in messages.iter().rev() {
            if let Message::Batch { bytes, raws } = message {
                total += raws.len();
                let room = CAP - newest_first.len();
                entries(bytes, raws, room, &mut newest_first);
            }
        }
        for message in messages.drain(..) {
            if let Message::Flush(done) = message {
                flushes.push(done);
            }
        }
        if !newest_first.is_empty() {
            // LPUSH puts its last argument at the head: oldest first.
            newest_first.reverse();
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("LPUSH")
                .arg(KEY)
                .arg(&newest_first)
                .ignore()
                .cmd("LTRIM")
                .arg(KEY)
                .arg(0)
                .arg(CAP - 1)
                .ignore();
            if let Err(e) = pipe.query_async::<()>(&mut conn.clone()).await {
                debug!(error = %e, "cannot write the hand-off history {KEY}");
                counter!(names::HISTORY_DROPPED).increment(total as u64);
            }
            newest_first.clear();
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// One entry of [`KEY`], as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Entry {
    HandOff {
        at: f64,
        job: String,
        queue: Option<String>,
        late: f64,
    },
    /// Not an entry rqs wrote: why.
    Unreadable(String),
}

impl Entry {
    /// An entry as read (or, `Err`, the size of one too large to read).
    pub(crate) fn parse(raw: Result<&[u8], u64>) -> Self {
        #[derive(serde::Deserialize)]
        struct Json {
            at: f64,
            job: String,
            queue: Option<String>,
            late: f64,
        }
        match raw {
            Err(size) => Self::Unreadable(format!("an entry of {size} bytes, not read")),
            Ok(raw) => match serde_json::from_slice::<Json>(raw) {
                Ok(j) => Self::HandOff {
                    at: j.at,
                    job: j.job,
                    queue: j.queue,
                    late: j.late,
                },
                Err(e) => Self::Unreadable(format!("not an rqs history entry: {e}")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use rqs_core::{JobId, QueueName};
    use rqs_testkit::RedisServer;

    use super::*;

    fn handed<'a>(job: &'a JobId, queue: &'a QueueName, ms: u64) -> Event<'a> {
        Event::HandedOff {
            job,
            queue: Some(queue),
            outcome: Outcome::Pushed,
            rescheduled: false,
            quarantine: None,
            lateness: Duration::from_millis(ms),
        }
    }

    fn batch(observer: &HistoryObserver) {
        let stats = rqs_orchestrator::Stats::default();
        observer.observe(&Event::Batch {
            stats: &stats,
            duration: Duration::ZERO,
        });
    }

    fn stopped(observer: &HistoryObserver) {
        let stats = rqs_orchestrator::Stats::default();
        observer.observe(&Event::Stopped { total: &stats });
    }

    /// The JSON entries of a message, newest first.
    fn json(message: Message) -> Vec<String> {
        let Message::Batch { bytes, raws } = message else {
            panic!("not a batch");
        };
        let mut out = Vec::new();
        entries(&bytes, &raws, CAP, &mut out);
        out.into_iter()
            .map(|e| String::from_utf8(e).unwrap())
            .collect()
    }

    #[test]
    fn entries_are_compact_json_and_names_are_cut() {
        let chart = Arc::new(Chart::default());
        let (observer, mut rx) = HistoryObserver::new(chart.clone());
        let long = "é".repeat(200);
        let jobs = [
            JobId::from("a\"b\\c\n"),
            JobId::new(vec![0xff, b'x']),
            JobId::from(long.as_str()),
        ];
        let queue = QueueName::from("reports");
        for (i, job) in jobs.iter().enumerate() {
            observer.observe(&handed(job, &queue, 1500 * i as u64));
        }
        // Not a hand-off: no entry.
        observer.observe(&Event::HandedOff {
            job: &jobs[0],
            queue: None,
            outcome: Outcome::Quarantined,
            rescheduled: false,
            quarantine: None,
            lateness: Duration::ZERO,
        });
        batch(&observer);
        let json = json(rx.try_recv().expect("the first batch is sent at once"));
        assert_eq!(json.len(), 3);
        // Newest first.
        let entries: Vec<Entry> = json
            .iter()
            .rev()
            .map(|e| Entry::parse(Ok(e.as_bytes())))
            .collect();
        let Entry::HandOff {
            job, queue, late, ..
        } = &entries[0]
        else {
            panic!("{entries:?}");
        };
        // As `rqs show` takes ids: escaped.
        assert_eq!(
            (job.as_str(), queue.as_deref(), *late),
            ("a\"b\\\\c\\n", Some("reports"), 0.0)
        );
        let Entry::HandOff { job, late, .. } = &entries[1] else {
            panic!("{entries:?}");
        };
        assert_eq!((job.as_str(), *late), ("\\xffx", 1.5));
        let Entry::HandOff { job, .. } = &entries[2] else {
            panic!("{entries:?}");
        };
        assert!(job.ends_with('…') && job.starts_with("éé"), "{job}");
        assert!(job.len() <= NAME_BYTES + 3, "{job}");
        // An empty batch sends nothing; the chart has the three.
        batch(&observer);
        assert!(rx.try_recv().is_err());
        let counted: u64 = chart.minutes(unix_now()).iter().map(|m| m.count).sum();
        assert_eq!(counted, 3);
    }

    #[test]
    fn a_batch_larger_than_the_cap_keeps_its_last_entries() {
        let (observer, mut rx) = HistoryObserver::new(Arc::default());
        let queue = QueueName::from("q");
        for i in 0..(3 * CAP + 7) {
            let job = JobId::from(format!("job-{i}").as_str());
            observer.observe(&handed(&job, &queue, 1));
        }
        batch(&observer);
        let json = json(rx.try_recv().expect("the first batch is sent at once"));
        assert_eq!(json.len(), CAP);
        let (newest, oldest) = (&json[0], &json[CAP - 1]);
        assert!(
            newest.ends_with(&format!(
                ",\"job\":\"job-{}\",\"queue\":\"q\",\"late\":0.001}}",
                3 * CAP + 6
            )),
            "{newest}"
        );
        assert!(
            oldest.contains(&format!("\"job-{}\"", 2 * CAP + 7)),
            "{oldest}"
        );
    }

    #[test]
    fn a_full_channel_drops_batches_without_waiting_and_counts_them() {
        let (observer, _rx) = HistoryObserver::new(Arc::default());
        let job = JobId::from("j");
        let queue = QueueName::from("q");
        let recorder = crate::telemetry::builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            // Nobody reads: the first sends fill the channel, the rest are dropped. (A
            // stop sends at once, however soon after the one before.)
            for _ in 0..(QUEUED_BATCHES + 10) {
                for _ in 0..3 {
                    observer.observe(&handed(&job, &queue, 1));
                }
                batch(&observer);
                stopped(&observer);
            }
        });
        assert_eq!(observer.to_writer.capacity(), 0);
        assert!(
            handle.render().contains("rqs_history_dropped_total 30"),
            "{}",
            handle.render()
        );
    }

    #[test]
    fn a_burst_is_gathered_and_sent_at_the_first_turn_after_the_pause() {
        let (observer, mut rx) = HistoryObserver::new(Arc::default());
        let queue = QueueName::from("q");
        let mut n = 0;
        let mut batches = |count: usize| {
            for _ in 0..count {
                for _ in 0..3 {
                    let job = JobId::from(format!("job-{n:03}").as_str());
                    observer.observe(&handed(&job, &queue, 1));
                    n += 1;
                }
                batch(&observer);
            }
        };
        batches(1);
        assert_eq!(
            json(rx.try_recv().unwrap()).len(),
            3,
            "the first goes at once"
        );
        // Batches in a row: gathered, not sent, a turn changes nothing yet.
        batches(100);
        observer.observe(&Event::Tick);
        assert!(rx.try_recv().is_err());
        std::thread::sleep(SEND_EVERY);
        observer.observe(&Event::Tick);
        let json = json(
            rx.try_recv()
                .expect("sent at the first turn after the pause"),
        );
        // The newest CAP of the 300 gathered (under twice the cap, nothing was cut).
        assert_eq!(json.len(), 300);
        assert!(json[0].contains("\"job-302\"") && json[299].contains("\"job-003\""));
        let at = |e: &str| -> f64 {
            serde_json::from_str::<serde_json::Value>(e).unwrap()["at"]
                .as_f64()
                .unwrap()
        };
        assert!(json.windows(2).all(|w| at(&w[0]) >= at(&w[1])));
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn the_writer_keeps_the_newest_entries_up_to_the_cap() {
        let server = RedisServer::start();
        let conn = rqs_redis::RedisConnection::connect(
            &rqs_redis::RedisConfig::from_url(&server.url())
                .unwrap()
                .config,
        )
        .await
        .unwrap();
        let (observer, rx) = HistoryObserver::new(Arc::default());
        let writer = tokio::spawn(write(conn.clone(), rx));
        let queue = QueueName::from("q");
        for i in 0..(CAP + 150) {
            let job = JobId::from(format!("job-{i}").as_str());
            observer.observe(&handed(&job, &queue, 2));
            if i % 100 == 99 {
                batch(&observer);
            }
        }
        batch(&observer);
        stopped(&observer);
        observer.flush(Duration::from_secs(10)).await;
        let list: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg(KEY)
            .arg(0)
            .arg(-1)
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        assert_eq!(list.len(), CAP);
        let newest = Entry::parse(Ok(&list[0]));
        let oldest = Entry::parse(Ok(&list[CAP - 1]));
        assert!(
            matches!(&newest, Entry::HandOff { job, .. } if job == &format!("job-{}", CAP + 149)),
            "{newest:?}"
        );
        assert!(
            matches!(&oldest, Entry::HandOff { job, .. } if job == "job-150"),
            "{oldest:?}"
        );
        drop(observer);
        writer.await.unwrap();
    }
}
