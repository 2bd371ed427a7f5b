//! Social platforms (`plataformas`).

use std::collections::BTreeSet;

use serde::Serialize;

use super::error::{FieldError, ValidationErrors};
use super::wire_enum::wire_enum;

wire_enum! {
    /// A platform an influencer publishes on.
    pub enum Platform as "plataforma" {
        Instagram => "instagram",
        Tiktok => "tiktok",
        Youtube => "youtube",
        Twitter => "twitter",
        Facebook => "facebook",
        Linkedin => "linkedin",
        Twitch => "twitch",
    }
}

/// A subset of [`Platform`]; repeated entries collapse, order is the declaration order
/// (a set has no meaningful order, so a fixed one keeps output stable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Platforms(BTreeSet<Platform>);

impl Platforms {
    /// Parses every item, reporting each unknown one by index (`plataformas[1]`).
    pub fn parse<S: AsRef<str>>(field: &str, raw: &[S]) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut platforms = BTreeSet::new();
        for (index, item) in raw.iter().enumerate() {
            match item.as_ref().parse::<Platform>() {
                Ok(platform) => {
                    platforms.insert(platform);
                }
                Err(error) => errors.push(FieldError::new(
                    format!("{field}[{index}]"),
                    error.to_string(),
                )),
            }
        }
        if errors.is_empty() {
            Ok(Self(platforms))
        } else {
            Err(errors)
        }
    }

    pub fn empty() -> Self {
        Self::default()
    }

    pub fn contains(&self, platform: Platform) -> bool {
        self.0.contains(&platform)
    }

    pub fn iter(&self) -> impl Iterator<Item = Platform> + '_ {
        self.0.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The wire spellings, e.g. for a `text[]` column.
    pub fn as_strs(&self) -> Vec<&'static str> {
        self.iter().map(Platform::as_str).collect()
    }
}

impl FromIterator<Platform> for Platforms {
    fn from_iter<I: IntoIterator<Item = Platform>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn every_platform_of_the_spec_is_known() {
        let names: Vec<_> = Platform::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "instagram",
                "tiktok",
                "youtube",
                "twitter",
                "facebook",
                "linkedin",
                "twitch"
            ]
        );
    }

    #[test]
    fn given_repeats_and_case_when_parsed_then_a_set_in_stable_order() {
        let platforms =
            Platforms::parse("plataformas", &["YouTube", "instagram", "youtube"]).unwrap();

        assert_eq!(platforms.as_strs(), ["instagram", "youtube"]);
        assert!(platforms.contains(Platform::Youtube));
        assert!(!platforms.contains(Platform::Twitch));
    }

    #[test]
    fn given_unknown_platforms_when_parsed_then_each_named_by_index() {
        let errors =
            Platforms::parse("plataformas", &["instagram", "myspace", "", "orkut"]).unwrap_err();

        assert_eq!(
            errors.fields().collect::<Vec<_>>(),
            ["plataformas[1]", "plataformas[2]", "plataformas[3]"]
        );
        assert!(errors.iter().next().unwrap().message.contains("'myspace'"));
    }

    #[test]
    fn empty_is_a_valid_subset() {
        assert!(
            Platforms::parse::<&str>("plataformas", &[])
                .unwrap()
                .is_empty()
        );
    }

    proptest! {
        #[test]
        fn arbitrary_items_never_panic(raw in prop::collection::vec(any::<String>(), 0..10)) {
            if let Ok(platforms) = Platforms::parse("plataformas", &raw) {
                prop_assert!(platforms.len() <= Platform::ALL.len());
            }
        }

        #[test]
        fn any_subset_round_trips(indexes in prop::collection::vec(0..Platform::ALL.len(), 0..10)) {
            let chosen: Platforms = indexes.iter().map(|i| Platform::ALL[*i]).collect();
            let reparsed = Platforms::parse("plataformas", &chosen.as_strs()).unwrap();
            prop_assert_eq!(reparsed, chosen);
        }
    }
}
