//! How a command ends: the exit codes, and the one error type every command returns.

use std::process::ExitCode;

/// Exit code of a runtime failure: Redis unreachable, a fatal backend error in burst
/// mode, a pid file that cannot be written.
pub(crate) const EXIT_RUNTIME: u8 = 1;
/// Exit code of bad flags or settings.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code when a live instance already has this `--name`.
pub(crate) const EXIT_ALREADY_ACTIVE: u8 = 3;

/// Exit code of `rqs plan` when applying the file would change something.
pub(crate) const EXIT_CHANGES: u8 = 4;
/// Exit code of `rqs plan`/`apply` when declared ids are scheduled outside the set.
pub(crate) const EXIT_CONFLICT: u8 = 5;

/// Why a command failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad flags or settings: exit 2.
    Usage(String),
    /// A live instance has the same name: exit 3.
    AlreadyActive(String),
    /// Declared ids taken outside the set (`rqs plan`/`apply`): exit 5.
    Conflict(String),
    /// Not a failure: the command printed its answer, and the exit code is part of it
    /// (`rqs plan` with changes: 4).
    Verdict(u8),
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
            Failure::Conflict(_) => EXIT_CONFLICT,
            Failure::Verdict(code) => *code,
            Failure::Runtime(_) => EXIT_RUNTIME,
        })
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(m) | Failure::AlreadyActive(m) | Failure::Conflict(m) => f.write_str(m),
            Failure::Verdict(code) => write!(f, "exit {code}"),
            // The whole chain: "cannot reach Redis at …: connection refused".
            Failure::Runtime(e) => write!(f, "{e:#}"),
        }
    }
}
