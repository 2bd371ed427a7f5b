//! A message as the bridge handles it: its stable identity, its attempt count, the Pub/Sub
//! push envelope built from it, and the copies it re-publishes (retry, dead letter).

use std::collections::{BTreeMap, HashMap};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, SecondsFormat, Utc};
use pulsar::{consumer::Message, producer, proto::MessageIdData};
use serde::Serialize;

/// Message properties the bridge adds to the copies it publishes. They are never shown to
/// the functions as push attributes.
pub mod property {
    /// Full name of the topic the message was first published to.
    pub const ORIGIN_TOPIC: &str = "bridge_origin_topic";
    /// Its broker message id there (`ledger:entry:partition:batch`).
    pub const ORIGIN_MESSAGE_ID: &str = "bridge_origin_message_id";
    /// Its publish time there (RFC 3339).
    pub const ORIGIN_PUBLISH_TIME: &str = "bridge_origin_publish_time";
    /// Failed push attempts so far.
    pub const ATTEMPTS: &str = "bridge_attempts";
    /// What the last failed attempt got (status and body excerpt, timeout, connection error).
    pub const LAST_ERROR: &str = "bridge_last_error";
    /// Retry copies: not to be pushed before this instant (milliseconds since the epoch).
    pub const NOT_BEFORE: &str = "bridge_not_before";
    /// Dead letters: the subscription that gave up on the message.
    pub const SUBSCRIPTION: &str = "bridge_subscription";
    /// Dead letters: when the bridge gave up (RFC 3339).
    pub const DEAD_LETTERED_AT: &str = "bridge_dead_lettered_at";
    /// Attempt-ledger records: `attempt` or `done`.
    pub const LEDGER_STATE: &str = "bridge_ledger_state";
    /// When the first failed attempt was made (RFC 3339); starts the retry budget.
    pub const FIRST_FAILURE: &str = "bridge_first_failure_at";
    /// When the last failed attempt was made (RFC 3339).
    pub const LAST_FAILURE: &str = "bridge_last_failure_at";
    /// Replayed dead letters: when `pulsar-bridge dlq replay` sent it back (RFC 3339).
    pub const REPLAYED_AT: &str = "bridge_replayed_at";

    /// Every property above.
    pub const ALL: [&str; 12] = [
        ORIGIN_TOPIC,
        ORIGIN_MESSAGE_ID,
        ORIGIN_PUBLISH_TIME,
        ATTEMPTS,
        LAST_ERROR,
        NOT_BEFORE,
        SUBSCRIPTION,
        DEAD_LETTERED_AT,
        LEDGER_STATE,
        FIRST_FAILURE,
        LAST_FAILURE,
        REPLAYED_AT,
    ];
}

/// Push attributes the bridge sets from the broker's facts about the message.
pub mod attribute {
    pub const TOPIC: &str = "pulsar_topic";
    pub const MESSAGE_ID: &str = "pulsar_message_id";
    pub const KEY: &str = "pulsar_key";
    pub const PUBLISH_TIME: &str = "pulsar_publish_time";
}

/// Which of a route's subscriptions a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The route's topic.
    Main,
    /// The route's retry topic.
    Retry,
}

/// The message as first published: what the functions see, whatever copy carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub topic: String,
    pub message_id: String,
    pub publish_time: DateTime<Utc>,
}

/// A message received from one of a route's subscriptions.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub source: Source,
    /// Topic of this copy (where it is acknowledged).
    pub topic: String,
    /// Broker id of this copy.
    pub id: MessageIdData,
    /// Messages in this copy's batch entry, when it came in a batch.
    pub batch_size: Option<i32>,
    pub payload: Vec<u8>,
    /// Properties as received, the bridge's own included.
    pub properties: BTreeMap<String, String>,
    pub partition_key: Option<String>,
    pub partition_key_b64_encoded: Option<bool>,
    pub ordering_key: Option<Vec<u8>>,
    pub event_time: Option<u64>,
    pub origin: Origin,
    /// Failed attempts recorded on the message (retry copies); 0 for a first delivery.
    pub attempts_before: u32,
    pub last_error: Option<String>,
    /// Retry copies: when the first failed attempt was made.
    pub first_failure: Option<DateTime<Utc>>,
    /// Retry copies: when the next attempt is due.
    pub not_before: Option<DateTime<Utc>>,
}

/// `ledger:entry:partition:batch`, -1 for a missing partition or batch index.
pub fn format_message_id(id: &MessageIdData) -> String {
    format!(
        "{}:{}:{}:{}",
        id.ledger_id,
        id.entry_id,
        id.partition.unwrap_or(-1),
        id.batch_index.unwrap_or(-1)
    )
}

/// RFC 3339 with milliseconds, UTC.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads an RFC 3339 time.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

impl Inbound {
    /// Reads a received message. Bridge properties are trusted only on retry copies: on the
    /// route's own topic every message is a first delivery, whatever its properties say (a
    /// dead letter replayed by hand starts over).
    pub fn from_pulsar(source: Source, message: Message<Vec<u8>>) -> Self {
        let Message {
            topic,
            payload,
            message_id,
            ..
        } = message;
        let metadata = payload.metadata;
        let properties: BTreeMap<String, String> = metadata
            .properties
            .into_iter()
            .map(|pair| (pair.key, pair.value))
            .collect();
        let own_origin = Origin {
            topic: topic.clone(),
            message_id: format_message_id(&message_id.id),
            publish_time: i64::try_from(metadata.publish_time)
                .ok()
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or_else(Utc::now),
        };
        let (origin, attempts_before, last_error, first_failure, not_before) = match source {
            Source::Main => (own_origin, 0, None, None, None),
            Source::Retry => {
                let get = |name: &str| properties.get(name).filter(|value| !value.is_empty());
                let origin = match (
                    get(property::ORIGIN_TOPIC),
                    get(property::ORIGIN_MESSAGE_ID),
                ) {
                    (Some(topic), Some(message_id)) => Origin {
                        topic: topic.clone(),
                        message_id: message_id.clone(),
                        publish_time: get(property::ORIGIN_PUBLISH_TIME)
                            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                            .map_or(own_origin.publish_time, |time| time.with_timezone(&Utc)),
                    },
                    _ => own_origin,
                };
                let attempts = get(property::ATTEMPTS)
                    .and_then(|text| text.parse().ok())
                    .unwrap_or(0);
                let not_before = get(property::NOT_BEFORE)
                    .and_then(|text| text.parse::<i64>().ok())
                    .and_then(DateTime::from_timestamp_millis);
                let first_failure = get(property::FIRST_FAILURE).and_then(|text| parse_time(text));
                (
                    origin,
                    attempts,
                    get(property::LAST_ERROR).cloned(),
                    first_failure,
                    not_before,
                )
            }
        };
        Self {
            source,
            topic,
            id: message_id.id,
            batch_size: message_id.batch_size,
            payload: payload.data,
            properties,
            partition_key: metadata.partition_key,
            partition_key_b64_encoded: metadata.partition_key_b64_encoded,
            ordering_key: metadata.ordering_key,
            event_time: metadata.event_time,
            origin,
            attempts_before,
            last_error,
            first_failure,
            not_before,
        }
    }

    /// The key that orders the message on Key_Shared subscriptions: the ordering key, else
    /// the message key. `None`: the message has no order to keep.
    pub fn order_key(&self) -> Option<Vec<u8>> {
        self.ordering_key
            .clone()
            .or_else(|| self.partition_key.clone().map(String::into_bytes))
    }

    /// Stable across redeliveries, retries and bridge restarts: origin topic and message id.
    pub fn identity(&self) -> String {
        format!("{} {}", self.origin.topic, self.origin.message_id)
    }

    /// The producer's own properties, without the bridge's.
    pub fn producer_properties(&self) -> impl Iterator<Item = (&String, &String)> {
        self.properties
            .iter()
            .filter(|(name, _)| !property::ALL.contains(&name.as_str()))
    }

    /// Push attributes: every producer property plus `pulsar_topic`, `pulsar_message_id`,
    /// `pulsar_key` (when the message has one) and `pulsar_publish_time`, all describing
    /// the original message, so every attempt presents the same identity.
    pub fn attributes(&self) -> BTreeMap<String, String> {
        let mut attributes: BTreeMap<String, String> = self
            .producer_properties()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        attributes.insert(attribute::TOPIC.into(), self.origin.topic.clone());
        attributes.insert(attribute::MESSAGE_ID.into(), self.origin.message_id.clone());
        if let Some(key) = &self.partition_key {
            attributes.insert(attribute::KEY.into(), key.clone());
        }
        attributes.insert(
            attribute::PUBLISH_TIME.into(),
            rfc3339(self.origin.publish_time),
        );
        attributes
    }

    /// The Pub/Sub push request body for the `attempt`-th delivery (1-based).
    pub fn push_body(&self, subscription: &str, attempt: u32) -> Vec<u8> {
        let publish_time = rfc3339(self.origin.publish_time);
        let envelope = PushEnvelope {
            message: PushMessage {
                data: STANDARD.encode(&self.payload),
                attributes: self.attributes(),
                message_id_camel: &self.origin.message_id,
                message_id: &self.origin.message_id,
                publish_time_camel: &publish_time,
                publish_time: &publish_time,
            },
            subscription,
            delivery_attempt: attempt,
        };
        serde_json::to_vec(&envelope).expect("a push envelope always serializes")
    }

    fn copy(&self, properties: HashMap<String, String>) -> producer::Message {
        producer::Message {
            payload: self.payload.clone(),
            properties,
            partition_key: self.partition_key.clone(),
            partition_key_b64_encoded: self.partition_key_b64_encoded,
            ordering_key: self.ordering_key.clone(),
            event_time: self.event_time,
            ..Default::default()
        }
    }

    fn properties_with_history(
        &self,
        attempts: u32,
        last_error: &str,
        first_failure: DateTime<Utc>,
    ) -> HashMap<String, String> {
        let mut properties: HashMap<String, String> = self
            .producer_properties()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        properties.insert(property::ORIGIN_TOPIC.into(), self.origin.topic.clone());
        properties.insert(
            property::ORIGIN_MESSAGE_ID.into(),
            self.origin.message_id.clone(),
        );
        properties.insert(
            property::ORIGIN_PUBLISH_TIME.into(),
            rfc3339(self.origin.publish_time),
        );
        properties.insert(property::ATTEMPTS.into(), attempts.to_string());
        properties.insert(property::LAST_ERROR.into(), last_error.to_owned());
        properties.insert(property::FIRST_FAILURE.into(), rfc3339(first_failure));
        properties.insert(property::LAST_FAILURE.into(), rfc3339(Utc::now()));
        properties
    }

    /// The copy published to the retry topic: same payload, key and producer properties,
    /// plus the identity and history, delivered by the broker at `not_before`.
    pub fn retry_copy(
        &self,
        attempts: u32,
        last_error: &str,
        first_failure: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> producer::Message {
        let mut properties = self.properties_with_history(attempts, last_error, first_failure);
        let due = not_before.timestamp_millis();
        properties.insert(property::NOT_BEFORE.into(), due.to_string());
        producer::Message {
            deliver_at_time: Some(due),
            ..self.copy(properties)
        }
    }

    /// The copy published to the dead-letter topic.
    pub fn dead_letter(
        &self,
        attempts: u32,
        last_error: &str,
        first_failure: DateTime<Utc>,
        subscription: &str,
    ) -> producer::Message {
        let mut properties = self.properties_with_history(attempts, last_error, first_failure);
        properties.insert(property::SUBSCRIPTION.into(), subscription.to_owned());
        properties.insert(property::DEAD_LETTERED_AT.into(), rfc3339(Utc::now()));
        self.copy(properties)
    }
}

#[derive(Serialize)]
struct PushEnvelope<'a> {
    message: PushMessage<'a>,
    subscription: &'a str,
    #[serde(rename = "deliveryAttempt")]
    delivery_attempt: u32,
}

#[derive(Serialize)]
struct PushMessage<'a> {
    data: String,
    attributes: BTreeMap<String, String>,
    #[serde(rename = "messageId")]
    message_id_camel: &'a str,
    message_id: &'a str,
    #[serde(rename = "publishTime")]
    publish_time_camel: &'a str,
    publish_time: &'a str,
}

#[cfg(test)]
mod tests {
    use pulsar::{
        Payload,
        consumer::data::MessageData,
        proto::{KeyValue, MessageMetadata},
    };

    use super::*;

    fn received(source: Source, properties: &[(&str, &str)]) -> Inbound {
        let metadata = MessageMetadata {
            publish_time: 1_758_362_400_123,
            partition_key: Some("camp-1".into()),
            properties: properties
                .iter()
                .map(|(key, value)| KeyValue {
                    key: (*key).into(),
                    value: (*value).into(),
                })
                .collect(),
            ..Default::default()
        };
        let id = MessageIdData {
            ledger_id: 12,
            entry_id: 34,
            ..Default::default()
        };
        Inbound::from_pulsar(
            source,
            Message::new(
                "persistent://public/default/t-s-RETRY",
                MessageData {
                    id,
                    batch_size: None,
                },
                Payload {
                    metadata,
                    data: vec![0, 1, 2, 250],
                },
            ),
        )
    }

    #[test]
    fn first_delivery_envelope() {
        let message = received(Source::Main, &[("event_type", "CampanaCreada")]);
        let body: serde_json::Value =
            serde_json::from_slice(&message.push_body("generate-report", 1)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "message": {
                    "data": "AAEC+g==",
                    "attributes": {
                        "event_type": "CampanaCreada",
                        "pulsar_topic": "persistent://public/default/t-s-RETRY",
                        "pulsar_message_id": "12:34:-1:-1",
                        "pulsar_key": "camp-1",
                        "pulsar_publish_time": "2025-09-20T10:00:00.123Z",
                    },
                    "messageId": "12:34:-1:-1",
                    "message_id": "12:34:-1:-1",
                    "publishTime": "2025-09-20T10:00:00.123Z",
                    "publish_time": "2025-09-20T10:00:00.123Z",
                },
                "subscription": "generate-report",
                "deliveryAttempt": 1,
            })
        );
    }

    #[test]
    fn retry_copy_keeps_identity_and_counts_attempts() {
        let first = received(
            Source::Main,
            &[("event_type", "X"), ("bridge_attempts", "9")],
        );
        assert_eq!(first.attempts_before, 0, "main-topic messages start over");
        let due = DateTime::from_timestamp_millis(1_758_362_401_000).unwrap();
        let failed = DateTime::from_timestamp_millis(1_758_362_400_500).unwrap();
        let copy = first.retry_copy(2, "HTTP 503", failed, due);
        assert_eq!(copy.deliver_at_time, Some(1_758_362_401_000));
        assert_eq!(copy.partition_key.as_deref(), Some("camp-1"));
        assert_eq!(copy.payload, first.payload);
        let properties: Vec<(&str, &str)> = copy
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let again = received(Source::Retry, &properties);
        assert_eq!(again.origin, first.origin);
        assert_eq!(again.attempts_before, 2);
        assert_eq!(again.last_error.as_deref(), Some("HTTP 503"));
        assert_eq!(again.not_before, Some(due));
        assert_eq!(again.first_failure, Some(failed));
        assert_eq!(again.identity(), first.identity());
        assert_eq!(again.attributes(), first.attributes());
        assert!(!again.attributes().contains_key("bridge_attempts"));
    }

    #[test]
    fn dead_letter_carries_history() {
        let message = received(Source::Main, &[("event_id", "e-1")]);
        let letter = message.dead_letter(5, "HTTP 400: bad", Utc::now(), "send-contract");
        let props = &letter.properties;
        assert_eq!(props["event_id"], "e-1");
        assert_eq!(props["bridge_attempts"], "5");
        assert_eq!(props["bridge_last_error"], "HTTP 400: bad");
        assert_eq!(
            props["bridge_origin_topic"],
            "persistent://public/default/t-s-RETRY"
        );
        assert_eq!(props["bridge_origin_message_id"], "12:34:-1:-1");
        assert_eq!(props["bridge_subscription"], "send-contract");
        assert!(props.contains_key("bridge_dead_lettered_at"));
        assert!(props.contains_key("bridge_first_failure_at"));
        assert!(props.contains_key("bridge_last_failure_at"));
        assert_eq!(letter.deliver_at_time, None);
    }

    #[test]
    fn message_ids_name_partition_and_batch() {
        let id = MessageIdData {
            ledger_id: 7,
            entry_id: 1,
            partition: Some(2),
            batch_index: Some(0),
            ..Default::default()
        };
        assert_eq!(format_message_id(&id), "7:1:2:0");
    }
}
