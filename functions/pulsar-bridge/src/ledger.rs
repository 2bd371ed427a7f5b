//! The attempt ledger of ordered routes.
//!
//! An ordered route retries a failed message in place (a retry topic would let the key's
//! next messages overtake it), so no re-published copy carries its attempt count. Instead,
//! each failed attempt appends a record to the route's `<topic>-<subscription>-ATTEMPTS`
//! topic, keyed by the message identity (origin topic and message id), and a `done` record
//! closes it once the message is delivered or dead-lettered. The topic is persistent, so the
//! count survives bridge and broker restarts:
//!
//! - every bridge instance reads the whole topic with a reader (non-durable, from the
//!   earliest message) and keeps the latest count per identity; a route starts consuming
//!   only once its reader has caught up, and keeps following the topic while it runs, so a
//!   key that moves to another instance keeps its count;
//! - a durable Failover subscription (named like the route's) keeps the records from being
//!   deleted and collects garbage: its one active consumer acknowledges every record that a
//!   later record of the same identity supersedes, and `done` records at once. Only records
//!   of messages still failing stay unacknowledged, so the topic stays small. Records older
//!   than [`RECORD_TTL`] are acknowledged and ignored, so a leaked record cannot pin the
//!   topic's storage forever.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use pulsar::{
    Consumer, ConsumerOptions, Pulsar, SubType, TokioExecutor,
    consumer::{InitialPosition, Message},
    producer,
    proto::MessageIdData,
    reader::Reader,
};

use crate::{
    config::RouteConfig,
    message::{parse_time, property, rfc3339},
};

/// Records older than this are ignored and collected.
pub const RECORD_TTL: Duration = Duration::from_secs(24 * 3600);
/// Catching up stops when the reader has been idle this long (the last message id the
/// broker reports may point at a record that was already deleted).
const CATCH_UP_IDLE: Duration = Duration::from_secs(2);
const CATCH_UP_LIMIT: Duration = Duration::from_secs(30);

const STATE_ATTEMPT: &str = "attempt";
const STATE_DONE: &str = "done";

/// What the ledger knows about a message still failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub attempts: u32,
    pub last_error: Option<String>,
    /// When the first failed attempt was made (starts the retry budget).
    pub first_failure: Option<DateTime<Utc>>,
}

/// The latest record per identity, as read so far.
#[derive(Debug, Default)]
pub struct LedgerView {
    entries: HashMap<String, LedgerEntry>,
    /// Janitor: the latest unacknowledged record per identity.
    kept: HashMap<String, MessageIdData>,
}

/// The ledger's streams, polled by the route loop.
pub struct LedgerStreams {
    pub reader: Reader<Vec<u8>, TokioExecutor>,
    pub janitor: Consumer<Vec<u8>, TokioExecutor>,
}

/// A record appended after a failed attempt.
pub fn attempt_record(
    identity: &str,
    attempts: u32,
    last_error: &str,
    first_failure: DateTime<Utc>,
) -> producer::Message {
    record(
        identity,
        [
            (property::LEDGER_STATE, STATE_ATTEMPT.to_owned()),
            (property::ATTEMPTS, attempts.to_string()),
            (property::LAST_ERROR, last_error.to_owned()),
            (property::FIRST_FAILURE, rfc3339(first_failure)),
        ],
    )
}

/// The record that closes an identity: delivered or dead-lettered.
pub fn done_record(identity: &str) -> producer::Message {
    record(identity, [(property::LEDGER_STATE, STATE_DONE.to_owned())])
}

fn record<const N: usize>(identity: &str, properties: [(&str, String); N]) -> producer::Message {
    producer::Message {
        payload: Vec::new(),
        partition_key: Some(identity.to_owned()),
        properties: properties
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
        ..Default::default()
    }
}

struct Record {
    identity: String,
    entry: Option<LedgerEntry>,
    expired: bool,
}

fn read_record(message: &Message<Vec<u8>>, now: DateTime<Utc>) -> Option<Record> {
    let metadata = message.metadata();
    let identity = metadata.partition_key.clone()?;
    let get = |name: &str| {
        metadata
            .properties
            .iter()
            .find(|pair| pair.key == name)
            .map(|pair| pair.value.as_str())
    };
    let entry = match get(property::LEDGER_STATE) {
        Some(STATE_DONE) => None,
        _ => Some(LedgerEntry {
            attempts: get(property::ATTEMPTS)?.parse().ok()?,
            last_error: get(property::LAST_ERROR).map(str::to_owned),
            first_failure: get(property::FIRST_FAILURE).and_then(parse_time),
        }),
    };
    let published = i64::try_from(metadata.publish_time)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or(now);
    let expired = (now - published).to_std().is_ok_and(|age| age > RECORD_TTL);
    Some(Record {
        identity,
        entry,
        expired,
    })
}

impl LedgerView {
    /// Failed attempts recorded for `identity`.
    pub fn get(&self, identity: &str) -> Option<&LedgerEntry> {
        self.entries.get(identity)
    }

    /// Applies a record read by the reader.
    pub fn apply(&mut self, message: &Message<Vec<u8>>) {
        let Some(record) = read_record(message, Utc::now()) else {
            return;
        };
        match record.entry {
            Some(entry) if !record.expired => {
                self.entries.insert(record.identity, entry);
            }
            _ => {
                self.entries.remove(&record.identity);
            }
        }
    }

    /// Garbage collection on the janitor subscription: acknowledges what `message`
    /// supersedes, and `message` itself when it closes its identity or has expired.
    pub async fn collect(
        &mut self,
        janitor: &mut Consumer<Vec<u8>, TokioExecutor>,
        message: Message<Vec<u8>>,
    ) {
        let Some(record) = read_record(&message, Utc::now()) else {
            let _ = janitor.ack(&message).await;
            return;
        };
        let topic = message.topic.clone();
        if let Some(previous) = self.kept.remove(&record.identity) {
            let _ = janitor.ack_with_id(&topic, previous).await;
        }
        if record.entry.is_none() || record.expired {
            let _ = janitor.ack(&message).await;
        } else {
            self.kept
                .insert(record.identity, message.message_id().clone());
        }
    }
}

/// Opens the route's ledger and reads it to the end.
pub async fn open(
    pulsar: &Pulsar<TokioExecutor>,
    route: &RouteConfig,
    consumer_name: &str,
) -> Result<(LedgerStreams, LedgerView), pulsar::Error> {
    let topic = route.attempts_topic();
    let options = ConsumerOptions::default().with_initial_position(InitialPosition::Earliest);
    let janitor = pulsar
        .consumer()
        .with_topic(&topic)
        .with_subscription(&route.subscription)
        .with_subscription_type(SubType::Failover)
        .with_consumer_name(consumer_name)
        .with_options(options.clone().with_receiver_queue_size(100))
        .with_batch_size(100)
        .build()
        .await?;
    let mut reader: Reader<Vec<u8>, TokioExecutor> = pulsar
        .reader()
        .with_topic(&topic)
        .with_consumer_name(format!("{consumer_name}-ledger"))
        .with_options(options)
        .into_reader()
        .await?;
    let mut view = LedgerView::default();
    let last = reader.get_last_message_id().await?;
    // An entry id of -1 (as u64) means the topic holds nothing.
    if last.entry_id != u64::MAX {
        let target = (last.ledger_id, last.entry_id);
        let deadline = tokio::time::Instant::now() + CATCH_UP_LIMIT;
        let mut seen = HashSet::new();
        while tokio::time::Instant::now() < deadline {
            match tokio::time::timeout(CATCH_UP_IDLE, reader.next()).await {
                Ok(Some(Ok(message))) => {
                    view.apply(&message);
                    let id = message.message_id();
                    seen.insert((id.ledger_id, id.entry_id));
                    if (id.ledger_id, id.entry_id) >= target {
                        break;
                    }
                }
                Ok(Some(Err(error))) => return Err(error),
                Ok(None) => {
                    return Err(pulsar::Error::Custom(format!(
                        "the reader of {topic} stopped"
                    )));
                }
                Err(_) => break,
            }
        }
        tracing::info!(
            topic,
            records = seen.len(),
            failing = view.entries.len(),
            "attempt ledger read"
        );
    }
    Ok((LedgerStreams { reader, janitor }, view))
}
