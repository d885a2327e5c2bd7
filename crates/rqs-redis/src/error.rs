//! Redis errors as the components' [`BackendError`].

use redis::RedisError;
use rqs_core::BackendError;

/// The error code rqs's scripts fail with, before writing anything, when a key has a type
/// they cannot work with.
pub const REJECTED: &str = "RQS_REJECTED";

/// Whether an error is a passing condition (connection dropped, timeout, server loading or
/// failing over) after which the same call may succeed.
pub fn is_transient(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || matches!(
            error.code(),
            Some("LOADING" | "BUSY" | "TRYAGAIN" | "MASTERDOWN" | "READONLY" | "CLUSTERDOWN")
        )
}

/// Maps a Redis error to the shared [`BackendError`].
pub fn backend_error(e: RedisError) -> BackendError {
    let text = e.to_string();
    match e.code() {
        Some(REJECTED) => BackendError::Rejected(e.detail().unwrap_or_default().to_owned()),
        Some("READONLY") => BackendError::ReadOnly(text),
        Some("NOPERM") => BackendError::PermissionDenied(text),
        // A script reports a denied command or key inside its own error.
        _ if text.contains("NOPERM") || text.contains("No permissions") => {
            BackendError::PermissionDenied(text)
        }
        _ if is_transient(&e) => BackendError::Unavailable(Box::new(e)),
        _ => BackendError::Other(Box::new(e)),
    }
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
