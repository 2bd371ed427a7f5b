//! `generate-report` against the real PostgreSQL and Pulsar: campaign and contract events
//! pushed to `/events` in every order, twice, and racing each other or a compensation;
//! the reports they leave; the `EventoReporte` announcements; and the read API.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use alpes_shared::{
    domain::CancellationReason,
    events::{
        CampanaCreadaPayload, ContratoCreadoPayload, EventMetadata, IntegrationEvent, Payload,
        ReportePayload, Topic,
    },
    store::{Context, reports},
    testing::{TestApp, push_envelope, receive_matching, subscribe},
};
use serde_json::{Value, json};
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    types::Json,
};
use uuid::Uuid;

async fn spawn(connect: PgConnectOptions) -> TestApp {
    TestApp::spawn(
        generate_report::NAME,
        Context::Reportes,
        connect,
        &[],
        generate_report::app,
    )
    .await
}

/// A campaign id no other test (of any crate) uses on the shared broker.
fn new_campaign_id() -> String {
    format!("camp-{}", Uuid::new_v4())
}

fn campaign(campaign_id: &str) -> IntegrationEvent {
    IntegrationEvent::from(CampanaCreadaPayload {
        campana_id: Some(campaign_id.to_owned()),
        nombre: Some("Lanzamiento otoño".into()),
        descripcion: Some("Colección de otoño".into()),
        tipo_comision: Some("cpa".into()),
        valor_comision: Some(19.99),
        moneda: Some("EUR".into()),
        categorias_objetivo: Some(vec!["moda".into()]),
        fecha_inicio: Some("2025-09-20T10:00:00.123456".into()),
        fecha_fin: None,
        influencer_id: Some("inf-12345".into()),
        influencer_nombre: Some("Ana García".into()),
        influencer_email: Some("ana@example.com".into()),
        monto_base: Some(2500.5),
        entregables: Some("3 publicaciones".into()),
        tipo_contrato: Some("puntual".into()),
        fecha_creacion: Some("2025-09-13 01:07:56.578686".into()),
    })
}

fn contract(contract_id: &str, campaign_id: &str) -> IntegrationEvent {
    IntegrationEvent::from(ContratoCreadoPayload {
        id_contrato: Some(contract_id.to_owned()),
        id_influencer: Some("inf-12345".into()),
        id_campana: Some(campaign_id.to_owned()),
        monto_total: Some(2500.5),
        moneda: Some("EUR".into()),
        tipo_contrato: Some("puntual".into()),
        fecha_creacion: Some("2025-09-20T10:00:01.000000Z".into()),
    })
}

/// Properties as our own producers set them, for an event of the saga `correlation_id`.
fn sent(event: &IntegrationEvent, correlation_id: &str, producer: &str) -> EventMetadata {
    EventMetadata::new(event, correlation_id, producer)
}

/// A message id the broker could have given; unique per call.
fn message_id() -> String {
    static NEXT_ENTRY: AtomicU32 = AtomicU32::new(1000);
    format!("7:{}:-1:-1", NEXT_ENTRY.fetch_add(1, Ordering::Relaxed))
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

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = get(app, path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

/// The only report of `campaign_id`, as the API shows it.
async fn report_of(app: &TestApp, campaign_id: &str) -> Value {
    let found = get_json(app, &format!("/reportes?id_campana={campaign_id}")).await;
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "one report per campaign: {found:?}");
    found[0].clone()
}

/// One row of the outbox: what the function announced (or will).
#[derive(Debug)]
struct Announcement {
    event_type: String,
    key: String,
    payload: ReportePayload,
    properties: BTreeMap<String, String>,
}

/// Everything announced so far, in order, for `campaign_id`.
async fn announced(app: &TestApp, campaign_id: &str) -> Vec<Announcement> {
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
        .filter(|announcement| announcement.payload.id_campana.as_deref() == Some(campaign_id))
        .collect()
}

async fn announced_types(app: &TestApp, campaign_id: &str) -> Vec<String> {
    announced(app, campaign_id)
        .await
        .into_iter()
        .map(|announcement| announcement.event_type)
        .collect()
}

type Consumer = pulsar::Consumer<Vec<u8>, pulsar::TokioExecutor>;

/// The `tipo_evento` announcement about `campaign_id` on `eventos-reportes`.
async fn receive(
    consumer: &mut Consumer,
    campaign_id: &str,
    tipo_evento: &str,
) -> (ReportePayload, BTreeMap<String, String>) {
    let (event, properties) = receive_matching(consumer, Topic::Reportes, |event| {
        matches!(event, IntegrationEvent::Reporte(report)
            if report.id_campana.as_deref() == Some(campaign_id)
                && report.tipo_evento.as_deref() == Some(tipo_evento))
    })
    .await;
    let IntegrationEvent::Reporte(payload) = event else {
        unreachable!()
    };
    (payload, properties)
}

fn rejection() -> CancellationReason {
    CancellationReason::from_contract_error(
        Some("ContratoRechazado"),
        Some("el influencer ya tiene un contrato exclusivo"),
    )
}

/// What compensate-report does for a campaign (same lock, same rules), to race it here.
async fn compensate_campaign(app: &TestApp, campaign_id: &str) {
    let mut tx = app.runtime.pool.begin().await.unwrap();
    reports::lock_campaign(&mut tx, campaign_id).await.unwrap();
    match reports::find_by_campaign_for_update(&mut tx, campaign_id)
        .await
        .unwrap()
    {
        Some(mut report) => {
            if report.cancel(rejection(), chrono::Utc::now()).changed() {
                reports::update(&mut tx, &report).await.unwrap();
            }
        }
        None => {
            reports::record_pending_compensation(&mut tx, campaign_id, &rejection())
                .await
                .unwrap();
        }
    }
    tx.commit().await.unwrap();
}

fn is_rfc3339(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn campaign_then_contract_completes_the_report_and_announces_each_step(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let mut announcements = subscribe(Topic::Reportes).await;
    let campaign_id = new_campaign_id();
    let saga = "inf-12345";

    let campaign_event = campaign(&campaign_id);
    let campaign_sent = sent(&campaign_event, saga, "create-campaign");
    assert_eq!(push(&app, &campaign_event, Some(&campaign_sent)).await, 204);

    let (created, properties) = receive(&mut announcements, &campaign_id, "ReporteCreado").await;
    let report_id = created.id_reporte.clone().unwrap();
    assert_eq!(created.tipo_reporte.as_deref(), Some("campana"));
    assert_eq!(created.estado.as_deref(), Some("activo"));
    assert_eq!(
        created.nombre.as_deref(),
        Some("Reporte de campaña: Lanzamiento otoño")
    );
    assert_eq!(created.id_influencer.as_deref(), Some("inf-12345"));
    assert_eq!(created.id_contrato, None);
    assert_eq!(created.monto_total, None);
    assert_eq!(created.motivo, None);
    assert!(is_rfc3339(created.fecha_evento.as_deref().unwrap()));
    assert_eq!(properties["event_type"], "ReporteCreado");
    assert_eq!(properties["correlation_id"], saga);
    assert_eq!(
        properties["causation_id"],
        campaign_sent.event_id.to_string()
    );
    assert_eq!(properties["producer"], "generate-report");
    assert!(Uuid::parse_str(&properties["event_id"]).is_ok());

    let contract_event = contract("ctr-1", &campaign_id);
    let contract_sent = campaign_sent.follow_up(&contract_event, "send-contract");
    assert_eq!(push(&app, &contract_event, Some(&contract_sent)).await, 204);

    let (updated, properties) =
        receive(&mut announcements, &campaign_id, "ReporteActualizado").await;
    assert_eq!(updated.id_reporte.as_deref(), Some(report_id.as_str()));
    assert_eq!(updated.estado.as_deref(), Some("completado"));
    assert_eq!(updated.tipo_reporte.as_deref(), Some("campana"));
    assert_eq!(updated.id_contrato.as_deref(), Some("ctr-1"));
    assert_eq!(updated.monto_total, Some(2500.5));
    assert_eq!(updated.moneda.as_deref(), Some("EUR"));
    assert_eq!(properties["correlation_id"], saga);
    assert_eq!(
        properties["causation_id"],
        contract_sent.event_id.to_string()
    );

    // Keyed by the report, in the order they happened.
    let rows = announced(&app, &campaign_id).await;
    assert_eq!(
        rows.iter().map(|row| row.key.as_str()).collect::<Vec<_>>(),
        vec![report_id.as_str(), report_id.as_str()]
    );

    let report = get_json(&app, &format!("/reportes/{report_id}")).await;
    assert_eq!(report["id"], report_id);
    assert_eq!(report["tipo_reporte"], "campana");
    assert_eq!(report["estado"], "completado");
    assert_eq!(report["id_campana"], campaign_id);
    assert_eq!(report["id_influencer"], "inf-12345");
    assert_eq!(report["id_contrato"], "ctr-1");
    assert_eq!(report["monto_total"], json!(2500.5));
    assert_eq!(report["moneda"], "EUR");
    assert_eq!(report["motivo"], Value::Null);
    assert_eq!(report["datos_origen"]["campana_id"], campaign_id);
    assert_eq!(report["datos_origen"]["valor_comision"], json!(19.99));
    assert_eq!(
        report["datos_origen"]["categorias_objetivo"],
        json!(["moda"])
    );
    assert!(is_rfc3339(report["fecha_creacion"].as_str().unwrap()));
    assert!(is_rfc3339(report["fecha_actualizacion"].as_str().unwrap()));
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_contract_of_an_unknown_campaign_gets_a_contract_report(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let campaign_id = new_campaign_id();

    // As another producer sends it: no properties.
    assert_eq!(
        push(
            &app,
            &contract(&campaign_id.replace("camp", "ctr"), &campaign_id),
            None
        )
        .await,
        204
    );

    let report = report_of(&app, &campaign_id).await;
    let contract_id = campaign_id.replace("camp", "ctr");
    assert_eq!(report["tipo_reporte"], "contrato");
    assert_eq!(
        report["nombre"],
        format!("Reporte de contrato: {contract_id}")
    );
    assert_eq!(report["estado"], "activo");
    assert_eq!(report["id_contrato"], contract_id);
    assert_eq!(report["monto_total"], json!(2500.5));
    assert_eq!(report["moneda"], "EUR");
    assert_eq!(report["datos_origen"]["id_contrato"], contract_id);
    assert_eq!(report["datos_origen"]["monto_total"], json!(2500.5));

    let rows = announced(&app, &campaign_id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].event_type, "ReporteCreado");
    assert_eq!(rows[0].key, report["id"].as_str().unwrap());
    assert_eq!(
        rows[0].properties["correlation_id"], campaign_id,
        "without properties, the campaign is the saga"
    );
    assert_eq!(rows[0].payload.tipo_reporte.as_deref(), Some("contrato"));
}

/// A report as both delivery orders must leave it: all but its id and instants.
fn content(report: &Value, campaign_id: &str) -> Value {
    let mut content = report.clone();
    for minted in ["id", "fecha_creacion", "fecha_actualizacion"] {
        content.as_object_mut().unwrap().remove(minted);
    }
    // The two campaigns differ only in their ids.
    serde_json::from_str(&content.to_string().replace(campaign_id, "CAMPAIGN")).unwrap()
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn contract_before_campaign_ends_as_campaign_before_contract(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let (campaign_first, contract_first) = (new_campaign_id(), new_campaign_id());

    assert_eq!(push(&app, &campaign(&campaign_first), None).await, 204);
    assert_eq!(
        push(&app, &contract("ctr-1", &campaign_first), None).await,
        204
    );

    assert_eq!(
        push(&app, &contract("ctr-1", &contract_first), None).await,
        204
    );
    let interim = report_of(&app, &contract_first).await;
    assert_eq!(interim["tipo_reporte"], "contrato");
    assert_eq!(push(&app, &campaign(&contract_first), None).await, 204);

    let expected = report_of(&app, &campaign_first).await;
    let absorbed = report_of(&app, &contract_first).await;
    assert_eq!(expected["estado"], "completado");
    assert_eq!(
        content(&absorbed, &contract_first),
        content(&expected, &campaign_first)
    );
    assert_eq!(
        absorbed["id"], interim["id"],
        "the contract report became it"
    );
    assert_eq!(absorbed["fecha_creacion"], interim["fecha_creacion"]);
    for campaign_id in [&campaign_first, &contract_first] {
        assert_eq!(
            announced_types(&app, campaign_id).await,
            ["ReporteCreado", "ReporteActualizado"]
        );
    }
    let rows = announced(&app, &contract_first).await;
    assert_eq!(rows[1].payload.tipo_reporte.as_deref(), Some("campana"));
    assert_eq!(rows[1].payload.estado.as_deref(), Some("completado"));
    assert_eq!(
        rows[1].payload.nombre.as_deref(),
        Some("Reporte de campaña: Lanzamiento otoño")
    );

    // Whatever comes later for either campaign changes neither.
    for campaign_id in [&campaign_first, &contract_first] {
        assert_eq!(push(&app, &campaign(campaign_id), None).await, 204);
        assert_eq!(push(&app, &contract("ctr-2", campaign_id), None).await, 204);
    }
    assert_eq!(report_of(&app, &campaign_first).await, expected);
    assert_eq!(report_of(&app, &contract_first).await, absorbed);
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_compensation_that_came_first_makes_the_report_start_cancelled(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let mut announcements = subscribe(Topic::Reportes).await;
    let (campaign_id, contract_campaign_id) = (new_campaign_id(), new_campaign_id());
    compensate_campaign(&app, &campaign_id).await;
    compensate_campaign(&app, &contract_campaign_id).await;

    let event = campaign(&campaign_id);
    let metadata = sent(&event, &campaign_id, "create-campaign");
    assert_eq!(push(&app, &event, Some(&metadata)).await, 204);

    let report = report_of(&app, &campaign_id).await;
    assert_eq!(report["tipo_reporte"], "campana");
    assert_eq!(report["estado"], "cancelado");
    assert_eq!(report["motivo"], rejection().as_str());
    // The downstream learns it both as a creation and as a compensation, as when the
    // compensation comes second.
    let (created, _) = receive(&mut announcements, &campaign_id, "ReporteCreado").await;
    assert_eq!(created.estado.as_deref(), Some("cancelado"));
    assert_eq!(created.motivo.as_deref(), Some(rejection().as_str()));
    let (compensated, properties) =
        receive(&mut announcements, &campaign_id, "ReporteCompensado").await;
    assert_eq!(compensated.id_reporte, created.id_reporte);
    assert_eq!(compensated.estado.as_deref(), Some("cancelado"));
    assert_eq!(compensated.motivo.as_deref(), Some(rejection().as_str()));
    assert_eq!(properties["causation_id"], metadata.event_id.to_string());

    // A late contract or a second campaign event never revives it.
    assert_eq!(
        push(&app, &contract("ctr-1", &campaign_id), None).await,
        204
    );
    assert_eq!(push(&app, &campaign(&campaign_id), None).await, 204);
    assert_eq!(report_of(&app, &campaign_id).await, report);
    assert_eq!(
        announced_types(&app, &campaign_id).await,
        ["ReporteCreado", "ReporteCompensado"]
    );

    // The same when the contract event is the one creating the report.
    assert_eq!(
        push(&app, &contract("ctr-9", &contract_campaign_id), None).await,
        204
    );
    let report = report_of(&app, &contract_campaign_id).await;
    assert_eq!(report["tipo_reporte"], "contrato");
    assert_eq!(report["estado"], "cancelado");
    assert_eq!(
        push(&app, &campaign(&contract_campaign_id), None).await,
        204
    );
    assert_eq!(report_of(&app, &contract_campaign_id).await, report);
    assert_eq!(
        announced_types(&app, &contract_campaign_id).await,
        ["ReporteCreado", "ReporteCompensado"]
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_cancelled_report_never_revives(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;
    let (campaign_id, contract_first) = (new_campaign_id(), new_campaign_id());
    assert_eq!(push(&app, &campaign(&campaign_id), None).await, 204);
    assert_eq!(
        push(&app, &contract("ctr-1", &contract_first), None).await,
        204
    );
    compensate_campaign(&app, &campaign_id).await;
    compensate_campaign(&app, &contract_first).await;
    let cancelled = report_of(&app, &campaign_id).await;
    let cancelled_contract_report = report_of(&app, &contract_first).await;
    assert_eq!(cancelled["estado"], "cancelado");

    assert_eq!(
        push(&app, &contract("ctr-1", &campaign_id), None).await,
        204
    );
    assert_eq!(push(&app, &campaign(&campaign_id), None).await, 204);
    assert_eq!(push(&app, &campaign(&contract_first), None).await, 204);

    assert_eq!(report_of(&app, &campaign_id).await, cancelled);
    assert_eq!(
        report_of(&app, &contract_first).await,
        cancelled_contract_report
    );
    assert_eq!(announced_types(&app, &campaign_id).await, ["ReporteCreado"]);
    assert_eq!(
        announced_types(&app, &contract_first).await,
        ["ReporteCreado"]
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn redeliveries_have_no_second_effect(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;
    let (with_properties, without_properties) = (new_campaign_id(), new_campaign_id());

    for campaign_id in [&with_properties, &without_properties] {
        let events = [campaign(campaign_id), contract("ctr-1", campaign_id)];
        for event in &events {
            let properties = if campaign_id == &with_properties {
                sent(event, campaign_id, "create-campaign").to_properties()
            } else {
                BTreeMap::new()
            };
            let first_message = message_id();
            assert_eq!(
                app.push(event, &properties, &first_message).await.status(),
                204
            );
            let before = report_of(&app, campaign_id).await;
            // The same message redelivered by the broker.
            assert_eq!(
                app.push(event, &properties, &first_message).await.status(),
                204
            );
            if !properties.is_empty() {
                // The same event (same event_id) resent as another message.
                assert_eq!(
                    app.push(event, &properties, &message_id()).await.status(),
                    204
                );
            }
            assert_eq!(report_of(&app, campaign_id).await, before);
        }
        assert_eq!(
            announced_types(&app, campaign_id).await,
            ["ReporteCreado", "ReporteActualizado"],
            "{campaign_id}: one announcement per effect"
        );
    }
    let processed: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_events")
        .fetch_one(&app.runtime.pool)
        .await
        .unwrap();
    assert_eq!(processed, 4, "each event recorded once");
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_lost_race_for_the_report_is_decided_again_not_failed(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let campaign_id = new_campaign_id();

    // Another writer (which does not take the campaign lock) is creating the campaign's
    // report: its insert is not committed yet when the campaign event arrives.
    let mut other = app.runtime.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO reports (id, tipo_reporte, nombre, estado, campaign_id, contract_id,
             monto_total, moneda, datos_origen, fecha_creacion, fecha_actualizacion)
         VALUES ($1, 'contrato', 'Reporte de contrato: ctr-1', 'activo', $2, 'ctr-1',
             2500.50, 'EUR', '{}', now(), now())",
    )
    .bind(Uuid::now_v7())
    .bind(&campaign_id)
    .execute(&mut *other)
    .await
    .unwrap();

    let pushing = {
        let client = app.client.clone();
        let url = app.url("/events");
        let envelope = push_envelope(&campaign(&campaign_id), &BTreeMap::new(), "5:5:-1:-1");
        let token = app.push_token.clone();
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&envelope)
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !pushing.is_finished(),
        "the insert waits on the other writer"
    );
    other.commit().await.unwrap();

    let status = tokio::time::timeout(Duration::from_secs(10), pushing)
        .await
        .expect("answered")
        .unwrap();
    assert_eq!(
        status, 204,
        "decided again against the other writer's report"
    );
    let report = report_of(&app, &campaign_id).await;
    assert_eq!(report["tipo_reporte"], "campana");
    assert_eq!(report["estado"], "completado");
    assert_eq!(
        announced_types(&app, &campaign_id).await,
        ["ReporteActualizado"]
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn racing_events_of_one_campaign_end_as_in_any_order(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let completed: Vec<String> = (0..6).map(|_| new_campaign_id()).collect();
    let compensated: Vec<String> = (0..6).map(|_| new_campaign_id()).collect();

    let racers = completed.iter().map(|campaign_id| {
        let app = &app;
        async move {
            let (campaign_event, contract_event) =
                (campaign(campaign_id), contract("ctr-1", campaign_id));
            let statuses = futures::future::join(
                push(app, &campaign_event, None),
                push(app, &contract_event, None),
            )
            .await;
            assert_eq!(statuses, (204, 204));
        }
    });
    futures::future::join_all(racers).await;
    let compensations = compensated.iter().map(|campaign_id| {
        let app = &app;
        async move {
            let campaign_event = campaign(campaign_id);
            let (status, ()) = futures::future::join(
                push(app, &campaign_event, None),
                compensate_campaign(app, campaign_id),
            )
            .await;
            assert_eq!(status, 204);
        }
    });
    futures::future::join_all(compensations).await;

    for campaign_id in &completed {
        let report = report_of(&app, campaign_id).await;
        assert_eq!(report["tipo_reporte"], "campana", "{report}");
        assert_eq!(report["estado"], "completado", "{report}");
        assert_eq!(
            announced_types(&app, campaign_id).await,
            ["ReporteCreado", "ReporteActualizado"]
        );
    }
    for campaign_id in &compensated {
        let report = report_of(&app, campaign_id).await;
        assert_eq!(report["estado"], "cancelado", "{report}");
        assert_eq!(report["motivo"], rejection().as_str());
    }
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn lists_filter_page_and_refuse_unknown_values(_: PgPoolOptions, connect: PgConnectOptions) {
    let app = spawn(connect).await;
    let (first, second, unknown) = (new_campaign_id(), new_campaign_id(), new_campaign_id());
    assert_eq!(push(&app, &campaign(&first), None).await, 204);
    assert_eq!(push(&app, &campaign(&second), None).await, 204);
    assert_eq!(push(&app, &contract("ctr-1", &second), None).await, 204);
    assert_eq!(push(&app, &contract("ctr-7", &unknown), None).await, 204);
    compensate_campaign(&app, &first).await;

    let campaigns = |list: Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|report| report["id_campana"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        campaigns(get_json(&app, "/reportes").await),
        vec![first.as_str(), second.as_str(), unknown.as_str()],
        "in creation order"
    );
    assert_eq!(
        campaigns(get_json(&app, "/reportes?limite=1&offset=1").await),
        vec![second.as_str()]
    );
    assert_eq!(
        campaigns(get_json(&app, "/reportes?limite=2&offset=2").await),
        vec![unknown.as_str()]
    );
    assert_eq!(
        campaigns(get_json(&app, "/reportes?tipo_reporte=contrato").await),
        vec![unknown.as_str()]
    );
    assert_eq!(
        campaigns(get_json(&app, "/reportes?estado=cancelado").await),
        vec![first.as_str()]
    );
    assert_eq!(
        campaigns(get_json(&app, "/reportes?estado=Completado&tipo_reporte=campana").await),
        vec![second.as_str()]
    );
    assert_eq!(
        campaigns(get_json(&app, &format!("/reportes?id_campana={second}")).await),
        vec![second.as_str()]
    );
    assert!(campaigns(get_json(&app, "/reportes?id_campana=camp-nadie").await).is_empty());

    for (query, field) in [
        ("?estado=archivado", "estado"),
        ("?tipo_reporte=influencer", "tipo_reporte"),
        ("?limite=0", "limite"),
        ("?limite=101", "limite"),
        ("?limite=diez", "limite"),
        ("?offset=-1", "offset"),
    ] {
        let refused = get(&app, &format!("/reportes{query}")).await;
        assert_eq!(refused.status(), 422, "{query}");
        assert_eq!(
            refused.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["errors"][0]["campo"], field, "{query}");
        assert_eq!(problem["errors"].as_array().unwrap().len(), 1);
    }

    for path in [
        format!("/reportes/{}", Uuid::now_v7()),
        "/reportes/nope".into(),
    ] {
        let missing = get(&app, &path).await;
        assert_eq!(missing.status(), 404, "{path}");
        let problem: Value = missing.json().await.unwrap();
        assert_eq!(problem["status"], 404);
    }
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn the_event_endpoint_wants_a_valid_token_and_a_usable_event(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    let campaign_id = new_campaign_id();
    let envelope = push_envelope(&campaign(&campaign_id), &BTreeMap::new(), "9:1:-1:-1");

    let missing = app
        .client
        .post(app.url("/events"))
        .json(&envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let wrong = app
        .client
        .post(app.url("/events"))
        .bearer_auth("nope")
        .json(&envelope)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let unreadable = app
        .client
        .post(app.url("/events"))
        .bearer_auth(&app.push_token)
        .json(&json!({"message": {"data": "AAAA", "attributes": {}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(unreadable.status(), 400);
    assert!(
        get_json(&app, "/reportes")
            .await
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was stored without a valid token"
    );

    // Permanent failures: acknowledged (200), logged, nothing stored.
    let no_campaign = IntegrationEvent::from(CampanaCreadaPayload {
        nombre: Some("Sin id".into()),
        ..Default::default()
    });
    let no_amount = IntegrationEvent::from(ContratoCreadoPayload {
        monto_total: None,
        ..match contract("ctr-1", &campaign_id) {
            IntegrationEvent::ContratoCreado(payload) => payload,
            _ => unreachable!(),
        }
    });
    let bad_currency = IntegrationEvent::from(ContratoCreadoPayload {
        moneda: Some("dólares".into()),
        ..match contract("ctr-1", &campaign_id) {
            IntegrationEvent::ContratoCreado(payload) => payload,
            _ => unreachable!(),
        }
    });
    for event in [&no_campaign, &no_amount, &bad_currency] {
        assert_eq!(push(&app, event, None).await, 200, "{event:?}");
    }
    assert!(
        get_json(&app, "/reportes")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        app.push(&campaign(&campaign_id), &BTreeMap::new(), "9:1:-1:-1")
            .await
            .status(),
        204
    );
    assert_eq!(report_of(&app, &campaign_id).await["estado"], "activo");
    let ready = get(&app, "/ready").await;
    assert_eq!(ready.status(), 200);
    assert!(ready.headers().contains_key("x-request-id"));
}

/// NUL in a query is a 400; NUL in an event (its `datos_origen` is jsonb, its name
/// text) is a permanent failure, acknowledged with 200, never a retry.
#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn nul_is_a_400_in_a_query_and_a_permanent_failure_in_an_event(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let app = spawn(connect).await;
    for query in ["id_campana=%00", "estado=%00", "tipo_reporte=%00"] {
        let response = get(&app, &format!("/reportes?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }

    let campaign_id = new_campaign_id();
    let mut event = campaign(&campaign_id);
    if let IntegrationEvent::CampanaCreada(payload) = &mut event {
        payload.entregables = Some("3 publicaciones\u{0}".into());
    }
    assert_eq!(push(&app, &event, None).await, 200);
    let response = get(&app, &format!("/reportes?id_campana={campaign_id}")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Vec<Value>>().await.unwrap(),
        Vec::<Value>::new()
    );
}
