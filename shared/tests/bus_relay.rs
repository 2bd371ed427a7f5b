//! The outbox relay publishing to the real Pulsar broker, including while it is
//! unreachable: nothing is lost between the database and the broker.

use std::time::Duration;

use std::sync::Arc;

use alpes_shared::{
    bus::{
        Publisher, PulsarBus, PulsarSettings,
        relay::{self, Relay, RelaySettings},
    },
    events::{CampanaCreadaPayload, EventMetadata, IntegrationEvent, Topic},
    store::{self, Context, DatabaseSettings, inbox, outbox},
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

fn relay(pool: &sqlx::PgPool, bus: PulsarBus) -> Relay<PulsarBus> {
    Relay::new(pool.clone(), Arc::new(bus), RelaySettings::default())
}

async fn enqueue_committed(
    pool: &sqlx::PgPool,
    row: outbox::OutboxMessage,
    lease: Duration,
) -> outbox::Enqueued {
    let mut tx = pool.begin().await.unwrap();
    let enqueued = outbox::enqueue(&mut tx, row, lease).await.unwrap();
    tx.commit().await.unwrap();
    enqueued
}

async fn pending(pool: &sqlx::PgPool) -> i64 {
    let mut conn = pool.acquire().await.unwrap();
    outbox::pending_count(&mut conn).await.unwrap()
}

/// Waits (bounded) until `pool`'s outbox has `expected` unpublished rows: marks are
/// written off the request path.
async fn wait_pending(pool: &sqlx::PgPool, expected: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while pending(pool).await != expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox never reached {expected} pending rows"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads for `window` and counts the copies of `event_id` (other tests publish on the
/// topic too).
async fn copies_of(
    consumer: &mut Consumer<Vec<u8>, TokioExecutor>,
    event_id: &str,
    window: Duration,
) -> usize {
    let mut copies = 0;
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, consumer.next()).await {
        consumer.ack(&message).await.expect("ack");
        let id = message
            .metadata()
            .properties
            .iter()
            .find(|kv| kv.key == "event_id")
            .map(|kv| kv.value.clone());
        if id.as_deref() == Some(event_id) {
            copies += 1;
        }
    }
    copies
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
    let enqueued = enqueue_committed(&pool, row.clone(), Duration::from_secs(30)).await;
    assert!(enqueued.leased);

    // The broker is unreachable: the inline publish fails within its timeout and gives
    // the row back to the relay at once (its lease ends).
    let nowhere = bus("pulsar://127.0.0.1:9".to_owned());
    assert!(nowhere.ready().await.is_err());
    relay(&pool, nowhere)
        .publish_committed(vec![enqueued])
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !sqlx::query_scalar::<_, bool>("SELECT available_at <= clock_timestamp() FROM outbox")
        .fetch_one(&pool)
        .await
        .unwrap()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lease was never released"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(pending(&pool).await, 1);

    // The broker is back: the sweep publishes it, exactly as stored.
    let pulsar = relay(&pool, bus(pulsar_url()));
    assert_eq!(relay::retry_delay(0), Duration::from_secs(1));
    let outcome = pulsar.sweep().await.unwrap();
    assert_eq!(
        outcome,
        relay::RelayOutcome {
            published: 1,
            failed: 0,
            released: 0
        }
    );
    assert_eq!(pending(&pool).await, 0);

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

    // Sweeping again finds nothing left to do.
    assert_eq!(
        pulsar.sweep().await.unwrap(),
        relay::RelayOutcome::default()
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn the_relay_racing_an_inline_publish_sends_the_row_once(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = store::pool(&DatabaseSettings::new(connect), Context::Alpes);
    let subscription = format!("bus-relay-race-{}", uuid::Uuid::new_v4().simple());
    let mut consumer = subscribe(&subscription).await;
    let relay = relay(&pool, bus(pulsar_url()));

    let (event, metadata) = campaign_event(&format!("camp-{}", uuid::Uuid::new_v4().simple()));
    let row = outbox::OutboxMessage::new(&event, &metadata).unwrap();
    let enqueued = enqueue_committed(&pool, row, relay.settings().lease).await;
    let (inline, swept) = tokio::join!(relay.publish_committed(vec![enqueued]), relay.sweep());
    let () = inline;
    assert_eq!(
        swept.unwrap().published,
        0,
        "the writer's lease keeps the relay off"
    );
    wait_pending(&pool, 0).await;
    assert_eq!(relay.sweep().await.unwrap(), relay::RelayOutcome::default());
    let event_id = metadata.event_id.to_string();
    assert_eq!(
        copies_of(&mut consumer, &event_id, Duration::from_secs(2)).await,
        1
    );
}

#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_publish_after_the_lease_ended_is_a_duplicate_the_inbox_ignores(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let pool = store::pool(&DatabaseSettings::new(connect), Context::Alpes);
    let subscription = format!("bus-relay-dup-{}", uuid::Uuid::new_v4().simple());
    let mut consumer = subscribe(&subscription).await;
    let relay = relay(&pool, bus(pulsar_url()));

    let (event, metadata) = campaign_event(&format!("camp-{}", uuid::Uuid::new_v4().simple()));
    let row = outbox::OutboxMessage::new(&event, &metadata).unwrap();
    // A writer so slow that its lease ended (it lost its CPU): the relay publishes the
    // row, then the writer does too.
    let enqueued = enqueue_committed(&pool, row, Duration::from_millis(100)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(relay.sweep().await.unwrap().published, 1);
    relay.publish_committed(vec![enqueued]).await;
    let event_id = metadata.event_id.to_string();
    assert_eq!(
        copies_of(&mut consumer, &event_id, Duration::from_secs(2)).await,
        2,
        "both copies carry the same event id"
    );
    // The consumer's inbox applies the event once.
    let mut tx = pool.begin().await.unwrap();
    assert!(
        inbox::record(&mut tx, "generate-report", &event_id)
            .await
            .unwrap()
    );
    assert!(
        !inbox::record(&mut tx, "generate-report", &event_id)
            .await
            .unwrap()
    );
}

/// A broker that accepts connections and never answers (a frozen process behind an open
/// port): writes neither wait past the inline budget nor hold a pooled connection, and the
/// breaker stops trying inline after a few failures.
#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_hung_broker_costs_a_write_at_most_the_inline_budget(
    _: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let mut settings = DatabaseSettings::new(connect);
    settings.max_connections = 2;
    let pool = store::pool(&settings, Context::Alpes);
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = hung.local_addr().unwrap();
    let accepted = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hung.accept().await {
            held.push(socket);
        }
    });
    let relay = Relay::new(
        pool.clone(),
        Arc::new(bus(format!("pulsar://{address}"))),
        RelaySettings {
            inline_budget: Duration::from_millis(200),
            ..RelaySettings::default()
        },
    );

    let write = |n: usize| {
        let (pool, relay) = (pool.clone(), relay.clone());
        async move {
            let started = tokio::time::Instant::now();
            let (event, metadata) = campaign_event(&format!("camp-hung-{n}"));
            let row = outbox::OutboxMessage::new(&event, &metadata).unwrap();
            let mut tx = pool.begin().await.unwrap();
            let enqueued = relay.enqueue(&mut tx, row).await.unwrap();
            tx.commit().await.unwrap();
            relay.publish_committed(vec![enqueued]).await;
            started.elapsed()
        }
    };
    // 20 writes at once through a pool of 2 connections.
    let took = futures::future::join_all((0..20).map(write)).await;
    let slowest = took.iter().max().unwrap();
    assert!(
        *slowest < Duration::from_millis(1500),
        "a write waited {slowest:?} on a hung broker"
    );
    // The publishes time out in the background (2 s): the breaker opens.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !relay.broker_failing() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the breaker never opened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Open: new rows are the relay's at once, a write does not even try inline.
    assert!(relay.broker_failing());
    let open = write(99).await;
    assert!(
        open < Duration::from_millis(200),
        "{open:?} with the breaker open"
    );
    // Every row is still in the outbox, due for the relay once its lease is released.
    wait_pending(&pool, 21).await;
    // A sweep against the hung broker stops at its first error and holds no connection.
    let outcome = relay.sweep().await.unwrap();
    assert_eq!(outcome.published, 0);
    assert_eq!(outcome.failed, 1);
    accepted.abort();
}

/// A backlog (rows left by a broker outage) goes out in one sweep, every key's rows in
/// the order they were written, all handed to the broker before the receipts are awaited.
#[sqlx::test(migrator = "alpes_shared::store::MIGRATOR")]
async fn a_sweep_drains_a_backlog_in_key_order(_: PgPoolOptions, connect: PgConnectOptions) {
    let pool = store::pool(&DatabaseSettings::new(connect), Context::Alpes);
    let subscription = format!("bus-relay-backlog-{}", uuid::Uuid::new_v4().simple());
    let mut consumer = subscribe(&subscription).await;
    let relay = relay(&pool, bus(pulsar_url()));
    let key = format!("camp-{}", uuid::Uuid::new_v4().simple());
    let mut written = Vec::new();
    for _ in 0..300 {
        let (event, metadata) = campaign_event(&key);
        let row = outbox::OutboxMessage::new(&event, &metadata).unwrap();
        written.push(metadata.event_id.to_string());
        enqueue_committed(&pool, row, Duration::ZERO).await;
    }
    let outcome = relay.sweep().await.unwrap();
    let errors: Vec<String> =
        sqlx::query_scalar("SELECT last_error FROM outbox WHERE last_error IS NOT NULL")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(outcome.published, 300, "{outcome:?} {errors:?}");
    assert_eq!(pending(&pool).await, 0);
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while received.len() < written.len() {
        let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, consumer.next()).await else {
            panic!("{} of {} arrived", received.len(), written.len());
        };
        consumer.ack(&message).await.expect("ack");
        if message.key().as_deref() == Some(key.as_str()) {
            let id = message
                .metadata()
                .properties
                .iter()
                .find(|kv| kv.key == "event_id")
                .map(|kv| kv.value.clone())
                .unwrap_or_default();
            received.push(id);
        }
    }
    assert_eq!(
        received, written,
        "the key's events in the order they were written"
    );
}
