//! The outbox relay publishing to the real Pulsar broker, including while it is
//! unreachable: nothing is lost between the database and the broker.

use std::time::Duration;

use alpes_shared::{
    bus::{Publisher, PulsarBus, PulsarSettings, relay},
    events::{CampanaCreadaPayload, EventMetadata, IntegrationEvent, Topic},
    store::{self, Context, DatabaseSettings, outbox},
};
use futures::StreamExt;
use pulsar::{
    Consumer, ConsumerOptions, Pulsar, TokioExecutor, consumer::InitialPosition,
    message::proto::command_subscribe::SubType,
};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const WAIT: Duration = Duration::from_secs(30);

fn pulsar_url() -> String {
    std::env::var("PULSAR_URL").unwrap_or_else(|_| "pulsar://127.0.0.1:6650".to_owned())
}

fn bus(url: String) -> PulsarBus {
    PulsarBus::new(PulsarSettings {
        namespace: alpes_shared::bus::DEFAULT_NAMESPACE.to_owned(),
        url,
        token: None,
        operation_timeout: Duration::from_secs(2),
    })
}

fn campaign_event(campaign_id: &str) -> (IntegrationEvent, EventMetadata) {
    let event = IntegrationEvent::from(CampanaCreadaPayload {
        campana_id: Some(campaign_id.to_owned()),
        nombre: Some("Campaña de prueba".to_owned()),
        valor_comision: Some(100.0),
        moneda: Some("USD".to_owned()),
        ..Default::default()
    });
    let metadata = EventMetadata::new(&event, campaign_id, "bus-relay-test");
    (event, metadata)
}

async fn subscribe(subscription: &str) -> Consumer<Vec<u8>, TokioExecutor> {
    let pulsar: Pulsar<TokioExecutor> =
        tokio::time::timeout(WAIT, Pulsar::builder(pulsar_url(), TokioExecutor).build())
            .await
            .expect("timed out connecting")
            .expect("connect to Pulsar");
    tokio::time::timeout(
        WAIT,
        pulsar
            .consumer()
            .with_topic(Topic::Campanas.full_name())
            .with_subscription(subscription)
            .with_subscription_type(SubType::Exclusive)
            .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Latest))
            .build(),
    )
    .await
    .expect("timed out subscribing")
    .expect("subscribe")
}

/// Reads until the message with `event_id` arrives (other tests publish on the topic too).
async fn receive_event(
    consumer: &mut Consumer<Vec<u8>, TokioExecutor>,
    event_id: &str,
) -> pulsar::consumer::Message<Vec<u8>> {
    tokio::time::timeout(WAIT, async {
        loop {
            let message = consumer
                .next()
                .await
                .expect("stream ended")
                .expect("receive");
            consumer.ack(&message).await.expect("ack");
            let id = message
                .metadata()
                .properties
                .iter()
                .find(|kv| kv.key == "event_id")
                .map(|kv| kv.value.clone());
            if id.as_deref() == Some(event_id) {
                return message;
            }
        }
    })
    .await
    .expect("the event never arrived")
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn committed_events_reach_pulsar_even_after_the_broker_was_unreachable(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = store::pool(&DatabaseSettings::new(connect), Context::Alpes);
    let subscription = format!("bus-relay-{}", uuid::Uuid::new_v4().simple());
    let mut consumer = subscribe(&subscription).await;

    let (event, metadata) = campaign_event(&format!("camp-{}", uuid::Uuid::new_v4().simple()));
    let row = outbox::OutboxMessage::new(&event, &metadata).unwrap();
    let mut tx = pool.begin().await.unwrap();
    outbox::enqueue(&mut tx, &row).await.unwrap();
    tx.commit().await.unwrap();

    // The broker is unreachable: the publish fails within its timeout, the row stays.
    let nowhere = bus("pulsar://127.0.0.1:9".to_owned());
    assert!(nowhere.ready().await.is_err());
    let outcome = relay::publish_committed(&pool, &nowhere, &[row.event_id])
        .await
        .unwrap();
    assert_eq!(
        outcome,
        relay::RelayOutcome {
            published: 0,
            failed: 1
        }
    );
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(outbox::pending_count(&mut conn).await.unwrap(), 1);

    // The broker is back: once due, the sweep publishes it, exactly as stored.
    let pulsar = bus(pulsar_url());
    pulsar.ready().await.expect("the broker answers");
    assert_eq!(relay::retry_delay(0), Duration::from_secs(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let outcome = relay::sweep(&pool, &pulsar, 10).await.unwrap();
        if outcome.published == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never swept");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(outbox::pending_count(&mut conn).await.unwrap(), 0);

    let message = receive_event(&mut consumer, &metadata.event_id.to_string()).await;
    assert_eq!(message.payload.data, row.payload);
    assert_eq!(message.key(), Some(row.message_key.clone()));
    let properties: std::collections::BTreeMap<_, _> = message
        .metadata()
        .properties
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    assert_eq!(properties, metadata.to_properties());
    assert_eq!(
        IntegrationEvent::decode(Topic::Campanas, &message.payload.data).unwrap(),
        event
    );

    // Publishing again finds nothing left to do.
    let again = relay::publish_committed(&pool, &pulsar, &[row.event_id])
        .await
        .unwrap();
    assert_eq!(again, relay::RelayOutcome::default());
}
