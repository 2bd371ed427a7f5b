//! Dates of campaigns and contracts.

use chrono::{DateTime, SubsecRound, Utc};

use super::error::InvalidValue;

/// An RFC 3339 instant, as the HTTP API takes dates (SPEC section 3). The looser forms
/// of other producers are the wire contract's business, not the API's.
pub fn parse_rfc3339(raw: &str) -> Result<DateTime<Utc>, InvalidValue> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|instant| at_storage_precision(instant.with_timezone(&Utc)))
        .map_err(|_| {
            InvalidValue::new(format!(
                "'{}' is not an RFC 3339 date-time (e.g. 2025-09-20T10:00:00Z)",
                raw.trim()
            ))
        })
}

/// Instants are kept to the microsecond, the precision PostgreSQL stores and the wire
/// dates carry, so a value reads back from the store exactly as it was built.
pub(crate) fn at_storage_precision(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant.trunc_subsecs(6)
}

/// The "fin after inicio" rule: an end equal to the start is an empty period, refused.
pub(crate) fn check_end_after(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    start_field: &str,
) -> Result<(), InvalidValue> {
    if end > start {
        Ok(())
    } else {
        Err(InvalidValue::new(format!("must be after {start_field}")))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn given_nanoseconds_when_parsed_then_kept_to_the_microsecond_as_stored() {
        let instant = parse_rfc3339("2026-01-01T00:00:00.123456789Z").unwrap();

        assert_eq!(instant.to_rfc3339(), "2026-01-01T00:00:00.123456+00:00");
    }

    #[test]
    fn accepts_rfc3339_with_any_offset_as_utc() {
        let expected = Utc.with_ymd_and_hms(2025, 9, 20, 10, 0, 0).unwrap();
        assert_eq!(parse_rfc3339("2025-09-20T10:00:00Z"), Ok(expected));
        assert_eq!(parse_rfc3339(" 2025-09-20T05:00:00-05:00 "), Ok(expected));
    }

    #[test]
    fn refuses_naive_and_malformed_dates_naming_them() {
        for raw in [
            "2025-09-20",
            "2025-09-20T10:00:00",
            "2025-09-13 01:07:56.578686",
            "mañana",
            "",
        ] {
            assert!(parse_rfc3339(raw).is_err(), "{raw:?} should be refused");
        }
        assert!(
            parse_rfc3339("ayer")
                .unwrap_err()
                .message()
                .contains("'ayer'")
        );
    }

    #[test]
    fn end_must_be_strictly_after_start() {
        let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        assert!(
            check_end_after(start, start + chrono::TimeDelta::seconds(1), "fecha_inicio").is_ok()
        );
        assert_eq!(
            check_end_after(start, start, "fecha_inicio")
                .unwrap_err()
                .message(),
            "must be after fecha_inicio"
        );
        assert!(
            check_end_after(start, start - chrono::TimeDelta::days(1), "fecha_inicio").is_err()
        );
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(raw in any::<String>()) {
            let _ = parse_rfc3339(&raw);
        }
    }
}
