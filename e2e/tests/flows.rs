//! End to end through Pulsar and the bridge: the flows of SPEC section 7 and the saga's
//! compensation, with every function and the bridge running as separate processes (see
//! [`common`] for the environment a run starts).

mod common;

use std::{collections::BTreeMap, time::Duration};

use alpes_shared::{bus::Publisher, events::IntegrationEvent, store::outbox::OutboxMessage};
use common::*;
use serde_json::json;
use sqlx::Connection;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------

/// Flow 2 then flow 1: `POST /influencers` -> `InfluencerRegistrado` -> exactly one welcome
/// campaign -> `CampanaCreada` -> its contract and its report -> `ContratoCreado` -> the
/// report completed with the contract attached.
#[tokio::test]
async fn registering_an_influencer_completes_the_welcome_saga() {
    let env = env().await;
    let _hint = env.log_hint();
    let client = http();
    let mut reports = env.subscribe("eventos-reportes").await;

    let (influencer, campaign, _, _) = welcome_saga_flow(&env, &client, "Ana E2E").await;
    let campaign_id = text(&campaign, "id");

    // What the reports context announced, decoded with the contract's schema.
    reports
        .expect_report_events(
            &env,
            campaign_id,
            &[
                ("ReporteCreado", "activo"),
                ("ReporteActualizado", "completado"),
            ],
            Duration::from_millis(500),
        )
        .await;
    let correlations: Vec<&str> = reports
        .seen
        .iter()
        .filter(|(event, _, _)| matches!(event, IntegrationEvent::Reporte(report) if report.id_campana.as_deref() == Some(campaign_id)))
        .map(|(_, properties, _)| properties.get("correlation_id").map_or("", String::as_str))
        .collect();
    assert!(
        correlations.iter().all(|id| *id == influencer.id),
        "every report event carries the saga's correlation id {}: {correlations:?}",
        influencer.id
    );
    reports.close().await;
}

/// Flow 1 with a rejected contract (SPEC 7 item 3): an influencer holds one active
/// exclusive contract at most, so the second exclusive campaign's contract is rejected,
/// and that campaign's report ends `cancelado` by the compensation; the first stays
/// `completado`.
#[tokio::test]
async fn a_second_exclusive_contract_is_rejected_and_its_report_compensated() {
    let env = env().await;
    let _hint = env.log_hint();
    let client = http();

    exclusive_compensation_flow(&env, &client).await;
}

/// Flow 1 (`POST /campanas` naming an influencer), then the same messages delivered again:
/// the `CampanaCreada` and `ContratoCreado` re-published twice each with their event ids (as
/// the relay or the broker may redeliver them), and the create repeated with its id. Once
/// the bridge has pushed them all, there is exactly one campaign, one contract, one report
/// and one event of each step.
#[tokio::test]
async fn duplicate_deliveries_have_no_second_effect() {
    let env = env().await;
    let _hint = env.log_hint();
    let client = http();

    // An influencer only the campaign names (never registered: no welcome campaign).
    let influencer = Influencer {
        id: Uuid::new_v4().to_string(),
        nombre: "Carla E2E".to_owned(),
        email: format!("e2e-{}@example.com", Uuid::new_v4().simple()),
    };
    let campaign_id = Uuid::now_v7().to_string();
    let mut body = campaign_body(&influencer, "Puntual C", "puntual");
    body["id"] = json!(campaign_id);
    create_campaign(&env, &client, &body, 201).await;
    let again = create_campaign(&env, &client, &body, 200).await;
    assert_eq!(again["id"], campaign_id.as_str(), "{again:#}");

    let contract = the_one_contract_of(&env, &client, &influencer.id, &campaign_id).await;
    let contract_id = text(&contract, "id").to_owned();
    let report = the_report_of(&env, &client, &campaign_id, "completado", "cancelado").await;
    let report_id = text(&report, "id").to_owned();

    // The events as the functions published them, from their outbox.
    let mut alpes = env.connect(Database::Alpes).await;
    type Row = (
        uuid::Uuid,
        String,
        String,
        String,
        Vec<u8>,
        sqlx::types::Json<BTreeMap<String, String>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT event_id, topic, message_key, event_type, payload, properties
         FROM alpes.outbox
         WHERE message_key = $1 OR message_key = $2
         ORDER BY created_at, event_id",
    )
    .bind(&campaign_id)
    .bind(&contract_id)
    .fetch_all(&mut alpes)
    .await
    .unwrap_or_else(|error| env.fail(format!("read alpes.outbox: {error}")));
    let types: Vec<&str> = rows.iter().map(|row| row.3.as_str()).collect();
    assert_eq!(
        types,
        ["CampanaCreada", "ContratoCreado"],
        "the events of campaign {campaign_id} and contract {contract_id}"
    );

    let bus = env.pulsar_bus();
    for (event_id, topic, message_key, event_type, payload, properties) in rows {
        let message = OutboxMessage {
            event_id,
            topic,
            message_key,
            event_type,
            payload,
            properties: properties.0,
        };
        for _ in 0..2 {
            Box::pin(bus.publish(&message))
                .await
                .unwrap_or_else(|error| env.fail(format!("re-publish {message:?}: {error}")));
        }
    }
    drop(bus);
    wait_settled(
        &env,
        &client,
        &[
            ("eventos-campanas", GENERATE_REPORT),
            ("eventos-campanas", SEND_CONTRACT),
            ("eventos-contratos", GENERATE_REPORT),
        ],
    )
    .await;

    let campaigns = get_array(
        &client,
        &env.url(
            CREATE_CAMPAIGN,
            &format!("/campanas?influencer_id={}&limite=100", influencer.id),
        ),
    )
    .await
    .unwrap_or_else(|error| env.fail(error));
    assert_eq!(campaigns.len(), 1, "campaigns: {campaigns:#?}");
    let contracts = contracts_of(&client, &env, &influencer.id, None)
        .await
        .unwrap_or_else(|error| env.fail(error));
    assert_eq!(contracts.len(), 1, "contracts: {contracts:#?}");
    assert_eq!(contracts[0]["id"], contract_id.as_str());
    let reports = reports_of(&client, &env, &campaign_id)
        .await
        .unwrap_or_else(|error| env.fail(error));
    assert!(
        matches!(reports.as_slice(),
            [report] if report["estado"] == "completado" && report["id_contrato"] == contract_id.as_str()),
        "reports: {reports:#?}"
    );

    // No step emitted its event twice.
    let emitted: Vec<(String,)> = sqlx::query_as(
        "SELECT event_type FROM alpes.outbox
         WHERE message_key = $1 OR message_key = $2 OR properties->>'correlation_id' = $1
         ORDER BY created_at, event_id",
    )
    .bind(&campaign_id)
    .bind(&contract_id)
    .fetch_all(&mut alpes)
    .await
    .unwrap_or_else(|error| env.fail(format!("read alpes.outbox: {error}")));
    assert_eq!(
        emitted,
        [
            ("CampanaCreada".to_owned(),),
            ("ContratoCreado".to_owned(),)
        ],
        "alpes events of the saga"
    );
    let _ = alpes.close().await;
    let mut reportes = env.connect(Database::Reportes).await;
    let emitted: Vec<(String,)> = sqlx::query_as(
        "SELECT event_type FROM reportes.outbox WHERE message_key = $1
         ORDER BY created_at, event_id",
    )
    .bind(&report_id)
    .fetch_all(&mut reportes)
    .await
    .unwrap_or_else(|error| env.fail(format!("read reportes.outbox: {error}")));
    assert_eq!(
        emitted,
        [
            ("ReporteCreado".to_owned(),),
            ("ReporteActualizado".to_owned(),)
        ],
        "report events of report {report_id}"
    );
    let _ = reportes.close().await;
}

/// SPEC 7 item 3, the other delivery order: the contract step's rejection arrives before
/// the campaign's report exists (here: before the campaign event at all). The report is
/// born `cancelado`; then a late `ContratoCreado` (another producer's) and a duplicate
/// `CampanaCreada` never revive it. The campaign event names no influencer, so
/// send-contract stays out and the order of the events is the test's: a real saga never
/// both signs and rejects one campaign's contract.
#[tokio::test]
async fn a_rejection_before_the_report_exists_still_cancels_it_and_nothing_revives_it() {
    let env = env().await;
    let _hint = env.log_hint();
    let client = http();
    let bus = env.pulsar_bus();
    let mut reports = env.subscribe("eventos-reportes").await;

    let influencer = Influencer {
        id: Uuid::new_v4().to_string(),
        nombre: "Dora E2E".to_owned(),
        email: format!("e2e-{}@example.com", Uuid::new_v4().simple()),
    };
    let campaign_id = Uuid::now_v7().to_string();
    env.publish(
        &bus,
        &contract_rejected(&influencer.id, &campaign_id),
        &campaign_id,
    )
    .await;
    wait_settled(
        &env,
        &client,
        &[("eventos-contratos-error", COMPENSATE_REPORT)],
    )
    .await;
    let none_yet = reports_of(&client, &env, &campaign_id)
        .await
        .unwrap_or_else(|error| env.fail(error));
    assert!(
        none_yet.is_empty(),
        "no report before its campaign: {none_yet:#?}"
    );

    let campaign = campaign_created(&campaign_id, None);
    env.publish(&bus, &campaign, &campaign_id).await;
    let report = the_report_of(&env, &client, &campaign_id, "cancelado", "completado").await;
    assert!(
        text(&report, "motivo").starts_with("ContratoRechazado"),
        "the rejection's reason: {report:#}"
    );
    // Later still: another producer's contract and the campaign event again.
    let late_contract = Uuid::new_v4().to_string();
    env.publish(
        &bus,
        &contract_created(&late_contract, &influencer.id, &campaign_id),
        &campaign_id,
    )
    .await;
    env.publish(&bus, &campaign, &campaign_id).await;
    wait_settled(
        &env,
        &client,
        &[
            ("eventos-campanas", GENERATE_REPORT),
            ("eventos-campanas", SEND_CONTRACT),
            ("eventos-contratos", GENERATE_REPORT),
            ("eventos-contratos-error", COMPENSATE_REPORT),
        ],
    )
    .await;

    let after = reports_of(&client, &env, &campaign_id)
        .await
        .unwrap_or_else(|error| env.fail(error));
    assert!(
        matches!(after.as_slice(), [only] if only["estado"] == "cancelado"
            && only["id_contrato"].is_null()
            && only["motivo"] == report["motivo"]
            && only["id"] == report["id"]),
        "the report stays cancelled, without a contract, after {late_contract}: {after:#?}"
    );
    // Born cancelled, and the compensation announced as in the other order; nothing after.
    reports
        .expect_report_events(
            &env,
            &campaign_id,
            &[
                ("ReporteCreado", "cancelado"),
                ("ReporteCompensado", "cancelado"),
            ],
            Duration::from_secs(1),
        )
        .await;
    reports.close().await;
}

/// The saga's end state does not depend on the delivery order (SPEC 7): a campaign whose
/// `ContratoCreado` arrives before its `CampanaCreada` (first a contract report, which the
/// campaign then absorbs) ends exactly like one whose events arrive in order, each event
/// delivered twice.
#[tokio::test]
async fn contract_before_campaign_ends_like_campaign_before_contract() {
    let env = env().await;
    let _hint = env.log_hint();
    let client = http();
    let bus = env.pulsar_bus();
    let influencer_id = Uuid::new_v4().to_string();

    let mut ends = Vec::new();
    for contract_first in [true, false] {
        let campaign_id = Uuid::now_v7().to_string();
        let contract_id = Uuid::new_v4().to_string();
        // No influencer in the campaign event: send-contract stays out, the only contract
        // is this one.
        let campaign = campaign_created(&campaign_id, None);
        let contract = contract_created(&contract_id, &influencer_id, &campaign_id);
        let (first, first_route, second) = if contract_first {
            (&contract, ("eventos-contratos", GENERATE_REPORT), &campaign)
        } else {
            (&campaign, ("eventos-campanas", GENERATE_REPORT), &contract)
        };
        for _ in 0..2 {
            env.publish(&bus, first, &campaign_id).await;
        }
        wait_settled(&env, &client, &[first_route]).await;
        for _ in 0..2 {
            env.publish(&bus, second, &campaign_id).await;
        }
        let report = the_report_of(&env, &client, &campaign_id, "completado", "cancelado").await;
        wait_settled(
            &env,
            &client,
            &[
                ("eventos-campanas", GENERATE_REPORT),
                ("eventos-contratos", GENERATE_REPORT),
            ],
        )
        .await;
        let reports = reports_of(&client, &env, &campaign_id)
            .await
            .unwrap_or_else(|error| env.fail(error));
        assert_eq!(reports.len(), 1, "one report per campaign: {reports:#?}");
        assert_eq!(
            reports[0]["id_contrato"],
            contract_id.as_str(),
            "{report:#}"
        );
        assert_eq!(
            reports[0]["id"], report["id"],
            "the report is the same record"
        );
        // Everything but the ids and times.
        let mut end = reports[0].clone();
        for volatile in [
            "id",
            "id_campana",
            "id_contrato",
            "nombre",
            "fecha_creacion",
            "fecha_actualizacion",
            "datos_origen",
        ] {
            end.as_object_mut().map(|fields| fields.remove(volatile));
        }
        ends.push(end);
    }
    assert_eq!(ends[0], ends[1], "contract first vs campaign first");
    assert_eq!(ends[0]["tipo_reporte"], "campana", "{:#}", ends[0]);
}
