//! What a read request names: list query parameters (`limite`, `offset` and filters,
//! with field-level errors: an unknown filter value is a 422 naming the parameter, never
//! a 500), and a resource by the id in its path.

use std::{collections::HashMap, fmt::Display, str::FromStr};

use serde::{Deserialize, de::DeserializeOwned};
use utoipa::IntoParams;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;

use super::problem::ApiError;
use crate::{
    domain::{FieldError, ValidationErrors},
    store::{Page, StoreError},
};

/// The query string of a list request, read leniently and validated field by field.
#[derive(Debug, Clone, Default)]
pub struct ListQuery(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        // Every parameter is a single value in the document: a repeated one (an array,
        // `?offset=1&offset=2`) is refused rather than read as one of its values.
        let mut params = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            if params.contains_key(&name) {
                return Err(ApiError::BadParameter {
                    name: name.replace('\0', "\\u0000"),
                    message: "must be given at most once".into(),
                });
            }
            params.insert(name, value);
        }
        // PostgreSQL stores no NUL in text (22021): refused here, naming the parameter.
        if let Some((name, _)) = params
            .iter()
            .find(|(name, value)| name.contains('\0') || value.contains('\0'))
        {
            return Err(ApiError::BadParameter {
                name: name.replace('\0', "\\u0000"),
                message: "must not contain a NUL character (%00)".into(),
            });
        }
        Ok(Self(params))
    }
}

impl ListQuery {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    /// `limite` (1..=100, default 50) and `offset` (>= 0, default 0).
    pub fn page(&self, errors: &mut ValidationErrors) -> Page {
        self.filters::<PageParams>()
            .map(|params| params.into_page(errors))
            .unwrap_or_default()
    }

    /// This endpoint's filters, as its filter struct (`Deserialize` for reading and
    /// `IntoParams` for the document: one description of the filters). Unknown
    /// parameters are ignored; the struct's fields are strings, parsed by
    /// [`parse_filter`] and [`text_filter`] so that every bad one is listed.
    pub fn filters<F: DeserializeOwned>(&self) -> Result<F, ApiError> {
        // Through a JSON object of strings: serde's plain map deserializer reads no
        // `Option` fields.
        let object = self
            .0
            .iter()
            .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
            .collect::<serde_json::Map<_, _>>();
        serde_json::from_value(serde_json::Value::Object(object))
            .map_err(|error| ApiError::BadRequest(format!("the query is not valid: {error}")))
    }

    /// The page and this endpoint's filters, parsed; a 422 lists every bad parameter.
    pub fn read<F: Filters>(&self) -> Result<(Page, F::Filter), ApiError> {
        let mut errors = ValidationErrors::new();
        let page = self.page(&mut errors);
        let filter = self.filters::<F>()?.into_filter(&mut errors);
        Self::finish(errors, (page, filter))
    }

    /// Turns the collected errors into a 422, or passes `value` through.
    pub fn finish<T>(errors: ValidationErrors, value: T) -> Result<T, ApiError> {
        if errors.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// The resource the `{id}` of a path names, looked up by `find`. An id that is not a UUID
/// names nothing: the same 404 as an unknown one (`no <what> <id>`).
pub async fn find_by_path<T, F>(
    what: &str,
    id: &str,
    find: impl FnOnce(uuid::Uuid) -> F,
) -> Result<T, ApiError>
where
    F: Future<Output = Result<Option<T>, StoreError>>,
{
    let not_found = || ApiError::NotFound(format!("no {what} {id}"));
    let uuid = uuid::Uuid::parse_str(id).map_err(|_| not_found())?;
    find(uuid).await?.ok_or_else(not_found)
}

/// A list endpoint's filters: one struct, read as strings (`Deserialize`) and documented
/// (`IntoParams`), that parses into the store's filter, pushing every bad value to
/// `errors`.
pub trait Filters: DeserializeOwned {
    type Filter;

    fn into_filter(self, errors: &mut ValidationErrors) -> Self::Filter;
}

/// `limite` and `offset` of every list, read as strings so that a bad one is a field
/// error in the 422 like any other (and documented as the integers they are).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many items to return (1..=100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 50)]
    limite: Option<String>,
    /// How many items to skip.
    #[param(value_type = Option<i64>, minimum = 0, default = 0)]
    offset: Option<String>,
}

impl PageParams {
    fn into_page(self, errors: &mut ValidationErrors) -> Page {
        let mut page = Page::default();
        // Present but blank is refused too: the document's integer has no empty value.
        if let Some(raw) = self.limite.as_deref().map(str::trim) {
            match raw.parse::<i64>() {
                Ok(limit) if (1..=100).contains(&limit) => page.limit = limit,
                _ => errors.push(FieldError::new(
                    "limite",
                    "must be an integer from 1 to 100",
                )),
            }
        }
        if let Some(raw) = self.offset.as_deref().map(str::trim) {
            match raw.parse::<i64>() {
                Ok(offset) if offset >= 0 => page.offset = offset,
                _ => errors.push(FieldError::new("offset", "must be an integer >= 0")),
            }
        }
        page
    }
}

/// A filter parsed as `T` (an enum of the domain); an unknown value is an error, and so
/// is a blank one (`?estado=`: the document's enum does not list it).
pub fn parse_filter<T>(name: &str, raw: Option<&str>, errors: &mut ValidationErrors) -> Option<T>
where
    T: FromStr,
    T::Err: Display,
{
    match raw?.trim().parse() {
        Ok(value) => Some(value),
        Err(error) => {
            errors.push(FieldError::new(name, error.to_string()));
            None
        }
    }
}

/// A free-text filter, trimmed; blank counts as absent.
pub fn text_filter(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::InfluencerState;

    #[test]
    fn defaults_and_bounds() {
        let mut errors = ValidationErrors::new();
        assert_eq!(ListQuery::default().page(&mut errors), Page::default());
        let query = ListQuery::from_pairs([("limite", "100"), ("offset", "5")]);
        assert_eq!(
            query.page(&mut errors),
            Page {
                limit: 100,
                offset: 5
            }
        );
        assert!(errors.is_empty());
        for (name, value) in [
            ("limite", "0"),
            ("limite", "101"),
            ("limite", "x"),
            ("offset", "-1"),
        ] {
            let mut errors = ValidationErrors::new();
            ListQuery::from_pairs([(name, value)]).page(&mut errors);
            assert_eq!(errors.fields().collect::<Vec<_>>(), vec![name]);
        }
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Filters {
        estado: Option<String>,
        categoria: Option<String>,
    }

    #[test]
    fn filters_read_as_their_struct_ignoring_other_parameters() {
        let query = ListQuery::from_pairs([("estado", "activo"), ("limite", "5")]);
        assert_eq!(
            query.filters::<Filters>().unwrap(),
            Filters {
                estado: Some("activo".into()),
                categoria: None
            }
        );
    }

    #[test]
    fn an_unknown_filter_value_names_the_parameter() {
        for value in ["dormido", "", "  "] {
            let mut errors = ValidationErrors::new();
            let state: Option<InfluencerState> = parse_filter("estado", Some(value), &mut errors);
            assert!(state.is_none());
            assert_eq!(
                errors.fields().collect::<Vec<_>>(),
                vec!["estado"],
                "{value:?}"
            );
        }
        let mut errors = ValidationErrors::new();
        let absent: Option<InfluencerState> = parse_filter("estado", None, &mut errors);
        assert!(absent.is_none() && errors.is_empty());
    }
}
