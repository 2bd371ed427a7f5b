//! Smoke test of the real Apache Pulsar broker started by `scripts/pulsar.sh`, driven from
//! Rust through the `pulsar` crate: an AVRO schema of the contract registered on the topic,
//! a golden payload and its message properties round-tripped, and a nack redelivered.

use std::{collections::BTreeMap, future::Future, time::Duration};

use apache_avro::{Schema, from_avro_datum, types::Value};
use futures::StreamExt;
use pulsar::{
    Consumer, ConsumerOptions, Pulsar, TokioExecutor,
    consumer::InitialPosition,
    message::proto::{self, command_subscribe::SubType},
    producer::ProducerOptions,
};

const CAMPANAS_SCHEMA: &str = include_str!("../src/events/avro/eventos-campanas.avsc");
const WAIT: Duration = Duration::from_secs(30);

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {WAIT:?} waiting for {what}"))
}

/// The golden `eventos-campanas` payload encoded by the official Python client.
fn golden_campana_bytes() -> Vec<u8> {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("data/contract-vectors.json")).unwrap();
    let vector = vectors["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|vector| vector["topic"] == "eventos-campanas")
        .expect("a vector for eventos-campanas");
    hex::decode(vector["avro_hex"].as_str().unwrap()).unwrap()
}

async fn next_message(
    consumer: &mut Consumer<Vec<u8>, TokioExecutor>,
) -> pulsar::consumer::Message<Vec<u8>> {
    within("a message", consumer.next())
        .await
        .expect("the consumer stream ended")
        .expect("the consumer failed")
}

#[tokio::test]
async fn avro_message_with_properties_round_trips_and_a_nack_is_redelivered() {
    let service_url = env_or("PULSAR_URL", "pulsar://127.0.0.1:6650");
    let admin_url = env_or("PULSAR_ADMIN_URL", "http://127.0.0.1:8080");
    let short_topic = format!("smoke-campanas-{}", uuid::Uuid::new_v4().simple());
    let topic = format!("persistent://public/default/{short_topic}");

    let pulsar: Pulsar<TokioExecutor> = within(
        "the broker connection",
        Pulsar::builder(&service_url, TokioExecutor).build(),
    )
    .await
    .expect("connect to Pulsar");

    let mut consumer: Consumer<Vec<u8>, TokioExecutor> = within(
        "the subscription",
        pulsar
            .consumer()
            .with_topic(&topic)
            .with_subscription("smoke")
            .with_subscription_type(SubType::Shared)
            .with_options(
                ConsumerOptions::default().with_initial_position(InitialPosition::Earliest),
            )
            .build(),
    )
    .await
    .expect("subscribe");

    let mut producer = within(
        "the producer",
        pulsar
            .producer()
            .with_topic(&topic)
            .with_options(ProducerOptions {
                schema: Some(proto::Schema {
                    name: "EventoCampanaCreada".into(),
                    schema_data: CAMPANAS_SCHEMA.as_bytes().to_vec(),
                    r#type: proto::schema::Type::Avro as i32,
                    properties: vec![],
                }),
                ..Default::default()
            })
            .build(),
    )
    .await
    .expect("create a producer with the AVRO schema");

    // The broker registered the contract's schema on the topic, as type AVRO.
    let registered: serde_json::Value = within(
        "the schema registry",
        reqwest::get(format!(
            "{admin_url}/admin/v2/schemas/public/default/{short_topic}/schema"
        )),
    )
    .await
    .expect("ask the schema registry")
    .error_for_status()
    .expect("the topic has a schema")
    .json()
    .await
    .unwrap();
    assert_eq!(registered["type"], "AVRO");
    let registered_definition: serde_json::Value =
        serde_json::from_str(registered["data"].as_str().unwrap()).unwrap();
    assert_eq!(
        registered_definition,
        serde_json::from_str::<serde_json::Value>(CAMPANAS_SCHEMA).unwrap()
    );

    let payload = golden_campana_bytes();
    let properties = BTreeMap::from([
        ("event_id".to_owned(), uuid::Uuid::now_v7().to_string()),
        ("event_type".to_owned(), "CampanaCreada".to_owned()),
        ("correlation_id".to_owned(), "camp-67890".to_owned()),
        ("producer".to_owned(), "smoke-test".to_owned()),
    ]);
    let mut message = producer
        .create_message()
        .with_content(payload.clone())
        .with_key("camp-67890");
    for (name, value) in &properties {
        message = message.with_property(name, value);
    }
    let receipt = within("the send receipt", async {
        message.send_non_blocking().await?.await
    })
    .await
    .expect("the broker accepted the message");
    assert!(receipt.message_id.is_some());

    let first = next_message(&mut consumer).await;
    assert_eq!(
        first.payload.data, payload,
        "payload bytes changed in transit"
    );
    assert_eq!(first.key().as_deref(), Some("camp-67890"));
    let received: BTreeMap<String, String> = first
        .metadata()
        .properties
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    assert_eq!(received, properties);

    // The bytes decode with the contract's schema.
    let schema = Schema::parse_str(CAMPANAS_SCHEMA).unwrap();
    let record = from_avro_datum(&schema, &mut first.payload.data.as_slice(), None).unwrap();
    let Value::Record(fields) = record else {
        panic!("not a record: {record:?}")
    };
    let Value::Union(1, data) = &fields[0].1 else {
        panic!("data is not set: {fields:?}")
    };
    let Value::Record(payload_fields) = data.as_ref() else {
        panic!("data is not a record")
    };
    assert_eq!(payload_fields[0].0, "campana_id");
    assert_eq!(
        payload_fields[0].1,
        Value::Union(1, Box::new(Value::String("camp-67890".into())))
    );

    // A negative acknowledgement makes the broker deliver the same message again.
    within("the nack", consumer.nack(&first))
        .await
        .expect("nack");
    let again = next_message(&mut consumer).await;
    assert_eq!(again.message_id.id, first.message_id.id);
    assert_eq!(again.payload.data, payload);
    within("the ack", consumer.ack(&again)).await.expect("ack");
}
