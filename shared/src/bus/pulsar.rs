use std::{collections::HashMap, sync::Arc, time::Duration};

use pulsar::{
    Authentication, ConnectionRetryOptions, OperationRetryOptions, Producer, Pulsar, TokioExecutor,
    message::proto, producer::ProducerOptions,
};
use tokio::sync::{Mutex, OnceCell};

use super::{BusError, Publisher};
use crate::{events::Topic, store::outbox::OutboxMessage};

/// How to reach the broker. Its `Debug` leaves the token out.
#[derive(Clone)]
pub struct PulsarSettings {
    /// `pulsar://host:6650` or `pulsar+ssl://...`.
    pub url: String,
    /// A JWT for brokers with token authentication.
    pub token: Option<String>,
    /// Bound on connecting, creating a producer, and each send.
    pub operation_timeout: Duration,
    /// `tenant/namespace` of the topics (`PULSAR_NAMESPACE`): the contract's is
    /// [`DEFAULT_NAMESPACE`]; another one isolates a deployment (or a test run) sharing a
    /// cluster.
    pub namespace: String,
}

/// Messages one broker connection queues for the socket; a publish past them waits for
/// room (`block_queue_if_full`, within the operation timeout) instead of failing with
/// `SlowDown`. The crate allocates and touches every slot when it connects, about 8 KiB
/// each (a whole `BaseCommand`): 2048 slots were 16.5 MiB of RSS, measured; 64 are 0.5 MiB,
/// and the queue only fills while the socket does not drain.
const OUTBOUND_MESSAGES: usize = 64;
/// Messages [`PulsarBus::publish_all`] keeps in flight at once.
const PIPELINE_WINDOW: usize = 256;

/// The namespace of the contract's topics.
pub const DEFAULT_NAMESPACE: &str = "public/default";

/// Checks a `tenant/namespace` name (`PULSAR_NAMESPACE`).
pub fn parse_namespace(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let valid_part = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match raw.split_once('/') {
        Some((tenant, namespace)) if valid_part(tenant) && valid_part(namespace) => {
            Ok(raw.to_owned())
        }
        _ => Err(format!(
            "expected tenant/namespace (letters, digits, - _ .), got {raw:?}"
        )),
    }
}

/// The full name of topic `short` in `namespace`: `persistent://<namespace>/<short>`.
pub fn topic_in(namespace: &str, short: &str) -> String {
    format!("persistent://{namespace}/{short}")
}

/// Publishes to Pulsar, one producer per topic, each registering the topic's AVRO schema
/// (the text the existing Python producers register, so no new schema version appears).
///
/// Nothing connects until the first publish or readiness check: a cold start pays no
/// broker round trip. Each topic has its own producer slot and lock: a topic whose
/// producer is being (re)created waits alone, never the others, and every wait (the
/// slot, creating the producer, handing a message over, the receipt) is bounded by the
/// operation timeout. A failed send drops the topic's producer so the next one starts
/// afresh.
pub struct PulsarBus {
    settings: PulsarSettings,
    client: OnceCell<Pulsar<TokioExecutor>>,
    producers: HashMap<Topic, ProducerSlot>,
}

type ProducerSlot = Arc<Mutex<Option<Producer<TokioExecutor>>>>;

impl PulsarBus {
    pub fn new(settings: PulsarSettings) -> Self {
        Self {
            settings,
            client: OnceCell::new(),
            producers: Topic::ALL
                .into_iter()
                .map(|topic| (topic, ProducerSlot::default()))
                .collect(),
        }
    }

    async fn bounded<T, E: std::fmt::Display>(
        &self,
        operation: impl Future<Output = Result<T, E>>,
    ) -> Result<T, BusError> {
        // Boxed: the pulsar crate's futures are large enough to overflow a 2 MiB stack in
        // debug builds when nested in a caller's future.
        tokio::time::timeout(self.settings.operation_timeout, Box::pin(operation))
            .await
            .map_err(|_| BusError::Timeout(self.settings.operation_timeout))?
            .map_err(|error| BusError::Broker(error.to_string()))
    }

    async fn client(&self) -> Result<&Pulsar<TokioExecutor>, BusError> {
        self.client
            .get_or_try_init(|| async {
                let timeout = self.settings.operation_timeout;
                let mut builder = Pulsar::builder(&self.settings.url, TokioExecutor)
                    // Messages handed over but not yet written to the socket, per
                    // connection (a burst of requests, a relay backlog wait for room).
                    .with_outbound_channel_size(OUTBOUND_MESSAGES)
                    .with_operation_retry_options(OperationRetryOptions {
                        operation_timeout: timeout,
                        retry_delay: Duration::from_millis(200),
                        max_retries: Some(3),
                    })
                    .with_connection_retry_options(ConnectionRetryOptions {
                        connection_timeout: timeout,
                        max_retries: 3,
                        ..Default::default()
                    });
                if let Some(token) = &self.settings.token {
                    builder = builder.with_auth(Authentication {
                        name: "token".to_owned(),
                        data: token.clone().into_bytes(),
                    });
                }
                self.bounded(builder.build()).await
            })
            .await
    }

    async fn create_producer(&self, topic: Topic) -> Result<Producer<TokioExecutor>, BusError> {
        let client = self.client().await?;
        self.bounded(
            client
                .producer()
                .with_topic(topic_in(&self.settings.namespace, topic.name()))
                .with_options(ProducerOptions {
                    schema: Some(proto::Schema {
                        name: topic.record_name().to_owned(),
                        schema_data: topic.registry_schema_json().as_bytes().to_vec(),
                        r#type: proto::schema::Type::Avro as i32,
                        properties: vec![],
                    }),
                    block_queue_if_full: true,
                    ..Default::default()
                })
                .build(),
        )
        .await
    }

    /// Locks `topic`'s slot, within the operation timeout.
    async fn lock_slot<'a>(
        &self,
        slot: &'a ProducerSlot,
    ) -> Result<tokio::sync::MutexGuard<'a, Option<Producer<TokioExecutor>>>, BusError> {
        tokio::time::timeout(self.settings.operation_timeout, slot.lock())
            .await
            .map_err(|_| BusError::Timeout(self.settings.operation_timeout))
    }
}

impl PulsarBus {
    /// Hands `message` to its topic's producer (creating it if needed), which fixes its
    /// place in the topic's order; returns the broker's receipt to await. The topic's
    /// lock is held for the hand-over only, so concurrent publishes share round trips
    /// instead of queueing behind them.
    async fn hand_over(
        &self,
        slot: &ProducerSlot,
        topic: Topic,
        message: &OutboxMessage,
    ) -> Result<pulsar::producer::SendFuture, BusError> {
        let mut producer = self.lock_slot(slot).await?;
        if producer.is_none() {
            *producer = Some(self.create_producer(topic).await?);
        }
        let Some(producer) = producer.as_mut() else {
            return Err(BusError::Broker("no producer".into()));
        };
        let mut builder = producer
            .create_message()
            .with_content(message.payload.clone())
            .with_key(message.message_key.clone());
        for (name, value) in &message.properties {
            builder = builder.with_property(name, value);
        }
        self.bounded(builder.send_non_blocking()).await
    }

    fn slot(&self, message: &OutboxMessage) -> Result<(Topic, ProducerSlot), BusError> {
        let topic = Topic::from_name(&message.topic)
            .ok_or_else(|| BusError::UnknownTopic(message.topic.clone()))?;
        Ok((
            topic,
            self.producers.get(&topic).cloned().unwrap_or_default(),
        ))
    }

    /// [`Publisher::publish_all`] of at most one window: every message handed over in
    /// order, then the receipts awaited together.
    async fn publish_window(&self, messages: &[OutboxMessage]) -> Vec<Result<(), BusError>> {
        let mut receipts = Vec::with_capacity(messages.len());
        let mut refused = None;
        for message in messages {
            let handed = match self.slot(message) {
                Ok((topic, slot)) => match self.hand_over(&slot, topic, message).await {
                    Ok(receipt) => Ok((slot, receipt)),
                    Err(error) => Err((Some(slot), error)),
                },
                Err(error) => Err((None, error)),
            };
            match handed {
                Ok(receipt) => receipts.push(receipt),
                Err(failure) => {
                    refused = Some(failure);
                    break;
                }
            }
        }
        let mut outcomes: Vec<Result<(), BusError>> =
            futures::future::join_all(receipts.into_iter().map(|(slot, receipt)| async move {
                let sent = self.bounded(receipt).await.map(drop);
                if sent.is_err() {
                    self.forget(&slot).await;
                }
                sent
            }))
            .await;
        if let Some((slot, error)) = refused {
            if let Some(slot) = slot {
                self.forget(&slot).await;
            }
            outcomes.push(Err(error));
        }
        outcomes
    }

    /// Drops `slot`'s producer after a failure, so the next publish starts afresh.
    async fn forget(&self, slot: &ProducerSlot) {
        if let Ok(mut producer) = self.lock_slot(slot).await {
            *producer = None;
        }
    }
}

impl Publisher for PulsarBus {
    async fn publish(&self, message: &OutboxMessage) -> Result<(), BusError> {
        self.publish_window(std::slice::from_ref(message))
            .await
            .pop()
            .unwrap_or_else(|| Err(BusError::Broker("nothing published".into())))
    }

    /// Hands the messages over in order, a window at a time (stopping at the first that
    /// cannot be), awaiting each window's receipts together: a backlog goes out at the
    /// broker's pace, not one round trip per message.
    async fn publish_all(&self, messages: &[OutboxMessage]) -> Vec<Result<(), BusError>> {
        let mut outcomes = Vec::with_capacity(messages.len());
        for window in messages.chunks(PIPELINE_WINDOW) {
            outcomes.extend(self.publish_window(window).await);
            if outcomes.iter().any(Result::is_err) {
                break;
            }
        }
        while outcomes.len() < messages.len() {
            outcomes.push(Err(BusError::Broker(
                "not sent: an earlier message failed".into(),
            )));
        }
        outcomes
    }

    /// A broker round trip (a topic lookup), not just an open connection: a hung broker
    /// keeps its TCP connections but answers nothing.
    async fn ready(&self) -> Result<(), BusError> {
        let client = self.client().await?;
        self.bounded(client.lookup_topic(topic_in(
            &self.settings.namespace,
            Topic::Influencers.name(),
        )))
        .await
        .map(drop)
    }
}
