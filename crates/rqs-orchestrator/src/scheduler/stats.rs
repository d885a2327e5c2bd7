//! [`Stats`]: counts of what passes did.

use rqs_core::Outcome;

/// Counts of what passes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Jobs pushed on a queue.
    pub pushed: u64,
    /// Jobs deferred behind a dependency.
    pub deferred: u64,
    /// Pushed or deferred jobs re-armed for a next run.
    pub rescheduled: u64,
    /// Jobs removed because their hash was gone.
    pub unscheduled: u64,
    /// Jobs moved to the quarantine.
    pub quarantined: u64,
    /// Jobs left alone because a client changed them meanwhile.
    pub skipped: u64,
    /// Atomic batches committed.
    pub batches: u64,
}

impl Stats {
    pub(super) fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Pushed => self.pushed += 1,
            Outcome::Deferred => self.deferred += 1,
            Outcome::Unscheduled | Outcome::Vanished => self.unscheduled += 1,
            Outcome::Quarantined => self.quarantined += 1,
            _ => self.skipped += 1,
        }
    }

    pub(super) fn add(&mut self, other: Stats) {
        self.pushed += other.pushed;
        self.deferred += other.deferred;
        self.rescheduled += other.rescheduled;
        self.unscheduled += other.unscheduled;
        self.quarantined += other.quarantined;
        self.skipped += other.skipped;
        self.batches += other.batches;
    }
}
