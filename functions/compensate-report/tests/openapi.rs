//! `GET /openapi.json`: the OpenAPI document generated from the code describes exactly
//! what the router serves. No database is needed: the pool connects on first use.

use std::collections::BTreeSet;

use alpes_shared::{
    domain::CancellationReason,
    http::Runtime,
    store::Context,
    testing::{openapi, test_config},
};

/// Every operation `compensate_report::app` routes.
const OPERATIONS: &[(&str, &str)] = &[
    ("post", "/reportes/{id}/compensar"),
    ("post", "/events"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("post", "/outbox/relay"),
    ("get", "/openapi.json"),
    ("get", "/spec"),
    ("get", "/"),
];

const COMPENSATE: &str = "/reportes/{id}/compensar";

fn app() -> axum::Router {
    let runtime = Runtime::new(compensate_report::NAME, test_config(&[]), Context::Reportes);
    compensate_report::app(runtime)
}

#[tokio::test]
async fn the_document_lists_every_operation_the_router_serves() {
    let document = openapi::fetch(app()).await;
    openapi::assert_operations(&document, OPERATIONS);
    assert_eq!(document["info"]["title"], compensate_report::NAME);
    openapi::assert_routed(&app(), &document).await;
}

#[tokio::test]
async fn the_compensation_is_described() {
    let document = openapi::fetch(app()).await;
    let body = openapi::request_schema(&document, "post", COMPENSATE);
    assert_eq!(openapi::required(body), BTreeSet::from(["motivo"]));
    let operation = openapi::operation(&document, "post", COMPENSATE);
    assert_eq!(operation["parameters"][0]["name"], "id");
    assert_eq!(operation["parameters"][0]["in"], "path");
    let compensated = openapi::response(&document, "post", COMPENSATE, "200");
    assert_eq!(
        compensated["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Report"
    );
    openapi::assert_problem_responses(
        &document,
        "post",
        COMPENSATE,
        &["400", "404", "413", "422", "500", "503"],
    );
    openapi::assert_event_endpoint(&document);
}

/// The documented example is a `motivo` the domain accepts.
#[tokio::test]
async fn the_documented_example_is_a_reason() {
    let document = openapi::fetch(app()).await;
    let example = &openapi::request_schema(&document, "post", COMPENSATE)["example"];
    let reason = example["motivo"].as_str().expect("a motivo");
    CancellationReason::parse(reason).expect("a valid reason");
}
