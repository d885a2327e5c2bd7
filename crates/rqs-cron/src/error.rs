//! The parse error type.

use std::fmt;

/// One field of a cron expression, named in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Seconds (0-59), the first of seven fields.
    Second,
    /// Minutes (0-59).
    Minute,
    /// Hours (0-23).
    Hour,
    /// Day of the month (1-31, plus `L` and `Z<n>`).
    DayOfMonth,
    /// Month (1-12 or `jan`..`dec`).
    Month,
    /// Day of the week (0-7 with 0 and 7 = Sunday, or `sun`..`sat`, plus `L<d>`).
    DayOfWeek,
    /// Year (1970-2099), the sixth of six fields or the seventh of seven.
    Year,
}

impl Field {
    /// The field's name as used in messages, e.g. `"day-of-month"`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
            Field::Year => "year",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a cron string was rejected.
///
/// Every string that Python's `crontab` 1.0.5 rejects with `ValueError` is rejected with one
/// of these variants, and nothing else is rejected. The variant describes the first problem
/// found, scanning fields left to right (the exact wording differs from Python's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The string does not split into 5, 6 or 7 whitespace-separated fields.
    #[error(
        "cron expression has {found} field(s); expected 5 (minute hour day month weekday), \
         6 (... year) or 7 (second minute hour day month weekday year)"
    )]
    FieldCount {
        /// How many fields were found.
        found: usize,
    },
    /// A single word starting with `@` that is not one of the supported aliases.
    #[error(
        "unknown cron alias {alias:?}; supported are exactly @yearly, @annually, @monthly, \
         @weekly, @daily and @hourly (lowercase, no surrounding spaces)"
    )]
    UnknownAlias {
        /// The word as given.
        alias: String,
    },
    /// An empty element in a comma-separated list (`1,,2`, `1,`) or an empty range bound (`1-`).
    #[error("empty element in the {field} field {input:?}")]
    EmptyItem {
        /// The field.
        field: Field,
        /// The whole field, lowercased.
        input: String,
    },
    /// Something that is neither a number nor a name valid in this field.
    #[error("invalid {field} value {token:?} in {item:?}{hint}")]
    InvalidValue {
        /// The field.
        field: Field,
        /// The list element containing the value, lowercased.
        item: String,
        /// The offending token.
        token: String,
        /// A hint on what is allowed (may be empty).
        hint: &'static str,
    },
    /// A number outside the field's range.
    #[error("{field} value {value} in {item:?} is out of range {min}-{max}")]
    OutOfRange {
        /// The field.
        field: Field,
        /// The list element, lowercased.
        item: String,
        /// The value (saturated at `u64::MAX` for huge numbers).
        value: u64,
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
    },
    /// A number written with more than 4300 digits (CPython refuses to convert it).
    #[error("number in {item:?} of the {field} field has more than 4300 digits")]
    NumberTooLong {
        /// The field.
        field: Field,
        /// The list element, lowercased.
        item: String,
    },
    /// A range whose start is after its end; wrap-around ranges like `22-2` are not supported.
    #[error(
        "{field} range {item:?} is reversed: start {start} is after end {end} \
         (wrap-around ranges are not supported; use a list such as 22-23,0-2)"
    )]
    ReversedRange {
        /// The field.
        field: Field,
        /// The list element, lowercased.
        item: String,
        /// Range start.
        start: u32,
        /// Range end.
        end: u32,
    },
    /// A bad `/step`: not a positive integer, larger than the field maximum, or such that the
    /// second value (start + step) is already past the maximum.
    #[error("invalid step in {item:?} of the {field} field: {reason}")]
    InvalidStep {
        /// The field.
        field: Field,
        /// The list element, lowercased.
        item: String,
        /// What is wrong with the step.
        reason: String,
    },
    /// Syntax from other cron dialects that this grammar does not have (`W`, `#`, `H`).
    #[error("unsupported cron syntax {item:?} in the {field} field: {what}")]
    Unsupported {
        /// The field.
        field: Field,
        /// The list element, lowercased.
        item: String,
        /// Which feature it is.
        what: &'static str,
    },
    /// `?`, `L`, `L<d>` or `Z<n>` used in a field that does not allow it.
    #[error("{item:?} is not allowed in the {field} field: {rule}")]
    Misplaced {
        /// The field.
        field: Field,
        /// The list element, lowercased.
        item: String,
        /// Where the construct is allowed.
        rule: &'static str,
    },
    /// A malformed `Z<n>` / `Z<a>-<b>` (day-of-month) or `L<d>` / `L<a>-<b>` (day-of-week).
    #[error("invalid {field} specifier {item:?}: {rule}")]
    InvalidSpecial {
        /// The field.
        field: Field,
        /// The list element, lowercased.
        item: String,
        /// What a valid specifier looks like.
        rule: &'static str,
    },
}
