//! Phone numbers (`telefono`).

use std::fmt;

use serde::Serialize;

use super::error::InvalidValue;

/// A phone number as a person writes it (`+57 (300) 123-4567`), stored trimmed.
///
/// The formatting is kept because it is what the influencer typed and what a human
/// dials from; [`Phone::digits`] gives the comparable form. 7 digits is the spec's
/// floor; 15 is E.164's ceiling, beyond which it is not a phone number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub const MIN_DIGITS: usize = 7;
    pub const MAX_DIGITS: usize = 15;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        let allowed = |(index, c): (usize, char)| {
            c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')') || (c == '+' && index == 0)
        };
        if !value.char_indices().all(allowed) {
            return Err(InvalidValue::new(
                "may contain only digits, spaces, dashes, parentheses and a leading '+'",
            ));
        }
        let digits = value.chars().filter(char::is_ascii_digit).count();
        if !(Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&digits) {
            return Err(InvalidValue::new("must have between 7 and 15 digits"));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits alone, e.g. to compare two spellings of the same number.
    pub fn digits(&self) -> String {
        self.0.chars().filter(char::is_ascii_digit).collect()
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl AsRef<str> for Phone {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for Phone {
    type Error = InvalidValue;

    fn try_from(raw: &str) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_written_forms_with_at_least_seven_digits() {
        for raw in [
            "1234567",
            "+57 300 123 4567",
            "(601) 555-0100",
            "+1-202-555-0100",
        ] {
            assert_eq!(Phone::parse(&format!(" {raw}\t")).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn counts_digits_not_characters() {
        assert!(Phone::parse("123 456").is_err());
        assert!(Phone::parse("(12) 3-45-6").is_err());
        assert_eq!(
            Phone::parse("+57 (300) 1234").unwrap().digits(),
            "573001234"
        );
    }

    #[test]
    fn refuses_letters_misplaced_plus_and_too_many_digits() {
        for raw in [
            "",
            "555-CALL-NOW",
            "12345678x9",
            "57+3001234567",
            "123.456.7890",
            "1234567890123456",
        ] {
            assert!(Phone::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(raw in any::<String>()) {
            if let Ok(phone) = Phone::parse(&raw) {
                prop_assert!((7..=15).contains(&phone.digits().len()));
            }
        }

        #[test]
        fn digit_strings_of_valid_length_are_accepted(raw in "\\+?[0-9]{7,15}") {
            prop_assert!(Phone::parse(&raw).is_ok());
        }
    }
}
