//! The error type of `rqs-core`.

/// Why a job cannot be handed off as it is.
///
/// Every variant describes bad *data*: the orchestrator turns these into a quarantine or
/// an unschedule of the one job, never into a crash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The job hash does not exist or has no `data` field.
    #[error("job hash is missing or has no data")]
    MissingJob,
    /// A job hash field cannot be read.
    #[error("field {field}: {reason}")]
    InvalidField {
        /// The field name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The pickled meta cannot be read or patched.
    #[error("{0}")]
    MetaUnreadable(String),
    /// The schedule in the meta cannot be used (a negative interval, a repeat that is not
    /// an integer...).
    #[error("invalid schedule: {0}")]
    InvalidSchedule(String),
    /// The cron string is invalid.
    #[error("invalid cron string {expr:?}: {reason}")]
    Cron {
        /// The expression as stored.
        expr: String,
        /// The parser's message.
        reason: String,
    },
    /// The job's fields (its meta, in practice) are larger than one hand-off may hold.
    #[error(
        "job fields (meta included) are {bytes} bytes, more than the {limit}-byte limit of one hand-off"
    )]
    TooLarge {
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
}

impl JobError {
    /// The quarantine kind of this problem (a missing job is unscheduled, not quarantined;
    /// it maps to an invalid field for completeness).
    pub fn quarantine_kind(&self) -> crate::QuarantineKind {
        use crate::QuarantineKind as K;
        match self {
            JobError::MissingJob | JobError::InvalidField { .. } => K::InvalidField,
            JobError::MetaUnreadable(_) => K::UnreadableMeta,
            JobError::InvalidSchedule(_) => K::InvalidSchedule,
            JobError::Cron { .. } => K::InvalidCron,
            JobError::TooLarge { .. } => K::TooLarge,
        }
    }
}
