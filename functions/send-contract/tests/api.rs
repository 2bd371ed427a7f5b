//! `send-contract` over HTTP against the real PostgreSQL and Pulsar: every status of the
//! API contract, the two contract rules (409 over HTTP, nothing emitted), and the saga's
//! contract step on `EventoCampanaCreada`: one contract or one rejection per campaign,
//! however often the event is delivered, including when a concurrent signing wins a race.

use std::{collections::BTreeMap, time::Duration};

use alpes_shared::{
    events::{CampanaCreadaPayload, EventMetadata, IntegrationEvent, Topic},
    store::Context,
    testing::{
        TestApp, problem, problem_fields as fields, push_envelope, receive_matching, subscribe,
    },
};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

async fn spawn(connect: PgConnectOptions) -> TestApp {
    TestApp::spawn(
        send_contract::NAME,
        Context::Alpes,
        connect,
        &[],
        send_contract::app,
    )
    .await
}

fn contract(influencer: &str, campaign: &str, kind: &str) -> Value {
    json!({
        "id_influencer": influencer,
        "id_campana": campaign,
        "monto_total": 1500.5,
        "moneda": "cop",
        "tipo_contrato": kind,
        "fecha_inicio": "2025-10-01T00:00:00Z",
        "fecha_fin": "2025-11-01T00:00:00-05:00",
        "entregables": "4 historias",
    })
}

async fn post(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/contratos"))
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

/// The events this function wrote to its outbox for `topic`, decoded, oldest first.
async fn announced(app: &TestApp, topic: Topic) -> Vec<IntegrationEvent> {
    let payloads: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT payload FROM outbox WHERE topic = $1 ORDER BY created_at")
            .bind(topic.name())
            .fetch_all(&app.runtime.pool)
            .await
            .unwrap();
    payloads
        .iter()
        .map(|bytes| IntegrationEvent::decode(topic, bytes).unwrap())
        .collect()
}

async fn stored_contracts(app: &TestApp, query: &str) -> Vec<Value> {
    get_json(app, &format!("/contratos{query}"))
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn signing_stores_answers_201_and_announces_the_contract(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let mut announcements = subscribe(Topic::Contratos).await;

    let response = post(&app, &contract("inf-1", "camp-1", "Temporal")).await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().contains_key("x-request-id"));
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/contratos/{id}"));
    assert_eq!(created["id_influencer"], "inf-1");
    assert_eq!(created["id_campana"], "camp-1");
    assert_eq!(created["monto_total"], 1500.5);
    assert_eq!(created["moneda"], "COP");
    assert_eq!(created["tipo_contrato"], "temporal");
    assert_eq!(created["fecha_fin"], "2025-11-01T05:00:00Z");
    assert_eq!(created["entregables"], "4 historias");
    assert_eq!(created["estado"], "activo");
    assert_eq!(get_json(&app, &location).await, created);

    let (event, properties) = receive_matching(&mut announcements, Topic::Contratos, |event| {
        matches!(event, IntegrationEvent::ContratoCreado(p) if p.id_contrato.as_deref() == Some(id.as_str()))
    })
    .await;
    let IntegrationEvent::ContratoCreado(payload) = event else {
        unreachable!()
    };
    assert_eq!(payload.id_influencer.as_deref(), Some("inf-1"));
    assert_eq!(payload.id_campana.as_deref(), Some("camp-1"));
    assert_eq!(payload.monto_total, Some(1500.5));
    assert_eq!(payload.moneda.as_deref(), Some("COP"));
    assert_eq!(payload.tipo_contrato.as_deref(), Some("temporal"));
    assert!(
        chrono::DateTime::parse_from_rfc3339(payload.fecha_creacion.as_deref().unwrap()).is_ok()
    );
    assert_eq!(properties["event_type"], "ContratoCreado");
    assert_eq!(
        properties["correlation_id"], "camp-1",
        "an API contract joins its campaign's saga"
    );
    assert_eq!(properties["producer"], "send-contract");
    let key: String = sqlx::query_scalar("SELECT message_key FROM outbox WHERE event_id = $1")
        .bind(Uuid::parse_str(&properties["event_id"]).unwrap())
        .fetch_one(&app.runtime.pool)
        .await
        .unwrap();
    assert_eq!(key, id, "the message key is the contract id");
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn bad_bodies_get_clear_problems(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;

    let not_json = app
        .client
        .post(app.url("/contratos"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(not_json, 400).await;

    let wrong_type = problem(
        post(
            &app,
            &json!({"id_influencer": "inf-1", "id_campana": 7, "monto_total": 10}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&wrong_type), vec!["id_campana"]);
    let not_a_number = problem(
        post(
            &app,
            &json!({"id_influencer": "inf-1", "id_campana": "camp-1", "monto_total": "mucho"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&not_a_number), vec!["monto_total"]);
    let bad_id = problem(
        post(
            &app,
            &json!({"id_influencer": "inf-1", "id_campana": "camp-1", "monto_total": 10, "id": 5}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&bad_id), vec!["id"]);

    let missing = problem(post(&app, &json!({})).await, 422).await;
    assert_eq!(
        fields(&missing),
        vec!["id_influencer", "id_campana", "monto_total"]
    );
    let everything_wrong = problem(
        post(
            &app,
            &json!({"id_influencer": " ", "id_campana": "camp-1", "monto_total": 0,
                    "moneda": "US", "tipo_contrato": "vitalicio",
                    "fecha_inicio": "2025-10-01T00:00:00Z", "fecha_fin": "2025-09-01T00:00:00Z",
                    "entregables": "e".repeat(2001)}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        fields(&everything_wrong),
        vec![
            "id_influencer",
            "moneda",
            "monto_total",
            "tipo_contrato",
            "fecha_fin",
            "entregables"
        ]
    );

    let huge = json!({"id_influencer": "inf-1", "id_campana": "camp-1", "monto_total": 1,
                      "entregables": "x".repeat(70 * 1024)});
    problem(post(&app, &huge).await, 413).await;

    let unknown = app
        .client
        .get(app.url(&format!("/contratos/{}", Uuid::now_v7())))
        .send()
        .await
        .unwrap();
    problem(unknown, 404).await;
    let not_an_id = app
        .client
        .get(app.url("/contratos/ctr-1"))
        .send()
        .await
        .unwrap();
    problem(not_an_id, 404).await;
    let wrong_method = app.client.put(app.url("/contratos")).send().await.unwrap();
    problem(wrong_method, 405).await;
    assert!(announced(&app, Topic::Contratos).await.is_empty());
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn creates_are_idempotent_and_broken_rules_are_409_without_events(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let id = Uuid::now_v7().to_string();
    let mut body = contract("inf-1", "camp-1", "puntual");
    body["id"] = json!(id);

    let first = post(&app, &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["id"], id);
    let replay = post(&app, &body).await;
    assert_eq!(replay.status(), 200, "same id, same body");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    let mut same_terms_other_body = body.clone();
    same_terms_other_body["moneda"] = json!("COP");
    problem(post(&app, &same_terms_other_body).await, 409).await;
    let mut other_terms = body.clone();
    other_terms["monto_total"] = json!(99);
    problem(post(&app, &other_terms).await, 409).await;
    let mut id_of_another_pair = contract("inf-2", "camp-2", "puntual");
    id_of_another_pair["id"] = json!(id);
    problem(post(&app, &id_of_another_pair).await, 409).await;

    // One contract per (influencer, campaign).
    let pair = problem(
        post(&app, &contract("inf-1", "camp-1", "temporal")).await,
        409,
    )
    .await;
    assert!(
        pair["detail"]
            .as_str()
            .unwrap()
            .contains("already has contract"),
        "{pair}"
    );
    // At most one active exclusive contract per influencer; other kinds are not blocked.
    assert_eq!(
        post(&app, &contract("inf-1", "camp-2", "exclusivo"))
            .await
            .status(),
        201
    );
    let exclusive = problem(
        post(&app, &contract("inf-1", "camp-3", "exclusivo")).await,
        409,
    )
    .await;
    assert!(
        exclusive["detail"].as_str().unwrap().contains("exclusive"),
        "{exclusive}"
    );
    assert_eq!(
        post(&app, &contract("inf-1", "camp-4", "colaboracion"))
            .await
            .status(),
        201
    );
    assert_eq!(
        post(&app, &contract("inf-2", "camp-3", "exclusivo"))
            .await
            .status(),
        201,
        "another influencer's exclusivity is not affected"
    );

    assert_eq!(stored_contracts(&app, "").await.len(), 4);
    assert_eq!(
        announced(&app, Topic::Contratos).await.len(),
        4,
        "one announcement per stored contract, none for replays or conflicts"
    );
    assert!(announced(&app, Topic::ContratosError).await.is_empty());
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn lists_filter_page_and_refuse_unknown_values(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;
    for (influencer, campaign) in [
        ("inf-1", "camp-1"),
        ("inf-2", "camp-1"),
        ("inf-1", "camp-2"),
    ] {
        assert_eq!(
            post(&app, &contract(influencer, campaign, "puntual"))
                .await
                .status(),
            201
        );
    }
    let pairs = |list: Vec<Value>| -> Vec<(String, String)> {
        list.iter()
            .map(|c| {
                (
                    c["id_influencer"].as_str().unwrap().to_owned(),
                    c["id_campana"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pair = |influencer: &str, campaign: &str| (influencer.to_owned(), campaign.to_owned());
    assert_eq!(
        pairs(stored_contracts(&app, "?id_influencer=inf-1").await),
        [pair("inf-1", "camp-1"), pair("inf-1", "camp-2")],
        "filtered, in creation order"
    );
    assert_eq!(
        pairs(stored_contracts(&app, "?id_campana=camp-1&id_influencer=inf-2").await),
        [pair("inf-2", "camp-1")]
    );
    assert_eq!(
        pairs(stored_contracts(&app, "?limite=1&offset=2").await),
        [pair("inf-1", "camp-2")]
    );
    assert_eq!(stored_contracts(&app, "?estado=Activo").await.len(), 3);
    assert!(stored_contracts(&app, "?estado=cancelado").await.is_empty());
    for (query, field) in [
        ("?estado=firmado", "estado"),
        ("?limite=0", "limite"),
        ("?limite=101", "limite"),
        ("?offset=-1", "offset"),
        ("?offset=uno", "offset"),
    ] {
        let response = app
            .client
            .get(app.url(&format!("/contratos{query}")))
            .send()
            .await
            .unwrap();
        let refused = problem(response, 422).await;
        assert_eq!(fields(&refused), vec![field], "{query}");
    }
    app.close().await;
}

fn campaign(campaign: &str, influencer: Option<&str>, kind: &str) -> IntegrationEvent {
    IntegrationEvent::from(CampanaCreadaPayload {
        campana_id: Some(campaign.to_owned()),
        nombre: Some("Verano".into()),
        descripcion: Some("Playa".into()),
        tipo_comision: Some("cpa".into()),
        valor_comision: Some(19.99),
        moneda: Some("eur".into()),
        categorias_objetivo: Some(vec!["moda".into()]),
        fecha_inicio: Some("2025-09-20T10:00:00.123456".into()),
        influencer_id: influencer.map(str::to_owned),
        influencer_nombre: influencer.map(|_| "Ana".to_owned()),
        influencer_email: influencer.map(|_| "ana@example.com".to_owned()),
        monto_base: Some(250.5),
        entregables: Some("2 reels".into()),
        tipo_contrato: Some(kind.to_owned()),
        fecha_creacion: Some("2025-09-13 01:07:56.578686".into()),
        ..Default::default()
    })
}

/// The properties create-campaign sends with a welcome campaign of `saga`.
fn as_create_campaign_sends(event: &IntegrationEvent, saga: &str) -> BTreeMap<String, String> {
    EventMetadata::new(event, saga, "create-campaign").to_properties()
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_campaign_naming_an_influencer_gets_its_contract_once(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let mut announcements = subscribe(Topic::Contratos).await;
    let campaign_id = Uuid::now_v7().to_string();
    let saga = Uuid::now_v7().to_string();
    let event = campaign(&campaign_id, Some("inf-1"), "temporal");
    let properties = as_create_campaign_sends(&event, &saga);

    let pushed = app.push(&event, &properties, "6:1:-1:-1").await;
    assert_eq!(pushed.status(), 204);
    let (created, created_properties) =
        receive_matching(&mut announcements, Topic::Contratos, |event| {
            matches!(event, IntegrationEvent::ContratoCreado(p) if p.id_campana.as_deref() == Some(campaign_id.as_str()))
        })
        .await;
    let IntegrationEvent::ContratoCreado(created) = created else {
        unreachable!()
    };
    assert_eq!(created.id_influencer.as_deref(), Some("inf-1"));
    assert_eq!(created.monto_total, Some(250.5), "monto_base is the total");
    assert_eq!(created.moneda.as_deref(), Some("EUR"));
    assert_eq!(created.tipo_contrato.as_deref(), Some("temporal"));
    assert_eq!(created_properties["event_type"], "ContratoCreado");
    assert_eq!(created_properties["correlation_id"], saga, "same saga");
    assert_eq!(created_properties["causation_id"], properties["event_id"]);
    assert_eq!(created_properties["producer"], "send-contract");

    // Redelivered as is, then resent as a new message with a new event id.
    let again = app.push(&event, &properties, "6:1:-1:-1").await;
    assert_eq!(again.status(), 204);
    let resent = app
        .push(
            &event,
            &as_create_campaign_sends(&event, &saga),
            "6:2:-1:-1",
        )
        .await;
    assert_eq!(resent.status(), 204);

    let stored = stored_contracts(&app, &format!("?id_campana={campaign_id}")).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["id"].as_str(), created.id_contrato.as_deref());
    assert_eq!(stored[0]["entregables"], "2 reels");
    assert_eq!(stored[0]["fecha_inicio"], Value::Null);
    assert_eq!(announced(&app, Topic::Contratos).await.len(), 1);
    assert!(announced(&app, Topic::ContratosError).await.is_empty());
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn campaigns_without_influencer_or_already_contracted_emit_nothing(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let no_properties = BTreeMap::new();

    let nobody = app
        .push(
            &campaign("camp-1", None, "puntual"),
            &no_properties,
            "7:1:-1:-1",
        )
        .await;
    assert_eq!(nobody.status(), 204, "ignored");
    let blank = app
        .push(
            &campaign("camp-2", Some("  "), "puntual"),
            &no_properties,
            "7:2:-1:-1",
        )
        .await;
    assert_eq!(blank.status(), 204, "ignored");
    assert!(stored_contracts(&app, "").await.is_empty());

    // The pair's contract was made over the API: the campaign event is a duplicate.
    assert_eq!(
        post(&app, &contract("inf-5", "camp-5", "exclusivo"))
            .await
            .status(),
        201
    );
    let duplicate = app
        .push(
            &campaign("camp-5", Some("inf-5"), "exclusivo"),
            &no_properties,
            "7:3:-1:-1",
        )
        .await;
    assert_eq!(duplicate.status(), 204);
    assert_eq!(stored_contracts(&app, "").await.len(), 1);
    assert_eq!(
        announced(&app, Topic::Contratos).await.len(),
        1,
        "the API's"
    );
    assert!(announced(&app, Topic::ContratosError).await.is_empty());
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn an_exclusive_conflict_is_rejected_once_even_when_redelivered(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let mut rejections = subscribe(Topic::ContratosError).await;
    let influencer = format!("inf-{}", Uuid::now_v7());
    let held = post(&app, &contract(&influencer, "camp-A", "exclusivo")).await;
    assert_eq!(held.status(), 201);
    let held: Value = held.json().await.unwrap();

    let saga = Uuid::now_v7().to_string();
    let event = campaign("camp-B", Some(&influencer), "exclusivo");
    let properties = as_create_campaign_sends(&event, &saga);
    let pushed = app.push(&event, &properties, "8:1:-1:-1").await;
    assert_eq!(pushed.status(), 204, "a rejection is a handled event");

    let (rejection, rejection_properties) =
        receive_matching(&mut rejections, Topic::ContratosError, |event| {
            matches!(event, IntegrationEvent::ContratoError(p) if p.id_influencer.as_deref() == Some(influencer.as_str()))
        })
        .await;
    let IntegrationEvent::ContratoError(rejection) = rejection else {
        unreachable!()
    };
    assert_eq!(rejection.error.as_deref(), Some("ContratoRechazado"));
    let detail = rejection.error_detalle.clone().unwrap();
    assert!(detail.contains("exclusive"), "{detail}");
    assert!(detail.contains(held["id"].as_str().unwrap()), "{detail}");
    assert_eq!(rejection.id_campana.as_deref(), Some("camp-B"));
    assert_eq!(rejection.id_contrato, None, "no contract exists");
    assert_eq!(rejection.monto_total, Some(250.5));
    assert_eq!(rejection.moneda.as_deref(), Some("EUR"));
    assert_eq!(rejection.tipo_contrato.as_deref(), Some("exclusivo"));
    assert!(rejection.fecha_creacion.is_some());
    assert_eq!(rejection_properties["event_type"], "ContratoError");
    assert_eq!(rejection_properties["correlation_id"], saga);
    assert_eq!(rejection_properties["causation_id"], properties["event_id"]);

    let again = app.push(&event, &properties, "8:1:-1:-1").await;
    assert_eq!(again.status(), 204);
    let resent = app
        .push(
            &event,
            &as_create_campaign_sends(&event, &saga),
            "8:2:-1:-1",
        )
        .await;
    assert_eq!(resent.status(), 204);
    assert_eq!(
        announced(&app, Topic::ContratosError).await.len(),
        1,
        "rejected exactly once"
    );
    assert_eq!(
        stored_contracts(&app, &format!("?id_influencer={influencer}"))
            .await
            .len(),
        1,
        "only the exclusive contract that was there"
    );
    assert_eq!(
        announced(&app, Topic::Contratos).await.len(),
        1,
        "the API's"
    );
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn invalid_campaign_terms_are_rejected_naming_the_fields(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let mut event = campaign("camp-9", Some("inf-9"), "vitalicio");
    if let IntegrationEvent::CampanaCreada(payload) = &mut event {
        payload.monto_base = None;
        payload.valor_comision = None;
        payload.moneda = Some("pesos".into());
    }
    let pushed = app.push(&event, &BTreeMap::new(), "9:1:-1:-1").await;
    assert_eq!(pushed.status(), 204);
    let again = app.push(&event, &BTreeMap::new(), "9:1:-1:-1").await;
    assert_eq!(again.status(), 204);

    let rejections = announced(&app, Topic::ContratosError).await;
    let [IntegrationEvent::ContratoError(rejection)] = rejections.as_slice() else {
        panic!("one rejection expected: {rejections:?}");
    };
    assert_eq!(rejection.error.as_deref(), Some("ContratoRechazado"));
    let detail = rejection.error_detalle.as_deref().unwrap();
    for field in ["moneda", "monto_base", "tipo_contrato"] {
        assert!(detail.contains(field), "{field}: {detail}");
    }
    assert_eq!(rejection.id_campana.as_deref(), Some("camp-9"));
    assert_eq!(rejection.id_influencer.as_deref(), Some("inf-9"));
    assert_eq!(
        rejection.moneda.as_deref(),
        Some("pesos"),
        "the terms as sent"
    );
    assert!(stored_contracts(&app, "").await.is_empty());
    assert!(announced(&app, Topic::Contratos).await.is_empty());
    app.close().await;
}

/// A concurrent writer's exclusive contract for the same influencer, inserted but not yet
/// committed, holds the unique index the handler's insert needs.
async fn uncommitted_exclusive_contract(
    app: &TestApp,
    influencer: &str,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut other = app.runtime.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO contracts (id, influencer_id, campaign_id, monto_total, moneda,
             tipo_contrato, estado, fecha_creacion, fecha_actualizacion)
         VALUES ($1, $2, 'camp-first', 100, 'USD', 'exclusivo', 'activo', now(), now())",
    )
    .bind(Uuid::now_v7())
    .bind(influencer)
    .execute(&mut *other)
    .await
    .unwrap();
    other
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn losing_the_exclusive_race_decides_again_and_rejects(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let other = uncommitted_exclusive_contract(&app, "inf-race").await;

    let event = campaign("camp-late", Some("inf-race"), "exclusivo");
    let push = {
        let client = app.client.clone();
        let url = app.url("/events");
        let envelope = push_envelope(
            &event,
            &as_create_campaign_sends(&event, "saga"),
            "10:1:-1:-1",
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
    assert!(!push.is_finished(), "the insert waits on the unique index");
    other.commit().await.unwrap();

    let pushed = tokio::time::timeout(Duration::from_secs(10), push)
        .await
        .expect("answered once the race is decided")
        .unwrap()
        .unwrap();
    assert_eq!(pushed.status(), 204, "no 5xx: the step was decided again");
    let stored = stored_contracts(&app, "?id_influencer=inf-race").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id_campana"], "camp-first", "the winner's");
    assert!(announced(&app, Topic::Contratos).await.is_empty());
    let rejections = announced(&app, Topic::ContratosError).await;
    let [IntegrationEvent::ContratoError(rejection)] = rejections.as_slice() else {
        panic!("one rejection expected: {rejections:?}");
    };
    assert_eq!(rejection.id_campana.as_deref(), Some("camp-late"));
    assert!(
        rejection
            .error_detalle
            .as_deref()
            .unwrap()
            .contains("exclusive")
    );
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn losing_the_exclusive_race_over_the_api_is_409(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let other = uncommitted_exclusive_contract(&app, "inf-race").await;
    let request = {
        let client = app.client.clone();
        let url = app.url("/contratos");
        let body = contract("inf-race", "camp-late", "exclusivo");
        tokio::spawn(async move { client.post(url).json(&body).send().await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !request.is_finished(),
        "the insert waits on the unique index"
    );
    other.commit().await.unwrap();

    let response = tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .expect("answered once the race is decided")
        .unwrap()
        .unwrap();
    problem(response, 409).await;
    assert!(announced(&app, Topic::Contratos).await.is_empty());
    app.close().await;
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn concurrent_exclusive_campaigns_yield_one_contract_and_one_rejection(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let first = campaign("camp-X", Some("inf-7"), "exclusivo");
    let second = campaign("camp-Y", Some("inf-7"), "exclusivo");
    let no_properties = BTreeMap::new();
    let (a, b) = tokio::join!(
        app.push(&first, &no_properties, "11:1:-1:-1"),
        app.push(&second, &no_properties, "11:2:-1:-1"),
    );
    assert_eq!(a.status(), 204);
    assert_eq!(b.status(), 204);
    assert_eq!(
        stored_contracts(&app, "?id_influencer=inf-7").await.len(),
        1
    );
    assert_eq!(announced(&app, Topic::Contratos).await.len(), 1);
    assert_eq!(announced(&app, Topic::ContratosError).await.len(), 1);
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
    let mut body = contract("inf-\u{0}", "camp-1", "puntual");
    body["entregables"] = json!("\u{0}");
    let refused = problem(post(&app, &body).await, 422).await;
    assert_eq!(
        fields(&refused),
        vec!["entregables", "id_influencer"],
        "{refused}"
    );
    let mut body = contract("inf-1", "camp-1", "puntual");
    body["comision"] = json!("x");
    let refused = problem(post(&app, &body).await, 422).await;
    assert_eq!(fields(&refused), vec!["comision"], "{refused}");

    for query in ["id_influencer=%00", "id_campana=%00", "estado=%00"] {
        let response = app
            .client
            .get(app.url(&format!("/contratos?{query}")))
            .send()
            .await
            .unwrap();
        problem(response, 400).await;
    }
    // A blank enum filter is not in the document's enum: refused like an unknown one.
    let response = app
        .client
        .get(app.url("/contratos?estado="))
        .send()
        .await
        .unwrap();
    let refused = problem(response, 422).await;
    assert_eq!(fields(&refused), vec!["estado"]);
}

/// The existing system's contract routes: its command mapped onto `POST /contratos`
/// (same rules, its own field names in errors), and the active contracts.
#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn the_existing_systems_routes_answer_as_it_did(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;
    let command = |body: Value| {
        app.client
            .post(app.url("/contratos/crear-comando"))
            .json(&body)
            .send()
    };
    let seed = |influencer: &str, campaign: &str| {
        json!({
            "influencer_id": influencer,
            "influencer_nombre": "Ana Pérez",
            "influencer_email": "ana@example.com",
            "campana_id": campaign,
            "campana_nombre": "Otoño",
            "categorias": ["moda"],
            "descripcion": "Colección de otoño",
            "monto_base": 1200.5,
            "moneda": "EUR",
            "fecha_inicio": "2026-03-01T00:00:00Z",
            "fecha_fin": "2026-05-31T23:59:59Z",
            "entregables": "3 publicaciones",
            "tipo_contrato": "exclusivo",
        })
    };
    let response = command(seed("inf-seed", "camp-seed-1")).await.unwrap();
    assert_eq!(response.status(), 201);
    let signed: Value = response.json().await.unwrap();
    assert_eq!(signed["id_influencer"], "inf-seed");
    assert_eq!(signed["id_campana"], "camp-seed-1");
    assert_eq!(signed["monto_total"], 1200.5);
    assert_eq!(signed["tipo_contrato"], "exclusivo");

    // The same rules: one active exclusive contract per influencer.
    problem(command(seed("inf-seed", "camp-seed-2")).await.unwrap(), 409).await;
    let mut bad = seed("inf-seed", "camp-seed-3");
    bad["monto_base"] = json!(-1);
    bad["otro"] = json!(1);
    let refused = problem(command(bad).await.unwrap(), 422).await;
    assert_eq!(fields(&refused), vec!["otro"], "{refused}");
    let mut bad = seed("inf-seed", "camp-seed-3");
    bad["monto_base"] = json!(-1);
    let refused = problem(command(bad).await.unwrap(), 422).await;
    assert_eq!(fields(&refused), vec!["monto_base"], "{refused}");

    assert_eq!(
        post(&app, &contract("inf-2", "camp-2", "puntual"))
            .await
            .status(),
        201
    );
    let active = get_json(&app, "/contratos/vigentes").await;
    assert_eq!(active.as_array().unwrap().len(), 2, "{active}");
    let active = get_json(&app, "/contratos/vigentes?id_influencer=inf-2").await;
    assert_eq!(active.as_array().unwrap().len(), 1, "{active}");
    assert!(
        active
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["estado"] == "activo")
    );
    let response = app
        .client
        .get(app.url("/contratos/vigentes?limite=0"))
        .send()
        .await
        .unwrap();
    problem(response, 422).await;
}
