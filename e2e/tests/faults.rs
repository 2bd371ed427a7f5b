//! Faults that leave the shared services alone (they run with the other tests): a poison
//! message, and one function answering 503 for a while. The outages of the broker and of
//! the database are in `outages.rs` (they stop the shared services, so they run alone).

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use pulsar::{ConsumerOptions, Pulsar, TokioExecutor, consumer::InitialPosition};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// The tests of this file change what the run's functions see (their database); one at a
/// time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An undecodable payload on `eventos-contratos-error` (no schema, not Avro): the
/// function refuses it (400), the bridge dead-letters it at once (no attempt can succeed)
/// with its payload; meanwhile the messages behind it are delivered (the compensation of
/// another campaign completes).
#[tokio::test]
async fn a_poison_message_is_dead_lettered_and_does_not_block_the_others() {
    let _serial = SERIAL.lock().await;
    let env = env().await;
    let _hint = env.log_hint();
    let client = http();
    let pulsar: Pulsar<TokioExecutor> = tokio::time::timeout(
        Duration::from_secs(30),
        Box::pin(Pulsar::builder(env.pulsar_url.clone(), TokioExecutor).build()),
    )
    .await
    .expect("Pulsar answers within 30 s")
    .expect("connect to Pulsar");

    let poison = format!("not avro {}", Uuid::new_v4()).into_bytes();
    let mut producer = tokio::time::timeout(
        Duration::from_secs(30),
        Box::pin(
            pulsar
                .producer()
                .with_topic(env.topic("eventos-contratos-error"))
                .build(),
        ),
    )
    .await
    .expect("a producer within 30 s")
    .expect("a producer without schema");
    Box::pin(producer.send_non_blocking(poison.clone()))
        .await
        .expect("send the poison")
        .await
        .expect("the broker took the poison");

    // A good rejection behind it, for a campaign whose report exists.
    let bus = env.pulsar_bus();
    let campaign_id = Uuid::now_v7().to_string();
    env.publish(&bus, &campaign_created(&campaign_id, None), &campaign_id)
        .await;
    the_report_of(&env, &client, &campaign_id, "activo", "cancelado").await;
    env.publish(
        &bus,
        &contract_rejected(&Uuid::new_v4().to_string(), &campaign_id),
        &campaign_id,
    )
    .await;
    let report = the_report_of(&env, &client, &campaign_id, "cancelado", "completado").await;
    assert!(
        text(&report, "motivo").starts_with("ContratoRechazado"),
        "{report:#}"
    );

    // The poison, dead-lettered with its payload and why.
    let dead_letters = format!(
        "{}-{}-DLQ",
        env.topic("eventos-contratos-error"),
        env.subscription(COMPENSATE_REPORT)
    );
    let mut reader = tokio::time::timeout(
        Duration::from_secs(30),
        Box::pin(
            pulsar
                .consumer()
                .with_topic(&dead_letters)
                .with_subscription(format!("e2e-dlq-{}", Uuid::new_v4().simple()))
                .with_options(
                    ConsumerOptions::default().with_initial_position(InitialPosition::Earliest),
                )
                .build::<Vec<u8>>(),
        ),
    )
    .await
    .expect("subscribed within 30 s")
    .expect("subscribe to the dead-letter topic");
    let message = tokio::time::timeout(FLOW_TIMEOUT, reader.next())
        .await
        .unwrap_or_else(|_| env.fail(format!("nothing on {dead_letters} within {FLOW_TIMEOUT:?}")))
        .expect("the stream goes on")
        .expect("receive a dead letter");
    assert_eq!(
        message.payload.data, poison,
        "the dead letter keeps the payload"
    );
    let properties: std::collections::BTreeMap<_, _> = message
        .metadata()
        .properties
        .iter()
        .map(|pair| (pair.key.as_str(), pair.value.as_str()))
        .collect();
    assert_eq!(
        properties.get("bridge_attempts"),
        Some(&"1"),
        "{properties:?}"
    );
    assert!(
        properties
            .get("bridge_last_error")
            .is_some_and(|error| error.starts_with("HTTP 400")),
        "{properties:?}"
    );
    let _ = reader.ack(&message).await;
    // Exactly one dead letter: the good rejection was not one.
    let more = tokio::time::timeout(Duration::from_secs(2), reader.next()).await;
    assert!(more.is_err(), "a second dead letter: {:?}", more.ok());
}

/// generate-report's database refuses connections for a few seconds (the function answers
/// 503, as on a database outage): the bridge keeps retrying the pushes, and once the
/// database is back the saga completes, exactly once, with nothing dead-lettered.
#[tokio::test]
async fn a_function_answering_503_for_a_while_loses_nothing() {
    let _serial = SERIAL.lock().await;
    let env = env().await;
    let _hint = env.log_hint();
    let client = http();

    let mut admin = PgConnection::connect(&env.admin_database_url)
        .await
        .unwrap_or_else(|error| env.fail(format!("connect: {error}")));
    let failed_before = bridge_counter(&env, &client, "pulsar_bridge_failed_attempts_total").await;
    reportes_connections(&env, &mut admin, false).await;

    let (influencer, _) = register_influencer(&env, &client, "Eva E2E").await;
    let campaign = the_one_campaign_of(&env, &client, &influencer.id).await;
    let campaign_id = text(&campaign, "id").to_owned();
    the_one_contract_of(&env, &client, &influencer.id, &campaign_id).await;
    // generate-report is down for its database: 503 problem+json.
    let url = env.url(
        GENERATE_REPORT,
        &format!("/reportes?id_campana={campaign_id}"),
    );
    let answer = client
        .get(&url)
        .send()
        .await
        .expect("generate-report answers");
    assert_eq!(
        answer.status(),
        503,
        "GET {url} while its database refuses connections"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let failed_during = bridge_counter(&env, &client, "pulsar_bridge_failed_attempts_total").await;
    reportes_connections(&env, &mut admin, true).await;
    let _ = admin.close().await;
    assert!(
        failed_during > failed_before,
        "the bridge saw failed pushes while the database was closed ({failed_before} -> {failed_during})"
    );

    let report = the_report_of(&env, &client, &campaign_id, "completado", "cancelado").await;
    assert_eq!(
        report["id_influencer"],
        influencer.id.as_str(),
        "{report:#}"
    );
    wait_settled(&env, &client, &ROUTES).await;
    let reports = reports_of(&client, &env, &campaign_id)
        .await
        .unwrap_or_else(|error| env.fail(error));
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let dead = bridge_counter(&env, &client, "pulsar_bridge_dead_lettered_total").await;
    assert_eq!(dead, 0.0, "nothing dead-lettered by the outage");
}

/// The sum of a counter over every route on the bridge's `/metrics`.
async fn bridge_counter(env: &Env, client: &reqwest::Client, name: &str) -> f64 {
    let url = env.url(BRIDGE, "/metrics");
    let text = client
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|error| env.fail(format!("GET {url}: {error}")))
        .text()
        .await
        .unwrap_or_default();
    text.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
