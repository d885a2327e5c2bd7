//! The Lua fragment that applies one [`Enqueue`], shared by the sink's enqueue script and
//! the store's commit script, so the two can never disagree.

use redis::{Cmd, FromRedisValue, RedisResult};
use rqs_core::{Enqueue, keys};

use crate::Conn;
use crate::error::{args_text, with_context};

const ENQUEUE_FRAGMENT: &str = include_str!("lua/enqueue.lua");
/// `rqs_call`, which every script uses instead of `redis.call`.
const PRELUDE: &str = include_str!("lua/prelude.lua");

/// A Lua script run by `EVALSHA`, sent whole with `EVAL` on `NOSCRIPT` (after a restart
/// or a `SCRIPT FLUSH`), which caches it again.
///
/// Unlike `redis::Script`, the caller builds the command once with [`Lua::cmd`] and
/// appends arguments straight into it, so large arguments (a meta of megabytes) are not
/// copied through intermediate vectors.
///
/// Every script starts with the prelude (`lua/prelude.lua`), so a command the ACL refuses
/// inside it fails with an error that names the command and the key.
#[derive(Debug)]
pub(crate) struct Lua {
    source: String,
    sha: String,
    /// The first line of the script's own header, to name it in errors.
    what: String,
}

impl Lua {
    /// A script from its source.
    pub(crate) fn new(source: impl Into<String>) -> Self {
        let body = source.into();
        Self::build(&body, format!("{PRELUDE}\n{body}"))
    }

    /// A script that starts with the shared enqueue fragment, RQ's key prefixes filled in.
    pub(crate) fn with_fragment(body: &str) -> Self {
        Self::build(body, format!("{PRELUDE}\n{}", self::source(body)))
    }

    fn build(body: &str, source: String) -> Self {
        let sha = sha1_smol::Sha1::from(source.as_bytes())
            .digest()
            .to_string();
        let what = body
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("--"))
            .map_or_else(|| format!("script {sha}"), |l| l.trim().to_owned());
        Self { source, sha, what }
    }

    /// `EVALSHA <sha> <n> <keys...>`; append the arguments to it.
    pub(crate) fn cmd<K: AsRef<[u8]>>(&self, keys: &[K]) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&self.sha).arg(keys.len());
        for k in keys {
            cmd.arg(k.as_ref());
        }
        cmd
    }

    /// Runs `cmd` (from [`Lua::cmd`]), sending the script itself when Redis lost it.
    pub(crate) async fn run<T: FromRedisValue, C: Conn>(
        &self,
        conn: &mut C,
        cmd: &Cmd,
    ) -> RedisResult<T> {
        let result = match cmd.query_async(conn).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                // EVAL with the source runs it and caches it again in one step; a
                // SCRIPT LOAD then EVALSHA could meet another flush in between.
                let mut eval = redis::cmd("EVAL");
                eval.arg(&self.source);
                for arg in cmd.args_iter().skip(2) {
                    if let redis::Arg::Simple(bytes) = arg {
                        eval.arg(bytes);
                    }
                }
                eval.query_async(conn).await
            }
            other => other,
        };
        result.map_err(|e| self.explain(e, cmd))
    }

    /// Names the script, and the keys it was given, in a permission error.
    fn explain(&self, e: redis::RedisError, cmd: &Cmd) -> redis::RedisError {
        if e.code() != Some("NOPERM") {
            return e;
        }
        let detail = e.detail().unwrap_or_default();
        // Refused inside the script: rqs_call named the command and key already; Redis
        // appended the script's digest, which tells an operator nothing.
        let detail = detail.split(" script: ").next().unwrap_or(detail);
        let context = if detail.starts_with("the ACL refuses") {
            format!("in the script \"{}\"", self.what)
        } else {
            // Refused before it ran: one of the keys it was given is out of bounds.
            let n = cmd
                .args_iter()
                .nth(2)
                .and_then(|a| match a {
                    redis::Arg::Simple(n) => std::str::from_utf8(n).ok()?.parse().ok(),
                    _ => None,
                })
                .unwrap_or(0);
            let keys = args_text(cmd.args_iter().skip(3).take(n));
            format!("EVALSHA of the script \"{}\" with keys {keys}", self.what)
        };
        with_context(detail, &context)
    }
}

fn source(body: &str) -> String {
    format!("{ENQUEUE_FRAGMENT}\n{body}")
        .replace("{{JOB}}", keys::JOB_PREFIX)
        .replace("{{QUEUE}}", keys::QUEUE_PREFIX)
        .replace("{{DEFERRED}}", keys::DEFERRED_PREFIX)
        .replace("{{QUEUES}}", keys::QUEUES)
}

/// The number of ARGV entries [`encode_enqueue`] appends.
pub(crate) fn enqueue_len(e: &Enqueue) -> usize {
    6 + 1
        + 2 * e.ready_fields.len()
        + 1
        + 2 * e.deferred_fields.len()
        + 1
        + e.dependencies.len()
        + 1
        + e.met_statuses.len()
}

/// Appends the ARGV record of one [`Enqueue`] that the Lua fragment reads.
pub(crate) fn encode_enqueue(e: &Enqueue, cmd: &mut Cmd) {
    let flag = |b: bool| if b { "1" } else { "0" };
    cmd.arg(e.job_id.as_bytes())
        .arg(e.queue.as_bytes())
        .arg(flag(e.at_front));
    match e.ttl {
        Some(t) => cmd.arg(t),
        None => cmd.arg(""),
    };
    cmd.arg(flag(e.was_deferred)).arg(e.now);
    for fields in [&e.ready_fields, &e.deferred_fields] {
        cmd.arg(fields.len());
        for (k, v) in fields {
            cmd.arg(k.as_str()).arg(v.as_slice());
        }
    }
    cmd.arg(e.dependencies.len());
    for d in &e.dependencies {
        cmd.arg(d.as_bytes());
    }
    cmd.arg(e.met_statuses.len());
    for s in &e.met_statuses {
        cmd.arg(s.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_has_no_placeholders_left() {
        let text = source("return 1");
        assert!(!text.contains("{{"));
        assert!(text.contains("'rq:job:' .. e.id"));
        assert!(text.contains("'rq:job::' .. e.id .. ':dependencies'"));
        assert!(text.contains("'rq:queues'"));
        assert!(text.ends_with("return 1"));
    }
}
