//! How a command ends: the exit codes, and the one error type every command returns.

use std::process::ExitCode;

/// Exit code of a runtime failure: Redis unreachable, a fatal backend error in burst
/// mode, a pid file that cannot be written.
pub(crate) const EXIT_RUNTIME: u8 = 1;
/// Exit code of bad flags or settings.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code when a live instance already has this `--name`.
pub(crate) const EXIT_ALREADY_ACTIVE: u8 = 3;

/// Why a command failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad flags or settings: exit 2.
    Usage(String),
    /// A live instance has the same name: exit 3.
    AlreadyActive(String),
    /// Anything else: exit 1.
    Runtime(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Runtime(e.into())
    }
}

impl Failure {
    /// The process exit code.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::AlreadyActive(_) => EXIT_ALREADY_ACTIVE,
            Failure::Runtime(_) => EXIT_RUNTIME,
        })
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(m) | Failure::AlreadyActive(m) => f.write_str(m),
            // The whole chain: "cannot reach Redis at …: connection refused".
            Failure::Runtime(e) => write!(f, "{e:#}"),
        }
    }
}
