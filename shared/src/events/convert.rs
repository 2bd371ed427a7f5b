//! Conversions between wire values and the domain's types, done once at the edge.
//!
//! The wire has `float` money and date strings in several shapes; the domain has 2-place
//! decimals and UTC instants. Plain functions on `Decimal` and `DateTime<Utc>` so the domain
//! types can wrap them without this module knowing them.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

/// Decimal places of every amount in the domain.
const MONEY_SCALE: u32 = 2;

/// Naive forms the existing Python producers write (`datetime.isoformat()` and `str(datetime)`).
/// `%.f` makes the fraction optional.
const NAIVE_FORMATS: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"];

/// Longest input quoted back in an error; wire strings are untrusted and may be huge.
const QUOTE_LIMIT: usize = 64;

/// A wire value that has no domain meaning.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConversionError {
    #[error(
        "`{0}` is not a date-time: expected RFC 3339 or `YYYY-MM-DD[T ]HH:MM:SS[.ffffff]` (read as UTC)"
    )]
    DateTime(String),
    #[error("{0} epoch milliseconds is outside the supported date range")]
    EpochMillis(i64),
    #[error("amount {0} is not a finite number")]
    NonFiniteAmount(f32),
    #[error("amount {0} is too large for a decimal")]
    AmountOutOfRange(f32),
}

/// Reads a wire date-time: RFC 3339 (any offset, normalised to UTC), or the existing
/// producers' naive forms `2025-09-13 01:07:56.578686` / `2025-09-20T10:00:00.123456`
/// (fraction optional), which those producers meant as UTC.
pub fn parse_wire_datetime(text: &str) -> Result<DateTime<Utc>, ConversionError> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&Utc));
    }
    NAIVE_FORMATS
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
        .ok_or_else(|| ConversionError::DateTime(quote(text)))
}

/// Writes a date-time as this project puts it on the wire: RFC 3339 in UTC with microseconds
/// (`2025-09-20T10:00:01.000000Z`), the precision PostgreSQL stores.
pub fn format_wire_datetime(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Reads `fecha_registro`-style epoch milliseconds.
pub fn datetime_from_epoch_millis(millis: i64) -> Result<DateTime<Utc>, ConversionError> {
    DateTime::from_timestamp_millis(millis).ok_or(ConversionError::EpochMillis(millis))
}

/// Writes `fecha_registro`-style epoch milliseconds (sub-millisecond precision is dropped).
pub fn epoch_millis(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_millis()
}

/// Reads a wire `float` amount as a 2-place decimal.
///
/// Goes through the float's shortest decimal representation, so `19.99f32` (really
/// 19.9899997711…) becomes 19.99 as the sender wrote it; then rounds half away from zero,
/// the rounding people expect of money.
pub fn money_from_wire(amount: f32) -> Result<Decimal, ConversionError> {
    if !amount.is_finite() {
        return Err(ConversionError::NonFiniteAmount(amount));
    }
    // Display for floats never uses exponent notation and round-trips, so it parses.
    let exact = Decimal::from_str(&amount.to_string())
        .map_err(|_| ConversionError::AmountOutOfRange(amount))?;
    let mut rounded =
        exact.round_dp_with_strategy(MONEY_SCALE, RoundingStrategy::MidpointAwayFromZero);
    if rounded.is_zero() {
        // -0.001 would otherwise print as "-0.00".
        rounded = Decimal::ZERO;
    }
    rounded.rescale(MONEY_SCALE);
    Ok(rounded)
}

/// Writes an amount as a wire `float`: the nearest `f32` to the decimal.
///
/// `f32` has a 24-bit significand, so cents survive the round trip only up to 131 071.99;
/// the domain refuses larger amounts (`Money::max_amount`).
pub fn money_to_wire(amount: Decimal) -> f32 {
    // Parsing the decimal's text rounds correctly once; converting through f64 would round twice.
    amount
        .to_string()
        .parse()
        .expect("a decimal's text is a valid float literal")
}

fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, micros: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|date| date.and_hms_micro_opt(h, mi, s, micros))
            .map(|naive| Utc.from_utc_datetime(&naive))
            .unwrap()
    }

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn reads_rfc3339_in_any_offset_as_utc() {
        let expected = utc(2025, 9, 20, 10, 0, 1, 0);
        for text in [
            "2025-09-20T10:00:01Z",
            "2025-09-20T10:00:01.000000Z",
            "2025-09-20T12:00:01+02:00",
            "2025-09-20T07:00:01-03:00",
            "2025-09-20T10:00:01+00:00",
        ] {
            assert_eq!(parse_wire_datetime(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn reads_the_existing_producers_naive_forms_as_utc() {
        let cases = [
            (
                "2025-09-13 01:07:56.578686",
                utc(2025, 9, 13, 1, 7, 56, 578_686),
            ),
            (
                "2025-09-20T10:00:00.123456",
                utc(2025, 9, 20, 10, 0, 0, 123_456),
            ),
            ("2024-06-01T00:00:00", utc(2024, 6, 1, 0, 0, 0, 0)),
            ("2024-08-31T23:59:59", utc(2024, 8, 31, 23, 59, 59, 0)),
            ("2024-08-31 23:59:59", utc(2024, 8, 31, 23, 59, 59, 0)),
            (
                "2024-08-31T23:59:59.5",
                utc(2024, 8, 31, 23, 59, 59, 500_000),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_wire_datetime(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_date_time() {
        for text in [
            "",
            "2024-06-01",
            "2024-06-01T00:00",
            "2024-13-01T00:00:00",
            "2024-02-30T00:00:00",
            "01/06/2024 00:00:00",
            "2024-06-01T00:00:00 UTC",
            "now",
        ] {
            assert!(parse_wire_datetime(text).is_err(), "{text}");
        }
    }

    #[test]
    fn error_quotes_the_input_but_not_all_of_a_huge_one() {
        let err = parse_wire_datetime("ayer").unwrap_err();
        assert!(
            err.to_string().starts_with("`ayer` is not a date-time"),
            "{err}"
        );
        let huge = "ñ".repeat(10_000);
        let ConversionError::DateTime(quoted) = parse_wire_datetime(&huge).unwrap_err() else {
            panic!("not a date-time error");
        };
        assert_eq!(quoted.chars().count(), QUOTE_LIMIT + 1);
    }

    #[test]
    fn writes_rfc3339_utc_with_microseconds() {
        let instant = utc(2025, 9, 20, 10, 0, 1, 0);
        assert_eq!(format_wire_datetime(instant), "2025-09-20T10:00:01.000000Z");
        let precise = utc(2025, 9, 13, 1, 7, 56, 578_686);
        assert_eq!(
            parse_wire_datetime(&format_wire_datetime(precise)),
            Ok(precise)
        );
    }

    #[test]
    fn epoch_millis_round_trip() {
        let instant = datetime_from_epoch_millis(1_758_362_400_123).unwrap();
        assert_eq!(format_wire_datetime(instant), "2025-09-20T10:00:00.123000Z");
        assert_eq!(epoch_millis(instant), 1_758_362_400_123);
        assert_eq!(datetime_from_epoch_millis(0).unwrap(), DateTime::UNIX_EPOCH);
        assert_eq!(
            datetime_from_epoch_millis(i64::MAX),
            Err(ConversionError::EpochMillis(i64::MAX))
        );
    }

    #[test]
    fn money_reads_what_the_sender_wrote() {
        let cases = [
            (19.99_f32, "19.99"),
            (2500.0, "2500.00"),
            (100.0, "100.00"),
            (0.1, "0.10"),
            (0.0, "0.00"),
            (-0.0, "0.00"),
            (-0.001, "0.00"),
            (-19.99, "-19.99"),
            (99_999.99, "99999.99"),
        ];
        for (wire, expected) in cases {
            let amount = money_from_wire(wire).unwrap();
            assert_eq!(amount.to_string(), expected, "{wire}");
        }
    }

    #[test]
    fn money_rounds_half_away_from_zero_on_the_written_digits() {
        // As binary floats 2.675 and 0.015 lie just below the midpoint; their shortest text does not.
        assert_eq!(money_from_wire(2.675), Ok(dec("2.68")));
        assert_eq!(money_from_wire(0.015), Ok(dec("0.02")));
        assert_eq!(money_from_wire(0.005), Ok(dec("0.01")));
        assert_eq!(money_from_wire(-0.005), Ok(dec("-0.01")));
        assert_eq!(money_from_wire(1.004), Ok(dec("1.00")));
    }

    #[test]
    fn money_refuses_non_finite_and_huge_floats() {
        assert_eq!(
            money_from_wire(f32::INFINITY),
            Err(ConversionError::NonFiniteAmount(f32::INFINITY))
        );
        assert!(matches!(
            money_from_wire(f32::NAN),
            Err(ConversionError::NonFiniteAmount(_))
        ));
        assert_eq!(
            money_from_wire(f32::MAX),
            Err(ConversionError::AmountOutOfRange(f32::MAX))
        );
        assert_eq!(money_from_wire(f32::MIN_POSITIVE), Ok(dec("0.00")));
    }

    #[test]
    fn money_to_wire_is_the_nearest_float() {
        assert_eq!(money_to_wire(dec("19.99")), 19.99_f32);
        assert_eq!(money_to_wire(dec("2500.00")), 2500.0_f32);
        assert_eq!(money_to_wire(dec("100")), 100.0_f32);
        assert_eq!(money_to_wire(dec("-0.01")), -0.01_f32);
    }

    proptest! {
        #[test]
        fn date_parsing_never_panics(text in "\\PC{0,40}") {
            let _ = parse_wire_datetime(&text);
        }

        #[test]
        fn date_parsing_never_panics_on_near_misses(
            text in "[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}[T t][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:[0-9]{2})?"
        ) {
            let _ = parse_wire_datetime(&text);
        }

        #[test]
        fn formatted_dates_read_back(micros in -62_135_596_800_000_000_i64..253_402_300_799_999_999) {
            let instant = DateTime::from_timestamp_micros(micros).unwrap();
            prop_assert_eq!(parse_wire_datetime(&format_wire_datetime(instant)), Ok(instant));
        }

        #[test]
        fn money_from_any_float_has_two_places_or_fails_cleanly(bits in any::<u32>()) {
            let wire = f32::from_bits(bits);
            match money_from_wire(wire) {
                Ok(amount) => prop_assert!(amount.scale() <= MONEY_SCALE, "{wire} -> {amount}"),
                Err(err) => prop_assert!(
                    !wire.is_finite() || wire.abs() > 7.9e28,
                    "{wire} failed: {err}"
                ),
            }
        }

        #[test]
        fn cents_survive_the_wire_below_the_float_limit(cents in -9_999_999_i64..=9_999_999) {
            let amount = Decimal::new(cents, MONEY_SCALE);
            prop_assert_eq!(money_from_wire(money_to_wire(amount)), Ok(amount));
        }
    }
}
