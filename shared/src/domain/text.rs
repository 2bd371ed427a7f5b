//! Free-text value objects and the presence rules every raw field goes through.
//!
//! Lengths count Unicode scalar values (what a person calls characters), not bytes.
//! Control characters are refused because PostgreSQL `text` rejects NUL outright (a 500
//! instead of a 422) and the others only ever arrive by accident.

use std::fmt;

use serde::Serialize;
use uuid::Uuid;

use super::error::InvalidValue;

/// A required raw field: absent is "is required", present goes to `parse`.
pub(crate) fn required<T>(
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Result<T, InvalidValue> {
    raw.map_or_else(|| Err(InvalidValue::required()), parse)
}

/// An optional raw field. Blank counts as absent because form-based clients send `""`
/// for a field left empty, and that means "not given", not "invalid".
pub(crate) fn optional<T>(
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Result<Option<T>, InvalidValue> {
    match raw {
        Some(value) if !value.trim().is_empty() => parse(value).map(Some),
        _ => Ok(None),
    }
}

/// Trimmed, non-empty, at most `max` characters, a single line.
fn single_line(raw: &str, max: usize) -> Result<String, InvalidValue> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(InvalidValue::new("must not be empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidValue::new("must not contain control characters"));
    }
    check_length(value, max)?;
    Ok(value.to_owned())
}

fn check_length(value: &str, max: usize) -> Result<(), InvalidValue> {
    if value.chars().count() > max {
        return Err(InvalidValue::new(format!(
            "must be at most {max} characters"
        )));
    }
    Ok(())
}

macro_rules! text_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InvalidValue;

            fn try_from(raw: &str) -> Result<Self, Self::Error> {
                Self::parse(raw)
            }
        }
    };
}

text_newtype! {
    /// A person's display name (`nombre` of an influencer), 1..=200 characters.
    PersonName
}

impl PersonName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        single_line(raw, Self::MAX_CHARS).map(Self)
    }
}

text_newtype! {
    /// A campaign's `nombre`, 1..=300 characters.
    ///
    /// Longer than a [`PersonName`] so the welcome campaign's generated name
    /// ("Campaña de bienvenida para " + a 200-character name) is always valid.
    CampaignName
}

impl CampaignName {
    pub const MAX_CHARS: usize = 300;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        single_line(raw, Self::MAX_CHARS).map(Self)
    }
}

text_newtype! {
    /// Prose (`descripcion`, `biografia`, `entregables`): 1..=2000 characters, trimmed,
    /// line breaks and tabs allowed.
    LongText
}

impl LongText {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        if value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(InvalidValue::new("must not contain control characters"));
        }
        check_length(value, Self::MAX_CHARS)?;
        Ok(Self(value.to_owned()))
    }
}

text_newtype! {
    /// A reference to an aggregate of another context or producer (`camp-67890`,
    /// `inf-12345`, or one of our UUIDs as text): 1..=200 characters, trimmed.
    ///
    /// Other producers choose their own id formats, so anything printable is accepted;
    /// we only guarantee it is storable and indexable.
    ExternalId
}

impl ExternalId {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        single_line(raw, Self::MAX_CHARS).map(Self)
    }
}

impl From<Uuid> for ExternalId {
    fn from(id: Uuid) -> Self {
        Self(id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn person_name_is_trimmed() {
        assert_eq!(
            PersonName::parse("  Ana Gómez \n").unwrap().as_str(),
            "Ana Gómez"
        );
    }

    #[test]
    fn person_name_refuses_blank() {
        assert!(PersonName::parse("").is_err());
        assert!(PersonName::parse("   \t ").is_err());
    }

    #[test]
    fn person_name_length_counts_characters_after_trimming() {
        let exactly_200 = "ñ".repeat(200);
        assert!(PersonName::parse(&format!("  {exactly_200}  ")).is_ok());

        let error = PersonName::parse(&"a".repeat(201)).unwrap_err();
        assert_eq!(error.message(), "must be at most 200 characters");
    }

    #[test]
    fn person_name_refuses_control_characters() {
        assert!(PersonName::parse("Ana\0").is_err());
        assert!(PersonName::parse("Ana\nGómez").is_err());
    }

    #[test]
    fn campaign_name_allows_300_characters() {
        assert!(CampaignName::parse(&"a".repeat(300)).is_ok());
        assert!(CampaignName::parse(&"a".repeat(301)).is_err());
        assert!(CampaignName::parse(" ").is_err());
    }

    #[test]
    fn long_text_allows_2000_characters_and_line_breaks() {
        assert!(LongText::parse(&"é".repeat(2000)).is_ok());
        assert!(LongText::parse(&"é".repeat(2001)).is_err());
        assert_eq!(
            LongText::parse(" line one\r\n\tline two ")
                .unwrap()
                .as_str(),
            "line one\r\n\tline two"
        );
    }

    #[test]
    fn long_text_refuses_nul_and_blank() {
        assert!(LongText::parse("bio\0").is_err());
        assert!(LongText::parse("\n \n").is_err());
    }

    #[test]
    fn external_id_accepts_foreign_formats_and_uuids() {
        assert_eq!(
            ExternalId::parse(" camp-67890 ").unwrap().as_str(),
            "camp-67890"
        );
        let id = Uuid::now_v7();
        assert_eq!(ExternalId::from(id).as_str(), id.to_string());
    }

    #[test]
    fn external_id_bounds() {
        assert!(ExternalId::parse("").is_err());
        assert!(ExternalId::parse(&"x".repeat(200)).is_ok());
        assert!(ExternalId::parse(&"x".repeat(201)).is_err());
    }

    #[test]
    fn required_and_optional_presence_rules() {
        assert_eq!(
            required(None, PersonName::parse).unwrap_err().message(),
            "is required"
        );
        assert_eq!(
            required(Some(""), PersonName::parse).unwrap_err().message(),
            "must not be empty"
        );
        assert_eq!(optional(None, LongText::parse), Ok(None));
        assert_eq!(optional(Some("  "), LongText::parse), Ok(None));
        assert!(optional(Some("x"), LongText::parse).unwrap().is_some());
    }

    proptest! {
        #[test]
        fn text_parsers_never_panic(raw in any::<String>()) {
            let _ = PersonName::parse(&raw);
            let _ = CampaignName::parse(&raw);
            let _ = LongText::parse(&raw);
            let _ = ExternalId::parse(&raw);
        }

        #[test]
        fn accepted_names_are_trimmed_and_bounded(raw in any::<String>()) {
            if let Ok(name) = PersonName::parse(&raw) {
                prop_assert_eq!(name.as_str(), raw.trim());
                prop_assert!((1..=200).contains(&name.as_str().chars().count()));
            }
        }
    }
}
