//! Amounts of money: a decimal with exactly two places and an ISO 4217 currency.
//!
//! Never a binary float (SPEC section 4): the wire contract's Avro `float` is converted
//! once, at the edge, by [`Money::from_wire_f32`].

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use super::error::InvalidValue;

/// An ISO 4217 alphabetic code, upper-case.
///
/// Only the shape is checked, not membership of the ISO list: the list changes, and
/// other producers' currencies must not turn into rejected contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// The spec's default currency.
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw.trim().as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|byte| byte.is_ascii_alphabetic()) => Ok(Self([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ])),
            _ => Err(InvalidValue::new(format!(
                "'{}' is not an ISO 4217 currency code (three letters, e.g. USD)",
                raw.trim()
            ))),
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a currency code is three ASCII letters")
    }
}

impl Default for Currency {
    fn default() -> Self {
        Self::USD
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Currency {
    type Err = InvalidValue;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An amount with exactly two decimal places in a currency.
///
/// Amounts taken from clients and events are bounded by [`Money::max_amount`], 131 071.99:
/// the wire contract carries every amount as an Avro `float` (32 bits, a 24-bit
/// significand), whose consecutive values are less than a cent apart only below 2^17, so
/// every amount up to the bound crosses the wire and comes back to the cent, and above it
/// two amounts a cent apart can become the same float. Stored amounts are read back with
/// the storage bound (`NUMERIC(17,2)`, [`Money::stored`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    pub const SCALE: u32 = 2;

    /// The largest absolute amount a client or an event may give, 131 071.99 (2^17 less a
    /// cent): the largest whose every cent survives the wire's Avro `float`.
    pub fn max_amount() -> Decimal {
        Decimal::new(13_107_199, Self::SCALE)
    }

    /// The largest absolute amount the database column holds, 999 999 999 999 999.99
    /// (`NUMERIC(17,2)`).
    pub fn max_stored_amount() -> Decimal {
        Decimal::new(99_999_999_999_999_999, Self::SCALE)
    }

    /// Exact construction for API input: more than two significant decimal places is
    /// an error (we never silently round what a client typed). Trailing zeros are not
    /// significant, so `19.990` is accepted as `19.99`.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, InvalidValue> {
        if amount.abs() > Self::max_amount() {
            return Err(out_of_range());
        }
        Self::stored(amount, currency)
    }

    /// An amount read back from the database: two places, within the column's bound
    /// ([`Self::max_stored_amount`]), so rows stored before the wire bound still read.
    pub fn stored(amount: Decimal, currency: Currency) -> Result<Self, InvalidValue> {
        if amount.normalize().scale() > Self::SCALE {
            return Err(InvalidValue::new("must have at most 2 decimal places"));
        }
        if amount.abs() > Self::max_stored_amount() {
            return Err(InvalidValue::new(
                "must be at most 999999999999999.99 in absolute value",
            ));
        }
        let mut amount = amount;
        amount.rescale(Self::SCALE);
        // `-0.00` would print and compare oddly; there is only one zero.
        if amount.is_zero() {
            amount.set_sign_positive(true);
        }
        Ok(Self { amount, currency })
    }

    /// [`Self::new`], also requiring an amount above zero (the spec's "> 0" fields).
    pub fn positive(amount: Decimal, currency: Currency) -> Result<Self, InvalidValue> {
        Self::new(amount, currency)?.ensure_positive()
    }

    /// Converts an Avro `float` from the wire.
    ///
    /// Goes through the float's shortest decimal representation (`format!("{}")`), so
    /// `19.99f32` becomes 19.99, not the 19.989999771118164 it is in binary, then
    /// rounds half away from zero to two places: the wire float is an approximation of
    /// what the producer meant, and this recovers it.
    pub fn from_wire_f32(value: f32, currency: Currency) -> Result<Self, InvalidValue> {
        if !value.is_finite() {
            return Err(InvalidValue::new("must be a finite number"));
        }
        let decimal = Decimal::from_str(&format!("{value}")).map_err(|_| out_of_range())?;
        Self::new(
            decimal.round_dp_with_strategy(Self::SCALE, RoundingStrategy::MidpointAwayFromZero),
            currency,
        )
    }

    pub fn ensure_positive(self) -> Result<Self, InvalidValue> {
        if self.is_positive() {
            Ok(self)
        } else {
            Err(InvalidValue::new("must be greater than 0"))
        }
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_positive(&self) -> bool {
        self.amount > Decimal::ZERO
    }

    /// The nearest Avro `float`, for the wire contract only.
    pub fn to_wire_f32(&self) -> f32 {
        // A two-place decimal always prints as a valid float literal.
        f32::from_str(&self.amount.to_string()).unwrap_or(f32::NAN)
    }
}

fn out_of_range() -> InvalidValue {
    InvalidValue::new(
        "must be at most 131071.99 in absolute value (the largest amount the events carry to the cent)",
    )
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn dec(raw: &str) -> Decimal {
        Decimal::from_str(raw).unwrap()
    }

    #[test]
    fn currency_is_three_letters_upper_cased() {
        assert_eq!(Currency::parse(" usd ").unwrap(), Currency::USD);
        assert_eq!(Currency::parse("Cop").unwrap().as_str(), "COP");
        assert_eq!(Currency::default(), Currency::USD);
        for raw in ["", "US", "USDD", "U$D", "12A", "ÜSD"] {
            assert!(Currency::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }

    #[test]
    fn currency_error_names_the_value() {
        assert!(
            Currency::parse("dollars")
                .unwrap_err()
                .message()
                .contains("'dollars'")
        );
    }

    #[test]
    fn money_always_has_two_places() {
        let money = Money::new(dec("100"), Currency::USD).unwrap();
        assert_eq!(money.amount().to_string(), "100.00");
        assert_eq!(money.to_string(), "100.00 USD");
        assert_eq!(
            Money::new(dec("19.9"), Currency::USD)
                .unwrap()
                .amount()
                .scale(),
            2
        );
    }

    #[test]
    fn api_amounts_with_more_than_two_places_are_refused() {
        let error = Money::new(dec("19.999"), Currency::USD).unwrap_err();
        assert_eq!(error.message(), "must have at most 2 decimal places");
    }

    #[test]
    fn trailing_zeros_are_not_significant_places() {
        let money = Money::new(dec("19.9900"), Currency::USD).unwrap();
        assert_eq!(money.amount().to_string(), "19.99");
    }

    #[test]
    fn amounts_beyond_the_wire_bound_are_refused() {
        assert!(Money::new(dec("131071.99"), Currency::USD).is_ok());
        assert!(Money::new(dec("-131071.99"), Currency::USD).is_ok());
        for raw in ["131072", "131072.00", "-131072", "999999999999999.99"] {
            let error = Money::new(dec(raw), Currency::USD).unwrap_err();
            assert!(error.message().contains("131071.99"), "{raw}: {error:?}");
        }
        assert!(Money::from_wire_f32(131_072.0, Currency::USD).is_err());
    }

    #[test]
    fn stored_amounts_keep_the_column_bound() {
        assert!(Money::stored(dec("999999999999999.99"), Currency::USD).is_ok());
        assert!(Money::stored(dec("1000000000000000"), Currency::USD).is_err());
        assert!(Money::stored(dec("1.001"), Currency::USD).is_err());
    }

    /// Every cent of the top of the range, and the bound itself, cross the wire exactly;
    /// just above it, two amounts a cent apart become one float (why the bound is there).
    #[test]
    fn every_cent_up_to_the_bound_survives_the_wire() {
        let top = i64::try_from(Money::max_amount().mantissa()).unwrap();
        for cents in (top - 20_000..=top).chain(0..20_000) {
            let money = Money::new(Decimal::new(cents, 2), Currency::USD).unwrap();
            let back = Money::from_wire_f32(money.to_wire_f32(), Currency::USD).unwrap();
            assert_eq!(back, money, "{cents} cents");
        }
        let wire = |raw: &str| f32::from_str(raw).unwrap().to_bits();
        assert!(
            (13_107_200..13_107_210)
                .map(|cents| wire(&Decimal::new(cents, 2).to_string()))
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                < 10,
            "above the bound some cents collide"
        );
    }

    #[test]
    fn positive_refuses_zero_and_negative() {
        assert!(Money::positive(dec("0.01"), Currency::USD).is_ok());
        assert_eq!(
            Money::positive(dec("0"), Currency::USD)
                .unwrap_err()
                .message(),
            "must be greater than 0"
        );
        assert!(Money::positive(dec("-5"), Currency::USD).is_err());
    }

    #[test]
    fn negative_zero_is_zero() {
        let money = Money::new(dec("-0.00"), Currency::USD).unwrap();
        assert_eq!(money.amount().to_string(), "0.00");
        assert_eq!(money, Money::new(Decimal::ZERO, Currency::USD).unwrap());
    }

    #[test]
    fn wire_floats_use_their_shortest_decimal_form() {
        let money = Money::from_wire_f32(19.99, Currency::USD).unwrap();
        assert_eq!(money.amount().to_string(), "19.99");
        assert_eq!(
            Money::from_wire_f32(100.0, Currency::USD)
                .unwrap()
                .amount()
                .to_string(),
            "100.00"
        );
    }

    #[test]
    fn wire_floats_round_half_away_from_zero() {
        let amount = |f: f32| {
            Money::from_wire_f32(f, Currency::USD)
                .unwrap()
                .amount()
                .to_string()
        };
        assert_eq!(amount(2.675), "2.68");
        assert_eq!(amount(0.005), "0.01");
        assert_eq!(amount(-0.005), "-0.01");
        assert_eq!(amount(1.234), "1.23");
        assert_eq!(amount(1e-10), "0.00");
        assert_eq!(amount(-1e-10), "0.00");
    }

    #[test]
    fn wire_floats_that_are_not_numbers_or_too_large_are_refused() {
        assert!(Money::from_wire_f32(f32::NAN, Currency::USD).is_err());
        assert!(Money::from_wire_f32(f32::INFINITY, Currency::USD).is_err());
        assert!(Money::from_wire_f32(f32::NEG_INFINITY, Currency::USD).is_err());
        assert!(Money::from_wire_f32(f32::MAX, Currency::USD).is_err());
        assert!(Money::from_wire_f32(1e16, Currency::USD).is_err());
    }

    #[test]
    fn money_converts_back_to_the_nearest_wire_float() {
        let money = Money::new(dec("19.99"), Currency::USD).unwrap();
        assert_eq!(money.to_wire_f32(), 19.99f32);
    }

    proptest! {
        #[test]
        fn any_finite_f32_rounds_to_two_places_within_half_a_cent(value in any::<f32>()) {
            prop_assume!(value.is_finite());
            let decimal_value = Decimal::from_str(&format!("{value}")).ok();
            match Money::from_wire_f32(value, Currency::USD) {
                Ok(money) => {
                    prop_assert_eq!(money.amount().scale(), 2);
                    let exact = decimal_value.expect("an accepted float has a decimal form");
                    prop_assert!((money.amount() - exact).abs() <= Decimal::new(5, 3));
                }
                Err(_) => prop_assert!(
                    decimal_value.is_none_or(|exact| exact.abs() > Money::max_amount())
                ),
            }
        }

        #[test]
        fn two_place_decimals_survive_the_wire_round_trip(cents in -13_107_199i64..=13_107_199) {
            let money = Money::new(Decimal::new(cents, 2), Currency::USD).unwrap();
            let back = Money::from_wire_f32(money.to_wire_f32(), Currency::USD).unwrap();
            prop_assert_eq!(back, money);
        }

        #[test]
        fn currency_parser_never_panics_and_normalises(raw in any::<String>()) {
            if let Ok(currency) = Currency::parse(&raw) {
                prop_assert_eq!(currency.as_str(), raw.trim().to_ascii_uppercase());
            }
        }

        #[test]
        fn any_three_letters_are_a_currency(raw in "[A-Za-z]{3}") {
            let currency = Currency::parse(&raw).unwrap();
            prop_assert_eq!(currency.as_str(), raw.to_ascii_uppercase());
        }
    }
}
