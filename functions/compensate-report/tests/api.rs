//! `compensate-report` against the real PostgreSQL and Pulsar: contract errors pushed to
//! `/events` before and after the report exists, twice, and racing the report's
//! creation; `POST /reportes/{id}/compensar` with every status of its contract; and the
//! `ReporteCompensado` announcements.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU32, Ordering},
};

use alpes_shared::{
    domain::{
        CampaignReportInput, CancellationReason, Currency, ExternalId, Money, Report, ReportState,
    },
    events::{
        ContratoErrorPayload, EventMetadata, IntegrationEvent, Payload, ReportePayload, Topic,
    },
    store::{Context, reports},
    testing::{TestApp, problem, push_envelope, receive_matching, subscribe},
};
use chrono::Utc;
use serde_json::{Value, json};
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    types::Json,
};
use uuid::Uuid;

async fn spawn(connect: PgConnectOptions) -> TestApp {
    TestApp::spawn(
        compensate_report::NAME,
        Context::Reportes,
        connect,
        &[],
        compensate_report::app,
    )
    .await
}

/// A campaign id no other test (of any crate) uses on the shared broker.
fn new_campaign_id() -> String {
    format!("camp-{}", Uuid::new_v4())
}

fn message_id() -> String {
    static NEXT_ENTRY: AtomicU32 = AtomicU32::new(1000);
    format!("8:{}:-1:-1", NEXT_ENTRY.fetch_add(1, Ordering::Relaxed))
}

fn contract_error(campaign_id: &str, detail: &str) -> IntegrationEvent {
    IntegrationEvent::from(ContratoErrorPayload {
        id_contrato: None,
        id_influencer: Some("inf-12345".into()),
        id_campana: Some(campaign_id.to_owned()),
        monto_total: Some(2500.5),
        moneda: Some("EUR".into()),
        tipo_contrato: Some("exclusivo".into()),
        fecha_creacion: Some("2025-09-20T10:00:00.123456".into()),
        error: Some("ContratoRechazado".into()),
        error_detalle: Some(detail.to_owned()),
    })
}

const DETAIL: &str = "el influencer ya tiene un contrato exclusivo activo";

fn motivo() -> String {
    format!("ContratoRechazado: {DETAIL}")
}

async fn push(app: &TestApp, event: &IntegrationEvent, metadata: Option<&EventMetadata>) -> u16 {
    let properties = metadata
        .map(EventMetadata::to_properties)
        .unwrap_or_default();
    app.push(event, &properties, &message_id())
        .await
        .status()
        .as_u16()
}

fn campaign_input(campaign_id: &str) -> CampaignReportInput {
    CampaignReportInput {
        campaign_id: ExternalId::parse(campaign_id).unwrap(),
        campaign_name: Some("Lanzamiento otoño".into()),
        influencer_id: Some(ExternalId::parse("inf-12345").unwrap()),
        source_data: json!({"campana_id": campaign_id}),
    }
}

/// What generate-report does when a campaign event arrives (same lock, same rules), to
/// seed reports and to race it here.
async fn create_campaign_report(app: &TestApp, campaign_id: &str) -> Report {
    let mut tx = app.runtime.pool.begin().await.unwrap();
    reports::lock_campaign(&mut tx, campaign_id).await.unwrap();
    let existing = reports::find_by_campaign_for_update(&mut tx, campaign_id)
        .await
        .unwrap();
    assert!(existing.is_none(), "seeded once");
    let pending = reports::pending_compensation(&mut tx, campaign_id)
        .await
        .unwrap();
    let report = Report::for_campaign(
        campaign_input(campaign_id),
        Uuid::now_v7(),
        pending,
        Utc::now(),
    );
    reports::insert(&mut tx, &report).await.unwrap();
    tx.commit().await.unwrap();
    report
}

async fn complete(app: &TestApp, campaign_id: &str) {
    let mut tx = app.runtime.pool.begin().await.unwrap();
    let mut report = reports::find_by_campaign_for_update(&mut tx, campaign_id)
        .await
        .unwrap()
        .unwrap();
    let total = Money::from_wire_f32(2500.5, Currency::parse("EUR").unwrap()).unwrap();
    assert!(
        report
            .attach_contract(ExternalId::parse("ctr-1").unwrap(), total, Utc::now())
            .changed()
    );
    reports::update(&mut tx, &report).await.unwrap();
    tx.commit().await.unwrap();
}

async fn stored(app: &TestApp, id: Uuid) -> Report {
    let mut conn = app.runtime.pool.acquire().await.unwrap();
    reports::find(&mut conn, id).await.unwrap().unwrap()
}

#[derive(Debug)]
struct Announcement {
    event_type: String,
    key: String,
    payload: ReportePayload,
    properties: BTreeMap<String, String>,
}

/// Everything announced so far, in order.
async fn announced(app: &TestApp) -> Vec<Announcement> {
    type Row = (String, String, Vec<u8>, Json<BTreeMap<String, String>>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT event_type, message_key, payload, properties FROM outbox
         ORDER BY created_at, event_id",
    )
    .fetch_all(&app.runtime.pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(event_type, key, payload, properties)| Announcement {
            event_type,
            key,
            payload: ReportePayload::decode(&payload).unwrap(),
            properties: properties.0,
        })
        .collect()
}

type Consumer = pulsar::Consumer<Vec<u8>, pulsar::TokioExecutor>;

async fn receive_compensation(
    consumer: &mut Consumer,
    campaign_id: &str,
) -> (ReportePayload, BTreeMap<String, String>) {
    let (event, properties) = receive_matching(consumer, Topic::Reportes, |event| {
        matches!(event, IntegrationEvent::Reporte(report)
            if report.id_campana.as_deref() == Some(campaign_id)
                && report.tipo_evento.as_deref() == Some("ReporteCompensado"))
    })
    .await;
    let IntegrationEvent::Reporte(payload) = event else {
        unreachable!()
    };
    (payload, properties)
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_contract_error_cancels_the_campaign_report_and_announces_it(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let mut announcements = subscribe(Topic::Reportes).await;
    let campaign_id = new_campaign_id();
    let report = create_campaign_report(&app, &campaign_id).await;
    complete(&app, &campaign_id).await;

    let event = contract_error(&campaign_id, DETAIL);
    let metadata = EventMetadata::new(&event, "inf-12345", "send-contract");
    assert_eq!(push(&app, &event, Some(&metadata)).await, 204);

    let (compensated, properties) = receive_compensation(&mut announcements, &campaign_id).await;
    let report_id = report.id().to_string();
    assert_eq!(compensated.id_reporte.as_deref(), Some(report_id.as_str()));
    assert_eq!(compensated.estado.as_deref(), Some("cancelado"));
    assert_eq!(compensated.motivo.as_deref(), Some(motivo().as_str()));
    assert_eq!(compensated.tipo_reporte.as_deref(), Some("campana"));
    assert_eq!(
        compensated.nombre.as_deref(),
        Some("Reporte de campaña: Lanzamiento otoño")
    );
    assert_eq!(compensated.id_influencer.as_deref(), Some("inf-12345"));
    assert_eq!(
        compensated.id_contrato.as_deref(),
        Some("ctr-1"),
        "a completed report keeps its contract"
    );
    assert_eq!(compensated.monto_total, Some(2500.5));
    assert_eq!(compensated.moneda.as_deref(), Some("EUR"));
    assert!(
        chrono::DateTime::parse_from_rfc3339(compensated.fecha_evento.as_deref().unwrap()).is_ok()
    );
    assert_eq!(properties["event_type"], "ReporteCompensado");
    assert_eq!(properties["correlation_id"], "inf-12345");
    assert_eq!(properties["causation_id"], metadata.event_id.to_string());
    assert_eq!(properties["producer"], "compensate-report");

    let cancelled = stored(&app, report.id()).await;
    assert_eq!(cancelled.state(), ReportState::Cancelado);
    assert_eq!(cancelled.cancellation_reason().unwrap().as_str(), motivo());
    let rows = announced(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key, report_id, "keyed by the report");
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_contract_error_before_the_report_is_remembered_for_it(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let campaign_id = new_campaign_id();

    // As another producer sends it: no properties.
    assert_eq!(
        push(&app, &contract_error(&campaign_id, DETAIL), None).await,
        204
    );
    assert_eq!(
        push(&app, &contract_error(&campaign_id, "otro motivo"), None).await,
        204
    );

    let mut conn = app.runtime.pool.acquire().await.unwrap();
    let pending = reports::pending_compensation(&mut conn, &campaign_id)
        .await
        .unwrap();
    assert_eq!(
        pending.as_ref().map(CancellationReason::as_str),
        Some(motivo().as_str()),
        "the first reason waits for the report"
    );
    assert!(
        announced(&app).await.is_empty(),
        "no report, nothing to announce"
    );

    // The report, when generate-report creates it, starts cancelled.
    let report = create_campaign_report(&app, &campaign_id).await;
    assert_eq!(report.state(), ReportState::Cancelado);
    assert_eq!(report.cancellation_reason().unwrap().as_str(), motivo());
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn redeliveries_and_repeated_errors_have_no_second_effect(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let (with_properties, without_properties) = (new_campaign_id(), new_campaign_id());
    let first = create_campaign_report(&app, &with_properties).await;
    let second = create_campaign_report(&app, &without_properties).await;

    for campaign_id in [&with_properties, &without_properties] {
        let event = contract_error(campaign_id, DETAIL);
        let properties = if campaign_id == &with_properties {
            EventMetadata::new(&event, campaign_id.as_str(), "send-contract").to_properties()
        } else {
            BTreeMap::new()
        };
        let message = message_id();
        assert_eq!(app.push(&event, &properties, &message).await.status(), 204);
        // The same message redelivered by the broker.
        assert_eq!(app.push(&event, &properties, &message).await.status(), 204);
        if !properties.is_empty() {
            // The same event (same event_id) resent as another message.
            assert_eq!(
                app.push(&event, &properties, &message_id()).await.status(),
                204
            );
        }
        // Another rejection for the same campaign: the report is already cancelled.
        assert_eq!(
            push(&app, &contract_error(campaign_id, "otro motivo"), None).await,
            204
        );
    }

    for report in [&first, &second] {
        let cancelled = stored(&app, report.id()).await;
        assert_eq!(cancelled.state(), ReportState::Cancelado);
        assert_eq!(
            cancelled.cancellation_reason().unwrap().as_str(),
            motivo(),
            "the first motivo is kept"
        );
    }
    let rows = announced(&app).await;
    assert_eq!(
        rows.iter()
            .map(|row| (row.event_type.as_str(), row.key.clone()))
            .collect::<Vec<_>>(),
        [
            ("ReporteCompensado", first.id().to_string()),
            ("ReporteCompensado", second.id().to_string()),
        ],
        "once per report"
    );
    for row in &rows {
        assert_eq!(row.payload.estado.as_deref(), Some("cancelado"));
        assert_eq!(row.payload.motivo.as_deref(), Some(motivo().as_str()));
    }
    assert_eq!(
        rows[1].properties["correlation_id"], without_properties,
        "without properties, the campaign is the saga"
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_compensation_racing_the_report_creation_is_never_lost(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let campaigns: Vec<String> = (0..8).map(|_| new_campaign_id()).collect();

    let races = campaigns.iter().map(|campaign_id| {
        let app = &app;
        async move {
            let event = contract_error(campaign_id, DETAIL);
            let (status, _) = futures::future::join(
                push(app, &event, None),
                create_campaign_report(app, campaign_id),
            )
            .await;
            assert_eq!(status, 204);
        }
    });
    futures::future::join_all(races).await;

    let mut conn = app.runtime.pool.acquire().await.unwrap();
    for campaign_id in &campaigns {
        let report = reports::find_by_campaign_for_update(&mut conn, campaign_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(report.state(), ReportState::Cancelado, "{campaign_id}");
        assert_eq!(report.cancellation_reason().unwrap().as_str(), motivo());
    }
}

async fn compensar(app: &TestApp, id: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/reportes/{id}/compensar")))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn compensating_by_hand(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;
    let mut announcements = subscribe(Topic::Reportes).await;
    let campaign_id = new_campaign_id();
    let report = create_campaign_report(&app, &campaign_id).await;
    let id = report.id().to_string();

    let response = compensar(&app, &id, &json!({"motivo": "  Fraude detectado "})).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["id"], id);
    assert_eq!(cancelled["estado"], "cancelado");
    assert_eq!(cancelled["motivo"], "Fraude detectado");
    assert_eq!(cancelled["tipo_reporte"], "campana");
    assert_eq!(cancelled["id_campana"], campaign_id);
    assert_eq!(
        cancelled["datos_origen"],
        json!({"campana_id": campaign_id})
    );

    let (compensated, properties) = receive_compensation(&mut announcements, &campaign_id).await;
    assert_eq!(compensated.id_reporte.as_deref(), Some(id.as_str()));
    assert_eq!(compensated.motivo.as_deref(), Some("Fraude detectado"));
    assert_eq!(properties["correlation_id"], campaign_id);
    assert_eq!(properties["producer"], "compensate-report");
    assert!(!properties.contains_key("causation_id"));

    // Again: the same report, its first motivo, nothing announced.
    let again = compensar(&app, &id, &json!({"motivo": "otra cosa"})).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), cancelled);
    let rows = announced(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key, id);

    problem(
        compensar(&app, &Uuid::now_v7().to_string(), &json!({"motivo": "x"})).await,
        404,
    )
    .await;
    problem(compensar(&app, "nope", &json!({"motivo": "x"})).await, 404).await;

    for (body, field) in [
        (json!({}), "motivo"),
        (json!({"motivo": null}), "motivo"),
        (json!({"motivo": "   "}), "motivo"),
        (json!({"motivo": 7}), "motivo"),
        (json!({"motivo": "x".repeat(2001)}), "motivo"),
        (json!(["motivo"]), "body"),
    ] {
        let refused = problem(compensar(&app, &id, &body).await, 422).await;
        assert_eq!(refused["errors"][0]["campo"], field, "{body}");
    }
    let malformed = app
        .client
        .post(app.url(&format!("/reportes/{id}/compensar")))
        .header("content-type", "application/json")
        .body("{\"motivo\": ")
        .send()
        .await
        .unwrap();
    problem(malformed, 400).await;
    let huge = json!({"motivo": "x".repeat(70 * 1024)});
    problem(compensar(&app, &id, &huge).await, 413).await;
    let wrong_method = app
        .client
        .get(app.url(&format!("/reportes/{id}/compensar")))
        .send()
        .await
        .unwrap();
    problem(wrong_method, 405).await;

    assert_eq!(announced(&app).await.len(), 1, "refusals announce nothing");
    assert_eq!(
        stored(&app, report.id())
            .await
            .cancellation_reason()
            .unwrap()
            .as_str(),
        "Fraude detectado"
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn the_event_endpoint_wants_a_valid_token_and_a_usable_event(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let campaign_id = new_campaign_id();
    let envelope = push_envelope(
        &contract_error(&campaign_id, DETAIL),
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
    let mut conn = app.runtime.pool.acquire().await.unwrap();
    assert!(
        reports::pending_compensation(&mut conn, &campaign_id)
            .await
            .unwrap()
            .is_none(),
        "nothing recorded without a valid token"
    );

    // A rejection that names no campaign can never be applied: acknowledged (200).
    let no_campaign = IntegrationEvent::from(ContratoErrorPayload {
        error: Some("ContratoRechazado".into()),
        ..Default::default()
    });
    assert_eq!(push(&app, &no_campaign, None).await, 200);

    let valid = app
        .client
        .post(app.url("/events"))
        .bearer_auth(&app.push_token)
        .json(&envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(valid.status(), 204);
    assert!(
        reports::pending_compensation(&mut conn, &campaign_id)
            .await
            .unwrap()
            .is_some()
    );
    let ready = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// NUL (text PostgreSQL refuses) in the body is a 422 naming the field, never a 500; in
/// the path it is an unknown report.
#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn nul_is_the_clients_doing_never_a_500(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;
    let campaign_id = new_campaign_id();
    let report = create_campaign_report(&app, &campaign_id).await;
    let id = report.id().to_string();
    let refused = problem(
        compensar(&app, &id, &json!({"motivo": "Fraude\u{0}"})).await,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["campo"], "motivo", "{refused}");
    problem(compensar(&app, "%00", &json!({"motivo": "x"})).await, 404).await;
    assert_eq!(stored(&app, report.id()).await.state().as_str(), "activo");
}
