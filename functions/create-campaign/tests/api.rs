//! `create-campaign` over HTTP against the real PostgreSQL and Pulsar: every status of the
//! API contract, idempotent creates, `EventoCampanaCreada` published through the outbox,
//! and the welcome campaign made exactly once per `EventoInfluencerRegistrado`.

use std::{collections::BTreeMap, time::Duration};

use alpes_shared::{
    events::{EventMetadata, InfluencerRegistradoPayload, IntegrationEvent, Topic},
    store::Context,
    testing::{TestApp, problem, problem_fields as fields, receive_matching, subscribe},
};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

async fn spawn(connect: PgConnectOptions) -> TestApp {
    TestApp::spawn(
        create_campaign::NAME,
        Context::Alpes,
        connect,
        &[],
        create_campaign::app,
    )
    .await
}

fn autumn() -> Value {
    json!({
        "nombre": " Lanzamiento otoño ",
        "descripcion": "Colección nueva",
        "tipo_comision": "CPL",
        "valor_comision": 19.99,
        "moneda": "eur",
        "categorias_objetivo": ["Moda", "moda", "viajes"],
        "fecha_inicio": "2025-10-01T00:00:00Z",
        "fecha_fin": "2025-12-31T00:00:00Z",
        "influencer_id": "inf-12345",
        "influencer_nombre": "Ana Gómez",
        "influencer_email": "ANA@example.com",
        "tipo_contrato": "exclusivo",
        "monto_base": 500,
        "entregables": "3 publicaciones",
    })
}

async fn post(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/campanas"))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

/// Announcements waiting in or published from the outbox, by topic.
async fn announced(app: &TestApp, topic: Topic) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE topic = $1")
        .bind(topic.name())
        .fetch_one(&app.runtime.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn creating_stores_answers_201_and_announces_the_campaign(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let mut announcements = subscribe(Topic::Campanas).await;

    let response = post(&app, &autumn()).await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().contains_key("x-request-id"));
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/campanas/{id}"));
    assert_eq!(created["nombre"], "Lanzamiento otoño");
    assert_eq!(created["tipo_comision"], "cpl");
    assert_eq!(created["valor_comision"], 19.99);
    assert_eq!(created["moneda"], "EUR");
    assert_eq!(created["categorias_objetivo"], json!(["moda", "viajes"]));
    assert_eq!(created["influencer_email"], "ana@example.com");
    assert_eq!(created["monto_base"], 500.0);
    assert_eq!(created["tipo_contrato"], "exclusivo");
    assert_eq!(created["estado"], "activa");
    assert_eq!(created["bienvenida"], false);
    assert_eq!(get_json(&app, &location).await, created);

    let (event, properties) = receive_matching(&mut announcements, Topic::Campanas, |event| {
        matches!(event, IntegrationEvent::CampanaCreada(p) if p.campana_id.as_deref() == Some(id.as_str()))
    })
    .await;
    let IntegrationEvent::CampanaCreada(payload) = event else {
        unreachable!()
    };
    assert_eq!(payload.nombre.as_deref(), Some("Lanzamiento otoño"));
    assert_eq!(payload.valor_comision, Some(19.99));
    assert_eq!(payload.monto_base, Some(500.0));
    assert_eq!(payload.moneda.as_deref(), Some("EUR"));
    assert_eq!(
        payload.fecha_inicio.as_deref(),
        Some("2025-10-01T00:00:00.000000Z")
    );
    assert_eq!(
        payload.fecha_fin.as_deref(),
        Some("2025-12-31T00:00:00.000000Z")
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(payload.fecha_creacion.as_deref().unwrap()).is_ok()
    );
    assert_eq!(payload.influencer_id.as_deref(), Some("inf-12345"));
    assert_eq!(payload.influencer_nombre.as_deref(), Some("Ana Gómez"));
    assert_eq!(payload.influencer_email.as_deref(), Some("ana@example.com"));
    assert_eq!(payload.tipo_contrato.as_deref(), Some("exclusivo"));
    assert_eq!(payload.entregables.as_deref(), Some("3 publicaciones"));
    assert_eq!(properties["event_type"], "CampanaCreada");
    assert_eq!(
        properties["correlation_id"], id,
        "an API campaign starts its saga"
    );
    assert_eq!(properties["producer"], "create-campaign");
    assert!(!properties.contains_key("causation_id"));
    let key: String = sqlx::query_scalar("SELECT message_key FROM outbox WHERE event_id = $1")
        .bind(Uuid::parse_str(&properties["event_id"]).unwrap())
        .fetch_one(&app.runtime.pool)
        .await
        .unwrap();
    assert_eq!(key, id, "the message key is the campaign id");
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn defaults_apply_to_a_minimal_campaign(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;
    let response = post(
        &app,
        &json!({"nombre": "Verano", "descripcion": "Playa", "valor_comision": "12.5"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["tipo_comision"], "cpa");
    assert_eq!(created["moneda"], "USD");
    assert_eq!(created["tipo_contrato"], "puntual");
    assert_eq!(created["valor_comision"], 12.5);
    assert_eq!(
        created["monto_base"], 12.5,
        "monto_base defaults to valor_comision"
    );
    assert_eq!(created["categorias_objetivo"], json!([]));
    assert_eq!(created["influencer_id"], Value::Null);
    assert_eq!(created["fecha_fin"], Value::Null);
    assert!(created["fecha_inicio"].is_string());
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn bad_bodies_get_clear_problems(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;

    let not_json = app
        .client
        .post(app.url("/campanas"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(not_json, 400).await;

    let wrong_type = problem(
        post(
            &app,
            &json!({"nombre": "C", "descripcion": "D", "valor_comision": 10, "categorias_objetivo": "moda"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&wrong_type), vec!["categorias_objetivo"]);
    let not_a_number = problem(
        post(
            &app,
            &json!({"nombre": "C", "descripcion": "D", "valor_comision": "mucho"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&not_a_number), vec!["valor_comision"]);
    let not_an_object = problem(post(&app, &json!(["nombre"])).await, 422).await;
    assert_eq!(fields(&not_an_object), vec!["body"]);

    let bad_id = problem(
        post(
            &app,
            &json!({"nombre": "C", "descripcion": "D", "valor_comision": 10, "id": "not-a-uuid"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&bad_id), vec!["id"]);

    let missing = problem(post(&app, &json!({})).await, 422).await;
    assert_eq!(
        fields(&missing),
        vec!["nombre", "descripcion", "valor_comision"]
    );
    let everything_wrong = problem(
        post(
            &app,
            &json!({"nombre": " ", "descripcion": "D", "tipo_comision": "cpm", "valor_comision": -1,
                    "moneda": "dollars", "fecha_inicio": "2025-10-01T00:00:00Z",
                    "fecha_fin": "2025-09-01T00:00:00Z", "influencer_id": "inf-1",
                    "tipo_contrato": "vitalicio", "monto_base": 1.001}),
        )
        .await,
        422,
    )
    .await;
    for field in [
        "nombre",
        "tipo_comision",
        "valor_comision",
        "moneda",
        "fecha_fin",
        "influencer_nombre",
        "influencer_email",
        "tipo_contrato",
        "monto_base",
    ] {
        assert!(
            fields(&everything_wrong).contains(&field),
            "{field}: {everything_wrong}"
        );
    }

    let huge = json!({"nombre": "C", "descripcion": "x".repeat(70 * 1024), "valor_comision": 1});
    problem(post(&app, &huge).await, 413).await;

    let unknown = app
        .client
        .get(app.url(&format!("/campanas/{}", Uuid::now_v7())))
        .send()
        .await
        .unwrap();
    problem(unknown, 404).await;
    let not_an_id = app
        .client
        .get(app.url("/campanas/camp-1"))
        .send()
        .await
        .unwrap();
    problem(not_an_id, 404).await;
    let wrong_method = app
        .client
        .delete(app.url("/campanas"))
        .send()
        .await
        .unwrap();
    problem(wrong_method, 405).await;
    assert_eq!(announced(&app, Topic::Campanas).await, 0);
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn creates_are_idempotent_by_id(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;
    let id = Uuid::now_v7().to_string();
    let mut body = autumn();
    body["id"] = json!(id);

    let first = post(&app, &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["id"], id);
    let replay = post(&app, &body).await;
    assert_eq!(replay.status(), 200, "same id, same body");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);

    let mut changed = body.clone();
    changed["nombre"] = json!("Otra");
    problem(post(&app, &changed).await, 409).await;

    let list = get_json(&app, "/campanas").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "stored once");
    assert_eq!(announced(&app, Topic::Campanas).await, 1, "announced once");
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn lists_filter_page_and_refuse_unknown_values(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;
    for (name, influencer) in [("A", Some("inf-1")), ("B", None), ("C", Some("inf-1"))] {
        let mut body = json!({"nombre": name, "descripcion": "D", "valor_comision": 10});
        if let Some(influencer) = influencer {
            body["influencer_id"] = json!(influencer);
            body["influencer_nombre"] = json!("Ana");
            body["influencer_email"] = json!("ana@example.com");
        }
        assert_eq!(post(&app, &body).await.status(), 201);
    }
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|campaign| campaign["nombre"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&get_json(&app, "/campanas?influencer_id=inf-1").await),
        ["A", "C"],
        "filtered, in creation order"
    );
    assert_eq!(
        names(&get_json(&app, "/campanas?limite=1&offset=1").await),
        ["B"]
    );
    assert_eq!(
        names(&get_json(&app, "/campanas?estado=ACTIVA").await).len(),
        3
    );
    assert!(names(&get_json(&app, "/campanas?estado=pausada").await).is_empty());
    for (query, field) in [
        ("?estado=dormida", "estado"),
        ("?limite=0", "limite"),
        ("?limite=101", "limite"),
        ("?limite=x", "limite"),
        ("?offset=-1", "offset"),
    ] {
        let response = app
            .client
            .get(app.url(&format!("/campanas{query}")))
            .send()
            .await
            .unwrap();
        let refused = problem(response, 422).await;
        assert_eq!(fields(&refused), vec![field], "{query}");
    }
    app.close().await;
}

fn registered(id: &str, email: &str) -> IntegrationEvent {
    IntegrationEvent::from(InfluencerRegistradoPayload {
        id_influencer: Some(id.to_owned()),
        nombre: Some("Ana García".into()),
        email: Some(email.to_owned()),
        categorias: Some(vec!["moda".into(), "viajes".into()]),
        fecha_registro: Some(1_758_362_400_123),
    })
}

/// The properties register-influencer sends with its announcement.
fn as_register_influencer_sends(event: &IntegrationEvent) -> BTreeMap<String, String> {
    let IntegrationEvent::InfluencerRegistrado(payload) = event else {
        unreachable!()
    };
    EventMetadata::new(
        event,
        payload.id_influencer.clone().unwrap(),
        "register-influencer",
    )
    .to_properties()
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_registered_influencer_gets_exactly_one_welcome_campaign(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let mut announcements = subscribe(Topic::Campanas).await;
    let influencer = Uuid::now_v7().to_string();
    let event = registered(&influencer, "ana@example.com");
    let properties = as_register_influencer_sends(&event);

    let pushed = app.push(&event, &properties, "3:1:-1:-1").await;
    assert_eq!(pushed.status(), 204);

    let (announced_event, announced_properties) =
        receive_matching(&mut announcements, Topic::Campanas, |event| {
            matches!(event, IntegrationEvent::CampanaCreada(p) if p.influencer_id.as_deref() == Some(influencer.as_str()))
        })
        .await;
    let IntegrationEvent::CampanaCreada(welcome) = announced_event else {
        unreachable!()
    };
    assert_eq!(
        welcome.nombre.as_deref(),
        Some("Campaña de bienvenida para Ana García")
    );
    assert_eq!(welcome.tipo_comision.as_deref(), Some("cpa"));
    assert_eq!(welcome.valor_comision, Some(100.0));
    assert_eq!(welcome.monto_base, Some(100.0));
    assert_eq!(welcome.moneda.as_deref(), Some("USD"));
    assert_eq!(welcome.tipo_contrato.as_deref(), Some("puntual"));
    assert_eq!(
        welcome.categorias_objetivo,
        Some(vec!["moda".to_owned(), "viajes".to_owned()])
    );
    assert_eq!(welcome.influencer_nombre.as_deref(), Some("Ana García"));
    assert_eq!(welcome.influencer_email.as_deref(), Some("ana@example.com"));
    let start =
        chrono::DateTime::parse_from_rfc3339(welcome.fecha_inicio.as_deref().unwrap()).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(welcome.fecha_fin.as_deref().unwrap()).unwrap();
    assert_eq!(end - start, chrono::TimeDelta::days(90));
    assert_eq!(announced_properties["event_type"], "CampanaCreada");
    assert_eq!(
        announced_properties["correlation_id"], influencer,
        "the saga keeps the influencer's id"
    );
    assert_eq!(announced_properties["causation_id"], properties["event_id"]);
    assert_eq!(announced_properties["producer"], "create-campaign");

    // Redelivered as is, then sent again as a new message with a new event id.
    let again = app.push(&event, &properties, "3:1:-1:-1").await;
    assert_eq!(again.status(), 204, "a redelivery is acknowledged");
    let resent = app
        .push(&event, &as_register_influencer_sends(&event), "3:2:-1:-1")
        .await;
    assert_eq!(resent.status(), 204, "the same registration resent");

    let welcomes = get_json(&app, &format!("/campanas?influencer_id={influencer}")).await;
    let welcomes = welcomes.as_array().unwrap();
    assert_eq!(welcomes.len(), 1, "{welcomes:?}");
    assert_eq!(welcomes[0]["bienvenida"], true);
    assert_eq!(welcomes[0]["id"].as_str(), welcome.campana_id.as_deref());
    assert_eq!(announced(&app, Topic::Campanas).await, 1);
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_delivery_that_loses_the_welcome_race_is_a_duplicate(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let influencer = "inf-race";
    // Another delivery's welcome campaign, not yet committed, holds the unique index.
    let mut other = app.runtime.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO campaigns (id, nombre, descripcion, tipo_comision, valor_comision, moneda,
             fecha_inicio, influencer_id, influencer_nombre, influencer_email, tipo_contrato,
             monto_base, bienvenida, estado, fecha_creacion, fecha_actualizacion)
         VALUES ($1, 'Campaña de bienvenida para Ana', 'Bienvenida', 'cpa', 100, 'USD', now(),
             $2, 'Ana', 'ana@example.com', 'puntual', 100, true, 'activa', now(), now())",
    )
    .bind(Uuid::now_v7())
    .bind(influencer)
    .execute(&mut *other)
    .await
    .unwrap();

    let event = registered(influencer, "ana@example.com");
    let push = {
        let client = app.client.clone();
        let url = app.url("/events");
        let envelope = alpes_shared::testing::push_envelope(
            &event,
            &as_register_influencer_sends(&event),
            "4:1:-1:-1",
        );
        let token = app.push_token.clone();
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&envelope)
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!push.is_finished(), "the push waits on the unique index");
    other.commit().await.unwrap();

    let pushed = tokio::time::timeout(Duration::from_secs(10), push)
        .await
        .expect("the push is answered once the race is decided")
        .unwrap()
        .unwrap();
    assert_eq!(pushed.status(), 204);
    let welcomes = get_json(&app, &format!("/campanas?influencer_id={influencer}")).await;
    assert_eq!(welcomes.as_array().unwrap().len(), 1);
    assert_eq!(
        announced(&app, Topic::Campanas).await,
        0,
        "the loser emits nothing"
    );
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn foreign_registrations_are_welcomed_and_unusable_ones_acknowledged(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let no_properties = BTreeMap::new();

    // As another producer sends it: no properties; the saga id comes from the payload.
    let foreign = registered("inf-12345", "bea@example.com");
    let pushed = app.push(&foreign, &no_properties, "5:1:-1:-1").await;
    assert_eq!(pushed.status(), 204);
    let properties: sqlx::types::Json<BTreeMap<String, String>> =
        sqlx::query_scalar("SELECT properties FROM outbox")
            .fetch_one(&app.runtime.pool)
            .await
            .unwrap();
    assert_eq!(properties.0["correlation_id"], "inf-12345");

    // Permanent failures: acknowledged (200), logged, nothing stored or emitted.
    let mut no_email = registered("inf-2", "x@example.com");
    if let IntegrationEvent::InfluencerRegistrado(payload) = &mut no_email {
        payload.email = None;
    }
    let refused = app.push(&no_email, &no_properties, "5:2:-1:-1").await;
    assert_eq!(refused.status(), 200);
    let bad_name = IntegrationEvent::from(InfluencerRegistradoPayload {
        id_influencer: Some("inf-3".into()),
        nombre: Some(" ".into()),
        email: Some("c@example.com".into()),
        ..Default::default()
    });
    let refused = app.push(&bad_name, &no_properties, "5:3:-1:-1").await;
    assert_eq!(refused.status(), 200);
    assert_eq!(
        get_json(&app, "/campanas").await.as_array().unwrap().len(),
        1
    );
    assert_eq!(announced(&app, Topic::Campanas).await, 1);

    // The event endpoint wants the push token.
    let unauthenticated = app
        .client
        .post(app.url("/events"))
        .json(&alpes_shared::testing::push_envelope(
            &foreign,
            &no_properties,
            "5:4:-1:-1",
        ))
        .send()
        .await
        .unwrap();
    problem(unauthenticated, 401).await;
    app.close().await;
}

/// NUL (text PostgreSQL refuses) is the client's doing: 422 naming the field in a body,
/// 400 naming the parameter in a query; unknown body fields are refused; never a 5xx.
#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn nul_and_unknown_fields_are_the_clients_doing_never_a_500(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let mut body = autumn();
    body["descripcion"] = json!("oto\u{0}ño");
    body["categorias_objetivo"] = json!(["\u{0}"]);
    let refused = problem(post(&app, &body).await, 422).await;
    assert_eq!(
        fields(&refused),
        vec!["categorias_objetivo[0]", "descripcion"],
        "{refused}"
    );
    let mut body = autumn();
    body["presupuesto"] = json!(10);
    let refused = problem(post(&app, &body).await, 422).await;
    assert_eq!(fields(&refused), vec!["presupuesto"], "{refused}");

    for query in ["influencer_id=%00", "estado=%00", "influencer_id=a%00b"] {
        let response = app
            .client
            .get(app.url(&format!("/campanas?{query}")))
            .send()
            .await
            .unwrap();
        problem(response, 400).await;
    }
    let response = app
        .client
        .get(app.url("/campanas/%00"))
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
}

/// Issue #14: amounts are bounded so that every cent survives the wire's Avro `float`
/// (131 071.99), refused beyond with a 422 naming the field; a repeated query parameter
/// (an array where the document has one value) is a 400.
#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn amounts_beyond_the_wire_bound_and_repeated_parameters_are_refused(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let mut body = autumn();
    body["valor_comision"] = json!(131_071.99);
    body["monto_base"] = json!(131_071.99);
    let response = post(&app, &body).await;
    assert_eq!(response.status(), 201);

    let mut body = autumn();
    body["valor_comision"] = json!(131_072);
    body["monto_base"] = json!(1e15);
    let refused = problem(post(&app, &body).await, 422).await;
    assert_eq!(
        fields(&refused),
        vec!["valor_comision", "monto_base"],
        "{refused}"
    );

    for query in ["offset=1&offset=2", "estado=activa&estado=activa"] {
        let response = app
            .client
            .get(app.url(&format!("/campanas?{query}")))
            .send()
            .await
            .unwrap();
        problem(response, 400).await;
    }
    for query in ["limite=", "offset=%20"] {
        let response = app
            .client
            .get(app.url(&format!("/campanas?{query}")))
            .send()
            .await
            .unwrap();
        problem(response, 422).await;
    }
}
