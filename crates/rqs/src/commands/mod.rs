//! One module per subcommand; each exposes `run`.

pub(crate) mod cancel;
pub(crate) mod check;
pub(crate) mod declare;
pub(crate) mod list;
pub(crate) mod pause;
pub(crate) mod quarantine;
pub(crate) mod reschedule;
pub(crate) mod run;
pub(crate) mod run_now;
pub(crate) mod schedule;
pub(crate) mod show;
pub(crate) mod status;
