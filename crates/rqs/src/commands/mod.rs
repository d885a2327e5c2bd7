//! One module per subcommand; each exposes `run`.

pub(crate) mod run;
pub(crate) mod schedule;
