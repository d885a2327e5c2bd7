//! `rqs list`: scheduled jobs in due order.
//!
//! The schedule may hold 100,000 jobs, so `list` reads it a page at a time and stops as
//! soon as it has what it prints: the first page costs one script call for the ids and
//! the count, and a few pipelined round trips for their hashes. Filters on the id look
//! only at the ids; filters on the queue or the function read the hashes, so those stop
//! at the limit and say how many matched so far. `--json` and `--jsonl` write each page
//! as it is read.

use std::sync::LazyLock;

use clap::Args;
use futures_util::StreamExt;
use rqs_core::{JobId, keys};

use crate::cli::ConnectionArgs;
use crate::commands::show::{Limits, read_jobs};
use crate::connection::Connection;
use crate::exit::Failure;
use crate::inspect::JobSummary;
use crate::jobinfo::runs_label;
use crate::output::{self, JsonStream, Table};

/// Ids read per page of the schedule when filtering (the ids only: small).
const PAGE: usize = 1_000;

/// Jobs whose hashes one read takes: a few pipelined round trips.
const BATCH: usize = 100;

/// Reads of [`BATCH`] hashes in flight at once (they share one multiplexed connection);
/// each holds at most a few MiB of fields (`show::read_jobs`), so this bounds the memory.
const CONCURRENT_BATCHES: usize = 4;

/// `rqs list` flags.
#[derive(Debug, Args, Clone, PartialEq)]
pub(crate) struct ListArgs {
    /// Only jobs due at or before T (RFC 3339, Unix seconds, now, or +30s, +5m, +2h, +1d
    /// from now)
    #[arg(
        long,
        value_name = "T",
        value_parser = output::parse_time,
        allow_hyphen_values = true
    )]
    pub(crate) until: Option<f64>,

    /// Only jobs of queue Q
    #[arg(long, value_name = "Q")]
    pub(crate) queue: Option<String>,

    /// Only jobs whose function matches PATTERN, a glob (* any text, ? one character,
    /// [a-z] [!a-z] one of or none of): 'tasks.*', '*.send_report'
    #[arg(long, value_name = "PATTERN", value_parser = Glob::parse)]
    pub(crate) function: Option<Glob>,

    /// Only jobs whose id, as printed, matches PATTERN (a glob, as --function)
    #[arg(long, value_name = "PATTERN", value_parser = Glob::parse)]
    pub(crate) id: Option<Glob>,

    /// At most N jobs; 0 for all
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub(crate) limit: usize,

    /// Print JSON instead of a table
    #[arg(long, conflicts_with = "jsonl")]
    pub(crate) json: bool,

    /// Print one JSON object per line, each page as it is read (for large schedules)
    #[arg(long)]
    pub(crate) jsonl: bool,
}

pub(crate) async fn run(args: &ListArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let conn = connection.connect().await?;
    if args.json || args.jsonl {
        let mut stream = if args.jsonl {
            JsonStream::Lines
        } else {
            JsonStream::Array(false)
        };
        scan(&conn, args, |jobs| {
            let mut text = String::new();
            for job in &jobs {
                stream.item(job, &mut text)?;
            }
            output::emit(&text)
        })
        .await?;
        return output::print(stream.end());
    }
    let mut jobs = Vec::new();
    let shown = scan(&conn, args, |page| {
        jobs.extend(page);
        Ok(true)
    })
    .await?;
    if jobs.is_empty() {
        return output::print("No scheduled job matches.\n");
    }
    let mut text = table(&jobs, output::now()).to_string();
    if let Some(line) = shown.cut_line() {
        text.push('\n');
        text.push_str(&line);
        text.push('\n');
    }
    output::print(&text)
}

/// The table `rqs list` prints.
pub(crate) fn table(jobs: &[JobSummary], now: f64) -> Table {
    let mut t = Table::new(&[
        "NEXT RUN",
        "ID",
        "QUEUE",
        "FUNCTION",
        "KIND",
        "REPEATS LEFT",
    ]);
    for j in jobs {
        t.row(vec![
            output::when(j.due.0, now),
            j.id.clone(),
            j.queue.clone().unwrap_or_else(|| "-".into()),
            j.function.clone().unwrap_or_else(|| "-".into()),
            j.kind_label(),
            if j.missing {
                "-".into()
            } else {
                runs_label(j.repeats_left)
            },
        ]);
    }
    t
}

/// How many jobs matched, as far as `list` looked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Matched {
    /// All of them.
    Exactly(u64),
    /// The jobs read before the limit was reached; more may follow.
    AtLeast(u64),
}

/// What a scan printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shown {
    pub(crate) printed: u64,
    pub(crate) matched: Matched,
    /// The scan stopped at `--limit`.
    pub(crate) at_limit: bool,
}

impl Shown {
    /// `showing 100 of 2400` when the list was cut at the limit.
    pub(crate) fn cut_line(&self) -> Option<String> {
        if !self.at_limit {
            return None;
        }
        match self.matched {
            Matched::Exactly(m) if m > self.printed => {
                Some(format!("showing {} of {m}", self.printed))
            }
            Matched::Exactly(_) => None,
            Matched::AtLeast(m) => Some(format!("showing {} of at least {m}", self.printed)),
        }
    }
}

/// Walks the schedule in due order and hands `emit` the jobs that match, a batch at a
/// time, each hash read within [`Limits::LIST`] (a 100 MB meta is reported, not read);
/// `emit` returns `false` to stop (the reader closed the pipe).
///
/// Without a filter, the count comes with the first page. With `--id`, the ids of the
/// whole range are walked (no hash) and only the printed jobs' hashes read. With
/// `--queue` or `--function`, every hash must be read to know, so the walk stops after
/// the page where the limit is reached.
async fn scan(
    conn: &Connection,
    args: &ListArgs,
    mut emit: impl FnMut(Vec<JobSummary>) -> Result<bool, Failure>,
) -> Result<Shown, Failure> {
    let limit = match args.limit {
        0 => u64::MAX,
        n => n as u64,
    };
    let reads_hashes = args.queue.is_some() || args.function.is_some();
    let unfiltered = !reads_hashes && args.id.is_none();
    let mut cursor = Cursor::default();
    let (mut printed, mut matched) = (0, 0);
    let mut in_range = None;
    let mut finished = false;
    loop {
        let room = limit - printed;
        let want = if unfiltered {
            room.min(PAGE as u64) as usize
        } else {
            PAGE
        };
        let page = cursor.next(conn, args.until, want).await?;
        in_range.get_or_insert(page.in_range);
        let ids: Vec<(JobId, f64)> = page
            .jobs
            .into_iter()
            .filter(|(id, _)| {
                args.id
                    .as_ref()
                    .is_none_or(|glob| glob.matches(&output::text(id.as_bytes())))
            })
            .collect();
        let (found, open) = if reads_hashes {
            emit_matching(conn, args, &ids, room, &mut emit).await?
        } else {
            // Only the ids printed need their hash.
            let take = ids.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            let (_, open) = emit_matching(conn, args, &ids[..take], room, &mut emit).await?;
            (ids.len() as u64, open)
        };
        matched += found;
        printed += found.min(room);
        if !open {
            break;
        }
        if !page.more {
            finished = true;
            break;
        }
        // At the limit, an id filter walks on to count; the others would read hashes.
        if printed >= limit && (unfiltered || reads_hashes) {
            break;
        }
    }
    let matched = if unfiltered {
        Matched::Exactly(in_range.unwrap_or(0))
    } else if finished {
        Matched::Exactly(matched)
    } else {
        Matched::AtLeast(matched)
    };
    Ok(Shown {
        printed,
        matched,
        at_limit: printed >= limit,
    })
}

/// Reads the hashes of `ids`, a few batches at once, and emits, in order, the first
/// `room` jobs that pass `--queue` and `--function`; the rest are still read, to count.
/// Returns how many passed and whether the output is still open.
async fn emit_matching(
    conn: &Connection,
    args: &ListArgs,
    ids: &[(JobId, f64)],
    room: u64,
    emit: &mut impl FnMut(Vec<JobSummary>) -> Result<bool, Failure>,
) -> Result<(u64, bool), Failure> {
    let mut found: u64 = 0;
    let mut batches = futures_util::stream::iter(ids.chunks(BATCH))
        .map(|batch| read_batch(conn, args, batch))
        .buffered(CONCURRENT_BATCHES);
    while let Some(jobs) = batches.next().await {
        let mut jobs = jobs?;
        let passed = jobs.len() as u64;
        jobs.truncate(usize::try_from(room.saturating_sub(found)).unwrap_or(usize::MAX));
        found += passed;
        if !jobs.is_empty() && !emit(jobs)? {
            return Ok((found, false));
        }
    }
    Ok((found, true))
}

/// The summaries of the jobs of `batch` that pass `--queue` and `--function` (a job
/// without a hash passes only when neither is given).
async fn read_batch(
    conn: &Connection,
    args: &ListArgs,
    batch: &[(JobId, f64)],
) -> Result<Vec<JobSummary>, Failure> {
    let mut out = Vec::with_capacity(batch.len());
    let ids: Vec<&JobId> = batch.iter().map(|(id, _)| id).collect();
    read_jobs(conn, &ids, Limits::LIST, |i, read| {
        let (id, score) = &batch[i];
        let summary = match read {
            // The raw name, not the summary's (escaped and cut for display).
            Some(read)
                if args
                    .queue
                    .as_ref()
                    .is_none_or(|q| read.hash.get("origin") == Some(q.as_bytes())) =>
            {
                read.summary(id, *score)
            }
            Some(_) => return,
            None if args.queue.is_some() || args.function.is_some() => return,
            None => JobSummary::new(id, *score, None),
        };
        let function = args
            .function
            .as_ref()
            .is_none_or(|glob| summary.function.as_deref().is_some_and(|f| glob.matches(f)));
        if function {
            out.push(summary);
        }
    })
    .await?;
    Ok(out)
}

/// The next page of the schedule, by rank (`O(log n)` however far the page), with the
/// count of the range. A page resumes after the last id of the page before that is
/// still where it was: jobs handed over, moved or added meanwhile shift nothing.
static PAGE_AFTER: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
-- KEYS[1]: the schedule. ARGV[1]: the highest score listed ('+inf': none); ARGV[2]: how
-- many ids; then the last ids of the page before, the newest first, each followed by
-- its score as this script returned it (none on the first page).
-- Returns {ids with a score in [0, ARGV[1]], id, score, id, score...}.
local first = redis.call('ZCOUNT', KEYS[1], '-inf', '(0')
local last = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[1]) - 1
local from = first
if #ARGV > 2 then
  from = nil
  for k = 3, #ARGV, 2 do
    if redis.call('ZSCORE', KEYS[1], ARGV[k]) == ARGV[k + 1] then
      from = redis.call('ZRANK', KEYS[1], ARGV[k]) + 1
      break
    end
  end
  if not from then
    -- All of them left or moved: the ids at the newest one's score again (one may
    -- show twice, none is skipped).
    from = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[4])
  end
end
local to = math.min(last, from + tonumber(ARGV[2]) - 1)
local page = {}
if from <= to then
  page = redis.call('ZRANGE', KEYS[1], from, to, 'WITHSCORES')
end
table.insert(page, 1, last - first + 1)
return page
",
    )
});

/// How many ids of a page the next page may resume after.
const ANCHORS: usize = 100;

/// Where the walk of the schedule is: the last ids returned, the newest first, each
/// with its score as Redis wrote it.
#[derive(Debug, Default)]
struct Cursor {
    anchors: Vec<(Vec<u8>, Vec<u8>)>,
}

/// One page of the schedule.
#[derive(Debug)]
struct SchedulePage {
    /// The jobs with a score in `[0, until]` when the page was read.
    in_range: u64,
    jobs: Vec<(JobId, f64)>,
    /// Whether a full page came back, so more may follow.
    more: bool,
}

impl Cursor {
    async fn next(
        &mut self,
        conn: &Connection,
        until: Option<f64>,
        want: usize,
    ) -> Result<SchedulePage, Failure> {
        let mut call = PAGE_AFTER.key(keys::SCHEDULED_JOBS);
        call.arg(until.map_or_else(|| "+inf".to_owned(), |t| t.to_string()))
            .arg(want.max(1));
        for (id, score) in &self.anchors {
            call.arg(id).arg(score);
        }
        let reply: Vec<redis::Value> = call
            .invoke_async(&mut conn.clone())
            .await
            .map_err(rqs_redis::backend_error)?;
        let bad = || Failure::Runtime(anyhow::anyhow!("unexpected reply of the page read"));
        let mut cells = reply.into_iter();
        let Some(redis::Value::Int(in_range)) = cells.next() else {
            return Err(bad());
        };
        let mut jobs = Vec::with_capacity(want);
        let mut anchors = Vec::new();
        while let (Some(redis::Value::BulkString(id)), Some(redis::Value::BulkString(score))) =
            (cells.next(), cells.next())
        {
            let value = std::str::from_utf8(&score)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .ok_or_else(bad)?;
            jobs.push((JobId::new(id.clone()), value));
            anchors.push((id, score));
        }
        if !anchors.is_empty() {
            anchors.reverse();
            anchors.truncate(ANCHORS);
            self.anchors = anchors;
        }
        Ok(SchedulePage {
            in_range: u64::try_from(in_range).unwrap_or(0),
            more: jobs.len() >= want.max(1),
            jobs,
        })
    }
}

/// A shell-style pattern: `*` any text, `?` any one character, `[abc]`, `[a-z]` one of,
/// `[!abc]` none of (a `]` first in the brackets is one of the characters). No escape:
/// `[*]` matches a `*`, and a backslash is itself, as in the ids `list` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Glob {
    pub(crate) fn parse(text: &str) -> Result<Glob, String> {
        let mut tokens = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' => Token::Star,
                '?' => Token::Any,
                '[' => {
                    let negated = chars.next_if(|&c| c == '!' || c == '^').is_some();
                    let mut ranges = Vec::new();
                    let mut first = true;
                    loop {
                        let Some(c) = chars.next() else {
                            return Err(format!(
                                "{text:?}: a [ is not closed (write [[] for a [ itself)"
                            ));
                        };
                        if c == ']' && !first {
                            break;
                        }
                        first = false;
                        let high = match chars.peek() {
                            Some('-') => {
                                chars.next();
                                match chars.next_if(|&c| c != ']') {
                                    Some(high) => high,
                                    // `[a-]`: the dash is one of the characters.
                                    None => {
                                        ranges.push(('-', '-'));
                                        c
                                    }
                                }
                            }
                            _ => c,
                        };
                        if high < c {
                            return Err(format!("{text:?}: the range {c}-{high} is backwards"));
                        }
                        ranges.push((c, high));
                    }
                    Token::Class { negated, ranges }
                }
                c => Token::Char(c),
            });
        }
        Ok(Glob { tokens })
    }

    /// Whether the whole of `text` matches.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let (mut t, mut p) = (0, 0);
        // Where the last `*` was, and the text it swallows up to.
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.tokens.get(p) {
                Some(Token::Star) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(token) if token.matches(text[t]) => {
                    t += 1;
                    p += 1;
                }
                // Backtrack: the last `*` takes one character more.
                _ => match star {
                    Some((sp, st)) => {
                        star = Some((sp, st + 1));
                        p = sp + 1;
                        t = st + 1;
                    }
                    None => return false,
                },
            }
        }
        self.tokens[p..].iter().all(|t| *t == Token::Star)
    }
}

impl Token {
    fn matches(&self, c: char) -> bool {
        match self {
            Token::Char(x) => *x == c,
            Token::Any => true,
            Token::Star => false,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c)) != *negated
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(text: &str) -> Glob {
        Glob::parse(text).unwrap()
    }

    #[test]
    fn globs_match_as_the_shell_does() {
        for (pattern, yes, no) in [
            (
                "tasks.*",
                &["tasks.add", "tasks.", "tasks.a.b"][..],
                &["task.add", "xtasks.add"][..],
            ),
            (
                "*.send_report",
                &["reports.send_report", ".send_report"],
                &["send_report", "a.send_report2"],
            ),
            ("add-?", &["add-1", "add-é"], &["add-", "add-12"]),
            ("add-[1-3]", &["add-1", "add-3"], &["add-4", "add-a"]),
            ("add-[!1-3]", &["add-4", "add-a"], &["add-1", "add-"]),
            ("[]a]", &["]", "a"], &["b"]),
            ("[a-]", &["a", "-"], &["b"]),
            ("[*]", &["*"], &["x"]),
            ("a*b*c", &["abc", "aXbYc", "abbbc", "acbc"], &["acb", "ab"]),
            ("*", &["", "anything"], &[]),
            ("", &[""], &["x"]),
            ("a\\xff*", &["a\\xff", "a\\xffb"], &["a\u{ff}"]),
        ] {
            let g = glob(pattern);
            for text in yes {
                assert!(g.matches(text), "{pattern:?} should match {text:?}");
            }
            for text in no {
                assert!(!g.matches(text), "{pattern:?} should not match {text:?}");
            }
        }
        for (bad, says) in [
            ("a[b", "not closed"),
            ("[", "not closed"),
            ("[]", "not closed"),
            ("[z-a]", "backwards"),
        ] {
            let err = Glob::parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    /// Every page resumes after the last id of the page before that is still where it
    /// was: jobs leaving at the head, moving or leaving in the page skip nothing.
    #[tokio::test]
    async fn pages_resume_after_the_jobs_still_in_place() {
        let server = rqs_testkit::RedisServer::start();
        let admin = server.connection().await;
        let config = rqs_redis::RedisConfig::from_url(&server.url())
            .unwrap()
            .config;
        let conn = Connection::connect(&config).await.unwrap();
        let run = |args: &[&str]| {
            let mut cmd = redis::cmd(args[0]);
            cmd.arg(keys::SCHEDULED_JOBS).arg(&args[1..]);
            let mut admin = admin.clone();
            async move { cmd.query_async::<()>(&mut admin).await.unwrap() }
        };
        // Ten ids at one score (ordered by id), three later, one below 0 (never listed).
        run(&["ZADD", "-5", "neg", "200", "k0", "200", "k1", "200", "k2"]).await;
        for i in 0..10 {
            run(&["ZADD", "100", &format!("j{i}")]).await;
        }
        let mut cursor = Cursor::default();
        let mut page = async |want| {
            let page = cursor.next(&conn, None, want).await.unwrap();
            let ids: Vec<String> = page
                .jobs
                .iter()
                .map(|(id, _)| output::text(id.as_bytes()))
                .collect();
            (page.in_range, ids, page.more)
        };
        assert_eq!(
            page(4).await,
            (
                13,
                vec!["j0".into(), "j1".into(), "j2".into(), "j3".into()],
                true
            )
        );
        // Handed over meanwhile: the head, and the last id read.
        run(&["ZREM", "j0", "j1", "j3"]).await;
        assert_eq!(page(4).await.1, ["j4", "j5", "j6", "j7"]);
        // The last id moved to later, the two before it left.
        run(&["ZADD", "300", "j7"]).await;
        run(&["ZREM", "j5", "j6"]).await;
        assert_eq!(page(4).await.1, ["j8", "j9", "k0", "k1"]);
        // The whole page left: the ids at its last score again.
        run(&["ZREM", "j8", "j9", "k0", "k1"]).await;
        let (in_range, ids, more) = page(4).await;
        assert_eq!(
            (in_range, ids, more),
            (4, vec!["k2".into(), "j7".into()], false)
        );
        assert_eq!(page(4).await.1, Vec::<String>::new());
        // The count and the page stop at `until`.
        let mut cursor = Cursor::default();
        let first = cursor.next(&conn, Some(200.0), 10).await.unwrap();
        assert_eq!(first.in_range, 3);
        assert_eq!(first.jobs.len(), 3);
    }

    #[test]
    fn the_line_says_how_much_was_cut() {
        let shown = |printed, matched, at_limit| Shown {
            printed,
            matched,
            at_limit,
        };
        assert_eq!(
            shown(100, Matched::Exactly(2_400), true)
                .cut_line()
                .as_deref(),
            Some("showing 100 of 2400")
        );
        assert_eq!(shown(100, Matched::Exactly(100), true).cut_line(), None);
        assert_eq!(shown(7, Matched::Exactly(7), false).cut_line(), None);
        assert_eq!(
            shown(100, Matched::AtLeast(437), true)
                .cut_line()
                .as_deref(),
            Some("showing 100 of at least 437")
        );
    }
}
