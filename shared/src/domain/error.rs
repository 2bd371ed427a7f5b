//! The domain's two kinds of failure.
//!
//! Bad input ([`ValidationErrors`]) and broken business rules ([`DomainError`]) are
//! different answers for a client (422 versus 409) and for the saga (a rejection versus
//! a duplicate), so they never share a type.

use std::fmt;

use serde::Serialize;

/// Why a single raw value was refused, before we know which wire field it came from.
///
/// Value objects are reused by several aggregates under different wire names
/// (`nombre`, `influencer_nombre`, ...); the aggregate names the field with [`Self::at`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(String);

impl InvalidValue {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }

    /// Names the wire field the value came from.
    pub fn at(self, field: impl Into<String>) -> FieldError {
        FieldError::new(field, self.0)
    }

    pub(crate) fn required() -> Self {
        Self::new("is required")
    }
}

/// One refused field, exactly as the HTTP layer lists it in a 422 `errors` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The wire name, with an index for list items (`categorias[2]`).
    #[serde(rename = "campo")]
    pub field: String,
    #[serde(rename = "mensaje")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every field error of one input, so a client can fix them all in one round trip.
///
/// Serialises as the plain array of `{campo, mensaje}` the 422 body carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    /// The wire names of the refused fields, in input order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|error| error.field.as_str())
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// Merges the failures of the per-field results of one input.
    pub(crate) fn gather(parts: impl IntoIterator<Item = Option<ValidationErrors>>) -> Self {
        Self(
            parts
                .into_iter()
                .flatten()
                .flat_map(|errors| errors.0)
                .collect(),
        )
    }
}

impl fmt::Display for ValidationErrors {
    /// One human line (`campo: mensaje; campo: mensaje`), e.g. for `error_detalle`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        Self(vec![error])
    }
}

impl FromIterator<FieldError> for ValidationErrors {
    fn from_iter<I: IntoIterator<Item = FieldError>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl IntoIterator for ValidationErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Lets an aggregate name the field of a value object's result in one call.
pub(crate) trait AtField<T> {
    fn at(self, field: &str) -> Result<T, ValidationErrors>;
}

impl<T> AtField<T> for Result<T, InvalidValue> {
    fn at(self, field: &str) -> Result<T, ValidationErrors> {
        self.map_err(|error| error.at(field).into())
    }
}

/// A business rule said no. The input itself was well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{entity} cannot go from {from} to {to}")]
    TransitionNotAllowed {
        entity: &'static str,
        from: &'static str,
        to: &'static str,
    },
    /// Kept apart from [`Self::TransitionNotAllowed`] because the saga depends on it:
    /// a late event must never undo a compensation (SPEC section 7).
    #[error("a cancelled report never comes back to {to}")]
    CancelledReportCannotRevive { to: &'static str },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_errors_when_displayed_then_one_line_lists_every_field() {
        let errors: ValidationErrors = [
            FieldError::new("email", "is required"),
            FieldError::new("categorias[1]", "must not be empty"),
        ]
        .into_iter()
        .collect();

        assert_eq!(
            errors.to_string(),
            "email: is required; categorias[1]: must not be empty"
        );
    }

    #[test]
    fn given_errors_when_serialised_then_array_of_campo_and_mensaje() {
        let errors = ValidationErrors::from(FieldError::new("nombre", "is required"));

        let json = serde_json::to_value(&errors).unwrap();

        assert_eq!(
            json,
            serde_json::json!([{"campo": "nombre", "mensaje": "is required"}])
        );
    }

    #[test]
    fn given_several_results_when_gathered_then_keeps_input_order() {
        let first: Result<(), ValidationErrors> = Err(FieldError::new("a", "x").into());
        let second: Result<(), ValidationErrors> = Ok(());
        let third: Result<(), ValidationErrors> = Err(FieldError::new("c", "y").into());

        let errors = ValidationErrors::gather([first.err(), second.err(), third.err()]);

        assert_eq!(errors.fields().collect::<Vec<_>>(), ["a", "c"]);
    }

    #[test]
    fn given_invalid_value_when_placed_at_field_then_carries_both() {
        let error = InvalidValue::new("must be positive").at("monto_total");

        assert_eq!(error, FieldError::new("monto_total", "must be positive"));
    }
}
