//! `register-influencer` over HTTP against the real PostgreSQL and Pulsar: every status
//! of the API contract, idempotent creates, the event published through the outbox, and
//! the `EventoCrearInfluencer` command on the event endpoint.

mod common;

use std::collections::BTreeMap;

use alpes_shared::{
    events::{CrearInfluencerPayload, IntegrationEvent, Topic},
    store::Context,
    testing::{TestApp, problem, problem_fields as fields, receive_matching, subscribe},
};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

async fn spawn(connect: PgConnectOptions) -> TestApp {
    TestApp::spawn(
        register_influencer::NAME,
        Context::Alpes,
        connect,
        &[],
        register_influencer::app,
    )
    .await
}

fn ana() -> Value {
    json!({
        "nombre": "  Ana García ",
        "email": "Ana.Garcia@Example.com",
        "categorias": ["Moda", "lifestyle", "moda"],
        "plataformas": ["instagram"],
        "sitio_web": "https://ana.example.com",
        "telefono": "+34 600 111 222",
    })
}

async fn post(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/influencers"))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn registering_stores_answers_201_and_announces_the_influencer(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let mut announcements = subscribe(Topic::Influencers).await;

    let response = post(&app, &ana()).await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().contains_key("x-request-id"));
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/influencers/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(created["nombre"], "Ana García");
    assert_eq!(created["email"], "ana.garcia@example.com");
    assert_eq!(created["categorias"], json!(["moda", "lifestyle"]));
    assert_eq!(created["estado"], "pendiente");

    let fetched: Value = app
        .client
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, created);

    let id = created["id"].as_str().unwrap().to_owned();
    let (event, properties) = receive_matching(&mut announcements, Topic::Influencers, |event| {
        matches!(event, IntegrationEvent::InfluencerRegistrado(p) if p.id_influencer.as_deref() == Some(id.as_str()))
    })
    .await;
    let IntegrationEvent::InfluencerRegistrado(payload) = event else {
        unreachable!()
    };
    assert_eq!(payload.email.as_deref(), Some("ana.garcia@example.com"));
    assert_eq!(properties["event_type"], "InfluencerRegistrado");
    assert_eq!(properties["correlation_id"], id);
    assert_eq!(properties["producer"], "register-influencer");
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn bad_bodies_get_clear_problems(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;

    let not_json = app
        .client
        .post(app.url("/influencers"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(not_json, 400).await;

    let wrong_type = problem(
        post(
            &app,
            &json!({"nombre": "Ana", "email": "a@b.co", "categorias": "moda"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&wrong_type), vec!["categorias"]);

    let everything_wrong = problem(
        post(
            &app,
            &json!({"nombre": " ", "email": "nope", "categorias": [], "plataformas": ["myspace"],
                    "sitio_web": "ftp://x", "telefono": "12", "id": "not-a-uuid"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        fields(&everything_wrong),
        vec!["id"],
        "the id is checked first"
    );
    let everything_wrong = problem(
        post(
            &app,
            &json!({"nombre": " ", "email": "nope", "categorias": [], "plataformas": ["myspace"],
                    "sitio_web": "ftp://x", "telefono": "12"}),
        )
        .await,
        422,
    )
    .await;
    for field in ["nombre", "email", "categorias", "sitio_web", "telefono"] {
        assert!(
            fields(&everything_wrong).contains(&field),
            "{field}: {everything_wrong}"
        );
    }
    assert!(
        fields(&everything_wrong)
            .iter()
            .any(|f| f.starts_with("plataformas"))
    );

    let huge = json!({"nombre": "Ana", "email": "a@b.co", "categorias": ["moda"],
                      "descripcion": "x".repeat(70 * 1024)});
    problem(post(&app, &huge).await, 413).await;

    let unknown = app
        .client
        .get(app.url(&format!("/influencers/{}", Uuid::now_v7())))
        .send()
        .await
        .unwrap();
    problem(unknown, 404).await;
    let not_an_id = app
        .client
        .get(app.url("/influencers/nope"))
        .send()
        .await
        .unwrap();
    problem(not_an_id, 404).await;
    let wrong_method = app
        .client
        .delete(app.url("/influencers"))
        .send()
        .await
        .unwrap();
    problem(wrong_method, 405).await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn creates_are_idempotent_by_id_and_emails_unique(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let id = Uuid::now_v7().to_string();
    let mut body = ana();
    body["id"] = json!(id);

    let first = post(&app, &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let replay = post(&app, &body).await;
    assert_eq!(replay.status(), 200, "same id, same body");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);

    let mut changed = body.clone();
    changed["nombre"] = json!("Otra");
    problem(post(&app, &changed).await, 409).await;

    let mut same_email = ana();
    same_email["email"] = json!("ANA.GARCIA@example.com");
    problem(post(&app, &same_email).await, 409).await;

    let list: Value = app
        .client
        .get(app.url("/influencers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "nothing was stored twice"
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn lists_filter_page_and_refuse_unknown_values(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;
    for (email, categories) in [
        ("a@x.co", ["moda"]),
        ("b@x.co", ["viajes"]),
        ("c@x.co", ["moda"]),
    ] {
        let body = json!({"nombre": "N", "email": email, "categorias": categories});
        assert_eq!(post(&app, &body).await.status(), 201);
    }
    let get = |query: &'static str| {
        let app = &app;
        async move {
            app.client
                .get(app.url(&format!("/influencers{query}")))
                .send()
                .await
                .unwrap()
        }
    };
    let moda: Value = get("?categoria=MODA").await.json().await.unwrap();
    let emails: Vec<_> = moda
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        vec!["a@x.co", "c@x.co"],
        "filtered, in creation order"
    );
    let page: Value = get("?limite=1&offset=1").await.json().await.unwrap();
    assert_eq!(page[0]["email"], "b@x.co");
    let pending: Value = get("?estado=pendiente").await.json().await.unwrap();
    assert_eq!(pending.as_array().unwrap().len(), 3);
    for (query, field) in [
        ("?estado=dormido", "estado"),
        ("?limite=0", "limite"),
        ("?limite=101", "limite"),
        ("?offset=-1", "offset"),
    ] {
        let refused = problem(get(query).await, 422).await;
        assert_eq!(fields(&refused), vec![field]);
    }
}

fn command(id: &str, email: &str) -> IntegrationEvent {
    IntegrationEvent::from(CrearInfluencerPayload {
        id: Some(id.to_owned()),
        nombre: Some("Ana García".into()),
        email: Some(email.into()),
        categorias: Some(vec!["moda".into()]),
        fecha_creacion: Some("2025-09-20T10:00:00.123456".into()),
        ..Default::default()
    })
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn the_command_registers_once_and_refuses_for_good_what_it_cannot(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let no_properties = BTreeMap::new();
    let id = Uuid::new_v4().to_string();

    // As the existing tools send it: no properties; the event id derives from the message id.
    let pushed = app
        .push(
            &command(&id, "ana@example.com"),
            &no_properties,
            "7:1:-1:-1",
        )
        .await;
    assert_eq!(pushed.status(), 204);
    let again = app
        .push(
            &command(&id, "ana@example.com"),
            &no_properties,
            "7:1:-1:-1",
        )
        .await;
    assert_eq!(again.status(), 204, "a redelivery is acknowledged");
    let resent = app
        .push(
            &command(&id, "ana@example.com"),
            &no_properties,
            "7:2:-1:-1",
        )
        .await;
    assert_eq!(
        resent.status(),
        204,
        "the same command resent is acknowledged"
    );
    let stored: Value = app
        .client
        .get(app.url(&format!("/influencers/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["email"], "ana@example.com");

    // Permanent failures: acknowledged (200) and never stored.
    let taken = app
        .push(
            &command(&Uuid::new_v4().to_string(), "ana@example.com"),
            &no_properties,
            "7:3:-1:-1",
        )
        .await;
    assert_eq!(taken.status(), 200);
    let invalid = app
        .push(
            &command(&Uuid::new_v4().to_string(), "not-an-email"),
            &no_properties,
            "7:4:-1:-1",
        )
        .await;
    assert_eq!(invalid.status(), 200);
    let not_uuid = app
        .push(
            &command("inf-12345", "bea@example.com"),
            &no_properties,
            "7:5:-1:-1",
        )
        .await;
    assert_eq!(not_uuid.status(), 200);
    let list: Value = app
        .client
        .get(app.url("/influencers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn the_event_endpoint_wants_a_valid_token_and_a_readable_envelope(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let envelope = alpes_shared::testing::push_envelope(
        &command(&Uuid::new_v4().to_string(), "ana@example.com"),
        &BTreeMap::new(),
        "9:1:-1:-1",
    );
    let missing = app
        .client
        .post(app.url("/events"))
        .json(&envelope)
        .send()
        .await
        .unwrap();
    problem(missing, 401).await;
    let wrong = app
        .client
        .post(app.url("/events"))
        .bearer_auth("nope")
        .json(&envelope)
        .send()
        .await
        .unwrap();
    problem(wrong, 401).await;
    let unreadable = app
        .client
        .post(app.url("/events"))
        .bearer_auth(&app.push_token)
        .json(&json!({"message": {"data": "AAAA", "attributes": {}}}))
        .send()
        .await
        .unwrap();
    problem(unreadable, 400).await;
    let valid = app
        .client
        .post(app.url("/events"))
        .bearer_auth(&app.push_token)
        .json(&envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(valid.status(), 204);
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn request_ids_are_echoed_or_made(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;
    let echoed = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");
    let made = app
        .client
        .get(app.url("/influencers"))
        .send()
        .await
        .unwrap();
    assert!(Uuid::parse_str(made.headers()["x-request-id"].to_str().unwrap()).is_ok());
    let ready = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// `POST /outbox/relay` (for a scheduler): publishes what is due, e.g. an event committed
/// by an instance that stopped before its publish; authenticated as the event pushes.
#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn the_relay_endpoint_publishes_what_the_outbox_holds(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    use alpes_shared::store::outbox;
    let app = spawn(connect).await;
    let mut announcements = subscribe(Topic::Influencers).await;
    let (id, metadata, tx) = common::unpublished_registration(&app, "Rita Relay").await;
    tx.commit().await.unwrap();

    let url = app.url("/outbox/relay");
    let refused = app.client.post(&url).send().await.unwrap();
    problem(refused, 401).await;

    let response = app
        .client
        .post(&url)
        .bearer_auth(&app.push_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report, json!({"published": 1}));
    let (_, properties) = receive_matching(&mut announcements, Topic::Influencers, |event| {
        matches!(event, IntegrationEvent::InfluencerRegistrado(p) if p.id_influencer.as_deref() == Some(id.as_str()))
    })
    .await;
    assert_eq!(properties["event_id"], metadata.event_id.to_string());

    let mut connection = app.runtime.pool.acquire().await.unwrap();
    assert_eq!(outbox::pending_count(&mut connection).await.unwrap(), 0);
    drop(connection);
    let again: Value = app
        .client
        .post(&url)
        .bearer_auth(&app.push_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again, json!({"published": 0}), "nothing twice");
    app.close().await;
}

/// Text PostgreSQL refuses (NUL) is the client's doing: 422 naming the field in a body
/// (unknown fields included, and unknown fields are refused anyway), 400 naming the
/// parameter in a query, a permanent failure (200) for a command; never a 5xx.
#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn nul_and_unknown_fields_are_the_clients_doing_never_a_500(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;

    let mut body = ana();
    body["nombre"] = json!("Ana\u{0}");
    body["categorias"] = json!(["moda", "vi\u{0}ajes"]);
    body["extra"] = json!({"nota": "\u{0}"});
    let refused = problem(post(&app, &body).await, 422).await;
    assert_eq!(
        fields(&refused),
        vec!["categorias[1]", "extra.nota", "nombre"],
        "{refused}"
    );

    let mut body = ana();
    body["apodo"] = json!("Anita");
    let refused = problem(post(&app, &body).await, 422).await;
    assert_eq!(fields(&refused), vec!["apodo"], "{refused}");

    for query in ["categoria=%00", "estado=%00", "moda%00=x", "limite=%00"] {
        let response = app
            .client
            .get(app.url(&format!("/influencers?{query}")))
            .send()
            .await
            .unwrap();
        let refused = problem(response, 400).await;
        assert!(
            refused["detail"].as_str().unwrap().contains("NUL"),
            "{query}: {refused}"
        );
    }
    let response = app
        .client
        .get(app.url("/influencers/%00"))
        .send()
        .await
        .unwrap();
    problem(response, 404).await;

    let id = Uuid::new_v4().to_string();
    let mut bad = command(&id, "nul@example.com");
    if let IntegrationEvent::CrearInfluencer(payload) = &mut bad {
        payload.nombre = Some("Ana\u{0}".into());
        payload.descripcion = Some("\u{0}".into());
    }
    let pushed = app.push(&bad, &BTreeMap::new(), "9:1:-1:-1").await;
    assert_eq!(pushed.status(), 200, "a permanent failure, never a retry");
    let response = app
        .client
        .get(app.url(&format!("/influencers/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

/// An event handler that panics (what a bug would do).
struct Panicking;

impl alpes_shared::http::EventHandler for Panicking {
    fn topics(&self) -> &'static [Topic] {
        &[Topic::CrearInfluencer]
    }

    async fn handle(
        &self,
        _: alpes_shared::http::EventDelivery,
    ) -> Result<alpes_shared::http::Handled, alpes_shared::http::EventError> {
        panic!("a bug in an event handler")
    }
}

/// A panic fails its request alone: a 500 problem (nothing of the panic in it) for a
/// request, a 503 (a retry) for an event; the instance keeps serving. The panicking
/// route and handler exist only in this test's router.
#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_panic_fails_one_request_not_the_instance(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = TestApp::spawn(
        register_influencer::NAME,
        Context::Alpes,
        connect,
        &[],
        |runtime| {
            let routes = axum::Router::new().route(
                "/boom",
                axum::routing::get(|| async {
                    if true {
                        panic!("a bug in a handler");
                    }
                    "unreachable"
                }),
            );
            let events = alpes_shared::http::events_router(
                std::sync::Arc::new(Panicking),
                runtime.push_auth.clone(),
            );
            runtime.router(routes.merge(events))
        },
    )
    .await;

    let response = app
        .client
        .get(app.url("/boom"))
        .header("x-request-id", "req-panic")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-panic");
    let refused = problem(response, 500).await;
    assert!(!refused.to_string().contains("a bug"), "{refused}");

    let pushed = app
        .push(
            &command(&Uuid::new_v4().to_string(), "panic@example.com"),
            &BTreeMap::new(),
            "11:1:-1:-1",
        )
        .await;
    assert_eq!(pushed.status(), 503, "a panicking event is retried");
    assert!(pushed.headers().contains_key("retry-after"));

    for _ in 0..2 {
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), 200, "the instance still serves");
        let again = app.client.get(app.url("/boom")).send().await.unwrap();
        assert_eq!(again.status(), 500);
    }
}

/// The existing system's routes answer as it did, through the same rules.
#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn the_existing_systems_routes_answer_as_it_did(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;
    let get = |path: &str| app.client.get(app.url(path)).send();

    let root: Value = get("/").await.unwrap().json().await.unwrap();
    assert_eq!(
        root,
        json!({"mensaje": "AlpesPartners DIJS - API", "version": "1.0.0", "estado": "activo"})
    );
    let health: Value = get("/health").await.unwrap().json().await.unwrap();
    assert_eq!(health, json!({"status": "up"}));
    let spec: Value = get("/spec").await.unwrap().json().await.unwrap();
    let document: Value = get("/openapi.json").await.unwrap().json().await.unwrap();
    assert_eq!(spec, document);

    let command = |body: &Value| {
        app.client
            .post(app.url("/influencers/registrar-comando"))
            .json(body)
            .send()
    };
    let seed_body = json!({
        "nombre": "Bea Ruiz",
        "email": "bea@example.com",
        "categorias": ["viajes"],
        "descripcion": "Viajes",
        "biografia": "Desde 2018.",
        "sitio_web": "https://bea.example.com",
        "telefono": "+34 600 222 333",
    });
    let response = command(&seed_body).await.unwrap();
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["mensaje"], "Comando procesado");
    let id = accepted["comando_id"].as_str().unwrap().to_owned();
    let stored: Value = get(&format!("/influencers/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["email"], "bea@example.com");
    assert_eq!(stored["estado"], "pendiente");

    problem(command(&seed_body).await.unwrap(), 409).await;
    problem(
        post(
            &app,
            &json!({"nombre": "Otra", "email": "bea@example.com", "categorias": ["x"]}),
        )
        .await,
        409,
    )
    .await;
    let refused = problem(command(&json!({"email": "no"})).await.unwrap(), 422).await;
    assert_eq!(fields(&refused), vec!["nombre", "email", "categorias"]);

    let listed: Vec<Value> = get("/influencers/?categoria=viajes&limite=10")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(post(&app, &ana()).await.status(), 201);
    for path in [
        "/influencers/?plataforma=instagram",
        "/influencers?plataforma=instagram",
    ] {
        let listed: Vec<Value> = get(path).await.unwrap().json().await.unwrap();
        assert_eq!(listed.len(), 1, "{path}");
        assert_eq!(listed[0]["email"], "ana.garcia@example.com");
    }
    let refused = problem(get("/influencers/?plataforma=myspace").await.unwrap(), 422).await;
    assert_eq!(fields(&refused), vec!["plataforma"]);
}
