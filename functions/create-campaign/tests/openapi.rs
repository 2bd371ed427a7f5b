//! `GET /openapi.json`: the OpenAPI document generated from the code describes exactly
//! what the router serves. No database is needed: the pool connects on first use.

use std::collections::BTreeSet;

use alpes_shared::{
    domain::Campaign,
    http::Runtime,
    store::Context,
    testing::{openapi, test_config},
};
use chrono::Utc;
use create_campaign::CreateCampaignRequest;
use uuid::Uuid;

/// Every operation `create_campaign::app` routes.
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/campanas"),
    ("post", "/campanas"),
    ("get", "/campanas/{id}"),
    ("post", "/events"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("post", "/outbox/relay"),
    ("get", "/openapi.json"),
    ("get", "/spec"),
    ("get", "/"),
];

fn app() -> axum::Router {
    let runtime = Runtime::new(create_campaign::NAME, test_config(&[]), Context::Alpes);
    create_campaign::app(runtime)
}

#[tokio::test]
async fn the_document_lists_every_operation_the_router_serves() {
    let document = openapi::fetch(app()).await;
    openapi::assert_operations(&document, OPERATIONS);
    assert_eq!(document["info"]["title"], create_campaign::NAME);
    openapi::assert_routed(&app(), &document).await;
}

#[tokio::test]
async fn the_create_body_is_described_with_its_spanish_fields() {
    let document = openapi::fetch(app()).await;
    let schema = openapi::request_schema(&document, "post", "/campanas");
    // The fields and, beside them, the influencer's all-or-none rule (`openapi::together`).
    let body = &schema["allOf"][0];
    let rule = schema["allOf"][1]["anyOf"]
        .as_array()
        .expect("the together rule");
    assert_eq!(rule.len(), 2);
    assert_eq!(
        rule[1]["required"],
        serde_json::json!(["influencer_id", "influencer_nombre", "influencer_email"])
    );
    assert_eq!(rule[1]["properties"]["influencer_email"]["format"], "email");
    // SPEC section 3 requires `nombre` and `descripcion`; `valor_comision` (> 0) has no
    // default, so it is required too.
    assert_eq!(
        openapi::required(body),
        BTreeSet::from(["nombre", "descripcion", "valor_comision"])
    );
    let properties = body["properties"].as_object().expect("properties");
    let names: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "id",
            "nombre",
            "descripcion",
            "tipo_comision",
            "valor_comision",
            "moneda",
            "categorias_objetivo",
            "fecha_inicio",
            "fecha_fin",
            "influencer_id",
            "influencer_nombre",
            "influencer_email",
            "tipo_contrato",
            "monto_base",
            "entregables",
        ])
    );
    assert_eq!(properties["id"]["format"], "uuid");
    assert_eq!(
        openapi::formats(&document, &properties["fecha_inicio"]),
        ["date-time"]
    );
    assert_eq!(
        openapi::input_vocabulary(&document, &properties["tipo_comision"]),
        ["cpa", "cpl", "cpc"]
    );
    assert_eq!(
        openapi::input_vocabulary(&document, &properties["tipo_contrato"]),
        ["puntual", "temporal", "exclusivo", "colaboracion"]
    );
}

#[tokio::test]
async fn responses_and_errors_are_described() {
    let document = openapi::fetch(app()).await;
    let created = openapi::response(&document, "post", "/campanas", "201");
    assert!(created["headers"]["Location"].is_object(), "{created}");
    assert_eq!(
        created["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Campaign"
    );
    openapi::response(&document, "post", "/campanas", "200");
    openapi::assert_problem_responses(
        &document,
        "post",
        "/campanas",
        &["400", "409", "413", "422", "500", "503"],
    );
    openapi::assert_problem_responses(&document, "get", "/campanas", &["422"]);
    openapi::assert_problem_responses(&document, "get", "/campanas/{id}", &["404"]);
    let list = openapi::operation(&document, "get", "/campanas");
    let parameters: BTreeSet<&str> = list["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|parameter| parameter["name"].as_str())
        .collect();
    assert_eq!(
        parameters,
        BTreeSet::from(["limite", "offset", "estado", "influencer_id"])
    );
    openapi::assert_event_endpoint(&document);
}

/// The documented example is a body the domain accepts: the description and the code
/// have not drifted apart.
#[tokio::test]
async fn the_documented_example_creates_a_campaign() {
    let document = openapi::fetch(app()).await;
    let mut example =
        openapi::request_schema(&document, "post", "/campanas")["allOf"][0]["example"].clone();
    // The id is the request's, not the input's (which refuses unknown fields).
    example.as_object_mut().expect("an object").remove("id");
    let input: CreateCampaignRequest = serde_json::from_value(example).expect("a create body");
    Campaign::create(input.into(), Uuid::now_v7(), Utc::now()).expect("a valid campaign");
}
