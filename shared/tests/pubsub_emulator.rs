//! End-to-end check of the local Pub/Sub emulator through the official `google-cloud-pubsub`
//! crate. It creates a topic and two pull subscriptions on it, one at-least-once (the default) and
//! one exactly-once. It publishes one message with data and attributes, then receives it on both
//! through the crate's `Subscriber` (streaming pull) and checks that it round-trips exactly. Then
//! it acks both copies and deletes the subscriptions and the topic.
//!
//! Why two subscriptions: an at-least-once `ack()` is fire-and-forget. The crate sends it in the
//! background and drops any RPC error, so the test cannot see whether the ack reached the
//! emulator. The emulator does support exactly-once delivery, and there `confirmed_ack()` returns
//! the result of the Acknowledge RPC. Waiting for a redelivery that never comes is no proof
//! either: the emulator's streaming-pull redelivery timing is erratic, anywhere from 10 s to more
//! than 40 s.
//!
//! Needs the emulator (`scripts/pubsub.sh start`). Settings: `PUBSUB_EMULATOR_HOST`
//! (default `127.0.0.1:8085`) and `PUBSUB_PROJECT` (default `alpes-local`).
//!
//! The crate does NOT read `PUBSUB_EMULATOR_HOST`. Every client needs an explicit endpoint and
//! anonymous credentials. Without them it would call `pubsub.googleapis.com` with Application
//! Default Credentials. The helpers at the top build such clients; they are meant to move to the
//! bus module.
//!
//! Transports: `TopicAdmin` / `SubscriptionAdmin` use HTTP/JSON (REST), while `Publisher` /
//! `Subscriber` use gRPC. The emulator serves both on one port, so the same `http://` endpoint
//! (plain text, no TLS) works for all four clients.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use google_cloud_auth::credentials::{Credentials, anonymous};
use google_cloud_pubsub::client::{Publisher, Subscriber, SubscriptionAdmin, TopicAdmin};
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::MessageStream;
use google_cloud_pubsub::subscriber::handler::Handler;

const DEFAULT_EMULATOR_HOST: &str = "127.0.0.1:8085";
const DEFAULT_PROJECT: &str = "alpes-local";

/// Upper bound for every single wait on the emulator, so a broken emulator fails instead of hanging.
const WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Emulator setup (reusable; to move to the crate's bus module)
// ---------------------------------------------------------------------------------------------

/// The emulator endpoint as a URL. It comes from `PUBSUB_EMULATOR_HOST` (`host:port`, the gcloud
/// convention), or the local default if that is unset. A value that already has a scheme is kept.
fn emulator_endpoint() -> String {
    let host = env_or("PUBSUB_EMULATOR_HOST", DEFAULT_EMULATOR_HOST);
    if host.starts_with("http://") || host.starts_with("https://") {
        host
    } else {
        format!("http://{host}")
    }
}

/// The project id used on the emulator, from `PUBSUB_PROJECT` or the local default.
fn emulator_project() -> String {
    env_or("PUBSUB_PROJECT", DEFAULT_PROJECT)
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The emulator accepts any caller. Anonymous credentials send no `Authorization` header and
/// never look for Application Default Credentials.
fn emulator_credentials() -> Credentials {
    anonymous::Builder::new().build()
}

fn topic_path(project: &str, topic: &str) -> String {
    format!("projects/{project}/topics/{topic}")
}

fn subscription_path(project: &str, subscription: &str) -> String {
    format!("projects/{project}/subscriptions/{subscription}")
}

/// Admin client for topics (REST transport).
async fn emulator_topic_admin(endpoint: &str) -> Result<TopicAdmin> {
    TopicAdmin::builder()
        .with_endpoint(endpoint)
        .with_credentials(emulator_credentials())
        .build()
        .await
        .context("building the TopicAdmin client")
}

/// Admin client for subscriptions (REST transport).
async fn emulator_subscription_admin(endpoint: &str) -> Result<SubscriptionAdmin> {
    SubscriptionAdmin::builder()
        .with_endpoint(endpoint)
        .with_credentials(emulator_credentials())
        .build()
        .await
        .context("building the SubscriptionAdmin client")
}

/// Batching publisher bound to one topic (gRPC transport). `topic` is the full
/// `projects/*/topics/*` name.
async fn emulator_publisher(endpoint: &str, topic: &str) -> Result<Publisher> {
    Publisher::builder(topic)
        .with_endpoint(endpoint)
        .with_credentials(emulator_credentials())
        .build()
        .await
        .context("building the Publisher client")
}

/// Streaming-pull subscriber client (gRPC transport).
async fn emulator_subscriber(endpoint: &str) -> Result<Subscriber> {
    Subscriber::builder()
        .with_endpoint(endpoint)
        .with_credentials(emulator_credentials())
        .build()
        .await
        .context("building the Subscriber client")
}

/// Awaits `fut` for at most [`WAIT`], naming the step in the error.
async fn within<F: Future>(what: &str, fut: F) -> Result<F::Output> {
    tokio::time::timeout(WAIT, fut)
        .await
        .with_context(|| format!("{what}: no answer from the Pub/Sub emulator within {WAIT:?}"))
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

/// Full names of the resources one test run creates (unique per run).
struct Names {
    topic: String,
    at_least_once: String,
    exactly_once: String,
}

/// What the scenario sent and what each subscription received.
struct Outcome {
    sent: Message,
    message_id: String,
    received: Vec<(&'static str, Message)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_then_pull_round_trips_data_and_attributes() -> Result<()> {
    let endpoint = emulator_endpoint();
    let project = emulator_project();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let names = Names {
        topic: topic_path(&project, &format!("it-topic-{suffix}")),
        at_least_once: subscription_path(&project, &format!("it-sub-alo-{suffix}")),
        exactly_once: subscription_path(&project, &format!("it-sub-eo-{suffix}")),
    };

    let topics = within("build TopicAdmin", emulator_topic_admin(&endpoint)).await??;
    let subscriptions = within(
        "build SubscriptionAdmin",
        emulator_subscription_admin(&endpoint),
    )
    .await??;

    let created = within(
        "create topic",
        topics.create_topic().set_name(&names.topic).send(),
    )
    .await?
    .with_context(|| format!("creating {} on {endpoint}", names.topic))?;
    assert_eq!(created.name, names.topic);

    let outcome = scenario(&endpoint, &subscriptions, &names).await;

    // Clean up whatever the scenario left behind. If the scenario failed, report its error and
    // ignore cleanup errors (e.g. deleting a subscription it never created).
    let mut cleanup = Vec::new();
    for subscription in [&names.at_least_once, &names.exactly_once] {
        let deleted = within(
            "delete subscription",
            subscriptions
                .delete_subscription()
                .set_subscription(subscription)
                .send(),
        )
        .await
        .and_then(|r| r.with_context(|| format!("deleting {subscription}")));
        cleanup.push(deleted);
    }
    let deleted = within(
        "delete topic",
        topics.delete_topic().set_topic(&names.topic).send(),
    )
    .await
    .and_then(|r| r.with_context(|| format!("deleting {}", names.topic)));
    cleanup.push(deleted);

    let outcome = outcome?;
    cleanup.into_iter().collect::<Result<Vec<()>>>()?;

    assert_eq!(outcome.received.len(), 2);
    for (kind, received) in &outcome.received {
        assert_eq!(
            received.data, outcome.sent.data,
            "{kind}: data, byte for byte"
        );
        assert_eq!(
            received.attributes, outcome.sent.attributes,
            "{kind}: every attribute exactly, none added"
        );
        assert_eq!(
            received.message_id, outcome.message_id,
            "{kind}: message id"
        );
        assert!(received.publish_time.is_some(), "{kind}: publish_time set");
    }
    Ok(())
}

/// Creates the subscriptions, publishes one message, then receives and acks it on each one.
async fn scenario(
    endpoint: &str,
    subscriptions: &SubscriptionAdmin,
    names: &Names,
) -> Result<Outcome> {
    // The subscriptions must exist before the publish: Pub/Sub only delivers messages published
    // after a subscription was created.
    for (subscription, exactly_once) in [(&names.at_least_once, false), (&names.exactly_once, true)]
    {
        let created = within(
            "create subscription",
            subscriptions
                .create_subscription()
                .set_name(subscription)
                .set_topic(&names.topic)
                .set_ack_deadline_seconds(10)
                .set_enable_exactly_once_delivery(exactly_once)
                .send(),
        )
        .await?
        .with_context(|| format!("creating {subscription}"))?;
        ensure!(&created.name == subscription, "created {created:?}");
        ensure!(
            created.enable_exactly_once_delivery == exactly_once,
            "created {created:?}"
        );
    }

    let event_id = uuid::Uuid::now_v7().to_string();
    let attributes = HashMap::from([
        ("event_type".to_owned(), "CampaignCreated".to_owned()),
        ("event_id".to_owned(), event_id.clone()),
        ("content_type".to_owned(), "avro/binary; v=1".to_owned()),
        (
            "note".to_owned(),
            "accents é, spaces and = signs".to_owned(),
        ),
    ]);
    // Binary payload (with non-UTF-8 bytes) to prove the data is not re-encoded on the way.
    let mut data = format!("{{\"event_id\":\"{event_id}\"}}").into_bytes();
    data.extend_from_slice(&[0x00, 0xff, 0xfe, 0x80, 0x0a]);
    let sent = Message::new().set_data(data).set_attributes(attributes);

    // The publisher batches in a background task. Awaiting the future it returns waits for the
    // Publish RPC and yields the id the server assigned.
    let publisher = within(
        "build Publisher",
        emulator_publisher(endpoint, &names.topic),
    )
    .await??;
    let message_id = within("publish", publisher.publish(sent.clone()))
        .await?
        .context("publishing the message")?;
    if message_id.is_empty() {
        bail!("publish returned an empty message id");
    }

    let subscriber = within("build Subscriber", emulator_subscriber(endpoint)).await??;
    let mut received = Vec::new();

    // At-least-once: `ack()` only queues the ack. The shutdown below sends the queued acks and
    // waits for those RPCs (their errors are dropped by the crate).
    let mut stream = subscriber.subscribe(&names.at_least_once).build();
    let (message, handler) = receive_one(&mut stream, "at-least-once").await?;
    let Handler::AtLeastOnce(handler) = handler else {
        bail!("at-least-once subscription gave handler {handler:?}");
    };
    handler.ack();
    close(stream).await?;
    received.push(("at-least-once", message));

    // Exactly-once: `confirmed_ack()` resolves with the Acknowledge RPC's result.
    let mut stream = subscriber.subscribe(&names.exactly_once).build();
    let (message, handler) = receive_one(&mut stream, "exactly-once").await?;
    let Handler::ExactlyOnce(handler) = handler else {
        bail!("exactly-once subscription gave handler {handler:?}");
    };
    within("confirmed ack", handler.confirmed_ack())
        .await?
        .context("the emulator refused the ack")?;
    close(stream).await?;
    received.push(("exactly-once", message));

    Ok(Outcome {
        sent,
        message_id,
        received,
    })
}

/// Next message of a streaming pull. The stream connects lazily, on the first `next()`.
async fn receive_one(stream: &mut MessageStream, kind: &str) -> Result<(Message, Handler)> {
    within(&format!("receive ({kind})"), stream.next())
        .await?
        .with_context(|| format!("{kind}: the message stream ended before any message"))?
        .with_context(|| format!("{kind}: streaming pull failed"))
}

/// Flushes pending acks, then closes the gRPC stream.
///
/// `shutdown()` alone leaves the StreamingPull RPC open until the `MessageStream` is dropped or
/// polled again. Meanwhile the emulator keeps routing new and redelivered messages to that dead
/// stream, where they stay stuck until their ack deadline runs out (10 s and more of delay were
/// seen for a second stream on the same subscription).
async fn close(stream: MessageStream) -> Result<()> {
    within("stream shutdown", stream.shutdown_token().shutdown()).await?;
    drop(stream);
    Ok(())
}

/// The functions' Pub/Sub publisher (`EVENT_BUS=pubsub`): an outbox message becomes a
/// Pub/Sub message with the Avro payload as data and the metadata as attributes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_bus_publishes_outbox_messages_with_their_metadata() -> Result<()> {
    use alpes_shared::{
        bus::{PubSubBus, Publisher},
        events::{CampanaCreadaPayload, EventMetadata, IntegrationEvent, Topic},
        store::outbox::OutboxMessage,
    };

    let endpoint = emulator_endpoint();
    // A project of its own: the bus names topics by the contract (`eventos-campanas`).
    let project = format!("alpes-it-{}", uuid::Uuid::new_v4().simple());
    let bus = PubSubBus::new(
        project.clone(),
        Some(env_or("PUBSUB_EMULATOR_HOST", DEFAULT_EMULATOR_HOST)),
        WAIT,
    );
    let topic = bus.topic_path(Topic::Campanas);
    let subscription = subscription_path(&project, "generate-report");

    let topics = within("build TopicAdmin", emulator_topic_admin(&endpoint)).await??;
    let subscriptions = within(
        "build SubscriptionAdmin",
        emulator_subscription_admin(&endpoint),
    )
    .await??;
    within(
        "create topic",
        topics.create_topic().set_name(&topic).send(),
    )
    .await??;
    within(
        "create subscription",
        subscriptions
            .create_subscription()
            .set_name(&subscription)
            .set_topic(&topic)
            .set_ack_deadline_seconds(10)
            .send(),
    )
    .await??;

    let event = IntegrationEvent::from(CampanaCreadaPayload {
        campana_id: Some("camp-67890".into()),
        nombre: Some("Campaña Verano".into()),
        valor_comision: Some(19.99),
        ..Default::default()
    });
    let metadata = EventMetadata::new(&event, "camp-67890", "create-campaign");
    let message = OutboxMessage::new(&event, &metadata)?;
    within("ready", bus.ready()).await??;
    within("publish", bus.publish(&message)).await??;

    let subscriber = within("build Subscriber", emulator_subscriber(&endpoint)).await??;
    let mut stream = subscriber.subscribe(&subscription).build();
    let (received, handler) = receive_one(&mut stream, "bus").await?;
    if let Handler::AtLeastOnce(handler) = handler {
        handler.ack();
    }
    close(stream).await?;
    within(
        "delete subscription",
        subscriptions
            .delete_subscription()
            .set_subscription(&subscription)
            .send(),
    )
    .await??;
    within(
        "delete topic",
        topics.delete_topic().set_topic(&topic).send(),
    )
    .await??;

    assert_eq!(received.data.as_ref(), message.payload.as_slice());
    assert_eq!(
        IntegrationEvent::decode(Topic::Campanas, &received.data)?,
        event
    );
    let mut expected: HashMap<String, String> = metadata.to_properties().into_iter().collect();
    expected.insert("message_key".into(), "camp-67890".into());
    assert_eq!(received.attributes, expected);
    Ok(())
}
