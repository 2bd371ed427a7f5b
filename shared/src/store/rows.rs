//! Turning stored text back into domain values. A stored value that no longer parses is
//! a broken invariant (`StoreError::Corrupt`), never a panic.

use std::{fmt::Display, str::FromStr};

use rust_decimal::Decimal;

use super::StoreError;
use crate::domain::{Currency, InvalidValue, Money};

pub(crate) fn parse<T>(
    column: &str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Result<T, StoreError> {
    parse(raw).map_err(|error| StoreError::Corrupt(format!("{column} {raw:?}: {error}")))
}

pub(crate) fn parse_opt<T>(
    column: &str,
    raw: Option<&str>,
    parser: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Result<Option<T>, StoreError> {
    raw.map(|raw| parse(column, raw, parser)).transpose()
}

pub(crate) fn enum_value<T>(column: &str, raw: &str) -> Result<T, StoreError>
where
    T: FromStr,
    T::Err: Display,
{
    raw.parse()
        .map_err(|error: T::Err| StoreError::Corrupt(format!("{column} {raw:?}: {error}")))
}

pub(crate) fn money(column: &str, amount: Decimal, currency: &str) -> Result<Money, StoreError> {
    let currency = parse(column, currency.trim(), Currency::parse)?;
    Money::stored(amount, currency)
        .map_err(|error| StoreError::Corrupt(format!("{column}: {error}")))
}

pub(crate) fn corrupt(column: &str, error: impl Display) -> StoreError {
    StoreError::Corrupt(format!("{column}: {error}"))
}
