//! What the OpenAPI document says of request bodies, parameters and error responses:
//! the response descriptors the handlers name in `#[utoipa::path]`, the schemas of closed
//! vocabularies (from the domain's own lists) and of text fields (the patterns of the
//! domain's parsers), and `limite`/`offset`.
//!
//! A leaf module: handlers import it, and [`super::openapi`], which assembles the document
//! from the handlers, re-exports it. (It used to live in `openapi`, which made the handlers
//! and the document import each other.)

use std::{borrow::Cow, collections::BTreeMap};

use utoipa::{
    IntoResponses, PartialSchema, ToSchema,
    openapi::{
        self, ContentBuilder, Ref, RefOr, ResponseBuilder,
        schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, Schema, SchemaType, Type},
    },
};

use crate::domain::{
    CampaignState, CommissionType, ContractState, ContractType, InfluencerState, Platform,
    ReportState, ReportType,
};

/// The media type of every error body (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";
/// Name of the problem schema in `components.schemas`.
pub const PROBLEM_SCHEMA: &str = "Problem";
/// `components.headers` of every response (`x-request-id`) and of a 503 (`Retry-After`).
pub(super) const REQUEST_ID_HEADER: &str = "RequestId";
pub(super) const RETRY_AFTER_HEADER: &str = "RetryAfter";

pub(super) fn header_ref<T>(name: &str) -> RefOr<T> {
    RefOr::Ref(Ref::new(format!("#/components/headers/{name}")))
}

/// One refused field of a 422.
#[derive(ToSchema)]
#[allow(dead_code)] // describes `domain::FieldError`, which stays free of utoipa
pub struct ProblemFieldError {
    /// The field's wire name, with an index for list items (`categorias[2]`).
    #[schema(example = "email")]
    campo: String,
    /// Why it was refused.
    #[schema(example = "is not a valid email address")]
    mensaje: String,
}

/// `limite` and `offset` of every list.
pub use super::query::PageParams;

pub(super) fn string_schema() -> Schema {
    ObjectBuilder::new().schema_type(Type::String).into()
}

/// A problem+json response: `description`, and the body of the [`PROBLEM_SCHEMA`].
fn problem_response(status: &str, description: &str) -> openapi::Response {
    let response = ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(PROBLEM_SCHEMA)))
            .build(),
    );
    let mut response = response.build();
    if status == "503" {
        response
            .headers
            .insert("Retry-After".to_owned(), header_ref(RETRY_AFTER_HEADER));
    }
    response
}

macro_rules! problem_responses {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident { $($status:literal => $description:literal),+ $(,)? }
    )+) => {$(
        $(#[doc = $doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
                BTreeMap::from([$(
                    ($status.to_owned(), problem_response($status, $description).into()),
                )+])
            }
        }
    )+};
}

problem_responses! {
    /// 400: the body is not JSON.
    BadRequest {
        "400" => "The body (or the query string) cannot be read: it is not JSON",
    }
    /// 401: the push carries no valid token.
    Unauthorized {
        "401" => "Missing or invalid bearer token",
    }
    /// 404: no such resource.
    NotFound {
        "404" => "No such resource",
    }
    /// 409: a business rule or the idempotency key says no.
    Conflict {
        "409" => "A business rule says no, or the `id` was already used with another body",
    }
    /// 413: the body is over [`super::BODY_LIMIT`].
    PayloadTooLarge {
        "413" => "The body is larger than 64 KiB",
    }
    /// 422: JSON whose fields fail validation, every refused field listed in `errors`.
    ValidationFailed {
        "422" => "Some fields are invalid: `errors` lists each one as `{campo, mensaje}`",
    }
    /// 500 and 503: what any request touching the database or the broker may answer.
    ServerErrors {
        "500" => "The server failed (the detail never carries internals)",
        "503" => "A dependency is unavailable or the request timed out: retry later (`Retry-After`)",
    }
}

/// One category of an influencer or a campaign target: 1..=100 characters after trimming,
/// no control character ([`text_pattern`]).
pub struct CategorySchema;

impl PartialSchema for CategorySchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .pattern(Some(format!(
                "{TEXT_PATTERN_PREFIX}required:line:{}",
                crate::domain::Categories::MAX_ITEM_CHARS
            )))
            .into()
    }
}

impl ToSchema for CategorySchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Category")
    }
}

/// The pattern of a free-text query filter: anything but NUL (PostgreSQL stores none; a
/// NUL is a 400 naming the parameter). Blank counts as absent.
pub const QUERY_TEXT_PATTERN: &str = "^[^\\u0000]*$";

macro_rules! vocabularies {
    ($(
        $(#[doc = $doc:literal])*
        $schema:ident($domain:ty) as $name:literal;
    )+) => {$(
        $(#[doc = $doc])*
        ///
        /// Described from the domain's own list of values.
        pub struct $schema;

        impl PartialSchema for $schema {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(<$domain>::ALL.iter().map(|value| value.as_str())))
                    .into()
            }
        }

        impl ToSchema for $schema {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    )+};
}

vocabularies! {
    /// `estado` of an influencer.
    InfluencerStateSchema(InfluencerState) as "InfluencerState";
    /// `estado` of a campaign.
    CampaignStateSchema(CampaignState) as "CampaignState";
    /// `estado` of a contract.
    ContractStateSchema(ContractState) as "ContractState";
    /// `estado` of a report.
    ReportStateSchema(ReportState) as "ReportState";
    /// `tipo_comision` of a campaign.
    CommissionTypeSchema(CommissionType) as "CommissionType";
    /// `tipo_contrato` of a campaign or a contract.
    ContractTypeSchema(ContractType) as "ContractType";
    /// `tipo_reporte` of a report.
    ReportTypeSchema(ReportType) as "ReportType";
    /// A platform an influencer publishes on.
    PlatformSchema(Platform) as "Platform";
}

macro_rules! vocabulary_inputs {
    ($(
        $(#[doc = $doc:literal])*
        $schema:ident($domain:ty) as $name:literal, blank: $blank:literal;
    )+) => {$(
        $(#[doc = $doc])*
        ///
        /// Described from the domain's own list of values as its parser reads them
        /// ([`vocabulary_pattern`]).
        pub struct $schema;

        impl PartialSchema for $schema {
            fn schema() -> RefOr<Schema> {
                vocabulary_input(<$domain>::ALL.iter().map(|value| value.as_str()), $blank)
            }
        }

        impl ToSchema for $schema {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    )+};
}

vocabulary_inputs! {
    /// `estado` as a filter gives it.
    InfluencerStateInput(InfluencerState) as "InfluencerStateInput", blank: false;
    /// `estado` as a filter gives it.
    CampaignStateInput(CampaignState) as "CampaignStateInput", blank: false;
    /// `estado` as a filter gives it.
    ContractStateInput(ContractState) as "ContractStateInput", blank: false;
    /// `estado` as a filter gives it.
    ReportStateInput(ReportState) as "ReportStateInput", blank: false;
    /// `tipo_reporte` as a filter gives it.
    ReportTypeInput(ReportType) as "ReportTypeInput", blank: false;
    /// A platform as a body or a filter gives it.
    PlatformInput(Platform) as "PlatformInput", blank: false;
    /// `tipo_comision` as a body gives it (blank is the default).
    CommissionTypeInput(CommissionType) as "CommissionTypeInput", blank: true;
    /// `tipo_contrato` as a body gives it (blank is the default).
    ContractTypeInput(ContractType) as "ContractTypeInput", blank: true;
}

/// A closed vocabulary as a request gives it: the parser (`domain::wire_enum`) trims
/// surrounding whitespace and ignores ASCII case, so the schema is a pattern rather than
/// an `enum` (which would refuse `CPA`, accepted), with the values as `examples`.
fn vocabulary_input<'a>(
    values: impl Iterator<Item = &'a str> + Clone,
    blank: bool,
) -> RefOr<Schema> {
    let listed = values.clone().collect::<Vec<_>>().join(", ");
    let description = if blank {
        format!(
            "One of {listed}, in any case (surrounding whitespace ignored); blank is the default"
        )
    } else {
        format!("One of {listed}, in any case (surrounding whitespace ignored)")
    };
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(vocabulary_pattern(values.clone(), blank)))
        .examples(values.map(|value| serde_json::Value::String(value.to_owned())))
        .description(Some(description))
        .into()
}

/// The regular expression of a closed vocabulary as `domain::wire_enum` parses it: one of
/// `values` in any ASCII case, surrounding whitespace ([`WHITESPACE_CLASS`]) trimmed;
/// `blank` also takes a blank value (read as absent, the default).
pub fn vocabulary_pattern<'a>(values: impl Iterator<Item = &'a str>, blank: bool) -> String {
    let ws = WHITESPACE_CLASS;
    let alternatives = values
        .map(|value| {
            value
                .chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                    } else if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c.to_string()
                    } else {
                        format!("\\u{:04x}", u32::from(c))
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("|");
    if blank {
        format!("^[{ws}]*(?:(?:{alternatives})[{ws}]*)?$")
    } else {
        format!("^[{ws}]*(?:{alternatives})[{ws}]*$")
    }
}

/// An optional date-time of a request body as the domain reads it: RFC 3339, or blank
/// (read as absent).
pub struct DateTimeOrBlankSchema;

impl PartialSchema for DateTimeOrBlankSchema {
    fn schema() -> RefOr<Schema> {
        Schema::AnyOf(
            AnyOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(Type::String).format(Some(
                    openapi::schema::SchemaFormat::KnownFormat(
                        openapi::schema::KnownFormat::DateTime,
                    ),
                )))
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(blank_pattern())),
                )
                .description(Some("RFC 3339 date-time; blank is absent"))
                .build(),
        )
        .into()
    }
}

impl ToSchema for DateTimeOrBlankSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("DateTimeOrBlank")
    }
}

/// A string a body may carry but nothing stores (the existing system's descriptive fields
/// of `POST /contratos/crear-comando`): any text without NUL, which no body may hold.
pub struct UnstoredTextSchema;

impl PartialSchema for UnstoredTextSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^[^\u0000]*$"))
            .into()
    }
}

impl ToSchema for UnstoredTextSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("UnstoredText")
    }
}

/// Rust's `char::is_whitespace` (Unicode `White_Space`), what `str::trim` removes, as the
/// body of a regular-expression class (ECMA-262 and Python `re` read it alike).
const WHITESPACE_CLASS: &str =
    r"\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// A blank value: nothing but [`WHITESPACE_CLASS`] (what the domain reads as absent).
fn blank_pattern() -> String {
    format!("^[{WHITESPACE_CLASS}]*$")
}

/// `char::is_control` (Unicode `Cc`).
const CONTROL_CLASS: &str = r"\u0000-\u001f\u007f-\u009f";
/// `char::is_control` but tab, line feed and carriage return (free text).
const CONTROL_BUT_LINE_BREAKS_CLASS: &str = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f";
/// Prefix of a `#[schema(pattern = ...)]` that [`text_pattern`] expands.
const TEXT_PATTERN_PREFIX: &str = "text:";

/// The regular expression of a text field as the domain's parsers read it
/// (`domain::text`, `domain::categories`): surrounding whitespace is trimmed, what is left
/// has 1..=`max` characters, starts and ends with neither whitespace nor a control
/// character, and holds no control character (`long` text allows tab, CR and LF).
/// `optional` fields also take a blank value (read as absent). A JSON Schema cannot say
/// "not blank after trimming" with `minLength`, nor count the length after trimming with
/// `maxLength`: the pattern says both.
///
/// A field declares it as `#[schema(pattern = "text:<required|optional>:<line|long>:<max>")]`
/// and the served document carries the expansion (one definition, no 400-character
/// literals in the DTOs).
pub fn text_pattern(optional: bool, long: bool, max: usize) -> String {
    let ws = WHITESPACE_CLASS;
    let control = CONTROL_CLASS;
    let inner = if long {
        CONTROL_BUT_LINE_BREAKS_CLASS
    } else {
        CONTROL_CLASS
    };
    let edge = format!("[^{ws}{control}]");
    let core = format!("{edge}(?:[^{inner}]{{0,{}}}{edge})?", max.saturating_sub(2));
    if optional {
        format!("^[{ws}]*(?:{core}[{ws}]*)?$")
    } else {
        format!("^[{ws}]*{core}[{ws}]*$")
    }
}

pub(super) fn expand_text_patterns(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if key == "pattern"
                    && let Some(spec) = item
                        .as_str()
                        .and_then(|text| text.strip_prefix(TEXT_PATTERN_PREFIX))
                {
                    *item = serde_json::Value::String(expand_text_spec(spec));
                } else {
                    expand_text_patterns(item);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(expand_text_patterns),
        _ => {}
    }
}

/// The regular expression of a phone number as `domain::Phone` reads it: surrounding
/// whitespace trimmed, then 7..=15 digits among spaces, dashes and parentheses, with one
/// leading `+` at most. `optional` fields also take a blank value (read as absent).
pub fn phone_pattern(optional: bool) -> String {
    let ws = WHITESPACE_CLASS;
    let core = format!(
        r"\+?[ ()\-]*(?:[0-9][ ()\-]*){{{},{}}}",
        crate::domain::Phone::MIN_DIGITS,
        crate::domain::Phone::MAX_DIGITS
    );
    if optional {
        format!("^[{ws}]*(?:{core}[{ws}]*)?$")
    } else {
        format!("^[{ws}]*{core}[{ws}]*$")
    }
}

/// Fields that come together or not at all (the domain's "together" rules, e.g. a
/// campaign's `influencer_id`, `influencer_nombre` and `influencer_email`), stated in the
/// component `schema`: it becomes `allOf: [itself, anyOf: [none given, all given]]`, where
/// "given" is what the domain reads as given (present, not null, not blank). A field's
/// `format` (an e-mail address) moves into the "all given" branch: a blank value is "not
/// given", not a badly formatted one.
pub fn together(api: &mut openapi::OpenApi, schema: &str, fields: &[&str]) {
    let ws = WHITESPACE_CLASS;
    let Some(slot) = api
        .components
        .as_mut()
        .and_then(|components| components.schemas.get_mut(schema))
    else {
        panic!("no component schema {schema} to state a together rule in");
    };
    let RefOr::T(Schema::Object(object)) = slot else {
        panic!("the component schema {schema} is not an object");
    };
    let mut none = ObjectBuilder::new();
    let mut all = ObjectBuilder::new();
    for field in fields {
        let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(*field) else {
            panic!("{schema} has no inline property {field}");
        };
        let format = property.format.take();
        none = none.property(
            *field,
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .pattern(Some(blank_pattern())),
        );
        all = all.required(*field).property(
            *field,
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(format)
                .pattern(Some(format!("[^{ws}]"))),
        );
    }
    let rule = AnyOfBuilder::new()
        .item(none.build())
        .item(all.build())
        .description(Some(format!(
            "{} come together or not at all (null or blank is not given)",
            fields.join(", ")
        )));
    let original = std::mem::replace(slot, RefOr::T(Schema::Object(ObjectBuilder::new().build())));
    *slot = RefOr::T(Schema::AllOf(
        AllOfBuilder::new()
            .item(original)
            .item(Schema::AnyOf(rule.build()))
            .build(),
    ));
}

/// `required:line:200` and the like (see [`text_pattern`]); `phone:<required|optional>`
/// (see [`phone_pattern`]).
fn expand_text_spec(spec: &str) -> String {
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        ["phone", presence] => phone_pattern(*presence == "optional"),
        [presence, kind, max] => {
            let max = max.parse().expect("a text pattern's maximum is a number");
            text_pattern(*presence == "optional", *kind == "long", max)
        }
        _ => panic!(
            "text pattern {spec:?} is neither <required|optional>:<line|long>:<max> nor \
             phone:<required|optional>"
        ),
    }
}

#[cfg(test)]
mod text_pattern_tests {
    use super::{phone_pattern, text_pattern};

    /// The pattern as Python's `re` (schemathesis) and ECMA-262 read it: the `regex`
    /// crate reads the same syntax.
    fn matches(pattern: &str, text: &str) -> bool {
        regex::Regex::new(pattern)
            .expect("a valid pattern")
            .is_match(text)
    }

    #[test]
    fn text_patterns_say_what_the_parsers_accept() {
        let name = text_pattern(false, false, 20);
        for accepted in ["a", "  Ana \n", "Ana\u{a0}Gómez", &"ñ".repeat(20)] {
            assert!(matches(&name, accepted), "{accepted:?}");
            assert!(crate::domain::PersonName::parse(accepted).is_ok());
        }
        for refused in [
            "",
            "  ",
            "\u{3000}",
            "a\u{82}",
            "Ana\nGómez",
            "a\0",
            &"a".repeat(21),
        ] {
            assert!(!matches(&name, refused), "{refused:?}");
        }
        let long = text_pattern(true, true, 20);
        for accepted in ["", "   ", "line\r\nline\tend", " x "] {
            assert!(matches(&long, accepted), "{accepted:?}");
        }
        for refused in ["a\0b", "a\u{b}b", &"é".repeat(21)] {
            assert!(!matches(&long, refused), "{refused:?}");
        }
    }

    #[test]
    fn vocabulary_patterns_say_what_the_parsers_accept() {
        use super::vocabulary_pattern;
        use crate::domain::{ContractType, ReportType};
        let values = || ContractType::ALL.iter().map(|value| value.as_str());
        let given = vocabulary_pattern(values(), false);
        let or_blank = vocabulary_pattern(values(), true);
        for text in [
            "exclusivo",
            "EXCLUSIVO",
            " Puntual\u{3000}",
            "\ttemporal\n",
            "",
            "  ",
            "\u{a0}",
            "exclusiv",
            "exclusivos",
            "puntual temporal",
            "ex\0clusivo",
            "\u{212a}",
        ] {
            let parsed = text.parse::<ContractType>().is_ok();
            let blank = text.trim().is_empty();
            assert_eq!(matches(&given, text), parsed, "{text:?}");
            assert_eq!(matches(&or_blank, text), parsed || blank, "{text:?}");
        }
        // Values with an underscore (or any non-letter) are spelled as they are.
        let reports = vocabulary_pattern(ReportType::ALL.iter().map(|value| value.as_str()), false);
        for value in ReportType::ALL {
            let upper = value.as_str().to_uppercase();
            assert!(matches(&reports, &upper), "{upper:?}");
            assert!(upper.parse::<ReportType>().is_ok());
        }
    }

    #[test]
    fn the_phone_pattern_says_what_the_parser_accepts() {
        use crate::domain::Phone;
        let required = phone_pattern(false);
        let optional = phone_pattern(true);
        for text in [
            "+34 600 123 456",
            " +57 (300) 123-4567\t",
            "1234567",
            "-1234567-",
            "+ 1234567",
            "123456789012345",
            "",
            "   ",
            "123456",
            "1234567890123456",
            "+34\t600123456",
            "34+600123456",
            "++34600123456",
            "600.123.456",
            "\u{a0}600123456\u{3000}",
            "６００１２３４５６",
            "600123456\0",
            "(((1234567)))",
        ] {
            let parsed = Phone::parse(text).is_ok();
            assert_eq!(matches(&required, text), parsed, "{text:?}");
            let blank = text.trim().is_empty();
            assert_eq!(matches(&optional, text), parsed || blank, "{text:?}");
        }
    }
}
