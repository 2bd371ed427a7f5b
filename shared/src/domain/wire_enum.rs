//! One definition for the closed vocabularies of the wire contract (states, kinds).
//!
//! Every such enum needs the same four things: its wire/DB spelling, a parser that
//! names the refused value, `Display` and serde as that spelling. A macro keeps the
//! spelling in exactly one place per variant.

use super::error::InvalidValue;

/// A value outside a closed vocabulary. Names the value so logs and 422s say what was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}' (expected one of: {expected})")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
    pub expected: String,
}

impl From<UnknownVariant> for InvalidValue {
    fn from(error: UnknownVariant) -> Self {
        InvalidValue::new(error.to_string())
    }
}

/// Parses by trimming and ignoring ASCII case: clients send `CPA` and `Activo`, and a
/// query filter should not fail over capitalisation.
pub(crate) fn parse_variant<T: Copy>(
    raw: &str,
    kind: &'static str,
    all: &[T],
    wire: fn(T) -> &'static str,
) -> Result<T, UnknownVariant> {
    let wanted = raw.trim();
    all.iter()
        .copied()
        .find(|variant| wire(*variant).eq_ignore_ascii_case(wanted))
        .ok_or_else(|| UnknownVariant {
            kind,
            value: raw.to_owned(),
            expected: all
                .iter()
                .map(|variant| wire(*variant))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $kind:literal {
            $( $(#[$variant_meta:meta])* $variant:ident => $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire and database spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::UnknownVariant;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                $crate::domain::wire_enum::parse_variant(raw, $kind, Self::ALL, Self::as_str)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                raw.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    use super::super::CommissionType;

    #[test]
    fn given_unknown_value_when_parsed_then_error_names_value_and_choices() {
        let error = "cpm".parse::<CommissionType>().unwrap_err();

        assert_eq!(
            error.to_string(),
            "unknown tipo_comision 'cpm' (expected one of: cpa, cpl, cpc)"
        );
    }

    #[test]
    fn given_other_case_and_spaces_when_parsed_then_accepted() {
        assert_eq!(" CPL ".parse::<CommissionType>(), Ok(CommissionType::Cpl));
    }

    #[test]
    fn given_variant_when_serialised_then_wire_spelling_round_trips() {
        let json = serde_json::to_string(&CommissionType::Cpc).unwrap();

        assert_eq!(json, "\"cpc\"");
        assert_eq!(
            serde_json::from_str::<CommissionType>(&json).unwrap(),
            CommissionType::Cpc
        );
        assert!(serde_json::from_str::<CommissionType>("\"x\"").is_err());
    }
}
