//! Redis errors as the components' [`BackendError`].

use redis::{Arg, Cmd, ErrorKind, FromRedisValue, RedisError, ServerErrorKind};
use rqs_core::BackendError;

use crate::Conn;

/// The error code rqs's scripts fail with, before writing anything, when a key has a type
/// they cannot work with.
pub const REJECTED: &str = "RQS_REJECTED";

/// Whether an error is a passing condition after which the same call may succeed: a
/// connection dropped, refused or timed out, a server loading, busy with a script, out of
/// memory or failing over, or a password refused (rotated on the server before the
/// client's file: the connection reads it again). Settings that are wrong from the start
/// are caught when connecting, before any of this.
pub fn is_transient(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(
            error.code(),
            Some(
                "LOADING"
                    | "BUSY"
                    | "TRYAGAIN"
                    | "MASTERDOWN"
                    | "READONLY"
                    | "CLUSTERDOWN"
                    | "OOM"
                    | "WRONGPASS"
                    | "NOAUTH"
            )
        )
}

/// Whether Redis refused a command or key for lack of ACL permission: `NOPERM` from a
/// command, or the error a script gets when a command inside it is refused.
pub(crate) fn is_permission_error(e: &RedisError) -> bool {
    let text = e.to_string();
    e.code() == Some("NOPERM")
        || text.contains("NOPERM")
        || text.contains("No permissions")
        || text.contains("script can't access")
        || text.contains("script can't run")
}

/// The server's own words: `CODE detail`.
fn server_text(e: &RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => e.to_string(),
    }
}

/// Maps a Redis error to the shared [`BackendError`].
pub fn backend_error(e: RedisError) -> BackendError {
    match e.code() {
        Some(REJECTED) => BackendError::Rejected(e.detail().unwrap_or_default().to_owned()),
        Some("READONLY") => BackendError::ReadOnly(server_text(&e)),
        _ if is_permission_error(&e) => BackendError::PermissionDenied(server_text(&e)),
        _ if is_transient(&e) => BackendError::Unavailable(Box::new(e)),
        _ => BackendError::Other(Box::new(e)),
    }
}

/// A `NOPERM` error whose detail says what was refused.
pub(crate) fn with_context(detail: &str, context: &str) -> RedisError {
    RedisError::from((
        ErrorKind::Server(ServerErrorKind::NoPerm),
        "permission denied",
        format!("{detail} ({context})"),
    ))
}

/// Arguments as text for an error message: each cut at 200 bytes, at most 10 of them.
pub(crate) fn args_text<'a>(args: impl Iterator<Item = Arg<&'a [u8]>>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (i, arg) in args.enumerate() {
        if i == 10 {
            parts.push("...".into());
            break;
        }
        if let Arg::Simple(bytes) = arg {
            parts.push(rqs_core::escaped(&bytes[..bytes.len().min(200)]));
        }
    }
    if parts.is_empty() {
        "(none)".into()
    } else {
        parts.join(", ")
    }
}

/// Names the command and its key (the first argument after the name) in a permission
/// error; Redis's own message names neither.
pub(crate) fn explain_command(e: RedisError, cmd: &Cmd) -> RedisError {
    if !is_permission_error(&e) {
        return e;
    }
    let mut args = cmd.args_iter();
    let name = args.next().map_or_else(String::new, |a| match a {
        Arg::Simple(b) => String::from_utf8_lossy(b).to_uppercase(),
        _ => String::new(),
    });
    let key = args_text(args.take(1));
    let detail = e.detail().unwrap_or_default().to_owned();
    with_context(&detail, &format!("command {name}, key {key}"))
}

/// Runs one command, naming it and its key if the ACL refuses it.
pub(crate) async fn query<T: FromRedisValue, C: Conn>(
    conn: &mut C,
    cmd: &Cmd,
) -> Result<T, BackendError> {
    cmd.query_async(conn)
        .await
        .map_err(|e| backend_error(explain_command(e, cmd)))
}

/// `?`-friendly conversion of Redis results.
pub(crate) trait RedisResultExt<T> {
    /// Maps the error with [`backend_error`].
    fn backend(self) -> Result<T, BackendError>;
}

impl<T> RedisResultExt<T> for Result<T, RedisError> {
    fn backend(self) -> Result<T, BackendError> {
        self.map_err(backend_error)
    }
}
