//! The OpenAPI 3 document each function serves at `GET /openapi.json`, generated from the
//! code with `utoipa`.
//!
//! A function describes its own API: its handlers carry `#[utoipa::path]`, its bodies
//! derive `ToSchema`, and a `#[derive(OpenApi)]` lists them. [`document`] adds what every
//! function shares (`POST /events`, `/health`, `/ready`, `/openapi.json`, the problem+json
//! errors, the push authentication, the `x-request-id` header), and [`route`] serves the
//! result, serialized once.
//!
//! The domain knows nothing of this: request bodies are described by documentation types
//! in the function crates (the handlers read them leniently, to list every field error in
//! one 422), and closed vocabularies are described here from the domain's own lists.

use std::{
    borrow::Cow,
    collections::BTreeMap,
    sync::{Arc, OnceLock},
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::{MethodRouter, get},
};
use utoipa::{
    IntoParams, IntoResponses, Modify, OpenApi, PartialSchema, ToSchema,
    openapi::{
        self, ContentBuilder, Ref, RefOr, ResponseBuilder,
        header::HeaderBuilder,
        path::Operation,
        schema::{ObjectBuilder, Schema, Type},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use super::{events, problem, runtime, serve};
use crate::{
    domain::{
        CampaignState, CommissionType, ContractState, ContractType, InfluencerState, Platform,
        ReportState, ReportType,
    },
    events::Topic,
};

/// The media type of every error body (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";
/// The security scheme `POST /events` requires.
pub const PUSH_SECURITY: &str = "push_token";
/// Name of the problem schema in `components.schemas`.
pub const PROBLEM_SCHEMA: &str = "Problem";
/// `components.headers` of every response (`x-request-id`) and of a 503 (`Retry-After`).
const REQUEST_ID_HEADER: &str = "RequestId";
const RETRY_AFTER_HEADER: &str = "RetryAfter";

/// What every function serves besides its own API.
#[derive(OpenApi)]
#[openapi(
    paths(serve::health, runtime::ready, runtime::relay_now, events::receive, openapi_json),
    components(schemas(problem::Problem, ProblemFieldError)),
    modifiers(&PushAuthScheme),
    tags(
        (name = "events", description = "Integration events pushed in the Pub/Sub push format"),
        (name = "runtime", description = "Liveness, readiness and this document"),
    )
)]
struct RuntimeApi;

/// `api` (a function's own paths and schemas) completed with the shared endpoints, the
/// problem schema and the push authentication; `consumed` are the topics its event
/// endpoint accepts. Every response is documented with its `x-request-id` header.
pub fn document(mut api: openapi::OpenApi, consumed: &[Topic]) -> openapi::OpenApi {
    api.merge(RuntimeApi::openapi());
    let headers = &mut api.components.get_or_insert_default().headers;
    headers.insert(
        REQUEST_ID_HEADER.to_owned(),
        HeaderBuilder::new()
            .schema(Some(string_schema()))
            .description(Some(
                "The request's id: the client's own `x-request-id` when it sent one, else a \
                 UUID v7. Every log line of the request carries it.",
            ))
            .build()
            .into(),
    );
    headers.insert(
        RETRY_AFTER_HEADER.to_owned(),
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
            .description(Some("Seconds to wait before retrying"))
            .build()
            .into(),
    );
    if let Some(receive) = api
        .paths
        .paths
        .get_mut("/events")
        .and_then(|item| item.post.as_mut())
    {
        let topics = consumed
            .iter()
            .map(|topic| format!("- `{}` on `{}`", topic.record_name(), topic.name()))
            .collect::<Vec<_>>()
            .join("\n");
        let description = receive.description.get_or_insert_default();
        description.push_str("\n\nThis function consumes:\n");
        description.push_str(&topics);
    }
    for item in api.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            add_request_id_header(operation);
        }
    }
    api
}

fn add_request_id_header(operation: &mut Operation) {
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            response
                .headers
                .insert("x-request-id".to_owned(), header_ref(REQUEST_ID_HEADER));
        }
    }
}

fn header_ref<T>(name: &str) -> RefOr<T> {
    RefOr::Ref(Ref::new(format!("#/components/headers/{name}")))
}

/// A function's document, built and serialized on the first `GET /openapi.json`: a
/// cold start does not pay for it.
struct LazyDocument {
    api: fn() -> openapi::OpenApi,
    consumed: &'static [Topic],
    json: OnceLock<Bytes>,
}

/// `GET /openapi.json` serving [`document`] of `api` (the function's own part, usually
/// `ApiDoc::openapi`) and the topics its event endpoint consumes.
pub fn route<S: Clone + Send + Sync + 'static>(
    api: fn() -> openapi::OpenApi,
    consumed: &'static [Topic],
) -> MethodRouter<S> {
    get(openapi_json).with_state(Arc::new(LazyDocument {
        api,
        consumed,
        json: OnceLock::new(),
    }))
}

/// This document: the function's HTTP API in OpenAPI 3.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "runtime",
    operation_id = "openapi",
    responses(
        (status = 200, description = "The OpenAPI document of this function", content_type = "application/json", body = Object),
    )
)]
async fn openapi_json(State(lazy): State<Arc<LazyDocument>>) -> Response {
    let json = lazy
        .json
        .get_or_init(|| {
            let document = document((lazy.api)(), lazy.consumed);
            Bytes::from(serde_json::to_vec(&document).unwrap_or_else(|error| {
                tracing::error!(%error, "the OpenAPI document cannot be serialized");
                b"{}".to_vec()
            }))
        })
        .clone();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response()
}

/// Declares the bearer token of `POST /events`.
struct PushAuthScheme;

impl Modify for PushAuthScheme {
    fn modify(&self, api: &mut openapi::OpenApi) {
        let components = api.components.get_or_insert_default();
        components.add_security_scheme(
            PUSH_SECURITY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "With `PUSH_AUTH=oidc` (the default) an OIDC ID token signed by Google \
                         for this service's audience (Pub/Sub push subscriptions, the bridge on \
                         GCP); with `PUSH_AUTH=static` the configured `PUSH_TOKEN`; with \
                         `PUSH_AUTH=none` (the Pub/Sub emulator) no token at all.",
                    ))
                    .build(),
            ),
        );
    }
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
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents `ListQuery::page`, which reads the query leniently
pub struct PageParams {
    /// How many items to return (1..=100).
    #[param(minimum = 1, maximum = 100, default = 50)]
    limite: Option<i64>,
    /// How many items to skip.
    #[param(minimum = 0, default = 0)]
    offset: Option<i64>,
}

fn string_schema() -> Schema {
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
