//! Time formats that RQ and rq-scheduler write.

use chrono::{DateTime, Utc};

/// RQ's timestamp format (`%Y-%m-%dT%H:%M:%S.%fZ`): always six fractional digits and a
/// literal `Z`. RQ's parser accepts nothing else, so a worker cannot read other ISO forms.
pub fn rq_timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses RQ's timestamp format and its legacy form without fractions.
pub fn parse_rq_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.fZ")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ"))
        .ok()?;
    Some(naive.and_utc())
}

/// Unix time as Python's `repr(time.time())` prints it, e.g. `1795804227.8481946`.
///
/// rq-scheduler stores birth, death and lock values this way. Rust's `Display` for `f64`
/// is also the shortest round-trip form; only the `.0` of whole numbers differs.
pub fn python_float_repr(value: f64) -> String {
    let text = format!("{value}");
    if text.contains(['.', 'e', 'E', 'n', 'N', 'i']) {
        text
    } else {
        format!("{text}.0")
    }
}

/// Seconds since the Unix epoch with sub-second precision.
pub fn unix_seconds(at: DateTime<Utc>) -> f64 {
    at.timestamp() as f64 + f64::from(at.timestamp_subsec_nanos()) / 1e9
}

/// Whole Unix seconds, rounded down: rq-scheduler's `to_unix(utcnow())` and the upper bound
/// of its due check.
pub fn floor_seconds(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn rq_timestamp_has_six_digits_and_z() {
        let at = Utc.timestamp_opt(1_795_804_227, 851_209_000).unwrap();
        assert_eq!(rq_timestamp(at), "2026-11-27T18:30:27.851209Z");
        let whole = Utc.timestamp_opt(1_795_804_227, 0).unwrap();
        assert_eq!(rq_timestamp(whole), "2026-11-27T18:30:27.000000Z");
        assert_eq!(parse_rq_timestamp("2026-11-27T18:30:27.851209Z"), Some(at));
        assert_eq!(parse_rq_timestamp("2026-11-27T18:30:27Z"), Some(whole));
        assert_eq!(parse_rq_timestamp("2026-11-27T18:30:27+00:00"), None);
    }

    #[test]
    fn float_repr_matches_python() {
        assert_eq!(
            python_float_repr(1_795_804_227.848_194_6),
            "1795804227.8481946"
        );
        assert_eq!(python_float_repr(1_795_804_227.0), "1795804227.0");
        assert_eq!(python_float_repr(0.5), "0.5");
    }

    #[test]
    fn floor_rounds_down() {
        let at = Utc.timestamp_opt(100, 999_999_999).unwrap();
        assert_eq!(floor_seconds(at), 100);
        assert!((unix_seconds(at) - 100.999_999_999).abs() < 1e-6);
    }
}
