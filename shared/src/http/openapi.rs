//! The OpenAPI 3 document each function serves at `GET /openapi.json`, generated from the
//! code with `utoipa`.
//!
//! A function describes its own API: its handlers carry `#[utoipa::path]`, its bodies
//! derive `ToSchema`, and a `#[derive(OpenApi)]` lists them. [`document`] adds what every
//! function shares (`POST /events`, `/health`, `/ready`, `/metrics`, `/openapi.json`, the
//! problem+json errors, the push authentication, the `x-request-id` header), and [`route`]
//! serves the result, serialized once.
//!
//! The domain knows nothing of this: request bodies are described by documentation types
//! in the function crates (the handlers read them leniently, to list every field error in
//! one 422), and closed vocabularies are described from the domain's own lists in
//! [`super::schemas`], which the handlers import (never this module, which imports them).

use std::sync::{Arc, OnceLock};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::{MethodRouter, get},
};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, RefOr,
        header::HeaderBuilder,
        path::Operation,
        schema::{ObjectBuilder, Type},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

/// The schemas and response descriptors, where the functions have always found them.
pub use super::schemas::*;
use super::{events, metrics, problem, runtime, serve};
use crate::events::Topic;

/// The security scheme `POST /events` requires.
pub const PUSH_SECURITY: &str = "push_token";

/// What every function serves besides its own API.
#[derive(OpenApi)]
#[openapi(
    paths(serve::health, serve::root, runtime::ready, runtime::relay_now, metrics::metrics, events::receive, openapi_json, spec),
    components(schemas(problem::Problem, ProblemFieldError, serve::Liveness, serve::ApiBanner)),
    modifiers(&PushAuthScheme),
    tags(
        (name = "events", description = "Integration events pushed in the Pub/Sub push format"),
        (name = "runtime", description = "Liveness, readiness, metrics and this document"),
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
    document_response(&lazy)
}

/// [`route`], at `GET /spec`, where the existing system served its document.
pub fn spec_route<S: Clone + Send + Sync + 'static>(
    api: fn() -> openapi::OpenApi,
    consumed: &'static [Topic],
) -> MethodRouter<S> {
    get(spec).with_state(Arc::new(LazyDocument {
        api,
        consumed,
        json: OnceLock::new(),
    }))
}

/// This document again, where the existing system served its own.
#[utoipa::path(
    get,
    path = "/spec",
    tag = "runtime",
    operation_id = "spec",
    responses(
        (status = 200, description = "The OpenAPI document of this function (as `/openapi.json`)", content_type = "application/json", body = Object),
    )
)]
async fn spec(State(lazy): State<Arc<LazyDocument>>) -> Response {
    document_response(&lazy)
}

fn document_response(lazy: &LazyDocument) -> Response {
    let json = lazy
        .json
        .get_or_init(|| {
            let document = document((lazy.api)(), lazy.consumed);
            let document = serde_json::to_value(&document).map(|mut value| {
                expand_text_patterns(&mut value);
                value
            });
            Bytes::from(
                document
                    .and_then(|value| serde_json::to_vec(&value))
                    .unwrap_or_else(|error| {
                        tracing::error!(%error, "the OpenAPI document cannot be serialized");
                        b"{}".to_vec()
                    }),
            )
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
