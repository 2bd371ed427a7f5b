//! Interest categories (`categorias`, `categorias_objetivo`).

use serde::Serialize;

use super::error::{FieldError, ValidationErrors};

/// A small ordered set of lower-cased categories.
///
/// Order is kept (first seen wins) because clients list what matters most first and
/// expect to read it back that way. The limit of 10 applies after duplicates are
/// removed: `["moda", "Moda"]` is one category, not two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Categories(Vec<String>);

impl Categories {
    pub const MAX_ITEMS: usize = 10;
    /// Not in the spec: bounds a free-text tag so it stays a tag.
    pub const MAX_ITEM_CHARS: usize = 100;

    /// An influencer's categories: 1..=10. `field` is the wire name used in errors.
    pub fn parse<S: AsRef<str>>(field: &str, raw: &[S]) -> Result<Self, ValidationErrors> {
        let categories = Self::parse_allowing_empty(field, raw)?;
        if categories.is_empty() {
            return Err(FieldError::new(field, "must contain at least one category").into());
        }
        Ok(categories)
    }

    /// A campaign's target categories, which may be empty (it targets everyone).
    pub fn parse_allowing_empty<S: AsRef<str>>(
        field: &str,
        raw: &[S],
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        // Counted as sent too: the document's `maxItems` counts items, not distinct ones.
        if raw.len() > Self::MAX_ITEMS {
            errors.push(FieldError::new(
                field,
                format!("must contain at most {} categories", Self::MAX_ITEMS),
            ));
        }
        let mut categories: Vec<String> = Vec::new();
        for (index, item) in raw.iter().enumerate() {
            match parse_item(item.as_ref()) {
                Ok(category) if !categories.contains(&category) => categories.push(category),
                Ok(_) => {}
                Err(message) => errors.push(FieldError::new(format!("{field}[{index}]"), message)),
            }
        }
        if categories.len() > Self::MAX_ITEMS && raw.len() <= Self::MAX_ITEMS {
            errors.push(FieldError::new(
                field,
                format!(
                    "must contain at most {} distinct categories",
                    Self::MAX_ITEMS
                ),
            ));
        }
        if errors.is_empty() {
            Ok(Self(categories))
        } else {
            Err(errors)
        }
    }

    pub fn empty() -> Self {
        Self::default()
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `category` is listed, compared the way categories are stored.
    pub fn contains(&self, category: &str) -> bool {
        let wanted = category.trim().to_lowercase();
        self.0.contains(&wanted)
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

fn parse_item(raw: &str) -> Result<String, &'static str> {
    let value = raw.trim();
    if value.is_empty() {
        return Err("must not be empty");
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    if value.chars().count() > Categories::MAX_ITEM_CHARS {
        return Err("must be at most 100 characters");
    }
    Ok(value.to_lowercase())
}

impl<'a> IntoIterator for &'a Categories {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn given_mixed_case_duplicates_when_parsed_then_lower_cased_deduplicated_in_order() {
        let categories =
            Categories::parse("categorias", &[" Moda ", "viajes", "MODA", "Belleza"]).unwrap();

        assert_eq!(categories.as_slice(), ["moda", "viajes", "belleza"]);
    }

    #[test]
    fn given_no_categories_when_parsed_for_influencer_then_refused_on_the_list() {
        let errors = Categories::parse::<&str>("categorias", &[]).unwrap_err();

        assert_eq!(errors.fields().collect::<Vec<_>>(), ["categorias"]);
    }

    #[test]
    fn given_no_categories_when_parsed_for_campaign_then_accepted() {
        let categories =
            Categories::parse_allowing_empty::<&str>("categorias_objetivo", &[]).unwrap();

        assert!(categories.is_empty());
        assert_eq!(categories, Categories::empty());
    }

    #[test]
    fn given_blank_items_when_parsed_then_each_is_named_by_index() {
        let errors = Categories::parse("categorias", &["moda", "", "  ", "viajes"]).unwrap_err();

        assert_eq!(
            errors.fields().collect::<Vec<_>>(),
            ["categorias[1]", "categorias[2]"]
        );
    }

    #[test]
    fn given_ten_distinct_categories_then_accepted_and_eleven_refused() {
        let ten: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
        assert_eq!(Categories::parse("categorias", &ten).unwrap().len(), 10);

        let eleven: Vec<String> = (0..11).map(|i| format!("c{i}")).collect();
        let errors = Categories::parse("categorias", &eleven).unwrap_err();
        assert_eq!(errors.fields().collect::<Vec<_>>(), ["categorias"]);
    }

    #[test]
    fn given_eleven_items_with_a_duplicate_then_refused_as_the_document_says() {
        // The OpenAPI document's `maxItems: 10` counts the items sent, duplicates included.
        let mut items: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
        items.push("C0".to_owned());

        let errors = Categories::parse("categorias", &items).unwrap_err();
        assert_eq!(errors.fields().collect::<Vec<_>>(), ["categorias"]);
        items.pop();
        items[9] = "C0".to_owned();
        assert_eq!(Categories::parse("categorias", &items).unwrap().len(), 9);
    }

    #[test]
    fn given_an_overlong_item_then_refused() {
        let errors = Categories::parse("categorias", &["a".repeat(101)]).unwrap_err();
        assert_eq!(errors.fields().collect::<Vec<_>>(), ["categorias[0]"]);
    }

    #[test]
    fn contains_compares_normalised() {
        let categories = Categories::parse("categorias", &["moda"]).unwrap();
        assert!(categories.contains(" MODA "));
        assert!(!categories.contains("viajes"));
    }

    proptest! {
        #[test]
        fn never_more_than_ten_never_duplicates(raw in prop::collection::vec(any::<String>(), 0..30)) {
            if let Ok(categories) = Categories::parse_allowing_empty("categorias", &raw) {
                prop_assert!(categories.len() <= 10);
                let distinct: HashSet<_> = categories.iter().collect();
                prop_assert_eq!(distinct.len(), categories.len());
                for category in &categories {
                    prop_assert!(!category.is_empty());
                    prop_assert_eq!(category, &category.trim().to_lowercase());
                }
            }
        }

        #[test]
        fn small_word_lists_are_accepted(raw in prop::collection::vec("[A-Za-z]{1,12}", 1..=10)) {
            let categories = Categories::parse("categorias", &raw).unwrap();
            let first = raw[0].to_lowercase();
            prop_assert_eq!(categories.as_slice()[0].as_str(), first.as_str());
        }
    }
}
