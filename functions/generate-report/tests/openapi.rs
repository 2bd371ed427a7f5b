//! `GET /openapi.json`: the OpenAPI document generated from the code describes exactly
//! what the router serves. No database is needed: the pool connects on first use.

use std::collections::BTreeSet;

use alpes_shared::{
    http::Runtime,
    store::Context,
    testing::{openapi, test_config},
};

/// Every operation `generate_report::app` routes: reports are created from events only.
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/reportes"),
    ("get", "/reportes/{id}"),
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
    let runtime = Runtime::new(generate_report::NAME, test_config(&[]), Context::Reportes);
    generate_report::app(runtime)
}

#[tokio::test]
async fn the_document_lists_every_operation_the_router_serves() {
    let document = openapi::fetch(app()).await;
    openapi::assert_operations(&document, OPERATIONS);
    assert_eq!(document["info"]["title"], generate_report::NAME);
    openapi::assert_routed(&app(), &document).await;
}

#[tokio::test]
async fn the_report_and_its_reads_are_described() {
    let document = openapi::fetch(app()).await;
    let found = openapi::response(&document, "get", "/reportes/{id}", "200");
    let report = openapi::resolve(&document, &found["content"]["application/json"]["schema"]);
    let properties = report["properties"].as_object().expect("properties");
    let names: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "id",
            "tipo_reporte",
            "nombre",
            "estado",
            "id_campana",
            "id_influencer",
            "id_contrato",
            "monto_total",
            "moneda",
            "motivo",
            "datos_origen",
            "fecha_creacion",
            "fecha_actualizacion",
        ])
    );
    assert_eq!(
        openapi::enum_values(&document, &properties["estado"]),
        ["activo", "completado", "cancelado"]
    );
    let listed = openapi::response(&document, "get", "/reportes", "200");
    assert_eq!(
        listed["content"]["application/json"]["schema"]["items"]["$ref"],
        "#/components/schemas/Report"
    );
    openapi::assert_problem_responses(&document, "get", "/reportes", &["400", "422", "503"]);
    openapi::assert_problem_responses(&document, "get", "/reportes/{id}", &["404"]);
    let list = openapi::operation(&document, "get", "/reportes");
    let parameters: BTreeSet<&str> = list["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|parameter| parameter["name"].as_str())
        .collect();
    assert_eq!(
        parameters,
        BTreeSet::from(["limite", "offset", "id_campana", "estado", "tipo_reporte"])
    );
    let events = openapi::operation(&document, "post", "/events");
    let description = events["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("eventos-campanas") && description.contains("eventos-contratos"),
        "{description}"
    );
    openapi::assert_event_endpoint(&document);
}
