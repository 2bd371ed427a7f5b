//! `GET /openapi.json`: the OpenAPI document generated from the code describes exactly
//! what the router serves. No database is needed: the pool connects on first use.

use std::collections::BTreeSet;

use alpes_shared::{
    domain::Contract,
    http::Runtime,
    store::Context,
    testing::{openapi, test_config},
};
use chrono::Utc;
use send_contract::SignContractRequest;
use uuid::Uuid;

/// Every operation `send_contract::app` routes.
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/contratos"),
    ("post", "/contratos"),
    ("get", "/contratos/{id}"),
    ("post", "/events"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("post", "/outbox/relay"),
    ("get", "/openapi.json"),
    ("post", "/contratos/crear-comando"),
    ("get", "/contratos/vigentes"),
    ("get", "/spec"),
    ("get", "/"),
];

fn app() -> axum::Router {
    let runtime = Runtime::new(send_contract::NAME, test_config(&[]), Context::Alpes);
    send_contract::app(runtime)
}

#[tokio::test]
async fn the_document_lists_every_operation_the_router_serves() {
    let document = openapi::fetch(app()).await;
    openapi::assert_operations(&document, OPERATIONS);
    assert_eq!(document["info"]["title"], send_contract::NAME);
    openapi::assert_routed(&app(), &document).await;
}

#[tokio::test]
async fn the_create_body_is_described_with_its_spanish_fields() {
    let document = openapi::fetch(app()).await;
    let body = openapi::request_schema(&document, "post", "/contratos");
    // SPEC section 3 requires `id_influencer` and `id_campana`; `monto_total` (> 0) has
    // no default, so it is required too.
    assert_eq!(
        openapi::required(body),
        BTreeSet::from(["id_influencer", "id_campana", "monto_total"])
    );
    let properties = body["properties"].as_object().expect("properties");
    let names: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "id",
            "id_influencer",
            "id_campana",
            "monto_total",
            "moneda",
            "tipo_contrato",
            "fecha_inicio",
            "fecha_fin",
            "entregables",
        ])
    );
    assert_eq!(properties["id"]["format"], "uuid");
    assert_eq!(properties["monto_total"]["exclusiveMinimum"], 0);
    assert_eq!(
        openapi::input_vocabulary(&document, &properties["tipo_contrato"]),
        ["puntual", "temporal", "exclusivo", "colaboracion"]
    );
}

#[tokio::test]
async fn responses_and_errors_are_described() {
    let document = openapi::fetch(app()).await;
    let created = openapi::response(&document, "post", "/contratos", "201");
    assert!(created["headers"]["Location"].is_object(), "{created}");
    assert_eq!(
        created["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Contract"
    );
    openapi::response(&document, "post", "/contratos", "200");
    openapi::assert_problem_responses(
        &document,
        "post",
        "/contratos",
        &["400", "409", "413", "422", "500", "503"],
    );
    openapi::assert_problem_responses(&document, "get", "/contratos", &["422"]);
    openapi::assert_problem_responses(&document, "get", "/contratos/{id}", &["404"]);
    let list = openapi::operation(&document, "get", "/contratos");
    let parameters: BTreeSet<&str> = list["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|parameter| parameter["name"].as_str())
        .collect();
    assert_eq!(
        parameters,
        BTreeSet::from(["limite", "offset", "id_influencer", "id_campana", "estado"])
    );
    openapi::assert_event_endpoint(&document);
}

/// The documented example is a body the domain accepts: the description and the code
/// have not drifted apart.
#[tokio::test]
async fn the_documented_example_signs_a_contract() {
    let document = openapi::fetch(app()).await;
    let mut example = openapi::request_schema(&document, "post", "/contratos")["example"].clone();
    // The id is the request's, not the input's (which refuses unknown fields).
    example.as_object_mut().expect("an object").remove("id");
    let input: SignContractRequest = serde_json::from_value(example).expect("a create body");
    Contract::sign(input.into(), Uuid::now_v7(), Utc::now()).expect("a valid contract");
}
