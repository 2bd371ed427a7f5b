//! `GET /openapi.json`: the OpenAPI document generated from the code describes exactly
//! what the router serves. No database is needed: the pool connects on first use.

use std::collections::BTreeSet;

use alpes_shared::{
    domain::Influencer,
    http::Runtime,
    store::Context,
    testing::{openapi, test_config},
};
use chrono::Utc;
use register_influencer::RegisterInfluencerRequest;
use uuid::Uuid;

/// Every operation `register_influencer::app` routes.
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/influencers"),
    ("post", "/influencers"),
    ("get", "/influencers/{id}"),
    ("get", "/influencers/"),
    ("post", "/influencers/registrar-comando"),
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
    let runtime = Runtime::new(register_influencer::NAME, test_config(&[]), Context::Alpes);
    register_influencer::app(runtime)
}

#[tokio::test]
async fn the_document_lists_every_operation_the_router_serves() {
    let document = openapi::fetch(app()).await;
    openapi::assert_operations(&document, OPERATIONS);
    assert_eq!(document["info"]["title"], register_influencer::NAME);
    openapi::assert_routed(&app(), &document).await;
}

#[tokio::test]
async fn the_create_body_is_described_with_its_spanish_fields() {
    let document = openapi::fetch(app()).await;
    let body = openapi::request_schema(&document, "post", "/influencers");
    assert_eq!(
        openapi::required(body),
        BTreeSet::from(["nombre", "email", "categorias"]),
        "SPEC section 3"
    );
    let properties = body["properties"].as_object().expect("properties");
    let names: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "id",
            "nombre",
            "email",
            "categorias",
            "plataformas",
            "descripcion",
            "biografia",
            "sitio_web",
            "telefono",
        ])
    );
    assert_eq!(properties["id"]["format"], "uuid");
    assert_eq!(
        body["additionalProperties"], false,
        "unknown fields are refused"
    );
    assert_eq!(properties["categorias"]["maxItems"], 10);
    assert_eq!(
        openapi::input_vocabulary(&document, &properties["plataformas"]["items"]),
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

#[tokio::test]
async fn responses_and_errors_are_described() {
    let document = openapi::fetch(app()).await;
    let created = openapi::response(&document, "post", "/influencers", "201");
    assert!(created["headers"]["Location"].is_object(), "{created}");
    assert_eq!(
        created["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Influencer"
    );
    openapi::response(&document, "post", "/influencers", "200");
    openapi::assert_problem_responses(
        &document,
        "post",
        "/influencers",
        &["400", "409", "413", "422", "500", "503"],
    );
    openapi::assert_problem_responses(&document, "get", "/influencers", &["422"]);
    openapi::assert_problem_responses(&document, "get", "/influencers/{id}", &["404"]);
    let list = openapi::operation(&document, "get", "/influencers");
    let parameters: BTreeSet<&str> = list["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|parameter| parameter["name"].as_str())
        .collect();
    assert_eq!(
        parameters,
        BTreeSet::from(["limite", "offset", "categoria", "estado", "plataforma"])
    );
    openapi::assert_event_endpoint(&document);
}

/// The documented example is a body the domain accepts: the description and the code
/// have not drifted apart.
#[tokio::test]
async fn the_documented_example_registers() {
    let document = openapi::fetch(app()).await;
    let mut example = openapi::request_schema(&document, "post", "/influencers")["example"].clone();
    // The id is the request's, not the input's (which refuses unknown fields).
    example.as_object_mut().expect("an object").remove("id");
    let input: RegisterInfluencerRequest = serde_json::from_value(example).expect("a create body");
    Influencer::register(input.into(), Uuid::now_v7(), Utc::now()).expect("a valid influencer");
}
